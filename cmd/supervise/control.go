package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/supervise/supervise/control"
)

// socketFlag defines --socket on fs, for up and the commands that talk to it.
func socketFlag(fs *flag.FlagSet) *string {
	return fs.String("socket", "", "`path` of up's control socket (default STATE/supervise.sock)")
}

// socketPath is --socket if given, else supervise.sock in the state folder.
func socketPath(socket, state string) string {
	if socket != "" {
		return socket
	}
	return filepath.Join(stateDir(state, os.Getenv), "supervise.sock")
}

// controlCommand is status, start, stop, restart, reload and logs: each asks the
// running up over its control socket, and exits 1 when it is not running.
func controlCommand(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("supervise "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	state := stateFlag(fs)
	socket := socketFlag(fs)
	asJSON := fs.Bool("json", false, "print the status as JSON, for scripts (status)")
	lines := fs.Int("n", 10, "how many of the last `lines` to print (logs)")
	follow := fs.Bool("f", false, "follow: print what the job writes until interrupted (logs)")
	names, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	switch {
	case (cmd == "status" || cmd == "reload") && len(names) > 0:
		fmt.Fprintf(stderr, "supervise %s: unexpected argument %q\n", cmd, names[0])
		return exitUsage
	case (cmd == "start" || cmd == "stop" || cmd == "restart") && len(names) == 0:
		fmt.Fprintf(stderr, "supervise %s: no job given: supervise %s JOB...\n", cmd, cmd)
		return exitUsage
	case cmd == "logs" && len(names) != 1:
		fmt.Fprintln(stderr, "supervise logs: give one job: supervise logs JOB [-n N] [-f]")
		return exitUsage
	case *lines < 0:
		fmt.Fprintf(stderr, "supervise %s: -n %d: want 0 or more lines\n", cmd, *lines)
		return exitUsage
	}
	c := control.NewClient(socketPath(*socket, *state))
	ctx, cancel := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer cancel()

	failed := func(err error) int {
		fmt.Fprintf(stderr, "supervise %s: %v\n", cmd, err)
		return exitFail
	}
	switch cmd {
	case "status":
		st, err := c.Status(ctx)
		if err != nil {
			return failed(err)
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			enc.Encode(st)
			return exitOK
		}
		printStatus(stdout, st, terminalWidth(stdout), time.Now())
		return exitOK
	case "reload":
		r, err := c.Reload(ctx)
		if err != nil {
			return failed(err)
		}
		fmt.Fprintf(stdout, "reloaded: %d jobs\n", r.Jobs)
		for _, b := range r.Broken {
			fmt.Fprintf(stderr, "supervise reload: not loaded, runs on as it was: %s\n", b)
		}
		if len(r.Broken) > 0 {
			return exitFail
		}
		return exitOK
	case "logs":
		if err := c.Logs(ctx, names[0], *lines, *follow, stdout); err != nil {
			return failed(err)
		}
		return exitOK
	}
	status := exitOK
	done := map[string]string{"start": "started", "stop": "stopped", "restart": "restarted"}[cmd]
	for _, name := range names {
		note, err := c.Command(ctx, name, cmd)
		switch {
		case errors.Is(err, control.ErrNotRunning):
			return failed(err)
		case err != nil:
			fmt.Fprintf(stderr, "supervise %s: %v\n", cmd, err)
			status = exitFail
		case note != "":
			fmt.Fprintf(stdout, "%s: %s\n", name, note)
		default:
			fmt.Fprintf(stdout, "%s: %s\n", name, done)
		}
	}
	return status
}

// parseInterleaved parses flags that come before, between or after the arguments, as
// in `supervise logs web -f`, and returns the arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var names []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return names, nil
		}
		if args[0] == "--" {
			return append(names, args[1:]...), nil
		}
		names, args = append(names, args[0]), args[1:]
	}
}

// printStatus writes the jobs as a table that fits in width columns (0 for any),
// dropping the columns that matter least until it does, then the notifier's health.
func printStatus(w io.Writer, st control.Status, width int, now time.Time) {
	header := []string{"JOB", "STATE", "LAST EXIT", "PID", "UPTIME", "RESTARTS", "NEXT RUN", "HEARTBEAT"}
	rows := [][]string{header}
	for _, j := range st.Jobs {
		row := []string{j.Name, j.State, "-", "-", "-", strconv.Itoa(j.Restarts), "-", "-"}
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
	line := "\nnotifier: Telegram"
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

// terminalWidth is the width of the terminal w is, or $COLUMNS, or 0 (no limit).
func terminalWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		var ws struct{ rows, cols, x, y uint16 }
		_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), syscall.TIOCGWINSZ, uintptr(unsafe.Pointer(&ws)))
		if errno == 0 && ws.cols > 0 {
			return int(ws.cols)
		}
	}
	n, _ := strconv.Atoi(os.Getenv("COLUMNS"))
	return n
}
