package main

import (
	"slices"
	"strings"
	"testing"
)

// commandFlags are the flags that each command's usage lists, as it lists them: with
// their placeholders.
var commandFlags = map[string][]string{
	"run": {"--heartbeat duration", "--name name", "--no-pty", "--notify-on events", "--state folder",
		"--tail lines", "--timeout duration"},
	"up":             {"--jobs folder", "--listen address", "--socket path", "--state folder"},
	"check":          nil,
	"status":         {"--json", "--socket path", "--state folder"},
	"start":          {"--socket path", "--state folder"},
	"stop":           {"--socket path", "--state folder"},
	"restart":        {"--socket path", "--state folder"},
	"reload":         {"--socket path", "--state folder"},
	"logs":           {"-f", "-n N", "--socket path", "--state folder"},
	"notify":         {"--job job", "--state folder", "--test"},
	"ping":           {"--listen address", "-m text", "--message text", "--socket path", "--state folder"},
	"telegram":       nil,
	"telegram chats": nil,
	"version":        nil,
	"completion":     nil,

	"import":             nil,
	"import crontab":     {"--force", "--into folder", "--keep-cron", "--system"},
	"import supervisord": {"--force", "--into folder"},
}

// listedFlags are the flags a usage lists, each as "--name placeholder".
func listedFlags(usage string) []string {
	var flags []string
	for _, line := range strings.Split(usage, "\n") {
		if strings.HasPrefix(line, "  -") {
			flags = append(flags, strings.TrimSpace(line))
		}
	}
	return flags
}

// Every command prints its own usage, with exactly its own flags, on stdout for
// -h, --help and help CMD.
func TestCommandHelp(t *testing.T) {
	noTelegram(t)
	if len(commandFlags) != len(commands) {
		t.Errorf("the test knows %d commands, supervise has %d", len(commandFlags), len(commands))
	}
	for name, want := range commandFlags {
		words := strings.Fields(name)
		for _, args := range [][]string{
			slices.Concat(words, []string{"--help"}),
			slices.Concat(words, []string{"-h"}),
			slices.Concat([]string{"help"}, words),
		} {
			status, stdout, stderr := supervise(t, args...)
			if status != 0 || stderr != "" {
				t.Errorf("%q: status %d, stderr %q; want 0 and nothing on stderr", args, status, stderr)
			}
			if !strings.HasPrefix(stdout, "usage: supervise "+name) {
				t.Errorf("%q: stdout does not begin with the usage of %s:\n%s", args, name, stdout)
			}
			if got := listedFlags(stdout); !slices.Equal(got, want) {
				t.Errorf("%q: flags %q, want %q:\n%s", args, got, want, stdout)
			}
		}
	}
}

// An unknown flag is a usage error of every command: it is named, with the
// command's usage, on stderr, and nothing runs.
func TestCommandUnknownFlag(t *testing.T) {
	noTelegram(t)
	for name := range commandFlags {
		args := append(strings.Fields(name), "--bogus")
		status, stdout, stderr := supervise(t, args...)
		if status != 2 || stdout != "" {
			t.Errorf("%q: status %d, stdout %q; want 2 and nothing on stdout", args, status, stdout)
		}
		for _, want := range []string{"supervise " + name + ": flag provided but not defined: -bogus\n", "usage: supervise " + name} {
			if !strings.Contains(stderr, want) {
				t.Errorf("%q: stderr lacks %q:\n%s", args, want, stderr)
			}
		}
	}
}

// A missing or extra argument is a usage error: said, then the usage, on stderr.
func TestCommandArgumentErrors(t *testing.T) {
	noTelegram(t)
	state := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"status", "web"}, `supervise status: unexpected argument "web"`},
		{[]string{"reload", "web"}, `supervise reload: unexpected argument "web"`},
		{[]string{"start"}, "supervise start: no job given"},
		{[]string{"stop"}, "supervise stop: no job given"},
		{[]string{"restart"}, "supervise restart: no job given"},
		{[]string{"logs"}, "supervise logs: give one job"},
		{[]string{"logs", "web", "db"}, "supervise logs: give one job"},
		{[]string{"logs", "--", "web", "-n", "5"}, "supervise logs: give one job"}, // after --, no flags
		{[]string{"logs", "-n", "-1", "web"}, "supervise logs: -n -1: want 0 or more lines"},
		{[]string{"logs", "-n", "many", "web"}, `supervise logs: invalid value "many" for flag -n`},
		{[]string{"up", "jobs.d"}, `supervise up: unexpected argument "jobs.d"; give the folder with --jobs`},
		{[]string{"notify"}, "supervise notify: no text given"},
		{[]string{"notify", "--test", "hello"}, "supervise notify: --test sends its own message"},
		{[]string{"ping"}, "supervise ping: no job given"},
		{[]string{"telegram"}, "supervise telegram: no subcommand given"},
		{[]string{"import"}, "supervise import: no subcommand given"},
		{[]string{"import", "cron"}, `supervise import: unknown subcommand "cron"`},
		{[]string{"import", "crontab", "a", "b"}, `supervise import crontab: unexpected argument "b": give one crontab`},
		{[]string{"import", "supervisord"}, "supervise import supervisord: no config file given"},
		{[]string{"import", "supervisord", "a.conf", "b.conf"}, `supervise import supervisord: unexpected argument "b.conf"`},
		{[]string{"telegram", "chats", "extra"}, `supervise telegram chats: unexpected argument "extra"`},
		{[]string{"version", "extra"}, `supervise version: unexpected argument "extra"`},
		{[]string{"completion"}, "supervise completion: no shell given"},
		{[]string{"completion", "tcsh"}, `supervise completion: unknown shell "tcsh": want bash, zsh or fish`},
		{[]string{"completion", "bash", "zsh"}, `supervise completion: unexpected argument "zsh"`},
		{[]string{"run", "--tail", "many", "--", "true"}, `supervise run: invalid value "many" for flag -tail`},
	} {
		name, _, _ := lookup(tc.args)
		args := tc.args
		if slices.Contains(commandFlags[name], "--socket path") {
			args = slices.Concat(args, []string{"--state", state}) // where no up runs, if it got so far
		}
		status, stdout, stderr := supervise(t, args...)
		if status != 2 || stdout != "" || !strings.HasPrefix(stderr, tc.want) || !strings.Contains(stderr, "\nusage: supervise "+name) {
			t.Errorf("%q: status %d, stdout %q, stderr %q; want 2, %q and the usage", args, status, stdout, stderr, tc.want)
		}
	}
}

// Flags may come before, between or after the arguments, until --: what follows it
// is arguments only, as for every command that takes flags.
func TestParseInterleaved(t *testing.T) {
	for _, tc := range []struct {
		args       []string
		wantNames  []string
		wantFollow bool
	}{
		{[]string{"web", "-f"}, []string{"web"}, true},
		{[]string{"-f", "web"}, []string{"web"}, true},
		{[]string{"web", "-f", "db"}, []string{"web", "db"}, true},
		{[]string{"--", "web", "-f"}, []string{"web", "-f"}, false},
		{[]string{"web", "--", "-f"}, []string{"web", "-f"}, false},
		{[]string{"-f", "--", "-f"}, []string{"-f"}, true},
		{[]string{"web", "--", "db", "-f"}, []string{"web", "db", "-f"}, false},
	} {
		fs := newFlagSet("logs", "", "logs [-f] JOB")
		follow := fs.Bool("f", false, "follow")
		names, err := fs.parseInterleaved(tc.args)
		if err != nil || !slices.Equal(names, tc.wantNames) || *follow != tc.wantFollow {
			t.Errorf("%q: names %q, -f %v, error %v; want %q, -f %v", tc.args, names, *follow, err, tc.wantNames, tc.wantFollow)
		}
	}
}

// supervise alone, help, -h and --help give the list of commands.
func TestOverallHelp(t *testing.T) {
	for _, tc := range []struct {
		args       []string
		want       int
		wantStdout bool
	}{
		{nil, 2, false},
		{[]string{"help"}, 0, true},
		{[]string{"help", "help"}, 0, true},
		{[]string{"-h"}, 0, true},
		{[]string{"--help"}, 0, true},
		{[]string{"help", "nosuch"}, 2, false},
		{[]string{"help", "run", "extra"}, 2, false},
		{[]string{"nosuch"}, 2, false},
	} {
		status, stdout, stderr := supervise(t, tc.args...)
		out := stderr
		if tc.wantStdout {
			out = stdout
		}
		if status != tc.want || !strings.Contains(out, "supervise telegram chats") || !strings.Contains(out, "supervise help COMMAND") {
			t.Errorf("%q: status %d, stdout %q, stderr %q; want %d and the list of commands", tc.args, status, stdout, stderr, tc.want)
		}
	}
	if status, stdout, _ := supervise(t, "--version"); status != 0 || !strings.HasPrefix(stdout, "supervise ") {
		t.Errorf("--version: status %d, stdout %q", status, stdout)
	}
}
