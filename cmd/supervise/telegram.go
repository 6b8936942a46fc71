package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/supervise/supervise/notifier"
	"github.com/supervise/supervise/supervisor"
)

// chatsTimeout bounds `supervise telegram chats`, retries included. A variable for tests.
var chatsTimeout = 30 * time.Second

// cmdTelegram is `supervise telegram SUBCOMMAND`, tools for setting up the bot, when
// the subcommand is not one: realMain finds `supervise telegram chats` itself.
func cmdTelegram(_ context.Context, args []string, _ stdio) error {
	fs := newFlagSet("telegram", `  chats   list the chats that wrote to the bot or added it, with the id that
          SUPERVISE_TELEGRAM_CHAT_ID takes

The bot is the one SUPERVISE_TELEGRAM_TOKEN (or SUPERVISE_TELEGRAM_TOKEN_FILE)
names; SUPERVISE_TELEGRAM_API_URL, if set, is the Bot API server to ask.
`, "telegram chats")
	if err := fs.parse(args); err != nil {
		return err
	}
	switch sub := fs.Arg(0); sub {
	case "":
		return fs.usageErrorf("no subcommand given")
	case "help":
		return fs.usageError(flag.ErrHelp)
	default:
		return fs.usageErrorf("unknown subcommand %q", sub)
	}
}

// cmdTelegramChats is `supervise telegram chats`. It lists the chats on stdout, one a
// line, and its advice on stderr, so that the list alone can be piped. It exits 0
// when Telegram answered, even with no chats; 1 when it did not or refused; 2 for a
// usage or configuration error.
func cmdTelegramChats(ctx context.Context, args []string, std stdio) error {
	stdout, stderr := std.out, std.errOut
	fs := newFlagSet("telegram chats", `Lists the chats that wrote to the bot, or added it, in the updates Telegram holds
for it (those of the last 24 hours), one a line, the newest last:

  ID  TYPE  NAME  [topics: ID ("NAME"), ...]

The updates are left unread, so other programs still get them and this can be run
again. Exit status: 0 when Telegram answered, 1 when it did not, 2 for a usage or
configuration error.
`, "telegram chats")
	if err := fs.parseNoArgs(args); err != nil {
		return err
	}

	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		return &configError{err}
	}
	tg, err := notifier.BotFromConfig(cfg, os.Getenv)
	if errors.Is(err, notifier.ErrNoToken) {
		path, _ := configPath(os.Getenv)
		return &configError{fmt.Errorf(`no bot token is set.
Create a bot: in Telegram, write /newbot to @BotFather, which answers with its token. Then
  export %s='123456:ABC-def...'
(or put the token in a file and set %s to its path, or token_file under [telegram]
in %s), and run this again.`, notifier.EnvToken, notifier.EnvTokenFile, path)}
	}
	if err != nil {
		return &configError{err}
	}
	tg.MaxWait = chatsTimeout
	ctx, cancel := context.WithTimeout(ctx, chatsTimeout)
	defer cancel()

	chats, err := tg.Chats(ctx)
	if err != nil {
		return errors.New(chatsError(err, cfg, os.Getenv))
	}
	if len(chats) == 0 {
		fmt.Fprint(stderr, `No chat has written to this bot in the last 24 hours.
Write any message to the bot in Telegram (or add it to a group and write there), then run this again.
`+privacyHint+otherPollerHint)
		return nil
	}

	tw := tabwriter.NewWriter(stdout, 0, 8, 2, ' ', 0)
	for _, c := range chats {
		fmt.Fprintf(tw, "%d\t%s\t%s", c.ID, printable(c.Type), chatName(c))
		if notes := chatNotes(c); notes != "" {
			fmt.Fprintf(tw, "\t%s", notes)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()

	fmt.Fprintf(stderr, "\nSet %s to the chat's id, e.g.\n  export %s=%d\n", notifier.EnvChatID, notifier.EnvChatID, exampleID(chats))
	file := "the config file"
	if path, _ := configPath(os.Getenv); path != "" {
		file = path
	}
	fmt.Fprintf(stderr, "or, in %s:\n  [telegram]\n  chat_id = %d\n", file, exampleID(chats))
	if !anyGroup(chats) {
		fmt.Fprint(stderr, noGroupHint)
	}
	return nil
}

const (
	privacyHint = "In a group with privacy mode on (the default), a bot sees only commands for it " +
		"(/start@your_bot) and messages that mention it.\n"
	noGroupHint = "No group here? A group shows up when the bot is added to it, or when someone there sends\n" +
		"the bot a command (/start@your_bot) or mentions it: in privacy mode (the default), a bot sees no other group messages.\n"
	otherPollerHint = "A program that reads this bot's updates (getUpdates) takes them first: stop it while you run this.\n"
)

// chatsError words an error of Chats for someone setting up the bot, with the config
// file cfg and getenv that configured it. The error is the client's, from which the
// token is already redacted.
func chatsError(err error, cfg *supervisor.Config, getenv func(string) string) string {
	var apiErr *notifier.APIError
	errors.As(err, &apiErr)
	switch {
	case errors.Is(err, notifier.ErrWebhookSet):
		return fmt.Sprintf("this bot has a webhook set; getUpdates does not work while it is: %v\n"+
			"The program behind the webhook gets the bot's messages, and the chat ids with them; "+
			"if nothing uses the webhook any more, delete it (Bot API method deleteWebhook) and run this again.", err)
	case errors.Is(err, notifier.ErrOtherPoller):
		return fmt.Sprintf("another program is reading this bot's updates right now: %v\n%s", err, strings.TrimSuffix(otherPollerHint, "\n"))
	case apiErr != nil && apiErr.Code == http.StatusUnauthorized:
		_, from := notifier.Lookup(cfg, getenv, notifier.EnvToken)
		if file, fileFrom := notifier.Lookup(cfg, getenv, notifier.EnvTokenFile); file != "" {
			from = fileFrom
		}
		return fmt.Sprintf("Telegram does not accept the bot token in %s (%v): "+
			"@BotFather's /mybots shows the bot's current token", from, err)
	case apiErr != nil && apiErr.Code == http.StatusNotFound:
		if base, from := notifier.Lookup(cfg, getenv, notifier.EnvAPIURL); base != "" {
			return fmt.Sprintf("%v (is %s a Bot API server?)", err, from)
		}
	}
	return err.Error()
}

// chatName is a chat's name as a user knows it: "Title", @username (First Last).
func chatName(c notifier.Chat) string {
	var parts []string
	if c.Title != "" {
		parts = append(parts, strconv.Quote(c.Title))
	}
	if c.Username != "" {
		parts = append(parts, "@"+printable(c.Username))
	}
	if name := printable(strings.TrimSpace(c.FirstName + " " + c.LastName)); name != "" {
		if len(parts) > 0 {
			name = "(" + name + ")"
		}
		parts = append(parts, name)
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

// chatNotes is what more there is to know about sending to c.
func chatNotes(c notifier.Chat) string {
	var notes []string
	if len(c.Topics) > 0 {
		topics := make([]string, len(c.Topics))
		for i, t := range c.Topics {
			topics[i] = strconv.FormatInt(t.ID, 10)
			if t.Name != "" {
				topics[i] += " (" + strconv.Quote(t.Name) + ")"
			}
		}
		notes = append(notes, "topics: "+strings.Join(topics, ", "))
	}
	if c.MigratedTo != 0 {
		notes = append(notes, fmt.Sprintf("now the supergroup %d: use that id", c.MigratedTo))
	}
	if c.Removed {
		if c.Type == "private" {
			notes = append(notes, "the user blocked the bot")
		} else {
			notes = append(notes, "the bot was removed")
		}
	}
	return strings.Join(notes, "; ")
}

// exampleID is the id of the chat most likely wanted: the newest the bot can send to.
func exampleID(chats []notifier.Chat) int64 {
	for i := len(chats) - 1; i >= 0; i-- {
		switch c := chats[i]; {
		case c.MigratedTo != 0:
			return c.MigratedTo
		case !c.Removed:
			return c.ID
		}
	}
	return chats[len(chats)-1].ID
}

func anyGroup(chats []notifier.Chat) bool {
	for _, c := range chats {
		if c.Type == "group" || c.Type == "supergroup" {
			return true
		}
	}
	return false
}

// printable drops what a terminal would act on rather than show: control
// characters, escape sequences' starts, direction overrides.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return -1
	}, s)
}
