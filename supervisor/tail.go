package supervisor

import (
	"bytes"
	"sync"
)

// DefaultTailSize is how much of a job's output is kept for messages: enough for
// the last few hundred lines, small enough to keep for hundreds of jobs.
const DefaultTailSize = 64 << 10

// Tail keeps the last bytes written to it in a fixed ring, and counts every line,
// so a message can quote the end of a job's output and say how much came before.
// It is safe for concurrent use.
type Tail struct {
	mu    sync.Mutex
	max   int // the size buf grows to, as output comes
	buf   []byte
	next  int  // where the next byte goes
	full  bool // buf has wrapped at least once
	lines int  // newlines written
	open  bool // the last byte written was not a newline
}

// NewTail returns a Tail that keeps the last size bytes. Its memory is taken as
// output comes, so a job that writes nothing costs nothing whatever size is.
func NewTail(size int) *Tail { return &Tail{max: size} }

// Write keeps the end of p. It never fails.
func (t *Tail) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines += bytes.Count(p, []byte{'\n'})
	t.open = p[len(p)-1] != '\n'
	n := len(p)
	if !t.full && t.next+n >= len(t.buf) && len(t.buf) < t.max {
		// Room to spare, so the ring does not wrap before it has grown to its size.
		grown := make([]byte, min(t.max, max(4<<10, 2*len(t.buf), 2*(t.next+n))))
		copy(grown, t.buf[:t.next])
		t.buf = grown
	}
	if len(p) >= len(t.buf) {
		copy(t.buf, p[len(p)-len(t.buf):])
		t.next, t.full = 0, true
		return n, nil
	}
	c := copy(t.buf[t.next:], p)
	if c < len(p) {
		copy(t.buf, p[c:])
		t.full = true
	}
	t.next = (t.next + len(p)) % len(t.buf)
	if t.next == 0 {
		t.full = true
	}
	return n, nil
}

// Bytes returns a copy of the bytes kept, oldest first.
func (t *Tail) Bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.full {
		return append([]byte{}, t.buf[:t.next]...)
	}
	out := make([]byte, 0, len(t.buf))
	out = append(out, t.buf[t.next:]...)
	return append(out, t.buf[:t.next]...)
}

// Lines returns how many lines were written in all, counting an unfinished last line.
func (t *Tail) Lines() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.open {
		return t.lines + 1
	}
	return t.lines
}
