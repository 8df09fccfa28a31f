#!/bin/bash
# scripts/demo.sh BUILD    - `make demo`: a demo backup domain on loopback.
# scripts/demo.sh --stop   - `make demo-stop`: stop it.
#
# Makes ./demo/ in the repository (gitignored): a demo CA, a primary server
# primary.demo.eca and three hosts (media1, client1, client2 .demo.eca),
# each with its own eca.conf, certificate and key.  Starts the primary's
# ecad in the background (embedded SQLite registry, 127.0.0.1, port 11556
# or a free one), then enrolls the hosts with the real `eca` command,
# shows their status, the registry, a pre-check and two refusals, and
# leaves the primary running.  Running it again first stops the previous
# demo and starts afresh.  Exits non-zero with a message if a step fails.
set -euo pipefail

prog="demo"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEMO="$ROOT/demo"
PIDFILE="$DEMO/primary/ecad.pid"
PORT_WANTED=11556
DOMAIN=demo.eca
HOSTS="media1 client1 client2"

die() {
	echo "$prog: $*" >&2
	exit 1
}

# Stop a running demo primary, if any.  Only the pid we recorded, and only
# if it is still an ecad.
stop_demo() {
	local pid
	[ -f "$PIDFILE" ] || return 1
	pid=$(cat "$PIDFILE" 2>/dev/null || true)
	case $pid in
	'' | *[!0-9]*) rm -f "$PIDFILE"; return 1 ;;
	esac
	if ! kill -0 "$pid" 2>/dev/null ||
	    ! grep -q ecad "/proc/$pid/cmdline" 2>/dev/null; then
		rm -f "$PIDFILE"
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
	rm -f "$PIDFILE"
	return 0
}

if [ "${1:-}" = "--stop" ]; then
	if stop_demo; then
		echo "$prog: demo primary stopped (its files stay in demo/; 'make demo' starts afresh)"
	else
		echo "$prog: no demo primary running"
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
	echo "$prog: the demo primary was stopped; files kept in demo/" >&2
	exit 1
}

port_free() {
	python3 -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)' "$1"
}
free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# --- a fresh demo directory ------------------------------------------------
if stop_demo; then
	echo "$prog: stopped the previous demo primary"
fi
rm -rf "$DEMO"
mkdir -p "$DEMO"

PORT=$PORT_WANTED
if ! port_free "$PORT"; then
	PORT=$(free_port)
	echo "$prog: port $PORT_WANTED is taken; using $PORT"
fi
PRIMARY="primary.$DOMAIN"

step "Making a demo CA (root + intermediate, EC P-256) in demo/ca"
"$MKCA" ca "$DEMO/ca" --name "eca demo" >/dev/null || fail "mkca.sh ca"
openssl x509 -in "$DEMO/ca/inter.pem" -noout -subject -issuer | sed 's/^/    /'

# host_conf NAME ROLE: demo/NAME/ with its certificate, key and eca.conf.
host_conf() {
	local name=$1 role=$2 dir="$DEMO/$1"
	mkdir -p "$dir/state"
	chmod 700 "$dir/state"
	"$MKCA" leaf "$DEMO/ca" "$name.$DOMAIN" --out "$dir/$name" >/dev/null ||
		fail "mkca.sh leaf $name.$DOMAIN"
	cat >"$dir/eca.conf" <<EOF
# demo host $name.$DOMAIN (written by scripts/demo.sh)
CLIENT_NAME = $name.$DOMAIN
ROLE = $role
SERVER = $PRIMARY 127.0.0.1:$PORT
STATE_DIR = $dir/state
ECA_CERT_PATH = $dir/$name.pem
ECA_PRIVATE_KEY_PATH = $dir/$name.key
ECA_TRUST_STORE_PATH = $DEMO/ca/trust.pem
EOF
}

step "Issuing each host its own certificate and eca.conf"
host_conf primary primary
cat >>"$DEMO/primary/eca.conf" <<EOF
API_LISTEN = 127.0.0.1:$PORT
ECA_DB = sqlite:$DEMO/primary/state/registry.db
CONTROL_SOCKET = $DEMO/primary/state/ecad.sock
PID_FILE = $DEMO/primary/state/ecad.pid
LOG_LEVEL = info
EOF
for h in media1 client1 client2; do
	case $h in
	media*) host_conf "$h" media ;;
	*) host_conf "$h" client ;;
	esac
done
for h in primary $HOSTS; do
	printf '    %-20s demo/%s/eca.conf  demo/%s/%s.pem  demo/%s/%s.key\n' \
		"$h.$DOMAIN" "$h" "$h" "$h" "$h" "$h"
done

step "Starting the primary's ecad on 127.0.0.1:$PORT (log: demo/primary/ecad.log)"
show "$(rel "$ECAD") -t -f demo/primary/eca.conf"
rc=0
"$ECAD" -t -f "$DEMO/primary/eca.conf" >"$DEMO/last.out" 2>&1 || rc=$?
sed 's/^/    /' "$DEMO/last.out"
[ "$rc" -eq 0 ] || fail "ecad -t rejected demo/primary/eca.conf (exit $rc)"
# -d keeps ecad in the foreground with its log on stderr; setsid + nohup
# detach it from this terminal and from make so it outlives the demo.
show "$(rel "$ECAD") -d -f demo/primary/eca.conf >demo/primary/ecad.log 2>&1 &"
setsid nohup "$ECAD" -d -f "$DEMO/primary/eca.conf" \
	>"$DEMO/primary/ecad.log" 2>&1 </dev/null &
echo $! >"$PIDFILE"
for _ in $(seq 100); do
	grep -q "ready" "$DEMO/primary/ecad.log" 2>/dev/null && break
	kill -0 "$(cat "$PIDFILE")" 2>/dev/null || fail "ecad exited at start-up"
	sleep 0.1
done
grep -q "ready" "$DEMO/primary/ecad.log" || fail "ecad not ready after 10 s"
{ grep -m 1 '^ecad: ready' "$DEMO/primary/ecad.log" ||
	grep -m 1 'ready' "$DEMO/primary/ecad.log"; } | sed 's/^/    /'

step "Pre-check for media1: every check runs, nothing is written"
run -f demo/media1/eca.conf enroll --precheck

for h in $HOSTS; do
	step "Enrolling $h.$DOMAIN with $PRIMARY"
	run -f "demo/$h/eca.conf" enroll
done

step "Enrolling client1 again: the same certificate changes nothing"
run -f demo/client1/eca.conf enroll

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

==> The demo primary is running (pid $(cat "$PIDFILE"), https://127.0.0.1:$PORT).
Try the commands yourself, from $(pwd):
    $R_ECA -f demo/media1/eca.conf status
    $R_ECA -f demo/client2/eca.conf --json status
    $R_ECA -f demo/client2/eca.conf health-check
    $R_ECA -f demo/client2/eca.conf unenroll
    $R_ECA -f demo/client2/eca.conf enroll
    $R_ECA -f $R_CONF list
    $R_ECA -f $R_CONF show client1.$DOMAIN
    $R_ECA cert-details --cert demo/media1/media1.pem
Each host's files: demo/HOST/eca.conf, demo/HOST/HOST.pem, demo/HOST/HOST.key;
the CA: demo/ca/.  The primary's log: demo/primary/ecad.log; its registry:
demo/primary/state/registry.db (sqlite3).
Stop it with: make demo-stop
EOF
