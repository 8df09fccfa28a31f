/* SPDX-License-Identifier: ISC */
/*
 * store_pg_bulk.c - whole tables for export and import (store_bulk.h) on
 * PostgreSQL: a read is one SELECT in libpq's single-row mode (a million
 * rows never sit in memory at once), a load one COPY ... FROM STDIN in
 * text format.  An identity column (history.id) is loaded as given (COPY
 * writes identity columns as OVERRIDING SYSTEM VALUE does) and its
 * sequence then moved past the largest value.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_impl.h"

#define SQL_MAX 4096
#define MAXCOLS 64

/* Run sql (no values); with n, its one integer result. */
static int
simple(struct pg_store *s, const char *sql, int64_t *n, const char *what,
    struct eca_err *err)
{
	PGresult *res = PQexec(s->conn, sql);
	ExecStatusType st =
	    res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	int r = 0, bad = 0;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		r = eca_pg_error(s, res, what, err);
	else if (n != NULL) {
		*n = PQntuples(res) == 1 ? eca_pg_col_i64(res, 0, 0, &bad) : 0;
		if (bad || PQntuples(res) != 1)
			r = eca_err_set(err, ECA_ERR_DB, "%s: no count", what);
	}
	PQclear(res);
	return r;
}

/* Row row of res as t's values. */
static int
read_row(const PGresult *res, const struct eca_store_table *t,
    struct eca_store_value *v, struct eca_err *err)
{
	const char *text;
	char *end;
	size_t i;

	for (i = 0; i < t->ncols; i++) {
		memset(&v[i], 0, sizeof(v[i]));
		if (PQgetisnull(res, 0, (int)i)) {
			v[i].null = 1;
			continue;
		}
		text = PQgetvalue(res, 0, (int)i);
		if (t->cols[i].type == ECA_COL_TEXT) {
			v[i].s = text;
			continue;
		}
		errno = 0;
		v[i].i = strtoll(text, &end, 10);
		if (errno != 0 || end == text || *end != '\0')
			return eca_err_set(err, ECA_ERR_DB,
			    "registry table %s: column %s holds '%.32s', "
			    "not an integer",
			    t->name, t->cols[i].name, text);
	}
	return 0;
}

/* Read every result of the query sent, each row to sink until it fails. */
static int
drain(struct pg_store *s, const struct eca_store_table *t, eca_store_sink *sink,
    void *arg, struct eca_err *err)
{
	struct eca_store_value v[MAXCOLS];
	PGresult *res;
	int r = 0;

	while ((res = PQgetResult(s->conn)) != NULL) {
		switch (PQresultStatus(res)) {
		case PGRES_SINGLE_TUPLE:
			if (r == 0 && (r = read_row(res, t, v, err)) == 0)
				r = sink(arg, v, err);
			break;
		case PGRES_TUPLES_OK:
			break;
		default:
			if (r == 0)
				r = eca_pg_error(s, res,
				    "cannot read the registry", err);
		}
		PQclear(res);
	}
	return r;
}

int
eca_pg_dump(struct eca_store *st, const struct eca_store_table *t,
    eca_store_sink *sink, void *arg, struct eca_err *err)
{
	struct pg_store *s = pg_impl(st);
	char sql[SQL_MAX];
	int r;

	if (t->ncols > MAXCOLS)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "table %s has too many columns", t->name);
	if ((r = eca_store_bulk_sql(t, 1, 0, sql, sizeof(sql), err)) != 0 ||
	    (r = eca_pg_ensure(s, err)) != 0)
		return r;
	if (!PQsendQuery(s->conn, sql))
		return eca_pg_error(s, NULL, "cannot read the registry", err);
	if (!PQsetSingleRowMode(s->conn)) {
		(void)drain(s, t, sink, arg, NULL);
		return eca_err_set(err, ECA_ERR_DB,
		    "cannot read the registry row by row");
	}
	return drain(s, t, sink, arg, err);
}

/* ------------------------------------------------------------------ */
/* COPY FROM STDIN, text format.                                       */

struct line {
	char *buf;
	size_t len, cap;
};

static int
put(struct line *l, const char *p, size_t n)
{
	char *nb;
	size_t ncap;

	if (l->len + n + 1 > l->cap) {
		ncap = (l->cap == 0 ? 1024 : l->cap) * 2 + n;
		if ((nb = realloc(l->buf, ncap)) == NULL)
			return -1;
		l->buf = nb;
		l->cap = ncap;
	}
	memcpy(l->buf + l->len, p, n);
	l->len += n;
	return 0;
}

/* A text value with COPY's backslash escapes. */
static int
put_text(struct line *l, const char *s)
{
	char esc[2] = {'\\', 0};
	const char *p;
	int r = 0;

	for (p = s; *p != '\0' && r == 0; p++) {
		switch (*p) {
		case '\\':
			esc[1] = '\\';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			r = put(l, p, 1);
			continue;
		}
		r = put(l, esc, 2);
	}
	return r;
}

static int
format_row(struct line *l, const struct eca_store_table *t,
    const struct eca_store_value *v)
{
	char num[24];
	size_t i;
	int r = 0;

	l->len = 0;
	for (i = 0; i < t->ncols && r == 0; i++) {
		if (i > 0)
			r = put(l, "\t", 1);
		if (r != 0)
			break;
		if (v[i].null)
			r = put(l, "\\N", 2);
		else if (t->cols[i].type == ECA_COL_INT) {
			snprintf(num, sizeof(num), "%lld", (long long)v[i].i);
			r = put(l, num, strlen(num));
		} else
			r = put_text(l, v[i].s != NULL ? v[i].s : "");
	}
	return r == 0 ? put(l, "\n", 1) : r;
}

/* End the COPY (aborted when failed) and read its outcome. */
static int
copy_end(struct pg_store *s, int failed, struct eca_err *err)
{
	PGresult *res;
	int r = 0;

	if (PQputCopyEnd(s->conn, failed ? "import aborted" : NULL) != 1 &&
	    !failed)
		r = eca_pg_error(s, NULL, "cannot load the registry", err);
	while ((res = PQgetResult(s->conn)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK && r == 0 &&
		    !failed)
			r = eca_pg_error(s, res, "cannot load the registry",
			    err);
		PQclear(res);
	}
	return r;
}

static int
copy_begin(struct pg_store *s, const struct eca_store_table *t,
    struct eca_err *err)
{
	char cols[SQL_MAX], sql[SQL_MAX + 128];
	PGresult *res;
	int r, n;

	if ((r = eca_store_bulk_sql(t, 1, 1, cols, sizeof(cols), err)) != 0)
		return r;
	n = snprintf(sql, sizeof(sql), "COPY %s (%s) FROM STDIN", t->name,
	    cols);
	if (n < 0 || (size_t)n >= sizeof(sql))
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "table %s has too many columns", t->name);
	res = PQexec(s->conn, sql);
	if (res == NULL || PQresultStatus(res) != PGRES_COPY_IN)
		r = eca_pg_error(s, res, "cannot load the registry", err);
	PQclear(res);
	return r;
}

/* Move t's identity sequence past the largest value loaded. */
static int
set_identity(struct pg_store *s, const struct eca_store_table *t,
    struct eca_err *err)
{
	char sql[512];
	int n;

	n = snprintf(sql, sizeof(sql),
	    "SELECT setval(pg_get_serial_sequence('%s', '%s'),"
	    " coalesce(max(%s), 0) + 1, false) FROM %s",
	    t->name, t->identity, t->identity, t->name);
	if (n < 0 || (size_t)n >= sizeof(sql))
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "the registry table %s is described wrongly", t->name);
	return simple(s, sql, NULL, "cannot set the registry's numbering", err);
}

int
eca_pg_load(struct eca_store *st, const struct eca_store_table *t,
    eca_store_source *src, void *arg, int64_t *n, struct eca_err *err)
{
	struct pg_store *s = pg_impl(st);
	struct eca_store_value v[MAXCOLS];
	struct line l = {NULL, 0, 0};
	int r, e;

	if (t->ncols > MAXCOLS)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "table %s has too many columns", t->name);
	if ((r = copy_begin(s, t, err)) != 0)
		return r;
	while ((r = src(arg, v, err)) == 1) {
		if (format_row(&l, t, v) != 0) {
			r = eca_err_set(err, ECA_ERR_NOMEM,
			    "out of memory loading the registry");
			break;
		}
		if (PQputCopyData(s->conn, l.buf, (int)l.len) != 1) {
			r = eca_pg_error(s, NULL, "cannot load the registry",
			    err);
			break;
		}
		(*n)++;
	}
	free(l.buf);
	e = copy_end(s, r != 0, err);
	if (r == 0)
		r = e;
	if (r == 0 && t->identity != NULL)
		r = set_identity(s, t, err);
	return r;
}

static int
snapshot(struct pg_store *s, struct eca_err *err)
{
	int r;

	if ((r = s->base.ops->tx(&s->base, ECA_STORE_TX_BEGIN, err)) != 0)
		return r;
	r = simple(s,
	    "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", NULL,
	    "cannot start a registry read", err);
	if (r != 0)
		(void)s->base.ops->tx(&s->base, ECA_STORE_TX_ROLLBACK, NULL);
	return r;
}

int
eca_pg_bulk(struct eca_store *st, enum eca_store_bulk step,
    const struct eca_store_table *t, int64_t *n, struct eca_err *err)
{
	struct pg_store *s = pg_impl(st);
	char sql[512];
	int r;

	switch (step) {
	case ECA_STORE_BULK_SNAPSHOT:
		return snapshot(s, err);
	case ECA_STORE_BULK_END:
		return s->base.ops->tx(&s->base, ECA_STORE_TX_ROLLBACK, err);
	case ECA_STORE_BULK_LOCK:
		/* Front ends keep reading; their writes wait for COMMIT. */
		return simple(s,
		    "LOCK TABLE meta, enrollments, history, candidates, dn_map"
		    " IN EXCLUSIVE MODE",
		    NULL, "cannot lock the registry", err);
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
