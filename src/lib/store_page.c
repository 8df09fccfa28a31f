/* SPDX-License-Identifier: ISC */
/*
 * store_page.c - a sorted, filtered page of records (eca_store_page): the
 * checks of the front and the one statement both backends run, written
 * here once so that SQLite and PostgreSQL page alike.  Keyset paging:
 * "(key, host) > (cursor)" in the order of an index that starts with
 * primary_name (and state when filtered), so a page reads only its rows.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hostname.h"
#include "store_impl.h"

/* The column each order sorts by before the name (NULL: the name alone). */
static const char *const sort_column[ECA_STORE_NSORTS] = {
    [ECA_SORT_NAME] = NULL,
    [ECA_SORT_STATE] = "state",
    [ECA_SORT_ENROLLED] = "enrolled_at",
    [ECA_SORT_EXPIRY] = "not_after",
};

struct sql_buf {
	char *buf;
	size_t len, used;
	int dollar, over;
	enum eca_page_param *params;
	int np;
};

static void add(struct sql_buf *b, const char *fmt, ...) ECA_PRINTF(2, 3);

static void
add(struct sql_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->over)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->buf + b->used, b->len - b->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->len - b->used)
		b->over = 1;
	else
		b->used += (size_t)n;
}

/* The next placeholder, taking value p. */
static void
param(struct sql_buf *b, enum eca_page_param p)
{
	b->params[b->np++] = p;
	add(b, "%c%d", b->dollar ? '$' : '?', b->np);
}

int
eca_store_page_sql(const struct eca_store_page *q, int flags, char *buf,
    size_t len, enum eca_page_param *params, int *np, struct eca_err *err)
{
	int dollar = (flags & ECA_PAGE_SQL_DOLLAR) != 0;
	int pfirst = (flags & ECA_PAGE_SQL_PREFIX_FIRST) != 0;
	struct sql_buf b = {buf, len, 0, dollar, len == 0, params, 0};
	/* By state within one state is by name (and its index). */
	const char *key = q->state >= 0 && q->sort == ECA_SORT_STATE ?
	    NULL :
	    sort_column[q->sort];
	const char *dir = q->desc ? "DESC" : "ASC";

	add(&b, " WHERE primary_name = ");
	param(&b, ECA_PAGE_PRIMARY);
	if (q->state >= 0) {
		add(&b, " AND state = ");
		param(&b, ECA_PAGE_STATE);
	}
	if (q->prefix[0] != '\0') {
		/*
		 * SQLite, when the order is not the name: "+host" keeps the
		 * order's own index (the prefix a filter on its rows), or with
		 * PREFIX_FIRST the prefix's rows are read and sorted
		 * ("ORDER BY +key" below).
		 */
		const char *h =
		    key != NULL && !dollar && !pfirst ? "+host" : "host";

		add(&b, " AND %s >= ", h);
		param(&b, ECA_PAGE_PREFIX_LO);
		add(&b, " AND %s < ", h);
		param(&b, ECA_PAGE_PREFIX_HI);
	}
	if (q->has_after && key == NULL) {
		add(&b, " AND host %c ", q->desc ? '<' : '>');
		param(&b, ECA_PAGE_AFTER_HOST);
	} else if (q->has_after) {
		add(&b, " AND (%s, host) %c (", key, q->desc ? '<' : '>');
		param(&b, ECA_PAGE_AFTER_KEY);
		add(&b, ", ");
		param(&b, ECA_PAGE_AFTER_HOST);
		add(&b, ")");
	}
	add(&b, " ORDER BY ");
	if (key != NULL)
		add(&b, "%s%s %s, ", pfirst && !dollar ? "+" : "", key, dir);
	add(&b, "host %s LIMIT ", dir);
	param(&b, ECA_PAGE_LIMIT);
	*np = b.np;
	if (b.over)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_store_page: statement too long");
	return 0;
}

int
eca_store_page(struct eca_store *st, const char *primary,
    const struct eca_store_page *q, struct eca_enrollment **out, size_t *n,
    struct eca_err *err)
{
	if (out != NULL)
		*out = NULL;
	if (n != NULL)
		*n = 0;
	if (st == NULL || st->ops == NULL || primary == NULL || q == NULL ||
	    out == NULL || n == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_store_page: missing argument");
	if (!eca_hostname_is_canon(primary) ||
	    (q->has_after && !eca_hostname_is_canon(q->after_host)))
		return eca_err_set(err, ECA_ERR_USAGE,
		    "eca_store_page: a name is not in its canonical form");
	if (q->state >= ECA_STORE_NSTATES ||
	    (unsigned)q->sort >= ECA_STORE_NSORTS ||
	    (q->sort == ECA_SORT_STATE && q->has_after &&
		(q->after_state < 0 || q->after_state >= ECA_STORE_NSTATES)))
		return eca_err_set(err, ECA_ERR_USAGE,
		    "eca_store_page: unknown state or order");
	if (strspn(q->prefix, "abcdefghijklmnopqrstuvwxyz0123456789.-") !=
	    strlen(q->prefix))
		return eca_err_set(err, ECA_ERR_USAGE,
		    "eca_store_page: the prefix has a character no host name "
		    "has");
	return st->ops->page(st, primary, q, out, n, err);
}
