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
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/supervise/supervise/internal/testkit"
	"github.com/supervise/supervise/notifier"
	"github.com/supervise/supervise/notifier/telegramtest"
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

// fuzzUp runs an up with one job, nightly, scheduled at 3 in the morning, whose runs
// (when a command starts one) run true; it is stopped when f ends.
func fuzzUp(f *testing.F) *supervisor.Daemon {
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
	return d
}

// FuzzControl checks what holds for any request to the control socket from its
// owner, as the server reads it off the wire, to an up that runs one scheduled job,
// nightly: every answer is one the routes give, in JSON with an error for a
// problem, and each route does what its path, query and method say, for the job
// named and no other.
func FuzzControl(f *testing.F) {
	d := fuzzUp(f)
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
	case "": // not a route: the mux's own answer
		if code == http.StatusOK {
			t.Fatalf("%s: 200 from no route: %s", what, body)
		}
		return
	case "/ping/": // the ping handler reads the rest of the path itself, in healthchecks' forms
		segments := strings.Split(strings.TrimPrefix(req.URL.Path, "/ping/"), "/")
		if code == http.StatusOK && (!slices.Contains(segments, "nightly") || len(segments) > 3 ||
			req.Method != http.MethodGet && req.Method != http.MethodHead && req.Method != http.MethodPost) {
			t.Fatalf("%s: 200 from a ping of no job of up's: %s", what, body)
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

// botAPI is a Bot API that takes every request and keeps the method and, for JSON,
// the parameters of each.
type botAPI struct {
	mu   sync.Mutex
	sent []botRequest
}

type botRequest struct {
	method string
	params map[string]any // nil for a file sent as multipart
}

func (b *botAPI) RoundTrip(req *http.Request) (*http.Response, error) {
	r := botRequest{method: path.Base(req.URL.Path)}
	data, _ := io.ReadAll(req.Body)
	req.Body.Close()
	if req.Header.Get("Content-Type") == "application/json" {
		json.Unmarshal(data, &r.params)
	}
	b.mu.Lock()
	b.sent = append(b.sent, r)
	b.mu.Unlock()
	result := `{"message_id":1,"chat":{"id":1,"type":"private"},"date":1767225600}`
	if r.method == "answerCallbackQuery" {
		result = "true"
	}
	return &http.Response{StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{"Content-Type": {"application/json"}},
		Body:    io.NopCloser(strings.NewReader(`{"ok":true,"result":` + result + `}`)),
		Request: req}, nil
}

// take returns what was sent since the last call.
func (b *botAPI) take() []botRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	sent := b.sent
	b.sent = nil
	return sent
}

// oneIncident is the notifier's incidents, with one open: id "7f3a", about nightly.
type oneIncident struct{}

func (oneIncident) Incident(id string) (string, bool) { return "nightly", id == "7f3a" }
func (oneIncident) Mute(string, time.Time)            {}
func (oneIncident) Mutes() map[string]time.Time       { return nil }

// fuzzBotToken is the bot's token in FuzzTelegramCommand.
const fuzzBotToken = "5550123:AAG-fuzz_commands_token"

// FuzzTelegramCommand checks what holds for any message to the bot, and any press of
// a button under an incident's message, from an allowed chat or another: a command
// for this bot from an allowed chat gets one answer, in that chat, in HTML that
// Telegram takes; anything else gets none. A press gets one answer, a short one,
// whatever it is; one from another chat does nothing else. Nothing said on stderr
// shows the token.
func FuzzTelegramCommand(f *testing.F) {
	const allowed, other, username = int64(123456789), int64(987654321), "supervise_bot"
	api := &botAPI{}
	bot := notifier.NewTelegram(fuzzBotToken, "")
	bot.Client = &http.Client{Transport: api}
	c := &Commands{Bot: bot, Allow: map[int64]bool{allowed: true}, Daemon: fuzzUp(f), Incidents: oneIncident{}}

	f.Add("/status", true, "l:7f3a")
	f.Add("/logs@Supervise_Bot nightly 3", true, "m:7f3a")
	f.Add("/restart <b>&amp;", false, "r:7f3a")
	f.Fuzz(func(t *testing.T, text string, fromAllowed bool, data string) {
		chat := other
		if fromAllowed {
			chat = allowed
		}
		var stderr bytes.Buffer
		c.Stderr = &stderr
		ctx := context.Background()
		cmd := notifier.Command{ChatID: chat, UserID: chat, From: "@ann", Text: text, Date: time.Now()}
		testkit.Within(t, 90*time.Second, "the answer to a command", func() { c.handle(ctx, cmd, username) })
		sent := api.take()
		words := strings.Fields(text)
		forUs := len(words) > 0 && strings.HasPrefix(words[0], "/")
		if forUs {
			_, to, named := strings.Cut(words[0][1:], "@")
			forUs = !named || strings.EqualFold(to, username)
		}
		switch {
		case !forUs || !fromAllowed:
			if len(sent) > 0 {
				t.Fatalf("%q from chat %d: answered with %+v", text, chat, sent)
			}
		case len(sent) != 1 || sent[0].method != "sendMessage" || sent[0].params["chat_id"] != fmt.Sprint(chat):
			t.Fatalf("%q: sent %+v, want one message to chat %d", text, sent, chat)
		default:
			answer, _ := sent[0].params["text"].(string)
			if err := telegramtest.ValidateHTML(answer); err != nil || sent[0].params["parse_mode"] != "HTML" {
				t.Fatalf("%q: the answer is not HTML Telegram takes: %v\n%s", text, err, answer)
			}
		}

		p := notifier.Press{ID: "q1", ChatID: chat, UserID: chat, From: "@ann", Data: data}
		testkit.Within(t, 90*time.Second, "the answer to a press", func() { c.press(ctx, p) })
		answers := 0
		for _, r := range api.take() {
			switch {
			case r.method == "answerCallbackQuery":
				answers++
				if a, _ := r.params["text"].(string); utf8.RuneCountInString(a) > 200 {
					t.Fatalf("press %q: an answer of %d characters, more than Telegram shows", data, utf8.RuneCountInString(a))
				}
			case !fromAllowed:
				t.Fatalf("press %q from chat %d: sent %+v", data, chat, r)
			case r.method == "sendMessage":
				if err := telegramtest.ValidateHTML(r.params["text"].(string)); err != nil {
					t.Fatalf("press %q: a message that is not HTML Telegram takes: %v", data, err)
				}
			}
		}
		if answers != 1 {
			t.Fatalf("press %q from chat %d: answered %d times", data, chat, answers)
		}
		if strings.Contains(stderr.String(), fuzzBotToken) {
			t.Fatalf("stderr shows the token: %s", stderr.String())
		}
	})
}
