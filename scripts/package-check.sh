#!/bin/bash
# SPDX-License-Identifier: ISC
#
# package-check.sh DIR: installs the eca package built by `make deb` (DIR
# holds eca_*.deb) into a fresh Debian 12 root (debootstrap
# --variant=minbase bookworm, the mirror taken from this machine's apt
# sources), then, inside it: _eca and its directories exist, `eca
# --version` and `ecad -V` print the version, and `ecad -t` accepts the
# packaged eca.conf completed with a host's identity, run as _eca with
# the key owned by _eca (as ecad.service runs it).  Needs root and the
# network to the mirror; takes minutes.  Ends with
# `package-check: N passed, N failed`.
set -u

dir=${1:?usage: package-check.sh DIR}
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$(cd "$dir" && pwd)
deb=$(ls "$dir"/eca_*.deb 2>/dev/null | grep -v dbgsym | head -1)
[ -n "$deb" ] || { echo "package-check: no eca_*.deb in $dir (make deb)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "package-check: needs root (debootstrap, chroot)" >&2; exit 2; }
command -v debootstrap >/dev/null ||
    { echo "package-check: debootstrap is missing (scripts/install-deps.sh package)" >&2; exit 2; }
version=$(dpkg-deb -f "$deb" Version)

mirror=$(grep -h '^URIs' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 | awk '{print $2}')
[ -n "$mirror" ] || mirror=$(grep -h '^deb ' /etc/apt/sources.list 2>/dev/null | head -1 | awk '{print $2}')
[ -n "$mirror" ] || { echo "package-check: no apt mirror in /etc/apt/sources*" >&2; exit 2; }

root=$(mktemp -d "${TMPDIR:-/tmp}/eca-pkg.XXXXXX")
chmod 755 "$root"
mounted=()
passed=0
failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
notok() { echo "not ok - $1"; failed=$((failed + 1)); }

# Ends only processes running inside this root (started by this script).
stop_inside() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && kill "${p#/proc/}" 2>/dev/null
	done
}
cleanup() {
	local m
	stop_inside
	for ((m = ${#mounted[@]} - 1; m >= 0; m--)); do
		umount -l "$root/${mounted[m]}" 2>/dev/null
	done
	if [ "$failed" = 0 ]; then
		rm -rf "$root" "$root.log"
	else
		echo "# package-check: root kept in $root, log $root.log"
	fi
}
trap cleanup EXIT

echo "# package-check: debootstrap bookworm from $mirror into $root"
if ! debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1; then
	tail -5 "$root.log"
	notok "debootstrap of a fresh Debian 12 root"
	echo "package-check: $passed passed, $failed failed"
	exit 1
fi
cp /etc/resolv.conf "$root/etc/resolv.conf"
for m in proc sys dev dev/pts; do
	mount --bind "/$m" "$root/$m" && mounted+=("$m")
done
# No service may start inside the root.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"

cp "$deb" "$root/tmp/"
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 "$@"; }
if in_root sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends /tmp/$(basename "$deb")" \
    >>"$root.log" 2>&1; then
	ok "apt-get install $(basename "$deb") into a fresh Debian 12 root"
else
	tail -15 "$root.log"
	notok "apt-get install $(basename "$deb") into a fresh Debian 12 root"
	echo "package-check: $passed passed, $failed failed"
	exit 1
fi

out=$(in_root eca --version 2>&1)
[ "$out" = "eca $version" ] && ok "eca --version: $out" || notok "eca --version: '$out', expected 'eca $version'"
out=$(in_root ecad -V 2>&1)
[ "$out" = "ecad $version" ] && ok "ecad -V: $out" || notok "ecad -V: '$out', expected 'ecad $version'"

out=$(in_root getent passwd _eca)
[ -n "$out" ] && ok "the package made the system user _eca ($out)" || notok "no user _eca after install"
out=$(in_root stat -c '%a %U' /var/lib/eca /run/eca 2>&1 | tr '\n' ' ')
[ "$out" = "750 _eca 750 _eca " ] && ok "/var/lib/eca and /run/eca are 0750 _eca" ||
    notok "/var/lib/eca and /run/eca: $out"

# A host identity from a throwaway CA, made outside (no openssl inside).
ca=$root.ca
rm -rf "$ca"
if "$top/scripts/mkca.sh" ca "$ca" --name "package check" >/dev/null 2>&1 &&
    "$top/scripts/mkca.sh" leaf "$ca" pkg.eca.test --out "$ca/host" >/dev/null 2>&1; then
	install -m 0644 "$ca/host.pem" "$root/etc/eca/host.pem"
	install -m 0644 "$ca/trust.pem" "$root/etc/eca/trust.pem"
	install -m 0600 "$ca/host.key" "$root/etc/eca/host.key"
	in_root chown _eca: /etc/eca/host.key
	cat >>"$root/etc/eca/eca.conf" <<-CONF
	CLIENT_NAME = pkg.eca.test
	SERVER = primary.eca.test 127.0.0.1:1556
	ECA_CERT_PATH = /etc/eca/host.pem
	ECA_PRIVATE_KEY_PATH = /etc/eca/host.key
	ECA_TRUST_STORE_PATH = /etc/eca/trust.pem
	CONF
	out=$(in_root runuser -u _eca -- ecad -t -f /etc/eca/eca.conf 2>&1)
	[ "$out" = "ecad: configuration OK" ] &&
	    ok "ecad -t as _eca on the packaged eca.conf with a host identity" ||
	    notok "ecad -t as _eca: $out"
	# Started as _eca, as the unit does: it serves, writes its pid file
	# in /run/eca, and removes it on SIGTERM.  The root shares this
	# machine's network: a port nothing listens on.
	for ((i = 0; i < 100; i++)); do
		port=$((20000 + RANDOM % 12000))
		[ -z "$(ss -Htan "( sport = :$port )" 2>/dev/null)" ] && break
	done
	echo "LISTEN = 127.0.0.1:$port" >>"$root/etc/eca/eca.conf"
	: >"$root/tmp/ecad.log"
	in_root runuser -u _eca -- ecad -d -f /etc/eca/eca.conf \
	    2>>"$root/tmp/ecad.log" &
	for ((i = 0; i < 150; i++)); do
		grep -q 'ecad: ready' "$root/tmp/ecad.log" && break
		[ -n "$(jobs -r)" ] || break
		sleep 0.1
	done
	pid=$(cat "$root/run/eca/ecad.pid" 2>/dev/null)
	# _eca exists inside the root only: compare uids.
	user=$([ -n "$pid" ] && stat -c %u "/proc/$pid" 2>/dev/null)
	if grep -q 'ecad: ready' "$root/tmp/ecad.log" &&
	    [ -n "$user" ] && [ "$user" = "$(in_root id -u _eca)" ]; then
		ok "ecad -d runs as _eca (pid $pid in /run/eca/ecad.pid)"
	else
		notok "ecad -d as _eca did not get ready (pid '$pid', user '$user'): $(tail -3 "$root/tmp/ecad.log" | tr '\n' ' ')"
	fi
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null
		wait
		[ ! -e "$root/run/eca/ecad.pid" ] &&
		    ok "ecad removed its pid file on SIGTERM" ||
		    notok "ecad left /run/eca/ecad.pid behind"
	fi
	wait
else
	notok "mkca.sh could not make the test CA"
fi
rm -rf "$ca"

echo "package-check: $passed passed, $failed failed"
[ "$failed" = 0 ]
