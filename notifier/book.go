package notifier

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/supervise/supervise/internal/statefile"
)

// store keeps the book in a file, as safely as the spool keeps messages: written
// whole to a new file, synced and renamed into place. Several processes may share
// it (up, and the runs of cron jobs): each change is made under a lock on the file's
// folder, to the book as the file holds it then. With no path it is kept in memory.
type store struct {
	path string

	mu   sync.Mutex
	mem  book
	seen fileStamp // of the file when mem was read from it or written to it
	last []byte    // what was last read or written: a book unchanged is not written
	held *held     // while a batch lasts: its updates change mem, and it writes it at its end
}

// held is the lock of a batch, which its first update takes, and what went wrong.
type held struct {
	tried   bool   // an update came: the lock was asked for
	unlock  func() // nil when the lock could not be taken
	aside   error  // a lock file that was none, set aside
	err     error  // why the lock could not be taken
	readErr error  // what kept the book from being read
}

// fileStamp tells whether a file changed since it was last read.
type fileStamp struct {
	ino, size int64
	mtime     syscall.Timespec
}

// stampOf returns the stamp of the entry at path, and its type: a symbolic link is
// not followed, as it is not by the read.
func stampOf(path string) (fileStamp, fs.FileMode, bool) {
	fi, err := os.Lstat(path)
	if err != nil {
		return fileStamp{}, 0, false
	}
	st := fi.Sys().(*syscall.Stat_t)
	return fileStamp{ino: int64(st.Ino), size: st.Size, mtime: st.Mtim}, fi.Mode().Type(), true
}

// maxBook is the most a book may hold: far more than the incidents and posts of any
// host. A bigger file is none of supervise's, and is not read.
const maxBook = 64 << 20

// update calls f with the book, and keeps what f made of it. An error says the book
// could not be read (f then has an empty one, so incidents open anew rather than
// not at all) or kept; f's changes hold in this process either way.
func (s *store) update(f func(*book)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.path == "":
		f(&s.mem)
		return nil
	case s.held != nil:
		if h := s.held; !h.tried {
			// The batch's first change: the book is locked and read as for an update,
			// and stays locked until the batch writes it.
			h.tried = true
			if h.unlock, h.aside, h.err = s.lock(); h.err == nil {
				h.readErr = s.read()
			}
		}
		f(&s.mem)
		return nil // the batch writes it, and says what went wrong
	}
	unlock, aside, err := s.lock()
	if err != nil {
		f(&s.mem)
		if s.mem.empty() {
			return aside // nothing to keep: a run that succeeds needs no writable STATE
		}
		return errors.Join(aside, err)
	}
	defer unlock()
	readErr := s.read()
	f(&s.mem)
	return errors.Join(aside, readErr, s.write())
}

// batch calls f, whose updates are made under one lock of the file and written once,
// when f returns: the first takes the lock and reads the book, as an update does, and
// none writes it. An event, what waited with it and the posts of the turn it starts
// are then one write of the whole book, with its syncs, rather than three. Its error
// is what an update's would be; the updates in f return none. With no update, it
// neither locks nor writes anything, as calm's callers want, and changed is false.
func (s *store) batch(f func()) (changed bool, err error) {
	s.mu.Lock()
	if s.path == "" || s.held != nil {
		s.mu.Unlock()
		f()
		return true, nil // in memory, or the outer batch writes it
	}
	h := &held{}
	s.held = h
	s.mu.Unlock() // f peeks and updates, which take it
	f()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held = nil
	switch {
	case !h.tried:
		return false, nil
	case h.err != nil && s.mem.empty():
		return true, h.aside // nothing to keep: a run that succeeds needs no writable STATE
	case h.err != nil:
		return true, errors.Join(h.aside, h.err)
	}
	defer h.unlock()
	return true, errors.Join(h.aside, h.readErr, s.write())
}

// calm reports whether no incident is open: none in the book as the file holds it now,
// read without the lock when it changed (reread). Then what cannot open an incident
// needs neither the lock nor a write: a run that succeeds, or a job's healthy run,
// at most reads the file.
func (s *store) calm() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.path != "" && s.reread() != nil {
		return false // the locked way says what is wrong, and sets a bad file aside
	}
	return len(s.mem.Incidents) == 0
}

// view calls f with the book as the file holds it now, for reading only: reread, with
// no lock and no write.
func (s *store) view(f func(*book)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.path != "" {
		s.reread() // a file that cannot be read leaves the book as it was; the pipeline says why
	}
	f(&s.mem)
}

// peek calls f with the book as this process last read or wrote it, for reading:
// for what only this process changes, such as when it last edited a post.
func (s *store) peek(f func(*book)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.mem)
}

// lock takes the lock that every change of the file is made under. What is in the
// lock file's place and is no regular file (a FIFO, a directory, a symbolic link) is
// set aside, as a book that is not one is, and aside says so.
func (s *store) lock() (unlock func(), aside, err error) {
	path := s.path + ".lock"
	f, _, err := statefile.Open(path, os.O_CREATE|os.O_RDWR, 0o600, 0)
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(filepath.Dir(path), 0o700); err == nil {
			f, _, err = statefile.Open(path, os.O_CREATE|os.O_RDWR, 0o600, 0)
		}
	}
	var bad *statefile.Bad
	if errors.As(err, &bad) {
		aside = setAside(bad, "")
		f, _, err = statefile.Open(path, os.O_CREATE|os.O_RDWR, 0o600, 0)
	}
	if err != nil {
		return nil, aside, fmt.Errorf("incidents: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, aside, fmt.Errorf("incidents: lock %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, aside, nil
}

// read reads the book from the file if it changed since it was last read or written.
// A file that is not a book is set aside (see statefile), and the book starts empty.
func (s *store) read() error {
	err := s.reread()
	var bad notABook
	if errors.As(err, &bad) {
		// Under the lock: no writer can have put a good book in its place meanwhile.
		s.mem, s.seen = book{}, fileStamp{}
		return setAside(bad.Bad, "; open incidents get new messages")
	}
	return err
}

// setAside sets bad aside, and returns the error that says so, with then.
func setAside(bad *statefile.Bad, then string) error {
	aside, err := statefile.SetAside(bad.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil // another process set it aside first, and said so
	case err != nil:
		return fmt.Errorf("incidents: %v; it cannot be set aside: %v", bad, err)
	}
	return fmt.Errorf("incidents: %v; set aside as %s%s", bad, filepath.Base(aside), then)
}

// notABook is a file that does not hold a book.
type notABook struct{ *statefile.Bad }

// reread reads the book from the file if it changed since it was last read or
// written, and changes nothing on disk: it needs no lock, as a writer renames a whole
// new file into place. A FIFO, or anything else that is no regular file, is not
// opened, let alone read: it is notABook.
func (s *store) reread() error {
	stamp, typ, ok := stampOf(s.path)
	switch {
	case !ok:
		if s.seen != (fileStamp{}) {
			s.mem, s.seen = book{}, fileStamp{} // removed by someone: start over
		}
		return nil
	case !typ.IsRegular():
		return notABook{statefile.NotRegular(s.path, typ)}
	case stamp == s.seen:
		return nil
	}
	data, err := statefile.ReadFile(s.path, maxBook)
	var b book
	if err == nil {
		err = statefile.Decode(s.path, data, &b)
	}
	var bad *statefile.Bad
	switch {
	case errors.As(err, &bad):
		return notABook{bad}
	case errors.Is(err, fs.ErrNotExist):
		return nil // renamed away since the lstat: the next look tells
	case err != nil:
		return fmt.Errorf("incidents: %w", err)
	}
	s.mem, s.seen, s.last = b, stamp, data
	return nil
}

// write writes the book to the file, whole or not at all.
func (s *store) write() error {
	data, err := json.Marshal(&s.mem)
	if err != nil {
		return fmt.Errorf("incidents: %w", err)
	}
	switch {
	case string(data) == string(s.last) && s.seen != (fileStamp{}):
		return nil // unchanged
	case s.seen == (fileStamp{}) && s.mem.empty():
		return nil // no file, and nothing to put in one: a run that succeeds writes nothing
	}
	dir := filepath.Dir(s.path)
	tmp, err := os.CreateTemp(dir, ".incidents-*")
	if err == nil {
		_, err = tmp.Write(data)
		if err == nil {
			err = tmp.Sync()
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), s.path)
		}
		if err != nil {
			os.Remove(tmp.Name())
		}
	}
	if err != nil {
		// Named by the book, not the temporary file, so that the same trouble (a full
		// disk) is the same error, said once.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("incidents: write %s: %w", s.path, err)
	}
	syncDir(dir)
	s.seen, _, _ = stampOf(s.path)
	s.last = data
	return nil
}

// empty reports whether b holds nothing to keep.
func (b *book) empty() bool {
	return len(b.Incidents) == 0 && len(b.Posts) == 0 && len(b.Muted) == 0
}
