package notifier

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/supervise/supervise/supervisor"
)

// defaultTail is how many lines a message quotes when the event does not say.
const defaultTail = 40

// tail is the end of a job's output, cleaned for reading.
type tail struct {
	lines   []string // the last lines, oldest first
	omitted int      // lines the job wrote before lines[0]
}

// lastLines takes the last n lines of ev.Output (its job's tail, or defaultTail) and
// cleans them. Only those lines are cleaned, so a megabyte of output costs one scan for
// newlines; that works because clean never lets state cross a newline.
func lastLines(ev supervisor.Event) tail {
	out := ev.Output
	if len(out) == 0 {
		return tail{}
	}
	n := ev.Notify.Tail
	if n <= 0 {
		n = defaultTail
	}
	// A last line without a newline is still a line; the newline that ends the last
	// line does not start another.
	out = bytes.TrimSuffix(out, []byte("\n"))
	have := bytes.Count(out, []byte("\n")) + 1
	total := max(ev.OutputLines, have)

	// When the capture buffer wrapped, the first line has lost its start, perhaps in the
	// middle of a UTF-8 sequence or an escape; drop it unless it is all there is.
	partial := ev.OutputLines > have
	if partial && have > 1 {
		out = out[bytes.IndexByte(out, '\n')+1:]
		have--
		partial = false
	}

	start := len(out)
	for range min(n, have) {
		start = bytes.LastIndexByte(out[:start], '\n')
	}
	lines := strings.Split(clean(out[start+1:]), "\n")
	if partial {
		lines[0] = "…" + lines[0]
	}
	return tail{lines: lines, omitted: total - len(lines)}
}

// clean turns what a program wrote to a terminal into plain text: escape sequences are
// removed, a carriage return lets the text after it replace the line (progress bars),
// invalid UTF-8 becomes U+FFFD, and control characters other than newline and tab go.
// Newlines are kept exactly, so lines can be counted before cleaning.
func clean(b []byte) string {
	out := make([]byte, 0, len(b))
	lineStart := 0
	cr := false // a carriage return waits for text to replace the line with
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '\n':
			out = append(out, '\n')
			lineStart = len(out)
			cr = false
			i++
			continue
		case c == '\r':
			// Only text after it rewrites the line: "\r\n" from a pty, or a final
			// "\r" after a progress bar, leaves the line alone.
			cr = true
			i++
			continue
		case c == 0x1b:
			i = skipEscape(b, i)
			continue
		case c < 0x20 && c != '\t' || c == 0x7f:
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		i += size
		if r != '\t' && unicode.IsControl(r) {
			continue
		}
		if cr {
			out = out[:lineStart]
			cr = false
		}
		out = utf8.AppendRune(out, r)
	}
	return string(out)
}

// skipEscape returns the index just past the escape sequence that starts at b[i]. A
// sequence that is malformed or unterminated ends before the offending byte, and never
// swallows a newline, so a stray ESC costs at most the rest of its line's sequence.
func skipEscape(b []byte, i int) int {
	j := i + 1
	if j >= len(b) {
		return j
	}
	switch b[j] {
	case '[': // CSI: parameters and intermediates, then one final byte
		j++
		for j < len(b) && b[j] >= 0x20 && b[j] <= 0x3f {
			j++
		}
		if j < len(b) && b[j] >= 0x40 && b[j] <= 0x7e {
			j++
		}
		return j
	case ']', 'P', 'X', '^', '_': // OSC, DCS, SOS, PM, APC: strings ended by BEL or ST
		for j++; j < len(b); j++ {
			switch b[j] {
			case 0x07:
				return j + 1
			case 0x1b:
				if j+1 < len(b) && b[j+1] == '\\' {
					return j + 2
				}
				return j
			case '\n':
				return j
			}
		}
		return j
	default: // intermediates, then one final byte: ESC ( B, ESC 7, ESC =
		for j < len(b) && b[j] >= 0x20 && b[j] <= 0x2f {
			j++
		}
		if j < len(b) && b[j] >= 0x30 && b[j] <= 0x7e {
			j++
		}
		return j
	}
}
