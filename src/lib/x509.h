/* SPDX-License-Identifier: ISC */
/*
 * x509.h - certificates, keys and trust stores (OpenSSL 3).
 *
 * Loading accepts what administrators have: ECA_CERT_PATH as PEM (one or
 * more certificates), DER (exactly one certificate, no trailing bytes) or
 * PKCS#7 (PEM or DER), leaf first then intermediates; keys as PEM or DER,
 * encrypted ones decrypted with the passphrase file; trust stores as a
 * bundle file or a hashed directory.
 *
 * The acceptance policy for a certificate presented by a peer lives in one
 * function, eca_x509_check_peer(); everything else here is a building block
 * of it or of the health check.
 *
 * Every function taking an OSSL_LIB_CTX accepts NULL for the default one.
 * Every function clears OpenSSL's error queue before it returns.
 */
#ifndef ECA_X509_H
#define ECA_X509_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "certinfo.h"
#include "config.h"
#include "err.h"

#define ECA_CERT_FILE_MAX (1024 * 1024) /* largest certificate/key file read */
#define ECA_CHAIN_MAX 10		/* most certificates in a chain */
#define ECA_PASSPHRASE_MAX 1024

/*
 * Parse a certificate chain from memory: leaf first, then intermediates.
 * On success *leaf and *chain (intermediates only, possibly empty) are the
 * caller's; on failure both are NULL.  ECA_ERR_PARSE for anything that is
 * not a complete PEM, DER or PKCS#7 encoding of 1..ECA_CHAIN_MAX certs.
 */
int eca_x509_parse_chain(OSSL_LIB_CTX *libctx, const unsigned char *buf,
    size_t len, X509 **leaf, STACK_OF(X509) **chain,
    struct eca_err *err) ECA_WUR;
/* The same from a file (ECA_ERR_UNREADABLE if it cannot be read). */
int eca_x509_load_chain(OSSL_LIB_CTX *libctx, const char *path, X509 **leaf,
    STACK_OF(X509) **chain, struct eca_err *err) ECA_WUR;

/*
 * Parse a private key (PEM or DER, possibly encrypted).  pass may be NULL.
 * ECA_ERR_PASSPHRASE if it is encrypted and pass is NULL or wrong.
 */
int eca_x509_parse_key(OSSL_LIB_CTX *libctx, const unsigned char *buf,
    size_t len, const char *pass, EVP_PKEY **out, struct eca_err *err) ECA_WUR;
/*
 * Load a private key file.  Refuses (ECA_ERR_FILE_PERMISSIONS) a key file
 * readable or writable by group or others, and likewise a passphrase file.
 * passfile may be NULL.  The passphrase and the file buffer are wiped.
 */
int eca_x509_load_key(OSSL_LIB_CTX *libctx, const char *path,
    const char *passfile, EVP_PKEY **out, struct eca_err *err) ECA_WUR;

/* A trust store from a bundle file or a hashed directory (c_rehash). */
int eca_x509_load_trust(OSSL_LIB_CTX *libctx, const char *path,
    X509_STORE **out, struct eca_err *err) ECA_WUR;
/*
 * ECA_TRUST_PARTIAL_CHAIN: with on set, every certificate of trust is a
 * trust anchor, self-signed or not (X509_V_FLAG_PARTIAL_CHAIN on the
 * store, so every verification with it inherits it: the policy, the TLS
 * client's own verification of the primary, CRL issuers).  0, or
 * ECA_ERR_INTERNAL.
 */
int eca_x509_trust_set_partial(X509_STORE *trust, int on,
    struct eca_err *err) ECA_WUR;

/* 0 if key is the private half of leaf's public key, else ECA_ERR_KEY_MISMATCH. */
int eca_x509_key_match(X509 *leaf, EVP_PKEY *key, struct eca_err *err) ECA_WUR;
/*
 * The same, for a chain read from path: when key is the key of one of the
 * intermediates instead, ECA_ERR_BAD_CERTIFICATE "the chain is in the
 * wrong order" (enrollment and the health check say the same).
 */
int eca_x509_key_match_chain(const char *path, X509 *leaf,
    STACK_OF(X509) *chain, EVP_PKEY *key, struct eca_err *err) ECA_WUR;

/* name's RFC 2253 one-line form into buf; ECA_ERR_BAD_CERTIFICATE if it
 * does not fit in size. */
int eca_x509_name_rfc2253(const X509_NAME *name, char *buf, size_t size,
    struct eca_err *err) ECA_WUR;

/*
 * ECA_IDENTITY = DN: the one string form of a distinguished name (dn.c).
 * in is an RFC 4514/2253 string ("CN=host1,O=Example,C=US": the last RDN
 * first, '+' joins a multi-valued RDN, backslash escapes and "quoted"
 * values accepted) or OpenSSL's one-line form ("/C=US/O=Example/CN=host1":
 * the first RDN first).  It is parsed into an X509_NAME and printed back
 * with eca_x509_name_rfc2253 (XN_FLAG_RFC2253), exactly as a certificate's
 * subject is, so the two compare with strcmp.  Attribute types are
 * case-insensitive (cn = CN) and spaces around them are dropped; values are
 * compared exactly; a leading '#' is text (no hex-encoded BER values).
 * The result is a fixed point.  ECA_ERR_PARSE with the reason for an empty
 * name, an unknown attribute type, a missing '=', a bad escape or a value
 * the attribute does not allow (e.g. C=USA).
 */
int eca_dn_normalize(const char *in, char *out, size_t size,
    struct eca_err *err) ECA_WUR;

/* x's subject for a message, in buf; never fails (a placeholder when
 * unprintable). */
const char *eca_x509_subject_str(X509 *x, char *buf, size_t size);

/*
 * The rest is the acceptance policy (x509_policy.c; the path policy and
 * the name constraint rule in x509_path.c).
 */

/* t as Unix time (UTC): 0, or -1 when t is NULL or unreadable. */
int eca_x509_time(const ASN1_TIME *t, int64_t *out);

/*
 * When every certificate of chain is valid: window[0] the latest
 * notBefore, window[1] the earliest notAfter.  -1 for an empty chain or an
 * unreadable date.
 */
int eca_x509_chain_window(STACK_OF(X509) *chain, int64_t window[2]);

/*
 * Verify leaf (with untrusted intermediates chain, may be NULL) against
 * trust at time now (0: the current time), for TLS client and server use.
 * Maps OpenSSL's verdict to ECA_ERR_UNTRUSTED, _EXPIRED, _NOT_YET_VALID,
 * _REVOKED or _BAD_CERTIFICATE, naming the failing certificate's subject.
 * Then the path policy on the path as built, trust anchor included: the
 * anchor is a CA (UNTRUSTED), every key strong enough (WEAK_KEY), every
 * signature but the anchor's own (WEAK_SIGNATURE), name constraints only
 * in CAs and well formed, every leaf dNSName a host name inside every
 * CA's DNS name constraints (BAD_CERTIFICATE; a wildcard dNSName is
 * IDENTITY_MISMATCH).
 */
int eca_x509_verify(OSSL_LIB_CTX *libctx, X509_STORE *trust, X509 *leaf,
    STACK_OF(X509) *chain, time_t now, struct eca_err *err) ECA_WUR;

/*
 * Key and signature policy for leaf and intermediates (chain may be NULL):
 * RSA >= 2048 bits, EC P-256/P-384, Ed25519 (else ECA_ERR_WEAK_KEY); no MD5
 * or SHA-1 signatures (ECA_ERR_WEAK_SIGNATURE); if the leaf has an extended
 * key usage it must allow both clientAuth and serverAuth, and a leaf must
 * not be a CA (ECA_ERR_BAD_KEY_USAGE).
 */
int eca_x509_check_acceptable(X509 *leaf, STACK_OF(X509) *chain,
    struct eca_err *err) ECA_WUR;
/*
 * The three parts of eca_x509_check_acceptable() for one certificate, so
 * the health check can report each: key type and size (ECA_ERR_WEAK_KEY),
 * signature digest (ECA_ERR_WEAK_SIGNATURE; a self-signed certificate's own
 * signature is not judged), and for a leaf not a CA, EKU with clientAuth
 * and serverAuth, keyUsage with digitalSignature (ECA_ERR_BAD_KEY_USAGE).
 */
int eca_x509_check_key_strength(X509 *x, struct eca_err *err) ECA_WUR;
int eca_x509_check_signature(X509 *x, struct eca_err *err) ECA_WUR;
int eca_x509_check_usage(X509 *leaf, struct eca_err *err) ECA_WUR;

/*
 * Does leaf name host under the identity rule?  SAN: host's canonical form
 * (hostname.h) equals that of one of the dNSNames; CN: that of the subject
 * commonName; a certificate name with no canonical form (a wildcard, a
 * trailing dot, '_') matches nothing.  DN: the RFC 2253 subject, exactly.
 * ECA_ERR_IDENTITY_MISMATCH otherwise.
 */
int eca_x509_identity_matches(X509 *leaf, enum eca_identity rule,
    const char *host, struct eca_err *err) ECA_WUR;

/*
 * Does the DNS name (a valid host name, nlen bytes) fall inside the
 * dNSName name constraint base (blen bytes)?  RFC 5280 4.2.1.10: base
 * itself and every name formed by adding labels on its left; a base with
 * a leading period (".example.com") is read as the web PKI does, its
 * subdomains only, not example.com itself; an empty base covers every
 * name.  Compared without regard to ASCII case.  1 inside, 0 outside, -1
 * base is not a host name (malformed constraint).
 */
int eca_x509_dns_in_subtree(const char *name, size_t nlen, const char *base,
    size_t blen);

/*
 * Fill info from leaf (fingerprints, names, validity, key, signature).
 * ECA_ERR_BAD_CERTIFICATE for more than ECA_SAN_NAMES_MAX dNSNames or
 * ECA_SAN_MAX - 1 bytes of them (certinfo.h).
 */
int eca_x509_info(X509 *leaf, struct eca_certinfo *info,
    struct eca_err *err) ECA_WUR;

struct eca_crl_cache;
struct eca_vcache;

/*
 * ECA_IDENTITY = DN: the host an administrator mapped subject (the
 * eca_dn_normalize form) to, into host (size bytes): 0, or
 * ECA_ERR_NOT_FOUND when it is mapped to none.
 */
typedef int eca_dn_map_fn(void *arg, const char *subject, char *host,
    size_t size);

/*
 * Does leaf name host under ECA_IDENTITY = DN: is its subject mapped to
 * host by map?  ECA_ERR_IDENTITY_MISMATCH with the remedy (`eca map add`)
 * when it is mapped to none (or map is NULL) or to another host.
 */
int eca_x509_identity_dn(X509 *leaf, eca_dn_map_fn *map, void *arg,
    const char *host, struct eca_err *err) ECA_WUR;

/*
 * THE acceptance policy for a certificate presented by a peer: chain and
 * validity with the path policy on the path as built (eca_x509_verify:
 * every key and signature of the path, trust anchor included, name
 * constraints, the leaf's DNS names), revocation (ECA_ERR_REVOKED,
 * ECA_ERR_CRL_UNAVAILABLE; see eca_crl_check), key/signature/usage policy
 * of the certificates as sent, then identity (skipped when expected_host
 * is NULL).  docs/hardening.md lists the rules in order.  Fills info (may be NULL) even when a check fails
 * after parsing, so a refusal can name the fingerprint.
 */
struct eca_peer_policy {
	OSSL_LIB_CTX *libctx;
	X509_STORE *trust;
	enum eca_identity identity;
	time_t now; /* 0: current time */
	/*
	 * Revocation (crl.h): the level (DISABLE, the zero value, skips
	 * it) and the shared CRL cache, borrowed.  A level other than
	 * DISABLE with no cache refuses every certificate (CRL_UNAVAILABLE):
	 * fail closed.
	 */
	struct eca_crl_cache *crls;
	enum eca_crl_check crl_check;
	/*
	 * Chains that verified against trust before (vcache.h), or NULL to
	 * verify every time.  Borrowed; made for this trust store.
	 */
	struct eca_vcache *vcache;
	/*
	 * ECA_IDENTITY = DN: the administrator's mapping (the registry on
	 * the primary, the shared primary's roster on a host).  NULL: no
	 * subject names any host, so every peer is refused.
	 */
	eca_dn_map_fn *dn_map;
	void *dn_map_arg;
	/*
	 * 1: a check that would wait for the network (a CRL due for a
	 * fetch) returns ECA_ERR_WOULD_WAIT instead, having fetched and
	 * claimed nothing (crl.h).  0: it waits.  A dn_map that may wait
	 * has its own switch (struct eca_dn_lookup's nowait) and answers
	 * ECA_ERR_WOULD_WAIT the same way.
	 */
	int nowait;
};
int eca_x509_check_peer(const struct eca_peer_policy *policy, X509 *leaf,
    STACK_OF(X509) *chain, const char *expected_host, struct eca_certinfo *info,
    struct eca_err *err) ECA_WUR;

/*
 * This host's credentials from its configuration: certificate chain, key
 * (permission-checked, decrypted) and trust store; the key must match.
 * Validity is not checked here (the health check and peers do that).
 */
struct eca_cred {
	X509 *leaf;
	STACK_OF(X509) *chain; /* intermediates, may be empty */
	EVP_PKEY *key;
	X509_STORE *trust;
};
int eca_cred_load(OSSL_LIB_CTX *libctx, const struct eca_config *cfg,
    struct eca_cred **out, struct eca_err *err) ECA_WUR;
void eca_cred_free(struct eca_cred *cred);

/*
 * cred's certificate, intermediates and key decoded again in libctx, with
 * cred's trust store shared (a reference): what a TLS context of libctx
 * needs to present this host, for a thread that has a library context of
 * its own (ecad's API workers).  Nothing is read from disk again, so
 * every copy is the credential that was loaded and checked.
 */
int eca_cred_copy(OSSL_LIB_CTX *libctx, const struct eca_cred *cred,
    struct eca_cred **out, struct eca_err *err) ECA_WUR;

#endif
