package main

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/supervise/supervise/internal/testkit"
	"github.com/supervise/supervise/notifier/telegramtest"
)

// The network half of the fault suite: a failing job under `supervise run` while
// Telegram, or the way to it, misbehaves. Each test shows that the run ends with the
// job's status within the notifier's timeout, a second and a margin once the job has
// ended (it never hangs), that the
// alert reaches the chat (at once, or from the spool by the next supervise once
// Telegram is back), how many times, and that the token is in no output and no file
// of the state folder. Every supervise is a process of its own, so the tests run in
// parallel and a kill is a real one.

const (
	// faultTimeout is SUPERVISE_TELEGRAM_TIMEOUT for a run that meets a fault: short,
	// so that a fault costs seconds.
	faultTimeout = 2 * time.Second
	// faultMargin is what a run may take after its job ended, beyond the time its
	// delivery is given (the timeout and a second: see deliver): writing the spool and
	// exiting, on a busy machine. A run that takes longer hangs.
	faultMargin = 2 * time.Second
	// startMargin is what starting a supervise (built with -race) and its job may
	// take on a machine that other tests keep busy. It is not the time of a fault, so
	// a run's bound leaves it out, and a notify's, which has no job to tell it apart
	// by, has it added.
	startMargin = 10 * time.Second
	// backTimeout is the timeout of the supervise that delivers once Telegram is back:
	// time for a backlog at a private chat's pace of a message a second.
	backTimeout = 10 * time.Second
)

// faultTest is one fault test: its state folder, shared by every supervise it
// starts, and their outputs, in which Fault looks for the token.
type faultTest struct {
	t       *testing.T
	state   string
	outputs []*syncBuffer
	backs   int    // the notifies run by delivered
	jobEnd  string // the file in which the failing job writes when it ended
}

func newFaultTest(t *testing.T) *faultTest {
	t.Parallel()
	return &faultTest{t: t, state: t.TempDir(), jobEnd: filepath.Join(t.TempDir(), "ended")}
}

// ended is a supervise process that ended.
type ended struct {
	status         int
	stdout, stderr string
	took           time.Duration // from its start
	exited         time.Time
}

// command returns `supervise CMD --state STATE ARGS...` for f, with a bot whose API
// is at api, tried for timeout, as a process to start.
func (f *faultTest) command(api string, timeout time.Duration, cmd string, args ...string) *exec.Cmd {
	c := quiet(command(f.t, append([]string{cmd, "--state", f.state}, args...)...))
	c.Env = append(c.Env, "SUPERVISE_TELEGRAM_TOKEN="+tgToken, fmt.Sprint("SUPERVISE_TELEGRAM_CHAT_ID=", tgChat),
		"SUPERVISE_TELEGRAM_API_URL="+api, "SUPERVISE_TELEGRAM_TIMEOUT="+timeout.String())
	return c
}

// start starts c with its output kept for Fault, and returns the output.
func (f *faultTest) start(c *exec.Cmd) (stdout, stderr *syncBuffer) {
	f.t.Helper()
	c, stdout, stderr = start(f.t, c)
	f.outputs = append(f.outputs, stdout, stderr)
	return stdout, stderr
}

// wait waits for c, started by start, to end.
func (f *faultTest) wait(c *exec.Cmd, began time.Time, stdout, stderr *syncBuffer) ended {
	f.t.Helper()
	err := c.Wait()
	e := ended{status: c.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String(),
		took: time.Since(began), exited: time.Now()}
	if _, exit := err.(*exec.ExitError); err != nil && !exit {
		f.t.Fatalf("%s: %v", c.Args[1], err)
	}
	return e
}

// run runs c to its end.
func (f *faultTest) run(c *exec.Cmd) ended {
	f.t.Helper()
	began := time.Now()
	stdout, stderr := f.start(c)
	return f.wait(c, began, stdout, stderr)
}

// failing returns `supervise run` of a job named job that fails with status 3, with
// Telegram at api tried for timeout, as a process to start. The job writes when it
// ends to f.jobEnd, for checkRun.
func (f *faultTest) failing(api string, timeout time.Duration, job string) *exec.Cmd {
	os.Remove(f.jobEnd)
	return f.command(api, timeout, "run", "--name", job, "--", "sh", "-c", "echo the job broke; date +%s%N >"+f.jobEnd+"; exit 3")
}

// failedRun runs the failing job as job, with Telegram at api, and checks its end
// with checkRun.
func (f *faultTest) failedRun(api, job string) ended {
	f.t.Helper()
	return f.checkRun(f.run(f.failing(api, faultTimeout, job)), faultTimeout)
}

// checkRun checks that a run of the failing job, tried for timeout, ended with the
// job's status 3, within the bound once the job ended.
func (f *faultTest) checkRun(e ended, timeout time.Duration) ended {
	f.t.Helper()
	var ns int64
	b, _ := os.ReadFile(f.jobEnd)
	fmt.Sscan(string(b), &ns)
	after := e.exited.Sub(time.Unix(0, ns))
	f.t.Logf("%s: the run took %v, %v of it after the job ended, with SUPERVISE_TELEGRAM_TIMEOUT=%v",
		f.t.Name(), e.took.Round(10*time.Millisecond), after.Round(10*time.Millisecond), timeout)
	if e.status != 3 || !strings.Contains(e.stdout, "the job broke") || ns == 0 {
		f.t.Errorf("status %d, stdout %q; want the job's 3 and its output; stderr:\n%s", e.status, e.stdout, e.stderr)
	}
	if limit := bound(timeout); after > limit {
		f.t.Errorf("the run took %v after its job ended, more than the %v its timeout of %v allows", after, limit, timeout)
	}
	return e
}

// bound is how long a supervise with a notifier's timeout may take to deliver, or
// give up, and exit.
func bound(timeout time.Duration) time.Duration { return timeout + time.Second + faultMargin }

// kept checks that the alert about job is in the spool, and that the run said so.
func (f *faultTest) kept(e ended, job string) {
	f.t.Helper()
	if !strings.Contains(e.stderr, "it is kept in "+filepath.Join(f.state, "spool")) || !strings.Contains(e.stderr, job+" failed") {
		f.t.Errorf("stderr does not say the alert about %s is kept in the spool:\n%s", job, e.stderr)
	}
	if n := f.spooled(); n != 1 {
		f.t.Errorf("the spool holds %d messages, want the alert", n)
	}
}

// spooled counts the messages in the spool.
func (f *faultTest) spooled() int {
	entries, _ := os.ReadDir(filepath.Join(f.state, "spool"))
	n := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") && !strings.HasPrefix(e.Name(), ".") {
			n++
		}
	}
	return n
}

// notify runs `supervise notify TEXT` with Telegram at api, and returns what it did.
func (f *faultTest) notify(api string, timeout time.Duration, text string) ended {
	f.t.Helper()
	return f.run(f.command(api, timeout, "notify", "--job", "later", text))
}

// delivered runs `supervise notify`, with Telegram back at srv, and checks that it
// sent what waits in the spool, and its own message.
func (f *faultTest) delivered(srv *telegramtest.Server) {
	f.t.Helper()
	f.backs++
	text := fmt.Sprintf("Telegram is back (%d)", f.backs)
	e := f.notify(srv.URL(), backTimeout, text)
	f.t.Logf("%s: the notify that delivers took %v, with SUPERVISE_TELEGRAM_TIMEOUT=%v", f.t.Name(), e.took.Round(10*time.Millisecond), backTimeout)
	if e.status != 0 || f.spooled() != 0 {
		f.t.Errorf("notify with Telegram back: status %d, %d messages left in the spool, want 0 and none; stderr:\n%s", e.status, f.spooled(), e.stderr)
	}
	if n := count(srv, text); n != 1 {
		f.t.Errorf("Telegram got the message of notify %d times, want once", n)
	}
}

// fault ends the test, once every supervise it started has ended: the row, and the
// token in no output and no file of the state folder.
func (f *faultTest) fault(row testkit.FaultRow) {
	f.t.Helper()
	var outputs [][]byte
	for _, b := range f.outputs {
		outputs = append(outputs, []byte(b.String()))
	}
	testkit.Fault(f.t, row, tgToken, append(outputs, testkit.Tree(f.t, f.state))...)
}

// count counts the messages that srv has and hold text.
func count(srv *telegramtest.Server, text string) int {
	n := 0
	for _, m := range srv.Messages() {
		if strings.Contains(m.Text, text) {
			n++
		}
	}
	return n
}

// telegramBack is the fake Bot API a fault test delivers to once Telegram is back.
func telegramBack(t *testing.T) *telegramtest.Server {
	srv := telegramtest.NewServer(tgToken, tgChat)
	t.Cleanup(srv.Close)
	return srv
}

// closedPort returns the address of a loopback port that nothing listens on.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// Telegram down for the whole run (a closed port: connection refused); the next run
// of the job, which succeeds, sends the alert and marks it resolved.
func TestFaultTelegramDown(t *testing.T) {
	f := newFaultTest(t)
	srv := telegramBack(t)
	e := f.failedRun("http://"+closedPort(t), "nightly")
	f.kept(e, "nightly")
	if !strings.Contains(e.stderr, "connection refused") {
		t.Errorf("stderr does not say why:\n%s", e.stderr)
	}

	next := f.run(f.command(srv.URL(), backTimeout, "run", "--name", "nightly", "--", "true"))
	msgs := srv.Messages()
	if next.status != 0 || f.spooled() != 0 || len(msgs) != 2 {
		t.Fatalf("the next run: status %d, %d left in the spool, messages %+v; want 0, none, the alert and the recovery; stderr:\n%s",
			next.status, f.spooled(), msgs, next.stderr)
	}
	// The alert went first, and was edited once to say it is resolved; the recovery
	// replies to it.
	if alert := msgs[0]; !strings.Contains(alert.Text, "nightly resolved") || !strings.Contains(alert.Text, "the job broke") || alert.Edits != 1 {
		t.Errorf("the alert, %d edits:\n%s\nwant the failure, edited once to say it is resolved", alert.Edits, alert.Text)
	}
	if rec := msgs[1]; !strings.Contains(rec.Text, "nightly recovered") || rec.ReplyTo != msgs[0].ID {
		t.Errorf("the second message, a reply to %d:\n%s\nwant the recovery, a reply to the alert", rec.ReplyTo, rec.Text)
	}
	f.fault(testkit.FaultRow{
		Fault:   "Telegram down for the whole run (connection refused)",
		Outcome: "the run retries while its timeout allows, exits with the job's status and keeps the alert in STATE/spool; the next `run` sends it, then marks it resolved",
		Lost:    "nothing",
	})
}

// 5xx answers (a proxy's error page, the token in it) for 2 calls, then OK: the run's
// third try delivers. The timeout is 5 s here: the backoff (about 1 s, then 2 s) must
// fit in it.
func TestFault5xxThenOK(t *testing.T) {
	f := newFaultTest(t)
	srv := telegramBack(t)
	page := telegramtest.Fault{Status: 502, Body: "<html>502 Bad Gateway for /bot" + tgToken + "/sendMessage</html>"}
	srv.Fail(page, page)
	const timeout = 5 * time.Second
	e := f.checkRun(f.run(f.failing(srv.URL(), timeout, "nightly")), timeout)
	if n := count(srv, "nightly failed"); n != 1 || srv.Requests() != 3 || f.spooled() != 0 || e.stderr != "" {
		t.Errorf("%d alerts in %d requests, %d left in the spool, stderr %q; want one alert on the third try",
			n, srv.Requests(), f.spooled(), e.stderr)
	}
	f.fault(testkit.FaultRow{
		Fault:   "Telegram answers 5xx for 2 calls, then OK",
		Outcome: "the run retries with backoff; its third try, about 2 s later, delivers the alert",
		Lost:    "nothing",
	})
}

// 5xx on every call, for longer than the timeout: the alert waits in the spool.
func TestFault5xxThroughout(t *testing.T) {
	f := newFaultTest(t)
	srv := telegramBack(t)
	for range 100 {
		srv.Fail(telegramtest.Fault{Status: 502})
	}
	e := f.failedRun(srv.URL(), "nightly")
	f.kept(e, "nightly")
	if !strings.Contains(e.stderr, "502 Bad Gateway") {
		t.Errorf("stderr does not say why:\n%s", e.stderr)
	}
	srv.ClearFaults()
	f.delivered(srv)
	if n := count(srv, "nightly failed"); n != 1 {
		t.Errorf("Telegram got the alert %d times, want once", n)
	}
	f.fault(testkit.FaultRow{
		Fault:   "Telegram answers 5xx for longer than the timeout",
		Outcome: "the run exits with the job's status within its timeout and keeps the alert in STATE/spool; the next `notify` sends it",
		Lost:    "nothing",
	})
}

// A 429 storm: every call is answered 429 with a retry_after of 30 s, far beyond the
// timeout, until the storm ends. Each supervise asks once and leaves its messages in
// the spool; the first after the storm sends them all, in order.
func TestFault429Storm(t *testing.T) {
	f := newFaultTest(t)
	srv := telegramBack(t)
	for range 100 {
		srv.Fail(telegramtest.Fault{Status: 429, RetryAfter: 30})
	}
	e := f.failedRun(srv.URL(), "nightly")
	f.kept(e, "nightly")
	if !strings.Contains(e.stderr, "retry after 30") {
		t.Errorf("stderr does not say why:\n%s", e.stderr)
	}
	during := f.notify(srv.URL(), faultTimeout, "during the storm")
	if during.status != 1 || f.spooled() != 2 || during.took > bound(faultTimeout)+startMargin {
		t.Errorf("notify in the storm: status %d after %v, %d in the spool; want 1, soon, and both messages kept; stderr:\n%s",
			during.status, during.took, f.spooled(), during.stderr)
	}
	if n := srv.Requests(); n != 2 {
		t.Errorf("%d requests in the storm, want one from each supervise: no 429 loop", n)
	}
	srv.ClearFaults()
	f.delivered(srv)
	var got []string
	for _, m := range srv.Messages() {
		got = append(got, strings.Fields(m.Text)[1])
	}
	if want := "nightly later later"; strings.Join(got, " ") != want {
		t.Errorf("delivered the messages of %v, want %s: each once, in order", got, want)
	}
	f.fault(testkit.FaultRow{
		Fault:   "429 storm: every call 429, retry_after 30 s, longer than the timeout",
		Outcome: "each supervise asks once and does not wait the 30 s: the run exits with the job's status at once, the alert kept in STATE/spool; the first `notify` after the storm sends it",
		Lost:    "nothing",
	})
}

// A stalled connection: Telegram accepts it and never answers, for two runs. Each
// gives up in its time and keeps its alert; the second, which finds the first's alert
// waiting, does not wait a timeout for it and then another for its own. The next up
// sends both as it starts. The timeout is 4 s here, so that twice the timeout is
// beyond the bound.
func TestFaultStalledConnection(t *testing.T) {
	f := newFaultTest(t)
	srv := telegramBack(t)
	for range 100 {
		srv.Fail(telegramtest.Fault{Stall: true})
	}
	const timeout = 4 * time.Second
	failed := func(job string) ended {
		return f.checkRun(f.run(f.failing(srv.URL(), timeout, job)), timeout)
	}
	f.kept(failed("first"), "first")
	e := failed("second")
	if !strings.Contains(e.stderr, "second failed") || f.spooled() != 2 {
		t.Errorf("%d messages in the spool; want both alerts; stderr:\n%s", f.spooled(), e.stderr)
	}
	srv.ClearFaults()

	jobs := t.TempDir()
	up := f.command(srv.URL(), backTimeout, "up", "--jobs", jobs, "--listen", "127.0.0.1:0")
	_, stderr := f.start(up)
	defer onFailure(t, func() string { return "up's stderr:\n" + stderr.String() })
	// Until it says it runs its jobs, up has no handler for SIGTERM yet.
	testkit.Eventually(t, "up running, the alerts sent and out of the spool", func() bool {
		return strings.Contains(stderr.String(), "0 jobs from") && count(srv, "second failed") > 0 && f.spooled() == 0
	})
	up.Process.Signal(syscall.SIGTERM)
	if err := up.Wait(); err != nil {
		t.Errorf("up: %v", err)
	}
	var got []string
	for _, m := range srv.Messages() {
		got = append(got, strings.Fields(m.Text)[1])
	}
	if strings.Join(got, " ") != "first second" {
		t.Errorf("delivered the alerts of %v, want first then second, once each", got)
	}
	f.fault(testkit.FaultRow{
		Fault:   "a stalled connection (accepted, never answered), for two runs",
		Outcome: "each run gives up within the timeout and a second, even with an earlier alert waiting, exits with the job's status and keeps its alert in STATE/spool; the next `up` sends both as it starts",
		Lost:    "nothing",
	})
}

// A slow connection: Telegram takes the message and answers a byte a second. The run
// gives up at the timeout, not knowing the message arrived, and keeps it: the next
// supervise sends it again.
func TestFaultSlowConnection(t *testing.T) {
	f := newFaultTest(t)
	srv := telegramBack(t)
	srv.Fail(telegramtest.Fault{Trickle: time.Second})
	e := f.failedRun(srv.URL(), "nightly")
	f.kept(e, "nightly")
	if n := count(srv, "nightly failed"); n != 1 {
		t.Errorf("Telegram took the alert %d times before its answer trickled, want once", n)
	}
	f.delivered(srv)
	if n := count(srv, "nightly failed"); n != 2 {
		t.Errorf("Telegram got the alert %d times, want twice: the run could not know it arrived", n)
	}
	f.fault(testkit.FaultRow{
		Fault:   "a slow connection (the answer comes a byte a second)",
		Outcome: "the run gives up at the timeout, exits with the job's status and keeps the alert in STATE/spool; the next `notify` sends it",
		Lost:    "nothing; one duplicate: Telegram had taken the alert whose answer came too slowly",
	})
}

// A TLS failure: the API URL is https, to a server whose certificate the system does
// not trust. No request reaches it; the alert waits in the spool.
func TestFaultTLS(t *testing.T) {
	f := newFaultTest(t)
	srv := telegramBack(t)
	var reached atomic.Int32
	impostor := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		http.Error(w, "an impostor", http.StatusInternalServerError)
	}))
	impostor.Config.ErrorLog = log.New(io.Discard, "", 0) // its handshake errors are expected
	impostor.StartTLS()
	t.Cleanup(impostor.Close)
	e := f.failedRun(impostor.URL, "nightly")
	f.kept(e, "nightly")
	if !strings.Contains(e.stderr, "certificate signed by unknown authority") || reached.Load() != 0 {
		t.Errorf("%d requests reached the server; stderr does not say why:\n%s", reached.Load(), e.stderr)
	}
	f.delivered(srv)
	if n := count(srv, "nightly failed"); n != 1 {
		t.Errorf("Telegram got the alert %d times, want once", n)
	}
	f.fault(testkit.FaultRow{
		Fault:   "TLS failure (a certificate the system does not trust)",
		Outcome: "no request is sent; the run retries while its timeout allows, exits with the job's status and keeps the alert in STATE/spool; the next `notify` sends it",
		Lost:    "nothing",
	})
}

// A DNS failure: the run is in a network namespace of its own, with only a loopback
// that is down, so the resolver fails at once and nothing leaves the machine. (Go
// answers no name under .invalid by itself: only .onion. Without the namespace a
// lookup of one would ask the host's DNS server.)
func TestFaultDNS(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("a network namespace of its own needs root")
	}
	f := newFaultTest(t)
	srv := telegramBack(t)
	run := f.failing("https://api.telegram.invalid", faultTimeout, "nightly")
	run.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	e := f.checkRun(f.run(run), faultTimeout)
	f.kept(e, "nightly")
	if !strings.Contains(e.stderr, "lookup api.telegram.invalid") {
		t.Errorf("stderr does not say the lookup failed:\n%s", e.stderr)
	}
	f.delivered(srv)
	if n := count(srv, "nightly failed"); n != 1 {
		t.Errorf("Telegram got the alert %d times, want once", n)
	}
	f.fault(testkit.FaultRow{
		Fault:   "DNS failure (the API's host name does not resolve)",
		Outcome: "the run retries while its timeout allows, exits with the job's status and keeps the alert in STATE/spool; the next `notify` sends it",
		Lost:    "nothing",
	})
}

// kill -9 of a run between the job's end and the delivery, twice: while Telegram
// stalls before it takes the alert, and while it has taken it but its answer has not
// come. Either way the next notify sends the alert from the spool; the second time,
// the chat gets it twice. The killed runs have a long timeout, so that the kill comes
// while they wait for Telegram, however busy the machine.
func TestFaultKilledBeforeDelivery(t *testing.T) {
	f := newFaultTest(t)
	srv := telegramBack(t)
	killed := func(job string, stall telegramtest.Fault) {
		t.Helper()
		srv.Fail(stall)
		before := srv.Requests()
		run := f.failing(srv.URL(), backTimeout, job)
		began := time.Now()
		stdout, stderr := f.start(run)
		defer onFailure(t, func() string { return "the run's stderr:\n" + stderr.String() })
		testkit.Eventually(t, "the job ended, its alert in the spool and at Telegram", func() bool {
			_, err := os.Stat(f.jobEnd)
			return err == nil && f.spooled() == 1 && srv.Requests() > before &&
				(!stall.Taken || count(srv, job+" failed") == 1)
		})
		t.Logf("%s: killed %v after the run started", job, time.Since(began).Round(10*time.Millisecond))
		run.Process.Signal(syscall.SIGKILL)
		if e := f.wait(run, began, stdout, stderr); e.status != -1 {
			t.Errorf("the run ended with %d, want killed", e.status)
		}
		f.delivered(srv)
	}

	killed("first", telegramtest.Fault{Stall: true})
	if n := count(srv, "first failed"); n != 1 {
		t.Errorf("Telegram got the alert of the first run %d times, want once", n)
	}
	killed("second", telegramtest.Fault{Stall: true, Taken: true})
	if n := count(srv, "second failed"); n != 2 {
		t.Errorf("Telegram got the alert of the second run %d times, want twice: once before the kill, once after", n)
	}
	f.fault(testkit.FaultRow{
		Fault:   "`kill -9` of `supervise run` after the job ended, while it delivers the alert",
		Outcome: "the alert waits in STATE/spool; the next `notify` sends it",
		Lost:    "nothing; one duplicate when Telegram had taken the alert before the kill",
	})
}
