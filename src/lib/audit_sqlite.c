/* SPDX-License-Identifier: ISC */
/*
 * audit_sqlite.c - the audit journal's last groups, kept in a SQLite
 * registry until the journal file has them on disk.
 *
 * The file (AUDIT_LOG) is the journal on SQLite.  To make a group's
 * registry changes and its lines durable with one sync, the writer puts
 * the lines into the table audit_kept inside the group's transaction,
 * writes them to the file before the COMMIT and fsyncs the file later
 * (docs/audit.md, "Durability").  Once the file is on disk up to a seq,
 * the groups up to it are forgotten (in a later group's transaction).
 * At start-up the groups the file lacks are written to it again.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "store_sqlite_impl.h"

int
eca_audit_store_keeps(struct eca_store *st)
{
	return st != NULL && st->ops == &eca_store_sqlite_ops;
}

int
eca_audit_store_keep(struct eca_store *st, int64_t first, int64_t last,
    const char *lines, size_t len, struct eca_err *err)
{
	struct sqlite_store *s;
	sqlite3_stmt *stmt = NULL;
	int r, rc = SQLITE_OK;

	if (!eca_audit_store_keeps(st))
		return 0;
	s = sqlite_impl(st);
	if (sqlite3_get_autocommit(s->db))
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "the audit journal's lines are kept inside a transaction");
	if (first < 1 || last < first || len == 0 || len > INT_MAX ||
	    lines[len - 1] != '\n')
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "audit lines to keep must be whole lines of seq %lld..%lld",
		    (long long)first, (long long)last);
	if ((r = eca_sqlite_stmt(s, S_AUDIT_KEEP, &stmt, err)) != 0)
		return r;
	eca_sqlite_bind_i64(stmt, 0, last, &rc);
	eca_sqlite_bind_i64(stmt, 1, first, &rc);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(stmt, 3, lines, (int)len, SQLITE_STATIC);
	return eca_sqlite_run(s, stmt, rc,
	    "cannot keep the audit journal's lines in the registry", err);
}

int
eca_audit_store_forget(struct eca_store *st, int64_t upto, struct eca_err *err)
{
	struct sqlite_store *s;
	sqlite3_stmt *stmt = NULL;
	int r, rc = SQLITE_OK;

	if (!eca_audit_store_keeps(st))
		return 0;
	s = sqlite_impl(st);
	if ((r = eca_sqlite_stmt(s, S_AUDIT_FORGET, &stmt, err)) != 0)
		return r;
	eca_sqlite_bind_i64(stmt, 0, upto, &rc);
	return eca_sqlite_run(s, stmt, rc,
	    "cannot forget the audit journal's lines the file has", err);
}

/* Append len bytes to the buffer *out of *n bytes (capacity *cap). */
static int
append(char **out, size_t *n, size_t *cap, const void *p, size_t len)
{
	char *nb;
	size_t nc;

	if (*n + len + 1 > *cap) {
		nc = (*n + len + 1) * 2;
		if ((nb = realloc(*out, nc)) == NULL)
			return -1;
		*out = nb;
		*cap = nc;
	}
	memcpy(*out + *n, p, len);
	*n += len;
	(*out)[*n] = '\0';
	return 0;
}

int
eca_audit_store_kept(struct eca_store *st, int64_t after, int64_t *from,
    int64_t *to, char **out, size_t *len, struct eca_err *err)
{
	struct sqlite_store *s;
	sqlite3_stmt *stmt = NULL;
	const unsigned char *text;
	int64_t first, last, want = 0;
	size_t cap = 0;
	int r = 0, rc = SQLITE_OK, bytes;

	*out = NULL;
	*len = 0;
	*from = *to = 0;
	if (!eca_audit_store_keeps(st))
		return 0;
	s = sqlite_impl(st);
	if ((r = eca_sqlite_stmt(s, S_AUDIT_KEPT, &stmt, err)) != 0)
		return r;
	eca_sqlite_bind_i64(stmt, 0, after, &rc);
	if (rc != SQLITE_OK) {
		r = eca_sqlite_error(s, rc, "cannot read the audit lines kept",
		    err);
		goto out;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		first = sqlite3_column_int64(stmt, 0);
		last = sqlite3_column_int64(stmt, 1);
		text = sqlite3_column_text(stmt, 2);
		bytes = sqlite3_column_bytes(stmt, 2);
		/* Groups follow each other without a gap or an overlap. */
		if (text == NULL || bytes <= 0 || text[bytes - 1] != '\n' ||
		    (want != 0 && first != want)) {
			r = eca_err_set(err, ECA_ERR_DB,
			    "the audit lines kept in the registry for seq "
			    "%lld..%lld are damaged (is the database damaged?)",
			    (long long)first, (long long)last);
			goto out;
		}
		if (append(out, len, &cap, text, (size_t)bytes) != 0) {
			r = eca_err_set(err, ECA_ERR_NOMEM,
			    "out of memory reading the audit lines kept");
			goto out;
		}
		if (want == 0)
			*from = first;
		*to = last;
		want = last + 1;
	}
	if (rc != SQLITE_DONE)
		r = eca_sqlite_error(s, rc, "cannot read the audit lines kept",
		    err);
out:
	eca_sqlite_done(stmt);
	if (r != 0) {
		free(*out);
		*out = NULL;
		*len = 0;
	}
	return r;
}
