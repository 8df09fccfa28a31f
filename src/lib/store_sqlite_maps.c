/* SPDX-License-Identifier: ISC */
/*
 * store_sqlite_maps.c - the certificates waiting in a CONFLICT
 * (candidates) and the administrator's subject -> host mappings
 * (ECA_IDENTITY = DN), in the SQLite backend (the statements are in
 * store_sqlite_sql.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite_impl.h"

/* ------------------------------------------------------------------ */
/* Candidates.                                                         */

/* One row of CANDIDATE_COLUMNS; arg is the host, for the message. */
static int
row_candidate(sqlite3_stmt *stmt, void *item, const void *arg,
    struct eca_err *err)
{
	struct eca_candidate *c = item;
	int bad = 0;

	eca_sqlite_col_cert(stmt, 0, &c->cert, &bad);
	c->at = sqlite3_column_int64(stmt, 11);
	c->last_seen = sqlite3_column_int64(stmt, 12);
	COL_STR(stmt, 13, c->source, &bad);
	if (bad) {
		eca_certinfo_clear(&c->cert);
		return eca_err_set(err, ECA_ERR_DB,
		    "a candidate of host "
		    "\"%.64s\" has a field that is too long (is the "
		    "database damaged?)",
		    (const char *)arg);
	}
	return 0;
}

static void
row_candidate_release(void *item)
{
	struct eca_candidate *c = item;

	eca_certinfo_clear(&c->cert);
}

int
eca_sqlite_candidates(struct eca_store *st, const char *primary,
    const char *host, struct eca_candidate **out, size_t *n,
    struct eca_err *err)
{
	struct sqlite_store *s = sqlite_impl(st);
	sqlite3_stmt *stmt = NULL;
	void *arr = NULL;
	int r, rc = SQLITE_OK;

	if ((r = eca_sqlite_start(st, S_CANDIDATES, primary, host, ECA_HOST_MAX,
		 &stmt, &rc, err)) != 0)
		return r;
	r = eca_sqlite_select(s, stmt, rc, sizeof(**out), row_candidate,
	    row_candidate_release, host, "cannot read the waiting candidates",
	    &arr, n, err);
	*out = arr;
	return r;
}

int
eca_sqlite_candidate_put(struct eca_store *st, const char *primary,
    const char *host, const struct eca_candidate *c, struct eca_err *err)
{
	struct sqlite_store *s = sqlite_impl(st);
	sqlite3_stmt *stmt = NULL;
	int r, rc = SQLITE_OK;

	if ((r = eca_sqlite_start(st, S_CANDIDATE_PUT, primary, host,
		 ECA_HOST_MAX, &stmt, &rc, err)) != 0)
		return r;
	eca_sqlite_bind_cert(stmt, 2, &c->cert, 1, &rc);
	eca_sqlite_bind_i64(stmt, 13, c->at, &rc);
	eca_sqlite_bind_i64(stmt, 14, c->last_seen, &rc);
	BIND_STR(stmt, 15, c->source, &rc);
	return eca_sqlite_run(s, stmt, rc, "cannot store a waiting candidate",
	    err);
}

int
eca_sqlite_candidate_del(struct eca_store *st, const char *primary,
    const char *host, const char *fp, struct eca_err *err)
{
	struct sqlite_store *s = sqlite_impl(st);
	sqlite3_stmt *stmt = NULL;
	int r, rc = SQLITE_OK;

	if ((r = eca_sqlite_start(st,
		 fp != NULL ? S_CANDIDATE_DEL : S_CANDIDATE_DEL_ALL, primary,
		 host, ECA_HOST_MAX, &stmt, &rc, err)) != 0)
		return r;
	if (fp != NULL)
		eca_sqlite_bind_str(stmt, 2, fp, ECA_FP_HEX_LEN + 1, &rc);
	if ((r = eca_sqlite_run(s, stmt, rc, "cannot drop a waiting candidate",
		 err)) != 0)
		return r;
	/* The count of the statement just completed (a reset keeps it). */
	if (fp != NULL && sqlite3_changes(s->db) == 0)
		return eca_err_set(err, ECA_ERR_NOT_FOUND,
		    "no candidate with "
		    "fingerprint %.64s waits for host \"%.253s\"",
		    fp, host);
	return 0;
}

/* ------------------------------------------------------------------ */
/* DN mappings.                                                        */

static int
row_dnmap(sqlite3_stmt *stmt, void *item, const void *arg, struct eca_err *err)
{
	struct eca_dnmap *m = item;
	int bad = 0;

	(void)arg;
	memset(m, 0, sizeof(*m));
	COL_STR(stmt, 0, m->subject, &bad);
	COL_STR(stmt, 1, m->host, &bad);
	m->removed = sqlite3_column_int(stmt, 2) != 0;
	m->created_at = sqlite3_column_int64(stmt, 3);
	m->updated_at = sqlite3_column_int64(stmt, 4);
	COL_STR(stmt, 5, m->actor, &bad);
	m->version = sqlite3_column_int64(stmt, 6);
	if (bad)
		return eca_err_set(err, ECA_ERR_DB,
		    "a subject mapping has a "
		    "field that is too long (is the database damaged?)");
	return 0;
}

int
eca_sqlite_dnmap_get(struct eca_store *st, const char *primary, int by,
    const char *key, struct eca_dnmap *out, struct eca_err *err)
{
	struct sqlite_store *s = sqlite_impl(st);
	sqlite3_stmt *stmt = NULL;
	int r, rc = SQLITE_OK;

	if ((r = eca_sqlite_start(st, by ? S_DNMAP_BY_HOST : S_DNMAP_BY_SUBJECT,
		 primary, key, ECA_DN_MAX, &stmt, &rc, err)) != 0)
		return r;
	r = eca_sqlite_select_one(s, stmt, rc, row_dnmap, out, NULL,
	    "cannot read a subject mapping", err);
	if (r == ECA_ERR_NOT_FOUND)
		r = eca_err_set(err, ECA_ERR_NOT_FOUND,
		    "no mapping for %s "
		    "\"%.253s\"",
		    by ? "host" : "subject", key);
	return r;
}

int
eca_sqlite_dnmap_put(struct eca_store *st, const char *primary,
    const struct eca_dnmap *m, struct eca_err *err)
{
	struct sqlite_store *s = sqlite_impl(st);
	sqlite3_stmt *stmt = NULL;
	int r, rc = SQLITE_OK;

	if ((r = eca_sqlite_start(st, S_DNMAP_PUT, primary, NULL, 0, &stmt, &rc,
		 err)) != 0)
		return r;
	BIND_STR(stmt, 1, m->subject, &rc);
	BIND_STR(stmt, 2, m->host, &rc);
	eca_sqlite_bind_i64(stmt, 3, m->removed ? 1 : 0, &rc);
	eca_sqlite_bind_i64(stmt, 4, m->created_at, &rc);
	eca_sqlite_bind_i64(stmt, 5, m->updated_at, &rc);
	BIND_STR(stmt, 6, m->actor, &rc);
	eca_sqlite_bind_i64(stmt, 7, m->version, &rc);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(stmt);
	r = 0;
	/* The one live row per host (dn_map_host) is the rule enforced. */
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		r = eca_err_set(err, ECA_ERR_MAPPING_EXISTS,
		    "host "
		    "\"%.253s\" is mapped to another subject already (remove "
		    "that mapping first: eca map remove %.253s)",
		    m->host, m->host);
	else if (rc != SQLITE_DONE)
		r = eca_sqlite_error(s, rc, "cannot store a subject mapping",
		    err);
	eca_sqlite_done(stmt);
	return r;
}

int
eca_sqlite_dnmaps(struct eca_store *st, const char *primary, int64_t since,
    size_t limit, struct eca_dnmap **out, size_t *n, struct eca_err *err)
{
	struct sqlite_store *s = sqlite_impl(st);
	sqlite3_stmt *stmt = NULL;
	void *arr = NULL;
	int r, rc = SQLITE_OK;

	if ((r = eca_sqlite_start(st, since < 0 ? S_DNMAP_LIVE : S_DNMAP_SINCE,
		 primary, NULL, 0, &stmt, &rc, err)) != 0)
		return r;
	eca_sqlite_bind_i64(stmt, 1, eca_sqlite_limit(limit), &rc);
	if (since >= 0)
		eca_sqlite_bind_i64(stmt, 2, since, &rc);
	r = eca_sqlite_select(s, stmt, rc, sizeof(**out), row_dnmap, NULL, NULL,
	    "cannot list the subject mappings", &arr, n, err);
	*out = arr;
	return r;
}
