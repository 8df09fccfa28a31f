#!/bin/bash
# SPDX-License-Identifier: ISC
# it-timeout: 600
# Issue 12: "every registry feature works identically" on PostgreSQL.  The
# registry cases of the SQLite suite run again, whole, with ECA_IT_DB=pg
# (lib.sh: every primary of the file on one PostgreSQL server that the
# file starts and stops itself): conflicts and candidates, bans and
# revocations, bulk decisions, DN mappings, rosters, re-judging, refusals.
# (t_enroll.sh runs so from t_pg.sh; t_names.sh's upgrade cases build old
# SQLite files by hand and stay SQLite's.)
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

need_pg

# on_pg FILE: FILE's cases, all of them, with their registries on
# PostgreSQL, in a run directory of their own with this run's CA.
on_pg() {
	local run=$T/${1%.sh} log=$T/${1%.sh}.log rc
	if ! { mkdir -p "$run" && cp -r "$CA" "$run/ca"; }; then
		fail "cannot make $run"
		return 1
	fi
	ECA_IT_DB=pg ECA_IT_RUN=$run timeout -k 10 240 \
	    bash "$IT_DIR/$1" >"$log" 2>&1
	rc=$?
	echo "# $1 on PostgreSQL: $(grep '^# summary' "$log")"
	expect_eq "$rc" 0 "$1's status ($(grep -m3 '^not ok' "$log" | tr '\n' ' '))" || return
	expect_match "$(cat "$log")" "^# registries on PostgreSQL " "$1's output" || return
	expect_match "$(grep '^# summary' "$log")" "^# summary: [1-9][0-9]* passed, 0 failed$" \
	    "$1's summary"
}

for f in t_candidates.sh t_ban.sh t_bulk.sh t_dnmap.sh t_roster.sh t_rejudge.sh t_refusals.sh; do
	run_case "$f passes with its registries on PostgreSQL (ECA_IT_DB=pg)" on_pg "$f"
done
