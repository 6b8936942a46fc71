package supervisor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
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

// tracker keeps a job's JobStatus as its keepers change it. Like its Pulse, it
// outlives the keepers, so restarts are counted across reloads.
type tracker struct {
	mu        sync.Mutex
	st        JobStatus
	crashLoop bool
}

func newTracker(name string) *tracker {
	return &tracker{st: JobStatus{Name: name, State: StateStarting, Since: time.Now(), Exits: map[string]int{}}}
}

// notRunning puts the job, which has no process, in state until next (zero for
// none); since moves only when the state changes.
func (t *tracker) notRunning(state string, next time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.st.State != state {
		t.st.State, t.st.Since = state, time.Now()
	}
	t.st.NextRun, t.st.PID = next, 0
}

// started records a run's main process.
func (t *tracker) started(pid int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.st.State, t.st.PID, t.st.Since, t.st.NextRun = StateRunning, pid, time.Now(), time.Time{}
}

// ended records how a run went.
func (t *tracker) ended(res Result) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
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

// looping records whether the job is crash-looping.
func (t *tracker) looping(on bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.crashLoop = on
}

// snapshot returns the job's status with what its Pulse knows.
func (t *tracker) snapshot(p *Pulse, job *Job) JobStatus {
	t.mu.Lock()
	st := t.st
	st.Exits = make(map[string]int, len(t.st.Exits))
	for k, v := range t.st.Exits {
		st.Exits[k] = v
	}
	looping := t.crashLoop
	t.mu.Unlock()
	ps := p.State()
	st.Heartbeat, st.HeartbeatBy, st.Status = ps.Last, ps.By, ps.Status
	switch {
	case looping && (st.State == StateRunning || st.State == StateBackingOff):
		st.State = StateCrashLooping
	case st.State == StateRunning && ps.Late:
		st.State = StateHeartbeatLate
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
	out := make([]JobStatus, 0, len(d.keepers))
	for name, k := range d.keepers {
		out = append(out, d.jobs[name].tracker.snapshot(k.pulse, k.spec))
	}
	slices.SortFunc(out, func(a, b JobStatus) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// The commands `supervise start`, `stop` and `restart` give a job.
const (
	CommandStart   = "start"
	CommandStop    = "stop"
	CommandRestart = "restart"
)

// ErrNoJob is Control's error for a name that is not a job.
var ErrNoJob = errors.New("no such job")

// request is a command for a keeper. The keeper answers on done once it has done it,
// with a note such as "already running", or "".
type request struct {
	cmd  string
	done chan string
}

// answer tells whoever asked that the command is done.
func (r request) answer(note string) { r.done <- note }

// Control gives the job named name a command and waits until it is done: stop returns
// once the job's processes are gone (after its stop_timeout at most), start and
// restart once the job is starting. A stopped job stays stopped, across reloads, until
// it is started. For a scheduled job start runs it now, besides ending a stop, and
// restart stops the run under way first. The note says what was found instead, such
// as "already running".
func (d *Daemon) Control(ctx context.Context, name, cmd string) (string, error) {
	d.init()
	if cmd != CommandStart && cmd != CommandStop && cmd != CommandRestart {
		return "", fmt.Errorf("unknown command %q", cmd)
	}
	d.mu.Lock()
	k := d.keepers[name]
	d.mu.Unlock()
	if k == nil {
		return "", fmt.Errorf("%s: %w", name, ErrNoJob)
	}
	req := request{cmd: cmd, done: make(chan string, 1)}
	select {
	case k.requests <- req:
	case <-k.done:
		return "", fmt.Errorf("%s: reloaded meanwhile; try again", name)
	case <-ctx.Done():
		return "", ctx.Err()
	}
	select {
	case note := <-req.done:
		return note, nil
	case <-k.done:
		return "", fmt.Errorf("%s: reloaded or stopped meanwhile", name)
	case <-ctx.Done():
		return "", ctx.Err()
	}
}
