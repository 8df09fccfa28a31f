#!/bin/bash
# SPDX-License-Identifier: ISC
# Issue 11: the web console at the HTTP level (the browser tests are
# t_console_browser.sh).  Security headers on every answer; nothing but the
# pages without a session; a one-time link signs in once; the session
# cookie is HttpOnly, Secure, SameSite=Strict; a change without the CSRF
# token is 403; the console enrolls nothing; sessions are listed and
# revoked with `eca console sessions`; failed sign-ins are journaled and
# rate-limited; a primary with CONSOLE_LISTEN = NO serves no console.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

P=primary.console.test
H=host1.console.test
H2=host2.console.test
NAT=nat1.console.test
BPORT=""
ADMIN=admin.console.test
CPORT=""
JAR=""

# con METHOD PATH [curl args...]: https to the console with the cookie
# jar; $OUT body, $HTTP status, $T/.headers the answer's headers.
con() {
	local method=$1 path=$2
	shift 2
	# curl leaves -o's file as it was when the answer has no body
	rm -f "$T/.body"
	run_cmd curl -sS --max-time 15 -o "$T/.body" -D "$T/.headers" \
	    -w '%{http_code}' --cacert "$CA/trust.pem" \
	    --resolve "$P:$CPORT:127.0.0.1" -b "$JAR" -c "$JAR" \
	    -X "$method" "$@" "https://$P:$CPORT$path"
	HTTP=$OUT
	OUT=$(cat "$T/.body" 2>/dev/null)
}

# header NAME: the value of the last answer's header NAME.
header() {
	grep -i "^$1:" "$T/.headers" | head -1 | cut -d: -f2- | sed 's/^ *//; s/\r$//'
}

# link_token: a new sign-in link's token (eca console login).
link_token() {
	primary_eca "$P" console login
	[ "$RC" = 0 ] || { fail "eca console login exited $RC: $ERR"; return 1; }
	expect_match "$OUT" "^https://127.0.0.1:$CPORT/login#[0-9a-f]{64}$" \
	    "the sign-in link" || return 1
	TOKEN=${OUT##*#}
}

signin() {
	con POST /console/signin -H 'Content-Type: application/json' \
	    -d "{\"token\":\"$1\"}"
}

csrf() {
	con GET /console/session
	CSRF=$(printf '%s' "$OUT" | jq -r .csrf)
}

c_setup() {
	CPORT=$(free_port) || return
	JAR=$T/cookies
	: >"$JAR"
	BPORT=$(free_port) || return
	start_primary "$P" "CONSOLE_LISTEN = 127.0.0.1:$CPORT" \
	    "BROKER_LISTEN = 127.0.0.1:$BPORT" \
	    "ADMIN_IDENTITY = $ADMIN" || return
	make_host "$H" --server "$P" || return
	make_host "$ADMIN" --server "$P" || return
	make_host "$H2" --server "$P" || return
	wait_log "${P_DIR[$P]}/ecad.log" "web console on 127.0.0.1:$CPORT"
}

# --- refusals first ----------------------------------------------------------

c_no_console_when_off() {
	start_primary off.console.test || return
	primary_eca off.console.test --json console login
	expect_rc 3 || return
	expect_json .error.code NOT_FOUND || return
	expect_match "$ERR" "CONSOLE_LISTEN" "eca console login's error" || return
	stop_primary off.console.test
}

c_api_needs_a_session() {
	con GET /v1/enrollments
	expect_http 401 || return
	expect_json .error.code UNAUTHENTICATED || return
	expect_match "$OUT" "eca console login" "the refusal" || return
	con GET /console/session
	expect_http 401
}

c_bad_token_refused_and_journaled() {
	signin 0000000000000000000000000000000000000000000000000000000000000000
	expect_http 401 || return
	expect_match "$OUT" "not known" "the refusal" || return
	grep -q '"event":"console_signin_refused"' "${P_DIR[$P]}/state/audit.jsonl" ||
	    fail "no console_signin_refused line in the journal"
}

c_headers_on_every_answer() {
	local path js css etag
	con GET /
	expect_http 200 || return
	js=$(grep -o '<script src="/app.js?v=[0-9a-f]\{16\}"' <<<"$OUT" | sed 's/.*src="//; s/"$//')
	css=$(grep -o 'href="/style.css?v=[0-9a-f]\{16\}"' <<<"$OUT" | sed 's/.*href="//; s/"$//')
	[ -n "$js" ] && [ -n "$css" ] ||
	    { fail "index.html names no versioned /app.js and /style.css: $(_it_short "$OUT")"; return 1; }
	if grep -q '<script>' <<<"$OUT"; then
		fail "inline script in index.html"
		return 1
	fi
	for path in / /login "$js" "$css" /app.js /v1/enrollments /nope; do
		con GET "$path"
		expect_match "$(header Content-Security-Policy)" \
		    "default-src 'none'; script-src 'self'.*frame-ancestors 'none'" \
		    "CSP of $path" || return
		expect_eq "$(header X-Content-Type-Options)" nosniff "nosniff of $path" || return
		expect_eq "$(header Referrer-Policy)" no-referrer "Referrer-Policy of $path" || return
		expect_match "$(header Strict-Transport-Security)" "max-age=" "HSTS of $path" || return
	done
	# Pages and answers are never stored; the files the pages name by
	# version are kept for good; a file asked for without its version is
	# revalidated by its ETag.
	for path in / /login /v1/enrollments /nope; do
		con GET "$path"
		expect_eq "$(header Cache-Control)" no-store "Cache-Control of $path" || return
	done
	for path in "$js" "$css"; do
		con GET "$path"
		expect_http 200 || return
		expect_eq "$(header Cache-Control)" "public, max-age=31536000, immutable" \
		    "Cache-Control of $path" || return
	done
	con GET /app.js
	expect_http 200 || return
	expect_eq "$(header Cache-Control)" no-cache "Cache-Control of /app.js" || return
	etag=$(header ETag)
	expect_eq "$etag" "\"${js##*v=}\"" "the ETag of /app.js" || return
	con GET /app.js -H "If-None-Match: $etag"
	expect_http 304 || return
	[ -z "$OUT" ] || { fail "a 304 with a body"; return 1; }
	con GET "/app.js?v=0000000000000000"
	expect_http 200 || return
	expect_eq "$(header Cache-Control)" no-cache "Cache-Control of another version"
}

c_link_signs_in_once() {
	link_token || return
	signin "$TOKEN"
	expect_http 200 || return
	expect_match "$(header Set-Cookie)" \
	    "^__Host-eca_session=[0-9a-f]{64}; Path=/; Secure; HttpOnly; SameSite=Strict$" \
	    "the session cookie" || return
	expect_json .identity "local:0" || return
	grep -q '"event":"console_signin","actor":"console:local:0"' \
	    "${P_DIR[$P]}/state/audit.jsonl" ||
	    fail "no console_signin line in the journal" || return
	cp "$JAR" "$T/jar.keep"
	: >"$JAR"
	signin "$TOKEN"
	expect_http 401 || return
	expect_match "$OUT" "used already" "the second use" || return
	cp "$T/jar.keep" "$JAR"
	con GET /v1/enrollments
	expect_http 200
}

c_change_without_csrf_is_403() {
	con POST "/v1/enrollments/$H/ban" -H 'Content-Type: application/json' -d '{}'
	expect_http 403 || return
	expect_match "$OUT" "X-CSRF-Token" "the refusal" || return
	con POST "/v1/enrollments/$H/ban" -H 'X-CSRF-Token: 0123' -d '{}'
	expect_http 403 || return
	expect_db "SELECT count(*) FROM enrollments" 0
}

c_console_enrolls_nothing() {
	csrf || return
	con POST /v1/enrollments -H "X-CSRF-Token: $CSRF" \
	    -H 'Content-Type: application/json' -d "{\"host\":\"$H\"}"
	expect_http 403 || return
	expect_match "$OUT" "enrolls nothing" "the refusal" || return
	expect_db "SELECT count(*) FROM enrollments" 0
}

c_console_action_journaled_as_console() {
	host_eca "$H" enroll
	expect_rc 0 || return
	csrf || return
	con POST "/v1/enrollments/$H/ban" -H "X-CSRF-Token: $CSRF" \
	    -H 'Content-Type: application/json' -d '{}'
	expect_http 200 || return
	expect_json .outcome BANNED || return
	grep '"event":"banned"' "${P_DIR[$P]}/state/audit.jsonl" |
	    grep -q '"actor":"console:local:0"' ||
	    fail "the ban's journal line does not name console:local:0" || return
	primary_eca "$P" audit show
	expect_match "$OUT" "console:local:0" "eca audit show" || return
	con POST "/v1/enrollments/$H/unban" -H "X-CSRF-Token: $CSRF" -d '{}'
	expect_http 200
}

c_control_routes_not_through_console() {
	csrf || return
	con POST /v1/console/links -H "X-CSRF-Token: $CSRF" -d '{}'
	expect_http 403 || return
	expect_match "$OUT" "control socket" "the refusal"
}

c_prefix_filter() {
	con GET "/v1/enrollments?prefix=host1"
	expect_http 200 || return
	expect_json '.enrollments | length' 1 || return
	con GET "/v1/enrollments?prefix=host2"
	expect_json '.enrollments | length' 0 || return
	con GET "/v1/enrollments?prefix=a%20b"
	expect_http 400
}

# Sorted by name, enrollment time or expiry, either way, paged by the
# cursor "next" gives; a bad order is 400 with the words to use.
c_sort_and_page() {
	local want first next
	host_eca "$H2" enroll
	expect_rc 0 || return
	con GET "/v1/enrollments?sort=size"
	expect_http 400 || return
	expect_match "$OUT" "'sort' must be name, state, enrolled or expiry" "the refusal" || return
	con GET "/v1/enrollments?sort=expiry&after=$H"
	expect_http 400 || return
	expect_match "$OUT" "KEY,HOST" "the refusal" || return
	want=$(db_count "SELECT group_concat(host) FROM (SELECT host FROM enrollments ORDER BY host DESC)" "$P")
	con GET "/v1/enrollments?sort=name&order=desc"
	expect_http 200 || return
	expect_json '[.enrollments[].host] | join(",")' "$want" || return
	want=$(db_count "SELECT group_concat(host) FROM (SELECT host FROM enrollments ORDER BY enrolled_at DESC, host DESC)" "$P")
	con GET "/v1/enrollments?sort=enrolled&order=desc&limit=1"
	expect_http 200 || return
	first=$(printf '%s' "$OUT" | jq -r '.enrollments[0].host')
	next=$(printf '%s' "$OUT" | jq -r .next)
	expect_match "$next" "^[0-9]+,$first\$" "the cursor" || return
	con GET "/v1/enrollments?sort=enrolled&order=desc&after=$next"
	expect_http 200 || return
	expect_eq "$first,$(printf '%s' "$OUT" | jq -r '[.enrollments[].host] | join(",")')" \
	    "$want" "two pages by enrollment time" || return
	con GET "/v1/enrollments?sort=state&state=ENROLLED&prefix=host&order=desc"
	expect_http 200 || return
	expect_json '[.enrollments[].host] | join(",")' "$H2"
}

# broker_count KEY WANT: GET /v1/stats through the console until its
# .broker.KEY is WANT (5 s): what the dashboard's NAT cards show.
broker_count() {
	local i got=""
	for ((i = 0; i < 50; i++)); do
		con GET /v1/stats
		got=$(printf '%s' "$OUT" | jq -r ".broker.$1")
		[ "$got" = "$2" ] && return 0
		sleep 0.1
	done
	fail "the console's /v1/stats has broker.$1 = '$got', expected $2"
	return 1
}

# The dashboard's NAT hosts: none known (the cards are left out), then a
# NAT host online, then offline once its ecad stops (still known).
c_nat_hosts_online() {
	broker_count known 0 || return
	broker_count online 0 || return
	make_host "$NAT" --server "$P" --conf "NAT_CLIENT = YES" \
	    --conf "BROKER_LISTEN = 127.0.0.1:$BPORT" \
	    --conf "BROKER_HEARTBEAT_SECONDS = 1" || return
	host_eca "$NAT" enroll
	expect_rc 0 || return
	start_host "$NAT" || return
	broker_count online 1 || return
	broker_count known 1 || return
	primary_eca "$P" --json list
	expect_json '[.enrollments[] | select(.nat and .online)] | length' 1 || return
	stop_host "$NAT"
	broker_count online 0 || return
	broker_count known 1
}

c_sessions_listed_and_revoked() {
	local id
	primary_eca "$P" --json console sessions
	expect_rc 0 || return
	expect_json '.sessions | length' 1 || return
	expect_json '.sessions[0].identity' local:0 || return
	id=$(printf '%s' "$OUT" | jq -r '.sessions[0].id')
	expect_match "$id" '^[0-9a-f]{12}$' "the listed ID" || return
	primary_eca "$P" console sessions
	expect_match "$OUT" "ID +IDENTITY +CREATED" "the table" || return
	primary_eca "$P" console sessions --revoke 12
	expect_rc 2 || return
	primary_eca "$P" console sessions --revoke "$id"
	expect_rc 0 || return
	expect_match "$OUT" "Revoked console session $id" "eca console sessions --revoke" || return
	con GET /v1/enrollments
	expect_http 401
}

c_signout() {
	link_token || return
	signin "$TOKEN"
	expect_http 200 || return
	CSRF=$(printf '%s' "$OUT" | jq -r .csrf)
	con POST /console/signout -H "X-CSRF-Token: $CSRF" -d '{}'
	expect_http 200 || return
	con GET /console/session
	expect_http 401
}

# cert_signin HOST: POST /console/signin-cert with HOST's certificate.
cert_signin() {
	con POST /console/signin-cert --cert "${H_DIR[$1]}/cert.pem" \
	    --key "${H_DIR[$1]}/key.pem" -d '{}'
}

c_non_admin_certificate_cannot_sign_in() {
	: >"$JAR"
	cert_signin "$H"
	expect_http 403 || return
	expect_json .error.code FORBIDDEN || return
	expect_match "$OUT" "not an administrator.*ADMIN_IDENTITY" "the refusal" || return
	[ -z "$(header Set-Cookie)" ] || fail "a cookie was set: $(header Set-Cookie)" || return
	con POST /console/signin-cert -d '{}'
	expect_http 403 || return
	expect_json .error.code NO_CLIENT_CERT
}

c_admin_certificate_signs_in() {
	cert_signin "$ADMIN"
	expect_http 200 || return
	expect_json .identity "$ADMIN" || return
	con GET /v1/enrollments
	expect_http 200 || return
	grep -q "\"event\":\"console_signin\",\"actor\":\"console:$ADMIN\"" \
	    "${P_DIR[$P]}/state/audit.jsonl" ||
	    fail "no console_signin line for $ADMIN in the journal"
}

c_own_certificate() {
	local port d
	port=$(free_port) || return
	d=$T/console-cert
	mkdir -p "$d"
	"$MKCA" leaf "$CA" console.console.test --out "$d/leaf" >/dev/null ||
	    { fail "cannot make the console's certificate"; return; }
	start_primary own.console.test "CONSOLE_LISTEN = 127.0.0.1:$port" \
	    "CONSOLE_CERT_PATH = $d/leaf.pem" \
	    "CONSOLE_PRIVATE_KEY_PATH = $d/leaf.key" || return
	run_cmd curl -sS --max-time 15 -o /dev/null -w '%{http_code}' \
	    --cacert "$CA/trust.pem" \
	    --resolve "console.console.test:$port:127.0.0.1" \
	    "https://console.console.test:$port/"
	expect_eq "$OUT" 200 "GET / by the console's own name" || return
	# Not the primary's certificate: its name does not match.
	run_cmd curl -sS --max-time 15 -o /dev/null --cacert "$CA/trust.pem" \
	    --resolve "own.console.test:$port:127.0.0.1" \
	    "https://own.console.test:$port/"
	expect_eq "$RC" 60 "curl's exit by the primary's name" || return
	stop_primary own.console.test
}

c_failed_signins_rate_limited() {
	local i
	for ((i = 0; i < 6; i++)); do
		signin "$(printf 'f%.0s' {1..64})"
	done
	expect_http 429 || return
	expect_match "$OUT" "too many failed sign-ins" "the refusal" || return
	link_token || return
	signin "$TOKEN"
	expect_http 429
}

run_case "a primary with its console on a port of its own, a host" c_setup
[ "$IT_FAILED" = 0 ] || exit 1
run_case "CONSOLE_LISTEN = NO: no console, eca console login says so" c_no_console_when_off
run_case "the /v1 API through the console needs a session (401)" c_api_needs_a_session
run_case "an unknown sign-in token is refused 401 and journaled" c_bad_token_refused_and_journaled
run_case "CSP, nosniff, Referrer-Policy and HSTS on every answer; no-store on pages and answers, the files the pages name by version kept for good" c_headers_on_every_answer
run_case "a link signs in once: HttpOnly Secure SameSite=Strict cookie" c_link_signs_in_once
run_case "a change without (or with a wrong) CSRF token is 403" c_change_without_csrf_is_403
run_case "the console enrolls nothing (POST /v1/enrollments is 403)" c_console_enrolls_nothing
run_case "a console action is journaled as console:IDENTITY" c_console_action_journaled_as_console
run_case "the control-socket routes are refused through the console" c_control_routes_not_through_console
run_case "GET /v1/enrollments?prefix= filters by name" c_prefix_filter
run_case "GET /v1/enrollments?sort=&order= sorts and pages by its cursor" c_sort_and_page
run_case "NAT hosts known and online, as the dashboard shows them (GET /v1/stats)" c_nat_hosts_online
run_case "eca console sessions lists, --revoke ends a session" c_sessions_listed_and_revoked
run_case "sign-out ends the session" c_signout
run_case "a host's (non-admin) client certificate cannot sign in" c_non_admin_certificate_cannot_sign_in
run_case "an ADMIN_IDENTITY client certificate signs in" c_admin_certificate_signs_in
run_case "CONSOLE_CERT_PATH: the console presents its own certificate" c_own_certificate
run_case "failed sign-ins are rate-limited per address (429)" c_failed_signins_rate_limited
