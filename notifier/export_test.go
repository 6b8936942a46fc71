package notifier

import "time"

// SetPace makes every chat's pace d for a test, and returns what undoes it.
func SetPace(d time.Duration) func() {
	p, g := privatePace, groupPace
	privatePace, groupPace = d, d
	return func() { privatePace, groupPace = p, g }
}
