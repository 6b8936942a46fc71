package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/supervise/supervise/supervisor"
)

// manPage is the committed man page, relative to this package.
const manPage = "../../docs/man/supervise.1"

// The committed man page is what the help makes of it now.
func TestManPageIsCurrent(t *testing.T) {
	var want bytes.Buffer
	if err := writeMan(&want); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(manPage)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("%s is not what the help makes of it now: run 'go generate ./cmd/supervise' and commit it", manPage)
	}
	status, stdout, _ := supervise(t, "__man")
	if status != 0 || stdout != want.String() {
		t.Errorf("supervise __man: status %d, and not the page writeMan writes", status)
	}
}

// man and groff format the page without a warning.
func TestManPageFormats(t *testing.T) {
	ran := false
	for _, args := range [][]string{
		{"man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", manPage},
		{"groff", "-ww", "-z", "-man", manPage},
	} {
		if _, err := exec.LookPath(args[0]); err != nil {
			continue
		}
		ran = true
		cmd := exec.Command(args[0], args[1:]...)
		// A locale the machine lacks would be a warning of its own.
		cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "MANWIDTH=80")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || stderr.Len() > 0 {
			t.Errorf("%s: %v:\n%s", strings.Join(args, " "), err, stderr.String())
		}
		if args[0] == "man" && !bytes.Contains(out, []byte("daemontools")) {
			t.Errorf("%s: the page shown lacks daemontools:\n%s", strings.Join(args, " "), out)
		}
	}
	if !ran {
		t.Skip("neither man nor groff is installed")
	}
}

// The page says what supervise is, that daemontools has another, and how to tell
// them apart; it has every command the help lists, each with its flags.
func TestManPageContents(t *testing.T) {
	var b bytes.Buffer
	writeMan(&b)
	page := b.String()
	for _, want := range []string{
		".SH NAME\nsupervise \\- run batch jobs and daemons",
		"daemontools",
		"/usr/bin/supervise",
		`"supervise version"`,
		"\\fB\\-\\-notify\\-on\\fR \\fIevents\\fR\n", // a flag of run
		"\\fB\\-n\\fR \\fIN\\fR\nprint the last N lines (default 10)\n",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the man page lacks %q", want)
		}
	}
}

// The help lists every command, so the man page, made from it, has every one; a
// command that only leads to others ("telegram") is listed as those.
func TestHelpListsEveryCommand(t *testing.T) {
	listed := map[string]bool{}
	for _, c := range helpCommands() {
		listed[c.name] = true
		if c.about == "" && c.name != "version" {
			t.Errorf("the help says nothing of %s", c.name)
		}
	}
	for name := range commands {
		if !listed[name] && len(subcommands(name)) == 0 {
			t.Errorf("the help does not list %s", name)
		}
	}
}

// Every key of the man page's job file is one supervise knows.
func TestManJobFileLoads(t *testing.T) {
	if _, err := supervisor.Parse("backup.toml", []byte(jobFileExample)); err != nil {
		t.Errorf("the man page's job file does not load: %v", err)
	}
}
