/* SPDX-License-Identifier: ISC */
/*
 * store_pg_impl.h - what the parts of the PostgreSQL backend share.
 *
 * Private to the backend: store_pg.c (the connection: open, the URI's
 * checks, schema and migrations under an advisory lock, transactions,
 * reconnection, the ops table), store_pg_sql.c (every statement by name,
 * and how one is prepared, run with its values and read),
 * store_pg_records.c (records, history, the version counter, the
 * roster's changes) and store_pg_maps.c (waiting candidates and DN
 * mappings).  Nothing else includes it.
 */
#ifndef ECA_STORE_PG_IMPL_H
#define ECA_STORE_PG_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "store_impl.h"

#define PG_NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* The statements a connection prepares once (PQprepare) and keeps. */
enum pg_stmt_id {
	P_BEGIN,
	P_COMMIT,
	P_ROLLBACK,
	P_SAVEPOINT,
	P_RELEASE,
	P_ROLLBACK_TO,
	P_LOCK_HOST,
	P_LOCK_DNMAP,
	P_GET,
	P_GET_FOR_UPDATE,
	P_PUT,
	P_NEXT_VERSION,
	P_ADD_HISTORY,
	P_LIST_ALL,
	P_LIST_STATE,
	P_HISTORY,
	P_CHANGES,
	P_VERSION,
	P_CANDIDATES,
	P_CANDIDATE_PUT,
	P_CANDIDATE_DEL,
	P_CANDIDATE_DEL_ALL,
	P_DNMAP_BY_SUBJECT,
	P_DNMAP_BY_HOST,
	P_DNMAP_PUT,
	P_DNMAP_LIVE,
	P_DNMAP_SINCE,
	P_COUNTS,
	P_NOTIFY,
	P_AUDIT_LOCK,
	P_AUDIT_HEAD,
	P_AUDIT_ADD,
	P_AUDIT_ROWS,
	P_AUDIT_PAGE,
	P_COUNT
};

/* LISTEN/NOTIFY: a committed change, its payload the version taken. */
#define PG_NOTIFY_CHANNEL "eca_registry"

/* The key of the registry version counter in the meta table. */
#define PG_VERSION_KEY "registry_version"

/*
 * The columns of a record, in the order P_GET reads and P_PUT writes them
 * (the SQLite backend's order: C_* in store_sqlite_impl.h).
 */
#define PG_ENROLLMENT_COLUMNS                                                  \
	"primary_name, host, host_id, role, state, method,"                    \
	" fingerprint, spki_fingerprint, subject, issuer, serial,"             \
	" not_before, not_after, key_desc, sig_alg, cn, san,"                  \
	" has_candidate,"                                                      \
	" cand_fingerprint, cand_spki_fingerprint, cand_subject,"              \
	" cand_issuer, cand_serial, cand_not_before, cand_not_after,"          \
	" cand_key_desc, cand_sig_alg, cand_cn, cand_san,"                     \
	" candidate_at, candidate_source,"                                     \
	" enrolled_at, updated_at, last_seen, source, version, nat"

/* A record as read (FROM enrollments e): and how many candidates wait. */
#define PG_ENROLLMENT_SELECT                                                   \
	PG_ENROLLMENT_COLUMNS ", (SELECT count(*) FROM candidates c"           \
			      " WHERE c.primary_name = e.primary_name"         \
			      " AND c.host = e.host)"

enum {
	PC_PRIMARY,
	PC_HOST,
	PC_HOST_ID,
	PC_ROLE,
	PC_STATE,
	PC_METHOD,
	PC_CERT, /* 11 certinfo columns */
	PC_HAS_CANDIDATE = PC_CERT + 11,
	PC_CAND, /* 11 certinfo columns */
	PC_CANDIDATE_AT = PC_CAND + 11,
	PC_CANDIDATE_SOURCE,
	PC_ENROLLED_AT,
	PC_UPDATED_AT,
	PC_LAST_SEEN,
	PC_SOURCE,
	PC_VERSION,
	PC_NAT,
	PC_COUNT,
	PC_NCANDIDATES = PC_COUNT /* selected, never written */
};

/*
 * Whether the server can be reached (store_pg_watch.c): one per process
 * when shared (eca_store_watch_new), else each connection's own.
 */
struct eca_store_watch {
	pthread_mutex_t lock;
	atomic_int down;  /* lost, not restored yet (logged once each way) */
	int shared;	  /* a reader of a shared watch never reconnects it */
	int64_t retry_at; /* down: the next attempt (monotonic ms) */
	int64_t delay;	  /* down: the backoff's current step */
};

/* One connection, used by one thread at a time. */
struct pg_store {
	struct eca_store base; /* first: store.c sees only this */
	PGconn *conn;
	char *conninfo;	  /* as given (no password: refused at open) */
	char *where;	  /* "database eca on /run/postgresql", for messages */
	int in_tx;	  /* BEGIN done, COMMIT or ROLLBACK not yet */
	char sqlstate[6]; /* of the last failure, "" if none */
	int64_t notify_version; /* taken in this transaction: NOTIFY it */
	struct eca_store_watch *watch; /* &own_watch, or the process's */
	struct eca_store_watch own_watch;
	int prepared[P_COUNT]; /* PQprepare done on this connection */
};

static inline struct pg_store *
pg_impl(struct eca_store *st)
{
	return (struct pg_store *)st;
}

/* ---- store_pg_sql.c: statements and their values. ---- */

/* The values of one statement, as text (libpq's text format). */
#define PG_MAXPARAMS 40
struct pg_params {
	int n;
	int bad; /* a string that did not fit its field */
	const char *val[PG_MAXPARAMS];
	char num[PG_MAXPARAMS][24];
};

/* Adding values: each does nothing once p->bad is set. */
void eca_pg_str(struct pg_params *p, const char *str, size_t size);
#define PG_STR(p, field) eca_pg_str((p), (field), sizeof(field))
void eca_pg_i64(struct pg_params *p, int64_t v);
void eca_pg_null(struct pg_params *p);
/* The 11 certinfo values, or NULLs when absent. */
void eca_pg_cert(struct pg_params *p, const struct eca_certinfo *ci,
    int present);
/* A size_t limit as PostgreSQL's bigint. */
int64_t eca_pg_limit(size_t limit);

/*
 * Translate a failure: res is the failed result (NULL: the connection's
 * message); what says what failed.  SQLSTATE picks the code: disk full is
 * ECA_ERR_DISK_FULL, a deadlock, serialization failure or lost connection
 * ECA_ERR_BUSY ("retry later"), anything else ECA_ERR_DB.
 */
int eca_pg_error(struct pg_store *s, const PGresult *res, const char *what,
    struct eca_err *err);
/*
 * Run statement id (prepared on first use) with p's values (NULL: none);
 * *out is its result (the caller PQclear()s it) when it succeeded.
 */
int eca_pg_run(struct pg_store *s, enum pg_stmt_id id,
    const struct pg_params *p, const char *what, PGresult **out,
    struct eca_err *err) ECA_WUR;
/* The same when the result is not wanted. */
int eca_pg_exec(struct pg_store *s, enum pg_stmt_id id,
    const struct pg_params *p, const char *what, struct eca_err *err);
/*
 * store_pg_watch.c: the connection made usable before a statement: a
 * connection lost outside a transaction is reset; while the watch is
 * down, ECA_ERR_DB_UNAVAILABLE at once unless it is this connection's
 * turn to try (the backoff).
 */
int eca_pg_ensure(struct pg_store *s, struct eca_err *err) ECA_WUR;
/* A connection-level failure (msg: libpq's text): the watch goes down. */
void eca_pg_watch_lost(struct pg_store *s, const char *msg);
/* A statement succeeded: the watch, if down, is up again. */
void eca_pg_watch_ok(struct pg_store *s);
void eca_pg_watch_init(struct eca_store_watch *w);
/* This connection only, made good again quietly: 0, or -1 with msg. */
int eca_pg_reconnect(struct pg_store *s, char *msg, size_t size);
int eca_pg_probe(struct eca_store *st, int64_t *next_ms, struct eca_err *err);
void eca_pg_watch_attach(struct eca_store *st, struct eca_store_watch *w);
/* store_pg.c: the session's settings on a new connection. */
int eca_pg_configure(struct pg_store *s, struct eca_err *err);
/* The connection's last libpq message, without its newline. */
void eca_pg_conn_message(struct pg_store *s, char *buf, size_t size);
/* Forget what was prepared (a new connection). */
void eca_pg_forget(struct pg_store *s);

/* Reading: NULL reads as "" or 0; a value too long for buf sets *bad. */
void eca_pg_col_str(const PGresult *res, int row, int col, char *buf,
    size_t size, int *bad);
#define PG_COL_STR(res, row, col, field, bad)                                  \
	eca_pg_col_str((res), (row), (col), (field), sizeof(field), (bad))
int64_t eca_pg_col_i64(const PGresult *res, int row, int col, int *bad);
int eca_pg_col_enum(const PGresult *res, int row, int col,
    const char *const *names, size_t n, int *bad);
void eca_pg_col_cert(const PGresult *res, int row, int col,
    struct eca_certinfo *ci, int *bad);

/*
 * One row of a result into item (zeroed before); arg is the caller's.  On
 * failure it releases what it took (a certificate's long dNSNames).
 */
typedef int eca_pg_row(const PGresult *res, int row, void *item,
    const void *arg, struct eca_err *err);
/*
 * Run a SELECT and read every row into a new array of elem-sized items:
 * *out (the caller's, free()) and *n; NULL and 0 on failure.
 */
/* What an item read by a row function owns, released (or NULL: nothing). */
typedef void eca_pg_release(void *item);
int eca_pg_select(struct pg_store *s, enum pg_stmt_id id,
    const struct pg_params *p, size_t elem, eca_pg_row *row,
    eca_pg_release *release, const void *arg, const char *what, void **out,
    size_t *n, struct eca_err *err);
/* A SELECT of at most one row: ECA_ERR_NOT_FOUND (no message) if none. */
int eca_pg_select_one(struct pg_store *s, enum pg_stmt_id id,
    const struct pg_params *p, eca_pg_row *row, void *item, const void *arg,
    const char *what, struct eca_err *err);

/* ---- store_pg_records.c and store_pg_maps.c: the ops. ---- */

int eca_pg_get(struct eca_store *st, const char *primary, const char *host,
    struct eca_enrollment *out, struct eca_err *err);
int eca_pg_put(struct eca_store *st, const struct eca_enrollment *rec,
    struct eca_err *err);
int eca_pg_next_version(struct eca_store *st, int64_t *out,
    struct eca_err *err);
int eca_pg_add_history(struct eca_store *st, const struct eca_history_entry *h,
    struct eca_err *err);
int eca_pg_counts(struct eca_store *st, const char *primary, int64_t until,
    struct eca_store_counts *out, struct eca_err *err);
int eca_pg_list(struct eca_store *st, const char *primary, int state,
    const char *after_host, size_t limit, struct eca_enrollment **out,
    size_t *n, struct eca_err *err);
int eca_pg_page(struct eca_store *st, const char *primary,
    const struct eca_store_page *q, struct eca_enrollment **out, size_t *n,
    struct eca_err *err);
int eca_pg_history(struct eca_store *st, const char *primary, const char *host,
    size_t limit, struct eca_history_entry **out, size_t *n,
    struct eca_err *err);
int eca_pg_changes(struct eca_store *st, const char *primary, int64_t since,
    size_t limit, struct eca_change **out, size_t *n, struct eca_err *err);
int eca_pg_version(struct eca_store *st, int64_t *out, struct eca_err *err);

int eca_pg_candidates(struct eca_store *st, const char *primary,
    const char *host, struct eca_candidate **out, size_t *n,
    struct eca_err *err);
int eca_pg_candidate_put(struct eca_store *st, const char *primary,
    const char *host, const struct eca_candidate *c, struct eca_err *err);
int eca_pg_candidate_del(struct eca_store *st, const char *primary,
    const char *host, const char *fp, struct eca_err *err);
int eca_pg_dnmap_get(struct eca_store *st, const char *primary, int by,
    const char *key, struct eca_dnmap *out, struct eca_err *err);
int eca_pg_dnmap_put(struct eca_store *st, const char *primary,
    const struct eca_dnmap *m, struct eca_err *err);
int eca_pg_dnmaps(struct eca_store *st, const char *primary, int64_t since,
    size_t limit, struct eca_dnmap **out, size_t *n, struct eca_err *err);

/* store_pg_bulk.c: whole tables (store_bulk.h). */
int eca_pg_dump(struct eca_store *st, const struct eca_store_table *t,
    eca_store_sink *sink, void *arg, struct eca_err *err);
int eca_pg_load(struct eca_store *st, const struct eca_store_table *t,
    eca_store_source *src, void *arg, int64_t *n, struct eca_err *err);
int eca_pg_bulk(struct eca_store *st, enum eca_store_bulk step,
    const struct eca_store_table *t, int64_t *n, struct eca_err *err);

#endif
