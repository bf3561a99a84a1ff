#!/bin/bash
# tests/e2e/t-x-wm.sh: X apps under a window manager, as on a desktop.
#
# A window manager (openbox) runs on both Xvfbs, A and B: it reparents the
# app's top-level window into a frame of its own, a connection the proxy
# does not see.  xterm running bash starts in a session on A, takes a typed
# command, and is checkpointed leaving it running (its window stays in the
# WM's frame, with the same ID), then with --kill, and restarted on B: the
# WM on B manages the recreated window (puts it in a frame), and the shell
# takes typing there.  The typed commands append to a file, which proves
# that bash ran them.
. "$(dirname "$0")/lib.sh"

command -v openbox >/dev/null || { t_skip "openbox is not installed"; t_ok "nothing to run"; t_done; }
export XDG_DATA_HOME=$T_TMP/data
t_xvfb
A=$T_DISPLAY
t_xvfb
B=$T_DISPLAY
# wm_ready DISPLAY: waits (10 s at most) until the WM on DISPLAY has set
# itself up (it announces itself with _NET_SUPPORTING_WM_CHECK on the root).
wm_ready() {
	local i
	for i in $(seq 100); do
		DISPLAY=$1 xprop -root _NET_SUPPORTING_WM_CHECK 2>/dev/null |
			grep -q 'window id' && return 0
		sleep 0.1
	done
	return 1
}
for d in "$A" "$B"; do
	DISPLAY=$d t_spawn openbox --sm-disable >/dev/null
	wm_ready "$d" || { t_fail "openbox does not start on $d"; t_done; }
done
OUT=$T_TMP/typed

# framed DISPLAY WID: whether window WID's parent on DISPLAY is not the root
# (the WM's frame).
framed() {
	local root parent
	root=$(DISPLAY=$1 xwininfo -root | sed -n 's/.*Window id: \(0x[0-9a-f]*\).*/\1/p')
	parent=$(DISPLAY=$1 xwininfo -children -id "$2" | sed -n 's/.*Parent window id: \(0x[0-9a-f]*\).*/\1/p')
	[ -n "$parent" ] && [ "$parent" != "$root" ]
}

# type_line DISPLAY WID TEXT: clicks into WID and types TEXT, Return.
type_line() {
	DISPLAY=$1 xdotool mousemove --window "$2" 100 100 click 1 &&
		sleep 0.3 &&
		DISPLAY=$1 xdotool type --delay 20 "$3" &&
		DISPLAY=$1 xdotool key Return
}

# wait_lines N: waits (10 s at most) until $OUT has N lines.
wait_lines() {
	local i
	for i in $(seq 100); do
		[ "$(wc -l <"$OUT" 2>/dev/null || echo 0)" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

if ! DISPLAY=$A t_run_detached xterm xterm -geometry 80x24+40+40 -title xckpt-wm \
	-xrm 'XTerm*cursorBlink: false' -e env PS1='$ ' bash --norc --noprofile -i; then
	t_fail "xterm: xckpt run --detach on $A"
	t_done
fi
if ! wid=$(DISPLAY=$A t_wait_window '^xckpt-wm$' 20); then
	t_fail "xterm: no window on $A"
	tail -n 5 "$XDG_RUNTIME_DIR/xckpt/xterm.log" 2>/dev/null | sed 's/^/    # /'
	t_done
fi
sleep 0.5
t_check "xterm: the WM on $A put the window in a frame" framed "$A" "$wid"
type_line "$A" "$wid" "echo one \$((6 * 7)) >>$OUT"
t_check "xterm: bash ran the command typed on $A" wait_lines 1

dir=$("$XCKPT" checkpoint xterm 2>"$T_TMP/ckpt1.err" | tail -n 1)
if [ -d "$dir" ]; then
	t_ok "xterm: checkpoint, leaving it running"
else
	t_fail "xterm: checkpoint, leaving it running: $(tail -n 1 "$T_TMP/ckpt1.err")"
fi
t_check "xterm: the same window, still in its frame" framed "$A" "$wid"
type_line "$A" "$wid" "echo two >>$OUT"
t_check "xterm: bash takes a command after the checkpoint" wait_lines 2

dir=$("$XCKPT" checkpoint --kill xterm 2>"$T_TMP/ckpt2.err" | tail -n 1)
if [ ! -d "$dir" ]; then
	t_fail "xterm: checkpoint --kill: $(tail -n 1 "$T_TMP/ckpt2.err")"
	t_done
fi
t_ok "xterm: checkpoint --kill"
if ! "$XCKPT" restart --detach --display "$B" "$dir" >/dev/null 2>"$T_TMP/restart.err"; then
	t_fail "xterm: restart on $B: $(cat "$T_TMP/restart.err")"
	t_done
fi
wid=$(DISPLAY=$B t_wait_window '^xckpt-wm$' 20) || { t_fail "xterm: no window on $B"; t_done; }
sleep 0.5
t_check "xterm: the WM on $B put the recreated window in a frame" framed "$B" "$wid"
type_line "$B" "$wid" "echo three \$((6 * 8)) >>$OUT"
t_check "xterm: bash ran the command typed on $B" wait_lines 3
t_equal "xterm: the three commands, in order" "one 42|two|three 48" "$(paste -sd'|' "$OUT")"
t_check "xterm: xckpt kill" "$XCKPT" kill xterm
t_done
