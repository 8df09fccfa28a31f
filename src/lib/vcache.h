/* SPDX-License-Identifier: ISC */
/*
 * vcache.h - chain verifications remembered for the peers a host judges.
 *
 * A host judges the same few peers over and over (every backup job opens
 * channels, each one judged on both sides), and verifying a chain costs
 * a signature check per certificate.  The cache remembers that one exact
 * chain, named by the SHA-256 of its certificates' DER encodings (leaf,
 * then the intermediates as sent), verified against one trust store, and
 * the time window in which that stays true: the latest notBefore and the
 * earliest notAfter of the chain as built, trust anchor included.
 *
 * What it does not change: only successes are kept (a refusal is worked
 * out again each time, with its reason); what is remembered is the
 * verification and the path policy on the path it built (x509_policy.c:
 * keys and signatures of every certificate of the path, anchor included,
 * name constraints, the leaf's DNS names), all functions of the chain,
 * the store and its verification flags alone; revocation, the leaf's
 * usage and identity are checked on every call; a different trust store
 * (SIGHUP) is a different cache, and a chain remembered under other
 * verification flags of the store (ECA_TRUST_PARTIAL_CHAIN) is a miss.
 * The handshake has already proved that the peer holds the leaf's key.
 *
 * Bounded: a fixed number of slots, a chain's slot taken from its key, a
 * newer chain replacing an older one there.  Thread-safe.
 */
#ifndef ECA_VCACHE_H
#define ECA_VCACHE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include "err.h"

#define ECA_VCACHE_KEY_LEN 32
#define ECA_VCACHE_SLOTS 1024 /* a host's default */

struct eca_vcache;

/*
 * A cache of slots entries for chains verified against trust (up-ref'd,
 * released by eca_vcache_free).  *out is the caller's.
 */
int eca_vcache_new(X509_STORE *trust, size_t slots,
    struct eca_vcache **out) ECA_WUR;
void eca_vcache_free(struct eca_vcache *c);

/* The key of leaf and chain (may be NULL): 0, or ECA_ERR_INTERNAL. */
int eca_vcache_key(X509 *leaf, STACK_OF(X509) *chain,
    uint8_t key[ECA_VCACHE_KEY_LEN]) ECA_WUR;
/* The same from the leaf's SHA-256 (its fingerprint), already computed. */
int eca_vcache_key_md(const uint8_t leaf_md[ECA_VCACHE_KEY_LEN],
    STACK_OF(X509) *chain, uint8_t key[ECA_VCACHE_KEY_LEN]) ECA_WUR;

/*
 * Did this chain verify against trust, and is now inside its window?
 * 1 yes, 0 no (never seen, replaced, outside the window, or another
 * trust store).  c may be NULL (0).
 */
int eca_vcache_lookup(struct eca_vcache *c, const X509_STORE *trust,
    const uint8_t key[ECA_VCACHE_KEY_LEN], int64_t now);

/* Remember a verification that succeeded, valid from not_before to
 * not_after (Unix times).  Ignored for another trust store or NULL c. */
void eca_vcache_store(struct eca_vcache *c, const X509_STORE *trust,
    const uint8_t key[ECA_VCACHE_KEY_LEN], int64_t not_before,
    int64_t not_after);

/* Lookups answered from the cache, and those that were not. */
void eca_vcache_stats(struct eca_vcache *c, uint64_t *hits, uint64_t *misses);

#endif
