package supervisor

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/supervise/supervise/internal/statefile"
)

// followers hands a job's output to the readers of `supervise logs -f` as it is
// logged. It outlives the job's lifecycles, so a reader follows the job across restarts
// and reloads.
type followers struct {
	mu      sync.Mutex
	readers map[chan []byte]struct{}
}

// followQueue is how many writes a reader may fall behind before it is dropped: a
// reader never holds up the job.
const followQueue = 1024

// writer returns a writer to the job's log w that also hands what it writes to every
// reader. Both happen under one lock, so a reader that starts with the end of the log
// file sees each byte once.
func (f *followers) writer(w io.Writer) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		n, err := w.Write(p)
		for ch := range f.readers {
			select {
			case ch <- bytes.Clone(p):
			default: // too slow: dropped, and told so by its closed channel
				delete(f.readers, ch)
				close(ch)
			}
		}
		return n, err
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// MaxLines is the most lines LastLines and Follow give of a log.
const MaxLines = 10000

// LastLines returns the last lines lines of the job's log (at most MaxLines).
func (d *Daemon) LastLines(name string, lines int) ([]byte, error) {
	if _, err := d.logged(name); err != nil || d.LogDir == "" {
		return nil, err
	}
	return lastLines(filepath.Join(d.LogDir, name+".log"), min(lines, MaxLines), -1)
}

// Follow returns the last lines lines of the job's log (at most MaxLines) and a
// channel of what the job writes from then on, until stop is called. The channel is
// closed when the reader fell too far behind, or when the job is removed.
func (d *Daemon) Follow(name string, lines int) (last []byte, output <-chan []byte, stop func(), err error) {
	p, err := d.logged(name)
	if err != nil {
		return nil, nil, nil, err
	}
	path := filepath.Join(d.LogDir, name+".log")
	f := &p.followers
	ch := make(chan []byte, followQueue)
	// Where the log ends when the reader joins is taken under the lock that writes
	// it, so the reader sees each byte once; the log is read after, so a long read
	// never holds up the job.
	f.mu.Lock()
	end := int64(-1)
	if fi, err := os.Stat(path); err == nil {
		end = fi.Size()
	}
	if f.readers == nil {
		f.readers = map[chan []byte]struct{}{}
	}
	f.readers[ch] = struct{}{}
	f.mu.Unlock()
	stop = func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if _, ok := f.readers[ch]; ok {
			delete(f.readers, ch)
			close(ch)
		}
	}
	if d.LogDir != "" && end >= 0 {
		if last, err = lastLines(path, min(lines, MaxLines), end); err != nil {
			stop()
			return nil, nil, nil, err
		}
	}
	return last, ch, stop, nil
}

// logged returns what the job named name keeps across lifecycles, its log readers among
// it.
func (d *Daemon) logged(name string) (*perJob, error) {
	d.init()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.lifecycles[name] == nil {
		return nil, fmt.Errorf("%s: %w", name, ErrNoJob)
	}
	return d.jobs[name], nil
}

// closeReaders ends every reader's channel, for a job that is gone.
func (f *followers) closeReaders() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.readers {
		delete(f.readers, ch)
		close(ch)
	}
}

// lastLines returns the last n lines of the file at path before byte end (-1 for
// its end), read backwards in chunks; nothing when the file does not exist yet.
func lastLines(path string, n int, end int64) ([]byte, error) {
	if n <= 0 {
		return nil, nil
	}
	// Never waits on what is in the log's place: the writer sets aside what is no
	// regular file.
	f, st, err := statefile.Open(path, os.O_RDONLY, 0, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	const chunk = 64 << 10
	if end < 0 || end > st.Size {
		end = st.Size
	}
	var chunks [][]byte // read backwards: the last first
	count, partial := 0, false
	for pos := end; pos > 0 && count <= n; {
		start := max(pos-chunk, 0)
		buf := make([]byte, pos-start)
		if _, err := f.ReadAt(buf, start); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if pos == end && len(buf) > 0 && buf[len(buf)-1] != '\n' {
			partial = true // a last line without its newline yet counts as a line
		}
		chunks = append(chunks, buf)
		// One more newline than lines: the one that ends the line before them.
		count += bytes.Count(buf, []byte("\n"))
		if partial && len(chunks) == 1 {
			count++
		}
		pos = start
	}
	slices.Reverse(chunks)
	data := bytes.Join(chunks, nil)
	// Keep the last n lines.
	cut := len(data)
	if cut > 0 && data[cut-1] == '\n' {
		cut--
	}
	for i := 0; i < n; i++ {
		j := bytes.LastIndexByte(data[:cut], '\n')
		if j < 0 {
			return data, nil
		}
		cut = j
	}
	return data[cut+1:], nil
}
