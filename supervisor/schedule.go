package supervisor

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Schedule says when a scheduled job is due.
type Schedule interface {
	// Next returns the first due time strictly after t.
	Next(t time.Time) time.Time
	// String returns the schedule as written in the job file.
	String() string
}

// cronParser reads five fields, as cron does: no seconds.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

var cronFields = []string{"minute", "hour", "day of month", "month", "day of week"}

// maxMissed caps Missed, so that a long downtime with a fast schedule stays cheap.
const maxMissed = 1000

// ParseSchedule reads a schedule: a five-field cron expression ("0 3 * * *"), a descriptor
// (@yearly @annually @monthly @weekly @daily @midnight @hourly), or "@every DURATION".
// Cron times are wall-clock times in loc (nil means time.Local).
func ParseSchedule(spec string, loc *time.Location) (Schedule, error) {
	spec = strings.TrimSpace(spec)
	if loc == nil {
		loc = time.Local
	}
	bad := func(like, format string, args ...any) error {
		return fmt.Errorf("%q is not a schedule: %s (like %s)", spec, fmt.Sprintf(format, args...), like)
	}
	const likeAny = `"0 3 * * *", "@daily" or "@every 10m"`
	fields := strings.Fields(spec)
	switch {
	case strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ="):
		return nil, bad(`timezone = "Asia/Seoul"`, "give the zone in the job file's timezone key instead of %s",
			spec[:strings.Index(spec, "=")+1])
	case len(fields) > 0 && fields[0] == "@every":
		if len(fields) != 2 {
			return nil, bad(`"@every 10m"`, "@every takes one duration")
		}
		d, err := ParseDuration(fields[1])
		if err != nil {
			return nil, bad(`"@every 10m"`, "%v", err)
		}
		return every{spec: spec, d: d}, nil
	case strings.HasPrefix(spec, "@"):
		// robfig parses the descriptor below; its error for an unknown one is not ours.
		switch spec {
		case "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly":
		default:
			return nil, bad(`"@daily" or "@every 10m"`, "unknown descriptor; known are "+
				"@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly and @every")
		}
	case len(fields) == 6:
		return nil, bad(likeAny, "expected exactly 5 fields, found 6 (seconds are not supported)")
	case len(fields) != 5:
		return nil, bad(likeAny, "expected exactly 5 fields, found %d", len(fields))
	}
	parsed, err := cronParser.Parse(spec)
	if err != nil {
		return nil, bad(likeAny, "%s", fieldError(fields, err))
	}
	s := wallClock{spec: spec, loc: loc, cron: parsed.(*cron.SpecSchedule)}
	s.cron.Location = time.UTC // the naive clock: see wallClock
	// robfig gives up after five years, which is also how it reports "0 0 30 2 *".
	if s.cron.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, bad(likeAny, "never due: no date matches it")
	}
	return s, nil
}

// fieldError names the field that robfig rejected, found by parsing each one alone,
// and rewords robfig's reason.
func fieldError(fields []string, err error) string {
	for i, f := range fields {
		alone := []string{"*", "*", "*", "*", "*"}
		alone[i] = f
		_, ferr := cronParser.Parse(strings.Join(alone, " "))
		if ferr == nil {
			continue
		}
		reason := ferr.Error()
		if strings.HasPrefix(reason, "failed to parse int") {
			reason = "not a number or a name"
		} else if colon := strings.LastIndex(reason, ": "); colon >= 0 {
			reason = reason[:colon] // robfig repeats the field after the colon
		}
		return fmt.Sprintf("bad %s %q: %s", cronFields[i], f, reason)
	}
	return err.Error()
}

// every runs at a fixed interval from the time it is given, not aligned to the clock.
type every struct {
	spec string
	d    time.Duration
}

func (e every) Next(t time.Time) time.Time { return t.Add(e.d) }
func (e every) String() string             { return e.spec }

// wallClock is a cron schedule read on the wall clock of loc, as cron users expect across
// daylight-saving changes, where robfig skips or doubles runs: every matching wall-clock
// time runs exactly once.
//   - A time that the clocks jump over runs when they land: 02:30 runs at 03:00 on the day
//     the clocks go from 02:00 to 03:00, and all of "*/30 * * * *"'s 02:00, 02:30 and 03:00
//     run once, together, at 03:00.
//   - A time that the clocks show twice runs the first time only: when they go back from
//     02:00 to 01:00, "30 1 * * *" runs at 01:30 in summer time, and "0 * * * *" runs at
//     01:00 summer time and then at 02:00 winter time, two hours later.
//
// robfig runs on a naive clock that has no daylight saving: the wall-clock fields copied
// into UTC. instant maps its answers back to loc.
type wallClock struct {
	spec string
	loc  *time.Location
	cron *cron.SpecSchedule
}

func (s wallClock) String() string { return s.spec }

// Next returns the first due time strictly after t, by the rules of wallClock.
func (s wallClock) Next(t time.Time) time.Time {
	from := naive(t.In(s.loc))
	// Two rounds suffice: the second only when t is in the second pass of a repeated hour.
	for range 2 {
		w := s.cron.Next(from)
		if w.IsZero() {
			return time.Time{}
		}
		due := instant(w, s.loc)
		if due.After(t) {
			return due
		}
		// t is in the second pass of a repeated hour and due in the first: go on from the
		// last wall time of the first pass, which the second pass only repeats.
		_, end := due.ZoneBounds()
		from = naive(end.Add(-time.Nanosecond).In(s.loc))
	}
	return time.Time{}
}

// naive returns t's wall clock as the same reading in UTC.
func naive(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// instant returns the first instant at which the clocks in loc show the naive time w or,
// if they skip it, the instant they land after the jump. time.Date alone does not: for a
// skipped time it may land before or after the jump, and for a time shown twice it may
// return either, depending on the zone (measured in America/New_York and Europe/Berlin).
func instant(w time.Time, loc *time.Location) time.Time {
	t := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), loc)
	start, end := t.ZoneBounds()
	switch shown := naive(t); {
	case shown.After(w): // skipped, and t is past the jump
		return start
	case shown.Before(w): // skipped, and t is before the jump
		return end
	}
	if start.IsZero() {
		return t
	}
	// If w is shown twice, its first showing is in the offset before t's.
	_, off := start.Add(-time.Nanosecond).Zone()
	if first := w.Add(-time.Duration(off) * time.Second).In(loc); first.Before(start) && naive(first).Equal(w) {
		return first
	}
	return t
}

// Missed counts the due times of s after last and up to now (inclusive), and returns the latest
// of them; it stops counting at 1000 so a long downtime with a fast schedule stays cheap
// (count is then 1000 and latest is still the latest due time <= now).
func Missed(s Schedule, last, now time.Time) (count int, latest time.Time) {
	if e, ok := s.(every); ok {
		// From a zero last, or with an interval of centuries, now-last overflows a
		// Duration: move last on by whole intervals, which keeps its grid, and count
		// them (each count capped, so the sum cannot overflow either).
		var skipped time.Duration
		for i := 0; i < 100 && now.Sub(last) == math.MaxInt64; i++ {
			k := now.Sub(last) / e.d
			last, skipped = last.Add(k*e.d), min(skipped+min(k, maxMissed), maxMissed)
		}
		n := now.Sub(last) / e.d
		if n <= 0 && skipped == 0 {
			return 0, time.Time{}
		}
		return int(min(min(n, maxMissed)+skipped, maxMissed)), last.Add(n * e.d)
	}
	before, t := last, last
	for count < maxMissed {
		next := s.Next(t)
		if next.IsZero() || next.After(now) {
			return count, latest
		}
		count++
		before, t, latest = t, next, next
	}
	// Rather than walk on, bisect: Next(lo) <= now < Next(hi), and since the due times
	// are a fixed set, Next(lo) is the latest one once lo and hi meet.
	lo, hi := before, now
	for range 200 { // 64 halvings of a Duration, plus room for spans it cannot hold
		mid := lo.Add(hi.Sub(lo) / 2)
		if !mid.After(lo) {
			break
		}
		if next := s.Next(mid); !next.IsZero() && !next.After(now) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return count, s.Next(lo)
}
