package supervisor

import (
	"strings"
	"syscall"
	"time"
)

// Kind names what happened to a job. Its values are the names a job file uses in
// [notify] on, so a Kind is also a subscription.
type Kind string

// The kinds of event. Start, success, failure and timeout come from a run; restart-loop
// from up's restarts; heartbeat from a job that went silent, missed a scheduled run or
// did not succeed in time; recovery ends a crash loop, a silence or a reported failure.
const (
	KindStart       Kind = "start"
	KindSuccess     Kind = "success"
	KindFailure     Kind = "failure"
	KindTimeout     Kind = "timeout"
	KindRestartLoop Kind = "restart-loop"
	KindHeartbeat   Kind = "heartbeat"
	KindRecovery    Kind = "recovery"

	// KindProblem is about supervise itself, such as a job file it could not load. It
	// is always sent: no job can subscribe to it or turn it off.
	KindProblem Kind = "problem"

	// KindMessage is what someone sends with `supervise notify`: a result to check, a
	// manual step to take. Its Note is the text. It is always sent.
	KindMessage Kind = "message"
)

// Kinds lists every Kind in the order they are documented.
var Kinds = []Kind{KindFailure, KindTimeout, KindRestartLoop, KindHeartbeat, KindRecovery, KindSuccess, KindStart}

// DefaultNotifyOn is what a job notifies about when its file does not say: the events
// that need a human, and the all-clear after a crash loop or a silence.
var DefaultNotifyOn = []Kind{KindFailure, KindTimeout, KindRestartLoop, KindHeartbeat, KindRecovery}

// Event is one thing that happened to a job, with everything a message about it says.
// It is a plain value: formatting it is the notifier's business.
type Event struct {
	Kind    Kind
	Job     string
	Host    string
	Command string // the command as the job file gives it, for display

	Start    time.Time     // when the run started
	Duration time.Duration // how long it ran; zero for KindStart

	// How the run ended. ExitCode is -1 when the process did not exit by itself.
	ExitCode int
	Signal   syscall.Signal // the signal that ended the process, or 0
	Err      error          // why the program could not be started, or nil
	Timeout  time.Duration  // the limit that a KindTimeout run exceeded

	// What the daemon did about it (supervise up). Restarting says a failed job is
	// started again after Retry; a restart loop counts Crashes within Within and lists
	// the last Exits ("exit 1", "SIGKILL"); a recovery says how long the job was Down.
	Restarting bool
	Retry      time.Duration

	// Streak counts the quick deaths in a row of a Restarting job, this one included:
	// 1 is the first death after a healthy run (or the first run), which needs a
	// human; the deaths after it are one incident with it.
	Streak int
	// Looping says the job is crash-looping as of this death: a KindRestartLoop event
	// tells of the loop, once, and its recovery of its end, rather than each death.
	Looping bool

	Crashes int
	Within  time.Duration
	// SelfHealed, on a KindRecovery, says the job stayed up again after deaths that
	// were no crash loop (Crashes counts them): its restart did what a human would.
	SelfHealed bool
	// Healthy, on a KindRecovery, says the run stayed up for healthy_after with no
	// deaths before it that this up saw: it ends only an incident left open before.
	Healthy bool
	// Fixed, on a KindRecovery that is about a job file (Job is its path), says the
	// file that a KindProblem said could not be loaded loads again.
	Fixed bool
	Exits []string
	Down  time.Duration
	Note  string // for KindProblem: what follows from it; else what the job reported

	// Heartbeats (KindHeartbeat, and the KindRecovery that follows one): how long the
	// job was Silent when Every was its period, its last sign of life (zero if none)
	// and what it was, its last ping Message, its last sd_notify Status and when it
	// last said READY=1 (zero if never).
	Silent     time.Duration
	Every      time.Duration
	LastSign   time.Time
	LastSignBy string
	Message    string
	Status     string
	Ready      time.Time

	// Scheduled jobs: Missed is the due time of a run that did not happen (with
	// MissedRuns counting them, when up was down across several); Expect is the
	// expect_success_within that passed without a success; a run shorter than
	// MinRuntime counted as a failure.
	Missed     time.Time
	MissedRuns int
	Expect     time.Duration
	MinRuntime time.Duration

	// Output is the end of what the job wrote (stdout and stderr together, raw bytes);
	// OutputLines counts every line it wrote, so a message can say how many it leaves out.
	Output      []byte
	OutputLines int

	// Notify is the job's [notify] section: which events it reports, to which chats,
	// how many lines of Output a message quotes and when Output follows whole. It is
	// zero for supervise's own events (KindProblem, KindMessage), which go to every
	// default destination and quote DefaultTail lines.
	Notify Notify
}

// Emitter takes what happens to jobs. Emit returns at once: a job is never held up by
// its messages. Whether and how an event reaches people is the Emitter's business.
type Emitter interface{ Emit(Event) }

// ProblemEvent is the event that tells of a problem of supervise itself on host:
// subject is what it is about (a job file's path), note what follows from it, details
// the whole error, quoted as the output.
func ProblemEvent(host, subject, note string, details error) Event {
	text := details.Error() + "\n"
	return Event{Kind: KindProblem, Job: subject, Host: host, Note: note,
		Output: []byte(text), OutputLines: strings.Count(text, "\n")}
}

// FixedEvent is the event that tells that subject, of which a ProblemEvent said it
// could not be loaded, loads again.
func FixedEvent(host, subject string) Event {
	return Event{Kind: KindRecovery, Job: subject, Host: host, Fixed: true, Note: "it loads again"}
}
