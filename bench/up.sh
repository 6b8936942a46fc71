#!/usr/bin/env bash
# Measures `supervise up` with N sleeping jobs: resident memory (RSS, and PSS, which
# counts pages shared with other processes, as the binary's, by their share), CPU used while idle,
# the CPU and memory of scraping its /metrics, and the time from a SIGKILL of a job to
# its replacement's start. KIND is what the sleepers are: plain daemons, daemons with
# a heartbeat (every 1m, fed by sd_notify never: its timer is armed), or jobs
# scheduled every hour. The PSS after an idle time of more than 2 minutes includes
# what Go's runtime touches in its periodic garbage collection.
#   bash bench/up.sh [N] [IDLE_SECONDS] [plain|heartbeat|scheduled]
set -euo pipefail
n=${1:-200}
idle=${2:-30}
kind=${3:-plain}
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
CGO_ENABLED=0 go build -o "$work/supervise" ./cmd/supervise
mkdir "$work/jobs"
for i in $(seq "$n"); do
	case $kind in
	plain) printf 'command = ["sleep", "100000"]\nhealthy_after = "1s"\n' ;;
	heartbeat) printf 'command = ["sleep", "100000"]\n[heartbeat]\nevery = "10m"\n' ;;
	scheduled) printf 'command = ["true"]\nschedule = "@hourly"\n' ;;
	esac > "$work/jobs/sleeper$i.toml"
done
# One job reports its own pid, so it can be killed and its replacement timed.
printf 'command = "echo $$ > %s/pid; exec sleep 100000"\nhealthy_after = "1s"\n' "$work" > "$work/jobs/target.toml"
chmod 644 "$work"/jobs/*.toml

"$work/supervise" up --jobs "$work/jobs" --state "$work/state" --listen 127.0.0.1:0 > /dev/null 2> "$work/err" &
pid=$!
until [ -s "$work/pid" ]; do
	kill -0 $pid 2>/dev/null || { cat "$work/err" >&2; exit 1; }
	sleep 0.1
done
sleep 3
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
pss() { awk '/^Pss:/ {printf "%.1f", $2 / 1024}' "/proc/$pid/smaps_rollup"; }
idlepss=$(pss)
threads=$(awk '/Threads/ {print $2}' "/proc/$pid/status")
before=$(cpu)
sleep "$idle"
after=$(cpu)
echo "jobs: $((n + 1))  threads: $threads  RSS: $((rss / 1024)) MiB  PSS: $idlepss MiB, $(pss) MiB after ${idle}s idle"
echo "CPU while idle: $(( (after - before) * 1000 / ticks )) ms in ${idle}s"

# 200 scrapes of /metrics, as Prometheus asks for them (gzip), one after another.
addr=$(sed -n 's/.*listening on \([^ ;]*\).*/\1/p' "$work/err" | head -1)
before=$(cpu)
for i in $(seq 200); do
	curl -fsS --compressed -o /dev/null "http://$addr/metrics"
done
after=$(cpu)
rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
echo "200 scrapes of /metrics: $(( (after - before) * 1000 / ticks )) ms CPU of up; RSS after: $((rss / 1024)) MiB, PSS $(pss) MiB"

# Restart latency, roughly (each look at the pid file forks a cat; the Go benchmark
# BenchmarkRestartAfterKill in supervisor/ measures it closely).
old=$(cat "$work/pid")
start=$(date +%s%N)
kill -KILL "$old"
while [ "$(cat "$work/pid")" = "$old" ]; do :; done
end=$(date +%s%N)
echo "restart after SIGKILL: $(( (end - start) / 1000 )) us"
