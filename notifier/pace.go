package notifier

import (
	"fmt"
	"slices"
	"time"

	"github.com/supervise/supervise/supervisor"
)

// MaxDigest is how many events one digest folds at most: few enough that it names
// every job, even with the longest names, in one message. More make more digests.
const MaxDigest = 30

// editGap is how often a post may be edited once it is a minute old: an incident
// that goes on for hours is not rewritten every second.
const editGap = 30 * time.Second

// pacer is the pipeline's third step: a chat may only be written to so often, and an
// edit counts as much as a message, so each destination gets one write per turn: the
// news that came since the last (folded into one digest when there is more than
// one), else a reply, else an edit. The first news after a quiet spell goes at once.
// It is not safe for concurrent use: the pipeline's goroutine owns it, and the clock
// is the caller's.
type pacer struct {
	pace func(supervisor.Destination) time.Duration // zero: every write goes at once
	// editable is when a post may next be edited.
	editable func(postID string) time.Time

	turns map[string]*turn
	order []string // the keys of turns, in the order their destinations were first seen
	// waits counts the news of each incident that wait, at any destination: pending
	// asks it for every event of a storm. backlog counts all the news that wait.
	waits   map[string]int
	backlog int
}

// turn is what waits for one destination.
type turn struct {
	to      supervisor.Destination
	news    []news   // events and incidents to send, oldest first
	replies []news   // recoveries, each to a post
	edits   []string // posts to edit, in the order they changed
	due     time.Time
	last    time.Time // when the destination was last written to
}

// news is one thing to tell: an event, the incident it opened (inc) or the post it
// answers (post, for a reply).
type news struct {
	ev   supervisor.Event
	inc  string
	post string
}

// write is what one turn writes to a destination: a send of one or more news (more
// make a digest), a reply, or an edit of a post.
type write struct {
	to    supervisor.Destination
	news  []news
	reply *news
	edit  string
}

// key tells destinations apart; Destination holds a slice, so it is no map key.
func key(d supervisor.Destination) string { return fmt.Sprint(d) }

func (p *pacer) turn(to supervisor.Destination, now time.Time) *turn {
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
	if !t.waiting() {
		t.due = now
		if next := t.last.Add(p.pace(to)); !t.last.IsZero() && next.After(now) {
			t.due = next
		}
	}
	return t
}

func (t *turn) waiting() bool { return len(t.news)+len(t.replies)+len(t.edits) > 0 }

// add queues n for the destination to, come at now.
func (p *pacer) add(to supervisor.Destination, n news, now time.Time) {
	t := p.turn(to, now)
	t.news = append(t.news, n)
	p.backlog++
	if n.inc != "" {
		if p.waits == nil {
			p.waits = map[string]int{}
		}
		p.waits[n.inc]++
	}
}

// sent takes ns, news that no longer wait, off the counts of waits.
func (p *pacer) sent(ns []news) {
	p.backlog -= len(ns)
	for _, n := range ns {
		if n.inc == "" {
			continue
		}
		if p.waits[n.inc]--; p.waits[n.inc] <= 0 {
			delete(p.waits, n.inc)
		}
	}
}

// reply queues n, a reply to n.post, for to.
func (p *pacer) reply(to supervisor.Destination, n news, now time.Time) {
	t := p.turn(to, now)
	t.replies = append(t.replies, n)
}

// edit queues an edit of the post id, to to, unless one waits already: the edit
// made in its turn shows what is latest.
func (p *pacer) edit(to supervisor.Destination, id string, now time.Time) {
	t := p.turn(to, now)
	for _, e := range t.edits {
		if e == id {
			return
		}
	}
	t.edits = append(t.edits, id)
}

// pending reports whether the news of incident id waits to be sent to anyone.
func (p *pacer) pending(id string) bool { return p.waits[id] > 0 }

// when is when t's next write may go: its turn, or, when only edits wait, the first
// of them that may be made.
func (p *pacer) when(t *turn) time.Time {
	if len(t.news) > 0 || len(t.replies) > 0 {
		return t.due
	}
	first := time.Time{}
	for _, id := range t.edits {
		if at := p.editable(id); first.IsZero() || at.Before(first) {
			first = at
		}
	}
	return latest(t.due, first)
}

// next is when the next write is due, and false when nothing waits.
func (p *pacer) next() (time.Time, bool) {
	var first time.Time
	for _, k := range p.order {
		t := p.turns[k]
		if !t.waiting() {
			continue
		}
		if at := p.when(t); first.IsZero() || at.Before(first) {
			first = at
		}
	}
	return first, !first.IsZero()
}

// take returns the writes whose turn has come at now: for each destination due, its
// news (a digest of up to MaxDigest of them, oldest first), else its first reply,
// else its first edit that may be made. What is left waits a pace more. At a pace of
// zero everything that waits goes, each news a message of its own.
func (p *pacer) take(now time.Time) []write {
	var out []write
	for _, k := range p.order {
		t := p.turns[k]
		if !t.waiting() || p.when(t).After(now) {
			continue
		}
		pace := p.pace(t.to)
		if pace <= 0 {
			for _, n := range t.news {
				out = append(out, write{to: t.to, news: []news{n}})
			}
			p.sent(t.news)
			for i := range t.replies {
				out = append(out, write{to: t.to, reply: &t.replies[i]})
			}
			t.news, t.replies = nil, nil
			t.edits = p.takeEdits(t, now, -1, &out)
			continue
		}
		switch {
		case len(t.news) > 0:
			n := min(len(t.news), MaxDigest)
			out = append(out, write{to: t.to, news: slices.Clone(t.news[:n])})
			p.sent(t.news[:n])
			clear(t.news[:n]) // what is left keeps the array: not the events taken
			t.news = t.news[n:]
		case len(t.replies) > 0:
			r := t.replies[0]
			out = append(out, write{to: t.to, reply: &r})
			t.replies = t.replies[1:]
		default:
			t.edits = p.takeEdits(t, now, 1, &out)
		}
		t.last, t.due = now, now.Add(pace)
	}
	return out
}

// takeEdits moves up to n (all, when n < 0) of t's edits that may be made at now to
// out, and returns those left.
func (p *pacer) takeEdits(t *turn, now time.Time, n int, out *[]write) []string {
	var left []string
	for _, id := range t.edits {
		if n != 0 && !p.editable(id).After(now) {
			*out = append(*out, write{to: t.to, edit: id})
			n--
			continue
		}
		left = append(left, id)
	}
	return left
}

// drain removes everything that waits and returns it as take would if every turn
// were due, for a pipeline that gives up.
func (p *pacer) drain() []write {
	var out []write
	for _, k := range p.order {
		t := p.turns[k]
		for len(t.news) > 0 {
			n := len(t.news)
			if p.pace(t.to) > 0 {
				n = min(n, MaxDigest)
			} else {
				n = 1
			}
			out = append(out, write{to: t.to, news: t.news[:n:n]})
			p.sent(t.news[:n])
			t.news = t.news[n:]
		}
		for i := range t.replies {
			out = append(out, write{to: t.to, reply: &t.replies[i]})
		}
		for _, id := range t.edits {
			out = append(out, write{to: t.to, edit: id})
		}
		t.news, t.replies, t.edits = nil, nil, nil
	}
	return out
}
