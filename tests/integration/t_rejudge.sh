#!/bin/bash
# SPDX-License-Identifier: ISC
# A kept-alive connection is judged again when trust changes (docs/
# hardening.md, "Verdicts follow trust"): on the primary's API, a SIGHUP
# that drops the caller's CA from the trust store and a CRL that revokes
# the caller; on a media server's channel, a ban, a removal and a SIGHUP
# that drops the caller's CA.  Each time the connection is opened and used
# once, the change is made, and the next request (or frame) on the same
# connection must be refused.
#
#   rejudge.it.test     the primary: CRL check LEAF from ECA_CRL_PATH
#                       (fail-open for the run's CA, which has no CRL)
#   admin.rejudge.test  ADMIN_IDENTITY, certificate of a second CA (XCA)
#   rev.rejudge.test    certificate of XCA, revoked half-way
#   media.rejudge.test  peer listener, roster synced every second
#   ban/rm/xca.rejudge.test  channel clients (xca: certificate of XCA)
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

P=rejudge.it.test
A=admin.rejudge.test
R=rev.rejudge.test
M=media.rejudge.test
CB=ban.rejudge.test
CR=rm.rejudge.test
CX=xca.rejudge.test
XCA=$T/xca
KEPT=$T/kept.py
LPORT=""

# kept.py MODE ... READY GO: one connection used twice, with the test's
# change made in between (READY: the first use is done; GO: go on).
#   http PORT CERT KEY PATH READY GO
#   chan PORT CERT KEY PRIMARY HOST READY GO
# Prints "first ..." and "second ..." (the HTTP status and error code, or
# "echo" / "error CODE" / "closed" for a channel frame).
write_kept() {
	cat >"$KEPT" <<'EOF'
import json, os, socket, ssl, struct, sys, time
mode, port, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ready, go = sys.argv[-2], sys.argv[-1]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.load_cert_chain(cert, key)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=30))
def recv_exact(n):
    b = b""
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d:
            return None
        b += d
    return b
def pause():
    open(ready, "w").close()
    t = time.time() + 60
    while not os.path.exists(go) and time.time() < t:
        time.sleep(0.05)
def http(path):
    s.sendall(("GET %s HTTP/1.1\r\nHost: p\r\n\r\n" % path).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        d = s.recv(1)
        if not d:
            return "closed"
        head += d
    lines = head.decode().split("\r\n")
    status = lines[0].split(" ")[1]
    n = 0
    for l in lines[1:]:
        if l.lower().startswith("content-length:"):
            n = int(l.split(":")[1])
    body = json.loads(recv_exact(n) or b"{}")
    return status + " " + body.get("error", {}).get("code", "-")
def frame():
    h = recv_exact(4)
    if h is None:
        return None
    return json.loads(recv_exact(struct.unpack(">I", h)[0]))
def send(obj):
    m = json.dumps(obj).encode()
    s.sendall(struct.pack(">I", len(m)) + m)
def echo(n):
    try:
        send({"op": "ping", "payload": str(n)})
        f = frame()
    except OSError:
        return "closed"
    if f is None:
        return "closed"
    if "error" in f:
        return "error " + f["error"]["code"]
    return "echo" if f.get("payload") == str(n) else "other"
if mode == "http":
    path = sys.argv[5]
    print("first", http(path), flush=True)
    pause()
    try:
        print("second", http(path))
    except OSError:
        print("second closed")
else:
    primary, host = sys.argv[5], sys.argv[6]
    frame()
    send({"v": 1, "host": host, "role": "client", "primary": primary,
          "purpose": "ping", "cert": True})
    v = frame()
    if not v["accept"]:
        print("refused", v["code"]); sys.exit(1)
    print("first", echo(1), flush=True)
    pause()
    print("second", echo(2))
EOF
}

# kept MODE ARGS... -- CHANGE...: runs kept.py in the background, makes
# the change once its first use is done, lets it go on; $OUT its output.
kept() {
	local -a args=() change=()
	local pid i
	while [ "$1" != -- ]; do args+=("$1"); shift; done
	shift
	change=("$@")
	rm -f "$T/ready" "$T/go"
	python3 "$KEPT" "${args[@]}" "$T/ready" "$T/go" >"$T/kept.out" 2>&1 &
	pid=$!
	for ((i = 0; i < 300; i++)); do
		[ -f "$T/ready" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	"${change[@]}"
	touch "$T/go"
	for ((i = 0; i < 400; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	OUT=$(cat "$T/kept.out")
}

# hup NAME LOGFILE: SIGHUP an ecad and wait for its reload line.
hup() {
	local pid=$1 log=$2 n i
	n=$(grep -c 'configuration reloaded' "$log")
	kill -HUP "$pid"
	for ((i = 0; i < 100; i++)); do
		[ "$(grep -c 'configuration reloaded' "$log")" -gt "$n" ] && return 0
		sleep 0.1
	done
	fail "no reload after SIGHUP: $(tail -2 "$log")"
	return 1
}

primary_trust() {
	set_conf "${P_CONF[$P]}" ECA_TRUST_STORE_PATH "$1"
	hup "${P_PID[$P]}" "${P_DIR[$P]}/ecad.log"
}

media_trust() {
	set_conf "$(host_dir $M)/eca.conf" ECA_TRUST_STORE_PATH "$1"
	hup "${H_PID[$M]}" "$(host_dir $M)/ecad.log"
}

# The media's roster has synced past the primary's registry version now.
wait_media_sync() {
	local v i
	v=$(db_count "SELECT max(version) FROM enrollments" "$P")
	for ((i = 0; i < 100; i++)); do
		grep -q "synced the roster of $P: version $v," \
		    "$(host_dir $M)/ecad.log" && return 0
		sleep 0.1
	done
	fail "the media's roster did not reach version $v"
	return 1
}

c_setup() {
	write_kept
	"$MKCA" ca "$XCA" --name "rejudge x" >/dev/null ||
	    { fail "cannot make the second CA"; return; }
	cat "$CA/trust.pem" "$XCA/trust.pem" "$XCA/inter.pem" >"$T/trust-all.pem"
	cp "$CA/trust.pem" "$T/trust-main.pem"
	mkdir -p "$T/crls"
	"$MKCA" crl "$XCA" --der >/dev/null || { fail "mkca.sh crl failed"; return; }
	cp "$XCA/inter.crl" "$T/crls/inter.der"
	P_PORT[$P]=$(free_port) || return
	P_ORDER+=("$P")
	make_primary "$P" "ADMIN_IDENTITY = $A" "ECA_CRL_PATH = $T/crls" \
	    "ECA_CRL_FAIL_OPEN = YES" || return
	sed -i -e "s|^ECA_CRL_CHECK = DISABLE|ECA_CRL_CHECK = LEAF|" \
	    -e "s|^ECA_TRUST_STORE_PATH = .*|ECA_TRUST_STORE_PATH = $T/trust-all.pem|" \
	    "${P_CONF[$P]}"
	start_primary "$P" || return
	make_host "$A" --server "$P" --issuer "$XCA" --trust "$T/trust-all.pem" || return
	make_host "$R" --server "$P" --issuer "$XCA" --trust "$T/trust-all.pem" || return
	host_eca "$R" enroll
	expect_rc 0 || return
	LPORT=$(free_port) || return
	make_host "$M" --server "$P" --trust "$T/trust-all.pem" \
	    --conf "LISTEN = 127.0.0.1:$LPORT" --conf "ECA_ROSTER_SYNC_SECONDS = 1" \
	    --conf "LOG_LEVEL = debug" || return
	set_conf "$(host_dir $M)/eca.conf" ROLE media
	host_eca "$M" enroll
	expect_rc 0 || return
	local h
	for h in "$CB" "$CR"; do
		make_host "$h" --server "$P" || return
		host_eca "$h" enroll
		expect_rc 0 || return
	done
	make_host "$CX" --server "$P" --issuer "$XCA" --trust "$T/trust-all.pem" || return
	host_eca "$CX" enroll
	expect_rc 0 || return
	start_host "$M" || return
	wait_media_sync
}

c_api_sighup_trust() {
	kept http "${P_PORT[$P]}" "$(host_dir $A)/cert.pem" \
	    "$(host_dir $A)/key.pem" /v1/stats -- primary_trust "$T/trust-main.pem"
	expect_eq "$OUT" "first 200 -
second 422 UNTRUSTED" "an administrator's kept-alive connection" || return
	primary_trust "$T/trust-all.pem"
}

# Another caller's check makes ecad load the CRL `eca crl download` stored.
revoke_r() {
	"$MKCA" crl "$XCA" --revoke "$(host_dir $R)/cert.pem" --der >/dev/null ||
	    { fail "mkca.sh crl failed"; return 1; }
	cp "$XCA/inter.crl" "$T/crls/inter.der"
	primary_eca "$P" --json crl download
	expect_rc 0 || return 1
	primary_curl "$P" "$A" GET /v1/stats
	expect_http 200
}

c_api_crl_revokes() {
	kept http "${P_PORT[$P]}" "$(host_dir $R)/cert.pem" \
	    "$(host_dir $R)/key.pem" "/v1/enrollments/$R" -- revoke_r
	expect_eq "$OUT" "first 200 -
second 422 REVOKED" "the revoked host's kept-alive connection"
}

ban_cb() {
	primary_eca "$P" ban "$CB"
	expect_rc 0 || return 1
	wait_media_sync
}

remove_cr() {
	primary_eca "$P" remove "$CR"
	expect_rc 0 || return 1
	wait_media_sync
}

chan() {
	local h=$1
	shift
	kept chan "$LPORT" "$(host_dir "$h")/cert.pem" "$(host_dir "$h")/key.pem" \
	    "$P" "$h" -- "$@"
}

c_channel_ban() {
	chan "$CB" ban_cb
	expect_eq "$OUT" "first echo
second error BANNED" "the banned host's channel"
}

c_channel_removal() {
	chan "$CR" remove_cr
	expect_eq "$OUT" "first echo
second error NOT_ENROLLED" "the removed host's channel"
}

c_channel_sighup_trust() {
	chan "$CX" media_trust "$T/trust-main.pem"
	expect_eq "$OUT" "first echo
second error UNTRUSTED" "the channel of a host whose CA was dropped" ||
	    return
	expect_match "$(cat "$(host_dir $M)/ecad.log")" \
	    "judged again after a change of trust store, CRLs or roster" \
	    "the media's log"
}

run_case "a primary, an administrator and hosts of two CAs, a media server" c_setup
[ "$IT_FAILED" = 0 ] || exit 1
run_case "API: a SIGHUP dropping the administrator's CA refuses its kept-alive connection's next request" \
    c_api_sighup_trust
run_case "API: a CRL revoking the caller refuses its kept-alive connection's next request" \
    c_api_crl_revokes
run_case "channel: a ban refuses the next frame of an accepted channel" c_channel_ban
run_case "channel: a removal refuses the next frame of an accepted channel" \
    c_channel_removal
run_case "channel: a SIGHUP dropping the caller's CA refuses the next frame" \
    c_channel_sighup_trust
