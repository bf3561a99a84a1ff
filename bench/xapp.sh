#!/bin/bash
# bench/xapp.sh: the X section of `make bench` (issue 4, section 5), for
# gedit with a file open:
#   checkpoint  `xckpt checkpoint NAME` leaving it running, against a bare
#               `criu dump --leave-running` of an equivalent tree (another
#               xckpt session of gedit, its daemon's server connections given
#               as --external, as xckpt does); target: ratio < 1.2;
#   restart     from `xckpt restart --display B` on a fresh Xvfb until the
#               gedit window shows exactly what it showed before the
#               checkpoint (screenshots every 20 ms); target: < 1 s;
#   record      the proxy's memory per recorded resource: what the session
#               log says of gedit's records at the checkpoint (resources
#               and bytes, summed over its connections).
# Each of BENCH_ROUNDS (16, rounded up to even) rounds measures both, the
# two checkpoints in an order that alternates (the first of a round is
# measured slower, as in the ckpt section); the table shows the medians of
# each side, and the checkpoint ratio is the median over pairs of rounds,
# one of each order, of the pair's ratio (xckpt's two times over bare's
# two).
# Results also go to $B/bench/xapp.txt.  Exits 0 unless a run failed; a
# missed target is a MISS line.
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh

BENCH_ROUNDS=${BENCH_ROUNDS:-16}
BENCH_ROUNDS=$(( (BENCH_ROUNDS + 1) / 2 * 2 ))
APP_ENV="NO_AT_BRIDGE=1 GSETTINGS_BACKEND=memory"
xapp_sessions=""	# xckpt sessions we started, killed at exit

# Ends our sessions, then what bench/lib.sh tracks.
xapp_cleanup() {
	local s
	for s in $xapp_sessions; do
		"$XCKPT" kill "$s" >/dev/null 2>&1 || true
	done
	bench_cleanup
}

# Starts gedit in session $1 on display :$2; waits for its window and
# prints the window's id once it has settled.
start_gedit() {
	local name=$1 disp=$2 wid i
	DISPLAY=:$disp XDG_CONFIG_HOME=$bench_tmp/config "$XCKPT" run --detach \
		--name "$name" -- env $APP_ENV gedit "$bench_tmp/note.txt" \
		>/dev/null 2>"$bench_tmp/err" || bench_die "xckpt run: $(cat "$bench_tmp/err")"
	xapp_sessions="$xapp_sessions $name"
	wid=$(DISPLAY=:$disp timeout 30 xdotool search --sync --onlyvisible \
		--name note.txt 2>/dev/null | head -n 1) || bench_die "no gedit window"
	# Settled: two equal screenshots in a row.
	for i in $(seq 40); do
		shot "$disp" "$wid" "$bench_tmp/a.png"
		sleep 0.3
		shot "$disp" "$wid" "$bench_tmp/b.png"
		same "$bench_tmp/a.png" "$bench_tmp/b.png" && break
	done
	echo "$wid"
}

# Saves window $2 of display :$1 as PNG $3 (the bottom 30 rows, gedit's
# status bar with its timed messages, left out).
shot() {
	xwd -silent -display ":$1" -id "$2" 2>/dev/null |
		convert xwd:- -gravity south -chop 0x30 "png:$3" 2>/dev/null
}

# Whether PNGs $1 and $2 are pixel-identical.
same() {
	[ "$(compare -metric AE "$1" "$2" null: 2>&1 | awk '{ print $1 }')" = 0 ]
}

# The CRIU --external names of the unix sockets that process $1 (a
# session daemon) has connected to the X server $2 (pid).
externals() {
	local inodes
	inodes=$(ss -xp 2>/dev/null | awk -v x="pid=$2," '$0 ~ x { print $6 }' | sort -u)
	ss -xp 2>/dev/null | awk -v d="pid=$1," '$0 ~ d { print $6, $8 }' |
		while read -r ino peer; do
			echo "$inodes" | grep -qx "$peer" && echo "unix[$ino]"
		done
}

# The leave-running checkpoint of round $1 by xckpt, of gedit in session
# x$1: saves the checkpoint's directory into $bench_tmp/dir-$1; prints the
# seconds it took.
ckpt_xckpt() {
	local t0 t1 dir
	sync
	t0=$(now_ns)
	# (Straight to a file: a $(... | tail) around it would add the
	# subshell's and tail's start, ~0.5 ms, to xckpt's time alone.)
	"$XCKPT" checkpoint "x$1" >"$bench_tmp/out" 2>"$bench_tmp/err" ||
		bench_die "xckpt checkpoint: $(cat "$bench_tmp/err")"
	t1=$(now_ns)
	dir=$(tail -n 1 "$bench_tmp/out")
	echo "$dir" >"$bench_tmp/dir-$1"
	secs "$t0" "$t1"
}

# The bare CRIU dump of round $1, leaving running the equivalent session
# bare$1 on the display of Xvfb pid $2; prints the seconds it took.
ckpt_bare() {
	local t0 t1 daemon ext
	daemon=$("$XCKPT" list | awk -v n="bare$1" '$1 == n { print $2 }')
	mapfile -t ext < <(externals "$daemon" "$2")
	mkdir -p "$bench_tmp/bare-$1"
	sync
	t0=$(now_ns)
	# (The options xckpt gives CRIU: the same work for CRIU.)
	"${CRIU[@]}" dump -t "$daemon" -D "$bench_tmp/bare-$1" -o dump.log -v3 \
		--leave-running --external 'mnt[]' --file-locks \
		$(printf -- '--external %s ' "${ext[@]}") \
		>/dev/null 2>&1 || bench_die "bare criu dump failed: $bench_tmp/bare-$1/dump.log"
	t1=$(now_ns)
	secs "$t0" "$t1"
}

# The resources (live ones and zombies: freed, but still used by a live
# one) and the bytes that the records of session $1's connections held at
# its checkpoint (the proxy logs them at the quiesce), summed: prints
# "RESOURCES BYTES".
record_size() {
	grep -o 'record of [0-9]* resources ([0-9]* zombies.*: [0-9]* bytes' \
		"$XDG_RUNTIME_DIR/xckpt/$1.log" 2>/dev/null | tr -d '(' |
		awk '{ r += $3 + $5; b += $(NF - 1) } END { printf "%d %d\n", r, b }'
}

# One round $1: prints "XCKPT_CKPT BARE_CKPT RESTART RESOURCES BYTES".
round() {
	local a b c cpid wid before dir t0 t1 xs bs rec i
	bench_start_xvfb
	a=$bench_xvfb_display
	bench_start_xvfb
	b=$bench_xvfb_display
	bench_start_xvfb
	c=$bench_xvfb_display
	cpid=$bench_xvfb_pid
	# Both sessions run (bare's on a display of its own: its window would
	# hide xckpt's), then both are checkpointed, leaving them running:
	# xckpt's first in odd rounds, bare CRIU's first in even ones.
	wid=$(start_gedit "x$1" "$a")
	start_gedit "bare$1" "$c" >/dev/null
	# The window as it was, for the restart's check: taken before both
	# checkpoints, whichever goes first, so that each is measured after
	# the same things.
	shot "$a" "$wid" "$bench_tmp/before-$1.png"
	if [ $(($1 % 2)) -eq 1 ]; then
		xs=$(ckpt_xckpt "$1")
		bs=$(ckpt_bare "$1" "$cpid")
	else
		bs=$(ckpt_bare "$1" "$cpid")
		xs=$(ckpt_xckpt "$1")
	fi
	before=$bench_tmp/before-$1.png
	dir=$(cat "$bench_tmp/dir-$1")
	rec=$(record_size "x$1")
	echo -n "$xs $bs "
	"$XCKPT" kill "bare$1" >/dev/null 2>&1 || true
	# Restart on the other Xvfb, until repainted.
	"$XCKPT" kill "x$1" >/dev/null 2>&1 || true
	sleep 0.5
	t0=$(now_ns)
	"$XCKPT" restart --detach --display ":$b" "$dir" >/dev/null 2>"$bench_tmp/err" ||
		bench_die "xckpt restart: $(cat "$bench_tmp/err")"
	for i in $(seq 500); do
		wid=$(DISPLAY=:$b xdotool search --onlyvisible --name note.txt 2>/dev/null | head -n 1)
		if [ -n "$wid" ] && shot "$b" "$wid" "$bench_tmp/after.png" &&
			same "$before" "$bench_tmp/after.png"; then
			break
		fi
		sleep 0.02
	done
	t1=$(now_ns)
	same "$before" "$bench_tmp/after.png" || bench_die "gedit never repainted as before on :$b"
	echo "$(secs "$t0" "$t1") $rec"
	"$XCKPT" kill "x$1" >/dev/null 2>&1 || true
	rm -rf "$dir"
	bench_cleanup_xvfbs
}

# Ends this round's two Xvfb servers (by pid).
bench_cleanup_xvfbs() {
	local pid
	for pid in $bench_pids; do
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	bench_pids=""
}

bench_init
trap xapp_cleanup EXIT
bench_criu
export XDG_RUNTIME_DIR=$bench_tmp/run XDG_DATA_HOME=$bench_tmp/data
mkdir -m 0700 "$XDG_RUNTIME_DIR" "$XDG_DATA_HOME"
mkdir -p "$bench_tmp/config/gtk-3.0" "$B/bench"
printf '[Settings]\ngtk-cursor-blink=false\n' >"$bench_tmp/config/gtk-3.0/settings.ini"
printf 'Some text to checkpoint.\n' >"$bench_tmp/note.txt"

: >"$bench_tmp/r.txt"
for r in $(seq "$BENCH_ROUNDS"); do
	round "$r" >>"$bench_tmp/r.txt"
	bench_log "bench xapp: round $r: $(tail -n 1 "$bench_tmp/r.txt")"
done
{
	x=$(cut -d' ' -f1 "$bench_tmp/r.txt" | median)
	b=$(cut -d' ' -f2 "$bench_tmp/r.txt" | median)
	r=$(cut -d' ' -f3 "$bench_tmp/r.txt" | median)
	ratio=$(pair_ratio 1 2 <"$bench_tmp/r.txt")
	echo "== xapp: gedit, medians of $BENCH_ROUNDS rounds (the checkpoint ratio over pairs of rounds)"
	printf '%-36s %8s %8s %8s\n' "" "bare" "xckpt" "ratio"
	printf '%-36s %8s %8s %8s  %s\n' "leave-running checkpoint (s)" "$b" "$x" "$ratio" \
		"$(awk -v q="$ratio" 'BEGIN { print (q < 1.2) ? "PASS (< 1.2)" : "MISS (< 1.2)" }')"
	printf '%-36s %8s %8s %8s  %s\n' "restart to repainted (s)" "-" "$r" "-" \
		"$(awk -v q="$r" 'BEGIN { print (q < 1.0) ? "PASS (< 1 s)" : "MISS (< 1 s)" }')"
	n=$(cut -d' ' -f4 "$bench_tmp/r.txt" | median)
	bytes=$(cut -d' ' -f5 "$bench_tmp/r.txt" | median)
	awk -v n="$n" -v b="$bytes" 'BEGIN { printf "proxy record at the checkpoint: %d resources (zombies included), %.2f MB, %.0f bytes per resource (pixmap contents and glyph images included)\n", n, b / 1e6, (n > 0) ? b / n : 0 }'
} | tee "$B/bench/xapp.txt"
