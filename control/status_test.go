package control_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/supervise/supervise/control"
	"github.com/supervise/supervise/supervisor"
)

// The table drops its rightmost columns until it fits the width; the job and its
// state always stay.
func TestWriteStatusFitsWidth(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	st := control.Status{Jobs: []supervisor.JobStatus{
		{Name: "web", State: supervisor.StateRunning, PID: 4242, Since: now.Add(-90 * time.Second),
			LastExit: "exit 1", LastExitAt: now.Add(-time.Hour), Heartbeat: now.Add(-3 * time.Second), HeartbeatBy: "ping"},
		{Name: "nightly-backup", State: supervisor.StateScheduled, NextRun: now.Add(15 * time.Hour)},
	}}
	for _, tc := range []struct {
		width      int
		has, lacks []string
	}{
		{0, []string{"HEARTBEAT", "3s ago (ping)", "in 15h0m", "1m30s", "exit 1, 1h0m ago"}, nil},
		{60, []string{"LAST EXIT", "PID", "4242"}, []string{"HEARTBEAT", "NEXT RUN"}},
		{10, []string{"nightly-backup  scheduled"}, []string{"LAST EXIT"}},
	} {
		var b bytes.Buffer
		control.WriteStatus(&b, st, tc.width, now)
		table, _, _ := strings.Cut(b.String(), "\n\n")
		for _, line := range strings.Split(table, "\n") {
			if tc.width >= 60 && len([]rune(line)) > tc.width {
				t.Errorf("width %d: %q is %d wide", tc.width, line, len([]rune(line)))
			}
		}
		for _, want := range tc.has {
			if !strings.Contains(table, want) {
				t.Errorf("width %d: no %q in\n%s", tc.width, want, table)
			}
		}
		for _, not := range tc.lacks {
			if strings.Contains(table, not) {
				t.Errorf("width %d: %q should have been dropped:\n%s", tc.width, not, table)
			}
		}
	}
}
