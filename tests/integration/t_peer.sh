#!/bin/bash
# SPDX-License-Identifier: ISC
# ecad's peer listener seen from the wire (docs/daemon.md "Peer listener"):
# a raw TLS client (python3's ssl, with a host's certificate) speaks the
# channel frames to a media server's ecad and checks what the daemon does
# with bad frames, slow and silent clients, the bulk and echo services, a
# client that leaves mid-transfer, and that it logs every verdict.
#
#   primary.peer.test  API 127.0.0.1, SERVER itself
#   media.peer.test    127.0.0.1, its peer listener on LPORT
#   client.peer.test   certificate only (the raw client), enrolled by hand
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

P=primary.peer.test
M=media.peer.test
C=client.peer.test
LPORT=""
RAW=$T/raw.py

# raw.py MODE: one connection to the media's listener as $C; prints one
# line per event ("hello ...", "verdict ...", "frame ...", "closed", ...).
write_raw() {
	cat >"$RAW" <<'EOF'
import json, select, socket, ssl, struct, sys, time
port, cert, key, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.load_cert_chain(cert, key)
tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
if mode == "flood":
    # A small window: ecad's writes soon find the socket full.
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
tcp.settimeout(20)
tcp.connect(("127.0.0.1", port))
s = ctx.wrap_socket(tcp)
def recv_exact(n):
    b = bytearray()
    while len(b) < n:
        d = s.recv(min(n - len(b), 1 << 20))
        if not d:
            return None
        b += d
    return bytes(b)
def frame():
    h = recv_exact(4)
    if h is None:
        return None
    return recv_exact(struct.unpack(">I", h)[0])
def send(obj):
    m = json.dumps(obj).encode()
    s.sendall(struct.pack(">I", len(m)) + m)
def hello(purpose="ping", primary=sys.argv[5], host=sys.argv[6]):
    send({"v": 1, "host": host, "role": "client", "primary": primary,
          "purpose": purpose, "cert": True})
    v = json.loads(frame())
    print("verdict", v["accept"], v["code"])
    return v["accept"]
def closed():
    try:
        print("closed" if s.recv(1) == b"" else "open")
    except (ConnectionResetError, ssl.SSLError):
        print("closed")
    except socket.timeout:
        print("open")
print("hello", json.loads(frame())["host"])
if mode == "garbage":
    s.sendall(b"\x00\x00\x00\x05hello")
    print("verdict", json.loads(frame())["code"]); closed()
elif mode == "huge":
    s.sendall(b"\x7f\x00\x00\x00")
    print("verdict", json.loads(frame())["code"]); closed()
elif mode == "foreign":
    hello(primary="elsewhere.peer.test"); closed()
elif mode == "silent":
    s.settimeout(30); t = time.time(); closed()
    print("after", int(time.time() - t))
elif mode == "bulk":
    hello("backup")
    send({"op": "send", "bytes": 3 << 20})
    s.sendall(b"x" * (3 << 20))
    print("frame", frame().decode())
    send({"op": "receive", "bytes": 5 << 20})
    print("got", len(recv_exact(5 << 20)))
    send({"op": "send", "bytes": 0})
    print("frame", frame().decode())
elif mode == "echo":
    hello("ping")
    for i in range(3):
        send({"n": i, "pad": "y" * 1000})
        print("echo", json.loads(frame())["n"])
elif mode == "badop":
    hello("restore")
    send({"op": "fetch", "bytes": 1})
    print("frame", json.loads(frame())["error"]["code"]); closed()
elif mode == "toolarge":
    hello("restore")
    send({"op": "receive", "bytes": (1 << 40) + 1})
    print("frame", json.loads(frame())["error"]["code"]); closed()
elif mode == "leave":
    hello("backup")
    send({"op": "send", "bytes": 1 << 30})
    s.sendall(b"z" * (1 << 20))
    s.close(); print("left")
elif mode == "idle":
    hello("ping"); s.settimeout(30); t = time.time(); closed()
    print("after", int(time.time() - t))
elif mode == "flood":
    # Frames under PEER_DIRECT_MAX, more than ecad's socket can hold
    # (twice tcp_wmem's max), sent without reading an echo until ecad
    # stops reading (its output is full): its writes find the socket
    # full on the way.  Then every echo is read, in order, while the
    # rest is sent.
    wmem = int(open("/proc/sys/net/ipv4/tcp_wmem").read().split()[2])
    pad = lambda i: 3000 if i % 2 == 0 else 64
    frames, size = [], 0
    while size < 2 * wmem + (2 << 20):
        m = json.dumps({"n": len(frames), "pad": "y" * pad(len(frames))})
        frames.append(struct.pack(">I", len(m)) + m.encode())
        size += len(frames[-1])
    n, out = len(frames), b"".join(frames)
    hello("ping")
    s.setblocking(False)
    sent, stuck = 0, None
    while sent < len(out):
        try:
            sent += s.send(out[sent:sent + 65536])
            stuck = None
        except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
            stuck = stuck or time.time()
            if time.time() - stuck > 1:
                break
            select.select([], [s], [], 0.05)
    buf, got, end = b"", 0, time.time() + 60
    while got < n and time.time() < end:
        if sent < len(out):
            try:
                sent += s.send(out[sent:sent + 65536])
                continue
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
                pass
        try:
            buf += s.recv(1 << 16)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            select.select([s], [s] if sent < len(out) else [], [], 0.05)
            continue
        while len(buf) >= 4 and len(buf) >= 4 + struct.unpack(">I", buf[:4])[0]:
            k = struct.unpack(">I", buf[:4])[0]
            f = json.loads(buf[4:4 + k])
            buf = buf[4 + k:]
            if f["n"] != got or len(f["pad"]) != pad(got):
                print("echo", got, "was", f["n"], len(f["pad"]))
                sys.exit(1)
            got += 1
    print("echoed", "all" if got == n else "%d of %d" % (got, n), "in order")
EOF
}

raw() {
	run_cmd python3 "$RAW" "$LPORT" "$(host_dir $C)/cert.pem" \
	    "$(host_dir $C)/key.pem" "$1" "${2:-$P}" "${3:-$C}"
}

c_setup() {
	write_raw
	LPORT=$(free_port) || return
	start_primary "$P" || return
	make_host "$M" --server "$P" || return
	set_conf "$(host_dir $M)/eca.conf" ROLE media
	{
		echo "LISTEN = 127.0.0.1:$LPORT"
		echo "REQUEST_TIMEOUT = 2"
		echo "IDLE_TIMEOUT = 3"
		echo "LOG_LEVEL = debug"
	} >>"$(host_dir $M)/eca.conf"
	host_eca "$M" enroll
	expect_rc 0 || return
	start_host "$M" || return
	make_host "$C" --server "$P" || return
	host_eca "$C" enroll
	expect_rc 0 || return
	expect_match "$(cat "$(host_dir $M)/ecad.log")" \
	    "ecad: peer listener on 127.0.0.1:$LPORT" "the daemon's output"
}

c_garbage_hello_is_refused_protocol_and_closed() {
	raw garbage
	expect_rc 0 || return
	expect_eq "$OUT" "hello $M
verdict PROTOCOL
closed" "the raw client's view"
}

c_oversized_frame_is_refused_too_large() {
	raw huge
	expect_eq "$OUT" "hello $M
verdict TOO_LARGE
closed" "the raw client's view"
}

c_foreign_primary_is_forbidden() {
	raw foreign
	expect_eq "$OUT" "hello $M
verdict False FORBIDDEN
closed" "the raw client's view"
}

c_silent_client_is_closed_after_request_timeout() {
	raw silent
	expect_eq "$(head -2 <<<"$OUT")" "hello $M
closed" "the raw client's view" || return
	expect_match "$(tail -1 <<<"$OUT")" "^after [1-4]$" \
	    "seconds until the close (REQUEST_TIMEOUT = 2)"
}

c_bulk_send_and_receive_count_every_byte() {
	raw bulk
	expect_eq "$OUT" "hello $M
verdict True OK
frame {\"received\":3145728}
got 5242880
frame {\"received\":0}" "the raw client's view"
}

c_echo_purpose_echoes_every_frame() {
	raw echo
	expect_eq "$OUT" "hello $M
verdict True OK
echo 0
echo 1
echo 2" "the raw client's view"
}

c_a_client_reading_slower_than_it_sends_gets_every_echo_in_order() {
	local log=$(host_dir $M)/ecad.log
	raw flood
	expect_eq "$OUT" "hello $M
verdict True OK
echoed all in order" "the raw client's view" || return
	# What the socket could not take at once was queued, and went out.
	expect_match "$(cat "$log")" \
	    "peer channel from $C .*: the socket is full, output queued" \
	    "the media's log" || return
	raw echo
	expect_match "$OUT" "echo 2" "a channel after it"
}

c_unknown_bulk_op_gets_an_error_frame_and_close() {
	raw badop
	expect_eq "$OUT" "hello $M
verdict True OK
frame PROTOCOL
closed" "the raw client's view" || return
	raw toolarge
	expect_eq "$OUT" "hello $M
verdict True OK
frame TOO_LARGE
closed" "the raw client's view (over ECA_BULK_MAX)"
}

c_client_leaving_mid_transfer_frees_its_channel() {
	raw leave
	expect_eq "$OUT" "hello $M
verdict True OK
left" "the raw client's view" || return
	wait_log "$(host_dir $M)/ecad.log" "closed mid-transfer" || return
	kill -0 "${H_PID[$M]}" 2>/dev/null || { fail "ecad died"; return; }
	raw echo
	expect_match "$OUT" "echo 2" "a channel after it"
}

c_idle_channel_is_closed_after_idle_timeout() {
	raw idle
	expect_eq "$(head -3 <<<"$OUT")" "hello $M
verdict True OK
closed" "the raw client's view" || return
	expect_match "$(tail -1 <<<"$OUT")" "^after [2-5]$" \
	    "seconds until the close (IDLE_TIMEOUT = 3)"
}

c_every_verdict_is_logged_with_fingerprint() {
	local fp
	fp=$(cert_fp "$(host_dir $C)/cert.pem")
	expect_match "$(cat "$(host_dir $M)/ecad.log")" \
	    "peer channel from $C .*fingerprint $fp, primary $P, purpose backup: accepted" \
	    "the media's log" || return
	expect_match "$(cat "$(host_dir $M)/ecad.log")" \
	    "purpose ping: refused FORBIDDEN" "the media's log"
}

c_stops_cleanly_with_channels_open() {
	python3 -u "$RAW" "$LPORT" "$(host_dir $C)/cert.pem" \
	    "$(host_dir $C)/key.pem" idle "$P" "$C" >"$T/idle.out" 2>&1 &
	local bg=$!
	# The channel is open once the raw client has its verdict.
	wait_log "$T/idle.out" "^verdict True" || return
	stop_host "$M"
	wait "$bg" 2>/dev/null
	expect_match "$(tail -1 "$(host_dir $M)/ecad.log")" "stopped" \
	    "the media's last log line"
}

run_case "a media server's ecad starts its peer listener and says where" c_setup
[ "$IT_FAILED" = 0 ] || exit 1
run_case "a client HELLO that is not JSON is refused PROTOCOL and closed" \
    c_garbage_hello_is_refused_protocol_and_closed
run_case "a frame announcing more than ECA_FRAME_MAX is refused TOO_LARGE" \
    c_oversized_frame_is_refused_too_large
run_case "a HELLO naming a primary this host is not in is refused FORBIDDEN" \
    c_foreign_primary_is_forbidden
run_case "a client that sends no HELLO is closed after REQUEST_TIMEOUT" \
    c_silent_client_is_closed_after_request_timeout
run_case "bulk send and receive count every byte" \
    c_bulk_send_and_receive_count_every_byte
run_case "a ping channel echoes every frame" c_echo_purpose_echoes_every_frame
run_case "a ping client that sends faster than it reads gets every echo, in order" \
    c_a_client_reading_slower_than_it_sends_gets_every_echo_in_order
run_case "an unknown or oversized bulk request gets an error frame and the channel closes" \
    c_unknown_bulk_op_gets_an_error_frame_and_close
run_case "a client leaving mid-transfer frees its channel and ecad serves on" \
    c_client_leaving_mid_transfer_frees_its_channel
run_case "an accepted channel left idle is closed after IDLE_TIMEOUT" \
    c_idle_channel_is_closed_after_idle_timeout
run_case "every verdict is logged with host, fingerprint, primary and purpose" \
    c_every_verdict_is_logged_with_fingerprint
run_case "ecad stops cleanly with a channel open" c_stops_cleanly_with_channels_open
