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
