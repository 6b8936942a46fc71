package control

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/supervise/supervise/notifier"
)

// WriteStatus writes the jobs as a table that fits in width columns (0 for any),
// dropping the columns that matter least until it does, then the notifier's health.
func WriteStatus(w io.Writer, st Status, width int, now time.Time) {
	header := []string{"JOB", "STATE", "LAST EXIT", "PID", "UPTIME", "RESTARTS", "NEXT RUN", "HEARTBEAT"}
	rows := [][]string{header}
	for _, j := range st.Jobs {
		row := []string{j.Name, j.State, "-", "-", "-", strconv.Itoa(j.Restarts), "-", "-"}
		if until, ok := st.Muted[j.Name]; ok && until.After(now) {
			row[1] += ", muted " + short(until.Sub(now))
		}
		if j.LastExit != "" {
			row[2] = j.LastExit + ", " + ago(now, j.LastExitAt)
		}
		if j.PID > 0 {
			row[3], row[4] = strconv.Itoa(j.PID), short(now.Sub(j.Since))
		}
		if !j.NextRun.IsZero() {
			row[6] = "in " + short(j.NextRun.Sub(now))
		}
		if !j.Heartbeat.IsZero() {
			row[7] = ago(now, j.Heartbeat) + " (" + j.HeartbeatBy + ")"
		}
		rows = append(rows, row)
	}
	// Widest first, then drop from the right while it does not fit: the heartbeat,
	// the next run, and so on; the job and its state always stay.
	widths := make([]int, len(header))
	for _, r := range rows {
		for i, cell := range r {
			widths[i] = max(widths[i], len([]rune(cell)))
		}
	}
	cols := len(header)
	total := func(n int) int {
		t := 0
		for _, wd := range widths[:n] {
			t += wd + 2
		}
		return t - 2
	}
	for width > 0 && cols > 2 && total(cols) > width {
		cols--
	}
	for _, r := range rows {
		var b strings.Builder
		for i, cell := range r[:cols] {
			b.WriteString(cell)
			if i < cols-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-len([]rune(cell))+2))
			}
		}
		fmt.Fprintln(w, b.String())
	}
	if len(st.Jobs) == 0 {
		fmt.Fprintln(w, "(no jobs)")
	}
	d := st.Delivery
	if d == nil {
		fmt.Fprintln(w, "\nnotifier: standard error (no Telegram bot configured)")
		return
	}
	fmt.Fprintln(w)
	if d.Telegram || d.Alertmanager == nil { // a status from before Alertmanager has no Telegram field
		writeTelegram(w, d, now)
	}
	if am := d.Alertmanager; am != nil {
		line := "notifier: Alertmanager"
		if !am.LastPost.IsZero() {
			line += "; last post " + ago(now, am.LastPost)
		} else {
			line += "; nothing posted yet"
		}
		line += fmt.Sprintf("; %d firing; %d waiting to be posted", am.Firing, am.Waiting)
		fmt.Fprintln(w, line)
		if am.LastError != "" && am.LastErrorAt.After(am.LastPost) {
			fmt.Fprintf(w, "  last error, %s: %s\n", ago(now, am.LastErrorAt), am.LastError)
		}
	}
}

// writeTelegram writes how Telegram's deliveries fare.
func writeTelegram(w io.Writer, d *notifier.DeliveryStatus, now time.Time) {
	line := "notifier: Telegram"
	if !d.LastDelivery.IsZero() {
		line += "; last delivery " + ago(now, d.LastDelivery)
	} else {
		line += "; nothing delivered yet"
	}
	line += fmt.Sprintf("; %d waiting in the spool", d.Spooled)
	fmt.Fprintln(w, line)
	if d.LastError != "" {
		fmt.Fprintf(w, "  last error, %s: %s\n", ago(now, d.LastErrorAt), d.LastError)
	}
	for _, p := range d.Permanent {
		fmt.Fprintf(w, "  not delivering until the configuration is fixed: %s\n", p)
	}
}

// ago says how long before now t was: "5s ago".
func ago(now, t time.Time) string { return short(now.Sub(t)) + " ago" }

// short writes d in its two largest units: "45s", "3m20s", "2h5m", "3d4h".
func short(d time.Duration) string {
	d = max(d, 0).Round(time.Second)
	switch {
	case d < time.Minute:
		return d.String()
	case d < time.Hour:
		return fmt.Sprintf("%dm%ds", d/time.Minute, d%time.Minute/time.Second)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%dm", d/time.Hour, d%time.Hour/time.Minute)
	}
	return fmt.Sprintf("%dd%dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
}
