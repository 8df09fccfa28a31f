/* SPDX-License-Identifier: ISC */
/*
 * crl_impl.h - what the three parts of the CRL module share.
 *
 * Private to them; crl.h is the API.
 *
 *	crl.c		the cache: its entries, its directory, offering a
 *			CRL, the background maintenance, list and cleanup
 *	crl_fetch.c	where CRLs come from: ECA_CRL_PATH, and the
 *			distribution points (libcurl)
 *	crl_verify.c	the verdict: OpenSSL's CRL check over the cached
 *			CRLs, the verify callback, the remembered verdicts
 *
 * Locking: c->lock guards the entries, the timers and the remembered
 * verdicts.  Parsing, signature checks and downloads run unlocked; only
 * the final comparison and the swap of an entry's CRL (and the file
 * rename) happen under the lock.  Functions below that take an entry
 * want the lock held; the others take it themselves.
 */
#ifndef ECA_CRL_IMPL_H
#define ECA_CRL_IMPL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <openssl/x509.h>

#include "crl.h"
#include "vcache.h"

/* One CA's CRL in the cache. */
struct ent {
	unsigned long hash;
	X509_CRL *crl;	  /* NULL: none cached */
	time_t attempt;	  /* last fetch a check triggered */
	time_t fetched;	  /* when the CRL was stored (file mtime) */
	char source[512]; /* where the CRL came from */
	/* The cache file as last loaded or looked at (crl_reload_changed). */
	ino_t seen_ino;
	struct timespec seen_mtim;
};

/*
 * A revocation verdict that held: the chain (vcache.h's key: the exact
 * certificates) at one level against one trust store (held, so that its
 * address is not reused while the verdict is kept), with the CRLs the
 * cache held then (gen), inside the time all of them and the chain were
 * valid.  Only clean verdicts (no grace, no fail-open) are kept, so a
 * warning is never lost.
 */
#define RESULT_SLOTS 256

struct result {
	uint8_t key[ECA_VCACHE_KEY_LEN];
	enum eca_crl_check level;
	X509_STORE *trust; /* up-ref'd */
	uint64_t gen;
	int64_t from, until;
	STACK_OF(X509) *full; /* the chain as built, for fetch_due */
	int used;
};

struct eca_crl_cache {
	OSSL_LIB_CTX *libctx;
	pthread_mutex_t lock;
	uint64_t gen; /* grows at every change of a CRL */
	struct result results[RESULT_SLOTS];
	uint64_t hits, misses;
	char *dir;
	char *crl_path;
	int path_sync_hours;
	int refresh_hours;
	int grace_hours;
	int fail_open;
	int no_fetch;
	time_t last_sync;
	struct ent *ents;
	size_t n;
};

/*
 * crl.c
 */

/* name's RFC 2253 form for a message ("" when unprintable). */
void crl_name_str(const X509_NAME *name, char *buf, size_t size);
/* The cache file name's hash of name (X509_NAME_hash_ex); 0 on failure. */
unsigned long crl_name_hash(struct eca_crl_cache *c, const X509_NAME *name);
/* nextUpdate, or 0 if the CRL has none (then it never expires). */
time_t crl_next(X509_CRL *crl);
enum eca_crl_state crl_state(const struct eca_crl_cache *c, X509_CRL *crl,
    time_t now);

/* The entry of hash, or NULL.  Lock held. */
struct ent *crl_ent_find(struct eca_crl_cache *c, unsigned long hash);
/*
 * Is e due for a fetch at now (no CRL, an expired one, or, from the
 * distribution points, one older than ECA_CRL_REFRESH_HOURS), and was
 * none tried in the last ECA_CRL_RETRY_SEC?  Then 1.  Lock held.
 */
int crl_ent_due(const struct eca_crl_cache *c, const struct ent *e, time_t now);
/* The same, and the attempt is recorded, so that one caller fetches. */
int crl_ent_claim(const struct eca_crl_cache *c, struct ent *e, time_t now);
/*
 * The same for syncing ECA_CRL_PATH (0 when there is none), with claim
 * recording it.  Locks.
 */
int crl_sync_due(struct eca_crl_cache *c, time_t now, int claim);

/*
 * Load the cache's file for hash if it is newer than what this process
 * holds (another process stored it).  1 when it loaded the file.
 */
int crl_reload_changed(struct eca_crl_cache *c, unsigned long hash);

/*
 * Offer one CRL: parse, check its signer, store it if newer.  source
 * (may be NULL) names it in the cache.  *stored (may be NULL) as
 * eca_crl_cache_add's.
 */
int crl_add_from(struct eca_crl_cache *c, X509_STORE *trust,
    STACK_OF(X509) *untrusted, const unsigned char *buf, size_t len,
    const char *source, int *stored, struct eca_err *err);

/*
 * crl_fetch.c
 */

/* Does s start with http:// or https:// (any case)? */
int crl_is_http(const char *s);
/* Download url and offer what came (crl_add_from). */
int crl_fetch_add(struct eca_crl_cache *c, X509_STORE *trust,
    STACK_OF(X509) *untrusted, const char *url, long timeout_ms, int *stored,
    struct eca_err *err);
/*
 * The CRL of x's issuer from whichever source is configured: a sync of
 * ECA_CRL_PATH, or x's distribution points.  *added (may be NULL) grows
 * by the CRLs stored.
 */
int crl_fetch_for(struct eca_crl_cache *c, X509_STORE *trust,
    STACK_OF(X509) *untrusted, X509 *x, long timeout_ms, size_t *added,
    struct eca_err *err);

#endif
