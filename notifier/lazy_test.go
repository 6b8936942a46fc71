package notifier_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/supervise/supervise/notifier"
	"github.com/supervise/supervise/notifier/telegramtest"
	"github.com/supervise/supervise/supervisor"
)

// lazy returns a lazy pipeline to srv, as `supervise run` makes it, keeping its spool
// and incidents in state.
func lazy(t *testing.T, srv *telegramtest.Server, state string, stderr *syncBuffer) *notifier.Pipeline {
	t.Helper()
	return pipelineFor(t, srv, notifier.Options{Host: "h", Stderr: stderr, SpoolDir: filepath.Join(state, "spool"),
		Incidents: filepath.Join(state, "incidents.json"), Backlog: 10 * time.Second, Lazy: true,
		PrivatePace: 10 * time.Millisecond, GroupPace: 10 * time.Millisecond})
}

// succeeded is a run of job that succeeded, and wants to be told what the default says.
func succeeded(job string) supervisor.Event {
	return supervisor.Event{Kind: supervisor.KindSuccess, Job: job, Host: "h", Start: time.Now(), Duration: time.Second,
		Notify: supervisor.Notify{On: supervisor.DefaultNotifyOn}}
}

// A run that succeeds, with an empty spool and no incident open, starts no pipeline:
// nothing is sent, nothing said, and the state folder is not even made.
func TestLazySuccessStartsNothing(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	state := filepath.Join(t.TempDir(), "state")
	var stderr syncBuffer
	p := lazy(t, srv, state, &stderr)
	start := succeeded("backup")
	start.Kind = supervisor.KindStart
	p.Emit(start)
	p.Emit(supervisor.FixedEvent("h", "/etc/jobs.d/backup.toml")) // as run emits for a job file
	p.Emit(succeeded("backup"))
	if notifier.Running(p) {
		t.Error("the pipeline started for a success with nothing open")
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(state); !errors.Is(err, fs.ErrNotExist) || srv.Requests() != 0 || stderr.String() != "" {
		t.Errorf("state folder: %v; %d requests to Telegram; stderr %q; want none of them", err, srv.Requests(), stderr.String())
	}
}

// What an earlier run left in the spool is sent by the next run, though that run
// succeeds: the spool holding anything starts the pipeline.
func TestLazySendsTheBacklog(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	state := t.TempDir()
	dir := filepath.Join(state, "spool")
	var stderr syncBuffer
	down := spooling(t, srv, tgToken, dir, &stderr, notifier.EnvAPIURL, refusedURL)
	if err := down.Notify(context.Background(), failed("first")); err == nil || len(spooled(t, dir)) != 1 {
		t.Fatalf("Notify = %v, spool %v; want an error and the message kept", err, spooled(t, dir))
	}

	p := lazy(t, srv, state, &stderr)
	if !notifier.Running(p) {
		t.Error("the pipeline did not start with a message in the spool")
	}
	p.Emit(succeeded("second"))
	if err := p.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v\n%s", err, stderr.String())
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || !strings.Contains(msgs[0].Text, "first failed") || len(spooled(t, dir)) != 0 {
		t.Errorf("delivered %+v, spool %v; want the spooled message once, and an empty spool", msgs, spooled(t, dir))
	}
}

// A run that fails opens an incident; the next run's success, which alone would
// start nothing, resolves it.
func TestLazySuccessResolvesAnOpenIncident(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	state := t.TempDir()
	var stderr syncBuffer
	failed := failed("backup")
	failed.Start, failed.Notify.On = time.Now().Add(-time.Hour), supervisor.DefaultNotifyOn
	p := lazy(t, srv, state, &stderr)
	p.Emit(failed)
	if err := p.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v\n%s", err, stderr.String())
	}
	p = lazy(t, srv, state, &stderr)
	p.Emit(succeeded("backup"))
	if err := p.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v\n%s", err, stderr.String())
	}
	wantResolvedByReply(t, srv, "backup")
}

// A lazy pipeline closed before it had anything to do still keeps what comes late in
// the spool; one that has not started takes a mute.
func TestLazyUnstarted(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	state := t.TempDir()
	var stderr syncBuffer
	p := lazy(t, srv, state, &stderr)
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	late := failed("late")
	late.Notify.On = supervisor.DefaultNotifyOn
	p.Emit(late)
	if n := len(spooled(t, filepath.Join(state, "spool"))); n != 1 {
		t.Errorf("spool holds %d messages, want the late one; stderr:\n%s", n, stderr.String())
	}

	state = t.TempDir() // with an empty spool
	p = lazy(t, srv, state, &stderr)
	until := time.Now().Add(time.Hour).Truncate(time.Second)
	p.Mute("backup", until)
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := lazy(t, srv, state, &stderr).Mutes()["backup"]; !got.Equal(until) {
		t.Errorf("backup is muted until %v, want %v", got, until)
	}
}
