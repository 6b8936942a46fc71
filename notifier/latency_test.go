package notifier_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/supervise/supervise/notifier"
	"github.com/supervise/supervise/notifier/telegramtest"
	"github.com/supervise/supervise/supervisor"
)

// The benchmarks of this file keep the book (STATE/incidents.json) and the spool in a
// folder of the real file system (b.TempDir: check that TMPDIR is no tmpfs), synced as
// in production, and time a message on the wire by when the fake Bot API on loopback
// accepted it (Arrivals), waited for without spinning, so no CPU is taken from what
// is measured.

// BenchmarkAlertLatency is the time from a job's failure reaching the notifier (Emit)
// to its message on the wire: the incident opened, the book written, the message
// spooled, sent and accepted. Each iteration is a pipeline of its own, as each
// `supervise run` is, on a host with no incident open; emit-to-wire-ns is the mean.
//
//	go test -run '^$' -bench AlertLatency ./notifier
func BenchmarkAlertLatency(b *testing.B) {
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	arrived := srv.Arrivals(b.N)
	var total time.Duration
	for i := range b.N {
		b.StopTimer()
		p := benchPipeline(b, srv, b.TempDir(), time.Nanosecond)
		ev := failed(fmt.Sprintf("job%d", i))
		ev.Notify.On = supervisor.DefaultNotifyOn
		b.StartTimer()
		emitted := time.Now()
		p.Emit(ev)
		total += (<-arrived).Sub(emitted)
		b.StopTimer()
		p.Close(context.Background()) // what follows the send: the message_id kept
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "emit-to-wire-ns")
}

// BenchmarkExitToWire is the time from a job's exit to its message on the wire, as
// `supervise run -- false` has it: a real process run by the supervisor's Runner (with
// a pty, as run gives it), its end emitted as run emits it, to a pipeline of its own
// on a host with no incident open. The exit is when the Runner reaped the process (its
// Start and Duration); exit-to-wire-ns is the mean from then to the message accepted,
// exit-to-emit-ns the part before Emit. ns/op adds the process's start.
//
//	go test -run '^$' -bench ExitToWire ./notifier
func BenchmarkExitToWire(b *testing.B) {
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	arrived := srv.Arrivals(b.N)
	var total, toEmit time.Duration
	for i := range b.N {
		b.StopTimer()
		p := benchPipeline(b, srv, b.TempDir(), time.Nanosecond)
		r := &supervisor.Runner{Host: "h", Emit: p.Emit}
		job := supervisor.NewJob(fmt.Sprintf("false%d", i), "/bin/false")
		b.StartTimer()
		res := r.Run(context.Background(), job, nil)
		exited := res.Start.Add(res.Duration)
		toEmit += time.Since(exited)
		p.Emit(job.Ended("h", res))
		total += (<-arrived).Sub(exited)
		b.StopTimer()
		p.Close(context.Background())
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "exit-to-wire-ns")
	b.ReportMetric(float64(toEmit.Nanoseconds())/float64(b.N), "exit-to-emit-ns")
}

// BenchmarkStormFirstMessage is the time from 1,000 jobs failing at once to the first
// message on the wire, and the heap the pipeline holds for them then.
//
//	go test -run '^$' -bench StormFirstMessage -benchtime 5x ./notifier
func BenchmarkStormFirstMessage(b *testing.B) {
	const jobs = 1000
	for range b.N {
		b.StopTimer()
		srv := telegramtest.NewServer(tgToken, tgChat)
		arrived := srv.Arrivals(1)
		p := benchPipeline(b, srv, b.TempDir(), time.Nanosecond)
		var before runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		for j := range jobs {
			ev := failed(fmt.Sprintf("job%04d", j))
			ev.Notify.On = supervisor.DefaultNotifyOn
			ev.Output = make([]byte, 16<<10) // a full tail each
			p.Emit(ev)
		}
		<-arrived
		b.StopTimer()
		var after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-min(before.HeapAlloc, after.HeapAlloc))/jobs, "heap-B/job")
		p.Close(context.Background())
		srv.Close()
		b.StartTimer()
	}
}

// BenchmarkStormMemory is the heap that jobs failing at once, each with 16 KiB of
// output, take, at Telegram's own pace (a message a second to a private chat), from
// before the first until every one is an open incident and the first message is on the
// wire: what waits then is the backlog. held-B/job is the live heap then, less the
// heap before, by job; peak-B/job the most the heap held live meanwhile, as the
// collector found it. A pipeline whose memory is bounded holds no more for each of
// 10,000 jobs than for each of 1,000. first-message-ns is from the first failure to the
// first message.
//
//	go test -run '^$' -bench StormMemory -benchtime 1x ./notifier
func BenchmarkStormMemory(b *testing.B) {
	for _, jobs := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("jobs=%d", jobs), func(b *testing.B) {
			var first time.Duration
			var held, peak uint64
			for range b.N {
				srv := telegramtest.NewServer(tgToken, tgChat)
				arrived := srv.Arrivals(1)
				state := b.TempDir()
				p := benchPipeline(b, srv, state, 0)
				runtime.GC()
				base := liveHeap()
				var top atomic.Uint64
				stop := make(chan struct{})
				sampled := make(chan struct{})
				go func() { // samples the live heap until stop
					defer close(sampled)
					for {
						top.Store(max(top.Load(), liveHeap()))
						select {
						case <-stop:
							return
						case <-time.After(time.Millisecond):
						}
					}
				}()
				start := time.Now()
				for j := range jobs {
					ev := failed(fmt.Sprintf("job%05d", j))
					ev.Notify.On = supervisor.DefaultNotifyOn
					ev.Output = []byte(strings.Repeat(fmt.Sprintf("job%05d: a line of output\n", j), (16<<10)/26))
					p.Emit(ev)
				}
				first += (<-arrived).Sub(start)
				for notifier.OpenIncidents(p) < jobs {
					runtime.Gosched()
				}
				close(stop)
				<-sampled
				runtime.GC()
				now := liveHeap()
				held += now - min(base, now)
				peak += max(top.Load(), now) - min(base, now)
				ctx, cancel := context.WithCancel(context.Background())
				cancel() // what waits is left in the spool
				p.Close(ctx)
				srv.Close()
				os.RemoveAll(state)
			}
			b.ReportMetric(float64(first.Nanoseconds())/float64(b.N), "first-message-ns")
			b.ReportMetric(float64(held)/float64(b.N)/float64(jobs), "held-B/job")
			b.ReportMetric(float64(peak)/float64(b.N)/float64(jobs), "peak-B/job")
		})
	}
}

// liveHeap is the heap the last collection found live.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// benchPipeline is a pipeline to srv with its book and spool in state, at pace (zero:
// Telegram's).
func benchPipeline(b *testing.B, srv *telegramtest.Server, state string, pace time.Duration) *notifier.Pipeline {
	b.Helper()
	vars := map[string]string{notifier.EnvToken: tgToken, notifier.EnvChatID: tgChatID, notifier.EnvAPIURL: srv.URL()}
	p, err := notifier.New(nil, func(k string) string { return vars[k] }, notifier.Options{Host: "h",
		SpoolDir: filepath.Join(state, "spool"), Incidents: filepath.Join(state, "incidents.json"),
		PrivatePace: pace, GroupPace: pace})
	if err != nil {
		b.Fatal(err)
	}
	return p
}
