#!/bin/bash
# SPDX-License-Identifier: ISC
# Issue 8 item 2: approve enrolls exactly the certificate the administrator
# saw.  Every distinct certificate waiting in a CONFLICT is kept (at most
# 8), `eca show` lists them, approve/reject name one by its fingerprint,
# and the others keep waiting.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

P=primary.cand.test
A=a.cand.test
B=b.cand.test
FP0="" FP1="" FP2=""

# keep HOST TAG: a copy of the host's current certificate and key.
keep() {
	local d
	d=$(host_dir "$1")
	cp "$d/cert.pem" "$d/$2.pem" && cp "$d/key.pem" "$d/$2.key"
}

# use HOST TAG: present a kept certificate again.
use() {
	local d
	d=$(host_dir "$1")
	cp "$d/$2.pem" "$d/cert.pem" && cp "$d/$2.key" "$d/key.pem"
}

cands() {
	db_count "SELECT count(*) FROM candidates WHERE host='$1'"
}

c_setup() {
	start_primary "$P" || return
	make_host $A --server "$P" || return
	make_host $B --server "$P" || return
	host_eca $A enroll
	expect_rc 0 || return
	host_eca $B enroll
	expect_rc 0 || return
	FP0=$(cert_fp "$(host_dir $A)/cert.pem")
	keep $A orig
}

# --- refusals first ------------------------------------------------------------

c_api_requires_the_fingerprint() {
	local before
	before=$(db_digest)
	run_cmd curl -sS --max-time 10 --unix-socket \
	    "${P_DIR[$P]}/state/ecad.sock" -o "$T/.b" -w '%{http_code}' \
	    -X POST http://localhost/v1/enrollments/$A/approve
	expect_eq "$OUT" 400 "approve without a body's HTTP status" || return
	expect_json .error.code FINGERPRINT_REQUIRED "$(cat "$T/.b")" || return
	run_cmd curl -sS --max-time 10 --unix-socket \
	    "${P_DIR[$P]}/state/ecad.sock" -o "$T/.b" -w '%{http_code}' \
	    -X POST -d '{}' http://localhost/v1/enrollments/$A/reject
	expect_eq "$OUT" 400 "reject with {}'s HTTP status" || return
	expect_json .error.code FINGERPRINT_REQUIRED "$(cat "$T/.b")" || return
	run_cmd curl -sS --max-time 10 --unix-socket \
	    "${P_DIR[$P]}/state/ecad.sock" -o "$T/.b" -w '%{http_code}' \
	    -X POST -d '{"fingerprint":"xyz"}' \
	    http://localhost/v1/enrollments/$A/approve
	expect_eq "$OUT" 400 "approve with a bad fingerprint's HTTP status" || return
	expect_json .error.code BAD_REQUEST "$(cat "$T/.b")" || return
	expect_eq "$(db_digest)" "$before" "the registry after refused decisions"
}

c_approve_without_conflict_is_not_found() {
	primary_eca "$P" approve $A --fingerprint "$FP0"
	expect_rc 3 || return
	primary_eca "$P" approve $A
	expect_rc 3 || return
	expect_match "$ERR" "no certificate waits for $A" "eca approve's error"
}

c_bad_fingerprint_option_is_usage() {
	primary_eca "$P" approve $A --fingerprint 1234
	expect_rc 2
}

# --- two new keys: two candidates ------------------------------------------------

c_two_new_keys_are_two_candidates() {
	renew_host $A || return
	keep $A one
	FP1=$(cert_fp "$(host_dir $A)/cert.pem")
	host_eca $A enroll
	expect_rc 5 || return
	expect_match "$ERR" "CONFLICT" "eca enroll's error" || return
	renew_host $A || return
	keep $A two
	FP2=$(cert_fp "$(host_dir $A)/cert.pem")
	host_eca $A enroll
	expect_rc 5 || return
	expect_eq "$(cands $A)" 2 "candidates of $A" || return
	expect_db "SELECT fingerprint FROM enrollments WHERE host='$A'" "$FP0" || return
	primary_eca "$P" --json show $A
	expect_rc 0 || return
	expect_json '.enrollment.candidates | length' 2 || return
	expect_json '.enrollment.candidates[0].fingerprint' "$FP1" || return
	expect_json '.enrollment.candidates[1].fingerprint' "$FP2" || return
	expect_json '.enrollment.candidates[0].source | test(":")' true || return
	primary_eca "$P" show $A
	expect_rc 0 || return
	expect_match "$OUT" "Waiting certificates: 2" "eca show" || return
	expect_match "$OUT" "$FP1" "eca show" || return
	expect_match "$OUT" "$FP2" "eca show"
}

c_same_candidate_again_is_not_new() {
	local conflicts
	conflicts=$(db_count "SELECT count(*) FROM history WHERE host='$A' AND event='CONFLICT'")
	use $A one
	host_eca $A enroll
	expect_rc 5 || return
	expect_eq "$(cands $A)" 2 "candidates of $A after a retry" || return
	expect_db "SELECT count(*) FROM history WHERE host='$A' AND event='CONFLICT'" "$conflicts"
}

c_approve_without_fingerprint_lists_and_is_usage() {
	local before
	before=$(db_digest)
	primary_eca "$P" approve $A
	expect_rc 2 || return
	expect_match "$ERR" "$FP1" "eca approve's list" || return
	expect_match "$ERR" "$FP2" "eca approve's list" || return
	expect_match "$ERR" "--fingerprint" "eca approve's error" || return
	expect_eq "$(db_digest)" "$before" "the registry after approve without a choice"
}

c_approve_of_a_fingerprint_not_waiting_is_not_found() {
	primary_eca "$P" --json approve $A --fingerprint "$(cert_fp "$(host_dir $B)/cert.pem")"
	expect_rc 3 || return
	expect_json .error.code NOT_FOUND || return
	expect_match "$ERR" "no certificate with fingerprint" "eca approve's error"
}

c_approve_enrolls_exactly_the_named_one() {
	local spelled
	# upper case with colons, as `openssl x509 -fingerprint` prints it
	spelled=$(printf '%s' "$FP1" | tr a-f A-F | sed 's/../&:/g; s/:$//')
	primary_eca "$P" approve $A --fingerprint "$spelled"
	expect_rc 0 || return
	expect_match "$OUT" "Approved $A .*$FP1" "eca approve's output" || return
	expect_match "$OUT" "1 other certificate\(s\) still wait" "eca approve's output" || return
	expect_db "SELECT fingerprint FROM enrollments WHERE host='$A'" "$FP1" || return
	expect_db "SELECT method FROM enrollments WHERE host='$A'" ADMIN || return
	expect_db "SELECT state FROM enrollments WHERE host='$A'" CONFLICT || return
	expect_db "SELECT fingerprint FROM candidates WHERE host='$A'" "$FP2" || return
	expect_db "SELECT count(*) FROM history WHERE host='$A' AND event='APPROVE' AND fingerprint='$FP1'" 1 || return
	grep -q "\"event\":\"approved\".*\"fingerprint\":\"$FP1\"" \
	    "${P_DIR[$P]}/state/audit.jsonl" ||
	    fail "the audit journal has no approved line naming $FP1"
}

c_reject_with_one_waiting_says_which() {
	primary_eca "$P" reject $A
	expect_rc 0 || return
	expect_match "$OUT" "One certificate waits for $A: $FP2" "eca reject's output" || return
	expect_db "SELECT state FROM enrollments WHERE host='$A'" ENROLLED || return
	expect_db "SELECT fingerprint FROM enrollments WHERE host='$A'" "$FP1" || return
	expect_eq "$(cands $A)" 0 "candidates of $A"
}

c_ninth_candidate_is_refused() {
	local i
	for i in 1 2 3 4 5 6 7 8; do
		renew_host $A || return
		host_eca $A enroll
		expect_rc 5 || return
	done
	expect_eq "$(cands $A)" 8 "candidates of $A" || return
	renew_host $A || return
	host_eca $A --json enroll
	expect_rc 5 || return
	expect_json .error.code TOO_MANY_CANDIDATES || return
	expect_eq "$(cands $A)" 8 "candidates of $A after the 9th" || return
	expect_db "SELECT count(*) FROM candidates WHERE host='$A' AND fingerprint='$(cert_fp "$(host_dir $A)/cert.pem")'" 0 || return
	grep -q '"reason":"TOO_MANY_CANDIDATES"' "${P_DIR[$P]}/state/audit.jsonl" ||
	    fail "the audit journal has no TOO_MANY_CANDIDATES refusal"
}

run_case "ecad starts and two hosts enroll" c_setup
[ "$IT_FAILED" = 0 ] || exit 1
run_case "the API refuses approve/reject without a fingerprint (400 FINGERPRINT_REQUIRED) and writes nothing" c_api_requires_the_fingerprint
run_case "approve with no conflict pending is not found (exit 3)" c_approve_without_conflict_is_not_found
run_case "a malformed --fingerprint is a usage error" c_bad_fingerprint_option_is_usage
run_case "two different new keys for an enrolled host are two candidates, both shown" c_two_new_keys_are_two_candidates
run_case "the same candidate presented again is not a new candidate" c_same_candidate_again_is_not_new
run_case "approve without --fingerprint with two waiting lists them and exits 2" c_approve_without_fingerprint_lists_and_is_usage
run_case "approve of a fingerprint that does not wait is not found" c_approve_of_a_fingerprint_not_waiting_is_not_found
run_case "approve --fingerprint enrolls exactly that certificate; the other keeps waiting" c_approve_enrolls_exactly_the_named_one
run_case "reject without --fingerprint uses the one waiting and says so" c_reject_with_one_waiting_says_which
run_case "a 9th distinct candidate is refused TOO_MANY_CANDIDATES and journaled" c_ninth_candidate_is_refused
