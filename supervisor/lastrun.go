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

	"github.com/supervise/supervise/internal/statefile"
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

// maxRun is the most a last run's file may hold: a few hundred bytes, written by
// save. A bigger file is none of supervise's, and is not read.
const maxRun = 64 << 10

// load reads what STATE remembers of the job's runs; nothing, when the file is
// missing or broken (then said on stderr). A broken file, or anything in its place
// that is no regular file (a FIFO, which would block the read for ever, a directory,
// a symbolic link), is set aside (see statefile), so that it is told once.
func (s runStore) load(job string) lastRun {
	var rec lastRun
	if s.dir == "" {
		return rec
	}
	path := filepath.Join(s.dir, job+".json")
	data, err := statefile.ReadFile(path, maxRun)
	if err == nil {
		err = statefile.Decode(path, data, &rec)
	}
	var bad *statefile.Bad
	switch {
	case err == nil, errors.Is(err, fs.ErrNotExist):
		return rec
	case errors.As(err, &bad):
		s.setAside(job, bad, "; missed runs are counted from now")
	default:
		fmt.Fprintf(s.stderr, "supervise: %s: %v; missed runs are counted from now\n", job, err)
	}
	return lastRun{}
}

// setAside sets bad aside, and says so on stderr, with then.
func (s runStore) setAside(job string, bad *statefile.Bad, then string) {
	aside, err := statefile.SetAside(bad.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Gone meanwhile: nothing is in the way.
	case err != nil:
		fmt.Fprintf(s.stderr, "supervise: %s: %v; it cannot be set aside (%v)%s\n", job, bad, err, then)
	default:
		fmt.Fprintf(s.stderr, "supervise: %s: %v; set aside as %s%s\n", job, bad, filepath.Base(aside), then)
	}
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
		if err = s.writeNew(job, path+".new", append(data, '\n')); err == nil {
			// Over whatever is at path, but a directory: load set that aside.
			err = os.Rename(path+".new", path)
		}
	}
	if err != nil {
		fmt.Fprintf(s.stderr, "supervise: %s: keeping the last run time: %v\n", job, err)
	}
}

// writeNew writes data to a new file at path. What a crash left there is removed
// first; what is in its way and cannot be removed (a directory with files in it) is
// set aside. It never opens what was there, which, a FIFO, would block the write.
func (s runStore) writeNew(job, path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		if os.Remove(path) != nil {
			if fi, lerr := os.Lstat(path); lerr == nil {
				s.setAside(job, statefile.NotRegular(path, fi.Mode().Type()), "")
			}
		}
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	}
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// forget removes what STATE remembers of the job's runs: it is not scheduled, or no
// longer a job, so no run of it can be missed.
func (s runStore) forget(job string) {
	if s.dir == "" {
		return
	}
	path := filepath.Join(s.dir, job+".json")
	err := os.Remove(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		if fi, lerr := os.Lstat(path); lerr == nil && fi.IsDir() {
			// A directory with files in it, none of supervise's: out of the way, once.
			s.setAside(job, statefile.NotRegular(path, fi.Mode().Type()), "")
			return
		}
		fmt.Fprintf(s.stderr, "supervise: %s: %v\n", job, err)
	}
}
