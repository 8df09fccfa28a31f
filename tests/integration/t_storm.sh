#!/bin/bash
# SPDX-License-Identifier: ISC
# Many hosts enrolling at once: every one is acknowledged and recorded, and
# the writer groups them into fewer commits than enrollments.
#
# Storm control (docs/storm-control.md): a second primary with low caps
# (MAX_HANDSHAKES, MAX_PENDING_ENROLLMENTS) takes ECA_IT_STORM_HOSTS
# (default 2000) first enrollments at once from bench_enroll --retry at
# concurrency ECA_IT_STORM_CONC (default 500): 429 BUSY answers really
# happen, and every host still ends ENROLLED exactly once.  Then ~50
# concurrent `eca enroll` processes meet a primary whose handshake slots
# are all held, so each is answered 429 and gets through by the CLI's own
# retry.  The host certificates are minted in-process by bench/mintcerts
# (thousands per second) into this run's directory before any timed case,
# so no cache of an earlier run is needed and none can be stale.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

P=primary1.it.test
ADMIN=admin.it.test
N=${ECA_IT_STORM:-24}
SN=${ECA_IT_STORM_HOSTS:-2000}
SCONC=${ECA_IT_STORM_CONC:-500}
SCLI=${ECA_IT_STORM_CLI:-50}
SP=primary.bench.eca
SHS=${ECA_IT_STORM_HANDSHAKES:-128}	# MAX_HANDSHAKES of the storm primary
BENCH=$BUILD/bench/bench_enroll
MINT=$BUILD/bench/mintcerts
SCERTS=$T/storm-certs

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

# hNNNNN.bench.eca certificates 0..SN+SCLI-1 and the primary's, signed by
# a CA of their own: two openssl runs for the CA and the primary, then one
# mintcerts process for every host.
make_storm_certs() {
	local t0 t1
	t0=$(date +%s.%N)
	"$MKCA" ca "$SCERTS/ca" --name "eca storm" >/dev/null || return 1
	"$MKCA" leaf "$SCERTS/ca" "$SP" --out "$SCERTS/primary" >/dev/null || return 1
	"$MINT" --ca "$SCERTS/ca" --out "$SCERTS" --count $((SN + SCLI)) \
	    --prefix h --domain bench.eca || return 1
	t1=$(date +%s.%N)
	echo "# minted $((SN + SCLI)) host certificates in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"
}

# stats of the storm primary (control socket): $OUT is the JSON.
storm_stats() {
	run_cmd curl -sS --max-time 10 --unix-socket \
	    "${P_DIR[$SP]}/state/ecad.sock" http://localhost/v1/stats
}

c_storm_setup() {
	[ -x "$BENCH" ] || { fail "$BENCH not built"; return 1; }
	[ -x "$MINT" ] || { fail "$MINT not built"; return 1; }
	make_storm_certs || { fail "cannot make the storm certificates"; return 1; }
	make_primary "$SP" "MAX_HANDSHAKES = $SHS" \
	    "MAX_PENDING_ENROLLMENTS = 32" "MAX_CONNECTIONS_PER_SOURCE = 100000" \
	    "LOG_LEVEL = warn" || return
	# The storm CA's trust store and the primary's cached certificate.
	sed -i -e "s|^ECA_CERT_PATH = .*|ECA_CERT_PATH = $SCERTS/primary.pem|" \
	    -e "s|^ECA_PRIVATE_KEY_PATH = .*|ECA_PRIVATE_KEY_PATH = $SCERTS/primary.key|" \
	    -e "s|^ECA_TRUST_STORE_PATH = .*|ECA_TRUST_STORE_PATH = $SCERTS/ca/trust.pem|" \
	    -e "/^LOG_LEVEL = debug/d" "${P_CONF[$SP]}" || return
	start_primary "$SP" || return
	primary_eca "$SP" --json list
	expect_rc 0
}

c_storm_bench() {
	local t0 t1 busy commits
	t0=$(date +%s.%N)
	# Not run_cmd: its bound is for one command, not a storm.
	timeout -k 5 150 "$BENCH" --target "127.0.0.1:${P_PORT[$SP]}" \
	    --name "$SP" --trust "$SCERTS/ca/trust.pem" --certs "$SCERTS" \
	    --n "$SN" --concurrency "$SCONC" --mode enroll --retry \
	    --timeout 30000 --json >"$T/bench.json" 2>"$T/bench.err"
	RC=$? LAST_CMD="bench_enroll --n $SN --concurrency $SCONC --retry"
	OUT=$(cat "$T/bench.json") ERR=$(cat "$T/bench.err")
	t1=$(date +%s.%N)
	expect_rc 0 || return
	STORM_BENCH=$OUT
	storm_stats
	busy=$(jq -r .busy_replies <<<"$OUT")
	commits=$(jq -r .commits <<<"$OUT")
	echo "# storm: $SN hosts at concurrency $SCONC in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s;" \
	    "429 BUSY answers: $busy (bench saw $(jq -r .busy <<<"$STORM_BENCH")); group commits: $commits;" \
	    "$(jq -r .ops_per_sec <<<"$STORM_BENCH") enrollments/s"
	expect_json .errors 0 "$STORM_BENCH" || return
	expect_json .ok "$SN" "$STORM_BENCH" || return
	expect_json .created "$SN" "$STORM_BENCH" || return
	# The workers share the burst and a busier one takes one connection
	# per turn, so on loopback it mostly waits in the kernel's queue and
	# few or no caps are reached; every 429 sent was one the callers saw
	# and retried.
	expect_json .busy_replies "$(jq -r .busy <<<"$STORM_BENCH")" || return
	expect_json '.commits < .enrollments_written' true
}

c_storm_registry() {
	local q="FROM enrollments WHERE host LIKE 'h%.bench.eca'"
	expect_db "SELECT count(*) $q" "$SN" "$SP" || return
	expect_db "SELECT count(*) $q AND state='ENROLLED'" "$SN" "$SP" || return
	expect_db "SELECT count(DISTINCT host_id) $q" "$SN" "$SP" || return
	expect_db "SELECT count(DISTINCT fingerprint) $q" "$SN" "$SP" || return
	expect_db "SELECT count(*) FROM history WHERE event='ENROLL'" "$SN" "$SP" || return
	expect_db "SELECT count(*) FROM (SELECT host FROM history WHERE event='ENROLL' GROUP BY host HAVING count(*) = 1)" "$SN" "$SP" || return
	expect_db "SELECT count(*) FROM history WHERE event<>'ENROLL'" 0 "$SP"
}

# Every handshake slot is held by a connection that says nothing, so the
# eca processes are answered 429; once $SCLI 429s went out the slots are
# freed and every eca gets through by its own retry (Retry-After plus
# jitter).
c_storm_cli() {
	local i h d pids=() fds=() bad=0 busy0 busy1 fd
	storm_stats
	busy0=$(jq -r .busy_replies <<<"$OUT")
	for ((i = SN; i < SN + SCLI; i++)); do
		h=$(printf "h%05d.bench.eca" "$i")
		make_host "$h" --server "$SP" --no-cert --trust "$SCERTS/ca/trust.pem" || return
		d=$(host_dir "$h")
		install -m 600 "$SCERTS/${h%.bench.eca}.pem" "$d/cert.pem" || return
		install -m 600 "$SCERTS/${h%.bench.eca}.key" "$d/key.pem" || return
	done
	for ((i = 0; i < SHS; i++)); do
		exec {fd}<>"/dev/tcp/127.0.0.1/${P_PORT[$SP]}" || { fail "cannot hold a handshake slot"; return 1; }
		fds+=("$fd")
	done
	sleep 0.5
	for ((i = SN; i < SN + SCLI; i++)); do
		h=$(printf "h%05d.bench.eca" "$i")
		timeout 90 "$ECA" -f "$(host_dir "$h")/eca.conf" enroll \
		    >"$T/$h.out" 2>&1 &
		pids+=($!)
	done
	# Hold the slots until the crowd has been told 429 (bounded).
	for ((i = 0; i < 200; i++)); do
		storm_stats
		busy1=$(jq -r .busy_replies <<<"$OUT")
		[ $((busy1 - busy0)) -ge "$SCLI" ] && break
		sleep 0.1
	done
	for fd in "${fds[@]}"; do
		exec {fd}>&-
	done
	for i in "${!pids[@]}"; do
		if ! wait "${pids[$i]}"; then
			bad=$((bad + 1))
			echo "# eca $i: $(head -c 300 "$T/$(printf "h%05d.bench.eca" $((SN + i))).out")"
		fi
	done
	storm_stats
	busy1=$(jq -r .busy_replies <<<"$OUT")
	echo "# $SCLI concurrent eca enroll: $((busy1 - busy0)) 429 BUSY answers, $bad failed"
	expect_eq "$bad" 0 "the number of failed eca enroll processes" || return
	expect_eq "$((busy1 - busy0 >= SCLI))" 1 "every eca was answered 429 at least once ($((busy1 - busy0)) 429s)" || return
	expect_db "SELECT count(*) FROM enrollments WHERE state='ENROLLED'" $((SN + SCLI)) "$SP" || return
	expect_db "SELECT count(*) FROM history WHERE event='ENROLL'" $((SN + SCLI)) "$SP"
}

run_case "ecad starts and $N hosts are made" c_setup
[ "$IT_FAILED" = 0 ] || exit 1
run_case "$N hosts enrolling at once are all acknowledged and recorded" c_storm
run_case "the stats count every enrollment written and no more commits than enrollments" c_stats_count
run_case "a primary with low storm caps starts ($SN + $SCLI host certificates minted for it)" c_storm_setup
run_case "$SN first enrollments at once at concurrency $SCONC: none lost, every 429 retried, all enrolled" c_storm_bench
run_case "after the storm: $SN rows, $SN distinct host IDs, exactly one ENROLL per host, nothing else" c_storm_registry
run_case "$SCLI concurrent eca enroll answered 429 all get through by the CLI's retry" c_storm_cli
