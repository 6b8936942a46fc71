package notifier

import (
	"fmt"
	"slices"

	"github.com/supervise/supervise/supervisor"
)

// delivery is one message to send: to a destination (a zero one for the default
// chat), of the event or, when part is set, of the part of it that the destination
// wants.
type delivery struct {
	to   supervisor.Destination
	part *supervisor.Event
}

// deliveries lists where ev goes: to each of its own chats; or, when it has none, to
// each of the default destinations that wants any of it; or else to the default chat.
func deliveries(ev supervisor.Event, defaults []supervisor.Destination) []delivery {
	var ds []delivery
	switch {
	case len(ev.To) > 0:
		for _, d := range ev.To {
			ds = append(ds, delivery{to: d})
		}
	case len(defaults) == 0:
		ds = append(ds, delivery{})
	default:
		for _, d := range defaults {
			if part, ok := share(ev, d); ok {
				ds = append(ds, delivery{to: d, part: part})
			}
		}
	}
	return ds
}

// share is what of ev the default destination d gets: all of it (a nil part), or
// the events of a digest that it wants, or nothing (false).
func share(ev supervisor.Event, d supervisor.Destination) (*supervisor.Event, bool) {
	if ev.Kind != supervisor.KindDigest {
		return nil, gets(d, ev.Kind)
	}
	var wanted []supervisor.Event
	for _, e := range ev.Digest {
		if gets(d, e.Kind) {
			wanted = append(wanted, e)
		}
	}
	switch len(wanted) {
	case 0:
		return nil, false
	case len(ev.Digest):
		return nil, true
	case 1:
		return &wanted[0], true // as a digest of one would be, the event itself
	}
	part := ev
	part.Digest, part.Job = wanted, fmt.Sprintf("%d events", len(wanted))
	return &part, true
}

// gets reports whether the default destination d gets events of kind k. The job's
// [notify] on has chosen them already; d's own on, if it has one, picks among them.
// supervise's own problems and messages go to every destination.
func gets(d supervisor.Destination, k supervisor.Kind) bool {
	return d.On == nil || k == supervisor.KindProblem || k == supervisor.KindMessage || slices.Contains(d.On, k)
}
