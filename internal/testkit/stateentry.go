package testkit

import (
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// Entry is a kind of thing that may be found where the state folder holds a file of
// supervise's (a spooled message, a job's last run, the book of incidents), and that
// supervise must set aside rather than read: Make makes one at path, and Why is
// what supervise says of it on stderr.
type Entry struct {
	Name, Why string
	Make      func(t testing.TB, path string)
}

// NotRegular are the entries that are not regular files: a FIFO (which blocks whoever
// opens it to read), a socket, a directory with a file in it, and symbolic links to
// a file, to a FIFO and to nothing.
func NotRegular() []Entry {
	return []Entry{
		{"fifo", "not a regular file: a FIFO", func(t testing.TB, path string) { mkfifo(t, path) }},
		{"socket", "not a regular file: a socket", mksocket},
		{"dir", "not a regular file: a directory", func(t testing.TB, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(path, "inside"), "a file in it")
		}},
		{"symlink", "not a regular file: a symbolic link", func(t testing.TB, path string) {
			target := filepath.Join(t.TempDir(), "target")
			writeFile(t, target, `{"the target": "is not the state's"}`)
			symlink(t, target, path)
		}},
		{"fifolink", "not a regular file: a symbolic link", func(t testing.TB, path string) {
			target := filepath.Join(t.TempDir(), "fifo")
			mkfifo(t, target)
			symlink(t, target, path)
		}},
		{"dangling", "not a regular file: a symbolic link", func(t testing.TB, path string) {
			symlink(t, filepath.Join(t.TempDir(), "nowhere"), path)
		}},
	}
}

// Garbage are regular files that do not hold what supervise writes: empty, bytes
// that are not JSON, a good file (good) cut short, and one larger than max (sparse:
// it costs no disk).
func Garbage(good []byte, max int64) []Entry {
	return []Entry{
		{"empty", "empty", func(t testing.TB, path string) { writeFile(t, path, "") }},
		{"garbage", "not JSON: ", func(t testing.TB, path string) { writeFile(t, path, "\x00\xff\x1b[31mgarbage\n") }},
		// Cut after a backslash, encoding/json says "invalid character ' ' in string
		// escape code" rather than "unexpected end of JSON input".
		{"truncated", "not JSON: ", func(t testing.TB, path string) {
			writeFile(t, path, string(good[:len(good)/2]))
		}},
		{"toobig", fmt.Sprintf("too big: %d bytes", max+1), func(t testing.TB, path string) {
			f, err := os.Create(path)
			if err == nil {
				err = f.Truncate(max + 1)
				f.Close()
			}
			if err != nil {
				t.Fatal(err)
			}
		}},
	}
}

func writeFile(t testing.TB, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func mkfifo(t testing.TB, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
}

func symlink(t testing.TB, target, path string) {
	t.Helper()
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
}

// mksocket binds a unix socket at path and closes it, which leaves the socket file.
// It is bound in a folder of a short name and moved: a socket's path is short.
func mksocket(t testing.TB, path string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "sock")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: filepath.Join(dir, "s")}); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "s"), path); err != nil {
		t.Fatal(err)
	}
}

// Fingerprint describes the entry at path by what it is and holds (a file's bytes,
// a link's target, a directory's entries, each described): an entry moved elsewhere
// has the same, and one that lost anything has not.
func Fingerprint(t testing.TB, path string) string {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatalf("fingerprint: %v", err)
	}
	switch fi.Mode().Type() {
	case 0:
		// Streamed: a file too big for the state folder is tens of MiB.
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		h := sha256.New()
		n, err := io.Copy(h, f)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("file of %d bytes %x", n, h.Sum(nil))
	case fs.ModeSymlink:
		target, err := os.Readlink(path)
		if err != nil {
			t.Fatal(err)
		}
		return "link to " + target
	case fs.ModeDir:
		entries, err := os.ReadDir(path)
		if err != nil {
			t.Fatal(err)
		}
		var in []string
		for _, e := range entries {
			in = append(in, e.Name()+": "+Fingerprint(t, filepath.Join(path, e.Name())))
		}
		slices.Sort(in)
		return "dir {" + strings.Join(in, "; ") + "}"
	}
	return fi.Mode().Type().String()
}
