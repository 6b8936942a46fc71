package metrics_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/supervise/supervise/internal/testkit"
	"github.com/supervise/supervise/metrics"
	"github.com/supervise/supervise/notifier"
	"github.com/supervise/supervise/supervisor"
)

// promtool is Prometheus's own checker, from Debian's prometheus package.
func promtool(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("no promtool on this machine: install the prometheus package (apt-get install prometheus) to run this test")
	}
	return bin
}

func runPromtool(t *testing.T, bin string, stdin []byte, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool %v: %v\n%s", args, err, out)
	}
}

// The README's scrape config and alerting rules, as a reader copies them, load in
// Prometheus, and each rule fires when it should, and only then, on series as
// Prometheus stores supervise's metrics (honor_labels: job is the supervised job;
// the process's own metrics get the scrape job's name).
func TestReadmePrometheusExamples(t *testing.T) {
	t.Parallel()
	bin := promtool(t)
	dir := t.TempDir()
	rules := testkit.ReadmeBlock(t, "yaml", "groups:")
	config := testkit.ReadmeBlock(t, "yaml", "scrape_configs:") + "rule_files: [rules.yml]\n"
	for name, text := range map[string]string{"rules.yml": rules, "prometheus.yml": config, "tests.yml": ruleTests} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	runPromtool(t, bin, nil, "check", "config", filepath.Join(dir, "prometheus.yml"))
	runPromtool(t, bin, nil, "test", "rules", filepath.Join(dir, "tests.yml"))
}

// ruleTests is what the README's rules must do, for promtool test rules. On host h1,
// backup last succeeded at 0 (the Unix epoch) and web crash-loops; on h2, report has
// not succeeded since supervise started at 0; h3's supervise is not there; h1's spool
// holds messages. At 5h none of the 6-hour rules fire yet; at 7h all do.
const ruleTests = `rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'supervise_job_last_success_timestamp_seconds{instance="h1:8427",job="backup"}'
        values: '0x480'
      - series: 'supervise_job_up{instance="h1:8427",job="backup"}'
        values: '0x480'
      - series: 'supervise_job_state{instance="h1:8427",job="web",state="crash-looping"}'
        values: '1x480'
      - series: 'supervise_spool_messages{instance="h1:8427",job="supervise"}'
        values: '3x480'
      - series: 'process_start_time_seconds{instance="h1:8427",job="supervise"}'
        values: '0x480'
      - series: 'up{instance="h1:8427",job="supervise"}'
        values: '1x480'
      - series: 'supervise_job_up{instance="h2:8427",job="report"}'
        values: '1x480'
      - series: 'process_start_time_seconds{instance="h2:8427",job="supervise"}'
        values: '0x480'
      - series: 'up{instance="h2:8427",job="supervise"}'
        values: '1x480'
      - series: 'up{instance="h3:8427",job="supervise"}'
        values: '0x480'
    alert_rule_test:
      - eval_time: 5h
        alertname: JobNotSucceeding
      - eval_time: 5h
        alertname: JobNeverSucceeded
      - eval_time: 7h
        alertname: JobNotSucceeding
        exp_alerts:
          - exp_labels: {severity: warning, instance: "h1:8427", job: backup}
            exp_annotations: {summary: "backup on h1:8427 last succeeded 7h 0m 0s ago"}
      - eval_time: 7h
        alertname: JobNeverSucceeded
        exp_alerts:
          - exp_labels: {severity: warning, instance: "h2:8427", job: report}
            exp_annotations: {summary: "report on h2:8427 has not succeeded since supervise started"}
      - eval_time: 7h
        alertname: SuperviseDown
        exp_alerts:
          - exp_labels: {instance: "h3:8427", job: supervise}
      - eval_time: 7h
        alertname: JobCrashLooping
        exp_alerts:
          - exp_labels: {instance: "h1:8427", job: web, state: crash-looping}
      - eval_time: 7h
        alertname: AlertsNotDelivered
        exp_alerts:
          - exp_labels: {instance: "h1:8427", job: supervise}
`

// What supervise's /metrics says passes promtool's lint, and has every metric the
// README's rules read, so that the series ruleTests feeds them are real ones.
func TestMetricsPassPromtool(t *testing.T) {
	t.Parallel()
	bin := promtool(t)
	job := supervisor.NewJob("backup", "true")
	job.Restart, job.PTY = supervisor.RestartNever, false
	d := &supervisor.Daemon{Host: "test", Stdout: io.Discard, Stderr: io.Discard}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		d.Run(ctx, []*supervisor.Job{job})
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	testkit.EventuallyWithin(t, 10*time.Second, "backup's run ended well", func() bool {
		st := d.Status()
		return len(st) == 1 && !st[0].LastSuccess.IsZero()
	})

	n := &reporter{notifier.DeliveryStatus{Telegram: true, Spooled: 1, Results: map[string]int{"sent": 2}}}
	rec := httptest.NewRecorder()
	metrics.Handler(d, n.Delivery).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	body := rec.Body.Bytes()
	runPromtool(t, bin, body, "check", "metrics")

	rules := testkit.ReadmeBlock(t, "yaml", "groups:")
	for _, name := range regexp.MustCompile(`\b(?:supervise|process)_[a-z_]+`).FindAllString(rules, -1) {
		if !bytes.Contains(body, []byte("\n# TYPE "+name+" ")) {
			t.Errorf("the README's rules read %s, which /metrics does not have:\n%s", name, body)
		}
	}
}
