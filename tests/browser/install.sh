#!/bin/sh
# SPDX-License-Identifier: ISC
# install.sh: playwright-core for the browser tests, from the npm registry
# by the lock file (npm ci), when tests/browser/node_modules is missing.
# No browser is downloaded: the tests drive the system's Chromium
# (scripts/install-deps.sh test installs it).
set -eu
cd "$(dirname "$0")"
[ -d node_modules/playwright-core ] && exit 0
command -v npm >/dev/null 2>&1 || {
	echo "install.sh: npm is missing (scripts/install-deps.sh test)" >&2
	exit 1
}
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund \
    --ignore-scripts >&2
