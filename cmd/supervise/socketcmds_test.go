package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/supervise/supervise/control"
	"github.com/supervise/supervise/internal/testkit"
	"github.com/supervise/supervise/notifier/telegramtest"
	"github.com/supervise/supervise/supervisor"
)

// Tests here drive a running up, a process of its own, through its control socket,
// with the commands a user types.

// upWithSocket starts up on dir, with args, and a state folder of its own; it waits for
// its control socket, and returns the state folder, to pass to the commands as --state.
func upWithSocket(t *testing.T, dir string, args ...string) (state string, stdout, stderr *syncBuffer) {
	t.Helper()
	state = t.TempDir()
	_, stdout, stderr = startUp(t, dir, append([]string{"--state", state}, args...)...)
	waitOutput(t, stderr, ".sock\n")
	return state, stdout, stderr
}

// jobStatus returns the job's line of `supervise status --json`.
func jobStatus(t *testing.T, state, name string) supervisor.JobStatus {
	t.Helper()
	status, out, errs := supervise(t, "status", "--json", "--state", state)
	if status != 0 {
		t.Fatalf("status: %d: %s", status, errs)
	}
	var st control.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json: %v:\n%s", err, out)
	}
	for _, j := range st.Jobs {
		if j.Name == name {
			return j
		}
	}
	t.Fatalf("status lacks %s:\n%s", name, out)
	return supervisor.JobStatus{}
}

// waitState waits until the job is in state, and returns its status then.
func waitState(t *testing.T, state, name, want string) supervisor.JobStatus {
	t.Helper()
	var j supervisor.JobStatus
	testkit.Eventually(t, fmt.Sprintf("%s in state %s", name, want), func() bool {
		j = jobStatus(t, state, name)
		return j.State == want
	})
	return j
}

// newPID waits until the job runs with another process than old, and returns its
// status then.
func newPID(t *testing.T, state, name string, old int) supervisor.JobStatus {
	t.Helper()
	var j supervisor.JobStatus
	testkit.Eventually(t, fmt.Sprintf("%s with another pid than %d", name, old), func() bool {
		j = jobStatus(t, state, name)
		return j.PID != 0 && j.PID != old
	})
	return j
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// status lists every job in its state; stop, start and restart change the process as
// named; a stopped job stays stopped across a reload.
func TestControlStatusStopStartRestart(t *testing.T) {
	noTelegram(t)
	dir := t.TempDir()
	writeFile(t, dir, "web.toml", `command = "echo web is up; exec sleep 100"`)
	writeFile(t, dir, "once.toml", "command = \"echo once\"\nrestart = \"never\"\n")
	writeFile(t, dir, "nightly.toml", "command = \"echo nightly ran\"\nschedule = \"0 3 * * *\"\n")
	writeFile(t, dir, "crashy.toml", "command = \"exit 3\"\nrestart = \"always\"\n[backoff]\ninitial = \"10s\"\nmax = \"20s\"\n")
	state, stdout, stderr := upWithSocket(t, dir)
	waitOutput(t, stdout, "web | web is up")

	web := waitState(t, state, "web", supervisor.StateRunning)
	if web.PID <= 0 || !alive(web.PID) {
		t.Fatalf("web: pid %d, want its live process", web.PID)
	}
	once := waitState(t, state, "once", supervisor.StateExited)
	if once.Exits["0"] != 1 || once.LastExit != "exit 0" || once.LastSuccess.IsZero() {
		t.Errorf("once: %+v, want one exit 0, a success", once)
	}
	if n := jobStatus(t, state, "nightly"); n.State != supervisor.StateScheduled || n.NextRun.Before(time.Now()) || n.Schedule != "0 3 * * *" {
		t.Errorf("nightly: %+v, want scheduled, next run ahead", n)
	}
	crashy := waitState(t, state, "crashy", supervisor.StateBackingOff)
	if crashy.Exits["3"] != 1 || crashy.Restarts != 0 || time.Until(crashy.NextRun) < 5*time.Second {
		t.Errorf("crashy: %+v, want exit 3 counted, no restart yet, the next start about 10s ahead", crashy)
	}
	status, table, errs := supervise(t, "status", "--state", state)
	var out string
	if status != 0 || !strings.Contains(table, "JOB") || !strings.Contains(table, "backing-off") ||
		!strings.Contains(table, "notifier: standard error") {
		t.Errorf("status: %d %s\n%s", status, errs, table)
	}

	// --json: the field names scripts rely on, decoded without our own types.
	_, raw, _ := supervise(t, "status", "--json", "--state", state)
	var doc struct {
		Host    string           `json:"host"`
		Started string           `json:"started"`
		Jobs    []map[string]any `json:"jobs"`
	}
	if err := json.Unmarshal([]byte(raw), &doc); err != nil || doc.Host == "" || doc.Started == "" || len(doc.Jobs) != 4 {
		t.Fatalf("status --json: %v:\n%s", err, raw)
	}
	wantKeys := map[string][]string{
		"web":     {"name", "state", "pid", "since", "restarts"},
		"once":    {"exits", "last_exit", "last_exit_at", "last_success"},
		"nightly": {"schedule", "next_run"},
		"crashy":  {"next_run", "exits", "last_exit"},
	}
	for _, j := range doc.Jobs {
		for _, k := range wantKeys[j["name"].(string)] {
			if _, ok := j[k]; !ok {
				t.Errorf("status --json: %s has no %q: %v", j["name"], k, j)
			}
		}
	}

	// reload with a broken file: exit 1, the file named, the others loaded.
	broken := writeFile(t, dir, "broken.toml", "command = \"true\"\ntimeout = 5\n")
	status, out, errs = supervise(t, "reload", "--state", state)
	if status != 1 || out != "reloaded: 4 jobs\n" || !strings.Contains(errs, "broken.toml:2: timeout") {
		t.Errorf("reload with a broken file: %d %q %q", status, out, errs)
	}
	os.Remove(broken)

	// stop: the process is gone when the command returns.
	status, out, errs = supervise(t, "stop", "--state", state, "web")
	if status != 0 || out != "web: stopped\n" {
		t.Fatalf("stop: %d %q %s", status, out, errs)
	}
	if alive(web.PID) {
		t.Errorf("web's process %d is still there after stop", web.PID)
	}
	if j := jobStatus(t, state, "web"); j.State != supervisor.StateStopped || j.PID != 0 {
		t.Errorf("web after stop: %+v", j)
	}
	if _, out, _ := supervise(t, "stop", "--state", state, "web"); out != "web: already stopped\n" {
		t.Errorf("second stop: %q", out)
	}
	// A reload keeps it stopped, even one that changes its command.
	writeFile(t, dir, "web.toml", `command = "echo web is up again; exec sleep 100"`)
	// The changed job is a new version, starting until the old one is gone; then it
	// is stopped, as the old one was. Had it started web, the start below would find
	// it running.
	if status, out, errs := supervise(t, "reload", "--state", state); status != 0 || out != "reloaded: 4 jobs\n" {
		t.Fatalf("reload: %d %q %s", status, out, errs)
	}
	waitState(t, state, "web", supervisor.StateStopped)
	if strings.Contains(stdout.String(), "web is up again") {
		t.Errorf("web ran after a reload; want it still stopped")
	}
	// start: it runs again, as the reload left it.
	if status, out, errs := supervise(t, "start", "--state", state, "web"); status != 0 || out != "web: started\n" {
		t.Fatalf("start: %d %q %s", status, out, errs)
	}
	waitOutput(t, stdout, "web | web is up again")
	web2 := waitState(t, state, "web", supervisor.StateRunning)
	if _, out, _ := supervise(t, "start", "--state", state, "web"); out != "web: already running\n" {
		t.Errorf("start of a running job: %q", out)
	}
	// restart: a new process, not counted as a crash, not told.
	if status, out, errs := supervise(t, "restart", "--state", state, "web"); status != 0 || out != "web: restarted\n" {
		t.Fatalf("restart: %d %q %s", status, out, errs)
	}
	web3 := newPID(t, state, "web", web2.PID)
	if alive(web2.PID) || web3.Restarts != 0 || strings.Contains(stderr.String(), "web failed") {
		t.Errorf("restart: old pid alive %v, %+v; want the old process gone, no automatic restart counted, nothing told:\n%s",
			alive(web2.PID), web3, stderr.String())
	}
	// start of a scheduled job runs it now; of a backing-off one, starts it at once.
	supervise(t, "start", "--state", state, "nightly")
	waitOutput(t, stdout, "nightly | nightly ran")
	before := jobStatus(t, state, "crashy").Exits["3"]
	supervise(t, "start", "--state", state, "crashy")
	testkit.Eventually(t, "crashy runs again at once on start", func() bool { return jobStatus(t, state, "crashy").Exits["3"] != before })
	// Unknown jobs: exit 1, the others are still done.
	status, out, errs = supervise(t, "stop", "--state", state, "nosuch", "once")
	if status != 1 || !strings.Contains(errs, "nosuch: no such job") || out != "once: stopped\n" {
		t.Errorf("stop nosuch once: %d %q %q", status, out, errs)
	}
}

// logs -n prints the job's last lines; -f prints what it writes from then on.
func TestControlLogs(t *testing.T) {
	noTelegram(t)
	dir := t.TempDir()
	writeFile(t, dir, "counter.toml", `command = '''
for i in 1 2 3 4 5; do echo "line $i"; done
while [ ! -e go ]; do sleep 0.02; done
echo after go
exec sleep 100
'''
dir = "`+dir+`"
`)
	state, stdout, _ := upWithSocket(t, dir)
	waitOutput(t, stdout, "counter | line 5")
	// up's console and JOB.log are written one after the other: the log may be a
	// moment behind what stdout shows.
	var status int
	var out, errs string
	testkit.Eventually(t, "line 5 in counter's log", func() bool {
		status, out, errs = supervise(t, "logs", "--state", state, "counter", "-n", "2")
		return strings.Contains(out, "line 5")
	})
	if status != 0 || out != "line 4\nline 5\n" {
		t.Fatalf("logs -n 2: %d %q %s", status, out, errs)
	}
	if _, out, _ := supervise(t, "logs", "--state", state, "-n", "0", "counter"); out != "" {
		t.Errorf("logs -n 0: %q", out)
	}

	// -f: the last line, then what comes, until interrupted.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var followed syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- realMain(ctx, []string{"logs", "-f", "-n", "1", "--state", state, "counter"}, strings.NewReader(""), &followed, io.Discard)
	}()
	waitOutput(t, &followed, "line 5\n")
	writeFile(t, dir, "go", "")
	waitOutput(t, &followed, "after go\n")
	cancel()
	select {
	case status := <-done:
		if status != 0 || followed.String() != "line 5\nafter go\n" {
			t.Errorf("logs -f: %d %q", status, followed.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("logs -f did not end when interrupted")
	}
	if status, _, errs := supervise(t, "logs", "--state", state, "nosuch"); status != 1 || !strings.Contains(errs, "no such job") {
		t.Errorf("logs nosuch: %d %s", status, errs)
	}
}

// Without a running up, each command says so and exits 1.
func TestControlWithoutUp(t *testing.T) {
	noTelegram(t)
	state := t.TempDir()
	for _, args := range [][]string{{"status"}, {"stop", "web"}, {"reload"}, {"logs", "web"}} {
		status, _, errs := supervise(t, append(args, "--state", state)...)
		if status != 1 || !strings.Contains(errs, "supervise up is not running") {
			t.Errorf("%v: %d %q, want 1 and that up is not running", args, status, errs)
		}
	}
	for _, args := range [][]string{{"stop"}, {"status", "web"}, {"logs"}, {"logs", "-n", "-1", "web"}} {
		if status, _, errs := supervise(t, append(args, "--state", state)...); status != 2 {
			t.Errorf("%v: %d %q, want a usage error", args, status, errs)
		}
	}
}

// A second up on the same state is refused while the first runs, and while it is
// stopping its jobs, when status still answers; a file that is not a socket is never taken for a stale one.
func TestControlSocketTakenBySecondUp(t *testing.T) {
	noTelegram(t)
	dir := t.TempDir()
	writeFile(t, dir, "slow.toml", "command = \"trap '' TERM; echo up; while :; do sleep 0.05; done\"\nstop_timeout = \"3s\"\n")
	state := t.TempDir()
	cmd, stdout, stderr := startUp(t, dir, "--state", state)
	waitOutput(t, stdout, "slow | up")
	second := func() (int, string) {
		status, _, errs := supervise(t, "up", "--jobs", dir, "--listen", "127.0.0.1:0", "--state", state)
		return status, errs
	}
	if status, errs := second(); status != 1 || !strings.Contains(errs, "another supervise up is running") {
		t.Errorf("second up: %d %s", status, errs)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	waitOutput(t, stderr, "stopping every job")
	if status, errs := second(); status != 1 || !strings.Contains(errs, "another supervise up is running") {
		t.Errorf("second up while the first stops its jobs: %d %s", status, errs)
	}
	// Meanwhile the socket still answers: what is still stopping is there to see.
	if status, out, errs := supervise(t, "status", "--state", state); status != 0 || !strings.Contains(out, "slow") {
		t.Errorf("status while up stops its jobs: %d %q %s", status, out, errs)
	}
	cmd.Wait()

	// An up killed leaves its socket behind: the next one replaces it.
	cmd, stdout, _ = startUp(t, dir, "--state", state)
	waitOutput(t, stdout, "slow | up")
	orphan := waitState(t, state, "slow", supervisor.StateRunning).PID
	cmd.Process.Kill()
	cmd.Wait()
	syscall.Kill(-orphan, syscall.SIGKILL) // the killed up's job, in a session of its own
	_, stdout, _ = startUp(t, dir, "--state", state)
	waitOutput(t, stdout, "slow | up")
	if status, _, errs := supervise(t, "status", "--state", state); status != 0 {
		t.Errorf("status after an up was killed and another started: %d %s", status, errs)
	}

	precious := writeFile(t, t.TempDir(), "precious.txt", "keep me\n")
	status, _, errs := supervise(t, "up", "--jobs", dir, "--listen", "127.0.0.1:0", "--state", state, "--socket", precious)
	if data, _ := os.ReadFile(precious); status != 1 || !strings.Contains(errs, "is not a socket") || string(data) != "keep me\n" {
		t.Errorf("--socket at a file: %d %s; the file holds %q", status, errs, data)
	}
}

// supervise ping, with no SUPERVISE_PING_URL and no --listen, goes over the socket.
func TestPingOverControlSocket(t *testing.T) {
	noTelegram(t)
	t.Setenv("SUPERVISE_PING_URL", "")
	dir := t.TempDir()
	writeFile(t, dir, "quiet.toml", "command = \"echo started; exec sleep 100\"\n[heartbeat]\nevery = \"300ms\"\ngrace = \"100ms\"\n")
	state, _, stderr := upWithSocket(t, dir)
	waitOutput(t, stderr, "quiet missed its heartbeat on ")
	if status, _, errs := supervise(t, "ping", "--state", state, "-m", "all good", "quiet"); status != 0 {
		t.Fatalf("ping: %d %s", status, errs)
	}
	waitOutput(t, stderr, "quiet recovered on ")
	if j := jobStatus(t, state, "quiet"); j.HeartbeatBy != "ping" || time.Since(j.Heartbeat) > 5*time.Second {
		t.Errorf("quiet: %+v, want the ping as its last heartbeat", j)
	}
	status, _, errs := supervise(t, "ping", "--state", t.TempDir(), "quiet")
	if status != 1 || !strings.Contains(errs, "supervise up is not running") {
		t.Errorf("ping with no up: %d %s", status, errs)
	}
}

// The socket is for its owner and root: its mode keeps others out, and should it be
// opened up, SO_PEERCRED does. The client runs as nobody, which needs root to arrange.
func TestControlSocketRefusesOtherUsers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("running a client as another user needs root")
	}
	noTelegram(t)
	dir := t.TempDir()
	writeFile(t, dir, "web.toml", `command = "exec sleep 100"`)
	// A folder anyone may enter, holding the socket and a copy of this binary.
	open := t.TempDir()
	for _, d := range []string{filepath.Dir(open), open} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	socket := filepath.Join(open, "s.sock")
	_, _, stderr := upWithSocket(t, dir, "--socket", socket)
	bin := filepath.Join(open, "supervise")
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	asNobody := func() (string, error) {
		cmd := exec.Command(bin, "status", "--socket", socket)
		cmd.Env = []string{"SUPERVISE_TEST_AS_MAIN=1", "PATH=/usr/bin:/bin"}
		cmd.Dir = open
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := asNobody()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(out, "permission denied") {
		t.Errorf("nobody, socket 0600: %v %q; want permission denied", err, out)
	}
	if err := os.Chmod(socket, 0o666); err != nil {
		t.Fatal(err)
	}
	out, err = asNobody()
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(out, "uid 65534 may not control this supervise") {
		t.Errorf("nobody, socket 0666: %v %q; want refused by uid", err, out)
	}
	waitOutput(t, stderr, "control socket: refused a request from uid 65534")
	// The owner is served all along.
	if status, out, errs := supervise(t, "status", "--socket", socket); status != 0 || !strings.Contains(out, "web") {
		t.Errorf("root: %d %s %s", status, out, errs)
	}
}

// With commands = true in the config file, up answers /restart from an allowed chat
// and does nothing for another; commands without allow is a configuration error.
func TestUpTelegramCommands(t *testing.T) {
	fake := telegramtest.NewServer(tgToken, tgChat, 777)
	t.Cleanup(fake.Close)
	useConfig(t, fmt.Sprintf("[telegram]\ntoken = %q\nchat_id = %d\napi_url = %q\ncommands = true\nallow = [%d]\n",
		tgToken, tgChat, fake.URL(), tgChat), 0o600)
	dir := t.TempDir()
	writeFile(t, dir, "web.toml", `command = "echo web is up; exec sleep 100"`)
	state, stdout, stderr := upWithSocket(t, dir)
	waitOutput(t, stdout, "web | web is up")
	waitOutput(t, stderr, "answering Telegram commands from 1 chats")
	first := waitState(t, state, "web", supervisor.StateRunning).PID
	send := func(chat int64, text string) {
		fake.AddUpdate(map[string]any{"message": map[string]any{"message_id": 1, "date": time.Now().Unix(), "text": text,
			"chat": map[string]any{"id": chat, "type": "private"}}})
	}
	send(777, "/restart web")
	waitOutput(t, stderr, "ignored /restart from chat 777: the chat is not in telegram.allow")
	if pid := jobStatus(t, state, "web").PID; pid != first {
		t.Fatalf("an unlisted chat restarted web: pid %d, was %d", pid, first)
	}
	send(tgChat, "/restart web")
	waitOutput(t, stdout, "web | web is up\nweb | web is up")
	newPID(t, state, "web", first)
	for _, m := range fake.Messages() {
		if m.ChatID == 777 {
			t.Errorf("the unlisted chat got %q", m.Text)
		}
	}
	if strings.Contains(stderr.String(), tgToken) {
		t.Error("the token is in up's stderr")
	}
	if _, out, _ := supervise(t, "status", "--state", state); !strings.Contains(out, "notifier: Telegram; nothing delivered yet; 0 waiting in the spool") {
		t.Errorf("status does not tell the notifier's health:\n%s", out)
	}

	// Commands without allow: check refuses them; up runs the jobs all the same,
	// without commands, and says why.
	useConfig(t, fmt.Sprintf("[telegram]\ntoken = %q\nchat_id = %d\ncommands = true\n", tgToken, tgChat), 0o600)
	if status, _, errs := supervise(t, "check", dir); status != 2 || !strings.Contains(errs, "telegram.commands: needs allow") {
		t.Errorf("check of commands without allow: %d %s", status, errs)
	}
	_, stdout, stderr = startUp(t, dir, "--state", t.TempDir())
	waitOutput(t, stderr, "telegram.commands: needs allow")
	waitOutput(t, stderr, "the jobs run; their messages go to stderr, in full, until that is fixed")
	waitOutput(t, stdout, "web | web is up")
}

// logs -f follows the job across its restarts, and says so when up stops.
func TestControlLogsFollowAcrossRestart(t *testing.T) {
	noTelegram(t)
	dir := t.TempDir()
	writeFile(t, dir, "web.toml", `command = "echo web started; exec sleep 100"`)
	state := t.TempDir()
	cmd, stdout, _ := startUp(t, dir, "--state", state)
	waitOutput(t, stdout, "web | web started")
	var followed, errs syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- realMain(context.Background(), []string{"logs", "-f", "--state", state, "web"}, strings.NewReader(""), &followed, &errs)
	}()
	waitOutput(t, &followed, "web started\n")
	supervise(t, "restart", "--state", state, "web")
	waitOutput(t, &followed, "web started\nweb started\n")
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case status := <-done:
		if status != 1 || !strings.Contains(errs.String(), "supervise up stopped") {
			t.Errorf("logs -f when up stopped: %d %q", status, errs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("logs -f did not end when up stopped")
	}
}
