#!/bin/bash
# SPDX-License-Identifier: ISC
# GET /metrics (docs/metrics.md): on METRICS_LISTEN (plain HTTP, loopback
# only) and on the API for METRICS_IDENTITY; every scrape is parsed by the
# Prometheus client's own text parser, so a malformed exposition fails.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

P=metrics.it.test
MON=mon.it.test
ADM=madmin.it.test
H1=m1.it.test
H2=m2.it.test
MD=mmedia.it.test
# expect_sample NAME{LABELS} VALUE
expect_sample() {
	expect_eq "$(sample "$1")" "$2" "$1"
}

# scrape_plain PORT: GET /metrics over plain HTTP on 127.0.0.1:PORT, parsed.
scrape_plain() {
	run_cmd curl -sS --max-time 10 -D "$T/.hdr" "http://127.0.0.1:$1/metrics"
	if [ "$RC" != 0 ]; then
		fail "curl of METRICS_LISTEN failed: $(_it_short "$ERR")"
		return 1
	fi
	grep -qi '^content-type: text/plain; version=0.0.4' "$T/.hdr" ||
	    { fail "Content-Type is not the 0.0.4 text format: $(tr '\r\n' '  ' <"$T/.hdr")"; return 1; }
	parse_metrics
}

# scrape_tls HOST: GET /metrics on the primary's API with HOST's certificate.
scrape_tls() {
	primary_curl $P "$1" GET /metrics
	expect_http 200 || return
	parse_metrics
}

c_non_loopback_refused() {
	local port
	port=$(free_port) || return
	make_primary nl.it.test "METRICS_LISTEN = 0.0.0.0:$port" || return
	expect_exit 1 "$ECAD" -t -f "${P_CONF[nl.it.test]}" || return
	expect_match "$ERR" "METRICS_LISTEN = 0.0.0.0 is not a loopback address" "ecad -t's error" || return
	expect_exit 1 "$ECAD" -d -f "${P_CONF[nl.it.test]}" || return
	expect_match "$ERR" "not a loopback address.*127.0.0.1:PORT" "ecad's error at start"
}

c_setup() {
	MPORT=$(free_port) || return
	make_primary $P "METRICS_LISTEN = 127.0.0.1:$MPORT" \
	    "METRICS_IDENTITY = $MON" "ADMIN_IDENTITY = $ADM" || return
	make_host $MON --server $P || return
	make_host $ADM --server $P || return
	make_host $H1 --server $P || return
	make_host $H2 --server $P || return
	start_primary $P || return
	scrape_plain "$MPORT" || return
	expect_sample 'eca_build_info{role=primary,version='"$("$ECA" --version | awk '{print $NF}')"'}' 1
}

c_plain_listener_serves_metrics_only() {
	run_cmd curl -sS --max-time 10 -o /dev/null -w '%{http_code}' \
	    "http://127.0.0.1:$MPORT/v1/enrollments"
	expect_eq "$OUT" 404 "GET /v1/enrollments on METRICS_LISTEN" || return
	run_cmd curl -sS --max-time 10 -o /dev/null -w '%{http_code}' \
	    -X POST "http://127.0.0.1:$MPORT/metrics"
	expect_eq "$OUT" 405 "POST /metrics on METRICS_LISTEN"
}

c_metrics_identity_reads_over_tls() {
	scrape_tls $MON || return
	expect_sample 'eca_hosts{state=ENROLLED}' 0 || return
	# An administrator may read them too.
	scrape_tls $ADM
}

c_metrics_identity_is_no_admin() {
	primary_curl $P $MON GET /v1/enrollments
	expect_http 403 || return
	expect_json .error.code FORBIDDEN || return
	primary_curl $P $MON GET /v1/stats
	expect_http 403 || return
	primary_curl $P $MON POST /v1/enrollments/$H1/ban
	expect_http 403
}

c_other_callers_refused() {
	primary_curl $P $H1 GET /metrics
	expect_http 403 || return
	expect_json .error.code FORBIDDEN || return
	expect_match "$OUT" "METRICS_IDENTITY" "the refusal" || return
	primary_curl $P - GET /metrics
	expect_http 403 || return
	expect_json .error.code NO_CLIENT_CERT
}

c_counters_move_exactly() {
	local e0 u0 r0 c0 w0
	wait_settled $P || return
	scrape_plain "$MPORT" || return
	e0=$(sample 'eca_enrollments_total{outcome=ENROLLED}')
	u0=$(sample 'eca_enrollments_total{outcome=UNCHANGED}')
	r0=$(sample 'eca_refusals_total{reason=IDENTITY_MISMATCH}')
	c0=$(sample 'eca_commit_duration_seconds_count{}')
	w0=$(sample 'eca_registry_version{}')
	host_eca $H1 enroll
	expect_rc 0 || return
	host_eca $H2 enroll
	expect_rc 0 || return
	host_eca $H1 enroll
	expect_rc 0 || return
	# A certificate for m1 that claims to be another host: refused.
	make_host liar.it.test --server $P --name m9.it.test || return
	host_eca liar.it.test enroll
	expect_rc 5 || return
	wait_settled $P || return
	scrape_plain "$MPORT" || return
	expect_sample 'eca_enrollments_total{outcome=ENROLLED}' $((e0 + 2)) || return
	expect_sample 'eca_enrollments_total{outcome=UNCHANGED}' $((u0 + 1)) || return
	expect_sample 'eca_refusals_total{reason=IDENTITY_MISMATCH}' $((r0 + 1)) || return
	expect_sample 'eca_hosts{state=ENROLLED}' 2 || return
	expect_sample 'eca_conflicts_waiting{}' 0 || return
	expect_sample 'eca_certificates_expiring{}' 0 || return
	expect_sample 'eca_writer_queue_depth{}' 0 || return
	expect_sample 'eca_registry_version{}' $((w0 + 2)) || return
	# Two durable commits at least (the enrollments may share one).
	[ "$(sample 'eca_commit_duration_seconds_count{}')" -gt "$c0" ] ||
	    { fail "the commit histogram did not move"; return 1; }
	expect_eq "$(sample 'eca_commit_duration_seconds_bucket{le=+Inf}')" \
	    "$(sample 'eca_commit_duration_seconds_count{}')" "+Inf bucket = _count"
}

c_expiring_certificate_counted() {
	make_host soon.it.test --server $P --days 10 || return
	host_eca soon.it.test enroll
	expect_rc 0 || return
	wait_settled $P || return
	scrape_tls $MON || return
	expect_sample 'eca_certificates_expiring{}' 1 || return
	expect_sample 'eca_hosts{state=ENROLLED}' 3
}

c_handshakes_counted() {
	local ok0 f0
	scrape_plain "$MPORT" || return
	ok0=$(sample 'eca_tls_handshakes_total{listener=api,result=ok}')
	f0=$(sample 'eca_tls_handshakes_total{listener=api,result=failed}')
	primary_curl $P $MON GET /v1/health
	expect_http 200 || return
	# A client that does not trust the primary's CA: the handshake fails.
	run_cmd curl -sS --max-time 10 --resolve "$P:${P_PORT[$P]}:127.0.0.1" \
	    "https://$P:${P_PORT[$P]}/v1/health"
	wait_settled $P || return
	scrape_plain "$MPORT" || return
	expect_sample 'eca_tls_handshakes_total{listener=api,result=ok}' $((ok0 + 1)) || return
	expect_sample 'eca_tls_handshakes_total{listener=api,result=failed}' $((f0 + 1))
}

c_media_host_metrics() {
	local lport mport i
	lport=$(free_port) || return
	mport=$(free_port) || return
	make_host $MD --server $P || return
	set_conf "$(host_dir $MD)/eca.conf" ROLE media
	{
		echo "LISTEN = 127.0.0.1:$lport"
		echo "METRICS_LISTEN = 127.0.0.1:$mport"
	} >>"$(host_dir $MD)/eca.conf"
	host_eca $MD enroll
	expect_rc 0 || return
	start_host $MD || return
	# A channel from m1: the media host judges it with a synced roster.
	echo "PEER = $MD 127.0.0.1:$lport" >>"$(host_dir $H1)/eca.conf"
	host_eca $H1 ping $MD
	expect_rc 0 || return
	for ((i = 0; i < 50; i++)); do
		scrape_plain "$mport" || return
		[ "$(sample "eca_roster_sync_age_seconds{primary=$P}")" != "+Inf" ] && break
		sleep 0.2
	done
	expect_sample "eca_build_info{role=media,version=$("$ECA" --version | awk '{print $NF}')}" 1 || return
	expect_sample "eca_enrollment_state{primary=$P,state=enrolled}" 1 || return
	expect_sample "eca_enrollment_state{primary=$P,state=not_enrolled}" 0 || return
	expect_sample "eca_enrollment_state{primary=$P,state=unknown}" 0 || return
	local age
	age=$(sample "eca_roster_sync_age_seconds{primary=$P}")
	case "$age" in
	absent | +Inf) fail "the media host's roster age is $age"; return 1 ;;
	esac
	[ "$(sample "eca_roster_version{primary=$P}")" -ge 1 ] ||
	    { fail "roster version $(sample "eca_roster_version{primary=$P}")"; return 1; }
	[ "$(sample 'eca_tls_handshakes_total{listener=peer,result=ok}')" -ge 1 ] ||
	    { fail "no peer handshake counted"; return 1; }
	[ "$(sample 'eca_channel_verdicts_total{reason=OK}')" -ge 1 ] ||
	    { fail "no accepted channel verdict counted"; return 1; }
	[ "$(sample 'eca_peer_connections_total{}')" -ge 1 ] ||
	    { fail "no peer connection counted"; return 1; }
	[ "$(sample 'eca_peer_connections_open{}')" -ge 0 ] ||
	    { fail "peer connections open: $(sample 'eca_peer_connections_open{}')"; return 1; }
	# None of the primary's families on a media host.
	expect_eq "$(sample 'eca_hosts{state=ENROLLED}')" absent "eca_hosts on a media host"
}

# as_nobody CMD...: run_cmd CMD as the user nobody.
as_nobody() {
	run_cmd setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"
}

c_unprivileged_reads_state_not_key() {
	local d u mport
	d=$(host_dir $MD)
	# The run directory is root's alone: a world-readable copy of the
	# host's configuration, certificate and trust store; the key stays
	# root's (0600).
	u=$(mktemp -d "${TMPDIR:-/tmp}/eca-it-metrics.XXXXXX") || return
	chmod 755 "$u"
	cp "$d/cert.pem" "$d/key.pem" "$CA/trust.pem" "$u/"
	chmod 644 "$u/cert.pem" "$u/trust.pem"
	chmod 600 "$u/key.pem"
	sed -e "s|^ECA_CERT_PATH = .*|ECA_CERT_PATH = $u/cert.pem|" \
	    -e "s|^ECA_PRIVATE_KEY_PATH = .*|ECA_PRIVATE_KEY_PATH = $u/key.pem|" \
	    -e "s|^ECA_TRUST_STORE_PATH = .*|ECA_TRUST_STORE_PATH = $u/trust.pem|" \
	    "$d/eca.conf" >"$u/eca.conf"
	chmod 644 "$u/eca.conf"
	mport=$(sed -n 's/^METRICS_LISTEN = 127.0.0.1://p' "$u/eca.conf")
	unpriv_checks "$u" "$mport"
	local rc=$?
	rm -rf "$u"
	return $rc
}

unpriv_checks() {
	local u=$1 mport=$2
	as_nobody cat "$u/key.pem"
	if [ "$RC" = 0 ]; then
		fail "nobody could read the private key"
		return 1
	fi
	# eca status needs the key: it says so, and where to look instead.
	as_nobody "$ECA" -f "$u/eca.conf" status
	expect_rc 1 || return
	expect_match "$ERR" "may not read its private key.*http://127.0.0.1:$mport/metrics" "eca status as nobody" || return
	# eca health needs no key: the trust store is enough for /v1/health.
	as_nobody "$ECA" -f "$u/eca.conf" health --server $P
	expect_rc 0 || return
	expect_match "$OUT" "ok" "eca health as nobody" || return
	# The host's own state, from its METRICS_LISTEN.
	as_nobody curl -sS --max-time 10 "http://127.0.0.1:$mport/metrics"
	expect_rc 0 || return
	parse_metrics || return
	expect_sample "eca_enrollment_state{primary=$P,state=enrolled}" 1
}

run_case "METRICS_LISTEN on a non-loopback address is refused at start with a clear error" c_non_loopback_refused
run_case "a primary with METRICS_LISTEN serves a parseable exposition over plain HTTP" c_setup
run_case "METRICS_LISTEN serves GET /metrics only" c_plain_listener_serves_metrics_only
run_case "a METRICS_IDENTITY certificate and an administrator read /metrics over HTTPS" c_metrics_identity_reads_over_tls
run_case "a METRICS_IDENTITY certificate gets 403 on admin routes" c_metrics_identity_is_no_admin
run_case "a host not in METRICS_IDENTITY and a caller without certificate get 403 on /metrics" c_other_callers_refused
run_case "enrollments and a refusal move the counters by exactly what happened" c_counters_move_exactly
run_case "a certificate expiring within 30 days is counted" c_expiring_certificate_counted
run_case "API TLS handshakes are counted by result" c_handshakes_counted
run_case "a media host's /metrics shows its roster age and its own enrollment state" c_media_host_metrics
# Runs eca as nobody: root only (CI runs as root).
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	run_case "an unprivileged user reads health and a host's state without its key; eca status says where to look" c_unprivileged_reads_state_not_key
else
	echo "skipped: needs root"
fi
