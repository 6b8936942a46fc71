package notifier

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/supervise/supervise/supervisor"
)

// This file is the pipeline's work on incidents (incident.go): what each event does
// to its job's incident (step), and how a turn's writes become posts, replies and
// edits (render). Both run on the pipeline's goroutine, inside a change of the book.

// goneIncident is an incident resolved before its post was sent: the post, when its
// turn comes, says it is resolved, and nothing replies to it.
type goneIncident struct {
	inc *incident
	at  time.Time
}

// step takes ev, come at now, into the book b and queues what it calls for.
func (p *Pipeline) step(b *book, ev supervisor.Event, now time.Time) {
	ik := incidentKey(ev)
	inc := b.Incidents[ik]
	if ev.Healthy && inc != nil && (!inc.Opened.Before(p.started) || inc.Stage == supervisor.KindHeartbeat) {
		// A healthy run ends only deaths an earlier up saw and this one did not; it
		// says nothing of a silence.
		inc = nil
	}
	if ev.Fixed {
		p.resolveRemoved(b, ev, now)
	}
	_, muted := b.muted(ev.Job, now)
	switch classify(ev, inc) {
	case stepPlain:
		if muted && ev.Kind != supervisor.KindMessage {
			return
		}
		for _, to := range route(ev, p.defaults) {
			p.pacer.add(to, news{ev: ev}, now)
		}
	case stepOpen:
		inc = b.open(ev, now)
		p.alert(inc, ev, now)
		p.latest[inc.ID] = ev
		p.silent(inc, ev, now)
		if !muted {
			p.announce(inc, ev, now)
		}
	case stepUpdate:
		if ev.Kind == supervisor.KindSuccess {
			// A job that restarts whatever its status died with exit status 0: one
			// more death of the incident, told as one.
			ev.Kind, ev.Restarting = supervisor.KindFailure, true
		}
		before := inc.Stage
		inc.update(ev)
		p.alert(inc, ev, now)
		p.latest[inc.ID] = ev
		p.silent(inc, ev, now)
		if len(inc.Posts) == 0 {
			// Opened while its job was muted, or before its posts were sent.
			if !muted && !p.pacer.pending(inc.ID) {
				p.announce(inc, ev, now)
			}
			return
		}
		// A console cannot edit: it prints what a reader of a log wants again, a new
		// stage (the crash loop) or another failed run of a job that is not restarted,
		// not each death of a loop.
		news := inc.Stage != before || !inc.Restarting
		for _, id := range inc.Posts {
			if po := b.Posts[id]; po != nil && (p.canEdit || news) {
				p.pacer.edit(po.To, id, now)
			}
		}
	case stepResolve:
		if p.am != nil {
			p.am.resolve(inc, ev, cmp.Or(ev.Host, p.opts.Host), now)
		}
		delete(b.Incidents, inc.Key)
		delete(p.latest, inc.ID)
		delete(p.silences, inc.ID)
		if p.pacer.pending(inc.ID) {
			p.gone[inc.ID] = goneIncident{inc, now}
		}
		for _, id := range inc.Posts {
			if po := b.Posts[id]; po != nil {
				po.resolve(inc, now)
				if p.canEdit {
					p.pacer.edit(po.To, id, now)
				}
			}
		}
		if muted || quietly(ev, inc) {
			return
		}
		rec := recoveryOf(ev)
		if !Wanted(rec) && !rec.Fixed {
			return
		}
		wanted := map[string]bool{}
		for _, to := range route(rec, p.defaults) {
			wanted[key(to)] = true
		}
		for _, id := range inc.Posts {
			if po := b.Posts[id]; po != nil && wanted[key(po.To)] {
				p.pacer.reply(po.To, news{ev: rec, post: id}, now)
			}
		}
	}
}

// alert has Alertmanager, if any, told of inc, which ev opened or changed: muted or
// not, as a mute is the chat's, and Alertmanager has silences of its own.
func (p *Pipeline) alert(inc *incident, ev supervisor.Event, now time.Time) {
	if p.am != nil {
		p.am.open(inc, ev, cmp.Or(ev.Host, p.opts.Host), now)
	}
}

// resolveRemoved resolves the incidents of job files in the folder that ev says
// loads, when the file is gone: a file that was removed is no problem any more.
func (p *Pipeline) resolveRemoved(b *book, ev supervisor.Event, now time.Time) {
	var gone []string
	for key, inc := range b.Incidents {
		if strings.HasPrefix(key, "file ") && filepath.Dir(inc.Job) == ev.Job {
			if _, err := os.Stat(inc.Job); errors.Is(err, fs.ErrNotExist) {
				gone = append(gone, inc.Job)
			}
		}
	}
	for _, file := range gone {
		p.step(b, supervisor.Event{Kind: supervisor.KindRecovery, Job: file, Host: ev.Host, Fixed: true, Note: "it was removed"}, now)
	}
}

// announce queues the news of inc, which ev opened or made worth telling, for each
// destination of ev.
func (p *Pipeline) announce(inc *incident, ev supervisor.Event, now time.Time) {
	for _, to := range route(ev, p.defaults) {
		p.pacer.add(to, news{ev: ev, inc: inc.ID}, now)
	}
}

// recoveryOf is the recovery that ev, which resolves an incident, tells: ev itself,
// or for the success of a run after failed ones, a recovery made of it.
func recoveryOf(ev supervisor.Event) supervisor.Event {
	if ev.Kind == supervisor.KindSuccess {
		ev.Kind = supervisor.KindRecovery
		ev.Note = "a run succeeded again"
		ev.Output, ev.OutputLines = nil, 0
	}
	return ev
}

// resolve marks inc resolved at now in po: its headline, or its line of a digest.
func (po *post) resolve(inc *incident, now time.Time) {
	if !po.Digest {
		po.Head, po.Resolved = resolvedHeadline(inc, po.Host, now), true
		return
	}
	for i := range po.Lines {
		if po.Lines[i].Incident == inc.ID {
			po.Lines[i].Text, po.Lines[i].Resolved = resolvedLine(inc, now), true
		}
	}
	po.Incidents = slices.DeleteFunc(po.Incidents, func(id string) bool { return id == inc.ID })
	po.Resolved = len(po.Incidents) == 0
}

// render makes the deliveries of ws, written at now, keeping their posts in b.
func (p *Pipeline) render(b *book, ws []write, now time.Time) []delivery {
	var ds []delivery
	for _, w := range ws {
		switch {
		case w.edit != "":
			if po := b.Posts[w.edit]; po != nil {
				ds = append(ds, p.edit(b, po, now))
			}
		case w.reply != nil:
			ds = append(ds, delivery{to: w.to, ev: w.reply.ev, op: opReply, replyTo: w.reply.post})
		case len(w.news) == 1 && w.news[0].inc == "":
			ds = append(ds, delivery{to: w.to, ev: w.news[0].ev})
		case len(w.news) == 1:
			ds = append(ds, p.post(b, w.to, w.news[0], now))
		default:
			ds = append(ds, p.digest(b, w.to, w.news, now))
		}
	}
	for id := range p.gone {
		if !p.pacer.pending(id) {
			delete(p.gone, id)
		}
	}
	b.prune(now)
	return ds
}

// incidentOf finds the incident id for a post: open, or resolved before its post.
func (p *Pipeline) incidentOf(b *book, id string) (inc *incident, resolvedAt time.Time) {
	if inc := b.byID(id); inc != nil {
		return inc, time.Time{}
	}
	if g, ok := p.gone[id]; ok {
		return g.inc, g.at
	}
	return nil, time.Time{}
}

func (b *book) add(po *post) {
	if b.Posts == nil {
		b.Posts = map[string]*post{}
	}
	b.Posts[po.ID] = po
}

// post makes the post of the incident n opened, to to.
func (p *Pipeline) post(b *book, to supervisor.Destination, n news, now time.Time) delivery {
	inc, resolvedAt := p.incidentOf(b, n.inc)
	if inc == nil {
		return delivery{to: to, ev: n.ev} // forgotten meanwhile: told as a plain event
	}
	ev := n.ev
	if latest, ok := p.latest[inc.ID]; ok {
		ev = latest
	}
	po := &post{ID: "p" + b.newID(), To: to, Incidents: []string{inc.ID}, Host: ev.Host, Job: inc.Job, Sent: now, Head: inc.Head}
	var whole bool
	po.BodyHTML, po.BodyText, whole = incidentBody(ev)
	if resolvedAt.IsZero() {
		inc.Posts = append(inc.Posts, po.ID)
	} else {
		po.resolve(inc, resolvedAt)
	}
	b.add(po)
	d := p.rendered(b, po, inc, now)
	d.op, d.ev, d.whole = opSend, ev, whole // its output may follow as a document
	return d
}

// digest makes one post of several news to to: a line for each.
func (p *Pipeline) digest(b *book, to supervisor.Destination, ns []news, now time.Time) delivery {
	po := &post{ID: "p" + b.newID(), To: to, Digest: true, Host: p.opts.Host, Sent: now}
	for _, n := range ns {
		inc, resolvedAt := p.incidentOf(b, n.inc)
		if inc == nil {
			// Several events of a job in no incident (its starts, say) are one line:
			// the latest.
			line := digestLine{Job: n.ev.Job, Text: eventLine(n.ev), Word: stageWord(n.ev.Kind)}
			if i := slices.IndexFunc(po.Lines, func(l digestLine) bool { return l.Incident == "" && l.Job == n.ev.Job }); i >= 0 {
				po.Lines[i] = line
			} else {
				po.Lines = append(po.Lines, line)
			}
			continue
		}
		if slices.Contains(po.Incidents, inc.ID) {
			continue // an incident is one line, as it is now
		}
		po.Lines = append(po.Lines, digestLine{Incident: inc.ID, Job: inc.Job, Text: inc.Line, Word: stageWord(inc.Stage)})
		po.Incidents = append(po.Incidents, inc.ID)
		if resolvedAt.IsZero() {
			inc.Posts = append(inc.Posts, po.ID)
		} else {
			po.resolve(inc, resolvedAt)
		}
	}
	po.Resolved = len(po.Incidents) == 0
	d := delivery{to: to, op: opSend, rendered: digestHTML(po.Host, po.Lines), plain: digestText(po.Host, po.Lines),
		whole: true, aboutKind: "digest", aboutJob: fmt.Sprintf("%d events", len(po.Lines))}
	if !po.Resolved {
		b.add(po) // kept for its edits
		d.post = po.ID
	}
	return d
}

// edit makes the edit of po that shows what its incidents are now.
func (p *Pipeline) edit(b *book, po *post, now time.Time) delivery {
	po.Edited = now
	if po.Digest {
		for i, l := range po.Lines {
			if inc := b.byID(l.Incident); inc != nil && !l.Resolved {
				po.Lines[i].Text, po.Lines[i].Word = inc.Line, stageWord(inc.Stage)
			}
		}
		return delivery{to: po.To, op: opEdit, post: po.ID, rendered: digestHTML(po.Host, po.Lines),
			plain: digestText(po.Host, po.Lines), whole: true, aboutKind: "digest", aboutJob: fmt.Sprintf("%d events", len(po.Lines))}
	}
	var inc *incident
	if len(po.Incidents) > 0 && !po.Resolved {
		inc = b.byID(po.Incidents[0])
	}
	if inc != nil {
		if ev, ok := p.latest[inc.ID]; ok {
			po.BodyHTML, po.BodyText, _ = incidentBody(ev)
		}
		po.Head = inc.Head
	}
	d := p.rendered(b, po, inc, now)
	d.op = opEdit
	return d
}

// rendered renders po, an incident's post, as it is now: its headline, whether its
// job is muted, its body and its buttons (none once it is resolved). inc is its open
// incident, nil once resolved.
func (p *Pipeline) rendered(b *book, po *post, inc *incident, now time.Time) delivery {
	muted := ""
	var keys [][]Button
	if inc != nil && !po.Resolved {
		until, ok := b.muted(inc.Job, now)
		muted = mutedLine(until, ok)
		if p.opts.Buttons {
			keys = buttons(inc, ok)
		}
	}
	return delivery{to: po.To, post: po.ID, rendered: postHTML(po.Head, muted, po.BodyHTML),
		plain: postText(po.Head, muted, po.BodyText), whole: true, buttons: keys, aboutKind: "incident", aboutJob: po.Job}
}

// Incident names the job of the open incident id, for a press of one of its post's
// buttons, and false when no open incident has that id.
func (p *Pipeline) Incident(id string) (job string, ok bool) {
	p.book.view(func(b *book) {
		if inc := b.byID(id); inc != nil && inc.Stage != supervisor.KindProblem {
			job, ok = inc.Job, true
		}
	})
	return job, ok
}

// Mute keeps job's incidents out of the chat until until (a zero until unmutes it):
// nothing new is sent about the job, and the posts of its open incident say so and
// offer to unmute. It is kept in the book, so it outlasts a restart.
func (p *Pipeline) Mute(job string, until time.Time) {
	call := func(b *book) {
		now := time.Now()
		if b.Muted == nil {
			b.Muted = map[string]time.Time{}
		}
		if until.After(now) {
			b.Muted[job] = until
		} else {
			delete(b.Muted, job)
		}
		if inc := b.Incidents[job]; inc != nil && p.canEdit {
			for _, id := range inc.Posts {
				if po := b.Posts[id]; po != nil {
					p.pacer.edit(po.To, id, now)
				}
			}
		}
	}
	p.begin() // a lazy pipeline that has not started would take no call
	select {
	case p.calls <- call:
	case <-p.done:
		p.book.update(call) // kept for the next supervise, with nothing to edit
	}
}

// Mutes lists the jobs muted now, with when each mute ends.
func (p *Pipeline) Mutes() map[string]time.Time {
	mutes := map[string]time.Time{}
	now := time.Now()
	p.book.view(func(b *book) {
		for job := range b.Muted {
			if until, ok := b.muted(job, now); ok {
				mutes[job] = until
			}
		}
	})
	return mutes
}

// silence is an open silence whose posts say how long it has lasted: they are edited
// after a minute (firstEdit), then after twice as long each time, up to an hour.
type silence struct {
	at    time.Time     // when its latest event came, saying how long it was silent then
	every time.Duration // the wait before the next edit
	next  time.Time
}

// silent keeps track of inc, whose latest event ev came at now, if it is a silence
// with a length to keep current; else forgets it.
func (p *Pipeline) silent(inc *incident, ev supervisor.Event, now time.Time) {
	if !p.canEdit || inc.Stage != supervisor.KindHeartbeat || ev.Silent <= 0 {
		delete(p.silences, inc.ID)
		return
	}
	p.silences[inc.ID] = &silence{at: now, every: p.firstEdit, next: now.Add(p.firstEdit)}
}

// nextRefresh is when the first silence is due to be edited.
func (p *Pipeline) nextRefresh() (time.Time, bool) {
	var first time.Time
	for _, s := range p.silences {
		if first.IsZero() || s.next.Before(first) {
			first = s.next
		}
	}
	return first, !first.IsZero()
}

// refreshSilences edits the posts of the silences due at now to say how long they
// have lasted.
func (p *Pipeline) refreshSilences(b *book, now time.Time) {
	for id, s := range p.silences {
		if s.next.After(now) {
			continue
		}
		inc, ev := b.byID(id), p.latest[id]
		if inc == nil {
			delete(p.silences, id)
			continue
		}
		ev.Silent += now.Sub(s.at)
		inc.Head, inc.Line = incidentHeadline(inc, ev), incidentLine(inc, ev)
		for _, pid := range inc.Posts {
			if po := b.Posts[pid]; po != nil {
				p.pacer.edit(po.To, pid, now)
			}
		}
		s.every = min(2*s.every, time.Hour)
		s.next = now.Add(s.every)
	}
}
