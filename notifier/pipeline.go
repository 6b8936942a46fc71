package notifier

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/supervise/supervise/supervisor"
)

// Pipeline turns the events of jobs into messages, in one goroutine, step by step:
// which events are messages at all (Wanted, filter.go), where each goes (route,
// route.go), folding what comes faster than a chat's pace into digests (pacer,
// pace.go), rendering (format.go), spooling (spool.go) and sending (spooler.go,
// telegram.go; or console.go when no bot is configured). `supervise run`, `up` and
// `notify` all use it: Emit what happens, and Close to deliver what is left.
type Pipeline struct {
	opts     Options
	out      sender
	defaults []supervisor.Destination
	pacer    pacer
	canEdit  bool     // the end of the pipeline edits messages: Telegram, not a console
	am       *alerter // the incidents as alerts to Alertmanager; nil for none

	// The incidents (incident.go, posts.go): the book, kept in a file, and what only
	// this process knows of them, which only the pipeline's goroutine touches.
	book      *store
	bookErr   string                      // the last problem with the book, said once
	latest    map[string]supervisor.Event // the latest event of each open incident, by id
	gone      map[string]goneIncident     // resolved before their posts were sent
	silences  map[string]*silence         // open silences, by incident id, whose posts say for how long
	firstEdit time.Duration               // how long after it came a silence's post is first edited
	started   time.Time                   // when the pipeline began: what a healthy run may resolve is older
	calls     chan func(*book)            // changes of the book asked by other goroutines
	batching  bool                        // changes of the book wait for the batch's one write

	in   chan supervisor.Event // made by start
	wake chan struct{}         // an overflow waits

	mu       sync.Mutex
	overflow []supervisor.Event // what came when in was full, to be folded into digests
	closed   bool
	running  bool // run was started, or never will be: Close came first (Options.Lazy)
	failed   int  // messages not delivered, or kept in the spool for later

	closing chan struct{} // closed by Close: deliver what is left, then stop
	abort   chan struct{} // closed when Close's ctx is done: give up on what is left
	done    chan struct{}
	once    sync.Once
}

// Options are how a Pipeline runs.
type Options struct {
	Host     string    // the host that digests name
	Stderr   io.Writer // what could not be delivered, with the message, and why
	SpoolDir string    // the spool; empty for none
	// AlertSpoolDir is the spool of Alertmanager's alerts (STATE/spool-alertmanager);
	// empty keeps them in memory.
	AlertSpoolDir string
	// AlertResend is how often open alerts are posted again; zero means a minute.
	AlertResend time.Duration

	// Backlog, when set, has the pipeline first send what earlier processes left in
	// the spool, for at most this long (and the notifier's timeout).
	Backlog time.Duration
	// Retry, when set, has the pipeline try a spool it could not send again after
	// Retry, then after twice as long while it fails, up to 15 times Retry. Without
	// it, the spool is only flushed along with new messages.
	Retry time.Duration

	// Queue is how many events may wait for the pipeline before more are folded into
	// a digest; zero means 1024, enough for every job of a large host to fail at once.
	Queue int

	// The paces at which Telegram lets a bot write to a chat: about once a second
	// in a private chat (PrivatePace), twenty times a minute in a group or channel
	// (GroupPace). Zero means those; a console has none.
	PrivatePace, GroupPace time.Duration

	// Incidents is the file that keeps open incidents and their messages across
	// restarts (STATE/incidents.json); empty keeps them in memory.
	Incidents string
	// Buttons puts inline buttons (Restart, Log, Mute, Stop) under incidents' messages,
	// for Telegram commands to answer.
	Buttons bool

	// Lazy starts the pipeline only when it has something to do: a backlog, when the
	// spool holds anything at all, or an event that makes a message or meets an open
	// incident. A run that succeeds with nothing open then costs a look at the spool
	// folder and at the book, and nothing more: no goroutine, no lock, no wait in
	// Close. Alertmanager's alerts start it at once.
	Lazy bool
}

// sender is the end of the pipeline: it renders, spools and sends messages.
type sender interface {
	// send delivers ds, a backlog with them, with one timeout in all. What it could
	// not deliver it says on stderr, with the message; its error says why.
	send(ctx context.Context, ds []delivery) error
	// flush sends what waits in the spool; it reports errNoSpool when there is none.
	flush(ctx context.Context) error
	// pace is how often to may be written to; zero for no limit.
	pace(to supervisor.Destination) time.Duration
	// status says how deliveries have gone, and false when it cannot say.
	status() (DeliveryStatus, bool)
	// redact takes what must never be shown, the bot's token, out of an event.
	redact(supervisor.Event) supervisor.Event
	// edits reports whether sent messages can be edited and replied to.
	edits() bool
}

var errNoSpool = errors.New("no spool")

// New returns the pipeline that the environment (getenv: os.Getenv in production) and
// the global config file cfg (nil for none) configure, running: to Telegram through a
// spool in opts.SpoolDir when a bot token is set, else to the console on opts.Stderr.
// No error shows the token. Close it to deliver what it holds.
func New(cfg *supervisor.Config, getenv func(string) string, opts Options) (*Pipeline, error) {
	out, defaults, err := senderOf(cfg, getenv, opts)
	if err != nil {
		return nil, err
	}
	timeout, err := timeoutOf(cfg, getenv)
	if err != nil {
		return nil, err
	}
	am, err := alerterOf(cfg, opts.AlertSpoolDir, cmp.Or[io.Writer](opts.Stderr, io.Discard), orDefault(timeout, defaultMaxWait))
	if err != nil {
		return nil, err
	}
	p := newPipeline(out, defaults, opts)
	if p.am = am; am != nil {
		am.resend = cmp.Or(opts.AlertResend, am.resend)
		go am.run()
	}
	if !opts.Lazy || am != nil || opts.Backlog > 0 && holdsAny(opts.SpoolDir) {
		p.begin()
	}
	return p, nil
}

// begin starts run, unless it runs already or never will.
func (p *Pipeline) begin() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.start()
}

// defaultQueue is how many events may wait for the pipeline when Options.Queue does
// not say.
const defaultQueue = 1024

// start is begin with p.mu held. The queue is made here: a lazy pipeline that never
// starts has no use for its half a megabyte.
func (p *Pipeline) start() {
	if !p.running {
		p.running = true
		p.in = make(chan supervisor.Event, cmp.Or(p.opts.Queue, defaultQueue))
		go p.run()
	}
}

// holdsAny reports whether dir holds anything, or cannot be read: a spool that may
// hold a backlog, for the flush to look into.
func holdsAny(dir string) bool {
	f, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	if err != nil {
		return true
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	return len(names) > 0 || err != io.EOF
}

func newPipeline(out sender, defaults []supervisor.Destination, opts Options) *Pipeline {
	if opts.Stderr == nil {
		opts.Stderr = io.Discard
	}
	p := &Pipeline{opts: opts, out: out, defaults: defaults, canEdit: out.edits(), wake: make(chan struct{}, 1),
		closing: make(chan struct{}), abort: make(chan struct{}), done: make(chan struct{}),
		book: &store{path: opts.Incidents}, latest: map[string]supervisor.Event{},
		gone: map[string]goneIncident{}, silences: map[string]*silence{}, started: time.Now(), firstEdit: time.Minute, calls: make(chan func(*book))}
	p.pacer = pacer{pace: out.pace, editable: p.editable}
	if s, ok := out.(*spooler); ok {
		s.book = p.book
	}
	return p
}

// Emit takes ev and returns at once. A start its job does not ask to be told is left
// out here; every other event may open, keep current or resolve an incident. When the
// queue is full, ev waits to be folded into a digest, with only the last line of its
// output (errorLine): nothing is dropped. Once the pipeline is closed, ev is kept in the spool for the next
// supervise, and said on stderr.
func (p *Pipeline) Emit(ev supervisor.Event) {
	if ev.Kind == supervisor.KindStart && !Wanted(ev) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.running && !p.closed {
		if classify(ev, nil) == stepDrop && p.book.calm() {
			return // lazy, and ev makes no message and meets no incident: nothing to do
		}
		p.start()
	}
	if p.closed {
		// Too late to send: kept as what Close has no time for is, in the spool for
		// the next supervise, and said on stderr (redacted).
		if Wanted(ev) {
			p.out.send(doneContext(), deliveries(ev, p.defaults))
		}
		return
	}
	select {
	case p.in <- ev:
		return
	default:
	}
	ev.Output = errorLine(ev.Output) // the overflow may be long: a digest quotes only this
	p.overflow = append(p.overflow, ev)
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// maxErrorLine bounds what errorLine keeps: far more than a digest's line quotes.
const maxErrorLine = 1024

// errorLine is what an event in the overflow keeps of its output: its last line
// with anything in it, where the error is, or the reason a job file does not load, cut
// to its last maxErrorLine bytes. It is a copy, so the job's whole tail is not kept
// alive with it. An event keeps its OutputLines, so a message of its own says how many
// lines it leaves out.
func errorLine(out []byte) []byte {
	out = bytes.TrimRight(out, " \t\r\n")
	if len(out) == 0 {
		return nil
	}
	out = out[bytes.LastIndexByte(out, '\n')+1:]
	out = out[max(0, len(out)-maxErrorLine):]
	return append(bytes.Clone(out), '\n')
}

// Close delivers what the pipeline holds, within ctx, and stops it. What it could
// not deliver by then goes to stderr, with the message. Its error says that some
// message was not delivered (it may wait in the spool), since the pipeline began.
func (p *Pipeline) Close(ctx context.Context) error {
	p.once.Do(func() {
		p.mu.Lock()
		p.closed = true
		if !p.running { // lazy, and never had anything to do
			p.running = true
			close(p.done)
		}
		p.mu.Unlock()
		close(p.closing)
	})
	select {
	case <-p.done:
	case <-ctx.Done():
		select {
		case <-p.abort:
		default:
			close(p.abort)
		}
		<-p.done
	}
	alerted := p.am == nil || p.am.close(ctx) // after the pipeline, which puts the alerts
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	if p.failed > 0 {
		errs = append(errs, fmt.Errorf("%d messages not delivered", p.failed))
	}
	if !alerted {
		errs = append(errs, fmt.Errorf("alerts not delivered to Alertmanager, kept in %s", p.am.where()))
	}
	return errors.Join(errs...)
}

// Delivery says how deliveries have gone, for status and the metrics, and false
// when the notifier cannot say (a console, or Telegram without a spool, and no
// Alertmanager).
func (p *Pipeline) Delivery() (DeliveryStatus, bool) {
	st, ok := p.out.status()
	st.Telegram = ok
	if p.am != nil {
		as := p.am.status()
		st.Alertmanager, ok = &as, true
	}
	return st, ok
}

// Console reports whether the pipeline ends on standard error: no bot is configured.
func (p *Pipeline) Console() bool {
	_, ok := p.out.(console)
	return ok
}

// AlertsOnly reports whether the pipeline ends in Alertmanager alone: no bot is
// configured, and the config file names an Alertmanager, which takes incidents but no
// messages.
func (p *Pipeline) AlertsOnly() bool {
	_, ok := p.out.(silent)
	return ok
}

// Timeout is how long the pipeline tries a message before it leaves it in the spool:
// the notifier's timeout; zero when it ends on standard error, which does not wait.
func (p *Pipeline) Timeout() time.Duration {
	var d time.Duration
	if s, ok := p.out.(*spooler); ok {
		d = orDefault(s.tg.MaxWait, defaultMaxWait)
	}
	if p.am != nil {
		d = max(d, p.am.maxWait)
	}
	return d
}

// run is the pipeline's goroutine: it owns the pacer and does all the sending.
func (p *Pipeline) run() {
	defer close(p.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-p.abort:
			cancel()
		case <-p.done:
		}
	}()

	retry := newRetry(p.opts.Retry)
	defer retry.timer.Stop()
	flush := func(limit time.Duration) {
		fctx, cancel := context.WithTimeout(ctx, limit)
		defer cancel()
		switch err := p.out.flush(fctx); {
		case errors.Is(err, errNoSpool):
		case err != nil && p.opts.Retry > 0:
			fmt.Fprintf(p.opts.Stderr, "supervise: spooled messages not sent yet: %v; trying again in %s\n", err, retry.wait)
			retry.failed()
		case err != nil:
			fmt.Fprintf(p.opts.Stderr, "supervise: spooled messages not sent yet: %v\n", err)
		default:
			retry.succeeded()
		}
	}
	if p.opts.Backlog > 0 {
		flush(p.opts.Backlog)
	}

	pace := time.NewTimer(time.Hour)
	pace.Stop()
	defer pace.Stop()
	refresh := time.NewTimer(time.Hour)
	refresh.Stop()
	defer refresh.Stop()
	closing := p.closing
	for {
		if next, ok := p.nextRefresh(); ok {
			refresh.Reset(time.Until(next))
		} else {
			refresh.Stop()
		}
		if next, ok := p.pacer.next(); ok {
			pace.Reset(time.Until(next))
		} else {
			pace.Stop()
			if closing == nil && len(p.in) == 0 && !p.overflowing() {
				return // closed, and everything delivered
			}
		}
		select {
		case ev := <-p.in:
			p.deliver(ctx, retry, func() {
				p.accept(ev)
				p.takeQueued()
			})
		case <-p.wake:
			p.takeQueued()
		case <-pace.C:
			p.deliver(ctx, retry, p.takeQueued)
		case <-retry.timer.C:
			retry.armed = false
			flush(time.Hour) // the notifier's own timeout bounds it
		case call := <-p.calls:
			p.deliver(ctx, retry, func() { p.change(call) })
		case <-refresh.C:
			p.deliver(ctx, retry, func() { p.change(func(b *book) { p.refreshSilences(b, time.Now()) }) })
		case <-closing:
			closing = nil
		case <-p.abort:
			// What is left goes as a send cut short goes: into the spool for the next
			// supervise, said on stderr with the message (redacted), with no time to
			// wait for anything.
			var ds []delivery
			p.batch(func() {
				p.takeQueued()
				ds = p.written(p.pacer.drain())
			})
			if len(ds) > 0 {
				if err := p.out.send(doneContext(), ds); err != nil {
					p.mu.Lock()
					p.failed++
					p.mu.Unlock()
				}
			}
			return
		}
	}
}

// doneContext is a context that is done already, for a send with no time left: the
// sender keeps its messages in the spool, or says on stderr what it did not deliver.
func doneContext() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// accept takes evs into the incidents (step, posts.go) and queues what they call for
// at their destinations' turns.
func (p *Pipeline) accept(evs ...supervisor.Event) {
	now := time.Now()
	f := func(b *book) {
		for _, ev := range evs {
			if p.pacer.backlog+len(p.in) >= cmp.Or(p.opts.Queue, defaultQueue) {
				// As many wait already as the queue holds: this one waits to be folded
				// into a digest too, as when the queue is full, without the output that
				// only a message of its own quotes.
				ev.Output = errorLine(ev.Output)
			}
			ev = p.out.redact(ev)
			if p.am != nil {
				ev = p.am.redactEvent(ev)
			}
			p.step(b, ev, now)
		}
	}
	if !slices.ContainsFunc(evs, func(ev supervisor.Event) bool { return opens(ev.Kind) }) && p.book.calm() {
		p.book.peek(f) // nothing is open, and nothing here opens anything
		return
	}
	p.change(f)
}

// change makes f's change to the book, saying once on stderr what keeps the book from
// being read or kept: incidents then open anew rather than not at all. In a batch,
// the batch writes it, and says.
func (p *Pipeline) change(f func(*book)) {
	err := p.book.update(f)
	if !p.batching {
		p.said(err)
	}
}

// batch makes the changes of f as one change of the book: it is written once, when f
// returns (store.batch). With no change, nothing is said, as with no call of change.
func (p *Pipeline) batch(f func()) {
	p.batching = true
	changed, err := p.book.batch(f)
	p.batching = false
	if changed {
		p.said(err)
	}
}

// said says err, a problem with the book, on stderr, unless it was the last said.
func (p *Pipeline) said(err error) {
	switch {
	case err != nil && err.Error() != p.bookErr:
		p.bookErr = err.Error()
		fmt.Fprintf(p.opts.Stderr, "supervise: %v\n", err)
	case err == nil:
		p.bookErr = ""
	}
}

// takeQueued accepts what waits in the queue, and then the overflow.
func (p *Pipeline) takeQueued() {
	var evs []supervisor.Event
	for len(p.in) > 0 { // run is the only reader: what len counts is there to take
		evs = append(evs, <-p.in)
	}
	p.mu.Lock()
	evs = append(evs, p.overflow...)
	p.overflow = nil
	p.mu.Unlock()
	if len(evs) > 0 {
		p.accept(evs...)
	}
}

// written renders the writes ws as deliveries, keeping their posts in the book.
func (p *Pipeline) written(ws []write) []delivery {
	if len(ws) == 0 {
		return nil
	}
	var ds []delivery
	f := func(b *book) { ds = p.render(b, ws, time.Now()) }
	plain := func(w write) bool {
		return w.edit == "" && w.reply == nil && !slices.ContainsFunc(w.news, func(n news) bool { return n.inc != "" })
	}
	if !slices.ContainsFunc(ws, func(w write) bool { return !plain(w) }) && p.book.calm() {
		p.book.peek(f) // messages in no incident, and none open: the book has nothing to change
		return ds
	}
	p.change(f)
	return ds
}

// editable is when the post id may next be edited: at its destination's pace in its
// first minute, then every editGap, and at once to say it is resolved or when the
// pipeline is closing (a run's exit does not wait for a gap).
func (p *Pipeline) editable(id string) time.Time {
	var at time.Time
	select {
	case <-p.closing:
		return at
	default:
	}
	p.book.peek(func(b *book) {
		po := b.Posts[id]
		if po == nil || po.Edited.IsZero() || po.Resolved || po.Edited.Sub(po.Sent) < time.Minute {
			return
		}
		at = po.Edited.Add(editGap)
	})
	return at
}

func (p *Pipeline) overflowing() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.overflow) > 0
}

// deliver makes the changes of first, then sends the messages whose turn has come,
// the book written once for both before anything is sent; a failure has the spool
// tried again later.
func (p *Pipeline) deliver(ctx context.Context, retry *retry, first func()) {
	var ds []delivery
	p.batch(func() {
		first()
		ds = p.written(p.pacer.take(time.Now()))
	})
	if len(ds) == 0 {
		return
	}
	if err := p.out.send(ctx, ds); err != nil {
		p.mu.Lock()
		p.failed++
		p.mu.Unlock()
		retry.failed()
		return
	}
	retry.succeeded()
}

// retry is the timer on which a spool that could not be sent is tried again: after
// the first wait, then twice as long each time it fails, up to 15 times the first; a
// success starts over. With a first wait of zero it is never armed.
type retry struct {
	first, wait time.Duration
	timer       *time.Timer
	armed       bool
}

func newRetry(first time.Duration) *retry {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &retry{first: first, wait: first, timer: t}
}

// failed arms the timer, unless it is armed already, and lengthens the next wait.
func (r *retry) failed() {
	if r.first > 0 && !r.armed {
		r.timer.Reset(r.wait)
		r.armed, r.wait = true, min(2*r.wait, 15*r.first)
	}
}

// succeeded starts the waits over.
func (r *retry) succeeded() { r.wait = r.first }
