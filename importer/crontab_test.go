package importer

import (
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/supervise/supervise/supervisor"
)

// importCrontab translates text with the options a test gives, the job files going
// to a folder of the test's.
func importCrontab(t *testing.T, text string, opts ...func(*CrontabOptions)) (*Result, string) {
	t.Helper()
	into := t.TempDir()
	opt := CrontabOptions{Source: "crontab", Into: into, Home: func(user string) (string, error) {
		if user == "" || user == "root" {
			return "/home/owner", nil
		}
		return "", errors.New("no such user")
	}}
	for _, o := range opts {
		o(&opt)
	}
	return Crontab([]byte(text), opt), opt.Into
}

// jobs loads the files of r as `supervise up` would, by name.
func jobs(t *testing.T, r *Result, into string) map[string]*supervisor.Job {
	t.Helper()
	m := map[string]*supervisor.Job{}
	for _, f := range r.Files {
		job, err := supervisor.Parse(filepath.Join(into, f.Name+".toml"), f.Text)
		if err != nil {
			t.Fatalf("%s does not load: %v\n%s", f.Name, err, f.Text)
		}
		if !strings.HasPrefix(string(f.Text), "# Imported by `supervise import crontab` from "+f.Source+":\n") {
			t.Errorf("%s does not begin with where it came from:\n%s", f.Name, f.Text)
		}
		m[f.Name] = job
	}
	return m
}

// Each job line becomes a job with the same schedule, the environment of the lines
// above it, and its command: an argv when it is plain words, a shell string when not.
func TestCrontabLines(t *testing.T) {
	sh := func(script string) []string { return []string{"/bin/sh", "-c", script} }
	for _, tc := range []struct {
		crontab  string
		name     string
		argv     []string
		schedule string // "" for none
		zone     string
		env      map[string]string
		dir      string
	}{
		{crontab: "30 2 * * 1-5 /usr/local/bin/backup.sh --full",
			name: "backup", argv: []string{"/usr/local/bin/backup.sh", "--full"}, schedule: "30 2 * * 1-5", dir: "/home/owner"},
		{crontab: "*/15\t9-17 * jan-jun mon-fri\tfind /tmp -mtime +7 -delete",
			name: "find", argv: []string{"find", "/tmp", "-mtime", "+7", "-delete"}, schedule: "*/15 9-17 * jan-jun mon-fri", dir: "/home/owner"},
		{crontab: "0 * * * * cd /srv && ./bin/run.sh > /dev/null 2>&1",
			name: "run", argv: sh("cd /srv && ./bin/run.sh > /dev/null 2>&1"), schedule: "0 * * * *", dir: "/home/owner"},
		// \% is a %; a shell word stays the shell's.
		{crontab: `0 0 1 * * tar czf /backup/home-$(date +\%Y\%m).tgz /home`,
			name: "tar", argv: sh(`tar czf /backup/home-$(date +%Y%m).tgz /home`), schedule: "0 0 1 * *", dir: "/home/owner"},
		{crontab: `5 4 * * * /usr/bin/logger "quotes \"inside\", back\\slashes, $(id -u), unicode: Grüße ☕"`,
			name: "logger", argv: sh(`/usr/bin/logger "quotes \"inside\", back\\slashes, $(id -u), unicode: Grüße ☕"`), schedule: "5 4 * * *", dir: "/home/owner"},
		{crontab: "@daily /usr/bin/certbot renew", name: "certbot", argv: []string{"/usr/bin/certbot", "renew"}, schedule: "@daily", dir: "/home/owner"},
		{crontab: "@annually /bin/yearly", name: "yearly", argv: []string{"/bin/yearly"}, schedule: "@annually", dir: "/home/owner"},
		{crontab: "@midnight /bin/nightly", name: "nightly", argv: []string{"/bin/nightly"}, schedule: "@midnight", dir: "/home/owner"},
		{crontab: "@reboot /usr/local/bin/warm-cache", name: "warm-cache", argv: []string{"/usr/local/bin/warm-cache"}, dir: "/home/owner"},
		// cron's 7 for Sunday, which the schedule parser knows as 0.
		{crontab: "0 0 * * 5-7 /bin/weekend", name: "weekend", argv: []string{"/bin/weekend"}, schedule: "0 0 * * 5-6,0", dir: "/home/owner"},
		// Environment lines: blanks around =, quotes, $ taken as it is; MAILTO and
		// CRON_TZ are not the job's environment.
		{crontab: "MAILTO=ops@example.com\nA = 1\nB='  spaced  '\nC=\"x y\"  \nD=$HOME/bin\nCRON_TZ=Asia/Seoul\n0 9 * * * /bin/morning",
			name: "morning", argv: []string{"/bin/morning"}, schedule: "0 9 * * *", zone: "Asia/Seoul",
			env: map[string]string{"A": "1", "B": "  spaced  ", "C": "x y", "D": "$HOME/bin"}, dir: "/home/owner"},
		// TZ is the job's environment; the schedule stays in the host's zone, as cron reads it.
		{crontab: "TZ=Europe/Berlin\n0 9 * * * /bin/berlin", name: "berlin", argv: []string{"/bin/berlin"}, schedule: "0 9 * * *",
			env: map[string]string{"TZ": "Europe/Berlin"}, dir: "/home/owner"},
		// cron runs a job in $HOME.
		{crontab: "HOME=/srv/app\n0 9 * * * ./tick", name: "tick", argv: []string{"./tick"}, schedule: "0 9 * * *",
			env: map[string]string{"HOME": "/srv/app"}, dir: "/srv/app"},
		// SHELL runs a shell command; a plain one needs no shell.
		{crontab: "SHELL=/bin/bash\n0 5 * * * [[ -f /etc/maint ]] || /bin/check", name: "check", argv: []string{"/bin/bash", "-c", "[[ -f /etc/maint ]] || /bin/check"},
			schedule: "0 5 * * *", env: map[string]string{"SHELL": "/bin/bash"}, dir: "/home/owner"},
		{crontab: "SHELL=/bin/bash\n0 5 * * * /bin/plain --x", name: "plain", argv: []string{"/bin/plain", "--x"},
			schedule: "0 5 * * *", env: map[string]string{"SHELL": "/bin/bash"}, dir: "/home/owner"},
		// An assignment or a builtin first is shell syntax.
		{crontab: "0 5 * * * LANG=C sort /x", name: "sort", argv: sh("LANG=C sort /x"), schedule: "0 5 * * *", dir: "/home/owner"},
		{crontab: "0 5 * * * exec /bin/x", name: "x", argv: sh("exec /bin/x"), schedule: "0 5 * * *", dir: "/home/owner"},
	} {
		r, into := importCrontab(t, tc.crontab)
		if len(r.Skipped) > 0 || len(r.Files) != 1 {
			t.Errorf("%q: %d files, skipped %v; want one file", tc.crontab, len(r.Files), r.Skipped)
			continue
		}
		job := jobs(t, r, into)[tc.name]
		if job == nil {
			t.Errorf("%q: named %s, want %s", tc.crontab, r.Files[0].Name, tc.name)
			continue
		}
		if !slices.Equal(job.Command, tc.argv) {
			t.Errorf("%q: command %q, want %q", tc.crontab, job.Command, tc.argv)
		}
		switch {
		case tc.schedule == "" && (job.Schedule != nil || job.Restart != supervisor.RestartNever):
			t.Errorf("%q: schedule %v, restart %s; want none, never: it runs once when up starts", tc.crontab, job.Schedule, job.Restart)
		case tc.schedule != "" && (job.Schedule == nil || job.Schedule.String() != tc.schedule):
			t.Errorf("%q: schedule %v, want %q", tc.crontab, job.Schedule, tc.schedule)
		}
		if job.Timezone != tc.zone {
			t.Errorf("%q: timezone %q, want %q", tc.crontab, job.Timezone, tc.zone)
		}
		if want := tc.env; !maps.Equal(job.Env, want) && len(job.Env)+len(want) > 0 {
			t.Errorf("%q: env %q, want %q", tc.crontab, job.Env, want)
		}
		if job.Dir != tc.dir || job.PTY {
			t.Errorf("%q: dir %q, pty %v; want %q, no pty (as under cron)", tc.crontab, job.Dir, job.PTY, tc.dir)
		}
	}
}

// A % in a command is what cron makes of it, run for real: the text after the
// first unescaped % is the command's standard input, each further % a newline,
// \% a %.
func TestCrontabPercent(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{"cat%hello%world", "hello\nworld"},
		{`cat%a\%b`, "a%b"},
		{`cat%a\\%b`, `a\%b`}, // cron's own rule: \\ then % is \%
		{`cat%back\slash`, `back\slash`},
		{`cat%trailing\`, `trailing\`},
		{"cat%%", "\n"},
		{"cat%", ""},
		{`echo 100\%`, "100%\n"},
		{`printf '\%s|' a b`, "a|b|"},
		{"tr a-z A-Z%shout%", "SHOUT\n"},
		{`read a; read b; echo "$b $a"%one%two`, "two one\n"},
		{`cat%it's "quoted" $(not run) ☕`, `it's "quoted" $(not run) ☕`},
	} {
		r, into := importCrontab(t, "* * * * * "+tc.line)
		if len(r.Files) != 1 {
			t.Errorf("%q: not translated: %v", tc.line, r.Skipped)
			continue
		}
		job := jobs(t, r, into)[r.Files[0].Name]
		// As supervise runs it: standard input /dev/null, in a folder of its own.
		cmd := exec.Command(job.Command[0], job.Command[1:]...)
		cmd.Dir = t.TempDir()
		out, err := cmd.Output()
		if err != nil || string(out) != tc.want {
			t.Errorf("%q runs %q and prints %q (%v), want %q", tc.line, job.Command, out, err, tc.want)
		}
	}
}

// The schedule of each job is due when cron would run the line: checked minute by
// minute against cron's rules, written out below, over two months.
func TestCrontabSchedulesAsCron(t *testing.T) {
specs:
	for _, spec := range []string{
		"30 2 * * 7", "0 0 * * 5-7", "0 12 * * 1-7/2", "0 0 13 * 5", "*/20 9-17 * jan,jul mon-fri",
		"0 0 * * 0,7", "15 */6 1-10 * *", "0 22 * * sun-tue", "0 0 31 * *",
	} {
		r, into := importCrontab(t, "CRON_TZ=UTC\n"+spec+" /bin/job")
		if len(r.Files) != 1 {
			t.Errorf("%q: not translated: %v", spec, r.Skipped)
			continue
		}
		sched, cron := jobs(t, r, into)["job"].Schedule, cronDue(spec)
		from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		next := sched.Next(from.Add(-time.Minute))
		for day := from; day.Before(from.AddDate(0, 2, 0)); day = day.AddDate(0, 0, 1) {
			runsOn := cron(day)
			dueNext := int(next.Sub(day) / time.Minute) // the minute of the day it is, if today
			for minute := range 24 * 60 {
				due := runsOn(minute)
				if !due && minute != dueNext {
					continue
				}
				at := day.Add(time.Duration(minute) * time.Minute)
				if !due || minute != dueNext {
					t.Errorf("%q at %s: cron runs it: %v; the job file's schedule is next due at %s", spec, at.Format("Mon 2006-01-02 15:04"), due, next)
					continue specs
				}
				next = sched.Next(at)
				dueNext = int(next.Sub(day) / time.Minute)
			}
		}
	}
}

// cronDue returns when cron (Vixie cron, cronie) runs spec, a day at a time and then
// by the minute of the day: each field a list of
// numbers, ranges and steps, names for months and days, 7 for Sunday, and a day that
// matches the day of the month or of the week when both are restricted.
func cronDue(spec string) func(day time.Time) func(minute int) bool {
	f := strings.Fields(spec)
	names := map[string]int{"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8,
		"sep": 9, "oct": 10, "nov": 11, "dec": 12, "sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
	num := func(s string) int {
		if n, ok := names[strings.ToLower(s)]; ok {
			return n
		}
		n := 0
		for _, c := range s {
			n = n*10 + int(c-'0')
		}
		return n
	}
	set := func(field string, lo, hi int) *[64]bool {
		in := new([64]bool)
		for _, part := range strings.Split(field, ",") {
			rng, step, hasStep := strings.Cut(part, "/")
			by := 1
			if hasStep {
				by = num(step)
			}
			from, to := lo, hi
			if rng != "*" {
				a, b, isRange := strings.Cut(rng, "-")
				from, to = num(a), num(a)
				if isRange {
					to = num(b)
				}
			}
			for x := from; x <= to; x += by {
				in[x] = true
			}
		}
		if hi == 7 && in[7] {
			in[0] = true
		}
		return in
	}
	minute, hour, dom, month, dow := set(f[0], 0, 59), set(f[1], 0, 23), set(f[2], 1, 31), set(f[3], 1, 12), set(f[4], 0, 7)
	either := !strings.HasPrefix(f[2], "*") && !strings.HasPrefix(f[4], "*")
	return func(at time.Time) func(int) bool {
		d, w := dom[at.Day()], dow[int(at.Weekday())]
		day := d && w
		if either {
			day = d || w
		}
		day = day && month[int(at.Month())]
		return func(m int) bool { return day && hour[m/60] && minute[m%60] }
	}
}

// A line that cannot be translated is listed with its number and why, and kept in
// the crontab to install, with the settings above it; the others are translated.
func TestCrontabUntranslated(t *testing.T) {
	text := strings.Join([]string{
		"# comment",                       // 1
		"PATH=/usr/bin:/bin",              // 2
		"0 3 * * /bin/missing-field",      // 3
		"61 * * * * /bin/bad-minute",      // 4
		"0 0 30 2 * /bin/never",           // 5
		"@weekdays /bin/unknown",          // 6
		"0 0 * * *",                       // 7: no command
		"CRON_TZ=Mars/Olympus_Mons",       // 8
		"0 6 * * * /bin/mars",             // 9
		"CRON_TZ=UTC",                     // 10
		"0 0 L * * /bin/last-day",         // 11: not cron's
		"0 1 * * * /bin/fine",             // 12
		"0 2 * * * /bin/latin1-\xe9t\xe9", // 13
	}, "\n")
	r, _ := importCrontab(t, text)
	want := map[string]string{
		"crontab:3":  "want five time fields and a command",
		"crontab:4":  `bad minute "61"`,
		"crontab:5":  "never due",
		"crontab:6":  "@weekdays is not a schedule cron knows",
		"crontab:7":  "want five time fields and a command",
		"crontab:9":  "CRON_TZ=Mars/Olympus_Mons is not a time zone known here",
		"crontab:11": `bad day of month "L"`,
		"crontab:13": "not UTF-8",
	}
	got := map[string]string{}
	for _, s := range r.Skipped {
		got[s.Source] = s.Text
	}
	for src, w := range want {
		if !strings.HasPrefix(got[src], "not translated: ") || !strings.Contains(got[src], w) {
			t.Errorf("%s: %q, want it not translated: %q", src, got[src], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("skipped %q, want %d lines", r.Skipped, len(want))
	}
	if len(r.Files) != 1 || r.Files[0].Name != "fine" {
		t.Errorf("files %v, want fine alone", r.Files)
	}
	for _, keep := range []string{"PATH=/usr/bin:/bin\n", "0 3 * * /bin/missing-field\n", "CRON_TZ=Mars/Olympus_Mons\n0 6 * * * /bin/mars\n"} {
		if !strings.Contains(r.Crontab, keep) {
			t.Errorf("the crontab to install lacks %q:\n%s", keep, r.Crontab)
		}
	}
	if strings.Contains(r.Crontab, "/bin/fine") {
		t.Errorf("the crontab to install keeps the translated line:\n%s", r.Crontab)
	}
}

// A crontab that translates whole leaves nothing for cron but comments.
func TestCrontabAllTranslated(t *testing.T) {
	r, _ := importCrontab(t, "MAILTO=me\n0 1 * * * /bin/a\n@reboot /bin/b\n")
	if len(r.Skipped) > 0 || len(r.Files) != 2 {
		t.Fatalf("files %d, skipped %v", len(r.Files), r.Skipped)
	}
	for _, line := range strings.Split(strings.TrimSpace(r.Crontab), "\n") {
		if !strings.HasPrefix(line, "#") {
			t.Errorf("the crontab to install has a line for cron: %q", line)
		}
	}
	if !strings.Contains(string(r.Files[0].Text), "# MAILTO=me: cron mailed the output there; alerts now go to the chat.") {
		t.Errorf("MAILTO is not said:\n%s", r.Files[0].Text)
	}
}

// With --keep-cron, cron keeps each schedule and runs supervise run on the job file,
// a % in its path escaped from cron.
func TestCrontabKeepCron(t *testing.T) {
	into := filepath.Join(t.TempDir(), "100%")
	r, _ := importCrontab(t, "CRON_TZ=UTC\n0 1 * * 7 /bin/a\n@reboot /bin/b\n0 2 * * * /bin/c%stdin\n", func(o *CrontabOptions) {
		o.KeepCron, o.Into = "/usr/bin/supervise", into
	})
	dir := strings.ReplaceAll(into, "%", `\%`)
	for _, want := range []string{
		"\nCRON_TZ=UTC\n",
		"\n0 1 * * 7 /usr/bin/supervise run " + dir + "/a.toml\n",
		"\n@reboot /usr/bin/supervise run " + dir + "/b.toml\n",
		"\n0 2 * * * /usr/bin/supervise run " + dir + "/c.toml\n",
	} {
		if !strings.Contains(r.Crontab, want) {
			t.Errorf("the crontab lacks %q:\n%s", want, r.Crontab)
		}
	}
}

// A system crontab has a user after the schedule: root's lines are translated,
// another user's are not, as a job file has no user.
func TestCrontabSystem(t *testing.T) {
	text := "SHELL=/bin/sh\n17 * * * * root cd / && run-parts --report /etc/cron.hourly\n" +
		"*/5 * * * * www-data php /var/www/artisan schedule:run\n@reboot root /bin/mount-scratch\n0 1 * * * root\n"
	r, into := importCrontab(t, text, func(o *CrontabOptions) { o.System = true })
	got := jobs(t, r, into)
	if len(got) != 2 || got["cron.hourly"] == nil || got["mount-scratch"] == nil {
		t.Fatalf("jobs %v, want cron.hourly and mount-scratch", slices.Collect(maps.Keys(got)))
	}
	if j := got["cron.hourly"]; j.Schedule.String() != "17 * * * *" || j.Dir != "/home/owner" ||
		!slices.Equal(j.Command, []string{"/bin/sh", "-c", "cd / && run-parts --report /etc/cron.hourly"}) {
		t.Errorf("cron.hourly: %q at %v in %s", j.Command, j.Schedule, j.Dir)
	}
	want := map[string]string{"crontab:3": "runs as www-data", "crontab:5": "want five time fields, a user and a command"}
	for _, s := range r.Skipped {
		if !strings.Contains(s.Text, want[s.Source]) || want[s.Source] == "" {
			t.Errorf("%s, want %s: %s", s, s.Source, want[s.Source])
		}
		delete(want, s.Source)
	}
	if len(want) > 0 {
		t.Errorf("not listed: %v", want)
	}
}

// A crontab's owner has no home here: the job says so, and has no dir.
func TestCrontabNoHome(t *testing.T) {
	r, into := importCrontab(t, "0 1 * * * /bin/a", func(o *CrontabOptions) {
		o.Home = func(string) (string, error) { return "", errors.New("no such user") }
	})
	if j := jobs(t, r, into)["a"]; j.Dir != "" || !strings.Contains(string(r.Files[0].Text), "unknown here (no such user): set dir") {
		t.Errorf("dir %q, file:\n%s", j.Dir, r.Files[0].Text)
	}
}

// Two jobs of one program are told apart; a name is what CheckName takes.
func TestCrontabNames(t *testing.T) {
	r, _ := importCrontab(t, "0 1 * * * /bin/backup.sh a\n0 2 * * * /bin/backup.sh b\n0 3 * * * /opt/backup\n0 4 * * * /opt/Grüße.sh\n")
	var names []string
	for _, f := range r.Files {
		names = append(names, f.Name)
	}
	if want := []string{"backup", "backup-2", "backup-3", "Gr-e"}; !slices.Equal(names, want) {
		t.Errorf("names %q, want %q", names, want)
	}
}

func TestProgramName(t *testing.T) {
	for _, tc := range []struct{ command, want string }{
		{"/usr/local/bin/backup.sh --full", "backup"},
		{"cd /srv/app && ./bin/sync-orders >> /var/log/sync.log 2>&1", "sync-orders"},
		{"test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.daily )", "cron.daily"},
		{"python3 /opt/reports/weekly.py --since 7d", "weekly"},
		{"python3 -m app.reports", "app.reports"},
		{"/usr/bin/php /var/www/artisan schedule:run", "artisan"},
		{"flock -n /tmp/sync.lock /usr/local/bin/sync", "sync"},
		{"nice -n 10 ionice -c3 /usr/bin/rsync -a /a /b", "rsync"},
		{"timeout 1h /usr/bin/pg_dump db", "pg_dump"},
		{"LANG=C sudo -u postgres vacuumdb --all", "vacuumdb"},
		{"env TZ=UTC /bin/report", "report"},
		{`bash -c "cd /x; exec ./worker"`, "worker"},
		{"echo hi > /tmp/x", "echo"},
		{"[ -f /x ] && /bin/clean", "clean"},
		{"$HOME/bin/tidy.sh", "tidy"},
		{"'/opt/my app/run me.sh'", "run-me"},
		{"...", "job"},
	} {
		if got := cleanName(programName(tc.command)); got != tc.want {
			t.Errorf("programName(%q) = %q, want %q", tc.command, got, tc.want)
		}
		if err := supervisor.CheckName(cleanName(programName(tc.command))); err != nil {
			t.Error(err)
		}
	}
}

// RANDOM_DELAY (cronie) is a jitter; one the schedule cannot take is said.
func TestCrontabRandomDelay(t *testing.T) {
	r, into := importCrontab(t, "RANDOM_DELAY=10\n0 3 * * * /bin/a\n*/5 * * * * /bin/b\n")
	if j := jobs(t, r, into)["a"]; j == nil || j.Jitter != 10*time.Minute {
		t.Errorf("a: %+v, want a jitter of 10m", j)
	}
	if len(r.Skipped) != 1 || r.Skipped[0].Source != "crontab:3" || !strings.Contains(r.Skipped[0].Text, "jitter") {
		t.Errorf("skipped %v, want line 3's jitter, longer than its 5m between runs", r.Skipped)
	}
}

// sundaySeven spells cron's 7 for Sunday as 0, in every form a field may take.
func TestSundaySeven(t *testing.T) {
	for in, want := range map[string]string{
		"7": "0", "5-7": "5-6,0", "0-7": "0-6", "1-7/2": "1,3,5,0", "mon-fri": "mon-fri",
		"1,7": "1,0", "*/2": "*/2", "7-7": "0", "6-7,3": "6-6,0,3",
	} {
		if got := sundaySeven(in); got != want {
			t.Errorf("sundaySeven(%q) = %q, want %q", in, got, want)
		}
	}
}

// The crontab's file as testdata has it, and what each translation is; `go test
// -update` writes it anew after a change meant.
func TestCrontabTestdata(t *testing.T) {
	for _, tc := range []struct {
		file   string
		system bool
	}{{"crontab", false}, {"cron.d/app", true}} {
		data, err := os.ReadFile(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		r, into := importCrontab(t, string(data), func(o *CrontabOptions) { o.Source, o.System, o.Into = tc.file, tc.system, "jobs.d" })
		jobs(t, r, into)
		golden(t, filepath.Join("testdata", tc.file+".golden"), r)
	}
}
