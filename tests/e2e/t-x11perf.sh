#!/bin/bash
# t-x11perf.sh: x11perf completes through the proxy: `xckpt run -- x11perf
# -time 1 -repeat 1 -noop -pointer -prop -rect10 -putimage10 -putimage100
# -getimage10 -ftext -create -map` exits 0 and prints a result line for
# every test (the -create and -map tests print one line per kid count).
. "$(dirname "$0")/lib.sh"

t_xvfb

# The result label of each test, as x11perf prints it after "reps @ ...: ".
labels=(
	"X protocol NoOperation"
	"QueryPointer"
	"GetProperty"
	"10x10 rectangle"
	"PutImage 10x10 square"
	"PutImage 100x100 square"
	"GetImage 10x10 square"
	"Char in 80-char line (6x13)"
	"Create and map subwindows (4 kids)"
	"Create and map subwindows (200 kids)"
	"Map window via parent (4 kids)"
	"Map window via parent (200 kids)"
)

out=$T_TMP/x11perf.out
timeout 240 "$XCKPT" run --name x11perf -- x11perf -time 1 -repeat 1 \
	-noop -pointer -prop -rect10 -putimage10 -putimage100 -getimage10 \
	-ftext -create -map >"$out" 2>"$T_TMP/x11perf.err"
rc=$?
t_equal "x11perf through the proxy exits 0" 0 "$rc"
[ $rc -eq 0 ] || { head -c 2000 "$T_TMP/x11perf.err"; tail -n 5 "$out"; }
for l in "${labels[@]}"; do
	t_check "a result line for '$l'" grep -qF "reps @" <(grep -F ": $l" "$out")
done
n=$(grep -c 'reps @' "$out")
t_equal "22 result lines (9 tests; -create and -map per kid count)" 22 "$n"
t_check "the results came through the proxy (x11perf names its display)" \
	sh -c "grep -q ' on :' '$out' && ! grep -q ' on $T_DISPLAY\$' '$out'"
t_check "nothing on stderr" test ! -s "$T_TMP/x11perf.err"
[ -s "$T_TMP/x11perf.err" ] && head -c 1000 "$T_TMP/x11perf.err"

t_done
