package supervisor

import (
	"os"
	"sync"
	"syscall"
)

// poller waits for every job's file descriptors at once (the pidfd of its main
// process, its output, its NOTIFY_SOCKET), in one epoll set that one goroutine waits
// on through Go's own poller. A waiting job thus costs no goroutine, and no stack, of
// its own: a goroutine per descriptor would be three per idle job, the most of what
// an idle job costs. What a descriptor has to say is read when it is ready, by a
// goroutine started then (output, datagrams) or at once (an exit).
type poller struct {
	ep      *os.File // the epoll set, in Go's poller
	epfd    int      // its descriptor (ep.Fd would make it blocking)
	mu      sync.Mutex
	watches map[uint64]*watch
	next    uint64
}

// watch is one descriptor in the poller. It is armed once: when fd is ready, ready is
// called, and not again until arm is called again.
type watch struct {
	p   *poller
	fd  int
	key uint64
	// ready is called with the watch on the poller's goroutine, with its lock held:
	// it must not block. It returns whether the watch is done: its fd is then taken
	// out of the poller and closed.
	ready func(*watch) (done bool)
}

var polling struct {
	mu sync.Mutex
	p  *poller
}

// watchFD adds fd to the poller, armed: ready is called once fd can be read, or is
// hung up or has an error.
func watchFD(fd int, ready func(*watch) bool) (*watch, error) {
	p, err := thePoller()
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next++
	w := &watch{p: p, fd: fd, key: p.next, ready: ready}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, fd, w.event()); err != nil {
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	p.watches[w.key] = w
	return w, nil
}

// thePoller returns the process's poller, started on first use. A failure (out of
// file descriptors) is not kept: the next call tries again.
func thePoller() (*poller, error) {
	polling.mu.Lock()
	defer polling.mu.Unlock()
	if polling.p != nil {
		return polling.p, nil
	}
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	// Non-blocking, so that os.NewFile puts it in Go's poller, which is told when
	// the set has something ready.
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	p := &poller{ep: os.NewFile(uintptr(fd), "epoll"), epfd: fd, watches: map[uint64]*watch{}}
	go p.run()
	polling.p = p
	return p, nil
}

func (w *watch) event() *syscall.EpollEvent {
	// The key, not the fd, says which watch is ready: an fd closed and opened again
	// may be another's by the time its event is read.
	return &syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLONESHOT, Fd: int32(w.key), Pad: int32(w.key >> 32)}
}

// arm asks for ready to be called again once fd is ready, which may be at once.
func (w *watch) arm() {
	_ = syscall.EpollCtl(w.p.epfd, syscall.EPOLL_CTL_MOD, w.fd, w.event())
}

// stop takes fd out of the poller. Once it returns, ready is not running and is not
// called again; fd is its owner's to close.
func (w *watch) stop() {
	p := w.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.watches[w.key] == w {
		delete(p.watches, w.key)
		_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, w.fd, nil)
	}
}

// run calls the ready functions of the watches whose fds are ready, for ever.
func (p *poller) run() {
	rc, err := p.ep.SyscallConn()
	if err != nil {
		panic(err) // an os.File that is open always has one
	}
	events := make([]syscall.EpollEvent, 64)
	for {
		var n int
		// Go's poller tells when the set has become ready (edge-triggered): it is read
		// until empty before waiting again.
		_ = rc.Read(func(fd uintptr) bool {
			for {
				var err error
				n, err = syscall.EpollWait(int(fd), events, 0)
				if err != syscall.EINTR {
					return n > 0
				}
			}
		})
		p.mu.Lock()
		for _, ev := range events[:n] {
			w := p.watches[uint64(uint32(ev.Fd))|uint64(uint32(ev.Pad))<<32]
			if w == nil || !w.ready(w) {
				continue
			}
			delete(p.watches, w.key)
			_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, w.fd, nil)
			syscall.Close(w.fd)
		}
		p.mu.Unlock()
	}
}
