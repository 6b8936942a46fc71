package supervisor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// lastRun is what STATE/runs/JOB.json remembers of a scheduled job, so that up can
// tell after a downtime which runs it missed.
type lastRun struct {
	Schedule string    `json:"schedule"` // the schedule the times below follow
	Due      time.Time `json:"due"`      // the last due time handled: run, queued or skipped
	// Unfinished is the due time of a run that supervise stopped when it stopped
	// itself: a run missed all the same.
	Unfinished time.Time `json:"unfinished,omitzero"`
}

// runStore keeps each scheduled job's lastRun as a file in dir; with an empty dir it
// keeps nothing. What goes wrong is said on stderr: a job runs on without it.
type runStore struct {
	dir    string
	stderr io.Writer
}

// load reads what STATE remembers of the job's runs; nothing, when the file is
// missing or broken (then said on stderr).
func (s runStore) load(job string) lastRun {
	var rec lastRun
	if s.dir == "" {
		return rec
	}
	data, err := os.ReadFile(filepath.Join(s.dir, job+".json"))
	if err == nil {
		err = json.Unmarshal(data, &rec)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(s.stderr, "supervise: %s: %v; missed runs are counted from now\n", job, err)
		return lastRun{}
	}
	return rec
}

// stateWrites makes the jobs write their state one at a time: 200 jobs starting at
// once would otherwise block 200 OS threads in the file system, which Go keeps.
var stateWrites sync.Mutex

// save writes rec to STATE, whole or not at all: a new file renamed over the old.
func (s runStore) save(job string, rec lastRun) {
	if s.dir == "" {
		return
	}
	stateWrites.Lock()
	defer stateWrites.Unlock()
	err := os.MkdirAll(s.dir, 0o700)
	if err == nil {
		path := filepath.Join(s.dir, job+".json")
		data, _ := json.Marshal(rec)
		if err = os.WriteFile(path+".new", append(data, '\n'), 0o600); err == nil {
			err = os.Rename(path+".new", path)
		}
	}
	if err != nil {
		fmt.Fprintf(s.stderr, "supervise: %s: keeping the last run time: %v\n", job, err)
	}
}

// forget removes what STATE remembers of the job's runs: it is not scheduled, or no
// longer a job, so no run of it can be missed.
func (s runStore) forget(job string) {
	if s.dir == "" {
		return
	}
	err := os.Remove(filepath.Join(s.dir, job+".json"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(s.stderr, "supervise: %s: %v\n", job, err)
	}
}
