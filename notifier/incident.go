package notifier

import (
	"slices"
	"strconv"
	"time"

	"github.com/supervise/supervise/supervisor"
)

// An incident is one thing about a job that needs a human, from the event that opens
// it (a failure, a timeout, a crash loop, a missed heartbeat or run, a job file that
// does not load) to the one that resolves it. It is one message per destination, a
// post, kept current by edits as it goes on; its recovery is a reply to that post.
// A job has at most one incident open: a stalled run that then fails is one incident.
type incident struct {
	ID     string    `json:"id"`  // short and unique, for the callback data of buttons
	Key    string    `json:"key"` // the job's name, or "file " and a job file's path
	Job    string    `json:"job"`
	Opened time.Time `json:"opened"`
	// Run is the start of the run that opened it: its own end then resolves it by an
	// edit alone, as one run is one message.
	Run time.Time `json:"run,omitzero"`
	// Restarting says the job is one that up restarts: only a healthy run (its
	// KindRecovery) resolves it, not a success, which is one more death.
	Restarting bool            `json:"restarting,omitempty"`
	Stage      supervisor.Kind `json:"stage"` // what it is now: failure, timeout, restart-loop, heartbeat, problem
	Count      int             `json:"count"` // the events that opened and kept it open
	Exits      []string        `json:"exits,omitempty"`
	Head       string          `json:"head"` // its headline now
	Line       string          `json:"line"` // one line for a digest: what it is now, and the error line
	Posts      []string        `json:"posts,omitempty"`
}

// maxIncidentExits is how many of the last ways a job ended its incident lists.
const maxIncidentExits = 5

// post is one message to one destination: an incident's own, or a digest of several
// incidents and events. Its id names it in the spool, so an edit or a reply finds the
// message_id that the post's send was given, whenever and by whichever process.
type post struct {
	ID string                 `json:"id"`
	To supervisor.Destination `json:"to"`
	// Message is Telegram's message_id, once the send is confirmed; 0 before, and for
	// a console.
	Message int64 `json:"message,omitempty"`
	// Incidents are the incidents it shows: one, or those of a digest.
	Incidents []string `json:"incidents,omitempty"`
	Digest    bool     `json:"digest,omitempty"`
	// Lines are a digest's lines, by incident id ("" for an event in no incident), as
	// last rendered: a resolved incident's stays, with its ✅.
	Lines []digestLine `json:"lines,omitempty"`
	Host  string       `json:"host,omitempty"`
	Job   string       `json:"job,omitempty"`  // of an incident's own post
	Head  string       `json:"head,omitempty"` // an incident's own post's headline, as last rendered
	// Body is what follows the headline, as HTML and as text, as last rendered: a
	// resolution changes the headline and keeps it, whatever up knows after a restart.
	BodyHTML string    `json:"body_html,omitempty"`
	BodyText string    `json:"body_text,omitempty"`
	Resolved bool      `json:"resolved,omitempty"`
	Sent     time.Time `json:"sent"`            // when it was made
	Edited   time.Time `json:"edited,omitzero"` // when an edit of it was last made
}

// digestLine is one line of a digest post.
type digestLine struct {
	Incident string `json:"incident,omitempty"`
	Job      string `json:"job"`
	Text     string `json:"text"`
	Word     string `json:"word"` // what it is, for the digest's headline: "failed"
	Resolved bool   `json:"resolved,omitempty"`
}

// book is what the notifier remembers across restarts, in STATE/incidents.json: the
// open incidents, the posts that show them, and the muted jobs.
type book struct {
	Next      int                  `json:"next"`
	Incidents map[string]*incident `json:"incidents,omitempty"` // open ones, by key
	Posts     map[string]*post     `json:"posts,omitempty"`     // by id
	Muted     map[string]time.Time `json:"muted,omitempty"`     // job to the end of its mute

	// ids finds open incidents by id (byID), made when first asked; open adds to it,
	// and what was resolved since is found out of Incidents, and forgotten.
	ids map[string]*incident
}

// keepPosts is how long a resolved post is remembered: as long as the spool keeps
// the edits and replies that may still need its message_id.
const keepPosts = DefaultSpoolMaxAge

// newID returns a short id not used before: base 36 of a counter.
func (b *book) newID() string {
	b.Next++
	return strconv.FormatInt(int64(b.Next), 36)
}

// byID finds an open incident by its id.
func (b *book) byID(id string) *incident {
	if b.ids == nil {
		b.ids = make(map[string]*incident, len(b.Incidents))
		for _, inc := range b.Incidents {
			b.ids[inc.ID] = inc
		}
	}
	inc := b.ids[id]
	if inc != nil && b.Incidents[inc.Key] != inc {
		delete(b.ids, id) // resolved since
		return nil
	}
	return inc
}

// muted reports whether job is muted at now, and until when.
func (b *book) muted(job string, now time.Time) (time.Time, bool) {
	until, ok := b.Muted[job]
	return until, ok && now.Before(until)
}

// prune forgets mutes that have ended and resolved posts that nothing will need.
func (b *book) prune(now time.Time) {
	for job, until := range b.Muted {
		if !now.Before(until) {
			delete(b.Muted, job)
		}
	}
	for id, p := range b.Posts {
		if last := p.Sent; p.Resolved && now.Sub(latest(last, p.Edited)) > keepPosts {
			delete(b.Posts, id)
		}
	}
}

// latest is the later of a and b.
func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// step is what an event does to the incidents of its job: the pipeline's second step.
type step int

const (
	stepDrop    step = iota // nothing to tell
	stepPlain               // a message of its own, in no incident
	stepOpen                // opens an incident
	stepUpdate              // keeps an open incident current: its posts are edited
	stepResolve             // resolves one: its posts are edited, and the recovery replies
)

// incidentKey is the key of the incident ev is about: its job's name, or its job
// file's path for a problem with a file.
func incidentKey(ev supervisor.Event) string {
	if ev.Kind == supervisor.KindProblem || ev.Fixed {
		return "file " + ev.Job
	}
	return ev.Job
}

// opens reports whether an event of kind k needs a human: it opens an incident, or
// keeps one open.
func opens(k supervisor.Kind) bool {
	switch k {
	case supervisor.KindFailure, supervisor.KindTimeout, supervisor.KindRestartLoop,
		supervisor.KindHeartbeat, supervisor.KindProblem:
		return true
	}
	return false
}

// classify says what ev does, given inc, the open incident of its job (nil for
// none). An incident opens only for an event its job wants told (Wanted); once it is
// open, every event that needs a human keeps it current, wanted or not, as the
// deaths of a crash loop do. A success resolves the incident of a job that is not
// restarted, but for a missed run (a heartbeat about no run), which the recovery up
// emits after that success resolves; the recovery of a healthy run, a heartbeat or a
// job file resolves any.
func classify(ev supervisor.Event, inc *incident) step {
	switch {
	case opens(ev.Kind) && inc != nil:
		return stepUpdate
	case opens(ev.Kind) && Wanted(ev):
		return stepOpen
	case opens(ev.Kind):
		return stepDrop
	case ev.Kind == supervisor.KindRecovery && inc != nil:
		return stepResolve
	case ev.Kind == supervisor.KindSuccess && inc != nil && !inc.Restarting &&
		(inc.Stage != supervisor.KindHeartbeat || !inc.Run.IsZero()):
		return stepResolve
	case ev.Kind == supervisor.KindSuccess && inc != nil && inc.Restarting:
		return stepUpdate // one more death of a job that restarts, if it exits 0
	case ev.Kind == supervisor.KindRecovery && (ev.SelfHealed || ev.Fixed || ev.Healthy):
		return stepDrop // it ends nothing that was told
	case Wanted(ev):
		return stepPlain
	}
	return stepDrop
}

// quietly reports whether resolving inc with ev needs no reply, only the edit: the
// restarts healed it, or the run that stalled and opened it ended well after all (one
// run is one message), so nobody has anything to read about it but the ✅.
func quietly(ev supervisor.Event, inc *incident) bool {
	return ev.SelfHealed || ev.Kind == supervisor.KindSuccess && sameRun(ev, inc)
}

// sameRun reports whether ev is about the run that opened inc.
func sameRun(ev supervisor.Event, inc *incident) bool {
	return !inc.Run.IsZero() && ev.Start.Equal(inc.Run)
}

// open makes the incident that ev opens, at now.
func (b *book) open(ev supervisor.Event, now time.Time) *incident {
	if b.Incidents == nil {
		b.Incidents = map[string]*incident{}
	}
	inc := &incident{ID: b.newID(), Key: incidentKey(ev), Job: ev.Job, Opened: now, Run: ev.Start,
		Restarting: ev.Restarting || ev.Kind == supervisor.KindRestartLoop}
	b.Incidents[inc.Key] = inc
	if b.ids != nil {
		b.ids[inc.ID] = inc
	}
	inc.update(ev)
	return inc
}

// update takes ev into inc: its stage, count, the last ways its job ended, its
// headline and its digest line.
func (inc *incident) update(ev supervisor.Event) {
	if (ev.Kind == supervisor.KindHeartbeat) != (inc.Stage == supervisor.KindHeartbeat) && opens(ev.Kind) && inc.Stage != "" &&
		inc.Stage != supervisor.KindRestartLoop {
		inc.Count = 0 // a silence, then a failure (or the other way): its count starts over
	}
	if ev.Kind == supervisor.KindRestartLoop {
		// The loop's own event counts the deaths that made it, which came before.
		inc.Count = max(inc.Count, ev.Crashes)
		if len(ev.Exits) > 0 {
			inc.Exits = slices.Clone(ev.Exits)
		}
	} else {
		inc.Count++
		if e := exitOf(ev); e != "" {
			inc.Exits = append(inc.Exits, e)
			if len(inc.Exits) > maxIncidentExits {
				inc.Exits = inc.Exits[len(inc.Exits)-maxIncidentExits:]
			}
		}
	}
	switch {
	case ev.Kind == supervisor.KindRestartLoop || ev.Looping:
		inc.Stage = supervisor.KindRestartLoop
	case opens(ev.Kind) && inc.Stage != supervisor.KindRestartLoop:
		inc.Stage = ev.Kind
	}
	inc.Restarting = inc.Restarting || ev.Restarting
	inc.Head = incidentHeadline(inc, ev)
	inc.Line = incidentLine(inc, ev)
}

// exitOf is how ev's run ended, shortly ("exit 1", "SIGKILL"), for the list of an
// incident's last exits; empty for an event that is not the end of a run.
func exitOf(ev supervisor.Event) string {
	if ev.Kind != supervisor.KindFailure && ev.Kind != supervisor.KindTimeout && ev.Kind != supervisor.KindSuccess {
		return ""
	}
	switch {
	case ev.Kind == supervisor.KindTimeout:
		return "timeout"
	case ev.Err != nil:
		return "not started"
	case ev.Signal != 0:
		if name := supervisor.SignalName(ev.Signal); name != "" {
			return name
		}
		return "signal " + strconv.Itoa(int(ev.Signal))
	case ev.ExitCode >= 0:
		return "exit " + strconv.Itoa(ev.ExitCode)
	}
	return "failed"
}
