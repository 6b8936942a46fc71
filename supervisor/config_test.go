package supervisor_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/supervise/supervise/supervisor"
)

func TestParseFullJob(t *testing.T) {
	t.Parallel()
	const file = `
name = "nightly-backup"
command = ["/usr/local/bin/backup.sh", "--full"]
dir = "/srv"
env = { PGHOST = "db", EMPTY = "" }
pty = false
timeout = "2h"
stop_signal = "INT"
stop_timeout = "30s"
restart = "on-failure"
backoff = { initial = "2s", max = "5m" }
restart_limit = { burst = 3, within = "10m" }
healthy_after = "1m"
log = { max_size = "1MB", keep = 2 }

[notify]
on = ["failure", "success"]
tail = 10
attach = "never"
`
	got, err := supervisor.Parse("jobs.d/backup.toml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	want := &supervisor.Job{
		Name:        "nightly-backup",
		File:        "jobs.d/backup.toml",
		Command:     []string{"/usr/local/bin/backup.sh", "--full"},
		Display:     "/usr/local/bin/backup.sh --full",
		Dir:         "/srv",
		Env:         map[string]string{"PGHOST": "db", "EMPTY": ""},
		PTY:         false,
		Timeout:     2 * time.Hour,
		StopSignal:  syscall.SIGINT,
		StopTimeout: 30 * time.Second,
		Notify:      supervisor.Notify{On: []supervisor.Kind{"failure", "success"}, Tail: 10, Attach: supervisor.AttachNever},

		Restart:      supervisor.RestartOnFailure,
		Backoff:      supervisor.Backoff{Initial: 2 * time.Second, Max: 5 * time.Minute},
		RestartLimit: supervisor.RestartLimit{Burst: 3, Within: 10 * time.Minute},
		HealthyAfter: time.Minute,
		Log:          supervisor.Log{MaxSize: 1 << 20, Keep: 2},
		Overlap:      supervisor.OverlapSkip,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestParseDefaults(t *testing.T) {
	t.Parallel()
	got, err := supervisor.Parse("jobs.d/report.toml", []byte(`command = "pg_dump db | gzip > /tmp/db.gz"`))
	if err != nil {
		t.Fatal(err)
	}
	want := supervisor.NewJob("report", "/bin/sh", "-c", "pg_dump db | gzip > /tmp/db.gz")
	want.File, want.Display = "jobs.d/report.toml", "pg_dump db | gzip > /tmp/db.gz"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestParseDottedNotify(t *testing.T) {
	t.Parallel()
	got, err := supervisor.Parse("x.toml", []byte("command = \"true\"\nnotify.on = [\"success\"]\nnotify.tail = 3"))
	if err != nil {
		t.Fatal(err)
	}
	if want := (supervisor.Notify{On: []supervisor.Kind{supervisor.KindSuccess}, Tail: 3, Attach: supervisor.AttachAuto}); !reflect.DeepEqual(got.Notify, want) {
		t.Errorf("Notify = %+v, want %+v", got.Notify, want)
	}
}

// A shell script of several lines shows on one line, in messages and in listings.
func TestParseScriptDisplay(t *testing.T) {
	t.Parallel()
	got, err := supervisor.Parse("x.toml", []byte("command = \"\"\"\necho a\n  if true; then echo b; fi\n\nwhile :; do\n  sleep 1\ndone | cat\nexit 3\n\"\"\""))
	if err != nil {
		t.Fatal(err)
	}
	if want := "echo a; if true; then echo b; fi; while :; do sleep 1; done | cat; exit 3"; got.Display != want {
		t.Errorf("Display = %q, want %q", got.Display, want)
	}
	if got.Command[2] != "echo a\n  if true; then echo b; fi\n\nwhile :; do\n  sleep 1\ndone | cat\nexit 3\n" {
		t.Errorf("Command = %q, want the script as written", got.Command)
	}
}

func TestParseRelativeDir(t *testing.T) {
	t.Parallel()
	got, err := supervisor.Parse("jobs.d/x.toml", []byte("command = [\"true\"]\ndir = \"data\""))
	if err != nil {
		t.Fatal(err)
	}
	if got.Dir != filepath.Join("jobs.d", "data") {
		t.Errorf("Dir = %q, want it relative to the job file", got.Dir)
	}
}

// Every problem of a file is reported at once, each with the file, line and key.
func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, file string
		want       []string // one line each, in order
	}{
		{"all at once", `command = []
timeout = 5
stop_signal = "TREM"
Timeout = "5m"
pty = "yes"

[notify]
on = ["failure", "sucess"]
tail = "40"
colour = true
`, []string{
			`x.toml:1: command: is empty`,
			`x.toml:2: timeout: 5 has no unit`,
			`x.toml:3: stop_signal: unknown signal "TREM"`,
			`x.toml:4: Timeout: unknown key`,
			`x.toml:5: pty: must be true or false, not a string`,
			`x.toml:8: notify.on: unknown event "sucess"`,
			`x.toml:9: notify.tail: must be a whole number of lines, not a string`,
			`x.toml:10: notify.colour: unknown key`,
		}},
		{"missing command", `timeout = "5m"`, []string{`x.toml: command: is required`}},
		{"syntax", "command = [\"a\"\ntimeout = ", []string{`x.toml:2: `}},
		// BurntSushi/toml says line 1 (0 on the first line): found by FuzzParse.
		// BurntSushi/toml quotes "0b\n" with its newline: found by FuzzParse.
		{"syntax quoting a line's end", "command = \"true\"\nx = 0b\ny = 1\n", []string{`x.toml:2: not a binary number: '0b\n'`}},
		// Such a job would load, and fail at every start: found with a seed of FuzzParse.
		{"NUL bytes", "command = [\"/bin/echo\", \"a\\u0000b\"]\ndir = \"\\u0000\"\nenv = { A = \"\\u0000\" }\n", []string{
			`x.toml:1: command: element 2 holds a NUL byte ("\u0000"), which no program can be given`,
			`x.toml:2: dir: holds a NUL byte`,
			`x.toml:3: env: A holds a NUL byte`,
		}},
		{"NUL in a script", "command = \"echo \\u0000\"\n", []string{`x.toml:1: command: holds a NUL byte`}},
		{"string cut by CRLF", "command = \"true\"\r\ndir = \"/srv\r\n\"\r\n", []string{`x.toml:2: strings cannot contain newlines`}},
		{"bad duration", `command = "true"
timeout = "5 minutes"
stop_timeout = "-1s"`, []string{
			`x.toml:2: timeout: "5 minutes" is not a duration`,
			`x.toml:3: stop_timeout: "-1s" must be more than zero`,
		}},
		{"string duration without unit", "command = \"true\"\ntimeout = \"30\"", []string{`x.toml:2: timeout: "30" has no unit`}},
		{"command types", "command = [\"a\", 1]", []string{`x.toml:1: command: element 2 must be a string, not an integer`}},
		{"command table", "command = { a = 1 }", []string{`x.toml:1: command: must be a string (run by /bin/sh -c) or an array of strings`}},
		{"blank command", "command = \"  \"", []string{`x.toml:1: command: is empty`}},
		{"env", "command = \"true\"\nenv = { A = 1 }", []string{`x.toml:2: env: A must be a string, not an integer`}},
		{"notify not a table", "command = \"true\"\nnotify = \"failure\"", []string{`x.toml:2: notify: must be a table`}},
		{"schedule keys", "command = \"true\"\nschedule = \"0 3 * *\"\ntimezone = \"Mars/Olympus\"\noverlap = \"sometimes\"\njitter = 30\ncatch_up = \"yes\"", []string{
			`x.toml:2: schedule: "0 3 * *" is not a schedule: expected exactly 5 fields, found 4`,
			`x.toml:3: timezone: "Mars/Olympus" is not a time zone known here`,
			`x.toml:4: overlap: "sometimes" is not an overlap policy (use skip, queue or kill)`,
			`x.toml:5: jitter: 30 has no unit`,
			`x.toml:6: catch_up: must be true or false, not a string`,
		}},
		{"keys of schedules without one", "command = \"true\"\ntimezone = \"UTC\"\njitter = \"1m\"\ncatch_up = true\nexpect_success_within = \"1h\"\noverlap = \"kill\"", []string{
			`x.toml:2: timezone: applies only to a scheduled job: set schedule too`,
			`x.toml:3: jitter: applies only to a scheduled job`,
			`x.toml:4: catch_up: applies only to a scheduled job`,
			`x.toml:5: expect_success_within: applies only to a scheduled job`,
			`x.toml:6: overlap: applies only to a scheduled job`,
		}},
		{"restart of a scheduled job", "command = \"true\"\nschedule = \"@daily\"\nrestart = \"always\"\nschedule_x = 1", []string{
			`x.toml:3: restart: does not apply to a scheduled job`,
			`x.toml:4: schedule_x: unknown key`,
		}},
		{"jitter over the interval", "command = \"true\"\nschedule = \"@every 1m\"\njitter = \"1m\"", []string{`x.toml:3: jitter: 1m0s is not less than the 1m0s between runs of "@every 1m"`}},
		{"destinations", "command = \"true\"\n[[notify.telegram]]\nchat_id = \"oops\"\nthread_id = 0\ncolor = \"red\"\n[[notify.telegram]]\nsilent = true\nquiet_hours = \"late\"\non = [\"failure\", \"faliure\"]", []string{
			`x.toml:6: notify.telegram: table 1: chat_id: "oops" is neither a chat number nor an @channel name`,
			`x.toml:6: notify.telegram: table 1: color: unknown key`,
			`x.toml:6: notify.telegram: table 1: thread_id: must be a forum topic's number, not 0`,
			`x.toml:6: notify.telegram: table 2: on: unknown event "faliure"`,
			`x.toml:6: notify.telegram: table 2: quiet_hours: "late" is not a span of hours`,
			`x.toml:6: notify.telegram: table 2: chat_id: is required`,
		}},
		{"empty schedule", "command = \"true\"\nschedule = \" \"", []string{`x.toml:2: schedule: is empty`}},
		{"heartbeat", "command = \"true\"\n[heartbeat]\nevery = 5\ngrace = \"-1s\"\naction = \"reboot\"\noutput = \"yes\"\noutput_match = \"(\"\nping = true", []string{
			`x.toml:3: heartbeat.every: 5 has no unit`,
			`x.toml:4: heartbeat.grace: "-1s" must be more than zero`,
			`x.toml:5: heartbeat.action: "reboot" is not a heartbeat action (use alert or restart)`,
			`x.toml:6: heartbeat.output: must be true or false, not a string`,
			"x.toml:7: heartbeat.output_match: \"(\" is not a regular expression: missing closing ): `(`",
			`x.toml:8: heartbeat.ping: unknown key`,
		}},
		{"heartbeat without every", "command = \"true\"\n[heartbeat]\ngrace = \"1m\"", []string{
			`x.toml:2: heartbeat.every: is required`,
		}},
		{"heartbeat output off but matching", "command = \"true\"\n[heartbeat]\nevery = \"1m\"\noutput = false\noutput_match = \"ok\"", []string{
			`x.toml:4: heartbeat.output: is false, but output_match "ok" makes matching lines count`,
		}},
		{"min_runtime", "command = \"true\"\nmin_runtime = \"0s\"", []string{`x.toml:2: min_runtime: "0s" must be more than zero`}},
		{"restarts", "command = \"true\"\nrestart = \"sometimes\"\nbackoff = { initial = \"2m\", max = \"1m\" }\nrestart_limit = { burst = 0, within = 60 }\nhealthy_after = \"\"", []string{
			`x.toml:2: restart: "sometimes" is not a restart policy`,
			`x.toml:3: backoff: initial 2m0s is more than max 1m0s`,
			`x.toml:4: restart_limit.burst: must be a whole number of restarts from 1 to 1000, not 0`,
			`x.toml:4: restart_limit.within: 60 has no unit`,
			`x.toml:5: healthy_after: "" is not a duration`,
		}},
		{"bad name", "name = \"../etc\"\ncommand = \"true\"", []string{`x.toml:1: name: "../etc" is not a valid job name`}},
		{"dotted keys", "command = \"true\"\nnotify.colour = 1\nheartbeat.evry = \"5m\"\nextra.x = 1", []string{
			`x.toml:2: notify.colour: unknown key`,
			`x.toml:3: heartbeat.evry: unknown key`,
			`x.toml:3: heartbeat.every: is required`,
			`x.toml:4: extra: unknown key`,
		}},
		{"tail range", "command = \"true\"\n[notify]\ntail = 0", []string{`x.toml:3: notify.tail: 0 is out of range 1..10000`}},
		{"log", "command = \"true\"\nlog = { max_size = 10, keep = -1 }", []string{
			`x.toml:2: log.keep: must be a whole number of old files from 0 to 100, not -1`,
			`x.toml:2: log.max_size: must be a size string like "10MB", not an integer`,
		}},
		{"events", "command = \"true\"\n[notify]\non = [\"heartbeat\", \"heartbaet\"]", []string{`x.toml:3: notify.on: unknown event "heartbaet"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := supervisor.Parse("x.toml", []byte(tc.file))
			if err == nil {
				t.Fatal("no error")
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(lines), len(tc.want), err)
			}
			for i, want := range tc.want {
				if !strings.HasPrefix(lines[i], want) {
					t.Errorf("problem %d = %q, want prefix %q", i+1, lines[i], want)
				}
			}
		})
	}
}

func TestBadFileName(t *testing.T) {
	t.Parallel()
	_, err := supervisor.Parse("jobs.d/my job.toml", []byte(`command = "true"`))
	if err == nil || !strings.Contains(err.Error(), "set name") {
		t.Errorf("err = %v, want advice to set name", err)
	}
}

func TestLoadDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.toml", `command = "true"`)
	write("b.toml", `command = 1`)
	write("c.toml", "name = \"a\"\ncommand = \"true\"")
	write("notes.txt", "not a job")
	jobs, err := supervisor.LoadDir(dir)
	if len(jobs) != 1 || jobs[0].Name != "a" {
		t.Errorf("jobs = %v, want only a", jobs)
	}
	msg := err.Error()
	if !strings.Contains(msg, "b.toml:1: command:") || !strings.Contains(msg, `c.toml: name: job "a" is already defined`) {
		t.Errorf("err = %v, want b's problem and c's duplicate name", err)
	}
	if _, err := supervisor.LoadDir(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Errorf("missing dir: err = %v", err)
	}
}

func TestCheckName(t *testing.T) {
	t.Parallel()
	for name, valid := range map[string]bool{
		"backup": true, "db-backup.v2": true, "A_1": true, "9lives": true,
		"": false, ".hidden": false, "-flag": false, "_x": false, "a b": false, "a/b": false,
		"../etc": false, "ünïcode": false, strings.Repeat("a", 101): false,
	} {
		if err := supervisor.CheckName(name); (err == nil) != valid {
			t.Errorf("CheckName(%q) = %v, want valid %v", name, err, valid)
		}
	}
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"10MB": 10 << 20, "512KB": 512 << 10, "1GiB": 1 << 30, "100B": 100, "2M": 2 << 20, " 3 MB ": 3 << 20} {
		if got, err := supervisor.ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"10", "", "MB", "-1MB", "1.5MB", "10 potatoes", "9007199254740992KB"} { // the last would wrap below zero
		if _, err := supervisor.ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) is no error", in)
		}
	}
}

// A job's own chats: each with its topic, sound, events and quiet hours. Which of
// them gets what is the notifier's to say (notifier/filter_test.go).
func TestParseDestinations(t *testing.T) {
	t.Parallel()
	job, err := supervisor.Parse("x.toml", []byte(`command = "true"
[notify]
on = ["failure"]
[[notify.telegram]]
chat_id = -1001234567890
thread_id = 7
[[notify.telegram]]
chat_id = "@ops_log"
silent = true
on = ["success"]
quiet_hours = "22:30-07:00"
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []supervisor.Destination{
		{ChatID: "-1001234567890", ThreadID: 7},
		{ChatID: "@ops_log", Silent: true, On: []supervisor.Kind{supervisor.KindSuccess},
			Quiet: supervisor.Quiet{From: 22*time.Hour + 30*time.Minute, To: 7 * time.Hour}},
	}
	if !reflect.DeepEqual(job.Notify.Telegram, want) {
		t.Fatalf("destinations %+v, want %+v", job.Notify.Telegram, want)
	}
	quiet := want[1].Quiet
	for clock, in := range map[string]bool{"22:29": false, "22:30": true, "03:00": true, "06:59": true, "07:00": false, "12:00": false} {
		at, _ := time.Parse("15:04", clock)
		if quiet.Has(at) != in {
			t.Errorf("quiet hours 22:30-07:00 at %s: %v, want %v", clock, !in, in)
		}
	}
}

// Quiet hours read the clock, also on the days clocks change.
func TestQuietAcrossDST(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no zone data:", err)
	}
	for _, tc := range []struct {
		quiet supervisor.Quiet
		at    time.Time
		want  bool
	}{
		{supervisor.Quiet{From: 22 * time.Hour, To: 3 * time.Hour}, time.Date(2026, 3, 29, 3, 30, 0, 0, berlin), false},
		{supervisor.Quiet{From: 22 * time.Hour, To: 7 * time.Hour}, time.Date(2026, 10, 25, 6, 30, 0, 0, berlin), true},
		{supervisor.Quiet{From: 8 * time.Hour, To: 9 * time.Hour}, time.Date(2026, 10, 25, 8, 30, 0, 0, berlin), true},
	} {
		if got := tc.quiet.Has(tc.at); got != tc.want {
			t.Errorf("%v at %s: %v, want %v", tc.quiet, tc.at, got, tc.want)
		}
	}
}
