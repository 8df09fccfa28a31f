#!/bin/bash
# SPDX-License-Identifier: ISC
# The peer listener under load from one hostile address (docs/hardening.md,
# "The peer listener"): thousands of silent TCP connections and dozens of
# HELLOs asking for an auto-enrollment wait with one valid certificate that
# is not enrolled, all from 127.0.0.7, while a legitimate host pings the
# media server from 127.0.0.1 (eca ping does not bind; the kernel gives
# it 127.0.0.1).  The ping must succeed; its time is printed.
#
#   primary.flood.test  API 127.0.0.1
#   media.flood.test    peer listener 127.0.0.1:LPORT (defaults for the caps)
#   good.flood.test     enrolled, pings the media server
#   evil.flood.test     certificate from the domain's CA, never enrolled
# Sizes: ECA_IT_FLOOD_SILENT (4200), ECA_IT_FLOOD_HELLOS (80).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

P=primary.flood.test
M=media.flood.test
G=good.flood.test
E=evil.flood.test
LPORT=""
FLOOD=$T/flood.py
SILENT=${ECA_IT_FLOOD_SILENT:-4200}
HELLOS=${ECA_IT_FLOOD_HELLOS:-80}
FLOOD_PIDS=()

# flood.py PORT MODE N STOPFILE [CERT KEY HOST PRIMARY]: from 127.0.0.7.
# silent: N TCP connections that never send a byte, held until STOPFILE
# exists (at most 60 s).  hello: N TLS connections that each send a client
# HELLO asking for auto-enrollment and read the verdict, again and again
# (0.2 s apart) until STOPFILE exists; prints "code COUNT" per verdict code.
write_flood() {
	cat >"$FLOOD" <<'EOF'
import json, os, resource, socket, ssl, struct, sys, threading, time
port, mode, n, stop = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
SRC = ("127.0.0.7", 0)
deadline = time.time() + 60
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
def stopped():
    return os.path.exists(stop) or time.time() > deadline
if mode == "silent":
    socks, opened = [], 0
    for i in range(n):
        if stopped():
            break
        s = socket.socket()
        s.bind(SRC)
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", port))
            opened += 1
        except OSError:
            s.close()
            continue
        socks.append(s)
    print("opened", opened, flush=True)
    while not stopped():
        time.sleep(0.1)
    sys.exit(0)
cert, key, host, primary = sys.argv[5:9]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.load_cert_chain(cert, key)
codes, lock = {}, threading.Lock()
def count(c):
    with lock:
        codes[c] = codes.get(c, 0) + 1
def recv_exact(s, k):
    b = b""
    while len(b) < k:
        d = s.recv(k - len(b))
        if not d:
            return None
        b += d
    return b
def one():
    raw = socket.socket()
    raw.bind(SRC)
    raw.settimeout(15)
    try:
        raw.connect(("127.0.0.1", port))
        s = ctx.wrap_socket(raw)
        h = recv_exact(s, 4)
        if h is None or recv_exact(s, struct.unpack(">I", h)[0]) is None:
            count("closed"); return
        m = json.dumps({"v": 1, "host": host, "role": "client",
                        "primary": primary, "purpose": "ping",
                        "cert": True, "auto": True}).encode()
        s.sendall(struct.pack(">I", len(m)) + m)
        h = recv_exact(s, 4)
        if h is None:
            count("closed"); return
        count(json.loads(recv_exact(s, struct.unpack(">I", h)[0]))["code"])
    except (OSError, ValueError):
        count("closed")
    finally:
        raw.close()
def loop():
    while not stopped():
        one()
        time.sleep(0.2)
print("started", flush=True)
ts = [threading.Thread(target=loop) for i in range(n)]
for t in ts:
    t.start()
for t in ts:
    t.join()
for c in sorted(codes):
    print("code", c, codes[c])
EOF
}

flood() {
	python3 "$FLOOD" "$LPORT" "$@" >>"$T/flood.$1.out" 2>&1 &
	FLOOD_PIDS+=("$!")
}

flood_stop() {
	local p
	touch "$T/stop"
	for p in "${FLOOD_PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	FLOOD_PIDS=()
	rm -f "$T/stop"
}

# ping_timed: `eca ping M` from G; its wall time in PING_S.
ping_timed() {
	local t0 t1
	t0=$(date +%s.%N)
	host_eca "$G" ping "$M"
	t1=$(date +%s.%N)
	PING_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
}

# The ping under a flood succeeded, in well under 10 s (a sanity bound
# only, below the 15 s a judge used to be held for: the machines running
# the tests are noisy; on an idle machine it takes well under a second).
expect_ping_ok() {
	echo "# $1: eca ping took ${PING_S}s (exit $RC)"
	expect_rc 0 || return
	expect_match "$OUT" "verdict: ACCEPTED" "eca ping's output" || return
	awk -v s="$PING_S" 'BEGIN { exit !(s < 10) }' ||
	    { fail "eca ping took ${PING_S}s under the flood"; return 1; }
}

c_setup() {
	write_flood
	LPORT=$(free_port) || return
	start_primary "$P" || return
	make_host "$M" --server "$P" || return
	set_conf "$(host_dir $M)/eca.conf" ROLE media
	echo "LISTEN = 127.0.0.1:$LPORT" >>"$(host_dir $M)/eca.conf"
	host_eca "$M" enroll
	expect_rc 0 || return
	start_host "$M" || return
	make_host "$G" --server "$P" --conf "PEER = $M 127.0.0.1:$LPORT" ||
	    return
	host_eca "$G" enroll
	expect_rc 0 || return
	make_host "$E" --server "$P" || return
	ping_timed
	expect_ping_ok "idle"
}

c_silent_flood() {
	flood silent "$SILENT" "$T/stop"
	wait_started silent || return
	echo "# silent flood: $(cat "$T/flood.silent.out")"
	ping_timed
	flood_stop
	expect_ping_ok "$SILENT silent connections from 127.0.0.7" || return
	expect_match "$(cat "$(host_dir $M)/ecad.log")" \
	    "peer connection from 127.0.0.7 refused: .*PEER_MAX_CONNECTIONS_PER_SOURCE" \
	    "the media's log"
}

# wait_started MODE: the flood of MODE has begun (bounded: 30 s).
wait_started() {
	local i
	for ((i = 0; i < 300; i++)); do
		grep -Eq "opened|started" "$T/flood.$1.out" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "the $1 flood did not start: $(cat "$T/flood.$1.out")"
	return 1
}

c_hello_flood() {
	flood hello "$HELLOS" "$T/stop" "$(host_dir $E)/cert.pem" \
	    "$(host_dir $E)/key.pem" "$E" "$P"
	wait_started hello || return
	# Let the HELLOs reach the judges first.
	sleep 1
	ping_timed
	flood_stop
	echo "# hello flood verdicts: $(grep code "$T/flood.hello.out" | tr '\n' ' ')"
	expect_ping_ok "$HELLOS HELLOs waiting for an enrollment from 127.0.0.7" ||
	    return
	expect_match "$(cat "$T/flood.hello.out")" "code BUSY [0-9]+" \
	    "the flood's verdicts (excess waits refused BUSY)"
}

c_both_floods() {
	: >"$T/flood.silent.out"
	: >"$T/flood.hello.out"
	flood silent "$SILENT" "$T/stop"
	flood hello "$HELLOS" "$T/stop" "$(host_dir $E)/cert.pem" \
	    "$(host_dir $E)/key.pem" "$E" "$P"
	wait_started silent || return
	wait_started hello || return
	sleep 1
	ping_timed
	flood_stop
	expect_ping_ok "both floods from 127.0.0.7" || return
	kill -0 "${H_PID[$M]}" 2>/dev/null || { fail "the media's ecad died"; return; }
	# Everything is given back: a second ping works as before.
	ping_timed
	expect_ping_ok "after the floods"
}

run_case "a media server and an enrolled host answer a ping" c_setup
[ "$IT_FAILED" = 0 ] || exit 1
run_case "$SILENT silent connections from one address do not stop a ping from another" \
    c_silent_flood
run_case "$HELLOS HELLOs waiting for one unenrolled certificate's enrollment do not hold the judges: a ping gets through, the excess is refused BUSY" \
    c_hello_flood
run_case "under both floods at once a legitimate ping still succeeds" c_both_floods
