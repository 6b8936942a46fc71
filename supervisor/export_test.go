package supervisor

import "time"

// FakeClock is the Clock of tests, for those outside the package: time moves only
// when the test advances it.
type FakeClock = fakeClock

// NewFakeClock returns a fake clock at a fixed time.
func NewFakeClock() *FakeClock { return newFakeClock() }

// Advance moves the time on by d, firing the timers that come due, and reports
// whether any did.
func (c *fakeClock) Advance(d time.Duration) bool { return c.advance(d) }

// Next is the earliest time a timer is set to; zero when none is.
func (c *fakeClock) Next() time.Time { return c.next() }

// SetLeaveGrace sets how long the processes a run's main process left in its session
// are waited for while busy, in place of a second.
func (r *Runner) SetLeaveGrace(d time.Duration) { r.leaveGrace = d }
