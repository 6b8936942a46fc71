#!/usr/bin/env bash
# Builds the release files of supervise into dist/: a static binary for each
# architecture, and a .deb and an .rpm of each, made by nfpm from packaging/nfpm.yaml.
#
#   packaging/build.sh [flags] VERSION
#
#   VERSION                 such as 1.2.3 or v1.2.3; the binary says v1.2.3, the
#                           packages 1.2.3 (a pre-release 1.2.3-rc1 is 1.2.3~rc1 in a .deb)
#   --arch ARCH             build only this GOARCH (repeatable; default amd64 and arm64)
#   --format FORMAT         make only this kind of package, deb or rpm (repeatable)
#   --out DIR               write into DIR instead of dist/
#   --allow-placeholders    package a placeholder for each part that is not in this
#                           tree yet, with a warning: the man page docs/man/supervise.1,
#                           the `supervise completion SHELL` command, the unit
#                           examples/supervise.service. Never for a release: without
#                           it, a missing part is an error.
#
# It needs Go and git, and reaches nothing but the Go module proxy, for nfpm. Output:
#   dist/linux_ARCH/supervise                 the binaries
#   dist/share/                               the man page, completions and unit packaged
#   dist/supervise_VERSION-1_ARCH.deb, dist/supervise-VERSION-1.ARCH.rpm
set -euo pipefail

# nfpm is run from the module proxy at a pinned version, so that every build makes the
# same packages; Go caches its build, so only the first run compiles it.
nfpm=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.48.0

usage() {
	sed -n '5,16s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

arches=() formats=() out=dist placeholders=false
while [ $# -gt 0 ]; do
	case $1 in
	--arch) [ $# -ge 2 ] || usage; arches+=("$2"); shift 2 ;;
	--format) [ $# -ge 2 ] || usage; formats+=("$2"); shift 2 ;;
	--out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
	--allow-placeholders) placeholders=true; shift ;;
	-h | --help) usage ;;
	-*) echo "build.sh: unknown flag $1" >&2; usage ;;
	*) break ;;
	esac
done
[ $# -eq 1 ] || usage
version=${1#v}
case $version in
[0-9]*) ;;
*) echo "build.sh: version $1 does not start with a digit" >&2; exit 2 ;;
esac
[ ${#arches[@]} -gt 0 ] || arches=(amd64 arm64)
[ ${#formats[@]} -gt 0 ] || formats=(deb rpm)

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
mkdir -p "$out"
out=$(cd "$out" && pwd)
share=$out/share
rm -rf "$share"
mkdir -p "$share/completion"

warn() { echo "build.sh: $*" >&2; }

# What the binary says of its build. The Go toolchain records the commit itself in a
# clone, but not in a git worktree: the stamp is what supervise version falls back on.
# The commit's time is also every packaged file's time, so that a build is
# reproducible.
commit='' committed='' modified=false
if git rev-parse --verify -q HEAD >/dev/null 2>&1; then
	commit=$(git rev-parse HEAD)
	committed=$(git log -1 --format=%cI)
	[ -z "$(git status --porcelain)" ] || modified=true
	export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
else
	warn "not a git checkout: the binary will not name its commit"
fi
ldflags="-s -w -X main.buildVersion=v$version -X main.buildCommit=$commit -X main.buildTime=$committed -X main.buildModified=$modified"

# Static binaries: no libc to match on the target, and a faster start for a wrapper
# that runs on every cron tick. The commit is stamped above, with -X, so go build is
# told not to ask git again (-buildvcs=false): its own git status fails now and then
# while another git command holds the index's lock.
build() { # ARCH DEST
	CGO_ENABLED=0 GOOS=linux GOARCH=$1 go build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$2" ./cmd/supervise
}
for arch in "${arches[@]}"; do
	build "$arch" "$out/linux_$arch/supervise"
done

# The completions come from the binary itself, so it must run here: the one for
# this machine's architecture.
host=$(go env GOHOSTARCH)
bin=$out/linux_$host/supervise
if [ ! -x "$bin" ]; then
	bin=$share/host/supervise
	build "$host" "$bin"
fi
for shell in bash zsh fish; do
	case $shell in
	bash) file=supervise.bash ;;
	zsh) file=_supervise ;;
	fish) file=supervise.fish ;;
	esac
	if ! "$bin" completion "$shell" >"$share/completion/$file" 2>"$share/completion.err"; then
		# Only a binary without the command gets a placeholder: a completion command
		# that fails is an error, with or without the flag.
		if $placeholders && grep -q 'unknown command "completion"' "$share/completion.err"; then
			warn "placeholder for the $shell completion: this tree has no 'supervise completion'"
			echo "# supervise: no $shell completion in this build (a placeholder from packaging/build.sh --allow-placeholders)" >"$share/completion/$file"
		else
			cat "$share/completion.err" >&2
			warn "supervise completion $shell failed; --allow-placeholders packages a placeholder only while the command does not exist"
			exit 1
		fi
	fi
done
rm -f "$share/completion.err"
rm -rf "$share/host"

if [ -f docs/man/supervise.1 ]; then
	gzip -9 -n -c docs/man/supervise.1 >"$share/supervise.1.gz"
elif $placeholders; then
	warn "placeholder for the man page: docs/man/supervise.1 is not in this tree"
	gzip -9 -n -c >"$share/supervise.1.gz" <<EOF
.TH SUPERVISE 1 "" "supervise $version" "User Commands"
.SH NAME
supervise \\- process supervisor and job wrapper that alerts Telegram
.SH DESCRIPTION
A placeholder: this package was built before the man page was written.
Run
.B supervise help
for the commands.
EOF
else
	warn "docs/man/supervise.1 is missing (--allow-placeholders packages a placeholder)"
	exit 1
fi

# The example unit may name the binary where go install puts it; the package puts
# it in /usr/bin.
if [ -f examples/supervise.service ]; then
	sed 's#/usr/local/bin/supervise#/usr/bin/supervise#g' examples/supervise.service >"$share/supervise.service"
elif $placeholders; then
	warn "placeholder for the systemd unit: examples/supervise.service is not in this tree"
	echo "# supervise: a placeholder, packaged before examples/supervise.service was written" >"$share/supervise.service"
else
	warn "examples/supervise.service is missing (--allow-placeholders packages a placeholder)"
	exit 1
fi

for arch in "${arches[@]}"; do
	for format in "${formats[@]}"; do
		SUPERVISE_VERSION=$version SUPERVISE_ARCH=$arch SUPERVISE_STAGE=$out \
			go run "$nfpm" package --config packaging/nfpm.yaml --packager "$format" --target "$out/"
	done
done
