package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/supervise/supervise/internal/testkit"
	"github.com/supervise/supervise/supervisor"
)

// states makes the statuses of jobs in the states given, one job each.
func states(names ...string) []supervisor.JobStatus {
	var jobs []supervisor.JobStatus
	for _, s := range names {
		jobs = append(jobs, supervisor.JobStatus{Name: "job", State: s})
	}
	return jobs
}

// up's STATUS= for systemd counts the jobs by state, in the order of a job's life.
func TestSummary(t *testing.T) {
	running := func(n int) []string {
		s := make([]string, n)
		for i := range s {
			s[i] = supervisor.StateRunning
		}
		return s
	}
	for _, tc := range []struct {
		jobs   []supervisor.JobStatus
		broken int
		want   string
	}{
		{nil, 0, "0 jobs"},
		{states(supervisor.StateRunning), 0, "1 job: 1 running"},
		{states(append(running(11), supervisor.StateCrashLooping)...), 0, "12 jobs: 11 running, 1 crash-looping"},
		{states(supervisor.StateExited, supervisor.StateScheduled, supervisor.StateRunning, supervisor.StateScheduled), 0,
			"4 jobs: 1 running, 2 scheduled, 1 exited"},
		{states(supervisor.StateStopped, supervisor.StateHeartbeatLate, supervisor.StateBackingOff, supervisor.StateStarting), 0,
			"4 jobs: 1 starting, 1 heartbeat-late, 1 backing-off, 1 stopped"},
		{states("zombie", supervisor.StateRunning, "asleep"), 0, "3 jobs: 1 running, 1 asleep, 1 zombie"},
		{states(supervisor.StateRunning, supervisor.StateRunning), 1, "2 jobs: 2 running; 1 job file not loaded"},
		{nil, 3, "0 jobs; 3 job files not loaded"},
	} {
		if got := summary(tc.jobs, tc.broken); got != tc.want {
			t.Errorf("summary(%v, %d) = %q, want %q", tc.jobs, tc.broken, got, tc.want)
		}
	}
}

// NOTIFY_SOCKET and WATCHDOG_* are read as sd_notify(3) and sd_watchdog_enabled(3)
// read them.
func TestNewSdNotifier(t *testing.T) {
	const pid = 4242
	for _, tc := range []struct {
		env      map[string]string
		wantNil  bool
		wantErr  bool
		watchdog string // the interval of WATCHDOG=1, "0s" for none
	}{
		{env: map[string]string{}, wantNil: true},
		{env: map[string]string{"WATCHDOG_USEC": "30000000"}, wantNil: true}, // nowhere to send it
		{env: map[string]string{"NOTIFY_SOCKET": "/run/systemd/notify"}, watchdog: "0s"},
		{env: map[string]string{"NOTIFY_SOCKET": "@abstract/notify"}, watchdog: "0s"},
		{env: map[string]string{"NOTIFY_SOCKET": "relative/notify"}, wantNil: true, wantErr: true},
		{env: map[string]string{"NOTIFY_SOCKET": "@"}, wantNil: true, wantErr: true},
		{env: map[string]string{"NOTIFY_SOCKET": "/n", "WATCHDOG_USEC": "30000000"}, watchdog: "15s"},
		{env: map[string]string{"NOTIFY_SOCKET": "/n", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4242"}, watchdog: "15s"},
		{env: map[string]string{"NOTIFY_SOCKET": "/n", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, watchdog: "0s"},
		{env: map[string]string{"NOTIFY_SOCKET": "/n", "WATCHDOG_USEC": "0"}, watchdog: "0s", wantErr: true},
		{env: map[string]string{"NOTIFY_SOCKET": "/n", "WATCHDOG_USEC": "30s"}, watchdog: "0s", wantErr: true},
	} {
		n, err := newSdNotifier(func(k string) string { return tc.env[k] }, pid, nil)
		if (err != nil) != tc.wantErr || (n == nil) != tc.wantNil {
			t.Errorf("%v: notifier %v, error %v; want nil %v, an error %v", tc.env, n, err, tc.wantNil, tc.wantErr)
			continue
		}
		if n != nil && n.watchdog.String() != tc.watchdog {
			t.Errorf("%v: WATCHDOG=1 every %v, want %s", tc.env, n.watchdog, tc.watchdog)
		}
	}
	var none *sdNotifier
	if none.every() != 0 || none.started(nil) != nil {
		t.Errorf("a nil notifier asks for ticks or waits for a start")
	}
	none.readyNow("x") // says nothing, and does not panic
	none.stop()
}

// systemd is the service manager's side of sd_notify for a test: a unixgram socket
// that keeps every datagram it receives.
type systemd struct {
	addr string // what NOTIFY_SOCKET says
	mu   sync.Mutex
	msgs []string
}

// listenSystemd listens at a socket file in a folder of its own, or, with abstract,
// at an abstract socket ("@NAME").
func listenSystemd(t *testing.T, abstract bool) *systemd {
	t.Helper()
	var addr string
	if abstract {
		addr = fmt.Sprintf("@supervise-test-%d-%d", os.Getpid(), rand.Int64())
	} else {
		dir, err := os.MkdirTemp("", "sd-") // short: a socket's path is at most 107 bytes
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		addr = filepath.Join(dir, "notify")
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	s := &systemd{addr: addr}
	done := make(chan struct{})
	go func() {
		defer close(done)
		b := make([]byte, 4096)
		for {
			n, _, err := conn.ReadFromUnix(b)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, string(b[:n]))
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		<-done
	})
	return s
}

// messages returns the datagrams received so far, in order.
func (s *systemd) messages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs)
}

// first returns the index of the first message from start on that holds the line
// want, or -1.
func (s *systemd) first(start int, want string) int {
	msgs := s.messages()
	for i := start; i < len(msgs); i++ {
		if slices.Contains(strings.Split(msgs[i], "\n"), want) {
			return i
		}
	}
	return -1
}

// until waits for a message from start on that holds the line want, and returns its
// index.
func (s *systemd) until(t *testing.T, start int, want string) int {
	t.Helper()
	defer onFailure(t, func() string { return fmt.Sprintf("systemd received %q", s.messages()) })
	testkit.Eventually(t, fmt.Sprintf("%q from up", want), func() bool { return s.first(start, want) >= 0 })
	return s.first(start, want)
}

// statusAt returns the last STATUS= said in the messages up to and including i.
func (s *systemd) statusAt(i int) string {
	status := ""
	for _, m := range s.messages()[:i+1] {
		for line := range strings.SplitSeq(m, "\n") {
			if v, ok := strings.CutPrefix(line, "STATUS="); ok {
				status = v
			}
		}
	}
	return status
}

// Under systemd, up says READY=1 once its job has started, with a STATUS= that counts
// it running, WATCHDOG=1 at half of WATCHDOG_USEC, RELOADING=1 and READY=1 around a
// reload, a STATUS= kept current, and STOPPING=1 when it stops. Its job sees a
// NOTIFY_SOCKET of up's, not systemd's, and no WATCHDOG_USEC.
func TestUpTellsSystemd(t *testing.T) {
	for _, abstract := range []bool{false, true} {
		t.Run(fmt.Sprintf("abstract=%v", abstract), func(t *testing.T) {
			t.Parallel()
			sd := listenSystemd(t, abstract)
			dir := t.TempDir()
			writeFile(t, dir, "web.toml", `command = "echo socket=$NOTIFY_SOCKET usec=$WATCHDOG_USEC pid=$WATCHDOG_PID; exec sleep 100"`)
			cmd := quiet(upCommand(t, dir))
			cmd.Env = append(cmd.Env, "NOTIFY_SOCKET="+sd.addr, "WATCHDOG_USEC=200000", "WATCHDOG_PID=")
			cmd, stdout, stderr := start(t, cmd)
			defer onFailure(t, func() string { return "up's stderr:\n" + stderr.String() })

			ready := sd.until(t, 0, "READY=1")
			if got := sd.statusAt(ready); got != "1 job: 1 running" {
				t.Errorf("STATUS=%q when up said READY=1, want the job running", got)
			}
			waitOutput(t, stdout, "web | socket=")
			out := stdout.String()
			if strings.Contains(out, sd.addr) || !strings.Contains(out, "socket=/") || !strings.Contains(out, "usec= pid=\n") {
				t.Errorf("the job sees %q; want a NOTIFY_SOCKET of up's and no WATCHDOG_*", out)
			}
			watchdog := sd.until(t, 0, "WATCHDOG=1")
			sd.until(t, watchdog+1, "WATCHDOG=1")

			// A reload: an added job starts, and the status says so soon after.
			writeFile(t, dir, "worker.toml", `command = "exec sleep 100"`)
			cmd.Process.Signal(syscall.SIGHUP)
			reloading := sd.until(t, 0, "RELOADING=1")
			if m := sd.messages()[reloading]; !strings.Contains(m, "MONOTONIC_USEC=") {
				t.Errorf("RELOADING=1 without MONOTONIC_USEC: %q", m)
			}
			reloaded := sd.until(t, reloading+1, "READY=1")
			sd.until(t, reloaded, "STATUS=2 jobs: 2 running")

			cmd.Process.Signal(syscall.SIGTERM)
			stopping := sd.until(t, 0, "STOPPING=1")
			if err := cmd.Wait(); err != nil {
				t.Errorf("exit %v after SIGTERM, want 0", err)
			}
			if i := sd.first(stopping, "READY=1"); i >= 0 {
				t.Errorf("READY=1 after STOPPING=1: %q", sd.messages())
			}
			if strings.Contains(stderr.String(), "systemd") {
				t.Errorf("up complained about systemd:\n%s", stderr.String())
			}
		})
	}
}
