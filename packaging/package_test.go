// Package packaging holds no code: its test builds the .deb with build.sh and checks
// it as a user's machine would see it, without installing it.
package packaging

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The files the .deb must hold, with their modes, as dpkg-deb --contents lists them.
var debFiles = map[string]string{
	"./usr/bin/supervise":                                  "-rwxr-xr-x",
	"./usr/share/man/man1/supervise.1.gz":                  "-rw-r--r--",
	"./usr/share/bash-completion/completions/supervise":    "-rw-r--r--",
	"./usr/share/zsh/vendor-completions/_supervise":        "-rw-r--r--",
	"./usr/share/fish/vendor_completions.d/supervise.fish": "-rw-r--r--",
	"./usr/lib/systemd/system/supervise.service":           "-rw-r--r--",
	"./usr/share/doc/supervise/copyright":                  "-rw-r--r--",
	"./etc/supervise/jobs.d/":                              "drwxr-xr-x",
}

// The .deb for amd64, built by build.sh, holds a static supervise that says what it
// is, the man page, completions and unit, and conflicts with daemontools, whose
// /usr/bin/supervise is another program. It is looked at with dpkg-deb and unpacked
// into a folder of the test's own; nothing is installed.
func TestDeb(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a .deb, which takes seconds (minutes while nfpm is not in Go's build cache)")
	}
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb is not on PATH (Debian's package dpkg has it): the .deb is not built or checked")
	}
	out := t.TempDir()
	args := []string{"build.sh", "--arch", "amd64", "--format", "deb", "--out", out, "0.0.0-test"}

	start := time.Now()
	build := exec.CommandContext(t.Context(), "bash", args...)
	var buildOut bytes.Buffer
	build.Stdout, build.Stderr = &buildOut, &buildOut
	if err := build.Run(); err != nil {
		t.Fatalf("bash %s: %v\n%s", strings.Join(args, " "), err, buildOut.String())
	}
	t.Logf("build.sh took %v", time.Since(start).Round(time.Millisecond))
	debs, _ := filepath.Glob(filepath.Join(out, "*.deb"))
	if len(debs) != 1 {
		t.Fatalf("build.sh made %d .deb files, want 1: %q\n%s", len(debs), debs, buildOut.String())
	}
	deb := debs[0]
	if got, want := filepath.Base(deb), "supervise_0.0.0~test-1_amd64.deb"; got != want {
		t.Errorf("package file %s, want %s", got, want)
	}

	info := run(t, "dpkg-deb", "--info", deb)
	for _, want := range []string{"Package: supervise", "Version: 0.0.0~test-1", "Architecture: amd64", "Conflicts: daemontools"} {
		if !regexp.MustCompile(`(?m)^ ` + regexp.QuoteMeta(want) + `$`).MatchString(info) {
			t.Errorf("dpkg-deb --info lacks %q:\n%s", want, info)
		}
	}

	listed := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(run(t, "dpkg-deb", "--contents", deb)), "\n") {
		f := strings.Fields(line) // -rwxr-xr-x root/root 8343714 2026-12-03 14:57 ./usr/bin/supervise
		if len(f) < 6 || f[1] != "root/root" {
			t.Errorf("dpkg-deb --contents: %q is not a file of root's", line)
			continue
		}
		listed[f[5]] = f[0]
	}
	for path, mode := range debFiles {
		if got, ok := listed[path]; !ok {
			t.Errorf("the package lacks %s", path)
		} else if got != mode {
			t.Errorf("%s has mode %s, want %s", path, got, mode)
		}
	}

	root := t.TempDir()
	run(t, "dpkg-deb", "-x", deb, root)
	bin := filepath.Join(root, "usr/bin/supervise")
	version := run(t, bin, "version")
	for _, want := range []string{"supervise v0.0.0-test", "for linux/amd64\n",
		"a process supervisor and job wrapper that alerts Telegram", "not daemontools' supervise"} {
		if !strings.Contains(version, want) {
			t.Errorf("%s version lacks %q:\n%s", bin, want, version)
		}
	}
	if exists(t, "../.git") && !strings.Contains(version, "(commit ") {
		t.Errorf("built in a git checkout, %s version names no commit:\n%s", bin, version)
	}
	if needs := dynamic(t, bin); needs != "" {
		t.Errorf("%s is not static: %s", bin, needs)
	}

	unit, _ := os.ReadFile(filepath.Join(root, "usr/lib/systemd/system/supervise.service"))
	if !regexp.MustCompile(`(?m)^ExecStart=/usr/bin/supervise `).Match(unit) {
		t.Errorf("the packaged unit does not start /usr/bin/supervise:\n%s", unit)
	}
	for _, f := range []string{"usr/share/bash-completion/completions/supervise", "usr/share/zsh/vendor-completions/_supervise", "usr/share/fish/vendor_completions.d/supervise.fish"} {
		if b, _ := os.ReadFile(filepath.Join(root, f)); !bytes.Contains(b, []byte("supervise __complete")) {
			t.Errorf("%s is not a completion of supervise:\n%s", f, b)
		}
	}

	if _, err := exec.LookPath("man"); err != nil {
		t.Log("man is not on PATH: the man page is not formatted")
		return
	}
	page := filepath.Join(root, "usr/share/man/man1/supervise.1.gz")
	man := exec.CommandContext(t.Context(), "man", "-l", page)
	man.Env = append(os.Environ(), "MANPAGER=cat", "PAGER=cat", "MANWIDTH=80", "LC_ALL=C.UTF-8")
	var stderr bytes.Buffer
	man.Stderr = &stderr
	text, err := man.Output()
	if err != nil || !bytes.Contains(bytes.ToLower(text), []byte("supervise")) {
		t.Errorf("man -l %s: %v; stderr %q; it printed:\n%s", page, err, stderr.String(), text)
	}
}

// run runs a command that must succeed, and returns its standard output.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return err == nil
}

// dynamic says what makes an executable dynamically linked (an interpreter, shared
// libraries), or "" for a static one.
func dynamic(t *testing.T, path string) string {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return "it has an interpreter (PT_INTERP)"
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		return "it needs " + strings.Join(libs, ", ")
	}
	return ""
}
