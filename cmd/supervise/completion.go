package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/supervise/supervise/control"
	"github.com/supervise/supervise/supervisor"
)

// Shell completion works as kubectl's and gh's does: the script a shell sources is a
// few lines that hand the words typed so far to the hidden command `supervise
// __complete`, which answers from the flag sets the commands themselves build. So the
// completion of a flag can never disagree with the flag, even in a script generated
// by an older supervise.

// completionScripts are the scripts of `supervise completion SHELL`.
var completionScripts = map[string]string{
	"bash": bashCompletion,
	"zsh":  zshCompletion,
	"fish": fishCompletion,
}

// cmdCompletion is `supervise completion bash|zsh|fish`: print the shell's completion
// script.
func cmdCompletion(_ context.Context, args []string, std stdio) error {
	fs := newFlagSet("completion", `Prints a script that makes the shell complete supervise's commands, their
flags, job names (from the running up, else from the job files of ./jobs.d)
and file names. To use it in the current shell:

  bash   source <(supervise completion bash)
  zsh    source <(supervise completion zsh)     (after compinit)
  fish   supervise completion fish | source
`, "completion bash|zsh|fish")
	shells, err := fs.parseInterleaved(args)
	switch {
	case err != nil:
		return err
	case len(shells) == 0:
		return fs.usageErrorf("no shell given")
	case len(shells) > 1:
		return fs.usageErrorf("unexpected argument %q", shells[1])
	}
	script, ok := completionScripts[shells[0]]
	if !ok {
		return fs.usageErrorf("unknown shell %q: want bash, zsh or fish", shells[0])
	}
	_, err = fmt.Fprint(std.out, script)
	return err
}

// completeCommand is the hidden `supervise __complete WORD... CURRENT`, which the
// completion scripts call. Its arguments are the words of the command line after
// "supervise", the last the one being completed (empty when none is begun). It prints
// what the shell should do, on the first line, then the candidates, one a line:
//
//	words     offer the candidates that follow
//	files     complete a file name, as the shell does
//	dirs      complete a folder name
//	commands  complete the name of a program to run
//
// It takes no flags of its own, so that every word it gets is the user's; it always
// exits 0, as a completion that fails should offer nothing rather than an error.
func completeCommand(_ context.Context, args []string, std stdio) error {
	if len(args) == 0 {
		args = []string{""}
	}
	c := complete(args[:len(args)-1], args[len(args)-1], jobNames)
	fmt.Fprintln(std.out, c.kind)
	for _, w := range c.words {
		fmt.Fprintln(std.out, w)
	}
	return nil
}

// completion is what a shell offers for the word being typed.
type completion struct {
	kind  string   // "words", "files", "dirs" or "commands"
	words []string // for "words"
}

// jobLookup is where completion finds job names: the running up's, else those of
// the job files in ./jobs.d. Its arguments are --state and --socket as typed.
type jobLookup func(state, socket string) []string

// complete completes cur, which follows words on a command line after "supervise".
func complete(words []string, cur string, jobs jobLookup) completion {
	if len(words) == 0 {
		if strings.HasPrefix(cur, "-") {
			return offer(cur, "-h", "--help", "--version")
		}
		return offer(cur, topCommands()...)
	}
	if words[0] == "help" {
		if len(words) == 1 {
			return offer(cur, topCommands()...)
		}
		if len(words) == 2 {
			return offer(cur, subcommands(words[1])...)
		}
		return offer(cur)
	}
	name, _, rest := lookup(words)
	fs := flagSetOf(name)
	if fs == nil {
		return offer(cur)
	}
	if subs := subcommands(name); len(subs) > 0 && len(rest) == 0 && !strings.HasPrefix(cur, "-") {
		return offer(cur, subs...)
	}

	// What the words so far are: flags with their values, the --, arguments.
	var (
		pending      *flagDoc // a flag whose value comes next
		dashed       bool     // after --, every word is an argument
		nargs        int
		state, sock  string
		docs         = fs.flagDocs()
		flagsAllowed = func() bool { return !dashed && (fs.interleaved || nargs == 0) }
	)
	set := func(flag, value string) {
		switch strings.TrimLeft(flag, "-") {
		case "state":
			state = value
		case "socket":
			sock = value
		}
	}
	for _, w := range rest {
		switch {
		case pending != nil:
			set(pending.name, w)
			pending = nil
		case flagsAllowed() && w == "--":
			dashed = true
		case flagsAllowed() && strings.HasPrefix(w, "-") && w != "-":
			flag, value, hasValue := strings.Cut(strings.TrimLeft(w, "-"), "=")
			if hasValue {
				set(flag, value)
			} else if d := findFlag(docs, flag); d != nil && d.placeholder != "" {
				pending = d
			}
		default:
			nargs++
		}
	}

	switch {
	case pending != nil:
		// A flag's value: a folder or a path, named so in the flag's usage.
		switch pending.placeholder {
		case "folder":
			return completion{kind: "dirs"}
		case "path":
			return completion{kind: "files"}
		}
		return offer(cur)
	case flagsAllowed() && strings.HasPrefix(cur, "-"):
		var names []string
		for _, d := range docs {
			names = append(names, d.name)
		}
		if name == "run" {
			names = append(names, "--")
		}
		return offer(cur, names...)
	}
	return completeArg(name, nargs, dashed, cur, func() []string { return jobs(state, sock) })
}

// completeArg completes the argument after nargs others of the command name: what
// each command takes, as its synopsis says.
func completeArg(name string, nargs int, dashed bool, cur string, jobs func() []string) completion {
	switch {
	case name == "run" && dashed && nargs == 0:
		return completion{kind: "commands"}
	case name == "run" || name == "check" || name == "import crontab" || name == "import supervisord":
		return completion{kind: "files"}
	case name == "start" || name == "stop" || name == "restart":
		return offer(cur, jobs()...)
	case (name == "logs" || name == "ping") && nargs == 0:
		return offer(cur, jobs()...)
	case name == "ping" && nargs == 1:
		return offer(cur, "start", "fail", "log")
	case name == "completion" && nargs == 0:
		return offer(cur, slices.Sorted(maps.Keys(completionScripts))...)
	}
	return offer(cur)
}

// offer is the words that begin with cur.
func offer(cur string, words ...string) completion {
	c := completion{kind: "words"}
	for _, w := range words {
		if strings.HasPrefix(w, cur) {
			c.words = append(c.words, w)
		}
	}
	return c
}

// findFlag is the flag of docs called name, without its dashes, or nil.
func findFlag(docs []flagDoc, name string) *flagDoc {
	for i := range docs {
		if strings.TrimLeft(docs[i].name, "-") == name {
			return &docs[i]
		}
	}
	return nil
}

// topCommands are the words that begin a command, and help, sorted.
func topCommands() []string {
	words := []string{"help"}
	for name := range commands {
		first, _, _ := strings.Cut(name, " ")
		if !slices.Contains(words, first) {
			words = append(words, first)
		}
	}
	slices.Sort(words)
	return words
}

// subcommands are the words that follow name in a command of two: "chats" for
// "telegram".
func subcommands(name string) []string {
	var subs []string
	for full := range commands {
		if sub, ok := strings.CutPrefix(full, name+" "); ok {
			subs = append(subs, sub)
		}
	}
	slices.Sort(subs)
	return subs
}

// jobNames are the names of the jobs of the up that answers on the control socket
// (--socket, else STATE/supervise.sock) or, when none does, of the job files in
// ./jobs.d that load, where `supervise up` would find them. A completion must not
// keep the shell waiting: up gets a second to answer.
func jobNames(state, socket string) []string {
	return jobNamesIn(state, socket, "jobs.d")
}

// jobNamesIn is jobNames with the folder of job files to fall back on.
func jobNamesIn(state, socket, dir string) []string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var names []string
	st, err := control.NewClient(socketPath(socket, state)).Status(ctx)
	if err == nil {
		for _, j := range st.Jobs {
			names = append(names, j.Name)
		}
		return names
	}
	jobs, _ := supervisor.LoadDir(dir)
	for _, j := range jobs {
		names = append(names, j.Name)
	}
	return names
}

// bashCompletion is the script of `supervise completion bash`. It runs the supervise
// that the command line names, so a ./supervise completes as itself.
const bashCompletion = `# bash completion for supervise, printed by 'supervise completion bash'.
# It asks supervise itself (the hidden 'supervise __complete') what to offer.
_supervise() {
    local cur=${COMP_WORDS[COMP_CWORD]} kind
    local -a lines
    mapfile -t lines < <("${COMP_WORDS[0]}" __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)
    kind=${lines[0]}
    COMPREPLY=()
    case $kind in
    files)
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        ;;
    dirs)
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -d -- "$cur")
        ;;
    commands)
        mapfile -t COMPREPLY < <(compgen -c -- "$cur")
        ;;
    words)
        COMPREPLY=("${lines[@]:1}")
        ;;
    esac
}
complete -F _supervise supervise
`

// zshCompletion is the script of `supervise completion zsh`: sourced after compinit,
// or installed as _supervise in a folder of $fpath.
const zshCompletion = `#compdef supervise
# zsh completion for supervise, printed by 'supervise completion zsh'.
# It asks supervise itself (the hidden 'supervise __complete') what to offer.
_supervise() {
    local -a lines
    lines=("${(@f)$(${words[1]} __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
    case ${lines[1]} in
    files) _files ;;
    dirs) _files -/ ;;
    commands) _command_names -e ;;
    words) (( ${#lines} > 1 )) && compadd -- "${(@)lines[2,-1]}" ;;
    esac
}
if [[ $funcstack[1] == _supervise ]]; then
    _supervise "$@"   # autoloaded from $fpath: this is the completion itself
else
    compdef _supervise supervise
fi
`

// fishCompletion is the script of `supervise completion fish`.
const fishCompletion = `# fish completion for supervise, printed by 'supervise completion fish'.
# It asks supervise itself (the hidden 'supervise __complete') what to offer.
function __supervise_complete
    set -l words (commandline -opc)
    set -l cur (commandline -ct)
    set -l lines (command $words[1] __complete $words[2..-1] "$cur" 2>/dev/null)
    switch "$lines[1]"
        case files
            __fish_complete_path "$cur"
        case dirs
            __fish_complete_directories "$cur" ""
        case commands
            __fish_complete_command
        case words
            printf '%s\n' $lines[2..-1]
    end
end
complete -c supervise -f -a '(__supervise_complete)'
`
