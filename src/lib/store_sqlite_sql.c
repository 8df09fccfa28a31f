/* SPDX-License-Identifier: ISC */
/*
 * store_sqlite_sql.c - every statement the SQLite backend runs on the
 * registry's tables, as a named SQL_... constant with its values bound
 * (the schema itself is in store_sqlite.c), and the one way a statement
 * is prepared (once per connection, kept), bound, stepped and read.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite_impl.h"

/* ------------------------------------------------------------------ */
/* Statements.                                                         */

static const char SQL_BEGIN[] = "BEGIN IMMEDIATE";
static const char SQL_COMMIT[] = "COMMIT";
static const char SQL_ROLLBACK[] = "ROLLBACK";
static const char SQL_SAVEPOINT[] = "SAVEPOINT op";
static const char SQL_RELEASE[] = "RELEASE op";
static const char SQL_ROLLBACK_TO[] = "ROLLBACK TO op";

static const char SQL_GET[] = "SELECT " ENROLLMENT_SELECT " FROM enrollments"
			      " WHERE primary_name = ?1 AND host = ?2";

/*
 * An upsert, not INSERT OR REPLACE: REPLACE would silently delete another
 * host's row that happened to share the host_id.
 */
static const char SQL_PUT[] =
    "INSERT INTO enrollments (" ENROLLMENT_COLUMNS ") VALUES ("
    "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,"
    " ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30,"
    " ?31, ?32, ?33, ?34, ?35, ?36, ?37)"
    " ON CONFLICT (primary_name, host) DO UPDATE SET"
    " host_id = excluded.host_id, role = excluded.role,"
    " state = excluded.state, method = excluded.method,"
    " fingerprint = excluded.fingerprint,"
    " spki_fingerprint = excluded.spki_fingerprint,"
    " subject = excluded.subject, issuer = excluded.issuer,"
    " serial = excluded.serial, not_before = excluded.not_before,"
    " not_after = excluded.not_after, key_desc = excluded.key_desc,"
    " sig_alg = excluded.sig_alg, cn = excluded.cn, san = excluded.san,"
    " has_candidate = excluded.has_candidate,"
    " cand_fingerprint = excluded.cand_fingerprint,"
    " cand_spki_fingerprint = excluded.cand_spki_fingerprint,"
    " cand_subject = excluded.cand_subject,"
    " cand_issuer = excluded.cand_issuer,"
    " cand_serial = excluded.cand_serial,"
    " cand_not_before = excluded.cand_not_before,"
    " cand_not_after = excluded.cand_not_after,"
    " cand_key_desc = excluded.cand_key_desc,"
    " cand_sig_alg = excluded.cand_sig_alg, cand_cn = excluded.cand_cn,"
    " cand_san = excluded.cand_san, candidate_at = excluded.candidate_at,"
    " candidate_source = excluded.candidate_source,"
    " enrolled_at = excluded.enrolled_at, updated_at = excluded.updated_at,"
    " last_seen = excluded.last_seen, source = excluded.source,"
    " version = excluded.version, nat = excluded.nat";

/*
 * No RETURNING: SQLite collects RETURNING's rows in an ephemeral table, a
 * B-tree opened and freed on every call (S_VERSION reads the new value).
 */
static const char SQL_NEXT_VERSION[] =
    "UPDATE meta SET value = value + 1 WHERE key = ?1";

static const char SQL_ADD_HISTORY[] =
    "INSERT INTO history (primary_name, host, host_id, event, state,"
    " fingerprint, spki_fingerprint, actor, source, at)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";

static const char SQL_LIST_ALL[] =
    "SELECT " ENROLLMENT_SELECT " FROM enrollments"
    " WHERE primary_name = ?1 AND host > ?2 ORDER BY host LIMIT ?3";

static const char SQL_LIST_STATE[] =
    "SELECT " ENROLLMENT_SELECT " FROM enrollments"
    " WHERE primary_name = ?1 AND host > ?2 AND state = ?4"
    " ORDER BY host LIMIT ?3";

static const char SQL_HISTORY[] =
    "SELECT id, primary_name, host, host_id, event, state, fingerprint,"
    " spki_fingerprint, actor, source, at FROM history"
    " WHERE primary_name = ?1 AND host = ?2 ORDER BY id LIMIT ?3";

/* The roster's view of the records changed after a version. */
static const char SQL_CHANGES[] =
    "SELECT host, host_id, state, fingerprint, spki_fingerprint, not_after,"
    " version, nat FROM enrollments"
    " WHERE primary_name = ?1 AND version > ?2 ORDER BY version LIMIT ?3";

static const char SQL_VERSION[] = "SELECT value FROM meta WHERE key = ?1";

#define CANDIDATE_COLUMNS                                                      \
	"fingerprint, spki_fingerprint, subject, issuer, serial,"              \
	" not_before, not_after, key_desc, sig_alg, cn, san,"                  \
	" at, last_seen, source"

static const char SQL_CANDIDATES[] =
    "SELECT " CANDIDATE_COLUMNS " FROM candidates"
    " WHERE primary_name = ?1 AND host = ?2 ORDER BY at, rowid";

/* The same certificate again is a sighting: only last_seen changes. */
static const char SQL_CANDIDATE_PUT[] =
    "INSERT INTO candidates (primary_name, host, " CANDIDATE_COLUMNS ")"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
    " ?15, ?16)"
    " ON CONFLICT (primary_name, host, fingerprint) DO UPDATE SET"
    " last_seen = excluded.last_seen";

static const char SQL_CANDIDATE_DEL[] =
    "DELETE FROM candidates"
    " WHERE primary_name = ?1 AND host = ?2 AND fingerprint = ?3";

static const char SQL_CANDIDATE_DEL_ALL[] =
    "DELETE FROM candidates WHERE primary_name = ?1 AND host = ?2";

#define DNMAP_COLUMNS                                                          \
	"subject, host, removed, created_at, updated_at, actor, version"

static const char SQL_DNMAP_BY_SUBJECT[] =
    "SELECT " DNMAP_COLUMNS " FROM dn_map"
    " WHERE primary_name = ?1 AND subject = ?2 AND removed = 0";

static const char SQL_DNMAP_BY_HOST[] =
    "SELECT " DNMAP_COLUMNS " FROM dn_map"
    " WHERE primary_name = ?1 AND host = ?2 AND removed = 0";

static const char SQL_DNMAP_PUT[] =
    "INSERT INTO dn_map (primary_name, " DNMAP_COLUMNS ")"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
    " ON CONFLICT (primary_name, subject) DO UPDATE SET"
    " host = excluded.host, removed = excluded.removed,"
    " created_at = excluded.created_at, updated_at = excluded.updated_at,"
    " actor = excluded.actor, version = excluded.version";

static const char SQL_DNMAP_LIVE[] =
    "SELECT " DNMAP_COLUMNS " FROM dn_map"
    " WHERE primary_name = ?1 AND removed = 0 ORDER BY host LIMIT ?2";

static const char SQL_DNMAP_SINCE[] =
    "SELECT " DNMAP_COLUMNS " FROM dn_map"
    " WHERE primary_name = ?1 AND version > ?3 ORDER BY version LIMIT ?2";

/* At most one row per state (GET /metrics). */
static const char SQL_COUNTS[] =
    "SELECT e.state, count(*),"
    " sum(e.state = 'ENROLLED' AND e.not_after <= ?2),"
    " (SELECT count(*) FROM candidates c JOIN enrollments x"
    "  ON x.primary_name = c.primary_name AND x.host = c.host"
    "  WHERE c.primary_name = ?1 AND x.state = e.state)"
    " FROM enrollments e WHERE e.primary_name = ?1 GROUP BY e.state";

/* The audit journal's groups not yet on disk in the file (audit_sqlite.c). */
static const char SQL_AUDIT_KEEP[] =
    "INSERT INTO audit_kept (last_seq, first_seq, lines) VALUES (?1, ?2, ?3)";
static const char SQL_AUDIT_FORGET[] =
    "DELETE FROM audit_kept WHERE last_seq <= ?1";
static const char SQL_AUDIT_KEPT[] =
    "SELECT first_seq, last_seq, lines FROM audit_kept WHERE last_seq > ?1"
    " ORDER BY last_seq";

/* Statement ids (store_sqlite_impl.h) to their SQL. */
static const char *const stmt_sql[S_COUNT] = {
    [S_BEGIN] = SQL_BEGIN,
    [S_COMMIT] = SQL_COMMIT,
    [S_ROLLBACK] = SQL_ROLLBACK,
    [S_SAVEPOINT] = SQL_SAVEPOINT,
    [S_RELEASE] = SQL_RELEASE,
    [S_ROLLBACK_TO] = SQL_ROLLBACK_TO,
    [S_GET] = SQL_GET,
    [S_PUT] = SQL_PUT,
    [S_NEXT_VERSION] = SQL_NEXT_VERSION,
    [S_ADD_HISTORY] = SQL_ADD_HISTORY,
    [S_LIST_ALL] = SQL_LIST_ALL,
    [S_LIST_STATE] = SQL_LIST_STATE,
    [S_HISTORY] = SQL_HISTORY,
    [S_CHANGES] = SQL_CHANGES,
    [S_VERSION] = SQL_VERSION,
    [S_CANDIDATES] = SQL_CANDIDATES,
    [S_CANDIDATE_PUT] = SQL_CANDIDATE_PUT,
    [S_CANDIDATE_DEL] = SQL_CANDIDATE_DEL,
    [S_CANDIDATE_DEL_ALL] = SQL_CANDIDATE_DEL_ALL,
    [S_DNMAP_BY_SUBJECT] = SQL_DNMAP_BY_SUBJECT,
    [S_DNMAP_BY_HOST] = SQL_DNMAP_BY_HOST,
    [S_DNMAP_PUT] = SQL_DNMAP_PUT,
    [S_DNMAP_LIVE] = SQL_DNMAP_LIVE,
    [S_DNMAP_SINCE] = SQL_DNMAP_SINCE,
    [S_COUNTS] = SQL_COUNTS,
    [S_AUDIT_KEEP] = SQL_AUDIT_KEEP,
    [S_AUDIT_FORGET] = SQL_AUDIT_FORGET,
    [S_AUDIT_KEPT] = SQL_AUDIT_KEPT,
};

/* ------------------------------------------------------------------ */
/* Running a statement.                                                */

int
eca_sqlite_error(struct sqlite_store *s, int rc, const char *what,
    struct eca_err *err)
{
	const char *detail;

	detail = (s != NULL && s->db != NULL) ? sqlite3_errmsg(s->db) :
						sqlite3_errstr(rc);
	switch (rc & 0xff) {
	case SQLITE_FULL:
		return eca_err_set(err, ECA_ERR_DISK_FULL,
		    "%s: %s (free space on the registry's file system)", what,
		    detail);
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return eca_err_set(err, ECA_ERR_BUSY,
		    "%s: %s (the registry is locked by another writer; retry "
		    "later)",
		    what, detail);
	default:
		return eca_err_set(err, ECA_ERR_DB, "%s: %s", what, detail);
	}
}

int
eca_sqlite_stmt(struct sqlite_store *s, enum stmt_id id, sqlite3_stmt **out,
    struct eca_err *err)
{
	int rc;

	if (s->stmts[id] == NULL) {
		rc = sqlite3_prepare_v3(s->db, stmt_sql[id], -1,
		    SQLITE_PREPARE_PERSISTENT, &s->stmts[id], NULL);
		if (rc != SQLITE_OK) {
			s->stmts[id] = NULL;
			return eca_sqlite_error(s, rc,
			    "cannot prepare a registry statement", err);
		}
	}
	*out = s->stmts[id];
	return 0;
}

int
eca_sqlite_start(struct eca_store *st, enum stmt_id id, const char *primary,
    const char *key, size_t keysize, sqlite3_stmt **stmt, int *rc,
    struct eca_err *err)
{
	int r;

	*rc = SQLITE_OK;
	if ((r = eca_sqlite_stmt(sqlite_impl(st), id, stmt, err)) != 0)
		return r;
	eca_sqlite_bind_str(*stmt, 0, primary, ECA_HOST_MAX, rc);
	if (key != NULL)
		eca_sqlite_bind_str(*stmt, 1, key, keysize, rc);
	return 0;
}

void
eca_sqlite_done(sqlite3_stmt *stmt)
{
	if (stmt == NULL)
		return;
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
}

int
eca_sqlite_run(struct sqlite_store *s, sqlite3_stmt *stmt, int rc,
    const char *what, struct eca_err *err)
{
	int r = 0;

	if (rc == SQLITE_OK)
		rc = sqlite3_step(stmt);
	/* The message is taken before the reset. */
	if (rc != SQLITE_DONE)
		r = eca_sqlite_error(s, rc, what, err);
	eca_sqlite_done(stmt);
	return r;
}

int
eca_sqlite_exec(struct sqlite_store *s, enum stmt_id id, const char *what,
    struct eca_err *err)
{
	sqlite3_stmt *stmt = NULL;
	int r;

	if ((r = eca_sqlite_stmt(s, id, &stmt, err)) != 0)
		return r;
	return eca_sqlite_run(s, stmt, SQLITE_OK, what, err);
}

/* Grow *arr (of elem-sized items) so that it holds at least n + 1. */
static int
grow(void **arr, size_t *cap, size_t n, size_t elem, struct eca_err *err)
{
	void *p;
	size_t ncap;

	if (n < *cap)
		return 0;
	ncap = *cap == 0 ? 16 : *cap * 2;
	if (ncap > SIZE_MAX / elem || (p = realloc(*arr, ncap * elem)) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory reading the registry");
	*arr = p;
	*cap = ncap;
	return 0;
}

int
eca_sqlite_select(struct sqlite_store *s, sqlite3_stmt *stmt, int rc,
    size_t elem, eca_sqlite_row *row, eca_sqlite_release *release,
    const void *arg, const char *what, void **out, size_t *n,
    struct eca_err *err)
{
	unsigned char *arr = NULL;
	void *p;
	size_t cap = 0, cnt = 0;
	int r = ECA_ERR_INTERNAL;

	*out = NULL;
	*n = 0;
	if (rc != SQLITE_OK) {
		r = eca_sqlite_error(s, rc, what, err);
		goto out;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		p = arr;
		if ((r = grow(&p, &cap, cnt, elem, err)) != 0)
			goto out;
		arr = p;
		memset(arr + cnt * elem, 0, elem);
		if ((r = row(stmt, arr + cnt * elem, arg, err)) != 0)
			goto out;
		cnt++;
	}
	if (rc != SQLITE_DONE) {
		r = eca_sqlite_error(s, rc, what, err);
		goto out;
	}
	*out = arr;
	*n = cnt;
	arr = NULL;
	r = 0;
out:
	eca_sqlite_done(stmt);
	while (arr != NULL && release != NULL && cnt > 0)
		release(arr + --cnt * elem);
	free(arr);
	return r;
}

int
eca_sqlite_select_one(struct sqlite_store *s, sqlite3_stmt *stmt, int rc,
    eca_sqlite_row *row, void *item, const void *arg, const char *what,
    struct eca_err *err)
{
	int r;

	if (rc == SQLITE_OK)
		rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE)
		r = ECA_ERR_NOT_FOUND;
	else if (rc != SQLITE_ROW)
		r = eca_sqlite_error(s, rc, what, err);
	else
		r = row(stmt, item, arg, err);
	eca_sqlite_done(stmt);
	return r;
}

/* ------------------------------------------------------------------ */
/* Binding values.                                                     */

void
eca_sqlite_bind_str(sqlite3_stmt *stmt, int col, const char *str, size_t size,
    int *rc)
{
	size_t len;

	if (*rc != SQLITE_OK)
		return;
	len = strnlen(str, size);
	if (len == size) {
		*rc = SQLITE_TOOBIG; /* not NUL-terminated */
		return;
	}
	*rc = sqlite3_bind_text(stmt, col + 1, str, (int)len, SQLITE_STATIC);
}

void
eca_sqlite_bind_i64(sqlite3_stmt *stmt, int col, int64_t v, int *rc)
{
	if (*rc != SQLITE_OK)
		return;
	*rc = sqlite3_bind_int64(stmt, col + 1, v);
}

void
eca_sqlite_bind_null(sqlite3_stmt *stmt, int col, int *rc)
{
	if (*rc != SQLITE_OK)
		return;
	*rc = sqlite3_bind_null(stmt, col + 1);
}

void
eca_sqlite_bind_cert(sqlite3_stmt *stmt, int col, const struct eca_certinfo *ci,
    int present, int *rc)
{
	int i;

	if (!present) {
		for (i = 0; i < 11; i++)
			eca_sqlite_bind_null(stmt, col + i, rc);
		return;
	}
	BIND_STR(stmt, col + 0, ci->fingerprint, rc);
	BIND_STR(stmt, col + 1, ci->spki_fingerprint, rc);
	BIND_STR(stmt, col + 2, ci->subject, rc);
	BIND_STR(stmt, col + 3, ci->issuer, rc);
	BIND_STR(stmt, col + 4, ci->serial, rc);
	eca_sqlite_bind_i64(stmt, col + 5, ci->not_before, rc);
	eca_sqlite_bind_i64(stmt, col + 6, ci->not_after, rc);
	BIND_STR(stmt, col + 7, ci->key_desc, rc);
	BIND_STR(stmt, col + 8, ci->sig_alg, rc);
	BIND_STR(stmt, col + 9, ci->cn, rc);
	eca_sqlite_bind_str(stmt, col + 10, eca_certinfo_san(ci), ECA_SAN_MAX,
	    rc);
}

int64_t
eca_sqlite_limit(size_t limit)
{
	return limit > (size_t)INT64_MAX ? INT64_MAX : (int64_t)limit;
}

/* ------------------------------------------------------------------ */
/* Reading columns.                                                    */

void
eca_sqlite_col_str(sqlite3_stmt *stmt, int col, char *buf, size_t size,
    int *bad)
{
	const unsigned char *text;
	int len;

	buf[0] = '\0';
	text = sqlite3_column_text(stmt, col);
	if (text == NULL)
		return;
	len = sqlite3_column_bytes(stmt, col);
	if (len < 0 || (size_t)len >= size) {
		*bad = 1;
		return;
	}
	memcpy(buf, text, (size_t)len);
	buf[len] = '\0';
}

/* Exact names, as they were written: upper case is not folded here. */
int
eca_sqlite_col_enum(sqlite3_stmt *stmt, int col, const char *const *names,
    size_t n, int *bad)
{
	const char *name = (const char *)sqlite3_column_text(stmt, col);
	size_t i;

	for (i = 0; name != NULL && i < n; i++)
		if (strcmp(names[i], name) == 0)
			return (int)i;
	*bad = 1;
	return 0;
}

/* The dNSNames column: whole, or *bad (too long, or no memory for it). */
static void
col_san(sqlite3_stmt *stmt, int col, struct eca_certinfo *ci, int *bad)
{
	const unsigned char *text = sqlite3_column_text(stmt, col);
	int len = sqlite3_column_bytes(stmt, col);

	ci->san_heap = NULL;
	ci->san_inline[0] = '\0';
	if (text == NULL)
		return;
	if (len < 0 ||
	    eca_certinfo_set_san(ci, (const char *)text, (size_t)len, NULL) !=
		0)
		*bad = 1;
}

void
eca_sqlite_col_cert(sqlite3_stmt *stmt, int col, struct eca_certinfo *ci,
    int *bad)
{
	COL_STR(stmt, col + 0, ci->fingerprint, bad);
	COL_STR(stmt, col + 1, ci->spki_fingerprint, bad);
	COL_STR(stmt, col + 2, ci->subject, bad);
	COL_STR(stmt, col + 3, ci->issuer, bad);
	COL_STR(stmt, col + 4, ci->serial, bad);
	ci->not_before = sqlite3_column_int64(stmt, col + 5);
	ci->not_after = sqlite3_column_int64(stmt, col + 6);
	COL_STR(stmt, col + 7, ci->key_desc, bad);
	COL_STR(stmt, col + 8, ci->sig_alg, bad);
	COL_STR(stmt, col + 9, ci->cn, bad);
	col_san(stmt, col + 10, ci, bad);
}
