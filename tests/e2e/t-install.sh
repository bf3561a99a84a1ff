#!/bin/bash
# t-install.sh: `make install` into a temporary DESTDIR, with the default and
# with another PREFIX, puts the command, the man page and the bash completion
# where they belong; the man page renders without warnings; the completion
# completes commands, options and session names; the installed command runs.
. "$(dirname "$0")/lib.sh"
cd "$T_ROOT"

B=${B:-build}
DIR=$T_TMP

# t_install PREFIX: run make install with PREFIX into $DIR/dest-NAME and
# check the three installed files.
t_install() {
	dest=$DIR/dest$(echo "$1" | tr / -)
	if ! make -s --no-print-directory -o "$XCKPT" install B="$B" BIN="$XCKPT" \
		PREFIX="$1" DESTDIR="$dest" >"$DIR/install.log" 2>&1; then
		t_fail "make install PREFIX=$1 failed: $(tail -n1 "$DIR/install.log")"
		return 0
	fi
	root=$dest$1
	if [ -x "$root/bin/xckpt" ] && cmp -s "$root/bin/xckpt" "$XCKPT"; then
		t_ok "PREFIX=$1: bin/xckpt installed, executable, same as $XCKPT"
	else
		t_fail "PREFIX=$1: bin/xckpt missing, not executable or not $XCKPT"
	fi
	for f in share/man/man1/xckpt.1 share/bash-completion/completions/xckpt; do
		if [ -f "$root/$f" ] && [ ! -x "$root/$f" ]; then
			t_ok "PREFIX=$1: $f installed (mode $(stat -c %a "$root/$f"))"
		else
			t_fail "PREFIX=$1: $f missing or executable"
		fi
	done
	# Data files go to share/xckpt/, each a copy of the one in resources/.
	for f in "$root"/share/xckpt/*; do
		[ -f "$f" ] || continue
		if cmp -s "$f" "resources/${f##*/}"; then
			t_ok "PREFIX=$1: share/xckpt/${f##*/} installed, same as resources/${f##*/}"
		else
			t_fail "PREFIX=$1: share/xckpt/${f##*/} is not a copy of resources/${f##*/}"
		fi
	done
	strays=$(cd "$dest" && find . -type f | grep -v -e '/bin/xckpt$' \
		-e '/man1/xckpt.1$' -e '/completions/xckpt$' -e '/share/xckpt/[^/]*$' || true)
	[ -z "$strays" ] || t_fail "PREFIX=$1: unexpected files installed: $strays"
}

if [ ! -x "$XCKPT" ]; then
	t_fail "no $XCKPT: build it first (make)"
	t_done
fi

t_install /usr/local
t_install /opt/xckpt
root=$DIR/dest-usr-local/usr/local

man=$root/share/man/man1/xckpt.1
if [ -f "$man" ]; then
	warn=$(groff -man -ww -z "$man" 2>&1)
	if [ -z "$warn" ]; then
		t_ok "the man page renders without warnings (groff -man -ww)"
	else
		t_fail "groff warns about the man page: $(echo "$warn" | head -n1)"
	fi
	text=$(groff -man -Tutf8 "$man" 2>/dev/null | sed 's/.\x08//g')
	for w in 'xckpt run' 'xckpt list' 'xckpt kill' '--detach' '--display' '--name' \
		DISPLAY XAUTHORITY XDG_RUNTIME_DIR 'EXIT STATUS' FILES; do
		case $text in
		*"$w"*) ;;
		*) t_fail "the man page does not mention '$w'" ;;
		esac
	done
fi

# The completion, with a stand-in xckpt that lists two sessions.
comp=$root/share/bash-completion/completions/xckpt
if [ -f "$comp" ]; then
	mkdir "$DIR/stub"
	cat >"$DIR/stub/xckpt" <<-'EOF'
	#!/bin/sh
	case "$*" in
	list)
		echo 'NAME PID DISPLAY UPSTREAM STATE COMMAND'
		echo 'notes 100 :5 :0 running gedit'
		echo 'term 101 :6 :0 running xterm' ;;
	"list --checkpoints")
		echo 'TIME SESSION SIZE DIRECTORY COMMAND'
		echo '2026-11-25 13:00:00 notes 50M /tmp/ck/notes/1 gedit /tmp/x'
		echo '2026-11-25 13:01:00 term 9M /tmp/ck/term/2 xterm' ;;
	*) exit 2 ;;
	esac
	EOF
	chmod +x "$DIR/stub/xckpt"
	got=$(cd "$DIR" && PATH="$DIR/stub:$PATH" bash -c '
		. "$1"
		t() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _xckpt; echo "${COMPREPLY[*]}"; }
		t xckpt ""; t xckpt ki; t xckpt kill ""; t xckpt kill t; t xckpt run --d
		t xckpt checkpoint --kill n; t xckpt restart /tmp/ck/t; t xckpt inspect --j
		t xckpt run -- xte; t xckpt attach --detach-key n
		complete -p xckpt' _ "$comp" 2>&1)
	want="run list kill checkpoint restart inspect attach
kill
notes term
term
--display --detach-key --detach
notes
/tmp/ck/term/2
--json
xterm
none
complete -F _xckpt xckpt"
	if [ "$got" = "$want" ]; then
		t_ok "the completion completes commands, session names and options"
	else
		t_fail "the completion gave: $(echo "$got" | tr '\n' '|')"
	fi
fi

if out=$("$root/bin/xckpt" --help 2>&1) && echo "$out" | grep -q run; then
	t_ok "the installed xckpt --help runs and describes run"
else
	t_fail "the installed xckpt --help failed or does not describe run"
fi
t_done
