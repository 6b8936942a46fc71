package importer

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/supervise/supervise/supervisor"
)

// SupervisordOptions say where a supervisord config's jobs go, and what its
// %(ENV_X)s and %(host_node_name)s expand to.
type SupervisordOptions struct {
	Into    string   // the folder the job files go to
	Environ []string // the environment %(ENV_X)s reads, as os.Environ gives it
	Host    string   // %(host_node_name)s
}

// Supervisord translates the [program:x] sections of the supervisord config file
// path, and of the files its [include] names, into job files: one a process. Keys
// and sections with no equal here are in Skipped or Notes, each with why. The error
// is for a file that cannot be read, or that supervisord could not read either.
//
// Values are expanded as supervisord expands them: %(here)s is the folder of the
// file that sets the value; %(program_name)s, %(group_name)s, %(process_num)d,
// %(numprocs)d and %(host_node_name)s are the process's; %(ENV_X)s is X of the
// environment the import runs in, of [supervisord] environment, or of the program's
// own environment.
func Supervisord(path string, opt SupervisordOptions) (*Result, error) {
	p := &iniFile{}
	if err := readINI(p, path); err != nil {
		return nil, err
	}
	main, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	c := &supervisord{opt: opt, r: &Result{}, taken: names{}, groups: map[string]string{},
		vars: map[string]any{"here": main, "host_node_name": opt.Host}}
	for _, kv := range opt.Environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			c.vars["ENV_"+k] = v
		}
	}
	if inc := p.byName["include"]; inc != nil {
		c.include(p, path, inc)
	}
	if sd := p.byName["supervisord"]; sd != nil {
		c.daemon(sd)
	}
	for _, s := range p.sections {
		if group, ok := strings.CutPrefix(s.name, "group:"); ok && s.keys["programs"] != nil {
			for _, prog := range strings.Split(s.keys["programs"].value, ",") {
				c.groups[strings.TrimSpace(prog)] = group
			}
		}
	}
	r := c.r
	for _, s := range p.sections {
		kind, name, _ := strings.Cut(s.name, ":")
		switch kind {
		case "program":
			c.program(s, name)
		case "supervisord", "include":
		case "group":
			r.note(s.source(), "[%s]: its programs are jobs of their own; supervise has no groups (start, stop and restart take several jobs)", s.name)
		case "unix_http_server", "inet_http_server", "supervisorctl", "rpcinterface", "ctlplugin":
			r.note(s.source(), "[%s]: supervisord's own; up's control socket is --socket (supervise status, start, stop...), its HTTP listener --listen", s.name)
		case "eventlistener":
			r.skip(s.source(), "[%s] not translated: supervise has no event listeners; its notifications (the [notify] of each job) take their place", s.name)
		case "fcgi-program":
			r.skip(s.source(), "[%s] not translated: supervise does not open sockets for its jobs; run the program as one that listens itself", s.name)
		default:
			r.skip(s.source(), "[%s] not translated: not a section supervisord knows", s.name)
		}
	}
	sortItems(r.Skipped)
	sortItems(r.Notes)
	return r, nil
}

// readINI reads the config file path into p.
func readINI(p *iniFile, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return p.read(path, data)
}

// supervisord is one import of a supervisord config.
type supervisord struct {
	opt    SupervisordOptions
	vars   map[string]any    // what every value may expand: here, host_node_name, ENV_X
	global map[string]string // [supervisord] environment
	groups map[string]string // the [group:x] of a program
	r      *Result
	taken  names
}

// value is the value of k expanded with vars, %(here)s as the folder of the file
// that set it.
func value(k *iniKey, vars map[string]any) (string, error) {
	here, err := filepath.Abs(filepath.Dir(k.file))
	if err != nil {
		return "", err
	}
	v, err := expand(strings.ReplaceAll(k.value, "%(here)s", here), vars)
	if err != nil {
		return "", fmt.Errorf("%s: %w", k.name, err)
	}
	return v, nil
}

// include reads the files of [include], as supervisord does: globs in the main
// file's folder, the files of each in order, and only from the main file.
func (c *supervisord) include(p *iniFile, path string, inc *iniSection) {
	files := inc.keys["files"]
	if files == nil {
		c.r.skip(inc.source(), "[include] has no files")
		return
	}
	list, err := value(files, c.vars)
	if err != nil {
		c.r.skip(files.source(), "[include] not read: %v", err)
		return
	}
	for _, pattern := range strings.Fields(list) {
		if !filepath.IsAbs(pattern) {
			pattern = filepath.Join(filepath.Dir(path), pattern)
		}
		matches, err := filepath.Glob(pattern)
		if err != nil || len(matches) == 0 {
			c.r.note(files.source(), "[include] no file matches %s", pattern)
			continue
		}
		slices.Sort(matches)
		for _, m := range matches {
			if err := readINI(p, m); err != nil {
				c.r.skip(files.source(), "[include] %v", err)
			}
			if s := p.byName["include"]; s.file == m {
				c.r.note(s.source(), "[include] of an included file: not read, as supervisord reads [include] only in its main file")
				s.file, s.line = inc.file, inc.line
			}
		}
	}
}

// daemon reads [supervisord]: its environment is every program's, and what else it
// says is supervisord's own.
func (c *supervisord) daemon(s *iniSection) {
	var own []string
	for _, name := range sortedKeys(s.keys) {
		if name != "environment" {
			own = append(own, name)
		}
	}
	if k := s.keys["environment"]; k != nil {
		env, err := value(k, c.vars)
		var lost []string
		if err == nil {
			c.global, lost, err = keyValues(env)
		}
		if err != nil {
			c.r.skip(k.source(), "[supervisord] environment not translated: %v", err)
		}
		if len(lost) > 0 {
			c.r.note(k.source(), "[supervisord] environment: %s", lostSays(c.global, lost))
		}
		for name, v := range c.global {
			c.vars["ENV_"+name] = v
		}
	}
	if len(own) > 0 {
		c.r.note(s.source(), "[supervisord] %s: supervisord's own settings; up's are its flags and the environment it is started with", strings.Join(own, ", "))
	}
	for _, name := range []string{"user", "umask", "minfds", "minprocs"} {
		if k := s.keys[name]; k != nil {
			c.r.note(k.source(), "[supervisord] %s = %s applied to every program too: start up with the same (%s)", name, k.value, map[string]string{
				"user": "run up as that user", "umask": "umask in up's service", "minfds": "LimitNOFILE= in up's unit", "minprocs": "LimitNPROC= in up's unit"}[name])
		}
	}
}

// programKeys are the keys of a [program:x] that supervisord knows.
var programKeys = []string{
	"command", "process_name", "numprocs", "numprocs_start", "priority", "autostart",
	"startsecs", "startretries", "autorestart", "exitcodes", "stopsignal", "stopwaitsecs",
	"stopasgroup", "killasgroup", "user", "redirect_stderr", "stdout_logfile",
	"stdout_logfile_maxbytes", "stdout_logfile_backups", "stdout_capture_maxbytes",
	"stdout_events_enabled", "stdout_syslog", "stderr_logfile", "stderr_logfile_maxbytes",
	"stderr_logfile_backups", "stderr_capture_maxbytes", "stderr_events_enabled",
	"stderr_syslog", "environment", "directory", "umask", "serverurl",
}

// program translates [program:name] into one job file a process.
func (c *supervisord) program(s *iniSection, name string) {
	vars := maps.Clone(c.vars)
	group := name
	if g, ok := c.groups[name]; ok {
		group = g
	}
	vars["program_name"], vars["group_name"] = name, group
	for _, key := range sortedKeys(s.keys) {
		if !slices.Contains(programKeys, key) {
			c.r.skip(s.keys[key].source(), "[%s] %s: not translated: not a key of supervisord's [program:x]", s.name, key)
		}
	}
	fail := func(k *iniKey, format string, a ...any) {
		where := s.source()
		if k != nil {
			where = k.source()
		}
		c.r.skip(where, "[%s] not translated: %s", s.name, fmt.Sprintf(format, a...))
	}
	count := func(key string, def, least int) (int, bool) {
		k := s.keys[key]
		if k == nil {
			return def, true
		}
		v, err := value(k, vars)
		n, perr := pyInt(v)
		if err == nil {
			err = perr
		}
		if err == nil && n < least {
			err = fmt.Errorf("%d is less than %d", n, least)
		}
		if err != nil {
			fail(k, "%s: %v", key, err)
			return 0, false
		}
		return n, true
	}
	numprocs, ok1 := count("numprocs", 1, 1)
	start, ok2 := count("numprocs_start", 0, 0)
	if !ok1 || !ok2 {
		return
	}
	pname := "%(program_name)s"
	if k := s.keys["process_name"]; k != nil {
		pname = k.value
	}
	if numprocs > 1 && !strings.Contains(pname, "%(process_num)") {
		fail(s.keys["numprocs"], "numprocs = %d, and process_name does not hold %%(process_num): supervisord refuses it too", numprocs)
		return
	}
	if k := s.keys["command"]; k == nil || strings.TrimSpace(k.value) == "" {
		fail(k, "it has no command")
		return
	}
	if k := s.keys["autostart"]; k != nil {
		if on, err := pyBool(k.value); err != nil || !on {
			fail(k, "autostart = %s: up starts every job of its folder; run it with `supervise run` when it is wanted", k.value)
			return
		}
	}
	for num := start; num < start+numprocs; num++ {
		vars["process_num"], vars["numprocs"] = num, numprocs
		p, err := c.process(s, pname, vars, numprocs)
		if err != nil {
			fail(nil, "%v", err)
			return
		}
		p.name = c.taken.take(p.name)
		text := p.t.bytes()
		if _, err := load(c.opt.Into, p.name, text, p.argv); err != nil {
			fail(nil, "%v", err)
			continue
		}
		c.r.Files = append(c.r.Files, File{Name: p.name, Source: s.source(), Text: text})
		if num == start { // what is said of a program is said once, not for each process
			c.r.Skipped = append(c.r.Skipped, p.skipped...)
			c.r.Notes = append(c.r.Notes, p.notes...)
		}
	}
}

// process is one process of a program on its way to a job file.
type process struct {
	section string
	name    string
	argv    []string
	t       jobText
	skipped []Item
	notes   []Item
}

func (p *process) skip(k *iniKey, format string, a ...any) {
	p.skipped = append(p.skipped, Item{k.source(), fmt.Sprintf("[%s] %s = %s: not kept: %s", p.section, k.name, oneLine(k.value), fmt.Sprintf(format, a...))})
}

func (p *process) note(k *iniKey, format string, a ...any) {
	p.notes = append(p.notes, Item{k.source(), fmt.Sprintf("[%s] %s = %s: %s", p.section, k.name, oneLine(k.value), fmt.Sprintf(format, a...))})
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// process is the job file of one process of the program of section s, whose
// process_name is pname, with vars for its number.
func (c *supervisord) process(s *iniSection, pname string, vars map[string]any, numprocs int) (*process, error) {
	p := &process{section: s.name}
	val := func(key string) (*iniKey, string, error) {
		k := s.keys[key]
		if k == nil {
			return nil, "", nil
		}
		v, err := value(k, vars)
		return k, v, err
	}
	var keys []func() // the keys after command, in the order they are written
	keyLine := func(key, value, why string) { keys = append(keys, func() { p.t.key(key, value, why) }) }

	// The environment first: its names are %(ENV_X)s in the values that follow.
	env := maps.Clone(c.global)
	if env == nil {
		env = map[string]string{}
	}
	if k, v, err := val("environment"); err != nil {
		return nil, err
	} else if k != nil {
		own, lost, err := keyValues(v)
		if err != nil {
			return nil, fmt.Errorf("environment: %w", err)
		}
		if len(lost) > 0 {
			p.note(k, "%s", lostSays(own, lost))
		}
		for name, value := range own {
			env[name] = value
			vars["ENV_"+name] = value
		}
	}

	procName, err := expand(pname, vars)
	if err != nil {
		return nil, fmt.Errorf("process_name: %w", err)
	}
	if p.name = cleanName(procName); p.name != procName {
		p.notes = append(p.notes, Item{s.source(), fmt.Sprintf("[%s] %s is named %s: a job name has letters, digits, '.', '_' and '-'", s.name, procName, p.name)})
	}
	_, command, err := val("command")
	if err != nil {
		return nil, err
	}
	if p.argv, err = shlexSplit(command); err != nil || len(p.argv) == 0 {
		return nil, fmt.Errorf("command: %q cannot be split into words: %v", command, err)
	}
	for _, key := range sortedKeys(s.keys) {
		if k := s.keys[key]; strings.Contains(k.value, "%(ENV_") {
			p.note(k, "%%(ENV_…)s is expanded now, from the environment of this import and the config, as supervisord expanded it at its start")
		}
	}
	p.t.comment("Imported by `supervise import supervisord` from %s:", s.source())
	p.t.comment("  [%s]", s.name)
	if numprocs > 1 {
		p.t.comment("process_num = %d, of numprocs = %d", vars["process_num"], numprocs)
	}

	if k, v, err := val("umask"); err != nil {
		return nil, err
	} else if k != nil {
		mask, err := strconv.ParseUint(v, 8, 32)
		if err != nil || mask > 0o777 {
			return nil, fmt.Errorf("umask: %q is not an octal mask", v)
		}
		// A job file has no umask: sh sets it, then becomes the program.
		p.argv = append([]string{"/bin/sh", "-c", fmt.Sprintf(`umask %03o && exec "$@"`, mask), "sh"}, p.argv...)
		p.note(k, "the command runs through sh, which sets it")
	}
	if k, v, err := val("directory"); err != nil {
		return nil, err
	} else if k != nil {
		if !filepath.IsAbs(v) {
			v = filepath.Join(vars["here"].(string), v)
			p.note(k, "read as %s, in the config file's folder", v)
		}
		keyLine("dir", tomlString(filepath.Clean(v)), "directory")
	}

	restart, why := "on-failure", "autorestart = unexpected, the default"
	if k, v, err := val("autorestart"); err != nil {
		return nil, err
	} else if k != nil && strings.ToLower(v) != "unexpected" {
		on, err := pyBool(v)
		if err != nil {
			return nil, fmt.Errorf("autorestart: %q is not true, false or unexpected", v)
		}
		restart, why = map[bool]string{true: "always", false: "never"}[on], "autorestart = "+v
	}
	keyLine("restart", tomlString(restart), why)
	if k, v, err := val("exitcodes"); err != nil {
		return nil, err
	} else if k != nil && strings.ReplaceAll(v, " ", "") != "0" {
		p.skip(k, "supervise counts only exit status 0 as success: another is a failure (told, and restarted under on-failure)")
	}

	startsecs, startretries := 1, 3 // supervisord's defaults
	for _, n := range []struct {
		key string
		dst *int
	}{{"startsecs", &startsecs}, {"startretries", &startretries}} {
		if k, v, err := val(n.key); err != nil {
			return nil, err
		} else if k != nil {
			if *n.dst, err = pyInt(v); err != nil || *n.dst < 0 {
				return nil, fmt.Errorf("%s: %q is not a whole number of 0 or more", n.key, v)
			}
		}
	}
	switch k := s.keys["startsecs"]; {
	case startsecs == 0:
		p.note(k, "every run counts as started at once there; here the default healthy_after (30s) is kept, so that a program that exits at once is restarted with backoff, not in a tight loop")
	case k == nil:
		keyLine("healthy_after", `"1s"`, "startsecs, whose default is 1")
	default:
		keyLine("healthy_after", tomlString(fmt.Sprintf("%ds", startsecs)), "startsecs")
	}
	why = "startretries: then crash-looping, retried, never given up (supervisord: FATAL)"
	switch k := s.keys["startretries"]; {
	case startretries == 0:
		p.note(k, "restart_limit.burst is at least 1: the second quick death in a row makes a crash loop")
	case k == nil:
		why = "startretries, whose default is 3: then crash-looping, not FATAL"
	}
	keyLine("restart_limit", fmt.Sprintf("{ burst = %d }", max(startretries, 1)), why)

	if k, v, err := val("stopsignal"); err != nil {
		return nil, err
	} else if k != nil {
		if sig, err := stopSignal(v); err != nil {
			p.skip(k, "%v; the default TERM is kept", err)
		} else {
			keyLine("stop_signal", tomlString(sig), "stopsignal")
		}
	}
	if k, v, err := val("stopwaitsecs"); err != nil {
		return nil, err
	} else if k != nil {
		switch n, err := pyInt(v); {
		case err != nil || n < 0:
			return nil, fmt.Errorf("stopwaitsecs: %q is not a whole number of 0 or more", v)
		case n == 0:
			p.note(k, "a stop_timeout is more than 0: the default 10s is kept")
		default:
			keyLine("stop_timeout", tomlString(fmt.Sprintf("%ds", n)), "stopwaitsecs")
		}
	}
	keyLine("pty", "false", "as under supervisord: output through pipes, no terminal")
	c.said(p, s, vars, numprocs, keyLine)

	for _, it := range p.skipped {
		p.t.comment("%s", strings.TrimPrefix(it.Text, "["+s.name+"] "))
	}
	for _, it := range p.notes {
		p.t.comment("%s", strings.TrimPrefix(it.Text, "["+s.name+"] "))
	}
	p.t.key("command", tomlStrings(p.argv), "")
	for _, k := range keys {
		k()
	}
	p.t.table("env", env)
	return p, nil
}

// said adds to p what the keys that have no equal in a job file become: the log's
// size, and notes on what supervise does its own way.
func (c *supervisord) said(p *process, s *iniSection, vars map[string]any, numprocs int, keyLine func(key, value, why string)) {
	for _, key := range []string{"stopasgroup", "killasgroup"} {
		if k := s.keys[key]; k != nil {
			p.note(k, "always true here: the stop signal, then SIGKILL, go to the job's whole process group (its session)")
		}
	}
	if k := s.keys["user"]; k != nil {
		user, _ := value(k, vars)
		p.skip(k, "a job file has no user: the job runs as the user up runs as; run an up as %s for it, or begin the command with runuser -u %s --", user, user)
	}
	if k := s.keys["priority"]; k != nil {
		p.note(k, "up starts every job at once, in no order; a job that needs another must wait for it itself")
	}

	// Output: one log a job, stdout and stderr together.
	logs := fmt.Sprintf("output now goes to STATE/logs/%s.log and up's stdout (supervise logs %s)", p.name, p.name)
	if numprocs > 1 {
		logs = "output now goes to STATE/logs/JOB.log, one for each process's job, and up's stdout (supervise logs JOB)"
	}
	if k := s.keys["redirect_stderr"]; k != nil {
		p.note(k, "stdout and stderr always go together here; %s", logs)
	}
	for _, key := range []string{"stdout_logfile", "stderr_logfile"} {
		if k := s.keys[key]; k != nil {
			switch v, _ := value(k, vars); strings.ToLower(v) {
			case "none", "off":
				p.note(k, "no log was kept there; here every job has one: %s", logs)
			case "auto":
				p.note(k, "%s", logs)
			default:
				p.note(k, "%s, not to %s", logs, v)
			}
		}
	}
	size := map[string]string{}
	if k := s.keys["stdout_logfile_maxbytes"]; k != nil {
		v, err := value(k, vars)
		n, serr := byteSize(v)
		switch {
		case err != nil || serr != nil:
			p.skip(k, "not a size; the default log.max_size (10MB) is kept")
		case n == 0:
			p.note(k, "logs were never rotated there; here at log.max_size, default 10MB")
		default:
			size["max_size"] = tomlString(sizeString(n))
		}
	}
	if k := s.keys["stdout_logfile_backups"]; k != nil {
		v, err := value(k, vars)
		n, ierr := pyInt(v)
		switch {
		case err != nil || ierr != nil || n < 0:
			p.skip(k, "not a whole number; the default log.keep (5) is kept")
		case n > 100:
			p.note(k, "log.keep is at most 100")
			size["keep"] = "100"
		default:
			size["keep"] = strconv.Itoa(n)
		}
	}
	if len(size) > 0 {
		var parts []string
		for _, k := range sortedKeys(size) {
			parts = append(parts, k+" = "+size[k])
		}
		keyLine("log", "{ "+strings.Join(parts, ", ")+" }", "stdout_logfile_maxbytes and _backups")
	}
	for _, key := range []string{"stderr_logfile_maxbytes", "stderr_logfile_backups"} {
		if k := s.keys[key]; k != nil {
			p.note(k, "stderr shares the job's one log, rotated as stdout_logfile_maxbytes and _backups say")
		}
	}
	for _, key := range []string{"stdout_capture_maxbytes", "stderr_capture_maxbytes", "stdout_events_enabled", "stderr_events_enabled"} {
		if k := s.keys[key]; k != nil {
			p.note(k, "events were for event listeners; supervise's notifications take their place")
		}
	}
	for _, key := range []string{"stdout_syslog", "stderr_syslog"} {
		if k := s.keys[key]; k != nil {
			p.note(k, "up writes each line of output to its stdout, which systemd puts in the journal")
		}
	}
	if k := s.keys["serverurl"]; k != nil {
		p.note(k, "supervise has no XML-RPC server; a job can signal life with `supervise ping` instead")
	}
}

// stopSignal reads a stopsignal as supervisord does (a name, with or without SIG,
// or a number) and names it as stop_signal takes it.
func stopSignal(v string) (string, error) {
	name := strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(v)), "SIG")
	if n, err := strconv.Atoi(name); err == nil {
		name = strings.TrimPrefix(supervisor.SignalName(syscall.Signal(n)), "SIG")
		if name == "" {
			return "", fmt.Errorf("signal %d has no name stop_signal knows", n)
		}
	}
	if _, err := supervisor.ParseSignal(name); err != nil {
		return "", err
	}
	return name, nil
}

// sizeString writes n bytes as a log.max_size: in MB or KB when it is a whole number
// of them.
func sizeString(n int64) string {
	switch {
	case n%(1<<20) == 0:
		return fmt.Sprintf("%dMB", n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%dKB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// lostSays tells what keyValues read from an environment that dropped the tokens
// lost, as supervisord did.
func lostSays(env map[string]string, lost []string) string {
	var read []string
	for _, k := range sortedKeys(env) {
		read = append(read, fmt.Sprintf("%s=%q", k, env[k]))
	}
	return fmt.Sprintf("supervisord read it as %s, without %q, and so does the job: quote a value with characters other than letters, digits and _/.+-():",
		strings.Join(read, ", "), lost)
}
