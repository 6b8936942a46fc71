package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/supervise/supervise/internal/testkit"
	"github.com/supervise/supervise/notifier/telegramtest"
)

// These tests run the real program in-process, through realMain(), with real jobs.

const (
	tgToken = "123456:AAH-secret_token_do_not_print"
	tgChat  = 4242
)

// syncBuffer is output a test reads while it is written.
type syncBuffer = testkit.Buffer

// supervise runs the program with args and returns its exit status and output.
func supervise(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr syncBuffer
	status := realMain(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
	return status, stdout.String(), stderr.String()
}

// botKeys are the variables that would give supervise a Telegram bot, or a config
// file that does.
var botKeys = []string{"SUPERVISE_TELEGRAM_TOKEN", "SUPERVISE_TELEGRAM_TOKEN_FILE", "SUPERVISE_TELEGRAM_CHAT_ID", "SUPERVISE_TELEGRAM_API_URL",
	"SUPERVISE_TELEGRAM_TIMEOUT", "SUPERVISE_CONFIG"}

// noTelegram makes sure no bot is configured, so notifications go to stderr.
func noTelegram(t *testing.T) {
	t.Setenv("SUPERVISE_STATE_DIR", t.TempDir()) // and no state outside the test
	for _, k := range botKeys {
		t.Setenv(k, "")
	}
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRunJobFileFails(t *testing.T) {
	noTelegram(t)
	job := writeFile(t, t.TempDir(), "backup.toml", `command = "echo copying; echo 'error: disk full' >&2; exit 3"`)
	status, stdout, stderr := supervise(t, "run", job)
	if status != 3 {
		t.Errorf("status %d, want the job's 3", status)
	}
	if stdout != "copying\nerror: disk full\n" {
		t.Errorf("stdout %q, want the job's output", stdout)
	}
	for _, want := range []string{"supervise: notification (no Telegram bot configured):", "backup failed", "exit status 3", "error: disk full"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestRunExitStatus(t *testing.T) {
	noTelegram(t)
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"run", "--", "true"}, 0},
		{[]string{"run", "--", "sh", "-c", "exit 4"}, 4},
		{[]string{"run", "--no-pty", "--", "sh", "-c", "exit 4"}, 4},
		{[]string{"run", "--", "sh", "-c", "kill -9 $$"}, 137},
		{[]string{"run", "--timeout", "200ms", "--", "sleep", "10"}, 124},
		{[]string{"run", "--", "/nonexistent/program"}, 127},
	} {
		status, _, stderr := supervise(t, tc.args...)
		if status != tc.want {
			t.Errorf("%v: status %d, want %d; stderr:\n%s", tc.args, status, tc.want, stderr)
		}
	}
}

func TestRunSuccessIsQuiet(t *testing.T) {
	noTelegram(t)
	status, stdout, stderr := supervise(t, "run", "--", "echo", "hi")
	if status != 0 || stdout != "hi\n" || stderr != "" {
		t.Errorf("status %d stdout %q stderr %q; want 0, the output, and nothing on stderr", status, stdout, stderr)
	}
	status, _, stderr = supervise(t, "run", "--notify-on", "success", "--name", "greet", "--", "echo", "hi")
	if status != 0 || !strings.Contains(stderr, "greet succeeded") {
		t.Errorf("with --notify-on success: status %d stderr %q", status, stderr)
	}
}

// A usage or configuration error exits 2, says what is wrong, and runs nothing.
func TestRunUsageErrors(t *testing.T) {
	noTelegram(t)
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	bad := writeFile(t, dir, "bad.toml", fmt.Sprintf("command = \"touch %s\"\ntimeout = 5\n", marker))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run"}, "no job given"},
		{[]string{"run", "touch", marker}, "put -- before a command"},
		{[]string{"run", bad}, "bad.toml:2: timeout: 5 has no unit"},
		{[]string{"run", filepath.Join(dir, "missing.toml")}, "no such file"},
		{[]string{"run", "--timeout", "5", "--", "touch", marker}, `--timeout: "5" has no unit`},
		{[]string{"run", "--notify-on", "failure,sucess", "--", "touch", marker}, `unknown event "sucess"`},
		{[]string{"run", "--bogus", "--", "touch", marker}, "flag provided but not defined"},
		{[]string{"run", "--name", "a b", "--", "touch", marker}, "not a valid job name"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"run", bad, "--timeout", "5s"}, "flags go before the job file"},
		{[]string{"run", "--tail", "0", "--", "touch", marker}, "--tail: 0 is out of range"},
		{[]string{"run", "--heartbeat", "5", "--", "touch", marker}, `--heartbeat: "5" has no unit`},
		{nil, "usage:"},
	} {
		status, _, stderr := supervise(t, tc.args...)
		if status != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: status %d, stderr %q; want 2 and %q", tc.args, status, stderr, tc.want)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("a job ran despite a usage error")
	}
}

// SIGTERM sent to supervise reaches the job, and supervise exits with its status.
func TestRunForwardsSIGTERM(t *testing.T) {
	noTelegram(t)
	var stdout, stderr syncBuffer
	done := make(chan int)
	go func() {
		done <- realMain(context.Background(), []string{"run", "--", "sh", "-c", `trap 'echo got TERM; exit 7' TERM; echo ready; sleep 30 & wait`},
			nil, &stdout, &stderr)
	}()
	testkit.Eventually(t, "the job is ready", func() bool { return strings.Contains(stdout.String(), "ready") })
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	if status := <-done; status != 7 || !strings.Contains(stdout.String(), "got TERM") {
		t.Errorf("status %d stdout %q; want 7 after the job's trap ran", status, stdout.String())
	}
}

// telegram points supervise at a fake Bot API that knows tgChat.
func telegram(t *testing.T) *telegramtest.Server {
	srv := telegramtest.NewServer(tgToken, tgChat)
	t.Cleanup(srv.Close)
	noTelegram(t)
	t.Setenv("SUPERVISE_TELEGRAM_TOKEN", tgToken)
	t.Setenv("SUPERVISE_TELEGRAM_CHAT_ID", fmt.Sprint(tgChat))
	t.Setenv("SUPERVISE_TELEGRAM_API_URL", srv.URL())
	return srv
}

// botEnv is what telegram sets, for a process of its own (after quiet).
func botEnv(srv *telegramtest.Server) []string {
	return []string{"SUPERVISE_TELEGRAM_TOKEN=" + tgToken, fmt.Sprint("SUPERVISE_TELEGRAM_CHAT_ID=", tgChat), "SUPERVISE_TELEGRAM_API_URL=" + srv.URL()}
}

// Hostile output arrives on Telegram as one valid message that ends with the last line.
func TestRunTelegramMessage(t *testing.T) {
	srv := telegram(t)
	script := `
printf '<b>bold?</b> & <script>alert(1)</script>\n'
printf '\033[31mred error\033[0m\n'
printf 'progress 10%%\rprogress 50%%\rprogress 100%%\n'
head -c 20000 /dev/zero | tr '\0' 'y'; echo
i=0; while [ $i -lt 3000 ]; do echo "line $i"; i=$((i+1)); done
echo 'Traceback: the real error <here> & now'
exit 1`
	job := writeFile(t, t.TempDir(), "hostile.toml", "command = '''"+script+"'''\n[notify]\ntail = 5000\n")
	status, _, stderr := supervise(t, "run", job)
	if status != 1 {
		t.Errorf("status %d, want 1", status)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("Telegram got %d messages, want 1; stderr:\n%s", len(msgs), stderr)
	}
	text := msgs[0].Text
	if err := telegramtest.ValidateHTML(text); err != nil {
		t.Errorf("message is not valid Telegram HTML: %v", err)
	}
	if !strings.HasSuffix(text, "Traceback: the real error &lt;here&gt; &amp; now</pre>") {
		t.Errorf("message does not end with the last line: ...%q", text[max(0, len(text)-120):])
	}
	if !strings.Contains(text, "hostile failed") || !strings.Contains(text, "earlier lines") {
		t.Errorf("message lacks the headline or the count of lines left out:\n%s", text)
	}
	if msgs[0].ParseMode != "HTML" || msgs[0].ChatID != tgChat {
		t.Errorf("sent with parse mode %q to chat %d", msgs[0].ParseMode, msgs[0].ChatID)
	}
	if stderr != "" {
		t.Errorf("stderr %q, want nothing when Telegram took the message", stderr)
	}
}

// When Telegram refuses, the alert is written to stderr instead, the job's status
// is kept, and the token is nowhere.
func TestRunTelegramRefusesWithoutLeakingToken(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(*testing.T, *telegramtest.Server)
		want  string
	}{
		{"unknown chat", func(t *testing.T, _ *telegramtest.Server) { t.Setenv("SUPERVISE_TELEGRAM_CHAT_ID", "777") }, "chat not found"},
		{"bad token", func(t *testing.T, _ *telegramtest.Server) {
			t.Setenv("SUPERVISE_TELEGRAM_TOKEN", "999:wrong_token_also_secret")
		}, "Unauthorized"},
		{"bot blocked", func(t *testing.T, srv *telegramtest.Server) {
			srv.Fail(telegramtest.Fault{Status: 403, Description: "Forbidden: bot was blocked by the user"})
		}, "Forbidden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := telegram(t)
			tc.setup(t, srv)
			status, stdout, stderr := supervise(t, "run", "--name", "nightly", "--", "sh", "-c", "echo the error; exit 5")
			if status != 5 {
				t.Errorf("status %d, want the job's 5", status)
			}
			if !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, "nightly failed") || !strings.Contains(stderr, "the error") {
				t.Errorf("stderr lacks %q, the headline or the output:\n%s", tc.want, stderr)
			}
			for _, secret := range []string{tgToken, "wrong_token_also_secret", "AAH-secret"} {
				if strings.Contains(stderr+stdout, secret) {
					t.Errorf("output shows the token:\n%s", stderr)
				}
			}
		})
	}
}

func TestCheck(t *testing.T) {
	noTelegram(t)
	dir := t.TempDir()
	writeFile(t, dir, "good.toml", `command = ["true"]`)
	writeFile(t, dir, "bad.toml", "command = \"true\"\nstop_signal = \"TREM\"\n[notify]\ntail = -1\n")
	status, stdout, stderr := supervise(t, "check", dir)
	if status != 2 {
		t.Errorf("status %d, want 2", status)
	}
	if !strings.Contains(stdout, "good.toml: ok") {
		t.Errorf("stdout %q, want good.toml reported ok", stdout)
	}
	for _, want := range []string{"bad.toml:2: stop_signal: unknown signal", "bad.toml:4: notify.tail: -1 is out of range"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if status, _, _ := supervise(t, "check", filepath.Join(dir, "good.toml")); status != 0 {
		t.Errorf("check of a good file: status %d", status)
	}
}

// Every job file the project ships is valid.
func TestShippedJobsAreValid(t *testing.T) {
	noTelegram(t)
	status, _, stderr := supervise(t, "check", "../../jobs.d", "../../examples")
	if status != 0 {
		t.Errorf("status %d:\n%s", status, stderr)
	}
}

// No job inherits the token, and a job that prints it anyway does not post it.
func TestTokenNotInJobOrMessage(t *testing.T) {
	srv := telegram(t)
	status, stdout, stderr := supervise(t, "run", "--name", "leaky", "--", "sh", "-c", "env; exit 1")
	if status != 1 || strings.Contains(stdout, tgToken) || strings.Contains(stdout, "SUPERVISE_TELEGRAM_TOKEN=") {
		t.Errorf("status %d; the job's environment shows the token:\n%s", status, stdout)
	}
	if !strings.Contains(stdout, "SUPERVISE_JOB=leaky") {
		t.Errorf("the job's environment lacks SUPERVISE_JOB:\n%s", stdout)
	}

	file := writeFile(t, t.TempDir(), "token", tgToken+"\n")
	t.Setenv("SUPERVISE_TELEGRAM_TOKEN", "")
	t.Setenv("SUPERVISE_TELEGRAM_TOKEN_FILE", file)
	supervise(t, "run", "--name", "printer", "--", "sh", "-c", `echo "token is $(cat $SUPERVISE_TELEGRAM_TOKEN_FILE)"; exit 1`)

	// A token in the config file, which a job can read as well.
	config := writeFile(t, t.TempDir(), "config.toml", fmt.Sprintf("[telegram]\ntoken = %q\n", tgToken))
	if err := os.Chmod(config, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SUPERVISE_TELEGRAM_TOKEN_FILE", "")
	t.Setenv("SUPERVISE_CONFIG", config)
	supervise(t, "run", "--name", "reader", "--", "sh", "-c", `grep token "$SUPERVISE_CONFIG"; exit 1`)
	msgs := srv.Messages()
	if len(msgs) != 3 {
		t.Fatalf("got %d messages, want 3; stderr %s", len(msgs), stderr)
	}
	for _, m := range msgs {
		if strings.Contains(m.Text, tgToken) || strings.Contains(m.Text, "AAH-secret") {
			t.Errorf("message shows the token:\n%s", m.Text)
		}
	}
	if !strings.Contains(msgs[1].Text, "token is &lt;redacted&gt;") || !strings.Contains(msgs[2].Text, `token = "&lt;redacted&gt;"`) {
		t.Errorf("messages do not show the redacted lines:\n%s\n%s", msgs[1].Text, msgs[2].Text)
	}
}
