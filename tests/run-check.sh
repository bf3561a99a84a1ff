#!/bin/bash
# tests/run-check.sh: what `make check` runs after the build: the unit tests
# ($B/test-unit), then every end-to-end test tests/e2e/t-*.sh, one after the
# other.  Each test prints its own checks.  The last line is
# "N passed, N failed", counting the unit-test binary and each e2e script;
# the exit status is non-zero when anything failed.
#
# Environment: B (build directory, default build), XCKPT (the binary, default
# ./xckpt), XCKPT_TEST_DISPLAYS (Xvfb display range, default 50-99),
# T_TIMEOUT (seconds one e2e script may take, default 300).  Arguments, when
# given, name the e2e scripts to run instead of all of them.
set -u
cd "$(dirname "$0")/.."

B=${B:-build}
XCKPT=${XCKPT:-./xckpt}
export B XCKPT
T_TIMEOUT=${T_TIMEOUT:-300}
passed=0
failed=0
failures=""

# Runs one test (NAME, then the command); counts it.
run_one() {
	local name=$1 start rc
	shift
	echo "=== $name"
	start=$(date +%s)
	"$@"
	rc=$?
	if [ $rc -eq 0 ]; then
		passed=$((passed + 1))
		echo "=== $name: passed ($(($(date +%s) - start)) s)"
	else
		failed=$((failed + 1))
		failures="$failures $name"
		[ $rc -eq 124 ] && echo "=== $name: timed out after $T_TIMEOUT s"
		echo "=== $name: FAILED (exit $rc, $(($(date +%s) - start)) s)"
	fi
}

if [ $# -eq 0 ]; then
	if [ -x "$B/test-unit" ]; then
		run_one unit "$B/test-unit"
	else
		echo "=== unit: $B/test-unit is missing"
		failed=$((failed + 1))
		failures="$failures unit"
	fi
	set -- tests/e2e/t-*.sh
fi
for t in "$@"; do
	[ -e "$t" ] || continue
	run_one "$(basename "$t")" timeout -k 10 "$T_TIMEOUT" bash "$t"
done
[ -n "$failures" ] && echo "failed:$failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
