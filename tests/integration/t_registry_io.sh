#!/bin/bash
# SPDX-License-Identifier: ISC
# it-timeout: 300
# Moving the registry (issue 12): `eca registry export/import/verify`.  A
# SQLite primary with enrollments, a CONFLICT with its candidate, a ban, a
# removal and their history is exported (while ecad runs: one snapshot);
# import refuses while ecad runs, refuses a damaged, truncated or foreign
# file and leaves the target empty, refuses a non-empty target without
# --force; the file goes into PostgreSQL (tests/pg.sh), out again with the
# same digest, back into a fresh SQLite file with the same digest, and
# verify agrees, then names the table that changed.  Finally ecad serves
# the imported PostgreSQL registry: the hosts and their states are there.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

P=primary.rio.test
A=a.rio.test
B=b.rio.test
C=c.rio.test
D=d.rio.test
X=x.rio.test # banned before it ever enrolled
F=$T/registry.jsonl
SUM="" # the source registry's digest


need_pg

pg_q() {
	timeout 20 psql "$PG_URI" -XAtq -c "$1"
}

# A config of the primary whose ECA_DB is $2 (sqlite:PATH or PostgreSQL).
conf_for() {
	local f=$T/$1.conf
	cp "${P_CONF[$P]}" "$f" && set_conf "$f" ECA_DB "$2" && echo "$f"
}

reg() {
	local cf=$1
	shift
	run_cmd "$ECA" -f "$cf" "$@"
}

c_setup() {
	start_primary "$P" || return
	for h in $A $B $C $D; do
		make_host "$h" --server "$P" || return
		host_eca "$h" enroll
		expect_rc 0 || return
	done
	# B presents another key: a CONFLICT, its certificate waiting.
	renew_host $B || return
	host_eca $B enroll
	expect_rc 5 || return
	expect_db "SELECT state FROM enrollments WHERE host='$B'" CONFLICT || return
	primary_eca "$P" ban $C
	expect_rc 0 || return
	primary_eca "$P" ban $X
	expect_rc 0 || return
	primary_eca "$P" remove $D
	expect_rc 0 || return
	expect_db "SELECT count(*) FROM candidates" 1 || return
	pg_server || return
	PGCONF=$(conf_for pg "$PG_URI")
	SQ2=$T/fresh.db
	SQCONF=$(conf_for fresh "sqlite:$SQ2")
}

# --- refusals first ----------------------------------------------------------

c_import_refused_while_ecad_runs() {
	reg "${P_CONF[$P]}" registry export "$F"
	expect_rc 0 || return
	reg "${P_CONF[$P]}" registry import "$F"
	expect_rc 5 || return
	expect_match "$ERR" "ecad is running as pid [0-9]+ .*stop it first" \
	    "import's refusal"
}

c_usage_errors() {
	reg "${P_CONF[$P]}" registry frobnicate "$F"
	expect_rc 2 || return
	reg "${P_CONF[$P]}" registry export --force "$F"
	expect_rc 2
}

c_damaged_files_refused_nothing_imported() {
	stop_primary "$P"
	reg "${P_CONF[$P]}" --json registry export "$F"
	expect_rc 0 || return
	SUM=$(jq -r .sha256 <<<"$OUT")
	expect_match "$SUM" '^[0-9a-f]{64}$' "the export's digest" || return
	head -n -1 "$F" >"$T/truncated.jsonl"
	reg "$PGCONF" registry import "$T/truncated.jsonl"
	expect_rc 1 || return
	expect_match "$ERR" "truncated" "a truncated file's refusal" || return
	echo "PK garbage" >"$T/garbage.jsonl"
	reg "$PGCONF" registry import "$T/garbage.jsonl"
	expect_rc 1 || return
	expect_match "$ERR" "not an eca registry export" "garbage's refusal" || return
	# Refused before the target is opened: no SQLite file is created.
	reg "$SQCONF" registry import "$T/garbage.jsonl"
	expect_rc 1 || return
	[ ! -e "$SQ2" ] || { fail "a refused import created $SQ2"; return 1; }
	sed '3s/"ENROLLED"/"REVOKED"/' "$F" >"$T/changed.jsonl"
	reg "$PGCONF" registry import "$T/changed.jsonl"
	expect_rc 1 || return
	expect_match "$ERR" "table enrollments's SHA-256" "a changed file's refusal" || return
	expect_eq "$(pg_q 'SELECT count(*) FROM enrollments')" 0 \
	    "PostgreSQL records after refused imports"
}

# --- the round trip ------------------------------------------------------------

c_sqlite_to_postgresql() {
	reg "$PGCONF" --json registry import "$F"
	expect_rc 0 || return
	expect_json .sha256 "$SUM" || return
	expect_json .tables.enrollments.rows 5 || return
	expect_json .tables.candidates.rows 1 || return
	expect_eq "$(pg_q "SELECT state FROM enrollments WHERE host='$B'")" CONFLICT "B's state in PostgreSQL" || return
	expect_eq "$(pg_q "SELECT count(*) FROM history")" \
	    "$(db_count 'SELECT count(*) FROM history')" "PostgreSQL's history rows" || return
	reg "$PGCONF" --json registry export "$T/from-pg.jsonl"
	expect_rc 0 || return
	expect_json .sha256 "$SUM"
}

c_non_empty_target_refused() {
	reg "$PGCONF" registry import "$F"
	expect_rc 5 || return
	expect_match "$ERR" "not empty.*--force" "the refusal" || return
	reg "$PGCONF" --json registry import --force "$F"
	expect_rc 0 || return
	expect_json .sha256 "$SUM"
}

c_postgresql_to_fresh_sqlite_and_verify() {
	reg "$SQCONF" --json registry import "$T/from-pg.jsonl"
	expect_rc 0 || return
	expect_json .sha256 "$SUM" || return
	reg "$SQCONF" registry verify "$F"
	expect_rc 0 || return
	reg "$PGCONF" registry verify "$F"
	expect_rc 0 || return
	timeout 10 sqlite3 "$SQ2" \
	    "UPDATE enrollments SET last_seen = last_seen + 1 WHERE host='$A'" || return
	reg "$SQCONF" registry verify "$F"
	expect_rc 1 || return
	expect_match "$ERR" "enrollments: 5 rows" "verify's difference" || return
	if printf '%s' "$ERR" | grep -q "history:"; then
		fail "verify names history, which did not change: $ERR"
	fi
}

c_ecad_serves_the_imported_registry() {
	set_conf "${P_CONF[$P]}" ECA_DB "$PG_URI" || return
	start_primary "$P" || return
	primary_eca "$P" --json list
	expect_rc 0 || return
	expect_eq "$(jq -r '[.enrollments[] | .host + "=" + .state] | join(" ")' <<<"$OUT")" \
	    "$A=ENROLLED $B=CONFLICT $C=BANNED $D=REMOVED $X=BANNED" "the list on PostgreSQL" || return
	host_eca $A enroll
	expect_rc 0
}

run_case "setup: a SQLite registry with a conflict, bans, a removal; PostgreSQL" c_setup
run_case "export runs beside ecad; import refuses while ecad runs" c_import_refused_while_ecad_runs
run_case "usage errors exit 2" c_usage_errors
run_case "truncated, garbage and changed files are refused, nothing imported" c_damaged_files_refused_nothing_imported
run_case "SQLite -> PostgreSQL: counts and digest identical, exported again identical" c_sqlite_to_postgresql
run_case "a non-empty target is refused without --force" c_non_empty_target_refused
run_case "PostgreSQL -> fresh SQLite identical; verify agrees, then names the changed table" c_postgresql_to_fresh_sqlite_and_verify
run_case "ecad serves the imported PostgreSQL registry" c_ecad_serves_the_imported_registry
