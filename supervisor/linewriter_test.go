package supervisor

import (
	"bytes"
	"io"
	"path/filepath"
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

// BenchmarkUpOutput is what up does with a job's output besides what run does: each
// line to the console behind the job's name, and all of it to the job's log. Chunks
// are as a pipe (64 KiB) and a pty (4 KiB) hand them over, of 80-byte lines.
//
//	go test -run '^$' -bench UpOutput -benchmem ./supervisor
func BenchmarkUpOutput(b *testing.B) {
	line := strings.Repeat("x", 79) + "\n"
	for _, tc := range []struct {
		name  string
		chunk int
	}{{"pipe", 64 << 10}, {"pty", 4 << 10}} {
		b.Run(tc.name, func(b *testing.B) {
			chunk := []byte(strings.Repeat(line, tc.chunk/len(line)+1)[:tc.chunk])
			lw := &lineWriter{w: io.Discard}
			log := &logFile{path: filepath.Join(b.TempDir(), "job.log"), max: 64 << 20}
			defer log.Close()
			var f followers
			w := io.MultiWriter(lw.prefixed("job"), f.writer(log))
			b.SetBytes(int64(len(chunk)))
			for b.Loop() {
				w.Write(chunk)
			}
		})
	}
}
