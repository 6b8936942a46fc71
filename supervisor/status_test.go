package supervisor_test

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/supervise/supervise/internal/testkit"
	"github.com/supervise/supervise/supervisor"
)

// status returns the daemon's status of the job named name; none before it started.
func status(t *testing.T, d *supervisor.Daemon, name string) supervisor.JobStatus {
	t.Helper()
	for _, st := range d.Status() {
		if st.Name == name {
			return st
		}
	}
	return supervisor.JobStatus{}
}

// pidOf waits until the job's process is in its status (its pid is known once the fork
// has returned, which may be after the job has written), and returns it.
func pidOf(t *testing.T, d *supervisor.Daemon, name string) int {
	t.Helper()
	testkit.Eventually(t, name+"'s pid", func() bool { return status(t, d, name).PID != 0 })
	return status(t, d, name).PID
}

func control(t *testing.T, d *supervisor.Daemon, name, cmd, wantNote string) {
	t.Helper()
	note, err := d.Control(context.Background(), name, cmd)
	if err != nil || note != wantNote {
		t.Fatalf("%s %s: note %q, error %v; want note %q", cmd, name, note, err, wantNote)
	}
}

// A scheduled job stopped mid-run: the run ends, later due times are skipped without
// counting as missed, and nothing is told; start runs it now, restart replaces the run
// under way. None of it is a failure.
func TestControlScheduledJob(t *testing.T) {
	t.Parallel()
	log := filepath.Join(t.TempDir(), "log")
	job := scheduled(t, "@every 300ms", log, "sleep 5")
	job.Notify.On = []supervisor.Kind{supervisor.KindSuccess, supervisor.KindFailure, supervisor.KindHeartbeat}
	td := startScheduled(t, t.TempDir(), 0, job)
	d, rec, out, halt := td.Daemon, td.rec, td.out, td.halt
	td.tick(t, "batch")
	testkit.Eventually(t, "the first run", func() bool { return len(lines(t, log)) == 1 })
	// Its pid is known once the fork has returned, which may be after the job wrote.
	testkit.Eventually(t, "the run in status with its pid", func() bool {
		st := status(t, d, "batch")
		return st.State == supervisor.StateRunning && st.PID != 0
	})

	control(t, d, "batch", supervisor.CommandStop, "")
	if st := status(t, d, "batch"); st.State != supervisor.StateStopped || st.PID != 0 || st.LastExit != "SIGTERM" {
		t.Errorf("status after stop %+v, want stopped, its run ended by SIGTERM", st)
	}
	for i := 1; i <= 2; i++ {
		td.clock.Advance(300 * time.Millisecond)
		td.until(t, "a due time passed while stopped", func() bool {
			return strings.Count(out.String(), "not started: the job is stopped") == i
		})
	}
	if got := lines(t, log); len(got) != 1 {
		t.Errorf("log %v, want no run while stopped, each due time logged:\n%s", got, out.String())
	}
	control(t, d, "batch", supervisor.CommandStop, "already stopped")

	control(t, d, "batch", supervisor.CommandStart, "")
	testkit.Eventually(t, "a run on start", func() bool { return len(lines(t, log)) == 2 })
	control(t, d, "batch", supervisor.CommandStart, "already running")
	first := pidOf(t, d, "batch")
	control(t, d, "batch", supervisor.CommandRestart, "")
	testkit.Eventually(t, "a new run on restart", func() bool { return len(lines(t, log)) == 3 })
	if pid := pidOf(t, d, "batch"); pid == first {
		t.Errorf("after restart, pid %d, want a new process", pid)
	}
	halt()
	if kinds := rec.kinds(); len(kinds) != 0 {
		t.Errorf("events %v, want none: stops asked for are not failures, nor missed runs", kinds)
	}
	if _, err := d.Control(context.Background(), "nosuch", supervisor.CommandStop); err == nil {
		t.Error("a command for no job did not fail")
	}
}

// States as the lifecycles go through them: crash-looping for a job that keeps dying,
// heartbeat-late for one that went silent; a stopped looping job is stopped.
func TestStatusStates(t *testing.T) {
	t.Parallel()
	crashy := upJob("crashy", "exit 1")
	silent := upJob("silent", "exec sleep 100")
	silent.Heartbeat = &supervisor.Heartbeat{Every: 100 * time.Millisecond, Grace: 50 * time.Millisecond}
	out := &syncBuffer{}
	d := &supervisor.Daemon{Host: "testhost", Stdout: out, Stderr: out, Events: &recorder{}}
	halt := start(d, crashy, silent)
	defer halt()
	testkit.Eventually(t, "crashy crash-looping", func() bool { return status(t, d, "crashy").State == supervisor.StateCrashLooping })
	testkit.Eventually(t, "silent late", func() bool { return status(t, d, "silent").State == supervisor.StateHeartbeatLate })
	st := status(t, d, "crashy")
	if st.Restarts < 3 || st.Exits["1"] < 4 || st.LastExit != "exit 1" || !st.LastSuccess.IsZero() {
		t.Errorf("crashy: %+v", st)
	}
	control(t, d, "crashy", supervisor.CommandStop, "")
	if st := status(t, d, "crashy"); st.State != supervisor.StateStopped {
		t.Errorf("crashy after stop: %+v", st)
	}
}

// Status may be asked while a reload changes a job's settings (run with -race).
func TestStatusDuringReload(t *testing.T) {
	t.Parallel()
	job := upJob("web", "exec sleep 100")
	d := &supervisor.Daemon{Host: "testhost", Stdout: &syncBuffer{}, Stderr: &syncBuffer{}, Events: &recorder{}}
	halt := start(d, job)
	defer halt()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 20 {
			changed := *job
			changed.Notify.Tail = i + 1
			d.Reload(context.Background(), []*supervisor.Job{&changed}, nil)
		}
	}()
	for {
		select {
		case <-done:
			return
		default:
			d.Status()
		}
	}
}

// stubborn is a job that ignores SIGTERM, so a stop takes its stop_timeout. It says
// "trapped" once it does (before, a SIGTERM would still end it), and "got TERM" when
// it gets one.
func stubborn(script string) *supervisor.Job {
	job := upJob("stubborn", "trap 'echo got TERM' TERM; echo trapped; "+script)
	job.StopTimeout = 500 * time.Millisecond
	return job
}

// A start while a slow stop is under way starts the job again once it is down.
func TestStartDuringSlowStop(t *testing.T) {
	t.Parallel()
	out := &syncBuffer{}
	d := &supervisor.Daemon{Host: "testhost", Stdout: out, Stderr: &syncBuffer{}, Events: &recorder{}}
	halt := start(d, stubborn("while :; do sleep 0.05; done"))
	defer halt()
	testkit.Eventually(t, "running, SIGTERM ignored", func() bool { return strings.Contains(out.String(), "trapped") })
	first := pidOf(t, d, "stubborn")
	stopped := make(chan error, 1)
	go func() {
		_, err := d.Control(context.Background(), "stubborn", supervisor.CommandStop)
		stopped <- err
	}()
	testkit.Eventually(t, "the stop under way", func() bool { return strings.Contains(out.String(), "got TERM") })
	control(t, d, "stubborn", supervisor.CommandStart, "")
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "running again", func() bool {
		st := status(t, d, "stubborn")
		return st.State == supervisor.StateRunning && st.PID != 0 && st.PID != first
	})
}

// A stop that comes while a reload replaces the job is done once the old version is
// down, and the new version does not start; a stopped job removed and then added
// again is a new job, which starts.
func TestStopDuringReplaceAndRemoval(t *testing.T) {
	t.Parallel()
	out := &syncBuffer{}
	d := &supervisor.Daemon{Host: "testhost", Stdout: out, Stderr: &syncBuffer{}, Events: &recorder{}}
	job := stubborn("while :; do sleep 0.05; done")
	halt := start(d, job)
	defer halt()
	testkit.Eventually(t, "running, SIGTERM ignored", func() bool { return strings.Contains(out.String(), "trapped") })
	changed := stubborn("echo new version; while :; do sleep 0.05; done")
	d.Reload(context.Background(), []*supervisor.Job{changed}, nil)
	if st := status(t, d, "stubborn"); st.State != supervisor.StateStarting {
		t.Errorf("while the old version stops: %+v, want starting", st)
	}
	control(t, d, "stubborn", supervisor.CommandStop, "")
	st := status(t, d, "stubborn")
	if st.State != supervisor.StateStopped || len(st.Exits) != 1 || st.Exits["137"] != 1 {
		t.Errorf("after the stop: %+v; want stopped, and only the old version's SIGKILL", st)
	}
	// A reload keeps it stopped.
	d.Reload(context.Background(), []*supervisor.Job{changed}, nil)
	control(t, d, "stubborn", supervisor.CommandStop, "already stopped")
	if st := status(t, d, "stubborn"); st.State != supervisor.StateStopped {
		t.Errorf("after a reload: %+v, want still stopped", st)
	}
	// Removed, then back: a new job.
	d.Reload(context.Background(), nil, nil)
	d.Reload(context.Background(), []*supervisor.Job{changed}, nil)
	testkit.Eventually(t, "the job back and running", func() bool { return status(t, d, "stubborn").State == supervisor.StateRunning })
}

// How a run ended, in a word or two, names any signal a shell user knows.
func TestResultShort(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		res  supervisor.Result
		want string
	}{
		{supervisor.Result{ExitCode: 3}, "exit 3"},
		{supervisor.Result{ExitCode: -1, Signal: syscall.SIGSEGV}, "SIGSEGV"},
		{supervisor.Result{ExitCode: -1, Signal: syscall.SIGTERM}, "SIGTERM"},
		{supervisor.Result{ExitCode: -1, Signal: syscall.Signal(42)}, "signal 42"},
		{supervisor.Result{TimedOut: true}, "timeout"},
	} {
		if got := tc.res.Short(); got != tc.want {
			t.Errorf("%+v.Short() = %q, want %q", tc.res, got, tc.want)
		}
	}
}
