package supervisor

import (
	"fmt"
	"time"
)

// The schedule policy: what a scheduled job does at each of its times. Its functions
// are pure (state, input and time in, decision out), so they are tested as tables.

// skipsToTell is how many runs in a row a job may skip, because its last run was
// still going, before the chat hears of it: one is the odd slow night, three a pattern.
const skipsToTell = 3

// dueAction is what a due time does.
type dueAction int

const (
	dueStart dueAction = iota // no run goes: start one
	dueQueue                  // overlap = queue: run once the run under way ends
	dueKill                   // overlap = kill: stop the run under way, then run
	dueSkip                   // overlap = skip: not run
)

// onDue is what a due time does, with running saying whether a run is still going.
func onDue(overlap Overlap, running bool) dueAction {
	switch {
	case !running:
		return dueStart
	case overlap == OverlapQueue:
		return dueQueue
	case overlap == OverlapKill:
		return dueKill
	}
	return dueSkip
}

// nextDue is the due time after due, seen at now: when the machine slept past it,
// the first one after now, so a wake-up brings no burst of runs.
func nextDue(s Schedule, due, now time.Time) time.Time {
	next := s.Next(due)
	if next.Before(now) {
		next = s.Next(now)
	}
	return next
}

// jittered is due moved on by r (in [0, 1)) of jitter, so that jobs due at the same
// time do not all start at once.
func jittered(due time.Time, jitter time.Duration, r float64) time.Time {
	return due.Add(time.Duration(r * float64(jitter)))
}

// deadMan is how long after its due time a run must have happened, and whether the
// job has a dead man's switch at all: within expect_success_within it must have
// succeeded; with only a heartbeat, it must have started within the heartbeat's grace.
func deadMan(job *Job) (time.Duration, bool) {
	switch {
	case job.ExpectSuccessWithin > 0:
		return job.ExpectSuccessWithin, true
	case job.Heartbeat != nil:
		return job.Heartbeat.Grace, true
	}
	return 0, false
}

// check is a dead man's switch: the run due at due must have done what the job
// expects by deadline.
type check struct{ due, deadline time.Time }

// missedDeadline says whether the run due at due has not done by its deadline what
// the job's dead man's switch expects, and why: started says whether a run due at
// due or later has started, ended whether a run has ended since due, and running,
// when not zero, is the due time of the run still going. A run that ended badly was
// told of already, and one that succeeded since due is the success expected (even
// when due's own run was skipped for it), so only a run that never started, or is
// still going, is missed.
func missedDeadline(job *Job, due time.Time, started, ended bool, running time.Time) (bool, string) {
	if ended || started && job.ExpectSuccessWithin == 0 {
		return false, ""
	}
	if started {
		return true, fmt.Sprintf("the run due at %s is still going", due.Format(timeLayout))
	}
	note := fmt.Sprintf("the run due at %s never started", due.Format(timeLayout))
	if !running.IsZero() {
		note += fmt.Sprintf(": the run due at %s is still going", running.Format(timeLayout))
	}
	return true, note
}

// missedWhileDown counts the runs that rec, what STATE remembers of the job, says
// were missed while up was not running, seen at now, with the latest of them. A job
// seen for the first time, or whose schedule changed, missed nothing.
func missedWhileDown(job *Job, rec lastRun, now time.Time) (n int, latest time.Time) {
	if rec.Schedule != scheduleKey(job) || rec.Due.IsZero() {
		return 0, time.Time{}
	}
	n, latest = Missed(job.Schedule, rec.Due, now)
	if !rec.Unfinished.IsZero() {
		n++
		if latest.IsZero() {
			latest = rec.Unfinished
		}
	}
	return n, latest
}

// scheduleKey tells whether a job's times changed: its schedule and time zone.
func scheduleKey(job *Job) string {
	if job.Timezone == "" {
		return job.Schedule.String()
	}
	return job.Schedule.String() + " (" + job.Timezone + ")"
}

// timeLayout shows a due time as the host's operator reads it.
const timeLayout = "2006-01-02 15:04:05 MST"
