#!/bin/bash
# SPDX-License-Identifier: ISC
# Crash safety: a burst of enrollments, ecad killed with SIGKILL in the
# middle of it, restarted: every enrollment the clients saw acknowledged
# is in the registry, `PRAGMA integrity_check` is ok, and the ones that
# were not acknowledged simply succeed when retried.  Three rounds, each on
# a fresh registry.  Then a full disk: the registry on a small tmpfs that
# is filled up refuses with DISK_FULL, nothing is corrupted, and it works
# again once space is freed.  After every restart the audit journal's
# hash chain verifies, and every acknowledged enrollment has its line.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

P=primary1.it.test
N=${ECA_IT_CRASH_N:-300}
ROUNDS=3
PAR=8
C=$T/certs
MNT=$T/full
MOUNTED=0
export C CA P

_crash_finish() {
	local rc=$?
	stop_all
	if [ $MOUNTED = 1 ]; then
		umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null
	fi
	(exit $rc)
	_it_finish
}
trap _crash_finish EXIT

# one_cert HOST: C/HOST.pem (leaf + intermediate) with the shared key, and
# its fingerprint in C/HOST.fp.
one_cert() {
	local h=$1
	openssl req -config "$C/req.cnf" -x509 -new -key "$C/key.pem" \
	    -CA "$CA/inter.pem" -CAkey "$CA/inter.key" -subj "/CN=$h" \
	    -days 30 -sha256 \
	    -addext "basicConstraints = critical, CA:FALSE" \
	    -addext "keyUsage = critical, digitalSignature" \
	    -addext "extendedKeyUsage = serverAuth, clientAuth" \
	    -addext "subjectAltName = DNS:$h" -out "$C/$h.leaf" || return 1
	cat "$C/$h.leaf" "$CA/inter.pem" >"$C/$h.pem"
	openssl x509 -in "$C/$h.leaf" -noout -fingerprint -sha256 |
	    sed 's/.*=//; s/://g' | tr 'A-F' 'a-f' >"$C/$h.fp"
	rm -f "$C/$h.leaf"
}
export -f one_cert

# N host certificates sharing one key (the key is not what is tested and
# making N keys would cost more than the test), made PAR at a time:
# C/hosts (the names), C/fps (sorted `host|fingerprint` lines).
make_certs() {
	local i h
	mkdir -p "$C"
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	    -out "$C/key.pem" 2>/dev/null || return 1
	chmod 600 "$C/key.pem"
	printf '[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = x\n' >"$C/req.cnf"
	for ((i = 0; i < N; i++)); do
		printf 'c%03d.crash.it.test\n' "$i"
	done >"$C/hosts"
	# shellcheck disable=SC2016
	xargs -P "$PAR" -I{} bash -c 'one_cert "$1"' _ {} <"$C/hosts" \
	    2>"$C/err" || return 1
	while read -r h; do
		[ -s "$C/$h.fp" ] || return 1
		echo "$h|$(cat "$C/$h.fp")"
	done <"$C/hosts" | sort >"$C/fps"
	sort "$C/hosts" >"$C/hosts.sorted"
}

journal() {
	echo "${P_DIR[$P]}/state/audit.jsonl"
}

# audit_intact WHEN: `eca audit verify` says the journal's chain is intact
# (the journal accumulates over the rounds: the chain must survive every
# SIGKILL and restart).
audit_intact() {
	primary_eca "$P" audit verify
	_expect_rc 0 || return
	expect_match "$OUT" "^audit journal .*: [0-9]+ entries, chain intact$" \
	    "eca audit verify $1"
}

# restart: start the primary again on its port, or on a new one if a
# client socket of some other process took the port as its ephemeral port
# meanwhile (the test ports are in the kernel's ephemeral range, and this
# file restarts ecad many times).
restart() {
	local p=${P_PORT[$P]}
	if ss -Htan "( sport = :$p )" | grep -qv '^TIME-WAIT'; then
		p=$(free_port) || { fail "no free port"; return 1; }
		echo "# port ${P_PORT[$P]} taken meanwhile; ecad moves to $p"
		P_PORT[$P]=$p
		sed -i "s|^API_LISTEN = .*|API_LISTEN = 127.0.0.1:$p|" "${P_CONF[$P]}"
	fi
	start_primary "$P" || return 1
	PORT=$p
	export PORT
}

c_setup() {
	start_primary "$P" || return
	make_certs || fail "cannot make $N certificates: $(tail -3 "$C/err" 2>/dev/null)"
}

# enroll_one HOST: one POST with the host's certificate; prints
# "HOST STATUS" (000 when there was no answer).
enroll_one() {
	local h=$1 code
	code=$(curl -sS --max-time 20 -o /dev/null -w '%{http_code}' \
	    --cacert "$CA/trust.pem" --resolve "$P:$PORT:127.0.0.1" \
	    --cert "$C/$h.pem" --key "$C/key.pem" -X POST \
	    -H 'Content-Type: application/json' \
	    --data "{\"host\":\"$h\",\"precheck\":false,\"force\":false}" \
	    "https://$P:$PORT/v1/enrollments" 2>/dev/null)
	echo "$h ${code:-000}"
}
export -f enroll_one

# One round: a fresh registry, the burst, SIGKILL once a third of the
# hosts got an answer, restart, check, retry the rest.
crash_round() {
	local r=$1 res n pid i acked missing bad integ jlines
	res=$T/round$r
	stop_primary "$P"
	rm -f "${P_DIR[$P]}/state/registry.db"*
	restart || return
	# The journal is kept over the rounds; this round's lines follow.
	jlines=$(cat "$(journal)" 2>/dev/null | wc -l)
	PORT=${P_PORT[$P]}
	export PORT
	: >"$res"
	# shellcheck disable=SC2016
	xargs -P "$PAR" -I{} bash -c 'enroll_one "$1"' _ {} <"$C/hosts" \
	    >>"$res" 2>/dev/null &
	pid=$!
	for ((i = 0; i < 600; i++)); do
		n=$(grep -c ' 20[01]$' "$res")
		[ "$n" -ge $((N / 3)) ] && break
		sleep 0.05
	done
	stop_primary "$P" KILL
	wait "$pid"
	acked=$(grep -c ' 20[01]$' "$res")
	echo "# round $r: $acked of $N acknowledged before SIGKILL"
	if [ "$acked" -eq 0 ] || [ "$acked" -ge "$N" ]; then
		fail "round $r: the kill did not land in the middle of the burst ($acked of $N acknowledged)"
		return
	fi
	restart || return
	integ=$(timeout 20 sqlite3 "${P_DIR[$P]}/state/registry.db" 'PRAGMA integrity_check')
	expect_eq "$integ" ok "round $r: PRAGMA integrity_check" || return
	audit_intact "round $r, after the SIGKILL and restart" || return
	# Every acknowledged host, with its certificate's fingerprint, must
	# be an ENROLLED row of the registry.
	awk '$2 == 200 || $2 == 201 { print $1 }' "$res" | sort >"$res.acked"
	join -t '|' "$res.acked" "$C/fps" >"$res.want"
	db_count "SELECT host || '|' || fingerprint FROM enrollments WHERE state='ENROLLED'" |
	    sort >"$res.have"
	missing=$(comm -23 "$res.want" "$res.have" | wc -l)
	comm -23 "$res.want" "$res.have" | head -5 |
	    sed "s/^/# round $r: acknowledged but not in the registry: /"
	expect_eq "$(wc -l <"$res.want")" "$acked" "round $r: acknowledged hosts with a known certificate" || return
	expect_eq "$missing" 0 "round $r: acknowledged enrollments missing after the restart" || return
	# The rest (no answer, or never sent) simply succeed when retried: 200
	# if the commit reached the disk before the kill but the answer did
	# not reach the client, 201 otherwise.
	sort "$C/hosts" | comm -23 - "$res.acked" >"$res.retry"
	# shellcheck disable=SC2016
	xargs -P "$PAR" -I{} bash -c 'enroll_one "$1"' _ {} <"$res.retry" \
	    >"$res.retried" 2>/dev/null
	bad=$(awk '$2 != 200 && $2 != 201' "$res.retried" | wc -l)
	awk '$2 != 200 && $2 != 201' "$res.retried" | head -5 |
	    sed "s/^/# round $r: retry answered: /"
	expect_eq "$(wc -l <"$res.retried")" "$((N - acked))" "round $r: retries made" || return
	expect_eq "$bad" 0 "round $r: retries that failed" || return
	expect_db "SELECT count(*) FROM enrollments WHERE host LIKE 'c%.crash.it.test' AND state='ENROLLED'" "$N" || return
	expect_db "SELECT count(DISTINCT host_id) FROM enrollments WHERE host LIKE 'c%.crash.it.test'" "$N" || return
	integ=$(timeout 20 sqlite3 "${P_DIR[$P]}/state/registry.db" 'PRAGMA integrity_check')
	expect_eq "$integ" ok "round $r: PRAGMA integrity_check after the retries" || return
	audit_intact "round $r, after the retries" || return
	# An acknowledged enrollment's line is durable with its COMMIT (on
	# SQLite the registry keeps it until the file has it on disk; a start
	# writes back what the file lacks): every acknowledged enrollment has
	# its line (a line without a row is possible, the reverse is not;
	# docs/hardening.md).
	tail -n +"$((jlines + 1))" "$(journal)" |
	    jq -r 'select(.event == "enrolled" or .event == "renewed" or .event == "forced") | .host' |
	    sort -u >"$res.journaled"
	missing=$(comm -23 "$res.acked" "$res.journaled" | wc -l)
	comm -23 "$res.acked" "$res.journaled" | head -5 |
	    sed "s/^/# round $r: acknowledged but not in the audit journal: /"
	expect_eq "$missing" 0 "round $r: acknowledged enrollments without an audit line" || return
	expect_eq "$(comm -23 "$C/hosts.sorted" "$res.journaled" | wc -l)" 0 \
	    "round $r: hosts enrolled after the retries without an audit line"
}

c_full_disk() {
	local db h code integ
	mkdir -p "$MNT"
	if ! mount -t tmpfs -o size=3m,mode=0700 tmpfs "$MNT" 2>"$T/mount.err"; then
		echo "# SKIP full disk: cannot mount a tmpfs here ($(cat "$T/mount.err")); run as root to test it"
		pass
		return
	fi
	MOUNTED=1
	stop_primary "$P"
	db=$MNT/registry.db
	sed -i "s|^ECA_DB = .*|ECA_DB = sqlite:$db|" "${P_CONF[$P]}"
	restart || return
	PORT=${P_PORT[$P]}
	export PORT
	# Some rows before the disk fills.
	for h in $(head -5 "$C/hosts"); do
		code=$(enroll_one "$h" | awk '{ print $2 }')
		expect_eq "$code" 201 "enrolling $h on the tmpfs" || return
	done
	dd if=/dev/zero of="$MNT/filler" bs=64k 2>/dev/null
	# Enough enrollments to need new pages whatever SQLite had free.
	local seen=""
	sed -n '6,60p' "$C/hosts" >"$T/full.hosts"
	while read -r h; do
		primary_curl "$P" - POST /v1/enrollments --cert "$C/$h.pem" \
		    --key "$C/key.pem" \
		    --data "{\"host\":\"$h\",\"precheck\":false,\"force\":false}"
		if [ "$HTTP" != 201 ]; then
			seen=$HTTP
			break
		fi
	done <"$T/full.hosts"
	if [ -z "$seen" ]; then
		fail "55 enrollments on a full 3 MiB tmpfs all succeeded"
		return
	fi
	expect_http 507 || return
	expect_json .error.code DISK_FULL || return
	expect_match "$(jq -r .error.message <<<"$OUT")" 'space|full' "the DISK_FULL message" || return
	integ=$(timeout 20 sqlite3 "$db" 'PRAGMA integrity_check')
	expect_eq "$integ" ok "PRAGMA integrity_check on the full disk" || return
	n=$(timeout 10 sqlite3 -readonly "$db" "SELECT count(*) FROM enrollments WHERE host='$h'")
	expect_eq "$n" 0 "rows for the host refused with DISK_FULL" || return
	# Space again: the same enrollment now succeeds.
	rm -f "$MNT/filler"
	code=$(enroll_one "$h" | awk '{ print $2 }')
	expect_eq "$code" 201 "enrolling $h after space was freed" || return
	integ=$(timeout 20 sqlite3 "$db" 'PRAGMA integrity_check')
	expect_eq "$integ" ok "PRAGMA integrity_check after space was freed" || return
	stop_primary "$P"
	umount "$MNT" && MOUNTED=0
}

run_case "ecad starts and $N host certificates are made" c_setup
[ "$IT_FAILED" = 0 ] || exit 1
for r in $(seq 1 $ROUNDS); do
	run_case "round $r: after SIGKILL during $N enrollments every acknowledged one is present and journaled, the registry is intact, the audit chain verifies and the rest succeed on retry" crash_round "$r"
done
run_case "a full disk refuses enrollments with DISK_FULL, corrupts nothing, and enrollments work again once space is freed" c_full_disk
