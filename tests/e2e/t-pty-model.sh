#!/bin/bash
# t-pty-model.sh: the terminal side of issue 5 without the session daemon
# and CRIU: a terminal session of tests/pty-standalone.c (ptysupport/ and
# src/attach.c) attached from tmux, the user's terminal here.  GNU screen
# with a status line, detach and reattach in a tmux of another size and of
# the same size (the kick), a take-over by a second attach, vim in the
# alternate screen, a shell redrawn from the model alone, and a standard
# input that is not a terminal.
#
# Environment: B (build directory, default build), where $B/pty-standalone
# is (made when missing).
. "$(dirname "$0")/lib.sh"

B=${B:-build}
case $B in /*) ;; *) B=$T_ROOT/$B ;; esac
PTYS=$B/pty-standalone
if [ ! -x "$PTYS" ]; then
	make -C "$T_ROOT" --no-print-directory B="$B" "$B/pty-standalone" \
		>"$T_TMP/make.log" 2>&1 || { t_fail "build pty-standalone"; t_done; }
fi
for tool in tmux screen vim; do
	command -v $tool >/dev/null || { t_skip "$tool is not installed"; }
done
command -v tmux >/dev/null || t_done

TMUX_SOCK=xckpt-pty-$$
unset TMUX DISPLAY
export TERM=xterm-256color
export SCREENDIR=$T_TMP/screen
mkdir -m 0700 "$SCREENDIR"

SCREEN_NAME=xckpt-t-$$

. "$(dirname "$0")/tmux-lib.sh"
trap tmux_cleanup EXIT

# serve NAME ROWS COLS CMD...: a terminal session at $T_TMP/NAME.sock;
# SERVE_PID is the server.  With SETSID=setsid, the server is a session
# leader (CRIU dumps whole sessions).
serve() {
	local name=$1 rows=$2 cols=$3
	shift 3
	${SETSID:-} "$PTYS" serve "$T_TMP/$name.sock" "$rows" "$cols" "$@" \
		>"$T_TMP/$name.serve" 2>&1 &
	SERVE_PID=$!
	t_track $!
	for _ in $(seq 50); do
		[ -S "$T_TMP/$name.sock" ] && return 0
		sleep 0.1
	done
	return 1
}

# attach WIN NAME COLS ROWS: a tmux session WIN (the user's terminal) of
# COLS x ROWS whose pane attaches to session NAME; the pane stays after the
# client ends, with its exit status on the last line.
attach() {
	local win=$1 name=$2 cols=$3 rows=$4
	local cmd="'$PTYS' attach '$T_TMP/$name.sock' $name; echo \"exit \$?\"; sleep 600"
	tm new-session -d -s "$win" -x "$cols" -y "$rows" "$cmd"
}

# capture_acs WINDOW: capture, with the box drawing characters that the
# redraw sends as Unicode written as the DEC line-drawing letters that tmux
# shows for cells drawn in that character set.
capture_acs() {
	capture "$1" | sed 's/┌/l/g; s/─/q/g; s/┐/k/g; s/└/m/g; s/┘/j/g; s/│/x/g'
}

# modes WINDOW: the pane's scroll region, alternate screen, cursor and
# other modes as tmux sees them.
modes() {
	tm display -p -t "=$1:" '#{scroll_region_upper} #{scroll_region_lower} #{alternate_on} #{cursor_x},#{cursor_y} #{cursor_flag} #{keypad_cursor_flag} #{keypad_flag} #{mouse_any_flag} #{mouse_sgr_flag} #{pane_height}x#{pane_width}'
}

# --- GNU screen with a status line ------------------------------------------
if command -v screen >/dev/null; then
	cat >"$T_TMP/screenrc" <<'EOF'
startup_message off
hardstatus alwayslastline "STATUS %n %t |%w"
shell /bin/sh
EOF
	serve scr 24 80 screen -c "$T_TMP/screenrc" -S "$SCREEN_NAME"
	t_check "screen runs on a pty" test -S "$T_TMP/scr.sock"
	attach a scr 80 24
	if wait_for a '^STATUS' 10; then
		t_ok "screen's status line shows in tmux"
	else
		t_fail "screen's status line shows in tmux: $(capture a | tail -3)"
	fi
	tm send-keys -t =a: C-a c
	sleep 0.5
	tm send-keys -t =a: 'echo marker-one' Enter
	wait_for a '^marker-one' 5
	settle a
	t_equal "status line on the last line (80x24)" "STATUS 1 sh |0 sh  1* sh" \
		"$(last_line a | sed 's/ *$//')"
	t_equal "screen is in the alternate screen" "1" \
		"$(modes a | cut -d' ' -f3)"
	# Detach with the detach key.
	tm send-keys -t =a: 'C-\'
	if wait_for a '^\[detached from session scr' 5 && wait_for a '^exit 0' 5; then
		t_ok "the detach key detaches (exit 0)"
	else
		t_fail "the detach key detaches: $(capture a | tail -3)"
	fi
	t_equal "the terminal's modes are back after detach" "0 23 0" \
		"$(modes a | cut -d' ' -f1-3)"

	# Reattach in a tmux of another size.
	attach b scr 100 30
	wait_for b '^STATUS' 10
	settle b
	t_equal "status line on the last line (100x30)" "STATUS 1 sh |0 sh  1* sh" \
		"$(last_line b | sed 's/ *$//')"
	t_equal "alternate screen and size (100x30)" "1 30x100" \
		"$(modes b | cut -d' ' -f3,10)"
	if capture b | grep -q '^marker-one'; then
		t_ok "contents kept across detach and reattach"
	else
		t_fail "contents kept across detach and reattach: $(capture b | head -3)"
	fi
	tm send-keys -t =b: 'seq 1 100' Enter
	wait_for b '^100' 5
	settle b
	t_equal "after 100 lines the status line is still last" \
		"STATUS 1 sh |0 sh  1* sh" "$(last_line b | sed 's/ *$//')"
	t_equal "the output scrolled above it" "100" \
		"$(tm capture-pane -p -t =b: | sed -n 28p | sed 's/ *$//')"
	before=$(capture b)
	# The scroll region is left out: screen sets it while it scrolls and
	# resets it when it redraws everything, which the kick makes it do.
	before_modes=$(modes b | cut -d' ' -f3-)

	# A second attach, same size: it takes over, and the kick makes screen
	# redraw although the size did not change.
	attach c scr 100 30
	if wait_for b 'attached elsewhere' 5; then
		t_ok "a second attach takes over (the first is told)"
	else
		t_fail "a second attach takes over: $(capture b | tail -3)"
	fi
	wait_for c '^STATUS' 10
	settle c
	t_equal "same size: the screen is the same" "$before" "$(capture c)"
	t_equal "same size: the modes are the same" "$before_modes" \
		"$(modes c | cut -d' ' -f3-)"
	tm send-keys -t =c: 'seq 101 150' Enter
	wait_for c '^150' 5
	settle c
	t_equal "same size: the status line stays last after output" \
		"STATUS 1 sh |0 sh  1* sh" "$(last_line c | sed 's/ *$//')"
	# The user's terminal is resized twice in a row.
	tm resize-window -t =c: -x 90 -y 26
	tm resize-window -t =c: -x 100 -y 30
	sleep 0.5
	settle c
	t_equal "two quick resizes: the status line is last" \
		"STATUS 1 sh |0 sh  1* sh" "$(last_line c | sed 's/ *$//')"
	tm send-keys -t =c: 'C-\'
	wait_for c '^exit 0' 5
	# Attach from a terminal of another size that is resized back to the
	# session's size at once: 30x100, 24x80, 30x100 must not look like no
	# change to screen.
	attach d scr 80 24
	tm resize-window -t =d: -x 100 -y 30
	wait_for d '^STATUS' 10
	sleep 0.5
	settle d
	t_equal "resized back at once: the status line is last" \
		"STATUS 1 sh |0 sh  1* sh" "$(last_line d | sed 's/ *$//')"
	tm send-keys -t =d: 'C-\'
	wait_for d '^exit 0' 5
fi

# --- vim in the alternate screen --------------------------------------------
if command -v vim >/dev/null; then
	printf 'first line\nsecond line\n' >"$T_TMP/file.txt"
	serve vim 24 80 sh -c "echo primary-text; vim -u NONE -i NONE -N -c 'set nomore' '$T_TMP/file.txt'; echo vim-done; exec cat"
	attach v1 vim 80 24
	wait_for v1 'second line' 10
	tm send-keys -t =v1: G o 'typed in insert mode'
	wait_for v1 'typed in insert mode' 5
	settle v1
	before=$(capture v1)
	before_modes=$(modes v1)
	tm send-keys -t =v1: 'C-\'
	wait_for v1 '^exit 0' 5
	attach v2 vim 80 24
	wait_for v2 'typed in insert mode' 10
	settle v2
	t_equal "vim: the screen is the same after reattach" "$before" "$(capture v2)"
	t_equal "vim: the modes are the same (alternate screen...)" "$before_modes" "$(modes v2)"
	tm send-keys -t =v2: ' and more' Escape ':wq' Enter
	if wait_for v2 '^vim-done' 10 && grep -q 'typed in insert mode and more' "$T_TMP/file.txt"; then
		t_ok "vim: still in insert mode, the file is written"
	else
		t_fail "vim: still in insert mode: $(cat "$T_TMP/file.txt")"
	fi
	check_primary() { tm capture-pane -p -t =v2: | grep -q "^primary-text"; }
	if check_primary; then
		t_ok "vim: the primary screen under vim's is back after vim"
	else
		t_fail "vim: the primary screen under vim's is back: $(capture v2 | head -5 | cat -A)"
	fi
	tm send-keys -t =v2: 'C-\'
	wait_for v2 '^exit 0' 5
fi

# --- a shell: the redraw alone must be right --------------------------------
cat >"$T_TMP/colors.sh" <<'EOF'
stty -echo
printf '\033]2;shell title\007'
printf 'plain \033[1mbold\033[0m \033[4munder\033[0m \033[7mrev\033[0m\n'
printf '\033[31mred\033[0m \033[38;5;200mc200\033[0m \033[38;2;10;200;30mrgb\033[0m \033[44mbluebg\033[0m\n'
printf 'wide: \344\270\255\346\226\207 box: \033(0lqqk\033(B\n'
printf '\033[?1h\033=\033[?2004h\033[?1002h\033[?1006h'
printf 'ready> '
exec cat >/dev/null
EOF
serve sh 24 80 sh "$T_TMP/colors.sh"
attach s1 sh 80 24
wait_for s1 'ready>' 10
settle s1
before=$(capture_acs s1)
before_modes=$(modes s1)
tm send-keys -t =s1: 'C-\'
wait_for s1 '^exit 0' 5
attach s2 sh 80 24
wait_for s2 'ready>' 10
settle s2
after=$(capture_acs s2)
t_equal "shell: the redraw gives the same screen (colours, wide, box)" "$before" "$after"
[ "$before" = "$after" ] || diff <(echo "$before") <(echo "$after") | cat -A
t_equal "shell: the redraw gives the same modes and cursor" "$before_modes" "$(modes s2)"
t_equal "shell: the title is back" "shell title" "$(tm display -p -t =s2: '#{pane_title}')"

# --- checkpoint and restore with CRIU ---------------------------------------
# The pty's termios and the model live in the process that holds the
# master: a CRIU dump and restore bring them back with no serialization.
CRIU=$(cat "$B/criu.path" 2>/dev/null || cat "$T_ROOT/build/criu.path" 2>/dev/null)
pid=
if [ -n "$CRIU" ] && [ -x "$CRIU" ]; then
	SETSID=setsid serve ck 24 80 sh -c 'stty -echo; printf "\033]2;ck title\007\033[31mred\033[0m before \033[1;4mbold\033[0m\n"; exec cat'
	pid=$SERVE_PID
	disown "$pid"	# CRIU kills it: no "Killed" from the shell
	attach k1 ck 80 24
	wait_for k1 'red before' 10
	tm send-keys -t =k1: typed1 Enter
	wait_for k1 '^typed1' 5
	settle k1
	before=$(capture k1)
	before_modes=$(modes k1)
	tm send-keys -t =k1: 'C-\'
	wait_for k1 '^exit 0' 5
	mkdir "$T_TMP/img"
	if "$CRIU" dump -t "$pid" -D "$T_TMP/img" -o dump.log >/dev/null 2>&1; then
		t_ok "criu dump of the process holding the master"
	else
		t_fail "criu dump: $(tail -3 "$T_TMP/img/dump.log")"
	fi
	# The app's pid may stay busy a moment (pid 1 reaps late here).
	for _ in $(seq 40); do
		"$CRIU" restore -D "$T_TMP/img" -d -o restore.log >/dev/null 2>&1 && break
		grep -q 'File exists' "$T_TMP/img/restore.log" || break
		sleep 0.25
	done
	if t_alive "$pid"; then
		t_ok "criu restore"
	elif grep -q "Can't open master pty" "$T_TMP/img/restore.log"; then
		# Another process took the pty's index in between: the session
		# daemon avoids this with a private devpts; this test cannot.
		t_skip "criu restore: the pty's index was taken meanwhile"
	else
		t_fail "criu restore: $(tail -3 "$T_TMP/img/restore.log")"
	fi
fi
if [ -n "$CRIU" ] && [ -x "$CRIU" ] && t_alive "$pid"; then
	attach k2 ck 80 24
	wait_for k2 'red before' 10
	settle k2
	t_equal "restored: the screen comes back from the model" "$before" "$(capture k2)"
	t_equal "restored: the modes and cursor too" "$before_modes" "$(modes k2)"
	t_equal "restored: the title too" "ck title" "$(tm display -p -t =k2: '#{pane_title}')"
	tm send-keys -t =k2: typed2 Enter
	wait_for k2 '^typed2' 5
	settle k2
	t_equal "restored: stty -echo is still in force (typed2 shows once)" 1 \
		"$(tm capture-pane -p -t =k2: | grep -c typed2)"
	tm send-keys -t =k2: 'C-\'
	wait_for k2 '^exit 0' 5
elif [ -z "$CRIU" ] || [ ! -x "$CRIU" ]; then
	t_skip "no working criu (make deps): checkpoint and restore"
fi

# --- bad input ---------------------------------------------------------------
"$PTYS" attach "$T_TMP/sh.sock" sh </dev/null >"$T_TMP/notty.out" 2>"$T_TMP/notty.err"
rc=$?
t_equal "stdin not a terminal: exit 1" 1 $rc
t_equal "stdin not a terminal: one line" 1 "$(wc -l <"$T_TMP/notty.err")"
echo "  ($(cat "$T_TMP/notty.err"))"

t_done
