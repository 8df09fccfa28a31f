#!/bin/bash
# SPDX-License-Identifier: ISC
# Hostile clients: slow and stalled clients time out within REQUEST_TIMEOUT
# however they trickle (slowloris), one source address cannot hold more
# than MAX_CONNECTIONS_PER_SOURCE connections, an over-long chain and an
# oversized certificate message are refused, and the primary keeps serving
# everyone else throughout.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

P=primary1.it.test
TIMEOUT=3
PERSRC=4
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

# The slow client: TLS to the primary with a client certificate, then
# MODE: "trickle" sends one request a byte every DELAY seconds; "keepalive"
# sends one whole request, reads the reply, then trickles a second one;
# "stall" sends nothing.  Prints "served SECONDS" or "closed SECONDS"
# (seconds from the TCP connect to the outcome) and the replies seen.
cat >"$T/slow.py" <<'EOF'
import socket, ssl, sys, time
port, ca, cert, key, mode, delay = sys.argv[1:7]
delay = float(delay)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(ca)
ctx.check_hostname = False
ctx.load_cert_chain(cert, key)
req = (b"GET /v1/health HTTP/1.1\r\nHost: primary\r\n"
       b"X-Slow: abcdefghijklmnopqrstuvwxyz\r\n\r\n")
t0 = time.time()
raw = socket.create_connection(("127.0.0.1", int(port)))
replies = 0
def read_reply(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(4096)
        if not d:
            raise EOFError("closed")
        buf += d
    return buf
try:
    s = ctx.wrap_socket(raw)
    if mode == "keepalive":
        s.sendall(req)
        read_reply(s)
        replies += 1
    if mode == "stall":
        s.settimeout(60)
        d = s.recv(1)
        raise EOFError("closed")
    for b in req:
        s.send(bytes([b]))
        time.sleep(delay)
    s.settimeout(30)
    read_reply(s)
    replies += 1
    print("served %.1f replies %d" % (time.time() - t0, replies))
except Exception as e:
    print("closed %.1f replies %d (%s)" % (time.time() - t0, replies,
        type(e).__name__))
EOF

c_setup() {
	start_primary "$P" "REQUEST_TIMEOUT = $TIMEOUT" \
	    "MAX_CONNECTIONS_PER_SOURCE = $PERSRC" || return
	make_host h1.it.test --server "$P" || return
}

# slow MODE DELAY: runs slow.py; sets SLOW to its output line.
slow() {
	local d
	d=$(host_dir h1.it.test)
	SLOW=$(timeout 90 "$PY" "$T/slow.py" "${P_PORT[$P]}" "$CA/trust.pem" \
	    "$d/cert.pem" "$d/key.pem" "$1" "$2" 2>&1)
}

# within SECONDS LIMIT: SECONDS (a decimal) <= LIMIT.
within() {
	awk -v s="$1" -v l="$2" 'BEGIN { exit !(s <= l) }'
}

c_trickle() {
	local secs
	# 59 bytes at 0.4 s: each byte well within the 3 s read timeout,
	# the whole request ~24 s.
	slow trickle 0.4
	expect_match "$SLOW" '^closed ' "the trickling client's outcome" || return
	secs=$(awk '{ print $2 }' <<<"$SLOW")
	within "$secs" $((TIMEOUT + 2)) ||
	    { fail "the trickling client was cut after ${secs}s, expected within $((TIMEOUT + 2))s"; return; }
	expect_match "$(cat "${P_DIR[$P]}/ecad.log")" \
	    'no complete request within REQUEST_TIMEOUT' "ecad's log"
}

c_stall() {
	local secs
	slow stall 0
	expect_match "$SLOW" '^closed ' "the stalled client's outcome" || return
	secs=$(awk '{ print $2 }' <<<"$SLOW")
	within "$secs" $((TIMEOUT + 2)) ||
	    fail "the stalled client was cut after ${secs}s, expected within $((TIMEOUT + 2))s"
}

c_keepalive_trickle() {
	local secs
	slow keepalive 0.4
	expect_match "$SLOW" '^closed .* replies 1 ' "the kept-alive client's outcome" || return
	secs=$(awk '{ print $2 }' <<<"$SLOW")
	within "$secs" $((TIMEOUT + 3)) ||
	    fail "the second, trickled request was cut after ${secs}s, expected within $((TIMEOUT + 3))s"
}

c_slow_but_in_time() {
	# The control: the same trickle that ends within the deadline is served.
	slow trickle 0
	expect_match "$SLOW" '^served .* replies 1' "a quick client's outcome"
}

# A TCP connection from 127.0.0.1 that sends nothing; its fd is in HOLD.
declare -a HOLD=()
hold_one() {
	local fd
	exec {fd}<>"/dev/tcp/127.0.0.1/${P_PORT[$P]}" || return 1
	HOLD+=("$fd")
}
release_all() {
	local fd
	for fd in "${HOLD[@]}"; do
		exec {fd}>&-
	done
	HOLD=()
}

health_from() {
	run_cmd curl -sS --max-time 5 -o /dev/null -w '%{http_code}' \
	    --interface "$1" --cacert "$CA/trust.pem" \
	    --resolve "$P:${P_PORT[$P]}:127.0.0.1" \
	    "https://$P:${P_PORT[$P]}/v1/health"
}

c_per_source_cap() {
	local i
	for ((i = 0; i < PERSRC; i++)); do
		hold_one || { fail "cannot open connection $i"; release_all; return; }
	done
	sleep 0.3
	health_from 127.0.0.1
	if [ "$OUT" = 200 ]; then
		fail "a connection over MAX_CONNECTIONS_PER_SOURCE = $PERSRC was served"
		release_all
		return
	fi
	# Another source address is not affected.
	health_from 127.0.0.2
	if [ "$OUT" != 200 ]; then
		fail "GET /v1/health from 127.0.0.2 answered '$OUT' (curl exit $RC: $ERR) while 127.0.0.1 was at its cap"
		release_all
		return
	fi
	release_all
	expect_match "$(cat "${P_DIR[$P]}/ecad.log")" \
	    'connection from 127.0.0.1 refused: .*MAX_CONNECTIONS_PER_SOURCE is 4' \
	    "ecad's log" || return
	# Closed connections give their places back.
	for ((i = 0; i < 20; i++)); do
		health_from 127.0.0.1
		[ "$OUT" = 200 ] && break
		sleep 0.2
	done
	expect_eq "$OUT" 200 "GET /v1/health from 127.0.0.1 after the held connections closed"
}

c_within_cap_served() {
	local i pids=() bad=0
	# As many parallel requests as the cap, from one address: all served.
	for ((i = 0; i < PERSRC; i++)); do
		curl -sS --max-time 10 -o /dev/null -w '%{http_code}\n' \
		    --cacert "$CA/trust.pem" \
		    --resolve "$P:${P_PORT[$P]}:127.0.0.1" \
		    "https://$P:${P_PORT[$P]}/v1/health" >"$T/par.$i" 2>&1 &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}"
		[ "$(cat "$T/par.$i")" = 200 ] || bad=$((bad + 1))
	done
	expect_eq "$bad" 0 "the number of refused requests among $PERSRC parallel ones"
}

c_long_chain() {
	local d
	d=$(host_dir h1.it.test)
	# The leaf, then its intermediate eleven times: more than ECA_CHAIN_MAX.
	{
		openssl x509 -in "$d/cert.pem"
		for _ in 1 2 3 4 5 6 7 8 9 10 11; do cat "$CA/inter.pem"; done
	} >"$T/long.pem"
	primary_curl "$P" - POST /v1/enrollments --cert "$T/long.pem" \
	    --key "$d/key.pem" \
	    --data '{"host":"h1.it.test","precheck":false,"force":false}'
	expect_http 422 || return
	expect_json .error.code BAD_CERTIFICATE || return
	expect_match "$(jq -r .error.message <<<"$OUT")" 'more than 10 certificates' \
	    "the refusal" || return
	expect_db "SELECT count(*) FROM enrollments WHERE host='h1.it.test'" 0
}

# padded_leaf NAME BYTES: T/NAME/cert.pem (leaf + intermediate) and key.pem,
# the leaf carrying BYTES of padding in a non-critical extension.
padded_leaf() {
	local name=$1 n=$2 d=$T/$1 pad
	mkdir -p "$d"
	pad=$(head -c "$n" /dev/zero | tr '\0' a)
	printf '[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = x\n[ext]\nbasicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\nextendedKeyUsage = serverAuth, clientAuth\nsubjectAltName = DNS:%s\n1.3.6.1.4.1.55555.9 = ASN1:UTF8String:%s\n' \
	    "$name" "$pad" >"$d/cnf"
	openssl req -config "$d/cnf" -x509 -new -noenc -newkey ec \
	    -pkeyopt ec_paramgen_curve:P-256 -keyout "$d/key.pem" \
	    -out "$d/leaf.pem" -CA "$CA/inter.pem" -CAkey "$CA/inter.key" \
	    -subj "/CN=$name" -days 30 -sha256 -extensions ext \
	    2>"$d/err" || { fail "cannot make the padded leaf $name: $(cat "$d/err")"; return 1; }
	cat "$d/leaf.pem" "$CA/inter.pem" >"$d/cert.pem"
}

c_big_cert_message_under_bound() {
	# The control: 20 KiB of padding is within the bound and enrolls.
	padded_leaf big.it.test 20480 || return
	primary_curl "$P" - POST /v1/enrollments --cert "$T/big.it.test/cert.pem" \
	    --key "$T/big.it.test/key.pem" \
	    --data '{"host":"big.it.test","precheck":false,"force":false}'
	expect_http 201 || return
	expect_db "SELECT count(*) FROM enrollments WHERE host='big.it.test'" 1
}

c_huge_cert_message() {
	# 80 KiB of padding: the Certificate message is over the 64 KiB
	# bound (and under OpenSSL's default of 100 KiB).
	padded_leaf huge.it.test 81920 || return
	primary_curl "$P" - POST /v1/enrollments --cert "$T/huge.it.test/cert.pem" \
	    --key "$T/huge.it.test/key.pem" \
	    --data '{"host":"huge.it.test","precheck":false,"force":false}'
	if [ "$RC" = 0 ]; then
		fail "a ~80 KiB certificate message was accepted (HTTP $HTTP: $OUT)"
		return
	fi
	expect_db "SELECT count(*) FROM enrollments WHERE host='huge.it.test'" 0
}

c_still_serving() {
	host_eca h1.it.test enroll
	expect_rc 0 || return
	expect_db "SELECT count(*) FROM enrollments WHERE host='h1.it.test' AND state='ENROLLED'" 1 || return
	kill -0 "${P_PID[$P]}" 2>/dev/null || fail "ecad is not running any more"
}

run_case "ecad starts with REQUEST_TIMEOUT = $TIMEOUT and MAX_CONNECTIONS_PER_SOURCE = $PERSRC" c_setup
[ "$IT_FAILED" = 0 ] || exit 1
run_case "a client trickling its headers a byte at a time is cut within REQUEST_TIMEOUT" c_trickle
run_case "a client that completes TLS and sends nothing is cut within REQUEST_TIMEOUT" c_stall
run_case "a second request trickled on a kept-alive connection is cut within REQUEST_TIMEOUT" c_keepalive_trickle
run_case "a client that sends its request within REQUEST_TIMEOUT is served" c_slow_but_in_time
run_case "a source over MAX_CONNECTIONS_PER_SOURCE is refused while another source is served" c_per_source_cap
run_case "as many parallel requests from one source as the cap are all served" c_within_cap_served
run_case "a chain of more than ECA_CHAIN_MAX certificates is refused with 422 BAD_CERTIFICATE" c_long_chain
run_case "a certificate message of 20 KiB is within the bound and enrolls" c_big_cert_message_under_bound
run_case "a certificate message over 64 KiB is refused in the handshake and writes nothing" c_huge_cert_message
run_case "after all of them a host still enrolls" c_still_serving
