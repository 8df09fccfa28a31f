#!/bin/bash
# SPDX-License-Identifier: ISC
# Peers that leave in the middle of a request lose nothing and break
# nothing.  A raw TLS client (python3's ssl) sends many enrollments to the
# primary and leaves before the reply: right after the body (FIN, RST, or
# a TLS close_notify), or half-way through the body.  Afterwards the
# primary is healthy and its log shows no crash and no sanitizer report,
# every such host is either fully enrolled (row, history and audit line
# with its certificate) or entirely absent, a host that never sent its
# whole body is absent, and every host enrolls normally when it retries.
# The same for a host's peer listener: clients that leave after the TLS
# handshake, after the server's HELLO, in the middle of their HELLO frame,
# or right after it (before the VERDICT).
#
# Everything runs against the plain build's ecad and, when
# ECA_IT_ASAN_BUILD names a build with AddressSanitizer (run-tests.sh sets
# it), again against that build's ecad, whose log must then hold no
# AddressSanitizer, LeakSanitizer or UBSan report once it has exited.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

P=primary.disc.it.test
M=media.disc.it.test
HC=client.disc.it.test
N=${ECA_IT_DISCONNECT_N:-64}
C=$T/certs
RAW=$T/raw.py
LPORT=""
PLAIN_ECAD=$ECAD
ASAN_ECAD=""
if [ -n "${ECA_IT_ASAN_BUILD:-}" ] &&
    [ -x "$ECA_IT_ASAN_BUILD/src/daemon/ecad" ]; then
	ASAN_ECAD=$(cd "$ECA_IT_ASAN_BUILD" && pwd)/src/daemon/ecad
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

# N host certificates sharing one key (as t_crash.sh): C/HOST.pem (leaf +
# intermediate), C/HOST.fp, C/hosts.
make_certs() {
	local i h
	mkdir -p "$C"
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	    -out "$C/key.pem" 2>/dev/null || return 1
	chmod 600 "$C/key.pem"
	printf '[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = x\n' >"$C/req.cnf"
	for ((i = 0; i < N; i++)); do
		h=$(printf 'd%03d.disc.it.test' "$i")
		echo "$h" >>"$C/hosts"
		openssl req -config "$C/req.cnf" -x509 -new -key "$C/key.pem" \
		    -CA "$CA/inter.pem" -CAkey "$CA/inter.key" -subj "/CN=$h" \
		    -days 30 -sha256 \
		    -addext "basicConstraints = critical, CA:FALSE" \
		    -addext "keyUsage = critical, digitalSignature" \
		    -addext "extendedKeyUsage = serverAuth, clientAuth" \
		    -addext "subjectAltName = DNS:$h" -out "$C/$h.leaf" \
		    2>>"$C/err" || return 1
		cat "$C/$h.leaf" "$CA/inter.pem" >"$C/$h.pem"
		cert_fp "$C/$h.leaf" >"$C/$h.fp"
	done
}

# raw.py api PORT SNI TRUST CERTDIR KEY MODE HOST...: one connection per
# host to the API, leaving as MODE says (body-fin, body-rst, body-notify,
# half-body).  raw.py peer PORT CERT KEY MODE PRIMARY HOST: one connection
# to a peer listener (tls, hello, half-frame, after-hello, after-hello-rst,
# full).  Prints one line per connection.
write_raw() {
	cat >"$RAW" <<'EOF'
import json, socket, ssl, struct, sys

def connect(port, cert, key, sni=None, cafile=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    if cafile:
        ctx.load_verify_locations(cafile)
    else:
        ctx.verify_mode = ssl.CERT_NONE
    ctx.load_cert_chain(cert, key)
    raw = socket.create_connection(("127.0.0.1", port), timeout=20)
    return raw, ctx.wrap_socket(raw, server_hostname=sni)

def rst(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

def leave(raw, s, how):
    if how == "rst":
        rst(s)
    elif how == "notify":
        try:
            s.unwrap()
        except (OSError, ssl.SSLError):
            pass
    s.close()

def api(port, sni, trust, certdir, key, mode, hosts):
    for h in hosts:
        body = json.dumps({"host": h, "precheck": False, "force": False}).encode()
        head = ("POST /v1/enrollments HTTP/1.1\r\nHost: %s:%d\r\n"
                "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                % (sni, port, len(body))).encode()
        raw, s = connect(port, "%s/%s.pem" % (certdir, h), key, sni, trust)
        if mode == "half-body":
            s.sendall(head + body[: len(body) // 2])
            leave(raw, s, "fin")
        else:
            s.sendall(head + body)
            leave(raw, s, mode.split("-")[1])
        print(h, mode)

def frame(s):
    b = b""
    while len(b) < 4:
        d = s.recv(4 - len(b))
        if not d:
            return None
        b += d
    n = struct.unpack(">I", b)[0]
    m = b""
    while len(m) < n:
        d = s.recv(n - len(m))
        if not d:
            return None
        m += d
    return json.loads(m)

def peer(port, cert, key, mode, primary, host):
    raw, s = connect(port, cert, key)
    if mode == "tls":
        leave(raw, s, "fin"); print("left after tls"); return
    hello = frame(s)
    if mode == "hello":
        leave(raw, s, "fin"); print("left after hello", hello["host"]); return
    m = json.dumps({"v": 1, "host": host, "role": "client", "primary": primary,
                    "purpose": "ping", "cert": True}).encode()
    f = struct.pack(">I", len(m)) + m
    if mode == "half-frame":
        s.sendall(f[: len(f) // 2]); leave(raw, s, "fin"); print("left mid-frame"); return
    s.sendall(f)
    if mode == "after-hello":
        leave(raw, s, "fin"); print("left before verdict"); return
    if mode == "after-hello-rst":
        leave(raw, s, "rst"); print("left before verdict"); return
    v = frame(s)
    print("verdict", v["accept"], v["code"])
    s.sendall(struct.pack(">I", 9) + b'{"n":42}\n')
    e = frame(s)
    print("echo", e["n"])
    leave(raw, s, "notify")

if sys.argv[1] == "api":
    api(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6],
        sys.argv[7], sys.argv[8:])
else:
    peer(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6],
         sys.argv[7])
EOF
}

# sanitizer_clean LOG WHAT: no crash or sanitizer report in an ecad log.
sanitizer_clean() {
	local bad
	bad=$(grep -E 'AddressSanitizer|LeakSanitizer|runtime error:|Segmentation|Aborted|assertion' "$1" | head -3)
	expect_eq "$bad" "" "sanitizer or crash reports in $2's log ($1)"
}

c_setup() {
	write_raw
	make_certs || { fail "cannot make $N certificates: $(tail -3 "$C/err" 2>/dev/null)"; return; }
	LPORT=$(free_port) || return
	make_primary "$P" || return
	make_host "$M" --server "$P" || return
	set_conf "$(host_dir $M)/eca.conf" ROLE media
	set_conf "$(host_dir $M)/eca.conf" LISTEN "127.0.0.1:$LPORT"
	set_conf "$(host_dir $M)/eca.conf" LOG_LEVEL debug
	make_host "$HC" --server "$P" || return
}

# start_all LABEL: the primary and the media server with the current $ECAD,
# each enrolled; a fresh registry each time.
start_all() {
	rm -rf "${P_DIR[$P]}/state" "$(host_dir $M)/state"
	start_primary "$P" || return
	host_eca "$M" enroll
	expect_rc 0 || return
	host_eca "$HC" enroll
	expect_rc 0 || return
	start_host "$M"
}

# api_leavers LABEL: N/4 hosts per way of leaving, all at once (4 clients).
c_api_leavers() {
	local label=$1 mode i=0 port=${P_PORT[$P]} h bad fp
	local -a pids=()
	split -n r/4 -d "$C/hosts" "$T/part."
	for mode in body-fin body-rst body-notify half-body; do
		# shellcheck disable=SC2046
		timeout 120 python3 "$RAW" api "$port" "$P" "$CA/trust.pem" "$C" \
		    "$C/key.pem" "$mode" $(cat "$T/part.0$i") >"$T/api.$mode" 2>&1 &
		pids+=($!)
		i=$((i + 1))
	done
	for i in "${pids[@]}"; do
		wait "$i" || { fail "the raw client failed: $(cat "$T"/api.* | grep -v disc.it.test | head -3)"; return; }
	done
	expect_eq "$(cat "$T"/api.* | wc -l)" "$N" "connections made" || return
	# Requests read whole may still be in the writer's group commit: wait
	# until ecad has closed every connection and its writer is idle.
	wait_settled "$P" || return
	kill -0 "${P_PID[$P]}" 2>/dev/null || { fail "ecad exited: $(tail -3 "${P_DIR[$P]}/ecad.log")"; return; }
	# Every host is whole or absent: an ENROLLED row with its own
	# certificate, one history event and one audit line, or nothing.
	bad=""
	while read -r h; do
		fp=$(cat "$C/$h.fp")
		rows=$(db_count "SELECT count(*) FROM enrollments WHERE host='$h'")
		hist=$(db_count "SELECT count(*) FROM history WHERE host='$h'")
		aud=$(jq -r --arg h "$h" 'select(.host == $h and .event == "enrolled") | .fingerprint' \
		    "${P_DIR[$P]}/state/audit.jsonl" | sort -u | tr '\n' ' ')
		case "$rows/$hist" in
		0/0) ;;
		1/1)
			[ "$(db_count "SELECT state || ' ' || fingerprint FROM enrollments WHERE host='$h'")" = "ENROLLED $fp" ] ||
			    bad="$bad $h:row-not-its-certificate"
			[ "$aud" = "$fp " ] || bad="$bad $h:audit='$aud'"
			;;
		*) bad="$bad $h:rows=$rows,history=$hist" ;;
		esac
	done <"$C/hosts"
	expect_eq "$bad" "" "hosts neither whole nor absent ($label)" || return
	bad=$(awk '{ print $1 }' "$T/api.half-body" | while read -r h; do
		[ "$(db_count "SELECT count(*) FROM enrollments WHERE host='$h'")" = 0 ] || echo "$h"
	done | tr '\n' ' ')
	expect_eq "$bad" "" "hosts enrolled without having sent their whole body ($label)" || return
	echo "# $label: $(db_count "SELECT count(*) FROM enrollments WHERE host LIKE 'd%.disc.it.test'") of $N enrolled by clients that left before the reply"
	# Healthy: the control socket answers, the audit chain verifies, and
	# every host enrolls when it retries (200 if its commit was done).
	primary_eca "$P" --json status
	expect_rc 0 || return
	primary_eca "$P" audit verify
	expect_rc 0 || return
	bad=""
	while read -r h; do
		run_cmd curl -sS --max-time 15 -o /dev/null -w '%{http_code}' \
		    --cacert "$CA/trust.pem" --resolve "$P:$port:127.0.0.1" \
		    --cert "$C/$h.pem" --key "$C/key.pem" -X POST \
		    -H 'Content-Type: application/json' \
		    --data "{\"host\":\"$h\",\"precheck\":false,\"force\":false}" \
		    "https://$P:$port/v1/enrollments"
		case "$OUT" in
		200 | 201) ;;
		*) bad="$bad $h:$OUT" ;;
		esac
	done <"$C/hosts"
	expect_eq "$bad" "" "retries that did not succeed ($label)" || return
	expect_db "SELECT count(*) FROM enrollments WHERE host LIKE 'd%.disc.it.test' AND state='ENROLLED'" "$N" || return
	integ=$(timeout 20 sqlite3 "${P_DIR[$P]}/state/registry.db" 'PRAGMA integrity_check')
	expect_eq "$integ" ok "PRAGMA integrity_check ($label)"
}

c_peer_leavers() {
	local label=$1 mode i
	for i in 1 2 3 4 5; do
		for mode in tls hello half-frame after-hello after-hello-rst; do
			run_cmd python3 "$RAW" peer "$LPORT" "$(host_dir $HC)/cert.pem" \
			    "$(host_dir $HC)/key.pem" "$mode" "$P" "$HC"
			expect_rc 0 || return
		done
	done
	kill -0 "${H_PID[$M]}" 2>/dev/null || { fail "the media server's ecad exited: $(tail -3 "$(host_dir $M)/ecad.log")"; return; }
	run_cmd python3 "$RAW" peer "$LPORT" "$(host_dir $HC)/cert.pem" \
	    "$(host_dir $HC)/key.pem" full "$P" "$HC"
	expect_rc 0 || return
	expect_eq "$OUT" "verdict True OK
echo 42" "a whole channel after $((5 * 5)) clients left ($label)"
}

c_logs_clean() {
	local label=$1
	stop_host "$M"
	stop_primary "$P"
	expect_eq "$STOP_RC" 0 "the primary's exit status after SIGTERM ($label)" || return
	sanitizer_clean "${P_DIR[$P]}/ecad.log" "the primary ($label)" || return
	sanitizer_clean "$(host_dir $M)/ecad.log" "the media server ($label)"
}

run_case "$N host certificates, a primary and a media server are made" c_setup
[ "$IT_FAILED" = 0 ] || exit 1
for b in plain asan; do
	if [ $b = asan ]; then
		if [ -z "$ASAN_ECAD" ]; then
			echo "# SKIP t_disconnect under ASan: ECA_IT_ASAN_BUILD is not set or has no ecad (tests/run-tests.sh sets it)"
			break
		fi
		ECAD=$ASAN_ECAD
	else
		ECAD=$PLAIN_ECAD
	fi
	run_case "($b) the primary and the media server start and enroll" start_all
	[ "$IT_FAILED" = 0 ] || exit 1
	run_case "($b) $N enrollments whose clients leave before the reply are each whole or absent, and all succeed on retry" c_api_leavers $b
	run_case "($b) clients that leave the peer listener mid-handshake leave it serving" c_peer_leavers $b
	run_case "($b) after the disconnects both daemons exit cleanly with no crash or sanitizer report" c_logs_clean $b
done
