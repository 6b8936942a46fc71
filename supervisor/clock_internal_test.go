package supervisor

import (
	"sync"
	"time"
)

// fakeClock is a Clock whose time moves only when a test advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 12, 3, 3, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer() Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clock: c, c: make(chan time.Time, 1)}
	c.timers = append(c.timers, t)
	return t
}

// next is the earliest time a timer is set to; zero when none is.
func (c *fakeClock) next() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	var at time.Time
	for _, t := range c.timers {
		if !t.at.IsZero() && (at.IsZero() || t.at.Before(at)) {
			at = t.at
		}
	}
	return at
}

// advance moves the time on by d and fires the timers that are due, reporting
// whether any was.
func (c *fakeClock) advance(d time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	fired := false
	for _, t := range c.timers {
		if !t.at.IsZero() && !t.at.After(c.now) {
			t.at = time.Time{}
			select {
			case t.c <- c.now:
			default: // a tick waits already; Set drops it
			}
			fired = true
		}
	}
	return fired
}

type fakeTimer struct {
	clock *fakeClock
	c     chan time.Time
	at    time.Time
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

// Set arms the timer; like a Go timer since 1.23, a stale tick is dropped.
func (t *fakeTimer) Set(at time.Time) {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	select {
	case <-t.c:
	default:
	}
	t.at = at
	if !at.IsZero() && !at.After(t.clock.now) {
		t.at = time.Time{}
		t.c <- t.clock.now
	}
}
