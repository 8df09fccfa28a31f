#!/bin/bash
# SPDX-License-Identifier: ISC
# bench/console/run.sh BUILD [N]: the web console at N hosts (default
# 1,000,000).  A throwaway primary whose SQLite registry gets N records in
# one bulk INSERT before ecad starts, then bench/console/measure.mjs drives
# the system's Chromium (playwright-core, tests/browser/install.sh) through
# the hosts page and filtered/sorted pages, each loaded afresh several
# times, and prints the time to first render (navigation start to the
# page's content in the DOM), the /v1 calls each load made with their
# server times (request sent to first byte, Resource Timing), and the ratio
# to the target (300 ms).  A benchmark, not a test: it fails only when it
# cannot measure.  BENCH_KEEP=1 keeps the files.
set -eu
prog="bench/console/run.sh"
. "$(dirname "$0")/../lib.sh"
BUILD=$(cd "${1:?usage: bench/console/run.sh BUILD [N]}" && pwd)
N=${2:-1000000}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
ECAD=$BUILD/src/daemon/ecad
ECA=$BUILD/src/cli/eca
T=$(mktemp -d /tmp/eca-bench-console.XXXXXX)
P=primary.bench.test
H=h0000000.bench.test
PID=""

cleanup() {
	local rc=$?

	[ -z "$PID" ] || stop_pids "$PID"
	keep_or_remove $rc "$T"
}
trap cleanup EXIT

start_ecad() {
	local i
	: >"$T/ecad.log"
	"$ECAD" -d -f "$T/eca.conf" 2>>"$T/ecad.log" &
	PID=$!
	for ((i = 0; i < 600; i++)); do
		grep -q 'ecad: ready' "$T/ecad.log" && return 0
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "bench/console: ecad did not start: $(tail -3 "$T/ecad.log")" >&2
	exit 1
}

stop_ecad() {
	kill "$PID"
	wait "$PID" 2>/dev/null || true
	PID=""
}

"$REPO/tests/browser/install.sh" >/dev/null
"$REPO/scripts/mkca.sh" ca "$T/ca" --name "eca bench" >/dev/null
"$REPO/scripts/mkca.sh" leaf "$T/ca" "$P" --out "$T/p" >/dev/null
"$REPO/scripts/mkca.sh" leaf "$T/ca" "$H" --out "$T/h" >/dev/null
API=$(free_port)
CPORT=$(free_port)
mkdir -m 700 "$T/state" "$T/hstate"
cat >"$T/eca.conf" <<CONF
CLIENT_NAME = $P
ROLE = primary
API_LISTEN = 127.0.0.1:$API
CONSOLE_LISTEN = 127.0.0.1:$CPORT
BROKER_LISTEN = 127.0.0.1:$(free_port)
STATE_DIR = $T/state
CONTROL_SOCKET = $T/state/ecad.sock
PID_FILE = $T/state/ecad.pid
ECA_CERT_PATH = $T/p.pem
ECA_PRIVATE_KEY_PATH = $T/p.key
ECA_TRUST_STORE_PATH = $T/ca/trust.pem
ECA_CRL_CHECK = DISABLE
CONF
cat >"$T/host.conf" <<CONF
CLIENT_NAME = $H
SERVER = $P 127.0.0.1:$API
STATE_DIR = $T/hstate
ECA_CERT_PATH = $T/h.pem
ECA_PRIVATE_KEY_PATH = $T/h.key
ECA_TRUST_STORE_PATH = $T/ca/trust.pem
ECA_CRL_CHECK = DISABLE
CONF

# One real enrollment, then N - 1 copies of its row: names h0000001...,
# states and times spread so that filters and orders have work to do.
start_ecad
"$ECA" -f "$T/host.conf" enroll >/dev/null
stop_ecad
DB=$T/state/registry.db
cols=$(sqlite3 "$DB" "SELECT group_concat(name, ',') FROM pragma_table_info('enrollments')")
sel=$(printf '%s' "$cols" | sed \
    -e "s/\bhost_id\b/printf('00000000-0000-4000-8000-%012d', n)/" \
    -e "s/\bhost\b/printf('h%07d.bench.test', n)/" \
    -e "s/\bstate\b/CASE WHEN n % 101 = 0 THEN 'BANNED' WHEN n % 37 = 0 THEN 'CONFLICT' WHEN n % 53 = 0 THEN 'REMOVED' ELSE 'ENROLLED' END/" \
    -e "s/\benrolled_at\b/enrolled_at - (n * 7919) % 31536000/" \
    -e "s/\bnot_after\b/not_after - (n * 104729) % 31536000/")
t0=$(date +%s.%N)
sqlite3 "$DB" "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;
    WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < $N - 1)
    INSERT INTO enrollments ($cols) SELECT $sel FROM enrollments, c WHERE host = '$H';" >/dev/null
t1=$(date +%s.%N)
rows=$(sqlite3 "$DB" "SELECT count(*) FROM enrollments")
printf 'registry: %d records, bulk insert %.1f s, %s MB\n' "$rows" \
    "$(echo "$t1 - $t0" | bc)" "$(($(stat -c %s "$DB") / 1048576))"
start_ecad

# The browser trusts the console's certificate as an administrator's
# browser trusts the enterprise CA (by its key: Chromium's
# --ignore-certificate-errors-spki-list), not by ignoring certificate
# errors, which would also keep it from caching anything.
SPKI=$(openssl x509 -in "$T/p.pem" -pubkey -noout | openssl pkey -pubin -outform der |
	openssl dgst -sha256 -binary | base64)
CONSOLE="https://127.0.0.1:$CPORT" LINK="$("$ECA" -f "$T/eca.conf" console login)" \
    SPKI="$SPKI" BENCH_RUNS=${BENCH_RUNS:-5} node "$REPO/bench/console/measure.mjs"
