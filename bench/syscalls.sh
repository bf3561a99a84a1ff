#!/bin/bash
# bench/syscalls.sh: where the proxy's time goes, in syscalls per X request.
#
#   bench/syscalls.sh [TEST...]      (default: noop pointer putimage10
#                                     putimage100 putimage500 getimage500)
#
# Not part of `make bench`: a diagnostic for when the proxy misses a target.
# For each x11perf TEST it runs a fixed rep count through the plain relay
# and through `xckpt run`, under `perf trace -s`, and prints how many calls
# of each syscall the relay and the proxy side (every traced process except
# x11perf itself) made per operation x11perf reports.  The relay is the
# baseline: a copying proxy should need no more than it.
#
# Environment: BENCH_REPS_SCALE (multiplies the rep counts, default 1), and
# bench/lib.sh's.
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh

RELAY=${RELAY:-$B/relay}
BENCH_REPS_SCALE=${BENCH_REPS_SCALE:-1}

# Prints the rep count to run test $1 with (enough to swamp start-up).
syscalls_reps() {
	local n
	case $1 in
	noop|rect10|ftext) n=2000000 ;;
	putimage10) n=200000 ;;
	pointer|prop|getimage10|putimage100) n=5000 ;;
	create|map) n=2000 ;;
	*) n=500 ;;
	esac
	echo $((n * BENCH_REPS_SCALE))
}

# Sums a `perf trace -s` summary (file $1) by syscall over every process
# whose name is not x11perf, divided by $2 operations; prints
# "syscall calls/op" lines, the busiest first, and a total.
syscalls_sum() {
	awk -v ops="$2" '
	/^ .* \([0-9]+\), [0-9]+ events/ { skip = ($1 == "x11perf"); next }
	!skip && /^   [a-z_0-9]+ +[0-9]+ / { n[$1] += $2; total += $2 }
	END {
		for (s in n) if (n[s] / ops >= 0.005) printf "%-16s %10.2f\n", s, n[s] / ops
		printf "%-16s %10.2f\n", "TOTAL", total / ops
	}' "$1" | sort -k2,2 -rn
}

# Runs x11perf test $1 with $2 reps as "$@" (after the two) says, under
# perf trace; prints the ops x11perf reports, leaves the summary in
# $bench_tmp/trace.
syscalls_trace_cmd() {
	local test=$1 reps=$2
	shift 2
	perf trace -s -o "$bench_tmp/trace" -- "$@" -repeat 1 -reps "$reps" "-$test" \
		>"$bench_tmp/out" 2>&1 || { cat "$bench_tmp/out" >&2; return 1; }
	awk '/ reps @ / { r = $1 } END { if (!r) exit 1; print r }' "$bench_tmp/out"
}

# Runs x11perf test $1 with $2 reps on the relay's display while perf trace
# watches the relay; prints the ops x11perf reports, leaves the summary in
# $bench_tmp/trace.
syscalls_trace_relay() {
	local test=$1 reps=$2 pid ops
	perf trace -s -o "$bench_tmp/trace" -p "$bench_relay_pid" 2>/dev/null &
	pid=$!
	sleep 1
	ops=$(x11perf -display ":$bench_relay_display" -repeat 1 -reps "$reps" "-$test" |
		awk '/ reps @ / { r = $1 } END { if (!r) exit 1; print r }') || true
	kill -INT "$pid"
	wait "$pid" || true
	[ -n "$ops" ] || return 1
	echo "$ops"
}

# Traces each test through the relay and the proxy and prints the tables.
syscalls_main() {
	local test reps ops
	command -v perf >/dev/null || bench_die "perf is not installed (apt-get install linux-perf)"
	[ -x "$XCKPT" ] || bench_die "$XCKPT is not built"
	[ $# -gt 0 ] || set -- noop pointer putimage10 putimage100 putimage500 getimage500
	bench_init
	bench_start_xvfb
	bench_start_relay "$RELAY" "$bench_xvfb_display"
	for test in "$@"; do
		reps=$(syscalls_reps "$test")
		echo "== -$test: syscalls per operation"
		ops=$(syscalls_trace_relay "$test" "$reps") || bench_die "x11perf -$test through the relay failed"
		echo "-- relay ($ops ops)"
		syscalls_sum "$bench_tmp/trace" "$ops"
		ops=$(syscalls_trace_cmd "$test" "$reps" "$XCKPT" run --display ":$bench_xvfb_display" -- x11perf) ||
			bench_die "x11perf -$test through the proxy failed"
		echo "-- proxy: xckpt run and its session ($ops ops)"
		syscalls_sum "$bench_tmp/trace" "$ops"
		echo
	done
}

syscalls_main "$@"
