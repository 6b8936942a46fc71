package notifier

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/supervise/supervise/supervisor"
)

// A batch's changes are written once, when it ends, under the lock its first change
// took: none is on disk before, all are after, for another process to read.
func TestBatchWritesTheBookOnce(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "incidents.json")
	s := &store{path: path}
	now := time.Now()
	changed, err := s.batch(func() {
		for _, job := range []string{"a", "b", "c"} {
			if err := s.update(func(b *book) { b.open(supervisor.Event{Kind: supervisor.KindFailure, Job: job}, now) }); err != nil {
				t.Errorf("update of %s in a batch: %v", job, err)
			}
			if _, err := os.Lstat(path); !os.IsNotExist(err) {
				t.Errorf("after the update of %s, the book is on disk before the batch ends (%v)", job, err)
			}
		}
	})
	if !changed || err != nil {
		t.Fatalf("batch = %v, %v: want changed, no error", changed, err)
	}
	other := &store{path: path} // another process
	other.view(func(b *book) {
		if len(b.Incidents) != 3 {
			t.Errorf("the book on disk holds %d incidents, want the batch's 3", len(b.Incidents))
		}
	})
}

// A batch with nothing to change locks nothing and writes nothing: a run that succeeds
// leaves STATE as it found it.
func TestBatchWithoutChangeTouchesNothing(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "state")
	s := &store{path: filepath.Join(dir, "incidents.json")}
	if changed, err := s.batch(func() { s.peek(func(*book) {}) }); changed || err != nil {
		t.Fatalf("batch = %v, %v: want unchanged, no error", changed, err)
	}
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Errorf("a batch with no change made %s (%v)", dir, err)
	}
}

// byID finds open incidents, whether the book was read from the file or opened them,
// and no longer those resolved, even when their job has a new one.
func TestByID(t *testing.T) {
	t.Parallel()
	var b book
	now := time.Now()
	first := b.open(supervisor.Event{Kind: supervisor.KindFailure, Job: "a"}, now)
	if b.byID(first.ID) != first {
		t.Fatalf("byID(%s) does not find the incident it opened", first.ID)
	}
	delete(b.Incidents, first.Key) // resolved
	second := b.open(supervisor.Event{Kind: supervisor.KindFailure, Job: "a"}, now)
	if got := b.byID(first.ID); got != nil {
		t.Errorf("byID(%s) = %+v, want nil once resolved", first.ID, got)
	}
	if b.byID(second.ID) != second {
		t.Errorf("byID(%s) does not find the new incident of the same job", second.ID)
	}
	data, err := json.Marshal(&b)
	if err != nil {
		t.Fatal(err)
	}
	var read book
	if err := json.Unmarshal(data, &read); err != nil {
		t.Fatal(err)
	}
	if inc := read.byID(second.ID); inc == nil || inc.Job != "a" {
		t.Errorf("byID(%s) in the book as read = %+v, want the open incident", second.ID, inc)
	}
}

// pending and the backlog count the news that wait, until a turn takes them or a
// drain does.
func TestPacerCountsWhatWaits(t *testing.T) {
	t.Parallel()
	p := pacer{pace: func(supervisor.Destination) time.Duration { return time.Second }, editable: func(string) time.Time { return time.Time{} }}
	now := time.Now()
	one, two := supervisor.Destination{ChatID: "1"}, supervisor.Destination{ChatID: "2"}
	for i, to := range []supervisor.Destination{one, two, one} {
		p.add(to, news{ev: supervisor.Event{Job: "j"}, inc: "x"}, now)
		if i == 0 {
			p.add(to, news{ev: supervisor.Event{Job: "plain"}}, now)
		}
	}
	if !p.pending("x") || p.pending("y") || p.backlog != 4 {
		t.Fatalf("pending(x) %v, pending(y) %v, backlog %d: want true, false, 4", p.pending("x"), p.pending("y"), p.backlog)
	}
	if ws := p.take(now); len(ws) != 2 {
		t.Fatalf("took %d writes, want one for each destination", len(ws))
	}
	if p.pending("x") || p.backlog != 0 {
		t.Errorf("after the turn, pending(x) %v and backlog %d: want false and 0", p.pending("x"), p.backlog)
	}
	p.add(one, news{inc: "x"}, now)
	p.drain()
	if p.pending("x") || p.backlog != 0 {
		t.Errorf("after a drain, pending(x) %v and backlog %d: want false and 0", p.pending("x"), p.backlog)
	}
}

// Once as many news wait as the queue holds, the events that come keep only their
// error line, as those that find the queue full do: the memory a storm takes does not
// grow with its size by the output of each job, and every digest line is still there.
func TestBacklogKeepsTheErrorLine(t *testing.T) {
	t.Parallel()
	const queue, n = 10, 50
	p := newPipeline(pacedConsole{console{w: io.Discard, header: consoleHeader}, time.Hour, io.Discard}, nil, Options{Host: "h", Queue: queue})
	var evs []supervisor.Event
	for i := range n {
		evs = append(evs, supervisor.Event{Kind: supervisor.KindFailure, Job: fmt.Sprintf("job%d", i), Host: "h", ExitCode: 1,
			Notify: supervisor.Notify{On: supervisor.DefaultNotifyOn}, OutputLines: 101,
			Output: fmt.Appendf(nil, "%sjob%d: connection refused\n", strings.Repeat("noise\n", 100), i)})
	}
	p.accept(evs...)
	whole := 0
	for i, ev := range evs {
		inc := p.book.mem.Incidents[ev.Job]
		if inc == nil || !strings.Contains(inc.Line, fmt.Sprintf("job%d: connection refused", i)) {
			t.Fatalf("job%d's incident %+v: want it open, its line saying its error", i, inc)
		}
		switch kept := string(p.latest[inc.ID].Output); kept {
		case string(ev.Output):
			whole++
		case fmt.Sprintf("job%d: connection refused\n", i):
		default:
			t.Errorf("job%d keeps %q of its output, want all of it or its error line", i, kept)
		}
	}
	if whole != queue {
		t.Errorf("%d events keep all their output, want the first %d: as many as the queue holds", whole, queue)
	}
}
