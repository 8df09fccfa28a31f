/* SPDX-License-Identifier: ISC */
/* test_vcache.c - chain verifications remembered, and only what is safe. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/x509.h>

#include "testca.h"
#include "vcache.h"
#include "x509.h"

#define PEER "media1.example"

struct fx {
	struct testca *ca;
	X509_STORE *trust;
	STACK_OF(X509) *chain;
	X509 *leaf;
	struct eca_vcache *vc;
	struct eca_peer_policy policy;
};

static X509 *
make_leaf(struct testca *ca, const char *name, long not_after)
{
	struct testca_leaf_opts o;
	X509 *x = NULL;

	memset(&o, 0, sizeof(o));
	o.cn = name;
	o.san = name;
	o.not_after = not_after;
	testca_leaf(ca, &o, &x, NULL);
	return x;
}

static int
setup(void **state)
{
	struct fx *f;

	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->ca = testca_new("Vcache");
	f->trust = X509_STORE_new();
	assert_non_null(f->trust);
	assert_int_equal(X509_STORE_add_cert(f->trust, f->ca->root), 1);
	f->chain = sk_X509_new_null();
	assert_non_null(f->chain);
	assert_true(sk_X509_push(f->chain, f->ca->inter) > 0);
	X509_up_ref(f->ca->inter);
	f->leaf = make_leaf(f->ca, PEER, 0);
	assert_int_equal(eca_vcache_new(f->trust, 64, &f->vc), 0);
	f->policy.trust = f->trust;
	f->policy.identity = ECA_ID_SAN;
	f->policy.vcache = f->vc;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	eca_vcache_free(f->vc);
	X509_free(f->leaf);
	sk_X509_pop_free(f->chain, X509_free);
	X509_STORE_free(f->trust);
	testca_free(f->ca);
	free(f);
	return 0;
}

static int
check(struct fx *f, X509 *leaf, const char *host)
{
	struct eca_certinfo info;
	struct eca_err err;

	eca_err_clear(&err);
	return eca_x509_check_peer(&f->policy, leaf, f->chain, host, &info,
	    &err);
}

static void
expect_stats(struct fx *f, uint64_t hits, uint64_t misses)
{
	uint64_t h, m;

	eca_vcache_stats(f->vc, &h, &m);
	assert_int_equal(h, hits);
	assert_int_equal(m, misses);
}

static void
test_cache_needs_a_trust_store_and_slots(void **state)
{
	struct fx *f = *state;
	struct eca_vcache *c = (struct eca_vcache *)1;

	assert_int_not_equal(eca_vcache_new(NULL, 8, &c), 0);
	assert_null(c);
	assert_int_not_equal(eca_vcache_new(f->trust, 0, &c), 0);
	assert_null(c);
	eca_vcache_free(NULL);
}

static void
test_no_cache_and_unknown_chains_are_misses(void **state)
{
	struct fx *f = *state;
	uint8_t key[ECA_VCACHE_KEY_LEN];

	assert_int_not_equal(eca_vcache_key(NULL, f->chain, key), 0);
	assert_int_not_equal(eca_vcache_key_md(NULL, f->chain, key), 0);
	assert_int_equal(eca_vcache_key(f->leaf, f->chain, key), 0);
	assert_int_equal(eca_vcache_lookup(NULL, f->trust, key, time(NULL)), 0);
	assert_int_equal(eca_vcache_lookup(f->vc, f->trust, key, time(NULL)),
	    0);
	expect_stats(f, 0, 1);
}

static void
test_untrusted_chain_is_never_remembered(void **state)
{
	struct fx *f = *state;
	struct testca *other = testca_new("Other");
	X509 *stranger = make_leaf(other, PEER, 0);

	assert_int_equal(check(f, stranger, PEER), ECA_ERR_UNTRUSTED);
	assert_int_equal(check(f, stranger, PEER), ECA_ERR_UNTRUSTED);
	expect_stats(f, 0, 2);
	X509_free(stranger);
	testca_free(other);
}

static void
test_cached_chain_still_has_its_identity_checked(void **state)
{
	struct fx *f = *state;

	assert_int_equal(check(f, f->leaf, PEER), 0);
	assert_int_equal(check(f, f->leaf, "other.example"),
	    ECA_ERR_IDENTITY_MISMATCH);
	expect_stats(f, 1, 1);
}

static void
test_cached_chain_past_its_window_is_verified_again(void **state)
{
	struct fx *f = *state;

	assert_int_equal(check(f, f->leaf, PEER), 0);
	/* The leaf expires in 30 days: judged 31 days on, it is refused. */
	f->policy.now = time(NULL) + 31L * 86400;
	assert_int_equal(check(f, f->leaf, PEER), ECA_ERR_EXPIRED);
	expect_stats(f, 0, 2);
}

static void
test_window_bounds_are_exact(void **state)
{
	struct fx *f = *state;
	uint8_t key[ECA_VCACHE_KEY_LEN];

	assert_int_equal(eca_vcache_key(f->leaf, f->chain, key), 0);
	eca_vcache_store(f->vc, f->trust, key, 100, 200);
	assert_int_equal(eca_vcache_lookup(f->vc, f->trust, key, 99), 0);
	assert_int_equal(eca_vcache_lookup(f->vc, f->trust, key, 100), 1);
	assert_int_equal(eca_vcache_lookup(f->vc, f->trust, key, 199), 1);
	assert_int_equal(eca_vcache_lookup(f->vc, f->trust, key, 200), 0);
	/* An empty window is not stored. */
	eca_vcache_store(f->vc, f->trust, key, 300, 300);
	assert_int_equal(eca_vcache_lookup(f->vc, f->trust, key, 150), 1);
}

static void
test_another_trust_store_does_not_use_the_cache(void **state)
{
	struct fx *f = *state;
	uint8_t key[ECA_VCACHE_KEY_LEN];
	X509_STORE *other = X509_STORE_new();

	assert_non_null(other);
	assert_int_equal(eca_vcache_key(f->leaf, f->chain, key), 0);
	eca_vcache_store(f->vc, other, key, 0, INT64_MAX);
	assert_int_equal(eca_vcache_lookup(f->vc, f->trust, key, 1), 0);
	eca_vcache_store(f->vc, f->trust, key, 0, INT64_MAX);
	assert_int_equal(eca_vcache_lookup(f->vc, other, key, 1), 0);
	assert_int_equal(eca_vcache_lookup(f->vc, f->trust, key, 1), 1);
	X509_STORE_free(other);
}

static void
test_chain_is_named_by_every_certificate(void **state)
{
	struct fx *f = *state;
	uint8_t with[ECA_VCACHE_KEY_LEN], without[ECA_VCACHE_KEY_LEN];
	uint8_t again[ECA_VCACHE_KEY_LEN], other[ECA_VCACHE_KEY_LEN];
	X509 *second = make_leaf(f->ca, PEER, 0);

	assert_int_equal(eca_vcache_key(f->leaf, f->chain, with), 0);
	assert_int_equal(eca_vcache_key(f->leaf, NULL, without), 0);
	assert_int_equal(eca_vcache_key(f->leaf, f->chain, again), 0);
	assert_int_equal(eca_vcache_key(second, f->chain, other), 0);
	assert_memory_equal(with, again, sizeof(with));
	assert_memory_not_equal(with, without, sizeof(with));
	assert_memory_not_equal(with, other, sizeof(with));
	X509_free(second);
}

static void
test_key_from_the_leafs_fingerprint_is_the_same(void **state)
{
	struct fx *f = *state;
	uint8_t key[ECA_VCACHE_KEY_LEN], from_md[ECA_VCACHE_KEY_LEN];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	assert_int_equal(X509_digest(f->leaf, EVP_sha256(), md, &len), 1);
	assert_int_equal(len, ECA_VCACHE_KEY_LEN);
	assert_int_equal(eca_vcache_key(f->leaf, f->chain, key), 0);
	assert_int_equal(eca_vcache_key_md(md, f->chain, from_md), 0);
	assert_memory_equal(key, from_md, sizeof(key));
	assert_int_equal(eca_vcache_key(f->leaf, NULL, key), 0);
	assert_int_equal(eca_vcache_key_md(md, NULL, from_md), 0);
	assert_memory_equal(key, from_md, sizeof(key));
}

static void
test_verified_chain_is_answered_from_the_cache(void **state)
{
	struct fx *f = *state;

	assert_int_equal(check(f, f->leaf, PEER), 0);
	assert_int_equal(check(f, f->leaf, PEER), 0);
	assert_int_equal(check(f, f->leaf, PEER), 0);
	expect_stats(f, 2, 1);
}

static void
test_full_cache_replaces_the_older_chain(void **state)
{
	struct fx *f = *state;
	struct eca_vcache *one = NULL, *big = f->vc;
	X509 *second = make_leaf(f->ca, "media2.example", 0);

	/* One slot: the second chain takes the first one's place. */
	assert_int_equal(eca_vcache_new(f->trust, 1, &one), 0);
	f->vc = f->policy.vcache = one;
	assert_int_equal(check(f, f->leaf, PEER), 0);
	assert_int_equal(check(f, second, "media2.example"), 0);
	assert_int_equal(check(f, f->leaf, PEER), 0);
	expect_stats(f, 0, 3);
	assert_int_equal(check(f, f->leaf, PEER), 0);
	expect_stats(f, 1, 3);
	f->vc = f->policy.vcache = big;
	eca_vcache_free(one);
	X509_free(second);
}

struct race {
	struct fx *f;
	int ok;
};

static void *
racer(void *arg)
{
	struct race *r = arg;
	int i;

	r->ok = 1;
	for (i = 0; i < 50; i++)
		if (check(r->f, r->f->leaf, PEER) != 0)
			r->ok = 0;
	return NULL;
}

static void
test_threads_share_one_cache(void **state)
{
	struct fx *f = *state;
	struct race r[4];
	pthread_t t[4];
	uint64_t h, m;
	int i;

	for (i = 0; i < 4; i++) {
		r[i].f = f;
		assert_int_equal(pthread_create(&t[i], NULL, racer, &r[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_true(r[i].ok);
	}
	eca_vcache_stats(f->vc, &h, &m);
	assert_int_equal(h + m, 200);
	assert_true(m >= 1 && m <= 4);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	    T(test_cache_needs_a_trust_store_and_slots),
	    T(test_no_cache_and_unknown_chains_are_misses),
	    T(test_untrusted_chain_is_never_remembered),
	    T(test_cached_chain_still_has_its_identity_checked),
	    T(test_cached_chain_past_its_window_is_verified_again),
	    T(test_window_bounds_are_exact),
	    T(test_another_trust_store_does_not_use_the_cache),
	    T(test_chain_is_named_by_every_certificate),
	    T(test_key_from_the_leafs_fingerprint_is_the_same),
	    T(test_verified_chain_is_answered_from_the_cache),
	    T(test_full_cache_replaces_the_older_chain),
	    T(test_threads_share_one_cache),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
