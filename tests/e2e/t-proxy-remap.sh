#!/bin/bash
# t-proxy-remap.sh: t-apps.sh (xlogo, xeyes, xterm and gedit through the
# proxy, typed into, pixel-identical to direct runs) with
# XCKPT_XPROXY_REMAP=1: every client gets a resource-ID base, extension major
# opcodes, first events and first errors other than the server's, so every
# resource ID and every extension code in every request, reply, event
# (Generic Events included) and error of these apps' real traffic must be
# found and translated (issue 2's non-identity maps, on a live server).  A
# missed field shows as an X error, a wrong window or wrong pixels.
export XCKPT_XPROXY_REMAP=1
exec "$(dirname "$0")/t-apps.sh" "$@"
