#!/usr/bin/env bash
# Every performance figure of supervise, side by side with its peers where they are
# installed, as Markdown tables: README's "Performance" section is made of them.
#
#   bash bench/all.sh [--install] [--readme] [--rounds N] [--idle SECONDS] [--reps N]
#                     [--scale "SIZES"|skip] [PART...]
#
# PARTs (default: all of them, in this order):
#   run      wrapping /bin/true: supervise run against a Go wrapper that only execs
#            and waits, script(1) and chronic, with and without a Telegram token
#   pty      256 MiB of output through a pty (against script(1) and a Go pty
#            wrapper) and through a pipe (against a Go wrapper that copies it)
#   up       the rate at which up takes a job's output into its log and its console,
#            against run's rate for the same job
#   idle     up with 200 idle jobs and with 1: PSS, idle CPU, /metrics scrapes;
#            runsvdir, s6-svscan, svscan and supervisord with the same jobs
#   restart  from SIGKILL of a healthy job to its replacement, against runsv, s6,
#            daemontools and supervisord
#   scale    bench/scale.sh with --scale's sizes (default 1000; skip: none)
#   alert    the notifier's alert latency benchmarks
#
# --install installs the peers (script, chronic, runit, s6, daemontools, supervisord)
# and hyperfine with apt-get first. Peers that are not installed are listed as such.
# --readme also puts each part's tables in README.md, between the comments
# <!-- bench:begin PART --> and <!-- bench:end PART -->.
#
# Timings vary with the machine's load: run it on a quiet machine, and read the
# ratios, which are measured in one run, rather than the absolute figures. Memory
# (PSS) and allocation counts do not vary.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

all_parts=(run pty up idle restart scale alert)
rounds=3      # hyperfine runs of each comparison; the median of their medians is shown
idle=20       # seconds over which idle CPU is counted
reps=20       # kills per supervisor in the restart part
scale=1000    # sizes for bench/scale.sh
install=false
readme=false
parts=()
while [ $# -gt 0 ]; do
	case $1 in
	--install) install=true ;;
	--readme) readme=true ;;
	--rounds) rounds=$2; shift ;;
	--idle) idle=$2; shift ;;
	--reps) reps=$2; shift ;;
	--scale) scale=$2; shift ;;
	run | pty | up | idle | restart | scale | alert) parts+=("$1") ;;
	*) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
	esac
	shift
done
[ ${#parts[@]} -gt 0 ] || parts=("${all_parts[@]}")

work=$(mktemp -d)
started=() # process trees this script started, stopped on the way out
trap 'for p in "${started[@]}"; do stop_tree "$p"; done; rm -rf "$work"' EXIT
export SUPERVISE_STATE_DIR=$work/state XDG_CONFIG_HOME=$work/config # no config file of the machine's
unset SUPERVISE_TELEGRAM_TOKEN SUPERVISE_TELEGRAM_TOKEN_FILE SUPERVISE_TELEGRAM_CHAT_ID

have() { command -v "$1" > /dev/null 2>&1; }
# now is the time in microseconds, without a fork.
now() { local t=${EPOCHREALTIME/[.,]/}; echo "$t"; }
# nap sleeps for $1 seconds without a fork, so a polling loop costs the machine little.
exec {napfd}<> <(:)
nap() { read -r -t "$1" -u "$napfd" || true; }
median() { sort -g | awk '{v[NR] = $1} END {if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}'; }
ms() { awk -v s="$1" 'BEGIN {printf (s < 0.1 ? "%.2f ms" : "%.1f ms"), s * 1000}'; }

install_peers() {
	# script(1) is in bsdutils, chronic in moreutils. daemontools brings a program
	# of its own named supervise to /usr/bin: this script never looks supervise up on
	# the PATH, but a machine that has both should see "Not daemontools' supervise" in
	# README.
	local want=(bsdutils moreutils runit s6 daemontools supervisor hyperfine) ok=() p
	apt-get update -qq
	for p in "${want[@]}"; do
		if [[ $(apt-cache policy "$p") == *"Candidate: "[0-9]* ]]; then ok+=("$p"); else echo "apt has no $p" >&2; fi
	done
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${ok[@]}" > /dev/null
}

build() {
	CGO_ENABLED=0 go build -o "$work/supervise" ./cmd/supervise
	local t
	for t in goexec gopipe gopty restart; do
		CGO_ENABLED=0 go build -o "$work/$t" "./bench/$t"
	done
}

machine() {
	echo "| machine | |"
	echo "| --- | --- |"
	echo "| CPU | $(nproc) × $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1) |"
	echo "| kernel | $(uname -sr) |"
	echo "| Go | $(go env GOVERSION) |"
	echo "| load average at start | $(cut -d' ' -f1-3 /proc/loadavg) |"
	echo "| supervise | $(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown), built static |"
}

# compare RUNS WARMUP NAME COMMAND [NAME COMMAND...] times each COMMAND, output to
# /dev/null, in $rounds rounds and sets med[NAME] to the median of the rounds'
# medians, in seconds. With hyperfine each round is one hyperfine run of them all;
# without, a loop.
declare -A med
compare() {
	local runs=$1 warmup=$2 r r1 i name csv cmd args=() t0 t1
	shift 2
	local -A all=()
	for ((r = 0; r < rounds; r++)); do
		if have hyperfine; then
			csv=$work/hyperfine.csv args=()
			for ((i = 1; i <= $#; i += 2)); do args+=(-n "${!i}" "${@:i+1:1}"); done
			hyperfine -N -w "$warmup" -r "$runs" --export-csv "$csv" "${args[@]}" > /dev/null
			while IFS=, read -r name _ _ t0 _; do all[$name]+="$t0 "; done < <(tail -n +2 "$csv")
		else
			for ((i = 1; i <= $#; i += 2)); do
				local times=()
				cmd=${*:i+1:1}
				for ((r1 = 0; r1 < warmup + runs; r1++)); do
					t0=${EPOCHREALTIME/[.,]/}
					eval "$cmd" > /dev/null 2>&1
					t1=${EPOCHREALTIME/[.,]/}
					((r1 < warmup)) || times+=("$((t1 - t0))e-6")
				done
				all[${!i}]+="$(printf '%s\n' "${times[@]}" | median) "
			done
		fi
	done
	for name in "${!all[@]}"; do med[$name]=$(tr ' ' '\n' <<< "${all[$name]}" | median); done
}

# row NAME LABEL REF prints a table row: LABEL, med[NAME] and its ratio to med[REF].
row() {
	if [ -z "${med[$1]:-}" ]; then
		echo "| $2 | not installed | |"
		return
	fi
	echo "| $2 | $(ms "${med[$1]}") | $(awk -v a="${med[$1]}" -v b="${med[$3]}" 'BEGIN {printf "%.2f×", a / b}') |"
}

how() {
	if have hyperfine; then
		echo "hyperfine $(hyperfine --version | cut -d' ' -f2), $1 runs of each; the median of $rounds such rounds' medians"
	else
		echo "a loop of $1 runs of each (hyperfine is not installed); the median of $rounds such rounds' medians"
	fi
}

part_run() {
	local s=$work/supervise cmds=()
	cmds+=(direct "/bin/true" goexec "$work/goexec /bin/true")
	cmds+=(pty "$s run -- /bin/true" nopty "$s run --no-pty -- /bin/true")
	have script && cmds+=(script "script -qec /bin/true /dev/null")
	have chronic && cmds+=(chronic "chronic /bin/true")
	med=()
	compare 200 20 "${cmds[@]}"
	echo "Wrapping \`/bin/true\`, static binaries ($(how 200)):"
	echo
	echo "| wrapping \`/bin/true\` | median | to the Go wrapper |"
	echo "| --- | --- | --- |"
	row direct "directly" goexec
	row goexec "the least a Go wrapper costs (exec and wait)" goexec
	row pty "\`supervise run --\` (pty)" goexec
	row nopty "\`supervise run --no-pty --\`" goexec
	row script "\`script -qec\`" goexec
	row chronic "\`chronic\`" goexec
	# With a Telegram token (a fake one, and a Bot API on a port where nothing
	# answers: a success sends nothing), measured against the Go wrapper again.
	(
		export SUPERVISE_TELEGRAM_TOKEN=123456789:AAE-not-a-real-token_0123456789abcdef
		export SUPERVISE_TELEGRAM_CHAT_ID=1 SUPERVISE_TELEGRAM_API_URL=http://127.0.0.1:9
		med=()
		compare 200 20 goexec "$work/goexec /bin/true" token "$s run -- /bin/true"
		row token "\`supervise run --\` (pty) with a Telegram token" goexec
	)
}

part_pty() {
	local n=268435456 s=$work/supervise cmds=()
	local gen="head -c $n /dev/zero"
	cmds+=(direct "$gen" gopty "$work/gopty $gen" pty "$s run -- $gen")
	have script && cmds+=(script "script -qec '$gen' /dev/null")
	cmds+=(gopipe "$work/gopipe $gen" pipe "$s run --no-pty -- $gen")
	med=()
	compare 5 1 "${cmds[@]}"
	# rate NAME LABEL REF is row with the rate.
	rate() {
		if [ -z "${med[$1]:-}" ]; then
			echo "| $2 | not installed | | |"
			return
		fi
		awk -v l="$2" -v n=$n -v s="${med[$1]}" -v r="${med[$3]}" 'BEGIN {printf "| %s | %.2f s | %d | %.2f× |\n", l, s, n / s / 1e6, s / r}'
	}
	echo "256 MiB of output (\`$gen\`) to /dev/null ($(how 5)):"
	echo
	echo "| 256 MiB of output | median | MB/s | to the Go wrapper |"
	echo "| --- | --- | --- | --- |"
	rate direct "directly" gopty
	rate gopty "a Go wrapper that copies a pty (creack/pty)" gopty
	rate pty "\`supervise run\` (pty)" gopty
	rate script "\`script -qec\` (pty)" gopty
	rate gopipe "a Go wrapper that copies a pipe" gopipe
	rate pipe "\`supervise run --no-pty\` (pipe)" gopipe
}

# tree ROOT prints "pid comm cputicks" for ROOT and every process under it.
tree() {
	# cat fails for the processes that ended since the list was made: they are not in it.
	{ cat /proc/[0-9]*/stat 2> /dev/null || true; } | awk -v root="$1" '
		match($0, /\(.*\)/) {
			pid = $1; comm[pid] = substr($0, RSTART + 1, RLENGTH - 2)
			split(substr($0, RSTART + RLENGTH + 1), f, " ")
			parent[pid] = f[2]; cpu[pid] = f[12] + f[13]
		}
		END {
			if (!(root in comm)) exit
			in_tree[root] = 1
			for (grew = 1; grew; ) {
				grew = 0
				for (p in parent) if (!(p in in_tree) && (parent[p] in in_tree)) { in_tree[p] = 1; grew = 1 }
			}
			for (p in in_tree) print p, comm[p], cpu[p]
		}'
}

# stop_tree ROOT stops ROOT and what it started: SIGTERM to ROOT, then SIGKILL to
# whatever of the tree is left after 5 seconds (the daemontools and runit trees do
# not all go with their root).
stop_tree() {
	local pids i p
	pids=$(tree "$1" | cut -d' ' -f1)
	[ -n "$pids" ] || return 0
	kill -TERM "$1" 2> /dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$1" 2> /dev/null || break
		nap 0.1
	done
	for p in $pids; do kill -KILL "$p" 2> /dev/null || true; done
	wait "$1" 2> /dev/null || true
}

# count ROOT COMM is how many processes named COMM ROOT's tree has.
count() { tree "$1" | awk -v c="$2" '$2 == c {n++} END {print n + 0}'; }

# pss ROOT is the PSS of ROOT's tree without the jobs (sleep), in KiB.
pss() {
	local p comm _ sum=0 kb
	while read -r p comm _; do
		[ "$comm" != sleep ] || continue
		kb=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2> /dev/null) || continue
		sum=$((sum + ${kb:-0}))
	done < <(tree "$1")
	echo "$sum"
}

cpu_ms() { tree "$1" | awk -v hz="$(getconf CLK_TCK)" '{t += $3} END {print t * 1000 / hz}'; }

# job_file DIR NAME KIND writes a supervise job: a sleeper (plain), a sleeper with a
# heartbeat, an hourly job (scheduled), or one that writes its pid to $work/pid.
job_file() {
	case $3 in
	plain) printf 'command = ["sleep", "100000"]\nhealthy_after = "1s"\n' ;;
	heartbeat) printf 'command = ["sleep", "100000"]\n[heartbeat]\nevery = "10m"\n' ;;
	scheduled) printf 'command = ["true"]\nschedule = "@hourly"\n' ;;
	# More than restart_limit.burst deaths a minute are a crash loop, which waits
	# backoff.max: the restart benchmark kills more often than that.
	pid) printf 'command = "echo $$ > %s/pid; exec sleep 100000"\nhealthy_after = "1s"\n[restart_limit]\nburst = 1000\n' "$work" ;;
	esac > "$1/$2.toml"
	chmod 644 "$1/$2.toml" # up refuses, as root, job files others may write
}

# service_dir DIR KIND writes a runit, s6 or daemontools service: a sleeper (plain),
# or one that writes its pid to $work/pid.
service_dir() {
	mkdir -p "$1"
	case $2 in
	plain) printf '#!/bin/sh\nexec sleep 100000\n' ;;
	pid) printf '#!/bin/sh\necho $$ > %s/pid\nexec sleep 100000\n' "$work" ;;
	esac > "$1/run"
	chmod 755 "$1/run"
}

# start SYSTEM N KIND starts SYSTEM with N jobs of KIND and sets $pid to its root
# process. It returns 1 when SYSTEM is not installed.
start() {
	local sys=$1 n=$2 kind=$3 dir=$work/sys.$1 i
	rm -rf "$dir" "$SUPERVISE_STATE_DIR" "$work/pid"
	mkdir -p "$dir"
	case $sys in
	supervise)
		for ((i = 1; i <= n; i++)); do job_file "$dir" "job$i" "$kind"; done
		"$work/supervise" up --jobs "$dir" --listen 127.0.0.1:0 > /dev/null 2> "$work/err" &
		;;
	runit | s6 | daemontools)
		local bin=${sys/runit/runsvdir}
		bin=${bin/s6/s6-svscan}
		bin=${bin/daemontools/svscan}
		have "$bin" || return 1
		for ((i = 1; i <= n; i++)); do service_dir "$dir/job$i" "$kind"; done
		# svscan runs `supervise` from the PATH: daemontools' own, in /usr/bin.
		PATH=/usr/bin:/bin "$bin" "$dir" > /dev/null 2>&1 &
		;;
	supervisord)
		have supervisord || return 1
		{
			printf '[supervisord]\nnodaemon = true\nuser = root\nlogfile = %s/supervisord.log\npidfile = %s/supervisord.pid\nchildlogdir = %s\n' "$dir" "$dir" "$dir"
			for ((i = 1; i <= n; i++)); do
				printf '[program:job%d]\nautorestart = true\n' "$i"
				case $kind in
				plain) echo "command = sleep 100000" ;;
				pid) echo "command = sh -c 'echo \$\$ > $work/pid; exec sleep 100000'" ;;
				esac
			done
		} > "$dir/supervisord.conf"
		supervisord -c "$dir/supervisord.conf" > /dev/null 2>&1 &
		;;
	esac
	pid=$!
	started+=("$pid")
	# Up when every job runs (or, scheduled, waits): polled, as this is a benchmark.
	local deadline=$(($(now) + 120000000))
	until [ "$(count "$pid" sleep)" -ge "$([ "$kind" = scheduled ] && echo 0 || echo "$n")" ] &&
		{ [ "$kind" != pid ] || [ -s "$work/pid" ]; }; do
		if ! kill -0 "$pid" 2> /dev/null || [ "$(now)" -gt "$deadline" ]; then
			echo "$sys did not start its $n jobs within 120s" >&2
			cat "$work/err" >&2 2> /dev/null || true
			exit 1
		fi
		nap 0.1
	done
}

stop() {
	stop_tree "$pid"
	local p left=()
	for p in "${started[@]}"; do [ "$p" = "$pid" ] || left+=("$p"); done
	started=("${left[@]}")
}

part_idle() {
	local sys n kind label procs kb c0 c1 threads scrapes
	echo "Idle jobs (\`sleep\`): the PSS of each supervisor's process tree without the jobs, and the CPU its tree used in ${idle}s idle (/proc counts it in $((1000 / $(getconf CLK_TCK))) ms ticks):"
	echo
	echo "| supervisor, jobs | processes besides the jobs | PSS | CPU in ${idle}s idle | OS threads | 200 scrapes of \`/metrics\`: CPU, PSS after |"
	echo "| --- | --- | --- | --- | --- | --- |"
	for sys in supervise:1:plain supervise:200:plain supervise:200:heartbeat supervise:200:scheduled \
		runit:1:plain runit:200:plain s6:1:plain s6:200:plain daemontools:1:plain daemontools:200:plain \
		supervisord:1:plain supervisord:200:plain; do
		IFS=: read -r sys n kind <<< "$sys"
		label="$sys, $n"
		case $kind in heartbeat) label+=" with a \`[heartbeat]\`" ;; scheduled) label+=" scheduled \`@hourly\` (\`true\`)" ;; esac
		if ! start "$sys" "$n" "$kind"; then
			echo "| $label | not installed | | | | |"
			continue
		fi
		nap 3 # past the start
		procs=$(($(tree "$pid" | wc -l) - $(count "$pid" sleep)))
		kb=$(pss "$pid")
		c0=$(cpu_ms "$pid")
		nap "$idle"
		c1=$(cpu_ms "$pid")
		threads=$(awk '/^Threads:/ {print $2}' "/proc/$pid/status")
		scrapes=
		if [ "$sys" = supervise ]; then
			scrapes=$(scrape "$pid")
		fi
		echo "| $label | $procs | $(awk -v k="$kb" 'BEGIN {printf "%.1f", k / 1024}') MiB | $(awk -v c="$((c1 - c0))" 'BEGIN {print c}') ms | $threads | $scrapes |"
		stop
	done
}

# scrape UP asks up's /metrics 200 times, one after another, as Prometheus does
# (gzip), and tells up's CPU for them and its PSS after.
scrape() {
	have curl || { echo "curl is not installed"; return; }
	local addr c0 c1 i
	addr=$(sed -n 's/.*listening on \([^ ;]*\).*/\1/p' "$work/err" | head -1)
	c0=$(cpu_ms "$1")
	for ((i = 0; i < 200; i++)); do curl -fsS --compressed -o /dev/null "http://$addr/metrics"; done
	c1=$(cpu_ms "$1")
	echo "$(awk -v c="$((c1 - c0))" 'BEGIN {print c}') ms, $(($(pss "$1") / 1024)) MiB"
}

part_restart() {
	local sys out a b c
	echo "From SIGKILL of a job that had been up over a second to its replacement's start (the job writes its pid to a file, which bench/restart polls every 50 µs; $reps kills, 1.5 s apart; supervise's job has \`restart_limit.burst = 1000\`, as more than 5 deaths a minute are otherwise a crash loop):"
	echo
	echo "| restart after SIGKILL | median | fastest | slowest |"
	echo "| --- | --- | --- | --- |"
	for sys in supervise runit s6 daemontools supervisord; do
		if ! start "$sys" 1 pid; then
			echo "| $sys | not installed | | |"
			continue
		fi
		if out=$("$work/restart" "$work/pid" "$reps" 1.5s 2>&1); then
			read -r a b c <<< "$out"
			echo "| $sys | $a ms | $b ms | $c ms |"
		else
			echo "| $sys | ${out#restart: } | | |"
		fi
		stop
	done
	echo
	echo "runsv and daemontools' supervise pause only after a run shorter than a second; s6-supervise and supervisord take about a second whatever the run (supervisord acts once a second)."
}

part_up() {
	local n=268435456 i pty r0 r1 end_us label flag
	# The lines come from a file in the page cache, by cat: faster than any
	# supervisor takes them, so that it is the supervisor that is measured.
	yes "$(printf '%079d' 0)" | head -c $n > "$work/lines" || true
	local flood="date +%s%N > $work/start; cat $work/lines"
	local -A rates=()
	for ((i = 0; i < rounds; i++)); do
		for pty in true false; do
			# run: from the job's start to run's exit.
			flag=() # run's --no-pty is up's pty = false
			[ $pty = true ] || flag=(--no-pty)
			"$work/supervise" run "${flag[@]}" -- sh -c "$flood" > /dev/null
			end_us=$(now)
			rates[run$pty]+="$(awk -v n=$n -v a="$(<"$work/start")" -v b="$end_us" 'BEGIN {print n / ((b - a / 1000) / 1e6) / 1e6}') "
			# up: from the job's start to the last byte in its log, with the console
			# (up's stdout) on /dev/null.
			rm -rf "$work/up" "$SUPERVISE_STATE_DIR" "$work/start"
			mkdir -p "$work/up"
			printf 'command = ["sh", "-c", "%s; exec sleep 100000"]\npty = %s\n[log]\nmax_size = "1GB"\n' "$flood" $pty > "$work/up/flood.toml"
			chmod 644 "$work/up/flood.toml"
			"$work/supervise" up --jobs "$work/up" --listen 127.0.0.1:0 > /dev/null 2> "$work/err" &
			pid=$!
			started+=("$pid")
			local log=$SUPERVISE_STATE_DIR/logs/flood.log deadline=$(($(now) + 300000000))
			until [ "$(stat -c %s "$log" 2> /dev/null || echo 0)" -ge $n ]; do
				[ "$(now)" -lt "$deadline" ] || { echo "up did not log $n bytes within 300s" >&2; exit 1; }
				nap 0.02
			done
			end_us=$(now)
			rates[up$pty]+="$(awk -v n=$n -v a="$(<"$work/start")" -v b="$end_us" 'BEGIN {print n / ((b - a / 1000) / 1e6) / 1e6}') "
			stop
		done
	done
	rm -f "$work/lines"
	echo "256 MiB of 80-byte lines (\`cat\` of a file), from the job's start to the last byte out: run to /dev/null, up to its log and, behind the job's name, to its console (/dev/null); median of $rounds rounds, run and up one after the other:"
	echo
	echo "| 256 MiB of lines | \`run\` MB/s | \`up\` MB/s | up / run |"
	echo "| --- | --- | --- | --- |"
	for pty in true false; do
		r0=$(tr ' ' '\n' <<< "${rates[run$pty]}" | median)
		r1=$(tr ' ' '\n' <<< "${rates[up$pty]}" | median)
		label="pty"
		[ $pty = true ] || label="pipe (\`pty = false\`, \`--no-pty\`)"
		echo "| $label | $(printf %.0f "$r0") | $(printf %.0f "$r1") | $(awk -v a="$r1" -v b="$r0" 'BEGIN {printf "%.0f%%", 100 * a / b}') |"
	done
	echo
	echo "What up does besides what run does (each line behind the job's name to the console, all to the log), without the job: \`go test -run '^\$' -bench UpOutput -benchmem ./supervisor\`:"
	echo
	gobench ./supervisor UpOutput
}

# gobench PKG REGEXP runs the package's benchmarks and prints them as a table.
gobench() {
	go test -run '^$' -bench "$2" -benchmem "$1" | awk '
		BEGIN {print "| benchmark | per op | others |"; print "| --- | --- | --- |"}
		/^Benchmark/ {
			name = $1; sub(/-[0-9]+$/, "", name); per = ""; rest = ""
			for (i = 3; i < NF; i += 2) {
				if ($(i + 1) == "ns/op") per = ($i >= 1e6 ? sprintf("%.1f ms", $i / 1e6) : sprintf("%.1f µs", $i / 1e3))
				else rest = rest (rest == "" ? "" : ", ") $i " " $(i + 1)
			}
			print "| " name " | " per " | " rest " |"
		}'
}

part_scale() {
	if [ "$scale" = skip ]; then
		echo "bench/scale.sh: skipped (--scale skip)."
		return
	fi
	echo "\`bash bench/scale.sh $scale\` (jobs without a pty):"
	echo
	# Its columns, as a table.
	# shellcheck disable=SC2086
	bash bench/scale.sh $scale | awk '
		{line[NR] = $0; if (NR == 1) nf = NF; else if (NF != nf) odd = 1}
		END {
			if (odd) {print "```"; for (i = 1; i <= NR; i++) print line[i]; print "```"; exit}
			for (i = 1; i <= NR; i++) {
				n = split(line[i], f, " "); s = "|"
				for (j = 1; j <= n; j++) s = s " " f[j] " |"
				print s
				if (i == 1) {s = "|"; for (j = 1; j <= n; j++) s = s " --- |"; print s}
			}
		}'
}

part_alert() {
	echo "Alerts, to a fake Bot API on loopback: \`go test -run '^\$' -bench 'AlertLatency|StormFirstMessage' ./notifier\`:"
	echo
	gobench ./notifier 'AlertLatency|StormFirstMessage'
}

# readme PART FILE puts FILE between PART's markers in README.md.
readme() {
	local begin="<!-- bench:begin $1 -->" end="<!-- bench:end $1 -->"
	if ! grep -qxF "$begin" README.md; then
		echo "README.md has no $begin: $1 is not put in it" >&2
		return
	fi
	awk -v begin="$begin" -v end="$end" -v file="$2" '
		$0 == begin {print; while ((getline l < file) > 0) print l; skip = 1; next}
		$0 == end {skip = 0}
		!skip' README.md > "$work/README.md"
	cat "$work/README.md" > README.md
}

main() {
	! $install || install_peers
	build
	local part
	for part in machine "${parts[@]}"; do
		echo "bench: $part..." >&2
		"part_$part" > "$work/out.$part"
		cat "$work/out.$part"
		echo
		! $readme || readme "$part" "$work/out.$part"
	done
}
part_machine() { machine; }

main
