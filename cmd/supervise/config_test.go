package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/supervise/supervise/notifier/telegramtest"
)

// useConfig writes text to a global config file (mode perm) and points
// SUPERVISE_CONFIG at it, with nothing configured in the environment.
func useConfig(t *testing.T, text string, perm os.FileMode) string {
	t.Helper()
	noTelegram(t)
	path := writeFile(t, t.TempDir(), "config.toml", text)
	if err := os.Chmod(path, perm); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SUPERVISE_CONFIG", path)
	return path
}

// supervise check reports every problem of the global config file, with its line
// and key, besides the job files'; the token is not among them.
func TestCheckConfig(t *testing.T) {
	jobs := t.TempDir()
	writeFile(t, jobs, "good.toml", `command = ["true"]`)

	path := useConfig(t, "[telegram]\nchat_id = \"my group\"\ncolour = \"red\"\ntoken = \""+tgToken+"\"\n", 0o644)
	status, stdout, stderr := supervise(t, "check", jobs)
	if status != 2 || !strings.Contains(stdout, "good.toml: ok") {
		t.Errorf("status %d, stdout %q; want 2 and the job still checked", status, stdout)
	}
	for _, want := range []string{
		path + `:2: telegram.chat_id: "my group" is neither a chat number nor an @channel name`,
		path + ":3: telegram.colour: unknown key",
		path + ":4: telegram.token: group or others may read this file (-rw-r--r--), which holds the bot token: chmod 600 " + path,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stdout+stderr, "AAH-secret") {
		t.Errorf("output shows the token:\n%s%s", stdout, stderr)
	}

	// Settings that are wrong only together: a token and no chat.
	path = useConfig(t, "[telegram]\ntoken = \""+tgToken+"\"\n", 0o600)
	status, _, stderr = supervise(t, "check", jobs)
	if status != 2 || !strings.Contains(stderr, "a bot token is set ("+path+":2: telegram.token) but no chat to notify") ||
		!strings.Contains(stderr, "chat_id under [telegram] in "+path) || strings.Contains(stderr, "AAH-secret") {
		t.Errorf("token without a chat: status %d, stderr %q; want 2, the reason naming the config file and no token", status, stderr)
	}

	path = useConfig(t, "[telegram]\ntoken = \""+tgToken+"\"\n[[notify.telegram]]\nchat_id = -100555\n", 0o600)
	status, stdout, stderr = supervise(t, "check", jobs)
	if status != 0 || !strings.Contains(stdout, path+": ok: config") {
		t.Errorf("a good config: status %d, stdout %q, stderr %q", status, stdout, stderr)
	}
}

// A config file named by SUPERVISE_CONFIG must be there; the default one need not.
// run runs its job all the same (jobsproblems_test.go).
func TestConfigMissing(t *testing.T) {
	noTelegram(t)
	missing := filepath.Join(t.TempDir(), "config.toml")
	t.Setenv("SUPERVISE_CONFIG", missing)
	for _, args := range [][]string{{"check", "../../jobs.d"}, {"notify", "hello"}} {
		status, _, stderr := supervise(t, args...)
		if status != 2 || !strings.Contains(stderr, "SUPERVISE_CONFIG: open "+missing) {
			t.Errorf("%q: status %d, stderr %q; want 2 and the missing file", args, status, stderr)
		}
	}
	t.Setenv("SUPERVISE_CONFIG", "")
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	if status, _, stderr := supervise(t, "run", "--", "true"); status != 0 {
		t.Errorf("without a config file: status %d: %s", status, stderr)
	}
}

// The bot and its chat in the config file alone (found in XDG_CONFIG_HOME): notify
// --test reaches the chat, a run's alert too, and the token shows nowhere.
func TestNotifyFromConfigFile(t *testing.T) {
	srv := telegramtest.NewServer(tgToken, tgChat, -100555)
	t.Cleanup(srv.Close)
	noTelegram(t)
	home := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", home)
	if err := os.Mkdir(filepath.Join(home, "supervise"), 0o700); err != nil {
		t.Fatal(err)
	}
	config := func(text string) {
		path := filepath.Join(home, "supervise", "config.toml")
		if err := os.WriteFile(path, []byte(fmt.Sprintf("[telegram]\napi_url = %q\n", srv.URL())+text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	config(fmt.Sprintf("token = %q\nchat_id = %d\n", tgToken, tgChat))
	status, stdout, stderr := supervise(t, "notify", "--test")
	if status != 0 || stdout != fmt.Sprintf("sent: chat %d got the test message\n", tgChat) {
		t.Fatalf("--test: status %d, stdout %q, stderr %s", status, stdout, stderr)
	}
	if status, _, stderr := supervise(t, "run", "--name", "nightly", "--", "sh", "-c", "echo token is $SUPERVISE_TELEGRAM_TOKEN; exit 3"); status != 3 {
		t.Fatalf("run: status %d: %s", status, stderr)
	}

	// Default destinations instead of a chat: a topic, silently.
	config(fmt.Sprintf("token = %q\n[[notify.telegram]]\nchat_id = -100555\nthread_id = 7\nsilent = true\n", tgToken))
	status, stdout, stderr = supervise(t, "notify", "--test")
	if status != 0 || stdout != "sent: chats -100555 (topic 7) got the test message\n" {
		t.Fatalf("--test to destinations: status %d, stdout %q, stderr %s", status, stdout, stderr)
	}
	msgs := srv.Messages()
	if len(msgs) != 3 || msgs[0].ChatID != tgChat || !strings.Contains(msgs[1].Text, "nightly failed") || msgs[1].ChatID != tgChat ||
		msgs[2].ChatID != -100555 || msgs[2].ThreadID != 7 || !msgs[2].DisableNotification {
		t.Errorf("messages %+v; want the test and the alert in chat %d, then the test silently in topic 7 of -100555", msgs, tgChat)
	}

	// A token Telegram does not take: the reason, and still no token.
	config("token = \"999:wrong_token_also_secret\"\nchat_id = 4242\n")
	status, stdout, stderr = supervise(t, "notify", "--test")
	if status != 1 || !strings.Contains(stderr, "Unauthorized") {
		t.Errorf("--test with a wrong token: status %d, stderr %s; want 1 and the reason", status, stderr)
	}
	for _, m := range srv.Messages() {
		stdout += m.Text
	}
	for _, secret := range []string{"AAH-secret", "wrong_token_also_secret"} {
		if strings.Contains(stdout+stderr, secret) {
			t.Errorf("the token shows in the output or a message:\n%s%s", stdout, stderr)
		}
	}
}

// supervise telegram chats takes the bot from the config file, and says where the
// token is that Telegram refuses.
func TestTelegramChatsFromConfigFile(t *testing.T) {
	srv := telegramtest.NewServer(tgToken)
	t.Cleanup(srv.Close)
	srv.AddUpdate(message(aliceChat, nil))
	useConfig(t, fmt.Sprintf("[telegram]\ntoken = %q\napi_url = %q\n", tgToken, srv.URL()), 0o600)
	status, stdout, stderr := supervise(t, "telegram", "chats")
	if status != 0 || !strings.Contains(stdout, "123456789") {
		t.Errorf("status %d, stdout %q, stderr %q; want alice's chat", status, stdout, stderr)
	}

	path := useConfig(t, fmt.Sprintf("[telegram]\ntoken = \"999:wrong_token_also_secret\"\napi_url = %q\n", srv.URL()), 0o600)
	status, stdout, stderr = supervise(t, "telegram", "chats")
	if want := "does not accept the bot token in " + path + ":2: telegram.token"; status != 1 || !strings.Contains(stderr, want) {
		t.Errorf("status %d, stderr %q; want 1 and %q", status, stderr, want)
	}
	if strings.Contains(stdout+stderr, "wrong_token_also_secret") {
		t.Errorf("output shows the token:\n%s%s", stdout, stderr)
	}
}
