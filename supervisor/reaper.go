package supervisor

import (
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// adoption makes supervise the reaper of what its jobs leave behind. Without it, a
// process orphaned by a job (a daemon that double-forked, a grandchild left when the
// job's session was stopped) goes to init, or, in a container where supervise is
// PID 1, to supervise anyway, where it stays a zombie unless reaped.
//
// Waiting is done in one place per process: each job's main process is reaped by its
// own pidfd waiter, and the reaper reaps every other child. They never race for the
// same process: a main process is registered before it can exit, under the lock the
// reaper holds while it reaps. Jobs fork under it at once, each holding it for reading:
// a fork waits on the kernel for most of its time, more so the more fds are open, so
// thousands of jobs start sooner a few at a time than one by one.
type adoption struct {
	forks sync.RWMutex // held for reading while a job forks, for writing while reaping
	mu    sync.Mutex   // guards mains
	mains map[int]bool // main processes of jobs, reaped by their runners
}

var (
	adoptOnce sync.Once
	adopted   *adoption
)

// Adopt makes this process the subreaper of everything its jobs start and reaps the
// orphans it adopts, for `supervise up`. Only a process whose children are all
// started by a Runner may call it: any other child would be reaped before its own
// Wait could see it.
func Adopt() error {
	var err error
	adoptOnce.Do(func() {
		const prSetChildSubreaper = 36
		if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 && os.Getpid() != 1 {
			err = errno
			return
		}
		a := &adoption{mains: map[int]bool{}}
		chld := make(chan os.Signal, 1)
		signal.Notify(chld, syscall.SIGCHLD)
		adopted = a
		go func() {
			for range chld {
				a.reap()
			}
		}()
	})
	return err
}

// start runs cmd.Start so that the reaper cannot take the new process for an orphan.
func (a *adoption) start(start func() (int, error)) error {
	if a == nil {
		_, err := start()
		return err
	}
	a.forks.RLock()
	defer a.forks.RUnlock()
	pid, err := start()
	if err == nil {
		a.mu.Lock()
		a.mains[pid] = true
		a.mu.Unlock()
	}
	return err
}

// main reports whether pid is a job's main process.
func (a *adoption) main(pid int) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.mains[pid]
}

// reaped forgets a main process its runner has reaped.
func (a *adoption) reaped(pid int) {
	if a == nil {
		return
	}
	// Not while the reaper or StopOrphans goes through the children: a pid they
	// listed as a main process stays one until they are done.
	a.forks.RLock()
	defer a.forks.RUnlock()
	a.mu.Lock()
	delete(a.mains, pid)
	a.mu.Unlock()
}

// reap reaps every child that has exited and is not a job's main process. Signals
// merge, so one SIGCHLD may stand for many exits: all children are looked at.
func (a *adoption) reap() {
	a.forks.Lock()
	defer a.forks.Unlock()
	for _, pid := range children() {
		if a.main(pid) {
			continue
		}
		var ws syscall.WaitStatus
		_, _ = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil) // a running orphan is left alone
	}
}

// children lists this process's children, from every thread's list in /proc.
func children() []int {
	tasks, _ := os.ReadDir("/proc/self/task")
	var pids []int
	for _, t := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + t.Name() + "/children")
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// StopOrphans stops what up adopted, once every job has stopped: sig to each adopted
// process, then SIGKILL to what is left after timeout, or at once when hurry is
// closed. When up stops, nothing its jobs started is left running, a daemon that
// started a session of its own included, as when systemd stops a service's control
// group. A process adopted meanwhile (the child of an orphan that died) gets the same.
func StopOrphans(sig syscall.Signal, timeout time.Duration, hurry <-chan struct{}) {
	a := adopted
	if a == nil {
		return
	}
	signalled := map[int]syscall.Signal{}
	// signal sends s to every adopted process that has not had it, under the lock the
	// reaper holds, so that no pid is reaped and reused between listing and signalling.
	// It reports whether any is left.
	signal := func(s syscall.Signal) bool {
		a.forks.Lock()
		defer a.forks.Unlock()
		left := false
		for _, pid := range children() {
			if a.main(pid) {
				continue
			}
			left = true
			if signalled[pid] != s && signalled[pid] != syscall.SIGKILL {
				_ = syscall.Kill(pid, s)
				_ = syscall.Kill(pid, syscall.SIGCONT)
				signalled[pid] = s
			}
		}
		return left
	}
	// The adopted are children now, so the reaper takes them as they exit; this only
	// looks, on a short timer, and only while up is stopping.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	s := sig
	for signal(s) {
		select {
		case <-tick.C:
			continue
		case <-hurry:
			hurry = nil
			if s == syscall.SIGKILL {
				continue
			}
		case <-deadline.C:
			if s == syscall.SIGKILL {
				return // SIGKILL cannot be refused, but it can be held up: give up
			}
		}
		s = syscall.SIGKILL
		deadline.Reset(time.Second)
	}
}
