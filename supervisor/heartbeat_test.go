package supervisor_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/supervise/supervise/supervisor"
)

// withPings runs a daemon whose jobs have ping URLs and NOTIFY_SOCKETs, for d.
func withPings(t *testing.T, d time.Duration, jobs ...*supervisor.Job) (*recorder, string) {
	t.Helper()
	sockets, err := os.MkdirTemp("", "sv") // a unix socket's path must be short
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockets) })
	rec := &recorder{}
	out := &syncBuffer{}
	daemon := &supervisor.Daemon{Host: "testhost", Stdout: out, Stderr: out, Notifier: rec, NotifyDir: sockets}
	srv := httptest.NewServer(supervisor.PingHandler(daemon.Pulse))
	defer srv.Close()
	daemon.PingBase = srv.URL
	halt := start(daemon, jobs...)
	time.Sleep(d)
	halt()
	return rec, out.String()
}

// heartbeatJob gives job a heartbeat of every 300ms and grace 100ms.
func heartbeatJob(job *supervisor.Job) *supervisor.Job {
	if job.Heartbeat == nil {
		job.Heartbeat = &supervisor.Heartbeat{}
	}
	job.Heartbeat.Every, job.Heartbeat.Grace = 300*time.Millisecond, 100*time.Millisecond
	job.Heartbeat.Action = supervisor.ActionAlert
	return job
}

// Whatever the sign of life, a job that gives them is left alone; once it falls
// silent for every + grace, one heartbeat message says so, and one recovery message
// follows its next sign.
func TestHeartbeatSources(t *testing.T) {
	// Python takes a while to start here, so its silence is longer and its grace too.
	python := `import os, socket, time
for i in range(100):
    if i < 6 or i >= 25:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.connect(os.environ["NOTIFY_SOCKET"])
        s.sendall(b"WATCHDOG=1\nSTATUS=from python")
        s.close()
    time.sleep(0.1)
`
	for _, tc := range []struct {
		name, by string
		job      func(t *testing.T) *supervisor.Job
		grace    time.Duration // 100ms when zero
	}{
		{"http ping", "ping", func(t *testing.T) *supervisor.Job { return childJob(t, "beats http") }, 0},
		{"sd_notify from Go", "WATCHDOG=1", func(t *testing.T) *supervisor.Job { return childJob(t, "beats notify") }, 0},
		{"sd_notify from Python", "WATCHDOG=1", func(t *testing.T) *supervisor.Job {
			if _, err := exec.LookPath("python3"); err != nil {
				t.Skip("no python3 here; the Go client covers sd_notify")
			}
			return supervisor.NewJob("testjob", "python3", "-c", python)
		}, 700 * time.Millisecond},
		{"output", "output", func(t *testing.T) *supervisor.Job {
			job := childJob(t, "beats output")
			job.Heartbeat = &supervisor.Heartbeat{Output: true}
			return job
		}, 0},
		{"matching output", "output", func(t *testing.T) *supervisor.Job {
			job := childJob(t, "beats match")
			job.Heartbeat = &supervisor.Heartbeat{Output: true, OutputMatch: regexp.MustCompile(`^alive`)}
			return job
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			job := heartbeatJob(tc.job(t))
			// Signs until 0.6s, silent until 1.5s (late at about 1.0s), signs again.
			length := 2 * time.Second
			if tc.grace > 0 {
				job.Heartbeat.Grace = tc.grace
				length = 3500 * time.Millisecond
			}
			rec, out := withPings(t, length, job)
			kinds := rec.kinds()
			if len(kinds) != 2 || kinds[0] != supervisor.KindHeartbeat || kinds[1] != supervisor.KindRecovery {
				t.Fatalf("events %v, want one heartbeat and one recovery\n%s", kinds, out)
			}
			late, back := rec.events[0], rec.events[1]
			if late.LastSignBy != tc.by || late.Silent < job.Heartbeat.Every+job.Heartbeat.Grace || late.Every != 300*time.Millisecond {
				t.Errorf("heartbeat says last sign %q, silent %v, every %v; want %q, at least every+grace, 300ms", late.LastSignBy, late.Silent, late.Every, tc.by)
			}
			if strings.HasPrefix(tc.name, "sd_notify") && !strings.HasPrefix(late.Status, "from") && late.Status != "beating" {
				t.Errorf("heartbeat says status %q, want the job's STATUS=", late.Status)
			}
			if back.Silent < 800*time.Millisecond {
				t.Errorf("recovery says silent %v, want about 0.9s", back.Silent)
			}
		})
	}
}

// action = restart stops a silent job and starts it again, each time it is silent,
// with one message until it shows a sign of life.
func TestHeartbeatRestart(t *testing.T) {
	pids := filepath.Join(t.TempDir(), "pids")
	job := heartbeatJob(upJob("stuck", "echo $$ >> "+pids+"; exec sleep 100"))
	job.Heartbeat.Action = supervisor.ActionRestart
	job.Notify.On = append(job.Notify.On, supervisor.KindStart)
	// Late at 0.4s and 0.8s: two restarts in 1s, and one message, as the job shows
	// no sign of life in between.
	rec, out := withPings(t, time.Second, job)
	if got := lines(t, pids); len(got) != 3 {
		t.Errorf("pids %v, want the job started three times\n%s", got, out)
	}
	kinds := rec.kinds()
	if count(kinds, supervisor.KindHeartbeat) != 1 || count(kinds, supervisor.KindStart) != 3 || len(kinds) != 4 {
		t.Errorf("events %v, want three starts and one heartbeat, no failure", kinds)
	}
}

// A job that reports a failure by ping is told once, with its message, and its next
// success ping is its recovery.
func TestPingFailure(t *testing.T) {
	rec, out := withPings(t, time.Second, childJob(t, "report"))
	kinds := rec.kinds()
	if len(kinds) != 2 || kinds[0] != supervisor.KindFailure || kinds[1] != supervisor.KindRecovery {
		t.Fatalf("events %v, want one failure and one recovery\n%s", kinds, out)
	}
	if ev := rec.events[0]; ev.Note != "reported a failure" || ev.Message != "disk full" {
		t.Errorf("failure says %q with message %q", ev.Note, ev.Message)
	}
}

// The ping URL answers for known jobs only, and reads the suffixes.
func TestPingHandler(t *testing.T) {
	pulse := supervisor.NewPulse()
	srv := httptest.NewServer(supervisor.PingHandler(func(name string) *supervisor.Pulse {
		if name == "known" {
			return pulse
		}
		return nil
	}))
	defer srv.Close()
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/ping/known", 200},
		{"POST", "/ping/known/start", 200},
		{"HEAD", "/ping/known/0", 200},
		{"GET", "/ping/known/255", 200},
		{"GET", "/ping/known/256", 400},
		{"GET", "/ping/known/01", 400},
		{"GET", "/ping/known/done", 400},
		{"GET", "/ping/unknown", 404},
		{"DELETE", "/ping/known", 405},
		{"GET", "/metrics", 404},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
		}
	}
	big := strings.Repeat("x", supervisor.MaxPingMessage+5000)
	resp, err := http.Post(srv.URL+"/ping/known", "text/plain", strings.NewReader(big))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("long message: %v %v", resp, err)
	}
	if got := len(pulse.State().Message); got != supervisor.MaxPingMessage {
		t.Errorf("kept %d bytes of the message, want %d", got, supervisor.MaxPingMessage)
	}
}

// A job is given where to send its signs of life, and none of supervise's own
// sd_notify environment.
func TestPingEnvironment(t *testing.T) {
	t.Setenv("WATCHDOG_PID", "1")
	job := heartbeatJob(upJob("env", `echo "url=$SUPERVISE_PING_URL socket=${NOTIFY_SOCKET:+set} usec=$WATCHDOG_USEC pid=$WATCHDOG_PID"; exec sleep 100`))
	_, out := withPings(t, 300*time.Millisecond, job)
	want := regexp.MustCompile(`env \| url=http://127\.0\.0\.1:\d+/ping/env socket=set usec=300000 pid=\n`)
	if !want.MatchString(out) {
		t.Errorf("the job sees %q, want %v", out, want)
	}
}
