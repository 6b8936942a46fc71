package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/supervise/supervise/internal/testkit"
	"github.com/supervise/supervise/supervisor"
)

// hangUp is a client that hangs up once the answer has begun: Flush ends the
// request's context, so that `logs?follow=1` answers its last lines and returns.
type hangUp struct {
	*httptest.ResponseRecorder
	cancel context.CancelFunc
}

func (h hangUp) Flush() {
	h.ResponseRecorder.Flush()
	h.cancel()
}

// FuzzControl checks what holds for any request to the control socket from its
// owner, as the server reads it off the wire, to an up that runs one scheduled job,
// nightly: every answer is one the routes give, in JSON with an error for a
// problem, and each route does what its path, query and method say, for the job
// named and no other.
func FuzzControl(f *testing.F) {
	job, err := supervisor.Parse("jobs.d/nightly.toml", []byte("command = [\"true\"]\nschedule = \"0 3 * * *\"\npty = false\n"))
	if err != nil {
		f.Fatal(err)
	}
	d := &supervisor.Daemon{Host: "fuzzhost", Stdout: io.Discard, Stderr: io.Discard, LogDir: f.TempDir()}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		d.Run(ctx, []*supervisor.Job{job})
	}()
	f.Cleanup(func() {
		cancel()
		<-ran
	})
	select {
	case <-d.Started():
	case <-time.After(10 * time.Second):
		f.Fatal("not within 10s: up started nightly")
	}
	s := &Server{Daemon: d, Started: time.Now(), Stderr: io.Discard,
		Reload: func(context.Context) Reloaded { return Reloaded{Jobs: 1} }}
	h := s.Handler()
	owner := syscall.Ucred{Pid: int32(os.Getpid()), Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid())}

	f.Add("GET", "/v1/status", []byte(nil))
	f.Add("POST", "/v1/jobs/nightly/restart", []byte(nil))
	f.Add("GET", "/v1/jobs/nightly/logs?lines=5&follow=1", []byte(nil))
	f.Fuzz(func(t *testing.T, method, target string, body []byte) {
		head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: supervise\r\nContent-Length: %d\r\n\r\n", method, target, len(body))
		req, err := http.ReadRequest(bufio.NewReader(io.MultiReader(strings.NewReader(head), bytes.NewReader(body))))
		if err != nil {
			return // the server answers 400 itself
		}
		ctx, cancel := context.WithCancel(context.WithValue(req.Context(), peerKey{}, owner))
		defer cancel()
		req = req.WithContext(ctx)
		w := hangUp{httptest.NewRecorder(), cancel}
		testkit.Within(t, 30*time.Second, "the control socket's answer", func() { h.ServeHTTP(w, req) })
		checkControl(t, req, w.ResponseRecorder)
	})
}

// exitStatus matches an exit status a ping may report, written as Go writes it.
var exitStatus = regexp.MustCompile(`^(0|[1-9][0-9]?|1[0-9][0-9]|2[0-4][0-9]|25[0-5])$`)

// checkControl fails t unless rec is what the control socket must answer to req.
func checkControl(t *testing.T, req *http.Request, rec *httptest.ResponseRecorder) {
	t.Helper()
	what := fmt.Sprintf("%s %q", req.Method, req.RequestURI)
	code, body := rec.Code, rec.Body.Bytes()
	switch code {
	case http.StatusOK, http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusPermanentRedirect,
		http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed:
	default:
		t.Fatalf("%s: %d %q", what, code, body)
	}
	if rec.Header().Get("Content-Type") == "application/json" {
		var answer map[string]any
		if err := json.Unmarshal(body, &answer); err != nil {
			t.Fatalf("%s: %d with JSON that is not an object: %v\n%s", what, code, err, body)
		}
		if e, _ := answer["error"].(string); code >= 400 && e == "" {
			t.Fatalf("%s: %d without an error: %s", what, code, body)
		}
	}

	if code/100 == 3 && rec.Header().Get("Location") != "" {
		return // the mux sends a path that is not clean to its clean form
	}
	job := req.PathValue("job")
	want := http.StatusOK
	switch req.Pattern {
	case "", "/ping/": // not a route, or not a ping URL: the mux's own answer
		if code == http.StatusOK {
			t.Fatalf("%s: 200 from no route: %s", what, body)
		}
		return
	case "GET /v1/status":
		var st Status
		if err := json.Unmarshal(body, &st); err != nil || st.Host != "fuzzhost" || len(st.Jobs) != 1 || st.Jobs[0].Name != "nightly" {
			t.Fatalf("%s: %d %v: %s", what, code, err, body)
		}
	case "POST /v1/reload":
	case "POST /v1/jobs/{job}/{command}":
		switch cmd := req.PathValue("command"); {
		case cmd != supervisor.CommandStart && cmd != supervisor.CommandStop && cmd != supervisor.CommandRestart:
			want = http.StatusBadRequest
		case job != "nightly":
			want = http.StatusNotFound
		default:
			var a Answer
			if err := json.Unmarshal(body, &a); err != nil || a.Job != job || a.Command != cmd {
				t.Fatalf("%s: %d %v: %s", what, code, err, body)
			}
		}
	case "GET /v1/jobs/{job}/logs":
		v := req.URL.Query().Get("lines")
		if n, err := strconv.Atoi(v); v != "" && (err != nil || n < 0) {
			want = http.StatusBadRequest
		} else if job != "nightly" {
			want = http.StatusNotFound
		}
	case "/ping/{job}", "/ping/{job}/{what}":
		switch w := req.PathValue("what"); {
		case req.Method != http.MethodGet && req.Method != http.MethodHead && req.Method != http.MethodPost:
			want = http.StatusMethodNotAllowed
		case job != "nightly":
			want = http.StatusNotFound
		case w != "" && w != "start" && w != "fail" && !exitStatus.MatchString(w):
			want = http.StatusBadRequest
		}
	default:
		t.Fatalf("%s: a route the test does not know: %q", what, req.Pattern)
	}
	if code != want {
		t.Fatalf("%s (route %q, job %q): %d, want %d: %s", what, req.Pattern, job, code, want, body)
	}
}
