package notifier

import (
	"context"
	"io"
	"strings"

	"github.com/supervise/supervise/supervisor"
)

// consoleHeader opens every notification written to a terminal, so it stands out
// among the job's own output and says why it is not on Telegram.
const consoleHeader = "supervise: notification (no Telegram bot configured):"

// Console writes notifications as plain text to W, standard error in production. It
// is the notifier when no Telegram bot is configured, so that every example works on
// a fresh machine.
type Console struct {
	W io.Writer
}

// Notify writes ev to c.W under a header line.
func (c Console) Notify(ctx context.Context, ev supervisor.Event) error {
	return writeNotice(c.W, consoleHeader, Text(ev))
}

// writeNotice writes a header line, then text, then a blank line, in a single Write:
// notifications about jobs that end together then do not interleave line by line.
func writeNotice(w io.Writer, header, text string) error {
	var b strings.Builder
	b.WriteString(header)
	b.WriteString("\n")
	b.WriteString(strings.TrimRight(text, "\n"))
	b.WriteString("\n\n")
	_, err := io.WriteString(w, b.String())
	return err
}
