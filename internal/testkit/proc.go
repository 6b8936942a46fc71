package testkit

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// ProcStat returns the state (R, S, Z…) and session of pid, or "" once it is gone.
func ProcStat(pid int) (state string, sid int) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	sid, _ = strconv.Atoi(f[3])
	return f[0], sid
}

// DaemonAlive checks that pid, a daemon a job left behind, runs in a session of its
// own, and kills it when the test ends.
func DaemonAlive(t testing.TB, pid int) {
	t.Helper()
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	state, sid := ProcStat(pid)
	if state == "" || state == "Z" {
		t.Errorf("the daemon %d did not outlive the run (state %q)", pid, state)
	} else if sid != pid {
		t.Errorf("the daemon %d runs in session %d, not one of its own", pid, sid)
	}
}

// Gone checks that pid, what a job left in its session, has ended (or is a zombie
// for its parent to reap), and kills it when it has not, so no test leaves it behind.
func Gone(t testing.TB, pid int, what string) {
	t.Helper()
	if state, _ := ProcStat(pid); state != "" && state != "Z" {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("%s %d is still running (state %s)", what, pid, state)
	}
}
