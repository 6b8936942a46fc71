package supervisor

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Job is one program and how to run it: what a job file or the flags of
// `supervise run` describe, validated.
type Job struct {
	Name string
	File string // the job file it came from; empty for a job given on the command line

	// Command is the argv to exec. A command written as a string in the job file is
	// here as /bin/sh -c STRING, and Display keeps it as written.
	Command []string
	Display string

	Dir         string            // working directory; empty means supervise's own
	Env         map[string]string // added to the inherited environment
	PTY         bool              // run on a pseudo-terminal rather than pipes
	Timeout     time.Duration     // stop a run that takes longer; 0 means no limit
	StopSignal  syscall.Signal    // sent to the process group to stop it
	StopTimeout time.Duration     // then SIGKILL after this long

	Notify Notify

	// How `supervise up` keeps the job running; `supervise run` runs it once.
	Restart      Restart
	Backoff      Backoff
	RestartLimit RestartLimit
	HealthyAfter time.Duration // a run this long resets the backoff and ends a crash loop
	Log          Log

	// A scheduled job runs at the times of its Schedule rather than being kept running.
	Schedule            Schedule // nil for a job that is kept running
	Timezone            string   // the zone the schedule reads in, as the job file names it; empty for the host's
	Overlap             Overlap  // what to do when a run is due while the last is still going
	Jitter              time.Duration
	CatchUp             bool          // run once at start when a run was missed while up was down
	ExpectSuccessWithin time.Duration // a run due must have succeeded this long after its due time

	Heartbeat  *Heartbeat    // nil when no sign of life is expected
	MinRuntime time.Duration // a run that ends sooner, even with status 0, failed
}

// Passive reports whether the job is a passive one: a [heartbeat] and no command, a
// check that something else pings (a cron line, a script on another host), which up
// watches and never runs.
func (j *Job) Passive() bool { return len(j.Command) == 0 && j.Heartbeat != nil }

// Overlap is what happens when a scheduled job is due while its last run is still going.
type Overlap string

// The overlap policies: skip the run that is due (and say so if it keeps happening),
// queue it to start when the last one ends (at most one waits), or kill the last
// run and start the new one.
const (
	OverlapSkip  Overlap = "skip"
	OverlapQueue Overlap = "queue"
	OverlapKill  Overlap = "kill"
)

// Log is how `supervise up` keeps a job's output in STATE/logs/JOB.log: rotated once
// it reaches MaxSize bytes, with Keep old files.
type Log struct {
	MaxSize int64
	Keep    int
}

// Restart is when `supervise up` starts a job again after it exits.
type Restart string

// The restart policies.
const (
	RestartAlways    Restart = "always"
	RestartOnFailure Restart = "on-failure"
	RestartNever     Restart = "never"
)

// Backoff is the wait before restarting a job that died soon after it started: it
// starts at Initial and doubles, with jitter, up to Max.
type Backoff struct{ Initial, Max time.Duration }

// RestartLimit says when quick deaths become a crash loop: more than Burst within Within.
type RestartLimit struct {
	Burst  int
	Within time.Duration
}

// Notify says which events of a job reach people, where, and how much output they
// quote.
type Notify struct {
	On     []Kind
	Tail   int    // lines of output quoted in a message
	Attach Attach // when the whole captured output follows a message as a document

	// Telegram lists the chats the job's messages go to instead of the configured
	// one; empty for that one.
	Telegram []Destination
}

// Destination is a Telegram chat, or a topic of a forum, that a job's messages go to.
type Destination struct {
	ChatID   string
	ThreadID int64  // the forum topic, or 0
	Silent   bool   // sent without a sound
	On       []Kind // the events it gets; nil for the job's [notify] on
	Quiet    Quiet  // hours in which its messages are sent silently
}

// Quiet is a daily span of hours, such as 22:00 to 07:00, in the host's time zone.
type Quiet struct {
	From, To time.Duration // since midnight; equal for none
}

// Has reports whether t falls in the quiet hours.
func (q Quiet) Has(t time.Time) bool {
	if q.From == q.To {
		return false
	}
	// The clock's reading, not the time since midnight, which a DST change shifts.
	at := time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute
	if q.From < q.To {
		return at >= q.From && at < q.To
	}
	return at >= q.From || at < q.To // across midnight
}

// Attach says when a message is followed by the whole captured output of the run (its
// last MaxAttach bytes) as a text document.
type Attach string

// The attach settings: auto attaches the output when the message cannot quote all of
// it; always and never do as they say.
const (
	AttachAuto   Attach = "auto"
	AttachAlways Attach = "always"
	AttachNever  Attach = "never"
)

// MaxAttach is how much of a run's output is kept to attach to its message.
const MaxAttach = 1 << 20

// Defaults for the keys a job file may leave out.
const (
	DefaultStopSignal  = syscall.SIGTERM
	DefaultStopTimeout = 10 * time.Second
	DefaultTail        = 40
	MaxTail            = 10000

	DefaultHealthyAfter = 30 * time.Second
)

// Defaults of restarts and logs under `supervise up`.
var (
	DefaultLog          = Log{MaxSize: 10 << 20, Keep: 5}
	DefaultBackoff      = Backoff{Initial: 100 * time.Millisecond, Max: time.Minute}
	DefaultRestartLimit = RestartLimit{Burst: 5, Within: time.Minute}
)

// NewJob returns a job with every default set, for a command given as argv.
func NewJob(name string, argv ...string) *Job {
	return &Job{
		Name:        name,
		Command:     argv,
		Display:     quoteArgs(argv),
		PTY:         true,
		StopSignal:  DefaultStopSignal,
		StopTimeout: DefaultStopTimeout,
		Notify:      Notify{On: slices.Clone(DefaultNotifyOn), Tail: DefaultTail, Attach: AttachAuto},

		Restart:      RestartAlways,
		Backoff:      DefaultBackoff,
		RestartLimit: DefaultRestartLimit,
		HealthyAfter: DefaultHealthyAfter,
		Log:          DefaultLog,
		Overlap:      OverlapSkip,
	}
}

// ShellCommand returns the argv that runs line with /bin/sh -c.
func ShellCommand(line string) []string { return []string{"/bin/sh", "-c", line} }

// Event returns an event of kind k about this job, with what the job itself says
// filled in; the caller adds how the run went.
func (j *Job) Event(k Kind, host string) Event {
	return Event{Kind: k, Job: j.Name, Host: host, Command: j.Display, Notify: j.Notify, Timeout: j.Timeout}
}

// Ended is the event of how the run res of j on host ended, which whoever ran it
// emits. A run stopped for its heartbeat (res.Stalled) was told of when it was
// stopped: its end is not emitted.
func (j *Job) Ended(host string, res Result) Event {
	ev := j.Event(res.Kind(), host)
	ev.Start, ev.Duration = res.Start, res.Duration
	ev.ExitCode, ev.Signal, ev.Err = res.ExitCode, res.Signal, res.Err
	ev.Output, ev.OutputLines = res.Output, res.OutputLines
	if res.TooShort {
		ev.MinRuntime = j.MinRuntime
	}
	return ev
}

// CheckName reports whether name can name a job: it becomes part of file names
// under the state directory, so it is kept to letters, digits, '.', '_' and '-'.
func CheckName(name string) error {
	valid := name != "" && len(name) <= 100 && name[0] != '.' && name[0] != '-' && name[0] != '_'
	for _, c := range name {
		valid = valid && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-')
	}
	if !valid {
		return fmt.Errorf("%q is not a valid job name: use letters, digits, '.', '_' and '-', starting with a letter or digit", name)
	}
	return nil
}

// NameFromFile is the job name a file gives when it does not set one: its stem.
func NameFromFile(path string) string {
	return strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
}

// signals maps the names a job file may use for stop_signal, without the SIG prefix.
var signals = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT,
	"KILL": syscall.SIGKILL, "USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2,
	"TERM": syscall.SIGTERM, "ALRM": syscall.SIGALRM, "ABRT": syscall.SIGABRT,
	"WINCH": syscall.SIGWINCH, "CONT": syscall.SIGCONT, "STOP": syscall.SIGSTOP,
	"TSTP": syscall.SIGTSTP, "PIPE": syscall.SIGPIPE, "PWR": syscall.SIGPWR,
}

// signalNames are the signals a shell user knows by name; syscall.Signal.String gives
// only a description ("killed"). Numbers differ between systems, so the table is built
// from the constants rather than written as numbers.
var signalNames = map[syscall.Signal]string{
	syscall.SIGHUP: "SIGHUP", syscall.SIGINT: "SIGINT", syscall.SIGQUIT: "SIGQUIT",
	syscall.SIGILL: "SIGILL", syscall.SIGTRAP: "SIGTRAP", syscall.SIGABRT: "SIGABRT",
	syscall.SIGBUS: "SIGBUS", syscall.SIGFPE: "SIGFPE", syscall.SIGKILL: "SIGKILL",
	syscall.SIGUSR1: "SIGUSR1", syscall.SIGSEGV: "SIGSEGV", syscall.SIGUSR2: "SIGUSR2",
	syscall.SIGPIPE: "SIGPIPE", syscall.SIGALRM: "SIGALRM", syscall.SIGTERM: "SIGTERM",
	syscall.SIGXCPU: "SIGXCPU", syscall.SIGXFSZ: "SIGXFSZ", syscall.SIGSYS: "SIGSYS",
	syscall.SIGCONT: "SIGCONT", syscall.SIGSTOP: "SIGSTOP", syscall.SIGTSTP: "SIGTSTP",
	syscall.SIGWINCH: "SIGWINCH", syscall.SIGPWR: "SIGPWR",
}

// SignalName is the name of sig, "SIGKILL", or "" for a signal without one.
func SignalName(sig syscall.Signal) string { return signalNames[sig] }

// ParseSignal reads a signal name such as "TERM", "SIGTERM" or "term".
func ParseSignal(name string) (syscall.Signal, error) {
	n := strings.TrimPrefix(strings.ToUpper(name), "SIG")
	if s, ok := signals[n]; ok {
		return s, nil
	}
	names := make([]string, 0, len(signals))
	for k := range signals {
		names = append(names, k)
	}
	slices.Sort(names)
	return 0, fmt.Errorf("unknown signal %q (use one of %s)", name, strings.Join(names, ", "))
}

// ParseKind reads one event name as used in [notify] on and --notify-on.
func ParseKind(name string) (Kind, error) {
	k := Kind(name)
	if slices.Contains(Kinds, k) {
		return k, nil
	}
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = string(k)
	}
	return "", fmt.Errorf("unknown event %q (use %s)", name, strings.Join(names, ", "))
}

// ParseDuration reads a duration such as "90s" or "2h". A number without a unit is
// an error rather than nanoseconds, and so is a duration that is not positive.
func ParseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		if _, numErr := time.ParseDuration(s + "s"); numErr == nil {
			return 0, fmt.Errorf("%q has no unit: write it like \"%ss\" or \"%sm\"", s, s, s)
		}
		return 0, fmt.Errorf("%q is not a duration: write it like \"30s\", \"5m\" or \"2h\"", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q must be more than zero", s)
	}
	return d, nil
}

// quoteArgs joins argv for display, quoting what a shell would not read back as one word.
func quoteArgs(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
		}) < 0 {
			b.WriteString(a)
			continue
		}
		b.WriteByte('\'')
		b.WriteString(strings.ReplaceAll(a, "'", `'\''`))
		b.WriteByte('\'')
	}
	return b.String()
}
