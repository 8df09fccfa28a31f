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

run_case "health-check passes for a good host" c_health_good
run_case "health-check fails USER_INPUT_PRIVATE_KEY_PATH_VALIDATION for a group-readable key" c_health_group_readable
run_case "cert-details prints the same fingerprint for PEM, DER and PKCS#7 files" c_cert_details_formats
run_case "cert-details lists the intermediate in the chain" c_cert_details_chain
run_case "cert-details on a missing file fails with a message on stderr" c_cert_details_missing
