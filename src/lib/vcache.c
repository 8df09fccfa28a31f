/* SPDX-License-Identifier: ISC */
/*
 * vcache.c - chain verifications remembered (vcache.h).
 *
 * Direct-mapped: a key's slot is its first eight bytes modulo the number
 * of slots.  The key is already a SHA-256, so that spreads evenly, and a
 * lookup is one comparison under one short lock.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "util.h"
#include "vcache.h"

struct slot {
	uint8_t key[ECA_VCACHE_KEY_LEN];
	unsigned long flags; /* the trust store's verification flags */
	int64_t not_before;
	int64_t not_after;
	int used;
};

struct eca_vcache {
	pthread_mutex_t lock;
	X509_STORE *trust;
	struct slot *slots;
	size_t nslots;
	uint64_t hits, misses;
};

int
eca_vcache_new(X509_STORE *trust, size_t slots, struct eca_vcache **out)
{
	struct eca_vcache *c = NULL;
	int r = ECA_ERR_INTERNAL;

	*out = NULL;
	if (trust == NULL || slots == 0)
		goto out;
	r = ECA_ERR_NOMEM;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->slots = calloc(slots, sizeof(*c->slots))) == NULL)
		goto out;
	if (pthread_mutex_init(&c->lock, NULL) != 0) {
		free(c->slots);
		free(c);
		c = NULL;
		goto out;
	}
	if (X509_STORE_up_ref(trust) != 1) {
		r = ECA_ERR_INTERNAL;
		goto out;
	}
	c->trust = trust;
	c->nslots = slots;
	*out = c;
	c = NULL;
	r = 0;
out:
	eca_vcache_free(c);
	ERR_clear_error();
	return r;
}

void
eca_vcache_free(struct eca_vcache *c)
{
	if (c == NULL)
		return;
	pthread_mutex_destroy(&c->lock);
	X509_STORE_free(c->trust);
	free(c->slots);
	free(c);
}

int
eca_vcache_key_md(const uint8_t leaf_md[ECA_VCACHE_KEY_LEN],
    STACK_OF(X509) *chain, uint8_t key[ECA_VCACHE_KEY_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0, klen = 0;
	EVP_MD_CTX *ctx = NULL;
	int i, r = ECA_ERR_INTERNAL;

	if (leaf_md == NULL || (ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, eca_util_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, leaf_md, ECA_VCACHE_KEY_LEN) != 1)
		goto out;
	/* The digest of each certificate's DER, in order, after the leaf's. */
	for (i = 0; i < sk_X509_num(chain); i++)
		if (X509_digest(sk_X509_value(chain, i), eca_util_sha256(), md,
			&len) != 1 ||
		    EVP_DigestUpdate(ctx, md, len) != 1)
			goto out;
	if (EVP_DigestFinal_ex(ctx, md, &klen) != 1 ||
	    klen != ECA_VCACHE_KEY_LEN)
		goto out;
	memcpy(key, md, ECA_VCACHE_KEY_LEN);
	r = 0;
out:
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return r;
}

int
eca_vcache_key(X509 *leaf, STACK_OF(X509) *chain,
    uint8_t key[ECA_VCACHE_KEY_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (leaf == NULL ||
	    X509_digest(leaf, eca_util_sha256(), md, &len) != 1 ||
	    len != ECA_VCACHE_KEY_LEN) {
		ERR_clear_error();
		return ECA_ERR_INTERNAL;
	}
	return eca_vcache_key_md(md, chain, key);
}

/*
 * The store's verification flags (ECA_TRUST_PARTIAL_CHAIN among them):
 * a chain that verified with some flags proves nothing under others.
 */
static unsigned long
trust_flags(const X509_STORE *trust)
{
	const X509_VERIFY_PARAM *param;

	if ((param = X509_STORE_get0_param(trust)) == NULL)
		return 0;
	return X509_VERIFY_PARAM_get_flags(param);
}

static struct slot *
slot_of(struct eca_vcache *c, const uint8_t key[ECA_VCACHE_KEY_LEN])
{
	uint64_t h;

	memcpy(&h, key, sizeof(h));
	return &c->slots[h % c->nslots];
}

int
eca_vcache_lookup(struct eca_vcache *c, const X509_STORE *trust,
    const uint8_t key[ECA_VCACHE_KEY_LEN], int64_t now)
{
	struct slot *s;
	unsigned long flags;
	int hit;

	if (c == NULL || trust != c->trust)
		return 0;
	flags = trust_flags(trust);
	pthread_mutex_lock(&c->lock);
	s = slot_of(c, key);
	hit = s->used && memcmp(s->key, key, ECA_VCACHE_KEY_LEN) == 0 &&
	    s->flags == flags && now >= s->not_before && now < s->not_after;
	if (hit)
		c->hits++;
	else
		c->misses++;
	pthread_mutex_unlock(&c->lock);
	return hit;
}

void
eca_vcache_store(struct eca_vcache *c, const X509_STORE *trust,
    const uint8_t key[ECA_VCACHE_KEY_LEN], int64_t not_before,
    int64_t not_after)
{
	struct slot *s;
	unsigned long flags;

	if (c == NULL || trust != c->trust || not_after <= not_before)
		return;
	flags = trust_flags(trust);
	pthread_mutex_lock(&c->lock);
	s = slot_of(c, key);
	memcpy(s->key, key, ECA_VCACHE_KEY_LEN);
	s->flags = flags;
	s->not_before = not_before;
	s->not_after = not_after;
	s->used = 1;
	pthread_mutex_unlock(&c->lock);
}

void
eca_vcache_stats(struct eca_vcache *c, uint64_t *hits, uint64_t *misses)
{
	*hits = *misses = 0;
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	*hits = c->hits;
	*misses = c->misses;
	pthread_mutex_unlock(&c->lock);
}
