package notifier

import (
	"strconv"
	"strings"
	"time"

	"github.com/supervise/supervise/supervisor"
)

// incidentHeadline is the headline of inc's post once ev is its latest event: the
// event's own, or, for a crash loop, the loop's count, first death and last exits,
// and for a failure that came again, how often and since when.
func incidentHeadline(inc *incident, ev supervisor.Event) string {
	job := oneLine(inc.Job)
	on := ""
	if host := oneLine(ev.Host); host != "" {
		on = " on " + host
	}
	switch {
	case inc.Stage == supervisor.KindRestartLoop:
		h := "🔁 " + job + " is crash-looping" + on + ": " + strconv.Itoa(inc.Count) + " " + crashes(inc.Count) +
			" since " + inc.Opened.Format(clockLayout)
		if len(inc.Exits) > 0 {
			h += " (" + oneLine(strings.Join(inc.Exits, ", ")) + ")"
		}
		if ev.Retry > 0 {
			h += "; retrying every " + human(ev.Retry)
		}
		return clip(h, maxHeadline)
	case (inc.Stage == supervisor.KindFailure || inc.Stage == supervisor.KindTimeout) && inc.Count > 1:
		return clip(Headline(ev)+" ("+strconv.Itoa(inc.Count)+" in a row since "+inc.Opened.Format(clockLayout)+")", maxHeadline)
	}
	return Headline(ev)
}

// clockLayout shows when an incident began: the time of day, as the chat it is in
// reads on the same day, with its zone.
const clockLayout = "15:04:05 MST"

// maxLine bounds a digest's line, so that 30 of them, with the longest job names and
// error lines, still fit one message.
const maxLine = 130

// incidentLine is inc's line in a digest: its headline without the host, which the
// digest names once, and the last line of its job's output, where the error is, or
// the reason a job file does not load.
func incidentLine(inc *incident, ev supervisor.Event) string {
	if ev.Kind == supervisor.KindProblem {
		return problemLine(ev) // a problem's headline is the event's
	}
	ev.Host = ""
	return withErrorLine(incidentHeadline(inc, ev), ev)
}

// eventLine is the line in a digest of an event in no incident.
func eventLine(ev supervisor.Event) string {
	if ev.Kind == supervisor.KindProblem {
		return problemLine(ev)
	}
	ev.Host = ""
	return withErrorLine(Headline(ev), ev)
}

// problemLine is the line in a digest of a job file that does not load, when its
// reason names the file, the line and the key: what follows from it and the reason
// ("⚠️ not loaded: jobs.d/a.toml:2: timeout: 5 has no unit"), where a headline and an
// output line would each be cut to their part and the reason lost to a long path.
func problemLine(ev supervisor.Event) string {
	note, _, _ := strings.Cut(ev.Note, ";")
	reason := lastLine(ev.Output)
	if note == "" || ev.Job == "" || !strings.HasPrefix(reason, ev.Job) {
		ev.Host = ""
		return withErrorLine(Headline(ev), ev)
	}
	return clip("⚠️ "+oneLine(note)+": "+reason, maxLine)
}

// withErrorLine adds ev's last line of output to head, both cut to fit a digest's line.
func withErrorLine(head string, ev supervisor.Event) string {
	last := lastLine(ev.Output)
	if last == "" {
		return clip(head, maxLine)
	}
	head = clip(head, maxLine*2/3)
	return head + " — " + clip(last, maxLine-utf16Len(head)-3)
}

// lastLine is the last line of output with words in it, cleaned, or "".
func lastLine(out []byte) string {
	lines := strings.Split(clean(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return l
		}
	}
	return ""
}

// resolvedHeadline is the headline of a post whose incident resolved at now: "✅",
// the job, how long it lasted and what it was.
func resolvedHeadline(inc *incident, host string, now time.Time) string {
	on := ""
	if host = oneLine(host); host != "" {
		on = " on " + host
	}
	h := "✅ " + oneLine(inc.Job) + " resolved" + on + " after " + human(now.Sub(inc.Opened)) + " (" + stageWords(inc) + ")"
	return clip(h, maxHeadline)
}

// resolvedLine is a resolved incident's line in a digest.
func resolvedLine(inc *incident, now time.Time) string {
	return clip("✅ "+oneLine(inc.Job)+": resolved after "+human(now.Sub(inc.Opened))+" ("+stageWords(inc)+")", maxLine)
}

// stageWords say what an incident was, for its resolution.
func stageWords(inc *incident) string {
	n := strconv.Itoa(inc.Count)
	switch inc.Stage {
	case supervisor.KindRestartLoop:
		return "crash-looping, " + n + " " + crashes(inc.Count)
	case supervisor.KindFailure:
		if inc.Restarting {
			return n + " " + plural(inc.Count, "restart")
		}
		return n + " " + plural(inc.Count, "failed run")
	case supervisor.KindTimeout:
		return n + " timed out"
	case supervisor.KindHeartbeat:
		return "silent or late"
	case supervisor.KindProblem:
		return "the job file did not load"
	}
	return string(inc.Stage)
}

// bodyRoom is the room for what follows an incident post's headline: what is left
// by the longest headline, so that a resolution's headline always fits.
const bodyRoom = maxMessage - maxHeadline - len("<b></b>\n🔇 muted until 00:00:00 MST")

// incidentBody renders what follows an incident's headline, from its latest event
// ev, as HTML and as text, and says whether the HTML quotes all the output it has.
func incidentBody(ev supervisor.Event) (html, text string, whole bool) {
	html, whole = renderBody(ev, bodyRoom)
	return html, textBody(ev), whole
}

// postHTML and postText put a post's headline, its muted line and its body together.
func postHTML(head, mutedLine, body string) string {
	h := "<b>" + escape(head) + "</b>"
	if mutedLine != "" {
		h += "\n" + escape(mutedLine)
	}
	return h + body
}

func postText(head, mutedLine, body string) string {
	if mutedLine != "" {
		head += "\n" + mutedLine
	}
	return head + body
}

// mutedLine says until when a job is muted, or "" when it is not.
func mutedLine(until time.Time, muted bool) string {
	if !muted {
		return ""
	}
	return "🔇 muted until " + until.Format(clockLayout)
}

// digestHeadline counts a digest post's lines by what they are now: "🚨 20 on host01:
// 18 failed, 2 crash-looping", or ✅ once every one is resolved.
func digestHeadline(host string, lines []digestLine) string {
	counts := map[string]int{}
	var order []string
	open := 0
	for _, l := range lines {
		word := l.Word
		if l.Resolved {
			word = "resolved"
		} else {
			open++
		}
		if counts[word] == 0 {
			order = append(order, word)
		}
		counts[word]++
	}
	parts := make([]string, len(order))
	for i, w := range order {
		parts[i] = strconv.Itoa(counts[w]) + " " + w
	}
	h := "🚨 "
	if open == 0 {
		h = "✅ "
	}
	h += strconv.Itoa(len(lines)) + " " + plural(len(lines), "alert")
	if host = oneLine(host); host != "" {
		h += " on " + host
	}
	return clip(h+": "+strings.Join(parts, ", "), maxHeadline)
}

// digestHTML and digestText render a digest post: its headline, then its lines.
// Lines that do not fit are still named, by job, on a last line.
func digestHTML(host string, lines []digestLine) string {
	head := "<b>" + escape(digestHeadline(host, lines)) + "</b>"
	return head + escape(joinLines(lines, maxMessage-utf16Len(head)))
}

func digestText(host string, lines []digestLine) string {
	head := digestHeadline(host, lines)
	return head + joinLines(lines, maxMessage-utf16Len(head))
}

// joinLines gives the lines of a digest, each on a line of its own, in at most room
// UTF-16 units once escaped; those that do not fit are named by job on a last line.
func joinLines(lines []digestLine, room int) string {
	var b strings.Builder
	for i, l := range lines {
		line := "\n" + l.Text
		rest := ""
		if i < len(lines)-1 {
			rest = moreLine(lines[i+1:])
		}
		if escapedLen(line)+escapedLen(rest) > room && i > 0 {
			b.WriteString(clip(moreLine(lines[i:]), room))
			return b.String()
		}
		b.WriteString(line)
		room -= escapedLen(line)
	}
	return b.String()
}

func moreLine(lines []digestLine) string {
	names := make([]string, len(lines))
	for i, l := range lines {
		names[i] = oneLine(l.Job)
	}
	return "\n… and " + strconv.Itoa(len(names)) + " more: " + strings.Join(names, ", ")
}

// stageWord says in a word or two what an event or incident is, for a digest's
// headline.
func stageWord(k supervisor.Kind) string {
	if w := digestWords[k]; w != "" {
		return w
	}
	return string(k)
}

// buttons are the inline buttons of an incident's post: Restart, Log, Mute 1h (or
// Unmute, while it is muted) and, for a crash loop, Stop. Their callback data is a
// letter and the incident's id: a few bytes, whatever the job's name.
func buttons(inc *incident, muted bool) [][]Button {
	if inc.Stage == supervisor.KindProblem {
		return nil // a job file that does not load has nothing to restart or read
	}
	row := []Button{{Text: "🔁 Restart", Data: "r:" + inc.ID}, {Text: "📄 Log", Data: "l:" + inc.ID}}
	mute := Button{Text: "🔇 Mute 1h", Data: "m:" + inc.ID}
	if muted {
		mute = Button{Text: "🔔 Unmute", Data: "u:" + inc.ID}
	}
	second := []Button{mute}
	if inc.Stage == supervisor.KindRestartLoop {
		second = append(second, Button{Text: "⏹ Stop", Data: "s:" + inc.ID})
	}
	return [][]Button{row, second}
}

// crashes is the word for n crashes.
func crashes(n int) string {
	if n == 1 {
		return "crash"
	}
	return "crashes"
}
