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
	"time"
)

// Daemon is `supervise up`: it keeps a set of jobs running, one keeper goroutine per
// job, and delivers their events through one notifier goroutine, so that a slow chat
// never holds up a restart. The goroutine in Run owns the set of keepers; Reload and
// Kill ask it for changes.
type Daemon struct {
	Host     string
	Stdout   io.Writer // the jobs' output, each line behind its job's name
	Color    bool      // colour the names, for a terminal
	Stderr   io.Writer // supervise's own complaints
	Notifier Notifier
	LogDir   string // where each job's output is logged as JOB.log; empty for no logs

	// DrainTimeout bounds how long pending messages are still sent once the jobs have
	// stopped; what is left is written to Stderr. Zero means 5 seconds.
	DrainTimeout time.Duration

	reloads chan reload
	mu      sync.Mutex
	keepers map[string]*keeper // by job name; written by Run's goroutine only
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
	d.mu.Lock()
	if d.reloads == nil {
		d.reloads = make(chan reload)
	}
	reloads := d.reloads
	d.keepers = map[string]*keeper{}
	d.mu.Unlock()

	events := make(chan Event, 1024)
	delivered := make(chan struct{})
	go d.deliver(ctx, events, delivered)
	out := &lineWriter{w: d.Stdout, color: d.Color}
	var wg sync.WaitGroup
	// start runs job in a keeper of its own, once the keeper it replaces is done.
	start := func(job *Job, replaces *keeper) {
		kctx, cancel := context.WithCancel(ctx)
		// The job's output goes to up's stdout behind its name, and to its log.
		var outs []io.Writer
		screen := out.prefixed(job.Name)
		if screen != nil {
			outs = append(outs, screen)
		}
		log := &logFile{path: filepath.Join(d.LogDir, job.Name+".log"), max: job.Log.MaxSize, keep: job.Log.Keep, stderr: d.Stderr}
		if d.LogDir != "" {
			outs = append(outs, log)
		}
		k := &keeper{
			job:    job,
			spec:   job,
			runner: &Runner{Host: d.Host, Stdout: io.MultiWriter(outs...), Stderr: d.Stderr},
			flush: func() {
				if screen != nil {
					screen.Flush()
				}
			},
			notify:  func(ev Event) { events <- ev },
			signals: make(chan os.Signal, 1),
			updates: make(chan *Job, 1),
			stop:    cancel,
			done:    make(chan struct{}),
		}
		if replaces != nil {
			k.replaces = replaces.done
		}
		d.mu.Lock()
		d.keepers[job.Name] = k
		d.mu.Unlock()
		wg.Go(func() {
			defer close(k.done)
			defer log.Close()
			k.run(kctx)
		})
	}
	for _, job := range jobs {
		start(job, nil)
	}
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			close(events)
			<-delivered
			return
		case r := <-reloads:
			d.apply(r, start)
			close(r.done)
		}
	}
}

// Reload replaces the daemon's jobs with jobs: new ones start, those gone stop, and a
// changed one restarts only if what shapes its process changed (command, env, dir,
// pty); other settings apply from its next run, and notification settings at once.
// A job whose file is in broken runs on as it was. Reload returns once the changes are
// under way, or when ctx is done.
func (d *Daemon) Reload(ctx context.Context, jobs []*Job, broken []string) {
	r := reload{jobs: jobs, broken: map[string]bool{}, done: make(chan struct{})}
	for _, path := range broken {
		r.broken[path] = true
	}
	d.mu.Lock()
	if d.reloads == nil {
		d.reloads = make(chan reload)
	}
	reloads := d.reloads
	d.mu.Unlock()
	select {
	case reloads <- r:
		<-r.done
	case <-ctx.Done():
	}
}

// apply makes the changes of a reload; it runs on Run's goroutine.
func (d *Daemon) apply(r reload, start func(*Job, *keeper)) {
	d.mu.Lock()
	current := maps.Clone(d.keepers)
	d.mu.Unlock()
	wanted := map[string]*Job{}
	for _, job := range r.jobs {
		wanted[job.Name] = job
	}
	for name, k := range current {
		if wanted[name] == nil && !r.broken[k.spec.File] {
			k.stop()
			d.mu.Lock()
			delete(d.keepers, name)
			d.mu.Unlock()
		}
	}
	for _, job := range r.jobs {
		k := current[job.Name]
		switch {
		case k == nil:
			start(job, nil)
		case !sameProcess(k.spec, job):
			k.stop()
			start(job, k)
		default:
			k.update(job)
		}
	}
}

// sameProcess reports whether a and b start the same process.
func sameProcess(a, b *Job) bool {
	return slices.Equal(a.Command, b.Command) && maps.Equal(a.Env, b.Env) && a.Dir == b.Dir && a.PTY == b.PTY
}

// Kill sends SIGKILL to every job at once, for a second request to stop.
func (d *Daemon) Kill() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, k := range d.keepers {
		k.kill()
	}
}

// Report tells the chat and Stderr about a problem of supervise itself, such as a
// job file it could not load: subject is what it is about, note what follows from it,
// details the whole error.
func (d *Daemon) Report(ctx context.Context, subject, note string, details error) {
	if d.Notifier == nil {
		fmt.Fprintf(d.Stderr, "supervise: %s: %s:\n%v\n", subject, note, details)
		return
	}
	fmt.Fprintf(d.Stderr, "supervise: %s: %s\n", subject, note)
	text := details.Error() + "\n"
	ev := Event{Kind: KindProblem, Job: subject, Host: d.Host, Note: note,
		Output: []byte(text), OutputLines: strings.Count(text, "\n"), TailLines: DefaultTail}
	if err := d.Notifier.Notify(ctx, ev); err != nil {
		fmt.Fprintf(d.Stderr, "supervise: %s: notify: %v\n", subject, err)
	}
}

// deliver sends events one at a time until events is closed. Sending goes on while
// the jobs stop; from the moment ctx is done it has DrainTimeout in all, after which
// the notifier gives up on what is left (and says so on stderr, with the message).
func (d *Daemon) deliver(ctx context.Context, events <-chan Event, done chan<- struct{}) {
	defer close(done)
	sendCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	drain := d.DrainTimeout
	if drain == 0 {
		drain = 5 * time.Second
	}
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(drain, cancel) })
	defer stop()
	for ev := range events {
		if d.Notifier == nil {
			continue
		}
		if err := d.Notifier.Notify(sendCtx, ev); err != nil {
			fmt.Fprintf(d.Stderr, "supervise: %s: notify %s: %v\n", ev.Job, ev.Kind, err)
		}
	}
}
