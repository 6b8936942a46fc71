package supervisor

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Daemon is `supervise up`: it keeps a set of jobs running, one keeper goroutine per
// job, and delivers their events through one notifier goroutine, so that a slow chat
// never holds up a restart.
type Daemon struct {
	Host     string
	Stdout   io.Writer // the jobs' output, each line behind its job's name
	Stderr   io.Writer // supervise's own complaints
	Notifier Notifier

	// DrainTimeout bounds how long pending messages are still sent once the jobs have
	// stopped; what is left is written to Stderr. Zero means 5 seconds.
	DrainTimeout time.Duration

	mu      sync.Mutex
	keepers []*keeper
}

// Run keeps jobs running until ctx is done, then stops them all at once and waits for
// them, each with its stop_signal and stop_timeout, and sends what is left to send.
func (d *Daemon) Run(ctx context.Context, jobs []*Job) {
	events := make(chan Event, 1024)
	delivered := make(chan struct{})
	go d.deliver(ctx, events, delivered)

	out := &lineWriter{w: d.Stdout}
	var wg sync.WaitGroup
	d.mu.Lock()
	for _, job := range jobs {
		k := &keeper{
			job:     job,
			runner:  &Runner{Host: d.Host, Stdout: out.prefixed(job.Name), Stderr: d.Stderr},
			notify:  func(ev Event) { events <- ev },
			signals: make(chan os.Signal, 1),
		}
		d.keepers = append(d.keepers, k)
		wg.Go(func() { k.run(ctx) })
	}
	d.mu.Unlock()
	wg.Wait()
	close(events)
	<-delivered
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
