/*
 * store.c - the backend-neutral front of the registry store: picks the
 * backend from the URI scheme and forwards every call to it, plus the
 * names of states and methods.
 */
#include "store.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hostname.h"
#include "store_impl.h"

#define SCHEME_SQLITE "sqlite:"
#define SCHEME_PG "postgresql://"
#define SCHEME_PG_SHORT "postgres://"

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

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

int
eca_store_open(const char *uri, int flags, struct eca_store **out,
    struct eca_err *err)
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
	if (strncmp(uri, SCHEME_PG, strlen(SCHEME_PG)) == 0 ||
	    strncmp(uri, SCHEME_PG_SHORT, strlen(SCHEME_PG_SHORT)) == 0)
		return eca_err_set(err, ECA_ERR_CONFIG,
		    "PostgreSQL backend not built yet (use ECA_DB = "
		    "sqlite:PATH for now)");
	return eca_err_set(err, ECA_ERR_CONFIG,
	    "registry URI has an unknown scheme (ECA_DB must be sqlite:PATH "
	    "or postgresql://...)");
}

void
eca_store_close(struct eca_store *st)
{
	if (st == NULL)
		return;
	st->ops->close(st);
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

int
eca_store_begin(struct eca_store *st, struct eca_err *err)
{
	int r;

	if ((r = check_writable(st, err)) != 0)
		return r;
	return st->ops->begin(st, err);
}

int
eca_store_commit(struct eca_store *st, struct eca_err *err)
{
	int r;

	if ((r = check_writable(st, err)) != 0)
		return r;
	return st->ops->commit(st, err);
}

void
eca_store_rollback(struct eca_store *st)
{
	if (st == NULL || (st->flags & ECA_STORE_READONLY))
		return;
	st->ops->rollback(st);
}

int
eca_store_savepoint(struct eca_store *st, struct eca_err *err)
{
	int r;

	if ((r = check_writable(st, err)) != 0)
		return r;
	return st->ops->savepoint(st, err);
}

int
eca_store_release(struct eca_store *st, struct eca_err *err)
{
	int r;

	if ((r = check_writable(st, err)) != 0)
		return r;
	return st->ops->release(st, err);
}

void
eca_store_rollback_to(struct eca_store *st)
{
	if (st == NULL || (st->flags & ECA_STORE_READONLY))
		return;
	st->ops->rollback_to(st);
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
		return eca_err_set(err, ECA_ERR_INTERNAL, "%s: primary name "
		    "'%.64s' is not in canonical form", what, primary);
	if (host != NULL && !eca_hostname_is_canon(host))
		return eca_err_set(err, ECA_ERR_INTERNAL, "%s: host name "
		    "'%.64s' is not in canonical form", what, host);
	return 0;
}

int
eca_store_get(struct eca_store *st, const char *primary, const char *host,
    struct eca_enrollment *out, struct eca_err *err)
{
	int r;

	if ((r = check_open(st, err)) != 0)
		return r;
	if (primary == NULL || host == NULL || out == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_store_get: missing argument");
	if ((r = check_names("eca_store_get", primary, host, err)) != 0)
		return r;
	return st->ops->get(st, primary, host, out, err);
}

int
eca_store_put(struct eca_store *st, const struct eca_enrollment *rec,
    struct eca_err *err)
{
	int r;

	if ((r = check_writable(st, err)) != 0)
		return r;
	if (rec == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_store_put: missing record");
	if ((r = check_names("eca_store_put", rec->primary, rec->host,
	    err)) != 0)
		return r;
	return st->ops->put(st, rec, err);
}

int
eca_store_next_version(struct eca_store *st, int64_t *out,
    struct eca_err *err)
{
	int r;

	if ((r = check_writable(st, err)) != 0)
		return r;
	if (out == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_store_next_version: missing argument");
	return st->ops->next_version(st, out, err);
}

int
eca_store_add_history(struct eca_store *st,
    const struct eca_history_entry *h, struct eca_err *err)
{
	int r;

	if ((r = check_writable(st, err)) != 0)
		return r;
	if (h == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_store_add_history: missing entry");
	if ((r = check_names("eca_store_add_history", h->primary, h->host,
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

	if (out != NULL)
		*out = NULL;
	if (n != NULL)
		*n = 0;
	if ((r = check_open(st, err)) != 0)
		return r;
	if (primary == NULL || out == NULL || n == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_store_list: missing argument");
	if ((r = check_names("eca_store_list", primary, after_host != NULL &&
	    after_host[0] != '\0' ? after_host : NULL, err)) != 0)
		return r;
	if (state >= (int)NELEM(state_names))
		return eca_err_set(err, ECA_ERR_USAGE,
		    "unknown enrollment state %d", state);
	return st->ops->list(st, primary, state, after_host, limit, out, n,
	    err);
}

int
eca_store_history(struct eca_store *st, const char *primary,
    const char *host, size_t limit, struct eca_history_entry **out, size_t *n,
    struct eca_err *err)
{
	int r;

	if (out != NULL)
		*out = NULL;
	if (n != NULL)
		*n = 0;
	if ((r = check_open(st, err)) != 0)
		return r;
	if (primary == NULL || host == NULL || out == NULL || n == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_store_history: missing argument");
	if ((r = check_names("eca_store_history", primary, host, err)) != 0)
		return r;
	return st->ops->history(st, primary, host, limit, out, n, err);
}

int
eca_store_changes(struct eca_store *st, const char *primary, int64_t since,
    size_t limit, struct eca_change **out, size_t *n, struct eca_err *err)
{
	int r;

	if (out != NULL)
		*out = NULL;
	if (n != NULL)
		*n = 0;
	if ((r = check_open(st, err)) != 0)
		return r;
	if (primary == NULL || out == NULL || n == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_store_changes: missing argument");
	if ((r = check_names("eca_store_changes", primary, NULL, err)) != 0)
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

	if ((r = check_open(st, err)) != 0)
		return r;
	if (out == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_store_version: missing argument");
	return st->ops->version(st, out, err);
}

const char *
eca_state_name(enum eca_state s)
{
	if ((unsigned)s >= NELEM(state_names))
		return "UNKNOWN";
	return state_names[s];
}

/* Case-insensitive so that `eca list --state conflict` works too. */
int
eca_state_from_name(const char *name)
{
	size_t i;

	if (name == NULL)
		return -1;
	for (i = 0; i < NELEM(state_names); i++)
		if (strcasecmp(name, state_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *
eca_method_name(enum eca_method m)
{
	if ((unsigned)m >= NELEM(method_names))
		return "UNKNOWN";
	return method_names[m];
}

int
eca_method_from_name(const char *name)
{
	size_t i;

	if (name == NULL)
		return -1;
	for (i = 0; i < NELEM(method_names); i++)
		if (strcasecmp(name, method_names[i]) == 0)
			return (int)i;
	return -1;
}

/* ------------------------------------------------------------------ */
/* Candidates and DN mappings.                                         */

int
eca_store_candidates(struct eca_store *st, const char *primary,
    const char *host, struct eca_candidate **out, size_t *n,
    struct eca_err *err)
{
	int r;

	if (out != NULL)
		*out = NULL;
	if (n != NULL)
		*n = 0;
	if ((r = check_open(st, err)) != 0)
		return r;
	if (primary == NULL || host == NULL || out == NULL || n == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_store_candidates: missing argument");
	if ((r = check_names("eca_store_candidates", primary, host,
	    err)) != 0)
		return r;
	return st->ops->candidates(st, primary, host, out, n, err);
}

int
eca_store_candidate_put(struct eca_store *st, const char *primary,
    const char *host, const struct eca_candidate *c, struct eca_err *err)
{
	int r;

	if ((r = check_writable(st, err)) != 0)
		return r;
	if (primary == NULL || host == NULL || c == NULL ||
	    c->cert.fingerprint[0] == '\0')
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_store_candidate_put: missing argument");
	if ((r = check_names("eca_store_candidate_put", primary, host,
	    err)) != 0)
		return r;
	return st->ops->candidate_put(st, primary, host, c, err);
}

int
eca_store_candidate_del(struct eca_store *st, const char *primary,
    const char *host, const char *fp, struct eca_err *err)
{
	int r;

	if ((r = check_writable(st, err)) != 0)
		return r;
	if (primary == NULL || host == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_store_candidate_del: missing argument");
	if ((r = check_names("eca_store_candidate_del", primary, host,
	    err)) != 0)
		return r;
	return st->ops->candidate_del(st, primary, host, fp, err);
}

static int
dnmap_get(struct eca_store *st, const char *primary, int by, const char *key,
    struct eca_dnmap *out, struct eca_err *err)
{
	int r;

	if ((r = check_open(st, err)) != 0)
		return r;
	if (primary == NULL || key == NULL || out == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_store_dnmap_by_*: missing argument");
	if ((r = check_names("eca_store_dnmap_by_*", primary,
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

	if ((r = check_writable(st, err)) != 0)
		return r;
	if (primary == NULL || m == NULL || m->subject[0] == '\0' ||
	    m->host[0] == '\0')
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_store_dnmap_put: missing argument");
	if ((r = check_names("eca_store_dnmap_put", primary, m->host,
	    err)) != 0)
		return r;
	return st->ops->dnmap_put(st, primary, m, err);
}

int
eca_store_dnmaps(struct eca_store *st, const char *primary, int64_t since,
    size_t limit, struct eca_dnmap **out, size_t *n, struct eca_err *err)
{
	int r;

	if (out != NULL)
		*out = NULL;
	if (n != NULL)
		*n = 0;
	if ((r = check_open(st, err)) != 0)
		return r;
	if (primary == NULL || out == NULL || n == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_store_dnmaps: missing argument");
	if ((r = check_names("eca_store_dnmaps", primary, NULL, err)) != 0)
		return r;
	return st->ops->dnmaps(st, primary, since, limit, out, n, err);
}
