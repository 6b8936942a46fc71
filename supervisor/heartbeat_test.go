package supervisor_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/supervise/supervise/supervisor"
)

// startPings starts a daemon whose jobs have ping URLs and NOTIFY_SOCKETs, and keep
// their last runs in runs (none when empty).
func startPings(t *testing.T, runs string, jobs ...*supervisor.Job) *testDaemon {
	t.Helper()
	return startUp(t, pings(t, runs), jobs...)
}

// pings sets a test daemon up to serve ping URLs and NOTIFY_SOCKETs, and to keep its
// jobs' last runs in runs (none when empty).
func pings(t *testing.T, runs string) func(*testDaemon) {
	return func(td *testDaemon) {
		sockets, err := os.MkdirTemp("", "sv") // a unix socket's path must be short
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(sockets) })
		srv := httptest.NewServer(supervisor.PingHandler(td.Pulse))
		t.Cleanup(srv.Close) // after the daemon has stopped: cleanups run last first
		td.NotifyDir, td.RunsDir, td.PingBase, td.url = sockets, runs, srv.URL, srv.URL
	}
}

// withPings runs a daemon whose jobs have ping URLs and NOTIFY_SOCKETs until cond
// holds, and returns what it emitted and wrote.
func withPings(t *testing.T, what string, cond func(td *testDaemon) bool, jobs ...*supervisor.Job) (*recorder, string) {
	t.Helper()
	td := startPings(t, "", jobs...)
	td.until(t, what, func() bool { return cond(td) })
	td.halt()
	return td.rec, td.out.String()
}

// post sends a ping to the job's URL with suffix and body.
func (td *testDaemon) post(t *testing.T, job, suffix, body string) {
	t.Helper()
	resp, err := http.Post(td.url+"/ping/"+job+suffix, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("ping %s%s: %s", job, suffix, resp.Status)
	}
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
	t.Parallel()
	for _, tc := range []struct {
		name, by string
		job      func(t *testing.T) *supervisor.Job
	}{
		{"http ping", "ping", func(t *testing.T) *supervisor.Job { return childJob(t, "beats http") }},
		{"sd_notify from Go", "WATCHDOG=1", func(t *testing.T) *supervisor.Job { return childJob(t, "beats notify") }},
		{"output", "output", func(t *testing.T) *supervisor.Job {
			job := childJob(t, "beats output")
			job.Heartbeat = &supervisor.Heartbeat{Output: true}
			return job
		}},
		{"matching output", "output", func(t *testing.T) *supervisor.Job {
			job := childJob(t, "beats match")
			job.Heartbeat = &supervisor.Heartbeat{Output: true, OutputMatch: regexp.MustCompile(`^alive`)}
			return job
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			job := heartbeatJob(tc.job(t))
			// Signs until 0.6s, silent until 1.5s (late at about 1.0s), signs again.
			rec, out := withPings(t, "a recovery", func(td *testDaemon) bool { return td.rec.count(supervisor.KindRecovery) > 0 }, job)
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

// A program in another language speaks sd_notify to its NOTIFY_SOCKET as it would to
// systemd's: its WATCHDOG=1 is a sign of life and its STATUS is kept. (Python starts
// too slowly here to keep to the sub-second timings above.)
func TestSdNotifyFromPython(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("no python3 here; TestHeartbeatSources covers sd_notify with a Go client")
	}
	job := supervisor.NewJob("py", "python3", "-c", `import os, socket, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect(os.environ["NOTIFY_SOCKET"])
s.sendall(b"READY=1\nWATCHDOG=1\nSTATUS=from python")
print("sent", flush=True)
time.sleep(100)
`)
	job.Heartbeat = &supervisor.Heartbeat{Every: time.Minute}
	td := startPings(t, "", job)
	td.until(t, "python's datagram", func() bool {
		var st supervisor.PulseState
		if p := td.Pulse("py"); p != nil { // nil until the daemon has started the job
			st = p.State()
		}
		return st.By == "WATCHDOG=1" && st.Status == "from python" && !st.Ready.IsZero()
	})
	td.halt()
	if len(td.rec.events) != 0 {
		t.Errorf("events %v, want none", td.rec.kinds())
	}
}

// action = restart stops a silent job and starts it again, each time it is silent,
// with one message until it shows a sign of life.
func TestHeartbeatRestart(t *testing.T) {
	t.Parallel()
	pids := filepath.Join(t.TempDir(), "pids")
	job := heartbeatJob(upJob("stuck", "echo $$ >> "+pids+"; exec sleep 100"))
	job.Heartbeat.Action = supervisor.ActionRestart
	job.Notify.On = append(job.Notify.On, supervisor.KindStart)
	// No run stays up long enough to count as healthy (whose recovery a loaded
	// machine would otherwise fit in, between a start and its silence 0.4s later).
	job.HealthyAfter = time.Hour
	// Late at 0.4s and 0.8s: two restarts, and one message, as the job shows no sign
	// of life in between.
	rec, out := withPings(t, "three starts", func(td *testDaemon) bool {
		return len(lines(t, pids)) >= 3 && td.rec.count(supervisor.KindStart) >= 3
	}, job)
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
	t.Parallel()
	rec, out := withPings(t, "a recovery", func(td *testDaemon) bool { return td.rec.count(supervisor.KindRecovery) > 0 }, childJob(t, "report"))
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
	t.Parallel()
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
}

// A ping's body longer than MaxPingMessage keeps its end, where the error is, led by
// "…" and cut at the start of a character; a ping without a body leaves no message.
func TestPingHandlerMessage(t *testing.T) {
	t.Parallel()
	pulse := supervisor.NewPulse()
	srv := httptest.NewServer(supervisor.PingHandler(func(string) *supervisor.Pulse { return pulse }))
	defer srv.Close()
	ping := func(body string) string {
		t.Helper()
		resp, err := http.Post(srv.URL+"/ping/job", "text/plain", strings.NewReader(body))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("ping with %d bytes: %v %v", len(body), resp, err)
		}
		resp.Body.Close()
		return pulse.State().Message
	}
	// 300 KB of three-byte characters, so that the cut falls inside one.
	big := strings.Repeat("€", 100_000) + "\nerror: the end\n"
	got := ping(big)
	if !strings.HasPrefix(got, "…€") || !strings.HasSuffix(got, "€\nerror: the end") || !utf8.ValidString(got) ||
		len(got) > supervisor.MaxPingMessage || len(got) < supervisor.MaxPingMessage-utf8.UTFMax {
		t.Errorf("kept %d bytes, %q...%q; want the last %d bytes led by …, cut at a character", len(got), got[:min(len(got), 12)], got[max(len(got)-30, 0):], supervisor.MaxPingMessage)
	}
	exact := strings.Repeat("y", supervisor.MaxPingMessage)
	if got := ping(exact); got != exact {
		t.Errorf("a body of exactly %d bytes was cut to %d", len(exact), len(got))
	}
	if got := ping(""); got != "" {
		t.Errorf("after a ping without a body, the message is %d bytes, %.20q...; want none", len(got), got)
	}
}

// A failure reported without a message quotes none, not the words of an earlier ping.
func TestPingWithoutMessage(t *testing.T) {
	t.Parallel()
	job := upJob("quiet", "exec sleep 100")
	job.Heartbeat = &supervisor.Heartbeat{Every: time.Minute}
	td := startPings(t, "", job)
	td.until(t, "the job's start", func() bool { return td.Pulse("quiet") != nil && td.status("quiet").State == supervisor.StateRunning })
	td.post(t, "quiet", "/fail", "disk full: /srv at 100%")
	td.post(t, "quiet", "/0", "")
	td.post(t, "quiet", "/fail", "")
	td.until(t, "two failures and a recovery", func() bool {
		return td.rec.count(supervisor.KindFailure) == 2 && td.rec.count(supervisor.KindRecovery) == 1
	})
	td.halt()
	var said []string
	for _, ev := range td.rec.events {
		said = append(said, fmt.Sprintf("%s %q", ev.Kind, ev.Message))
	}
	want := []string{`failure "disk full: /srv at 100%"`, `recovery ""`, `failure ""`}
	if strings.Join(said, "; ") != strings.Join(want, "; ") {
		t.Errorf("events %v, want %v", said, want)
	}
	if m := td.Pulse("quiet").State().Message; m != "" {
		t.Errorf("the last ping message is %q, want none", m)
	}
}

// A job is given where to send its signs of life, and none of supervise's own
// sd_notify environment.
func TestPingEnvironment(t *testing.T) {
	t.Setenv("WATCHDOG_PID", "1")
	job := heartbeatJob(upJob("env", `echo "url=$SUPERVISE_PING_URL socket=${NOTIFY_SOCKET:+set} usec=$WATCHDOG_USEC pid=$WATCHDOG_PID"; exec sleep 100`))
	_, out := withPings(t, "the job's environment", func(td *testDaemon) bool { return td.runs("env", "url=") > 0 }, job)
	want := regexp.MustCompile(`env \| url=http://127\.0\.0\.1:\d+/ping/env socket=set usec=300000 pid=\n`)
	if !want.MatchString(out) {
		t.Errorf("the job sees %q, want %v", out, want)
	}
}

// A failure reported by ping is told once per run; a job that ended for good, or
// waits between runs, still has its reports told.
func TestReportedFailures(t *testing.T) {
	t.Parallel()
	each := childJob(t, "fail-ping")
	each.Name, each.Schedule, each.Restart = "each", everySecond(t), supervisor.RestartNever
	ended := upJob("ended", "true")
	ended.Restart = supervisor.RestartNever
	td := startUp(t, func(td *testDaemon) { pings(t, "")(td); withClock(td) }, each, ended)
	// ended must be over before the clock moves: a run still going past its
	// healthy_after would stay up, and say so with a recovery.
	td.until(t, "ended exited", func() bool { return td.status("ended").State == supervisor.StateExited })
	for i := 1; i <= 3; i++ {
		td.untilScheduled(t, "each")
		td.clock.Advance(time.Second)
		td.until(t, fmt.Sprintf("run %d of each reported its failure and ended", i), func() bool {
			return td.rec.count(supervisor.KindFailure) == i && td.status("each").State == supervisor.StateScheduled
		})
	}
	td.post(t, "ended", "/fail", "found broken after it ended")
	td.until(t, "the failure reported after it ended", func() bool { return td.rec.count(supervisor.KindFailure) == 4 })
	td.halt()
	var eachFails, endedFails int
	for _, ev := range td.rec.events {
		switch {
		case ev.Job == "each" && ev.Kind == supervisor.KindFailure && ev.Message == "run failed":
			eachFails++
		case ev.Job == "ended" && ev.Kind == supervisor.KindFailure && ev.Message == "found broken after it ended":
			endedFails++
		default:
			t.Errorf("unexpected event %s %s: %s", ev.Job, ev.Kind, ev.Note)
		}
	}
	if eachFails != 3 || endedFails != 1 {
		t.Errorf("%d reported failures of each, %d of ended; want 3 and 1\n%s", eachFails, endedFails, td.out)
	}
}

// everySecond is a schedule of once a second, for jobs under a fake clock.
func everySecond(t *testing.T) supervisor.Schedule {
	t.Helper()
	s, err := supervisor.ParseSchedule("@every 1s", nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The all-clear after a reported failure says the job reported success; it is not a
// silence, and quotes no stale message.
func TestReportedRecovery(t *testing.T) {
	t.Parallel()
	td := startPings(t, "", upJob("svc", "echo up; exec sleep 100"))
	td.until(t, "the job running", func() bool { return td.runs("svc", "up") > 0 })
	td.post(t, "svc", "/fail", "disk full")
	td.post(t, "svc", "", "")
	td.until(t, "a recovery", func() bool { return td.rec.count(supervisor.KindRecovery) > 0 })
	td.halt()
	kinds := td.rec.kinds()
	if len(kinds) != 2 || kinds[1] != supervisor.KindRecovery {
		t.Fatalf("events %v, want a failure and a recovery", kinds)
	}
	if r := td.rec.events[1]; r.Silent != 0 || r.Message != "" || r.Note != "it reported success again" {
		t.Errorf("recovery says silent %v, message %q, note %q", r.Silent, r.Message, r.Note)
	}
}

// Jobs whose names are too long for a socket path get sockets of their own, which no
// other job's name can take.
func TestLongNamesGetOwnSockets(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 95)
	var jobs []*supervisor.Job
	for _, name := range []string{"1", "_1", long + "1", long + "2"} {
		if name == "_1" {
			continue // not a valid job name: what makes the numbered sockets safe
		}
		jobs = append(jobs, upJob(name, `echo "socket $NOTIFY_SOCKET"; exec sleep 100`))
	}
	_, out := withPings(t, "each job's socket", func(td *testDaemon) bool { return strings.Count(td.out.String(), "| socket ") == 3 }, jobs...)
	seen := map[string]bool{}
	for _, m := range regexp.MustCompile(`socket (\S+)`).FindAllStringSubmatch(out, -1) {
		seen[m[1]] = true
	}
	if len(seen) != 3 {
		t.Errorf("sockets %v, want three different ones\n%s", seen, out)
	}
}

// A silence is told in every run that falls silent, not only the first: a run that
// missed its heartbeat and then ended otherwise leaves no "late" behind.
func TestEachSilentRunIsTold(t *testing.T) {
	t.Parallel()
	counter := filepath.Join(t.TempDir(), "n")
	// First run: silent, then fails at 0.6s; restarted at once; second run silent.
	job := heartbeatJob(upJob("svc", `n=$(cat `+counter+` 2>/dev/null || echo 0); echo $((n+1)) > `+counter+`; [ "$n" -ge 1 ] && exec sleep 100; sleep 0.6; exit 1`))
	job.HealthyAfter = 100 * time.Millisecond // so the restart is immediate
	rec, out := withPings(t, "a heartbeat for the second run", func(td *testDaemon) bool {
		return td.rec.count(supervisor.KindHeartbeat) >= 2
	}, job)
	kinds := rec.told()
	if count(kinds, supervisor.KindHeartbeat) != 2 || count(kinds, supervisor.KindFailure) != 1 || len(kinds) != 3 {
		t.Errorf("events %v, want a heartbeat, a failure, and a heartbeat for the second run\n%s", kinds, out)
	}
}

// Restarted for its heartbeat, a job that then shows life recovers once, with the
// silence counted from before the restart.
func TestRecoveryAfterRestartCountsWholeSilence(t *testing.T) {
	t.Parallel()
	counter := filepath.Join(t.TempDir(), "n")
	job := heartbeatJob(childJob(t, "beats http"))
	job.Command = []string{"/bin/sh", "-c", `n=$(cat ` + counter + ` 2>/dev/null || echo 0); echo $((n+1)) > ` + counter + `; [ "$n" -ge 1 ] && exec "$0"; exec sleep 100`, os.Args[0]}
	job.Heartbeat.Action = supervisor.ActionRestart
	rec, out := withPings(t, "a recovery", func(td *testDaemon) bool { return td.rec.count(supervisor.KindRecovery) > 0 }, job)
	kinds := rec.kinds()
	if len(kinds) != 2 || kinds[0] != supervisor.KindHeartbeat || kinds[1] != supervisor.KindRecovery {
		t.Fatalf("events %v, want a heartbeat and a recovery\n%s", kinds, out)
	}
	if late, back := rec.events[0], rec.events[1]; back.Silent < late.Silent {
		t.Errorf("recovery says %v of silence, less than the %v the heartbeat message said", back.Silent, late.Silent)
	}
}

// WATCHDOG=trigger is a missed heartbeat at once, told with the program's STATUS; its
// next WATCHDOG=1 is its recovery.
func TestWatchdogTrigger(t *testing.T) {
	t.Parallel()
	job := childJob(t, "trigger")
	job.Heartbeat = &supervisor.Heartbeat{Every: time.Minute, Action: supervisor.ActionAlert}
	rec, out := withPings(t, "a recovery", func(td *testDaemon) bool { return td.rec.count(supervisor.KindRecovery) > 0 }, job)
	kinds := rec.kinds()
	if len(kinds) != 2 || kinds[0] != supervisor.KindHeartbeat || kinds[1] != supervisor.KindRecovery {
		t.Fatalf("events %v, want a heartbeat and a recovery\n%s", kinds, out)
	}
	if ev := rec.events[0]; ev.Note != "it sent WATCHDOG=trigger" || ev.Status != "stuck on a lock" || ev.Ready.IsZero() {
		t.Errorf("heartbeat says note %q, status %q, ready %v", ev.Note, ev.Status, ev.Ready)
	}
}

// A job that falls silent once asked to stop (it finishes its work, or waits out
// its stop_timeout) is not told as missing its heartbeat: stop_timeout bounds it.
func TestNoHeartbeatWhileStopping(t *testing.T) {
	t.Parallel()
	// Beats every 100ms; on SIGTERM it falls silent and lingers, until SIGKILL.
	job := supervisor.NewJob("lingers", supervisor.ShellCommand(`trap 'exec sleep 30' TERM; while :; do echo alive; sleep 0.1; done`)...)
	job.PTY, job.StopTimeout = false, 2*time.Second
	job.Heartbeat = &supervisor.Heartbeat{Every: 300 * time.Millisecond, Grace: 100 * time.Millisecond, Output: true}
	td := startPings(t, "", job)
	td.until(t, "a sign of life from lingers", func() bool { return !td.status("lingers").Heartbeat.IsZero() })
	td.halt() // SIGTERM, silence, SIGKILL 2s later: far past every + grace
	if n := td.rec.count(supervisor.KindHeartbeat); n != 0 {
		t.Errorf("%d heartbeat messages while lingers was being stopped, want none: %v", n, td.rec.kinds())
	}
}
