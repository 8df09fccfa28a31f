/* SPDX-License-Identifier: ISC */
/*
 * api_registry.c - the registry's records and DN mappings: list, show,
 * history, remove, approve, reject, ban, unban, and the subject mappings.
 * Administrators only, but for show and remove, which the host NAME may
 * call on its own record; the route table's access column says so and
 * the dispatcher enforces it (api_routes.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_impl.h"
#include "apiparse.h"
#include "x509.h"

#define HISTORY_MAX 1000
#define MAPPINGS_MAX 10000 /* GET /v1/mappings shows at most this many */

/* One item of a list as JSON (the wire.h encoder of its type). */
typedef json_t *item_json_fn(const void *);

static json_t *
enrollment_json(const void *p)
{
	return eca_wire_enrollment(p);
}

static json_t *
history_json(const void *p)
{
	return eca_wire_history_entry(p);
}

static json_t *
dnmap_json(const void *p)
{
	return eca_wire_dnmap(p);
}

/* The n items at base (size bytes each) as a JSON array; NULL: no memory. */
static json_t *
json_list(const void *base, size_t n, size_t size, item_json_fn *fn)
{
	json_t *arr;
	size_t i;

	if ((arr = json_array()) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if (json_array_append_new(arr,
			fn((const char *)base + i * size)) != 0) {
			json_decref(arr);
			return NULL;
		}
	return arr;
}

/* ?state=S&after=HOST&limit=N; 0 or -1 (replied). */
static int
list_query(struct api_call *c, struct api_list_query *lq)
{
	struct eca_err e;

	eca_err_clear(&e);
	if (api_parse_list_query(api_query_of(c), lq, &e) != 0) {
		api_reply_error(c, e.code, "%s", e.msg);
		return -1;
	}
	return 0;
}

/* The store's page for lq: filter, order and the cursor's row. */
static void
page_of(const struct api_list_query *lq, struct eca_store_page *q)
{
	memset(q, 0, sizeof(*q));
	q->state = lq->state;
	snprintf(q->prefix, sizeof(q->prefix), "%s", lq->prefix);
	q->sort = lq->sort;
	q->desc = lq->desc;
	q->has_after = lq->after[0] != '\0';
	snprintf(q->after_host, sizeof(q->after_host), "%s", lq->after);
	q->after_state = lq->after_state;
	q->after_time = lq->after_time;
	/* One more than asked tells whether there is a next page. */
	q->limit = (size_t)lq->limit + 1;
}

/*
 * What the broker knows of a NAT host (online, since when); a host the
 * registry says is a NAT host but the broker has not seen since ecad
 * started is offline (docs/nat.md, "Visibility").
 */
static void
nat_annotate(struct ecad *d, json_t *rec)
{
	broker_annotate(d, rec);
	if (!json_is_true(json_object_get(rec, "nat")) ||
	    json_object_get(rec, "online") != NULL)
		return;
	(void)json_object_set_new(rec, "online", json_false());
	(void)json_object_set_new(rec, "online_since", json_null());
}

/*
 * ?state=S&prefix=P&sort=K&order=O&after=C&limit=N: one page in the
 * store's order (eca_store_page: keyset paging on an index per order) and
 * "next", the cursor of the page after it (null on the last).
 */
void
api_h_list(struct api_call *c)
{
	struct eca_enrollment *recs = NULL;
	struct api_list_query lq;
	struct eca_store_page q;
	char cursor[ECA_HOST_MAX + 32];
	struct eca_err e;
	json_t *arr, *next;
	size_t n = 0, limit, i;
	int r;

	if (list_query(c, &lq) != 0)
		return;
	page_of(&lq, &q);
	limit = (size_t)lq.limit;
	eca_err_clear(&e);
	if ((r = eca_store_page(c->w->rd, c->d->cfg->client_name, &q, &recs, &n,
		 &e)) != 0) {
		api_reply_error(c, r, "%s", e.msg);
		return;
	}
	arr = json_list(recs, n < limit ? n : limit, sizeof(*recs),
	    enrollment_json);
	if (n > limit)
		api_list_cursor(&lq, &recs[limit - 1], cursor, sizeof(cursor));
	next = n > limit ? json_string(cursor) : json_null();
	eca_enrollments_free(recs, n);
	if (arr == NULL) {
		json_decref(next);
		api_reply_error(c, ECA_ERR_NOMEM,
		    "out of memory listing enrollments");
		return;
	}
	for (i = 0; i < json_array_size(arr); i++)
		nat_annotate(c->d, json_array_get(arr, i));
	api_reply_json(c, 200,
	    json_pack("{s:o, s:o}", "enrollments", arr, "next", next));
}

/*
 * The record of the host in the path: 0, or -1 when there is none (404
 * NOT_ENROLLED) or it could not be read (replied).
 */
static int
enrolled_record(struct api_call *c, struct eca_enrollment *rec)
{
	int have;

	if ((have = api_get_record(c, c->name, rec)) < 0)
		return -1;
	if (have == 0) {
		api_reply_error(c, ECA_ERR_NOT_ENROLLED,
		    "%s is not enrolled "
		    "with primary %s (run `eca enroll` on %s)",
		    c->name, c->d->cfg->client_name, c->name);
		return -1;
	}
	return 0;
}

void
api_h_show(struct api_call *c)
{
	struct eca_enrollment rec;
	struct eca_candidate *cands = NULL;
	struct eca_err e;
	json_t *body;
	size_t n = 0;
	int r;

	if (enrolled_record(c, &rec) != 0)
		return;
	/* Every waiting certificate, so an approval names the one seen. */
	eca_err_clear(&e);
	if (rec.ncandidates > 0 &&
	    (r = eca_store_candidates(c->w->rd, c->d->cfg->client_name, c->name,
		 &cands, &n, &e)) != 0) {
		api_reply_error(c, r, "%s", e.msg);
		eca_enrollment_clear(&rec);
		return;
	}
	body = eca_wire_enrollment(&rec);
	if (body != NULL && eca_wire_add_candidates(body, cands, n) != 0) {
		json_decref(body);
		body = NULL;
	}
	eca_candidates_free(cands, n);
	eca_enrollment_clear(&rec);
	api_reply_json(c, 200, body);
}

void
api_h_history(struct api_call *c)
{
	struct eca_history_entry *h = NULL;
	struct eca_enrollment rec;
	struct eca_err e;
	json_t *arr;
	size_t n = 0;
	int r;

	if (enrolled_record(c, &rec) != 0)
		return;
	eca_err_clear(&e);
	eca_enrollment_clear(&rec);
	if ((r = eca_store_history(c->w->rd, c->d->cfg->client_name, c->name,
		 HISTORY_MAX, &h, &n, &e)) != 0) {
		api_reply_error(c, r, "%s", e.msg);
		return;
	}
	arr = json_list(h, n, sizeof(*h), history_json);
	free(h);
	if (arr == NULL)
		api_reply_error(c, ECA_ERR_NOMEM,
		    "out of memory reading the "
		    "history");
	else
		api_reply_json(c, 200, json_pack("{s:o}", "history", arr));
}

/*
 * The host itself may remove its own record only with the certificate
 * enrolled now (the writer checks the fingerprint in its transaction);
 * an administrator may remove any.
 */
void
api_h_remove(struct api_call *c)
{
	struct api_job *aj;

	if ((aj = api_job_new(c, ECA_OP_REMOVE, c->name)) != NULL && c->self)
		snprintf(aj->job.op.require_fingerprint,
		    sizeof(aj->job.op.require_fingerprint), "%s", c->fp);
	api_job_submit(c, aj);
}

/*
 * Approve or reject: the body names the waiting certificate decided on
 * ({"fingerprint": FP}, required), so that what is enrolled is exactly
 * what the administrator saw, whatever arrived meanwhile.
 */
static void
decision_op(struct api_call *c, enum eca_op_type type)
{
	char fp[ECA_FP_HEX_LEN + 1];
	struct api_job *aj;
	struct eca_err e;
	const char *buf;
	size_t len;
	int r;

	if (api_read_body(c, &buf, &len) != 0)
		return;
	eca_err_clear(&e);
	if ((r = eca_wire_parse_decision_body(buf, len, fp, &e)) != 0) {
		api_reply_error(c, r, "%s", e.msg);
		return;
	}
	snprintf(c->fp, sizeof(c->fp), "%s", fp);
	if ((aj = api_job_new(c, type, c->name)) != NULL)
		snprintf(aj->job.op.require_fingerprint,
		    sizeof(aj->job.op.require_fingerprint), "%s", fp);
	api_job_submit(c, aj);
}

void
api_h_approve(struct api_call *c)
{
	decision_op(c, ECA_OP_APPROVE);
}

void
api_h_reject(struct api_call *c)
{
	decision_op(c, ECA_OP_REJECT);
}

void
api_h_ban(struct api_call *c)
{
	api_job_submit(c, api_job_new(c, ECA_OP_BAN, c->name));
}

void
api_h_unban(struct api_call *c)
{
	api_job_submit(c, api_job_new(c, ECA_OP_UNBAN, c->name));
}

/* GET /v1/mappings: the live subject mappings, by host. */
void
api_h_maps(struct api_call *c)
{
	struct eca_dnmap *m = NULL;
	struct eca_err e;
	json_t *arr;
	size_t n = 0;
	int r;

	eca_err_clear(&e);
	/* One more than shown tells whether the list was cut. */
	if ((r = eca_store_dnmaps(c->w->rd, c->d->cfg->client_name, -1,
		 MAPPINGS_MAX + 1, &m, &n, &e)) != 0) {
		api_reply_error(c, r, "%s", e.msg);
		return;
	}
	arr = json_list(m, n < MAPPINGS_MAX ? n : MAPPINGS_MAX, sizeof(*m),
	    dnmap_json);
	free(m);
	if (arr == NULL)
		api_reply_error(c, ECA_ERR_NOMEM,
		    "out of memory listing the "
		    "mappings");
	else
		api_reply_json(c, 200,
		    json_pack("{s:s, s:o, s:b}", "identity",
			eca_config_identity_name(c->snap->cfg->identity),
			"mappings", arr, "truncated", n > MAPPINGS_MAX));
}

/* POST /v1/mappings {"host", "subject"}: the subject must parse. */
void
api_h_map_add(struct api_call *c)
{
	char host[ECA_HOST_MAX], subject[ECA_DN_MAX], norm[ECA_DN_MAX];
	struct api_job *aj;
	struct eca_err e;
	const char *buf;
	size_t len;
	int r;

	if (api_read_body(c, &buf, &len) != 0)
		return;
	eca_err_clear(&e);
	if ((r = eca_wire_parse_map_body(buf, len, host, subject, &e)) != 0) {
		api_reply_error(c, r, "%s", e.msg);
		return;
	}
	snprintf(c->name, sizeof(c->name), "%s", host);
	if ((r = eca_dn_normalize(subject, norm, sizeof(norm), &e)) != 0) {
		api_reply_error(c, r == ECA_ERR_PARSE ? ECA_ERR_BAD_REQUEST : r,
		    "%s (write it as RFC 4514, e.g. \"CN=host1,O=Example\")",
		    e.msg);
		return;
	}
	if ((aj = api_job_new(c, ECA_OP_MAP_ADD, host)) != NULL)
		snprintf(aj->job.op.map.subject, sizeof(aj->job.op.map.subject),
		    "%s", norm);
	api_job_submit(c, aj);
}

/* The host in the path is canonical already (dispatch). */
void
api_h_map_remove(struct api_call *c)
{
	api_job_submit(c, api_job_new(c, ECA_OP_MAP_REMOVE, c->name));
}
