package statefile_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/supervise/supervise/internal/statefile"
	"github.com/supervise/supervise/internal/testkit"
)

// Whatever is at the path, ReadFile and Open return at once: a regular file with its
// bytes, anything else as a *Bad that says what it is, and a missing file as
// fs.ErrNotExist.
func TestReadFileNeverBlocks(t *testing.T) {
	t.Parallel()
	good := []byte(`{"due": "2025-01-02T03:04:05Z"}`)
	for _, e := range append(testkit.NotRegular(), testkit.Garbage(good, 1<<10)...) {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "x.json")
			e.Make(t, path)
			var v map[string]any
			var err error
			testkit.Within(t, 5*time.Second, "ReadFile of "+e.Name, func() {
				var data []byte
				if data, err = statefile.ReadFile(path, 1<<10); err == nil {
					err = statefile.Decode(path, data, &v)
				}
			})
			var bad *statefile.Bad
			if !errors.As(err, &bad) || bad.Path != path || !strings.HasPrefix(bad.Why, e.Why) {
				t.Errorf("ReadFile and Decode: %v; want a *Bad of %s saying %q", err, path, e.Why)
			}
			testkit.Within(t, 5*time.Second, "Open for writing of "+e.Name, func() {
				var f *os.File
				if f, _, err = statefile.Open(path, os.O_RDWR, 0, 1<<10); err == nil {
					f.Close()
				}
			})
			if e.Why == "empty" || strings.HasPrefix(e.Why, "not JSON") {
				if err != nil {
					t.Errorf("Open: %v; want a regular file opened", err)
				}
			} else if !errors.As(err, &bad) || !strings.HasPrefix(bad.Why, e.Why) {
				t.Errorf("Open: %v; want a *Bad saying %q", err, e.Why)
			}
		})
	}
	t.Run("good", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "x.json")
		os.WriteFile(path, good, 0o600)
		var v struct{ Due time.Time }
		data, err := statefile.ReadFile(path, 1<<10)
		if err == nil {
			err = statefile.Decode(path, data, &v)
		}
		if err != nil || v.Due.Year() != 2025 {
			t.Errorf("ReadFile of a good file: %v, %+v", err, v)
		}
		if _, err := statefile.ReadFile(filepath.Join(t.TempDir(), "missing"), 0); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("ReadFile of a missing file: %v, want fs.ErrNotExist", err)
		}
	})
	t.Run("other JSON", func(t *testing.T) {
		var v struct{ Due time.Time }
		err := statefile.Decode("x.json", []byte(`[1, 2]`), &v)
		var bad *statefile.Bad
		if !errors.As(err, &bad) || !strings.HasPrefix(bad.Why, "not what supervise writes there: ") {
			t.Errorf("Decode of JSON of another shape: %v", err)
		}
	})
}

// SetAside moves the entry to NAME.bad, or, when that holds one set aside before,
// to NAME.bad.2: neither loses a byte.
func TestSetAsideKeepsEarlierOnes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "x.json")
	var prints []string
	for i, e := range testkit.NotRegular()[:3] {
		e.Make(t, path)
		prints = append(prints, testkit.Fingerprint(t, path))
		aside, err := statefile.SetAside(path)
		want := path + ".bad"
		if i > 0 {
			want += "." + string(rune('1'+i))
		}
		if err != nil || aside != want {
			t.Fatalf("SetAside of the %s: %q, %v; want %q", e.Name, aside, err, want)
		}
	}
	for i, aside := range []string{path + ".bad", path + ".bad.2", path + ".bad.3"} {
		if got := testkit.Fingerprint(t, aside); got != prints[i] {
			t.Errorf("%s holds %s, want %s", aside, got, prints[i])
		}
	}
	if _, err := statefile.SetAside(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("SetAside of what another set aside already: %v, want fs.ErrNotExist", err)
	}
}
