/* SPDX-License-Identifier: ISC */
/*
 * crl_verify.c - the revocation verdict.
 *
 * The verdict is OpenSSL's own CRL check (X509_V_FLAG_CRL_CHECK, or
 * _CRL_CHECK_ALL for CHAIN) over the cached CRLs handed in with
 * X509_STORE_CTX_set0_crls(); a verify callback turns the few errors
 * that policy may excuse (an expired CRL in its grace period, no CRL with
 * fail-open, the root which nobody revokes) into warnings.  Before it,
 * the CRLs due are fetched (crl_fetch.c); a clean verdict is remembered
 * for the exact chain while the cache holds the same CRLs.
 */
#include "crl_impl.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "text.h"
#include "x509.h"

#define CRL_REMEDY                                                             \
	"publish the CA's current CRL in ECA_CRL_PATH or at "                  \
	"the certificate's CRL distribution point, then run `eca crl "         \
	"download`"

/* What the verify callback saw. */
struct vstate {
	const struct eca_crl_cache *c;
	time_t now;
	int in_grace;
	int failed_open;
	char note[256];
	char revoked[ECA_ERR_MSG_MAX / 2];
};

/* t for people ("2026-12-02 16:44:50 UTC"), or "an unknown date". */
static void
asn1_utc(const ASN1_TIME *t, char *buf, size_t size)
{
	int64_t v;

	if (eca_x509_time(t, &v) != 0)
		eca_text_fmt(buf, size, "an unknown date");
	else
		eca_text_utc(v, buf, size);
}

static int
is_self_signed(X509 *x)
{
	return (X509_get_extension_flags(x) & EXFLAG_SS) != 0;
}

/* The errors that say a CRL is missing or unusable, not the certificate. */
static int
is_crl_error(int e)
{
	switch (e) {
	case X509_V_ERR_UNABLE_TO_GET_CRL:
	case X509_V_ERR_CRL_HAS_EXPIRED:
	case X509_V_ERR_CRL_NOT_YET_VALID:
	case X509_V_ERR_CRL_SIGNATURE_FAILURE:
	case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
	case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
	case X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD:
	case X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD:
	case X509_V_ERR_KEYUSAGE_NO_CRL_SIGN:
	case X509_V_ERR_DIFFERENT_CRL_SCOPE:
	case X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION:
	case X509_V_ERR_CRL_PATH_VALIDATION_ERROR:
		return 1;
	default:
		return 0;
	}
}

/* An expired CRL inside ECA_CRL_GRACE_HOURS is used, with a note. */
static int
excuse_grace(struct vstate *vs, X509_CRL *crl, const char *subj)
{
	char when[ECA_TEXT_TIME_LEN];
	time_t next = crl != NULL ? crl_next(crl) : 0;

	if (next == 0 || vs->now - next > (time_t)vs->c->grace_hours * 3600)
		return 0;
	vs->in_grace = 1;
	asn1_utc(X509_CRL_get0_nextUpdate(crl), when, sizeof(when));
	eca_text_fmt(vs->note, sizeof(vs->note),
	    "the CRL for %s expired on %s "
	    "and is used in its grace period (ECA_CRL_GRACE_HOURS = "
	    "%d): " CRL_REMEDY,
	    subj, when, vs->c->grace_hours);
	return 1;
}

/* ECA_CRL_FAIL_OPEN: no usable CRL is accepted, with a note. */
static int
excuse_fail_open(struct vstate *vs, int e, const char *subj)
{
	if (!vs->c->fail_open || !is_crl_error(e))
		return 0;
	vs->failed_open = 1;
	eca_text_fmt(vs->note, sizeof(vs->note),
	    "no usable CRL for %s (%s); "
	    "accepted because ECA_CRL_FAIL_OPEN = YES",
	    subj, X509_verify_cert_error_string(e));
	return 1;
}

/* What the refusal of a revoked certificate names: serial and date. */
static void
note_revoked(struct vstate *vs, X509 *x, X509_CRL *crl, const char *subj)
{
	X509_REVOKED *rev = NULL;
	char when[ECA_TEXT_TIME_LEN], serial[132] = "?";
	BIGNUM *bn;
	char *hex;

	if (x != NULL && crl != NULL &&
	    X509_CRL_get0_by_cert(crl, &rev, x) == 1 && rev != NULL)
		asn1_utc(X509_REVOKED_get0_revocationDate(rev), when,
		    sizeof(when));
	else
		eca_text_fmt(when, sizeof(when), "an unknown date");
	if (x != NULL &&
	    (bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) !=
		NULL) {
		if ((hex = BN_bn2hex(bn)) != NULL) {
			eca_text_fmt(serial, sizeof(serial), "%s", hex);
			OPENSSL_free(hex);
		}
		BN_free(bn);
	}
	eca_text_fmt(vs->revoked, sizeof(vs->revoked),
	    "certificate %s (serial "
	    "%s) was revoked on %s",
	    subj, serial, when);
}

/*
 * Excuse what policy allows; record what a refusal must name.  Errors
 * other than these were already judged by eca_x509_verify().
 */
static int
verify_cb(int ok, X509_STORE_CTX *ctx)
{
	struct vstate *vs = X509_STORE_CTX_get_app_data(ctx);
	X509 *x = X509_STORE_CTX_get_current_cert(ctx);
	X509_CRL *crl = X509_STORE_CTX_get0_current_crl(ctx);
	char subj[ECA_DN_MAX];
	int e;

	if (ok || vs == NULL)
		return ok;
	e = X509_STORE_CTX_get_error(ctx);
	crl_name_str(x != NULL ? X509_get_subject_name(x) : NULL, subj,
	    sizeof(subj));
	switch (e) {
	case X509_V_ERR_UNABLE_TO_GET_CRL:
		/* A trust anchor is not revoked by a CRL: it is removed. */
		if (x != NULL && is_self_signed(x))
			return 1;
		break;
	case X509_V_ERR_CRL_HAS_EXPIRED:
		if (excuse_grace(vs, crl, subj))
			return 1;
		break;
	case X509_V_ERR_CERT_REVOKED:
		note_revoked(vs, x, crl, subj);
		return 0;
	default:
		break;
	}
	return excuse_fail_open(vs, e, subj);
}

/* The verified chain of leaf (leaf first, trust anchor last). */
static int
build_chain(struct eca_crl_cache *c, X509_STORE *trust, X509 *leaf,
    STACK_OF(X509) *chain, time_t now, STACK_OF(X509) **out,
    struct eca_err *err)
{
	X509_STORE_CTX *ctx = NULL;
	int r = 0;

	*out = NULL;
	if ((ctx = X509_STORE_CTX_new_ex(c->libctx, NULL)) == NULL ||
	    X509_STORE_CTX_init(ctx, trust, leaf, chain) != 1) {
		r = eca_err_set(err, ECA_ERR_NOMEM,
		    "cannot set up the "
		    "revocation check");
		goto out;
	}
	X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), now);
	if (X509_verify_cert(ctx) != 1 ||
	    (*out = X509_STORE_CTX_get1_chain(ctx)) == NULL) {
		r = eca_err_set(err, ECA_ERR_UNTRUSTED,
		    "the certificate does "
		    "not chain to the trust store, so its revocation status "
		    "cannot be checked: %s",
		    X509_verify_cert_error_string(
			X509_STORE_CTX_get_error(ctx)));
		goto out;
	}
out:
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return r;
}

/* How many certificates of full level checks: the anchor (last) never. */
static int
checked(enum eca_crl_check level, STACK_OF(X509) *full)
{
	return level == ECA_CRL_LEAF ? 1 : sk_X509_num(full) - 1;
}

/* fetch_due's answer to a caller that may not wait, when one is due. */
#define DUE_WOULD_WAIT (-1)

/*
 * Before the verdict: fetch the CRLs of the CAs that issued the checked
 * certificates when missing, expired or due for refresh, at most once per
 * ECA_CRL_RETRY_SEC per CA, and sync ECA_CRL_PATH when it is due.
 * Returns how many CRLs it loaded, fetched or tried to: 0 when the cache
 * is as it was.  nowait: DUE_WOULD_WAIT instead of the first fetch or
 * sync, nothing claimed (files another process stored are still loaded:
 * that waits for no network).
 */
static int
fetch_due(struct eca_crl_cache *c, X509_STORE *trust, STACK_OF(X509) *full,
    int ncheck, time_t now, int nowait)
{
	struct eca_err e;
	unsigned long h;
	struct ent *ent;
	X509 *x, *issuer;
	int i, due, changed = 0;

	if (c->no_fetch)
		return 0;
	if (crl_sync_due(c, now, !nowait)) {
		if (nowait)
			return DUE_WOULD_WAIT;
		changed++;
		eca_err_clear(&e);
		if (eca_crl_cache_sync_path(c, trust, full, NULL, NULL, &e) !=
		    0)
			log_warn("%s", e.msg);
	}
	for (i = 0; i < ncheck && i + 1 < sk_X509_num(full); i++) {
		x = sk_X509_value(full, i);
		issuer = sk_X509_value(full, i + 1);
		if ((h = crl_name_hash(c, X509_get_subject_name(issuer))) == 0)
			continue;
		/* Another process (eca crl download) may have cached it. */
		changed += crl_reload_changed(c, h);
		pthread_mutex_lock(&c->lock);
		due = (ent = crl_ent_find(c, h)) != NULL &&
		    (nowait ? crl_ent_due(c, ent, now) :
			      crl_ent_claim(c, ent, now));
		pthread_mutex_unlock(&c->lock);
		if (!due)
			continue;
		if (nowait)
			return DUE_WOULD_WAIT;
		changed++;
		eca_err_clear(&e);
		if (crl_fetch_for(c, trust, full, x, ECA_CRL_CHECK_TIMEOUT_MS,
			NULL, &e) != 0)
			log_warn("cannot refresh the CRL for %08lx: %s", h,
			    e.msg);
	}
	return changed;
}

/* One verification with the CRLs cached at the time (crl_verify). */
struct crl_run {
	X509_STORE_CTX *ctx;	  /* the error, the chain it built */
	STACK_OF(X509_CRL) *crls; /* the CRLs it used (ctx borrows) */
	struct vstate vs;	  /* grace and fail-open notes */
	uint64_t gen;		  /* the cache's gen for crls */
	int ok;			  /* 1: it verified */
};

static void
crl_run_clear(struct crl_run *run)
{
	X509_STORE_CTX_free(run->ctx);
	sk_X509_CRL_pop_free(run->crls, X509_CRL_free);
	memset(run, 0, sizeof(*run));
}

/*
 * Verify leaf's chain against trust with the CRLs cached now, into run
 * (cleared first; the caller clears it after).  0, or an error when the
 * verification could not be set up; run->ok says how it went.
 */
static int
crl_verify(struct eca_crl_cache *c, X509_STORE *trust, X509 *leaf,
    STACK_OF(X509) *chain, enum eca_crl_check level, time_t now,
    struct crl_run *run, struct eca_err *err)
{
	X509_VERIFY_PARAM *param;
	unsigned long flags;
	size_t i;

	crl_run_clear(run);
	if ((run->crls = sk_X509_CRL_new_null()) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->n; i++) {
		if (c->ents[i].crl == NULL ||
		    X509_CRL_up_ref(c->ents[i].crl) != 1)
			continue;
		if (sk_X509_CRL_push(run->crls, c->ents[i].crl) <= 0)
			X509_CRL_free(c->ents[i].crl);
	}
	run->gen = c->gen;
	pthread_mutex_unlock(&c->lock);

	run->vs.c = c;
	run->vs.now = now;
	if ((run->ctx = X509_STORE_CTX_new_ex(c->libctx, NULL)) == NULL ||
	    X509_STORE_CTX_init(run->ctx, trust, leaf, chain) != 1) {
		ERR_clear_error();
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "cannot set up the "
		    "revocation check");
	}
	X509_STORE_CTX_set0_crls(run->ctx, run->crls);
	X509_STORE_CTX_set_verify_cb(run->ctx, verify_cb);
	X509_STORE_CTX_set_app_data(run->ctx, &run->vs);
	param = X509_STORE_CTX_get0_param(run->ctx);
	flags = X509_V_FLAG_X509_STRICT | X509_V_FLAG_CRL_CHECK;
	if (level == ECA_CRL_CHAIN)
		flags |= X509_V_FLAG_CRL_CHECK_ALL;
	X509_VERIFY_PARAM_set_flags(param, flags);
	X509_VERIFY_PARAM_set_depth(param, ECA_CHAIN_MAX);
	X509_VERIFY_PARAM_set_time(param, now);
	run->ok = X509_verify_cert(run->ctx) == 1;
	ERR_clear_error();
	return 0;
}

/* The slot of the verdict for key. */
static struct result *
result_slot(struct eca_crl_cache *c, const uint8_t *key)
{
	uint64_t h;

	memcpy(&h, key, sizeof(h));
	return &c->results[h % RESULT_SLOTS];
}

/*
 * A remembered verdict for key at level, if the cache still holds the
 * CRLs it was reached with and now is inside its window: 1 and *full (a
 * copy of the chain, the caller's), else 0.
 */
static int
result_get(struct eca_crl_cache *c, X509_STORE *trust, const uint8_t *key,
    enum eca_crl_check level, time_t now, STACK_OF(X509) **full)
{
	struct result *res;
	int hit;

	*full = NULL;
	pthread_mutex_lock(&c->lock);
	res = result_slot(c, key);
	hit = res->used && res->level == level && res->trust == trust &&
	    res->gen == c->gen && (int64_t)now >= res->from &&
	    (int64_t)now < res->until &&
	    memcmp(res->key, key, ECA_VCACHE_KEY_LEN) == 0 &&
	    (*full = X509_chain_up_ref(res->full)) != NULL;
	if (hit)
		c->hits++;
	else
		c->misses++;
	pthread_mutex_unlock(&c->lock);
	return hit;
}

/*
 * Remember a clean verdict of run (the chain it built is full): valid
 * while the cache holds run's CRLs, from the latest lastUpdate and
 * notBefore to the earliest nextUpdate and notAfter among them.
 */
static void
result_put(struct eca_crl_cache *c, X509_STORE *trust, const uint8_t *key,
    enum eca_crl_check level, const struct crl_run *run, STACK_OF(X509) *full)
{
	STACK_OF(X509) *copy;
	struct result *res;
	const ASN1_TIME *t;
	X509_CRL *crl;
	int64_t w[2], from, until, v;
	int i;

	if (eca_x509_chain_window(full, w) != 0)
		return;
	from = w[0];
	until = w[1];
	for (i = 0; i < sk_X509_CRL_num(run->crls); i++) {
		crl = sk_X509_CRL_value(run->crls, i);
		if (eca_x509_time(X509_CRL_get0_lastUpdate(crl), &v) != 0)
			return;
		if (v > from)
			from = v;
		if ((t = X509_CRL_get0_nextUpdate(crl)) != NULL) {
			if (eca_x509_time(t, &v) != 0)
				return;
			if (v < until)
				until = v;
		}
	}
	if (until <= from || (copy = X509_chain_up_ref(full)) == NULL)
		return;
	if (X509_STORE_up_ref(trust) != 1) {
		sk_X509_pop_free(copy, X509_free);
		return;
	}
	pthread_mutex_lock(&c->lock);
	res = result_slot(c, key);
	sk_X509_pop_free(res->full, X509_free);
	X509_STORE_free(res->trust);
	memcpy(res->key, key, ECA_VCACHE_KEY_LEN);
	res->level = level;
	res->trust = trust;
	res->gen = run->gen;
	res->from = from;
	res->until = until;
	res->full = copy;
	res->used = 1;
	pthread_mutex_unlock(&c->lock);
}

void
eca_crl_cache_stats(struct eca_crl_cache *c, uint64_t *hits, uint64_t *misses)
{
	*hits = *misses = 0;
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	*hits = c->hits;
	*misses = c->misses;
	pthread_mutex_unlock(&c->lock);
}

/*
 * The same chain, the same CRLs, inside their validity: the same
 * verdict, unless something is due for a fetch (which may change the
 * CRLs, so the check is run again).  1: the remembered verdict stands;
 * DUE_WOULD_WAIT (nowait): a fetch is due.
 */
static int
remembered(struct eca_crl_cache *c, X509_STORE *trust, const uint8_t *key,
    enum eca_crl_check level, time_t now, int nowait)
{
	STACK_OF(X509) *full;
	int due;

	if (!result_get(c, trust, key, level, now, &full))
		return 0;
	due = fetch_due(c, trust, full, checked(level, full), now, nowait);
	sk_X509_pop_free(full, X509_free);
	return due == DUE_WOULD_WAIT ? due : due == 0;
}

static int
would_wait(struct eca_err *err)
{
	return eca_err_set(err, ECA_ERR_WOULD_WAIT,
	    "a CRL is due for a fetch, which this caller may not wait for");
}

/*
 * Verify with the CRLs cached now; then fetch what is due (for that, the
 * chain: as the verification built it, or built again without CRLs when
 * it failed) and, only if the cache changed, verify again.  The usual
 * case is one verification: nothing was due.  *full (the caller frees
 * it) is the chain.
 */
static int
verify_fresh(struct eca_crl_cache *c, X509_STORE *trust, X509 *leaf,
    STACK_OF(X509) *chain, enum eca_crl_check level, time_t now, int nowait,
    struct crl_run *run, STACK_OF(X509) **full, struct eca_err *err)
{
	int r;

	if ((r = crl_verify(c, trust, leaf, chain, level, now, run, err)) != 0)
		return r;
	if (run->ok) {
		if ((*full = X509_STORE_CTX_get1_chain(run->ctx)) == NULL)
			return eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
	} else if ((r = build_chain(c, trust, leaf, chain, now, full, err)) !=
	    0)
		return r;
	r = fetch_due(c, trust, *full, checked(level, *full), now, nowait);
	if (r == DUE_WOULD_WAIT)
		return would_wait(err);
	if (r != 0)
		return crl_verify(c, trust, leaf, chain, level, now, run, err);
	return 0;
}

/* Why run, which did not verify, refuses: what, and the remedy. */
static int
refusal(const struct eca_crl_cache *c, const struct crl_run *run, X509 *leaf,
    struct eca_err *err)
{
	char subj[ECA_DN_MAX], iss[ECA_DN_MAX];
	X509 *x;
	int e;

	e = X509_STORE_CTX_get_error(run->ctx);
	if ((x = X509_STORE_CTX_get_current_cert(run->ctx)) == NULL)
		x = leaf;
	crl_name_str(X509_get_subject_name(x), subj, sizeof(subj));
	crl_name_str(X509_get_issuer_name(x), iss, sizeof(iss));
	if (e == X509_V_ERR_CERT_REVOKED)
		return eca_err_set(err, ECA_ERR_REVOKED,
		    "%s by %s: the host "
		    "needs a new certificate",
		    run->vs.revoked[0] != '\0' ? run->vs.revoked : subj, iss);
	if (e == X509_V_ERR_UNABLE_TO_GET_CRL)
		return eca_err_set(err, ECA_ERR_CRL_UNAVAILABLE,
		    "no CRL of "
		    "%s is available to check certificate %s: " CRL_REMEDY,
		    iss, subj);
	if (e == X509_V_ERR_CRL_HAS_EXPIRED)
		return eca_err_set(err, ECA_ERR_CRL_UNAVAILABLE,
		    "the CRL of "
		    "%s expired more than %d hour(s) ago "
		    "(ECA_CRL_GRACE_HOURS), so certificate %s cannot be "
		    "checked: " CRL_REMEDY,
		    iss, c->grace_hours, subj);
	if (is_crl_error(e))
		return eca_err_set(err, ECA_ERR_CRL_UNAVAILABLE,
		    "the CRL of "
		    "%s cannot be used to check certificate %s "
		    "(%s): " CRL_REMEDY,
		    iss, subj, X509_verify_cert_error_string(e));
	return eca_err_set(err, ECA_ERR_UNTRUSTED, "certificate %s: %s", subj,
	    X509_verify_cert_error_string(e));
}

int
eca_crl_check(struct eca_crl_cache *c, X509_STORE *trust, X509 *leaf,
    STACK_OF(X509) *chain, enum eca_crl_check level, time_t now,
    struct eca_crl_result *result, struct eca_err *err)
{
	uint8_t key[ECA_VCACHE_KEY_LEN];

	return eca_crl_check_keyed(c, trust, leaf, chain,
	    leaf != NULL && level != ECA_CRL_DISABLE &&
		    eca_vcache_key(leaf, chain, key) == 0 ?
		key :
		NULL,
	    level, now, 0, result, err);
}

int
eca_crl_check_keyed(struct eca_crl_cache *c, X509_STORE *trust, X509 *leaf,
    STACK_OF(X509) *chain, const uint8_t *key, enum eca_crl_check level,
    time_t now, int nowait, struct eca_crl_result *result, struct eca_err *err)
{
	STACK_OF(X509) *full = NULL;
	struct crl_run run;
	int r = ECA_ERR_INTERNAL, rem;

	memset(&run, 0, sizeof(run));
	if (result != NULL)
		memset(result, 0, sizeof(*result));
	if (level == ECA_CRL_DISABLE)
		return 0;
	if (c == NULL || trust == NULL || leaf == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "no CRL cache, trust store or certificate to check");
	if (now == 0)
		now = time(NULL);
	if (key != NULL &&
	    (rem = remembered(c, trust, key, level, now, nowait)) != 0) {
		r = rem == DUE_WOULD_WAIT ? would_wait(err) : 0;
		goto out;
	}
	if ((r = verify_fresh(c, trust, leaf, chain, level, now, nowait, &run,
		 &full, err)) != 0)
		goto out;
	if (!run.ok) {
		r = refusal(c, &run, leaf, err);
		goto out;
	}
	if (run.vs.in_grace || run.vs.failed_open)
		log_warn("%s", run.vs.note);
	else if (key != NULL)
		result_put(c, trust, key, level, &run, full);
	if (result != NULL) {
		result->in_grace = run.vs.in_grace;
		result->failed_open = run.vs.failed_open;
		eca_text_fmt(result->note, sizeof(result->note), "%s",
		    run.vs.note);
	}
	r = 0;
out:
	crl_run_clear(&run);
	sk_X509_pop_free(full, X509_free);
	ERR_clear_error();
	return r;
}
