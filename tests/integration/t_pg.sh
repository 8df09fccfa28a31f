#!/bin/bash
# SPDX-License-Identifier: ISC
# it-timeout: 480
# The registry on PostgreSQL (issue 12): a real PostgreSQL 15 started by
# tests/pg.sh in a temporary directory (UNIX socket only, run as the
# postgres user, stopped at the end).  The enrollment cases on one front
# end (first enrollment, the same certificate UNCHANGED, another key a
# CONFLICT, approval by fingerprint, the history), then a second ecad front
# end of the same primary on the same database: a change made through one
# is read through the other; a burst of first enrollments split across
# both enrolls each host exactly once; one host's two certificates sent at
# once, one to each front end, give exactly one ENROLLED and one CONFLICT;
# a front end killed with SIGKILL mid-burst loses no acknowledged
# enrollment; PostgreSQL stopped mid-burst gives 503s with Retry-After,
# rosters from memory, then recovery with nothing acknowledged lost.
# The burst is the issue's: ECA_IT_PG_N (default 2000) first enrollments
# at once, half through each front end, each half sent by one
# bench/bench_enroll at concurrency ECA_IT_PG_CONC (default 250) with
# --retry (a 429 BUSY is retried as a host's eca would).  Every host
# certificate is minted in-process by bench/mintcerts before the timed
# cases (one process per host set, thousands per second).  Last, the
# whole of t_enroll.sh runs with ECA_IT_DB=pg (its registries on
# PostgreSQL) and must pass.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

P=primary1.it.test
FE2=fe2 # the second front end of $P (its key in the P_* arrays)
N=${ECA_IT_PG_N:-2000}
CONC=${ECA_IT_PG_CONC:-250}
NKILL=100
NDOWN=50
NAUDIT=10
NSAME=10
PAR=8
C=$T/certs
BENCH=$BUILD/bench/bench_enroll
MINT=$BUILD/bench/mintcerts
export C CA P

need_pg

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

# crt_of HOST KEY / key_of HOST KEY: the files of HOST's certificate (leaf +
# intermediate) and private key of key set KEY (k1, or k2: a second
# certificate with another key for the same-host race); mintcerts names
# them by the host name's first label.
crt_of() { echo "$C/$2/${1%%.*}.pem"; }
key_of() { echo "$C/$2/${1%%.*}.key"; }
export -f crt_of key_of

# enroll_at HOST KEY PORT: one POST with HOST's certificate of KEY to the
# front end on PORT; prints "HOST STATUS" (000: no answer).
enroll_at() {
	local h=$1 k=$2 port=$3 code
	code=$(curl -sS --max-time 30 -o /dev/null -w '%{http_code}' \
	    --cacert "$CA/trust.pem" --resolve "$P:$port:127.0.0.1" \
	    --cert "$(crt_of "$h" "$k")" --key "$(key_of "$h" "$k")" -X POST \
	    -H 'Content-Type: application/json' \
	    --data "{\"host\":\"$h\",\"precheck\":false,\"force\":false}" \
	    "https://$P:$port/v1/enrollments" 2>/dev/null)
	echo "$h ${code:-000}"
}
export -f enroll_at

# hosts PREFIX COUNT DOMAIN: mintcerts' host names, one a line.
hosts() {
	local i
	for ((i = 0; i < $2; i++)); do printf '%s%05d.%s\n' "$1" "$i" "$3"; done
}

# mint KEY PREFIX COUNT [DOMAIN]: COUNT certificates of hosts
# PREFIXNNNNN.DOMAIN (default pg.it.test) signed by the test CA into C/KEY.
mint() {
	"$MINT" --ca "$CA" --out "$C/$1" --count "$3" --prefix "$2" \
	    --domain "${4:-pg.it.test}" 2>>"$C/err"
}

# fps DIR DOMAIN: "host|sha256 fingerprint" of every certificate in DIR
# (its leaf, the first PEM block), sorted; one python3 for thousands.
fps() {
	"$PY" - "$1" "$2" <<'PYEOF' | sort
import glob, hashlib, os, ssl, sys
d, dom = sys.argv[1], sys.argv[2]
end = "-----END CERTIFICATE-----"
for p in glob.glob(d + "/*.pem"):
    with open(p) as f:
        t = f.read()
    der = ssl.PEM_cert_to_DER_cert(t[:t.index(end) + len(end)] + "\n")
    name = os.path.basename(p)[:-4]
    print(name + "." + dom + "|" + hashlib.sha256(der).hexdigest())
PYEOF
}

# make_certs: the hosts of the burst (C/burst, hNNNNN.bench.eca: the
# names bench_enroll sends), of the kill round (C/kill), of the same-host
# race (C/same, also with a second key in C/k2), of the database-down
# round (C/down) and of the audit chain (C/audit); their fingerprints in
# C/k1.fps.
make_certs() {
	local t0 t1
	[ -x "$MINT" ] || { echo "$MINT not built" >"$C/err"; return 1; }
	mkdir -p "$C"
	: >"$C/err"
	t0=$(date +%s.%N)
	mint k1 h "$N" bench.eca || return 1
	mint k1 k "$NKILL" || return 1
	mint k1 s "$NSAME" || return 1
	mint k1 d "$NDOWN" || return 1
	mint k1 a "$NAUDIT" || return 1
	mint k1 r 1 || return 1
	mint k1 x 2 || return 1
	mint k2 s "$NSAME" || return 1
	t1=$(date +%s.%N)
	hosts h "$N" bench.eca >"$C/burst"
	hosts k "$NKILL" pg.it.test >"$C/kill"
	hosts s "$NSAME" pg.it.test >"$C/same"
	hosts d "$NDOWN" pg.it.test >"$C/down"
	hosts a "$NAUDIT" pg.it.test >"$C/audit"
	{
		fps "$C/k1" pg.it.test | grep -v '^h'
		fps "$C/k1" bench.eca | grep '^h'
	} | sort >"$C/k1.fps"
	echo "# minted $((N + NKILL + 2 * NSAME + NDOWN + NAUDIT + 3)) certificates in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"
	if [ "$(wc -l <"$C/k1.fps")" != $((N + NKILL + NSAME + NDOWN + NAUDIT + 3)) ]; then
		echo "$(wc -l <"$C/k1.fps") fingerprints in $C/k1.fps" >>"$C/err"
		return 1
	fi
}

# split_fe FILE: its hosts as "HOST k1 PORT" lines, alternately to each front end.
split_fe() {
	awk -v a="${P_PORT[$P]}" -v b="${P_PORT[$FE2]}" \
	    '{ print $1, "k1", (NR % 2 ? a : b) }' "$1"
}

# fps_of FILE: sorted "host|fingerprint" lines of FILE's hosts (key k1).
fps_of() {
	awk -F'|' 'NR == FNR { want[$1]; next } $1 in want' "$1" "$C/k1.fps" | sort
}

# fp_of HOST: the fingerprint of HOST's certificate of key k1.
fp_of() {
	awk -F'|' -v h="$1" '$1 == h { print $2 }' "$C/k1.fps"
}

c_start() {
	pg_server || return
	# the burst comes from one address: no per-source cap in its way
	make_primary "$P" "MAX_CONNECTIONS_PER_SOURCE = 100000" || return
	set_conf "${P_CONF[$P]}" ECA_DB "$PG_URI" || return
	start_primary "$P" || return
	expect_pg "SELECT version FROM eca_schema" 6 || return
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
	set_conf "$d/eca.conf" ECA_DB "host=$IT_PGD dbname=eca user=postgres" || return
	P_CONF[$FE2]=$d/eca.conf
	start_primary "$FE2" || return
	# what front end 1 wrote, front end 2 reads
	primary_eca "$FE2" --json show $h
	expect_rc 0 || return
	expect_json .enrollment.state ENROLLED || return
	expect_json '[.history[].event] | join(" ")' "ENROLL CONFLICT APPROVE"
}

# bench_at PORT FIRST COUNT OUT: bench_enroll sends the first enrollments of
# burst hosts FIRST..FIRST+COUNT-1 to the front end on PORT at concurrency
# CONC (a 429 BUSY retried), its JSON summary in OUT, stderr in OUT.err.
bench_at() {
	timeout -k 5 300 "$BENCH" --target "127.0.0.1:$1" --name "$P" \
	    --trust "$CA/trust.pem" --certs "$C/k1" --first "$2" --n "$3" \
	    --concurrency "$CONC" --mode enroll --retry --timeout 60000 --json \
	    >"$4" 2>"$4.err"
}

c_burst() {
	local half=$((N / 2)) a b rc1 rc2 t0 t1 q="FROM enrollments WHERE host LIKE 'h%.bench.eca'"
	[ -x "$BENCH" ] || { fail "$BENCH not built"; return 1; }
	t0=$(date +%s.%N)
	# both at once: N first enrollments in flight together
	bench_at "${P_PORT[$P]}" 0 "$half" "$T/burst1.json" &
	a=$!
	bench_at "${P_PORT[$FE2]}" "$half" $((N - half)) "$T/burst2.json" &
	b=$!
	wait "$a"
	rc1=$?
	wait "$b"
	rc2=$?
	t1=$(date +%s.%N)
	echo "# burst: $N first enrollments, $half through front end 1 and $((N - half)) through front end 2, at concurrency $CONC each, in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s;" \
	    "429 BUSY retried: $(jq -r .busy "$T/burst1.json" 2>/dev/null) + $(jq -r .busy "$T/burst2.json" 2>/dev/null)"
	expect_eq "$rc1" 0 "bench_enroll's status through front end 1 ($(_it_short "$(cat "$T/burst1.json.err")"))" || return
	expect_eq "$rc2" 0 "bench_enroll's status through front end 2 ($(_it_short "$(cat "$T/burst2.json.err")"))" || return
	expect_json .errors 0 "$(cat "$T/burst1.json")" || return
	expect_json .errors 0 "$(cat "$T/burst2.json")" || return
	expect_json .created "$half" "$(cat "$T/burst1.json")" || return
	expect_json .created $((N - half)) "$(cat "$T/burst2.json")" || return
	# each host enrolled exactly once, with its own certificate
	expect_pg "SELECT count(*) $q" "$N" || return
	expect_pg "SELECT count(*) $q AND state = 'ENROLLED'" "$N" || return
	expect_pg "SELECT count(DISTINCT fingerprint) $q" "$N" || return
	expect_pg "SELECT count(*) FROM history WHERE host LIKE 'h%.bench.eca' AND event = 'ENROLL'" "$N" || return
	expect_pg "SELECT count(*) FROM (SELECT host FROM history WHERE host LIKE 'h%.bench.eca' GROUP BY host HAVING count(*) = 1 AND min(event) = 'ENROLL') o" "$N" || return
	expect_eq "$(pg_q "SELECT host || '|' || fingerprint $q" | sort)" \
	    "$(fps_of "$C/burst")" "the registry's fingerprints" || return
	# nothing else: only m1.it.test besides the burst, no other event
	expect_pg "SELECT string_agg(host, ' ') FROM enrollments WHERE host NOT LIKE 'h%.bench.eca'" m1.it.test || return
	expect_pg "SELECT count(*) FROM history WHERE host NOT LIKE 'h%.bench.eca' AND host <> 'm1.it.test'" 0 || return
	expect_pg "SELECT count(*) FROM candidates" 0 || return
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
	sed -e "s|^ECA_DB = .*|ECA_DB = postgresql://postgres:s3cret@/eca?host=$IT_PGD|" \
	    -e "s|${P_DIR[$P]}/state|$T/pw|g" "${P_CONF[$P]}" >"$pwconf"
	run_cmd "$ECAD" -d -f "$pwconf"
	[ "$RC" != 0 ] || { fail "ecad started with a password in ECA_DB"; return 1; }
	expect_match "$ERR" "password file" "ecad's error" || return
	if printf '%s' "$ERR$OUT" | grep -q s3cret; then
		fail "ecad repeated the password: $(_it_short "$ERR")"
	fi
}

# roster_at PORT SINCE: GET /v1/roster?since=SINCE from the front end on
# PORT as m1.it.test; HTTP the status, OUT the body.
roster_at() {
	local m=${H_DIR[m1.it.test]}
	run_cmd curl -sS --max-time 15 -o "$T/.body" -w '%{http_code}' \
	    --cacert "$CA/trust.pem" --resolve "$P:$1:127.0.0.1" \
	    --cert "$m/cert.pem" --key "$m/key.pem" \
	    "https://$P:$1/v1/roster?since=$2"
	HTTP=$OUT
	OUT=$(cat "$T/.body" 2>/dev/null)
	rm -f "$T/.body"
}

# pg_start_again: the server pg_ctl stopped, started with pg.sh's options.
pg_start_again() {
	_pg_as "$PG_BIN/pg_ctl" -D "$IT_PGD/data" -l "$IT_PGD/server.log" -w -t 30 \
	    -o "-c listen_addresses='' -c unix_socket_directories='$IT_PGD' \
	    -c fsync=off -c max_connections=100 -c shared_buffers=16MB" \
	    start >/dev/null 2>&1
}

# count_from FILE FROM RE: lines of FILE from line FROM matching RE.
count_from() {
	tail -n +"$2" "$1" 2>/dev/null | grep -cE -- "$3"
}

# retry_all RES: enroll again, alternately through each front end, the hosts
# RES has without a 201, until none is left (a few rounds: the front ends
# reconnect on a backoff); prints how many still fail.
retry_all() {
	local res=$1 round left
	for ((round = 0; round < 20; round++)); do
		# shellcheck disable=SC2016
		grep -v ' 20[01]$' "$res" | cut -d' ' -f1 | split_fe /dev/stdin |
		    xargs -r -P "$PAR" -L 1 bash -c 'enroll_at "$1" "$2" "$3"' _ \
		    >"$res.retry"
		grep ' 20[01]$' "$res.retry" >>"$res"
		left=$(grep -cv ' 20[01]$' "$res.retry")
		[ "$left" = 0 ] && break
		# only the hosts still failing are tried again
		grep ' 20[01]$' "$res" >"$res.ok"
		grep -v ' 20[01]$' "$res.retry" >>"$res.ok"
		mv "$res.ok" "$res"
		sleep 1
	done
	echo "$left"
}

# PostgreSQL stopped mid-burst under both front ends: enrollments are
# answered 503 DB_UNAVAILABLE with Retry-After, a roster sync is answered
# from the last good roster in memory, and once the server is back every
# front end recovers; every acknowledged enrollment is in the registry, and
# each front end logged exactly one "lost" and one "restored" line.
c_db_down_mid_burst() {
	local res=$T/down.res pid i v left hdr=$T/down.hdr name log
	local -A from
	for name in "$P" "$FE2"; do
		from[$name]=$(log_lines "${P_DIR[$name]}/ecad.log")
	done
	# the roster front end 2 last saw, before the database goes
	roster_at "${P_PORT[$FE2]}" 0
	expect_http 200 || return
	v=$(printf '%s' "$OUT" | jq -r .version)
	: >"$res"
	# shellcheck disable=SC2016
	split_fe "$C/down" | xargs -r -P 4 -L 1 bash -c 'enroll_at "$1" "$2" "$3"' _ \
	    >>"$res" 2>/dev/null &
	pid=$!
	for ((i = 0; i < 600; i++)); do
		[ "$(grep -c ' 201$' "$res")" -ge $((NDOWN / 4)) ] && break
		sleep 0.05
	done
	_pg_as "$PG_BIN/pg_ctl" -D "$IT_PGD/data" -m fast -w -t 30 stop \
	    >/dev/null 2>&1 || {
		fail "pg_ctl stop failed"
		return 1
	}
	# while it is down: 503 with Retry-After and the reason
	for ((i = 0; i < 20; i++)); do
		run_cmd curl -sS --max-time 15 -D "$hdr" -o "$T/.body" -w '%{http_code}' \
		    --cacert "$CA/trust.pem" --resolve "$P:${P_PORT[$P]}:127.0.0.1" \
		    --cert "$(crt_of x00000 k1)" --key "$(key_of x00000 k1)" -X POST \
		    -H 'Content-Type: application/json' \
		    --data '{"host":"x00000.pg.it.test","precheck":false,"force":false}' \
		    "https://$P:${P_PORT[$P]}/v1/enrollments"
		[ "$OUT" = 503 ] && break
		sleep 0.2
	done
	HTTP=$OUT
	OUT=$(cat "$T/.body" 2>/dev/null)
	expect_http 503 || return
	expect_json .error.code DB_UNAVAILABLE || return
	expect_match "$(tr -d '\r' <"$hdr")" "^Retry-After: [0-9]+$" "the 503's headers" || return
	# the health check says so
	primary_curl "$P" - GET /v1/health
	expect_json '.checks[] | select(.name == "registry") | .status' critical || return
	expect_match "$OUT" "registry database cannot be reached" "the health check" || return
	# the roster from memory: the version front end 2 saw
	roster_at "${P_PORT[$FE2]}" 0
	expect_http 200 || return
	expect_json .version "$v" || return
	expect_json '.entries | length > 0' true || return
	# a host ahead of that version is not handed an older full roster
	roster_at "${P_PORT[$FE2]}" $((v + 1000000))
	expect_http 503 || return
	sleep 1
	pg_start_again || {
		fail "pg_ctl start failed: $(tail -3 "$IT_PGD/server.log")"
		return 1
	}
	wait "$pid"
	echo "# $(grep -c ' 201$' "$res") of $NDOWN acknowledged, $(grep -c ' 503$' "$res") answered 503"
	expect_eq "$(grep -cv ' \(201\|503\)$' "$res")" 0 "answers other than 201 and 503" || return
	# every acknowledged enrollment is in the registry, with its certificate
	pg_q "SELECT host || '|' || fingerprint FROM enrollments
	    WHERE host LIKE 'd%.pg.it.test' AND state = 'ENROLLED'" |
	    sort >"$T/down.db"
	grep ' 201$' "$res" | cut -d' ' -f1 | sort >"$T/down.acked"
	expect_eq "$(fps_of "$T/down.acked" | comm -23 - "$T/down.db")" "" \
	    "acknowledged enrollments missing from the registry" || return
	left=$(retry_all "$res")
	expect_eq "$left" 0 "enrollments still failing after the restart" || return
	expect_pg "SELECT count(*) FROM enrollments WHERE host LIKE 'd%.pg.it.test' AND state = 'ENROLLED'" "$NDOWN" || return
	expect_pg "SELECT count(*) FROM history WHERE host LIKE 'd%.pg.it.test' AND event = 'ENROLL'" "$NDOWN" || return
	for name in "$P" "$FE2"; do
		log=${P_DIR[$name]}/ecad.log
		wait_log "$log" "database connection restored" 10 "${from[$name]}" || return
		expect_eq "$(count_from "$log" "${from[$name]}" "database connection lost")" 1 \
		    "\"lost\" lines in $name's log" || return
		expect_match "$(tail -n +"${from[$name]}" "$log" | grep "database connection lost")" \
		    "No such file|Connection refused|terminating connection|closed the connection|shut" \
		    "the \"lost\" line carries libpq's error" || return
		expect_eq "$(count_from "$log" "${from[$name]}" "database connection restored")" 1 \
		    "\"restored\" lines in $name's log" || return
		expect_eq "$(count_from "$log" "${from[$name]}" "DB_UNAVAILABLE")" 1 \
		    "lines naming DB_UNAVAILABLE in $name's log (not one per request)" || return
	done
}

# PostgreSQL restarted between requests: the next request finds its
# connection dead, resets it and runs: answered at once, no "lost" line
# (the server was never found unreachable), nothing enrolled before lost.
c_db_restart() {
	local before res log=${P_DIR[$P]}/ecad.log from
	before=$(pg_q "SELECT count(*) FROM enrollments")
	from=$(log_lines "$log")
	_pg_as "$PG_BIN/pg_ctl" -D "$IT_PGD/data" -m fast -w -t 30 restart \
	    -l "$IT_PGD/server.log" >/dev/null 2>&1 || {
		fail "pg_ctl restart failed"
		return 1
	}
	res=$(enroll_at r00000.pg.it.test k1 "${P_PORT[$P]}")
	expect_eq "${res##* }" 201 "enrollment after the restart" || return
	expect_eq "$(count_from "$log" "$from" "database connection lost")" 0 \
	    "\"lost\" lines" || return
	expect_pg "SELECT count(*) FROM enrollments" "$((before + 1))"
}

# LISTEN/NOTIFY: front end 2 answers the roster from memory while it is
# known fresh; a change committed elsewhere is announced (NOTIFY in the
# committing transaction) and the next sync through front end 2 has it.
# First the proof that the memory answers: a change written straight into
# the database without a NOTIFY is not seen, the NOTIFY makes it seen.
# Then the real path: an enrollment through front end 1, then one sync
# through front end 2.
c_notify_wakes_other_front_end() {
	local fe2=${P_PORT[$FE2]} v w h=x00001.pg.it.test res i n=0
	# Both front ends listen again: after the restart cases above each
	# reconnects its LISTEN connection with a backoff of up to 30 s, and
	# until then its roster is read from the database every time.
	for ((i = 0; i < 90; i++)); do
		n=$(pg_q "SELECT count(*) FROM pg_stat_activity
		    WHERE query = 'LISTEN eca_registry'")
		[ "${n:-0}" -ge 2 ] && break
		sleep 0.5
	done
	[ "${n:-0}" -ge 2 ] || {
		fail "after 45 s only ${n:-0} of the 2 front ends listen on eca_registry again"
		return 1
	}
	roster_at "$fe2" 0
	expect_http 200 || return
	roster_at "$fe2" 0
	expect_http 200 || return
	sleep 0.5 # the cache is refreshed after the answer
	v=$(printf '%s' "$OUT" | jq -r .version)
	w=$(pg_q "BEGIN;
	    UPDATE meta SET value = value + 1 WHERE key = 'registry_version';
	    UPDATE enrollments SET version = (SELECT value FROM meta WHERE key = 'registry_version')
	        WHERE host = 'm1.it.test';
	    COMMIT;
	    SELECT value FROM meta WHERE key = 'registry_version'") || {
		fail "psql failed: $w"
		return 1
	}
	roster_at "$fe2" "$v"
	expect_http 200 || return
	expect_json '.entries | length' 0 || return
	expect_json .version "$v" || return
	pg_q "NOTIFY eca_registry, '$w'" >/dev/null || {
		fail "psql NOTIFY failed"
		return 1
	}
	sleep 0.5
	roster_at "$fe2" "$v"
	expect_http 200 || return
	expect_json '[.entries[].host] | join(" ")' m1.it.test || return
	expect_json .version "$w" || return
	res=$(enroll_at $h k1 "${P_PORT[$P]}")
	expect_eq "${res##* }" 201 "enrollment through front end 1" || return
	sleep 0.5
	roster_at "$fe2" "$w"
	expect_http 200 || return
	expect_json '[.entries[].host] | join(" ")' $h || return
	expect_json ".entries[0].fingerprint" "$(fp_of $h)"
}

# The audit journal is one hash chain in PostgreSQL for both front ends:
# enrollments sent alternately through each are journaled in one chain,
# in the transaction of their change; `eca audit verify` on either front
# end checks the rows (intact, every row counted), `eca audit show` reads
# them, and one row edited in the database is the row verify names.
c_audit_one_chain() {
	local res=$T/audit.res rows seq h
	: >"$res"
	while read -r h; do
		enroll_at "$h" k1 "${P_PORT[$P]}" >>"$res"
		read -r h || break
		enroll_at "$h" k1 "${P_PORT[$FE2]}" >>"$res"
	done <"$C/audit"
	expect_eq "$(grep -c ' 201$' "$res")" "$NAUDIT" "enrollments answered 201" || return
	expect_pg "SELECT count(*) FROM audit WHERE line LIKE '%\"event\":\"enrolled\"%' AND line LIKE '%\"host\":\"a_____.pg.it.test\"%'" "$NAUDIT" || return
	# one chain: seq 1..N without a gap, whichever front end wrote
	expect_pg "SELECT min(seq) = 1 AND max(seq) = count(*) FROM audit" t || return
	rows=$(pg_q "SELECT count(*) FROM audit")
	for name in "$P" "$FE2"; do
		primary_eca "$name" --json audit verify
		expect_rc 0 || return
		expect_json .database true || return
		expect_json .intact true || return
		expect_json .entries "$rows" || return
	done
	primary_eca "$FE2" --json audit show --host a00001.pg.it.test
	expect_rc 0 || return
	expect_json '[.entries[].event] | join(" ")' enrolled || return
	# The API (the web console's audit page) reads the same chain, a
	# page at a time, newest first, through either front end.
	for name in "$P" "$FE2"; do
		primary_get "$name" /v1/audit/verify
		expect_json .path "the registry database" || return
		expect_json .intact true || return
		expect_json .entries "$rows" || return
		primary_get "$name" "/v1/audit?limit=3"
		expect_json '[.entries[].seq] | join(" ")' "$rows $((rows - 1)) $((rows - 2))" || return
		expect_json .next $((rows - 2)) || return
		primary_get "$name" "/v1/audit?limit=1000&before=3"
		expect_json '[.entries[].seq] | join(" ")' "2 1" || return
		expect_json .next null || return
	done
	# an edited row is the one verify names
	seq=$(pg_q "SELECT seq FROM audit WHERE line LIKE '%\"host\":\"a00003.pg.it.test\"%' ORDER BY seq LIMIT 1")
	[ -n "$seq" ] || {
		fail "no audit row of a00003.pg.it.test"
		return 1
	}
	pg_q "UPDATE audit SET line = replace(line, 'a00003.pg.it.test', 'a99999.pg.it.test') WHERE seq = $seq" >/dev/null || {
		fail "psql UPDATE failed"
		return 1
	}
	primary_eca "$P" --json audit verify
	expect_rc 1 || return
	expect_json .intact false || return
	expect_json .first_bad_row "$seq" || return
	expect_match "$(printf '%s' "$OUT" | jq -r .problem)" "edited" "verify's problem" || return
	primary_eca "$P" audit verify
	expect_match "$OUT" "row $seq " "verify's line" || return
	pg_q "UPDATE audit SET line = replace(line, 'a99999.pg.it.test', 'a00003.pg.it.test') WHERE seq = $seq" >/dev/null || {
		fail "psql UPDATE failed"
		return 1
	}
	primary_eca "$P" --json audit verify
	expect_rc 0 || return
	expect_json .intact true
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
	sed -i '1i local all ecapw scram-sha-256' "$IT_PGD/data/pg_hba.conf"
	_pg_as "$PG_BIN/pg_ctl" -D "$IT_PGD/data" reload >/dev/null 2>&1 || {
		fail "pg_ctl reload failed"
		return 1
	}
	if timeout 10 psql "host=$IT_PGD dbname=eca user=ecapw" -w -XAtqc 'SELECT 1' >/dev/null 2>&1; then
		fail "the role logs in without a password"
		return 1
	fi
	mkdir -p "$d"
	P_DIR[$name]=$d
	P_PORT[$name]=$(free_port) || return
	sed -e "s|^API_LISTEN = .*|API_LISTEN = 127.0.0.1:${P_PORT[$name]}|" \
	    -e "s|${P_DIR[$P]}/state|$d/state|g" "${P_CONF[$P]}" >"$d/eca.conf"
	set_conf "$d/eca.conf" ECA_DB "host=$IT_PGD dbname=eca user=ecapw" || return
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
run_case "PostgreSQL stopped mid-burst: 503 with Retry-After, the roster from memory, recovery, nothing acknowledged lost, one line each way" c_db_down_mid_burst
run_case "PostgreSQL restarted between requests: the connection is reset quietly and the next enrollment succeeds" c_db_restart
run_case "a change through one front end wakes the other's roster in memory (LISTEN/NOTIFY) within one sync" c_notify_wakes_other_front_end
run_case "the audit journal is one chain in PostgreSQL across both front ends; verify names an edited row" c_audit_one_chain
run_case "ECA_DB_PASSWORD_FILE logs a front end in with a role's password; a wrong or readable one is refused" c_password_file
run_case "the enrollment life cycle of t_enroll.sh passes on PostgreSQL (ECA_IT_DB=pg)" on_pg t_enroll.sh
