package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/supervise/supervise/internal/testkit"
)

// Each shell's script is printed on stdout; another shell is a usage error.
func TestCompletionScripts(t *testing.T) {
	for shell, want := range map[string]string{
		"bash": "complete -F _supervise supervise",
		"zsh":  "compdef _supervise supervise",
		"fish": "complete -c supervise",
	} {
		status, stdout, stderr := supervise(t, "completion", shell)
		if status != 0 || stderr != "" || !strings.Contains(stdout, want) || !strings.Contains(stdout, "__complete") {
			t.Errorf("completion %s: status %d, stderr %q, stdout:\n%s\nwant 0 and a script with %q", shell, status, stderr, stdout, want)
		}
	}
	status, stdout, stderr := supervise(t, "completion", "tcsh")
	if status != 2 || stdout != "" || !strings.Contains(stderr, `unknown shell "tcsh"`) {
		t.Errorf("completion tcsh: status %d, stdout %q, stderr %q; want 2 and the shells it knows", status, stdout, stderr)
	}
}

// What `supervise __complete` offers, for each kind of word, from the commands' own
// flag sets.
func TestComplete(t *testing.T) {
	jobs := func(state, socket string) []string {
		// The job names say which state and socket they were looked up with.
		return []string{"web", "worker", "db", "in-" + state + "-" + socket}
	}
	for _, tc := range []struct {
		line string // after "supervise"; the last word is the one completed
		want string // the kind, then the words
	}{
		{"", "words check completion help import logs notify ping reload restart run start status stop telegram up version"},
		{"st", "words start status stop"},
		{"--v", "words --version"},
		{"nosuch ", "words"},
		{"help te", "words telegram"},
		{"help telegram ", "words chats"},
		{"telegram ", "words chats"},
		{"telegram chats -", "words"},
		{"import ", "words crontab supervisord"},
		{"help import ", "words crontab supervisord"},
		{"import crontab ", "files"},
		{"import crontab --into ", "dirs"},
		{"import crontab -", "words --force --into --keep-cron --system"},
		{"import crontab my.cron -", "words --force --into --keep-cron --system"}, // flags after the file too
		{"import supervisord ", "files"},
		{"import supervisord --into ", "dirs"},
		{"run --", "words --heartbeat --name --no-pty --notify-on --state --tail --timeout --"},
		{"run --ti", "words --timeout"},
		{"run --state ", "dirs"},
		{"run --timeout ", "words"},
		{"run ", "files"},
		{"run -- ", "commands"},
		{"run -- sh ", "files"},
		{"run --name x -- sh -", "files"},
		{"run job.toml -", "files"}, // run takes its flags before the job
		{"check jobs.d/", "files"},
		{"up --jobs ", "dirs"},
		{"up --socket ", "files"},
		{"up -", "words --jobs --listen --socket --state"},
		{"restart ", "words web worker db in--"},
		{"restart w", "words web worker"},
		{"stop web w", "words web worker"},
		{"start --state st --socket s.sock ", "words web worker db in-st-s.sock"},
		{"start --state=st ", "words web worker db in-st-"},
		{"restart web -", "words --socket --state"}, // flags after the jobs, as it takes them
		{"logs -n 5 w", "words web worker"},
		{"logs web ", "words"},
		{"logs web -", "words -f -n --socket --state"},
		{"ping ", "words web worker db in--"},
		{"ping -m hello web ", "words start fail log"},
		{"ping web fail ", "words"},
		{"status ", "words"},
		{"completion ", "words bash fish zsh"},
		{"completion f", "words fish"},
	} {
		words := strings.Split(tc.line, " ")
		c := complete(words[:len(words)-1], words[len(words)-1], jobs)
		if got := strings.Join(append([]string{c.kind}, c.words...), " "); got != tc.want {
			t.Errorf("supervise %s<TAB>: got %q, want %q", tc.line, got, tc.want)
		}
	}
}

// Job names come from the running up when one answers on the control socket, and
// else from the job files of the folder.
func TestCompleteJobNames(t *testing.T) {
	noTelegram(t)
	files := t.TempDir()
	writeFile(t, files, "web.toml", `command = "true"`)
	writeFile(t, files, "renamed.toml", "name = \"db\"\ncommand = \"true\"\n")
	writeFile(t, files, "broken.toml", `command = 5`)
	if got, want := jobNamesIn(t.TempDir(), "", files), []string{"db", "web"}; !slices.Equal(sortedCopy(got), want) {
		t.Errorf("from the job files: %q, want %q", got, want)
	}

	running := t.TempDir()
	writeFile(t, running, "daemon.toml", `command = "exec sleep 100"`)
	state, _, _ := upWithSocket(t, running)
	// up answers before its jobs have started: at first it has none.
	var got []string
	testkit.Eventually(t, "up's daemon offered", func() bool {
		got = jobNamesIn(state, "", files)
		return len(got) > 0
	})
	if want := []string{"daemon"}; !slices.Equal(got, want) {
		t.Errorf("with up running: %q, want up's %q", got, want)
	}
}

func sortedCopy(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// completionShell prepares a shell's run of supervise's completion: a folder with
// supervise on PATH (this test binary, playing it) and a jobs.d with web and worker,
// an empty state folder so that no up answers, and the script for the shell in a file.
func completionShell(t *testing.T, shell string) (cmd func(args ...string) *exec.Cmd, script string) {
	t.Helper()
	path, err := exec.LookPath(shell)
	if err != nil {
		t.Skipf("%s is not installed", shell)
	}
	bin := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(self, filepath.Join(bin, "supervise")); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	os.Mkdir(filepath.Join(work, "jobs.d"), 0o755)
	writeFile(t, filepath.Join(work, "jobs.d"), "web.toml", `command = "true"`)
	writeFile(t, filepath.Join(work, "jobs.d"), "worker.toml", `command = "true"`)
	_, out, _ := supervise(t, "completion", shell)
	script = writeFile(t, t.TempDir(), "supervise."+shell, out)
	return func(args ...string) *exec.Cmd {
		c := exec.Command(path, args...)
		c.Dir = work
		c.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
			"SUPERVISE_TEST_AS_MAIN=1", "GORACE=atexit_sleep_ms=0", "SUPERVISE_STATE_DIR="+t.TempDir())
		return c
	}, script
}

// bash, with no startup files, sources the script and runs its function as a TAB
// would, COMP_WORDS and COMP_CWORD set.
func TestBashCompletion(t *testing.T) {
	t.Parallel()
	bash, script := completionShell(t, "bash")
	for _, tc := range []struct {
		words []string
		want  []string
	}{
		{[]string{"supervise", "st"}, []string{"start", "status", "stop"}},
		{[]string{"supervise", "restart", ""}, []string{"web", "worker"}},
		{[]string{"supervise", "run", "--"}, []string{"--heartbeat", "--name", "--no-pty", "--notify-on", "--state", "--tail", "--timeout", "--"}},
		{[]string{"supervise", "check", "jobs.d/w"}, []string{"jobs.d/web.toml", "jobs.d/worker.toml"}},
		{[]string{"supervise", "up", "--jobs", "j"}, []string{"jobs.d"}},
	} {
		var b strings.Builder
		b.WriteString(`source "$1" || exit 1; COMP_WORDS=(`)
		for _, w := range tc.words {
			b.WriteString(" '" + w + "'")
		}
		b.WriteString(` ); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); _supervise; printf '%s\n' "${COMPREPLY[@]}"`)
		out, err := bash("--norc", "--noprofile", "-c", b.String(), "bash", script).CombinedOutput()
		got := strings.Fields(string(out))
		slices.Sort(got)
		want := sortedCopy(tc.want)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%q: COMPREPLY %q (%v), want %q", tc.words, got, err, want)
		}
	}
}

// fish completes a command line as a TAB would with `complete -C`: every command,
// flags, and job names.
func TestFishCompletion(t *testing.T) {
	t.Parallel()
	fish, script := completionShell(t, "fish")
	for _, tc := range []struct {
		line string
		want []string
	}{
		{"supervise ", topCommands()},
		{"supervise st", []string{"start", "status", "stop"}},
		{"supervise restart ", []string{"web", "worker"}},
		{"supervise logs -", []string{"-f", "-n", "--socket", "--state"}},
	} {
		out, err := fish("--no-config", "-c", `source $argv[1]; and complete -C"$argv[2]"`, script, tc.line).CombinedOutput()
		got := strings.Fields(string(out))
		slices.Sort(got)
		want := sortedCopy(tc.want)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%q: got %q (%v), want %q", tc.line, got, err, want)
		}
	}
}

// zsh sources the script and runs its function with words and CURRENT set, as
// completion does; compadd and _files are stand-ins that print what they are given,
// as zsh's completion system runs only in an interactive shell.
func TestZshCompletion(t *testing.T) {
	t.Parallel()
	zsh, script := completionShell(t, "zsh")
	for _, tc := range []struct {
		words []string
		want  []string
	}{
		{[]string{"supervise", "st"}, []string{"start", "status", "stop"}},
		{[]string{"supervise", "restart", ""}, []string{"web", "worker"}},
		{[]string{"supervise", "run", "--"}, []string{"--heartbeat", "--name", "--no-pty", "--notify-on", "--state", "--tail", "--timeout", "--"}},
		{[]string{"supervise", "check", ""}, []string{"_files"}},
	} {
		var b strings.Builder
		b.WriteString(`compdef() { :; }; compadd() { [[ $1 == -- ]] && shift; print -l -- "$@"; }; _files() { print _files; }
source $1 || exit 1; words=(`)
		for _, w := range tc.words {
			b.WriteString(" '" + w + "'")
		}
		b.WriteString(` ); CURRENT=${#words}; _supervise`)
		out, err := zsh("-f", "-c", b.String(), "zsh", script).CombinedOutput()
		got := strings.Fields(string(out))
		slices.Sort(got)
		want := sortedCopy(tc.want)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%q: got %q (%v), want %q", tc.words, got, err, want)
		}
	}
}
