package supervisor

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"sync"
	"time"
)

// Heartbeat is how often a running job must show a sign of life: a ping to its
// SUPERVISE_PING_URL, `supervise ping`, an sd_notify WATCHDOG=1 or, when Output is set,
// a line of output. A job silent for Every plus Grace is reported once, and once more
// when its signs resume.
type Heartbeat struct {
	Every, Grace time.Duration
	Action       HeartbeatAction
	Output       bool           // a line of output is a sign of life
	OutputMatch  *regexp.Regexp // only lines that match are (Output is then set too)
}

// HeartbeatAction is what happens when a job misses its heartbeat.
type HeartbeatAction string

// The heartbeat actions: alert only tells the chat; restart also stops the run, with
// the job's stop_signal and stop_timeout, and starts it again, as systemd's WatchdogSec
// does.
const (
	ActionAlert   HeartbeatAction = "alert"
	ActionRestart HeartbeatAction = "restart"
)

// deadline is when a run that started at start and last showed life at last is late.
func (h *Heartbeat) deadline(start, last time.Time) time.Time {
	if last.Before(start) {
		last = start
	}
	return last.Add(h.Limit())
}

// Limit is how long a run may show no sign of life before it is late: Every plus
// Grace, or the longest Duration when a heartbeat of centuries would overflow it,
// which would make the run late at once.
func (h *Heartbeat) Limit() time.Duration {
	if h.Grace > math.MaxInt64-h.Every {
		return math.MaxInt64
	}
	return h.Every + h.Grace
}

// MaxPingMessage is how much of a ping's body is kept as the job's last ping message.
const MaxPingMessage = 100 << 10

// Pulse gathers a job's signs of life from every source and what they said: the last
// ping message and the last sd_notify STATUS. Pings arrive on HTTP goroutines, output
// on the job's output copier and sd_notify on its socket's reader, so it is safe for
// concurrent use; whoever watches the job learns of news through Wake.
type Pulse struct {
	wake chan struct{} // cap 1: there is news for the watcher

	mu      sync.Mutex
	last    time.Time // the last sign of life
	by      string    // what it was: "ping", "WATCHDOG=1", "output"
	message string    // the last ping's body
	status  string    // the last STATUS= from sd_notify
	ready   time.Time // when the job last said READY=1
	since   time.Time // when the job's current or last run started
	late    bool      // the job missed its heartbeat and has shown no sign since
	stalled bool      // the last run was stopped for its heartbeat, to be started again
	failed  bool      // the job reported a failure in this run and no success since
	news    []pulseNews

	// What a passive job (a [heartbeat] and no command) is watched by: its success
	// pings, and the runs it said had started (by /start, keyed by their ?rid=, "" for
	// none) that have not ended yet.
	passive bool
	paused  bool      // stopped by an operator: its pings only leave their message
	ended   time.Time // the last ping that ended a run: a success, a failure or a status
	started map[string]time.Time
}

// maxStarted bounds the runs in flight a Pulse remembers: a client that starts runs
// with new rids and never ends them forgets the oldest.
const maxStarted = 100

// pulseNews is something a watcher must tell the chat about.
type pulseNews struct {
	kind    Kind      // KindFailure for a reported failure, KindRecovery, KindHeartbeat for a trigger
	at      time.Time // when it arrived
	note    string    // what was reported: "reported exit status 3", "WATCHDOG=trigger"
	silent  time.Duration
	message string
}

// NewPulse returns a Pulse with no sign yet.
func NewPulse() *Pulse { return &Pulse{wake: make(chan struct{}, 1)} }

// Wake is signalled when there is news for the job's watcher: a reported failure, or
// a sign of life after the job was reported late or failed.
func (p *Pulse) Wake() <-chan struct{} { return p.wake }

// Beat records a sign of life. by says what it was.
func (p *Pulse) Beat(by string) { p.beat(time.Now(), by) }

// Ping records a ping to the job's URL. what is its suffix: "" or "start" is a sign
// of life, "fail" reports a failure, a number reports an exit status, 0 being
// success, and "log" only leaves a message. rid, the ping's ?rid=, pairs a start
// with its end, so that two runs in flight are told apart; "" pairs the pings sent
// without one. message is the ping's body, kept as the last ping message: a ping
// without one clears it, so that no alert quotes an earlier ping's words as this
// one's; a log without one changes nothing.
func (p *Pulse) Ping(what, rid, message string) error {
	failure := ""
	switch what {
	case "", "start", "log":
	case "fail":
		failure = "reported a failure"
	default:
		code, err := strconv.Atoi(what)
		if err != nil || code < 0 || code > 255 || strconv.Itoa(code) != what {
			return fmt.Errorf("%q is not start, fail, log or an exit status from 0 to 255", what)
		}
		if code != 0 {
			failure = "reported exit status " + what
		}
	}
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if what == "log" || p.paused {
		// As healthchecks.io has it: a log event changes no state and is no sign
		// of life; its body is what the next alert quotes. So is every ping to a
		// passive job an operator stopped: stop is how a check is silenced.
		if message != "" {
			p.message = message
		}
		return nil
	}
	p.message = message
	if what == "start" {
		if p.started == nil {
			p.started = map[string]time.Time{}
		}
		if _, ok := p.started[rid]; !ok && len(p.started) >= maxStarted {
			oldest := ""
			for r, t := range p.started {
				if oldest == "" || t.Before(p.started[oldest]) {
					oldest = r
				}
			}
			delete(p.started, oldest)
		}
		p.started[rid] = now
		if p.passive {
			return nil // a start is no success: its run must end within the grace
		}
	} else {
		delete(p.started, rid) // an end whose start was never seen counts all the same
		p.ended = now
	}
	p.beatLocked(now, "ping", failure, message)
	return nil
}

// beat records a sign of life other than a ping.
func (p *Pulse) beat(now time.Time, by string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.beatLocked(now, by, "", "")
}

// beatLocked records a sign of life, or, when failure says what was reported, a
// failure; p.mu is held. message is the sign's own, a ping's body, for the recovery
// it may make; a failure quotes the last ping message.
func (p *Pulse) beatLocked(now time.Time, by, failure, message string) {
	if failure != "" {
		// A reported failure is not a sign of health: the job is alive but not well.
		// It is told once a run; the next success ends it.
		if !p.failed {
			p.failed = true
			p.push(pulseNews{kind: KindFailure, at: now, note: failure, message: p.message})
		}
		return
	}
	// The silence is counted from the last sign, or from the start of the run when
	// there was none in it.
	var silent time.Duration
	if from := p.last; !from.IsZero() || !p.since.IsZero() {
		if from.Before(p.since) {
			from = p.since
		}
		silent = now.Sub(from)
	}
	p.last, p.by = now, by
	switch {
	case p.late:
		p.late, p.failed = false, false
		p.push(pulseNews{kind: KindRecovery, at: now, silent: silent, message: message})
	case p.failed:
		p.failed = false
		p.push(pulseNews{kind: KindRecovery, at: now, note: "it reported success again", message: message})
	}
}

// startRun records that a run of the job starts: what the last run reported, or
// missed, is not this one's. But a run that follows one stopped for its heartbeat
// goes on with its silence, so a job restarted for its heartbeat is reported once,
// and recovers once, with the whole silence counted.
func (p *Pulse) startRun(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failed = false
	if !p.stalled {
		p.since, p.late = now, false
	}
	p.stalled = false
}

// stopped records that the run was stopped for its heartbeat, to be started again.
func (p *Pulse) stopped() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalled = true
}

// push queues news and wakes the watcher; p.mu is held.
func (p *Pulse) push(n pulseNews) {
	p.news = append(p.news, n)
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// takeNews returns the news since the last call.
func (p *Pulse) takeNews() []pulseNews {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.news
	p.news = nil
	return n
}

// sdNotify records an sd_notify datagram.
func (p *Pulse) sdNotify(m sdMessage) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if m.HasStatus {
		p.status = m.Status
	}
	if m.Ready {
		p.ready = now
	}
	if m.Trigger && !p.late {
		// The program asks for its watchdog action now, as if it had missed its
		// heartbeat; its next sign of life is its recovery.
		p.late = true
		p.push(pulseNews{kind: KindHeartbeat, at: now, note: "it sent WATCHDOG=trigger"})
	}
	switch {
	case m.Watchdog:
		p.beatLocked(now, "WATCHDOG=1", "", "")
	case m.Ready:
		p.beatLocked(now, "READY=1", "", "")
	}
}

// PulseState is what a Pulse knows, for messages and status.
type PulseState struct {
	Last    time.Time // the last sign of life; zero if none
	By      string    // what it was
	Message string    // the last ping message
	Status  string    // the last sd_notify STATUS
	Ready   time.Time // the last READY=1
	Late    bool
	Failed  bool // a failure was reported and no success since
}

// State returns what p knows now.
func (p *Pulse) State() PulseState {
	p.mu.Lock()
	defer p.mu.Unlock()
	return PulseState{Last: p.last, By: p.by, Message: p.message, Status: p.status, Ready: p.ready, Late: p.late, Failed: p.failed}
}

// check reports whether the job, running since start, is late by now, and if so
// whether it is news: the job had not been late since its last sign, so the chat has
// not heard. When it is not late, next is when to check again; once it is, its next
// sign wakes the watcher.
func (p *Pulse) check(h *Heartbeat, start, now time.Time) (late, news bool, next time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	due := h.deadline(start, p.last)
	if now.Before(due) {
		return false, false, due
	}
	news = !p.late
	p.late = true
	return true, news, time.Time{}
}

// watchPassive starts watching a passive job at now: its silence is counted from
// now at the earliest, and the runs it started before are forgotten.
func (p *Pulse) watchPassive(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.passive, p.paused, p.since, p.late, p.started = true, false, now, false, nil
}

// pause stops watching a passive job, until watchPassive watches it again.
func (p *Pulse) pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paused = true
}

// passiveCheck reports whether the passive job is late by now, and if so whether
// it is news, with note saying why: no ping ended a run in time (every and grace
// after the last, or, with a schedule, its next time after the last and grace, as
// healthchecks.io's cron checks have it), or a run it started sent no end within
// grace. When it is not late, next is when to check again; once it is, its next
// success wakes the watcher.
func (p *Pulse) passiveCheck(job *Job, now time.Time) (late, news bool, note string, next time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	h := job.Heartbeat
	from, since := p.ended, "its last ping at "+p.ended.Format(timeLayout)
	if !from.After(p.since) {
		from, since = p.since, "supervise began watching it at "+p.since.Format(timeLayout)
	}
	due := from.Add(h.Every + h.Grace)
	if job.Schedule != nil {
		due = job.Schedule.Next(from).Add(h.Grace)
	}
	note = fmt.Sprintf("no ping since %s", since)
	for rid, t := range p.started {
		if t.Add(h.Grace).Before(due) {
			due = t.Add(h.Grace)
			note = fmt.Sprintf("a run started at %s sent no end within its grace of %s", t.Format(timeLayout), h.Grace)
			if rid != "" {
				note = fmt.Sprintf("the run %s started at %s sent no end within its grace of %s", rid, t.Format(timeLayout), h.Grace)
			}
		}
	}
	if now.Before(due) {
		return false, false, "", due
	}
	news = !p.late
	p.late = true
	return true, news, note, time.Time{}
}

// outputBeat is the writer that turns a job's output into signs of life: every write
// when any output counts, or each line that matches. A carriage return ends a line
// too, so a progress indicator that rewrites its line counts.
type outputBeat struct {
	beat    func() // records a sign of life
	match   *regexp.Regexp
	partial []byte // the unfinished last line, when matching
	skip    bool   // the line is longer than maxMatchLine and was matched already
}

// maxMatchLine bounds the unfinished line kept for matching: a longer line is matched
// on its first maxMatchLine bytes.
const maxMatchLine = 4096

func (o *outputBeat) Write(b []byte) (int, error) {
	n := len(b)
	if o.match == nil {
		if n > 0 {
			o.beat()
		}
		return n, nil
	}
	for len(b) > 0 {
		end := bytes.IndexAny(b, "\r\n")
		part := b
		if end >= 0 {
			part = b[:end]
		}
		if !o.skip {
			take := min(len(part), maxMatchLine-len(o.partial))
			o.partial = append(o.partial, part[:take]...)
			if end >= 0 || len(o.partial) == maxMatchLine {
				if o.match.Match(o.partial) {
					o.beat()
				}
				o.partial, o.skip = o.partial[:0], end < 0
			}
		}
		if end < 0 {
			break
		}
		o.skip, b = false, b[end+1:]
	}
	return n, nil
}

// ListenNotifySocket makes a NOTIFY_SOCKET at path whose sd_notify datagrams go to p:
// WATCHDOG=1 and READY=1 are signs of life, STATUS= is kept, WATCHDOG=trigger is a
// missed heartbeat.
func (p *Pulse) ListenNotifySocket(path string) (*NotifySocket, error) {
	return listenSdNotify(path, p.sdNotify)
}
