package notifier_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/supervise/supervise/notifier"
	"github.com/supervise/supervise/notifier/telegramtest"
)

// envOf returns a getenv that looks names up in vars.
func envOf(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

func TestFromEnvWithoutTokenIsConsole(t *testing.T) {
	var stderr strings.Builder
	n, err := notifier.FromEnv(envOf(nil), &stderr, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := n.(notifier.Console); !ok {
		t.Fatalf("FromEnv = %T, want notifier.Console", n)
	}
	if err := n.Notify(context.Background(), backupFailed); err != nil {
		t.Fatal(err)
	}
	if got := stderr.String(); !strings.Contains(got, notifier.Text(backupFailed)) {
		t.Errorf("stderr = %q, want the message", got)
	}
}

func TestFromEnvSendsToTelegram(t *testing.T) {
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
			n, err := notifier.FromEnv(envOf(tt.vars), &stderr, "")
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

func TestFromEnvWritesUndeliveredToStderr(t *testing.T) {
	srv := telegramtest.NewServer("1:another-bot", tgChat) // so our tgToken gets a 401
	defer srv.Close()
	var stderr strings.Builder
	n, err := notifier.FromEnv(envOf(map[string]string{
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

func TestFromEnvErrors(t *testing.T) {
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
			"SUPERVISE_TELEGRAM_CHAT_ID is not"},
		{"chat without token", map[string]string{notifier.EnvChatID: tgChatID},
			"SUPERVISE_TELEGRAM_CHAT_ID is set but there is no bot token"},
		{"bad chat", map[string]string{notifier.EnvToken: tgToken, notifier.EnvChatID: "my group"},
			`"my group" is neither a chat number nor an @channel name`},
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
			n, err := notifier.FromEnv(envOf(tt.vars), &strings.Builder{}, "")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("FromEnv = %v, %v; want an error containing %q", n, err, tt.want)
			}
			assertNoToken(t, err)
		})
	}
}

func TestFromEnvTokenFileErrorHidesContents(t *testing.T) {
	// A file holding a malformed token: the error names the variable, not the token.
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("bot"+tgToken), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := notifier.FromEnv(envOf(map[string]string{notifier.EnvTokenFile: file, notifier.EnvChatID: tgChatID}), &strings.Builder{}, "")
	if err == nil || !strings.Contains(err.Error(), notifier.EnvTokenFile) {
		t.Fatalf("FromEnv = %v, want an error naming %s", err, notifier.EnvTokenFile)
	}
	assertNoToken(t, err)
}
