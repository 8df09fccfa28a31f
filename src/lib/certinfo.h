/* SPDX-License-Identifier: ISC */
/*
 * certinfo.h - what eca records about a certificate, free of OpenSSL types
 * so the registry store and the wire format can use it.
 */
#ifndef ECA_CERTINFO_H
#define ECA_CERTINFO_H

#include <stdint.h>

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
 */
#define ECA_SAN_NAMES_MAX 1024
#define ECA_SAN_MAX (64 * 1024)

struct eca_certinfo {
	char fingerprint[ECA_FP_HEX_LEN + 1];	   /* SHA-256 of the DER leaf */
	char spki_fingerprint[ECA_FP_HEX_LEN + 1]; /* SHA-256 of the DER SPKI */
	char subject[ECA_DN_MAX];		   /* RFC 2253 one-line */
	char issuer[ECA_DN_MAX];
	char serial[132];   /* uppercase hex */
	int64_t not_before; /* unix seconds */
	int64_t not_after;
	char key_desc[32];     /* "RSA 2048", "EC P-256", "ED25519" */
	char sig_alg[64];      /* e.g. "sha256WithRSAEncryption" */
	char cn[ECA_HOST_MAX]; /* subject commonName, or "" */
	char san[ECA_SAN_MAX]; /* dNSNames, comma-separated */
};

#endif
