package importer

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/supervise/supervise/internal/testkit"
	"github.com/supervise/supervise/supervisor"
)

// The importers read files written by hand for other tools: whatever they hold, an
// import ends, and every job file it offers loads (each is read back before it is
// offered; these check that nothing slips past that).

func FuzzCrontab(f *testing.F) {
	for _, seed := range []string{
		"MAILTO=ops@example.com\nCRON_TZ=Europe/Berlin\n30 2 * * 1-5 /usr/local/bin/backup.sh --full 2>&1 | logger\n",
		"@daily cd /srv && ./rotate % input %% more\n@reboot /opt/app/start\n",
		"SHELL=/bin/bash\n*/5 9-17 * jan,jul mon-fri echo \\% done\n",
		"0 0 31 2 * never\n61 * * * * bad\n",
	} {
		f.Add([]byte(seed), false)
	}
	f.Add([]byte("17 * * * * root cd / && run-parts --report /etc/cron.hourly\n"), true)
	home := func(string) (string, error) { return "/root", nil }
	f.Fuzz(func(t *testing.T, data []byte, system bool) {
		var r *Result
		testkit.Within(t, 10*time.Second, "the crontab import", func() {
			r = Crontab(data, CrontabOptions{Source: "crontab", System: system, Home: home})
		})
		checkFiles(t, r)
	})
}

func FuzzSupervisord(f *testing.F) {
	for _, seed := range []string{
		"[program:web]\ncommand=/usr/bin/python3 -m http.server %(process_num)d\nnumprocs=2\nprocess_name=%(program_name)s-%(process_num)02d\nenvironment=A=\"1\",B='two words'\n",
		"[supervisord]\nenvironment=X=1\n[program:w]\ncommand=sh -c 'echo %(ENV_X)s'\nautorestart=unexpected\nstartsecs=5\nstopsignal=INT\nuser=nobody\n",
		"[program:x]\ncommand=a\n  continued\n[eventlistener:e]\ncommand=b\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "supervisord.conf")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		var r *Result
		testkit.Within(t, 10*time.Second, "the supervisord import", func() {
			r, _ = Supervisord(path, SupervisordOptions{Into: t.TempDir(), Host: "fuzzhost"})
		})
		if r != nil {
			checkFiles(t, r)
		}
	})
}

// checkFiles fails t unless every file of r loads as a job, under a name of its own.
func checkFiles(t *testing.T, r *Result) {
	t.Helper()
	seen := map[string]bool{}
	for _, file := range r.Files {
		if seen[file.Name] {
			t.Fatalf("two files for the job %q", file.Name)
		}
		seen[file.Name] = true
		if _, err := supervisor.Parse(file.Name+".toml", file.Text); err != nil {
			t.Fatalf("%s offers a job file that does not load: %v\n%s", file.Source, err, file.Text)
		}
	}
}
