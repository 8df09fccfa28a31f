#!/bin/bash
# SPDX-License-Identifier: ISC
# Revocation: the primary checks an enrolling host's certificate against
# CRLs from ECA_CRL_PATH or from the certificate's distribution point (a
# python3 http.server on 127.0.0.1 started here), and `eca crl` manages
# the cache.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

P=crlpath.it.test
Q=crlcdp.it.test
PATHCA=$T/pathca
CDPCA=$T/cdpca
WWW=$T/www
HTTP_PORT=""

no_rows() {
	expect_db "SELECT count(*) FROM enrollments WHERE host='$1'" 0 "$2" || return
	expect_db "SELECT count(*) FROM history WHERE host='$1'" 0 "$2"
}

# crl_primary NAME TRUST [config lines...]: a primary with revocation at
# LEAF (lib.sh writes DISABLE for every other suite) and this trust store.
crl_primary() {
	local name=$1 trust=$2 l
	shift 2
	make_primary "$name" || return
	sed -i -e "s|^ECA_CRL_CHECK = DISABLE|ECA_CRL_CHECK = LEAF|" \
	    -e "s|^ECA_TRUST_STORE_PATH = .*|ECA_TRUST_STORE_PATH = $trust|" \
	    "${P_CONF[$name]}"
	for l in "$@"; do
		echo "$l" >>"${P_CONF[$name]}"
	done
	start_primary "$name"
}

c_setup() {
	"$MKCA" ca "$PATHCA" --name "crl path it" >/dev/null ||
	    { fail "cannot make the CRL path CA"; return; }
	"$MKCA" ca "$CDPCA" --name "crl cdp it" >/dev/null ||
	    { fail "cannot make the CDP CA"; return; }
	# The intermediate too, so that `eca crl download` on the primary
	# (whose own chain is of another CA) can check its CRL.
	cat "$CA/trust.pem" "$PATHCA/trust.pem" "$PATHCA/inter.pem" \
	    >"$T/path-trust.pem"
	cat "$CA/trust.pem" "$CDPCA/trust.pem" >"$T/cdp-trust.pem"
	mkdir -p "$T/crls" "$WWW"
}

c_path_primary() {
	# The primary itself must exist before hosts name it.
	P_PORT[$P]=$(free_port) || return
	P_ORDER+=("$P")
	make_host revoked.it.test --server "$P" --issuer "$PATHCA" \
	    --trust "$T/path-trust.pem" || return
	make_host good.it.test --server "$P" --issuer "$PATHCA" \
	    --trust "$T/path-trust.pem" || return
	"$MKCA" crl "$PATHCA" --revoke "$(host_dir revoked.it.test)/cert.pem" \
	    --der >/dev/null || { fail "mkca.sh crl failed"; return; }
	cp "$PATHCA/inter.crl" "$T/crls/inter.der"
	crl_primary "$P" "$T/path-trust.pem" "ECA_CRL_PATH = $T/crls"
}

c_revoked_refused() {
	host_eca revoked.it.test --json enroll
	expect_json .error.code REVOKED || return
	expect_rc 5 || return
	expect_match "$(jq -r .error.message <<<"$OUT")" 'serial [0-9A-F]+\) was revoked on' "the refusal" || return
	no_rows revoked.it.test "$P"
}

c_good_enrolls() {
	host_eca good.it.test --json enroll
	expect_rc 0 || return
	expect_db "SELECT count(*) FROM enrollments WHERE host='good.it.test'" 1 "$P"
}

c_missing_crl() {
	# Issued by the shared CA, whose CRL is nowhere: fail closed.
	make_host nocrl.it.test --server "$P" --trust "$T/path-trust.pem" || return
	host_eca nocrl.it.test --json enroll
	expect_json .error.code CRL_UNAVAILABLE || return
	expect_rc 5 || return
	no_rows nocrl.it.test "$P"
}

c_list() {
	primary_eca "$P" --json crl list
	expect_rc 0 || return
	expect_json 'length' 1 || return
	expect_json '.[0].entries' 1 || return
	expect_json '.[0].state' OK || return
	expect_match "$(jq -r '.[0].issuer' <<<"$OUT")" 'crl path it Intermediate CA' "the issuer" || return
	primary_eca "$P" crl list
	expect_rc 0 || return
	expect_match "$OUT" 'HASH +ISSUER' "the table header"
}

c_cleanup() {
	local h
	primary_eca "$P" --json crl list
	h=$(jq -r '.[0].hash' <<<"$OUT")
	primary_eca "$P" crl cleanup
	expect_rc 2 || return
	primary_eca "$P" --json -cleanupCRLCache -expired
	expect_rc 0 || return
	expect_json .removed 0 || return
	primary_eca "$P" --json crl cleanup --issuer-hash 0badf00d
	expect_rc 3 || return
	primary_eca "$P" --json crl cleanup --issuer-hash "$h"
	expect_rc 0 || return
	expect_json .removed 1 || return
	[ ! -e "${P_DIR[$P]}/state/crl/$h.crl" ] ||
	    { fail "the cache file $h.crl is still there"; return; }
	primary_eca "$P" --json crl download
	expect_rc 0 || return
	expect_json .stored 1 || return
	[ -s "${P_DIR[$P]}/state/crl/$h.crl" ] ||
	    { fail "crl download did not restore $h.crl"; return; }
}

c_cdp_setup() {
	HTTP_PORT=$(free_port) || return
	P_PORT[$Q]=$(free_port) || return
	P_ORDER+=("$Q")
	make_host cdprev.it.test --server "$Q" --issuer "$CDPCA" \
	    --trust "$T/cdp-trust.pem" \
	    --cdp "http://127.0.0.1:$HTTP_PORT/inter.crl" || return
	make_host cdpgood.it.test --server "$Q" --issuer "$CDPCA" \
	    --trust "$T/cdp-trust.pem" \
	    --cdp "http://127.0.0.1:$HTTP_PORT/inter.crl" || return
	"$MKCA" crl "$CDPCA" --revoke "$(host_dir cdprev.it.test)/cert.pem" \
	    >/dev/null || { fail "mkca.sh crl failed"; return; }
	cp "$CDPCA/inter.crl" "$WWW/inter.crl"
	python3 -m http.server "$HTTP_PORT" --bind 127.0.0.1 \
	    --directory "$WWW" >"$T/http.log" 2>&1 &
	IT_PIDS+=("$!")
	local i
	for ((i = 0; i < 50; i++)); do
		curl -fsS -o /dev/null "http://127.0.0.1:$HTTP_PORT/inter.crl" \
		    2>/dev/null && break
		sleep 0.1
	done
	[ $i -lt 50 ] || { fail "http.server did not start"; return; }
	crl_primary "$Q" "$T/cdp-trust.pem"
}

c_cdp_revoked() {
	host_eca cdprev.it.test --json enroll
	expect_json .error.code REVOKED || return
	expect_rc 5 || return
	no_rows cdprev.it.test "$Q" || return
	grep -q 'GET /inter.crl' "$T/http.log" ||
	    { fail "the primary did not fetch the distribution point"; return; }
	host_eca cdpgood.it.test --json enroll
	expect_rc 0 || return
	expect_db "SELECT count(*) FROM enrollments WHERE host='cdpgood.it.test'" 1 "$Q"
}

c_cdp_down() {
	# A host of a CA whose distribution point does not answer: the
	# primary cannot get a CRL and fails closed.
	local dead
	dead=$(free_port) || return
	"$MKCA" ca "$T/deadca" --name "crl dead it" >/dev/null || return
	cat "$T/cdp-trust.pem" "$T/deadca/trust.pem" >"$T/dead-trust.pem"
	cp "$T/dead-trust.pem" "$T/cdp-trust.pem"
	stop_primary "$Q"
	start_primary "$Q" || return
	make_host dead.it.test --server "$Q" --issuer "$T/deadca" \
	    --trust "$T/cdp-trust.pem" \
	    --cdp "http://127.0.0.1:$dead/inter.crl" || return
	host_eca dead.it.test --json enroll
	expect_json .error.code CRL_UNAVAILABLE || return
	expect_rc 5 || return
	no_rows dead.it.test "$Q"
}

# wait_state HOST STATE PRIMARY: the record reaches STATE within 5 s (the
# primary marks it through its writer, after answering the request).
wait_state() {
	local i
	for ((i = 0; i < 50; i++)); do
		[ "$(db_count "SELECT state FROM enrollments WHERE host='$1'" "$3")" = "$2" ] &&
		    return 0
		sleep 0.1
	done
	fail "the record of $1 on $3 is '$(db_count "SELECT state FROM enrollments WHERE host='$1'" "$3")', expected $2"
	return 1
}

c_enrolled_revoked() {
	make_host reader.it.test --server "$P" --issuer "$PATHCA" \
	    --trust "$T/path-trust.pem" || return
	expect_db "SELECT state FROM enrollments WHERE host='good.it.test'" ENROLLED "$P" || return
	# A new CRL revokes the enrolled certificate of good.it.test.
	"$MKCA" crl "$PATHCA" --revoke "$(host_dir revoked.it.test)/cert.pem" \
	    --revoke "$(host_dir good.it.test)/cert.pem" --der >/dev/null ||
	    { fail "mkca.sh crl failed"; return; }
	cp "$PATHCA/inter.crl" "$T/crls/inter.der"
	primary_eca "$P" --json crl download
	expect_rc 0 || return
	expect_json .stored 1 || return
	# Its next call is refused and marks the record.
	host_eca good.it.test --json enroll
	expect_json .error.code REVOKED || return
	expect_rc 5 || return
	wait_state good.it.test REVOKED "$P" || return
	expect_db "SELECT count(*) FROM history WHERE host='good.it.test' AND event='REVOKE'" 1 "$P" || return
	primary_eca "$P" --json list --state REVOKED
	expect_rc 0 || return
	expect_json '[.enrollments[].host] | join(",")' good.it.test || return
	primary_eca "$P" list
	expect_rc 0 || return
	expect_match "$(grep good.it.test <<<"$OUT")" REVOKED "eca list's row" || return
	primary_curl "$P" reader.it.test GET '/v1/roster?since=0'
	expect_http 200 || return
	expect_json '.entries[] | select(.host == "good.it.test") | .state' REVOKED || return
	primary_eca "$P" --json audit show --host good.it.test
	expect_rc 0 || return
	expect_json '[.entries[].event] | index("revoked") != null' true
}

c_revoked_again_writes_nothing() {
	local v
	v=$(db_count "SELECT version FROM enrollments WHERE host='good.it.test'" "$P")
	host_eca good.it.test --json enroll
	expect_json .error.code REVOKED || return
	# Whatever the refusal queued is written once the primary settles.
	wait_settled "$P" || return
	expect_db "SELECT version FROM enrollments WHERE host='good.it.test'" "$v" "$P" || return
	expect_db "SELECT count(*) FROM history WHERE host='good.it.test' AND event='REVOKE'" 1 "$P"
}

c_status_warns_about_a_crl_in_grace() {
	local conf
	make_host graced.it.test --server "$P" --issuer "$PATHCA" \
	    --trust "$T/path-trust.pem" || return
	mkdir -p "$T/crls-old"
	# lastUpdate 3 days ago, nextUpdate 2 days ago
	"$MKCA" crl "$PATHCA" --expired >/dev/null ||
	    { fail "mkca.sh crl --expired failed"; return; }
	cp "$PATHCA/inter.crl" "$T/crls-old/inter.crl"
	conf=$(host_dir graced.it.test)/eca.conf
	set_conf "$conf" ECA_CRL_CHECK LEAF
	set_conf "$conf" ECA_CRL_PATH "$T/crls-old"
	set_conf "$conf" ECA_CRL_GRACE_HOURS 72
	host_eca graced.it.test --json crl download
	expect_rc 0 || return
	host_eca graced.it.test status
	expect_match "$ERR" 'WARNING: the CRL of .*crl path it Intermediate CA.* grace period' "eca status's warning" || return
	host_eca graced.it.test --json status
	expect_json '.crl_warnings | length' 1 || return
	expect_match "$(jq -r '.crl_warnings[0]' <<<"$OUT")" 'ECA_CRL_GRACE_HOURS = 72' "the JSON warning" || return
	host_eca graced.it.test health-check
	expect_match "$(grep CRL_STATUS_VALIDATION <<<"$OUT")" "PASS +CRL_STATUS_VALIDATION +WARNING: the CRL" "eca health-check's CRL line" || return
	# Past the grace period: the warning says certificates are refused.
	set_conf "$conf" ECA_CRL_GRACE_HOURS 1
	host_eca graced.it.test status
	expect_match "$ERR" 'past its grace period: certificates it covers are refused' "eca status's warning past grace" || return
	host_eca graced.it.test --json status
	expect_json '.crl_warnings | length' 1
}

# Two hosts with their own ecad (peer listener) on 127.0.0.21/.22, issued
# by the CRL path CA, revocation at LEAF with their own ECA_CRL_PATH.
CHX=chx.it.test
CHY=chy.it.test
declare -A CHADDR=([$CHX]=127.0.0.21 [$CHY]=127.0.0.22) CHPORT=()

c_channel_hosts() {
	local h g conf
	for h in $CHX $CHY; do
		CHPORT[$h]=$(free_port) || return
	done
	mkdir -p "$T/chcrls"
	cp "$T/crls/inter.der" "$T/chcrls/inter.der"
	for h in $CHX $CHY; do
		make_host $h --server "$P" --issuer "$PATHCA" \
		    --trust "$T/path-trust.pem" || return
		conf=$(host_dir $h)/eca.conf
		set_conf "$conf" ECA_CRL_CHECK LEAF
		set_conf "$conf" ECA_CRL_PATH "$T/chcrls"
		{
			echo "ROLE = media"
			echo "LISTEN = ${CHADDR[$h]}:${CHPORT[$h]}"
			echo "LOG_LEVEL = debug"
			for g in $CHX $CHY; do
				echo "PEER = $g ${CHADDR[$g]}:${CHPORT[$g]}"
			done
		} >>"$conf"
		sed -i '/^ROLE = client$/d' "$conf"
		start_host $h || return
		host_eca $h --json enroll
		expect_rc 0 || return
	done
	host_eca $CHX --json ping $CHY
	expect_rc 0 || return
	expect_json .verdict.accept true || return
	host_eca $CHY --json ping $CHX
	expect_rc 0 || return
	expect_json .verdict.accept true
}

c_channel_revoked_peer_is_refused_by_both_sides() {
	"$MKCA" crl "$PATHCA" --revoke "$(host_dir revoked.it.test)/cert.pem" \
	    --revoke "$(host_dir good.it.test)/cert.pem" \
	    --revoke "$(host_dir $CHX)/cert.pem" --der >/dev/null ||
	    { fail "mkca.sh crl failed"; return; }
	cp "$PATHCA/inter.crl" "$T/chcrls/inter.der"
	# Into both hosts' caches now (their ecad picks the file up at its
	# next check; the periodic sync would do it later by itself).
	host_eca $CHY --json crl download
	expect_rc 0 || return
	host_eca $CHX --json crl download
	expect_rc 0 || return
	# CHY's peer listener refuses CHX, the client.
	host_eca $CHX --json ping $CHY
	expect_rc 5 || return
	expect_json .verdict.accept false || return
	expect_json .verdict.code REVOKED || return
	# CHY's own channel client refuses CHX, the server.
	host_eca $CHY --json ping $CHX
	expect_rc 5 || return
	expect_json .verdict.accept false || return
	expect_json .verdict.code REVOKED
}

run_case "the CAs of this file are made" c_setup
run_case "a primary with ECA_CRL_PATH and ECA_CRL_CHECK = LEAF starts" c_path_primary
[ "$IT_FAILED" = 0 ] || exit 1
run_case "a revoked leaf is refused with REVOKED naming its serial, and no row is written" c_revoked_refused
run_case "a leaf of the same CA that is not revoked enrolls" c_good_enrolls
run_case "a leaf whose CA has no CRL is refused with CRL_UNAVAILABLE" c_missing_crl
run_case "eca crl list shows the cached CRL as a table and as JSON" c_list
run_case "eca crl cleanup and -cleanupCRLCache remove CRLs, eca crl download restores them" c_cleanup
run_case "an enrolled certificate found revoked makes its record REVOKED: eca list, the roster and the journal show it" c_enrolled_revoked
run_case "the revoked certificate again is refused and writes nothing more" c_revoked_again_writes_nothing
run_case "two hosts with their own ecad and ECA_CRL_CHECK = LEAF enroll and open a channel" c_channel_hosts
run_case "a host whose certificate is revoked is refused with REVOKED by the other side, as client and as server" c_channel_revoked_peer_is_refused_by_both_sides
run_case "eca status and eca health-check warn loudly about a cached CRL expired but in grace, and past grace" c_status_warns_about_a_crl_in_grace
run_case "a primary using distribution points starts next to a python3 http.server" c_cdp_setup
run_case "the CRL is downloaded from the distribution point: revoked refused, good enrolled" c_cdp_revoked
run_case "a distribution point that does not answer gives CRL_UNAVAILABLE" c_cdp_down
