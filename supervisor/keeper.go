package supervisor

import (
	"context"
	"math/rand/v2"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// keeper keeps one job running under `supervise up`. It owns the job's runs and its
// restart state: the backoff, the quick deaths that make a crash loop, and whether the
// chat has been told. One goroutine runs it; nothing else touches its state.
type keeper struct {
	job      *Job
	runner   *Runner        // runs the job; the end of each run is the keeper's to emit
	notify   func(Event)    // emits an event: the daemon's Events decide what is said
	flush    func()         // writes out the last unfinished line of a run's output
	signals  chan os.Signal // passed to the running job (a forced stop sends SIGKILL)
	pulse    *Pulse         // the job's signs of life, which outlive a keeper
	runsDir  string         // where a scheduled job's last run is kept; empty for nowhere
	forget   *atomic.Bool   // set when the job is removed, so its last run is forgotten
	replaced *atomic.Bool   // set when a reload replaces the keeper: the job runs on
	track    *tracker       // what status shows of the job
	requests chan request   // start, stop and restart, from Daemon.Control
	halted   bool           // stopped by `supervise stop`: no run starts until a start

	spec     *Job          // the job as the daemon last gave it: the daemon's, not the keeper's
	updates  chan *Job     // new settings from a reload, taken between runs
	stop     func()        // stops the keeper and its job
	replaces *keeper       // the keeper this one replaces, which must be done first
	state    keepState     // what run leaves behind, for the keeper that replaces it
	done     chan struct{} // closed when run has returned
}

// update hands the keeper new settings for the job; the last one given wins. It is
// called on the daemon's goroutine.
func (k *keeper) update(job *Job) {
	k.spec = job
	select {
	case <-k.updates:
	default:
	}
	k.updates <- job
}

// take adopts settings a reload sent, if any.
func (k *keeper) take() {
	select {
	case job := <-k.updates:
		k.job = job
	default:
	}
}

// keepState is what the keeper remembers between runs.
type keepState struct {
	deaths   []time.Time // when the job ended, within the last restart_limit.within
	streak   int         // deaths in a row without a healthy run between them, for the backoff
	looping  bool        // the chat was told the job is crash-looping
	loopFrom time.Time   // when the first death of the loop happened
	crashes  int         // deaths since the loop began
	exits    []string    // the last few ways the job ended, newest last
}

// maxExits is how many of the last exits a crash-loop message lists.
const maxExits = 5

// run keeps the job running until ctx is done, or until its restart policy says the
// job has ended for good.
func (k *keeper) run(ctx context.Context) {
	var st keepState
	defer func() { k.state = st }()
	defer func() {
		if k.forget.Load() {
			k.forgetRuns() // removed, even before it began
		}
	}()
	if k.replaces != nil && !k.succeed(ctx, &st) {
		return
	}
	if k.job.Schedule != nil {
		k.schedule(ctx)
		return
	}
	k.forgetRuns()
	restarting := false // the job died and its restart policy starts it again
	for {
		k.take()
		if k.halted {
			if !k.halt(ctx) {
				return
			}
			restarting = false // started by the operator
		}
		if restarting {
			k.track.restarted()
		}
		res, healthy, asked := k.runOnce(ctx, &st)
		if ctx.Err() != nil {
			return
		}
		if restarting = false; asked {
			continue // stopped or restarted by the operator: not a death, not told
		}
		delay, again := k.after(res, healthy, &st)
		if !again {
			// The job has ended for good, but a ping may still report on it, and a
			// reload or a start may ask for it to run again.
			k.track.notRunning(StateExited, time.Time{})
			if !k.idle(ctx) {
				return
			}
			continue
		}
		k.track.looping(st.looping)
		restarting = true
		if delay > 0 {
			k.track.notRunning(StateBackingOff, time.Now().Add(delay))
			t := time.NewTimer(delay)
			ok := k.wait(ctx, t.C)
			t.Stop()
			if !ok {
				return
			}
		}
	}
}

// idle waits after the job has ended for good, telling what its Pulse brings, until
// ctx is done (false), or a reload sets its restart to always or a command comes
// (true).
func (k *keeper) idle(ctx context.Context) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case <-k.pulse.wake:
			k.pulseNews()
		case job := <-k.updates:
			k.job = job
			if job.Restart == RestartAlways {
				return true
			}
		case req := <-k.requests:
			k.commandBetweenRuns(req)
			return true
		}
	}
}

// wait waits for until, telling what the job's Pulse brings meanwhile, between runs.
// It reports false when ctx is done first; a command ends the wait early.
func (k *keeper) wait(ctx context.Context, until <-chan time.Time) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case <-until:
			return true
		case <-k.pulse.wake:
			k.pulseNews()
		case req := <-k.requests:
			k.commandBetweenRuns(req)
			return true
		}
	}
}

// commandBetweenRuns does a command that comes while no run goes: a stop holds the
// job, a start or restart lets it start at once.
func (k *keeper) commandBetweenRuns(req request) {
	k.halted = req.cmd == CommandStop
	if k.halted {
		k.track.notRunning(StateStopped, time.Time{})
	}
	req.answer("")
}

// succeed waits for the keeper this one replaces to be done, and takes over its
// state: a crash loop goes on here, so a reload that fixes a looping job ends with
// its recovery message, and a stopped job stays stopped. A removed job that comes
// back is new: it starts. Commands that come meanwhile are done once the old
// version is gone. It reports false when ctx is done.
func (k *keeper) succeed(ctx context.Context, st *keepState) bool {
	var early []request
	for waiting := true; waiting; {
		select {
		case <-k.replaces.done:
			waiting = false
		case req := <-k.requests:
			early = append(early, req)
		}
	}
	*st = k.replaces.state
	k.halted = k.replaces.halted && k.replaces.replaced.Load() // not when it was removed
	k.replaces = nil
	for _, req := range early {
		k.halted = req.cmd == CommandStop
	}
	if k.halted {
		k.track.notRunning(StateStopped, time.Time{})
	}
	for _, req := range early {
		req.answer("")
	}
	return ctx.Err() == nil
}

// halt holds a job stopped by the operator, telling what its Pulse brings, until a
// start or restart (true) or until ctx is done (false).
func (k *keeper) halt(ctx context.Context) bool {
	k.track.notRunning(StateStopped, time.Time{})
	for {
		select {
		case <-ctx.Done():
			return false
		case <-k.pulse.wake:
			k.pulseNews()
		case job := <-k.updates:
			k.job = job
		case req := <-k.requests:
			if req.cmd == CommandStop {
				req.answer("already stopped")
				continue
			}
			k.halted = false
			req.answer("")
			return true
		}
	}
}

// runOnce runs the job once. Once it has stayed up for healthy_after, its backoff is
// reset and, if it was crash-looping, the chat hears that it recovered. A stop or
// restart ends the run early; asked then reports that the operator ended it.
func (k *keeper) runOnce(ctx context.Context, st *keepState) (res Result, healthy, asked bool) {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan Result, 1)
	job := k.job
	go func() {
		res := k.runner.Run(rctx, job, k.signals)
		k.flush()
		results <- res
	}()
	healthyAfter := time.NewTimer(job.HealthyAfter)
	defer healthyAfter.Stop()
	var waiting []request // commands done once the run has ended
	for {
		select {
		case res := <-results:
			k.track.ended(res)
			if k.halted {
				k.track.notRunning(StateStopped, time.Time{}) // before the answer says so
			}
			for _, req := range waiting {
				req.answer("")
			}
			return res, res.Duration >= job.HealthyAfter, len(waiting) > 0
		case req := <-k.requests:
			if req.cmd == CommandStart && len(waiting) == 0 {
				req.answer("already running")
				continue
			}
			// A start while a stop is under way starts the job again once it is down.
			k.halted = req.cmd == CommandStop
			cancel() // the runner stops the job with its stop_signal and stop_timeout
			waiting = append(waiting, req)
		case next := <-k.updates:
			k.job = next // notification settings count at once; the rest from the next run
		case <-healthyAfter.C:
			st.streak = 0
			if st.looping {
				k.track.looping(false)
				ev := k.job.Event(KindRecovery, k.runner.Host)
				ev.Down, ev.Crashes = time.Since(st.loopFrom)-job.HealthyAfter, st.crashes
				k.send(ev)
				st.looping, st.crashes, st.exits = false, 0, nil
			}
		}
	}
}

// after decides what follows a run that ended: whether to start the job again, and
// after how long. It emits every end but a stalled run's (told when it was stopped),
// saying for a death whether the job restarts, how many quick deaths in a row it
// makes and whether the job is crash-looping, so the notifier can make one incident
// one message: the first death after a healthy run, or the crash loop that follows it.
func (k *keeper) after(res Result, healthy bool, st *keepState) (time.Duration, bool) {
	kind := res.Kind()
	st.exits = append(st.exits, res.Short())
	if len(st.exits) > maxExits {
		st.exits = st.exits[1:]
	}
	again := k.job.Restart == RestartAlways || k.job.Restart == RestartOnFailure && kind != KindSuccess || res.Stalled
	if kind == KindHeartbeat {
		// Stopped for its heartbeat, which the chat heard of then: it starts again at
		// once (again is set), and counts towards a crash loop like any other death.
		healthy = true
	}
	if !again || kind == KindSuccess {
		k.send(k.event(kind, res)) // the job ended; "success" reaches those who ask for it
	}
	if !again {
		return 0, false
	}

	now := time.Now()
	cut := 0
	for cut < len(st.deaths) && now.Sub(st.deaths[cut]) > k.job.RestartLimit.Within {
		cut++
	}
	st.deaths = append(st.deaths[cut:], now)
	st.streak++
	// death emits the end of a run that the job restarts after delay.
	death := func(delay time.Duration) {
		if kind == KindSuccess || res.Stalled {
			return
		}
		ev := k.event(kind, res)
		ev.Restarting, ev.Retry, ev.Streak, ev.Looping = true, delay, st.streak, st.looping
		k.send(ev)
	}
	if st.looping {
		st.crashes++
		death(k.job.Backoff.Max)
		return k.job.Backoff.Max, true // retried at the slowest pace, never given up
	}
	// A loop is more than burst deaths within the window, or in a row: deaths spaced
	// wider than the window by their backoff are a loop all the same.
	if len(st.deaths) > k.job.RestartLimit.Burst || st.streak > k.job.RestartLimit.Burst {
		st.looping, st.crashes = true, max(len(st.deaths), st.streak)
		st.loopFrom = st.deaths[0]
		death(k.job.Backoff.Max)
		ev := k.event(KindRestartLoop, res)
		ev.Crashes, ev.Within, ev.Retry = st.crashes, now.Sub(st.loopFrom), k.job.Backoff.Max
		ev.Exits = append([]string(nil), st.exits...)
		k.send(ev)
		return k.job.Backoff.Max, true
	}
	// A job that had stayed up is started again at once, as runsv does: the fork and
	// exec are the only delay. Backoff is for deaths that follow a start closely.
	delay := time.Duration(0)
	if !healthy {
		delay = k.backoff(st.streak)
	}
	death(delay)
	return delay, true
}

// backoff is the wait before the n-th restart in a row of quick deaths: initial,
// doubling, up to max, each within ±20% so that jobs failing together spread out.
func (k *keeper) backoff(n int) time.Duration {
	d := k.job.Backoff.Initial
	for i := 1; i < n && d < k.job.Backoff.Max; i++ {
		d *= 2
	}
	d = min(d, k.job.Backoff.Max)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// event describes the run res as an event of kind.
func (k *keeper) event(kind Kind, res Result) Event {
	return k.job.runEvent(kind, k.runner.Host, res)
}

// send emits ev; whether it becomes a message is the notifier's to decide.
func (k *keeper) send(ev Event) { k.notify(ev) }

// kill forces the job's processes down now.
func (k *keeper) kill() {
	select {
	case k.signals <- syscall.SIGKILL:
	default:
	}
}
