package notifier

import (
	"fmt"
	"slices"

	"github.com/supervise/supervise/supervisor"
)

// delivery is one message to send to one destination (a zero one for the default
// chat): an event, or a digest of the events that came faster than its pace.
type delivery struct {
	to     supervisor.Destination
	ev     supervisor.Event // the event, when digest is nil
	digest *digest          // the events folded into one message, or nil
}

// about names what d tells, for the spool and for notices about it: the event's
// kind and job, or "digest" and how many events it folds.
func (d delivery) about() (kind, job string) {
	if d.digest != nil {
		return "digest", fmt.Sprintf("%d events", len(d.digest.events))
	}
	return string(d.ev.Kind), d.ev.Job
}

// deliveries are the messages of ev, one for each destination route gives it.
func deliveries(ev supervisor.Event, defaults []supervisor.Destination) []delivery {
	var ds []delivery
	for _, to := range route(ev, defaults) {
		ds = append(ds, delivery{to: to, ev: ev})
	}
	return ds
}

// route lists the destinations ev goes to, the pipeline's second step: each of its
// job's own chats that wants it (all of them for a problem with the job); or, when the
// job has none, each of the default destinations that wants it; or else the default
// chat.
func route(ev supervisor.Event, defaults []supervisor.Destination) []supervisor.Destination {
	var to []supervisor.Destination
	switch {
	case len(ev.Notify.Telegram) > 0:
		for _, d := range ev.Notify.Telegram {
			if ev.Kind == supervisor.KindProblem || wants(d, ev.Kind, ev.Notify.On) {
				to = append(to, d)
			}
		}
	case len(defaults) == 0:
		to = append(to, supervisor.Destination{})
	default:
		for _, d := range defaults {
			if gets(d, ev.Kind) {
				to = append(to, d)
			}
		}
	}
	return to
}

// gets reports whether the default destination d gets events of kind k. The job's
// [notify] on has chosen them already; d's own on, if it has one, picks among them.
// supervise's own problems and messages go to every destination.
func gets(d supervisor.Destination, k supervisor.Kind) bool {
	return d.On == nil || k == supervisor.KindProblem || k == supervisor.KindMessage || slices.Contains(d.On, k)
}
