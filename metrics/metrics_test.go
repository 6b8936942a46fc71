package metrics_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/supervise/supervise/internal/testkit"
	"github.com/supervise/supervise/metrics"
	"github.com/supervise/supervise/notifier"
	"github.com/supervise/supervise/supervisor"
)

// reporter is a notifier that says how it fares, as the Telegram notifier does.
type reporter struct{ status notifier.DeliveryStatus }

func (r *reporter) Delivery() (notifier.DeliveryStatus, bool) { return r.status, true }

// silent is a notifier that cannot say how it fares, as the console.
func silent() (notifier.DeliveryStatus, bool) { return notifier.DeliveryStatus{}, false }

// scrape gets h's metrics, as Prometheus does, and parses them.
func scrape(t testing.TB, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return families
}

// values returns a family's samples by their labels ("result=sent"), as text.
func values(mf *dto.MetricFamily) map[string]string {
	out := map[string]string{}
	for _, m := range mf.GetMetric() {
		var labels []string
		for _, l := range m.GetLabel() {
			labels = append(labels, l.GetName()+"="+l.GetValue())
		}
		v := m.GetGauge().GetValue()
		if mf.GetType() == dto.MetricType_COUNTER {
			v = m.GetCounter().GetValue()
		}
		out[strings.Join(labels, ",")] = fmt.Sprint(v)
	}
	return out
}

// The notifier's metrics come from its Delivery at each scrape; the three results
// have a series from 0.
func TestNotifierMetrics(t *testing.T) {
	t.Parallel()
	n := &reporter{notifier.DeliveryStatus{Telegram: true, Spooled: 2, Results: map[string]int{"sent": 7, "failed": 1}}}
	h := metrics.Handler(&supervisor.Daemon{}, n.Delivery)

	families := scrape(t, h)
	for _, tc := range []struct {
		name string
		typ  dto.MetricType
		want map[string]string
	}{
		{"supervise_notifications_total", dto.MetricType_COUNTER, map[string]string{"result=sent": "7", "result=failed": "1", "result=dropped": "0"}},
		{"supervise_spool_messages", dto.MetricType_GAUGE, map[string]string{"": "2"}},
	} {
		mf := families[tc.name]
		if mf == nil {
			t.Errorf("no %s", tc.name)
			continue
		}
		if got := values(mf); mf.GetType() != tc.typ || fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: %s %v, want %s %v", tc.name, mf.GetType(), got, tc.typ, tc.want)
		}
	}

	n.status.Results["dropped"] = 3
	n.status.Spooled = 0
	families = scrape(t, h)
	if got := values(families["supervise_notifications_total"])["result=dropped"]; got != "3" {
		t.Errorf("dropped %s after 3 were, want 3", got)
	}
	if got := values(families["supervise_spool_messages"])[""]; got != "0" {
		t.Errorf("spool %s once emptied, want 0", got)
	}
}

// Alertmanager's posts have metrics of their own; with Alertmanager alone, there are
// no Telegram ones, which would look like a Telegram that sends nothing.
func TestAlertmanagerMetrics(t *testing.T) {
	t.Parallel()
	n := &reporter{notifier.DeliveryStatus{Alertmanager: &notifier.AlertStatus{Firing: 2, Waiting: 1, Results: map[string]int{"sent": 5, "failed": 3}}}}
	families := scrape(t, metrics.Handler(&supervisor.Daemon{}, n.Delivery))
	for name, want := range map[string]string{
		"supervise_alertmanager_posts_total":    "map[result=failed:3 result=sent:5]",
		"supervise_alertmanager_alerts_firing":  "map[:2]",
		"supervise_alertmanager_alerts_waiting": "map[:1]",
	} {
		if mf := families[name]; mf == nil || fmt.Sprint(values(mf)) != want {
			t.Errorf("%s: %v, want %s", name, values(mf), want)
		}
	}
	for _, name := range []string{"supervise_notifications_total", "supervise_spool_messages"} {
		if families[name] != nil {
			t.Errorf("%s with Alertmanager alone", name)
		}
	}
}

// A notifier that cannot say how it fares has no metrics rather than zeros, which
// would look like a healthy one.
func TestNotifierMetricsWithoutDelivery(t *testing.T) {
	t.Parallel()
	families := scrape(t, metrics.Handler(&supervisor.Daemon{}, silent))
	for _, name := range []string{"supervise_notifications_total", "supervise_spool_messages"} {
		if families[name] != nil {
			t.Errorf("%s from a notifier without Delivery", name)
		}
	}
	if families["process_resident_memory_bytes"] == nil {
		t.Error("no process metrics")
	}
}

// BenchmarkScrape measures one scrape of an up with 200 idle daemons, each with a
// heartbeat (so each has every series a running job has):
//
//	go test -run '^$' -bench Scrape ./metrics
func BenchmarkScrape(b *testing.B) {
	const n = 200
	var jobs []*supervisor.Job
	for i := range n {
		job := supervisor.NewJob(fmt.Sprintf("sleeper%d", i), supervisor.ShellCommand("echo up; exec sleep 100000")...)
		job.Heartbeat = &supervisor.Heartbeat{Every: time.Hour, Grace: time.Minute, Output: true}
		jobs = append(jobs, job)
	}
	n8r := &reporter{notifier.DeliveryStatus{Telegram: true, Spooled: 1, Results: map[string]int{"sent": 10}}}
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
	testkit.EventuallyWithin(b, 30*time.Second, fmt.Sprintf("the %d jobs all running and each with a line written", n), func() bool {
		return allBeating(d.Status(), n)
	})

	h := metrics.Handler(d, n8r.Delivery)
	var size int
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
		size = rec.Body.Len()
	}
	b.ReportMetric(float64(size), "bytes/scrape")
}

// allBeating reports whether all n jobs run and have shown a sign of life.
func allBeating(jobs []supervisor.JobStatus, n int) bool {
	beating := 0
	for _, st := range jobs {
		if st.PID != 0 && !st.Heartbeat.IsZero() {
			beating++
		}
	}
	return beating == n
}

// BenchmarkScrapeScale scrapes an up of 10,000 jobs: scheduled ones, which run no
// process, so that the scrape is measured, not the machine's fork rate
// (bench/scale.sh measures it with jobs that run).
func BenchmarkScrapeScale(b *testing.B) {
	const n = 10000
	d := scheduledDaemon(b, n)
	h := metrics.Handler(d, silent)
	var size int
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
		size = rec.Body.Len()
	}
	b.ReportMetric(float64(size), "bytes/scrape")
}

// scheduledDaemon runs a Daemon of n jobs scheduled once a year until b ends.
func scheduledDaemon(b *testing.B, n int) *supervisor.Daemon {
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
	b.Cleanup(func() {
		cancel()
		<-done
	})
	<-d.Started()
	return d
}
