package notifier_test

import (
	"context"
	"testing"
	"time"

	"github.com/supervise/supervise/notifier"
	"github.com/supervise/supervise/supervisor"
)

// backupFailed is an event with output that HTML would have to escape.
var backupFailed = supervisor.Event{
	Kind:        supervisor.KindFailure,
	Job:         "backup",
	Host:        "db1",
	Command:     "pg_dump db | gzip > /tmp/db.gz",
	Start:       time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC),
	Duration:    2 * time.Minute,
	ExitCode:    1,
	Output:      []byte("pg_dump: error: connection to server failed: <no route> & more\n"),
	OutputLines: 1,
	Notify:      supervisor.Notify{Tail: 40},
}

func TestConsoleNotify(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	p := notifier.NewForTest(&buf, nil, 0, notifier.Options{})
	if err := p.Notify(context.Background(), backupFailed); err != nil {
		t.Fatal(err)
	}
	p.Close(context.Background())
	want := "supervise: notification (no Telegram bot configured):\n" + notifier.Text(backupFailed) + "\n\n"
	if got := buf.String(); got != want {
		t.Errorf("Console wrote\n%s\nwant\n%s", got, want)
	}
}
