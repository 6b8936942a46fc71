package supervisor

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"
	"sync"
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

	conn *net.UnixConn
	done chan struct{} // closed when the reader has returned
	once sync.Once
	err  error
}

// listenSdNotify creates the socket at path (mode 0600 or tighter; the caller makes the dir 0700)
// removing a stale socket file left at path by an earlier run, and starts one goroutine that
// reads datagrams and calls handle for each, in order, until Close.
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
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", path, err)
	}
	// bind honours the umask, not a mode; changing the process umask would race with
	// other goroutines, and the 0700 directory keeps others out until this chmod.
	if err := os.Chmod(path, 0o600); err != nil {
		conn.Close()
		os.Remove(path)
		return nil, fmt.Errorf("chmod %s: %w", path, err)
	}
	s := &NotifySocket{Path: path, conn: conn, done: make(chan struct{})}
	go s.read(handle)
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

// read waits on Go's poller for a datagram, so an idle socket costs no CPU; Close
// wakes it by closing conn.
func (s *NotifySocket) read(handle func(sdMessage)) {
	defer close(s.done)
	rc, err := s.conn.SyscallConn()
	if err != nil {
		return
	}
	for {
		var m sdMessage
		var ok bool
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			b := datagramBuffers.Get().(*datagramBuffer)
			defer datagramBuffers.Put(b)
			n, oobn, flags, _, err := syscall.Recvmsg(int(fd), b.data[:], b.oob, syscall.MSG_DONTWAIT|syscall.MSG_CMSG_CLOEXEC)
			if err == syscall.EAGAIN {
				return false // nothing yet: park until the poller says there is
			}
			if err != nil && err != syscall.EINTR {
				rerr = err
			}
			if err != nil {
				return true
			}
			closePassedFDs(b.oob[:oobn])
			// A truncated datagram could end in half a STATUS; systemd drops those too.
			if flags&syscall.MSG_TRUNC == 0 {
				m, ok = parseSdMessage(b.data[:n]), true
			}
			return true
		})
		if err != nil || rerr != nil {
			// On a bound unixgram socket this happens only once the conn is closed;
			// returning on any error also means a surprise cannot spin.
			return
		}
		if ok {
			handle(m)
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
		err := s.conn.Close()
		<-s.done
		if rerr := os.Remove(s.Path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = errors.Join(err, fmt.Errorf("remove %s: %w", s.Path, rerr))
		}
		s.err = err
	})
	return s.err
}
