package notifier

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/supervise/supervise/supervisor"
)

func TestClean(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"plain", "hello\nworld\n", "hello\nworld\n"},
		{"tab kept", "a\tb", "a\tb"},
		{"colours", "\x1b[1;31mError:\x1b[0m disk full", "Error: disk full"},
		{"cursor moves and erase", "\x1b[2K\x1b[1Gdone\x1b[?25h", "done"},
		{"osc title ended by BEL", "\x1b]0;my title\adone", "done"},
		{"osc hyperlink ended by ST", "\x1b]8;;https://x.org\x1b\\link\x1b]8;;\x1b\\ text", "link text"},
		{"unterminated osc stops at newline", "\x1b]0;title\nnext", "\nnext"},
		{"charset and keypad escapes", "\x1b(Bx\x1b7y\x1b=z", "xyz"},
		{"escape at end", "done\x1b", "done"},
		{"unfinished csi at end", "done\x1b[12;", "done"},
		{"csi cut by newline", "a\x1b[12\nb", "a\nb"},
		{"progress bar", "  10%\r  50%\r 100%\n", " 100%\n"},
		{"progress then erase", "  10%\r\x1b[K 100%", " 100%"},
		{"crlf is a newline", "one\r\ntwo\r\n", "one\ntwo\n"},
		{"pty crcrlf", "one\r\r\ntwo", "one\ntwo"},
		{"trailing cr keeps line", "50%\r", "50%"},
		{"invalid utf-8", "bad \xff\xfe bytes", "bad \uFFFD\uFFFD bytes"},
		{"truncated rune", "caf\xc3", "caf\uFFFD"},
		{"controls removed", "a\x00b\x07c\x08d\x7fe\u0085f", "abcdef"},
		{"unicode kept", "žluťoučký 😀 日本", "žluťoučký 😀 日本"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := clean([]byte(tt.in)); got != tt.want {
				t.Errorf("clean(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// Cleaning only the tail must give what cleaning everything gives, which holds only if
// no state crosses a newline.
func TestCleanKeepsNewlines(t *testing.T) {
	t.Parallel()
	in := []byte("a\x1b]0;t\nb\x1b[3\nc\r\nd\x1b\ne\xff\n")
	if got, want := strings.Count(clean(in), "\n"), bytes.Count(in, []byte("\n")); got != want {
		t.Errorf("clean(%q) has %d newlines, want %d", in, got, want)
	}
}

func TestLastLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		ev    supervisor.Event
		want  []string
		wantN int
	}{
		{"empty", supervisor.Event{}, nil, 0},
		{"unterminated last line", supervisor.Event{Output: []byte("a\nb"), OutputLines: 2}, []string{"a", "b"}, 0},
		{"terminated", supervisor.Event{Output: []byte("a\nb\n"), OutputLines: 2}, []string{"a", "b"}, 0},
		{"blank lines kept", supervisor.Event{Output: []byte("\n\na\n\n")}, []string{"", "", "a", ""}, 0},
		{"just a newline", supervisor.Event{Output: []byte("\n"), OutputLines: 1}, []string{""}, 0},
		{"tail", supervisor.Event{Output: []byte("1\n2\n3\n4\n"), OutputLines: 4, Notify: supervisor.Notify{Tail: 2}}, []string{"3", "4"}, 2},
		{"tail of unterminated", supervisor.Event{Output: []byte("1\n2\n3"), Notify: supervisor.Notify{Tail: 2}}, []string{"2", "3"}, 1},
		{"wrapped buffer drops partial first line",
			supervisor.Event{Output: []byte("ial\nb\nc\n"), OutputLines: 10},
			[]string{"b", "c"}, 8},
		{"one wrapped line looks whole",
			supervisor.Event{Output: []byte("\xa9nd of a long line"), OutputLines: 1},
			[]string{"\uFFFDnd of a long line"}, 0},
		{"wrapped one line after earlier lines",
			supervisor.Event{Output: []byte("end"), OutputLines: 5},
			[]string{"…end"}, 4},
		{"fewer counted than kept", supervisor.Event{Output: []byte("a\nb\n"), OutputLines: 0}, []string{"a", "b"}, 0},
		{"default tail is 40", supervisor.Event{Output: numbered(100)}, numberedLines(61, 100), 60},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := lastLines(tt.ev)
			if !reflect.DeepEqual(got.lines, tt.want) || got.omitted != tt.wantN {
				t.Errorf("lastLines() = %q, %d omitted; want %q, %d", got.lines, got.omitted, tt.want, tt.wantN)
			}
		})
	}
}

func numbered(n int) []byte {
	var b bytes.Buffer
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	return b.Bytes()
}

func numberedLines(from, to int) []string {
	var s []string
	for i := from; i <= to; i++ {
		s = append(s, fmt.Sprintf("line %d", i))
	}
	return s
}

func TestHuman(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"},
		{12 * time.Microsecond, "12µs"},
		{450 * time.Millisecond, "450ms"},
		{450*time.Millisecond + 400*time.Microsecond, "450ms"},
		{4 * time.Second, "4s"},
		{4*time.Second + 520*time.Millisecond, "4.5s"},
		{2*time.Minute + 13*time.Second + 400*time.Millisecond, "2m13s"},
		{2 * time.Minute, "2m"},
		{59*time.Minute + 59*time.Second + 600*time.Millisecond, "1h"},
		{time.Hour + 2*time.Minute + 20*time.Second, "1h2m"},
		{2 * time.Hour, "2h"},
		{50*time.Hour + 30*time.Second, "50h1m"},
		{-3 * time.Second, "-3s"},
	}
	for _, tt := range tests {
		if got := human(tt.in); got != tt.want {
			t.Errorf("human(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestClip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		in        string
		max       int
		want      string
		wantStart string
	}{
		{"fits", "abc", 3, "abc", "abc"},
		{"ascii", "abcdef", 4, "abc…", "…def"},
		{"escapes count", "a<b>c", 5, "a…", "…c"},
		{"emoji count twice", "😀😀😀", 4, "😀…", "…😀"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := clip(tt.in, tt.max); got != tt.want {
				t.Errorf("clip(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
			}
			if got := clipStart(tt.in, tt.max); got != tt.wantStart {
				t.Errorf("clipStart(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.wantStart)
			}
		})
	}
}
