#!/bin/bash
# SPDX-License-Identifier: ISC
# scripts/demo.sh BUILD    - `make demo`: a demo backup domain on loopback.
# scripts/demo.sh --stop   - `make demo-stop`: stop it.
#
# Makes ./demo/ in the repository (gitignored): a demo CA, a primary server
# primary.demo.eca and four hosts (media1, media2, client1, client2
# .demo.eca; client2 with ECA_DISABLE_AUTO_ENROLLMENT = YES), each with its
# own eca.conf, certificate, key and STATE_DIR, and each running its own
# ecad on its own loopback address (primary 127.0.0.2, media1 .3, media2
# .4, client1 .5, client2 .6; peer listener port 11557 or a free one; the
# primary's API on 127.0.0.1:11556 or a free port).  Then, with the real
# `eca` command: first-contact enrollment (`eca ping`), the refusal of the
# host with auto-enrollment disabled and its remedy, manual enrollment,
# replication needing manual enrollment, `eca status` of every host, the
# registry, a pre-check and two refusals by the primary, and a NAT host
# (nat1.demo.eca, NAT_CLIENT = YES) reached by a reverse connection
# through the primary.  As root, nat1 sits in a network namespace behind a
# router namespace that masquerades (nftables), as tests/integration/
# t_nat.sh builds it: the datacenter has no route to it, and the primary's
# API and broker listen on 10.78.1.1 as well (the namespaces are named in
# demo/netns and deleted by --stop); otherwise nat1 runs on loopback
# (127.0.0.7) with no peer listener.  It leaves every ecad running.
# Running it again first stops the previous demo and starts afresh.  Exits
# non-zero with a message if a step fails.
set -euo pipefail

prog="demo"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEMO="$ROOT/demo"
PORT_WANTED=11556
PEER_PORT_WANTED=11557
DOMAIN=demo.eca
HOSTS="media1 media2 client1 client2"
declare -A ADDR=([primary]=127.0.0.2 [media1]=127.0.0.3 [media2]=127.0.0.4
	[client1]=127.0.0.5 [client2]=127.0.0.6 [nat1]=127.0.0.7)
# The NAT host's network (root only): datacenter side, router, site.
NAT_DC=10.78.1.1
NAT_SITE=10.78.2.1

die() {
	echo "$prog: $*" >&2
	exit 1
}

# Stop one ecad the demo started (its pid in FILE), if it still runs.  Only
# the pid we recorded, and only if it is still an ecad.  0 if it stopped one.
stop_pidfile() {
	local f=$1 pid
	[ -f "$f" ] || return 1
	pid=$(cat "$f" 2>/dev/null || true)
	case $pid in
	'' | *[!0-9]*) rm -f "$f"; return 1 ;;
	esac
	if ! kill -0 "$pid" 2>/dev/null ||
	    ! grep -q ecad "/proc/$pid/cmdline" 2>/dev/null; then
		rm -f "$f"
		return 1
	fi
	kill -TERM "$pid"
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "$prog: ecad (pid $pid) ignored SIGTERM for 10 s; killing it" >&2
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$f"
	return 0
}

# Delete the network namespaces a root demo made (named in demo/netns);
# their veth pairs go with them.
net_down() {
	local ns
	[ -f "$DEMO/netns" ] || return 0
	for ns in $(cat "$DEMO/netns"); do
		ip netns del "$ns" 2>/dev/null || true
	done
	# The pair goes with the router's namespace, unless a mount of it
	# elsewhere (a chroot's /run) keeps that namespace alive: then here.
	ip link del ecademo0 2>/dev/null || true
	rm -f "$DEMO/netns"
}

# Stop every ecad of a running demo (demo/NAME/ecad.pid, primary and
# hosts); 0 if any was running.  Then its namespaces go.
stop_demo() {
	local f any=1
	for f in "$DEMO"/*/ecad.pid; do
		[ -e "$f" ] || continue
		if stop_pidfile "$f"; then
			any=0
		fi
	done
	net_down
	return $any
}

if [ "${1:-}" = "--stop" ]; then
	if stop_demo; then
		echo "$prog: every demo ecad stopped (the files stay in demo/; 'make demo' starts afresh)"
	else
		echo "$prog: no demo ecad running"
	fi
	exit 0
fi

[ $# -eq 1 ] || {
	echo "usage: scripts/demo.sh BUILD | scripts/demo.sh --stop" >&2
	exit 2
}
BUILD=$(cd "$1" 2>/dev/null && pwd) || die "build directory '$1' not found (run 'make build' first)"
ECAD="$BUILD/src/daemon/ecad"
ECA="$BUILD/src/cli/eca"
MKCA="$ROOT/scripts/mkca.sh"
for f in "$ECAD" "$ECA"; do
	[ -x "$f" ] || die "$f is not built (run 'make build')"
done
command -v openssl >/dev/null || die "openssl is not installed (run 'make deps' as root)"
command -v python3 >/dev/null || die "python3 is not installed (run 'make deps' as root)"

# Paths as a person in the repository types them.
rel() { echo "${1#"$ROOT"/}"; }
R_ECA=$(rel "$ECA")

cd "$ROOT"

# Narration: a step header, then each command as typed and its output.
step() { printf '\n==> %s\n' "$*"; }
show() {
	printf '$ %s\n' "$*"
}
# run CMD...: show it and run it; fail the demo if it fails.
run() {
	local rc
	show "$R_ECA ${*}"
	set +e
	"$ECA" "$@" >"$DEMO/last.out" 2>&1
	rc=$?
	set -e
	sed 's/^/    /' "$DEMO/last.out"
	[ "$rc" -eq 0 ] || fail "'eca $*' failed (exit $rc)"
}
# expect_refusal EXIT CMD...: show it; it must exit with EXIT.
expect_refusal() {
	local want=$1 got
	shift
	show "$R_ECA ${*}"
	set +e
	"$ECA" "$@" >"$DEMO/last.out" 2>&1
	got=$?
	set -e
	sed 's/^/    /' "$DEMO/last.out"
	echo "    (exit $got)"
	[ "$got" -eq "$want" ] ||
		fail "'eca $*' exited $got, expected $want"
}
fail() {
	echo >&2
	echo "$prog: step failed: $*" >&2
	if [ -f "$DEMO/primary/ecad.log" ]; then
		echo "$prog: last lines of demo/primary/ecad.log:" >&2
		tail -n 15 "$DEMO/primary/ecad.log" | sed 's/^/    /' >&2
	fi
	stop_demo || true
	echo "$prog: the demo's ecads were stopped; files kept in demo/" >&2
	exit 1
}

# port_free PORT [ADDRESS]: nothing listens on ADDRESS (default 127.0.0.1):PORT.
port_free() {
	python3 -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind((sys.argv[2], int(sys.argv[1])))
except OSError:
    sys.exit(1)' "$1" "${2:-127.0.0.1}"
}
free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# --- a fresh demo directory ------------------------------------------------
if stop_demo; then
	echo "$prog: stopped the previous demo's ecads"
fi
rm -rf "$DEMO"
mkdir -p "$DEMO"
# The narration also goes to demo/demo.log: README.md's tour is made from
# it (scripts/readme-tour.sh), and t_readme.sh checks that they agree.
exec {TERM_OUT}>&1
exec > >(tee "$DEMO/demo.log")
TEE_PID=$!

PORT=$PORT_WANTED
if ! port_free "$PORT"; then
	PORT=$(free_port)
	echo "$prog: port $PORT_WANTED is taken; using $PORT"
fi
# The primary's web console: its default port, or a free one.
CONSOLE_PORT=1559
if ! port_free "$CONSOLE_PORT"; then
	CONSOLE_PORT=$(free_port)
	echo "$prog: port 1559 is taken; the web console uses $CONSOLE_PORT"
fi
PRIMARY="primary.$DOMAIN"
# The primary's broker for NAT hosts: its default port, or a free one.
BROKER_PORT=1558
if ! port_free "$BROKER_PORT" 0.0.0.0; then
	BROKER_PORT=$(free_port)
	echo "$prog: port 1558 is taken; the broker uses $BROKER_PORT"
fi
# As root, the NAT host gets a real NAT (namespaces); the hosts then reach
# the primary's API at its datacenter address, which the site can reach.
API_ADDR=127.0.0.1
NAT_NS=no
if [ "$(id -u)" = 0 ] && command -v ip >/dev/null &&
	command -v nft >/dev/null && command -v nsenter >/dev/null; then
	NAT_NS=yes
	API_ADDR=$NAT_DC
fi
# One peer listener port for every host, each on its own address.
PEER_PORT=$PEER_PORT_WANTED
for h in primary $HOSTS; do
	if ! port_free "$PEER_PORT" "${ADDR[$h]}"; then
		PEER_PORT=$(free_port)
		echo "$prog: port $PEER_PORT_WANTED is taken; peer listeners use $PEER_PORT"
		break
	fi
done

step "Making a demo CA (root + intermediate, EC P-256) in demo/ca"
"$MKCA" ca "$DEMO/ca" --name "eca demo" >/dev/null || fail "mkca.sh ca"
openssl x509 -in "$DEMO/ca/inter.pem" -noout -subject -issuer | sed 's/^/    /'

# The site's namespace and the router's, per run (only the demo's own).
NS_SITE=ecademo$$site
NS_RT=ecademo$$rt
# in_site CMD...: CMD in the NAT host's network namespace (as root), or
# as it is.
in_site() {
	if [ "$NAT_NS" = yes ]; then
		nsenter --net="/run/netns/$NS_SITE" "$@"
	else
		"$@"
	fi
}
# net_cmd CMD...: show CMD (the namespaces by their role: SITE, ROUTER)
# and run it; fail the demo if it fails.
net_cmd() {
	printf '$ %s\n' "$*" | sed -e "s/$NS_SITE/SITE/g" -e "s/$NS_RT/ROUTER/g"
	"$@" || fail "'$*' failed"
}
# net_up: the datacenter (this namespace, $NAT_DC), a router namespace that
# forwards and masquerades, a site namespace ($NAT_SITE) for nat1.
net_up() {
	# Our own earlier demo's namespaces went with stop_demo.  A datacenter
	# link still here is an orphan: a demo killed without `make
	# demo-stop` whose demo/ is gone, or a fresh root (chroot) that shares
	# this network namespace.  Its address would shadow ours: it goes
	# (with its veth pair).
	if ip link show ecademo0 >/dev/null 2>&1; then
		echo "$prog: removing ecademo0, left by an earlier demo that is gone"
		ip link del ecademo0 || fail "cannot remove the stale link ecademo0 (ip link del ecademo0)"
	fi
	echo "$NS_SITE $NS_RT" >"$DEMO/netns"
	net_cmd ip netns add "$NS_RT"
	net_cmd ip netns add "$NS_SITE"
	net_cmd ip link add ecademo0 type veth peer name dc0 netns "$NS_RT"
	net_cmd ip link add site0 netns "$NS_SITE" type veth peer name rt1 netns "$NS_RT"
	net_cmd ip addr add "$NAT_DC/24" dev ecademo0
	net_cmd ip link set ecademo0 up
	net_cmd nsenter --net="/run/netns/$NS_RT" sh -e -c "ip link set lo up
	    ip addr add 10.78.1.254/24 dev dc0; ip link set dc0 up
	    ip addr add 10.78.2.254/24 dev rt1; ip link set rt1 up
	    sysctl -qw net.ipv4.ip_forward=1"
	printf '$ nsenter --net=ROUTER nft -f -   (masquerade what leaves for the datacenter)\n'
	nsenter --net="/run/netns/$NS_RT" nft -f - <<EOF || fail "nft in the router"
table ip nat {
	chain postrouting {
		type nat hook postrouting priority 100;
		oifname "dc0" masquerade
	}
}
EOF
	net_cmd nsenter --net="/run/netns/$NS_SITE" sh -e -c "ip link set lo up
	    ip addr add $NAT_SITE/24 dev site0; ip link set site0 up
	    ip route add default via 10.78.2.254"
}

# host_conf NAME ROLE: demo/NAME/ with its certificate, key and eca.conf.
host_conf() {
	local name=$1 role=$2 dir="$DEMO/$1" p
	mkdir -p "$dir/state"
	chmod 700 "$dir/state"
	"$MKCA" leaf "$DEMO/ca" "$name.$DOMAIN" --out "$dir/$name" >/dev/null ||
		fail "mkca.sh leaf $name.$DOMAIN"
	cat >"$dir/eca.conf" <<EOF
# demo host $name.$DOMAIN (written by scripts/demo.sh)
CLIENT_NAME = $name.$DOMAIN
ROLE = $role
SERVER = $PRIMARY $API_ADDR:$PORT
STATE_DIR = $dir/state
ECA_CERT_PATH = $dir/$name.pem
ECA_PRIVATE_KEY_PATH = $dir/$name.key
ECA_TRUST_STORE_PATH = $DEMO/ca/trust.pem
# The demo CA publishes no CRL (docs/revocation.md shows how to add one).
ECA_CRL_CHECK = DISABLE
# This host's ecad: the peer listener, on its own loopback address.
LISTEN = ${ADDR[$name]}:$PEER_PORT
LOG_LEVEL = info
# Where the other hosts of the domain listen (no DNS in the demo).
EOF
	for p in primary $HOSTS; do
		echo "PEER = $p.$DOMAIN ${ADDR[$p]}:$PEER_PORT" >>"$dir/eca.conf"
	done
}

# start_ecad NAME: start demo/NAME's ecad in the background, wait for ready.
start_ecad() {
	local name=$1 dir="$DEMO/$1"
	show "$(rel "$ECAD") -d -f demo/$name/eca.conf >demo/$name/ecad.log 2>&1 &"
	# -d keeps ecad in the foreground with its log on stderr; setsid +
	# nohup detach it from this terminal and from make so it outlives
	# the demo.
	if [ "$name" = nat1 ] && [ "$NAT_NS" = yes ]; then
		setsid nohup nsenter --net="/run/netns/$NS_SITE" "$ECAD" -d \
			-f "$dir/eca.conf" >"$dir/ecad.log" 2>&1 </dev/null &
	else
		setsid nohup "$ECAD" -d -f "$dir/eca.conf" \
			>"$dir/ecad.log" 2>&1 </dev/null &
	fi
	echo $! >"$dir/ecad.pid"
	for _ in $(seq 100); do
		grep -q "ready" "$dir/ecad.log" 2>/dev/null && break
		kill -0 "$(cat "$dir/ecad.pid")" 2>/dev/null ||
			fail "ecad of $name exited at start-up (demo/$name/ecad.log)"
		sleep 0.1
	done
	grep -q "ready" "$dir/ecad.log" || fail "ecad of $name not ready after 10 s"
	{ grep -m 1 '^ecad: ready' "$dir/ecad.log" ||
		grep -m 1 'ready' "$dir/ecad.log"; } | sed 's/^/    /'
}

if [ "$NAT_NS" = yes ]; then
	step "A site behind NAT for nat1.$DOMAIN: a router namespace that masquerades, a site namespace"
	net_up
fi

step "Issuing each host its own certificate and eca.conf"
host_conf primary primary
cat >>"$DEMO/primary/eca.conf" <<EOF
API_LISTEN = $API_ADDR:$PORT
# The broker for NAT hosts' sessions (docs/nat.md).
BROKER_LISTEN = 0.0.0.0:$BROKER_PORT
CONSOLE_LISTEN = 127.0.0.1:$CONSOLE_PORT
ECA_DB = sqlite:$DEMO/primary/state/registry.db
CONTROL_SOCKET = $DEMO/primary/state/ecad.sock
PID_FILE = $DEMO/primary/state/ecad.pid
EOF
for h in $HOSTS; do
	case $h in
	media*) host_conf "$h" media ;;
	*) host_conf "$h" client ;;
	esac
done
cat >>"$DEMO/client2/eca.conf" <<EOF
# S2: this host is enrolled by an administrator only.
ECA_DISABLE_AUTO_ENROLLMENT = YES
EOF
host_conf nat1 client
cat >>"$DEMO/nat1/eca.conf" <<EOF
# Behind NAT (docs/nat.md): no peer listener, a broker session to the
# primary instead; other hosts reach it by reverse connections.
NAT_CLIENT = YES
BROKER_LISTEN = 0.0.0.0:$BROKER_PORT
BROKER_HEARTBEAT_SECONDS = 5
EOF
for h in primary $HOSTS nat1; do
	printf '    %-20s demo/%s/eca.conf  demo/%s/%s.pem  demo/%s/%s.key\n' \
		"$h.$DOMAIN" "$h" "$h" "$h" "$h" "$h"
done

step "Starting the primary's ecad on $API_ADDR:$PORT (log: demo/primary/ecad.log)"
show "$(rel "$ECAD") -t -f demo/primary/eca.conf"
rc=0
"$ECAD" -t -f "$DEMO/primary/eca.conf" >"$DEMO/last.out" 2>&1 || rc=$?
sed 's/^/    /' "$DEMO/last.out"
[ "$rc" -eq 0 ] || fail "ecad -t rejected demo/primary/eca.conf (exit $rc)"
start_ecad primary

step "Starting each host's ecad on its own address (peer listeners, port $PEER_PORT)"
for h in $HOSTS; do
	start_ecad "$h"
done

step "First contact: client1 backs up to media1; both enroll automatically"
echo "    Neither host is enrolled yet.  client1 enrolls itself before it talks"
echo "    to media1; media1 enrolls itself when client1's HELLO arrives."
run -f demo/client1/eca.conf ping media1.$DOMAIN --purpose backup
run -f demo/primary/eca.conf list

step "A second contact needs no call to the primary (the rosters know both)"
run -f demo/client1/eca.conf ping media1.$DOMAIN

step "Refused: client2 has ECA_DISABLE_AUTO_ENROLLMENT = YES and is not enrolled"
expect_refusal 3 -f demo/client2/eca.conf ping media1.$DOMAIN

step "The remedy: an administrator enrolls client2 manually, then it works"
run -f demo/client2/eca.conf enroll
run -f demo/client2/eca.conf ping media1.$DOMAIN

step "Replication between media servers never enrolls automatically (S7)"
expect_refusal 3 -f demo/media1/eca.conf ping media2.$DOMAIN --purpose replication
echo "    media2 is enrolled manually, then replication works:"
run -f demo/media2/eca.conf enroll
run -f demo/media1/eca.conf ping media2.$DOMAIN --purpose replication

step "Pre-check for media1: every check runs, nothing is written"
run -f demo/media1/eca.conf enroll --precheck

step "Enrolling client1 again by hand: the same certificate changes nothing"
run -f demo/client1/eca.conf enroll

# run_site CMD...: as run, for the NAT host, in its namespace.
run_site() {
	local rc
	if [ "$NAT_NS" = yes ]; then
		show "nsenter --net=SITE $R_ECA ${*}"
	else
		show "$R_ECA ${*}"
	fi
	set +e
	in_site "$ECA" "$@" >"$DEMO/last.out" 2>&1
	rc=$?
	set -e
	sed 's/^/    /' "$DEMO/last.out"
	[ "$rc" -eq 0 ] || fail "'eca $*' (on nat1) failed (exit $rc)"
}
# nat1_online: the primary lists nat1 online within 10 s.
nat1_online() {
	for _ in $(seq 50); do
		"$ECA" -f demo/primary/eca.conf --json list --nat 2>/dev/null |
			grep -q '"online": true' && return 0
		sleep 0.2
	done
	fail "nat1.$DOMAIN's broker session is not online on the primary after 10 s (demo/nat1/ecad.log)"
}

step "A NAT host: nat1.$DOMAIN is behind NAT (NAT_CLIENT = YES)"
if [ "$NAT_NS" = yes ]; then
	echo "    nat1 ($NAT_SITE) is in the site's namespace, behind the router that"
	echo "    masquerades; the datacenter has no route to it.  It opens no peer"
	echo "    listener: it keeps a broker session to the primary, which reaches it"
	echo "    by reverse connections.  NAT hosts never enroll automatically:"
else
	echo "    (not root: no namespaces; nat1 runs on loopback.)  It opens no peer"
	echo "    listener: it keeps a broker session to the primary, which reaches it"
	echo "    by reverse connections.  NAT hosts never enroll automatically:"
fi
run_site -f demo/nat1/eca.conf enroll
start_ecad nat1
nat1_online
run -f demo/primary/eca.conf list --nat

step "media1 backs up to nat1: the roster says NAT, so a reverse connection through the primary"
run -f demo/media1/eca.conf ping nat1.$DOMAIN --purpose backup
run_site -f demo/nat1/eca.conf status

for h in $HOSTS; do
	step "Enrollment status of $h.$DOMAIN"
	run -f "demo/$h/eca.conf" status
done

step "The registry on the primary (admin, over the control socket)"
run -f demo/primary/eca.conf list

# A refusal: a host whose certificate comes from another CA.
step "Refused: intruder.$DOMAIN presents a certificate from another CA"
"$MKCA" ca "$DEMO/other-ca" --name "some other" >/dev/null || fail "mkca.sh ca other-ca"
mkdir -p "$DEMO/intruder/state"
chmod 700 "$DEMO/intruder/state"
"$MKCA" leaf "$DEMO/other-ca" "intruder.$DOMAIN" --out "$DEMO/intruder/intruder" >/dev/null ||
	fail "mkca.sh leaf intruder.$DOMAIN"
sed -e "s|media1|intruder|g" -e "s|ROLE = media|ROLE = client|" \
	"$DEMO/media1/eca.conf" >"$DEMO/intruder/eca.conf"
echo "    demo/intruder/intruder.pem is issued by: $(openssl x509 -in "$DEMO/intruder/intruder.pem" -noout -issuer | sed 's/^issuer=//')"
expect_refusal 5 -f demo/intruder/eca.conf enroll
expect_refusal 3 -f demo/primary/eca.conf show "intruder.$DOMAIN"

# A refusal by the registry: same CA, same name, a different key.
step "Refused: a second certificate (new key) for client1.$DOMAIN, from the same CA"
mkdir -p "$DEMO/client1-new/state"
chmod 700 "$DEMO/client1-new/state"
"$MKCA" leaf "$DEMO/ca" "client1.$DOMAIN" --out "$DEMO/client1-new/client1" >/dev/null ||
	fail "mkca.sh leaf client1.$DOMAIN (new key)"
sed -e "s|$DEMO/client1/|$DEMO/client1-new/|g" \
	"$DEMO/client1/eca.conf" >"$DEMO/client1-new/eca.conf"
expect_refusal 5 -f demo/client1-new/eca.conf enroll
run -f demo/primary/eca.conf list --state CONFLICT
echo "    The enrolled certificate stays in force until an administrator decides:"
run -f demo/primary/eca.conf reject "client1.$DOMAIN"
run -f demo/primary/eca.conf show "client1.$DOMAIN"

rm -f "$DEMO/last.out"
R_CONF=demo/primary/eca.conf
cat <<EOF

==> The demo domain is running: the primary's ecad (pid $(cat "$DEMO/primary/ecad.pid"),
API https://$API_ADDR:$PORT) and one ecad per host, each with its peer listener:
$(for h in primary $HOSTS; do printf '    %-20s %s:%s  (pid %s, log demo/%s/ecad.log)\n' "$h.$DOMAIN" "${ADDR[$h]}" "$PEER_PORT" "$(cat "$DEMO/$h/ecad.pid")" "$h"; done)
Try the commands yourself, from $(pwd):
    $R_ECA -f demo/client1/eca.conf ping media2.$DOMAIN
    $R_ECA -f demo/client2/eca.conf --json ping media1.$DOMAIN --purpose restore
    $R_ECA -f demo/media1/eca.conf status
    $R_ECA -f demo/media1/eca.conf --json ping nat1.$DOMAIN
    $R_ECA -f demo/client2/eca.conf --json status
    $R_ECA -f demo/client2/eca.conf health-check
    $R_ECA -f demo/client2/eca.conf unenroll
    $R_ECA -f demo/client2/eca.conf enroll
    $R_ECA -f $R_CONF list
    $R_ECA -f $R_CONF show client1.$DOMAIN
    $R_ECA cert-details --cert demo/media1/media1.pem
The web console: https://127.0.0.1:$CONSOLE_PORT/ (the demo CA's certificate:
accept it, or import demo/ca/trust.pem); sign in with the link of
    $R_ECA -f $R_CONF console login
Each host's files: demo/HOST/eca.conf, demo/HOST/HOST.pem, demo/HOST/HOST.key;
the CA: demo/ca/.  The primary's registry: demo/primary/state/registry.db
(sqlite3); each host's roster and enrollment state: demo/HOST/state/.
and the NAT host nat1.$DOMAIN (pid $(cat "$DEMO/nat1/ecad.pid"), no peer listener; a broker
session to the primary, port $BROKER_PORT$([ "$NAT_NS" = yes ] && echo ", from its namespace behind the router")).
Stop every ecad with: make demo-stop
EOF
# Let tee write the last lines before we return.
exec >&"$TERM_OUT"
wait "$TEE_PID"
