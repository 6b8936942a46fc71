package control

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/supervise/supervise/supervisor"
)

// BenchmarkStatusScale answers `supervise status --json` for an up of 10,000 jobs:
// scheduled ones, which run no process, so that the answer is measured, not the
// machine's fork rate (bench/scale.sh measures it with jobs that run).
func BenchmarkStatusScale(b *testing.B) {
	const n = 10000
	yearly, err := supervisor.ParseSchedule("@yearly", time.UTC)
	if err != nil {
		b.Fatal(err)
	}
	var jobs []*supervisor.Job
	for i := range n {
		job := supervisor.NewJob(fmt.Sprintf("job%05d", i), "true")
		job.Schedule = yearly
		jobs = append(jobs, job)
	}
	d := &supervisor.Daemon{Host: "bench", Stdout: io.Discard, Stderr: io.Discard}
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
	<-d.Started()
	s := &Server{Daemon: d, Started: time.Now(), Stderr: io.Discard}
	var size int
	for b.Loop() {
		rec := httptest.NewRecorder()
		s.status(rec, httptest.NewRequest(http.MethodGet, "/v1/status", nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
		size = rec.Body.Len()
	}
	b.ReportMetric(float64(size), "bytes/answer")
}
