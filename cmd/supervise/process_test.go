package main

import (
	"bufio"
	"bytes"
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

	"github.com/supervise/supervise/internal/testkit"
	"github.com/supervise/supervise/notifier/telegramtest"
)

// Tests here run supervise as a process of its own, for what only a real process
// shows: signals sent to it, and its stdout going away.

func TestMain(m *testing.M) {
	if os.Getenv("SUPERVISE_TEST_AS_MAIN") != "" {
		main()
		return
	}
	// No config file of the machine's (~/.config, /etc) reaches a test: the default
	// one is looked for in an empty folder. A test that wants one sets its own.
	dir, err := os.MkdirTemp("", "supervise-config-")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_CONFIG_HOME", dir)
	os.Unsetenv("SUPERVISE_CONFIG")
	// Tests run under a systemd service do not make their ups talk to it: a test
	// that wants sd_notify gives up a socket of its own.
	for _, k := range []string{"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"} {
		os.Unsetenv(k)
	}
	status := m.Run()
	os.RemoveAll(dir)
	os.Exit(status)
}

// command returns supervise, as a process to start, with args.
func command(t *testing.T, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "SUPERVISE_TEST_AS_MAIN=1", "GORACE=atexit_sleep_ms=0", "SUPERVISE_STATE_DIR="+t.TempDir())
	return cmd
}

// quiet makes cmd use no Telegram bot and no config file, whatever the environment of
// the test binary: what noTelegram does, for a test that starts supervise only as a
// process of its own, leaves its environment alone, and so may run in parallel.
func quiet(cmd *exec.Cmd) *exec.Cmd {
	for _, k := range botKeys {
		cmd.Env = append(cmd.Env, k+"=") // of two, exec uses the last
	}
	return cmd
}

// When whoever reads supervise's output goes away, the job runs on to the end.
func TestRunOutlivesClosedStdout(t *testing.T) {
	t.Parallel()
	cmd := quiet(command(t, "run", "--notify-on", "success,failure", "--name", "chatty", "--",
		"sh", "-c", `i=0; while [ $i -lt 3000 ]; do echo "line $i"; i=$((i+1)); done; echo finished`))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first, _ := bufio.NewReader(out).ReadString('\n')
	out.Close() // as `| head -1` does
	err = cmd.Wait()
	if first != "line 0\n" || err != nil || !strings.Contains(stderr.String(), "chatty succeeded") ||
		!strings.Contains(stderr.String(), "| finished") {
		t.Errorf("first line %q, exit %v, stderr:\n%s\nwant the job to finish and succeed", first, err, stderr.String())
	}
}

// With Telegram stalled, a second SIGTERM ends the wait for delivery at once; the
// alert goes to stderr and supervise exits with the job's status.
func TestSecondSignalCutsDeliveryShort(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	srv.Fail(telegramtest.Fault{Stall: true})
	cmd := quiet(command(t, "run", "--name", "stuck", "--", "sh", "-c", "echo ready; sleep 30"))
	cmd.Env = append(cmd.Env, botEnv(srv)...)
	out, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(out)
	if line, _ := r.ReadString('\n'); line != "ready\n" {
		t.Fatalf("first line %q", line)
	}
	go io.Copy(io.Discard, r)
	cmd.Process.Signal(syscall.SIGTERM)
	testkit.Eventually(t, "the alert on its way to Telegram", func() bool { return srv.Requests() > 0 })
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("supervise took %v to exit after the second SIGTERM", waited)
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 128+int(syscall.SIGTERM) {
		t.Errorf("exit %v, want the job's 143 (killed by SIGTERM)", err)
	}
	if s := stderr.String(); !strings.Contains(s, "stuck failed") || !strings.Contains(s, "not delivered") || strings.Contains(s, tgToken) {
		t.Errorf("stderr should carry the undelivered alert without the token:\n%s", s)
	}
}

// up runs the jobs of a folder; a broken file is reported and the others run; SIGTERM
// stops them all and exits 0.
func TestUp(t *testing.T) {
	noTelegram(t)
	dir := t.TempDir()
	writeFile(t, dir, "web.toml", `command = "echo web is up; exec sleep 100"`)
	status, _, stderr := supervise(t, "up", "--jobs", dir, "--listen", "127.0.0.1:0", "--bogus")
	if status != 2 {
		t.Fatalf("status %d, stderr %s", status, stderr)
	}
	state := testUp(t, dir, "1 jobs from")
	if b, err := os.ReadFile(filepath.Join(state, "logs", "web.log")); err != nil || string(b) != "web is up\n" {
		t.Errorf("web.log holds %q, %v; want web's output", b, err)
	}
	writeFile(t, dir, "broken.toml", "command = \"true\"\ntimeout = 5\n")
	testUp(t, dir, "broken.toml: not loaded; the other jobs run", "broken.toml:2: timeout: 5 has no unit", "1 jobs from")
}

// testUp runs up on dir until web's first line, stops it, and checks its stderr. It
// returns the state folder up used.
func testUp(t *testing.T, dir string, wantStderr ...string) string {
	state := t.TempDir()
	cmd := command(t, "up", "--jobs", dir, "--listen", "127.0.0.1:0", "--state", state)
	out, _ := cmd.StdoutPipe()
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(out)
	if line, _ := r.ReadString('\n'); line != "web | web is up\n" {
		t.Fatalf("first line %q, want web's output behind its name; stderr:\n%s", line, stderr.String())
	}
	go io.Copy(io.Discard, r)
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit %v after SIGTERM, want 0", err)
	}
	for _, want := range wantStderr {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	return state
}

// As root, a job file others may write is refused, as cron refuses such a crontab.
func TestUpRefusesWritableJobFileAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the check applies only when supervise runs as root")
	}
	noTelegram(t)
	dir := t.TempDir()
	path := writeFile(t, dir, "open.toml", `command = "echo should not run"`)
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	status, stdout, stderr := supervise(t, "check", dir)
	if status != 2 || strings.Contains(stdout, "ok") || !strings.Contains(stderr, "refused: group or others may write it") {
		t.Errorf("check: status %d stdout %q stderr %q; want the file refused", status, stdout, stderr)
	}
}

func TestUpUsage(t *testing.T) {
	noTelegram(t)
	for _, args := range [][]string{
		{"up", "--jobs", filepath.Join(t.TempDir(), "missing")},
		{"up", "--jobs", t.TempDir(), "extra"},
		{"up", "--listen", "not an address", "--jobs", t.TempDir()},
		{"up", "--listen", "0.0.0.0:0", "--jobs", t.TempDir()}, // pings are for this host only
	} {
		if status, _, stderr := supervise(t, args...); status != 2 {
			t.Errorf("%q: status %d, want 2; stderr %s", args, status, stderr)
		}
	}
}

// SIGHUP re-reads the folder: an added job starts, a removed one stops.
func TestUpReloadsOnSIGHUP(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "first.toml", `command = "echo first is up; exec sleep 100"`)
	cmd, stdout, stderr := startQuietUp(t, dir)
	waitOutput(t, stdout, "first | first is up")
	os.Remove(filepath.Join(dir, "first.toml"))
	writeFile(t, dir, "second.toml", `command = "echo second is up; exec sleep 100"`)
	cmd.Process.Signal(syscall.SIGHUP)
	waitOutput(t, stdout, "second | second is up")
	waitOutput(t, stderr, "reload: 1 jobs")
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit %v, want 0; stderr:\n%s", err, stderr.String())
	}
}

// startUp starts `supervise up` on dir as a process of its own, with its output
// readable while it runs; the process is killed at the end of the test.
func startUp(t *testing.T, dir string, args ...string) (*exec.Cmd, *syncBuffer, *syncBuffer) {
	t.Helper()
	return start(t, upCommand(t, dir, args...))
}

// startQuietUp is startUp after quiet, for a test that runs in parallel.
func startQuietUp(t *testing.T, dir string, args ...string) (*exec.Cmd, *syncBuffer, *syncBuffer) {
	t.Helper()
	return start(t, quiet(upCommand(t, dir, args...)))
}

// startBotUp is startQuietUp with a bot that sends to srv, to tgChat by default.
func startBotUp(t *testing.T, srv *telegramtest.Server, dir string, args ...string) (*exec.Cmd, *syncBuffer, *syncBuffer) {
	t.Helper()
	cmd := quiet(upCommand(t, dir, args...))
	cmd.Env = append(cmd.Env, botEnv(srv)...)
	return start(t, cmd)
}

// upCommand returns `supervise up` on dir, with args, as a process to start.
func upCommand(t *testing.T, dir string, args ...string) *exec.Cmd {
	return command(t, append([]string{"up", "--jobs", dir, "--listen", "127.0.0.1:0"}, args...)...)
}

// start starts cmd with its output readable while it runs; the process is killed at
// the end of the test.
func start(t *testing.T, cmd *exec.Cmd) (*exec.Cmd, *syncBuffer, *syncBuffer) {
	t.Helper()
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd, stdout, stderr
}

// orphanPID waits for a job's "orphan PID" line and returns the pid.
func orphanPID(t *testing.T, stdout *syncBuffer) int {
	t.Helper()
	waitOutput(t, stdout, "daemonizer | orphan ")
	var pid int
	out := stdout.String()
	fmt.Sscanf(out[strings.Index(out, "orphan ")+len("orphan "):], "%d", &pid)
	return pid
}

// waitOutput waits until b holds want; on a timeout, the failure shows what b held.
func waitOutput(t *testing.T, b *syncBuffer, want string) {
	t.Helper()
	defer onFailure(t, func() string { return "the output was:\n" + b.String() })
	testkit.Eventually(t, fmt.Sprintf("%q in the output", want), func() bool { return strings.Contains(b.String(), want) })
}

// onFailure, deferred, logs what says once the test has failed, as when a wait
// before it timed out.
func onFailure(t *testing.T, what func() string) {
	t.Helper()
	if t.Failed() {
		t.Log(what())
	}
}

// fifo makes a named pipe for a job and the test to hand each other a go: opening
// one end waits for the other, so neither needs a guess at how long the other takes.
func fifo(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// procStatus returns /proc/PID/status, or "" once the process is gone and reaped.
func procStatus(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	return string(b)
}

// waitAdopted waits until pid is a child of parent, as it is once up adopts it.
func waitAdopted(t *testing.T, pid, parent int) {
	t.Helper()
	defer onFailure(t, func() string { return procStatus(pid) })
	testkit.Eventually(t, fmt.Sprintf("orphan %d adopted by up (%d)", pid, parent), func() bool {
		return strings.Contains(procStatus(pid), fmt.Sprintf("PPid:\t%d\n", parent))
	})
}

// daemonizer is a job file whose command starts daemon (sh code) in a session of its
// own, waits for the daemon to write a line with its pid (or pids) to the fifo ready,
// prints the line after "orphan ", and exits.
func daemonizer(daemon, ready string) string {
	return fmt.Sprintf("command = %q\nrestart = \"never\"\n", fmt.Sprintf("setsid sh -c '%s' & read pids <%s; echo orphan $pids", daemon, ready))
}

// up adopts what its jobs orphan (PR_SET_CHILD_SUBREAPER) and reaps it when it ends.
func TestUpAdoptsAndReapsOrphans(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// The daemon starts a session of its own before its parent exits, as a daemon does:
	// the job exits once the daemon says, through ready, that it has. The daemon lives
	// until the test writes to done.
	ready, done := fifo(t), fifo(t)
	writeFile(t, dir, "daemonizer.toml", daemonizer(fmt.Sprintf("echo $$ >%s; read x <%s", ready, done), ready))
	cmd, stdout, _ := startQuietUp(t, dir)
	pid := orphanPID(t, stdout)
	waitAdopted(t, pid, cmd.Process.Pid)
	// Without O_NONBLOCK, a daemon gone too soon would leave the open waiting forever.
	f, err := os.OpenFile(done, os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatalf("the daemon %d does not wait for its go: %v", pid, err)
	}
	f.WriteString("go\n")
	f.Close()
	defer onFailure(t, func() string { return procStatus(pid) })
	testkit.Eventually(t, fmt.Sprintf("orphan %d reaped after it ended", pid), func() bool { return procStatus(pid) == "" })
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
}

// With the default restart settings, a job that exits 1 at once gets one failure and
// one crash-loop message within 10 s; once a reload fixes it, one recovery message.
func TestUpCrashLoopThenFixedByReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := writeFile(t, dir, "broken-app.toml", "command = \"echo starting; exit 1\"\nhealthy_after = \"1s\"\n")
	cmd, _, stderr := startQuietUp(t, dir)
	start := time.Now()
	waitOutput(t, stderr, "broken-app is crash-looping")
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the loop message came after %v, want within 10s", took)
	}
	if err := os.WriteFile(file, []byte("command = \"echo fixed; exec sleep 100\"\nhealthy_after = \"1s\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	waitOutput(t, stderr, "broken-app recovered")
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	s := stderr.String()
	if n := strings.Count(s, "broken-app failed"); n != 1 {
		t.Errorf("%d failure messages, want 1:\n%s", n, s)
	}
	if n := strings.Count(s, "is crash-looping"); n != 1 {
		t.Errorf("%d loop messages, want 1", n)
	}
	if n := strings.Count(s, "recovered"); n != 1 {
		t.Errorf("%d recovery messages, want 1", n)
	}
}

// When up stops, what its jobs left behind stops too, a daemon in a session of its
// own included.
func TestUpStopsAdoptedDaemons(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ready := fifo(t)
	writeFile(t, dir, "daemonizer.toml", daemonizer(fmt.Sprintf("echo $$ >%s; exec sleep 100", ready), ready))
	cmd, stdout, _ := startQuietUp(t, dir)
	pid := orphanPID(t, stdout)
	waitAdopted(t, pid, cmd.Process.Pid) // the job has ended; its daemon runs on
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit %v", err)
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil && !strings.Contains(string(b), "zombie") {
		t.Errorf("the daemon %d outlived up:\n%s", pid, b)
	}
}

// A process adopted while up stops (the child of an orphan that died) is stopped too.
func TestUpStopsOrphansOfOrphans(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ready := fifo(t)
	// The daemon's child's pid, then the daemon's.
	writeFile(t, dir, "daemonizer.toml", daemonizer(fmt.Sprintf("sleep 300 & echo $! $$ >%s; wait", ready), ready))
	cmd, stdout, _ := startQuietUp(t, dir)
	orphanPID(t, stdout)
	var pid, daemon int
	out := stdout.String()
	fmt.Sscanf(out[strings.Index(out, "orphan ")+len("orphan "):], "%d %d", &pid, &daemon)
	waitAdopted(t, daemon, cmd.Process.Pid)
	cmd.Process.Signal(syscall.SIGTERM)
	start := time.Now()
	cmd.Wait()
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("up took %v to stop", took)
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil && !strings.Contains(string(b), "zombie") {
		t.Errorf("the orphan's child %d outlived up:\n%s", pid, b)
	}
}

// As PID 1 of a container (here a PID namespace of its own), up reaps every zombie and
// stops on SIGTERM, as `docker stop` sends it.
func TestUpAsPID1(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("a PID namespace needs root")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("unshare(1) is not installed")
	}
	dir := t.TempDir()
	// The job leaves an orphan that exits at once, then counts the zombies around.
	writeFile(t, dir, "init.toml", `command = "(sleep 0.1 &); sleep 0.6; echo parent $PPID zombies $(grep -l 'State:.Z' /proc/[0-9]*/status 2>/dev/null | wc -l); exec sleep 100"`)
	cmd := quiet(upCommand(t, dir))
	cmd.Args = append([]string{unshare, "--pid", "--fork", "--mount-proc", cmd.Path}, cmd.Args[1:]...)
	cmd.Path = unshare
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitOutput(t, &stdout, "init | parent ")
	if !strings.Contains(stdout.String(), "init | parent 1 zombies 0\n") {
		t.Errorf("want up as PID 1 and no zombie left:\n%s\n%s", stdout.String(), stderr.String())
	}
	// up is unshare's child, PID 1 inside; SIGTERM goes to it from outside.
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid))
	var upPID int
	fmt.Sscanf(string(b), "%d", &upPID)
	if upPID == 0 {
		t.Fatalf("no child of unshare: %q", b)
	}
	syscall.Kill(upPID, syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit %v after SIGTERM; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("up as PID 1 did not stop on SIGTERM; stderr:\n%s", stderr.String())
	}
}

// A second SIGTERM does not wait for stop_timeout: it kills every job at once.
func TestUpSecondSignalKills(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "stubborn.toml", "command = \"trap '' TERM; echo deaf; while :; do sleep 0.1; done\"\nstop_timeout = \"1m\"\n")
	cmd, stdout, stderr := startQuietUp(t, dir)
	waitOutput(t, stdout, "stubborn | deaf")
	cmd.Process.Signal(syscall.SIGTERM)
	waitOutput(t, stderr, "stopping every job")
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit %v; stderr:\n%s", err, stderr.String())
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("up took %v after the second SIGTERM, want it at once", took)
	}
	if !strings.Contains(stderr.String(), "again: killing every job") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
}
