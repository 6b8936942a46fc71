package importer

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/supervise/supervise/supervisor"
)

// importSupervisord writes files (name → text) into a folder and imports its
// supervisord.conf, with the environment ENV_X reads given as environ.
func importSupervisord(t *testing.T, files map[string]string, environ ...string) (*Result, string, map[string]*supervisor.Job) {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	into := filepath.Join(dir, "jobs.d")
	r, err := Supervisord(filepath.Join(dir, "supervisord.conf"), SupervisordOptions{Into: into, Environ: environ, Host: "box"})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]*supervisor.Job{}
	for _, f := range r.Files {
		job, err := supervisor.Parse(filepath.Join(into, f.Name+".toml"), f.Text)
		if err != nil {
			t.Fatalf("%s does not load: %v\n%s", f.Name, err, f.Text)
		}
		if !strings.HasPrefix(string(f.Text), "# Imported by `supervise import supervisord` from "+f.Source+":\n") {
			t.Errorf("%s does not begin with where it came from:\n%s", f.Name, f.Text)
		}
		m[f.Name] = job
	}
	return r, dir, m
}

// The keys that have an equal in a job file become it.
func TestSupervisordProgram(t *testing.T) {
	r, _, jobs := importSupervisord(t, map[string]string{"supervisord.conf": `
[program:web]
command = /usr/bin/gunicorn app:wsgi
    --bind 127.0.0.1:8000 ; continued, with a comment
directory = /srv/app
environment = A="1",B='two, three',PATH="/opt/bin:/usr/bin"
autorestart = true
startsecs = 5
startretries = 7
stopsignal = quit
stopwaitsecs = 30
stdout_logfile_maxbytes = 1KB
stdout_logfile_backups = 3

[program:once]
command = /bin/true
autorestart = false
startsecs = 0
startretries = 0
stopsignal = 9
stopwaitsecs = 0
stdout_logfile_maxbytes = 0

[program:default]
command = /bin/daemon
stdout_logfile_maxbytes = 1048576
`})
	if len(r.Skipped) > 0 {
		t.Errorf("skipped %v", r.Skipped)
	}
	web := jobs["web"]
	if web == nil {
		t.Fatalf("no web among %v", slices.Collect(maps.Keys(jobs)))
	}
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"command", web.Command, []string{"/usr/bin/gunicorn", "app:wsgi", "--bind", "127.0.0.1:8000"}},
		{"dir", web.Dir, "/srv/app"},
		{"env", web.Env, map[string]string{"A": "1", "B": "two, three", "PATH": "/opt/bin:/usr/bin"}},
		{"restart", web.Restart, supervisor.RestartAlways},
		{"healthy_after", web.HealthyAfter, 5 * time.Second},
		{"restart_limit.burst", web.RestartLimit.Burst, 7},
		{"stop_signal", web.StopSignal, syscall.SIGQUIT},
		{"stop_timeout", web.StopTimeout, 30 * time.Second},
		{"log", web.Log, supervisor.Log{MaxSize: 1 << 10, Keep: 3}},
		{"pty", web.PTY, false},

		{"once restart", jobs["once"].Restart, supervisor.RestartNever},
		{"once healthy_after", jobs["once"].HealthyAfter, supervisor.DefaultHealthyAfter},
		{"once restart_limit.burst", jobs["once"].RestartLimit.Burst, 1},
		{"once stop_signal", jobs["once"].StopSignal, syscall.SIGKILL},
		{"once stop_timeout", jobs["once"].StopTimeout, supervisor.DefaultStopTimeout},
		{"once log", jobs["once"].Log, supervisor.DefaultLog},

		{"default restart", jobs["default"].Restart, supervisor.RestartOnFailure},
		{"default healthy_after", jobs["default"].HealthyAfter, time.Second},
		{"default restart_limit.burst", jobs["default"].RestartLimit.Burst, 3},
		{"default log", jobs["default"].Log.MaxSize, int64(1 << 20)},
	} {
		if !equal(c.got, c.want) {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}
	for _, want := range []string{"startsecs = 0: every run counts as started", "startretries = 0: restart_limit.burst is at least 1",
		"stopwaitsecs = 0: a stop_timeout is more than 0", "stdout_logfile_maxbytes = 0: logs were never rotated there"} {
		if !hasItem(r.Notes, want) {
			t.Errorf("no note %q among %v", want, r.Notes)
		}
	}
}

func equal(a, b any) bool {
	switch a := a.(type) {
	case []string:
		return slices.Equal(a, b.([]string))
	case map[string]string:
		return maps.Equal(a, b.(map[string]string))
	}
	return a == b
}

func hasItem(items []Item, text string) bool {
	return slices.ContainsFunc(items, func(it Item) bool { return strings.Contains(it.Text, text) })
}

// numprocs makes one job a process, named and numbered by process_name, with
// %(process_num)02d, %(program_name)s, %(group_name)s and %(host_node_name)s expanded.
func TestSupervisordNumprocs(t *testing.T) {
	r, _, jobs := importSupervisord(t, map[string]string{"supervisord.conf": `
[group:app]
programs = worker

[program:worker]
command = /bin/celery -n %(program_name)s%(process_num)02d@%(host_node_name)s -Q %(group_name)s --of %(numprocs)d
process_name = %(program_name)s_%(process_num)02d
numprocs = 3
numprocs_start = 8

[program:bad]
command = /bin/x
numprocs = 2
`})
	for _, num := range []string{"08", "09", "10"} {
		j := jobs["worker_"+num]
		want := []string{"/bin/celery", "-n", "worker" + num + "@box", "-Q", "app", "--of", "3"}
		if j == nil || !slices.Equal(j.Command, want) {
			t.Errorf("worker_%s: %+v, want %q", num, j, want)
		}
	}
	if len(jobs) != 3 || !hasItem(r.Skipped, "[program:bad] not translated: numprocs = 2, and process_name does not hold %(process_num)") {
		t.Errorf("jobs %v, skipped %v; want the three workers, and bad listed", slices.Collect(maps.Keys(jobs)), r.Skipped)
	}
}

// %(here)s is the folder of the file a value is in; %(ENV_X)s the environment's X,
// [supervisord]'s or the program's own; [include] reads globs in order, and a
// program's environment is [supervisord]'s with its own over it.
func TestSupervisordIncludeAndExpansion(t *testing.T) {
	r, dir, jobs := importSupervisord(t, map[string]string{
		"supervisord.conf": `[supervisord]
environment = SHARED="main",LEVEL=info

[program:main]
command = %(here)s/bin/main --home %(ENV_HOME)s --level %(ENV_LEVEL)s
environment = OWN="yes %%",LEVEL=debug

[include]
files = conf.d/*.conf missing/*.conf
`,
		"conf.d/b.conf": "[program:b]\ncommand = %(here)s/b --own %(ENV_OWN_B)s\nenvironment = OWN_B=b\ndirectory = %(here)s/../work\n",
		"conf.d/a.conf": "[program:a]\ncommand = /bin/a\n\n[include]\nfiles = more/*.conf\n",
		"conf.d/c.txt":  "[program:c]\ncommand = /bin/c\n",
	}, "HOME=/home/me")
	dir, _ = filepath.EvalSymlinks(dir)
	if got := slices.Sorted(maps.Keys(jobs)); !slices.Equal(got, []string{"a", "b", "main"}) {
		t.Fatalf("jobs %q, want a, b and main", got)
	}
	if got := []string{r.Files[0].Name, r.Files[1].Name, r.Files[2].Name}; !slices.Equal(got, []string{"main", "a", "b"}) {
		t.Errorf("files in the order %q, want main and then the included in order", got)
	}
	if got, want := jobs["main"].Command, []string{dir + "/bin/main", "--home", "/home/me", "--level", "debug"}; !slices.Equal(got, want) {
		t.Errorf("main: %q, want %q", got, want)
	}
	if got, want := jobs["main"].Env, map[string]string{"SHARED": "main", "LEVEL": "debug", "OWN": "yes %"}; !maps.Equal(got, want) {
		t.Errorf("main's env %q, want %q", got, want)
	}
	if got, want := jobs["b"].Command, []string{dir + "/conf.d/b", "--own", "b"}; !slices.Equal(got, want) {
		t.Errorf("b: %q, want %q", got, want)
	}
	if got, want := jobs["b"].Dir, dir+"/work"; got != want {
		t.Errorf("b's dir %q, want %q", got, want)
	}
	if !hasItem(r.Notes, "[include] no file matches") || !hasItem(r.Notes, "[include] of an included file: not read") {
		t.Errorf("notes %v, want the glob that matched nothing and the include of an include", r.Notes)
	}
	if !hasItem(r.Notes, "%(ENV_…)s is expanded now") {
		t.Errorf("notes %v, want ENV_ said", r.Notes)
	}
}

// What has no equal here is listed with its line, and a program that is not to start
// is not written.
func TestSupervisordListed(t *testing.T) {
	r, _, jobs := importSupervisord(t, map[string]string{"supervisord.conf": `[unix_http_server]
file = /run/supervisor.sock

[program:web]
command = /bin/web
user = www-data
exitcodes = 0,2
nice = 10
stopsignal = RTMIN
stopasgroup = true
stdout_logfile = /var/log/web.log
priority = 5

[program:manual]
command = /bin/manual
autostart = false

[program:broken]
command = /bin/x "unclosed

[program:env]
command = /bin/env
environment = A=$HOME

[program:noenv]
command = /bin/x
environment = A=1,B

[program:nocommand]
directory = /x

[eventlistener:mem]
command = memmon

[fcgi-program:php]
command = php-cgi

[bogus]
x = 1
`})
	if got := slices.Sorted(maps.Keys(jobs)); !slices.Equal(got, []string{"env", "web"}) {
		t.Errorf("jobs %q, want env and web", got)
	}
	for src, want := range map[string]string{
		"supervisord.conf:6":  "[program:web] user = www-data: not kept: a job file has no user",
		"supervisord.conf:7":  "[program:web] exitcodes = 0,2: not kept: supervise counts only exit status 0 as success",
		"supervisord.conf:8":  "[program:web] nice: not translated: not a key of supervisord's [program:x]",
		"supervisord.conf:9":  "[program:web] stopsignal = RTMIN: not kept: unknown signal",
		"supervisord.conf:16": "[program:manual] not translated: autostart = false",
		"supervisord.conf:18": "[program:broken] not translated: command",
		"supervisord.conf:25": "[program:noenv] not translated: environment: not KEY=value pairs",
		"supervisord.conf:29": "[program:nocommand] not translated: it has no command",
		"supervisord.conf:32": "[eventlistener:mem] not translated: supervise has no event listeners",
		"supervisord.conf:35": "[fcgi-program:php] not translated",
		"supervisord.conf:38": "[bogus] not translated: not a section supervisord knows",
	} {
		if !slices.ContainsFunc(r.Skipped, func(it Item) bool { return strings.HasSuffix(it.Source, "/"+src) && strings.HasPrefix(it.Text, want) }) {
			t.Errorf("not listed: %s: %s", src, want)
		}
	}
	if t.Failed() {
		t.Logf("listed: %q", r.Skipped)
	}
	if len(r.Skipped) != 11 {
		t.Errorf("%d listed, want 11: %v", len(r.Skipped), r.Skipped)
	}
	for src, want := range map[string]string{
		"supervisord.conf:1":  "[unix_http_server]: supervisord's own",
		"supervisord.conf:10": "[program:web] stopasgroup = true: always true here",
		"supervisord.conf:11": "[program:web] stdout_logfile = /var/log/web.log: output now goes to STATE/logs/web.log",
		"supervisord.conf:12": "[program:web] priority = 5: up starts every job at once",
		"supervisord.conf:23": `[program:env] environment = A=$HOME: supervisord read it as A="$", without ["HOME"]`,
	} {
		if !slices.ContainsFunc(r.Notes, func(it Item) bool { return strings.HasSuffix(it.Source, "/"+src) && strings.HasPrefix(it.Text, want) }) {
			t.Errorf("no note %s: %s\nnotes: %q", src, want, r.Notes)
		}
	}
	if r.Files[0].Name != "web" || !strings.Contains(string(r.Files[0].Text), "\n# user = www-data: not kept: a job file has no user") {
		t.Errorf("web's file does not say what it lost:\n%s", r.Files[0].Text)
	}
}

// umask is set by sh, which then becomes the program: run for real.
func TestSupervisordUmask(t *testing.T) {
	_, _, jobs := importSupervisord(t, map[string]string{"supervisord.conf": "[program:m]\ncommand = /bin/sh -c \"umask; echo $0 $1\" \"a b\" c\numask = 027\n"})
	argv := jobs["m"].Command
	out, err := exec.Command(argv[0], argv[1:]...).Output()
	if err != nil || string(out) != "0027\na b c\n" {
		t.Errorf("%q prints %q (%v), want the mask and the arguments as given", argv, out, err)
	}
}

// A config that supervisord could not read is an error, with its line.
func TestSupervisordUnreadable(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "supervisord.conf")
	os.WriteFile(path, []byte("[program:a]\ncommand = /bin/a\nthis line has no delimiter\n"), 0o644)
	if _, err := Supervisord(path, SupervisordOptions{Into: dir}); err == nil || !strings.Contains(err.Error(), "supervisord.conf:3:") {
		t.Errorf("error %v, want line 3 named", err)
	}
	if _, err := Supervisord(filepath.Join(dir, "missing.conf"), SupervisordOptions{Into: dir}); !os.IsNotExist(err) {
		t.Errorf("error %v, want it does not exist", err)
	}
}

// The supervisord.conf of testdata, with an [include] of a glob, and what each
// translation is; `go test -update` writes it anew after a change meant.
func TestSupervisordTestdata(t *testing.T) {
	r, err := Supervisord(filepath.Join("testdata", "supervisor", "supervisord.conf"), SupervisordOptions{
		Into: "jobs.d", Environ: []string{"HOME=/root"}, Host: "box"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range r.Files {
		if _, err := supervisor.Parse(filepath.Join("jobs.d", f.Name+".toml"), f.Text); err != nil {
			t.Errorf("%s: %v", f.Name, err)
		}
	}
	golden(t, filepath.Join("testdata", "supervisor", "supervisord.golden"), r)
}
