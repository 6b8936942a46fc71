package supervisor

import (
	"strings"
	"testing"
	"time"
)

// The restart policy, death by death: each row is one death, with the state carried
// from the row before.
func TestRestartPolicy(t *testing.T) {
	t.Parallel()
	job := NewJob("web", "/bin/web")
	job.Backoff = Backoff{Initial: time.Second, Max: 8 * time.Second}
	job.RestartLimit = RestartLimit{Burst: 3, Within: time.Minute}
	t0 := time.Date(2026, 12, 3, 3, 0, 0, 0, time.UTC)
	fail := Result{ExitCode: 1}
	for _, tc := range []struct {
		name  string
		rows  []death
		loops bool
	}{
		{"quick deaths back off, then loop", []death{
			{0, fail, false, verdict{again: true, delay: time.Second}},
			{2, fail, false, verdict{again: true, delay: 2 * time.Second}},
			{5, fail, false, verdict{again: true, delay: 4 * time.Second}},
			{10, fail, false, verdict{again: true, delay: 8 * time.Second, loopBegins: true}},
			{19, fail, false, verdict{again: true, delay: 8 * time.Second}},
		}, true},
		{"a healthy run's death restarts at once", []death{
			{0, fail, true, verdict{again: true}},
			{600, fail, true, verdict{again: true}},
		}, false},
		{"deaths spread past the window still loop in a row", []death{
			{0, fail, false, verdict{again: true, delay: time.Second}},
			{100, fail, false, verdict{again: true, delay: 2 * time.Second}},
			{200, fail, false, verdict{again: true, delay: 4 * time.Second}},
			{300, fail, false, verdict{again: true, delay: 8 * time.Second, loopBegins: true}},
		}, true},
		{"a stalled run restarts at once", []death{
			{0, Result{Signal: 15, Stalled: true}, false, verdict{again: true}},
		}, false},
		{"on-failure leaves a success down", []death{
			{0, Result{}, false, verdict{}},
		}, false},
	} {
		j := *job
		if tc.name == "on-failure leaves a success down" {
			j.Restart = RestartOnFailure
		}
		var r restarts
		for i, row := range tc.rows {
			var v verdict
			r, v = r.died(&j, row.res, row.healthy, t0.Add(time.Duration(row.at)*time.Second), 0.5)
			if v != row.want {
				t.Errorf("%s, death %d: got %+v, want %+v", tc.name, i+1, v, row.want)
			}
		}
		if r.looping != tc.loops {
			t.Errorf("%s: looping %v, want %v", tc.name, r.looping, tc.loops)
		}
	}
}

// death is one row of TestRestartPolicy: a run ending at seconds after t0.
type death struct {
	at      int
	res     Result
	healthy bool
	want    verdict
}

// A run that stays up ends the loop and starts the backoff over.
func TestRestartPolicyStayedUp(t *testing.T) {
	t.Parallel()
	job := NewJob("web", "/bin/web")
	job.HealthyAfter = 30 * time.Second
	t0 := time.Date(2026, 12, 3, 3, 0, 0, 0, time.UTC)
	r := restarts{streak: 6, looping: true, loopFrom: t0, crashes: 6, exits: []string{"exit 1"}}
	r, rec := r.stayedUp(job.HealthyAfter, t0.Add(time.Minute))
	if want := (recovery{deaths: 6, looped: true, down: 30 * time.Second, crashes: 6}); rec != want || r.streak != 0 || r.looping || r.exits != nil {
		t.Errorf("stayedUp: %+v, want %+v; state %+v", rec, want, r)
	}
	if _, rec := r.stayedUp(job.HealthyAfter, t0.Add(2*time.Minute)); rec != (recovery{}) {
		t.Errorf("a job with no deaths to end recovered: %+v", rec)
	}
	// Quick deaths that were no loop end too: the notifier closes their incident.
	r.streak = 2
	if _, rec := r.stayedUp(job.HealthyAfter, t0.Add(3*time.Minute)); rec != (recovery{deaths: 2}) {
		t.Errorf("two deaths then a healthy run: %+v, want 2 deaths ended, no loop", rec)
	}
}

func TestBackoffDelay(t *testing.T) {
	t.Parallel()
	b := Backoff{Initial: 100 * time.Millisecond, Max: time.Second}
	for _, tc := range []struct {
		n      int
		jitter float64
		want   time.Duration
	}{
		{1, 0.5, 100 * time.Millisecond},
		{2, 0.5, 200 * time.Millisecond},
		{4, 0.5, 800 * time.Millisecond},
		{5, 0.5, time.Second},
		{50, 0.5, time.Second},
		{1, 0, 80 * time.Millisecond},
		{1, 0.999999, 119999960 * time.Nanosecond},
	} {
		if got := backoffDelay(b, tc.n, tc.jitter); got.Round(10*time.Nanosecond) != tc.want {
			t.Errorf("backoffDelay(%d, %v) = %v, want %v", tc.n, tc.jitter, got, tc.want)
		}
	}
}

func TestOnDue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		overlap Overlap
		running bool
		want    dueAction
	}{
		{OverlapSkip, false, dueStart},
		{OverlapQueue, false, dueStart},
		{OverlapKill, false, dueStart},
		{OverlapSkip, true, dueSkip},
		{OverlapQueue, true, dueQueue},
		{OverlapKill, true, dueKill},
	} {
		if got := onDue(tc.overlap, tc.running); got != tc.want {
			t.Errorf("onDue(%s, running %v) = %v, want %v", tc.overlap, tc.running, got, tc.want)
		}
	}
}

func TestNextDue(t *testing.T) {
	t.Parallel()
	s, err := ParseSchedule("*/10 * * * *", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	at := func(hm string) time.Time {
		tm, _ := time.Parse("15:04", hm)
		return time.Date(2026, 12, 3, tm.Hour(), tm.Minute(), 0, 0, time.UTC)
	}
	for _, tc := range []struct{ due, now, want string }{
		{"03:00", "03:00", "03:10"},
		{"03:00", "03:05", "03:10"},
		{"03:00", "05:33", "05:40"}, // the machine slept: no burst of runs
	} {
		if got := nextDue(s, at(tc.due), at(tc.now)); !got.Equal(at(tc.want)) {
			t.Errorf("nextDue(%s, now %s) = %v, want %s", tc.due, tc.now, got, tc.want)
		}
	}
}

func TestMissedDeadline(t *testing.T) {
	t.Parallel()
	due := time.Date(2026, 12, 3, 3, 0, 0, 0, time.UTC)
	withExpect := &Job{ExpectSuccessWithin: time.Hour}
	heartbeatOnly := &Job{Heartbeat: &Heartbeat{Every: time.Hour}}
	for _, tc := range []struct {
		name             string
		job              *Job
		started, ended   bool
		running          time.Time
		missed           bool
		noteHas, noteNot string
	}{
		{"ended since: told then", withExpect, true, true, time.Time{}, false, "", ""},
		{"still going", withExpect, true, false, due, true, "still going", "never started"},
		{"never started", withExpect, false, false, time.Time{}, true, "never started", "still going"},
		{"never started behind a run", withExpect, false, false, due.Add(-time.Hour), true, "never started: the run due at", ""},
		{"a heartbeat asks only for the start", heartbeatOnly, true, false, due, false, "", ""},
		{"a heartbeat job that never started", heartbeatOnly, false, false, time.Time{}, true, "never started", ""},
	} {
		missed, note := missedDeadline(tc.job, due, tc.started, tc.ended, tc.running)
		if missed != tc.missed || !strings.Contains(note, tc.noteHas) || tc.noteNot != "" && strings.Contains(note, tc.noteNot) {
			t.Errorf("%s: missed %v %q", tc.name, missed, note)
		}
	}
}

func TestMissedWhileDown(t *testing.T) {
	t.Parallel()
	s, err := ParseSchedule("@every 1m", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	job := &Job{Schedule: s}
	t0 := time.Date(2026, 12, 3, 3, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		rec    lastRun
		now    time.Time
		n      int
		latest time.Time
	}{
		{"first time", lastRun{}, t0, 0, time.Time{}},
		{"schedule changed", lastRun{Schedule: "@every 5m", Due: t0}, t0.Add(time.Hour), 0, time.Time{}},
		{"down ten minutes", lastRun{Schedule: "@every 1m", Due: t0}, t0.Add(10*time.Minute + time.Second), 10, t0.Add(10 * time.Minute)},
		{"stopped during a run", lastRun{Schedule: "@every 1m", Due: t0, Unfinished: t0}, t0.Add(time.Second), 1, t0},
	} {
		n, latest := missedWhileDown(job, tc.rec, tc.now)
		if n != tc.n || !latest.Equal(tc.latest) {
			t.Errorf("%s: %d missed, latest %v; want %d, %v", tc.name, n, latest, tc.n, tc.latest)
		}
	}
}

func TestJittered(t *testing.T) {
	t.Parallel()
	due := time.Date(2026, 12, 3, 3, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		jitter time.Duration
		r      float64
		want   time.Duration
	}{
		{0, 0.5, 0},
		{time.Minute, 0, 0},
		{time.Minute, 0.5, 30 * time.Second},
		{time.Minute, 0.999, 59940 * time.Millisecond},
	} {
		if got := jittered(due, tc.jitter, tc.r); got.Sub(due) != tc.want {
			t.Errorf("jittered(due, %v, %v) = due+%v, want due+%v", tc.jitter, tc.r, got.Sub(due), tc.want)
		}
	}
}
