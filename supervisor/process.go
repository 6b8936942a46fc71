package supervisor

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/creack/pty"
)

// process is one started job: its main process, the session it leads, and the reader
// of its output. Every job starts a session of its own, so its session id is its main
// process's pid, and everything it starts stays in that session, even a process that
// moves to a process group of its own, unless it starts a session itself (setsid),
// which is how a program says it means to leave a daemon behind.
type process struct {
	cmd *exec.Cmd
	sid int      // session id, process group id and pid of the main process
	out *os.File // pty master or the read end of the output pipe
	tty *os.File // pty master when on a pty, for resizing; nil on pipes

	// The output is read when the poller finds it ready, by a reader started then,
	// which goes on until there is nothing more to read: an idle job has no reader,
	// and no buffer.
	outFD   int // out's descriptor, non-blocking
	output  *watch
	w       io.Writer // the live copy of the output, or nil
	tail    *Tail
	readers sync.WaitGroup
	reading sync.Mutex    // held by the reader: the next one sees what it wrote
	quit    atomic.Bool   // set by drain: no more reading
	done    chan struct{} // closed when out is read to the end
}

// startProcess starts job with its output going to tail and, live, to w (if not nil).
func startProcess(job *Job, env []string, w io.Writer, tail *Tail) (*process, error) {
	if job.Dir != "" {
		if fi, err := os.Stat(job.Dir); err != nil {
			return nil, fmt.Errorf("dir: %w", err)
		} else if !fi.IsDir() {
			return nil, fmt.Errorf("dir: %s is not a directory", job.Dir)
		}
	}
	path, err := findProgram(job.Command[0], env)
	if err != nil {
		return nil, err
	}
	cmd := &exec.Cmd{Path: path, Args: job.Command, Dir: job.Dir, Env: env}
	// A batch job reads nothing: with /dev/null it sees end of input at once instead
	// of waiting forever on a terminal nobody types into.
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	defer devnull.Close()
	cmd.Stdin = devnull

	p := &process{cmd: cmd, w: w, tail: tail, done: make(chan struct{})}
	var child *os.File // the end the child writes to, closed here once it has started
	if job.PTY {
		master, slave, err := openPTY()
		if err != nil {
			return nil, err
		}
		p.out, p.tty, child = master, master, slave
		if p.outFD, err = sysfd(master); err != nil {
			master.Close()
			slave.Close()
			return nil, err
		}
		// The terminal is the job's output, not its controlling terminal, as systemd
		// gives a service a terminal for output only (StandardOutput=tty opens it
		// O_NOCTTY). With one, the kernel would hang up the job's process group (SIGHUP)
		// the moment its main process, the session leader, exits: before a daemon it
		// started in the background (setsid daemon &) has left the group, so that
		// whether the daemon lives would be a race. And a program that opens /dev/tty
		// to ask a question fails at once, as the job's input is /dev/null, instead of
		// waiting for an answer nobody types.
		//
		// Should supervise die (killed, out of memory), the kernel sends the main
		// process SIGHUP, as the hangup of a controlling terminal would. Pdeathsig
		// follows the thread that started the child, and Go ends a thread only when a
		// goroutine locked to it exits, which nothing here does.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGHUP}
	} else {
		// A pipe of its own rather than os.Pipe, whose read end Go's poller would
		// watch too: the read end is made non-blocking only once it is an os.File
		// that leaves it alone.
		var fds [2]int
		if err := syscall.Pipe2(fds[:], syscall.O_CLOEXEC); err != nil {
			return nil, os.NewSyscallError("pipe2", err)
		}
		p.out, child = os.NewFile(uintptr(fds[0]), "|0"), os.NewFile(uintptr(fds[1]), "|1")
		p.outFD = fds[0]
		if err := syscall.SetNonblock(fds[0], true); err != nil {
			p.out.Close()
			child.Close()
			return nil, err
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	}
	cmd.Stdout, cmd.Stderr = child, child
	// The output is watched before the job starts, so that a job that cannot be
	// watched is not started: nothing would read what it writes. Until then the
	// output cannot be ready, as its other end is open here.
	p.output, err = watchFD(p.outFD, func(w *watch) bool {
		p.readers.Add(1)
		go p.readOutput(w)
		return false
	})
	if err != nil {
		child.Close()
		p.out.Close()
		return nil, err
	}
	err = adopted.start(func() (int, error) {
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		return cmd.Process.Pid, nil
	})
	child.Close()
	if err != nil {
		p.output.stop()
		p.out.Close()
		return nil, err
	}
	p.sid = cmd.Process.Pid
	return p, nil
}

// sysfd returns f's descriptor without Fd, which would make it blocking.
func sysfd(f *os.File) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	err = rc.Control(func(u uintptr) { fd = int(u) })
	return fd, err
}

// findProgram finds name as exec.LookPath does, but in the PATH of the job's
// environment, which a job file may set, rather than in supervise's own.
func findProgram(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	path := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v // the last one wins, as the job's own env is added last
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		file := filepath.Join(dir, name)
		if fi, err := os.Stat(file); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return file, nil
		}
	}
	return "", &exec.Error{Name: name, Err: exec.ErrNotFound}
}

// outputBuffers hold output while it is read: a job waits for output without one.
var outputBuffers = sync.Pool{New: func() any { return new([64 << 10]byte) }}

// readOutput reads the job's output, which the poller found ready, until there is no
// more for now, then asks the poller to watch again. It ends the output at its end:
// EOF on a pipe, EIO on a pty once the last process holding the terminal closed it.
func (p *process) readOutput(w *watch) {
	defer p.readers.Done()
	// The poller starts the next reader once this one has armed the watch again,
	// which is no synchronisation Go knows of: the lock makes the next reader see
	// what this one left in the writers.
	p.reading.Lock()
	defer p.reading.Unlock()
	buf := outputBuffers.Get().(*[64 << 10]byte)
	defer outputBuffers.Put(buf)
	for !p.quit.Load() {
		n, err := readSpinning(p.outFD, buf[:], spinReads)
		if n > 0 {
			p.tail.Write(buf[:n])
			if p.w != nil {
				// A closed stdout must not stop the capture that messages quote.
				_, _ = p.w.Write(buf[:n])
			}
			continue
		}
		if err == syscall.EAGAIN {
			w.arm()
		} else {
			close(p.done)
		}
		return
	}
}

// spinReads is how many times a read that found nothing is retried, yielding in
// between, before waiting on the poller. A pty hands over at most 4 KiB per read, so
// a job writing flat out refills it within microseconds; parking and waking the
// reader for every 4 KiB would cost a quarter of the throughput. The spin is bounded
// and only follows output, so an idle job costs nothing, and a job that has not
// written yet (one starting up, or one that writes nothing) does not compete for a
// CPU with its own start.
const spinReads = 100

// readSpinning reads from the non-blocking fd, retrying up to spin times, briefly,
// when it is empty.
func readSpinning(fd int, buf []byte, spin int) (int, error) {
	for i := 0; ; i++ {
		n, err := syscall.Read(fd, buf)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN && i < spin:
			runtime.Gosched()
			continue
		case err != nil:
			return 0, err
		}
		return n, nil
	}
}

// signal sends sig to the job's process group and to any process of its session
// that moved to a group of its own.
func (p *process) signal(sig syscall.Signal) error {
	err := syscall.Kill(-p.sid, sig)
	if errors.Is(err, syscall.ESRCH) {
		err = nil
	}
	for _, m := range p.members() {
		if m.pgid != p.sid {
			_ = syscall.Kill(m.pid, sig)
		}
	}
	return err
}

// left reports whether any process of the job's session is still running, and
// whether any of them is busy: running or ready to, or in an uninterruptible wait in
// the kernel (as for the disk while a program is loaded), rather than waiting for
// something to happen. Listing the session means reading all of /proc, milliseconds,
// so the common case is answered first: a process group that is empty while nobody
// holds the job's output open has nothing left to find but a process that both left
// the group and closed its output.
func (p *process) left() (left, busy bool) {
	if errors.Is(syscall.Kill(-p.sid, 0), syscall.ESRCH) {
		select {
		case <-p.done:
			return false, false
		default:
		}
	}
	ms := p.members()
	return len(ms) > 0, slices.ContainsFunc(ms, func(m member) bool { return m.busy })
}

// settle gives the output up to grace to reach its end once the main process has
// exited, which takes microseconds unless some other process holds it open.
func (p *process) settle(grace time.Duration) {
	if !errors.Is(syscall.Kill(-p.sid, 0), syscall.ESRCH) {
		return
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
	}
}

// pids lists the running processes of the job's session, for a message.
func (p *process) pids() []int {
	var pids []int
	for _, m := range p.members() {
		pids = append(pids, m.pid)
	}
	return pids
}

// member is a process of a job's session.
type member struct {
	pid, pgid int
	busy      bool // running or runnable (R), or in an uninterruptible wait (D)
}

// members lists the running processes of the job's session. A zombie does not count:
// once its parent died it waits for init to reap it, which some container inits do
// late or never.
func (p *process) members() []member { return sessionMembers(p.sid) }

// procScans shares readings of /proc among the jobs that ask at once: a reading is a
// few milliseconds per thousand processes, and up stopping thousands of jobs at once
// must not read /proc thousands of times over (each job's stop asks, for its
// leftovers). A call made while a reading is under way waits for the next one, which
// begins when that one ends, so what it gets is never older than the call, as a
// reading of its own would be; all the calls made meanwhile share it.
var procScans struct {
	mu            sync.Mutex
	running, next *procScan
}

// procScan is one reading of /proc: the sessions' members, by session id.
type procScan struct {
	done  chan struct{}
	bySID map[int][]member
}

// sessionMembers lists the running processes of session sid, from a reading of /proc
// that began after the call.
func sessionMembers(sid int) []member {
	procScans.mu.Lock()
	if procScans.running != nil {
		if procScans.next == nil {
			procScans.next = &procScan{done: make(chan struct{})}
		}
		s := procScans.next
		procScans.mu.Unlock()
		<-s.done
		return s.bySID[sid]
	}
	s := &procScan{done: make(chan struct{})}
	procScans.running = s
	procScans.mu.Unlock()
	first := s
	// This call reads, and goes on reading for those who asked meanwhile, until none
	// did.
	for s != nil {
		s.bySID = readSessions()
		close(s.done)
		procScans.mu.Lock()
		s, procScans.next = procScans.next, nil
		procScans.running = s
		procScans.mu.Unlock()
	}
	return first.bySID[sid]
}

// readSessions reads every process's session from /proc, leaving zombies out.
func readSessions() map[int][]member {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	bySID := map[int][]member{}
	for _, e := range procs {
		if c := e.Name()[0]; c < '0' || c > '9' {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone since the listing
		}
		// pid (comm) state ppid pgrp session ...; comm may hold spaces and parentheses.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) < 4 || f[0] == "Z" {
			continue
		}
		pid, _ := strconv.Atoi(e.Name())
		pgid, _ := strconv.Atoi(f[2])
		sid, _ := strconv.Atoi(f[3])
		bySID[sid] = append(bySID[sid], member{pid, pgid, f[0] == "R" || f[0] == "D"})
	}
	return bySID
}

// drain waits up to grace for the rest of the output, then stops reading. A process
// that left the group but holds the terminal (a daemon that called setsid) would
// otherwise keep the run open forever.
func (p *process) drain(grace time.Duration) {
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
	}
	p.quit.Store(true)
	p.output.stop()
	p.readers.Wait()
	p.out.Close()
}

// resize sets the size of the job's terminal and, when it changed, tells the job's
// process group with SIGWINCH, as the kernel tells a terminal's foreground group:
// the terminal is not the job's controlling one, so the kernel does not.
func (p *process) resize(ws *pty.Winsize) {
	if p.tty == nil || ws == nil {
		return
	}
	if old, err := pty.GetsizeFull(p.tty); err == nil && *old == *ws {
		return
	}
	if pty.Setsize(p.tty, ws) == nil {
		_ = syscall.Kill(-p.sid, syscall.SIGWINCH)
	}
}

// exit is how the main process ended.
type exit struct {
	code int            // exit status, or -1
	sig  syscall.Signal // the signal that ended it, or 0
	err  error          // why it could not be waited for; code is then -1
}

// Linux constants the syscall package does not name.
const (
	sysPidfdOpen  = 434 // pidfd_open(2)
	pidfdNonblock = syscall.O_NONBLOCK
	pPidfd        = 3 // waitid(2) idtype P_PIDFD
	cldExited     = 1 // siginfo si_code values
)

// siginfo is the part of Linux's siginfo_t that waitid fills for a child.
type siginfo struct {
	signo, errno, code int32
	_                  int32
	pid                int32
	uid                uint32
	status             int32
	_                  [128 - 7*4]byte
}

// exited returns a channel that gets how the main process ended, once it has and is
// reaped. It waits on a pidfd in the poller rather than in a blocking waitid, which
// would hold an OS thread per job for as long as the job runs: hundreds of threads
// under `supervise up`; and in the poller, a job waits without a goroutine of its own.
func (p *process) exited() <-chan exit {
	ch := make(chan exit, 1)
	if unsafe.Sizeof(uintptr(0)) != 8 {
		go func() { ch <- p.waitBlocking() }() // siginfo has the 64-bit layout
		return ch
	}
	fd, _, errno := syscall.Syscall(sysPidfdOpen, uintptr(p.sid), pidfdNonblock, 0) // a pidfd is close-on-exec
	if errno != 0 {
		go func() { ch <- p.waitBlocking() }() // a kernel before 5.3
		return ch
	}
	// The pidfd is how the process is waited for from now on. Go's own handle holds
	// a pidfd too: one is enough, and a job's fds count when thousands run (each fork
	// copies the whole fd table). The process stays a zombie until reaped, so its pid
	// cannot be reused meanwhile.
	_ = p.cmd.Process.Release()
	_, err := watchFD(int(fd), func(w *watch) bool {
		e, ok := p.reap(int(fd), syscall.WNOHANG)
		if !ok {
			w.arm()
			return false
		}
		ch <- e
		return true // the poller closes the pidfd
	})
	if err != nil {
		go func() {
			_ = syscall.SetNonblock(int(fd), false) // else waitid answers EAGAIN at once
			e, _ := p.reap(int(fd), 0)              // blocks in waitid until the process exits
			syscall.Close(int(fd))
			ch <- e
		}()
	}
	return ch
}

// reap reaps the main process through its pidfd, if it has exited; with flags 0
// rather than WNOHANG, once it has.
func (p *process) reap(pidfd, flags int) (e exit, ok bool) {
	var info siginfo
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPidfd, uintptr(pidfd), uintptr(unsafe.Pointer(&info)), uintptr(syscall.WEXITED|flags), 0, 0)
		if errno == syscall.EINTR {
			continue
		}
		if errno == 0 && info.pid == 0 {
			return exit{}, false // still running: the pidfd was not ready after all
		}
		adopted.reaped(p.sid)
		switch {
		case errno != 0:
			return exit{code: -1, err: errno}, true
		case info.code == cldExited:
			return exit{code: int(info.status)}, true
		default:
			return exit{code: -1, sig: syscall.Signal(info.status)}, true
		}
	}
}

// waitBlocking waits for the main process where there are no pidfds.
func (p *process) waitBlocking() exit {
	_ = p.cmd.Wait() // the status is in ProcessState; Wait's error says no more
	adopted.reaped(p.sid)
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ok && ws.Signaled() {
		return exit{code: -1, sig: ws.Signal()}
	}
	return exit{code: p.cmd.ProcessState.ExitCode()}
}
