package supervisor

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/supervise/supervise/internal/testkit"
)

// Many jobs asking at once for their sessions' processes share readings of /proc, and
// each still sees what was running when it asked.
func TestSessionMembersShared(t *testing.T) {
	t.Parallel()
	var cmds []*exec.Cmd
	for range 5 {
		cmd := exec.Command("sleep", "100")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	defer func() {
		for _, cmd := range cmds {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan string, 200)
	for i := range 200 {
		wg.Go(func() {
			pid := cmds[i%len(cmds)].Process.Pid // the session's leader: sid == pid
			if !slices.ContainsFunc(sessionMembers(pid), func(m member) bool { return m.pid == pid }) {
				errs <- "a reading missed a process that ran before the call"
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	if got := sessionMembers(-1); len(got) != 0 {
		t.Errorf("session -1 has members %v", got)
	}
}

// A new terminal size is the job's, and its process group is told with SIGWINCH, as
// the kernel would tell the foreground group of a controlling terminal.
func TestResizeTellsTheJob(t *testing.T) {
	t.Parallel()
	job := NewJob("winch", "/bin/sh", "-c", `trap 'echo size $(stty size <&2)' WINCH; echo ready; while :; do sleep 0.01; done`)
	job.PTY = true
	out := &testkit.Buffer{}
	p, err := startProcess(job, os.Environ(), out, NewTail(DefaultTailSize))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		p.signal(syscall.SIGKILL)
		<-p.exited()
		p.drain(time.Second)
	}()
	testkit.Eventually(t, "the job's ready", func() bool { return strings.Contains(out.String(), "ready") })
	p.resize(&pty.Winsize{Rows: 33, Cols: 99})
	defer func() {
		if t.Failed() {
			t.Logf("the job wrote %q", out.String())
		}
	}()
	testkit.Eventually(t, "the job told of its new size", func() bool { return strings.Contains(out.String(), "size 33 99") })
}
