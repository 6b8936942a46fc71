package control

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/supervise/supervise/notifier"
	"github.com/supervise/supervise/supervisor"
)

// Commands answers Telegram commands to a running up: /status, /restart JOB and
// /logs JOB [N], from the chats in Allow only. Everything else is ignored and logged.
// It reads the bot's updates with getUpdates, which only one program per bot may do.
type Commands struct {
	Bot     *notifier.Telegram
	Allow   map[int64]bool // chat ids
	Daemon  *supervisor.Daemon
	Started time.Time // when up started
	Stderr  io.Writer

	// Delivery says how the notifier fares, for /status; nil for nothing.
	Delivery func() (notifier.DeliveryStatus, bool)
	// Incidents answers the buttons under incidents' messages; nil for none.
	Incidents Incidents

	// Wait is how long one poll waits for a message; zero means notifier.MaxPollWait.
	Wait time.Duration
}

// logLines is how many lines /logs shows by default, and maxLogLines the most.
const (
	logLines    = 20
	maxLogLines = 200
)

// maxArg is how much of an argument an answer quotes: job names are short.
const maxArg = 100

// stale is how old a command may be and still be done: one sent while up was down is
// not done when it comes back, perhaps hours later.
const stale = 2 * time.Minute

// sayAgain is how long a problem with polling is not said again: two pollers of one
// bot end each other's requests every few seconds.
const sayAgain = 10 * time.Minute

// Run polls for commands until ctx is done. A problem with polling (another poller,
// a webhook, a refused token, the network) is said on stderr, at most every
// sayAgain, and polling goes on with a growing wait, so the commands come back once
// the problem is gone.
func (c *Commands) Run(ctx context.Context) {
	wait := c.Wait
	if wait == 0 {
		wait = notifier.MaxPollWait
	}
	username := ""
	var offset int64
	said := map[string]time.Time{} // when each problem was said, within sayAgain
	problem := ""                  // the problem of the last poll
	say := func(what string) {
		if at, ok := said[what]; ok && time.Since(at) <= sayAgain {
			return
		}
		fmt.Fprintf(c.Stderr, "supervise: telegram commands: %s\n", what)
		now := time.Now()
		for w, at := range said { // forgotten once they may be said again
			if now.Sub(at) > sayAgain {
				delete(said, w)
			}
		}
		said[what] = now
	}
	backoff := time.Second
	for ctx.Err() == nil {
		if username == "" {
			name, err := c.Bot.Username(ctx)
			if err == nil {
				username = name
			} else if ctx.Err() == nil {
				problem = fmt.Sprintf("cannot ask Telegram for the bot's name: %v; trying again", err)
				say(problem)
				backoff = c.pause(ctx, backoff)
				continue
			}
		}
		cmds, presses, next, err := c.Bot.Poll(ctx, offset, wait)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			problem = pollProblem(err) + "; trying again"
			say(problem)
			backoff = c.pause(ctx, backoff)
			continue
		}
		if problem != "" {
			say("polling again")
			problem, backoff = "", time.Second
		}
		offset = next
		for _, cmd := range cmds {
			c.handle(ctx, cmd, username)
		}
		for _, p := range presses {
			c.press(ctx, p)
		}
	}
}

// pollProblem says what a failed poll means for the user.
func pollProblem(err error) string {
	switch {
	case errors.Is(err, notifier.ErrOtherPoller):
		return "another program is reading this bot's updates (409: terminated by other getUpdates request): " +
			"only one may, so commands work only while it is stopped; another supervise up with commands = true, " +
			"or a bot program using the same token, is the usual cause"
	case errors.Is(err, notifier.ErrWebhookSet):
		return "the bot has a webhook, and Telegram sends its updates there instead (409): " +
			"delete it (deleteWebhook) for commands to work"
	}
	return err.Error()
}

// pause waits about backoff, or until ctx is done, and returns the next backoff,
// doubled up to 5 minutes.
func (c *Commands) pause(ctx context.Context, backoff time.Duration) time.Duration {
	t := time.NewTimer(backoff/2 + rand.N(backoff/2+1))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	return min(2*backoff, 5*time.Minute)
}

// handle does one command, if it comes from an allowed chat and is for this bot.
func (c *Commands) handle(ctx context.Context, cmd notifier.Command, username string) {
	who := fmt.Sprintf("chat %d", cmd.ChatID)
	if cmd.From != "" {
		who += " (" + cmd.From + ")"
	}
	words := strings.Fields(cmd.Text)
	if len(words) == 0 || !strings.HasPrefix(words[0], "/") {
		fmt.Fprintf(c.Stderr, "supervise: telegram commands: ignored a message from %s: not a command\n", who)
		return
	}
	name, bot, named := strings.Cut(words[0][1:], "@")
	if named && !strings.EqualFold(bot, username) {
		return // for another bot in the group: not ours to answer, or to log
	}
	if !c.allowed(cmd.ChatID, cmd.UserID) {
		fmt.Fprintf(c.Stderr, "supervise: telegram commands: ignored /%s from %s: the chat is not in telegram.allow\n",
			name, who)
		return
	}
	if cmd.Date.Before(time.Now().Add(-stale)) {
		fmt.Fprintf(c.Stderr, "supervise: telegram commands: ignored /%s from %s: sent at %s, while supervise was not running\n",
			name, who, cmd.Date.Format(time.DateTime))
		return
	}
	fmt.Fprintf(c.Stderr, "supervise: telegram commands: /%s from %s\n", strings.Join(append([]string{name}, words[1:]...), " "), who)
	answer := c.answer(ctx, name, words[1:])
	if err := c.Bot.Reply(ctx, cmd, answer); err != nil {
		fmt.Fprintf(c.Stderr, "supervise: telegram commands: answering /%s: %v\n", name, err)
	}
}

// answer does the command name with args and says how it went, as HTML.
func (c *Commands) answer(ctx context.Context, name string, args []string) string {
	d := c.Daemon
	for i, a := range args {
		if len([]rune(a)) > maxArg { // quoted in the answer, which must fit a message
			args[i] = string([]rune(a)[:maxArg]) + "…"
		}
	}
	switch name {
	case "status":
		var b bytes.Buffer
		WriteStatus(&b, statusOf(d, c.Started, c.Delivery, c.Incidents), 0, time.Now())
		return notifier.Preformatted("status of "+d.Host, b.String())
	case "restart":
		if len(args) != 1 {
			return html.EscapeString("usage: /restart JOB")
		}
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		note, err := d.Control(ctx, args[0], supervisor.CommandRestart)
		switch {
		case err != nil:
			return html.EscapeString(fmt.Sprintf("❌ /restart %s: %v", args[0], err))
		case note != "":
			return html.EscapeString(fmt.Sprintf("%s on %s: %s", args[0], d.Host, note))
		}
		return html.EscapeString(fmt.Sprintf("🔁 %s restarted on %s", args[0], d.Host))
	case "logs":
		if len(args) < 1 || len(args) > 2 {
			return html.EscapeString("usage: /logs JOB [LINES]")
		}
		n := logLines
		if len(args) == 2 {
			v, err := strconv.Atoi(args[1])
			if err != nil || v < 1 {
				return html.EscapeString("usage: /logs JOB [LINES]")
			}
			n = min(v, maxLogLines)
		}
		last, err := d.LastLines(args[0], n)
		if err != nil {
			return html.EscapeString(fmt.Sprintf("❌ /logs %s: %v", args[0], err))
		}
		return notifier.Preformatted(fmt.Sprintf("%s on %s: its last %d lines", args[0], d.Host, n), string(last))
	}
	return html.EscapeString("commands: /status, /restart JOB, /logs JOB [LINES]")
}
