#!/bin/bash
# tests/e2e/t-x-time.sh: X timestamps go on across a restart on a server
# whose clock is far behind (as after a reboot), and an idle app gets its
# events after a restart.
#
# Display A's Xvfb runs in a time namespace whose monotonic clock is 10^6 s
# ahead (an X server's time is CLOCK_MONOTONIC in ms), B's runs on the
# machine's clock.  xev runs in a session on A, listening to property
# changes on its window; it sends nothing by itself.  A property change on
# A gives the time T1 the app sees; the session is checkpointed with --kill
# and restarted on B; a property change there gives T2.  Checked: xev gets
# that event at all (an idle client's events must not be taken for the
# replay's), B's own clock is far below T1 (so the check below means
# something), and T1 <= T2 < T1 + 10 min: the app's clock went on.
. "$(dirname "$0")/lib.sh"

if ! unshare -T --monotonic 1 --fork true 2>/dev/null; then
	t_skip "no time namespaces here (unshare -T)"
	t_ok "nothing to run"
	t_done
fi
command -v xev >/dev/null || { t_skip "xev is not installed"; t_ok "nothing to run"; t_done; }

T_XVFB_WRAP="unshare -T --monotonic 1000000 --fork --kill-child" t_xvfb
A=$T_DISPLAY
t_xvfb
B=$T_DISPLAY
export XDG_DATA_HOME=$T_TMP/data
LOG=$XDG_RUNTIME_DIR/xckpt/xev.log

# poke DISPLAY WIN VALUE: changes property _XCKPT_T of window WIN.
poke() {
	DISPLAY=$1 xprop -id "$2" -f _XCKPT_T 8s -set _XCKPT_T "$3"
}

# last_time: the time of the last PropertyNotify for _XCKPT_T in xev's
# output (the session log), or nothing.
last_time() {
	grep -A1 'PropertyNotify' "$LOG" 2>/dev/null | grep '_XCKPT_T' |
		sed -n 's/.*time \([0-9]*\),.*/\1/p' | tail -n 1
}

# wait_time OLD: waits (5 s at most) for a _XCKPT_T time other than OLD;
# prints it.
wait_time() {
	local i t
	for i in $(seq 50); do
		t=$(last_time)
		[ -n "$t" ] && [ "$t" != "$1" ] && { echo "$t"; return 0; }
		sleep 0.1
	done
	return 1
}

# server_time DISPLAY: DISPLAY's own clock, read by a direct xev on its
# root.
server_time() {
	local out=$T_TMP/root-$1.txt pid i
	DISPLAY=$1 stdbuf -oL xev -root -event property >"$out" 2>&1 &
	pid=$!
	t_track "$pid"
	for i in $(seq 50); do
		DISPLAY=$1 xprop -root -f _XCKPT_T 8s -set _XCKPT_T "$i"
		grep -q 'time [0-9]' "$out" && break
		sleep 0.1
	done
	t_stop "$pid"
	sed -n 's/.*time \([0-9]*\),.*/\1/p' "$out" | head -n 1
}

if ! DISPLAY=$A t_run_detached xev stdbuf -oL xev -event property -geometry 200x200+20+20; then
	t_fail "xev: xckpt run --detach on $A"
	t_done
fi
wid=$(DISPLAY=$A t_wait_window '^Event Tester$' 20) || { t_fail "xev: no window on $A"; t_done; }
poke "$A" "$wid" before
t1=$(wait_time "") || { t_fail "xev: no PropertyNotify on $A"; t_done; }
echo "  time the app saw on $A: $t1"
dir=$("$XCKPT" checkpoint --kill xev 2>"$T_TMP/ckpt.err" | tail -n 1)
[ -d "$dir" ] || { t_fail "checkpoint --kill: $(cat "$T_TMP/ckpt.err")"; t_done; }
t_ok "checkpoint --kill on $A"
if ! "$XCKPT" restart --detach --display "$B" "$dir" >/dev/null 2>"$T_TMP/restart.err"; then
	t_fail "restart on $B: $(cat "$T_TMP/restart.err")"
	t_done
fi
wid=$(DISPLAY=$B t_wait_window '^Event Tester$' 20) || { t_fail "xev: no window on $B"; t_done; }
tb=$(server_time "$B")
echo "  $B's own clock: $tb"
poke "$B" "$wid" after
if t2=$(wait_time "$t1"); then
	t_ok "the idle app gets its events after the restart"
	echo "  time the app saw on $B: $t2"
	t_check "$B's clock is far behind $A's (a test that can fail)" \
		test "$tb" -lt $((t1 - 500000000))
	t_check "the app's clock went on: $t1 <= $t2 < $t1 + 600000" \
		test "$t2" -ge "$t1" -a "$t2" -lt $((t1 + 600000))
else
	t_fail "the idle app gets its events after the restart"
fi
t_check "xckpt kill" "$XCKPT" kill xev
t_done
