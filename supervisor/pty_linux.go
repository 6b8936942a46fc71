package supervisor

import (
	"os"
	"syscall"
	"unsafe"

	"github.com/creack/pty"
)

// defaultSize is the terminal size a job gets when supervise's own output is not a
// terminal to copy it from.
var defaultSize = &pty.Winsize{Rows: 24, Cols: 80}

// openPTY opens a pseudo-terminal pair ready for a job: the master is non-blocking so
// reads go through the runtime poller and can be given a deadline, and the terminal
// does no output processing (OPOST off: no "\n" to "\r\n", no tab expansion), so logs
// and messages hold the bytes the program wrote, and writes take the kernel's fast path.
func openPTY() (master, slave *os.File, err error) {
	master, slave, err = pty.Open()
	if err != nil {
		return nil, nil, err
	}
	// pty.Open called Fd(), which left the master blocking: a blocking Read ignores
	// deadlines and Close. Set it back without calling Fd() again.
	rc, err := master.SyscallConn()
	if err == nil {
		cerr := rc.Control(func(fd uintptr) { err = syscall.SetNonblock(int(fd), true) })
		if cerr != nil {
			err = cerr
		}
	}
	if err == nil {
		err = rawOutput(slave)
	}
	if err == nil {
		err = pty.Setsize(slave, stdoutSize())
	}
	if err != nil {
		master.Close()
		slave.Close()
		return nil, nil, err
	}
	return master, slave, nil
}

// rawOutput turns off output processing on the terminal.
func rawOutput(tty *os.File) error {
	rc, err := tty.SyscallConn()
	if err != nil {
		return err
	}
	var errno syscall.Errno
	err = rc.Control(func(fd uintptr) {
		var t syscall.Termios
		if _, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TCGETS, uintptr(unsafe.Pointer(&t))); errno != 0 {
			return
		}
		t.Oflag &^= syscall.OPOST
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TCSETS, uintptr(unsafe.Pointer(&t)))
	})
	if err != nil {
		return err
	}
	if errno != 0 {
		return errno
	}
	return nil
}

// stdoutSize is the size of the terminal supervise writes to, or the default.
func stdoutSize() *pty.Winsize {
	ws, err := pty.GetsizeFull(os.Stdout)
	if err != nil || ws.Rows == 0 || ws.Cols == 0 {
		return defaultSize
	}
	return ws
}
