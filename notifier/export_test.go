package notifier

import (
	"time"

	"github.com/supervise/supervise/supervisor"
)

// SetPace makes every chat's pace d for a test, and returns what undoes it.
func SetPace(d time.Duration) func() {
	p, g := privatePace, groupPace
	privatePace, groupPace = d, d
	return func() { privatePace, groupPace = p, g }
}

// SetSpoolMaxBytes sets how much the spool of n, a notifier that FromConfig made
// with a spool, may hold, so a test need not fill 64 MiB.
func SetSpoolMaxBytes(n supervisor.Notifier, max int64) {
	n.(*spooler).spool.MaxBytes = max
}
