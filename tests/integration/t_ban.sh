#!/bin/bash
# SPDX-License-Identifier: ISC
# Ban and unban on the primary: a banned host cannot enroll, again or for
# the first time, nor remove its own record; only an administrator bans
# and unbans; unban leaves the host REMOVED, to enroll again.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

P=primary1.it.test
ADMIN=admin.it.test
A=a1.it.test
B=b1.it.test
C=c1.it.test

c_setup() {
	start_primary "$P" "ADMIN_IDENTITY = $ADMIN" || return
	make_host $A --server "$P" || return
	make_host $B --server "$P" || return
	make_host $C --server "$P" || return
	make_host $ADMIN --server "$P" || return
	host_eca $A enroll
	expect_rc 0 || return
	host_eca $C enroll
	expect_rc 0
}

# --- refusals first ----------------------------------------------------------

c_non_admin_cannot_ban() {
	local before
	before=$(db_digest)
	primary_curl "$P" $A POST /v1/enrollments/$C/ban
	expect_http 403 || return
	expect_json .error.code FORBIDDEN || return
	host_eca $A ban $C --server "$P"
	expect_rc 5 || return
	expect_eq "$(db_digest)" "$before" "the registry after a refused ban"
}

c_non_admin_cannot_unban() {
	primary_curl "$P" $A POST /v1/enrollments/$C/unban
	expect_http 403 || return
	expect_json .error.code FORBIDDEN
}

c_unban_of_host_not_banned_is_not_found() {
	local before
	before=$(db_digest)
	primary_eca "$P" --json unban $C
	expect_rc 3 || return
	expect_json .error.code NOT_FOUND || return
	expect_db "SELECT state FROM enrollments WHERE host='$C'" ENROLLED || return
	expect_eq "$(db_digest)" "$before" "the registry after unban of a host not banned"
}

c_ban_of_invalid_host_name_is_usage() {
	primary_eca "$P" ban -bad-name
	expect_rc 2
}

# --- ban of an enrolled host ---------------------------------------------------

c_ban_enrolled_host() {
	local fp
	fp=$(cert_fp "$(host_dir $A)/cert.pem")
	primary_eca "$P" --json ban $A
	expect_rc 0 || return
	expect_json .outcome BANNED || return
	expect_json .enrollment.state BANNED || return
	expect_json .enrollment.certificate.fingerprint "$fp" || return
	expect_db "SELECT state FROM enrollments WHERE host='$A'" BANNED || return
	expect_db "SELECT fingerprint FROM enrollments WHERE host='$A'" "$fp" || return
	expect_db "SELECT count(*) FROM history WHERE host='$A' AND event='BAN' AND actor LIKE 'local:%'" 1
}

c_banned_host_enroll_is_refused_with_remedy() {
	host_eca $A enroll
	expect_rc 5 || return
	expect_match "$ERR" "BANNED" "eca enroll's error" || return
	expect_match "$ERR" "ask an administrator \(eca unban $A\)" "eca enroll's error" || return
	host_eca $A --json enroll --precheck
	expect_rc 5 || return
	expect_json .error.code BANNED || return
	primary_curl "$P" $A POST /v1/enrollments -d "{\"host\":\"$A\"}"
	expect_http 403 || return
	expect_json .error.code BANNED || return
	expect_db "SELECT state FROM enrollments WHERE host='$A'" BANNED
}

c_banned_host_cannot_remove_itself() {
	host_eca $A --json unenroll
	expect_rc 5 || return
	expect_json .error.code BANNED || return
	expect_db "SELECT state FROM enrollments WHERE host='$A'" BANNED
}

c_ban_twice_is_unchanged() {
	primary_eca "$P" --json ban $A
	expect_rc 0 || return
	expect_json .outcome UNCHANGED || return
	expect_db "SELECT count(*) FROM history WHERE host='$A' AND event='BAN'" 1
}

# --- ban of a host never seen ----------------------------------------------------

c_ban_unknown_host_over_tls_by_admin() {
	host_eca $ADMIN --json ban $B --server "$P"
	expect_rc 0 || return
	expect_json .outcome BANNED || return
	expect_json .enrollment.state BANNED || return
	expect_json '.enrollment.host_id | length' 36 || return
	expect_db "SELECT count(*) FROM history WHERE host='$B' AND event='BAN' AND actor='$ADMIN'" 1
}

c_banned_unknown_host_cannot_enroll_later() {
	host_eca $B --json enroll
	expect_rc 5 || return
	expect_json .error.code BANNED || return
	expect_db "SELECT count(*) FROM history WHERE host='$B' AND event='ENROLL'" 0 || return
	expect_db "SELECT fingerprint FROM enrollments WHERE host='$B'" ""
}

c_list_shows_banned_hosts() {
	primary_eca "$P" --json list --state BANNED
	expect_rc 0 || return
	expect_json '[.enrollments[].host] | sort | join(",")' "$A,$B"
}

c_status_on_banned_host_says_banned() {
	host_eca $A --json status
	expect_json '.servers[0].status' BANNED
}

# --- unban -------------------------------------------------------------------------

c_unban_makes_removed_and_host_enrolls_again() {
	local id
	id=$(db_count "SELECT host_id FROM enrollments WHERE host='$A'")
	primary_eca "$P" --json unban $A
	expect_rc 0 || return
	expect_json .outcome UNBANNED || return
	expect_json .enrollment.state REMOVED || return
	expect_db "SELECT count(*) FROM history WHERE host='$A' AND event='UNBAN' AND state='REMOVED'" 1 || return
	host_eca $A --json enroll
	expect_rc 0 || return
	expect_json .outcome ENROLLED || return
	expect_json .enrollment.host_id "$id" || return
	expect_db "SELECT state FROM enrollments WHERE host='$A'" ENROLLED
}

c_unban_over_tls_by_admin() {
	host_eca $ADMIN unban $B --server "$P"
	expect_rc 0 || return
	expect_match "$OUT" "Lifted the ban of $B" "eca unban's output" || return
	host_eca $B enroll
	expect_rc 0 || return
	expect_db "SELECT state FROM enrollments WHERE host='$B'" ENROLLED
}

run_case "ecad starts and two hosts enroll" c_setup
[ "$IT_FAILED" = 0 ] || exit 1
run_case "a host that is not an administrator cannot ban, and nothing is written" c_non_admin_cannot_ban
run_case "a host that is not an administrator cannot unban" c_non_admin_cannot_unban
run_case "unban of a host that is not banned is NOT_FOUND and writes nothing" c_unban_of_host_not_banned_is_not_found
run_case "eca ban with an invalid host name is a usage error" c_ban_of_invalid_host_name_is_usage
run_case "eca ban of an enrolled host makes it BANNED, its certificate kept, with a BAN event" c_ban_enrolled_host
run_case "a banned host's enrollment is refused 403 BANNED with the unban remedy" c_banned_host_enroll_is_refused_with_remedy
run_case "a banned host cannot remove its own record" c_banned_host_cannot_remove_itself
run_case "banning a banned host again is UNCHANGED with no new event" c_ban_twice_is_unchanged
run_case "an administrator over TLS bans a host never seen: a BANNED record without a certificate" c_ban_unknown_host_over_tls_by_admin
run_case "a host banned before it ever enrolled cannot enroll later" c_banned_unknown_host_cannot_enroll_later
run_case "eca list --state BANNED shows the banned hosts" c_list_shows_banned_hosts
run_case "eca status on a banned host says BANNED" c_status_on_banned_host_says_banned
run_case "eca unban makes the host REMOVED with an UNBAN event, and it enrolls again with its host ID" c_unban_makes_removed_and_host_enrolls_again
run_case "an administrator over TLS unbans, and the host enrolls" c_unban_over_tls_by_admin
