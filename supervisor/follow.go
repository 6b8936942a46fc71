package supervisor

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// followers hands a job's output to the readers of `supervise logs -f` as it is
// logged. It outlives the job's keepers, so a reader follows the job across restarts
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

// Follow returns the last lines lines of the job's log and a channel of what the job
// writes from then on, until stop is called. The channel is closed when the reader
// fell too far behind, or when the job is removed.
func (d *Daemon) Follow(name string, lines int) (last []byte, output <-chan []byte, stop func(), err error) {
	d.init()
	d.mu.Lock()
	p := d.jobs[name]
	if d.keepers[name] == nil {
		p = nil
	}
	d.mu.Unlock()
	if p == nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", name, ErrNoJob)
	}
	f := &p.followers
	f.mu.Lock()
	defer f.mu.Unlock()
	if d.LogDir != "" {
		last, err = lastLines(filepath.Join(d.LogDir, name+".log"), lines)
		if err != nil {
			return nil, nil, nil, err
		}
	}
	ch := make(chan []byte, followQueue)
	if f.readers == nil {
		f.readers = map[chan []byte]struct{}{}
	}
	f.readers[ch] = struct{}{}
	stop = func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if _, ok := f.readers[ch]; ok {
			delete(f.readers, ch)
			close(ch)
		}
	}
	return last, ch, stop, nil
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

// lastLines returns the last n lines of the file at path, read from its end; nothing
// when the file does not exist yet.
func lastLines(path string, n int) ([]byte, error) {
	if n <= 0 {
		return nil, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	const chunk = 64 << 10
	end := fi.Size()
	var data []byte
	for end > 0 {
		start := max(end-chunk, 0)
		buf := make([]byte, end-start)
		if _, err := f.ReadAt(buf, start); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		data = append(buf, data...)
		end = start
		// One more newline than lines: the one that ends the line before them. A last
		// line without its newline yet counts as a line.
		count := bytes.Count(data, []byte("\n"))
		if len(data) > 0 && data[len(data)-1] != '\n' {
			count++
		}
		if count > n {
			break
		}
	}
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
