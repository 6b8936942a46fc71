// Package notifier turns supervisor events into messages and delivers them: to a
// Telegram chat through the Bot API, or to standard error when no bot is configured.
package notifier

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/supervise/supervise/supervisor"
)

// maxMessage is Telegram's limit on a message, in UTF-16 code units. Telegram counts
// the text left after parsing the HTML, but HTML holds the source to it, which is never
// shorter, so a message fits however Telegram treats the markup.
const maxMessage = 4096

// Limits on the parts of a message above the output, so that a runaway command line
// or error text still leaves room for the output's last line.
const (
	maxHeadline = 512
	maxCommand  = 1024
)

// timeLayout shows a start time in its own zone, as the host's operator reads it.
const timeLayout = "2006-01-02 15:04:05 MST"

// Headline says in one line what happened to the job, starting with an emoji, e.g.
// "❌ backup failed on host01: exit status 3 after 2m13s".
func Headline(ev supervisor.Event) string {
	job := oneLine(ev.Job)
	if job == "" {
		job = "job"
	}
	on := ""
	if host := oneLine(ev.Host); host != "" {
		on = " on " + host
	}
	var h string
	switch ev.Kind {
	case supervisor.KindStart:
		h = "▶️ " + job + " started" + on
	case supervisor.KindSuccess:
		h = "✅ " + job + " succeeded" + on + after(ev.Duration)
	case supervisor.KindFailure:
		h = "❌ " + job + " failed" + on + ": " + ending(ev)
		if ev.Restarting {
			h += "; restarting" + in(ev.Retry)
		}
	case supervisor.KindTimeout:
		h = "⏰ " + job + " timed out" + on + after(ev.Duration)
		if ev.Timeout > 0 {
			h += " (timeout " + human(ev.Timeout) + ")"
		}
	case supervisor.KindRestartLoop:
		h = "🔁 " + job + " is crash-looping" + on
		if ev.Crashes > 0 {
			h += ": " + strconv.Itoa(ev.Crashes) + " crashes"
			if ev.Within > 0 {
				h += " in " + human(ev.Within)
			}
		}
		if len(ev.Exits) > 0 {
			h += " (" + oneLine(strings.Join(ev.Exits, ", ")) + ")"
		}
		if ev.Retry > 0 {
			h += "; retrying every " + human(ev.Retry)
		}
	case supervisor.KindHeartbeat:
		due := ev.Missed.Format(timeLayout)
		switch {
		case ev.MissedRuns > 1:
			h = "💔 " + job + " missed " + strconv.Itoa(ev.MissedRuns) + " runs" + on + ", the last due at " + due
		case ev.MissedRuns == 1:
			h = "💔 " + job + " missed its run" + on + " due at " + due
		case !ev.Missed.IsZero() && ev.Expect > 0:
			h = "💔 " + job + " did not succeed" + on + " within " + human(ev.Expect) + " of its run due at " + due
		case !ev.Missed.IsZero():
			h = "💔 " + job + " did not start" + on + ": its run was due at " + due
		case ev.Note != "":
			h = "💔 " + job + " missed its heartbeat" + on + ": " + oneLine(ev.Note)
		default:
			h = "💔 " + job + " missed its heartbeat" + on
			if ev.Silent > 0 {
				h += ": silent for " + human(ev.Silent)
			}
			if ev.Every > 0 {
				h += " (expected every " + human(ev.Every) + ")"
			}
		}
	case supervisor.KindRecovery:
		h = "💚 " + job + " recovered" + on
		switch {
		case ev.Down > 0:
			h += " after " + human(ev.Down) + " of crashes"
		case ev.Silent > 0:
			h += ": a sign of life after " + human(ev.Silent) + " of silence"
		case ev.Note != "":
			h += ": " + oneLine(ev.Note)
		}
		if ev.Crashes > 0 {
			h += " (" + strconv.Itoa(ev.Crashes) + " in all)"
		}
	case supervisor.KindProblem:
		h = "⚠️ " + job + on + ": " + oneLine(ev.Note)
	case supervisor.KindMessage:
		h = "💬 " + job + on
	default:
		h = "ℹ️ " + job + " " + oneLine(string(ev.Kind)) + on
	}
	return clip(h, maxHeadline)
}

// digestWords say what events of a kind did, for a digest's summary.
var digestWords = map[supervisor.Kind]string{
	supervisor.KindFailure: "failed", supervisor.KindTimeout: "timed out",
	supervisor.KindRestartLoop: "crash-looping", supervisor.KindHeartbeat: "silent or late",
	supervisor.KindRecovery: "recovered", supervisor.KindSuccess: "succeeded",
	supervisor.KindStart: "started", supervisor.KindProblem: "problems", supervisor.KindMessage: "messages",
}

// ending says how a failed run ended.
func ending(ev supervisor.Event) string {
	switch {
	case ev.Err != nil:
		return "could not start: " + oneLine(ev.Err.Error())
	case ev.Signal != 0:
		return "killed by " + signalName(ev.Signal) + after(ev.Duration)
	case ev.MinRuntime > 0 && ev.ExitCode == 0:
		return "exit status 0" + after(ev.Duration) + ", sooner than its min_runtime " + human(ev.MinRuntime)
	case ev.ExitCode >= 0:
		return "exit status " + strconv.Itoa(ev.ExitCode) + after(ev.Duration)
	case ev.Note != "":
		return oneLine(ev.Note) // a failure the job reported itself
	default:
		return "stopped" + after(ev.Duration)
	}
}

func in(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return " in " + human(d)
}

func after(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return " after " + human(d)
}

// signalName gives "SIGKILL (signal 9)", or "signal 42" for a signal without a name.
func signalName(sig syscall.Signal) string {
	num := "signal " + strconv.Itoa(int(sig))
	if name := supervisor.SignalName(sig); name != "" {
		return name + " (" + num + ")"
	}
	return num
}

// human prints a duration as a person would say it: "450ms", "4.5s", "2m13s", "1h2m",
// rounding away precision nobody reads in an alert.
func human(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + human(-d)
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Hour:
		d = d.Round(time.Second)
	default:
		d = d.Round(time.Minute)
	}
	h, m, s := int64(d/time.Hour), int64(d/time.Minute%60), int64(d/time.Second%60)
	var b []byte
	if h > 0 {
		b = append(strconv.AppendInt(b, h, 10), 'h')
	}
	if m > 0 {
		b = append(strconv.AppendInt(b, m, 10), 'm')
	}
	if s > 0 || h == 0 && m == 0 {
		b = append(strconv.AppendInt(b, s, 10), 's')
	}
	return string(b)
}

// Limits on the lines that quote what a job said of itself.
const (
	maxNote   = 512
	maxStatus = 512
	maxPing   = 1024 // of the last ping message
)

// message is what both renderings say, before markup.
type message struct {
	headline string
	command  string
	started  string
	details  []string // lines such as "status: …", "last sign of life: …"
	ping     string   // the last ping message, quoted in a block of its own
	output   bool     // whether the event has output to speak of
	tail
}

func newMessage(ev supervisor.Event) message {
	m := message{
		headline: Headline(ev),
		command:  clip(clean([]byte(ev.Command)), maxCommand),
		// A message about a run quotes its output, or says there was none; one about a
		// run that did not happen, or about the job between runs, has none to speak of.
		output: ev.Kind != supervisor.KindStart && ev.Kind != supervisor.KindRecovery && !ev.Start.IsZero() || len(ev.Output) > 0,
		tail:   lastLines(ev),
	}
	if !ev.Start.IsZero() {
		m.started = ev.Start.Format(timeLayout)
	}
	// The note is in the headline of a problem, of a failure the job reported, of a
	// heartbeat it asked for and of a recovery it reported.
	noted := ev.Kind == supervisor.KindProblem || ev.Kind == supervisor.KindFailure && ev.ExitCode < 0 && ev.Signal == 0 && ev.Err == nil ||
		ev.Kind == supervisor.KindHeartbeat && ev.Missed.IsZero() || ev.Kind == supervisor.KindRecovery && ev.Silent == 0 && ev.Down == 0
	if ev.Note != "" && !noted {
		m.details = append(m.details, clip(oneLine(ev.Note), maxNote))
	}
	if ev.Kind == supervisor.KindHeartbeat && ev.Missed.IsZero() {
		if ev.LastSign.IsZero() {
			m.details = append(m.details, "no sign of life yet")
		} else {
			m.details = append(m.details, "last sign of life: "+oneLine(ev.LastSignBy)+" at "+ev.LastSign.Format(timeLayout))
		}
	}
	if !ev.Ready.IsZero() {
		m.details = append(m.details, "ready (READY=1) at "+ev.Ready.Format(timeLayout))
	}
	if ev.Status != "" {
		m.details = append(m.details, "status: "+clip(oneLine(ev.Status), maxStatus))
	}
	if ev.Message != "" {
		m.ping = clipStart(strings.TrimSpace(clean([]byte(ev.Message))), maxPing)
	}
	return m
}

// HTML renders ev as a Telegram message in HTML parse mode, at most 4096 characters.
// The output is cut from the top to fit, because its last lines say what went wrong.
func HTML(ev supervisor.Event) string {
	html, _ := render(ev)
	return html
}

// render is HTML, and whether the message quotes all of the output it has: the last
// lines up to the job's tail, none of them cut.
func render(ev supervisor.Event) (string, bool) {
	if ev.Kind == supervisor.KindMessage {
		head := "<b>" + escape(Headline(ev)) + "</b>\n"
		return head + escape(clip(clean([]byte(ev.Note)), maxMessage-utf16Len(head))), true
	}
	head := "<b>" + escape(Headline(ev)) + "</b>"
	body, whole := renderBody(ev, maxMessage-utf16Len(head))
	return head + body, whole
}

// renderBody renders what follows ev's headline as HTML, in at most room UTF-16
// units, and says whether it quotes all of the output it has.
func renderBody(ev supervisor.Event, room int) (string, bool) {
	m := newMessage(ev)
	var b strings.Builder
	if m.command != "" {
		b.WriteString("\ncommand: <code>" + escape(m.command) + "</code>")
	}
	if m.started != "" {
		b.WriteString("\nstarted " + escape(m.started))
	}
	for _, d := range m.details {
		b.WriteString("\n" + escape(d))
	}
	if m.ping != "" {
		b.WriteString("\nping message:\n<pre>" + escape(m.ping) + "</pre>")
	}
	if !m.output {
		return b.String(), true
	}
	if len(m.lines) == 0 {
		b.WriteString("\n(no output)")
		return b.String(), true
	}
	t := pre(&b, m.tail, room)
	return b.String(), t.omitted == 0 && t.lines[len(t.lines)-1] == m.lines[len(m.lines)-1]
}

// pre writes to b the last lines of t that fit in what is left of room, in a <pre>
// block, with a note on the lines left out, and returns what it wrote.
func pre(b *strings.Builder, t tail, room int) tail {
	const open, end = "\n<pre>", "</pre>"
	t = fit(t, room-utf16Len(b.String())-len(open)-len(end))
	b.WriteString(open)
	if t.omitted > 0 {
		b.WriteString(earlier(t.omitted) + "\n")
	}
	for i, l := range t.lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(escape(l))
	}
	b.WriteString(end)
	return t
}

// fit keeps as many of t's last lines as fit in room UTF-16 units once escaped, with
// the note on lines left out. The last line is always kept, cut from its start if it
// must be. Each line is measured once, so the cost is linear in the output.
func fit(t tail, room int) tail {
	// The note is longest when it counts every line, so reserving that much is safe
	// whatever the count turns out to be.
	room -= utf16Len(earlier(t.omitted+len(t.lines))) + 1
	start := len(t.lines)
	for start > 0 {
		n := escapedLen(t.lines[start-1])
		if start < len(t.lines) {
			n++ // the newline
		}
		if n > room {
			break
		}
		room -= n
		start--
	}
	if start == len(t.lines) {
		last := len(t.lines) - 1
		return tail{lines: []string{clipStart(t.lines[last], room)}, omitted: t.omitted + last}
	}
	return tail{lines: t.lines[start:], omitted: t.omitted + start}
}

func earlier(n int) string {
	if n == 1 {
		return "… 1 earlier line"
	}
	return fmt.Sprintf("… %d earlier lines", n)
}

// Text renders ev in the same words as HTML, as plain text for a terminal or a log,
// with the output's lines behind a "| " bar. It quotes the same number of lines but
// does not cut them, as a terminal has no limit.
func Text(ev supervisor.Event) string {
	if ev.Kind == supervisor.KindMessage {
		return Headline(ev) + "\n" + clean([]byte(ev.Note))
	}
	return Headline(ev) + textBody(ev)
}

// textBody is what follows ev's headline in Text.
func textBody(ev supervisor.Event) string {
	m := newMessage(ev)
	var b strings.Builder
	if m.command != "" {
		b.WriteString("\ncommand: " + m.command)
	}
	if m.started != "" {
		b.WriteString("\nstarted " + m.started)
	}
	for _, d := range m.details {
		b.WriteString("\n" + d)
	}
	if m.ping != "" {
		b.WriteString("\nping message:")
		for l := range strings.SplitSeq(m.ping, "\n") {
			b.WriteString("\n> " + l)
		}
	}
	if !m.output {
		return b.String()
	}
	if len(m.lines) == 0 {
		b.WriteString("\n(no output)")
		return b.String()
	}
	// A bar sets the quoted output apart from the job's own output above it on a
	// terminal, as the <pre> block does on Telegram.
	if m.omitted > 0 {
		b.WriteString("\n| " + earlier(m.omitted))
	}
	for _, l := range m.lines {
		b.WriteString("\n| " + l)
	}
	return b.String()
}

// html renders d as HTML does its event, unless it is rendered already, and says
// whether it quotes all the output it has.
func (d delivery) html() (string, bool) {
	if d.rendered != "" {
		return d.rendered, d.whole
	}
	return render(d.ev)
}

// text renders d as Text does its event, unless it is rendered already.
func (d delivery) text() string {
	if d.plain != "" {
		return d.plain
	}
	return Text(d.ev)
}

// escape makes text safe in Telegram's HTML mode, which needs only these three
// outside attributes.
var escape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace

// escapedLen is the length of escape(s) in UTF-16 code units, without building it.
func escapedLen(s string) int {
	n := 0
	for _, r := range s {
		n += runeLen(r)
	}
	return n
}

func runeLen(r rune) int {
	switch r {
	case '<', '>':
		return 4
	case '&':
		return 5
	}
	if w := utf16.RuneLen(r); w > 0 {
		return w
	}
	return 1
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if w := utf16.RuneLen(r); w > 0 {
			n += w
		} else {
			n++
		}
	}
	return n
}

// clip cuts s so that escape(s) fits in max units, keeping its start and marking the
// cut with "…".
func clip(s string, max int) string {
	if escapedLen(s) <= max {
		return s
	}
	n := 1 // the "…"
	for i, r := range s {
		if n+runeLen(r) > max {
			return s[:i] + "…"
		}
		n += runeLen(r)
	}
	return s
}

// clipStart cuts s so that escape(s) fits in max units, keeping its end, which in a
// line of output is where the error is.
func clipStart(s string, max int) string {
	if escapedLen(s) <= max {
		return s
	}
	n := 1
	i := len(s)
	for i > 0 {
		r, size := utf8.DecodeLastRuneInString(s[:i])
		if n+runeLen(r) > max {
			break
		}
		n += runeLen(r)
		i -= size
	}
	return "…" + s[i:]
}

// oneLine makes a field fit in a headline: valid UTF-8, with line breaks and other
// control characters turned into spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}
