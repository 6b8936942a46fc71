package testkit

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The README at the root of the module, read once: the fault table's rows and the
// examples it shows are checked against it word for word.
var readme struct {
	once  sync.Once
	text  string
	lines map[string]bool
	err   error
}

func readmeText(t testing.TB) string {
	t.Helper()
	readme.once.Do(func() {
		dir, err := os.Getwd()
		for err == nil {
			if _, serr := os.Stat(filepath.Join(dir, "go.mod")); serr == nil {
				break
			}
			if filepath.Dir(dir) == dir {
				err = fs.ErrNotExist
				break
			}
			dir = filepath.Dir(dir)
		}
		var data []byte
		if err == nil {
			data, err = os.ReadFile(filepath.Join(dir, "README.md"))
		}
		readme.err = err
		readme.text = string(data)
		readme.lines = map[string]bool{}
		for _, l := range strings.Split(readme.text, "\n") {
			readme.lines[strings.TrimSpace(l)] = true
		}
	})
	if readme.err != nil {
		t.Fatalf("reading the module's README.md: %v", readme.err)
	}
	return readme.text
}

// readmeLines returns the lines of the README, trimmed, as a set.
func readmeLines(t testing.TB) map[string]bool {
	t.Helper()
	readmeText(t)
	return readme.lines
}

// ReadmeBlock returns the README's fenced code block in language lang (```lang) whose
// first line begins with first, as the reader copies it. It fails t when there is not
// exactly one, so that a test of an example cannot lose it to an edit unnoticed.
func ReadmeBlock(t testing.TB, lang, first string) string {
	t.Helper()
	var found []string
	rest := readmeText(t)
	for {
		i := strings.Index(rest, "```"+lang+"\n")
		if i < 0 {
			break
		}
		rest = rest[i+len("```"+lang+"\n"):]
		end := strings.Index(rest, "\n```")
		if end < 0 {
			break
		}
		if block := rest[:end+1]; strings.HasPrefix(block, first) {
			found = append(found, block)
		}
		rest = rest[end+len("\n```"):]
	}
	if len(found) != 1 {
		t.Fatalf("README.md has %d ```%s blocks that begin with %q, want 1", len(found), lang, first)
	}
	return found[0]
}
