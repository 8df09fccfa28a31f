#!/bin/bash
# SPDX-License-Identifier: ISC
#
# README.md's tour is what `make demo` really prints: the demo runs, in a
# network namespace of its own, so that its fixed loopback addresses and
# ports are its own while other tests run (entered with nsenter, which
# needs no remount of / as `ip netns exec` does: a chroot works too),
# from a copy of scripts/ next to this build, and scripts/readme-tour.sh
# --check compares its narration with the README (host IDs, fingerprints,
# dates, timings blanked out).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

SRC=$(cd "$(dirname "$0")/../.." && pwd)
NS=eca-readme-$$

c_tour() {
	local CMD_TIMEOUT=300 # the whole demo, on a loaded machine
	if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; then
		echo "# skipped: needs root (and iproute2) for a network namespace"
		return 0
	fi
	mkdir -p "$T/tree"
	cp -r "$SRC/scripts" "$T/tree/scripts"
	ln -s "$BUILD" "$T/tree/build"
	ip netns add "$NS" || {
		fail "cannot create network namespace $NS"
		return
	}
	nsenter --net="/run/netns/$NS" ip link set lo up
	run_cmd nsenter --net="/run/netns/$NS" "$T/tree/scripts/demo.sh" "$T/tree/build"
	nsenter --net="/run/netns/$NS" "$T/tree/scripts/demo.sh" --stop >/dev/null 2>&1
	ip netns del "$NS"
	expect_rc 0 || return
	run_cmd "$SRC/scripts/readme-tour.sh" --check "$T/tree/demo/demo.log" \
	    "$SRC/README.md"
	expect_rc 0 || return
}

# The check is not a rubber stamp: a tour edited by hand (one refusal
# reason changed) no longer matches the same run.
c_drift() {
	[ -s "$T/tree/demo/demo.log" ] || {
		echo "# skipped: needs the demo's log from the case before"
		return 0
	}
	sed 's/\[UNTRUSTED\]/[EXPIRED]/' "$SRC/README.md" >"$T/README.edited"
	run_cmd "$SRC/scripts/readme-tour.sh" --check "$T/tree/demo/demo.log" \
	    "$T/README.edited"
	expect_rc 1 || return
	expect_match "$OUT" '^\+.*\[UNTRUSTED\]' "the difference shown" || return
}

cleanup_ns() {
	[ -e "$T/tree/scripts/demo.sh" ] &&
	    "$T/tree/scripts/demo.sh" --stop >/dev/null 2>&1
	ip netns del "$NS" 2>/dev/null
	return 0
}

run_case "the README's tour is what make demo prints" c_tour
run_case "a tour edited by hand is reported with the difference" c_drift
cleanup_ns
