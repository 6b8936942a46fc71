package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/supervise/supervise/internal/testkit"
	"github.com/supervise/supervise/supervisor"
)

// A crontab and a supervisord.conf of a real shape import into job files that
// `supervise check` accepts, and that up runs: the @reboot line at once, with its %
// as standard input and the environment of the lines above it; the programs kept
// running, a job a process; the other lines on the crontab's own schedules.
func TestImportEndToEnd(t *testing.T) {
	noTelegram(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	crontab := writeFile(t, dir, "crontab", `# m h  dom mon dow   command
SHELL=/bin/sh
MAILTO=ops@example.com
HOME=`+dir+`
OUT=`+out+`
CRON_TZ=Asia/Seoul
30 2 * * 1-5	/usr/local/bin/backup.sh --incremental
0 4 1,15 * *	find /tmp -name '*.tmp' -mtime +7 -delete
*/20 9-17 * jan,jul mon-fri cd /srv && ./bin/sync >> /var/log/sync.log 2>&1
5 0 * * 7	/usr/local/bin/weekly-report
@weekly		/usr/bin/certbot renew --quiet
CRON_TZ=UTC
@reboot cat > "$OUT"%hello%world \%!
`)
	conf := writeFile(t, dir, "supervisord.conf", `[supervisord]
environment = GREETING="hello, world"

[program:worker]
command = /bin/sh -c "echo worker %(process_num)d says $GREETING; exec sleep 100"
process_name = %(program_name)s_%(process_num)02d
numprocs = 2
autorestart = true
stopwaitsecs = 5
`)
	jobs := filepath.Join(dir, "jobs.d")

	status, stdout, stderr := supervise(t, "import", "crontab", "--into", jobs, crontab)
	if status != 0 || !strings.Contains(stderr, "6 job files written to "+jobs) {
		t.Fatalf("import crontab: status %d, stderr:\n%s", status, stderr)
	}
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if !strings.HasPrefix(line, "#") {
			t.Errorf("the crontab to install has a line for cron: %q\n%s", line, stdout)
		}
	}
	if status, _, stderr := supervise(t, "import", "supervisord", "--into", jobs, conf); status != 0 {
		t.Fatalf("import supervisord: status %d, stderr:\n%s", status, stderr)
	}
	status, stdout, stderr = supervise(t, "check", jobs)
	if status != 0 || strings.Count(stdout, ": ok: job ") != 8 {
		t.Fatalf("check: status %d, stdout:\n%s\nstderr:\n%s", status, stdout, stderr)
	}

	before := time.Now()
	state, upOut, _ := upWithSocket(t, jobs)
	testkit.Eventually(t, "the @reboot job to write its standard input to "+out, func() bool {
		data, _ := os.ReadFile(out)
		return string(data) == "hello\nworld %!"
	})
	waitState(t, state, "worker_00", supervisor.StateRunning)
	waitState(t, state, "worker_01", supervisor.StateRunning)
	waitOutput(t, upOut, "worker 1 says hello, world")

	// Each scheduled job is next due when its crontab line is, read as cron reads
	// it: in CRON_TZ's zone, 7 for Sunday.
	seoul, err := time.LoadLocation("Asia/Seoul")
	if err != nil {
		t.Fatal(err)
	}
	for name, spec := range map[string]string{
		"backup": "30 2 * * 1-5", "find": "0 4 1,15 * *", "sync": "*/20 9-17 * jan,jul mon-fri",
		"weekly-report": "5 0 * * 0", "certbot": "@weekly",
	} {
		cron, err := supervisor.ParseSchedule(spec, seoul)
		if err != nil {
			t.Fatal(err)
		}
		var next time.Time
		testkit.Eventually(t, name+" to have its next run", func() bool {
			next = jobStatus(t, state, name).NextRun
			return !next.IsZero()
		})
		// up read the schedule at some time between before and after.
		after := time.Now()
		if next.Before(cron.Next(before)) || next.After(cron.Next(after)) || !cron.Next(next.Add(-time.Second)).Equal(next) {
			t.Errorf("%s is next due at %s; the crontab line %q is next due at %s", name, next, spec, cron.Next(before))
		}
	}
}

// The testdata of the importer, with its broken lines and unknown keys: listed,
// exit status 1, and the job files written all load.
func TestImportTestdata(t *testing.T) {
	noTelegram(t)
	jobs := t.TempDir()
	status, stdout, stderr := supervise(t, "import", "crontab", "--into", jobs, "../../importer/testdata/crontab")
	if status != 1 || !strings.Contains(stderr, "../../importer/testdata/crontab:22: not translated: \"0 0 30 2 *\" is not a schedule") ||
		!strings.Contains(stdout, "\n0 0 30 2 * /usr/local/bin/never-runs\n") {
		t.Errorf("import crontab: status %d; want 1, the line listed and kept:\nstdout:\n%s\nstderr:\n%s", status, stdout, stderr)
	}
	status, stdout, stderr = supervise(t, "import", "supervisord", "--into", jobs, "../../importer/testdata/supervisor/supervisord.conf")
	if status != 1 || stdout != "" || !strings.Contains(stderr, "conf.d/worker.conf:13: [program:worker] nice: not translated") {
		t.Errorf("import supervisord: status %d; want 1 and the unknown key listed:\nstdout:\n%s\nstderr:\n%s", status, stdout, stderr)
	}
	if status, stdout, stderr := supervise(t, "check", jobs); status != 0 || strings.Count(stdout, ": ok: job ") != 17 {
		t.Errorf("check: status %d, stdout:\n%s\nstderr:\n%s", status, stdout, stderr)
	}
}

// Without FILE, the crontab is `crontab -l`'s; "-" is standard input. An existing
// job file is kept, and nothing written, unless --force.
func TestImportCrontabSources(t *testing.T) {
	noTelegram(t)
	bin := t.TempDir()
	writeFile(t, bin, "crontab", "#!/bin/sh\n[ \"$1\" = -l ] || exit 2\n[ -n \"$NO_CRONTAB\" ] && { echo \"no crontab for $USER\" >&2; exit 1; }\necho '0 1 * * * /bin/listed'\n")
	if err := os.Chmod(filepath.Join(bin, "crontab"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	jobs := t.TempDir()
	status, _, stderr := supervise(t, "import", "crontab", "--into", jobs)
	if status != 0 || !strings.Contains(stderr, "listed.toml (from crontab -l:1)") {
		t.Errorf("crontab -l: status %d, stderr:\n%s", status, stderr)
	}
	t.Setenv("NO_CRONTAB", "1")
	if status, _, stderr := supervise(t, "import", "crontab", "--into", jobs); status != 1 || !strings.Contains(stderr, "no crontab for") {
		t.Errorf("no crontab: status %d, stderr:\n%s", status, stderr)
	}

	status, _, stderr = superviseStdin(t, strings.NewReader("0 2 * * * /bin/listed --again\n"), "import", "crontab", "--into", jobs, "-")
	if status != 1 || !strings.Contains(stderr, "listed.toml: exists (--force overwrites it)") || !strings.Contains(stderr, "nothing written") {
		t.Errorf("over listed.toml: status %d, stderr:\n%s", status, stderr)
	}
	if data, _ := os.ReadFile(filepath.Join(jobs, "listed.toml")); strings.Contains(string(data), "--again") {
		t.Errorf("listed.toml was overwritten without --force:\n%s", data)
	}
	status, _, stderr = superviseStdin(t, strings.NewReader("0 2 * * * /bin/listed --again\n"), "import", "crontab", "--force", "--into", jobs, "-")
	if data, _ := os.ReadFile(filepath.Join(jobs, "listed.toml")); status != 0 || !strings.Contains(string(data), "stdin:1") {
		t.Errorf("--force: status %d, stderr:\n%s\nlisted.toml:\n%s", status, stderr, data)
	}
}

// With --keep-cron, the crontab printed runs each job file with this supervise, by
// its absolute path, on the line's schedule.
func TestImportKeepCron(t *testing.T) {
	noTelegram(t)
	dir := t.TempDir()
	crontab := writeFile(t, dir, "crontab", "CRON_TZ=UTC\n0 3 * * 7 /usr/local/bin/backup.sh\n")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	status, stdout, stderr := supervise(t, "import", "crontab", "--keep-cron", "--into", filepath.Join(dir, "timers"), crontab)
	want := "\nCRON_TZ=UTC\n0 3 * * 7 " + exe + " run " + filepath.Join(dir, "timers", "backup.toml") + "\n"
	if status != 0 || !strings.Contains(stdout, want) {
		t.Errorf("status %d, stdout:\n%s\nwant %q\nstderr:\n%s", status, stdout, want, stderr)
	}
	if status, _, stderr := supervise(t, "check", filepath.Join(dir, "timers")); status != 0 {
		t.Errorf("check: %d\n%s", status, stderr)
	}
}
