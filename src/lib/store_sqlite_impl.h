/* SPDX-License-Identifier: ISC */
/*
 * store_sqlite_impl.h - what the parts of the SQLite backend share.
 *
 * Private to the backend: store_sqlite.c (the connection: open, schema and
 * migrations, transactions, the ops table), store_sqlite_sql.c (every
 * statement by name, and how a statement is prepared, bound, run and
 * read), store_sqlite_records.c (records, history, the version counter,
 * the roster's changes) and store_sqlite_maps.c (waiting candidates and
 * DN mappings).  Nothing else includes it.
 */
#ifndef ECA_STORE_SQLITE_IMPL_H
#define ECA_STORE_SQLITE_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store_impl.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* The statements a connection prepares once and keeps (store_sqlite_sql.c). */
enum stmt_id {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_SAVEPOINT,
	S_RELEASE,
	S_ROLLBACK_TO,
	S_GET,
	S_PUT,
	S_NEXT_VERSION,
	S_ADD_HISTORY,
	S_LIST_ALL,
	S_LIST_STATE,
	S_HISTORY,
	S_CHANGES,
	S_VERSION,
	S_CANDIDATES,
	S_CANDIDATE_PUT,
	S_CANDIDATE_DEL,
	S_CANDIDATE_DEL_ALL,
	S_DNMAP_BY_SUBJECT,
	S_DNMAP_BY_HOST,
	S_DNMAP_PUT,
	S_DNMAP_LIVE,
	S_DNMAP_SINCE,
	S_COUNTS,
	S_AUDIT_KEEP,
	S_AUDIT_FORGET,
	S_AUDIT_KEPT,
	S_COUNT
};

/* The key of the registry version counter in the meta table. */
#define VERSION_KEY "registry_version"

/*
 * The columns of a record, in the order SQL_GET reads and SQL_PUT writes
 * them; the enum below gives each its position (bind index is position
 * + 1), so the two must change together.
 */
#define ENROLLMENT_COLUMNS                                                     \
	"primary_name, host, host_id, role, state, method,"                    \
	" fingerprint, spki_fingerprint, subject, issuer, serial,"             \
	" not_before, not_after, key_desc, sig_alg, cn, san,"                  \
	" has_candidate,"                                                      \
	" cand_fingerprint, cand_spki_fingerprint, cand_subject,"              \
	" cand_issuer, cand_serial, cand_not_before, cand_not_after,"          \
	" cand_key_desc, cand_sig_alg, cand_cn, cand_san,"                     \
	" candidate_at, candidate_source,"                                     \
	" enrolled_at, updated_at, last_seen, source, version, nat"

/* A record as read: its columns and how many candidates wait. */
#define ENROLLMENT_SELECT                                                      \
	ENROLLMENT_COLUMNS ", (SELECT count(*) FROM candidates c"              \
			   " WHERE c.primary_name = enrollments.primary_name"  \
			   " AND c.host = enrollments.host)"

enum {
	C_PRIMARY,
	C_HOST,
	C_HOST_ID,
	C_ROLE,
	C_STATE,
	C_METHOD,
	C_CERT, /* 11 certinfo columns */
	C_HAS_CANDIDATE = C_CERT + 11,
	C_CAND, /* 11 certinfo columns */
	C_CANDIDATE_AT = C_CAND + 11,
	C_CANDIDATE_SOURCE,
	C_ENROLLED_AT,
	C_UPDATED_AT,
	C_LAST_SEEN,
	C_SOURCE,
	C_VERSION,
	C_NAT,
	C_COUNT,
	C_NCANDIDATES = C_COUNT /* selected, never written */
};

/* One connection, used by one thread at a time. */
struct sqlite_store {
	struct eca_store base; /* first: store.c sees only this */
	sqlite3 *db;
	char *path;
	sqlite3_stmt *stmts[S_COUNT];
};

static inline struct sqlite_store *
sqlite_impl(struct eca_store *st)
{
	return (struct sqlite_store *)st;
}

/* ---- store_sqlite_sql.c: statements. ---- */

/* Translate a SQLite failure at the call site; what says what failed. */
int eca_sqlite_error(struct sqlite_store *s, int rc, const char *what,
    struct eca_err *err);
/* The connection's prepared statement id (prepared on first use). */
int eca_sqlite_stmt(struct sqlite_store *s, enum stmt_id id, sqlite3_stmt **out,
    struct eca_err *err) ECA_WUR;
/*
 * Statement id of st's connection, ready to run with primary bound as its
 * first value and host, unless NULL, as its second (keysize bytes at most:
 * ECA_HOST_MAX for a host, ECA_DN_MAX for a subject).  *rc is the binds'
 * status, for the binds that follow.
 */
int eca_sqlite_start(struct eca_store *st, enum stmt_id id, const char *primary,
    const char *key, size_t keysize, sqlite3_stmt **stmt, int *rc,
    struct eca_err *err) ECA_WUR;
/*
 * Step a statement that returns no rows, whose values are bound (rc: the
 * binds' status, see below), and ready it for its next use.
 */
int eca_sqlite_run(struct sqlite_store *s, sqlite3_stmt *stmt, int rc,
    const char *what, struct eca_err *err);
/* Prepare and run statement id, which takes no values. */
int eca_sqlite_exec(struct sqlite_store *s, enum stmt_id id, const char *what,
    struct eca_err *err);
/* Ready a cached statement for its next use (bound strings are borrowed). */
void eca_sqlite_done(sqlite3_stmt *stmt);

/*
 * Binding: each helper does nothing once *rc holds an error, so a run of
 * binds is checked once at its end.  col is the column's position (the
 * bind index is col + 1).  A string that fills size without a NUL is
 * refused (SQLITE_TOOBIG).
 */
void eca_sqlite_bind_str(sqlite3_stmt *stmt, int col, const char *str,
    size_t size, int *rc);
void eca_sqlite_bind_i64(sqlite3_stmt *stmt, int col, int64_t v, int *rc);
void eca_sqlite_bind_null(sqlite3_stmt *stmt, int col, int *rc);
/* The 11 certinfo columns starting at col, or NULLs when absent. */
void eca_sqlite_bind_cert(sqlite3_stmt *stmt, int col,
    const struct eca_certinfo *ci, int present, int *rc);
#define BIND_STR(stmt, col, field, rc)                                         \
	eca_sqlite_bind_str((stmt), (col), (field), sizeof(field), (rc))
/* A size_t limit as SQLite's integer. */
int64_t eca_sqlite_limit(size_t limit);

/*
 * Reading: a text column into a fixed buffer; NULL reads as "".  A value
 * that does not fit sets *bad rather than being cut silently.
 */
void eca_sqlite_col_str(sqlite3_stmt *stmt, int col, char *buf, size_t size,
    int *bad);
#define COL_STR(stmt, col, field, bad)                                         \
	eca_sqlite_col_str((stmt), (col), (field), sizeof(field), (bad))
/* An enum column stored by name; sets *bad for a name not in names. */
int eca_sqlite_col_enum(sqlite3_stmt *stmt, int col, const char *const *names,
    size_t n, int *bad);
void eca_sqlite_col_cert(sqlite3_stmt *stmt, int col, struct eca_certinfo *ci,
    int *bad);

/*
 * One row of a SELECT into item (zeroed before); arg is the caller's
 * (e.g. the host asked about, for messages).  0, or an error with err
 * filled.
 */
typedef int eca_sqlite_row(sqlite3_stmt *stmt, void *item, const void *arg,
    struct eca_err *err);
/* What an item read by a row function owns, released (or NULL: nothing). */
typedef void eca_sqlite_release(void *item);
/*
 * Run a SELECT whose values are bound (rc: the binds' status) to its end,
 * each row read by row into a new element (elem bytes) of an array that
 * grows as needed: *out (the caller's, free() after release of each
 * element) and *n on success, NULL and 0 on failure.  The statement is readied for its next use.
 */
int eca_sqlite_select(struct sqlite_store *s, sqlite3_stmt *stmt, int rc,
    size_t elem, eca_sqlite_row *row, eca_sqlite_release *release,
    const void *arg, const char *what, void **out, size_t *n,
    struct eca_err *err);
/*
 * The same for a SELECT of at most one row, read into item:
 * ECA_ERR_NOT_FOUND without a message when there is none.
 */
int eca_sqlite_select_one(struct sqlite_store *s, sqlite3_stmt *stmt, int rc,
    eca_sqlite_row *row, void *item, const void *arg, const char *what,
    struct eca_err *err);

/* ---- store_sqlite_records.c and store_sqlite_maps.c: the ops. ---- */

int eca_sqlite_get(struct eca_store *st, const char *primary, const char *host,
    struct eca_enrollment *out, struct eca_err *err);
int eca_sqlite_put(struct eca_store *st, const struct eca_enrollment *rec,
    struct eca_err *err);
int eca_sqlite_next_version(struct eca_store *st, int64_t *out,
    struct eca_err *err);
int eca_sqlite_add_history(struct eca_store *st,
    const struct eca_history_entry *h, struct eca_err *err);
int eca_sqlite_list(struct eca_store *st, const char *primary, int state,
    const char *after_host, size_t limit, struct eca_enrollment **out,
    size_t *n, struct eca_err *err);
int eca_sqlite_page(struct eca_store *st, const char *primary,
    const struct eca_store_page *q, struct eca_enrollment **out, size_t *n,
    struct eca_err *err);
int eca_sqlite_history(struct eca_store *st, const char *primary,
    const char *host, size_t limit, struct eca_history_entry **out, size_t *n,
    struct eca_err *err);
int eca_sqlite_changes(struct eca_store *st, const char *primary, int64_t since,
    size_t limit, struct eca_change **out, size_t *n, struct eca_err *err);
int eca_sqlite_version(struct eca_store *st, int64_t *out, struct eca_err *err);
int eca_sqlite_counts(struct eca_store *st, const char *primary, int64_t until,
    struct eca_store_counts *out, struct eca_err *err);

int eca_sqlite_candidates(struct eca_store *st, const char *primary,
    const char *host, struct eca_candidate **out, size_t *n,
    struct eca_err *err);
int eca_sqlite_candidate_put(struct eca_store *st, const char *primary,
    const char *host, const struct eca_candidate *c, struct eca_err *err);
int eca_sqlite_candidate_del(struct eca_store *st, const char *primary,
    const char *host, const char *fp, struct eca_err *err);
int eca_sqlite_dnmap_get(struct eca_store *st, const char *primary, int by,
    const char *key, struct eca_dnmap *out, struct eca_err *err);
int eca_sqlite_dnmap_put(struct eca_store *st, const char *primary,
    const struct eca_dnmap *m, struct eca_err *err);
int eca_sqlite_dnmaps(struct eca_store *st, const char *primary, int64_t since,
    size_t limit, struct eca_dnmap **out, size_t *n, struct eca_err *err);

/* store_sqlite_bulk.c: whole tables (store_bulk.h). */
int eca_sqlite_dump(struct eca_store *st, const struct eca_store_table *t,
    eca_store_sink *sink, void *arg, struct eca_err *err);
int eca_sqlite_load(struct eca_store *st, const struct eca_store_table *t,
    eca_store_source *src, void *arg, int64_t *n, struct eca_err *err);
int eca_sqlite_bulk(struct eca_store *st, enum eca_store_bulk step,
    const struct eca_store_table *t, int64_t *n, struct eca_err *err);

#endif
