#!/bin/bash
# SPDX-License-Identifier: ISC
# Remote enrollment (`eca enroll --remote-host NAME`, alias -remoteHost):
# on the primary, its ecad asks NAME's ecad over a channel of purpose
# "enroll" to enroll its own certificate; the host takes the request
# only from its primary and prints what a local `eca enroll` would.
#
#   primary.rem.test  API 127.0.0.1; PEER entries for the hosts
#   media.rem.test    ecad with a peer listener, SERVER primary.rem.test
#   lone.rem.test     ecad with a peer listener, SERVER another primary
#   client.rem.test   a certificate only: a raw TLS client (python3)
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

P=primary.rem.test
M=media.rem.test
L=lone.rem.test
C=client.rem.test
DOWN=down.rem.test
declare -A LPORT=()
RAW=$T/raw.py

# raw.py PORT CERT KEY HOST PRIMARY: a HELLO of purpose enroll as HOST.
write_raw() {
	cat >"$RAW" <<'PY'
import json, socket, ssl, struct, sys
port, cert, key, host, primary = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.load_cert_chain(cert, key)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=20))
def recv_exact(n):
    b = bytearray()
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d:
            return None
        b += d
    return bytes(b)
def frame():
    return recv_exact(struct.unpack(">I", recv_exact(4))[0])
frame()
m = json.dumps({"v": 1, "host": host, "role": "primary", "primary": primary,
                "purpose": "enroll", "cert": True}).encode()
s.sendall(struct.pack(">I", len(m)) + m)
v = json.loads(frame())
print("verdict", v["accept"], v["code"], v["message"])
PY
}

# host_with_listener NAME SERVER: a media host with its ecad's LISTEN.
host_with_listener() {
	local name=$1 server=$2
	[ -n "${LPORT[$name]:-}" ] || LPORT[$name]=$(free_port) || return 1
	make_host "$name" --server "$server" || return 1
	set_conf "$(host_dir "$name")/eca.conf" ROLE media || return 1
	set_conf "$(host_dir "$name")/eca.conf" LISTEN "127.0.0.1:${LPORT[$name]}"
}

c_setup() {
	write_raw
	LPORT[$DOWN]=$(free_port) || return
	P_PORT[other.rem.test]=$(free_port) || return
	LPORT[$M]=$(free_port) || return
	start_primary $P "PEER = $M 127.0.0.1:${LPORT[$M]}" \
	    "PEER = $DOWN 127.0.0.1:${LPORT[$DOWN]}" || return
	# A primary is a host of its own domain: it enrolls with itself.
	primary_eca $P enroll
	expect_rc 0 || return
	host_with_listener $M $P || return
	start_host $M || return
	make_host $C --server $P || return
	host_eca $C enroll
	expect_rc 0
}

c_unreachable_host_is_named_with_a_remedy() {
	primary_eca $P enroll --remote-host $DOWN
	expect_rc 4 || return
	expect_match "$ERR" "cannot enroll $DOWN with $P \\(remote\\): cannot reach the ecad of $DOWN.*is ecad running there.*PEER entry for $DOWN" "the refusal" || return
	primary_eca $P --json enroll --remote-host $DOWN
	expect_json .error.code UNREACHABLE || return
	# --port overrides the PEER entry's port (here: a closed one).
	primary_eca $P enroll --remote-host $M --port "${LPORT[$DOWN]}"
	expect_rc 4 || return
	expect_match "$ERR" "cannot connect to $M at 127.0.0.1:${LPORT[$DOWN]}" "the refusal"
}

c_host_not_configured_with_this_primary() {
	host_with_listener $L other.rem.test || return
	start_host $L || return
	set_conf "${P_CONF[$P]}" "PEER = $L" "" || return
	echo "PEER = $L 127.0.0.1:${LPORT[$L]}" >>"${P_CONF[$P]}"
	stop_primary $P
	start_primary $P || return
	primary_eca $P --json enroll --remote-host $L
	expect_rc 5 || return
	expect_json .error.code FORBIDDEN || return
	expect_match "$(jq -r .error.message <<<"$OUT")" "share no primary.*SERVER" "the refusal"
}

c_only_its_primary_may_ask() {
	# An enrolled host of the domain, claiming the primary's role.
	run_cmd python3 "$RAW" "${LPORT[$M]}" "$(host_dir $C)/cert.pem" \
	    "$(host_dir $C)/key.pem" $C $P
	expect_rc 0 || return
	expect_match "$OUT" "^verdict False FORBIDDEN $C asked $M to enroll, but only its primary $P may" "the host's verdict" || return
	# Claiming to be the primary without its certificate.
	run_cmd python3 "$RAW" "${LPORT[$M]}" "$(host_dir $C)/cert.pem" \
	    "$(host_dir $C)/key.pem" $P $P
	expect_rc 0 || return
	expect_match "$OUT" "^verdict False IDENTITY_MISMATCH" "the host's verdict"
}

c_usage_errors() {
	primary_eca $P enroll --remote-host $M --force
	expect_rc 2 || return
	expect_match "$ERR" "takes no --server, --precheck or --force" "usage" || return
	primary_eca $P enroll --remote-host $P
	expect_rc 2 || return
	expect_match "$ERR" "is this primary" "usage" || return
	host_eca $C enroll --remote-host $M
	expect_rc 2 || return
	expect_match "$ERR" "works on the primary" "usage" || return
	primary_eca $P enroll --remote-host $M --port 0
	expect_rc 2 || return
	expect_match "$ERR" "not a port number" "usage" || return
	primary_eca $P enroll --port 1557
	expect_rc 2 || return
	expect_match "$ERR" "goes with --remote-host" "usage"
}

c_only_root_or_ecads_user_may_ask() {
	local d
	if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
		echo "skipped: needs root"
		pass
		return
	fi
	# A copy nobody can read; the control socket stays in the 0700 run dir.
	d=$(mktemp -d "${TMPDIR:-/tmp}/eca-it-remote.XXXXXX") || return
	chmod 755 "$d"
	cp "${P_CONF[$P]}" "$d/eca.conf"
	chmod 644 "$d/eca.conf"
	run_cmd setpriv --reuid=nobody --regid=nogroup --clear-groups "$ECA" \
	    -f "$d/eca.conf" enroll --remote-host $M
	rm -f "$d/eca.conf"
	rmdir "$d"
	expect_rc 5 || return
	expect_match "$ERR" "permission denied \(administration on the primary needs root or the daemon's user" "stderr"
}

c_remote_enrollment_enrolls_the_host() {
	local fp
	fp=$(cert_fp "$(host_dir $M)/cert.pem")
	primary_eca $P enroll --remote-host $M
	expect_rc 0 || return
	expect_match "$OUT" "^Enrolled $M with $P \\(host ID [0-9a-f-]{36}, fingerprint $fp\\)$" "the output" || return
	# The same with --port naming the port PEER gives.
	primary_eca $P enroll --remote-host $M --port "${LPORT[$M]}"
	expect_rc 0 || return
	expect_match "$OUT" "^$M already enrolled with $P \\(unchanged" "the output" || return
	expect_db "SELECT state FROM enrollments WHERE host='$M'" ENROLLED || return
	# The alias, and --json as a local `eca enroll --json` prints it.
	primary_eca $P --json enroll -remoteHost $M
	expect_rc 0 || return
	expect_json .outcome UNCHANGED || return
	expect_json .precheck false || return
	expect_json .enrollment.host $M || return
	expect_json .enrollment.certificate.fingerprint "$fp" || return
	host_eca $M --json enroll
	expect_rc 0 || return
	expect_json 'keys | join(",")' "enrollment,outcome,precheck"
}

c_renewal_and_conflict_come_back_as_locally() {
	local log from
	log=$(host_dir $M)/ecad.log
	renew_host $M --reuse-key "$(host_dir $M)/key.pem" || return
	from=$(log_lines "$log")
	kill -HUP "${H_PID[$M]}"
	wait_log "$log" "configuration reloaded" 10 "$from" || return
	primary_eca $P enroll --remote-host $M
	expect_rc 0 || return
	expect_match "$OUT" "^$M renewed with $P: new certificate, same key" "the output" || return
	renew_host $M || return
	from=$(log_lines "$log")
	kill -HUP "${H_PID[$M]}"
	wait_log "$log" "configuration reloaded" 10 "$from" || return
	primary_eca $P --json enroll --remote-host $M
	expect_rc 5 || return
	expect_json .error.code CONFLICT
}

c_both_sides_journal_the_request() {
	wait_settled $P || return
	primary_eca $P --json audit show --host $M
	expect_rc 0 || return
	expect_json '[.entries[] | select(.event == "remote_enroll")] | length' 6 || return
	expect_json '[.entries[] | select(.event == "remote_enroll")][1].actor | startswith("local:")' true || return
	expect_json '[.entries[] | select(.event == "remote_enroll")][1].fingerprint | length' 64 || return
	expect_json '[.entries[] | select(.event == "remote_enroll")][0].reason' UNREACHABLE || return
	expect_json '[.entries[] | select(.event == "remote_enroll")][5].reason' CONFLICT || return
	expect_json '[.entries[] | .event] | index("enrolled") != null' true || return
	primary_eca $P --json audit show --host $DOWN
	expect_json '.entries[0].reason' UNREACHABLE || return
	expect_match "$(cat "$(host_dir $M)/ecad.log")" "remote enrollment asked by primary $P .*: ENROLLED" "the host's log" || return
	primary_eca $P audit verify
	expect_rc 0
}

run_case "a primary, enrolled with itself, a media host's ecad, an enrolled client" c_setup
run_case "an unreachable host is named with the remedy" c_unreachable_host_is_named_with_a_remedy
run_case "a host not configured with this primary is refused, saying so" c_host_not_configured_with_this_primary
run_case "the host takes the request only from its primary" c_only_its_primary_may_ask
run_case "usage errors: options, the primary itself, a host that is not the primary" c_usage_errors
run_case "only root or ecad's user may ask for a remote enrollment" c_only_root_or_ecads_user_may_ask
run_case "eca enroll --remote-host enrolls the host and prints its result" c_remote_enrollment_enrolls_the_host
run_case "a renewal and a conflict come back as a local eca enroll shows them" c_renewal_and_conflict_come_back_as_locally
run_case "the request is journaled on the primary and logged on the host" c_both_sides_journal_the_request
