package supervisor

import (
	"bytes"
	"hash/fnv"
	"io"
	"sync"
)

// lineWriter interleaves the output of many jobs on one writer line by line, each line
// behind its job's name ("web | listening on :8080"), as foreman and goreman do.
type lineWriter struct {
	mu    sync.Mutex
	w     io.Writer
	color bool // colour each job's name, for a terminal
}

// colors are the ANSI foreground colours names are shown in; red is left out, as it
// reads as an error.
var colors = []string{"32", "33", "34", "35", "36", "92", "93", "94", "95", "96"}

// maxPartial bounds the unfinished line kept per job: a program that draws a progress
// bar without newlines is shown in pieces rather than held forever.
const maxPartial = 4096

// prefixed returns the writer for one job's output, or nil when there is no output.
func (lw *lineWriter) prefixed(name string) *prefixWriter {
	if lw.w == nil {
		return nil
	}
	prefix := name + " | "
	if lw.color {
		// A job keeps its colour across reloads and restarts: it follows from its name.
		h := fnv.New32a()
		h.Write([]byte(name))
		prefix = "\x1b[" + colors[h.Sum32()%uint32(len(colors))] + "m" + name + " |\x1b[0m "
	}
	return &prefixWriter{lw: lw, prefix: []byte(prefix)}
}

type prefixWriter struct {
	lw      *lineWriter
	prefix  []byte
	partial []byte // the start of a line not yet ended; used by one job's reader only
}

// lineBufs holds the buffers that Write builds the console's lines in. A buffer is
// needed only while a write is under way, so they are shared rather than kept per
// job: of hundreds of jobs, few write at any moment. Without it each write of a job
// writing flat out grew a new buffer from nothing, and up spent more on that, and on
// collecting it, than on reading the output and writing its log.
var lineBufs = sync.Pool{New: func() any { return new([]byte) }}

func (p *prefixWriter) Write(b []byte) (int, error) {
	// Each whole line gets a prefix, and one more may come with a flushed partial
	// line and its newline: room for all of them is made at once.
	size := len(p.partial) + len(b) + (bytes.Count(b, []byte{'\n'})+1)*len(p.prefix) + 1
	buf := lineBufs.Get().(*[]byte)
	defer lineBufs.Put(buf)
	if cap(*buf) < size {
		*buf = make([]byte, 0, size)
	}
	out := (*buf)[:0]
	for rest := b; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			p.partial = append(p.partial, rest...)
			if len(p.partial) >= maxPartial {
				out = append(append(append(out, p.prefix...), p.partial...), '\n')
				p.partial = p.partial[:0]
			}
			break
		}
		out = append(append(append(out, p.prefix...), p.partial...), rest[:i+1]...)
		p.partial = p.partial[:0]
		rest = rest[i+1:]
	}
	if len(out) > 0 {
		p.lw.mu.Lock()
		_, err := p.lw.w.Write(out)
		p.lw.mu.Unlock()
		if err != nil {
			return len(b), nil // a closed stdout must not stop the job's capture
		}
	}
	return len(b), nil
}

// Flush writes out an unfinished last line, as when its job has ended.
func (p *prefixWriter) Flush() {
	if len(p.partial) > 0 {
		p.Write([]byte{'\n'})
	}
}
