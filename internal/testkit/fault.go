package testkit

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// FaultRow is one row of the README's fault table: a fault a host meets, what
// supervise does about it, and what is lost (every row must say nothing is).
type FaultRow struct {
	Fault, Outcome, Lost string
}

// Line is the row as the README's table holds it.
func (r FaultRow) Line() string {
	return "| " + r.Fault + " | " + r.Outcome + " | " + r.Lost + " |"
}

// Fault records that the test t showed row: it fails t when secret (the bot token)
// is in any byte of outputs (the output, stderr, the state folder's files: see
// Tree), and when the README's fault table does not hold the row word for word, so
// that the table is the suite's own output. Run with -v, the suite prints each row
// after "FAULT ": `go test -run Fault -v ./... | sed -n 's/^.*FAULT //p'` is the table.
func Fault(t testing.TB, row FaultRow, secret string, outputs ...[]byte) {
	t.Helper()
	if secret == "" {
		t.Fatal("Fault needs the secret it checks the outputs for")
	}
	for i, out := range outputs {
		if bytes.Contains(out, []byte(secret)) {
			t.Errorf("%s: the token is in output %d:\n%s", row.Fault, i, out)
		}
	}
	line := row.Line()
	t.Logf("FAULT %s", line)
	readme := readmeLines(t)
	if !readme[line] {
		t.Errorf("README.md's fault table lacks this row, as the suite shows it:\n%s", line)
	}
}

// Tree returns the contents of every regular file under dir, one after the other,
// for Fault to look for the token in; a dir that does not exist gives nothing.
func Tree(t testing.TB, dir string) []byte {
	t.Helper()
	var all []byte
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		all = append(all, data...)
		return nil
	})
	if err != nil {
		t.Fatalf("reading %s: %v", dir, err)
	}
	return all
}
