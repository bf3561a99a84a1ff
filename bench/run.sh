#!/bin/bash
# bench/run.sh: `make bench`.  Runs the benchmark's sections one after the
# other, each a script bench/SECTION.sh that starts and ends its own servers
# and prints its own table on stdout.  Later issues add sections (CRIU dump
# and restore timings) by adding a script and a name to BENCH_SECTIONS.
#
# Environment: B (build directory), BIN (the xckpt command), passed by the
# Makefile; BENCH_SECTIONS (default: x11perf ckpt xapp); and each section's own (see
# bench/lib.sh and bench/x11perf.sh).  Exits 0 unless a section failed.
set -eu
cd "$(dirname "$0")/.."

BENCH_SECTIONS=${BENCH_SECTIONS:-x11perf ckpt xapp}
B=${B:-build}
BIN=${BIN:-xckpt}
export B BIN

# Runs section $1, printing its elapsed time.  Returns its status.
run_section() {
	local start rc=0
	[ -x "bench/$1.sh" ] || { echo "bench: no such section: $1 (bench/$1.sh)" >&2; return 1; }
	start=$(date +%s)
	"bench/$1.sh" || rc=$?
	echo "   (section $1: $(( $(date +%s) - start )) s)"
	echo
	return $rc
}

status=0
for section in $BENCH_SECTIONS; do
	run_section "$section" || { echo "bench: section $section failed" >&2; status=1; }
done
exit $status
