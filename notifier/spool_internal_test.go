package notifier

import (
	"context"
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
