package main

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/supervise/supervise/internal/testkit"
	"github.com/supervise/supervise/notifier/telegramtest"
)

// The state folder on a file system that is full, or read-only: jobs run and keep
// their status, and their alerts reach the chat unspooled, or stderr in full when
// Telegram is down too.

// smallFS mounts a tmpfs of 64 KiB for the test and returns it; it skips the test
// where mounts cannot be made (not root).
func smallFS(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small file system needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// fill fills the file system of dir, so that no write there gets a byte more.
func fill(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	block := make([]byte, 4096)
	for {
		if _, err := f.Write(block); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return
		}
	}
}

// readOnly makes the file system mounted at dir read-only.
func readOnly(t *testing.T, dir string) {
	t.Helper()
	if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Fatalf("remount %s read-only: %v", dir, err)
	}
}

// deadAPI points the bot at a port where nothing listens: Telegram is down.
func deadAPI(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	t.Setenv("SUPERVISE_TELEGRAM_API_URL", "http://"+ln.Addr().String())
}

// faultyState runs a failing job under run and under up with the state folder in
// broken, once with Telegram answering and once (run) with it down, and checks that
// the job ran and the alert was not lost. It returns every output, for the token
// check.
func faultyState(t *testing.T, broken string) [][]byte {
	var outputs [][]byte
	failing := []string{"run", "--state", broken, "--name", "backup", "--", "sh", "-c", "echo 'error: disk full'; exit 3"}

	srv := telegram(t)
	t.Setenv("SUPERVISE_TELEGRAM_TIMEOUT", "2s")
	status, stdout, stderr := supervise(t, failing...)
	outputs = append(outputs, []byte(stdout), []byte(stderr))
	if status != 3 || !strings.Contains(stdout, "error: disk full") {
		t.Errorf("run: status %d, stdout %q; want the job run, and its status 3", status, stdout)
	}
	if ms := srv.Messages(); len(ms) != 1 || !strings.Contains(ms[0].Text, "backup failed") || !strings.Contains(ms[0].Text, "error: disk full") {
		t.Errorf("run: the chat got %+v; want the alert, sent without the spool; stderr:\n%s", ms, stderr)
	}

	deadAPI(t)
	t.Setenv("SUPERVISE_TELEGRAM_TOKEN", tgToken) // run takes it out of its environment
	began := time.Now()
	status, stdout, stderr = supervise(t, failing...)
	outputs = append(outputs, []byte(stdout), []byte(stderr))
	if status != 3 || !strings.Contains(stderr, "backup failed") || !strings.Contains(stderr, "| error: disk full") {
		t.Errorf("run with Telegram down: status %d, stderr %q; want 3 and the alert in full", status, stderr)
	}
	t.Logf("run with Telegram down too took %v", time.Since(began).Round(time.Millisecond))

	srv2 := telegramtest.NewServer(tgToken, tgChat)
	t.Cleanup(srv2.Close)
	jobs := t.TempDir()
	writeFile(t, jobs, "web.toml", `command = "echo web is up; exec sleep 100"`)
	writeFile(t, jobs, "report.toml", "command = \"echo 'error: no data'; exit 3\"\nrestart = \"never\"\n")
	_, upOut, upErr := startBotUp(t, srv2, jobs, "--state", broken)
	waitOutput(t, upOut, "web | web is up")
	testkit.Eventually(t, "report's alert in the chat", func() bool {
		ms := srv2.Messages()
		return len(ms) > 0 && strings.Contains(ms[0].Text, "report failed") && strings.Contains(ms[0].Text, "error: no data")
	})
	return append(outputs, []byte(upOut.String()), []byte(upErr.String()), testkit.Tree(t, broken))
}

func TestFaultStateFull(t *testing.T) {
	dir := smallFS(t)
	fill(t, dir)
	outputs := faultyState(t, dir)
	testkit.Fault(t, testkit.FaultRow{
		Fault:   "STATE on a full file system",
		Outcome: "jobs run and keep their status; each write that fails is said on stderr; alerts go to Telegram without the spool, or to stderr in full when Telegram is down too",
		Lost:    "nothing; with Telegram down too, the alert is on stderr only (cron mails it, journald keeps it)",
	}, tgToken, outputs...)
}

func TestFaultStateReadOnly(t *testing.T) {
	dir := smallFS(t)
	readOnly(t, dir)
	outputs := faultyState(t, dir)
	testkit.Fault(t, testkit.FaultRow{
		Fault:   "STATE on a read-only file system",
		Outcome: "as on a full one; up runs its jobs without a control socket and says so",
		Lost:    "nothing; with Telegram down too, the alert is on stderr only",
	}, tgToken, outputs...)
}
