package supervisor_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/supervise/supervise/supervisor"
)

// scheduled is a shell job on schedule spec, which appends "start" and "end" to the
// file log around script.
func scheduled(t *testing.T, spec, log, script string) *supervisor.Job {
	t.Helper()
	s, err := supervisor.ParseSchedule(spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	job := upJob("batch", "echo start >> "+log+"; "+script+"; echo end >> "+log)
	job.Schedule, job.Restart = s, supervisor.RestartNever
	return job
}

// upFor runs a daemon keeping its last-run times in runs, with jobs, for d.
func upFor(t *testing.T, d time.Duration, runs string, jobs ...*supervisor.Job) (*recorder, string) {
	t.Helper()
	rec := &recorder{}
	out := &syncBuffer{}
	daemon := &supervisor.Daemon{Host: "testhost", Stdout: out, Stderr: out, Events: rec, RunsDir: runs}
	halt := start(daemon, jobs...)
	time.Sleep(d)
	halt()
	return rec, out.String()
}

func lines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

// @every 300ms for 1.65s: due at 0.3, 0.6, 0.9, 1.2 and 1.5s, each run reported as
// the job asks. The times follow the schedule, not the runs, so they do not drift.
func TestEveryRunsOnTime(t *testing.T) {
	log := filepath.Join(t.TempDir(), "log")
	job := scheduled(t, "@every 300ms", log, "true")
	job.Notify.On = []supervisor.Kind{supervisor.KindSuccess, supervisor.KindFailure}
	rec, out := upFor(t, 1650*time.Millisecond, t.TempDir(), job)
	if got := strings.Count(strings.Join(lines(t, log), " "), "start end"); got != 5 {
		t.Errorf("%d runs, want 5; log %v\n%s", got, lines(t, log), out)
	}
	if kinds := rec.kinds(); count(kinds, supervisor.KindSuccess) != 5 || len(kinds) != 5 {
		t.Errorf("events %v, want 5 successes", kinds)
	}
	if !strings.Contains(out, "batch: next run at ") {
		t.Errorf("up does not say when the job runs next:\n%s", out)
	}
}

// overlap = skip: runs due while the last goes are skipped and logged; three in a row
// are told to the chat once.
func TestOverlapSkip(t *testing.T) {
	log := filepath.Join(t.TempDir(), "log")
	// Due at 0.4s (runs until 1.8s), 0.8, 1.2, 1.6 (skipped), 2.0 (runs).
	job := scheduled(t, "@every 400ms", log, "sleep 1.4")
	rec, out := upFor(t, 2200*time.Millisecond, t.TempDir(), job)
	if got := lines(t, log); strings.Join(got, " ") != "start end start" {
		t.Errorf("log %v, want one whole run and one begun\n%s", got, out)
	}
	if n := strings.Count(out, "skipped: the run due at"); n != 3 {
		t.Errorf("%d skips logged, want 3:\n%s", n, out)
	}
	kinds := rec.kinds()
	if count(kinds, supervisor.KindProblem) != 1 || len(kinds) != 1 || !strings.Contains(rec.events[0].Note, "3 runs in a row skipped") {
		t.Errorf("events %+v, want one problem about 3 skipped runs", rec.events)
	}
}

// overlap = queue: a run due while the last goes starts when it ends; however many
// come due meanwhile, one waits. Runs never overlap.
func TestOverlapQueue(t *testing.T) {
	log := filepath.Join(t.TempDir(), "log")
	job := scheduled(t, "@every 200ms", log, "sleep 0.8")
	job.Overlap = supervisor.OverlapQueue
	// 0.2–1.0, then at once 1.0–1.8, then 1.8–: three starts in 2.1s, where skip
	// would start at 0.2, 1.2 and 2.2 and an unbounded queue would pile up.
	_, out := upFor(t, 2100*time.Millisecond, t.TempDir(), job)
	got := lines(t, log)
	if strings.Join(got, " ") != "start end start end start" {
		t.Errorf("log %v, want three runs one after the other\n%s", got, out)
	}
	if n := strings.Count(out, "queued: the run due at"); n < 5 {
		t.Errorf("%d queued runs logged, want one per due time while a run goes:\n%s", n, out)
	}
}

// overlap = kill: the run under way is stopped, with its stop_signal, when the next
// is due, and reported as stopped for that reason.
func TestOverlapKill(t *testing.T) {
	log := filepath.Join(t.TempDir(), "log")
	job := scheduled(t, "@every 500ms", log, "exec sleep 10")
	job.Overlap = supervisor.OverlapKill
	rec, out := upFor(t, 1750*time.Millisecond, t.TempDir(), job)
	if got := lines(t, log); strings.Join(got, " ") != "start start start" {
		t.Errorf("log %v, want three runs each stopped by the next\n%s", got, out)
	}
	kinds := rec.kinds()
	if count(kinds, supervisor.KindFailure) != 2 || len(kinds) != 2 {
		t.Fatalf("events %v, want two failures, for the runs killed", kinds)
	}
	for _, ev := range rec.events {
		if ev.Signal != syscall.SIGTERM || !strings.Contains(ev.Note, "overlap = kill") {
			t.Errorf("event %+v, want a run killed by SIGTERM because of overlap = kill", ev)
		}
	}
}

// After up was down across due times, it says once which runs it missed, and with
// catch_up runs the job at once.
func TestMissedRunsAfterDowntime(t *testing.T) {
	runs, log := t.TempDir(), filepath.Join(t.TempDir(), "log")
	job := scheduled(t, "@every 500ms", log, "true")
	// Up from 0 to 0.7s: a run at 0.5s. Down until 1.8s: the runs due at 1.0 and
	// 1.5s are missed. Up again for 0.3s: nothing is due in that time.
	rec, out := upFor(t, 700*time.Millisecond, runs, job)
	if len(rec.events) != 0 || len(lines(t, log)) != 2 {
		t.Fatalf("first up: events %v, log %v\n%s", rec.kinds(), lines(t, log), out)
	}
	time.Sleep(1100 * time.Millisecond)
	job.CatchUp = true
	rec, out = upFor(t, 300*time.Millisecond, runs, job)
	if kinds := rec.kinds(); len(kinds) != 1 || kinds[0] != supervisor.KindHeartbeat {
		t.Fatalf("second up: events %v, want one heartbeat about missed runs\n%s", kinds, out)
	}
	ev := rec.events[0]
	if ev.MissedRuns != 2 || ev.Missed.IsZero() || !strings.Contains(ev.Note, "catch_up") {
		t.Errorf("event says %d missed, the last due at %v, note %q; want 2 and a catch-up", ev.MissedRuns, ev.Missed, ev.Note)
	}
	if got := lines(t, log); len(got) != 4 {
		t.Errorf("log %v, want the run caught up", got)
	}
	// Said once: the next start finds nothing missed.
	rec, out = upFor(t, 100*time.Millisecond, runs, job)
	if len(rec.events) != 0 {
		t.Errorf("third up: events %v, want none\n%s", rec.kinds(), out)
	}
}

// With expect_success_within, a run that has not succeeded in that time after its
// due time is told once, even while the runs after it are skipped.
func TestExpectSuccessWithin(t *testing.T) {
	log := filepath.Join(t.TempDir(), "log")
	job := scheduled(t, "@every 300ms", log, "sleep 10")
	job.ExpectSuccessWithin = 200 * time.Millisecond
	rec, out := upFor(t, 1200*time.Millisecond, t.TempDir(), job)
	kinds := rec.kinds()
	if count(kinds, supervisor.KindHeartbeat) != 1 {
		t.Fatalf("events %v, want one heartbeat\n%s", kinds, out)
	}
	for _, ev := range rec.events {
		if ev.Kind == supervisor.KindHeartbeat && (ev.Expect != job.ExpectSuccessWithin || !strings.Contains(ev.Note, "still going")) {
			t.Errorf("event %+v, want it to say the run is still going past its expected time", ev)
		}
	}
}

// A run that "succeeds" sooner than min_runtime failed.
func TestMinRuntime(t *testing.T) {
	job := childJob(t, "exit 0")
	job.MinRuntime = time.Minute
	res, rec, _ := run(t, job, nil)
	if res.Kind() != supervisor.KindFailure || res.Status() != 1 || !res.TooShort {
		t.Errorf("result %+v, want a failure with status 1", res)
	}
	if kinds := rec.kinds(); len(kinds) != 1 || rec.events[0].MinRuntime != time.Minute {
		t.Errorf("events %+v, want one failure that names min_runtime", rec.events)
	}
}

// Under up as under run, a run shorter than min_runtime is a failure that says why.
func TestMinRuntimeUnderUp(t *testing.T) {
	log := filepath.Join(t.TempDir(), "log")
	job := scheduled(t, "@every 500ms", log, "true")
	job.MinRuntime = time.Minute
	rec, _ := upFor(t, 800*time.Millisecond, t.TempDir(), job)
	if len(rec.events) != 1 || rec.events[0].Kind != supervisor.KindFailure || rec.events[0].MinRuntime != time.Minute {
		t.Errorf("events %+v, want one failure naming min_runtime", rec.events)
	}
}

// A run that up stopped when it stopped itself is a missed run at the next start,
// and is caught up.
func TestRunStoppedByShutdownIsMissed(t *testing.T) {
	runs, log := t.TempDir(), filepath.Join(t.TempDir(), "log")
	job := scheduled(t, "@every 400ms", log, "sleep 10")
	job.CatchUp = true
	if rec, out := upFor(t, 500*time.Millisecond, runs, job); len(rec.events) != 0 {
		t.Fatalf("first up: events %v\n%s", rec.kinds(), out)
	}
	rec, out := upFor(t, 250*time.Millisecond, runs, job)
	if len(rec.events) != 1 || rec.events[0].MissedRuns != 1 || !strings.Contains(rec.events[0].Note, "stopped before the run") {
		t.Fatalf("second up: events %+v, want the stopped run missed\n%s", rec.events, out)
	}
	if got := lines(t, log); len(got) != 2 {
		t.Errorf("log %v, want the stopped run caught up", got)
	}
}

// A reload that removes a scheduled job and one that adds it back later miss nothing:
// the job was not due meanwhile. A reload that takes a dead man's switch away while
// checks are pending does no harm.
func TestScheduledReloads(t *testing.T) {
	runs, log := t.TempDir(), filepath.Join(t.TempDir(), "log")
	job := scheduled(t, "@every 200ms", log, "true")
	job.Heartbeat = &supervisor.Heartbeat{Every: time.Second, Grace: 500 * time.Millisecond}
	td := startPings(t, runs, job)
	ctx := context.Background()
	time.Sleep(700 * time.Millisecond) // three runs, their checks pending
	plain := *job
	plain.Heartbeat = nil
	td.Reload(ctx, []*supervisor.Job{&plain}, nil)
	time.Sleep(700 * time.Millisecond) // the checks come due
	td.Reload(ctx, nil, nil)
	time.Sleep(600 * time.Millisecond) // three due times pass while it is removed
	td.Reload(ctx, []*supervisor.Job{&plain}, nil)
	time.Sleep(100 * time.Millisecond)
	td.halt()
	if len(td.rec.events) != 0 {
		t.Errorf("events %+v, want none\n%s", td.rec.events, td.out)
	}
}

// A reload that changes a scheduled job's command while it runs replaces the run:
// neither the new keeper nor the next start of up calls it missed.
func TestReloadMidRunMissesNothing(t *testing.T) {
	runs, log := t.TempDir(), filepath.Join(t.TempDir(), "log")
	job := scheduled(t, "@every 300ms", log, "sleep 10")
	job.CatchUp = true
	td := startPings(t, runs, job)
	time.Sleep(400 * time.Millisecond) // the run due at 0.3s goes on
	changed := scheduled(t, "@every 300ms", log, "sleep 11")
	changed.CatchUp = true
	td.Reload(context.Background(), []*supervisor.Job{changed}, nil)
	time.Sleep(100 * time.Millisecond)
	td.halt()
	rec, out := upFor(t, 100*time.Millisecond, runs, changed)
	if n := count(td.rec.kinds(), supervisor.KindHeartbeat) + count(rec.kinds(), supervisor.KindHeartbeat); n != 0 {
		t.Errorf("events %v then %v, want no missed run\n%s%s", td.rec.kinds(), rec.kinds(), td.out, out)
	}
}

// A run waiting out its jitter when up stops is missed, not lost.
func TestJitteredRunAtStopIsMissed(t *testing.T) {
	runs, log := t.TempDir(), filepath.Join(t.TempDir(), "log")
	job := scheduled(t, "@every 200ms", log, "true")
	job.Jitter = time.Hour
	if rec, _ := upFor(t, 300*time.Millisecond, runs, job); len(rec.events) != 0 {
		t.Fatalf("first up: events %v", rec.kinds())
	}
	job.Jitter = 0
	rec, out := upFor(t, 100*time.Millisecond, runs, job)
	if len(rec.events) != 1 || rec.events[0].MissedRuns < 1 {
		t.Errorf("events %+v, want the run that waited for its jitter missed\n%s", rec.events, out)
	}
}

// The dead man's switch counts from when a run was to start, jitter included, so
// jitter longer than expect_success_within raises no false alarm.
func TestExpectSuccessWithJitter(t *testing.T) {
	log := filepath.Join(t.TempDir(), "log")
	job := scheduled(t, "@every 300ms", log, "true")
	job.Jitter, job.ExpectSuccessWithin = 250*time.Millisecond, 150*time.Millisecond
	rec, out := upFor(t, 1500*time.Millisecond, t.TempDir(), job)
	if len(rec.events) != 0 {
		t.Errorf("events %+v, want none\n%s", rec.events, out)
	}
}

// A scheduled run that stalls is restarted once; if it stalls again it waits for the
// job's next time, with one message in all.
func TestScheduledRestartOnce(t *testing.T) {
	log := filepath.Join(t.TempDir(), "log")
	job := scheduled(t, "@every 2s", log, "sleep 10")
	job.Heartbeat = &supervisor.Heartbeat{Every: 200 * time.Millisecond, Grace: 100 * time.Millisecond, Action: supervisor.ActionRestart}
	rec, out := upFor(t, 3*time.Second, t.TempDir(), job)
	// Due at 2s: late at 2.3, restarted, late at 2.6 and left.
	if got := lines(t, log); strings.Join(got, " ") != "start start" {
		t.Errorf("log %v, want the run and one restart\n%s", got, out)
	}
	if kinds := rec.kinds(); count(kinds, supervisor.KindHeartbeat) != 1 {
		t.Errorf("events %v, want one heartbeat", kinds)
	}
}

// A run that succeeds after its dead man's switch went off is the recovery: one
// heartbeat message, then one recovery.
func TestExpectSuccessRecovers(t *testing.T) {
	dir := t.TempDir()
	log, mark := filepath.Join(dir, "log"), filepath.Join(dir, "slow-once")
	job := scheduled(t, "@every 300ms", log, "if [ ! -e "+mark+" ]; then touch "+mark+"; sleep 0.6; fi")
	job.ExpectSuccessWithin = 200 * time.Millisecond
	job.Notify.On = []supervisor.Kind{supervisor.KindHeartbeat, supervisor.KindRecovery, supervisor.KindFailure}
	rec, out := upFor(t, 1500*time.Millisecond, t.TempDir(), job)
	kinds := rec.kinds()
	if len(kinds) != 2 || kinds[0] != supervisor.KindHeartbeat || kinds[1] != supervisor.KindRecovery {
		t.Fatalf("events %v, want a heartbeat and then its recovery\n%s", kinds, out)
	}
	if note := rec.events[1].Note; note != "a scheduled run succeeded again" {
		t.Errorf("recovery says %q", note)
	}
}
