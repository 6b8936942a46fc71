package control

import (
	"context"
	"fmt"
	"html"
	"strings"
	"time"

	"github.com/supervise/supervise/notifier"
	"github.com/supervise/supervise/supervisor"
)

// Incidents is what the buttons under an incident's message and the status need of
// the notifier: the job an incident is about, muting it, and the mutes.
type Incidents interface {
	Incident(id string) (job string, ok bool)
	Mute(job string, until time.Time)
	Mutes() map[string]time.Time // job to the end of its mute
}

// muteFor is how long the Mute button mutes a job.
const muteFor = time.Hour

// allowed reports whether a command or a press from user in chat is obeyed: the chat
// must be in Allow, and in a group, when Allow names users too (positive ids, which
// are also their private chats), the user must be one of them.
func (c *Commands) allowed(chat, user int64) bool {
	if !c.Allow[chat] {
		return false
	}
	if chat > 0 {
		return true // a private chat is its user's
	}
	users := false
	for id := range c.Allow {
		users = users || id > 0
	}
	return !users || c.Allow[user]
}

// press does what a button under an incident's message asks, when it comes from an
// allowed chat and user, and answers every press, so the presser's app stops waiting:
// with what is being done, or why not.
func (c *Commands) press(ctx context.Context, p notifier.Press) {
	who := fmt.Sprintf("chat %d (%s)", p.ChatID, p.From)
	answer := func(text string) {
		if err := c.Bot.AnswerPress(ctx, p.ID, text); err != nil && ctx.Err() == nil {
			fmt.Fprintf(c.Stderr, "supervise: telegram commands: answering a button press from %s: %v\n", who, err)
		}
	}
	if !c.allowed(p.ChatID, p.UserID) {
		fmt.Fprintf(c.Stderr, "supervise: telegram commands: refused a button press from %s: not in telegram.allow\n", who)
		answer("not allowed here")
		return
	}
	action, id, _ := strings.Cut(p.Data, ":")
	job, ok := "", false
	if c.Incidents != nil {
		job, ok = c.Incidents.Incident(id)
	}
	if !ok {
		answer("this incident is resolved")
		return
	}
	d := c.Daemon
	control := func(command, doing string) {
		answer(doing + " " + job)
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if _, err := d.Control(ctx, job, command); err != nil {
			c.say(ctx, p, fmt.Sprintf("❌ %s %s: %v", command, job, err))
		}
	}
	fmt.Fprintf(c.Stderr, "supervise: telegram commands: button %q for %s from %s\n", p.Data, job, who)
	switch action {
	case "r":
		control(supervisor.CommandRestart, "restarting")
	case "s":
		control(supervisor.CommandStop, "stopping")
	case "m": // answered first: the mute waits for the notifier, which may be sending
		answer("muted " + job + " for 1h")
		c.Incidents.Mute(job, time.Now().Add(muteFor))
	case "u":
		answer("unmuted " + job)
		c.Incidents.Mute(job, time.Time{})
	case "l":
		answer("sending the log of " + job)
		c.sendLog(ctx, p, job)
	default:
		answer("this button is not one of supervise's")
	}
}

// sendLog sends the end of job's log, as much as LastLines gives
// (supervisor.MaxLines), as a document to the chat the press came from.
func (c *Commands) sendLog(ctx context.Context, p notifier.Press, job string) {
	last, err := c.Daemon.LastLines(job, supervisor.MaxLines)
	switch {
	case err != nil:
		c.say(ctx, p, fmt.Sprintf("❌ the log of %s: %v", job, err))
		return
	case len(last) == 0:
		c.say(ctx, p, fmt.Sprintf("%s has written nothing since up started", job))
		return
	}
	doc := notifier.Document{Name: job + "-" + time.Now().Format("20060102-150405") + ".log", Content: last, ThreadID: p.ThreadID}
	if err := c.Bot.SendDocument(ctx, fmt.Sprint(p.ChatID), doc); err != nil {
		fmt.Fprintf(c.Stderr, "supervise: telegram commands: sending the log of %s: %v\n", job, err)
	}
}

// say writes text to the chat (and topic) of a press.
func (c *Commands) say(ctx context.Context, p notifier.Press, text string) {
	if err := c.Bot.Reply(ctx, notifier.Command{ChatID: p.ChatID, ThreadID: p.ThreadID}, html.EscapeString(text)); err != nil {
		fmt.Fprintf(c.Stderr, "supervise: telegram commands: %v\n", err)
	}
}
