package supervisor

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// lifecycle is one job under up: its state, and the one loop that turns each input
// (a run ended, the timer fired, an operator's command, a reload, news from the job's
// Pulse, the version it replaces gone) into a transition. Every change of state goes
// through setState, which publishes it for status; the one timer is armed for the
// earliest deadline the state has, as systemd's service_set_state does. What follows
// a death or a due time is decided by the pure policies of restartpolicy.go and
// schedulepolicy.go. One goroutine runs it; nothing else touches its fields but the
// channels.
type lifecycle struct {
	name   string
	job    *Job // the settings in force: a reload's notification settings count at once
	host   string
	clock  Clock
	stderr io.Writer
	emit   func(Event) // what happened, for the notifier to decide on
	// launch starts a run of job that stops when ctx ends; its result comes on the
	// channel once every process of it is gone.
	launch  func(ctx context.Context, job *Job) <-chan Result
	signals chan os.Signal // passed to the running job (a forced stop sends SIGKILL)
	// begun, when set, is called when the job has begun without a run under way (it
	// waits for its time, or is stopped) and each time a run has ended, once its end
	// is published, which covers a run that could not start. The daemon also calls it
	// when a run's process has started; only the first call counts.
	begun  func()
	pulse  *Pulse         // the job's signs of life, which outlive a lifecycle
	track  *tracker       // what status shows, which outlives a lifecycle too
	runs   runStore       // where a scheduled job's last run is kept
	random func() float64 // in [0, 1), for the jitter of backoffs and due times

	// Inputs from the daemon.
	requests chan request  // start, stop and restart
	updates  chan *Job     // new settings from a reload; the last one given wins
	replaces *lifecycle    // the version this one replaces, which must be gone first
	forget   *atomic.Bool  // set when the job is removed: its last run is forgotten
	replaced *atomic.Bool  // set when a reload replaces it: the job runs on
	stop     func()        // ends loop
	done     chan struct{} // closed when loop has returned
	spec     *Job          // the job as the daemon last gave it; the daemon's, under its lock

	// The state.
	ctx      context.Context
	state    string
	halted   bool      // stopped by `supervise stop`: no run starts until a start
	early    []request // commands that came while the replaced version stopped
	cur      *run      // the run under way, or nil
	restarts restarts  // a kept-running job's quick deaths
	sched    *timetable
	timer    Timer
	armed    time.Time // what timer is set to

	// waiting, when set (by tests), is sent to each time the loop is about to wait
	// for its next input, so a test can step it one input at a time.
	waiting chan struct{}

	// Deadlines, each zero when not set; the timer fires at the earliest.
	healthyAt time.Time // running: the run has stayed up for healthy_after
	restartAt time.Time // backing off: start the job again
	lateAt    time.Time // a passive job: its next ping is due
}

// run is one run under way.
type run struct {
	due     time.Time // for a scheduled job, the due time it is the run of
	start   time.Time
	healthy time.Duration // the healthy_after it started with
	cancel  context.CancelFunc
	result  <-chan Result
	note    string    // why supervise stopped it, when it did
	retried bool      // started again after it stalled
	asked   []request // stop or restart commands, answered once the run has ended
}

// timetable is what a scheduled job remembers between its times.
type timetable struct {
	rec        lastRun
	due        time.Time  // the next due time
	at         time.Time  // when it fires: due, jittered
	queued     *time.Time // a due time waiting for the run under way to end
	skips      int        // due times skipped in a row
	checks     []check    // dead man's switches set, oldest first
	overdue    bool       // the chat was told a run did not happen or succeed in time
	startedDue time.Time  // the due time of the last run started
	endedAt    time.Time  // when the last run ended
}

// loop runs the lifecycle until ctx is done.
func (l *lifecycle) loop(ctx context.Context) {
	defer close(l.done)
	l.ctx = ctx
	l.timer = l.clock.NewTimer()
	defer l.timer.Set(time.Time{})
	defer func() {
		if l.forget.Load() {
			l.runs.forget(l.name) // removed, even before it began
		}
	}()
	if l.replaces == nil { // else it is starting, as whoever made it set
		l.begin()
		if l.cur == nil && l.begun != nil {
			l.begun()
		}
	}
	for {
		l.arm()
		if l.waiting != nil {
			l.waiting <- struct{}{}
		}
		var (
			replaced <-chan struct{}
			results  <-chan Result
			news     <-chan struct{}
		)
		switch {
		case l.state == StateStarting:
			replaced = l.replaces.done
		case l.cur != nil:
			results = l.cur.result
		default:
			news = l.pulse.wake // while a run goes, its runner takes the news
		}
		select {
		case <-ctx.Done():
			l.end()
			return
		case <-replaced:
			if ctx.Err() != nil { // replaced or removed in turn: it does not start
				l.end()
				return
			}
			l.takeOver()
		case res := <-results:
			if ctx.Err() != nil {
				l.shutdown(&res) // stopped by up's end, even if it ended first
				return
			}
			l.ended(res)
			if l.begun != nil {
				l.begun()
			}
		case <-l.timer.C():
			l.armed = time.Time{}
			l.fire(l.clock.Now())
		case req := <-l.requests:
			l.command(req)
		case job := <-l.updates:
			l.reload(job)
		case <-news:
			l.pulseNews()
		}
	}
}

// setState moves the job to state, disarms the deadlines the new state does not use,
// and publishes the state for status. The deadlines it keeps are armed when the loop
// next waits.
func (l *lifecycle) setState(state string) {
	if state != StateRunning {
		l.healthyAt = time.Time{}
	}
	if state != StateBackingOff {
		l.restartAt = time.Time{}
	}
	if state != StateWaiting {
		l.lateAt = time.Time{}
	}
	l.state = state
	shown, since, next := state, time.Time{}, time.Time{}
	switch {
	case state == StateRunning:
		since = l.cur.start
	case state == StateBackingOff:
		// Entered now, also when it is shown as crash-looping, as the run was.
		since, next = l.clock.Now(), l.restartAt
	case state == StateScheduled:
		next = l.sched.due
	case state == StateWaiting:
		next = l.lateAt
	}
	if l.restarts.looping && (state == StateRunning || state == StateBackingOff) {
		shown = StateCrashLooping // retried at backoff.max: running or waiting
	}
	l.track.set(shown, since, next, l.clock.Now())
}

// idle is the state of a job with no run under way: stopped when the operator
// stopped it, else scheduled for a scheduled job.
func (l *lifecycle) idle() {
	switch {
	case l.halted:
		l.setState(StateStopped)
	case l.sched != nil:
		l.setState(StateScheduled)
	default:
		l.setState(StateExited)
	}
}

// arm sets the timer for the earliest deadline.
func (l *lifecycle) arm() {
	var at time.Time
	earliest := func(t time.Time) {
		if !t.IsZero() && (at.IsZero() || t.Before(at)) {
			at = t
		}
	}
	earliest(l.healthyAt)
	earliest(l.restartAt)
	earliest(l.lateAt)
	if s := l.sched; s != nil && l.state != StateStarting {
		earliest(s.at)
		if len(s.checks) > 0 {
			earliest(s.checks[0].deadline)
		}
	}
	if !at.Equal(l.armed) {
		l.timer.Set(at)
		l.armed = at
	}
}

// begin starts the job's life, or takes it up again after a reload replaced it:
// a kept-running job starts; a scheduled one waits for its next time.
func (l *lifecycle) begin() {
	if l.job.Passive() {
		l.runs.forget(l.name)
		if l.halted {
			l.setState(StateStopped)
			return
		}
		l.pulse.watchPassive(l.clock.Now())
		l.watch(l.clock.Now())
		return
	}
	if l.job.Schedule == nil {
		l.runs.forget(l.name)
		if l.halted {
			l.setState(StateStopped)
			return
		}
		l.startRun(time.Time{}, false)
		return
	}
	l.beginSchedule()
}

// takeOver follows the version this one replaces once it is gone: a crash loop goes
// on here, so a reload that fixes a looping job ends with its recovery, and a stopped
// job stays stopped. A removed job that comes back is new: it starts. Commands that
// came meanwhile are done now.
func (l *lifecycle) takeOver() {
	l.inherit()
	l.begin()
	l.answerEarly()
}

// inherit takes what the version this one replaces left, once it is gone: its crash
// loop, and its stop unless it was removed, with the commands that came meanwhile.
func (l *lifecycle) inherit() {
	old := l.replaces
	l.replaces = nil
	l.restarts = old.restarts
	l.halted = old.halted && old.replaced.Load() // not when it was removed
	for _, req := range l.early {
		l.halted = req.cmd == CommandStop
	}
}

// answerEarly answers the commands that came while the replaced version stopped.
func (l *lifecycle) answerEarly() {
	for _, req := range l.early {
		req.answer("")
	}
	l.early = nil
}

// startRun starts a run, for the due time due of a scheduled job.
func (l *lifecycle) startRun(due time.Time, retried bool) {
	ctx, cancel := context.WithCancel(l.ctx)
	now := l.clock.Now()
	l.cur = &run{due: due, start: now, healthy: l.job.HealthyAfter, cancel: cancel, retried: retried}
	if s := l.sched; s != nil {
		s.skips, s.startedDue = 0, due
		if due.After(s.rec.Due) {
			s.rec.Due = due
		}
		l.runs.save(l.name, s.rec)
	} else {
		l.healthyAt = now.Add(l.job.HealthyAfter)
	}
	// Running is published before the launch, whose runner publishes the pid once
	// the fork returns: whoever sees the pid sees the job running.
	l.setState(StateRunning)
	l.cur.result = l.launch(ctx, l.job)
}

// fire handles the deadlines that have come by now.
func (l *lifecycle) fire(now time.Time) {
	if !l.healthyAt.IsZero() && !now.Before(l.healthyAt) {
		l.healthyAt = time.Time{}
		l.stayedUp(now)
	}
	if !l.lateAt.IsZero() && !now.Before(l.lateAt) {
		l.lateAt = time.Time{}
		l.watch(now)
	}
	if !l.restartAt.IsZero() && !now.Before(l.restartAt) {
		l.restartAt = time.Time{}
		l.track.restarted()
		l.startRun(time.Time{}, false)
	}
	if s := l.sched; s != nil {
		if !now.Before(s.at) {
			l.due(now)
		}
		for len(s.checks) > 0 && !now.Before(s.checks[0].deadline) {
			c := s.checks[0]
			s.checks = s.checks[1:]
			l.deadline(c.due)
		}
	}
}

// stayedUp follows a run that has stayed up for healthy_after: its backoff starts
// over and its recovery is emitted: the end of a crash loop, of deaths that its
// restarts healed (SelfHealed), or of none (Healthy), which the notifier tells only
// where it ends an incident.
func (l *lifecycle) stayedUp(now time.Time) {
	var rec recovery
	l.restarts, rec = l.restarts.stayedUp(l.cur.healthy, now)
	ev := l.job.Event(KindRecovery, l.host)
	switch {
	case rec.deaths == 0:
		// Healthy, with no deaths this up saw: an incident that an earlier up left
		// open about the job (it crash-looped, then up restarted) ends here.
		ev.Healthy = true
	case rec.looped:
		l.setState(StateRunning) // no longer shown as crash-looping
		ev.Down, ev.Crashes = rec.down, rec.crashes
	default:
		ev.SelfHealed, ev.Crashes = true, rec.deaths
	}
	l.emit(ev)
}

// ended follows the end of the run under way.
func (l *lifecycle) ended(res Result) {
	r := l.cur
	l.cur = nil
	r.cancel()
	now := l.clock.Now()
	l.track.ended(res, now)
	if l.sched != nil {
		l.sched.endedAt = now
	}
	if len(r.asked) > 0 {
		// Stopped or restarted by the operator: not a death, not told, not retried.
		if l.halted {
			if s := l.sched; s != nil {
				s.queued, s.checks = nil, nil
			}
			l.setState(StateStopped) // before the answer says so
		} else {
			l.startRun(now, false)
		}
		for _, req := range r.asked {
			req.answer("")
		}
		return
	}
	if l.sched != nil {
		l.scheduledEnded(r, res)
		return
	}
	var v verdict
	healthy := !now.Before(r.start.Add(r.healthy)) // as healthyAt was set: by this run's settings
	l.restarts, v = l.restarts.died(l.job, res, healthy, now, l.random())
	kind := res.Kind()
	if !res.Stalled { // a run stopped for its heartbeat was told of then
		// Every death is emitted; the notifier tells the first of a streak, and the
		// crash loop's own event the rest.
		ev := l.job.Ended(l.host, res)
		if v.again && kind != KindSuccess {
			ev.Restarting, ev.Retry = true, v.delay
			ev.Streak, ev.Looping = l.restarts.streak, l.restarts.looping
		}
		l.emit(ev)
	}
	if v.loopBegins {
		ev := l.job.Ended(l.host, res)
		ev.Kind = KindRestartLoop
		ev.Crashes, ev.Within, ev.Retry = l.restarts.crashes, now.Sub(l.restarts.loopFrom), v.delay
		ev.Exits = append([]string(nil), l.restarts.exits...)
		l.emit(ev)
	}
	switch {
	case !v.again:
		// Ended for good; a ping may still report on it, and a reload or a start may
		// ask for it to run again.
		l.setState(StateExited)
	case v.delay > 0:
		l.restartAt = now.Add(v.delay)
		l.setState(StateBackingOff)
	default:
		l.track.restarted()
		l.startRun(time.Time{}, false)
	}
}

// command does an operator's command. A stop holds the job until a start; a start
// starts it, or runs a scheduled job now; a restart stops the run under way first.
// The command is answered once it is done: a stop once the job's processes are gone.
func (l *lifecycle) command(req request) {
	switch {
	case l.job.Passive() && l.state != StateStarting:
		l.passiveCommand(req)
	case l.state == StateStarting:
		l.early = append(l.early, req) // done once the replaced version is gone
	case l.cur != nil && req.cmd == CommandStart && len(l.cur.asked) == 0:
		req.answer("already running")
	case l.cur != nil:
		// A start while a stop is under way starts the job again once it is down.
		l.halted = req.cmd == CommandStop
		l.cur.asked = append(l.cur.asked, req)
		l.cur.cancel() // the runner stops the job with its stop_signal and stop_timeout
	case req.cmd == CommandStop:
		note := ""
		if l.halted {
			note = "already stopped"
		}
		l.halted = true
		if s := l.sched; s != nil {
			s.queued, s.checks = nil, nil
		}
		l.setState(StateStopped)
		req.answer(note)
	default: // start or restart with no run under way: run now
		l.halted = false
		l.startRun(l.clock.Now(), false)
		req.answer("")
	}
}

// reload takes the settings a reload gave: what the runner has already started with
// keeps them until its next run, the rest counts at once. A job that had ended for
// good starts again when its restart became always.
func (l *lifecycle) reload(job *Job) {
	l.job = job
	switch s := l.sched; {
	case job.Passive():
		if l.state == StateWaiting {
			l.watch(l.clock.Now()) // its every or grace may have changed
		}
	case s == nil:
		if l.state == StateExited && job.Restart == RestartAlways {
			l.startRun(time.Time{}, false)
		}
	case scheduleKey(job) != s.rec.Schedule:
		s.rec.Schedule = scheduleKey(job)
		l.plan(l.clock.Now())
		if l.cur == nil {
			l.idle()
		}
	}
}

// pulseNews tells what the job's Pulse brought between runs: a failure reported by
// ping, or the success that ends it.
func (l *lifecycle) pulseNews() {
	for _, n := range l.pulse.takeNews() {
		ev := l.job.Event(n.kind, l.host)
		ev.ExitCode, ev.Note, ev.Message, ev.Silent = -1, n.note, n.message, n.silent
		l.emit(ev)
	}
	if l.job.Passive() && l.state == StateWaiting {
		l.watch(l.clock.Now()) // a success sets its next due time
	}
}

// watch checks a passive job at now: once no ping came in time, the chat is told,
// quoting the last ping's body; else the timer is set for when the next is due.
// Status shows it waiting, late or failed, as its Pulse knows.
func (l *lifecycle) watch(now time.Time) {
	late, news, note, next := l.pulse.passiveCheck(l.job, now)
	l.lateAt = next
	if late && news {
		st := l.pulse.State()
		ev := l.job.Event(KindHeartbeat, l.host)
		ev.ExitCode, ev.Note, ev.Message = -1, note, st.Message
		ev.Every, ev.LastSign, ev.LastSignBy = l.job.Heartbeat.Every, st.Last, st.By
		l.emit(ev)
		fmt.Fprintf(l.stderr, "supervise: %s: %s\n", l.name, note)
	}
	l.setState(StateWaiting)
}

// passiveCommand does an operator's command to a passive job, which has nothing to
// run: a stop stops watching it, a start or a restart watches it again from now.
func (l *lifecycle) passiveCommand(req request) {
	note := ""
	switch {
	case req.cmd == CommandStop:
		if l.halted {
			note = "already stopped"
		}
		l.halted = true
		l.pulse.pause()
		l.setState(StateStopped)
	default:
		l.halted = false
		l.pulse.watchPassive(l.clock.Now())
		l.watch(l.clock.Now())
	}
	req.answer(note)
}

// end ends the lifecycle as its context has. One still starting waits for the
// version it replaces to be gone, so that no two versions of the job run at once,
// and takes what that one left, to pass on to the version that replaces it.
func (l *lifecycle) end() {
	if l.replaces != nil {
		<-l.replaces.done
		l.inherit()
		l.answerEarly()
	}
	l.shutdown(nil)
}

// shutdown stops the job with up: the run under way is stopped by its context and
// waited for, unless its result, ended, has come. A scheduled job keeps what it
// missed for the next up to tell.
func (l *lifecycle) shutdown(ended *Result) {
	var r *run
	if r = l.cur; r != nil {
		if ended == nil {
			res := <-r.result // the runner stops the job on ctx
			ended = &res
		}
		res := *ended
		l.cur = nil
		l.track.ended(res, l.clock.Now())
		for _, req := range r.asked {
			req.answer("")
		}
	}
	if l.sched != nil && l.state != StateStarting {
		l.sched.shutdown(l, r)
	}
}

// beginSchedule sets a scheduled job's first time. Runs missed while up was not
// running are told once, and one is run now when the job asks to catch up.
func (l *lifecycle) beginSchedule() {
	now := l.clock.Now()
	s := &timetable{rec: l.runs.load(l.name)}
	l.sched = s
	var catchUp time.Time
	if n, latest := missedWhileDown(l.job, s.rec, now); n > 0 {
		ev := l.job.Event(KindHeartbeat, l.host)
		ev.Missed, ev.MissedRuns, ev.ExitCode = latest, n, -1
		ev.Note = "supervise was not running"
		if !s.rec.Unfinished.IsZero() {
			ev.Note = fmt.Sprintf("supervise was stopped before the run due at %s was done", s.rec.Unfinished.Format(timeLayout))
		}
		if l.job.CatchUp {
			ev.Note += "; running it now (catch_up)"
		}
		l.emit(ev)
		fmt.Fprintf(l.stderr, "supervise: %s: missed %d run(s), the last due at %s\n", l.name, n, latest.Format(timeLayout))
		if l.job.CatchUp && !l.halted {
			catchUp = latest
		}
	}
	s.rec = lastRun{Schedule: scheduleKey(l.job), Due: now}
	l.runs.save(l.name, s.rec)
	l.plan(now)
	if !catchUp.IsZero() {
		l.startRun(catchUp, false)
		return
	}
	l.idle()
}

// plan sets the next due time after now.
func (l *lifecycle) plan(now time.Time) {
	l.setDue(l.job.Schedule.Next(now))
	l.logNext()
}

// setDue sets the next due time, and when it fires: jittered.
func (l *lifecycle) setDue(due time.Time) {
	l.sched.due, l.sched.at = due, jittered(due, l.job.Jitter, l.random())
}

// due handles the due time that has come: it starts a run, or, when one is still
// going, does what the job's overlap says. A dead man's switch is set for it when
// the job expects a success within some time or has a heartbeat.
func (l *lifecycle) due(now time.Time) {
	s := l.sched
	t := s.due
	if l.halted {
		// Stopped by the operator: the run is not missed, just not run.
		fmt.Fprintf(l.stderr, "supervise: %s: run due at %s not started: the job is stopped\n", l.name, t.Format(timeLayout))
		s.rec.Due = t
		l.runs.save(l.name, s.rec)
	} else {
		var since string
		if l.cur != nil {
			since = l.cur.due.Format(timeLayout)
		}
		switch onDue(l.job.Overlap, l.cur != nil) {
		case dueStart:
			l.startRun(t, false)
		case dueQueue:
			s.queued = &t
			fmt.Fprintf(l.stderr, "supervise: %s: run due at %s queued: the run due at %s is still going\n", l.name, t.Format(timeLayout), since)
		case dueKill:
			s.queued = &t
			l.cur.note = "stopped: the next run was due (overlap = kill)"
			l.cur.cancel()
			fmt.Fprintf(l.stderr, "supervise: %s: stopping the run due at %s: the next is due (overlap = kill)\n", l.name, since)
		case dueSkip:
			s.skips++
			s.rec.Due = t
			l.runs.save(l.name, s.rec)
			fmt.Fprintf(l.stderr, "supervise: %s: run due at %s skipped: the run due at %s is still going (overlap = skip)\n", l.name, t.Format(timeLayout), since)
			if s.skips == skipsToTell {
				// Missed runs, as a downtime misses them: the job's next success is
				// their recovery.
				s.overdue = true // the next success is its recovery
				ev := l.job.Event(KindHeartbeat, l.host)
				ev.Missed, ev.MissedRuns = t, s.skips
				ev.Note = fmt.Sprintf("%d runs in a row skipped: the run due at %s is still going (overlap = skip)", s.skips, since)
				l.emit(ev)
			}
		}
		if wait, ok := deadMan(l.job); ok {
			// Counted from now, when the run was to start, jitter and all.
			s.checks = append(s.checks, check{due: t, deadline: now.Add(wait)})
		}
	}
	l.setDue(nextDue(l.job.Schedule, t, now))
	if l.cur == nil {
		l.idle() // shows the next due time
	}
}

// deadline checks the dead man's switch of the run due at due.
func (l *lifecycle) deadline(due time.Time) {
	s := l.sched
	if s.overdue {
		return // the chat was told; the next success ends it
	}
	var running time.Time
	if l.cur != nil {
		running = l.cur.due
	}
	missed, note := missedDeadline(l.job, due, !s.startedDue.Before(due), !s.endedAt.Before(due), running)
	if !missed {
		return
	}
	s.overdue = true
	ev := l.job.Event(KindHeartbeat, l.host)
	ev.Missed, ev.ExitCode, ev.Expect, ev.Note = due, -1, l.job.ExpectSuccessWithin, note
	l.emit(ev)
}

// scheduledEnded follows a scheduled run that ended by itself or was stopped by
// supervise: it is told, a queued run starts, and a run stopped for its heartbeat
// is started again, once.
func (l *lifecycle) scheduledEnded(r *run, res Result) {
	s := l.sched
	kind := res.Kind()
	if !res.Stalled { // a run stopped for its heartbeat was told of then
		ev := l.job.Ended(l.host, res)
		ev.Note = r.note
		l.emit(ev)
	}
	if s.overdue && kind == KindSuccess {
		s.overdue = false
		ev := l.job.Event(KindRecovery, l.host)
		ev.Start, ev.Duration, ev.ExitCode = res.Start, res.Duration, 0
		ev.Note = "a scheduled run succeeded again"
		l.emit(ev)
	}
	switch {
	case res.Stalled && !r.retried:
		// action = restart: the run starts again at once, once; a run that stalls
		// again is left to the job's next time.
		l.track.restarted()
		l.startRun(r.due, true)
	case s.queued != nil:
		t := *s.queued
		s.queued = nil
		l.startRun(t, false)
	default:
		l.idle()
	}
	l.logNext()
}

// shutdown keeps what the next up must tell: every run due until now was handled
// but one that was stopped here (r), or waited for its turn or its jitter, which
// counts as missed at the next start. A reload that replaces or removes the job
// misses nothing.
func (s *timetable) shutdown(l *lifecycle, r *run) {
	now := l.clock.Now()
	s.rec.Due = now
	switch {
	case r != nil:
		s.rec.Unfinished = r.due
	case !s.due.After(now):
		s.rec.Unfinished = s.due
	}
	if s.queued != nil && (s.rec.Unfinished.IsZero() || s.queued.Before(s.rec.Unfinished)) {
		s.rec.Unfinished = *s.queued
	}
	if l.replaced.Load() {
		s.rec.Unfinished = time.Time{}
	}
	if !l.forget.Load() { // a removed job's record goes as loop returns
		l.runs.save(l.name, s.rec)
	}
}

// logNext says on stderr when the job runs next.
func (l *lifecycle) logNext() {
	fmt.Fprintf(l.stderr, "supervise: %s: next run at %s\n", l.name, l.sched.due.Format(timeLayout))
}

// update hands the lifecycle new settings for the job; the last one given wins. It
// is called on the daemon's goroutine.
func (l *lifecycle) update(job *Job) {
	l.spec = job
	select {
	case <-l.updates:
	default:
	}
	l.updates <- job
}

// kill forces the job's processes down now.
func (l *lifecycle) kill() {
	select {
	case l.signals <- syscall.SIGKILL:
	default:
	}
}
