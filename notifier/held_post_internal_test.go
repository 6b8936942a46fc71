package notifier

import (
	"context"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/supervise/supervise/notifier/telegramtest"
)

// An edit whose post another process is sending (its spool file is locked) waits for
// that send, rather than go as a new message: one incident, one message, edited.
func TestEditWaitsForItsPostSentElsewhere(t *testing.T) {
	t.Parallel()
	const token = "123456789:AAE-not-a-real-token_0123456789abcdef"
	srv := telegramtest.NewServer(token, 42)
	defer srv.Close()
	state := t.TempDir()
	env := map[string]string{EnvToken: token, EnvChatID: "42", EnvAPIURL: srv.URL(), EnvTimeout: "1s"}
	out, _, err := senderOf(nil, func(k string) string { return env[k] }, Options{SpoolDir: filepath.Join(state, "spool"), Stderr: io.Discard,
		PrivatePace: time.Millisecond, GroupPace: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s := out.(*spooler)
	s.book = &store{path: filepath.Join(state, "incidents.json")}
	s.book.update(func(b *book) { b.add(&post{ID: "p1", Job: "web", Sent: time.Now()}) })

	// Another process has spooled the post's send and is sending it now: it holds
	// the lock on its file.
	send := delivery{op: opSend, post: "p1", rendered: "<b>web failed</b>", plain: "web failed", whole: true, aboutKind: "incident", aboutJob: "web"}
	held, err := s.spool.put(spooledOf(send, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	// This process edits the post.
	edit := delivery{op: opEdit, post: "p1", rendered: "<b>web failed (2 in a row)</b>", plain: "web failed (2 in a row)", whole: true, aboutKind: "incident", aboutJob: "web"}
	s.send(context.Background(), []delivery{edit})
	// The other process's send goes through.
	held.release()
	if err := s.flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if msgs := srv.Messages(); len(msgs) != 1 {
		t.Errorf("%d messages for one post, want 1 (edited):\n%+v", len(msgs), msgs)
	}
}
