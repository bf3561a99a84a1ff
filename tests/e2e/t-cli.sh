#!/bin/bash
# t-cli.sh: the xckpt command line: help texts, run (foreground and
# --detach), list, kill, and the error cases of issue 2 §4-§5.
. "$(dirname "$0")/lib.sh"

# t_err WHAT RC CMD...: CMD exits RC and prints exactly one line on stderr
# (containing nothing on stdout).
t_err() {
	local what=$1 want=$2 rc lines
	shift 2
	"$@" >"$T_TMP/err.out" 2>"$T_TMP/err.err"
	rc=$?
	lines=$(wc -l <"$T_TMP/err.err")
	if [ "$rc" -eq "$want" ] && [ "$lines" -eq 1 ] && [ ! -s "$T_TMP/err.out" ]; then
		t_ok "$what: exit $rc, '$(cat "$T_TMP/err.err")'"
	else
		t_fail "$what: exit $rc (want $want), $lines stderr lines: $(head -c 300 "$T_TMP/err.err")"
	fi
}

# t_nothing_left WHAT: the state directory holds no session entry.
t_nothing_left() {
	local left
	left=$(ls -A "$XDG_RUNTIME_DIR/xckpt" 2>/dev/null)
	t_equal "$1: nothing left in the state directory" "" "$left"
}

# --- help and usage ---------------------------------------------------------
out=$("$XCKPT" --help)
t_check "xckpt --help exits 0" test $? -eq 0
for w in run list kill; do
	t_check "xckpt --help names '$w'" grep -q "^  $w " <<<"$out"
done
out=$("$XCKPT" run --help)
t_check "xckpt run --help exits 0" test $? -eq 0
for w in --name --display --detach COMMAND; do
	t_check "xckpt run --help describes $w" grep -q -- "$w" <<<"$out"
done
t_check "xckpt list --help exits 0" "$XCKPT" list --help >/dev/null
t_check "xckpt kill --help exits 0" "$XCKPT" kill --help >/dev/null
t_err "no command" 2 "$XCKPT"
t_err "unknown command" 2 "$XCKPT" frobnicate
t_err "unknown global option" 2 "$XCKPT" --frobnicate
t_err "unknown run option" 2 "$XCKPT" run --frobnicate -- true
t_err "run without COMMAND" 2 "$XCKPT" run --detach
t_err "invalid session name" 2 "$XCKPT" run --name ../x -- true
t_err "kill without NAME" 2 "$XCKPT" kill

# --- errors before any X server ---------------------------------------------
# Without any display a session runs with no proxy (issue 3 §1).
msg=$(env -u DISPLAY "$XCKPT" run -- sh -c 'echo "display=[$DISPLAY]"; exit 5' 2>&1) && rc=0 || rc=$?
t_equal "no DISPLAY: the app runs without a proxy, status passed through" "5" "$rc"
t_equal "no DISPLAY: the app sees no DISPLAY" "display=[]" "$msg"
t_err "kill of an unknown session" 1 "$XCKPT" kill no-such-session
t_nothing_left "after the early errors"

# --- foreground run -----------------------------------------------------------
t_xvfb
"$XCKPT" run -- sh -c 'exit 3'
t_equal "foreground exit status passes through" 3 $?
"$XCKPT" run -- sh -c 'kill -TERM $$'
t_equal "an app killed by SIGTERM gives 143" 143 $?
out=$("$XCKPT" run -- sh -c 'echo hello; echo oops >&2' 2>"$T_TMP/fg.err")
t_equal "stdout passes through" hello "$out"
t_equal "stderr passes through" oops "$(cat "$T_TMP/fg.err")"
"$XCKPT" run -- seq 1 200000 >"$T_TMP/seq.out"
seq 1 200000 >"$T_TMP/seq.want"
t_check "200000 lines of output arrive complete and in order" \
	cmp -s "$T_TMP/seq.out" "$T_TMP/seq.want"
timeout 20 "$XCKPT" run -- yes 2>/dev/null | head -n 2 >"$T_TMP/yes.out"
rc=${PIPESTATUS[0]}
t_equal "a closed stdout ends the app with SIGPIPE (xckpt run -- yes | head)" \
	141 "$rc"
out=$("$XCKPT" run -- sh -c 'echo "$DISPLAY $NO_AT_BRIDGE $GSETTINGS_BACKEND $XCKPT_SESSION"; test -r "$XAUTHORITY"')
t_equal "the app's environment points at the proxy" 0 $?
set -- $out
t_check "the app's DISPLAY ($1) is not the upstream ($T_DISPLAY)" test "$1" != "$T_DISPLAY"
t_equal "NO_AT_BRIDGE and GSETTINGS_BACKEND are set" "1 memory" "$2 $3"
t_check "XCKPT_SESSION names the session" test -n "${4:-}"
# The session tree: new IPC and UTS namespaces, a session of its own.
out=$("$XCKPT" run -- sh -c 'readlink /proc/self/ns/ipc /proc/self/ns/uts; ps -o sid= -p $$')
set -- $out
t_check "the app runs in a new IPC namespace ($1)" \
	test "$1" != "$(readlink /proc/self/ns/ipc)"
t_check "the app runs in a new UTS namespace ($2)" \
	test "$2" != "$(readlink /proc/self/ns/uts)"
t_check "the app runs in a session of its own (sid $3)" \
	test "${3:-}" != "$(ps -o sid= -p $$ | tr -d ' ')"
out=$(DISPLAY=:no-such-display "$XCKPT" run --display "$T_DISPLAY" -- \
	sh -c 'xdpyinfo >/dev/null && echo ok')
t_equal "--display overrides \$DISPLAY" ok "$out"
out=$("$XCKPT" run -- sh -c 'read x; echo "read:$?"')
t_equal "the app's stdin is /dev/null" "read:1" "$out"
t_check "xdpyinfo works through the proxy" \
	"$XCKPT" run -- xdpyinfo -queryExtensions >"$T_TMP/xdpyinfo.out"
t_nothing_left "after foreground runs"

# Orphans of the app end with the session.
"$XCKPT" run -- sh -c "sleep 1000 & echo \$! >'$T_TMP/orphan.pid'; exit 0"
orphan=$(cat "$T_TMP/orphan.pid")
if t_alive "$orphan"; then
	t_fail "the app's orphan $orphan outlived the session"
	kill -KILL "$orphan"
else
	t_ok "the app's orphan ended with the session"
fi

# Signals to the foreground xckpt reach the app.
code=5
for sig in INT TERM HUP; do
	"$XCKPT" run -- sh -c "trap 'echo got-$sig; exit $code' $sig; echo ready; while :; do sleep 0.1; done" \
		>"$T_TMP/sig.out" 2>&1 &
	fg=$!
	t_track "$fg"
	for i in $(seq 50); do grep -q ready "$T_TMP/sig.out" && break; sleep 0.1; done
	kill -$sig "$fg"
	wait "$fg"
	rc=$?
	t_untrack "$fg"
	t_equal "SIG$sig is forwarded to the app (its exit status)" $code "$rc"
	t_check "SIG$sig is forwarded to the app (its trap ran)" \
		grep -q "got-$sig" "$T_TMP/sig.out"
	code=$((code + 1))
done

# --- detach, list, kill -----------------------------------------------------
t_check "run --detach prints the name last and exits 0" \
	t_run_detached cli-a xlogo -geometry 200x150+10+10
t_check "xlogo's window appears on the upstream Xvfb" eval "t_wait_window ^xlogo$ >/dev/null"
listing=$("$XCKPT" list)
t_check "list has a header" grep -q '^NAME *PID *DISPLAY *UPSTREAM *STATE *COMMAND' <<<"$listing"
t_equal "list shows the upstream display" "$T_DISPLAY" "$(t_session_field cli-a 4)"
t_equal "list shows the command" "xlogo -geometry 200x150+10+10" \
	"$("$XCKPT" list | awk '$1 == "cli-a" { $1 = $2 = $3 = $4 = $5 = ""; sub(/^ */, ""); print }')"
pd=$(t_session_field cli-a 3)
xa=$XDG_RUNTIME_DIR/xckpt/cli-a.xauth
t_equal "the proxy's cookie file is private" 600 "$(stat -c %a "$xa")"
t_check "the session's proxy display $pd answers with its cookie" \
	env XAUTHORITY="$xa" xdpyinfo -display "$pd" >/dev/null
t_check "the proxy refuses a client without its cookie" \
	sh -c "! XAUTHORITY=/dev/null xdpyinfo -display '$pd' >/dev/null 2>&1"
t_err "a name already in use" 1 "$XCKPT" run --detach --name cli-a -- xlogo

# The control socket: a client speaking another protocol version is refused
# with a clear error; one speaking ours gets the session's metadata.
hello() {
	/usr/bin/python3 - "$XDG_RUNTIME_DIR/xckpt/cli-a.sock" "$1" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
def send(t, body):
    s.sendall(struct.pack("<II", t, len(body)) + body)
def recv():
    hdr = b""
    while len(hdr) < 8:
        hdr += s.recv(8 - len(hdr))
    t, n = struct.unpack("<II", hdr)
    body = b""
    while len(body) < n:
        body += s.recv(n - len(body))
    return t, body
send(1, struct.pack("<II", int(sys.argv[2]), 0))    # HELLO version, flags
t, body = recv()
if t == 2:                                          # ERROR
    print("ERROR " + body.decode())
    sys.exit(0)
send(8, b"")                                        # INFO
t, body = recv()
print("INFO " + body.decode().replace("\n", " "))
PY
}
out=$(hello 99)
t_check "a client speaking control protocol version 99 is refused ($out)" \
	grep -q "^ERROR .*version" <<<"$out"
out=$(hello 1)
t_check "a version-1 client gets the session's metadata" \
	grep -q "^INFO .*name=cli-a" <<<"$out"
t_check "the session still runs after the refused client" \
	eval "t_wait_window ^xlogo$ 2 >/dev/null"

# A session with several processes, one of which ignores SIGTERM.
t_check "run --detach of a process tree" t_run_detached cli-b \
	sh -c 'trap "" TERM; sleep 1000 & (trap "" TERM; sleep 1001) & exec sleep 1002'
for i in $(seq 50); do
	pids=$(t_session_pids cli-b | tr '\n' ' ')
	n=$(echo $pids | wc -w)
	[ "$n" -ge 4 ] && break
	sleep 0.1
done
t_check "the session tree has its daemon and 3+ processes ($pids)" test "$n" -ge 4
t_check "kill cli-b exits 0" "$XCKPT" kill cli-b
left=""
for p in $pids; do t_alive "$p" && left="$left $p"; done
t_equal "kill ended every process of the session" "" "$left"
t_check "the killed session is no longer listed" \
	sh -c "! '$XCKPT' list | awk '{ print \$1 }' | grep -qx cli-b"
t_check "its state files are gone" \
	sh -c "! ls '$XDG_RUNTIME_DIR/xckpt' | grep -q '^cli-b\\.'"

wid=$(t_wait_window ^xlogo$ 2)
t_check "kill cli-a exits 0" "$XCKPT" kill cli-a
t_check "xlogo's window is gone after kill" t_window_gone "$wid" 5
t_err "kill of a killed session" 1 "$XCKPT" kill cli-a

# A detached session whose app exits ends by itself and leaves nothing.
t_check "run --detach of a short-lived app" t_run_detached short sleep 0.5
for i in $(seq 50); do
	[ -z "$(ls -A "$XDG_RUNTIME_DIR/xckpt" | grep '^short\.')" ] && break
	sleep 0.1
done
t_check "the session ends when its app exits: no state files left" \
	sh -c "! ls '$XDG_RUNTIME_DIR/xckpt' | grep -q '^short\\.'"
t_check "and it is not listed" \
	sh -c "! '$XCKPT' list | awk '{ print \$1 }' | grep -qx short"

# The session daemon crashes (SIGKILL): the foreground xckpt says so in one
# line and exits 1, and nothing of the session is left running.
"$XCKPT" run --name crash -- sh -c "sleep 1000 & echo \$! >'$T_TMP/crash.pid'; wait" \
	>"$T_TMP/crash.out" 2>"$T_TMP/crash.err" &
fg=$!
t_track "$fg"
for i in $(seq 50); do [ -s "$T_TMP/crash.pid" ] && break; sleep 0.1; done
daemon=$(t_session_field crash 2)
orphan=$(cat "$T_TMP/crash.pid")
t_check "the crash session runs (daemon $daemon, child $orphan)" \
	test -n "$daemon" -a -n "$orphan"
kill -KILL "$daemon"
for i in $(seq 100); do t_alive "$fg" || break; sleep 0.1; done
wait "$fg"
rc=$?
t_untrack "$fg"
t_equal "xckpt run exits 1 when its daemon is killed" 1 "$rc"
t_equal "with one line on stderr" 1 "$(wc -l <"$T_TMP/crash.err")"
for i in $(seq 30); do t_alive "$orphan" || break; sleep 0.1; done
if t_alive "$orphan"; then
	t_fail "the session's process $orphan outlived its killed daemon"
	kill -KILL "$orphan"
else
	t_ok "the session's processes end with a killed daemon"
fi
t_equal "list no longer shows it" "" "$(t_session_field crash 1)"

# Sessions started at once get distinct names, and all of them run.
for i in 1 2 3 4; do
	"$XCKPT" run --detach -- sleep 1000 >"$T_TMP/par-$i.out" 2>&1 &
	par[$i]=$!
done
for i in 1 2 3 4; do wait "${par[$i]}"; done
names=$(cat "$T_TMP"/par-*.out | sort | tr '\n' ' ')
t_equal "four sessions started at once get four names" \
	"sleep-1 sleep-2 sleep-3 sleep-4 " "$names"
t_equal "and all four are listed" 4 "$("$XCKPT" list | grep -c ' sleep 1000$')"
for n in $names; do "$XCKPT" kill --grace 0.2 "$n"; done
t_equal "and killed" 0 "$("$XCKPT" list | grep -c ' sleep 1000$')"

# A stale entry (its daemon is dead) is cleaned up by list.
cat >"$XDG_RUNTIME_DIR/xckpt/stale.session" <<EOF
[session]
version=1
name=stale
pid=999999
display=:1
upstream=:0
command=true;
EOF
out=$("$XCKPT" list | awk 'NR > 1 { print $1 }')
t_equal "list does not show a stale session" "" "$out"
t_check "list removed the stale entry" test ! -e "$XDG_RUNTIME_DIR/xckpt/stale.session"
t_nothing_left "after list, kill and stale clean-up"

# --- start-up errors: one line, exit 1, nothing left behind ------------------
t_err "a missing command" 1 "$XCKPT" run -- no-such-command-xckpt
range=${XCKPT_TEST_DISPLAYS:-50-99}
for n in $(seq "${range#*-}" -1 "${range%-*}"); do
	t_display_free "$n" && break
done
t_err "an unreachable display" 1 "$XCKPT" run --display ":$n" -- true
t_nothing_left "after an unreachable display"

# A refused cookie: an Xvfb with -auth FILE, and a wrong cookie for it.
t_stop "$T_XVFB_PID"
good=$T_TMP/good.xauth
bad=$T_TMP/bad.xauth
: >"$good"
: >"$bad"
# The display number is not known yet: write the cookie for every display of
# the range (a wildcard entry is not honoured by every client).
cookie=$(mcookie)
wrong=$(mcookie)
for n in $(seq "${range%-*}" "${range#*-}"); do
	echo "add :$n MIT-MAGIC-COOKIE-1 $cookie"
done | xauth -f "$good" -q source - 2>/dev/null
for n in $(seq "${range%-*}" "${range#*-}"); do
	echo "add :$n MIT-MAGIC-COOKIE-1 $wrong"
done | xauth -f "$bad" -q source - 2>/dev/null
export XAUTHORITY=$good
t_xvfb -auth "$good"
t_check "xdpyinfo with the right cookie works" xdpyinfo >/dev/null
XAUTHORITY=$bad t_err "a refused cookie" 1 "$XCKPT" run -- true
t_nothing_left "after a refused cookie"
t_check "the right cookie works through xckpt" eval "\"\$XCKPT\" run -- xdpyinfo >/dev/null"

# The X server goes away under a running session: the app's connections are
# closed, the session ends with a message, and nothing is left behind.
"$XCKPT" run --name lost -- xlogo >"$T_TMP/lost.out" 2>"$T_TMP/lost.err" &
fg=$!
t_track "$fg"
t_check "xlogo runs before its X server goes away" \
	eval "t_wait_window ^xlogo$ 20 >/dev/null"
pids=$(t_session_pids lost | tr '\n' ' ')
t_stop "$T_XVFB_PID"
for i in $(seq 150); do t_alive "$fg" || break; sleep 0.1; done
if t_alive "$fg"; then
	t_fail "xckpt run still runs 15 s after its X server went away"
else
	wait "$fg"
	rc=$?
	t_check "xckpt run exits non-zero when the X server goes away (exit $rc)" \
		test "$rc" -ne 0
	t_untrack "$fg"
fi
t_check "it says the display was lost: $(tail -n 1 "$T_TMP/lost.err")" \
	grep -q "lost" "$T_TMP/lost.err"
left=""
for p in $pids; do t_alive "$p" && left="$left $p"; done
t_equal "no process of the session is left" "" "$left"
t_nothing_left "after the X server went away"

t_done
