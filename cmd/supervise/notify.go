package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/supervise/supervise/notifier"
	"github.com/supervise/supervise/supervisor"
)

// maxNotifyText bounds what `supervise notify -` reads: a message is at most 4096
// characters, and the rest could only be cut.
const maxNotifyText = 64 << 10

// cmdNotify is `supervise notify [--job J] TEXT`: send a message through the
// configured notifier, for a job that needs a human for a manual step or has a result
// to check; `supervise notify --test` checks the whole way to the chat.
func cmdNotify(ctx context.Context, args []string, std stdio) error {
	stdout, stderr := std.out, std.errOut
	fs := newFlagSet("notify", "TEXT - reads the text from stdin.\n", "notify [--job JOB] TEXT...", "notify --test")
	job := fs.String("job", os.Getenv("SUPERVISE_JOB"), "the `job` the message is about (default $SUPERVISE_JOB, as inside a job)")
	test := fs.Bool("test", false, "send a test message and say whether it arrived")
	state := stateFlag(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	text := strings.Join(fs.Args(), " ")
	switch {
	case *test && text != "":
		return fs.usageErrorf("--test sends its own message; give no TEXT")
	case !*test && strings.TrimSpace(text) == "":
		return fs.usageErrorf("no text given")
	case text == "-":
		b, err := io.ReadAll(io.LimitReader(std.in, maxNotifyText))
		if err != nil {
			return fmt.Errorf("read stdin: %w", err)
		}
		if text = strings.TrimSpace(string(b)); text == "" {
			return fs.usageErrorf("stdin is empty: nothing to send")
		}
	}
	if *job != "" {
		if err := supervisor.CheckName(*job); err != nil {
			return fs.usageErrorf("--job: %w", err)
		}
	}
	host, _ := os.Hostname()
	cfg, n, err := newPipeline(stderr, stateDir(*state, os.Getenv), notifier.Options{Host: host})
	if err != nil {
		return &configError{err}
	}
	ev := supervisor.Event{Kind: supervisor.KindMessage, Job: *job, Host: host, Note: text}
	if *job == "" {
		ev.Job = "supervise"
	}
	if *test {
		ev.Note = fmt.Sprintf("A test of supervise %s: this chat gets its alerts.", version())
	}
	path, _ := configPath(os.Getenv)
	if n.AlertsOnly() && !*test {
		// Alertmanager takes incidents, which have a state and an end; a message has
		// neither. Said, with the text, rather than dropped.
		n.Close(ctx)
		return fmt.Errorf("not sent: no Telegram bot is configured, and Alertmanager, the only destination in %s, takes alerts, not messages (set %s and %s, or [telegram] in %s); the message was:\n%s",
			path, notifier.EnvToken, notifier.EnvChatID, path, ev.Note)
	}
	if !n.AlertsOnly() {
		n.Emit(ev)
	}
	if err := n.Close(ctx); err != nil {
		// The notifier has said why on stderr, with the message and where it waits.
		return exitStatus(exitFail)
	}
	if !*test {
		return nil
	}
	switch {
	case n.Console():
		fmt.Fprintf(stdout, "no Telegram bot is configured: the message went to standard error (set %s and %s, or [telegram] in %s)\n",
			notifier.EnvToken, notifier.EnvChatID, path)
	case !n.AlertsOnly():
		fmt.Fprintf(stdout, "sent: %s got the test message\n", recipients(cfg))
	}
	// With Alertmanager, a test alert, which its route takes to its receivers.
	tctx, cancel := context.WithTimeout(ctx, n.Timeout())
	defer cancel()
	where, err := n.TestAlert(tctx, ev.Note)
	switch {
	case err != nil:
		fmt.Fprintf(std.errOut, "supervise notify: the test alert was not taken: %v\n", err)
		return exitStatus(exitFail)
	case where != "":
		fmt.Fprintf(stdout, "sent: %s took the test alert (SuperviseTest, which it resolves by itself in 5m)\n", where)
	}
	return nil
}

// recipients names the chats that a message without chats of its own goes to: the
// default chat, or else the config file's default destinations.
func recipients(cfg *supervisor.Config) string {
	if chat, _ := notifier.Lookup(cfg, os.Getenv, notifier.EnvChatID); chat != "" || cfg == nil {
		return "chat " + chat
	}
	chats := make([]string, len(cfg.Destinations))
	for i, d := range cfg.Destinations {
		chats[i] = d.ChatID
		if d.ThreadID != 0 {
			chats[i] += fmt.Sprintf(" (topic %d)", d.ThreadID)
		}
	}
	return "chats " + strings.Join(chats, ", ")
}
