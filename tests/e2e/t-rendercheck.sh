#!/bin/bash
# t-rendercheck.sh: rendercheck gives exactly the same results through the
# proxy as directly: the same exit status, the same "N tests passed of M
# total" summary, and the same stdout line for line and the same stderr
# (every failure line included: triangles fails some tests on Xvfb itself).
#
# The full rendercheck run takes many minutes on Xvfb, most of it in
# composite, cacomposite and gradients over every operator and format.  This
# test runs, each way:
#   - every test but those three, with every operator and format;
#   - gradients with the Src and Over operators;
#   - composite and cacomposite with Src, Over and Add on five formats
#     (a8r8g8b8, x8r8g8b8, a8, r5g6b5, a4).
# About 30 s directly on this project's machines.
. "$(dirname "$0")/lib.sh"

t_xvfb

specs=(
	"-t fill,dcoords,scoords,mcoords,tscoords,tmcoords,blend,repeat,triangles,bug7366,gtk_argb_xbgr,libreoffice_xrgb"
	"-t gradients -o Src,Over"
	"-t composite,cacomposite -o Src,Over,Add -f a8r8g8b8,x8r8g8b8,a8,r5g6b5,a4"
)

i=0
for spec in "${specs[@]}"; do
	i=$((i + 1))
	# shellcheck disable=SC2086
	timeout 240 rendercheck $spec >"$T_TMP/direct-$i.out" \
		2>"$T_TMP/direct-$i.err"
	rc_direct=$?
	# shellcheck disable=SC2086
	timeout 480 "$XCKPT" run --name rc-$i -- rendercheck $spec \
		>"$T_TMP/proxied-$i.out" 2>"$T_TMP/proxied-$i.err"
	rc_proxied=$?
	sum_direct=$(grep 'tests passed of' "$T_TMP/direct-$i.out")
	sum_proxied=$(grep 'tests passed of' "$T_TMP/proxied-$i.out")
	t_check "rendercheck $spec: directly it runs ($sum_direct)" \
		test -n "$sum_direct"
	t_equal "rendercheck $spec: same exit status" "$rc_direct" "$rc_proxied"
	t_equal "rendercheck $spec: same summary" "$sum_direct" "$sum_proxied"
	if diff "$T_TMP/direct-$i.out" "$T_TMP/proxied-$i.out" >"$T_TMP/diff-$i"; then
		t_ok "rendercheck $spec: same output ($(wc -l <"$T_TMP/direct-$i.out") lines)"
	else
		t_fail "rendercheck $spec: the outputs differ:"
		head -n 20 "$T_TMP/diff-$i"
	fi
	t_check "rendercheck $spec: same stderr" \
		cmp "$T_TMP/direct-$i.err" "$T_TMP/proxied-$i.err"
done

t_done
