package supervisor

import "time"

// SetSpoolRetry makes up try its spool again after d instead of a minute, for the
// returned function to undo.
func SetSpoolRetry(d time.Duration) func() {
	old := spoolRetry
	spoolRetry = d
	return func() { spoolRetry = old }
}
