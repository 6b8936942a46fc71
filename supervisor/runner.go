package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
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

// Run starts job and waits until it and its process group are gone. Signals received
// on signals are passed to the job's process group; SIGINT and SIGTERM also start the
// stop escalation (SIGKILL after the job's stop_timeout), and so does cancelling ctx,
// which sends the job's stop_signal. Run returns once any notification is delivered
// or has given up.
func (r *Runner) Run(ctx context.Context, job *Job, signals <-chan os.Signal) Result {
	var notified sync.WaitGroup
	defer notified.Wait()
	tail := NewTail(DefaultTailSize)
	res := Result{Start: time.Now(), ExitCode: -1}

	p, err := startProcess(job, jobEnv(job), r.Stdout, tail)
	if err != nil {
		res.Err = fmt.Errorf("start %s: %w", job.Display, err)
		r.notify(context.WithoutCancel(ctx), job, res)
		return res
	}
	if job.Notify.Wants(KindStart) {
		ev := job.Event(KindStart, r.Host)
		ev.Start = res.Start
		// The job does not wait for the chat to hear it started.
		notified.Go(func() { r.send(context.WithoutCancel(ctx), ev) })
	}

	waited := make(chan *os.ProcessState, 1)
	go func() {
		_ = p.cmd.Wait() // the status is in ProcessState; Wait's error says no more
		waited <- p.cmd.ProcessState
	}()

	var timeout, kill <-chan time.Time
	if job.Timeout > 0 {
		t := time.NewTimer(job.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	done := ctx.Done()
	// stop signals the group and arms the SIGKILL that follows stop_timeout later.
	var killTimer *time.Timer
	stop := func(sig syscall.Signal) {
		_ = p.signal(sig)
		if killTimer == nil {
			killTimer = time.NewTimer(job.StopTimeout)
			kill = killTimer.C
		}
	}
	defer func() {
		if killTimer != nil {
			killTimer.Stop()
		}
	}()

	var state *os.ProcessState
	for state == nil {
		select {
		case state = <-waited:
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
		}
	}
	res.Duration = time.Since(res.Start)
	if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		res.Signal = ws.Signal()
	} else {
		res.ExitCode = state.ExitCode()
	}

	// What the main process left in its group is stopped too, so a run never leaves
	// processes behind (as systemd does for a service's control group).
	if p.groupAlive() {
		stop(job.StopSignal)
		r.awaitGroup(p, kill)
	}
	p.drain(drainGrace)
	res.Output, res.OutputLines = tail.Bytes(), tail.Lines()

	// The run is over but its alert is not: it is sent even when the run was stopped,
	// and only a further SIGINT or SIGTERM, from someone waiting at a terminal, cuts
	// the delivery short (the notifier then says where the message went instead).
	nctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	go func() {
		for {
			select {
			case sig := <-signals:
				if sig == syscall.SIGINT || sig == syscall.SIGTERM {
					cancel()
					return
				}
			case <-nctx.Done():
				return
			}
		}
	}()
	r.notify(nctx, job, res)
	return res
}

// awaitGroup waits until the job's process group is empty, sending SIGKILL when kill
// fires. The processes left are not our children, so nothing signals their exit:
// this checks on a short timer, only while a stop is under way.
func (r *Runner) awaitGroup(p *process, kill <-chan time.Time) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for p.groupAlive() {
		select {
		case <-kill:
			_ = p.signal(syscall.SIGKILL)
			kill = nil
		case <-tick.C:
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
