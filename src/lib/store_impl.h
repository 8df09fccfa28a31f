/* SPDX-License-Identifier: ISC */
/*
 * store_impl.h - what a registry backend provides to store.c.
 *
 * Private to the store: store.c and the backends include it, nothing else.
 * A backend embeds struct eca_store as the first member of its own
 * connection struct and fills every entry of its eca_store_ops; store.c
 * dispatches the public eca_store_* calls through it.
 */
#ifndef ECA_STORE_IMPL_H
#define ECA_STORE_IMPL_H

#include "store.h"
#include "store_bulk.h"

/*
 * The states and methods as a backend stores them: these exact names
 * (upper case), from the one table in store.c.
 */
#define ECA_STORE_NSTATES ((int)ECA_STATE_REVOKED + 1)
#define ECA_STORE_NMETHODS ((int)ECA_METHOD_ADMIN + 1)
extern const char *const eca_store_state_names[ECA_STORE_NSTATES];
extern const char *const eca_store_method_names[ECA_STORE_NMETHODS];

/* The steps of a transaction (eca_store_begin, ...). */
enum eca_store_tx {
	ECA_STORE_TX_BEGIN,  /* BEGIN IMMEDIATE */
	ECA_STORE_TX_COMMIT, /* durable on return */
	ECA_STORE_TX_ROLLBACK,
	ECA_STORE_TX_SAVEPOINT,
	ECA_STORE_TX_RELEASE,
	ECA_STORE_TX_ROLLBACK_TO, /* the savepoint */
};

struct eca_store_ops {
	const char *name; /* "sqlite", for messages */
	/*
	 * target is the URI without its scheme ("PATH" of "sqlite:PATH"),
	 * or for PostgreSQL the whole URI or keyword string, as libpq takes it.
	 */
	int (*open)(const char *target, int flags, struct eca_store **out,
	    struct eca_err *err);
	void (*close)(struct eca_store *st);
	/* err is NULL for ROLLBACK and ROLLBACK_TO, whose failure is moot. */
	int (*tx)(struct eca_store *st, enum eca_store_tx step,
	    struct eca_err *err);
	int (*get)(struct eca_store *st, const char *primary, const char *host,
	    struct eca_enrollment *out, struct eca_err *err);
	int (*put)(struct eca_store *st, const struct eca_enrollment *rec,
	    struct eca_err *err);
	int (*next_version)(struct eca_store *st, int64_t *out,
	    struct eca_err *err);
	int (*add_history)(struct eca_store *st,
	    const struct eca_history_entry *h, struct eca_err *err);
	int (*list)(struct eca_store *st, const char *primary, int state,
	    const char *after_host, size_t limit, struct eca_enrollment **out,
	    size_t *n, struct eca_err *err);
	int (*page)(struct eca_store *st, const char *primary,
	    const struct eca_store_page *q, struct eca_enrollment **out,
	    size_t *n, struct eca_err *err);
	int (*history)(struct eca_store *st, const char *primary,
	    const char *host, size_t limit, struct eca_history_entry **out,
	    size_t *n, struct eca_err *err);
	int (*changes)(struct eca_store *st, const char *primary, int64_t since,
	    size_t limit, struct eca_change **out, size_t *n,
	    struct eca_err *err);
	int (*version)(struct eca_store *st, int64_t *out, struct eca_err *err);
	/* NULL in a backend without it: eca_store_counts says so. */
	int (*counts)(struct eca_store *st, const char *primary, int64_t until,
	    struct eca_store_counts *out, struct eca_err *err);
	int (*candidates)(struct eca_store *st, const char *primary,
	    const char *host, struct eca_candidate **out, size_t *n,
	    struct eca_err *err);
	int (*candidate_put)(struct eca_store *st, const char *primary,
	    const char *host, const struct eca_candidate *c,
	    struct eca_err *err);
	int (*candidate_del)(struct eca_store *st, const char *primary,
	    const char *host, const char *fp, struct eca_err *err);
	/* by: 0 subject, 1 host */
	int (*dnmap_get)(struct eca_store *st, const char *primary, int by,
	    const char *key, struct eca_dnmap *out, struct eca_err *err);
	int (*dnmap_put)(struct eca_store *st, const char *primary,
	    const struct eca_dnmap *m, struct eca_err *err);
	int (*dnmaps)(struct eca_store *st, const char *primary, int64_t since,
	    size_t limit, struct eca_dnmap **out, size_t *n,
	    struct eca_err *err);
	/* NULL in a backend that cannot lose its server (SQLite). */
	int (*probe)(struct eca_store *st, int64_t *next_ms,
	    struct eca_err *err);
	void (*watch)(struct eca_store *st, struct eca_store_watch *w);
	/* Whole tables (store_bulk.h; store_*_bulk.c). */
	int (*dump)(struct eca_store *st, const struct eca_store_table *t,
	    eca_store_sink *sink, void *arg, struct eca_err *err);
	int (*load)(struct eca_store *st, const struct eca_store_table *t,
	    eca_store_source *src, void *arg, int64_t *n, struct eca_err *err);
	int (*bulk)(struct eca_store *st, enum eca_store_bulk step,
	    const struct eca_store_table *t, int64_t *n, struct eca_err *err);
};

/*
 * The values eca_store_page_sql's statement takes, in the order of its
 * placeholders.
 */
enum eca_page_param {
	ECA_PAGE_PRIMARY,
	ECA_PAGE_STATE,
	ECA_PAGE_PREFIX_LO, /* the prefix */
	ECA_PAGE_PREFIX_HI, /* the prefix followed by '~' */
	ECA_PAGE_AFTER_KEY, /* the state's name, or a time */
	ECA_PAGE_AFTER_HOST,
	ECA_PAGE_LIMIT,
};
#define ECA_PAGE_NPARAMS 7

/*
 * The statement of a page without its "SELECT columns FROM enrollments"
 * (from " WHERE" to "LIMIT"), with "?N" placeholders (SQLite) or "$N"
 * (ECA_PAGE_SQL_DOLLAR, PostgreSQL); params[0..*np) say which value each
 * takes.  With a prefix and an order other than the name, SQLite reads
 * the order's index and filters by the prefix, or with
 * ECA_PAGE_SQL_PREFIX_FIRST (few names have the prefix) reads the
 * prefix's rows and sorts them; PostgreSQL's planner picks by itself.
 * ECA_ERR_INTERNAL if buf is too small.
 */
#define ECA_PAGE_SQL_DOLLAR 0x1
#define ECA_PAGE_SQL_PREFIX_FIRST 0x2
int eca_store_page_sql(const struct eca_store_page *q, int flags, char *buf,
    size_t len, enum eca_page_param *params, int *np, struct eca_err *err);

struct eca_store {
	const struct eca_store_ops *ops;
	int flags; /* ECA_STORE_READONLY */
};

/*
 * The SQL of a bulk read of t into buf: SELECT its columns in its order
 * (pg: PostgreSQL, text ordered COLLATE "C", insertion order by t->seq;
 * SQLite: by rowid); "col, col, ..." for columns_only.  ECA_ERR_INTERNAL
 * if it does not fit (store_bulk.c).
 */
int eca_store_bulk_sql(const struct eca_store_table *t, int pg,
    int columns_only, char *buf, size_t size, struct eca_err *err);

/*
 * The SQL of ECA_STORE_BULK_COUNT ("SELECT count(*) FROM t ...") or
 * ECA_STORE_BULK_CLEAR ("DELETE FROM t ...") into buf, with t's WHERE.
 */
int eca_store_bulk_step_sql(enum eca_store_bulk step,
    const struct eca_store_table *t, char *buf, size_t size,
    struct eca_err *err);

extern const struct eca_store_ops eca_store_sqlite_ops;
extern const struct eca_store_ops eca_store_pg_ops;
/* PostgreSQL with the password read from password_file (NULL: libpq's). */
int eca_store_pg_open(const char *conninfo, const char *password_file,
    int flags, struct eca_store **out, struct eca_err *err);

#endif
