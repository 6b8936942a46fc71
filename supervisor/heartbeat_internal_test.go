package supervisor

import (
	"regexp"
	"strings"
	"testing"
)

// Matching output counts lines ended by a newline or a carriage return (a progress
// indicator), split across writes or not, and a line longer than the bound is matched
// once, on its start.
func TestOutputBeatLines(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		writes []string
		want   int
	}{
		{"lines", []string{"progress 1\nnoise\nprogress 2\n"}, 2},
		{"split", []string{"prog", "ress 1", "\n"}, 1},
		{"carriage returns", []string{"progress 10%\r", "progress 20%\r"}, 2},
		{"unfinished", []string{"progress 1"}, 0},
		{"no match", []string{"noise\r\nnoise\n"}, 0},
		{"long line", []string{"progress " + strings.Repeat("x", 3*maxMatchLine), strings.Repeat("y", maxMatchLine), "progress tail\n"}, 1},
		{"long line, then one", []string{strings.Repeat("x", 2*maxMatchLine) + "progress\nprogress\n"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			beats := 0
			o := &outputBeat{beat: func() { beats++ }, match: regexp.MustCompile(`^progress`)}
			for _, w := range tc.writes {
				if n, err := o.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if beats != tc.want {
				t.Errorf("%d signs of life, want %d", beats, tc.want)
			}
		})
	}
}
