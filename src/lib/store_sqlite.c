/* SPDX-License-Identifier: ISC */
/*
 * store_sqlite.c - the embedded registry backend (SQLite 3): the
 * connection, its schema and migrations, transactions, and the ops table
 * store.c dispatches through.
 *
 * One struct sqlite_store per connection, used by one thread at a time
 * (SQLITE_OPEN_NOMUTEX).  Every statement is a named SQL_... constant with
 * its values bound, prepared once per connection and kept
 * (store_sqlite_sql.c).  The schema version lives in PRAGMA user_version
 * and grows through the ordered migrations[] array, applied in one
 * transaction.  Durability: WAL with synchronous=FULL, so COMMIT returns
 * only once the WAL is on disk; the daemon batches many requests into one
 * transaction (enroll.c) to keep throughput.  See docs/registry.md.
 *
 * The rows: records and history in store_sqlite_records.c, candidates and
 * DN mappings in store_sqlite_maps.c; what the parts share in
 * store_sqlite_impl.h.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hostname.h"
#include "sqlite_vfs.h"
#include "store_sqlite_impl.h"

#define BUSY_TIMEOUT_MS 5000

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

/*
 * 6: the console's hosts page sorts by enrollment time and by expiry, with
 * or without a state (eca_store_page, store_page.c): an index per order,
 * so that a page at a million records reads only its own rows.
 */
static const char SQL_MIGRATION_6[] =
    "CREATE INDEX enrollments_enrolled ON enrollments"
    "  (primary_name, enrolled_at, host);"
    "CREATE INDEX enrollments_expiry ON enrollments"
    "  (primary_name, not_after, host);"
    "CREATE INDEX enrollments_state_enrolled ON enrollments"
    "  (primary_name, state, enrolled_at, host);"
    "CREATE INDEX enrollments_state_expiry ON enrollments"
    "  (primary_name, state, not_after, host);";

/*
 * 7: which hosts are NAT hosts (docs/nat.md): the roster carries it, so
 * that a peer treats such a host as one whatever its HELLO says.
 */
static const char SQL_MIGRATION_7[] =
    "ALTER TABLE enrollments ADD COLUMN nat INTEGER NOT NULL DEFAULT 0"
    "  CHECK (nat IN (0, 1));";

/*
 * 8: the audit journal's last groups (docs/audit.md, "Durability"): each
 * group's lines are written here in the transaction of its registry
 * changes, so that one sync, the COMMIT's, makes both durable; the file
 * gets them at once and is fsynced later, and ecad forgets a group once
 * the file has it on disk.  A row is one group: its first and last seq
 * and its lines, each ended by a newline, exactly as the file holds them.
 */
static const char SQL_MIGRATION_8[] =
    "CREATE TABLE IF NOT EXISTS audit_kept ("
    "  last_seq INTEGER PRIMARY KEY,"
    "  first_seq INTEGER NOT NULL CHECK (first_seq <= last_seq),"
    "  lines TEXT NOT NULL"
    ");";

static const char *const migrations[] = {
    SQL_MIGRATION_1,
    SQL_MIGRATION_2,
    SQL_MIGRATION_3,
    SQL_MIGRATION_4,
    SQL_MIGRATION_5,
    SQL_MIGRATION_6,
    SQL_MIGRATION_7,
    SQL_MIGRATION_8,
};
#define SCHEMA_VERSION ((int)NELEM(migrations))

static const char SQL_USER_VERSION[] = "PRAGMA user_version";

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
		return eca_sqlite_error(s, rc, "cannot set the busy timeout",
		    err);
	rc = sqlite3_exec(s->db,
	    "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;", NULL, NULL,
	    NULL);
	if (rc != SQLITE_OK)
		return eca_sqlite_error(s, rc,
		    "cannot configure the registry database", err);
	if (readonly) {
		rc = sqlite3_exec(s->db, "PRAGMA query_only = ON", NULL, NULL,
		    NULL);
		if (rc != SQLITE_OK)
			return eca_sqlite_error(s, rc,
			    "cannot configure the registry database", err);
		return 0;
	}
	/* The journal mode is stored in the file: writers set it. */
	rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &stmt,
	    NULL);
	if (rc != SQLITE_OK) {
		r = eca_sqlite_error(s, rc, "cannot switch the registry to WAL",
		    err);
		goto out;
	}
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		r = eca_sqlite_error(s, rc, "cannot switch the registry to WAL",
		    err);
		goto out;
	}
	mode = sqlite3_column_text(stmt, 0);
	if (mode == NULL || strcmp((const char *)mode, "wal") != 0) {
		r = eca_err_set(err, ECA_ERR_DB,
		    "registry database %s refused WAL mode (is it on a "
		    "network file system?)",
		    s->path);
		goto out;
	}
	r = 0;
out:
	sqlite3_finalize(stmt);
	return r;
}

/*
 * Run sql, prepared for this once (not kept), and hand each row to row
 * (with arg), whose non-zero return (an error, err filled) ends the walk.
 * what says what failed when SQLite fails.
 */
static int
query(struct sqlite_store *s, const char *sql,
    int (*row)(struct sqlite_store *, sqlite3_stmt *, void *, struct eca_err *),
    void *arg, const char *what, struct eca_err *err)
{
	sqlite3_stmt *stmt = NULL;
	int r = 0, rc;

	if ((rc = sqlite3_prepare_v2(s->db, sql, -1, &stmt, NULL)) == SQLITE_OK)
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
			if ((r = row(s, stmt, arg, err)) != 0)
				goto out;
	if (rc != SQLITE_DONE)
		r = eca_sqlite_error(s, rc, what, err);
out:
	sqlite3_finalize(stmt);
	return r;
}

static int
user_version_row(struct sqlite_store *s, sqlite3_stmt *stmt, void *arg,
    struct eca_err *err)
{
	(void)s;
	(void)err;
	*(int *)arg = sqlite3_column_int(stmt, 0);
	return 0;
}

/* A negative version (no eca writes one) is a damaged file. */
static int
read_user_version(struct sqlite_store *s, int *out, struct eca_err *err)
{
	int r;

	*out = -1;
	if ((r = query(s, SQL_USER_VERSION, user_version_row, out,
		 "cannot read the registry schema version", err)) != 0)
		return r;
	if (*out < 0)
		return eca_err_set(err, ECA_ERR_DB,
		    "registry database %s has "
		    "no valid schema version (is it damaged?)",
		    s->path);
	return 0;
}

static int
newer_schema(struct sqlite_store *s, int v, struct eca_err *err)
{
	return eca_err_set(err, ECA_ERR_DB,
	    "registry database %s has schema version %d, newer than the %d "
	    "this eca knows (upgrade eca)",
	    s->path, v, SCHEMA_VERSION);
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

/* A name that is no host name stops the upgrade. */
static int
fold_name_row(struct sqlite_store *s, sqlite3_stmt *stmt, void *arg,
    struct eca_err *err)
{
	struct eca_err he;
	char canon[ECA_HOST_MAX];
	const char *p = col_text(stmt, 0), *h = col_text(stmt, 1);

	(void)arg;
	if (eca_hostname_canon(p, canon, sizeof(canon), &he) == 0 &&
	    eca_hostname_canon(h, canon, sizeof(canon), &he) == 0)
		return 0;
	return eca_err_set(err, ECA_ERR_DB,
	    "registry %s cannot be "
	    "upgraded (schema 3, one spelling per host name): the "
	    "record of '%.64s' (%s) of primary '%.64s': %s.  Stop "
	    "ecad, back the file up, and delete the record: sqlite3 "
	    "%s \"DELETE FROM history WHERE host = '%.64s'; DELETE "
	    "FROM enrollments WHERE host = '%.64s'\" (nothing was "
	    "changed)",
	    s->path, h, col_text(stmt, 2), p, he.msg, s->path, h, h);
}

/* Two records that fold to one stop the upgrade. */
static int
fold_collision_row(struct sqlite_store *s, sqlite3_stmt *stmt, void *arg,
    struct eca_err *err)
{
	(void)arg;
	return eca_err_set(err, ECA_ERR_DB,
	    "registry %s cannot be "
	    "upgraded (schema 3, one spelling per host name): records "
	    "'%.64s' (%s) and '%.64s' (%s) of primary '%.64s' are one "
	    "host.  Stop ecad, back the file up, decide which is the "
	    "host's own (eca show, the audit journal) and delete the "
	    "other: sqlite3 %s \"DELETE FROM history WHERE host = "
	    "'NAME'; DELETE FROM enrollments WHERE host = 'NAME'\" "
	    "(nothing was changed)",
	    s->path, col_text(stmt, 1), col_text(stmt, 2), col_text(stmt, 3),
	    col_text(stmt, 4), col_text(stmt, 0), s->path);
}

static int
fold_check(struct sqlite_store *s, struct eca_err *err)
{
	int r;

	/* History rows name records (foreign key): the records suffice. */
	if ((r = query(s, SQL_FOLD_NAMES, fold_name_row, NULL,
		 "cannot check the registry's names", err)) != 0)
		return r;
	return query(s, SQL_FOLD_COLLISION, fold_collision_row, NULL,
	    "cannot check the registry's names", err);
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

/*
 * A writer keeps its savepoint journal in memory.  Every op of a group
 * runs in its own SAVEPOINT (docs/registry.md), so each page it changes
 * is copied to the sub-journal first; past 64 KiB, which one enrollment
 * with its indexes and history reaches, SQLite moves that journal to a
 * temporary file (created, unlinked, written page by page, closed at
 * COMMIT): more writes than the WAL itself.  In memory it holds one op's
 * pages, emptied at each RELEASE.  Set after the migrations, whose
 * CREATE INDEX may sort a whole table: this connection's own statements
 * read in an index's order (LIMITed, or grouped by state), so they
 * sort nothing into temporary storage.
 */
static int
journal_in_memory(struct sqlite_store *s, struct eca_err *err)
{
	int rc;

	rc =
	    sqlite3_exec(s->db, "PRAGMA temp_store = MEMORY", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return eca_sqlite_error(s, rc,
		    "cannot configure the registry database", err);
	return 0;
}

/* Bring the schema to SCHEMA_VERSION, all steps in one transaction. */
static int
migrate(struct sqlite_store *s, struct eca_err *err)
{
	char sql[64];
	int r = ECA_ERR_INTERNAL, rc, v, i, intx = 0;

	if ((r = eca_sqlite_exec(s, S_BEGIN,
		 "cannot start the schema migration", err)) != 0)
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
			r = eca_sqlite_error(s, rc,
			    "registry schema migration failed", err);
			goto out;
		}
	}
	if (v < SCHEMA_VERSION) {
		/* A PRAGMA takes no bound values; the number is ours. */
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
		    SCHEMA_VERSION);
		rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			r = eca_sqlite_error(s, rc,
			    "cannot record the registry schema version", err);
			goto out;
		}
	}
	if ((r = eca_sqlite_exec(s, S_COMMIT,
		 "cannot commit the schema migration", err)) != 0)
		goto out;
	intx = 0;
	r = 0;
out:
	if (intx)
		(void)eca_sqlite_exec(s, S_ROLLBACK, "rollback", NULL);
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
		    "the primary once to create it)",
		    s->path);
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
		r = eca_err_set(err,
		    errno == ENOSPC ? ECA_ERR_DISK_FULL : ECA_ERR_IO,
		    "cannot create registry database %s: %s "
		    "(check that its directory exists and is writable by "
		    "ecad's user)",
		    path, strerror(errno));
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
		    "be made private: %s (chmod 600 it)",
		    path, strerror(errno));
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
	struct sqlite_store *s = sqlite_impl(st);
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
			r = eca_err_set(err,
			    errno == ENOENT ? ECA_ERR_NOT_FOUND : ECA_ERR_IO,
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
	rc = sqlite3_open_v2(path, &s->db, oflags, eca_sqlite_vfs());
	if (rc != SQLITE_OK) {
		r = eca_sqlite_error(s, rc, "cannot open the registry database",
		    err);
		goto out;
	}
	if ((r = configure(s, readonly, err)) != 0)
		goto out;
	if (readonly)
		r = check_schema(s, err);
	else if ((r = migrate(s, err)) == 0)
		r = journal_in_memory(s, err);
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

/* Each step of a transaction: its statement and what a failure says. */
static const struct {
	enum stmt_id stmt;
	const char *what;
} tx_steps[] = {
    [ECA_STORE_TX_BEGIN] = {S_BEGIN, "cannot start a registry transaction"},
    [ECA_STORE_TX_COMMIT] = {S_COMMIT,
	"cannot commit the registry transaction"},
    /* Fails harmlessly when no transaction is open. */
    [ECA_STORE_TX_ROLLBACK] = {S_ROLLBACK, "rollback"},
    [ECA_STORE_TX_SAVEPOINT] = {S_SAVEPOINT,
	"cannot start a registry savepoint"},
    [ECA_STORE_TX_RELEASE] = {S_RELEASE, "cannot release a registry savepoint"},
    [ECA_STORE_TX_ROLLBACK_TO] = {S_ROLLBACK_TO, "rollback to"},
};

static int
sqlite_tx(struct eca_store *st, enum eca_store_tx step, struct eca_err *err)
{
	if ((unsigned)step >= NELEM(tx_steps))
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "unknown registry transaction step %d", (int)step);
	return eca_sqlite_exec(sqlite_impl(st), tx_steps[step].stmt,
	    tx_steps[step].what, err);
}

const struct eca_store_ops eca_store_sqlite_ops = {
    .name = "sqlite",
    .open = sqlite_open,
    .close = sqlite_close,
    .tx = sqlite_tx,
    .get = eca_sqlite_get,
    .put = eca_sqlite_put,
    .next_version = eca_sqlite_next_version,
    .add_history = eca_sqlite_add_history,
    .list = eca_sqlite_list,
    .page = eca_sqlite_page,
    .history = eca_sqlite_history,
    .changes = eca_sqlite_changes,
    .version = eca_sqlite_version,
    .counts = eca_sqlite_counts,
    .candidates = eca_sqlite_candidates,
    .candidate_put = eca_sqlite_candidate_put,
    .candidate_del = eca_sqlite_candidate_del,
    .dnmap_get = eca_sqlite_dnmap_get,
    .dnmap_put = eca_sqlite_dnmap_put,
    .dnmaps = eca_sqlite_dnmaps,
    .dump = eca_sqlite_dump,
    .load = eca_sqlite_load,
    .bulk = eca_sqlite_bulk,
};
