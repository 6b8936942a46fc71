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

// supervise notify sends a message about a job; --test says whether the chat got one.
func TestNotify(t *testing.T) {
	srv := telegram(t)
	if status, _, stderr := supervise(t, "notify", "--job", "restore", "3 files checked: <ok> & done"); status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	status, stdout, stderr := supervise(t, "notify", "--test")
	if status != 0 || !strings.Contains(stdout, "got the test message") {
		t.Fatalf("--test: status %d, stdout %q, stderr %s", status, stdout, stderr)
	}
	msgs := srv.Messages()
	if len(msgs) != 2 || !strings.HasPrefix(msgs[0].Text, "<b>💬 restore on ") || !strings.HasSuffix(msgs[0].Text, "\n3 files checked: &lt;ok&gt; &amp; done") {
		t.Errorf("messages %+v", msgs)
	}
	for _, m := range msgs {
		if err := telegramtest.ValidateHTML(m.Text); err != nil {
			t.Errorf("invalid HTML %q: %v", m.Text, err)
		}
	}
	t.Setenv("SUPERVISE_TELEGRAM_TOKEN", "999:wrong_token_also_secret")
	status, stdout, stderr = supervise(t, "notify", "--test")
	if status != 1 || !strings.Contains(stderr, "Unauthorized") || strings.Contains(stdout+stderr, "wrong_token_also_secret") {
		t.Errorf("--test with a wrong token: status %d, output %s%s; want 1, the reason and no token", status, stdout, stderr)
	}
}

func TestNotifyUsage(t *testing.T) {
	noTelegram(t)
	for _, args := range [][]string{
		{"notify"},
		{"notify", "--test", "text too"},
		{"notify", "--job", "a b", "text"},
		{"notify", "-"}, // stdin is empty here
	} {
		if status, _, stderr := supervise(t, args...); status != 2 {
			t.Errorf("%q: status %d, want 2; stderr %s", args, status, stderr)
		}
	}
}

// Telegram down during a failing run: the run exits with the job's status in bounded
// time, and says its alert is kept; the next run sends it, before its own.
func TestRunAlertSpooledWhileTelegramIsDown(t *testing.T) {
	srv := telegram(t)
	t.Setenv("SUPERVISE_TELEGRAM_TIMEOUT", "1s")
	t.Setenv("SUPERVISE_TELEGRAM_API_URL", "http://127.0.0.1:1") // nothing listens there
	start := time.Now()
	status, _, stderr := supervise(t, "run", "--name", "first", "--", "sh", "-c", "echo disk full; exit 3")
	if status != 3 || time.Since(start) > 10*time.Second || !strings.Contains(stderr, "the next supervise to start sends it") {
		t.Fatalf("status %d after %v, stderr:\n%s\nwant 3, soon, and the alert kept", status, time.Since(start), stderr)
	}
	t.Setenv("SUPERVISE_TELEGRAM_API_URL", srv.URL())
	t.Setenv("SUPERVISE_TELEGRAM_TOKEN", tgToken) // run took it out of its environment
	// Time for both, a second apart as a private chat's pace asks: with 1s in all, a
	// backlog flush slowed by a busy machine left the second for later.
	t.Setenv("SUPERVISE_TELEGRAM_TIMEOUT", "10s")
	status, _, stderr = supervise(t, "run", "--name", "second", "--", "sh", "-c", "exit 4")
	if status != 4 {
		t.Fatalf("second run: status %d: %s", status, stderr)
	}
	var got []string
	for _, m := range srv.Messages() {
		got = append(got, strings.Fields(m.Text)[1])
	}
	if strings.Join(got, " ") != "first second" {
		t.Errorf("delivered %v, want first then second, once each; second run said:\n%s", got, stderr)
	}
}

// supervise killed with SIGKILL while Telegram stalls: the message waits in the spool,
// and the next supervise to start sends it.
func TestKilledWhileSendingLosesNothing(t *testing.T) {
	srv := telegram(t)
	srv.Fail(telegramtest.Fault{Stall: true})
	state := t.TempDir()
	cmd := command(t, "run", "--state", state, "--name", "doomed", "--", "sh", "-c", "echo the end; exit 1")
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer onFailure(t, func() string { return "stderr:\n" + stderr.String() })
	testkit.Eventually(t, "a request at Telegram", func() bool { return srv.Requests() > 0 })
	cmd.Process.Signal(syscall.SIGKILL)
	var exit *exec.ExitError
	if err := cmd.Wait(); !errors.As(err, &exit) {
		t.Fatalf("wait: %v", err)
	}
	if files, _ := os.ReadDir(filepath.Join(state, "spool")); len(files) != 1 {
		t.Fatalf("spool holds %d files, want the one message", len(files))
	}
	if status, _, errs := supervise(t, "notify", "--state", state, "--job", "later", "next message"); status != 0 {
		t.Fatalf("notify: status %d: %s", status, errs)
	}
	msgs := srv.Messages()
	if len(msgs) != 2 || !strings.Contains(msgs[0].Text, "doomed failed") || !strings.Contains(msgs[1].Text, "next message") {
		t.Errorf("messages %+v, want the killed run's alert, then the new one", msgs)
	}
}

// 30 jobs failing at once under up, against a Bot API that takes one message a second
// per chat: a handful of messages that name every job, and no 429 loop.
func TestUpStormIsDigested(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	t.Cleanup(srv.Close)
	srv.Limit(time.Second)
	dir := t.TempDir()
	for i := range 30 {
		writeFile(t, dir, fmt.Sprintf("job%02d.toml", i), "command = \"echo oops; exit 1\"\nrestart = \"never\"\n")
	}
	cmd, _, stderr := startBotUp(t, srv, dir, "--state", t.TempDir())
	named := func() map[string]bool {
		seen := map[string]bool{}
		for _, m := range srv.Messages() {
			for i := range 30 {
				if name := fmt.Sprintf("job%02d", i); strings.Contains(m.Text, name) {
					seen[name] = true
				}
			}
		}
		return seen
	}
	defer onFailure(t, func() string {
		return fmt.Sprintf("%d of 30 jobs named in %d messages:\n%s", len(named()), len(srv.Messages()), stderr.String())
	})
	// Paced at a message a second, the storm takes a while by design.
	testkit.EventuallyWithin(t, 20*time.Second, "all 30 jobs named", func() bool { return len(named()) == 30 })
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	if n := len(srv.Messages()); n > 5 || srv.Throttled() > 2 {
		t.Errorf("%d messages and %d answered 429, want a handful and no 429 loop", n, srv.Throttled())
	}
	for _, m := range srv.Messages() {
		if err := telegramtest.ValidateHTML(m.Text); err != nil {
			t.Errorf("invalid HTML: %v\n%s", err, m.Text)
		}
	}
	t.Logf("%d messages; the last:\n%s", len(srv.Messages()), srv.Messages()[len(srv.Messages())-1].Text)
}

// A job writing 5,000 lines: a message with the tail, then a document with all of it.
func TestRunAttachesWholeOutput(t *testing.T) {
	srv := telegram(t)
	status, _, stderr := supervise(t, "run", "--name", "chatty", "--", "sh", "-c", `i=1; while [ $i -le 5000 ]; do echo "line $i"; i=$((i+1)); done; exit 1`)
	if status != 1 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	msgs, docs := srv.Messages(), srv.Documents()
	if len(msgs) != 1 || len(docs) != 1 {
		t.Fatalf("%d messages and %d documents, want one of each\n%s", len(msgs), len(docs), stderr)
	}
	if !strings.HasSuffix(msgs[0].Text, "line 5000</pre>") {
		t.Errorf("the message does not end with the last line")
	}
	doc := string(docs[0].Content)
	if !strings.HasPrefix(doc, "line 1\n") || !strings.HasSuffix(doc, "line 5000\n") || strings.Count(doc, "\n") != 5000 {
		t.Errorf("the document has %d lines, starting %q", strings.Count(doc, "\n"), doc[:min(len(doc), 20)])
	}
	if !strings.HasPrefix(docs[0].Name, "chatty-") || !docs[0].DisableNotification {
		t.Errorf("document %q, silent %v; want it named for the job and silent", docs[0].Name, docs[0].DisableNotification)
	}

	// Output that fits is not attached; attach = "never" attaches nothing.
	t.Setenv("SUPERVISE_TELEGRAM_TOKEN", tgToken) // run took it out of its environment
	supervise(t, "run", "--name", "short", "--", "sh", "-c", "echo one line; exit 1")
	job := writeFile(t, t.TempDir(), "quiet.toml", "command = 'seq 5000; exit 1'\n[notify]\nattach = \"never\"\n")
	t.Setenv("SUPERVISE_TELEGRAM_TOKEN", tgToken)
	supervise(t, "run", job)
	if msgs, docs := srv.Messages(), srv.Documents(); len(msgs) != 3 || len(docs) != 1 {
		t.Errorf("%d messages and %d documents, want 3 and still 1", len(msgs), len(docs))
	}
}

// A storm among jobs with a chat of their own is folded too, one digest per chat.
func TestUpStormToOwnChat(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat, -100555)
	t.Cleanup(srv.Close)
	srv.Limit(time.Second)
	dir := t.TempDir()
	for i := range 20 {
		own := ""
		if i%2 == 0 {
			own = "[[notify.telegram]]\nchat_id = -100555\n"
		}
		writeFile(t, dir, fmt.Sprintf("job%02d.toml", i), "command = \"exit 1\"\nrestart = \"never\"\n"+own)
	}
	cmd, _, stderr := startBotUp(t, srv, dir, "--state", t.TempDir())
	named := func(chat int64) int {
		seen := map[string]bool{}
		for _, m := range srv.Messages() {
			for i := range 20 {
				if name := fmt.Sprintf("job%02d", i); m.ChatID == chat && strings.Contains(m.Text, name) {
					seen[name] = true
				}
			}
		}
		return len(seen)
	}
	defer onFailure(t, func() string {
		return fmt.Sprintf("named %d in the default chat and %d in the job's:\n%s", named(tgChat), named(-100555), stderr.String())
	})
	testkit.EventuallyWithin(t, 20*time.Second, "10 jobs named in each chat", func() bool {
		return named(tgChat) >= 10 && named(-100555) >= 10
	})
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	if n := len(srv.Messages()); n > 6 || srv.Throttled() > 2 {
		t.Errorf("%d messages and %d answered 429, want a few and no 429 loop", n, srv.Throttled())
	}
}
