package supervisor

import "time"

// Clock is where a job's lifecycle reads the time and sets its timer: the wall clock
// under up, a fake one in tests, which move time on by hand.
type Clock interface {
	Now() time.Time
	// NewTimer returns a stopped timer.
	NewTimer() Timer
}

// Timer fires once on C at the time it was last Set to.
type Timer interface {
	C() <-chan time.Time
	// Set arms the timer for at, replacing any earlier setting; a zero at disarms it.
	Set(at time.Time)
}

// WallClock is the Clock of the host.
type WallClock struct{}

// Now returns the current time.
func (WallClock) Now() time.Time { return time.Now() }

// NewTimer returns a stopped timer of the wall clock.
func (WallClock) NewTimer() Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return wallTimer{t}
}

type wallTimer struct{ t *time.Timer }

func (w wallTimer) C() <-chan time.Time { return w.t.C }

func (w wallTimer) Set(at time.Time) {
	if at.IsZero() {
		w.t.Stop() // since Go 1.23, a stopped timer's channel holds no stale tick
		return
	}
	w.t.Reset(time.Until(at))
}
