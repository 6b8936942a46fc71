package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// skipsToTell is how many runs in a row a job may skip, because its last run was
// still going, before the chat hears of it: one is the odd slow night, three a pattern.
const skipsToTell = 3

// lastRun is what STATE/runs/JOB.json remembers of a scheduled job, so that up can
// tell after a downtime which runs it missed.
type lastRun struct {
	Schedule string    `json:"schedule"` // the schedule the times below follow
	Due      time.Time `json:"due"`      // the last due time handled: run, queued or skipped
	// Unfinished is the due time of a run that supervise stopped when it stopped
	// itself: a run missed all the same.
	Unfinished time.Time `json:"unfinished,omitzero"`
}

// check is a dead man's switch: the run due at due must have done what the job
// expects by deadline.
type check struct{ due, deadline time.Time }

// run is one run of a scheduled job under way.
type run struct {
	due     time.Time
	stop    context.CancelFunc
	result  chan Result
	note    string    // why it was stopped, when supervise stopped it
	retried bool      // it was started again after it stalled
	asked   []request // stop or restart commands, answered once the run has ended
}

// schedule runs a scheduled job at its times until ctx is done. One run goes at a
// time; a run due while another goes is skipped, queued or replaces it, as the job's
// overlap says. A dead man's switch is set for each due time when the job expects a
// success within some time or has a heartbeat.
func (k *keeper) schedule(ctx context.Context) {
	rec := k.loadLast()
	now := time.Now()
	var (
		cur        *run
		queued     *time.Time // a due time waiting for the run under way to end
		skips      int
		checks     []check   // dead man's switches set, oldest first
		overdue    bool      // the chat was told a run did not happen or succeed in time
		startedDue time.Time // the due time of the last run started
		endedAt    time.Time // when the last run ended
	)
	start := func(due time.Time, retry bool) {
		rctx, stop := context.WithCancel(ctx)
		cur = &run{due: due, stop: stop, result: make(chan Result, 1), retried: retry}
		job, r := k.job, cur
		go func() {
			res := k.runner.Run(rctx, job, k.signals)
			k.flush()
			r.result <- res
		}()
		skips, startedDue = 0, due
		if due.After(rec.Due) {
			rec.Due = due
		}
		k.saveLast(rec)
	}

	// Runs missed while up was not running are told once, and one is run now when the
	// job asks to catch up. A job seen for the first time, or whose schedule changed,
	// starts counting from now.
	var catchUp *time.Time
	if rec.Schedule == scheduleKey(k.job) && !rec.Due.IsZero() {
		n, latest := Missed(k.job.Schedule, rec.Due, now)
		if !rec.Unfinished.IsZero() {
			n++
			if latest.IsZero() {
				latest = rec.Unfinished
			}
		}
		if n > 0 {
			ev := k.job.Event(KindHeartbeat, k.runner.Host)
			ev.Missed, ev.MissedRuns, ev.ExitCode = latest, n, -1
			ev.Note = "supervise was not running"
			if !rec.Unfinished.IsZero() {
				ev.Note = fmt.Sprintf("supervise was stopped before the run due at %s was done", rec.Unfinished.Format(timeLayout))
			}
			if k.job.CatchUp {
				ev.Note += "; running it now (catch_up)"
			}
			k.send(ev)
			fmt.Fprintf(k.runner.Stderr, "supervise: %s: missed %d run(s), the last due at %s\n", k.job.Name, n, latest.Format(timeLayout))
			if k.job.CatchUp && !k.halted {
				catchUp = &latest
			}
		}
	}
	rec.Schedule, rec.Due, rec.Unfinished = scheduleKey(k.job), now, time.Time{}
	k.saveLast(rec)
	if catchUp != nil {
		start(*catchUp, false)
	}

	due := k.job.Schedule.Next(now)
	timer := time.NewTimer(time.Until(Jittered(due, k.job.Jitter)))
	defer timer.Stop()
	k.logNext(due)
	deadline := time.NewTimer(0)
	<-deadline.C
	defer deadline.Stop()

	for {
		var results <-chan Result
		var news <-chan struct{}
		if cur != nil {
			results = cur.result
		} else {
			news = k.pulse.wake // while a run goes, its runner takes the news
			if k.halted {
				k.track.notRunning(StateStopped, time.Time{})
			} else {
				k.track.notRunning(StateScheduled, due)
			}
		}
		select {
		case <-ctx.Done():
			// Every run due until now was handled, but one that is stopped here, or
			// waits for its turn or its jitter: that one counts as missed at the next
			// start. A reload that replaces or removes the job misses nothing.
			now := time.Now()
			rec.Due = now
			switch {
			case cur != nil:
				<-cur.result // the runner stops the job on ctx
				rec.Unfinished = cur.due
			case !due.After(now):
				rec.Unfinished = due
			}
			if queued != nil && (rec.Unfinished.IsZero() || queued.Before(rec.Unfinished)) {
				rec.Unfinished = *queued
			}
			if k.replaced.Load() {
				rec.Unfinished = time.Time{}
			}
			if !k.forget.Load() { // a removed job's record goes as run returns
				k.saveLast(rec)
			}
			return
		case job := <-k.updates:
			k.job = job
			if scheduleKey(job) != rec.Schedule {
				rec.Schedule = scheduleKey(job)
				due = job.Schedule.Next(time.Now())
				timer.Reset(time.Until(Jittered(due, job.Jitter)))
				k.logNext(due)
			}
		case <-timer.C:
			if k.halted {
				// Stopped by the operator: the run is not missed, just not run.
				fmt.Fprintf(k.runner.Stderr, "supervise: %s: run due at %s not started: the job is stopped\n", k.job.Name, due.Format(timeLayout))
				rec.Due = due
				k.saveLast(rec)
			} else {
				k.due(due, cur, &queued, &skips, start, &rec)
			}
			if wait, ok := k.deadMan(); ok && !k.halted {
				// Counted from now, when the run was to start, jitter and all.
				if len(checks) == 0 {
					deadline.Reset(wait)
				}
				checks = append(checks, check{due, time.Now().Add(wait)})
			}
			due = k.job.Schedule.Next(due)
			if now := time.Now(); due.Before(now) {
				due = k.job.Schedule.Next(now) // the machine slept: no burst of runs
			}
			timer.Reset(time.Until(Jittered(due, k.job.Jitter)))
		case <-deadline.C:
			if len(checks) == 0 {
				continue // the job was stopped meanwhile
			}
			t := checks[0].due
			checks = checks[1:]
			if len(checks) > 0 {
				deadline.Reset(time.Until(checks[0].deadline))
			}
			if !overdue && k.missedDeadline(t, cur, !startedDue.Before(t), !endedAt.Before(t)) {
				overdue = true
			}
		case req := <-k.requests:
			switch {
			case req.cmd == CommandStart && cur != nil && len(cur.asked) > 0:
				// A start while a stop is under way: it runs again once it is down.
				k.halted = false
				cur.asked = append(cur.asked, req)
			case req.cmd == CommandStart && cur != nil:
				k.halted = false
				req.answer("already running")
			case req.cmd == CommandStart:
				k.halted = false
				start(time.Now(), false)
				req.answer("")
			case cur != nil:
				// Stop or restart: the run ends first; what follows is done then.
				k.halted = req.cmd == CommandStop
				cur.asked = append(cur.asked, req)
				cur.stop()
			case req.cmd == CommandStop:
				note := ""
				if k.halted {
					note = "already stopped"
				}
				k.halted, queued = true, nil
				checks = nil
				deadline.Stop()
				k.track.notRunning(StateStopped, time.Time{})
				req.answer(note)
			default: // restart, with no run going: run now
				k.halted = false
				start(time.Now(), false)
				req.answer("")
			}
		case res := <-results:
			r := cur
			cur, endedAt = nil, time.Now()
			k.track.ended(res)
			if len(r.asked) > 0 {
				// Stopped or restarted by the operator: not told, not retried.
				if k.halted {
					queued, checks = nil, nil
					deadline.Stop()
					k.track.notRunning(StateStopped, time.Time{})
				} else {
					start(time.Now(), false)
				}
				for _, req := range r.asked {
					req.answer("")
				}
				continue
			}
			kind := res.Kind()
			if kind != KindHeartbeat { // a stalled run was told of when it was stopped
				ev := k.event(kind, res)
				ev.Note = r.note
				k.send(ev)
			}
			if overdue && kind == KindSuccess {
				overdue = false
				ev := k.job.Event(KindRecovery, k.runner.Host)
				ev.Start, ev.Duration, ev.ExitCode = res.Start, res.Duration, 0
				ev.Note = "a scheduled run succeeded again"
				k.send(ev)
			}
			switch {
			case res.Stalled && !r.retried:
				// action = restart: the run starts again at once, once; a run that
				// stalls again is left to the job's next time.
				k.track.restarted()
				start(r.due, true)
			case queued != nil:
				start(*queued, false)
				queued = nil
			}
			k.logNext(due)
		case <-news:
			k.pulseNews()
		}
	}
}

// due handles the due time t: it starts a run, or, when one is still going, does
// what the job's overlap says.
func (k *keeper) due(t time.Time, cur *run, queued **time.Time, skips *int, start func(time.Time, bool), rec *lastRun) {
	if cur == nil {
		start(t, false)
		return
	}
	since := cur.due.Format(timeLayout)
	switch k.job.Overlap {
	case OverlapQueue:
		*queued = &t
		fmt.Fprintf(k.runner.Stderr, "supervise: %s: run due at %s queued: the run due at %s is still going\n", k.job.Name, t.Format(timeLayout), since)
	case OverlapKill:
		*queued = &t
		cur.note = "stopped: the next run was due (overlap = kill)"
		cur.stop()
		fmt.Fprintf(k.runner.Stderr, "supervise: %s: stopping the run due at %s: the next is due (overlap = kill)\n", k.job.Name, since)
	default:
		*skips++
		rec.Due = t
		k.saveLast(*rec)
		fmt.Fprintf(k.runner.Stderr, "supervise: %s: run due at %s skipped: the run due at %s is still going (overlap = skip)\n", k.job.Name, t.Format(timeLayout), since)
		if *skips == skipsToTell {
			ev := k.job.Event(KindProblem, k.runner.Host)
			ev.ExitCode = -1
			ev.Note = fmt.Sprintf("%d runs in a row skipped: the run due at %s is still going (overlap = skip)", *skips, since)
			k.notify(ev)
		}
	}
}

// deadMan is how long after its due time a run must have happened, and whether the
// job has a dead man's switch at all: within expect_success_within it must have
// succeeded; with only a heartbeat, it must have started within the heartbeat's grace.
func (k *keeper) deadMan() (time.Duration, bool) {
	switch {
	case k.job.ExpectSuccessWithin > 0:
		return k.job.ExpectSuccessWithin, true
	case k.job.Heartbeat != nil:
		return k.job.Heartbeat.Grace, true
	}
	return 0, false
}

// missedDeadline tells the chat, and reports true, when the run due at t has not done
// by now what the job's dead man's switch expects: started says whether a run due at t
// or later has started, ended whether a run has ended since t. A run that ended badly
// was told of already, and one that succeeded since t is the success expected (even
// when t's own run was skipped for it), so only a run that never started, or is still
// going, is told here.
func (k *keeper) missedDeadline(t time.Time, cur *run, started, ended bool) bool {
	if ended || started && k.job.ExpectSuccessWithin == 0 {
		return false
	}
	ev := k.job.Event(KindHeartbeat, k.runner.Host)
	ev.Missed, ev.ExitCode, ev.Expect = t, -1, k.job.ExpectSuccessWithin
	if started {
		ev.Note = fmt.Sprintf("the run due at %s is still going", t.Format(timeLayout))
	} else {
		ev.Note = fmt.Sprintf("the run due at %s never started", t.Format(timeLayout))
		if cur != nil {
			ev.Note += fmt.Sprintf(": the run due at %s is still going", cur.due.Format(timeLayout))
		}
	}
	k.send(ev)
	return true
}

// pulseNews tells what the job's Pulse brought between runs: a failure reported by
// ping, or the success that ends it.
func (k *keeper) pulseNews() {
	for _, n := range k.pulse.takeNews() {
		ev := k.job.Event(n.kind, k.runner.Host)
		ev.ExitCode, ev.Note, ev.Message, ev.Silent = -1, n.note, n.message, n.silent
		k.send(ev)
	}
}

// scheduleKey tells whether a job's times changed: its schedule and time zone.
func scheduleKey(job *Job) string {
	if job.Timezone == "" {
		return job.Schedule.String()
	}
	return job.Schedule.String() + " (" + job.Timezone + ")"
}

// forgetRuns removes what STATE remembers of the job's runs: it is not scheduled, or
// no longer a job, so no run of it can be missed.
func (k *keeper) forgetRuns() {
	if k.runsDir == "" {
		return
	}
	err := os.Remove(filepath.Join(k.runsDir, k.job.Name+".json"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(k.runner.Stderr, "supervise: %s: %v\n", k.job.Name, err)
	}
}

// logNext says on stderr when the job runs next.
func (k *keeper) logNext(due time.Time) {
	fmt.Fprintf(k.runner.Stderr, "supervise: %s: next run at %s\n", k.job.Name, due.Format(timeLayout))
}

// timeLayout shows a due time as the host's operator reads it.
const timeLayout = "2006-01-02 15:04:05 MST"

// loadLast reads what STATE remembers of the job's runs; nothing, when there is no
// state folder or the file is missing or broken (then said on stderr).
func (k *keeper) loadLast() lastRun {
	var rec lastRun
	if k.runsDir == "" {
		return rec
	}
	path := filepath.Join(k.runsDir, k.job.Name+".json")
	data, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(data, &rec)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(k.runner.Stderr, "supervise: %s: %v; missed runs are counted from now\n", k.job.Name, err)
		return lastRun{}
	}
	return rec
}

// stateWrites makes the keepers write their state one at a time: 200 jobs starting
// at once would otherwise block 200 OS threads in the file system, which Go keeps.
var stateWrites sync.Mutex

// saveLast writes rec to STATE, whole or not at all: a new file renamed over the old.
func (k *keeper) saveLast(rec lastRun) {
	if k.runsDir == "" {
		return
	}
	stateWrites.Lock()
	defer stateWrites.Unlock()
	err := os.MkdirAll(k.runsDir, 0o700)
	if err == nil {
		path := filepath.Join(k.runsDir, k.job.Name+".json")
		data, _ := json.Marshal(rec)
		if err = os.WriteFile(path+".new", append(data, '\n'), 0o600); err == nil {
			err = os.Rename(path+".new", path)
		}
	}
	if err != nil {
		fmt.Fprintf(k.runner.Stderr, "supervise: %s: keeping the last run time: %v\n", k.job.Name, err)
	}
}
