# SPDX-License-Identifier: ISC
# lib.sh - the integration tests' harness, sourced by every t_*.sh file.
#
# Environment (set by run.sh; a t_*.sh file can also be run on its own as
# `ECA_IT_BUILD=/path/to/build bash tests/integration/t_x.sh`):
#   ECA_IT_BUILD  the meson build directory holding src/daemon/ecad and src/cli/eca
#   ECA_IT_RUN    the run's directory (made here when unset); each file gets
#                 a sub-directory T of it, and the run's throwaway CA lives in
#                 ECA_IT_RUN/ca (made once per run by mkca.sh)
#   ECA_IT_DB     sqlite (default) or pg: each primary's registry is then a
#                 database of its own on one PostgreSQL server per file
#                 (tests/pg.sh, started at the first make_primary, stopped
#                 at the end); db_count, expect_db and db_digest ask it
#
# The mini-framework (`case` is a bash reserved word, hence `tcase`):
#   tcase "statement of behaviour"   start a case
#   fail "why"                       the case fails (the first reason is kept)
#   pass                             the case passes unless it already failed
# Assertions call fail themselves and return 1, so a case reads
#   tcase "..."; step || return; step2; pass     (inside a function), or is
# written with && chains.  Output is TAP-like: `ok - NAME` /
# `not ok - NAME: why`; every file ends with `# summary: N passed, N failed`.
#
# Processes: start_primary NAME starts `ecad -d -f CONF` in the background
# and waits for `ecad: ready`; stop_all (trap EXIT) stops what was started.
# Every wait is bounded.

set -u

IT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$IT_DIR/../.." && pwd)
MKCA=$REPO/scripts/mkca.sh

: "${ECA_IT_BUILD:?set ECA_IT_BUILD to the meson build directory}"
BUILD=$(cd "$ECA_IT_BUILD" && pwd)
ECAD=$BUILD/src/daemon/ecad
ECA=$BUILD/src/cli/eca
# Bounds, in seconds.
CMD_TIMEOUT=${ECA_IT_CMD_TIMEOUT:-30}
READY_TIMEOUT=${ECA_IT_READY_TIMEOUT:-15}

IT_DB=${ECA_IT_DB:-sqlite}
IT_PGD="" # the file's PostgreSQL server (ECA_IT_DB=pg)
case $IT_DB in
sqlite) ;;
pg)
	# shellcheck source=tests/pg.sh
	. "$REPO/tests/pg.sh"
	if why=$(pg_unavailable); then
		echo "Bail out! ECA_IT_DB=pg: PostgreSQL not available ($why)"
		exit 1
	fi
	;;
*)
	echo "Bail out! ECA_IT_DB is '$IT_DB': use sqlite or pg"
	exit 1
	;;
esac

# The file's name, for messages and its directory.
IT_FILE=$(basename "$0" .sh)

if [ -z "${ECA_IT_RUN:-}" ]; then
	ECA_IT_RUN=$(mktemp -d "${TMPDIR:-/tmp}/eca-it.XXXXXX")
	IT_OWN_RUN=1
else
	IT_OWN_RUN=0
fi
T=$ECA_IT_RUN/$IT_FILE
rm -rf "$T"
mkdir -p "$T"
CA=$ECA_IT_RUN/ca
if [ ! -f "$CA/trust.pem" ]; then
	"$MKCA" ca "$CA" --name "eca it" >/dev/null ||
	    { echo "Bail out! cannot make the test CA with $MKCA"; exit 1; }
fi

IT_PASSED=0
IT_FAILED=0
IT_CASE=""
IT_DONE=1

# Every daemon started: PIDs, and per primary name its port, dir and conf.
declare -a IT_PIDS=()
declare -A P_PORT=() P_DIR=() P_PID=() P_CONF=()
declare -A H_DIR=()
declare -a P_ORDER=()
DB_PRIMARY=""

_it_verdict_missing() {
	if [ $IT_DONE = 0 ]; then
		fail "the case ended without a verdict"
	fi
}

tcase() {
	_it_verdict_missing
	IT_CASE=$1
	IT_DONE=0
}

fail() {
	if [ $IT_DONE = 0 ]; then
		echo "not ok - $IT_CASE: $*"
		IT_FAILED=$((IT_FAILED + 1))
		IT_DONE=1
	fi
	return 1
}

pass() {
	if [ $IT_DONE = 0 ]; then
		echo "ok - $IT_CASE"
		IT_PASSED=$((IT_PASSED + 1))
		IT_DONE=1
	fi
	return 0
}

# Run a case: NAME FUNCTION [ARGS...]; FUNCTION passes unless it fails.
run_case() {
	local name=$1
	shift
	tcase "$name"
	"$@"
	pass
}

_it_finish() {
	local rc=$?
	_it_verdict_missing
	stop_all
	[ -z "$IT_PGD" ] || pg_stop "$IT_PGD"
	echo "# summary: $IT_PASSED passed, $IT_FAILED failed"
	if [ "$IT_FAILED" -gt 0 ]; then
		echo "# $IT_FILE: failures; files kept in $T"
	elif [ $IT_OWN_RUN = 1 ]; then
		rm -rf "$ECA_IT_RUN"
	else
		rm -rf "$T"
	fi
	[ "$IT_FAILED" -eq 0 ] || exit 1
	exit "$rc"
}
trap _it_finish EXIT

# Stops every process we started (SIGTERM, then SIGKILL after 5 s).
stop_all() {
	local pid i
	for pid in "${IT_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${IT_PIDS[@]}"; do
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		{ wait "$pid"; } 2>/dev/null || true
	done
	IT_PIDS=()
}

# A TCP port on 127.0.0.1 that nothing listens on and this run did not hand
# out before (several files may run at once).
free_port() {
	local p i
	for ((i = 0; i < 200; i++)); do
		# Below Linux's ephemeral range (32768-60999), so no client
		# connection can take the port between two restarts of ecad.
		p=$((20000 + RANDOM % 12000))
		if [ -n "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ]; then
			continue
		fi
		if ! (set -o noclobber; : >"$ECA_IT_RUN/.port.$p") 2>/dev/null; then
			continue
		fi
		echo "$p"
		return 0
	done
	echo "free_port: no free port found" >&2
	return 1
}

# SHA-256 fingerprint of a PEM certificate (the first one in the file) as
# `openssl x509 -fingerprint -sha256` gives it, lower-cased without colons.
cert_fp() {
	openssl x509 -in "$1" -noout -fingerprint -sha256 |
	    sed 's/.*=//; s/://g' | tr 'A-F' 'a-f'
}

# primary_conf NAME [KEY=VALUE lines...]: the primary's config on stdout.
_primary_conf() {
	local name=$1 d=${P_DIR[$1]}
	shift
	cat <<EOF
# primary $name for $IT_FILE
CLIENT_NAME = $name
ROLE = primary
API_LISTEN = 127.0.0.1:${P_PORT[$name]}
STATE_DIR = $d/state
ECA_DB = $(_it_db_uri "$name")
CONTROL_SOCKET = $d/state/ecad.sock
PID_FILE = $d/state/ecad.pid
ECA_CERT_PATH = $d/cert.pem
ECA_PRIVATE_KEY_PATH = $d/key.pem
ECA_TRUST_STORE_PATH = $CA/trust.pem
ECA_CRL_CHECK = DISABLE
WORKERS = 2
LOG_LEVEL = debug
EOF
	local l console=no
	for l in "$@"; do
		echo "$l"
		case $l in CONSOLE_LISTEN*) console=yes ;; esac
	done
	# Primaries run side by side: no console on its fixed default port
	# unless the file asks for one (on a port of its own).
	[ $console = yes ] || echo "CONSOLE_LISTEN = NO"
}

# need_pg: the file needs a real PostgreSQL server (tests/pg.sh).  Without
# one it prints "skipped: PostgreSQL not available (WHY)" and ends there,
# except in CI, where a missing server is a failure, never a silent pass.
need_pg() {
	local why
	# shellcheck source=tests/pg.sh
	. "$REPO/tests/pg.sh"
	why=$(pg_unavailable) || return 0
	echo "skipped: PostgreSQL not available ($why)"
	if [ "${CI:-}" = true ]; then
		tcase "PostgreSQL is available in CI"
		fail "$why"
	fi
	exit 0
}

# pg_server: the file's PostgreSQL server (need_pg first), started once in
# IT_PGD and stopped at the end; PG_URI is its database "eca".  A case that
# calls it fails when the server does not start.
pg_server() {
	[ -z "$IT_PGD" ] || return 0
	IT_PGD=$(mktemp -d "${TMPDIR:-/tmp}/eca-pg.XXXXXX") || {
		fail "mktemp for the PostgreSQL server"
		return 1
	}
	pg_start "$IT_PGD" || {
		fail "PostgreSQL did not start (see above)"
		return 1
	}
}

# on_pg FILE: the case "FILE passes on PostgreSQL": FILE's cases, all of
# them, with ECA_IT_DB=pg (its primaries' registries on a PostgreSQL server
# of its own, _it_pg_make), in a run directory of their own with this
# run's CA; its status, its "registries on PostgreSQL" line and a summary
# with no failure.
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

# _it_pg_db NAME: the PostgreSQL database of primary NAME (ECA_IT_DB=pg).
_it_pg_db() {
	echo "p_$1" | tr -c 'a-z0-9_\n' _
}

# _it_db_uri NAME: ECA_DB of primary NAME.
_it_db_uri() {
	if [ "$IT_DB" = pg ]; then
		echo "postgresql:///$(_it_pg_db "$1")?host=$IT_PGD&user=postgres"
	else
		echo "sqlite:${P_DIR[$1]}/state/registry.db"
	fi
}

# _it_pg_make NAME: with ECA_IT_DB=pg, the file's server (started once)
# and an empty database for primary NAME (made once).
_it_pg_make() {
	local db
	[ "$IT_DB" = pg ] || return 0
	if [ -z "$IT_PGD" ]; then
		pg_server || return 1
		echo "# registries on PostgreSQL ($IT_PGD)"
	fi
	db=$(_it_pg_db "$1")
	[ -z "$(_it_psql postgres "SELECT 1 FROM pg_database WHERE datname = '$db'")" ] || return 0
	_pg_as "$PG_BIN/createdb" -h "$IT_PGD" -U postgres "$db" >/dev/null || return 1
	_it_psql "$db" "$_IT_PG_GROUP_CONCAT" >/dev/null
}

# _it_psql DB SQL: the rows of SQL on DB (psql -At).  SQLite's
# group_concat(X, SEP) exists for these queries (schema it, not the
# registry's own).
_it_psql() {
	PGOPTIONS="-c search_path=public,it" timeout 10 psql \
	    "postgresql:///$1?host=$IT_PGD&user=postgres" -XAtq -c "$2"
}

_IT_PG_GROUP_CONCAT="CREATE SCHEMA it;
CREATE FUNCTION it.gc(acc text, v text, sep text) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS 'SELECT CASE WHEN acc IS NULL THEN v ELSE acc || sep || v END';
CREATE AGGREGATE it.group_concat(text, text) (SFUNC = it.gc, STYPE = text);"

# make_primary NAME [config lines...]: writes its cert, key and config
# (P_CONF[NAME]) without starting it.
make_primary() {
	local name=$1 d
	shift
	d=$T/$name
	mkdir -p "$d"
	P_DIR[$name]=$d
	if [ -z "${P_PORT[$name]:-}" ]; then
		P_PORT[$name]=$(free_port) || return 1
		P_ORDER+=("$name")
	fi
	[ -n "$DB_PRIMARY" ] || DB_PRIMARY=$name
	if [ ! -f "$d/cert.pem" ]; then
		"$MKCA" leaf "$CA" "$name" --out "$d/leaf" >/dev/null || return 1
		mv "$d/leaf.pem" "$d/cert.pem"
		mv "$d/leaf.key" "$d/key.pem"
	fi
	P_CONF[$name]=$d/eca.conf
	_it_pg_make "$name" || return 1
	_primary_conf "$name" "$@" >"$d/eca.conf"
}

# start_primary NAME [config lines...]: make it (unless made) and start
# `ecad -d -f CONF` with stderr in DIR/ecad.log; wait for `ecad: ready`.
start_primary() {
	local name=$1 d pid i
	if [ $# -gt 1 ] || [ -z "${P_CONF[$name]:-}" ]; then
		make_primary "$@" || { fail "cannot make primary $name"; return 1; }
	fi
	d=${P_DIR[$name]}
	: >"$d/ecad.log"
	"$ECAD" -d -f "${P_CONF[$name]}" 2>>"$d/ecad.log" >>"$d/ecad.out" &
	pid=$!
	IT_PIDS+=("$pid")
	P_PID[$name]=$pid
	for ((i = 0; i < READY_TIMEOUT * 10; i++)); do
		if grep -q 'ecad: ready' "$d/ecad.log" 2>/dev/null; then
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			fail "ecad for $name exited before ready: $(tail -3 "$d/ecad.log" | tr '\n' ' ')"
			return 1
		fi
		sleep 0.1
	done
	fail "ecad for $name not ready within ${READY_TIMEOUT}s: $(tail -3 "$d/ecad.log" | tr '\n' ' ')"
	return 1
}

# stop_primary NAME [SIGNAL]: signal it (default TERM) and wait (bounded);
# sets STOP_RC to its exit status (124 if it did not exit in 10 s).
# (bash reports a job killed by a signal on stderr wherever it notices it:
# the whole wait runs with stderr discarded.)
stop_primary() {
	_stop_primary "$@" 2>/dev/null
}
# shellcheck disable=SC2034
_stop_primary() {
	local name=$1 sig=${2:-TERM} pid i
	pid=${P_PID[$name]:-}
	STOP_RC=""
	[ -n "$pid" ] || return 0
	kill -"$sig" "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
		{ wait "$pid"; } 2>/dev/null
		STOP_RC=124
	else
		{ wait "$pid"; } 2>/dev/null
		STOP_RC=$?
	fi
	P_PID[$name]=""
	local -a keep=()
	for i in "${IT_PIDS[@]}"; do
		[ "$i" = "$pid" ] || keep+=("$i")
	done
	IT_PIDS=("${keep[@]}")
	return 0
}

# make_host NAME [--server PRIMARY]... [--name CLIENT_NAME] [--conf LINE]...
#     [--trust FILE] [mkca leaf options...]
# A host: DIR/cert.pem, DIR/key.pem, DIR/eca.conf (H_DIR[NAME]).  The
# certificate is made by mkca.sh for NAME unless --no-cert; SERVER lines
# name the given primaries (default: every started primary, in order).
make_host() {
	local name=$1 d cname="" trust=$CA/trust.pem nocert=0 s
	local -a servers=() conf=() mk=()
	shift
	while [ $# -gt 0 ]; do
		case "$1" in
		--server) servers+=("$2"); shift 2 ;;
		--name) cname=$2; shift 2 ;;
		--conf) conf+=("$2"); shift 2 ;;
		--trust) trust=$2; shift 2 ;;
		--no-cert) nocert=1; shift ;;
		*) mk+=("$1"); shift ;;
		esac
	done
	[ -n "$cname" ] || cname=$name
	d=$T/hosts/$name
	mkdir -p "$d"
	H_DIR[$name]=$d
	if [ $nocert = 0 ]; then
		"$MKCA" leaf "$CA" "$name" "${mk[@]}" --out "$d/cert" >"$d/mkca.log" 2>&1 ||
		    { fail "mkca.sh leaf $name ${mk[*]} failed: $(cat "$d/mkca.log")"; return 1; }
		mv -f "$d/cert.key" "$d/key.pem"
	fi
	if [ ${#servers[@]} = 0 ]; then
		servers=("${P_ORDER[@]}")
	fi
	{
		echo "# host $name for $IT_FILE"
		echo "CLIENT_NAME = $cname"
		echo "ROLE = client"
		for s in "${servers[@]}"; do
			echo "SERVER = $s 127.0.0.1:${P_PORT[$s]}"
		done
		echo "STATE_DIR = $d/state"
		echo "ECA_CERT_PATH = $d/cert.pem"
		echo "ECA_PRIVATE_KEY_PATH = $d/key.pem"
		echo "ECA_TRUST_STORE_PATH = $trust"
		echo "ECA_CRL_CHECK = DISABLE"
		for s in "${conf[@]}"; do
			echo "$s"
		done
	} >"$d/eca.conf"
}

# renew_host NAME [mkca leaf options...]: a new certificate for the host
# (e.g. --reuse-key "$(host_dir NAME)/key.pem" for a renewal with the same
# key; without it a new key).
renew_host() {
	local name=$1 d
	shift
	d=${H_DIR[$name]}
	"$MKCA" leaf "$CA" "$name" "$@" --out "$d/new" >"$d/mkca.log" 2>&1 ||
	    { fail "mkca.sh leaf $name $* failed: $(cat "$d/mkca.log")"; return 1; }
	mv -f "$d/new.pem" "$d/cert.pem"
	mv -f "$d/new.key" "$d/key.pem"
}

host_dir() {
	echo "${H_DIR[$1]}"
}

# run_cmd CMD...: runs it bounded in time; stdout in $OUT, stderr in $ERR,
# exit status in $RC (124 on timeout).
run_cmd() {
	local o e
	o=$T/.out.$$
	e=$T/.err.$$
	timeout -k 5 "$CMD_TIMEOUT" "$@" >"$o" 2>"$e"
	RC=$?
	OUT=$(cat "$o")
	ERR=$(cat "$e")
	LAST_CMD="$*"
	return 0
}

# host_eca HOST ARGS...: `eca -f HOST's config ARGS` via run_cmd.
host_eca() {
	local name=$1
	shift
	if [ -z "${H_DIR[$name]:-}" ]; then
		fail "test error: no host $name made (make_host)"
		RC=127 OUT="" ERR=""
		return 1
	fi
	run_cmd "$ECA" -f "${H_DIR[$name]}/eca.conf" "$@"
}

# primary_eca NAME ARGS...: `eca -f PRIMARY's config ARGS` (control socket).
primary_eca() {
	local name=$1
	shift
	run_cmd "$ECA" -f "${P_CONF[$name]}" "$@"
}

_it_short() {
	printf '%s' "$1" | tr '\n' ' ' | cut -c1-300
}

# expect_exit N CMD...: runs CMD (run_cmd) and checks its exit status.
expect_exit() {
	local want=$1
	shift
	run_cmd "$@"
	_expect_rc "$want"
}

# expect_rc N: checks $RC of the last command.
_expect_rc() {
	if [ "$RC" != "$1" ]; then
		fail "\`${LAST_CMD#"$BUILD/"}\` exited $RC, expected $1; stderr: $(_it_short "$ERR"); stdout: $(_it_short "$OUT")"
		return 1
	fi
	return 0
}
expect_rc() {
	_expect_rc "$1"
}

# expect_json FILTER VALUE [JSON]: `jq -r FILTER` of JSON (default $OUT,
# the last command's stdout) equals VALUE.
expect_json() {
	local filter=$1 want=$2 json=${3-$OUT} got
	if ! got=$(printf '%s' "$json" | jq -r "$filter" 2>&1); then
		fail "not JSON for jq '$filter' (after \`${LAST_CMD#"$BUILD/"}\`): $(_it_short "$json")"
		return 1
	fi
	if [ "$got" != "$want" ]; then
		fail "jq '$filter' is '$(_it_short "$got")', expected '$want' (after \`${LAST_CMD#"$BUILD/"}\`; stdout: $(_it_short "$json"); stderr: $(_it_short "$ERR"))"
		return 1
	fi
	return 0
}

# expect_eq GOT WANT WHAT
expect_eq() {
	if [ "$1" != "$2" ]; then
		fail "$3 is '$(_it_short "$1")', expected '$2'"
		return 1
	fi
	return 0
}

# expect_match TEXT REGEX WHAT
expect_match() {
	if ! printf '%s' "$1" | grep -Eq -- "$2"; then
		fail "$3 does not match /$2/: $(_it_short "$1")"
		return 1
	fi
	return 0
}

# db_count SQL [PRIMARY]: prints the single number SQL yields on the
# primary's registry (default: $DB_PRIMARY).  Tables: enrollments(host,
# state, fingerprint, ...) and history(host, event, ...).  A registry that
# does not exist is an error (a wrong primary or path must not read as an
# empty registry).
db_count() {
	local sql=$1 name=${2:-$DB_PRIMARY} db
	if [ "$IT_DB" = pg ] && [ -n "${P_DIR[$name]:-}" ]; then
		_it_psql "$(_it_pg_db "$name")" "$sql"
		return
	fi
	db=${P_DIR[$name]:-}/state/registry.db
	if [ -z "${P_DIR[$name]:-}" ] || [ ! -f "$db" ]; then
		echo "no registry $db (primary '$name')" >&2
		return 1
	fi
	timeout 10 sqlite3 -readonly -cmd '.timeout 5000' "$db" "$sql"
}

# expect_db SQL WANT [PRIMARY]: db_count SQL equals WANT.
expect_db() {
	local got
	got=$(db_count "$1" "${3:-$DB_PRIMARY}" 2>&1)
	if [ "$got" != "$2" ]; then
		fail "registry query \"$1\" gives '$(_it_short "$got")', expected '$2'"
		return 1
	fi
	return 0
}

# A digest of the whole registry, to show that something changed nothing.
# shellcheck disable=SC2120
db_digest() {
	local name=${1:-$DB_PRIMARY}
	if [ "$IT_DB" = pg ]; then
		_it_psql "$(_it_pg_db "$name")" \
		    "SELECT * FROM enrollments ORDER BY host; SELECT * FROM history ORDER BY id;" |
		    sha256sum | cut -c1-64
		return
	fi
	timeout 10 sqlite3 -readonly -cmd '.timeout 5000' \
	    "${P_DIR[$name]}/state/registry.db" \
	    "SELECT * FROM enrollments ORDER BY host; SELECT * FROM history;" |
	    sha256sum | cut -c1-64
}

# https REQUEST to a primary with curl: primary_curl NAME HOST_OR_- METHOD PATH [curl args...]
# HOST '-' means no client certificate.  Sets $OUT (body), $HTTP (status),
# $RC (curl's exit status).
primary_curl() {
	local name=$1 host=$2 method=$3 path=$4 port
	local -a cert=()
	shift 4
	port=${P_PORT[$name]}
	if [ "$host" != - ]; then
		cert=(--cert "${H_DIR[$host]}/cert.pem" --key "${H_DIR[$host]}/key.pem")
	fi
	run_cmd curl -sS --max-time 15 -o "$T/.body" -w '%{http_code}' \
	    --cacert "$CA/trust.pem" --resolve "$name:$port:127.0.0.1" \
	    "${cert[@]}" -X "$method" -H 'Content-Type: application/json' \
	    "$@" "https://$name:$port$path"
	HTTP=$OUT
	OUT=$(cat "$T/.body" 2>/dev/null)
	rm -f "$T/.body"
}

# expect_http STATUS: the last primary_curl answered STATUS.
expect_http() {
	if [ "$HTTP" != "$1" ]; then
		fail "\`${LAST_CMD}\` answered HTTP '$HTTP' (curl exit $RC), expected $1; body: $(_it_short "$OUT"); stderr: $(_it_short "$ERR")"
		return 1
	fi
	return 0
}

# --- hosts with their own ecad (peer listener), for host-to-host channels ---

declare -A H_PID=()

# set_conf FILE KEY VALUE: sets `KEY = VALUE` in a config file (replacing
# the key's line, or appending it).  VALUE "" removes the key.
set_conf() {
	local f=$1 key=$2 val=$3
	sed -i "/^$key = /d" "$f" || return 1
	[ -z "$val" ] || echo "$key = $val" >>"$f"
}

# wait_log FILE REGEX [SECONDS] [FROM_LINE]: waits (bounded, default 10 s)
# until a line of FILE, from line FROM_LINE on (default 1), matches the
# extended REGEX; fails the case otherwise.  Use it instead of a fixed sleep
# before asserting that something did not happen: wait for the event that
# shows the daemon got that far.
wait_log() {
	local f=$1 re=$2 secs=${3:-10} from=${4:-1} i
	for ((i = 0; i < secs * 10; i++)); do
		tail -n +"$from" "$f" 2>/dev/null | grep -qE -- "$re" && return 0
		sleep 0.1
	done
	fail "no line matching '$re' in $f within ${secs}s"
	return 1
}

# log_lines FILE: the number of lines FILE has now (for wait_log's FROM_LINE).
log_lines() {
	local n
	n=$(wc -l <"$1" 2>/dev/null) || n=0
	echo "$n"
}

# _it_start_ecad NAME CONF DIR: starts `ecad -d -f CONF` (stderr appended to
# DIR/ecad.log) and waits for `ecad: ready`; the pid in IT_STARTED_PID.
_it_start_ecad() {
	local name=$1 conf=$2 d=$3 pid i
	: >"$d/ecad.log"
	"$ECAD" -d -f "$conf" 2>>"$d/ecad.log" >>"$d/ecad.out" &
	pid=$!
	IT_PIDS+=("$pid")
	IT_STARTED_PID=$pid
	for ((i = 0; i < READY_TIMEOUT * 10; i++)); do
		if grep -q 'ecad: ready' "$d/ecad.log" 2>/dev/null; then
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			fail "ecad for $name exited before ready: $(tail -3 "$d/ecad.log" | tr '\n' ' ')"
			return 1
		fi
		sleep 0.1
	done
	fail "ecad for $name not ready within ${READY_TIMEOUT}s: $(tail -3 "$d/ecad.log" | tr '\n' ' ')"
	return 1
}

# start_host NAME: starts the ecad of a host made by make_host (its peer
# listener; LISTEN in its config) and waits for it to be ready.
start_host() {
	local name=$1 d
	d=${H_DIR[$name]:-}
	[ -n "$d" ] || { fail "test error: no host $name made (make_host)"; return 1; }
	mkdir -p "$d/state" && chmod 700 "$d/state"
	_it_start_ecad "$name" "$d/eca.conf" "$d" || return 1
	H_PID[$name]=$IT_STARTED_PID
}

# stop_host NAME [SIGNAL]: stops a host's ecad (bounded, as stop_primary).
stop_host() {
	local name=$1 sig=${2:-TERM} pid i
	pid=${H_PID[$name]:-}
	[ -n "$pid" ] || return 0
	{
		kill -"$sig" "$pid" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	} 2>/dev/null
	H_PID[$name]=""
	local -a keep=()
	for i in "${IT_PIDS[@]}"; do
		[ "$i" = "$pid" ] || keep+=("$i")
	done
	IT_PIDS=("${keep[@]}")
}

# primary_get NAME PATH: GET PATH over the primary's control socket (as
# an administrator); the answer in $OUT.
primary_get() {
	run_cmd curl -sS --max-time 10 --unix-socket \
	    "${P_DIR[$1]}/state/ecad.sock" "http://localhost$2"
}

# primary_stats NAME: GET /v1/stats; the JSON in $OUT.
primary_stats() {
	primary_get "$1" /v1/stats
}

# wait_settled NAME: waits (bounded, 10 s) until the primary has no open
# API connection and its writer has committed every job it was given, so
# that what the registry holds is final.
wait_settled() {
	local i
	for ((i = 0; i < 100; i++)); do
		primary_stats "$1" || return 1
		[ "$(jq -r '.open_connections + .writer_pending' <<<"$OUT")" = 0 ] &&
		    return 0
		sleep 0.1
	done
	fail "primary $1 did not settle within 10 s: $(jq -c '{open_connections, writer_pending}' <<<"$OUT")"
	return 1
}

# The binaries must exist; otherwise every case would fail for one reason.
if [ ! -x "$ECAD" ] || [ ! -x "$ECA" ]; then
	echo "Bail out! $ECAD or $ECA is missing (build with ninja -C $BUILD)"
	IT_FAILED=1
	exit 1
fi

# --- Prometheus text (t_metrics.sh, t_nat.sh) -------------------------------
# Debian's python3 with python3-prometheus-client (not a pyenv shim).
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

# parse_metrics: $OUT through prometheus_client's parser; the samples in
# $SAMPLES, one "NAME{K=V,...} VALUE" line each (labels sorted).
parse_metrics() {
	local text=$OUT
	run_cmd "$PY" -c '
import math, sys
from prometheus_client.parser import text_string_to_metric_families
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        lab = ",".join("%s=%s" % (k, s.labels[k]) for k in sorted(s.labels))
        v = s.value
        if not math.isinf(v) and not math.isnan(v) and v == int(v):
            v = int(v)
        print("%s{%s} %s" % (s.name, lab, v))
' <<<"$text"
	if [ "$RC" != 0 ]; then
		fail "the exposition does not parse: $(_it_short "$ERR")"
		return 1
	fi
	SAMPLES=$OUT
}

# sample NAME{LABELS}: its value in $SAMPLES, or "absent".
sample() {
	local v
	v=$(grep -F -- "$1 " <<<"$SAMPLES" | head -1 | sed 's/.* //')
	echo "${v:-absent}"
}
