/* SPDX-License-Identifier: ISC */
/*
 * enroll_apply.c - the group commit: a batch of requests carried out
 * against the store in one transaction, one savepoint each, under the
 * rules of enroll.c (eca_registry_apply).  What each operation writes,
 * record and history, is here; what it may do is decided there.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enroll.h"
#include "enroll_impl.h"

/* The history entry of a change to rec about certificate ci. */
static void
history_from(struct eca_history_entry *h, const struct eca_enrollment *rec,
    const char *event, const struct eca_certinfo *ci, const struct eca_op *op)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->primary, sizeof(h->primary), "%s", rec->primary);
	snprintf(h->host, sizeof(h->host), "%s", rec->host);
	snprintf(h->host_id, sizeof(h->host_id), "%s", rec->host_id);
	snprintf(h->event, sizeof(h->event), "%s", event);
	h->state = rec->state;
	snprintf(h->fingerprint, sizeof(h->fingerprint), "%s", ci->fingerprint);
	snprintf(h->spki_fingerprint, sizeof(h->spki_fingerprint), "%s",
	    ci->spki_fingerprint);
	/* A host acting for itself is named by its host name. */
	snprintf(h->actor, sizeof(h->actor), "%s",
	    op->actor[0] != '\0' ? op->actor : rec->host);
	snprintf(h->source, sizeof(h->source), "%s", op->req.source);
	h->at = op->req.now;
}

/*
 * Write a changed record (new version, updated_at and last_seen now) and
 * its history entry about certificate ci.
 */
static int
write_change(struct eca_store *st, struct eca_op *op, const char *event,
    const struct eca_certinfo *ci)
{
	struct eca_history_entry h;
	int r;

	if ((r = eca_store_next_version(st, &op->rec.version, &op->err)) != 0)
		return r;
	op->rec.updated_at = op->req.now;
	op->rec.last_seen = op->req.now;
	if ((r = eca_store_put(st, &op->rec, &op->err)) != 0)
		return r;
	history_from(&h, &op->rec, event, ci, op);
	return eca_store_add_history(st, &h, &op->err);
}

static void
clear_summary(struct eca_enrollment *rec)
{
	rec->has_candidate = 0;
	eca_certinfo_clear(&rec->candidate);
	memset(&rec->candidate, 0, sizeof(rec->candidate));
	rec->candidate_at = 0;
	rec->candidate_source[0] = '\0';
}

/*
 * The record's summary: the newest of cands but skip (-1: none skipped).
 * 0 or ECA_ERR_NOMEM (in err).
 */
static int
set_summary(struct eca_enrollment *rec, const struct eca_candidate *cands,
    size_t n, int skip, struct eca_err *err)
{
	const struct eca_candidate *last = NULL;
	size_t i;

	clear_summary(rec);
	rec->ncandidates = 0;
	for (i = 0; i < n; i++) {
		if ((int)i == skip)
			continue;
		rec->ncandidates++;
		last = &cands[i];
	}
	if (last == NULL)
		return 0;
	rec->has_candidate = 1;
	rec->candidate_at = last->at;
	snprintf(rec->candidate_source, sizeof(rec->candidate_source), "%s",
	    last->source);
	return eca_certinfo_copy(&rec->candidate, &last->cert, err);
}

/* The certificate at dst (filled or zeroed) becomes a copy of src. */
static int
set_cert(struct eca_certinfo *dst, const struct eca_certinfo *src,
    struct eca_err *err)
{
	if (dst == src)
		return 0;
	eca_certinfo_clear(dst);
	return eca_certinfo_copy(dst, src, err);
}

/* Every waiting candidate dropped (enrolled anew, forced, removed, ...). */
static int
drop_candidates(struct eca_store *st, struct eca_op *op)
{
	clear_summary(&op->rec);
	op->rec.ncandidates = 0;
	return eca_store_candidate_del(st, op->rec.primary, op->rec.host, NULL,
	    &op->err);
}

/*
 * The record moves to state by an administrator's act or the CRL: the
 * op's outcome, and the change written with its history entry event.
 */
static int
change_state(struct eca_store *st, struct eca_op *op, enum eca_state state,
    enum eca_enroll_outcome outcome, const char *event)
{
	op->rec.state = state;
	op->outcome = outcome;
	return write_change(st, op, event, &op->rec.cert);
}

/* Fetch the record; *have says whether there is one. */
static int
fetch(struct eca_store *st, struct eca_op *op, int *have)
{
	int r;

	*have = 0;
	r = eca_store_get(st, op->req.primary, op->req.host, &op->rec,
	    &op->err);
	if (r == ECA_ERR_NOT_FOUND) {
		memset(&op->rec, 0, sizeof(op->rec));
		eca_err_clear(&op->err);
		return 0;
	}
	if (r == 0)
		*have = 1;
	return r;
}

/* The record's candidates, when it has any. */
static int
fetch_candidates(struct eca_store *st, struct eca_op *op,
    struct eca_candidate **cands, size_t *n)
{
	*cands = NULL;
	*n = 0;
	if (op->rec.ncandidates == 0)
		return 0;
	return eca_store_candidates(st, op->req.primary, op->req.host, cands, n,
	    &op->err);
}

/*
 * CONFLICT: persisted although the op fails.  The enrolled certificate
 * stays; the one presented waits beside the others.  A candidate that
 * waits already (a host retrying) is only a sighting, so retries cannot
 * flood the history.
 */
static int
add_candidate(struct eca_store *st, struct eca_op *op,
    const struct eca_candidate *cands, size_t n)
{
	struct eca_enrollment *rec = &op->rec;
	const struct eca_enroll_req *req = &op->req;
	struct eca_candidate c;
	int r;

	memset(&c, 0, sizeof(c));
	/* Borrowed for the write: c is not released. */
	memcpy(&c.cert, &req->cert, sizeof(c.cert));
	c.at = req->now;
	c.last_seen = req->now;
	snprintf(c.source, sizeof(c.source), "%s", req->source);
	if ((r = eca_store_candidate_put(st, req->primary, req->host, &c,
		 &op->err)) != 0)
		return r;
	if (eca_candidate_find(cands, n, req->cert.fingerprint) >= 0) {
		rec->last_seen = req->now;
		return eca_store_put(st, rec, &op->err);
	}
	rec->state = ECA_STATE_CONFLICT;
	rec->has_candidate = 1;
	if ((r = set_cert(&rec->candidate, &req->cert, &op->err)) != 0)
		return r;
	rec->candidate_at = req->now;
	snprintf(rec->candidate_source, sizeof(rec->candidate_source), "%s",
	    req->source);
	rec->ncandidates = (int)n + 1;
	return write_change(st, op, "CONFLICT", &rec->candidate);
}

/* A record for a host never seen: its names and a fresh host ID. */
static int
new_record(struct eca_op *op)
{
	struct eca_enrollment *rec = &op->rec;
	int r;

	memset(rec, 0, sizeof(*rec));
	snprintf(rec->primary, sizeof(rec->primary), "%s", op->req.primary);
	snprintf(rec->host, sizeof(rec->host), "%s", op->req.host);
	if ((r = eca_uuid_new(rec->host_id)) != 0)
		return eca_err_set(&op->err, r,
		    "cannot draw a random host ID: "
		    "the system's random generator failed");
	return 0;
}

/* The certificate presented becomes the enrolled one (0 or NOMEM). */
static int
take_cert(struct eca_enrollment *rec, const struct eca_enroll_req *req,
    struct eca_err *err)
{
	rec->role = req->role;
	rec->method = req->method;
	rec->nat = rec->nat || req->nat; /* kept: see store.h */
	rec->enrolled_at = req->now;
	snprintf(rec->source, sizeof(rec->source), "%s", req->source);
	return set_cert(&rec->cert, &req->cert, err);
}

/*
 * Carry out the rule's outcome for an enrollment request (have: a record
 * was found; cands, n: its waiting candidates; rd: the rule's status,
 * which a CONFLICT returns once the candidate is recorded).
 */
static int
carry_out(struct eca_store *st, struct eca_op *op, int have,
    const struct eca_candidate *cands, size_t n, int rd)
{
	struct eca_enrollment *rec = &op->rec;
	const struct eca_enroll_req *req = &op->req;
	int r;

	switch (op->outcome) {
	case ECA_OUTCOME_UNCHANGED:
		/* A host now a NAT host: the roster must carry it. */
		if (req->nat && !rec->nat) {
			rec->nat = 1;
			op->nat_marked = 1;
			return write_change(st, op, "NAT", &rec->cert);
		}
		/* Only the sighting changes: no new version, no history. */
		rec->last_seen = req->now;
		return eca_store_put(st, rec, &op->err);
	case ECA_OUTCOME_ENROLLED:
		/* Enrolled again after removal: host_id kept, NAT flag anew. */
		if (have)
			rec->nat = 0;
		if ((!have && (r = new_record(op)) != 0) ||
		    (r = take_cert(rec, req, &op->err)) != 0)
			return r;
		rec->state = ECA_STATE_ENROLLED;
		/* A REMOVED record lost its candidates; none may linger. */
		if (have && (r = drop_candidates(st, op)) != 0)
			return r;
		return write_change(st, op, "ENROLL", &rec->cert);
	case ECA_OUTCOME_RENEWED:
		/* Same key: a CONFLICT stays one, its candidates kept. */
		if ((r = take_cert(rec, req, &op->err)) != 0)
			return r;
		return write_change(st, op, "RENEW", &rec->cert);
	case ECA_OUTCOME_FORCED:
		if ((r = take_cert(rec, req, &op->err)) != 0)
			return r;
		rec->state = ECA_STATE_ENROLLED;
		if ((r = drop_candidates(st, op)) != 0)
			return r;
		return write_change(st, op, "FORCE", &rec->cert);
	case ECA_OUTCOME_CONFLICT:
		if ((r = add_candidate(st, op, cands, n)) != 0)
			return r;
		return rd;
	default:
		return eca_err_set(&op->err, ECA_ERR_INTERNAL,
		    "enrollment rule gave no outcome for host \"%.253s\"",
		    req->host);
	}
}

static int
apply_enroll(struct eca_store *st, struct eca_op *op)
{
	struct eca_candidate *cands = NULL;
	size_t n = 0;
	int r, rd, have;

	if ((r = fetch(st, op, &have)) != 0)
		return r;
	if (have && (r = fetch_candidates(st, op, &cands, &n)) != 0)
		return r;
	rd = eca_enroll_decide(have ? &op->rec : NULL, cands, n, &op->req,
	    &op->outcome, &op->err);
	/* A conflict is refused, yet its candidate is recorded. */
	if (rd != 0 && op->outcome != ECA_OUTCOME_CONFLICT)
		r = rd;
	else
		r = carry_out(st, op, have, cands, n, rd);
	eca_candidates_free(cands, n);
	return r;
}

static int
apply_remove(struct eca_store *st, struct eca_op *op)
{
	struct eca_enrollment *rec = &op->rec;
	int r, have;

	if ((r = fetch(st, op, &have)) != 0)
		return r;
	if (!have || rec->state == ECA_STATE_REMOVED)
		return eca_err_set(&op->err, ECA_ERR_NOT_ENROLLED,
		    "host \"%.253s\" is not enrolled with primary \"%.253s\"",
		    op->req.host, op->req.primary);
	/* Removing the record would lift the ban: unban is its own act. */
	if (rec->state == ECA_STATE_BANNED)
		return eca_err_set(&op->err, ECA_ERR_BANNED,
		    "host \"%.253s\" is banned; its enrollment cannot be "
		    "removed (an administrator must unban it first)",
		    op->req.host);
	if (op->require_fingerprint[0] != '\0' &&
	    strcmp(op->require_fingerprint, rec->cert.fingerprint) != 0)
		return eca_err_set(&op->err, ECA_ERR_FINGERPRINT_MISMATCH,
		    "the certificate presented is not the one enrolled for "
		    "host \"%.253s\" (remove it with the enrolled certificate, "
		    "or ask an administrator to run `eca remove HOST`)",
		    op->req.host);
	if ((r = drop_candidates(st, op)) != 0)
		return r;
	return change_state(st, op, ECA_STATE_REMOVED, ECA_OUTCOME_REMOVED,
	    "REMOVE");
}

/*
 * The state a CONFLICT record returns to when its candidate is rejected:
 * the state before the conflict began, read from the history (newest
 * first, past the CONFLICT entries).  A conflict on a REVOKED record
 * returns to REVOKED, so that rejecting the new certificate does not
 * bring the revoked one back; unless the enrolled certificate was renewed
 * meanwhile (a RENEW during the conflict), which is then the enrolled one.
 */
static int
state_before_conflict(struct eca_store *st, struct eca_op *op,
    enum eca_state *state)
{
	struct eca_history_entry *h = NULL;
	size_t n = 0, i;
	int r;

	*state = ECA_STATE_ENROLLED;
	if ((r = eca_store_history(st, op->req.primary, op->req.host, SIZE_MAX,
		 &h, &n, &op->err)) != 0)
		return r;
	for (i = n; i > 0; i--) {
		/*
		 * A renewal or an approval during the conflict made the
		 * enrolled certificate a good one.
		 */
		if (strcmp(h[i - 1].event, "RENEW") == 0 ||
		    strcmp(h[i - 1].event, "APPROVE") == 0)
			break;
		if (h[i - 1].state == ECA_STATE_CONFLICT)
			continue;
		if (h[i - 1].state == ECA_STATE_REVOKED)
			*state = ECA_STATE_REVOKED;
		break;
	}
	free(h);
	return 0;
}

/*
 * Approve or reject exactly the candidate the administrator names.  The
 * other candidates keep waiting: each one is a claim to the host's name
 * by a key the administrator has not judged, so none is dropped without
 * a decision of its own (and its own history and journal entry).  The
 * record stays CONFLICT while any waits.
 */
static int
apply_decision(struct eca_store *st, struct eca_op *op)
{
	struct eca_enrollment *rec = &op->rec;
	struct eca_candidate *cands = NULL;
	const struct eca_candidate *cand;
	enum eca_state back;
	size_t n = 0;
	int r, have, k;

	if ((r = fetch(st, op, &have)) != 0)
		return r;
	/* A REVOKED record may keep the candidates that waited before. */
	if (!have ||
	    (rec->state != ECA_STATE_CONFLICT &&
		rec->state != ECA_STATE_REVOKED) ||
	    rec->ncandidates == 0)
		return eca_err_set(&op->err, ECA_ERR_NOT_FOUND,
		    "no pending conflict for %.253s", op->req.host);
	if (op->require_fingerprint[0] == '\0')
		return eca_err_set(&op->err, ECA_ERR_FINGERPRINT_REQUIRED,
		    "%d certificate(s) wait for %.253s: name the one you "
		    "decide on with its fingerprint (see `eca show %.253s`)",
		    rec->ncandidates, op->req.host, op->req.host);
	if ((r = fetch_candidates(st, op, &cands, &n)) != 0)
		goto out;
	if ((k = eca_candidate_find(cands, n, op->require_fingerprint)) < 0) {
		r = eca_err_set(&op->err, ECA_ERR_NOT_FOUND,
		    "no certificate "
		    "with fingerprint %.64s waits for %.253s (see `eca show "
		    "%.253s`)",
		    op->require_fingerprint, op->req.host, op->req.host);
		goto out;
	}
	cand = &cands[k];
	if ((r = eca_store_candidate_del(st, op->req.primary, op->req.host,
		 cand->cert.fingerprint, &op->err)) != 0)
		goto out;
	/* The journal names it. */
	if ((r = set_summary(rec, cands, n, k, &op->err)) != 0 ||
	    (r = set_cert(&op->req.cert, &cand->cert, &op->err)) != 0)
		goto out;
	if (op->type == ECA_OP_APPROVE) {
		if ((r = set_cert(&rec->cert, &cand->cert, &op->err)) != 0)
			goto out;
		rec->method = ECA_METHOD_ADMIN;
		rec->enrolled_at = op->req.now;
		snprintf(rec->source, sizeof(rec->source), "%s", cand->source);
		rec->state = rec->ncandidates > 0 ? ECA_STATE_CONFLICT :
						    ECA_STATE_ENROLLED;
		op->outcome = ECA_OUTCOME_APPROVED;
		r = write_change(st, op, "APPROVE", &cand->cert);
		goto out;
	}
	if (rec->ncandidates == 0) {
		back = ECA_STATE_REVOKED;
		if (rec->state != ECA_STATE_REVOKED &&
		    (r = state_before_conflict(st, op, &back)) != 0)
			goto out;
		rec->state = back;
	}
	op->outcome = ECA_OUTCOME_REJECTED;
	r = write_change(st, op, "REJECT", &cand->cert);
out:
	eca_candidates_free(cands, n);
	return r;
}

/*
 * Ban: whatever the record was, it becomes BANNED with its certificate
 * and candidate kept for the record.  A host never seen gets a record of
 * its own (a host ID, no certificate), so that the ban holds when it
 * first tries to enroll.
 */
static int
apply_ban(struct eca_store *st, struct eca_op *op)
{
	struct eca_enrollment *rec = &op->rec;
	int r, have;

	if ((r = fetch(st, op, &have)) != 0)
		return r;
	if (have && rec->state == ECA_STATE_BANNED) {
		op->outcome = ECA_OUTCOME_UNCHANGED;
		return 0;
	}
	if (!have) {
		if ((r = new_record(op)) != 0)
			return r;
		rec->role = ECA_ROLE_CLIENT;
		rec->method = ECA_METHOD_ADMIN;
		rec->enrolled_at = op->req.now;
		snprintf(rec->source, sizeof(rec->source), "%s",
		    op->req.source);
	}
	return change_state(st, op, ECA_STATE_BANNED, ECA_OUTCOME_BANNED,
	    "BAN");
}

/*
 * Revoke: the enrolled certificate of an ENROLLED or CONFLICT record was
 * found revoked.  Anything else is no change: the caller may send this
 * for any revoked certificate it sees, and the writer decides here, in
 * the transaction, against the record as it is now.
 */
static int
apply_revoke(struct eca_store *st, struct eca_op *op)
{
	struct eca_enrollment *rec = &op->rec;
	int r, have;

	if ((r = fetch(st, op, &have)) != 0)
		return r;
	op->outcome = ECA_OUTCOME_UNCHANGED;
	if (!have || !eca_enroll_serves(rec, op->req.cert.fingerprint))
		return 0;
	return change_state(st, op, ECA_STATE_REVOKED, ECA_OUTCOME_REVOKED,
	    "REVOKE");
}

/*
 * Mark NAT: the broker saw the host's session judged with its enrolled
 * certificate.  Checked again here, against the record as it is now.
 */
static int
apply_mark_nat(struct eca_store *st, struct eca_op *op)
{
	struct eca_enrollment *rec = &op->rec;
	int r, have;

	if ((r = fetch(st, op, &have)) != 0)
		return r;
	op->outcome = ECA_OUTCOME_UNCHANGED;
	if (!have || rec->nat ||
	    !eca_enroll_serves(rec, op->req.cert.fingerprint))
		return 0;
	rec->nat = 1;
	op->outcome = ECA_OUTCOME_NAT;
	return write_change(st, op, "NAT", &rec->cert);
}

/* Unban: BANNED becomes REMOVED; the host must enroll again. */
static int
apply_unban(struct eca_store *st, struct eca_op *op)
{
	struct eca_enrollment *rec = &op->rec;
	int r, have;

	if ((r = fetch(st, op, &have)) != 0)
		return r;
	if (!have || rec->state != ECA_STATE_BANNED)
		return eca_err_set(&op->err, ECA_ERR_NOT_FOUND,
		    "host \"%.253s\" is not banned on primary \"%.253s\" "
		    "(see `eca list --state BANNED`)",
		    op->req.host, op->req.primary);
	if ((r = drop_candidates(st, op)) != 0)
		return r;
	return change_state(st, op, ECA_STATE_REMOVED, ECA_OUTCOME_UNBANNED,
	    "UNBAN");
}

/*
 * ECA_IDENTITY = DN: a subject names one host and a host has one
 * subject, so that a certificate can never stand for two hosts.
 */
static int
apply_map_add(struct eca_store *st, struct eca_op *op)
{
	struct eca_dnmap cur;
	int r;

	r = eca_store_dnmap_by_subject(st, op->req.primary, op->map.subject,
	    &cur, &op->err);
	if (r == 0 && strcmp(cur.host, op->req.host) == 0) {
		op->map = cur;
		op->outcome = ECA_OUTCOME_UNCHANGED;
		return 0;
	}
	if (r == 0)
		return eca_err_set(&op->err, ECA_ERR_MAPPING_EXISTS,
		    "subject \"%.300s\" is mapped to host %.253s already; a "
		    "subject names one host (remove that mapping first: `eca "
		    "map remove %.253s`)",
		    op->map.subject, cur.host, cur.host);
	if (r != ECA_ERR_NOT_FOUND)
		return r;
	r = eca_store_dnmap_by_host(st, op->req.primary, op->req.host, &cur,
	    &op->err);
	if (r == 0)
		return eca_err_set(&op->err, ECA_ERR_MAPPING_EXISTS,
		    "host %.253s is mapped to subject \"%.300s\" already "
		    "(remove that mapping first: `eca map remove %.253s`)",
		    op->req.host, cur.subject, op->req.host);
	if (r != ECA_ERR_NOT_FOUND)
		return r;
	eca_err_clear(&op->err);
	snprintf(op->map.host, sizeof(op->map.host), "%s", op->req.host);
	op->map.removed = 0;
	op->map.created_at = op->req.now;
	op->map.updated_at = op->req.now;
	snprintf(op->map.actor, sizeof(op->map.actor), "%s", op->actor);
	if ((r = eca_store_next_version(st, &op->map.version, &op->err)) != 0)
		return r;
	op->outcome = ECA_OUTCOME_MAPPED;
	return eca_store_dnmap_put(st, op->req.primary, &op->map, &op->err);
}

static int
apply_map_remove(struct eca_store *st, struct eca_op *op)
{
	int r;

	r = eca_store_dnmap_by_host(st, op->req.primary, op->req.host, &op->map,
	    &op->err);
	if (r == ECA_ERR_NOT_FOUND)
		return eca_err_set(&op->err, ECA_ERR_NOT_FOUND,
		    "host %.253s "
		    "has no subject mapping on primary %.253s (see `eca map "
		    "list`)",
		    op->req.host, op->req.primary);
	if (r != 0)
		return r;
	op->map.removed = 1;
	op->map.updated_at = op->req.now;
	snprintf(op->map.actor, sizeof(op->map.actor), "%s", op->actor);
	if ((r = eca_store_next_version(st, &op->map.version, &op->err)) != 0)
		return r;
	op->outcome = ECA_OUTCOME_UNMAPPED;
	return eca_store_dnmap_put(st, op->req.primary, &op->map, &op->err);
}

static int
apply_one(struct eca_store *st, struct eca_op *op)
{
	switch (op->type) {
	case ECA_OP_ENROLL:
		return apply_enroll(st, op);
	case ECA_OP_REMOVE:
		return apply_remove(st, op);
	case ECA_OP_APPROVE:
	case ECA_OP_REJECT:
		return apply_decision(st, op);
	case ECA_OP_BAN:
		return apply_ban(st, op);
	case ECA_OP_UNBAN:
		return apply_unban(st, op);
	case ECA_OP_REVOKE:
		return apply_revoke(st, op);
	case ECA_OP_MAP_ADD:
		return apply_map_add(st, op);
	case ECA_OP_MAP_REMOVE:
		return apply_map_remove(st, op);
	case ECA_OP_MARK_NAT:
		return apply_mark_nat(st, op);
	default:
		return eca_err_set(&op->err, ECA_ERR_INTERNAL,
		    "unknown registry operation %d", (int)op->type);
	}
}

/*
 * ROLLBACK TO + RELEASE: the op leaves no trace.  A failure here is not
 * reported on its own: the transaction is then broken and COMMIT says so.
 */
static void
undo_op(struct eca_store *st)
{
	eca_store_rollback_to(st);
	if (eca_store_release(st, NULL) != 0)
		return;
}

/* Every op shares the fate of the transaction as a whole. */
static void
fail_all(struct eca_op *const *ops, size_t n, int code,
    const struct eca_err *err)
{
	size_t i;

	for (i = 0; i < n; i++) {
		ops[i]->status = code;
		ops[i]->outcome = ECA_OUTCOME_NONE;
		ops[i]->nat_marked = 0;
		if (err != NULL)
			ops[i]->err = *err;
		else
			eca_err_set(&ops[i]->err, code, "%s",
			    eca_err_desc(code));
	}
}

int
eca_registry_apply(struct eca_store *st, struct eca_op *ops, size_t n,
    struct eca_err *err)
{
	struct eca_op **p;
	size_t i;
	int r;

	if (n == 0)
		return 0;
	if ((p = calloc(n, sizeof(*p))) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory for a group of %zu registry changes; "
		    "nothing was written",
		    n);
		for (i = 0; i < n; i++) {
			ops[i].status = r;
			ops[i].outcome = ECA_OUTCOME_NONE;
			eca_err_set(&ops[i].err, r, "%s",
			    err != NULL ? err->msg : "out of memory");
		}
		return r;
	}
	for (i = 0; i < n; i++)
		p[i] = &ops[i];
	r = eca_registry_apply_hook(st, p, n, NULL, NULL, err);
	free(p);
	return r;
}

int
eca_registry_apply_hook(struct eca_store *st, struct eca_op *const *ops,
    size_t n, eca_registry_hook *hook, void *arg, struct eca_err *err)
{
	struct eca_err e;
	struct eca_op *op;
	size_t i;
	int r, keep;

	eca_err_clear(&e);
	for (i = 0; i < n; i++) {
		op = ops[i];
		op->status = 0;
		op->outcome = ECA_OUTCOME_NONE;
		op->nat_marked = 0;
		eca_err_clear(&op->err);
		eca_enrollment_clear(&op->rec);
		memset(&op->rec, 0, sizeof(op->rec));
		if (op->type != ECA_OP_MAP_ADD)
			memset(&op->map, 0, sizeof(op->map));
	}
	if (n == 0)
		return 0;
	if ((r = eca_store_begin(st, &e)) != 0)
		goto fail;
	for (i = 0; i < n; i++) {
		op = ops[i];
		if ((r = eca_store_savepoint(st, &op->err)) != 0) {
			op->status = r;
			continue;
		}
		op->status = apply_one(st, op);
		/* A conflict is refused to the host, yet recorded. */
		keep = op->status == 0 ||
		    (op->status == ECA_ERR_CONFLICT &&
			op->outcome == ECA_OUTCOME_CONFLICT);
		if (keep && (r = eca_store_release(st, &op->err)) != 0) {
			op->status = r;
			keep = 0;
		}
		if (!keep) {
			undo_op(st);
			op->outcome = ECA_OUTCOME_NONE;
			op->nat_marked = 0;
		}
	}
	/* E.g. the audit journal: written and synced before the commit. */
	if (hook != NULL && (r = hook(ops, n, arg, &e)) != 0) {
		eca_store_rollback(st);
		goto fail;
	}
	if ((r = eca_store_commit(st, &e)) != 0) {
		eca_store_rollback(st);
		goto fail;
	}
	return 0;
fail:
	fail_all(ops, n, r, &e);
	if (err != NULL)
		*err = e;
	return r;
}

void
eca_op_clear(struct eca_op *op)
{
	if (op == NULL)
		return;
	eca_certinfo_clear(&op->req.cert);
	eca_enrollment_clear(&op->rec);
}
