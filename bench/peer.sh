#!/bin/bash
# SPDX-License-Identifier: ISC
# bench/peer.sh BUILD - the channel benchmark (issue 3 section 10 (a), (c)).
#
# Starts a primary (ecad, API on 127.0.0.1) and a media server's ecad
# (peer listener on 127.0.0.3), enrolls the media server and a client
# (127.0.0.5's configuration) with the real `eca enroll`, then runs
# BUILD/bench/bench_peer from the client: channel setup + verdict against
# the media server's ecad versus a bare mutual-TLS server with the same
# certificates and TLS settings, and one bulk stream over a channel versus
# a raw TLS stream with the same cipher.  Prints each figure and the ratios.
#
# Environment: BENCH_PEER_N (setups of each kind, default 2000),
# BENCH_PEER_CONCURRENCY (8), BENCH_PEER_ROUNDS (alternating rounds, 10),
# BENCH_PEER_BYTES (stream size, default 1073741824 = 1 GiB),
# BENCH_PEER_EXTRA (configuration lines added to every host's eca.conf,
# e.g. "WORKERS = 4"), BENCH_PEER_CRL=1 (revocation checked on both sides:
# the hosts with ECA_CRL_CHECK = LEAF and the intermediate's CRL in
# ECA_CRL_PATH, the bare server and client with the same CRL in OpenSSL's
# handshake verification; default: ECA_CRL_CHECK = DISABLE on both),
# BENCH_PROFILE=1 (then one more round of N set-ups, with a 1 MiB
# stream, while perf samples the media server's ecad with call graphs;
# bench/profile.sh prints its CPU per set-up by phase).
# Everything started here is stopped on exit; every wait is bounded.
set -euo pipefail

prog="bench/peer.sh"
. "$(dirname "$0")/lib.sh"

[ $# -eq 1 ] || { echo "usage: $prog BUILD" >&2; exit 2; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "$1" 2>/dev/null && pwd) || die "build directory '$1' not found"
ECAD=$BUILD/src/daemon/ecad
ECA=$BUILD/src/cli/eca
BENCH=$BUILD/bench/bench_peer
MKCA=$ROOT/scripts/mkca.sh
N=${BENCH_PEER_N:-2000}
CONC=${BENCH_PEER_CONCURRENCY:-8}
ROUNDS=${BENCH_PEER_ROUNDS:-10}
BYTES=${BENCH_PEER_BYTES:-1073741824}
CRL=${BENCH_PEER_CRL:-0}
for f in "$ECAD" "$ECA" "$BENCH"; do
	[ -x "$f" ] || die "$f not built (ninja -C $BUILD)"
done

DIR=$(mktemp -d "${TMPDIR:-/tmp}/eca-bench-peer.XXXXXX")
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
API=$(free_port)
PEER=$(free_port)
"$MKCA" ca "$DIR/ca" --name "eca bench" >/dev/null || die "mkca.sh ca"
CRL_CONF="ECA_CRL_CHECK = DISABLE"
CRL_ARGS=()
if [ "$CRL" = 1 ]; then
	mkdir -p "$DIR/crl"
	"$MKCA" crl "$DIR/ca" --days 30 >/dev/null || die "mkca.sh crl"
	cp "$DIR/ca/inter.crl" "$DIR/crl/"
	CRL_CONF="ECA_CRL_CHECK = LEAF
ECA_CRL_PATH = $DIR/crl"
	CRL_ARGS=(--crl "$DIR/crl/inter.crl")
fi

# conf NAME ROLE ADDRESS: DIR/NAME/ with certificate, key and eca.conf.
conf() {
	local name=$1 role=$2 addr=$3 d=$DIR/$1
	mkdir -p "$d/state"
	chmod 700 "$d/state"
	"$MKCA" leaf "$DIR/ca" "$name" --out "$d/host" >/dev/null || die "mkca.sh leaf $name"
	cat >"$d/eca.conf" <<EOF
CLIENT_NAME = $name
ROLE = $role
SERVER = $P 127.0.0.1:$API
STATE_DIR = $d/state
ECA_CERT_PATH = $d/host.pem
ECA_PRIVATE_KEY_PATH = $d/host.key
ECA_TRUST_STORE_PATH = $DIR/ca/trust.pem
$CRL_CONF
LISTEN = $addr:$PEER
LOG_LEVEL = warn
${BENCH_PEER_EXTRA:-}
PEER = $M 127.0.0.3:$PEER
EOF
}
conf "$P" primary 127.0.0.2
cat >>"$DIR/$P/eca.conf" <<EOF
API_LISTEN = 127.0.0.1:$API
ECA_DB = sqlite:$DIR/$P/state/registry.db
CONTROL_SOCKET = $DIR/$P/state/ecad.sock
PID_FILE = $DIR/$P/state/ecad.pid
EOF
conf "$M" media 127.0.0.3
conf "$C" client 127.0.0.5

start() {
	local d=$DIR/$1
	"$ECAD" -d -f "$d/eca.conf" 2>"$d/ecad.log" >/dev/null &
	PIDS+=($!)
	for _ in $(seq 150); do
		grep -q 'ecad: ready' "$d/ecad.log" 2>/dev/null && return 0
		kill -0 "${PIDS[-1]}" 2>/dev/null || die "ecad of $1 exited: $(tail -3 "$d/ecad.log")"
		sleep 0.1
	done
	die "ecad of $1 not ready in 15 s"
}
start "$P"
start "$M"
MPID=${PIDS[-1]}
timeout 30 "$ECA" -f "$DIR/$M/eca.conf" enroll >/dev/null || die "enroll $M"
timeout 30 "$ECA" -f "$DIR/$C/eca.conf" enroll >/dev/null || die "enroll $C"
timeout 30 "$ECA" -f "$DIR/$C/eca.conf" ping "$M" >/dev/null || die "ping $M"

echo "bench/peer: $N channel setups at concurrency $CONC; a $BYTES-byte stream;" \
    "revocation $([ "$CRL" = 1 ] && echo "checked (LEAF)" || echo "not checked");" \
    "$(nproc) cores shared by the client, ecad and the bare server"
cpu_speeds
timeout 600 "$BENCH" --config "$DIR/$C/eca.conf" --peer "$M" \
    --server-config "$DIR/$M/eca.conf" --n "$N" --concurrency "$CONC" \
    --rounds "$ROUNDS" \
    --bytes "$BYTES" --server-pid "$MPID" ${CRL_ARGS[@]+"${CRL_ARGS[@]}"} ||
    die "bench_peer failed"
cpu_speeds "CPUs on their own after the rounds"

if [ "${BENCH_PROFILE:-0}" = 1 ]; then
	command -v perf >/dev/null || die "BENCH_PROFILE=1 needs perf (install-deps.sh bench)"
	ticks() { sed 's/^.*) //' "/proc/$MPID/stat" | awk '{ print $12 + $13 }'; }
	perf record -q --call-graph dwarf -F 499 -o "$DIR/perf-media.data" \
	    -p "$MPID" >/dev/null 2>"$DIR/perf-media.err" &
	PERF=$!
	PIDS+=("$PERF")
	sleep 0.5
	t0=$(ticks)
	timeout 600 "$BENCH" --config "$DIR/$C/eca.conf" --peer "$M" \
	    --server-config "$DIR/$M/eca.conf" --n "$N" --concurrency "$CONC" \
	    --rounds 1 --bytes 1048576 --server-pid "$MPID" \
	    ${CRL_ARGS[@]+"${CRL_ARGS[@]}"} >"$DIR/profile-run.txt" ||
	    die "bench_peer (profiled round) failed"
	t1=$(ticks)
	kill -INT "$PERF" 2>/dev/null || true
	wait "$PERF" 2>/dev/null || true
	# The round's server CPU over its set-ups (the 1 MiB stream is noise).
	ms=$(awk -v t=$((t1 - t0)) -v n="$N" -v hz="$(getconf CLK_TCK)" \
	    'BEGIN { printf "%.3f", t * 1000 / hz / n }')
	echo
	echo "==> BENCH_PROFILE: the media server's ecad, $N channel set-ups, $ms ms CPU per set-up"
	"$ROOT/bench/profile.sh" "$DIR/perf-media.data" "$ms"
fi
