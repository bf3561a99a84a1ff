#!/bin/bash
# t-criu.sh: the criu that `make deps` recorded in $B/criu.path can dump a
# small process tree (a counting loop in its own session) and restore it
# detached, after which it is the same pid and goes on counting.  This proves
# the CRIU provisioning of resources/deps.sh on this machine.
. "$(dirname "$0")/lib.sh"
cd "$T_ROOT"

B=${B:-build}
PID=

# t_count: prints the loop's last count (0 when none yet).  The loop
# truncates and rewrites the file: an empty read is retried.
t_count() {
	local tries=0 c=
	while [ -z "$c" ] && [ $tries -lt 20 ]; do
		c=$(cat "$T_TMP/count" 2>/dev/null)
		tries=$((tries + 1))
		[ -n "$c" ] || sleep 0.01
	done
	echo "${c:-0}"
}

# t_wait_count MIN: waits up to 5 s for the count to reach MIN; leaves the
# count reached in COUNT.
t_wait_count() {
	local i=0
	while COUNT=$(t_count) && [ "$COUNT" -lt "$1" ]; do
		i=$((i + 1))
		[ $i -le 100 ] || return 1
		sleep 0.05
	done
}

# t_criu_log WHAT LOG: fails WHAT and shows the end of criu's LOG.
t_criu_log() {
	t_fail "$1"
	grep -v RLIMIT_NOFILE "$2" 2>/dev/null | tail -n 5 | sed 's/^/    /'
}

# t_end_loop: ends the loop's process group (started here), if it runs.
t_end_loop() {
	[ -n "$PID" ] || return 0
	kill -KILL -- "-$PID" 2>/dev/null
	t_stop "$PID"
}

if [ ! -f "$B/criu.path" ]; then
	t_fail "no $B/criu.path: run 'make deps' first"
	t_done
fi
CRIU=$(cat "$B/criu.path")
t_check "the recorded criu ($CRIU) is executable" test -x "$CRIU"
mkdir "$T_TMP/img"

# The loop runs in its own session (setsid), with no tty and /dev/null for
# stdio, so criu can dump it whole without --shell-job.
(cd "$T_TMP" && exec setsid sh -c \
	'echo $$ >pid; i=0; while :; do i=$((i + 1)); echo $i >count; sleep 0.05; done' \
	</dev/null >/dev/null 2>&1) &
disown # criu dump ends it: no "Killed" notice from bash
for i in $(seq 100); do
	[ -s "$T_TMP/pid" ] && break
	sleep 0.05
done
PID=$(cat "$T_TMP/pid" 2>/dev/null)
if [ -z "$PID" ] || ! t_wait_count 3; then
	t_fail "the counting loop does not start counting"
	t_end_loop
	t_done
fi
t_track "$PID"

if "$CRIU" dump -t "$PID" -D "$T_TMP/img" -o dump.log -v4 >/dev/null 2>&1; then
	t_ok "criu dump of pid $PID ($(du -sk "$T_TMP/img" | cut -f1) KiB of images)"
else
	t_criu_log "criu dump failed" "$T_TMP/img/dump.log"
	t_end_loop
	t_done
fi
if t_alive "$PID"; then
	t_fail "the loop still runs after criu dump"
else
	t_ok "the dump ended the loop"
fi
before=$(t_count)
sleep 0.3
t_equal "the count stays put while the loop is dumped" "$before" "$(t_count)"

# The dumped pids can stay busy for a moment after the dump: retry.
restored=
for i in $(seq 20); do
	if "$CRIU" restore -D "$T_TMP/img" -o restore.log -v4 --restore-detached \
		--pidfile "$T_TMP/restored.pid" >/dev/null 2>&1; then
		restored=$(cat "$T_TMP/restored.pid" 2>/dev/null || echo none)
		break
	fi
	sleep 0.1
done
if [ -z "$restored" ]; then
	t_criu_log "criu restore failed" "$T_TMP/img/restore.log"
	t_done
fi
if [ "$restored" = "$PID" ] && t_alive "$PID"; then
	t_ok "criu restore brought back pid $PID"
else
	t_fail "criu restore brought back pid $restored, expected live pid $PID"
fi
if t_wait_count $((before + 3)); then
	t_ok "the restored loop goes on counting ($before -> $COUNT)"
else
	t_fail "the restored loop does not count on (stuck at $COUNT, dumped at $before)"
fi
t_end_loop
t_done
