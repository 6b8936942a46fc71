package telegramtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Button is an inline keyboard button as the Server keeps it: its label and its
// callback_data. The Server takes no other kind of inline button.
type Button struct{ Text, Data string }

// MaxCallbackData is the most bytes a button's callback_data may hold.
const MaxCallbackData = 64

// buttonError is a refused button: Telegram prefixes these descriptions so.
func buttonError(what string) error {
	return errors.New("can't parse inline keyboard button: " + what)
}

// keyboard reads a reply_markup parameter as the Bot API does and returns its inline
// keyboard; an error is the description of the API's 400 after "Bad Request: ".
// An empty parameter, or a markup of another kind (a reply keyboard, its removal, a
// forced reply), is no inline keyboard: nil. Empty rows are left out.
//
// The descriptions are those bots report getting from api.telegram.org, where they
// could be found; two are less sure, and are marked so below.
func keyboard(raw string) ([][]Button, error) {
	if raw == "" {
		return nil, nil
	}
	var markup map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &markup); err != nil || markup == nil {
		return nil, errors.New("can't parse reply keyboard markup JSON object")
	}
	field, ok := markup["inline_keyboard"]
	if !ok {
		return nil, nil
	}
	notRows := errors.New(`field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays`)
	var rows []json.RawMessage
	if err := json.Unmarshal(field, &rows); err != nil {
		return nil, notRows
	}
	var kb [][]Button
	for _, rawRow := range rows {
		var row []json.RawMessage
		if err := json.Unmarshal(rawRow, &row); err != nil || row == nil {
			return nil, notRows
		}
		var buttons []Button
		for _, rawButton := range row {
			b, err := button(rawButton)
			if err != nil {
				return nil, err
			}
			buttons = append(buttons, b)
		}
		if len(buttons) > 0 {
			kb = append(kb, buttons)
		}
	}
	return kb, nil
}

// button reads one InlineKeyboardButton, in the order the Bot API checks one: its
// JSON, then that it does something, then (on Telegram's servers) its contents.
func button(raw json.RawMessage) (Button, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return Button{}, buttonError("InlineKeyboardButton should be an Object")
	}
	var b Button
	text, ok := fields["text"]
	if !ok {
		return Button{}, buttonError(`Can't find field "text"`)
	}
	if err := json.Unmarshal(text, &b.Text); err != nil {
		return Button{}, buttonError(`Field "text" must be of type String`)
	}
	if data, ok := fields["callback_data"]; ok {
		if err := json.Unmarshal(data, &b.Data); err != nil {
			return Button{}, buttonError(`Field "callback_data" must be of type String`)
		}
	}
	for name := range fields {
		if name != "text" && name != "callback_data" {
			// A url, login_url, web_app, switch_inline_query... button, which
			// Telegram takes and this fake does not: say so rather than misjudge it.
			return Button{}, fmt.Errorf("telegramtest: inline buttons with %s are not supported, only callback_data", name)
		}
	}
	switch {
	case b.Data == "":
		// An empty callback_data is no callback_data, as a live API answers.
		return Button{}, buttonError("Text buttons are unallowed in the inline keyboard")
	case b.Text == "":
		// Less sure: MTProto's error for a bad label, which bots report getting
		// through the Bot API for an empty one.
		return Button{}, errors.New("BUTTON_TEXT_INVALID")
	case len(b.Data) > MaxCallbackData:
		return Button{}, errors.New("BUTTON_DATA_INVALID")
	}
	return b, nil
}

// markupJSON is kb as the API writes an InlineKeyboardMarkup in a Message.
func markupJSON(kb [][]Button) map[string]any {
	rows := make([][]map[string]string, len(kb))
	for i, row := range kb {
		rows[i] = make([]map[string]string, len(row))
		for j, b := range row {
			rows[i][j] = map[string]string{"text": b.Text, "callback_data": b.Data}
		}
	}
	return map[string]any{"inline_keyboard": rows}
}

// sameButtons reports whether two keyboards are the same, none being the same as an
// empty one.
func sameButtons(a, b [][]Button) bool {
	return slices.EqualFunc(a, b, func(x, y []Button) bool { return slices.Equal(x, y) })
}

// hasButton reports whether kb has a button with callback data data.
func hasButton(kb [][]Button, data string) bool {
	for _, row := range kb {
		for _, b := range row {
			if b.Data == data {
				return true
			}
		}
	}
	return false
}

// reply is what a message asks to reply to.
type reply struct {
	messageID    int64 // 0 for none
	withoutReply bool  // allow_sending_without_reply
}

// replyOf reads reply_parameters, or else the older reply_to_message_id and
// allow_sending_without_reply; an error is the description of the API's 400 after
// "Bad Request: ". A reply in another chat (reply_parameters.chat_id) is not
// supported.
func replyOf(p map[string]string) (reply, error) {
	if raw := p["reply_parameters"]; raw != "" {
		var params struct {
			MessageID                *int64          `json:"message_id"`
			ChatID                   json.RawMessage `json:"chat_id"`
			AllowSendingWithoutReply bool            `json:"allow_sending_without_reply"`
		}
		if err := json.Unmarshal([]byte(raw), &params); err != nil || params.MessageID == nil {
			// Telegram may say more after this about what it could not find.
			return reply{}, errors.New("can't parse reply parameters JSON object")
		}
		if chat := strings.Trim(string(params.ChatID), `"`); chat != "" && chat != "null" && chat != p["chat_id"] {
			return reply{}, errors.New("telegramtest: replies in another chat are not supported")
		}
		return reply{*params.MessageID, params.AllowSendingWithoutReply}, nil
	}
	// One that is not a number is taken as none, as 0 would be.
	id, _ := strconv.ParseInt(p["reply_to_message_id"], 10, 64)
	return reply{id, p["allow_sending_without_reply"] == "true"}, nil
}
