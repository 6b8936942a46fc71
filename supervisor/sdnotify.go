package supervisor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// sdMessage is what one sd_notify datagram said. Unknown assignments are ignored,
// as systemd ignores them.
type sdMessage struct {
	Ready     bool   // READY=1
	Watchdog  bool   // WATCHDOG=1: a sign of life
	Trigger   bool   // WATCHDOG=trigger: the program asks for its watchdog action now
	Status    string // STATUS=...; empty when not set
	HasStatus bool   // STATUS= was present (it may be set to empty)
}

// parseSdMessage reads one datagram.
func parseSdMessage(b []byte) sdMessage {
	var m sdMessage
	for line := range strings.SplitSeq(string(b), "\n") {
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		switch {
		case key == "READY" && value == "1":
			m.Ready = true
		case key == "WATCHDOG" && value == "1":
			m.Watchdog = true
		case key == "WATCHDOG" && value == "trigger":
			m.Trigger = true
		case key == "STATUS":
			m.Status, m.HasStatus = value, true
		}
	}
	return m
}

const (
	// maxDatagram is the largest datagram taken, as systemd takes it
	// (NOTIFY_BUFFER_MAX, PIPE_BUF): a program written for systemd sends no more, and
	// a socket per job holds no more than this for its reads.
	maxDatagram = 4096
	// maxSocketPath is sun_path (108 bytes) less the terminating NUL.
	maxSocketPath = 107
	// maxPassedFDs is the kernel's SCM_MAX_FD: room for every fd one datagram can carry,
	// so each is received and closed here.
	maxPassedFDs = 253
)

// NotifySocket is one job's NOTIFY_SOCKET: a unixgram socket at Path, whose datagrams
// go to a handler until Close.
type NotifySocket struct {
	Path string

	fd      int
	watch   *watch
	handle  func(sdMessage)
	readers sync.WaitGroup // the reader at work, if any
	reading sync.Mutex     // held by the reader: the next one sees what it did
	closed  atomic.Bool
	once    sync.Once
	err     error
}

// listenSdNotify creates the socket at path (mode 0600 or tighter; the caller makes the dir 0700)
// removing a stale socket file left at path by an earlier run, and calls handle for each
// datagram, in order, until Close. The socket waits in the poller: a reader is started
// only when datagrams come, and reads until there are no more.
func listenSdNotify(path string, handle func(sdMessage)) (*NotifySocket, error) {
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("listen %s: socket path is %d bytes, a unix socket allows %d", path, len(path), maxSocketPath)
	}
	// Only a socket is removed: any other file at path is not ours to delete.
	if fi, err := os.Lstat(path); err == nil && fi.Mode().Type() == fs.ModeSocket {
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale %s: %w", path, err)
		}
	}
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", path, os.NewSyscallError("socket", err))
	}
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("listen %s: %w", path, os.NewSyscallError("bind", err))
	}
	// bind honours the umask, not a mode; changing the process umask would race with
	// other goroutines, and the 0700 directory keeps others out until this chmod.
	if err := os.Chmod(path, 0o600); err != nil {
		syscall.Close(fd)
		os.Remove(path)
		return nil, fmt.Errorf("chmod %s: %w", path, err)
	}
	s := &NotifySocket{Path: path, fd: fd, handle: handle}
	s.watch, err = watchFD(fd, func(w *watch) bool {
		s.readers.Add(1)
		go s.read(w)
		return false
	})
	if err != nil {
		syscall.Close(fd)
		os.Remove(path)
		return nil, fmt.Errorf("listen %s: %w", path, err)
	}
	return s, nil
}

// datagramBuffers hold one datagram while it is read. They are shared: a socket waits
// for a datagram without a buffer, so hundreds of idle jobs do not hold one each.
var datagramBuffers = sync.Pool{New: func() any {
	return &datagramBuffer{oob: make([]byte, syscall.CmsgSpace(4*maxPassedFDs)+syscall.CmsgSpace(syscall.SizeofUcred))}
}}

type datagramBuffer struct {
	data [maxDatagram]byte
	oob  []byte
}

// read hands on the datagrams that came, until there are no more for now, when it
// asks the poller to watch again, or until Close.
func (s *NotifySocket) read(w *watch) {
	defer s.readers.Done()
	s.reading.Lock() // see readOutput
	defer s.reading.Unlock()
	b := datagramBuffers.Get().(*datagramBuffer)
	defer datagramBuffers.Put(b)
	for !s.closed.Load() {
		n, oobn, flags, _, err := syscall.Recvmsg(s.fd, b.data[:], b.oob, syscall.MSG_DONTWAIT|syscall.MSG_CMSG_CLOEXEC)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			w.arm()
			return
		case err != nil:
			// A bound unixgram socket has no errors to read; should one come, the
			// socket is left alone rather than read in a loop.
			return
		}
		closePassedFDs(b.oob[:oobn])
		// A truncated datagram could end in half a STATUS; systemd drops those too.
		if flags&syscall.MSG_TRUNC == 0 {
			s.handle(parseSdMessage(b.data[:n]))
		}
	}
}

// closePassedFDs closes descriptors a client sent along (SCM_RIGHTS): nothing here keeps
// them, and a misbehaving client must not make us run out of fds.
func closePassedFDs(oob []byte) {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return
	}
	for _, m := range msgs {
		fds, err := syscall.ParseUnixRights(&m)
		if err != nil {
			continue // SCM_CREDENTIALS or another kind that holds no fds
		}
		for _, fd := range fds {
			syscall.Close(fd)
		}
	}
}

// Close stops the reader, waits until handle will not be called again, and removes the socket file.
// Close must not be called from handle, which would wait for itself.
func (s *NotifySocket) Close() error {
	s.once.Do(func() {
		s.closed.Store(true)
		s.watch.stop()
		s.readers.Wait()
		err := syscall.Close(s.fd)
		if rerr := os.Remove(s.Path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = errors.Join(err, fmt.Errorf("remove %s: %w", s.Path, rerr))
		}
		s.err = err
	})
	return s.err
}
