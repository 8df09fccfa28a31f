/* SPDX-License-Identifier: ISC */
/*
 * store_bulk.h - whole registry tables, row by row, for `eca registry
 * export/import/verify` (registry_io.c).
 *
 * The caller describes a table (its columns, their types, the order its
 * rows come in); each backend turns that into its own SQL: SQLite reads
 * and INSERTs, PostgreSQL reads in single-row mode and loads with COPY.
 * Text is compared byte by byte in both (PostgreSQL's "C" collation), so
 * the two backends give the rows of one registry in the same order.
 */
#ifndef ECA_STORE_BULK_H
#define ECA_STORE_BULK_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "store.h"

enum eca_store_coltype { ECA_COL_TEXT, ECA_COL_INT };

struct eca_store_column {
	const char *name;
	enum eca_store_coltype type;
};

struct eca_store_table {
	const char *name; /* "enrollments" */
	const struct eca_store_column *cols;
	size_t ncols;
	/* ORDER BY these columns (indexes into cols), text bytewise... */
	const int *order;
	size_t norder;
	/*
	 * ...then by insertion order: SQLite's rowid, PostgreSQL's column
	 * of this name (NULL: the order columns are a key).
	 */
	const char *seq;
	/* Only the rows matching this SQL condition (NULL: all). */
	const char *where;
	/*
	 * A column the backend numbers itself (history.id): loaded as given,
	 * and the backend's counter moved past the largest one.
	 */
	const char *identity;
};

/* One value of a row: null, or i (INT) or s (TEXT, NUL-terminated). */
struct eca_store_value {
	int null;
	int64_t i;
	const char *s;
};

/*
 * A row read (v: t->ncols values, valid during the call); non-zero (an
 * error, err filled) ends the read.
 */
typedef int eca_store_sink(void *arg, const struct eca_store_value *v,
    struct eca_err *err);
/*
 * The next row to load into *v (t->ncols values, valid until the next
 * call): 1 a row, 0 no more rows of this table, negative an error.
 */
typedef int eca_store_source(void *arg, struct eca_store_value *v,
    struct eca_err *err);

enum eca_store_bulk {
	/*
	 * Begin a read-only transaction on one consistent snapshot (SQLite: a
	 * deferred read transaction, so a running ecad's writer is not
	 * blocked; PostgreSQL: REPEATABLE READ, READ ONLY), on a reader
	 * connection too.  END ends it.
	 */
	ECA_STORE_BULK_SNAPSHOT,
	ECA_STORE_BULK_END,
	/*
	 * Inside eca_store_begin's transaction: keep other writers out of
	 * the registry's tables until COMMIT (PostgreSQL: LOCK TABLE ... IN
	 * EXCLUSIVE MODE, reads go on; SQLite: BEGIN IMMEDIATE did it).
	 */
	ECA_STORE_BULK_LOCK,
	ECA_STORE_BULK_COUNT, /* *n: the rows of t */
	ECA_STORE_BULK_CLEAR, /* delete the rows of t */
};

/* t's rows, in its order, each handed to sink. */
int eca_store_dump(struct eca_store *st, const struct eca_store_table *t,
    eca_store_sink *sink, void *arg, struct eca_err *err) ECA_WUR;
/* Insert src's rows into t (inside a transaction); *n: how many. */
int eca_store_load(struct eca_store *st, const struct eca_store_table *t,
    eca_store_source *src, void *arg, int64_t *n, struct eca_err *err) ECA_WUR;
/* t is NULL for SNAPSHOT, END and LOCK; n is used by COUNT only. */
int eca_store_bulk(struct eca_store *st, enum eca_store_bulk step,
    const struct eca_store_table *t, int64_t *n, struct eca_err *err) ECA_WUR;

#endif
