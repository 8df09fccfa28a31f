#!/bin/bash
# SPDX-License-Identifier: ISC
# it-timeout: 200
# NAT hosts behind a real NAT (issue 10, docs/nat.md).  The test builds its
# network with network namespaces, veth pairs and nftables masquerading:
#
#   DC    10.77.1.0/24  primary.nat.test 10.77.1.1 (API, peer, broker)
#                       media1.nat.test  10.77.1.2 (peer listener)
#   RT    router: 10.77.1.254 and 10.77.2.254, forwards, masquerades
#                 site -> dc (nft `masquerade`)
#   SITE  10.77.2.0/24  nat1.nat.test 10.77.2.1 (NAT_CLIENT, enrolled)
#                       nat2.nat.test 10.77.2.2 (NAT_CLIENT, not enrolled)
#
# DC has no route to the site: only the NAT hosts open connections.
# Needs root (network namespaces); says "skipped: needs root" otherwise.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ]; then
	echo "skipped: needs root"
	exit 0
fi
for tool in ip nft python3; do
	if ! command -v "$tool" >/dev/null; then
		echo "Bail out! $tool is missing (scripts/install-deps.sh installs it)"
		IT_FAILED=1
		exit 1
	fi
done

P=primary.nat.test
M=media1.nat.test
N1=nat1.nat.test
N2=nat2.nat.test
DCIP=10.77.1.1
MIP=10.77.1.2
N1IP=10.77.2.1
N2IP=10.77.2.2
HB=1 # BROKER_HEARTBEAT_SECONDS: offline within 3 s

# Per-run names, so that runs side by side do not meet.
NS_DC=eca$$dc
NS_RT=eca$$rt
NS_SITE=eca$$site
IF_D=e$$d   # dc side of dc <-> router
IF_RD=e$$rd # router side
IF_S=e$$s   # site side of site <-> router
IF_RS=e$$rs # router side
# The relay's second site (SITE2 behind RT2, itself on SITE's network).
NS_RT2=eca$$rt2
NS_SITE2=eca$$site2

net_down() {
	local ns
	for ns in $NS_DC $NS_RT $NS_SITE $NS_RT2 $NS_SITE2; do
		ip netns del "$ns" 2>/dev/null || true
	done
}
# On exit: the daemons stop first, then the network goes, then the
# harness's own ending (with the status the script exited with).
trap 'rc=$?; stop_all; net_down; (exit $rc); _it_finish' EXIT

# Only the network namespace is entered (nsenter), not `ip netns exec`,
# which also remounts / and /sys: that fails where / is no mount point (a
# chroot), and nothing here needs it.
in_ns() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" "$@"
}

# in_ns_exec NS CMD...: as in_ns, the shell replaced by CMD, for the
# background (`in_ns_exec NS CMD &`): $! is then CMD's own PID, which
# stop_all stops.  (`in_ns NS CMD &` would give the PID of a subshell
# running the function, and CMD would outlive it.)
in_ns_exec() {
	local ns=$1
	shift
	exec nsenter --net="/run/netns/$ns" "$@"
}

net_up() {
	ip netns add $NS_DC && ip netns add $NS_RT && ip netns add $NS_SITE &&
	    ip link add $IF_D netns $NS_DC type veth peer name $IF_RD netns $NS_RT &&
	    ip link add $IF_S netns $NS_SITE type veth peer name $IF_RS netns $NS_RT ||
	    return 1
	in_ns $NS_DC sh -e -c "ip link set lo up; ip link set $IF_D up
	    ip addr add $DCIP/24 dev $IF_D; ip addr add $MIP/24 dev $IF_D" &&
	in_ns $NS_RT sh -e -c "ip link set lo up; ip link set $IF_RD up
	    ip link set $IF_RS up
	    ip addr add 10.77.1.254/24 dev $IF_RD
	    ip addr add 10.77.2.254/24 dev $IF_RS
	    sysctl -qw net.ipv4.ip_forward=1" &&
	in_ns $NS_RT nft -f - <<EOF &&
table ip nat {
	chain postrouting {
		type nat hook postrouting priority 100;
		oifname "$IF_RD" masquerade
	}
}
EOF
	in_ns $NS_SITE sh -e -c "ip link set lo up; ip link set $IF_S up
	    ip addr add $N1IP/24 dev $IF_S; ip addr add $N2IP/24 dev $IF_S
	    ip route add default via 10.77.2.254"
}

# tcp_connects NS ADDR PORT: 0 when a TCP connection from NS gets through
# (2 s bound); the error on stdout otherwise.
tcp_connects() {
	in_ns "$1" python3 -c '
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), 2).close()
except OSError as e:
    print(e)
    sys.exit(1)' "$2" "$3"
}

# start_in NS NAME CONF DIR: ecad in the namespace, waited for.
start_in() {
	local ns=$1 name=$2 conf=$3 d=$4 i pid
	: >"$d/ecad.log"
	in_ns_exec "$ns" "$ECAD" -d -f "$conf" 2>>"$d/ecad.log" >>"$d/ecad.out" &
	pid=$!
	IT_PIDS+=("$pid")
	for ((i = 0; i < READY_TIMEOUT * 10; i++)); do
		grep -q 'ecad: ready' "$d/ecad.log" 2>/dev/null && return 0
		if ! kill -0 "$pid" 2>/dev/null; then
			fail "ecad for $name exited: $(tail -3 "$d/ecad.log" | tr '\n' ' ')"
			return 1
		fi
		sleep 0.1
	done
	fail "ecad for $name not ready within ${READY_TIMEOUT}s"
	return 1
}

# eca_in NS HOST ARGS...: `eca` with HOST's config, inside NS.
eca_in() {
	local ns=$1 h=$2
	shift 2
	run_cmd nsenter --net="/run/netns/$ns" "$ECA" -f "$(host_dir "$h")/eca.conf" "$@"
}

# nat_host NAME ADDR: a NAT host's config (not started).
nat_host() {
	make_host "$1" --server "$P" --conf "NAT_CLIENT = YES" \
	    --conf "BROKER_LISTEN = 0.0.0.0:$BPORT" \
	    --conf "BROKER_HEARTBEAT_SECONDS = $HB" \
	    --conf "PEER = $M $MIP:$MPORT" --conf "LOG_LEVEL = debug" || return 1
	sed -i "s/^SERVER = .*/SERVER = $P $DCIP:${P_PORT[$P]}/" \
	    "$(host_dir "$1")/eca.conf"
	mkdir -p "$(host_dir "$1")/state" && chmod 700 "$(host_dir "$1")/state"
}

# online_on_primary HOST: "nat online" of HOST in the primary's list.
online_on_primary() {
	primary_eca "$P" --json list
	jq -r --arg h "$1" '.enrollments[] | select(.host == $h) |
	    "\(.nat) \(.online)"' <<<"$OUT"
}

# wait_online HOST WANT SECONDS: polls the primary's list until HOST is
# "true WANT" (online true/false), within SECONDS.
wait_online() {
	local h=$1 want=$2 secs=$3 i got=""
	for ((i = 0; i < secs * 5; i++)); do
		got=$(online_on_primary "$h")
		[ "$got" = "true $want" ] && return 0
		sleep 0.2
	done
	fail "$h is '$got' (nat online) on the primary after ${secs}s, expected 'true $want'"
	return 1
}

# scrape_metrics NS URL [CURL ARGS...]: GET URL's /metrics from inside
# NS, parsed by prometheus_client; the samples in $SAMPLES, one
# "NAME{K=V,...} VALUE" line each (labels sorted).
scrape_metrics() {
	local ns=$1 url=$2
	shift 2
	run_cmd nsenter --net="/run/netns/$ns" curl -sS --max-time 10 "$@" "$url"
	if [ "$RC" != 0 ]; then
		fail "GET $url failed: $(_it_short "$ERR")"
		return 1
	fi
	parse_metrics
}

# The primary's /metrics on its control socket; NAT host $N1's on its
# METRICS_LISTEN inside the site.
scrape_primary() {
	scrape_metrics $NS_DC http://localhost/metrics \
	    --unix-socket "${P_DIR[$P]}/state/ecad.sock"
}
scrape_nat1() {
	scrape_metrics $NS_SITE "http://127.0.0.1:$NMPORT/metrics"
}

# --- cases --------------------------------------------------------------------

c_setup() {
	net_up || { fail "cannot build the namespaces and the NAT"; return; }
	P_PORT[$P]=$(free_port) && MPORT=$(free_port) && BPORT=$(free_port) &&
	    LPORT=$(free_port) && NMPORT=$(free_port) ||
	    { fail "no free port"; return; }
	make_primary "$P" "BROKER_LISTEN = $DCIP:$BPORT" \
	    "LISTEN = $DCIP:$LPORT" || { fail "cannot make primary $P"; return; }
	sed -i "s/^API_LISTEN = .*/API_LISTEN = $DCIP:${P_PORT[$P]}/" "${P_CONF[$P]}"
	start_in $NS_DC $P "${P_CONF[$P]}" "${P_DIR[$P]}" || return
	make_host $M --server "$P" --conf "LISTEN = $MIP:$MPORT" \
	    --conf "PEER = $N1 $N1IP:1557" --conf "LOG_LEVEL = debug" || return
	sed -i "s/^ROLE = client$/ROLE = media/; s/^SERVER = .*/SERVER = $P $DCIP:${P_PORT[$P]}/" \
	    "$(host_dir $M)/eca.conf"
	mkdir -p "$(host_dir $M)/state" && chmod 700 "$(host_dir $M)/state"
	start_in $NS_DC $M "$(host_dir $M)/eca.conf" "$(host_dir $M)" || return
	nat_host $N1 && nat_host $N2 ||
	    { fail "cannot make the NAT hosts"; return; }
	sed -i "/^CLIENT_NAME/a LISTEN = $N1IP:1557" "$(host_dir $N1)/eca.conf"
	sed -i "/^CLIENT_NAME/a METRICS_LISTEN = 127.0.0.1:$NMPORT" "$(host_dir $N1)/eca.conf"
	eca_in $NS_SITE $N1 --json enroll
	expect_rc 0 || return
	start_in $NS_SITE $N1 "$(host_dir $N1)/eca.conf" "$(host_dir $N1)" || return
	expect_match "$(cat "$(host_dir $N1)/ecad.log")" 'no peer listener' \
	    "the NAT host's log"
}

c_nat_host_is_online_on_the_primary() {
	wait_online $N1 true 10 || return
	primary_eca "$P" --json list
	expect_json "[.enrollments[] | select(.host == \"$N1\") | .online_since | test(\"^20\")] | .[0]" true || return
	expect_json "[.enrollments[] | select(.host == \"$M\")] | length" 0 || return
	primary_eca "$P" list
	expect_match "$(grep "^$N1 " <<<"$OUT")" ' online$' "eca list's row of $N1" || return
	eca_in $NS_SITE $N1 --json status
	expect_rc 0 || return
	expect_json ".servers[0].broker.online" true || return
	expect_json ".servers[0].broker.last_heartbeat | test(\"^20\")" true || return
	eca_in $NS_SITE $N1 status
	expect_match "$OUT" "Broker session with $P \\($DCIP:$BPORT\\): online since" \
	    "eca status on the NAT host"
}

c_metrics_show_the_broker_sessions() {
	scrape_primary || return
	expect_eq "$(sample 'eca_broker_sessions_online{}')" 1 "the broker's sessions online" || return
	expect_match "$(sample 'eca_broker_registrations_total{result=ok}')" '^[1-9]' \
	    "registrations ok" || return
	expect_eq "$(sample 'eca_broker_reverse_requests_total{result=offline}')" 0 \
	    "reverse requests offline" || return
	expect_eq "$(sample 'eca_console_sessions_open{}')" absent "the console's sessions (no console)" || return
	scrape_nat1 || return
	expect_eq "$(sample "eca_broker_session_up{primary=$P}")" 1 "$N1's session" || return
	expect_eq "$(sample "eca_broker_reconnects_total{primary=$P}")" 0 "$N1's reconnects"
}

c_metrics_counters_moved() {
	scrape_nat1 || return
	expect_eq "$(sample "eca_broker_session_up{primary=$P}")" 1 "$N1's session" || return
	expect_match "$(sample "eca_broker_reconnects_total{primary=$P}")" '^[1-9]' \
	    "$N1's reconnects after the cut" || return
	scrape_primary || return
	expect_match "$(sample 'eca_broker_reverse_requests_total{result=ok}')" '^[1-9]' \
	    "reverse requests ok" || return
	expect_match "$(sample 'eca_broker_reverse_requests_total{result=offline}')" '^[1-9]' \
	    "reverse requests offline (the cut)" || return
	expect_match "$(sample 'eca_broker_reverse_requests_total{result=refused}')" '^[1-9]' \
	    "reverse requests refused (restricted session)" || return
	expect_eq "$(sample 'eca_broker_sessions_online{}')" 2 "the broker's sessions online"
}

c_nat_host_opens_no_listener() {
	local why
	why=$(tcp_connects $NS_SITE $N1IP 1557) &&
	    { fail "the NAT host accepts connections on port 1557"; return; }
	expect_match "$why" 'refused' "connecting to the NAT host's port" && pass
}

c_dc_cannot_reach_the_site() {
	local why
	tcp_connects $NS_SITE $DCIP "${P_PORT[$P]}" ||
	    { fail "the site cannot reach the primary"; return; }
	why=$(tcp_connects $NS_DC $N1IP 22) &&
	    { fail "the datacenter reaches the site's address"; return; }
	expect_match "$why" 'unreachable' "a connection from the datacenter to $N1IP"
}

c_unenrolled_media_is_refused_with_the_nat_reason() {
	eca_in $NS_SITE $N2 --json ping $M --purpose backup
	expect_rc 3 || return
	expect_json .verdict.code NOT_ENROLLED || return
	expect_match "$OUT" "communication with a NAT host does not enroll automatically: run .eca enroll --server $P. on $M" \
	    "the refusal" || return
	expect_db "SELECT count(*) FROM enrollments WHERE host IN ('$M','$N2')" 0
}

c_unenrolled_nat_host_is_refused_by_an_enrolled_media() {
	eca_in $NS_DC $M --json enroll
	expect_rc 0 || return
	eca_in $NS_SITE $N2 --json ping $M --purpose backup
	expect_rc 3 || return
	expect_json .verdict.code NOT_ENROLLED || return
	expect_match "$OUT" "communication with a NAT host does not enroll automatically: run .eca enroll --server $P. on $N2" \
	    "the refusal" || return
	expect_db "SELECT count(*) FROM enrollments WHERE host='$N2'" 0
}

c_enrolled_nat_host_reaches_the_media_directly() {
	eca_in $NS_SITE $N1 --json ping $M --purpose backup
	expect_rc 0 || return
	expect_json .verdict.accept true || return
	expect_json .autoenrolled false || return
	expect_db "SELECT method FROM enrollments WHERE host='$N1'" MANUAL
}

c_media_reaches_the_nat_host_only_by_a_reverse_connection() {
	local why
	# No route from the datacenter to the NAT host's peer port...
	why=$(tcp_connects $NS_DC $N1IP 1557) &&
	    { fail "the media server reaches $N1IP:1557 directly"; return; }
	expect_match "$why" 'unreachable' "a direct connection from $M to $N1" || return
	# ... while a channel through a reverse connection succeeds.
	eca_in $NS_DC $M --json ping $N1 --reverse --purpose backup
	expect_rc 0 || return
	expect_json .verdict.accept true || return
	expect_json .autoenrolled false || return
	expect_match "$(jq -r .steps.address <<<"$OUT")" 'reverse' "the channel's address" || return
	expect_json .reverse true || return
	wait_log "$(host_dir $N1)/ecad.log" "reverse connection to .* for $M \\(backup\\): connected" 5
}

c_non_domain_host_cannot_ask_for_a_reverse_connection() {
	eca_in $NS_SITE $N2 --json ping $N1 --reverse
	expect_rc 3 || return
	expect_match "$ERR$OUT" 'NOT_ENROLLED' "the primary's answer" || return
	expect_match "$ERR$OUT" 'only enrolled hosts of the domain may ask' "the primary's answer" || return
	# The control socket names no host: refused, not served.
	run_cmd curl -sS --max-time 10 --unix-socket "${P_DIR[$P]}/state/ecad.sock" \
	    -X POST -d "{\"from\":\"$M\",\"host\":\"$N1\",\"purpose\":\"ping\",\"port\":9}" \
	    http://localhost/v1/nat/requests
	expect_json .error.code FORBIDDEN
}

# fake_call_back NS ADDR CERT KEY TOKEN: what a forger would do at a
# reverse connection's address: TLS server with its own certificate, a
# server HELLO that claims to be NAT host $N1 with TOKEN; then waits for
# the caller to hang up.
fake_call_back() {
	in_ns "$1" python3 - "$2" "$3" "$4" "$5" "$N1" "$P" <<'PY'
import json, socket, ssl, struct, sys
addr, cert, key, token, host, primary = sys.argv[1:7]
ip, port = addr.rsplit(":", 1)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
s = ctx.wrap_socket(socket.create_connection((ip, int(port)), 5),
                    server_side=True)
hello = json.dumps({"v": 1, "host": host, "role": "client",
                    "primaries": [primary], "cert": True, "nat": True,
                    "token": token}).encode()
s.sendall(struct.pack(">I", len(hello)) + hello)
s.settimeout(5)
try:
    s.recv(1)
except (OSError, ssl.SSLError):
    pass
PY
}

c_forged_call_back_is_refused() {
	local from addr i pid
	# The router lets the site open only the API, the broker and the
	# media server's port: NAT host $N1's own call back cannot get through.
	in_ns $NS_RT nft -f - <<EOF || { fail "cannot add the router's filter"; return; }
table ip callback_filter {
	chain forward {
		type filter hook forward priority 0;
		iifname "$IF_RS" tcp dport != { ${P_PORT[$P]}, $BPORT, $MPORT } drop
	}
}
EOF
	from=$(log_lines "${P_DIR[$P]}/ecad.log")
	in_ns_exec $NS_DC timeout -k 5 "$CMD_TIMEOUT" "$ECA" \
	    -f "$(host_dir $M)/eca.conf" --json ping $N1 --reverse \
	    >"$T/forged.out" 2>"$T/forged.err" &
	pid=$!
	IT_PIDS+=("$pid")
	wait_log "${P_DIR[$P]}/ecad.log" 'callback address' 10 "$((from + 1))" || return
	addr=$(tail -n +"$((from + 1))" "${P_DIR[$P]}/ecad.log" |
	    sed -n 's/.*callback address \([0-9.]*:[0-9]*\).*/\1/p' | tail -1)
	fake_call_back $NS_DC "$addr" "$(host_dir $N2)/cert.pem" \
	    "$(host_dir $N2)/key.pem" "$(printf '0%.0s' {1..64})"
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	wait "$pid"
	RC=$?
	in_ns $NS_RT nft delete table ip callback_filter
	ERR=$(cat "$T/forged.err") OUT=$(cat "$T/forged.out")
	LAST_CMD="eca ping $N1 --reverse (forged call back)"
	expect_rc 5 || return
	expect_json .verdict.code FORBIDDEN || return
	expect_match "$ERR" 'forged or replayed call back' "the caller's refusal"
}

# wait_broker_code HOST CODE SECONDS: HOST's eca status --json shows its
# broker session failing with CODE, within SECONDS.
wait_broker_code() {
	local i
	for ((i = 0; i < $3 * 5; i++)); do
		eca_in $NS_SITE "$1" --json status
		[ "$(jq -r '.servers[0].broker.code' <<<"$OUT" 2>/dev/null)" = "$2" ] &&
		    return 0
		sleep 0.2
	done
	fail "$1's broker session is not refused with $2 within $3 s: $(_it_short "$OUT")"
	return 1
}

# wait_broker_online HOST SECONDS: HOST's eca status --json shows its
# broker session online, within SECONDS.
wait_broker_online() {
	local i
	for ((i = 0; i < $2 * 5; i++)); do
		eca_in $NS_SITE "$1" --json status
		[ "$(jq -r '.servers[0].broker.online' <<<"$OUT" 2>/dev/null)" = true ] &&
		    return 0
		sleep 0.2
	done
	fail "$1's broker session is not online within $2 s: $(_it_short "$OUT")"
	return 1
}

c_unenrolled_nat_host_gets_a_restricted_session() {
	start_in $NS_SITE $N2 "$(host_dir $N2)/eca.conf" "$(host_dir $N2)" || return
	wait_broker_online $N2 10 || return
	wait_log "${P_DIR[$P]}/ecad.log" "NAT host $N2 .* is online \\(restricted: not enrolled\\)" 5 ||
	    return
	primary_stats "$P" || return
	expect_json .broker.restricted 1 || return
	# Not in the registry, but listed as online on a restricted session.
	primary_eca "$P" --json list --nat
	expect_rc 0 || return
	expect_json '[.restricted[].host] | join(" ")' $N2 || return
	expect_json "[.enrollments[].host] | index(\"$N2\")" null || return
	expect_match "$(jq -r '.restricted[0].address' <<<"$OUT")" '^10\.77\.1\.254:[0-9]+$' \
	    "the restricted session's address (the router's)" || return
	primary_eca "$P" list --nat
	expect_rc 0 || return
	expect_match "$(grep "^$N2 " <<<"$OUT")" "NOT_ENROLLED .* online \(restricted\)$" \
	    "eca list --nat's row of $N2" || return
	# A reverse connection to it is refused, with the remedy.
	eca_in $NS_DC $M --json ping $N2 --reverse --purpose backup
	expect_rc 3 || return
	expect_match "$ERR$OUT" 'NOT_ENROLLED' "the primary's answer" || return
	expect_match "$ERR$OUT" "eca enroll --remote-host $N2. on $P" \
	    "the remedy" || return
	primary_stats "$P" || return
	expect_match "$(jq -r .broker.reverse_refused <<<"$OUT")" '^[1-9]' \
	    "the broker's reverse_refused" || return
	expect_db "SELECT count(*) FROM enrollments WHERE host='$N2'" 0
}

c_remote_enrollment_through_the_broker_session() {
	local fp
	fp=$(cert_fp "$(host_dir $N2)/cert.pem")
	# A primary is a host of its own domain: it enrolls with itself.
	run_cmd nsenter --net="/run/netns/$NS_DC" "$ECA" -f "${P_CONF[$P]}" enroll
	expect_rc 0 || return
	primary_eca $P enroll --remote-host $N2
	expect_rc 0 || return
	expect_match "$OUT" "^Enrolled $N2 with $P \\(host ID [0-9a-f-]{36}, fingerprint $fp\\)$" \
	    "the output" || return
	expect_db "SELECT state || ' ' || fingerprint FROM enrollments WHERE host='$N2'" \
	    "ENROLLED $fp" || return
	wait_log "$(host_dir $N2)/ecad.log" "remote enrollment asked by primary $P \\(through its broker session" 5 ||
	    return
	# Judged again, its session is a full one: reverse connections go.
	wait_log "${P_DIR[$P]}/ecad.log" "NAT host $N2 .* is online, heartbeat" 10 || return
	eca_in $NS_DC $M --json ping $N2 --reverse --purpose backup
	expect_rc 0 || return
	expect_json .verdict.accept true || return
	primary_eca $P --json enroll --remote-host $N2
	expect_rc 0 || return
	expect_json .outcome UNCHANGED || return
	expect_json .enrollment.certificate.fingerprint "$fp"
}

c_cut_site_link_goes_offline_then_reconnects() {
	local t0 t1
	t0=$(date +%s)
	in_ns $NS_SITE ip link set $IF_S down ||
	    { fail "cannot cut the site link"; return; }
	wait_online $N1 false $((3 * HB + 4)) || return
	t1=$(date +%s)
	expect_match "$((t1 - t0))" '^[0-7]$' "seconds to offline" || return
	primary_eca "$P" list
	expect_match "$(grep "^$N1 " <<<"$OUT")" ' offline$' "eca list's row of $N1" || return
	local s0 s1
	s0=$(date +%s%N)
	eca_in $NS_DC $M --json ping $N1 --reverse
	s1=$(date +%s%N)
	expect_rc 4 || return
	expect_match "$ERR$OUT" 'NAT_HOST_OFFLINE' "a reverse ping to an offline NAT host" || return
	expect_match "$(((s1 - s0) / 1000000))" '^[0-9]{1,4}$' "milliseconds to NAT_HOST_OFFLINE" || return
	primary_stats "$P" || return
	expect_json .broker.online 0 || return
	expect_match "$(jq -r .broker.missed_heartbeats <<<"$OUT")" '^[1-9]' \
	    "the broker's missed_heartbeats" || return
	eca_in $NS_SITE $N1 --json status
	expect_json ".servers[0].broker.online" false || return
	expect_match "$(jq -r .servers[0].broker.code <<<"$OUT")" \
	    '^(TIMEOUT|UNREACHABLE)$' "the broker session's error" || return
	in_ns $NS_SITE sh -e -c "ip link set $IF_S up
	    ip route replace default via 10.77.2.254" ||
	    { fail "cannot restore the site link"; return; }
	wait_online $N1 true 20 || return
	primary_stats "$P" || return
	expect_json .broker.online 1 || return
	expect_json '.broker.registrations >= 2' true
}

run_case "a datacenter, a router that masquerades and a site, with a primary, a media server and NAT hosts" c_setup
run_case "the NAT host's broker session shows online on the primary (eca list --json) and in its eca status" \
    c_nat_host_is_online_on_the_primary
run_case "GET /metrics: the primary's broker sessions and registrations, the NAT host's session per primary" \
    c_metrics_show_the_broker_sessions
run_case "a NAT host opens no peer listener" c_nat_host_opens_no_listener
run_case "the datacenter has no route to the site, the site reaches the datacenter" \
    c_dc_cannot_reach_the_site
run_case "a NAT host's channel to an unenrolled media server is refused with the NAT reason, enrolling neither" \
    c_unenrolled_media_is_refused_with_the_nat_reason
run_case "an unenrolled NAT host is refused by an enrolled media server with the NAT reason, and not enrolled" \
    c_unenrolled_nat_host_is_refused_by_an_enrolled_media
run_case "an enrolled NAT host reaches the media server directly" \
    c_enrolled_nat_host_reaches_the_media_directly
run_case "a direct channel from the media server to the NAT host fails (no route) while one through a reverse connection succeeds" \
    c_media_reaches_the_nat_host_only_by_a_reverse_connection
run_case "a call back that does not name the request's token is refused" \
    c_forged_call_back_is_refused
run_case "a host that is not enrolled cannot ask for a reverse connection" \
    c_non_domain_host_cannot_ask_for_a_reverse_connection
run_case "cutting the site link makes the NAT host offline within the heartbeat bound, reverse pings fail fast with NAT_HOST_OFFLINE; restoring it reconnects" \
    c_cut_site_link_goes_offline_then_reconnects
run_case "an unenrolled NAT host gets only a restricted broker session: a reverse connection to it is refused NOT_ENROLLED" \
    c_unenrolled_nat_host_gets_a_restricted_session
run_case "eca enroll --remote-host NATHOST on the primary enrolls the NAT host through its broker session" \
    c_remote_enrollment_through_the_broker_session
run_case "GET /metrics: the NAT host's reconnects and the reverse requests by result moved" \
    c_metrics_counters_moved

# --- NAT flag, routes and visibility (issue 10: registry, roster, ping) ---------
# Cases of the NAT flag in the registry and the roster, the route a channel
# takes (ENABLE_DIRECT_CONNECTION) and what eca list / eca ping show.  They
# run after the cases above (N1 and N2 enrolled, both online), before the relay's.

N4=nat4.nat.test
N4IP=10.77.2.4

c_registry_and_roster_flag_nat_hosts() {
	expect_db "SELECT group_concat(h, ',') FROM (SELECT host || ' ' || nat AS h FROM enrollments WHERE host IN ('$N1','$M') ORDER BY host)" \
	    "$M 0,$N1 1" || return
	primary_eca "$P" --json list --nat
	expect_rc 0 || return
	expect_json "[.enrollments[].host] | sort | join(\" \")" "$N1 $N2" || return
	expect_json "[.enrollments[] | .nat and .online] | all" true || return
	primary_eca "$P" list --nat
	expect_rc 0 || return
	expect_match "$(grep "^$N1 " <<<"$OUT")" ' online$' "eca list --nat's row of $N1" || return
	expect_match "$OUT" "^HOST .* NAT$" "eca list --nat's header" || return
	[ -z "$(grep "^$M " <<<"$OUT")" ] ||
	    { fail "eca list --nat shows $M, not a NAT host"; return; }
	pass
}

c_nat_host_by_the_roster_is_reached_in_reverse_by_default() {
	eca_in $NS_DC $M --json ping $N1 --purpose backup
	expect_rc 0 || return
	expect_json .verdict.accept true || return
	expect_json .steps.route reverse || return
	expect_json .reverse true || return
	expect_json ".steps.request_us > 0 and .steps.callback_us > 0" true || return
	expect_json .steps.fell_back false || return
	eca_in $NS_DC $M ping $N1
	expect_rc 0 || return
	expect_match "$OUT" "route reverse: a reverse connection through the primary" "the header" || return
	expect_match "$OUT" "request .* ms  asked primary $P to have $N1 call back" "the request step" || return
	expect_match "$OUT" "reverse connect .* ms  $N1 called back from 10\\.77\\.1\\.254:[0-9]+ \\(reverse\\)" \
	    "the reverse connect step" || return
	expect_match "$OUT" "TLS .* ms  TLSv1\\.[23]" "the TLS step" || return
	expect_match "$OUT" "verdict: ACCEPTED" "the verdict"
}

# $N4: a NAT host enrolled while it was not one, in the media server's
# roster as a plain host: what ENABLE_DIRECT_CONNECTION is for (the
# primary flags it once its broker session comes up, but the media
# server's roster does not say so until its next sync).
c_direct_connection_first_then_reverse() {
	local conf
	in_ns $NS_SITE ip addr add $N4IP/24 dev $IF_S ||
	    { fail "cannot add $N4IP"; return; }
	nat_host $N4 || { fail "cannot make $N4"; return; }
	conf="$(host_dir $N4)/eca.conf"
	sed -i '/^NAT_CLIENT/d' "$conf"
	eca_in $NS_SITE $N4 --json enroll
	expect_rc 0 || return
	expect_db "SELECT nat FROM enrollments WHERE host='$N4'" 0 || return
	echo "PEER = $N4 $N4IP:1557" >>"$(host_dir $M)/eca.conf"
	# Default: a host the roster does not flag is reached directly only
	# (this first try also brings $N4 into the media server's roster).
	eca_in $NS_DC $M --json ping $N4
	expect_rc 4 || return
	expect_json .verdict.code UNREACHABLE || return
	expect_json .steps.route direct || return
	echo "NAT_CLIENT = YES" >>"$conf"
	start_in $NS_SITE $N4 "$conf" "$(host_dir $N4)" || return
	wait_broker_online $N4 10 || return
	eca_in $NS_DC $M --json ping $N4
	expect_rc 4 || return
	expect_json .steps.route direct || return
	# ENABLE_DIRECT_CONNECTION = TRUE: directly first, then in reverse.
	cp "$(host_dir $M)/eca.conf" "$T/media-direct.conf"
	echo "ENABLE_DIRECT_CONNECTION = TRUE" >>"$T/media-direct.conf"
	run_cmd nsenter --net="/run/netns/$NS_DC" "$ECA" -f "$T/media-direct.conf" \
	    --json ping $N4 --purpose backup
	expect_rc 0 || return
	expect_json .steps.route direct-then-reverse || return
	expect_json .steps.fell_back true || return
	expect_match "$(jq -r .steps.direct_error <<<"$OUT")" 'unreachable' "the direct try's error" || return
	expect_json .reverse true || return
	run_cmd nsenter --net="/run/netns/$NS_DC" "$ECA" -f "$T/media-direct.conf" ping $N4
	expect_rc 0 || return
	expect_match "$OUT" "direct .* ms  failed: " "the direct step" || return
	expect_match "$OUT" "reverse connect .* $N4 called back" "the reverse connect step"
}

# $N4 registered with the broker in the case above: the primary now knows
# it is a NAT host and its registry says so (ECA_OP_MARK_NAT), journaled
# and in the history as the broker's doing; its own next enrollment
# request changes nothing more.
c_nat_host_is_flagged_by_its_broker_session() {
	local i
	for ((i = 0; i < 50; i++)); do
		[ "$(db_count "SELECT nat FROM enrollments WHERE host='$N4'")" = 1 ] && break
		sleep 0.2
	done
	expect_db "SELECT nat FROM enrollments WHERE host='$N4'" 1 || return
	expect_db "SELECT group_concat(event || ' ' || actor, ',') FROM history WHERE host='$N4' AND event='NAT'" \
	    "NAT broker" || return
	wait_log "${P_DIR[$P]}/ecad.log" "$N4: NAT, asked by broker \(registry version [0-9]+\)" 5 || return
	primary_eca "$P" --json audit show --host $N4
	expect_rc 0 || return
	expect_json '[.entries[] | select(.event == "nat") | .actor] | join(",")' broker || return
	eca_in $NS_SITE $N4 --json enroll
	expect_rc 0 || return
	expect_json .outcome UNCHANGED || return
	expect_db "SELECT count(*) FROM history WHERE host='$N4' AND event='NAT'" 1 || return
	# Now flagged: reached in reverse by default, once the media server's
	# roster has synced (its file dropped: the next channel syncs it).
	rm -f "$(host_dir $M)/state/roster-$P.bin"
	eca_in $NS_DC $M --json ping $N4
	expect_rc 0 || return
	expect_json .steps.route reverse || return
	primary_eca "$P" --json list --nat
	expect_json "[.enrollments[].host] | sort | join(\" \")" "$N1 $N2 $N4"
}

run_case "the registry and the roster flag the NAT hosts; eca list --nat shows them online" \
    c_registry_and_roster_flag_nat_hosts
run_case "a NAT host flagged by the roster is reached by a reverse connection by default; eca ping prints each step" \
    c_nat_host_by_the_roster_is_reached_in_reverse_by_default
run_case "ENABLE_DIRECT_CONNECTION = TRUE: a host the roster does not flag is tried directly, then in reverse" \
    c_direct_connection_first_then_reverse
run_case "a NAT host enrolled as a plain host is flagged by the primary when its broker session comes up (history and journal: NAT, by the broker)" \
    c_nat_host_is_flagged_by_its_broker_session

# --- the relay between NAT hosts, and its tokens (docs/nat.md, "Relay") -----
#
#   RT2    a second router: 10.77.3.254 and 10.77.4.2, its uplink to RT
#          (10.77.4.1), masquerades site2 -> RT, which masquerades again
#   SITE2  10.77.3.0/24  nat3.nat.test 10.77.3.1: it reaches the primary
#                        through two NATs

N3=nat3.nat.test
N3IP=10.77.3.1
IF_S2=e$$t  # site2 side of site2 <-> router2
IF_R2S=e$$u # router2 side of it
IF_R2O=e$$v # router2's uplink to the first router
IF_RO=e$$w  # the first router's side of it

# reload_primary KEY VALUE: set KEY in the primary's configuration (unset
# it when VALUE is empty), SIGHUP it, and wait for the reload's log line.
reload_primary() {
	local from
	set_conf "${P_CONF[$P]}" "$1" "$2" || { fail "cannot set $1"; return 1; }
	from=$(log_lines "${P_DIR[$P]}/ecad.log")
	kill -HUP "$(cat "${P_DIR[$P]}/state/ecad.pid")" ||
	    { fail "cannot SIGHUP the primary"; return 1; }
	wait_log "${P_DIR[$P]}/ecad.log" 'SIGHUP: reloading' 5 "$((from + 1))" || return 1
	sleep 0.5
}

# capture_start FILE / capture_stop: every frame on the primary's link
# (the datacenter side of the router), raw, into FILE: what the relay
# received and sent, as the wire carried it (30 s at most).
capture_start() {
	in_ns_exec $NS_DC python3 - "$IF_D" "$1" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((sys.argv[1], 0))
s.settimeout(0.2)
end = time.time() + 30
with open(sys.argv[2], "wb") as f:
    open(sys.argv[2] + ".ready", "w").close()
    while time.time() < end:
        try:
            f.write(s.recv(65535))
            f.flush()
        except socket.timeout:
            pass
PY
	CAP_PID=$!
	IT_PIDS+=("$CAP_PID")
	local i
	for ((i = 0; i < 100; i++)); do
		[ -e "$1.ready" ] && return 0
		sleep 0.1
	done
	fail "the capture did not start within 10 s"
	return 1
}
capture_stop() {
	sleep 0.5
	kill "$CAP_PID" 2>/dev/null
	wait "$CAP_PID" 2>/dev/null
	return 0
}

# relay_ask NS SIDE TOKEN REQUESTER HOST PURPOSE [HOLD]: one relay request
# from NS to the primary's broker address; the answer's JSON on stdout.
# With HOLD (seconds), then waits that long (saying nothing) and prints
# "closed by the relay" if the relay closed the connection meanwhile.
relay_ask() {
	in_ns "$1" python3 - "$DCIP" "$BPORT" "$2" "$3" "$4" "$5" "$6" "${7:-0}" <<'PY'
import json, socket, struct, sys, time
ip, port, side, token, req, host, purpose, hold = sys.argv[1:9]
s = socket.create_connection((ip, int(port)), 5)
msg = json.dumps({"op": "relay", "v": 1, "side": side, "token": token,
                  "requester": req, "host": host, "purpose": purpose}).encode()
s.sendall(struct.pack(">I", len(msg)) + msg)
s.settimeout(10)
def take(n):
    got = b""
    while len(got) < n:
        b = s.recv(n - len(got))
        if not b:
            sys.exit("the relay closed")
        got += b
    return got
n = struct.unpack(">I", take(4))[0]
print(take(n).decode())
if float(hold) > 0:
    s.settimeout(float(hold))
    try:
        if s.recv(1) == b"":
            print("closed by the relay")
    except socket.timeout:
        print("still open")
    except OSError:
        print("closed by the relay")
PY
}

# nat_token HOST PEER PURPOSE: a token for HOST -> PEER from the primary's
# API (as HOST, with its certificate, from the site); in $TOKEN.
nat_token() {
	run_cmd nsenter --net="/run/netns/$NS_SITE" curl -sS --max-time 10 \
	    --cacert "$CA/trust.pem" --resolve "$P:${P_PORT[$P]}:$DCIP" \
	    --cert "$(host_dir "$1")/cert.pem" --key "$(host_dir "$1")/key.pem" \
	    -X POST -H 'Content-Type: application/json' \
	    -d "{\"from\":\"$1\",\"host\":\"$2\",\"purpose\":\"$3\",\"port\":9}" \
	    "https://$P:${P_PORT[$P]}/v1/nat/requests"
	TOKEN=$(jq -r .token <<<"$OUT" 2>/dev/null)
	if [ "$RC" != 0 ] || [ "${#TOKEN}" != 64 ]; then
		fail "no token for $1 -> $2: $(_it_short "$OUT$ERR")"
		return 1
	fi
	expect_json .relay true
}

c_relay_two_nat_hosts_behind_one_router() {
	local from line
	from=$(log_lines "${P_DIR[$P]}/ecad.log")
	capture_start "$T/relay.cap" || return
	eca_in $NS_SITE $N1 --json ping $N2 --reverse --purpose backup
	capture_stop
	expect_rc 0 || return
	expect_json .verdict.accept true || return
	expect_json .autoenrolled false || return
	expect_match "$(jq -r .steps.address <<<"$OUT")" "^$DCIP:$BPORT \\(relay\\)\$" \
	    "the channel's address" || return
	wait_log "$(host_dir $N2)/ecad.log" "for $N1 \\(backup\\): connected through the relay" 5 ||
	    return
	wait_log "${P_DIR[$P]}/ecad.log" "relay $N1 -> $N2 \\(backup\\): closed: " 10 "$((from + 1))" ||
	    return
	line=$(tail -n +"$((from + 1))" "${P_DIR[$P]}/ecad.log" | grep "relay $N1 -> $N2 (backup): closed" | tail -1)
	expect_match "$line" 'closed: the (caller|callee) closed; [1-9][0-9]+ bytes caller to callee, [1-9][0-9]+ bytes callee to caller' \
	    "the relay's closing line" || return
	primary_stats "$P" || return
	expect_json '.broker.relay.pairs >= 1' true || return
	expect_json '.broker.relay.bytes > 1000' true || return
	expect_json .broker.relay.open 0 || return
	# The same counters in GET /metrics.
	scrape_primary || return
	expect_match "$(sample 'eca_relay_pairs_total{}')" '^[1-9]' "the relay's pairs in /metrics" || return
	expect_eq "$(sample 'eca_relay_pairs_open{}' | sed 's/\.0$//')" 0 "the relay's open pairs in /metrics" || return
	expect_match "$(sample 'eca_relay_bytes_total{}')" '^[1-9][0-9]{3,}' "the relay's bytes in /metrics" || return
	# On the wire at the primary: the relay requests are plain text, the
	# channel's HELLOs (the server's names "primaries") are not: TLS runs
	# end to end between the NAT hosts.
	expect_match "$(grep -c -a '"op":"relay"' "$T/relay.cap")" '^[1-9]' \
	    "relay requests in the capture (it saw the relay's traffic)" || return
	expect_eq "$(grep -c -a 'primaries' "$T/relay.cap")" 0 \
	    "plaintext HELLO markers in what the relay carried"
}

site2_up() {
	ip netns add $NS_RT2 && ip netns add $NS_SITE2 &&
	    ip link add $IF_R2O netns $NS_RT2 type veth peer name $IF_RO netns $NS_RT &&
	    ip link add $IF_R2S netns $NS_RT2 type veth peer name $IF_S2 netns $NS_SITE2 ||
	    return 1
	in_ns $NS_RT sh -e -c "ip link set $IF_RO up; ip addr add 10.77.4.1/30 dev $IF_RO" &&
	in_ns $NS_RT2 sh -e -c "ip link set lo up; ip link set $IF_R2O up
	    ip link set $IF_R2S up
	    ip addr add 10.77.4.2/30 dev $IF_R2O
	    ip addr add 10.77.3.254/24 dev $IF_R2S
	    ip route add default via 10.77.4.1
	    sysctl -qw net.ipv4.ip_forward=1" &&
	in_ns $NS_RT2 nft -f - <<EOF &&
table ip nat {
	chain postrouting {
		type nat hook postrouting priority 100;
		oifname "$IF_R2O" masquerade
	}
}
EOF
	in_ns $NS_SITE2 sh -e -c "ip link set lo up; ip link set $IF_S2 up
	    ip addr add $N3IP/24 dev $IF_S2; ip route add default via 10.77.3.254"
}

c_relay_nat_host_behind_two_routers() {
	site2_up || { fail "cannot build the second site behind a second router"; return; }
	tcp_connects $NS_SITE2 $DCIP "${P_PORT[$P]}" ||
	    { fail "the second site cannot reach the primary"; return; }
	nat_host $N3 || { fail "cannot make $N3"; return; }
	run_cmd nsenter --net="/run/netns/$NS_SITE2" "$ECA" -f "$(host_dir $N3)/eca.conf" --json enroll
	expect_rc 0 || return
	start_in $NS_SITE2 $N3 "$(host_dir $N3)/eca.conf" "$(host_dir $N3)" || return
	wait_online $N3 true 10 || return
	# Through both routers: the primary sees the first router's address.
	wait_log "${P_DIR[$P]}/ecad.log" "NAT host $N3 \\(10\\.77\\.1\\.254:[0-9]+\\) is online" 5 ||
	    return
	run_cmd nsenter --net="/run/netns/$NS_SITE2" "$ECA" -f "$(host_dir $N3)/eca.conf" \
	    --json ping $N1 --reverse --purpose replication
	expect_rc 0 || return
	expect_json .verdict.accept true || return
	expect_match "$(jq -r .steps.address <<<"$OUT")" '\(relay\)$' "the channel's address" || return
	wait_log "$(host_dir $N1)/ecad.log" "for $N3 \\(replication\\): connected through the relay" 5
}

c_relay_refuses_forged_wrong_purpose_replayed_and_expired_tokens() {
	local forged
	forged=$(printf '0%.0s' {1..64})
	OUT=$(relay_ask $NS_SITE caller "$forged" $N1 $N2 backup)
	expect_eq "$(jq -r .code <<<"$OUT")" FORBIDDEN "a forged token's refusal" || return
	expect_match "$OUT" 'forged token' "a forged token's refusal" || return
	nat_token $N1 $N2 backup || return
	OUT=$(relay_ask $NS_SITE caller "$TOKEN" $N1 $N2 console)
	expect_eq "$(jq -r .code <<<"$OUT")" FORBIDDEN "a wrong purpose's refusal" || return
	expect_match "$OUT" 'bound to purpose backup, not console' "a wrong purpose's refusal" || return
	OUT=$(relay_ask $NS_SITE caller "$TOKEN" $N3 $N2 backup)
	expect_match "$OUT" 'forged token' "another requester's claim" || return
	# The right claims pair with $N2 (which the primary sent to the relay).
	OUT=$(relay_ask $NS_SITE caller "$TOKEN" $N1 $N2 backup)
	expect_eq "$(jq -r .op <<<"$OUT")" relayed "the token's first use" || return
	OUT=$(relay_ask $NS_SITE caller "$TOKEN" $N1 $N2 backup)
	expect_match "$OUT" 'replayed token' "the token's second use" || return
	OUT=$(relay_ask $NS_SITE callee "$TOKEN" $N1 $N2 backup)
	expect_match "$OUT" 'replayed token' "the token's use by the other side" || return
	reload_primary NAT_TOKEN_SECONDS 2 || return
	nat_token $N1 $N2 ping || return
	sleep 3
	OUT=$(relay_ask $NS_SITE caller "$TOKEN" $N1 $N2 ping)
	reload_primary NAT_TOKEN_SECONDS "" || return
	expect_eq "$(jq -r .code <<<"$OUT")" FORBIDDEN "an expired token's refusal" || return
	expect_match "$OUT" 'expired [0-9]+ s ago' "an expired token's refusal" || return
	primary_stats "$P" || return
	expect_json '.broker.relay.refused >= 5' true
}

c_relay_budget_exceeded_closes_it() {
	local from rc
	reload_primary RELAY_MAX_KBYTES 1 || return
	from=$(log_lines "${P_DIR[$P]}/ecad.log")
	eca_in $NS_SITE $N1 --json ping $N2 --reverse --purpose backup
	rc=$RC
	reload_primary RELAY_MAX_KBYTES "" || return
	expect_match "$rc" '^[1-9]' "a ping through a relay with a 1 KiB budget fails" || return
	wait_log "${P_DIR[$P]}/ecad.log" \
	    "relay $N1 -> $N2 \\(backup\\): closed: byte budget exceeded \\(RELAY_MAX_KBYTES = 1\\)" \
	    5 "$((from + 1))" || return
	primary_stats "$P" || return
	expect_json '.broker.relay.budget_closed >= 1' true || return
	scrape_primary || return
	expect_match "$(sample 'eca_relay_budget_closes_total{}')" '^[1-9]' \
	    "the relay's budget closes in /metrics" || return
	# The budget is back: the relay carries the channel again.
	eca_in $NS_SITE $N1 --json ping $N2 --reverse --purpose backup
	expect_rc 0
}

c_relay_time_budget_closes_it() {
	local from
	reload_primary RELAY_MAX_SECONDS 1 || return
	from=$(log_lines "${P_DIR[$P]}/ecad.log")
	nat_token $N1 $N2 backup || return
	# Paired with $N2 (sent to the relay), then silent past the budget.
	OUT=$(relay_ask $NS_SITE caller "$TOKEN" $N1 $N2 backup 4)
	reload_primary RELAY_MAX_SECONDS "" || return
	expect_match "$OUT" '"op": ?"relayed"' "the relay's answer" || return
	expect_match "$OUT" 'closed by the relay' "the pair after its time budget" || return
	wait_log "${P_DIR[$P]}/ecad.log" \
	    "relay $N1 -> $N2 \\(backup\\): closed: time budget exceeded \\(RELAY_MAX_SECONDS = 1\\)" \
	    5 "$((from + 1))"
}

run_case "two NAT hosts behind the same router: the channel goes through the primary's relay, which sees only ciphertext and counts the bytes" \
    c_relay_two_nat_hosts_behind_one_router
run_case "a NAT host behind two routers reaches another NAT host through the relay" \
    c_relay_nat_host_behind_two_routers
run_case "the relay refuses forged, wrong-purpose, misbound, replayed and expired tokens" \
    c_relay_refuses_forged_wrong_purpose_replayed_and_expired_tokens
run_case "a relay over its byte budget (RELAY_MAX_KBYTES) is closed, and the primary says why" \
    c_relay_budget_exceeded_closes_it
run_case "a relay past its time budget (RELAY_MAX_SECONDS) is closed, and the primary says why" \
    c_relay_time_budget_closes_it

# fake_requester NS HOST PURPOSE_ASKED PURPOSE_SAID: what HOST (enrolled,
# with its own certificate) could do with a reverse connection: ask the
# primary for one to $N1 for PURPOSE_ASKED, take $N1's call back, then say
# PURPOSE_SAID in its HELLO.  $N1's VERDICT's JSON on stdout.
fake_requester() {
	in_ns "$1" python3 - "$DCIP" "${P_PORT[$P]}" "$P" "$2" "$N1" "$3" "$4" \
	    "$(host_dir "$2")/cert.pem" "$(host_dir "$2")/key.pem" "$CA/trust.pem" <<'PY'
import http.client, json, socket, ssl, struct, sys
ip, port, primary, me, nat, asked, said, cert, key, ca = sys.argv[1:11]
lis = socket.socket()
lis.bind(("0.0.0.0", 0))
lis.listen(1)
lis.settimeout(15)
api = ssl.create_default_context(cafile=ca)
api.load_cert_chain(cert, key)
api.check_hostname = False
c = http.client.HTTPSConnection(ip, int(port), context=api, timeout=10)
c.request("POST", "/v1/nat/requests", json.dumps({"from": me, "host": nat,
          "purpose": asked, "port": lis.getsockname()[1]}),
          {"Content-Type": "application/json", "Host": primary})
r = c.getresponse()
if r.status != 200:
    sys.exit("the primary answered %d: %s" % (r.status, r.read()))
token = json.loads(r.read())["token"]
conn, _ = lis.accept()
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(ca)
ctx.check_hostname = False
ctx.load_cert_chain(cert, key)
s = ctx.wrap_socket(conn)
s.settimeout(10)
def frame():
    hdr = b""
    while len(hdr) < 4:
        hdr += s.recv(4 - len(hdr))
    n = struct.unpack(">I", hdr)[0]
    body = b""
    while len(body) < n:
        body += s.recv(n - len(body))
    return json.loads(body)
hello = frame()
if hello.get("token") != token:
    sys.exit("the call back does not name the token")
mine = json.dumps({"v": 1, "host": me, "role": "media", "primary": primary,
                   "purpose": said, "cert": True, "auto": False}).encode()
s.sendall(struct.pack(">I", len(mine)) + mine)
print(json.dumps(frame()))
PY
}

c_reverse_hello_of_another_purpose_is_refused() {
	OUT=$(fake_requester $NS_DC $M backup console)
	expect_eq "$(jq -r .accept <<<"$OUT")" false "$N1's verdict" || return
	expect_eq "$(jq -r .code <<<"$OUT")" FORBIDDEN "$N1's verdict" || return
	expect_match "$OUT" 'token is bound to purpose backup, not console' \
	    "$N1's refusal" || return
	# The same, saying the purpose it asked for: accepted.
	OUT=$(fake_requester $NS_DC $M backup backup)
	expect_eq "$(jq -r .accept <<<"$OUT")" true "$N1's verdict for the purpose asked"
}

run_case "a reverse connection's HELLO for another purpose than its token's is refused by the NAT host" \
    c_reverse_hello_of_another_purpose_is_refused

c_failed_call_back_falls_back_to_the_relay() {
	# The router lets the site open only the API, the broker and the
	# media server's port, and rejects the rest: $N1's call back to $M
	# fails at once, and both meet at the relay instead.
	in_ns $NS_RT nft -f - <<EOF || { fail "cannot add the router's filter"; return; }
table ip callback_reject {
	chain forward {
		type filter hook forward priority 0;
		iifname "$IF_RS" tcp dport != { ${P_PORT[$P]}, $BPORT, $MPORT } reject with tcp reset
	}
}
EOF
	eca_in $NS_DC $M --json ping $N1 --reverse --purpose restore
	in_ns $NS_RT nft delete table ip callback_reject
	expect_rc 0 || return
	expect_json .verdict.accept true || return
	expect_match "$(jq -r .steps.address <<<"$OUT")" '\(relay\)$' "the channel's address" || return
	wait_log "$(host_dir $N1)/ecad.log" "for $M failed: .*: trying the relay" 5 || return
	wait_log "$(host_dir $N1)/ecad.log" "for $M \\(restore\\): connected through the relay" 5 || return
	# Without the filter, the call back is taken again, not the relay.
	eca_in $NS_DC $M --json ping $N1 --reverse --purpose restore
	expect_rc 0 || return
	expect_match "$(jq -r .steps.address <<<"$OUT")" '\(reverse\)$' "the channel's address"
}

run_case "a NAT host whose call back cannot reach the requester meets it at the relay instead" \
    c_failed_call_back_falls_back_to_the_relay

# Last: what the file started stops when asked, so that no daemon of a
# finished run lives on in a namespace that is gone.
c_every_process_of_the_file_stops() {
	stop_all
	expect_eq "$(pgrep -af -- "$T/")" "" "processes of this run left after stop_all"
}

run_case "every daemon and helper the file started stops with it" c_every_process_of_the_file_stops
