#!/bin/bash
# SPDX-License-Identifier: ISC
# bench/run.sh BUILD [N] - the enrollment benchmark (`make bench`).
#
# N distinct host certificates (default 2000, or $BENCH_N) each open a new
# mutual-TLS connection and enroll with a primary (fresh SQLite registry,
# WORKERS = nproc) at concurrency 64; the same certificates do a bare
# mutual-TLS handshake plus a tiny response against Debian's nginx with
# `ssl_verify_client on` and the same TLS settings.  Then 64 kept-alive
# connections read their own record (GET /v1/enrollments/NAME) for a few
# seconds.  Prints rates, p50/p99 latencies and the ratio eca/nginx.
#
# Certificates are made before any timing and cached under
# BUILD/bench-certs/nN, so a second run with the same N reuses them.
# Everything started here is stopped on exit; every wait is bounded.
#
# Environment: BENCH_N (hosts), BENCH_CONCURRENCY (64), BENCH_GET_SECONDS (5).
set -euo pipefail

prog="bench/run.sh"
die() {
	echo "$prog: $*" >&2
	exit 1
}

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $prog BUILD [N]" >&2
	exit 2
fi

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "$1" 2>/dev/null && pwd) || die "build directory '$1' not found (run 'make build' first)"
N=${2:-${BENCH_N:-2000}}
CONC=${BENCH_CONCURRENCY:-64}
GET_SECONDS=${BENCH_GET_SECONDS:-5}
NPROC=$(nproc)
MKCA="$ROOT/scripts/mkca.sh"
ECAD="$BUILD/src/daemon/ecad"
BENCH="$BUILD/bench/bench_enroll"
PRIMARY=primary.bench.eca

case $N in
'' | *[!0-9]*) die "N must be a number of hosts, not '$N'" ;;
esac
if [ "$N" -lt 1 ] || [ "$N" -gt 99999 ]; then
	die "N must be 1..99999"
fi
for f in "$ECAD" "$BENCH"; do
	[ -x "$f" ] || die "$f not built (run 'make build')"
done
for c in nginx openssl jq python3 curl; do
	command -v "$c" >/dev/null 2>&1 || [ -x "/usr/sbin/$c" ] ||
		die "'$c' not installed (run 'make deps' as root)"
done
NGINX=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)

# A TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# Wait (at most $2 seconds) until something accepts on 127.0.0.1:$1.
wait_port() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# --- certificates (before any timing, cached per N) -------------------------
CERTS="$BUILD/bench-certs/n$N"
make_certs() {
	local tmp
	echo "==> Making $N EC P-256 host certificates in $CERTS (once per N)"
	rm -rf "$CERTS"
	tmp="$CERTS.tmp.$$"
	rm -rf "$tmp"
	mkdir -p "$tmp"
	"$MKCA" ca "$tmp/ca" --name "eca bench" >/dev/null
	"$MKCA" leaf "$tmp/ca" "$PRIMARY" --out "$tmp/primary" >/dev/null
	# One process mints every host (thousands per second).
	"$BUILD/bench/mintcerts" --ca "$tmp/ca" --out "$tmp" --count "$N" \
	    --prefix h --domain bench.eca ||
		die "making host certificates failed"
	touch "$tmp/.complete"
	mv "$tmp" "$CERTS"
}
# Leaves last a year: remake a cache older than 300 days.
if [ ! -f "$CERTS/.complete" ] || [ -n "$(find "$CERTS/.complete" -mtime +300)" ]; then
	make_certs
else
	echo "==> Reusing $N host certificates in $CERTS"
fi

# --- the two servers -------------------------------------------------------
TMP=$(mktemp -d /tmp/eca-bench.XXXXXX)
ECAD_PID=""
NGINX_PID=""
BENCH_PID=""
cleanup() {
	local rc=$?
	for p in $BENCH_PID $ECAD_PID $NGINX_PID; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in $BENCH_PID $ECAD_PID $NGINX_PID; do
		for _ in $(seq 50); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null || true
	done
	if [ $rc -ne 0 ]; then
		echo "$prog: stopped before the end (exit $rc); logs kept in $TMP" >&2
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ECA_PORT=$(free_port)
NGINX_PORT=$(free_port)
[ "$ECA_PORT" != "$NGINX_PORT" ] || NGINX_PORT=$(free_port)

mkdir -p "$TMP/state"
chmod 700 "$TMP/state"
cat >"$TMP/eca.conf" <<EOF
# primary under benchmark (written by bench/run.sh)
CLIENT_NAME = $PRIMARY
ROLE = primary
SERVER = $PRIMARY 127.0.0.1:$ECA_PORT
API_LISTEN = 127.0.0.1:$ECA_PORT
STATE_DIR = $TMP/state
ECA_DB = sqlite:$TMP/state/registry.db
CONTROL_SOCKET = $TMP/state/ecad.sock
PID_FILE = $TMP/state/ecad.pid
ECA_CERT_PATH = $CERTS/primary.pem
ECA_PRIVATE_KEY_PATH = $CERTS/primary.key
ECA_TRUST_STORE_PATH = $CERTS/ca/trust.pem
# Compared with a bare mTLS nginx, which checks no CRL either.
ECA_CRL_CHECK = DISABLE
WORKERS = $NPROC
# All benchmark traffic comes from 127.0.0.1: lift the per-source cap.
MAX_CONNECTIONS_PER_SOURCE = 100000
# The API is measured, not the web console (and its port may be taken).
CONSOLE_LISTEN = NO
EOF

echo "==> Starting ecad (WORKERS = $NPROC) on 127.0.0.1:$ECA_PORT"
"$ECAD" -d -f "$TMP/eca.conf" 2>"$TMP/ecad.log" &
ECAD_PID=$!
for _ in $(seq 150); do
	grep -q "ready" "$TMP/ecad.log" 2>/dev/null && break
	kill -0 "$ECAD_PID" 2>/dev/null || {
		cat "$TMP/ecad.log" >&2
		die "ecad exited at start-up (log above)"
	}
	sleep 0.1
done
grep -q "ready" "$TMP/ecad.log" || die "ecad not ready after 15 s (log: $TMP/ecad.log)"

echo "==> Starting nginx (worker_processes $NPROC) on 127.0.0.1:$NGINX_PORT"
mkdir -p "$TMP/nginx-tmp"
sed -e "s|@WORKERS@|$NPROC|g" -e "s|@DIR@|$TMP|g" \
	-e "s|@LISTEN@|127.0.0.1:$NGINX_PORT|g" -e "s|@NAME@|$PRIMARY|g" \
	-e "s|@CERT@|$CERTS/primary.pem|g" -e "s|@KEY@|$CERTS/primary.key|g" \
	-e "s|@TRUST@|$CERTS/ca/trust.pem|g" \
	"$ROOT/bench/nginx.conf.in" >"$TMP/nginx.conf"
"$NGINX" -t -q -p "$TMP" -c "$TMP/nginx.conf" 2>"$TMP/nginx-t.log" || {
	cat "$TMP/nginx-t.log" >&2
	die "nginx rejected the generated configuration"
}
"$NGINX" -p "$TMP" -c "$TMP/nginx.conf" 2>>"$TMP/nginx-error.log" &
NGINX_PID=$!
wait_port "$NGINX_PORT" 10 || die "nginx did not listen within 10 s (log: $TMP/nginx-error.log)"

# --- the runs ---------------------------------------------------------------
# CPU time (clock ticks, user + system) used so far by the processes $@.
# On a shared machine, throughput moves with other load; the server's CPU
# per operation is the steadier figure, so both are reported.
cpu_ticks() {
	local p sum=0 t
	for p in "$@"; do
		# drop "pid (comm) " so the fields after it have fixed places
		t=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 }')
		sum=$((sum + ${t:-0}))
	done
	echo "$sum"
}
TICK=$(getconf CLK_TCK)
# ms_per_op TICKS OPS
ms_per_op() { awk -v t="$1" -v n="$2" -v hz="$TICK" 'BEGIN { printf "%.2f", (n > 0 ? t * 1000 / hz / n : 0) }'; }

# bench MODE PORT: one bench_enroll run; its JSON line in $TMP/bench-MODE.json.
# It runs in the background and is waited for, so a signal stops the
# script (and, through the EXIT trap, the run) at once.
bench() {
	local rc=0
	timeout 300 "$BENCH" --target "127.0.0.1:$2" --name "$PRIMARY" \
		--trust "$CERTS/ca/trust.pem" --certs "$CERTS" --n "$N" \
		--concurrency "$CONC" --mode "$1" --seconds "$GET_SECONDS" --json \
		>"$TMP/bench-$1.json" 2>"$TMP/bench-$1.err" &
	BENCH_PID=$!
	wait "$BENCH_PID" || rc=$?
	BENCH_PID=""
	if [ "$rc" -ne 0 ]; then
		cat "$TMP/bench-$1.err" >&2
		die "bench_enroll --mode $1 failed (exit $rc)"
	fi
	if grep -q "first error" "$TMP/bench-$1.err"; then
		sed 's/^/    /' "$TMP/bench-$1.err" >&2
	fi
	# Figures from a run where nothing succeeded would be meaningless.
	if [ "$(jq -r .ok "$TMP/bench-$1.json")" = 0 ]; then
		die "bench_enroll --mode $1: no request succeeded (see the first error above)"
	fi
}

echo "==> nginx: $N new mutual-TLS connections, GET /, concurrency $CONC"
# nginx's master and its workers (forked once the master listens)
for _ in $(seq 50); do
	mapfile -t NGINX_PIDS < <(echo "$NGINX_PID"; pgrep -P "$NGINX_PID" || true)
	[ "${#NGINX_PIDS[@]}" -gt "$NPROC" ] && break
	sleep 0.1
done
t0=$(cpu_ticks "${NGINX_PIDS[@]}")
bench bare "$NGINX_PORT"
BARE=$(cat "$TMP/bench-bare.json")
BARE_CPU=$(ms_per_op $(($(cpu_ticks "${NGINX_PIDS[@]}") - t0)) "$(jq -r .ok <<<"$BARE")")
echo "==> eca:   $N new mutual-TLS connections, POST /v1/enrollments, concurrency $CONC"
t0=$(cpu_ticks "$ECAD_PID")
bench enroll "$ECA_PORT"
ENROLL=$(cat "$TMP/bench-enroll.json")
ENROLL_CPU=$(ms_per_op $(($(cpu_ticks "$ECAD_PID") - t0)) "$(jq -r .ok <<<"$ENROLL")")
echo "==> eca:   $CONC kept-alive connections, GET /v1/enrollments/NAME, $GET_SECONDS s"
t0=$(cpu_ticks "$ECAD_PID")
bench get "$ECA_PORT"
GET=$(cat "$TMP/bench-get.json")
GET_CPU=$(ms_per_op $(($(cpu_ticks "$ECAD_PID") - t0)) "$(jq -r .ok <<<"$GET")")
STATS=$(curl -s --max-time 5 --unix-socket "$TMP/state/ecad.sock" \
	http://localhost/v1/stats 2>/dev/null || true)
ROWS=$(sqlite3 "$TMP/state/registry.db" \
	"SELECT count(*) FROM enrollments WHERE state = 'ENROLLED';" 2>/dev/null || echo "?")

j() { jq -r "$2" <<<"$1"; }
ratio=$(awk -v a="$(j "$ENROLL" .ops_per_sec)" -v b="$(j "$BARE" .ops_per_sec)" \
	'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
verdict=$(awk -v r="$ratio" 'BEGIN { v = (r + 0 >= 0.8) ? "meets" : "BELOW"; print v }')

cpu_ratio=$(awk -v a="$ENROLL_CPU" -v b="$BARE_CPU" \
	'BEGIN { if (a > 0) printf "%.2f", b / a; else print "n/a" }')

echo
echo "eca enrollment benchmark: $N hosts (EC P-256), concurrency $CONC, $NPROC cores, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
printf '  %-42s %8s %8s %8s %6s %12s\n' "" "per s" "p50 ms" "p99 ms" "errors" "server CPU"
row() {
	printf '  %-42s %8.1f %8.2f %8.2f %6d %8s ms/op\n' "$1" \
		"$(j "$2" .ops_per_sec)" "$(j "$2" .p50_ms)" "$(j "$2" .p99_ms)" "$(j "$2" .errors)" "$3"
}
row "nginx: handshake + GET / (bare mTLS)" "$BARE" "$BARE_CPU"
row "eca: handshake + enrollment" "$ENROLL" "$ENROLL_CPU"
row "eca: GET /v1/enrollments/NAME (kept-alive)" "$GET" "$GET_CPU"
echo "  ratio eca/nginx: $ratio ($verdict the target of 0.8); by server CPU per operation: $cpu_ratio"
echo "  new enrollments (201): $(j "$ENROLL" .created) of $N; rows ENROLLED in the registry: $ROWS"
if [ -n "$STATS" ] && jq -e .commits >/dev/null 2>&1 <<<"$STATS"; then
	echo "  group commit: $(j "$STATS" .enrollments_written) enrollments written in $(j "$STATS" .commits) commits"
fi
