package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/supervise/supervise/internal/testkit"
	"github.com/supervise/supervise/notifier"
)

// alertmanagerBinary is the real Alertmanager, from Debian's prometheus-alertmanager
// package, or upstream's name for it.
func alertmanagerBinary(t *testing.T) string {
	for _, name := range []string{"prometheus-alertmanager", "alertmanager"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	t.Skip("no Alertmanager on this machine: install the prometheus-alertmanager package (apt-get install prometheus-alertmanager) to run this test")
	return ""
}

// startAlertmanager starts the real Alertmanager on loopback, alone (no cluster),
// with a receiver that sends nowhere, and returns its URL once it is ready.
func startAlertmanager(t *testing.T) string {
	bin := alertmanagerBinary(t)
	dir := t.TempDir()
	config := writeFile(t, dir, "alertmanager.yml", "route:\n  receiver: \"null\"\nreceivers:\n  - name: \"null\"\n")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // Alertmanager takes no listener: the port is free again for it
	var out syncBuffer
	cmd := exec.Command(bin, "--config.file="+config, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	url := "http://" + addr
	testkit.EventuallyWithin(t, 20*time.Second, "Alertmanager ready at "+url, func() bool {
		select {
		case <-exited:
			t.Fatalf("Alertmanager exited:\n%s", out.String())
		default:
		}
		resp, err := http.Get(url + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return url
}

// gettableAlert is what Alertmanager's GET /api/v2/alerts lists.
type gettableAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	EndsAt      time.Time         `json:"endsAt"`
	Status      struct {
		State string `json:"state"`
	} `json:"status"`
}

// alertsOf lists the alerts Alertmanager holds for job. It lists those not
// resolved: a resolved alert (endsAt past) leaves the list.
func alertsOf(t *testing.T, url, job string) []gettableAlert {
	resp, err := http.Get(url + "/api/v2/alerts?filter=" + fmt.Sprintf("job=%q", job))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var alerts []gettableAlert
	if err := json.NewDecoder(resp.Body).Decode(&alerts); err != nil {
		t.Fatal(err)
	}
	return alerts
}

// A job's failure under `supervise run`, with Alertmanager alone configured, shows
// up in the real Alertmanager as an active alert with its labels and annotations, and
// nothing on the console; the next run, a success, resolves it.
func TestRunAlertsRealAlertmanager(t *testing.T) {
	url := startAlertmanager(t)
	const secret = "am-bearer-do-not-print"
	cfgDir := t.TempDir()
	writeFile(t, cfgDir, "am-token", secret)
	useConfig(t, fmt.Sprintf("[[notify.alertmanager]]\nurl = [%q]\nbearer_token_file = %q\n", url, filepath.Join(cfgDir, "am-token")), 0o600)
	state := os.Getenv("SUPERVISE_STATE_DIR")
	host, _ := os.Hostname()

	status, _, stderr := supervise(t, "run", "--name", "nightly", "--", "sh", "-c", "echo 'disk full' >&2; exit 3")
	if status != 3 {
		t.Fatalf("status %d, want 3; stderr:\n%s", status, stderr)
	}
	if strings.Contains(stderr, "supervise: notification") {
		t.Errorf("with Alertmanager alone, the failure went to the console too:\n%s", stderr)
	}
	var alert gettableAlert
	testkit.Eventually(t, "the failure as an active alert in Alertmanager", func() bool {
		alerts := alertsOf(t, url, "nightly")
		if len(alerts) == 1 {
			alert = alerts[0]
		}
		return len(alerts) == 1 && alert.Status.State == "active"
	})
	if want := fmt.Sprint(map[string]string{"alertname": "SuperviseJobFailed", "job": "nightly", "host": host}); fmt.Sprint(alert.Labels) != want {
		t.Errorf("labels %v, want %s", alert.Labels, want)
	}
	if !strings.Contains(alert.Annotations["summary"], "nightly") || !strings.Contains(alert.Annotations["description"], "disk full") {
		t.Errorf("annotations %q, want the headline and the output's tail", alert.Annotations)
	}
	if time.Until(alert.EndsAt) < time.Minute {
		t.Errorf("endsAt %s, want minutes ahead while the incident is open", alert.EndsAt)
	}

	status, _, stderr2 := supervise(t, "run", "--name", "nightly", "--", "true")
	if status != 0 {
		t.Fatalf("status %d, want 0; stderr:\n%s", status, stderr2)
	}
	testkit.Eventually(t, "the alert resolved: gone from Alertmanager's active alerts, minutes before its endsAt", func() bool {
		return len(alertsOf(t, url, "nightly")) == 0
	})
	spooled, _ := filepath.Glob(filepath.Join(state, "spool-alertmanager", "*"))
	if len(spooled) != 0 {
		t.Errorf("spool-alertmanager holds %v once the alert is resolved, want nothing", spooled)
	}
	for _, out := range []string{stderr, stderr2, string(testkit.Tree(t, state))} {
		if strings.Contains(out, secret) {
			t.Errorf("the bearer token shows in %q", out)
		}
	}
}

// supervise check names a [[notify.alertmanager]] that is wrong, and a secret's file
// that cannot be read, by file, line and key.
func TestCheckAlertmanager(t *testing.T) {
	path := useConfig(t, "[[notify.alertmanager]]\nurl = \"http://127.0.0.1:9093\"\nbearer_token_file = \"missing-token\"\n", 0o600)
	jobs := t.TempDir()
	writeFile(t, jobs, "good.toml", `command = ["true"]`)
	status, _, stderr := supervise(t, "check", jobs)
	if status != 2 || !strings.Contains(stderr, path+":1: notify.alertmanager table 1: bearer_token_file: open "+filepath.Join(filepath.Dir(path), "missing-token")) {
		t.Errorf("status %d, stderr:\n%s\nwant 2 and the missing file named", status, stderr)
	}
	path = useConfig(t, "[[notify.alertmanager]]\nurl = \"am1:9093\"\n", 0o600)
	status, _, stderr = supervise(t, "check", jobs)
	if status != 2 || !strings.Contains(stderr, path+":1: notify.alertmanager: table 1: url: want an http or https URL") {
		t.Errorf("status %d, stderr:\n%s\nwant 2 and the bad URL named", status, stderr)
	}
}

// The README's alertmanager.yml for a fleet, as a reader copies it, is one that
// Alertmanager's own checker accepts.
func TestReadmeAlertmanagerConfig(t *testing.T) {
	t.Parallel()
	amtool, err := exec.LookPath("amtool")
	if err != nil {
		t.Skip("no amtool on this machine: install the prometheus-alertmanager package (apt-get install prometheus-alertmanager) to run this test")
	}
	config := writeFile(t, t.TempDir(), "alertmanager.yml", testkit.ReadmeBlock(t, "yaml", "# alertmanager.yml"))
	if out, err := exec.Command(amtool, "check-config", config).CombinedOutput(); err != nil {
		t.Errorf("amtool check-config of the README's alertmanager.yml: %v\n%s", err, out)
	}
}

// With Alertmanager alone, `notify --test` posts a test alert, which the real
// Alertmanager holds as active; `notify TEXT`, a message Alertmanager has no place
// for, is refused with the text rather than dropped; and a test alert that no
// Alertmanager takes is a failure that says why.
func TestNotifyTestAlertmanager(t *testing.T) {
	url := startAlertmanager(t)
	useConfig(t, fmt.Sprintf("[[notify.alertmanager]]\nurl = [%q]\n", url), 0o644)
	host, _ := os.Hostname()

	status, stdout, stderr := supervise(t, "notify", "--test")
	if want := "sent: Alertmanager at " + url + " took the test alert"; status != 0 || !strings.HasPrefix(stdout, want) {
		t.Fatalf("notify --test: status %d, stdout %q, stderr %q; want 0 and %q", status, stdout, stderr, want)
	}
	alerts := alertsOf(t, url, "supervise")
	if len(alerts) != 1 || alerts[0].Labels["alertname"] != "SuperviseTest" || alerts[0].Labels["host"] != host ||
		!strings.Contains(alerts[0].Annotations["summary"], "A test of supervise") || time.Until(alerts[0].EndsAt) > 5*time.Minute {
		t.Errorf("Alertmanager holds %+v, want one SuperviseTest alert of this host, ending within 5m", alerts)
	}

	status, stdout, stderr = supervise(t, "notify", "backup needs a new tape")
	if status != 1 || stdout != "" || !strings.Contains(stderr, "not sent: no Telegram bot is configured") || !strings.Contains(stderr, "backup needs a new tape") {
		t.Errorf("notify TEXT with Alertmanager alone: status %d, stdout %q, stderr %q; want 1 and the text, not sent", status, stdout, stderr)
	}

	// Nothing listens on a port just closed: each try is refused at once.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	useConfig(t, fmt.Sprintf("[[notify.alertmanager]]\nurl = [%q]\n", closed), 0o644)
	t.Setenv("SUPERVISE_TELEGRAM_TIMEOUT", "1s")
	status, stdout, stderr = supervise(t, "notify", "--test")
	if status != 1 || stdout != "" || !strings.Contains(stderr, "the test alert was not taken: Alertmanager at "+closed) || !strings.Contains(stderr, "connection refused") {
		t.Errorf("notify --test with no Alertmanager there: status %d, stdout %q, stderr %q; want 1 and why", status, stdout, stderr)
	}
}

// up with Alertmanager alone says how its alerts fare in status, status --json and
// /metrics, and does not claim a console it does not write to.
func TestUpStatusAlertmanager(t *testing.T) {
	url := startAlertmanager(t)
	useConfig(t, fmt.Sprintf("[[notify.alertmanager]]\nurl = [%q]\n", url), 0o644)
	dir := t.TempDir()
	writeFile(t, dir, "nightly.toml", "command = \"echo 'disk full'; exit 3\"\nrestart = \"never\"\n")
	cmd, _, stderr := start(t, upCommand(t, dir)) // the config file of the test's environment
	defer onFailure(t, func() string { return "up said:\n" + stderr.String() })
	addr := listenAddr(t, stderr)
	testkit.Eventually(t, "nightly's failure as an alert in Alertmanager", func() bool { return len(alertsOf(t, url, "nightly")) == 1 })

	var text []byte
	testkit.Eventually(t, "status saying Alertmanager took one firing alert", func() bool {
		text, _ = quiet(command(t, "status", "--state", stateOf(cmd))).Output()
		return regexp.MustCompile(`(?m)^notifier: Alertmanager; last post \S+ ago; 1 firing; 0 waiting to be posted$`).Match(text)
	})
	if bytes.Contains(text, []byte("standard error")) || bytes.Contains(text, []byte("Telegram")) {
		t.Errorf("status names a notifier that is not there:\n%s", text)
	}
	js, err := quiet(command(t, "status", "--json", "--state", stateOf(cmd))).Output()
	var st struct{ Delivery *notifier.DeliveryStatus }
	if err == nil {
		err = json.Unmarshal(js, &st)
	}
	if d := st.Delivery; err != nil || d == nil || d.Telegram || d.Alertmanager == nil || d.Alertmanager.Firing != 1 {
		t.Errorf("status --json: %v, want Alertmanager alone with 1 alert firing\n%s", err, js)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"\nsupervise_alertmanager_alerts_firing 1\n", "\nsupervise_alertmanager_posts_total{result=\"failed\"} 0\n"} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
}
