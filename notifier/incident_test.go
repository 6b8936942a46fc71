package notifier_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/supervise/supervise/internal/testkit"
	"github.com/supervise/supervise/notifier"
	"github.com/supervise/supervise/notifier/telegramtest"
	"github.com/supervise/supervise/supervisor"
)

// incidents returns a pipeline to srv that keeps its spool and incidents in state,
// at a pace of 10ms, with buttons when asked.
func incidents(t *testing.T, srv *telegramtest.Server, state string, stderr *syncBuffer, buttons bool) *notifier.Pipeline {
	t.Helper()
	return pipelineFor(t, srv, notifier.Options{Host: "h", Stderr: stderr, SpoolDir: filepath.Join(state, "spool"),
		Incidents: filepath.Join(state, "incidents.json"), Buttons: buttons,
		PrivatePace: 10 * time.Millisecond, GroupPace: 10 * time.Millisecond})
}

// incidentChat starts a fake Bot API and a pipeline to it, as incidents makes it, in
// a state folder of its own, and returns them with the pipeline's stderr.
func incidentChat(t *testing.T, buttons bool) (*telegramtest.Server, *notifier.Pipeline, *syncBuffer) {
	t.Helper()
	srv := telegramtest.NewServer(tgToken, tgChat)
	t.Cleanup(srv.Close)
	stderr := &syncBuffer{}
	return srv, incidents(t, srv, t.TempDir(), stderr, buttons), stderr
}

// death is the n-th quick death in a row of web, a job that up restarts.
func death(n int, looping bool) supervisor.Event {
	return supervisor.Event{Kind: supervisor.KindFailure, Job: "web", Host: "h", Command: "web --port 80",
		Start: time.Now(), Duration: 5 * time.Millisecond, ExitCode: 1, Restarting: true, Retry: time.Duration(n) * 100 * time.Millisecond,
		Streak: n, Looping: looping, Output: []byte(fmt.Sprintf("starting\nError: port 80 taken (death %d)\n", n)), OutputLines: 2,
		Notify: supervisor.Notify{On: supervisor.DefaultNotifyOn}}
}

// current is the message id of srv's chat as it reads now, failing when there is none.
func current(t *testing.T, srv *telegramtest.Server, id int64) telegramtest.Message {
	t.Helper()
	m, ok := srv.Message(tgChat, id)
	if !ok {
		t.Fatalf("no message %d in chat %d", id, tgChat)
	}
	return m
}

// wantResolvedByReply checks that srv's chat has two messages, the second a reply to
// the first, which now says job's incident is resolved.
func wantResolvedByReply(t *testing.T, srv *telegramtest.Server, job string) {
	t.Helper()
	msgs := srv.Messages()
	if len(msgs) != 2 || msgs[1].ReplyTo != msgs[0].ID {
		t.Fatalf("messages %+v, want the incident's and a recovery replying to it", msgs)
	}
	if m := current(t, srv, msgs[0].ID); !strings.HasPrefix(m.Text, "<b>✅ "+job+" resolved") {
		t.Errorf("the incident's message reads %q, want it resolved", m.Text)
	}
}

// A crash loop is one message, edited as the deaths come with their count and the
// latest error line; its recovery is one more, a reply to it, which it then says
// it is resolved, its buttons gone.
func TestCrashLoopIsOneMessage(t *testing.T) {
	t.Parallel()
	srv, p, stderr := incidentChat(t, true)
	p.Emit(death(1, false))
	testkit.Eventually(t, "the first death's message", func() bool { return len(srv.Messages()) == 1 })
	first := srv.Messages()[0]
	if !strings.Contains(first.Text, "web failed on h") || !strings.Contains(first.Text, "death 1") || len(first.Buttons) == 0 {
		t.Fatalf("first message %+v, want the failure, its error line and buttons", first)
	}
	for n := 2; n <= 5; n++ {
		p.Emit(death(n, false))
	}
	loop := death(6, true)
	loop.Kind, loop.Crashes, loop.Exits, loop.Within = supervisor.KindRestartLoop, 6, []string{"exit 1", "exit 1"}, time.Second
	p.Emit(death(6, true))
	p.Emit(loop)
	p.Emit(death(7, true))
	testkit.Eventually(t, "the message edited to say the job crash-loops, quoting death 7", func() bool {
		m := current(t, srv, first.ID)
		return strings.Contains(m.Text, "crash-looping") && strings.Contains(m.Text, "7 crashes") && strings.Contains(m.Text, "death 7")
	})
	if m := current(t, srv, first.ID); !strings.Contains(fmt.Sprint(m.Buttons), "Stop") {
		t.Errorf("a crash loop's message has no Stop button: %+v", m.Buttons)
	}
	rec := supervisor.Event{Kind: supervisor.KindRecovery, Job: "web", Host: "h", Down: time.Minute, Crashes: 7,
		Notify: supervisor.Notify{On: supervisor.DefaultNotifyOn}}
	p.Emit(rec)
	if err := p.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v\n%s", err, stderr.String())
	}
	msgs := srv.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want the incident's and the recovery's:\n%+v", len(msgs), msgs)
	}
	if msgs[1].ReplyTo != first.ID || !strings.Contains(msgs[1].Text, "recovered") {
		t.Errorf("the recovery %+v is not a reply to message %d", msgs[1], first.ID)
	}
	m := current(t, srv, first.ID)
	if !strings.HasPrefix(m.Text, "<b>✅ web resolved on h after") || len(m.Buttons) != 0 {
		t.Errorf("the incident's message now reads %q with buttons %v, want it resolved, without buttons", m.Text, m.Buttons)
	}
	if srv.Throttled() != 0 {
		t.Errorf("%d requests were answered 429", srv.Throttled())
	}
}

// Incidents outlast the process: a later supervise, sharing the state folder,
// resolves the incident an earlier one opened by replying to its message and editing
// it. A scheduled job's success resolves its failure, as the run's recovery.
func TestIncidentOutlastsRestart(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	state := t.TempDir()
	var stderr syncBuffer
	failed := failed("backup")
	failed.Start, failed.Notify.On = time.Now().Add(-time.Hour), supervisor.DefaultNotifyOn
	p := incidents(t, srv, state, &stderr, false)
	p.Emit(failed)
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	p = incidents(t, srv, state, &stderr, false)
	ok := supervisor.Event{Kind: supervisor.KindSuccess, Job: "backup", Host: "h", Start: time.Now(), Duration: time.Second,
		Notify: supervisor.Notify{On: supervisor.DefaultNotifyOn}}
	p.Emit(ok)
	if err := p.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v\n%s", err, stderr.String())
	}
	wantResolvedByReply(t, srv, "backup")
}

// Someone deleted the incident's message: its next edit is a new message, which the
// edits after it then edit.
func TestDeletedIncidentMessageIsSentAgain(t *testing.T) {
	t.Parallel()
	srv, p, stderr := incidentChat(t, false)
	p.Emit(death(1, false))
	testkit.Eventually(t, "the first death's message", func() bool { return len(srv.Messages()) == 1 })
	srv.DeleteMessage(tgChat, srv.Messages()[0].ID)
	p.Emit(death(2, false))
	testkit.Eventually(t, "a new message for the second death", func() bool {
		msgs := srv.Messages()
		return len(msgs) == 2 && strings.Contains(msgs[1].Text, "death 2")
	})
	second := srv.Messages()[1].ID
	p.Emit(death(3, false))
	testkit.Eventually(t, "the new message edited for the third death", func() bool {
		return strings.Contains(current(t, srv, second).Text, "death 3")
	})
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Messages()); n != 2 {
		t.Errorf("%d messages, want 2", n)
	}
	if !strings.Contains(stderr.String(), "is gone: sending it again") {
		t.Errorf("stderr does not say the message was gone:\n%s", stderr.String())
	}
}

// A storm: 20 jobs fail at once and keep failing, with Telegram taking one message a
// second. The chat gets a few messages that name every job with its error line, kept
// current by edits, and no request is refused for going too fast.
func TestStormIsAFewMessages(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	srv.Limit(time.Second)
	var stderr syncBuffer
	p := pipelineFor(t, srv, notifier.Options{Host: "h", Stderr: &stderr, SpoolDir: filepath.Join(t.TempDir(), "spool"),
		PrivatePace: time.Second, GroupPace: time.Second})
	ev := func(i, n int) supervisor.Event {
		e := death(n, n > 5)
		e.Job = fmt.Sprintf("job%02d", i)
		e.Output = []byte(fmt.Sprintf("Error: job%02d cannot reach db (try %d)\n", i, n))
		return e
	}
	// The first job fails first; the other 19 within its pace; then all of them
	// keep failing, so the messages are edited, at the chat's pace too.
	p.Emit(ev(0, 1))
	testkit.Eventually(t, "the first failure's message", func() bool { return len(srv.Messages()) == 1 })
	for i := 1; i < 20; i++ {
		p.Emit(ev(i, 1))
	}
	testkit.Eventually(t, "a digest of the other 19", func() bool { return len(srv.Messages()) == 2 })
	for n := 2; n <= 8; n++ {
		for i := range 20 {
			p.Emit(ev(i, n))
		}
	}
	testkit.Eventually(t, "every job named with its latest error line", func() bool {
		var all strings.Builder
		for _, m := range srv.Messages() {
			all.WriteString(current(t, srv, m.ID).Text)
		}
		for i := range 20 {
			if !strings.Contains(all.String(), fmt.Sprintf("job%02d cannot reach db (try 8)", i)) {
				return false
			}
		}
		return true
	})
	if err := p.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v\n%s", err, stderr.String())
	}
	if n := len(srv.Messages()); n > 5 {
		t.Errorf("%d messages, want at most 5", n)
	}
	if srv.Throttled() != 0 {
		t.Errorf("%d requests were answered 429", srv.Throttled())
	}
}

// A silence's message is edited to say how long the job has been silent.
func TestSilenceMessageKeepsItsLength(t *testing.T) {
	t.Parallel()
	srv, p, _ := incidentChat(t, false)
	notifier.SetFirstSilenceEdit(p, 100*time.Millisecond)
	p.Emit(supervisor.Event{Kind: supervisor.KindHeartbeat, Job: "worker", Host: "h", Silent: 9500 * time.Millisecond,
		Every: 5 * time.Second, Notify: supervisor.Notify{On: supervisor.DefaultNotifyOn}})
	testkit.Eventually(t, "the silence's message", func() bool { return len(srv.Messages()) == 1 })
	first := srv.Messages()[0]
	if !strings.Contains(first.Text, "silent for 9.5s") {
		t.Fatalf("the message reads %q, want it silent for 9.5s", first.Text)
	}
	testkit.Eventually(t, "the message edited to say the silence is longer", func() bool {
		m := current(t, srv, first.ID)
		return strings.Contains(m.Text, "silent for ") && !strings.Contains(m.Text, "silent for 9.5s")
	})
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
}

// A digest gives each job file that does not load its reason, with file:line, whole
// however long the path, and a job one line, its latest, however many of its events
// it folds.
func TestDigestLinesSayWhy(t *testing.T) {
	t.Parallel()
	// The first problem goes at once; while it is being written, the others come, and
	// wait for the next turn.
	w := &heldWriter{entered: make(chan struct{}), open: make(chan struct{})}
	p := notifier.NewForTest(w, nil, 10*time.Millisecond, notifier.Options{Host: "h"})
	problem := func(file, why string) supervisor.Event {
		return supervisor.Event{Kind: supervisor.KindProblem, Job: file, Host: "h", Note: "not loaded; the other jobs run",
			Output: []byte(why + "\n"), OutputLines: 1}
	}
	started := func(n int) supervisor.Event {
		return supervisor.Event{Kind: supervisor.KindStart, Job: "worker", Host: "h", Start: time.Now().Add(time.Duration(n) * time.Second),
			Notify: supervisor.Notify{On: []supervisor.Kind{supervisor.KindStart}}}
	}
	p.Emit(problem("jobs.d/a.toml", "jobs.d/a.toml:1: comand: unknown key"))
	<-w.entered
	long := "/srv/deployments/2026-12-03/customer-reports/supervise/jobs.d/b.toml" // the reason must not be cut for the path
	p.Emit(problem(long, long+":3: timeout: \"5 minutes\" is not a duration"))
	p.Emit(started(1))
	p.Emit(problem("jobs.d/c.toml", "jobs.d/c.toml:2: schedule: bad cron expression"))
	p.Emit(started(2))
	close(w.open)
	if err := p.Close(context.Background()); err != nil { // Close sends what waits, at its turn
		t.Fatal(err)
	}
	text := w.out.String()
	for _, want := range []string{"🚨 3 alerts on h: 2 problems, 1 started", "⚠️ not loaded: " + long + `:3: timeout: "5 minutes" is not a duration`,
		"jobs.d/c.toml:2: schedule: bad cron expression"} {
		if !strings.Contains(text, want) {
			t.Errorf("the digest does not say %q:\n%s", want, text)
		}
	}
	if n := strings.Count(text, "worker started"); n != 1 {
		t.Errorf("worker has %d lines, want 1:\n%s", n, text)
	}
}

// heldWriter holds its first Write until open is closed, saying on entered that it
// has begun.
type heldWriter struct {
	entered, open chan struct{}
	once          sync.Once
	out           syncBuffer
}

func (h *heldWriter) Write(b []byte) (int, error) {
	h.once.Do(func() { close(h.entered) })
	<-h.open
	return h.out.Write(b)
}

// A console cannot edit: it prints an incident's first message, each new stage of it
// (the crash loop) and each failed run of a job that is not restarted, not each death
// of a loop; and the recovery.
func TestConsolePrintsWhatAnEditWouldTell(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	p := notifier.NewForTest(&out, nil, 0, notifier.Options{Host: "h"})
	printed := func(what string, n int) {
		t.Helper()
		testkit.Eventually(t, fmt.Sprintf("%q printed %d times", what, n), func() bool { return strings.Count(out.String(), what) == n })
	}
	p.Emit(death(1, false))
	printed("web failed", 1)
	for n := 2; n <= 5; n++ {
		p.Emit(death(n, false))
	}
	loop := death(6, true)
	loop.Kind, loop.Crashes = supervisor.KindRestartLoop, 6
	p.Emit(death(6, true))
	p.Emit(loop)
	printed("web is crash-looping", 1)
	p.Emit(death(7, true))
	p.Emit(supervisor.Event{Kind: supervisor.KindRecovery, Job: "web", Host: "h", Down: time.Minute, Crashes: 7,
		Notify: supervisor.Notify{On: supervisor.DefaultNotifyOn}})
	printed("web recovered", 1)
	backup := failed("backup")
	backup.Notify.On = supervisor.DefaultNotifyOn
	p.Emit(backup)
	printed("backup failed", 1)
	p.Emit(backup)
	printed("backup failed", 2)
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for what, want := range map[string]int{"web failed": 1, "web is crash-looping": 1, "web recovered": 1, "backup failed": 2, "✅": 0} {
		if n := strings.Count(text, what); n != want {
			t.Errorf("%q printed %d times, want %d:\n%s", what, n, want, text)
		}
	}
}

// A run that stays up healthy resolves a crash loop that an earlier supervise left
// open, and says nothing of a silence, in this supervise or an earlier one: the job
// may be as silent as before.
func TestHealthyRunResolvesOnlyAnEarlierCrashLoop(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	state := t.TempDir()
	var stderr syncBuffer
	on := supervisor.Notify{On: supervisor.DefaultNotifyOn}
	silence := func(job string) supervisor.Event {
		return supervisor.Event{Kind: supervisor.KindHeartbeat, Job: job, Host: "h", Silent: 10 * time.Second,
			Every: 5 * time.Second, Restarting: true, Notify: on}
	}
	healthy := func(job string) supervisor.Event {
		return supervisor.Event{Kind: supervisor.KindRecovery, Job: job, Host: "h", Healthy: true, Notify: on}
	}
	first := incidents(t, srv, state, &stderr, false)
	first.Emit(death(1, false)) // web: a crash, left open
	testkit.Eventually(t, "web's message", func() bool { return len(srv.Messages()) == 1 })
	first.Emit(silence("worker")) // after it, so not in one digest with it
	if err := first.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	second := incidents(t, srv, state, &stderr, false)
	second.Emit(silence("quiet")) // opened by this supervise
	testkit.Eventually(t, "three incidents told", func() bool { return len(srv.Messages()) == 3 })
	for _, job := range []string{"web", "worker", "quiet"} {
		second.Emit(healthy(job))
	}
	if err := second.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages()
	if len(msgs) != 4 || msgs[3].ReplyTo != msgs[0].ID {
		t.Fatalf("messages %+v, want the three incidents and a reply to web's", msgs)
	}
	for i, want := range []string{"✅ web resolved", "💔 worker", "💔 quiet"} {
		if m := current(t, srv, msgs[i].ID); !strings.HasPrefix(m.Text, "<b>"+want) {
			t.Errorf("message %d reads %q, want it to start %q", i, m.Text, want)
		}
	}
}

// Missed runs (a dead man's switch, or runs skipped for a long one) are resolved by
// the job's next success, with one reply: the recovery up emits after it adds none.
func TestMissedRunRecoveryIsToldOnce(t *testing.T) {
	t.Parallel()
	srv, p, _ := incidentChat(t, false)
	on := supervisor.Notify{On: supervisor.DefaultNotifyOn}
	p.Emit(supervisor.Event{Kind: supervisor.KindHeartbeat, Job: "backup", Host: "h", Missed: time.Now().Add(-time.Hour), MissedRuns: 3,
		Note: "3 runs in a row skipped: the run due at 03:00 is still going (overlap = skip)", Notify: on})
	testkit.Eventually(t, "the missed runs' message", func() bool { return len(srv.Messages()) == 1 })
	start := time.Now()
	p.Emit(supervisor.Event{Kind: supervisor.KindSuccess, Job: "backup", Host: "h", Start: start, Duration: time.Second, Notify: on})
	p.Emit(supervisor.Event{Kind: supervisor.KindRecovery, Job: "backup", Host: "h", Start: start, Duration: time.Second,
		Note: "a scheduled run succeeded again", Notify: on})
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantResolvedByReply(t, srv, "backup")
}

// A broken job file's incident ends when the file loads again, or when it is gone
// and its folder loads.
func TestJobFileIncidentEnds(t *testing.T) {
	t.Parallel()
	srv, p, _ := incidentChat(t, false)
	dir := t.TempDir()
	fixed, removed := filepath.Join(dir, "fixed.toml"), filepath.Join(dir, "removed.toml")
	for _, f := range []string{fixed, removed} {
		p.Emit(supervisor.Event{Kind: supervisor.KindProblem, Job: f, Host: "h", Note: "not loaded; the other jobs run",
			Output: []byte(f + ":1: comand: unknown key\n")})
		testkit.Eventually(t, "the message about "+f, func() bool {
			msgs := srv.Messages()
			return len(msgs) > 0 && strings.Contains(msgs[len(msgs)-1].Text, f)
		})
	}
	if err := os.WriteFile(fixed, []byte("command = \"true\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// up says of every file that loads, and of the folder, that they load.
	p.Emit(supervisor.Event{Kind: supervisor.KindRecovery, Job: fixed, Host: "h", Fixed: true, Note: "it loads again"})
	p.Emit(supervisor.Event{Kind: supervisor.KindRecovery, Job: dir, Host: "h", Fixed: true, Note: "it loads again"})
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages()
	if len(msgs) != 4 {
		t.Fatalf("%d messages, want two problems and a reply to each: %+v", len(msgs), msgs)
	}
	for _, m := range msgs[:2] {
		if cur := current(t, srv, m.ID); !strings.HasPrefix(cur.Text, "<b>✅ ") {
			t.Errorf("the problem's message reads %q, want it resolved", cur.Text)
		}
	}
}

// A job restarted whatever its status that exits 0 in a crash loop: its deaths with
// status 0 keep the incident current as deaths, not as successes.
func TestExitZeroIsADeathOfALoop(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	p := notifier.NewForTest(&out, nil, 0, notifier.Options{Host: "h"})
	p.Emit(death(1, false))
	testkit.Eventually(t, "the first death told", func() bool { return strings.Contains(out.String(), "web failed") })
	zero := death(2, false)
	zero.Kind, zero.ExitCode, zero.Restarting = supervisor.KindSuccess, 0, false // as up emits it
	p.Emit(zero)
	p.Emit(zero) // a failure-stage incident of a restarting job: the console prints nothing new
	loop := death(3, true)
	loop.Kind, loop.Crashes = supervisor.KindRestartLoop, 3
	p.Emit(loop)
	testkit.Eventually(t, "the loop told", func() bool { return strings.Contains(out.String(), "crash-looping") })
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if text := out.String(); strings.Contains(text, "succeeded") || !strings.Contains(text, "exit 0") {
		t.Errorf("the deaths with status 0 are told as successes, or not at all:\n%s", text)
	}
}

// A file in the book's place that is not a book is set aside as .bad, said once on
// stderr, and the incidents start anew: a failure still opens one and is told.
func TestBadBookIsSetAside(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	state := t.TempDir()
	book := filepath.Join(state, "incidents.json")
	if err := os.WriteFile(book, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	p := incidents(t, srv, state, &stderr, false)
	p.Emit(death(1, false))
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(srv.Messages()) != 1 {
		t.Errorf("%d messages, want the failure told", len(srv.Messages()))
	}
	if data, err := os.ReadFile(book + ".bad"); err != nil || string(data) != "{not json" {
		t.Errorf("the bad file is not kept as .bad: %q, %v", data, err)
	}
	if n := strings.Count(stderr.String(), "not JSON: invalid character 'n' looking for beginning of object key string; set aside as incidents.json.bad"); n != 1 {
		t.Errorf("said %d times on stderr, want once:\n%s", n, stderr.String())
	}
}

// A run stopped for its heartbeat (run's action = restart) tells only its silence;
// the job's next run that succeeds resolves it, with a reply.
func TestSilentRunResolvedByTheNextSuccess(t *testing.T) {
	t.Parallel()
	srv, p, _ := incidentChat(t, false)
	on := supervisor.Notify{On: supervisor.DefaultNotifyOn}
	first := time.Now().Add(-time.Hour)
	p.Emit(supervisor.Event{Kind: supervisor.KindHeartbeat, Job: "backup", Host: "h", Start: first, Silent: time.Minute,
		Every: time.Minute, Notify: on})
	testkit.Eventually(t, "the silence's message", func() bool { return len(srv.Messages()) == 1 })
	p.Emit(supervisor.Event{Kind: supervisor.KindSuccess, Job: "backup", Host: "h", Start: time.Now(), Duration: time.Second, Notify: on})
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantResolvedByReply(t, srv, "backup")
}
