package supervisor_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/supervise/supervise/supervisor"
)

func TestTail(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		writes []string
		want   string
		lines  int
	}{
		{"empty", nil, "", 0},
		{"short", []string{"a\n", "b"}, "a\nb", 2},
		{"exactly full", []string{"abcdefgh"}, "abcdefgh", 1},
		{"wraps", []string{"abcde\n", "fgh\nij"}, "e\nfgh\nij", 3},
		{"one big write", []string{"0123456789abc\n"}, "6789abc\n", 1},
		{"many small", []string{"1\n", "2\n", "3\n", "4\n", "5\n"}, "2\n3\n4\n5\n", 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tail := supervisor.NewTail(8)
			for _, w := range tc.writes {
				tail.Write([]byte(w))
			}
			if got := string(tail.Bytes()); got != tc.want {
				t.Errorf("Bytes() = %q, want %q", got, tc.want)
			}
			if got := tail.Lines(); got != tc.lines {
				t.Errorf("Lines() = %d, want %d", got, tc.lines)
			}
		})
	}
}

// FuzzTail checks the ring against the obvious implementation: keep everything.
func FuzzTail(f *testing.F) {
	f.Add([]byte("hello\nworld"), uint8(3), uint8(5))
	f.Fuzz(func(t *testing.T, data []byte, size, chunk uint8) {
		if size == 0 || chunk == 0 {
			return
		}
		tail := supervisor.NewTail(int(size))
		for p := data; len(p) > 0; {
			n := min(int(chunk), len(p))
			tail.Write(p[:n])
			p = p[n:]
		}
		want := data[max(0, len(data)-int(size)):]
		if got := tail.Bytes(); !bytes.Equal(got, want) {
			t.Errorf("Bytes() = %q, want %q", got, want)
		}
	})
}

// A Tail's memory grows with the output, up to its size, and keeps the last bytes
// across the growth.
func TestTailGrows(t *testing.T) {
	t.Parallel()
	tl := supervisor.NewTail(1 << 20)
	var all []byte
	for i := range 5000 { // about 1.7 MB
		line := []byte(strings.Repeat(string(rune('a'+i%26)), i%700) + "\n")
		tl.Write(line)
		all = append(all, line...)
	}
	want := all[len(all)-(1<<20):]
	if got := tl.Bytes(); !bytes.Equal(got, want) {
		t.Errorf("kept %d bytes, not the last %d written", len(got), len(want))
	}
	small := supervisor.NewTail(1 << 20)
	small.Write([]byte("hello\n"))
	if got := string(small.Bytes()); got != "hello\n" {
		t.Errorf("kept %q", got)
	}
}
