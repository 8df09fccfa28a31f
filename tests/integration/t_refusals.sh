#!/bin/bash
# SPDX-License-Identifier: ISC
# Refusals: each bad certificate or key is refused with its reason code,
# and the registry holds nothing for that host afterwards.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

P=primary1.it.test
OTHER=$T/otherca

# refused HOST CODE EXIT [NAME]: `eca --json enroll` of HOST fails with
# CODE and exit status EXIT, and the registry has no row and no history for
# HOST (or NAME, the host's CLIENT_NAME when it differs).
refused() {
	local h=$1 code=$2 want=$3 name=${4:-$1}
	host_eca "$h" --json enroll
	expect_json .error.code "$code" || return
	expect_rc "$want" || return
	no_rows "$name"
}

no_rows() {
	expect_db "SELECT count(*) FROM enrollments WHERE host='$1'" 0 || return
	expect_db "SELECT count(*) FROM history WHERE host='$1'" 0
}

# direct HOST CODE STATUS [NAME]: the certificate presented straight to the
# API with curl (no client-side checks) is refused with STATUS and CODE.
direct() {
	local h=$1 code=$2 status=$3 name=${4:-$1}
	primary_curl "$P" "$h" POST /v1/enrollments \
	    --data "{\"host\":\"$name\",\"precheck\":false,\"force\":false}"
	expect_http "$status" || return
	expect_json .error.code "$code" || return
	no_rows "$name"
}

c_setup() {
	start_primary "$P" || return
	"$MKCA" ca "$OTHER" --name "other it" >/dev/null ||
	    { fail "cannot make the other CA"; return; }
	# Trusts both roots, so that the host itself accepts its own chain
	# and the primary's: the refusal must come from the primary.
	cat "$OTHER/trust.pem" "$CA/trust.pem" >"$T/both-trust.pem"
	cat >"$T/lowsec.cnf" <<-'EOF'
	openssl_conf = openssl_init
	[openssl_init]
	ssl_conf = ssl_sect
	[ssl_sect]
	system_default = system_default_sect
	[system_default_sect]
	CipherString = DEFAULT:@SECLEVEL=0
	EOF
}

c_untrusted() {
	make_host untrusted.it.test --issuer "$OTHER" --trust "$T/both-trust.pem" || return
	refused untrusted.it.test UNTRUSTED 5 || return
	direct untrusted.it.test UNTRUSTED 422
}

c_expired() {
	make_host expired.it.test --start 20200101000000Z --end 20210101000000Z || return
	refused expired.it.test EXPIRED 5 || return
	direct expired.it.test EXPIRED 422
}

c_not_yet_valid() {
	make_host future.it.test --start 20990101000000Z --end 21000101000000Z || return
	refused future.it.test NOT_YET_VALID 5 || return
	direct future.it.test NOT_YET_VALID 422
}

c_identity_mismatch() {
	make_host idcert.it.test --name idconf.it.test || return
	refused idcert.it.test IDENTITY_MISMATCH 5 idconf.it.test || return
	no_rows idcert.it.test || return
	direct idcert.it.test IDENTITY_MISMATCH 403 idconf.it.test
}

c_no_client_cert() {
	primary_curl "$P" - POST /v1/enrollments \
	    --data '{"host":"nocert.it.test","precheck":false,"force":false}'
	expect_http 403 || return
	expect_json .error.code NO_CLIENT_CERT || return
	no_rows nocert.it.test
}

c_weak_key() {
	make_host weak.it.test --key rsa1024 || return
	refused weak.it.test WEAK_KEY 5
}

c_key_mismatch() {
	make_host km.it.test || return
	make_host km2.it.test || return
	cp "$(host_dir km2.it.test)/key.pem" "$(host_dir km.it.test)/key.pem"
	refused km.it.test KEY_MISMATCH 5 || return
	# Refused locally: the primary never heard of it.
	if grep -q 'km.it.test' "${P_DIR[$P]}/ecad.log"; then
		fail "the primary's log mentions km.it.test: the mismatch was not refused locally"
		return
	fi
}

c_group_readable_key() {
	make_host gr.it.test || return
	chmod 640 "$(host_dir gr.it.test)/key.pem"
	refused gr.it.test FILE_PERMISSIONS 1
}

c_wrong_passphrase() {
	printf 'right horse battery\n' >"$T/pass.right"
	printf 'wrong horse battery\n' >"$T/pass.wrong"
	chmod 600 "$T/pass.right" "$T/pass.wrong"
	make_host pw.it.test --pass "$T/pass.right" \
	    --conf "ECA_KEY_PASSPHRASEFILE = $T/pass.wrong" || return
	refused pw.it.test PASSPHRASE 1
}

# The primary's own verdict on a key or signature that OpenSSL's default
# security level would not even let a client present: curl with a
# configuration that lowers it to 0 for the client side only.
c_weak_key_direct() {
	OPENSSL_CONF=$T/lowsec.cnf direct weak.it.test WEAK_KEY 422
}

c_sha1_direct() {
	OPENSSL_CONF=$T/lowsec.cnf direct sha1.it.test WEAK_SIGNATURE 422
}

c_sha1() {
	make_host sha1.it.test --sha1 || return
	refused sha1.it.test WEAK_SIGNATURE 5
}

c_server_auth_only() {
	make_host srvonly.it.test --eku server || return
	refused srvonly.it.test BAD_KEY_USAGE 5 || return
	direct srvonly.it.test BAD_KEY_USAGE 422
}

c_correct_passphrase() {
	# The control for the passphrase case: the right one enrolls.
	make_host pwok.it.test --pass "$T/pass.right" \
	    --conf "ECA_KEY_PASSPHRASEFILE = $T/pass.right" || return
	host_eca pwok.it.test enroll
	expect_rc 0 || return
	expect_db "SELECT count(*) FROM enrollments WHERE host='pwok.it.test'" 1
}

run_case "ecad starts and reports ready" c_setup
[ "$IT_FAILED" = 0 ] || exit 1
run_case "a certificate from an untrusted CA is refused with UNTRUSTED and writes nothing" c_untrusted
run_case "an expired certificate is refused with EXPIRED and writes nothing" c_expired
run_case "a not yet valid certificate is refused with NOT_YET_VALID and writes nothing" c_not_yet_valid
run_case "a CLIENT_NAME that differs from the certificate's SAN is refused with IDENTITY_MISMATCH" c_identity_mismatch
run_case "an enrollment without a client certificate is refused with 403 NO_CLIENT_CERT" c_no_client_cert
run_case "an RSA-1024 key is refused with WEAK_KEY and writes nothing" c_weak_key
run_case "a key that does not match the certificate is refused locally with KEY_MISMATCH" c_key_mismatch
run_case "a group-readable private key is refused with FILE_PERMISSIONS" c_group_readable_key
run_case "a wrong key passphrase is refused with PASSPHRASE" c_wrong_passphrase
run_case "a SHA-1 signed certificate is refused with WEAK_SIGNATURE" c_sha1
run_case "the primary answers an RSA-1024 certificate presented directly with 422 WEAK_KEY" c_weak_key_direct
run_case "the primary answers a SHA-1 signed certificate presented directly with 422 WEAK_SIGNATURE" c_sha1_direct
run_case "a certificate with only the serverAuth EKU is refused with BAD_KEY_USAGE" c_server_auth_only
run_case "an encrypted key with the right passphrase file enrolls" c_correct_passphrase
