#!/bin/bash
# SPDX-License-Identifier: ISC
# it-timeout: 120
# A reverse connection over IPv6 (issue 10, docs/nat.md): the primary's API
# and broker on [::1], a NAT host whose broker session comes from [::1],
# and a host that asks for a reverse connection from [::1].  The primary
# names the address it saw the request come from, "[::1]:PORT", and the
# NAT host calls back there: the requester listens on both families.
# No NAT here (t_nat.sh has the real one, over IPv4): this file is about
# the address family, on loopback, without root.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

if ! python3 -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
	echo "skipped: no IPv6 loopback address (::1) on this system"
	exit 0
fi

P=primary.nat6.test
M=media.nat6.test
N=nat.nat6.test
HB=1 # BROKER_HEARTBEAT_SECONDS

# v6_servers HOST: HOST's SERVER lines name the primary at [::1].
v6_servers() {
	sed -i "s/^SERVER = \(.*\) 127\.0\.0\.1:/SERVER = \1 [::1]:/" \
	    "$(host_dir "$1")/eca.conf"
}

c_setup() {
	local bport
	P_PORT[$P]=$(free_port) && bport=$(free_port) ||
	    { fail "no free port"; return; }
	make_primary "$P" "BROKER_LISTEN = [::1]:$bport" ||
	    { fail "cannot make primary $P"; return; }
	sed -i "s/^API_LISTEN = .*/API_LISTEN = [::1]:${P_PORT[$P]}/" "${P_CONF[$P]}"
	start_primary "$P" || return
	make_host $M --server "$P" || return
	make_host $N --server "$P" --conf "NAT_CLIENT = YES" \
	    --conf "BROKER_LISTEN = [::]:$bport" \
	    --conf "BROKER_HEARTBEAT_SECONDS = $HB" || return
	v6_servers $M && v6_servers $N || { fail "cannot edit the configs"; return; }
	host_eca $M enroll
	expect_rc 0 || return
	host_eca $N enroll
	expect_rc 0 || return
	start_host $N
}

c_nat_host_session_comes_from_ipv6() {
	local i
	for ((i = 0; i < 50; i++)); do
		host_eca $N --json status
		[ "$(jq -r '.servers[0].broker.online' <<<"$OUT" 2>/dev/null)" = true ] && break
		sleep 0.2
	done
	expect_json '.servers[0].broker.online' true || return
	wait_log "${P_DIR[$P]}/ecad.log" "broker: NAT host $N \\(\\[::1\\]:[0-9]+\\) is online" 5
}

c_reverse_connection_calls_back_an_ipv6_requester() {
	host_eca $M --json ping $N --reverse --purpose backup
	expect_rc 0 || return
	expect_json .verdict.accept true || return
	expect_json .reverse true || return
	expect_match "$(jq -r .steps.address <<<"$OUT")" '^\[::1\]:[0-9]+ \(reverse\)$' \
	    "the call back's address" || return
	wait_log "$(host_dir $N)/ecad.log" \
	    "reverse connection to \\[::1\\]:[0-9]+ for $M \\(backup\\): connected" 5
}

run_case "a primary, a NAT host and a requester on IPv6 loopback" c_setup
run_case "the NAT host's broker session comes from [::1] and is online" \
    c_nat_host_session_comes_from_ipv6
run_case "a reverse connection to the NAT host calls back the requester at [::1]:PORT and is accepted" \
    c_reverse_connection_calls_back_an_ipv6_requester
