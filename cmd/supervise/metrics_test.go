package main

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/supervise/supervise/internal/testkit"
	"github.com/supervise/supervise/notifier/telegramtest"
)

// /metrics on up's --listen, scraped as Prometheus does: a running daemon is up, a
// crashing job's restarts and exits move, a job that succeeded has the time, a
// scheduled one its next run, one with a sign of life its age, the crash's message
// is counted as sent, and the names pass Prometheus's own lint.
func TestUpMetrics(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	writeFile(t, dir, "web.toml", "command = \"echo web is up; exec sleep 100\"\n[heartbeat]\nevery = \"1h\"\noutput = true\n")
	writeFile(t, dir, "crasher.toml", "command = \"exit 1\"\nbackoff = { initial = \"10ms\", max = \"50ms\" }\n")
	writeFile(t, dir, "once.toml", "command = \"true\"\nrestart = \"on-failure\"\n")
	writeFile(t, dir, "nightly.toml", "command = \"true\"\nschedule = \"@daily\"\n")
	_, stdout, stderr := startBotUp(t, srv, dir)
	waitOutput(t, stdout, "web | web is up")
	addr := regexp.MustCompile(`listening on ([^\s;]+)`).FindStringSubmatch(stderr.String())
	if addr == nil {
		t.Fatalf("up does not say where it listens:\n%s", stderr.String())
	}
	url := "http://" + addr[1] + "/metrics"

	// Wait until the crasher has been restarted twice and told, and once has succeeded.
	var m scraped
	defer onFailure(t, func() string { return "the last scrape:\n" + m.text })
	testkit.Eventually(t, "the crasher restarted twice and told, and once succeeded", func() bool {
		m = scrapeMetrics(t, url)
		_, succeeded := m.value("supervise_job_last_success_timestamp_seconds", "job", "once")
		restarts, _ := m.value("supervise_job_restarts_total", "job", "crasher")
		sent, _ := m.value("supervise_notifications_total", "result", "sent")
		return restarts >= 2 && succeeded && sent >= 1
	})

	for name, want := range map[string]dto.MetricType{
		"supervise_job_up":                             dto.MetricType_GAUGE,
		"supervise_job_state":                          dto.MetricType_GAUGE,
		"supervise_job_restarts_total":                 dto.MetricType_COUNTER,
		"supervise_job_exits_total":                    dto.MetricType_COUNTER,
		"supervise_job_last_success_timestamp_seconds": dto.MetricType_GAUGE,
		"supervise_job_heartbeat_age_seconds":          dto.MetricType_GAUGE,
		"supervise_job_next_run_timestamp_seconds":     dto.MetricType_GAUGE,
		"supervise_notifications_total":                dto.MetricType_COUNTER,
		"supervise_spool_messages":                     dto.MetricType_GAUGE,
		"process_resident_memory_bytes":                dto.MetricType_GAUGE,
		"go_goroutines":                                dto.MetricType_GAUGE,
	} {
		if mf := m.families[name]; mf == nil || mf.GetType() != want {
			t.Errorf("%s: %v, want a %s", name, mf, want)
		}
	}
	now := float64(time.Now().Unix())
	for _, tc := range []struct {
		name   string
		labels []string
		ok     func(v float64) bool // nil: no series
	}{
		{"supervise_job_up", []string{"job", "web"}, equals(1)},
		{"supervise_job_up", []string{"job", "nightly"}, equals(0)},
		{"supervise_job_state", []string{"job", "web", "state", "running"}, equals(1)},
		{"supervise_job_state", []string{"job", "nightly", "state", "scheduled"}, equals(1)},
		{"supervise_job_state", []string{"job", "once", "state", "exited"}, equals(1)},
		{"supervise_job_state", []string{"job", "web", "state", "exited"}, nil},
		{"supervise_job_exits_total", []string{"job", "once", "status", "0"}, equals(1)},
		{"supervise_job_exits_total", []string{"job", "crasher", "status", "1"}, func(v float64) bool { return v >= 2 }},
		{"supervise_job_last_success_timestamp_seconds", []string{"job", "once"}, func(v float64) bool { return v > now-10 && v <= now+1 }},
		{"supervise_job_last_success_timestamp_seconds", []string{"job", "crasher"}, nil},
		{"supervise_job_heartbeat_age_seconds", []string{"job", "web"}, func(v float64) bool { return v >= 0 && v < 10 }},
		{"supervise_job_heartbeat_age_seconds", []string{"job", "nightly"}, nil},
		{"supervise_job_next_run_timestamp_seconds", []string{"job", "nightly"}, func(v float64) bool { return v > now && v <= now+86400 }},
		{"supervise_job_next_run_timestamp_seconds", []string{"job", "web"}, nil},
	} {
		v, found := m.value(tc.name, tc.labels...)
		switch {
		case tc.ok == nil && found:
			t.Errorf("%s%v = %v, want no series", tc.name, tc.labels, v)
		case tc.ok != nil && !found:
			t.Errorf("%s%v: no series", tc.name, tc.labels)
		case tc.ok != nil && !tc.ok(v):
			t.Errorf("%s%v = %v", tc.name, tc.labels, v)
		}
	}
	problems, err := promlint.New(strings.NewReader(m.text)).Lint()
	if err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}

	// The counters move as the crasher goes on crashing.
	restarts, _ := m.value("supervise_job_restarts_total", "job", "crasher")
	exits, _ := m.value("supervise_job_exits_total", "job", "crasher", "status", "1")
	testkit.Eventually(t, fmt.Sprintf("the crasher's restarts above %v and exits above %v", restarts, exits), func() bool {
		m = scrapeMetrics(t, url)
		r, _ := m.value("supervise_job_restarts_total", "job", "crasher")
		e, _ := m.value("supervise_job_exits_total", "job", "crasher", "status", "1")
		return r > restarts && e > exits
	})
}

// scraped is one scrape of /metrics, as text and parsed.
type scraped struct {
	text     string
	families map[string]*dto.MetricFamily
}

// scrapeMetrics gets url and parses it with Prometheus's text parser.
func scrapeMetrics(t *testing.T, url string) scraped {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Fatalf("%s: %s, Content-Type %q:\n%s", url, resp.Status, ct, body)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("%s does not parse: %v\n%s", url, err, body)
	}
	return scraped{string(body), families}
}

// value returns the value of the series of family name with exactly the labels given
// as name, value pairs, and whether there is one.
func (s scraped) value(name string, labels ...string) (float64, bool) {
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, m := range s.families[name].GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		if !maps.Equal(got, want) {
			continue
		}
		if c := m.GetCounter(); c != nil {
			return c.GetValue(), true
		}
		return m.GetGauge().GetValue(), true
	}
	return 0, false
}

func equals(want float64) func(float64) bool {
	return func(v float64) bool { return v == want }
}
