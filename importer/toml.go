package importer

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// A job file is written by hand rather than by BurntSushi/toml's encoder, which
// neither keeps keys in the order a reader expects nor writes comments; every file is
// then read back by supervisor.Parse (load), which is the judge of its quoting.

// jobText is a job file being written: comments first, then keys, then tables.
type jobText struct {
	head, keys, tables strings.Builder
}

// comment adds a line of comment to the file's head.
func (t *jobText) comment(format string, a ...any) {
	for _, line := range strings.Split(fmt.Sprintf(format, a...), "\n") {
		t.head.WriteString(strings.TrimRight("# "+commentSafe(line), " ") + "\n")
	}
}

// key adds key = value (value written as TOML already), with why as a comment after
// it when not empty.
func (t *jobText) key(key, value, why string) {
	line := key + " = " + value
	if why != "" {
		line = fmt.Sprintf("%-24s # %s", line, commentSafe(why))
	}
	t.keys.WriteString(line + "\n")
}

// table adds a [name] table of string values, its keys sorted.
func (t *jobText) table(name string, m map[string]string) {
	if len(m) == 0 {
		return
	}
	fmt.Fprintf(&t.tables, "\n[%s]\n", name)
	for _, k := range sortedKeys(m) {
		fmt.Fprintf(&t.tables, "%s = %s\n", tomlKey(k), tomlString(m[k]))
	}
}

func (t *jobText) bytes() []byte {
	return []byte(t.head.String() + t.keys.String() + t.tables.String())
}

// tomlString quotes s as a TOML basic string: a multi-line one when s has lines,
// which reads as the shell script it usually is.
func tomlString(s string) string {
	multi := strings.Contains(s, "\n")
	var b strings.Builder
	if multi {
		b.WriteString("\"\"\"\n") // the newline after the quotes is not part of the string
	} else {
		b.WriteByte('"')
	}
	for i, c := range s {
		switch {
		case c == '\\':
			b.WriteString(`\\`)
		case c == '"' && (!multi || i == len(s)-1 || s[i+1] == '"'):
			// In a multi-line string, a quote is escaped only where it could make
			// """ with the next: before another, or before the closing ones.
			b.WriteString(`\"`)
		case c == '\n' && multi, c == '\t':
			b.WriteRune(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, c)
		default:
			b.WriteRune(c)
		}
	}
	if multi {
		b.WriteString(`"""`)
	} else {
		b.WriteByte('"')
	}
	return b.String()
}

// tomlStrings writes argv as a TOML array of strings.
func tomlStrings(argv []string) string {
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = tomlString(a)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

var bareKey = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_-]+$`) })

// tomlKey writes k as a TOML key: bare when it may be, else quoted.
func tomlKey(k string) string {
	if bareKey().MatchString(k) {
		return k
	}
	return tomlString(k)
}

// commentSafe is s as a comment may hold it: a line of text. Control characters
// and bytes that are not UTF-8 are shown escaped, as Go quotes them.
func commentSafe(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, func(c rune) bool { return c < 0x20 && c != '\t' || c == 0x7f }) {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// shellQuote quotes word for /bin/sh when it needs it.
func shellQuote(word string) string {
	if word != "" && !strings.ContainsFunc(word, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_./=:,+@%", c))
	}) {
		return word
	}
	return "'" + strings.ReplaceAll(word, "'", `'\''`) + "'"
}
