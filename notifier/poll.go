package notifier

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Command is a message a chat sent the bot, for Telegram commands.
type Command struct {
	ChatID   int64
	ThreadID int64  // the forum topic it was sent in, or 0
	UserID   int64  // the sender's id; 0 when the chat sent it (a channel's post)
	From     string // who sent it: @username, or the user's id
	Text     string
	Date     time.Time // when it was sent
}

// Press is a press of an inline button under one of the bot's messages (a callback_query).
type Press struct {
	ID        string // callback_query id, for AnswerPress
	ChatID    int64  // the chat of the message the button is under
	ThreadID  int64  // its forum topic, or 0
	MessageID int64  // the message the button is under
	UserID    int64  // who pressed
	From      string // @username, or the user's id as text
	Data      string // the button's callback data
}

// MaxPollWait is the longest Poll asks Telegram to hold a getUpdates request, within
// the bound of one request.
const MaxPollWait = attemptTimeout - 5*time.Second

// Poll long-polls getUpdates for the messages and button presses after offset,
// waiting up to wait (at most MaxPollWait) for one to come. It confirms every update
// before offset, so they are not seen again, and returns the messages and the presses
// (other updates are skipped) with the offset of the next call. Each press must be
// answered, with AnswerPress, for the user's app to stop showing it as pending. It is
// one request, not retried: the caller polls again. When another program polls the
// same bot, the error matches ErrOtherPoller; when the bot has a webhook, ErrWebhookSet.
func (t *Telegram) Poll(ctx context.Context, offset int64, wait time.Duration) ([]Command, []Press, int64, error) {
	// No allowed_updates: Telegram keeps that setting for the bot, and `supervise
	// telegram chats` needs the updates other than messages.
	updates, err := t.getUpdates(ctx, t.post, struct {
		Offset  int64 `json:"offset,omitempty"`
		Timeout int   `json:"timeout"`
	}{offset, int(min(wait, MaxPollWait) / time.Second)})
	if err != nil {
		return nil, nil, offset, err
	}
	var cmds []Command
	var presses []Press
	for _, u := range updates {
		// Telegram sends no update below offset, which confirmed it, and none whose
		// id no offset can pass: one that came anyway, from a server or a proxy that
		// answers amiss, would be done again at every poll.
		if u.UpdateID < offset || u.UpdateID == math.MaxInt64 {
			continue
		}
		offset = u.UpdateID + 1
		if q := u.CallbackQuery; q != nil && q.Message != nil {
			p := Press{ID: q.ID, ChatID: q.Message.Chat.ID, MessageID: q.Message.MessageID,
				UserID: q.From.ID, From: q.From.name(), Data: q.Data}
			if q.Message.IsTopicMessage {
				p.ThreadID = q.Message.MessageThreadID
			}
			presses = append(presses, p)
		}
		m := u.Message
		if m == nil || m.Text == "" {
			continue
		}
		c := Command{ChatID: m.Chat.ID, Text: m.Text, Date: time.Unix(m.Date, 0)}
		if m.IsTopicMessage {
			c.ThreadID = m.MessageThreadID
		}
		if m.From != nil {
			c.UserID, c.From = m.From.ID, m.From.name()
		}
		cmds = append(cmds, c)
	}
	return cmds, presses, offset, nil
}

// name is how a user is named to people: @username, or the user's id.
func (u tgUser) name() string {
	if u.Username != "" {
		return "@" + u.Username
	}
	return strconv.FormatInt(u.ID, 10)
}

// Reply sends html to the chat and topic a command came from, retried as Send is.
func (t *Telegram) Reply(ctx context.Context, c Command, html string) error {
	return t.send(ctx, Target{ChatID: strconv.FormatInt(c.ChatID, 10), ThreadID: c.ThreadID}, html, "HTML")
}

// Preformatted renders title in bold over text in a <pre> block, cleaned and escaped
// as a job's output is, its first lines left out as needed to fit one message: the
// answer to a command.
func Preformatted(title, text string) string {
	head := "<b>" + escape(title) + "</b>"
	text = strings.TrimSuffix(text, "\n")
	if text == "" {
		return head + "\n(nothing)"
	}
	var b strings.Builder
	b.WriteString(head)
	pre(&b, tail{lines: strings.Split(clean([]byte(text)), "\n")}, maxMessage)
	return b.String()
}

// Username asks Telegram for the bot's username (getMe), retried as Send is: in a
// group, a command may name the bot it is for, as in /status@my_bot.
func (t *Telegram) Username(ctx context.Context) (string, error) {
	result, err := t.retry(ctx, "getMe", []byte("{}"))
	if err != nil {
		return "", err
	}
	var me struct {
		Username string `json:"username"`
	}
	if err := json.Unmarshal(result, &me); err != nil {
		return "", fmt.Errorf("telegram: getMe: %w", err)
	}
	return me.Username, nil
}
