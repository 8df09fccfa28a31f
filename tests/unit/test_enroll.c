/* SPDX-License-Identifier: ISC */
/* test_enroll.c - the enrollment rule and the group commit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/inotify.h>
#include <sys/stat.h>

#include <errno.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "enroll.h"
#include "store.h"

#define PRIMARY "primary.example"
#define NOW 1750000000

/* ---------------------------------------------------------------- */
/* Helpers.                                                          */

/* A certificate: leaf number and key number give the fingerprints. */
static void
fake_cert(struct eca_certinfo *ci, unsigned leaf, unsigned key)
{
	memset(ci, 0, sizeof(*ci));
	snprintf(ci->fingerprint, sizeof(ci->fingerprint), "%064x", leaf);
	snprintf(ci->spki_fingerprint, sizeof(ci->spki_fingerprint), "%064x",
	    key + 0x10000u);
	snprintf(ci->subject, sizeof(ci->subject), "CN=leaf%u", leaf);
	snprintf(ci->issuer, sizeof(ci->issuer), "CN=CA");
	snprintf(ci->serial, sizeof(ci->serial), "%X", leaf);
	ci->not_before = NOW - 1000;
	ci->not_after = NOW + 100000;
	snprintf(ci->key_desc, sizeof(ci->key_desc), "EC P-256");
	snprintf(ci->sig_alg, sizeof(ci->sig_alg), "ecdsa-with-SHA256");
}

static void
make_rec(struct eca_enrollment *r, enum eca_state s, unsigned leaf,
    unsigned key)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->primary, sizeof(r->primary), PRIMARY);
	snprintf(r->host, sizeof(r->host), "h.example");
	snprintf(r->host_id, sizeof(r->host_id),
	    "11111111-1111-4111-8111-111111111111");
	r->state = s;
	fake_cert(&r->cert, leaf, key);
}

static void
make_req(struct eca_enroll_req *q, const char *host, unsigned leaf,
    unsigned key)
{
	memset(q, 0, sizeof(*q));
	snprintf(q->primary, sizeof(q->primary), PRIMARY);
	snprintf(q->host, sizeof(q->host), "%s", host);
	q->role = ECA_ROLE_CLIENT;
	q->method = ECA_METHOD_MANUAL;
	fake_cert(&q->cert, leaf, key);
	snprintf(q->source, sizeof(q->source), "192.0.2.1:40000");
	q->now = NOW;
}

struct fixture {
	char dir[64];
	char path[128];
	struct eca_store *st;
	int64_t now;
};

static int
setup(void **state)
{
	struct fixture *f;
	struct eca_err err;
	char uri[160];

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/eca-test-enroll-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/registry.db", f->dir);
	snprintf(uri, sizeof(uri), "sqlite:%s", f->path);
	if (eca_store_open(uri, 0, &f->st, &err) != 0) {
		rmdir(f->dir);
		free(f);
		return -1;
	}
	f->now = NOW;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char p[160];

	eca_store_close(f->st);
	unlink(f->path);
	snprintf(p, sizeof(p), "%s-wal", f->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->path);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
op_enroll(struct fixture *f, struct eca_op *op, const char *host, unsigned leaf,
    unsigned key)
{
	memset(op, 0, sizeof(*op));
	op->type = ECA_OP_ENROLL;
	make_req(&op->req, host, leaf, key);
	op->req.now = ++f->now;
}

static void
op_admin(struct fixture *f, struct eca_op *op, enum eca_op_type type,
    const char *host)
{
	memset(op, 0, sizeof(*op));
	op->type = type;
	snprintf(op->req.primary, sizeof(op->req.primary), PRIMARY);
	snprintf(op->req.host, sizeof(op->req.host), "%s", host);
	snprintf(op->req.source, sizeof(op->req.source), "local");
	snprintf(op->actor, sizeof(op->actor), "local:0");
	op->req.now = ++f->now;
}

/* APPROVE or REJECT of the waiting certificate fake_cert(leaf, key). */
static void
op_decide(struct fixture *f, struct eca_op *op, enum eca_op_type type,
    const char *host, unsigned leaf, unsigned key)
{
	struct eca_certinfo ci;

	op_admin(f, op, type, host);
	fake_cert(&ci, leaf, key);
	snprintf(op->require_fingerprint, sizeof(op->require_fingerprint), "%s",
	    ci.fingerprint);
}

/* Apply one op alone; returns its status. */
static int
apply1(struct fixture *f, struct eca_op *op)
{
	struct eca_err err;

	assert_int_equal(eca_registry_apply(f->st, op, 1, &err), 0);
	return op->status;
}

static int
enroll(struct fixture *f, const char *host, unsigned leaf, unsigned key,
    struct eca_op *op)
{
	op_enroll(f, op, host, leaf, key);
	return apply1(f, op);
}

static void
get(struct fixture *f, const char *host, struct eca_enrollment *r)
{
	struct eca_err err;

	assert_int_equal(eca_store_get(f->st, PRIMARY, host, r, &err), 0);
}

static size_t
history_len(struct fixture *f, const char *host, struct eca_history_entry **out)
{
	struct eca_history_entry *l = NULL;
	struct eca_err err;
	size_t n = 0;

	assert_int_equal(
	    eca_store_history(f->st, PRIMARY, host, 1000, &l, &n, &err), 0);
	if (out != NULL)
		*out = l;
	else
		free(l);
	return n;
}

/* ---------------------------------------------------------------- */
/* The rule: every case in one table.                                */

/*
 * What a host presents, against a record of certificate 1 (leaf 1, key
 * 1).  A CONFLICT or REVOKED record has certificate 2 (leaf 2, key 2)
 * waiting for an administrator; other records have none waiting.
 */
enum cert_kind {
	CERT_SAME,    /* the enrolled certificate again */
	CERT_RENEW,   /* a new certificate for the enrolled key (leaf 3) */
	CERT_OTHER,   /* a certificate with another key (leaf 4, key 4) */
	CERT_WAITING, /* certificate 2: the one waiting, if any */
	CERT_NONE,    /* no certificate fingerprint at all */
	CERT_KINDS
};

#define NO_RECORD (-1)
#define STATE_FIRST NO_RECORD
#define STATE_LAST ((int)ECA_STATE_REVOKED)

/* One case of eca_enroll_decide and what it must answer. */
struct decide_case {
	int state; /* enum eca_state, or NO_RECORD */
	enum cert_kind cert;
	int force;  /* the host asks for forced re-enrollment */
	int allow;  /* the primary's policy allows it */
	int status; /* 0 or the ECA_ERR_* returned */
	enum eca_enroll_outcome outcome;
	const char *msg; /* a part of the message (with the remedy) */
};

#define S(x) ECA_STATE_##x
#define E(x) ECA_ERR_##x
#define O(x) ECA_OUTCOME_##x
#define M_NO_CERT "present a client certificate"
#define M_BANNED "may not enroll (ask an administrator (eca unban h.example))"
#define M_REVOKED "was revoked (install a new certificate and enroll it)"
#define M_CONFLICT                                                             \
	"`eca approve HOST --fingerprint FP` or `eca reject "                  \
	"HOST --fingerprint FP` on the primary"
#define M_NO_FORCE                                                             \
	"does not allow (ask an administrator to approve, or "                 \
	"set ECA_ALLOW_FORCED_REENROLLMENT = YES on the primary)"

/*
 * State x certificate x force x policy, every combination once (checked
 * by test_decide_table_covers_every_case).  Some rows are the rule as it
 * stands rather than as one might guess: a REVOKED record does not look
 * at force (another key, or a renewal of the revoked one, waits for an
 * administrator even where forced re-enrollment is allowed, and force
 * asked where it is not allowed is a CONFLICT, not FORCE_NOT_ALLOWED);
 * a CONFLICT record with force allowed is FORCED, for the waiting
 * certificate as for a new one, and the others that waited are dropped.
 */
static const struct decide_case decide_cases[] = {
    /* state, certificate, force, allow: status, outcome, message */
    /* No record: any certificate enrolls. */
    {NO_RECORD, CERT_SAME, 0, 0, 0, O(ENROLLED), NULL},
    {NO_RECORD, CERT_SAME, 0, 1, 0, O(ENROLLED), NULL},
    {NO_RECORD, CERT_SAME, 1, 0, 0, O(ENROLLED), NULL},
    {NO_RECORD, CERT_SAME, 1, 1, 0, O(ENROLLED), NULL},
    {NO_RECORD, CERT_RENEW, 0, 0, 0, O(ENROLLED), NULL},
    {NO_RECORD, CERT_RENEW, 0, 1, 0, O(ENROLLED), NULL},
    {NO_RECORD, CERT_RENEW, 1, 0, 0, O(ENROLLED), NULL},
    {NO_RECORD, CERT_RENEW, 1, 1, 0, O(ENROLLED), NULL},
    {NO_RECORD, CERT_OTHER, 0, 0, 0, O(ENROLLED), NULL},
    {NO_RECORD, CERT_OTHER, 0, 1, 0, O(ENROLLED), NULL},
    {NO_RECORD, CERT_OTHER, 1, 0, 0, O(ENROLLED), NULL},
    {NO_RECORD, CERT_OTHER, 1, 1, 0, O(ENROLLED), NULL},
    {NO_RECORD, CERT_WAITING, 0, 0, 0, O(ENROLLED), NULL},
    {NO_RECORD, CERT_WAITING, 0, 1, 0, O(ENROLLED), NULL},
    {NO_RECORD, CERT_WAITING, 1, 0, 0, O(ENROLLED), NULL},
    {NO_RECORD, CERT_WAITING, 1, 1, 0, O(ENROLLED), NULL},
    {NO_RECORD, CERT_NONE, 0, 0, E(BAD_REQUEST), O(NONE), M_NO_CERT},
    {NO_RECORD, CERT_NONE, 0, 1, E(BAD_REQUEST), O(NONE), M_NO_CERT},
    {NO_RECORD, CERT_NONE, 1, 0, E(BAD_REQUEST), O(NONE), M_NO_CERT},
    {NO_RECORD, CERT_NONE, 1, 1, E(BAD_REQUEST), O(NONE), M_NO_CERT},
    /* ENROLLED: force matters only for another key. */
    {S(ENROLLED), CERT_SAME, 0, 0, 0, O(UNCHANGED), NULL},
    {S(ENROLLED), CERT_SAME, 0, 1, 0, O(UNCHANGED), NULL},
    {S(ENROLLED), CERT_SAME, 1, 0, 0, O(UNCHANGED), NULL},
    {S(ENROLLED), CERT_SAME, 1, 1, 0, O(UNCHANGED), NULL},
    {S(ENROLLED), CERT_RENEW, 0, 0, 0, O(RENEWED), NULL},
    {S(ENROLLED), CERT_RENEW, 0, 1, 0, O(RENEWED), NULL},
    {S(ENROLLED), CERT_RENEW, 1, 0, 0, O(RENEWED), NULL},
    {S(ENROLLED), CERT_RENEW, 1, 1, 0, O(RENEWED), NULL},
    {S(ENROLLED), CERT_OTHER, 0, 0, E(CONFLICT), O(CONFLICT), M_CONFLICT},
    {S(ENROLLED), CERT_OTHER, 0, 1, E(CONFLICT), O(CONFLICT), M_CONFLICT},
    {S(ENROLLED), CERT_OTHER, 1, 0, E(FORCE_NOT_ALLOWED), O(NONE), M_NO_FORCE},
    {S(ENROLLED), CERT_OTHER, 1, 1, 0, O(FORCED), NULL},
    {S(ENROLLED), CERT_WAITING, 0, 0, E(CONFLICT), O(CONFLICT), M_CONFLICT},
    {S(ENROLLED), CERT_WAITING, 0, 1, E(CONFLICT), O(CONFLICT), M_CONFLICT},
    {S(ENROLLED), CERT_WAITING, 1, 0, E(FORCE_NOT_ALLOWED), O(NONE),
	M_NO_FORCE},
    {S(ENROLLED), CERT_WAITING, 1, 1, 0, O(FORCED), NULL},
    {S(ENROLLED), CERT_NONE, 0, 0, E(BAD_REQUEST), O(NONE), M_NO_CERT},
    {S(ENROLLED), CERT_NONE, 0, 1, E(BAD_REQUEST), O(NONE), M_NO_CERT},
    {S(ENROLLED), CERT_NONE, 1, 0, E(BAD_REQUEST), O(NONE), M_NO_CERT},
    {S(ENROLLED), CERT_NONE, 1, 1, E(BAD_REQUEST), O(NONE), M_NO_CERT},
    /* CONFLICT: as ENROLLED; the enrolled certificate is served. */
    {S(CONFLICT), CERT_SAME, 0, 0, 0, O(UNCHANGED), NULL},
    {S(CONFLICT), CERT_SAME, 0, 1, 0, O(UNCHANGED), NULL},
    {S(CONFLICT), CERT_SAME, 1, 0, 0, O(UNCHANGED), NULL},
    {S(CONFLICT), CERT_SAME, 1, 1, 0, O(UNCHANGED), NULL},
    {S(CONFLICT), CERT_RENEW, 0, 0, 0, O(RENEWED), NULL},
    {S(CONFLICT), CERT_RENEW, 0, 1, 0, O(RENEWED), NULL},
    {S(CONFLICT), CERT_RENEW, 1, 0, 0, O(RENEWED), NULL},
    {S(CONFLICT), CERT_RENEW, 1, 1, 0, O(RENEWED), NULL},
    {S(CONFLICT), CERT_OTHER, 0, 0, E(CONFLICT), O(CONFLICT), M_CONFLICT},
    {S(CONFLICT), CERT_OTHER, 0, 1, E(CONFLICT), O(CONFLICT), M_CONFLICT},
    {S(CONFLICT), CERT_OTHER, 1, 0, E(FORCE_NOT_ALLOWED), O(NONE), M_NO_FORCE},
    {S(CONFLICT), CERT_OTHER, 1, 1, 0, O(FORCED), NULL},
    {S(CONFLICT), CERT_WAITING, 0, 0, E(CONFLICT), O(CONFLICT), M_CONFLICT},
    {S(CONFLICT), CERT_WAITING, 0, 1, E(CONFLICT), O(CONFLICT), M_CONFLICT},
    {S(CONFLICT), CERT_WAITING, 1, 0, E(FORCE_NOT_ALLOWED), O(NONE),
	M_NO_FORCE},
    {S(CONFLICT), CERT_WAITING, 1, 1, 0, O(FORCED), NULL},
    {S(CONFLICT), CERT_NONE, 0, 0, E(BAD_REQUEST), O(NONE), M_NO_CERT},
    {S(CONFLICT), CERT_NONE, 0, 1, E(BAD_REQUEST), O(NONE), M_NO_CERT},
    {S(CONFLICT), CERT_NONE, 1, 0, E(BAD_REQUEST), O(NONE), M_NO_CERT},
    {S(CONFLICT), CERT_NONE, 1, 1, E(BAD_REQUEST), O(NONE), M_NO_CERT},
    /* REMOVED: enrolls again, whatever it presents. */
    {S(REMOVED), CERT_SAME, 0, 0, 0, O(ENROLLED), NULL},
    {S(REMOVED), CERT_SAME, 0, 1, 0, O(ENROLLED), NULL},
    {S(REMOVED), CERT_SAME, 1, 0, 0, O(ENROLLED), NULL},
    {S(REMOVED), CERT_SAME, 1, 1, 0, O(ENROLLED), NULL},
    {S(REMOVED), CERT_RENEW, 0, 0, 0, O(ENROLLED), NULL},
    {S(REMOVED), CERT_RENEW, 0, 1, 0, O(ENROLLED), NULL},
    {S(REMOVED), CERT_RENEW, 1, 0, 0, O(ENROLLED), NULL},
    {S(REMOVED), CERT_RENEW, 1, 1, 0, O(ENROLLED), NULL},
    {S(REMOVED), CERT_OTHER, 0, 0, 0, O(ENROLLED), NULL},
    {S(REMOVED), CERT_OTHER, 0, 1, 0, O(ENROLLED), NULL},
    {S(REMOVED), CERT_OTHER, 1, 0, 0, O(ENROLLED), NULL},
    {S(REMOVED), CERT_OTHER, 1, 1, 0, O(ENROLLED), NULL},
    {S(REMOVED), CERT_WAITING, 0, 0, 0, O(ENROLLED), NULL},
    {S(REMOVED), CERT_WAITING, 0, 1, 0, O(ENROLLED), NULL},
    {S(REMOVED), CERT_WAITING, 1, 0, 0, O(ENROLLED), NULL},
    {S(REMOVED), CERT_WAITING, 1, 1, 0, O(ENROLLED), NULL},
    {S(REMOVED), CERT_NONE, 0, 0, E(BAD_REQUEST), O(NONE), M_NO_CERT},
    {S(REMOVED), CERT_NONE, 0, 1, E(BAD_REQUEST), O(NONE), M_NO_CERT},
    {S(REMOVED), CERT_NONE, 1, 0, E(BAD_REQUEST), O(NONE), M_NO_CERT},
    {S(REMOVED), CERT_NONE, 1, 1, E(BAD_REQUEST), O(NONE), M_NO_CERT},
    /* BANNED: refused, whatever it presents or asks. */
    {S(BANNED), CERT_SAME, 0, 0, E(BANNED), O(NONE), M_BANNED},
    {S(BANNED), CERT_SAME, 0, 1, E(BANNED), O(NONE), M_BANNED},
    {S(BANNED), CERT_SAME, 1, 0, E(BANNED), O(NONE), M_BANNED},
    {S(BANNED), CERT_SAME, 1, 1, E(BANNED), O(NONE), M_BANNED},
    {S(BANNED), CERT_RENEW, 0, 0, E(BANNED), O(NONE), M_BANNED},
    {S(BANNED), CERT_RENEW, 0, 1, E(BANNED), O(NONE), M_BANNED},
    {S(BANNED), CERT_RENEW, 1, 0, E(BANNED), O(NONE), M_BANNED},
    {S(BANNED), CERT_RENEW, 1, 1, E(BANNED), O(NONE), M_BANNED},
    {S(BANNED), CERT_OTHER, 0, 0, E(BANNED), O(NONE), M_BANNED},
    {S(BANNED), CERT_OTHER, 0, 1, E(BANNED), O(NONE), M_BANNED},
    {S(BANNED), CERT_OTHER, 1, 0, E(BANNED), O(NONE), M_BANNED},
    {S(BANNED), CERT_OTHER, 1, 1, E(BANNED), O(NONE), M_BANNED},
    {S(BANNED), CERT_WAITING, 0, 0, E(BANNED), O(NONE), M_BANNED},
    {S(BANNED), CERT_WAITING, 0, 1, E(BANNED), O(NONE), M_BANNED},
    {S(BANNED), CERT_WAITING, 1, 0, E(BANNED), O(NONE), M_BANNED},
    {S(BANNED), CERT_WAITING, 1, 1, E(BANNED), O(NONE), M_BANNED},
    {S(BANNED), CERT_NONE, 0, 0, E(BAD_REQUEST), O(NONE), M_NO_CERT},
    {S(BANNED), CERT_NONE, 0, 1, E(BAD_REQUEST), O(NONE), M_NO_CERT},
    {S(BANNED), CERT_NONE, 1, 0, E(BAD_REQUEST), O(NONE), M_NO_CERT},
    {S(BANNED), CERT_NONE, 1, 1, E(BAD_REQUEST), O(NONE), M_NO_CERT},
    /* REVOKED: only an administrator brings it back. */
    {S(REVOKED), CERT_SAME, 0, 0, E(REVOKED), O(NONE), M_REVOKED},
    {S(REVOKED), CERT_SAME, 0, 1, E(REVOKED), O(NONE), M_REVOKED},
    {S(REVOKED), CERT_SAME, 1, 0, E(REVOKED), O(NONE), M_REVOKED},
    {S(REVOKED), CERT_SAME, 1, 1, E(REVOKED), O(NONE), M_REVOKED},
    {S(REVOKED), CERT_RENEW, 0, 0, E(CONFLICT), O(CONFLICT), M_CONFLICT},
    {S(REVOKED), CERT_RENEW, 0, 1, E(CONFLICT), O(CONFLICT), M_CONFLICT},
    {S(REVOKED), CERT_RENEW, 1, 0, E(CONFLICT), O(CONFLICT), M_CONFLICT},
    {S(REVOKED), CERT_RENEW, 1, 1, E(CONFLICT), O(CONFLICT), M_CONFLICT},
    {S(REVOKED), CERT_OTHER, 0, 0, E(CONFLICT), O(CONFLICT), M_CONFLICT},
    {S(REVOKED), CERT_OTHER, 0, 1, E(CONFLICT), O(CONFLICT), M_CONFLICT},
    {S(REVOKED), CERT_OTHER, 1, 0, E(CONFLICT), O(CONFLICT), M_CONFLICT},
    {S(REVOKED), CERT_OTHER, 1, 1, E(CONFLICT), O(CONFLICT), M_CONFLICT},
    {S(REVOKED), CERT_WAITING, 0, 0, E(CONFLICT), O(CONFLICT), M_CONFLICT},
    {S(REVOKED), CERT_WAITING, 0, 1, E(CONFLICT), O(CONFLICT), M_CONFLICT},
    {S(REVOKED), CERT_WAITING, 1, 0, E(CONFLICT), O(CONFLICT), M_CONFLICT},
    {S(REVOKED), CERT_WAITING, 1, 1, E(CONFLICT), O(CONFLICT), M_CONFLICT},
    {S(REVOKED), CERT_NONE, 0, 0, E(BAD_REQUEST), O(NONE), M_NO_CERT},
    {S(REVOKED), CERT_NONE, 0, 1, E(BAD_REQUEST), O(NONE), M_NO_CERT},
    {S(REVOKED), CERT_NONE, 1, 0, E(BAD_REQUEST), O(NONE), M_NO_CERT},
    {S(REVOKED), CERT_NONE, 1, 1, E(BAD_REQUEST), O(NONE), M_NO_CERT},
};

#undef S
#undef E
#undef O

/* The request of a case: its certificate, force, policy and method. */
static void
case_req(const struct decide_case *c, enum eca_method method,
    struct eca_enroll_req *q)
{
	static const unsigned leaf[] = {1, 3, 4, 2, 1};
	static const unsigned key[] = {1, 1, 4, 2, 1};

	make_req(q, "h.example", leaf[c->cert], key[c->cert]);
	if (c->cert == CERT_NONE)
		q->cert.fingerprint[0] = '\0';
	q->method = method;
	q->force = c->force;
	q->allow_force = c->allow;
}

static void
test_decide_answers_every_case_of_its_table(void **state)
{
	static const enum eca_method methods[] = {ECA_METHOD_AUTO,
	    ECA_METHOD_MANUAL};
	const struct decide_case *c;
	struct eca_enrollment ex;
	struct eca_candidate waiting;
	struct eca_enroll_req q;
	enum eca_enroll_outcome o;
	struct eca_err err;
	size_t i, m, n;
	int r;

	(void)state;
	memset(&waiting, 0, sizeof(waiting));
	fake_cert(&waiting.cert, 2, 2);
	for (i = 0; i < sizeof(decide_cases) / sizeof(decide_cases[0]); i++) {
		c = &decide_cases[i];
		if (c->state != NO_RECORD)
			make_rec(&ex, (enum eca_state)c->state, 1, 1);
		n = c->state == ECA_STATE_CONFLICT ||
			c->state == ECA_STATE_REVOKED ?
		    1 :
		    0;
		/* The rule does not depend on how the host enrolls. */
		for (m = 0; m < sizeof(methods) / sizeof(methods[0]); m++) {
			case_req(c, methods[m], &q);
			eca_err_clear(&err);
			o = (enum eca_enroll_outcome) - 1;
			r = eca_enroll_decide(c->state == NO_RECORD ? NULL :
								      &ex,
			    n > 0 ? &waiting : NULL, n, &q, &o, &err);
			if (r != c->status || o != c->outcome ||
			    (c->msg != NULL && strstr(err.msg, c->msg) == NULL))
				fail_msg("row %zu (%s, cert %d, force %d, "
					 "allow %d, %s): got %s, %s, \"%s\"",
				    i,
				    c->state == NO_RECORD ?
					"no record" :
					eca_state_name(
					    (enum eca_state)c->state),
				    (int)c->cert, c->force, c->allow,
				    eca_method_name(methods[m]),
				    r != 0 ? eca_err_name(r) : "0",
				    eca_outcome_name(o), err.msg);
			if (r != 0)
				assert_int_equal(err.code, r);
		}
	}
}

static void
test_decide_table_covers_every_case(void **state)
{
	unsigned char seen[STATE_LAST - STATE_FIRST + 1][CERT_KINDS][2][2];
	const struct decide_case *c;
	size_t i, n = sizeof(decide_cases) / sizeof(decide_cases[0]);

	(void)state;
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < n; i++) {
		c = &decide_cases[i];
		assert_true(c->state >= STATE_FIRST && c->state <= STATE_LAST);
		assert_true(c->force == 0 || c->force == 1);
		assert_true(c->allow == 0 || c->allow == 1);
		if (seen[c->state - STATE_FIRST][c->cert][c->force][c->allow]++)
			fail_msg("row %zu repeats a case", i);
	}
	assert_int_equal(n, sizeof(seen));
}

static void
test_outcome_names_are_upper_case(void **state)
{
	(void)state;
	assert_string_equal(eca_outcome_name(ECA_OUTCOME_ENROLLED), "ENROLLED");
	assert_string_equal(eca_outcome_name(ECA_OUTCOME_REMOVED), "REMOVED");
	assert_string_equal(eca_outcome_name((enum eca_enroll_outcome)99),
	    "UNKNOWN");
}

static void
test_uuid_is_random_version_4(void **state)
{
	char a[ECA_HOST_ID_LEN + 1], b[ECA_HOST_ID_LEN + 1];
	size_t i;

	(void)state;
	assert_int_equal(eca_uuid_new(a), 0);
	assert_int_equal(eca_uuid_new(b), 0);
	assert_int_equal(strlen(a), ECA_HOST_ID_LEN);
	for (i = 0; i < ECA_HOST_ID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			assert_int_equal(a[i], '-');
		else
			assert_non_null(strchr("0123456789abcdef", a[i]));
	}
	assert_int_equal(a[14], '4');
	assert_non_null(strchr("89ab", a[19]));
	assert_string_not_equal(a, b);
}

/* ---------------------------------------------------------------- */
/* Applying: refusals first.                                         */

static void
test_apply_remove_of_unknown_host_is_not_enrolled(void **state)
{
	struct fixture *f = *state;
	struct eca_op op;

	op_admin(f, &op, ECA_OP_REMOVE, "nobody.example");
	assert_int_equal(apply1(f, &op), ECA_ERR_NOT_ENROLLED);
	assert_int_equal(op.err.code, ECA_ERR_NOT_ENROLLED);
	assert_non_null(strstr(op.err.msg, "nobody.example"));
}

static void
test_apply_remove_of_removed_host_is_not_enrolled(void **state)
{
	struct fixture *f = *state;
	struct eca_op op;

	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	op_admin(f, &op, ECA_OP_REMOVE, "a.example");
	assert_int_equal(apply1(f, &op), 0);
	op_admin(f, &op, ECA_OP_REMOVE, "a.example");
	assert_int_equal(apply1(f, &op), ECA_ERR_NOT_ENROLLED);
	assert_int_equal(op.rec.state, ECA_STATE_REMOVED);
}

static void
test_apply_remove_with_wrong_fingerprint_is_refused(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment r;
	struct eca_certinfo other;
	struct eca_op op;
	int64_t version;

	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	version = op.rec.version;
	op_admin(f, &op, ECA_OP_REMOVE, "a.example");
	op.actor[0] = '\0';
	fake_cert(&other, 9, 9);
	snprintf(op.require_fingerprint, sizeof(op.require_fingerprint), "%s",
	    other.fingerprint);
	assert_int_equal(apply1(f, &op), ECA_ERR_FINGERPRINT_MISMATCH);
	/* rec is the unchanged existing record */
	assert_int_equal(op.rec.state, ECA_STATE_ENROLLED);
	get(f, "a.example", &r);
	assert_int_equal(r.state, ECA_STATE_ENROLLED);
	assert_int_equal(r.version, version);
	assert_int_equal(history_len(f, "a.example", NULL), 1);
}

static void
test_apply_remove_of_banned_host_is_refused(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment r;
	struct eca_err err;
	struct eca_op op;

	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	r = op.rec;
	r.state = ECA_STATE_BANNED;
	assert_int_equal(eca_store_begin(f->st, &err), 0);
	assert_int_equal(eca_store_put(f->st, &r, &err), 0);
	assert_int_equal(eca_store_commit(f->st, &err), 0);
	op_admin(f, &op, ECA_OP_REMOVE, "a.example");
	assert_int_equal(apply1(f, &op), ECA_ERR_BANNED);
	get(f, "a.example", &r);
	assert_int_equal(r.state, ECA_STATE_BANNED);
}

static void
test_apply_approve_without_conflict_is_not_found(void **state)
{
	struct fixture *f = *state;
	struct eca_op op;

	op_admin(f, &op, ECA_OP_APPROVE, "a.example");
	assert_int_equal(apply1(f, &op), ECA_ERR_NOT_FOUND);
	assert_non_null(strstr(op.err.msg,
	    "no pending conflict for "
	    "a.example"));
	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	op_admin(f, &op, ECA_OP_APPROVE, "a.example");
	assert_int_equal(apply1(f, &op), ECA_ERR_NOT_FOUND);
	op_admin(f, &op, ECA_OP_REJECT, "a.example");
	assert_int_equal(apply1(f, &op), ECA_ERR_NOT_FOUND);
	assert_int_equal(history_len(f, "a.example", NULL), 1);
}

static void
test_apply_force_not_allowed_writes_nothing(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment r;
	struct eca_op op;

	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	op_enroll(f, &op, "a.example", 2, 2);
	op.req.force = 1;
	assert_int_equal(apply1(f, &op), ECA_ERR_FORCE_NOT_ALLOWED);
	get(f, "a.example", &r);
	assert_int_equal(r.state, ECA_STATE_ENROLLED);
	assert_false(r.has_candidate);
	assert_string_equal(op.rec.cert.fingerprint, r.cert.fingerprint);
	assert_int_equal(history_len(f, "a.example", NULL), 1);
}

static void
test_apply_one_failing_op_does_not_disturb_the_group(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment r;
	struct eca_op ops[4];
	struct eca_err err;

	assert_int_equal(enroll(f, "b.example", 1, 1, &ops[0]), 0);
	op_enroll(f, &ops[0], "a.example", 10, 10);
	op_admin(f, &ops[1], ECA_OP_REMOVE, "ghost.example"); /* fails */
	op_enroll(f, &ops[2], "b.example", 2, 2);
	ops[2].req.force = 1; /* refused */
	op_enroll(f, &ops[3], "c.example", 30, 30);
	assert_int_equal(eca_registry_apply(f->st, ops, 4, &err), 0);
	assert_int_equal(ops[0].status, 0);
	assert_int_equal(ops[0].outcome, ECA_OUTCOME_ENROLLED);
	assert_int_equal(ops[1].status, ECA_ERR_NOT_ENROLLED);
	assert_int_equal(ops[2].status, ECA_ERR_FORCE_NOT_ALLOWED);
	assert_int_equal(ops[2].outcome, ECA_OUTCOME_NONE);
	assert_int_equal(ops[1].outcome, ECA_OUTCOME_NONE);
	assert_int_equal(ops[3].status, 0);
	assert_int_equal(ops[3].outcome, ECA_OUTCOME_ENROLLED);
	get(f, "a.example", &r);
	assert_int_equal(r.state, ECA_STATE_ENROLLED);
	get(f, "c.example", &r);
	assert_int_equal(r.state, ECA_STATE_ENROLLED);
	get(f, "b.example", &r);
	assert_int_equal(r.state, ECA_STATE_ENROLLED);
	assert_false(r.has_candidate);
	/* versions are distinct and in order of the ops */
	assert_true(ops[3].rec.version > ops[0].rec.version);
}

static void
test_apply_when_transaction_cannot_start_fails_every_op(void **state)
{
	struct fixture *f = *state;
	struct eca_op ops[2];
	struct eca_err err;

	op_enroll(f, &ops[0], "a.example", 1, 1);
	op_enroll(f, &ops[1], "b.example", 2, 2);
	/* a transaction already open: BEGIN fails, nothing is applied */
	assert_int_equal(eca_store_begin(f->st, &err), 0);
	assert_int_not_equal(eca_registry_apply(f->st, ops, 2, &err), 0);
	assert_int_equal(ops[0].status, err.code);
	assert_int_equal(ops[1].status, err.code);
	assert_int_not_equal(ops[1].status, 0);
	eca_store_rollback(f->st);
	assert_int_equal(
	    eca_store_get(f->st, PRIMARY, "a.example", &ops[0].rec, &err),
	    ECA_ERR_NOT_FOUND);
}

/* ---------------------------------------------------------------- */
/* Applying: changes.                                                */

static void
test_apply_enroll_creates_record_and_history(void **state)
{
	struct fixture *f = *state;
	struct eca_history_entry *h = NULL;
	struct eca_enrollment r;
	struct eca_op op;

	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_ENROLLED);
	get(f, "a.example", &r);
	assert_string_equal(r.primary, PRIMARY);
	assert_int_equal(strlen(r.host_id), ECA_HOST_ID_LEN);
	assert_string_equal(r.host_id, op.rec.host_id);
	assert_int_equal(r.state, ECA_STATE_ENROLLED);
	assert_int_equal(r.method, ECA_METHOD_MANUAL);
	assert_int_equal(r.enrolled_at, f->now);
	assert_int_equal(r.updated_at, f->now);
	assert_int_equal(r.last_seen, f->now);
	assert_string_equal(r.source, "192.0.2.1:40000");
	assert_true(r.version >= 1);
	assert_int_equal(r.version, op.rec.version);
	assert_int_equal(history_len(f, "a.example", &h), 1);
	assert_string_equal(h[0].event, "ENROLL");
	assert_string_equal(h[0].actor, "a.example");
	assert_string_equal(h[0].fingerprint, r.cert.fingerprint);
	assert_string_equal(h[0].host_id, r.host_id);
	assert_int_equal(h[0].state, ECA_STATE_ENROLLED);
	free(h);
}

static void
test_apply_same_cert_updates_only_last_seen(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment before, after;
	struct eca_op op;

	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	get(f, "a.example", &before);
	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_UNCHANGED);
	get(f, "a.example", &after);
	assert_int_equal(after.last_seen, before.last_seen + 1);
	assert_int_equal(after.updated_at, before.updated_at);
	assert_int_equal(after.version, before.version);
	assert_int_equal(after.enrolled_at, before.enrolled_at);
	assert_int_equal(history_len(f, "a.example", NULL), 1);
}

static void
test_apply_renewal_keeps_host_id_and_adds_history(void **state)
{
	struct fixture *f = *state;
	struct eca_history_entry *h = NULL;
	struct eca_enrollment before, after;
	struct eca_op op;

	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	get(f, "a.example", &before);
	assert_int_equal(enroll(f, "a.example", 2, 1, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_RENEWED);
	get(f, "a.example", &after);
	assert_string_equal(after.host_id, before.host_id);
	assert_string_equal(after.cert.fingerprint, op.req.cert.fingerprint);
	assert_true(after.version > before.version);
	assert_int_equal(history_len(f, "a.example", &h), 2);
	assert_string_equal(h[1].event, "RENEW");
	free(h);
}

static void
test_apply_conflict_is_persisted_with_candidate(void **state)
{
	struct fixture *f = *state;
	struct eca_history_entry *h = NULL;
	struct eca_enrollment r;
	struct eca_op op;
	char enrolled_fp[ECA_FP_HEX_LEN + 1];

	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	snprintf(enrolled_fp, sizeof(enrolled_fp), "%s",
	    op.rec.cert.fingerprint);
	op_enroll(f, &op, "a.example", 2, 2);
	snprintf(op.req.source, sizeof(op.req.source), "198.51.100.7:1234");
	assert_int_equal(apply1(f, &op), ECA_ERR_CONFLICT);
	assert_int_equal(op.outcome, ECA_OUTCOME_CONFLICT);
	assert_int_equal(op.rec.state, ECA_STATE_CONFLICT);
	get(f, "a.example", &r);
	assert_int_equal(r.state, ECA_STATE_CONFLICT);
	assert_string_equal(r.cert.fingerprint, enrolled_fp);
	assert_true(r.has_candidate);
	assert_string_equal(r.candidate.fingerprint, op.req.cert.fingerprint);
	assert_int_equal(r.candidate_at, f->now);
	assert_string_equal(r.candidate_source, "198.51.100.7:1234");
	assert_int_equal(history_len(f, "a.example", &h), 2);
	assert_string_equal(h[1].event, "CONFLICT");
	assert_int_equal(h[1].state, ECA_STATE_CONFLICT);
	assert_string_equal(h[1].fingerprint, op.req.cert.fingerprint);
	free(h);

	/* the same candidate again: still a conflict, but only a sighting */
	op_enroll(f, &op, "a.example", 2, 2);
	assert_int_equal(apply1(f, &op), ECA_ERR_CONFLICT);
	assert_int_equal(op.outcome, ECA_OUTCOME_CONFLICT);
	get(f, "a.example", &r);
	assert_int_equal(r.state, ECA_STATE_CONFLICT);
	assert_int_equal(r.last_seen, f->now);
	assert_int_equal(r.candidate_at, f->now - 1);
	assert_int_equal(history_len(f, "a.example", NULL), 2);

	/* a newer different cert waits beside it (the summary is newest) */
	op_enroll(f, &op, "a.example", 3, 3);
	assert_int_equal(apply1(f, &op), ECA_ERR_CONFLICT);
	get(f, "a.example", &r);
	assert_string_equal(r.candidate.fingerprint, op.req.cert.fingerprint);
	assert_int_equal(r.ncandidates, 2);
	assert_string_equal(r.cert.fingerprint, enrolled_fp);

	/* the enrolled cert still works and changes nothing */
	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_UNCHANGED);
	get(f, "a.example", &r);
	assert_int_equal(r.state, ECA_STATE_CONFLICT);
	assert_true(r.has_candidate);

	/* a renewal of the enrolled key: renewed, conflict kept */
	assert_int_equal(enroll(f, "a.example", 4, 1, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_RENEWED);
	get(f, "a.example", &r);
	assert_int_equal(r.state, ECA_STATE_CONFLICT);
	assert_true(r.has_candidate);
	assert_string_equal(r.cert.fingerprint, op.req.cert.fingerprint);
}

static void
test_apply_approve_makes_candidate_enrolled(void **state)
{
	struct fixture *f = *state;
	struct eca_history_entry *h = NULL;
	struct eca_enrollment r, before;
	struct eca_op op;
	char cand_fp[ECA_FP_HEX_LEN + 1];

	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	get(f, "a.example", &before);
	assert_int_equal(enroll(f, "a.example", 2, 2, &op), ECA_ERR_CONFLICT);
	snprintf(cand_fp, sizeof(cand_fp), "%s", op.req.cert.fingerprint);
	op_decide(f, &op, ECA_OP_APPROVE, "a.example", 2, 2);
	snprintf(op.actor, sizeof(op.actor), "CN=admin");
	assert_int_equal(apply1(f, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_APPROVED);
	get(f, "a.example", &r);
	assert_int_equal(r.state, ECA_STATE_ENROLLED);
	assert_int_equal(r.method, ECA_METHOD_ADMIN);
	assert_string_equal(r.cert.fingerprint, cand_fp);
	assert_false(r.has_candidate);
	assert_int_equal(r.enrolled_at, f->now);
	assert_string_equal(r.host_id, before.host_id);
	assert_int_equal(history_len(f, "a.example", &h), 3);
	assert_string_equal(h[2].event, "APPROVE");
	assert_string_equal(h[2].actor, "CN=admin");
	assert_string_equal(h[2].fingerprint, cand_fp);
	free(h);
	/* the approved cert is now the one that is unchanged */
	assert_int_equal(enroll(f, "a.example", 2, 2, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_UNCHANGED);
}

static void
test_apply_reject_drops_candidate_and_returns_to_enrolled(void **state)
{
	struct fixture *f = *state;
	struct eca_history_entry *h = NULL;
	struct eca_enrollment r;
	struct eca_op op;

	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	assert_int_equal(enroll(f, "a.example", 2, 2, &op), ECA_ERR_CONFLICT);
	op_decide(f, &op, ECA_OP_REJECT, "a.example", 2, 2);
	assert_int_equal(apply1(f, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_REJECTED);
	get(f, "a.example", &r);
	assert_int_equal(r.state, ECA_STATE_ENROLLED);
	assert_false(r.has_candidate);
	assert_string_equal(r.candidate.fingerprint, "");
	fake_cert(&r.candidate, 1, 1);
	assert_string_equal(r.cert.fingerprint, r.candidate.fingerprint);
	assert_int_equal(history_len(f, "a.example", &h), 3);
	assert_string_equal(h[2].event, "REJECT");
	free(h);
	/* the rejected cert comes back as a conflict again */
	assert_int_equal(enroll(f, "a.example", 2, 2, &op), ECA_ERR_CONFLICT);
}

static void
test_apply_forced_reenrollment_when_allowed(void **state)
{
	struct fixture *f = *state;
	struct eca_history_entry *h = NULL;
	struct eca_enrollment r;
	struct eca_op op;

	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	assert_int_equal(enroll(f, "a.example", 2, 2, &op), ECA_ERR_CONFLICT);
	op_enroll(f, &op, "a.example", 3, 3);
	op.req.force = op.req.allow_force = 1;
	assert_int_equal(apply1(f, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_FORCED);
	get(f, "a.example", &r);
	assert_int_equal(r.state, ECA_STATE_ENROLLED);
	assert_false(r.has_candidate);
	assert_string_equal(r.cert.fingerprint, op.req.cert.fingerprint);
	assert_int_equal(history_len(f, "a.example", &h), 3);
	assert_string_equal(h[2].event, "FORCE");
	free(h);
}

/* A NAT host's enrollment sets the flag and one that says so later too. */
static void
test_apply_nat_flag_is_recorded_kept_and_reset_on_reenrollment(void **state)
{
	struct fixture *f = *state;
	struct eca_history_entry *h = NULL;
	struct eca_enrollment before, r;
	struct eca_op op;

	/* enrolled as a plain host, then found UNCHANGED as a NAT host */
	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	get(f, "a.example", &before);
	assert_int_equal(before.nat, 0);
	op_enroll(f, &op, "a.example", 1, 1);
	op.req.nat = 1;
	assert_int_equal(apply1(f, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_UNCHANGED);
	assert_true(op.nat_marked); /* a change: the journal has a line */
	get(f, "a.example", &r);
	assert_int_equal(r.nat, 1);
	assert_true(r.version > before.version); /* the roster carries it */
	assert_int_equal(history_len(f, "a.example", &h), 2);
	assert_string_equal(h[1].event, "NAT");
	free(h);
	/* the flag again, or a request without it: nothing to journal */
	op_enroll(f, &op, "a.example", 1, 1);
	op.req.nat = 1;
	assert_int_equal(apply1(f, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_UNCHANGED);
	assert_false(op.nat_marked);
	/* a request without the flag does not clear it, nor does a renewal */
	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	assert_false(op.nat_marked);
	assert_int_equal(enroll(f, "a.example", 2, 1, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_RENEWED);
	get(f, "a.example", &r);
	assert_int_equal(r.nat, 1);
	/* removed, then enrolled again without it: a plain host again */
	op_admin(f, &op, ECA_OP_REMOVE, "a.example");
	assert_int_equal(apply1(f, &op), 0);
	assert_int_equal(enroll(f, "a.example", 3, 3, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_ENROLLED);
	get(f, "a.example", &r);
	assert_int_equal(r.nat, 0);
	/* a first enrollment as a NAT host */
	op_enroll(f, &op, "b.example", 4, 4);
	op.req.nat = 1;
	assert_int_equal(apply1(f, &op), 0);
	get(f, "b.example", &r);
	assert_int_equal(r.nat, 1);
}

static void
test_apply_host_id_is_stable_across_remove_and_reenroll(void **state)
{
	struct fixture *f = *state;
	struct eca_history_entry *h = NULL;
	struct eca_enrollment r;
	struct eca_op op;
	char id[ECA_HOST_ID_LEN + 1];

	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	snprintf(id, sizeof(id), "%s", op.rec.host_id);
	/* the host removes itself with its enrolled certificate */
	op_admin(f, &op, ECA_OP_REMOVE, "a.example");
	op.actor[0] = '\0';
	fake_cert(&r.cert, 1, 1);
	snprintf(op.require_fingerprint, sizeof(op.require_fingerprint), "%s",
	    r.cert.fingerprint);
	assert_int_equal(apply1(f, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_REMOVED);
	get(f, "a.example", &r);
	assert_int_equal(r.state, ECA_STATE_REMOVED);
	assert_string_equal(r.host_id, id);
	/* enrolls again with a brand new key: no conflict, same ID */
	assert_int_equal(enroll(f, "a.example", 5, 5, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_ENROLLED);
	get(f, "a.example", &r);
	assert_int_equal(r.state, ECA_STATE_ENROLLED);
	assert_string_equal(r.host_id, id);
	assert_int_equal(history_len(f, "a.example", &h), 3);
	assert_string_equal(h[0].event, "ENROLL");
	assert_string_equal(h[1].event, "REMOVE");
	assert_int_equal(h[1].state, ECA_STATE_REMOVED);
	assert_string_equal(h[2].event, "ENROLL");
	free(h);
}

static void
test_apply_admin_remove_drops_the_candidate(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment r;
	struct eca_op op;

	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	assert_int_equal(enroll(f, "a.example", 2, 2, &op), ECA_ERR_CONFLICT);
	op_admin(f, &op, ECA_OP_REMOVE, "a.example");
	assert_int_equal(apply1(f, &op), 0);
	get(f, "a.example", &r);
	assert_int_equal(r.state, ECA_STATE_REMOVED);
	assert_false(r.has_candidate);
}

static void
test_apply_new_hosts_get_distinct_host_ids(void **state)
{
	struct fixture *f = *state;
	struct eca_op ops[3];
	struct eca_err err;

	op_enroll(f, &ops[0], "a.example", 1, 1);
	op_enroll(f, &ops[1], "b.example", 2, 2);
	op_enroll(f, &ops[2], "c.example", 3, 3);
	assert_int_equal(eca_registry_apply(f->st, ops, 3, &err), 0);
	assert_string_not_equal(ops[0].rec.host_id, ops[1].rec.host_id);
	assert_string_not_equal(ops[1].rec.host_id, ops[2].rec.host_id);
	assert_string_not_equal(ops[0].rec.host_id, ops[2].rec.host_id);
	assert_int_equal(ops[0].rec.host_id[14], '4');
}

/*
 * Each op of a group runs in its own savepoint, whose journal holds every
 * page the op changes: it stays in memory.  SQLite would otherwise move a
 * journal past 64 KiB to a temporary file (created, unlinked, written page
 * by page): watched here in the directory SQLite is told to use.
 */
static void
test_apply_group_writes_no_temporary_file(void **state)
{
	struct fixture *f = *state;
	struct eca_op ops[16];
	struct eca_err err;
	char tmp[80], host[32], ev[4096];
	char *was = sqlite3_temp_directory;
	int fd, i, k;
	ssize_t n;

	snprintf(tmp, sizeof(tmp), "%s/tmp", f->dir);
	assert_int_equal(mkdir(tmp, 0700), 0);
	fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	assert_true(fd >= 0);
	assert_true(inotify_add_watch(fd, tmp, IN_CREATE) >= 0);
	sqlite3_temp_directory = tmp;
	/* 640 enrollments: some ops split index pages, past 64 KiB. */
	for (k = 0; k < 40; k++) {
		for (i = 0; i < 16; i++) {
			snprintf(host, sizeof(host), "h%d-%d.example", k, i);
			op_enroll(f, &ops[i], host, (unsigned)(k * 16 + i + 1),
			    (unsigned)(k * 16 + i + 1));
		}
		assert_int_equal(eca_registry_apply(f->st, ops, 16, &err), 0);
		for (i = 0; i < 16; i++)
			assert_int_equal(ops[i].status, 0);
	}
	sqlite3_temp_directory = was;
	n = read(fd, ev, sizeof(ev));
	assert_true(n == -1 && errno == EAGAIN);
	close(fd);
	assert_int_equal(rmdir(tmp), 0);
}

static void
test_apply_of_empty_group_does_nothing(void **state)
{
	struct fixture *f = *state;
	struct eca_err err;

	assert_int_equal(eca_registry_apply(f->st, NULL, 0, &err), 0);
}

/* ---------------------------------------------------------------- */
/* Ban and unban: refusals first.                                    */

static void
test_apply_unban_of_unknown_host_is_not_found(void **state)
{
	struct fixture *f = *state;
	struct eca_op op;

	op_admin(f, &op, ECA_OP_UNBAN, "a.example");
	assert_int_equal(apply1(f, &op), ECA_ERR_NOT_FOUND);
	assert_non_null(strstr(op.err.msg, "not banned"));
	assert_int_equal(history_len(f, "a.example", NULL), 0);
}

static void
test_apply_unban_of_enrolled_host_is_not_found_and_writes_nothing(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment r;
	struct eca_op op;

	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	op_admin(f, &op, ECA_OP_UNBAN, "a.example");
	assert_int_equal(apply1(f, &op), ECA_ERR_NOT_FOUND);
	assert_int_equal(op.outcome, ECA_OUTCOME_NONE);
	get(f, "a.example", &r);
	assert_int_equal(r.state, ECA_STATE_ENROLLED);
	assert_int_equal(history_len(f, "a.example", NULL), 1);
}

static void
test_apply_banned_host_cannot_enroll_with_any_certificate(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment r;
	struct eca_op op;
	int64_t version;

	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	op_admin(f, &op, ECA_OP_BAN, "a.example");
	assert_int_equal(apply1(f, &op), 0);
	get(f, "a.example", &r);
	version = r.version;
	assert_int_equal(enroll(f, "a.example", 1, 1, &op), ECA_ERR_BANNED);
	assert_int_equal(enroll(f, "a.example", 2, 2, &op), ECA_ERR_BANNED);
	op_enroll(f, &op, "a.example", 3, 3);
	op.req.force = op.req.allow_force = 1;
	assert_int_equal(apply1(f, &op), ECA_ERR_BANNED);
	get(f, "a.example", &r);
	assert_int_equal(r.state, ECA_STATE_BANNED);
	assert_int_equal(r.version, version);
	assert_int_equal(history_len(f, "a.example", NULL), 2);
}

static void
test_apply_banned_host_cannot_remove_itself(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment r;
	struct eca_op op;
	char fp[ECA_FP_HEX_LEN + 1];

	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	snprintf(fp, sizeof(fp), "%s", op.rec.cert.fingerprint);
	op_admin(f, &op, ECA_OP_BAN, "a.example");
	assert_int_equal(apply1(f, &op), 0);
	op_admin(f, &op, ECA_OP_REMOVE, "a.example");
	snprintf(op.actor, sizeof(op.actor), "a.example");
	snprintf(op.require_fingerprint, sizeof(op.require_fingerprint), "%s",
	    fp);
	assert_int_equal(apply1(f, &op), ECA_ERR_BANNED);
	get(f, "a.example", &r);
	assert_int_equal(r.state, ECA_STATE_BANNED);
}

static void
test_apply_ban_of_unknown_host_creates_banned_record_without_cert(void **state)
{
	struct fixture *f = *state;
	struct eca_history_entry *h = NULL;
	struct eca_enrollment r;
	struct eca_op op;

	op_admin(f, &op, ECA_OP_BAN, "new.example");
	assert_int_equal(apply1(f, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_BANNED);
	get(f, "new.example", &r);
	assert_int_equal(r.state, ECA_STATE_BANNED);
	assert_int_equal(r.method, ECA_METHOD_ADMIN);
	assert_int_equal(strlen(r.host_id), ECA_HOST_ID_LEN);
	assert_string_equal(r.cert.fingerprint, "");
	assert_false(r.has_candidate);
	assert_int_equal(history_len(f, "new.example", &h), 1);
	assert_string_equal(h[0].event, "BAN");
	assert_string_equal(h[0].actor, "local:0");
	assert_int_equal(h[0].state, ECA_STATE_BANNED);
	free(h);
	/* and it cannot enroll later */
	assert_int_equal(enroll(f, "new.example", 1, 1, &op), ECA_ERR_BANNED);
	get(f, "new.example", &r);
	assert_int_equal(r.state, ECA_STATE_BANNED);
}

static void
test_apply_ban_keeps_certificate_and_candidate(void **state)
{
	struct fixture *f = *state;
	struct eca_history_entry *h = NULL;
	struct eca_enrollment r;
	struct eca_op op;
	char host_id[ECA_HOST_ID_LEN + 1], fp[ECA_FP_HEX_LEN + 1];

	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	snprintf(host_id, sizeof(host_id), "%s", op.rec.host_id);
	snprintf(fp, sizeof(fp), "%s", op.rec.cert.fingerprint);
	assert_int_equal(enroll(f, "a.example", 2, 2, &op), ECA_ERR_CONFLICT);
	op_admin(f, &op, ECA_OP_BAN, "a.example");
	assert_int_equal(apply1(f, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_BANNED);
	assert_int_equal(op.rec.state, ECA_STATE_BANNED);
	get(f, "a.example", &r);
	assert_int_equal(r.state, ECA_STATE_BANNED);
	assert_string_equal(r.host_id, host_id);
	assert_string_equal(r.cert.fingerprint, fp);
	assert_true(r.has_candidate);
	assert_int_equal(history_len(f, "a.example", &h), 3);
	assert_string_equal(h[2].event, "BAN");
	assert_string_equal(h[2].fingerprint, fp);
	free(h);
}

static void
test_apply_ban_of_banned_host_is_unchanged_and_writes_nothing(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment r;
	struct eca_op op;
	int64_t version;

	op_admin(f, &op, ECA_OP_BAN, "a.example");
	assert_int_equal(apply1(f, &op), 0);
	get(f, "a.example", &r);
	version = r.version;
	op_admin(f, &op, ECA_OP_BAN, "a.example");
	assert_int_equal(apply1(f, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_UNCHANGED);
	get(f, "a.example", &r);
	assert_int_equal(r.version, version);
	assert_int_equal(history_len(f, "a.example", NULL), 1);
}

static void
test_apply_unban_makes_host_removed_and_it_can_enroll_again(void **state)
{
	struct fixture *f = *state;
	struct eca_history_entry *h = NULL;
	struct eca_enrollment r;
	struct eca_op op;
	char host_id[ECA_HOST_ID_LEN + 1];

	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	snprintf(host_id, sizeof(host_id), "%s", op.rec.host_id);
	assert_int_equal(enroll(f, "a.example", 2, 2, &op), ECA_ERR_CONFLICT);
	op_admin(f, &op, ECA_OP_BAN, "a.example");
	assert_int_equal(apply1(f, &op), 0);
	op_admin(f, &op, ECA_OP_UNBAN, "a.example");
	assert_int_equal(apply1(f, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_UNBANNED);
	get(f, "a.example", &r);
	assert_int_equal(r.state, ECA_STATE_REMOVED);
	assert_false(r.has_candidate);
	assert_int_equal(history_len(f, "a.example", &h), 4);
	assert_string_equal(h[3].event, "UNBAN");
	assert_int_equal(h[3].state, ECA_STATE_REMOVED);
	free(h);
	assert_int_equal(enroll(f, "a.example", 2, 2, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_ENROLLED);
	assert_string_equal(op.rec.host_id, host_id);
}

static void
test_outcome_names_of_ban_and_unban(void **state)
{
	(void)state;
	assert_string_equal(eca_outcome_name(ECA_OUTCOME_BANNED), "BANNED");
	assert_string_equal(eca_outcome_name(ECA_OUTCOME_UNBANNED), "UNBANNED");
}

/* ---------------------------------------------------------------- */
/* REVOKE: the enrolled certificate found revoked (refusals first).  */

static void
op_revoke(struct fixture *f, struct eca_op *op, const char *host, unsigned leaf,
    unsigned key)
{
	op_admin(f, op, ECA_OP_REVOKE, host);
	op->actor[0] = '\0';
	fake_cert(&op->req.cert, leaf, key);
}

static void
test_apply_revoke_of_unknown_host_writes_nothing(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment r;
	struct eca_err err;
	struct eca_op op;

	op_revoke(f, &op, "a.example", 1, 1);
	assert_int_equal(apply1(f, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_UNCHANGED);
	assert_int_equal(eca_store_get(f->st, PRIMARY, "a.example", &r, &err),
	    ECA_ERR_NOT_FOUND);
}

static void
test_apply_revoke_of_another_certificate_writes_nothing(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment r;
	struct eca_op op;

	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	/* an older certificate of the same key, revoked: not the enrolled */
	op_revoke(f, &op, "a.example", 9, 1);
	assert_int_equal(apply1(f, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_UNCHANGED);
	get(f, "a.example", &r);
	assert_int_equal(r.state, ECA_STATE_ENROLLED);
	assert_int_equal(history_len(f, "a.example", NULL), 1);
}

static void
test_apply_revoke_of_banned_or_removed_host_writes_nothing(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment r;
	struct eca_op op;

	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	op_admin(f, &op, ECA_OP_BAN, "a.example");
	assert_int_equal(apply1(f, &op), 0);
	op_revoke(f, &op, "a.example", 1, 1);
	assert_int_equal(apply1(f, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_UNCHANGED);
	get(f, "a.example", &r);
	assert_int_equal(r.state, ECA_STATE_BANNED);

	assert_int_equal(enroll(f, "b.example", 2, 2, &op), 0);
	op_admin(f, &op, ECA_OP_REMOVE, "b.example");
	assert_int_equal(apply1(f, &op), 0);
	op_revoke(f, &op, "b.example", 2, 2);
	assert_int_equal(apply1(f, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_UNCHANGED);
	get(f, "b.example", &r);
	assert_int_equal(r.state, ECA_STATE_REMOVED);
}

static void
test_apply_revoke_of_revoked_host_is_unchanged_and_writes_nothing(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment before, r;
	struct eca_op op;

	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	op_revoke(f, &op, "a.example", 1, 1);
	assert_int_equal(apply1(f, &op), 0);
	get(f, "a.example", &before);
	op_revoke(f, &op, "a.example", 1, 1);
	assert_int_equal(apply1(f, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_UNCHANGED);
	get(f, "a.example", &r);
	assert_int_equal(r.version, before.version);
	assert_int_equal(history_len(f, "a.example", NULL), 2);
}

static void
test_apply_revoke_of_enrolled_certificate_makes_record_revoked(void **state)
{
	struct fixture *f = *state;
	struct eca_history_entry *h = NULL;
	struct eca_enrollment before, r;
	struct eca_op op;

	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	get(f, "a.example", &before);
	op_revoke(f, &op, "a.example", 1, 1);
	assert_int_equal(apply1(f, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_REVOKED);
	assert_int_equal(op.rec.state, ECA_STATE_REVOKED);
	get(f, "a.example", &r);
	assert_int_equal(r.state, ECA_STATE_REVOKED);
	assert_true(r.version > before.version);
	assert_string_equal(r.host_id, before.host_id);
	assert_string_equal(r.cert.fingerprint, before.cert.fingerprint);
	assert_int_equal(history_len(f, "a.example", &h), 2);
	assert_string_equal(h[1].event, "REVOKE");
	assert_int_equal(h[1].state, ECA_STATE_REVOKED);
	assert_string_equal(h[1].fingerprint, before.cert.fingerprint);
	/* the host's own name is the actor */
	assert_string_equal(h[1].actor, "a.example");
	free(h);
	/* the revoked certificate cannot enroll again */
	assert_int_equal(enroll(f, "a.example", 1, 1, &op), ECA_ERR_REVOKED);
	/* the journal names the outcome */
	assert_string_equal(eca_outcome_name(ECA_OUTCOME_REVOKED), "REVOKED");
}

static void
test_apply_revoke_of_conflict_keeps_candidate_for_a_decision(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment r;
	struct eca_op op;

	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	assert_int_equal(enroll(f, "a.example", 2, 2, &op), ECA_ERR_CONFLICT);
	op_revoke(f, &op, "a.example", 1, 1);
	assert_int_equal(apply1(f, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_REVOKED);
	get(f, "a.example", &r);
	assert_int_equal(r.state, ECA_STATE_REVOKED);
	assert_true(r.has_candidate);
	/* rejecting the candidate leaves the record REVOKED */
	op_decide(f, &op, ECA_OP_REJECT, "a.example", 2, 2);
	assert_int_equal(apply1(f, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_REJECTED);
	get(f, "a.example", &r);
	assert_int_equal(r.state, ECA_STATE_REVOKED);
	assert_false(r.has_candidate);
}

static void
op_mark_nat(struct fixture *f, struct eca_op *op, const char *host,
    unsigned leaf, unsigned key)
{
	op_admin(f, op, ECA_OP_MARK_NAT, host);
	snprintf(op->actor, sizeof(op->actor), "broker");
	fake_cert(&op->req.cert, leaf, key);
}

static void
test_apply_mark_nat_of_unknown_host_writes_nothing(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment r;
	struct eca_err err;
	struct eca_op op;

	op_mark_nat(f, &op, "a.example", 1, 1);
	assert_int_equal(apply1(f, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_UNCHANGED);
	assert_int_equal(eca_store_get(f->st, PRIMARY, "a.example", &r, &err),
	    ECA_ERR_NOT_FOUND);
}

static void
test_apply_mark_nat_with_another_certificate_or_state_writes_nothing(
    void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment r;
	struct eca_op op;

	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	/* a certificate the broker judged that is not the enrolled one */
	op_mark_nat(f, &op, "a.example", 9, 9);
	assert_int_equal(apply1(f, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_UNCHANGED);
	get(f, "a.example", &r);
	assert_int_equal(r.nat, 0);
	assert_int_equal(history_len(f, "a.example", NULL), 1);
	/* banned meanwhile: the record is not in use */
	op_admin(f, &op, ECA_OP_BAN, "a.example");
	assert_int_equal(apply1(f, &op), 0);
	op_mark_nat(f, &op, "a.example", 1, 1);
	assert_int_equal(apply1(f, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_UNCHANGED);
	get(f, "a.example", &r);
	assert_int_equal(r.nat, 0);
	assert_int_equal(r.state, ECA_STATE_BANNED);
}

static void
test_apply_mark_nat_sets_flag_once_with_history_and_version(void **state)
{
	struct fixture *f = *state;
	struct eca_history_entry *h = NULL;
	struct eca_enrollment before, r;
	struct eca_op op;

	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	get(f, "a.example", &before);
	assert_int_equal(before.nat, 0);
	op_mark_nat(f, &op, "a.example", 1, 1);
	assert_int_equal(apply1(f, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_NAT);
	get(f, "a.example", &r);
	assert_int_equal(r.nat, 1);
	assert_int_equal(r.state, ECA_STATE_ENROLLED);
	/* a new version: the roster's next delta carries the flag */
	assert_true(r.version > before.version);
	assert_string_equal(r.cert.fingerprint, before.cert.fingerprint);
	assert_int_equal(history_len(f, "a.example", &h), 2);
	assert_string_equal(h[1].event, "NAT");
	assert_string_equal(h[1].actor, "broker");
	free(h);
	/* again: the flag is set already, nothing is written */
	op_mark_nat(f, &op, "a.example", 1, 1);
	assert_int_equal(apply1(f, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_UNCHANGED);
	get(f, "a.example", &before);
	assert_int_equal(before.version, r.version);
	assert_int_equal(history_len(f, "a.example", NULL), 2);
	assert_string_equal(eca_outcome_name(ECA_OUTCOME_NAT), "NAT");
}

static void
test_apply_reject_of_conflict_on_revoked_record_returns_to_revoked(void **state)
{
	struct fixture *f = *state;
	struct eca_history_entry *h = NULL;
	struct eca_enrollment r;
	struct eca_op op;
	size_t n;

	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	op_revoke(f, &op, "a.example", 1, 1);
	assert_int_equal(apply1(f, &op), 0);
	/* a new certificate, then a newer one: both wait as conflicts */
	assert_int_equal(enroll(f, "a.example", 2, 2, &op), ECA_ERR_CONFLICT);
	assert_int_equal(enroll(f, "a.example", 3, 3, &op), ECA_ERR_CONFLICT);
	get(f, "a.example", &r);
	assert_int_equal(r.state, ECA_STATE_CONFLICT);
	assert_int_equal(r.ncandidates, 2);
	/* rejecting one: the other still waits, the record stays CONFLICT */
	op_decide(f, &op, ECA_OP_REJECT, "a.example", 3, 3);
	assert_int_equal(apply1(f, &op), 0);
	get(f, "a.example", &r);
	assert_int_equal(r.state, ECA_STATE_CONFLICT);
	assert_int_equal(r.ncandidates, 1);
	op_decide(f, &op, ECA_OP_REJECT, "a.example", 2, 2);
	assert_int_equal(apply1(f, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_REJECTED);
	get(f, "a.example", &r);
	assert_int_equal(r.state, ECA_STATE_REVOKED);
	assert_false(r.has_candidate);
	n = history_len(f, "a.example", &h);
	assert_string_equal(h[n - 1].event, "REJECT");
	assert_int_equal(h[n - 1].state, ECA_STATE_REVOKED);
	free(h);
	/* and the revoked certificate is still refused */
	assert_int_equal(enroll(f, "a.example", 1, 1, &op), ECA_ERR_REVOKED);
}

static void
test_apply_approve_of_conflict_on_revoked_record_enrolls_candidate(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment r;
	struct eca_op op;

	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	op_revoke(f, &op, "a.example", 1, 1);
	assert_int_equal(apply1(f, &op), 0);
	assert_int_equal(enroll(f, "a.example", 2, 2, &op), ECA_ERR_CONFLICT);
	op_decide(f, &op, ECA_OP_APPROVE, "a.example", 2, 2);
	assert_int_equal(apply1(f, &op), 0);
	get(f, "a.example", &r);
	assert_int_equal(r.state, ECA_STATE_ENROLLED);
	fake_cert(&r.candidate, 2, 2);
	assert_string_equal(r.cert.fingerprint, r.candidate.fingerprint);
}

/* ---------------------------------------------------------------- */
/* Candidates (issue 8 item 2): refusals first.                      */

static void
cands_of(struct eca_candidate *c, size_t n, unsigned first)
{
	size_t i;

	memset(c, 0, n * sizeof(*c));
	for (i = 0; i < n; i++)
		fake_cert(&c[i].cert, first + (unsigned)i, first + (unsigned)i);
}

static void
test_decide_ninth_candidate_is_refused(void **state)
{
	struct eca_candidate c[ECA_CANDIDATES_MAX];
	struct eca_enrollment ex;
	struct eca_enroll_req q;
	enum eca_enroll_outcome o;
	struct eca_err err;

	(void)state;
	make_rec(&ex, ECA_STATE_CONFLICT, 1, 1);
	cands_of(c, ECA_CANDIDATES_MAX, 10);
	make_req(&q, "h.example", 99, 99);
	assert_int_equal(
	    eca_enroll_decide(&ex, c, ECA_CANDIDATES_MAX, &q, &o, &err),
	    ECA_ERR_TOO_MANY_CANDIDATES);
	assert_int_equal(o, ECA_OUTCOME_NONE);
	assert_non_null(strstr(err.msg, "eca show h.example"));
	/* one of the eight again is still only a conflict */
	make_req(&q, "h.example", 13, 13);
	assert_int_equal(
	    eca_enroll_decide(&ex, c, ECA_CANDIDATES_MAX, &q, &o, &err),
	    ECA_ERR_CONFLICT);
	assert_int_equal(o, ECA_OUTCOME_CONFLICT);
	/* a revoked record counts its candidates too */
	ex.state = ECA_STATE_REVOKED;
	make_req(&q, "h.example", 99, 99);
	assert_int_equal(
	    eca_enroll_decide(&ex, c, ECA_CANDIDATES_MAX, &q, &o, &err),
	    ECA_ERR_TOO_MANY_CANDIDATES);
	/* the enrolled certificate is served whatever waits */
	make_req(&q, "h.example", 1, 1);
	ex.state = ECA_STATE_CONFLICT;
	assert_int_equal(
	    eca_enroll_decide(&ex, c, ECA_CANDIDATES_MAX, &q, &o, &err), 0);
	assert_int_equal(o, ECA_OUTCOME_UNCHANGED);
}

static void
test_candidate_find(void **state)
{
	struct eca_candidate c[3];

	(void)state;
	cands_of(c, 3, 5);
	assert_int_equal(eca_candidate_find(c, 3, c[2].cert.fingerprint), 2);
	assert_int_equal(eca_candidate_find(c, 3, "00"), -1);
	assert_int_equal(eca_candidate_find(NULL, 0, "00"), -1);
	assert_int_equal(eca_candidate_find(c, 3, NULL), -1);
}

static size_t
cands_n(struct fixture *f, const char *host)
{
	struct eca_candidate *c = NULL;
	struct eca_err err;
	size_t n = 0;

	assert_int_equal(
	    eca_store_candidates(f->st, PRIMARY, host, &c, &n, &err), 0);
	free(c);
	return n;
}

static void
test_apply_decision_without_fingerprint_is_refused(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment r;
	struct eca_op op;

	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	assert_int_equal(enroll(f, "a.example", 2, 2, &op), ECA_ERR_CONFLICT);
	op_admin(f, &op, ECA_OP_APPROVE, "a.example");
	assert_int_equal(apply1(f, &op), ECA_ERR_FINGERPRINT_REQUIRED);
	op_admin(f, &op, ECA_OP_REJECT, "a.example");
	assert_int_equal(apply1(f, &op), ECA_ERR_FINGERPRINT_REQUIRED);
	get(f, "a.example", &r);
	assert_int_equal(r.state, ECA_STATE_CONFLICT);
	assert_int_equal(cands_n(f, "a.example"), 1);
}

static void
test_apply_decision_on_fingerprint_not_waiting_is_not_found(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment r, before;
	struct eca_op op;

	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	assert_int_equal(enroll(f, "a.example", 2, 2, &op), ECA_ERR_CONFLICT);
	get(f, "a.example", &before);
	/* the enrolled certificate is not a candidate either */
	op_decide(f, &op, ECA_OP_APPROVE, "a.example", 1, 1);
	assert_int_equal(apply1(f, &op), ECA_ERR_NOT_FOUND);
	assert_non_null(strstr(op.err.msg, "eca show a.example"));
	op_decide(f, &op, ECA_OP_REJECT, "a.example", 7, 7);
	assert_int_equal(apply1(f, &op), ECA_ERR_NOT_FOUND);
	get(f, "a.example", &r);
	assert_int_equal(r.version, before.version);
	assert_int_equal(cands_n(f, "a.example"), 1);
}

static void
test_apply_ninth_candidate_is_refused_and_not_kept(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment r, before;
	struct eca_op op;
	unsigned i;

	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	for (i = 0; i < ECA_CANDIDATES_MAX; i++)
		assert_int_equal(enroll(f, "a.example", 10 + i, 10 + i, &op),
		    ECA_ERR_CONFLICT);
	get(f, "a.example", &before);
	assert_int_equal(before.ncandidates, ECA_CANDIDATES_MAX);
	assert_int_equal(enroll(f, "a.example", 99, 99, &op),
	    ECA_ERR_TOO_MANY_CANDIDATES);
	assert_int_equal(op.outcome, ECA_OUTCOME_NONE);
	get(f, "a.example", &r);
	assert_int_equal(r.version, before.version);
	assert_int_equal(cands_n(f, "a.example"), ECA_CANDIDATES_MAX);
	/* each of the eight again is still a sighting */
	assert_int_equal(enroll(f, "a.example", 12, 12, &op), ECA_ERR_CONFLICT);
	assert_int_equal(cands_n(f, "a.example"), ECA_CANDIDATES_MAX);
}

/* Candidates: positive cases. */

static void
test_apply_approve_enrolls_exactly_the_named_candidate(void **state)
{
	struct fixture *f = *state;
	struct eca_history_entry *h = NULL;
	struct eca_candidate *c = NULL;
	struct eca_enrollment r;
	struct eca_certinfo ci;
	struct eca_err err;
	struct eca_op op;
	size_t n = 0, k;

	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	assert_int_equal(enroll(f, "a.example", 2, 2, &op), ECA_ERR_CONFLICT);
	assert_int_equal(enroll(f, "a.example", 3, 3, &op), ECA_ERR_CONFLICT);
	assert_int_equal(enroll(f, "a.example", 4, 4, &op), ECA_ERR_CONFLICT);
	/* the oldest, not the newest */
	op_decide(f, &op, ECA_OP_APPROVE, "a.example", 2, 2);
	assert_int_equal(apply1(f, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_APPROVED);
	fake_cert(&ci, 2, 2);
	assert_string_equal(op.req.cert.fingerprint, ci.fingerprint);
	get(f, "a.example", &r);
	assert_string_equal(r.cert.fingerprint, ci.fingerprint);
	assert_int_equal(r.method, ECA_METHOD_ADMIN);
	/* the others still wait: still a conflict */
	assert_int_equal(r.state, ECA_STATE_CONFLICT);
	assert_int_equal(r.ncandidates, 2);
	assert_true(r.has_candidate);
	fake_cert(&ci, 4, 4);
	assert_string_equal(r.candidate.fingerprint, ci.fingerprint);
	assert_int_equal(
	    eca_store_candidates(f->st, PRIMARY, "a.example", &c, &n, &err), 0);
	assert_int_equal(n, 2);
	fake_cert(&ci, 3, 3);
	assert_string_equal(c[0].cert.fingerprint, ci.fingerprint);
	free(c);
	/* reject the rest one by one: back to ENROLLED with the approved */
	op_decide(f, &op, ECA_OP_REJECT, "a.example", 4, 4);
	assert_int_equal(apply1(f, &op), 0);
	get(f, "a.example", &r);
	assert_int_equal(r.state, ECA_STATE_CONFLICT);
	assert_int_equal(r.ncandidates, 1);
	fake_cert(&ci, 3, 3);
	assert_string_equal(r.candidate.fingerprint, ci.fingerprint);
	op_decide(f, &op, ECA_OP_REJECT, "a.example", 3, 3);
	assert_int_equal(apply1(f, &op), 0);
	get(f, "a.example", &r);
	assert_int_equal(r.state, ECA_STATE_ENROLLED);
	assert_int_equal(r.ncandidates, 0);
	assert_false(r.has_candidate);
	fake_cert(&ci, 2, 2);
	assert_string_equal(r.cert.fingerprint, ci.fingerprint);
	/* every decision has its history entry naming its certificate */
	n = history_len(f, "a.example", &h);
	for (k = 0; k < n && strcmp(h[k].event, "APPROVE") != 0; k++)
		;
	assert_true(k + 2 < n);
	assert_string_equal(h[k].fingerprint, ci.fingerprint);
	assert_string_equal(h[k + 1].event, "REJECT");
	fake_cert(&ci, 4, 4);
	assert_string_equal(h[k + 1].fingerprint, ci.fingerprint);
	free(h);
}

static void
test_apply_forced_reenrollment_drops_every_candidate(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment r;
	struct eca_op op;

	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	assert_int_equal(enroll(f, "a.example", 2, 2, &op), ECA_ERR_CONFLICT);
	assert_int_equal(enroll(f, "a.example", 3, 3, &op), ECA_ERR_CONFLICT);
	op_enroll(f, &op, "a.example", 5, 5);
	op.req.force = 1;
	op.req.allow_force = 1;
	assert_int_equal(apply1(f, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_FORCED);
	get(f, "a.example", &r);
	assert_int_equal(r.state, ECA_STATE_ENROLLED);
	assert_int_equal(r.ncandidates, 0);
	assert_int_equal(cands_n(f, "a.example"), 0);
}

/* ---------------------------------------------------------------- */
/* DN mappings (issue 8 item 7).                                     */

static void
op_map(struct fixture *f, struct eca_op *op, enum eca_op_type type,
    const char *host, const char *subject)
{
	op_admin(f, op, type, host);
	if (subject != NULL)
		snprintf(op->map.subject, sizeof(op->map.subject), "%s",
		    subject);
}

static void
test_map_remove_of_unmapped_host_is_not_found(void **state)
{
	struct fixture *f = *state;
	struct eca_op op;

	op_map(f, &op, ECA_OP_MAP_REMOVE, "a.example", NULL);
	assert_int_equal(apply1(f, &op), ECA_ERR_NOT_FOUND);
	assert_non_null(strstr(op.err.msg, "eca map list"));
}

static void
test_map_of_a_subject_to_a_second_host_is_refused(void **state)
{
	struct fixture *f = *state;
	struct eca_dnmap m;
	struct eca_err err;
	struct eca_op op;

	op_map(f, &op, ECA_OP_MAP_ADD, "a.example", "CN=A");
	assert_int_equal(apply1(f, &op), 0);
	op_map(f, &op, ECA_OP_MAP_ADD, "b.example", "CN=A");
	assert_int_equal(apply1(f, &op), ECA_ERR_MAPPING_EXISTS);
	assert_non_null(strstr(op.err.msg, "mapped to host a.example"));
	/* and a host to a second subject */
	op_map(f, &op, ECA_OP_MAP_ADD, "a.example", "CN=Other");
	assert_int_equal(apply1(f, &op), ECA_ERR_MAPPING_EXISTS);
	assert_int_equal(
	    eca_store_dnmap_by_subject(f->st, PRIMARY, "CN=Other", &m, &err),
	    ECA_ERR_NOT_FOUND);
}

static void
test_map_add_again_is_unchanged_and_remove_then_remap(void **state)
{
	struct fixture *f = *state;
	struct eca_dnmap m;
	struct eca_err err;
	struct eca_op op;
	int64_t v;

	op_map(f, &op, ECA_OP_MAP_ADD, "a.example", "CN=A");
	snprintf(op.actor, sizeof(op.actor), "CN=admin");
	assert_int_equal(apply1(f, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_MAPPED);
	assert_string_equal(op.map.host, "a.example");
	assert_string_equal(op.map.actor, "CN=admin");
	v = op.map.version;
	assert_true(v > 0);
	op_map(f, &op, ECA_OP_MAP_ADD, "a.example", "CN=A");
	assert_int_equal(apply1(f, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_UNCHANGED);
	assert_int_equal(op.map.version, v);
	op_map(f, &op, ECA_OP_MAP_REMOVE, "a.example", NULL);
	assert_int_equal(apply1(f, &op), 0);
	assert_int_equal(op.outcome, ECA_OUTCOME_UNMAPPED);
	assert_string_equal(op.map.subject, "CN=A");
	assert_true(op.map.version > v);
	assert_int_equal(
	    eca_store_dnmap_by_host(f->st, PRIMARY, "a.example", &m, &err),
	    ECA_ERR_NOT_FOUND);
	/* the subject is free for another host now */
	op_map(f, &op, ECA_OP_MAP_ADD, "b.example", "CN=A");
	assert_int_equal(apply1(f, &op), 0);
	assert_int_equal(
	    eca_store_dnmap_by_subject(f->st, PRIMARY, "CN=A", &m, &err), 0);
	assert_string_equal(m.host, "b.example");
	assert_string_equal(eca_outcome_name(ECA_OUTCOME_MAPPED), "MAPPED");
}

/* ---------------------------------------------------------------- */
/* The revocation rule: which record a revoked certificate takes.    */

/* Certificate (leaf, key) naming hosts by cn and san. */
static void
named_cert(struct eca_certinfo *ci, unsigned leaf, unsigned key, const char *cn,
    const char *san)
{
	fake_cert(ci, leaf, key);
	snprintf(ci->cn, sizeof(ci->cn), "%s", cn);
	snprintf(ci->san_inline, sizeof(ci->san_inline), "%s", san);
}

static int
revoke_target(struct fixture *f, const struct eca_certinfo *ci,
    enum eca_identity id, char *host)
{
	return eca_enroll_revoke_target(f->st, PRIMARY, ci, id, host,
	    ECA_HOST_MAX);
}

static void
test_revoke_target_without_fingerprint_or_record_is_not_found(void **state)
{
	struct fixture *f = *state;
	struct eca_certinfo ci;
	struct eca_op op;
	char host[ECA_HOST_MAX];

	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	named_cert(&ci, 1, 1, "a.example", "a.example");
	ci.fingerprint[0] = '\0';
	assert_int_equal(revoke_target(f, &ci, ECA_ID_SAN, host),
	    ECA_ERR_NOT_FOUND);
	/* a host with no record */
	named_cert(&ci, 1, 1, "nobody.example", "nobody.example");
	assert_int_equal(revoke_target(f, &ci, ECA_ID_SAN, host),
	    ECA_ERR_NOT_FOUND);
	/* a host whose enrolled certificate is another one */
	named_cert(&ci, 2, 2, "a.example", "a.example");
	assert_int_equal(revoke_target(f, &ci, ECA_ID_SAN, host),
	    ECA_ERR_NOT_FOUND);
	assert_string_equal(host, "");
}

static void
test_revoke_target_skips_records_not_in_use(void **state)
{
	struct fixture *f = *state;
	struct eca_certinfo ci;
	struct eca_op op;
	char host[ECA_HOST_MAX];

	assert_int_equal(enroll(f, "removed.example", 1, 1, &op), 0);
	op_admin(f, &op, ECA_OP_REMOVE, "removed.example");
	assert_int_equal(apply1(f, &op), 0);
	assert_int_equal(enroll(f, "banned.example", 2, 2, &op), 0);
	op_admin(f, &op, ECA_OP_BAN, "banned.example");
	assert_int_equal(apply1(f, &op), 0);
	assert_int_equal(enroll(f, "revoked.example", 3, 3, &op), 0);
	op_revoke(f, &op, "revoked.example", 3, 3);
	assert_int_equal(apply1(f, &op), 0);
	named_cert(&ci, 1, 1, "removed.example", "");
	assert_int_equal(revoke_target(f, &ci, ECA_ID_CN, host),
	    ECA_ERR_NOT_FOUND);
	named_cert(&ci, 2, 2, "banned.example", "");
	assert_int_equal(revoke_target(f, &ci, ECA_ID_CN, host),
	    ECA_ERR_NOT_FOUND);
	named_cert(&ci, 3, 3, "revoked.example", "");
	assert_int_equal(revoke_target(f, &ci, ECA_ID_CN, host),
	    ECA_ERR_NOT_FOUND);
}

static void
test_revoke_target_is_the_first_named_host_holding_it(void **state)
{
	struct fixture *f = *state;
	struct eca_certinfo ci;
	struct eca_op op;
	char host[ECA_HOST_MAX];

	assert_int_equal(enroll(f, "other.example", 5, 5, &op), 0);
	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	/* a CN that is no host name names nothing; names are folded */
	named_cert(&ci, 1, 1, "Backup Client 7", "other.example,A.Example");
	assert_int_equal(revoke_target(f, &ci, ECA_ID_SAN, host), 0);
	assert_string_equal(host, "a.example");
	/* a CONFLICT record still serves its enrolled certificate */
	assert_int_equal(enroll(f, "a.example", 2, 2, &op), ECA_ERR_CONFLICT);
	assert_int_equal(revoke_target(f, &ci, ECA_ID_SAN, host), 0);
	assert_string_equal(host, "a.example");
	/* a waiting certificate is not the enrolled one */
	named_cert(&ci, 2, 2, "a.example", "a.example");
	assert_int_equal(revoke_target(f, &ci, ECA_ID_SAN, host),
	    ECA_ERR_NOT_FOUND);
}

static void
test_revoke_target_under_dn_is_only_the_mapped_host(void **state)
{
	struct fixture *f = *state;
	struct eca_certinfo ci;
	struct eca_op op;
	char host[ECA_HOST_MAX];

	assert_int_equal(enroll(f, "a.example", 1, 1, &op), 0);
	assert_int_equal(enroll(f, "b.example", 1, 1, &op), 0);
	named_cert(&ci, 1, 1, "a.example", "a.example");
	snprintf(ci.subject, sizeof(ci.subject), "CN=A");
	/* no mapping: the names in the certificate do not count */
	assert_int_equal(revoke_target(f, &ci, ECA_ID_DN, host),
	    ECA_ERR_NOT_FOUND);
	op_map(f, &op, ECA_OP_MAP_ADD, "b.example", "CN=A");
	assert_int_equal(apply1(f, &op), 0);
	assert_int_equal(revoke_target(f, &ci, ECA_ID_DN, host), 0);
	assert_string_equal(host, "b.example");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

#define U(f) cmocka_unit_test(f)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    U(test_decide_table_covers_every_case),
	    U(test_decide_answers_every_case_of_its_table),
	    U(test_outcome_names_are_upper_case),
	    U(test_uuid_is_random_version_4),
	    T(test_apply_remove_of_unknown_host_is_not_enrolled),
	    T(test_apply_remove_of_removed_host_is_not_enrolled),
	    T(test_apply_remove_with_wrong_fingerprint_is_refused),
	    T(test_apply_remove_of_banned_host_is_refused),
	    T(test_apply_approve_without_conflict_is_not_found),
	    T(test_apply_force_not_allowed_writes_nothing),
	    T(test_apply_one_failing_op_does_not_disturb_the_group),
	    T(test_apply_when_transaction_cannot_start_fails_every_op),
	    T(test_apply_enroll_creates_record_and_history),
	    T(test_apply_same_cert_updates_only_last_seen),
	    T(test_apply_renewal_keeps_host_id_and_adds_history),
	    T(test_apply_conflict_is_persisted_with_candidate),
	    T(test_apply_approve_makes_candidate_enrolled),
	    T(test_apply_reject_drops_candidate_and_returns_to_enrolled),
	    T(test_apply_forced_reenrollment_when_allowed),
	    T(test_apply_host_id_is_stable_across_remove_and_reenroll),
	    T(test_apply_nat_flag_is_recorded_kept_and_reset_on_reenrollment),
	    T(test_apply_admin_remove_drops_the_candidate),
	    T(test_apply_new_hosts_get_distinct_host_ids),
	    T(test_apply_group_writes_no_temporary_file),
	    T(test_apply_of_empty_group_does_nothing),
	    T(test_apply_unban_of_unknown_host_is_not_found),
	    U(test_decide_ninth_candidate_is_refused),
	    U(test_candidate_find),
	    T(test_apply_decision_without_fingerprint_is_refused),
	    T(test_apply_decision_on_fingerprint_not_waiting_is_not_found),
	    T(test_apply_ninth_candidate_is_refused_and_not_kept),
	    T(test_map_remove_of_unmapped_host_is_not_found),
	    T(test_map_of_a_subject_to_a_second_host_is_refused),
	    T(test_apply_approve_enrolls_exactly_the_named_candidate),
	    T(test_apply_forced_reenrollment_drops_every_candidate),
	    T(test_map_add_again_is_unchanged_and_remove_then_remap),
	    T(test_apply_unban_of_enrolled_host_is_not_found_and_writes_nothing),
	    T(test_apply_banned_host_cannot_enroll_with_any_certificate),
	    T(test_apply_banned_host_cannot_remove_itself),
	    T(test_apply_ban_of_unknown_host_creates_banned_record_without_cert),
	    T(test_apply_ban_keeps_certificate_and_candidate),
	    T(test_apply_ban_of_banned_host_is_unchanged_and_writes_nothing),
	    T(test_apply_unban_makes_host_removed_and_it_can_enroll_again),
	    U(test_outcome_names_of_ban_and_unban),
	    T(test_apply_revoke_of_unknown_host_writes_nothing),
	    T(test_apply_revoke_of_another_certificate_writes_nothing),
	    T(test_apply_revoke_of_banned_or_removed_host_writes_nothing),
	    T(test_apply_revoke_of_revoked_host_is_unchanged_and_writes_nothing),
	    T(test_apply_revoke_of_enrolled_certificate_makes_record_revoked),
	    T(test_apply_revoke_of_conflict_keeps_candidate_for_a_decision),
	    T(test_apply_mark_nat_of_unknown_host_writes_nothing),
	    T(test_apply_mark_nat_with_another_certificate_or_state_writes_nothing),
	    T(test_apply_mark_nat_sets_flag_once_with_history_and_version),
	    T(test_apply_reject_of_conflict_on_revoked_record_returns_to_revoked),
	    T(test_apply_approve_of_conflict_on_revoked_record_enrolls_candidate),
	    T(test_revoke_target_without_fingerprint_or_record_is_not_found),
	    T(test_revoke_target_skips_records_not_in_use),
	    T(test_revoke_target_is_the_first_named_host_holding_it),
	    T(test_revoke_target_under_dn_is_only_the_mapped_host),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
