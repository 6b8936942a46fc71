package main

import (
	"os"
	"path/filepath"
)

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
