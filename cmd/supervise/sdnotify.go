package main

import (
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/supervise/supervise/supervisor"
)

// statusEvery is how often up refreshes its STATUS= for systemd when no watchdog asks
// for more: `systemctl status` is at most this late.
const statusEvery = 10 * time.Second

// sdNotifier is up's side of sd_notify: it tells the service manager that started
// up (systemd, with Type=notify) that the jobs have started (READY=1), how they are
// (STATUS=), that up is alive (WATCHDOG=1), reloading (RELOADING=1) or stopping
// (STOPPING=1). Each message is one datagram to NOTIFY_SOCKET from a socket of its
// own, as sd_notify(3) sends it, so a socket systemd re-creates (daemon-reexec)
// still gets the next one. A nil *sdNotifier says nothing: up was not started by a
// service manager that listens, and then nothing here runs or polls.
type sdNotifier struct {
	addr     *net.UnixAddr
	watchdog time.Duration // half of WATCHDOG_USEC: how often WATCHDOG=1 is due; 0 for none
	stderr   io.Writer

	mu       sync.Mutex
	status   string // the last STATUS= sent
	ready    bool   // READY=1 was sent: a reload may say RELOADING=1 and READY=1 again
	stopping bool   // STOPPING=1 was sent: nothing says ready again
	failing  bool   // the last send failed, and said so on stderr
}

// newSdNotifier returns the notifier that NOTIFY_SOCKET in getenv asks for, or nil
// when it is not set. WATCHDOG_USEC turns on the watchdog unless WATCHDOG_PID names
// another process than pid, as sd_watchdog_enabled(3) decides. An address
// sd_notify would refuse is an error; up then runs without telling systemd.
func newSdNotifier(getenv func(string) string, pid int, stderr io.Writer) (*sdNotifier, error) {
	path := getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil, nil
	}
	// "@" is an abstract socket, which Go's net package understands as it is spelt.
	if (path[0] != '/' && path[0] != '@') || len(path) < 2 {
		return nil, fmt.Errorf("NOTIFY_SOCKET=%s: not an absolute path or an abstract socket (@NAME)", path)
	}
	n := &sdNotifier{addr: &net.UnixAddr{Name: path, Net: "unixgram"}, stderr: stderr}
	if usec := getenv("WATCHDOG_USEC"); usec != "" {
		if p := getenv("WATCHDOG_PID"); p != "" && p != strconv.Itoa(pid) {
			return n, nil // the watchdog is some other process's
		}
		us, err := strconv.ParseUint(usec, 10, 63)
		if err != nil || us == 0 {
			return n, fmt.Errorf("WATCHDOG_USEC=%s: not a positive number of microseconds; no WATCHDOG=1 will be sent", usec)
		}
		n.watchdog = time.Duration(us) * time.Microsecond / 2
	}
	return n, nil
}

// every is how often tick is due: at half the watchdog's timeout, as sd_watchdog_enabled(3)
// advises, or every statusEvery; 0 for a nil notifier, which needs no ticks.
func (n *sdNotifier) every() time.Duration {
	if n == nil {
		return 0
	}
	if n.watchdog > 0 && n.watchdog < statusEvery {
		return n.watchdog
	}
	return statusEvery
}

// started returns d.Started(), for READY=1; nil, a channel that never fires, for a
// nil notifier.
func (n *sdNotifier) started(d *supervisor.Daemon) <-chan struct{} {
	if n == nil {
		return nil
	}
	return d.Started()
}

// readyNow says READY=1 with the jobs' status, once every job has started or a
// reload is done; not once up is stopping.
func (n *sdNotifier) readyNow(status string) {
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopping {
		return
	}
	n.ready = true
	n.sendStatus(status, "READY=1")
}

// reloading says RELOADING=1 as a reload begins, once up has said it is ready.
func (n *sdNotifier) reloading() {
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.ready || n.stopping {
		return
	}
	n.send("RELOADING=1", "MONOTONIC_USEC="+strconv.FormatInt(monotonicUsec(), 10))
}

// reloaded says READY=1 with the new status after a reload; before up was first
// ready, only the status.
func (n *sdNotifier) reloaded(status string) {
	if n == nil {
		return
	}
	n.mu.Lock()
	ready := n.ready
	n.mu.Unlock()
	if ready {
		n.readyNow(status)
		return
	}
	n.update(status)
}

// tick says WATCHDOG=1 when the watchdog is on, with STATUS= when it changed. It is
// called from up's own loop, so a loop that hangs stops the signs of life and
// systemd's watchdog acts.
func (n *sdNotifier) tick(status string) {
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.watchdog > 0 {
		n.sendStatus(status, "WATCHDOG=1")
	} else {
		n.sendStatus(status)
	}
}

// update says STATUS= when it changed.
func (n *sdNotifier) update(status string) {
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.sendStatus(status)
}

// stop says STOPPING=1, once, as up begins to stop its jobs.
func (n *sdNotifier) stop() {
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopping {
		return
	}
	n.stopping = true
	n.status = "stopping every job"
	n.send("STOPPING=1", "STATUS="+n.status)
}

// sendStatus sends assignments, with STATUS= when status is new; nothing when there
// is nothing to send. n.mu is held.
func (n *sdNotifier) sendStatus(status string, assignments ...string) {
	if status != n.status && !n.stopping {
		n.status = status
		assignments = append(assignments, "STATUS="+status)
	}
	if len(assignments) > 0 {
		n.send(assignments...)
	}
}

// send sends one datagram of assignments, one a line. A failure is said on stderr
// once until a send works again: systemd may be re-executing, and up goes on either
// way. n.mu is held.
func (n *sdNotifier) send(assignments ...string) {
	err := sdNotify(n.addr, strings.Join(assignments, "\n")+"\n")
	switch {
	case err != nil && !n.failing:
		fmt.Fprintf(n.stderr, "supervise: up: cannot tell systemd: %v\n", err)
	case err == nil && n.failing:
		fmt.Fprintf(n.stderr, "supervise: up: telling systemd again\n")
	}
	n.failing = err != nil
}

// sdNotify sends msg to addr in one datagram from a new socket.
func sdNotify(addr *net.UnixAddr, msg string) error {
	conn, err := net.DialUnix("unixgram", nil, addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Write([]byte(msg))
	return err
}

// monotonicUsec is CLOCK_MONOTONIC in microseconds, the clock of MONOTONIC_USEC=,
// which Go's time does not expose.
func monotonicUsec() int64 {
	var ts syscall.Timespec
	const clockMonotonic = 1
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockMonotonic, uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Sec*1e6 + ts.Nsec/1e3
}

// stateOrder is the order summary gives the states in: that of their declaration in
// the supervisor package, a job's life from its start to its end.
var stateOrder = []string{
	supervisor.StateStarting, supervisor.StateRunning, supervisor.StateHeartbeatLate,
	supervisor.StateBackingOff, supervisor.StateCrashLooping, supervisor.StateScheduled,
	supervisor.StateStopped, supervisor.StateExited,
}

// summary is up's STATUS= for systemd, one line that `systemctl status` shows: how
// many jobs, how many in each state as `supervise status` names them, and how many
// job files could not be loaded. "12 jobs: 11 running, 1 crash-looping".
func summary(jobs []supervisor.JobStatus, broken int) string {
	counts := map[string]int{}
	var states []string
	for _, st := range jobs {
		if counts[st.State] == 0 {
			states = append(states, st.State)
		}
		counts[st.State]++
	}
	slices.SortFunc(states, func(a, b string) int {
		i, j := slices.Index(stateOrder, a), slices.Index(stateOrder, b)
		switch {
		case i < 0 && j < 0: // states added later than this list, last and in order
			return strings.Compare(a, b)
		case i < 0:
			return 1
		case j < 0:
			return -1
		}
		return i - j
	})
	var b strings.Builder
	b.WriteString(plural(len(jobs), "job", "jobs"))
	for i, state := range states {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d %s", counts[state], state)
	}
	if broken > 0 {
		fmt.Fprintf(&b, "; %s not loaded", plural(broken, "job file", "job files"))
	}
	return b.String()
}

// plural is "1 job" or "N jobs".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
