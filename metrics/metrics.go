// Package metrics serves /metrics on `supervise up --listen`: what up knows of its
// jobs and its notifier, in Prometheus's text format (version 0.0.4).
//
// Nothing is counted as it happens: each scrape reads the daemon's Status and the
// notifier's Delivery, which up keeps anyway for `supervise status`, so a job costs nothing
// between scrapes and the metrics always agree with the status.
//
// The format is written here rather than with prometheus/client_golang: linking that
// library made every command start about 6 ms later (its package initialisation and
// protobuf's), which each `supervise run` from cron would pay. The tests read what
// is written here with Prometheus's own parser and linter.
package metrics

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/supervise/supervise/notifier"
	"github.com/supervise/supervise/supervisor"
)

func deliveryOf(delivery Delivery) (notifier.DeliveryStatus, bool) {
	if delivery == nil {
		return notifier.DeliveryStatus{}, false
	}
	return delivery()
}

// Delivery says how the notifier fares, and false when it cannot say (a console).
type Delivery func() (notifier.DeliveryStatus, bool)

// Handler returns the /metrics handler for d: its jobs, its notifier as delivery
// (nil for none) says, and a few standard metrics of up itself
// (process_start_time_seconds, process_cpu_seconds_total,
// process_resident_memory_bytes, process_open_fds, go_goroutines).
func Handler(d *supervisor.Daemon, delivery Delivery) http.Handler {
	started := time.Now()
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		b := bufio.NewWriter(w)
		for _, f := range gather(d, delivery, started, time.Now()) {
			f.write(b)
		}
		b.Flush()
	})
}

// family is one metric with its samples.
type family struct {
	name, help, kind string // kind is "gauge" or "counter"
	samples          []sample
}

type sample struct {
	labels []string // name, value, name, value…
	value  float64
}

func (f *family) add(value float64, labels ...string) {
	f.samples = append(f.samples, sample{labels, value})
}

// write writes f in the text format; a family without samples is left out.
func (f *family) write(w io.Writer) {
	if len(f.samples) == 0 {
		return
	}
	help := strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(f.help)
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", f.name, help, f.name, f.kind)
	// A line at a time, without fmt: a scrape of thousands of jobs writes tens of
	// thousands of lines.
	var line []byte
	for _, s := range f.samples {
		line = append(line[:0], f.name...)
		for i := 0; i+1 < len(s.labels); i += 2 {
			sep := byte(',')
			if i == 0 {
				sep = '{'
			}
			line = append(append(append(line, sep), s.labels[i]...), `="`...)
			line = appendLabelValue(line, s.labels[i+1])
			line = append(line, '"')
		}
		if len(s.labels) > 0 {
			line = append(line, '}')
		}
		line = append(line, ' ')
		line = strconv.AppendFloat(line, s.value, 'g', -1, 64)
		line = append(line, '\n')
		w.Write(line)
	}
}

// appendLabelValue appends v escaped as a label value: backslash, newline and double
// quote.
func appendLabelValue(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\':
			b = append(b, `\\`...)
		case '\n':
			b = append(b, `\n`...)
		case '"':
			b = append(b, `\"`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// gather reads the metrics of d at now. Their names and labels are public interface,
// listed in the README.
func gather(d *supervisor.Daemon, delivery Delivery, started, now time.Time) []*family {
	var (
		jobUp = &family{name: "supervise_job_up", kind: "gauge",
			help: "1 when the job's process runs, else 0."}
		jobState = &family{name: "supervise_job_state", kind: "gauge",
			help: "1 for the job's state, as supervise status shows it; the other states have no series."}
		jobRestarts = &family{name: "supervise_job_restarts_total", kind: "counter",
			help: "Automatic restarts of the job under this up."}
		jobExits = &family{name: "supervise_job_exits_total", kind: "counter",
			help: "Runs of the job that ended, by exit status as supervise run gives it (128+N for signal N, 124 for a timeout)."}
		jobLastSuccess = &family{name: "supervise_job_last_success_timestamp_seconds", kind: "gauge",
			help: "When a run of the job last ended well, in Unix time; no series until one has."}
		jobHeartbeatAge = &family{name: "supervise_job_heartbeat_age_seconds", kind: "gauge",
			help: "Seconds since the job's last sign of life (ping, sd_notify or output); no series until its first."}
		jobNextRun = &family{name: "supervise_job_next_run_timestamp_seconds", kind: "gauge",
			help: "When the job next runs on its schedule, or next starts while backing off, in Unix time."}
		notifications = &family{name: "supervise_notifications_total", kind: "counter",
			help: "Tries to deliver a message, by result: sent, failed (the message is kept to try again) or dropped (given up on)."}
		spooled = &family{name: "supervise_spool_messages", kind: "gauge",
			help: "Messages waiting in the spool."}
		amPosts = &family{name: "supervise_alertmanager_posts_total", kind: "counter",
			help: "Posts of the alerts to Alertmanager, by result: sent (every cluster took them) or failed (tried again from the spool)."}
		amFiring = &family{name: "supervise_alertmanager_alerts_firing", kind: "gauge",
			help: "Alerts of open incidents, as last posted to Alertmanager."}
		amWaiting = &family{name: "supervise_alertmanager_alerts_waiting", kind: "gauge",
			help: "Alerts put and not yet taken by every Alertmanager cluster."}
	)
	for _, st := range d.Status() {
		up := 0.0
		if st.PID != 0 {
			up = 1
		}
		jobUp.add(up, "job", st.Name)
		jobState.add(1, "job", st.Name, "state", st.State)
		jobRestarts.add(float64(st.Restarts), "job", st.Name)
		for _, status := range sortedKeys(st.Exits) {
			jobExits.add(float64(st.Exits[status]), "job", st.Name, "status", status)
		}
		if !st.LastSuccess.IsZero() {
			jobLastSuccess.add(unix(st.LastSuccess), "job", st.Name)
		}
		if !st.Heartbeat.IsZero() {
			jobHeartbeatAge.add(now.Sub(st.Heartbeat).Seconds(), "job", st.Name)
		}
		if !st.NextRun.IsZero() {
			jobNextRun.add(unix(st.NextRun), "job", st.Name)
		}
	}
	fams := []*family{jobUp, jobState, jobRestarts, jobExits, jobLastSuccess, jobHeartbeatAge, jobNextRun}
	ds, ok := deliveryOf(delivery)
	if ok && ds.Telegram {
		// sent, failed and dropped always have a series, from 0, so that rate() and
		// increase() see the first message.
		results := map[string]int{"sent": 0, "failed": 0, "dropped": 0}
		for r, n := range ds.Results {
			results[r] = n
		}
		for _, r := range sortedKeys(results) {
			notifications.add(float64(results[r]), "result", r)
		}
		spooled.add(float64(ds.Spooled))
		fams = append(fams, notifications, spooled)
	}
	if am := ds.Alertmanager; ok && am != nil {
		for _, r := range sortedKeys(am.Results) {
			amPosts.add(float64(am.Results[r]), "result", r)
		}
		amFiring.add(float64(am.Firing))
		amWaiting.add(float64(am.Waiting))
		fams = append(fams, amPosts, amFiring, amWaiting)
	}
	return append(fams, self(started)...)
}

// self is the standard metrics of up's own process, as every Prometheus client gives
// them, read from /proc.
func self(started time.Time) []*family {
	start := &family{name: "process_start_time_seconds", kind: "gauge",
		help: "Start time of the process since unix epoch in seconds."}
	start.add(unix(started))
	goroutines := &family{name: "go_goroutines", kind: "gauge",
		help: "Number of goroutines that currently exist."}
	goroutines.add(float64(runtime.NumGoroutine()))
	fams := []*family{start, goroutines}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		f := &family{name: "process_open_fds", kind: "gauge", help: "Number of open file descriptors."}
		f.add(float64(len(fds)))
		fams = append(fams, f)
	}
	// /proc/self/stat: utime and stime are fields 14 and 15, in clock ticks (100 a
	// second on Linux), rss field 24, in pages. The command name, field 2, may hold
	// spaces, so the fields are counted from after its closing parenthesis.
	if data, err := os.ReadFile("/proc/self/stat"); err == nil {
		if i := strings.LastIndexByte(string(data), ')'); i > 0 {
			fields := strings.Fields(string(data[i+1:])) // fields[0] is field 3
			if len(fields) > 21 {
				utime, _ := strconv.ParseFloat(fields[11], 64)
				stime, _ := strconv.ParseFloat(fields[12], 64)
				rss, _ := strconv.ParseFloat(fields[21], 64)
				cpu := &family{name: "process_cpu_seconds_total", kind: "counter",
					help: "Total user and system CPU time spent in seconds."}
				cpu.add((utime + stime) / 100)
				mem := &family{name: "process_resident_memory_bytes", kind: "gauge",
					help: "Resident memory size in bytes."}
				mem.add(rss * float64(os.Getpagesize()))
				fams = append(fams, cpu, mem)
			}
		}
	}
	return fams
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// unix is t in Unix seconds, with its fraction.
func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
