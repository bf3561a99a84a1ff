#!/bin/bash
# t-ckpt-errors.sh: bad input to checkpoint and restart (issue 3 §5), the
# busy-pid case (§3), the listings (§4) and the checkpoint's permissions
# (§2).  Every bad input must give exactly one line on stderr naming the
# problem, a non-zero exit, and change nothing on disk: the checkpoint
# directory is compared (paths, sizes, modes, owners, SHA-256) before and
# after, and no session may appear.
. "$(dirname "$0")/ckpt-lib.sh"

# c_err WHAT PATTERN CMD...: CMD exits non-zero and prints exactly one line
# on stderr, which matches the extended regular expression PATTERN (case
# insensitive; empty: anything).  The line is left in C_MSG.
c_err() {
	local what=$1 pat=$2 rc=0 lines
	shift 2
	"$@" >"$T_TMP/err.out" 2>"$T_TMP/err.err" || rc=$?
	lines=$(wc -l <"$T_TMP/err.err")
	C_MSG=$(head -c 400 "$T_TMP/err.err" | tr '\n' ' ')
	if [ $rc -ne 0 ] && [ "$lines" -eq 1 ] &&
		{ [ -z "$pat" ] || grep -Eqi -- "$pat" "$T_TMP/err.err"; }; then
		c_ok "$what: exit $rc: $C_MSG"
		return 0
	fi
	c_fail "$what: exit $rc, $lines lines on stderr${pat:+ (want one matching /$pat/)}: $C_MSG"
	c_criu_log "$T_TMP/err.err"
	return 1
}

# c_state: what must not change on a failed restart: the sessions, the
# state directory's entries (but CRIU's logs, which are diagnostics), and the
# checkpoints under $XDG_DATA_HOME.
c_state() {
	t_sessions
	ls -A "$XDG_RUNTIME_DIR/xckpt" 2>/dev/null | grep -v '\.log$' || true
	find "$XDG_DATA_HOME" -printf '%p %s %m %u\n' 2>/dev/null | LC_ALL=C sort
}

# c_ckpts: the checkpoints (and anything else, logs excepted) inside the
# session directories of $XDG_DATA_HOME/xckpt: a failed checkpoint may
# leave an empty session directory, but no checkpoint, whole or half.
c_ckpts() {
	find "$XDG_DATA_HOME/xckpt" -mindepth 2 -printf '%p %s %m %u\n' 2>/dev/null |
		grep -v '\.log ' | LC_ALL=C sort
}

# c_bad_restart WHAT DIR PATTERN: `xckpt restart DIR --detach` fails with one
# line matching PATTERN; DIR and the rest of the state are unchanged; the
# program of the good checkpoint did not come back.
c_bad_restart() {
	local what=$1 dir=$2 pat=$3 snap state
	snap=$(c_snapshot "$dir")
	state=$(c_state)
	c_err "restart of $what" "$pat" "$XCKPT" restart "$dir" --detach || true
	c_same "$what: the checkpoint directory is unchanged" "$snap" "$(c_snapshot "$dir")"
	c_same "$what: sessions, state and checkpoints are unchanged" "$state" "$(c_state)"
	if t_alive "$GPID"; then
		c_fail "$what: the checkpointed program (pid $GPID) runs again"
		kill -KILL "$GPID"
	else
		c_ok "$what: nothing was restored"
	fi
}

# c_copy CASE: a copy of the good checkpoint in $T_TMP/bad/CASE; prints it.
c_copy() {
	mkdir -p "$T_TMP/bad"
	cp -a "$GOOD" "$T_TMP/bad/$1"
	echo "$T_TMP/bad/$1"
}

# c_largest_image DIR: the largest file of DIR/images.
c_largest_image() {
	find "$1/images" -type f -printf '%s %p\n' | sort -n | tail -n 1 | cut -d' ' -f2-
}

# c_flip FILE: inverts one byte in the middle of FILE (same size).
c_flip() {
	python3 -c 'import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(0, 2); n = f.tell() // 2; f.seek(n); b = f.read(1)
    f.seek(n); f.write(bytes([b[0] ^ 0xff]))' "$1"
}

# c_json_has WHAT FILE STRING...: FILE parses as JSON and every STRING is
# (part of) one of its string values or equal to a number in it.
c_json_has() {
	local what=$1 file=$2 rc=0
	shift 2
	python3 -c 'import json, sys
def walk(v):
    if isinstance(v, dict):
        for k, x in v.items():
            yield str(k); yield from walk(x)
    elif isinstance(v, list):
        for x in v: yield from walk(x)
    else: yield str(v)
vals = list(walk(json.load(open(sys.argv[1]))))
miss = [s for s in sys.argv[2:] if not any(s in v for v in vals)]
if miss: sys.exit("missing: " + ", ".join(miss))' "$file" "$@" 2>"$T_TMP/json.err" || rc=$?
	if [ $rc -eq 0 ]; then
		c_ok "$what"
	else
		c_fail "$what ($(tail -n 1 "$T_TMP/json.err"))"
	fi
}

# --- a good checkpoint, left running; the busy-pid case --------------------
z_start good counter || t_done
GPID=$(z_pid good)
z_check good "passes before the checkpoint" || true
c_ckpt good || true
c_report "good: xckpt checkpoint (leave running)" || t_done
GOOD=$C_DIR
[ -d "$GOOD" ] || {
	c_fail "good: no checkpoint directory '$GOOD'"
	t_done
}
c_perms "$GOOD"
c_check "\$XDG_DATA_HOME/xckpt/good is 0700" test "$(stat -c %a "$XDG_DATA_HOME/xckpt/good")" = 700
tree=$(t_session_pids good | tr '\n' ' ')
names=$(for p in $tree; do cat "/proc/$p/comm" 2>/dev/null; done | sort -u | paste -sd'|')
snap=$(c_snapshot "$GOOD")
c_err "restart while the original still holds the pids (busy pid)" \
	"(^|[^0-9])($(echo $tree | tr ' ' '|'))([^0-9]|$)|$names" \
	"$XCKPT" restart "$GOOD" --detach --name good-again || true
c_same "busy pid: the checkpoint directory is unchanged" "$snap" "$(c_snapshot "$GOOD")"
c_check "busy pid: the original session is still listed" c_listed good
c_equal "busy pid: no other session appeared" good "$(t_sessions | paste -sd' ')"
z_check good "busy pid: the original still passes" || true
c_check "xckpt kill good" "$XCKPT" kill good
c_check "good ended" c_wait_gone $tree

# A pid of the checkpoint held by a process outside any session: a `sleep`
# made to get the program's pid through ns_last_pid.
hold=""
for i in $(seq 50); do
	echo $((GPID - 1)) >/proc/sys/kernel/ns_last_pid 2>/dev/null || break
	sleep 300 &
	if [ $! -eq "$GPID" ]; then
		hold=$!
		break
	fi
	kill $!
	wait $! 2>/dev/null || true
done
if [ -n "$hold" ]; then
	t_track "$hold"
	snap=$(c_snapshot "$GOOD")
	state=$(c_state)
	c_err "restart while pid $GPID is held by a sleep (busy pid)" \
		"(^|[^0-9])$GPID([^0-9]|$)|sleep" "$XCKPT" restart "$GOOD" --detach || true
	c_same "held pid: the checkpoint directory is unchanged" "$snap" "$(c_snapshot "$GOOD")"
	c_same "held pid: sessions, state and checkpoints are unchanged" "$state" "$(c_state)"
	c_check "held pid: the sleep still runs" t_alive "$hold"
	t_stop "$hold" || true
else
	t_skip "cannot make a process with pid $GPID (ns_last_pid): held-pid case"
fi

# --- listings -------------------------------------------------------------
z_start other envcwd || true
c_ckpt other --kill || true
c_report "other: xckpt checkpoint --kill" || true
OTHER=$C_DIR
out=$T_TMP/list.out
c_check "xckpt list --checkpoints exits 0" sh -c '"$XCKPT" list --checkpoints >"$1"' - "$out"
c_check "list --checkpoints shows the checkpoint of good ($GOOD)" \
	grep -qF -e "$GOOD" -e "$(basename "$GOOD")" "$out"
c_check "list --checkpoints shows the checkpoint of other ($OTHER)" \
	grep -qF -e "$OTHER" -e "$(basename "$OTHER")" "$out"
c_check "list --checkpoints shows the commands" grep -q "$ZDTM/counter" "$out"
"$XCKPT" list --checkpoints good >"$out" 2>&1 || true
c_check "list --checkpoints good shows good's" grep -qF "$GOOD" "$out"
c_check "list --checkpoints good does not show other's" \
	sh -c '! grep -qF -e "$1" -e "$2" "$3"' - "$OTHER" "$ZDTM/envcwd" "$out"
"$XCKPT" list --checkpoints --json >"$out.json" 2>"$out.err" || true
c_check "list --checkpoints --json parses" \
	sh -c 'python3 -c "import json,sys; json.load(sys.stdin)" <"$1"' - "$out.json"
c_json_has "list --checkpoints --json names both checkpoints and the sessions" "$out.json" \
	"$GOOD" "$OTHER" good other
"$XCKPT" list --checkpoints good --json >"$out.json" 2>"$out.err" || true
c_check "list --checkpoints good --json does not show other's" \
	sh -c '! grep -qF "$1" "$2" && python3 -c "import json,sys; json.load(sys.stdin)" <"$2"' - \
	"$OTHER" "$out.json"
c_check "xckpt inspect exits 0" sh -c '"$XCKPT" inspect "$1" >"$2"' - "$GOOD" "$out"
for w in good "$ZDTM/counter" "$(uname -r)"; do
	c_check "inspect shows '$w'" grep -qF -- "$w" "$out"
done
# (the criu xckpt runs: XCKPT_CRIU when set, else the one make deps recorded)
criu_v=$(${XCKPT_CRIU:-$(cat "$B/criu.path")} --version 2>/dev/null | sed -n 's/^Version: *//p')
c_check "inspect shows the CRIU version ($criu_v)" grep -qF -- "$criu_v" "$out"
"$XCKPT" inspect "$GOOD" --json >"$out.json" 2>"$out.err" || true
c_check "inspect --json parses" sh -c 'python3 -c "import json,sys; json.load(sys.stdin)" <"$1"' \
	- "$out.json"
c_json_has "inspect --json holds the session, command, kernel and CRIU version" "$out.json" \
	good "$ZDTM/counter" "$(uname -r)" "$criu_v"
c_err "inspect of a missing directory" "" "$XCKPT" inspect "$T_TMP/no-such-checkpoint" || true

# --- bad input to restart ------------------------------------------------------
c_bad_restart "a missing directory" "$T_TMP/no-such-checkpoint" ""
c_check "a missing directory: it was not created" test ! -e "$T_TMP/no-such-checkpoint"
mkdir -m 0700 "$T_TMP/empty"
c_bad_restart "an empty directory" "$T_TMP/empty" ""
d=$(c_copy truncated-image)
f=$(c_largest_image "$d")
truncate -s $(($(stat -c %s "$f") / 2)) "$f"
c_bad_restart "a truncated image ($(basename "$f"))" "$d" ""
d=$(c_copy missing-image)
rm "$d/images/pstree.img"
c_bad_restart "a missing image (pstree.img)" "$d" ""
# The largest image is a page image: its contents are summed beside CRIU's
# restore, and the restored tree is killed before it runs (the gate).
d=$(c_copy corrupt-image)
f=$(c_largest_image "$d")
c_flip "$f"
c_bad_restart "a corrupt page image (one byte of $(basename "$f"))" "$d" \
	"$(basename "$f").*(corrupt|checksum)"
c_check "a corrupt page image: nothing of the tree CRIU killed is left, not even a zombie" \
	test ! -e "/proc/$GPID"
c_check "a corrupt page image: no CRIU log is left (the error is the verification's)" \
	sh -c '! ls "$1"/*.restore.log >/dev/null 2>&1' - "$XDG_RUNTIME_DIR/xckpt"
# An image CRIU parses is verified before CRIU starts.
d=$(c_copy corrupt-pstree)
c_flip "$d/images/pstree.img"
c_bad_restart "a corrupt image that CRIU parses (one byte of pstree.img)" "$d" \
	"pstree.img.*(corrupt|checksum)"
d=$(c_copy truncated-manifest)
head -n 2 "$d/MANIFEST" >"$d/MANIFEST.new" && mv "$d/MANIFEST.new" "$d/MANIFEST"
chmod 0600 "$d/MANIFEST"
c_bad_restart "a truncated MANIFEST" "$d" ""
d=$(c_copy missing-meta)
rm "$d/xckpt.meta"
c_bad_restart "a missing xckpt.meta" "$d" ""
d=$(c_copy corrupt-meta)
printf '\x00\x01garbage [[[\n' >"$d/xckpt.meta"
c_bad_restart "a corrupt xckpt.meta" "$d" ""
d=$(c_copy newer-format)
sed -i -E 's/^format=[0-9]+$/format=99/' "$d/xckpt.meta"
c_check "newer format: the copy says format=99" grep -qx 'format=99' "$d/xckpt.meta"
c_bad_restart "metadata of a newer format version (format=99)" "$d" "version|format|newer"
d=$(c_copy other-user)
chown -R 4242:4242 "$d"
c_bad_restart "images owned by another user (uid 4242)" "$d" "own|user|uid"
c_check "the good checkpoint still restarts after all that" c_restart "$GOOD" --detach
z_check good "passes after the restart of the good checkpoint" || true
c_check "xckpt kill good (restarted)" "$XCKPT" kill good
c_check "good ended" c_wait_gone "$GPID"

# --- a checkpoint of an unknown session --------------------------------------
state=$(c_state)
c_err "checkpoint of an unknown session" "" "$XCKPT" checkpoint no-such-session || true
c_err "checkpoint --kill of an unknown session" "" "$XCKPT" checkpoint no-such-session --kill || true
c_same "unknown session: nothing changed" "$state" "$(c_state)"

# --- CRIU fails at restart: a file the program holds is gone -------------------
if z_start crfail fileoffset; then
	GPID=$(z_pid crfail)
	z_check crfail "passes before the checkpoint" || true
	c_ckpt crfail --kill || true
	c_report "crfail: xckpt checkpoint --kill" || true
	CR=$C_DIR
	c_wait_gone "$GPID" || true
	held=$(z_dir crfail)/fileoffset.ro
	mv "$held" "$held.away"
	snap=$(c_snapshot "$CR")
	state=$(c_state)
	log=""
	if c_err "restart when a file the program held is gone (CRIU fails)" '\.log' \
		"$XCKPT" restart "$CR" --detach; then
		log=$(grep -o '/[^ :]*\.log' "$T_TMP/err.err" | head -n 1)
		c_check "CRIU failure: the log it names ($log) exists and holds CRIU's error" \
			grep -q Error "$log"
		# The log may live in the checkpoint directory: leave it out.
		rel=${log#"$CR"/}
		snap=$(echo "$snap" | grep -vF "./$rel")
		c_same "CRIU failure: the checkpoint directory is unchanged (but for the log)" \
			"$snap" "$(c_snapshot "$CR" | grep -vF "./$rel")"
	fi
	c_same "CRIU failure: no session, state unchanged" "$state" "$(c_state)"
	if t_alive "$GPID"; then
		c_fail "CRIU failure: the program (pid $GPID) runs again"
	else
		c_ok "CRIU failure: the program did not come back"
	fi
	mv "$held.away" "$held"
	c_restart "$CR" --detach || true
	c_report "crfail: restart once the file is back" && z_check crfail "passes after the restart" || true
	"$XCKPT" kill crfail >/dev/null 2>&1 || true
	c_wait_gone "$GPID" || true
fi

# --- CRIU fails at checkpoint: a unix connection to a peer outside -----------
sock=$T_TMP/outside.sock
python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)
c, _ = s.accept(); time.sleep(600)' "$sock" >/dev/null 2>&1 &
t_track $!
c_wait_file "$sock" 5 || true
peer=$T_TMP/state/outside
mkdir -p "$peer"
if "$XCKPT" run --detach --name outside -- /usr/bin/python3 -c 'import os, socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
open(sys.argv[2] + "/.r", "w").write(str(os.getpid())); os.rename(sys.argv[2] + "/.r", sys.argv[2] + "/ready")
time.sleep(600)' "$sock" "$peer" >/dev/null 2>"$T_TMP/run-outside.err" && c_wait_file "$peer/ready" 10; then
	opid=$(cat "$peer/ready")
	for k in "" --kill; do
		state=$(c_ckpts)
		c_err "checkpoint${k:+ $k} of a session connected outside (CRIU fails)" '\.log' \
			"$XCKPT" checkpoint outside $k || true
		c_same "CRIU failure at checkpoint${k:+ $k}: no checkpoint, no half directory" \
			"$state" "$(c_ckpts)"
		c_check "CRIU failure at checkpoint${k:+ $k}: the session still runs" t_alive "$opid"
		c_check "CRIU failure at checkpoint${k:+ $k}: the session is still listed" c_listed outside
	done
	"$XCKPT" kill outside >/dev/null 2>&1 || true
else
	c_fail "outside: xckpt run --detach of the connected program: $(head -n 2 "$T_TMP/run-outside.err")"
fi

# --- Ctrl-C during a checkpoint: undone, the session runs on ------------------
# A program with 300 MB resident, so that the dump lasts long enough to be
# interrupted while the session shows "checkpointing".
big=$T_TMP/state/big
mkdir -p "$big"
if "$XCKPT" run --detach --no-dbus --name big -- /usr/bin/python3 -c 'import os, sys, time
b = b"x" * (300 << 20)
open(sys.argv[1] + "/.r", "w").write(str(os.getpid())); os.rename(sys.argv[1] + "/.r", sys.argv[1] + "/ready")
time.sleep(600)' "$big" >/dev/null 2>"$T_TMP/run-big.err" && c_wait_file "$big/ready" 20; then
	bpid=$(cat "$big/ready")
	state=$(c_ckpts)
	"$XCKPT" checkpoint big >"$T_TMP/int.out" 2>"$T_TMP/int.err" &
	cpid=$!
	for _ in $(seq 1 500); do
		"$XCKPT" list | awk '$1 == "big" { print $5 }' | grep -qx checkpointing && break
		sleep 0.01
	done
	kill -INT "$cpid"
	rc=0
	wait "$cpid" || rc=$?
	c_check "Ctrl-C during a checkpoint: non-zero exit ($rc)" test "$rc" -ne 0
	c_equal "Ctrl-C during a checkpoint: one line on stderr" 1 "$(wc -l < "$T_TMP/int.err")"
	c_check "Ctrl-C during a checkpoint: the message says so" grep -q interrupted "$T_TMP/int.err"
	c_same "Ctrl-C during a checkpoint: no checkpoint, no half directory" "$state" "$(c_ckpts)"
	c_check "Ctrl-C during a checkpoint: the session still runs" t_alive "$bpid"
	c_equal "Ctrl-C during a checkpoint: the session is listed as running" running \
		"$("$XCKPT" list | awk '$1 == "big" { print $5 }')"
	"$XCKPT" kill big >/dev/null 2>&1 || true
else
	c_fail "big: xckpt run --detach of the 300 MB program: $(head -n 2 "$T_TMP/run-big.err")"
fi

t_done
