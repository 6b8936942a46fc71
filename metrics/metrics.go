// Package metrics serves /metrics on `supervise up --listen`: what up knows of its
// jobs and its notifier, in Prometheus's text format.
//
// Nothing is counted as it happens: each scrape reads the daemon's Status and
// Delivery, which up keeps anyway for `supervise status`, so a job costs nothing
// between scrapes and the metrics always agree with the status.
package metrics

import (
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/supervise/supervise/supervisor"
)

// Handler returns the /metrics handler for d: its jobs and notifier, and the standard
// process and Go runtime metrics of up itself (process_resident_memory_bytes,
// process_open_fds, go_goroutines…), which cost a fraction of a millisecond a scrape.
// It has a registry of its own, not the global one.
func Handler(d *supervisor.Daemon) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{d},
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector())
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// The metrics. Their names and labels are public interface, listed in the README.
var (
	jobUp = prometheus.NewDesc("supervise_job_up",
		"1 when the job's process runs, else 0.", []string{"job"}, nil)
	jobState = prometheus.NewDesc("supervise_job_state",
		"1 for the job's state, as supervise status shows it; the other states have no series.", []string{"job", "state"}, nil)
	jobRestarts = prometheus.NewDesc("supervise_job_restarts_total",
		"Automatic restarts of the job under this up.", []string{"job"}, nil)
	jobExits = prometheus.NewDesc("supervise_job_exits_total",
		"Runs of the job that ended, by exit status as supervise run gives it (128+N for signal N, 124 for a timeout).", []string{"job", "status"}, nil)
	jobLastSuccess = prometheus.NewDesc("supervise_job_last_success_timestamp_seconds",
		"When a run of the job last ended well, in Unix time; no series until one has.", []string{"job"}, nil)
	jobHeartbeatAge = prometheus.NewDesc("supervise_job_heartbeat_age_seconds",
		"Seconds since the job's last sign of life (ping, sd_notify or output); no series until its first.", []string{"job"}, nil)
	jobNextRun = prometheus.NewDesc("supervise_job_next_run_timestamp_seconds",
		"When the job next runs on its schedule, or next starts while backing off, in Unix time.", []string{"job"}, nil)
	notifications = prometheus.NewDesc("supervise_notifications_total",
		"Tries to deliver a message, by result: sent, failed (the message is kept to try again) or dropped (given up on).", []string{"result"}, nil)
	spooled = prometheus.NewDesc("supervise_spool_messages",
		"Messages waiting in the spool.", nil, nil)
)

// results are the notification results that always have a series, from 0, so that
// rate() and increase() see their first message.
var results = []string{"sent", "failed", "dropped"}

// collector reads the metrics from a daemon at each scrape.
type collector struct{ d *supervisor.Daemon }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, desc := range []*prometheus.Desc{jobUp, jobState, jobRestarts, jobExits, jobLastSuccess, jobHeartbeatAge, jobNextRun, notifications, spooled} {
		ch <- desc
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	now := time.Now()
	for _, st := range c.d.Status() {
		up := 0.0
		if st.PID != 0 {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(jobUp, prometheus.GaugeValue, up, st.Name)
		ch <- prometheus.MustNewConstMetric(jobState, prometheus.GaugeValue, 1, st.Name, st.State)
		ch <- prometheus.MustNewConstMetric(jobRestarts, prometheus.CounterValue, float64(st.Restarts), st.Name)
		for status, n := range st.Exits {
			ch <- prometheus.MustNewConstMetric(jobExits, prometheus.CounterValue, float64(n), st.Name, status)
		}
		if !st.LastSuccess.IsZero() {
			ch <- prometheus.MustNewConstMetric(jobLastSuccess, prometheus.GaugeValue, unix(st.LastSuccess), st.Name)
		}
		if !st.Heartbeat.IsZero() {
			ch <- prometheus.MustNewConstMetric(jobHeartbeatAge, prometheus.GaugeValue, now.Sub(st.Heartbeat).Seconds(), st.Name)
		}
		if !st.NextRun.IsZero() {
			ch <- prometheus.MustNewConstMetric(jobNextRun, prometheus.GaugeValue, unix(st.NextRun), st.Name)
		}
	}
	ds, ok := c.d.Delivery()
	if !ok {
		return
	}
	for _, r := range results {
		ch <- prometheus.MustNewConstMetric(notifications, prometheus.CounterValue, float64(ds.Results[r]), r)
	}
	for r, n := range ds.Results {
		if !slices.Contains(results, r) {
			ch <- prometheus.MustNewConstMetric(notifications, prometheus.CounterValue, float64(n), r)
		}
	}
	ch <- prometheus.MustNewConstMetric(spooled, prometheus.GaugeValue, float64(ds.Spooled))
}

// unix is t in Unix seconds, with its fraction.
func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
