/* SPDX-License-Identifier: ISC */
/*
 * crl.h - certificate revocation lists: the local cache and the verdict.
 *
 * The cache lives in a directory (STATE_DIR/crl) and holds the latest CRL
 * of each CA, in a file named after the CA's subject hash
 * (X509_NAME_hash_ex, 8 hex digits) with the suffix ".crl", PEM.
 *
 * A CRL enters the cache only after its signature was checked against its
 * issuer, found in the trust store or among certificates that themselves
 * chain to the trust store; a newer CRL (higher CRL number, else later
 * lastUpdate) replaces an older one, never the reverse.
 *
 * Sources: ECA_CRL_PATH (a directory of PEM or DER CRLs, synced into the
 * cache at start and every ECA_CRL_PATH_SYNC_HOURS) or, when it is not
 * set, the CRL distribution point URIs (http/https) of the certificates,
 * fetched with libcurl and refreshed every ECA_CRL_REFRESH_HOURS.  A CRL
 * that is missing or expired when a certificate is checked triggers a
 * fetch (or path sync) at most once per ECA_CRL_RETRY_SEC per CA.
 *
 * Thread-safe: one mutex guards the cache; fetches run outside it.
 */
#ifndef ECA_CRL_H
#define ECA_CRL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include "certinfo.h"
#include "config.h"
#include "err.h"

#define ECA_CRL_FILE_MAX (16 * 1024 * 1024) /* largest CRL accepted */
#define ECA_CRL_RETRY_SEC (15 * 60)	/* at most one fetch per CA per this */
#define ECA_CRL_FETCH_TIMEOUT_MS 10000L /* one distribution point download */
/*
 * A download a check triggers (on a request's path): short, so that a
 * slow distribution point never holds a request for long; the background
 * refresh (eca_crl_cache_maintain) uses ECA_CRL_FETCH_TIMEOUT_MS.
 */
#define ECA_CRL_CHECK_TIMEOUT_MS 2000L
#define ECA_CRL_MAX_CAS 1024 /* CAs the cache tracks */
#define ECA_CRL_URLS_MAX 4   /* distribution points tried per CA */

struct eca_crl_cache;

struct eca_crl_opts {
	const char *dir;      /* the cache directory; created mode 0700 */
	const char *crl_path; /* ECA_CRL_PATH, or NULL: distribution points */
	int path_sync_hours;  /* ECA_CRL_PATH_SYNC_HOURS (>= 1) */
	int refresh_hours;    /* ECA_CRL_REFRESH_HOURS; 0: not periodic */
	int grace_hours;      /* ECA_CRL_GRACE_HOURS (>= 0) */
	int fail_open;	      /* ECA_CRL_FAIL_OPEN */
	int no_fetch;	      /* never fetch or sync during a check */
};

/*
 * A cache over opts->dir, loading the CRLs already there (files that do
 * not parse are ignored).  opts is copied.  *out is the caller's.
 */
int eca_crl_cache_new(OSSL_LIB_CTX *libctx, const struct eca_crl_opts *opts,
    struct eca_crl_cache **out, struct eca_err *err) ECA_WUR;
/* The same with the options of cfg: STATE_DIR/crl and the ECA_CRL_* keys. */
int eca_crl_cache_open(OSSL_LIB_CTX *libctx, const struct eca_config *cfg,
    struct eca_crl_cache **out, struct eca_err *err) ECA_WUR;
/*
 * Those options, for a caller that changes some before eca_crl_cache_new
 * (the health check: no fetch, no fail-open): the cache directory
 * STATE_DIR/crl is written into dir (size bytes; PATH_MAX will do), which
 * opts->dir then points to; the rest borrows cfg's strings.
 * ECA_ERR_CONFIG when STATE_DIR is not set.
 */
int eca_crl_opts_from_config(const struct eca_config *cfg, char *dir,
    size_t size, struct eca_crl_opts *opts, struct eca_err *err) ECA_WUR;
void eca_crl_cache_free(struct eca_crl_cache *c);

/*
 * Offer one CRL (PEM or DER, len <= ECA_CRL_FILE_MAX) to the cache.  Its
 * issuer must be in trust, or in untrusted (may be NULL) and chain to
 * trust; its signature must verify (ECA_ERR_UNTRUSTED otherwise,
 * ECA_ERR_PARSE for garbage).  *stored (may be NULL) is 1 if it replaced
 * or created the CA's entry, 0 if the cache already held the same or a
 * newer CRL (which is not an error).
 */
int eca_crl_cache_add(struct eca_crl_cache *c, X509_STORE *trust,
    STACK_OF(X509) *untrusted, const unsigned char *buf, size_t len,
    int *stored, struct eca_err *err) ECA_WUR;

/*
 * Sync ECA_CRL_PATH into the cache now: every regular file in it is
 * offered; files that are refused are counted in *refused (may be NULL)
 * and named in err's message, but do not fail the sync.  ECA_ERR_CONFIG
 * if no ECA_CRL_PATH is configured, ECA_ERR_UNREADABLE if it cannot be
 * read.  *added (may be NULL) counts CRLs stored.
 */
int eca_crl_cache_sync_path(struct eca_crl_cache *c, X509_STORE *trust,
    STACK_OF(X509) *untrusted, size_t *added, size_t *refused,
    struct eca_err *err) ECA_WUR;

/*
 * Refresh now, whatever the timers say: from ECA_CRL_PATH when set, else
 * from the distribution points of certs (leaf and intermediates of this
 * host or a peer) and of the CA certificates in trust.  Returns 0 if at
 * least one CRL was fetched or nothing needed fetching; the last failure
 * otherwise.  *added (may be NULL) counts CRLs stored.
 */
int eca_crl_cache_refresh(struct eca_crl_cache *c, X509_STORE *trust,
    X509 *leaf, STACK_OF(X509) *chain, size_t *added,
    struct eca_err *err) ECA_WUR;

/*
 * Background maintenance, for a thread of its own (ecad's), never a
 * request: load the CRLs other processes stored in the cache directory
 * (`eca crl download`), sync ECA_CRL_PATH when ECA_CRL_PATH_SYNC_HOURS
 * have passed since the last sync, and, without ECA_CRL_PATH, fetch again
 * from its distribution point each cached CRL that is expired or older
 * than ECA_CRL_REFRESH_HOURS (at most once per ECA_CRL_RETRY_SEC per CA).
 * With no_fetch, only the first (nothing is synced or downloaded).
 * The new CRL's issuer must be in trust or in untrusted (may be NULL) and
 * chain to trust.  now 0: the current time.  Returns 0, or the last
 * failure (the other CAs were still tried).  *added (may be NULL) counts
 * CRLs stored.
 */
int eca_crl_cache_maintain(struct eca_crl_cache *c, X509_STORE *trust,
    STACK_OF(X509) *untrusted, time_t now, size_t *added,
    struct eca_err *err) ECA_WUR;

/* What a check found besides its verdict. */
struct eca_crl_result {
	int in_grace;	 /* an expired CRL in its grace period was used */
	int failed_open; /* no usable CRL; accepted by ECA_CRL_FAIL_OPEN */
	char note[256];	 /* the warning, when one of the above is set */
};

/*
 * THE revocation verdict for leaf (chain: untrusted intermediates, may be
 * NULL) at level LEAF (the leaf against its issuer's CRL) or CHAIN (every
 * certificate but the root).  DISABLE returns 0 at once.  now 0: the
 * current time.  ECA_ERR_REVOKED names the serial and revocation date;
 * ECA_ERR_CRL_UNAVAILABLE when a CRL is missing, unusable or expired past
 * the grace period (unless fail-open).  result may be NULL.
 *
 * A clean verdict (no grace, no fail-open) is remembered for the exact
 * chain and level while the cache holds the same CRLs and inside the
 * validity of those CRLs and of the chain; a later check of that chain
 * then only looks whether a CRL is due for a fetch or was stored by
 * another process (and checks again if so).  A refusal is never
 * remembered.
 */
int eca_crl_check(struct eca_crl_cache *c, X509_STORE *trust, X509 *leaf,
    STACK_OF(X509) *chain, enum eca_crl_check level, time_t now,
    struct eca_crl_result *result, struct eca_err *err) ECA_WUR;

/*
 * The same, for a caller that already has the chain's key
 * (eca_vcache_key of leaf and chain; NULL: none, nothing remembered).
 * nowait: a caller that must not wait for the network (ecad's I/O
 * threads) gets ECA_ERR_WOULD_WAIT where the check would fetch a CRL or
 * sync ECA_CRL_PATH; nothing is fetched or claimed then, so the same
 * check without nowait (on a thread that may wait) does it.
 */
int eca_crl_check_keyed(struct eca_crl_cache *c, X509_STORE *trust, X509 *leaf,
    STACK_OF(X509) *chain, const uint8_t *key, enum eca_crl_check level,
    time_t now, int nowait, struct eca_crl_result *result,
    struct eca_err *err) ECA_WUR;

/*
 * The cache's generation: it grows whenever a CRL is stored, replaced or
 * removed, in this process (a check that loads a newer file another
 * process stored, the refresh, a download).  A caller that remembers a
 * verdict remembers the generation with it and judges again once it
 * differs.  0 for a NULL cache.
 */
uint64_t eca_crl_cache_gen(struct eca_crl_cache *c);

/* Checks answered from remembered verdicts, and the others. */
void eca_crl_cache_stats(struct eca_crl_cache *c, uint64_t *hits,
    uint64_t *misses);

enum eca_crl_state { ECA_CRL_OK, ECA_CRL_IN_GRACE, ECA_CRL_EXPIRED };

/* One cached CRL, for `eca crl list`. */
struct eca_crl_info {
	char issuer[ECA_DN_MAX]; /* RFC 2253 */
	char hash[9];		 /* the file name's hash */
	int64_t last_update;
	int64_t next_update; /* 0 if the CRL has none */
	char number[64];     /* decimal CRL number, or "" */
	long entries;	     /* revoked certificates listed */
	enum eca_crl_state state;
	char source[512]; /* where it came from, if known */
};

/* The cached CRLs in hash order; *out (caller frees) may be NULL if *n 0. */
int eca_crl_cache_list(struct eca_crl_cache *c, time_t now,
    struct eca_crl_info **out, size_t *n, struct eca_err *err) ECA_WUR;

/*
 * Remove cached CRLs: with expired set, those past nextUpdate plus the
 * grace period; with hash (8 hex digits) set, that CA's.  *removed counts
 * them.  ECA_ERR_NOT_FOUND if hash names no cached CRL.
 */
int eca_crl_cache_cleanup(struct eca_crl_cache *c, int expired,
    const char *hash, time_t now, size_t *removed, struct eca_err *err) ECA_WUR;

const char *eca_crl_state_name(enum eca_crl_state s);

#endif
