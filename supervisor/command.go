package supervisor

import (
	"context"
	"errors"
	"fmt"
)

// The commands `supervise start`, `stop` and `restart` give a job.
const (
	CommandStart   = "start"
	CommandStop    = "stop"
	CommandRestart = "restart"
)

// ErrNoJob is Control's error for a name that is not a job.
var ErrNoJob = errors.New("no such job")

// request is a command for a job's lifecycle, which answers on done once it has done it,
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
	l := d.lifecycles[name]
	d.mu.Unlock()
	if l == nil {
		return "", fmt.Errorf("%s: %w", name, ErrNoJob)
	}
	req := request{cmd: cmd, done: make(chan string, 1)}
	select {
	case l.requests <- req:
	case <-l.done:
		return "", fmt.Errorf("%s: reloaded meanwhile; try again", name)
	case <-ctx.Done():
		return "", ctx.Err()
	}
	select {
	case note := <-req.done:
		return note, nil
	case <-l.done:
		return "", fmt.Errorf("%s: reloaded or stopped meanwhile", name)
	case <-ctx.Done():
		return "", ctx.Err()
	}
}
