// Package statefile reads the files of the state folder (the spool, the last runs,
// the book of incidents) without ever blocking on what supervise did not put there,
// and sets aside what it cannot read, by one rule for the whole folder: an entry that
// is not a regular file (a FIFO, a socket, a directory, a symbolic link, a device), or
// that does not hold what supervise writes there (empty, garbage, cut short, too big),
// is renamed NAME.bad (NAME.bad.2, and so on, when that is taken), with all its bytes,
// out of the way of every later read; whoever set it aside says so once, on stderr,
// naming the path and what is wrong with it.
package statefile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"syscall"
)

// Bad is an entry of the state folder that is not what supervise writes there: Why
// says what it is ("not a regular file: a FIFO", "not JSON: …").
type Bad struct {
	Path, Why string
}

func (b *Bad) Error() string { return b.Path + ": " + b.Why }

// Open opens the state file at path with flag (os.O_RDONLY, os.O_WRONLY or
// os.O_RDWR, with os.O_CREATE and os.O_APPEND as need be; perm for a new file), and
// returns it with its fstat, when it is a regular file of at most max bytes (0 for
// any size); anything else is a *Bad. It never blocks: a FIFO is opened without
// waiting for the other end (O_NONBLOCK, of no effect on a regular file), a symbolic
// link is not followed (supervise makes none), and the type is read from the
// descriptor, so an entry swapped between a look at the folder and the open is
// caught too. A missing file is fs.ErrNotExist.
func Open(path string, flag int, perm fs.FileMode, max int64) (*os.File, *syscall.Stat_t, error) {
	f, err := os.OpenFile(path, flag|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, perm)
	if err != nil {
		// A symbolic link (ELOOP), a socket or a FIFO opened for writing alone (ENXIO),
		// a directory opened for writing (EISDIR): the entry itself says what it is.
		// Only this path costs an lstat.
		var st syscall.Stat_t
		if !errors.Is(err, fs.ErrNotExist) && syscall.Lstat(path, &st) == nil && typeOf(st.Mode) != 0 {
			return nil, nil, NotRegular(path, typeOf(st.Mode))
		}
		return nil, nil, err
	}
	st := new(syscall.Stat_t)
	if err := syscall.Fstat(int(f.Fd()), st); err != nil {
		f.Close()
		return nil, nil, &fs.PathError{Op: "fstat", Path: path, Err: err}
	}
	switch {
	case typeOf(st.Mode) != 0:
		f.Close()
		return nil, nil, NotRegular(path, typeOf(st.Mode))
	case max > 0 && st.Size > max:
		f.Close()
		return nil, nil, &Bad{path, fmt.Sprintf("too big: %d bytes, where supervise writes at most %d", st.Size, max)}
	}
	return f, st, nil
}

// ReadFile reads the state file at path, as Open opens it.
func ReadFile(path string, max int64) ([]byte, error) {
	f, st, err := Open(path, os.O_RDONLY, 0, max)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// Sized by the fstat, so the usual file is read in one go, and its EOF in another.
	buf := bytes.NewBuffer(make([]byte, 0, st.Size+bytes.MinRead))
	if _, err := buf.ReadFrom(f); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Decode decodes the JSON data read from path into v; what is not is a *Bad saying
// why: empty, not JSON (garbage, or cut short), or JSON of another shape.
func Decode(path string, data []byte, v any) error {
	err := json.Unmarshal(data, v)
	switch {
	case err == nil:
		return nil
	case len(data) == 0:
		return &Bad{path, "empty"}
	case !json.Valid(data):
		return &Bad{path, "not JSON: " + err.Error()}
	}
	return &Bad{path, "not what supervise writes there: " + err.Error()}
}

// SetAside renames the entry at path to the first of NAME.bad, NAME.bad.2, … that is
// free, so that an entry set aside before keeps its bytes too, and returns that path.
// Two processes that find the same entry may both set it aside: the second finds it
// gone (fs.ErrNotExist), and has nothing to say.
func SetAside(path string) (string, error) {
	for i := 1; i < 1000; i++ {
		aside := path + ".bad"
		if i > 1 {
			aside += "." + strconv.Itoa(i)
		}
		if _, err := os.Lstat(aside); !errors.Is(err, fs.ErrNotExist) {
			continue // an earlier one, kept: its bytes are not lost to this one
		}
		return aside, os.Rename(path, aside)
	}
	return "", fmt.Errorf("set aside %s: %s.bad to .bad.999 are all taken", path, path)
}

// NotRegular is the entry at path, of type typ (a directory listing's), which is not
// a regular file.
func NotRegular(path string, typ fs.FileMode) *Bad {
	what := "of an unknown type"
	switch typ & fs.ModeType {
	case fs.ModeNamedPipe:
		what = "a FIFO"
	case fs.ModeDir:
		what = "a directory"
	case fs.ModeSymlink:
		what = "a symbolic link"
	case fs.ModeSocket:
		what = "a socket"
	case fs.ModeDevice, fs.ModeDevice | fs.ModeCharDevice:
		what = "a device"
	}
	return &Bad{path, "not a regular file: " + what}
}

// typeOf is the type of a stat mode, as fs.FileMode has it: 0 for a regular file.
func typeOf(mode uint32) fs.FileMode {
	switch mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		return 0
	case syscall.S_IFIFO:
		return fs.ModeNamedPipe
	case syscall.S_IFDIR:
		return fs.ModeDir
	case syscall.S_IFLNK:
		return fs.ModeSymlink
	case syscall.S_IFSOCK:
		return fs.ModeSocket
	case syscall.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFBLK:
		return fs.ModeDevice
	}
	return fs.ModeIrregular
}
