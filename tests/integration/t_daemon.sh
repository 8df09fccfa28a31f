#!/bin/bash
# SPDX-License-Identifier: ISC
# ecad itself: -t, -T, SIGTERM, its threads' names and durability across
# kill -9.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

P=primary1.it.test
H=d1.it.test

c_check_good() {
	make_primary "$P" || return
	expect_exit 0 "$ECAD" -t -f "${P_CONF[$P]}" || return
	expect_match "$OUT$ERR" "configuration OK" "ecad -t's output"
}

c_check_unknown_key() {
	local bad=$T/bad.conf line
	cp "${P_CONF[$P]}" "$bad"
	echo "NO_SUCH_KEY = 1" >>"$bad"
	line=$(wc -l <"$bad")
	expect_exit 1 "$ECAD" -t -f "$bad" || return
	expect_match "$ERR$OUT" "$bad:$line:" "ecad -t's message"
}

c_dump() {
	expect_exit 0 "$ECAD" -T -f "${P_CONF[$P]}" || return
	expect_match "$OUT" "^CLIENT_NAME *= *$P\$" "ecad -T's CLIENT_NAME line" || return
	expect_match "$OUT" "^API_LISTEN *= *127.0.0.1:${P_PORT[$P]}\$" "ecad -T's API_LISTEN line" || return
	# Defaults are filled in.
	expect_match "$OUT" "^ECA_CRL_REFRESH_HOURS *= *24\$" "ecad -T's ECA_CRL_REFRESH_HOURS line" || return
	# And the dump is itself a valid configuration.
	printf '%s\n' "$OUT" >"$T/dumped.conf"
	expect_exit 0 "$ECAD" -t -f "$T/dumped.conf"
}

c_sigterm() {
	local sock=${P_DIR[$P]}/state/ecad.sock
	start_primary "$P" || return
	[ -S "$sock" ] || { fail "no control socket at $sock while running"; return; }
	stop_primary "$P" TERM
	expect_eq "$STOP_RC" 0 "ecad's exit status after SIGTERM" || return
	[ ! -e "$sock" ] || { fail "control socket $sock left behind after SIGTERM"; return; }
	[ ! -e "${P_DIR[$P]}/state/ecad.pid" ] ||
	    fail "PID_FILE left behind after SIGTERM"
}

# A build with mimalloc (the default where libmimalloc-dev is installed,
# never under the sanitizers) serves every malloc with it, OpenSSL's too.
c_allocator() {
	local want="the C library's malloc"
	if grep -q '^#define ECA_HAVE_MIMALLOC 1' "$BUILD/eca-config.h"; then
		want="mimalloc [0-9]"
		ldd "$ECAD" | grep -q 'libmimalloc' ||
		    { fail "ecad is built with mimalloc but does not link it"; return; }
	fi
	start_primary "$P" || return
	expect_match "$(cat "${P_DIR[$P]}/ecad.log")" "info: memory allocator: $want" \
	    "ecad's start-up log"
	stop_primary "$P" TERM
}

c_sighup_bad_config() {
	local cfg=${P_CONF[$P]}
	start_primary "$P" || return
	cp "$cfg" "$T/good.conf"
	echo "NO_SUCH_KEY = 1" >>"$cfg"
	kill -HUP "${P_PID[$P]}"
	wait_log "${P_DIR[$P]}/ecad.log" \
	    "reload failed, keeping the running configuration: .*NO_SUCH_KEY" ||
	    return
	cp "$T/good.conf" "$cfg"
	kill -0 "${P_PID[$P]}" 2>/dev/null ||
	    { fail "ecad exited after SIGHUP with a broken configuration"; return; }
	primary_curl "$P" - GET /v1/health
	expect_http 200 || return
	expect_json .status ok || return
	stop_primary "$P" TERM
	expect_eq "$STOP_RC" 0 "ecad's exit status after SIGTERM"
}

# A port that another program listens on is refused at start, with the
# remedy, even when that program allows SO_REUSEPORT: ecad's threads share
# one socket of their own and never join another's (half the connections
# would go to the other program).
c_port_taken() {
	local port pid i
	port=$(free_port) || return
	python3 -c '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
print("listening", flush=True)
time.sleep(60)' "$port" >"$T/squatter.out" &
	pid=$!
	IT_PIDS+=("$pid")
	for ((i = 0; i < 100; i++)); do
		grep -q listening "$T/squatter.out" && break
		sleep 0.1
	done
	grep -q listening "$T/squatter.out" ||
	    { fail "the other program does not listen on $port"; return; }
	make_primary "$P" || return
	cp "${P_CONF[$P]}" "$T/taken.conf"
	set_conf "$T/taken.conf" API_LISTEN "127.0.0.1:$port" || return
	expect_exit 1 "$ECAD" -d -f "$T/taken.conf" || return
	expect_match "$ERR" "cannot listen on 127\.0\.0\.1 port $port \(API_LISTEN\): Address already in use \(is another ecad or service using the port\?\)" \
	    "ecad's message" || return
	cp "${P_CONF[$P]}" "$T/taken.conf"
	echo "LISTEN = 127.0.0.1:$port" >>"$T/taken.conf"
	expect_exit 1 "$ECAD" -d -f "$T/taken.conf" || return
	expect_match "$ERR" "cannot listen on 127\.0\.0\.1 port $port \(LISTEN, the peer listener\): Address already in use" \
	    "ecad's message for the peer listener"
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

# served_fp PORT: the SHA-256 fingerprint of the certificate that the TLS
# server on 127.0.0.1:PORT presents.
served_fp() {
	timeout 10 openssl s_client -connect "127.0.0.1:$1" </dev/null \
	    2>/dev/null | openssl x509 -noout -fingerprint -sha256 |
	    sed 's/.*=//; s/://g' | tr 'A-F' 'a-f'
}

# expect_served FP WHEN PORT...: twelve connections to each port (each
# taken by whichever API worker or peer I/O thread accepts first, each
# with a TLS context of its own) all see the certificate FP.
expect_served() {
	local fp=$1 when=$2 port i
	shift 2
	for port in "$@"; do
		for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
			expect_eq "$(served_fp "$port")" "$fp" \
			    "the certificate served on port $port $when" || return
		done
	done
}

c_sighup_renewed_cert() {
	local d lport old new
	lport=$(free_port) || return
	start_primary "$P" "LISTEN = 127.0.0.1:$lport" || return
	d=${P_DIR[$P]}
	old=$(cert_fp "$d/cert.pem")
	expect_served "$old" "before the reload" "${P_PORT[$P]}" "$lport" ||
	    return
	"$MKCA" leaf "$CA" "$P" --out "$d/new" >/dev/null ||
	    { fail "mkca.sh leaf $P failed"; return; }
	mv -f "$d/new.pem" "$d/cert.pem"
	mv -f "$d/new.key" "$d/key.pem"
	new=$(cert_fp "$d/cert.pem")
	[ "$new" != "$old" ] || { fail "the renewed certificate is the old one"; return; }
	kill -HUP "${P_PID[$P]}"
	wait_log "$d/ecad.log" "configuration reloaded" || return
	expect_served "$new" "after the reload" "${P_PORT[$P]}" "$lport" ||
	    return
	stop_primary "$P" TERM
}

c_survives_kill9() {
	local fp
	start_primary "$P" || return
	make_host $H --server "$P" || return
	fp=$(cert_fp "$(host_dir $H)/cert.pem")
	host_eca $H enroll
	expect_rc 0 || return
	stop_primary "$P" KILL
	start_primary "$P" || return
	host_eca $H --json status
	expect_rc 0 || return
	expect_json '.servers[0].status' ENROLLED || return
	expect_json '.servers[0].fingerprint' "$fp" || return
	expect_db "SELECT fingerprint FROM enrollments WHERE host='$H'" "$fp"
}

# Threads name themselves (ecad_thread_name), so that top -H, perf and
# the benches tell them apart; the main thread keeps the program's name.
# With LISTEN set the peer listener's threads are there too.
c_thread_names() {
	local lport pid t comm names=""
	lport=$(free_port) || return
	start_primary "$P" "LISTEN = 127.0.0.1:$lport" || return
	pid=${P_PID[$P]}
	for t in /proc/"$pid"/task/*; do
		[ "${t##*/}" != "$pid" ] || continue
		comm=$(cat "$t/comm" 2>/dev/null) || continue # it just exited
		names+="$comm "
	done
	stop_primary "$P" TERM
	for comm in $names; do
		case $comm in
		ecad-*) ;;
		*) fail "a thread of ecad is named '$comm', not ecad-* (all: $names)"; return ;;
		esac
	done
	expect_match "$names" '(^| )ecad-writer ' "the names of ecad's threads" || return
	expect_match "$names" '(^| )ecad-api-[0-9]+ ' "the names of ecad's threads" || return
	expect_match "$names" '(^| )ecad-peer-[0-9]+ ' "the names of ecad's threads"
}

run_case "ecad -t on a good configuration exits 0" c_check_good
run_case "ecad -t on a configuration with an unknown key prints FILE:LINE: and exits 1" c_check_unknown_key
run_case "ecad -T prints the effective configuration, defaults included" c_dump
run_case "SIGTERM stops ecad with exit 0 and removes its socket and PID file" c_sigterm
run_case "every thread of ecad other than the main one carries an ecad-* name" c_thread_names
run_case "ecad's start-up log names the allocator that serves malloc: mimalloc when built with it" c_allocator
run_case "a port another program listens on, even with SO_REUSEPORT, is refused at start with the remedy" c_port_taken
run_case "SIGHUP with a broken configuration keeps ecad serving with the old one" c_sighup_bad_config
run_case "SIGHUP with a renewed certificate: every API worker and peer I/O thread presents the new one" c_sighup_renewed_cert
run_case "an acknowledged enrollment survives kill -9 of ecad and a restart" c_survives_kill9
