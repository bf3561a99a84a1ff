#!/bin/sh
# deps.sh: make sure everything xckpt needs to build and test is on this
# machine (run by `make deps`, which check, demo and bench run first).
#
#  1. Debian packages: installs the ones of resources/packages.txt that are
#     missing, with apt-get (apt-get update only when something is missing).
#  2. CRIU: finds one that passes `criu check` and records its command in
#     $B/criu.path.  The system's criu if it passes; otherwise Debian trixie's
#     (resources/criu-packages.txt), fetched with apt-get download through a
#     private sources file and lists directory, unpacked with dpkg -x into
#     $B/criu/root and run through its own loader by the wrapper
#     $B/criu/bin/criu.  The system's apt sources and state are never touched;
#     the archive is derived from the machine's own apt configuration.
#
# A quick no-op when everything is there.  Environment:
#   B            build directory (default: build)
#   XCKPT_CACHE  where downloaded .debs and the private apt lists are kept
#                across builds (default: ${XDG_CACHE_HOME:-$HOME/.cache}/xckpt)
#   XCKPT_CRIU_SUITE  Debian suite to fetch criu from (default: trixie).
#                Its package list is resources/criu-packages-SUITE.txt when
#                there is one (sid: criu 4.2, which dumps inet sockets on
#                kernels from 6.16 on), else criu-packages.txt; its
#                downloads are kept apart, in $XCKPT_CACHE/SUITE.
#   XCKPT_APT_ETC  the apt configuration to derive the archive from (default:
#                /etc/apt; for tests)
#
# `deps.sh --archive-uri` only prints the archive URI it would fetch from.
set -eu

B=${B:-build}
RES=$(cd "$(dirname "$0")" && pwd)
CACHE=${XCKPT_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/xckpt}
SUITE=${XCKPT_CRIU_SUITE:-trixie}
CRIU_PKGS=$RES/criu-packages.txt
if [ -f "$RES/criu-packages-$SUITE.txt" ]; then
	CRIU_PKGS=$RES/criu-packages-$SUITE.txt
fi
[ "$SUITE" = trixie ] || CACHE=$CACHE/$SUITE
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
APT_ETC=${XCKPT_APT_ETC:-/etc/apt}

# deps_die MESSAGE: print a one-line error and exit non-zero.
deps_die() {
	echo "xckpt deps: $*" >&2
	exit 1
}

# deps_say MESSAGE: print a progress line.
deps_say() {
	echo "xckpt deps: $*"
}

# deps_list FILE: print the package names listed in FILE, one a line,
# without comments and blank lines.
deps_list() {
	sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$1"
}

# deps_apt_error LOG: print apt's first error line in LOG (or its last line)
# and where the whole log is.
deps_apt_error() {
	echo "$(grep -m1 '^E:' "$1" || tail -n1 "$1") (log: $1)"
}

# deps_missing: print the packages of packages.txt that are not installed.
deps_missing() {
	pkgs=$(deps_list "$RES/packages.txt")
	# shellcheck disable=SC2086
	dpkg-query -W -f='${Package} ${db:Status-Status}\n' $pkgs 2>/dev/null |
		awk -v want="$pkgs" '
			$2 == "installed" { ok[$1] = 1 }
			END { n = split(want, w, "\n");
			      for (i = 1; i <= n; i++) if (!(w[i] in ok)) print w[i] }'
}

# deps_packages: install the missing Debian packages, if any.
deps_packages() {
	missing=$(deps_missing | tr '\n' ' ' | sed 's/ $//')
	[ -n "$missing" ] || return 0
	[ "$(id -u)" = 0 ] ||
		deps_die "missing packages ($missing); run 'make deps' as root or install them"
	deps_say "installing $missing"
	export DEBIAN_FRONTEND=noninteractive
	log=$B/deps-apt.log
	apt-get -q -o DPkg::Lock::Timeout=600 update >"$log" 2>&1 ||
		deps_die "apt-get update failed: $(deps_apt_error "$log")"
	# shellcheck disable=SC2086
	apt-get -q -y -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef \
		-o Dpkg::Options::=--force-confold install $missing >>"$log" 2>&1 ||
		deps_die "apt-get install $missing failed: $(deps_apt_error "$log")"
	missing=$(deps_missing | tr '\n' ' ' | sed 's/ $//')
	[ -z "$missing" ] || deps_die "still missing after apt-get install: $missing"
}

# deps_criu_check CMD...: succeed when `CMD... check` passes ("Looks good.").
# Its output goes to $B/criu-check.log.
deps_criu_check() {
	"$@" check >"$B/criu-check.log" 2>&1 || return 1
	grep -q 'Looks good' "$B/criu-check.log"
}

# deps_criu_record PATH: record PATH as the working criu (in $B/criu.path)
# with a stamp naming the kernel it was checked on.
deps_criu_record() {
	echo "$1" >"$B/criu.path.tmp"
	mv "$B/criu.path.tmp" "$B/criu.path"
	echo "$(uname -r) $1" >"$B/criu.stamp"
}

# deps_criu_recorded: succeed when $B/criu.path names an executable criu that
# was checked on the running kernel (the quick path: no criu run).
deps_criu_recorded() {
	[ -f "$B/criu.path" ] && [ -f "$B/criu.stamp" ] || return 1
	path=$(cat "$B/criu.path")
	[ -x "$path" ] || return 1
	case $path in
	*/criu/bin/criu) [ -x "${path%/bin/criu}/root/usr/sbin/criu" ] || return 1 ;;
	esac
	[ "$(cat "$B/criu.stamp")" = "$(uname -r) $path" ]
}

# deps_archive_uri: print the URI of the machine's main Debian archive, taken
# from its own apt sources: the first "deb" entry for the release's own suite
# (VERSION_CODENAME), else the first "deb" entry that is not a security,
# updates or backports suite.  Prints nothing when there is none.
deps_archive_uri() {
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	{
		for f in "$APT_ETC"/sources.list.d/*.sources; do
			[ -f "$f" ] || continue
			# deb822: one stanza per paragraph; print "SUITES<TAB>URI"
			awk '
				function flush() {
					if (types ~ /(^|[ \t])deb([ \t]|$)/ && enabled != "no" && uris != "") {
						split(uris, u, /[ \t]+/); print suites "\t" u[1]
					}
					types = ""; uris = ""; suites = ""; enabled = ""
				}
				/^#/ { next }
				/^[ \t]*$/ { flush(); next }
				{ line = $0; sub(/^[^:]*:[ \t]*/, "", line); key = tolower($0); sub(/:.*/, "", key) }
				key == "types" { types = line }
				key == "uris" { uris = line }
				key == "suites" { suites = line }
				key == "enabled" { enabled = tolower(line) }
				END { flush() }' "$f"
		done
		for f in "$APT_ETC"/sources.list "$APT_ETC"/sources.list.d/*.list; do
			[ -f "$f" ] || continue
			# one-line format: deb [options] URI SUITE COMPONENT...
			awk '$1 == "deb" {
				i = 2
				if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
				print $(i + 1) "\t" $i }' "$f"
		done
	} | awk -F '\t' -v cn="$codename" '
		{ n = split($1, s, /[ \t]+/)
		  for (i = 1; i <= n; i++) {
			if (cn != "" && s[i] == cn && exact == "") exact = $2
			if (s[i] !~ /-(security|updates|backports)$/ && s[i] !~ /\/updates$/ && other == "") other = $2
		  } }
		END { if (exact != "") print exact; else if (other != "") print other }'
}

# deps_fetch_debs: make sure $CACHE/debs holds one .deb for every package of
# $CRIU_PKGS, downloading them from $SUITE when any is missing.
deps_fetch_debs() {
	pkgs=$(deps_list "$CRIU_PKGS")
	need=
	for p in $pkgs; do
		set -- "$CACHE/debs/${p}"_*.deb
		[ -f "$1" ] || need="$need $p"
	done
	[ -n "$need" ] || return 0

	uri=$(deps_archive_uri)
	[ -n "$uri" ] || deps_die "cannot download criu from $SUITE: no Debian archive found in $APT_ETC/sources.list{,.d}"
	[ -f "$KEYRING" ] || deps_die "cannot download criu from $SUITE: $KEYRING is missing (install debian-archive-keyring)"
	arch=$(dpkg --print-architecture)
	deps_say "fetching criu from $SUITE ($uri) into $CACHE"

	apt=$CACHE/apt
	mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$CACHE/debs"
	echo "deb [arch=$arch signed-by=$KEYRING] $uri $SUITE main" >"$apt/sources.list"
	set -- -q -o Dir::Etc::SourceList="$apt/sources.list" \
		-o Dir::Etc::SourceParts=/dev/null \
		-o Dir::State::Lists="$apt/lists" \
		-o Dir::Cache="$apt/cache" \
		-o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null \
		-o APT::Sandbox::User=root -o Acquire::Languages=none
	log=$CACHE/apt.log
	if ! apt-get "$@" update >"$log" 2>&1 || grep -q '^E:' "$log"; then
		deps_die "cannot download criu from $SUITE: apt-get update failed: $(deps_apt_error "$log")"
	fi
	# apt keeps only a Release it verified; check it again with the keyring.
	rel=$(ls "$apt/lists/"*"_dists_${SUITE}_InRelease" 2>/dev/null | head -n1)
	[ -n "$rel" ] || deps_die "cannot download criu from $SUITE: no verified InRelease in $apt/lists"
	gpgv --keyring "$KEYRING" "$rel" >>"$log" 2>&1 ||
		deps_die "cannot download criu from $SUITE: $KEYRING does not verify $SUITE's Release (see $log)"

	tmp=$CACHE/debs.tmp.$$
	rm -rf "$tmp"
	mkdir -p "$tmp"
	# shellcheck disable=SC2086
	if ! (cd "$tmp" && apt-get "$@" download $pkgs) >>"$log" 2>&1; then
		rm -rf "$tmp"
		deps_die "cannot download criu from $SUITE: apt-get download failed: $(deps_apt_error "$log")"
	fi
	for p in $pkgs; do
		set -- "$tmp/${p}"_*.deb
		[ -f "$1" ] || { rm -rf "$tmp"; deps_die "cannot download criu from $SUITE: no .deb for $p"; }
		rm -f "$CACHE/debs/${p}"_*.deb
		mv "$1" "$CACHE/debs/"
	done
	rm -rf "$tmp"
}

# deps_private_criu: unpack the cached .debs into $B/criu/root, write the
# wrapper $B/criu/bin/criu that runs criu through the unpacked loader, and
# check it.  Prints nothing on success.
deps_private_criu() {
	[ "$(dpkg --print-architecture)" = amd64 ] ||
		deps_die "the private criu is provided for amd64 only; install a criu that passes 'criu check'"
	mkdir -p "$CACHE"
	# One fetch at a time: several build trees may share the cache.
	exec 9>"$CACHE/lock"
	flock 9
	deps_fetch_debs
	new=$B/criu.new
	rm -rf "$new"
	mkdir -p "$new/root" "$new/bin"
	for p in $(deps_list "$CRIU_PKGS"); do
		set -- "$CACHE/debs/${p}"_*.deb
		dpkg -x "$1" "$new/root" || deps_die "cannot unpack $1 (remove it from $CACHE/debs and retry)"
	done
	exec 9>&-
	lib=usr/lib/x86_64-linux-gnu
	[ -x "$new/root/$lib/ld-linux-x86-64.so.2" ] && [ -x "$new/root/usr/sbin/criu" ] ||
		deps_die "the unpacked criu from $SUITE lacks usr/sbin/criu or its loader"
	# (The wrapper finds itself without a subprocess unless it is called
	# through a symbolic link: each is ~1 ms, on every checkpoint and
	# restart.  The paths must be absolute: CRIU changes directory before
	# the loader may need them.)
	cat >"$new/bin/criu" <<-'EOF'
	#!/bin/sh
	# criu from Debian, unpacked by resources/deps.sh and run through
	# its own loader and libraries (this system's glibc is too old for it).
	set -eu
	case $0 in /*) self=$0 ;; *) self=$PWD/$0 ;; esac
	[ ! -L "$self" ] || self=$(readlink -f "$self")
	root=${self%/bin/*}/root
	lib=$root/usr/lib/x86_64-linux-gnu
	exec "$lib/ld-linux-x86-64.so.2" --library-path "$lib" "$root/usr/sbin/criu" "$@"
	EOF
	chmod 0755 "$new/bin/criu"
	missing=$("$new/root/$lib/ld-linux-x86-64.so.2" --library-path "$new/root/$lib" \
		--list "$new/root/usr/sbin/criu" 2>&1 | awk '/not found/ { printf "%s ", $1 }')
	[ -z "$missing" ] || deps_die "the unpacked criu lacks libraries: $missing(add their packages to $CRIU_PKGS)"
	rm -rf "$B/criu"
	mv "$new" "$B/criu"
	deps_criu_check "$B/criu/bin/criu" ||
		deps_die "criu from $SUITE fails 'criu check': $(grep -v RLIMIT_NOFILE "$B/criu-check.log" | tail -n1)"
	deps_criu_record "$(cd "$B/criu/bin" && pwd)/criu"
	deps_say "criu $("$B/criu/bin/criu" --version | awk '/Version/ { print $2 }') from $SUITE passes 'criu check': $(cat "$B/criu.path")"
}

# deps_criu: find or provision a criu that passes `criu check`.
deps_criu() {
	deps_criu_recorded && return 0
	sys=$(command -v criu 2>/dev/null || true)
	if [ -n "$sys" ] && deps_criu_check "$sys"; then
		deps_criu_record "$sys"
		deps_say "system criu passes 'criu check': $sys"
		return 0
	fi
	if [ -x "$B/criu/bin/criu" ] && deps_criu_check "$B/criu/bin/criu"; then
		deps_criu_record "$(cd "$B/criu/bin" && pwd)/criu"
		return 0
	fi
	[ "$(id -u)" = 0 ] || deps_die "no criu passes 'criu check' and criu needs root; run 'make deps' as root"
	if [ -n "$sys" ]; then
		deps_say "system criu ($sys) fails 'criu check'; using criu from $SUITE"
	fi
	deps_private_criu
}

case ${1:-} in
--archive-uri)
	deps_archive_uri
	exit 0
	;;
'') ;;
*) deps_die "unknown argument '$1' (usage: deps.sh [--archive-uri])" ;;
esac
mkdir -p "$B"
deps_packages
deps_criu
