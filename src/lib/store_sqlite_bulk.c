/* SPDX-License-Identifier: ISC */
/*
 * store_sqlite_bulk.c - whole tables for export and import (store_bulk.h)
 * on SQLite: a read is one SELECT stepped row by row, a load one INSERT
 * prepared once and run per row.  The statements are built from the
 * caller's table description and not kept (an import runs once).
 */
#include <stdio.h>
#include <string.h>

#include "store_sqlite_impl.h"

#define SQL_MAX 4096

static int
prepare(struct sqlite_store *s, const char *sql, sqlite3_stmt **out,
    struct eca_err *err)
{
	int rc = sqlite3_prepare_v2(s->db, sql, -1, out, NULL);

	if (rc != SQLITE_OK) {
		*out = NULL;
		return eca_sqlite_error(s, rc,
		    "cannot prepare a registry statement", err);
	}
	return 0;
}

/* One row of stmt as t's values (TEXT read as text, INT as integer). */
static void
read_row(sqlite3_stmt *stmt, const struct eca_store_table *t,
    struct eca_store_value *v)
{
	size_t i;

	for (i = 0; i < t->ncols; i++) {
		memset(&v[i], 0, sizeof(v[i]));
		if (sqlite3_column_type(stmt, (int)i) == SQLITE_NULL)
			v[i].null = 1;
		else if (t->cols[i].type == ECA_COL_INT)
			v[i].i = sqlite3_column_int64(stmt, (int)i);
		else
			v[i].s =
			    (const char *)sqlite3_column_text(stmt, (int)i);
		if (t->cols[i].type == ECA_COL_TEXT && !v[i].null &&
		    v[i].s == NULL)
			v[i].null = 1; /* out of memory reads as NULL */
	}
}

int
eca_sqlite_dump(struct eca_store *st, const struct eca_store_table *t,
    eca_store_sink *sink, void *arg, struct eca_err *err)
{
	struct sqlite_store *s = sqlite_impl(st);
	struct eca_store_value v[64];
	sqlite3_stmt *stmt = NULL;
	char sql[SQL_MAX];
	int r, rc;

	if (t->ncols > sizeof(v) / sizeof(v[0]))
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "table %s has too many columns", t->name);
	if ((r = eca_store_bulk_sql(t, 0, 0, sql, sizeof(sql), err)) != 0 ||
	    (r = prepare(s, sql, &stmt, err)) != 0)
		return r;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		read_row(stmt, t, v);
		if ((r = sink(arg, v, err)) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE)
		r = eca_sqlite_error(s, rc, "cannot read the registry", err);
out:
	sqlite3_finalize(stmt);
	return r;
}

static int
bind_row(sqlite3_stmt *stmt, const struct eca_store_table *t,
    const struct eca_store_value *v)
{
	size_t i;
	int rc = SQLITE_OK;

	for (i = 0; i < t->ncols && rc == SQLITE_OK; i++) {
		if (v[i].null)
			rc = sqlite3_bind_null(stmt, (int)i + 1);
		else if (t->cols[i].type == ECA_COL_INT)
			rc = sqlite3_bind_int64(stmt, (int)i + 1, v[i].i);
		else
			rc = sqlite3_bind_text(stmt, (int)i + 1, v[i].s, -1,
			    SQLITE_TRANSIENT);
	}
	return rc;
}

static int
insert_sql(const struct eca_store_table *t, char *sql, size_t size,
    struct eca_err *err)
{
	char cols[SQL_MAX];
	size_t i, len;
	int r, n;

	if ((r = eca_store_bulk_sql(t, 0, 1, cols, sizeof(cols), err)) != 0)
		return r;
	n = snprintf(sql, size, "INSERT INTO %s (%s) VALUES (", t->name, cols);
	for (i = 0; n > 0 && (size_t)n < size && i < t->ncols; i++) {
		len = (size_t)n;
		n = snprintf(sql + len, size - len, "%s?%zu", i > 0 ? ", " : "",
		    i + 1);
		n = n < 0 ? n : n + (int)len;
	}
	if (n > 0 && (size_t)n < size)
		n = snprintf(sql + n, size - (size_t)n, ")") + n;
	if (n < 0 || (size_t)n >= size)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "table %s has too many columns", t->name);
	return 0;
}

int
eca_sqlite_load(struct eca_store *st, const struct eca_store_table *t,
    eca_store_source *src, void *arg, int64_t *n, struct eca_err *err)
{
	struct sqlite_store *s = sqlite_impl(st);
	struct eca_store_value v[64];
	sqlite3_stmt *stmt = NULL;
	char sql[SQL_MAX];
	int r, rc;

	if (t->ncols > sizeof(v) / sizeof(v[0]))
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "table %s has too many columns", t->name);
	if ((r = insert_sql(t, sql, sizeof(sql), err)) != 0 ||
	    (r = prepare(s, sql, &stmt, err)) != 0)
		return r;
	while ((r = src(arg, v, err)) == 1) {
		if ((rc = bind_row(stmt, t, v)) == SQLITE_OK)
			rc = sqlite3_step(stmt);
		if (rc != SQLITE_DONE) {
			r = eca_sqlite_error(s, rc, "cannot load the registry",
			    err);
			break;
		}
		sqlite3_reset(stmt);
		(*n)++;
	}
	sqlite3_finalize(stmt);
	return r;
}

/* Run sql (no values); with n, its one integer result. */
static int
simple(struct sqlite_store *s, const char *sql, int64_t *n, const char *what,
    struct eca_err *err)
{
	sqlite3_stmt *stmt = NULL;
	int r = 0, rc;

	if ((r = prepare(s, sql, &stmt, err)) != 0)
		return r;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW && n != NULL) {
		*n = sqlite3_column_int64(stmt, 0);
		rc = sqlite3_step(stmt);
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		r = eca_sqlite_error(s, rc, what, err);
	sqlite3_finalize(stmt);
	return r;
}

int
eca_sqlite_bulk(struct eca_store *st, enum eca_store_bulk step,
    const struct eca_store_table *t, int64_t *n, struct eca_err *err)
{
	struct sqlite_store *s = sqlite_impl(st);
	char sql[512];
	int r;

	switch (step) {
	case ECA_STORE_BULK_SNAPSHOT:
		/* A read now, so the snapshot is taken at once. */
		if ((r = simple(s, "BEGIN DEFERRED", NULL,
			 "cannot start a registry read", err)) != 0)
			return r;
		if ((r = simple(s, "SELECT count(*) FROM meta", NULL,
			 "cannot start a registry read", err)) != 0)
			(void)simple(s, "ROLLBACK", NULL, "rollback", NULL);
		return r;
	case ECA_STORE_BULK_END:
		return simple(s, "ROLLBACK", NULL, "rollback", err);
	case ECA_STORE_BULK_LOCK:
		return 0; /* BEGIN IMMEDIATE holds the write lock already */
	case ECA_STORE_BULK_COUNT:
	case ECA_STORE_BULK_CLEAR:
		if ((r = eca_store_bulk_step_sql(step, t, sql, sizeof(sql),
			 err)) != 0)
			return r;
		return simple(s, sql, step == ECA_STORE_BULK_COUNT ? n : NULL,
		    step == ECA_STORE_BULK_COUNT ? "cannot count the registry" :
						   "cannot clear the registry",
		    err);
	}
	return eca_err_set(err, ECA_ERR_INTERNAL, "unknown bulk step %d",
	    (int)step);
}
