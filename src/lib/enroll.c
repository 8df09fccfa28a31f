/*
 * enroll.c - the enrollment policy: the rule (eca_enroll_decide) and the
 * group commit that carries a batch of requests out against the store
 * (eca_registry_apply).  The state machine is described in
 * docs/registry.md.
 */
#include "enroll.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/rand.h>

#define REMEDY_CONFLICT \
	"an administrator must run `eca approve HOST` or `eca reject HOST` " \
	"on the primary"

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
	unsigned char b[16];

	out[0] = '\0';
	if (RAND_bytes(b, sizeof(b)) != 1) {
		ERR_clear_error();
		return ECA_ERR_INTERNAL;
	}
	b[6] = (b[6] & 0x0f) | 0x40;	/* version 4 */
	b[8] = (b[8] & 0x3f) | 0x80;	/* RFC 4122 variant */
	snprintf(out, ECA_HOST_ID_LEN + 1,
	    "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x",
	    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
	    b[10], b[11], b[12], b[13], b[14], b[15]);
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

/*
 * A different key for an enrolled host: force if asked and allowed,
 * refuse if asked and not allowed, else a conflict for an administrator.
 */
static int
decide_new_key(const struct eca_enrollment *ex,
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
	*outcome = ECA_OUTCOME_CONFLICT;
	return eca_err_set(err, ECA_ERR_CONFLICT,
	    "host \"%.253s\" presented a certificate with a different key "
	    "than the enrolled one; it waits as a conflict (%s)", req->host,
	    REMEDY_CONFLICT);
}

int
eca_enroll_decide(const struct eca_enrollment *ex,
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
		return decide_new_key(ex, req, outcome, err);
	case ECA_STATE_CONFLICT:
		/*
		 * The enrolled certificate stays valid while a candidate
		 * waits: the host using it (or a renewal of its key) is
		 * served; anything else replaces the candidate.
		 */
		if (same_leaf(&ex->cert, &req->cert)) {
			*outcome = ECA_OUTCOME_UNCHANGED;
			return 0;
		}
		if (same_key(&ex->cert, &req->cert)) {
			*outcome = ECA_OUTCOME_RENEWED;
			return 0;
		}
		return decide_new_key(ex, req, outcome, err);
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
			    "it)", req->host);
		*outcome = ECA_OUTCOME_CONFLICT;
		return eca_err_set(err, ECA_ERR_CONFLICT,
		    "host \"%.253s\" had its certificate revoked; the new one "
		    "waits as a conflict (%s)", req->host, REMEDY_CONFLICT);
	default:
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "host \"%.253s\" has a record in an unknown state",
		    req->host);
	}
}

/* ------------------------------------------------------------------ */
/* Carrying a group of requests out.                                   */

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
	snprintf(h->fingerprint, sizeof(h->fingerprint), "%s",
	    ci->fingerprint);
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
drop_candidate(struct eca_enrollment *rec)
{
	rec->has_candidate = 0;
	memset(&rec->candidate, 0, sizeof(rec->candidate));
	rec->candidate_at = 0;
	rec->candidate_source[0] = '\0';
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

static int
apply_enroll(struct eca_store *st, struct eca_op *op)
{
	struct eca_enrollment *rec = &op->rec;
	const struct eca_enroll_req *req = &op->req;
	int r, rd, have;

	if ((r = fetch(st, op, &have)) != 0)
		return r;
	rd = eca_enroll_decide(have ? rec : NULL, req, &op->outcome,
	    &op->err);
	if (rd != 0 && op->outcome != ECA_OUTCOME_CONFLICT)
		return rd;

	switch (op->outcome) {
	case ECA_OUTCOME_UNCHANGED:
		/* Only the sighting changes: no new version, no history. */
		rec->last_seen = req->now;
		return eca_store_put(st, rec, &op->err);
	case ECA_OUTCOME_ENROLLED:
		if (!have) {
			memset(rec, 0, sizeof(*rec));
			snprintf(rec->primary, sizeof(rec->primary), "%s",
			    req->primary);
			snprintf(rec->host, sizeof(rec->host), "%s",
			    req->host);
			if ((r = eca_uuid_new(rec->host_id)) != 0)
				return eca_err_set(&op->err, r,
				    "cannot draw a random host ID: the "
				    "system's random generator failed");
		}
		/* else: enrolled again after removal, host_id kept */
		rec->role = req->role;
		rec->method = req->method;
		rec->state = ECA_STATE_ENROLLED;
		rec->cert = req->cert;
		drop_candidate(rec);
		rec->enrolled_at = req->now;
		snprintf(rec->source, sizeof(rec->source), "%s", req->source);
		return write_change(st, op, "ENROLL", &rec->cert);
	case ECA_OUTCOME_RENEWED:
		/* Same key: a CONFLICT stays one, its candidate kept. */
		rec->role = req->role;
		rec->method = req->method;
		rec->cert = req->cert;
		rec->enrolled_at = req->now;
		snprintf(rec->source, sizeof(rec->source), "%s", req->source);
		return write_change(st, op, "RENEW", &rec->cert);
	case ECA_OUTCOME_FORCED:
		rec->role = req->role;
		rec->method = req->method;
		rec->state = ECA_STATE_ENROLLED;
		rec->cert = req->cert;
		drop_candidate(rec);
		rec->enrolled_at = req->now;
		snprintf(rec->source, sizeof(rec->source), "%s", req->source);
		return write_change(st, op, "FORCE", &rec->cert);
	case ECA_OUTCOME_CONFLICT:
		/*
		 * Persisted although the op fails: the enrolled cert stays,
		 * the newest different one waits for an administrator.  The
		 * waiting candidate again (a host retrying) is only a
		 * sighting, so retries cannot flood the history.
		 */
		if (rec->state == ECA_STATE_CONFLICT && rec->has_candidate &&
		    strcmp(rec->candidate.fingerprint,
		    req->cert.fingerprint) == 0) {
			rec->last_seen = req->now;
			if ((r = eca_store_put(st, rec, &op->err)) != 0)
				return r;
			return rd;
		}
		rec->state = ECA_STATE_CONFLICT;
		rec->has_candidate = 1;
		rec->candidate = req->cert;
		rec->candidate_at = req->now;
		snprintf(rec->candidate_source, sizeof(rec->candidate_source),
		    "%s", req->source);
		r = write_change(st, op, "CONFLICT", &rec->candidate);
		if (r != 0)
			return r;
		return rd;
	default:
		return eca_err_set(&op->err, ECA_ERR_INTERNAL,
		    "enrollment rule gave no outcome for host \"%.253s\"",
		    req->host);
	}
}

static int
apply_remove(struct eca_store *st, struct eca_op *op)
{
	struct eca_enrollment *rec = &op->rec;
	struct eca_certinfo removed;
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
	removed = rec->cert;
	rec->state = ECA_STATE_REMOVED;
	drop_candidate(rec);
	op->outcome = ECA_OUTCOME_REMOVED;
	return write_change(st, op, "REMOVE", &removed);
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
	if ((r = eca_store_history(st, op->req.primary, op->req.host,
	    SIZE_MAX, &h, &n, &op->err)) != 0)
		return r;
	for (i = n; i > 0; i--) {
		if (strcmp(h[i - 1].event, "RENEW") == 0)
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

static int
apply_decision(struct eca_store *st, struct eca_op *op)
{
	struct eca_enrollment *rec = &op->rec;
	struct eca_certinfo cand;
	enum eca_state back = ECA_STATE_ENROLLED;
	int r, have;

	if ((r = fetch(st, op, &have)) != 0)
		return r;
	/* A REVOKED record may keep the candidate that waited before. */
	if (!have || (rec->state != ECA_STATE_CONFLICT &&
	    rec->state != ECA_STATE_REVOKED) || !rec->has_candidate)
		return eca_err_set(&op->err, ECA_ERR_NOT_FOUND,
		    "no pending conflict for %.253s", op->req.host);
	if (op->type == ECA_OP_REJECT) {
		if (rec->state == ECA_STATE_REVOKED)
			back = ECA_STATE_REVOKED;
		else if ((r = state_before_conflict(st, op, &back)) != 0)
			return r;
	}
	cand = rec->candidate;
	rec->state = back;
	if (op->type == ECA_OP_APPROVE) {
		rec->cert = cand;
		rec->method = ECA_METHOD_ADMIN;
		rec->enrolled_at = op->req.now;
		snprintf(rec->source, sizeof(rec->source), "%s",
		    rec->candidate_source);
		drop_candidate(rec);
		op->outcome = ECA_OUTCOME_APPROVED;
		return write_change(st, op, "APPROVE", &cand);
	}
	drop_candidate(rec);
	op->outcome = ECA_OUTCOME_REJECTED;
	return write_change(st, op, "REJECT", &cand);
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
		memset(rec, 0, sizeof(*rec));
		snprintf(rec->primary, sizeof(rec->primary), "%s",
		    op->req.primary);
		snprintf(rec->host, sizeof(rec->host), "%s", op->req.host);
		if ((r = eca_uuid_new(rec->host_id)) != 0)
			return eca_err_set(&op->err, r, "cannot draw a random "
			    "host ID: the system's random generator failed");
		rec->role = ECA_ROLE_CLIENT;
		rec->method = ECA_METHOD_ADMIN;
		rec->enrolled_at = op->req.now;
		snprintf(rec->source, sizeof(rec->source), "%s",
		    op->req.source);
	}
	rec->state = ECA_STATE_BANNED;
	op->outcome = ECA_OUTCOME_BANNED;
	return write_change(st, op, "BAN", &rec->cert);
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
	if (!have || (rec->state != ECA_STATE_ENROLLED &&
	    rec->state != ECA_STATE_CONFLICT) ||
	    op->req.cert.fingerprint[0] == '\0' ||
	    strcmp(rec->cert.fingerprint, op->req.cert.fingerprint) != 0)
		return 0;
	rec->state = ECA_STATE_REVOKED;
	op->outcome = ECA_OUTCOME_REVOKED;
	return write_change(st, op, "REVOKE", &rec->cert);
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
		    "(see `eca list --state BANNED`)", op->req.host,
		    op->req.primary);
	rec->state = ECA_STATE_REMOVED;
	drop_candidate(rec);
	op->outcome = ECA_OUTCOME_UNBANNED;
	return write_change(st, op, "UNBAN", &rec->cert);
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
fail_all(struct eca_op *ops, size_t n, int code, const struct eca_err *err)
{
	size_t i;

	for (i = 0; i < n; i++) {
		ops[i].status = code;
		ops[i].outcome = ECA_OUTCOME_NONE;
		if (err != NULL)
			ops[i].err = *err;
		else
			eca_err_set(&ops[i].err, code, "%s",
			    eca_strerror(code));
	}
}

int
eca_registry_apply(struct eca_store *st, struct eca_op *ops, size_t n,
    struct eca_err *err)
{
	return eca_registry_apply_hook(st, ops, n, NULL, NULL, err);
}

int
eca_registry_apply_hook(struct eca_store *st, struct eca_op *ops, size_t n,
    eca_registry_hook *hook, void *arg, struct eca_err *err)
{
	struct eca_err e;
	struct eca_op *op;
	size_t i;
	int r, keep;

	eca_err_clear(&e);
	for (i = 0; i < n; i++) {
		ops[i].status = 0;
		ops[i].outcome = ECA_OUTCOME_NONE;
		eca_err_clear(&ops[i].err);
		memset(&ops[i].rec, 0, sizeof(ops[i].rec));
	}
	if (n == 0)
		return 0;
	if ((r = eca_store_begin(st, &e)) != 0)
		goto fail;
	for (i = 0; i < n; i++) {
		op = &ops[i];
		if ((r = eca_store_savepoint(st, &op->err)) != 0) {
			op->status = r;
			continue;
		}
		op->status = apply_one(st, op);
		/* A conflict is refused to the host, yet recorded. */
		keep = op->status == 0 || (op->status == ECA_ERR_CONFLICT &&
		    op->outcome == ECA_OUTCOME_CONFLICT);
		if (keep && (r = eca_store_release(st, &op->err)) != 0) {
			op->status = r;
			keep = 0;
		}
		if (!keep) {
			undo_op(st);
			op->outcome = ECA_OUTCOME_NONE;
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
