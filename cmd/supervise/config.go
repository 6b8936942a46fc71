package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/supervise/supervise/notifier"
	"github.com/supervise/supervise/supervisor"
)

// configPath is the global config file: the one SUPERVISE_CONFIG names (named is
// then true: it must exist), else $XDG_CONFIG_HOME/supervise/config.toml, else
// /etc/supervise/config.toml for root and ~/.config/supervise/config.toml for others,
// as stateDir chooses the state folder. It is empty when there is no home to look in.
func configPath(getenv func(string) string) (path string, named bool) {
	switch {
	case getenv("SUPERVISE_CONFIG") != "":
		return getenv("SUPERVISE_CONFIG"), true
	case getenv("XDG_CONFIG_HOME") != "":
		return filepath.Join(getenv("XDG_CONFIG_HOME"), "supervise", "config.toml"), false
	case os.Geteuid() == 0:
		return "/etc/supervise/config.toml", false
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", false
	}
	return filepath.Join(home, ".config", "supervise", "config.toml"), false
}

// loadConfig reads the global config file; it is nil when there is none where
// supervise looks by default.
func loadConfig(getenv func(string) string) (*supervisor.Config, error) {
	path, named := configPath(getenv)
	if path == "" {
		return nil, nil
	}
	cfg, err := supervisor.LoadConfig(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && named:
		return nil, fmt.Errorf("SUPERVISE_CONFIG: %w", err)
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	}
	return cfg, err
}

// newPipeline returns the global config file (nil for none) and the notification
// pipeline that it and the environment configure, running with opts (see
// pipelineOptions). Close it to deliver what it holds.
func newPipeline(stderr io.Writer, state string, opts notifier.Options) (*supervisor.Config, *notifier.Pipeline, error) {
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		return nil, nil, err
	}
	p, err := notifier.New(cfg, os.Getenv, pipelineOptions(opts, stderr, state, cfg))
	return cfg, p, err
}

// pipelineOptions are opts with the spool and the incidents in the state folder,
// buttons under incidents when opts asks for them and the config file cfg turns
// Telegram commands on, and complaints on stderr.
func pipelineOptions(opts notifier.Options, stderr io.Writer, state string, cfg *supervisor.Config) notifier.Options {
	opts.Stderr, opts.SpoolDir = stderr, filepath.Join(state, "spool")
	opts.AlertSpoolDir = filepath.Join(state, "spool-alertmanager")
	opts.Incidents = filepath.Join(state, "incidents.json")
	opts.Buttons = opts.Buttons && cfg != nil && cfg.Commands // only up answers them
	return opts
}

// jobsPipeline is newPipeline for the commands that run jobs, run and up, whose
// first duty is to run them: a problem with how to notify (a config file that does
// not load, a token file missing, a bad chat id) never stops them. It is said on
// stderr, and the messages go where they still can: to Telegram as the environment
// alone configures it, when the config file was the problem and that works, else to
// stderr in full. `supervise check` still exits 2 for each such problem.
func jobsPipeline(stderr io.Writer, cmd, state string, opts notifier.Options) (*supervisor.Config, *notifier.Pipeline) {
	problem, said := false, ""
	say := func(err error) {
		if err.Error() != said { // the environment's own problem, met again without the file
			fmt.Fprintf(stderr, "supervise %s: %v\n", cmd, err)
		}
		problem, said = true, err.Error()
	}
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		say(err)
	}
	p, err := notifier.New(cfg, os.Getenv, pipelineOptions(opts, stderr, state, cfg))
	if err != nil && cfg != nil { // perhaps the environment alone names a bot and a chat
		say(err)
		cfg = nil
		p, err = notifier.New(nil, os.Getenv, pipelineOptions(opts, stderr, state, nil))
	}
	if err != nil {
		say(err)
	}
	if problem {
		where := "to the chat the environment names"
		if p == nil || p.Console() { // on stderr for the problem, not for want of a bot
			if p != nil {
				p.Close(context.Background())
			}
			p = notifier.NewConsole(pipelineOptions(opts, stderr, state, nil), "Telegram settings broken: `supervise check` says how")
			where = "to stderr, in full,"
		}
		runs := "the job runs; its"
		if cmd == "up" {
			runs = "the jobs run; their"
		}
		fmt.Fprintf(stderr, "supervise %s: %s messages go %s until that is fixed\n", cmd, runs, where)
	}
	return cfg, p
}
