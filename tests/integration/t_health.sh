#!/bin/bash
# SPDX-License-Identifier: ISC
# eca health-check and eca cert-details (no primary needed).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

H=hc.it.test

c_health_good() {
	make_host $H --conf "SERVER = nowhere.it.test 127.0.0.1:9" || return
	host_eca $H --json health-check
	expect_rc 0 || return
	expect_json .passed true || return
	expect_json '[.checks[] | select(.status == "FAIL")] | length' 0 || return
	expect_json '[.checks[] | select(.id == "USER_INPUT_PRIVATE_KEY_PATH_VALIDATION")][0].status' PASS
}

c_health_group_readable() {
	make_host hc2.it.test --conf "SERVER = nowhere.it.test 127.0.0.1:9" || return
	chmod 640 "$(host_dir hc2.it.test)/key.pem"
	host_eca hc2.it.test --json health-check
	expect_rc 1 || return
	expect_json .passed false || return
	expect_json '[.checks[] | select(.id == "USER_INPUT_PRIVATE_KEY_PATH_VALIDATION")][0].status' FAIL || return
	host_eca hc2.it.test health-check --fmt failures_only
	expect_rc 1 || return
	expect_match "$OUT" USER_INPUT_PRIVATE_KEY_PATH_VALIDATION "the failures_only report" || return
	if printf '%s' "$OUT" | grep -q '^PASS'; then
		fail "failures_only printed passed checks: $(_it_short "$OUT")"
	fi
}

c_cert_details_formats() {
	local d fp f got
	d=$(host_dir $H)
	fp=$(cert_fp "$d/cert.pem")
	openssl x509 -in "$d/cert.pem" -outform DER -out "$d/cert.der"
	openssl crl2pkcs7 -nocrl -certfile "$d/cert.pem" -out "$d/cert.p7b"
	openssl crl2pkcs7 -nocrl -certfile "$d/cert.pem" -outform DER -out "$d/cert.p7der"
	for f in cert.pem cert.der cert.p7b cert.p7der; do
		# No config at all: cert-details must not need one.
		run_cmd env -u ECA_CONFIG "$ECA" --json cert-details --cert "$d/$f"
		expect_rc 0 || return
		got=$(jq -r .certificate.fingerprint <<<"$OUT" 2>/dev/null)
		expect_eq "$got" "$fp" "the fingerprint of $f" || return
	done
	# The NetBackup-style spelling gives the same.
	run_cmd env -u ECA_CONFIG "$ECA" --json -getExternalCertDetails -certPath "$d/cert.der"
	expect_rc 0 || return
	expect_json .certificate.fingerprint "$fp"
}

c_cert_details_chain() {
	local d
	d=$(host_dir $H)
	run_cmd env -u ECA_CONFIG "$ECA" --json cert-details --cert "$d/cert.pem"
	expect_rc 0 || return
	expect_json '.chain | length' 1 || return
	expect_json '.chain[0].fingerprint' "$(cert_fp "$CA/inter.pem")"
}

c_cert_details_missing() {
	run_cmd env -u ECA_CONFIG "$ECA" cert-details --cert "$T/does-not-exist.pem"
	if [ "$RC" = 0 ]; then
		fail "cert-details on a missing file exited 0"
		return
	fi
	expect_match "$ERR" "^eca: " "the error on stderr"
}

# --- eca health-check's warning exit status ---

c_health_check_warns_with_6() {
	make_host hw.it.test --days 10 --conf "SERVER = nowhere.it.test 127.0.0.1:9" || return
	host_eca hw.it.test health-check
	expect_rc 6 || return
	expect_match "$OUT" "^PASS +CERT_VALIDITY_VALIDATION +WARNING: the certificate expires in (9|10) day" "the validity line" || return
	expect_match "$OUT" "with a warning" "the summary line"
}

c_health_check_warn_days_zero() {
	set_conf "$(host_dir hw.it.test)/eca.conf" ECA_CERT_EXPIRY_WARN_DAYS 0
	host_eca hw.it.test health-check
	expect_rc 0
}

c_health_check_bad_warn_days() {
	set_conf "$(host_dir hw.it.test)/eca.conf" ECA_CERT_EXPIRY_WARN_DAYS -1
	host_eca hw.it.test health-check
	if [ "$RC" = 0 ] || [ "$RC" = 6 ]; then
		fail "ECA_CERT_EXPIRY_WARN_DAYS = -1 was accepted (exit $RC)"
		return
	fi
	expect_match "$ERR" "ECA_CERT_EXPIRY_WARN_DAYS" "the error"
}

# --- GET /v1/health and eca health ---

PH=health.it.test
PW=warn.it.test
PC=crit.it.test
M=mon.it.test

c_unreachable_is_unknown() {
	make_host $M --conf "SERVER = down.it.test 127.0.0.1:9" || return
	host_eca $M health --server down.it.test
	expect_rc 3 || return
	expect_match "$ERR" "^eca: .*unreachable|^eca: .*(connect|Connect)" "the error"
}

c_fresh_primary_ok() {
	start_primary $PH || return
	primary_curl $PH - GET /v1/health
	expect_http 200 || return
	expect_json .status ok || return
	expect_json '[.checks[].name] | unique | join(",")' certificate,crl,registry,roster,writer || return
	expect_match "$(printf '%s' "$OUT" | jq -r '[.checks[] | select(.name == "roster")][0].detail')" \
	    "^the roster of $PH (was synced [0-9]+ s ago|was not synced yet, [0-9]+ s after start)" "the roster check" || return
	expect_json '[.checks[] | select(.status != "ok")] | length' 0 || return
	make_host $M --server $PH || return
	host_eca $M health --server $PH
	expect_rc 0 || return
	expect_match "$OUT" "^$PH: ok" "the first line" || return
	host_eca $M --json health --server $PH
	expect_rc 0 || return
	expect_json .status ok
}

c_answer_says_nothing_secret() {
	local d
	d=${P_DIR[$PH]}
	primary_curl $PH - GET /v1/health
	expect_http 200 || return
	if grep -qF -e "$d" -e "$(cert_fp "$d/cert.pem")" <<<"$OUT"; then
		fail "GET /v1/health shows a path or the fingerprint: $(_it_short "$OUT")"
	fi
}

c_expiring_certificate_warns() {
	local d=$T/$PW
	mkdir -p "$d"
	"$MKCA" leaf "$CA" $PW --days 10 --out "$d/leaf" >/dev/null || { fail "mkca.sh leaf failed"; return; }
	mv "$d/leaf.pem" "$d/cert.pem" && mv "$d/leaf.key" "$d/key.pem"
	start_primary $PW || return
	primary_curl $PW - GET /v1/health
	expect_http 200 || return
	expect_json .status warn || return
	expect_json '[.checks[] | select(.name == "certificate")][0].status' warn || return
	make_host $M --server $PW || return
	host_eca $M health --server $PW
	expect_rc 1 || return
	expect_match "$OUT" "warn +certificate +.*ECA_CERT_EXPIRY_WARN_DAYS = 30" "the certificate row"
}

# A CA of its own, whose expired CRL the primary caches (ECA_CRL_PATH):
# past ECA_CRL_GRACE_HOURS it is critical, in it a warning.
c_crl_past_grace_is_critical() {
	local ca2=$T/ca2
	"$MKCA" ca "$ca2" --name "health it" >/dev/null || { fail "mkca.sh ca failed"; return; }
	"$MKCA" crl "$ca2" --expired >/dev/null || { fail "mkca.sh crl --expired failed"; return; }
	mkdir -p "$T/crls" && cp "$ca2/inter.crl" "$T/crls/"
	CA=$ca2 start_primary $PC "ECA_CRL_PATH = $T/crls" "ECA_CRL_GRACE_HOURS = 1" || return
	set_conf "${P_CONF[$PC]}" ECA_CRL_CHECK LEAF
	stop_primary $PC
	start_primary $PC || return
	primary_curl $PC - GET /v1/health --cacert "$ca2/trust.pem"
	expect_http 503 || return
	expect_json .status critical || return
	expect_json '[.checks[] | select(.name == "crl")][0].status' critical || return
	CA=$ca2 make_host mc.it.test --server $PC || return
	host_eca mc.it.test health --server $PC
	expect_rc 2 || return
	expect_match "$OUT" "critical +crl +.*past its grace period" "the CRL row" || return
	host_eca mc.it.test --json health --server $PC
	expect_rc 2 || return
	expect_json .status critical
}

c_crl_in_grace_warns() {
	set_conf "${P_CONF[$PC]}" ECA_CRL_GRACE_HOURS 72
	stop_primary $PC
	start_primary $PC || return
	host_eca mc.it.test health --server $PC
	expect_rc 1 || return
	expect_match "$OUT" "warn +crl +.*grace period" "the CRL row"
}

run_case "health-check passes for a good host" c_health_good
run_case "health-check fails USER_INPUT_PRIVATE_KEY_PATH_VALIDATION for a group-readable key" c_health_group_readable
run_case "cert-details prints the same fingerprint for PEM, DER and PKCS#7 files" c_cert_details_formats
run_case "cert-details lists the intermediate in the chain" c_cert_details_chain
run_case "cert-details on a missing file fails with a message on stderr" c_cert_details_missing
run_case "health-check exits 6 when its certificate expires within ECA_CERT_EXPIRY_WARN_DAYS and nothing fails" c_health_check_warns_with_6
run_case "health-check does not warn of expiry with ECA_CERT_EXPIRY_WARN_DAYS = 0" c_health_check_warn_days_zero
run_case "a negative ECA_CERT_EXPIRY_WARN_DAYS is a configuration error naming the key" c_health_check_bad_warn_days
run_case "eca health exits 3 (unknown) when the primary is unreachable" c_unreachable_is_unknown
run_case "a fresh primary answers GET /v1/health ok with its checks, and eca health exits 0" c_fresh_primary_ok
run_case "GET /v1/health shows no path and no fingerprint" c_answer_says_nothing_secret
run_case "a primary whose certificate expires in 10 days is warn, and eca health exits 1" c_expiring_certificate_warns
run_case "a cached CRL past its grace period is critical: 503, and eca health exits 2" c_crl_past_grace_is_critical
run_case "a cached CRL in its grace period is warn, and eca health exits 1" c_crl_in_grace_warns
