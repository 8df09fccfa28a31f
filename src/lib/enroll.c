/* SPDX-License-Identifier: ISC */
/*
 * enroll.c - the enrollment policy: the rule (eca_enroll_decide), which
 * record a revoked certificate takes down (eca_enroll_revoke_target), and
 * the names they answer with.  enroll_apply.c carries a group of requests
 * out against the store under these rules (eca_registry_apply).  The
 * state machine is described in docs/registry.md.
 */
#include "enroll.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "enroll_impl.h"
#include "hostname.h"
#include "util.h"

#define REMEDY_CONFLICT                                                        \
	"an administrator must check it with `eca show HOST` and run "         \
	"`eca approve HOST --fingerprint FP` or `eca reject HOST "             \
	"--fingerprint FP` on the primary"

static const char *const outcome_names[] = {
    [ECA_OUTCOME_NONE] = "NONE",
    [ECA_OUTCOME_ENROLLED] = "ENROLLED",
    [ECA_OUTCOME_UNCHANGED] = "UNCHANGED",
    [ECA_OUTCOME_RENEWED] = "RENEWED",
    [ECA_OUTCOME_CONFLICT] = "CONFLICT",
    [ECA_OUTCOME_FORCED] = "FORCED",
    [ECA_OUTCOME_APPROVED] = "APPROVED",
    [ECA_OUTCOME_REJECTED] = "REJECTED",
    [ECA_OUTCOME_REMOVED] = "REMOVED",
    [ECA_OUTCOME_BANNED] = "BANNED",
    [ECA_OUTCOME_UNBANNED] = "UNBANNED",
    [ECA_OUTCOME_REVOKED] = "REVOKED",
    [ECA_OUTCOME_MAPPED] = "MAPPED",
    [ECA_OUTCOME_UNMAPPED] = "UNMAPPED",
    [ECA_OUTCOME_NAT] = "NAT",
};

const char *
eca_outcome_name(enum eca_enroll_outcome o)
{
	if ((unsigned)o >= sizeof(outcome_names) / sizeof(outcome_names[0]))
		return "UNKNOWN";
	return outcome_names[o];
}

int
eca_uuid_new(char out[ECA_HOST_ID_LEN + 1])
{
	/* Where each byte's two hex digits go: the dashes stay put. */
	static const unsigned char at[16] = {0, 2, 4, 6, 9, 11, 14, 16, 19, 21,
	    24, 26, 28, 30, 32, 34};
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	size_t i;

	out[0] = '\0';
	if (eca_util_id_random(b, sizeof(b)) != 0)
		return ECA_ERR_INTERNAL;
	b[6] = (b[6] & 0x0f) | 0x40; /* version 4 */
	b[8] = (b[8] & 0x3f) | 0x80; /* RFC 4122 variant */
	memcpy(out, "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
	    ECA_HOST_ID_LEN + 1);
	for (i = 0; i < sizeof(b); i++) {
		out[at[i]] = hex[b[i] >> 4];
		out[at[i] + 1] = hex[b[i] & 0x0f];
	}
	return 0;
}

static int
same_leaf(const struct eca_certinfo *a, const struct eca_certinfo *b)
{
	return strcmp(a->fingerprint, b->fingerprint) == 0;
}

static int
same_key(const struct eca_certinfo *a, const struct eca_certinfo *b)
{
	return strcmp(a->spki_fingerprint, b->spki_fingerprint) == 0;
}

int
eca_candidate_find(const struct eca_candidate *cands, size_t n, const char *fp)
{
	size_t i;

	for (i = 0; cands != NULL && fp != NULL && i < n; i++)
		if (strcmp(cands[i].cert.fingerprint, fp) == 0)
			return (int)i;
	return -1;
}

/*
 * A certificate other than the enrolled one waits for an administrator:
 * one already waiting is only seen again; a new one is kept unless
 * ECA_CANDIDATES_MAX others wait already (never replaced silently, so the
 * administrator approves exactly the certificate they saw).
 */
static int
decide_candidate(const struct eca_candidate *cands, size_t n,
    const struct eca_enroll_req *req, const char *why,
    enum eca_enroll_outcome *outcome, struct eca_err *err)
{
	if (eca_candidate_find(cands, n, req->cert.fingerprint) < 0 &&
	    n >= ECA_CANDIDATES_MAX)
		return eca_err_set(err, ECA_ERR_TOO_MANY_CANDIDATES,
		    "host \"%.253s\" presented certificate %.64s, but %zu "
		    "other certificates wait for a decision already; it is "
		    "not kept (an administrator must settle them first: "
		    "`eca show %.253s`, then `eca reject %.253s --fingerprint "
		    "FP` for each one not wanted)",
		    req->host, req->cert.fingerprint, n, req->host, req->host);
	*outcome = ECA_OUTCOME_CONFLICT;
	return eca_err_set(err, ECA_ERR_CONFLICT,
	    "host \"%.253s\" %s; "
	    "certificate %.64s waits as a conflict (%s)",
	    req->host, why, req->cert.fingerprint, REMEDY_CONFLICT);
}

/*
 * A different key for an enrolled host: force if asked and allowed,
 * refuse if asked and not allowed, else a conflict for an administrator.
 */
static int
decide_new_key(const struct eca_enrollment *ex,
    const struct eca_candidate *cands, size_t n,
    const struct eca_enroll_req *req, enum eca_enroll_outcome *outcome,
    struct eca_err *err)
{
	if (req->force && req->allow_force) {
		*outcome = ECA_OUTCOME_FORCED;
		return 0;
	}
	if (req->force)
		return eca_err_set(err, ECA_ERR_FORCE_NOT_ALLOWED,
		    "host \"%.253s\" asked for forced re-enrollment with a new "
		    "key, which primary \"%.253s\" does not allow (ask an "
		    "administrator to approve, or set "
		    "ECA_ALLOW_FORCED_REENROLLMENT = YES on the primary)",
		    req->host, ex->primary);
	return decide_candidate(cands, n, req,
	    "presented a certificate "
	    "with a different key than the enrolled one",
	    outcome, err);
}

int
eca_enroll_decide(const struct eca_enrollment *ex,
    const struct eca_candidate *cands, size_t n,
    const struct eca_enroll_req *req, enum eca_enroll_outcome *outcome,
    struct eca_err *err)
{
	*outcome = ECA_OUTCOME_NONE;
	eca_err_clear(err);
	if (req->cert.fingerprint[0] == '\0' ||
	    req->cert.spki_fingerprint[0] == '\0')
		return eca_err_set(err, ECA_ERR_BAD_REQUEST,
		    "the enrollment request carries no certificate "
		    "fingerprint (present a client certificate)");
	if (ex == NULL || ex->state == ECA_STATE_REMOVED) {
		*outcome = ECA_OUTCOME_ENROLLED;
		return 0;
	}
	switch (ex->state) {
	case ECA_STATE_ENROLLED:
		if (same_leaf(&ex->cert, &req->cert)) {
			*outcome = ECA_OUTCOME_UNCHANGED;
			return 0;
		}
		if (same_key(&ex->cert, &req->cert)) {
			*outcome = ECA_OUTCOME_RENEWED;
			return 0;
		}
		return decide_new_key(ex, cands, n, req, outcome, err);
	case ECA_STATE_CONFLICT:
		/*
		 * The enrolled certificate stays valid while a candidate
		 * waits: the host using it (or a renewal of its key) is
		 * served; anything else waits beside the other candidates.
		 */
		if (same_leaf(&ex->cert, &req->cert)) {
			*outcome = ECA_OUTCOME_UNCHANGED;
			return 0;
		}
		if (same_key(&ex->cert, &req->cert)) {
			*outcome = ECA_OUTCOME_RENEWED;
			return 0;
		}
		return decide_new_key(ex, cands, n, req, outcome, err);
	case ECA_STATE_BANNED:
		return eca_err_set(err, ECA_ERR_BANNED,
		    "host \"%.253s\" is banned on primary \"%.253s\" and "
		    "may not enroll (ask an administrator (eca unban %.253s))",
		    req->host, ex->primary, req->host);
	case ECA_STATE_REVOKED:
		if (same_leaf(&ex->cert, &req->cert))
			return eca_err_set(err, ECA_ERR_REVOKED,
			    "the enrolled certificate of host \"%.253s\" was "
			    "revoked (install a new certificate and enroll "
			    "it)",
			    req->host);
		return decide_candidate(cands, n, req,
		    "had its certificate "
		    "revoked",
		    outcome, err);
	default:
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "host \"%.253s\" has a record in an unknown state",
		    req->host);
	}
}

/* ------------------------------------------------------------------ */
/* The revocation rule.                                                */

int
eca_enroll_serves(const struct eca_enrollment *rec, const char *fp)
{
	return (rec->state == ECA_STATE_ENROLLED ||
		   rec->state == ECA_STATE_CONFLICT) &&
	    fp != NULL && fp[0] != '\0' &&
	    strcmp(rec->cert.fingerprint, fp) == 0;
}

/*
 * Does the name at p (len bytes) name a record of primary that ci takes
 * down?  1 with its canonical name in host, else 0.
 */
static int
revoke_names(struct eca_store *st, const char *primary,
    const struct eca_certinfo *ci, const char *p, size_t len, char *host,
    size_t size)
{
	struct eca_enrollment rec;
	char name[ECA_HOST_MAX];
	int hit;

	/* Longer than a host name: no record has it. */
	if (len >= sizeof(name))
		return 0;
	memcpy(name, p, len);
	name[len] = '\0';
	/*
	 * The registry holds canonical names only; a name that has none (a
	 * CN that is not a host name) names no record.
	 */
	if (eca_hostname_canon(name, host, size, NULL) != 0 ||
	    eca_store_get(st, primary, host, &rec, NULL) != 0)
		return 0;
	hit = eca_enroll_serves(&rec, ci->fingerprint);
	eca_enrollment_clear(&rec);
	return hit;
}

int
eca_enroll_revoke_target(struct eca_store *st, const char *primary,
    const struct eca_certinfo *ci, enum eca_identity identity, char *host,
    size_t size)
{
	struct eca_dnmap m;
	const char *p, *e;

	if (st == NULL || primary == NULL || ci == NULL || host == NULL ||
	    size == 0 || ci->fingerprint[0] == '\0')
		return ECA_ERR_NOT_FOUND;
	/* DN: the subject names a host only through the mapping. */
	if (identity == ECA_ID_DN) {
		if (eca_store_dnmap_by_subject(st, primary, ci->subject, &m,
			NULL) == 0 &&
		    revoke_names(st, primary, ci, m.host, strlen(m.host), host,
			size))
			return 0;
	} else {
		if (revoke_names(st, primary, ci, ci->cn, strlen(ci->cn), host,
			size))
			return 0;
		for (p = eca_certinfo_san(ci); *p != '\0';
		     p = e + (*e == ',')) {
			e = p + strcspn(p, ",");
			if (revoke_names(st, primary, ci, p, (size_t)(e - p),
				host, size))
				return 0;
		}
	}
	host[0] = '\0';
	return ECA_ERR_NOT_FOUND;
}
