// Command supervise runs batch jobs and daemons and tells a Telegram chat when a
// human should look: a job failed, timed out, crash-loops or went silent.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
)

// Exit statuses of supervise's own commands; `supervise run` passes on the job's.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

const usage = `supervise runs jobs, once or kept running, and tells a Telegram chat when one needs
a human: it failed, timed out, crash-loops or went silent. (Not daemontools' program
of the same name: 'supervise version' tells them apart.)

usage:
  supervise run JOB.toml               run one job once, in the foreground
  supervise run [flags] -- CMD ARG...  the same, with the job given on the command line
  supervise up [--jobs DIR]            keep every job in DIR running (default ./jobs.d)
  supervise check [FILE|DIR]...        validate the config and job files (default ./jobs.d)
  supervise import crontab [FILE]      turn a crontab's lines into job files (--into DIR)
  supervise import supervisord FILE    turn supervisord's programs into job files
  supervise status [--json]            the jobs of the running up: state, pid, exits, next run
  supervise start|stop|restart JOB...  start, stop or restart jobs of the running up
  supervise reload                     reload the running up's job folder (as SIGHUP)
  supervise logs [-n N] [-f] JOB       the last N lines of a job's output, and follow it
  supervise notify [--job J] TEXT      send a message to the chat (--test: check the way there)
  supervise ping JOB [WHAT]            heartbeat from a shell script; WHAT: start, fail, log or N
  supervise telegram chats             list the chats that wrote to the bot, with their ids
  supervise completion bash|zsh|fish   print the shell's completion script
  supervise version

Run 'supervise help COMMAND' (or 'supervise COMMAND -h') for a command's flags.
`

// stdio is what a command reads and writes.
type stdio struct {
	in          io.Reader
	out, errOut io.Writer
}

// A commandFunc is one of supervise's commands, given its arguments after its name. It
// parses its own flags, and returns a *usageError, a *configError, an exitStatus or
// another error (exit 1) for realMain to report.
type commandFunc func(ctx context.Context, args []string, std stdio) error

// commands are supervise's commands by name; "telegram chats" is found before
// "telegram", "import crontab" before "import".
var commands = map[string]commandFunc{
	"run":            cmdRun,
	"up":             cmdUp,
	"check":          cmdCheck,
	"status":         cmdStatus,
	"start":          cmdStart,
	"stop":           cmdStop,
	"restart":        cmdRestart,
	"reload":         cmdReload,
	"logs":           cmdLogs,
	"notify":         cmdNotify,
	"ping":           cmdPing,
	"telegram":       cmdTelegram,
	"telegram chats": cmdTelegramChats,
	"version":        cmdVersion,
	"completion":     cmdCompletion,

	"import":             cmdImport,
	"import crontab":     cmdImportCrontab,
	"import supervisord": cmdImportSupervisord,
}

// hidden are commands for supervise's own tools, not for users, so neither the help
// nor completion lists them: __complete answers the completion scripts, __man writes
// the man page. They are outside commands, which they read.
var hidden = map[string]commandFunc{
	"__complete": completeCommand,
	"__man":      manCommand,
}

func main() {
	os.Exit(realMain(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// realMain is the whole program, callable in-process by tests: it finds the command,
// runs it, and reports its error. It returns the exit status.
func realMain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "--help":
		return help(args[1:], stdout, stderr)
	case "--version":
		args = append([]string{"version"}, args[1:]...)
	}
	name, cmd, rest := lookup(args)
	if h := hidden[args[0]]; h != nil {
		name, cmd, rest = args[0], h, args[1:]
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "supervise: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
	return statusOf(name, cmd(ctx, rest, stdio{stdin, stdout, stderr}), stdout, stderr)
}

// lookup finds the command that args name, the longest first: "telegram chats",
// then "telegram". It returns its name and the arguments after it.
func lookup(args []string) (string, commandFunc, []string) {
	if len(args) > 1 {
		if name := args[0] + " " + args[1]; commands[name] != nil {
			return name, commands[name], args[2:]
		}
	}
	return args[0], commands[args[0]], args[1:]
}

// help is `supervise help [COMMAND]`: the usage of supervise, or of a command as its
// -h prints it.
func help(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	if len(args) == 1 && args[0] == "help" {
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	name, cmd, rest := lookup(args)
	if cmd == nil || len(rest) > 0 {
		fmt.Fprintf(stderr, "supervise help: unknown command %q\n\n%s", strings.Join(args, " "), usage)
		return exitUsage
	}
	return statusOf(name, cmd(context.Background(), []string{"-h"}, stdio{strings.NewReader(""), stdout, stderr}), stdout, stderr)
}
