package notifier_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/supervise/supervise/notifier"
	"github.com/supervise/supervise/supervisor"
)

// The pacing and digest step, with the clock in the test's hands: the first event
// after a quiet spell goes at once; what comes within the pace waits for the next turn
// and is one digest per destination, of at most MaxDigest events; a pace of zero sends
// every event whole.
func TestDigests(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	events := func(kind supervisor.Kind, n int) []supervisor.Event {
		var evs []supervisor.Event
		for i := range n {
			evs = append(evs, supervisor.Event{Kind: kind, Job: fmt.Sprintf("j%d", i)})
		}
		return evs
	}
	times := func(n int, every time.Duration) []time.Duration {
		var at []time.Duration
		for i := range n {
			at = append(at, time.Duration(i)*every)
		}
		return at
	}
	defaults := []supervisor.Destination{{ChatID: "pager", On: []supervisor.Kind{supervisor.KindFailure}}, {ChatID: "log"}}
	mixed := append(events(supervisor.KindFailure, 2), supervisor.Event{Kind: supervisor.KindSuccess, Job: "ok"})
	for _, tt := range []struct {
		name     string
		pace     time.Duration
		defaults []supervisor.Destination
		events   []supervisor.Event
		at       []time.Duration
		takes    []time.Duration
		want     string
	}{
		{"one event goes at once", time.Second, nil, events(supervisor.KindFailure, 1), times(1, 0), []time.Duration{0}, "[[: j0]]"},
		{"the rest of a burst waits a pace", time.Second, nil, events(supervisor.KindFailure, 3), times(3, 10*ms),
			[]time.Duration{0, 500 * ms, time.Second}, "[[: j0] [] [: 2 events]]"},
		{"thirty-one at once", time.Second, nil, events(supervisor.KindFailure, 31), times(31, 0),
			[]time.Duration{0, time.Second}, "[[: 30 events] [: j30]]"},
		{"spaced wider than the pace", time.Second, nil, events(supervisor.KindFailure, 2), []time.Duration{0, 2 * time.Second},
			[]time.Duration{0, 2 * time.Second}, "[[: j0] [: j1]]"},
		{"pace zero: every event whole", 0, nil, events(supervisor.KindFailure, 3), times(3, 0), []time.Duration{0}, "[[: j0 : j1 : j2]]"},
		{"one digest per destination, of what it wants", time.Second, defaults, mixed, times(3, 0), []time.Duration{0},
			"[[pager: 2 events log: 3 events]]"},
	} {
		got := fmt.Sprint(notifier.Digests(tt.pace, tt.defaults, tt.events, tt.at, tt.takes))
		if got != tt.want {
			t.Errorf("%s: turns %s, want %s", tt.name, got, tt.want)
		}
	}
}
