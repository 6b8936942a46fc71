package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"

	"github.com/supervise/supervise/importer"
)

// cmdImport is `supervise import SUBCOMMAND` when the subcommand is not one:
// realMain finds `supervise import crontab` and `import supervisord` itself.
func cmdImport(_ context.Context, args []string, _ stdio) error {
	fs := newFlagSet("import", `  crontab       a crontab's lines, one job file each
  supervisord   supervisord's [program:x] sections, one job file a process
`, "import crontab [FILE]", "import supervisord FILE")
	if err := fs.parse(args); err != nil {
		return err
	}
	switch sub := fs.Arg(0); sub {
	case "":
		return fs.usageErrorf("no subcommand given")
	case "help":
		return fs.usageError(flag.ErrHelp)
	default:
		return fs.usageErrorf("unknown subcommand %q", sub)
	}
}

// crontabList is the command that prints the user's crontab. A variable for tests.
var crontabList = []string{"crontab", "-l"}

// cmdImportCrontab is `supervise import crontab`.
func cmdImportCrontab(ctx context.Context, args []string, std stdio) error {
	fs := newFlagSet("import crontab", `Writes a job file for each job line of the crontab FILE ("-" for standard
input; default: the user's, from crontab -l) into the --into folder, with the
same schedule (five fields or @daily and the like; CRON_TZ as timezone), the
environment of the lines above it, and its command: as an array when it is
plain words, else as a string for /bin/sh -c ($SHELL -c when SHELL is set), a
% in it as cron reads it. @reboot runs once when up starts. An existing job
file is not overwritten without --force.

It prints the crontab to install instead on stdout: nothing but comments, as
up runs the schedules now, and the lines it could not translate, which are
listed on stderr with their line numbers. Exit status 1 when there were any.
`, "import crontab [--into DIR] [--force] [--system] [--keep-cron] [FILE]")
	into := fs.String("into", "jobs.d", "the `folder` the job files go to")
	force := fs.Bool("force", false, "overwrite job files that are there already")
	system := fs.Bool("system", false, "read a system crontab, with a user field after the schedule (the default for /etc/crontab and /etc/cron.d/*)")
	keep := fs.Bool("keep-cron", false, "print a crontab that keeps the schedules, each line running 'supervise run' on its job file")
	files, err := fs.parseInterleaved(args)
	if err != nil {
		return err
	}
	if len(files) > 1 {
		return fs.usageErrorf("unexpected argument %q: give one crontab", files[1])
	}
	var data []byte
	source := strings.Join(crontabList, " ")
	switch {
	case len(files) == 0:
		cmd := exec.CommandContext(ctx, crontabList[0], crontabList[1:]...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if data, err = cmd.Output(); err != nil {
			return fmt.Errorf("%s: %w: %s", source, err, strings.TrimSpace(stderr.String()))
		}
	case files[0] == "-":
		source = "stdin"
		if data, err = io.ReadAll(std.in); err != nil {
			return err
		}
	default:
		source = files[0]
		if data, err = os.ReadFile(source); err != nil {
			return err
		}
		if abs, err := filepath.Abs(source); err == nil && (abs == "/etc/crontab" || filepath.Dir(abs) == "/etc/cron.d") {
			*system = true
		}
	}
	opt := importer.CrontabOptions{Source: source, Into: *into, System: *system, Home: homeOf}
	if *keep {
		if opt.KeepCron, err = os.Executable(); err != nil {
			return err
		}
	}
	res := importer.Crontab(data, opt)
	return finishImport(std, "crontab", res, *into, *force)
}

// cmdImportSupervisord is `supervise import supervisord`.
func cmdImportSupervisord(_ context.Context, args []string, std stdio) error {
	fs := newFlagSet("import supervisord", `Writes a job file for each process of each [program:x] of the supervisord
config FILE and of the files its [include] names, into the --into folder:
command, directory, environment, autorestart, startsecs (healthy_after),
startretries (restart_limit), stopsignal, stopwaitsecs (stop_timeout) and the
log's size; %(program_name)s and the like are expanded as supervisord does.
An existing job file is not overwritten without --force.

What has no equal here (user, exitcodes, autostart=false, event listeners, an
unknown key) is listed on stderr with its line, and the exit status is 1; how
the rest differs (logs, process groups) is said there too, and in the files.
`, "import supervisord [--into DIR] [--force] FILE")
	into := fs.String("into", "jobs.d", "the `folder` the job files go to")
	force := fs.Bool("force", false, "overwrite job files that are there already")
	files, err := fs.parseInterleaved(args)
	switch {
	case err != nil:
		return err
	case len(files) == 0:
		return fs.usageErrorf("no config file given (supervisord's is often /etc/supervisor/supervisord.conf)")
	case len(files) > 1:
		return fs.usageErrorf("unexpected argument %q: give one config file", files[1])
	}
	host, _ := os.Hostname()
	res, err := importer.Supervisord(files[0], importer.SupervisordOptions{Into: *into, Environ: os.Environ(), Host: host})
	if err != nil {
		return err
	}
	return finishImport(std, "supervisord", res, *into, *force)
}

// finishImport writes the files of res into the folder into, and says what it did
// and did not: on stderr, so that a crontab's stdout is the crontab to install.
func finishImport(std stdio, what string, res *importer.Result, into string, force bool) error {
	paths, err := importer.Write(into, res.Files, force)
	for i, p := range paths {
		fmt.Fprintf(std.errOut, "wrote %s (from %s)\n", p, res.Files[i].Source)
	}
	if err != nil {
		for _, e := range unjoin(err) {
			fmt.Fprintf(std.errOut, "supervise import %s: %v\n", what, e)
		}
		return exitStatus(exitFail)
	}
	for _, n := range res.Notes {
		fmt.Fprintf(std.errOut, "%s: note: %s\n", n.Source, n.Text)
	}
	for _, s := range res.Skipped {
		fmt.Fprintln(std.errOut, s)
	}
	if what == "crontab" {
		fmt.Fprint(std.out, res.Crontab)
	}
	files := "job files"
	if len(paths) == 1 {
		files = "job file"
	}
	fmt.Fprintf(std.errOut, "supervise import %s: %d %s written to %s", what, len(paths), files, into)
	switch n := len(res.Skipped); {
	case n == 1:
		fmt.Fprint(std.errOut, "; 1 thing not translated, listed above")
	case n > 1:
		fmt.Fprintf(std.errOut, "; %d things not translated, listed above", n)
	}
	fmt.Fprintf(std.errOut, ". Check them with: supervise check %s\n", into)
	if len(res.Skipped) > 0 {
		return exitStatus(exitFail)
	}
	return nil
}

// homeOf is the home folder of the user name, or of the user supervise runs as for "".
func homeOf(name string) (string, error) {
	lookup := user.Current
	if name != "" {
		lookup = func() (*user.User, error) { return user.Lookup(name) }
	}
	u, err := lookup()
	if err != nil {
		var unknown user.UnknownUserError
		if errors.As(err, &unknown) {
			return "", fmt.Errorf("no user %s", name)
		}
		return "", err
	}
	return u.HomeDir, nil
}
