package supervisor_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/supervise/supervise/internal/testkit"
	"github.com/supervise/supervise/notifier"
	"github.com/supervise/supervise/supervisor"
)

// recorder is an Emitter that keeps what it is given: all of it, and in events
// what the notifier's filter makes messages of, so a test sees what the chat would.
type recorder struct {
	mu     sync.Mutex
	all    []supervisor.Event
	events []supervisor.Event
}

var _ supervisor.Emitter = (*recorder)(nil)

func (r *recorder) Emit(ev supervisor.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all = append(r.all, ev)
	if notifier.Wanted(ev) {
		r.events = append(r.events, ev)
	}
}

// count counts the events of kind k that become messages.
func (r *recorder) count(k supervisor.Kind) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ev := range r.events {
		if ev.Kind == k {
			n++
		}
	}
	return n
}

func (r *recorder) kinds() []supervisor.Kind {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ks []supervisor.Kind
	for _, ev := range r.events {
		ks = append(ks, ev.Kind)
	}
	return ks
}

// told is kinds without the recoveries that only close an incident if one is open
// (of deaths that restarts healed, or of a healthy run): what the tests of a job's
// deaths count.
func (r *recorder) told() []supervisor.Kind {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ks []supervisor.Kind
	for _, ev := range r.events {
		if !ev.SelfHealed && !ev.Healthy {
			ks = append(ks, ev.Kind)
		}
	}
	return ks
}

func run(t *testing.T, job *supervisor.Job, signals <-chan os.Signal) (supervisor.Result, *recorder, string) {
	t.Helper()
	return runTo(t, &syncBuffer{}, job, signals)
}

func runTo(t *testing.T, out *syncBuffer, job *supervisor.Job, signals <-chan os.Signal) (supervisor.Result, *recorder, string) {
	t.Helper()
	rec := &recorder{}
	r := &supervisor.Runner{Host: "testhost", Stdout: out, Emit: rec.Emit}
	res := r.Run(context.Background(), job, signals)
	if !res.Stalled { // as `supervise run` does
		rec.Emit(job.Ended("testhost", res))
	}
	return res, rec, out.String()
}

// syncBuffer is output a test reads while it is written.
type syncBuffer = testkit.Buffer

// waitFor waits until the job has written want, so a test acts once the job is ready.
func waitFor(t testing.TB, s *syncBuffer, want string) {
	t.Helper()
	testkit.Eventually(t, fmt.Sprintf("output %q", want), func() bool { return strings.Contains(s.String(), want) })
}

func TestExitStatus(t *testing.T) {
	t.Parallel()
	for _, pty := range []bool{true, false} {
		for _, tc := range []struct {
			name    string
			job     *supervisor.Job
			status  int
			kind    supervisor.Kind
			startOK bool
		}{
			{"success", childJob(t, "exit 0"), 0, supervisor.KindSuccess, true},
			{"exit 3", childJob(t, "exit 3"), 3, supervisor.KindFailure, true},
			{"killed", childJob(t, "kill-self"), 128 + 9, supervisor.KindFailure, true},
			{"not found", supervisor.NewJob("nf", "/nonexistent/program"), 127, supervisor.KindFailure, false},
			{"not in PATH", supervisor.NewJob("nf", "no-such-program-supervise"), 127, supervisor.KindFailure, false},
			{"not executable", supervisor.NewJob("nx", notExecutable(t)), 126, supervisor.KindFailure, false},
		} {
			t.Run(tc.name+"/pty="+strconv.FormatBool(pty), func(t *testing.T) {
				tc.job.PTY = pty
				res, rec, _ := run(t, tc.job, nil)
				if got := res.Status(); got != tc.status {
					t.Errorf("Status() = %d, want %d (result %+v)", got, tc.status, res)
				}
				if got := res.Kind(); got != tc.kind {
					t.Errorf("Kind() = %s, want %s", got, tc.kind)
				}
				if (res.Err == nil) != tc.startOK {
					t.Errorf("Err = %v, want start ok %v", res.Err, tc.startOK)
				}
				wantEvents := []supervisor.Kind{}
				if tc.kind == supervisor.KindFailure {
					wantEvents = []supervisor.Kind{supervisor.KindFailure}
				}
				if got := rec.kinds(); !equalKinds(got, wantEvents) {
					t.Errorf("events = %v, want %v", got, wantEvents)
				}
			})
		}
	}
}

// notExecutable returns a file that exists but has no execute bit.
func notExecutable(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "data.txt")
	if err := os.WriteFile(path, []byte("echo hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestStartFailureSaysWhy(t *testing.T) {
	t.Parallel()
	res, rec, _ := run(t, supervisor.NewJob("nf", "/nonexistent/program"), nil)
	if !errors.Is(res.Err, os.ErrNotExist) || !strings.Contains(res.Err.Error(), "/nonexistent/program") {
		t.Fatalf("Err = %v, want the OS's not-exist error naming the program", res.Err)
	}
	if len(rec.events) != 1 || rec.events[0].Err == nil {
		t.Fatalf("events = %+v, want one failure carrying the error", rec.events)
	}
}

func TestTerminal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pty  bool
		want string
	}{
		{true, "stdin=false stdout=true stderr=true"},
		{false, "stdin=false stdout=false stderr=false"},
	} {
		job := childJob(t, "isatty")
		job.PTY = tc.pty
		_, _, out := run(t, job, nil)
		if strings.TrimSpace(out) != tc.want {
			t.Errorf("pty=%v: child printed %q, want %q", tc.pty, out, tc.want)
		}
	}
}

func TestPTYKeepsNewlines(t *testing.T) {
	t.Parallel()
	_, _, out := run(t, childJob(t, "exit 0"), nil)
	if out != "about to exit 0\n" {
		t.Errorf("output = %q, want the program's own bytes without \\r", out)
	}
}

func TestEnvAndDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	job := childJob(t, "env")
	job.Env["EXTRA"] = "hello"
	job.Dir = dir
	_, _, out := run(t, job, nil)
	want := "job=testjob extra=hello pwd=" + dir
	if strings.TrimSpace(out) != want {
		t.Errorf("child printed %q, want %q", out, want)
	}
}

// Output written just before exit must all arrive, through a pty as through a pipe.
func TestNoOutputLostAtExit(t *testing.T) {
	t.Parallel()
	const size = 4 << 20
	for _, pty := range []bool{true, false} {
		job := childJob(t, "burst "+strconv.Itoa(size))
		job.PTY = pty
		res, rec, out := run(t, job, nil)
		wantLen := size/100*100 + len("LAST LINE\n")
		if len(out) != wantLen || !strings.HasSuffix(out, "x\nLAST LINE\n") {
			t.Errorf("pty=%v: got %d bytes ending %q, want %d ending with LAST LINE", pty, len(out), tail(out), wantLen)
		}
		if !bytes.HasSuffix(res.Output, []byte("x\nLAST LINE\n")) || len(res.Output) != supervisor.MaxAttach { // kept whole, to attach
			t.Errorf("pty=%v: Result.Output has %d bytes ending %q", pty, len(res.Output), tail(string(res.Output)))
		}
		if want := size/100 + 1; res.OutputLines != want {
			t.Errorf("pty=%v: OutputLines = %d, want %d", pty, res.OutputLines, want)
		}
		if len(rec.events) != 1 || !bytes.HasSuffix(rec.events[0].Output, []byte("LAST LINE\n")) {
			t.Errorf("pty=%v: the failure event does not carry the last line", pty)
		}
	}
}

func tail(s string) string {
	if len(s) > 40 {
		return s[len(s)-40:]
	}
	return s
}

// A timed-out run stops the whole session: a grandchild that ignores SIGTERM is
// killed, also when it moved to a process group of its own.
func TestTimeoutKillsGrandchild(t *testing.T) {
	t.Parallel()
	for _, pty := range []bool{true, false} {
		for _, group := range []string{"same", "own-group"} {
			t.Run(fmt.Sprintf("pty=%v/%s", pty, group), func(t *testing.T) {
				t.Parallel() // each waits out its timeout
				timeoutKillsGrandchild(t, pty, group)
			})
		}
	}
}

func timeoutKillsGrandchild(t *testing.T, pty bool, group string) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	job := childJob(t, "grandchild "+pidFile+" stay "+group)
	job.PTY = pty
	job.Timeout = 2 * time.Second // long enough for a -race child to start its grandchild
	job.StopTimeout = 300 * time.Millisecond
	res, rec, out := run(t, job, nil)
	if res.Status() != supervisor.ExitTimeout || res.Kind() != supervisor.KindTimeout {
		t.Errorf("pty=%v %s: status %d kind %s, want 124 timeout", pty, group, res.Status(), res.Kind())
	}
	if got := rec.kinds(); !equalKinds(got, []supervisor.Kind{supervisor.KindTimeout}) {
		t.Errorf("pty=%v %s: events %v, want one timeout", pty, group, got)
	}
	if !strings.Contains(out, "started grandchild") {
		t.Errorf("pty=%v %s: output %q", pty, group, out)
	}
	assertGone(t, pidFile)
}

// When the main process exits, what it left in its session is stopped too.
func TestLeftoversStopped(t *testing.T) {
	t.Parallel()
	for _, pty := range []bool{true, false} {
		for _, group := range []string{"same", "own-group"} {
			t.Run(fmt.Sprintf("pty=%v/%s", pty, group), func(t *testing.T) {
				t.Parallel()
				leftoversStopped(t, pty, group)
			})
		}
	}
}

func leftoversStopped(t *testing.T, pty bool, group string) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	job := childJob(t, "grandchild "+pidFile+" exit "+group)
	job.PTY = pty
	job.StopTimeout = 300 * time.Millisecond
	res, _, _ := run(t, job, nil)
	if res.Status() != 0 {
		t.Errorf("pty=%v %s: status %d, want the main process's 0", pty, group, res.Status())
	}
	assertGone(t, pidFile)
}

// A program is looked up in the PATH the job's env gives.
func TestJobPATH(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "mytool"), []byte("#!/bin/sh\necho mytool ran\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	job := supervisor.NewJob("tool", "mytool")
	job.Env = map[string]string{"PATH": dir + ":/usr/bin:/bin"}
	res, _, out := run(t, job, nil)
	if res.Status() != 0 || out != "mytool ran\n" {
		t.Errorf("status %d err %v output %q", res.Status(), res.Err, out)
	}
}

func TestBadDir(t *testing.T) {
	t.Parallel()
	job := supervisor.NewJob("x", "true")
	job.Dir = filepath.Join(t.TempDir(), "missing")
	res, _, _ := run(t, job, nil)
	if res.Err == nil || !strings.Contains(res.Err.Error(), "dir: ") || !strings.Contains(res.Err.Error(), "missing") {
		t.Errorf("Err = %v, want it to blame the dir", res.Err)
	}
}

// assertGone checks that the process whose pid is in file has ended: it no longer
// exists or is a zombie waiting for whoever adopted it.
func assertGone(t *testing.T, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	stat, err := os.ReadFile("/proc/" + string(b) + "/stat")
	if err != nil {
		return
	}
	if f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:])); len(f) > 0 && f[0] != "Z" {
		t.Errorf("grandchild %s still running: %s", b, stat)
	}
}

func TestSignalsForwarded(t *testing.T) {
	t.Parallel()
	for _, pty := range []bool{true, false} {
		job := childJob(t, "trap")
		job.PTY = pty
		signals := make(chan os.Signal, 2)
		out := &syncBuffer{}
		ran := make(chan supervisor.Result, 1)
		go func() {
			res, _, _ := runTo(t, out, job, signals)
			ran <- res
		}()
		waitFor(t, out, "ready")
		signals <- syscall.SIGUSR1
		waitFor(t, out, "got user defined signal 1")
		signals <- syscall.SIGTERM
		res := <-ran
		if res.Status() != 0 || !strings.Contains(out.String(), "got user defined signal 1\ngot terminated\n") {
			t.Errorf("pty=%v: status %d output %q; want 0 after USR1 and TERM", pty, res.Status(), out)
		}
	}
}

// SIGTERM to a job that ignores it ends in SIGKILL after stop_timeout.
func TestStopEscalates(t *testing.T) {
	t.Parallel()
	job := childJob(t, "ignore-term")
	job.StopTimeout = 200 * time.Millisecond
	signals := make(chan os.Signal, 1)
	out := &syncBuffer{}
	ran := make(chan supervisor.Result, 1)
	go func() {
		res, _, _ := runTo(t, out, job, signals)
		ran <- res
	}()
	waitFor(t, out, "ignoring")
	signals <- syscall.SIGTERM
	res := <-ran
	if res.Signal != syscall.SIGKILL || res.Status() != 137 {
		t.Errorf("signal %v status %d, want SIGKILL and 137", res.Signal, res.Status())
	}
}

func TestContextCancelStops(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	r := &supervisor.Runner{}
	res := r.Run(ctx, childJob(t, "sleep"), nil)
	if res.Signal != syscall.SIGTERM {
		t.Errorf("signal %v, want the stop_signal SIGTERM", res.Signal)
	}
}

func TestNotifyOn(t *testing.T) {
	t.Parallel()
	job := childJob(t, "exit 0")
	job.Notify.On = []supervisor.Kind{supervisor.KindStart, supervisor.KindSuccess}
	res, rec, _ := run(t, job, nil)
	// The start event is sent without holding up the job, so it may arrive second.
	got := rec.kinds()
	slices.Sort(got)
	if !equalKinds(got, []supervisor.Kind{supervisor.KindStart, supervisor.KindSuccess}) {
		t.Fatalf("events %v, want start and success", got)
	}
	ev := rec.events[slices.IndexFunc(rec.events, func(e supervisor.Event) bool { return e.Kind == supervisor.KindSuccess })]
	if ev.Job != "testjob" || ev.Host != "testhost" || ev.ExitCode != 0 || ev.Duration != res.Duration ||
		string(ev.Output) != "about to exit 0\n" || ev.OutputLines != 1 || ev.Notify.Tail != supervisor.DefaultTail {
		t.Errorf("success event = %+v", ev)
	}
}

func equalKinds(a, b []supervisor.Kind) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
