package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/supervise/supervise/internal/testkit"
	"github.com/supervise/supervise/notifier/telegramtest"
)

// The fault suite's rows for what stands in the state folder in place of a file of
// supervise's: the real `supervise run` and `up`, against the fake Bot API.

var (
	spoolEntriesRow = testkit.FaultRow{
		Fault:   "a FIFO, socket, directory, symbolic link, or an empty, garbage, truncated or oversized file named as a message in STATE/spool",
		Outcome: "`run` and `up` never wait on it: it is set aside as NAME.bad and named once on stderr with what is wrong; the messages around it and the new alert go, in order",
		Lost:    "nothing",
	}
	runsEntriesRow = testkit.FaultRow{
		Fault:   "the same as STATE/runs/JOB.json, or in the way of its new file",
		Outcome: "up never waits on it: JOB.json is set aside as JOB.json.bad and named once on stderr, a leftover new file replaced; the job runs on its schedule, counting from now",
		Lost:    "nothing; a downtime before it is not told as missed runs",
	}
	logEntriesRow = testkit.FaultRow{
		Fault:   "a FIFO, socket, directory or symbolic link as STATE/logs/JOB.log",
		Outcome: "up and `supervise logs` never wait on it: it is set aside as JOB.log.bad and named once on stderr; the log begins anew",
		Lost:    "nothing",
	}
	incidentsEntriesRow = testkit.FaultRow{
		Fault:   "the same as STATE/incidents.json",
		Outcome: "it is set aside as incidents.json.bad and named once on stderr; the alert goes, opening a new incident",
		Lost:    "nothing; an incident open in it gets a new message, not a reply",
	}
)

// stateRun is what one supervise did, for the fault suite to look into.
type stateRun struct {
	status         int
	stdout, stderr string
}

// superviseIn runs supervise with args, state as its state folder and srv as its Bot
// API (chat, when not empty, for its chat), and fails t when it has not exited
// within 30 seconds: nothing in the state folder may make it wait.
func superviseIn(t *testing.T, srv *telegramtest.Server, state, chat string, args ...string) stateRun {
	t.Helper()
	cmd := quiet(command(t, args...))
	cmd.Env = append(cmd.Env, botEnv(srv)...)
	cmd.Env = append(cmd.Env, "SUPERVISE_STATE_DIR="+state)
	if chat != "" {
		cmd.Env = append(cmd.Env, "SUPERVISE_TELEGRAM_CHAT_ID="+chat)
	}
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
		return stateRun{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("supervise %q has not exited within 30s; stderr:\n%s", args, stderr.String())
		return stateRun{}
	}
}

// outputs are the outputs of runs, and the bytes of the state folder, for the token to
// be looked for in.
func outputs(t *testing.T, state string, runs ...stateRun) [][]byte {
	out := [][]byte{testkit.Tree(t, state)}
	for _, r := range runs {
		out = append(out, []byte(r.stdout), []byte(r.stderr))
	}
	return out
}

// spoolTwo leaves the failures of jobs spooled-one and spooled-two in state's spool,
// as a chat Telegram does not know leaves them, and returns the spool's files.
func spoolTwo(t *testing.T, srv *telegramtest.Server, state string) []string {
	t.Helper()
	for _, job := range []string{"spooled-one", "spooled-two"} {
		r := superviseIn(t, srv, state, "777", "run", "--name", job, "--", "sh", "-c", "exit 2")
		if r.status != 2 || !strings.Contains(r.stderr, "it is kept in") {
			t.Fatalf("%s: status %d, want 2, and the message kept; stderr:\n%s", job, r.status, r.stderr)
		}
	}
	names, err := filepath.Glob(filepath.Join(state, "spool", "*.json"))
	if err != nil || len(names) != 2 {
		t.Fatalf("spooled %v, %v; want two messages", names, err)
	}
	return names
}

// setAside is an entry made in the state folder, as it was.
type setAside struct {
	path, why, print string
}

// spoolEntries makes every kind of entry that is no message in state's spool, each
// before the spooled messages or between them (first is the oldest's file).
func spoolEntries(t *testing.T, first string) []setAside {
	t.Helper()
	good, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	var made []setAside
	// Too big by a byte; the notifier's own test has one past the whole spool's size.
	for i, e := range append(testkit.NotRegular(), testkit.Garbage(good, 16<<20)...) {
		path := filepath.Join(filepath.Dir(first), "00000000000000000001-"+e.Name+".json")
		if i%2 == 1 {
			path = strings.TrimSuffix(first, ".json") + "~" + e.Name + ".json"
		}
		e.Make(t, path)
		made = append(made, setAside{path, e.Why, testkit.Fingerprint(t, path)})
	}
	return made
}

// checkSetAside checks that each entry of made is now at NAME.bad, all of it, and
// that stderr named it, with what is wrong with it, once.
func checkSetAside(t *testing.T, stderr string, made []setAside) {
	t.Helper()
	for _, m := range made {
		if n := strings.Count(stderr, m.path+": "+m.why); n != 1 || !strings.Contains(stderr, "set aside as "+filepath.Base(m.path)+".bad") {
			t.Errorf("stderr names %s as %q %d times, want once, saying where it is set aside", m.path, m.why, n)
		}
		if got := testkit.Fingerprint(t, m.path+".bad"); got != m.print {
			t.Errorf("%s.bad holds %s, want what was set aside: %s", m.path, got, m.print)
		}
	}
	if t.Failed() {
		t.Logf("stderr:\n%s", stderr)
	}
}

// checkOrder checks that srv got a message about each job, in the order given.
func checkOrder(t *testing.T, srv *telegramtest.Server, jobs ...string) {
	t.Helper()
	var order []string
	for _, m := range srv.Messages() {
		for _, job := range jobs {
			if strings.Contains(m.Text, job) {
				order = append(order, job)
			}
		}
	}
	if strings.Join(order, " ") != strings.Join(jobs, " ") {
		t.Errorf("the chat got messages about %v, want one about each of %v, in order", order, jobs)
	}
}

// A FIFO named as a message in the spool made `supervise run` hang for ever (the
// flush read it); a folder was skipped by every flush, garbage deleted. Each is now
// set aside, with all it holds, and named once; what is around it goes, in order.
func TestFaultSpoolEntriesRun(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	state := t.TempDir()
	made := spoolEntries(t, spoolTwo(t, srv, state)[0])

	first := superviseIn(t, srv, state, "", "run", "--name", "the-alert", "--", "sh", "-c", "exit 1")
	if first.status != 1 {
		t.Errorf("status %d, want the job's 1", first.status)
	}
	checkOrder(t, srv, "spooled-one", "spooled-two", "the-alert")
	checkSetAside(t, first.stderr, made)

	// Set aside, it is named no more.
	second := superviseIn(t, srv, state, "", "run", "--name", "the-next", "--", "sh", "-c", "exit 1")
	if second.status != 1 || strings.Contains(second.stderr, "set aside") {
		t.Errorf("the next run: status %d, stderr:\n%s", second.status, second.stderr)
	}
	checkOrder(t, srv, "spooled-one", "spooled-two", "the-alert", "the-next")
	testkit.Fault(t, spoolEntriesRow, tgToken, outputs(t, state, first, second)...)
}

// up's first flush reads the spool before any job's alert: what is no message there
// is set aside as run sets it aside, and the alert goes after the spooled messages.
func TestFaultSpoolEntriesUp(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	state := t.TempDir()
	made := spoolEntries(t, spoolTwo(t, srv, state)[0])
	jobs := t.TempDir()
	writeFile(t, jobs, "the-alert.toml", "command = \"echo boom; exit 3\"\nrestart = \"never\"\n")

	cmd := quiet(upCommand(t, jobs))
	cmd.Env = append(cmd.Env, botEnv(srv)...)
	cmd.Env = append(cmd.Env, "SUPERVISE_STATE_DIR="+state)
	cmd, stdout, stderr := start(t, cmd)
	testkit.EventuallyWithin(t, 30*time.Second, "the spooled messages and the alert delivered", func() bool { return len(srv.Messages()) >= 3 })
	stopUp(t, cmd, stderr)
	checkOrder(t, srv, "spooled-one", "spooled-two", "the-alert")
	checkSetAside(t, stderr.String(), made)
	testkit.Fault(t, spoolEntriesRow, tgToken, outputs(t, state, stateRun{0, stdout.String(), stderr.String()})...)
}

// stopUp stops up with SIGTERM, and fails t unless it exits 0 within 30 seconds.
func stopUp(t *testing.T, cmd *exec.Cmd, stderr *syncBuffer) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("up exits with %v after SIGTERM, want 0; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("up has not stopped within 30s of SIGTERM; stderr:\n%s", stderr.String())
	}
}

// A FIFO as a scheduled job's STATE/runs/JOB.json, or as its new file, made up wait
// for ever in the job's first look at it, and a folder there made every save fail.
// Each is now set aside and named once, and the job runs on its schedule.
func TestFaultRunsEntries(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	state, jobs := t.TempDir(), t.TempDir()
	runs := filepath.Join(state, "runs")
	if err := os.Mkdir(runs, 0o700); err != nil {
		t.Fatal(err)
	}
	var made []setAside
	var names []string
	good := []byte(`{"schedule":"@every 500ms","due":"2025-01-02T03:04:00Z"}` + "\n")
	for _, e := range append(testkit.NotRegular(), testkit.Garbage(good, 64<<10)...) {
		job := "job-" + e.Name
		names = append(names, job)
		writeFile(t, jobs, job+".toml", "command = \"exit 3\"\nschedule = \"@every 500ms\"\n")
		path := filepath.Join(runs, job+".json")
		e.Make(t, path)
		made = append(made, setAside{path, e.Why, testkit.Fingerprint(t, path)})
	}
	// In the way of the new file a save writes, a FIFO blocked the write.
	names = append(names, "job-new")
	writeFile(t, jobs, "job-new.toml", "command = \"exit 3\"\nschedule = \"@every 500ms\"\n")
	if err := syscall.Mkfifo(filepath.Join(runs, "job-new.json.new"), 0o600); err != nil {
		t.Fatal(err)
	}

	upIn := func() (*exec.Cmd, *syncBuffer, *syncBuffer) {
		cmd := quiet(upCommand(t, jobs))
		cmd.Env = append(cmd.Env, botEnv(srv)...)
		cmd.Env = append(cmd.Env, "SUPERVISE_STATE_DIR="+state)
		return start(t, cmd)
	}
	cmd, stdout, stderr := upIn()
	testkit.EventuallyWithin(t, 30*time.Second, "every job's failure told", func() bool {
		for _, job := range names {
			if !slices.ContainsFunc(srv.Messages(), func(m telegramtest.Message) bool { return strings.Contains(m.Text, job) }) {
				return false
			}
		}
		return true
	})
	stopUp(t, cmd, stderr)
	checkSetAside(t, stderr.String(), made)
	for _, job := range names {
		if _, err := os.Stat(filepath.Join(runs, job+".json")); err != nil {
			t.Errorf("%s's last run is not kept: %v", job, err)
		}
	}

	// Set aside, they are named no more: the jobs' files are read as they were kept.
	cmd2, stdout2, stderr2 := upIn()
	for _, job := range names {
		waitOutput(t, stderr2, job+": next run at")
	}
	stopUp(t, cmd2, stderr2)
	if s := stderr2.String(); strings.Contains(s, "set aside") || strings.Contains(s, "missed runs are counted from now") {
		t.Errorf("the next up says:\n%s", s)
	}
	testkit.Fault(t, runsEntriesRow, tgToken, outputs(t, state,
		stateRun{0, stdout.String(), stderr.String()}, stateRun{0, stdout2.String(), stderr2.String()})...)
}

// A FIFO as STATE/incidents.json made `supervise run` hang for ever; a folder there
// made every run fail to keep its incident, and say so. Each is now set aside, with
// all it holds, and named once; the alert opens a new incident.
func TestFaultIncidentsEntries(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	state := t.TempDir()
	book := filepath.Join(state, "incidents.json")
	var runs []stateRun
	for i, e := range append(testkit.NotRegular(), testkit.Garbage([]byte(`{"incidents":{}}`), 64<<20)...) {
		// The one kept by the run before makes way: one state folder serves them all.
		os.Remove(book)
		e.Make(t, book)
		made := []setAside{{book, e.Why, testkit.Fingerprint(t, book)}}
		job := fmt.Sprintf("alert-%d-%s", i, e.Name)
		r := superviseIn(t, srv, state, "", "run", "--name", job, "--", "sh", "-c", "exit 1")
		if r.status != 1 {
			t.Errorf("%s: status %d, want the job's 1", e.Name, r.status)
		}
		if !slices.ContainsFunc(srv.Messages(), func(m telegramtest.Message) bool { return strings.Contains(m.Text, job) }) {
			t.Errorf("%s: the alert was not delivered; stderr:\n%s", e.Name, r.stderr)
		}
		checkSetAside(t, r.stderr, made)
		if err := os.RemoveAll(book + ".bad"); err != nil { // for the next to be set aside as .bad too
			t.Fatal(err)
		}
		runs = append(runs, r)
	}
	// Set aside, it is named no more: the book kept by the last run is read.
	r := superviseIn(t, srv, state, "", "run", "--name", "alert-next", "--", "sh", "-c", "exit 1")
	if r.status != 1 || strings.Contains(r.stderr, "set aside") || strings.Contains(r.stderr, "incidents:") {
		t.Errorf("the next run: status %d, stderr:\n%s", r.status, r.stderr)
	}
	testkit.Fault(t, incidentsEntriesRow, tgToken, outputs(t, state, append(runs, r)...)...)
}

// A FIFO as a job's STATE/logs/JOB.log held the job's output, and up's stop, for ever,
// and `supervise logs` with them. Each kind of entry that is no file is now set aside
// and named once, and the log begins anew.
func TestFaultLogEntries(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	state, jobs := t.TempDir(), t.TempDir()
	logs := filepath.Join(state, "logs")
	if err := os.Mkdir(logs, 0o700); err != nil {
		t.Fatal(err)
	}
	var made []setAside
	var names []string
	for _, e := range testkit.NotRegular() {
		job := "web-" + e.Name
		names = append(names, job)
		writeFile(t, jobs, job+".toml", "command = \"echo hi from "+job+"; exec sleep 100\"\n")
		path := filepath.Join(logs, job+".log")
		e.Make(t, path)
		made = append(made, setAside{path, e.Why, testkit.Fingerprint(t, path)})
	}
	upIn := func() (*exec.Cmd, *syncBuffer, *syncBuffer) {
		cmd := quiet(upCommand(t, jobs))
		cmd.Env = append(cmd.Env, botEnv(srv)...)
		cmd.Env = append(cmd.Env, "SUPERVISE_STATE_DIR="+state)
		return start(t, cmd)
	}
	cmd, stdout, stderr := upIn()
	runs := []stateRun{}
	for _, job := range names {
		waitOutput(t, stdout, job+" | hi from "+job)
		r := superviseIn(t, srv, state, "", "logs", job)
		if r.status != 0 || r.stdout != "hi from "+job+"\n" {
			t.Errorf("supervise logs %s: status %d, %q; want 0 and the job's line; stderr:\n%s", job, r.status, r.stdout, r.stderr)
		}
		runs = append(runs, r)
	}
	stopUp(t, cmd, stderr)
	checkSetAside(t, stderr.String(), made)

	// Set aside, they are named no more: the logs go on.
	cmd2, stdout2, stderr2 := upIn()
	for _, job := range names {
		waitOutput(t, stdout2, job+" | hi from "+job)
	}
	stopUp(t, cmd2, stderr2)
	if s := stderr2.String(); strings.Contains(s, "set aside") || strings.Contains(s, "supervise: log ") {
		t.Errorf("the next up says:\n%s", s)
	}
	for _, job := range names {
		if b, err := os.ReadFile(filepath.Join(logs, job+".log")); err != nil || strings.Count(string(b), "hi from "+job) != 2 {
			t.Errorf("%s.log holds %q, %v; want the line of each up", job, b, err)
		}
	}
	runs = append(runs, stateRun{0, stdout.String(), stderr.String()}, stateRun{0, stdout2.String(), stderr2.String()})
	testkit.Fault(t, logEntriesRow, tgToken, outputs(t, state, runs...)...)
}
