#!/bin/bash
# SPDX-License-Identifier: ISC
# bench/nat.sh BUILD [N] - the NAT benchmark (issue 10; a benchmark, not a
# test).
#
# On loopback: a primary's ecad (API, peer listener, broker), a media
# server's ecad, a NAT host's ecad (NAT_CLIENT = YES, its broker session)
# and a client's configuration; the media server, the client and the NAT
# host enrolled with the real `eca enroll`.  Then BUILD/bench/bench_nat:
#   1. channel set-up from the client: directly to the media server
#      against through a reverse connection to the NAT host, alternating,
#      p50 and p99 of each and the ratios (target <= 2.5x);
#   2. N idle broker sessions of N enrolled hosts (each its own minted
#      certificate, enrolled first by bench_enroll): the primary's memory
#      per session (VmRSS, target <= 16 KiB with TLS state), its CPU per
#      heartbeat;
#   3. while the N sessions are held: E enrollments of new hosts
#      (bench_enroll, concurrency 8) on that primary, against the same on a
#      fresh primary without sessions; the sessions still alive after.
# Prints each figure and the ratios.  N defaults to 1000 (BENCH_NAT_N);
# the issue's figure is N = 10000.  BENCH_NAT_SETUPS (200 of each kind; 0 skips them),
# BENCH_NAT_ENROLLS (E, 400).  RLIMIT_NOFILE is raised for the run (root,
# or a hard limit high enough, for large N).  Everything started here is
# stopped on exit; every wait is bounded.
set -euo pipefail

prog="bench/nat.sh"
. "$(dirname "$0")/lib.sh"

[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: $prog BUILD [N]" >&2; exit 2; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "$1" 2>/dev/null && pwd) || die "build directory '$1' not found"
N=${2:-${BENCH_NAT_N:-1000}}
SETUPS=${BENCH_NAT_SETUPS:-200}
ENROLLS=${BENCH_NAT_ENROLLS:-400}
ECAD=$BUILD/src/daemon/ecad
ECA=$BUILD/src/cli/eca
BENCH=$BUILD/bench/bench_nat
ENROLL=$BUILD/bench/bench_enroll
MINT=$BUILD/bench/mintcerts
MKCA=$ROOT/scripts/mkca.sh
for f in "$ECAD" "$ECA" "$BENCH" "$ENROLL" "$MINT"; do
	[ -x "$f" ] || die "$f not built (ninja -C $BUILD)"
done
command -v jq >/dev/null || die "jq is missing (scripts/install-deps.sh bench)"
case $N in '' | *[!0-9]*) die "N must be a number, not '$N'" ;; esac
# Each session is a socket here and one in ecad; room for both and more.
ulimit -n $((N + 4096)) 2>/dev/null ||
	die "cannot raise RLIMIT_NOFILE to $((N + 4096)) (run as root or raise the hard limit)"

DIR=$(mktemp -d "${TMPDIR:-/tmp}/eca-bench-nat.XXXXXX")
PIDS=()
cleanup() {
	local rc=$?

	stop_pids "${PIDS[@]}"
	keep_or_remove $rc "$DIR"
}
trap cleanup EXIT

P=primary.bench.eca
M=media.bench.eca
C=client.bench.eca
NH=nat.bench.eca
API=$(free_port)
API2=$(free_port)
PEER=$(free_port)
BPORT=$(free_port)
"$MKCA" ca "$DIR/ca" --name "eca bench" >/dev/null || die "mkca.sh ca"

# conf NAME ROLE ADDRESS: DIR/NAME/ with certificate, key and eca.conf.
conf() {
	local name=$1 role=$2 addr=$3 d=$DIR/$1
	mkdir -p "$d/state"
	chmod 700 "$d/state"
	"$MKCA" leaf "$DIR/ca" "$name" --out "$d/host" >/dev/null || die "mkca.sh leaf $name"
	cat >"$d/eca.conf" <<EOF
CLIENT_NAME = $name
ROLE = $role
SERVER = $P 127.0.0.1:${4:-$API}
STATE_DIR = $d/state
ECA_CERT_PATH = $d/host.pem
ECA_PRIVATE_KEY_PATH = $d/host.key
ECA_TRUST_STORE_PATH = $DIR/ca/trust.pem
ECA_CRL_CHECK = DISABLE
LISTEN = $addr:$PEER
BROKER_LISTEN = 127.0.0.1:$BPORT
LOG_LEVEL = warn
PEER = $M 127.0.0.3:$PEER
CONSOLE_LISTEN = NO
EOF
}
# primary_conf NAME API: a primary's lines (its registry, sockets, bounds).
primary_conf() {
	cat >>"$DIR/$1/eca.conf" <<EOF
API_LISTEN = 127.0.0.1:$2
ECA_DB = sqlite:$DIR/$1/state/registry.db
CONTROL_SOCKET = $DIR/$1/state/ecad.sock
PID_FILE = $DIR/$1/state/ecad.pid
MAX_CONNECTIONS = $((N + 1000))
EOF
}
conf "$P" primary 127.0.0.2
primary_conf "$P" "$API"
conf "$M" media 127.0.0.3
conf "$C" client 127.0.0.5
conf "$NH" client 127.0.0.7
echo "NAT_CLIENT = YES" >>"$DIR/$NH/eca.conf"
# The baseline primary: the same, without sessions, its own registry.
mkdir -p "$DIR/base"
sed -e "s|$DIR/$P/state|$DIR/base/state|g" -e "s|127.0.0.1:$API\$|127.0.0.1:$API2|" \
    -e "s|127.0.0.2:$PEER|127.0.0.2:$(free_port)|" \
    -e "s|127.0.0.1:$BPORT|127.0.0.1:$(free_port)|" \
    "$DIR/$P/eca.conf" >"$DIR/base/eca.conf"
mkdir -p "$DIR/base/state" && chmod 700 "$DIR/base/state"

start() {
	local conf=$1 log=$2
	"$ECAD" -d -f "$conf" 2>"$log" >/dev/null &
	PIDS+=($!)
	for _ in $(seq 150); do
		grep -q 'ecad: ready' "$log" 2>/dev/null && return 0
		kill -0 "${PIDS[-1]}" 2>/dev/null || die "ecad ($conf) exited: $(tail -3 "$log")"
		sleep 0.1
	done
	die "ecad ($conf) not ready in 15 s"
}
start "$DIR/$P/eca.conf" "$DIR/$P/ecad.log"
PPID_=${PIDS[-1]}
start "$DIR/$M/eca.conf" "$DIR/$M/ecad.log"
for h in "$M" "$C" "$NH"; do
	timeout 30 "$ECA" -f "$DIR/$h/eca.conf" enroll >/dev/null || die "enroll $h"
done
start "$DIR/$NH/eca.conf" "$DIR/$NH/ecad.log"
for _ in $(seq 100); do
	timeout 10 "$ECA" -f "$DIR/$P/eca.conf" --json list --nat 2>/dev/null |
	    jq -e '.enrollments[0].online' >/dev/null && break
	sleep 0.1
done
timeout 10 "$ECA" -f "$DIR/$P/eca.conf" --json list --nat |
    jq -e '.enrollments[0].online' >/dev/null || die "the NAT host is not online"

echo "bench/nat: $(nproc) cores shared by the clients and every ecad; N = $N sessions"
echo
echo "==> 1. channel set-up: direct to $M vs reverse to NAT host $NH"
if [ "$SETUPS" -gt 0 ]; then
	timeout 600 "$BENCH" setup --config "$DIR/$C/eca.conf" --direct "$M" \
	    --nat "$NH" --n "$SETUPS" || die "bench_nat setup failed"
else
	echo "  skipped (BENCH_NAT_SETUPS=0)"
fi

echo
echo "==> 2. $N idle broker sessions of enrolled NAT hosts (first held by a bare mutual-TLS server: the baseline), then 10 heartbeats on each"
# Hosts h00000 .. h(N-1) hold the sessions (enrolled first, as NAT hosts
# are); h(N) .. h(N+E-1) enroll while they are held.
"$MINT" --ca "$DIR/ca" --out "$DIR/hosts" --count $((N + ENROLLS)) --prefix h \
    --domain bench.eca >/dev/null || die "minting the hosts' certificates failed"
# enroll_run API FIRST COUNT TAG [--nat]: COUNT enrollments of new hosts
# from h(FIRST), concurrency 8 (--nat: as NAT hosts, flagged in the
# registry, so that their broker sessions change nothing in it).
enroll_run() {
	timeout $((900 + $3 / 10)) "$ENROLL" --target "127.0.0.1:$1" --name "$P" \
	    --trust "$DIR/ca/trust.pem" --certs "$DIR/hosts" --first "$2" \
	    --n "$3" --concurrency 8 --mode enroll --json ${5:+"$5"} >"$DIR/enroll-$4.json" \
	    2>"$DIR/enroll-$4.err" || die "bench_enroll ($4) failed: $(tail -3 "$DIR/enroll-$4.err")"
}
t0=$(date +%s)
enroll_run "$API" 0 "$N" sessions --nat
echo "  enrolled the $N session hosts in $(($(date +%s) - t0)) s"
READY=$DIR/ready
timeout $((N / 20 + 900)) "$BENCH" sessions --target "127.0.0.1:$BPORT" \
    --trust "$DIR/ca/trust.pem" --certs "$DIR/hosts" --prefix h \
    --n "$N" --server-pid "$PPID_" --heartbeats 10 --hold 20 \
    --bare-cert "$DIR/$P/host.pem" --bare-key "$DIR/$P/host.key" \
    --ready "$READY" >"$DIR/sessions.out" 2>"$DIR/sessions.err" &
SPID=$!
PIDS+=("$SPID")
for _ in $(seq $((N / 10 + 600))); do
	[ -e "$READY" ] && break
	kill -0 "$SPID" 2>/dev/null || break
	sleep 0.5
done
[ -e "$READY" ] || die "bench_nat sessions failed: $(cat "$DIR/sessions.err")"
cat "$DIR/sessions.out"

echo
echo "==> 3. $ENROLLS enrollments while the $N sessions are held, and on a fresh primary without them"
enroll_run "$API" "$N" "$ENROLLS" with
wait "$SPID" || die "bench_nat sessions failed: $(cat "$DIR/sessions.err")"
tail -n 1 "$DIR/sessions.out"
start "$DIR/base/eca.conf" "$DIR/base/ecad.log"
enroll_run "$API2" "$N" "$ENROLLS" without
with=$(jq -r .ops_per_sec "$DIR/enroll-with.json")
without=$(jq -r .ops_per_sec "$DIR/enroll-without.json")
printf '  with %s sessions: %.1f enrollments/s (p99 %.1f ms, errors %s)\n' "$N" \
    "$with" "$(jq -r .p99_ms "$DIR/enroll-with.json")" "$(jq -r .errors "$DIR/enroll-with.json")"
printf '  without sessions: %.1f enrollments/s (p99 %.1f ms, errors %s)\n' \
    "$without" "$(jq -r .p99_ms "$DIR/enroll-without.json")" "$(jq -r .errors "$DIR/enroll-without.json")"
awk -v a="$with" -v b="$without" 'BEGIN { printf "  with / without: %.2f\n", a / b }'
