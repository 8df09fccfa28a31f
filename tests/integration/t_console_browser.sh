#!/bin/bash
# SPDX-License-Identifier: ISC
# it-timeout: 300
# Issue 11: the web console in a real browser.  A primary with its console,
# hosts enrolled (one with a certificate waiting), then
# tests/browser/console.mjs drives the system's Chromium through
# playwright-core (installed by tests/browser/install.sh from the lock
# file when missing) and prints one line per case; screenshots go to
# BUILD/console-screenshots.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

P=primary.browser.test
A=a.browser.test
B=b.browser.test
C=c.browser.test
D=d.browser.test
M=media.browser.test
N=nat.browser.test
ADM=admin.browser.test
CPORT=""
BPORT=""
BROWSER_DIR=$REPO/tests/browser

c_tools() {
	command -v node >/dev/null 2>&1 ||
	    { fail "node is missing (scripts/install-deps.sh test)"; return; }
	[ -x "${CHROMIUM:-/usr/bin/chromium}" ] ||
	    { fail "no Chromium at ${CHROMIUM:-/usr/bin/chromium} (scripts/install-deps.sh test)"; return; }
	run_cmd timeout 200 "$BROWSER_DIR/install.sh"
	expect_rc 0
}

c_setup() {
	local h mport
	CPORT=$(free_port) && BPORT=$(free_port) && mport=$(free_port) || return
	start_primary "$P" "CONSOLE_LISTEN = 127.0.0.1:$CPORT" \
	    "CONSOLE_LINK_MINUTES = 1" "BROKER_LISTEN = 127.0.0.1:$BPORT" \
	    "ADMIN_IDENTITY = $ADM" || return
	make_host $ADM --server "$P" || return
	# M: a media server with its peer listener, for A's channels.
	make_host $M --server "$P" --conf "LISTEN = 127.0.0.1:$mport" || return
	sed -i "s/^ROLE = client$/ROLE = media/" "$(host_dir $M)/eca.conf"
	make_host $A --server "$P" --conf "PEER = $M 127.0.0.1:$mport" || return
	for h in $B $C $D; do
		make_host "$h" --server "$P" || return
	done
	for h in $A $B $C $D $M; do
		host_eca "$h" enroll
		expect_rc 0 || return
	done
	start_host $M || return
	# N: a NAT host with its broker session to the primary.
	make_host $N --server "$P" --conf "NAT_CLIENT = YES" \
	    --conf "BROKER_LISTEN = 127.0.0.1:$BPORT" || return
	host_eca $N enroll
	expect_rc 0 || return
	start_host $N || return
	primary_eca "$P" ban $C
	expect_rc 0 || return
	# B's and D's new certificates wait for a decision.
	for h in $B $D; do
		renew_host $h || return
		host_eca $h enroll
		expect_rc 5 || return
		expect_db "SELECT state FROM enrollments WHERE host='$h'" CONFLICT || return
	done
}

# 10,000 more ENROLLED records, bulk00000 ... bulk09999, copies of A's
# (inserted with the primary stopped; only listed, never judged).
c_ten_thousand_hosts() {
	local db=${P_DIR[$P]}/state/registry.db cols sel
	stop_primary "$P"
	cols=$(sqlite3 "$db" "SELECT group_concat(name, ',') FROM pragma_table_info('enrollments')") || return
	sel=$(printf '%s' "$cols" | sed -e "s/\bhost_id\b/printf('00000000-0000-4000-8000-%012d', n)/" \
	    -e "s/\bhost\b/printf('bulk%05d.browser.test', n)/")
	sqlite3 "$db" "WITH RECURSIVE c(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM c WHERE n < 9999)
	    INSERT INTO enrollments ($cols) SELECT $sel FROM enrollments, c WHERE host = '$A';" || {
		fail "cannot insert the 10,000 records"
		return
	}
	expect_db "SELECT count(*) FROM enrollments" 10006 || return
	start_primary "$P"
}

# Each line of the browser run becomes a case of this file.
browser_cases() {
	local line name n=0
	while IFS= read -r line; do
		case $line in
		"ok - "*)
			tcase "${line#ok - }"
			pass
			n=$((n + 1))
			;;
		"not ok - "*)
			name=${line#not ok - }
			tcase "${name%%: *}"
			fail "${name#*: }"
			n=$((n + 1))
			;;
		*) echo "# $line" ;;
		esac
	done
	[ $n -gt 0 ] || { tcase "the browser run"; fail "it reported no case"; }
}

run_case "node, Chromium and playwright-core are there" c_tools
[ "$IT_FAILED" = 0 ] || exit 1
run_case "a primary with its console, six hosts (a media server, a NAT host online), two in CONFLICT, one banned" c_setup
[ "$IT_FAILED" = 0 ] || exit 1
run_case "10,000 more enrolled hosts in the registry" c_ten_thousand_hosts
[ "$IT_FAILED" = 0 ] || exit 1
browser_cases < <(
	CONSOLE="https://127.0.0.1:$CPORT" ECA="$ECA" CONF="${P_CONF[$P]}" \
	    DIGEST="sqlite3 -readonly -cmd '.timeout 5000' '${P_DIR[$P]}/state/registry.db' 'SELECT * FROM enrollments ORDER BY host; SELECT * FROM history;' | sha256sum" \
	    SOONEST="sqlite3 -readonly -cmd '.timeout 5000' '${P_DIR[$P]}/state/registry.db' 'SELECT host FROM enrollments ORDER BY not_after, host LIMIT 3'" \
	    CONFLICT_HOST=$B BULK_HOST=$D BAN_HOST=$A \
	    BAN_CONF="$(host_dir $A)/eca.conf" PEER_HOST=$M \
	    HOST_CERT="$(host_dir $D)/cert.pem" HOST_KEY="$(host_dir $D)/key.pem" \
	    ADMIN_CERT="$(host_dir $ADM)/cert.pem" ADMIN_KEY="$(host_dir $ADM)/key.pem" \
	    ADMIN_NAME=$ADM \
	    AUDIT="${P_DIR[$P]}/state/audit.jsonl" SHOTS="$BUILD/console-screenshots" \
	    timeout -k 5 240 node "$BROWSER_DIR/console.mjs" 2>&1
)
