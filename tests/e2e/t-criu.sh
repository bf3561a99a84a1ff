#!/bin/sh
# t-criu.sh: the criu that `make deps` recorded in $B/criu.path can dump a
# small process tree (a counting loop in its own session) and restore it
# detached, after which it is the same pid and goes on counting.  This proves
# the CRIU provisioning of resources/deps.sh on this machine.
set -eu
cd "$(dirname "$0")/../.."

B=${B:-build}
T=t-criu
FAILED=0
PID=
DIR=

# t_ok MESSAGE: print a passing check.
t_ok() {
	echo "ok $T: $*"
}

# t_fail MESSAGE: print a failing check and remember the failure.
t_fail() {
	echo "FAIL $T: $*"
	FAILED=1
}

# t_die MESSAGE [LOG]: print a failing check, the tail of LOG if given, and
# stop the test.
t_die() {
	t_fail "$1"
	if [ $# -gt 1 ] && [ -f "$2" ]; then
		grep -v RLIMIT_NOFILE "$2" | tail -n 5 | sed 's/^/    /'
	fi
	exit 1
}

# t_cleanup: end the loop (its whole process group, started here) and remove
# the temporary directory.
t_cleanup() {
	if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
		kill -KILL -- "-$PID" 2>/dev/null || kill -KILL "$PID" 2>/dev/null || true
	fi
	[ -z "$DIR" ] || rm -rf "$DIR"
}
trap t_cleanup EXIT
trap 'exit 1' INT TERM HUP

# t_count: print the loop's last count (0 when none yet).  The loop
# truncates and rewrites the file: an empty read is retried.
t_count() {
	tries=0
	c=
	while [ -z "$c" ] && [ $tries -lt 20 ]; do
		c=$(cat "$DIR/count" 2>/dev/null || true)
		tries=$((tries + 1))
		[ -n "$c" ] || sleep 0.01
	done
	echo "${c:-0}"
}

# t_wait_count MIN: wait up to 5 s for the count to reach MIN; the count
# reached is left in COUNT.
t_wait_count() {
	i=0
	while COUNT=$(t_count) && [ "$COUNT" -lt "$1" ]; do
		i=$((i + 1))
		[ $i -le 100 ] || return 1
		sleep 0.05
	done
}

[ -f "$B/criu.path" ] || t_die "no $B/criu.path: run 'make deps' first"
CRIU=$(cat "$B/criu.path")
[ -x "$CRIU" ] || t_die "recorded criu $CRIU is not executable"
DIR=$(mktemp -d /tmp/xckpt-t-criu.XXXXXX)
mkdir "$DIR/img"

# The loop runs in its own session (setsid), with no tty and /dev/null for
# stdio, so criu can dump it whole without --shell-job.
cd "$DIR"
setsid sh -c 'echo $$ >pid; i=0; while :; do i=$((i + 1)); echo $i >count; sleep 0.05; done' \
	</dev/null >/dev/null 2>&1 &
cd - >/dev/null
i=0
while [ ! -s "$DIR/pid" ]; do
	i=$((i + 1))
	[ $i -le 100 ] || t_die "the counting loop did not start"
	sleep 0.05
done
PID=$(cat "$DIR/pid")
t_wait_count 3 || t_die "the counting loop does not count"

"$CRIU" dump -t "$PID" -D "$DIR/img" -o dump.log -v4 >/dev/null 2>&1 ||
	t_die "criu dump failed" "$DIR/img/dump.log"
if kill -0 "$PID" 2>/dev/null; then
	t_fail "the loop still runs after criu dump"
else
	t_ok "criu dump of pid $PID ($(du -sk "$DIR/img" | cut -f1) KiB of images)"
fi
before=$(t_count)
sleep 0.3
[ "$(t_count)" = "$before" ] || t_fail "the count moved while the loop was dumped"

# The dumped pids can stay busy for a moment after the dump: retry.
tries=0
until "$CRIU" restore -D "$DIR/img" -o restore.log -v4 --restore-detached \
	--pidfile "$DIR/restored.pid" >/dev/null 2>&1; do
	tries=$((tries + 1))
	[ $tries -lt 20 ] || t_die "criu restore failed" "$DIR/img/restore.log"
	sleep 0.1
done
restored=$(cat "$DIR/restored.pid" 2>/dev/null || echo none)
if [ "$restored" = "$PID" ] && kill -0 "$PID" 2>/dev/null; then
	t_ok "criu restore brought back pid $PID"
else
	t_fail "criu restore brought back pid $restored, expected live pid $PID"
fi
if t_wait_count $((before + 3)); then
	t_ok "the restored loop goes on counting ($before -> $COUNT)"
else
	t_fail "the restored loop does not count on (stuck at $COUNT, dumped at $before)"
fi
exit $FAILED
