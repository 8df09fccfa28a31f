#!/bin/bash
# SPDX-License-Identifier: ISC
# However a client cuts its request into TLS records, and whatever arrives
# in one segment, the primary answers at once: a request sent with the
# client's last handshake flight, headers and body as two records, two
# kept-alive requests in one segment.  (ecad reads ahead: OpenSSL takes
# everything the socket holds in one read, so a record can wait inside
# OpenSSL where libevent does not look; server.c kicks the connection.)
# A stalled request would wait for REQUEST_TIMEOUT, set far beyond the
# client's own wait.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

P=primary1.it.test
H=h1.it.test
WAIT=10 # the client's wait for its replies, in seconds
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

# records.py PORT CA CERT KEY TLS MODE HOST: TLS through memory buffers, so
# that the client decides what goes into one send(): its last handshake
# flight (TLS 1.3) and the records MODE makes.  MODE "one": POST
# /v1/enrollments as one record; "split": its headers and its body as two
# records; "pipelined": two GET /v1/health, one record each.  Prints the
# status of each reply ("replies 201"), or "stalled" / "closed" with
# what came before.
cat >"$T/records.py" <<'EOF'
import socket, ssl, sys
port, ca, cert, key, tls, mode, host, wait = sys.argv[1:9]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(ca)
ctx.check_hostname = False
ctx.load_cert_chain(cert, key)
v = ssl.TLSVersion.TLSv1_2 if tls == "1.2" else ssl.TLSVersion.TLSv1_3
ctx.minimum_version = ctx.maximum_version = v
inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
tls_obj = ctx.wrap_bio(inc, out)
s = socket.create_connection(("127.0.0.1", int(port)))
s.settimeout(float(wait))

def feed():
    d = s.recv(65536)
    if not d:
        raise EOFError
    inc.write(d)

while True:
    try:
        tls_obj.do_handshake()
        break
    except ssl.SSLWantReadError:
        s.sendall(out.read())
        feed()

body = ('{"host":"%s"}' % host).encode()
head = ("POST /v1/enrollments HTTP/1.1\r\nHost: p\r\n"
        "Content-Type: application/json\r\nContent-Length: %d\r\n"
        "Connection: close\r\n\r\n" % len(body)).encode()
health = b"GET /v1/health HTTP/1.1\r\nHost: p\r\n\r\n"
if mode == "one":
    records, want = [head + body], 1
elif mode == "split":
    records, want = [head, body], 1
else:
    records, want = [health, health], 2
for r in records:
    tls_obj.write(r)
# TLS 1.3: out still holds the client's Finished; everything in one send.
s.sendall(out.read())

plain, statuses = b"", []
def replies():
    # Complete replies in plain (each with its Content-Length body).
    global plain
    while b"\r\n\r\n" in plain:
        hdr, rest = plain.split(b"\r\n\r\n", 1)
        lines = hdr.decode().split("\r\n")
        n = 0
        for l in lines[1:]:
            k, _, val = l.partition(":")
            if k.strip().lower() == "content-length":
                n = int(val)
        if len(rest) < n:
            return
        statuses.append(lines[0].split()[1])
        plain = rest[n:]
try:
    while len(statuses) < want:
        try:
            plain += tls_obj.read(65536)
            replies()
        except ssl.SSLWantReadError:
            feed()
    print("replies " + " ".join(statuses))
except socket.timeout:
    print("stalled after " + " ".join(statuses or ["nothing"]))
except (EOFError, ssl.SSLError, ConnectionError) as e:
    print("closed after %s (%s)" % (" ".join(statuses or ["nothing"]),
        type(e).__name__))
EOF

c_setup() {
	start_primary "$P" "REQUEST_TIMEOUT = 60" || return
	make_host "$H" --server "$P"
}

# records TLS MODE: runs records.py as H; its output line in REC.
records() {
	local d
	d=$(host_dir "$H")
	REC=$(timeout 60 "$PY" "$T/records.py" "${P_PORT[$P]}" "$CA/trust.pem" \
	    "$d/cert.pem" "$d/key.pem" "$1" "$2" "$H" "$WAIT" 2>&1)
}

c_with_finished() {
	records 1.3 one
	expect_eq "$REC" "replies 201" "an enrollment sent with the client's Finished" || return
	expect_db "SELECT count(*) FROM enrollments WHERE host='$H'" 1
}

c_split() {
	records 1.3 split
	expect_eq "$REC" "replies 200" "an enrollment as two records (already enrolled: 200)"
}

c_split_tls12() {
	records 1.2 split
	expect_eq "$REC" "replies 200" "an enrollment as two records over TLS 1.2"
}

c_pipelined() {
	records 1.3 pipelined
	expect_eq "$REC" "replies 200 200" "two kept-alive requests in one segment"
}

c_pipelined_tls12() {
	records 1.2 pipelined
	expect_eq "$REC" "replies 200 200" "two kept-alive requests in one segment over TLS 1.2"
}

run_case "ecad starts with REQUEST_TIMEOUT = 60" c_setup
[ "$IT_FAILED" = 0 ] || exit 1
run_case "an enrollment sent in the same segment as the client's Finished is answered at once" c_with_finished
run_case "an enrollment whose headers and body are two records sent together is answered at once" c_split
run_case "the same over TLS 1.2" c_split_tls12
run_case "two kept-alive requests in one segment, one record each, are both answered at once" c_pipelined
run_case "the same over TLS 1.2" c_pipelined_tls12
