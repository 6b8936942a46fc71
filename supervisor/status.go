package supervisor

import (
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"
)

// The states of a job under up, as status shows them.
const (
	StateStarting      = "starting"       // waiting for the version a reload replaced to stop
	StateRunning       = "running"        // its process is up
	StateHeartbeatLate = "heartbeat-late" // running, but its heartbeat is late
	StateBackingOff    = "backing-off"    // died soon after it started: waits before the next start
	StateCrashLooping  = "crash-looping"  // died too often: retried at the slowest pace
	StateScheduled     = "scheduled"      // waiting for its next run time
	StateStopped       = "stopped"        // stopped by `supervise stop` until started again
	StateExited        = "exited"         // ended, and its restart setting says it stays down

	// A passive job, which up watches and never runs, is in one of these.
	StateWaiting = "waiting" // its pings come in time
	StateLate    = "late"    // no ping came in time
	StateFailed  = "failed"  // a ping reported a failure, and no success since
)

// JobStatus is what up knows of a job at one moment, for `supervise status` and the
// metrics. Its JSON form is the control socket's, which scripts read: fields may be
// added, never renamed.
type JobStatus struct {
	Name  string    `json:"name"`
	State string    `json:"state"`
	PID   int       `json:"pid,omitempty"`  // the main process, while it runs
	Since time.Time `json:"since,omitzero"` // when the job entered its state; for a run, its start

	Restarts    int            `json:"restarts"`              // automatic restarts under this up
	Exits       map[string]int `json:"exits,omitempty"`       // runs ended, by exit status as `run` gives it
	LastExit    string         `json:"last_exit,omitempty"`   // how the last run ended: "exit 1", "SIGKILL"
	LastExitAt  time.Time      `json:"last_exit_at,omitzero"` // when it ended
	LastSuccess time.Time      `json:"last_success,omitzero"` // when a run last ended well

	Schedule string    `json:"schedule,omitempty"`
	NextRun  time.Time `json:"next_run,omitzero"` // the next scheduled run, or the next start while backing off

	Heartbeat   time.Time `json:"last_heartbeat,omitzero"` // the last sign of life
	HeartbeatBy string    `json:"last_heartbeat_by,omitempty"`
	Status      string    `json:"status,omitempty"` // the job's last sd_notify STATUS=
}

// tracker publishes a job's JobStatus, which its lifecycle writes and status reads.
// Like its Pulse, it outlives a lifecycle, so restarts are counted across reloads.
type tracker struct {
	mu sync.Mutex
	st JobStatus
}

func newTracker(name string, now time.Time) *tracker {
	return &tracker{st: JobStatus{Name: name, State: StateStarting, Since: now, Exits: map[string]int{}}}
}

// set publishes the job's state: since is when a run started, or zero to have it
// move to now only when the state changes; next is the next run or start, if any.
func (t *tracker) set(state string, since, next, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case !since.IsZero():
		t.st.Since = since
	case t.st.State != state:
		t.st.Since = now
	}
	if state != StateRunning && state != StateCrashLooping {
		t.st.PID = 0
	}
	t.st.State, t.st.NextRun = state, next
}

// started records a run's main process, once the fork has returned.
func (t *tracker) started(pid int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.st.PID = pid
}

// ended records how a run went.
func (t *tracker) ended(res Result, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.st.PID = 0
	t.st.LastExit, t.st.LastExitAt = res.Short(), now
	t.st.Exits[strconv.Itoa(res.Status())]++
	if res.Kind() == KindSuccess {
		t.st.LastSuccess = now
	}
}

// restarted counts an automatic restart as it begins.
func (t *tracker) restarted() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.st.Restarts++
}

// snapshot returns the job's status with what its Pulse knows: a running job whose
// heartbeat is late shows so.
func (t *tracker) snapshot(p *Pulse, job *Job) JobStatus {
	t.mu.Lock()
	st := t.st
	st.Exits = maps.Clone(t.st.Exits)
	t.mu.Unlock()
	ps := p.State()
	st.Heartbeat, st.HeartbeatBy, st.Status = ps.Last, ps.By, ps.Status
	switch {
	case st.State == StateRunning && ps.Late:
		st.State = StateHeartbeatLate
	case st.State == StateWaiting && ps.Failed:
		st.State = StateFailed
	case st.State == StateWaiting && ps.Late:
		st.State = StateLate
	}
	if job.Schedule != nil {
		st.Schedule = scheduleKey(job)
	}
	return st
}

// Status returns the state of every job, by name.
func (d *Daemon) Status() []JobStatus {
	d.init()
	d.mu.Lock()
	defer d.mu.Unlock()
	// The names are sorted, not the statuses, which are a few hundred bytes each.
	names := slices.Sorted(maps.Keys(d.lifecycles))
	out := make([]JobStatus, 0, len(names))
	for _, name := range names {
		l := d.lifecycles[name]
		out = append(out, d.jobs[name].tracker.snapshot(l.pulse, l.spec))
	}
	return out
}
