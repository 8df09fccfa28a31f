#!/bin/bash
# SPDX-License-Identifier: ISC
# `eca status` of a host that belongs to two primaries' domains, one of
# which is down.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

P1=primary1.it.test
P2=primary2.it.test
H=two.it.test

c_two_primaries() {
	start_primary "$P1" || return
	start_primary "$P2" || return
	make_host $H --server "$P1" --server "$P2" || return
	host_eca $H enroll
	expect_rc 0 || return
	host_eca $H enroll --server "$P2"
	expect_rc 0 || return
	host_eca $H --json status
	expect_rc 0 || return
	expect_json "[.servers[] | select(.status == \"ENROLLED\")] | length" 2
}

c_one_down() {
	local fp
	fp=$(cert_fp "$(host_dir $H)/cert.pem")
	stop_primary "$P2"
	host_eca $H --json status
	expect_rc 4 || return
	expect_json "[.servers[] | select(.server == \"$P1\")][0].status" ENROLLED || return
	expect_json "[.servers[] | select(.server == \"$P1\")][0].fingerprint" "$fp" || return
	expect_json "[.servers[] | select(.server == \"$P2\")][0].status" UNREACHABLE || return
	expect_json ".servers | length" 2 || return
	host_eca $H status
	expect_rc 4 || return
	expect_match "$OUT" "UNREACHABLE" "the table of eca status"
}

run_case "a host enrolled with two primaries shows ENROLLED for both" c_two_primaries
run_case "with one primary stopped, status shows the other ENROLLED and it UNREACHABLE, exit 4" c_one_down
