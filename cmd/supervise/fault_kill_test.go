package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/supervise/supervise/internal/testkit"
	"github.com/supervise/supervise/notifier/telegramtest"
)

// kill -9 of up: while it sends an alert, and while it writes the spool. The next up
// on the same state folder delivers what the killed one had not.

func TestFaultKilledUpWhileSending(t *testing.T) {
	f := newFaultTest(t)
	srv := telegramBack(t)
	jobs := t.TempDir()
	once := filepath.Join(t.TempDir(), "failed")
	for _, tc := range []struct {
		job   string
		stall telegramtest.Fault
		want  int // copies of the alert in the chat in the end
	}{
		{"first", telegramtest.Fault{Stall: true}, 1},               // Telegram had not taken it
		{"second", telegramtest.Fault{Stall: true, Taken: true}, 2}, // it had, but its answer never came
	} {
		// The job fails the first time it runs, and stays up after that, so that the
		// up after the kill adds no alert of its own. Each case has a job of its own,
		// so that its alert is a new message, not an edit of the last case's.
		os.RemoveAll(jobs)
		os.Mkdir(jobs, 0o755)
		writeFile(t, jobs, tc.job+".toml", fmt.Sprintf(
			"command = \"if [ -e %[1]s ]; then exec sleep 100; fi; touch %[1]s; echo 'error: no data'; exit 3\"\nrestart = \"never\"\nhealthy_after = \"1h\"\n", once))
		os.Remove(once)
		srv.Fail(tc.stall)
		failed := tc.job + " failed"
		before := count(srv, failed)
		c := f.command(srv.URL(), backTimeout, "up", "--jobs", jobs, "--listen", "127.0.0.1:0")
		stdout, stderr := f.start(c)
		defer onFailure(t, func() string { return "the killed up's output:\n" + stdout.String() + stderr.String() })
		testkit.Eventually(t, "the alert at Telegram, held there, and in the spool", func() bool {
			return srv.Requests() > 0 && f.spooled() >= 1 && strings.Contains(stdout.String(), "error: no data") &&
				(!tc.stall.Taken || count(srv, failed) == before+1)
		})
		c.Process.Signal(syscall.SIGKILL)
		c.Wait()
		srv.ClearFaults()

		again := f.command(srv.URL(), backTimeout, "up", "--jobs", jobs, "--listen", "127.0.0.1:0")
		_, errs := f.start(again)
		testkit.Eventually(t, "the spool delivered by the next up", func() bool {
			return f.spooled() == 0 && count(srv, failed) == before+tc.want
		})
		waitOutput(t, errs, " jobs from ")
		again.Process.Signal(syscall.SIGTERM)
		if err := again.Wait(); err != nil {
			t.Errorf("the next up: %v; stderr:\n%s", err, errs.String())
		}
		if n := count(srv, failed); n != before+tc.want {
			t.Errorf("with %+v, the chat has the alert %d times, want %d", tc.stall, n-before, tc.want)
		}
		if strings.Contains(stderr.String()+errs.String(), "set aside") {
			t.Errorf("a spool file was set aside:\n%s%s", stderr, errs)
		}
	}
	f.fault(testkit.FaultRow{
		Fault:   "`kill -9` of `supervise up` while Telegram holds its alert",
		Outcome: "the alert waits in STATE/spool; the next up sends it at its start",
		Lost:    "nothing; one duplicate when Telegram had taken the alert before the kill",
	})
}

// up is killed while it writes a crash loop's alerts to the spool, Telegram being
// down: as soon as a message's file is seen being written, or as soon as one more is
// in place. A kill leaves only whole messages (a file is written, synced and
// renamed into place), and the next up sends them all.
func TestFaultKilledUpWhileSpooling(t *testing.T) {
	f := newFaultTest(t)
	down := "http://" + closedPort(t)
	jobs := t.TempDir()
	writeFile(t, jobs, "flaky.toml", "command = \"echo 'error: flaky'; exit 1\"\n[backoff]\ninitial = \"10ms\"\nmax = \"50ms\"\n")
	spool := filepath.Join(f.state, "spool")
	const kills = 8
	midWrite := 0 // kills that came while a message's file was being written
	for i := range kills {
		c := f.command(down, time.Second, "up", "--jobs", jobs, "--listen", "127.0.0.1:0")
		_, stderr := f.start(c)
		// Every other kill comes as soon as a message's file is seen being written;
		// the others as soon as one more message is in place, amid the writes that
		// follow it.
		had, mid := f.spooled(), i%2 == 0
		deadline := time.Now().Add(10 * time.Second)
		for mid && !writing(spool) || !mid && f.spooled() == had {
			if time.Now().After(deadline) {
				t.Fatalf("not within 10s: a message of flaky being spooled by up %d; its stderr:\n%s", i, stderr)
			}
		}
		if mid {
			midWrite++
		}
		c.Process.Signal(syscall.SIGKILL)
		c.Wait()
		checkSpoolWhole(t, spool, i)
		lockFreed(t, filepath.Join(f.state, "supervise.sock.lock"))
	}
	queued := f.spooled()
	srv := telegramBack(t)
	os.Remove(filepath.Join(jobs, "flaky.toml")) // the next up only delivers
	again := f.command(srv.URL(), backTimeout, "up", "--jobs", jobs, "--listen", "127.0.0.1:0")
	_, errs := f.start(again)
	testkit.EventuallyWithin(t, time.Minute, "every spooled message delivered", func() bool { return f.spooled() == 0 })
	waitOutput(t, errs, " jobs from ")
	again.Process.Signal(syscall.SIGTERM)
	if err := again.Wait(); err != nil {
		t.Errorf("the next up: %v; stderr:\n%s", err, errs.String())
	}
	// A message written whole but not yet renamed was put in place and sent; only
	// one whose bytes were not all written may be left.
	entries, _ := os.ReadDir(spool)
	for _, e := range entries {
		if data, _ := os.ReadFile(filepath.Join(spool, e.Name())); strings.HasPrefix(e.Name(), ".new-") && json.Valid(data) {
			t.Errorf("%s holds a whole message the next up did not send: %s", e.Name(), data)
		}
	}
	if queued == 0 || count(srv, "flaky") == 0 || strings.Contains(errs.String(), "set aside") {
		t.Errorf("the chat got %d messages about flaky from %d spooled; stderr:\n%s", count(srv, "flaky"), queued, errs)
	}
	t.Logf("%d kills, %d of them while a message was being written, left %d messages in the spool; the next up sent %d messages",
		kills, midWrite, queued, len(srv.Messages()))
	f.fault(testkit.FaultRow{
		Fault:   "`kill -9` of `supervise up` while it writes a message to the spool (4 times), and just after (4 times)",
		Outcome: "the spool holds only whole messages (each is written, synced and renamed into place); the next up puts one written but not yet renamed in its place, and sends them all",
		Lost:    "nothing that reached the disk; a message whose bytes were not all written dies with up, as any event not yet written does",
	})
}

// writing reports whether a message's file is being written in the spool folder:
// one not yet renamed into place.
func writing(dir string) bool {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".new-") {
			return true
		}
	}
	return false
}

// checkSpoolWhole checks that every message in the spool folder is whole JSON; a
// file not yet renamed into place (".new-*") is not a message.
func checkSpoolWhole(t *testing.T, dir string, kill int) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil || !json.Valid(data) {
			t.Errorf("after kill %d, %s is not a whole message (%v): %q", kill, e.Name(), err, data)
		}
	}
}

// lockFreed waits until no process holds the lock of a killed up's control socket: a
// job it was starting holds the file, as every file of up, from its fork until its
// exec closes them.
func lockFreed(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	testkit.Eventually(t, "the killed up's lock free", func() bool {
		return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil
	})
}
