#!/bin/bash
# SPDX-License-Identifier: ISC
# The API's access rules and edge answers, spoken to directly with curl and
# through eca where the command line adds nothing.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

P=primary1.it.test
ADMIN=admin.it.test
A=a1.it.test
B=b1.it.test

c_setup() {
	start_primary "$P" "ADMIN_IDENTITY = $ADMIN" || return
	make_host $A --server "$P" || return
	make_host $B --server "$P" || return
	make_host $ADMIN --server "$P" || return
	host_eca $A enroll
	expect_rc 0 || return
	host_eca $B enroll
	expect_rc 0
}

c_health_fields() {
	primary_curl "$P" - GET /v1/health
	expect_http 200 || return
	expect_json .status ok || return
	expect_json .role primary || return
	expect_json .primary "$P" || return
	expect_json '.version | type' string
}

c_own_record() {
	primary_curl "$P" $A GET /v1/enrollments/$A
	expect_http 200 || return
	expect_json .host $A || return
	expect_json .state ENROLLED
}

c_other_record_forbidden() {
	primary_curl "$P" $B GET /v1/enrollments/$A
	expect_http 403 || return
	expect_json .error.code FORBIDDEN
}

c_admin_reads_any_record() {
	primary_curl "$P" $ADMIN GET /v1/enrollments/$A
	expect_http 200 || return
	expect_json .host $A
}

c_unknown_host_not_enrolled() {
	primary_curl "$P" $ADMIN GET /v1/enrollments/nobody.it.test
	expect_http 404 || return
	expect_json .error.code NOT_ENROLLED
}

c_history_admin_only() {
	primary_curl "$P" $A GET /v1/enrollments/$A/history
	expect_http 403 || return
	expect_json .error.code FORBIDDEN || return
	primary_curl "$P" $ADMIN GET /v1/enrollments/$A/history
	expect_http 200 || return
	expect_json '[.history[].event] | join(",")' ENROLL
}

c_bad_list_params() {
	primary_curl "$P" $ADMIN GET '/v1/enrollments?state=BOGUS'
	expect_http 400 || return
	expect_json .error.code BAD_REQUEST || return
	primary_curl "$P" $ADMIN GET '/v1/enrollments?limit=100000'
	expect_http 400 || return
	expect_json .error.code BAD_REQUEST
}

c_list_pages() {
	primary_curl "$P" $ADMIN GET '/v1/enrollments?limit=1'
	expect_http 200 || return
	expect_json '.enrollments | length' 1 || return
	expect_json '.enrollments[0].host' $A || return
	expect_json .next $A || return
	primary_curl "$P" $ADMIN GET "/v1/enrollments?limit=1&after=$A"
	expect_http 200 || return
	expect_json '.enrollments[0].host' $B
}

c_delete_needs_enrolled_cert() {
	# B with a new key may not remove B's enrollment made with the old one.
	renew_host $B || return
	primary_curl "$P" $B DELETE /v1/enrollments/$B
	expect_http 403 || return
	expect_json .error.code FINGERPRINT_MISMATCH || return
	expect_db "SELECT state FROM enrollments WHERE host='$B'" ENROLLED
}

c_approve_without_conflict() {
	primary_eca "$P" --json approve $A
	expect_rc 3 || return
	expect_json .error.code NOT_FOUND
}

c_stats() {
	primary_curl "$P" $ADMIN GET /v1/stats
	expect_http 200 || return
	expect_json '[.requests, .enrollments_written, .commits, .refusals, .connections] | map(type == "number") | all' true || return
	expect_json '.enrollments_written >= 2' true || return
	primary_curl "$P" $A GET /v1/stats
	expect_http 403 || return
	expect_json .error.code FORBIDDEN
}

c_control_socket_is_private() {
	local sock=${P_DIR[$P]}/state/ecad.sock mode
	mode=$(stat -c %a "$sock")
	expect_eq "$mode" 600 "the control socket's mode"
}

run_case "ecad starts and two hosts enroll" c_setup
[ "$IT_FAILED" = 0 ] || exit 1
run_case "GET /v1/health answers status, role, primary and version without a certificate" c_health_fields
run_case "a host reads its own enrollment record" c_own_record
run_case "a host reading another host's record is FORBIDDEN" c_other_record_forbidden
run_case "an admin identity reads any host's record" c_admin_reads_any_record
run_case "the record of a host never enrolled is 404 NOT_ENROLLED" c_unknown_host_not_enrolled
run_case "the history is for admins only and records the enrollment" c_history_admin_only
run_case "a bad state or limit in a list request is 400 BAD_REQUEST" c_bad_list_params
run_case "the list pages with limit, after and next" c_list_pages
run_case "a host can remove its enrollment only with its enrolled certificate" c_delete_needs_enrolled_cert
run_case "approving a host without a pending conflict is NOT_FOUND (exit 3)" c_approve_without_conflict
run_case "the stats counters are numbers, for admins only" c_stats
run_case "the control socket is mode 0600" c_control_socket_is_private
