package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/supervise/supervise/supervisor"
)

// These tests ping a fake daemon in httptest that answers as the real one does. None
// is parallel: they set the environment and pingTimeout.

// pinged is one request as the fake daemon saw it.
type pinged struct {
	Method, Path, Body string
}

// fakeDaemon serves /ping/JOB[/start|/fail|/log|/N] for its jobs and records every request.
type fakeDaemon struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []pinged
}

func newFakeDaemon(t *testing.T, jobs ...string) *fakeDaemon {
	d := &fakeDaemon{}
	d.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		d.mu.Lock()
		d.reqs = append(d.reqs, pinged{r.Method, r.URL.Path, string(body)})
		d.mu.Unlock()
		rest, ok := strings.CutPrefix(r.URL.Path, "/ping/")
		job, suffix, _ := strings.Cut(rest, "/")
		switch {
		case !ok || r.Method != http.MethodGet && r.Method != http.MethodPost:
			http.NotFound(w, r)
		case !contains(jobs, job):
			http.Error(w, "no job named "+job, http.StatusNotFound)
		case !validSuffix(suffix):
			http.Error(w, "bad ping "+suffix+": want start, fail, log or an exit status 0..255", http.StatusBadRequest)
		default:
			io.WriteString(w, "OK\n")
		}
	}))
	t.Cleanup(d.Close)
	return d
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func validSuffix(s string) bool {
	if s == "" || s == "start" || s == "fail" || s == "log" {
		return true
	}
	n, err := strconv.Atoi(s)
	return err == nil && n >= 0 && n <= 255 && strconv.Itoa(n) == s
}

// addr is the daemon's address, as --listen takes it.
func (d *fakeDaemon) addr() string { return strings.TrimPrefix(d.URL, "http://") }

func (d *fakeDaemon) requests() []pinged {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]pinged(nil), d.reqs...)
}

// pingEnv sets the environment a job gives ping; empty strings clear it, so that
// tests run inside a supervised job do not see that job's.
func pingEnv(t *testing.T, job, url string) {
	t.Setenv("SUPERVISE_JOB", job)
	t.Setenv("SUPERVISE_PING_URL", url)
}

// shortPingTimeout makes a stalled daemon cost d, not 10 s.
func shortPingTimeout(t *testing.T, d time.Duration) {
	old := pingTimeout
	pingTimeout = d
	t.Cleanup(func() { pingTimeout = old })
}

// superviseStdin is supervise (main_test.go) with stdin.
func superviseStdin(t *testing.T, stdin io.Reader, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr syncBuffer
	status := realMain(context.Background(), args, stdin, &stdout, &stderr)
	return status, stdout.String(), stderr.String()
}

func TestPingSuffixes(t *testing.T) {
	pingEnv(t, "", "")
	d := newFakeDaemon(t, "backup")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"backup"}, "/ping/backup"},
		{[]string{"backup", "start"}, "/ping/backup/start"},
		{[]string{"backup", "fail"}, "/ping/backup/fail"},
		{[]string{"backup", "log"}, "/ping/backup/log"},
		{[]string{"backup", "0"}, "/ping/backup/0"},
		{[]string{"backup", "3"}, "/ping/backup/3"},
		{[]string{"backup", "255"}, "/ping/backup/255"},
		{[]string{"backup", "007"}, "/ping/backup/7"},
	} {
		before := len(d.requests())
		status, stdout, stderr := supervise(t, append([]string{"ping", "--listen", d.addr()}, tc.args...)...)
		if status != 0 || stdout != "" || stderr != "" {
			t.Errorf("%q: status %d stdout %q stderr %q; want 0 and nothing printed", tc.args, status, stdout, stderr)
		}
		got := d.requests()[before:]
		if want := (pinged{"POST", tc.want, ""}); len(got) != 1 || got[0] != want {
			t.Errorf("%q: daemon got %+v, want one %+v", tc.args, got, want)
		}
	}
}

func TestPingMessage(t *testing.T) {
	pingEnv(t, "", "")
	d := newFakeDaemon(t, "backup")
	long := strings.Repeat("0123456789abcdef", supervisor.MaxPingMessage/16) + "\nerror: the end"
	end := "…" + long[len(long)-supervisor.MaxPingMessage+len("…"):] // what is sent of long
	for _, tc := range []struct {
		name     string
		args     []string
		stdin    string
		want     string
		wantCut  bool
		wantPath string
	}{
		{"-m", []string{"-m", "disk full: /srv at 100%", "backup", "fail"}, "", "disk full: /srv at 100%", false, "/ping/backup/fail"},
		{"--message", []string{"--message", "rows: 1204", "backup"}, "", "rows: 1204", false, "/ping/backup"},
		{"-m -", []string{"-m", "-", "backup", "2"}, "line 1\nline 2\n", "line 1\nline 2\n", false, "/ping/backup/2"},
		{"-m - empty", []string{"-m", "-", "backup"}, "", "", false, "/ping/backup"},
		{"-m - over 100 KB", []string{"-m", "-", "backup", "fail"}, long, end, true, "/ping/backup/fail"},
		{"-m over 100 KB", []string{"-m", long, "backup"}, "", end, true, "/ping/backup"},
		{"-m - exactly 100 KB", []string{"-m", "-", "backup"}, long[:supervisor.MaxPingMessage], long[:supervisor.MaxPingMessage], false, "/ping/backup"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(d.requests())
			stdin := strings.NewReader(tc.stdin)
			status, _, stderr := superviseStdin(t, stdin, append([]string{"ping", "--listen", d.addr()}, tc.args...)...)
			if status != 0 {
				t.Errorf("status %d, want 0; stderr %q", status, stderr)
			}
			got := d.requests()[before:]
			if len(got) != 1 || got[0].Method != "POST" || got[0].Path != tc.wantPath {
				t.Fatalf("daemon got %d requests (%+v), want one POST to %s", len(got), got, tc.wantPath)
			}
			if b := got[0].Body; b != tc.want {
				t.Errorf("body is %d bytes, %q...%q; want %d bytes, %q...%q", len(b), b[:min(len(b), 40)], b[max(len(b)-40, 0):],
					len(tc.want), tc.want[:min(len(tc.want), 40)], tc.want[max(len(tc.want)-40, 0):])
			}
			if cut := strings.Contains(stderr, "longer than 100 KB"); cut != tc.wantCut || !cut && stderr != "" {
				t.Errorf("stderr %q; want a note that the message was cut: %v", stderr, tc.wantCut)
			}
			if stdin.Len() != 0 {
				t.Errorf("%d bytes of stdin left unread; a job piping into ping would die of SIGPIPE", stdin.Len())
			}
		})
	}
}

// Inside the job it names, ping goes to the job's own SUPERVISE_PING_URL (the only
// way to reach `supervise run`, whose port is ephemeral); elsewhere, to --listen.
func TestPingURLFromEnvironment(t *testing.T) {
	own := newFakeDaemon(t, "backup", "nightly") // the supervise that runs the job
	other := newFakeDaemon(t, "backup", "nightly")

	pingEnv(t, "backup", own.URL+"/ping/backup")
	if status, _, stderr := supervise(t, "ping", "backup", "fail"); status != 0 {
		t.Errorf("status %d, stderr %q", status, stderr)
	}
	if got, want := own.requests(), []pinged{{"POST", "/ping/backup/fail", ""}}; len(got) != 1 || got[0] != want[0] {
		t.Errorf("SUPERVISE_PING_URL's server got %+v, want %+v", got, want)
	}

	pingEnv(t, "backup", own.URL+"/ping/backup/") // a trailing slash is no second one
	supervise(t, "ping", "backup")
	if got := own.requests(); len(got) != 2 || got[1].Path != "/ping/backup" {
		t.Errorf("with a trailing slash, the server got %+v", got)
	}

	// Another job's URL is not this job's, and --listen wins over the environment.
	for _, env := range []string{"nightly", "backup"} {
		pingEnv(t, env, own.URL+"/ping/"+env)
		if status, _, stderr := supervise(t, "ping", "--listen", other.addr(), "backup", "start"); status != 0 {
			t.Errorf("SUPERVISE_JOB=%s: status %d, stderr %q", env, status, stderr)
		}
	}
	if got := own.requests(); len(got) != 2 {
		t.Errorf("SUPERVISE_PING_URL was used with --listen or for another job: %+v", got[2:])
	}
	if got := other.requests(); len(got) != 2 || got[0].Path != "/ping/backup/start" || got[1].Path != "/ping/backup/start" {
		t.Errorf("the --listen server got %+v, want two pings of backup/start", got)
	}
}

// Which URL, without sending; none ("") for up's control socket.
func TestPingTarget(t *testing.T) {
	const url = "http://127.0.0.1:39123/ping/backup"
	for _, tc := range []struct {
		name      string
		env       map[string]string
		listen    string
		listenSet bool
		args      []string
		want      string
	}{
		{"no environment", nil, "", false, []string{"backup"}, ""},
		{"inside the job", map[string]string{"SUPERVISE_JOB": "backup", "SUPERVISE_PING_URL": url}, "", false, []string{"backup", "fail"}, url + "/fail"},
		{"inside another job, of the same supervise", map[string]string{"SUPERVISE_JOB": "nightly", "SUPERVISE_PING_URL": url}, "", false, []string{"backup"}, "http://127.0.0.1:39123/ping/backup"},
		{"no URL", map[string]string{"SUPERVISE_JOB": "backup"}, "", false, []string{"backup", "fail"}, ""},
		{"--listen wins", map[string]string{"SUPERVISE_JOB": "backup", "SUPERVISE_PING_URL": url}, "127.0.0.1:9000", true, []string{"backup", "4"}, "http://127.0.0.1:9000/ping/backup/4"},
		{"--listen :PORT", nil, ":9000", true, []string{"backup"}, "http://127.0.0.1:9000/ping/backup"},
		{"--listen IPv6", nil, "[::1]:9000", true, []string{"backup", "start"}, "http://[::1]:9000/ping/backup/start"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pingTargetOf(tc.args, tc.listen, tc.listenSet, func(k string) string { return tc.env[k] })
			url := ""
			if got.url != nil {
				url = got.url.String()
			}
			if err != nil || url != tc.want {
				t.Errorf("got %q, %v; want %q", url, err, tc.want)
			}
		})
	}
}

func TestPingUsageErrors(t *testing.T) {
	d := newFakeDaemon(t, "backup")
	for _, tc := range []struct {
		env  string // SUPERVISE_PING_URL, for SUPERVISE_JOB=backup
		args []string
		want string
	}{
		{"", nil, "supervise ping: no job given\n\nusage: supervise ping [flags] JOB [start|fail|log|N]\n"},
		{"", []string{"back up"}, `"back up" is not a valid job name`},
		{"", []string{"../etc"}, `"../etc" is not a valid job name`},
		{"", []string{"backup", "done"}, `supervise ping: "done" is not start, fail, log or an exit status 0..255`},
		{"", []string{"backup", "ok"}, "a plain sign of life takes no second argument"},
		{"", []string{"backup", "256"}, "supervise ping: exit status 256 is out of range 0..255\n"},
		{"", []string{"backup", "-1"}, `"-1" is not start, fail, log or an exit status`},
		{"", []string{"backup", "+1"}, `"+1" is not start, fail, log or an exit status`},
		{"", []string{"backup", ""}, `"" is not start, fail, log or an exit status`},
		{"", []string{"backup", "fail", "now"}, `supervise ping: unexpected argument "now" after backup fail`},
		{"", []string{"backup", "fail", "-m", "disk full"}, "flags go before the job: supervise ping -m 'disk full' backup fail"},
		{"", []string{"backup", "--listen", "x"}, "flags go before the job"},
		{"", []string{"--bogus", "backup"}, "flag provided but not defined: -bogus"},
		{"", []string{"-m"}, "flag needs an argument: -m"},
		{"", []string{"--listen", "localhost", "backup"}, `--listen "localhost": want HOST:PORT`},
		{"", []string{"--listen", "127.0.0.1:0", "backup"}, "give the port it printed"},
		{"ftp://x/ping/backup", []string{"backup"}, `SUPERVISE_PING_URL="ftp://x/ping/backup" is not an http URL`},
		{"127.0.0.1:8427/ping/backup", []string{"backup"}, "is not an http URL"},
	} {
		pingEnv(t, "backup", tc.env)
		args := append([]string{"ping"}, tc.args...)
		if tc.env == "" {
			args = append([]string{"ping", "--listen", d.addr()}, tc.args...)
		}
		status, stdout, stderr := supervise(t, args...)
		if status != 2 || !strings.Contains(stderr, tc.want) || stdout != "" {
			t.Errorf("%q: status %d, stdout %q, stderr %q; want 2 and %q", tc.args, status, stdout, stderr, tc.want)
		}
	}
	if got := d.requests(); len(got) != 0 {
		t.Errorf("a ping was sent despite a usage error: %+v", got)
	}
	if status, stdout, _ := supervise(t, "ping", "-h"); status != 0 || !strings.Contains(stdout, "usage: supervise ping") || !strings.Contains(stdout, "--listen address") {
		t.Errorf("ping -h: status %d, stdout %q; want 0 and the usage", status, stdout)
	}
}

// A refused ping exits 1 with the daemon's one-line answer.
func TestPingRefused(t *testing.T) {
	pingEnv(t, "", "")
	d := newFakeDaemon(t, "backup")
	status, stdout, stderr := supervise(t, "ping", "--listen", d.addr(), "nightly", "fail")
	if want := "supervise ping: nightly: 404 no job named nightly\n"; status != 1 || stdout != "" || stderr != want {
		t.Errorf("status %d, stdout %q, stderr %q; want 1 and %q", status, stdout, stderr, want)
	}

	for _, tc := range []struct {
		handler http.HandlerFunc
		want    string
	}{
		{func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }, "503 Service Unavailable"},
		{func(w http.ResponseWriter, r *http.Request) { http.Error(w, "busy\nsecond line", 503) }, "503 busy"},
		{http.NotFound, "404 page not found"},
		{func(w http.ResponseWriter, r *http.Request) { http.Error(w, "\x1b[31mred\x1b[0m", 500) }, "500 [31mred[0m"},
		{func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/elsewhere", http.StatusFound) }, "302 Found"},
	} {
		srv := httptest.NewServer(tc.handler)
		status, _, stderr := supervise(t, "ping", "--listen", strings.TrimPrefix(srv.URL, "http://"), "backup")
		srv.Close()
		if want := "supervise ping: backup: " + tc.want + "\n"; status != 1 || stderr != want {
			t.Errorf("status %d, stderr %q; want 1 and %q", status, stderr, want)
		}
	}
}

func TestPingConnectionRefused(t *testing.T) {
	pingEnv(t, "", "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	status, _, stderr := supervise(t, "ping", "--listen", addr, "backup")
	if want := "supervise ping: backup: cannot reach supervise at " + addr + ": connection refused (is `supervise up` running? see --listen)\n"; status != 1 || stderr != want {
		t.Errorf("status %d, stderr %q; want 1 and %q", status, stderr, want)
	}

	pingEnv(t, "backup", "http://"+addr+"/ping/backup")
	status, _, stderr = supervise(t, "ping", "backup")
	if status != 1 || !strings.Contains(stderr, "connection refused (from SUPERVISE_PING_URL") {
		t.Errorf("through SUPERVISE_PING_URL: status %d, stderr %q; want 1, naming where the URL came from", status, stderr)
	}
}

// A daemon that takes the connection and never answers does not hang the script.
func TestPingStalledServer(t *testing.T) {
	pingEnv(t, "", "")
	shortPingTimeout(t, 300*time.Millisecond)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // first, so that Close does not wait for the handler
	addr := strings.TrimPrefix(srv.URL, "http://")

	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- realMain(context.Background(), []string{"ping", "--listen", addr, "-m", "-", "backup", "fail"},
			strings.NewReader("a message"), &stdout, &stderr)
	}()
	select {
	case status := <-done:
		if want := "supervise ping: backup: no answer from " + addr + " within 300ms\n"; status != 1 || stderr.String() != want {
			t.Errorf("status %d, stderr %q; want 1 and %q", status, stderr.String(), want)
		}
	case <-time.After(5 * time.Second): // far beyond 300ms, far below the real 10s
		t.Fatal("ping still waiting for a stalled daemon after 5s, with a timeout of 300ms")
	}
}
