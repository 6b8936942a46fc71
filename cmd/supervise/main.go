// Command supervise runs batch jobs and daemons and tells a Telegram chat when a
// human should look: a job failed, timed out, crash-loops or went silent.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

// Exit statuses of supervise's own commands; `supervise run` passes on the job's.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

const usage = `usage:
  supervise run JOB.toml               run one job once, in the foreground
  supervise run [flags] -- CMD ARG...  the same, with the job given on the command line
  supervise up [--jobs DIR]            keep every job in DIR running (default ./jobs.d)
  supervise check [FILE|DIR]...        validate the config and job files (default ./jobs.d)
  supervise status [--json]            the jobs of the running up: state, pid, exits, next run
  supervise start|stop|restart JOB...  start, stop or restart jobs of the running up
  supervise reload                     reload the running up's job folder (as SIGHUP)
  supervise logs JOB [-n N] [-f]       the last N lines of a job's output, and follow it
  supervise notify [--job J] TEXT      send a message to the chat (--test: check the way there)
  supervise ping JOB [start|fail|N]    heartbeat from a shell script (to a running up or run)
  supervise telegram chats             list the chats that wrote to the bot, with their ids
  supervise version

Run 'supervise run -h' for the flags of run.
`

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is the whole program, callable in-process by tests; it returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "run":
		return runJob(ctx, rest, stdout, stderr)
	case "up":
		return up(ctx, rest, stdout, stderr)
	case "check":
		return check(rest, stdout, stderr)
	case "notify":
		return notify(ctx, rest, stdin, stdout, stderr)
	case "status", "start", "stop", "restart", "reload", "logs":
		return controlCommand(ctx, cmd, rest, stdout, stderr)
	case "ping":
		return ping(ctx, rest, stdin, stdout, stderr)
	case "telegram":
		return telegramCommand(ctx, rest, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "supervise", version())
		return exitOK
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "supervise: unknown command %q\n%s", cmd, usage)
		return exitUsage
	}
}

// version is the module version the binary was built from, or "devel".
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
