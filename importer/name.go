package importer

import (
	"path/filepath"
	"slices"
	"strings"
)

// A crontab line is named for the program it runs: "/usr/local/bin/backup.sh
// --full" is backup. In a shell command, that is the first command that is not
// there to prepare another (cd, test, sleep...), not a wrapper (nice, flock,
// timeout...) and not an interpreter (python3 report.py is report).

// notPrograms are commands that prepare the one a line is about.
var notPrograms = []string{
	"cd", "test", "[", "[[", "true", "false", ":", "sleep", "export", "set", "unset",
	"umask", "ulimit", "source", ".", "printf", "echo", "if", "then", "else", "elif", "fi",
	"for", "while", "until", "do", "done", "case", "esac", "!", "wait", "read", "exit",
	"return", "trap", "{", "}", "mkdir",
}

// wrappers run the command that follows them, after their options; skip is how many
// words that are not options they take before it.
var wrappers = map[string]int{
	"exec": 0, "nice": 0, "ionice": 0, "nohup": 0, "env": 0, "sudo": 0, "chronic": 0,
	"time": 0, "command": 0, "setsid": 0, "stdbuf": 0, "cronic": 0, "run-one": 0,
	"timeout": 1, "flock": 1,
}

// optionValues are the options of wrappers that take a value after them.
var optionValues = map[string][]string{
	"nice": {"-n"}, "ionice": {"-c", "-n", "-p"}, "sudo": {"-u", "-g", "-C", "-h", "-p"},
	"timeout": {"-s", "-k"}, "flock": {"-w", "-E"}, "stdbuf": {"-i", "-o", "-e"}, "env": {"-u", "-C"},
}

// interpreters run the script that follows their options.
var interpreters = []string{"sh", "bash", "dash", "zsh", "ksh", "python", "python2", "python3",
	"perl", "ruby", "php", "node", "nodejs"}

// programName is the name of the program that command, a line of shell, runs.
func programName(command string) string {
	segments := shellCommands(command)
	for _, words := range segments {
		if name := commandName(words); name != "" {
			return name
		}
	}
	for _, words := range segments {
		if len(words) > 0 {
			return baseName(words[0])
		}
	}
	return "job"
}

// commandName names the program of one simple command, or is "" for a command that
// only prepares another.
func commandName(words []string) string {
	for len(words) > 0 && isAssignment(words[0]) {
		words = words[1:]
	}
	if len(words) == 0 {
		return ""
	}
	prog := filepath.Base(words[0])
	switch {
	case slices.Contains(notPrograms, prog):
		return ""
	case prog == "run-parts":
		// run-parts /etc/cron.daily runs the scripts of cron.daily.
		for i := len(words) - 1; i > 0; i-- {
			if !strings.HasPrefix(words[i], "-") {
				return baseName(words[i])
			}
		}
	case strings.HasPrefix(prog, "python") && slices.Contains(words, "-m"):
		if i := slices.Index(words, "-m"); i+1 < len(words) {
			return baseName(words[i+1])
		}
	}
	if skip, ok := wrappers[prog]; ok {
		rest := afterOptions(words[1:], prog)
		if len(rest) > skip {
			return commandName(rest[skip:])
		}
		return ""
	}
	if slices.Contains(interpreters, prog) {
		rest := words[1:]
		for len(rest) > 0 && strings.HasPrefix(rest[0], "-") {
			if rest[0] == "-c" && len(rest) > 1 { // sh -c 'script'
				return programName(rest[1])
			}
			rest = rest[1:]
		}
		if len(rest) > 0 {
			return baseName(rest[0])
		}
	}
	return baseName(words[0])
}

// afterOptions is words after the options of the wrapper prog (and, for env, its
// assignments).
func afterOptions(words []string, prog string) []string {
	env := prog == "env"
	for len(words) > 0 {
		w := words[0]
		switch {
		case w == "--":
			return words[1:]
		case slices.Contains(optionValues[prog], w) && len(words) > 1:
			words = words[2:]
		case strings.HasPrefix(w, "-") || env && isAssignment(w) || isNumber(w):
			words = words[1:]
		default:
			return words
		}
	}
	return nil
}

// baseName is the name a program's path gives: its base, without the extension
// of a script.
func baseName(path string) string {
	base := filepath.Base(path)
	for _, ext := range []string{".sh", ".bash", ".py", ".pl", ".rb", ".php", ".js"} {
		if b, ok := strings.CutSuffix(base, ext); ok && b != "" {
			base = b
			break
		}
	}
	return cleanName(base)
}

func isAssignment(w string) bool {
	name, _, ok := strings.Cut(w, "=")
	if !ok || name == "" || name[0] >= '0' && name[0] <= '9' {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func isNumber(w string) bool {
	return w != "" && strings.Trim(w, "0123456789") == ""
}

// shellCommands splits a line of shell into its simple commands, each as its words
// with the quotes taken off, roughly as sh would: enough to find a program's name,
// not to run anything. Redirections and their targets are left out.
func shellCommands(line string) [][]string {
	var (
		cmds     [][]string
		words    []string
		word     strings.Builder
		inWord   bool
		redirect bool // the next word is a redirection's target
	)
	endWord := func() {
		if inWord {
			if redirect {
				redirect = false
			} else {
				words = append(words, word.String())
			}
		}
		word.Reset()
		inWord = false
	}
	endCommand := func() {
		endWord()
		if len(words) > 0 {
			cmds = append(cmds, words)
		}
		words = nil
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\'':
			inWord = true
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				end = len(line) - i - 1
			}
			word.WriteString(line[i+1 : i+1+end])
			i += end + 1
		case c == '"':
			inWord = true
			for i++; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) {
					i++
				}
				word.WriteByte(line[i])
			}
		case c == '\\' && i+1 < len(line):
			inWord = true
			i++
			word.WriteByte(line[i])
		case c == ' ' || c == '\t':
			endWord()
		case strings.IndexByte(";&|()`\n", c) >= 0 || c == '$' && i+1 < len(line) && line[i+1] == '(':
			endCommand()
			if c == '$' {
				i++
			}
		case c == '<' || c == '>':
			if inWord && isNumber(word.String()) { // 2>: the number is the descriptor
				word.Reset()
				inWord = false
			}
			endWord()
			for i+1 < len(line) && strings.IndexByte("<>&", line[i+1]) >= 0 {
				i++
			}
			redirect = true
		default:
			inWord = true
			word.WriteByte(c)
		}
	}
	endCommand()
	return cmds
}
