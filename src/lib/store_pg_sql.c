/* SPDX-License-Identifier: ISC */
/*
 * store_pg_sql.c - every statement the PostgreSQL backend runs on the
 * registry's tables, as a named SQL_... constant with its values passed
 * apart ($1, $2, ...; the schema itself is in store_pg.c), and the one way
 * a statement is prepared (PQprepare, once per connection), run and read.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_impl.h"

/* ------------------------------------------------------------------ */
/* Statements.                                                         */

static const char SQL_BEGIN[] = "BEGIN ISOLATION LEVEL READ COMMITTED";
static const char SQL_COMMIT[] = "COMMIT";
static const char SQL_ROLLBACK[] = "ROLLBACK";
static const char SQL_SAVEPOINT[] = "SAVEPOINT op";
static const char SQL_RELEASE[] = "RELEASE SAVEPOINT op";
static const char SQL_ROLLBACK_TO[] = "ROLLBACK TO SAVEPOINT op";

/*
 * The enrollment rule's lock (docs/registry.md "PostgreSQL"): a writer
 * takes it before it reads a record, and holds it to the end of the
 * transaction, so two front ends deciding about one host take turns, even
 * while the host has no row to lock yet.  Keyed by (class, hash of the
 * names): a hash collision only makes two hosts take turns.
 */
static const char SQL_LOCK_HOST[] = "SELECT pg_advisory_xact_lock(1701012801,"
				    " hashtext($1::text || ' ' || $2::text))";
static const char SQL_LOCK_DNMAP[] = "SELECT pg_advisory_xact_lock(1701012802,"
				     " hashtext($1::text || ' ' || $2::text))";

#define ENROLLMENT_SELECT PG_ENROLLMENT_SELECT

static const char SQL_GET[] = "SELECT " ENROLLMENT_SELECT " FROM enrollments e"
			      " WHERE primary_name = $1 AND host = $2";

/* The writer's read: the row stays locked until COMMIT. */
static const char SQL_GET_FOR_UPDATE[] =
    "SELECT " ENROLLMENT_SELECT " FROM enrollments e"
    " WHERE primary_name = $1 AND host = $2 FOR UPDATE OF e";

/* An upsert on (primary_name, host), as in the SQLite backend. */
static const char SQL_PUT[] =
    "INSERT INTO enrollments (" PG_ENROLLMENT_COLUMNS ") VALUES ("
    "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,"
    " $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30,"
    " $31, $32, $33, $34, $35, $36, $37)"
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
 * The one counter row of the database: its row lock, held to COMMIT,
 * makes versions commit in the order they are handed out, across front
 * ends (docs/registry.md says why not a bare SEQUENCE).
 */
static const char SQL_NEXT_VERSION[] =
    "UPDATE meta SET value = value + 1 WHERE key = $1 RETURNING value";

/* In the committing transaction: delivered to listeners at COMMIT. */
static const char SQL_NOTIFY[] =
    "SELECT pg_notify('" PG_NOTIFY_CHANNEL "', $1)";

/*
 * The audit chain (audit_pg.c): its lock, held to COMMIT, keeps it
 * linear across front ends; its head; a row; the rows in pages.
 */
static const char SQL_AUDIT_LOCK[] = "SELECT pg_advisory_xact_lock(7013120121)";
static const char SQL_AUDIT_HEAD[] =
    "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1";
static const char SQL_AUDIT_ADD[] =
    "INSERT INTO audit (seq, line, hash) VALUES ($1, $2, $3)";
static const char SQL_AUDIT_ROWS[] =
    "SELECT seq, line FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2";

/* Newest first, below seq $1 (0: from the newest), at most $2. */
static const char SQL_AUDIT_PAGE[] =
    "SELECT seq, line FROM audit WHERE $1 = 0 OR seq < $1"
    " ORDER BY seq DESC LIMIT $2";

static const char SQL_ADD_HISTORY[] =
    "INSERT INTO history (primary_name, host, host_id, event, state,"
    " fingerprint, spki_fingerprint, actor, source, at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

static const char SQL_LIST_ALL[] =
    "SELECT " ENROLLMENT_SELECT " FROM enrollments e"
    " WHERE primary_name = $1 AND host > $2 ORDER BY host LIMIT $3";

static const char SQL_LIST_STATE[] =
    "SELECT " ENROLLMENT_SELECT " FROM enrollments e"
    " WHERE primary_name = $1 AND host > $2 AND state = $4"
    " ORDER BY host LIMIT $3";

static const char SQL_HISTORY[] =
    "SELECT id, primary_name, host, host_id, event, state, fingerprint,"
    " spki_fingerprint, actor, source, at FROM history"
    " WHERE primary_name = $1 AND host = $2 ORDER BY id LIMIT $3";

static const char SQL_CHANGES[] =
    "SELECT host, host_id, state, fingerprint, spki_fingerprint, not_after,"
    " version, nat FROM enrollments"
    " WHERE primary_name = $1 AND version > $2 ORDER BY version LIMIT $3";

static const char SQL_VERSION[] = "SELECT value FROM meta WHERE key = $1";

/* At most one row per state (GET /metrics, the console's dashboard). */
static const char SQL_COUNTS[] =
    "SELECT e.state, count(*),"
    " count(*) FILTER (WHERE e.state = 'ENROLLED' AND e.not_after <= $2),"
    " (SELECT count(*) FROM candidates c JOIN enrollments x"
    "  ON x.primary_name = c.primary_name AND x.host = c.host"
    "  WHERE c.primary_name = $1 AND x.state = e.state)"
    " FROM enrollments e WHERE e.primary_name = $1 GROUP BY e.state";

#define CANDIDATE_COLUMNS                                                      \
	"fingerprint, spki_fingerprint, subject, issuer, serial,"              \
	" not_before, not_after, key_desc, sig_alg, cn, san,"                  \
	" at, last_seen, source"

static const char SQL_CANDIDATES[] =
    "SELECT " CANDIDATE_COLUMNS " FROM candidates"
    " WHERE primary_name = $1 AND host = $2 ORDER BY at, seq";

static const char SQL_CANDIDATE_PUT[] =
    "INSERT INTO candidates (primary_name, host, " CANDIDATE_COLUMNS ")"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,"
    " $15, $16)"
    " ON CONFLICT (primary_name, host, fingerprint) DO UPDATE SET"
    " last_seen = excluded.last_seen";

static const char SQL_CANDIDATE_DEL[] =
    "DELETE FROM candidates"
    " WHERE primary_name = $1 AND host = $2 AND fingerprint = $3";

static const char SQL_CANDIDATE_DEL_ALL[] =
    "DELETE FROM candidates WHERE primary_name = $1 AND host = $2";

#define DNMAP_COLUMNS                                                          \
	"subject, host, removed, created_at, updated_at, actor, version"

static const char SQL_DNMAP_BY_SUBJECT[] =
    "SELECT " DNMAP_COLUMNS " FROM dn_map"
    " WHERE primary_name = $1 AND subject = $2 AND removed = 0";

static const char SQL_DNMAP_BY_HOST[] =
    "SELECT " DNMAP_COLUMNS " FROM dn_map"
    " WHERE primary_name = $1 AND host = $2 AND removed = 0";

static const char SQL_DNMAP_PUT[] =
    "INSERT INTO dn_map (primary_name, " DNMAP_COLUMNS ")"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    " ON CONFLICT (primary_name, subject) DO UPDATE SET"
    " host = excluded.host, removed = excluded.removed,"
    " created_at = excluded.created_at, updated_at = excluded.updated_at,"
    " actor = excluded.actor, version = excluded.version";

static const char SQL_DNMAP_LIVE[] =
    "SELECT " DNMAP_COLUMNS " FROM dn_map"
    " WHERE primary_name = $1 AND removed = 0 ORDER BY host LIMIT $2";

static const char SQL_DNMAP_SINCE[] =
    "SELECT " DNMAP_COLUMNS " FROM dn_map"
    " WHERE primary_name = $1 AND version > $3 ORDER BY version LIMIT $2";

static const char *const stmt_sql[P_COUNT] = {
    [P_BEGIN] = SQL_BEGIN,
    [P_COMMIT] = SQL_COMMIT,
    [P_ROLLBACK] = SQL_ROLLBACK,
    [P_SAVEPOINT] = SQL_SAVEPOINT,
    [P_RELEASE] = SQL_RELEASE,
    [P_ROLLBACK_TO] = SQL_ROLLBACK_TO,
    [P_LOCK_HOST] = SQL_LOCK_HOST,
    [P_LOCK_DNMAP] = SQL_LOCK_DNMAP,
    [P_GET] = SQL_GET,
    [P_GET_FOR_UPDATE] = SQL_GET_FOR_UPDATE,
    [P_PUT] = SQL_PUT,
    [P_NEXT_VERSION] = SQL_NEXT_VERSION,
    [P_ADD_HISTORY] = SQL_ADD_HISTORY,
    [P_LIST_ALL] = SQL_LIST_ALL,
    [P_LIST_STATE] = SQL_LIST_STATE,
    [P_HISTORY] = SQL_HISTORY,
    [P_CHANGES] = SQL_CHANGES,
    [P_VERSION] = SQL_VERSION,
    [P_COUNTS] = SQL_COUNTS,
    [P_CANDIDATES] = SQL_CANDIDATES,
    [P_CANDIDATE_PUT] = SQL_CANDIDATE_PUT,
    [P_CANDIDATE_DEL] = SQL_CANDIDATE_DEL,
    [P_CANDIDATE_DEL_ALL] = SQL_CANDIDATE_DEL_ALL,
    [P_DNMAP_BY_SUBJECT] = SQL_DNMAP_BY_SUBJECT,
    [P_DNMAP_BY_HOST] = SQL_DNMAP_BY_HOST,
    [P_DNMAP_PUT] = SQL_DNMAP_PUT,
    [P_DNMAP_LIVE] = SQL_DNMAP_LIVE,
    [P_DNMAP_SINCE] = SQL_DNMAP_SINCE,
    [P_NOTIFY] = SQL_NOTIFY,
    [P_AUDIT_LOCK] = SQL_AUDIT_LOCK,
    [P_AUDIT_HEAD] = SQL_AUDIT_HEAD,
    [P_AUDIT_ADD] = SQL_AUDIT_ADD,
    [P_AUDIT_ROWS] = SQL_AUDIT_ROWS,
    [P_AUDIT_PAGE] = SQL_AUDIT_PAGE,
};

/* ------------------------------------------------------------------ */
/* Errors.                                                             */

/* PostgreSQL's message without its trailing newline, into buf. */
static const char *
message(struct pg_store *s, const PGresult *res, char *buf, size_t size)
{
	const char *m = NULL;
	size_t len;

	if (res != NULL)
		m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	if (m == NULL && s != NULL && s->conn != NULL)
		m = PQerrorMessage(s->conn);
	snprintf(buf, size, "%s", m != NULL && m[0] != '\0' ? m : "unknown");
	len = strlen(buf);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	return buf;
}

int
eca_pg_error(struct pg_store *s, const PGresult *res, const char *what,
    struct eca_err *err)
{
	const char *state = NULL;
	char msg[256];

	if (res != NULL)
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (s != NULL)
		snprintf(s->sqlstate, sizeof(s->sqlstate), "%s",
		    state != NULL ? state : "");
	message(s, res, msg, sizeof(msg));
	/* The server gone, shutting down or restarting: 503, retry later. */
	if ((s != NULL && s->conn != NULL &&
		PQstatus(s->conn) == CONNECTION_BAD) ||
	    (state != NULL &&
		(strncmp(state, "57P", 3) == 0 ||
		    strncmp(state, "08", 2) == 0)))
		return eca_err_set(err, ECA_ERR_DB_UNAVAILABLE,
		    "%s: the registry database (%s) is unreachable: %s "
		    "(retry after the Retry-After delay; ecad reconnects)",
		    what, s != NULL ? s->where : "?", msg);
	if (state != NULL && strcmp(state, "53100") == 0)
		return eca_err_set(err, ECA_ERR_DISK_FULL,
		    "%s: %s (free space on the database server)", what, msg);
	if (state != NULL &&
	    (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
		strcmp(state, "55P03") == 0))
		return eca_err_set(err, ECA_ERR_BUSY,
		    "%s: %s (the registry database is busy; retry later)", what,
		    msg);
	return eca_err_set(err, ECA_ERR_DB, "%s: %s", what, msg);
}

/* ------------------------------------------------------------------ */
/* Running a statement.                                                */

void
eca_pg_forget(struct pg_store *s)
{
	memset(s->prepared, 0, sizeof(s->prepared));
}

static int
prepare(struct pg_store *s, enum pg_stmt_id id, struct eca_err *err)
{
	PGresult *res;
	char name[16];
	int r = 0;

	if (s->prepared[id])
		return 0;
	snprintf(name, sizeof(name), "eca%d", (int)id);
	res = PQprepare(s->conn, name, stmt_sql[id], 0, NULL);
	if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK)
		r = eca_pg_error(s, res, "cannot prepare a registry statement",
		    err);
	else
		s->prepared[id] = 1;
	PQclear(res);
	return r;
}

void
eca_pg_conn_message(struct pg_store *s, char *buf, size_t size)
{
	(void)message(s, NULL, buf, size);
}

/* One attempt: prepared on first use, then run. */
static int
run_once(struct pg_store *s, enum pg_stmt_id id, const struct pg_params *p,
    const char *what, PGresult **out, char *msg, size_t size,
    struct eca_err *err)
{
	PGresult *res;
	ExecStatusType st;
	char name[16];
	int r;

	if ((r = prepare(s, id, err)) != 0) {
		message(s, NULL, msg, size);
		return r;
	}
	snprintf(name, sizeof(name), "eca%d", (int)id);
	res = PQexecPrepared(s->conn, name, p != NULL ? p->n : 0,
	    p != NULL ? p->val : NULL, NULL, NULL, 0);
	st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		r = eca_pg_error(s, res, what, err);
		message(s, res, msg, size);
		PQclear(res);
		return r;
	}
	*out = res;
	return 0;
}

/*
 * A connection found dead outside a transaction (the server restarted
 * while it was idle) is reset and the statement, which did not run,
 * tried once more: only a server that cannot be reached marks the watch
 * down.
 */
int
eca_pg_run(struct pg_store *s, enum pg_stmt_id id, const struct pg_params *p,
    const char *what, PGresult **out, struct eca_err *err)
{
	char msg[256];
	int r;

	*out = NULL;
	if (p != NULL && p->bad)
		return eca_err_set(err, ECA_ERR_DB,
		    "%s: a value is too long or not terminated", what);
	if ((r = eca_pg_ensure(s, err)) != 0)
		return r;
	r = run_once(s, id, p, what, out, msg, sizeof(msg), err);
	if (r == ECA_ERR_DB_UNAVAILABLE && !s->in_tx &&
	    eca_pg_reconnect(s, msg, sizeof(msg)) == 0)
		r = run_once(s, id, p, what, out, msg, sizeof(msg), err);
	if (r == ECA_ERR_DB_UNAVAILABLE)
		eca_pg_watch_lost(s, msg);
	else if (r == 0)
		eca_pg_watch_ok(s);
	return r;
}

int
eca_pg_exec(struct pg_store *s, enum pg_stmt_id id, const struct pg_params *p,
    const char *what, struct eca_err *err)
{
	PGresult *res = NULL;
	int r;

	r = eca_pg_run(s, id, p, what, &res, err);
	PQclear(res);
	return r;
}

int
eca_pg_select(struct pg_store *s, enum pg_stmt_id id, const struct pg_params *p,
    size_t elem, eca_pg_row *row, eca_pg_release *release, const void *arg,
    const char *what, void **out, size_t *n, struct eca_err *err)
{
	PGresult *res = NULL;
	unsigned char *arr = NULL;
	int r, i, nt;

	*out = NULL;
	*n = 0;
	if ((r = eca_pg_run(s, id, p, what, &res, err)) != 0)
		return r;
	nt = PQntuples(res);
	if (nt > 0 && (arr = calloc((size_t)nt, elem)) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory reading the registry");
		goto out;
	}
	for (i = 0; i < nt; i++)
		if ((r = row(res, i, arr + (size_t)i * elem, arg, err)) != 0) {
			/* The rows read so far (the failed one released itself). */
			while (release != NULL && i > 0)
				release(arr + (size_t)--i * elem);
			goto out;
		}
	*out = arr;
	*n = (size_t)nt;
	arr = NULL;
	r = 0;
out:
	PQclear(res);
	free(arr);
	return r;
}

int
eca_pg_select_one(struct pg_store *s, enum pg_stmt_id id,
    const struct pg_params *p, eca_pg_row *row, void *item, const void *arg,
    const char *what, struct eca_err *err)
{
	PGresult *res = NULL;
	int r;

	if ((r = eca_pg_run(s, id, p, what, &res, err)) != 0)
		return r;
	r = PQntuples(res) == 0 ? ECA_ERR_NOT_FOUND :
				  row(res, 0, item, arg, err);
	PQclear(res);
	return r;
}

/* ------------------------------------------------------------------ */
/* Values.                                                             */

static int
slot(struct pg_params *p)
{
	if (p->bad)
		return -1;
	if (p->n >= PG_MAXPARAMS) {
		p->bad = 1;
		return -1;
	}
	return p->n++;
}

void
eca_pg_str(struct pg_params *p, const char *str, size_t size)
{
	int i;

	if ((i = slot(p)) < 0)
		return;
	if (strnlen(str, size) == size) {
		p->bad = 1; /* not NUL-terminated */
		return;
	}
	p->val[i] = str;
}

void
eca_pg_i64(struct pg_params *p, int64_t v)
{
	int i;

	if ((i = slot(p)) < 0)
		return;
	snprintf(p->num[i], sizeof(p->num[i]), "%" PRId64, v);
	p->val[i] = p->num[i];
}

void
eca_pg_null(struct pg_params *p)
{
	int i;

	if ((i = slot(p)) >= 0)
		p->val[i] = NULL;
}

void
eca_pg_cert(struct pg_params *p, const struct eca_certinfo *ci, int present)
{
	int i;

	if (!present) {
		for (i = 0; i < 11; i++)
			eca_pg_null(p);
		return;
	}
	PG_STR(p, ci->fingerprint);
	PG_STR(p, ci->spki_fingerprint);
	PG_STR(p, ci->subject);
	PG_STR(p, ci->issuer);
	PG_STR(p, ci->serial);
	eca_pg_i64(p, ci->not_before);
	eca_pg_i64(p, ci->not_after);
	PG_STR(p, ci->key_desc);
	PG_STR(p, ci->sig_alg);
	PG_STR(p, ci->cn);
	eca_pg_str(p, eca_certinfo_san(ci), ECA_SAN_MAX);
}

int64_t
eca_pg_limit(size_t limit)
{
	return limit > (size_t)INT64_MAX ? INT64_MAX : (int64_t)limit;
}

/* ------------------------------------------------------------------ */
/* Reading columns (text format).                                      */

void
eca_pg_col_str(const PGresult *res, int row, int col, char *buf, size_t size,
    int *bad)
{
	int len;

	buf[0] = '\0';
	if (PQgetisnull(res, row, col))
		return;
	len = PQgetlength(res, row, col);
	if (len < 0 || (size_t)len >= size) {
		*bad = 1;
		return;
	}
	memcpy(buf, PQgetvalue(res, row, col), (size_t)len);
	buf[len] = '\0';
}

int64_t
eca_pg_col_i64(const PGresult *res, int row, int col, int *bad)
{
	const char *v;
	char *end;
	long long n;

	if (PQgetisnull(res, row, col))
		return 0;
	v = PQgetvalue(res, row, col);
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0') {
		*bad = 1;
		return 0;
	}
	return (int64_t)n;
}

int
eca_pg_col_enum(const PGresult *res, int row, int col, const char *const *names,
    size_t n, int *bad)
{
	const char *name;
	size_t i;

	name = PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
	for (i = 0; name != NULL && i < n; i++)
		if (strcmp(names[i], name) == 0)
			return (int)i;
	*bad = 1;
	return 0;
}

void
eca_pg_col_cert(const PGresult *res, int row, int col, struct eca_certinfo *ci,
    int *bad)
{
	PG_COL_STR(res, row, col + 0, ci->fingerprint, bad);
	PG_COL_STR(res, row, col + 1, ci->spki_fingerprint, bad);
	PG_COL_STR(res, row, col + 2, ci->subject, bad);
	PG_COL_STR(res, row, col + 3, ci->issuer, bad);
	PG_COL_STR(res, row, col + 4, ci->serial, bad);
	ci->not_before = eca_pg_col_i64(res, row, col + 5, bad);
	ci->not_after = eca_pg_col_i64(res, row, col + 6, bad);
	PG_COL_STR(res, row, col + 7, ci->key_desc, bad);
	PG_COL_STR(res, row, col + 8, ci->sig_alg, bad);
	PG_COL_STR(res, row, col + 9, ci->cn, bad);
	ci->san_heap = NULL;
	ci->san_inline[0] = '\0';
	/* The dNSNames whole, or *bad (too long, or no memory for them). */
	if (!PQgetisnull(res, row, col + 10) &&
	    eca_certinfo_set_san(ci, PQgetvalue(res, row, col + 10),
		(size_t)PQgetlength(res, row, col + 10), NULL) != 0)
		*bad = 1;
}
