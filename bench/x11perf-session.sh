#!/bin/sh
# bench/x11perf-session.sh: one x11perf run of the x11perf section, inside
# the session (setsid, or an xckpt session) that it was started in, set up
# the same way for every mode (see "Same conditions for every mode" in
# bench/README.md):
#
#   x11perf-session.sh MODE DISPLAY UPSTREAM SETTLE RELAY -- COMMAND...
#
# MODE says what is in the middle:
#   direct  nothing;
#   relay   the relay RELAY, started here as display :DISPLAY in front of
#           display :UPSTREAM and ended afterwards;
#   xtrace  xtrace, likewise (it takes no lock file, so one is taken for it);
#   proxy   the xckpt proxy: this is an xckpt session, and its daemon (our
#           parent) hosts the proxy.
# Then it waits SETTLE seconds, so that the process in the middle has been
# idle for as long in every mode when COMMAND (x11perf) starts, runs
# COMMAND, and prints "bench-cpu-ns N": the CPU time (ns, from schedstat) the
# process in the middle used meanwhile (nothing for direct).  Exits with
# COMMAND's status, or 1 when the relay or xtrace did not come up.  Unused
# arguments are given as "-".
set -u
mode=$1 disp=$2 up=$3 settle=$4 relay=$5
shift 6
mid=""		# the pid of the process in the middle
lock=""		# the lock file we took for xtrace

# Prints the CPU time (ns) that the live threads of process $1 used so far.
cpu() {
	cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }'
}

# Ends what we started in the middle and removes what it leaves behind.
cleanup() {
	case $mode in
	relay|xtrace)
		[ -z "$mid" ] || { kill -TERM "$mid" 2>/dev/null; wait "$mid" 2>/dev/null; }
		[ -z "$lock" ] || rm -f "$lock" "/tmp/.X11-unix/X$disp" ;;
	esac
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP

case $mode in
direct) ;;
proxy) mid=$PPID ;;
relay)
	"$relay" ":$disp" ":$up" 2>/dev/null &
	mid=$! ;;
xtrace)
	lock=/tmp/.X$disp-lock
	( set -C; echo "$$" >"$lock" ) 2>/dev/null || { lock=""; echo "display :$disp is taken" >&2; exit 1; }
	xtrace -n -k -d ":$up" -D ":$disp" -o /dev/null >/dev/null 2>&1 &
	mid=$! ;;
*)
	echo "x11perf-session.sh: unknown mode $mode" >&2
	exit 2 ;;
esac
case $mode in
relay|xtrace)
	i=0
	while [ ! -S "/tmp/.X11-unix/X$disp" ]; do
		if ! kill -0 "$mid" 2>/dev/null || [ $i -ge 1000 ]; then
			echo "$mode did not come up on display :$disp" >&2
			exit 1
		fi
		sleep 0.01
		i=$((i + 1))
	done ;;
esac
sleep "$settle"
[ -z "$mid" ] || a=$(cpu "$mid")
"$@"
st=$?
[ -z "$mid" ] || echo "bench-cpu-ns $(($(cpu "$mid") - a))"
exit $st
