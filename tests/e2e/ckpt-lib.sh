# tests/e2e/ckpt-lib.sh: helpers for the checkpoint/restart tests
# (t-ckpt*.sh, issue 3).  Source it after nothing else:
#
#   . "$(dirname "$0")/ckpt-lib.sh"
#   z_start counter-a counter           # xckpt run --detach a zdtm program
#   z_check counter-a "before"          # SIGUSR1, expects STATEDIR/result PASS
#   c_ckpt counter-a --kill             # xckpt checkpoint; sets C_DIR
#   t_done
#
# It sources lib.sh (private XDG_RUNTIME_DIR, clean-up of the test's
# sessions), and adds a private XDG_DATA_HOME, so that checkpoints land in
# the test's temporary directory.  The zdtm programs (tests/zdtm/*.c) follow
# the protocol of tests/zdtm/zdtm.h: `PROG STATEDIR` writes STATEDIR/ready
# (its pid) and answers SIGUSR1 with STATEDIR/result.
#
# Environment: B (build directory, default build; the programs are in
# $B/zdtm and are built when missing), XCKPT (the binary), T_KEEP.
# Checks print "ok - WHAT" or "not ok - WHAT".

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
set -eu

B=${B:-build}
case $B in
/*) ;;
*) B=$T_ROOT/$B ;;
esac
ZDTM=$B/zdtm
export XDG_DATA_HOME=$T_TMP/data
mkdir -m 0700 "$XDG_DATA_HOME" "$T_TMP/state"
Z_PIDS=""
C_DIR=""
C_OUT=""
C_RC=0

# c_ok WHAT: prints a passed check.
c_ok() {
	T_PASSED=$((T_PASSED + 1))
	echo "ok - $*"
}

# c_fail WHAT: prints a failed check; keeps the temporary directory.
c_fail() {
	T_FAILED=$((T_FAILED + 1))
	T_KEEP=1
	echo "not ok - $*"
}

# c_check WHAT CMD...: ok when CMD exits 0.
c_check() {
	local what=$1 rc=0
	shift
	"$@" || rc=$?
	if [ $rc -eq 0 ]; then c_ok "$what"; else c_fail "$what (exit $rc: $*)"; fi
}

# c_equal WHAT EXPECTED ACTUAL: ok when both strings are equal.
c_equal() {
	if [ "$2" = "$3" ]; then
		c_ok "$1"
	else
		c_fail "$1 (expected '$2', got '$3')"
	fi
}

# c_same WHAT EXPECTED ACTUAL: like c_equal, for long multi-line texts
# (snapshots): a failure shows the first lines of the difference.
c_same() {
	if [ "$2" = "$3" ]; then
		c_ok "$1"
	else
		c_fail "$1 (differs)"
		diff <(echo "$2") <(echo "$3") | sed -n '2,9s/^/    # /p'
	fi
}

# c_indent FILE: prints FILE (at most 8 lines, without CRIU's harmless
# RLIMIT line) indented, as the detail of a failure.
c_indent() {
	[ -f "$1" ] || return 0
	grep -v RLIMIT_NOFILE "$1" | tail -n 8 | sed 's/^/    # /'
}

# c_criu_log FILE: prints the error lines of the CRIU log that an error
# message in FILE names (a *.log path), to explain a failure.
c_criu_log() {
	local log
	log=$(grep -o '/[^ :]*\.log' "$1" 2>/dev/null | head -n 1) || true
	[ -n "$log" ] && [ -f "$log" ] || return 0
	echo "    # $log:"
	grep -E 'Error|Warn' "$log" | grep -v RLIMIT_NOFILE | head -n 8 | sed 's/^/    #   /'
}

# c_now_ms: the time in milliseconds.
c_now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# c_wait_file FILE [SECONDS]: waits until FILE exists and is not empty.
c_wait_file() {
	local i
	for i in $(seq $((${2:-10} * 20))); do
		[ -s "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

# c_wait_gone PID... : waits up to 10 s until no PID runs.
c_wait_gone() {
	local i p left
	for i in $(seq 100); do
		left=""
		for p in "$@"; do
			if t_alive "$p"; then left="$left $p"; fi
		done
		[ -z "$left" ] && return 0
		sleep 0.1
	done
	echo "    # still running:$left" >&2
	return 1
}

# c_listed NAME: whether `xckpt list` shows session NAME.
c_listed() {
	"$XCKPT" list 2>/dev/null | awk 'NR > 1 { print $1 }' | grep -qxF "$1"
}

# z_dir NAME: the state directory of the zdtm program of session NAME.
z_dir() {
	echo "$T_TMP/state/$1"
}

# z_pid NAME: the pid of the zdtm program of session NAME (from its ready).
z_pid() {
	cat "$(z_dir "$1")/ready"
}

# z_start NAME PROG [VAR=VALUE...]: runs zdtm program PROG in a new detached
# session NAME (no DISPLAY), with the given extra environment; waits for it
# to be ready.  Fails (and reports) when it does not start.
z_start() {
	local name=$1 prog=$2 dir out rc=0
	shift 2
	dir=$(z_dir "$name")
	mkdir -p "$dir"
	rm -f "$dir/ready" "$dir/result"
	out=$(env "$@" "$XCKPT" run --detach --name "$name" -- "$ZDTM/$prog" "$dir" \
		2>"$T_TMP/run-$name.err") || rc=$?
	if [ $rc -ne 0 ] || [ "$(echo "$out" | tail -n 1)" != "$name" ]; then
		c_fail "$name: xckpt run --detach $prog (exit $rc, last line '$(echo "$out" | tail -n 1)')"
		c_indent "$T_TMP/run-$name.err"
		return 1
	fi
	if ! c_wait_file "$dir/ready" 10; then
		c_fail "$name: $prog did not write ready within 10 s"
		return 1
	fi
	Z_PIDS="$Z_PIDS $(z_pid "$name")"
	c_ok "$name: $prog runs in a detached session (pid $(z_pid "$name"))"
}

# z_check NAME WHAT: asks the program of NAME to check itself (SIGUSR1) and
# waits up to 15 s for its result; ok when it is PASS.
z_check() {
	local dir pid res
	dir=$(z_dir "$1")
	pid=$(z_pid "$1")
	rm -f "$dir/result"
	if ! kill -USR1 "$pid" 2>/dev/null; then
		c_fail "$1: $2 (pid $pid does not run)"
		return 1
	fi
	if ! c_wait_file "$dir/result" 15; then
		c_fail "$1: $2 (no result within 15 s)"
		return 1
	fi
	res=$(cat "$dir/result")
	if [ "$res" = PASS ]; then
		c_ok "$1: $2"
	else
		c_fail "$1: $2 ($res)"
		return 1
	fi
}

# z_value NAME: the value the counter of NAME wrote at its last check.
z_value() {
	cat "$(z_dir "$1")/value" 2>/dev/null || echo 0
}

# c_ckpt NAME [ARG...]: runs `xckpt checkpoint NAME ARG...`; sets C_RC, C_OUT
# (its stdout file), C_ERR (stderr file) and C_DIR (the last stdout line).
# Returns C_RC.
c_ckpt() {
	local n=$1
	shift
	C_OUT=$T_TMP/ckpt-$n.out
	C_ERR=$T_TMP/ckpt-$n.err
	C_RC=0
	"$XCKPT" checkpoint "$n" "$@" >"$C_OUT" 2>"$C_ERR" || C_RC=$?
	C_DIR=$(tail -n 1 "$C_OUT")
	return $C_RC
}

# c_restart DIR [ARG...]: runs `xckpt restart DIR ARG...` (add --detach);
# sets C_RC, C_OUT and C_ERR.  Returns C_RC.
c_restart() {
	local d=$1
	shift
	C_OUT=$T_TMP/restart.out
	C_ERR=$T_TMP/restart.err
	C_RC=0
	"$XCKPT" restart "$d" "$@" >"$C_OUT" 2>"$C_ERR" || C_RC=$?
	return $C_RC
}

# c_report WHAT: reports the last c_ckpt or c_restart: ok when it exited 0,
# else a failure with its stderr and the CRIU log it names.
c_report() {
	if [ "$C_RC" -eq 0 ]; then
		c_ok "$1"
		return 0
	fi
	c_fail "$1 (exit $C_RC)"
	c_indent "$C_ERR"
	c_criu_log "$C_ERR"
	return 1
}

# c_snapshot DIR: prints every path of DIR with its size, mode and owner, and
# every file's SHA-256: equal snapshots mean nothing changed.
c_snapshot() {
	(
		cd "$1" 2>/dev/null || { echo "no $1"; exit 0; }
		find . -printf '%p %s %m %u %g\n' | LC_ALL=C sort
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum
	)
}

# c_perms WHAT DIR: ok when every directory of DIR is 0700 and every file
# 0600 (and all belong to the caller).
c_perms() {
	local bad
	bad=$(find "$1" \( -type d ! -perm 0700 -printf 'dir %m %p\n' \) -o \
		\( -type f ! -perm 0600 -printf 'file %m %p\n' \) -o \
		\( ! -user "$(id -u)" -printf 'owner %u %p\n' \) | head -n 5)
	if [ -z "$bad" ]; then
		c_ok "$1: directories 0700, files 0600"
	else
		c_fail "$1: permissions: $(echo $bad)"
	fi
}

# c_cleanup: ends the zdtm programs the test started that still run (those
# a broken restart may have left outside any session), by pid, after
# checking that the pid is still one of ours (its command line names the
# test's directory); then lib.sh's clean-up.
c_cleanup() {
	set +e
	local p
	for p in $(t_sessions); do
		"$XCKPT" kill --grace 1 "$p" >/dev/null 2>&1
	done
	for p in $Z_PIDS; do
		if t_alive "$p" && tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null |
			grep -qF "$T_TMP/state/"; then
			kill -KILL "$p" 2>/dev/null
		fi
	done
	# chown'd copies are removable by root only: make them ours first.
	chown -R "$(id -u):$(id -g)" "$T_TMP" 2>/dev/null
	t_cleanup
}
trap c_cleanup EXIT

# Builds the programs when they are missing.
for p in "$T_ROOT"/tests/zdtm/*.c; do
	p=$(basename "$p" .c)
	if [ ! -x "$ZDTM/$p" ]; then
		make -s -C "$T_ROOT" --no-print-directory B="$B" zdtm >&2
		break
	fi
done
