#!/bin/bash
# SPDX-License-Identifier: ISC
# Issue 13: bulk approve/reject.  `eca approve --all` (or a glob such as
# 'media*') decides on every matching host in CONFLICT, each by its own
# API call with its one waiting certificate's fingerprint; a host with
# several waiting is skipped (named, exit 1) and the others proceed;
# --dry-run lists what would change and changes nothing.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

P=primary.bulk.test
M1=media1.bulk.test
M2=media2.bulk.test
C1=client1.bulk.test
X=multi.bulk.test
declare -A NEW=()
XFP1="" XFP2=""

state() {
	db_count "SELECT state FROM enrollments WHERE host='$1'"
}
enrolled_fp() {
	db_count "SELECT fingerprint FROM enrollments WHERE host='$1'"
}
cands() {
	db_count "SELECT count(*) FROM candidates"
}

# conflict HOST: a new key for an enrolled host, presented: one candidate.
conflict() {
	renew_host "$1" || return
	NEW[$1]=$(cert_fp "$(host_dir "$1")/cert.pem")
	host_eca "$1" enroll
	expect_rc 5
}

b_setup() {
	local h
	start_primary "$P" || return
	for h in $M1 $M2 $C1 $X; do
		make_host "$h" --server "$P" || return
		host_eca "$h" enroll
		expect_rc 0 || return
	done
	for h in $M1 $M2 $C1; do
		conflict "$h" || return
	done
	conflict $X || return
	XFP1=${NEW[$X]}
	conflict $X || return
	XFP2=${NEW[$X]}
	expect_db "SELECT count(*) FROM enrollments WHERE state='CONFLICT'" 4
}

# --- refusals first ------------------------------------------------------------

b_usage_errors() {
	local before
	before=$(db_digest)
	primary_eca "$P" approve
	expect_rc 2 || return
	expect_match "$ERR" "needs HOST, a quoted glob like 'media\*', or --all" "approve without HOST" || return
	primary_eca "$P" approve --all $M1
	expect_rc 2 || return
	expect_match "$ERR" "not both" "approve --all HOST" || return
	primary_eca "$P" approve --all --fingerprint "${NEW[$M1]}"
	expect_rc 2 || return
	expect_match "$ERR" "--fingerprint names one host" "approve --all --fingerprint" || return
	primary_eca "$P" reject 'media*' --fingerprint "${NEW[$M1]}"
	expect_rc 2 || return
	primary_eca "$P" approve --dry-run $M1
	expect_rc 2 || return
	expect_match "$ERR" "--dry-run goes with --all or a glob" "approve --dry-run HOST" || return
	expect_eq "$(db_digest)" "$before" "the registry after usage errors"
}

b_dry_run_changes_nothing() {
	local before
	before=$(db_digest)
	primary_eca "$P" approve --all --dry-run
	expect_rc 1 || return
	expect_match "$OUT" "Would approve $M1 on .*: certificate ${NEW[$M1]}" "the dry run" || return
	expect_match "$OUT" "Would approve $M2 on .*: certificate ${NEW[$M2]}" "the dry run" || return
	expect_match "$OUT" "Would approve $C1 on .*: certificate ${NEW[$C1]}" "the dry run" || return
	expect_match "$ERR" "skipped $X: 2 certificates wait for it; approve it with --fingerprint" "the dry run's skip" || return
	primary_eca "$P" --json reject --dry-run 'media*'
	expect_rc 0 || return
	expect_json .dry_run true || return
	expect_json '.results | length' 2 || return
	expect_json ".results[] | select(.host==\"$M2\") | .fingerprint" "${NEW[$M2]}" || return
	expect_json ".results[] | select(.host==\"$M2\") | .outcome" WOULD_REJECT || return
	expect_eq "$(db_digest)" "$before" "the registry after dry runs" || return
	expect_eq "$(cands)" 5 "candidates after dry runs"
}

b_glob_no_match_changes_nothing() {
	local before
	before=$(db_digest)
	primary_eca "$P" approve 'nosuch*'
	expect_rc 0 || return
	expect_match "$OUT" "No host in CONFLICT on .* matches 'nosuch\*'" "approve of an unmatched glob" || return
	expect_eq "$(db_digest)" "$before" "the registry after an unmatched glob"
}

# --- decisions ------------------------------------------------------------------

b_glob_approves_only_matching() {
	primary_eca "$P" approve 'MEDIA*'
	expect_rc 0 || return
	expect_match "$OUT" "Approved $M1 on .*: certificate ${NEW[$M1]} is now enrolled" "approve 'media*'" || return
	expect_match "$OUT" "Approved 2 of 2 host\(s\)" "approve 'media*'" || return
	expect_eq "$(enrolled_fp $M1)" "${NEW[$M1]}" "$M1's certificate" || return
	expect_eq "$(enrolled_fp $M2)" "${NEW[$M2]}" "$M2's certificate" || return
	expect_eq "$(state $M1)" ENROLLED "$M1's state" || return
	expect_eq "$(state $C1)" CONFLICT "$C1's state (no match)" || return
	expect_eq "$(state $X)" CONFLICT "$X's state (no match)" || return
	expect_db "SELECT count(*) FROM history WHERE event='APPROVE'" 2 || return
	expect_eq "$(grep -c '"event":"approved"' "${P_DIR[$P]}/state/audit.jsonl")" 2 \
	    "approved lines in the audit journal"
}

b_all_approves_single_and_skips_several() {
	primary_eca "$P" --json approve --all
	expect_rc 1 || return
	expect_json .dry_run false || return
	expect_json '.results | length' 2 || return
	expect_json ".results[] | select(.host==\"$C1\") | .outcome" APPROVED || return
	expect_json ".results[] | select(.host==\"$C1\") | .fingerprint" "${NEW[$C1]}" || return
	expect_json ".results[] | select(.host==\"$X\") | .code" FINGERPRINT_REQUIRED || return
	expect_json ".results[] | select(.host==\"$X\") | .error | test(\"approve it with --fingerprint\")" true || return
	expect_match "$ERR" "skipped $X" "approve --all's stderr" || return
	expect_eq "$(enrolled_fp $C1)" "${NEW[$C1]}" "$C1's certificate" || return
	expect_eq "$(state $X)" CONFLICT "$X's state" || return
	expect_db "SELECT count(*) FROM candidates WHERE host='$X'" 2
}

b_reject_all() {
	primary_eca "$P" reject $X --fingerprint "$XFP1"
	expect_rc 0 || return
	conflict $M1 || return
	primary_eca "$P" reject --all
	expect_rc 0 || return
	expect_match "$OUT" "Rejected certificate ${NEW[$M1]} of $M1" "reject --all" || return
	expect_match "$OUT" "Rejected certificate $XFP2 of $X" "reject --all" || return
	expect_match "$OUT" "Rejected 2 of 2 host\(s\)" "reject --all" || return
	expect_eq "$(state $M1)" ENROLLED "$M1's state" || return
	expect_eq "$(state $X)" ENROLLED "$X's state" || return
	expect_eq "$(cands)" 0 "candidates after reject --all" || return
	expect_db "SELECT count(*) FROM enrollments WHERE state='CONFLICT'" 0 || return
	primary_eca "$P" approve --all
	expect_rc 0 || return
	expect_match "$OUT" "No host in CONFLICT" "approve --all with none waiting"
}

run_case "ecad starts; four hosts enroll, then present new keys (one twice)" b_setup
[ "$IT_FAILED" = 0 ] || exit 1
run_case "approve/reject without HOST or --all, with both, with --fingerprint and a glob, or --dry-run for one host is a usage error" b_usage_errors
run_case "--dry-run lists host and fingerprint of each decision and changes nothing" b_dry_run_changes_nothing
run_case "a glob matching no host in CONFLICT says so and changes nothing" b_glob_no_match_changes_nothing
run_case "approve 'MEDIA*' approves only the matching hosts, one audit entry each" b_glob_approves_only_matching
run_case "approve --all approves every single-candidate host and skips one with two (exit 1)" b_all_approves_single_and_skips_several
run_case "reject --all rejects every host's waiting certificate" b_reject_all
