#!/bin/bash
# t-apps.sh: xlogo, xeyes, xterm and gedit (showing a file) run through
# `xckpt run --detach`, and each window is pixel-identical to the same app
# run directly on the same Xvfb.
#
# For each app: run it directly, wait until its window has settled (for
# xterm and gedit: type a line into it through XTEST with the pointer
# inside, then park the pointer again), shoot it, end it; then run it
# through xckpt with the same geometry and environment, do the same, shoot
# and compare.  Typing checks that input events reach the app through the
# proxy (core events for xterm, XInput 2 for GTK) and change the window.
#
# The pointer is parked at a fixed place outside every window (xeyes looks
# at it); xterm does not blink; gedit gets a private XDG_CONFIG_HOME with
# gtk-cursor-blink=false, NO_AT_BRIDGE=1 and GSETTINGS_BACKEND=memory (its
# status bar, which shows a timing-dependent message, is left out).
. "$(dirname "$0")/lib.sh"

t_xvfb
xdotool mousemove 1010 750

# The environment both runs of an app get.
mkdir -p "$T_TMP/config/gtk-3.0"
printf '[Settings]\ngtk-cursor-blink=false\ngtk-enable-animations=false\n' \
	>"$T_TMP/config/gtk-3.0/settings.ini"
printf 'The quick brown fox\njumps over the lazy dog.\n\n\tcheckpoint/restart\n' \
	>"$T_TMP/hello.txt"
APP_ENV="NO_AT_BRIDGE=1 GSETTINGS_BACKEND=memory XDG_CONFIG_HOME=$T_TMP/config \
LANG=C.UTF-8 LC_ALL=C.UTF-8 DBUS_SESSION_BUS_ADDRESS=disabled: GIO_USE_VFS=local"

# t_app_pid NAME: the pid of session NAME's app (from its metadata).
t_app_pid() {
	sed -n 's/^app-pid=//p' "$XDG_RUNTIME_DIR/xckpt/$1.session" 2>/dev/null
}

# settle_and_type APP WHICH ID FILE: waits until window ID has settled; when
# TYPE_TEXT is set, types it (at TYPE_X,TYPE_Y) and checks that the window
# changed; shoots the result into FILE.
settle_and_type() {
	local app=$1 which=$2 wid=$3 file=$4
	if ! t_shot_stable "$wid" "$file"; then
		t_fail "$app: the $which window never settles"
		return 1
	fi
	[ -n "$TYPE_TEXT" ] || return 0
	cp "$file" "$T_TMP/$app-$which-before.png"
	if ! t_type_into "$wid" "$TYPE_X" "$TYPE_Y" "$TYPE_TEXT"; then
		t_fail "$app: typing into the $which window"
		return 1
	fi
	if ! t_shot_stable "$wid" "$file"; then
		t_fail "$app: the $which window never settles after typing"
		return 1
	fi
	if [ "$(t_diff_pixels "$T_TMP/$app-$which-before.png" "$file")" = 0 ]; then
		t_fail "$app: typing changed nothing in the $which window"
		return 1
	fi
	t_ok "$app: typed text shows in the $which window"
}

# compare_app APP TITLE-REGEX CMD...: the check described above.
compare_app() {
	local app=$1 title=$2 pid wid direct=$T_TMP/$1-direct.png
	local proxied=$T_TMP/$1-proxied.png name=app-$1 apid pd
	shift 2

	# Directly on the Xvfb.
	pid=$(t_spawn env $APP_ENV "$@")
	if ! wid=$(t_wait_window "$title" 30); then
		t_fail "$app: no window direct"
		return
	fi
	settle_and_type "$app" direct "$wid" "$direct" || return
	t_stop "$pid"
	t_window_gone "$wid" 10 || t_fail "$app: the direct window stays"

	# Through xckpt.
	if ! t_run_detached "$name" env $APP_ENV "$@"; then
		t_fail "$app: xckpt run --detach"
		return
	fi
	t_ok "$app: xckpt run --detach"
	if ! wid=$(t_wait_window "$title" 30); then
		t_fail "$app: no window through xckpt on the upstream Xvfb"
		return
	fi
	t_ok "$app: its window is on the upstream Xvfb $T_DISPLAY"
	pd=$(t_session_field "$name" 3)
	t_equal "$app: xckpt list shows the session on $T_DISPLAY" \
		"$T_DISPLAY" "$(t_session_field "$name" 4)"
	apid=$(t_app_pid "$name")
	t_check "$app: the app ($apid) talks to the proxy ($pd)" \
		grep -qxF "DISPLAY=$pd" <(tr '\0' '\n' <"/proc/$apid/environ")
	if settle_and_type "$app" proxied "$wid" "$proxied"; then
		if [ "${CHOP_BOTTOM:-0}" -gt 0 ]; then
			for f in "$direct" "$proxied"; do
				convert "$f" -gravity south -chop "0x$CHOP_BOTTOM" "$f"
			done
		fi
		t_same_png "$app: proxied window is pixel-identical to direct${CHOP_BOTTOM:+ (but for the bottom $CHOP_BOTTOM rows)}" \
			"$direct" "$proxied"
	fi
	t_check "$app: xckpt kill" "$XCKPT" kill "$name"
	t_check "$app: window gone after kill" t_window_gone "$wid" 10
}

TYPE_TEXT=""
compare_app xlogo '^xlogo$' xlogo -geometry 300x200+20+20
compare_app xeyes '^xeyes$' xeyes -geometry 300x200+340+20
TYPE_TEXT='echo typed through $((6 * 7))' TYPE_X=100 TYPE_Y=100
compare_app xterm '^xckpt-xterm$' xterm -geometry 80x24+20+240 \
	-title xckpt-xterm -xrm 'XTerm*cursorBlink: false' \
	-e env PS1='$ ' sh
TYPE_TEXT='Typed through xckpt.' TYPE_X=300 TYPE_Y=300
# gedit's status bar says "Loading file ..." only when loading happened to
# take long enough (it varies under load, with or without the proxy), and
# the message then stays: the comparison leaves out the status bar (the
# bottom 30 rows).  Everything else is compared, typed text included.
CHOP_BOTTOM=30
compare_app gedit '^hello\.txt.*gedit$' gedit --standalone "$T_TMP/hello.txt"

t_done
