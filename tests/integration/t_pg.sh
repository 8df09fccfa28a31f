#!/bin/bash
# SPDX-License-Identifier: ISC
# it-timeout: 600
# The registry on PostgreSQL (issue 12): a real PostgreSQL 15 started by
# tests/pg.sh in a temporary directory (UNIX socket only, run as the
# postgres user, stopped at the end).  The enrollment cases on one front
# end (first enrollment, the same certificate UNCHANGED, another key a
# CONFLICT, approval by fingerprint, the history), then a second ecad front
# end of the same primary on the same database: a change made through one
# is read through the other; a burst of first enrollments split across
# both enrolls each host exactly once; one host's two certificates sent at
# once, one to each front end, give exactly one ENROLLED and one CONFLICT;
# and a front end killed with SIGKILL mid-burst loses no acknowledged
# enrollment.  ECA_IT_PG_N sets the burst's size (default 400).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/pg.sh
. "$REPO/tests/pg.sh"

P=primary1.it.test
FE2=fe2 # the second front end of $P (its key in the P_* arrays)
N=${ECA_IT_PG_N:-400}
NKILL=$((N / 4))
NSAME=10
PAR=8
C=$T/certs
PGD=""
export C CA P

_pg_it_finish() {
	local rc=$?
	stop_all
	[ -z "$PGD" ] || pg_stop "$PGD"
	(exit $rc)
	_it_finish
}
trap _pg_it_finish EXIT

if why=$(pg_unavailable); then
	echo "skipped: PostgreSQL not available ($why)"
	if [ "${CI:-}" = true ]; then
		tcase "PostgreSQL is available in CI"
		fail "$why"
	fi
	exit 0
fi

# pg_q SQL: the rows SQL gives on the test database (psql -At).
pg_q() {
	timeout 20 psql "$PG_URI" -XAtq -c "$1"
}

# expect_pg SQL WANT
expect_pg() {
	local got
	got=$(pg_q "$1" 2>&1)
	if [ "$got" != "$2" ]; then
		fail "PostgreSQL query \"$1\" gives '$(_it_short "$got")', expected '$2'"
		return 1
	fi
	return 0
}

# one_cert HOST KEY: C/HOST.KEY.pem (leaf + intermediate) with key
# C/KEY.pem, its fingerprint in C/HOST.KEY.fp (as in t_crash.sh).
one_cert() {
	local h=$1 k=$2
	openssl req -config "$C/req.cnf" -x509 -new -key "$C/$k.pem" \
	    -CA "$CA/inter.pem" -CAkey "$CA/inter.key" -subj "/CN=$h" \
	    -days 30 -sha256 \
	    -addext "basicConstraints = critical, CA:FALSE" \
	    -addext "keyUsage = critical, digitalSignature" \
	    -addext "extendedKeyUsage = serverAuth, clientAuth" \
	    -addext "subjectAltName = DNS:$h" -out "$C/$h.$k.leaf" || return 1
	cat "$C/$h.$k.leaf" "$CA/inter.pem" >"$C/$h.$k.pem"
	openssl x509 -in "$C/$h.$k.leaf" -noout -fingerprint -sha256 |
	    sed 's/.*=//; s/://g' | tr 'A-F' 'a-f' >"$C/$h.$k.fp"
	rm -f "$C/$h.$k.leaf"
}
export -f one_cert

# enroll_at HOST KEY PORT: one POST with HOST's certificate of KEY to the
# front end on PORT; prints "HOST STATUS" (000: no answer).
enroll_at() {
	local h=$1 k=$2 port=$3 code
	code=$(curl -sS --max-time 30 -o /dev/null -w '%{http_code}' \
	    --cacert "$CA/trust.pem" --resolve "$P:$port:127.0.0.1" \
	    --cert "$C/$h.$k.pem" --key "$C/$k.pem" -X POST \
	    -H 'Content-Type: application/json' \
	    --data "{\"host\":\"$h\",\"precheck\":false,\"force\":false}" \
	    "https://$P:$port/v1/enrollments" 2>/dev/null)
	echo "$h ${code:-000}"
}
export -f enroll_at

# make_certs: the hosts of the burst (C/burst), of the kill round
# (C/kill), and of the same-host race (C/same, with a second key);
# certificates share a key (the key is not what is tested).
make_certs() {
	local i k
	mkdir -p "$C"
	for k in k1 k2; do
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		    -out "$C/$k.pem" 2>/dev/null || return 1
		chmod 600 "$C/$k.pem"
	done
	printf '[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = x\n' >"$C/req.cnf"
	for ((i = 0; i < N; i++)); do printf 'b%04d.pg.it.test\n' "$i"; done >"$C/burst"
	for ((i = 0; i < NKILL; i++)); do printf 'k%04d.pg.it.test\n' "$i"; done >"$C/kill"
	for ((i = 0; i < NSAME; i++)); do printf 's%02d.pg.it.test\n' "$i"; done >"$C/same"
	{
		echo r1.pg.it.test
		cat "$C/burst" "$C/kill" "$C/same"
	} | sed 's/$/ k1/' >"$C/all.k1"
	{
		cat "$C/all.k1"
		sed 's/$/ k2/' "$C/same"
	} >"$C/all"
	# shellcheck disable=SC2016
	xargs -r -P "$PAR" -L 1 bash -c 'one_cert "$1" "$2"' _ <"$C/all" \
	    2>"$C/err" || return 1
	while read -r h k; do
		[ -s "$C/$h.$k.fp" ] || return 1
	done <"$C/all"
}

# split_fe FILE: its hosts as "HOST k1 PORT" lines, alternately to each front end.
split_fe() {
	awk -v a="${P_PORT[$P]}" -v b="${P_PORT[$FE2]}" \
	    '{ print $1, "k1", (NR % 2 ? a : b) }' "$1"
}

# fps_of FILE: sorted "host|fingerprint" lines of FILE's hosts (key k1).
fps_of() {
	local h
	while read -r h; do
		echo "$h|$(cat "$C/$h.k1.fp")"
	done <"$1" | sort
}

c_start() {
	PGD=$(mktemp -d "${TMPDIR:-/tmp}/eca-pg.XXXXXX") || {
		fail "mktemp"
		return 1
	}
	pg_start "$PGD" || {
		fail "PostgreSQL did not start (see above)"
		return 1
	}
	make_primary "$P" || return
	set_conf "${P_CONF[$P]}" ECA_DB "$PG_URI" || return
	start_primary "$P" || return
	expect_pg "SELECT version FROM eca_schema" 4 || return
	make_certs || fail "cannot make the certificates: $(tail -3 "$C/err" 2>/dev/null)"
}

c_first_enrollment() {
	local h=m1.it.test fp
	make_host $h --server "$P" || return
	fp=$(cert_fp "$(host_dir $h)/cert.pem")
	host_eca $h --json enroll
	expect_rc 0 || return
	expect_json .outcome ENROLLED || return
	expect_pg "SELECT state || ' ' || fingerprint FROM enrollments WHERE host = '$h'" "ENROLLED $fp" || return
	expect_pg "SELECT string_agg(event, ' ' ORDER BY id) FROM history WHERE host = '$h'" ENROLL
}

c_same_cert_unchanged() {
	local h=m1.it.test
	host_eca $h --json enroll
	expect_rc 0 || return
	expect_json .outcome UNCHANGED || return
	expect_pg "SELECT count(*) FROM history WHERE host = '$h'" 1
}

c_other_key_conflict() {
	local h=m1.it.test
	renew_host $h || return
	host_eca $h --json enroll
	expect_rc 5 || return
	expect_json .error.code CONFLICT || return
	expect_pg "SELECT state FROM enrollments WHERE host = '$h'" CONFLICT || return
	expect_pg "SELECT count(*) FROM candidates WHERE host = '$h'" 1 || return
	primary_eca "$P" --json list --state CONFLICT
	expect_rc 0 || return
	expect_json "[.enrollments[] | select(.host == \"$h\")] | length" 1
}

c_approve_by_fingerprint() {
	local h=m1.it.test newfp
	newfp=$(cert_fp "$(host_dir $h)/cert.pem")
	primary_eca "$P" --json approve $h --fingerprint "$newfp"
	expect_rc 0 || return
	expect_json .outcome APPROVED || return
	expect_pg "SELECT state || ' ' || fingerprint FROM enrollments WHERE host = '$h'" "ENROLLED $newfp" || return
	expect_pg "SELECT count(*) FROM candidates WHERE host = '$h'" 0 || return
	host_eca $h --json enroll
	expect_rc 0 || return
	expect_json .outcome UNCHANGED
}

c_history() {
	local h=m1.it.test
	primary_eca "$P" --json show $h
	expect_rc 0 || return
	expect_json '[.history[].event] | join(" ")' "ENROLL CONFLICT APPROVE"
}

c_second_front_end() {
	local d=$T/$FE2 h=m1.it.test
	mkdir -p "$d"
	P_DIR[$FE2]=$d
	P_PORT[$FE2]=$(free_port) || return
	sed -e "s|^API_LISTEN = .*|API_LISTEN = 127.0.0.1:${P_PORT[$FE2]}|" \
	    -e "s|${P_DIR[$P]}/state|$d/state|g" "${P_CONF[$P]}" >"$d/eca.conf"
	# the same database, spelled as a libpq keyword string
	set_conf "$d/eca.conf" ECA_DB "host=$PGD dbname=eca user=postgres" || return
	P_CONF[$FE2]=$d/eca.conf
	start_primary "$FE2" || return
	# what front end 1 wrote, front end 2 reads
	primary_eca "$FE2" --json show $h
	expect_rc 0 || return
	expect_json .enrollment.state ENROLLED || return
	expect_json '[.history[].event] | join(" ")' "ENROLL CONFLICT APPROVE"
}

c_burst() {
	local res=$T/burst.res
	# shellcheck disable=SC2016
	split_fe "$C/burst" | xargs -r -P "$PAR" -L 1 bash -c 'enroll_at "$1" "$2" "$3"' _ \
	    >"$res" 2>/dev/null
	expect_eq "$(grep -c ' 201$' "$res")" "$N" "enrollments answered 201" || return
	expect_pg "SELECT count(*) FROM enrollments WHERE host LIKE 'b%.pg.it.test' AND state = 'ENROLLED'" "$N" || return
	expect_pg "SELECT count(*) FROM history WHERE host LIKE 'b%.pg.it.test' AND event = 'ENROLL'" "$N" || return
	expect_eq "$(pg_q "SELECT host || '|' || fingerprint FROM enrollments WHERE host LIKE 'b%.pg.it.test' ORDER BY host" | sort)" \
	    "$(fps_of "$C/burst")" "the registry's fingerprints" || return
	# one version per change, across both front ends
	expect_pg "SELECT count(DISTINCT version) = count(*) FROM enrollments" t
}

c_list_pages() {
	local want
	want=$(pg_q "SELECT count(*) FROM enrollments")
	primary_eca "$FE2" --json list
	expect_rc 0 || return
	expect_json '.enrollments | length' "$want" || return
	expect_json '[.enrollments[].host] == ([.enrollments[].host] | sort)' true || return
	primary_eca "$P" --json list --limit 7
	expect_rc 0 || return
	expect_json '.enrollments | length' 7
}

c_same_host_twice() {
	local res=$T/same.res h port1=${P_PORT[$P]} port2=${P_PORT[$FE2]} a b
	: >"$res"
	while read -r h; do
		enroll_at "$h" k1 "$port1" >>"$res" &
		a=$!
		enroll_at "$h" k2 "$port2" >>"$res" &
		b=$!
		# (not a bare wait: the front ends are children too)
		wait "$a" "$b"
	done <"$C/same"
	expect_eq "$(grep -c ' 201$' "$res")" "$NSAME" "ENROLLED answers" || return
	expect_eq "$(grep -c ' 409$' "$res")" "$NSAME" "CONFLICT answers" || return
	expect_pg "SELECT count(*) FROM enrollments WHERE host LIKE 's%.pg.it.test' AND state = 'CONFLICT'" "$NSAME" || return
	expect_pg "SELECT count(*) FROM history WHERE host LIKE 's%.pg.it.test' AND event = 'ENROLL'" "$NSAME" || return
	expect_pg "SELECT count(*) FROM candidates WHERE host LIKE 's%.pg.it.test'" "$NSAME"
}

c_kill_mid_burst() {
	local res=$T/kill.res pid i n acked missing retry
	: >"$res"
	# shellcheck disable=SC2016
	split_fe "$C/kill" | xargs -r -P "$PAR" -L 1 bash -c 'enroll_at "$1" "$2" "$3"' _ \
	    >>"$res" 2>/dev/null &
	pid=$!
	for ((i = 0; i < 600; i++)); do
		n=$(grep -c ' 201$' "$res")
		[ "$n" -ge $((NKILL / 3)) ] && break
		sleep 0.05
	done
	stop_primary "$FE2" KILL
	wait "$pid"
	acked=$(grep -c ' 201$' "$res")
	echo "# $acked of $NKILL acknowledged when front end 2 was killed"
	# every acknowledged enrollment is in the registry, with its certificate
	pg_q "SELECT host || '|' || fingerprint FROM enrollments
	    WHERE host LIKE 'k%.pg.it.test' AND state = 'ENROLLED'" |
	    sort >"$T/kill.db"
	grep ' 201$' "$res" | cut -d' ' -f1 | sort >"$T/kill.acked"
	missing=$(fps_of "$T/kill.acked" | comm -23 - "$T/kill.db")
	expect_eq "$missing" "" "acknowledged enrollments missing from the registry" || return
	# front end 1 kept working; front end 2 comes back; the rest succeed
	start_primary "$FE2" || return
	# shellcheck disable=SC2016
	retry=$(grep -v ' 201$' "$res" | cut -d' ' -f1 | split_fe /dev/stdin |
	    xargs -r -P "$PAR" -L 1 bash -c 'enroll_at "$1" "$2" "$3"' _ |
	    grep -cv ' 20[01]$')
	expect_eq "$retry" 0 "retries that did not succeed" || return
	expect_pg "SELECT count(*) FROM enrollments WHERE host LIKE 'k%.pg.it.test' AND state = 'ENROLLED'" "$NKILL" || return
	expect_pg "SELECT count(*) FROM history WHERE host LIKE 'k%.pg.it.test' AND event = 'ENROLL'" "$NKILL"
}

c_password_refused() {
	local pwconf=$T/pw.conf
	sed -e "s|^ECA_DB = .*|ECA_DB = postgresql://postgres:s3cret@/eca?host=$PGD|" \
	    -e "s|${P_DIR[$P]}/state|$T/pw|g" "${P_CONF[$P]}" >"$pwconf"
	run_cmd "$ECAD" -d -f "$pwconf"
	[ "$RC" != 0 ] || { fail "ecad started with a password in ECA_DB"; return 1; }
	expect_match "$ERR" "password file" "ecad's error" || return
	if printf '%s' "$ERR$OUT" | grep -q s3cret; then
		fail "ecad repeated the password: $(_it_short "$ERR")"
	fi
}

# PostgreSQL restarted under the front ends: requests fail BUSY for a
# moment, the connections come back (one line each way in the log) and a
# new host enrolls; nothing enrolled before is lost.
c_db_restart() {
	local before i res="" log=${P_DIR[$P]}/ecad.log from
	before=$(pg_q "SELECT count(*) FROM enrollments")
	from=$(log_lines "$log")
	_pg_as "$PG_BIN/pg_ctl" -D "$PGD/data" -m fast -w -t 30 restart \
	    -l "$PGD/server.log" >/dev/null 2>&1 || {
		fail "pg_ctl restart failed"
		return 1
	}
	for ((i = 0; i < 40; i++)); do
		res=$(enroll_at r1.pg.it.test k1 "${P_PORT[$P]}")
		[ "${res##* }" = 201 ] && break
		case "${res##* }" in
		429 | 500 | 000) sleep 1 ;;
		*) break ;;
		esac
	done
	expect_eq "${res##* }" 201 "enrollment after the restart" || return
	wait_log "$log" "connection lost" 5 "$from" || return
	wait_log "$log" "connection back" 5 "$from" || return
	expect_pg "SELECT count(*) FROM enrollments" "$((before + 1))"
}

# A role that must log in with a password (scram-sha-256 on the socket):
# ECA_DB_PASSWORD_FILE's password gets a front end in; a wrong one, or a
# file others can read, stops ecad with a clear message.
c_password_file() {
	local name=fe3 d=$T/fe3 pw=$T/fe3/dbpw
	pg_q "CREATE ROLE ecapw LOGIN SUPERUSER PASSWORD 'pw-file-s3cret'" >/dev/null || {
		fail "cannot create the role"
		return 1
	}
	sed -i '1i local all ecapw scram-sha-256' "$PGD/data/pg_hba.conf"
	_pg_as "$PG_BIN/pg_ctl" -D "$PGD/data" reload >/dev/null 2>&1 || {
		fail "pg_ctl reload failed"
		return 1
	}
	if timeout 10 psql "host=$PGD dbname=eca user=ecapw" -w -XAtqc 'SELECT 1' >/dev/null 2>&1; then
		fail "the role logs in without a password"
		return 1
	fi
	mkdir -p "$d"
	P_DIR[$name]=$d
	P_PORT[$name]=$(free_port) || return
	sed -e "s|^API_LISTEN = .*|API_LISTEN = 127.0.0.1:${P_PORT[$name]}|" \
	    -e "s|${P_DIR[$P]}/state|$d/state|g" "${P_CONF[$P]}" >"$d/eca.conf"
	set_conf "$d/eca.conf" ECA_DB "host=$PGD dbname=eca user=ecapw" || return
	set_conf "$d/eca.conf" ECA_DB_PASSWORD_FILE "$pw" || return
	P_CONF[$name]=$d/eca.conf
	(umask 077 && echo wrong >"$pw")
	run_cmd "$ECAD" -d -f "$d/eca.conf"
	[ "$RC" != 0 ] || { fail "ecad started with a wrong password"; return 1; }
	expect_match "$ERR" "password authentication failed" "ecad's error" || return
	echo pw-file-s3cret >"$pw"
	chmod 644 "$pw"
	run_cmd "$ECAD" -d -f "$d/eca.conf"
	[ "$RC" != 0 ] || { fail "ecad started with a password file others can read"; return 1; }
	expect_match "$ERR" "chmod 600" "ecad's error" || return
	chmod 600 "$pw"
	start_primary "$name" || return
	primary_eca "$name" --json show m1.it.test
	expect_rc 0 || return
	expect_json .enrollment.state ENROLLED || return
	stop_primary "$name"
}

run_case "ecad starts on a PostgreSQL registry and migrates its schema" c_start
run_case "ecad refuses a password in ECA_DB and does not repeat it" c_password_refused
run_case "a first enrollment is ENROLLED with the certificate's fingerprint and one history entry" c_first_enrollment
run_case "the same certificate again is UNCHANGED and writes no history" c_same_cert_unchanged
run_case "another key is a CONFLICT with its candidate waiting" c_other_key_conflict
run_case "approval by fingerprint enrolls the candidate" c_approve_by_fingerprint
run_case "the history reads ENROLL CONFLICT APPROVE" c_history
run_case "a second front end on the same database reads what the first wrote" c_second_front_end
run_case "a burst of first enrollments split across two front ends enrolls each host exactly once" c_burst
run_case "eca list pages through every record from either front end" c_list_pages
run_case "one host's two certificates at once through two front ends: one ENROLLED, one CONFLICT" c_same_host_twice
run_case "SIGKILL of a front end mid-burst loses no acknowledged enrollment" c_kill_mid_burst
run_case "PostgreSQL restarted: the front ends reconnect and enroll again, nothing lost" c_db_restart
run_case "ECA_DB_PASSWORD_FILE logs a front end in with a role's password; a wrong or readable one is refused" c_password_file
