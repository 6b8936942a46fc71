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
	sed -n '5,11s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

arches=() formats=() out=dist
while [ $# -gt 0 ]; do
	case $1 in
	--arch) [ $# -ge 2 ] || usage; arches+=("$2"); shift 2 ;;
	--format) [ $# -ge 2 ] || usage; formats+=("$2"); shift 2 ;;
	--out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
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
	"$bin" completion "$shell" >"$share/completion/$file"
done
rm -rf "$share/host"

gzip -9 -n -c docs/man/supervise.1 >"$share/supervise.1.gz"

for arch in "${arches[@]}"; do
	for format in "${formats[@]}"; do
		SUPERVISE_VERSION=$version SUPERVISE_ARCH=$arch SUPERVISE_STAGE=$out \
			go run "$nfpm" package --config packaging/nfpm.yaml --packager "$format" --target "$out/"
	done
done
