#!/bin/bash
# t-proxy-input.sh: the proxy against bad input (issue 2, section 5).
#
# A raw X client (Python, speaking the protocol byte by byte) talks to a
# session's proxy next to a running xlogo and checks that:
#   - a bad request gets the error the server would send, at its place in
#     the sequence and with the client's opcodes (unknown opcode: BadRequest;
#     length 0 without BIG-REQUESTS, or a length that cannot hold the
#     request: BadLength), and the connection goes on;
#   - hidden extensions are absent (QueryExtension, ListExtensions) and
#     translated ones present;
#   - a wrong cookie and an MSB-first client are refused with a reason;
# and that xlogo keeps running through all of it.  Then xckpt run must fail
# with one line and a non-zero status without DISPLAY, with an unreachable
# display, and with a cookie the server refuses.
. "$(dirname "$0")/lib.sh"

t_xvfb

t_check "xlogo session starts" t_run_detached keep xlogo
PROXY=$(t_session_field keep 3)
XAUTH=$XDG_RUNTIME_DIR/xckpt/keep.xauth
[ -r "$XAUTH" ] || XAUTH=$(ls "$XDG_RUNTIME_DIR"/xckpt/*.xauth 2>/dev/null | head -n 1)
COOKIE=$(xauth -f "$XAUTH" list 2>/dev/null | awk '{ print $3; exit }')
t_check "the proxy's cookie is in its Xauthority file" test -n "$COOKIE"
XLOGO=$(t_wait_window '^xlogo$')
t_check "xlogo's window is up" test -n "$XLOGO"

# The raw client.  Prints one "ok: ..." or "FAIL: ..." line per check.
python3 - "${PROXY#:}" "$COOKIE" >"$T_TMP/raw.out" 2>&1 <<'PY'
import socket, struct, sys

num, cookie = sys.argv[1], bytes.fromhex(sys.argv[2])
fails = 0

def check(what, cond, detail=""):
    global fails
    print(("ok: " if cond else "FAIL: ") + what + ("" if cond else " " + detail))
    if not cond:
        fails += 1

def connect(order=b"l", key=cookie):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect("/tmp/.X11-unix/X" + num)
    fmt = "<" if order == b"l" else ">"
    name = b"MIT-MAGIC-COOKIE-1"
    s.sendall(order + b"\0" + struct.pack(fmt + "HHHHxx", 11, 0, len(name), len(key))
              + name + b"\0\0" + key)
    return s

def recv(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError("connection closed")
        b += c
    return b

def setup_reply(s, fmt="<"):
    h = recv(s, 8)
    n = struct.unpack(fmt + "H", h[6:8])[0] * 4
    return h, recv(s, n)

def response(s):
    m = recv(s, 32)
    if m[0] == 1:
        m += recv(s, 4 * struct.unpack("<I", m[4:8])[0])
    return m

def pad(b):
    return b + b"\0" * (-len(b) % 4)

# a good connection
s = connect()
h, body = setup_reply(s)
check("set-up accepted", h[0] == 1, repr(h))

seq = 0
def send(req):
    global seq
    s.sendall(req)
    seq += 1
    return seq

n_noop = send(struct.pack("<BxH", 127, 1))
n_bad_op = send(struct.pack("<BBH", 120, 5, 2) + b"abcd")
n_len0 = send(struct.pack("<BxH", 55, 0))
# InternAtom whose name (20 bytes) does not fit its 3-word length
n_short = send(struct.pack("<BBHHxx", 16, 0, 3, 20) + b"WXYZ")
n_focus = send(struct.pack("<BxH", 43, 1))

e = response(s)
check("unknown opcode: BadRequest", e[0] == 0 and e[1] == 1, repr(e[:12]))
check("  ... at its sequence number", struct.unpack("<H", e[2:4])[0] == n_bad_op)
check("  ... with the client's major opcode", e[10] == 120, str(e[10]))
e = response(s)
check("length 0 without BIG-REQUESTS: BadLength", e[0] == 0 and e[1] == 16, repr(e[:12]))
check("  ... at its sequence number", struct.unpack("<H", e[2:4])[0] == n_len0)
check("  ... with the client's major opcode", e[10] == 55, str(e[10]))
e = response(s)
check("a name longer than its request: BadLength", e[0] == 0 and e[1] == 16, repr(e[:12]))
check("  ... at its sequence number", struct.unpack("<H", e[2:4])[0] == n_short)
check("  ... with the client's major opcode", e[10] == 16, str(e[10]))
r = response(s)
check("the connection goes on: GetInputFocus replied", r[0] == 1)
check("  ... at its sequence number", struct.unpack("<H", r[2:4])[0] == n_focus)

def query(name):
    send(struct.pack("<BxHHxx", 98, 2 + (len(name) + 3) // 4, len(name)) + pad(name))
    return response(s)

for name in (b"MIT-SHM", b"GLX", b"DRI3", b"Present", b"XVideo", b"NO-SUCH-THING"):
    r = query(name)
    check("QueryExtension %s: absent" % name.decode(), r[0] == 1 and r[8] == 0, repr(r[8:12]))
for name in (b"RENDER", b"XInputExtension", b"BIG-REQUESTS"):
    r = query(name)
    check("QueryExtension %s: present" % name.decode(), r[0] == 1 and r[8] == 1 and r[9] >= 128)

send(struct.pack("<BxH", 99, 1))
r = response(s)
names, o = [], 32
for i in range(r[1]):
    names.append(r[o + 1:o + 1 + r[o]].decode())
    o += 1 + r[o]
check("ListExtensions lists RENDER", "RENDER" in names, str(names))
hidden = [n for n in names if n in ("MIT-SHM", "GLX", "DRI2", "DRI3", "Present", "XVideo", "RECORD", "SECURITY", "XSELINUX")]
check("ListExtensions hides MIT-SHM, GLX, DRI3, ...", not hidden, str(hidden))
check("ListExtensions reply length matches its names",
      struct.unpack("<I", r[4:8])[0] * 4 + 32 == len(r) and o <= len(r))
s.close()

# refusals
s = connect(key=b"x" * 16)
h, body = setup_reply(s)
check("wrong cookie refused", h[0] == 0, repr(h))
check("  ... with the reason", body[:h[1]] == b"Invalid MIT-MAGIC-COOKIE-1 key", repr(body))
s = connect(order=b"B")
h, body = setup_reply(s, ">")
check("MSB-first client refused", h[0] == 0, repr(h))
check("  ... with the reason", b"MSB-first" in body[:h[1]], repr(body))
sys.exit(1 if fails else 0)
PY
rc=$?
while read -r line; do
	case $line in
	ok:*) t_ok "${line#ok: }" ;;
	*) t_fail "$line" ;;
	esac
done <"$T_TMP/raw.out"
t_equal "raw client finished cleanly" 0 "$rc"
t_check "xlogo still runs" sh -c "xwininfo -id $XLOGO >/dev/null"
t_check "xlogo's proxy still answers" \
	sh -c "XAUTHORITY='$XAUTH' xdpyinfo -display $PROXY >/dev/null"

# t_one_line_error WHAT CMD...: CMD must fail with exactly one line on stderr.
t_one_line_error() {
	local what=$1 rc lines
	shift
	"$@" >/dev/null 2>"$T_TMP/err.txt"
	rc=$?
	lines=$(wc -l <"$T_TMP/err.txt")
	if [ "$rc" -ne 0 ] && [ "$lines" -eq 1 ]; then
		t_ok "$what: $(cat "$T_TMP/err.txt")"
	else
		t_fail "$what (exit $rc, $lines lines: $(cat "$T_TMP/err.txt"))"
	fi
}
# (without DISPLAY a session has no proxy: the app's own error it is)
t_one_line_error "no DISPLAY" env -u DISPLAY "$XCKPT" run -- xlogo
NOBODY=""
for n in $(seq 249 -1 200); do
	t_display_free "$n" && { NOBODY=:$n; break; }
done
t_one_line_error "unreachable display $NOBODY" "$XCKPT" run --display "$NOBODY" -- xlogo
# a server that wants a cookie we do not have
# (an entry for every display t_xvfb may pick, so that it can wait for it)
range=${XCKPT_TEST_DISPLAYS:-50-99}
for n in $(seq "${range%-*}" "${range#*-}"); do
	echo "add :$n MIT-MAGIC-COOKIE-1 00112233445566778899aabbccddeeff"
done | xauth -f "$T_TMP/server.auth" source - 2>/dev/null
export XAUTHORITY=$T_TMP/server.auth
t_xvfb -auth "$T_TMP/server.auth"
: >"$T_TMP/empty.auth"
t_one_line_error "refused cookie" env XAUTHORITY="$T_TMP/empty.auth" "$XCKPT" run -- xlogo
unset XAUTHORITY
t_done
