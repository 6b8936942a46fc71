package supervisor

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Daemon is `supervise up`: it keeps a set of jobs running, one lifecycle goroutine
// per job, and emits what happens to them to Events, which never holds up a restart.
// The goroutine in Run owns the set of lifecycles; Reload and Kill ask it for changes.
type Daemon struct {
	Host    string
	Stdout  io.Writer // the jobs' output, each line behind its job's name
	Color   bool      // colour the names, for a terminal
	Stderr  io.Writer // supervise's own complaints
	Events  Emitter   // takes what happens to the jobs; nil for nobody
	LogDir  string    // where each job's output is logged as JOB.log; empty for no logs
	RunsDir string    // where a scheduled job's last run is kept as JOB.json; empty for nowhere

	// Where jobs send signs of life: PingBase is the URL PingHandler is served at
	// ("http://127.0.0.1:8427"), NotifyDir a private folder for the jobs' NOTIFY_SOCKETs.
	// Each empty for none.
	PingBase  string
	NotifyDir string

	// Clock is the jobs' time; nil for the wall clock. Tests set a fake one.
	Clock Clock

	initOnce sync.Once
	reloads  chan reload
	stopped  chan struct{} // closed when Run has returned
	started  chan struct{} // closed when every job Run was given has started
	starts   chan struct{} // a place for each run that is starting; see maxStarting

	mu         sync.Mutex
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

func (d *Daemon) init() {
	d.initOnce.Do(func() {
		d.reloads = make(chan reload)
		d.stopped = make(chan struct{})
		d.started = make(chan struct{})
		d.starts = make(chan struct{}, maxStarting)
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
// them, each with its stop_signal and stop_timeout. Delivering what they emitted is
// Events' business.
func (d *Daemon) Run(ctx context.Context, jobs []*Job) {
	d.init()
	defer close(d.stopped)

	out := &lineWriter{w: d.Stdout, color: d.Color}
	// Each job Run was given says once that it has started; the last one closes
	// d.started. A job a reload adds later is not waited for: start runs on this
	// goroutine only, first while initial is set, then for reloads.
	var pending atomic.Int64
	pending.Store(int64(len(jobs)))
	if len(jobs) == 0 {
		close(d.started)
	}
	initial := true
	var wg sync.WaitGroup
	// start runs job in a lifecycle of its own, once the one it replaces is done.
	start := func(job *Job, replaces *lifecycle) {
		begun := func() {}
		if initial {
			begun = sync.OnceFunc(func() {
				if pending.Add(-1) == 0 {
					close(d.started)
				}
			})
		}
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
		forked := func() {} // frees the run's place among the starts; set by launch
		runner := &Runner{Host: d.Host, Stdout: io.MultiWriter(outs...), Stderr: d.Stderr, Pulse: pl.Pulse, Emit: d.emit,
			Started: func(pid int) {
				forked()
				pl.tracker.started(pid)
				begun()
			}}
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
			emit:   d.emit,
			launch: func(ctx context.Context, job *Job) <-chan Result {
				result := make(chan Result, 1)
				go func() {
					forked = d.starting()
					res := runner.Run(ctx, job, signals)
					forked() // it could not start
					if screen != nil {
						screen.Flush() // the last unfinished line of the run's output
					}
					result <- res
				}()
				return result
			},
			signals:  signals,
			begun:    begun,
			pulse:    pl.Pulse,
			track:    pl.tracker,
			runs:     runStore{dir: d.RunsDir, stderr: d.Stderr},
			random:   rand.Float64,
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
			l.setState(StateStarting) // until the old version is down; before loop runs
		}
		wg.Go(func() {
			defer log.Close()
			l.loop(kctx)
		})
	}
	for _, job := range jobs {
		start(job, nil)
	}
	initial = false
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
			d.mu.Unlock()
			return
		case r := <-d.reloads:
			d.apply(r, start)
			close(r.done)
		}
	}
}

// maxStarting bounds the runs between their first file descriptor and their fork.
// Forks are one at a time anyway (the reaper's lock), and each costs the kernel time
// in proportion to the fds open: thousands of jobs starting at once would each hold
// their output pipe and /dev/null while they queued, three fds a job more than they
// keep, which made every fork slower and 5,000 jobs run out of fds.
const maxStarting = 4

// starting waits for a place among the runs that are starting, and returns what
// frees it, once.
func (d *Daemon) starting() func() {
	d.starts <- struct{}{}
	return sync.OnceFunc(func() { <-d.starts })
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

// Started returns a channel closed once every job Run was first given has started:
// a kept-running job once its first process was forked (or could not be), a scheduled
// or stopped one once it waits. It is what up's READY=1 to systemd waits for.
func (d *Daemon) Started() <-chan struct{} {
	d.init()
	return d.started
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

// emit hands ev to Events, which returns at once.
func (d *Daemon) emit(ev Event) {
	if d.Events != nil {
		d.Events.Emit(ev)
	}
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

// Fixed tells the notifier that subject, which Report said could not be loaded,
// loads: the incident of its problem, if one is open, is resolved. It is said of every
// file that loads, and told only where it ends an incident.
func (d *Daemon) Fixed(subject string) {
	if d.Events != nil {
		d.Events.Emit(FixedEvent(d.Host, subject))
	}
}

// Report tells the chat about a problem of supervise itself, such as a job file it
// could not load: subject is what it is about, note what follows from it, details the
// whole error. It says the whole of it on stderr too, and emits it as a KindProblem
// event, so it never holds anything up.
func (d *Daemon) Report(subject, note string, details error) {
	fmt.Fprintf(d.Stderr, "supervise: %s: %s: %s\n", subject, note, indent(details.Error()))
	if d.Events != nil {
		d.Events.Emit(ProblemEvent(d.Host, subject, note, details))
	}
}

// indent puts the lines of a text of several lines each on a line of its own under
// the line that leads to it; a text of one line stays as it is.
func indent(text string) string {
	if !strings.Contains(text, "\n") {
		return text
	}
	return "\n  " + strings.ReplaceAll(text, "\n", "\n  ")
}
