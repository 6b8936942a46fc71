package supervisor

import (
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestParseNotify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want sdMessage
	}{
		{"READY=1", sdMessage{Ready: true}},
		{"WATCHDOG=1\nSTATUS=ok", sdMessage{Watchdog: true, Status: "ok", HasStatus: true}},
		{"STATUS=", sdMessage{HasStatus: true}},
		{"WATCHDOG=trigger", sdMessage{Trigger: true}},
		{"STOPPING=1", sdMessage{}}, // nothing to do with it
		{"READY=0", sdMessage{}},
		{"", sdMessage{}},
		{"garbage without an equals sign", sdMessage{}},
		{"\x00\xff\n=\n\n", sdMessage{}},
		{"X=1", sdMessage{}},
		{"READY=1\n", sdMessage{Ready: true}},
		{"STATUS=ok\n", sdMessage{Status: "ok", HasStatus: true}},
		{"STATUS=a=b=c", sdMessage{Status: "a=b=c", HasStatus: true}},
		{"STATUS=one\nSTATUS=two", sdMessage{Status: "two", HasStatus: true}},
		{"MAINPID=42\nREADY=1\nFDSTORE=1", sdMessage{Ready: true}},
	}
	for _, tt := range tests {
		if got := parseSdMessage([]byte(tt.in)); got != tt.want {
			t.Errorf("parseSdMessage(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

// FuzzParseSdMessage checks what holds for any datagram sent to a NOTIFY_SOCKET:
// an assignment counts only on a line of its own that says exactly it (READY=1,
// WATCHDOG=1, WATCHDOG=trigger), the last STATUS= line is the status, and the socket
// hands on what parseSdMessage reads, or nothing for a datagram over maxDatagram.
func FuzzParseSdMessage(f *testing.F) {
	f.Add([]byte("READY=1\nSTATUS=Processing requests…"))
	f.Add([]byte("READY=1\r\nWATCHDOG=1 \nSTATUS"))
	dir, err := os.MkdirTemp("", "sdfuzz") // a unix socket's path must be short
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { os.RemoveAll(dir) })
	got := make(chan sdMessage, 4)
	s, err := listenSdNotify(filepath.Join(dir, "notify"), func(m sdMessage) { got <- m })
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: s.Path, Net: "unixgram"})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { c.Close() })
	f.Fuzz(func(t *testing.T, datagram []byte) {
		var want sdMessage
		lines := strings.Split(string(datagram), "\n")
		want.Ready = slices.Contains(lines, "READY=1")
		want.Watchdog = slices.Contains(lines, "WATCHDOG=1")
		want.Trigger = slices.Contains(lines, "WATCHDOG=trigger")
		for _, l := range lines {
			if status, ok := strings.CutPrefix(l, "STATUS="); ok {
				want.Status, want.HasStatus = status, true
			}
		}
		if m := parseSdMessage(datagram); m != want {
			t.Fatalf("parseSdMessage(%q) = %+v, want %+v", datagram, m, want)
		}

		// Through the socket, followed by a datagram that shows the first was read.
		if _, err := c.Write(datagram); errors.Is(err, syscall.EMSGSIZE) {
			return // more than the socket's buffer: no program can send it
		} else if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte("STATUS=next")); err != nil {
			t.Fatal(err)
		}
		if len(datagram) <= maxDatagram {
			if m := receive(t, got); m != want {
				t.Fatalf("the socket read %q as %+v, want %+v", datagram, m, want)
			}
		}
		if m, next := receive(t, got), (sdMessage{Status: "next", HasStatus: true}); m != next {
			t.Fatalf("after %d bytes, the socket read %+v, want %+v", len(datagram), m, next)
		}
	})
}

// waitFor is how long a test waits for something that should happen at once; it is a
// deadline for a hung test, not a measurement.
const waitFor = 30 * time.Second

// notifyDir returns a fresh 0700 directory with a short path: t.TempDir embeds the
// test name, which could push a socket path past 107 bytes.
func notifyDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sdnotify")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// listenTest listens at a fresh path and returns the socket and a channel of what
// handle got; the socket is closed when the test ends.
func listenTest(t *testing.T) (*NotifySocket, <-chan sdMessage) {
	t.Helper()
	got := make(chan sdMessage, 16)
	s, err := listenSdNotify(filepath.Join(notifyDir(t), "notify"), func(m sdMessage) { got <- m })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, got
}

func receive(t *testing.T, got <-chan sdMessage) sdMessage {
	t.Helper()
	select {
	case m := <-got:
		return m
	case <-time.After(waitFor):
		t.Fatal("no datagram reached handle")
		return sdMessage{}
	}
}

func dial(t *testing.T, path string) *net.UnixConn {
	t.Helper()
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestNotifyGoClient(t *testing.T) {
	t.Parallel()
	s, got := listenTest(t)
	fi, err := os.Lstat(s.Path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm()&^0o600 != 0 {
		t.Errorf("socket mode = %v, want a socket of 0600 or tighter", fi.Mode())
	}
	c := dial(t, s.Path)
	if _, err := c.Write([]byte("READY=1\nSTATUS=up")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("WATCHDOG=1")); err != nil {
		t.Fatal(err)
	}
	if m, want := receive(t, got), (sdMessage{Ready: true, Status: "up", HasStatus: true}); m != want {
		t.Errorf("first = %+v, want %+v", m, want)
	}
	if m, want := receive(t, got), (sdMessage{Watchdog: true}); m != want {
		t.Errorf("second = %+v, want %+v", m, want)
	}
}

// TestNotifyPython sends the snippet most non-systemd programs copy from the docs.
func TestNotifyPython(t *testing.T) {
	t.Parallel()
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed:", err)
	}
	s, got := listenTest(t)
	cmd := exec.Command(python, "-c", `import os, socket
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.connect(os.environ["NOTIFY_SOCKET"])
sock.sendall(b"WATCHDOG=1\nSTATUS=from python")`)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+s.Path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("python3: %v\n%s", err, out)
	}
	if m, want := receive(t, got), (sdMessage{Watchdog: true, Status: "from python", HasStatus: true}); m != want {
		t.Errorf("got %+v, want %+v", m, want)
	}
}

// TestNotifySystemdNotify also covers fd passing: systemd-notify follows its message
// with BARRIER=1 carrying a pipe fd, and waits (failing after 5s) until that fd is closed.
func TestNotifySystemdNotify(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("systemd-notify")
	if err != nil {
		t.Skip("systemd-notify is not installed:", err)
	}
	s, got := listenTest(t)
	cmd := exec.Command(bin, "--ready", "--status=from systemd-notify")
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+s.Path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("systemd-notify: %v\n%s", err, out)
	}
	m := receive(t, got)
	if !m.Ready || m.Status != "from systemd-notify" {
		t.Errorf("got %+v, want Ready and STATUS=from systemd-notify", m)
	}
}

func TestNotifyCloseRemovesSocket(t *testing.T) {
	t.Parallel()
	s, _ := listenTest(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(s.Path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after Close, Lstat(%s) = %v, want not exist", s.Path, err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
}

func TestNotifyReplacesStaleSocket(t *testing.T) {
	t.Parallel()
	path := filepath.Join(notifyDir(t), "notify")
	// A unixgram conn leaves its file behind when closed, as a crashed run would.
	stale, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	stale.Close()
	got := make(chan sdMessage, 1)
	s, err := listenSdNotify(path, func(m sdMessage) { got <- m })
	if err != nil {
		t.Fatalf("listen over a stale socket: %v", err)
	}
	defer s.Close()
	if _, err := dial(t, path).Write([]byte("READY=1")); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, got); !m.Ready {
		t.Errorf("got %+v, want Ready", m)
	}
}

func TestNotifyKeepsOtherFiles(t *testing.T) {
	t.Parallel()
	path := filepath.Join(notifyDir(t), "notify")
	if err := os.WriteFile(path, []byte("not a socket"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := listenSdNotify(path, func(sdMessage) {}); err == nil {
		s.Close()
		t.Fatal("listen over a regular file succeeded, want an error")
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "not a socket" {
		t.Errorf("regular file at the path = %q, %v; want it untouched", b, err)
	}
}

func TestNotifyPathTooLong(t *testing.T) {
	t.Parallel()
	dir := notifyDir(t)
	path := filepath.Join(dir, strings.Repeat("n", 108-len(dir)-1))
	if len(path) != 108 {
		t.Fatalf("test path is %d bytes, want 108", len(path))
	}
	s, err := listenSdNotify(path, func(sdMessage) {})
	if err == nil {
		s.Close()
		t.Fatal("listen on a 108-byte path succeeded, want an error")
	}
	if !strings.Contains(err.Error(), "107") {
		t.Errorf("error %q does not say the limit", err)
	}
	// 107 bytes is the longest path that fits, and must work.
	s, err = listenSdNotify(path[:107], func(sdMessage) {})
	if err != nil {
		t.Fatalf("listen on a 107-byte path: %v", err)
	}
	s.Close()
}

func TestNotifyLongStatus(t *testing.T) {
	t.Parallel()
	s, got := listenTest(t)
	c := dial(t, s.Path)
	// 3 KiB, then a datagram of exactly the limit systemd has too.
	for _, size := range []int{3 << 10, maxDatagram - len("STATUS=\n")} {
		status := strings.Repeat("s", size)
		if _, err := c.Write([]byte("STATUS=" + status + "\n")); err != nil {
			t.Fatal(err)
		}
		if m := receive(t, got); m.Status != status {
			t.Errorf("got a STATUS of %d bytes, want %d", len(m.Status), len(status))
		}
	}
}

func TestNotifyDropsOversize(t *testing.T) {
	t.Parallel()
	s, got := listenTest(t)
	c := dial(t, s.Path)
	if _, err := c.Write([]byte("READY=1\nSTATUS=" + strings.Repeat("s", maxDatagram))); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("WATCHDOG=1")); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, got); m.Ready || !m.Watchdog {
		t.Errorf("got Ready=%v Watchdog=%v and a STATUS of %d bytes, want only the WATCHDOG=1 sent after the oversize datagram",
			m.Ready, m.Watchdog, len(m.Status))
	}
}

// TestNotifyClosesPassedFD sends the write end of a pipe: the read end sees EOF only
// once every copy of the write end is closed, so EOF proves the receiver closed its own.
func TestNotifyClosesPassedFD(t *testing.T) {
	t.Parallel()
	s, got := listenTest(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// WriteMsgUnix refuses a connected unixgram conn, so the client binds its own
	// address and names the server's.
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(filepath.Dir(s.Path), "client"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rights := syscall.UnixRights(int(w.Fd()))
	_, _, err = c.WriteMsgUnix([]byte("READY=1"), rights, &net.UnixAddr{Name: s.Path, Net: "unixgram"})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if m := receive(t, got); !m.Ready {
		t.Errorf("got %+v, want Ready", m)
	}
	if err := r.SetReadDeadline(time.Now().Add(waitFor)); err != nil {
		t.Fatal(err)
	}
	if n, err := r.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("pipe read = %d, %v; want EOF, as the passed fd should be closed", n, err)
	}
}

// TestNotifyCloseWhileSending races Close with a stream of datagrams: -race checks the
// socket, and handle must not run once Close has returned.
func TestNotifyCloseWhileSending(t *testing.T) {
	t.Parallel()
	for range 20 {
		path := filepath.Join(notifyDir(t), "notify")
		var closed atomic.Bool
		late := make(chan struct{}, 1)
		s, err := listenSdNotify(path, func(sdMessage) {
			if closed.Load() {
				select {
				case late <- struct{}{}:
				default:
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		c := dial(t, path)
		stop := make(chan struct{})
		sent := make(chan struct{})
		go func() {
			defer close(sent)
			for {
				select {
				case <-stop:
					return
				default:
				}
				// Errors are expected once the socket is gone.
				c.Write([]byte("WATCHDOG=1"))
			}
		}()
		if _, err := c.Write([]byte("READY=1")); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		closed.Store(true)
		close(stop)
		<-sent
		select {
		case <-late:
			t.Fatal("handle ran after Close returned")
		default:
		}
	}
}
