package main

import (
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

// leaver is a job's script that starts a daemon in a session of its own and a process
// that stays in the job's, writes their pids to files in dir, and exits 0.
func leaver(dir string) string {
	return fmt.Sprintf("setsid sleep 300 & echo $! >%s; sleep 300 & echo $! >%s; exit 0",
		filepath.Join(dir, "daemon"), filepath.Join(dir, "leftover"))
}

// leftPID reads the pid the job wrote to dir/name.
func leftPID(t *testing.T, dir, name string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		t.Fatalf("no pid of the %s: %q %v", name, b, err)
	}
	return pid
}

// `supervise run -- sh -c 'setsid daemon & exit 0'` leaves the daemon running, with
// or without a pty, every time; what stayed in the job's session is stopped.
func TestRunLeavesDaemon(t *testing.T) {
	t.Parallel()
	for _, mode := range [][]string{nil, {"--no-pty"}} {
		for i := range 3 {
			t.Run(fmt.Sprintf("%v/%d", mode, i), func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				args := append(append([]string{"run", "--notify-on", ""}, mode...), "--", "sh", "-c", leaver(dir))
				out, err := quiet(command(t, args...)).CombinedOutput()
				if err != nil {
					t.Errorf("run: %v\n%s", err, out)
				}
				testkit.DaemonAlive(t, leftPID(t, dir, "daemon"))
				testkit.Gone(t, leftPID(t, dir, "leftover"), "the process left in the job's session")
			})
		}
	}
}

// Under up the same: a daemon a job's run started in a session of its own runs on
// after the run, adopted by up, and is stopped when up stops; what stayed in the
// job's session is stopped when the run ends.
func TestUpJobLeavesDaemon(t *testing.T) {
	t.Parallel()
	dir, pids, state := t.TempDir(), t.TempDir(), t.TempDir()
	writeFile(t, dir, "leaver.toml", fmt.Sprintf("command = %q\nrestart = \"never\"\n", leaver(pids)))
	cmd, _, _ := startQuietUp(t, dir, "--state", state)
	for _, f := range []string{filepath.Join(pids, "leftover"), filepath.Join(state, "supervise.sock")} {
		testkit.Eventually(t, f, func() bool { _, err := os.Stat(f); return err == nil })
	}
	waitState(t, state, "leaver", supervisor.StateExited)
	daemon, leftover := leftPID(t, pids, "daemon"), leftPID(t, pids, "leftover")
	testkit.DaemonAlive(t, daemon)
	waitAdopted(t, daemon, cmd.Process.Pid)
	testkit.Gone(t, leftover, "the process left in the job's session")
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("up: %v", err)
	}
	testkit.Eventually(t, fmt.Sprintf("the daemon %d stopped with up", daemon), func() bool {
		s, _ := testkit.ProcStat(daemon)
		return s == "" || s == "Z"
	})
}

// A process left in the job's session that keeps busy is given a second to leave it,
// and is then stopped.
func TestRunStopsBusyLeftover(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "busy")
	cmd := quiet(command(t, "run", "--notify-on", "", "--", "sh", "-c", "while :; do :; done & echo $! >"+file+"; exit 0"))
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("run: %v\n%s", err, out)
	}
	if took := time.Since(start); took < time.Second {
		t.Errorf("run took %v: the busy leftover was stopped before its second", took)
	}
	testkit.Gone(t, leftPID(t, filepath.Dir(file), "busy"), "the busy leftover")
}

// A job on a pty hears SIGHUP when its supervise dies, as it would from a controlling
// terminal's hangup, though the pty is not one.
func TestKilledSuperviseHangsUpTheJob(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "job")
	cmd := quiet(command(t, "run", "--notify-on", "", "--", "sh", "-c", "echo $$ >"+file+".new; mv "+file+".new "+file+"; exec sleep 300"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the job's pid", func() bool { _, err := os.Stat(file); return err == nil })
	job := leftPID(t, filepath.Dir(file), "job")
	t.Cleanup(func() { syscall.Kill(job, syscall.SIGKILL) })
	cmd.Process.Kill()
	cmd.Wait()
	testkit.Eventually(t, fmt.Sprintf("the job %d ended with its supervise", job), func() bool {
		s, _ := testkit.ProcStat(job)
		return s == "" || s == "Z"
	})
}
