package supervisor

import "time"

// restarts is what a kept-running job's restart policy remembers between runs: its
// quick deaths and whether they have become a crash loop. It changes only through
// died and stayedUp, which are pure: the same state, run and time give the same
// answer, so the policy is tested as a table.
type restarts struct {
	deaths   []time.Time // when the job ended, within the last restart_limit.within
	streak   int         // deaths in a row without a healthy run between them
	looping  bool        // the job is crash-looping
	loopFrom time.Time   // when the first death of the loop happened
	crashes  int         // deaths since the loop began
	exits    []string    // the last few ways the job ended, newest last
}

// maxExits is how many of the last exits a crash-loop message lists.
const maxExits = 5

// verdict is what the restart policy says after a death.
type verdict struct {
	again      bool          // start the job again
	delay      time.Duration // after this long
	loopBegins bool          // this death made the quick deaths a crash loop
}

// died is the policy's answer to the run res ending at now; healthy says the run had
// stayed up for healthy_after. jitter, in [0, 1), spreads the backoff of jobs that
// fail together. A job that had stayed up is started again at once, as runsv does:
// the fork and exec are the only delay. Backoff is for deaths that follow a start
// closely; past restart_limit the job is crash-looping, retried at backoff.max and
// never given up on.
func (r restarts) died(job *Job, res Result, healthy bool, now time.Time, jitter float64) (restarts, verdict) {
	kind := res.Kind()
	r.exits = append(r.exits, res.Short())
	if len(r.exits) > maxExits {
		r.exits = r.exits[len(r.exits)-maxExits:]
	}
	again := job.Restart == RestartAlways || job.Restart == RestartOnFailure && kind != KindSuccess || res.Stalled
	if !again {
		return r, verdict{}
	}
	if res.Stalled {
		// Stopped for its heartbeat, which the chat heard of then: it starts again at
		// once, and counts towards a crash loop like any other death.
		healthy = true
	}
	cut := 0
	for cut < len(r.deaths) && now.Sub(r.deaths[cut]) > job.RestartLimit.Within {
		cut++
	}
	r.deaths = append(r.deaths[cut:len(r.deaths):len(r.deaths)], now)
	r.streak++
	if r.looping {
		r.crashes++
		return r, verdict{again: true, delay: job.Backoff.Max}
	}
	// A loop is more than burst deaths within the window, or in a row: deaths spaced
	// wider than the window by their backoff are a loop all the same.
	if len(r.deaths) > job.RestartLimit.Burst || r.streak > job.RestartLimit.Burst {
		r.looping, r.crashes, r.loopFrom = true, max(len(r.deaths), r.streak), r.deaths[0]
		return r, verdict{again: true, delay: job.Backoff.Max, loopBegins: true}
	}
	v := verdict{again: true}
	if !healthy {
		v.delay = backoffDelay(job.Backoff, r.streak, jitter)
	}
	return r, v
}

// recovery is what stayedUp reports of the deaths a healthy run ends.
type recovery struct {
	deaths  int           // quick deaths in a row that it ends; 0 for none
	looped  bool          // they had become a crash loop
	down    time.Duration // how long the loop kept the job down
	crashes int           // deaths since the loop began
}

// stayedUp is the policy's answer to a run that has stayed up for its healthyAfter,
// at now: the backoff starts over, and a streak of quick deaths, or a crash loop,
// ends; the recovery says which.
func (r restarts) stayedUp(healthyAfter time.Duration, now time.Time) (restarts, recovery) {
	rec := recovery{deaths: r.streak}
	r.streak = 0
	if !r.looping {
		return r, rec
	}
	rec.looped, rec.down, rec.crashes = true, now.Sub(r.loopFrom)-healthyAfter, r.crashes
	r.looping, r.crashes, r.exits = false, 0, nil
	return r, rec
}

// backoffDelay is the wait before the n-th restart in a row of quick deaths: initial,
// doubling, up to max, each scaled by 0.8 + 0.4*jitter (±20%).
func backoffDelay(b Backoff, n int, jitter float64) time.Duration {
	d := b.Initial
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	return time.Duration(float64(d) * (0.8 + 0.4*jitter))
}
