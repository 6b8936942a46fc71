package notifier

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/supervise/supervise/supervisor"
)

// consoleHeader opens every notification written to a terminal, so it stands out
// among the job's own output and says why it is not on Telegram.
const consoleHeader = "supervise: notification (no Telegram bot configured):"

// console writes messages as plain text to w, standard error in production. It is
// the end of the pipeline when no Telegram bot is configured, so that every example
// works on a fresh machine: no pace, no spool, every message whole.
type console struct {
	w      io.Writer
	header string // consoleHeader, unless another reason keeps messages off Telegram
}

func (c console) send(_ context.Context, ds []delivery) error {
	var err error
	for _, d := range ds {
		err = errors.Join(err, writeNotice(c.w, c.header, d.text()))
	}
	return err
}

// NewConsole returns a pipeline, running, that writes messages to opts.Stderr whole,
// each under a header that says why they are not on Telegram: for a bot whose
// settings are broken, where a job must run all the same.
func NewConsole(opts Options, why string) *Pipeline {
	p := newPipeline(console{w: opts.Stderr, header: "supervise: notification (" + why + "):"}, nil, opts)
	p.begin()
	return p
}

func (console) flush(context.Context) error                 { return errNoSpool }
func (console) pace(supervisor.Destination) time.Duration   { return 0 }
func (console) status() (DeliveryStatus, bool)              { return DeliveryStatus{}, false }
func (console) redact(ev supervisor.Event) supervisor.Event { return ev }
func (console) edits() bool                                 { return false }

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

// silent is the end of the pipeline when Alertmanager alone is configured: the
// incidents go there as alerts, and the messages nowhere.
type silent struct{}

func (silent) send(context.Context, []delivery) error      { return nil }
func (silent) flush(context.Context) error                 { return errNoSpool }
func (silent) pace(supervisor.Destination) time.Duration   { return 0 }
func (silent) status() (DeliveryStatus, bool)              { return DeliveryStatus{}, false }
func (silent) redact(ev supervisor.Event) supervisor.Event { return ev }
func (silent) edits() bool                                 { return false }
