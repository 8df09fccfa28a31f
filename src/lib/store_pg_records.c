/* SPDX-License-Identifier: ISC */
/*
 * store_pg_records.c - enrollment records, their history, the registry
 * version counter and the roster's view of the records, in the PostgreSQL
 * backend (the statements are in store_pg_sql.c).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_impl.h"

static enum eca_role
col_role(const PGresult *res, int row, int col, int *bad)
{
	int v;

	v = PQgetisnull(res, row, col) ?
	    -1 :
	    eca_config_role_from_name(PQgetvalue(res, row, col));
	if (v < 0) {
		*bad = 1;
		return ECA_ROLE_CLIENT;
	}
	return (enum eca_role)v;
}

static int
row_enrollment(const PGresult *res, int i, void *item, const void *arg,
    struct eca_err *err)
{
	struct eca_enrollment *rec = item;
	int bad = 0;

	(void)arg;
	memset(rec, 0, sizeof(*rec));
	PG_COL_STR(res, i, PC_PRIMARY, rec->primary, &bad);
	PG_COL_STR(res, i, PC_HOST, rec->host, &bad);
	PG_COL_STR(res, i, PC_HOST_ID, rec->host_id, &bad);
	rec->role = col_role(res, i, PC_ROLE, &bad);
	rec->state = eca_pg_col_enum(res, i, PC_STATE, eca_store_state_names,
	    ECA_STORE_NSTATES, &bad);
	rec->method = eca_pg_col_enum(res, i, PC_METHOD, eca_store_method_names,
	    ECA_STORE_NMETHODS, &bad);
	eca_pg_col_cert(res, i, PC_CERT, &rec->cert, &bad);
	rec->has_candidate =
	    eca_pg_col_i64(res, i, PC_HAS_CANDIDATE, &bad) != 0;
	if (rec->has_candidate) {
		eca_pg_col_cert(res, i, PC_CAND, &rec->candidate, &bad);
		rec->candidate_at =
		    eca_pg_col_i64(res, i, PC_CANDIDATE_AT, &bad);
		PG_COL_STR(res, i, PC_CANDIDATE_SOURCE, rec->candidate_source,
		    &bad);
	}
	rec->enrolled_at = eca_pg_col_i64(res, i, PC_ENROLLED_AT, &bad);
	rec->updated_at = eca_pg_col_i64(res, i, PC_UPDATED_AT, &bad);
	rec->last_seen = eca_pg_col_i64(res, i, PC_LAST_SEEN, &bad);
	PG_COL_STR(res, i, PC_SOURCE, rec->source, &bad);
	rec->version = eca_pg_col_i64(res, i, PC_VERSION, &bad);
	rec->nat = eca_pg_col_i64(res, i, PC_NAT, &bad) != 0;
	rec->ncandidates = (int)eca_pg_col_i64(res, i, PC_NCANDIDATES, &bad);
	if (bad) {
		eca_enrollment_clear(rec);
		return eca_err_set(err, ECA_ERR_DB,
		    "registry record of host \"%.64s\" has a field that is "
		    "too long or unknown (is the database damaged or from a "
		    "newer eca?)",
		    rec->host);
	}
	return 0;
}

static void
row_enrollment_release(void *item)
{
	eca_enrollment_clear(item);
}

/*
 * Inside a writer's transaction the record is read under the host's lock
 * (SQL_LOCK_HOST) and FOR UPDATE: the enrollment rule then decides on a
 * row no other front end can change before this COMMIT.
 */
int
eca_pg_get(struct eca_store *st, const char *primary, const char *host,
    struct eca_enrollment *out, struct eca_err *err)
{
	struct pg_store *s = pg_impl(st);
	struct pg_params p = {0};
	int r, locked = s->in_tx && !(st->flags & ECA_STORE_READONLY);

	eca_pg_str(&p, primary, ECA_HOST_MAX);
	eca_pg_str(&p, host, ECA_HOST_MAX);
	if (locked &&
	    (r = eca_pg_exec(s, P_LOCK_HOST, &p, "cannot lock a host's record",
		 err)) != 0)
		return r;
	r = eca_pg_select_one(s, locked ? P_GET_FOR_UPDATE : P_GET, &p,
	    row_enrollment, out, NULL, "cannot look a host up", err);
	if (r == ECA_ERR_NOT_FOUND)
		r = eca_err_set(err, ECA_ERR_NOT_FOUND,
		    "host \"%.253s\" has no enrollment record", host);
	return r;
}

int
eca_pg_put(struct eca_store *st, const struct eca_enrollment *rec,
    struct eca_err *err)
{
	struct pg_params p = {0};

	if (eca_config_role_from_name(eca_config_role_name(rec->role)) < 0 ||
	    (unsigned)rec->state >= ECA_STORE_NSTATES ||
	    (unsigned)rec->method >= ECA_STORE_NMETHODS)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "registry record has an unknown role, state or method");
	PG_STR(&p, rec->primary);
	PG_STR(&p, rec->host);
	PG_STR(&p, rec->host_id);
	eca_pg_str(&p, eca_config_role_name(rec->role), 16);
	eca_pg_str(&p, eca_store_state_names[rec->state], 16);
	eca_pg_str(&p, eca_store_method_names[rec->method], 16);
	eca_pg_cert(&p, &rec->cert, 1);
	eca_pg_i64(&p, rec->has_candidate ? 1 : 0);
	eca_pg_cert(&p, &rec->candidate, rec->has_candidate);
	if (rec->has_candidate) {
		eca_pg_i64(&p, rec->candidate_at);
		PG_STR(&p, rec->candidate_source);
	} else {
		eca_pg_null(&p);
		eca_pg_null(&p);
	}
	eca_pg_i64(&p, rec->enrolled_at);
	eca_pg_i64(&p, rec->updated_at);
	eca_pg_i64(&p, rec->last_seen);
	PG_STR(&p, rec->source);
	eca_pg_i64(&p, rec->version);
	eca_pg_i64(&p, rec->nat ? 1 : 0);
	return eca_pg_exec(pg_impl(st), P_PUT, &p,
	    "cannot store an enrollment record", err);
}

static int
version_counter(struct pg_store *s, enum pg_stmt_id which, const char *what,
    int64_t *out, struct eca_err *err)
{
	struct pg_params p = {0};
	PGresult *res = NULL;
	int r, bad = 0;

	eca_pg_str(&p, PG_VERSION_KEY, sizeof(PG_VERSION_KEY));
	if ((r = eca_pg_run(s, which, &p, what, &res, err)) != 0)
		return r;
	if (PQntuples(res) != 1)
		r = eca_err_set(err, ECA_ERR_DB,
		    "registry version counter is missing (is the database "
		    "damaged?)");
	else if ((*out = eca_pg_col_i64(res, 0, 0, &bad)), bad)
		r = eca_err_set(err, ECA_ERR_DB,
		    "registry version counter is not a number (is the "
		    "database damaged?)");
	PQclear(res);
	return r;
}

int
eca_pg_next_version(struct eca_store *st, int64_t *out, struct eca_err *err)
{
	int r = version_counter(pg_impl(st), P_NEXT_VERSION,
	    "cannot advance the registry version", out, err);

	/* The other front ends hear of it at COMMIT (pg_tx). */
	if (r == 0)
		pg_impl(st)->notify_version = *out;
	return r;
}

int
eca_pg_version(struct eca_store *st, int64_t *out, struct eca_err *err)
{
	return version_counter(pg_impl(st), P_VERSION,
	    "cannot read the registry version", out, err);
}

int
eca_pg_add_history(struct eca_store *st, const struct eca_history_entry *h,
    struct eca_err *err)
{
	struct pg_params p = {0};

	if ((unsigned)h->state >= ECA_STORE_NSTATES)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "history entry has an unknown state");
	PG_STR(&p, h->primary);
	PG_STR(&p, h->host);
	PG_STR(&p, h->host_id);
	PG_STR(&p, h->event);
	eca_pg_str(&p, eca_store_state_names[h->state], 16);
	PG_STR(&p, h->fingerprint);
	PG_STR(&p, h->spki_fingerprint);
	PG_STR(&p, h->actor);
	PG_STR(&p, h->source);
	eca_pg_i64(&p, h->at);
	return eca_pg_exec(pg_impl(st), P_ADD_HISTORY, &p,
	    "cannot append to the registry history", err);
}

int
eca_pg_list(struct eca_store *st, const char *primary, int state,
    const char *after_host, size_t limit, struct eca_enrollment **out,
    size_t *n, struct eca_err *err)
{
	struct pg_params p = {0};
	void *arr = NULL;
	int r;

	eca_pg_str(&p, primary, ECA_HOST_MAX);
	/* Every host name is non-empty, so "" starts at the beginning. */
	eca_pg_str(&p, after_host != NULL ? after_host : "", ECA_HOST_MAX);
	eca_pg_i64(&p, eca_pg_limit(limit));
	if (state >= 0)
		eca_pg_str(&p, eca_store_state_names[state], 16);
	r = eca_pg_select(pg_impl(st), state < 0 ? P_LIST_ALL : P_LIST_STATE,
	    &p, sizeof(**out), row_enrollment, row_enrollment_release, NULL,
	    "cannot list enrollments", &arr, n, err);
	*out = arr;
	return r;
}

/* Records by state and those expiring by until, in one GROUP BY. */
int
eca_pg_counts(struct eca_store *st, const char *primary, int64_t until,
    struct eca_store_counts *out, struct eca_err *err)
{
	struct pg_params p = {0};
	PGresult *res = NULL;
	int r, i, state, bad = 0;

	eca_pg_str(&p, primary, ECA_HOST_MAX);
	eca_pg_i64(&p, until);
	if ((r = eca_pg_run(pg_impl(st), P_COUNTS, &p,
		 "cannot count the registry's records", &res, err)) != 0)
		return r;
	for (i = 0; i < PQntuples(res); i++) {
		if ((state = eca_state_from_name(PQgetvalue(res, i, 0))) < 0)
			continue; /* the schema's CHECK allows none */
		out->states[state] = eca_pg_col_i64(res, i, 1, &bad);
		out->total += out->states[state];
		out->expiring += eca_pg_col_i64(res, i, 2, &bad);
		if (state == ECA_STATE_CONFLICT)
			out->waiting = eca_pg_col_i64(res, i, 3, &bad);
	}
	PQclear(res);
	if (bad)
		return eca_err_set(err, ECA_ERR_DB,
		    "the registry's counts are not numbers (is the database "
		    "damaged?)");
	return 0;
}

static int
row_history(const PGresult *res, int i, void *item, const void *arg,
    struct eca_err *err)
{
	struct eca_history_entry *h = item;
	int bad = 0;

	(void)arg;
	h->id = eca_pg_col_i64(res, i, 0, &bad);
	PG_COL_STR(res, i, 1, h->primary, &bad);
	PG_COL_STR(res, i, 2, h->host, &bad);
	PG_COL_STR(res, i, 3, h->host_id, &bad);
	PG_COL_STR(res, i, 4, h->event, &bad);
	h->state = eca_pg_col_enum(res, i, 5, eca_store_state_names,
	    ECA_STORE_NSTATES, &bad);
	PG_COL_STR(res, i, 6, h->fingerprint, &bad);
	PG_COL_STR(res, i, 7, h->spki_fingerprint, &bad);
	PG_COL_STR(res, i, 8, h->actor, &bad);
	PG_COL_STR(res, i, 9, h->source, &bad);
	h->at = eca_pg_col_i64(res, i, 10, &bad);
	if (bad)
		return eca_err_set(err, ECA_ERR_DB,
		    "registry history entry %lld has a field that is "
		    "too long or unknown (is the database damaged?)",
		    (long long)h->id);
	return 0;
}

int
eca_pg_history(struct eca_store *st, const char *primary, const char *host,
    size_t limit, struct eca_history_entry **out, size_t *n,
    struct eca_err *err)
{
	struct pg_params p = {0};
	void *arr = NULL;
	int r;

	eca_pg_str(&p, primary, ECA_HOST_MAX);
	eca_pg_str(&p, host, ECA_HOST_MAX);
	eca_pg_i64(&p, eca_pg_limit(limit));
	r = eca_pg_select(pg_impl(st), P_HISTORY, &p, sizeof(**out),
	    row_history, NULL, NULL, "cannot read the registry history", &arr,
	    n, err);
	*out = arr;
	return r;
}

static int
row_change(const PGresult *res, int i, void *item, const void *arg,
    struct eca_err *err)
{
	struct eca_change *ch = item;
	int bad = 0;

	(void)arg;
	PG_COL_STR(res, i, 0, ch->host, &bad);
	PG_COL_STR(res, i, 1, ch->host_id, &bad);
	ch->state = eca_pg_col_enum(res, i, 2, eca_store_state_names,
	    ECA_STORE_NSTATES, &bad);
	PG_COL_STR(res, i, 3, ch->fingerprint, &bad);
	PG_COL_STR(res, i, 4, ch->spki_fingerprint, &bad);
	ch->not_after = eca_pg_col_i64(res, i, 5, &bad);
	ch->version = eca_pg_col_i64(res, i, 6, &bad);
	ch->nat = eca_pg_col_i64(res, i, 7, &bad) != 0;
	if (bad)
		return eca_err_set(err, ECA_ERR_DB,
		    "registry record of host \"%.64s\" has a field "
		    "that is too long or unknown (is the database "
		    "damaged?)",
		    ch->host);
	return 0;
}

int
eca_pg_changes(struct eca_store *st, const char *primary, int64_t since,
    size_t limit, struct eca_change **out, size_t *n, struct eca_err *err)
{
	struct pg_params p = {0};
	void *arr = NULL;
	int r;

	eca_pg_str(&p, primary, ECA_HOST_MAX);
	eca_pg_i64(&p, since);
	eca_pg_i64(&p, eca_pg_limit(limit));
	r = eca_pg_select(pg_impl(st), P_CHANGES, &p, sizeof(**out), row_change,
	    NULL, NULL, "cannot read the roster changes", &arr, n, err);
	*out = arr;
	return r;
}

/* The values of a page's statement (store_page.c), in its order. */
static void
page_params(const char *primary, const struct eca_store_page *q,
    const enum eca_page_param *params, int np, char *prefix_hi,
    struct pg_params *p)
{
	int i;

	snprintf(prefix_hi, ECA_HOST_MAX + 1, "%s~", q->prefix);
	for (i = 0; i < np; i++)
		switch (params[i]) {
		case ECA_PAGE_PRIMARY:
			eca_pg_str(p, primary, ECA_HOST_MAX);
			break;
		case ECA_PAGE_STATE:
			eca_pg_str(p, eca_store_state_names[q->state], 16);
			break;
		case ECA_PAGE_PREFIX_LO:
			PG_STR(p, q->prefix);
			break;
		case ECA_PAGE_PREFIX_HI:
			eca_pg_str(p, prefix_hi, ECA_HOST_MAX + 1);
			break;
		case ECA_PAGE_AFTER_KEY:
			if (q->sort == ECA_SORT_STATE)
				eca_pg_str(p,
				    eca_store_state_names[q->after_state], 16);
			else
				eca_pg_i64(p, q->after_time);
			break;
		case ECA_PAGE_AFTER_HOST:
			PG_STR(p, q->after_host);
			break;
		case ECA_PAGE_LIMIT:
			eca_pg_i64(p, eca_pg_limit(q->limit));
			break;
		}
}

/* Each row of res into a new array of records. */
static int
page_rows(const PGresult *res, struct eca_enrollment **out, size_t *n,
    struct eca_err *err)
{
	struct eca_enrollment *arr = NULL;
	int r, i, nt = PQntuples(res);

	if (nt > 0 && (arr = calloc((size_t)nt, sizeof(*arr))) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory reading the registry");
	for (i = 0; i < nt; i++)
		if ((r = row_enrollment(res, i, &arr[i], NULL, err)) != 0) {
			eca_enrollments_free(arr, (size_t)i);
			return r;
		}
	*out = arr;
	*n = (size_t)nt;
	return 0;
}

/* Planned for its values each time: the order's index, or the prefix's. */
int
eca_pg_page(struct eca_store *st, const char *primary,
    const struct eca_store_page *q, struct eca_enrollment **out, size_t *n,
    struct eca_err *err)
{
	struct pg_store *s = pg_impl(st);
	enum eca_page_param params[ECA_PAGE_NPARAMS];
	char sql[2048] = "SELECT " PG_ENROLLMENT_SELECT " FROM enrollments e";
	char prefix_hi[ECA_HOST_MAX + 1];
	struct pg_params p = {0};
	size_t used = strlen(sql);
	PGresult *res;
	int r, np;

	if ((r = eca_store_page_sql(q, ECA_PAGE_SQL_DOLLAR, sql + used,
		 sizeof(sql) - used, params, &np, err)) != 0)
		return r;
	page_params(primary, q, params, np, prefix_hi, &p);
	if (p.bad)
		return eca_err_set(err, ECA_ERR_DB,
		    "cannot list enrollments: a value is too long");
	if ((r = eca_pg_ensure(s, err)) != 0)
		return r;
	res = PQexecParams(s->conn, sql, p.n, NULL, p.val, NULL, NULL, 0);
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK)
		r = eca_pg_error(s, res, "cannot list enrollments", err);
	else
		r = page_rows(res, out, n, err);
	PQclear(res);
	return r;
}
