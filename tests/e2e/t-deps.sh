#!/bin/bash
# t-deps.sh: resources/deps.sh (make deps) is a quick, silent no-op when all
# is there; provisions a working criu into a fresh build tree without
# touching the system's apt sources or lists; and derives the archive to
# fetch criu from out of apt configurations of both formats (deb822 and
# one-line), skipping security, disabled and source-only entries.
. "$(dirname "$0")/lib.sh"
cd "$T_ROOT"

B=${B:-build}
DIR=$T_TMP

# t_ms: print the time in milliseconds.
t_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# t_apt_state: print a digest of the system's apt sources and list names.
t_apt_state() {
	{
		find /etc/apt -type f -exec sha256sum {} + 2>/dev/null | sort
		ls -l /var/lib/apt/lists 2>/dev/null
	} | sha256sum
}

# t_uri NAME WANT: check that deps.sh --archive-uri on the apt configuration
# in $DIR/NAME prints WANT.
t_uri() {
	got=$(XCKPT_APT_ETC="$DIR/$1" resources/deps.sh --archive-uri 2>&1) || got="(failed) $got"
	if [ "$got" = "$2" ]; then
		t_ok "archive from $1: ${2:-none}"
	else
		t_fail "archive from $1: got '$got', want '$2'"
	fi
}


# 1. The quick no-op (make deps has just run).
start=$(t_ms)
out=$(B="$B" resources/deps.sh 2>&1) || t_fail "deps.sh failed: $out"
ms=$(($(t_ms) - start))
if [ "$ms" -lt 1000 ] && [ -z "$out" ]; then
	t_ok "deps.sh is a silent no-op when all is there (${ms} ms)"
else
	t_fail "deps.sh took ${ms} ms or said: $out"
fi

# 2. A fresh build tree gets a working criu; the system's apt is untouched.
before=$(t_apt_state)
start=$(t_ms)
if out=$(B="$DIR/b" resources/deps.sh 2>&1); then
	ms=$(($(t_ms) - start))
	criu=$(cat "$DIR/b/criu.path" 2>/dev/null || true)
	if [ -n "$criu" ] && (cd / && "$criu" check 2>&1 | grep -q 'Looks good'); then
		t_ok "a fresh build tree gets a criu that passes 'criu check' (${ms} ms): $criu"
	else
		t_fail "the criu recorded in a fresh build tree ('$criu') fails 'criu check'"
	fi
else
	t_fail "deps.sh into a fresh build tree failed: $out"
fi
if [ "$(t_apt_state)" = "$before" ]; then
	t_ok "the system's apt sources and lists are unchanged"
else
	t_fail "provisioning changed /etc/apt or /var/lib/apt/lists"
fi

# 3. The archive is derived from the machine's apt configuration.
cn=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
mkdir -p "$DIR/deb822/sources.list.d" "$DIR/oneline/sources.list.d" \
	"$DIR/other/sources.list.d" "$DIR/empty/sources.list.d"
cat >"$DIR/deb822/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: http://security.example.invalid/debian-security
Suites: $cn-security
Components: main

Types: deb
URIs: http://disabled.example.invalid/debian
Suites: $cn
Components: main
Enabled: no

Types: deb-src
URIs: http://source.example.invalid/debian
Suites: $cn
Components: main

# the main archive
Types: deb deb-src
URIs: http://main.example.invalid/debian http://second.example.invalid/debian
Suites: $cn $cn-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
cat >"$DIR/oneline/sources.list" <<EOF
# comment
deb http://security.example.invalid/debian-security $cn-security main
deb-src http://source.example.invalid/debian $cn main
deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://one.example.invalid/debian $cn main
EOF
cat >"$DIR/other/sources.list" <<EOF
deb http://security.example.invalid/debian-security sid-security main
deb http://other.example.invalid/debian sid main
EOF
t_uri deb822 http://main.example.invalid/debian
t_uri oneline http://one.example.invalid/debian
t_uri other http://other.example.invalid/debian
t_uri empty ""
# (Only where no system criu is there: deps.sh would rightly use it.)
if command -v criu >/dev/null 2>&1; then
	t_skip "a system criu is installed, so the no-archive error is not reachable"
elif out=$(XCKPT_APT_ETC="$DIR/empty" B="$DIR/b2" XCKPT_CACHE="$DIR/cache" \
	resources/deps.sh 2>&1); then
	t_fail "deps.sh with no archive and no cache succeeded"
else
	case $out in
	"xckpt deps: cannot download criu from trixie: no Debian archive found"*)
		t_ok "no archive to fetch from: one clear error line" ;;
	*) t_fail "no archive to fetch from gave: $out" ;;
	esac
fi
t_done
