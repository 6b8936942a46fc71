package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/supervise/supervise/notifier/telegramtest"
)

// These tests run `supervise telegram chats` in-process against the fake Bot API.
// None is parallel: they set the environment and chatsTimeout.

// botOnly points supervise at a fake Bot API with a token and no chat, as someone
// who has just made a bot has it.
func botOnly(t *testing.T) *telegramtest.Server {
	srv := telegramtest.NewServer(tgToken)
	t.Cleanup(srv.Close)
	noTelegram(t)
	t.Setenv("SUPERVISE_TELEGRAM_TOKEN", tgToken)
	t.Setenv("SUPERVISE_TELEGRAM_API_URL", srv.URL())
	return srv
}

// shortChatsTimeout makes the command give up within d.
func shortChatsTimeout(t *testing.T, d time.Duration) {
	old := chatsTimeout
	chatsTimeout = d
	t.Cleanup(func() { chatsTimeout = old })
}

func message(chat map[string]any, extra map[string]any) map[string]any {
	m := map[string]any{"message_id": 1, "date": 1700000000, "chat": chat, "text": "hi"}
	for k, v := range extra {
		m[k] = v
	}
	return map[string]any{"message": m}
}

var (
	opsChat   = map[string]any{"id": -1001234567890, "type": "supergroup", "title": "Ops alerts", "is_forum": true}
	aliceChat = map[string]any{"id": 123456789, "type": "private", "username": "alice", "first_name": "Alice", "last_name": "Smith"}
)

func TestTelegramChatsListing(t *testing.T) {
	srv := botOnly(t)
	srv.AddUpdate(message(opsChat, map[string]any{"message_thread_id": 7, "is_topic_message": true,
		"forum_topic_created": map[string]any{"name": "deploys", "icon_color": 7322096}}))
	srv.AddUpdate(message(opsChat, map[string]any{"message_thread_id": 12, "is_topic_message": true}))
	srv.AddUpdate(message(aliceChat, nil))
	srv.AddUpdate(message(opsChat, map[string]any{"message_thread_id": 7, "is_topic_message": true}))
	srv.AddUpdate(message(aliceChat, map[string]any{"text": "again"}))

	wantOut := `-1001234567890  supergroup  "Ops alerts"  topics: 7 ("deploys"), 12
123456789       private     @alice (Alice Smith)
`
	home := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", home)
	wantErr := `
Set SUPERVISE_TELEGRAM_CHAT_ID to the chat's id, e.g.
  export SUPERVISE_TELEGRAM_CHAT_ID=123456789
or, in ` + filepath.Join(home, "supervise", "config.toml") + `:
  [telegram]
  chat_id = 123456789
`
	for range 2 { // the same the second time: nothing was confirmed
		status, stdout, stderr := supervise(t, "telegram", "chats")
		if status != 0 || stdout != wantOut || stderr != wantErr {
			t.Errorf("status %d\nstdout:\n%s\nstderr:\n%s\nwant 0\nstdout:\n%s\nstderr:\n%s", status, stdout, stderr, wantOut, wantErr)
		}
	}
	if srv.PendingUpdates() != 5 {
		t.Errorf("%d updates pending, want all 5 left for other programs", srv.PendingUpdates())
	}
}

func TestTelegramChatsNotes(t *testing.T) {
	srv := botOnly(t)
	t.Setenv("SUPERVISE_TELEGRAM_CHAT_ID", "not even a number") // not needed, so not checked
	srv.AddUpdate(message(map[string]any{"id": -1009, "type": "channel", "title": "News", "username": "newschan"}, nil))
	srv.AddUpdate(message(map[string]any{"id": -4001, "type": "group", "title": "Team"}, map[string]any{"migrate_to_chat_id": -1004001}))
	bob := map[string]any{"id": 555, "type": "private", "first_name": "Bob\x1b[2J", "last_name": "\u202eB"}
	srv.AddUpdate(message(bob, nil))
	srv.AddUpdate(message(map[string]any{"id": -1002, "type": "supergroup", "title": "Evil\x1b]0;x\x07\ntitle"}, nil))
	srv.AddUpdate(map[string]any{"my_chat_member": map[string]any{
		"chat": bob, "date": 0,
		"from":            map[string]any{"id": 555, "is_bot": false, "first_name": "Bob"},
		"old_chat_member": map[string]any{"status": "member", "user": map[string]any{"id": 1, "is_bot": true, "first_name": "b"}},
		"new_chat_member": map[string]any{"status": "kicked", "until_date": 0, "user": map[string]any{"id": 1, "is_bot": true, "first_name": "b"}},
	}})

	wantOut := `-1009  channel     "News" @newschan
-4001  group       "Team"  now the supergroup -1004001: use that id
-1002  supergroup  "Evil\x1b]0;x\a\ntitle"
555    private     Bob[2J B  the user blocked the bot
`
	status, stdout, stderr := supervise(t, "telegram", "chats")
	if status != 0 || stdout != wantOut {
		t.Errorf("status %d stdout:\n%s\nwant 0 and:\n%s", status, stdout, wantOut)
	}
	// The newest chat the bot can send to.
	if !strings.Contains(stderr, "export SUPERVISE_TELEGRAM_CHAT_ID=-1002\n") || strings.Contains(stderr, "No group here?") {
		t.Errorf("stderr:\n%s\nwant the supergroup as the example, and no hint on groups", stderr)
	}
}

func TestTelegramChatsNoGroupHint(t *testing.T) {
	srv := botOnly(t)
	srv.AddUpdate(message(aliceChat, nil))
	status, stdout, stderr := supervise(t, "telegram", "chats")
	if status != 0 || stdout != "123456789  private  @alice (Alice Smith)\n" {
		t.Errorf("status %d stdout %q", status, stdout)
	}
	for _, want := range []string{"export SUPERVISE_TELEGRAM_CHAT_ID=123456789\n", "No group here?", "privacy mode", "/start@your_bot"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestTelegramChatsNone(t *testing.T) {
	botOnly(t)
	status, stdout, stderr := supervise(t, "telegram", "chats")
	if status != 0 || stdout != "" {
		t.Errorf("status %d stdout %q, want 0 and nothing", status, stdout)
	}
	for _, want := range []string{"No chat has written to this bot", "Write any message to the bot", "run this again", "privacy mode"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestTelegramChatsWebhook(t *testing.T) {
	srv := botOnly(t)
	srv.AddUpdate(message(aliceChat, nil))
	srv.SetWebhook("https://example.com/hook")
	status, stdout, stderr := supervise(t, "telegram", "chats")
	want := "supervise telegram chats: this bot has a webhook set; getUpdates does not work while it is: " +
		"telegram: getUpdates: 409 Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first\n"
	if status != 1 || stdout != "" || !strings.HasPrefix(stderr, want) || !strings.Contains(stderr, "deleteWebhook") {
		t.Errorf("status %d stdout %q stderr:\n%s\nwant 1 and:\n%s", status, stdout, stderr, want)
	}
	if srv.Requests() != 1 {
		t.Errorf("%d requests, want 1: a conflict is not retried", srv.Requests())
	}
}

func TestTelegramChatsRetries(t *testing.T) {
	srv := botOnly(t)
	srv.AddUpdate(message(aliceChat, nil))
	srv.Fail(telegramtest.Fault{Status: 502, Body: "<html>502 Bad Gateway</html>"})
	status, stdout, stderr := supervise(t, "telegram", "chats")
	if status != 0 || !strings.HasPrefix(stdout, "123456789  private") {
		t.Errorf("status %d stdout %q stderr %q; want the chat after a retry", status, stdout, stderr)
	}
	if srv.Requests() != 2 {
		t.Errorf("%d requests, want 2", srv.Requests())
	}
}

func TestTelegramChatsUsage(t *testing.T) {
	botOnly(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"telegram"}, "usage: supervise telegram chats"},
		{[]string{"telegram", "chat"}, `unknown subcommand "chat"`},
		{[]string{"telegram", "chats", "extra"}, `unexpected argument "extra"`},
		{[]string{"telegram", "chats", "--json"}, "flag provided but not defined: -json"},
	} {
		status, stdout, stderr := supervise(t, tc.args...)
		if status != 2 || stdout != "" || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: status %d stdout %q stderr %q; want 2 and %q", tc.args, status, stdout, stderr, tc.want)
		}
	}
	if status, stdout, _ := supervise(t, "telegram", "help"); status != 0 || !strings.Contains(stdout, "chats") {
		t.Errorf("telegram help: status %d stdout %q", status, stdout)
	}
	if status, stdout, _ := supervise(t, "telegram", "chats", "-h"); status != 0 || !strings.Contains(stdout, "ID  TYPE  NAME") {
		t.Errorf("telegram chats -h: status %d stdout %q", status, stdout)
	}
	if status, stdout, _ := supervise(t, "help"); status != 0 || !strings.Contains(stdout, "supervise telegram chats") {
		t.Errorf("help does not list telegram chats:\n%s", stdout)
	}
}

func TestTelegramChatsConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"no token", nil, []string{"no bot token is set", "@BotFather", "/newbot", "export SUPERVISE_TELEGRAM_TOKEN=", "SUPERVISE_TELEGRAM_TOKEN_FILE"}},
		{"chat but no token", map[string]string{"SUPERVISE_TELEGRAM_CHAT_ID": "42"}, []string{"no bot token is set"}},
		{"token with bot prefix", map[string]string{"SUPERVISE_TELEGRAM_TOKEN": "bot" + tgToken}, []string{`must not start with "bot"`}},
		{"missing token file", map[string]string{"SUPERVISE_TELEGRAM_TOKEN_FILE": "/nonexistent/token"}, []string{"SUPERVISE_TELEGRAM_TOKEN_FILE", "no such file"}},
		{"token in the API URL", map[string]string{"SUPERVISE_TELEGRAM_TOKEN": tgToken, "SUPERVISE_TELEGRAM_API_URL": "https://api.telegram.org/bot" + tgToken},
			[]string{"base URL only"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			noTelegram(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			status, stdout, stderr := supervise(t, "telegram", "chats")
			if status != 2 || stdout != "" {
				t.Errorf("status %d stdout %q, want 2 and nothing", status, stdout)
			}
			for _, want := range tc.want {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			if strings.Contains(stderr, tgToken) || strings.Contains(stderr, "AAH-secret") {
				t.Errorf("stderr shows the token:\n%s", stderr)
			}
		})
	}
}

// However the API fails, the command says so, exits 1, and prints no token.
func TestTelegramChatsFailuresHideToken(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(*testing.T, *telegramtest.Server)
		want  string
	}{
		{"bad token", func(t *testing.T, _ *telegramtest.Server) {
			t.Setenv("SUPERVISE_TELEGRAM_TOKEN", "999:wrong_token_also_secret")
		}, "Telegram does not accept the bot token in SUPERVISE_TELEGRAM_TOKEN (telegram: getUpdates: 401 Unauthorized)"},
		{"bad token from a file", func(t *testing.T, _ *telegramtest.Server) {
			t.Setenv("SUPERVISE_TELEGRAM_TOKEN", "")
			t.Setenv("SUPERVISE_TELEGRAM_TOKEN_FILE", writeFile(t, t.TempDir(), "token", "999:wrong_token_also_secret\n"))
		}, "Telegram does not accept the bot token in SUPERVISE_TELEGRAM_TOKEN_FILE"},
		{"server errors", func(_ *testing.T, srv *telegramtest.Server) {
			for range 100 {
				srv.Fail(telegramtest.Fault{Status: 502, Body: "<html>bad gateway for /bot" + tgToken + "/getUpdates</html>"})
			}
		}, "telegram: getUpdates: 502 Bad Gateway (not a Bot API answer); gave up after"},
		{"answer that quotes the token", func(_ *testing.T, srv *telegramtest.Server) {
			srv.Fail(telegramtest.Fault{Status: 400, Description: "Bad Request: no bot " + tgToken})
		}, "telegram: getUpdates: 400 Bad Request: no bot <redacted>"},
		{"stall", func(_ *testing.T, srv *telegramtest.Server) {
			srv.Fail(telegramtest.Fault{Stall: true})
		}, "context deadline exceeded"},
		{"other poller", func(_ *testing.T, srv *telegramtest.Server) {
			srv.Fail(telegramtest.Fault{Status: 409, Description: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"})
		}, "another program is reading this bot's updates right now"},
		{"wrong API URL", func(t *testing.T, srv *telegramtest.Server) {
			t.Setenv("SUPERVISE_TELEGRAM_API_URL", srv.URL()+"/telegram")
		}, "404 Not Found (is SUPERVISE_TELEGRAM_API_URL a Bot API server?)"},
		{"nothing listening", func(t *testing.T, srv *telegramtest.Server) {
			srv.Close()
		}, "connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shortChatsTimeout(t, time.Second)
			srv := botOnly(t)
			srv.AddUpdate(message(aliceChat, nil))
			tc.setup(t, srv)
			status, stdout, stderr := supervise(t, "telegram", "chats")
			if status != 1 || stdout != "" || !strings.HasPrefix(stderr, "supervise telegram chats: ") || !strings.Contains(stderr, tc.want) {
				t.Errorf("status %d stdout %q stderr:\n%s\nwant 1 and %q", status, stdout, stderr, tc.want)
			}
			if !strings.HasSuffix(stderr, "\n") || strings.HasSuffix(stderr, "\n\n") {
				t.Errorf("stderr %q does not end with one newline", stderr)
			}
			for _, secret := range []string{tgToken, "AAH-secret", "wrong_token_also_secret"} {
				if strings.Contains(stdout+stderr, secret) {
					t.Errorf("output shows the token:\n%s%s", stdout, stderr)
				}
			}
		})
	}
}
