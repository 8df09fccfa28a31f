#!/bin/sh
# SPDX-License-Identifier: ISC
# Fails if a banned libc call appears in eca's C sources:
# they are either unbounded or silently accept garbage.
set -eu
cd "$(dirname "$0")/.."
pattern='\<(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|atoll|strtok|tmpnam|mktemp)[[:space:]]*\('
if grep -nE "$pattern" src/lib/*.c src/daemon/*.c src/cli/*.c 2>/dev/null; then
	echo "check-banned: banned function used (use snprintf, strtol with end checks, strtok_r...)" >&2
	exit 1
fi
echo "check-banned: ok"
