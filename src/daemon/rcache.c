/* SPDX-License-Identifier: ISC */
/*
 * rcache.c - the last good roster in memory, on a PostgreSQL registry:
 * every record's roster fields and every DN mapping row of this primary,
 * in version order, as of a registry version.
 *
 * GET /v1/roster reads the database; after it answered, the worker brings
 * the cache up to the version it read (only the changes after the
 * cache's version: one query when the version moved, none otherwise).
 * When the database cannot be reached (ECA_ERR_DB_UNAVAILABLE) the roster
 * is answered from here: the version this front end last saw, so a host
 * keeps judging its peers by it.  A host asking for changes after a
 * version the cache does not have yet is answered 503 (a full roster
 * older than its own would take changes back).  Bounded: beyond
 * RCACHE_MAX records and mappings the cache is switched off (and says so
 * once); the database outage is then answered 503.
 *
 * Fresh: while the LISTEN connection (pglisten.c) is up, every committed
 * change of any front end is announced to it (NOTIFY in the committing
 * transaction), and this front end's writer says so itself after its
 * commits: a cache caught up since the last such event is the registry,
 * and answers the roster without a query.  Each event, and the LISTEN
 * connection's loss or return, makes it stale until the next catch-up.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ecad.h"
#include "log.h"

#define RCACHE_MAX 100000     /* records (about 450 bytes each) */
#define RCACHE_MAX_MAPS 10000 /* DN mapping rows (about 2.3 KB each) */
#define RCACHE_PAGE 5000      /* rows per query when filling */

struct ecad_rcache {
	pthread_mutex_t lock; /* the fields below */
	pthread_mutex_t fill; /* one worker fills at a time */
	int loaded, off;
	int listening;	 /* the LISTEN connection is up */
	uint64_t events; /* changes heard of, LISTEN's ups and downs */
	uint64_t synced; /* events when the last catch-up started */
	int64_t version;
	struct eca_change *ch;
	size_t n;
	struct eca_dnmap *maps;
	size_t nmaps;
};

int
rcache_new(struct ecad_rcache **out, struct eca_err *err)
{
	struct ecad_rcache *rc;

	if ((*out = rc = calloc(1, sizeof(*rc))) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory for the roster cache");
	pthread_mutex_init(&rc->lock, NULL);
	pthread_mutex_init(&rc->fill, NULL);
	rc->events = 1; /* not fresh before the first catch-up */
	return 0;
}

void
rcache_free(struct ecad_rcache *rc)
{
	if (rc == NULL)
		return;
	free(rc->ch);
	free(rc->maps);
	pthread_mutex_destroy(&rc->lock);
	pthread_mutex_destroy(&rc->fill);
	free(rc);
}

/* Grow *v (of *n items of size elem) by the k at add. */
static int
append(void **v, size_t *n, const void *add, size_t k, size_t elem)
{
	void *nv;

	if (k == 0)
		return 0;
	if ((nv = realloc(*v, (*n + k) * elem)) == NULL)
		return -1;
	memcpy((char *)nv + *n * elem, add, k * elem);
	*v = nv;
	*n += k;
	return 0;
}

/*
 * Every change after since, in pages: 0, -1 (the query failed, or out of
 * memory), -2 (more than the cache holds).
 */
static int
fetch_changes(struct eca_store *rd, const char *primary, int64_t since,
    struct eca_change **out, size_t *n)
{
	struct eca_change *part;
	size_t k;
	int r;

	do {
		if (eca_store_changes(rd, primary, since, RCACHE_PAGE, &part,
			&k, NULL) != 0)
			return -1;
		r = *n + k > RCACHE_MAX ?
		    -2 :
		    append((void **)out, n, part, k, sizeof(*part));
		if (k > 0)
			since = part[k - 1].version;
		free(part);
		if (r != 0)
			return r;
	} while (k == RCACHE_PAGE);
	return 0;
}

static int
fetch_maps(struct eca_store *rd, const char *primary, int64_t since,
    struct eca_dnmap **out, size_t *n)
{
	struct eca_dnmap *part;
	size_t k;
	int r;

	do {
		if (eca_store_dnmaps(rd, primary, since, RCACHE_PAGE, &part, &k,
			NULL) != 0)
			return -1;
		r = *n + k > RCACHE_MAX_MAPS ?
		    -2 :
		    append((void **)out, n, part, k, sizeof(*part));
		if (k > 0)
			since = part[k - 1].version;
		free(part);
		if (r != 0)
			return r;
	} while (k == RCACHE_PAGE);
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * old (version order) without the entries whose key is among add's, then
 * add (all newer): *old replaced.  key is the offset of the key string.
 */
static int
merge(void **old, size_t *nold, const void *add, size_t nadd, size_t elem,
    size_t key)
{
	const char **keys;
	char *res, *o = *old;
	const char *k;
	size_t i, m = 0;

	if (nadd == 0)
		return 0;
	if ((keys = calloc(nadd, sizeof(*keys))) == NULL ||
	    (res = malloc((*nold + nadd) * elem)) == NULL) {
		free(keys);
		return -1;
	}
	for (i = 0; i < nadd; i++)
		keys[i] = (const char *)add + i * elem + key;
	qsort(keys, nadd, sizeof(*keys), cmp_str);
	for (i = 0; i < *nold; i++) {
		k = o + i * elem + key;
		if (bsearch(&k, keys, nadd, sizeof(*keys), cmp_str) == NULL)
			memcpy(res + m++ * elem, o + i * elem, elem);
	}
	memcpy(res + m * elem, add, nadd * elem);
	free(keys);
	free(*old);
	*old = res;
	*nold = m + nadd;
	return 0;
}

/* Switched off for good: too big, or out of memory. */
static void
cache_off(struct ecad_rcache *rc)
{
	pthread_mutex_lock(&rc->lock);
	if (!rc->off)
		log_warn("roster cache off: more than %d records or %d DN "
			 "mappings (or out of memory); roster syncs read the "
			 "database, and are answered 503 while it is down",
		    RCACHE_MAX, RCACHE_MAX_MAPS);
	rc->off = 1;
	rc->loaded = 0;
	free(rc->ch);
	free(rc->maps);
	rc->ch = NULL;
	rc->maps = NULL;
	rc->n = rc->nmaps = 0;
	pthread_mutex_unlock(&rc->lock);
}

void
rcache_refresh(struct ecad_rcache *rc, struct eca_store *rd,
    const char *primary, int64_t current)
{
	struct eca_change *ch = NULL;
	struct eca_dnmap *maps = NULL;
	size_t n = 0, nmaps = 0;
	uint64_t events;
	int64_t since;
	int r;

	if (rc == NULL)
		return;
	pthread_mutex_lock(&rc->lock);
	since = rc->loaded ? rc->version : 0;
	events = rc->events;
	r = rc->off || (rc->loaded && rc->version >= current);
	if (r && rc->loaded)
		rc->synced = events; /* current already */
	pthread_mutex_unlock(&rc->lock);
	/* Another worker filling it does this one's work too. */
	if (r || pthread_mutex_trylock(&rc->fill) != 0)
		return;
	if ((r = fetch_changes(rd, primary, since, &ch, &n)) != 0 ||
	    (r = fetch_maps(rd, primary, since, &maps, &nmaps)) != 0) {
		/* A failed query is tried again on the next roster answer. */
		if (r == -2)
			cache_off(rc);
		goto out;
	}
	pthread_mutex_lock(&rc->lock);
	r = rc->n + n > RCACHE_MAX || rc->nmaps + nmaps > RCACHE_MAX_MAPS ||
	    merge((void **)&rc->ch, &rc->n, ch, n, sizeof(*ch),
		offsetof(struct eca_change, host)) != 0 ||
	    merge((void **)&rc->maps, &rc->nmaps, maps, nmaps, sizeof(*maps),
		offsetof(struct eca_dnmap, subject)) != 0;
	if (!r) {
		rc->loaded = 1;
		rc->synced = events;
		if (current > rc->version)
			rc->version = current;
	}
	pthread_mutex_unlock(&rc->lock);
	if (r)
		cache_off(rc);
out:
	free(ch);
	free(maps);
	pthread_mutex_unlock(&rc->fill);
}

/* The first of n items (version order) with a version above since. */
static size_t
first_after(const void *v, size_t n, size_t elem, size_t off, int64_t since)
{
	size_t lo = 0, hi = n, mid;
	int64_t ver;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		memcpy(&ver, (const char *)v + mid * elem + off, sizeof(ver));
		if (ver <= since)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Copy at most limit items of v from the first after since. */
static void *
slice(const void *v, size_t n, size_t elem, size_t off, int64_t since,
    size_t limit, size_t *k)
{
	size_t i = first_after(v, n, elem, off, since);
	void *out;

	*k = n - i < limit ? n - i : limit;
	if (*k == 0)
		return NULL;
	if ((out = malloc(*k * elem)) != NULL)
		memcpy(out, (const char *)v + i * elem, *k * elem);
	else
		*k = 0;
	return out;
}

void
rcache_changed(struct ecad_rcache *rc)
{
	if (rc == NULL)
		return;
	pthread_mutex_lock(&rc->lock);
	rc->events++;
	pthread_mutex_unlock(&rc->lock);
}

void
rcache_listening(struct ecad_rcache *rc, int up)
{
	if (rc == NULL)
		return;
	pthread_mutex_lock(&rc->lock);
	rc->listening = up;
	rc->events++;
	pthread_mutex_unlock(&rc->lock);
}

int
rcache_page(struct ecad_rcache *rc, int64_t since, size_t limit, int fresh,
    struct rcache_page *pg)
{
	int r = -1;

	memset(pg, 0, sizeof(*pg));
	if (rc == NULL)
		return -1;
	pthread_mutex_lock(&rc->lock);
	if (!rc->loaded || since > rc->version ||
	    (fresh && (!rc->listening || rc->synced != rc->events)))
		goto out;
	if (since < 0)
		since = 0;
	pg->version = rc->version;
	pg->ch = slice(rc->ch, rc->n, sizeof(*rc->ch),
	    offsetof(struct eca_change, version), since, limit, &pg->n);
	pg->maps = slice(rc->maps, rc->nmaps, sizeof(*rc->maps),
	    offsetof(struct eca_dnmap, version), since, limit, &pg->nmaps);
	r = 0;
out:
	pthread_mutex_unlock(&rc->lock);
	return r;
}
