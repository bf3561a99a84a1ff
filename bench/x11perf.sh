#!/bin/bash
# bench/x11perf.sh: the X traffic section of `make bench` (issue 2, section 7).
#
# Runs x11perf against a private Xvfb in four modes, side by side in one run:
#   direct   x11perf talks to Xvfb itself;
#   relay    through bench/relay.c, a plain copy-only byte relay (the
#            yardstick: a proxy that copies can at best match it);
#   proxy    through the xckpt proxy: `xckpt run --display :U -- x11perf ...`;
#   xtrace   through xtrace, which parses and prints every message.
# Every run is made the same way in every mode (bench/x11perf-session.sh):
# x11perf runs in a session of its own, apart from Xvfb's, together with
# the process in the middle (the relay and xtrace are started in it for the
# run; the proxy's session is the one `xckpt run` makes), which then idles
# for BENCH_SETTLE seconds before x11perf starts.  Why: the proxy has to run
# in a session of its own, and a session is a scheduling group of the
# kernel's autogroup; and a process that has just started looks busy to the
# scheduler for ~100 ms, which set the proxy's x11perf runs apart from the
# relay's, started once and idle since (see bench/README.md, "Same
# conditions for every mode").
# Each x11perf run does one test for a fixed rep count, calibrated per test
# and mode (round 0, discarded) to last about BENCH_TIME seconds.  Then
# BENCH_ROUNDS rounds each run every test in every mode, the modes in an order
# that rotates from round to round, so that drift on this shared VM hits all
# modes alike.  The table gives the median ops/s, the ratios, and their
# geometric means; a second one the CPU time per op of the process in the
# middle (robust to other load on the machine); PASS/MISS lines judge the
# issue's targets (reported, not asserted).  Exits 0 unless a run failed (a FAIL line: an error, or no
# result within 10 s + 10 x BENCH_TIME); a test that fails in a mode is not
# run again in that mode, and a mode that fails three tests is dropped.
#
# Environment (besides bench/lib.sh's):
#   BENCH_TESTS   x11perf tests (default: the issue's list)
#   BENCH_MODES   modes to run (default: direct relay proxy xtrace)
#   BENCH_TIME    seconds per x11perf run (default 0.5)
#   BENCH_ROUNDS  measured rounds, the median is taken (default 7)
#   BENCH_SETTLE  seconds the process in the middle idles before each
#                 x11perf run (default 0.3)
#   RELAY         the relay binary (default $B/relay)
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh

BENCH_TESTS=${BENCH_TESTS:-noop pointer prop rect10 putimage10 putimage100 putimage500 getimage10 getimage500 ftext create map}
BENCH_MODES=${BENCH_MODES:-direct relay proxy xtrace}
BENCH_TIME=${BENCH_TIME:-0.5}
BENCH_ROUNDS=${BENCH_ROUNDS:-7}
BENCH_SETTLE=${BENCH_SETTLE:-0.3}
RELAY=${RELAY:-$B/relay}

x11perf_failed=""	# the modes that failed too often, skipped from then on
x11perf_failures=""	# one line per failed run: "TEST MODE round N: WHY"
x11perf_run_opts=""	# extra `xckpt run` options (--no-dbus: x11perf needs no bus)
# The script that makes one run inside its session, the same way in every
# mode, and prints the CPU time of the process in the middle.
x11perf_session=$PWD/bench/x11perf-session.sh

# Prints the count a test's calibration starts from (small enough for the
# slowest mode, xtrace, to finish quickly).
x11perf_initial_count() {
	case $1 in
	noop|rect10|ftext) echo 20000 ;;
	putimage10) echo 5000 ;;
	create|map) echo 5 ;;
	*) echo 100 ;;
	esac
}

# Runs x11perf once: mode $1, test $2, count $3.  The count is the rep count
# of one run, except for the window tests: x11perf caps their reps at the
# windows that fit on the screen (a run of about 1 ms), so for them it is the
# number of runs (-repeat).  Prints "REPS RATE CPU": the total rep count
# x11perf reports, its ops/s, and the CPU time (ns) the process in the middle
# (relay, xtrace, or the session daemon that hosts the proxy) used meanwhile,
# "-" for direct.  Returns 1 when x11perf failed, hung or printed no result;
# its output stays in $bench_tmp/run.log and why in run.why.
x11perf_once() {
	local mode=$1 test=$2 count=$3 limit rc=0 log=$bench_tmp/run.log name="" disp
	case $test in
	# One subwindow count, not seven.
	create|map) set -- -reps 1000000 -repeat "$count" -subs 25 "-$test" ;;
	*) set -- -repeat 1 -reps "$count" "-$test" ;;
	esac
	case $mode in
	direct)
		set -- setsid -w sh "$x11perf_session" direct - - "$BENCH_SETTLE" - -- \
			x11perf -display ":$bench_xvfb_display" "$@" ;;
	relay|xtrace)
		disp=$(bench_free_displays | head -n 1)
		[ -n "$disp" ] || bench_die "no free display in $BENCH_DISPLAYS"
		set -- setsid -w sh "$x11perf_session" "$mode" "$disp" "$bench_xvfb_display" \
			"$BENCH_SETTLE" "$RELAY" -- x11perf -display ":$disp" "$@" ;;
	proxy)
		name=bench-$test-$RANDOM$RANDOM
		set -- "$XCKPT" run $x11perf_run_opts --name "$name" --display ":$bench_xvfb_display" -- \
			sh "$x11perf_session" proxy - - "$BENCH_SETTLE" - -- x11perf "$@" ;;
	*) bench_die "unknown mode: $mode" ;;
	esac
	limit=$(awk -v t="$BENCH_TIME" 'BEGIN { printf "%d", 10 + 10 * t }')
	x11perf_run "$limit" "$name" "$@" >"$log" 2>&1 </dev/null || rc=$?
	if [ $rc -ne 0 ]; then
		case $rc in
		124) echo "no result after $limit s (killed)" ;;
		*) echo "exit status $rc" ;;
		esac >"$bench_tmp/run.why"
		return 1
	fi
	awk '/ (reps|trep) @ .*\/sec\)/ && match($0, /\( *[0-9.]+\/sec\)/) {
		r = substr($0, RSTART + 1, RLENGTH - 6); sub(/^ +/, "", r)
		reps = $1; rate = r + 0; n++
	}
	/^bench-cpu-ns [0-9]+$/ { cpu = $2 }
	END {
		if (!n || rate <= 0) exit 1
		if (cpu <= 0) print reps, rate, "-"
		else printf "%s %s %.0f\n", reps, rate, cpu
	}' "$log" ||
		{ echo "no result line" >"$bench_tmp/run.why"; return 1; }
}

# Runs "$@" for at most $1 seconds; $2, when not empty, is the name of the
# xckpt session the command starts.  A command still running then is ended:
# its xckpt session first, by name (so that `xckpt run` returns and reaps
# its children), then by pid; a command started with setsid(1) is the leader
# of its own process group, and the whole group (x11perf, the relay or
# xtrace) is ended with it.  Returns the command's status, or 124 when it
# had to be ended.
x11perf_run() {
	local limit=$1 name=$2 pid spid first st i=0
	shift 2
	"$@" &
	pid=$!
	sleep "$limit" &
	spid=$!
	wait -n -p first "$pid" "$spid" && st=0 || st=$?
	if [ "$first" = "$pid" ]; then
		kill "$spid" 2>/dev/null || true
		wait "$spid" 2>/dev/null || true
		return "$st"
	fi
	[ -z "$name" ] || "$XCKPT" kill "$name" >/dev/null 2>&1 || true
	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 30 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	return 124
}

# Records that mode $1 failed on test $2 in round $3 and shows why.  That
# test is not run again in that mode; after three failed tests the mode is
# skipped altogether.
x11perf_fail() {
	local why n
	why=$(cat "$bench_tmp/run.why" 2>/dev/null || echo failed)
	x11perf_failures="$x11perf_failures$2 $1 round $3: $why
"
	eval "x11perf_skip_$2_$1=1"
	n=$(printf '%s' "$x11perf_failures" | grep -c " $1 round " || true)
	bench_log "bench: x11perf -$2 in mode $1 failed ($why); its output:"
	sed 's/^/    /' "$bench_tmp/run.log" | tail -n 15 >&2
	if [ "$n" -ge 3 ]; then
		x11perf_failed="$x11perf_failed $1"
		bench_log "bench: mode $1 failed $n times: skipping it"
	fi
}

# Finds the count (see x11perf_once) for mode $1, test $2 that makes a run
# last about BENCH_TIME seconds, and stores it in reps_<test>_<mode>.
# Returns 1 when a run failed.
x11perf_calibrate() {
	local mode=$1 test=$2 reps out got rate next try=0
	reps=$(x11perf_initial_count "$test")
	while :; do
		out=$(x11perf_once "$mode" "$test" "$reps") || return 1
		read -r got rate _ <<<"$out"
		# Scale to the wanted time; trust the estimate once a run sized
		# by an earlier estimate (not the first, which a hiccup on a
		# busy machine can make look long) lasted at least a quarter
		# of it; else grow at most 100-fold.
		next=$(awk -v n="$reps" -v got="$got" -v rate="$rate" -v t="$BENCH_TIME" -v try="$try" 'BEGIN {
			e = got / rate; f = t / e
			if ((e >= t / 4 && try >= 1) || try >= 5) { printf "ok %d", (n * f < 1 ? 1 : n * f + 0.5); exit }
			if (f > 100) f = 100
			printf "grow %d", n * f + 1 }')
		reps=${next#* }
		[ "${next% *}" = grow ] || break
		try=$((try + 1))
	done
	eval "reps_${test}_$mode=\$reps"
}

# Prints the modes of BENCH_MODES rotated left by $1 places.
x11perf_rotate() {
	echo $BENCH_MODES | awk -v k="$1" '{
		for (i = 0; i < NF; i++) printf "%s%s", $((i + k) % NF + 1), (i < NF - 1 ? " " : "\n") }'
}

# Runs the calibration round and the measured rounds, appending
# "TEST MODE ROUND REPS RATE" lines to file $1.
x11perf_measure() {
	local out=$1 round=0 test mode reps res skip
	while [ $round -le "$BENCH_ROUNDS" ]; do
		if [ $round -eq 0 ]; then
			bench_log "x11perf: calibrating ($BENCH_TIME s per run)"
		else
			bench_log "x11perf: round $round of $BENCH_ROUNDS"
		fi
		for test in $BENCH_TESTS; do
			for mode in $(x11perf_rotate $round); do
				case " $x11perf_failed " in *" $mode "*) continue ;; esac
				eval "skip=\${x11perf_skip_${test}_$mode:-}"
				[ -z "$skip" ] || continue
				if [ $round -eq 0 ]; then
					x11perf_calibrate "$mode" "$test" || x11perf_fail "$mode" "$test" $round
					continue
				fi
				eval "reps=\$reps_${test}_$mode"
				if res=$(x11perf_once "$mode" "$test" "$reps"); then
					echo "$test $mode $round $res" >>"$out"
				else
					x11perf_fail "$mode" "$test" $round
				fi
			done
		done
		round=$((round + 1))
	done
}

# Prints the table and the PASS/MISS lines from the results in file $1.
x11perf_report() {
	awk -v tests="$BENCH_TESTS" -v modes="$BENCH_MODES" '
	function median(list,   a, n, i, j, t) {
		n = split(list, a, " ")
		for (i = 2; i <= n; i++)	# insertion sort: n is small
			for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	function spread(list,   a, n, i, lo, hi) {
		n = split(list, a, " "); lo = hi = a[1] + 0
		for (i = 2; i <= n; i++) { if (a[i] + 0 < lo) lo = a[i] + 0; if (a[i] + 0 > hi) hi = a[i] + 0 }
		return (hi - lo) / median(list)
	}
	# The median, over the rounds that ran both, of the round'"'"'s X/Y
	# ratio: the two runs of a round are seconds apart, so drift on
	# the machine cancels out better than in a ratio of medians.
	function ratio(t, x, y,   k, list, n) {
		n = 0; list = ""
		for (k = 1; k <= maxround; k++)
			if ((t, x, k) in rate && (t, y, k) in rate && rate[t, y, k] > 0) {
				list = list " " rate[t, x, k] / rate[t, y, k]; n++
			}
		return n ? median(list) : ""
	}
	function cell(v, fmt) { return v == "" ? sprintf("%" length(sprintf(fmt, 0)) "s", "-") : sprintf(fmt, v) }
	# The same for the CPU time per op of the process in the middle.
	function cratio(t, x, y,   k, list, n) {
		n = 0; list = ""
		for (k = 1; k <= maxround; k++)
			if ((t, x, k) in cpo && (t, y, k) in cpo && cpo[t, y, k] > 0) {
				list = list " " cpo[t, x, k] / cpo[t, y, k]; n++
			}
		return n ? median(list) : ""
	}
	{
		runs[$1, $2] = runs[$1, $2] " " $5; rate[$1, $2, $3] = $5; if ($3 > maxround) maxround = $3
		if ($6 != "-" && $6 != "" && $4 > 0) { cpo[$1, $2, $3] = $6 / $4; cruns[$1, $2] = cruns[$1, $2] " " $6 / $4 }
	}
	END {
		nt = split(tests, T, " ")
		split("direct relay proxy xtrace", M, " ")
		nc = split("relay/direct proxy/direct proxy/relay proxy/xtrace", C, " ")
		for (i = 1; i <= nt; i++) {
			sp[i] = 0
			for (m = 1; m <= 4; m++) {
				mode = M[m]
				if ((T[i], mode) in runs) {
					med[T[i], mode] = median(runs[T[i], mode])
					s = spread(runs[T[i], mode]); if (s > sp[i]) sp[i] = s
				}
			}
		}
		printf "%-12s %11s %11s %11s %11s %7s %7s %7s %7s %7s\n", "test", "direct", "relay", "proxy", "xtrace",
			"rel/dir", "prx/dir", "prx/rel", "prx/xtr", "spread"
		for (i = 1; i <= nt; i++) {
			t = T[i]
			r[1] = ratio(t, "relay", "direct"); r[2] = ratio(t, "proxy", "direct")
			r[3] = ratio(t, "proxy", "relay");  r[4] = ratio(t, "proxy", "xtrace")
			printf "%-12s %s %s %s %s", t, cell(med[t, "direct"], "%11.0f"), cell(med[t, "relay"], "%11.0f"),
				cell(med[t, "proxy"], "%11.0f"), cell(med[t, "xtrace"], "%11.0f")
			for (c = 1; c <= nc; c++) {
				printf " %s", cell(r[c], "%7.3f")
				if (r[c] != "") { lg[c] += log(r[c]); ng[c]++ }
			}
			printf " %6.1f%%\n", 100 * sp[i]
			rel[t] = r[3]; xtr[t] = r[4]
		}
		printf "%-12s %11s %11s %11s %11s", "geomean", "", "", "", ""
		for (c = 1; c <= nc; c++) printf " %s", cell(ng[c] ? exp(lg[c] / ng[c]) : "", "%7.3f")
		printf "\n(ops/s: median of the rounds; ratios: median of the per-round ratios;\n"
		printf " spread: the widest (max-min)/median of the row'"'"'s modes)\n\n"

		# CPU per op: what the process in the middle costs, which
		# other load on the machine disturbs less than throughput.
		printf "CPU time of the process in the middle, ns per op (lower is better)\n"
		printf "%-12s %11s %11s %11s %7s\n", "test", "relay", "proxy", "xtrace", "prx/rel"
		lg[5] = ng[5] = 0
		for (i = 1; i <= nt; i++) {
			t = T[i]
			printf "%-12s", t
			for (m = 2; m <= 4; m++) {
				v = ((t, M[m]) in cruns) ? median(cruns[t, M[m]]) : ""
				printf " %s", cell(v, v != "" && v < 100 ? "%11.1f" : "%11.0f")
			}
			v = cratio(t, "proxy", "relay")
			printf " %s\n", cell(v, "%7.3f")
			if (v != "") { lg[5] += log(v); ng[5]++ }
		}
		printf "%-12s %11s %11s %11s %s\n", "geomean", "", "", "", cell(ng[5] ? exp(lg[5] / ng[5]) : "", "%7.3f")
		printf "(proxy: the session daemon that hosts it, as a whole)\n\n"

		if (index(" " modes " ", " proxy ") == 0) {
			printf "SKIP proxy targets: the proxy was not measured (BENCH_MODES)\n"
			exit
		}
		for (i = 1; i <= nt; i++) if ((T[i], "proxy") in med) ran = 1
		if (!ran) {
			printf "MISS proxy targets: the proxy did not run\n"
			exit
		}
		bad = ""; worst = ""
		for (i = 1; i <= nt; i++) if (rel[T[i]] == "" || rel[T[i]] < 0.95) bad = bad sprintf(" %s %s", T[i], rel[T[i]] == "" ? "-" : sprintf("%.3f", rel[T[i]]))
		for (i = 1; i <= nt; i++) if (rel[T[i]] != "" && (worst == "" || rel[T[i]] < rel[worst])) worst = T[i]
		if (bad == "") printf "PASS proxy within 5%% of the relay on every test (lowest proxy/relay: %s %.3f)\n", worst, rel[worst]
		else printf "MISS proxy within 5%% of the relay on every test; below 0.95:%s\n", bad
		bad = ""
		for (i = 1; i <= nt; i++) if (xtr[T[i]] == "" || xtr[T[i]] <= 1) bad = bad sprintf(" %s %s", T[i], xtr[T[i]] == "" ? "-" : sprintf("%.3f", xtr[T[i]]))
		if (bad == "") printf "PASS proxy ahead of xtrace on every test\n"
		else printf "MISS proxy ahead of xtrace on every test; not ahead:%s\n", bad
		bad = ""; got = ""
		split("putimage100 putimage500", P, " ")
		for (i = 1; i <= 2; i++) {
			v = rel[P[i]]
			got = got sprintf(" %s %s", P[i], v == "" ? "-" : sprintf("%.3f", v))
			if (v == "" || v < 1) bad = 1
		}
		printf "%s proxy at or above the relay on PutImage 100x100 and 500x500 (proxy/relay:%s)\n", bad ? "MISS" : "PASS", got
	}' "$1"
}

# Starts the servers, measures and reports.  Exits 1 when a run failed.
x11perf_main() {
	local results mode
	command -v x11perf >/dev/null || bench_die "x11perf is not installed (apt-get install x11-apps)"
	bench_init
	# Our sessions live in a private state directory, apart from the
	# user's (and a hung one is killed by name there).
	export XDG_RUNTIME_DIR=$bench_tmp/rt
	mkdir -m 0700 "$XDG_RUNTIME_DIR"
	results=$bench_tmp/runs
	: >"$results"
	for mode in $BENCH_MODES; do
		case $mode in
		direct|relay|xtrace) ;;
		proxy)
			if [ ! -x "$XCKPT" ]; then
				x11perf_failed="$x11perf_failed proxy"
				x11perf_failures="${x11perf_failures}all proxy: $XCKPT is not built
"
			fi
			if "$XCKPT" run --help 2>/dev/null | grep -q -- --no-dbus; then x11perf_run_opts=--no-dbus; fi ;;
		*) bench_die "unknown mode in BENCH_MODES: $mode" ;;
		esac
	done
	case " $BENCH_MODES " in *" relay "*) [ -x "$RELAY" ] || bench_die "relay not built: $RELAY (make B=$B $RELAY)" ;; esac
	case " $BENCH_MODES " in *" xtrace "*) command -v xtrace >/dev/null || bench_die "xtrace is not installed (apt-get install xtrace)" ;; esac
	bench_start_xvfb
	bench_log "x11perf: Xvfb :$bench_xvfb_display, proxy via $XCKPT; x11perf and the relay, xtrace or proxy in a session of their own, idle for $BENCH_SETTLE s before each run"

	echo "== x11perf: X requests through each mode, ops/s (higher is better)"
	echo "   $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg) at start;" \
		"$BENCH_ROUNDS rounds of ~$BENCH_TIME s runs, modes interleaved, each run in a session of its own after $BENCH_SETTLE s idle"
	x11perf_measure "$results"
	{
		x11perf_report "$results"
		printf '%s' "$x11perf_failures" | sed 's/^/FAIL /'
	} | tee "$bench_tmp/table"
	echo "   (load $(cut -d' ' -f1-3 /proc/loadavg) at end)"
	mkdir -p "$B/bench"
	cp "$results" "$B/bench/x11perf-runs.txt"
	cp "$bench_tmp/table" "$B/bench/x11perf.txt"
	[ -z "$x11perf_failures" ] || bench_die "x11perf: some runs failed (the FAIL lines)"
}

x11perf_main "$@"
