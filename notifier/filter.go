package notifier

import (
	"slices"

	"github.com/supervise/supervise/supervisor"
)

// Wanted reports whether ev becomes a message at all: the pipeline's first step.
// supervise's own problems and messages always do. A job's event does when the job's
// [notify] on has its kind, or, for a job with chats of its own, when any of them
// wants it. A death of a job that restarts is one incident with the deaths before it:
// only the first after a healthy run (Streak 1) is told, and a crash loop is told by
// its own KindRestartLoop event rather than death by death.
func Wanted(ev supervisor.Event) bool {
	switch ev.Kind {
	case supervisor.KindProblem, supervisor.KindMessage:
		return true
	case supervisor.KindFailure, supervisor.KindTimeout:
		if ev.Restarting && (ev.Streak > 1 || ev.Looping) {
			return false
		}
	}
	n := ev.Notify
	if len(n.Telegram) == 0 {
		return slices.Contains(n.On, ev.Kind)
	}
	return slices.ContainsFunc(n.Telegram, func(d supervisor.Destination) bool { return wants(d, ev.Kind, n.On) })
}

// wants reports whether a job's own chat d gets events of kind k of a job that
// notifies on: those of its own on, or else the job's.
func wants(d supervisor.Destination, k supervisor.Kind, on []supervisor.Kind) bool {
	if d.On == nil {
		return slices.Contains(on, k)
	}
	return slices.Contains(d.On, k)
}
