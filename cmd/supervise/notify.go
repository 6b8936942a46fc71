package main

import (
	"context"
	"errors"
	"flag"
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

// notify is `supervise notify [--job J] TEXT`: send a message through the configured
// notifier, for a job that needs a human for a manual step or has a result to check;
// `supervise notify --test` checks the whole way to the chat.
func notify(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("supervise notify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	job := fs.String("job", os.Getenv("SUPERVISE_JOB"), "the `job` the message is about (default $SUPERVISE_JOB, as inside a job)")
	test := fs.Bool("test", false, "send a test message and say whether it arrived")
	state := stateFlag(fs)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: supervise notify [--job JOB] TEXT...   (TEXT - reads it from stdin)\n       supervise notify --test\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	text := strings.Join(fs.Args(), " ")
	switch {
	case *test && text != "":
		fmt.Fprintln(stderr, "supervise notify: --test sends its own message; give no TEXT")
		return exitUsage
	case !*test && strings.TrimSpace(text) == "":
		fs.Usage()
		return exitUsage
	case text == "-":
		b, err := io.ReadAll(io.LimitReader(stdin, maxNotifyText))
		if err != nil {
			fmt.Fprintf(stderr, "supervise notify: read stdin: %v\n", err)
			return exitFail
		}
		if text = strings.TrimSpace(string(b)); text == "" {
			fmt.Fprintln(stderr, "supervise notify: stdin is empty: nothing to send")
			return exitUsage
		}
	}
	if *job != "" {
		if err := supervisor.CheckName(*job); err != nil {
			fmt.Fprintf(stderr, "supervise notify: --job: %v\n", err)
			return exitUsage
		}
	}
	host, _ := os.Hostname()
	cfg, n, err := newNotifier(stderr, stateDir(*state, os.Getenv), notifier.Options{Host: host})
	if err != nil {
		fmt.Fprintf(stderr, "supervise notify: %v\n", err)
		return exitUsage
	}
	ev := supervisor.Event{Kind: supervisor.KindMessage, Job: *job, Host: host, Note: text}
	if *job == "" {
		ev.Job = "supervise"
	}
	if *test {
		ev.Note = fmt.Sprintf("A test of supervise %s: this chat gets its alerts.", version())
	}
	n.Emit(ev)
	if err := n.Close(ctx); err != nil {
		// The notifier has said why on stderr, with the message and where it waits.
		return exitFail
	}
	if *test {
		if n.Console() {
			path, _ := configPath(os.Getenv)
			fmt.Fprintf(stdout, "no Telegram bot is configured: the message went to standard error (set %s and %s, or [telegram] in %s)\n",
				notifier.EnvToken, notifier.EnvChatID, path)
		} else {
			fmt.Fprintf(stdout, "sent: %s got the test message\n", recipients(cfg))
		}
	}
	return exitOK
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
