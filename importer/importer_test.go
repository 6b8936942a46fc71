package importer

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/supervise/supervise/supervisor"
)

var update = flag.Bool("update", false, "write the .golden files of testdata anew")

// golden compares what r holds, written out, with the file path; with -update it
// writes it there instead. The folder of testdata is written TESTDATA, so the file
// is the same on every machine.
func golden(t *testing.T, path string, r *Result) {
	t.Helper()
	var b strings.Builder
	for _, f := range r.Files {
		fmt.Fprintf(&b, "=== %s.toml, from %s\n%s\n", f.Name, f.Source, f.Text)
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(&b, "=== not translated: %s\n", s)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "=== note: %s\n", n)
	}
	if r.Crontab != "" {
		fmt.Fprintf(&b, "=== the crontab to install\n%s", r.Crontab)
	}
	testdata, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	got := []byte(strings.ReplaceAll(b.String(), testdata, "TESTDATA"))
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the import differs from %s (go test -update writes it anew):\n%s", path, got)
	}
}

// Write writes every file, or none when one is there already, unless force.
func TestWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "jobs.d")
	files := []File{{Name: "a", Text: []byte("command = \"true\"\n")}, {Name: "b", Text: []byte("command = \"false\"\n")}}
	paths, err := Write(dir, files, false)
	if err != nil || len(paths) != 2 || paths[1] != filepath.Join(dir, "b.toml") {
		t.Fatalf("Write: %q, %v", paths, err)
	}
	if fi, err := os.Stat(paths[0]); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("a.toml: %v, %v; want mode 0644", fi.Mode(), err)
	}
	if err := os.Remove(paths[0]); err != nil {
		t.Fatal(err)
	}
	files[1].Text = []byte("command = \"changed\"\n")
	if _, err := Write(dir, files, false); !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "b.toml") {
		t.Errorf("over b.toml: %v, want it exists", err)
	}
	if _, err := os.Stat(paths[0]); err == nil {
		t.Error("a.toml was written, though b.toml was there: want nothing written")
	}
	if data, _ := os.ReadFile(paths[1]); string(data) != "command = \"false\"\n" {
		t.Errorf("b.toml is %q, overwritten without force", data)
	}
	if _, err := Write(dir, files, true); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(paths[1]); string(data) != "command = \"changed\"\n" {
		t.Errorf("b.toml is %q after force", data)
	}
}

// A string of any characters is written so that the job file reads it back the same.
func TestTOMLString(t *testing.T) {
	for _, s := range []string{
		`plain`, `"quoted"`, `back\slash`, "tab\there", "two\nlines", "ends with a quote\"", "\"\"\"", "a\n\"\"\"\nb\"",
		"ctrl\x01\x1f\x7f", "cr\r\n", "unicode ☕ Grüße", `$(echo) ${x} 'single'`, "x\n", "\ny", "trailing backslash\\\n\\",
	} {
		text := "command = " + tomlString(s) + "\n[env]\n" + tomlKey("odd key.$") + " = " + tomlString(s) + "\n"
		job, err := supervisor.Parse("x.toml", []byte(text))
		if err != nil {
			t.Errorf("%q: %v\n%s", s, err, text)
			continue
		}
		if job.Command[2] != s || job.Env["odd key.$"] != s {
			t.Errorf("%q reads back as %q and %q:\n%s", s, job.Command[2], job.Env["odd key.$"], text)
		}
	}
}
