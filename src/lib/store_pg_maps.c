/* SPDX-License-Identifier: ISC */
/*
 * store_pg_maps.c - the certificates waiting in a CONFLICT (candidates)
 * and the administrator's subject -> host mappings (ECA_IDENTITY = DN),
 * in the PostgreSQL backend (the statements are in store_pg_sql.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_impl.h"

/* ------------------------------------------------------------------ */
/* Candidates.                                                         */

static int
row_candidate(const PGresult *res, int i, void *item, const void *arg,
    struct eca_err *err)
{
	struct eca_candidate *c = item;
	int bad = 0;

	eca_pg_col_cert(res, i, 0, &c->cert, &bad);
	c->at = eca_pg_col_i64(res, i, 11, &bad);
	c->last_seen = eca_pg_col_i64(res, i, 12, &bad);
	PG_COL_STR(res, i, 13, c->source, &bad);
	if (bad) {
		eca_certinfo_clear(&c->cert);
		return eca_err_set(err, ECA_ERR_DB,
		    "a candidate of host \"%.64s\" has a field that is too "
		    "long (is the database damaged?)",
		    (const char *)arg);
	}
	return 0;
}

static void
row_candidate_release(void *item)
{
	eca_certinfo_clear(&((struct eca_candidate *)item)->cert);
}

int
eca_pg_candidates(struct eca_store *st, const char *primary, const char *host,
    struct eca_candidate **out, size_t *n, struct eca_err *err)
{
	struct pg_params p = {0};
	void *arr = NULL;
	int r;

	eca_pg_str(&p, primary, ECA_HOST_MAX);
	eca_pg_str(&p, host, ECA_HOST_MAX);
	r = eca_pg_select(pg_impl(st), P_CANDIDATES, &p, sizeof(**out),
	    row_candidate, row_candidate_release, host,
	    "cannot read the waiting candidates", &arr, n, err);
	*out = arr;
	return r;
}

int
eca_pg_candidate_put(struct eca_store *st, const char *primary,
    const char *host, const struct eca_candidate *c, struct eca_err *err)
{
	struct pg_params p = {0};

	eca_pg_str(&p, primary, ECA_HOST_MAX);
	eca_pg_str(&p, host, ECA_HOST_MAX);
	eca_pg_cert(&p, &c->cert, 1);
	eca_pg_i64(&p, c->at);
	eca_pg_i64(&p, c->last_seen);
	PG_STR(&p, c->source);
	return eca_pg_exec(pg_impl(st), P_CANDIDATE_PUT, &p,
	    "cannot store a waiting candidate", err);
}

int
eca_pg_candidate_del(struct eca_store *st, const char *primary,
    const char *host, const char *fp, struct eca_err *err)
{
	struct pg_params p = {0};
	PGresult *res = NULL;
	int r;

	eca_pg_str(&p, primary, ECA_HOST_MAX);
	eca_pg_str(&p, host, ECA_HOST_MAX);
	if (fp != NULL)
		eca_pg_str(&p, fp, ECA_FP_HEX_LEN + 1);
	if ((r = eca_pg_run(pg_impl(st),
		 fp != NULL ? P_CANDIDATE_DEL : P_CANDIDATE_DEL_ALL, &p,
		 "cannot drop a waiting candidate", &res, err)) != 0)
		return r;
	if (fp != NULL && strcmp(PQcmdTuples(res), "0") == 0)
		r = eca_err_set(err, ECA_ERR_NOT_FOUND,
		    "no candidate with fingerprint %.64s waits for host "
		    "\"%.253s\"",
		    fp, host);
	PQclear(res);
	return r;
}

/* ------------------------------------------------------------------ */
/* DN mappings.                                                        */

static int
row_dnmap(const PGresult *res, int i, void *item, const void *arg,
    struct eca_err *err)
{
	struct eca_dnmap *m = item;
	int bad = 0;

	(void)arg;
	memset(m, 0, sizeof(*m));
	PG_COL_STR(res, i, 0, m->subject, &bad);
	PG_COL_STR(res, i, 1, m->host, &bad);
	m->removed = eca_pg_col_i64(res, i, 2, &bad) != 0;
	m->created_at = eca_pg_col_i64(res, i, 3, &bad);
	m->updated_at = eca_pg_col_i64(res, i, 4, &bad);
	PG_COL_STR(res, i, 5, m->actor, &bad);
	m->version = eca_pg_col_i64(res, i, 6, &bad);
	if (bad)
		return eca_err_set(err, ECA_ERR_DB,
		    "a subject mapping has a field that is too long (is the "
		    "database damaged?)");
	return 0;
}

/*
 * A writer reads a mapping under the lock of its key (subject or host),
 * held to COMMIT, so two front ends mapping one subject or one host take
 * turns; the unique index on live hosts is the last word.
 */
int
eca_pg_dnmap_get(struct eca_store *st, const char *primary, int by,
    const char *key, struct eca_dnmap *out, struct eca_err *err)
{
	struct pg_store *s = pg_impl(st);
	struct pg_params p = {0};
	int r;

	eca_pg_str(&p, primary, ECA_HOST_MAX);
	eca_pg_str(&p, key, ECA_DN_MAX);
	if (s->in_tx && !(st->flags & ECA_STORE_READONLY) &&
	    (r = eca_pg_exec(s, P_LOCK_DNMAP, &p,
		 "cannot lock a subject mapping", err)) != 0)
		return r;
	r = eca_pg_select_one(s, by ? P_DNMAP_BY_HOST : P_DNMAP_BY_SUBJECT, &p,
	    row_dnmap, out, NULL, "cannot read a subject mapping", err);
	if (r == ECA_ERR_NOT_FOUND)
		r = eca_err_set(err, ECA_ERR_NOT_FOUND,
		    "no mapping for %s \"%.253s\"", by ? "host" : "subject",
		    key);
	return r;
}

int
eca_pg_dnmap_put(struct eca_store *st, const char *primary,
    const struct eca_dnmap *m, struct eca_err *err)
{
	struct pg_store *s = pg_impl(st);
	struct pg_params p = {0};
	int r;

	eca_pg_str(&p, primary, ECA_HOST_MAX);
	PG_STR(&p, m->subject);
	PG_STR(&p, m->host);
	eca_pg_i64(&p, m->removed ? 1 : 0);
	eca_pg_i64(&p, m->created_at);
	eca_pg_i64(&p, m->updated_at);
	PG_STR(&p, m->actor);
	eca_pg_i64(&p, m->version);
	r = eca_pg_exec(s, P_DNMAP_PUT, &p, "cannot store a subject mapping",
	    err);
	/* The one live row per host (dn_map_host) is the rule enforced. */
	if (r != 0 && strcmp(s->sqlstate, "23505") == 0)
		r = eca_err_set(err, ECA_ERR_MAPPING_EXISTS,
		    "host \"%.253s\" is mapped to another subject already "
		    "(remove that mapping first: eca map remove %.253s)",
		    m->host, m->host);
	return r;
}

int
eca_pg_dnmaps(struct eca_store *st, const char *primary, int64_t since,
    size_t limit, struct eca_dnmap **out, size_t *n, struct eca_err *err)
{
	struct pg_params p = {0};
	void *arr = NULL;
	int r;

	eca_pg_str(&p, primary, ECA_HOST_MAX);
	eca_pg_i64(&p, eca_pg_limit(limit));
	if (since >= 0)
		eca_pg_i64(&p, since);
	r = eca_pg_select(pg_impl(st), since < 0 ? P_DNMAP_LIVE : P_DNMAP_SINCE,
	    &p, sizeof(**out), row_dnmap, NULL, NULL,
	    "cannot list the subject mappings", &arr, n, err);
	*out = arr;
	return r;
}
