/* SPDX-License-Identifier: ISC */
/*
 * audit_pg.c - the audit journal in a PostgreSQL registry: one hash chain
 * for every front end of the registry.
 *
 * Each row of the table audit is one journal line (seq, the line's JSON
 * exactly as a file would hold it, its hash), so the chain and its checks
 * are audit.c's own (eca_audit_seal, eca_audit_chain_line).  The writer
 * appends a group's lines inside the transaction of the group's registry
 * changes, before its COMMIT: first the chain's lock
 * (pg_advisory_xact_lock, held to COMMIT), then the head (the last row),
 * then the rows.  Two front ends' groups therefore take turns and the
 * chain stays linear; a group that is rolled back leaves no line.
 */
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "store_pg_impl.h"

#define AUDIT_PAGE 2000

static int
is_pg(struct eca_store *st)
{
	return st != NULL && st->ops == &eca_store_pg_ops;
}

/* The chain's head: the last seq and hash (0 and 64 zeros when empty). */
static int
head(struct pg_store *s, int64_t *seq, char hash[ECA_AUDIT_HASH_LEN + 1],
    struct eca_err *err)
{
	PGresult *res = NULL;
	int r, bad = 0;

	*seq = 0;
	memset(hash, '0', ECA_AUDIT_HASH_LEN);
	hash[ECA_AUDIT_HASH_LEN] = '\0';
	if ((r = eca_pg_exec(s, P_AUDIT_LOCK, NULL,
		 "cannot take the audit chain's lock", err)) != 0 ||
	    (r = eca_pg_run(s, P_AUDIT_HEAD, NULL,
		 "cannot read the audit chain's head", &res, err)) != 0)
		return r;
	if (PQntuples(res) == 1) {
		*seq = eca_pg_col_i64(res, 0, 0, &bad);
		eca_pg_col_str(res, 0, 1, hash, ECA_AUDIT_HASH_LEN + 1, &bad);
	}
	PQclear(res);
	if (bad || strlen(hash) != ECA_AUDIT_HASH_LEN)
		return eca_err_set(err, ECA_ERR_DB,
		    "the audit chain's last row is damaged (run `eca audit "
		    "verify`)");
	return 0;
}

int
eca_audit_store_append(struct eca_store *st, struct eca_audit_entry *e,
    size_t n, struct eca_err *err)
{
	struct pg_store *s;
	char hash[ECA_AUDIT_HASH_LEN + 1], *buf = NULL, *line, *nl;
	struct pg_params p;
	size_t len = 0, i;
	int64_t seq;
	int r;

	if (!is_pg(st) || n == 0)
		return 0;
	s = pg_impl(st);
	if (!s->in_tx)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "the audit chain is appended inside a transaction");
	if ((r = head(s, &seq, hash, err)) != 0 ||
	    (r = eca_audit_seal("in the registry database", e, n, &seq, hash,
		 &buf, &len, err)) != 0)
		goto out;
	for (i = 0, line = buf; i < n; i++, line = nl + 1) {
		if ((nl = memchr(line, '\n', len - (size_t)(line - buf))) ==
		    NULL) {
			r = eca_err_set(err, ECA_ERR_INTERNAL,
			    "audit lines without their newline");
			goto out;
		}
		*nl = '\0';
		memset(&p, 0, sizeof(p));
		eca_pg_i64(&p, e[i].seq);
		eca_pg_str(&p, line, (size_t)(nl - line) + 1);
		PG_STR(&p, e[i].hash);
		if ((r = eca_pg_exec(s, P_AUDIT_ADD, &p,
			 "cannot append to the audit chain", err)) != 0)
			goto out;
	}
out:
	free(buf);
	return r;
}

/*
 * Every row in seq order, a page at a time, each handed to fn (0 to go
 * on).  Rows are counted from 1 in *row.
 */
typedef int row_fn(const char *line, size_t len, size_t row, void *arg,
    struct eca_err *err);

static int
each_row(struct eca_store *st, row_fn *fn, void *arg, struct eca_err *err)
{
	struct pg_store *s;
	struct pg_params p;
	PGresult *res = NULL;
	int64_t after = 0;
	size_t row = 0;
	int r = 0, i, nt, bad = 0;

	if (!is_pg(st))
		return eca_err_set(err, ECA_ERR_USAGE,
		    "the registry is not PostgreSQL: its audit journal is the "
		    "file (AUDIT_LOG)");
	s = pg_impl(st);
	do {
		memset(&p, 0, sizeof(p));
		eca_pg_i64(&p, after);
		eca_pg_i64(&p, AUDIT_PAGE);
		if ((r = eca_pg_run(s, P_AUDIT_ROWS, &p,
			 "cannot read the audit chain", &res, err)) != 0)
			return r;
		nt = PQntuples(res);
		for (i = 0; i < nt && r == 0; i++) {
			after = eca_pg_col_i64(res, i, 0, &bad);
			r = fn(PQgetvalue(res, i, 1),
			    (size_t)PQgetlength(res, i, 1), ++row, arg, err);
		}
		PQclear(res);
	} while (r == 0 && nt == AUDIT_PAGE);
	return r;
}

struct verify_ctx {
	struct eca_audit_chain c;
	struct eca_audit_report *rep;
};

static int
verify_row(const char *line, size_t len, size_t row, void *arg,
    struct eca_err *err)
{
	struct verify_ctx *v = arg;
	int r;

	if ((r = eca_audit_chain_line(&v->c, line, len, row, v->rep, err)) != 0)
		return r;
	return v->rep->intact ? 0 : 1; /* the first bad row ends it */
}

int
eca_audit_store_verify(struct eca_store *st, struct eca_audit_report *rep,
    struct eca_err *err)
{
	struct verify_ctx v;
	int r;

	eca_audit_chain_init(&v.c, rep);
	v.rep = rep;
	r = each_row(st, verify_row, &v, err);
	return r > 0 ? 0 : r;
}

struct read_ctx {
	const char *host;
	struct eca_audit_entry *v;
	size_t n, cap;
};

static int
read_row(const char *line, size_t len, size_t row, void *arg,
    struct eca_err *err)
{
	struct read_ctx *x = arg;
	struct eca_audit_entry e, *nv;

	if (eca_audit_parse_line(line, len, &e) != 0)
		return eca_err_set(err, ECA_ERR_PARSE,
		    "audit row %zu in the registry database is not a journal "
		    "entry (run `eca audit verify`)",
		    row);
	if (x->host != NULL && strcmp(e.host, x->host) != 0)
		return 0;
	if (x->n == x->cap) {
		x->cap = x->cap ? x->cap * 2 : 64;
		if ((nv = realloc(x->v, x->cap * sizeof(*nv))) == NULL)
			return eca_err_set(err, ECA_ERR_NOMEM,
			    "out of memory reading the audit chain");
		x->v = nv;
	}
	x->v[x->n++] = e;
	return 0;
}

int
eca_audit_store_read(struct eca_store *st, const char *host,
    struct eca_audit_entry **out, size_t *n, struct eca_err *err)
{
	struct read_ctx x = {.host = host};
	int r;

	*out = NULL;
	*n = 0;
	if ((r = each_row(st, read_row, &x, err)) != 0) {
		free(x.v);
		return r;
	}
	*out = x.v;
	*n = x.n;
	return 0;
}

int
eca_audit_store_page(struct eca_store *st, int64_t before, size_t limit,
    struct eca_audit_entry **out, size_t *n, int *more, struct eca_err *err)
{
	struct pg_params p;
	PGresult *res = NULL;
	struct read_ctx x = {.host = NULL};
	int r = 0, i, nt, bad = 0;

	*out = NULL;
	*n = 0;
	*more = 0;
	if (!is_pg(st))
		return eca_err_set(err, ECA_ERR_USAGE,
		    "the registry is not PostgreSQL: its audit journal is the "
		    "file (AUDIT_LOG)");
	memset(&p, 0, sizeof(p));
	eca_pg_i64(&p, before > 0 ? before : 0);
	/* One more than asked tells whether older rows are left. */
	eca_pg_i64(&p, (int64_t)limit + 1);
	if ((r = eca_pg_run(pg_impl(st), P_AUDIT_PAGE, &p,
		 "cannot read the audit chain", &res, err)) != 0)
		return r;
	nt = PQntuples(res);
	/* A damaged row is named by its seq, not by its place in the page. */
	for (i = 0; i < nt && (size_t)i < limit && r == 0; i++)
		r = read_row(PQgetvalue(res, i, 1),
		    (size_t)PQgetlength(res, i, 1),
		    (size_t)eca_pg_col_i64(res, i, 0, &bad), &x, err);
	PQclear(res);
	if (r != 0) {
		free(x.v);
		return r;
	}
	*out = x.v;
	*n = x.n;
	*more = (size_t)nt > limit;
	return 0;
}
