package supervisor_test

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/supervise/supervise/internal/testkit"
	"github.com/supervise/supervise/supervisor"
)

// upJob is a shell job with restart timings short enough for tests.
func upJob(name, script string) *supervisor.Job {
	job := supervisor.NewJob(name, supervisor.ShellCommand(script)...)
	job.Backoff = supervisor.Backoff{Initial: 10 * time.Millisecond, Max: 200 * time.Millisecond}
	job.RestartLimit = supervisor.RestartLimit{Burst: 3, Within: 10 * time.Second}
	job.HealthyAfter = 500 * time.Millisecond
	job.StopTimeout = 2 * time.Second
	return job
}

// testDaemon is a daemon running for a test, with what it emitted and wrote, the
// base of its ping URLs (if it serves them) and its fake clock (if it has one).
type testDaemon struct {
	*supervisor.Daemon
	rec   *recorder
	out   *syncBuffer
	url   string
	clock *supervisor.FakeClock
	halt  func() // stops the daemon and waits until it has; also done at the test's end
}

// startUp starts a daemon with jobs, whose events go to a recorder and whose output
// and complaints to one buffer; set, when not nil, sets the daemon up further.
func startUp(t *testing.T, set func(*testDaemon), jobs ...*supervisor.Job) *testDaemon {
	t.Helper()
	td := &testDaemon{rec: &recorder{}, out: &syncBuffer{}}
	td.Daemon = &supervisor.Daemon{Host: "testhost", Stdout: td.out, Stderr: td.out, Events: td.rec}
	if set != nil {
		set(td)
	}
	td.halt = start(td.Daemon, jobs...)
	t.Cleanup(func() {
		td.halt()
		td.show(t)
	})
	return td
}

// withClock gives the daemon a fake clock, which only the test moves.
func withClock(td *testDaemon) {
	td.clock = supervisor.NewFakeClock()
	td.Clock = td.clock
}

// upUntil runs a daemon with jobs until cond holds, failing the test when it does not
// in time, and returns what the daemon emitted and wrote.
func upUntil(t *testing.T, what string, cond func(td *testDaemon) bool, jobs ...*supervisor.Job) (*recorder, string) {
	t.Helper()
	td := startUp(t, nil, jobs...)
	td.until(t, what, func() bool { return cond(td) })
	td.halt()
	return td.rec, td.out.String()
}

// until waits for cond, failing the test with what it waited for and the daemon's
// output when it does not hold in time.
func (td *testDaemon) until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, what, func() bool { return cond() })
}

// show logs the daemon's output when the test has failed.
func (td *testDaemon) show(t *testing.T) {
	if t.Failed() {
		t.Logf("the daemon wrote:\n%s", td.out)
	}
}

// untilScheduled waits until the job named name waits for its next time. Time the
// test then moves on past it runs the job: a timer the job sets for a time gone by
// fires at once.
func (td *testDaemon) untilScheduled(t *testing.T, name string) {
	t.Helper()
	td.until(t, name+" scheduled", func() bool {
		st := td.status(name)
		return st.State == supervisor.StateScheduled && st.NextRun.After(td.clock.Now())
	})
}

// status is what the daemon says of the job named name; zero if there is none.
func (td *testDaemon) status(name string) supervisor.JobStatus {
	for _, st := range td.Status() {
		if st.Name == name {
			return st
		}
	}
	return supervisor.JobStatus{}
}

// runs counts the lines the job named name wrote that hold s.
func (td *testDaemon) runs(name, s string) int {
	return strings.Count(td.out.String(), name+" | "+s)
}

// start runs d with jobs; the function it returns stops d and waits until it has.
// It may be called more than once.
func start(d *supervisor.Daemon, jobs ...*supervisor.Job) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		d.Run(ctx, jobs)
		close(done)
	}()
	return func() {
		cancel()
		<-done
	}
}

func count(kinds []supervisor.Kind, k supervisor.Kind) int {
	n := 0
	for _, x := range kinds {
		if x == k {
			n++
		}
	}
	return n
}

// A job that fails at once: one failure message, then one crash-loop message, however
// often it keeps failing.
func TestCrashLoopIsOneMessage(t *testing.T) {
	t.Parallel()
	// Four deaths make the loop; retried at backoff.max (200ms), it runs on.
	rec, out := upUntil(t, "the crash loop told and the job retried 4 more times", func(td *testDaemon) bool {
		return td.rec.count(supervisor.KindRestartLoop) == 1 && td.runs("crasher", "about to fail") >= 8
	}, upJob("crasher", "echo about to fail; exit 1"))
	kinds := rec.kinds()
	if count(kinds, supervisor.KindFailure) != 1 || count(kinds, supervisor.KindRestartLoop) != 1 || len(kinds) != 2 {
		t.Fatalf("events %v, want one failure and one restart-loop", kinds)
	}
	loop := rec.events[1]
	if loop.Crashes != 4 || len(loop.Exits) != 4 || loop.Exits[3] != "exit 1" || !strings.Contains(string(loop.Output), "about to fail") {
		t.Errorf("loop event = crashes %d exits %v output %q", loop.Crashes, loop.Exits, loop.Output)
	}
	if runs := strings.Count(out, "crasher | about to fail"); runs < 8 {
		t.Errorf("%d runs, want it retried while looping", runs)
	}
}

// A crash-looping job that then stays up gets one recovery message.
func TestRecoveryAfterLoop(t *testing.T) {
	t.Parallel()
	counter := filepath.Join(t.TempDir(), "n")
	job := upJob("flaky", `n=$(cat `+counter+` 2>/dev/null || echo 0); echo $((n+1)) > `+counter+`; [ "$n" -ge 5 ] && exec sleep 100; exit 2`)
	job.HealthyAfter = 2 * time.Second // no death counts as healthy, however slow the machine
	rec, _ := upUntil(t, "a recovery", func(td *testDaemon) bool { return td.rec.count(supervisor.KindRecovery) > 0 }, job)
	kinds := rec.kinds()
	want := []supervisor.Kind{supervisor.KindFailure, supervisor.KindRestartLoop, supervisor.KindRecovery}
	if !equalKinds(kinds, want) {
		t.Fatalf("events %v, want %v", kinds, want)
	}
	if r := rec.events[2]; r.Crashes != 5 || r.Down <= 0 {
		t.Errorf("recovery says %d crashes, down %v; want 5 and some time", r.Crashes, r.Down)
	}
}

// A job killed after it had been up for healthy_after is started again at once.
func TestRestartAfterSIGKILL(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "pid")
	job := upJob("web", "echo $$ > "+pidFile+"; exec sleep 100")
	job.HealthyAfter = 0 // healthy as soon as it runs: when is the lifecycle's test
	td := startUp(t, nil, job)
	first := waitPID(t, pidFile, 0)
	syscall.Kill(first, syscall.SIGKILL)
	killed := time.Now()
	second := waitPID(t, pidFile, first)
	t.Logf("restarted %v after SIGKILL", time.Since(killed))
	td.halt()
	rec := td.rec
	kinds := rec.told()
	if !equalKinds(kinds, []supervisor.Kind{supervisor.KindFailure}) {
		t.Fatalf("events %+v, want one failure", rec.events)
	}
	death := rec.events[slices.IndexFunc(rec.events, func(ev supervisor.Event) bool { return ev.Kind == supervisor.KindFailure })]
	if !death.Restarting || death.Retry != 0 {
		t.Errorf("failure %+v, want one that says it restarts at once", death)
	}
	if death.Signal != syscall.SIGKILL || second == first {
		t.Errorf("failure says signal %v, pids %d then %d; want SIGKILL and a new process", death.Signal, first, second)
	}
}

// waitPID waits for pidFile to name a process other than not.
func waitPID(t testing.TB, pidFile string, not int) int {
	t.Helper()
	pid := 0
	testkit.Eventually(t, pidFile+" naming a new process", func() bool {
		b, _ := os.ReadFile(pidFile)
		n, err := strconv.Atoi(strings.TrimSpace(string(b)))
		pid = n
		return err == nil && n != not
	})
	return pid
}

// Which ends start the job again under up; the rows of TestLifecycleRestartSettings,
// with real processes.
func TestRestartPolicies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		restart supervisor.Restart
		script  string
		again   bool
	}{
		{supervisor.RestartNever, "echo ran; exit 1", false},
		{supervisor.RestartOnFailure, "echo ran; exit 0", false},
		{supervisor.RestartOnFailure, "echo ran; exit 1", true},
		{supervisor.RestartAlways, "echo ran; exit 0", true},
	} {
		job := upJob("p", tc.script)
		job.Restart = tc.restart
		_, out := upUntil(t, "the job exited for good or ran 3 times", func(td *testDaemon) bool {
			return td.status("p").State == supervisor.StateExited || td.runs("p", "ran") >= 3
		}, job)
		if runs := strings.Count(out, "p | ran"); (runs >= 3) != tc.again || !tc.again && runs != 1 {
			t.Errorf("restart=%s, %q: %d runs, want again %v", tc.restart, tc.script, runs, tc.again)
		}
	}
}

// Stopping the daemon stops every job, a job that ignores SIGTERM included.
func TestStopLeavesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	stubborn := upJob("stubborn", "trap '' TERM; echo $$ > "+filepath.Join(dir, "a")+"; while :; do sleep 0.1; done")
	stubborn.StopTimeout = 300 * time.Millisecond
	plain := upJob("plain", "echo $$ > "+filepath.Join(dir, "b")+"; exec sleep 100")
	td := startUp(t, nil, stubborn, plain)
	pids := []int{waitPID(t, filepath.Join(dir, "a"), 0), waitPID(t, filepath.Join(dir, "b"), 0)}
	td.halt()
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err == nil {
			stat, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
			if !strings.Contains(string(stat), ") Z ") {
				t.Errorf("process %d still running after the daemon stopped", pid)
			}
		}
	}
}

// BenchmarkRestartAfterKill measures the time from a SIGKILL of a job that had been up
// for healthy_after to its replacement running (as far as its shell writing its pid,
// into a FIFO the benchmark reads, so nothing polls):
//
//	go test -run '^$' -bench RestartAfterKill -benchtime 200x ./supervisor
func BenchmarkRestartAfterKill(b *testing.B) {
	fifo := filepath.Join(b.TempDir(), "pids")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		b.Fatal(err)
	}
	// Read and write, so neither end waits for the other to open, and no EOF comes.
	f, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	pids := bufio.NewScanner(f)
	next := func() int {
		if !pids.Scan() {
			b.Fatalf("reading pids: %v", pids.Err())
		}
		n, _ := strconv.Atoi(pids.Text())
		return n
	}
	job := upJob("web", "echo $$ > "+fifo+"; exec sleep 100")
	job.HealthyAfter = 0             // every run healthy at once: restarted without backoff
	job.RestartLimit.Burst = 1 << 20 // killed this often, it would count as a crash loop
	d := &supervisor.Daemon{Host: "bench"}
	defer start(d, job)()
	pid := next()
	for b.Loop() {
		syscall.Kill(pid, syscall.SIGKILL)
		pid = next()
	}
}

// Reload starts new jobs, stops removed ones, restarts a job whose command changed,
// leaves alone one whose notification settings changed, and keeps running a job whose
// file broke.
func TestReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pidOf := func(name string) string { return filepath.Join(dir, name) }
	job := func(name, version string) *supervisor.Job {
		j := upJob(name, "echo "+name+" "+version+"; echo $$ > "+pidOf(name)+"; exec sleep 100")
		j.File = filepath.Join("jobs.d", name+".toml")
		return j
	}
	rec := &recorder{}
	out := &syncBuffer{}
	d := &supervisor.Daemon{Host: "testhost", Stdout: out, Stderr: out, Events: rec}
	halt := start(d, job("same", "v1"), job("changed", "v1"), job("removed", "v1"), job("broken", "v1"))
	samePID, changedPID, removedPID, brokenPID := waitPID(t, pidOf("same"), 0), waitPID(t, pidOf("changed"), 0), waitPID(t, pidOf("removed"), 0), waitPID(t, pidOf("broken"), 0)

	same := job("same", "v1")
	same.Notify.On = []supervisor.Kind{supervisor.KindSuccess}
	d.Reload(context.Background(), []*supervisor.Job{same, job("changed", "v2"), job("added", "v1")}, []string{filepath.Join("jobs.d", "broken.toml")})

	newChanged := waitPID(t, pidOf("changed"), changedPID)
	waitPID(t, pidOf("added"), 0)
	waitFor(t, out, "changed v2")
	testkit.Eventually(t, "the removed job's process gone", func() bool { return syscall.Kill(removedPID, 0) != nil })
	if syscall.Kill(changedPID, 0) == nil {
		t.Errorf("the changed job's old process %d still runs", changedPID)
	}
	if syscall.Kill(samePID, 0) != nil || syscall.Kill(brokenPID, 0) != nil || syscall.Kill(newChanged, 0) != nil {
		t.Errorf("a job that should run on is gone: same %d, broken %d, changed %d", samePID, brokenPID, newChanged)
	}
	if n := strings.Count(out.String(), "same v1"); n != 1 {
		t.Errorf("same started %d times, want once:\n%s", n, out.String())
	}
	halt()
	if len(rec.events) != 0 {
		t.Errorf("events %v; stopping jobs for a reload is not a failure", rec.kinds())
	}
}

// Each job's output goes to STATE/logs/JOB.log, rotated by size.
func TestLogsRotate(t *testing.T) {
	t.Parallel()
	logs := t.TempDir()
	// 20 runs of 100 bytes each, into logs of at most 512 bytes, 2 kept.
	job := upJob("chatty", `printf '%099d\n' 0; exit 1`)
	job.RestartLimit.Burst = 1000
	job.Backoff = supervisor.Backoff{Initial: time.Millisecond, Max: time.Millisecond}
	job.Log = supervisor.Log{MaxSize: 512, Keep: 2}
	d := &supervisor.Daemon{Host: "testhost", LogDir: logs}
	halt := start(d, job)
	testkit.Eventually(t, "chatty.log.2", func() bool {
		_, err := os.Stat(filepath.Join(logs, "chatty.log.2"))
		return err == nil
	})
	halt()
	names, _ := filepath.Glob(filepath.Join(logs, "chatty.log*"))
	if len(names) != 3 {
		t.Fatalf("log files %v, want chatty.log and 2 old ones", names)
	}
	for _, name := range names {
		b, _ := os.ReadFile(name)
		if len(b) > 512 || len(b)%100 != 0 || (len(b) > 0 && !strings.HasSuffix(string(b), "0\n")) {
			t.Errorf("%s holds %d bytes, want whole lines and at most 512", name, len(b))
		}
	}
}

// Deaths spaced wider than restart_limit.within by their backoff are a loop all the
// same: one failure, then one loop message, not a message per crash.
func TestSlowCrashLoopIsOneMessage(t *testing.T) {
	t.Parallel()
	job := upJob("slow", "sleep 0.05; exit 1")
	job.HealthyAfter = time.Second
	job.RestartLimit = supervisor.RestartLimit{Burst: 3, Within: 20 * time.Millisecond}
	job.Backoff = supervisor.Backoff{Initial: 30 * time.Millisecond, Max: 100 * time.Millisecond}
	rec, _ := upUntil(t, "the loop told and two restarts after it", func(td *testDaemon) bool {
		return td.rec.count(supervisor.KindRestartLoop) == 1 && td.status("slow").Restarts >= 6
	}, job)
	if kinds := rec.kinds(); !equalKinds(kinds, []supervisor.Kind{supervisor.KindFailure, supervisor.KindRestartLoop}) {
		t.Errorf("events %v, want one failure and one restart-loop", kinds)
	}
}

// Under up, "start" and "success" reach those who ask for them.
func TestUpStartAndSuccess(t *testing.T) {
	t.Parallel()
	job := upJob("once", "echo done")
	job.Restart = supervisor.RestartNever
	job.Notify.On = []supervisor.Kind{supervisor.KindStart, supervisor.KindSuccess}
	rec, _ := upUntil(t, "the job exited", func(td *testDaemon) bool {
		return td.status("once").State == supervisor.StateExited && td.rec.count(supervisor.KindSuccess) > 0
	}, job)
	if kinds := rec.kinds(); !equalKinds(kinds, []supervisor.Kind{supervisor.KindStart, supervisor.KindSuccess}) {
		t.Errorf("events %v, want start and success", kinds)
	}
}

// A job that ended for good (restart = never) runs again when a reload makes its
// restart always.
func TestReloadRevivesEndedJob(t *testing.T) {
	t.Parallel()
	log := filepath.Join(t.TempDir(), "log")
	job := upJob("once", "echo ran >> "+log)
	job.Restart = supervisor.RestartNever
	td := startUp(t, nil, job)
	td.until(t, "the job exited", func() bool { return td.status("once").State == supervisor.StateExited })
	if n := len(linesOf(log)); n != 1 {
		t.Fatalf("%d runs of a job with restart = never", n)
	}
	always := *job
	always.Restart = supervisor.RestartAlways
	always.Backoff.Initial, always.Backoff.Max = time.Hour, time.Hour // one run is enough to see
	td.Reload(context.Background(), []*supervisor.Job{&always}, nil)
	td.until(t, "a second run", func() bool { return len(linesOf(log)) >= 2 })
}

func linesOf(path string) []string {
	b, _ := os.ReadFile(path)
	return strings.Fields(string(b))
}

// Started says when every job up was first given has started: a kept-running job has
// its process, a scheduled one waits for its time, and one that cannot start has
// tried. It is what up's READY=1 to systemd waits for.
func TestStarted(t *testing.T) {
	web := upJob("web", "exec sleep 100")
	nightly := upJob("nightly", "echo ran")
	nightly.Schedule, nightly.Restart = everySecond(t), supervisor.RestartNever
	missing := supervisor.NewJob("missing", "/nonexistent/supervise-test-command")
	td := startUp(t, withClock, web, nightly, missing)
	select {
	case <-td.Started():
	case <-time.After(10 * time.Second):
		t.Fatalf("not started within 10s: %+v", td.Status())
	}
	for _, st := range td.Status() {
		if st.State == supervisor.StateStarting || (st.State == supervisor.StateRunning && st.PID == 0) {
			t.Errorf("%s is %s with pid %d once up has started", st.Name, st.State, st.PID)
		}
	}
	if st := td.status("web"); st.State != supervisor.StateRunning || st.PID == 0 {
		t.Errorf("web: %+v, want running with its pid", st)
	}
	if st := td.status("nightly"); st.State != supervisor.StateScheduled {
		t.Errorf("nightly: %+v, want scheduled", st)
	}

	// With no job, up has started at once.
	empty := startUp(t, nil)
	select {
	case <-empty.Started():
	case <-time.After(10 * time.Second):
		t.Errorf("a daemon with no job has not started within 10s")
	}
}
