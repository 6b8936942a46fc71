package supervisor

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Daemon is `supervise up`: it keeps a set of jobs running, one lifecycle goroutine
// per job, and delivers their events through one notifier goroutine, so that a slow chat
// never holds up a restart. The goroutine in Run owns the set of lifecycles; Reload and
// Kill ask it for changes.
type Daemon struct {
	Host     string
	Stdout   io.Writer // the jobs' output, each line behind its job's name
	Color    bool      // colour the names, for a terminal
	Stderr   io.Writer // supervise's own complaints
	Notifier Notifier
	LogDir   string // where each job's output is logged as JOB.log; empty for no logs
	RunsDir  string // where a scheduled job's last run is kept as JOB.json; empty for nowhere

	// Where jobs send signs of life: PingBase is the URL PingHandler is served at
	// ("http://127.0.0.1:8427"), NotifyDir a private folder for the jobs' NOTIFY_SOCKETs.
	// Each empty for none.
	PingBase  string
	NotifyDir string

	// Clock is the jobs' time; nil for the wall clock. Tests set a fake one.
	Clock Clock

	// DrainTimeout bounds how long pending messages are still sent once the jobs have
	// stopped; what is left is written to Stderr. Zero means 5 seconds.
	DrainTimeout time.Duration

	initOnce sync.Once
	reloads  chan reload
	stopped  chan struct{} // closed when Run has returned

	mu         sync.Mutex
	events     chan Event            // to the notifier goroutine; nil once closed
	lifecycles map[string]*lifecycle // by job name
	stopping   map[string]*lifecycle // removed by a reload and not yet stopped
	jobs       map[string]*perJob    // by job name; kept across reloads
	longNames  int                   // sockets named by number, for names too long for a path
}

// perJob is what a job keeps across its lifecycles: its Pulse with its NOTIFY_SOCKET, so
// a reload does not move the socket a running job was given, and its status.
type perJob struct {
	*Pulse
	socket    *NotifySocket // nil when it could not be made
	tracker   *tracker
	followers followers // readers of `supervise logs -f`
}

// eventQueue is how many events may wait for the notifier before new ones go to
// stderr instead: enough for every job of a large host to fail at once.
const eventQueue = 1024

func (d *Daemon) init() {
	d.initOnce.Do(func() {
		d.reloads = make(chan reload)
		d.stopped = make(chan struct{})
		d.events = make(chan Event, eventQueue)
		d.lifecycles = map[string]*lifecycle{}
		d.stopping = map[string]*lifecycle{}
		d.jobs = map[string]*perJob{}
	})
}

// reload is a new set of jobs for the daemon. Broken names the job files that could
// not be loaded: a job whose file broke keeps running as it was.
type reload struct {
	jobs   []*Job
	broken map[string]bool
	done   chan struct{}
}

// Run keeps jobs running until ctx is done, then stops them all at once and waits for
// them, each with its stop_signal and stop_timeout, and sends what is left to send.
func (d *Daemon) Run(ctx context.Context, jobs []*Job) {
	d.init()
	defer close(d.stopped)
	draining, drain := context.WithCancel(context.Background())
	defer drain()
	delivered := make(chan struct{})
	go d.deliver(d.events, draining, delivered)

	out := &lineWriter{w: d.Stdout, color: d.Color}
	var wg sync.WaitGroup
	// start runs job in a lifecycle of its own, once the one it replaces is done.
	start := func(job *Job, replaces *lifecycle) {
		kctx, cancel := context.WithCancel(ctx)
		// The pulse is found or made under the lock that registers the lifecycle, so
		// one of the same name that just stopped cannot close it meanwhile.
		d.mu.Lock()
		defer d.mu.Unlock()
		pl := d.perJob(job.Name)
		// The job's output goes to up's stdout behind its name, and to its log and
		// those who follow it.
		var outs []io.Writer
		screen := out.prefixed(job.Name)
		if screen != nil {
			outs = append(outs, screen)
		}
		log := &logFile{path: filepath.Join(d.LogDir, job.Name+".log"), max: job.Log.MaxSize, keep: job.Log.Keep, stderr: d.Stderr}
		if d.LogDir != "" {
			outs = append(outs, pl.followers.writer(log))
		} else {
			outs = append(outs, pl.followers.writer(io.Discard))
		}
		runner := &Runner{Host: d.Host, Stdout: io.MultiWriter(outs...), Stderr: d.Stderr, Pulse: pl.Pulse, Tell: d.queue,
			Started: pl.tracker.started}
		if d.PingBase != "" {
			runner.PingURL = PingURL(d.PingBase, job.Name)
		}
		if pl.socket != nil {
			runner.NotifySocket = pl.socket.Path
		}
		signals := make(chan os.Signal, 1)
		l := &lifecycle{
			name:   job.Name,
			job:    job,
			spec:   job,
			host:   d.Host,
			clock:  d.clock(),
			stderr: d.Stderr,
			emit:   d.queue,
			launch: func(ctx context.Context, job *Job) <-chan Result {
				result := make(chan Result, 1)
				go func() {
					res := runner.Run(ctx, job, signals)
					if screen != nil {
						screen.Flush() // the last unfinished line of the run's output
					}
					result <- res
				}()
				return result
			},
			signals:  signals,
			pulse:    pl.Pulse,
			track:    pl.tracker,
			runs:     runStore{dir: d.RunsDir, stderr: d.Stderr},
			forget:   new(atomic.Bool),
			replaced: new(atomic.Bool),
			requests: make(chan request),
			updates:  make(chan *Job, 1),
			stop:     cancel,
			done:     make(chan struct{}),
		}
		if old := d.stopping[job.Name]; replaces == nil && old != nil {
			replaces = old // the same name, removed by an earlier reload and still stopping
		}
		d.lifecycles[job.Name] = l
		l.replaces = replaces
		if replaces != nil {
			pl.tracker.set(StateStarting, time.Time{}, time.Time{}, l.clock.Now()) // until the old version is down
		}
		wg.Go(func() {
			defer log.Close()
			l.loop(kctx)
		})
	}
	for _, job := range jobs {
		start(job, nil)
	}
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			d.mu.Lock()
			for _, p := range d.jobs {
				if p.socket != nil {
					p.socket.Close()
				}
			}
			close(d.events)
			d.events = nil
			d.mu.Unlock()
			drain() // the jobs have stopped: the drain clock starts
			<-delivered
			return
		case r := <-d.reloads:
			d.apply(r, start)
			close(r.done)
		}
	}
}

// perJob returns what the job keeps across lifecycles, made with its NOTIFY_SOCKET the
// first time. d.mu is held.
func (d *Daemon) perJob(name string) *perJob {
	if p := d.jobs[name]; p != nil {
		return p
	}
	p := &perJob{Pulse: NewPulse(), tracker: newTracker(name, d.clock().Now())}
	d.jobs[name] = p
	if d.NotifyDir == "" {
		return p
	}
	path := filepath.Join(d.NotifyDir, name+".sock")
	if len(path) > maxSocketPath {
		// A long job name: the socket gets a number instead, after a '_' that no job
		// name starts with, and never one that was given before.
		d.longNames++
		path = filepath.Join(d.NotifyDir, fmt.Sprintf("_%d.sock", d.longNames))
	}
	sock, err := listenSdNotify(path, p.sdNotify)
	if err != nil {
		fmt.Fprintf(d.Stderr, "supervise: %s: no NOTIFY_SOCKET: %v\n", name, err)
		return p
	}
	p.socket = sock
	return p
}

// Pulse returns the Pulse of the job named name, or nil when there is no such job:
// what PingHandler needs.
func (d *Daemon) Pulse(name string) *Pulse {
	d.init()
	d.mu.Lock()
	defer d.mu.Unlock()
	if p := d.jobs[name]; p != nil && d.lifecycles[name] != nil {
		return p.Pulse
	}
	return nil
}

func (d *Daemon) clock() Clock {
	if d.Clock == nil {
		return WallClock{}
	}
	return d.Clock
}

// queue hands ev to the notifier goroutine without waiting: a job is never held up by
// its messages. Should the queue be full (the chat unreachable for long) or closed,
// the event is written to stderr instead.
func (d *Daemon) queue(ev Event) {
	d.init()
	d.mu.Lock()
	if d.events != nil {
		select {
		case d.events <- ev:
			d.mu.Unlock()
			return
		default:
		}
	}
	d.mu.Unlock()
	fmt.Fprintf(d.Stderr, "supervise: %s: %s not sent: the notifier is not taking messages\n", ev.Job, ev.Kind)
}

// Reload replaces the daemon's jobs with jobs: new ones start, those gone stop, and a
// changed one restarts only if what shapes its process changed (command, env, dir,
// pty); other settings apply from its next run, and notification settings at once.
// A job whose file is in broken runs on as it was. Reload returns once the changes are
// under way, or when ctx is done or the daemon has stopped.
func (d *Daemon) Reload(ctx context.Context, jobs []*Job, broken []string) {
	d.init()
	r := reload{jobs: jobs, broken: map[string]bool{}, done: make(chan struct{})}
	for _, path := range broken {
		r.broken[path] = true
	}
	select {
	case d.reloads <- r:
		<-r.done
	case <-d.stopped:
	case <-ctx.Done():
	}
}

// apply makes the changes of a reload; it runs on Run's goroutine.
func (d *Daemon) apply(r reload, start func(*Job, *lifecycle)) {
	d.mu.Lock()
	current := maps.Clone(d.lifecycles)
	d.mu.Unlock()
	wanted := map[string]*Job{}
	for _, job := range r.jobs {
		wanted[job.Name] = job
	}
	for name, l := range current {
		if wanted[name] == nil && !r.broken[l.spec.File] {
			l.forget.Store(true) // removed, not down: no runs are missed meanwhile
			l.stop()
			d.mu.Lock()
			delete(d.lifecycles, name)
			d.stopping[name] = l
			d.mu.Unlock()
			go func() {
				<-l.done
				d.mu.Lock()
				if d.stopping[name] == l {
					delete(d.stopping, name)
				}
				// Gone for good: its NOTIFY_SOCKET and status go too.
				if p := d.jobs[name]; p != nil && d.lifecycles[name] == nil && d.stopping[name] == nil {
					delete(d.jobs, name)
					p.followers.closeReaders()
					if p.socket != nil {
						p.socket.Close()
					}
				}
				d.mu.Unlock()
			}()
		}
	}
	for _, job := range r.jobs {
		l := current[job.Name]
		switch {
		case l == nil:
			start(job, nil)
		case !sameProcess(l.spec, job):
			l.replaced.Store(true)
			l.stop()
			start(job, l)
		default:
			d.mu.Lock() // Status reads the spec
			l.update(job)
			d.mu.Unlock()
		}
	}
}

// sameProcess reports whether a and b start the same process, kept the same way
// (scheduled or kept running).
func sameProcess(a, b *Job) bool {
	return slices.Equal(a.Command, b.Command) && maps.Equal(a.Env, b.Env) && a.Dir == b.Dir && a.PTY == b.PTY &&
		(a.Schedule == nil) == (b.Schedule == nil)
}

// Kill sends SIGKILL to every job at once, for a second request to stop.
func (d *Daemon) Kill() {
	d.init()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, l := range d.lifecycles {
		l.kill()
	}
	for _, l := range d.stopping {
		l.kill()
	}
}

// Report tells the chat about a problem of supervise itself, such as a job file it
// could not load: subject is what it is about, note what follows from it, details the
// whole error. It goes out with the jobs' events, so it never holds anything up.
func (d *Daemon) Report(subject, note string, details error) {
	if d.Notifier == nil {
		fmt.Fprintf(d.Stderr, "supervise: %s: %s:\n%v\n", subject, note, details)
		return
	}
	fmt.Fprintf(d.Stderr, "supervise: %s: %s\n", subject, note)
	text := details.Error() + "\n"
	d.queue(Event{Kind: KindProblem, Job: subject, Host: d.Host, Note: note,
		Output: []byte(text), OutputLines: strings.Count(text, "\n"), TailLines: DefaultTail})
}

// deliver sends events one at a time until events is closed. Once draining is done
// (the jobs have stopped) what is left has DrainTimeout in all; the notifier then gives
// up on it, and says so on stderr, with the message.
func (d *Daemon) deliver(events <-chan Event, draining context.Context, done chan<- struct{}) {
	defer close(done)
	sendCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	timeout := d.DrainTimeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	stop := context.AfterFunc(draining, func() { time.AfterFunc(timeout, cancel) })
	defer stop()

	// A notifier with a spool first sends what earlier runs left there, and, while
	// messages wait in it, tries again on a timer that backs off to a quarter hour.
	spool, spooled := d.Notifier.(flusher)
	retry := time.NewTimer(0)
	<-retry.C
	defer retry.Stop()
	wait, armed := spoolRetry, false
	again := func() {
		if !armed {
			retry.Reset(wait)
			armed, wait = true, min(2*wait, 15*spoolRetry)
		}
	}
	if spooled {
		if err := spool.Flush(sendCtx); err != nil {
			fmt.Fprintf(d.Stderr, "supervise: spooled messages not sent yet: %v\n", err)
			again()
		}
	}
	// A chat may only be written to so often: events that come faster are folded into
	// one digest per pace, so a storm is a few messages that name every job.
	var pace time.Duration
	if p, ok := d.Notifier.(pacer); ok {
		pace = p.Pace()
	}
	var last time.Time // when the last message went
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return
			}
			if d.Notifier == nil {
				continue
			}
			batch, open := []Event{ev}, true
			if pace > 0 { // a console takes every message whole, however fast
				batch, open = collect(events, ev, time.Until(last.Add(pace)))
			}
			for _, ev := range d.digests(batch) {
				if err := d.Notifier.Notify(sendCtx, ev); err != nil {
					fmt.Fprintf(d.Stderr, "supervise: %s: notify %s: %v\n", ev.Job, ev.Kind, err)
					if spooled {
						again()
					}
				} else if spooled {
					wait = spoolRetry
				}
			}
			last = time.Now()
			if !open {
				return
			}
		case <-retry.C:
			armed = false
			if err := spool.Flush(sendCtx); err != nil {
				fmt.Fprintf(d.Stderr, "supervise: spooled messages not sent yet: %v; trying again in %s\n", err, wait)
				again()
			} else {
				wait = spoolRetry
			}
		}
	}
}

// digests folds the events of batch that go to the same chats into one digest each,
// in the order their first events came.
func (d *Daemon) digests(batch []Event) []Event {
	var keys []string
	groups := map[string][]Event{}
	for _, ev := range batch {
		key := fmt.Sprint(ev.To) // the job's own chats, or none for the configured one
		if groups[key] == nil {
			keys = append(keys, key)
		}
		groups[key] = append(groups[key], ev)
	}
	out := make([]Event, 0, len(keys))
	for _, key := range keys {
		g := groups[key]
		if len(g) == 1 {
			out = append(out, g[0])
			continue
		}
		digest := Event{Kind: KindDigest, Host: d.Host, Digest: g, Within: time.Since(g[0].at()), To: g[0].To}
		digest.Job = fmt.Sprintf("%d events", len(g))
		out = append(out, digest)
	}
	return out
}

// MaxDigest is how many events one digest folds at most: few enough that it names
// every job, even with the longest names, in one message. More make more digests.
const MaxDigest = 30

// collect returns first and the events that come within wait after it (and what is
// already queued), up to MaxDigest, and whether events is still open.
func collect(events <-chan Event, first Event, wait time.Duration) ([]Event, bool) {
	batch := []Event{first}
	timer := time.NewTimer(max(wait, 0))
	defer timer.Stop()
	for len(batch) < MaxDigest {
		select {
		case ev, ok := <-events:
			if !ok {
				return batch, false
			}
			batch = append(batch, ev)
		case <-timer.C:
			// What is queued already goes too, rather than waiting a whole pace. This
			// is the only reader, so what len counts can be taken without blocking.
			for len(batch) < MaxDigest && len(events) > 0 {
				batch = append(batch, <-events)
			}
			return batch, true
		}
	}
	return batch, true
}

// spoolRetry is how long up waits before it tries a spool again that it could not
// send; the wait doubles while it fails, up to 15 times as long. A variable for tests.
var spoolRetry = time.Minute

// pacer is a Notifier that may only send so often: at most one message per Pace.
type pacer interface{ Pace() time.Duration }

// flusher is a Notifier with a spool of messages it could not send yet: Flush sends
// them.
type flusher interface{ Flush(context.Context) error }
