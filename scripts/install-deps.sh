#!/bin/sh
# SPDX-License-Identifier: ISC
# Installs the Debian packages eca needs, by purpose; the one list of them,
# so that a fresh Debian 12 machine needs nothing else.
#
#   install-deps.sh [build|test|demo|bench|package|all]...   (default: all)
#
#   build    compile ecad, eca, libeca and the unit tests (make build)
#   test     build + what make check runs: integration tools, clang for the
#            fuzz targets, mandoc/man-db/systemd/bash-completion for the
#            install test, PostgreSQL, nftables, Chromium and Node.js
#   demo     build + what make demo runs
#   bench    build + the benchmark's baseline (nginx)
#   package  build + Debian packaging (make deb, make package-check)
#   all      every set
#
# As root, missing packages are installed.  As another user nothing is
# installed: the missing ones are listed, and the exit status is 1, except
# for the build set alone, which only reports (`make build` then lets meson
# say what it cannot find, so a machine with the libraries from elsewhere
# still builds without root).
set -eu

BUILD="build-essential pkg-config meson ninja-build libssl-dev libevent-dev
libsqlite3-dev libpq-dev libcurl4-openssl-dev libjansson-dev libcmocka-dev
libsystemd-dev libmimalloc-dev python3"
TOOLS="openssl sqlite3 curl python3 iproute2 procps jq"
# postgresql: the registry tests start a real server (initdb, pg_ctl);
# nftables: the NAT tests build a masquerading router in network namespaces;
# chromium (+ node/npm for playwright-core): the console's browser tests;
# python3-prometheus-client: its text parser reads what /metrics serves.
TEST="$BUILD $TOOLS clang clang-format libclang-rt-14-dev mandoc man-db systemd
bash-completion postgresql nftables chromium python3-prometheus-client"
# Node.js may come from elsewhere (NodeSource); Debian's only when absent.
command -v npm >/dev/null 2>&1 || TEST="$TEST nodejs npm"
DEMO="$BUILD $TOOLS"
BENCH="$BUILD $TOOLS nginx-light linux-perf"
PACKAGE="$BUILD debhelper dpkg-dev fakeroot lintian debootstrap"

[ $# -gt 0 ] || set -- all
PACKAGES=""
only_build=yes
for set in "$@"; do
	case $set in
	build) PACKAGES="$PACKAGES $BUILD" ;;
	test) PACKAGES="$PACKAGES $TEST"; only_build=no ;;
	demo) PACKAGES="$PACKAGES $DEMO"; only_build=no ;;
	bench) PACKAGES="$PACKAGES $BENCH"; only_build=no ;;
	package) PACKAGES="$PACKAGES $PACKAGE"; only_build=no ;;
	all) PACKAGES="$PACKAGES $TEST $BENCH $PACKAGE"; only_build=no ;;
	*)
		echo "usage: $0 [build|test|demo|bench|package|all]..." >&2
		exit 2
		;;
	esac
done

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "install-deps: not a Debian system; install the equivalents of:" \
	    $PACKAGES >&2
	[ "$only_build" = yes ] && exit 0
	exit 1
fi

missing=""
for p in $(printf '%s\n' $PACKAGES | sort -u); do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing" >&2
	echo "install-deps: run 'sudo $0 $*' or install them with apt-get" >&2
	[ "$only_build" = yes ] && exit 0
	exit 1
fi

echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# nginx is only a benchmark baseline, systemd only a tool here: never let a
# package start a service.
made_policy=no
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	made_policy=yes
fi
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing || rc=$?
[ "$made_policy" = yes ] && rm -f /usr/sbin/policy-rc.d
exit "${rc:-0}"
