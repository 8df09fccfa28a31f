#!/bin/bash
# SPDX-License-Identifier: ISC
# Host-to-host channels with automatic enrollment (issue 3): a small domain
# of hosts on distinct loopback addresses, each with its own ecad (peer
# listener), config, certificate and STATE_DIR, driven with `eca ping`.
#
#   primary.ch.test  127.0.0.2  ROLE primary (API on 127.0.0.1)
#   media1.ch.test   127.0.0.3  ROLE media
#   media2.ch.test   127.0.0.4  ROLE media
#   client1.ch.test  127.0.0.5  ROLE client
#   client2.ch.test  127.0.0.6  ROLE client, ECA_DISABLE_AUTO_ENROLLMENT
#   primary2.ch.test 127.0.0.7  ROLE primary of a second domain (it names
#                               itself in a SERVER line; primary.ch.test
#                               does not)
#   client3.ch.test  127.0.0.8  ROLE client, in both domains
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

P=primary.ch.test
P2=primary2.ch.test
M1=media1.ch.test
M2=media2.ch.test
C1=client1.ch.test
C2=client2.ch.test
C3=client3.ch.test

declare -A ADDR=([$P]=127.0.0.2 [$M1]=127.0.0.3 [$M2]=127.0.0.4
    [$C1]=127.0.0.5 [$C2]=127.0.0.6 [$P2]=127.0.0.7 [$C3]=127.0.0.8)
declare -A LPORT=()
ALL="$P $M1 $M2 $C1 $C2 $P2 $C3"

# The PEER lines every host gets: where each host's peer listener is.
peer_lines() {
	local h
	for h in $ALL; do
		echo "PEER = $h ${ADDR[$h]}:${LPORT[$h]}"
	done
}

# chan_host NAME ROLE [make_host options...]: a host with its peer listener
# on its own address, PEER entries for all, started.
chan_host() {
	local name=$1 role=$2 l
	shift 2
	make_host "$name" "$@" || return 1
	sed -i "s/^ROLE = client$/ROLE = $role/" "$(host_dir "$name")/eca.conf"
	{
		echo "LISTEN = ${ADDR[$name]}:${LPORT[$name]}"
		echo "LOG_LEVEL = debug"
		peer_lines
	} >>"$(host_dir "$name")/eca.conf"
	start_host "$name"
}

# chan_primary NAME [--self]: a primary whose ecad also listens for peers;
# with --self its config also names itself in a SERVER line.
chan_primary() {
	local name=$1
	local -a lines=("LISTEN = ${ADDR[$name]}:${LPORT[$name]}")
	mapfile -t -O 1 lines < <(peer_lines)
	if [ "${2:-}" = --self ]; then
		P_PORT[$name]=$(free_port) || return 1
		lines+=("SERVER = $name 127.0.0.1:${P_PORT[$name]}")
	fi
	start_primary "$name" "${lines[@]}"
}

# ping FROM TO [PURPOSE]: `eca --json ping TO --purpose PURPOSE` on FROM.
ping() {
	host_eca "$1" --json ping "$2" --purpose "${3:-ping}"
}

# The primary's enroll_requests and roster_requests counters.
call_counts() {
	primary_stats "$1" || return 1
	printf '%s %s' "$(jq -r .enroll_requests <<<"$OUT")" \
	    "$(jq -r .roster_requests <<<"$OUT")"
}

state_of() {
	db_count "SELECT state || ' ' || method FROM enrollments WHERE host='$1'" "${2:-$P}"
}

# --- cases --------------------------------------------------------------------

c_setup() {
	local h
	for h in $ALL; do
		LPORT[$h]=$(free_port) || return
	done
	chan_primary "$P" || return
	chan_primary "$P2" --self || return
	chan_host $M1 media --server "$P" || return
	chan_host $M2 media --server "$P" || return
	chan_host $C1 client --server "$P" || return
	chan_host $C2 client --server "$P" \
	    --conf "ECA_DISABLE_AUTO_ENROLLMENT = YES" || return
	chan_host $C3 client --server "$P" --server "$P2" || return
	expect_db "SELECT count(*) FROM enrollments" 0
}

c_replication_between_unenrolled_media_is_refused() {
	ping $M1 $M2 replication
	expect_rc 3 || return
	expect_json .verdict.accept false || return
	expect_json .verdict.code NOT_ENROLLED || return
	expect_json .autoenrolled false || return
	expect_match "$(jq -r .verdict.message <<<"$OUT")" \
	    'manual enrollment|eca enroll' "the refusal's remedy" || return
	expect_match "$OUT" 'replication' "the refusal" || return
	expect_db "SELECT count(*) FROM enrollments WHERE host IN ('$M1','$M2')" 0
}

c_console_purpose_enrolls_nothing() {
	ping $C1 $M1 console
	expect_rc 3 || return
	expect_json .verdict.code NOT_ENROLLED || return
	expect_json .autoenrolled false || return
	expect_db "SELECT count(*) FROM enrollments" 0
}

c_first_contact_enrolls_both_hosts() {
	ping $C1 $M1 backup
	expect_rc 0 || return
	expect_json .verdict.accept true || return
	expect_json .autoenrolled true || return
	expect_json .primary "$P" || return
	expect_json .steps.peer_fingerprint "$(cert_fp "$(host_dir $M1)/cert.pem")" || return
	expect_json '.steps.tls_version | test("^TLSv1\\.[23]$")' true || return
	expect_eq "$(state_of $C1)" "ENROLLED AUTO" "$C1's record" || return
	expect_eq "$(state_of $M1)" "ENROLLED AUTO" "$M1's record" || return
	expect_db "SELECT fingerprint FROM enrollments WHERE host='$C1'" \
	    "$(cert_fp "$(host_dir $C1)/cert.pem")"
}

c_second_contact_makes_no_call_to_the_primary() {
	local before after
	before=$(call_counts "$P") || { fail "no stats: $ERR"; return; }
	ping $C1 $M1 ping
	expect_rc 0 || return
	expect_json .verdict.accept true || return
	expect_json .autoenrolled false || return
	expect_json .steps.roster_refreshed false || return
	after=$(call_counts "$P") || { fail "no stats: $ERR"; return; }
	expect_eq "$after" "$before" \
	    "the primary's enroll_requests and roster_requests"
}

c_text_output_shows_each_step() {
	host_eca $C1 ping $M1
	expect_rc 0 || return
	expect_match "$OUT" '^  resolution .*127\.0\.0\.3' "ping's output" || return
	expect_match "$OUT" '^  TLS .*TLSv1\.[23]' "ping's output" || return
	expect_match "$OUT" '^  peer identity .*fingerprint [0-9a-f]{64}' "ping's output" || return
	expect_match "$OUT" "^  enrollment .*primary $P" "ping's output" || return
	expect_match "$OUT" '^verdict: ACCEPTED' "ping's output"
}

c_disabled_host_is_refused_then_works_after_enroll() {
	ping $C2 $M1
	expect_rc 3 || return
	expect_json .verdict.code NOT_ENROLLED || return
	expect_json .autoenrolled false || return
	expect_match "$(jq -r .verdict.message <<<"$OUT")" 'eca enroll' \
	    "the refusal's remedy" || return
	expect_db "SELECT count(*) FROM enrollments WHERE host='$C2'" 0 || return
	host_eca $C2 enroll
	expect_rc 0 || return
	expect_eq "$(state_of $C2)" "ENROLLED MANUAL" "$C2's record" || return
	ping $C2 $M1
	expect_rc 0 || return
	expect_json .verdict.accept true || return
	expect_json .autoenrolled false
}

c_unknown_peer_is_unreachable() {
	# A PEER entry that points where nobody listens.
	local d
	d=$(host_dir $C1)
	cp "$d/eca.conf" "$d/eca.conf.save"
	echo "PEER = nobody.ch.test 127.0.0.9:$(free_port)" >>"$d/eca.conf"
	ping $C1 nobody.ch.test
	mv "$d/eca.conf.save" "$d/eca.conf"
	expect_rc 4 || return
	expect_json .verdict.accept false
}

c_replaced_certificate_is_refused_and_conflicts() {
	local oldfp newfp
	oldfp=$(cert_fp "$(host_dir $C2)/cert.pem")
	renew_host $C2 || return
	newfp=$(cert_fp "$(host_dir $C2)/cert.pem")
	ping $C2 $M1
	expect_rc 5 || return
	expect_json .verdict.code FINGERPRINT_MISMATCH || return
	expect_db "SELECT state || ' ' || fingerprint FROM enrollments WHERE host='$C2'" \
	    "ENROLLED $oldfp" || return
	host_eca $C2 enroll
	expect_rc 5 || return
	expect_match "$ERR" CONFLICT "eca enroll's error" || return
	expect_db "SELECT state FROM enrollments WHERE host='$C2'" CONFLICT || return
	primary_eca "$P" --json list --state CONFLICT
	expect_rc 0 || return
	expect_json "[.enrollments[] | select(.host == \"$C2\")] | length" 1 || return
	ping $C2 $M1
	expect_rc 5 || return
	expect_match "$(jq -r .verdict.code <<<"$OUT")" \
	    '^(CONFLICT|FINGERPRINT_MISMATCH)$' "the verdict" || return
	expect_db "SELECT fingerprint FROM enrollments WHERE host='$C2'" "$oldfp" || return
	[ "$newfp" != "$oldfp" ] || fail "the new certificate has the old fingerprint"
}

c_host_in_two_domains_enrolls_with_each() {
	ping $C3 $M1
	expect_rc 0 || return
	expect_json .primary "$P" || return
	expect_eq "$(state_of $C3 "$P")" "ENROLLED AUTO" "$C3's record on $P" || return
	expect_db "SELECT count(*) FROM enrollments WHERE host='$C3'" 0 "$P2" || return
	ping $C3 "$P2"
	expect_rc 0 || return
	expect_json .primary "$P2" || return
	expect_json .autoenrolled true || return
	expect_eq "$(state_of $C3 "$P2")" "ENROLLED AUTO" "$C3's record on $P2" || return
	host_eca $C3 --json status
	expect_rc 0 || return
	expect_json '.servers | length' 2 || return
	expect_json "[.servers[] | .server + \"=\" + .status] | join(\",\")" \
	    "$P=ENROLLED,$P2=ENROLLED"
}

# The primary is also a host of its own domain (docs/design.md), and
# issue 3 section 3 has hosts enroll before talking to "a host of primary
# P's domain (including P itself)": no SERVER line needed for that.
c_primary_is_a_host_of_its_own_domain() {
	ping $C1 "$P"
	expect_rc 0 || return
	expect_json .verdict.accept true || return
	expect_json .primary "$P" || return
	expect_eq "$(state_of "$P")" "ENROLLED AUTO" "$P's record on itself"
}

c_restarted_host_keeps_its_roster() {
	local f
	f=$(host_dir $M1)/state/roster-$P.bin
	stop_host $M1
	[ -s "$f" ] || { fail "no roster file $f after $M1's ecad stopped"; return; }
	stop_primary "$P"
	start_host $M1 || return
	ping $C1 $M1
	expect_rc 0 || return
	expect_json .verdict.accept true
}

c_stale_roster_is_refused_when_primary_is_down() {
	local conf i
	conf=$(host_dir $M1)/eca.conf
	stop_host $M1
	set_conf "$conf" ECA_ROSTER_MAX_AGE 1 || return
	start_host $M1 || return
	# The roster turns stale one second after its last sync: ask until the
	# verdict says so (bounded), rather than sleeping and hoping.
	for ((i = 0; i < 20; i++)); do
		ping $C1 $M1
		[ "$RC" = 5 ] && break
		sleep 0.5
	done
	set_conf "$conf" ECA_ROSTER_MAX_AGE "" || return
	expect_rc 5 || return
	expect_json .verdict.code ROSTER_STALE || return
	stop_host $M1
	start_primary "$P" || return
	start_host $M1
}

# wait_synced HOST VERSION: HOST's ecad logs a sync of $P's roster at
# VERSION or later (bounded; the host must log at debug).
wait_synced() {
	local log v i
	log=$(host_dir "$1")/ecad.log
	for ((i = 0; i < 100; i++)); do
		v=$(grep -oE "synced the roster of $P: version [0-9]+" "$log" |
		    tail -1 | awk '{ print $NF }')
		[ -n "$v" ] && [ "$v" -ge "$2" ] && return 0
		sleep 0.1
	done
	fail "$1 did not sync $P's roster to version $2 within 10 s (last: ${v:-none})"
	return 1
}

c_admin_removal_reaches_peers_within_one_sync() {
	local conf
	conf=$(host_dir $M2)/eca.conf
	stop_host $M2
	set_conf "$conf" ECA_ROSTER_SYNC_SECONDS 2 || return
	set_conf "$conf" LOG_LEVEL debug || return
	start_host $M2 || return
	ping $C1 $M2
	expect_rc 0 || return
	expect_json .verdict.accept true || return
	primary_eca "$P" remove $C1
	expect_rc 0 || return
	# The periodic sync (every 2 s) brings the removal; no call is made
	# in between.
	wait_synced $M2 "$(db_count 'SELECT max(version) FROM enrollments' "$P")" ||
	    return
	ping $C1 $M2
	expect_rc 3 || return
	expect_json .verdict.code NOT_ENROLLED
}

run_case "seven hosts start, each its own ecad on its own loopback address" c_setup
[ "$IT_FAILED" = 0 ] || exit 1
run_case "replication between two unenrolled media servers is refused with the manual-enrollment remedy and enrolls nothing" \
    c_replication_between_unenrolled_media_is_refused
run_case "a console channel enrolls nothing" c_console_purpose_enrolls_nothing
run_case "first contact enrolls both hosts automatically (method AUTO)" \
    c_first_contact_enrolls_both_hosts
run_case "a second contact makes no call to the primary" \
    c_second_contact_makes_no_call_to_the_primary
run_case "eca ping prints each step and the verdict" c_text_output_shows_each_step
run_case "a host with auto-enrollment disabled is refused with the remedy eca enroll, then works after eca enroll" \
    c_disabled_host_is_refused_then_works_after_enroll
run_case "a peer nobody answers for is unreachable (exit 4)" c_unknown_peer_is_unreachable
run_case "a host whose certificate was replaced is refused (FINGERPRINT_MISMATCH) and its enrollment attempt is a CONFLICT" \
    c_replaced_certificate_is_refused_and_conflicts
run_case "a host in two domains enrolls with each separately and eca status shows both" \
    c_host_in_two_domains_enrolls_with_each
run_case "a primary without a SERVER line for itself is a host of its own domain (a peer's first contact enrolls it)" \
    c_primary_is_a_host_of_its_own_domain
run_case "a restarted host keeps its roster and accepts a peer while the primary is down" \
    c_restarted_host_keeps_its_roster
run_case "a roster older than ECA_ROSTER_MAX_AGE with the primary down refuses peers (ROSTER_STALE)" \
    c_stale_roster_is_refused_when_primary_is_down
run_case "an admin removal reaches peers within one roster sync" \
    c_admin_removal_reaches_peers_within_one_sync
