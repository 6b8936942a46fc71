package notifier

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/supervise/supervise/supervisor"
)

// This file sends incidents to Alertmanager ([[notify.alertmanager]]), beside
// Telegram or instead of it: each incident is one alert, posted to
// /api/v2/alerts of every peer of each cluster when it opens or changes, re-posted
// every resend while it is open (with an endsAt of 4 resends ahead, as Prometheus
// does, so that the alert of a host that died resolves by itself), and posted with
// an endsAt of now when it is resolved.
//
// Its spool is a folder of its own (STATE/spool-alertmanager) rather than entries
// in the Telegram spool: an alert is a state, not a message. The folder holds one
// file per alert, its latest state, written whole, synced and renamed into place;
// a newer state replaces the older, so only the latest is ever sent. An open
// alert's file stays until the incident is resolved: it is what every supervise
// sharing the state folder re-posts (up re-posts what cron runs opened). A resolved
// alert's file goes once a cluster took it.

const (
	// alertResend is how often open alerts are posted again.
	alertResend = time.Minute
	// alertTail bounds an alert's description, the end of the job's output.
	alertTail = 2048
)

// alertmanagerCluster is one [[notify.alertmanager]]: its peers, and the
// Authorization header they want (a secret), if any.
type alertmanagerCluster struct {
	urls []string
	auth string
}

// alertState is an alert as its spool file keeps it: what Alertmanager's
// postableAlert holds but endsAt, which each post sets.
type alertState struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
	// Resolved is when the incident was resolved: the alert's endsAt. Zero while open.
	Resolved time.Time `json:"resolved,omitzero"`
}

// postableAlert is what /api/v2/alerts takes.
type postableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// alerter sends the alerts, from a goroutine of its own, so that a slow
// Alertmanager does not hold Telegram's messages back.
type alerter struct {
	clusters     []alertmanagerCluster
	generatorURL string
	secrets      []string // the passwords and tokens: never shown
	dir          string   // the spool; empty keeps alerts in memory
	stderr       io.Writer
	maxWait      time.Duration // the notifier's timeout: how long a post is tried
	resend       time.Duration // alertResend, shorter in tests
	backoff      time.Duration // the first wait between tries of a post
	client       *http.Client

	mu      sync.Mutex
	mem     map[string]alertState // alerts no file keeps: no spool, or it could not be written
	pending map[string]alertState // put since they were last delivered, by file name
	said    string                // the last problem said on stderr, not said again in a row
	failed  int                   // posts of this process's own alerts that gave up
	health  AlertStatus           // how posts have gone, for status and the metrics

	kick    chan struct{}
	closing chan struct{}
	abort   chan struct{}
	done    chan struct{}
	once    sync.Once // closes closing
	once2   sync.Once // closes abort
}

// newAlerter returns the alerter of the clusters, not yet running.
func newAlerter(clusters []alertmanagerCluster, generatorURL, dir string, secrets []string, stderr io.Writer, maxWait time.Duration) *alerter {
	return &alerter{clusters: clusters, generatorURL: generatorURL, secrets: secrets, dir: dir, stderr: stderr,
		maxWait: maxWait, resend: alertResend, backoff: defaultBackoff, client: &http.Client{},
		mem: map[string]alertState{}, pending: map[string]alertState{}, health: AlertStatus{Results: map[string]int{"sent": 0, "failed": 0}},
		kick: make(chan struct{}, 1), closing: make(chan struct{}), abort: make(chan struct{}), done: make(chan struct{})}
}

// testAlertFor is how long the alert of `supervise notify --test` lasts: its
// endsAt, after which Alertmanager resolves it by itself.
const testAlertFor = 5 * time.Minute

// TestAlert posts a test alert (alertname SuperviseTest, job supervise, the host)
// with summary to every Alertmanager the config file names, as an incident's alert
// is posted, within ctx, and says where it went. Alertmanager routes it as any
// other, and resolves it after testAlertFor. The error says which cluster did not
// take it and why; where is empty when no Alertmanager is configured.
func (p *Pipeline) TestAlert(ctx context.Context, summary string) (where string, err error) {
	a := p.am
	if a == nil {
		return "", nil
	}
	now := time.Now().UTC()
	data, err := json.Marshal([]postableAlert{{
		Labels:       map[string]string{"alertname": "SuperviseTest", "job": "supervise", "host": p.opts.Host},
		Annotations:  map[string]string{"summary": summary},
		StartsAt:     now,
		EndsAt:       now.Add(testAlertFor),
		GeneratorURL: a.generatorURL,
	}})
	if err != nil {
		return "", err
	}
	var urls []string
	for _, c := range a.clusters {
		urls = append(urls, strings.Join(c.urls, ", "))
	}
	where = "Alertmanager at " + strings.Join(urls, "; ")
	if err, _ := a.post(ctx, data); err != nil {
		return where, fmt.Errorf("%s: %w", where, err)
	}
	return where, nil
}

// alertName is the alertname of inc: what it is now, its stage.
func alertName(inc *incident) string {
	switch inc.Stage {
	case supervisor.KindRestartLoop:
		return "SuperviseCrashLoop"
	case supervisor.KindHeartbeat:
		return "SuperviseHeartbeatMissed"
	case supervisor.KindProblem:
		return "SuperviseJobFileBroken"
	case supervisor.KindTimeout:
		return "SuperviseJobTimedOut"
	}
	return "SuperviseJobFailed"
}

// alertOf is the alert of inc on host once ev is its latest event.
func (a *alerter) alertOf(inc *incident, ev supervisor.Event, host string) alertState {
	st := alertState{
		Labels:       map[string]string{"alertname": alertName(inc), "job": inc.Job, "host": host},
		Annotations:  map[string]string{"summary": inc.Head},
		StartsAt:     inc.Opened.UTC(),
		GeneratorURL: a.generatorURL,
	}
	if ev.Command != "" {
		st.Annotations["command"] = ev.Command
	}
	out := ev.Output
	if ev.Kind == supervisor.KindProblem {
		out = []byte(ev.Message)
	}
	if tail := strings.TrimRight(string(out[max(0, len(out)-alertTail):]), " \t\r\n"); tail != "" {
		st.Annotations["description"] = strings.ToValidUTF8(tail, "\uFFFD")
	}
	return st
}

// alertFile names the file of inc's alert st: the incident and the alertname, which
// changes with its stage (a failure that becomes a crash loop).
func alertFile(inc *incident, st alertState) string {
	return inc.ID + "." + st.Labels["alertname"] + ".json"
}

// open puts the alert of inc, opened or changed by ev, on host. An alert of the
// incident under another alertname, from an earlier stage, is resolved: its labels
// name another alert.
func (a *alerter) open(inc *incident, ev supervisor.Event, host string, now time.Time) {
	st := a.alertOf(inc, ev, host)
	name := alertFile(inc, st)
	for old, ost := range a.alertsOf(inc.ID) {
		if old != name && ost.Resolved.IsZero() {
			ost.Resolved = now.UTC()
			a.put(old, ost)
		}
	}
	a.put(name, st)
}

// resolve puts the alerts of inc as resolved at now.
func (a *alerter) resolve(inc *incident, ev supervisor.Event, host string, now time.Time) {
	found := false
	for name, st := range a.alertsOf(inc.ID) {
		if st.Resolved.IsZero() {
			st.Resolved, found = now.UTC(), true
			st.Annotations = maps.Clone(st.Annotations)
			st.Annotations["summary"] = resolvedHeadline(inc, host, now)
			a.put(name, st)
		}
	}
	if !found { // its file was lost, or never written: its labels are known all the same
		st := a.alertOf(inc, ev, host)
		st.Resolved = now.UTC()
		st.Annotations = map[string]string{"summary": resolvedHeadline(inc, host, now)}
		a.put(alertFile(inc, st), st)
	}
}

// alertsOf returns the alerts of the incident id, by file name.
func (a *alerter) alertsOf(id string) map[string]alertState {
	all := a.load()
	maps.DeleteFunc(all, func(name string, _ alertState) bool { return !strings.HasPrefix(name, id+".") })
	return all
}

// put keeps st as the latest state of the alert name, in the spool when it can, and
// has it posted.
func (a *alerter) put(name string, st alertState) {
	err := a.write(name, st)
	a.mu.Lock()
	a.pending[name] = st
	if err != nil {
		a.mem[name] = st
	} else {
		delete(a.mem, name)
	}
	a.mu.Unlock()
	if err != nil && !errors.Is(err, errNoSpool) {
		a.say(fmt.Sprintf("alertmanager spool: %v; the alert is kept in memory", err))
	}
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// write keeps st in the spool file name: written whole to a new file, synced and
// renamed into place, so a crash leaves the older state or the newer, never half.
func (a *alerter) write(name string, st alertState) error {
	if a.dir == "" {
		return errNoSpool
	}
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(a.dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(a.dir, ".new-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	err = errors.Join(err, f.Sync(), f.Close())
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(a.dir, name))
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// load returns every alert there is: the spool's files, which other processes
// sharing the state folder write too, and those kept in memory.
func (a *alerter) load() map[string]alertState {
	all := map[string]alertState{}
	if a.dir != "" {
		entries, _ := os.ReadDir(a.dir) // none yet, or unreadable: what memory holds is all
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			var st alertState
			if data, err := os.ReadFile(filepath.Join(a.dir, e.Name())); err == nil && json.Unmarshal(data, &st) == nil && st.Labels != nil {
				all[e.Name()] = st
			}
		}
	}
	a.mu.Lock()
	maps.Copy(all, a.mem)
	a.mu.Unlock()
	return all
}

// run posts what is put, and every alert each resend, until close.
func (a *alerter) run() {
	defer close(a.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-a.abort:
			cancel()
		case <-a.done:
		}
	}()
	tick := time.NewTicker(a.resend)
	defer tick.Stop()
	a.flush(ctx, true) // what earlier processes left, and a refresh of what is open
	for {
		select {
		case <-a.kick:
			a.flush(ctx, false)
		case <-tick.C:
			a.flush(ctx, true)
		case <-a.closing:
			a.flush(ctx, false)
			return
		}
	}
}

// close posts what was put and not delivered yet, within ctx, and stops the
// alerter. It reports whether every post it made was delivered; what was not waits
// in the spool.
func (a *alerter) close(ctx context.Context) bool {
	a.once.Do(func() { close(a.closing) })
	a.mu.Lock()
	idle := len(a.pending) == 0
	a.mu.Unlock()
	if idle {
		// Nothing of this process waits: a re-post of what others left, which an
		// Alertmanager that is down may hold for the notifier's timeout, does not keep
		// a run from exiting. It waits in the spool for the next.
		a.once2.Do(func() { close(a.abort) })
	}
	select {
	case <-a.done:
	case <-ctx.Done():
		a.once2.Do(func() { close(a.abort) })
		<-a.done
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.failed == 0
}

// flush posts every alert there is (all), or only when some were put since the
// last delivery, within the notifier's timeout. A resolved alert leaves the spool
// once posted; an open one stays, to be posted again.
func (a *alerter) flush(ctx context.Context, all bool) {
	a.mu.Lock()
	put := len(a.pending)
	a.mu.Unlock()
	if !all && put == 0 {
		return
	}
	alerts := a.load() // what was put is there: in its file, or in memory
	if len(alerts) == 0 {
		return
	}
	names := slices.Sorted(maps.Keys(alerts))
	now := time.Now().UTC()
	body := make([]postableAlert, 0, len(names))
	for _, name := range names {
		st := alerts[name]
		ends := cmp.Or(st.Resolved, now.Add(4*a.resend))
		body = append(body, postableAlert{Labels: st.Labels, Annotations: st.Annotations, StartsAt: st.StartsAt, EndsAt: ends, GeneratorURL: st.GeneratorURL})
	}
	data, err := json.Marshal(body)
	if err != nil {
		a.say(fmt.Sprintf("alertmanager: %v", err))
		return
	}
	pctx, cancel := context.WithTimeout(ctx, a.maxWait)
	defer cancel()
	if err, again := a.post(pctx, data); err != nil {
		a.mu.Lock()
		a.health.Results["failed"]++
		a.health.LastError, a.health.LastErrorAt = a.hide(err.Error()), time.Now()
		if put > 0 {
			a.failed++ // this process's own alerts wait; others' backlog fails nobody
		}
		if !again {
			clear(a.pending) // refused: posted again with the others at the next resend, not before
		}
		a.mu.Unlock()
		a.say(fmt.Sprintf("alertmanager: %d alerts not delivered yet, kept in %s: %v", len(body), a.where(), err))
		return
	}
	undone := a.undone(names, alerts)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.said = "" // a problem that comes back is said again
	a.health.Results["sent"]++
	a.health.LastPost, a.health.Firing = time.Now(), 0
	for _, name := range names {
		st := alerts[name]
		if st.Resolved.IsZero() {
			a.health.Firing++
		}
		if p, ok := a.pending[name]; ok && equalAlert(p, st) {
			delete(a.pending, name)
		}
		if st.Resolved.IsZero() {
			continue
		}
		if m, ok := a.mem[name]; ok && equalAlert(m, st) {
			delete(a.mem, name)
		}
		if a.dir != "" {
			a.removeIf(name, st)
		}
	}
	for name, st := range undone {
		a.pending[name], a.mem[name] = st, st // in memory too, for a file gone: until posted
	}
	if len(undone) > 0 {
		select {
		case a.kick <- struct{}{}:
		default:
		}
	}
}

// undone returns the alerts that a post of alerts (loaded from the spool, by name)
// may have undone: those it posted open, which another process resolved while the
// post was on its way. Their files now hold the resolved state, or are gone, removed
// by the process that posted it; such an alert is to be posted again, resolved,
// now, rather than left firing until its endsAt, 4 resends later.
func (a *alerter) undone(names []string, alerts map[string]alertState) map[string]alertState {
	if a.dir == "" {
		return nil
	}
	a.mu.Lock()
	mem := maps.Clone(a.mem)
	a.mu.Unlock()
	var undone map[string]alertState
	for _, name := range names {
		st := alerts[name]
		if _, ok := mem[name]; ok || !st.Resolved.IsZero() {
			continue // not from a file, or posted resolved
		}
		var now alertState
		data, err := os.ReadFile(filepath.Join(a.dir, name))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			st.Resolved = time.Now().UTC()
		case err == nil && json.Unmarshal(data, &now) == nil && !now.Resolved.IsZero():
			st = now
		default:
			continue
		}
		if undone == nil {
			undone = map[string]alertState{}
		}
		undone[name] = st
	}
	return undone
}

// status says how posts have gone.
func (a *alerter) status() AlertStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.health
	st.Results = maps.Clone(a.health.Results)
	st.Waiting = len(a.pending)
	return st
}

// removeIf removes the spool file name if it still holds st: another process may
// have put a newer state since.
func (a *alerter) removeIf(name string, st alertState) {
	path := filepath.Join(a.dir, name)
	var now alertState
	if data, err := os.ReadFile(path); err == nil && json.Unmarshal(data, &now) == nil && equalAlert(now, st) {
		os.Remove(path)
	}
}

func equalAlert(a, b alertState) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// where names the spool, for messages.
func (a *alerter) where() string {
	if a.dir == "" {
		return "memory"
	}
	return a.dir
}

// post posts data to every cluster, each to all its peers, trying again with a
// growing wait while one fails in a way that may pass, until ctx is done. A cluster
// took it when one of its peers did. A refusal (a 4xx other than 429) is not tried
// again: again is false.
func (a *alerter) post(ctx context.Context, data []byte) (err error, again bool) {
	left := slices.Clone(a.clusters)
	wait := a.backoff
	var last error // a try cut short by ctx says less than the one before it
	for {
		var errs []error
		retry := false
		left = slices.DeleteFunc(left, func(c alertmanagerCluster) bool {
			err, again := a.postCluster(ctx, c, data)
			errs = append(errs, err)
			retry = retry || again
			return err == nil
		})
		if len(left) == 0 {
			return nil, false
		}
		err := errors.Join(errs...)
		if ctx.Err() != nil && last != nil {
			err = last
		}
		if !retry {
			return err, false
		}
		last = err
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err, true
		}
		wait = min(2*wait, maxBackoff)
	}
}

// postCluster posts data to each peer of c; nil when one took it. again says a
// failure may pass: a peer was unreachable, busy (429) or failing (5xx).
func (a *alerter) postCluster(ctx context.Context, c alertmanagerCluster, data []byte) (err error, again bool) {
	var errs []error
	for _, u := range c.urls {
		perr, pagain := a.postOne(ctx, c, u, data)
		if perr == nil {
			return nil, false
		}
		errs, again = append(errs, perr), again || pagain
	}
	return errors.Join(errs...), again
}

func (a *alerter) postOne(ctx context.Context, c alertmanagerCluster, base string, data []byte) (error, bool) {
	u := strings.TrimSuffix(base, "/") + "/api/v2/alerts"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(data))
	if err != nil {
		return err, false
	}
	req.Header.Set("Content-Type", "application/json")
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return errors.New(a.hide(err.Error())), true
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 == 2 {
		return nil, false
	}
	err = fmt.Errorf("%s: %s: %s", u, resp.Status, a.hide(strings.TrimSpace(string(answer))))
	return err, resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
}

// hide takes the secrets out of s.
func (a *alerter) hide(s string) string {
	for _, secret := range a.secrets {
		s = strings.ReplaceAll(s, secret, "[redacted]")
	}
	return s
}

// redactEvent takes the secrets out of what an event tells.
func (a *alerter) redactEvent(ev supervisor.Event) supervisor.Event {
	for _, secret := range a.secrets {
		if bytes.Contains(ev.Output, []byte(secret)) {
			ev.Output = []byte(a.hide(string(ev.Output)))
		}
	}
	for _, s := range []*string{&ev.Job, &ev.Command, &ev.Note, &ev.Message, &ev.Status, &ev.LastSignBy} {
		*s = a.hide(*s)
	}
	if ev.Err != nil {
		if h := a.hide(ev.Err.Error()); h != ev.Err.Error() {
			ev.Err = errors.New(h)
		}
	}
	return ev
}

// say writes msg on stderr, once while it stays the same.
func (a *alerter) say(msg string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if msg == a.said {
		return
	}
	a.said = msg
	fmt.Fprintf(a.stderr, "supervise: %s\n", a.hide(msg))
}

// alerterOf returns the alerter of the config file's [[notify.alertmanager]]
// tables, nil for none, reading their secrets' files. No error shows a secret.
func alerterOf(cfg *supervisor.Config, dir string, stderr io.Writer, maxWait time.Duration) (*alerter, error) {
	if cfg == nil || len(cfg.Alertmanagers) == 0 {
		return nil, nil
	}
	var clusters []alertmanagerCluster
	var secrets []string
	generator := ""
	for i, am := range cfg.Alertmanagers {
		where := fmt.Sprintf("%s table %d", cfg.Where("notify.alertmanager"), i+1)
		read := func(key, file string) (string, error) {
			data, err := os.ReadFile(file)
			if err != nil {
				return "", fmt.Errorf("notifier: %s: %s: %w", where, key, err) // names the file, never its contents
			}
			s := strings.TrimSpace(string(data))
			if s == "" {
				return "", fmt.Errorf("notifier: %s: %s: %s is empty", where, key, file)
			}
			return s, nil
		}
		c := alertmanagerCluster{urls: am.URLs}
		switch {
		case am.PasswordFile != "":
			pw, err := read("basic_auth.password_file", am.PasswordFile)
			if err != nil {
				return nil, err
			}
			c.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(am.Username+":"+pw))
			secrets = append(secrets, pw, c.auth[len("Basic "):])
		case am.BearerTokenFile != "":
			token, err := read("bearer_token_file", am.BearerTokenFile)
			if err != nil {
				return nil, err
			}
			c.auth = "Bearer " + token
			secrets = append(secrets, token)
		}
		clusters = append(clusters, c)
		generator = cmp.Or(generator, am.GeneratorURL)
	}
	return newAlerter(clusters, generator, dir, secrets, stderr, maxWait), nil
}
