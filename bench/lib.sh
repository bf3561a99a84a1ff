# shellcheck shell=bash
# bench/lib.sh: helpers shared by the benchmark's sections.  Sourced, never
# run.  It keeps track of every process and file it makes so that
# bench_cleanup (installed as the EXIT trap by bench_init) ends exactly those,
# by pid, and nothing else.
#
# Environment:
#   BENCH_DISPLAYS  the X display numbers the benchmark may use, "MIN-MAX"
#                   (default 400-449)
#   B               the build directory (default build); results go to $B/bench
#   BIN             the xckpt command (default ./xckpt); XCKPT overrides it

BENCH_DISPLAYS=${BENCH_DISPLAYS:-400-449}
B=${B:-build}
XCKPT=${XCKPT:-${BIN:-./xckpt}}
case $XCKPT in */*) ;; *) XCKPT=./$XCKPT ;; esac

bench_pids=""		# the processes we started, ended at exit
bench_files=""		# the files and directories we made, removed at exit
bench_tmp=""		# our private temporary directory

# Prints a progress line on stderr (the results go to stdout).
bench_log() {
	printf '%s\n' "$*" >&2
}

# Prints a one-line error on stderr and exits 1 (the EXIT trap cleans up).
bench_die() {
	printf 'bench: %s\n' "$*" >&2
	exit 1
}

# Ends the processes we started (TERM, then KILL after 2 s), then removes the
# files we made.
bench_cleanup() {
	local pid i
	for pid in $bench_pids; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in $bench_pids; do
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 20 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	bench_pids=""
	# shellcheck disable=SC2086
	[ -z "$bench_files" ] || rm -rf $bench_files
	bench_files=""
}

# Sets up a section: the EXIT trap, signal handling and a private temporary
# directory in $bench_tmp.
bench_init() {
	trap bench_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	bench_tmp=$(mktemp -d /tmp/xckpt-bench.XXXXXX)
	bench_files="$bench_files $bench_tmp"
}

# Prints the display numbers of BENCH_DISPLAYS that look free (no lock file,
# no socket), one per line.
bench_free_displays() {
	local lo=${BENCH_DISPLAYS%-*} hi=${BENCH_DISPLAYS#*-} n
	case $lo$hi in *[!0-9]*|'') bench_die "BENCH_DISPLAYS must be MIN-MAX, not '$BENCH_DISPLAYS'" ;; esac
	n=$lo
	while [ "$n" -le "$hi" ]; do
		if [ ! -e "/tmp/.X$n-lock" ] && [ ! -e "/tmp/.X11-unix/X$n" ]; then
			echo "$n"
		fi
		n=$((n + 1))
	done
}

# Waits up to 10 s for FILE to be non-empty while process PID lives.
# Returns 0 when it is, 1 when PID died or time ran out.
bench_wait_file() {
	local file=$1 pid=$2 i=0
	while [ $i -lt 100 ]; do
		[ -s "$file" ] && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# Waits up to 10 s for the unix socket of display N to appear while process
# PID lives.  Returns 0 when it does, 1 otherwise.
bench_wait_socket() {
	local n=$1 pid=$2 i=0
	while [ $i -lt 100 ]; do
		[ -S "/tmp/.X11-unix/X$n" ] && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# Starts a private Xvfb (1280x1024x24, no TCP, no access control) on the
# first free display of our range, trying the next one when another process
# wins the race.  Extra arguments go to Xvfb.  Sets bench_xvfb_display (the
# number) and bench_xvfb_pid.
bench_start_xvfb() {
	local n pid ready=$bench_tmp/xvfb-ready
	for n in $(bench_free_displays); do
		: >"$ready"
		Xvfb ":$n" -screen 0 1280x1024x24 -nolisten tcp -ac -noreset \
			-displayfd 3 "$@" 3>"$ready" >"$bench_tmp/xvfb-$n.log" 2>&1 &
		pid=$!
		if bench_wait_file "$ready" "$pid"; then
			bench_pids="$bench_pids $pid"
			bench_xvfb_display=$n
			bench_xvfb_pid=$pid
			return 0
		fi
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	bench_die "cannot start Xvfb on any free display in $BENCH_DISPLAYS"
}

# Starts the plain byte relay RELAY relaying a free display of our range to
# display UPSTREAM.  Sets bench_relay_display and bench_relay_pid.
bench_start_relay() {
	local relay=$1 upstream=$2 n pid
	[ -x "$relay" ] || bench_die "relay not built: $relay (make B=$B $relay)"
	for n in $(bench_free_displays); do
		"$relay" ":$n" ":$upstream" 2>>"$bench_tmp/relay.log" &
		pid=$!
		if bench_wait_socket "$n" "$pid"; then
			bench_pids="$bench_pids $pid"
			bench_relay_display=$n
			bench_relay_pid=$pid
			return 0
		fi
		wait "$pid" 2>/dev/null || true
	done
	bench_die "cannot start the relay on any free display in $BENCH_DISPLAYS"
}

# Prints the time in nanoseconds.
now_ns() {
	date +%s%N
}

# Prints seconds from nanoseconds $1 to $2, with 3 decimals.
secs() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'
}

# Prints the median of the numbers on stdin.
median() {
	sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2];
		else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# pair_ratio XCOL BCOL: reads rows of one run each, rounds in pairs (one
# of each order, see ckpt.sh), and prints, to two decimals, the median over
# pairs of the pair's ratio: the sum of column XCOL over the sum of column
# BCOL.
pair_ratio() {
	awk -v xc="$1" -v bc="$2" '{ x += $xc; b += $bc }
		NR % 2 == 0 { printf "%.4f\n", (b > 0 ? x / b : 0); x = b = 0 }' |
		median | awk '{ printf "%.2f", $1 }'
}

# bench_criu: sets the array CRIU to the criu command that make deps
# recorded in $B/criu.path (the one xckpt runs), for the bare baselines.
bench_criu() {
	[ -f "$B/criu.path" ] || bench_die "no $B/criu.path: run make deps B=$B"
	read -r -a CRIU <"$B/criu.path"
}
