#!/bin/bash
# SPDX-License-Identifier: ISC
# bench/profile.sh PERF_DATA [MS_PER_OP] - where a server's CPU goes.
#
# Reads what `perf record --call-graph dwarf` sampled of one server during
# one benchmark round (bench/run.sh and bench/peer.sh with BENCH_PROFILE=1)
# and prints two tables, each as a share of the samples and, given the
# server's CPU per operation, as milliseconds per operation; each adds up
# to 100%:
#
#  - by phase: each sample goes to the first phase, in this order, that a
#    function on its stack begins: chain verification, certificate
#    decoding, signatures and key exchange, key schedule and record
#    encryption, certificate fields and DN printing, digests, JSON,
#    SQLite, the audit journal, the rule and the writer, HTTP and
#    routing, the rest of TLS; so malloc or a system call counts for the
#    phase that asked for it, and what no phase claims is the event loop,
#    sockets and scheduling;
#  - by where the instructions are: OpenSSL, the kernel, libc, the
#    allocator (glibc's or mimalloc), SQLite, jansson, libevent, the
#    server's own code.
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

# COUNT: counts one table's rows (P for phases, W for where) from perf
# script's call chains, one sample per paragraph.
COUNT='
# Phases, by priority: a sample goes to the first of these that any frame
# of its stack is in (a signature check inside chain verification counts
# as chain verification, one in the handshake as a signature).
BEGIN {
	NP = split("chain verification|certificate decoding (DER, keys)|signatures and key exchange|key schedule and record encryption|certificate fields, DN printing|digests (fingerprints)|JSON (jansson)|SQLite (with its writes and fsync)|audit journal|the rule, the judge and the writer|HTTP, routing and replies|TLS (the rest of the handshake, records)", PN, "|")
}
function phase(sym, dso) {
	if (sym ~ /^X509_verify_cert$/) return 1
	if (sym ~ /^(d2i_X509|d2i_X509_AUX|ASN1_item_d2i_ex|ASN1_item_d2i|d2i_PUBKEY|d2i_EC_PUBKEY|OSSL_DECODER_.*|X509_get_pubkey|X509_get0_pubkey|PEM_read_bio.*)$/) return 2
	if (sym ~ /^(EVP_DigestSign.*|EVP_DigestVerify.*|EVP_PKEY_derive.*|EVP_PKEY_keygen|EVP_PKEY_generate|EVP_PKEY_sign|EVP_PKEY_verify|EC_POINT_mul)$/) return 3
	if (sym ~ /^(EVP_Q_mac|EVP_MAC_.*|EVP_KDF_.*|EVP_Cipher.*|EVP_Encrypt.*|EVP_Decrypt.*)$/) return 4
	if (sym ~ /^(eca_x509_info|X509_NAME_print_ex|X509_NAME_oneline|eca_dn_.*)$/) return 5
	if (sym ~ /^(X509_digest|X509_pubkey_digest|EVP_Digest|eca_x509_fingerprint.*)$/) return 6
	if (dso ~ /libjansson/ || sym ~ /^json_/) return 7
	if (dso ~ /libsqlite3/) return 8
	if (sym ~ /^(eca_audit_.*|journal_write|audit_hook)$/) return 9
	if (sym ~ /^(eca_registry_apply.*|writer_.*|eca_enroll_.*|eca_judge_.*)$/) return 10
	if (sym ~ /^(api_.*|evhttp_.*|server_.*|peer_.*)$/) return 11
	if (dso ~ /libssl/) return 12
	return 0
}
function where(sym, dso) {
	if (dso ~ /kernel|vmlinux/) return "kernel (system calls, network, scheduling, faults)"
	if (dso ~ /libcrypto/) return "OpenSSL libcrypto"
	if (dso ~ /libssl/) return "OpenSSL libssl"
	if (dso ~ /libsqlite3/) return "SQLite"
	if (dso ~ /libjansson/) return "jansson"
	if (dso ~ /libevent/) return "libevent"
	if (dso ~ /libmimalloc/) return "allocator (mimalloc)"
	if (sym ~ /^(_int_malloc|_int_free|malloc|free|cfree|realloc|calloc|_int_realloc|malloc_consolidate|tcache_.*|__libc_malloc|__libc_free|__libc_calloc|__libc_realloc|__GI___libc_malloc|__GI___libc_free|unlink_chunk|sysmalloc|arena_get2|_int_memalign)$/) return "allocator (glibc malloc)"
	if (dso ~ /libc\.so|libc-/) return "libc (memcpy, memset, strings, locks)"
	if (dso ~ /ecad|nginx|libeca|bench_/) return "the server'\''s own code"
	return "other (" dso ")"
}
function flush() {
	if (!n) return
	best = 0
	for (i = 1; i <= n; i++) {
		q = phase(S[i], D[i])
		if (q && (!best || q < best)) best = q
	}
	P[best ? PN[best] : "event loop, sockets, scheduling"]++
	# Where: the innermost frame (the pass without inlined frames, whose
	# first line names the object the sampled instruction is in; with
	# them, malloc inlined in mimalloc reads as "(inlined)" and the next
	# frame is its caller in libcrypto).
	W[where(S[1], D[1])]++
	total++
	n = 0
}
/^[ \t]*$/ { flush(); next }
{
	# "ADDR SYMBOL (DSO)"
	line = $0
	sub(/^[ \t]*[0-9a-f]+ /, "", line)
	dso = line
	sub(/^.*\(/, "", dso); sub(/\)$/, "", dso)
	sym = line
	sub(/ \([^()]*\)$/, "", sym)
	sub(/\+0x[0-9a-f]+$/, "", sym)
	# "cfree@GLIBC_2.2.5", "unlink_chunk.constprop.0": the name alone.
	sub(/@.*$/, "", sym)
	sub(/\.(constprop|isra|part|cold)(\.[0-9]+)*$/, "", sym)
	n++; S[n] = sym; D[n] = dso
}
END {
	flush()
	if (kind == "P") {
		printf "N\t%d\n", total
		for (k in P) printf "P\t%s\t%d\n", k, P[k]
	} else
		for (k in W) printf "W\t%s\t%d\n", k, W[k]
}'
# Phases read the stacks with inlined functions (a phase may begin in one);
# where the instructions are reads the object of each sampled address.
perf script -i "$DATA" -F ip,sym,dso 2>/dev/null |
	awk -v kind=P "$COUNT" >"$TMP/counts"
perf script --no-inline -i "$DATA" -F ip,sym,dso 2>/dev/null |
	awk -v kind=W "$COUNT" >>"$TMP/counts"

total=$(awk -F'\t' '$1 == "N" { print $2 }' "$TMP/counts")
[ "${total:-0}" -gt 0 ] || {
	echo "profile: no samples in $DATA" >&2
	exit 1
}
# table KIND TITLE: the rows of one kind, largest first.
table() {
	printf '%-52s %7s %8s\n' "$2" "share" "ms/op"
	awk -F'\t' -v k="$1" -v t="$total" -v ms="$MS" '$1 == k {
		p = 100 * $3 / t
		if (ms > 0) m = sprintf("%8.3f", p * ms / 100); else m = sprintf("%8s", "-")
		printf "%s\t%-52s %6.1f%% %s\n", $3, $2, p, m }' "$TMP/counts" |
		sort -t$'\t' -k1,1nr | cut -f2-
}
table P "by phase ($total samples)"
echo
table W "by where the instructions are"
