package telegramtest

import (
	"fmt"
	"net/http"
	"strconv"
)

// MaxAnswerLength is the most characters, counted as Telegram counts them (UTF-16
// code units), that an answer to a button press may show.
const MaxAnswerLength = 200

// Answer is an answer the Server accepted with answerCallbackQuery.
type Answer struct {
	QueryID   string
	Text      string
	ShowAlert bool
}

// queryInvalid is Telegram's description of an answer to a callback query that it
// did not send, was answered already, or came too late.
const queryInvalid = "query is too old and response timeout expired or query ID is invalid"

// Press queues the callback_query update that Telegram sends the bot when user userID
// (@username; none when empty) presses the button with callback data data under
// message messageID in chat, and returns the query's id, for answerCallbackQuery.
//
// A user can press only a button that is there: Press fails, and queues nothing,
// when the bot has no such message in chat (or it was deleted) or the message has no
// button with that data now.
func (s *Server) Press(chat, messageID, userID int64, username, data string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.sent[messageID]
	if !ok || rec.chat != chat || rec.msg < 0 || rec.deleted {
		return "", fmt.Errorf("telegramtest: Press: chat %d has no message %d of the bot's", chat, messageID)
	}
	m := s.messages[rec.msg]
	if !hasButton(m.Buttons, data) {
		return "", fmt.Errorf("telegramtest: Press: message %d has no button with callback data %q", messageID, data)
	}

	s.lastQuery++
	// Telegram's query ids are long decimal numbers, as strings.
	id := strconv.FormatInt(4_000_000_000_000_000_000+s.lastQuery, 10)
	s.queries[id] = false

	from := map[string]any{"id": userID, "is_bot": false, "first_name": "User " + strconv.FormatInt(userID, 10)}
	if username != "" {
		from["first_name"], from["username"] = username, username
	}
	plain, _ := parsed(m.Text, m.ParseMode) // checked when it was sent or edited
	message := messageResult(m, rec.date, plain)
	if m.ThreadID != 0 && chatType(chat) == "supergroup" {
		message["is_topic_message"] = true
	}
	s.addUpdate(map[string]any{"callback_query": map[string]any{
		"id":            id,
		"from":          from,
		"message":       message,
		"chat_instance": strconv.FormatInt(chat^0x5eed, 10),
		"data":          data,
	}})
	return id, nil
}

// Answers returns the answers to presses that the server accepted, oldest first.
func (s *Server) Answers() []Answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Answer(nil), s.answers...)
}

// answerCallbackQuery takes one answer to each query that Press made. It does not
// check the query's age: Telegram refuses an answer after some seconds, and a test
// that waited that long would be slow for nothing.
func (s *Server) answerCallbackQuery(w http.ResponseWriter, r *http.Request) {
	p, err := params(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "Bad Request: "+err.Error(), 0)
		return
	}
	a := Answer{QueryID: p["callback_query_id"], Text: p["text"], ShowAlert: p["show_alert"] == "true"}
	if utf16Len(a.Text) > MaxAnswerLength {
		// MTProto's error, which the Bot API passes on (as bots report getting it).
		writeError(w, http.StatusBadRequest, "Bad Request: MESSAGE_TOO_LONG", 0)
		return
	}
	s.mu.Lock()
	answered, issued := s.queries[a.QueryID]
	if !issued || answered {
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, "Bad Request: "+queryInvalid, 0)
		return
	}
	s.queries[a.QueryID] = true
	s.answers = append(s.answers, a)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, response{OK: true, Result: true})
}
