package notifier_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/supervise/supervise/internal/testkit"
	"github.com/supervise/supervise/notifier"
	"github.com/supervise/supervise/notifier/telegramtest"
)

// badEntries are what a spool may hold in place of a message: every kind of entry
// that is no regular file, and regular files that are no message, one of them past
// the spool's whole size (it must not push real messages out). good is a message's
// file, for one cut short.
func badEntries(good []byte) []testkit.Entry {
	return append(append(testkit.NotRegular(), testkit.Garbage(good, notifier.DefaultSpoolMaxBytes)...),
		testkit.Entry{Name: "notamessage", Why: `not a message: it has no "created" or no "text"`, Make: func(t testing.TB, path string) {
			if err := os.WriteFile(path, []byte(`{"job": "x", "kind": "failure"}`), 0o600); err != nil {
				t.Fatal(err)
			}
		}})
}

// Whatever stands in the spool in place of a message (a FIFO, a socket, a folder, a
// symbolic link, garbage, a file cut short, one too big) is set aside as NAME.bad
// with all it holds, and said once on stderr, naming it and what is wrong: the flush
// never waits on it, and the messages around it go, in order, and a new one after.
func TestSpoolSetsAsideWhatIsNoMessage(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	dir := t.TempDir()
	var stderr syncBuffer
	broken := spooling(t, srv, "1:wrong-token", dir, &stderr)
	for _, job := range []string{"one", "two"} {
		if err := broken.Notify(context.Background(), failed(job)); !errors.Is(err, notifier.ErrPermanent) {
			t.Fatalf("Notify = %v, want the 401 as permanent", err)
		}
	}
	names := spooled(t, dir)
	if len(names) != 2 {
		t.Fatalf("spooled %v, want two messages", names)
	}
	good, err := os.ReadFile(filepath.Join(dir, names[0]))
	if err != nil {
		t.Fatal(err)
	}
	// Half of them before every message, half between the two.
	prints := map[string]string{}
	whys := map[string]string{}
	for i, e := range badEntries(good) {
		name := "00000000000000000001-" + e.Name + ".json"
		if i%2 == 1 {
			name = strings.TrimSuffix(names[0], ".json") + "~" + e.Name + ".json"
		}
		path := filepath.Join(dir, name)
		e.Make(t, path)
		prints[path], whys[path] = testkit.Fingerprint(t, path), e.Why
	}

	stderr = syncBuffer{}
	fixed := spooling(t, srv, tgToken, dir, &stderr)
	testkit.Within(t, 10*time.Second, "the flush", func() {
		if err := fixed.Flush(context.Background()); err != nil {
			t.Errorf("Flush: %v", err)
		}
	})
	testkit.Within(t, 10*time.Second, "a new message", func() {
		if err := fixed.Notify(context.Background(), failed("three")); err != nil {
			t.Errorf("Notify: %v", err)
		}
	})
	var order []string
	for _, m := range srv.Messages() {
		order = append(order, strings.Fields(m.Text)[1])
	}
	if strings.Join(order, " ") != "one two three" {
		t.Errorf("delivered %v; want one two three", order)
	}
	for path, print := range prints {
		if n := strings.Count(stderr.String(), path+": "+whys[path]); n != 1 {
			t.Errorf("stderr tells %s as %q %d times, want once", path, whys[path], n)
		}
		if got := testkit.Fingerprint(t, path+".bad"); got != print {
			t.Errorf("%s.bad holds %s, want what was set aside: %s", path, got, print)
		}
	}
	if left := spooled(t, dir); len(left) != len(prints) {
		t.Errorf("the spool holds %v; want only the entries set aside", left)
	}

	// Said once: a later flush finds nothing to say.
	stderr = syncBuffer{}
	testkit.Within(t, 10*time.Second, "the second flush", func() { fixed.Flush(context.Background()) })
	if s := stderr.String(); s != "" {
		t.Errorf("a second flush says:\n%s", s)
	}
	if strings.Contains(stderr.String(), tgToken) {
		t.Error("the token is in stderr")
	}
}

// Whatever stands in place of the book of incidents (or of its lock) and is none is
// set aside as NAME.bad, with all it holds, and said once; the failure opens an
// incident all the same, and is told.
func TestBookSetsAsideWhatIsNoBook(t *testing.T) {
	t.Parallel()
	kinds := append(testkit.NotRegular(), testkit.Garbage([]byte(`{"incidents": {}}`), 64<<20)...)
	for _, file := range []string{"incidents.json", "incidents.json.lock"} {
		for _, e := range kinds {
			if file == "incidents.json.lock" && e.Why != "not a regular file: a directory" && e.Why != "not a regular file: a symbolic link" {
				continue // any regular file is a lock, and a FIFO or socket as well: only these are in the way
			}
			t.Run(file+"/"+e.Name, func(t *testing.T) {
				t.Parallel()
				srv := telegramtest.NewServer(tgToken, tgChat)
				defer srv.Close()
				state := t.TempDir()
				path := filepath.Join(state, file)
				e.Make(t, path)
				print := testkit.Fingerprint(t, path)
				var stderr syncBuffer
				p := incidents(t, srv, state, &stderr, false)
				testkit.Within(t, 10*time.Second, "the failure", func() {
					p.Emit(death(1, false))
					if err := p.Close(context.Background()); err != nil {
						t.Error(err)
					}
				})
				if len(srv.Messages()) != 1 {
					t.Errorf("%d messages, want the failure told", len(srv.Messages()))
				}
				if got := testkit.Fingerprint(t, path+".bad"); got != print {
					t.Errorf("%s.bad holds %s, want what was set aside: %s", file, got, print)
				}
				said := path + ": " + e.Why
				if n := strings.Count(stderr.String(), said); n != 1 || !strings.Contains(stderr.String(), "set aside as "+file+".bad") {
					t.Errorf("stderr says %q %d times, want once, with where it is:\n%s", said, n, stderr.String())
				}
				// The book kept now is a good one: the next process reads it.
				stderr = syncBuffer{}
				p = incidents(t, srv, state, &stderr, false)
				p.Emit(death(2, false))
				if err := p.Close(context.Background()); err != nil {
					t.Error(err)
				}
				if s := stderr.String(); strings.Contains(s, "set aside") || strings.Contains(s, "incidents:") {
					t.Errorf("the next process says:\n%s", s)
				}
			})
		}
	}
}
