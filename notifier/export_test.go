package notifier

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/supervise/supervise/supervisor"
)

// FromConfig returns a running pipeline as New does, for the tests written against
// the notifier before the pipeline: stderr and a spool in spoolDir (none when empty),
// at a pace of a millisecond.
func FromConfig(cfg *supervisor.Config, getenv func(string) string, stderr io.Writer, spoolDir string) (*Pipeline, error) {
	return New(cfg, getenv, Options{Stderr: stderr, SpoolDir: spoolDir, PrivatePace: time.Millisecond, GroupPace: time.Millisecond})
}

// Notify routes ev and sends it now, as the pipeline's last steps do, without its
// filter and pace: for tests of routing, rendering, spooling and sending.
func (p *Pipeline) Notify(ctx context.Context, ev supervisor.Event) error {
	return p.out.send(ctx, deliveries(ev, p.defaults))
}

// Flush sends what waits in p's spool.
func (p *Pipeline) Flush(ctx context.Context) error { return p.out.flush(ctx) }

// SetPace makes every chat's pace d for the sending step of p, made with a token.
func SetPace(p *Pipeline, d time.Duration) {
	s := p.out.(*spooler)
	s.privatePace, s.groupPace = d, d
}

// SetSpoolMaxBytes sets how much the spool of p, made with a token and a spool, may
// hold, so a test need not fill 64 MiB.
func SetSpoolMaxBytes(p *Pipeline, max int64) {
	p.out.(*spooler).spool.MaxBytes = max
}

// NewForTest returns a running pipeline that writes to the console w, with the
// default destinations defaults and paces as given by opts, for tests of its steps.
func NewForTest(w io.Writer, defaults []supervisor.Destination, pace time.Duration, opts Options) *Pipeline {
	p := newPipeline(pacedConsole{console{w: w, header: consoleHeader}, pace, opts.Stderr}, defaults, opts)
	p.begin()
	return p
}

// pacedConsole is a console with a pace, so tests see digests without Telegram. Given
// no time (ctx done), it does as a sender out of time does: it says on stderr what it
// did not deliver, with the message.
type pacedConsole struct {
	console
	every  time.Duration
	stderr io.Writer
}

func (c pacedConsole) send(ctx context.Context, ds []delivery) error {
	if ctx.Err() == nil || c.stderr == nil {
		return c.console.send(ctx, ds)
	}
	for _, d := range ds {
		writeNotice(c.stderr, "supervise: notification not delivered (no time was left to send it):", d.text())
	}
	return ctx.Err()
}

func (c pacedConsole) pace(supervisor.Destination) time.Duration { return c.every }

// Route is the pipeline's routing step.
func Route(ev supervisor.Event, defaults []supervisor.Destination) []supervisor.Destination {
	return route(ev, defaults)
}

// DigestHTML renders, as HTML, the digest of events on host: a line for each.
func DigestHTML(host string, events []supervisor.Event) string {
	return digestHTML(host, linesOf(events))
}

// DigestText renders the digest of DigestHTML as plain text.
func DigestText(host string, events []supervisor.Event) string {
	return digestText(host, linesOf(events))
}

func linesOf(events []supervisor.Event) []digestLine {
	var lines []digestLine
	for _, ev := range events {
		lines = append(lines, digestLine{Job: ev.Job, Text: eventLine(ev), Word: stageWord(ev.Kind)})
	}
	return lines
}

// Digests feeds the pipeline's pacing step: each event comes at its time (offsets
// from a fixed start) for the destinations that route gives it, and the step's turns
// are taken at each of takes; it returns the messages of each turn, as "chat: job",
// or "chat: N events" for a digest.
func Digests(pace time.Duration, defaults []supervisor.Destination, events []supervisor.Event, at []time.Duration, takes []time.Duration) [][]string {
	p := pacer{pace: func(supervisor.Destination) time.Duration { return pace }, editable: func(string) time.Time { return time.Time{} }}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var out [][]string
	i := 0
	for _, take := range takes {
		for ; i < len(events) && at[i] <= take; i++ {
			for _, to := range route(events[i], defaults) {
				p.add(to, news{ev: events[i]}, start.Add(at[i]))
			}
		}
		var turn []string
		for _, w := range p.take(start.Add(take)) {
			what := w.news[0].ev.Job
			if len(w.news) > 1 {
				what = fmt.Sprintf("%d events", len(w.news))
			}
			turn = append(turn, w.to.ChatID+": "+what)
		}
		out = append(out, turn)
	}
	return out
}

// SetFirstSilenceEdit sets how long after it came a silence's post is first edited,
// for p, before any event is emitted to it.
func SetFirstSilenceEdit(p *Pipeline, d time.Duration) { p.firstEdit = d }

// OpenIncidents counts the incidents open in p's book, as p last read or wrote it.
func OpenIncidents(p *Pipeline) int {
	var n int
	p.book.peek(func(b *book) { n = len(b.Incidents) })
	return n
}

// Running reports whether p's goroutine was started (or never will be: Close came
// first), for the tests of Options.Lazy.
func Running(p *Pipeline) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running
}
