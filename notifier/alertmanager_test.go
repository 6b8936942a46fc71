package notifier_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/supervise/supervise/internal/testkit"
	"github.com/supervise/supervise/notifier"
	"github.com/supervise/supervise/supervisor"
)

// fakeAM is /api/v2/alerts on loopback: it keeps each post, with its Authorization
// header, and answers with status() (200 unless a test says otherwise).
type fakeAM struct {
	*httptest.Server
	mu     sync.Mutex
	posts  []amPost
	status func() int
	before func([]amAlert) // when set, called with each post's alerts before it is kept
}

type amPost struct {
	auth   string
	alerts []amAlert
}

type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
}

// told is ev with its job asking to be told of failures, timeouts and crash loops.
func told(ev supervisor.Event) supervisor.Event {
	ev.Notify.On = []supervisor.Kind{supervisor.KindFailure, supervisor.KindTimeout, supervisor.KindRestartLoop, supervisor.KindRecovery}
	return ev
}

func newFakeAM(t *testing.T) *fakeAM {
	am := &fakeAM{status: func() int { return http.StatusOK }}
	am.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v2/alerts" {
			http.Error(w, "not here", http.StatusNotFound)
			return
		}
		var alerts []amAlert
		if err := json.NewDecoder(r.Body).Decode(&alerts); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		am.mu.Lock()
		before := am.before
		am.mu.Unlock()
		if before != nil {
			before(alerts)
		}
		am.mu.Lock()
		am.posts = append(am.posts, amPost{auth: r.Header.Get("Authorization"), alerts: alerts})
		status := am.status
		am.mu.Unlock()
		code := status()
		if code != http.StatusOK {
			http.Error(w, "refused by the test", code)
		}
	}))
	t.Cleanup(am.Close)
	return am
}

// last is the latest alert posted whose labels hold the job, and the post's header.
func (am *fakeAM) last(job string) (amAlert, string, bool) {
	am.mu.Lock()
	defer am.mu.Unlock()
	for i := len(am.posts) - 1; i >= 0; i-- {
		for _, a := range am.posts[i].alerts {
			if a.Labels["job"] == job {
				return a, am.posts[i].auth, true
			}
		}
	}
	return amAlert{}, "", false
}

func (am *fakeAM) count() int {
	am.mu.Lock()
	defer am.mu.Unlock()
	return len(am.posts)
}

// amConfig writes a config file of [[notify.alertmanager]] with body, and a secret
// file beside it, and loads it.
func amConfig(t *testing.T, body, secret string) *supervisor.Config {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "supervise.toml")
	if err := os.WriteFile(path, []byte("[[notify.alertmanager]]\n"+body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := supervisor.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestAlertmanagerOpensAndResolves(t *testing.T) {
	t.Parallel()
	am := newFakeAM(t)
	const secret = "s3cr3t-bearer-token"
	cfg := amConfig(t, fmt.Sprintf("url = %q\nbearer_token_file = \"secret\"\ngenerator_url = \"https://grafana.example.com/d/x\"\n", am.URL), secret)
	spool := t.TempDir()
	var stderr testkit.Buffer
	p, err := notifier.New(cfg, envOf(nil), notifier.Options{Host: "db1", Stderr: &stderr, AlertSpoolDir: spool})
	if err != nil {
		t.Fatal(err)
	}
	if p.Console() {
		t.Error("with Alertmanager alone, the pipeline ends on the console")
	}
	failed := told(backupFailed)
	failed.Output = []byte("connecting\npg_dump: error: " + secret + " refused\n")
	p.Emit(failed)
	var got amAlert
	var auth string
	testkit.Eventually(t, "the failure posted as an alert", func() bool {
		var ok bool
		got, auth, ok = am.last("backup")
		return ok
	})
	want := map[string]string{"alertname": "SuperviseJobFailed", "job": "backup", "host": "db1"}
	if fmt.Sprint(got.Labels) != fmt.Sprint(want) {
		t.Errorf("labels = %v, want %v", got.Labels, want)
	}
	if auth != "Bearer "+secret {
		t.Errorf("Authorization = %q, want the bearer token", auth)
	}
	if !strings.Contains(got.Annotations["summary"], "backup") || got.Annotations["command"] != failed.Command ||
		!strings.Contains(got.Annotations["description"], "pg_dump: error: [redacted] refused") {
		t.Errorf("annotations = %q, want the headline, the command and the output's tail, redacted", got.Annotations)
	}
	if got.GeneratorURL != "https://grafana.example.com/d/x" {
		t.Errorf("generatorURL = %q", got.GeneratorURL)
	}
	if ahead := time.Until(got.EndsAt); ahead < 3*time.Minute || ahead > 5*time.Minute {
		t.Errorf("endsAt is %s ahead, want 4 resends, 4m", ahead)
	}
	if files, _ := filepath.Glob(filepath.Join(spool, "*.json")); len(files) != 1 {
		t.Errorf("spool holds %v, want the open alert's file", files)
	}

	p.Emit(supervisor.Event{Kind: supervisor.KindSuccess, Job: "backup", Host: "db1"})
	testkit.Eventually(t, "the alert posted resolved, with an endsAt not in the future", func() bool {
		got, _, _ = am.last("backup")
		return !got.EndsAt.After(time.Now())
	})
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if files, _ := filepath.Glob(filepath.Join(spool, "*")); len(files) != 0 {
		t.Errorf("spool holds %v once the alert is resolved, want nothing", files)
	}
	if strings.Contains(stderr.String(), secret) {
		t.Errorf("stderr shows the secret: %q", stderr.String())
	}
}

func TestAlertmanagerRepostsOpenAlerts(t *testing.T) {
	t.Parallel()
	am := newFakeAM(t)
	cfg := amConfig(t, fmt.Sprintf("url = [%q]\n", am.URL), "")
	p, err := notifier.New(cfg, envOf(nil), notifier.Options{Host: "db1", AlertSpoolDir: t.TempDir(), AlertResend: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	p.Emit(told(backupFailed))
	testkit.Eventually(t, "the open alert posted 5 times without news", func() bool { return am.count() >= 5 })
	got, _, _ := am.last("backup")
	if ahead := time.Until(got.EndsAt); ahead <= 0 || ahead > 80*time.Millisecond {
		t.Errorf("endsAt is %s ahead, want within 4 resends", ahead)
	}
}

// An Alertmanager that is down loses nothing: the alert waits in the spool, and the
// next supervise posts it, with basic auth, once it is up.
func TestAlertmanagerOutageThenSpool(t *testing.T) {
	t.Parallel()
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	const password = "pw-9f8e7d"
	spool := t.TempDir()
	var stderr testkit.Buffer
	cfg := amConfig(t, fmt.Sprintf("url = %q\nbasic_auth = { username = \"supervise\", password_file = \"secret\" }\n", down.URL), password)
	p, err := notifier.New(cfg, envOf(nil), notifier.Options{Host: "db1", Stderr: &stderr, AlertSpoolDir: spool})
	if err != nil {
		t.Fatal(err)
	}
	p.Emit(told(backupFailed))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := p.Close(ctx); err == nil || !strings.Contains(err.Error(), "alerts not delivered") {
		t.Errorf("Close = %v, want alerts not delivered", err)
	}
	if !strings.Contains(stderr.String(), "not delivered yet, kept in "+spool) {
		t.Errorf("stderr = %q, want where the alert waits", stderr.String())
	}

	am := newFakeAM(t)
	cfg = amConfig(t, fmt.Sprintf("url = %q\nbasic_auth = { username = \"supervise\", password_file = \"secret\" }\n", am.URL), password)
	p, err = notifier.New(cfg, envOf(nil), notifier.Options{Host: "db1", Stderr: &stderr, AlertSpoolDir: spool})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	var auth string
	testkit.Eventually(t, "the spooled alert posted by the next supervise", func() bool {
		var ok bool
		_, auth, ok = am.last("backup")
		return ok
	})
	if want := "Basic " + base64.StdEncoding.EncodeToString([]byte("supervise:"+password)); auth != want {
		t.Errorf("Authorization = %q, want %q", auth, want)
	}
	if strings.Contains(stderr.String(), password) {
		t.Errorf("stderr shows the password: %q", stderr.String())
	}
}

// A cluster's peers each get the alert; one that is down does not keep it from
// being delivered. A refusal (400) is said, and not tried again at once.
func TestAlertmanagerPeersAndRefusal(t *testing.T) {
	t.Parallel()
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	am := newFakeAM(t)
	p, err := notifier.New(amConfig(t, fmt.Sprintf("url = [%q, %q]\n", down.URL, am.URL), ""), envOf(nil),
		notifier.Options{AlertSpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	p.Emit(told(backupFailed))
	if err := p.Close(context.Background()); err != nil {
		t.Errorf("Close = %v, want the alert delivered by the peer that is up", err)
	}

	refusing := newFakeAM(t)
	refusing.status = func() int { return http.StatusBadRequest }
	var stderr testkit.Buffer
	p, err = notifier.New(amConfig(t, fmt.Sprintf("url = %q\n", refusing.URL), ""), envOf(nil),
		notifier.Options{Stderr: &stderr, AlertSpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	p.Emit(told(backupFailed))
	p.Close(context.Background())
	if n := refusing.count(); n != 1 {
		t.Errorf("a refused post was made %d times, want once", n)
	}
	if !strings.Contains(stderr.String(), "400 Bad Request: refused by the test") {
		t.Errorf("stderr = %q, want the refusal", stderr.String())
	}
}

// A failure that becomes a crash loop is another alertname: the failure's alert is
// resolved as the loop's opens.
func TestAlertmanagerStageChange(t *testing.T) {
	t.Parallel()
	am := newFakeAM(t)
	p, err := notifier.New(amConfig(t, fmt.Sprintf("url = %q\n", am.URL), ""), envOf(nil), notifier.Options{AlertSpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	p.Emit(told(supervisor.Event{Kind: supervisor.KindFailure, Job: "web", Host: "db1", ExitCode: 1, Restarting: true}))
	p.Emit(told(supervisor.Event{Kind: supervisor.KindRestartLoop, Job: "web", Host: "db1", Crashes: 5, Restarting: true}))
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	state := map[string]bool{} // alertname: firing
	am.mu.Lock()
	for _, post := range am.posts {
		for _, a := range post.alerts {
			state[a.Labels["alertname"]] = a.EndsAt.After(time.Now())
		}
	}
	am.mu.Unlock()
	if want := map[string]bool{"SuperviseJobFailed": false, "SuperviseCrashLoop": true}; fmt.Sprint(state) != fmt.Sprint(want) {
		t.Errorf("alerts firing = %v, want %v", state, want)
	}
}

func TestAlertmanagerSecretFileMissing(t *testing.T) {
	t.Parallel()
	cfg := amConfig(t, "url = \"http://127.0.0.1:9\"\nbearer_token_file = \"nothere\"\n", "")
	err := notifier.Check(cfg, envOf(nil))
	if err == nil || !strings.Contains(err.Error(), "supervise.toml:1: notify.alertmanager table 1: bearer_token_file: open ") {
		t.Errorf("Check = %v, want the missing file named with the table's line", err)
	}
}

// A process that re-posts the open alerts it loaded just before another process (a
// cron run) resolved one does not leave that alert firing until its endsAt, 4
// resends later: once its post is through, it finds the alert resolved or its file
// gone, and posts it resolved again at once.
func TestAlertmanagerStaleRepostResolvedAgain(t *testing.T) {
	t.Parallel()
	am := newFakeAM(t)
	// Each process with a token of its own, to tell their posts apart.
	upCfg := amConfig(t, fmt.Sprintf("url = [%q]\nbearer_token_file = \"secret\"\n", am.URL), "up-token-1")
	cronCfg := amConfig(t, fmt.Sprintf("url = [%q]\nbearer_token_file = \"secret\"\n", am.URL), "cron-token-2")
	opts := notifier.Options{Host: "db1", AlertSpoolDir: t.TempDir(), Incidents: filepath.Join(t.TempDir(), "incidents.json"), AlertResend: time.Hour}
	up, err := notifier.New(upCfg, envOf(nil), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close(context.Background())
	up.Emit(told(backupFailed))
	testkit.Eventually(t, "backup's alert posted", func() bool { _, _, ok := am.last("backup"); return ok })

	// up's next post, which holds backup open, is held until cron has resolved it.
	held, release := make(chan struct{}), make(chan struct{})
	var holding atomic.Bool
	am.mu.Lock()
	am.before = func(alerts []amAlert) {
		for _, a := range alerts {
			if a.Labels["job"] == "report" && holding.CompareAndSwap(false, true) { // the first post of report: up's
				close(held)
				<-release
			}
		}
	}
	am.mu.Unlock()
	reportFailed := backupFailed
	reportFailed.Job = "report"
	up.Emit(told(reportFailed))
	select {
	case <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("up never re-posted the open alerts")
	}

	cron, err := notifier.New(cronCfg, envOf(nil), opts)
	if err != nil {
		t.Fatal(err)
	}
	cron.Emit(supervisor.Event{Kind: supervisor.KindSuccess, Job: "backup", Host: "db1"})
	if err := cron.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := am.last("backup"); got.EndsAt.After(time.Now()) {
		t.Fatalf("cron did not post backup resolved: endsAt %s", got.EndsAt)
	}
	close(release)
	testkit.Eventually(t, "backup's alert posted resolved after up's stale post of it open", func() bool {
		am.mu.Lock()
		defer am.mu.Unlock()
		// cron's resolve, then up's stale post of backup open, then backup resolved.
		step := 0
		for _, p := range am.posts {
			for _, a := range p.alerts {
				open := a.EndsAt.After(time.Now())
				switch {
				case a.Labels["job"] != "backup":
				case step == 0 && !open && p.auth == "Bearer cron-token-2":
					step = 1
				case step == 1 && open && p.auth == "Bearer up-token-1":
					step = 2
				case step == 2 && !open:
					step = 3
				}
			}
		}
		return step == 3
	})
}
