package notifier_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/supervise/supervise/internal/testkit"
	"github.com/supervise/supervise/notifier"
	"github.com/supervise/supervise/notifier/telegramtest"
	"github.com/supervise/supervise/supervisor"
)

// gate is a writer that holds every Write until it is opened.
type gate struct {
	open chan struct{}
	out  syncBuffer
}

func (g *gate) Write(p []byte) (int, error) {
	<-g.open
	return g.out.Write(p)
}

// A chat that does not take messages never holds up Emit: what the queue cannot hold
// is folded into digests, delivered once the chat takes messages again; nothing is
// dropped.
func TestEmitNeverBlocks(t *testing.T) {
	t.Parallel()
	g := &gate{open: make(chan struct{})}
	p := notifier.NewForTest(g, nil, time.Millisecond, notifier.Options{Host: "h", Queue: 10})
	const n = 500
	start := time.Now()
	for i := range n {
		p.Emit(supervisor.Event{Kind: supervisor.KindProblem, Job: fmt.Sprintf("job%d", i), Host: "h", Output: []byte("out\n")})
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("%d Emits took %v with the chat stalled", n, took)
	}
	close(g.open)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	out := g.out.String()
	for i := range n {
		if !strings.Contains(out, fmt.Sprintf("job%d ", i)) && !strings.Contains(out, fmt.Sprintf("job%d:", i)) {
			t.Fatalf("job%d is in no message:\n%s", i, out)
		}
	}
	if !strings.Contains(out, "30 alerts on h") {
		t.Errorf("no digest of 30 events:\n%s", out)
	}
}

// Events that come when the queue is full wait in the overflow without most of their
// output, but each keeps its last line: the digests that fold them still say which job
// failed and its error line, and why a job file does not load.
func TestOverflowKeepsTheErrorLine(t *testing.T) {
	t.Parallel()
	g := &gate{open: make(chan struct{})}
	p := notifier.NewForTest(g, nil, time.Millisecond, notifier.Options{Host: "h", Queue: 10})
	const n = 100
	for i := range n {
		out := fmt.Sprintf("%s\njob%d: connection refused\n\n", strings.Repeat("noise\n", 1000), i)
		p.Emit(supervisor.Event{Kind: supervisor.KindFailure, Job: fmt.Sprintf("job%d", i), Host: "h", ExitCode: 1,
			Notify: supervisor.Notify{On: supervisor.DefaultNotifyOn}, Output: []byte(out), OutputLines: 1002})
	}
	// As up reports a job file it cannot load: the note says what follows, the output why.
	reason := "broken.toml:2: timeout: 5 has no unit\n"
	p.Emit(supervisor.Event{Kind: supervisor.KindProblem, Job: "broken.toml", Host: "h", Note: "not loaded; the other jobs run",
		Output: []byte(reason), OutputLines: 1})
	close(g.open)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	out := g.out.String()
	for i := range n {
		if !strings.Contains(out, fmt.Sprintf("job%d failed: exit status 1 — job%d: connection refused\n", i, i)) &&
			!strings.Contains(out, fmt.Sprintf("| job%d: connection refused\n", i)) { // a message of its own
			t.Errorf("no line says job%d failed with its error line:\n%s", i, out)
		}
	}
	if !strings.Contains(out, "⚠️ not loaded: broken.toml:2: timeout: 5 has no unit\n") &&
		!strings.Contains(out, "| broken.toml:2: timeout: 5 has no unit\n") { // a message of its own
		t.Errorf("no line says why broken.toml does not load:\n%s", out)
	}
	if !strings.Contains(out, "30 alerts on h") {
		t.Errorf("no digest of 30 events:\n%s", out)
	}
}

// A pipeline that runs out of time says on stderr what it could not deliver, with
// the message, and Close says that something was not delivered.
func TestCloseSaysWhatIsLeft(t *testing.T) {
	t.Parallel()
	g := &gate{open: make(chan struct{})}
	var stderr syncBuffer
	p := notifier.NewForTest(g, nil, time.Hour, notifier.Options{Host: "h", Stderr: &stderr})
	close(g.open)
	p.Emit(supervisor.Event{Kind: supervisor.KindMessage, Job: "first", Host: "h", Note: "goes at once"})
	testkit.Eventually(t, "the first message written", func() bool { return strings.Contains(g.out.String(), "goes at once") })
	p.Emit(supervisor.Event{Kind: supervisor.KindMessage, Job: "second", Host: "h", Note: "waits its turn"})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := p.Close(ctx); err == nil {
		t.Error("Close = nil with a message left")
	}
	if s := stderr.String(); !strings.Contains(s, "not delivered") || !strings.Contains(s, "waits its turn") {
		t.Errorf("stderr %q, want the message that was left", s)
	}
}

// Under up, a spool that cannot be sent is tried again on a timer that backs off,
// doubling each time, up to 15 times the first wait.
func TestSpoolRetryBacksOff(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	_, dir, _, err := keptForUnknownChat(t, srv)
	if err == nil {
		t.Fatal("Notify to an unknown chat succeeded")
	}
	var upStderr syncBuffer
	p := pipelineFor(t, srv, notifier.Options{Stderr: &upStderr, SpoolDir: dir, Backlog: time.Second, Retry: 10 * time.Millisecond,
		PrivatePace: time.Millisecond}, notifier.EnvChatID, "777")
	defer p.Close(context.Background())
	testkit.Eventually(t, "the retry to back off to 150ms", func() bool { return strings.Contains(upStderr.String(), "trying again in 150ms") })
	s := upStderr.String()
	for _, wait := range []string{"10ms", "20ms", "40ms", "80ms", "150ms"} {
		if !strings.Contains(s, "trying again in "+wait+"\n") {
			t.Errorf("no retry after %s:\n%s", wait, s)
		}
	}
	if strings.Contains(s, "160ms") || strings.Contains(s, "300ms") {
		t.Errorf("the wait grew past 15 times the first:\n%s", s)
	}
}

// A pipeline that runs out of time before a message's turn keeps the message in the
// spool for the next supervise, as it keeps one whose sending was cut short, and says
// so on stderr without the token: nothing that should reach the chat goes only to
// stderr.
func TestCloseOutOfTimeSpoolsWhatIsLeft(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	dir := t.TempDir()
	var stderr syncBuffer
	p := pipelineFor(t, srv, notifier.Options{Stderr: &stderr, SpoolDir: dir, PrivatePace: time.Hour})
	event := func(job, output string) supervisor.Event {
		ev := failed(job)
		ev.Notify.On = []supervisor.Kind{supervisor.KindFailure}
		ev.Output = []byte(output)
		return ev
	}
	p.Emit(event("first", "goes at once\n"))
	testkit.Eventually(t, "the first message at Telegram", func() bool { return len(srv.Messages()) == 1 })
	p.Emit(event("second", "printed "+tgToken+"\n")) // waits the chat's pace, an hour
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := p.Close(ctx); err == nil {
		t.Error("Close = nil with a message left")
	}
	if n := len(spooled(t, dir)); n != 1 {
		t.Fatalf("spool holds %d messages, want the one left; stderr:\n%s", n, stderr.String())
	}
	if s := stderr.String(); !strings.Contains(s, "second failed") || !strings.Contains(s, "kept in") || strings.Contains(s, tgToken) {
		t.Errorf("stderr should say the message is kept, with its words and without the token:\n%s", s)
	}
	next := pipelineFor(t, srv, notifier.Options{SpoolDir: dir})
	if err := next.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	next.Close(context.Background())
	if msgs := srv.Messages(); len(msgs) != 2 || !strings.Contains(msgs[1].Text, "second failed") || strings.Contains(msgs[1].Text, tgToken) {
		t.Errorf("messages %+v, want the one left, redacted, from the spool", msgs)
	}
}

// An event that comes once the pipeline has stopped is kept in the spool for the next
// supervise, and said on stderr without the token.
func TestEmitAfterCloseIsSpooled(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	dir := t.TempDir()
	var stderr syncBuffer
	p := pipelineFor(t, srv, notifier.Options{Stderr: &stderr, SpoolDir: dir})
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.Emit(supervisor.Event{Kind: supervisor.KindProblem, Job: "jobs.d/x.toml", Host: "h", Note: "not loaded",
		Output: []byte("token = " + tgToken + "\n"), OutputLines: 1})
	if n := len(spooled(t, dir)); n != 1 {
		t.Errorf("spool holds %d messages, want the late one; stderr:\n%s", n, stderr.String())
	}
	if s := stderr.String(); !strings.Contains(s, "not loaded") || strings.Contains(s, tgToken) {
		t.Errorf("stderr should tell of the late event without the token:\n%s", s)
	}
}
