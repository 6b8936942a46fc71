package supervisor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Exit statuses of a run that did not end with the job's own status, as a shell and
// timeout(1) report them.
const (
	ExitTimeout    = 124 // stopped for exceeding its timeout
	ExitCannotExec = 126 // found but could not be started
	ExitNotFound   = 127 // no such program
)

// drainGrace bounds how long output is still read after the job's process group is
// gone, for a process outside the group that holds the terminal open.
const drainGrace = 500 * time.Millisecond

// leaveGrace bounds how long the processes that the main process left in its session
// are waited for while any of them is busy, before they are stopped. A daemon started
// in the background on the way out (setsid daemon & exit 0) may not have reached its
// setsid when the main process exits: until it has, it is busy (forking, loading,
// exec'ing), however long a loaded machine keeps it waiting for a CPU. A leftover that
// waits for something (a sleep, a read) has nowhere else to go and is stopped at once.
const leaveGrace = time.Second

// Result is how one run of a job went.
type Result struct {
	Start    time.Time
	Duration time.Duration
	ExitCode int            // -1 when the process did not exit by itself
	Signal   syscall.Signal // the signal that ended it, or 0
	TimedOut bool
	Stalled  bool  // stopped for missing its heartbeat, to be started again
	TooShort bool  // exited 0 sooner than the job's min_runtime
	Err      error // why it could not be started, or nil

	Output      []byte // the end of its output
	OutputLines int    // every line it wrote
}

// Status is the exit status `supervise run` passes on: the job's own, 128+N for
// signal N, 124 after a timeout, 126 or 127 when it could not be started, and 1 for
// an exit 0 sooner than min_runtime.
func (r Result) Status() int {
	switch {
	case r.TimedOut:
		return ExitTimeout
	case r.TooShort:
		return 1
	case r.Err != nil:
		if errors.Is(r.Err, exec.ErrNotFound) || errors.Is(r.Err, fs.ErrNotExist) {
			return ExitNotFound
		}
		return ExitCannotExec
	case r.Signal != 0:
		return 128 + int(r.Signal)
	default:
		return r.ExitCode
	}
}

// Short says in a word or two how the run ended, for a list: "exit 1", "SIGKILL".
func (r Result) Short() string {
	switch {
	case r.TimedOut:
		return "timeout"
	case r.Stalled:
		return "no heartbeat"
	case r.TooShort:
		return "exit 0 too soon"
	case r.Err != nil:
		return "not started"
	case r.Signal != 0:
		if name := SignalName(r.Signal); name != "" {
			return name
		}
		return "signal " + strconv.Itoa(int(r.Signal))
	default:
		return "exit " + strconv.Itoa(r.ExitCode)
	}
}

// Kind names the outcome as an event.
func (r Result) Kind() Kind {
	switch {
	case r.TimedOut:
		return KindTimeout
	case r.Stalled:
		return KindHeartbeat
	case r.Err != nil || r.Signal != 0 || r.ExitCode != 0 || r.TooShort:
		return KindFailure
	default:
		return KindSuccess
	}
}

// Runner runs a job once, copies its output live, and emits what happens while it
// runs. It decides nothing about messages: the end of the run is its caller's to emit.
type Runner struct {
	Host   string
	Stdout io.Writer // live copy of the job's output; nil to keep it quiet
	Stderr io.Writer // supervise's own complaints, such as processes that outlive SIGKILL

	// Emit takes the events that arise while the job runs: its start, a missed
	// heartbeat, a failure the job reported and its recovery, all of them, whatever
	// the job's [notify] says. It must not block. Nil drops them.
	Emit func(Event)

	// The job's signs of life, with where it sends them: its SUPERVISE_PING_URL and
	// NOTIFY_SOCKET (each empty for none). A nil Pulse watches no heartbeat.
	Pulse        *Pulse
	PingURL      string
	NotifySocket string

	// Started, when set, is called with the pid of the job's main process once it has
	// started, for status.
	Started func(pid int)

	leaveGrace time.Duration // leaveGrace when zero; tests set their own
}

// Run starts job and waits until it and every process of its session are gone.
// Signals received on signals are passed to the job's processes; SIGINT and SIGTERM
// also start the stop escalation (SIGKILL after the job's stop_timeout), and so does
// cancelling ctx, which sends the job's stop_signal. The end of the run is not
// emitted: job.Ended(host, res) is its event.
func (r *Runner) Run(ctx context.Context, job *Job, signals <-chan os.Signal) Result {
	size := DefaultTailSize
	if job.Notify.Attach != AttachNever {
		size = MaxAttach // kept for the document; memory is only used as output comes
	}
	tail := NewTail(size)
	res := Result{Start: time.Now(), ExitCode: -1}
	if r.Pulse != nil {
		r.Pulse.startRun(res.Start)
	}
	out := r.Stdout
	if h := job.Heartbeat; h != nil && h.Output && r.Pulse != nil {
		beat := &outputBeat{beat: func() { r.Pulse.Beat("output") }, match: h.OutputMatch}
		if out == nil {
			out = beat
		} else {
			out = io.MultiWriter(out, beat)
		}
	}
	p, err := startProcess(job, r.env(job), out, tail)
	if err != nil {
		res.Err = fmt.Errorf("start %s: %w", job.Display, err)
		return res
	}
	if r.Started != nil {
		r.Started(p.sid)
	}
	ev := job.Event(KindStart, r.Host)
	ev.Start = res.Start
	r.emit(ev)
	r.watch(ctx, job, p, signals, tail, &res)
	p.drain(drainGrace)
	res.Output, res.OutputLines = tail.Bytes(), tail.Lines()
	res.TooShort = job.MinRuntime > 0 && res.Kind() == KindSuccess && res.Duration < job.MinRuntime
	return res
}

func (r *Runner) emit(ev Event) {
	if r.Emit != nil {
		r.Emit(ev)
	}
}

// watch handles the job's timeout, stops and signals until its main process has
// exited and no process of its session is left, and records how the main process
// ended in res. What the main process leaves running in its session is stopped too,
// once none of it is busy or after leaveGrace, so a run leaves behind only the
// daemons that started a session of their own.
func (r *Runner) watch(ctx context.Context, job *Job, p *process, signals <-chan os.Signal, tail *Tail, res *Result) {
	waited := p.exited()

	// Every wait is a timer; all are stopped when watch returns.
	var timers []*time.Timer
	defer func() {
		for _, t := range timers {
			t.Stop()
		}
	}()
	after := func(d time.Duration) <-chan time.Time {
		t := time.NewTimer(d)
		timers = append(timers, t)
		return t.C
	}

	var timeout, kill, look, leave, giveUp <-chan time.Time
	var hbC <-chan time.Time // the heartbeat's timer, while it is watched
	exited, stopping := false, false
	if job.Timeout > 0 {
		timeout = after(job.Timeout)
	}
	// stop signals the job and arms the SIGKILL that follows stop_timeout later. A
	// job being stopped owes no more signs of life (as systemd's watchdog does not
	// watch a service that is stopping): stop_timeout bounds it now, so a graceful
	// stop that falls silent is not told as a missed heartbeat.
	stop := func(sig syscall.Signal) {
		_ = p.signal(sig)
		_ = p.signal(syscall.SIGCONT) // a stopped process would not see sig until killed
		if !stopping {
			stopping, hbC = true, nil
			kill = after(job.StopTimeout)
		}
	}
	// The processes left after the main one are not supervise's children, so nothing
	// tells when they are gone: they are looked for on a timer that backs off, and
	// only while they have the grace to leave the session or are being stopped.
	checkEvery := 5 * time.Millisecond

	// The heartbeat is one timer, set for the moment the job would be late. News from
	// the job's Pulse (a failure it reported, a sign of life after a silence) wakes
	// the loop on a channel.
	var hb *time.Timer
	var news <-chan struct{}
	if r.Pulse != nil {
		news = r.Pulse.Wake()
		if job.Heartbeat != nil {
			hb = time.NewTimer(job.Heartbeat.Limit())
			defer hb.Stop()
			hbC = hb.C
		}
	}
	// missed emits that the job missed its heartbeat, unless that is known already
	// (told), and stops the run when the heartbeat's action is restart.
	missed := func(note string, told bool) {
		if !told {
			r.emit(r.late(job, tail, *res, note))
		}
		if job.Heartbeat != nil && job.Heartbeat.Action == ActionRestart && !res.Stalled && !exited {
			res.Stalled = true
			r.Pulse.stopped()
			stop(job.StopSignal)
		}
	}
	// check looks for a missed heartbeat and sets the timer for the next deadline.
	check := func() {
		late, news, next := r.Pulse.check(job.Heartbeat, res.Start, time.Now())
		if late {
			missed("", !news)
		}
		if !next.IsZero() {
			hb.Reset(time.Until(next))
		}
	}

	done := ctx.Done()
	for {
		select {
		case e := <-waited:
			if e.err != nil && r.Stderr != nil {
				fmt.Fprintf(r.Stderr, "supervise: %s: wait: %v\n", job.Name, e.err)
			}
			exited, hbC = true, nil
			res.Duration = time.Since(res.Start)
			res.ExitCode, res.Signal = e.code, e.sig
			p.settle(50 * time.Millisecond)
			left, busy := p.left()
			if !left {
				return
			}
			timeout = nil
			look = after(checkEvery)
			if busy && !stopping {
				// What is left may be on its way out of the session: it is stopped once
				// none of it is busy, or after leaveGrace, unless a stop comes first.
				leave = after(cmp.Or(r.leaveGrace, leaveGrace))
			} else {
				done = nil
				stop(job.StopSignal)
			}
		case <-leave:
			leave, done = nil, nil
			if !stopping {
				stop(job.StopSignal)
			}
		case <-look:
			left, busy := p.left()
			if !left {
				return
			}
			if leave != nil && !busy && !stopping {
				leave, done = nil, nil
				stop(job.StopSignal)
			}
			checkEvery = min(2*checkEvery, 100*time.Millisecond)
			look = after(checkEvery)
		case <-hbC:
			check()
		case <-news:
			for _, n := range r.Pulse.takeNews() {
				if n.kind == KindHeartbeat {
					missed(n.note, false)
					continue
				}
				r.emit(r.news(job, tail, *res, n))
			}
			if hb != nil && !exited && !stopping {
				check()
			}
		case <-timeout:
			res.TimedOut = true
			stop(job.StopSignal)
		case <-done:
			done = nil
			stop(job.StopSignal)
		case sig := <-signals:
			s, ok := sig.(syscall.Signal)
			switch {
			case !ok:
			case s == syscall.SIGWINCH:
				p.resize(stdoutSize())
			case s == syscall.SIGINT || s == syscall.SIGTERM:
				stop(s)
			default:
				_ = p.signal(s)
			}
		case <-kill:
			_ = p.signal(syscall.SIGKILL)
			kill = nil
			giveUp = after(max(job.StopTimeout, time.Second))
		case <-giveUp:
			// SIGKILL cannot be refused, but it can be delayed (a process stuck in the
			// kernel) or not allowed (a setuid program that changed its user).
			if r.Stderr != nil {
				fmt.Fprintf(r.Stderr, "supervise: %s: processes %v still running after SIGKILL; giving up on them\n", job.Name, p.pids())
			}
			if !exited {
				res.Duration, res.Signal = time.Since(res.Start), syscall.SIGKILL
			}
			return
		}
	}
}

// late describes a missed heartbeat of the run res so far; note says how it was
// found when not by the clock.
func (r *Runner) late(job *Job, tail *Tail, res Result, note string) Event {
	now := time.Now()
	st := r.Pulse.State()
	ev := job.Event(KindHeartbeat, r.Host)
	ev.Start, ev.Duration, ev.ExitCode = res.Start, now.Sub(res.Start), -1
	ev.Silent = now.Sub(res.Start)
	if st.Last.After(res.Start) {
		ev.Silent = now.Sub(st.Last)
	}
	if job.Heartbeat != nil {
		ev.Every = job.Heartbeat.Every
	}
	ev.LastSign, ev.LastSignBy, ev.Message, ev.Status, ev.Note = st.Last, st.By, st.Message, st.Status, note
	if st.Ready.After(res.Start) {
		ev.Ready = st.Ready
	}
	ev.Output, ev.OutputLines = tail.Bytes(), tail.Lines()
	return ev
}

// news describes what the job's Pulse brought while the run res goes on: a failure
// the job reported, or its recovery.
func (r *Runner) news(job *Job, tail *Tail, res Result, n pulseNews) Event {
	ev := job.Event(n.kind, r.Host)
	ev.Start, ev.Duration, ev.ExitCode = res.Start, n.at.Sub(res.Start), -1
	ev.Note, ev.Message, ev.Status = n.note, n.message, r.Pulse.State().Status
	if n.kind == KindRecovery {
		ev.Silent = n.silent
		return ev // the all-clear quotes no output
	}
	ev.Output, ev.OutputLines = tail.Bytes(), tail.Lines()
	return ev
}

// inheritedNot are variables of supervise's own environment that no job inherits:
// they speak of supervise's own sd_notify socket, watchdog and sockets, as systemd
// gave them to supervise.
var inheritedNot = []string{"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"}

// env is the environment a job runs with: supervise's own, the job's env, and what
// supervise gives every job: SUPERVISE_JOB, and where to send signs of life.
func (r *Runner) env(job *Job) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(inheritedNot, name) {
			env = append(env, kv)
		}
	}
	for k, v := range job.Env {
		env = append(env, k+"="+v)
	}
	env = append(env, "SUPERVISE_JOB="+job.Name)
	if r.PingURL != "" {
		env = append(env, "SUPERVISE_PING_URL="+r.PingURL)
	}
	if r.NotifySocket != "" {
		env = append(env, "NOTIFY_SOCKET="+r.NotifySocket)
		if job.Heartbeat != nil {
			// sd_notify libraries send WATCHDOG=1 every half of this.
			env = append(env, "WATCHDOG_USEC="+strconv.FormatInt(job.Heartbeat.Every.Microseconds(), 10))
		}
	}
	return env
}
