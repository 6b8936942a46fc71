package telegramtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// notModified is Telegram's description of an edit that would change nothing.
const notModified = "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"

// Message returns message id of chat as it is now. It is not found (false) when the
// bot sent no message with that id to chat, when that was a document, and when the
// message was deleted; Messages still lists a deleted one.
func (s *Server) Message(chat, id int64) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.sent[id]
	if !ok || rec.chat != chat || rec.msg < 0 || rec.deleted {
		return Message{}, false
	}
	return s.messages[rec.msg].clone(), true
}

// DeleteMessage deletes message id, a message or a document the bot sent, from chat,
// as a user of the chat may: edits of it then get "message to edit not found", and
// replies to it "message to be replied not found", or go without the reply when they
// allow that. It reports whether there was such a message to delete.
func (s *Server) DeleteMessage(chat, id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.sent[id]
	if !ok || rec.chat != chat || rec.deleted {
		return false
	}
	rec.deleted = true
	if rec.msg >= 0 {
		s.messages[rec.msg].Deleted = true
	}
	return true
}

// editMessageText replaces the text of one of the bot's messages, and its inline
// keyboard: an edit without reply_markup takes the keyboard away, as Telegram's does.
// It checks what sendMessage checks of the text, and answers an edit that changes
// nothing with Telegram's "message is not modified". It compares the text as sent
// and its parse mode where Telegram compares the parsed text and its entities: the
// same markup is the same message, which is all a test of a client needs.
func (s *Server) editMessageText(w http.ResponseWriter, r *http.Request) {
	p, err := params(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "Bad Request: "+err.Error(), 0)
		return
	}
	next := Message{Text: p["text"], ParseMode: p["parse_mode"]}
	if next.NoLinkPreview, err = noLinkPreview(p); err == nil {
		next.Buttons, err = keyboard(p["reply_markup"])
	}
	var chat, id int64
	if err == nil {
		chat, id, err = s.editTarget(p)
	}
	if err == nil {
		var plain string
		if plain, err = parsed(next.Text, next.ParseMode); err == nil {
			err = checkLength(plain)
		}
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "Bad Request: "+err.Error(), 0)
		return
	}
	s.edit(w, chat, id, &next, next.Buttons)
}

// editMessageReplyMarkup replaces the inline keyboard of one of the bot's messages,
// or takes it away when there is no reply_markup.
func (s *Server) editMessageReplyMarkup(w http.ResponseWriter, r *http.Request) {
	p, err := params(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "Bad Request: "+err.Error(), 0)
		return
	}
	buttons, err := keyboard(p["reply_markup"])
	var chat, id int64
	if err == nil {
		chat, id, err = s.editTarget(p)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "Bad Request: "+err.Error(), 0)
		return
	}
	s.edit(w, chat, id, nil, buttons)
}

// editTarget reads which message an edit is of; an error is the description of the
// API's 400 after "Bad Request: ". This fake knows no inline messages.
func (s *Server) editTarget(p map[string]string) (chat, id int64, err error) {
	if p["inline_message_id"] != "" {
		return 0, 0, errors.New("telegramtest: inline_message_id is not supported")
	}
	id, _ = strconv.ParseInt(p["message_id"], 10, 64)
	if p["chat_id"] == "" || id == 0 {
		return 0, 0, errors.New("message identifier is not specified")
	}
	chat, err = strconv.ParseInt(p["chat_id"], 10, 64)
	if err != nil || !s.chats[chat] {
		return 0, 0, errors.New("chat not found")
	}
	return chat, id, nil
}

// edit gives message id of chat the text, parse mode and link preview of text (nil
// to keep its own) and buttons. It answers as the API does: with a 400 when the bot
// has no such message or nothing would change, with 429 when the chat's Limit does
// not allow another message yet, and else with the edited Message.
func (s *Server) edit(w http.ResponseWriter, chat, id int64, text *Message, buttons [][]Button) {
	s.mu.Lock()
	rec, ok := s.sent[id]
	refused := ""
	switch {
	case !ok || rec.chat != chat || rec.deleted:
		refused = "message to edit not found"
	case rec.msg < 0 && text != nil:
		refused = "there is no text in the message to edit"
	case rec.msg < 0:
		refused = "telegramtest: editing the reply markup of a document is not supported"
	}
	if refused != "" {
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, "Bad Request: "+refused, 0)
		return
	}
	m := &s.messages[rec.msg]
	if (text == nil || text.Text == m.Text && text.ParseMode == m.ParseMode) && sameButtons(buttons, m.Buttons) {
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, "Bad Request: "+notModified, 0)
		return
	}
	if wait := s.throttle(chat); wait > 0 {
		s.mu.Unlock()
		writeError(w, http.StatusTooManyRequests, fmt.Sprintf("Too Many Requests: retry after %d", wait), wait)
		return
	}
	if text != nil {
		m.Text, m.ParseMode, m.NoLinkPreview = text.Text, text.ParseMode, text.NoLinkPreview
	}
	m.Buttons = buttons
	m.Edits++
	plain, _ := parsed(m.Text, m.ParseMode) // checked when it was sent or edited
	result := messageResult(*m, rec.date, plain)
	result["edit_date"] = time.Now().Unix()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, response{OK: true, Result: result})
}

// noLinkPreview reads whether a message is to go without a link preview, from
// link_preview_options or the older disable_web_page_preview; an error is the
// description of the API's 400 after "Bad Request: ".
func noLinkPreview(p map[string]string) (bool, error) {
	off := p["disable_web_page_preview"] == "true"
	if lp := p["link_preview_options"]; lp != "" {
		var opts struct {
			IsDisabled bool `json:"is_disabled"`
		}
		if err := json.Unmarshal([]byte(lp), &opts); err != nil {
			return false, errors.New("can't parse link preview options JSON object")
		}
		off = off || opts.IsDisabled
	}
	return off, nil
}
