package control_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/supervise/supervise/control"
	"github.com/supervise/supervise/internal/testkit"
	"github.com/supervise/supervise/notifier"
	"github.com/supervise/supervise/notifier/telegramtest"
	"github.com/supervise/supervise/supervisor"
)

const (
	token   = "123456:AAH-secret_token_do_not_print"
	allowed = int64(4242)
	other   = int64(777)
)

// syncBuffer is output a test reads while it is written.
type syncBuffer = testkit.Buffer

// message is an update with a text message from chat, sent now.
func message(chat int64, text string) map[string]any {
	return map[string]any{"message": map[string]any{
		"message_id": 1, "date": time.Now().Unix(), "text": text,
		"chat": map[string]any{"id": chat, "type": "private"},
		"from": map[string]any{"id": chat, "is_bot": false, "first_name": "Ann", "username": "ann"},
	}}
}

// conflicts is an http.RoundTripper that counts the answers 409 Conflict a poller gets.
type conflicts struct{ n atomic.Int64 }

func (c *conflicts) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusConflict {
		c.n.Add(1)
	}
	return resp, err
}

// commandsUp runs a daemon with one job, web, and the Telegram commands for it.
func commandsUp(t *testing.T, fake *telegramtest.Server, stderr *syncBuffer) *supervisor.Daemon {
	t.Helper()
	return commandsUpVia(t, fake, stderr, http.DefaultTransport)
}

// commandsUpVia is commandsUp with the bot's requests made by transport.
func commandsUpVia(t *testing.T, fake *telegramtest.Server, stderr *syncBuffer, transport http.RoundTripper) *supervisor.Daemon {
	t.Helper()
	job := supervisor.NewJob("web", supervisor.ShellCommand("echo web says hello; exec sleep 100")...)
	d := &supervisor.Daemon{Host: "testhost", Stdout: &syncBuffer{}, Stderr: stderr, LogDir: t.TempDir()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { d.Run(ctx, []*supervisor.Job{job}); done <- struct{}{} }()
	bot := notifier.NewTelegram(token, "")
	bot.APIURL = fake.URL()
	bot.Client = &http.Client{Transport: transport}
	c := &control.Commands{Bot: bot, Allow: map[int64]bool{allowed: true}, Daemon: d, Stderr: stderr, Wait: time.Second}
	go func() { c.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() {
		cancel()
		<-done
		<-done
	})
	return d
}

func pid(d *supervisor.Daemon) int {
	for _, st := range d.Status() {
		if st.Name == "web" {
			return st.PID
		}
	}
	return 0
}

// answers returns the texts of the messages sent to chat.
func answers(fake *telegramtest.Server, chat int64) []string {
	var out []string
	for _, m := range fake.Messages() {
		if m.ChatID == chat {
			out = append(out, m.Text)
		}
	}
	return out
}

// /status, /restart and /logs from an allowed chat are done and answered; the same
// from a chat not allowed do nothing and are logged; a command for another bot, or
// one sent long ago, is left alone.
func TestTelegramCommands(t *testing.T) {
	t.Parallel()
	fake := telegramtest.NewServer(token, allowed, other)
	defer fake.Close()
	stderr := &syncBuffer{}
	d := commandsUp(t, fake, stderr)
	testkit.Eventually(t, "web running", func() bool { return pid(d) != 0 })
	first := pid(d)
	testkit.Eventually(t, "web's output in its log", func() bool {
		last, _, stop, err := d.Follow("web", 1)
		if err == nil {
			stop()
		}
		return bytes.Contains(last, []byte("hello"))
	})

	fake.AddUpdate(message(other, "/restart web"))
	fake.AddUpdate(message(other, "/status"))
	testkit.Eventually(t, "the stranger's commands logged", func() bool {
		return strings.Count(stderr.String(), "from chat 777 (@ann): the chat is not in telegram.allow") == 2
	})
	if pid(d) != first || len(answers(fake, other)) != 0 {
		t.Fatalf("a chat not allowed restarted web (pid %d, was %d) or got answers %q", pid(d), first, answers(fake, other))
	}

	fake.AddUpdate(message(allowed, "/status"))
	testkit.Eventually(t, "an answer to /status", func() bool { return len(answers(fake, allowed)) == 1 })
	if a := answers(fake, allowed)[0]; !strings.Contains(a, "web") || !strings.Contains(a, "running") || !strings.Contains(a, "<pre>") {
		t.Errorf("/status answered %q", a)
	}

	fake.AddUpdate(message(allowed, "/restart@"+telegramtest.BotUsername+" web"))
	testkit.Eventually(t, "an answer to /restart", func() bool { return len(answers(fake, allowed)) == 2 })
	if a := answers(fake, allowed)[1]; !strings.Contains(a, "web restarted on testhost") || pid(d) == first {
		t.Errorf("/restart answered %q; pid %d, was %d", a, pid(d), first)
	}

	fake.AddUpdate(message(allowed, "/logs web 3"))
	testkit.Eventually(t, "an answer to /logs", func() bool { return len(answers(fake, allowed)) == 3 })
	if a := answers(fake, allowed)[2]; !strings.Contains(a, "web says hello") {
		t.Errorf("/logs answered %q", a)
	}

	// For another bot in the group, or sent while up was down: not answered.
	fake.AddUpdate(message(allowed, "/status@some_other_bot"))
	old := message(allowed, "/restart web")
	old["message"].(map[string]any)["date"] = time.Now().Add(-time.Hour).Unix()
	fake.AddUpdate(old)
	fake.AddUpdate(message(allowed, "/nonsense"))
	testkit.Eventually(t, "an answer to /nonsense", func() bool { return len(answers(fake, allowed)) == 4 })
	if a := answers(fake, allowed)[3]; !strings.Contains(a, "/status, /restart JOB, /logs JOB") {
		t.Errorf("an unknown command answered %q, want the list of commands", a)
	}
	if !strings.Contains(stderr.String(), "ignored /restart from chat 4242 (@ann): sent at ") {
		t.Errorf("an old command was not logged as ignored:\n%s", stderr.String())
	}
	testkit.Eventually(t, "every update confirmed", func() bool { return fake.PendingUpdates() == 0 })
	// An argument too long to quote whole is cut, so the answer still fits.
	fake.AddUpdate(message(allowed, "/restart "+strings.Repeat("x", 5000)))
	testkit.Eventually(t, "an answer to a long /restart", func() bool { return len(answers(fake, allowed)) == 5 })
	if a := answers(fake, allowed)[4]; !strings.Contains(a, "no such job") {
		t.Errorf("a long /restart answered %q", a)
	}
	if strings.Contains(stderr.String(), token) {
		t.Error("the token is in stderr")
	}
}

// Two pollers of one bot: Telegram ends one's request with 409, which is said once,
// clearly, and polling goes on.
func TestTelegramCommandsSecondPoller(t *testing.T) {
	t.Parallel()
	fake := telegramtest.NewServer(token, allowed)
	defer fake.Close()
	first, second := &syncBuffer{}, &syncBuffer{}
	firstConflicts, secondConflicts := &conflicts{}, &conflicts{}
	commandsUpVia(t, fake, first, firstConflicts)
	commandsUpVia(t, fake, second, secondConflicts)
	testkit.Eventually(t, "the conflict said", func() bool {
		return strings.Contains(first.String()+second.String(), "another program is reading this bot's updates")
	})
	// A second conflict for each poller, which it must not speak of again. The pollers
	// back off, and each success resets that: this takes about 3s, at random.
	testkit.EventuallyWithin(t, 30*time.Second, "2 conflicts for each poller", func() bool {
		return firstConflicts.n.Load() >= 2 && secondConflicts.n.Load() >= 2
	})
	for _, s := range []string{first.String(), second.String()} {
		if n := strings.Count(s, "another program is reading"); n > 1 {
			t.Errorf("the conflict was said %d times:\n%s", n, s)
		}
		if strings.Contains(s, token) {
			t.Error("the token is in stderr")
		}
	}
}

// The buttons under an incident's message: Restart from an allowed chat restarts the
// job; from a chat not allowed, it does nothing but answer; Log sends the job's log as
// a document; Mute edits the message to say so, shows in the mutes that status
// reads, and keeps the job's next failure out of the chat.
func TestIncidentButtons(t *testing.T) {
	t.Parallel()
	fake := telegramtest.NewServer(token, allowed, other)
	defer fake.Close()
	stderr := &syncBuffer{}
	env := map[string]string{notifier.EnvToken: token, notifier.EnvChatID: "4242", notifier.EnvAPIURL: fake.URL()}
	p, err := notifier.New(nil, func(k string) string { return env[k] }, notifier.Options{Host: "testhost", Stderr: stderr,
		SpoolDir: t.TempDir(), Buttons: true, PrivatePace: time.Millisecond, GroupPace: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	job := supervisor.NewJob("web", supervisor.ShellCommand("echo web says hello; exec sleep 100")...)
	d := &supervisor.Daemon{Host: "testhost", Stdout: &syncBuffer{}, Stderr: stderr, LogDir: t.TempDir()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { d.Run(ctx, []*supervisor.Job{job}); done <- struct{}{} }()
	bot := notifier.NewTelegram(token, "")
	bot.APIURL = fake.URL()
	c := &control.Commands{Bot: bot, Allow: map[int64]bool{allowed: true}, Daemon: d, Stderr: stderr, Wait: time.Second, Incidents: p}
	go func() { c.Run(ctx); done <- struct{}{} }()
	defer func() { cancel(); <-done; <-done }()
	testkit.Eventually(t, "web running", func() bool { return pid(d) > 0 })
	first := pid(d)

	// An incident of web, told in both chats.
	notify := supervisor.Notify{On: supervisor.DefaultNotifyOn, Telegram: []supervisor.Destination{{ChatID: "4242"}, {ChatID: "777"}}}
	failure := supervisor.Event{Kind: supervisor.KindFailure, Job: "web", Host: "testhost", Start: time.Now(), ExitCode: 1,
		Restarting: true, Streak: 1, Output: []byte("Error: port taken\n"), Notify: notify}
	p.Emit(failure)
	testkit.Eventually(t, "the incident's message in both chats", func() bool { return len(fake.Messages()) == 2 })
	in := map[int64]telegramtest.Message{}
	for _, m := range fake.Messages() {
		in[m.ChatID] = m
	}
	data := map[string]string{} // button text to callback data
	for _, row := range in[allowed].Buttons {
		for _, b := range row {
			data[b.Text] = b.Data
		}
	}
	press := func(chat int64, button string) string {
		t.Helper()
		q, err := fake.Press(chat, in[chat].ID, chat, "ann", data[button])
		if err != nil {
			t.Fatalf("pressing %s in chat %d: %v", button, chat, err)
		}
		testkit.Eventually(t, "the press of "+button+" answered", func() bool {
			for _, a := range fake.Answers() {
				if a.QueryID == q {
					return true
				}
			}
			return false
		})
		for _, a := range fake.Answers() {
			if a.QueryID == q {
				return a.Text
			}
		}
		return ""
	}

	if a := press(other, "🔁 Restart"); a != "not allowed here" || pid(d) != first {
		t.Errorf("Restart from chat %d: answered %q, pid %d (was %d); want it refused", other, a, pid(d), first)
	}
	if !strings.Contains(stderr.String(), "refused a button press from chat 777") {
		t.Errorf("the refused press is not logged:\n%s", stderr.String())
	}
	if a := press(allowed, "🔁 Restart"); a != "restarting web" {
		t.Errorf("Restart answered %q", a)
	}
	testkit.Eventually(t, "web restarted with a new pid", func() bool { return pid(d) > 0 && pid(d) != first })

	if a := press(allowed, "📄 Log"); a != "sending the log of web" {
		t.Errorf("Log answered %q", a)
	}
	testkit.Eventually(t, "the log sent as a document", func() bool {
		docs := fake.Documents()
		return len(docs) == 1 && strings.Contains(string(docs[0].Content), "web says hello") && docs[0].ChatID == allowed
	})

	// A crash loop's message gains Stop, which stops the job.
	loop := failure
	loop.Kind, loop.Crashes, loop.Looping = supervisor.KindRestartLoop, 6, true
	p.Emit(loop)
	testkit.Eventually(t, "the message edited to offer Stop", func() bool {
		m, _ := fake.Message(allowed, in[allowed].ID)
		return strings.Contains(fmt.Sprint(m.Buttons), "Stop")
	})
	data["⏹ Stop"] = "s:" + strings.TrimPrefix(data["🔁 Restart"], "r:")
	if a := press(allowed, "⏹ Stop"); a != "stopping web" {
		t.Errorf("Stop answered %q", a)
	}
	testkit.Eventually(t, "web stopped", func() bool {
		for _, st := range d.Status() {
			if st.Name == "web" {
				return st.State == supervisor.StateStopped
			}
		}
		return false
	})

	// Mute, Unmute, and Mute again.
	data["🔔 Unmute"] = "u:" + strings.TrimPrefix(data["🔁 Restart"], "r:")
	if a := press(allowed, "🔇 Mute 1h"); a != "muted web for 1h" {
		t.Errorf("Mute answered %q", a)
	}
	testkit.Eventually(t, "the message edited to offer Unmute", func() bool {
		m, _ := fake.Message(allowed, in[allowed].ID)
		return strings.Contains(fmt.Sprint(m.Buttons), "Unmute")
	})
	// A press is answered before the notifier takes the mute, which may wait for a
	// send: the mutes change a moment later.
	if a := press(allowed, "🔔 Unmute"); a != "unmuted web" {
		t.Errorf("Unmute answered %q", a)
	}
	testkit.Eventually(t, "web unmuted", func() bool { return len(p.Mutes()) == 0 })
	testkit.Eventually(t, "the message edited to offer Mute again", func() bool {
		m, _ := fake.Message(allowed, in[allowed].ID)
		return strings.Contains(fmt.Sprint(m.Buttons), "Mute 1h") && !strings.Contains(m.Text, "muted until")
	})
	if a := press(allowed, "🔇 Mute 1h"); a != "muted web for 1h" {
		t.Errorf("Mute answered %q", a)
	}
	testkit.Eventually(t, "web muted for an hour", func() bool {
		until, ok := p.Mutes()["web"]
		return ok && time.Until(until) > 59*time.Minute
	})
	testkit.Eventually(t, "the message edited to say web is muted, with Unmute", func() bool {
		m, _ := fake.Message(allowed, in[allowed].ID)
		return strings.Contains(m.Text, "🔇 muted until") && strings.Contains(fmt.Sprint(m.Buttons), "Unmute")
	})
	var b bytes.Buffer
	control.WriteStatus(&b, control.Status{Jobs: d.Status(), Muted: p.Mutes()}, 0, time.Now())
	if !strings.Contains(b.String(), "muted 5") && !strings.Contains(b.String(), "muted 1h") {
		t.Errorf("status does not show web muted:\n%s", b.String())
	}

	// Muted: the recovery is not told, nor the next failure.
	p.Emit(supervisor.Event{Kind: supervisor.KindRecovery, Job: "web", Host: "testhost", Down: time.Minute, Notify: notify})
	failure.Start = time.Now()
	p.Emit(failure)
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.Messages()); n != 2 {
		t.Errorf("%d messages, want only the first incident's two: a muted job's recovery and next failure are not told", n)
	}
	if strings.Contains(stderr.String(), token) {
		t.Error("the token is in stderr")
	}
}
