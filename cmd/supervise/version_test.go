package main

import (
	"runtime/debug"
	"strings"
	"testing"
)

// vcs is the build info that go build records in a git checkout.
func vcs(version, revision, at, modified string) *debug.BuildInfo {
	return &debug.BuildInfo{
		GoVersion: "go1.26.1",
		Main:      debug.Module{Path: "github.com/supervise/supervise", Version: version},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: revision},
			{Key: "vcs.time", Value: at},
			{Key: "vcs.modified", Value: modified},
		},
	}
}

// The first line of `supervise version` names the version and the commit, from what
// the toolchain recorded and what a release build stamped, and says when neither
// knows them.
func TestVersionLine(t *testing.T) {
	const rev = "6c0d326abcde0123456789abcdef0123456789ab"
	const pseudo = "v0.0.0-20261203145300-6c0d326abcde"
	noVCS := &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Path: "github.com/supervise/supervise", Version: "(devel)"}}
	for _, tt := range []struct {
		name  string
		bi    *debug.BuildInfo
		stamp stamp
		want  string
	}{
		{"tagged checkout", vcs("v1.2.3", rev, "2026-12-03T14:53:00Z", "false"), stamp{},
			"supervise v1.2.3 (commit 6c0d326abcde, 2026-12-03 14:53 UTC)"},
		{"untagged checkout", vcs(pseudo, rev, "2026-12-03T14:53:00Z", "false"), stamp{},
			"supervise " + pseudo + " (commit 6c0d326abcde, 2026-12-03 14:53 UTC)"},
		{"uncommitted changes", vcs(pseudo+"+dirty", rev, "2026-12-03T14:53:00Z", "true"), stamp{},
			"supervise " + pseudo + "+dirty (commit 6c0d326abcde, 2026-12-03 14:53 UTC)"},
		{"release build of an untagged checkout", vcs(pseudo, rev, "2026-12-03T14:53:00Z", "false"), stamp{Version: "v1.3.0"},
			"supervise v1.3.0 (commit 6c0d326abcde, 2026-12-03 14:53 UTC)"},
		{"a module version wins over the stamp", vcs("v1.2.3", rev, "2026-12-03T14:53:00Z", "false"), stamp{Version: "v9.9.9"},
			"supervise v1.2.3 (commit 6c0d326abcde, 2026-12-03 14:53 UTC)"},
		{"go install module@version", &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "v1.2.3"}}, stamp{},
			"supervise v1.2.3"},
		{"release build without VCS", noVCS, stamp{Version: "v1.3.0", Commit: rev, Time: "2026-12-03T23:53:00+09:00"},
			"supervise v1.3.0 (commit 6c0d326abcde, 2026-12-03 14:53 UTC)"},
		{"stamped modified tree", noVCS, stamp{Version: "v1.3.0", Commit: rev, Modified: true},
			"supervise v1.3.0+dirty (commit 6c0d326abcde)"},
		{"the toolchain's commit wins over the stamp's", vcs(pseudo, rev, "2026-12-03T14:53:00Z", "false"), stamp{Commit: "0123456789ab0123", Modified: true},
			"supervise " + pseudo + " (commit 6c0d326abcde, 2026-12-03 14:53 UTC)"},
		{"go run", noVCS, stamp{},
			"supervise devel (no version or commit recorded: built by go run or go test, in a git worktree, or with -buildvcs=false)"},
		{"no build info", nil, stamp{},
			"supervise devel (no version or commit recorded: built by go run or go test, in a git worktree, or with -buildvcs=false)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := readBuildInfo(tt.bi, tt.stamp, "go0", "linux/arm64").String()
			if line, _, _ := strings.Cut(got, "\n"); line != tt.want {
				t.Errorf("first line:\n got %q\nwant %q", line, tt.want)
			}
		})
	}
}

// After the version come the toolchain and platform, and what this program is, in
// words that tell it from daemontools' supervise.
func TestVersionSaysWhatItIs(t *testing.T) {
	got := readBuildInfo(vcs("v1.2.3", "6c0d326abcde", "", "false"), stamp{}, "go0", "linux/arm64").String()
	want := "supervise v1.2.3 (commit 6c0d326abcde)\n" +
		"built with go1.26.1 for linux/arm64\n" +
		"a process supervisor and job wrapper that alerts Telegram (github.com/supervise/supervise),\n" +
		"not daemontools' supervise, which Debian's package daemontools installs as /usr/bin/supervise\n"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if got := readBuildInfo(nil, stamp{}, "go1.26.8", "linux/amd64").String(); !strings.Contains(got, "\nbuilt with go1.26.8 for linux/amd64\n") {
		t.Errorf("without build info, the running toolchain is not named:\n%s", got)
	}
}

// The short version, as the User-Agent gives it, carries +dirty once.
func TestVersionShort(t *testing.T) {
	for _, tt := range []struct {
		bi    *debug.BuildInfo
		stamp stamp
		want  string
	}{
		{vcs("v0.0.0-20261203145300-6c0d326abcde+dirty", "6c0d326abcde", "", "true"), stamp{}, "v0.0.0-20261203145300-6c0d326abcde+dirty"},
		{nil, stamp{Version: "v1.3.0", Commit: "6c0d326abcde", Modified: true}, "v1.3.0+dirty"},
		{nil, stamp{}, "devel"},
	} {
		if got := readBuildInfo(tt.bi, tt.stamp, "go0", "linux/amd64").short(); got != tt.want {
			t.Errorf("short() = %q, want %q", got, tt.want)
		}
	}
}

// supervise version, run in-process, says what it is and nothing on stderr.
func TestVersionCommand(t *testing.T) {
	status, stdout, stderr := supervise(t, "version")
	if status != 0 || stderr != "" {
		t.Fatalf("status %d, stderr %q", status, stderr)
	}
	for _, want := range []string{"supervise ", "process supervisor and job wrapper", "not daemontools' supervise"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
}
