package main

import (
	"context"
	"fmt"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// What a release build stamps with -ldflags "-X main.buildVersion=v1.2.3 ...", as
// packaging/build.sh does. Each is used only where the Go toolchain's own build info
// has nothing better: a version for a build from a checkout, which Go knows only by a
// pseudo-version, and the commit for a build that Go could not stamp (from a git
// worktree, or a container build without the .git folder).
var (
	buildVersion  string // the release, such as v1.2.3
	buildCommit   string // the full commit hash
	buildTime     string // the commit's time, RFC 3339
	buildModified string // "true" when the tree had uncommitted changes
)

// about says what this program is: Debian's package daemontools installs a different
// /usr/bin/supervise, and someone who finds one on a machine needs to know which.
const about = "a process supervisor and job wrapper that alerts Telegram (github.com/supervise/supervise),\n" +
	"not daemontools' supervise, which Debian's package daemontools installs as /usr/bin/supervise"

// stamp is what the linker was told about the build, by -ldflags -X.
type stamp struct {
	Version, Commit, Time string
	Modified              bool
}

// buildInfo is what `supervise version` says about the binary it is in.
type buildInfo struct {
	Version  string    // a module version, or "devel" when nothing knows one
	Commit   string    // the full commit hash, or ""
	Time     time.Time // the commit's time, or zero
	Modified bool      // the tree had uncommitted changes
	Go       string    // the toolchain, such as go1.26.1
	Platform string    // GOOS/GOARCH
}

// pseudoVersion matches the versions Go makes up for a commit that has no tag of its
// own, such as v0.0.0-20261203145300-6c0d326abcde, with Go's +dirty when modified.
var pseudoVersion = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[-.]\d{14}-[0-9a-f]{12}(\+dirty)?$`) })

// readBuildInfo merges what the toolchain recorded in bi (nil when the binary has no
// build info) with what the linker was told. A released module version (go install
// …@v1.2.3) wins; then the stamped version; then a pseudo-version, which names the
// commit but not the release. The toolchain's vcs.* settings win over the stamp's.
func readBuildInfo(bi *debug.BuildInfo, s stamp, goVersion, platform string) buildInfo {
	info := buildInfo{Go: goVersion, Platform: platform}
	var modVersion, revision, vcsTime string
	var modified, vcsKnown bool
	if bi != nil {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			modVersion = v
		}
		if bi.GoVersion != "" {
			info.Go = bi.GoVersion
		}
		for _, set := range bi.Settings {
			switch set.Key {
			case "vcs.revision":
				revision, vcsKnown = set.Value, true
			case "vcs.time":
				vcsTime = set.Value
			case "vcs.modified":
				modified = set.Value == "true"
			}
		}
	}
	if !vcsKnown && s.Commit != "" {
		revision, vcsTime, modified = s.Commit, s.Time, s.Modified
	}
	switch {
	case modVersion != "" && !pseudoVersion().MatchString(modVersion):
		info.Version = modVersion
	case s.Version != "":
		info.Version = s.Version
	case modVersion != "":
		info.Version = modVersion
	default:
		info.Version = "devel"
	}
	info.Commit = revision
	info.Time, _ = time.Parse(time.RFC3339, vcsTime)
	info.Modified = modified
	return info
}

// short is the version alone, as a User-Agent or a test message gives it: +dirty when
// the tree the binary was built from had uncommitted changes.
func (b buildInfo) short() string {
	if b.Modified && !strings.HasSuffix(b.Version, "+dirty") {
		return b.Version + "+dirty"
	}
	return b.Version
}

// String is what `supervise version` prints: the version and where it comes from,
// the toolchain and platform, and what this program is.
func (b buildInfo) String() string {
	var w strings.Builder
	w.WriteString("supervise " + b.short())
	switch {
	case b.Commit != "":
		commit := b.Commit
		if len(commit) > 12 {
			commit = commit[:12]
		}
		w.WriteString(" (commit " + commit)
		if !b.Time.IsZero() {
			w.WriteString(", " + b.Time.UTC().Format("2006-01-02 15:04 UTC"))
		}
		w.WriteString(")")
	case b.Version == "devel":
		w.WriteString(" (no version or commit recorded: built by go run or go test, in a git worktree, or with -buildvcs=false)")
	}
	fmt.Fprintf(&w, "\nbuilt with %s for %s\n%s\n", b.Go, b.Platform, about)
	return w.String()
}

// currentBuild is the build info of this binary.
func currentBuild() buildInfo {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	s := stamp{Version: buildVersion, Commit: buildCommit, Time: buildTime, Modified: buildModified == "true"}
	return readBuildInfo(bi, s, runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
}

// version is the version of this binary alone, such as v1.2.3 or "devel".
func version() string {
	return currentBuild().short()
}

// cmdVersion is `supervise version`.
func cmdVersion(_ context.Context, args []string, std stdio) error {
	fs := newFlagSet("version", `Prints the version, the commit it was built from and when, the Go toolchain and
platform, and what this program is: not daemontools' supervise, which has the same name.
`, "version")
	if err := fs.parseNoArgs(args); err != nil {
		return err
	}
	fmt.Fprint(std.out, currentBuild())
	return nil
}
