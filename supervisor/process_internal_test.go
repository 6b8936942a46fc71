package supervisor

import (
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"testing"
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
