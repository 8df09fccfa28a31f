#!/bin/sh
# Installs the Debian packages eca needs to build, test, demo and benchmark.
# One list for everything, so a fresh Debian 12 machine needs nothing else.
# Run as root; as another user it only reports what is missing.
set -eu

PACKAGES="
build-essential pkg-config meson ninja-build clang libclang-rt-14-dev
libssl-dev openssl libevent-dev libsqlite3-dev sqlite3 libpq-dev
libcurl4-openssl-dev curl libjansson-dev libcmocka-dev
nginx-light python3 iproute2 procps jq
"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing" >&2
	echo "install-deps: run 'sudo $0' or install them with apt-get" >&2
	exit 1
fi

echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# nginx is only a benchmark baseline: never let its package start a service.
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
