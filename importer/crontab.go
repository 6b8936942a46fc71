package importer

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/supervise/supervise/supervisor"
)

// CrontabOptions say how to read a crontab and where its jobs go.
type CrontabOptions struct {
	Source string // the crontab's name in messages: its path, or "crontab -l"
	Into   string // the folder the job files go to

	// System is set for a system crontab (/etc/crontab, /etc/cron.d/*), where a user
	// field follows the schedule.
	System bool

	// Home returns the home folder of user, where cron runs that user's jobs; user
	// is "" for the owner of a user crontab.
	Home func(user string) (string, error)

	// KeepCron, when set, is the supervise the printed crontab runs: each imported
	// line keeps its schedule there, and runs `KeepCron run FILE`.
	KeepCron string
}

// descriptors are the @words cron takes for a schedule; @reboot is not one.
var descriptors = []string{"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}

// cronState is what the lines above a job line set: cron gives each job the
// environment of the lines before it.
type cronState struct {
	env         map[string]string
	shell       string // SHELL, "" for cron's /bin/sh
	mailto      *string
	mailfrom    string
	zone        string // CRON_TZ
	randomDelay string // RANDOM_DELAY, cronie's delay in minutes
}

// Crontab translates a crontab into job files, one a job line. Lines it cannot
// translate are in Skipped, and in the crontab to install, which keeps them.
func Crontab(data []byte, opt CrontabOptions) *Result {
	r := &Result{}
	taken := names{}
	st := cronState{env: map[string]string{}}
	var kept []string // the lines of the crontab to install
	imported := 0
	for i, line := range strings.Split(string(data), "\n") {
		source := fmt.Sprintf("%s:%d", opt.Source, i+1)
		line = strings.TrimSuffix(line, "\r")
		s := strings.TrimLeft(line, " \t")
		if s == "" || s[0] == '#' {
			continue
		}
		if name, value, ok := cronEnv(s); ok {
			st.set(name, value)
			kept = append(kept, line)
			continue
		}
		f, cron, err := cronJob(s, line, source, opt, &st)
		if err != nil {
			r.skip(source, "not translated: %v", err)
			kept = append(kept, line)
			continue
		}
		f.Name = taken.take(f.Name)
		text, argv := f.text()
		job, err := load(opt.Into, f.Name, text, argv)
		if err == nil && f.schedule != "@reboot" && job.Schedule.String() != f.schedule {
			err = fmt.Errorf("the job file's schedule is %q, not %q", job.Schedule, f.schedule)
		}
		if err != nil {
			r.skip(source, "not translated: %v", err)
			kept = append(kept, line)
			continue
		}
		r.Files = append(r.Files, File{Name: f.Name, Source: source, Text: text})
		for _, n := range f.notes {
			r.note(source, "%s", n)
		}
		imported++
		if opt.KeepCron != "" {
			file, _ := filepath.Abs(filepath.Join(opt.Into, f.Name+".toml"))
			run := shellQuote(opt.KeepCron) + " run " + shellQuote(file)
			kept = append(kept, cron+" "+strings.ReplaceAll(run, "%", `\%`))
		}
	}
	r.Crontab = installCrontab(opt, imported, kept, len(r.Skipped) > 0)
	return r
}

// installCrontab is the crontab to install after the import: the lines it kept, if
// any but environment lines.
func installCrontab(opt CrontabOptions, imported int, kept []string, skipped bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# The crontab to install after `supervise import crontab` (with crontab FILE).\n")
	if opt.KeepCron != "" {
		fmt.Fprintf(&b, "# Its %d imported lines run their job files in %s with `supervise run`, on the\n", imported, opt.Into)
		fmt.Fprintf(&b, "# same schedules: do not point a `supervise up` at that folder, or each runs twice.\n")
	} else {
		fmt.Fprintf(&b, "# Its %d imported lines are job files in %s now: `supervise up --jobs %s`\n", imported, opt.Into, opt.Into)
		fmt.Fprintf(&b, "# runs them on the same schedules, and cron need not.\n")
	}
	if opt.KeepCron == "" && !skipped {
		return b.String()
	}
	if skipped {
		fmt.Fprintf(&b, "# The lines it could not translate are kept, with the settings above them.\n")
	}
	for _, l := range kept {
		b.WriteString(l + "\n")
	}
	return b.String()
}

// set records an environment line.
func (st *cronState) set(name, value string) {
	switch name {
	case "MAILTO":
		st.mailto = &value
	case "MAILFROM":
		st.mailfrom = value
	case "CRON_TZ":
		st.zone = value
	case "RANDOM_DELAY":
		st.randomDelay = value
	default:
		if name == "SHELL" {
			st.shell = value
		}
		env := make(map[string]string, len(st.env)+1) // the jobs above keep theirs
		for k, v := range st.env {
			env[k] = v
		}
		env[name] = value
		st.env = env
	}
}

// cronEnv reads an environment line, NAME=VALUE, as cron does: blanks around the =
// are allowed, and the value may be quoted (to keep blanks at its ends). A line
// that is not one is a job line.
func cronEnv(s string) (name, value string, ok bool) {
	rest := s
	if q := s[0]; q == '"' || q == '\'' {
		end := strings.IndexByte(s[1:], q)
		if end < 0 {
			return "", "", false
		}
		name, rest = s[1:1+end], s[2+end:]
	} else {
		end := strings.IndexAny(s, " \t=")
		if end <= 0 {
			return "", "", false
		}
		name, rest = s[:end], s[end:]
	}
	rest = strings.TrimLeft(rest, " \t")
	if name == "" || !strings.HasPrefix(rest, "=") {
		return "", "", false
	}
	value = strings.Trim(rest[1:], " \t")
	if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') {
		if end := strings.IndexByte(value[1:], value[0]); end == len(value)-2 {
			value = value[1 : len(value)-1]
		}
	}
	return name, value, true
}

// cronJob is the job of one job line, before it is named for good. cron is the
// line's schedule (and user), for the crontab that keeps it.
func cronJob(s, line, source string, opt CrontabOptions, st *cronState) (*cronFile, string, error) {
	if !utf8.ValidString(s) {
		return nil, "", fmt.Errorf("not UTF-8: a job file cannot hold these bytes")
	}
	n, want := 5, "five time fields"
	if strings.HasPrefix(s, "@") {
		n, want = 1, "an @word"
	}
	if opt.System {
		n, want = n+1, want+", a user"
	}
	fields, command := splitFields(s, n)
	if len(fields) < n || strings.TrimSpace(command) == "" {
		return nil, "", fmt.Errorf("want %s and a command", want)
	}
	f := &cronFile{source: source, line: line, st: st}
	cron := strings.Join(fields, " ")
	user := ""
	if opt.System {
		user, fields = fields[len(fields)-1], fields[:len(fields)-1]
		if user != "root" {
			return nil, "", fmt.Errorf("runs as %s: a job file has no user, and a job runs as the user up runs as "+
				"(put the line, without the user, in %s's crontab, and import that for an up that runs as %s)", user, user, user)
		}
		f.root = true
	}

	switch spec := fields[0]; {
	case spec == "@reboot":
		f.schedule = spec
	case strings.HasPrefix(spec, "@"):
		if !slices.Contains(descriptors, spec) {
			return nil, "", fmt.Errorf("%s is not a schedule cron knows (@reboot, %s)", spec, strings.Join(descriptors, ", "))
		}
		f.schedule = spec
	default:
		dow := fields[4]
		fields[4] = sundaySeven(dow)
		f.schedule, f.sunday = strings.Join(fields, " "), fields[4] != dow
	}
	if f.schedule != "@reboot" {
		var loc *time.Location
		if st.zone != "" {
			var err error
			if loc, err = time.LoadLocation(st.zone); err != nil || st.zone == "Local" {
				return nil, "", fmt.Errorf("CRON_TZ=%s is not a time zone known here", st.zone)
			}
		}
		if _, err := supervisor.ParseSchedule(f.schedule, loc); err != nil {
			return nil, "", err
		}
	}

	f.home = st.env["HOME"] // cron runs a job in $HOME
	if f.home == "" && opt.Home != nil {
		f.home, f.homeErr = opt.Home(user)
	}
	f.script, f.stdin = cronCommand(command)
	f.Name = cleanName(programName(f.script))
	return f, cron, nil
}

// cronFile is a job line on its way to a job file.
type cronFile struct {
	File
	source, line string
	st           *cronState
	schedule     string // as the job file has it, or @reboot
	sunday       bool   // the day of the week had cron's 7 for Sunday
	root         bool   // a system crontab's line for root
	script       string // the command, as cron hands it to the shell
	stdin        string // what cron writes to its standard input
	home         string
	homeErr      error
	notes        []string
}

// text is the job file of f, and the command it runs.
func (f *cronFile) text() ([]byte, []string) {
	var t jobText
	st := f.st
	t.comment("Imported by `supervise import crontab` from %s:", f.source)
	t.comment("  %s", f.line)
	if st.mailto != nil {
		switch to := *st.mailto; {
		case to == "":
			t.comment("MAILTO was empty, so cron mailed nothing: alerts now go to the chat.")
		default:
			t.comment("MAILTO=%s: cron mailed the output there; alerts now go to the chat.", to)
		}
	}
	if st.mailfrom != "" {
		t.comment("MAILFROM=%s: no mail is sent; alerts go to the chat.", st.mailfrom)
	}

	var argv []string
	shell := st.shell != "" && st.shell != "/bin/sh"
	script := f.script
	if f.stdin != "" {
		// What cron writes to the shell's standard input, the shell's commands get.
		script = "printf '%s' " + shellQuote(f.stdin) + " | {\n" + script + "\n}"
	}
	switch {
	case f.stdin == "" && plainCommand(script):
		argv = strings.Fields(script)
		t.key("command", tomlStrings(argv), "")
	case shell:
		argv = []string{st.shell, "-c", script}
		t.key("command", tomlStrings(argv), "")
		t.comment("SHELL=%s: cron ran the command with it, and so does this job.", st.shell)
	default:
		argv = supervisor.ShellCommand(script)
		t.key("command", tomlString(script), "")
	}
	if f.stdin != "" {
		t.comment("The text after the command's first %% is its standard input, as cron gave it.")
	}
	if n := len(f.script) - len(strings.TrimRight(f.script, `\`)); n%2 == 1 {
		const why = "cron has no continuation lines: the \\ at the end is the command's, and the next line is one of its own"
		t.comment("%s.", why)
		f.notes = append(f.notes, why)
	}

	if f.schedule == "@reboot" {
		t.key("restart", `"never"`, "@reboot: runs once, when up starts")
		t.comment("@reboot: runs each time up starts, where cronie runs it once a boot.")
	} else {
		why := ""
		if f.sunday {
			why = "cron's 7 for Sunday is 0 here"
		}
		t.key("schedule", tomlString(f.schedule), why)
		if st.zone != "" {
			t.key("timezone", tomlString(st.zone), "CRON_TZ")
		}
		if n, err := strconv.Atoi(st.randomDelay); err == nil && n > 0 {
			t.key("jitter", tomlString(fmt.Sprintf("%dm", n)), "RANDOM_DELAY: a delay for each run")
		}
	}
	if tz, ok := st.env["TZ"]; ok && st.zone == "" && f.schedule != "@reboot" {
		t.comment("TZ=%s is in the job's environment; cron read the schedule in the host's zone, and so does this job:", tz)
		t.comment("set timezone = %q (as CRON_TZ does) to read it in %s.", tz, tz)
	}
	switch {
	case f.home != "":
		t.key("dir", tomlString(f.home), "cron runs a job in its user's home")
	case f.homeErr != nil:
		t.comment("cron ran this job in its user's home, unknown here (%v): set dir.", f.homeErr)
	}
	t.key("pty", "false", "as under cron: output through a pipe, no terminal")
	if f.root {
		t.comment("cron ran it as root: it runs as the user up runs as (root, as the packaged service runs).")
	}
	t.table("env", st.env)
	return t.bytes(), argv
}

// splitFields takes n blank-separated fields off the front of s, and returns them
// and the rest of s, which begins after the blanks that follow them.
func splitFields(s string, n int) ([]string, string) {
	var fields []string
	for len(fields) < n {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			break
		}
		end := strings.IndexAny(s, " \t")
		if end < 0 {
			end = len(s)
		}
		fields, s = append(fields, s[:end]), s[end:]
	}
	return fields, strings.TrimLeft(s, " \t")
}

// sundaySeven rewrites a day-of-week field in which cron's 7 means Sunday, as the
// schedule parser knows it only as 0: "5-7" is "5-6,0".
func sundaySeven(field string) string {
	parts := strings.Split(field, ",")
	changed := false
	for i, p := range parts {
		rng, step, hasStep := strings.Cut(p, "/")
		lo, hi, isRange := strings.Cut(rng, "-")
		switch {
		case rng == "7":
			parts[i], changed = "0"+suffix(step, hasStep), true
		case isRange && hi == "7" && !hasStep:
			if lo == "0" || lo == "7" {
				parts[i] = "0-6"
				if lo == "7" {
					parts[i] = "0"
				}
			} else {
				parts[i] = lo + "-6,0"
			}
			changed = true
		case isRange && hi == "7" && hasStep:
			// Spell the days out: 1-7/2 is 1,3,5,7, which is 0,1,3,5.
			from, err1 := strconv.Atoi(lo)
			by, err2 := strconv.Atoi(step)
			if err1 != nil || err2 != nil || by <= 0 || from < 0 || from > 7 {
				continue // the parser says what is wrong
			}
			var days []string
			for d := from; d <= 7; d += by {
				days = append(days, strconv.Itoa(d%7))
			}
			parts[i], changed = strings.Join(days, ","), true
		}
	}
	if !changed {
		return field
	}
	return strings.Join(parts, ",")
}

func suffix(step string, has bool) string {
	if has {
		return "/" + step
	}
	return ""
}

// cronCommand reads the command part of a crontab line as cron (Vixie cron, cronie)
// runs it: the first % that no backslash escapes ends the command, and what follows
// is written to its standard input, each further unescaped % a newline; \% is a %.
func cronCommand(cmd string) (script, stdin string) {
	var b strings.Builder
	escaped := false
	i := 0
	for ; i < len(cmd); i++ {
		c := cmd[i]
		if escaped {
			escaped = false
			if c == '%' { // the backslash goes, the % stays
				s := b.String()
				b.Reset()
				b.WriteString(s[:len(s)-1])
			}
			b.WriteByte(c)
			continue
		}
		if c == '%' {
			break
		}
		escaped = c == '\\'
		b.WriteByte(c)
	}
	script = b.String()
	if i >= len(cmd) {
		return script, ""
	}
	// The standard input, byte for byte as cron's do_command.c writes it.
	b.Reset()
	escaped = false
	for _, c := range []byte(cmd[i+1:]) {
		if escaped {
			if c != '%' {
				b.WriteByte('\\')
			}
		} else if c == '%' {
			c = '\n'
		}
		if escaped = c == '\\'; !escaped {
			b.WriteByte(c)
		}
	}
	if escaped {
		b.WriteByte('\\')
	}
	return script, b.String()
}

// shellWords are the words that make a command shell syntax even with nothing
// else that is: builtins and keywords, which no program on PATH stands for.
var shellWords = []string{"cd", "exec", "export", "set", "unset", ".", "source", "eval", "exit",
	"if", "for", "while", "until", "case", "{", "!", "umask", "ulimit", "trap", "wait",
	"read", "alias", "command", "type", "local", "return", "shift", "times", ":", "readonly",
	"hash", "getopts", "function", "select", "time", "[["}

// plainCommand reports whether script is words a shell would only split at blanks,
// so that it may run as an argv, without one: no quotes, variables, globs,
// redirections, operators or builtins.
func plainCommand(script string) bool {
	words := strings.Fields(script)
	if len(words) == 0 || strings.Contains(words[0], "=") || slices.Contains(shellWords, words[0]) {
		return false
	}
	return !strings.ContainsFunc(script, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(" \t-_./:,+@=%", c))
	})
}
