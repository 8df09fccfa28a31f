/* SPDX-License-Identifier: ISC */
/*
 * x509_policy.c - what makes a certificate acceptable (OpenSSL 3).
 *
 * Chain verification against a trust store (remembered per chain in the
 * policy's vcache), key, signature and usage policy, identity against a
 * host name, the details a message or a registry row needs, and THE
 * acceptance policy for a peer's certificate, eca_x509_check_peer(), at
 * the bottom.  The path policy the verification applies is x509_path.c;
 * loading certificates and keys is x509.c.
 */
#include "x509_impl.h"

#include "crl.h"
#include "hostname.h"
#include "text.h"
#include "util.h"
#include "vcache.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

/*
 * Verification
 */

static int
map_verify_error(int e, const char **remedy)
{
	switch (e) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
		*remedy = "renew the certificate";
		return ECA_ERR_EXPIRED;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		*remedy = "check the system clock or wait until the "
			  "certificate becomes valid";
		return ECA_ERR_NOT_YET_VALID;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_CERT_UNTRUSTED:
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		*remedy = "install the issuing CA in ECA_TRUST_STORE_PATH "
			  "and send the intermediates with the certificate";
		return ECA_ERR_UNTRUSTED;
	case X509_V_ERR_CERT_REVOKED:
		*remedy = "request a new certificate";
		return ECA_ERR_REVOKED;
	case X509_V_ERR_INVALID_PURPOSE:
		*remedy = "request a certificate whose extended key usage "
			  "allows both clientAuth and serverAuth";
		return ECA_ERR_BAD_KEY_USAGE;
	default:
		*remedy = "request a certificate that follows RFC 5280";
		return ECA_ERR_BAD_CERTIFICATE;
	}
}

int
eca_x509_time(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	*out = (int64_t)timegm(&tm);
	return 0;
}

int
eca_x509_chain_window(STACK_OF(X509) *chain, int64_t window[2])
{
	int64_t nb, na;
	X509 *x;
	int i;

	if (sk_X509_num(chain) <= 0)
		return -1;
	window[0] = INT64_MIN;
	window[1] = INT64_MAX;
	for (i = 0; i < sk_X509_num(chain); i++) {
		x = sk_X509_value(chain, i);
		if (eca_x509_time(X509_get0_notBefore(x), &nb) != 0 ||
		    eca_x509_time(X509_get0_notAfter(x), &na) != 0)
			return -1;
		if (nb > window[0])
			window[0] = nb;
		if (na < window[1])
			window[1] = na;
	}
	return 0;
}

/*
 * eca_x509_verify, and the chain's window when window is not NULL.
 *
 * After OpenSSL has built and verified the path, the path policy
 * (x509_check_path) judges every certificate of the path as built, trust
 * anchor included: a verdict on this chain and this trust store alone,
 * so the vcache may remember it with the verification.
 */
static int
verify_chain(OSSL_LIB_CTX *libctx, X509_STORE *trust, X509 *leaf,
    STACK_OF(X509) *chain, time_t now, int64_t window[2], struct eca_err *err)
{
	X509_STORE_CTX *ctx = NULL;
	X509_VERIFY_PARAM *param;
	const char *remedy = "";
	char subj[ECA_DN_MAX];
	int r = ECA_ERR_INTERNAL, e;

	if (trust == NULL || leaf == NULL) {
		r = eca_err_set(err, ECA_ERR_INTERNAL,
		    "no trust store or certificate to verify");
		goto out;
	}
	if ((ctx = X509_STORE_CTX_new_ex(libctx, NULL)) == NULL ||
	    X509_STORE_CTX_init(ctx, trust, leaf, chain) != 1) {
		r = eca_err_set(err, ECA_ERR_NOMEM,
		    "cannot set up certificate verification");
		eca_err_add_openssl(err);
		goto out;
	}
	param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
	X509_VERIFY_PARAM_set_depth(param, ECA_CHAIN_MAX);
	if (now != 0)
		X509_VERIFY_PARAM_set_time(param, now);
	if (X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT) != 1) {
		r = eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot set the verification purpose");
		eca_err_add_openssl(err);
		goto out;
	}
	if (X509_verify_cert(ctx) != 1) {
		e = X509_STORE_CTX_get_error(ctx);
		r = map_verify_error(e, &remedy);
		(void)eca_err_set(err, r, "certificate %s: %s; %s",
		    eca_x509_subject_str(X509_STORE_CTX_get_current_cert(ctx) !=
				NULL ?
			    X509_STORE_CTX_get_current_cert(ctx) :
			    leaf,
			subj, sizeof(subj)),
		    X509_verify_cert_error_string(e), remedy);
		goto out;
	}
	/* The same certificate serves both ends of host-to-host TLS. */
	if (X509_check_purpose(leaf, X509_PURPOSE_SSL_SERVER, 0) != 1) {
		r = eca_err_set(err, ECA_ERR_BAD_KEY_USAGE,
		    "certificate %s cannot be used by a TLS server: request "
		    "a certificate whose key usage allows both clientAuth "
		    "and serverAuth",
		    eca_x509_subject_str(leaf, subj, sizeof(subj)));
		goto out;
	}
	if ((r = x509_check_path(ctx, err)) != 0)
		goto out;
	/* The chain as built, trust anchor included. */
	if (window != NULL &&
	    eca_x509_chain_window(X509_STORE_CTX_get0_chain(ctx), window) !=
		0) {
		/* Unreadable dates in a chain that verified: never cached. */
		window[0] = 0;
		window[1] = 0;
	}
	r = 0;
out:
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return r;
}

int
eca_x509_verify(OSSL_LIB_CTX *libctx, X509_STORE *trust, X509 *leaf,
    STACK_OF(X509) *chain, time_t now, struct eca_err *err)
{
	return verify_chain(libctx, trust, leaf, chain, now, NULL, err);
}

/*
 * The chain part of the peer policy, answered from the policy's cache of
 * verifications when this very chain (key: its eca_vcache_key, or NULL)
 * verified before and is still inside its validity window (vcache.h).
 */
static int
verify_peer_chain(const struct eca_peer_policy *policy, X509 *leaf,
    STACK_OF(X509) *chain, const uint8_t *key, struct eca_err *err)
{
	int64_t window[2], now;
	int r;

	now = policy->now != 0 ? (int64_t)policy->now : (int64_t)time(NULL);
	if (key != NULL &&
	    eca_vcache_lookup(policy->vcache, policy->trust, key, now))
		return 0;
	if ((r = verify_chain(policy->libctx, policy->trust, leaf, chain,
		 policy->now, window, err)) == 0 &&
	    key != NULL)
		eca_vcache_store(policy->vcache, policy->trust, key, window[0],
		    window[1]);
	return r;
}

/*
 * Acceptability: key, signature and usage policy
 */

static int
key_desc(EVP_PKEY *pkey, char *buf, size_t size)
{
	char group[64];
	size_t glen = 0;
	const char *curve;
	int id;

	id = EVP_PKEY_get_base_id(pkey);
	switch (id) {
	case EVP_PKEY_RSA:
	case EVP_PKEY_RSA_PSS:
		eca_text_fmt(buf, size, "%s %d",
		    id == EVP_PKEY_RSA ? "RSA" : "RSA-PSS",
		    EVP_PKEY_get_bits(pkey));
		break;
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_group_name(pkey, group, sizeof(group),
			&glen) != 1)
			eca_text_fmt(group, sizeof(group), "unknown curve");
		curve = group;
		if (strcmp(group, "prime256v1") == 0)
			curve = "P-256";
		else if (strcmp(group, "secp384r1") == 0)
			curve = "P-384";
		else if (strcmp(group, "secp521r1") == 0)
			curve = "P-521";
		eca_text_fmt(buf, size, "EC %s", curve);
		break;
	case EVP_PKEY_ED25519:
		eca_text_fmt(buf, size, "ED25519");
		break;
	case EVP_PKEY_ED448:
		eca_text_fmt(buf, size, "ED448");
		break;
	default:
		eca_text_fmt(buf, size, "%s %d",
		    id != EVP_PKEY_NONE && OBJ_nid2sn(id) != NULL ?
			OBJ_nid2sn(id) :
			"unknown",
		    EVP_PKEY_get_bits(pkey));
		break;
	}
	ERR_clear_error();
	return id;
}

int
eca_x509_check_key_strength(X509 *x, struct eca_err *err)
{
	EVP_PKEY *pkey;
	char desc[64], subj[ECA_DN_MAX];
	int id, ok = 0;

	if ((pkey = X509_get0_pubkey(x)) == NULL) {
		ERR_clear_error();
		return eca_err_set(err, ECA_ERR_BAD_CERTIFICATE,
		    "certificate %s has an unreadable public key",
		    eca_x509_subject_str(x, subj, sizeof(subj)));
	}
	id = key_desc(pkey, desc, sizeof(desc));
	if (id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS)
		ok = EVP_PKEY_get_bits(pkey) >= 2048;
	else if (id == EVP_PKEY_EC)
		ok = strcmp(desc, "EC P-256") == 0 ||
		    strcmp(desc, "EC P-384") == 0;
	else if (id == EVP_PKEY_ED25519)
		ok = 1;
	ERR_clear_error();
	if (!ok)
		return eca_err_set(err, ECA_ERR_WEAK_KEY,
		    "certificate %s has a %s key: use RSA of at least 2048 "
		    "bits, EC P-256/P-384 or Ed25519",
		    eca_x509_subject_str(x, subj, sizeof(subj)), desc);
	return 0;
}

int
eca_x509_check_signature(X509 *x, struct eca_err *err)
{
	char subj[ECA_DN_MAX];
	const char *ln;
	int nid, mdnid = NID_undef, pknid = NID_undef;

	/*
	 * A self-signed certificate's own signature proves nothing (trust
	 * in it comes from the store), so an old root signed with SHA-1
	 * does not make a chain unacceptable.
	 */
	if ((X509_get_extension_flags(x) & EXFLAG_SS) != 0) {
		ERR_clear_error();
		return 0;
	}
	nid = X509_get_signature_nid(x);
	ln = OBJ_nid2ln(nid);
	if (nid == NID_undef || OBJ_find_sigid_algs(nid, &mdnid, &pknid) != 1)
		return eca_err_set(err, ECA_ERR_WEAK_SIGNATURE,
		    "certificate %s has an unknown signature algorithm: "
		    "request one signed with SHA-256 or better",
		    eca_x509_subject_str(x, subj, sizeof(subj)));
	switch (mdnid) {
	case NID_md2:
	case NID_md4:
	case NID_md5:
	case NID_md5_sha1:
	case NID_sha1:
	case NID_mdc2:
	case NID_ripemd160:
		return eca_err_set(err, ECA_ERR_WEAK_SIGNATURE,
		    "certificate %s is signed with %s: request one signed "
		    "with SHA-256 or better",
		    eca_x509_subject_str(x, subj, sizeof(subj)),
		    ln != NULL ? ln : "a weak digest");
	default:
		return 0;
	}
}

int
eca_x509_check_usage(X509 *leaf, struct eca_err *err)
{
	char subj[ECA_DN_MAX];
	uint32_t flags, xku;

	flags = X509_get_extension_flags(leaf);
	ERR_clear_error();
	if ((flags & EXFLAG_INVALID) != 0)
		return eca_err_set(err, ECA_ERR_BAD_CERTIFICATE,
		    "certificate %s has malformed extensions",
		    eca_x509_subject_str(leaf, subj, sizeof(subj)));
	if ((flags & EXFLAG_BCONS) != 0 && (flags & EXFLAG_CA) != 0)
		return eca_err_set(err, ECA_ERR_BAD_KEY_USAGE,
		    "certificate %s is a CA certificate (basicConstraints "
		    "CA:TRUE) and cannot identify a host: request an "
		    "end-entity certificate",
		    eca_x509_subject_str(leaf, subj, sizeof(subj)));
	if ((flags & EXFLAG_XKUSAGE) != 0) {
		xku = X509_get_extended_key_usage(leaf);
		if ((xku & XKU_ANYEKU) == 0 &&
		    (xku & (XKU_SSL_CLIENT | XKU_SSL_SERVER)) !=
			(XKU_SSL_CLIENT | XKU_SSL_SERVER))
			return eca_err_set(err, ECA_ERR_BAD_KEY_USAGE,
			    "certificate %s has an extended key usage "
			    "without both clientAuth and serverAuth: "
			    "request a certificate that allows both",
			    eca_x509_subject_str(leaf, subj, sizeof(subj)));
	}
	/* TLS 1.3 and ECDHE always sign with the host's key. */
	if ((flags & EXFLAG_KUSAGE) != 0 &&
	    (X509_get_key_usage(leaf) & KU_DIGITAL_SIGNATURE) == 0)
		return eca_err_set(err, ECA_ERR_BAD_KEY_USAGE,
		    "certificate %s has a key usage without "
		    "digitalSignature: request a certificate that allows it",
		    eca_x509_subject_str(leaf, subj, sizeof(subj)));
	return 0;
}

int
eca_x509_check_acceptable(X509 *leaf, STACK_OF(X509) *chain,
    struct eca_err *err)
{
	X509 *x;
	int i, r;

	if (leaf == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL, "no certificate");
	for (i = -1; i < sk_X509_num(chain); i++) {
		x = i < 0 ? leaf : sk_X509_value(chain, i);
		if ((r = eca_x509_check_key_strength(x, err)) != 0)
			goto out;
	}
	for (i = -1; i < sk_X509_num(chain); i++) {
		x = i < 0 ? leaf : sk_X509_value(chain, i);
		if ((r = eca_x509_check_signature(x, err)) != 0)
			goto out;
	}
	r = eca_x509_check_usage(leaf, err);
out:
	ERR_clear_error();
	return r;
}

/*
 * Identity
 */

int
x509_subject_cn(X509 *x, char *buf, size_t size)
{
	X509_NAME *name;
	X509_NAME_ENTRY *ent;
	unsigned char *utf8 = NULL;
	int i, last = -1, len;

	buf[0] = '\0';
	name = X509_get_subject_name(x);
	while (
	    (i = X509_NAME_get_index_by_NID(name, NID_commonName, last)) >= 0)
		last = i;
	if (last < 0)
		return 0;
	ent = X509_NAME_get_entry(name, last);
	len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(ent));
	if (len < 0)
		return -1;
	/* An embedded NUL would let "a\0.evil" compare as "a". */
	if ((size_t)len >= size || memchr(utf8, '\0', (size_t)len) != NULL) {
		OPENSSL_free(utf8);
		return -1;
	}
	memcpy(buf, utf8, (size_t)len);
	buf[len] = '\0';
	OPENSSL_free(utf8);
	return 0;
}

/*
 * Does a subjectAltName dNSName of x have the canonical form host?  A
 * dNSName that is not a valid host name (a wildcard, a trailing dot, an
 * underscore, a NUL inside) has no canonical form and matches nothing: a
 * wildcard can name many hosts, and a host has one name.
 */
static int
san_has_host(X509 *x, const char *host)
{
	GENERAL_NAMES *gens;
	const GENERAL_NAME *gen;
	char name[ECA_HOST_MAX];
	int i, match = 0;

	if ((gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL)) ==
	    NULL)
		return 0;
	for (i = 0; i < sk_GENERAL_NAME_num(gens) && !match; i++) {
		gen = sk_GENERAL_NAME_value(gens, i);
		if (gen->type != GEN_DNS)
			continue;
		if (eca_hostname_canon_n(
			(const char *)ASN1_STRING_get0_data(gen->d.dNSName),
			(size_t)ASN1_STRING_length(gen->d.dNSName), name,
			sizeof(name), NULL) != 0)
			continue;
		match = strcmp(name, host) == 0;
	}
	GENERAL_NAMES_free(gens);
	return match;
}

int
eca_x509_identity_matches(X509 *leaf, enum eca_identity rule, const char *host,
    struct eca_err *err)
{
	char got[ECA_DN_MAX], subj[ECA_DN_MAX], canon[ECA_HOST_MAX];
	char shown[80];
	struct eca_err he;
	int match = 0;

	if (leaf == NULL || host == NULL || *host == '\0')
		return eca_err_set(err, ECA_ERR_IDENTITY_MISMATCH,
		    "no host name to match the certificate against");
	/*
	 * SAN and CN name a host: both sides are compared in their
	 * canonical form (hostname.h), so case never matters and nothing
	 * but a valid host name can match.  DN compares whole subjects.
	 */
	if (rule != ECA_ID_DN &&
	    eca_hostname_canon(host, canon, sizeof(canon), &he) != 0)
		return eca_err_set(err, ECA_ERR_IDENTITY_MISMATCH,
		    "%s; no "
		    "certificate can match it",
		    he.msg);
	switch (rule) {
	case ECA_ID_SAN:
		match = san_has_host(leaf, canon);
		if (!match) {
			(void)eca_err_set(err, ECA_ERR_IDENTITY_MISMATCH,
			    "certificate %s has no subjectAltName dNSName "
			    "%s (wildcards are not accepted): request a "
			    "certificate naming the host in its SAN",
			    eca_x509_subject_str(leaf, subj, sizeof(subj)),
			    host);
		}
		break;
	case ECA_ID_CN:
		if (x509_subject_cn(leaf, got, sizeof(got)) == 0 &&
		    eca_hostname_canon(got, subj, sizeof(subj), NULL) == 0)
			match = strcmp(subj, canon) == 0;
		if (!match) {
			/* The CN is the certificate's text: escape it. */
			eca_text_sanitize(got, strlen(got), shown,
			    sizeof(shown));
			(void)eca_err_set(err, ECA_ERR_IDENTITY_MISMATCH,
			    "certificate %s has commonName \"%s\", not %s: "
			    "request a certificate whose CN is the host name",
			    eca_x509_subject_str(leaf, subj, sizeof(subj)),
			    shown, host);
		}
		break;
	case ECA_ID_DN:
		if (eca_x509_name_rfc2253(X509_get_subject_name(leaf), got,
			sizeof(got), NULL) == 0)
			match = strcmp(got, host) == 0;
		if (!match)
			(void)eca_err_set(err, ECA_ERR_IDENTITY_MISMATCH,
			    "certificate subject %s is not %s: the identity "
			    "rule DN compares the full RFC 2253 subject",
			    eca_x509_subject_str(leaf, subj, sizeof(subj)),
			    host);
		break;
	default:
		(void)eca_err_set(err, ECA_ERR_INTERNAL,
		    "unknown identity rule %d", (int)rule);
		ERR_clear_error();
		return ECA_ERR_INTERNAL;
	}
	ERR_clear_error();
	return match ? 0 : ECA_ERR_IDENTITY_MISMATCH;
}

int
eca_x509_identity_dn(X509 *leaf, eca_dn_map_fn *map, void *arg,
    const char *host, struct eca_err *err)
{
	char subj[ECA_DN_MAX], mapped[ECA_HOST_MAX];
	int r;

	if (leaf == NULL || host == NULL || *host == '\0')
		return eca_err_set(err, ECA_ERR_IDENTITY_MISMATCH,
		    "no host name to match the certificate against");
	if (eca_x509_name_rfc2253(X509_get_subject_name(leaf), subj,
		sizeof(subj), NULL) != 0 ||
	    subj[0] == '\0') {
		ERR_clear_error();
		return eca_err_set(err, ECA_ERR_IDENTITY_MISMATCH,
		    "the certificate has no printable subject, so the identity "
		    "rule DN cannot name a host with it");
	}
	r = map != NULL ? map(arg, subj, mapped, sizeof(mapped)) :
			  ECA_ERR_NOT_FOUND;
	if (r == ECA_ERR_NOT_FOUND)
		return eca_err_set(err, ECA_ERR_IDENTITY_MISMATCH,
		    "certificate subject \"%s\" is mapped to no host (the "
		    "identity rule is DN): an administrator must map it on the "
		    "primary with `eca map add %s '%s'`",
		    subj, host, subj);
	if (r != 0)
		return eca_err_set(err, r,
		    "cannot look up the host of "
		    "certificate subject \"%s\"",
		    subj);
	if (strcasecmp(mapped, host) != 0)
		return eca_err_set(err, ECA_ERR_IDENTITY_MISMATCH,
		    "certificate subject \"%s\" is mapped to host %s, not %s "
		    "(identity rule DN; see `eca map list` on the primary)",
		    subj, mapped, host);
	return 0;
}

/*
 * Details
 */

/* The i-th name of gens if it is a listable dNSName (else NULL), its length. */
static const unsigned char *
san_name(const GENERAL_NAMES *gens, int i, size_t *len)
{
	const GENERAL_NAME *gen = sk_GENERAL_NAME_value(gens, i);
	const unsigned char *s;

	if (gen->type != GEN_DNS)
		return NULL;
	s = ASN1_STRING_get0_data(gen->d.dNSName);
	*len = (size_t)ASN1_STRING_length(gen->d.dNSName);
	if (memchr(s, '\0', *len) != NULL || memchr(s, ',', *len) != NULL)
		return NULL;
	return s;
}

/* The names of gens, comma-separated, into buf (size from san_size). */
static void
san_join(const GENERAL_NAMES *gens, char *buf)
{
	const unsigned char *s;
	size_t off = 0, len;
	int i;

	for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		if ((s = san_name(gens, i, &len)) == NULL)
			continue;
		if (off > 0)
			buf[off++] = ',';
		memcpy(buf + off, s, len);
		off += len;
	}
	buf[off] = '\0';
}

/*
 * The dNSNames of x as comma-separated text in info, whole: a list of
 * more than ECA_SAN_NAMES_MAX names or ECA_SAN_MAX - 1 bytes is refused,
 * never truncated.  Names with a comma or NUL cannot be listed and are
 * left out here; the path policy refuses them (they are no host names).
 * Short lists (nearly all) take no allocation beyond OpenSSL's decoding.
 */
static int
san_list(X509 *x, struct eca_certinfo *info, struct eca_err *err)
{
	GENERAL_NAMES *gens;
	char subj[ECA_DN_MAX], *buf;
	size_t total = 0, len;
	int i, n = 0, r = 0, crit = -1;

	eca_certinfo_clear(info);
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
	/* crit >= 0: there is one, undecodable (or no memory to decode). */
	if (gens == NULL && crit >= 0)
		return eca_err_set(err, ECA_ERR_BAD_CERTIFICATE,
		    "the "
		    "subjectAltName extension of certificate %s cannot be read",
		    eca_x509_subject_str(x, subj, sizeof(subj)));
	if (gens == NULL)
		return 0;
	for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		if (san_name(gens, i, &len) == NULL)
			continue;
		total += len + (n > 0);
		if (++n > ECA_SAN_NAMES_MAX || total + 1 > ECA_SAN_MAX) {
			r = eca_err_set(err, ECA_ERR_BAD_CERTIFICATE,
			    "certificate %s has more subjectAltName DNS names "
			    "than eca accepts (at most %d names and %d "
			    "bytes): request a certificate with fewer names",
			    eca_x509_subject_str(x, subj, sizeof(subj)),
			    ECA_SAN_NAMES_MAX, ECA_SAN_MAX - 1);
			goto out;
		}
	}
	if (total < sizeof(info->san_inline))
		buf = info->san_inline;
	else if ((buf = malloc(total + 1)) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory for %zu bytes of subjectAltName DNS names",
		    total);
		goto out;
	} else
		info->san_heap = buf;
	san_join(gens, buf);
out:
	GENERAL_NAMES_free(gens);
	return r;
}

/*
 * The SHA-256 of the certificate (also into leaf_md) and of its public
 * key, in hex.
 */
static int
info_fingerprints(X509 *leaf, struct eca_certinfo *info,
    uint8_t leaf_md[ECA_VCACHE_KEY_LEN], struct eca_err *err)
{
	unsigned char md[EVP_MAX_MD_SIZE], *spki = NULL;
	unsigned int mdlen = 0;
	int len, r = 0;

	if (X509_digest(leaf, eca_util_sha256(), md, &mdlen) != 1 ||
	    mdlen != ECA_VCACHE_KEY_LEN) {
		r = eca_err_set(err, ECA_ERR_BAD_CERTIFICATE,
		    "cannot compute the certificate fingerprint");
		eca_err_add_openssl(err);
		goto out;
	}
	memcpy(leaf_md, md, ECA_VCACHE_KEY_LEN);
	eca_text_hex(md, mdlen, info->fingerprint, 0);
	if ((len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(leaf), &spki)) <= 0 ||
	    EVP_Digest(spki, (size_t)len, md, &mdlen, eca_util_sha256(),
		NULL) != 1 ||
	    mdlen != 32) {
		r = eca_err_set(err, ECA_ERR_BAD_CERTIFICATE,
		    "cannot compute the public key fingerprint");
		eca_err_add_openssl(err);
		goto out;
	}
	eca_text_hex(md, mdlen, info->spki_fingerprint, 0);
out:
	OPENSSL_free(spki);
	return r;
}

static int
info_serial(X509 *leaf, struct eca_certinfo *info, struct eca_err *err)
{
	BIGNUM *bn = NULL;
	char *hex = NULL;
	int r = 0;

	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), NULL)) ==
		NULL ||
	    (hex = BN_bn2hex(bn)) == NULL) {
		r = eca_err_set(err, ECA_ERR_BAD_CERTIFICATE,
		    "cannot read the certificate serial number");
		eca_err_add_openssl(err);
	} else if (strlen(hex) >= sizeof(info->serial))
		r = eca_err_set(err, ECA_ERR_BAD_CERTIFICATE,
		    "the certificate serial number is too long");
	else
		memcpy(info->serial, hex, strlen(hex) + 1);
	OPENSSL_free(hex);
	BN_free(bn);
	return r;
}

static int
info_key(X509 *leaf, struct eca_certinfo *info, struct eca_err *err)
{
	X509_ALGOR *alg = NULL;
	EVP_PKEY *pkey;
	int ptype = V_ASN1_UNDEF;

	if ((pkey = X509_get0_pubkey(leaf)) == NULL)
		return eca_err_set(err, ECA_ERR_BAD_CERTIFICATE,
		    "cannot read the certificate public key");
	(void)key_desc(pkey, info->key_desc, sizeof(info->key_desc));
	/*
	 * A curve named by its OID has a name unless OpenSSL ran out of
	 * memory fetching it: no "EC unknown curve" into the registry then.
	 */
	if (X509_PUBKEY_get0_param(NULL, NULL, NULL, &alg,
		X509_get_X509_PUBKEY(leaf)) == 1 &&
	    alg != NULL)
		X509_ALGOR_get0(NULL, &ptype, NULL, alg);
	if (ptype == V_ASN1_OBJECT &&
	    strcmp(info->key_desc, "EC unknown curve") == 0)
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory reading "
		    "the certificate's key");
	return 0;
}

/* eca_x509_info, with the certificate's SHA-256 also into leaf_md. */
static int
x509_info_md(X509 *leaf, struct eca_certinfo *info,
    uint8_t leaf_md[ECA_VCACHE_KEY_LEN], struct eca_err *err)
{
	int r;

	memset(info, 0, sizeof(*info));
	if (leaf == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL, "no certificate");
	if ((r = info_fingerprints(leaf, info, leaf_md, err)) != 0 ||
	    (r = eca_x509_name_rfc2253(X509_get_subject_name(leaf),
		 info->subject, sizeof(info->subject), err)) != 0 ||
	    (r = eca_x509_name_rfc2253(X509_get_issuer_name(leaf), info->issuer,
		 sizeof(info->issuer), err)) != 0 ||
	    (r = info_serial(leaf, info, err)) != 0)
		goto out;
	if (eca_x509_time(X509_get0_notBefore(leaf), &info->not_before) != 0 ||
	    eca_x509_time(X509_get0_notAfter(leaf), &info->not_after) != 0) {
		r = eca_err_set(err, ECA_ERR_BAD_CERTIFICATE,
		    "cannot read the certificate validity dates");
		goto out;
	}
	if ((r = info_key(leaf, info, err)) != 0)
		goto out;
	eca_text_fmt(info->sig_alg, sizeof(info->sig_alg), "%s",
	    OBJ_nid2ln(X509_get_signature_nid(leaf)) != NULL ?
		OBJ_nid2ln(X509_get_signature_nid(leaf)) :
		"unknown");
	if (x509_subject_cn(leaf, info->cn, sizeof(info->cn)) != 0) {
		r = eca_err_set(err, ECA_ERR_BAD_CERTIFICATE,
		    "the certificate commonName is unreadable or longer "
		    "than %d characters",
		    ECA_HOST_MAX - 1);
		goto out;
	}
	r = san_list(leaf, info, err);
out:
	ERR_clear_error();
	return r;
}

int
eca_x509_info(X509 *leaf, struct eca_certinfo *info, struct eca_err *err)
{
	uint8_t leaf_md[ECA_VCACHE_KEY_LEN];

	return x509_info_md(leaf, info, leaf_md, err);
}

/*
 * THE acceptance policy for a peer's certificate.
 */
int
eca_x509_check_peer(const struct eca_peer_policy *policy, X509 *leaf,
    STACK_OF(X509) *chain, const char *expected_host, struct eca_certinfo *info,
    struct eca_err *err)
{
	struct eca_certinfo local;
	uint8_t leaf_md[ECA_VCACHE_KEY_LEN], kbuf[ECA_VCACHE_KEY_LEN];
	const uint8_t *key = NULL;
	int r, crl;

	local.san_heap = NULL;
	if (policy == NULL || policy->trust == NULL || leaf == NULL) {
		r = eca_err_set(err, ECA_ERR_INTERNAL,
		    "no policy, trust store or certificate to check");
		goto out;
	}
	if (sk_X509_num(chain) >= ECA_CHAIN_MAX) {
		r = eca_err_set(err, ECA_ERR_BAD_CERTIFICATE,
		    "the peer sent more than %d certificates", ECA_CHAIN_MAX);
		goto out;
	}
	/* Details first, so that any refusal can name the fingerprint. */
	if ((r = x509_info_md(leaf, info != NULL ? info : &local, leaf_md,
		 err)) != 0)
		goto out;
	/*
	 * The chain's name, once, for the remembered verdicts of both; the
	 * leaf's digest is its fingerprint's, not computed twice.
	 */
	crl = policy->crl_check != ECA_CRL_DISABLE;
	if ((policy->vcache != NULL || crl) &&
	    eca_vcache_key_md(leaf_md, chain, kbuf) == 0)
		key = kbuf;
	if ((r = verify_peer_chain(policy, leaf, chain, key, err)) != 0)
		goto out;
	if (crl) {
		/* Checked, or refused: never skipped for want of CRLs. */
		if (policy->crls == NULL) {
			r = eca_err_set(err, ECA_ERR_CRL_UNAVAILABLE,
			    "revocation checking is on (ECA_CRL_CHECK) but "
			    "this program has no CRL cache open, so the "
			    "certificate cannot be checked");
			goto out;
		}
		if ((r = eca_crl_check_keyed(policy->crls, policy->trust, leaf,
			 chain, key, policy->crl_check, policy->now,
			 policy->nowait, NULL, err)) != 0)
			goto out;
	}
	if ((r = eca_x509_check_acceptable(leaf, chain, err)) != 0)
		goto out;
	/* DN: the subject names a host only through the mapping. */
	if (expected_host != NULL && policy->identity == ECA_ID_DN &&
	    (r = eca_x509_identity_dn(leaf, policy->dn_map, policy->dn_map_arg,
		 expected_host, err)) != 0)
		goto out;
	if (expected_host != NULL && policy->identity != ECA_ID_DN &&
	    (r = eca_x509_identity_matches(leaf, policy->identity,
		 expected_host, err)) != 0)
		goto out;
	r = 0;
out:
	eca_certinfo_clear(&local);
	ERR_clear_error();
	return r;
}
