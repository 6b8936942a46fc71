package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/supervise/supervise/internal/testkit"
	"github.com/supervise/supervise/notifier/telegramtest"
)

// No problem with how to notify keeps run from running its job: the job runs, its
// status is run's, the problem is said on stderr and the alert is written there in
// full; check still exits 2 for the same setting.
func TestRunRunsWhateverTheNotifier(t *testing.T) {
	dirAsFile := t.TempDir() // a token file that cannot be read: a folder
	for _, tc := range []struct {
		name    string
		env     map[string]string
		config  string // the config file's text, when there is one
		problem string // what stderr must say of the setting
	}{
		{"a chat and no token", map[string]string{"SUPERVISE_TELEGRAM_CHAT_ID": "42"}, "",
			"SUPERVISE_TELEGRAM_CHAT_ID is set but there is no bot token"},
		{"a token file that is not there", map[string]string{"SUPERVISE_TELEGRAM_TOKEN_FILE": "/nonexistent/token", "SUPERVISE_TELEGRAM_CHAT_ID": "42"}, "",
			"SUPERVISE_TELEGRAM_TOKEN_FILE: open /nonexistent/token: no such file or directory"},
		{"a token file that cannot be read", map[string]string{"SUPERVISE_TELEGRAM_TOKEN_FILE": dirAsFile, "SUPERVISE_TELEGRAM_CHAT_ID": "42"}, "",
			"SUPERVISE_TELEGRAM_TOKEN_FILE: read " + dirAsFile + ": is a directory"},
		{"a bad chat id in the environment", map[string]string{"SUPERVISE_TELEGRAM_TOKEN": tgToken, "SUPERVISE_TELEGRAM_CHAT_ID": "@nobody here"}, "",
			"SUPERVISE_TELEGRAM_CHAT_ID: "},
		{"a bad chat id in the config file", nil, fmt.Sprintf("[telegram]\ntoken = %q\nchat_id = \"twelve\"\n", tgToken),
			"config.toml:3: telegram.chat_id: "},
		{"a token and no chat", map[string]string{"SUPERVISE_TELEGRAM_TOKEN": tgToken}, "",
			"a bot token is set (SUPERVISE_TELEGRAM_TOKEN) but no chat to notify"},
		{"a config file that does not parse", nil, "[telegram\n", "config.toml:2: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			noTelegram(t)
			if tc.config != "" {
				useConfig(t, tc.config, 0o600)
			}
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			status, stdout, stderr := supervise(t, "run", "--name", "backup", "--", "sh", "-c", "echo copying; echo 'error: disk full'; exit 3")
			if status != 3 || !strings.Contains(stdout, "error: disk full") {
				t.Errorf("status %d, stdout %q: want the job run, and its status 3", status, stdout)
			}
			if !strings.Contains(stderr, tc.problem) || !strings.Contains(stderr, "the job runs; its messages go to stderr, in full, until that is fixed") {
				t.Errorf("stderr does not say %q, and where messages go:\n%s", tc.problem, stderr)
			}
			if !strings.Contains(stderr, "supervise: notification (Telegram settings broken: `supervise check` says how):") ||
				!strings.Contains(stderr, "backup failed") || !strings.Contains(stderr, "| error: disk full") {
				t.Errorf("stderr lacks the alert in full:\n%s", stderr)
			}
			if strings.Contains(stdout+stderr, tgToken) {
				t.Errorf("the token is in the output:\n%s%s", stdout, stderr)
			}
			for k, v := range tc.env { // run took the token out of its environment
				t.Setenv(k, v)
			}
			if status, _, errs := supervise(t, "check", "../../jobs.d"); status != 2 || !strings.Contains(errs, tc.problem) {
				t.Errorf("check: status %d, stderr %q; want 2 and %q", status, errs, tc.problem)
			}
		})
	}
}

// A config file that does not load is left out, and the bot and chat of the
// environment still get the alert.
func TestRunBrokenConfigFileFallsBackToEnvironment(t *testing.T) {
	srv := telegram(t)
	useConfigKeepingEnv(t, "[telegram]\nchat_id = oops\n")
	status, _, stderr := supervise(t, "run", "--name", "backup", "--", "sh", "-c", "echo 'error: disk full'; exit 3")
	if status != 3 || !strings.Contains(stderr, "config.toml:2: ") || !strings.Contains(stderr, "its messages go to the chat the environment names") {
		t.Errorf("status %d, stderr %q: want 3 and the config file's problem", status, stderr)
	}
	testkit.Eventually(t, "the alert in the chat", func() bool {
		ms := srv.Messages()
		return len(ms) == 1 && strings.Contains(ms[0].Text, "backup failed") && strings.Contains(ms[0].Text, "error: disk full")
	})
}

// useConfigKeepingEnv is useConfig that leaves the environment's bot settings alone.
func useConfigKeepingEnv(t *testing.T, text string) {
	t.Helper()
	t.Setenv("SUPERVISE_CONFIG", writeFile(t, t.TempDir(), "config.toml", text))
}

// A job file that does not load: run runs nothing and exits 2, and the chat is told,
// with the file, the line and the key; once the file is fixed, the next run ends that
// incident.
func TestRunBrokenJobFileTellsTheChat(t *testing.T) {
	srv := telegram(t)
	marker := filepath.Join(t.TempDir(), "ran")
	job := writeFile(t, t.TempDir(), "backup.toml", fmt.Sprintf("command = \"touch %s\"\nschedle = \"@daily\"\n", marker))
	status, _, stderr := supervise(t, "run", job)
	if status != 2 || !strings.Contains(stderr, job+":2: schedle: unknown key") {
		t.Fatalf("status %d, stderr %q: want 2 and the file, line and key", status, stderr)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the job of a broken file ran")
	}
	ms := srv.Messages()
	if len(ms) != 1 || !strings.Contains(ms[0].Text, job) || !strings.Contains(ms[0].Text, job+":2: schedle: unknown key") || !strings.Contains(ms[0].Text, "not run") {
		t.Fatalf("the chat got %+v; want one message naming the file, the line and the key", ms)
	}
	writeFile(t, filepath.Dir(job), "backup.toml", fmt.Sprintf("command = \"touch %s\"\nschedule = \"@daily\"\n", marker))
	if status, _, stderr := supervise(t, "run", job); status != 0 {
		t.Fatalf("the fixed file: status %d, stderr %s", status, stderr)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Error("the job of the fixed file did not run")
	}
	post, ok := srv.Message(tgChat, ms[0].ID)
	if !ok || !strings.Contains(post.Text, "resolved") {
		t.Errorf("the incident's post is %q; want it resolved once the file loads", post.Text)
	}
}

// up says on stderr why each job file it does not load is not, with the file, the
// line and the key, even when the chat is told too; the others run.
func TestUpSaysWhyAFileIsNotLoaded(t *testing.T) {
	srv := telegramtest.NewServer(tgToken, tgChat)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	writeFile(t, dir, "web.toml", `command = "echo web is up; exec sleep 100"`)
	a := writeFile(t, dir, "a.toml", "command = \"true\"\ntimeout = 5\n")
	b := writeFile(t, dir, "b.toml", "command = \"true\"\n[notify]\nonn = [\"failure\"]\n")
	_, stdout, stderr := startBotUp(t, srv, dir)
	waitOutput(t, stdout, "web | web is up")
	waitOutput(t, stderr, a+":2: timeout: 5 has no unit")
	waitOutput(t, stderr, b+":3: notify.onn: unknown key")
	testkit.Eventually(t, "both files named in the chat", func() bool {
		var all string
		for _, m := range srv.Messages() {
			all += m.Text
		}
		return strings.Contains(all, a+":2: timeout") && strings.Contains(all, b+":3: notify.onn")
	})
}
