/* SPDX-License-Identifier: ISC */
/*
 * store_sqlite_records.c - enrollment records, their history, the
 * registry version counter and the roster's view of the records, in the
 * SQLite backend (the statements are in store_sqlite_sql.c).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite_impl.h"

/* The role column: config's names (lower case, like the wire format). */
static enum eca_role
col_role(sqlite3_stmt *stmt, int col, int *bad)
{
	int v;

	v = eca_config_role_from_name(
	    (const char *)sqlite3_column_text(stmt, col));
	if (v < 0) {
		*bad = 1;
		return ECA_ROLE_CLIENT;
	}
	return (enum eca_role)v;
}

/* One row of ENROLLMENT_COLUMNS (and the candidate count) into a record. */
static int
row_enrollment(sqlite3_stmt *stmt, void *item, const void *arg,
    struct eca_err *err)
{
	struct eca_enrollment *rec = item;
	int bad = 0;

	(void)arg;
	memset(rec, 0, sizeof(*rec));
	COL_STR(stmt, C_PRIMARY, rec->primary, &bad);
	COL_STR(stmt, C_HOST, rec->host, &bad);
	COL_STR(stmt, C_HOST_ID, rec->host_id, &bad);
	rec->role = col_role(stmt, C_ROLE, &bad);
	rec->state = eca_sqlite_col_enum(stmt, C_STATE, eca_store_state_names,
	    ECA_STORE_NSTATES, &bad);
	rec->method = eca_sqlite_col_enum(stmt, C_METHOD,
	    eca_store_method_names, ECA_STORE_NMETHODS, &bad);
	eca_sqlite_col_cert(stmt, C_CERT, &rec->cert, &bad);
	rec->has_candidate = sqlite3_column_int(stmt, C_HAS_CANDIDATE) != 0;
	if (rec->has_candidate) {
		eca_sqlite_col_cert(stmt, C_CAND, &rec->candidate, &bad);
		rec->candidate_at = sqlite3_column_int64(stmt, C_CANDIDATE_AT);
		COL_STR(stmt, C_CANDIDATE_SOURCE, rec->candidate_source, &bad);
	}
	rec->enrolled_at = sqlite3_column_int64(stmt, C_ENROLLED_AT);
	rec->updated_at = sqlite3_column_int64(stmt, C_UPDATED_AT);
	rec->last_seen = sqlite3_column_int64(stmt, C_LAST_SEEN);
	COL_STR(stmt, C_SOURCE, rec->source, &bad);
	rec->version = sqlite3_column_int64(stmt, C_VERSION);
	rec->nat = sqlite3_column_int(stmt, C_NAT) != 0;
	rec->ncandidates = sqlite3_column_int(stmt, C_NCANDIDATES);
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

int
eca_sqlite_get(struct eca_store *st, const char *primary, const char *host,
    struct eca_enrollment *out, struct eca_err *err)
{
	struct sqlite_store *s = sqlite_impl(st);
	sqlite3_stmt *stmt = NULL;
	int r, rc = SQLITE_OK;

	if ((r = eca_sqlite_start(st, S_GET, primary, host, ECA_HOST_MAX, &stmt,
		 &rc, err)) != 0)
		return r;
	r = eca_sqlite_select_one(s, stmt, rc, row_enrollment, out, NULL,
	    "cannot look a host up", err);
	if (r == ECA_ERR_NOT_FOUND)
		r = eca_err_set(err, ECA_ERR_NOT_FOUND,
		    "host \"%.253s\" has no enrollment record", host);
	return r;
}

int
eca_sqlite_put(struct eca_store *st, const struct eca_enrollment *rec,
    struct eca_err *err)
{
	struct sqlite_store *s = sqlite_impl(st);
	sqlite3_stmt *stmt = NULL;
	int r, rc = SQLITE_OK;

	if (eca_config_role_from_name(eca_config_role_name(rec->role)) < 0 ||
	    (unsigned)rec->state >= ECA_STORE_NSTATES ||
	    (unsigned)rec->method >= ECA_STORE_NMETHODS)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "registry record has an unknown role, state or method");
	if ((r = eca_sqlite_stmt(s, S_PUT, &stmt, err)) != 0)
		return r;
	BIND_STR(stmt, C_PRIMARY, rec->primary, &rc);
	BIND_STR(stmt, C_HOST, rec->host, &rc);
	BIND_STR(stmt, C_HOST_ID, rec->host_id, &rc);
	eca_sqlite_bind_str(stmt, C_ROLE, eca_config_role_name(rec->role), 16,
	    &rc);
	eca_sqlite_bind_str(stmt, C_STATE, eca_store_state_names[rec->state],
	    16, &rc);
	eca_sqlite_bind_str(stmt, C_METHOD, eca_store_method_names[rec->method],
	    16, &rc);
	eca_sqlite_bind_cert(stmt, C_CERT, &rec->cert, 1, &rc);
	eca_sqlite_bind_i64(stmt, C_HAS_CANDIDATE, rec->has_candidate ? 1 : 0,
	    &rc);
	eca_sqlite_bind_cert(stmt, C_CAND, &rec->candidate, rec->has_candidate,
	    &rc);
	if (rec->has_candidate) {
		eca_sqlite_bind_i64(stmt, C_CANDIDATE_AT, rec->candidate_at,
		    &rc);
		BIND_STR(stmt, C_CANDIDATE_SOURCE, rec->candidate_source, &rc);
	} else {
		eca_sqlite_bind_null(stmt, C_CANDIDATE_AT, &rc);
		eca_sqlite_bind_null(stmt, C_CANDIDATE_SOURCE, &rc);
	}
	eca_sqlite_bind_i64(stmt, C_ENROLLED_AT, rec->enrolled_at, &rc);
	eca_sqlite_bind_i64(stmt, C_UPDATED_AT, rec->updated_at, &rc);
	eca_sqlite_bind_i64(stmt, C_LAST_SEEN, rec->last_seen, &rc);
	BIND_STR(stmt, C_SOURCE, rec->source, &rc);
	eca_sqlite_bind_i64(stmt, C_VERSION, rec->version, &rc);
	eca_sqlite_bind_i64(stmt, C_NAT, rec->nat ? 1 : 0, &rc);
	return eca_sqlite_run(s, stmt, rc, "cannot store an enrollment record",
	    err);
}

/*
 * The registry's version counter (S_VERSION); the statement is run to its
 * end.
 */
static int
version_counter(struct sqlite_store *s, const char *what, int64_t *out,
    struct eca_err *err)
{
	sqlite3_stmt *stmt = NULL;
	int r = ECA_ERR_INTERNAL, rc = SQLITE_OK;

	if ((r = eca_sqlite_stmt(s, S_VERSION, &stmt, err)) != 0)
		return r;
	eca_sqlite_bind_str(stmt, 0, VERSION_KEY, sizeof(VERSION_KEY), &rc);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		r = rc == SQLITE_DONE ?
		    eca_err_set(err, ECA_ERR_DB,
			"registry version counter "
			"is missing (is the database damaged?)") :
		    eca_sqlite_error(s, rc, what, err);
		goto out;
	}
	*out = sqlite3_column_int64(stmt, 0);
	if ((rc = sqlite3_step(stmt)) != SQLITE_DONE) {
		r = eca_sqlite_error(s, rc, what, err);
		goto out;
	}
	r = 0;
out:
	eca_sqlite_done(stmt);
	return r;
}

/* Advance the counter (S_NEXT_VERSION), then read it (S_VERSION). */
int
eca_sqlite_next_version(struct eca_store *st, int64_t *out, struct eca_err *err)
{
	struct sqlite_store *s = sqlite_impl(st);
	sqlite3_stmt *stmt = NULL;
	int r, rc = SQLITE_OK;

	if ((r = eca_sqlite_stmt(s, S_NEXT_VERSION, &stmt, err)) != 0)
		return r;
	eca_sqlite_bind_str(stmt, 0, VERSION_KEY, sizeof(VERSION_KEY), &rc);
	/* A missing row updates nothing, and the read says so. */
	if ((r = eca_sqlite_run(s, stmt, rc,
		 "cannot advance the registry version", err)) != 0)
		return r;
	return version_counter(s, "cannot advance the registry version", out,
	    err);
}

int
eca_sqlite_version(struct eca_store *st, int64_t *out, struct eca_err *err)
{
	return version_counter(sqlite_impl(st),
	    "cannot read the registry version", out, err);
}

int
eca_sqlite_add_history(struct eca_store *st, const struct eca_history_entry *h,
    struct eca_err *err)
{
	struct sqlite_store *s = sqlite_impl(st);
	sqlite3_stmt *stmt = NULL;
	int r, rc = SQLITE_OK;

	if ((unsigned)h->state >= ECA_STORE_NSTATES)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "history entry has an unknown state");
	if ((r = eca_sqlite_stmt(s, S_ADD_HISTORY, &stmt, err)) != 0)
		return r;
	BIND_STR(stmt, 0, h->primary, &rc);
	BIND_STR(stmt, 1, h->host, &rc);
	BIND_STR(stmt, 2, h->host_id, &rc);
	BIND_STR(stmt, 3, h->event, &rc);
	eca_sqlite_bind_str(stmt, 4, eca_store_state_names[h->state], 16, &rc);
	BIND_STR(stmt, 5, h->fingerprint, &rc);
	BIND_STR(stmt, 6, h->spki_fingerprint, &rc);
	BIND_STR(stmt, 7, h->actor, &rc);
	BIND_STR(stmt, 8, h->source, &rc);
	eca_sqlite_bind_i64(stmt, 9, h->at, &rc);
	return eca_sqlite_run(s, stmt, rc,
	    "cannot append to the registry history", err);
}

int
eca_sqlite_list(struct eca_store *st, const char *primary, int state,
    const char *after_host, size_t limit, struct eca_enrollment **out,
    size_t *n, struct eca_err *err)
{
	struct sqlite_store *s = sqlite_impl(st);
	sqlite3_stmt *stmt = NULL;
	void *arr = NULL;
	int r, rc = SQLITE_OK;

	if ((r = eca_sqlite_start(st, state < 0 ? S_LIST_ALL : S_LIST_STATE,
		 primary, NULL, 0, &stmt, &rc, err)) != 0)
		return r;
	/* Every host name is non-empty, so "" starts at the beginning. */
	eca_sqlite_bind_str(stmt, 1, after_host != NULL ? after_host : "",
	    ECA_HOST_MAX, &rc);
	eca_sqlite_bind_i64(stmt, 2, eca_sqlite_limit(limit), &rc);
	if (state >= 0)
		eca_sqlite_bind_str(stmt, 3, eca_store_state_names[state], 16,
		    &rc);
	r = eca_sqlite_select(s, stmt, rc, sizeof(**out), row_enrollment,
	    row_enrollment_release, NULL, "cannot list enrollments", &arr, n,
	    err);
	*out = arr;
	return r;
}

/*
 * A prefix with another order than the name: when fewer than this many
 * names have the prefix, its rows are read and sorted; else the order's
 * index is walked and filtered, which then finds a page within about
 * limit * records / PREFIX_FEW index entries.
 */
#define PREFIX_FEW 10000

/* How many names have the prefix, counted up to PREFIX_FEW. */
static int
prefix_count(struct sqlite_store *s, const char *primary, const char *lo,
    const char *hi, int64_t *count, struct eca_err *err)
{
	static const char sql[] =
	    "SELECT count(*) FROM (SELECT 1 FROM enrollments"
	    " WHERE primary_name = ?1 AND host >= ?2 AND host < ?3 LIMIT ?4)";
	sqlite3_stmt *stmt = NULL;
	int rc;

	rc = sqlite3_prepare_v2(s->db, sql, -1, &stmt, NULL);
	if (rc == SQLITE_OK) {
		eca_sqlite_bind_str(stmt, 0, primary, ECA_HOST_MAX, &rc);
		eca_sqlite_bind_str(stmt, 1, lo, ECA_HOST_MAX, &rc);
		eca_sqlite_bind_str(stmt, 2, hi, ECA_HOST_MAX + 1, &rc);
		eca_sqlite_bind_i64(stmt, 3, PREFIX_FEW, &rc);
	}
	if (rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		*count = sqlite3_column_int64(stmt, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(stmt);
	return rc == SQLITE_OK ?
	    0 :
	    eca_sqlite_error(s, rc, "cannot list enrollments", err);
}

/* The statement of a page (store_page.c), prepared for this call. */
static int
page_stmt(struct sqlite_store *s, const char *primary,
    const struct eca_store_page *q, char *prefix_hi, sqlite3_stmt **stmt,
    int *rc, struct eca_err *err)
{
	enum eca_page_param params[ECA_PAGE_NPARAMS];
	char sql[2048] = "SELECT " ENROLLMENT_SELECT " FROM enrollments";
	size_t used = strlen(sql);
	int64_t few = PREFIX_FEW;
	int r, np, i;

	snprintf(prefix_hi, ECA_HOST_MAX + 1, "%s~", q->prefix);
	if (q->prefix[0] != '\0' && q->sort != ECA_SORT_NAME &&
	    (r = prefix_count(s, primary, q->prefix, prefix_hi, &few, err)) !=
		0)
		return r;
	if ((r = eca_store_page_sql(q,
		 few < PREFIX_FEW ? ECA_PAGE_SQL_PREFIX_FIRST : 0, sql + used,
		 sizeof(sql) - used, params, &np, err)) != 0)
		return r;
	if ((*rc = sqlite3_prepare_v2(s->db, sql, -1, stmt, NULL)) != SQLITE_OK)
		return eca_sqlite_error(s, *rc, "cannot list enrollments", err);
	for (i = 0; i < np; i++)
		switch (params[i]) {
		case ECA_PAGE_PRIMARY:
			eca_sqlite_bind_str(*stmt, i, primary, ECA_HOST_MAX,
			    rc);
			break;
		case ECA_PAGE_STATE:
			eca_sqlite_bind_str(*stmt, i,
			    eca_store_state_names[q->state], 16, rc);
			break;
		case ECA_PAGE_PREFIX_LO:
			BIND_STR(*stmt, i, q->prefix, rc);
			break;
		case ECA_PAGE_PREFIX_HI:
			eca_sqlite_bind_str(*stmt, i, prefix_hi,
			    ECA_HOST_MAX + 1, rc);
			break;
		case ECA_PAGE_AFTER_KEY:
			if (q->sort == ECA_SORT_STATE)
				eca_sqlite_bind_str(*stmt, i,
				    eca_store_state_names[q->after_state], 16,
				    rc);
			else
				eca_sqlite_bind_i64(*stmt, i, q->after_time,
				    rc);
			break;
		case ECA_PAGE_AFTER_HOST:
			BIND_STR(*stmt, i, q->after_host, rc);
			break;
		case ECA_PAGE_LIMIT:
			eca_sqlite_bind_i64(*stmt, i,
			    eca_sqlite_limit(q->limit), rc);
			break;
		}
	return 0;
}

int
eca_sqlite_page(struct eca_store *st, const char *primary,
    const struct eca_store_page *q, struct eca_enrollment **out, size_t *n,
    struct eca_err *err)
{
	struct sqlite_store *s = sqlite_impl(st);
	char prefix_hi[ECA_HOST_MAX + 1];
	sqlite3_stmt *stmt = NULL;
	void *arr = NULL;
	int r, rc = SQLITE_OK;

	if ((r = page_stmt(s, primary, q, prefix_hi, &stmt, &rc, err)) == 0)
		r = eca_sqlite_select(s, stmt, rc, sizeof(**out),
		    row_enrollment, row_enrollment_release, NULL,
		    "cannot list enrollments", &arr, n, err);
	sqlite3_finalize(stmt);
	*out = arr;
	return r;
}

static int
row_history(sqlite3_stmt *stmt, void *item, const void *arg,
    struct eca_err *err)
{
	struct eca_history_entry *h = item;
	int bad = 0;

	(void)arg;
	h->id = sqlite3_column_int64(stmt, 0);
	COL_STR(stmt, 1, h->primary, &bad);
	COL_STR(stmt, 2, h->host, &bad);
	COL_STR(stmt, 3, h->host_id, &bad);
	COL_STR(stmt, 4, h->event, &bad);
	h->state = eca_sqlite_col_enum(stmt, 5, eca_store_state_names,
	    ECA_STORE_NSTATES, &bad);
	COL_STR(stmt, 6, h->fingerprint, &bad);
	COL_STR(stmt, 7, h->spki_fingerprint, &bad);
	COL_STR(stmt, 8, h->actor, &bad);
	COL_STR(stmt, 9, h->source, &bad);
	h->at = sqlite3_column_int64(stmt, 10);
	if (bad)
		return eca_err_set(err, ECA_ERR_DB,
		    "registry history entry %lld has a field that is "
		    "too long or unknown (is the database damaged?)",
		    (long long)h->id);
	return 0;
}

int
eca_sqlite_history(struct eca_store *st, const char *primary, const char *host,
    size_t limit, struct eca_history_entry **out, size_t *n,
    struct eca_err *err)
{
	struct sqlite_store *s = sqlite_impl(st);
	sqlite3_stmt *stmt = NULL;
	void *arr = NULL;
	int r, rc = SQLITE_OK;

	if ((r = eca_sqlite_start(st, S_HISTORY, primary, host, ECA_HOST_MAX,
		 &stmt, &rc, err)) != 0)
		return r;
	eca_sqlite_bind_i64(stmt, 2, eca_sqlite_limit(limit), &rc);
	r = eca_sqlite_select(s, stmt, rc, sizeof(**out), row_history, NULL,
	    NULL, "cannot read the registry history", &arr, n, err);
	*out = arr;
	return r;
}

/* What the roster carries of one record. */
static int
row_change(sqlite3_stmt *stmt, void *item, const void *arg, struct eca_err *err)
{
	struct eca_change *ch = item;
	int bad = 0;

	(void)arg;
	COL_STR(stmt, 0, ch->host, &bad);
	COL_STR(stmt, 1, ch->host_id, &bad);
	ch->state = eca_sqlite_col_enum(stmt, 2, eca_store_state_names,
	    ECA_STORE_NSTATES, &bad);
	COL_STR(stmt, 3, ch->fingerprint, &bad);
	COL_STR(stmt, 4, ch->spki_fingerprint, &bad);
	ch->not_after = sqlite3_column_int64(stmt, 5);
	ch->version = sqlite3_column_int64(stmt, 6);
	ch->nat = sqlite3_column_int(stmt, 7) != 0;
	if (bad)
		return eca_err_set(err, ECA_ERR_DB,
		    "registry record of host \"%.64s\" has a field "
		    "that is too long or unknown (is the database "
		    "damaged?)",
		    ch->host);
	return 0;
}

int
eca_sqlite_changes(struct eca_store *st, const char *primary, int64_t since,
    size_t limit, struct eca_change **out, size_t *n, struct eca_err *err)
{
	struct sqlite_store *s = sqlite_impl(st);
	sqlite3_stmt *stmt = NULL;
	void *arr = NULL;
	int r, rc = SQLITE_OK;

	if ((r = eca_sqlite_start(st, S_CHANGES, primary, NULL, 0, &stmt, &rc,
		 err)) != 0)
		return r;
	eca_sqlite_bind_i64(stmt, 1, since, &rc);
	eca_sqlite_bind_i64(stmt, 2, eca_sqlite_limit(limit), &rc);
	r = eca_sqlite_select(s, stmt, rc, sizeof(**out), row_change, NULL,
	    NULL, "cannot read the roster changes", &arr, n, err);
	*out = arr;
	return r;
}

/* Records by state and those expiring by until, in one GROUP BY. */
int
eca_sqlite_counts(struct eca_store *st, const char *primary, int64_t until,
    struct eca_store_counts *out, struct eca_err *err)
{
	sqlite3_stmt *stmt = NULL;
	const char *name;
	int r, rc, state;

	if ((r = eca_sqlite_start(st, S_COUNTS, primary, NULL, 0, &stmt, &rc,
		 err)) != 0)
		return r;
	eca_sqlite_bind_i64(stmt, 1, until, &rc);
	while (rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		rc = SQLITE_OK;
		name = (const char *)sqlite3_column_text(stmt, 0);
		if (name == NULL || (state = eca_state_from_name(name)) < 0)
			continue; /* the schema's CHECK allows none */
		out->states[state] = sqlite3_column_int64(stmt, 1);
		out->total += out->states[state];
		out->expiring += sqlite3_column_int64(stmt, 2);
		if (state == ECA_STATE_CONFLICT)
			out->waiting = sqlite3_column_int64(stmt, 3);
	}
	r = rc == SQLITE_DONE ? 0 :
				eca_sqlite_error(sqlite_impl(st), rc,
				    "cannot count the registry's records", err);
	eca_sqlite_done(stmt);
	return r;
}
