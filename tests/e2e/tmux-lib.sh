# tests/e2e/tmux-lib.sh: the user's terminal in the terminal tests: a
# private tmux server (socket $TMUX_SOCK, set by the test), read back with
# capture-pane.  Sourced after lib.sh; never run.  The test's EXIT trap
# calls tmux_cleanup.

TMUX_SOCK=${TMUX_SOCK:-xckpt-$T_NAME-$$}

# tm ARGS...: tmux on our socket.
tm() {
	tmux -L "$TMUX_SOCK" -f /dev/null "$@"
}

# tmux_cleanup: ends our tmux server and a screen session named
# $SCREEN_NAME (when set), then the rest (lib.sh's t_cleanup).
tmux_cleanup() {
	tmux -L "$TMUX_SOCK" kill-server 2>/dev/null
	if [ -n "${SCREEN_NAME:-}" ] && command -v screen >/dev/null; then
		screen -S "$SCREEN_NAME" -X quit >/dev/null 2>&1
	fi
	t_cleanup
}

# capture WIN: the pane's text with attributes.  SGR sequences at the very
# end of a line are dropped: nothing follows them, so they show nothing, and
# tmux writes them or not depending on whether the cells after the text were
# ever written (by the app's first draw, or by a redraw from the model).
capture() {
	tm capture-pane -p -e -t "=$1:" | sed 's/\(\x1b\[[0-9;]*m\)*$//'
}

# text WIN: the pane's text.
text() {
	tm capture-pane -p -t "=$1:"
}

# wait_for WIN REGEX [SECONDS]: waits until the pane's text matches.
wait_for() {
	local i
	for i in $(seq $((${3:-10} * 10))); do
		text "$1" | grep -Eq -- "$2" && return 0
		sleep 0.1
	done
	return 1
}

# settle WIN: waits (20 s at most) until the pane's contents stay the same
# for 0.5 s: longer than a size kick's second step (PTYTERM_KICK_MS).
settle() {
	local a b i
	a=$(capture "$1")
	for i in $(seq 40); do
		sleep 0.5
		b=$(capture "$1")
		[ "$a" = "$b" ] && return 0
		a=$b
	done
}

# last_line WIN: the pane's last line, trailing blanks removed.
last_line() {
	text "$1" | tail -n 1 | sed 's/ *$//'
}
