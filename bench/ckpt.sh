#!/bin/bash
# bench/ckpt.sh: the checkpoint/restart section of `make bench` (issue 3,
# section 7).
#
# A test program with BENCH_CKPT_MB (200) MB resident (bench/ckptmem.c,
# every page written) is checkpointed and restarted two ways, side by side
# in one run:
#   xckpt  `xckpt run --detach --no-dbus` (no DISPLAY: no proxy), then
#          `xckpt checkpoint NAME --kill` and `xckpt restart DIR --detach`;
#          this includes xckpt's own work: quiescing the daemon, the
#          manifest's checksums, fsync, the verification before a restart;
#          and again with `checkpoint --no-sync` (no waiting for the disk:
#          the row that shows what the fsync costs);
#   bare   an equivalent tree: the same program in another xckpt session,
#          dumped by `criu dump -t DAEMON` (which kills it) and restored by
#          `criu restore -d --root /`, with the criu that `make deps`
#          recorded in $B/criu.path: CRIU's own cost for the very tree
#          xckpt dumps, so the ratio is xckpt's overhead.
# Each of BENCH_ROUNDS (10, rounded up to even) rounds measures both, the
# order alternating, and the rounds go in pairs, one of each order: what
# runs first in a round is measured slower (here ~7 ms of ~115 for the
# dump, memory just freed by the previous round), so a per-round ratio is
# biased by the order, and a median over rounds by which order came up
# more often.  The table shows the medians of each side and, the figure
# the target is about, the median over pairs of the pair's ratio (xckpt's
# two times over bare's two; the target: within 10%, i.e. a ratio of at
# most 1.10).  Wall times come from date(1) around each command; image sizes from du -sb of
# the checkpoint directory (xckpt's: images, metadata and manifest).  A
# reference row, without a target, compares the synced checkpoint with bare
# CRIU's dump followed by a sync of the file system (bench/README.md).
# Results are also written to $B/bench/ckpt.txt.  Exits 0 unless a run
# failed; a missed target is a MISS line, not a failure.
#
# Environment (besides bench/lib.sh's): BENCH_CKPT_MB, BENCH_ROUNDS.
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh

BENCH_CKPT_MB=${BENCH_CKPT_MB:-200}
BENCH_ROUNDS=${BENCH_ROUNDS:-10}
BENCH_ROUNDS=$(( (BENCH_ROUNDS + 1) / 2 * 2 ))
MEM=$B/bench/ckptmem
ckpt_sessions=""	# xckpt sessions we started, killed at exit
ckpt_pids=""		# ckptmem processes we started (or restored)

# Ends our xckpt sessions (by name, in our private state directory) and
# ckptmem processes, then what bench/lib.sh tracks.
ckpt_cleanup() {
	local s
	for s in $ckpt_sessions; do
		"$XCKPT" kill "$s" >/dev/null 2>&1 || true
	done
	# By pid, and only while the pid is still a ckptmem of ours.
	for s in $ckpt_pids; do
		if tr '\0' ' ' 2>/dev/null <"/proc/$s/cmdline" | grep -qF "$bench_tmp/ready"; then
			kill -KILL "$s" 2>/dev/null || true
		fi
	done
	bench_cleanup
}

# Waits until process $1 is gone (at most 10 s).
wait_gone() {
	local i=0
	while [ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null &&
		[ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}

# Measures one xckpt round $1, with the further checkpoint options $2...:
# prints "DUMP_S RESTORE_S BYTES".
round_xckpt() {
	local name=bench-ckpt-$1 ready=$bench_tmp/ready-x$1 pid dir t0 t1 t2 t3
	shift
	"$XCKPT" run --detach --no-dbus --name "$name" -- "$MEM" "$BENCH_CKPT_MB" "$ready" \
		>/dev/null 2>"$bench_tmp/err" || bench_die "xckpt run: $(cat "$bench_tmp/err")"
	ckpt_sessions="$ckpt_sessions $name"
	bench_wait_file "$ready" "$$" || bench_die "ckptmem did not start in xckpt"
	pid=$(cat "$ready")
	ckpt_pids="$ckpt_pids $pid"
	sync
	t0=$(now_ns)
	# (Straight to a file: a $(... | tail) around it would add the
	# subshell's and tail's start, ~0.5 ms, to xckpt's time alone.)
	"$XCKPT" checkpoint "$name" --kill "$@" >"$bench_tmp/out" 2>"$bench_tmp/err" ||
		bench_die "xckpt checkpoint: $(cat "$bench_tmp/err")"
	t1=$(now_ns)
	dir=$(tail -n 1 "$bench_tmp/out")
	wait_gone "$pid"
	t2=$(now_ns)
	"$XCKPT" restart "$dir" --detach >/dev/null 2>"$bench_tmp/err" ||
		bench_die "xckpt restart: $(cat "$bench_tmp/err")"
	t3=$(now_ns)
	kill -0 "$pid" 2>/dev/null || bench_die "xckpt restart did not bring back pid $pid"
	echo "$(secs "$t0" "$t1") $(secs "$t2" "$t3") $(du -sb "$dir" | cut -f1)"
	"$XCKPT" kill "$name" >/dev/null 2>&1 || true
	wait_gone "$pid"
	rm -rf "$dir"
}

# Measures one bare CRIU round $1: prints "DUMP_S RESTORE_S BYTES
# DUMP_SYNC_S".  The tree is equivalent to xckpt's: the same program in an
# xckpt session (daemon, namespaces, private devpts), dumped and restored by
# CRIU alone, without what xckpt adds (quiescing, the manifest's checksums,
# fsync, verification before the restore).  DUMP_SYNC_S is the dump
# followed by a sync of its file system (sync -f): bare CRIU made as
# durable as `xckpt checkpoint`, for reference (the target is against the
# dump alone, DUMP_S, which is measured before the sync).
round_bare() {
	local name=bench-bare-$1 dir=$bench_tmp/bare-$1 ready=$bench_tmp/ready-b$1
	local pid daemon t0 t1 t2 t3 ts
	mkdir -p "$dir"
	"$XCKPT" run --detach --no-dbus --name "$name" -- "$MEM" "$BENCH_CKPT_MB" "$ready" \
		>/dev/null 2>"$bench_tmp/err" || bench_die "xckpt run: $(cat "$bench_tmp/err")"
	ckpt_sessions="$ckpt_sessions $name"
	bench_wait_file "$ready" "$$" || bench_die "ckptmem did not start in xckpt"
	pid=$(cat "$ready")
	ckpt_pids="$ckpt_pids $pid"
	daemon=$("$XCKPT" list | awk -v n="$name" '$1 == n { print $2 }')
	[ -n "$daemon" ] || bench_die "no daemon for session $name"
	sync
	t0=$(now_ns)
	# (The options xckpt gives CRIU: the same work for CRIU.)
	"${CRIU[@]}" dump -t "$daemon" -D "$dir" -o dump.log -v3 --external 'mnt[]' --file-locks >/dev/null 2>&1 ||
		bench_die "criu dump failed: $dir/dump.log"
	t1=$(now_ns)
	sync -f "$dir/inventory.img"
	ts=$(now_ns)
	wait_gone "$pid"
	wait_gone "$daemon"
	t2=$(now_ns)
	"${CRIU[@]}" restore -d --root / --external 'mnt[]' --file-locks -D "$dir" -o restore.log -v3 >/dev/null 2>&1 ||
		bench_die "criu restore failed: $dir/restore.log"
	t3=$(now_ns)
	kill -0 "$pid" 2>/dev/null || bench_die "criu restore did not bring back pid $pid"
	echo "$(secs "$t0" "$t1") $(secs "$t2" "$t3") $(du -sb --exclude='*.log' "$dir" | cut -f1)" \
		"$(secs "$t0" "$ts")"
	"$XCKPT" kill "$name" >/dev/null 2>&1 || true
	wait_gone "$pid"
	rm -rf "$dir"
}

bench_init
trap ckpt_cleanup EXIT
bench_criu
unset DISPLAY
export XDG_RUNTIME_DIR=$bench_tmp/run XDG_DATA_HOME=$bench_tmp/data
mkdir -m 0700 "$XDG_RUNTIME_DIR" "$XDG_DATA_HOME"
mkdir -p "$B/bench"
if [ ! -x "$MEM" ] || [ bench/ckptmem.c -nt "$MEM" ]; then
	${CC:-cc} -O2 -g -Wall -Wextra -o "$MEM" bench/ckptmem.c || bench_die "cannot build $MEM"
fi

: >"$bench_tmp/x.txt"
: >"$bench_tmp/n.txt"
: >"$bench_tmp/b.txt"
# Each round also measures `checkpoint --no-sync` (n.txt), in the middle:
# xckpt, xckpt --no-sync, bare in odd rounds, the reverse in even ones.
for r in $(seq "$BENCH_ROUNDS"); do
	if [ $((r % 2)) -eq 1 ]; then
		round_xckpt "$r" >>"$bench_tmp/x.txt"
		round_xckpt "${r}n" --no-sync >>"$bench_tmp/n.txt"
		round_bare "$r" >>"$bench_tmp/b.txt"
	else
		round_bare "$r" >>"$bench_tmp/b.txt"
		round_xckpt "${r}n" --no-sync >>"$bench_tmp/n.txt"
		round_xckpt "$r" >>"$bench_tmp/x.txt"
	fi
	bench_log "bench ckpt: round $r: xckpt $(tail -n 1 "$bench_tmp/x.txt"), --no-sync $(tail -n 1 "$bench_tmp/n.txt"), bare $(tail -n 1 "$bench_tmp/b.txt")"
done

# Prints a table row: label $1, column $2 of xckpt's runs in $3 (a file)
# against column $4 (default: $2) of bare's (b.txt), the ratio over pairs of
# rounds and the verdict ($5: "ref" for a row without a target).
ckpt_row() {
	local what=$1 col=$2 xfile=$3 bcol=${4:-$2} kind=${5:-} b x ratio verdict
	b=$(cut -d' ' -f"$bcol" "$bench_tmp/b.txt" | median)
	x=$(cut -d' ' -f"$col" "$xfile" | median)
	if [ "$col" -eq 3 ]; then
		b=$(awk -v v="$b" 'BEGIN { printf "%.1f", v / 1048576 }')
		x=$(awk -v v="$x" 'BEGIN { printf "%.1f", v / 1048576 }')
	fi
	# The median over pairs of rounds (one of each order) of the pair's
	# ratio: the runs of a pair are seconds apart, so drift on a shared VM
	# mostly cancels out, and so does the order.
	ratio=$(paste -d' ' "$bench_tmp/b.txt" "$xfile" | pair_ratio $((col + 4)) "$bcol")
	verdict=$(awk -v q="$ratio" 'BEGIN { v = "MISS"; if (q <= 1.10) v = "PASS"; print v }')
	[ "$kind" != ref ] || verdict="(reference: no target)"
	printf '%-26s %10s %10s %8s  %s\n' "$what" "$b" "$x" "$ratio" "$verdict"
}

{
	echo "== ckpt: ${BENCH_CKPT_MB} MB resident, xckpt vs bare criu (medians of $BENCH_ROUNDS rounds, ratios over pairs of rounds; target: ratio <= 1.10)"
	printf '%-26s %10s %10s %8s\n' "" "bare criu" "xckpt" "ratio"
	ckpt_row "checkpoint (s)" 1 "$bench_tmp/x.txt"
	ckpt_row "checkpoint --no-sync (s)" 1 "$bench_tmp/n.txt"
	ckpt_row "checkpoint vs dump+sync" 1 "$bench_tmp/x.txt" 4 ref
	ckpt_row "restart (s)" 2 "$bench_tmp/x.txt"
	ckpt_row "image (MB)" 3 "$bench_tmp/x.txt"
} | tee "$B/bench/ckpt.txt"
