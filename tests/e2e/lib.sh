# tests/e2e/lib.sh: helpers for the end-to-end tests.  Source it from a test:
#
#   . "$(dirname "$0")/lib.sh"
#   t_xvfb                      # a private Xvfb; sets DISPLAY and T_DISPLAY
#   t_check "xlogo runs" $XCKPT run --detach -- xlogo
#   t_done                      # prints the summary, exits 0 or 1
#
# Environment:
#   XCKPT                 the xckpt binary (default ./xckpt), made absolute
#   XCKPT_TEST_DISPLAYS   the display numbers Xvfb may use, "FIRST-LAST"
#                         (default 50-99), so that parallel runs do not clash
#   T_KEEP                when set, keep the test's temporary directory
#
# Every test gets a private temporary directory T_TMP and a private
# XDG_RUNTIME_DIR inside it, so `xckpt list` shows the test's sessions only.
# Every process a test starts through these helpers is recorded, and exactly
# those (and the test's own sessions) are ended on exit: never by name.

set -u
# No test reads a terminal: `xckpt run` must take its pipe path (not the
# pty one) whether or not `make check` was started from a terminal.
exec </dev/null

T_NAME=$(basename "$0" .sh)
T_PASSED=0
T_FAILED=0
T_PIDS=""
T_DISPLAY=""
T_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

XCKPT=${XCKPT:-./xckpt}
case $XCKPT in
/*) ;;
*) XCKPT=$T_ROOT/${XCKPT#./} ;;
esac
export XCKPT

T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/xckpt-$T_NAME.XXXXXX")
export XDG_RUNTIME_DIR=$T_TMP/run
mkdir -m 0700 "$XDG_RUNTIME_DIR"
unset DISPLAY XAUTHORITY

# Prints a passed check.
t_ok() {
	T_PASSED=$((T_PASSED + 1))
	echo "ok: $*"
}

# Prints a failed check.
t_fail() {
	T_FAILED=$((T_FAILED + 1))
	echo "FAIL: $*"
}

# t_check WHAT CMD...: runs CMD; ok when it exits 0.
t_check() {
	local what=$1
	shift
	if "$@"; then t_ok "$what"; else t_fail "$what (exit $?: $*)"; fi
}

# t_equal WHAT EXPECTED ACTUAL: ok when both strings are equal.
t_equal() {
	if [ "$2" = "$3" ]; then
		t_ok "$1"
	else
		t_fail "$1 (expected '$2', got '$3')"
	fi
}

# t_skip WHAT: a check that cannot run here (counted as neither).
t_skip() {
	echo "skip: $*"
}

# t_track PID...: records processes that the test started, to end on exit.
t_track() {
	T_PIDS="$T_PIDS $*"
}

# t_untrack PID: forgets a process the test has ended itself.
t_untrack() {
	local p out=""
	for p in $T_PIDS; do
		[ "$p" = "$1" ] || out="$out $p"
	done
	T_PIDS=$out
}

# t_alive PID: whether PID runs (a zombie does not count).
t_alive() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	case $st in Z*|"") return 1 ;; esac
	return 0
}

# t_stop PID...: ends processes the test started: SIGTERM, then SIGKILL
# after 2 s; reaps those that are our children.
t_stop() {
	local p i
	for p in "$@"; do
		kill -TERM "$p" 2>/dev/null
	done
	for i in $(seq 20); do
		local left=""
		for p in "$@"; do
			t_alive "$p" && left="$left $p"
		done
		[ -z "$left" ] && break
		sleep 0.1
	done
	for p in "$@"; do
		t_alive "$p" && kill -KILL "$p" 2>/dev/null
		# (its status is the signal's: not a failure, even under set -e)
		wait "$p" 2>/dev/null || true
		t_untrack "$p"
	done
	return 0
}

# t_sessions: the names of the test's live sessions.
t_sessions() {
	"$XCKPT" list 2>/dev/null | awk 'NR > 1 { print $1 }'
}

# Ends what the test started: its sessions, then its recorded processes,
# then removes its temporary directory.
t_cleanup() {
	local s f p
	for s in $(t_sessions); do
		"$XCKPT" kill --grace 1 "$s" >/dev/null 2>&1
	done
	# Whatever kill could not end (a broken build): the session trees of
	# the test's own state directory, by their daemons' pids.
	for f in "$XDG_RUNTIME_DIR"/xckpt/*.session; do
		[ -e "$f" ] || continue
		p=$(sed -n 's/^pid=//p' "$f")
		[ -n "$p" ] && t_alive "$p" || continue
		echo "cleanup: session daemon $p of $(basename "$f" .session) is still there; SIGKILL to its tree" >&2
		kill -KILL $(t_descendants "$p") 2>/dev/null
	done
	# shellcheck disable=SC2086
	[ -n "$T_PIDS" ] && t_stop $T_PIDS
	if [ -n "${T_KEEP:-}" ]; then
		echo "kept $T_TMP"
	else
		rm -rf "$T_TMP"
	fi
}
trap t_cleanup EXIT
trap 'exit 130' INT TERM HUP

# t_done: prints the summary; exits 0 when every check passed.
t_done() {
	echo "$T_NAME: $T_PASSED checks passed, $T_FAILED failed"
	[ "$T_FAILED" -eq 0 ] && [ "$T_PASSED" -gt 0 ]
	exit $?
}

# t_display_free N: whether display :N looks unused.
t_display_free() {
	[ ! -e "/tmp/.X$1-lock" ] && [ ! -e "/tmp/.X11-unix/X$1" ]
}

# t_wait_display DISPLAY [SECONDS]: waits until DISPLAY accepts
# connections (with the current XAUTHORITY).
t_wait_display() {
	local i n=$((${2:-10} * 10))
	for i in $(seq "$n"); do
		xdpyinfo -display "$1" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# t_xvfb [XVFB-ARG...]: starts a private Xvfb (1024x768x24) on a free
# display from XCKPT_TEST_DISPLAYS; sets T_DISPLAY, T_XVFB_PID and exports
# DISPLAY.  Extra arguments go to Xvfb (e.g. -auth FILE); T_XVFB_WRAP, when
# set, is a command Xvfb runs under (e.g. unshare for another clock).
# Fails the test when no display can be started.
t_xvfb() {
	local range=${XCKPT_TEST_DISPLAYS:-50-99}
	local first=${range%-*} last=${range#*-} n pid
	# Start at a random point of the range: parallel tests rarely collide.
	local span=$((last - first + 1)) off=$((RANDOM % (last - first + 1)))
	local i
	for i in $(seq 0 $((span - 1))); do
		n=$((first + (off + i) % span))
		t_display_free "$n" || continue
		${T_XVFB_WRAP:-} Xvfb ":$n" -screen 0 1024x768x24 -nolisten tcp \
			-noreset "$@" >"$T_TMP/xvfb-$n.log" 2>&1 &
		pid=$!
		t_track "$pid"
		if t_wait_display ":$n" 10 && t_alive "$pid"; then
			T_DISPLAY=":$n"
			T_XVFB_PID=$pid
			export DISPLAY=":$n"
			return 0
		fi
		t_stop "$pid"
	done
	echo "FAIL: cannot start Xvfb on a free display in $range" >&2
	t_fail "start Xvfb"
	t_done
}

# t_spawn CMD...: starts CMD in the background, output to
# $T_TMP/spawn-N.log, records its pid; prints the pid.
T_NSPAWN=0
t_spawn() {
	T_NSPAWN=$((T_NSPAWN + 1))
	"$@" >"$T_TMP/spawn-$T_NSPAWN.log" 2>&1 &
	t_track "$!"
	echo "$!"
}

# t_type_into ID X Y TEXT: moves the pointer to X,Y inside window ID of
# $DISPLAY, types TEXT and Return, then parks the pointer outside every
# window again (1010,750 of a 1024x768 screen).
t_type_into() {
	xdotool mousemove --window "$1" "$2" "$3" &&
		sleep 0.3 &&
		xdotool type --delay 30 "$4" &&
		xdotool key Return &&
		sleep 0.3 &&
		xdotool mousemove 1010 750
}

# t_wait_window REGEX [SECONDS]: waits until a visible window whose name
# matches REGEX (e.g. '^xlogo$') exists on $DISPLAY; prints its id (the
# first one).
t_wait_window() {
	local out
	out=$(timeout "${2:-20}" xdotool search --sync --onlyvisible \
		--name "$1" 2>/dev/null) || return 1
	echo "$out" | head -n 1
}

# t_window_gone ID [SECONDS]: waits until window ID no longer exists.
t_window_gone() {
	local i n=$((${2:-10} * 10))
	for i in $(seq "$n"); do
		xwininfo -id "$1" >/dev/null 2>&1 || return 0
		sleep 0.1
	done
	return 1
}

# t_shot ID FILE: saves window ID of $DISPLAY as a PNG.
t_shot() {
	xwd -silent -id "$1" -display "$DISPLAY" >"$T_TMP/shot.xwd" &&
		convert "xwd:$T_TMP/shot.xwd" "png:$2"
}

# t_shot_stable ID FILE [TRIES]: shoots window ID every 0.5 s until two
# shots in a row are identical (the app has finished drawing); FILE is the
# last one.  Fails when the window never settles.
t_shot_stable() {
	local prev=$T_TMP/stable-prev.png i
	rm -f "$prev"
	for i in $(seq "${3:-40}"); do
		t_shot "$1" "$2" || return 1
		if [ -e "$prev" ] && [ "$(t_diff_pixels "$prev" "$2")" = 0 ]; then
			rm -f "$prev"
			return 0
		fi
		cp "$2" "$prev"
		sleep 0.5
	done
	rm -f "$prev"
	return 1
}

# t_diff_pixels A B: prints how many pixels differ between PNGs A and B
# (ImageMagick's absolute-error count); "size" when their sizes differ.
t_diff_pixels() {
	local sa sb
	sa=$(identify -format '%wx%h' "$1" 2>/dev/null)
	sb=$(identify -format '%wx%h' "$2" 2>/dev/null)
	if [ -z "$sa" ] || [ "$sa" != "$sb" ]; then
		echo "size:$sa/$sb"
		return
	fi
	compare -metric AE "$1" "$2" null: 2>&1 | awk '{ print $1 }'
}

# t_same_png WHAT A B: ok when PNGs A and B are pixel-identical; on a
# difference keeps both and a diff image in $T_TMP.
t_same_png() {
	local d
	d=$(t_diff_pixels "$2" "$3")
	if [ "$d" = "0" ]; then
		t_ok "$1"
	else
		t_fail "$1 ($d pixels differ: $2 $3)"
		T_KEEP=1
	fi
}

# t_run_detached NAME CMD...: starts CMD with `xckpt run --detach --name
# NAME`; ok when it exits 0 and prints NAME as its last line.
t_run_detached() {
	local name=$1 out last
	shift
	out=$("$XCKPT" run --detach --name "$name" -- "$@" 2>"$T_TMP/run-$name.err")
	local rc=$?
	last=$(echo "$out" | tail -n 1)
	if [ $rc -eq 0 ] && [ "$last" = "$name" ]; then
		return 0
	fi
	echo "xckpt run --detach $name: exit $rc, last line '$last': $(cat "$T_TMP/run-$name.err")" >&2
	return 1
}

# t_session_field NAME COLUMN: a column of `xckpt list` for session NAME
# (2: pid, 3: display, 4: upstream).
t_session_field() {
	"$XCKPT" list | awk -v n="$1" -v c="$2" '$1 == n { print $c }'
}

# t_session_pids NAME: the session daemon of NAME and all its descendants.
t_session_pids() {
	local root
	root=$(t_session_field "$1" 2)
	[ -n "$root" ] || return 0
	t_descendants "$root"
}

# t_descendants PID: PID and every live descendant.
t_descendants() {
	local all p
	all=$(ps -e -o pid=,ppid=,stat=)
	echo "$1"
	for p in $(echo "$all" | awk -v pp="$1" '$2 == pp && $3 !~ /^Z/ { print $1 }'); do
		t_descendants "$p"
	done
}
