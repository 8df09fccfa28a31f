#!/bin/bash
# SPDX-License-Identifier: ISC
# GET /v1/roster: the primary's enrollments as a versioned roster, full on
# since=0, only the changes after since=V, paged, and for certified callers
# only.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

P=primary1.it.test
A=a1.it.test
B=b1.it.test
C=c1.it.test
V1=""

c_setup() {
	start_primary "$P" || return
	make_host $A --server "$P" || return
	make_host $B --server "$P" || return
	make_host $C --server "$P" || return
	host_eca $A enroll
	expect_rc 0 || return
	host_eca $B enroll
	expect_rc 0
}

c_full_roster_lists_enrolled_hosts() {
	primary_curl "$P" $A GET '/v1/roster?since=0'
	expect_http 200 || return
	expect_json .primary "$P" || return
	expect_json .full true || return
	expect_json .more false || return
	expect_json '.entries | length' 2 || return
	expect_json "[.entries[].host] | sort | join(\",\")" "$A,$B" || return
	expect_json "[.entries[].state] | unique | join(\",\")" ENROLLED || return
	expect_json ".entries[] | select(.host == \"$A\") | .fingerprint" \
	    "$(cert_fp "${H_DIR[$A]}/cert.pem")" || return
	expect_json '.entries[0].host_id | test("^[0-9a-f-]{36}$")' true || return
	expect_json '.entries[0].not_after | test("Z$")' true || return
	expect_json '.next == .version' true || return
	V1=$(printf '%s' "$OUT" | jq -r .next)
	expect_eq "$(db_count 'SELECT max(version) FROM enrollments')" "$V1" \
	    "the roster's version"
}

c_no_change_gives_an_empty_delta() {
	[ -n "$V1" ] || { fail "no version from the full roster"; return; }
	primary_curl "$P" $B GET "/v1/roster?since=$V1"
	expect_http 200 || return
	expect_json .full false || return
	expect_json .since "$V1" || return
	expect_json '.entries | length' 0 || return
	expect_json .next "$V1"
}

c_delta_after_removal_has_only_the_change() {
	[ -n "$V1" ] || { fail "no version from the full roster"; return; }
	primary_eca "$P" remove $B
	expect_rc 0 || return
	primary_curl "$P" $A GET "/v1/roster?since=$V1"
	expect_http 200 || return
	expect_json .full false || return
	expect_json '.entries | length' 1 || return
	expect_json .entries[0].host $B || return
	expect_json .entries[0].state REMOVED || return
	expect_json ".entries[0].version > $V1" true || return
	expect_json '.next == .entries[0].version' true
}

c_new_enrollment_shows_in_the_next_delta() {
	local v
	primary_curl "$P" $A GET '/v1/roster?since=0'
	v=$(printf '%s' "$OUT" | jq -r .next)
	host_eca $C enroll
	expect_rc 0 || return
	primary_curl "$P" $C GET "/v1/roster?since=$v"
	expect_http 200 || return
	expect_json '.entries | length' 1 || return
	expect_json .entries[0].host $C || return
	expect_json .entries[0].state ENROLLED
}

c_roster_pages_with_limit() {
	local next
	primary_curl "$P" $A GET '/v1/roster?since=0&limit=2'
	expect_http 200 || return
	expect_json .more true || return
	expect_json '.entries | length' 2 || return
	expect_json '.next == .entries[1].version' true || return
	next=$(printf '%s' "$OUT" | jq -r .next)
	primary_curl "$P" $A GET "/v1/roster?since=$next&limit=2"
	expect_http 200 || return
	expect_json .more false || return
	expect_json .full false || return
	expect_json '.entries | length' 1 || return
	expect_json .entries[0].host $C
}

c_since_beyond_the_registry_gives_everything() {
	primary_curl "$P" $A GET '/v1/roster?since=999999'
	expect_http 200 || return
	expect_json .full true || return
	expect_json '.entries | length' 3
}

c_caller_without_certificate_is_refused() {
	primary_curl "$P" - GET '/v1/roster?since=0'
	expect_http 403 || return
	expect_json .error.code NO_CLIENT_CERT || return
	expect_json '.entries' null
}

c_bad_query_is_refused() {
	primary_curl "$P" $A GET '/v1/roster?since=-1'
	expect_http 400 || return
	expect_json .error.code BAD_REQUEST || return
	primary_curl "$P" $A GET '/v1/roster?since=abc'
	expect_http 400 || return
	primary_curl "$P" $A GET '/v1/roster?limit=0'
	expect_http 400 || return
	primary_curl "$P" $A GET '/v1/roster?limit=5001'
	expect_http 400 || return
	primary_curl "$P" $A GET '/v1/roster?sinse=1'
	expect_http 400 || return
	primary_curl "$P" $A POST '/v1/roster'
	expect_http 405
}

run_case "ecad starts and two hosts enroll" c_setup
[ "$IT_FAILED" = 0 ] || exit 1
run_case "GET /v1/roster?since=0 lists every enrolled host, full" c_full_roster_lists_enrolled_hosts
run_case "a roster request at the current version gives no entries" c_no_change_gives_an_empty_delta
run_case "after a removal, since=V gives only that host, REMOVED" c_delta_after_removal_has_only_the_change
run_case "a new enrollment shows in the next delta" c_new_enrollment_shows_in_the_next_delta
run_case "the roster pages with limit, more and next" c_roster_pages_with_limit
run_case "a since beyond the registry's version gives the full roster" c_since_beyond_the_registry_gives_everything
run_case "a caller without a client certificate is refused" c_caller_without_certificate_is_refused
run_case "a bad since, limit or parameter is 400, POST is 405" c_bad_query_is_refused
