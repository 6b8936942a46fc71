package supervisor

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLastLines(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var long strings.Builder
	for i := range 20000 { // past one 64 KiB chunk
		fmt.Fprintf(&long, "line %d\n", i)
	}
	for _, tc := range []struct {
		text string
		n    int
		want string
	}{
		{"", 3, ""},
		{"a\nb\nc\n", 2, "b\nc\n"},
		{"a\nb\nc\n", 5, "a\nb\nc\n"},
		{"a\nb\nc", 2, "b\nc"}, // the last line is not ended yet
		{"a\nb\nc\n", 0, ""},
		{"\n\n\n", 2, "\n\n"},
		{long.String(), 2, "line 19998\nline 19999\n"},
		{long.String(), 10000, long.String()[strings.Index(long.String(), "line 10000\n"):]},
	} {
		path := filepath.Join(dir, "log")
		os.WriteFile(path, []byte(tc.text), 0o600)
		got, err := lastLines(path, tc.n, -1)
		if err != nil || string(got) != tc.want {
			t.Errorf("lastLines(%.20q, %d) = %.40q, %v; want %.40q", tc.text, tc.n, got, err, tc.want)
		}
	}
	if got, err := lastLines(filepath.Join(dir, "missing"), 3, -1); err != nil || got != nil {
		t.Errorf("a missing log: %q, %v; want nothing", got, err)
	}
}

// A reader that does not read never holds up the job: once it is too far behind,
// it is dropped, and its channel closed, so it knows.
func TestSlowFollowerIsDropped(t *testing.T) {
	t.Parallel()
	var f followers
	var log bytes.Buffer
	w := f.writer(&log)
	ch := make(chan []byte, followQueue)
	f.readers = map[chan []byte]struct{}{ch: {}}
	for i := range followQueue + 10 {
		fmt.Fprintf(w, "%d\n", i)
	}
	n := 0
	for range ch {
		n++
	}
	if n != followQueue || strings.Count(log.String(), "\n") != followQueue+10 {
		t.Errorf("the reader got %d writes before it was dropped, the log %d lines; want %d and all",
			n, strings.Count(log.String(), "\n"), followQueue)
	}
}
