package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"sync"
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

// Result is how one run of a job went.
type Result struct {
	Start    time.Time
	Duration time.Duration
	ExitCode int            // -1 when the process did not exit by itself
	Signal   syscall.Signal // the signal that ended it, or 0
	TimedOut bool
	Err      error // why it could not be started, or nil

	Output      []byte // the end of its output
	OutputLines int    // every line it wrote
}

// Status is the exit status `supervise run` passes on: the job's own, 128+N for
// signal N, 124 after a timeout, 126 or 127 when it could not be started.
func (r Result) Status() int {
	switch {
	case r.TimedOut:
		return ExitTimeout
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
	case r.Err != nil:
		return "not started"
	case r.Signal != 0:
		for name, sig := range signals {
			if sig == r.Signal {
				return "SIG" + name
			}
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
	case r.Err != nil || r.Signal != 0 || r.ExitCode != 0:
		return KindFailure
	default:
		return KindSuccess
	}
}

// Runner runs a job once, copies its output live, and tells its Notifier about what
// the job's [notify] section asks for.
type Runner struct {
	Host     string
	Stdout   io.Writer // live copy of the job's output; nil to keep it quiet
	Stderr   io.Writer // supervise's own complaints, such as an alert it could not send
	Notifier Notifier
}

// Run starts job and waits until it and every process of its session are gone.
// Signals received on signals are passed to the job's processes; SIGINT and SIGTERM
// also start the stop escalation (SIGKILL after the job's stop_timeout), and so does
// cancelling ctx, which sends the job's stop_signal. Run returns once the notifications
// the job asks for are delivered or have given up.
func (r *Runner) Run(ctx context.Context, job *Job, signals <-chan os.Signal) Result {
	// A stopped run is still reported, so deliveries do not end with ctx. Once the job
	// is gone, a further SIGINT or SIGTERM, from someone waiting at a terminal, cuts a
	// slow delivery short; the notifier then says where the message went instead.
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	var started sync.WaitGroup
	tail := NewTail(DefaultTailSize)
	res := Result{Start: time.Now(), ExitCode: -1}

	p, err := startProcess(job, jobEnv(job), r.Stdout, tail)
	if err != nil {
		res.Err = fmt.Errorf("start %s: %w", job.Display, err)
	} else {
		if job.Notify.Wants(KindStart) {
			ev := job.Event(KindStart, r.Host)
			ev.Start = res.Start
			// The job does not wait for the chat to hear it started.
			started.Go(func() { r.send(dctx, ev) })
		}
		r.watch(ctx, job, p, signals, &res)
		p.drain(drainGrace)
		res.Output, res.OutputLines = tail.Bytes(), tail.Lines()
	}

	if r.Notifier == nil {
		return res // nothing to deliver; the signals are the caller's again
	}
	go func() {
		for {
			select {
			case sig := <-signals:
				if sig == syscall.SIGINT || sig == syscall.SIGTERM {
					cancel()
					return
				}
			case <-dctx.Done():
				return
			}
		}
	}()
	started.Wait() // the chat hears of the start before the end
	r.notify(dctx, job, res)
	return res
}

// watch handles the job's timeout, stops and signals until its main process has
// exited and no process of its session is left, and records how the main process
// ended in res. What the main process leaves running is stopped too, so a run never
// leaves processes behind, as systemd does for a service's control group.
func (r *Runner) watch(ctx context.Context, job *Job, p *process, signals <-chan os.Signal, res *Result) {
	waited := make(chan exit, 1)
	go func() {
		e, err := p.wait()
		if err != nil {
			e = exit{code: -1}
			if r.Stderr != nil {
				fmt.Fprintf(r.Stderr, "supervise: %s: wait: %v\n", job.Name, err)
			}
		}
		waited <- e
	}()

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

	var timeout, kill, check, giveUp <-chan time.Time
	exited := false
	if job.Timeout > 0 {
		timeout = after(job.Timeout)
	}
	// stop signals the job and arms the SIGKILL that follows stop_timeout later.
	stop := func(sig syscall.Signal) {
		_ = p.signal(sig)
		_ = p.signal(syscall.SIGCONT) // a stopped process would not see sig until killed
		if kill == nil && giveUp == nil {
			kill = after(job.StopTimeout)
		}
	}
	// The processes left after the main one are not supervise's children, so nothing
	// tells when they are gone: they are looked for on a timer that backs off, and
	// only while a stop is under way.
	checkEvery := 5 * time.Millisecond

	done := ctx.Done()
	for {
		select {
		case e := <-waited:
			exited = true
			res.Duration = time.Since(res.Start)
			res.ExitCode, res.Signal = e.code, e.sig
			p.settle(50 * time.Millisecond)
			if !p.alive() {
				return
			}
			timeout, done = nil, nil
			stop(job.StopSignal)
			check = after(checkEvery)
		case <-check:
			if !p.alive() {
				return
			}
			checkEvery = min(2*checkEvery, 100*time.Millisecond)
			check = after(checkEvery)
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

// notify sends the event for how the run ended, when the job asks for it.
func (r *Runner) notify(ctx context.Context, job *Job, res Result) {
	kind := res.Kind()
	if !job.Notify.Wants(kind) {
		return
	}
	ev := job.Event(kind, r.Host)
	ev.Start, ev.Duration = res.Start, res.Duration
	ev.ExitCode, ev.Signal, ev.Err = res.ExitCode, res.Signal, res.Err
	ev.Output, ev.OutputLines = res.Output, res.OutputLines
	r.send(ctx, ev)
}

func (r *Runner) send(ctx context.Context, ev Event) {
	if r.Notifier == nil {
		return
	}
	if err := r.Notifier.Notify(ctx, ev); err != nil && r.Stderr != nil {
		fmt.Fprintf(r.Stderr, "supervise: %s: notify %s: %v\n", ev.Job, ev.Kind, err)
	}
}

// jobEnv is the environment a job runs with: supervise's own, the job's env, and
// SUPERVISE_JOB.
func jobEnv(job *Job) []string {
	env := os.Environ()
	for k, v := range job.Env {
		env = append(env, k+"="+v)
	}
	return append(env, "SUPERVISE_JOB="+job.Name)
}
