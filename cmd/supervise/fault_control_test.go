package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/supervise/supervise/control"
	"github.com/supervise/supervise/internal/testkit"
	"github.com/supervise/supervise/notifier/telegramtest"
	"github.com/supervise/supervise/supervisor"
)

// The abuse the control socket takes in TestFaultControlSocketAbuse.
const (
	abuseHanging = 300 // connections that send part of a request, or all of one, and hang on
	abuseGarbage = 8   // clients sending garbage, each one connection after another
	abuseStatus  = 16  // clients asking for the status, one request after another
	// statusDeadline is how soon `supervise status` must answer under the abuse: it
	// takes well under a second, but starting a process of a -race binary on a
	// loaded machine can take seconds.
	statusDeadline = 15 * time.Second
)

// hangs are what a hanging connection sends before it waits: nothing, half a request
// line, half the headers, half a body to a handler that reads one and to one that
// does not, and a whole request after which a client that keeps connections alive
// waits for the next.
var hangs = []string{
	"",
	"GET /v1/sta",
	"GET /v1/status HTTP/1.1\r\nHost: supervise\r\nX-Half: ",
	"GET /v1/status HTTP/1.1\r\nHost: supervise\r\nX-Huge: " + strings.Repeat("h", 1000<<10),
	"POST /ping/victim HTTP/1.1\r\nHost: supervise\r\nContent-Length: 1000\r\n\r\nhalf a bo",
	"GET /v1/status HTTP/1.1\r\nHost: supervise\r\nContent-Length: 1000\r\n\r\nhalf a bo",
	"GET /v1/status HTTP/1.1\r\nHost: supervise\r\n\r\n",
}

// garbage is what the garbage clients send, one after another: random bytes, bad
// HTTP, a huge header, huge bodies, none of which asks up to do anything.
func garbage() [][]byte {
	random := make([]byte, 64<<10)
	rand.Read(random)
	return [][]byte{
		random,
		[]byte("HELLO supervise\r\n\r\n"),
		[]byte("GET /v1/status HTTP/9.9\r\nHost: supervise\r\nbad header line\r\n\r\n"),
		[]byte("GET /v1/status HTTP/1.1\r\nHost: supervise\r\nX-Huge: " + strings.Repeat("h", 4<<20) + "\r\n\r\n"),
		append([]byte("GET /v1/status HTTP/1.1\r\nHost: supervise\r\nContent-Length: 67108864\r\n\r\n"), make([]byte, 8<<20)...),
		append([]byte("POST /ping/victim HTTP/1.1\r\nHost: supervise\r\nTransfer-Encoding: chunked\r\n\r\n800000\r\n"), make([]byte, 8<<20)...),
	}
}

// openFDs counts the files pid has open.
func openFDs(pid int) int {
	entries, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(entries)
}

// The control socket under abuse: hundreds of connections hanging on, garbage, and a
// flood of status requests. Jobs go on being supervised, a death is still told,
// `supervise status` answers, and up lets go of what the abusers held.
func TestFaultControlSocketAbuse(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	dir := t.TempDir()
	writeFile(t, dir, "restarter.toml", "command = \"echo run; sleep 0.2\"\nrestart = \"always\"\npty = false\n[backoff]\ninitial = \"100ms\"\nmax = \"200ms\"\n")
	writeFile(t, dir, "ticker.toml", "command = \"echo tick\"\nschedule = \"@every 1s\"\npty = false\n")
	writeFile(t, dir, "victim.toml", "command = \"exec sleep 1000\"\npty = false\n")
	state := t.TempDir()
	cmd, stdout, stderr := startBotUp(t, srv, dir, "--state", state)
	defer onFailure(t, func() string { return "up's stderr:\n" + stderr.String() })
	waitOutput(t, stderr, ".sock\n")
	socket := filepath.Join(state, "supervise.sock")
	client := control.NewClient(socket)
	up := cmd.Process.Pid

	runs := func(line string) int { return strings.Count(stdout.String(), line) }
	testkit.Eventually(t, "restarter restarted, ticker ran", func() bool { return runs("restarter | run\n") >= 3 && runs("ticker | tick\n") >= 1 })
	victim := func() int {
		st, err := client.Status(context.Background())
		if err != nil {
			t.Fatalf("status: %v", err)
		}
		for _, j := range st.Jobs {
			if j.Name == "victim" && j.State == supervisor.StateRunning {
				return j.PID
			}
		}
		return 0
	}
	var pid int
	testkit.Eventually(t, "victim running", func() bool { pid = victim(); return pid > 0 })
	// The restarter's pipes come and go, so this count may hold a few of them; the
	// checks against it wait (Eventually) for a moment when up holds no more, with a
	// margin of 5 for them.
	before := openFDs(up)

	begin := time.Now()
	// Hanging connections, held open by the test until the end.
	held := make([]net.Conn, abuseHanging)
	defer func() {
		for _, c := range held {
			if c != nil {
				c.Close()
			}
		}
	}()
	var opened sync.WaitGroup
	for i := range held {
		opened.Go(func() {
			c, err := net.Dial("unix", socket)
			if err != nil {
				t.Errorf("hanging connection %d: %v", i, err)
				return
			}
			held[i] = c
			io.WriteString(c, hangs[i%len(hangs)]) // up may refuse it before all is sent
		})
	}
	opened.Wait()
	if t.Failed() {
		t.FailNow()
	}
	var peak atomic.Int64
	sample := func() { peak.Store(max(peak.Load(), int64(openFDs(up)))) }
	// Those that send nothing, half a request line or half the headers wait for the
	// server's ReadHeaderTimeout: up holds them all for a while.
	testkit.Eventually(t, "up to hold the hanging connections", func() bool {
		sample()
		return peak.Load() >= int64(before+3*abuseHanging/len(hangs))
	})

	// Garbage and a flood of status requests, until stop.
	junk := garbage()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var garbageSent, statusDone, statusFailed atomic.Int64
	var slowest atomic.Int64 // of the flood's status requests, in ns
	for g := range abuseGarbage {
		wg.Go(func() {
			for i := g; ; i += abuseGarbage {
				select {
				case <-stop:
					return
				default:
				}
				c, err := net.Dial("unix", socket)
				if err != nil {
					continue
				}
				c.SetDeadline(time.Now().Add(5 * time.Second))
				c.Write(junk[i%len(junk)]) // up may close before all is sent
				io.Copy(io.Discard, c)
				c.Close()
				garbageSent.Add(1)
			}
		})
	}
	for range abuseStatus {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), statusDeadline)
				start := time.Now()
				_, err := client.Status(ctx)
				cancel()
				took := time.Since(start)
				for old := slowest.Load(); int64(took) > old && !slowest.CompareAndSwap(old, int64(took)); old = slowest.Load() {
				}
				if err != nil {
					statusFailed.Add(1)
				}
				statusDone.Add(1)
			}
		})
	}

	// Meanwhile, `supervise status` answers, and jobs are supervised: the restarter
	// restarts, the ticker runs, and a death is told in the chat.
	var statusTook []time.Duration
	for range 3 {
		st := quiet(command(t, "status", "--state", state))
		var out bytes.Buffer
		st.Stdout, st.Stderr = &out, &out
		start := time.Now()
		if err := st.Start(); err != nil {
			t.Fatal(err)
		}
		timer := time.AfterFunc(statusDeadline, func() { st.Process.Kill() })
		err := st.Wait()
		timer.Stop()
		statusTook = append(statusTook, time.Since(start))
		if err != nil || !strings.Contains(out.String(), "restarter") {
			t.Fatalf("supervise status under abuse: %v after %v, want an answer within %v:\n%s", err, time.Since(start), statusDeadline, out.String())
		}
		sample()
	}
	restarts, ticks := runs("restarter | run\n"), runs("ticker | tick\n")
	syscall.Kill(pid, syscall.SIGKILL)
	testkit.Eventually(t, "victim's death told in the chat", func() bool {
		sample()
		for _, m := range srv.Messages() {
			if strings.Contains(m.Text, "victim failed") && strings.Contains(m.Text, "SIGKILL") {
				return true
			}
		}
		return false
	})
	testkit.Eventually(t, "victim restarted", func() bool { p := victim(); return p > 0 && p != pid })
	testkit.Eventually(t, "the restarter restarting, the ticker ticking", func() bool {
		sample()
		return runs("restarter | run\n") >= restarts+3 && runs("ticker | tick\n") >= ticks+2
	})
	close(stop)
	wg.Wait()
	sample()
	if n := statusFailed.Load(); n > 0 {
		t.Errorf("%d of %d status requests of the flood failed", n, statusDone.Load())
	}

	// up lets go of the connections that hang, though their clients still hold them.
	var during int
	defer onFailure(t, func() string { return fmt.Sprintf("up holds %d files, %d before the abuse", during, before) })
	testkit.EventuallyWithin(t, 30*time.Second, "up to let go of the hanging connections", func() bool {
		during = openFDs(up)
		return during <= before+5
	})
	letGo := time.Since(begin)
	for i, c := range held {
		c.Close()
		held[i] = nil
	}
	var after int
	testkit.Eventually(t, "up's files back to where they were", func() bool {
		after = openFDs(up)
		return after <= before+5
	})
	// Hanging connections that each sent nearly a megabyte of headers cost up no more
	// than the headers it takes.
	hwm := procKB(procStatus(up), "VmHWM")
	if hwm <= 0 || hwm*1024 > maxAbuseHWM {
		t.Errorf("up's peak resident memory is %d kB, want it under %d MiB", hwm, maxAbuseHWM>>20)
	}
	t.Logf("files open in up: %d before, %d at the peak, %d with the hanging connections still held (%v after they were opened), %d after; "+
		"supervise status answered in %v under abuse; the flood's %d status requests took at most %v; %d garbage requests; up's VmHWM %d kB",
		before, peak.Load(), during, letGo.Round(time.Millisecond), after, statusTook, statusDone.Load(), time.Duration(slowest.Load()).Round(time.Millisecond),
		garbageSent.Load(), hwm)

	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit %v after SIGTERM, want 0", err)
	}
	testkit.Fault(t, testkit.FaultRow{
		Fault:   "the control socket under abuse: hundreds of hanging connections, garbage, a flood of status requests",
		Outcome: "jobs go on being supervised and alerted; `status` answers; up closes what hangs and holds no more files than before",
		Lost:    "nothing",
	}, tgToken, []byte(stdout.String()), []byte(stderr.String()), testkit.Tree(t, state))
}
