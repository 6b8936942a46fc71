package supervisor_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/supervise/supervise/internal/testkit"
	"github.com/supervise/supervise/supervisor"
)

// idleJobs is how many jobs BenchmarkIdleJobs starts at once, as bench/up.sh does.
const idleJobs = 200

// BenchmarkIdleJobs measures what an idle job costs a daemon set up as up sets it
// (output to a writer, logs, NOTIFY_SOCKETs, ping URLs): goroutines, and bytes of heap
// and goroutine stacks in use after a collection, per job, for jobs that sleep
// (plain, and with a [heartbeat]) and jobs scheduled hourly:
//
//	go test -run '^$' -bench IdleJobs -benchtime 1x ./supervisor
func BenchmarkIdleJobs(b *testing.B) {
	kinds := []struct{ name, toml string }{
		{"plain", "command = [\"sleep\", \"100000\"]\nhealthy_after = \"1s\"\n"},
		{"heartbeat", "command = [\"sleep\", \"100000\"]\n[heartbeat]\nevery = \"10m\"\n"},
		{"scheduled", "command = [\"true\"]\nschedule = \"@hourly\"\n"},
	}
	for _, kind := range kinds {
		b.Run(kind.name, func(b *testing.B) {
			dir := b.TempDir()
			jobsDir := filepath.Join(dir, "jobs")
			if err := os.Mkdir(jobsDir, 0o700); err != nil {
				b.Fatal(err)
			}
			for i := range idleJobs {
				if err := os.WriteFile(filepath.Join(jobsDir, fmt.Sprintf("sleeper%d.toml", i)), []byte(kind.toml), 0o600); err != nil {
					b.Fatal(err)
				}
			}
			jobs, err := supervisor.LoadDir(jobsDir)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				goroutines, heap, stack := idleCost(b, dir, jobs)
				b.ReportMetric(goroutines, "goroutines/job")
				b.ReportMetric(heap+stack, "B/job")
				b.ReportMetric(stack, "stack-B/job")
			}
		})
	}
}

// idleCost starts a daemon with jobs, waits until they are idle, and returns what
// each costs beyond what the process used before.
func idleCost(b *testing.B, dir string, jobs []*supervisor.Job) (goroutines, heap, stack float64) {
	state := b.TempDir()
	sockets, err := os.MkdirTemp("", "supervise-bench-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(sockets)
	before, g0 := memStats()
	d := &supervisor.Daemon{Host: "bench", Stdout: io.Discard, Stderr: io.Discard,
		LogDir: filepath.Join(state, "logs"), RunsDir: filepath.Join(state, "runs"),
		NotifyDir: sockets, PingBase: "http://127.0.0.1:1"}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		d.Run(ctx, jobs)
		close(done)
	}()
	defer func() {
		cancel()
		<-done
	}()
	last := -1
	testkit.EventuallyWithin(b, time.Minute, "every job running or scheduled, and no goroutine more", func() bool {
		for _, st := range d.Status() {
			if (st.State != supervisor.StateRunning || st.PID == 0) && st.State != supervisor.StateScheduled {
				return false
			}
		}
		n := runtime.NumGoroutine()
		settled := n == last
		last = n
		return settled
	})
	after, g1 := memStats()
	n := float64(len(jobs))
	return float64(g1-g0) / n, float64(int64(after.HeapInuse)-int64(before.HeapInuse)) / n,
		float64(int64(after.StackInuse)-int64(before.StackInuse)) / n
}

// memStats collects garbage, then reads the memory in use and counts the goroutines.
func memStats() (runtime.MemStats, int) {
	runtime.GC()
	runtime.GC() // what the first one's finalizers freed
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m, runtime.NumGoroutine()
}
