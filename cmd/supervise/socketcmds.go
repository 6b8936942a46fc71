package main

import (
	"context"
	"errors"
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
func socketFlag(fs *flagSet) *string {
	return fs.String("socket", "", "`path` of up's control socket (default STATE/supervise.sock)")
}

// socketPath is --socket if given, else supervise.sock in the state folder.
func socketPath(socket, state string) string {
	if socket != "" {
		return socket
	}
	return filepath.Join(stateDir(state, os.Getenv), "supervise.sock")
}

// socketFlags defines --state and --socket on fs, for a command that talks to up
// over its control socket, and returns the client that finds the socket once fs is
// parsed.
func socketFlags(fs *flagSet) func() *control.Client {
	state := stateFlag(fs)
	socket := socketFlag(fs)
	return func() *control.Client { return control.NewClient(socketPath(*socket, *state)) }
}

// interruptible is ctx, ended also by SIGINT or SIGTERM: `logs -f` ends so, and a
// command waiting for an up that does not answer.
func interruptible(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
}

// cmdStatus is `supervise status`: the jobs of the running up. Like every command
// here, it exits 1 when up is not running.
func cmdStatus(ctx context.Context, args []string, std stdio) error {
	fs := newFlagSet("status", "", "status [--json]")
	client := socketFlags(fs)
	asJSON := fs.Bool("json", false, "print the status as JSON, for scripts")
	if err := fs.parseNoArgs(args); err != nil {
		return err
	}
	ctx, cancel := interruptible(ctx)
	defer cancel()
	if *asJSON {
		data, err := client().StatusJSON(ctx)
		if err != nil {
			return err
		}
		_, err = std.out.Write(data)
		return err
	}
	st, err := client().Status(ctx)
	if err != nil {
		return err
	}
	control.WriteStatus(std.out, st, terminalWidth(std.out), time.Now())
	return nil
}

// cmdStart is `supervise start JOB...`.
func cmdStart(ctx context.Context, args []string, std stdio) error {
	return jobCommand(ctx, "start", "started", args, std)
}

// cmdStop is `supervise stop JOB...`.
func cmdStop(ctx context.Context, args []string, std stdio) error {
	return jobCommand(ctx, "stop", "stopped", args, std)
}

// cmdRestart is `supervise restart JOB...`.
func cmdRestart(ctx context.Context, args []string, std stdio) error {
	return jobCommand(ctx, "restart", "restarted", args, std)
}

// jobCommand asks the running up to do verb to each job named in args, and says
// done of each it did. It goes on past a job it could not do, and exits 1 then.
func jobCommand(ctx context.Context, verb, done string, args []string, std stdio) error {
	fs := newFlagSet(verb, "", verb+" JOB...")
	client := socketFlags(fs)
	names, err := fs.parseInterleaved(args)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return fs.usageErrorf("no job given")
	}
	ctx, cancel := interruptible(ctx)
	defer cancel()
	c := client()
	var failed error
	for _, name := range names {
		note, err := c.Command(ctx, name, verb)
		switch {
		case errors.Is(err, control.ErrNotRunning):
			return err
		case err != nil:
			fmt.Fprintf(std.errOut, "supervise %s: %v\n", verb, err)
			failed = exitStatus(exitFail)
		case note != "":
			fmt.Fprintf(std.out, "%s: %s\n", name, note)
		default:
			fmt.Fprintf(std.out, "%s: %s\n", name, done)
		}
	}
	return failed
}

// cmdReload is `supervise reload`: the running up reads its job folder again.
func cmdReload(ctx context.Context, args []string, std stdio) error {
	fs := newFlagSet("reload", "", "reload")
	client := socketFlags(fs)
	if err := fs.parseNoArgs(args); err != nil {
		return err
	}
	ctx, cancel := interruptible(ctx)
	defer cancel()
	r, err := client().Reload(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(std.out, "reloaded: %d jobs\n", r.Jobs)
	for _, b := range r.Broken {
		fmt.Fprintf(std.errOut, "supervise reload: not loaded, runs on as it was: %s\n", b)
	}
	if len(r.Broken) > 0 {
		return exitStatus(exitFail)
	}
	return nil
}

// cmdLogs is `supervise logs JOB`: the job's last lines, and with -f what it writes
// from then on, until interrupted.
func cmdLogs(ctx context.Context, args []string, std stdio) error {
	fs := newFlagSet("logs", "", "logs [-n N] [-f] JOB")
	client := socketFlags(fs)
	lines := fs.Int("n", 10, "print the last `N` lines")
	follow := fs.Bool("f", false, "follow: print what the job writes until interrupted")
	names, err := fs.parseInterleaved(args)
	if err != nil {
		return err
	}
	switch {
	case len(names) != 1:
		return fs.usageErrorf("give one job")
	case *lines < 0:
		return fs.usageErrorf("-n %d: want 0 or more lines", *lines)
	}
	ctx, cancel := interruptible(ctx)
	defer cancel()
	return client().Logs(ctx, names[0], *lines, *follow, std.out)
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
