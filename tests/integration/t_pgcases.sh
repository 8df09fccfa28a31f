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

for f in t_candidates.sh t_ban.sh t_bulk.sh t_dnmap.sh t_roster.sh t_rejudge.sh t_refusals.sh; do
	run_case "$f passes with its registries on PostgreSQL (ECA_IT_DB=pg)" on_pg "$f"
done
