package supervisor

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/BurntSushi/toml"
)

// Job files are decoded strictly: every key is looked up in a table of decoders, and
// each value is decoded on its own, so one file reports all of its problems at once,
// each with its line. BurntSushi/toml only knows key positions inside its MetaData; a
// decoder's error comes back as a toml.ParseError that carries the line, which is why
// every value goes through a toml.Unmarshaler (decodeFunc) rather than a struct field.

// decodeFunc adapts a function to toml.Unmarshaler.
type decodeFunc func(v any) error

func (f decodeFunc) UnmarshalTOML(v any) error { return f(v) }

// errNUL is the error of a string that exec cannot take, in the command, its
// environment or its dir: a NUL byte ends a C string, and the kernel would refuse the
// job at every start.
var errNUL = errors.New(`holds a NUL byte ("\u0000"), which no program can be given`)

// problem is one thing wrong with a job file.
type problem struct {
	line int // 0 when the problem has no line, such as a missing key
	key  string
	msg  string
}

// jobDecoder holds the state of decoding one file.
type jobDecoder struct {
	file     string
	md       toml.MetaData
	problems []problem
}

// Load reads and validates one job file.
func Load(path string) (*Job, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse validates the job file text data, read from path. Every problem is reported,
// each as "path:LINE: key: what is wrong".
func Parse(path string, data []byte) (*Job, error) {
	job := NewJob(NameFromFile(path))
	job.File = path
	job.Display = ""

	var top map[string]toml.Primitive
	md, err := toml.Decode(string(data), &top)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return nil, fmt.Errorf("%s:%d: %s", path, syntaxLine(data, perr), syntaxMessage(perr))
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	d := &jobDecoder{file: path, md: md}

	fields := map[string]func(any) error{
		"name": func(v any) error {
			s, err := asString(v)
			if err != nil {
				return err
			}
			job.Name = s
			return CheckName(s)
		},
		"command": func(v any) error {
			switch c := v.(type) {
			case string:
				if strings.TrimSpace(c) == "" {
					return errors.New("is empty")
				}
				if strings.Contains(c, "\x00") {
					return errNUL
				}
				job.Command, job.Display = ShellCommand(c), oneLine(c)
			case []any:
				argv, err := asStrings(c)
				if err != nil {
					return err
				}
				if len(argv) == 0 || argv[0] == "" {
					return errors.New("is empty: give the program and its arguments, like [\"/usr/bin/backup\", \"--full\"]")
				}
				for i, a := range argv {
					if strings.Contains(a, "\x00") {
						return fmt.Errorf("element %d %w", i+1, errNUL)
					}
				}
				job.Command, job.Display = argv, quoteArgs(argv)
			default:
				return fmt.Errorf("must be a string (run by /bin/sh -c) or an array of strings (exec'd directly), not %s", typeName(v))
			}
			return nil
		},
		"dir": func(v any) error {
			s, err := asString(v)
			if err != nil {
				return err
			}
			if s == "" {
				return errors.New("is empty")
			}
			if strings.Contains(s, "\x00") {
				return errNUL
			}
			// Relative to the job file, so a folder of jobs can be moved as a whole.
			if !filepath.IsAbs(s) {
				s = filepath.Join(filepath.Dir(path), s)
			}
			job.Dir = s
			return nil
		},
		"env": func(v any) error {
			m, ok := v.(map[string]any)
			if !ok {
				return fmt.Errorf("must be a table of strings, like { PGHOST = \"db\" }, not %s", typeName(v))
			}
			job.Env = make(map[string]string, len(m))
			var errs []error
			for k, val := range m {
				s, ok := val.(string)
				switch {
				case k == "" || strings.ContainsAny(k, "=\x00"):
					errs = append(errs, fmt.Errorf("%q is not a valid variable name", k))
				case !ok:
					errs = append(errs, fmt.Errorf("%s must be a string, not %s", k, typeName(val)))
				case strings.Contains(s, "\x00"):
					errs = append(errs, fmt.Errorf("%s %w", k, errNUL))
				default:
					job.Env[k] = s
				}
			}
			return errors.Join(errs...)
		},
		"pty":          boolInto(&job.PTY),
		"timeout":      durationInto(&job.Timeout),
		"stop_timeout": durationInto(&job.StopTimeout),
		"stop_signal": func(v any) error {
			s, err := asString(v)
			if err != nil {
				return err
			}
			job.StopSignal, err = ParseSignal(s)
			return err
		},
	}
	notifyFields := map[string]func(any) error{
		"on":       kindsInto(&job.Notify.On),
		"attach":   enumInto(&job.Notify.Attach, "an attach setting", AttachAuto, AttachAlways, AttachNever),
		"telegram": destinationsInto(&job.Notify.Telegram),
		"tail": func(v any) error {
			n, ok := v.(int64)
			if !ok {
				return fmt.Errorf("must be a whole number of lines, not %s", typeName(v))
			}
			if n < 1 || n > MaxTail {
				return fmt.Errorf("%d is out of range 1..%d", n, MaxTail)
			}
			job.Notify.Tail = int(n)
			return nil
		},
	}
	fields["restart"] = enumInto(&job.Restart, "a restart policy", RestartAlways, RestartOnFailure, RestartNever)
	fields["healthy_after"] = durationInto(&job.HealthyAfter)
	tables := map[string]map[string]func(any) error{
		"notify": notifyFields,
		"backoff": {
			"initial": durationInto(&job.Backoff.Initial),
			"max":     durationInto(&job.Backoff.Max),
		},
		"log": {
			"max_size": func(v any) error {
				str, ok := v.(string)
				if !ok {
					return fmt.Errorf("must be a size string like \"10MB\", not %s", typeName(v))
				}
				n, err := ParseSize(str)
				job.Log.MaxSize = n
				return err
			},
			"keep": countInto(&job.Log.Keep, "old files", 0, 100),
		},
		"restart_limit": {
			"burst":  countInto(&job.RestartLimit.Burst, "restarts", 1, 1000),
			"within": durationInto(&job.RestartLimit.Within),
		},
	}
	// A schedule is read once its time zone is known, after every key.
	var spec, zone string
	var loc *time.Location
	fields["schedule"] = func(v any) error {
		var err error
		if spec, err = asString(v); err == nil && strings.TrimSpace(spec) == "" {
			err = errors.New(`is empty: write a cron expression like "0 3 * * *", or "@every 10m"`)
		}
		return err
	}
	fields["timezone"] = func(v any) error {
		var err error
		if zone, err = asString(v); err != nil {
			return err
		}
		if zone == "" || zone == "Local" {
			return fmt.Errorf("%q is not a time zone: name one like \"Asia/Seoul\" or \"UTC\", or leave timezone out for the host's", zone)
		}
		loc, err = time.LoadLocation(zone)
		if err != nil {
			return fmt.Errorf("%q is not a time zone known here: name one like \"Asia/Seoul\" or \"UTC\"", zone)
		}
		return nil
	}
	fields["overlap"] = enumInto(&job.Overlap, "an overlap policy", OverlapSkip, OverlapQueue, OverlapKill)
	fields["jitter"] = durationInto(&job.Jitter)
	fields["catch_up"] = boolInto(&job.CatchUp)
	fields["expect_success_within"] = durationInto(&job.ExpectSuccessWithin)
	fields["min_runtime"] = durationInto(&job.MinRuntime)

	hb := Heartbeat{Action: ActionAlert}
	var match string
	tables["heartbeat"] = map[string]func(any) error{
		"every":  durationInto(&hb.Every),
		"grace":  durationInto(&hb.Grace),
		"action": enumInto(&hb.Action, "a heartbeat action", ActionAlert, ActionRestart),
		"output": boolInto(&hb.Output),
		"output_match": func(v any) error {
			s, err := asString(v)
			if err != nil {
				return err
			}
			if hb.OutputMatch, err = regexp.Compile(s); err != nil {
				return fmt.Errorf("%q is not a regular expression: %v", s, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
			}
			match = s
			return nil
		},
	}

	for _, key := range sortedKeys(top) {
		prim := top[key]
		switch {
		case fields[key] != nil:
			d.decode(prim, fields[key])
		case tables[key] != nil:
			d.table(key, prim, tables[key])
		default:
			d.reject(key, prim, "unknown key")
		}
	}
	d.schedule(top, job, spec, loc)
	if _, ok := top["heartbeat"]; ok {
		_, scheduled := top["schedule"]
		d.heartbeat(top["heartbeat"], job, hb, match, scheduled && !md.IsDefined("command"))
	}
	if _, ok := top["heartbeat"]; ok && !md.IsDefined("command") {
		d.passive(top, job)
	} else if !md.IsDefined("command") {
		d.problems = append(d.problems, problem{key: "command", msg: "is required: the program to run, as an array or a shell string (or, for a passive job that something else pings, a [heartbeat] alone)"})
	}
	// Every key went through a decoder above; what is left undecoded lies under a key
	// whose decoder failed, and has been reported with it.
	if job.Backoff.Initial > job.Backoff.Max {
		d.problems = append(d.problems, problem{line: d.line(top["backoff"]), key: "backoff",
			msg: fmt.Sprintf("initial %s is more than max %s", job.Backoff.Initial, job.Backoff.Max)})
	}
	if err := d.err(); err != nil {
		return nil, err
	}
	if !md.IsDefined("name") {
		if err := CheckName(job.Name); err != nil {
			return nil, fmt.Errorf("%s: %w; rename the file or set name", path, err)
		}
	}
	return job, nil
}

// syntaxLine is the line of perr, a syntax error in data. BurntSushi/toml counts one
// line too few for a string cut by "\r\n" (line 0 on the first), but the offset it
// gives, of the error or of the start of its token, is right.
func syntaxLine(data []byte, perr toml.ParseError) int {
	line := perr.Position.Line
	if at := perr.Position.Start; at >= 0 && at <= len(data) {
		line = max(line, 1+bytes.Count(data[:at], []byte("\n")))
	}
	return line
}

// syntaxMessage is what perr says, on one line: BurntSushi/toml quotes the text it
// stumbled on, which may hold the line's end ("not a binary number: '0b\n'").
func syntaxMessage(perr toml.ParseError) string {
	return strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(perr.Message)
}

// schedule checks the keys of a scheduled job together: spec and loc as read, and the
// keys that only a schedule gives meaning to.
func (d *jobDecoder) schedule(top map[string]toml.Primitive, job *Job, spec string, loc *time.Location) {
	if _, set := top["schedule"]; !set {
		for _, key := range []string{"timezone", "overlap", "jitter", "catch_up", "expect_success_within"} {
			if prim, ok := top[key]; ok {
				d.problems = append(d.problems, problem{line: d.line(prim), key: key, msg: "applies only to a scheduled job: set schedule too"})
			}
		}
		return
	}
	if strings.TrimSpace(spec) == "" {
		return // its error is reported
	}
	s, err := ParseSchedule(spec, loc)
	if err != nil {
		d.problems = append(d.problems, problem{line: d.line(top["schedule"]), key: "schedule", msg: err.Error()})
		return
	}
	job.Schedule = s
	if loc != nil {
		job.Timezone = loc.String()
	}
	// Jitter as long as the time between runs would let one run's delay carry it past
	// the next; the shortest gap among the next runs is the bound.
	if prim, ok := top["jitter"]; ok && job.Jitter > 0 {
		if gap := shortestGap(s); job.Jitter >= gap {
			d.problems = append(d.problems, problem{line: d.line(prim), key: "jitter",
				msg: fmt.Sprintf("%s is not less than the %s between runs of %q", job.Jitter, gap, spec)})
		}
	}
	if prim, ok := top["restart"]; ok {
		d.problems = append(d.problems, problem{line: d.line(prim), key: "restart",
			msg: "does not apply to a scheduled job, which runs at its times: remove restart or schedule"})
	}
	job.Restart = RestartNever
}

// shortestGap is the shortest time between two of the next runs of s.
func shortestGap(s Schedule) time.Duration {
	gap, t := time.Duration(1<<63-1), s.Next(time.Now())
	for range 50 {
		next := s.Next(t)
		gap, t = min(gap, next.Sub(t)), next
	}
	return gap
}

// passive checks a passive job: a [heartbeat] and no command, a check that something
// else pings. The keys that only say how to run something, and a heartbeat that
// only a run could give, are errors.
func (d *jobDecoder) passive(top map[string]toml.Primitive, job *Job) {
	for _, key := range []string{"dir", "env", "pty", "timeout", "stop_signal", "stop_timeout", "restart", "backoff",
		"restart_limit", "healthy_after", "log", "overlap", "jitter", "catch_up", "expect_success_within", "min_runtime"} {
		if prim, ok := top[key]; ok {
			d.problems = append(d.problems, problem{line: d.line(prim), key: key,
				msg: "does not apply to a passive job ([heartbeat] and no command), which runs nothing: remove it, or set command"})
		}
	}
	if h := job.Heartbeat; h != nil && job.Schedule != nil && h.Every != 0 {
		d.problems = append(d.problems, problem{line: d.tableLine(top["heartbeat"]), key: "heartbeat.every",
			msg: "does not apply to a passive job with a schedule, which expects a ping after each of its times: remove every or schedule"})
	}
	if h := job.Heartbeat; h != nil && (h.Output || h.Action == ActionRestart) {
		d.problems = append(d.problems, problem{line: d.tableLine(top["heartbeat"]), key: "heartbeat",
			msg: "output and action = \"restart\" need a run: a passive job ([heartbeat] and no command) has only pings"})
	}
}

// heartbeat checks the [heartbeat] table as a whole, once its keys are read into hb.
// A passive job with a schedule (passiveScheduled) needs no every: it expects a ping
// after each of its times.
func (d *jobDecoder) heartbeat(prim toml.Primitive, job *Job, hb Heartbeat, match string, passiveScheduled bool) {
	sub, ok := d.subkeys(prim)
	if !ok {
		return // reported by table
	}
	if _, ok := sub["every"]; !ok && passiveScheduled {
		if _, ok := sub["grace"]; !ok {
			hb.Grace = time.Hour
			if job.Schedule != nil {
				hb.Grace = min(hb.Grace, shortestGap(job.Schedule)/10)
			}
		}
		job.Heartbeat = &hb
		return
	}
	if _, ok := sub["every"]; !ok {
		d.problems = append(d.problems, problem{line: d.tableLine(prim), key: "heartbeat.every",
			msg: "is required: how often a sign of life must come, like \"5m\""})
		return
	}
	if hb.Every == 0 {
		return // its error is reported
	}
	if _, ok := sub["grace"]; !ok {
		hb.Grace = hb.Every / 10
	}
	if hb.OutputMatch != nil {
		if out, ok := sub["output"]; ok && !hb.Output {
			d.problems = append(d.problems, problem{line: d.line(out), key: "heartbeat.output",
				msg: fmt.Sprintf("is false, but output_match %q makes matching lines count: remove one of them", match)})
		}
		hb.Output = true
	}
	job.Heartbeat = &hb
}

// decode runs f on the value of prim and records its error with the key's line.
func (d *jobDecoder) decode(prim toml.Primitive, f func(any) error) {
	err := d.md.PrimitiveDecode(prim, decodeFunc(f))
	if err == nil {
		return
	}
	var perr toml.ParseError
	if !errors.As(err, &perr) {
		d.problems = append(d.problems, problem{msg: err.Error()})
		return
	}
	// A decoder may join several errors: report each on its own line.
	for _, msg := range strings.Split(perr.Message, "\n") {
		d.problems = append(d.problems, problem{line: perr.Position.Line, key: perr.LastKey, msg: msg})
	}
}

// table decodes a [table] key by key with the decoders in fields.
func (d *jobDecoder) table(key string, prim toml.Primitive, fields map[string]func(any) error) {
	sub, ok := d.subkeys(prim)
	if !ok {
		d.reject(key, prim, "must be a table, like ["+key+"]")
		return
	}
	for _, k := range sortedKeys(sub) {
		if f := fields[k]; f != nil {
			d.decode(sub[k], f)
		} else {
			d.reject(key+"."+k, sub[k], "unknown key")
		}
	}
}

// reject records that key is wrong as a whole, on its line.
func (d *jobDecoder) reject(key string, prim toml.Primitive, msg string) {
	d.problems = append(d.problems, problem{line: d.tableLine(prim), key: key, msg: msg})
}

// tableLine is the line of prim's key. A table made by dotted keys (notify.on = …)
// has no line of its own: its first key's line stands for it.
func (d *jobDecoder) tableLine(prim toml.Primitive) int {
	line := d.line(prim)
	if sub, ok := d.subkeys(prim); ok && line == 0 {
		for _, p := range sub {
			if l := d.line(p); l > 0 && (line == 0 || l < line) {
				line = l
			}
		}
	}
	return line
}

// subkeys returns the keys of prim when it is a table. (Decoding a value that is not
// a table into a map is no error in BurntSushi/toml, so the type is checked first.)
func (d *jobDecoder) subkeys(prim toml.Primitive) (map[string]toml.Primitive, bool) {
	var v any
	if d.md.PrimitiveDecode(prim, &v) != nil {
		return nil, false
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, false
	}
	var sub map[string]toml.Primitive
	return sub, d.md.PrimitiveDecode(prim, &sub) == nil
}

// line is the line prim's key is on, or 0. The decoder knows it but only tells it in
// the toml.ParseError of a failed decode, so this makes one fail.
func (d *jobDecoder) line(prim toml.Primitive) int {
	var perr toml.ParseError
	if errors.As(d.md.PrimitiveDecode(prim, decodeFunc(func(any) error { return errors.New("") })), &perr) {
		return perr.Position.Line
	}
	return 0
}

// err joins the problems found, in the order of their lines.
func (d *jobDecoder) err() error {
	slices.SortStableFunc(d.problems, func(a, b problem) int { return cmp.Compare(a.line, b.line) })
	errs := make([]error, len(d.problems))
	for i, p := range d.problems {
		switch {
		case p.line > 0:
			errs[i] = fmt.Errorf("%s:%d: %s: %s", d.file, p.line, p.key, p.msg)
		case p.key != "":
			errs[i] = fmt.Errorf("%s: %s: %s", d.file, p.key, p.msg)
		default:
			errs[i] = fmt.Errorf("%s: %s", d.file, p.msg)
		}
	}
	return errors.Join(errs...)
}

// FileError is what is wrong with one job file.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string { return e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// LoadDir reads every *.toml file in dir. It returns the jobs that are valid and, for
// the others, an error that joins a *FileError for each, so one broken file neither
// hides the rest nor stops them.
//
// When supervise runs as root, a job file that is not owned by root or that group or
// others may write is refused, as cron and sshd refuse theirs: whoever can edit a job
// file can run commands as root.
func LoadDir(dir string) ([]*Job, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, err
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*.toml"))
	if err != nil {
		return nil, err
	}
	var (
		jobs []*Job
		errs []error
		seen = map[string]string{}
	)
	for _, p := range paths {
		job, err := loadChecked(p)
		if err == nil {
			if other, dup := seen[job.Name]; dup {
				err = fmt.Errorf("%s: name: job %q is already defined in %s", p, job.Name, other)
			}
		}
		if err != nil {
			errs = append(errs, &FileError{Path: p, Err: err})
			continue
		}
		seen[job.Name] = p
		jobs = append(jobs, job)
	}
	return jobs, errors.Join(errs...)
}

// loadChecked is Load with the checks of ownership that running as root calls for.
func loadChecked(path string) (*Job, error) {
	data, _, err := readChecked(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// readChecked reads the file at path and returns it with its FileInfo. When
// supervise runs as root it refuses a file that another user owns or that group or
// others may write, as cron refuses such a crontab: whoever can edit a job file, or
// the config, can run commands as root. What is checked is the file that is read.
func readChecked(path string) ([]byte, os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if os.Geteuid() == 0 {
		st, _ := fi.Sys().(*syscall.Stat_t)
		switch {
		case st != nil && st.Uid != 0:
			return nil, nil, fmt.Errorf("%s: refused: owned by uid %d, and supervise runs as root (chown root %s)", path, st.Uid, path)
		case fi.Mode().Perm()&0o022 != 0:
			return nil, nil, fmt.Errorf("%s: refused: group or others may write it (%s), and supervise runs as root (chmod go-w %s)", path, fi.Mode().Perm(), path)
		}
	}
	data, err := io.ReadAll(f)
	return data, fi, err
}

func durationInto(dst *time.Duration) func(any) error {
	return func(v any) error {
		s, ok := v.(string)
		if !ok {
			if _, isInt := v.(int64); isInt {
				return fmt.Errorf("%v has no unit: write a string like \"%vs\" or \"%vm\"", v, v, v)
			}
			return fmt.Errorf("must be a duration string like \"30s\", not %s", typeName(v))
		}
		d, err := ParseDuration(s)
		if err != nil {
			return err
		}
		*dst = d
		return nil
	}
}

// tablesOf is the array of tables v is, written [[name]] or name = [{ … }, …].
func tablesOf(v any, name string) ([]map[string]any, error) {
	tables, ok := v.([]map[string]any)
	if list, isList := v.([]any); isList {
		ok = true
		for _, e := range list {
			t, isTable := e.(map[string]any)
			ok = ok && isTable
			tables = append(tables, t)
		}
	}
	if !ok {
		return nil, fmt.Errorf("must be tables written %s, not %s", name, typeName(v))
	}
	return tables, nil
}

// destinationsInto decodes [[notify.telegram]] tables: chat_id (required), thread_id,
// silent, on and quiet_hours. Every problem names the table by its place.
func destinationsInto(dst *[]Destination) func(any) error {
	return func(v any) error {
		tables, err := tablesOf(v, "[[notify.telegram]]")
		if err != nil {
			return err
		}
		var errs []error
		for i, t := range tables {
			d, problems := destination(t)
			for _, err := range problems {
				errs = append(errs, fmt.Errorf("table %d: %w", i+1, err))
			}
			if len(problems) == 0 {
				*dst = append(*dst, d)
			}
		}
		return errors.Join(errs...)
	}
}

// destination decodes one [[notify.telegram]] table.
func destination(t map[string]any) (Destination, []error) {
	var d Destination
	var errs []error
	for _, key := range sortedKeys(t) {
		v := t[key]
		var err error
		switch key {
		case "chat_id":
			d.ChatID, err = chatID(v)
		case "thread_id":
			n, ok := v.(int64)
			switch {
			case !ok:
				err = fmt.Errorf("must be a forum topic's number, not %s", typeName(v))
			case n <= 0:
				err = fmt.Errorf("must be a forum topic's number, not %d", n)
			}
			d.ThreadID = n
		case "silent":
			err = boolInto(&d.Silent)(v)
		case "on":
			err = kindsInto(&d.On)(v)
		case "quiet_hours":
			s, serr := asString(v)
			if err = serr; err == nil {
				d.Quiet, err = parseQuiet(s)
			}
		default:
			err = errors.New("unknown key")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
	}
	if d.ChatID == "" && t["chat_id"] == nil {
		errs = append(errs, errors.New("chat_id: is required (`supervise telegram chats` lists the chats that wrote to the bot)"))
	}
	return d, errs
}

// chatID decodes a chat_id: a number (negative for groups and channels), or a public
// chat's @name.
func chatID(v any) (string, error) {
	switch id := v.(type) {
	case int64:
		return strconv.FormatInt(id, 10), nil
	case string:
		s := strings.TrimSpace(id)
		return s, CheckChatID(s)
	}
	return "", fmt.Errorf("must be a chat number or an @channel name, not %s", typeName(v))
}

// CheckChatID checks a chat_id as Telegram takes it: a number (negative for groups
// and channels), or a public chat's @name.
func CheckChatID(s string) error {
	if _, err := strconv.ParseInt(s, 10, 64); err != nil && !channelName(s) {
		return fmt.Errorf("%q is neither a chat number nor an @channel name", s)
	}
	return nil
}

// channelName reports whether s is a public chat's @name as Telegram allows them:
// 5 to 32 letters, digits and underscores.
func channelName(s string) bool {
	name, ok := strings.CutPrefix(s, "@")
	if !ok || len(name) < 5 || len(name) > 32 {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// parseQuiet reads quiet hours written "22:00-07:00".
func parseQuiet(s string) (Quiet, error) {
	from, to, ok := strings.Cut(strings.ReplaceAll(s, " ", ""), "-")
	f, ferr := time.Parse("15:04", from)
	t, terr := time.Parse("15:04", to)
	if !ok || ferr != nil || terr != nil || from == to {
		return Quiet{}, fmt.Errorf("%q is not a span of hours: write it like \"22:00-07:00\"", s)
	}
	since := func(t time.Time) time.Duration {
		return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute
	}
	return Quiet{From: since(f), To: since(t)}, nil
}

// countInto decodes a whole number of things from lo to hi into dst.
func countInto(dst *int, things string, lo, hi int64) func(any) error {
	return func(v any) error {
		n, ok := v.(int64)
		if !ok || n < lo || n > hi {
			return fmt.Errorf("must be a whole number of %s from %d to %d, not %v", things, lo, hi, v)
		}
		*dst = int(n)
		return nil
	}
}

// kindsInto decodes a list of event names, such as notify.on, into dst: an empty list
// is not nil, so that "on = []" says none.
func kindsInto(dst *[]Kind) func(any) error {
	return func(v any) error {
		a, ok := v.([]any)
		if !ok {
			return fmt.Errorf("must be an array of event names, like [\"failure\", \"timeout\"], not %s", typeName(v))
		}
		names, err := asStrings(a)
		if err != nil {
			return err
		}
		kinds := []Kind{}
		for _, n := range names {
			k, err := ParseKind(n)
			if err != nil {
				return err
			}
			kinds = append(kinds, k)
		}
		*dst = kinds
		return nil
	}
}

func boolInto(dst *bool) func(any) error {
	return func(v any) error {
		b, ok := v.(bool)
		if !ok {
			return fmt.Errorf("must be true or false, not %s", typeName(v))
		}
		*dst = b
		return nil
	}
}

// enumInto decodes one of values into dst; what names such a value in the error.
func enumInto[T ~string](dst *T, what string, values ...T) func(any) error {
	return func(v any) error {
		s, err := asString(v)
		if err != nil {
			return err
		}
		if slices.Contains(values, T(s)) {
			*dst = T(s)
			return nil
		}
		names := make([]string, len(values))
		for i, v := range values {
			names[i] = string(v)
		}
		last := len(names) - 1
		return fmt.Errorf("%q is not %s (use %s or %s)", s, what, strings.Join(names[:last], ", "), names[last])
	}
}

func asString(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("must be a string, not %s", typeName(v))
	}
	return s, nil
}

func asStrings(a []any) ([]string, error) {
	out := make([]string, len(a))
	for i, v := range a {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("element %d must be a string, not %s", i+1, typeName(v))
		}
		out[i] = s
	}
	return out, nil
}

// typeName names the TOML type of a decoded value for an error message.
func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	case []map[string]any:
		return "an array of tables"
	default:
		return "a date or time"
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// oneLine shows a shell script of several lines on one, for messages and listings:
// lines are joined with "; ", or with a space after a line that cannot end a command
// ("then", "do", "|", …), so the line still reads as the same script.
func oneLine(script string) string {
	var b strings.Builder
	for _, l := range strings.Split(script, "\n") {
		if l = strings.TrimSpace(l); l == "" {
			continue
		}
		if b.Len() > 0 {
			prev := b.String()
			sep := "; "
			for _, open := range []string{"then", "do", "else", "{", "(", "|", "&&", "||", ";", "\\"} {
				if strings.HasSuffix(prev, open) {
					sep = " "
				}
			}
			b.WriteString(sep)
		}
		b.WriteString(l)
	}
	return b.String()
}
