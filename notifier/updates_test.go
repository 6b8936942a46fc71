package notifier_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/supervise/supervise/notifier"
	"github.com/supervise/supervise/notifier/telegramtest"
)

// Chats of the kinds Telegram sends, as update JSON.
var (
	alice = map[string]any{"id": 123456789, "type": "private", "username": "alice", "first_name": "Alice", "last_name": "Smith"}
	bob   = map[string]any{"id": 555, "type": "private", "first_name": "Bob"}
	team  = map[string]any{"id": -4001, "type": "group", "title": "Team"}
	ops   = map[string]any{"id": -1001234567890, "type": "supergroup", "title": "Ops alerts", "is_forum": true}
	chat2 = map[string]any{"id": -1002, "type": "supergroup", "title": "Chatter"}
	news  = map[string]any{"id": -1009, "type": "channel", "title": "News", "username": "newschan"}
)

// msg is a message update of kind (message, edited_message, channel_post) in chat,
// with extra fields.
func msg(kind string, chat map[string]any, extra map[string]any) map[string]any {
	m := map[string]any{"message_id": 1, "date": 1700000000, "chat": chat, "text": "hi"}
	for k, v := range extra {
		m[k] = v
	}
	return map[string]any{kind: m}
}

// member is a my_chat_member update: the bot's status in chat became status.
func member(chat map[string]any, status string) map[string]any {
	return map[string]any{"my_chat_member": map[string]any{
		"chat":            chat,
		"from":            map[string]any{"id": 123456789, "is_bot": false, "first_name": "Alice"},
		"date":            1700000000,
		"old_chat_member": map[string]any{"status": "left", "user": map[string]any{"id": 1, "is_bot": true, "first_name": "bot"}},
		"new_chat_member": map[string]any{"status": status, "user": map[string]any{"id": 1, "is_bot": true, "first_name": "bot"}},
	}}
}

func topicMsg(thread int64, extra map[string]any) map[string]any {
	m := map[string]any{"message_thread_id": thread, "is_topic_message": true}
	for k, v := range extra {
		m[k] = v
	}
	return msg("message", ops, m)
}

func TestChats(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		updates []map[string]any
		want    []notifier.Chat
	}{
		{"no updates", nil, nil},
		{"private chat", []map[string]any{msg("message", alice, nil)},
			[]notifier.Chat{{ID: 123456789, Type: "private", Username: "alice", FirstName: "Alice", LastName: "Smith"}}},
		{"group, added then written to", []map[string]any{member(team, "member"), msg("message", team, map[string]any{"text": "/start@supervise_bot"})},
			[]notifier.Chat{{ID: -4001, Type: "group", Title: "Team"}}},
		{"forum topics, with the names seen", []map[string]any{
			topicMsg(12, nil),
			topicMsg(7, map[string]any{"forum_topic_created": map[string]any{"name": "deploy", "icon_color": 7322096}}),
			topicMsg(7, nil),
			msg("message", ops, nil), // the General topic
			topicMsg(7, map[string]any{"forum_topic_edited": map[string]any{"name": "deploys"}}),
			topicMsg(12, map[string]any{"forum_topic_edited": map[string]any{"icon_custom_emoji_id": ""}}),
		}, []notifier.Chat{{ID: -1001234567890, Type: "supergroup", Title: "Ops alerts",
			Topics: []notifier.Topic{{ID: 7, Name: "deploys"}, {ID: 12}}}}},
		{"a reply thread is not a topic", []map[string]any{msg("message", chat2, map[string]any{"message_thread_id": 40})},
			[]notifier.Chat{{ID: -1002, Type: "supergroup", Title: "Chatter"}}},
		{"channel post", []map[string]any{member(news, "administrator"), msg("channel_post", news, nil), msg("edited_channel_post", news, nil)},
			[]notifier.Chat{{ID: -1009, Type: "channel", Title: "News", Username: "newschan"}}},
		{"edited message", []map[string]any{msg("edited_message", bob, nil)},
			[]notifier.Chat{{ID: 555, Type: "private", FirstName: "Bob"}}},
		{"removed and blocked", []map[string]any{
			msg("message", team, nil), member(team, "left"),
			msg("message", alice, nil), member(alice, "kicked"),
			member(chat2, "kicked"), member(chat2, "member"),
		}, []notifier.Chat{
			{ID: -4001, Type: "group", Title: "Team", Removed: true},
			{ID: 123456789, Type: "private", Username: "alice", FirstName: "Alice", LastName: "Smith", Removed: true},
			{ID: -1002, Type: "supergroup", Title: "Chatter"},
		}},
		{"group upgraded to a supergroup", []map[string]any{
			msg("message", team, nil),
			msg("message", team, map[string]any{"migrate_to_chat_id": -1004001}),
			msg("message", map[string]any{"id": -1004001, "type": "supergroup", "title": "Team"}, map[string]any{"migrate_from_chat_id": -4001}),
		}, []notifier.Chat{
			{ID: -4001, Type: "group", Title: "Team", MigratedTo: -1004001},
			{ID: -1004001, Type: "supergroup", Title: "Team"},
		}},
		{"each once, newest last, newest title", []map[string]any{
			msg("message", alice, nil),
			msg("message", team, nil),
			msg("message", alice, nil),
			msg("message", bob, nil),
			msg("message", map[string]any{"id": -4001, "type": "group", "title": "Team (renamed)"}, nil),
		}, []notifier.Chat{
			{ID: 123456789, Type: "private", Username: "alice", FirstName: "Alice", LastName: "Smith"},
			{ID: 555, Type: "private", FirstName: "Bob"},
			{ID: -4001, Type: "group", Title: "Team (renamed)"},
		}},
		{"other kinds of update", []map[string]any{
			{"callback_query": map[string]any{"id": "1", "from": alice, "chat_instance": "x", "message": map[string]any{"message_id": 1, "date": 0, "chat": bob}}},
			{"chat_join_request": map[string]any{"chat": chat2, "from": alice, "user_chat_id": 1, "date": 0}},
			{"inline_query": map[string]any{"id": "1", "from": alice, "query": "", "offset": ""}},
			{"poll": map[string]any{"id": "1"}},
		}, []notifier.Chat{
			{ID: 555, Type: "private", FirstName: "Bob"},
			{ID: -1002, Type: "supergroup", Title: "Chatter"},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tg, srv := newTestTelegram(t)
			for _, u := range tt.updates {
				srv.AddUpdate(u)
			}
			for range 2 { // the second time: the first confirmed nothing
				got, err := tg.Chats(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("Chats() =\n%+v\nwant\n%+v", got, tt.want)
				}
			}
			if got := srv.PendingUpdates(); got != len(tt.updates) {
				t.Errorf("%d updates pending after Chats, want all %d", got, len(tt.updates))
			}
		})
	}
}

// Chats asks for the updates without an offset, which would confirm them, and
// without allowed_updates, which would change what the bot gets from then on.
func TestChatsRequest(t *testing.T) {
	t.Parallel()
	var body map[string]any
	var path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.Path
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &body); err != nil {
			t.Errorf("body %q: %v", b, err)
		}
		io.WriteString(w, `{"ok":true,"result":[]}`)
	}))
	defer srv.Close()
	tg := notifier.NewTelegram(tgToken, "")
	tg.APIURL = srv.URL
	if chats, err := tg.Chats(context.Background()); err != nil || chats != nil {
		t.Fatalf("Chats() = %v, %v", chats, err)
	}
	want := map[string]any{"timeout": 0.0, "limit": 100.0}
	if path != "/bot"+tgToken+"/getUpdates" || !reflect.DeepEqual(body, want) {
		t.Errorf("request to %s with %v, want getUpdates with %v", path, body, want)
	}
}

func TestChatsErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		token    string // in place of the one the server knows
		setup    func(*telegramtest.Server)
		is       error
		code     int
		requests int // or 0 for any
	}{
		{"webhook", "", func(s *telegramtest.Server) { s.SetWebhook("https://example.com/hook") },
			notifier.ErrWebhookSet, 409, 1},
		{"other poller", "", func(s *telegramtest.Server) {
			s.Fail(telegramtest.Fault{Status: 409, Description: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"})
		}, notifier.ErrOtherPoller, 409, 1},
		{"bad token", "123456789:AAE-wrong", func(*telegramtest.Server) {}, notifier.ErrPermanent, 401, 1},
		{"description with the URL", "", func(s *telegramtest.Server) {
			s.Fail(telegramtest.Fault{Status: 400, Description: "Bad Request: no such path /bot" + tgToken + "/getUpdates"})
		}, notifier.ErrPermanent, 400, 1},
		{"server errors until time is up", "", func(s *telegramtest.Server) {
			for range 100 {
				s.Fail(telegramtest.Fault{Status: 502})
			}
		}, nil, 502, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tg, srv := newTestTelegram(t)
			if tt.token != "" {
				tg = notifier.NewTelegram(tt.token, "")
				tg.APIURL = srv.URL()
			}
			if tt.requests == 0 {
				tg.MaxWait = time.Second // to run out of time; the others are answered at once
			}
			srv.AddUpdate(msg("message", alice, nil))
			tt.setup(srv)
			chats, err := tg.Chats(context.Background())
			if err == nil {
				t.Fatalf("Chats() = %v, want an error", chats)
			}
			assertNoToken(t, err)
			var apiErr *notifier.APIError
			if !errors.As(err, &apiErr) || apiErr.Code != tt.code || apiErr.Method != "getUpdates" {
				t.Errorf("error %v, want a %d from getUpdates", err, tt.code)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v does not match %v", err, tt.is)
			}
			for _, other := range []error{notifier.ErrWebhookSet, notifier.ErrOtherPoller} {
				if other != tt.is && errors.Is(err, other) {
					t.Errorf("error %v matches %v", err, other)
				}
			}
			if tt.requests > 0 && srv.Requests() != tt.requests {
				t.Errorf("%d requests, want %d", srv.Requests(), tt.requests)
			}
		})
	}
}

func TestChatsRetriesServerErrors(t *testing.T) {
	t.Parallel()
	tg, srv := newTestTelegram(t)
	srv.AddUpdate(msg("message", alice, nil))
	srv.Fail(telegramtest.Fault{Status: 502, Body: "<html>502 Bad Gateway</html>"}, telegramtest.Fault{Status: 500},
		telegramtest.Fault{Status: 429, RetryAfter: 0})
	chats, err := tg.Chats(context.Background())
	if err != nil || len(chats) != 1 || chats[0].ID != 123456789 {
		t.Fatalf("Chats() = %+v, %v; want alice's chat after the retries", chats, err)
	}
	if srv.Requests() != 4 {
		t.Errorf("%d requests, want 4", srv.Requests())
	}
}

func TestBotFromConfig(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken)
	defer srv.Close()
	srv.AddUpdate(msg("message", bob, nil))
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(tgToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, vars := range []map[string]string{
		{notifier.EnvToken: tgToken, notifier.EnvAPIURL: srv.URL()},
		{notifier.EnvTokenFile: file, notifier.EnvAPIURL: srv.URL() + "/"},
		// The chat is not needed, nor checked: this is how one finds it.
		{notifier.EnvToken: tgToken, notifier.EnvAPIURL: srv.URL(), notifier.EnvChatID: "my group"},
	} {
		tg, err := notifier.BotFromConfig(nil, envOf(vars))
		if err != nil {
			t.Errorf("BotFromConfig(%v): %v", vars, err)
			continue
		}
		if chats, err := tg.Chats(context.Background()); err != nil || len(chats) != 1 {
			t.Errorf("BotFromConfig(%v).Chats() = %v, %v", vars, chats, err)
		}
		if strings.Contains(tg.String(), tgToken) {
			t.Errorf("String() shows the token: %s", tg)
		}
	}

	for _, tt := range []struct {
		vars    map[string]string
		want    string
		noToken bool
	}{
		{nil, "no bot token: set SUPERVISE_TELEGRAM_TOKEN (or SUPERVISE_TELEGRAM_TOKEN_FILE, or token_file under [telegram] in the config file) to the token @BotFather gave", true},
		{map[string]string{notifier.EnvChatID: "42"}, "no bot token", true},
		{map[string]string{notifier.EnvToken: "bot" + tgToken}, `must not start with "bot"`, false},
		{map[string]string{notifier.EnvToken: tgToken, notifier.EnvTokenFile: file}, "both set", false},
		{map[string]string{notifier.EnvToken: tgToken, notifier.EnvAPIURL: "https://api.telegram.org/bot" + tgToken}, "base URL only", false},
		{map[string]string{notifier.EnvToken: tgToken, notifier.EnvAPIURL: "api.telegram.org"}, "not an http or https URL", false},
	} {
		tg, err := notifier.BotFromConfig(nil, envOf(tt.vars))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("BotFromConfig(%v) = %v, %v; want an error containing %q", tt.vars, tg, err, tt.want)
			continue
		}
		if errors.Is(err, notifier.ErrNoToken) != tt.noToken {
			t.Errorf("BotFromConfig(%v): errors.Is(%v, ErrNoToken) = %v", tt.vars, err, !tt.noToken)
		}
		assertNoToken(t, err)
	}
}
