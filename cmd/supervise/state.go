package main

import (
	"os"
	"path/filepath"
)

// stateFlag defines --state on fs, for every command that keeps state: the spool, and
// for up the logs and last runs.
func stateFlag(fs *flagSet) *string {
	return fs.String("state", "", "`folder` for state: the notification spool, logs, last runs (default $SUPERVISE_STATE_DIR, $XDG_STATE_HOME/supervise, /var/lib/supervise for root, ~/.local/state/supervise)")
}

// stateDir is where supervise keeps its state: --state if given, else
// SUPERVISE_STATE_DIR, else $XDG_STATE_HOME/supervise, else /var/lib/supervise for
// root and ~/.local/state/supervise for others.
func stateDir(flag string, getenv func(string) string) string {
	switch {
	case flag != "":
		return flag
	case getenv("SUPERVISE_STATE_DIR") != "":
		return getenv("SUPERVISE_STATE_DIR")
	case getenv("XDG_STATE_HOME") != "":
		return filepath.Join(getenv("XDG_STATE_HOME"), "supervise")
	case os.Geteuid() == 0:
		return "/var/lib/supervise"
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "supervise")
	}
	return filepath.Join(home, ".local", "state", "supervise")
}
