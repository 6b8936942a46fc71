package supervisor_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

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

// up runs a daemon with jobs until stop returns, and returns what it notified.
func up(t *testing.T, stop func(), jobs ...*supervisor.Job) (*recorder, string) {
	t.Helper()
	rec := &recorder{}
	out := &syncBuffer{}
	d := &supervisor.Daemon{Host: "testhost", Stdout: out, Stderr: out, Events: rec}
	halt := start(d, jobs...)
	stop()
	halt()
	return rec, out.String()
}

// start runs d with jobs; the function it returns stops d and waits until it has.
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
	rec, out := up(t, func() { time.Sleep(3 * time.Second) }, upJob("crasher", "echo about to fail; exit 1"))
	kinds := rec.kinds()
	if count(kinds, supervisor.KindFailure) != 1 || count(kinds, supervisor.KindRestartLoop) != 1 || len(kinds) != 2 {
		t.Fatalf("events %v, want one failure and one restart-loop", kinds)
	}
	loop := rec.events[1]
	if loop.Crashes != 4 || len(loop.Exits) != 4 || loop.Exits[3] != "exit 1" || !strings.Contains(string(loop.Output), "about to fail") {
		t.Errorf("loop event = crashes %d exits %v output %q", loop.Crashes, loop.Exits, loop.Output)
	}
	// Retried at backoff.max (200ms) while looping: about 3s / 200ms more runs.
	if runs := strings.Count(out, "crasher | about to fail"); runs < 8 {
		t.Errorf("%d runs in 3s, want it retried while looping", runs)
	}
}

// A crash-looping job that then stays up gets one recovery message.
func TestRecoveryAfterLoop(t *testing.T) {
	counter := filepath.Join(t.TempDir(), "n")
	job := upJob("flaky", `n=$(cat `+counter+` 2>/dev/null || echo 0); echo $((n+1)) > `+counter+`; [ "$n" -ge 5 ] && exec sleep 100; exit 2`)
	rec, _ := up(t, func() { time.Sleep(3 * time.Second) }, job)
	kinds := rec.kinds()
	want := []supervisor.Kind{supervisor.KindFailure, supervisor.KindRestartLoop, supervisor.KindRecovery}
	if !equalKinds(kinds, want) {
		t.Fatalf("events %v, want %v", kinds, want)
	}
	if r := rec.events[2]; r.Crashes != 5 || r.Down <= 0 {
		t.Errorf("recovery says %d crashes, down %v; want 5 and some time", r.Crashes, r.Down)
	}
}

// A job killed after it had been up a while is started again at once.
func TestRestartAfterSIGKILL(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	job := upJob("web", "echo $$ > "+pidFile+"; exec sleep 100")
	job.HealthyAfter = 200 * time.Millisecond
	var first, second int
	var restartedIn time.Duration
	rec, _ := up(t, func() {
		first = waitPID(t, pidFile, 0)
		time.Sleep(400 * time.Millisecond) // healthy
		syscall.Kill(first, syscall.SIGKILL)
		killed := time.Now()
		second = waitPID(t, pidFile, first)
		restartedIn = time.Since(killed)
	}, job)
	if second == 0 || second == first {
		t.Fatalf("not restarted: pids %d then %d", first, second)
	}
	t.Logf("restarted %v after SIGKILL", restartedIn)
	if kinds := rec.kinds(); !equalKinds(kinds, []supervisor.Kind{supervisor.KindFailure}) || !rec.events[0].Restarting || rec.events[0].Retry != 0 {
		t.Errorf("events %+v, want one failure that says it restarts at once", rec.events)
	}
	if rec.events[0].Signal != syscall.SIGKILL {
		t.Errorf("failure says signal %v, want SIGKILL", rec.events[0].Signal)
	}
}

// waitPID waits for pidFile to name a process other than not.
func waitPID(t *testing.T, pidFile string, not int) int {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		b, _ := os.ReadFile(pidFile)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid != not {
			return pid
		}
	}
	t.Fatalf("%s never named a new process", pidFile)
	return 0
}

func TestRestartPolicies(t *testing.T) {
	for _, tc := range []struct {
		restart supervisor.Restart
		script  string
		runs    int // at least, in the time given
		most    int
	}{
		{supervisor.RestartNever, "echo ran; exit 1", 1, 1},
		{supervisor.RestartOnFailure, "echo ran; exit 0", 1, 1},
		{supervisor.RestartOnFailure, "echo ran; exit 1", 3, 1000},
		{supervisor.RestartAlways, "echo ran; exit 0", 3, 1000},
	} {
		job := upJob("p", tc.script)
		job.Restart = tc.restart
		_, out := up(t, func() { time.Sleep(time.Second) }, job)
		if runs := strings.Count(out, "p | ran"); runs < tc.runs || runs > tc.most {
			t.Errorf("restart=%s, %q: %d runs, want %d to %d", tc.restart, tc.script, runs, tc.runs, tc.most)
		}
	}
}

// Stopping the daemon stops every job, a job that ignores SIGTERM included.
func TestStopLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	stubborn := upJob("stubborn", "trap '' TERM; echo $$ > "+filepath.Join(dir, "a")+"; while :; do sleep 0.1; done")
	stubborn.StopTimeout = 300 * time.Millisecond
	plain := upJob("plain", "echo $$ > "+filepath.Join(dir, "b")+"; exec sleep 100")
	var pids []int
	up(t, func() {
		pids = append(pids, waitPID(t, filepath.Join(dir, "a"), 0), waitPID(t, filepath.Join(dir, "b"), 0))
	}, stubborn, plain)
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
// for a while to its replacement running (as far as its shell writing its pid):
//
//	go test -run '^$' -bench RestartAfterKill -benchtime 50x ./supervisor
func BenchmarkRestartAfterKill(b *testing.B) {
	pidFile := filepath.Join(b.TempDir(), "pid")
	job := upJob("web", "echo $$ > "+pidFile+"; exec sleep 100")
	job.HealthyAfter = time.Millisecond
	job.RestartLimit.Burst = 1 << 20 // killed this often, it would count as a crash loop
	d := &supervisor.Daemon{Host: "bench"}
	defer start(d, job)()
	pid := 0
	readPID := func() int {
		b, _ := os.ReadFile(pidFile)
		n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return n
	}
	for pid == 0 {
		pid = readPID()
		time.Sleep(100 * time.Microsecond)
	}
	for b.Loop() {
		time.Sleep(5 * time.Millisecond) // up longer than healthy_after
		syscall.Kill(pid, syscall.SIGKILL)
		for next := readPID(); next == pid || next == 0; next = readPID() {
			time.Sleep(50 * time.Microsecond)
		}
		pid = readPID()
	}
}

// Reload starts new jobs, stops removed ones, restarts a job whose command changed,
// leaves alone one whose notification settings changed, and keeps running a job whose
// file broke.
func TestReload(t *testing.T) {
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
	waitFor(out, "changed v2")
	for deadline := time.Now().Add(5 * time.Second); syscall.Kill(removedPID, 0) == nil && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if syscall.Kill(removedPID, 0) == nil {
		t.Errorf("the removed job's process %d still runs", removedPID)
	}
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
	logs := t.TempDir()
	// 20 runs of 100 bytes each, into logs of at most 512 bytes, 2 kept.
	job := upJob("chatty", `printf '%099d\n' 0; exit 1`)
	job.RestartLimit.Burst = 1000
	job.Backoff = supervisor.Backoff{Initial: time.Millisecond, Max: time.Millisecond}
	job.Log = supervisor.Log{MaxSize: 512, Keep: 2}
	d := &supervisor.Daemon{Host: "testhost", LogDir: logs}
	halt := start(d, job)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(logs, "chatty.log.2")); err == nil {
			break
		}
	}
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
	job := upJob("slow", "sleep 0.05; exit 1")
	job.HealthyAfter = time.Second
	job.RestartLimit = supervisor.RestartLimit{Burst: 3, Within: 20 * time.Millisecond}
	job.Backoff = supervisor.Backoff{Initial: 30 * time.Millisecond, Max: 100 * time.Millisecond}
	rec, _ := up(t, func() { time.Sleep(2 * time.Second) }, job)
	if kinds := rec.kinds(); !equalKinds(kinds, []supervisor.Kind{supervisor.KindFailure, supervisor.KindRestartLoop}) {
		t.Errorf("events %v, want one failure and one restart-loop", kinds)
	}
}

// Under up, "start" and "success" reach those who ask for them.
func TestUpStartAndSuccess(t *testing.T) {
	job := upJob("once", "echo done")
	job.Restart = supervisor.RestartNever
	job.Notify.On = []supervisor.Kind{supervisor.KindStart, supervisor.KindSuccess}
	rec, _ := up(t, func() { time.Sleep(500 * time.Millisecond) }, job)
	if kinds := rec.kinds(); !equalKinds(kinds, []supervisor.Kind{supervisor.KindStart, supervisor.KindSuccess}) {
		t.Errorf("events %v, want start and success", kinds)
	}
}

// A job that ended for good (restart = never) runs again when a reload makes its
// restart always; a change to its schedule alone starts counting from the reload.
func TestReloadRevivesEndedJob(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	job := upJob("once", "echo ran >> "+log+"; exec sleep 100")
	job.Restart = supervisor.RestartNever
	job.Command = supervisor.ShellCommand("echo ran >> " + log)
	d := &supervisor.Daemon{Host: "testhost", Stdout: &syncBuffer{}, Stderr: &syncBuffer{}, Events: &recorder{}}
	halt := start(d, job)
	defer halt()
	waitLines := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); len(linesOf(log)) < n; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d runs, want %d", len(linesOf(log)), n)
			}
		}
	}
	waitLines(1)
	time.Sleep(200 * time.Millisecond)
	if n := len(linesOf(log)); n != 1 {
		t.Fatalf("%d runs of a job with restart = never", n)
	}
	always := *job
	always.Restart = supervisor.RestartAlways
	always.Backoff.Initial, always.Backoff.Max = time.Hour, time.Hour // one run is enough to see
	d.Reload(context.Background(), []*supervisor.Job{&always}, nil)
	waitLines(2)
}

func linesOf(path string) []string {
	b, _ := os.ReadFile(path)
	return strings.Fields(string(b))
}
