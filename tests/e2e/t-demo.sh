#!/bin/bash
# t-demo.sh: `make demo`'s script, resources/demo.sh, runs gedit through
# xckpt on its own Xvfb, prints a verdict with no FAIL, leaves the
# screenshots and the saved file, and leaves none of its processes behind.
. "$(dirname "$0")/lib.sh"
cd "$T_ROOT"

range=${XCKPT_TEST_DISPLAYS:-50-99}
XCKPT_DEMO_DISPLAYS="${range%-*} ${range#*-}" XCKPT_DEMO_OUT="$T_TMP/out" \
	resources/demo.sh >"$T_TMP/demo.log" 2>&1
rc=$?
sed 's/^/    /' "$T_TMP/demo.log"
t_equal "demo.sh exits 0" 0 "$rc"
t_check "the verdict has no FAIL line" bash -c "! grep -q '^  FAIL' '$T_TMP/demo.log'"
t_equal "the verdict has the four issue-2 PASS lines" 4 \
	"$(grep -c -e '^  PASS  gedit window' -e '^  PASS  gedit (pid' \
		-e '^  PASS  typing changed' -e '^  PASS  Ctrl+S saved' "$T_TMP/demo.log")"
out=$(ls -d "$T_TMP"/out/*/ 2>/dev/null | head -n1)
t_equal "the screenshot through the proxy is a PNG" PNG \
	"$(identify -format %m "${out}through-proxy.png" 2>/dev/null)"
t_check "the typed line reached the file" grep -q "Typed through the xckpt proxy." "${out}demo.txt"
xvfb=$(sed -n 's/.*Xvfb on :[0-9]* (pid \([0-9]*\)).*/\1/p' "$T_TMP/demo.log")
if [ -n "$xvfb" ] && ! t_alive "$xvfb"; then
	t_ok "the demo's Xvfb (pid $xvfb) has ended"
else
	t_fail "the demo's Xvfb (pid ${xvfb:-?}) still runs"
	[ -z "$xvfb" ] || t_track "$xvfb"
fi
gpid=$(sed -n 's/.*gedit (pid \([0-9]*\)).*/\1/p' "$T_TMP/demo.log")
if [ -n "$gpid" ] && ! t_alive "$gpid"; then
	t_ok "the demo's gedit (pid $gpid) has ended"
else
	t_fail "the demo's gedit (pid ${gpid:-?}) still runs"
fi
t_done
