package supervisor

import (
	"context"
	"io"
	"os"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// machine drives one lifecycle without processes and without the wall clock: runs
// are fakes whose end the test decides, time is a fakeClock, and the loop is stepped
// one input at a time.
type machine struct {
	t      *testing.T
	l      *lifecycle
	clock  *fakeClock
	runs   []*fakeRun
	events []Event
	cancel context.CancelFunc
}

// fakeRun is a run the lifecycle launched; the test ends it.
type fakeRun struct {
	job    *Job
	ctx    context.Context
	result chan Result
}

// stopped reports whether the lifecycle asked the run to stop.
func (r *fakeRun) stopped() bool { return r.ctx.Err() != nil }

// stepTimeout bounds each wait for the loop: it never sleeps, so this is only there
// to fail rather than hang when it is stuck.
const stepTimeout = 10 * time.Second

// newMachine starts the lifecycle of job and waits until it waits for input.
func newMachine(t *testing.T, job *Job, runsDir string) *machine {
	t.Helper()
	m := &machine{t: t, clock: newFakeClock()}
	m.l = &lifecycle{
		name:     job.Name,
		job:      job,
		spec:     job,
		host:     "testhost",
		clock:    m.clock,
		stderr:   io.Discard,
		emit:     func(ev Event) { m.events = append(m.events, ev) },
		launch:   m.launch,
		random:   func() float64 { return 0.5 }, // backoffs as configured, half the jitter
		signals:  make(chan os.Signal, 1),
		pulse:    NewPulse(),
		track:    newTracker(job.Name, m.clock.Now()),
		runs:     runStore{dir: runsDir, stderr: io.Discard},
		forget:   new(atomic.Bool),
		replaced: new(atomic.Bool),
		requests: make(chan request),
		updates:  make(chan *Job, 1),
		done:     make(chan struct{}),
		waiting:  make(chan struct{}),
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go m.l.loop(ctx)
	m.settle("the lifecycle to start")
	t.Cleanup(m.stop)
	return m
}

// settle waits until the loop has handled its input and waits for the next.
func (m *machine) settle(what string) {
	m.t.Helper()
	select {
	case <-m.l.waiting:
	case <-time.After(stepTimeout):
		m.t.Fatalf("the lifecycle never came back to wait after %s", what)
	}
}

// stop ends the lifecycle, as up's end does, and waits until it has; a run under
// way ends as the runner ends it, with the job's stop signal.
func (m *machine) stop() {
	var r *fakeRun
	select {
	case <-m.l.done:
	default:
		if m.l.cur != nil { // the loop waits: its fields hold still
			r = m.runs[len(m.runs)-1]
		}
	}
	m.cancel()
	if r != nil {
		select {
		case r.result <- Result{Signal: syscall.SIGTERM}:
		default:
		}
	}
	for {
		select {
		case <-m.l.done:
			return
		case <-m.l.waiting: // steps after a test ended early
		case <-time.After(stepTimeout):
			m.t.Fatal("the lifecycle never ended")
		}
	}
}

// run returns the latest run, failing when there is none or it has ended.
func (m *machine) run() *fakeRun {
	m.t.Helper()
	if len(m.runs) == 0 || m.l.cur == nil {
		m.t.Fatalf("no run under way (%d launched, state %s)", len(m.runs), m.l.state)
	}
	return m.runs[len(m.runs)-1]
}

// exit ends the run under way with res now.
func (m *machine) exit(res Result) {
	m.t.Helper()
	r := m.run()
	res.Start, res.Duration = m.l.cur.start, m.clock.Now().Sub(m.l.cur.start)
	r.result <- res
	m.settle("a run's end")
}

// exitAfter moves the time on by d, then ends the run under way with res.
func (m *machine) exitAfter(d time.Duration, res Result) {
	m.t.Helper()
	m.advance(d)
	m.exit(res)
}

// advance moves the time on by d, stepping the loop when a timer fired.
func (m *machine) advance(d time.Duration) {
	m.t.Helper()
	if m.clock.advance(d) {
		m.settle("its timer")
	}
}

// untilTimer moves the time on to the lifecycle's next deadline, and returns how far
// that was.
func (m *machine) untilTimer() time.Duration {
	m.t.Helper()
	at := m.clock.next()
	if at.IsZero() {
		m.t.Fatalf("no timer set (state %s)", m.l.state)
	}
	d := at.Sub(m.clock.Now())
	m.advance(d)
	return d
}

// command gives the lifecycle an operator's command; answered reports whether it
// was answered by the time the loop waits again, and note is the answer.
func (m *machine) command(cmd string) (req request) {
	m.t.Helper()
	req = request{cmd: cmd, done: make(chan string, 1)}
	m.l.requests <- req
	m.settle(cmd)
	return req
}

func answered(req request) (string, bool) {
	select {
	case note := <-req.done:
		return note, true
	default:
		return "", false
	}
}

// state is what status shows of the job.
func (m *machine) state() string { return m.l.track.snapshot(m.l.pulse, m.l.job).State }

func (m *machine) kinds() []Kind {
	var kinds []Kind
	for _, ev := range m.events {
		kinds = append(kinds, ev.Kind)
	}
	return kinds
}

func (m *machine) wantKinds(want ...Kind) {
	m.t.Helper()
	if got := m.kinds(); !slices.Equal(got, want) {
		m.t.Fatalf("events %v, want %v", got, want)
	}
}

func (m *machine) wantState(want string) {
	m.t.Helper()
	if got := m.state(); got != want {
		m.t.Fatalf("state %s, want %s", got, want)
	}
}

// crashLoop makes the job of daemonJob crash-loop: it dies four times at once, and
// its fourth restart is under way.
func (m *machine) crashLoop() {
	m.t.Helper()
	for range 4 {
		m.exitAfter(time.Second, exit1)
		m.untilTimer()
	}
}

// daemonJob is a kept-running job with the restart settings of the tests below.
func daemonJob() *Job {
	job := NewJob("web", "/bin/web")
	job.Backoff = Backoff{Initial: 100 * time.Millisecond, Max: time.Minute}
	job.RestartLimit = RestartLimit{Burst: 3, Within: time.Minute}
	job.HealthyAfter = 30 * time.Second
	return job
}

var exit1 = Result{ExitCode: 1}

// A job that keeps dying at once backs off, then crash-loops and is retried at
// backoff.max. Every death is emitted, with the streak it is part of and whether the
// job loops, so the notifier can tell the first and the loop, not each death.
func TestLifecycleCrashLoop(t *testing.T) {
	t.Parallel()
	m := newMachine(t, daemonJob(), "")
	m.wantState(StateRunning)
	m.exitAfter(time.Second, exit1)
	m.wantKinds(KindFailure)
	if ev := m.events[0]; !ev.Restarting || ev.Retry != 100*time.Millisecond {
		t.Fatalf("first failure: restarting %v in %v, want restarting in backoff.initial", ev.Restarting, ev.Retry)
	}
	m.wantState(StateBackingOff)
	for i, want := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond} {
		if waited := m.untilTimer(); waited != want {
			t.Fatalf("restart %d after %v, want %v", i+1, waited, want)
		}
		m.wantState(StateRunning)
		m.exitAfter(time.Second, Result{ExitCode: 2 + i})
	}
	m.wantKinds(KindFailure, KindFailure, KindFailure, KindFailure, KindRestartLoop)
	for i, ev := range m.events[:4] {
		if !ev.Restarting || ev.Streak != i+1 || ev.Looping != (i == 3) {
			t.Errorf("death %d: restarting %v, streak %d, looping %v", i+1, ev.Restarting, ev.Streak, ev.Looping)
		}
	}
	loop := m.events[4]
	if loop.Crashes != 4 || !slices.Equal(loop.Exits, []string{"exit 1", "exit 2", "exit 3", "exit 4"}) || loop.Retry != time.Minute {
		t.Fatalf("crash loop: %d crashes, exits %v, retry %v", loop.Crashes, loop.Exits, loop.Retry)
	}
	m.wantState(StateCrashLooping)
	for range 3 {
		if waited := m.untilTimer(); waited != time.Minute {
			t.Fatalf("retried after %v while looping, want backoff.max", waited)
		}
		m.wantState(StateCrashLooping) // running, but looping
		m.exitAfter(time.Second, exit1)
	}
	m.wantKinds(KindFailure, KindFailure, KindFailure, KindFailure, KindRestartLoop, KindFailure, KindFailure, KindFailure)
	if ev := m.events[7]; !ev.Looping || ev.Streak != 7 || ev.Retry != time.Minute {
		t.Errorf("death in the loop: looping %v, streak %d, retry %v", ev.Looping, ev.Streak, ev.Retry)
	}
	if st := m.l.track.snapshot(m.l.pulse, m.l.job); st.Restarts != 6 || st.Exits["1"] != 4 || st.LastExit != "exit 1" {
		t.Errorf("status: %d restarts, exits %v, last %q", st.Restarts, st.Exits, st.LastExit)
	}
}

// A crash-looping job that stays up for healthy_after recovers: one message, with
// how long it was down and how often it crashed.
func TestLifecycleRecoveryAfterLoop(t *testing.T) {
	t.Parallel()
	m := newMachine(t, daemonJob(), "")
	m.crashLoop()
	m.events = nil
	m.wantState(StateCrashLooping)
	if waited := m.untilTimer(); waited != 30*time.Second {
		t.Fatalf("healthy after %v, want healthy_after", waited)
	}
	m.wantKinds(KindRecovery)
	m.wantState(StateRunning)
	if r := m.events[0]; r.Crashes != 4 || r.Down <= 0 {
		t.Errorf("recovery: %d crashes, down %v", r.Crashes, r.Down)
	}
	// The backoff starts over: the next death is a first failure again.
	m.exitAfter(time.Hour, Result{Signal: syscall.SIGKILL})
	m.wantKinds(KindRecovery, KindFailure)
	if ev := m.events[1]; !ev.Restarting || ev.Retry != 0 || ev.Streak != 1 {
		t.Errorf("death after a healthy run: restarting %v in %v, streak %d; want at once, streak 1", ev.Restarting, ev.Retry, ev.Streak)
	}
}

// A job that had stayed up is started again at once: no timer, no backoff.
func TestLifecycleHealthyDeathRestartsAtOnce(t *testing.T) {
	t.Parallel()
	m := newMachine(t, daemonJob(), "")
	m.advance(30 * time.Second)
	m.exitAfter(time.Hour, Result{Signal: syscall.SIGKILL})
	if len(m.runs) != 2 || m.l.cur == nil {
		t.Fatalf("%d runs, want the second started at once", len(m.runs))
	}
	m.wantState(StateRunning)
	if at := m.clock.next(); at.Sub(m.clock.Now()) != 30*time.Second {
		t.Errorf("timer at %v from now, want only healthy_after", at.Sub(m.clock.Now()))
	}
}

// The restart settings: which ends start the job again.
func TestLifecycleRestartSettings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		restart Restart
		res     Result
		again   bool
	}{
		{RestartAlways, Result{ExitCode: 0}, true},
		{RestartAlways, exit1, true},
		{RestartOnFailure, Result{ExitCode: 0}, false},
		{RestartOnFailure, exit1, true},
		{RestartNever, exit1, false},
		{RestartNever, Result{ExitCode: 0}, false},
	} {
		job := daemonJob()
		job.Restart = tc.restart
		m := newMachine(t, job, "")
		m.advance(30 * time.Second)
		m.exitAfter(time.Minute, tc.res)
		if again := m.l.cur != nil; again != tc.again {
			t.Errorf("restart = %s, %s: started again %v, want %v", tc.restart, tc.res.Short(), again, tc.again)
		}
		if !tc.again {
			m.wantState(StateExited)
		}
		m.stop()
	}
}

// An ended job starts again when a reload sets restart = always, or on a start.
func TestLifecycleEndedJobRevives(t *testing.T) {
	t.Parallel()
	job := daemonJob()
	job.Restart = RestartNever
	m := newMachine(t, job, "")
	m.exitAfter(time.Second, exit1)
	m.wantState(StateExited)
	again := *job
	again.Restart = RestartAlways
	m.l.update(&again)
	m.settle("a reload")
	m.wantState(StateRunning)

	m.l.job.Restart = RestartNever
	m.exitAfter(time.Second, exit1)
	m.wantState(StateExited)
	if note, ok := answered(m.command(CommandStart)); !ok || note != "" {
		t.Fatalf("start of an ended job: answered %v %q", ok, note)
	}
	m.wantState(StateRunning)
}

// Stop holds the job until a start; restart stops the run and starts the job again;
// neither is a failure, told or counted.
func TestLifecycleCommands(t *testing.T) {
	t.Parallel()
	m := newMachine(t, daemonJob(), "")
	if note, _ := answered(m.command(CommandStart)); note != "already running" {
		t.Fatalf("start of a running job says %q", note)
	}
	first := m.run()
	stop := m.command(CommandStop)
	if _, ok := answered(stop); ok || !first.stopped() {
		t.Fatalf("stop: answered %v before the run ended, run stopped %v", ok, first.stopped())
	}
	m.exitAfter(time.Second, Result{Signal: syscall.SIGTERM})
	if _, ok := answered(stop); !ok {
		t.Fatal("stop not answered once the run ended")
	}
	m.wantState(StateStopped)
	if m.clock.next() != (time.Time{}) {
		t.Fatal("a timer is set for a stopped job")
	}
	if note, _ := answered(m.command(CommandStop)); note != "already stopped" {
		t.Fatalf("second stop says %q", note)
	}
	if _, ok := answered(m.command(CommandStart)); !ok || len(m.runs) != 2 {
		t.Fatalf("start of a stopped job: %d runs", len(m.runs))
	}
	restart := m.command(CommandRestart)
	if !m.runs[1].stopped() {
		t.Fatal("restart did not stop the run")
	}
	m.exitAfter(time.Second, Result{Signal: syscall.SIGTERM})
	if _, ok := answered(restart); !ok || len(m.runs) != 3 {
		t.Fatalf("restart: answered %v, %d runs", ok, len(m.runs))
	}
	m.wantKinds()
	if st := m.l.track.snapshot(m.l.pulse, m.l.job); st.Restarts != 0 {
		t.Errorf("%d restarts counted, want none for commands", st.Restarts)
	}
}

// A start while a stop is under way starts the job again once it is down.
func TestLifecycleStartDuringStop(t *testing.T) {
	t.Parallel()
	m := newMachine(t, daemonJob(), "")
	stop := m.command(CommandStop)
	start := m.command(CommandStart)
	m.exitAfter(time.Second, Result{Signal: syscall.SIGTERM})
	_, stopped := answered(stop)
	_, started := answered(start)
	if !stopped || !started || len(m.runs) != 2 {
		t.Fatalf("stop answered %v, start answered %v, %d runs; want both and a second run", stopped, started, len(m.runs))
	}
	m.wantState(StateRunning)
}

// A stop while backing off cancels the restart.
func TestLifecycleStopWhileBackingOff(t *testing.T) {
	t.Parallel()
	m := newMachine(t, daemonJob(), "")
	m.exitAfter(time.Second, exit1)
	m.wantState(StateBackingOff)
	m.command(CommandStop)
	m.wantState(StateStopped)
	if m.clock.advance(time.Hour) || len(m.runs) != 1 {
		t.Fatalf("a stopped job was started again: %d runs", len(m.runs))
	}
}

// everyMinute is a scheduled job run every minute, on the minute.
func everyMinute(t *testing.T) *Job {
	job := NewJob("report", "/bin/report")
	s, err := ParseSchedule("@every 1m", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	job.Schedule, job.Restart = s, RestartNever
	return job
}

// A scheduled job runs at its times and waits between them.
func TestLifecycleSchedule(t *testing.T) {
	t.Parallel()
	m := newMachine(t, everyMinute(t), "")
	m.wantState(StateScheduled)
	if st := m.l.track.snapshot(m.l.pulse, m.l.job); !st.NextRun.Equal(m.clock.Now().Add(time.Minute)) {
		t.Fatalf("next run %v, want in a minute", st.NextRun)
	}
	for i := range 3 {
		if waited := m.untilTimer(); waited != time.Minute || len(m.runs) != i+1 {
			t.Fatalf("run %d after %v (%d runs)", i+1, waited, len(m.runs))
		}
		m.exitAfter(10*time.Second, Result{ExitCode: i})
		m.wantState(StateScheduled)
		m.advance(50 * time.Second)
	}
	m.wantKinds(KindSuccess, KindFailure, KindFailure) // the notifier drops the success, not asked for
}

// Due while the last run goes: overlap says whether it is skipped, queued or kills it.
func TestLifecycleOverlap(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		overlap Overlap
		runs    int    // after two due times while the first run goes, and its end
		killed  bool   // the first run was stopped
		told    []Kind // what the chat hears
	}{
		{OverlapSkip, 1, false, nil},
		{OverlapQueue, 2, false, nil},
		{OverlapKill, 2, true, []Kind{KindFailure}},
	} {
		job := everyMinute(t)
		job.Overlap = tc.overlap
		m := newMachine(t, job, "")
		m.untilTimer()
		first := m.run()
		m.untilTimer()
		if first.stopped() != tc.killed {
			t.Errorf("overlap = %s: first run stopped %v", tc.overlap, first.stopped())
		}
		m.exitAfter(90*time.Second, Result{Signal: syscall.SIGTERM})
		if len(m.runs) != tc.runs {
			t.Errorf("overlap = %s: %d runs, want %d", tc.overlap, len(m.runs), tc.runs)
		}
		var want []Kind
		want = append(want, tc.told...)
		if tc.overlap != OverlapKill {
			want = []Kind{KindFailure} // SIGTERM from elsewhere
		}
		m.wantKinds(want...)
		if tc.killed && m.events[0].Note == "" {
			t.Errorf("overlap = kill: the failure does not say why it was stopped")
		}
		m.stop()
	}
}

// Three due times in a row skipped for a run that goes on are told once.
func TestLifecycleSkipsTold(t *testing.T) {
	t.Parallel()
	m := newMachine(t, everyMinute(t), "")
	m.untilTimer()
	for range 4 {
		m.untilTimer()
	}
	m.wantKinds(KindHeartbeat)
	if ev := m.events[0]; ev.MissedRuns != 3 || ev.Missed.IsZero() {
		t.Errorf("event %+v, want 3 missed runs", ev)
	}
	if len(m.runs) != 1 {
		t.Fatalf("%d runs, want the first still going", len(m.runs))
	}
}

// expect_success_within: a run that has not succeeded in time is told once, and
// the next success is its recovery.
func TestLifecycleExpectSuccessWithin(t *testing.T) {
	t.Parallel()
	job := everyMinute(t)
	job.ExpectSuccessWithin = 30 * time.Second
	m := newMachine(t, job, "")
	m.untilTimer()
	m.advance(30 * time.Second)
	m.wantKinds(KindHeartbeat)
	if ev := m.events[0]; ev.Expect != 30*time.Second || ev.Note == "" {
		t.Fatalf("missed deadline: expect %v, note %q", ev.Expect, ev.Note)
	}
	m.advance(30 * time.Second) // the second due time is skipped for the run
	m.exit(exit1)
	m.advance(30 * time.Second) // its deadline: a run has ended since, and failed
	m.wantKinds(KindHeartbeat, KindFailure)
	m.untilTimer()
	m.exitAfter(time.Second, Result{})
	m.wantKinds(KindHeartbeat, KindFailure, KindSuccess, KindRecovery)
}

// Runs missed while up was down are told once when it starts again; with catch_up
// one runs at once. A stop of the job is no missed run.
func TestLifecycleMissedWhileDown(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	job := everyMinute(t)
	job.CatchUp = true
	m := newMachine(t, job, dir)
	m.untilTimer()
	m.stop() // up stops during the run: it counts as missed
	start := m.clock.Now()

	m = newMachine(t, job, dir)
	m.wantKinds(KindHeartbeat)
	if ev := m.events[0]; ev.MissedRuns != 1 || !ev.Missed.Equal(start) {
		t.Fatalf("missed %d runs, the last at %v; want 1 at %v", ev.MissedRuns, ev.Missed, start)
	}
	if len(m.runs) != 1 {
		t.Fatalf("%d runs at start, want one to catch up", len(m.runs))
	}
}

// A reload that changes the schedule moves the next due time.
func TestLifecycleScheduleReload(t *testing.T) {
	t.Parallel()
	m := newMachine(t, everyMinute(t), "")
	job := *m.l.job
	s, err := ParseSchedule("@every 5m", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	job.Schedule = s
	m.l.update(&job)
	m.settle("a reload")
	if waited := m.untilTimer(); waited != 5*time.Minute {
		t.Fatalf("ran after %v, want the new schedule's 5m", waited)
	}
}

// A version that replaces another waits for it, then carries on its crash loop and
// its stop.
func TestLifecycleTakesOver(t *testing.T) {
	t.Parallel()
	m := newMachine(t, daemonJob(), "")
	m.crashLoop()
	m.command(CommandStop)
	m.exitAfter(time.Second, Result{Signal: syscall.SIGTERM})
	m.l.replaced.Store(true)
	m.stop()

	next := newMachineReplacing(t, m.l)
	next.wantState(StateStopped)
	if !next.l.restarts.looping {
		t.Fatal("the crash loop was not carried over")
	}
}

// newMachineReplacing starts the lifecycle of old's job as a reload's replacement,
// and waits until old is gone and the new version has taken over.
func newMachineReplacing(t *testing.T, old *lifecycle) *machine {
	t.Helper()
	m := startReplacing(t, old)
	m.settle("the old version to be gone")
	return m
}

// replacement is the lifecycle of old's job as a reload's replacement of it, as the
// daemon makes it: starting, until old is gone; on m's clock, with fake runs.
func (m *machine) replacement(old *lifecycle) *lifecycle {
	l := *old
	l.replaces, l.clock, l.done = old, m.clock, make(chan struct{})
	l.requests, l.updates = make(chan request), make(chan *Job, 1)
	l.cur, l.sched, l.restarts, l.halted = nil, nil, restarts{}, false
	l.forget, l.replaced = new(atomic.Bool), new(atomic.Bool)
	l.emit = func(ev Event) { m.events = append(m.events, ev) }
	l.launch = m.launch
	l.setState(StateStarting)
	return &l
}

// launch is the fake launch of the machine's runs: the test ends each.
func (m *machine) launch(ctx context.Context, job *Job) <-chan Result {
	r := &fakeRun{job: job, ctx: ctx, result: make(chan Result, 1)}
	m.runs = append(m.runs, r)
	return r.result
}

// startReplacing starts the lifecycle of old's job as a reload's replacement, and
// waits until it waits, starting, for old to be gone.
func startReplacing(t *testing.T, old *lifecycle) *machine {
	t.Helper()
	m := &machine{t: t, clock: newFakeClock()}
	m.l = m.replacement(old)
	m.l.waiting = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go m.l.loop(ctx)
	m.settle("the lifecycle to start") // starting, waiting for old
	t.Cleanup(m.stop)
	return m
}

// Two reloads in a row: the second replaces a version still starting, because the
// first version's run is still stopping. The version in between hands on what the
// first leaves (its stop, its crash loop) once the first is gone, so the third
// neither starts a stopped job nor runs it beside the first version's process.
func TestLifecycleReplacedWhileStarting(t *testing.T) {
	a := newMachine(t, daemonJob(), "")
	a.crashLoop()
	first := a.run()
	a.command(CommandStop) // under way: the run has not ended yet
	a.l.replaced.Store(true)
	a.cancel() // the first reload: a waits for its run to end

	b := startReplacing(t, a.l)
	b.l.replaced.Store(true)
	b.cancel() // the second reload, while b is starting
	c := startReplacing(t, b.l)

	first.result <- Result{Signal: syscall.SIGTERM} // the first version's process is gone
	c.settle("the versions before it to be gone")
	if len(c.runs) != 0 {
		t.Fatalf("%d runs started; want none: the job was stopped", len(c.runs))
	}
	c.wantState(StateStopped)
	if !c.l.halted || !c.l.restarts.looping {
		t.Fatalf("halted %v, looping %v: the first version's stop and crash loop were lost", c.l.halted, c.l.restarts.looping)
	}
}

// The dead man's switch counts from when a run was to start, jitter and all, so
// jitter longer than expect_success_within raises no false alarm.
func TestLifecycleExpectSuccessWithJitter(t *testing.T) {
	t.Parallel()
	job := everyMinute(t)
	job.Jitter, job.ExpectSuccessWithin = 50*time.Second, 10*time.Second
	m := newMachine(t, job, "")
	for i := 0; len(m.runs) < 4; i++ {
		if i > 20 {
			t.Fatalf("%d runs after %d steps", len(m.runs), i)
		}
		if m.l.cur != nil {
			m.exitAfter(9*time.Second, Result{})
			continue
		}
		m.untilTimer() // a jittered due time, or a dead man's switch that finds a success
	}
	for _, ev := range m.events {
		if ev.Kind != KindSuccess {
			t.Errorf("event %s: %s", ev.Kind, ev.Note)
		}
	}
}

// Since is when the job entered the state status shows; while it backs off in a
// crash loop, that is when its last run died, not when that run started.
func TestLifecycleSinceWhileLooping(t *testing.T) {
	m := newMachine(t, daemonJob(), "")
	m.crashLoop()
	m.wantState(StateCrashLooping)
	m.exitAfter(5*time.Second, exit1)
	st := m.l.track.snapshot(m.l.pulse, m.l.job)
	if st.State != StateCrashLooping || !st.Since.Equal(m.clock.Now()) {
		t.Fatalf("backing off in a crash loop: %s since %v ago, want since the death (now)", st.State, m.clock.Now().Sub(st.Since))
	}
	if !st.NextRun.Equal(m.clock.Now().Add(time.Minute)) {
		t.Fatalf("next start in %v, want backoff.max", st.NextRun.Sub(m.clock.Now()))
	}
}

// A version replaced or removed in turn as the one it replaced is gone does not
// start the job: its context has ended, and the loop may see the old version gone
// first.
func TestLifecycleReplacedAsOldGoes(t *testing.T) {
	old := newMachine(t, daemonJob(), "")
	old.l.replaced.Store(true)
	old.stop()
	for i := range 20 { // the loop picks one of the inputs ready at random
		m := &machine{t: t, clock: newFakeClock()}
		l := m.replacement(old.l)
		l.waiting = nil // not stepped: it must end by itself
		l.launch = func(ctx context.Context, job *Job) <-chan Result {
			result := m.launch(ctx, job)
			m.runs[len(m.runs)-1].result <- Result{Signal: syscall.SIGTERM} // so a wrong start ends too
			return result
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // replaced or removed, and the old version gone, before it looks
		go l.loop(ctx)
		select {
		case <-l.done:
		case <-time.After(stepTimeout):
			t.Fatal("the lifecycle never ended")
		}
		if len(m.runs) != 0 {
			t.Fatalf("try %d: the job was started after it was replaced", i)
		}
	}
}

// A reload's healthy_after counts from the next run: the run under way is healthy
// by the one it started with, as its timer is.
func TestLifecycleHealthyAfterFromNextRun(t *testing.T) {
	m := newMachine(t, daemonJob(), "")
	again := *m.l.job
	again.HealthyAfter = 5 * time.Second
	m.l.update(&again)
	m.settle("a reload")
	m.exitAfter(10*time.Second, exit1) // a quick death by the run's 30s
	m.wantState(StateBackingOff)
	if ev := m.events[0]; ev.Retry == 0 || ev.Streak != 1 {
		t.Fatalf("death before the run's healthy_after: retry %v, streak %d; want a backoff", ev.Retry, ev.Streak)
	}
}

// A stopped passive job is not watched: its pings tell nothing (see
// TestPulsePaused), nor does its silence, and it stays stopped; a start watches it
// again from then, and its pings tell again.
func TestLifecyclePassiveStopped(t *testing.T) {
	job := NewJob("cron")
	job.Heartbeat = &Heartbeat{Every: time.Hour, Grace: time.Minute}
	m := newMachine(t, job, "")
	m.wantState(StateWaiting)
	m.command(CommandStop)
	m.wantState(StateStopped)
	if !m.l.pulse.isPaused() {
		t.Fatal("a stopped passive job's pings are still watched")
	}
	m.advance(2 * time.Hour)
	m.wantKinds()
	m.wantState(StateStopped)

	m.command(CommandStart)
	m.wantState(StateWaiting)
	m.wantKinds()
	if err := m.l.pulse.Ping("fail", "", "disk still full"); err != nil {
		t.Fatal(err)
	}
	m.settle("a failure ping")
	m.wantKinds(KindFailure)
	if msg := m.events[0].Message; msg != "disk still full" {
		t.Errorf("the failure quotes %q, want the ping's body", msg)
	}
}
