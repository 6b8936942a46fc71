#!/bin/sh
# A batch job that says it is alive, then stalls: supervise reports the stall while
# the job still runs, and its recovery when it pings again.
#   go run ./cmd/supervise run --heartbeat 2s -- examples/heartbeat.sh
# It pings with whatever it finds: supervise itself, curl or python3.
ping() {
	if command -v supervise >/dev/null; then supervise ping "$SUPERVISE_JOB"
	elif command -v curl >/dev/null; then curl -fsS -o /dev/null "$SUPERVISE_PING_URL"
	elif command -v python3 >/dev/null; then python3 -c 'import os, urllib.request; urllib.request.urlopen(os.environ["SUPERVISE_PING_URL"])'
	else echo "no supervise, curl or python3 to ping with" >&2; exit 1
	fi
}
for step in 1 2 3; do echo "step $step done"; ping; sleep 1; done
echo "waiting for a lock..."
sleep 5
echo "got it"; ping
sleep 1
