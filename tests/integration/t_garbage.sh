#!/bin/bash
# SPDX-License-Identifier: ISC
# Garbage and oversized requests: each is answered with an error or a
# closed connection; afterwards the primary still answers and the registry
# is unchanged.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

P=primary1.it.test
H=g1.it.test
DIGEST=""

c_setup() {
	start_primary "$P" || return
	make_host $H --server "$P" || return
	host_eca $H enroll
	expect_rc 0 || return
	DIGEST=$(db_digest) || { fail "cannot read the registry"; return; }
}

post() {
	primary_curl "$P" $H POST /v1/enrollments "$@"
}

c_invalid_json() {
	post --data '{"host": "g1.it.test", "precheck": tru'
	expect_http 400 || return
	expect_json .error.code BAD_REQUEST
}

c_unknown_key() {
	post --data '{"host":"g1.it.test","precheck":false,"force":false,"colour":"red"}'
	expect_http 400 || return
	expect_json .error.code BAD_REQUEST
}

c_not_an_object() {
	post --data '["g1.it.test"]'
	expect_http 400 || return
	expect_json .error.code BAD_REQUEST
}

c_oversized() {
	# 64 KiB: four times ECA_BODY_MAX.
	head -c 65536 /dev/zero | tr '\0' 'a' >"$T/big.json"
	post --data-binary "@$T/big.json"
	expect_http 413
}

c_huge_headers() {
	local big
	big=$(head -c 12000 /dev/zero | tr '\0' 'b')
	primary_curl "$P" $H GET /v1/health -H "X-Big: $big"
	case "$HTTP" in
	400|413|431) ;;
	*) fail "a 12 KB header answered HTTP '$HTTP', expected 400 or 413" ;;
	esac
}

c_unknown_path() {
	primary_curl "$P" $H GET /v1/nothing-here
	expect_http 404 || return
	expect_json .error.code NOT_FOUND
}

c_wrong_method() {
	primary_curl "$P" $H DELETE /v1/health
	expect_http 405 || return
	expect_json .error.code BAD_REQUEST
}

# raw_closes FILE: send FILE's bytes to the TLS port and read; the primary
# must close the connection within 10 s (timeout's 124 means it did not).
raw_closes() {
	local port=${P_PORT[$P]} rc
	# shellcheck disable=SC2016 # expanded by the inner bash
	timeout 10 bash -c '
		exec 3<>/dev/tcp/127.0.0.1/$1 || exit 2
		cat "$2" >&3 2>/dev/null
		cat <&3 >"$3"
		exit 0' _ "$port" "$1" "$T/raw.reply" 2>/dev/null
	rc=$?
	if [ $rc = 124 ]; then
		fail "the primary kept the connection open after $(basename "$1")"
		return 1
	elif [ $rc = 2 ]; then
		fail "cannot connect to 127.0.0.1:$port"
		return 1
	fi
	return 0
}

c_random_bytes() {
	head -c 4096 /dev/urandom >"$T/random.bin"
	raw_closes "$T/random.bin"
}

c_plain_http() {
	printf 'GET /v1/health HTTP/1.1\r\nHost: %s\r\n\r\n' "$P" >"$T/plain.http"
	raw_closes "$T/plain.http" || return
	if grep -qa '"status"' "$T/raw.reply"; then
		fail "the TLS port answered a plain-HTTP request: $(head -c 200 "$T/raw.reply")"
	fi
}

c_still_healthy() {
	primary_curl "$P" - GET /v1/health
	expect_http 200 || return
	expect_json .status ok || return
	expect_json .primary "$P" || return
	local now
	now=$(db_digest)
	expect_eq "$now" "$DIGEST" "the registry's digest"
}

run_case "ecad starts and one host enrolls" c_setup
[ "$IT_FAILED" = 0 ] || exit 1
run_case "invalid JSON is answered 400 BAD_REQUEST" c_invalid_json
run_case "an unknown key in the body is answered 400 BAD_REQUEST" c_unknown_key
run_case "a body that is not an object is answered 400 BAD_REQUEST" c_not_an_object
run_case "a 64 KiB body is answered 413" c_oversized
run_case "headers over 8 KiB are answered 400 or 413" c_huge_headers
run_case "an unknown path is answered 404 NOT_FOUND" c_unknown_path
run_case "a wrong method is answered 405 BAD_REQUEST" c_wrong_method
run_case "random bytes on the TLS port get the connection closed" c_random_bytes
run_case "a plain-HTTP request on the TLS port gets the connection closed" c_plain_http
run_case "after all of them GET /v1/health answers and the registry is unchanged" c_still_healthy
