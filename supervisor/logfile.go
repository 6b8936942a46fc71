package supervisor

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/supervise/supervise/internal/statefile"
)

// logFile is a job's log under `supervise up`, STATE/logs/JOB.log, rotated by size:
// once it would grow past max, JOB.log becomes JOB.log.1, .1 becomes .2 and so on,
// keeping keep old files. It is written by one job's reader at a time.
type logFile struct {
	path   string
	max    int64
	keep   int
	stderr io.Writer

	f       *os.File
	size    int64
	broken  bool      // a failure was reported; the log is off until it can be opened again
	retryAt time.Time // when to try opening it again
}

// logRetry is how long a log that failed stays off before it is tried again.
const logRetry = 10 * time.Second

// Write appends p to the log. It never fails: a full disk must not stop the job or
// the capture of its output, so a failure is reported once on stderr instead.
func (l *logFile) Write(p []byte) (int, error) {
	if l.f == nil && (!l.broken || time.Now().After(l.retryAt)) {
		l.open()
	}
	if l.f != nil && l.size > 0 && l.size+int64(len(p)) > l.max {
		l.rotate()
	}
	if l.f == nil {
		return len(p), nil
	}
	n, err := l.f.Write(p)
	l.size += int64(n)
	if err != nil {
		l.fail(err)
	}
	return len(p), nil
}

func (l *logFile) open() {
	if err := os.MkdirAll(filepath.Dir(l.path), 0o700); err != nil {
		l.fail(err)
		return
	}
	// What is in the log's place and is no regular file is never opened to wait on
	// (a FIFO would hold the job's output, and up's stop, for ever): it is set aside,
	// once, and the log begins anew.
	f, st, err := statefile.Open(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640, 0)
	var bad *statefile.Bad
	if errors.As(err, &bad) {
		aside, aerr := statefile.SetAside(l.path)
		switch {
		case aerr != nil && !errors.Is(aerr, fs.ErrNotExist):
			l.fail(fmt.Errorf("%s; it cannot be set aside: %v", bad.Why, aerr))
			return
		case aerr == nil && l.stderr != nil:
			fmt.Fprintf(l.stderr, "supervise: log %v; set aside as %s\n", bad, filepath.Base(aside))
		}
		f, st, err = statefile.Open(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640, 0)
	}
	if err != nil {
		l.fail(err)
		return
	}
	l.f, l.size, l.broken = f, st.Size, false
}

// rotate shifts the old logs up by one and starts a new one.
func (l *logFile) rotate() {
	l.Close()
	os.Remove(l.path + "." + strconv.Itoa(l.keep))
	for i := l.keep - 1; i >= 1; i-- {
		os.Rename(l.path+"."+strconv.Itoa(i), l.path+"."+strconv.Itoa(i+1))
	}
	if l.keep > 0 {
		os.Rename(l.path, l.path+".1")
	} else {
		os.Remove(l.path)
	}
	l.broken = false
	l.open()
}

func (l *logFile) fail(err error) {
	if !l.broken && l.stderr != nil {
		fmt.Fprintf(l.stderr, "supervise: log %s: %v; the job's output is not logged until it works again\n", l.path, err)
	}
	l.broken, l.retryAt = true, time.Now().Add(logRetry)
	l.Close()
}

// Close closes the log file; the next Write opens it again.
func (l *logFile) Close() error {
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// ParseSize reads a size such as "10MB" or "512KiB". KB, MB and GB are taken as
// multiples of 1024, as supervisord and logrotate take them; a number without a unit
// is an error.
func ParseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}}
	for _, u := range units {
		num, ok := strings.CutSuffix(strings.TrimSpace(s), u.suffix)
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
		if err != nil || n <= 0 {
			break
		}
		if n > math.MaxInt64/u.mult { // it would wrap to a size below zero
			return 0, fmt.Errorf("%q is more bytes than a file can hold", s)
		}
		return n * u.mult, nil
	}
	return 0, fmt.Errorf("%q is not a size: write it like \"10MB\" or \"512KB\"", s)
}
