#!/bin/bash
# t-ckpt.sh: checkpoint and restart of sessions without X (issue 3 §2, §3,
# §6), zdtm style.  Each program of tests/zdtm runs in a detached session,
# checks itself, is checkpointed (both with --kill and leaving it running),
# restarted, and checks itself again:
#   counter     a counter in memory continues where it was (not from 0)
#   fileoffset  offsets and modes of open files
#   pipe        40 KiB in flight in a pipe between two children
#   envcwd      environment and working directory
#   ptypair     a child holding a pty pair: termios, window size, data
#   output      endless stdout and stderr, through the session (its log)
#   flocks      a flock and a POSIX lock held by the program
# A TCP connection comes back closed and is made again (c_tcp).
# Then a chain of three checkpoint --kill / restart cycles of the counter,
# one of them with --dir, the last one after the runtime directory was
# removed (as by a reboot); a restart in the foreground; and the session's
# private D-Bus with a client connected; and `xckpt list` during a
# checkpoint.  Bad input and listings: t-ckpt-errors.sh.
. "$(dirname "$0")/ckpt-lib.sh"

# c_not_listed NAME: whether `xckpt list` does not show NAME.
c_not_listed() {
	! c_listed "$1"
}

# c_no_state NAME: whether the state directory holds nothing of session
# NAME (NAME.session, NAME.sock, NAME.bus, ...).
c_no_state() {
	local left
	left=$(cd "$XDG_RUNTIME_DIR/xckpt" 2>/dev/null && ls -A | grep -F "$1." || true)
	[ -z "$left" ] || echo "    # left in \$XDG_RUNTIME_DIR/xckpt: $(echo $left)" >&2
	[ -z "$left" ]
}

# c_log_reaches NAME WORD N: waits up to 5 s for a line "WORD M" with M >=
# N in the session log of NAME.
c_log_reaches() {
	local i last=none
	for i in $(seq 50); do
		last=$(awk -v w="$2" '$1 == w { n = $2 } END { print n + 0 }' \
			"$XDG_RUNTIME_DIR/xckpt/$1.log" 2>/dev/null || echo 0)
		[ "$last" -ge "$3" ] && return 0
		sleep 0.1
	done
	echo "    # the last '$2' line of $XDG_RUNTIME_DIR/xckpt/$1.log: $last, want $3 or more" >&2
	return 1
}

# c_under DIR PARENT: whether DIR is a directory directly inside PARENT.
c_under() {
	[ -d "$1" ] && [ "$(dirname "$1")" = "$2" ]
}

# c_counter_continues NAME V1 T1: the counter of NAME, checked just after
# T1 (ms) with value V1 before a checkpoint, went on from there after the restart:
# above V1, and by no more than the 10 ms ticks since T1 (not from 0, not
# from a later value).
c_counter_continues() {
	local v2 max
	v2=$(z_value "$1")
	max=$(($2 + ($(c_now_ms) - $3) / 10 + 5))
	if [ "$v2" -gt "$2" ] && [ "$v2" -le "$max" ]; then
		c_ok "$1: the counter continued from the checkpoint ($2 -> $v2, at most $max)"
	else
		c_fail "$1: the counter did not continue from the checkpoint ($2 -> $v2, expected ($2, $max])"
	fi
}

# z_cycle PROG MODE: runs PROG in session PROG-MODE, checkpoints it (MODE
# kill: --kill; run: left running, then the original is checked and killed),
# restarts it and checks it again; ends it with xckpt kill.
z_cycle() {
	local prog=$1 mode=$2 name=$1-$2 rname pid pids after v1 t1 vo dir
	local env=()
	[ "$prog" = envcwd ] && env=(ZDTM_OUTER="outer value = with  spaces")
	z_start "$name" "$prog" "${env[@]}" || return 0
	pid=$(z_pid "$name")
	t1=$(c_now_ms)	# before the check: a safe upper bound on the ticks since
	z_check "$name" "passes before the checkpoint" || true
	pids=$(t_session_pids "$name" | sort -n | tr '\n' ' ')
	v1=$(z_value "$name")
	if [ "$mode" = kill ]; then
		c_ckpt "$name" --kill || true
		c_report "$name: xckpt checkpoint --kill" || return 0
	else
		c_ckpt "$name" || true
		c_report "$name: xckpt checkpoint (leave running)" || return 0
	fi
	dir=$C_DIR
	c_check "$name: the last line of stdout ($dir) is a directory in \$XDG_DATA_HOME/xckpt/$name" \
		c_under "$dir" "$XDG_DATA_HOME/xckpt/$name"
	[ -d "$dir" ] || return 0
	c_perms "$dir"
	c_check "$name: its checkpoint holds xckpt.meta and MANIFEST" \
		test -f "$dir/xckpt.meta" -a -f "$dir/MANIFEST"
	if [ "$mode" = kill ]; then
		c_check "$name: the session is no longer listed after --kill" c_not_listed "$name"
		c_check "$name: every process of the session ended ($pids)" c_wait_gone $pids
		c_check "$name: nothing of the session is left in \$XDG_RUNTIME_DIR/xckpt" \
			c_no_state "$name"
	else
		c_check "$name: the session is still listed" c_listed "$name"
		z_check "$name" "the original still passes after the checkpoint" || true
		if [ "$prog" = counter ]; then
			vo=$(z_value "$name")
			c_check "$name: the original counter went on ($v1 -> $vo)" test "$vo" -gt "$v1"
		fi
		c_check "$name: xckpt kill of the original" "$XCKPT" kill "$name"
		c_check "$name: every process of the original ended ($pids)" c_wait_gone $pids
	fi
	# One restart takes another name, to check --name.
	rname=$name
	[ "$name" = envcwd-run ] && rname=envcwd-renamed
	if [ "$rname" = "$name" ]; then
		c_restart "$dir" --detach || true
	else
		c_restart "$dir" --detach --name "$rname" || true
	fi
	c_report "$name: xckpt restart $([ "$rname" = "$name" ] || echo "--name $rname ")--detach" ||
		return 0
	c_check "$name: xckpt list shows the restarted session $rname" c_listed "$rname"
	c_check "$name: the program runs again as pid $pid" t_alive "$pid"
	z_check "$name" "passes after the restart" || true
	if [ "$prog" = counter ]; then
		c_counter_continues "$name" "$v1" "$t1"
	fi
	if [ "$prog" = output ]; then
		c_check "$name: the output after the restart reaches the session log" \
			c_log_reaches "$rname" output "$(z_value "$name")"
		c_check "$name: so does the error output" \
			c_log_reaches "$rname" error-output "$(z_value "$name")"
	fi
	after=$(t_session_pids "$rname" | sort -n | tr '\n' ' ')
	c_equal "$name: the restored tree has the pids of the checkpointed one" "$pids" "$after"
	z_check "$name" "passes a second check after the restart" || true
	c_check "$name: xckpt kill of the restarted session" "$XCKPT" kill "$rname"
	c_check "$name: every process of the restarted session ended" c_wait_gone $after $pid
	c_check "$name: the killed session is no longer listed" c_not_listed "$rname"
	c_check "$name: nothing of it is left in \$XDG_RUNTIME_DIR/xckpt" c_no_state "$rname"
}

# c_chain: three cycles of checkpoint --kill and restart of one counter
# session, each verified; the second with --dir, the third with --no-sync
# (not waiting for the disk); the earlier checkpoints stay untouched.
c_chain() {
	local name=chain i v1 t1 t pid dir first="" snap="" args
	z_start "$name" counter || return 0
	pid=$(z_pid "$name")
	t=$(c_now_ms)
	z_check "$name" "passes before the first checkpoint" || true
	for i in 1 2 3; do
		v1=$(z_value "$name")
		t1=$t
		args=(--kill)
		[ $i -eq 2 ] && args=(--kill --dir "$T_TMP/chosen")
		[ $i -eq 3 ] && args=(--kill --no-sync)
		c_ckpt "$name" "${args[@]}" || true
		c_report "$name: cycle $i: xckpt checkpoint ${args[*]}" || return 0
		dir=$C_DIR
		if [ $i -eq 2 ]; then
			if [ "$dir" = "$T_TMP/chosen" ] || c_under "$dir" "$T_TMP/chosen"; then
				c_ok "$name: cycle 2: --dir $T_TMP/chosen gave $dir"
			else
				c_fail "$name: cycle 2: --dir $T_TMP/chosen gave '$dir'"
			fi
		else
			c_check "$name: cycle $i: a new checkpoint in \$XDG_DATA_HOME/xckpt/$name" \
				c_under "$dir" "$XDG_DATA_HOME/xckpt/$name"
		fi
		[ -d "$dir" ] || return 0
		c_perms "$dir"
		if [ -z "$first" ]; then
			first=$dir
			snap=$(c_snapshot "$first")
		fi
		c_check "$name: cycle $i: the program ended with --kill" c_wait_gone "$pid"
		if [ $i -eq 3 ]; then
			# As after a reboot: the runtime directory is gone.
			rm -rf "$XDG_RUNTIME_DIR/xckpt"
			c_restart "$dir" --detach || true
			c_report "$name: cycle $i: xckpt restart with \$XDG_RUNTIME_DIR/xckpt gone (a reboot)" ||
				return 0
		else
			c_restart "$dir" --detach || true
			c_report "$name: cycle $i: xckpt restart" || return 0
		fi
		c_check "$name: cycle $i: listed after the restart" c_listed "$name"
		t=$(c_now_ms)
		z_check "$name" "cycle $i: passes after the restart" || true
		c_counter_continues "$name" "$v1" "$t1"
	done
	c_same "$name: the first checkpoint ($first) is untouched by the later cycles" \
		"$snap" "$(c_snapshot "$first")"
	c_equal "$name: the two checkpoints without --dir, and nothing else, in \$XDG_DATA_HOME/xckpt/$name" 2 \
		"$(find "$XDG_DATA_HOME/xckpt/$name" -mindepth 1 -maxdepth 1 -type d | wc -l)"
	c_check "$name: xckpt kill after the chain" "$XCKPT" kill "$name"
	c_check "$name: the program ended" c_wait_gone "$pid"
	LAST=$dir
}

# c_foreground DIR: `xckpt restart DIR` without --detach stays in the
# foreground while the session runs, and returns when it is killed.
c_foreground() {
	local name=chain fg i pid
	pid=$(z_pid "$name")
	"$XCKPT" restart "$1" >"$T_TMP/fg.out" 2>"$T_TMP/fg.err" &
	fg=$!
	t_track "$fg"
	for i in $(seq 100); do
		c_listed "$name" && break
		sleep 0.1
	done
	c_check "foreground restart: the session is listed" c_listed "$name"
	z_check "$name" "foreground restart: passes" || true
	c_check "foreground restart: xckpt restart is still in the foreground" t_alive "$fg"
	c_check "foreground restart: xckpt kill" "$XCKPT" kill "$name"
	c_check "foreground restart: the program and xckpt restart ended" c_wait_gone "$pid" "$fg"
	wait "$fg" 2>/dev/null || true
	t_untrack "$fg"
}

for prog in counter fileoffset pipe envcwd ptypair output flocks; do
	z_cycle "$prog" kill
	z_cycle "$prog" run
done
# c_bus_names ADDRESS: the unique and well-known names on the D-Bus bus at
# ADDRESS, but the caller's own (the newest), sorted; fails when the bus does
# not answer.
c_bus_names() {
	local out
	out=$(timeout 10 dbus-send --bus="$1" --print-reply --dest=org.freedesktop.DBus \
		/org/freedesktop/DBus org.freedesktop.DBus.ListNames) || return 1
	echo "$out" | sed -n 's/^ *string "\(.*\)"$/\1/p' | sort -V | sed '$d'
}

# c_dbus: the session's private D-Bus survives a checkpoint --kill and a
# restart, and with it a client's connection (a `gdbus wait` in the session
# keeps its unique name).
c_dbus() {
	local name=bus dir pid addr before after
	dir=$(z_dir "$name")
	mkdir -p "$dir"
	if ! "$XCKPT" run --detach --name "$name" -- sh -c \
		"gdbus wait --session --timeout 600 org.xckpt.Never & exec '$ZDTM/counter' '$dir'" \
		>/dev/null 2>"$T_TMP/run-$name.err" || ! c_wait_file "$dir/ready" 10; then
		c_fail "$name: a session with a D-Bus client does not start"
		c_indent "$T_TMP/run-$name.err"
		return 0
	fi
	pid=$(z_pid "$name")
	Z_PIDS="$Z_PIDS $pid"
	addr=$(tr '\0' '\n' <"/proc/$pid/environ" | sed -n 's/^DBUS_SESSION_BUS_ADDRESS=//p')
	c_check "$name: the app has a private bus ($addr)" test -n "$addr"
	sleep 0.3	# for gdbus to connect
	before=$(c_bus_names "$addr" | paste -sd' ') || true
	c_check "$name: the bus answers, with the gdbus client on it ($before)" \
		test "$(echo "$before" | wc -w)" -ge 2
	c_ckpt "$name" --kill || true
	c_report "$name: xckpt checkpoint --kill" || return 0
	c_wait_gone "$pid" || true
	c_restart "$C_DIR" --detach || true
	c_report "$name: xckpt restart" || return 0
	after=$(c_bus_names "$addr" | paste -sd' ') || true
	c_equal "$name: after the restart the bus answers and has the same clients" "$before" "$after"
	z_check "$name" "passes after the restart" || true
	c_check "$name: xckpt kill" "$XCKPT" kill "$name"
	c_check "$name: the program ended" c_wait_gone "$pid"
}

# c_progress: while a checkpoint runs, `xckpt list` shows it: the STATE
# column of a session whose checkpoint (of 300 MB) is under way is not
# "running" at some moment, and is "running" again afterwards.  The list
# runs in a loop meanwhile, each connecting to the daemon that CRIU holds
# frozen: its backlog fills up, and neither the list nor the checkpoint
# may then wait for the daemon (a checkpoint that did once hung here).
c_progress() {
	local name=busy ck states end
	z_start "$name" counter ZDTM_MEM_MB=300 || return 0
	"$XCKPT" checkpoint "$name" >"$T_TMP/progress.out" 2>&1 &
	ck=$!
	t_track "$ck"
	: >"$T_TMP/states"
	end=$(($(date +%s) + 60))
	while t_alive "$ck" && [ "$(date +%s)" -lt "$end" ]; do
		timeout 30 "$XCKPT" list 2>/dev/null | awk -v n="$name" '$1 == n { print $5 }' >>"$T_TMP/states"
	done
	c_check "$name: the checkpoint ended within 60 s, xckpt list running in a loop beside it" \
		sh -c '! kill -0 "$1" 2>/dev/null || ! ps -o stat= -p "$1" | grep -qv "^Z"' - "$ck"
	t_alive "$ck" && kill -KILL "$ck"
	wait "$ck" 2>/dev/null || true
	t_untrack "$ck"
	states=$(sort -u "$T_TMP/states" | paste -sd' ')
	c_check "$name: xckpt list showed the checkpoint while it ran (states seen: $states)" \
		sh -c '[ -n "$(grep -v "^running$" "$1")" ]' - "$T_TMP/states"
	c_equal "$name: and shows it running afterwards" running \
		"$("$XCKPT" list | awk -v n="$name" '$1 == n { print $5 }')"
	z_check "$name" "passes after the checkpoint" || true
	c_check "$name: xckpt kill" "$XCKPT" kill "$name"
}

# c_fuse: FUSE mounts on the host (as a desktop has: the document portal's,
# gvfs's) do not stop a checkpoint: the session detaches the FUSE mounts it
# inherits, which CRIU cannot dump.  The hard case: the mount is there when
# the session starts and gone from the host at the checkpoint (the portal
# exited), so CRIU cannot take it for the host's either.
c_fuse() {
	local name=fuse mnt=$T_TMP/fuse pid
	mkdir -p "$T_TMP/fuse-src" "$mnt"
	if ! bindfs "$T_TMP/fuse-src" "$mnt" 2>"$T_TMP/bindfs.err"; then
		t_skip "fuse: bindfs cannot mount here: $(head -n 1 "$T_TMP/bindfs.err")"
		return 0
	fi
	z_start "$name" counter || { fusermount -u "$mnt"; return 0; }
	pid=$(z_pid "$name")
	c_check "fuse: the session does not see the host's FUSE mount" \
		sh -c "! grep -q ' - fuse' /proc/$pid/mountinfo"
	c_check "fuse: the host unmounts it" fusermount -u "$mnt"
	c_ckpt "$name" --kill || true
	c_report "$name: xckpt checkpoint --kill after a FUSE mount came and went" ||
		return 0
	c_restart "$C_DIR" --detach || true
	c_report "$name: xckpt restart --detach" || return 0
	z_check "$name" "passes after the restart" || true
	c_check "$name: xckpt kill" "$XCKPT" kill "$name"
}

# c_tcp: a program with a TCP connection to a server outside the tree
# (tests/zdtm/tcp.c; the server: a loopback echo server of this test) is
# checkpointed with --kill and restarted: the connection comes back closed,
# and the program connects again.  CRIU 4.1.1 cannot dump an inet socket on
# kernels from 6.16 on (reading SO_PASSCRED fails there); 4.2 can: that
# case is a KNOWN skip, naming it.
c_tcp() {
	local name=tcp port srv log
	t_spawn python3 -c '
import socket, sys, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(8)
print(s.getsockname()[1], flush=True)
def echo(c):
    while True:
        d = c.recv(4096)
        if not d:
            break
        c.sendall(d)
while True:
    c, _ = s.accept()
    threading.Thread(target=echo, args=(c,), daemon=True).start()
' >"$T_TMP/echo.pid"
	srv=$(cat "$T_TMP/echo.pid")
	log=$T_TMP/spawn-$T_NSPAWN.log
	for i in $(seq 50); do
		port=$(head -n 1 "$log" 2>/dev/null)
		[ -n "$port" ] && break
		sleep 0.1
	done
	[ -n "$port" ] || { c_fail "tcp: the echo server did not start"; return 0; }
	z_start "$name" tcp ZDTM_TCP_PORT="$port" || return 0
	z_check "$name" "passes before the checkpoint" || true
	c_ckpt "$name" --kill || true
	if [ "$C_RC" -ne 0 ] && grep -q "Can't get 1:16 opt" "$C_ERR"; then
		t_skip "tcp: KNOWN: this CRIU ($(criu_version)) cannot dump an inet socket on kernel $(uname -r): $(head -n 1 "$C_ERR")"
		"$XCKPT" kill "$name" >/dev/null 2>&1
		t_stop "$srv"
		return 0
	fi
	if c_report "$name: xckpt checkpoint --kill with a TCP connection"; then
		c_restart "$C_DIR" --detach || true
		if c_report "$name: xckpt restart --detach"; then
			z_check "$name" "passes after the restart (connected again)" || true
			c_equal "$name: the connection came back closed and was made again once" 1 \
				"$(z_value "$name")"
			c_check "$name: xckpt kill" "$XCKPT" kill "$name"
		fi
	fi
	t_stop "$srv"
}

# criu_version: the version of the CRIU xckpt runs.
criu_version() {
	"${XCKPT_CRIU:-$(cat "$B/criu.path" 2>/dev/null || echo criu)}" --version 2>/dev/null |
		sed -n 's/^Version: //p'
}

c_progress
c_tcp
if command -v bindfs >/dev/null && command -v fusermount >/dev/null; then
	c_fuse
else
	t_skip "bindfs or fusermount is missing: the FUSE case"
fi
if command -v dbus-send >/dev/null && command -v gdbus >/dev/null; then
	c_dbus
else
	t_skip "dbus-send or gdbus is missing: the D-Bus case"
fi
LAST=""
c_chain
[ -z "$LAST" ] || c_foreground "$LAST"
t_done
