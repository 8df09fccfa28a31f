/* SPDX-License-Identifier: ISC */
/*
 * store_bulk.c - the checks and dispatch of store_bulk.h's calls (the
 * backends' halves are store_sqlite_bulk.c and store_pg_bulk.c).
 */
#include <stddef.h>
#include <stdio.h>

#include "store_impl.h"

static int
check(struct eca_store *st, const struct eca_store_table *t, int need_table,
    int write, const char *what, struct eca_err *err)
{
	if (st == NULL || st->ops == NULL || st->ops->bulk == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "%s: no registry open", what);
	if (write && (st->flags & ECA_STORE_READONLY))
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "%s: the registry was opened read-only", what);
	if (need_table &&
	    (t == NULL || t->name == NULL || t->cols == NULL || t->ncols == 0))
		return eca_err_set(err, ECA_ERR_INTERNAL, "%s: missing table",
		    what);
	return 0;
}

int
eca_store_dump(struct eca_store *st, const struct eca_store_table *t,
    eca_store_sink *sink, void *arg, struct eca_err *err)
{
	int r;

	if ((r = check(st, t, 1, 0, "eca_store_dump", err)) != 0)
		return r;
	if (sink == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_store_dump: missing argument");
	return st->ops->dump(st, t, sink, arg, err);
}

int
eca_store_load(struct eca_store *st, const struct eca_store_table *t,
    eca_store_source *src, void *arg, int64_t *n, struct eca_err *err)
{
	int r;

	if ((r = check(st, t, 1, 1, "eca_store_load", err)) != 0)
		return r;
	if (src == NULL || n == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_store_load: missing argument");
	*n = 0;
	return st->ops->load(st, t, src, arg, n, err);
}

int
eca_store_bulk(struct eca_store *st, enum eca_store_bulk step,
    const struct eca_store_table *t, int64_t *n, struct eca_err *err)
{
	int table =
	    step == ECA_STORE_BULK_COUNT || step == ECA_STORE_BULK_CLEAR;
	int write = step == ECA_STORE_BULK_LOCK || step == ECA_STORE_BULK_CLEAR;
	int r;

	if ((r = check(st, t, table, write, "eca_store_bulk", err)) != 0)
		return r;
	if (step == ECA_STORE_BULK_COUNT && n == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_store_bulk: missing argument");
	return st->ops->bulk(st, step, t, n, err);
}

/* ------------------------------------------------------------------ */
/* The SQL the backends share.                                         */

struct sqlbuf {
	char *s;
	size_t size, len;
	int over;
};

static void
add(struct sqlbuf *b, const char *a, const char *c)
{
	int n;

	if (b->over)
		return;
	n = snprintf(b->s + b->len, b->size - b->len, "%s%s", a,
	    c != NULL ? c : "");
	if (n < 0 || (size_t)n >= b->size - b->len)
		b->over = 1;
	else
		b->len += (size_t)n;
}

int
eca_store_bulk_sql(const struct eca_store_table *t, int pg, int columns_only,
    char *buf, size_t size, struct eca_err *err)
{
	struct sqlbuf b = {buf, size, 0, 0};
	size_t i;
	int c;

	buf[0] = '\0';
	if (!columns_only)
		add(&b, "SELECT ", NULL);
	for (i = 0; i < t->ncols; i++)
		add(&b, i > 0 ? ", " : "", t->cols[i].name);
	if (!columns_only) {
		add(&b, " FROM ", t->name);
		if (t->where != NULL)
			add(&b, " WHERE ", t->where);
		for (i = 0; i < t->norder; i++) {
			c = t->order[i];
			if (c < 0 || (size_t)c >= t->ncols) {
				b.over = 1;
				break;
			}
			add(&b, i > 0 ? ", " : " ORDER BY ", t->cols[c].name);
			if (pg && t->cols[c].type == ECA_COL_TEXT)
				add(&b, " COLLATE \"C\"", NULL);
		}
		if (t->seq != NULL)
			add(&b, t->norder > 0 ? ", " : " ORDER BY ",
			    pg ? t->seq : "rowid");
	}
	if (b.over)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "the registry table %s is described wrongly", t->name);
	return 0;
}

int
eca_store_bulk_step_sql(enum eca_store_bulk step,
    const struct eca_store_table *t, char *buf, size_t size,
    struct eca_err *err)
{
	int r = snprintf(buf, size, "%s %s%s%s",
	    step == ECA_STORE_BULK_COUNT ? "SELECT count(*) FROM" :
					   "DELETE FROM",
	    t->name, t->where != NULL ? " WHERE " : "",
	    t->where != NULL ? t->where : "");

	if (r < 0 || (size_t)r >= size)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "the registry table %s is described wrongly", t->name);
	return 0;
}
