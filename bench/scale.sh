#!/usr/bin/env bash
# The scale curve of `supervise up`: for each N, N sleeping jobs, and what it takes to
# start them all, hold them (PSS, idle CPU), answer `status --json` and a /metrics
# scrape, reload one changed job, and stop them all. One line per N. The jobs have no
# pty (pty = false): Linux gives out 4096 ptys in all (kernel.pty.max), so a host with
# more jobs than that must run most of them without one. Each running job holds three
# file descriptors in up (its output pipe, its NOTIFY_SOCKET and a pidfd), so N jobs
# need 3N and some: the soft limit is raised to the hard one, and the hard one too where
# that is allowed (root with CAP_SYS_RESOURCE); an N that does not fit is skipped,
# saying so, rather than left to fail to start for ever.
#   bash bench/scale.sh [N...]        (default: 1000 5000 10000)
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000 5000 10000)
max=0
for n in "${sizes[@]}"; do max=$((n > max ? n : max)); done
need=$((3 * max + 100))
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$need" ]; then
	ulimit -Hn "$need" 2>/dev/null || true
fi
ulimit -n "$(ulimit -Hn)"
work=$(mktemp -d)
pid=
# Stopped as up is meant to be, so that no job is left running.
trap '[ -n "$pid" ] && kill -TERM $pid 2>/dev/null && wait $pid; rm -rf "$work"' EXIT
CGO_ENABLED=0 go build -o "$work/supervise" ./cmd/supervise
ms() { echo $(( ($2 - $1) / 1000000 )); }
now() { date +%s%N; }

printf '%6s  %9s  %8s  %7s  %9s  %9s  %9s  %9s  %9s\n' jobs start_ms PSS_MiB KB/job idle_ms/5s status_ms scrape_ms reload_ms stop_ms
for n in "${sizes[@]}"; do
	if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((3 * n + 100)) ]; then
		printf '%6d  skipped: needs %d open files, the limit is %s\n' "$n" $((3 * n + 100)) "$(ulimit -n)"
		continue
	fi
	rm -rf "$work/jobs" "$work/state"
	mkdir "$work/jobs"
	for i in $(seq "$n"); do
		printf 'command = ["sleep", "100000"]\npty = false\n' > "$work/jobs/s$i.toml"
	done
	chmod 644 "$work"/jobs/*.toml
	export SUPERVISE_STATE_DIR="$work/state"
	t0=$(now)
	"$work/supervise" up --jobs "$work/jobs" --listen 127.0.0.1:0 > /dev/null 2> "$work/err" &
	pid=$!
	# Started: every job's process forked, as up's children in /proc show (polled:
	# this is a bench, not a test). Asking status instead, thousands of times, would
	# load up with the garbage of its answers and the PSS below with it.
	until [ "$(cat /proc/$pid/task/*/children 2>/dev/null | wc -w)" -ge "$n" ]; do
		kill -0 $pid 2>/dev/null || { cat "$work/err" >&2; exit 1; }
		sleep 0.1
	done
	t1=$(now)
	# and status says so: a pid for each job (a job is shown running just before its fork).
	until [ "$("$work/supervise" status --json | grep -c '"pid": ')" -ge "$n" ]; do sleep 0.1; done
	sleep 2
	pss=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup")
	ticks=$(getconf CLK_TCK)
	c0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
	sleep 5
	c1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
	# status and scrape: the median of five, as the machine may be shared.
	addr=$(sed -n 's/.*listening on \([^ ;]*\).*/\1/p' "$work/err" | head -1)
	status_ms=$(for _ in 1 2 3 4 5; do
		s0=$(now)
		"$work/supervise" status --json > /dev/null
		ms "$s0" "$(now)"
	done | sort -n | sed -n 3p)
	scrape_ms=$(for _ in 1 2 3 4 5; do
		m0=$(now)
		curl -fsS --compressed -o /dev/null "http://$addr/metrics"
		ms "$m0" "$(now)"
	done | sort -n | sed -n 3p)
	printf 'command = ["sleep", "100001"]\npty = false\n' > "$work/jobs/s1.toml"
	r0=$(now)
	"$work/supervise" reload > /dev/null
	r1=$(now)
	k0=$(now)
	kill -TERM $pid
	wait $pid || true
	k1=$(now)
	pid=
	printf '%6d  %9d  %8d  %7d  %9d  %9d  %9d  %9d  %9d\n' "$n" "$(ms "$t0" "$t1")" $((pss / 1024)) $((pss / n)) \
		$(((c1 - c0) * 1000 / ticks)) "$status_ms" "$scrape_ms" "$(ms "$r0" "$r1")" "$(ms "$k0" "$k1")"
done
