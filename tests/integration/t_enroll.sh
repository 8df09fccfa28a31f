#!/bin/bash
# SPDX-License-Identifier: ISC
# Enrollment life cycle against one primary: manual enrollment, precheck,
# repeats, renewal, key change (conflict, approve, reject), forced
# re-enrollment, unenroll, admin removal and who may administer.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

P=primary1.it.test
PF=primary2.it.test
ADMIN=admin.it.test

# `eca status --json` of a host.
status_json() {
	host_eca "$1" --json status
}

c_primary_starts() {
	start_primary "$P" "ADMIN_IDENTITY = $ADMIN" || return
	start_primary "$PF" "ECA_ALLOW_FORCED_REENROLLMENT = YES"
}

c_manual() {
	local h=m1.it.test fp
	make_host $h --server "$P" || return
	fp=$(cert_fp "$(host_dir $h)/cert.pem")
	host_eca $h --json enroll
	expect_rc 0 || return
	expect_json .outcome ENROLLED || return
	expect_db "SELECT count(*) FROM enrollments WHERE host='$h' AND state='ENROLLED'" 1 || return
	expect_db "SELECT fingerprint FROM enrollments WHERE host='$h'" "$fp" || return
	status_json $h
	expect_rc 0 || return
	expect_json '.servers[0].status' ENROLLED || return
	expect_json '.servers[0].server' "$P" || return
	expect_json '.servers[0].fingerprint' "$fp"
}

c_precheck() {
	local h=pre.it.test
	make_host $h --server "$P" || return
	host_eca $h --json enroll --precheck
	expect_rc 0 || return
	expect_json .precheck true || return
	expect_json .outcome ENROLLED || return
	expect_json .enrollment null || return
	expect_db "SELECT count(*) FROM enrollments WHERE host='$h'" 0 || return
	expect_db "SELECT count(*) FROM history WHERE host='$h'" 0
}

c_same_cert_twice() {
	local h=m1.it.test
	host_eca $h --json enroll
	expect_rc 0 || return
	expect_json .outcome UNCHANGED || return
	expect_db "SELECT count(*) FROM history WHERE host='$h'" 1 || return
	expect_db "SELECT count(*) FROM enrollments WHERE host='$h'" 1
}

c_renewal_same_key() {
	local h=m1.it.test id fp
	status_json $h
	id=$(jq -r '.servers[0].host_id' <<<"$OUT")
	if [ -z "$id" ] || [ "$id" = null ]; then
		fail "no host_id in status before renewal: $OUT"
		return
	fi
	renew_host $h --reuse-key "$(host_dir $h)/key.pem" || return
	fp=$(cert_fp "$(host_dir $h)/cert.pem")
	host_eca $h --json enroll
	expect_rc 0 || return
	expect_json .outcome RENEWED || return
	status_json $h
	expect_json '.servers[0].status' ENROLLED || return
	expect_json '.servers[0].host_id' "$id" || return
	expect_json '.servers[0].fingerprint' "$fp" || return
	expect_db "SELECT group_concat(event, ',') FROM (SELECT event FROM history WHERE host='$h' ORDER BY id) h" "ENROLL,RENEW"
}

c_conflict_approve() {
	local h=k1.it.test newfp
	make_host $h --server "$P" || return
	host_eca $h enroll
	expect_rc 0 || return
	renew_host $h || return
	newfp=$(cert_fp "$(host_dir $h)/cert.pem")
	host_eca $h --json enroll
	expect_rc 5 || return
	expect_json .error.code CONFLICT || return
	primary_eca "$P" --json list --state CONFLICT
	expect_rc 0 || return
	expect_json "[.enrollments[] | select(.host == \"$h\")] | length" 1 || return
	primary_eca "$P" --json approve $h
	expect_rc 0 || return
	expect_json .outcome APPROVED || return
	status_json $h
	expect_rc 0 || return
	expect_json '.servers[0].status' ENROLLED || return
	expect_json '.servers[0].fingerprint' "$newfp" || return
	expect_db "SELECT state || ' ' || fingerprint FROM enrollments WHERE host='$h'" "ENROLLED $newfp"
}

c_conflict_reject() {
	local h=k2.it.test oldfp
	make_host $h --server "$P" || return
	oldfp=$(cert_fp "$(host_dir $h)/cert.pem")
	host_eca $h enroll
	expect_rc 0 || return
	renew_host $h || return
	host_eca $h --json enroll
	expect_rc 5 || return
	expect_json .error.code CONFLICT || return
	primary_eca "$P" --json reject $h
	expect_rc 0 || return
	expect_json .outcome REJECTED || return
	status_json $h
	expect_json '.servers[0].status' ENROLLED || return
	expect_json '.servers[0].fingerprint' "$oldfp" || return
	expect_db "SELECT state || ' ' || fingerprint FROM enrollments WHERE host='$h'" "ENROLLED $oldfp"
}

c_force_refused() {
	local h=f1.it.test oldfp
	make_host $h --server "$P" || return
	oldfp=$(cert_fp "$(host_dir $h)/cert.pem")
	host_eca $h enroll
	expect_rc 0 || return
	renew_host $h || return
	host_eca $h --json enroll --force
	expect_rc 5 || return
	expect_json .error.code FORCE_NOT_ALLOWED || return
	expect_db "SELECT fingerprint FROM enrollments WHERE host='$h'" "$oldfp"
}

c_force_allowed() {
	local h=f2.it.test newfp
	make_host $h --server "$PF" || return
	host_eca $h enroll
	expect_rc 0 || return
	renew_host $h || return
	newfp=$(cert_fp "$(host_dir $h)/cert.pem")
	host_eca $h --json enroll --force
	expect_rc 0 || return
	expect_json .outcome FORCED || return
	status_json $h
	expect_json '.servers[0].status' ENROLLED || return
	expect_json '.servers[0].fingerprint' "$newfp" || return
	expect_db "SELECT state || ' ' || fingerprint FROM enrollments WHERE host='$h'" "ENROLLED $newfp" "$PF"
}

c_unenroll() {
	local h=m1.it.test
	host_eca $h --json unenroll
	expect_rc 0 || return
	expect_json .outcome REMOVED || return
	status_json $h
	expect_rc 0 || return
	expect_json '.servers[0].status' NOT_ENROLLED
}

c_admin_remove() {
	local h=pre.it.test
	host_eca $h enroll
	expect_rc 0 || return
	primary_eca "$P" --json remove $h
	expect_rc 0 || return
	expect_json .outcome REMOVED || return
	status_json $h
	expect_rc 0 || return
	expect_json '.servers[0].status' NOT_ENROLLED
}

c_non_admin_forbidden() {
	host_eca f1.it.test --json list
	expect_rc 5 || return
	expect_json .error.code FORBIDDEN
}

c_admin_identity_lists() {
	make_host $ADMIN --server "$P" || return
	host_eca $ADMIN --json list
	expect_rc 0 || return
	expect_json "[.enrollments[] | select(.host == \"k1.it.test\")] | length" 1
}

c_netbackup_alias() {
	local h=k1.it.test
	host_eca $h -listEnrollmentStatus
	expect_rc 0 || return
	expect_match "$OUT" "ENROLLED" "output of -listEnrollmentStatus" || return
	host_eca $h -enrollCertificate -preCheck
	expect_rc 0
}

# A plain host whose configuration now says NAT_CLIENT = YES: its next
# enrollment is UNCHANGED, yet a change (the registry's NAT flag, a new
# version for the rosters): history, journal and log say so, once.
c_nat_flag_by_enrollment() {
	local h=natlater.it.test
	make_host $h --server "$P" || return
	host_eca $h --json enroll
	expect_rc 0 || return
	expect_db "SELECT nat FROM enrollments WHERE host='$h'" 0 || return
	echo "NAT_CLIENT = YES" >>"$(host_dir $h)/eca.conf"
	host_eca $h --json enroll
	expect_rc 0 || return
	expect_json .outcome UNCHANGED || return
	expect_db "SELECT nat FROM enrollments WHERE host='$h'" 1 || return
	expect_db "SELECT group_concat(event, ',') FROM (SELECT event FROM history WHERE host='$h' ORDER BY id) h" \
	    "ENROLL,NAT" || return
	wait_log "${P_DIR[$P]}/ecad.log" "UNCHANGED, now flagged a NAT host \\(host ID" 5 || return
	host_eca $h --json enroll
	expect_json .outcome UNCHANGED || return
	primary_eca "$P" --json audit show --host $h
	expect_rc 0 || return
	expect_json '[.entries[].event] | join(",")' "enrolled,nat"
}

# A record written into the registry file behind ecad's back (by an
# operator with sqlite3, after ecad loaded its host names: hosthint.c):
# its host is answered from the record, UNCHANGED, not enrolled anew: by
# the writer, which decides on the record itself (the one line it logs).
c_record_written_behind_ecads_back() {
	local h=behind.it.test pdb fdb from
	pdb=${P_DIR[$P]}/state/registry.db
	fdb=${P_DIR[$PF]}/state/registry.db
	make_host $h --server "$PF" || return
	host_eca $h --json enroll
	expect_rc 0 || return
	expect_json .outcome ENROLLED || return
	timeout 10 sqlite3 -cmd '.timeout 5000' "$pdb" \
	    "ATTACH '$fdb' AS f;
	     INSERT INTO enrollments SELECT * FROM f.enrollments WHERE host = '$h';
	     UPDATE enrollments SET primary_name = '$P' WHERE host = '$h';" || {
		fail "cannot copy the record of $h into $P's registry"
		return 1
	}
	sed -i "s/^SERVER = $PF .*/SERVER = $P 127.0.0.1:${P_PORT[$P]}/" "$(host_dir $h)/eca.conf"
	from=$(log_lines "${P_DIR[$P]}/ecad.log")
	host_eca $h --json enroll
	expect_rc 0 || return
	expect_json .outcome UNCHANGED || return
	wait_log "${P_DIR[$P]}/ecad.log" "POST /v1/enrollments: UNCHANGED \\(host ID .*by $h " 5 "$from" || return
	expect_db "SELECT count(*) FROM enrollments WHERE host='$h'" 1 || return
	expect_db "SELECT count(*) FROM history WHERE host='$h'" 0
}

# At start ecad loads the host names of a SQLite registry (hosthint.c),
# every record's; on PostgreSQL, where other front ends write, it does not.
c_restart_loads_host_names() {
	local log=${P_DIR[$P]}/ecad.log n
	stop_primary "$P" || return
	start_primary "$P" || return
	if [ "$IT_DB" = pg ]; then
		# No loader starts there at all: "ready" is late enough.
		expect_eq "$(grep -c 'host name(s) of the registry loaded' "$log")" 0 \
		    "host names loaded on PostgreSQL" || return
	else
		n=$(db_count "SELECT count(*) FROM enrollments") || return
		wait_log "$log" " $n host name\(s\) of the registry loaded in [0-9]+ ms" || return
	fi
	host_eca k1.it.test --json enroll
	expect_rc 0 || return
	expect_json .outcome UNCHANGED
}

run_case "ecad starts two primaries and reports ready" c_primary_starts
[ "$IT_FAILED" = 0 ] || exit 1
run_case "manual enrollment records the host ENROLLED with its certificate's fingerprint" c_manual
run_case "a precheck answers the would-be outcome and writes no row and no history" c_precheck
run_case "enrolling the same certificate twice answers UNCHANGED with one history entry" c_same_cert_twice
run_case "a renewal with the same key is RENEWED and keeps the host ID" c_renewal_same_key
run_case "a changed key waits as CONFLICT until the administrator approves it" c_conflict_approve
run_case "a changed key rejected by the administrator keeps the old certificate" c_conflict_reject
run_case "forced re-enrollment is refused with FORCE_NOT_ALLOWED by default" c_force_refused
run_case "forced re-enrollment is accepted when the primary allows it" c_force_allowed
run_case "unenroll leaves the host NOT_ENROLLED" c_unenroll
run_case "an administrator's remove leaves the host NOT_ENROLLED" c_admin_remove
run_case "a non-admin host calling an admin command is FORBIDDEN (exit 5)" c_non_admin_forbidden
run_case "a host named in ADMIN_IDENTITY can list the enrollments" c_admin_identity_lists
run_case "the NetBackup-style aliases -listEnrollmentStatus and -enrollCertificate -preCheck work" c_netbackup_alias
run_case "a plain host that enrolls again as a NAT host is UNCHANGED, flagged, with history and journal NAT once" c_nat_flag_by_enrollment
[ "$IT_DB" = pg ] ||
	run_case "a record written into the registry file behind ecad's back is answered from the record, UNCHANGED" c_record_written_behind_ecads_back
run_case "a restarted primary loads its registry's host names (SQLite only) and still answers UNCHANGED" c_restart_loads_host_names
