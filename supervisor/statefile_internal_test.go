package supervisor

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/supervise/supervise/internal/testkit"
)

// Whatever stands in place of a job's last run and is none (a FIFO, a socket, a
// folder, a symbolic link, garbage, a file cut short, one too big) is set aside as
// JOB.json.bad with all it holds, and said once on stderr: the job counts its runs
// from now, and keeps them from then on.
func TestRunStoreSetsAsideWhatIsNoRun(t *testing.T) {
	t.Parallel()
	due := time.Date(2025, 1, 2, 3, 4, 0, 0, time.UTC)
	good := []byte(`{"schedule":"@daily","due":"2025-01-02T03:04:00Z"}`)
	for _, e := range append(testkit.NotRegular(), testkit.Garbage(good, maxRun)...) {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			var stderr testkit.Buffer
			s := runStore{dir: t.TempDir(), stderr: &stderr}
			path := filepath.Join(s.dir, "nightly.json")
			e.Make(t, path)
			print := testkit.Fingerprint(t, path)
			var rec lastRun
			testkit.Within(t, 10*time.Second, "load", func() { rec = s.load("nightly") })
			if rec != (lastRun{}) {
				t.Errorf("load = %+v, want nothing", rec)
			}
			said := "supervise: nightly: " + path + ": " + e.Why
			if n := strings.Count(stderr.String(), said); n != 1 || !strings.Contains(stderr.String(), "set aside as nightly.json.bad; missed runs are counted from now") {
				t.Errorf("stderr says %q %d times, want once, with where it is:\n%s", said, n, stderr.String())
			}
			if got := testkit.Fingerprint(t, path+".bad"); got != print {
				t.Errorf("nightly.json.bad holds %s, want what was set aside: %s", got, print)
			}
			stderr = testkit.Buffer{}
			s.save("nightly", lastRun{Schedule: "@daily", Due: due})
			if rec := s.load("nightly"); rec.Due != due || stderr.String() != "" {
				t.Errorf("after a save, load = %+v, stderr %q; want the run saved, and nothing said", rec, stderr.String())
			}
		})
	}
}

// What is in the way of a save's new file (a crash's leftover, a FIFO, which would
// block the write, a symbolic link, which it would follow, a folder) does not stop
// the save; a folder with files in it is set aside, once.
func TestRunStoreSavesOverWhatIsInTheWay(t *testing.T) {
	t.Parallel()
	due := time.Date(2025, 1, 2, 3, 4, 0, 0, time.UTC)
	for _, e := range testkit.NotRegular() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			var stderr testkit.Buffer
			s := runStore{dir: t.TempDir(), stderr: &stderr}
			path := filepath.Join(s.dir, "nightly.json.new")
			e.Make(t, path)
			print := testkit.Fingerprint(t, path)
			testkit.Within(t, 10*time.Second, "save", func() { s.save("nightly", lastRun{Schedule: "@daily", Due: due}) })
			if rec := s.load("nightly"); rec.Due != due {
				t.Errorf("after a save, load = %+v; want the run saved; stderr:\n%s", rec, stderr.String())
			}
			if e.Name == "dir" {
				if got := testkit.Fingerprint(t, path+".bad"); got != print || strings.Count(stderr.String(), "set aside as nightly.json.new.bad") != 1 {
					t.Errorf("nightly.json.new.bad holds %s, want %s, said once:\n%s", got, print, stderr.String())
				}
			} else if stderr.String() != "" {
				t.Errorf("stderr says:\n%s", stderr.String())
			}
		})
	}
}

// Whatever stands in place of a job's log and is no regular file (a FIFO, which
// held the job's output and up's stop for ever, a socket, a folder, a symbolic link)
// is set aside as JOB.log.bad with all it holds, and said once: the log begins anew.
// A reader of the log never waits on it either.
func TestLogFileSetsAsideWhatIsNoFile(t *testing.T) {
	t.Parallel()
	for _, e := range testkit.NotRegular() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			var stderr testkit.Buffer
			path := filepath.Join(t.TempDir(), "web.log")
			e.Make(t, path)
			print := testkit.Fingerprint(t, path)
			testkit.Within(t, 10*time.Second, "lastLines", func() {
				if _, err := lastLines(path, 10, -1); err == nil || !strings.Contains(err.Error(), e.Why) {
					t.Errorf("lastLines: %v, want an error saying %q", err, e.Why)
				}
			})
			l := &logFile{path: path, max: 1 << 20, keep: 1, stderr: &stderr}
			testkit.Within(t, 10*time.Second, "the log's write", func() {
				l.Write([]byte("hi\n"))
				l.Close()
			})
			said := "supervise: log " + path + ": " + e.Why + "; set aside as web.log.bad"
			if n := strings.Count(stderr.String(), said); n != 1 {
				t.Errorf("stderr says %q %d times, want once:\n%s", said, n, stderr.String())
			}
			if got := testkit.Fingerprint(t, path+".bad"); got != print {
				t.Errorf("web.log.bad holds %s, want what was set aside: %s", got, print)
			}
			stderr = testkit.Buffer{}
			l = &logFile{path: path, max: 1 << 20, keep: 1, stderr: &stderr}
			l.Write([]byte("again\n"))
			l.Close()
			if last, err := lastLines(path, 10, -1); string(last) != "hi\nagain\n" || err != nil || stderr.String() != "" {
				t.Errorf("the log holds %q, %v, and stderr %q; want both lines, and nothing said", last, err, stderr.String())
			}
		})
	}
}
