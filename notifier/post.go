package notifier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Button is an inline keyboard button: pressing it sends Data back to the bot as a callback_query.
type Button struct{ Text, Data string }

// Post is a message to send with sendMessage, or the new content of one with editMessageText.
type Post struct {
	Target           // chat, forum topic, silent
	Text      string // in ParseMode
	ParseMode string // "HTML" or "" (plain)
	// ReplyTo is the message this one replies to, or 0. A reply to a message that is
	// gone is sent without the reply.
	ReplyTo int64
	// Buttons are the rows of an inline keyboard under the message; nil for none.
	Buttons [][]Button
}

// ErrMessageGone matches (errors.Is) an edit of a message that cannot be edited any more:
// Telegram says "message to edit not found", "message can't be edited", "MESSAGE_ID_INVALID".
var ErrMessageGone = errors.New("message gone")

// maxAnswer is the most characters (UTF-16 code units) an answer to a press shows.
const maxAnswer = 200

// answerTimeout bounds AnswerPress: the user's app shows a spinner for a few seconds
// after a press, and Telegram refuses an answer that comes later.
const answerTimeout = 5 * time.Second

// inlineKeyboard is an InlineKeyboardMarkup of callback buttons.
type inlineKeyboard struct {
	InlineKeyboard [][]inlineButton `json:"inline_keyboard"`
}

type inlineButton struct {
	Text         string `json:"text"`
	CallbackData string `json:"callback_data"`
}

// keyboardOf is rows as a reply_markup, without the empty rows; nil when that leaves
// none, which is no reply_markup: for an edit, that takes the keyboard away.
func keyboardOf(rows [][]Button) *inlineKeyboard {
	var kb inlineKeyboard
	for _, row := range rows {
		if len(row) == 0 {
			continue
		}
		buttons := make([]inlineButton, len(row))
		for i, b := range row {
			buttons[i] = inlineButton{b.Text, b.Data}
		}
		kb.InlineKeyboard = append(kb.InlineKeyboard, buttons)
	}
	if kb.InlineKeyboard == nil {
		return nil
	}
	return &kb
}

type linkPreviewOptions struct {
	IsDisabled bool `json:"is_disabled"`
}

// SendPost sends p, retried as Send is, and returns the message_id Telegram gave it.
// Link previews are off, as with Send.
func (t *Telegram) SendPost(ctx context.Context, p Post) (int64, error) {
	result, err := t.sendPost(ctx, p)
	if err != nil {
		return 0, err
	}
	var m struct {
		MessageID int64 `json:"message_id"`
	}
	if err := json.Unmarshal(result, &m); err != nil || m.MessageID == 0 {
		// Sent all the same: sending it again would send it twice. With no id, a
		// later edit of it is a new message.
		return 0, nil
	}
	return m.MessageID, nil
}

// sendPost sends p and returns the API's result: the Message it made.
func (t *Telegram) sendPost(ctx context.Context, p Post) (json.RawMessage, error) {
	const method = "sendMessage"
	type replyParameters struct {
		MessageID                int64 `json:"message_id"`
		AllowSendingWithoutReply bool  `json:"allow_sending_without_reply"`
	}
	var reply *replyParameters
	if p.ReplyTo != 0 {
		// A reply that cannot be one still says what it has to say.
		reply = &replyParameters{p.ReplyTo, true}
	}
	body, err := json.Marshal(struct {
		ChatID              string             `json:"chat_id"`
		ThreadID            int64              `json:"message_thread_id,omitempty"`
		Text                string             `json:"text"`
		ParseMode           string             `json:"parse_mode,omitempty"`
		DisableNotification bool               `json:"disable_notification,omitempty"`
		LinkPreviewOptions  linkPreviewOptions `json:"link_preview_options"`
		ReplyParameters     *replyParameters   `json:"reply_parameters,omitempty"`
		ReplyMarkup         *inlineKeyboard    `json:"reply_markup,omitempty"`
	}{p.ChatID, p.ThreadID, p.Text, p.ParseMode, p.Silent, linkPreviewOptions{IsDisabled: true}, reply, keyboardOf(p.Buttons)})
	if err != nil {
		return nil, fmt.Errorf("telegram: %s: %w", method, err)
	}
	return t.retry(ctx, method, body)
}

// EditPost replaces the text and the buttons of message id in p.ChatID (editMessageText;
// p.ReplyTo, p.Silent and p.ThreadID are not used). Buttons nil removes the keyboard.
// Telegram's "message is not modified" is success (nil). A gone message is an error matching
// ErrMessageGone (and ErrPermanent). Retried as Send is.
func (t *Telegram) EditPost(ctx context.Context, id int64, p Post) error {
	const method = "editMessageText"
	body, err := json.Marshal(struct {
		ChatID             string             `json:"chat_id"`
		MessageID          int64              `json:"message_id"`
		Text               string             `json:"text"`
		ParseMode          string             `json:"parse_mode,omitempty"`
		LinkPreviewOptions linkPreviewOptions `json:"link_preview_options"`
		ReplyMarkup        *inlineKeyboard    `json:"reply_markup,omitempty"`
	}{p.ChatID, id, p.Text, p.ParseMode, linkPreviewOptions{IsDisabled: true}, keyboardOf(p.Buttons)})
	if err != nil {
		return fmt.Errorf("telegram: %s: %w", method, err)
	}
	_, err = t.retry(ctx, method, body)
	return classifyEdit(err)
}

// AnswerPress answers a button press (answerCallbackQuery) with text shown to the presser
// (clipped to Telegram's 200 characters; "" shows nothing but stops the spinner). Not
// retried beyond one short try: a press must be answered within seconds or not at all.
func (t *Telegram) AnswerPress(ctx context.Context, queryID, text string) error {
	const method = "answerCallbackQuery"
	body, err := json.Marshal(struct {
		QueryID string `json:"callback_query_id"`
		Text    string `json:"text,omitempty"`
	}{queryID, clip(text, maxAnswer)})
	if err != nil {
		return fmt.Errorf("telegram: %s: %w", method, err)
	}
	ctx, cancel := context.WithTimeout(ctx, answerTimeout)
	defer cancel()
	_, err = t.post(ctx, method, jsonPayload(body))
	return err
}

// goneError is an edit's answer that says the message cannot be edited any more.
type goneError struct{ *APIError }

func (e goneError) Unwrap() []error { return []error{e.APIError, ErrMessageGone} }

// classifyEdit reads the answer to an edit: Telegram tells these answers apart only
// by their words, so they are read here, once.
func classifyEdit(err error) error {
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Code != http.StatusBadRequest {
		return err
	}
	switch {
	case apiErr.says("message is not modified"):
		// What the edit asks for is there: an earlier attempt whose answer was
		// lost made it, or it was made before.
		return nil
	case apiErr.says("message to edit not found"), apiErr.says("message can't be edited"), apiErr.says("message_id_invalid"):
		return goneError{apiErr}
	}
	return err
}
