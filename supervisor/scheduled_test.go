package supervisor_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/supervise/supervise/internal/testkit"
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

// gated is a script that waits until the file gate exists: a run the test ends.
func gated(gate string) string {
	return "until [ -e " + gate + " ]; do sleep 0.01; done"
}

// startScheduled starts a daemon with a fake clock, keeping its jobs' last runs in
// runs, with the fake time moved on by ahead first (as if it started later).
func startScheduled(t *testing.T, runs string, ahead time.Duration, jobs ...*supervisor.Job) *testDaemon {
	t.Helper()
	return startUp(t, func(td *testDaemon) {
		withClock(td)
		td.clock.Advance(ahead)
		td.RunsDir = runs
	}, jobs...)
}

// tick moves the fake time on to the job's next due time, once it waits for it.
func (td *testDaemon) tick(t *testing.T, name string) {
	t.Helper()
	td.untilScheduled(t, name)
	td.clock.Advance(td.status(name).NextRun.Sub(td.clock.Now()))
}

// untilLog waits until the file log reads want, its words joined by spaces.
func untilLog(t *testing.T, log, want string) {
	t.Helper()
	testkit.Eventually(t, "log "+want, func() bool { return strings.Join(lines(t, log), " ") == want })
}

func lines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

// A scheduled job runs at its times, each run reported as the job asks, and up says
// when it runs next.
func TestEveryRunsOnTime(t *testing.T) {
	t.Parallel()
	log := filepath.Join(t.TempDir(), "log")
	job := scheduled(t, "@every 300ms", log, "true")
	job.Notify.On = []supervisor.Kind{supervisor.KindSuccess, supervisor.KindFailure}
	td := startScheduled(t, t.TempDir(), 0, job)
	t0 := td.clock.Now()
	want := ""
	for range 5 {
		td.tick(t, "batch")
		want = strings.TrimSpace(want + " start end")
		untilLog(t, log, want)
	}
	td.untilScheduled(t, "batch")
	if next := td.status("batch").NextRun; !next.Equal(t0.Add(6 * 300 * time.Millisecond)) {
		t.Errorf("next run at %v, want on the schedule's grid, %v", next, t0.Add(6*300*time.Millisecond))
	}
	td.halt()
	if kinds := td.rec.kinds(); count(kinds, supervisor.KindSuccess) != 5 || len(kinds) != 5 {
		t.Errorf("events %v, want 5 successes", kinds)
	}
	if !strings.Contains(td.out.String(), "batch: next run at ") {
		t.Errorf("up does not say when the job runs next:\n%s", td.out)
	}
}

// overlap = skip: runs due while the last goes are skipped and logged; three in a row
// are told to the chat once, and the next success is their recovery.
func TestOverlapSkip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	log, gate := filepath.Join(dir, "log"), filepath.Join(dir, "gate")
	td := startScheduled(t, dir, 0, scheduled(t, "@every 400ms", log, gated(gate)))
	td.tick(t, "batch")
	untilLog(t, log, "start")
	for i := 1; i <= 3; i++ {
		td.clock.Advance(400 * time.Millisecond)
		td.until(t, fmt.Sprintf("%d skips", i), func() bool { return strings.Count(td.out.String(), "skipped: the run due at") == i })
	}
	td.until(t, "the skips told", func() bool { return td.rec.count(supervisor.KindHeartbeat) == 1 })
	os.WriteFile(gate, nil, 0o600)
	untilLog(t, log, "start end")
	td.tick(t, "batch")
	untilLog(t, log, "start end start end")
	td.halt()
	// The long run's success ends the missed runs: their recovery, once.
	kinds := td.rec.kinds()
	if !equalKinds(kinds, []supervisor.Kind{supervisor.KindHeartbeat, supervisor.KindRecovery}) ||
		!strings.Contains(td.rec.events[0].Note, "3 runs in a row skipped") {
		t.Errorf("events %+v, want one heartbeat about 3 skipped runs, then its recovery", td.rec.events)
	}
}

// overlap = queue: a run due while the last goes starts when it ends; however many
// come due meanwhile, one waits. Runs never overlap.
func TestOverlapQueue(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	log, gate := filepath.Join(dir, "log"), filepath.Join(dir, "gate")
	job := scheduled(t, "@every 200ms", log, gated(gate))
	job.Overlap = supervisor.OverlapQueue
	td := startScheduled(t, dir, 0, job)
	td.tick(t, "batch")
	untilLog(t, log, "start")
	for i := 1; i <= 4; i++ {
		td.clock.Advance(200 * time.Millisecond)
		td.until(t, fmt.Sprintf("%d queued", i), func() bool { return strings.Count(td.out.String(), "queued: the run due at") == i })
	}
	os.WriteFile(gate, nil, 0o600) // the run ends, and the one queued runs at once
	untilLog(t, log, "start end start end")
	td.untilScheduled(t, "batch")
	td.halt()
	if got := lines(t, log); strings.Join(got, " ") != "start end start end" {
		t.Errorf("log %v, want two runs one after the other\n%s", got, td.out)
	}
}

// overlap = kill: the run under way is stopped, with its stop_signal, when the next
// is due, and reported as stopped for that reason.
func TestOverlapKill(t *testing.T) {
	t.Parallel()
	log := filepath.Join(t.TempDir(), "log")
	job := scheduled(t, "@every 500ms", log, "exec sleep 10")
	job.Overlap = supervisor.OverlapKill
	td := startScheduled(t, t.TempDir(), 0, job)
	td.tick(t, "batch")
	untilLog(t, log, "start")
	for _, want := range []string{"start start", "start start start"} {
		td.clock.Advance(500 * time.Millisecond)
		untilLog(t, log, want)
	}
	td.until(t, "two runs killed", func() bool { return td.rec.count(supervisor.KindFailure) == 2 })
	td.halt()
	kinds := td.rec.kinds()
	if count(kinds, supervisor.KindFailure) != 2 || len(kinds) != 2 {
		t.Fatalf("events %v, want two failures, for the runs killed", kinds)
	}
	for _, ev := range td.rec.events {
		if ev.Signal != syscall.SIGTERM || !strings.Contains(ev.Note, "overlap = kill") {
			t.Errorf("event %+v, want a run killed by SIGTERM because of overlap = kill", ev)
		}
	}
}

// After up was down across due times, it says once which runs it missed, and with
// catch_up runs the job at once.
func TestMissedRunsAfterDowntime(t *testing.T) {
	t.Parallel()
	runs, log := t.TempDir(), filepath.Join(t.TempDir(), "log")
	job := scheduled(t, "@every 500ms", log, "true")
	// Up from 0 to 0.5s, with a run at 0.5s. Down until 1.8s: the runs due at 1.0 and
	// 1.5s are missed.
	td := startScheduled(t, runs, 0, job)
	td.tick(t, "batch")
	untilLog(t, log, "start end")
	td.untilScheduled(t, "batch")
	td.halt()
	if len(td.rec.events) != 0 {
		t.Fatalf("first up: events %v\n%s", td.rec.kinds(), td.out)
	}
	job.CatchUp = true
	td = startScheduled(t, runs, 1800*time.Millisecond, job)
	untilLog(t, log, "start end start end")
	td.untilScheduled(t, "batch")
	td.halt()
	if kinds := td.rec.kinds(); len(kinds) != 1 || kinds[0] != supervisor.KindHeartbeat {
		t.Fatalf("second up: events %v, want one heartbeat about missed runs\n%s", kinds, td.out)
	}
	ev := td.rec.events[0]
	if ev.MissedRuns != 2 || ev.Missed.IsZero() || !strings.Contains(ev.Note, "catch_up") {
		t.Errorf("event says %d missed, the last due at %v, note %q; want 2 and a catch-up", ev.MissedRuns, ev.Missed, ev.Note)
	}
	// Said once: the next start finds nothing missed.
	td = startScheduled(t, runs, 1900*time.Millisecond, job)
	td.untilScheduled(t, "batch")
	td.halt()
	if len(td.rec.events) != 0 {
		t.Errorf("third up: events %v, want none\n%s", td.rec.kinds(), td.out)
	}
}

// With expect_success_within, a run that has not succeeded in that time after its
// due time is told, and says it is still going.
func TestExpectSuccessWithin(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	job := scheduled(t, "@every 300ms", log, "exec sleep 10")
	job.ExpectSuccessWithin = 200 * time.Millisecond
	td := startScheduled(t, dir, 0, job)
	td.tick(t, "batch")
	untilLog(t, log, "start")
	td.clock.Advance(200 * time.Millisecond)
	td.until(t, "a heartbeat", func() bool { return td.rec.count(supervisor.KindHeartbeat) == 1 })
	td.halt()
	if ev := td.rec.events[0]; ev.Expect != job.ExpectSuccessWithin || !strings.Contains(ev.Note, "still going") {
		t.Errorf("event %+v, want it to say the run is still going past its expected time", ev)
	}
}

// A run that "succeeds" sooner than min_runtime failed.
func TestMinRuntime(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
	log := filepath.Join(t.TempDir(), "log")
	job := scheduled(t, "@every 500ms", log, "true")
	job.MinRuntime = time.Minute
	td := startScheduled(t, t.TempDir(), 0, job)
	td.tick(t, "batch")
	td.until(t, "a failure", func() bool { return td.rec.count(supervisor.KindFailure) == 1 })
	td.halt()
	if len(td.rec.events) != 1 || td.rec.events[0].MinRuntime != time.Minute {
		t.Errorf("events %+v, want one failure naming min_runtime", td.rec.events)
	}
}

// A run that up stopped when it stopped itself is a missed run at the next start,
// and is caught up.
func TestRunStoppedByShutdownIsMissed(t *testing.T) {
	t.Parallel()
	runs, log := t.TempDir(), filepath.Join(t.TempDir(), "log")
	job := scheduled(t, "@every 400ms", log, "exec sleep 10")
	job.CatchUp = true
	td := startScheduled(t, runs, 0, job)
	td.tick(t, "batch")
	untilLog(t, log, "start")
	td.halt()
	if len(td.rec.events) != 0 {
		t.Fatalf("first up: events %v\n%s", td.rec.kinds(), td.out)
	}
	td = startScheduled(t, runs, 500*time.Millisecond, job)
	untilLog(t, log, "start start")
	td.halt()
	if evs := td.rec.events; len(evs) != 1 || evs[0].MissedRuns != 1 || !strings.Contains(evs[0].Note, "stopped before the run") {
		t.Fatalf("second up: events %+v, want the stopped run missed\n%s", evs, td.out)
	}
}

// A reload that removes a scheduled job and one that adds it back later miss nothing:
// the job was not due meanwhile. A reload that takes a dead man's switch away while
// checks are pending does no harm.
func TestScheduledReloads(t *testing.T) {
	t.Parallel()
	runs, log := t.TempDir(), filepath.Join(t.TempDir(), "log")
	job := scheduled(t, "@every 200ms", log, "true")
	job.Heartbeat = &supervisor.Heartbeat{Every: time.Second, Grace: 500 * time.Millisecond}
	td := startScheduled(t, runs, 0, job)
	ctx := context.Background()
	for _, want := range []string{"start end", "start end start end"} { // two runs, their checks pending
		td.tick(t, "batch")
		untilLog(t, log, want)
	}
	plain := *job
	plain.Heartbeat = nil
	td.Reload(ctx, []*supervisor.Job{&plain}, nil)
	td.untilScheduled(t, "batch")            // the second run has ended, not only written its end
	td.clock.Advance(700 * time.Millisecond) // the checks come due, and one run
	untilLog(t, log, "start end start end start end")
	td.Reload(ctx, nil, nil)
	td.until(t, "the job removed", func() bool { return td.status("batch").Name == "" })
	td.clock.Advance(600 * time.Millisecond) // three due times pass while it is removed
	td.Reload(ctx, []*supervisor.Job{&plain}, nil)
	td.untilScheduled(t, "batch")
	td.halt()
	if len(td.rec.events) != 0 {
		t.Errorf("events %+v, want none\n%s", td.rec.events, td.out)
	}
}

// A reload that changes a scheduled job's command while it runs replaces the run:
// neither the new version nor the next start of up calls it missed.
func TestReloadMidRunMissesNothing(t *testing.T) {
	t.Parallel()
	runs, log := t.TempDir(), filepath.Join(t.TempDir(), "log")
	job := scheduled(t, "@every 300ms", log, "exec sleep 10")
	job.CatchUp = true
	td := startScheduled(t, runs, 0, job)
	td.tick(t, "batch")
	untilLog(t, log, "start") // the run due at 0.3s goes on
	changed := scheduled(t, "@every 300ms", log, "exec sleep 11")
	changed.CatchUp = true
	td.Reload(context.Background(), []*supervisor.Job{changed}, nil)
	td.untilScheduled(t, "batch")
	td.halt()
	again := startScheduled(t, runs, 400*time.Millisecond, changed)
	again.untilScheduled(t, "batch")
	again.halt()
	if n := count(td.rec.kinds(), supervisor.KindHeartbeat) + count(again.rec.kinds(), supervisor.KindHeartbeat); n != 0 {
		t.Errorf("events %v then %v, want no missed run\n%s%s", td.rec.kinds(), again.rec.kinds(), td.out, again.out)
	}
}

// A run waiting out its jitter when up stops is missed, not lost.
func TestJitteredRunAtStopIsMissed(t *testing.T) {
	t.Parallel()
	runs, log := t.TempDir(), filepath.Join(t.TempDir(), "log")
	job := scheduled(t, "@every 200ms", log, "true")
	job.Jitter = time.Hour
	td := startScheduled(t, runs, 0, job)
	td.until(t, "batch scheduled", func() bool { return td.status("batch").State == supervisor.StateScheduled })
	td.clock.Advance(300 * time.Millisecond) // due at 0.2s, waiting for its jitter
	td.halt()
	if len(td.rec.events) != 0 {
		t.Fatalf("first up: events %v", td.rec.kinds())
	}
	job.Jitter = 0
	td = startScheduled(t, runs, 300*time.Millisecond, job)
	td.untilScheduled(t, "batch")
	td.halt()
	if evs := td.rec.events; len(evs) != 1 || evs[0].MissedRuns < 1 {
		t.Errorf("events %+v, want the run that waited for its jitter missed\n%s", evs, td.out)
	}
}

// A scheduled run that stalls is restarted once; if it stalls again it waits for the
// job's next time, with one message in all.
func TestScheduledRestartOnce(t *testing.T) {
	t.Parallel()
	log := filepath.Join(t.TempDir(), "log")
	job := scheduled(t, "@every 2s", log, "exec sleep 10")
	job.Heartbeat = &supervisor.Heartbeat{Every: 200 * time.Millisecond, Grace: 100 * time.Millisecond, Action: supervisor.ActionRestart}
	td := startScheduled(t, t.TempDir(), 0, job)
	td.tick(t, "batch")
	// Late 0.3s after it starts, restarted, late again and left.
	untilLog(t, log, "start start")
	td.untilScheduled(t, "batch")
	td.halt()
	if got := lines(t, log); strings.Join(got, " ") != "start start" {
		t.Errorf("log %v, want the run and one restart\n%s", got, td.out)
	}
	if kinds := td.rec.kinds(); count(kinds, supervisor.KindHeartbeat) != 1 {
		t.Errorf("events %v, want one heartbeat", kinds)
	}
}

// A run that succeeds after its dead man's switch went off is the recovery: one
// heartbeat message, then one recovery.
func TestExpectSuccessRecovers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	log, gate := filepath.Join(dir, "log"), filepath.Join(dir, "gate")
	job := scheduled(t, "@every 300ms", log, gated(gate))
	job.ExpectSuccessWithin = 200 * time.Millisecond
	job.Notify.On = []supervisor.Kind{supervisor.KindHeartbeat, supervisor.KindRecovery, supervisor.KindFailure}
	td := startScheduled(t, dir, 0, job)
	td.tick(t, "batch")
	untilLog(t, log, "start")
	td.clock.Advance(200 * time.Millisecond)
	td.until(t, "a heartbeat", func() bool { return td.rec.count(supervisor.KindHeartbeat) == 1 })
	os.WriteFile(gate, nil, 0o600) // the late run succeeds
	td.until(t, "a recovery", func() bool { return td.rec.count(supervisor.KindRecovery) == 1 })
	td.halt()
	kinds := td.rec.kinds()
	if len(kinds) != 2 || kinds[0] != supervisor.KindHeartbeat || kinds[1] != supervisor.KindRecovery {
		t.Fatalf("events %v, want a heartbeat and then its recovery\n%s", kinds, td.out)
	}
	if note := td.rec.events[1].Note; note != "a scheduled run succeeded again" {
		t.Errorf("recovery says %q", note)
	}
}
