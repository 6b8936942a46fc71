package supervisor

import (
	"bytes"
	"strings"
	"testing"
)

func TestPrefixWriter(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	lw := &lineWriter{w: &out}
	a, b := lw.prefixed("a"), lw.prefixed("b")
	a.Write([]byte("one\ntw"))
	b.Write([]byte("x\n"))
	a.Write([]byte("o\nthree"))
	a.Flush()
	a.Write([]byte(strings.Repeat("z", maxPartial)))
	want := "a | one\nb | x\na | two\na | three\na | " + strings.Repeat("z", maxPartial) + "\n"
	if out.String() != want {
		t.Errorf("got %q\nwant %q", out.String(), want)
	}

	out.Reset()
	colored := &lineWriter{w: &out, color: true}
	colored.prefixed("web").Write([]byte("up\n"))
	if s := out.String(); !strings.HasPrefix(s, "\x1b[") || !strings.HasSuffix(s, "web |\x1b[0m up\n") {
		t.Errorf("coloured line %q", s)
	}
}
