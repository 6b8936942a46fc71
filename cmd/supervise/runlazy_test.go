package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A run that succeeds, with a bot configured, sends nothing and says nothing, and
// makes no state folder.
func TestRunSuccessTouchesNothing(t *testing.T) {
	srv := telegram(t)
	state := filepath.Join(t.TempDir(), "state")
	status, _, stderr := supervise(t, "run", "--state", state, "--name", "fine", "--", "true")
	if status != 0 || stderr != "" {
		t.Fatalf("status %d, stderr %q; want 0 and nothing", status, stderr)
	}
	if _, err := os.Stat(state); !errors.Is(err, fs.ErrNotExist) || srv.Requests() != 0 {
		t.Errorf("state folder: %v; %d requests to Telegram; want neither", err, srv.Requests())
	}
}

// What an earlier supervise could not send is sent by the next run, though that one
// succeeds and has nothing of its own to say.
func TestRunSuccessSendsTheBacklog(t *testing.T) {
	srv := telegram(t)
	state := t.TempDir()
	t.Setenv("SUPERVISE_TELEGRAM_TIMEOUT", "1s")
	t.Setenv("SUPERVISE_TELEGRAM_API_URL", "http://127.0.0.1:1") // nothing listens there
	status, _, stderr := supervise(t, "notify", "--state", state, "--job", "deploy", "deployed v2")
	if files, _ := os.ReadDir(filepath.Join(state, "spool")); len(files) != 1 {
		t.Fatalf("notify: status %d, stderr:\n%s\nwant the message kept in the spool", status, stderr)
	}
	t.Setenv("SUPERVISE_TELEGRAM_API_URL", srv.URL())
	t.Setenv("SUPERVISE_TELEGRAM_TIMEOUT", "10s")
	if status, _, stderr = supervise(t, "run", "--state", state, "--name", "fine", "--", "true"); status != 0 {
		t.Fatalf("run: status %d: %s", status, stderr)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || !strings.Contains(msgs[0].Text, "deployed v2") {
		t.Errorf("delivered %+v, want the spooled message, once; run said:\n%s", msgs, stderr)
	}
	if files, _ := os.ReadDir(filepath.Join(state, "spool")); len(files) != 0 {
		t.Errorf("the spool still holds %d files", len(files))
	}
}
