package notifier_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/supervise/supervise/notifier"
	"github.com/supervise/supervise/notifier/telegramtest"
	"github.com/supervise/supervise/supervisor"
)

// envOf returns a getenv that looks names up in vars.
func envOf(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

func TestFromConfigWithoutTokenIsConsole(t *testing.T) {
	t.Parallel()
	var stderr strings.Builder
	n, err := notifier.FromConfig(nil, envOf(nil), &stderr, "")
	if err != nil {
		t.Fatal(err)
	}
	if !n.Console() {
		t.Fatal("FromConfig without a token is not the console")
	}
	if err := n.Notify(context.Background(), backupFailed); err != nil {
		t.Fatal(err)
	}
	if got := stderr.String(); !strings.Contains(got, notifier.Text(backupFailed)) {
		t.Errorf("stderr = %q, want the message", got)
	}
}

func TestFromConfigSendsToTelegram(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(tgToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		vars map[string]string
	}{
		{"token", map[string]string{notifier.EnvToken: tgToken}},
		{"token with newline", map[string]string{notifier.EnvToken: tgToken + "\n"}},
		{"token file", map[string]string{notifier.EnvTokenFile: tokenFile}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.vars[notifier.EnvChatID] = tgChatID
			tt.vars[notifier.EnvAPIURL] = srv.URL() + "/"
			var stderr strings.Builder
			n, err := notifier.FromConfig(nil, envOf(tt.vars), &stderr, "")
			if err != nil {
				t.Fatal(err)
			}
			before := len(srv.Messages())
			if err := n.Notify(context.Background(), backupFailed); err != nil {
				t.Fatal(err)
			}
			msgs := srv.Messages()
			if len(msgs) != before+1 || msgs[len(msgs)-1].Text != notifier.HTML(backupFailed) {
				t.Errorf("server got %+v, want the event's HTML", msgs)
			}
			if stderr.Len() != 0 {
				t.Errorf("stderr = %q, want nothing after a delivery", stderr.String())
			}
		})
	}
}

func TestFromConfigWritesUndeliveredToStderr(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer("1:another-bot", tgChat) // so our tgToken gets a 401
	defer srv.Close()
	var stderr strings.Builder
	n, err := notifier.FromConfig(nil, envOf(map[string]string{
		notifier.EnvToken:  tgToken,
		notifier.EnvChatID: tgChatID,
		notifier.EnvAPIURL: srv.URL(),
	}), &stderr, "")
	if err != nil {
		t.Fatal(err)
	}
	err = n.Notify(context.Background(), backupFailed)
	if !errors.Is(err, notifier.ErrPermanent) {
		t.Errorf("Notify = %v, want the permanent 401", err)
	}
	got := stderr.String()
	for _, want := range []string{"not delivered to Telegram", "401 Unauthorized", notifier.Text(backupFailed)} {
		if !strings.Contains(got, want) {
			t.Errorf("stderr = %q, want it to contain %q", got, want)
		}
	}
	if strings.Contains(got, tgToken) {
		t.Errorf("stderr shows the token: %q", got)
	}
	assertNoToken(t, err)
}

func TestFromConfigErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	missing := filepath.Join(dir, "no-such-file")
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		vars map[string]string
		want string // a part of the error
	}{
		{"token and file", map[string]string{notifier.EnvToken: tgToken, notifier.EnvTokenFile: empty, notifier.EnvChatID: tgChatID},
			"SUPERVISE_TELEGRAM_TOKEN and SUPERVISE_TELEGRAM_TOKEN_FILE are both set"},
		{"missing file", map[string]string{notifier.EnvTokenFile: missing, notifier.EnvChatID: tgChatID},
			"SUPERVISE_TELEGRAM_TOKEN_FILE: open " + missing},
		{"empty file", map[string]string{notifier.EnvTokenFile: empty, notifier.EnvChatID: tgChatID},
			empty + " is empty"},
		{"no chat", map[string]string{notifier.EnvToken: tgToken},
			"a bot token is set (SUPERVISE_TELEGRAM_TOKEN) but no chat to notify: set SUPERVISE_TELEGRAM_CHAT_ID, or chat_id under [telegram] in the config file"},
		{"chat without token", map[string]string{notifier.EnvChatID: tgChatID},
			"SUPERVISE_TELEGRAM_CHAT_ID is set but there is no bot token"},
		{"bad chat", map[string]string{notifier.EnvToken: tgToken, notifier.EnvChatID: "my group"},
			`SUPERVISE_TELEGRAM_CHAT_ID: "my group" is neither a chat number nor an @channel name`},
		{"bad channel name", map[string]string{notifier.EnvToken: tgToken, notifier.EnvChatID: "@a.b"},
			`SUPERVISE_TELEGRAM_CHAT_ID: "@a.b" is neither a chat number nor an @channel name`},
		{"bad token", map[string]string{notifier.EnvToken: "not a token", notifier.EnvChatID: tgChatID},
			"SUPERVISE_TELEGRAM_TOKEN: not a bot token"},
		{"bot prefix", map[string]string{notifier.EnvToken: "bot" + tgToken, notifier.EnvChatID: tgChatID},
			`must not start with "bot"`},
		{"URL scheme", map[string]string{notifier.EnvToken: tgToken, notifier.EnvChatID: tgChatID, notifier.EnvAPIURL: "ftp://example.com"},
			`SUPERVISE_TELEGRAM_API_URL: "ftp://example.com" is not an http or https URL`},
		{"URL without scheme", map[string]string{notifier.EnvAPIURL: "api.telegram.org"},
			`SUPERVISE_TELEGRAM_API_URL: "api.telegram.org" is not an http or https URL`},
		{"URL with token", map[string]string{notifier.EnvToken: tgToken, notifier.EnvChatID: tgChatID, notifier.EnvAPIURL: "https://api.telegram.org/bot" + tgToken},
			"without /bot<token>"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n, err := notifier.FromConfig(nil, envOf(tt.vars), &strings.Builder{}, "")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("FromConfig = %v, %v; want an error containing %q", n, err, tt.want)
			}
			assertNoToken(t, err)
		})
	}
}

func TestFromConfigTokenFileErrorHidesContents(t *testing.T) {
	t.Parallel()
	// A file holding a malformed token: the error names the variable, not the token.
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("bot"+tgToken), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := notifier.FromConfig(nil, envOf(map[string]string{notifier.EnvTokenFile: file, notifier.EnvChatID: tgChatID}), &strings.Builder{}, "")
	if err == nil || !strings.Contains(err.Error(), notifier.EnvTokenFile) {
		t.Fatalf("FromConfig = %v, want an error naming %s", err, notifier.EnvTokenFile)
	}
	assertNoToken(t, err)
}

// loadConfig writes text to a global config file, private to its owner, and loads it.
func loadConfig(t *testing.T, text string) *supervisor.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := supervisor.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestLookup(t *testing.T) {
	t.Parallel()
	cfg := loadConfig(t, "[telegram]\ntoken_file = \"/run/secrets/bot\"\nchat_id = 42\n")
	for _, tt := range []struct {
		cfg             *supervisor.Config
		vars            map[string]string
		env             string
		wantVal, wantAt string
	}{
		{cfg, nil, notifier.EnvChatID, "42", cfg.File + ":3: telegram.chat_id"},
		{cfg, map[string]string{notifier.EnvChatID: " 7 "}, notifier.EnvChatID, "7", notifier.EnvChatID},
		{cfg, nil, notifier.EnvTokenFile, "/run/secrets/bot", cfg.File + ":2: telegram.token_file"},
		// The token is one setting: given in the environment, as itself or as a file,
		// it hides both ways of giving it in the file.
		{cfg, map[string]string{notifier.EnvToken: tgToken}, notifier.EnvTokenFile, "", ""},
		{cfg, map[string]string{notifier.EnvTokenFile: "/elsewhere"}, notifier.EnvTokenFile, "/elsewhere", notifier.EnvTokenFile},
		{cfg, nil, notifier.EnvAPIURL, "", ""},
		{nil, nil, notifier.EnvChatID, "", ""},
	} {
		val, at := notifier.Lookup(tt.cfg, envOf(tt.vars), tt.env)
		if val != tt.wantVal || at != tt.wantAt {
			t.Errorf("Lookup(%v, %s) = %q, %q; want %q, %q", tt.vars, tt.env, val, at, tt.wantVal, tt.wantAt)
		}
	}
}

// The environment wins over the config file, key by key: each case has the file say
// something that would not reach the chat, and the environment what does.
func TestFromConfigEnvironmentWins(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(tgToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "no-such-token")
	for _, tt := range []struct {
		name, file string
		vars       map[string]string
	}{
		{"all in the file", fmt.Sprintf("token = %q\nchat_id = 42\napi_url = %q", tgToken, srv.URL()), nil},
		{"chat", fmt.Sprintf("token = %q\nchat_id = 777\napi_url = %q", tgToken, srv.URL()),
			map[string]string{notifier.EnvChatID: tgChatID}},
		{"API URL", fmt.Sprintf("token = %q\nchat_id = 42\napi_url = \"http://127.0.0.1:1\"", tgToken),
			map[string]string{notifier.EnvAPIURL: srv.URL()}},
		{"token over token_file", fmt.Sprintf("token_file = %q\nchat_id = 42\napi_url = %q", missing, srv.URL()),
			map[string]string{notifier.EnvToken: tgToken}},
		{"token_file over token", fmt.Sprintf("token = \"1:wrong\"\nchat_id = 42\napi_url = %q", srv.URL()),
			map[string]string{notifier.EnvTokenFile: tokenFile}},
		{"chat over destinations", fmt.Sprintf("token = %q\napi_url = %q\n[[notify.telegram]]\nchat_id = 777", tgToken, srv.URL()),
			map[string]string{notifier.EnvChatID: tgChatID}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := loadConfig(t, "[telegram]\ntimeout = \"2s\"\n"+tt.file+"\n")
			n, err := notifier.FromConfig(cfg, envOf(tt.vars), &strings.Builder{}, "")
			if err != nil {
				t.Fatal(err)
			}
			before := len(srv.Messages())
			if err := n.Notify(context.Background(), backupFailed); err != nil {
				t.Fatal(err)
			}
			if msgs := srv.Messages(); len(msgs) != before+1 || msgs[len(msgs)-1].ChatID != tgChat {
				t.Errorf("server got %+v, want the message in chat %d", msgs[before:], tgChat)
			}
		})
	}

	// The timeout too: the environment's second, not the file's hour, bounds a try at
	// a Bot API that is not there.
	cfg := loadConfig(t, fmt.Sprintf("[telegram]\ntoken = %q\nchat_id = 42\napi_url = \"http://127.0.0.1:1\"\ntimeout = \"1h\"\n", tgToken))
	n, err := notifier.FromConfig(cfg, envOf(map[string]string{notifier.EnvTimeout: "1s"}), &strings.Builder{}, "")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := n.Notify(context.Background(), backupFailed); err == nil || time.Since(start) > 10*time.Second {
		t.Errorf("Notify = %v after %v, want an error within seconds", err, time.Since(start))
	}
}

// What is wrong with a setting of the file, or with the settings together, names the
// file, the line and the key; no error shows the token.
func TestFromConfigFileErrors(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "no-such-token")
	for _, tt := range []struct {
		name, text string
		want       string // after the file's path
	}{
		{"bad token", fmt.Sprintf("[telegram]\ntoken = \"bot%s\"\nchat_id = 42\n", tgToken), `:2: telegram.token: the token must not start with "bot"`},
		{"missing token file", fmt.Sprintf("[telegram]\ntoken_file = %q\nchat_id = 42\n", missing), ":2: telegram.token_file: open " + missing},
		{"bad URL", fmt.Sprintf("[telegram]\ntoken = %q\nchat_id = 42\napi_url = \"api.telegram.org\"\n", tgToken),
			`:4: telegram.api_url: "api.telegram.org" is not an http or https URL`},
		{"URL with token", fmt.Sprintf("[telegram]\ntoken = %q\nchat_id = 42\napi_url = \"https://api.telegram.org/bot%s\"\n", tgToken, tgToken),
			":4: telegram.api_url: give the base URL only"},
		{"chat without token", "[telegram]\nchat_id = 42\n", ":2: telegram.chat_id is set but there is no bot token"},
		{"destinations without token", "[[notify.telegram]]\nchat_id = 42\n", ":1: notify.telegram is set but there is no bot token"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := loadConfig(t, tt.text)
			n, err := notifier.FromConfig(cfg, envOf(nil), &strings.Builder{}, "")
			if err == nil || !strings.Contains(err.Error(), cfg.File+tt.want) {
				t.Fatalf("FromConfig = %v, %v; want an error containing %q", n, err, cfg.File+tt.want)
			}
			assertNoToken(t, err)
		})
	}

	// With a token, a chat is needed: a default chat, or default destinations.
	cfg := loadConfig(t, fmt.Sprintf("[telegram]\ntoken = %q\n", tgToken))
	_, err := notifier.FromConfig(cfg, envOf(nil), &strings.Builder{}, "")
	if err == nil || !strings.Contains(err.Error(), notifier.EnvChatID) || !strings.Contains(err.Error(), "[[notify.telegram]]") {
		t.Errorf("FromConfig with a token only = %v, want an error that tells both ways to name a chat", err)
	}
	assertNoToken(t, err)
}
