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
		control.WriteStatus(stdout, st, terminalWidth(stdout), time.Now())
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
