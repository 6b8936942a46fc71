package supervisor_test

// Fuzz targets for what supervise reads from outside: job files, the config file,
// schedules and ping requests (sd_notify datagrams are in sdnotify_test.go). Their
// seeds are in testdata/fuzz, taken from jobs.d, examples and the README; .ci/fuzz
// runs every target for a few seconds.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/supervise/supervise/internal/testkit"
	"github.com/supervise/supervise/supervisor"
)

// hangLimit is how long one input may keep a parser: far longer than any takes, so
// that only a hang fails.
const hangLimit = 10 * time.Second

// FuzzParse checks what holds for any job file. One that does not load says what is
// wrong on lines that each name the file, and a line of it when they name one. A
// passive one ([heartbeat] and no command) runs nothing. Any other that loads can be
// run as it says: a valid name, a command that exec takes (no NUL
// byte), settings in their ranges, a schedule that comes due; and its name and
// command, written back, load as the same, with a Display that a shell reads back
// as the command.
func FuzzParse(f *testing.F) {
	f.Add([]byte("command = [\"/bin/echo\", \"it's\", \"\"]\nrestart = \"never\"\n"))
	f.Add([]byte("command = \"\"\"\nif true; then\n  echo a |\n  cat\nfi\n\"\"\"\n"))
	// At the limits of a Duration and an int64, where a heartbeat was late at once
	// and a log's size below zero, before Heartbeat.Limit and ParseSize's check.
	f.Add([]byte("command = \"true\"\n[heartbeat]\nevery = \"2562047h\"\ngrace = \"2562047h\"\n"))
	f.Add([]byte("command = \"true\"\nlog = { max_size = \"9223372036854775807KB\" }\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const path = "jobs.d/web.toml"
		var job *supervisor.Job
		var err error
		testkit.Within(t, hangLimit, "Parse", func() { job, err = supervisor.Parse(path, data) })
		if err != nil {
			checkProblems(t, path, data, err)
			return
		}
		checkJob(t, path, job)
		if job.Passive() {
			return // it has no command to write back
		}

		// The name and command, written back as TOML, load as the same job.
		var buf bytes.Buffer
		err = toml.NewEncoder(&buf).Encode(struct {
			Name    string   `toml:"name"`
			Command []string `toml:"command"`
		}{job.Name, job.Command})
		if err != nil {
			t.Fatalf("writing back name %q and command %q: %v", job.Name, job.Command, err)
		}
		again, err := supervisor.Parse(path, buf.Bytes())
		if err != nil {
			t.Fatalf("name %q and command %q, written back, do not load: %v\n%s", job.Name, job.Command, err, &buf)
		}
		if again.Name != job.Name || !slices.Equal(again.Command, job.Command) {
			t.Fatalf("name %q and command %q, written back, load as %q and %q", job.Name, job.Command, again.Name, again.Command)
		}
		if words := shellWords(again.Display); !slices.Equal(words, job.Command) {
			t.Fatalf("the command %q is shown as %q, which a shell reads as %q", job.Command, again.Display, words)
		}
		// A command given as a string keeps its own words, on one line.
		shell := len(job.Command) == 3 && job.Command[0] == "/bin/sh" && job.Command[1] == "-c"
		if job.Display != again.Display && (!shell || strings.Contains(job.Display, "\n")) {
			t.Fatalf("the command %q is shown as %q", job.Command, job.Display)
		}
	})
}

// checkJob fails t unless job, loaded from path, can be run as it says.
func checkJob(t *testing.T, path string, job *supervisor.Job) {
	t.Helper()
	if job.File != path {
		t.Errorf("File = %q, want %q", job.File, path)
	}
	if err := supervisor.CheckName(job.Name); err != nil {
		t.Errorf("the job loads with a name that is not valid: %v", err)
	}
	switch {
	case job.Passive():
		// A passive job runs nothing: it has only its heartbeat, which pings keep.
		if job.Display != "" || job.Heartbeat.Output || job.Heartbeat.Action == supervisor.ActionRestart {
			t.Errorf("the passive job loads with a command shown as %q, heartbeat %+v", job.Display, job.Heartbeat)
		}
	case len(job.Command) == 0 || job.Command[0] == "" || job.Display == "":
		t.Errorf("the job loads with no program to run: %q, shown as %q", job.Command, job.Display)
	}
	// exec refuses a NUL byte in any of these: such a job could never start.
	for _, s := range job.Command {
		if strings.Contains(s, "\x00") {
			t.Errorf("the job loads with a NUL byte in its command %q", job.Command)
		}
	}
	for k, v := range job.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.Contains(v, "\x00") {
			t.Errorf("the job loads with an environment variable exec refuses: %q=%q", k, v)
		}
	}
	if strings.Contains(job.Dir, "\x00") {
		t.Errorf("the job loads with dir %q", job.Dir)
	}

	for _, d := range []struct {
		name string
		d    time.Duration
		min  time.Duration
	}{
		{"timeout", job.Timeout, 0}, {"stop_timeout", job.StopTimeout, 1}, {"healthy_after", job.HealthyAfter, 1},
		{"backoff.initial", job.Backoff.Initial, 1}, {"backoff.max", job.Backoff.Max, job.Backoff.Initial},
		{"restart_limit.within", job.RestartLimit.Within, 1}, {"jitter", job.Jitter, 0},
		{"expect_success_within", job.ExpectSuccessWithin, 0}, {"min_runtime", job.MinRuntime, 0},
	} {
		if d.d < d.min {
			t.Errorf("the job loads with %s = %v, less than %v", d.name, d.d, d.min)
		}
	}
	if job.Notify.Tail < 1 || job.Notify.Tail > supervisor.MaxTail || job.Log.MaxSize <= 0 || job.Log.Keep < 0 || job.RestartLimit.Burst < 1 {
		t.Errorf("the job loads with tail %d, log %+v, restart_limit %+v", job.Notify.Tail, job.Log, job.RestartLimit)
	}
	for _, d := range job.Notify.Telegram {
		if supervisor.CheckChatID(d.ChatID) != nil || d.ThreadID < 0 {
			t.Errorf("the job loads with a destination %+v", d)
		}
	}
	if hb := job.Heartbeat; hb != nil {
		if hb.Every <= 0 || hb.Grace < 0 || hb.Limit() < hb.Every || hb.Limit() < hb.Grace || hb.OutputMatch != nil && !hb.Output {
			t.Errorf("the job loads with a heartbeat every %v, grace %v (late after %v), output %v", hb.Every, hb.Grace, hb.Limit(), hb.Output)
		}
	}
	if job.Schedule == nil {
		if job.Timezone != "" || job.Jitter != 0 || job.CatchUp || job.ExpectSuccessWithin != 0 {
			t.Errorf("a job without a schedule loads with the keys of one: %+v", job)
		}
		return
	}
	if job.Restart != supervisor.RestartNever {
		t.Errorf("a scheduled job loads with restart %q", job.Restart)
	}
	now := time.Now()
	if next := job.Schedule.Next(now); !next.After(now) {
		t.Errorf("the schedule %q is next due at %v, not after now (%v)", job.Schedule, next, now)
	}
}

// checkProblems fails t unless err, the error of loading the file at path with
// data, says each problem on a line of its own, "path:LINE: what" or "path: what",
// with a line that is in the file.
func checkProblems(t *testing.T, path string, data []byte, err error) {
	t.Helper()
	lines := bytes.Count(data, []byte("\n")) + 1
	for _, l := range strings.Split(err.Error(), "\n") {
		rest, ok := strings.CutPrefix(l, path+":")
		if !ok {
			t.Fatalf("a line of the error does not name the file %s: %q\nthe error: %v", path, l, err)
		}
		if digits := len(rest) - len(strings.TrimLeft(rest, "0123456789")); digits > 0 && strings.HasPrefix(rest[digits:], ":") {
			n, _ := strconv.Atoi(rest[:digits])
			if n < 1 || n > lines {
				t.Fatalf("the error names line %d of a file of %d lines: %q", n, lines, l)
			}
			rest = rest[digits+1:]
		}
		if !strings.HasPrefix(rest, " ") || strings.TrimSpace(rest) == "" {
			t.Fatalf("a line of the error says nothing: %q\nthe error: %v", l, err)
		}
	}
}

// shellWords reads back what Job.Display shows of an argv: words parted by one
// space, each as it is or in single quotes, out of which a quote of its own is
// escaped with a backslash.
func shellWords(s string) []string {
	var words []string
	var w strings.Builder
	word, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted && c == '\'':
			quoted = false
		case quoted:
			w.WriteByte(c)
		case c == '\'':
			quoted, word = true, true
		case c == '\\' && i+1 < len(s):
			i++
			w.WriteByte(s[i])
			word = true
		case c == ' ':
			if word {
				words = append(words, w.String())
			}
			w.Reset()
			word = false
		default:
			w.WriteByte(c)
			word = true
		}
	}
	if word {
		words = append(words, w.String())
	}
	return words
}

// fuzzToken is the bot token of FuzzLoadConfig: no 8 bytes of it are in any message
// of LoadConfig's own, such as its example token "123456:ABC-def".
const fuzzToken = "8675309:QXy-Zk_fuzz_only_secret"

// tokenLine matches a line that sets the token, as LoadConfig's own tokenKey does.
var tokenLine = regexp.MustCompile(`\btoken\s*=`)

// FuzzLoadConfig checks what holds for any config file, in which TOKEN stands for a
// bot token: one that does not load says what is wrong as a job file does, and never
// shows the token, not even part of it; one that loads is consistent.
func FuzzLoadConfig(f *testing.F) {
	f.Add([]byte("[telegram]\ntoken = \"TOKEN\"\nchat_id = 42\n"))
	f.Add([]byte("[telegram]\ntoken = TOKEN\n"))
	f.Add([]byte("[telegram]\ntoken = \"TOKEN\"\nchat_id = \"TOKEN\"\n")) // chat_id's error quoted it
	path := filepath.Join(f.TempDir(), "config.toml")
	f.Fuzz(func(t *testing.T, data []byte) {
		text := bytes.ReplaceAll(data, []byte("TOKEN"), []byte(fuzzToken))
		// 0600, as a file that holds a token must be; an existing file keeps it.
		if err := os.WriteFile(path, text, 0o600); err != nil {
			t.Fatal(err)
		}
		var cfg *supervisor.Config
		var err error
		testkit.Within(t, hangLimit, "LoadConfig", func() { cfg, err = supervisor.LoadConfig(path) })
		if err != nil {
			checkProblems(t, path, text, err)
			if holdsToken(text) {
				for i := 0; i+8 <= len(fuzzToken); i++ {
					// A part of the token that the input did not have otherwise.
					if part := fuzzToken[i : i+8]; strings.Contains(err.Error(), part) && !bytes.Contains(data, []byte(part)) {
						t.Fatalf("the error shows %q of the token: %v", part, err)
					}
				}
			}
			return
		}
		if cfg.File != path {
			t.Errorf("File = %q, want %q", cfg.File, path)
		}
		if tf, ok := cfg.Telegram["token_file"]; ok && !filepath.IsAbs(tf) {
			t.Errorf("token_file %q is not made absolute", tf)
		}
		_, token := cfg.Telegram["token"]
		_, tokenFile := cfg.Telegram["token_file"]
		_, chat := cfg.Telegram["chat_id"]
		if token && tokenFile || chat && len(cfg.Destinations) > 0 || cfg.Commands && len(cfg.Allow) == 0 {
			t.Errorf("the config loads with settings that contradict each other: %+v", cfg)
		}
		for k := range cfg.Telegram {
			if where := cfg.Where("telegram." + k); !strings.HasPrefix(where, path+":") {
				t.Errorf("Where(telegram.%s) = %q, not in %s", k, where, path)
			}
		}
		for _, d := range cfg.Destinations {
			if supervisor.CheckChatID(d.ChatID) != nil || d.ThreadID < 0 {
				t.Errorf("the config loads with a destination %+v", d)
			}
		}
	})
}

// holdsToken reports whether text, a config file with fuzzToken in it, gives the
// token as a token: as the value of [telegram] token when it is TOML; else (an error
// has no value to go by) when every line it is on sets the token, and none is in a
// string of several lines.
func holdsToken(text []byte) bool {
	var top struct {
		Telegram map[string]any `toml:"telegram"`
	}
	if _, err := toml.Decode(string(text), &top); err == nil {
		return top.Telegram["token"] == fuzzToken
	}
	if bytes.Contains(text, []byte(`"""`)) || bytes.Contains(text, []byte(`'''`)) {
		return false
	}
	for _, l := range strings.Split(string(text), "\n") {
		if strings.Contains(l, fuzzToken) && !tokenLine.MatchString(l) {
			return false
		}
	}
	return true
}

// scheduleZones are the zones FuzzParseSchedule reads schedules in: nil for the
// host's, and zones whose clocks change by an hour, by half an hour, at midnight, or
// not at all.
var scheduleZones = []string{"", "UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe",
	"Pacific/Chatham", "America/Santiago", "America/Havana", "Asia/Kolkata"}

// FuzzParseSchedule checks what holds for any schedule, read in one of
// scheduleZones: one that does not parse says it is not a schedule, quoting itself;
// one that does comes due after any time from 2000 to 2090 (a schedule of 29
// February waits eight years across 2100, more than robfig looks ahead), its due
// times are a fixed set (Next of any time before the next due time is that time), and
// Missed counts them.
func FuzzParseSchedule(f *testing.F) {
	locs := make([]*time.Location, len(scheduleZones))
	for i, z := range scheduleZones[1:] {
		loc, err := time.LoadLocation(z)
		if err != nil {
			f.Fatal(err)
		}
		locs[i+1] = loc
	}
	f.Add("30 2 * * *", uint8(3), int64(0))
	f.Add("@every 2000000h", uint8(0), int64(0)) // two intervals overflow a Duration: Missed counted one
	f.Fuzz(func(t *testing.T, spec string, zone uint8, at int64) {
		loc := locs[int(zone)%len(locs)]
		var s supervisor.Schedule
		var err error
		testkit.Within(t, hangLimit, "ParseSchedule", func() { s, err = supervisor.ParseSchedule(spec, loc) })
		if err != nil {
			if want := fmt.Sprintf("%q is not a schedule: ", strings.TrimSpace(spec)); !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("the error %q does not start %q", err, want)
			}
			return
		}
		if s.String() != strings.TrimSpace(spec) {
			t.Fatalf("%q parses as %q", spec, s)
		}
		const span = 90 * 365 * 24 * time.Hour
		from := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(uint64(at) % uint64(span)))
		var next, after time.Time
		testkit.Within(t, hangLimit, "Next", func() { next, after = s.Next(from), s.Next(s.Next(from)) })
		if !next.After(from) || !after.After(next) {
			t.Fatalf("%q in %v: Next(%v) = %v, then %v", spec, loc, from, next, after)
		}
		if !strings.HasPrefix(s.String(), "@every") { // which counts from the time it is given
			for _, x := range []time.Time{from.Add(next.Sub(from) / 2), next.Add(-time.Nanosecond)} {
				if got := s.Next(x); !x.Before(from) && !got.Equal(next) {
					t.Fatalf("%q in %v: Next(%v) = %v, but Next(%v) = %v", spec, loc, from, next, x, got)
				}
			}
		}
		var count int
		var latest time.Time
		testkit.Within(t, hangLimit, "Missed", func() { count, latest = supervisor.Missed(s, from, after) })
		if count != 2 || !latest.Equal(after) {
			t.Fatalf("%q in %v: Missed from %v to %v = %d, latest %v; want 2, latest %v (due at %v and then)",
				spec, loc, from, after, count, latest, after, next)
		}
	})
}

// FuzzPingHandler checks what holds for any request to the ping URLs, as the server
// reads it off the wire: the answer is one the handler gives; a ping is taken only by
// the job named, with a suffix the handler knows, and its body, trimmed and cut to
// MaxPingMessage, is the job's last message.
func FuzzPingHandler(f *testing.F) {
	pulse := supervisor.NewPulse()
	h := supervisor.PingHandler(func(name string) *supervisor.Pulse {
		if name == "backup" {
			return pulse
		}
		return nil
	})
	f.Add("POST", "/ping/backup/fail", []byte("disk full\n"))
	f.Add("GET", "/ping/backup/0", []byte(nil))
	f.Add("HEAD", "/ping/back%75p/start", []byte(nil))
	f.Fuzz(func(t *testing.T, method, target string, body []byte) {
		req := readRequest(method, target, body)
		if req == nil {
			return // the server answers 400 itself
		}
		rec := httptest.NewRecorder()
		testkit.Within(t, hangLimit, "the ping handler", func() { h.ServeHTTP(rec, req) })
		checkPing(t, req, rec, body, pulse)
	})
}

// readRequest reads a request as an HTTP server does off the wire, or returns nil
// when it is not one.
func readRequest(method, target string, body []byte) *http.Request {
	head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n", method, target, len(body))
	req, err := http.ReadRequest(bufio.NewReader(io.MultiReader(strings.NewReader(head), bytes.NewReader(body))))
	if err != nil {
		return nil
	}
	return req
}

// exitStatus matches an exit status a ping may report, written as Go writes it.
var exitStatus = regexp.MustCompile(`^(0|[1-9][0-9]?|1[0-9][0-9]|2[0-4][0-9]|25[0-5])$`)

// checkPing fails t unless rec is what the ping handler must answer to req, whose
// body was body, with pulse the only job's, "backup". The handler reads the path in
// healthchecks' forms (/ping/JOB[/SUFFIX], /ping/KEY/JOB[/SUFFIX]), so what holds of
// any request is: an answer the handler gives; 405 for a method it does not take; 200
// only for a ping that names backup; and a body so taken is the job's message.
func checkPing(t *testing.T, req *http.Request, rec *httptest.ResponseRecorder, body []byte, pulse *supervisor.Pulse) {
	t.Helper()
	code, what := rec.Code, fmt.Sprintf("%s %q", req.Method, req.RequestURI)
	if code/100 == 3 && rec.Header().Get("Location") != "" {
		return // the mux sends a path that is not clean to its clean form
	}
	switch code {
	case http.StatusOK, http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed:
	default:
		t.Fatalf("%s: %d %q", what, code, rec.Body)
	}
	methodOK := req.Method == http.MethodGet || req.Method == http.MethodHead || req.Method == http.MethodPost
	if code == http.StatusMethodNotAllowed && methodOK || code == http.StatusOK && !methodOK {
		t.Fatalf("%s: %d for that method", what, code)
	}
	if code != http.StatusOK {
		return
	}
	segments := strings.Split(strings.TrimPrefix(req.URL.Path, "/ping/"), "/")
	if !strings.HasPrefix(req.URL.Path, "/ping/") || len(segments) > 3 || !slices.Contains(segments, "backup") {
		t.Fatalf("%s: 200 for a ping of no job", what)
	}
	msg := strings.TrimSpace(string(body))
	if got := pulse.State().Message; len(body) <= supervisor.MaxPingMessage && msg != "" && got != msg {
		t.Fatalf("%s with body %q: the job's message is %q", what, body, got)
	}
}
