/* SPDX-License-Identifier: ISC */
/*
 * store_pg.c - the PostgreSQL registry backend (libpq): the connection and
 * the checks of its URI, the schema and its ordered migrations (applied
 * under an advisory lock, so front ends starting together take turns),
 * transactions, reconnection with backoff, and the ops table store.c
 * dispatches through.
 *
 * One struct pg_store per connection, used by one thread at a time, as
 * with SQLite: ecad has one writer connection and one reader per worker.
 * Every statement is prepared once per connection (store_pg_sql.c).
 * Durability: synchronous_commit = on, so COMMIT returns once the
 * server's WAL is flushed.  The rows: records and history in
 * store_pg_records.c, candidates and DN mappings in store_pg_maps.c.
 * See docs/registry.md, "PostgreSQL".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_pg_impl.h"
#include "util.h"

/* The migration lock's key (pg_advisory_xact_lock's one-bigint space). */
#define MIGRATION_LOCK "7013120120"

/* ------------------------------------------------------------------ */
/* Schema: migrations[i] takes eca_schema.version i to i + 1.          */

static const char SQL_MIGRATION_1[] =
    "CREATE TABLE meta ("
    "  key TEXT PRIMARY KEY,"
    "  value BIGINT NOT NULL);"
    "INSERT INTO meta (key, value) VALUES ('" PG_VERSION_KEY "', 0);"
    "CREATE TABLE enrollments ("
    "  primary_name TEXT COLLATE \"C\" NOT NULL,"
    "  host TEXT COLLATE \"C\" NOT NULL,"
    "  host_id TEXT NOT NULL UNIQUE,"
    "  role TEXT NOT NULL CHECK (role IN ('client', 'media', 'primary')),"
    "  state TEXT NOT NULL CHECK (state IN ('ENROLLED', 'CONFLICT',"
    "    'REMOVED', 'BANNED', 'REVOKED')),"
    "  method TEXT NOT NULL CHECK (method IN ('AUTO', 'MANUAL', 'ADMIN')),"
    "  fingerprint TEXT NOT NULL, spki_fingerprint TEXT NOT NULL,"
    "  subject TEXT NOT NULL, issuer TEXT NOT NULL, serial TEXT NOT NULL,"
    "  not_before BIGINT NOT NULL, not_after BIGINT NOT NULL,"
    "  key_desc TEXT NOT NULL, sig_alg TEXT NOT NULL,"
    "  cn TEXT NOT NULL, san TEXT NOT NULL,"
    "  has_candidate SMALLINT NOT NULL CHECK (has_candidate IN (0, 1)),"
    "  cand_fingerprint TEXT, cand_spki_fingerprint TEXT,"
    "  cand_subject TEXT, cand_issuer TEXT, cand_serial TEXT,"
    "  cand_not_before BIGINT, cand_not_after BIGINT,"
    "  cand_key_desc TEXT, cand_sig_alg TEXT, cand_cn TEXT, cand_san TEXT,"
    "  candidate_at BIGINT, candidate_source TEXT,"
    "  enrolled_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,"
    "  last_seen BIGINT NOT NULL, source TEXT NOT NULL,"
    "  version BIGINT NOT NULL,"
    "  PRIMARY KEY (primary_name, host));"
    "CREATE INDEX enrollments_state ON enrollments (primary_name, state, host);"
    "CREATE INDEX enrollments_version ON enrollments (primary_name, version);"
    "CREATE TABLE history ("
    "  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  primary_name TEXT COLLATE \"C\" NOT NULL,"
    "  host TEXT COLLATE \"C\" NOT NULL,"
    "  host_id TEXT NOT NULL, event TEXT NOT NULL, state TEXT NOT NULL,"
    "  fingerprint TEXT NOT NULL, spki_fingerprint TEXT NOT NULL,"
    "  actor TEXT NOT NULL, source TEXT NOT NULL, at BIGINT NOT NULL,"
    "  FOREIGN KEY (primary_name, host)"
    "    REFERENCES enrollments (primary_name, host));"
    "CREATE INDEX history_host ON history (primary_name, host, id);";

/* 2: every distinct certificate waiting in a CONFLICT (seq: their order). */
static const char SQL_MIGRATION_2[] =
    "CREATE TABLE candidates ("
    "  seq BIGINT GENERATED ALWAYS AS IDENTITY,"
    "  primary_name TEXT COLLATE \"C\" NOT NULL,"
    "  host TEXT COLLATE \"C\" NOT NULL,"
    "  fingerprint TEXT NOT NULL, spki_fingerprint TEXT NOT NULL,"
    "  subject TEXT NOT NULL, issuer TEXT NOT NULL, serial TEXT NOT NULL,"
    "  not_before BIGINT NOT NULL, not_after BIGINT NOT NULL,"
    "  key_desc TEXT NOT NULL, sig_alg TEXT NOT NULL,"
    "  cn TEXT NOT NULL, san TEXT NOT NULL,"
    "  at BIGINT NOT NULL, last_seen BIGINT NOT NULL, source TEXT NOT NULL,"
    "  PRIMARY KEY (primary_name, host, fingerprint),"
    "  FOREIGN KEY (primary_name, host)"
    "    REFERENCES enrollments (primary_name, host));";

/* 3: ECA_IDENTITY = DN: one live row per subject and per host. */
static const char SQL_MIGRATION_3[] =
    "CREATE TABLE dn_map ("
    "  primary_name TEXT COLLATE \"C\" NOT NULL,"
    "  subject TEXT NOT NULL,"
    "  host TEXT COLLATE \"C\" NOT NULL,"
    "  removed SMALLINT NOT NULL CHECK (removed IN (0, 1)),"
    "  created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,"
    "  actor TEXT NOT NULL, version BIGINT NOT NULL,"
    "  PRIMARY KEY (primary_name, subject));"
    "CREATE UNIQUE INDEX dn_map_host ON dn_map (primary_name, host)"
    "  WHERE removed = 0;"
    "CREATE INDEX dn_map_version ON dn_map (primary_name, version);";

/*
 * 4: the audit journal, one hash chain for every front end (audit_pg.c):
 * each row one journal line, exactly as a file would hold it.
 */
static const char SQL_MIGRATION_4[] =
    "CREATE TABLE audit ("
    "  seq BIGINT PRIMARY KEY CHECK (seq > 0),"
    "  line TEXT NOT NULL,"
    "  hash TEXT NOT NULL);";

/*
 * 5: the console's hosts page sorts by enrollment time and by expiry, with
 * or without a state (eca_store_page, store_page.c): an index per order,
 * so that a page at a million records reads only its own rows.
 */
static const char SQL_MIGRATION_5[] =
    "CREATE INDEX enrollments_enrolled ON enrollments"
    "  (primary_name, enrolled_at, host);"
    "CREATE INDEX enrollments_expiry ON enrollments"
    "  (primary_name, not_after, host);"
    "CREATE INDEX enrollments_state_enrolled ON enrollments"
    "  (primary_name, state, enrolled_at, host);"
    "CREATE INDEX enrollments_state_expiry ON enrollments"
    "  (primary_name, state, not_after, host);";

/* 6: which hosts are NAT hosts (docs/nat.md), carried in the roster. */
static const char SQL_MIGRATION_6[] =
    "ALTER TABLE enrollments ADD COLUMN nat SMALLINT NOT NULL DEFAULT 0"
    "  CHECK (nat IN (0, 1));";

static const char *const migrations[] = {
    SQL_MIGRATION_1,
    SQL_MIGRATION_2,
    SQL_MIGRATION_3,
    SQL_MIGRATION_4,
    SQL_MIGRATION_5,
    SQL_MIGRATION_6,
};
#define SCHEMA_VERSION ((int)PG_NELEM(migrations))

static const char SQL_MIGRATE_LOCK[] =
    "SELECT pg_advisory_xact_lock(" MIGRATION_LOCK ")";
static const char SQL_SCHEMA_TABLE[] =
    "CREATE TABLE IF NOT EXISTS eca_schema (version INTEGER NOT NULL);"
    "INSERT INTO eca_schema (version) SELECT 0"
    " WHERE NOT EXISTS (SELECT 1 FROM eca_schema)";
static const char SQL_SCHEMA_VERSION[] = "SELECT version FROM eca_schema";

/* ------------------------------------------------------------------ */
/* Statements without values (schema, settings): PQexec.               */

/* Run sql; *out gets the result when wanted (the caller PQclear()s it). */
static int
simple(struct pg_store *s, const char *sql, const char *what, PGresult **out,
    struct eca_err *err)
{
	PGresult *res = PQexec(s->conn, sql);
	ExecStatusType st =
	    res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	int r = 0;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		r = eca_pg_error(s, res, what, err);
	if (r == 0 && out != NULL) {
		*out = res;
		return 0;
	}
	PQclear(res);
	return r;
}

static int
newer_schema(struct pg_store *s, int v, struct eca_err *err)
{
	return eca_err_set(err, ECA_ERR_DB,
	    "registry database %s has schema version %d, newer than the %d "
	    "this eca knows (upgrade eca)",
	    s->where, v, SCHEMA_VERSION);
}

/* The schema's version, or -1 when the table is missing (no schema). */
static int
read_version(struct pg_store *s, int *v, struct eca_err *err)
{
	PGresult *res = NULL;
	int r, bad = 0;

	*v = -1;
	r = simple(s, SQL_SCHEMA_VERSION,
	    "cannot read the registry schema version", &res, err);
	if (r != 0)
		return strcmp(s->sqlstate, "42P01") == 0 ? 0 : r;
	if (PQntuples(res) == 1)
		*v = (int)eca_pg_col_i64(res, 0, 0, &bad);
	PQclear(res);
	if (bad || *v < 0)
		return eca_err_set(err, ECA_ERR_DB,
		    "registry database %s has no valid schema version (is it "
		    "damaged?)",
		    s->where);
	return 0;
}

/* Apply what is missing, one transaction under the migration lock. */
static int
migrate(struct pg_store *s, struct eca_err *err)
{
	char sql[64];
	int r, v, i;

	if ((r = simple(s, "BEGIN", "cannot start the schema migration", NULL,
		 err)) != 0)
		return r;
	if ((r = simple(s, SQL_MIGRATE_LOCK, "cannot take the migration lock",
		 NULL, err)) != 0 ||
	    (r = simple(s, SQL_SCHEMA_TABLE,
		 "cannot create the schema version table", NULL, err)) != 0 ||
	    (r = read_version(s, &v, err)) != 0)
		goto out;
	if (v > SCHEMA_VERSION) {
		r = newer_schema(s, v, err);
		goto out;
	}
	for (i = v; i < SCHEMA_VERSION; i++)
		if ((r = simple(s, migrations[i],
			 "registry schema migration failed", NULL, err)) != 0)
			goto out;
	/* The number is ours, not a value from outside. */
	snprintf(sql, sizeof(sql), "UPDATE eca_schema SET version = %d",
	    SCHEMA_VERSION);
	if (v < SCHEMA_VERSION &&
	    (r = simple(s, sql, "cannot record the registry schema version",
		 NULL, err)) != 0)
		goto out;
	r = simple(s, "COMMIT", "cannot commit the schema migration", NULL,
	    err);
	if (r == 0 && v < SCHEMA_VERSION)
		log_info("registry %s: schema migrated from version %d to %d",
		    s->where, v, SCHEMA_VERSION);
	return r;
out:
	(void)simple(s, "ROLLBACK", "rollback", NULL, NULL);
	return r;
}

/* A reader only checks that the schema is there and not too new. */
static int
check_schema(struct pg_store *s, struct eca_err *err)
{
	int r, v;

	if ((r = read_version(s, &v, err)) != 0)
		return r;
	if (v <= 0)
		return eca_err_set(err, ECA_ERR_NOT_FOUND,
		    "registry database %s has no schema yet (start ecad on "
		    "the primary once to create it)",
		    s->where);
	if (v > SCHEMA_VERSION)
		return newer_schema(s, v, err);
	return 0;
}

/* ------------------------------------------------------------------ */
/* The connection.                                                     */

/*
 * A password in ECA_DB would end up in eca.conf, ecad -T and messages:
 * refused.  libpq reads it from a password file (passfile=..., PGPASSFILE
 * or ~/.pgpass), which it ignores when others can read it.
 */
static int
check_conninfo(const char *conninfo, struct eca_err *err)
{
	PQconninfoOption *opts, *o;
	char *msg = NULL;
	int r = 0;

	if ((opts = PQconninfoParse(conninfo, &msg)) == NULL) {
		r = eca_err_set(err, ECA_ERR_CONFIG,
		    "ECA_DB is not a PostgreSQL URI or keyword string libpq "
		    "accepts: %s",
		    msg != NULL ? msg : "out of memory");
		PQfreemem(msg);
		return r;
	}
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL &&
		    o->val[0] != '\0')
			r = eca_err_set(err, ECA_ERR_CONFIG,
			    "ECA_DB carries a password: remove it and put it "
			    "in a password file readable by ecad's user only "
			    "(passfile=PATH in ECA_DB, or PGPASSFILE; format "
			    "host:port:database:user:password)");
	PQconninfoFree(opts);
	return r;
}

/* The session's settings, on every new connection. */
int
eca_pg_configure(struct pg_store *s, struct eca_err *err)
{
	int r;

	free(s->where);
	s->where = NULL;
	if (asprintf(&s->where, "database %s on %s", PQdb(s->conn),
		PQhost(s->conn) != NULL ? PQhost(s->conn) : "?") < 0) {
		s->where = NULL;
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory opening the registry");
	}
	eca_pg_forget(s);
	s->in_tx = 0;
	/* Durable COMMIT: an acknowledged enrollment is on the server's disk. */
	if ((r = simple(s,
		 "SET synchronous_commit = on; SET client_min_messages = "
		 "warning",
		 "cannot configure the registry connection", NULL, err)) != 0)
		return r;
	if (s->base.flags & ECA_STORE_READONLY)
		return simple(s, "SET default_transaction_read_only = on",
		    "cannot configure the registry connection", NULL, err);
	return 0;
}

/*
 * ECA_DB_PASSWORD_FILE: the password alone on the file's first line, the
 * file readable by its owner only.  *out is wiped and freed with
 * eca_util_free_file(*out, *len).
 */
static int
read_password(const char *path, unsigned char **out, size_t *len,
    struct eca_err *err)
{
	mode_t mode = 0;
	size_t n;
	int r;

	if ((r = eca_util_read_file(path, "database password file", 4096, out,
		 len, &mode, NULL, err)) != 0)
		return r;
	n = strcspn((const char *)*out, "\r\n");
	(*out)[n] = '\0';
	if ((mode & 077) != 0)
		r = eca_err_set(err, ECA_ERR_FILE_PERMISSIONS,
		    "database password file %s can be read by others (chmod "
		    "600 it)",
		    path);
	else if (n == 0)
		r = eca_err_set(err, ECA_ERR_CONFIG,
		    "database password file %s is empty (write the password "
		    "on its first line)",
		    path);
	if (r != 0) {
		eca_util_free_file(*out, *len);
		*out = NULL;
	}
	return r;
}

static int
connect_db(struct pg_store *s, const char *password_file, struct eca_err *err)
{
	/*
	 * A default connect_timeout first, so that ECA_DB's own wins: a
	 * server that does not answer must not hang a thread for ever.
	 */
	const char *const keys[] = {"connect_timeout", "dbname",
	    "fallback_application_name",
	    password_file != NULL ? "password" : NULL, NULL};
	const char *vals[] = {"10", s->conninfo, "eca", NULL, NULL};
	unsigned char *pw = NULL;
	size_t pwlen = 0;
	int r;

	if (password_file != NULL) {
		if ((r = read_password(password_file, &pw, &pwlen, err)) != 0)
			return r;
		vals[3] = (const char *)pw;
	}
	/* libpq keeps its own copy of the password (for PQreset). */
	s->conn = PQconnectdbParams(keys, vals, 1);
	if (pw != NULL)
		eca_util_free_file(pw, pwlen);
	if (s->conn == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory connecting to the registry database");
	if (PQstatus(s->conn) != CONNECTION_OK) {
		char msg[256];
		size_t len;

		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(s->conn));
		len = strlen(msg);
		while (len > 0 && msg[len - 1] == '\n')
			msg[--len] = '\0';
		return eca_err_set(err, ECA_ERR_DB,
		    "cannot connect to the registry database: %s (check "
		    "ECA_DB, that the PostgreSQL server runs and lets ecad's "
		    "user in)",
		    msg);
	}
	return eca_pg_configure(s, err);
}

static void
pg_close(struct eca_store *st)
{
	struct pg_store *s = pg_impl(st);

	if (s == NULL)
		return;
	/* Closing with a transaction open rolls it back (server side). */
	PQfinish(s->conn);
	pthread_mutex_destroy(&s->own_watch.lock);
	free(s->conninfo);
	free(s->where);
	free(s);
}

static int
pg_open(const char *conninfo, int flags, struct eca_store **out,
    struct eca_err *err)
{
	return eca_store_pg_open(conninfo, NULL, flags, out, err);
}

int
eca_store_pg_open(const char *conninfo, const char *password_file, int flags,
    struct eca_store **out, struct eca_err *err)
{
	struct pg_store *s = NULL;
	int r;

	*out = NULL;
	if ((r = check_conninfo(conninfo, err)) != 0)
		return r;
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->conninfo = strdup(conninfo)) == NULL ||
	    (s->where = strdup("database")) == NULL) {
		if (s != NULL) {
			free(s->conninfo);
			free(s);
		}
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory opening the registry");
	}
	s->base.ops = &eca_store_pg_ops;
	s->base.flags = flags;
	eca_pg_watch_init(&s->own_watch);
	s->watch = &s->own_watch;
	if ((r = connect_db(s, password_file, err)) != 0 ||
	    (r = (flags & ECA_STORE_READONLY) ? check_schema(s, err) :
						migrate(s, err)) != 0) {
		pg_close(&s->base);
		return r;
	}
	*out = &s->base;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Transactions.                                                       */

static const struct {
	enum pg_stmt_id stmt;
	const char *what;
} tx_steps[] = {
    [ECA_STORE_TX_BEGIN] = {P_BEGIN, "cannot start a registry transaction"},
    [ECA_STORE_TX_COMMIT] = {P_COMMIT,
	"cannot commit the registry transaction"},
    [ECA_STORE_TX_ROLLBACK] = {P_ROLLBACK, "rollback"},
    [ECA_STORE_TX_SAVEPOINT] = {P_SAVEPOINT,
	"cannot start a registry savepoint"},
    [ECA_STORE_TX_RELEASE] = {P_RELEASE, "cannot release a registry savepoint"},
    [ECA_STORE_TX_ROLLBACK_TO] = {P_ROLLBACK_TO, "rollback to"},
};

static int
pg_tx(struct eca_store *st, enum eca_store_tx step, struct eca_err *err)
{
	struct pg_store *s = pg_impl(st);
	int r;

	if ((unsigned)step >= PG_NELEM(tx_steps))
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "unknown registry transaction step %d", (int)step);
	/* A version was taken: NOTIFY, in the transaction, before COMMIT. */
	if (step == ECA_STORE_TX_COMMIT && s->notify_version > 0) {
		struct pg_params p = {0};

		eca_pg_i64(&p, s->notify_version);
		if ((r = eca_pg_exec(s, P_NOTIFY, &p,
			 "cannot notify the other front ends", err)) != 0)
			return r;
	}
	if (step != ECA_STORE_TX_SAVEPOINT && step != ECA_STORE_TX_RELEASE &&
	    step != ECA_STORE_TX_ROLLBACK_TO)
		s->notify_version = 0;
	r = eca_pg_exec(s, tx_steps[step].stmt, NULL, tx_steps[step].what, err);
	/* A COMMIT or ROLLBACK ends the transaction, failed or not. */
	if (step == ECA_STORE_TX_BEGIN)
		s->in_tx = r == 0;
	else if (step == ECA_STORE_TX_COMMIT || step == ECA_STORE_TX_ROLLBACK)
		s->in_tx = 0;
	return r;
}

const struct eca_store_ops eca_store_pg_ops = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .tx = pg_tx,
    .get = eca_pg_get,
    .put = eca_pg_put,
    .next_version = eca_pg_next_version,
    .add_history = eca_pg_add_history,
    .list = eca_pg_list,
    .page = eca_pg_page,
    .counts = eca_pg_counts,
    .history = eca_pg_history,
    .changes = eca_pg_changes,
    .version = eca_pg_version,
    .candidates = eca_pg_candidates,
    .candidate_put = eca_pg_candidate_put,
    .candidate_del = eca_pg_candidate_del,
    .dnmap_get = eca_pg_dnmap_get,
    .dnmap_put = eca_pg_dnmap_put,
    .dnmaps = eca_pg_dnmaps,
    .probe = eca_pg_probe,
    .watch = eca_pg_watch_attach,
    .dump = eca_pg_dump,
    .load = eca_pg_load,
    .bulk = eca_pg_bulk,
};
