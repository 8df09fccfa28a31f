#!/bin/bash
# SPDX-License-Identifier: ISC
# bench/profile.sh PERF_DATA [MS_PER_OP] - where a server's CPU goes.
#
# Reads what `perf record --call-graph dwarf` sampled of one server during
# one benchmark round (bench/run.sh and bench/peer.sh with BENCH_PROFILE=1)
# and prints two tables, each as a share of the samples and, given the
# server's CPU per operation, as milliseconds per operation:
#
#  - by phase: the inclusive share of the functions that begin a phase
#    (the handshake, chain verification, certificate decoding, DN
#    printing, digests, JSON, SQLite, the audit journal, the group-commit
#    writer, the reply, waiting in the kernel); phases nest (chain
#    verification is inside the handshake), so they do not add up;
#  - by where the instructions are (self time): OpenSSL, SQLite, jansson,
#    libevent, the allocator, the rest of libc, the kernel, eca's own code;
#    these add up to 100%.
set -euo pipefail

[ $# -ge 1 ] || {
	echo "usage: bench/profile.sh PERF_DATA [MS_PER_OP]" >&2
	exit 2
}
DATA=$1
MS=${2:-0}
command -v perf >/dev/null || {
	echo "profile: perf is not installed (linux-perf; install-deps.sh bench)" >&2
	exit 1
}
TMP=$(mktemp -d /tmp/eca-profile.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# children% <TAB> self% <TAB> shared object <TAB> symbol
perf report -i "$DATA" --children --sort dso,sym -g none --percent-limit 0 \
    --stdio -t "$(printf '\t')" 2>/dev/null |
	awk -F'\t' '!/^#/ && NF >= 4 {
		gsub(/%| /, "", $1); gsub(/%| /, "", $2)
		sub(/^ *\[[.k]\] */, "", $4); gsub(/^ +| +$/, "", $3)
		print $1 "\t" $2 "\t" $3 "\t" $4 }' >"$TMP/rows"
[ -s "$TMP/rows" ] || {
	echo "profile: no samples in $DATA" >&2
	exit 1
}

# Phases: NAME <TAB> regex over symbols; a phase's share is that of its
# outermost matching function (the largest children share).
cat >"$TMP/phases" <<'EOF'
TLS handshake (all of it)	^(SSL_do_handshake|SSL_accept|ossl_statem_accept|state_machine)$
  chain verification	^(X509_verify_cert|ssl_verify_cert_chain)$
  certificate decoding (DER to X509)	^(d2i_X509|d2i_X509_AUX|X509_new_ex|OSSL_DECODER_from_data|ossl_x509_PUBKEY_get0_libctx|x509_pubkey_ex_d2i_ex)$
  key exchange and signatures	^(EVP_DigestSign|EVP_DigestSignFinal|EVP_DigestVerify|EVP_DigestVerifyFinal|EVP_PKEY_derive|EVP_PKEY_keygen|EVP_PKEY_generate)$
certificate decoding outside the handshake	^(PEM_read_bio_X509|PEM_read_bio_X509_AUX|i2d_X509|eca_certinfo_from_x509|eca_x509_info|eca_x509_decode)$
DN and name printing	^(X509_NAME_print_ex|X509_NAME_oneline|eca_dn_print|eca_dn_string)$
digests (fingerprints)	^(X509_digest|X509_pubkey_digest|EVP_Digest|eca_x509_fingerprint)$
JSON (jansson)	^(json_loadb|json_loads|json_dumps|json_dumpb|json_pack|json_vpack_ex|json_unpack|json_delete)$
SQLite	^(sqlite3_step|sqlite3_prepare_v2|sqlite3_prepare_v3|sqlite3_exec)$
  fsync	^(fsync|fdatasync|__x64_sys_fsync|__x64_sys_fdatasync)$
audit journal	^(eca_audit_append|eca_audit_write|audit_append)$
group-commit writer	^(writer_main|writer_run|writer_batch|writer_commit)$
event loop and sockets	^(event_base_loop|event_base_dispatch)$
  waiting and I/O in the kernel	^(epoll_wait|__x64_sys_epoll_wait|read|write|__x64_sys_read|__x64_sys_write|sendmsg|recvmsg)$
EOF

total_ms() { awk -v p="$1" -v ms="$MS" 'BEGIN { if (ms > 0) printf "%8.3f", p * ms / 100; else printf "%8s", "-" }'; }

printf '%-48s %8s %8s\n' "phase (inclusive; phases nest)" "share" "ms/op"
while IFS=$'\t' read -r name re; do
	p=$(awk -F'\t' -v re="$re" '$4 ~ re && $1 + 0 > best { best = $1 + 0 } END { printf "%.1f", best + 0 }' "$TMP/rows")
	printf '%-48s %7s%% %s\n' "$name" "$p" "$(total_ms "$p")"
done <"$TMP/phases"

echo
printf '%-48s %8s %8s\n' "where the instructions are (self; adds to 100%)" "share" "ms/op"
awk -F'\t' '
function cat(dso, sym) {
	if (dso ~ /kernel|vmlinux/) return "kernel (syscalls, network, scheduling)"
	if (dso ~ /libcrypto/) return "OpenSSL libcrypto"
	if (dso ~ /libssl/) return "OpenSSL libssl"
	if (dso ~ /libsqlite3/) return "SQLite"
	if (dso ~ /libjansson/) return "jansson"
	if (dso ~ /libevent/) return "libevent"
	if (sym ~ /^(_int_malloc|_int_free|malloc|free|cfree|realloc|calloc|_int_realloc|malloc_consolidate|tcache_|__libc_malloc|__libc_free|__libc_calloc|__libc_realloc|unlink_chunk|sysmalloc)/) return "allocator (glibc malloc)"
	if (dso ~ /libc\.so|libc-/) return "libc (other)"
	if (dso ~ /ecad|nginx|libeca/) return "the server'\''s own code (" dso ")"
	return "other (" dso ")"
}
{ s[cat($3, $4)] += $2 }
END { for (k in s) printf "%s\t%.1f\n", k, s[k] }' "$TMP/rows" | sort -t$'\t' -k2,2gr |
	while IFS=$'\t' read -r name p; do
		printf '%-48s %7s%% %s\n' "$name" "$p" "$(total_ms "$p")"
	done
