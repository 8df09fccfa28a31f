/* SPDX-License-Identifier: ISC */
/*
 * api_enroll.c - POST /v1/enrollments: a host enrolls the certificate it
 * presents.  The route table admits only a host whose certificate passes
 * the peer check, over TLS (api_routes.c); here the body must name the
 * host that certificate names, the rule (enroll.c) is applied on the read
 * connection, and what would write goes to the writer, which applies the
 * rule again inside its transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_impl.h"
#include "enroll.h"

static void
reply_enroll(struct api_call *c, int status, const char *outcome, int precheck,
    const struct eca_enrollment *rec)
{
	api_reply_json(c, status,
	    json_pack("{s:s, s:b, s:o}", "outcome", outcome, "precheck",
		precheck, "enrollment",
		rec != NULL ? eca_wire_enrollment(rec) : json_null()));
}

/*
 * The body, naming the host the caller's certificate names under
 * ECA_IDENTITY.  0, or -1 when refused (replied).
 */
static int
enroll_body(struct api_call *c, struct eca_enroll_body *body)
{
	struct eca_err e;
	const char *buf;
	size_t len;
	int r;

	if (api_read_body(c, &buf, &len) != 0)
		return -1;
	eca_err_clear(&e);
	if ((r = eca_wire_parse_enroll_body(buf, len, body, &e)) != 0) {
		api_reply_error(c, r, "%s", e.msg);
		return -1;
	}
	snprintf(c->name, sizeof(c->name), "%s", body->host);
	snprintf(c->actor, sizeof(c->actor), "%s", body->host);
	c->precheck = body->precheck;
	if ((r = api_caller_names(c, body->host, &e)) != 0) {
		api_reply_error(c, r, "%s", e.msg);
		return -1;
	}
	return 0;
}

/*
 * The request the rule decides on, from the body and the certificate:
 * rq->cert is the connection's, borrowed for this call (not released; a
 * job takes its own copy).
 */
static void
enroll_request(struct api_call *c, const struct eca_enroll_body *body,
    struct eca_enroll_req *rq)
{
	memset(rq, 0, sizeof(*rq));
	snprintf(rq->primary, sizeof(rq->primary), "%s",
	    c->d->cfg->client_name);
	snprintf(rq->host, sizeof(rq->host), "%s", body->host);
	snprintf(rq->source, sizeof(rq->source), "%s", c->source);
	rq->role = body->role;
	rq->method = body->method;
	memcpy(&rq->cert, &c->conn->info, sizeof(rq->cert));
	rq->force = body->force;
	rq->allow_force = c->snap->cfg->allow_forced_reenrollment;
	rq->nat = body->nat;
	rq->now = (int64_t)time(NULL);
}

/*
 * The rule on the read connection, with the record (*have) and its
 * waiting certificates as they are now: *rule is its code (0, CONFLICT,
 * a refusal) with *outcome and e.  0, or -1 when the registry could not
 * be read (replied).
 *
 * A host the registry has surely never held (hosthint.c) is decided
 * without the read, unless for a precheck: a new enrollment goes to the
 * writer, which decides again on the record itself, and a refusal is
 * decided again here after the read, so that the hint never answers.
 */
static int
enroll_decide(struct api_call *c, const struct eca_enroll_req *rq, int precheck,
    struct eca_enrollment *rec, int *have, int *rule,
    enum eca_enroll_outcome *outcome, struct eca_err *e)
{
	struct eca_candidate *cands = NULL;
	size_t ncands = 0;
	int r;

	if (!precheck && hosthint_absent(c->d, rq->host)) {
		*have = 0;
		*outcome = ECA_OUTCOME_NONE;
		eca_err_clear(e);
		if ((*rule = eca_enroll_decide(NULL, NULL, 0, rq, outcome,
			 e)) == 0)
			return 0;
	}
	*outcome = ECA_OUTCOME_NONE;
	if ((*have = api_get_record(c, rq->host, rec)) < 0)
		return -1;
	eca_err_clear(e);
	if (*have && rec->ncandidates > 0 &&
	    (r = eca_store_candidates(c->w->rd, c->d->cfg->client_name,
		 rq->host, &cands, &ncands, e)) != 0) {
		api_reply_error(c, r, "%s", e->msg);
		return -1;
	}
	*rule = eca_enroll_decide(*have ? rec : NULL, cands, ncands, rq,
	    outcome, e);
	eca_candidates_free(cands, ncands);
	return 0;
}

/* Hand the request to the writer, with its own copy of the certificate. */
static void
enroll_submit(struct api_call *c, const struct eca_enroll_req *rq)
{
	struct api_job *aj;

	if ((aj = api_job_new(c, ECA_OP_ENROLL, rq->host)) != NULL) {
		aj->job.op.req = *rq;
		if (eca_certinfo_copy(&aj->job.op.req.cert, &rq->cert, NULL) !=
		    0) {
			free(aj);
			aj = NULL;
		}
	}
	api_job_submit(c, aj);
}

void
api_h_enroll(struct api_call *c)
{
	struct eca_enroll_body body;
	struct eca_enrollment rec;
	struct eca_enroll_req rq;
	enum eca_enroll_outcome outcome;
	struct eca_err e;
	int r, have;

	if (enroll_body(c, &body) != 0)
		return;
	enroll_request(c, &body, &rq);
	memset(&rec, 0, sizeof(rec));
	if (enroll_decide(c, &rq, body.precheck, &rec, &have, &r, &outcome,
		&e) != 0)
		goto out;
	if (body.precheck) {
		if (r == 0)
			reply_enroll(c, 200, eca_outcome_name(outcome), 1,
			    have ? &rec : NULL);
		else
			api_reply_error_status(c, 0, r,
			    r == ECA_ERR_CONFLICT && have ? &rec : NULL, "%s",
			    e.msg);
		goto out;
	}
	/*
	 * Nothing to write: answered here, without the writer (unless the
	 * host has become a NAT host: the roster must say so).
	 */
	if (r == 0 && outcome == ECA_OUTCOME_UNCHANGED &&
	    !(rq.nat && !rec.nat)) {
		eca_metrics_enroll(&c->d->metrics, outcome);
		reply_enroll(c, 200, eca_outcome_name(outcome), 0, &rec);
	} else if (r != 0 && r != ECA_ERR_CONFLICT)
		api_reply_error(c, r, "%s", e.msg);
	else /* The writer decides again inside its transaction. */
		enroll_submit(c, &rq);
out:
	eca_enrollment_clear(&rec);
}
