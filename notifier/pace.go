package notifier

import (
	"fmt"
	"time"

	"github.com/supervise/supervise/supervisor"
)

// MaxDigest is how many events one digest folds at most: few enough that it names
// every job, even with the longest names, in one message. More make more digests.
const MaxDigest = 30

// pacer is the pipeline's third step: a chat may only be written to so often, so what
// comes for a destination faster than its pace is folded into one digest per turn.
// The first event after a quiet spell goes at once. It is not safe for concurrent
// use: the pipeline's goroutine owns it, and the clock is the caller's.
type pacer struct {
	host string
	pace func(supervisor.Destination) time.Duration // zero: every event goes whole, however fast

	turns map[string]*turn
	order []string // the keys of turns, in the order their destinations were first seen
}

// turn is what waits for one destination.
type turn struct {
	to     supervisor.Destination
	events []supervisor.Event
	due    time.Time // when the events may go; zero while none wait
	last   time.Time // when the destination was last written to
}

// key tells destinations apart; Destination holds a slice, so it is no map key.
func key(d supervisor.Destination) string { return fmt.Sprint(d) }

// add queues ev for the destination to, come at now.
func (p *pacer) add(to supervisor.Destination, ev supervisor.Event, now time.Time) {
	if p.turns == nil {
		p.turns = map[string]*turn{}
	}
	k := key(to)
	t := p.turns[k]
	if t == nil {
		t = &turn{to: to}
		p.turns[k] = t
		p.order = append(p.order, k)
	}
	if len(t.events) == 0 {
		t.due = now
		if next := t.last.Add(p.pace(to)); !t.last.IsZero() && next.After(now) {
			t.due = next
		}
	}
	t.events = append(t.events, ev)
}

// next is when the next turn is due, and false when nothing waits.
func (p *pacer) next() (time.Time, bool) {
	var first time.Time
	for _, k := range p.order {
		if t := p.turns[k]; len(t.events) > 0 && (first.IsZero() || t.due.Before(first)) {
			first = t.due
		}
	}
	return first, !first.IsZero()
}

// take returns the messages whose turn has come at now: for each destination due, its
// event, or a digest of up to MaxDigest of its events, oldest first. What is left
// waits a pace more. At a pace of zero every event is a message of its own.
func (p *pacer) take(now time.Time) []delivery {
	var out []delivery
	for _, k := range p.order {
		t := p.turns[k]
		if len(t.events) == 0 || t.due.After(now) {
			continue
		}
		pace := p.pace(t.to)
		if pace <= 0 {
			for _, ev := range t.events {
				out = append(out, delivery{to: t.to, ev: ev})
			}
			t.events = nil
			continue
		}
		n := min(len(t.events), MaxDigest)
		batch := t.events[:n:n]
		t.events = t.events[n:]
		out = append(out, fold(t.to, p.host, batch, now))
		t.last, t.due = now, now.Add(pace)
	}
	return out
}

// drain removes every event that waits and returns its messages, made as take would
// make them if every turn were due at now, for a pipeline that gives up.
func (p *pacer) drain(now time.Time) []delivery {
	var out []delivery
	for _, k := range p.order {
		t := p.turns[k]
		for len(t.events) > 0 {
			n := 1
			if p.pace(t.to) > 0 {
				n = min(len(t.events), MaxDigest)
			}
			out = append(out, fold(t.to, p.host, t.events[:n:n], now))
			t.events = t.events[n:]
		}
	}
	return out
}

// digest is one message about the events that came for a destination faster than
// its pace. The supervisor knows nothing of it: it is how the notifier spares a chat.
type digest struct {
	host   string             // the host the events happened on
	events []supervisor.Event // oldest first
	within time.Duration      // how long they took to come
}

// fold makes one message to to of events, come by now, on host: a digest of them, or
// the event itself when it is one.
func fold(to supervisor.Destination, host string, events []supervisor.Event, now time.Time) delivery {
	if len(events) == 1 {
		return delivery{to: to, ev: events[0]}
	}
	return delivery{to: to, digest: &digest{host: host, events: events, within: now.Sub(at(events[0], now))}}
}

// at is when ev happened, as near as it says: the end of its run, or its start, or
// else now.
func at(ev supervisor.Event, now time.Time) time.Time {
	if ev.Start.IsZero() {
		return now
	}
	return ev.Start.Add(ev.Duration)
}
