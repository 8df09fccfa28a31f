#!/bin/bash
# SPDX-License-Identifier: ISC
# Callers without a verified client certificate, and requests for paths no
# route serves, cost the primary a counter, not a journal line each
# (docs/hardening.md, "Refusals of strangers"); and text a caller chooses
# never reaches ecad's log raw ("Peer text in the log").
#
#   strangers.it.test   the primary (API on 127.0.0.1)
#   known.it.test       a host with a certificate of the domain's CA
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

P=strangers.it.test
K=known.it.test
RAW=$T/raw.py
N=${ECA_IT_STRANGERS_N:-1000}

journal() {
	echo "${P_DIR[$P]}/state/audit.jsonl"
}

jlines() {
	wc -l <"$(journal)" 2>/dev/null || echo 0
}

# raw.py PORT MODE N [CERT KEY]: HTTPS/1.1 to the primary at 127.0.0.1.
# pipelined: N `POST /zz` written at once on one kept-alive connection;
# conns: N connections with one `POST /zz` each; esc: one GET whose path
# carries escape sequences.  Prints "answers N" (status lines read) and,
# for esc, the status.
write_raw() {
	cat >"$RAW" <<'EOF'
import socket, ssl, sys
port, mode, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
if len(sys.argv) > 5:
    ctx.load_cert_chain(sys.argv[4], sys.argv[5])
REQ = b"POST /zz HTTP/1.1\r\nHost: p\r\nContent-Length: 0\r\n\r\n"
def conn():
    return ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=20))
def answers(s, want):
    buf, got = b"", 0
    while got < want:
        d = s.recv(65536)
        if not d:
            break
        buf += d
        got = buf.count(b"HTTP/1.1 ")
    return got, buf
if mode == "pipelined":
    s = conn()
    s.sendall(REQ * n)
    got, _ = answers(s, n)
    print("answers", got)
elif mode == "conns":
    total = 0
    for i in range(n):
        s = conn()
        s.sendall(REQ)
        got, _ = answers(s, 1)
        total += got
        s.close()
    print("answers", total)
elif mode == "esc":
    s = conn()
    s.sendall(b"GET /v1/enrollments/\x1b[31mevil\x1b]0;pwned\x07 HTTP/1.1\r\n"
              b"Host: p\r\n\r\n")
    got, buf = answers(s, 1)
    print("answers", got)
    print("status", buf.split(b" ")[1].decode() if got else "none")
EOF
}

raw() {
	run_cmd python3 "$RAW" "${P_PORT[$P]}" "$@"
}

c_setup() {
	write_raw
	start_primary "$P" || return
	make_host "$K" --server "$P" || return
	[ -f "$(journal)" ] || fail "no journal at $(journal) after start"
}

c_strangers_do_not_grow_the_journal() {
	local before after
	before=$(jlines)
	raw pipelined "$N"
	expect_rc 0 || return
	expect_eq "$OUT" "answers $N" "pipelined POST /zz answered" || return
	raw conns "$N"
	expect_rc 0 || return
	expect_eq "$OUT" "answers $N" "POST /zz on new connections answered" ||
	    return
	sleep 1
	after=$(jlines)
	echo "# $((2 * N)) refused requests without a client certificate added $((after - before)) journal line(s)"
	[ $((after - before)) -le 3 ] ||
	    { fail "the journal grew by $((after - before)) lines for $((2 * N)) refusals of a stranger"; return 1; }
	# The first one is journaled as any refusal; the rest are counted.
	expect_match "$(tail -n $((after - before)) "$(journal)")" \
	    '"event":"refused".*"reason":"NOT_FOUND"' \
	    "the journal's new line(s)" || return
	primary_stats "$P"
	expect_json '.refusals >= 2000' true
}

c_log_is_rate_limited() {
	local n
	n=$(grep -c 'POST /zz' "${P_DIR[$P]}/ecad.log")
	echo "# log lines naming POST /zz: $n"
	[ "$n" -le 3 ] || fail "$n log lines for one stranger's refusals"
}

c_real_enrollment_still_journals() {
	local before
	before=$(jlines)
	host_eca "$K" enroll
	expect_rc 0 || return
	sleep 0.3
	expect_match "$(tail -n +$((before + 1)) "$(journal)")" \
	    "\"event\":\"enrolled\".*\"host\":\"$K\"" "the journal's new lines" ||
	    return
	primary_eca "$P" --json audit verify
	expect_rc 0
}

c_escape_sequences_never_reach_the_log_raw() {
	local log=${P_DIR[$P]}/ecad.log
	raw esc 1 "$(host_dir $K)/cert.pem" "$(host_dir $K)/key.pem"
	expect_rc 0 || return
	expect_match "$OUT" "status 400" "the answer to a path with ESC" || return
	raw esc 1
	expect_rc 0 || return
	sleep 0.3
	if grep -q $'\x1b' "$log"; then
		fail "a raw ESC byte is in ecad's log: $(grep -a $'\x1b' "$log" | head -1 | od -c | head -3 | tr '\n' ' ')"
		return 1
	fi
	if grep -q $'\x07' "$log"; then
		fail "a raw BEL byte is in ecad's log"
		return 1
	fi
	expect_match "$(cat "$log")" 'GET /v1/enrollments/\\x1b\[31mevil\\x1b\]0;pwned\\x07' \
	    "ecad's log (the path, escaped)"
}

# The counted refusals are journaled as one summary line when their minute
# is over, or when ecad stops: stop it and look.
c_summary_line_counts_them() {
	stop_primary "$P"
	expect_eq "$STOP_RC" 0 "ecad's exit status" || return
	local line
	line=$(grep refused_summary "$(journal)")
	expect_json '.source' 127.0.0.1 "$line" || return
	expect_json '.count >= 1998 and .count <= 2000' true "$line" || return
	expect_json '.since | test("^[0-9-]+T[0-9:]+Z$")' true "$line" || return
	expect_json '.reason | test("^[A-Z_]+$")' true "$line" || return
	expect_eq "$(grep -c refused_summary "$(journal)")" 1 \
	    "summary lines for one source" || return
	expect_match "$(cat "${P_DIR[$P]}/ecad.log")" \
	    "(199[89]|2000) refused request\\(s\\) from 127.0.0.1 since" \
	    "ecad's log"
}

run_case "the primary starts with its journal" c_setup
[ "$IT_FAILED" = 0 ] || exit 1
run_case "$((2 * N)) refused requests without a client certificate, pipelined and on new connections, add at most a few journal lines" \
    c_strangers_do_not_grow_the_journal
run_case "a stranger's refusals are logged rate-limited" c_log_is_rate_limited
run_case "a real enrollment after them is journaled and the chain verifies" \
    c_real_enrollment_still_journals
run_case "a request path with escape sequences reaches ecad's log escaped, never raw" \
    c_escape_sequences_never_reach_the_log_raw
run_case "the counted refusals become one summary line per source, with their count" \
    c_summary_line_counts_them
