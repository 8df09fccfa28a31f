/*
 * store_sqlite.c - the embedded registry backend (SQLite 3).
 *
 * One struct sqlite_store per connection, used by one thread at a time
 * (SQLITE_OPEN_NOMUTEX).  Every statement is a named SQL_... constant with
 * its values bound, prepared once per connection and kept.  The schema
 * version lives in PRAGMA user_version and grows through the ordered
 * migrations[] array, applied in one transaction.  Durability: WAL with
 * synchronous=FULL, so COMMIT returns only once the WAL is on disk; the
 * daemon batches many requests into one transaction (enroll.c) to keep
 * throughput.  See docs/registry.md.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "hostname.h"
#include "store.h"
#include "store_impl.h"

#define BUSY_TIMEOUT_MS 5000
#define VERSION_KEY "registry_version"

/* ------------------------------------------------------------------ */
/* Schema: migrations[i] takes user_version i to i + 1.                */

static const char SQL_MIGRATION_1[] =
    "CREATE TABLE meta ("
    "  key TEXT PRIMARY KEY NOT NULL,"
    "  value INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "INSERT INTO meta (key, value) VALUES ('" VERSION_KEY "', 0);"
    "CREATE TABLE enrollments ("
    "  primary_name TEXT NOT NULL,"
    "  host TEXT NOT NULL,"
    "  host_id TEXT NOT NULL UNIQUE,"
    "  role TEXT NOT NULL CHECK (role IN ('client', 'media', 'primary')),"
    "  state TEXT NOT NULL CHECK (state IN ('ENROLLED', 'CONFLICT',"
    "    'REMOVED', 'BANNED', 'REVOKED')),"
    "  method TEXT NOT NULL CHECK (method IN ('AUTO', 'MANUAL', 'ADMIN')),"
    "  fingerprint TEXT NOT NULL,"
    "  spki_fingerprint TEXT NOT NULL,"
    "  subject TEXT NOT NULL,"
    "  issuer TEXT NOT NULL,"
    "  serial TEXT NOT NULL,"
    "  not_before INTEGER NOT NULL,"
    "  not_after INTEGER NOT NULL,"
    "  key_desc TEXT NOT NULL,"
    "  sig_alg TEXT NOT NULL,"
    "  cn TEXT NOT NULL,"
    "  san TEXT NOT NULL,"
    "  has_candidate INTEGER NOT NULL CHECK (has_candidate IN (0, 1)),"
    "  cand_fingerprint TEXT,"
    "  cand_spki_fingerprint TEXT,"
    "  cand_subject TEXT,"
    "  cand_issuer TEXT,"
    "  cand_serial TEXT,"
    "  cand_not_before INTEGER,"
    "  cand_not_after INTEGER,"
    "  cand_key_desc TEXT,"
    "  cand_sig_alg TEXT,"
    "  cand_cn TEXT,"
    "  cand_san TEXT,"
    "  candidate_at INTEGER,"
    "  candidate_source TEXT,"
    "  enrolled_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  last_seen INTEGER NOT NULL,"
    "  source TEXT NOT NULL,"
    "  version INTEGER NOT NULL,"
    "  PRIMARY KEY (primary_name, host)"
    ");"
    "CREATE INDEX enrollments_state ON enrollments (primary_name, state, host);"
    "CREATE TABLE history ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  primary_name TEXT NOT NULL,"
    "  host TEXT NOT NULL,"
    "  host_id TEXT NOT NULL,"
    "  event TEXT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  fingerprint TEXT NOT NULL,"
    "  spki_fingerprint TEXT NOT NULL,"
    "  actor TEXT NOT NULL,"
    "  source TEXT NOT NULL,"
    "  at INTEGER NOT NULL,"
    "  FOREIGN KEY (primary_name, host)"
    "    REFERENCES enrollments (primary_name, host)"
    ");"
    "CREATE INDEX history_host ON history (primary_name, host, id);";

/* 2: the roster reads records by version (GET /v1/roster?since=V). */
static const char SQL_MIGRATION_2[] =
    "CREATE INDEX enrollments_version ON enrollments (primary_name, version);";

/*
 * 3: host names have one canonical spelling (hostname.h): every name
 * written before is folded to lower case, in both tables (history rows
 * follow their record; the foreign key is checked at COMMIT).  Runs only
 * after fold_check() found every name valid and no two records that
 * fold to one (see migration_check).  SQLite's lower() folds ASCII only,
 * which is all a valid host name holds.
 */
static const char SQL_MIGRATION_3[] =
    "PRAGMA defer_foreign_keys = ON;"
    "UPDATE enrollments SET primary_name = lower(primary_name),"
    " host = lower(host)"
    " WHERE primary_name <> lower(primary_name) OR host <> lower(host);"
    "UPDATE history SET primary_name = lower(primary_name),"
    " host = lower(host)"
    " WHERE primary_name <> lower(primary_name) OR host <> lower(host);";
/*
 * 4: every distinct certificate waiting in a CONFLICT is kept (at most
 * ECA_CANDIDATES_MAX per host), so that approval enrolls exactly the one
 * the administrator saw.  The record's cand_* columns stay as a summary
 * (the newest candidate); the one candidate a record had moves here.
 */
static const char SQL_MIGRATION_4[] =
    "CREATE TABLE candidates ("
    "  primary_name TEXT NOT NULL,"
    "  host TEXT NOT NULL,"
    "  fingerprint TEXT NOT NULL,"
    "  spki_fingerprint TEXT NOT NULL,"
    "  subject TEXT NOT NULL,"
    "  issuer TEXT NOT NULL,"
    "  serial TEXT NOT NULL,"
    "  not_before INTEGER NOT NULL,"
    "  not_after INTEGER NOT NULL,"
    "  key_desc TEXT NOT NULL,"
    "  sig_alg TEXT NOT NULL,"
    "  cn TEXT NOT NULL,"
    "  san TEXT NOT NULL,"
    "  at INTEGER NOT NULL,"
    "  last_seen INTEGER NOT NULL,"
    "  source TEXT NOT NULL,"
    "  PRIMARY KEY (primary_name, host, fingerprint),"
    "  FOREIGN KEY (primary_name, host)"
    "    REFERENCES enrollments (primary_name, host)"
    ");"
    "INSERT INTO candidates SELECT primary_name, host, cand_fingerprint,"
    "  cand_spki_fingerprint, cand_subject, cand_issuer, cand_serial,"
    "  cand_not_before, cand_not_after, cand_key_desc, cand_sig_alg,"
    "  cand_cn, cand_san, candidate_at, last_seen, candidate_source"
    "  FROM enrollments WHERE has_candidate = 1"
    "  AND cand_fingerprint IS NOT NULL;";

/*
 * 5: ECA_IDENTITY = DN: the administrator's subject -> host mapping
 * (`eca map add`).  Rows are never deleted (removed = 1, new version) so
 * that the roster carries removals; one live row per subject and per host.
 */
static const char SQL_MIGRATION_5[] =
    "CREATE TABLE dn_map ("
    "  primary_name TEXT NOT NULL,"
    "  subject TEXT NOT NULL,"
    "  host TEXT NOT NULL,"
    "  removed INTEGER NOT NULL CHECK (removed IN (0, 1)),"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  actor TEXT NOT NULL,"
    "  version INTEGER NOT NULL,"
    "  PRIMARY KEY (primary_name, subject)"
    ");"
    "CREATE UNIQUE INDEX dn_map_host ON dn_map (primary_name, host)"
    "  WHERE removed = 0;"
    "CREATE INDEX dn_map_version ON dn_map (primary_name, version);";

static const char *const migrations[] = {
	SQL_MIGRATION_1,
	SQL_MIGRATION_2,
	SQL_MIGRATION_3,
	SQL_MIGRATION_4,
	SQL_MIGRATION_5,
};
#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* ------------------------------------------------------------------ */
/* Statements.                                                         */

static const char SQL_BEGIN[] = "BEGIN IMMEDIATE";
static const char SQL_COMMIT[] = "COMMIT";
static const char SQL_ROLLBACK[] = "ROLLBACK";
static const char SQL_SAVEPOINT[] = "SAVEPOINT op";
static const char SQL_RELEASE[] = "RELEASE op";
static const char SQL_ROLLBACK_TO[] = "ROLLBACK TO op";
static const char SQL_USER_VERSION[] = "PRAGMA user_version";

#define ENROLLMENT_COLUMNS                                                  \
	"primary_name, host, host_id, role, state, method,"                 \
	" fingerprint, spki_fingerprint, subject, issuer, serial,"          \
	" not_before, not_after, key_desc, sig_alg, cn, san,"               \
	" has_candidate,"                                                   \
	" cand_fingerprint, cand_spki_fingerprint, cand_subject,"           \
	" cand_issuer, cand_serial, cand_not_before, cand_not_after,"       \
	" cand_key_desc, cand_sig_alg, cand_cn, cand_san,"                  \
	" candidate_at, candidate_source,"                                  \
	" enrolled_at, updated_at, last_seen, source, version"

/* Column positions of ENROLLMENT_COLUMNS (bind index is position + 1). */
enum {
	C_PRIMARY, C_HOST, C_HOST_ID, C_ROLE, C_STATE, C_METHOD,
	C_CERT,				/* 11 certinfo columns */
	C_HAS_CANDIDATE = C_CERT + 11,
	C_CAND,				/* 11 certinfo columns */
	C_CANDIDATE_AT = C_CAND + 11,
	C_CANDIDATE_SOURCE,
	C_ENROLLED_AT, C_UPDATED_AT, C_LAST_SEEN, C_SOURCE, C_VERSION,
	C_COUNT,
	C_NCANDIDATES = C_COUNT	/* selected, never written */
};

/* A record as read: its columns and how many candidates wait. */
#define ENROLLMENT_SELECT                                                   \
	ENROLLMENT_COLUMNS ", (SELECT count(*) FROM candidates c"           \
	" WHERE c.primary_name = enrollments.primary_name"                  \
	" AND c.host = enrollments.host)"

static const char SQL_GET[] =
    "SELECT " ENROLLMENT_SELECT " FROM enrollments"
    " WHERE primary_name = ?1 AND host = ?2";

/*
 * An upsert, not INSERT OR REPLACE: REPLACE would silently delete another
 * host's row that happened to share the host_id.
 */
static const char SQL_PUT[] =
    "INSERT INTO enrollments (" ENROLLMENT_COLUMNS ") VALUES ("
    "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,"
    " ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30,"
    " ?31, ?32, ?33, ?34, ?35, ?36)"
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
    " version = excluded.version";

static const char SQL_NEXT_VERSION[] =
    "UPDATE meta SET value = value + 1 WHERE key = ?1 RETURNING value";

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
    " version FROM enrollments"
    " WHERE primary_name = ?1 AND version > ?2 ORDER BY version LIMIT ?3";

static const char SQL_VERSION[] =
    "SELECT value FROM meta WHERE key = ?1";

#define CANDIDATE_COLUMNS                                                   \
	"fingerprint, spki_fingerprint, subject, issuer, serial,"           \
	" not_before, not_after, key_desc, sig_alg, cn, san,"               \
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

#define DNMAP_COLUMNS \
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

enum stmt_id {
	S_BEGIN, S_COMMIT, S_ROLLBACK, S_SAVEPOINT, S_RELEASE, S_ROLLBACK_TO,
	S_GET, S_PUT, S_NEXT_VERSION, S_ADD_HISTORY, S_LIST_ALL,
	S_LIST_STATE, S_HISTORY, S_CHANGES, S_VERSION,
	S_CANDIDATES, S_CANDIDATE_PUT, S_CANDIDATE_DEL, S_CANDIDATE_DEL_ALL,
	S_DNMAP_BY_SUBJECT, S_DNMAP_BY_HOST, S_DNMAP_PUT, S_DNMAP_LIVE,
	S_DNMAP_SINCE,
	S_COUNT
};

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
};

struct sqlite_store {
	struct eca_store base;	/* first: store.c sees only this */
	sqlite3 *db;
	char *path;
	sqlite3_stmt *stmts[S_COUNT];
};

/* The role names as stored (lower case, like the wire format). */
static const char *const role_names[] = {
	[ECA_ROLE_CLIENT] = "client",
	[ECA_ROLE_MEDIA] = "media",
	[ECA_ROLE_PRIMARY] = "primary",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static struct sqlite_store *
impl(struct eca_store *st)
{
	return (struct sqlite_store *)st;
}

/* ------------------------------------------------------------------ */
/* Errors and statement helpers.                                       */

/* Translate a SQLite failure at the call site; what says what failed. */
static int
db_error(struct sqlite_store *s, int rc, struct eca_err *err,
    const char *what)
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
		    "later)", what, detail);
	default:
		return eca_err_set(err, ECA_ERR_DB, "%s: %s", what, detail);
	}
}

static int
stmt_get(struct sqlite_store *s, enum stmt_id id, sqlite3_stmt **out,
    struct eca_err *err)
{
	int rc;

	if (s->stmts[id] == NULL) {
		rc = sqlite3_prepare_v3(s->db, stmt_sql[id], -1,
		    SQLITE_PREPARE_PERSISTENT, &s->stmts[id], NULL);
		if (rc != SQLITE_OK) {
			s->stmts[id] = NULL;
			return db_error(s, rc, err,
			    "cannot prepare a registry statement");
		}
	}
	*out = s->stmts[id];
	return 0;
}

/* Ready a cached statement for its next use (bound strings are borrowed). */
static void
stmt_done(sqlite3_stmt *stmt)
{
	if (stmt == NULL)
		return;
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
}

/* Run a statement that returns no rows. */
static int
exec_stmt(struct sqlite_store *s, enum stmt_id id, struct eca_err *err,
    const char *what)
{
	sqlite3_stmt *stmt = NULL;
	int r, rc;

	if ((r = stmt_get(s, id, &stmt, err)) != 0)
		return r;
	rc = sqlite3_step(stmt);
	r = 0;
	if (rc != SQLITE_DONE)
		r = db_error(s, rc, err, what);
	stmt_done(stmt);
	return r;
}

/*
 * Binding: each helper does nothing once *rc holds an error, so a run of
 * binds is checked once at its end.
 */
static void
bind_str(sqlite3_stmt *stmt, int col, const char *str, size_t size, int *rc)
{
	size_t len;

	if (*rc != SQLITE_OK)
		return;
	len = strnlen(str, size);
	if (len == size) {
		*rc = SQLITE_TOOBIG;	/* not NUL-terminated */
		return;
	}
	*rc = sqlite3_bind_text(stmt, col + 1, str, (int)len, SQLITE_STATIC);
}

static void
bind_i64(sqlite3_stmt *stmt, int col, int64_t v, int *rc)
{
	if (*rc != SQLITE_OK)
		return;
	*rc = sqlite3_bind_int64(stmt, col + 1, v);
}

static void
bind_null(sqlite3_stmt *stmt, int col, int *rc)
{
	if (*rc != SQLITE_OK)
		return;
	*rc = sqlite3_bind_null(stmt, col + 1);
}

#define BIND_STR(stmt, col, field, rc) \
	bind_str((stmt), (col), (field), sizeof(field), (rc))

/* The 11 certinfo columns starting at col, or NULLs when absent. */
static void
bind_certinfo(sqlite3_stmt *stmt, int col, const struct eca_certinfo *ci,
    int present, int *rc)
{
	int i;

	if (!present) {
		for (i = 0; i < 11; i++)
			bind_null(stmt, col + i, rc);
		return;
	}
	BIND_STR(stmt, col + 0, ci->fingerprint, rc);
	BIND_STR(stmt, col + 1, ci->spki_fingerprint, rc);
	BIND_STR(stmt, col + 2, ci->subject, rc);
	BIND_STR(stmt, col + 3, ci->issuer, rc);
	BIND_STR(stmt, col + 4, ci->serial, rc);
	bind_i64(stmt, col + 5, ci->not_before, rc);
	bind_i64(stmt, col + 6, ci->not_after, rc);
	BIND_STR(stmt, col + 7, ci->key_desc, rc);
	BIND_STR(stmt, col + 8, ci->sig_alg, rc);
	BIND_STR(stmt, col + 9, ci->cn, rc);
	BIND_STR(stmt, col + 10, ci->san, rc);
}

/*
 * Reading: a text column into a fixed buffer; NULL reads as "".  A value
 * that does not fit sets *bad rather than being cut silently.
 */
static void
col_str(sqlite3_stmt *stmt, int col, char *buf, size_t size, int *bad)
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

#define COL_STR(stmt, col, field, bad) \
	col_str((stmt), (col), (field), sizeof(field), (bad))

static int
name_index(const char *const *names, size_t n, const char *name)
{
	size_t i;

	if (name == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return (int)i;
	return -1;
}

/* An enum column stored by name; sets *bad for a name not in the list. */
static int
col_enum(sqlite3_stmt *stmt, int col, const char *const *names, size_t n,
    int *bad)
{
	int v;

	v = name_index(names, n, (const char *)sqlite3_column_text(stmt, col));
	if (v < 0) {
		*bad = 1;
		return 0;
	}
	return v;
}

static void
col_certinfo(sqlite3_stmt *stmt, int col, struct eca_certinfo *ci, int *bad)
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
	COL_STR(stmt, col + 10, ci->san, bad);
}

static const char *const state_names[] = {
	[ECA_STATE_ENROLLED] = "ENROLLED",
	[ECA_STATE_CONFLICT] = "CONFLICT",
	[ECA_STATE_REMOVED] = "REMOVED",
	[ECA_STATE_BANNED] = "BANNED",
	[ECA_STATE_REVOKED] = "REVOKED",
};

static const char *const method_names[] = {
	[ECA_METHOD_AUTO] = "AUTO",
	[ECA_METHOD_MANUAL] = "MANUAL",
	[ECA_METHOD_ADMIN] = "ADMIN",
};

/* One row of ENROLLMENT_COLUMNS into rec. */
static int
row_enrollment(sqlite3_stmt *stmt, struct eca_enrollment *rec,
    struct eca_err *err)
{
	int bad = 0;

	memset(rec, 0, sizeof(*rec));
	COL_STR(stmt, C_PRIMARY, rec->primary, &bad);
	COL_STR(stmt, C_HOST, rec->host, &bad);
	COL_STR(stmt, C_HOST_ID, rec->host_id, &bad);
	rec->role = col_enum(stmt, C_ROLE, role_names, NELEM(role_names),
	    &bad);
	rec->state = col_enum(stmt, C_STATE, state_names, NELEM(state_names),
	    &bad);
	rec->method = col_enum(stmt, C_METHOD, method_names,
	    NELEM(method_names), &bad);
	col_certinfo(stmt, C_CERT, &rec->cert, &bad);
	rec->has_candidate = sqlite3_column_int(stmt, C_HAS_CANDIDATE) != 0;
	if (rec->has_candidate) {
		col_certinfo(stmt, C_CAND, &rec->candidate, &bad);
		rec->candidate_at = sqlite3_column_int64(stmt,
		    C_CANDIDATE_AT);
		COL_STR(stmt, C_CANDIDATE_SOURCE, rec->candidate_source,
		    &bad);
	}
	rec->enrolled_at = sqlite3_column_int64(stmt, C_ENROLLED_AT);
	rec->updated_at = sqlite3_column_int64(stmt, C_UPDATED_AT);
	rec->last_seen = sqlite3_column_int64(stmt, C_LAST_SEEN);
	COL_STR(stmt, C_SOURCE, rec->source, &bad);
	rec->version = sqlite3_column_int64(stmt, C_VERSION);
	rec->ncandidates = sqlite3_column_int(stmt, C_NCANDIDATES);
	if (bad)
		return eca_err_set(err, ECA_ERR_DB,
		    "registry record of host \"%.64s\" has a field that is "
		    "too long or unknown (is the database damaged or from a "
		    "newer eca?)", rec->host);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Open, configure, migrate.                                           */

/* All connection settings in one place (docs/registry.md). */
static int
configure(struct sqlite_store *s, int readonly, struct eca_err *err)
{
	sqlite3_stmt *stmt = NULL;
	const unsigned char *mode;
	int r = ECA_ERR_INTERNAL, rc;

	sqlite3_extended_result_codes(s->db, 1);
	if ((rc = sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS)) != SQLITE_OK)
		return db_error(s, rc, err, "cannot set the busy timeout");
	rc = sqlite3_exec(s->db,
	    "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;", NULL, NULL,
	    NULL);
	if (rc != SQLITE_OK)
		return db_error(s, rc, err,
		    "cannot configure the registry database");
	if (readonly) {
		rc = sqlite3_exec(s->db, "PRAGMA query_only = ON", NULL, NULL,
		    NULL);
		if (rc != SQLITE_OK)
			return db_error(s, rc, err,
			    "cannot configure the registry database");
		return 0;
	}
	/* The journal mode is stored in the file: writers set it. */
	rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &stmt,
	    NULL);
	if (rc != SQLITE_OK) {
		r = db_error(s, rc, err, "cannot switch the registry to WAL");
		goto out;
	}
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		r = db_error(s, rc, err, "cannot switch the registry to WAL");
		goto out;
	}
	mode = sqlite3_column_text(stmt, 0);
	if (mode == NULL || strcmp((const char *)mode, "wal") != 0) {
		r = eca_err_set(err, ECA_ERR_DB,
		    "registry database %s refused WAL mode (is it on a "
		    "network file system?)", s->path);
		goto out;
	}
	r = 0;
 out:
	sqlite3_finalize(stmt);
	return r;
}

static int
read_user_version(struct sqlite_store *s, int *out, struct eca_err *err)
{
	sqlite3_stmt *stmt = NULL;
	int r = ECA_ERR_INTERNAL, rc;

	rc = sqlite3_prepare_v2(s->db, SQL_USER_VERSION, -1, &stmt, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		r = db_error(s, rc, err,
		    "cannot read the registry schema version");
		goto out;
	}
	*out = sqlite3_column_int(stmt, 0);
	r = 0;
 out:
	sqlite3_finalize(stmt);
	return r;
}

static int
newer_schema(struct sqlite_store *s, int v, struct eca_err *err)
{
	return eca_err_set(err, ECA_ERR_DB,
	    "registry database %s has schema version %d, newer than the %d "
	    "this eca knows (upgrade eca)", s->path, v, SCHEMA_VERSION);
}

/*
 * Migration 3's precondition.  Every name must be a valid host name, and
 * no two records may fold to one (media1.x and MEDIA1.x of one primary:
 * two certificates for one host, the bug the canonical form closes).
 * Which one is the host's own is for a person to decide, so the upgrade
 * stops, changes nothing, and names both records and the remedy.
 */
static const char SQL_FOLD_NAMES[] =
    "SELECT primary_name, host, state FROM enrollments";
static const char SQL_FOLD_COLLISION[] =
    "SELECT a.primary_name, a.host, a.state, b.host, b.state"
    " FROM enrollments a JOIN enrollments b"
    " ON lower(a.primary_name) = lower(b.primary_name)"
    " AND lower(a.host) = lower(b.host) AND a.rowid < b.rowid"
    " ORDER BY a.primary_name, a.host LIMIT 1";

static const char *
col_text(sqlite3_stmt *stmt, int col)
{
	const unsigned char *t = sqlite3_column_text(stmt, col);

	return t != NULL ? (const char *)t : "";
}

static int
fold_check(struct sqlite_store *s, struct eca_err *err)
{
	sqlite3_stmt *stmt = NULL;
	struct eca_err he;
	char canon[ECA_HOST_MAX];
	const char *p, *h;
	int r = ECA_ERR_INTERNAL, rc;

	/* History rows name records (foreign key): the records suffice. */
	if ((rc = sqlite3_prepare_v2(s->db, SQL_FOLD_NAMES, -1, &stmt,
	    NULL)) != SQLITE_OK) {
		r = db_error(s, rc, err, "cannot check the registry's names");
		goto out;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		p = col_text(stmt, 0);
		h = col_text(stmt, 1);
		if (eca_hostname_canon(p, canon, sizeof(canon), &he) == 0 &&
		    eca_hostname_canon(h, canon, sizeof(canon), &he) == 0)
			continue;
		r = eca_err_set(err, ECA_ERR_DB, "registry %s cannot be "
		    "upgraded (schema 3, one spelling per host name): the "
		    "record of '%.64s' (%s) of primary '%.64s': %s.  Stop "
		    "ecad, back the file up, and delete the record: sqlite3 "
		    "%s \"DELETE FROM history WHERE host = '%.64s'; DELETE "
		    "FROM enrollments WHERE host = '%.64s'\" (nothing was "
		    "changed)", s->path, h, col_text(stmt, 2), p, he.msg,
		    s->path, h, h);
		goto out;
	}
	if (rc != SQLITE_DONE) {
		r = db_error(s, rc, err, "cannot check the registry's names");
		goto out;
	}
	sqlite3_finalize(stmt);
	if ((rc = sqlite3_prepare_v2(s->db, SQL_FOLD_COLLISION, -1, &stmt,
	    NULL)) != SQLITE_OK) {
		r = db_error(s, rc, err, "cannot check the registry's names");
		goto out;
	}
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		r = eca_err_set(err, ECA_ERR_DB, "registry %s cannot be "
		    "upgraded (schema 3, one spelling per host name): records "
		    "'%.64s' (%s) and '%.64s' (%s) of primary '%.64s' are one "
		    "host.  Stop ecad, back the file up, decide which is the "
		    "host's own (eca show, the audit journal) and delete the "
		    "other: sqlite3 %s \"DELETE FROM history WHERE host = "
		    "'NAME'; DELETE FROM enrollments WHERE host = 'NAME'\" "
		    "(nothing was changed)", s->path, col_text(stmt, 1),
		    col_text(stmt, 2), col_text(stmt, 3), col_text(stmt, 4),
		    col_text(stmt, 0), s->path);
		goto out;
	}
	if (rc != SQLITE_DONE) {
		r = db_error(s, rc, err, "cannot check the registry's names");
		goto out;
	}
	r = 0;
 out:
	sqlite3_finalize(stmt);
	return r;
}

/* What must hold before migrations[i] runs (inside its transaction). */
static int
migration_check(struct sqlite_store *s, int i, struct eca_err *err)
{
	switch (i) {
	case 2:
		return fold_check(s, err);
	default:
		return 0;
	}
}

/* Bring the schema to SCHEMA_VERSION, all steps in one transaction. */
static int
migrate(struct sqlite_store *s, struct eca_err *err)
{
	char sql[64];
	int r = ECA_ERR_INTERNAL, rc, v, i, intx = 0;

	if ((r = exec_stmt(s, S_BEGIN, err,
	    "cannot start the schema migration")) != 0)
		goto out;
	intx = 1;
	if ((r = read_user_version(s, &v, err)) != 0)
		goto out;
	if (v > SCHEMA_VERSION) {
		r = newer_schema(s, v, err);
		goto out;
	}
	for (i = v; i < SCHEMA_VERSION; i++) {
		if ((r = migration_check(s, i, err)) != 0)
			goto out;
		rc = sqlite3_exec(s->db, migrations[i], NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			r = db_error(s, rc, err,
			    "registry schema migration failed");
			goto out;
		}
	}
	if (v < SCHEMA_VERSION) {
		/* A PRAGMA takes no bound values; the number is ours. */
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
		    SCHEMA_VERSION);
		rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			r = db_error(s, rc, err,
			    "cannot record the registry schema version");
			goto out;
		}
	}
	if ((r = exec_stmt(s, S_COMMIT, err,
	    "cannot commit the schema migration")) != 0)
		goto out;
	intx = 0;
	r = 0;
 out:
	if (intx)
		(void)exec_stmt(s, S_ROLLBACK, NULL, "rollback");
	return r;
}

/* A reader only checks that the schema is there and not too new. */
static int
check_schema(struct sqlite_store *s, struct eca_err *err)
{
	int r, v;

	if ((r = read_user_version(s, &v, err)) != 0)
		return r;
	if (v == 0)
		return eca_err_set(err, ECA_ERR_NOT_FOUND,
		    "registry database %s has no schema yet (start ecad on "
		    "the primary once to create it)", s->path);
	if (v > SCHEMA_VERSION)
		return newer_schema(s, v, err);
	return 0;
}

/*
 * SQLite would create the file with mode 0644; create it ourselves with
 * 0600 first (the WAL and shared-memory files inherit the mode), and
 * tighten an existing file that is open to others.
 */
static int
create_private(const char *path, struct eca_err *err)
{
	struct stat sb;
	int fd = -1, r = ECA_ERR_INTERNAL;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd == -1) {
		r = eca_err_set(err, errno == ENOSPC ? ECA_ERR_DISK_FULL :
		    ECA_ERR_IO, "cannot create registry database %s: %s "
		    "(check that its directory exists and is writable by "
		    "ecad's user)", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &sb) == -1) {
		r = eca_err_set(err, ECA_ERR_IO,
		    "cannot stat registry database %s: %s", path,
		    strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		r = eca_err_set(err, ECA_ERR_IO,
		    "registry database %s is not a regular file (check ECA_DB)",
		    path);
		goto out;
	}
	if ((sb.st_mode & 077) != 0 && fchmod(fd, 0600) == -1) {
		r = eca_err_set(err, ECA_ERR_FILE_PERMISSIONS,
		    "registry database %s is readable by others and cannot "
		    "be made private: %s (chmod 600 it)", path,
		    strerror(errno));
		goto out;
	}
	r = 0;
 out:
	if (fd != -1)
		close(fd);
	return r;
}

static void
sqlite_close(struct eca_store *st)
{
	struct sqlite_store *s = impl(st);
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < S_COUNT; i++)
		sqlite3_finalize(s->stmts[i]);
	/* Closing with a transaction open rolls it back. */
	sqlite3_close(s->db);
	free(s->path);
	free(s);
}

static int
sqlite_open(const char *path, int flags, struct eca_store **out,
    struct eca_err *err)
{
	struct sqlite_store *s = NULL;
	struct stat sb;
	int r = ECA_ERR_INTERNAL, rc, oflags, readonly;

	*out = NULL;
	readonly = (flags & ECA_STORE_READONLY) != 0;
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->path = strdup(path)) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory opening the registry");
		goto out;
	}
	s->base.ops = &eca_store_sqlite_ops;
	s->base.flags = flags;
	if (readonly) {
		if (stat(path, &sb) == -1) {
			r = eca_err_set(err, errno == ENOENT ?
			    ECA_ERR_NOT_FOUND : ECA_ERR_IO,
			    "registry database %s cannot be opened: %s (is "
			    "this the primary, and has ecad run on it once?)",
			    path, strerror(errno));
			goto out;
		}
		oflags = SQLITE_OPEN_READONLY;
	} else {
		if ((r = create_private(path, err)) != 0)
			goto out;
		oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	}
	oflags |= SQLITE_OPEN_NOMUTEX;
	rc = sqlite3_open_v2(path, &s->db, oflags, NULL);
	if (rc != SQLITE_OK) {
		r = db_error(s, rc, err, "cannot open the registry database");
		goto out;
	}
	if ((r = configure(s, readonly, err)) != 0)
		goto out;
	if (readonly)
		r = check_schema(s, err);
	else
		r = migrate(s, err);
	if (r != 0)
		goto out;
	*out = &s->base;
	s = NULL;
	r = 0;
 out:
	if (s != NULL)
		sqlite_close(&s->base);
	return r;
}

/* ------------------------------------------------------------------ */
/* Transactions.                                                       */

static int
sqlite_begin(struct eca_store *st, struct eca_err *err)
{
	return exec_stmt(impl(st), S_BEGIN, err,
	    "cannot start a registry transaction");
}

static int
sqlite_commit(struct eca_store *st, struct eca_err *err)
{
	return exec_stmt(impl(st), S_COMMIT, err,
	    "cannot commit the registry transaction");
}

static void
sqlite_rollback(struct eca_store *st)
{
	/* Fails harmlessly when no transaction is open. */
	(void)exec_stmt(impl(st), S_ROLLBACK, NULL, "rollback");
}

static int
sqlite_savepoint(struct eca_store *st, struct eca_err *err)
{
	return exec_stmt(impl(st), S_SAVEPOINT, err,
	    "cannot start a registry savepoint");
}

static int
sqlite_release(struct eca_store *st, struct eca_err *err)
{
	return exec_stmt(impl(st), S_RELEASE, err,
	    "cannot release a registry savepoint");
}

static void
sqlite_rollback_to(struct eca_store *st)
{
	(void)exec_stmt(impl(st), S_ROLLBACK_TO, NULL, "rollback to");
}

/* ------------------------------------------------------------------ */
/* Records.                                                            */

static int
sqlite_get(struct eca_store *st, const char *primary, const char *host,
    struct eca_enrollment *out, struct eca_err *err)
{
	struct sqlite_store *s = impl(st);
	sqlite3_stmt *stmt = NULL;
	int r = ECA_ERR_INTERNAL, rc = SQLITE_OK;

	if ((r = stmt_get(s, S_GET, &stmt, err)) != 0)
		return r;
	bind_str(stmt, 0, primary, ECA_HOST_MAX, &rc);
	bind_str(stmt, 1, host, ECA_HOST_MAX, &rc);
	if (rc != SQLITE_OK) {
		r = db_error(s, rc, err, "cannot look a host up");
		goto out;
	}
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE) {
		r = eca_err_set(err, ECA_ERR_NOT_FOUND,
		    "host \"%.253s\" has no enrollment record", host);
		goto out;
	}
	if (rc != SQLITE_ROW) {
		r = db_error(s, rc, err, "cannot look a host up");
		goto out;
	}
	r = row_enrollment(stmt, out, err);
 out:
	stmt_done(stmt);
	return r;
}

static int
sqlite_put(struct eca_store *st, const struct eca_enrollment *rec,
    struct eca_err *err)
{
	struct sqlite_store *s = impl(st);
	sqlite3_stmt *stmt = NULL;
	int r = ECA_ERR_INTERNAL, rc = SQLITE_OK;

	if ((unsigned)rec->role >= NELEM(role_names) ||
	    (unsigned)rec->state >= NELEM(state_names) ||
	    (unsigned)rec->method >= NELEM(method_names))
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "registry record has an unknown role, state or method");
	if ((r = stmt_get(s, S_PUT, &stmt, err)) != 0)
		return r;
	BIND_STR(stmt, C_PRIMARY, rec->primary, &rc);
	BIND_STR(stmt, C_HOST, rec->host, &rc);
	BIND_STR(stmt, C_HOST_ID, rec->host_id, &rc);
	bind_str(stmt, C_ROLE, role_names[rec->role], 16, &rc);
	bind_str(stmt, C_STATE, state_names[rec->state], 16, &rc);
	bind_str(stmt, C_METHOD, method_names[rec->method], 16, &rc);
	bind_certinfo(stmt, C_CERT, &rec->cert, 1, &rc);
	bind_i64(stmt, C_HAS_CANDIDATE, rec->has_candidate ? 1 : 0, &rc);
	bind_certinfo(stmt, C_CAND, &rec->candidate, rec->has_candidate, &rc);
	if (rec->has_candidate) {
		bind_i64(stmt, C_CANDIDATE_AT, rec->candidate_at, &rc);
		BIND_STR(stmt, C_CANDIDATE_SOURCE, rec->candidate_source, &rc);
	} else {
		bind_null(stmt, C_CANDIDATE_AT, &rc);
		bind_null(stmt, C_CANDIDATE_SOURCE, &rc);
	}
	bind_i64(stmt, C_ENROLLED_AT, rec->enrolled_at, &rc);
	bind_i64(stmt, C_UPDATED_AT, rec->updated_at, &rc);
	bind_i64(stmt, C_LAST_SEEN, rec->last_seen, &rc);
	BIND_STR(stmt, C_SOURCE, rec->source, &rc);
	bind_i64(stmt, C_VERSION, rec->version, &rc);
	if (rc != SQLITE_OK) {
		r = db_error(s, rc, err, "cannot store an enrollment record");
		goto out;
	}
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE) {
		r = db_error(s, rc, err, "cannot store an enrollment record");
		goto out;
	}
	r = 0;
 out:
	stmt_done(stmt);
	return r;
}

/*
 * The registry's version counter through statement which (S_VERSION
 * reads it, S_NEXT_VERSION advances it and returns the new value); the
 * statement is run to its end so that an update is complete.
 */
static int
version_counter(struct sqlite_store *s, int which, const char *what,
    int64_t *out, struct eca_err *err)
{
	sqlite3_stmt *stmt = NULL;
	int r = ECA_ERR_INTERNAL, rc = SQLITE_OK;

	if ((r = stmt_get(s, which, &stmt, err)) != 0)
		return r;
	bind_str(stmt, 0, VERSION_KEY, sizeof(VERSION_KEY), &rc);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		r = rc == SQLITE_DONE ?
		    eca_err_set(err, ECA_ERR_DB, "registry version counter "
		    "is missing (is the database damaged?)") :
		    db_error(s, rc, err, what);
		goto out;
	}
	*out = sqlite3_column_int64(stmt, 0);
	if ((rc = sqlite3_step(stmt)) != SQLITE_DONE) {
		r = db_error(s, rc, err, what);
		goto out;
	}
	r = 0;
 out:
	stmt_done(stmt);
	return r;
}

static int
sqlite_next_version(struct eca_store *st, int64_t *out, struct eca_err *err)
{
	return version_counter(impl(st), S_NEXT_VERSION,
	    "cannot advance the registry version", out, err);
}

static int
sqlite_add_history(struct eca_store *st, const struct eca_history_entry *h,
    struct eca_err *err)
{
	struct sqlite_store *s = impl(st);
	sqlite3_stmt *stmt = NULL;
	int r = ECA_ERR_INTERNAL, rc = SQLITE_OK;

	if ((unsigned)h->state >= NELEM(state_names))
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "history entry has an unknown state");
	if ((r = stmt_get(s, S_ADD_HISTORY, &stmt, err)) != 0)
		return r;
	BIND_STR(stmt, 0, h->primary, &rc);
	BIND_STR(stmt, 1, h->host, &rc);
	BIND_STR(stmt, 2, h->host_id, &rc);
	BIND_STR(stmt, 3, h->event, &rc);
	bind_str(stmt, 4, state_names[h->state], 16, &rc);
	BIND_STR(stmt, 5, h->fingerprint, &rc);
	BIND_STR(stmt, 6, h->spki_fingerprint, &rc);
	BIND_STR(stmt, 7, h->actor, &rc);
	BIND_STR(stmt, 8, h->source, &rc);
	bind_i64(stmt, 9, h->at, &rc);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE) {
		r = db_error(s, rc, err,
		    "cannot append to the registry history");
		goto out;
	}
	r = 0;
 out:
	stmt_done(stmt);
	return r;
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

static int64_t
limit_i64(size_t limit)
{
	return limit > (size_t)INT64_MAX ? INT64_MAX : (int64_t)limit;
}

static int
sqlite_list(struct eca_store *st, const char *primary, int state,
    const char *after_host, size_t limit, struct eca_enrollment **out,
    size_t *n, struct eca_err *err)
{
	struct sqlite_store *s = impl(st);
	struct eca_enrollment *arr = NULL;
	sqlite3_stmt *stmt = NULL;
	size_t cap = 0, cnt = 0;
	int r = ECA_ERR_INTERNAL, rc = SQLITE_OK;

	if ((r = stmt_get(s, state < 0 ? S_LIST_ALL : S_LIST_STATE, &stmt,
	    err)) != 0)
		goto out;
	bind_str(stmt, 0, primary, ECA_HOST_MAX, &rc);
	/* Every host name is non-empty, so "" starts at the beginning. */
	bind_str(stmt, 1, after_host != NULL ? after_host : "", ECA_HOST_MAX,
	    &rc);
	bind_i64(stmt, 2, limit_i64(limit), &rc);
	if (state >= 0)
		bind_str(stmt, 3, state_names[state], 16, &rc);
	if (rc != SQLITE_OK) {
		r = db_error(s, rc, err, "cannot list enrollments");
		goto out;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if ((r = grow((void **)&arr, &cap, cnt, sizeof(*arr),
		    err)) != 0)
			goto out;
		if ((r = row_enrollment(stmt, &arr[cnt], err)) != 0)
			goto out;
		cnt++;
	}
	if (rc != SQLITE_DONE) {
		r = db_error(s, rc, err, "cannot list enrollments");
		goto out;
	}
	*out = arr;
	*n = cnt;
	arr = NULL;
	r = 0;
 out:
	stmt_done(stmt);
	free(arr);
	return r;
}

static int
sqlite_history(struct eca_store *st, const char *primary, const char *host,
    size_t limit, struct eca_history_entry **out, size_t *n,
    struct eca_err *err)
{
	struct sqlite_store *s = impl(st);
	struct eca_history_entry *arr = NULL, *h;
	sqlite3_stmt *stmt = NULL;
	size_t cap = 0, cnt = 0;
	int r = ECA_ERR_INTERNAL, rc = SQLITE_OK, bad = 0;

	if ((r = stmt_get(s, S_HISTORY, &stmt, err)) != 0)
		goto out;
	bind_str(stmt, 0, primary, ECA_HOST_MAX, &rc);
	bind_str(stmt, 1, host, ECA_HOST_MAX, &rc);
	bind_i64(stmt, 2, limit_i64(limit), &rc);
	if (rc != SQLITE_OK) {
		r = db_error(s, rc, err, "cannot read the registry history");
		goto out;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if ((r = grow((void **)&arr, &cap, cnt, sizeof(*arr),
		    err)) != 0)
			goto out;
		h = &arr[cnt];
		memset(h, 0, sizeof(*h));
		h->id = sqlite3_column_int64(stmt, 0);
		COL_STR(stmt, 1, h->primary, &bad);
		COL_STR(stmt, 2, h->host, &bad);
		COL_STR(stmt, 3, h->host_id, &bad);
		COL_STR(stmt, 4, h->event, &bad);
		h->state = col_enum(stmt, 5, state_names, NELEM(state_names),
		    &bad);
		COL_STR(stmt, 6, h->fingerprint, &bad);
		COL_STR(stmt, 7, h->spki_fingerprint, &bad);
		COL_STR(stmt, 8, h->actor, &bad);
		COL_STR(stmt, 9, h->source, &bad);
		h->at = sqlite3_column_int64(stmt, 10);
		if (bad) {
			r = eca_err_set(err, ECA_ERR_DB,
			    "registry history entry %lld has a field that is "
			    "too long or unknown (is the database damaged?)",
			    (long long)h->id);
			goto out;
		}
		cnt++;
	}
	if (rc != SQLITE_DONE) {
		r = db_error(s, rc, err, "cannot read the registry history");
		goto out;
	}
	*out = arr;
	*n = cnt;
	arr = NULL;
	r = 0;
 out:
	stmt_done(stmt);
	free(arr);
	return r;
}

static int
sqlite_changes(struct eca_store *st, const char *primary, int64_t since,
    size_t limit, struct eca_change **out, size_t *n, struct eca_err *err)
{
	struct sqlite_store *s = impl(st);
	struct eca_change *arr = NULL, *ch;
	sqlite3_stmt *stmt = NULL;
	size_t cap = 0, cnt = 0;
	int r = ECA_ERR_INTERNAL, rc = SQLITE_OK, bad = 0;

	if ((r = stmt_get(s, S_CHANGES, &stmt, err)) != 0)
		goto out;
	bind_str(stmt, 0, primary, ECA_HOST_MAX, &rc);
	bind_i64(stmt, 1, since, &rc);
	bind_i64(stmt, 2, limit_i64(limit), &rc);
	if (rc != SQLITE_OK) {
		r = db_error(s, rc, err, "cannot read the roster changes");
		goto out;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if ((r = grow((void **)&arr, &cap, cnt, sizeof(*arr),
		    err)) != 0)
			goto out;
		ch = &arr[cnt];
		memset(ch, 0, sizeof(*ch));
		COL_STR(stmt, 0, ch->host, &bad);
		COL_STR(stmt, 1, ch->host_id, &bad);
		ch->state = col_enum(stmt, 2, state_names, NELEM(state_names),
		    &bad);
		COL_STR(stmt, 3, ch->fingerprint, &bad);
		COL_STR(stmt, 4, ch->spki_fingerprint, &bad);
		ch->not_after = sqlite3_column_int64(stmt, 5);
		ch->version = sqlite3_column_int64(stmt, 6);
		if (bad) {
			r = eca_err_set(err, ECA_ERR_DB,
			    "registry record of host \"%.64s\" has a field "
			    "that is too long or unknown (is the database "
			    "damaged?)", ch->host);
			goto out;
		}
		cnt++;
	}
	if (rc != SQLITE_DONE) {
		r = db_error(s, rc, err, "cannot read the roster changes");
		goto out;
	}
	*out = arr;
	*n = cnt;
	arr = NULL;
	r = 0;
 out:
	stmt_done(stmt);
	free(arr);
	return r;
}

static int
sqlite_version(struct eca_store *st, int64_t *out, struct eca_err *err)
{
	return version_counter(impl(st), S_VERSION,
	    "cannot read the registry version", out, err);
}

/* ------------------------------------------------------------------ */
/* Candidates.                                                         */

static int
sqlite_candidates(struct eca_store *st, const char *primary,
    const char *host, struct eca_candidate **out, size_t *n,
    struct eca_err *err)
{
	struct sqlite_store *s = impl(st);
	struct eca_candidate *arr = NULL, *c;
	sqlite3_stmt *stmt = NULL;
	size_t cap = 0, cnt = 0;
	int r = ECA_ERR_INTERNAL, rc = SQLITE_OK, bad = 0;

	if ((r = stmt_get(s, S_CANDIDATES, &stmt, err)) != 0)
		goto out;
	bind_str(stmt, 0, primary, ECA_HOST_MAX, &rc);
	bind_str(stmt, 1, host, ECA_HOST_MAX, &rc);
	if (rc != SQLITE_OK) {
		r = db_error(s, rc, err, "cannot read the waiting candidates");
		goto out;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if ((r = grow((void **)&arr, &cap, cnt, sizeof(*arr),
		    err)) != 0)
			goto out;
		c = &arr[cnt];
		memset(c, 0, sizeof(*c));
		col_certinfo(stmt, 0, &c->cert, &bad);
		c->at = sqlite3_column_int64(stmt, 11);
		c->last_seen = sqlite3_column_int64(stmt, 12);
		COL_STR(stmt, 13, c->source, &bad);
		if (bad) {
			r = eca_err_set(err, ECA_ERR_DB, "a candidate of host "
			    "\"%.64s\" has a field that is too long (is the "
			    "database damaged?)", host);
			goto out;
		}
		cnt++;
	}
	if (rc != SQLITE_DONE) {
		r = db_error(s, rc, err, "cannot read the waiting candidates");
		goto out;
	}
	*out = arr;
	*n = cnt;
	arr = NULL;
	r = 0;
 out:
	stmt_done(stmt);
	free(arr);
	return r;
}

static int
sqlite_candidate_put(struct eca_store *st, const char *primary,
    const char *host, const struct eca_candidate *c, struct eca_err *err)
{
	struct sqlite_store *s = impl(st);
	sqlite3_stmt *stmt = NULL;
	int r = ECA_ERR_INTERNAL, rc = SQLITE_OK;

	if ((r = stmt_get(s, S_CANDIDATE_PUT, &stmt, err)) != 0)
		return r;
	bind_str(stmt, 0, primary, ECA_HOST_MAX, &rc);
	bind_str(stmt, 1, host, ECA_HOST_MAX, &rc);
	bind_certinfo(stmt, 2, &c->cert, 1, &rc);
	bind_i64(stmt, 13, c->at, &rc);
	bind_i64(stmt, 14, c->last_seen, &rc);
	BIND_STR(stmt, 15, c->source, &rc);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(stmt);
	r = 0;
	if (rc != SQLITE_DONE)
		r = db_error(s, rc, err, "cannot store a waiting candidate");
	stmt_done(stmt);
	return r;
}

static int
sqlite_candidate_del(struct eca_store *st, const char *primary,
    const char *host, const char *fp, struct eca_err *err)
{
	struct sqlite_store *s = impl(st);
	sqlite3_stmt *stmt = NULL;
	int r = ECA_ERR_INTERNAL, rc = SQLITE_OK;

	if ((r = stmt_get(s, fp != NULL ? S_CANDIDATE_DEL :
	    S_CANDIDATE_DEL_ALL, &stmt, err)) != 0)
		return r;
	bind_str(stmt, 0, primary, ECA_HOST_MAX, &rc);
	bind_str(stmt, 1, host, ECA_HOST_MAX, &rc);
	if (fp != NULL)
		bind_str(stmt, 2, fp, ECA_FP_HEX_LEN + 1, &rc);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(stmt);
	r = 0;
	if (rc != SQLITE_DONE)
		r = db_error(s, rc, err, "cannot drop a waiting candidate");
	else if (fp != NULL && sqlite3_changes(s->db) == 0)
		r = eca_err_set(err, ECA_ERR_NOT_FOUND, "no candidate with "
		    "fingerprint %.64s waits for host \"%.253s\"", fp, host);
	stmt_done(stmt);
	return r;
}

/* ------------------------------------------------------------------ */
/* DN mappings.                                                        */

static void
row_dnmap(sqlite3_stmt *stmt, struct eca_dnmap *m, int *bad)
{
	memset(m, 0, sizeof(*m));
	COL_STR(stmt, 0, m->subject, bad);
	COL_STR(stmt, 1, m->host, bad);
	m->removed = sqlite3_column_int(stmt, 2) != 0;
	m->created_at = sqlite3_column_int64(stmt, 3);
	m->updated_at = sqlite3_column_int64(stmt, 4);
	COL_STR(stmt, 5, m->actor, bad);
	m->version = sqlite3_column_int64(stmt, 6);
}

static int
sqlite_dnmap_get(struct eca_store *st, const char *primary, int by,
    const char *key, struct eca_dnmap *out, struct eca_err *err)
{
	struct sqlite_store *s = impl(st);
	sqlite3_stmt *stmt = NULL;
	int r = ECA_ERR_INTERNAL, rc = SQLITE_OK, bad = 0;

	if ((r = stmt_get(s, by ? S_DNMAP_BY_HOST : S_DNMAP_BY_SUBJECT,
	    &stmt, err)) != 0)
		return r;
	bind_str(stmt, 0, primary, ECA_HOST_MAX, &rc);
	bind_str(stmt, 1, key, ECA_DN_MAX, &rc);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE)
		r = eca_err_set(err, ECA_ERR_NOT_FOUND, "no mapping for %s "
		    "\"%.253s\"", by ? "host" : "subject", key);
	else if (rc != SQLITE_ROW)
		r = db_error(s, rc, err, "cannot read a subject mapping");
	else {
		row_dnmap(stmt, out, &bad);
		r = bad ? eca_err_set(err, ECA_ERR_DB, "a subject mapping has "
		    "a field that is too long (is the database damaged?)") : 0;
	}
	stmt_done(stmt);
	return r;
}

static int
sqlite_dnmap_put(struct eca_store *st, const char *primary,
    const struct eca_dnmap *m, struct eca_err *err)
{
	struct sqlite_store *s = impl(st);
	sqlite3_stmt *stmt = NULL;
	int r = ECA_ERR_INTERNAL, rc = SQLITE_OK;

	if ((r = stmt_get(s, S_DNMAP_PUT, &stmt, err)) != 0)
		return r;
	bind_str(stmt, 0, primary, ECA_HOST_MAX, &rc);
	BIND_STR(stmt, 1, m->subject, &rc);
	BIND_STR(stmt, 2, m->host, &rc);
	bind_i64(stmt, 3, m->removed ? 1 : 0, &rc);
	bind_i64(stmt, 4, m->created_at, &rc);
	bind_i64(stmt, 5, m->updated_at, &rc);
	BIND_STR(stmt, 6, m->actor, &rc);
	bind_i64(stmt, 7, m->version, &rc);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(stmt);
	r = 0;
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		r = eca_err_set(err, ECA_ERR_MAPPING_EXISTS, "host "
		    "\"%.253s\" is mapped to another subject already (remove "
		    "that mapping first: eca map remove %.253s)", m->host,
		    m->host);
	else if (rc != SQLITE_DONE)
		r = db_error(s, rc, err, "cannot store a subject mapping");
	stmt_done(stmt);
	return r;
}

static int
sqlite_dnmaps(struct eca_store *st, const char *primary, int64_t since,
    size_t limit, struct eca_dnmap **out, size_t *n, struct eca_err *err)
{
	struct sqlite_store *s = impl(st);
	struct eca_dnmap *arr = NULL;
	sqlite3_stmt *stmt = NULL;
	size_t cap = 0, cnt = 0;
	int r = ECA_ERR_INTERNAL, rc = SQLITE_OK, bad = 0;

	if ((r = stmt_get(s, since < 0 ? S_DNMAP_LIVE : S_DNMAP_SINCE, &stmt,
	    err)) != 0)
		goto out;
	bind_str(stmt, 0, primary, ECA_HOST_MAX, &rc);
	bind_i64(stmt, 1, limit_i64(limit), &rc);
	if (since >= 0)
		bind_i64(stmt, 2, since, &rc);
	if (rc != SQLITE_OK) {
		r = db_error(s, rc, err, "cannot list the subject mappings");
		goto out;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if ((r = grow((void **)&arr, &cap, cnt, sizeof(*arr),
		    err)) != 0)
			goto out;
		row_dnmap(stmt, &arr[cnt], &bad);
		if (bad) {
			r = eca_err_set(err, ECA_ERR_DB, "a subject mapping "
			    "has a field that is too long (is the database "
			    "damaged?)");
			goto out;
		}
		cnt++;
	}
	if (rc != SQLITE_DONE) {
		r = db_error(s, rc, err, "cannot list the subject mappings");
		goto out;
	}
	*out = arr;
	*n = cnt;
	arr = NULL;
	r = 0;
 out:
	stmt_done(stmt);
	free(arr);
	return r;
}

const struct eca_store_ops eca_store_sqlite_ops = {
	.name = "sqlite",
	.open = sqlite_open,
	.close = sqlite_close,
	.begin = sqlite_begin,
	.commit = sqlite_commit,
	.rollback = sqlite_rollback,
	.savepoint = sqlite_savepoint,
	.release = sqlite_release,
	.rollback_to = sqlite_rollback_to,
	.get = sqlite_get,
	.put = sqlite_put,
	.next_version = sqlite_next_version,
	.add_history = sqlite_add_history,
	.list = sqlite_list,
	.history = sqlite_history,
	.changes = sqlite_changes,
	.version = sqlite_version,
	.candidates = sqlite_candidates,
	.candidate_put = sqlite_candidate_put,
	.candidate_del = sqlite_candidate_del,
	.dnmap_get = sqlite_dnmap_get,
	.dnmap_put = sqlite_dnmap_put,
	.dnmaps = sqlite_dnmaps,
};
