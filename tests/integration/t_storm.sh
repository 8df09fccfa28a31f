#!/bin/bash
# Many hosts enrolling at once: every one is acknowledged and recorded, and
# the writer groups them into fewer commits than enrollments.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

P=primary1.it.test
ADMIN=admin.it.test
N=${ECA_IT_STORM:-24}

c_setup() {
	local i
	start_primary "$P" "ADMIN_IDENTITY = $ADMIN" || return
	make_host $ADMIN --server "$P" || return
	for ((i = 0; i < N; i++)); do
		make_host "s$i.it.test" --server "$P" || return
	done
}

c_storm() {
	local i pids=() bad=0
	for ((i = 0; i < N; i++)); do
		timeout 60 "$ECA" -f "$(host_dir "s$i.it.test")/eca.conf" enroll \
		    >"$T/s$i.out" 2>&1 &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		if ! wait "${pids[$i]}"; then
			bad=$((bad + 1))
			echo "# s$i.it.test: $(head -c 300 "$T/s$i.out")"
		fi
	done
	expect_eq "$bad" 0 "the number of failed concurrent enrollments" || return
	expect_db "SELECT count(*) FROM enrollments WHERE host LIKE 's%.it.test' AND state='ENROLLED'" "$N" || return
	expect_db "SELECT count(*) FROM history WHERE host LIKE 's%.it.test' AND event='ENROLL'" "$N"
}

c_stats_count() {
	primary_curl "$P" $ADMIN GET /v1/stats
	expect_http 200 || return
	expect_json ".enrollments_written >= $N" true || return
	expect_json '.commits <= .enrollments_written' true
}

run_case "ecad starts and $N hosts are made" c_setup
[ "$IT_FAILED" = 0 ] || exit 1
run_case "$N hosts enrolling at once are all acknowledged and recorded" c_storm
run_case "the stats count every enrollment written and no more commits than enrollments" c_stats_count
