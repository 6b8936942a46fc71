package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/supervise/supervise/internal/testkit"
)

// A job that pings with `supervise ping` is left alone under up; once it stops, one
// heartbeat message; a ping from outside the job, by its name and up's address, is
// its recovery.
func TestUpSupervisePing(t *testing.T) {
	noTelegram(t)
	dir := t.TempDir()
	writeFile(t, dir, "pinger.toml", `command = '''
i=0
while [ $i -lt 6 ]; do "$SUPERVISE" ping pinger || echo PING FAILED; i=$((i+1)); sleep 0.1; done
echo done pinging
exec sleep 100
'''
env = { SUPERVISE = "`+os.Args[0]+`" }
[heartbeat]
every = "400ms"
grace = "200ms"
`)
	cmd, stdout, stderr := startUp(t, dir)
	waitOutput(t, stdout, "pinger | done pinging")
	if s := stderr.String(); strings.Contains(s, "missed its heartbeat") || strings.Contains(stdout.String(), "PING FAILED") {
		t.Fatalf("a job that pings was reported, or a ping failed:\n%s\n%s", s, stdout.String())
	}
	waitOutput(t, stderr, "pinger missed its heartbeat on ")
	waitOutput(t, stderr, "last sign of life: ping at ")

	addr := regexp.MustCompile(`listening on (\S+)`).FindStringSubmatch(stderr.String())
	if addr == nil {
		t.Fatalf("up does not say where it listens:\n%s", stderr.String())
	}
	if status, _, errs := supervise(t, "ping", "--listen", addr[1], "-m", "back from lunch", "pinger"); status != 0 {
		t.Fatalf("ping from outside: status %d: %s", status, errs)
	}
	waitOutput(t, stderr, "pinger recovered on ")
	// One silence, one message. (After the recovery the job pings no more, so a
	// machine slow to get here may see it fall silent again: that is a second one.)
	before, _, _ := strings.Cut(stderr.String(), "pinger recovered on ")
	if n := strings.Count(before, "missed its heartbeat"); n != 1 {
		t.Errorf("%d heartbeat messages before the recovery, want 1:\n%s", n, stderr.String())
	}
	if status, _, errs := supervise(t, "ping", "--listen", addr[1], "nosuchjob"); status != 1 || !strings.Contains(errs, "404 no job named nosuchjob") {
		t.Errorf("ping of an unknown job: status %d: %s", status, errs)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
}

// A stalled `supervise run` is reported while it still runs, not only when it ends;
// one that pings with `supervise ping` is not.
func TestRunHeartbeat(t *testing.T) {
	noTelegram(t)
	cmd := command(t, "run", "--heartbeat", "300ms", "--name", "stuck", "--", "sh", "-c", "echo working; sleep 30")
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	waitOutput(t, &stderr, "stuck missed its heartbeat on ")
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("supervise run has exited: the message came too late")
	}
	if s := stderr.String(); !strings.Contains(s, "no sign of life yet") || !strings.Contains(s, "| working") {
		t.Errorf("the message should say there was no sign and quote the output:\n%s", s)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()

	script := `for i in 1 2 3 4 5 6; do "` + os.Args[0] + `" ping pinger || exit 9; sleep 0.1; done`
	// Each ping starts this (race-built) test binary, a tenth of a second or more:
	// the heartbeat leaves room for that.
	cmd = command(t, "run", "--heartbeat", "2s", "--name", "pinger", "--notify-on", "failure,heartbeat", "--", "sh", "-c", script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil || strings.Contains(out.String(), "heartbeat") {
		t.Errorf("exit %v, output:\n%s\nwant a quiet success", err, out.String())
	}
}

// A ping's message keeps its end, where the error is, however long the body piped to
// `supervise ping -m -`; and a ping without a message leaves none, so the alert of a
// silence that follows quotes no earlier ping's words: in the messages of supervise
// run, through its own ping URL.
func TestRunPingMessageEnd(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, pings string
		check       func(silence string) bool
	}{
		{"300 KB", `{ head -c 300000 /dev/zero | tr '\0' x; echo; echo "error: the end"; } | "$S" ping -m - pinger`,
			func(m string) bool {
				return strings.Contains(m, "ping message:\n> …xxx") && strings.Contains(m, "x\n> error: the end\n")
			}},
		{"none after one", `"$S" ping -m "first words" pinger && "$S" ping pinger`,
			func(m string) bool {
				return !strings.Contains(m, "ping message") && !strings.Contains(m, "first words\n")
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if m := silenceAfter(t, tc.pings); !strings.Contains(m, "last sign of life: ping at") || !tc.check(m) {
				t.Errorf("the silence after the pings quotes the wrong ping message:\n%.2000s", m)
			}
		})
	}
}

// silenceAfter runs the shell script pings under supervise run with a heartbeat, and
// returns the message that the job's silence after them makes. A slow machine may see
// a silence sooner, while a ping is on its way: the one after is the one wanted.
func silenceAfter(t *testing.T, pings string) string {
	t.Helper()
	cmd := quiet(command(t, "run", "--heartbeat", "1s", "--name", "pinger", "--notify-on", "heartbeat", "--", "sh", "-c", pings+" && echo pinged && exec sleep 30"))
	cmd.Env = append(cmd.Env, "S="+os.Args[0])
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// The job's own line comes before any message that quotes it.
	waitOutput(t, &out, "pinged\n")
	after := func() string { s := out.String(); return s[strings.Index(s, "pinged\n"):] }
	testkit.Eventually(t, "a silence after the pings", func() bool { return strings.Contains(after(), "pinger missed its heartbeat on ") })
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	for _, m := range strings.Split(after(), "supervise: notification")[1:] {
		if strings.Contains(m, "missed its heartbeat") {
			return m
		}
	}
	return ""
}

// A run whose heartbeat cannot be set up stops its notifier as it returns: no
// goroutine of the pipeline is left behind in the process.
func TestRunHeartbeatSetupFailureLeavesNoPipeline(t *testing.T) {
	noTelegram(t)
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "missing"))
	if status, _, stderr := supervise(t, "run", "--heartbeat", "1s", "--", "true"); status != 1 || !strings.Contains(stderr, "heartbeat") {
		t.Fatalf("status %d, stderr %q; want 1 and why", status, stderr)
	}
	testkit.Eventually(t, "no pipeline goroutine left", func() bool {
		buf := make([]byte, 1<<20)
		return !strings.Contains(string(buf[:runtime.Stack(buf, true)]), "notifier.(*Pipeline).run")
	})
}
