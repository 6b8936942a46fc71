package supervisor

import (
	"regexp"
	"strings"
	"testing"
	"time"
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

// A paused passive job's pings, failures and successes alike, change no state and
// tell nothing; their body is kept as the last ping message. Watched again, its
// pings tell again.
func TestPulsePaused(t *testing.T) {
	p := NewPulse()
	p.watchPassive(time.Now())
	p.pause()
	for _, what := range []string{"fail", "3", "start", ""} {
		if err := p.Ping(what, "", "disk full "+what); err != nil {
			t.Fatal(err)
		}
		if news := p.takeNews(); len(news) != 0 {
			t.Errorf("ping %q to a paused job brought news %+v", what, news)
		}
	}
	if st := p.State(); st.Message != "disk full " || !st.Last.IsZero() {
		t.Errorf("after the pings a paused job has message %q and last sign %v, want the last body and none", st.Message, st.Last)
	}
	p.watchPassive(time.Now())
	if err := p.Ping("fail", "", "disk still full"); err != nil {
		t.Fatal(err)
	}
	if news := p.takeNews(); len(news) != 1 || news[0].kind != KindFailure || news[0].message != "disk still full" {
		t.Errorf("a failure pinged once watched again brought %+v, want one failure quoting it", news)
	}
}

// isPaused reports whether pause holds.
func (p *Pulse) isPaused() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.paused
}
