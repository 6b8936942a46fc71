package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/supervise/supervise/notifier"
	"github.com/supervise/supervise/supervisor"
)

// cmdCheck is `supervise check`: validate the notifier's configuration (the global
// config file and the environment) and job files and folders of them, print every
// problem, and exit 2 if there was one.
func cmdCheck(_ context.Context, args []string, std stdio) error {
	stdout, stderr := std.out, std.errOut
	fs := newFlagSet("check", `Checks the global config file, the Telegram settings of the environment, and
each job file given or found in each folder given (default ./jobs.d); prints
every problem, as FILE:LINE: KEY: what is wrong, and exits 2 if there was one.
`, "check [FILE|DIR]...")
	if err := fs.parse(args); err != nil {
		return err
	}
	if args = fs.Args(); len(args) == 0 {
		args = []string{"jobs.d"}
	}
	status := exitOK
	cfg, err := loadConfig(os.Getenv)
	if err == nil {
		// This checks what only the settings together tell, the token file they
		// name included, and sends nothing.
		err = notifier.Check(cfg, os.Getenv)
	}
	switch {
	case err != nil:
		for _, e := range unjoin(err) {
			fmt.Fprintln(stderr, e)
		}
		status = exitUsage
	case cfg != nil:
		fmt.Fprintf(stdout, "%s: ok: config\n", cfg.File)
	}
	for _, path := range args {
		var (
			jobs []*supervisor.Job
			err  error
		)
		if fi, serr := os.Stat(path); serr == nil && fi.IsDir() {
			jobs, err = supervisor.LoadDir(path)
		} else {
			var job *supervisor.Job
			if job, err = supervisor.Load(path); job != nil {
				jobs = append(jobs, job)
			}
		}
		for _, job := range jobs {
			fmt.Fprintf(stdout, "%s: ok: job %s runs %s", job.File, job.Name, job.Display)
			if job.Schedule != nil {
				// The next time shows how the schedule and its zone are read.
				fmt.Fprintf(stdout, " on schedule %q, next at %s", job.Schedule, job.Schedule.Next(time.Now()).Format("2006-01-02 15:04:05 MST"))
			}
			fmt.Fprintln(stdout)
		}
		if err != nil {
			for _, e := range unjoin(err) {
				fmt.Fprintln(stderr, e)
			}
			status = exitUsage
		}
	}
	return exitStatus(status)
}

// unjoin flattens errors.Join trees, so each problem prints on its own line.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, unjoin(e)...)
	}
	return out
}
