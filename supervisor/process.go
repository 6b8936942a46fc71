package supervisor

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/creack/pty"
)

// process is one started job: its main process, its process group, and the reader of
// its output. The group is what gets signalled, so a stop reaches every process the
// job started that stayed in its group.
type process struct {
	cmd  *exec.Cmd
	pgid int
	out  *os.File      // pty master or the read end of the output pipe
	tty  *os.File      // pty master when on a pty, for resizing; nil on pipes
	done chan struct{} // closed when out is read to the end
}

// startProcess starts job with its output going to tail and, live, to w (if not nil).
func startProcess(job *Job, env []string, w io.Writer, tail *Tail) (*process, error) {
	cmd := exec.Command(job.Command[0], job.Command[1:]...)
	cmd.Dir = job.Dir
	cmd.Env = env
	// A batch job reads nothing: with /dev/null it sees end of input at once instead
	// of waiting forever on a terminal nobody types into.
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	defer devnull.Close()
	cmd.Stdin = devnull

	p := &process{cmd: cmd, done: make(chan struct{})}
	var child *os.File // the end the child writes to, closed here once it has started
	if job.PTY {
		master, slave, err := openPTY()
		if err != nil {
			return nil, err
		}
		p.out, p.tty, child = master, master, slave
		// Its own session with the pty as controlling terminal (fd 1: stdin is
		// /dev/null). Setsid makes it a process group leader too; Setpgid would fail.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 1}
	} else {
		r, wr, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		p.out, child = r, wr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	}
	cmd.Stdout, cmd.Stderr = child, child
	err = cmd.Start()
	child.Close()
	if err != nil {
		p.out.Close()
		return nil, err
	}
	p.pgid = cmd.Process.Pid
	go p.copyOutput(w, tail)
	return p, nil
}

// copyOutput reads the job's output until its end: EOF on a pipe, EIO on a pty once
// the last process holding the terminal closed it, or the deadline set by drain.
func (p *process) copyOutput(w io.Writer, tail *Tail) {
	defer close(p.done)
	rc, err := p.out.SyscallConn()
	if err != nil {
		return
	}
	buf := make([]byte, 64<<10)
	for {
		var n int
		rerr := rc.Read(func(fd uintptr) bool {
			n, err = readSpinning(int(fd), buf)
			return !errors.Is(err, syscall.EAGAIN)
		})
		if n > 0 {
			tail.Write(buf[:n])
			if w != nil {
				// A closed stdout must not stop the capture that messages quote.
				_, _ = w.Write(buf[:n])
			}
		}
		if rerr != nil || err != nil || n == 0 {
			return
		}
	}
}

// spinReads is how many times a read that found nothing is retried, yielding in
// between, before waiting on the poller. A pty hands over at most 4 KiB per read, so
// a job writing flat out refills it within microseconds; parking and waking the
// reader for every 4 KiB would cost a quarter of the throughput. The spin is bounded
// and only follows output, so an idle job costs nothing.
const spinReads = 100

// readSpinning reads from the non-blocking fd, retrying briefly when it is empty.
func readSpinning(fd int, buf []byte) (int, error) {
	for i := 0; ; i++ {
		n, err := syscall.Read(fd, buf)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN && i < spinReads:
			runtime.Gosched()
			continue
		case err != nil:
			return 0, err
		}
		return n, nil
	}
}

// signal sends sig to the job's whole process group.
func (p *process) signal(sig syscall.Signal) error {
	err := syscall.Kill(-p.pgid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// groupAlive reports whether any process is left running in the job's process group.
// A zombie does not count: once its parent died it waits for init to reap it, which
// some container inits do late or never.
func (p *process) groupAlive() bool {
	if errors.Is(syscall.Kill(-p.pgid, 0), syscall.ESRCH) {
		return false
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return true
	}
	for _, e := range procs {
		if c := e.Name()[0]; c < '0' || c > '9' {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) > 2 && f[0] != "Z" && f[2] == strconv.Itoa(p.pgid) {
			return true
		}
	}
	return false
}

// drain waits up to grace for the rest of the output, then stops reading. A process
// that left the group but holds the terminal (a daemon that called setsid) would
// otherwise keep the run open forever.
func (p *process) drain(grace time.Duration) {
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.out.SetReadDeadline(time.Now())
		<-p.done
	}
	p.out.Close()
}

// resize sets the size of the job's terminal; the kernel tells the job with SIGWINCH.
func (p *process) resize(ws *pty.Winsize) {
	if p.tty != nil && ws != nil {
		_ = pty.Setsize(p.tty, ws)
	}
}
