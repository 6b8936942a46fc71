package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// units are the systemd units shipped in examples, which the README shows.
var units = []string{"supervise.service", "backup.service", "backup.timer"}

// The example units are what systemd accepts: systemd-analyze verify finds no error
// or warning in them. Their ExecStart runs this test's binary, as /usr/bin/supervise
// is not installed here; the rest is checked as shipped.
func TestExampleUnitsVerify(t *testing.T) {
	t.Parallel()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (apt-get install systemd); the example units are not checked")
	}
	dir := t.TempDir()
	self, err := filepath.Abs(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	// A script, not a symlink, which verify refuses as not executable when not run as
	// root.
	stand := filepath.Join(dir, "supervise")
	script := fmt.Sprintf("#!/bin/sh\nSUPERVISE_TEST_AS_MAIN=1 exec '%s' \"$@\"\n", self)
	if err := os.WriteFile(stand, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, name := range units {
		b, err := os.ReadFile(filepath.Join("..", "..", "examples", name))
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(b), "/usr/bin/supervise ", stand+" ")
		if _, err := os.Stat("/bin/kill"); err != nil {
			// verify wants every command to exist; a minimal container may lack kill(1).
			t.Logf("/bin/kill: %v; ExecReload= runs %s instead", err, stand)
			text = strings.ReplaceAll(text, "/bin/kill ", stand+" ")
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	// --man=no: Documentation= is not looked up in man pages, which need not be
	// installed. --recursive-errors=no: a problem of another unit on this machine
	// (one that network-online.target pulls in) does not count against ours.
	args := append([]string{"verify", "--man=no", "--recursive-errors=no"}, paths...)
	out, err := exec.Command(analyze, args...).CombinedOutput()
	if strings.Contains(string(out), "recursive-errors") { // systemd before 250 lacks it
		args = append([]string{"verify", "--man=no"}, paths...)
		out, err = exec.Command(analyze, args...).CombinedOutput()
	}
	var ours []string
	for line := range strings.SplitSeq(string(out), "\n") {
		if strings.Contains(line, dir) {
			ours = append(ours, line)
		}
	}
	if err != nil || len(ours) > 0 {
		t.Errorf("systemd-analyze %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// The ExecStart of each example unit gives supervise only flags its command has.
func TestExampleUnitsFlags(t *testing.T) {
	execStart := regexp.MustCompile(`(?m)^ExecStart=/usr/bin/supervise (\S+)(.*)$`)
	for _, name := range units {
		b, err := os.ReadFile(filepath.Join("..", "..", "examples", name))
		if err != nil {
			t.Fatal(err)
		}
		m := execStart.FindStringSubmatch(string(b))
		if m == nil {
			if strings.HasSuffix(name, ".service") {
				t.Errorf("%s: no ExecStart=/usr/bin/supervise", name)
			}
			continue
		}
		command, args := m[1], strings.Fields(m[2])
		_, stdout, stderr := supervise(t, command, "--help")
		help := stdout + stderr
		for _, arg := range args {
			if strings.HasPrefix(arg, "-") && !strings.Contains(help, "\n  "+arg+" ") {
				t.Errorf("%s: supervise %s has no %s:\n%s", name, command, arg, help)
			}
		}
	}
}
