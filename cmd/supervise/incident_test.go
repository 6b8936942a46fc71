package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/supervise/supervise/internal/testkit"
	"github.com/supervise/supervise/notifier/telegramtest"
)

// A job that exits 1 at once, under default settings: its chat gets one message,
// edited to say it crash-loops with a count and its error line. Fixed by a reload, it
// gets exactly one more, a reply to the first, which then says it is resolved.
func TestCrashLoopUnderUpIsOneIncident(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	writeFile(t, dir, "web.toml", `command = "echo 'Error: cannot bind :80' >&2; exit 1"`)
	cmd, _, stderr := startBotUp(t, srv, dir)
	testkit.EventuallyWithin(t, 20*time.Second, "the message edited to say web crash-loops, quoting its error", func() bool {
		msgs := srv.Messages()
		if len(msgs) == 0 {
			return false
		}
		m, _ := srv.Message(tgChat, msgs[0].ID)
		return strings.Contains(m.Text, "web is crash-looping") && strings.Contains(m.Text, "Error: cannot bind :80")
	})
	if n := len(srv.Messages()); n != 1 {
		t.Fatalf("%d messages for one crash loop, want 1:\n%+v", n, srv.Messages())
	}
	first := srv.Messages()[0]
	writeFile(t, dir, "web.toml", "command = \"echo fixed; exec sleep 100\"\nhealthy_after = \"500ms\"\n")
	cmd.Process.Signal(syscall.SIGHUP)
	testkit.EventuallyWithin(t, 20*time.Second, "a reply to the incident's message", func() bool { return len(srv.Messages()) >= 2 })
	msgs := srv.Messages()
	if len(msgs) != 2 || msgs[1].ReplyTo != first.ID || !strings.Contains(msgs[1].Text, "web recovered") {
		t.Fatalf("messages %+v, want the incident's and a recovery replying to it\n%s", msgs, stderr.String())
	}
	testkit.Eventually(t, "the incident's message edited to say it is resolved", func() bool {
		m, _ := srv.Message(tgChat, first.ID)
		return strings.HasPrefix(m.Text, "<b>✅ web resolved")
	})
}

// An incident outlasts up: up restarted with the job fixed, the recovery replies to
// the message the first up sent, and edits it to say it is resolved.
func TestIncidentOutlastsUp(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	t.Cleanup(srv.Close)
	dir, state := t.TempDir(), t.TempDir()
	writeFile(t, dir, "web.toml", `command = "echo 'Error: cannot bind :80' >&2; exit 1"`)
	first, _, _ := startBotUp(t, srv, dir, "--state", state)
	testkit.EventuallyWithin(t, 20*time.Second, "the message edited to say web crash-loops", func() bool {
		msgs := srv.Messages()
		if len(msgs) == 0 {
			return false
		}
		m, _ := srv.Message(tgChat, msgs[0].ID)
		return strings.Contains(m.Text, "web is crash-looping")
	})
	first.Process.Signal(syscall.SIGTERM)
	first.Wait()
	incident := srv.Messages()[0]

	writeFile(t, dir, "web.toml", "command = \"echo fixed; exec sleep 100\"\nhealthy_after = \"500ms\"\n")
	_, _, stderr := startBotUp(t, srv, dir, "--state", state)
	testkit.EventuallyWithin(t, 20*time.Second, "a reply to the first up's message", func() bool { return len(srv.Messages()) >= 2 })
	msgs := srv.Messages()
	if len(msgs) != 2 || msgs[1].ReplyTo != incident.ID || !strings.Contains(msgs[1].Text, "web recovered") {
		t.Fatalf("messages %+v, want the incident's and a recovery replying to it\n%s", msgs, stderr.String())
	}
	testkit.Eventually(t, "the first up's message edited to say it is resolved", func() bool {
		m, _ := srv.Message(tgChat, incident.ID)
		return strings.HasPrefix(m.Text, "<b>✅ web resolved")
	})
}

// Under run, one run is one message: a stalled run's heartbeat message is edited
// when the run then fails. A later run that succeeds replies to it, and it then says
// it is resolved.
func TestRunStalledThenFailedIsOneMessage(t *testing.T) {
	srv := telegram(t)
	state, gate := t.TempDir(), filepath.Join(t.TempDir(), "gate")
	script := `while [ ! -e ` + gate + ` ]; do sleep 0.05; done; echo 'Error: disk full' >&2; exit 1`
	done := make(chan int)
	go func() {
		status, _, _ := supervise(t, "run", "--state", state, "--name", "backup", "--heartbeat", "500ms", "--", "sh", "-c", script)
		done <- status
	}()
	testkit.Eventually(t, "the stalled run's heartbeat message", func() bool { return len(srv.Messages()) == 1 })
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if status := <-done; status != 1 {
		t.Fatalf("run exited %d, want the job's 1", status)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages for one run, want 1: %+v", len(msgs), msgs)
	}
	m, _ := srv.Message(tgChat, msgs[0].ID)
	if !strings.Contains(m.Text, "backup failed") || !strings.Contains(m.Text, "Error: disk full") {
		t.Errorf("the run's message reads %q, want it edited to say the run failed, with its error", m.Text)
	}

	t.Setenv("SUPERVISE_TELEGRAM_TOKEN", tgToken) // run took it out of the environment, as its job must not see it
	if status, _, stderr := supervise(t, "run", "--state", state, "--name", "backup", "--heartbeat", "500ms", "--", "true"); status != 0 {
		t.Fatalf("the second run exited %d: %s", status, stderr)
	}
	msgs = srv.Messages()
	if len(msgs) != 2 || msgs[1].ReplyTo != msgs[0].ID || !strings.Contains(msgs[1].Text, "backup recovered") {
		t.Fatalf("messages %+v, want the failure and a recovery replying to it", msgs)
	}
	if m, _ := srv.Message(tgChat, msgs[0].ID); !strings.HasPrefix(m.Text, "<b>✅ backup resolved") {
		t.Errorf("the failure's message reads %q, want it resolved", m.Text)
	}
}

// A storm under up: 20 jobs that fail at once and keep failing, with Telegram taking
// one message a second. The chat gets at most 5 messages, which name every job with
// its error line, and no request is answered 429.
func TestStormUnderUp(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	t.Cleanup(srv.Close)
	srv.Limit(time.Second)
	dir := t.TempDir()
	for i := range 20 {
		writeFile(t, dir, fmt.Sprintf("job%02d.toml", i), fmt.Sprintf(`command = "echo 'Error: job%02d cannot reach the database' >&2; exit 1"`, i))
	}
	_, _, stderr := startBotUp(t, srv, dir)
	testkit.EventuallyWithin(t, 20*time.Second, "every job named with its error line, crash-looping", func() bool {
		var all strings.Builder
		for _, m := range srv.Messages() {
			cur, _ := srv.Message(tgChat, m.ID)
			all.WriteString(cur.Text)
		}
		for i := range 20 {
			if !strings.Contains(all.String(), fmt.Sprintf("job%02d cannot reach the database", i)) {
				return false
			}
		}
		return strings.Count(all.String(), "crash-looping") >= 20
	})
	msgs := srv.Messages()
	edits := 0
	for _, m := range msgs {
		cur, _ := srv.Message(tgChat, m.ID)
		edits += cur.Edits
	}
	t.Logf("%d messages, %d edits, %d requests", len(msgs), edits, srv.Requests())
	if len(msgs) > 5 {
		t.Errorf("%d messages, want at most 5", len(msgs))
	}
	if n := srv.Throttled(); n != 0 {
		t.Errorf("%d requests answered 429\n%s", n, stderr.String())
	}
}

// The crontab example works under cron's own environment: PATH=/usr/bin:/bin, SHELL,
// HOME and the variables the crontab sets (and, for the test, where its state, config
// and Bot API are). Its backup line, with supervise where the README installs it (here:
// this test binary) and a backup script that is not there, sends the alert.
func TestCrontabExampleUnderCron(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../examples/crontab")
	if err != nil {
		t.Fatal(err)
	}
	const chat = 123456789 // the crontab's
	srv := telegramtest.NewServer(tgToken, chat)
	t.Cleanup(srv.Close)
	tokenFile := filepath.Join(t.TempDir(), "telegram-token")
	if err := os.WriteFile(tokenFile, []byte(tgToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=/usr/bin:/bin", "SHELL=/bin/sh", "HOME=" + t.TempDir(), "SUPERVISE_TEST_AS_MAIN=1",
		"SUPERVISE_STATE_DIR=" + t.TempDir(), "SUPERVISE_TELEGRAM_API_URL=" + srv.URL(), "XDG_CONFIG_HOME=" + t.TempDir()}
	var line string
	for l := range strings.SplitSeq(string(data), "\n") {
		switch {
		case strings.HasPrefix(l, "SUPERVISE_TELEGRAM_TOKEN_FILE="):
			env = append(env, "SUPERVISE_TELEGRAM_TOKEN_FILE="+tokenFile)
		case strings.HasPrefix(l, "SUPERVISE_"):
			env = append(env, l)
		case strings.Contains(l, "--name backup"):
			line = l
		}
	}
	// The five time fields go; the rest is the command cron gives /bin/sh.
	fields := strings.Fields(line)
	if len(fields) < 6 || fields[5] != "/usr/local/bin/supervise" {
		t.Fatalf("the backup line %q does not run /usr/local/bin/supervise by its absolute path", line)
	}
	command := strings.Replace(strings.Join(fields[5:], " "), "/usr/local/bin/supervise", os.Args[0], 1)
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 127 {
		t.Fatalf("the line exited %v, want 127 (backup.sh is not there):\n%s", err, out)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || msgs[0].ChatID != chat || !strings.Contains(msgs[0].Text, "backup failed") {
		t.Fatalf("messages %+v, want one alert that backup failed, in the crontab's chat\n%s", msgs, out)
	}
}
