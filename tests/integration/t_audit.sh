#!/bin/bash
# SPDX-License-Identifier: ISC
# The audit journal: every enrollment decision and refusal is a hash-chained
# line; `eca audit verify` finds the first edited, removed or reordered
# line; a journal that cannot be written stops registry changes; the chain
# survives a restart; lines the file lost in a crash (written, not yet
# fsynced) come back from the registry, which keeps each group's lines
# in the group's transaction, and so does a last line cut short.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

P=audit1.it.test
PFULL=auditfull.it.test
PNULL=auditnull.it.test
OTHER=$T/otherca

journal() {
	echo "${P_DIR[$P]}/state/audit.jsonl"
}

# wait_entries N: the journal has at least N lines (refusals are written
# by the writer after the reply; bounded wait).
wait_entries() {
	local n=$1 i
	for ((i = 0; i < 50; i++)); do
		[ "$(wc -l <"$(journal)" 2>/dev/null || echo 0)" -ge "$n" ] && return 0
		sleep 0.1
	done
	fail "the journal has $(wc -l <"$(journal)") line(s), expected at least $n"
	return 1
}

# events [HOST]: the events of `eca audit show` as "event[/reason],...".
events() {
	local -a host=()
	[ $# -gt 0 ] && host=(--host "$1")
	primary_eca "$P" --json audit show "${host[@]}"
	expect_rc 0 || return 1
	EVENTS=$(jq -r '[.entries[] | .event + (if .reason then "/" + .reason else "" end)] | join(",")' <<<"$OUT")
}

c_setup() {
	start_primary "$P" || return
	"$MKCA" ca "$OTHER" --name "other audit it" >/dev/null ||
	    { fail "cannot make the other CA"; return; }
	[ -f "$(journal)" ] || fail "no journal at $(journal) after start"
}

c_decisions_in_order() {
	local a=a.audit.it.test c=c.audit.it.test fpa
	make_host $a --server "$P" || return
	make_host $c --server "$P" || return
	fpa=$(cert_fp "$(host_dir $a)/cert.pem")
	host_eca $a enroll
	expect_rc 0 || return
	renew_host $a --reuse-key "$(host_dir $a)/key.pem" || return
	host_eca $a enroll
	expect_rc 0 || return
	host_eca $c enroll
	expect_rc 0 || return
	renew_host $c || return
	host_eca $c enroll
	expect_rc 5 || return
	primary_eca "$P" approve $c
	expect_rc 0 || return
	primary_eca "$P" remove $a
	expect_rc 0 || return
	events || return
	expect_eq "$EVENTS" "enrolled,renewed,enrolled,conflict/CONFLICT,approved,removed" "journal events" || return
	primary_eca "$P" --json audit show --host $a
	expect_rc 0 || return
	expect_json '[.entries[].seq] | join(",")' "1,2,6" || return
	expect_json '.entries[0].fingerprint' "$fpa" || return
	expect_json '.entries[0].actor' "$a" || return
	expect_json '.entries[0].source | test("^127\\.0\\.0\\.1:[0-9]+$")' true || return
	expect_json '.entries[0].spki_fingerprint | length' 64 || return
	expect_json '.entries[0].prev' "$(printf '0%.0s' {1..64})" || return
	expect_json '.entries[2].actor | startswith("local:")' true || return
	expect_json '.entries[0] | has("reason")' false
}

c_refusal_with_reason() {
	local u=u.audit.it.test
	make_host $u --server "$P" --issuer "$OTHER" || return
	primary_curl "$P" $u POST /v1/enrollments \
	    --data "{\"host\":\"$u\",\"precheck\":false,\"force\":false}"
	expect_http 422 || return
	wait_entries 7 || return
	events $u || return
	expect_eq "$EVENTS" "refused/UNTRUSTED" "journal events of $u" || return
	expect_json '.entries[0].fingerprint' "$(cert_fp "$(host_dir $u)/cert.pem")" || return
	expect_json '.entries[0].source | startswith("127.0.0.1:")' true || return
	expect_db "SELECT count(*) FROM enrollments WHERE host='$u'" 0
}

c_identity_mismatch_refusal() {
	local h=id.audit.it.test
	make_host $h --server "$P" --name other.audit.it.test || return
	host_eca $h --json enroll
	expect_rc 5 || return
	expect_json .error.code IDENTITY_MISMATCH || return
	wait_entries 8 || return
	events other.audit.it.test || return
	expect_eq "$EVENTS" "refused/IDENTITY_MISMATCH" "journal events" || return
	# The actor is the certificate's subject, not the name it claimed.
	expect_json '.entries[0].actor | test("CN=id\\.audit\\.it\\.test")' true
}

c_verify_passes() {
	primary_eca "$P" audit verify
	expect_rc 0 || return
	expect_match "$OUT" "^audit journal $(journal): 8 entries, chain intact$" "verify output" || return
	primary_eca "$P" --json audit verify
	expect_rc 0 || return
	expect_json .intact true || return
	expect_json .entries 8 || return
	# Offline: --file needs neither the daemon nor a configuration.
	run_cmd "$ECA" -f /nonexistent/eca.conf audit verify --file "$(journal)"
	expect_rc 0
}

# tampered NAME LINE PROBLEM SED...: a copy of the journal changed by the
# sed script fails verification at LINE with PROBLEM.
tampered() {
	local name=$1 line=$2 problem=$3 f=$T/$1.jsonl
	shift 3
	cp "$(journal)" "$f"
	sed -i "$@" "$f"
	run_cmd "$ECA" audit verify --file "$f"
	expect_rc 1 || return
	expect_match "$OUT" "line $line: $problem" "verify of the $name journal" || return
	run_cmd "$ECA" --json audit verify --file "$f"
	expect_rc 1 || return
	expect_json .intact false || return
	expect_json .first_bad_line "$line"
}

c_edited_line() {
	tampered edited 3 edited -e '3s/"source":"[^"]*"/"source":"203.0.113.66:1"/'
}

c_removed_line() {
	tampered removed 4 "removed or reordered" -e '4d'
}

c_swapped_lines() {
	# Swap lines 2 and 3.
	tampered swapped 2 "removed or reordered" -e '2{h;d}' -e '3{G}'
}

c_truncated_line() {
	local f=$T/cut.jsonl
	cp "$(journal)" "$f"
	truncate -s -5 "$f"
	run_cmd "$ECA" audit verify --file "$f"
	expect_rc 1 || return
	expect_match "$OUT" "line 8: truncated" "verify of a cut journal"
}

c_full_disk_refuses_changes() {
	local h=d.audit.it.test
	start_primary "$PFULL" "AUDIT_LOG = /dev/full" || return
	make_host $h --server "$PFULL" || return
	host_eca $h --json enroll
	expect_rc 1 || return
	expect_json .error.code DISK_FULL || return
	expect_match "$(jq -r .error.message <<<"$OUT")" "audit journal /dev/full cannot be written.*registry was not changed" "error message" || return
	expect_db "SELECT count(*) FROM enrollments WHERE host='$h'" 0 "$PFULL" || return
	expect_db "SELECT count(*) FROM history WHERE host='$h'" 0 "$PFULL"
}

# Refusals change no record: while the registry cannot take their lines
# (another process holds its write lock past the busy timeout), they go to
# the journal file alone, fsynced, rather than being lost.
c_refusals_reach_the_journal_while_the_registry_is_locked() {
	local v=v.audit.it.test claimed=claimed.audit.it.test d=${P_DIR[$P]} n locker
	make_host $v --server "$P" --name $claimed || return
	n=$(wc -l <"$(journal)")
	python3 -c '
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(8)
db.execute("ROLLBACK")
' "$d/state/registry.db" >"$T/locker.out" 2>&1 &
	locker=$!
	for _ in $(seq 50); do grep -q locked "$T/locker.out" && break; sleep 0.1; done
	grep -q locked "$T/locker.out" || { fail "the registry was not locked: $(cat "$T/locker.out")"; return; }
	host_eca $v --json enroll
	expect_rc 5 || return
	expect_json .error.code IDENTITY_MISMATCH || return
	wait $locker
	wait_entries $((n + 1)) || return
	expect_match "$(cat "$d/ecad.log")" "1 refusal\(s\) not kept in the registry .*writing them to the audit journal alone" \
	    "ecad's log" || return
	events $claimed || return
	expect_eq "$EVENTS" "refused/IDENTITY_MISMATCH" "journal events of $claimed" || return
	primary_eca "$P" --json audit verify
	expect_rc 0 || return
	expect_json .intact true
}

# A journal that is a device cannot be read back: the registry keeps none
# of its lines, and the primary starts again over it.
c_device_journal_keeps_nothing_and_restarts() {
	local h=n.audit.it.test
	start_primary "$PNULL" "AUDIT_LOG = /dev/null" || return
	make_host $h --server "$PNULL" || return
	host_eca $h enroll
	expect_rc 0 || return
	expect_db "SELECT count(*) FROM enrollments WHERE host='$h'" 1 "$PNULL" || return
	stop_primary "$PNULL"
	expect_eq "$STOP_RC" 0 "ecad's exit status" || return
	expect_db "SELECT count(*) FROM audit_kept" 0 "$PNULL" || return
	start_primary "$PNULL" || return
	stop_primary "$PNULL"
}

c_restart_continues_chain() {
	local e=e.audit.it.test
	stop_primary "$P"
	expect_eq "$STOP_RC" 0 "ecad's exit status" || return
	start_primary "$P" || return
	make_host $e --server "$P" || return
	host_eca $e enroll
	expect_rc 0 || return
	events $e || return
	expect_eq "$EVENTS" "enrolled" "journal events of $e" || return
	expect_json '.entries[0].seq' 10 || return
	primary_eca "$P" --json audit verify
	expect_rc 0 || return
	expect_json .intact true || return
	expect_json .entries 10
}

c_corrupt_tail_stops_start() {
	local d=${P_DIR[$P]}
	stop_primary "$P"
	printf '{"seq":10,"cut' >>"$(journal)"
	run_cmd "$ECAD" -d -f "${P_CONF[$P]}"
	expect_rc 1 || return
	expect_match "$ERR" "eca audit verify" "ecad's refusal to start" || return
	expect_match "$ERR" "$(journal)" "ecad's refusal to start" || return
	[ ! -e "$d/state/ecad.pid" ] || fail "a pid file was left behind"
}

# The registry keeps the last group's lines: a journal that lost them (as
# after a power cut before the file's fsync) gets them back at start.
c_lost_lines_come_back_from_the_registry() {
	local g=g.audit.it.test d=${P_DIR[$P]} whole n
	make_host $g --server "$P" || return
	host_eca $g enroll
	expect_rc 0 || return
	stop_primary "$P"
	expect_eq "$STOP_RC" 0 "ecad's exit status" || return
	expect_db "SELECT count(*) > 0 FROM audit_kept" 1 "$P" || return
	whole=$T/audit-whole.jsonl
	cp "$(journal)" "$whole" || return
	n=$(wc -l <"$whole")
	head -n $((n - 1)) "$whole" >"$(journal)"
	start_primary "$P" || return
	expect_match "$(cat "$d/ecad.log")" "lacked its last 1 line\(s\): written again from the registry \(seq $n to $n\)" \
	    "ecad's log" || return
	cmp -s "$whole" "$(journal)" || fail "the journal differs from the one before the loss"
	events $g || return
	expect_eq "$EVENTS" "enrolled" "journal events of $g" || return
	primary_eca "$P" --json audit verify
	expect_rc 0 || return
	expect_json .intact true || return
	expect_json .entries "$n"
}

# A power cut can also leave the start of the last line on disk, perhaps
# followed by blocks never written (zeros): when the registry keeps that
# line, the start is cut off and the line written again, whole.
c_torn_last_line_is_mended_from_the_registry() {
	local t=t.audit.it.test d=${P_DIR[$P]} whole n size
	make_host $t --server "$P" || return
	host_eca $t enroll
	expect_rc 0 || return
	stop_primary "$P"
	expect_eq "$STOP_RC" 0 "ecad's exit status" || return
	whole=$T/audit-whole-torn.jsonl
	cp "$(journal)" "$whole" || return
	n=$(wc -l <"$whole")
	size=$(stat -c %s "$whole")
	truncate -s $((size - 40)) "$(journal)" || return
	head -c 1024 /dev/zero >>"$(journal)"
	start_primary "$P" || return
	expect_match "$(cat "$d/ecad.log")" "ended in $((size - 40 - $(head -n $((n - 1)) "$whole" | wc -c) + 1024)) byte\(s\) of a line cut short.*cut off" \
	    "ecad's log" || return
	expect_match "$(cat "$d/ecad.log")" "lacked its last 1 line\(s\): written again from the registry \(seq $n to $n\)" \
	    "ecad's log" || return
	cmp -s "$whole" "$(journal)" || fail "the journal differs from the one before the power cut"
	primary_eca "$P" --json audit verify
	expect_rc 0 || return
	expect_json .intact true || return
	expect_json .entries "$n"
}

# Kept lines that do not continue the file (here one that is no journal
# line at all) are saved beside it and forgotten; the journal goes on.
c_kept_lines_that_do_not_continue_the_file_are_set_aside() {
	local h=h.audit.it.test d=${P_DIR[$P]} n next aside
	stop_primary "$P"
	n=$(wc -l <"$(journal)")
	next=$((n + 1))
	timeout 10 sqlite3 -cmd '.timeout 5000' "$d/state/registry.db" \
	    "INSERT INTO audit_kept VALUES ($next, $next, '{\"seq\":$next}' || char(10))" ||
	    { fail "cannot write the registry"; return; }
	start_primary "$P" || return
	aside=$(journal).unjoined-$next-$next
	expect_match "$(cat "$d/ecad.log")" "do not continue the journal .*ends at seq $n.*saved to $aside" \
	    "ecad's log" || return
	expect_eq "$(cat "$aside" 2>&1)" "{\"seq\":$next}" "the lines set aside" || return
	expect_db "SELECT count(*) FROM audit_kept WHERE last_seq = $next" 0 "$P" || return
	make_host $h --server "$P" || return
	host_eca $h enroll
	expect_rc 0 || return
	primary_eca "$P" --json audit verify
	expect_rc 0 || return
	expect_json .intact true || return
	expect_json .entries "$next"
}

run_case "the primary starts with its journal at STATE_DIR/audit.jsonl" c_setup
run_case "decisions are journaled in order with their events, actor, host and fingerprints" c_decisions_in_order
run_case "a refused certificate is journaled with its reason and no registry row" c_refusal_with_reason
run_case "an identity mismatch is journaled with the certificate's subject as actor" c_identity_mismatch_refusal
run_case "eca audit verify reports an intact chain, also offline with --file" c_verify_passes
run_case "an edited line is reported as edited at its line" c_edited_line
run_case "a removed line is reported at the line that took its place" c_removed_line
run_case "swapped lines are reported at the first of them" c_swapped_lines
run_case "a cut last line is reported as truncated" c_truncated_line
run_case "AUDIT_LOG on a full disk refuses the enrollment and writes no registry row" c_full_disk_refuses_changes
run_case "refusals reach the journal file alone while the registry is locked by another process" c_refusals_reach_the_journal_while_the_registry_is_locked
run_case "AUDIT_LOG on a device keeps no lines in the registry, and the primary restarts over it" c_device_journal_keeps_nothing_and_restarts
run_case "the journal survives a restart and continues the chain" c_restart_continues_chain
run_case "lines the journal lost after their COMMIT are written again from the registry at start" c_lost_lines_come_back_from_the_registry
run_case "a last line cut short by a power cut is cut off and written again whole from the registry" c_torn_last_line_is_mended_from_the_registry
run_case "kept lines that do not continue the journal are saved beside it and the journal goes on" c_kept_lines_that_do_not_continue_the_file_are_set_aside
run_case "ecad refuses to start on a journal with a corrupt tail" c_corrupt_tail_stops_start
