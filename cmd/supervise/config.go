package main

import (
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
// pipeline that it and the environment configure, running with opts, its spool and
// its incidents in the state folder, buttons under incidents when opts asks for them
// and Telegram commands are on, and its complaints on stderr. Close it to deliver what it holds.
func newPipeline(stderr io.Writer, state string, opts notifier.Options) (*supervisor.Config, *notifier.Pipeline, error) {
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		return nil, nil, err
	}
	opts.Stderr, opts.SpoolDir = stderr, filepath.Join(state, "spool")
	opts.Incidents = filepath.Join(state, "incidents.json")
	opts.Buttons = opts.Buttons && cfg != nil && cfg.Commands // only up answers them
	p, err := notifier.New(cfg, os.Getenv, opts)
	return cfg, p, err
}
