package supervisor_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/supervise/supervise/supervisor"
)

// The ping URLs take what healthchecks.io's clients send: the slug form with any key,
// /log, ?rid= and ?create=, by GET, HEAD or POST, answered "OK" with the body limit
// runitor reads.
func TestPingHandlerHealthchecksForms(t *testing.T) {
	t.Parallel()
	pulses := map[string]*supervisor.Pulse{"backup": supervisor.NewPulse(), "start": supervisor.NewPulse()}
	srv := httptest.NewServer(supervisor.PingHandler(func(name string) *supervisor.Pulse { return pulses[name] }))
	defer srv.Close()
	send := func(method, path, body string) (int, string, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("User-Agent", "runitor/v1.3.0 (+https://bdd.fi/x/runitor)")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/ping/backup", 200},
		{"HEAD", "/ping/backup/start", 200},
		{"POST", "/ping/backup/log", 200},
		{"GET", "/ping/backup?rid=5f1f6c2a-0d1e-4c3b-9a5e-2f4d6b8c0e1a", 200},
		{"GET", "/ping/backup/", 200},
		{"GET", "/ping/anykey/backup", 200},
		{"POST", "/ping/anykey/backup/start", 200},
		{"POST", "/ping/anykey/backup/0", 200},
		{"POST", "/ping/anykey/backup/log", 200},
		{"GET", "/ping/anykey/backup/fail?create=1", 200},
		{"GET", "/ping/anykey/nosuchjob?create=1", 404},
		{"GET", "/ping/anykey/backup/nosuch", 400},
		{"GET", "/ping/backup/nosuch", 400},
		{"GET", "/ping/backup/start", 200}, // the job backup starts
		{"GET", "/ping/anykey/start", 200}, // the slug form of the job named start
		{"GET", "/ping/a/backup/0/x", 404}, // too many parts
		{"GET", "/ping//backup", 404},      // an empty part
		{"GET", "/ping/backup?rid=" + strings.Repeat("r", 65), 400},
	} {
		status, _, _ := send(tc.method, tc.path, "")
		if status != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, status, tc.want)
		}
	}
	status, body, header := send("POST", "/ping/key/backup/3", "rsync: connection refused")
	if status != 200 || body != "OK\n" || header.Get("Ping-Body-Limit") != "102400" {
		t.Errorf("a status ping answered %d %q with Ping-Body-Limit %q; want 200 OK and 102400", status, body, header.Get("Ping-Body-Limit"))
	}
	if st := pulses["backup"].State(); st.Message != "rsync: connection refused" || !st.Failed {
		t.Errorf("after /3 with a body, the job has message %q, failed %v; want the body, and failed", st.Message, st.Failed)
	}
}

// /log keeps its body as the last message and changes nothing else: no sign of life,
// no failure, no recovery; a log without a body keeps the message.
func TestPingLog(t *testing.T) {
	t.Parallel()
	p := supervisor.NewPulse()
	if err := p.Ping("fail", "", "first"); err != nil {
		t.Fatal(err)
	}
	before := p.State()
	if err := p.Ping("log", "", "step 2 of 3 done"); err != nil {
		t.Fatal(err)
	}
	after := p.State()
	if after.Message != "step 2 of 3 done" || !after.Failed || !after.Last.Equal(before.Last) {
		t.Errorf("after /log: message %q, failed %v, last sign %v (was %v); want the log's body, still failed, the same last sign",
			after.Message, after.Failed, after.Last, before.Last)
	}
	if err := p.Ping("log", "", ""); err != nil {
		t.Fatal(err)
	}
	if m := p.State().Message; m != "step 2 of 3 done" {
		t.Errorf("an empty /log changed the message to %q", m)
	}
}

// A job file with a [heartbeat] and no command is a passive job; what only a run
// could use is an error in it, each with its line and key.
func TestParsePassiveJob(t *testing.T) {
	t.Parallel()
	job, err := supervisor.Parse("/jobs/watched.toml", []byte("[heartbeat]\nevery = \"1h\"\n"))
	if err != nil || !job.Passive() || job.Heartbeat.Grace != 6*time.Minute {
		t.Fatalf("a [heartbeat] alone: %v, %+v; want a passive job with grace a tenth of every", err, job)
	}
	job, err = supervisor.Parse("/jobs/cron.toml", []byte("schedule = \"0 3 * * *\"\n[heartbeat]\n"))
	if err != nil || !job.Passive() || job.Heartbeat.Grace != time.Hour {
		t.Fatalf("a schedule and an empty [heartbeat]: %v, %+v; want a passive job with grace 1h", err, job)
	}
	_, err = supervisor.Parse("/jobs/bad.toml", []byte("timeout = \"1m\"\nschedule = \"@every 10m\"\n[heartbeat]\nevery = \"1m\"\noutput = true\n"))
	for _, want := range []string{
		"bad.toml:1: timeout: does not apply to a passive job",
		"bad.toml:3: heartbeat.every: does not apply to a passive job with a schedule",
		"bad.toml:3: heartbeat: output and action = \"restart\" need a run",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("errors %v; want %q", err, want)
		}
	}
	if _, err := supervisor.Parse("/jobs/none.toml", []byte("dir = \"/srv\"\n")); err == nil || !strings.Contains(err.Error(), "command: is required") {
		t.Errorf("no command and no heartbeat: %v; want command is required", err)
	}
}
