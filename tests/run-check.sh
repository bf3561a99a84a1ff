#!/bin/bash
# tests/run-check.sh: what `make check` runs after the build: the unit tests
# ($B/test-unit), then every end-to-end test tests/e2e/t-*.sh.  Each test
# prints its own checks.  The last line is "N passed, N failed", counting
# the unit-test binary and each e2e script; the exit status is non-zero when
# anything failed.
#
# Environment:
#   B                     build directory (default build)
#   XCKPT                 the binary (default ./xckpt)
#   XCKPT_TEST_DISPLAYS   Xvfb display range, FIRST-LAST (default 50-99)
#   T_TIMEOUT             seconds one e2e script may take (default 300)
#   T_JOBS                e2e scripts run at once (default 1); each gets its
#                         own slice of the display range, and its output is
#                         printed whole when it ends
# Arguments, when given, name the e2e scripts to run instead of all of them
# (and the unit tests are skipped): paths, or bare names such as t-ckpt.
set -u
cd "$(dirname "$0")/.."

B=${B:-build}
XCKPT=${XCKPT:-./xckpt}
export B XCKPT
T_TIMEOUT=${T_TIMEOUT:-300}
T_JOBS=${T_JOBS:-1}
RANGE=${XCKPT_TEST_DISPLAYS:-50-99}
FIRST=${RANGE%-*}
LAST=${RANGE#*-}
passed=0
failed=0
failures=""
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/xckpt-check.XXXXXX")
trap 'rm -rf "$LOGS"' EXIT

# Counts the result RC of test NAME that took SECS seconds.
count() {
	local name=$1 rc=$2 secs=$3
	if [ "$rc" -eq 0 ]; then
		passed=$((passed + 1))
		echo "=== $name: passed ($secs s)"
	else
		failed=$((failed + 1))
		failures="$failures $name"
		[ "$rc" -eq 124 ] && echo "=== $name: timed out after $T_TIMEOUT s"
		echo "=== $name: FAILED (exit $rc, $secs s)"
	fi
}

if [ $# -eq 0 ]; then
	echo "=== unit"
	start=$(date +%s)
	if [ -x "$B/test-unit" ]; then
		"$B/test-unit"
		count unit $? $(($(date +%s) - start))
	else
		echo "$B/test-unit is missing"
		count unit 1 0
	fi
	set -- tests/e2e/t-*.sh
fi

# Slot I runs one script at a time on its slice of the display range.
[ "$T_JOBS" -ge 1 ] 2>/dev/null || T_JOBS=1
span=$(((LAST - FIRST + 1) / T_JOBS))
if [ "$span" -lt 2 ]; then
	T_JOBS=1
	span=$((LAST - FIRST + 1))
fi
declare -a slot_pid slot_name slot_start

# Starts script T in slot I (in the background when T_JOBS > 1).
start_in() {
	local i=$1 t=$2 name lo hi
	name=$(basename "$t")
	lo=$((FIRST + i * span))
	hi=$((lo + span - 1))
	slot_name[$i]=$name
	slot_start[$i]=$(date +%s)
	if [ "$T_JOBS" -eq 1 ]; then
		echo "=== $name"
		XCKPT_TEST_DISPLAYS=$lo-$hi timeout -k 10 "$T_TIMEOUT" bash "$t" \
			</dev/null
		count "$name" $? $(($(date +%s) - slot_start[i]))
		return
	fi
	XCKPT_TEST_DISPLAYS=$lo-$hi timeout -k 10 "$T_TIMEOUT" bash "$t" \
		</dev/null >"$LOGS/$i.log" 2>&1 &
	slot_pid[$i]=$!
}

# Collects slot I's finished script: prints its output and counts it.
finish() {
	local i=$1 rc
	wait "${slot_pid[$i]}"
	rc=$?
	echo "=== ${slot_name[$i]}"
	cat "$LOGS/$i.log"
	count "${slot_name[$i]}" $rc $(($(date +%s) - slot_start[i]))
	slot_pid[$i]=""
}

for t in "$@"; do
	[ -e "$t" ] || t=tests/e2e/${t%.sh}.sh
	if [ ! -e "$t" ]; then
		echo "run-check: no test $t" >&2
		failed=$((failed + 1))
		continue
	fi
	if [ "$T_JOBS" -eq 1 ]; then
		start_in 0 "$t"
		continue
	fi
	# Wait for a free slot.
	while :; do
		free=""
		for i in $(seq 0 $((T_JOBS - 1))); do
			if [ -z "${slot_pid[$i]:-}" ]; then
				free=$i
				break
			fi
			if ! kill -0 "${slot_pid[$i]}" 2>/dev/null; then
				finish "$i"
				free=$i
				break
			fi
		done
		[ -n "$free" ] && break
		sleep 0.2
	done
	start_in "$free" "$t"
done
if [ "$T_JOBS" -gt 1 ]; then
	for i in $(seq 0 $((T_JOBS - 1))); do
		[ -n "${slot_pid[$i]:-}" ] && finish "$i"
	done
fi
[ -n "$failures" ] && echo "failed:$failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
