package notifier

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/supervise/supervise/supervisor"
)

// MaxUpdates is the most updates one getUpdates call returns, and so the most that
// Chats looks at.
const MaxUpdates = 100

// ErrNoToken matches, with errors.Is, the error of BotFromConfig when no bot token is
// configured.
var ErrNoToken = errors.New("no bot token")

// ErrWebhookSet matches, with errors.Is, the error of Chats when the bot has a
// webhook: Telegram then pushes updates to the webhook and refuses getUpdates.
var ErrWebhookSet = errors.New("webhook set")

// ErrOtherPoller matches, with errors.Is, the error of Chats when another program
// was reading the bot's updates with getUpdates at the same moment.
var ErrOtherPoller = errors.New("another getUpdates request")

// Chat is a chat the bot has seen in its pending updates.
type Chat struct {
	ID        int64
	Type      string // private, group, supergroup or channel
	Title     string // of a group, supergroup or channel
	Username  string // without the @
	FirstName string // of the other party of a private chat
	LastName  string
	// Topics are the forum topics that messages were seen in, by ID.
	Topics []Topic
	// MigratedTo is the supergroup a group was upgraded to; the group's own ID no
	// longer takes messages.
	MigratedTo int64
	// Removed is true when the newest word on the bot's membership is that it left or
	// was removed (or, in a private chat, that the user blocked it).
	Removed bool
}

// Topic is a forum topic in a supergroup.
type Topic struct {
	ID   int64  // message_thread_id
	Name string // known only when the update that created or renamed it was seen
}

// BotFromConfig returns a Telegram for the bot that the environment and the global
// config file cfg (nil for none) configure, each setting looked up with Lookup: the
// token and the API URL as New reads them, but no chat, since it is for the
// calls that find one. With no token the error matches ErrNoToken. No error shows the
// token.
func BotFromConfig(cfg *supervisor.Config, getenv func(string) string) (*Telegram, error) {
	token, err := tokenOf(cfg, getenv)
	if err != nil {
		return nil, err
	}
	if token == "" {
		return nil, fmt.Errorf("notifier: %w: set %s (or %s, or token_file under [telegram] in the config file) to the token @BotFather gave",
			ErrNoToken, EnvToken, EnvTokenFile)
	}
	apiURL, err := apiURLOf(cfg, getenv, token)
	if err != nil {
		return nil, err
	}
	t := NewTelegram(token, "")
	t.APIURL = apiURL
	return t, nil
}

// Chats returns the chats in the bot's pending updates (at most MaxUpdates of them,
// the oldest, and none older than the 24 hours Telegram keeps them), each once, the
// one heard from most recently last.
//
// It leaves the updates unconfirmed, so that they are there for the next call and
// for other programs, and it does not pass allowed_updates, which would change which
// updates the bot gets from then on. Calls are retried as Send's are. When the bot
// has a webhook, the error matches ErrWebhookSet.
func (t *Telegram) Chats(ctx context.Context) ([]Chat, error) {
	// No offset: an offset above an update's ID confirms it, and Telegram forgets it.
	updates, err := t.getUpdates(ctx, t.retryPayload, struct {
		Timeout int `json:"timeout"`
		Limit   int `json:"limit"`
	}{0, MaxUpdates})
	if err != nil {
		return nil, err
	}
	return chatsOf(updates), nil
}

// getUpdates calls getUpdates with params through call (post for one request,
// retryPayload for retries) and returns the updates. A 409 answer is classified, as
// ErrWebhookSet or ErrOtherPoller.
func (t *Telegram) getUpdates(ctx context.Context, call func(context.Context, string, payload) (json.RawMessage, error), params any) ([]tgUpdate, error) {
	body, err := json.Marshal(params)
	if err != nil {
		return nil, fmt.Errorf("telegram: getUpdates: %w", err)
	}
	result, err := call(ctx, "getUpdates", jsonPayload(body))
	if err != nil {
		return nil, classifyConflict(err)
	}
	var updates []tgUpdate
	if err := json.Unmarshal(result, &updates); err != nil {
		return nil, fmt.Errorf("telegram: getUpdates: the result is not a list of updates: %w", err)
	}
	return updates, nil
}

// conflictError tells, with errors.Is, which of Telegram's 409 answers err is.
type conflictError struct {
	*APIError
	kind error
}

func (e conflictError) Unwrap() []error { return []error{e.APIError, e.kind} }

// classifyConflict classifies a 409 Conflict answer to getUpdates. The API tells a
// webhook from another poller only in its description, so that is read, once, here.
func classifyConflict(err error) error {
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Code != http.StatusConflict {
		return err
	}
	switch {
	case apiErr.says("webhook"):
		return conflictError{apiErr, ErrWebhookSet}
	case apiErr.says("getupdates request"):
		return conflictError{apiErr, ErrOtherPoller}
	}
	return err
}

// tgUpdate is the part of a Bot API Update that names a chat or carries a command.
type tgUpdate struct {
	UpdateID          int64      `json:"update_id"`
	Message           *tgMessage `json:"message"`
	EditedMessage     *tgMessage `json:"edited_message"`
	ChannelPost       *tgMessage `json:"channel_post"`
	EditedChannelPost *tgMessage `json:"edited_channel_post"`
	MyChatMember      *tgMember  `json:"my_chat_member"`
	ChatMember        *struct {
		Chat tgChat `json:"chat"`
	} `json:"chat_member"`
	ChatJoinRequest *struct {
		Chat tgChat `json:"chat"`
	} `json:"chat_join_request"`
	CallbackQuery *tgCallbackQuery `json:"callback_query"`
}

// tgCallbackQuery is a press of an inline button.
type tgCallbackQuery struct {
	ID   string `json:"id"`
	From tgUser `json:"from"`
	// Message is the message the button is under: nil for an inline message, which
	// the bot did not send to a chat. One too old for the bot to see whole still has
	// its chat and message_id.
	Message *tgMessage `json:"message"`
	Data    string     `json:"data"`
}

type tgMessage struct {
	MessageID         int64    `json:"message_id"`
	Chat              tgChat   `json:"chat"`
	MessageThreadID   int64    `json:"message_thread_id"`
	IsTopicMessage    bool     `json:"is_topic_message"`
	MigrateToChatID   int64    `json:"migrate_to_chat_id"`
	ForumTopicCreated *tgTopic `json:"forum_topic_created"`
	ForumTopicEdited  *tgTopic `json:"forum_topic_edited"`
	From              *tgUser  `json:"from"`
	Text              string   `json:"text"`
	Date              int64    `json:"date"` // Unix time
}

type tgUser struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
}

type tgTopic struct {
	Name string `json:"name"`
}

// tgMember is a ChatMemberUpdated about the bot itself.
type tgMember struct {
	Chat          tgChat `json:"chat"`
	NewChatMember struct {
		Status   string `json:"status"`
		IsMember bool   `json:"is_member"` // of a "restricted" member
	} `json:"new_chat_member"`
}

type tgChat struct {
	ID        int64  `json:"id"`
	Type      string `json:"type"`
	Title     string `json:"title"`
	Username  string `json:"username"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
}

// chatsOf gathers the chats of updates, which come oldest first.
func chatsOf(updates []tgUpdate) []Chat {
	var chats []*Chat
	byID := map[int64]*Chat{}
	// see returns the chat, moved to the end of the list and its names refreshed: a
	// title can change, and the newest is the one the user will recognise.
	see := func(c tgChat) *Chat {
		got, ok := byID[c.ID]
		if ok {
			chats = slices.DeleteFunc(chats, func(x *Chat) bool { return x == got })
		} else {
			got = &Chat{ID: c.ID}
			byID[c.ID] = got
		}
		chats = append(chats, got)
		got.Type = cmp.Or(c.Type, got.Type)
		if c.Title != "" || c.Username != "" || c.FirstName != "" || c.LastName != "" {
			got.Title, got.Username, got.FirstName, got.LastName = c.Title, c.Username, c.FirstName, c.LastName
		}
		return got
	}
	for _, u := range updates {
		for _, m := range []*tgMessage{u.Message, u.EditedMessage, u.ChannelPost, u.EditedChannelPost} {
			if m == nil || m.Chat.ID == 0 {
				continue
			}
			c := see(m.Chat)
			c.Removed = false // a message came, so the bot is there
			if m.MigrateToChatID != 0 {
				c.MigratedTo = m.MigrateToChatID
			}
			// message_thread_id alone may be a reply thread outside any forum.
			if m.IsTopicMessage && m.MessageThreadID != 0 {
				name := ""
				if m.ForumTopicCreated != nil {
					name = m.ForumTopicCreated.Name
				}
				if m.ForumTopicEdited != nil && m.ForumTopicEdited.Name != "" {
					name = m.ForumTopicEdited.Name
				}
				c.addTopic(m.MessageThreadID, name)
			}
		}
		if m := u.MyChatMember; m != nil && m.Chat.ID != 0 {
			c := see(m.Chat)
			switch s := m.NewChatMember; s.Status {
			case "left", "kicked":
				c.Removed = true
			case "restricted":
				c.Removed = !s.IsMember
			default:
				c.Removed = false
			}
		}
		var others []tgChat
		if u.ChatMember != nil {
			others = append(others, u.ChatMember.Chat)
		}
		if u.ChatJoinRequest != nil {
			others = append(others, u.ChatJoinRequest.Chat)
		}
		if u.CallbackQuery != nil && u.CallbackQuery.Message != nil {
			others = append(others, u.CallbackQuery.Message.Chat)
		}
		for _, c := range others {
			if c.ID != 0 {
				see(c)
			}
		}
	}
	var list []Chat
	for _, c := range chats {
		list = append(list, *c)
	}
	return list
}

// addTopic records topic id, with its name when name is not empty, keeping Topics
// in order of ID.
func (c *Chat) addTopic(id int64, name string) {
	i, found := slices.BinarySearchFunc(c.Topics, id, func(t Topic, id int64) int { return cmp.Compare(t.ID, id) })
	if !found {
		c.Topics = slices.Insert(c.Topics, i, Topic{ID: id})
	}
	if name != "" {
		c.Topics[i].Name = name
	}
}
