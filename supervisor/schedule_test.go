package supervisor_test

import (
	"slices"
	"testing"
	"time"
	_ "time/tzdata" // the zones below must not depend on the host's zoneinfo

	"github.com/supervise/supervise/supervisor"
)

func zoneNamed(t *testing.T, zone string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func instantAt(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func scheduleIn(t *testing.T, spec, zone string) supervisor.Schedule {
	t.Helper()
	s, err := supervisor.ParseSchedule(spec, zoneNamed(t, zone))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParseScheduleErrors(t *testing.T) {
	t.Parallel()
	const like = ` (like "0 3 * * *", "@daily" or "@every 10m")`
	tests := []struct {
		spec, want string
	}{
		{"", `"" is not a schedule: expected exactly 5 fields, found 0` + like},
		{"0 3 * *", `"0 3 * *" is not a schedule: expected exactly 5 fields, found 4` + like},
		{"0 0 3 * * *", `"0 0 3 * * *" is not a schedule: expected exactly 5 fields, found 6 (seconds are not supported)` + like},
		{"0 3 * * * *  extra", `"0 3 * * * *  extra" is not a schedule: expected exactly 5 fields, found 7` + like},
		{"0 25 * * *", `"0 25 * * *" is not a schedule: bad hour "25": end of range (25) above maximum (23)` + like},
		{"x 3 * * *", `"x 3 * * *" is not a schedule: bad minute "x": not a number or a name` + like},
		{"0 3 0 * *", `"0 3 0 * *" is not a schedule: bad day of month "0": beginning of range (0) below minimum (1)` + like},
		{"0 3 * foo *", `"0 3 * foo *" is not a schedule: bad month "foo": not a number or a name` + like},
		{"0 3 * * 1-2-3", `"0 3 * * 1-2-3" is not a schedule: bad day of week "1-2-3": too many hyphens` + like},
		{"*/0 3 * * *", `"*/0 3 * * *" is not a schedule: bad minute "*/0": step of range should be a positive number` + like},
		{"0 0 30 2 *", `"0 0 30 2 *" is not a schedule: never due: no date matches it` + like},
		{"CRON_TZ=Asia/Seoul 0 3 * * *", `"CRON_TZ=Asia/Seoul 0 3 * * *" is not a schedule: give the zone in the job file's timezone key instead of CRON_TZ= (like timezone = "Asia/Seoul")`},
		{"TZ=UTC 0 3 * * *", `"TZ=UTC 0 3 * * *" is not a schedule: give the zone in the job file's timezone key instead of TZ= (like timezone = "Asia/Seoul")`},
		{"CRON_TZ=Asia/Seoul", `"CRON_TZ=Asia/Seoul" is not a schedule: give the zone in the job file's timezone key instead of CRON_TZ= (like timezone = "Asia/Seoul")`},
		{"@every 0s", `"@every 0s" is not a schedule: "0s" must be more than zero (like "@every 10m")`},
		{"@every -1m", `"@every -1m" is not a schedule: "-1m" must be more than zero (like "@every 10m")`},
		{"@every 5", `"@every 5" is not a schedule: "5" has no unit: write it like "5s" or "5m" (like "@every 10m")`},
		{"@every", `"@every" is not a schedule: @every takes one duration (like "@every 10m")`},
		{"@every 1m 2m", `"@every 1m 2m" is not a schedule: @every takes one duration (like "@every 10m")`},
		{"@fortnightly", `"@fortnightly" is not a schedule: unknown descriptor; known are @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly and @every (like "@daily" or "@every 10m")`},
		{"@daily 3", `"@daily 3" is not a schedule: unknown descriptor; known are @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly and @every (like "@daily" or "@every 10m")`},
	}
	for _, tt := range tests {
		s, err := supervisor.ParseSchedule(tt.spec, time.UTC)
		if err == nil {
			t.Errorf("ParseSchedule(%q) = %v, want error %s", tt.spec, s, tt.want)
			continue
		}
		if got := err.Error(); got != tt.want {
			t.Errorf("ParseSchedule(%q) error\n got: %s\nwant: %s", tt.spec, got, tt.want)
		}
	}
}

func TestParseScheduleString(t *testing.T) {
	t.Parallel()
	for _, spec := range []string{"0 3 * * *", "*/15 9-17 * * mon-fri", "@daily", "@every 1h30m", "@every 250ms"} {
		s, err := supervisor.ParseSchedule(" "+spec+"\n", nil)
		if err != nil {
			t.Fatalf("ParseSchedule(%q): %v", spec, err)
		}
		if got := s.String(); got != spec {
			t.Errorf("ParseSchedule(%q).String() = %q, want %q", spec, got, spec)
		}
	}
}

// TestScheduleNext checks the instants, in UTC, of the first few due times after from.
// The daylight-saving rows fail with robfig's own Next, which skips a time the clocks jump
// over ("30 2 * * *" on the day clocks go forward) and runs a time shown twice twice.
func TestScheduleNext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, spec, zone, from string
		want                   []string
	}{
		{"strictly after", "0 3 * * *", "UTC", "2026-05-10T03:00:00Z",
			[]string{"2026-05-11T03:00:00Z", "2026-05-12T03:00:00Z"}},
		{"fraction of a second before", "0 3 * * *", "UTC", "2026-05-10T02:59:59.5Z",
			[]string{"2026-05-10T03:00:00Z"}},
		{"working hours", "*/15 9-17 * * mon-fri", "UTC", "2026-05-08T17:40:00Z",
			[]string{"2026-05-08T17:45:00Z", "2026-05-11T09:00:00Z", "2026-05-11T09:15:00Z"}},
		{"list of days", "0 12 1,15 * *", "UTC", "2026-05-10T00:00:00Z",
			[]string{"2026-05-15T12:00:00Z", "2026-06-01T12:00:00Z"}},
		{"leap day", "0 0 29 2 *", "UTC", "2026-01-01T00:00:00Z",
			[]string{"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"}},
		{"@yearly", "@yearly", "UTC", "2026-05-10T12:00:00Z", []string{"2027-01-01T00:00:00Z"}},
		{"@annually", "@annually", "UTC", "2026-05-10T12:00:00Z", []string{"2027-01-01T00:00:00Z"}},
		{"@monthly", "@monthly", "UTC", "2026-05-10T12:00:00Z", []string{"2026-06-01T00:00:00Z"}},
		{"@weekly", "@weekly", "UTC", "2026-05-10T12:00:00Z", []string{"2026-05-17T00:00:00Z"}},
		{"@daily", "@daily", "UTC", "2026-05-10T12:00:00Z", []string{"2026-05-11T00:00:00Z"}},
		{"@midnight", "@midnight", "UTC", "2026-05-10T12:00:00Z", []string{"2026-05-11T00:00:00Z"}},
		{"@hourly", "@hourly", "UTC", "2026-05-10T12:00:00Z", []string{"2026-05-10T13:00:00Z"}},
		{"Seoul from a UTC clock", "0 3 * * *", "Asia/Seoul", "2026-05-10T12:00:00Z",
			[]string{"2026-05-10T18:00:00Z", "2026-05-11T18:00:00Z"}},
		{"Seoul @daily", "@daily", "Asia/Seoul", "2026-05-10T12:00:00Z", []string{"2026-05-10T15:00:00Z"}},

		// New York, 2026-03-08: 02:00 EST (07:00Z) becomes 03:00 EDT.
		{"NY forward, skipped time runs at 03:00 EDT", "30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z",
			[]string{"2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z", "2026-03-10T06:30:00Z"}},
		{"NY forward, skipped hour runs at 03:00 EDT", "0 2 * * *", "America/New_York", "2026-03-07T12:00:00Z",
			[]string{"2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z"}},
		{"NY forward, 01:30", "30 1 * * *", "America/New_York", "2026-03-07T12:00:00Z",
			[]string{"2026-03-08T06:30:00Z", "2026-03-09T05:30:00Z"}},
		{"NY forward, hourly", "0 * * * *", "America/New_York", "2026-03-08T04:30:00Z",
			[]string{"2026-03-08T05:00:00Z", "2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z"}},
		{"NY forward, half-hourly: 02:00, 02:30 and 03:00 run once at 03:00 EDT", "*/30 * * * *", "America/New_York", "2026-03-08T05:45:00Z",
			[]string{"2026-03-08T06:00:00Z", "2026-03-08T06:30:00Z", "2026-03-08T07:00:00Z", "2026-03-08T07:30:00Z"}},

		// New York, 2026-11-01: 02:00 EDT (06:00Z) becomes 01:00 EST; 01:00-02:00 is shown twice.
		{"NY back, 02:30", "30 2 * * *", "America/New_York", "2026-10-31T12:00:00Z",
			[]string{"2026-11-01T07:30:00Z", "2026-11-02T07:30:00Z"}},
		{"NY back, 01:30 runs once, in EDT", "30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z",
			[]string{"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z", "2026-11-03T06:30:00Z"}},
		{"NY back, 01:30 from the second 01:10", "30 1 * * *", "America/New_York", "2026-11-01T06:10:00Z",
			[]string{"2026-11-02T06:30:00Z"}},
		{"NY back, hourly has a two-hour gap", "0 * * * *", "America/New_York", "2026-11-01T03:30:00Z",
			[]string{"2026-11-01T04:00:00Z", "2026-11-01T05:00:00Z", "2026-11-01T07:00:00Z", "2026-11-01T08:00:00Z"}},
		{"NY back, half-hourly", "*/30 * * * *", "America/New_York", "2026-11-01T04:45:00Z",
			[]string{"2026-11-01T05:00:00Z", "2026-11-01T05:30:00Z", "2026-11-01T07:00:00Z", "2026-11-01T07:30:00Z"}},
		{"NY back, half-hourly from the second 01:10", "*/30 * * * *", "America/New_York", "2026-11-01T06:10:00Z",
			[]string{"2026-11-01T07:00:00Z", "2026-11-01T07:30:00Z"}},
		{"NY back, every minute from the second 01:10", "* * * * *", "America/New_York", "2026-11-01T06:10:00Z",
			[]string{"2026-11-01T07:00:00Z", "2026-11-01T07:01:00Z"}},

		// Berlin, 2026-03-29: 02:00 CET (01:00Z) becomes 03:00 CEST.
		{"Berlin forward, skipped time runs at 03:00 CEST", "30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z",
			[]string{"2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z", "2026-03-31T00:30:00Z"}},
		{"Berlin forward, 01:30", "30 1 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z",
			[]string{"2026-03-29T00:30:00Z", "2026-03-29T23:30:00Z"}},
		{"Berlin forward, hourly", "0 * * * *", "Europe/Berlin", "2026-03-28T22:30:00Z",
			[]string{"2026-03-28T23:00:00Z", "2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z"}},
		{"Berlin forward, half-hourly", "*/30 * * * *", "Europe/Berlin", "2026-03-28T23:45:00Z",
			[]string{"2026-03-29T00:00:00Z", "2026-03-29T00:30:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z"}},

		// Berlin, 2026-10-25: 03:00 CEST (01:00Z) becomes 02:00 CET; 02:00-03:00 is shown twice.
		{"Berlin back, 02:30 runs once, in CEST", "30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z",
			[]string{"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z", "2026-10-27T01:30:00Z"}},
		{"Berlin back, 01:30", "30 1 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z",
			[]string{"2026-10-24T23:30:00Z", "2026-10-26T00:30:00Z"}},
		{"Berlin back, hourly has a two-hour gap", "0 * * * *", "Europe/Berlin", "2026-10-24T22:30:00Z",
			[]string{"2026-10-24T23:00:00Z", "2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z", "2026-10-25T03:00:00Z"}},
		{"Berlin back, hourly from the second 02:10", "0 * * * *", "Europe/Berlin", "2026-10-25T01:10:00Z",
			[]string{"2026-10-25T02:00:00Z"}},
		{"Berlin back, half-hourly", "*/30 * * * *", "Europe/Berlin", "2026-10-24T23:45:00Z",
			[]string{"2026-10-25T00:00:00Z", "2026-10-25T00:30:00Z", "2026-10-25T02:00:00Z", "2026-10-25T02:30:00Z"}},
	}
	for _, tt := range tests {
		s := scheduleIn(t, tt.spec, tt.zone)
		at := instantAt(t, tt.from)
		var got []string
		for range tt.want {
			at = s.Next(at)
			got = append(got, at.UTC().Format(time.RFC3339Nano))
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: %q in %s from %s\n got: %v\nwant: %v", tt.name, tt.spec, tt.zone, tt.from, got, tt.want)
		}
	}
}

// TestScheduleNextAcrossDST checks, over two days around each change, that Next strictly
// increases, and that Next from any time is the first due time after it: the due times
// are one fixed set, wherever the supervisor starts from.
func TestScheduleNextAcrossDST(t *testing.T) {
	t.Parallel()
	changes := []struct{ zone, day string }{
		{"America/New_York", "2026-03-08"}, {"America/New_York", "2026-11-01"},
		{"Europe/Berlin", "2026-03-29"}, {"Europe/Berlin", "2026-10-25"},
	}
	for _, c := range changes {
		loc := zoneNamed(t, c.zone)
		day, err := time.ParseInLocation(time.DateOnly, c.day, loc)
		if err != nil {
			t.Fatal(err)
		}
		from, to := day.Add(-12*time.Hour), day.Add(36*time.Hour)
		for _, spec := range []string{"30 2 * * *", "30 1 * * *", "0 * * * *", "*/30 * * * *", "* * * * *"} {
			s := scheduleIn(t, spec, c.zone)
			var due []time.Time
			for at := s.Next(from); at.Before(to); at = s.Next(at) {
				if n := len(due); n > 0 && !at.After(due[n-1]) {
					t.Fatalf("%q in %s: Next(%v) = %v, not after it", spec, c.zone, due[n-1], at)
				}
				due = append(due, at)
			}
			i := 0
			for at := from; at.Before(due[len(due)-1]); at = at.Add(7*time.Minute + 13*time.Second) {
				for !due[i].After(at) {
					i++
				}
				if got := s.Next(at); !got.Equal(due[i]) {
					t.Errorf("%q in %s: Next(%v) = %v, want %v", spec, c.zone, at.UTC(), got.UTC(), due[i].UTC())
				}
			}
		}
	}
}

func TestScheduleEvery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		spec, from string
		want       []string
	}{
		{"@every 10m", "2026-05-10T12:03:07Z", []string{"2026-05-10T12:13:07Z", "2026-05-10T12:23:07Z"}},
		{"@every 1h30m", "2026-05-10T23:00:00Z", []string{"2026-05-11T00:30:00Z", "2026-05-11T02:00:00Z"}},
		{"@every 250ms", "2026-05-10T12:00:00.1Z", []string{"2026-05-10T12:00:00.35Z", "2026-05-10T12:00:00.6Z"}},
		{"@every 1ms", "2026-05-10T12:00:00Z", []string{"2026-05-10T12:00:00.001Z", "2026-05-10T12:00:00.002Z"}},
	}
	for _, tt := range tests {
		s := scheduleIn(t, tt.spec, "America/New_York") // a zone must not matter
		at := instantAt(t, tt.from)
		var got []string
		for range tt.want {
			at = s.Next(at)
			got = append(got, at.UTC().Format(time.RFC3339Nano))
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%q from %s\n got: %v\nwant: %v", tt.spec, tt.from, got, tt.want)
		}
	}
}

func TestMissed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, spec, zone, last, now string
		wantCount                   int
		wantLatest                  string // "" for none
	}{
		{"none", "0 3 * * *", "UTC", "2026-05-10T03:00:00Z", "2026-05-11T02:59:59Z", 0, ""},
		{"now before last", "0 3 * * *", "UTC", "2026-05-10T03:00:00Z", "2026-05-09T03:00:00Z", 0, ""},
		{"one, up to now inclusive", "0 3 * * *", "UTC", "2026-05-10T03:00:00Z", "2026-05-11T03:00:00Z", 1, "2026-05-11T03:00:00Z"},
		{"several", "0 3 * * *", "UTC", "2026-05-01T03:00:00Z", "2026-05-10T12:00:00Z", 9, "2026-05-10T03:00:00Z"},
		{"01:30 once across the change", "30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", "2026-11-02T12:00:00Z", 2, "2026-11-02T06:30:00Z"},
		{"cap, every minute for 9 days", "* * * * *", "UTC", "2026-05-01T00:00:00Z", "2026-05-10T12:34:56Z", 1000, "2026-05-10T12:34:00Z"},
		{"cap, ending in the second 01:30", "* * * * *", "America/New_York", "2026-10-25T00:00:00Z", "2026-11-01T06:30:00Z", 1000, "2026-11-01T05:59:00Z"},
		{"cap, hourly for a year", "@hourly", "Europe/Berlin", "2025-05-10T00:00:00Z", "2026-05-10T12:34:56Z", 1000, "2026-05-10T12:00:00Z"},
		{"every, none", "@every 1h", "UTC", "2026-05-10T00:00:00Z", "2026-05-10T00:59:59Z", 0, ""},
		{"every, one", "@every 1h", "UTC", "2026-05-10T00:00:00Z", "2026-05-10T01:00:00Z", 1, "2026-05-10T01:00:00Z"},
		{"every, several", "@every 1h", "UTC", "2026-05-10T00:10:00Z", "2026-05-10T05:30:00Z", 5, "2026-05-10T05:10:00Z"},
		{"every, cap, 1ms for a day", "@every 1ms", "UTC", "2026-05-10T00:00:00.0003Z", "2026-05-11T00:00:00Z", 1000, "2026-05-10T23:59:59.9993Z"},
		// Two intervals are more than a Duration holds: found by FuzzParseSchedule.
		{"every, two of 228 years", "@every 2000000h", "UTC", "2000-01-01T00:00:00Z", "2456-04-25T16:00:00Z", 2, "2456-04-25T16:00:00Z"},
		{"every 1ns from zero", "@every 1ns", "UTC", "0001-01-01T00:00:00Z", "2026-05-10T00:00:00Z", 1000, "2026-05-10T00:00:00Z"},
	}
	for _, tt := range tests {
		s := scheduleIn(t, tt.spec, tt.zone)
		count, latest := supervisor.Missed(s, instantAt(t, tt.last), instantAt(t, tt.now))
		got := ""
		if !latest.IsZero() {
			got = latest.UTC().Format(time.RFC3339Nano)
		}
		if count != tt.wantCount || got != tt.wantLatest {
			t.Errorf("%s: Missed(%q, %s, %s) = %d, %q, want %d, %q", tt.name, tt.spec, tt.last, tt.now, count, got, tt.wantCount, tt.wantLatest)
		}
	}
}

// TestMissedEveryFromZero checks that a last too far back for a Duration keeps the
// interval's grid: the latest due time is a whole number of intervals after last.
func TestMissedEveryFromZero(t *testing.T) {
	t.Parallel()
	s := scheduleIn(t, "@every 7s", "UTC")
	var last time.Time
	now := instantAt(t, "2026-05-10T12:34:56.5Z")
	count, latest := supervisor.Missed(s, last, now)
	secs := now.Unix() - last.Unix()
	want := now.Add(-time.Duration(secs%7)*time.Second - 500*time.Millisecond)
	if count != 1000 || !latest.Equal(want) {
		t.Errorf("Missed(@every 7s, zero, %v) = %d, %v, want 1000, %v", now, count, latest, want)
	}
}
