#!/bin/sh
# SPDX-License-Identifier: ISC
# install.sh: playwright-core for the browser tests, from the npm registry
# by the lock file (npm ci), when tests/browser/node_modules is missing.
# No browser is downloaded: the tests drive the system's Chromium
# (scripts/install-deps.sh test installs it).
#
# npm trusts the system's CA bundle (Node.js alone trusts only its own
# list), so that a registry reached through a proxy whose CA the
# administrator installed (update-ca-certificates) works; a certificate
# that is still not trusted fails at once with the remedy.
set -eu
cd "$(dirname "$0")"
[ -d node_modules/playwright-core ] && exit 0
command -v npm >/dev/null 2>&1 || {
	echo "install.sh: npm is missing (scripts/install-deps.sh test)" >&2
	exit 1
}
CA=/etc/ssl/certs/ca-certificates.crt
set -- --no-audit --no-fund --ignore-scripts --fetch-retries=1
[ -r "$CA" ] && set -- "$@" --cafile "$CA"
log=$(mktemp)
if PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci "$@" >"$log" 2>&1; then
	rm -f "$log"
	exit 0
fi
cat "$log" >&2
if grep -q 'SELF_SIGNED_CERT_IN_CHAIN\|UNABLE_TO_GET_ISSUER_CERT\|CERT_' "$log"; then
	echo "install.sh: the npm registry's certificate is not trusted here" \
	    "(a TLS-intercepting proxy?): install its CA in" \
	    "/usr/local/share/ca-certificates and run update-ca-certificates" >&2
fi
rm -f "$log"
exit 1
