/* SPDX-License-Identifier: ISC */
/*
 * store.c - the backend-neutral front of the registry store: picks the
 * backend from the URI scheme and forwards every call to it, plus the
 * names of states and methods.
 */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hostname.h"
#include "store_impl.h"

#define SCHEME_SQLITE "sqlite:"
#define SCHEME_PG "postgresql://"
#define SCHEME_PG_SHORT "postgres://"

const char *const eca_store_state_names[ECA_STORE_NSTATES] = {
    [ECA_STATE_ENROLLED] = "ENROLLED",
    [ECA_STATE_CONFLICT] = "CONFLICT",
    [ECA_STATE_REMOVED] = "REMOVED",
    [ECA_STATE_BANNED] = "BANNED",
    [ECA_STATE_REVOKED] = "REVOKED",
};

const char *const eca_store_method_names[ECA_STORE_NMETHODS] = {
    [ECA_METHOD_AUTO] = "AUTO",
    [ECA_METHOD_MANUAL] = "MANUAL",
    [ECA_METHOD_ADMIN] = "ADMIN",
};

/* A list call's outputs are empty until it succeeds. */
#define CLEAR_OUT(out, n)                                                      \
	do {                                                                   \
		if ((out) != NULL)                                             \
			*(out) = NULL;                                         \
		if ((n) != NULL)                                               \
			*(n) = 0;                                              \
	} while (0)

int
eca_store_is_pg_keywords(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz_");

	return n > 0 && s[n + strspn(s + n, " ")] == '=';
}

static int
store_open(const char *uri, const char *password_file, int flags,
    struct eca_store **out, struct eca_err *err)
{
	size_t n;

	if (out != NULL)
		*out = NULL;
	if (uri == NULL || out == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_store_open: no registry URI given");
	n = strlen(SCHEME_SQLITE);
	if (strncmp(uri, SCHEME_SQLITE, n) == 0) {
		if (uri[n] == '\0')
			return eca_err_set(err, ECA_ERR_CONFIG,
			    "registry URI \"sqlite:\" names no file (set "
			    "ECA_DB to sqlite:PATH)");
		return eca_store_sqlite_ops.open(uri + n, flags, out, err);
	}
	/* libpq takes the whole URI, or a keyword string (host=... dbname=...). */
	if (strncmp(uri, SCHEME_PG, strlen(SCHEME_PG)) == 0 ||
	    strncmp(uri, SCHEME_PG_SHORT, strlen(SCHEME_PG_SHORT)) == 0 ||
	    eca_store_is_pg_keywords(uri))
		return eca_store_pg_open(uri, password_file, flags, out, err);
	return eca_err_set(err, ECA_ERR_CONFIG,
	    "registry URI has an unknown scheme (ECA_DB must be sqlite:PATH, "
	    "postgresql://... or a libpq keyword string such as "
	    "\"host=/run/postgresql dbname=eca\")");
}

int
eca_store_open(const char *uri, int flags, struct eca_store **out,
    struct eca_err *err)
{
	return store_open(uri, NULL, flags, out, err);
}

int
eca_store_open_cfg(const struct eca_config *cfg, int flags,
    struct eca_store **out, struct eca_err *err)
{
	const char *pw = NULL;

	if (cfg == NULL) {
		if (out != NULL)
			*out = NULL;
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_store_open_cfg: no configuration given");
	}
	if (cfg->db_password_file != NULL && cfg->db_password_file[0] != '\0')
		pw = cfg->db_password_file;
	if (pw != NULL && cfg->db != NULL &&
	    strncmp(cfg->db, SCHEME_SQLITE, strlen(SCHEME_SQLITE)) == 0) {
		if (out != NULL)
			*out = NULL;
		return eca_err_set(err, ECA_ERR_CONFIG,
		    "ECA_DB_PASSWORD_FILE is set but ECA_DB is SQLite, which "
		    "has no password (remove ECA_DB_PASSWORD_FILE)");
	}
	return store_open(cfg->db, pw, flags, out, err);
}

void
eca_store_close(struct eca_store *st)
{
	if (st == NULL)
		return;
	st->ops->close(st);
}

void
eca_store_watch_attach(struct eca_store *st, struct eca_store_watch *w)
{
	if (st != NULL && st->ops->watch != NULL)
		st->ops->watch(st, w);
}

int
eca_store_probe(struct eca_store *st, int64_t *next_ms, struct eca_err *err)
{
	*next_ms = 0;
	if (st == NULL || st->ops->probe == NULL)
		return 0;
	return st->ops->probe(st, next_ms, err);
}

/* The daemon's writer is the only writer; a reader connection must not try. */
static int
check_writable(struct eca_store *st, struct eca_err *err)
{
	if (st == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "registry store is not open");
	if (st->flags & ECA_STORE_READONLY)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "registry store was opened read-only and cannot be "
		    "written");
	return 0;
}

static int
check_open(struct eca_store *st, struct eca_err *err)
{
	if (st == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "registry store is not open");
	return 0;
}

/*
 * Defence in depth: the registry holds canonical host names only
 * (hostname.h), so a name in another spelling reaching the store is a
 * caller that skipped eca_hostname_canon().  Refused rather than looked up
 * or written: a second spelling would be a second host.
 */
static int
check_names(const char *what, const char *primary, const char *host,
    struct eca_err *err)
{
	if (!eca_hostname_is_canon(primary))
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "%s: primary name "
		    "'%.64s' is not in canonical form",
		    what, primary);
	if (host != NULL && !eca_hostname_is_canon(host))
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "%s: host name "
		    "'%.64s' is not in canonical form",
		    what, host);
	return 0;
}

/*
 * What every call checks before its backend sees it: the store is open
 * (and writable, for a write), every argument is given (args), and the
 * names are canonical (primary NULL: the call names none; host NULL: no
 * host).  what names the call in messages.
 */
static int
check_call(struct eca_store *st, int write, const char *what, int args,
    const char *primary, const char *host, struct eca_err *err)
{
	int r;

	if ((r = write ? check_writable(st, err) : check_open(st, err)) != 0)
		return r;
	if (!args)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "%s: missing argument", what);
	if (primary == NULL)
		return 0;
	return check_names(what, primary, host, err);
}

/* ------------------------------------------------------------------ */
/* Transactions.                                                       */

static int
tx(struct eca_store *st, enum eca_store_tx step, struct eca_err *err)
{
	int r;

	if ((r = check_writable(st, err)) != 0)
		return r;
	return st->ops->tx(st, step, err);
}

/* A rollback has nothing to report: a reader has nothing to undo. */
static void
tx_undo(struct eca_store *st, enum eca_store_tx step)
{
	if (st == NULL || (st->flags & ECA_STORE_READONLY))
		return;
	(void)st->ops->tx(st, step, NULL);
}

int
eca_store_begin(struct eca_store *st, struct eca_err *err)
{
	return tx(st, ECA_STORE_TX_BEGIN, err);
}

int
eca_store_commit(struct eca_store *st, struct eca_err *err)
{
	return tx(st, ECA_STORE_TX_COMMIT, err);
}

void
eca_store_rollback(struct eca_store *st)
{
	tx_undo(st, ECA_STORE_TX_ROLLBACK);
}

int
eca_store_savepoint(struct eca_store *st, struct eca_err *err)
{
	return tx(st, ECA_STORE_TX_SAVEPOINT, err);
}

int
eca_store_release(struct eca_store *st, struct eca_err *err)
{
	return tx(st, ECA_STORE_TX_RELEASE, err);
}

void
eca_store_rollback_to(struct eca_store *st)
{
	tx_undo(st, ECA_STORE_TX_ROLLBACK_TO);
}

/* ------------------------------------------------------------------ */
/* Records and their history.                                          */

int
eca_store_get(struct eca_store *st, const char *primary, const char *host,
    struct eca_enrollment *out, struct eca_err *err)
{
	int r;

	if ((r = check_call(st, 0, "eca_store_get",
		 primary != NULL && host != NULL && out != NULL, primary, host,
		 err)) != 0)
		return r;
	return st->ops->get(st, primary, host, out, err);
}

int
eca_store_put(struct eca_store *st, const struct eca_enrollment *rec,
    struct eca_err *err)
{
	int r;

	if ((r = check_call(st, 1, "eca_store_put", rec != NULL,
		 rec != NULL ? rec->primary : NULL,
		 rec != NULL ? rec->host : NULL, err)) != 0)
		return r;
	return st->ops->put(st, rec, err);
}

int
eca_store_next_version(struct eca_store *st, int64_t *out, struct eca_err *err)
{
	int r;

	if ((r = check_call(st, 1, "eca_store_next_version", out != NULL, NULL,
		 NULL, err)) != 0)
		return r;
	return st->ops->next_version(st, out, err);
}

int
eca_store_add_history(struct eca_store *st, const struct eca_history_entry *h,
    struct eca_err *err)
{
	int r;

	if ((r = check_call(st, 1, "eca_store_add_history", h != NULL,
		 h != NULL ? h->primary : NULL, h != NULL ? h->host : NULL,
		 err)) != 0)
		return r;
	return st->ops->add_history(st, h, err);
}

int
eca_store_list(struct eca_store *st, const char *primary, int state,
    const char *after_host, size_t limit, struct eca_enrollment **out,
    size_t *n, struct eca_err *err)
{
	int r;

	CLEAR_OUT(out, n);
	if ((r = check_call(st, 0, "eca_store_list",
		 primary != NULL && out != NULL && n != NULL, primary,
		 after_host != NULL && after_host[0] != '\0' ? after_host :
							       NULL,
		 err)) != 0)
		return r;
	if (state >= ECA_STORE_NSTATES)
		return eca_err_set(err, ECA_ERR_USAGE,
		    "unknown enrollment state %d", state);
	return st->ops->list(st, primary, state, after_host, limit, out, n,
	    err);
}

int
eca_store_history(struct eca_store *st, const char *primary, const char *host,
    size_t limit, struct eca_history_entry **out, size_t *n,
    struct eca_err *err)
{
	int r;

	CLEAR_OUT(out, n);
	if ((r = check_call(st, 0, "eca_store_history",
		 primary != NULL && host != NULL && out != NULL && n != NULL,
		 primary, host, err)) != 0)
		return r;
	return st->ops->history(st, primary, host, limit, out, n, err);
}

int
eca_store_changes(struct eca_store *st, const char *primary, int64_t since,
    size_t limit, struct eca_change **out, size_t *n, struct eca_err *err)
{
	int r;

	CLEAR_OUT(out, n);
	if ((r = check_call(st, 0, "eca_store_changes",
		 primary != NULL && out != NULL && n != NULL, primary, NULL,
		 err)) != 0)
		return r;
	if (since < 0)
		return eca_err_set(err, ECA_ERR_USAGE,
		    "roster version %lld is negative", (long long)since);
	return st->ops->changes(st, primary, since, limit, out, n, err);
}

int
eca_store_version(struct eca_store *st, int64_t *out, struct eca_err *err)
{
	int r;

	if ((r = check_call(st, 0, "eca_store_version", out != NULL, NULL, NULL,
		 err)) != 0)
		return r;
	return st->ops->version(st, out, err);
}

int
eca_store_counts(struct eca_store *st, const char *primary, int64_t until,
    struct eca_store_counts *out, struct eca_err *err)
{
	int r;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if ((r = check_call(st, 0, "eca_store_counts", out != NULL, primary,
		 NULL, err)) != 0)
		return r;
	if (st->ops->counts == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "the %s registry backend cannot count records yet",
		    st->ops->name);
	return st->ops->counts(st, primary, until, out, err);
}

/* ------------------------------------------------------------------ */
/* Names of states and methods.                                        */

static const char *
name_of(const char *const *names, int n, unsigned v)
{
	return v < (unsigned)n ? names[v] : "UNKNOWN";
}

/* Case-insensitive so that `eca list --state conflict` works too. */
static int
index_of(const char *const *names, int n, const char *name)
{
	int i;

	if (name == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (strcasecmp(name, names[i]) == 0)
			return i;
	return -1;
}

const char *
eca_state_name(enum eca_state s)
{
	return name_of(eca_store_state_names, ECA_STORE_NSTATES, s);
}

int
eca_state_from_name(const char *name)
{
	return index_of(eca_store_state_names, ECA_STORE_NSTATES, name);
}

const char *
eca_method_name(enum eca_method m)
{
	return name_of(eca_store_method_names, ECA_STORE_NMETHODS, m);
}

int
eca_method_from_name(const char *name)
{
	return index_of(eca_store_method_names, ECA_STORE_NMETHODS, name);
}

/* ------------------------------------------------------------------ */
/* Candidates and DN mappings.                                         */

int
eca_store_candidates(struct eca_store *st, const char *primary,
    const char *host, struct eca_candidate **out, size_t *n,
    struct eca_err *err)
{
	int r;

	CLEAR_OUT(out, n);
	if ((r = check_call(st, 0, "eca_store_candidates",
		 primary != NULL && host != NULL && out != NULL && n != NULL,
		 primary, host, err)) != 0)
		return r;
	return st->ops->candidates(st, primary, host, out, n, err);
}

int
eca_store_candidate_put(struct eca_store *st, const char *primary,
    const char *host, const struct eca_candidate *c, struct eca_err *err)
{
	int r;

	if ((r = check_call(st, 1, "eca_store_candidate_put",
		 primary != NULL && host != NULL && c != NULL &&
		     c->cert.fingerprint[0] != '\0',
		 primary, host, err)) != 0)
		return r;
	return st->ops->candidate_put(st, primary, host, c, err);
}

int
eca_store_candidate_del(struct eca_store *st, const char *primary,
    const char *host, const char *fp, struct eca_err *err)
{
	int r;

	if ((r = check_call(st, 1, "eca_store_candidate_del",
		 primary != NULL && host != NULL, primary, host, err)) != 0)
		return r;
	return st->ops->candidate_del(st, primary, host, fp, err);
}

/* by: 0 subject, 1 host (which is then a host name to check). */
static int
dnmap_get(struct eca_store *st, const char *primary, int by, const char *key,
    struct eca_dnmap *out, struct eca_err *err)
{
	int r;

	if ((r = check_call(st, 0, "eca_store_dnmap_by_*",
		 primary != NULL && key != NULL && out != NULL, primary,
		 by == 1 ? key : NULL, err)) != 0)
		return r;
	return st->ops->dnmap_get(st, primary, by, key, out, err);
}

int
eca_store_dnmap_by_subject(struct eca_store *st, const char *primary,
    const char *subject, struct eca_dnmap *out, struct eca_err *err)
{
	return dnmap_get(st, primary, 0, subject, out, err);
}

int
eca_store_dnmap_by_host(struct eca_store *st, const char *primary,
    const char *host, struct eca_dnmap *out, struct eca_err *err)
{
	return dnmap_get(st, primary, 1, host, out, err);
}

int
eca_store_dnmap_put(struct eca_store *st, const char *primary,
    const struct eca_dnmap *m, struct eca_err *err)
{
	int r;

	if ((r = check_call(st, 1, "eca_store_dnmap_put",
		 primary != NULL && m != NULL && m->subject[0] != '\0' &&
		     m->host[0] != '\0',
		 primary, m != NULL ? m->host : NULL, err)) != 0)
		return r;
	return st->ops->dnmap_put(st, primary, m, err);
}

int
eca_store_dnmaps(struct eca_store *st, const char *primary, int64_t since,
    size_t limit, struct eca_dnmap **out, size_t *n, struct eca_err *err)
{
	int r;

	CLEAR_OUT(out, n);
	if ((r = check_call(st, 0, "eca_store_dnmaps",
		 primary != NULL && out != NULL && n != NULL, primary, NULL,
		 err)) != 0)
		return r;
	return st->ops->dnmaps(st, primary, since, limit, out, n, err);
}

void
eca_enrollment_clear(struct eca_enrollment *rec)
{
	if (rec == NULL)
		return;
	eca_certinfo_clear(&rec->cert);
	eca_certinfo_clear(&rec->candidate);
}

void
eca_enrollments_free(struct eca_enrollment *recs, size_t n)
{
	size_t i;

	for (i = 0; recs != NULL && i < n; i++)
		eca_enrollment_clear(&recs[i]);
	free(recs);
}

int
eca_enrollment_copy(struct eca_enrollment *dst,
    const struct eca_enrollment *src, struct eca_err *err)
{
	int r;

	if (dst == src)
		return 0;
	*dst = *src;
	dst->cert.san_heap = dst->candidate.san_heap = NULL;
	if ((r = eca_certinfo_copy(&dst->cert, &src->cert, err)) != 0 ||
	    (r = eca_certinfo_copy(&dst->candidate, &src->candidate, err)) !=
		0) {
		eca_enrollment_clear(dst);
		return r;
	}
	return 0;
}

void
eca_candidates_free(struct eca_candidate *c, size_t n)
{
	size_t i;

	for (i = 0; c != NULL && i < n; i++)
		eca_certinfo_clear(&c[i].cert);
	free(c);
}

int
eca_candidate_copy(struct eca_candidate *dst, const struct eca_candidate *src,
    struct eca_err *err)
{
	if (dst == src)
		return 0;
	*dst = *src;
	return eca_certinfo_copy(&dst->cert, &src->cert, err);
}
