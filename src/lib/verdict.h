/* SPDX-License-Identifier: ISC */
/*
 * verdict.h - one verdict with a reason, for a peer host's certificate.
 *
 * eca_verdict_peer() is THE decision on whether a peer may talk to this
 * host: chain and validity (and revocation, through the peer policy),
 * identity equals the expected host name, then the peer's enrollment in
 * the roster of the primary both hosts share.  It is pure: the caller
 * looks the peer up in the roster and passes what it found.  Both ends
 * of a channel reach it through eca_judge_peer (judge.h), which does the
 * looking up, refreshing and enrolling around it.
 */
#ifndef ECA_VERDICT_H
#define ECA_VERDICT_H

#include <openssl/x509.h>

#include "certinfo.h"
#include "err.h"
#include "purpose.h"
#include "roster.h"
#include "x509.h"

/*
 * The certificate part of the verdict (eca_x509_check_peer), kept so that
 * a caller that needs it before the roster lookup (eca_judge_peer: a
 * stranger must not make a host enroll or sync) does not run it twice.
 */
struct eca_cert_check {
	int code;		  /* 0: trusted, valid, the host's */
	struct eca_err err;	  /* why not */
	struct eca_certinfo info; /* filled as far as parsing got (owned) */
};

struct eca_verdict_input {
	const struct eca_peer_policy *policy; /* trust, identity, CRLs */
	X509 *leaf;			      /* NULL: no certificate */
	STACK_OF(X509) *chain;
	const char *expected_host; /* the host the peer claims */
	const char *primary;	   /* the shared primary */
	/* The peer's roster entry, NULL if it has none. */
	const struct eca_roster_entry *entry;
	/* 0, or ECA_ERR_ROSTER_STALE with the roster's error in roster_err. */
	int roster_status;
	const char *roster_err;
	/*
	 * Would this communication enroll the peer automatically?  Only
	 * changes the remedy of NOT_ENROLLED: "run `eca enroll` on HOST
	 * (manual enrollment is required for PURPOSE)" or "retry".
	 */
	int autoenroll_allowed;
	const char *no_autoenroll_why;
	/*
	 * Either host is a NAT host (docs/nat.md): a NOT_ENROLLED refusal
	 * says that such a communication never enrolls automatically.
	 */
	int nat;
	enum eca_purpose purpose;
	/*
	 * NULL: the verdict checks the certificate itself.  Else the result
	 * of eca_verdict_check_cert() on this same input.
	 */
	const struct eca_cert_check *cert;
	/*
	 * ECA_IDENTITY = DN: the shared primary's subject -> host mapping
	 * (eca_domain_dn_map); used in place of the policy's own.
	 */
	eca_dn_map_fn *dn_map;
	void *dn_map_arg;
};

struct eca_verdict {
	int code; /* 0 accept, else the reason (ECA_ERR_*) */
	char message[ECA_ERR_MSG_MAX]; /* what, about whom, and the remedy */
	/* Filled as far as parsing got; a summary (eca_certinfo_summary). */
	struct eca_certinfo peer;
};

/*
 * Reasons, in the order they are checked: NO_CLIENT_CERT; the peer
 * policy's (UNTRUSTED, EXPIRED, NOT_YET_VALID, REVOKED, CRL_UNAVAILABLE,
 * WEAK_KEY, WEAK_SIGNATURE, BAD_KEY_USAGE, IDENTITY_MISMATCH);
 * ROSTER_STALE; NOT_ENROLLED (no entry, or REMOVED); BANNED; REVOKED;
 * then the fingerprint: presented == enrolled → accept (also in CONFLICT:
 * the enrolled certificate stays valid while a candidate waits); else
 * CONFLICT if the record is in CONFLICT, FINGERPRINT_MISMATCH otherwise.
 * Returns out->code.
 */
int eca_verdict_peer(const struct eca_verdict_input *in,
    struct eca_verdict *out) ECA_WUR;

/*
 * The certificate checks of the verdict alone (policy, leaf, chain and
 * expected_host of in), for in->cert.  Returns out->code; a missing leaf
 * is NO_CLIENT_CERT.
 */
int eca_verdict_check_cert(const struct eca_verdict_input *in,
    struct eca_cert_check *out);

#endif
