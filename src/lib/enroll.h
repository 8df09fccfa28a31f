/* SPDX-License-Identifier: ISC */
/*
 * enroll.h - the enrollment policy, in one place.
 *
 * eca_enroll_decide() is the pure rule: given the record a host has (if
 * any) and the certificate it presents, what happens.  eca_registry_apply()
 * carries out a group of requests in one transaction (one savepoint each,
 * one durable commit for all): this is the group commit that keeps
 * throughput under load while every acknowledged change is on disk.
 */
#ifndef ECA_ENROLL_H
#define ECA_ENROLL_H

#include <stddef.h>
#include <stdint.h>

#include "certinfo.h"
#include "err.h"
#include "store.h"

enum eca_enroll_outcome {
	ECA_OUTCOME_NONE,
	ECA_OUTCOME_ENROLLED,  /* new enrollment (or again after removal) */
	ECA_OUTCOME_UNCHANGED, /* the enrolled certificate again */
	ECA_OUTCOME_RENEWED,   /* new certificate, same public key */
	ECA_OUTCOME_CONFLICT,  /* different key: waits for an administrator */
	ECA_OUTCOME_FORCED,    /* different key, force allowed by policy */
	ECA_OUTCOME_APPROVED,
	ECA_OUTCOME_REJECTED,
	ECA_OUTCOME_REMOVED,
	ECA_OUTCOME_BANNED,   /* administrator: the host may not enroll */
	ECA_OUTCOME_UNBANNED, /* administrator: ban lifted, record REMOVED */
	ECA_OUTCOME_REVOKED,  /* the enrolled certificate found revoked */
	ECA_OUTCOME_MAPPED,   /* administrator: a subject now names a host */
	ECA_OUTCOME_UNMAPPED, /* administrator: a host's mapping removed */
	ECA_OUTCOME_NAT,      /* the broker: the host is now a NAT host */
};
/* The last outcome, for tables indexed by outcome. */
#define ECA_OUTCOME_LAST ECA_OUTCOME_NAT

struct eca_enroll_req {
	char primary[ECA_HOST_MAX];
	char host[ECA_HOST_MAX];
	enum eca_role role;
	enum eca_method method;
	/*
	 * The certificate presented (TLS client cert).  In a queued op it
	 * is the op's own copy (eca_op_clear releases it).
	 */
	struct eca_certinfo cert;
	char source[ECA_SOURCE_MAX];
	int force;	 /* the host asked for forced re-enrollment */
	int allow_force; /* the primary's policy allows it */
	int nat;	 /* the host says it is a NAT host ("nat": true) */
	int64_t now;
};

/*
 * The rule.  existing is NULL when the host has no record; cands are the
 * n certificates waiting for it (eca_store_candidates; NULL, 0 when none).
 * Returns 0 with *outcome ENROLLED/UNCHANGED/RENEWED/FORCED, or an error
 * with *outcome set where one applies: ECA_ERR_CONFLICT (outcome CONFLICT:
 * the caller records the candidate, or only sees it again when it waits
 * already), ECA_ERR_TOO_MANY_CANDIDATES (ECA_CANDIDATES_MAX other
 * certificates wait: this one is not kept), ECA_ERR_FORCE_NOT_ALLOWED,
 * ECA_ERR_BANNED, ECA_ERR_REVOKED.  err gets a sentence with the remedy.
 */
int eca_enroll_decide(const struct eca_enrollment *existing,
    const struct eca_candidate *cands, size_t n,
    const struct eca_enroll_req *req, enum eca_enroll_outcome *outcome,
    struct eca_err *err) ECA_WUR;

/*
 * The revocation rule: which record a revoked certificate takes down.
 * ci is a certificate the primary found revoked by its CRL when a host
 * presented it.  It names hosts by its commonName and DNS names, or,
 * under ECA_IDENTITY = DN, only through the administrator's subject
 * mapping.  The first host it names whose record on primary is ENROLLED
 * or CONFLICT with ci as its enrolled certificate is the target: 0 with
 * its canonical name in host (size bytes), to be sent to the writer as
 * ECA_OP_REVOKE (which checks the record again inside its transaction).
 * Otherwise ECA_ERR_NOT_FOUND, no message: nothing is to change, or the
 * store could not say (the host's next request asks again).  Reads st
 * only.
 */
int eca_enroll_revoke_target(struct eca_store *st, const char *primary,
    const struct eca_certinfo *ci, enum eca_identity identity, char *host,
    size_t size) ECA_WUR;

/* The index of the candidate with fingerprint fp in cands, or -1. */
int eca_candidate_find(const struct eca_candidate *cands, size_t n,
    const char *fp);

enum eca_op_type {
	ECA_OP_ENROLL,
	ECA_OP_REMOVE,	/* by the host itself or an administrator */
	ECA_OP_APPROVE, /* administrator: the candidate becomes enrolled */
	ECA_OP_REJECT,	/* administrator: the candidate is dropped */
	/*
	 * Administrator: the host becomes BANNED (certificate and candidate
	 * kept for the record; a host without a record gets one with no
	 * certificate, so that it cannot enroll later).  Banning a banned
	 * host is outcome UNCHANGED and writes nothing.
	 */
	ECA_OP_BAN,
	/* Administrator: a BANNED host becomes REMOVED (must enroll again). */
	ECA_OP_UNBAN,
	/*
	 * The primary found req.cert (the certificate a host presented)
	 * revoked by its CRL.  If it is the host's enrolled certificate and
	 * the record is ENROLLED or CONFLICT, the record becomes REVOKED
	 * (candidate kept, so that an administrator can still approve or
	 * reject it), history REVOKE, outcome REVOKED.  Otherwise (no
	 * record, another certificate, already REVOKED, REMOVED or BANNED)
	 * nothing is written: status 0, outcome UNCHANGED.
	 */
	ECA_OP_REVOKE,
	/*
	 * Administrator, ECA_IDENTITY = DN: map.subject (normalized) names
	 * req.host.  A subject mapped to another host, or a host mapped to
	 * another subject, is MAPPING_EXISTS; the same mapping again is
	 * outcome UNCHANGED.  Outcome MAPPED, op->map the new row.
	 */
	ECA_OP_MAP_ADD,
	/* Administrator: req.host's mapping removed (NOT_FOUND if none). */
	ECA_OP_MAP_REMOVE,
	/*
	 * The primary's broker accepted req.host's session as a NAT host's
	 * with req.cert (the certificate it was judged by).  If that is the
	 * enrolled certificate of an ENROLLED or CONFLICT record without the
	 * NAT flag, the flag is set: history NAT, a new version (the roster
	 * carries it), outcome NAT.  Otherwise (no record, another
	 * certificate, another state, the flag set already) nothing is
	 * written: status 0, outcome UNCHANGED.
	 */
	ECA_OP_MARK_NAT,
};

struct eca_op {
	/* in */
	enum eca_op_type type;
	struct eca_enroll_req
	    req; /* ENROLL: all; others: primary, host, source, now */
	char actor[ECA_DN_MAX]; /* who asked (for the history) */
	/*
	 * REMOVE by the host itself: the fingerprint it presented, which must
	 * be the enrolled one.  Empty for an administrator.
	 * APPROVE, REJECT: the waiting candidate decided on (required: the
	 * administrator names the certificate they saw).
	 */
	char require_fingerprint[ECA_FP_HEX_LEN + 1];
	/* MAP_ADD: in, the subject; MAP_ADD/MAP_REMOVE: out, the row. */
	struct eca_dnmap map;
	/* out */
	int status; /* 0 or ECA_ERR_* */
	struct eca_err err;
	enum eca_enroll_outcome outcome;
	/*
	 * ENROLL answered UNCHANGED whose request (req.nat) set the record's
	 * NAT flag: a change all the same (history NAT, a new version), so
	 * the journal has a "nat" line for it.
	 */
	int nat_marked;
	/*
	 * The record after the op.  APPROVE, REJECT: req.cert is set to the
	 * candidate decided on, so that the journal names it.
	 */
	struct eca_enrollment rec;
};

/*
 * Apply ops in one transaction: BEGIN IMMEDIATE, each op inside its own
 * savepoint (a failing op leaves no trace and does not fail the others),
 * one COMMIT.  Returns 0 if the commit succeeded (each op's own status
 * says how it went), else the commit's error, in which case every op's
 * status is that error and nothing was written.
 */
int eca_registry_apply(struct eca_store *st, struct eca_op *ops, size_t n,
    struct eca_err *err) ECA_WUR;

/*
 * A step run by eca_registry_apply_hook after every op was applied (each
 * op's status, outcome and rec are final) and before the COMMIT.  Non-zero
 * (an ECA_ERR_* with err filled) rolls the whole transaction back: every
 * op then fails with that error and nothing was written.
 */
typedef int eca_registry_hook(struct eca_op *const *ops, size_t n, void *arg,
    struct eca_err *err);
/*
 * eca_registry_apply on the n ops that ops points to (each where its
 * request lives: nothing is copied), with hook (may be NULL) run before
 * the COMMIT.
 */
int eca_registry_apply_hook(struct eca_store *st, struct eca_op *const *ops,
    size_t n, eca_registry_hook *hook, void *arg, struct eca_err *err) ECA_WUR;

/*
 * Release what an op owns (its request's certificate, its record's):
 * before freeing it, or before filling it anew.  The op stays valid.
 */
void eca_op_clear(struct eca_op *op);

/* Random UUID v4 text (RAND_bytes). */
int eca_uuid_new(char out[ECA_HOST_ID_LEN + 1]) ECA_WUR;

const char *eca_outcome_name(enum eca_enroll_outcome o);

#endif
