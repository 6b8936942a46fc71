#!/bin/sh
# The ad-hoc form from a shell, as a crontab line would run it: no job file.
# Runs a command that fails, so the notification shows up on standard error.
exec go run ./cmd/supervise run --name adhoc-demo --timeout 30s -- \
	sh -c 'echo "step 1 ok"; echo "step 2: connection refused" >&2; exit 2'
