package supervisor_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/supervise/supervise/internal/testkit"
	"github.com/supervise/supervise/supervisor"
)

// What a job's main process leaves running when it exits: a daemon that left the
// session on the way out runs on, whatever else is left is stopped.

// runLeaving runs the shell script as a job, on a pty or pipes, with leftovers that
// are busy waited for up to grace (zero for the default), and returns how the run
// went and how long Run took after the main process had exited.
func runLeaving(t *testing.T, pty bool, grace time.Duration, script string) (supervisor.Result, time.Duration, string) {
	t.Helper()
	job := supervisor.NewJob("leaver", supervisor.ShellCommand(script)...)
	job.PTY, job.Dir, job.StopTimeout = pty, t.TempDir(), 2*time.Second
	out := &syncBuffer{}
	r := &supervisor.Runner{Host: "testhost", Stdout: out}
	r.SetLeaveGrace(grace)
	res := r.Run(context.Background(), job, nil)
	after := time.Since(res.Start.Add(res.Duration))
	if res.Status() != 0 {
		t.Fatalf("pty=%v: status %d, want the main process's 0; output %q", pty, res.Status(), out.String())
	}
	return res, after, out.String()
}

// pidIn reads the pid a job wrote to file.
func pidIn(t *testing.T, file string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("the job wrote no pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file holds %q", b)
	}
	return pid
}

// `setsid daemon & exit 0` leaves a daemon that runs on, every time, with or without
// a pty: the kernel hangs nothing up when the main process exits (the pty is not the
// session's controlling terminal), and supervise waits for what is left while it is
// busy, as it is on its way out of the session.
func TestDaemonLeavesTheSession(t *testing.T) {
	t.Parallel()
	for _, pty := range []bool{true, false} {
		for i := range 8 {
			t.Run(fmt.Sprintf("pty=%v/%d", pty, i), func(t *testing.T) {
				t.Parallel()
				pidFile := filepath.Join(t.TempDir(), "pid")
				runLeaving(t, pty, 0, "setsid sleep 300 & echo $! >"+pidFile+"; exit 0")
				testkit.DaemonAlive(t, pidIn(t, pidFile))
			})
		}
	}
}

// A program that daemonizes itself (it forks, the child calls setsid, the parent
// exits), as setsid -f does, leaves a daemon that runs on.
func TestSelfDaemonizingProgram(t *testing.T) {
	t.Parallel()
	for _, pty := range []bool{true, false} {
		t.Run(fmt.Sprintf("pty=%v", pty), func(t *testing.T) {
			t.Parallel()
			pidFile := filepath.Join(t.TempDir(), "pid")
			runLeaving(t, pty, 0, `setsid -f sh -c 'echo $$ >`+pidFile+`.new; mv `+pidFile+`.new `+pidFile+`; exec sleep 300'`)
			testkit.Eventually(t, "the daemon's pid", func() bool { _, err := os.Stat(pidFile); return err == nil })
			pid := pidIn(t, pidFile)
			testkit.Eventually(t, "the daemon's exec of sleep", func() bool {
				comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
				return string(comm) == "sleep\n"
			})
			testkit.DaemonAlive(t, pid)
		})
	}
}

// A daemon given its own output writes on after the run has ended, when nothing reads
// the job's output any more.
func TestDaemonWithItsOwnOutput(t *testing.T) {
	t.Parallel()
	for _, pty := range []bool{true, false} {
		t.Run(fmt.Sprintf("pty=%v", pty), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			pidFile, log, goOn := filepath.Join(dir, "pid"), filepath.Join(dir, "daemon.log"), filepath.Join(dir, "go")
			runLeaving(t, pty, 0, fmt.Sprintf(`setsid sh -c 'until [ -e %s ]; do sleep 0.01; done; echo still here; exec sleep 300' >>%s 2>&1 & echo $! >%s; exit 0`, goOn, log, pidFile))
			pid := pidIn(t, pidFile)
			t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
			if err := os.WriteFile(goOn, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			testkit.Eventually(t, "the daemon's line in its log", func() bool {
				b, _ := os.ReadFile(log)
				return string(b) == "still here\n"
			})
			testkit.Eventually(t, "the daemon's exec of sleep", func() bool {
				comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
				return string(comm) == "sleep\n"
			})
			testkit.DaemonAlive(t, pid)
		})
	}
}

// A process that stays in the session is stopped as soon as it waits for something,
// without the grace that busy ones get: nohup is not a way out.
func TestIdleLeftoverStopped(t *testing.T) {
	t.Parallel()
	for _, pty := range []bool{true, false} {
		for _, leave := range []string{"sleep 300", "nohup sleep 300"} {
			t.Run(fmt.Sprintf("pty=%v/%s", pty, leave), func(t *testing.T) {
				t.Parallel()
				pidFile := filepath.Join(t.TempDir(), "pid")
				_, after, _ := runLeaving(t, pty, time.Minute, leave+" & echo $! >"+pidFile+"; exit 0")
				testkit.Gone(t, pidIn(t, pidFile), "the leftover")
				if after > 30*time.Second {
					t.Errorf("the run ended %v after its main process: an idle leftover waited out the grace", after)
				}
			})
		}
	}
}

// A process that stays in the session and keeps busy is stopped after the grace.
func TestBusyLeftoverStopped(t *testing.T) {
	t.Parallel()
	const grace = 300 * time.Millisecond
	for _, pty := range []bool{true, false} {
		t.Run(fmt.Sprintf("pty=%v", pty), func(t *testing.T) {
			t.Parallel()
			pidFile := filepath.Join(t.TempDir(), "pid")
			_, after, _ := runLeaving(t, pty, grace, "while :; do :; done & echo $! >"+pidFile+"; exit 0")
			testkit.Gone(t, pidIn(t, pidFile), "the busy leftover")
			if after < grace {
				t.Errorf("the run ended %v after its main process, before the grace of %v", after, grace)
			}
		})
	}
}

// The pty is the job's output, not its controlling terminal: isatty holds, and a
// program that opens /dev/tty to ask a question fails at once.
func TestNoControllingTerminal(t *testing.T) {
	t.Parallel()
	_, _, out := runLeaving(t, true, 0, `[ -t 1 ] && echo stdout is a terminal; if (: </dev/tty) 2>/dev/null; then echo /dev/tty opens; else echo no /dev/tty; fi`)
	if out != "stdout is a terminal\nno /dev/tty\n" {
		t.Errorf("output %q, want a terminal for output and no /dev/tty", out)
	}
}
