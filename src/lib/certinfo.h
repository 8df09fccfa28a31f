/* SPDX-License-Identifier: ISC */
/*
 * certinfo.h - what eca records about a certificate, free of OpenSSL types
 * so the registry store and the wire format can use it.
 */
#ifndef ECA_CERTINFO_H
#define ECA_CERTINFO_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define ECA_FP_HEX_LEN 64 /* SHA-256, lowercase hex */
#define ECA_DN_MAX 1024
#define ECA_HOST_MAX 256
/*
 * The subjectAltName dNSNames of a certificate, kept whole: at most
 * ECA_SAN_NAMES_MAX names and ECA_SAN_MAX - 1 bytes of comma-separated
 * text (enterprise and load-balancer certificates carry hundreds of
 * names).  A certificate beyond either bound is refused
 * (BAD_CERTIFICATE), never stored truncated.  The TLS certificate message
 * is itself capped at 64 KiB (ECAD_CERT_LIST_MAX), so a peer cannot send
 * more anyway.
 *
 * The text lives in san_inline when it fits (nearly every certificate),
 * else in san_heap, owned by the struct: read it with eca_certinfo_san,
 * set it with eca_certinfo_set_san, copy a certinfo (or a struct holding
 * one) only with eca_certinfo_copy, and release it with
 * eca_certinfo_clear.  A plain struct assignment would share san_heap.
 * Functions that fill a certinfo (eca_x509_info, the store, the wire
 * decoder) treat it as uninitialized: clear it before filling it again.
 */
#define ECA_SAN_NAMES_MAX 1024
#define ECA_SAN_MAX (64 * 1024)
#define ECA_SAN_INLINE 256

struct eca_certinfo {
	char fingerprint[ECA_FP_HEX_LEN + 1];	   /* SHA-256 of the DER leaf */
	char spki_fingerprint[ECA_FP_HEX_LEN + 1]; /* SHA-256 of the DER SPKI */
	char subject[ECA_DN_MAX];		   /* RFC 2253 one-line */
	char issuer[ECA_DN_MAX];
	char serial[132];   /* uppercase hex */
	int64_t not_before; /* unix seconds */
	int64_t not_after;
	char key_desc[32];		 /* "RSA 2048", "EC P-256", "ED25519" */
	char sig_alg[64];		 /* e.g. "sha256WithRSAEncryption" */
	char cn[ECA_HOST_MAX];		 /* subject commonName, or "" */
	char san_inline[ECA_SAN_INLINE]; /* dNSNames when they fit, else "" */
	char *san_heap; /* owned: dNSNames when longer, else NULL */
};

/* The dNSNames, comma-separated ("" when none); never NULL. */
const char *eca_certinfo_san(const struct eca_certinfo *ci);
/*
 * Set the dNSNames to the len bytes at s (no NUL among them), releasing
 * the previous text: ci must be zeroed or filled.  ECA_ERR_BAD_CERTIFICATE
 * beyond ECA_SAN_MAX - 1 bytes, ECA_ERR_NOMEM; on error the text is "".
 */
int eca_certinfo_set_san(struct eca_certinfo *ci, const char *s, size_t len,
    struct eca_err *err) ECA_WUR;
/*
 * *dst = *src with its own copy of the text; dst is treated as
 * uninitialized.  ECA_ERR_NOMEM (dst's text is then "").
 */
int eca_certinfo_copy(struct eca_certinfo *dst, const struct eca_certinfo *src,
    struct eca_err *err) ECA_WUR;
/*
 * *dst = *src as a summary that owns nothing: a list of dNSNames too long
 * for san_inline is not carried (dst's text is "").  For what names a
 * certificate by fingerprint and subject only (a verdict, a channel's
 * steps), never for what is stored or matched by name.
 */
void eca_certinfo_summary(struct eca_certinfo *dst,
    const struct eca_certinfo *src);
/* Release the text; ci stays valid (text ""). NULL is fine. */
void eca_certinfo_clear(struct eca_certinfo *ci);

#endif
