#!/bin/bash
# tests/e2e/t-x-restart.sh: X apps checkpointed with --kill come back on
# another X server (issue 4 §2 and §4).
#
# Two private Xvfbs, A and B.  Each app runs through `xckpt run --detach`
# on A (xterm and gedit get a typed line first), its window is shot, it is
# checkpointed with --kill (the window goes), restarted with --display B:
# the window comes back on B pixel-identical to the shot on A, and takes
# typing there.  Then a second cycle: checkpoint --kill on B, restart on A,
# the window (with the text typed on B) is back, pixel-identical.
#
# No cursor blinks (xterm's cursorBlink off; gedit with a private
# XDG_CONFIG_HOME whose GTK settings switch blinking off); gedit's status
# bar (a timing-dependent message) is left out of the comparisons.  The
# time from `xckpt restart` to the window being on the new server is
# printed.
. "$(dirname "$0")/lib.sh"

export XDG_DATA_HOME=$T_TMP/data
t_xvfb
A=$T_DISPLAY
t_xvfb
B=$T_DISPLAY
export DISPLAY=$A
DISPLAY=$A xdotool mousemove 1010 750
DISPLAY=$B xdotool mousemove 1010 750

mkdir -p "$T_TMP/config/gtk-3.0"
printf '[Settings]\ngtk-cursor-blink=false\ngtk-enable-animations=false\n' \
	>"$T_TMP/config/gtk-3.0/settings.ini"
printf 'The quick brown fox\njumps over the lazy dog.\n' >"$T_TMP/hello.txt"
APP_ENV="NO_AT_BRIDGE=1 GSETTINGS_BACKEND=memory XDG_CONFIG_HOME=$T_TMP/config \
LANG=C.UTF-8 LC_ALL=C.UTF-8 GIO_USE_VFS=local"

# shot APP ID FILE: a settled shot of window ID of $DISPLAY into FILE (the
# bottom CHOP_BOTTOM rows cut off).
shot() {
	t_shot_stable "$2" "$3" || return 1
	if [ "${CHOP_BOTTOM:-0}" -gt 0 ]; then
		convert "$3" -gravity south -chop "0x$CHOP_BOTTOM" "$3"
	fi
}

# cycle APP TITLE FROM TO SHOT: checkpoints session APP (on display FROM)
# with --kill, restarts it on display TO, and compares its window there
# with SHOT.  Sets WID to the window on TO.
cycle() {
	local app=$1 title=$2 from=$3 to=$4 ref=$5 dir t0 t1 old
	old=$(DISPLAY=$from t_wait_window "$title" 1)
	if dir=$("$XCKPT" checkpoint --kill "$app" 2>"$T_TMP/$app-ckpt.err" | tail -n 1) &&
		[ -d "$dir" ]; then
		t_ok "$app: checkpoint --kill on $from"
	else
		t_fail "$app: checkpoint --kill on $from: $(cat "$T_TMP/$app-ckpt.err")"
		return 1
	fi
	DISPLAY=$from t_check "$app: its window left $from" t_window_gone "$old" 10
	t0=$(date +%s%N)
	if DISPLAY=$from "$XCKPT" restart --detach --display "$to" "$dir" \
		>"$T_TMP/$app-restart.out" 2>"$T_TMP/$app-restart.err"; then
		t_ok "$app: restart --display $to"
	elif grep -q "is taken on this machine" "$T_TMP/$app-restart.err"; then
		# Parallel tests took the session's proxy display number
		# meanwhile (proxies take the first free one from :100): the
		# restart says so, as it must.
		t_skip "$app: restart --display $to: $(cat "$T_TMP/$app-restart.err")"
		return 1
	else
		t_fail "$app: restart --display $to: $(cat "$T_TMP/$app-restart.err")"
		return 1
	fi
	if ! WID=$(DISPLAY=$to t_wait_window "$title" 20); then
		t_fail "$app: no window on $to after the restart"
		return 1
	fi
	t1=$(date +%s%N)
	echo "# $app: restart to window on $to: $(((t1 - t0) / 1000000)) ms"
	t_equal "$app: xckpt list shows the session on $to" "$to" \
		"$(t_session_field "$app" 4)"
	if ! DISPLAY=$to shot "$app" "$WID" "$T_TMP/$app-on-$to.png"; then
		t_fail "$app: the window on $to never settles"
		return 1
	fi
	t_same_png "$app: the window on $to is pixel-identical to before" \
		"$ref" "$T_TMP/$app-on-$to.png"
}

# restart_app APP TITLE CMD...: the whole check described above.
restart_app() {
	local app=$1 title=$2 wid
	shift 2
	if ! DISPLAY=$A t_run_detached "$app" env $APP_ENV "$@"; then
		t_fail "$app: xckpt run --detach on $A"
		return
	fi
	if ! wid=$(DISPLAY=$A t_wait_window "$title" 30); then
		t_fail "$app: no window on $A"
		return
	fi
	if [ -n "${TYPE_TEXT:-}" ]; then
		DISPLAY=$A t_shot_stable "$wid" "$T_TMP/$app-pre.png" >/dev/null
		DISPLAY=$A t_type_into "$wid" "$TYPE_X" "$TYPE_Y" "$TYPE_TEXT" ||
			t_fail "$app: typing on $A"
	fi
	if ! DISPLAY=$A shot "$app" "$wid" "$T_TMP/$app-on-A.png"; then
		t_fail "$app: the window on $A never settles"
		return
	fi
	cycle "$app" "$title" "$A" "$B" "$T_TMP/$app-on-A.png" || return
	if [ -n "${TYPE_TEXT:-}" ]; then
		DISPLAY=$B t_type_into "$WID" "$TYPE_X" "$TYPE_Y" "$TYPE_TEXT again" ||
			t_fail "$app: typing on $B"
		DISPLAY=$B shot "$app" "$WID" "$T_TMP/$app-typed-on-B.png"
		if [ "$(t_diff_pixels "$T_TMP/$app-on-$B.png" "$T_TMP/$app-typed-on-B.png")" = 0 ]; then
			t_fail "$app: typing after the restart changed nothing"
		else
			t_ok "$app: typed text shows after the restart"
		fi
	else
		cp "$T_TMP/$app-on-$B.png" "$T_TMP/$app-typed-on-B.png"
	fi
	cycle "$app" "$title" "$B" "$A" "$T_TMP/$app-typed-on-B.png" || return
	t_check "$app: xckpt kill" "$XCKPT" kill "$app"
}

# refused WHAT DISPLAY MESSAGE: a checkpoint of xlogo cannot restart on
# DISPLAY, which lacks something: restart fails before CRIU runs with one
# line naming it (MESSAGE, a grep pattern), nothing comes up there, the
# checkpoint still verifies and then restarts on B.
refused() {
	local what=$1 to=$2 msg=$3 dir n
	DISPLAY=$A t_run_detached "xlogo-$what" xlogo -geometry 300x200+20+20 ||
		{ t_fail "$what: xckpt run"; return; }
	DISPLAY=$A t_wait_window '^xlogo$' 30 >/dev/null || { t_fail "$what: no window"; return; }
	dir=$("$XCKPT" checkpoint --kill "xlogo-$what" 2>/dev/null | tail -n 1)
	[ -d "$dir" ] || { t_fail "$what: checkpoint"; return; }
	if "$XCKPT" restart --detach --display "$to" "$dir" >/dev/null 2>"$T_TMP/$what.err"; then
		t_fail "$what: restart on $to succeeded"
		return
	fi
	n=$(wc -l <"$T_TMP/$what.err")
	if [ "$n" = 1 ] && grep -q "$msg" "$T_TMP/$what.err"; then
		t_ok "$what: restart refused in one line: $(cat "$T_TMP/$what.err")"
	else
		t_fail "$what: restart's error: $(cat "$T_TMP/$what.err")"
	fi
	t_check "$what: no window on $to" \
		sh -c "! DISPLAY=$to xdotool search --name '^xlogo\$' >/dev/null"
	t_check "$what: the checkpoint still verifies" \
		sh -c "'$XCKPT' inspect '$dir' >/dev/null"
	if DISPLAY=$B "$XCKPT" restart --detach --display "$B" "$dir" >/dev/null 2>"$T_TMP/$what.err2"; then
		t_ok "$what: and restarts on $B"
		if DISPLAY=$B t_wait_window '^xlogo$' 20 >/dev/null; then
			t_ok "$what: its window is on $B"
		else
			t_fail "$what: no window on $B"
		fi
	elif grep -q "is taken on this machine" "$T_TMP/$what.err2"; then
		t_skip "$what: restart on $B: $(cat "$T_TMP/$what.err2")"
	else
		t_fail "$what: restart on $B: $(cat "$T_TMP/$what.err2")"
	fi
	"$XCKPT" kill "xlogo-$what" >/dev/null 2>&1
}

t_xvfb -extension RENDER
refused no-render "$T_DISPLAY" "has no extension RENDER"
t_xvfb -screen 0 800x600x16
refused depth-16 "$T_DISPLAY" "root depth 16"
export DISPLAY=$A

# The app's X server exits after the checkpoint: the restart on B works.
t_xvfb
C=$T_DISPLAY
C_PID=$T_XVFB_PID
export DISPLAY=$A
if DISPLAY=$C t_run_detached xlogo-gone xlogo -geometry 300x200+20+20 &&
	DISPLAY=$C t_wait_window '^xlogo$' 30 >/dev/null; then
	DISPLAY=$C t_shot_stable "$(DISPLAY=$C t_wait_window '^xlogo$' 1)" "$T_TMP/gone-on-C.png"
	dir=$("$XCKPT" checkpoint --kill xlogo-gone 2>/dev/null | tail -n 1)
	t_stop "$C_PID"
	if "$XCKPT" restart --detach --display "$B" "$dir" >/dev/null 2>"$T_TMP/gone.err"; then
		t_ok "server gone: restart on $B after $C exited"
		if w=$(DISPLAY=$B t_wait_window '^xlogo$' 20) &&
			DISPLAY=$B t_shot_stable "$w" "$T_TMP/gone-on-B.png"; then
			t_same_png "server gone: the window on $B is pixel-identical" \
				"$T_TMP/gone-on-C.png" "$T_TMP/gone-on-B.png"
		else
			t_fail "server gone: no window on $B"
		fi
	elif grep -q "is taken on this machine" "$T_TMP/gone.err"; then
		t_skip "server gone: $(cat "$T_TMP/gone.err")"
	else
		t_fail "server gone: restart on $B: $(cat "$T_TMP/gone.err")"
	fi
	"$XCKPT" kill xlogo-gone >/dev/null 2>&1
else
	t_fail "server gone: xlogo on $C"
fi

TYPE_TEXT=""
restart_app xlogo '^xlogo$' xlogo -geometry 300x200+20+20
restart_app xeyes '^xeyes$' xeyes -geometry 300x200+340+20
# xterm running bash, its pty inside the tree. The shell is bash, not dash:
# dash opens /dev/tty, and CRIU 4.1.1's tty_verify_ctty() refuses a session
# where a process holds /dev/tty while another holds the master ("ctty
# inheritance detected"; 4.2.1 too). t-term.sh shows that case.
# The typed command also appends to a file: proof that the shell itself ran
# it, before the checkpoint and after the restart ("again" is appended to
# the text typed after a restart).
TYPE_TEXT="echo typed \$((6 * 7)) >>$T_TMP/xterm-typed" TYPE_X=100 TYPE_Y=100
restart_app xterm '^xckpt-xterm$' xterm -geometry 80x24+20+240 \
	-title xckpt-xterm -xrm 'XTerm*cursorBlink: false' \
	-e env PS1='$ ' bash --norc --noprofile -i
t_equal "xterm: bash ran the command typed before and after the restart" \
	"typed 42|typed 42 again" "$(paste -sd'|' "$T_TMP/xterm-typed" 2>/dev/null)"
if [ -z "${T_NO_GEDIT:-}" ]; then
	TYPE_TEXT='Typed through a restart.' TYPE_X=300 TYPE_Y=300
	CHOP_BOTTOM=30
	restart_app gedit '^\*?hello\.txt.*gedit$' gedit --standalone "$T_TMP/hello.txt"
	CHOP_BOTTOM=0
fi

t_done
