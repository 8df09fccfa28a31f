#!/bin/bash
# SPDX-License-Identifier: ISC
# Audit journal rotation: logrotate's mv + SIGHUP while hosts enroll; ecad
# reopens the journal and the hash chain continues in the new file;
# `eca audit verify` checks the rotated files and the journal as one chain
# and names the file and line of the first break.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

P=rot.it.test
ROUNDS=3

journal() {
	echo "${P_DIR[$P]}/state/audit.jsonl"
}

# rotate: what logrotate does (audit.jsonl.N -> .N+1, audit.jsonl -> .1),
# then SIGHUP; waits until ecad says it reopened the journal.
rotate() {
	local j k from
	j=$(journal)
	from=$(log_lines "${P_DIR[$P]}/ecad.log")
	for ((k = ROUNDS; k >= 1; k--)); do
		[ ! -e "$j.$k" ] || mv "$j.$k" "$j.$((k + 1))" || return 1
	done
	mv "$j" "$j.1" || return 1
	kill -HUP "${P_PID[$P]}" || return 1
	wait_log "${P_DIR[$P]}/ecad.log" "audit journal .* reopened" 10 "$from"
}

c_setup() {
	start_primary "$P" || return
	local i
	for ((i = 1; i <= 2 * (ROUNDS + 1); i++)); do
		make_host "h$i.rot.it.test" --server "$P" || return
	done
}

c_rotate_while_enrolling() {
	local i r pid rc=0
	# Half the hosts enroll while the journal is being rotated.
	(
		for ((i = 1; i <= ROUNDS + 1; i++)); do
			"$ECA" -f "$(host_dir "h$i.rot.it.test")/eca.conf" enroll \
			    >/dev/null 2>&1 || exit 1
		done
	) &
	pid=$!
	for ((r = 1; r <= ROUNDS; r++)); do
		# Each file gets at least this entry.
		host_eca "h$((ROUNDS + 1 + r)).rot.it.test" enroll
		expect_rc 0 || { wait "$pid"; return 1; }
		rotate || { wait "$pid"; return 1; }
	done
	wait "$pid" || rc=$?
	expect_eq "$rc" 0 "the enrollments during the rotations" || return
	host_eca "h$((2 * ROUNDS + 2)).rot.it.test" enroll
	expect_rc 0 || return
	wait_settled "$P" || return
	[ -s "$(journal)" ] || { fail "nothing in the new journal after the last rotation"; return; }
	primary_eca "$P" audit verify
	expect_rc 0 || return
	expect_match "$OUT" "^audit journal $(journal) and $ROUNDS rotated file\\(s\\) before it: $((2 * ROUNDS + 2)) entries, chain intact$" "verify over the rotated files" || return
	primary_eca "$P" --json audit verify
	expect_rc 0 || return
	expect_json '.files | length' $((ROUNDS + 1)) || return
	expect_json '.files[0]' "$(journal).$ROUNDS"
}

c_new_file_alone_is_not_a_whole_chain() {
	run_cmd "$ECA" audit verify "$(journal)"
	expect_rc 1 || return
	expect_match "$OUT" "line 1: removed or reordered.*name those first" "verify of the newest file alone"
}

c_edit_in_a_rotated_file_is_named() {
	local c=$T/copy j f
	j=$(journal)
	rm -rf "$c" && mkdir -p "$c" && cp "$j" "$j".[0-9]* "$c"/ || return
	sed -i -e '1s/"source":"[^"]*"/"source":"203.0.113.66:1"/' "$c/audit.jsonl.2"
	run_cmd "$ECA" audit verify "$c/audit.jsonl.3" "$c/audit.jsonl.2" \
	    "$c/audit.jsonl.1" "$c/audit.jsonl"
	expect_rc 1 || return
	expect_match "$OUT" "^audit journal $c/audit.jsonl.2: line 1: edited" "verify of an edited rotated file" || return
	run_cmd "$ECA" --json audit verify --file "$c/audit.jsonl"
	expect_rc 1 || return
	run_cmd "$ECA" --json audit verify "$c/audit.jsonl.3" "$c/audit.jsonl.2"
	expect_rc 1 || return
	expect_json .bad_file "$c/audit.jsonl.2" || return
	expect_json .first_bad_line 1 || return
	f=$(jq -r .problem <<<"$OUT")
	expect_match "$f" "^edited" "the problem"
}

c_missing_middle_file_is_a_break() {
	local j
	j=$(journal)
	mv "$j.2" "$T/held.2" || return
	primary_eca "$P" audit verify
	mv "$T/held.2" "$j.2" || return
	expect_rc 1 || return
	expect_match "$OUT" "^audit journal $j.1: line 1: removed or reordered.*whole rotated file" "verify with .2 missing" || return
	primary_eca "$P" audit verify
	expect_rc 0
}

c_compressed_file_is_refused() {
	local j
	j=$(journal)
	gzip -c "$j.3" >"$j.4.gz" || return
	primary_eca "$P" audit verify
	rm -f "$j.4.gz"
	expect_rc 1 || return
	expect_match "$ERR" "audit.jsonl.4.gz .*decompress it" "verify with a compressed file"
}

c_restart_after_rotation_continues() {
	local j h=h$((2 * ROUNDS + 2)).rot.it.test
	j=$(journal)
	stop_primary "$P"
	for ((k = ROUNDS; k >= 1; k--)); do
		mv "$j.$k" "$j.$((k + 1))" || return
	done
	mv "$j" "$j.1" || return
	start_primary "$P" || return
	expect_match "$(cat "${P_DIR[$P]}/ecad.log")" "continuing at seq $((2 * ROUNDS + 3))" "ecad's start on an empty journal" || return
	renew_host "$h" || return
	host_eca "$h" enroll
	expect_rc 5 || return
	wait_settled "$P" || return
	primary_eca "$P" audit verify
	expect_rc 0
}

run_case "the primary starts and the hosts are made" c_setup
run_case "mv + SIGHUP $ROUNDS times while hosts enroll: verify over all files passes" c_rotate_while_enrolling
run_case "the newest file alone does not start the chain, and verify says so" c_new_file_alone_is_not_a_whole_chain
run_case "an edited line in a rotated file is named by file and line" c_edit_in_a_rotated_file_is_named
run_case "a missing middle file is reported as a break" c_missing_middle_file_is_a_break
run_case "a compressed rotated file is refused with a remedy" c_compressed_file_is_refused
run_case "a restart after a rotation continues the chain from the rotated file" c_restart_after_rotation_continues
