/* SPDX-License-Identifier: ISC */
/*
 * judge.c - the one path from a peer's certificate to the verdict
 * (judge.h), shared by the calling and the accepting end of a channel.
 *
 * The library does not log: what this host did (its own enrollment, a
 * sync asked for) is in the result for the caller's log line.
 */
#include "judge.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

/* The HELLO said "auto": false, and the side that sends it. */
static const char *const said_no[] = {
    [ECA_JUDGE_CALLING] = "auto-enrollment is disabled on the server "
			  "(ECA_DISABLE_AUTO_ENROLLMENT = YES)",
    [ECA_JUDGE_ACCEPTING] = "auto-enrollment is disabled on the caller "
			    "(ECA_DISABLE_AUTO_ENROLLMENT = YES)",
};

static int
enroll_auto(struct eca_host *h, struct eca_domain *d,
    enum eca_enroll_outcome *outcome, struct eca_err *err)
{
	return eca_domain_enroll(h, d, 0, ECA_METHOD_AUTO, outcome, NULL, err);
}

void
eca_judge_init(struct eca_judge_result *res)
{
	memset(res, 0, sizeof(*res));
	res->cert_us = -1;
	res->autoenroll_us = -1;
	res->outcome = ECA_OUTCOME_NONE;
}

void
eca_judge_done(struct eca_judge_result *res)
{
	if (res != NULL)
		eca_certinfo_clear(&res->cert.info);
}

/* A refusal decided here rather than by the verdict. */
static int refuse(struct eca_judge_result *, enum eca_judge_end, int,
    const char *, ...) ECA_PRINTF(4, 5);

static int
refuse(struct eca_judge_result *res, enum eca_judge_end end, int code,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res->verdict.message, sizeof(res->verdict.message), fmt, ap);
	va_end(ap);
	res->verdict.code = code;
	res->end = end;
	return res->code = code;
}

/* The judgment stops where it would wait (in->nowait). */
static int
would_wait(struct eca_judge_result *res)
{
	res->end = ECA_JUDGE_END_WAIT;
	return res->code = ECA_JUDGE_WOULD_WAIT;
}

/* Step 1: the certificate, once per judgment (resumed or not). */
static int
check_cert(struct eca_verdict_input *vin, struct eca_judge_result *res)
{
	int64_t t;

	if (!res->cert_done) {
		t = eca_util_mono_us();
		(void)eca_verdict_check_cert(vin, &res->cert);
		res->cert_us = eca_util_mono_us() - t;
		if (res->cert.code == ECA_ERR_WOULD_WAIT) {
			eca_certinfo_clear(&res->cert.info);
			memset(&res->cert, 0, sizeof(res->cert));
			res->cert_us = -1;
			return would_wait(res);
		}
		res->cert_done = 1;
	}
	vin->cert = &res->cert;
	return 0;
}

/*
 * Step 2: this host enrolls itself with the shared primary when it is
 * not enrolled there and the rule allows it for this peer and purpose.
 * 0, or the refusal (this host cannot take part without it).
 */
static int
enroll_self(const struct eca_judge_input *in, struct eca_judge_result *res)
{
	const struct eca_config *cfg = in->h->cfg;
	eca_judge_enroll_fn *enroll =
	    in->enroll != NULL ? in->enroll : enroll_auto;
	int64_t t;
	int r;

	res->self_autoenroll =
	    eca_autoenroll_allowed(cfg, in->h->cred != NULL, in->peer_side.role,
		in->peer_side.has_cert, in->peer_side.nat, in->purpose, NULL);
	if (!res->self_autoenroll || eca_domain_is_enrolled(in->h, in->d))
		return 0;
	if (in->nowait)
		return would_wait(res);
	eca_err_clear(&res->enroll_err);
	t = eca_util_mono_us();
	r = enroll(in->h, in->d, &res->outcome, &res->enroll_err);
	res->autoenroll_us = eca_util_mono_us() - t;
	if (r == 0) {
		res->autoenrolled = 1;
		return 0;
	}
	if (res->enroll_err.msg[0] == '\0')
		eca_err_set(&res->enroll_err, r, "%s", eca_err_desc(r));
	if (in->side == ECA_JUDGE_ACCEPTING)
		return refuse(res, ECA_JUDGE_END_ENROLL, r,
		    "%s could not "
		    "enroll itself with %s: %s",
		    cfg->client_name, in->primary, res->enroll_err.msg);
	return refuse(res, ECA_JUDGE_END_ENROLL, r,
	    "automatic enrollment of "
	    "%s with %s failed: %s",
	    cfg->client_name, in->primary, res->enroll_err.msg);
}

/*
 * Would the peer's side of this communication enroll it automatically?
 * Its HELLO says so when it carries "auto" (its own rule and settings);
 * otherwise the rule is asked as if the peer had auto-enrollment on: it
 * only decides whether to wait for the peer's enrollment (bounded) and
 * which remedy a refusal names.
 */
static void
peer_autoenroll(const struct eca_judge_input *in, struct eca_judge_result *res)
{
	const struct eca_config *cfg = in->h->cfg;
	struct eca_autoenroll_side me;

	me.role = cfg->role;
	me.has_cert = in->h->cred != NULL;
	me.nat = cfg->nat_client;
	me.disabled = cfg->disable_auto_enrollment;
	res->peer_autoenroll = eca_autoenroll_rule(&in->peer_side, &me,
	    in->purpose, &res->no_autoenroll_why);
	if (res->peer_autoenroll && in->has_autoenroll && !in->autoenroll) {
		res->peer_autoenroll = 0;
		res->no_autoenroll_why = said_no[in->side];
	}
}

/* Does entry hold a certificate other than the one presented? */
static int
other_certificate(const struct eca_cert_check *cc,
    const struct eca_roster_entry *entry)
{
	uint8_t fp[ECA_ROSTER_FP_LEN];

	return eca_roster_fp_from_hex(cc->info.fingerprint, fp) == 0 &&
	    memcmp(fp, entry->fingerprint, sizeof(fp)) != 0;
}

/*
 * Step 3: the peer's entry as the roster is now, into vin.  0 to go on
 * to the verdict, ECA_JUDGE_NEED_SYNC, or a refusal.  A first judgment
 * asks for a sync when the peer is missing (it may have just enrolled),
 * REMOVED (it may have enrolled again), enrolled with another
 * certificate (renewed, or re-enrolled) or the roster is stale; a
 * resumed one decides with what there is.
 */
static int
look_up(const struct eca_judge_input *in, struct eca_verdict_input *vin,
    struct eca_roster_entry *entry, struct eca_err *le,
    struct eca_judge_result *res)
{
	int lr;

	lr = eca_domain_peek(in->h, in->d, in->peer, entry, &res->synced, le);
	if (!in->resumed &&
	    (lr != 0 || entry->state == ECA_STATE_REMOVED ||
		other_certificate(&res->cert, entry))) {
		res->wait_enroll =
		    res->peer_autoenroll && lr == ECA_ERR_NOT_FOUND;
		res->end = ECA_JUDGE_END_SYNC;
		return res->code = ECA_JUDGE_NEED_SYNC;
	}
	if (lr == 0)
		vin->entry = entry;
	else if (lr == ECA_ERR_ROSTER_STALE) {
		vin->roster_status = lr;
		vin->roster_err = le->msg;
	} else if (lr != ECA_ERR_NOT_FOUND)
		return refuse(res, ECA_JUDGE_END_ERROR, lr,
		    "cannot check "
		    "%s's enrollment with %s: %s",
		    in->peer, in->primary, le->msg);
	return 0;
}

/*
 * Is the peer a NAT host?  Its HELLO's "nat", or the roster (the
 * primary's word): the stricter of the two, so that a NAT host hiding
 * its flag still enrolls nobody automatically (docs/nat.md).
 */
static int
peer_is_nat(const struct eca_judge_input *in, struct eca_judge_result *res)
{
	struct eca_roster_entry entry;
	struct eca_err e;

	eca_err_clear(&e);
	res->roster_nat =
	    eca_domain_peek(in->h, in->d, in->peer, &entry, NULL, &e) == 0 &&
	    entry.nat;
	return in->peer_side.nat || res->roster_nat;
}

int
eca_judge_peer(const struct eca_judge_input *orig, struct eca_judge_result *res)
{
	struct eca_judge_input nin;
	const struct eca_judge_input *in = orig;
	struct eca_verdict_input vin;
	struct eca_roster_entry entry;
	struct eca_peer_policy policy;
	struct eca_dn_lookup lk;
	struct eca_err le;
	int r;

	res->code = 0;
	res->roster_nat = 0;
	res->end = ECA_JUDGE_END_VERDICT;
	res->peer_autoenroll = res->wait_enroll = 0;
	res->no_autoenroll_why = NULL;
	res->verdict.code = 0;
	res->verdict.message[0] = '\0';
	if (in == NULL || in->h == NULL || in->d == NULL || in->peer == NULL ||
	    in->primary == NULL)
		return refuse(res, ECA_JUDGE_END_ERROR, ECA_ERR_INTERNAL,
		    "eca_judge_peer: missing argument");
	eca_err_clear(&le);
	memset(&vin, 0, sizeof(vin));
	lk.h = in->h;
	lk.d = in->d;
	lk.nowait = in->nowait;
	policy = in->h->policy;
	policy.nowait = in->nowait;
	vin.policy = &policy;
	vin.leaf = in->leaf;
	vin.chain = in->chain;
	vin.expected_host = in->peer;
	vin.primary = in->primary;
	vin.purpose = in->purpose;
	vin.dn_map = eca_domain_dn_map;
	vin.dn_map_arg = &lk;

	if ((r = check_cert(&vin, res)) != 0)
		return r;
	/*
	 * Remote enrollment: the calling primary asks the server to enroll
	 * the certificate it presents, so the server's roster entry is what
	 * is about to change: the calling end judges the certificate alone
	 * (the server, the accepting end, judges the primary in full).
	 */
	if (res->cert.code == 0 && in->side == ECA_JUDGE_CALLING &&
	    in->purpose == ECA_PURPOSE_ENROLL) {
		res->verdict.peer = res->cert.info;
		return res->code = 0;
	}
	if (res->cert.code == 0) {
		/* From here on the peer is a NAT host if either says so. */
		nin = *orig;
		nin.peer_side.nat = peer_is_nat(orig, res);
		in = &nin;
		if ((r = enroll_self(in, res)) != 0)
			return r;
		peer_autoenroll(in, res);
		if ((r = look_up(in, &vin, &entry, &le, res)) != 0)
			return r;
	}
	vin.autoenroll_allowed = res->peer_autoenroll;
	vin.no_autoenroll_why = res->no_autoenroll_why;
	vin.nat = in->peer_side.nat || in->h->cfg->nat_client;
	return res->code = eca_verdict_peer(&vin, &res->verdict);
}
