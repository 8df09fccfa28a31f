#!/bin/bash
# SPDX-License-Identifier: ISC
# Host names have one canonical spelling (issue 8 item 1): every path that
# takes a name is spelled here in mixed case, and must reach the record of
# the lower-case name, never a second one.
#
#   primary.nm.test   the primary (API on 127.0.0.1)
#   admin.nm.test     an administrator, in the config as ADMIN.NM.TEST
#   media1.nm.test    enrolled; m1b holds a second certificate (new key)
#   b1.nm.test        banned
#   media2.nm.test    a peer listener; client1.nm.test pings it, its own
#                     CLIENT_NAME written CLIENT1.NM.TEST
#   crl.nm.test       a second primary checking CRLs; r1.nm.test enrolls
#                     with CLIENT_NAME = R1.NM.TEST and is then revoked
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

P=primary.nm.test
ADMIN=admin.nm.test
M1=media1.nm.test
B1=b1.nm.test
M2=media2.nm.test
C1=client1.nm.test
Q=crl.nm.test
R1=r1.nm.test
PATHCA=$T/pathca

upper() {
	printf '%s' "$1" | tr 'a-z' 'A-Z'
}

# enroll_as FROM NAME: POST /v1/enrollments {"host": NAME} with FROM's cert.
enroll_as() {
	primary_curl "$P" "$1" POST /v1/enrollments -d "{\"host\":\"$2\"}"
}

c_setup() {
	start_primary "$P" "ADMIN_IDENTITY = $(upper $ADMIN)" || return
	make_host $ADMIN --server "$P" || return
	make_host $M1 --server "$P" || return
	# The same host name in a second certificate with its own key.
	make_host m1b.nm.test --server "$P" --name $M1 --cn $M1 --san $M1 || return
	make_host $B1 --server "$P" || return
	host_eca $M1 enroll
	expect_rc 0 || return
	host_eca $B1 enroll
	expect_rc 0 || return
	expect_db "SELECT count(*) FROM enrollments" 2
}

# --- refusals first ----------------------------------------------------------

c_trailing_dot_is_400_with_reason() {
	local before
	before=$(db_digest)
	enroll_as $M1 "$M1."
	expect_http 400 || return
	expect_json .error.code BAD_HOST_NAME || return
	expect_match "$(jq -r .error.message <<<"$OUT")" \
	    "'$M1\\.' is not a valid host name: it ends with a dot" \
	    "the refusal" || return
	primary_curl "$P" $ADMIN GET "/v1/enrollments/$M1."
	expect_http 400 || return
	expect_json .error.code BAD_HOST_NAME || return
	enroll_as $M1 "media_1.nm.test"
	expect_http 400 || return
	expect_match "$(jq -r .error.message <<<"$OUT")" "'_' is not allowed" \
	    "the refusal" || return
	primary_eca "$P" show "$M1."
	expect_rc 2 || return
	expect_match "$ERR" "ends with a dot" "eca show's error" || return
	expect_eq "$(db_digest)" "$before" "the registry after refused names"
}

c_second_certificate_in_upper_case_conflicts() {
	local fp
	fp=$(cert_fp "$(host_dir $M1)/cert.pem")
	enroll_as m1b.nm.test "$(upper $M1)"
	expect_http 409 || return
	expect_json .error.code CONFLICT || return
	expect_json .enrollment.host $M1 || return
	expect_db "SELECT count(*) FROM enrollments WHERE lower(host)='$M1'" 1 || return
	expect_db "SELECT state || ' ' || fingerprint FROM enrollments WHERE host='$M1'" \
	    "CONFLICT $fp" || return
	# Any other spelling is the same record, not a new one.
	enroll_as m1b.nm.test "Media1.Nm.Test"
	expect_http 409 || return
	expect_db "SELECT count(*) FROM enrollments" 2
}

c_banned_host_in_upper_case_is_still_refused() {
	primary_eca "$P" --json ban "$(upper $B1)"
	expect_rc 0 || return
	expect_json .outcome BANNED || return
	expect_db "SELECT state FROM enrollments WHERE host='$B1'" BANNED || return
	expect_db "SELECT count(*) FROM enrollments WHERE lower(host)='$B1'" 1 || return
	# A new key, the name in upper case: still the banned host.
	renew_host $B1 || return
	enroll_as $B1 "$(upper $B1)"
	expect_http 403 || return
	expect_json .error.code BANNED || return
	sed -i "s/^CLIENT_NAME = .*/CLIENT_NAME = $(upper $B1)/" \
	    "$(host_dir $B1)/eca.conf"
	host_eca $B1 enroll
	expect_rc 5 || return
	expect_match "$ERR" BANNED "eca enroll's error" || return
	expect_db "SELECT count(*) FROM enrollments WHERE lower(host)='$B1'" 1
}

# --- every spelling finds the one record --------------------------------------

c_show_in_upper_case_finds_the_record() {
	primary_eca "$P" --json show "$(upper $M1)"
	expect_rc 0 || return
	expect_json .enrollment.host $M1 || return
	primary_curl "$P" $ADMIN GET "/v1/enrollments/$(upper $M1)"
	expect_http 200 || return
	expect_json .host $M1 || return
	# The administrator, configured as ADMIN.NM.TEST, lists over TLS.
	host_eca $ADMIN --json list --server "$(upper $P)"
	expect_rc 0 || return
	expect_json '[.enrollments[].host] | sort | join(",")' "$B1,$M1"
}

# A peer named in upper case, and a caller whose HELLO names itself in
# upper case, are both judged against their lower-case enrollments.
c_channel_names_in_upper_case_are_judged_as_enrolled() {
	local p2 p1
	p1=$(free_port) || return
	p2=$(free_port) || return
	make_host $C1 --server "$P" \
	    --conf "ECA_DISABLE_AUTO_ENROLLMENT = YES" \
	    --conf "PEER = $(upper $M2) 127.0.0.1:$p2" \
	    --conf "LISTEN = 127.0.0.1:$p1" || return
	make_host $M2 --server "$P" \
	    --conf "ECA_DISABLE_AUTO_ENROLLMENT = YES" \
	    --conf "PEER = $C1 127.0.0.1:$p1" \
	    --conf "LISTEN = 127.0.0.1:$p2" || return
	sed -i "s/^ROLE = client$/ROLE = media/" "$(host_dir $M2)/eca.conf"
	host_eca $C1 enroll
	expect_rc 0 || return
	host_eca $M2 enroll
	expect_rc 0 || return
	start_host $M2 || return
	# From now on the caller spells its own name in upper case.
	sed -i "s/^CLIENT_NAME = .*/CLIENT_NAME = $(upper $C1)/" \
	    "$(host_dir $C1)/eca.conf"
	host_eca $C1 --json ping "$(upper $M2)"
	expect_rc 0 || return
	expect_json .verdict.accept true || return
	expect_json .primary $P || return
	expect_json .steps.peer_fingerprint "$(cert_fp "$(host_dir $M2)/cert.pem")" || return
	expect_match "$(cat "$(host_dir $M2)/ecad.log")" \
	    "peer channel from $C1 .*accepted" "$M2's log" || return
	expect_db "SELECT count(*) FROM enrollments WHERE lower(host) IN ('$C1','$M2')" 2
}

# A host configured as R1.NM.TEST enrolls as r1.nm.test, and when the CRL
# revokes its certificate the primary marks that record REVOKED.
c_revoked_host_configured_in_upper_case_is_marked() {
	local i
	"$MKCA" ca "$PATHCA" --name "names it" >/dev/null ||
	    { fail "cannot make the CRL path CA"; return; }
	cat "$CA/trust.pem" "$PATHCA/trust.pem" "$PATHCA/inter.pem" \
	    >"$T/path-trust.pem"
	mkdir -p "$T/crls"
	"$MKCA" crl "$PATHCA" --der >/dev/null || { fail "mkca.sh crl failed"; return; }
	cp "$PATHCA/inter.crl" "$T/crls/inter.der"
	P_PORT[$Q]=$(free_port) || return
	P_ORDER+=("$Q")
	make_host $R1 --server "$Q" --name "$(upper $R1)" --issuer "$PATHCA" \
	    --trust "$T/path-trust.pem" || return
	make_primary "$Q" || return
	sed -i -e "s|^ECA_CRL_CHECK = DISABLE|ECA_CRL_CHECK = LEAF|" \
	    -e "s|^ECA_TRUST_STORE_PATH = .*|ECA_TRUST_STORE_PATH = $T/path-trust.pem|" \
	    "${P_CONF[$Q]}"
	echo "ECA_CRL_PATH = $T/crls" >>"${P_CONF[$Q]}"
	start_primary "$Q" || return
	host_eca $R1 --json enroll
	expect_rc 0 || return
	expect_db "SELECT state FROM enrollments WHERE host='$R1'" ENROLLED "$Q" || return
	"$MKCA" crl "$PATHCA" --revoke "$(host_dir $R1)/cert.pem" --der \
	    >/dev/null || { fail "mkca.sh crl failed"; return; }
	cp "$PATHCA/inter.crl" "$T/crls/inter.der"
	primary_eca "$Q" --json crl download
	expect_rc 0 || return
	host_eca $R1 --json enroll
	expect_rc 5 || return
	expect_json .error.code REVOKED || return
	for ((i = 0; i < 50; i++)); do
		[ "$(db_count "SELECT state FROM enrollments WHERE host='$R1'" "$Q")" = REVOKED ] &&
		    break
		sleep 0.1
	done
	expect_db "SELECT state FROM enrollments WHERE host='$R1'" REVOKED "$Q" || return
	expect_db "SELECT count(*) FROM enrollments" 1 "$Q"
}

# --- the upgrade of a registry with two spellings of one host -------------------

c_upgrade_with_two_spellings_refuses_to_start() {
	local db log v
	stop_primary "$P"
	db=${P_DIR[$P]}/state/registry.db
	v=$(db_count "PRAGMA user_version")
	# What an older eca could write: a second record in upper case.
	timeout 10 sqlite3 "$db" "INSERT INTO enrollments SELECT primary_name,
	    upper(host), '00000000-0000-4000-8000-00000000beef', role, state,
	    method, fingerprint, spki_fingerprint, subject, issuer, serial,
	    not_before, not_after, key_desc, sig_alg, cn, san, has_candidate,
	    cand_fingerprint, cand_spki_fingerprint, cand_subject, cand_issuer,
	    cand_serial, cand_not_before, cand_not_after, cand_key_desc,
	    cand_sig_alg, cand_cn, cand_san, candidate_at, candidate_source,
	    enrolled_at, updated_at, last_seen, source, version, nat
	    FROM enrollments WHERE host = '$M1'; PRAGMA user_version = 2;" ||
	    { fail "cannot write the old registry"; return; }
	log=${P_DIR[$P]}/ecad.log
	: >"$log"
	run_cmd "$ECAD" -d -f "${P_CONF[$P]}"
	expect_rc 1 || return
	expect_match "$ERR" "'$M1' \(CONFLICT\) and '$(upper $M1)' \(CONFLICT\)" \
	    "ecad's refusal" || return
	expect_match "$ERR" "DELETE FROM enrollments" "ecad's remedy" || return
	expect_db "PRAGMA user_version" 2 || return
	expect_db "SELECT count(*) FROM enrollments WHERE lower(host)='$M1'" 2 || return
	# The remedy as given, and ecad starts.  (The schema is already the
	# current one: put its version back, so that later migrations are not
	# applied twice; the fold itself is test_store's.)
	timeout 10 sqlite3 "$db" "DELETE FROM history WHERE host = '$(upper $M1)';
	    DELETE FROM enrollments WHERE host = '$(upper $M1)';
	    PRAGMA user_version = $v" ||
	    { fail "cannot apply the remedy"; return; }
	start_primary "$P" || return
	expect_db "PRAGMA user_version" "$v" || return
	expect_db "SELECT count(*) FROM enrollments WHERE lower(host)='$M1'" 1
}

run_case "ecad starts and two hosts enroll" c_setup
[ "$IT_FAILED" = 0 ] || exit 1
run_case "a trailing dot or an underscore is 400 BAD_HOST_NAME saying why, and nothing is written" c_trailing_dot_is_400_with_reason
run_case "a second certificate for MEDIA1... is a conflict with media1..., not a second host" c_second_certificate_in_upper_case_conflicts
run_case "a banned host is still refused when it spells its name in upper case" c_banned_host_in_upper_case_is_still_refused
run_case "eca show, GET and an admin configured in upper case all find the lower-case records" c_show_in_upper_case_finds_the_record
run_case "a channel whose peer and HELLO name hosts in upper case is judged against the enrollments" c_channel_names_in_upper_case_are_judged_as_enrolled
run_case "a host configured in upper case is marked REVOKED when the CRL revokes it" c_revoked_host_configured_in_upper_case_is_marked
run_case "a registry with two spellings of one host is not upgraded; ecad refuses to start, naming both" c_upgrade_with_two_spellings_refuses_to_start
