#!/bin/bash
# SPDX-License-Identifier: ISC
# Issue 8 item 7: ECA_IDENTITY = DN works end to end.  The administrator
# maps certificate subjects to hosts (`eca map add HOST SUBJECT`, as
# NetBackup's -createECACertEntry); an unmapped subject is refused with the
# remedy; a mapped one enrolls; channels between DN-mapped hosts are judged
# through the mapping the roster carries; a removed mapping refuses again.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

P=primary.dn.test
A=a.dn.test
B=b.dn.test
SA="CN=Backup Host A"
SB="CN=Backup Host B"
declare -A LPORT=()

# dn_host NAME CN: a host whose subject is only CN (no name in it), in
# DN mode, with its peer listener.
dn_host() {
	make_host "$1" --server "$P" --cn "$2" --san none \
	    --conf "ECA_IDENTITY = DN" --conf "LISTEN = 127.0.0.1:${LPORT[$1]}" \
	    --conf "PEER = $A 127.0.0.1:${LPORT[$A]}" \
	    --conf "PEER = $B 127.0.0.1:${LPORT[$B]}" \
	    --conf "ECA_ROSTER_SYNC_SECONDS = 1" --conf "LOG_LEVEL = debug"
}

c_setup() {
	LPORT[$A]=$(free_port) || return
	LPORT[$B]=$(free_port) || return
	start_primary "$P" "ECA_IDENTITY = DN" || return
	dn_host $A "Backup Host A" || return
	dn_host $B "Backup Host B" || return
	expect_match "$(openssl x509 -in "$(host_dir $A)/cert.pem" -noout -subject)" \
	    "Backup Host A" "A's subject"
}

# --- refusals first ------------------------------------------------------------

c_unmapped_subject_is_refused_with_remedy() {
	host_eca $A --json enroll
	expect_rc 5 || return
	expect_json .error.code IDENTITY_MISMATCH || return
	expect_match "$ERR" "mapped to no host" "eca enroll's error" || return
	expect_match "$ERR" "eca map add $A 'CN=Backup Host A'" "eca enroll's error" || return
	expect_db "SELECT count(*) FROM enrollments" 0
}

c_subject_that_does_not_parse_is_refused() {
	primary_eca "$P" --json map add $A "no equals sign"
	expect_rc 1 || return
	expect_json .error.code BAD_REQUEST || return
	primary_eca "$P" map add $A "XYZZY=1"
	expect_rc 1 || return
	expect_match "$ERR" "unknown attribute type" "eca map add's error" || return
	expect_db "SELECT count(*) FROM dn_map" 0
}

c_non_admin_cannot_map() {
	primary_curl "$P" $A POST /v1/mappings -d "{\"host\":\"$A\",\"subject\":\"$SA\"}"
	expect_http 403 || return
	expect_db "SELECT count(*) FROM dn_map" 0
}

# --- mapping and enrolling -----------------------------------------------------

c_map_add_and_list() {
	# another spelling of the same name: normalized to one form
	primary_eca "$P" --json map add $A "cn = Backup Host A"
	expect_rc 0 || return
	expect_json .outcome MAPPED || return
	expect_json .mapping.subject "$SA" || return
	expect_db "SELECT host FROM dn_map WHERE subject='$SA' AND removed=0" $A || return
	primary_eca "$P" -createECACertEntry -subject "/CN=Backup Host B" -host $B
	expect_rc 0 || return
	expect_match "$OUT" "Mapped subject \"$SB\" to host $B" "the alias's output" || return
	primary_eca "$P" map list
	expect_rc 0 || return
	expect_match "$OUT" "$A +$SA" "eca map list" || return
	primary_eca "$P" --json -listECACertEntries
	expect_rc 0 || return
	expect_json '.mappings | length' 2 || return
	expect_json '.mappings[1].host' $B || return
	grep -q "\"event\":\"mapped\".*\"subject\":\"$SA\"" \
	    "${P_DIR[$P]}/state/audit.jsonl" ||
	    fail "the audit journal has no mapped line for $SA"
}

c_subject_mapped_to_two_hosts_is_refused() {
	primary_eca "$P" --json map add other.dn.test "$SA"
	expect_rc 5 || return
	expect_json .error.code MAPPING_EXISTS || return
	primary_eca "$P" --json map add $A "CN=Something Else"
	expect_rc 5 || return
	expect_json .error.code MAPPING_EXISTS || return
	expect_db "SELECT count(*) FROM dn_map WHERE removed=0" 2
}

c_mapped_hosts_enroll() {
	host_eca $A --json enroll
	expect_rc 0 || return
	expect_json .outcome ENROLLED || return
	host_eca $B enroll
	expect_rc 0 || return
	expect_db "SELECT count(*) FROM enrollments WHERE state='ENROLLED'" 2
}

c_subject_of_another_host_is_refused() {
	# B's certificate claiming to be A: mapped, but to B
	primary_curl "$P" $B POST /v1/enrollments -d "{\"host\":\"$A\"}"
	expect_http 403 || return
	expect_json .error.code IDENTITY_MISMATCH || return
	expect_match "$OUT" "mapped to host $B, not $A" "the refusal"
}

c_channel_between_dn_hosts_is_accepted() {
	start_host $A || return
	start_host $B || return
	host_eca $A --json ping $B
	expect_rc 0 || return
	expect_json .verdict.accept true || return
	host_eca $B --json ping $A
	expect_rc 0 || return
	expect_json .verdict.accept true
}

c_map_remove_refuses_the_next_enrollment() {
	primary_eca "$P" --json map remove $A
	expect_rc 0 || return
	expect_json .outcome UNMAPPED || return
	expect_db "SELECT removed FROM dn_map WHERE subject='$SA'" 1 || return
	host_eca $A --json enroll
	expect_rc 5 || return
	expect_json .error.code IDENTITY_MISMATCH || return
	primary_eca "$P" map remove $A
	expect_rc 3 || return
	# B judges A through its roster's copy of the mapping, which its
	# ecad syncs every ECA_ROSTER_SYNC_SECONDS
	sleep 3
	host_eca $B --json ping $A
	expect_rc 5 || return
	expect_match "$OUT$ERR" "IDENTITY_MISMATCH" "B's ping of A" || return
	grep -q "\"event\":\"unmapped\".*\"subject\":\"$SA\"" \
	    "${P_DIR[$P]}/state/audit.jsonl" ||
	    fail "the audit journal has no unmapped line for $SA"
}

c_delete_by_subject_alias() {
	primary_eca "$P" -deleteECACertEntry -subject "$SB"
	expect_rc 0 || return
	expect_db "SELECT count(*) FROM dn_map WHERE removed=0" 0 || return
	primary_eca "$P" -deleteECACertEntry -subject "$SB"
	expect_rc 3
}

run_case "a primary and two hosts in ECA_IDENTITY = DN" c_setup
[ "$IT_FAILED" = 0 ] || exit 1
run_case "an unmapped subject is refused IDENTITY_MISMATCH naming eca map add" c_unmapped_subject_is_refused_with_remedy
run_case "a subject that does not parse is refused and nothing is mapped" c_subject_that_does_not_parse_is_refused
run_case "a host that is not an administrator cannot map" c_non_admin_cannot_map
run_case "eca map add (and -createECACertEntry) map normalized subjects; map list shows them" c_map_add_and_list
run_case "a subject mapped to two hosts, or a host to two subjects, is refused" c_subject_mapped_to_two_hosts_is_refused
run_case "mapped hosts enroll in DN mode" c_mapped_hosts_enroll
run_case "a certificate whose subject is mapped to another host is refused" c_subject_of_another_host_is_refused
run_case "a channel between two DN-mapped hosts is accepted" c_channel_between_dn_hosts_is_accepted
run_case "map remove: the next enrollment is refused" c_map_remove_refuses_the_next_enrollment
run_case "-deleteECACertEntry -subject removes by subject" c_delete_by_subject_alias
