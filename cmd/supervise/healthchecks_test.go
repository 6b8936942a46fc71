package main

import (
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/supervise/supervise/internal/testkit"
)

// curl runs one of healthchecks.io's documented curl lines against url, with extra
// arguments (--data-raw MESSAGE), and fails the test when curl does.
func curl(t *testing.T, url string, extra ...string) {
	t.Helper()
	args := append([]string{"-fsS", "-m", "10", "--retry", "5", "-o", "/dev/null"}, extra...)
	if out, err := exec.Command("curl", append(args, url)...).CombinedOutput(); err != nil {
		t.Fatalf("curl %s %s: %v: %s", strings.Join(extra, " "), url, err, out)
	}
}

// needCurl skips a test on a machine without curl.
func needCurl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed: the documented curl lines cannot be run")
	}
}

// listenAddr is where up says it listens.
func listenAddr(t *testing.T, stderr *syncBuffer) string {
	t.Helper()
	waitOutput(t, stderr, "listening on ")
	addr := regexp.MustCompile(`listening on (\S+)`).FindStringSubmatch(stderr.String())
	return addr[1]
}

// stateOf is the state dir a supervise process was started with.
func stateOf(cmd *exec.Cmd) string {
	state := ""
	for _, kv := range cmd.Env {
		if v, ok := strings.CutPrefix(kv, "SUPERVISE_STATE_DIR="); ok {
			state = v
		}
	}
	return state
}

// A passive job (a [heartbeat], no command) under up is pinged by healthchecks.io's
// documented curl lines: its silence is told with the last ping's body, a success
// (by the slug URL too) is its recovery, a /fail is a failure, and a run started
// with a rid that does not end is late while another rid's end does not end it.
// Status shows it waiting, late or failed.
func TestUpPassiveJobCurl(t *testing.T) {
	needCurl(t)
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "cronjob.toml", "[heartbeat]\nevery = \"1s\"\ngrace = \"500ms\"\n")
	cmd, _, stderr := startQuietUp(t, dir)
	addr := listenAddr(t, stderr)
	base := "http://" + addr + "/ping/cronjob"
	status := func(want string) {
		t.Helper()
		testkit.Eventually(t, "status showing cronjob "+want, func() bool {
			out, _ := quiet(command(t, "status", "--state", stateOf(cmd))).Output()
			return regexp.MustCompile(`cronjob\s+` + want + `\b`).Match(out)
		})
	}
	status("waiting")
	curl(t, base)
	curl(t, base+"/start")
	curl(t, base, "--data-raw", "backup done")
	curl(t, base+"/log", "--data-raw", "disk 91% full")
	waitOutput(t, stderr, "cronjob missed its heartbeat on ")
	waitOutput(t, stderr, "no ping since its last ping at ")
	waitOutput(t, stderr, "disk 91% full")
	status("late")
	curl(t, "http://"+addr+"/ping/any-ping-key/cronjob") // healthchecks.io's slug form
	waitOutput(t, stderr, "cronjob recovered on ")
	status("waiting")

	curl(t, base+"/fail", "--data-raw", "rsync: connection refused")
	waitOutput(t, stderr, "rsync: connection refused")
	status("failed")
	// supervise ping's log, through up's control socket, leaves a message and no
	// more: the ping is taken before ping returns, and the job is failed still (a
	// success would have recovered it at once).
	if out, err := quiet(command(t, "ping", "--state", stateOf(cmd), "-m", "rsync: retrying", "cronjob", "log")).CombinedOutput(); err != nil {
		t.Fatalf("supervise ping cronjob log: %v: %s", err, out)
	}
	if out, _ := quiet(command(t, "status", "--state", stateOf(cmd))).Output(); !regexp.MustCompile(`cronjob\s+failed\b`).Match(out) {
		t.Errorf("after a log ping, status says:\n%s\nwant cronjob failed still", out)
	}
	curl(t, base+"/0?rid=5f1f6c2a-0d1e-4c3b-9a5e-2f4d6b8c0e1a")
	testkit.Eventually(t, "a second recovery", func() bool { return strings.Count(stderr.String(), "cronjob recovered on ") == 2 })

	curl(t, base+"/start?rid=aaaa")
	curl(t, base+"/start?rid=bbbb")
	curl(t, base+"/0?rid=aaaa")
	// The message itself, before the end comes: an alert ended as soon as it is
	// made is told as one "resolved" message instead.
	testkit.Eventually(t, "a message that the run bbbb is late", func() bool {
		return regexp.MustCompile(`cronjob missed its heartbeat on \S+: the run bbbb started at `).MatchString(stderr.String())
	})
	curl(t, base+"/0?rid=bbbb", "-X", http.MethodPost)
	defer onFailure(t, func() string { return "up said:\n" + stderr.String() })
	testkit.Eventually(t, "a third recovery", func() bool { return strings.Count(stderr.String(), "cronjob recovered on ") == 3 })
	if strings.Contains(stderr.String(), "the run aaaa") {
		t.Errorf("the run that ended was told as late:\n%s", stderr.String())
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
}

// A passive job file is checked as good, and `supervise run` of it says there is
// nothing to run, with status 2.
func TestPassiveJobRunAndCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := writeFile(t, dir, "watched.toml", "schedule = \"0 3 * * *\"\n[heartbeat]\ngrace = \"30m\"\n")
	if out, err := quiet(command(t, "check", file)).CombinedOutput(); err != nil {
		t.Errorf("check of a passive job: %v: %s", err, out)
	}
	out, err := quiet(command(t, "run", file)).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "watched is a passive job ([heartbeat] and no command): there is nothing to run") {
		t.Errorf("run of a passive job: %v: %s; want status 2 saying it is passive", err, out)
	}
}
