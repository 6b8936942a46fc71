package notifier_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/supervise/supervise/notifier"
	"github.com/supervise/supervise/notifier/telegramtest"
	"github.com/supervise/supervise/supervisor"
)

// BenchmarkAlertLatency is the time from a job's failure reaching the notifier to its
// message on the wire: the incident opened, the book written, the message spooled
// (written and synced), sent to the fake Bot API on loopback and answered. Each
// iteration is a job of its own, so each is the first message after a quiet spell.
//
//	go test -run '^$' -bench AlertLatency ./notifier
func BenchmarkAlertLatency(b *testing.B) {
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	state := b.TempDir()
	p := benchPipeline(b, srv, state)
	defer p.Close(context.Background())
	b.ResetTimer()
	for i := range b.N {
		ev := failed(fmt.Sprintf("job%d", i))
		ev.Notify.On = supervisor.DefaultNotifyOn
		p.Emit(ev)
		for len(srv.Messages()) <= i {
			runtime.Gosched()
		}
	}
}

// BenchmarkStormFirstMessage is the time from 1,000 jobs failing at once to the first
// message on the wire, and the heap the pipeline holds for them.
//
//	go test -run '^$' -bench StormFirstMessage -benchtime 5x ./notifier
func BenchmarkStormFirstMessage(b *testing.B) {
	const jobs = 1000
	for range b.N {
		b.StopTimer()
		srv := telegramtest.NewServer(tgToken, tgChat)
		p := benchPipeline(b, srv, b.TempDir())
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
		for len(srv.Messages()) == 0 {
			runtime.Gosched()
		}
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

func benchPipeline(b *testing.B, srv *telegramtest.Server, state string) *notifier.Pipeline {
	b.Helper()
	vars := map[string]string{notifier.EnvToken: tgToken, notifier.EnvChatID: tgChatID, notifier.EnvAPIURL: srv.URL()}
	p, err := notifier.New(nil, func(k string) string { return vars[k] }, notifier.Options{Host: "h",
		SpoolDir: filepath.Join(state, "spool"), Incidents: filepath.Join(state, "incidents.json"),
		PrivatePace: time.Nanosecond, GroupPace: time.Nanosecond})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkExitToWire is the time from a job's exit to its message on the wire, as
// `supervise run -- false` has it: a real process run by the supervisor's Runner (with
// a pty, as run gives it), its end emitted as run emits it, through a pipeline whose
// book and spool are on the real file system, synced, to the fake Bot API on
// loopback. The exit is when the Runner reaped the process (its Start and Duration);
// exit-to-wire-ns is the mean from then to the message in the server. ns/op adds the
// process's start.
//
//	go test -run '^$' -bench ExitToWire ./notifier
func BenchmarkExitToWire(b *testing.B) {
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	p := benchPipeline(b, srv, b.TempDir())
	defer p.Close(context.Background())
	r := &supervisor.Runner{Host: "h", Emit: p.Emit}
	var total, toEmit time.Duration
	b.ResetTimer()
	for i := range b.N {
		job := supervisor.NewJob(fmt.Sprintf("false%d", i), "/bin/false")
		res := r.Run(context.Background(), job, nil)
		emitted := time.Now()
		p.Emit(job.Ended("h", res))
		toEmit += emitted.Sub(res.Start.Add(res.Duration))
		for len(srv.Messages()) <= i {
			runtime.Gosched()
		}
		total += time.Since(res.Start.Add(res.Duration))
	}
	b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "exit-to-wire-ns")
	b.ReportMetric(float64(toEmit.Nanoseconds())/float64(b.N), "exit-to-emit-ns")
}
