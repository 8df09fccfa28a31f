#!/bin/bash
# SPDX-License-Identifier: ISC
# The group commit's delay (GROUP_COMMIT_DELAY_US, docs/daemon.md): the
# writer waits for more enrollments only while other callers are still in
# their TLS handshake, so that one commit serves them all; a request with
# no caller on its way is committed at once.  A caller "on its way" is
# played here by a TCP connection to the API that never sends its
# ClientHello (it holds a handshake slot from accept until it closes).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

P=primary1.it.test
ADMIN=admin.it.test
N=4
WAITED="group commit waited [0-9]+ us for callers in their handshake"

# commits: the primary's group commits so far (GET /v1/stats).
commits() {
	primary_curl "$P" $ADMIN GET /v1/stats >/dev/null
	jq -r .commits <<<"$OUT"
}

# enroll_all PREFIX: N hosts PREFIX0..PREFIX(N-1) enroll at once; each
# must succeed.
enroll_all() {
	local i pids=() bad=0
	for ((i = 0; i < N; i++)); do
		make_host "$1$i.it.test" --server "$P" || return
	done
	for ((i = 0; i < N; i++)); do
		timeout 60 "$ECA" -f "$(host_dir "$1$i.it.test")/eca.conf" \
		    enroll >"$T/$1$i.out" 2>&1 &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || {
			bad=$((bad + 1))
			echo "# $1$i.it.test: $(head -c 300 "$T/$1$i.out")"
		}
	done
	expect_eq "$bad" 0 "the number of failed enrollments" || return
	expect_db "SELECT count(*) FROM enrollments WHERE host LIKE '$1%' AND state='ENROLLED'" "$N"
}

# enroll_beside_a_handshake PREFIX: enroll_all PREFIX while a TCP connection
# to the API holds a handshake slot (no ClientHello sent).
enroll_beside_a_handshake() {
	local rc
	exec 3<>"/dev/tcp/127.0.0.1/${P_PORT[$P]}" ||
	    { fail "cannot connect to the API"; return 1; }
	enroll_all "$1"
	rc=$?
	exec 3>&-
	return $rc
}

# start DELAY_US: the primary with that delay, and its administrator.
start() {
	stop_all
	start_primary "$P" "ADMIN_IDENTITY = $ADMIN" \
	    "GROUP_COMMIT_DELAY_US = $1" || return
	make_host $ADMIN --server "$P"
}

c_lone_enrollment_is_not_delayed() {
	local from
	start 1000000 || return
	from=$(log_lines "${P_DIR[$P]}/ecad.log")
	make_host lone.it.test --server "$P" || return
	host_eca lone.it.test enroll
	expect_rc 0 || return
	expect_db "SELECT state FROM enrollments WHERE host='lone.it.test'" ENROLLED || return
	wait_log "${P_DIR[$P]}/ecad.log" "group of 1 op\\(s\\) applied" 10 "$from" || return
	if tail -n +"$from" "${P_DIR[$P]}/ecad.log" | grep -qE "$WAITED"; then
		fail "the writer waited with no other caller on its way: $(grep -E "$WAITED" "${P_DIR[$P]}/ecad.log" | tail -1)"
	fi
}

c_callers_in_handshake_share_a_commit() {
	local c0 c1 from
	start 1000000 || return
	from=$(log_lines "${P_DIR[$P]}/ecad.log")
	c0=$(commits)
	enroll_beside_a_handshake w || return
	c1=$(commits)
	echo "# $N enrollments in $((c1 - c0)) group commit(s)"
	expect_eq "$((c1 - c0 < N))" 1 "fewer commits ($((c1 - c0))) than enrollments ($N)" || return
	wait_log "${P_DIR[$P]}/ecad.log" "$WAITED" 10 "$from"
}

c_zero_never_waits() {
	local from
	start 0 || return
	from=$(log_lines "${P_DIR[$P]}/ecad.log")
	enroll_beside_a_handshake z || return
	if tail -n +"$from" "${P_DIR[$P]}/ecad.log" | grep -qE "$WAITED"; then
		fail "GROUP_COMMIT_DELAY_US = 0, yet the writer waited"
	fi
}

run_case "a lone enrollment is committed at once, whatever GROUP_COMMIT_DELAY_US" c_lone_enrollment_is_not_delayed
run_case "enrollments that come while another caller is in its handshake share commits" c_callers_in_handshake_share_a_commit
run_case "GROUP_COMMIT_DELAY_US = 0: the writer never waits" c_zero_never_waits
