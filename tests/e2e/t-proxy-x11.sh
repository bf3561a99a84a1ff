#!/bin/bash
# t-proxy-x11.sh: heavy X traffic through the proxy (issue 2, section 6).
#
#   - x11perf (-noop -pointer -prop -rect10 -putimage10 -putimage100
#     -getimage10 -ftext -create -map, short runs) completes through
#     `xckpt run`, every test reports a rate, and no X error shows;
#   - rendercheck gives, through the proxy, exactly the output it gives
#     directly (the same tests pass and fail, the same lines);
# each once as on a live server (identity maps) and once with
# XCKPT_XPROXY_REMAP=1, where every client gets resource IDs and extension
# codes other than the server's, so every ID field and extension code of
# every message is translated both ways.
. "$(dirname "$0")/lib.sh"

t_xvfb

X11PERF_TESTS="-noop -pointer -prop -rect10 -putimage10 -putimage100 -getimage10 -ftext -create -map"
# A rendercheck subset that covers RENDER's request kinds (fills, composites
# with every coordinate kind, blends, repeats, triangles, gradients) in well
# under a minute.
RC_ARGS="-t fill,dcoords,scoords,mcoords,tscoords,tmcoords,blend,repeat,triangles,bug7366,gtk_argb_xbgr,libreoffice_xrgb,gradients -f a8r8g8b8,x8r8g8b8,a8"

# shellcheck disable=SC2086
rendercheck $RC_ARGS >"$T_TMP/rc-direct.txt" 2>"$T_TMP/rc-direct.err"
t_check "rendercheck runs directly" grep -q "tests passed" "$T_TMP/rc-direct.txt"

for remap in 0 1; do
	what="maps: $([ $remap = 1 ] && echo remapped || echo identity)"
	# shellcheck disable=SC2086
	XCKPT_XPROXY_REMAP=$remap timeout 240 "$XCKPT" run --name "perf$remap" -- \
		x11perf -repeat 1 -time 1 -subs 4 $X11PERF_TESTS >"$T_TMP/perf$remap.txt" 2>&1
	rc=$?
	t_equal "x11perf through the proxy exits 0 ($what)" 0 "$rc"
	# shellcheck disable=SC2086
	t_equal "every x11perf test reports a rate ($what)" "$(echo $X11PERF_TESTS | wc -w)" \
		"$(grep -c ' reps @ ' "$T_TMP/perf$remap.txt")"
	t_check "no X error in x11perf's output ($what)" \
		sh -c "! grep -qi 'x error\|BadLength\|BadRequest\|BadWindow\|BadDrawable\|BadMatch' '$T_TMP/perf$remap.txt'"

	# shellcheck disable=SC2086
	XCKPT_XPROXY_REMAP=$remap timeout 240 "$XCKPT" run --name "rc$remap" -- \
		rendercheck $RC_ARGS >"$T_TMP/rc$remap.txt" 2>"$T_TMP/rc$remap.err"
	# (stdout and stderr apart: through xckpt they come through two pipes,
	# so their interleaving differs from a file shared by both)
	if cmp -s "$T_TMP/rc-direct.txt" "$T_TMP/rc$remap.txt" &&
	   cmp -s "$T_TMP/rc-direct.err" "$T_TMP/rc$remap.err"; then
		t_ok "rendercheck through the proxy says exactly what it says directly ($what): $(grep 'tests passed' "$T_TMP/rc$remap.txt")"
	else
		t_fail "rendercheck through the proxy differs ($what): $(diff "$T_TMP/rc-direct.txt" "$T_TMP/rc$remap.txt" | head -n 5 | tr '\n' ' ') $(diff "$T_TMP/rc-direct.err" "$T_TMP/rc$remap.err" | head -n 5 | tr '\n' ' ')"
		T_KEEP=1
	fi
done
t_done
