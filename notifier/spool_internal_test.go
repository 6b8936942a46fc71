package notifier

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// The spool holds edits as well as messages, in order, and sends only the latest
// edit of a post: the others are done with, since it shows what is latest.
func TestSpoolSendsOnlyTheLatestEditOfAPost(t *testing.T) {
	t.Parallel()
	s := &Spool{Dir: t.TempDir()}
	t0 := time.Now()
	put := func(i int, m spooled) {
		m.Created = t0.Add(time.Duration(i) * time.Millisecond)
		e, err := s.put(m)
		if err != nil {
			t.Fatal(err)
		}
		e.release()
	}
	put(0, spooled{Kind: "incident", Job: "web", Text: "web failed", Post: "p1"})
	put(1, spooled{Kind: "edit", Job: "web", Text: "web failed 2 times", Op: opEdit, Post: "p1"})
	put(2, spooled{Kind: "edit", Job: "db", Text: "db failed 2 times", Op: opEdit, Post: "p2"})
	put(3, spooled{Kind: "edit", Job: "web", Text: "web failed 3 times", Op: opEdit, Post: "p1"})
	put(4, spooled{Kind: "recovery", Job: "web", Text: "web recovered", Op: opReply, ReplyTo: "p1"})
	var sent []string
	_, err := s.flush(context.Background(), func(_ context.Context, e *entry) error {
		sent = append(sent, e.msg.Text)
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"web failed", "db failed 2 times", "web failed 3 times", "web recovered"}
	if len(sent) != len(want) {
		t.Fatalf("sent %q, want %q", sent, want)
	}
	for i := range want {
		if sent[i] != want[i] {
			t.Fatalf("sent %q, want %q", sent, want)
		}
	}
	if names, _, _ := s.list(); len(names) != 0 {
		t.Errorf("left in the spool: %v", names)
	}
}

// A message whose writer died after writing it and before renaming it into place
// (kill -9) is put in its place by the next listing, and so sent; one a live writer
// holds, or one not written whole, is left alone.
func TestSpoolFinishesWhatADeadWriterLeft(t *testing.T) {
	dir := t.TempDir()
	s := &Spool{Dir: dir}
	msg := spooled{Created: time.Now(), Job: "backup", Kind: "failure", HTML: "backup failed", Text: "backup failed"}
	data, err := json.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	whole := filepath.Join(dir, ".new-dead")
	if err := os.WriteFile(whole, data, 0o600); err != nil {
		t.Fatal(err)
	}
	half := filepath.Join(dir, ".new-half")
	if err := os.WriteFile(half, data[:len(data)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	held := filepath.Join(dir, ".new-held")
	if err := os.WriteFile(held, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(held)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil { // a live writer's
		t.Fatal(err)
	}

	names, bad, err := s.list()
	if err != nil || len(bad) != 0 || len(names) != 1 {
		t.Fatalf("listed %q, %v, %v; want the dead writer's message in its place", names, bad, err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, names[0])); err != nil || string(got) != string(data) {
		t.Errorf("%s holds %q, %v; want the message", names[0], got, err)
	}
	for _, left := range []string{half, held} {
		if _, err := os.Stat(left); err != nil {
			t.Errorf("%s: %v; want it left alone", left, err)
		}
	}
	if _, err := os.Stat(whole); err == nil {
		t.Errorf("%s is still there", whole)
	}
}
