/* SPDX-License-Identifier: ISC */
/* test_crl.c - the CRL cache and the revocation verdict. */
#include <dirent.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "crl.h"
#include "crl_impl.h"
#include "testca.h"
#include "x509.h"

#define HOURS(n) (3600L * (n))

static struct testca *ca, *rogue;
static X509 *leaf, *other;
static X509_STORE *trust;

/* One test's cache in a fresh directory. */
struct fix {
	char *dir;
	struct eca_crl_cache *cache;
	STACK_OF(X509) *chain; /* the intermediate */
};

static int
group_setup(void **state)
{
	(void)state;
	ca = testca_new("Crl");
	rogue = testca_new("Rogue");
	testca_leaf(ca, NULL, &leaf, NULL);
	testca_leaf(ca, NULL, &other, NULL);
	if ((trust = X509_STORE_new()) == NULL ||
	    X509_STORE_add_cert(trust, ca->root) != 1)
		return -1;
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	X509_STORE_free(trust);
	X509_free(leaf);
	X509_free(other);
	testca_free(ca);
	testca_free(rogue);
	return 0;
}

static struct fix *
fix_new_refresh(int grace_hours, int fail_open, int no_fetch, int refresh_hours)
{
	struct eca_crl_opts o;
	struct eca_err err;
	struct fix *f;

	assert_non_null(f = calloc(1, sizeof(*f)));
	f->dir = testca_tmpdir();
	memset(&o, 0, sizeof(o));
	o.dir = testca_path(f->dir, "crl");
	o.path_sync_hours = 1;
	o.refresh_hours = refresh_hours;
	o.grace_hours = grace_hours;
	o.fail_open = fail_open;
	o.no_fetch = no_fetch;
	assert_int_equal(eca_crl_cache_new(NULL, &o, &f->cache, &err), 0);
	assert_non_null(f->chain = sk_X509_new_null());
	assert_int_equal(X509_up_ref(ca->inter), 1);
	assert_true(sk_X509_push(f->chain, ca->inter) > 0);
	return f;
}

static struct fix *
fix_new_fetch(int grace_hours, int fail_open, int no_fetch)
{
	return fix_new_refresh(grace_hours, fail_open, no_fetch, 24);
}

/* A cache whose checks never fetch (most tests). */
static struct fix *
fix_new_opts(int grace_hours, int fail_open)
{
	return fix_new_fetch(grace_hours, fail_open, 1);
}

static struct fix *
fix_new(void)
{
	return fix_new_opts(24, 0);
}

static void
fix_free(struct fix *f)
{
	eca_crl_cache_free(f->cache);
	sk_X509_pop_free(f->chain, X509_free);
	testca_rmdir(f->dir);
	free(f);
}

/* Offer crl (PEM or DER); returns the code, *stored as the cache says. */
static int
offer(struct fix *f, X509_CRL *crl, int pem, int *stored, struct eca_err *err)
{
	unsigned char *buf;
	size_t len;
	int r;

	buf = testca_crl_bytes(crl, pem, &len);
	r = eca_crl_cache_add(f->cache, trust, f->chain, buf, len, stored, err);
	free(buf);
	return r;
}

/* The intermediate's CRL listing revoked (n may be 0), stored. */
static void
put_inter_crl(struct fix *f, X509 *const *revoked, size_t n, long next,
    long number)
{
	struct eca_err err;
	X509_CRL *crl;
	int stored = 0;

	crl = testca_crl(ca->inter, ca->int_key, revoked, n, -HOURS(48), next,
	    number);
	assert_int_equal(offer(f, crl, 1, &stored, &err), 0);
	assert_int_equal(stored, 1);
	X509_CRL_free(crl);
}

static void
put_root_crl(struct fix *f, X509 *const *revoked, size_t n)
{
	struct eca_err err;
	X509_CRL *crl;
	int stored = 0;

	crl = testca_crl(ca->root, ca->root_key, revoked, n, -HOURS(1),
	    HOURS(24), 1);
	assert_int_equal(offer(f, crl, 0, &stored, &err), 0);
	assert_int_equal(stored, 1);
	X509_CRL_free(crl);
}

static size_t
count_cached(struct fix *f)
{
	struct eca_crl_info *v = NULL;
	struct eca_err err;
	size_t n = 0;

	assert_int_equal(eca_crl_cache_list(f->cache, 0, &v, &n, &err), 0);
	free(v);
	return n;
}

/*
 * Negative cases
 */

static void
test_crl_with_a_bad_signature_is_refused_from_the_cache(void **state)
{
	struct fix *f = fix_new();
	struct eca_err err;
	X509_CRL *crl;
	int stored = 1;

	(void)state;
	/* The intermediate's name, signed with another key. */
	crl = testca_crl(ca->inter, rogue->int_key, NULL, 0, -HOURS(1),
	    HOURS(24), 1);
	assert_int_equal(offer(f, crl, 1, &stored, &err), ECA_ERR_UNTRUSTED);
	assert_int_equal(stored, 0);
	assert_non_null(strstr(err.msg, "not signed"));
	assert_int_equal(count_cached(f), 0);
	X509_CRL_free(crl);
	fix_free(f);
}

static void
test_crl_of_a_ca_outside_the_trust_store_is_refused(void **state)
{
	struct fix *f = fix_new();
	struct eca_err err;
	STACK_OF(X509) *rchain;
	unsigned char *buf;
	X509_CRL *crl;
	size_t len;
	int stored = 1;

	(void)state;
	/* The rogue intermediate is presented, but chains to no trusted root. */
	assert_non_null(rchain = sk_X509_new_null());
	assert_true(sk_X509_push(rchain, rogue->inter) > 0);
	crl = testca_crl(rogue->inter, rogue->int_key, NULL, 0, -HOURS(1),
	    HOURS(24), 1);
	buf = testca_crl_bytes(crl, 1, &len);
	assert_int_equal(
	    eca_crl_cache_add(f->cache, trust, rchain, buf, len, &stored, &err),
	    ECA_ERR_UNTRUSTED);
	assert_int_equal(stored, 0);
	assert_int_equal(count_cached(f), 0);
	free(buf);
	sk_X509_free(rchain);
	X509_CRL_free(crl);
	fix_free(f);
}

static void
test_garbage_and_der_with_trailing_bytes_are_refused(void **state)
{
	static const unsigned char junk[] = "not a CRL at all";
	struct fix *f = fix_new();
	struct eca_err err;
	unsigned char *buf, *longer;
	X509_CRL *crl;
	size_t len;

	(void)state;
	assert_int_equal(eca_crl_cache_add(f->cache, trust, f->chain, junk,
			     sizeof(junk), NULL, &err),
	    ECA_ERR_PARSE);
	crl = testca_crl(ca->inter, ca->int_key, NULL, 0, -HOURS(1), HOURS(24),
	    1);
	buf = testca_crl_bytes(crl, 0, &len);
	assert_non_null(longer = malloc(len + 1));
	memcpy(longer, buf, len);
	longer[len] = 0;
	assert_int_equal(eca_crl_cache_add(f->cache, trust, f->chain, longer,
			     len + 1, NULL, &err),
	    ECA_ERR_PARSE);
	assert_int_equal(count_cached(f), 0);
	free(longer);
	free(buf);
	X509_CRL_free(crl);
	fix_free(f);
}

static void
test_older_crl_does_not_replace_a_newer_one(void **state)
{
	struct fix *f = fix_new();
	struct eca_crl_info *v = NULL;
	struct eca_err err;
	X509_CRL *older;
	size_t n = 0;
	int stored = 1;

	(void)state;
	put_inter_crl(f, NULL, 0, HOURS(24), 5);
	older = testca_crl(ca->inter, ca->int_key, &leaf, 1, -HOURS(1),
	    HOURS(24), 3);
	assert_int_equal(offer(f, older, 1, &stored, &err), 0);
	assert_int_equal(stored, 0);
	assert_int_equal(eca_crl_cache_list(f->cache, 0, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].number, "5");
	assert_int_equal(v[0].entries, 0);
	/* The leaf listed only in the older CRL is not revoked. */
	assert_int_equal(eca_crl_check(f->cache, trust, leaf, f->chain,
			     ECA_CRL_LEAF, 0, NULL, &err),
	    0);
	free(v);
	X509_CRL_free(older);
	fix_free(f);
}

static void
test_revoked_leaf_at_leaf_is_refused_as_revoked(void **state)
{
	struct fix *f = fix_new();
	struct eca_err err;
	char serial[64];
	BIGNUM *bn;
	char *hex;

	(void)state;
	put_inter_crl(f, &leaf, 1, HOURS(24), 1);
	assert_int_equal(eca_crl_check(f->cache, trust, leaf, f->chain,
			     ECA_CRL_LEAF, 0, NULL, &err),
	    ECA_ERR_REVOKED);
	assert_non_null(
	    bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), NULL));
	assert_non_null(hex = BN_bn2hex(bn));
	snprintf(serial, sizeof(serial), "serial %s", hex);
	assert_non_null(strstr(err.msg, serial));
	assert_non_null(strstr(err.msg, "revoked on"));
	OPENSSL_free(hex);
	BN_free(bn);
	/* Another leaf of the same CA is not. */
	assert_int_equal(eca_crl_check(f->cache, trust, other, f->chain,
			     ECA_CRL_LEAF, 0, NULL, &err),
	    0);
	fix_free(f);
}

static void
test_revoked_intermediate_is_refused_at_chain_and_accepted_at_leaf(void **state)
{
	struct fix *f = fix_new();
	struct eca_err err;

	(void)state;
	put_inter_crl(f, NULL, 0, HOURS(24), 1);
	put_root_crl(f, &ca->inter, 1);
	assert_int_equal(eca_crl_check(f->cache, trust, leaf, f->chain,
			     ECA_CRL_CHAIN, 0, NULL, &err),
	    ECA_ERR_REVOKED);
	assert_non_null(strstr(err.msg, "Issuing CA"));
	assert_int_equal(eca_crl_check(f->cache, trust, leaf, f->chain,
			     ECA_CRL_LEAF, 0, NULL, &err),
	    0);
	fix_free(f);
}

static void
test_chain_without_the_roots_crl_is_crl_unavailable(void **state)
{
	struct fix *f = fix_new();
	struct eca_err err;

	(void)state;
	put_inter_crl(f, NULL, 0, HOURS(24), 1);
	assert_int_equal(eca_crl_check(f->cache, trust, leaf, f->chain,
			     ECA_CRL_CHAIN, 0, NULL, &err),
	    ECA_ERR_CRL_UNAVAILABLE);
	put_root_crl(f, NULL, 0);
	assert_int_equal(eca_crl_check(f->cache, trust, leaf, f->chain,
			     ECA_CRL_CHAIN, 0, NULL, &err),
	    0);
	fix_free(f);
}

static void
test_missing_crl_is_crl_unavailable(void **state)
{
	struct fix *f = fix_new();
	struct eca_err err;

	(void)state;
	assert_int_equal(eca_crl_check(f->cache, trust, leaf, f->chain,
			     ECA_CRL_LEAF, 0, NULL, &err),
	    ECA_ERR_CRL_UNAVAILABLE);
	assert_non_null(strstr(err.msg, "no CRL of"));
	assert_non_null(strstr(err.msg, "ECA_CRL_PATH"));
	fix_free(f);
}

static void
test_crl_expired_past_grace_is_crl_unavailable(void **state)
{
	struct fix *f = fix_new_opts(24, 0);
	struct eca_err err;

	(void)state;
	put_inter_crl(f, NULL, 0, -HOURS(25), 1);
	assert_int_equal(eca_crl_check(f->cache, trust, leaf, f->chain,
			     ECA_CRL_LEAF, 0, NULL, &err),
	    ECA_ERR_CRL_UNAVAILABLE);
	assert_non_null(strstr(err.msg, "ECA_CRL_GRACE_HOURS"));
	fix_free(f);
}

static void
test_revoked_leaf_is_refused_even_with_fail_open(void **state)
{
	struct fix *f = fix_new_opts(0, 1);
	struct eca_err err;

	(void)state;
	put_inter_crl(f, &leaf, 1, HOURS(24), 1);
	assert_int_equal(eca_crl_check(f->cache, trust, leaf, f->chain,
			     ECA_CRL_LEAF, 0, NULL, &err),
	    ECA_ERR_REVOKED);
	fix_free(f);
}

static void
test_check_peer_refuses_revoked_and_fails_closed_without_crls(void **state)
{
	struct fix *f = fix_new();
	struct eca_peer_policy pol;
	struct eca_certinfo info;
	struct eca_err err;

	(void)state;
	put_inter_crl(f, &leaf, 1, HOURS(24), 1);
	memset(&pol, 0, sizeof(pol));
	pol.trust = trust;
	pol.crls = f->cache;
	pol.crl_check = ECA_CRL_LEAF;
	assert_int_equal(
	    eca_x509_check_peer(&pol, leaf, f->chain, NULL, &info, &err),
	    ECA_ERR_REVOKED);
	assert_true(info.fingerprint[0] != '\0');
	/* No cache in the policy: refused, never unchecked. */
	pol.crls = NULL;
	assert_int_equal(
	    eca_x509_check_peer(&pol, other, f->chain, NULL, &info, &err),
	    ECA_ERR_CRL_UNAVAILABLE);
	assert_non_null(strstr(err.msg, "ECA_CRL_CHECK"));
	/* The level DISABLE needs none. */
	pol.crl_check = ECA_CRL_DISABLE;
	assert_int_equal(
	    eca_x509_check_peer(&pol, leaf, f->chain, NULL, &info, &err), 0);
	fix_free(f);
}

static void
test_cleanup_with_an_unknown_or_malformed_hash_fails(void **state)
{
	struct fix *f = fix_new();
	struct eca_err err;
	size_t removed = 9;

	(void)state;
	assert_int_equal(
	    eca_crl_cache_cleanup(f->cache, 0, "zz", 0, &removed, &err),
	    ECA_ERR_USAGE);
	assert_int_equal(
	    eca_crl_cache_cleanup(f->cache, 0, "0badf00d", 0, &removed, &err),
	    ECA_ERR_NOT_FOUND);
	assert_int_equal(removed, 0);
	assert_int_equal(
	    eca_crl_cache_cleanup(f->cache, 0, NULL, 0, &removed, &err),
	    ECA_ERR_USAGE);
	fix_free(f);
}

/*
 * Positive cases
 */

static void
test_crl_expired_in_grace_is_accepted_with_a_warning(void **state)
{
	struct fix *f = fix_new_opts(24, 0);
	struct eca_crl_result res;
	struct eca_crl_info *v = NULL;
	struct eca_err err;
	size_t n = 0;

	(void)state;
	put_inter_crl(f, NULL, 0, -HOURS(2), 1);
	assert_int_equal(eca_crl_check(f->cache, trust, leaf, f->chain,
			     ECA_CRL_LEAF, 0, &res, &err),
	    0);
	assert_int_equal(res.in_grace, 1);
	assert_non_null(strstr(res.note, "grace period"));
	assert_int_equal(eca_crl_cache_list(f->cache, 0, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].state, ECA_CRL_IN_GRACE);
	free(v);
	fix_free(f);
}

static void
test_disable_skips_the_check(void **state)
{
	struct fix *f = fix_new();
	struct eca_err err;

	(void)state;
	put_inter_crl(f, &leaf, 1, HOURS(24), 1);
	assert_int_equal(eca_crl_check(f->cache, trust, leaf, f->chain,
			     ECA_CRL_DISABLE, 0, NULL, &err),
	    0);
	fix_free(f);
}

static void
test_fail_open_accepts_without_a_crl(void **state)
{
	struct fix *f = fix_new_opts(24, 1);
	struct eca_crl_result res;
	struct eca_err err;

	(void)state;
	assert_int_equal(eca_crl_check(f->cache, trust, leaf, f->chain,
			     ECA_CRL_LEAF, 0, &res, &err),
	    0);
	assert_int_equal(res.failed_open, 1);
	assert_non_null(strstr(res.note, "ECA_CRL_FAIL_OPEN"));
	fix_free(f);
}

static void
test_der_and_pem_crls_are_accepted(void **state)
{
	struct fix *f = fix_new();
	struct eca_err err;
	X509_CRL *der, *pem;
	int stored = 0;

	(void)state;
	der = testca_crl(ca->inter, ca->int_key, NULL, 0, -HOURS(2), HOURS(24),
	    1);
	pem = testca_crl(ca->inter, ca->int_key, &leaf, 1, -HOURS(1), HOURS(24),
	    2);
	assert_int_equal(offer(f, der, 0, &stored, &err), 0);
	assert_int_equal(stored, 1);
	assert_int_equal(eca_crl_check(f->cache, trust, leaf, f->chain,
			     ECA_CRL_LEAF, 0, NULL, &err),
	    0);
	assert_int_equal(offer(f, pem, 1, &stored, &err), 0);
	assert_int_equal(stored, 1);
	assert_int_equal(eca_crl_check(f->cache, trust, leaf, f->chain,
			     ECA_CRL_LEAF, 0, NULL, &err),
	    ECA_ERR_REVOKED);
	X509_CRL_free(der);
	X509_CRL_free(pem);
	fix_free(f);
}

/* The entries of dir, but . and .. */
static int
count_files(const char *dir)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	assert_non_null(d = opendir(dir));
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
test_cache_is_persisted_and_reloaded(void **state)
{
	struct fix *f = fix_new();
	struct eca_crl_cache *again = NULL;
	struct eca_crl_opts o;
	struct eca_err err;
	struct stat st;
	char name[32];
	unsigned long h;
	int ok = 0;

	(void)state;
	put_inter_crl(f, &leaf, 1, HOURS(24), 7);
	h = X509_NAME_hash_ex(X509_get_subject_name(ca->inter), NULL, NULL,
	    &ok);
	assert_int_equal(ok, 1);
	snprintf(name, sizeof(name), "crl/%08lx.crl", h);
	assert_int_equal(stat(testca_path(f->dir, name), &st), 0);
	assert_int_equal(st.st_mode & 077, 0);
	/* Written by an atomic replace: no temporary file is left over. */
	assert_int_equal(count_files(testca_path(f->dir, "crl")), 1);
	memset(&o, 0, sizeof(o));
	o.dir = testca_path(f->dir, "crl");
	o.no_fetch = 1;
	o.grace_hours = 24;
	assert_int_equal(eca_crl_cache_new(NULL, &o, &again, &err), 0);
	assert_int_equal(eca_crl_check(again, trust, leaf, f->chain,
			     ECA_CRL_LEAF, 0, NULL, &err),
	    ECA_ERR_REVOKED);
	eca_crl_cache_free(again);
	fix_free(f);
}

static void
test_sync_path_stores_good_crls_and_counts_bad_ones(void **state)
{
	struct eca_crl_cache *c = NULL;
	struct eca_crl_opts o;
	struct eca_err err;
	char *dir;
	X509_CRL *crl;
	size_t added = 0, refused = 0;

	(void)state;
	dir = testca_tmpdir();
	assert_int_equal(mkdir(testca_path(dir, "in"), 0700), 0);
	crl = testca_crl(ca->inter, ca->int_key, &leaf, 1, -HOURS(1), HOURS(24),
	    1);
	testca_write_crl(testca_path(dir, "in/inter.crl"), crl, 0, 0644);
	testca_write_file(testca_path(dir, "in/junk.crl"), "junk", 4, 0644);
	memset(&o, 0, sizeof(o));
	o.dir = testca_path(dir, "cache");
	o.crl_path = testca_path(dir, "in");
	o.no_fetch = 1;
	assert_int_equal(eca_crl_cache_new(NULL, &o, &c, &err), 0);
	assert_int_equal(
	    eca_crl_cache_sync_path(c, trust, NULL, &added, &refused, &err), 0);
	/* The intermediate is not in the trust store: nothing vouches yet. */
	assert_int_equal(added, 0);
	assert_int_equal(refused, 2);
	{
		STACK_OF(X509) *chain = sk_X509_new_null();

		assert_non_null(chain);
		assert_true(sk_X509_push(chain, ca->inter) > 0);
		assert_int_equal(eca_crl_cache_sync_path(c, trust, chain,
				     &added, &refused, &err),
		    0);
		assert_int_equal(added, 1);
		assert_int_equal(refused, 1);
		assert_int_equal(eca_crl_check(c, trust, leaf, chain,
				     ECA_CRL_LEAF, 0, NULL, &err),
		    ECA_ERR_REVOKED);
		sk_X509_free(chain);
	}
	eca_crl_cache_free(c);
	X509_CRL_free(crl);
	testca_rmdir(dir);
}

static void
test_cleanup_removes_expired_crls_and_by_issuer_hash(void **state)
{
	struct fix *f = fix_new_opts(1, 0);
	struct eca_crl_info *v = NULL;
	struct eca_err err;
	char hash[9];
	size_t n = 0, removed = 0;

	(void)state;
	put_inter_crl(f, NULL, 0, -HOURS(5), 1); /* past 1 h grace */
	put_root_crl(f, NULL, 0);
	assert_int_equal(count_cached(f), 2);
	assert_int_equal(
	    eca_crl_cache_cleanup(f->cache, 1, NULL, 0, &removed, &err), 0);
	assert_int_equal(removed, 1);
	assert_int_equal(eca_crl_cache_list(f->cache, 0, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_non_null(strstr(v[0].issuer, "Root CA"));
	snprintf(hash, sizeof(hash), "%s", v[0].hash);
	free(v);
	assert_int_equal(
	    eca_crl_cache_cleanup(f->cache, 0, hash, 0, &removed, &err), 0);
	assert_int_equal(removed, 1);
	assert_int_equal(count_cached(f), 0);
	{
		char name[32];

		snprintf(name, sizeof(name), "crl/%s.crl", hash);
		assert_int_equal(access(testca_path(f->dir, name), F_OK), -1);
	}
	fix_free(f);
}

/*
 * Remembered verdicts
 */

static int
check(struct fix *f, X509 *x, enum eca_crl_check level, time_t now,
    struct eca_crl_result *res)
{
	struct eca_err err;

	return eca_crl_check(f->cache, trust, x, f->chain, level, now, res,
	    &err);
}

static void
expect_hits(struct fix *f, uint64_t hits, uint64_t misses)
{
	uint64_t h, m;

	eca_crl_cache_stats(f->cache, &h, &m);
	assert_int_equal(h, hits);
	assert_int_equal(m, misses);
}

static void
test_refusal_is_never_remembered(void **state)
{
	struct fix *f = fix_new();

	(void)state;
	put_inter_crl(f, &leaf, 1, HOURS(24), 1);
	assert_int_equal(check(f, leaf, ECA_CRL_LEAF, 0, NULL),
	    ECA_ERR_REVOKED);
	assert_int_equal(check(f, leaf, ECA_CRL_LEAF, 0, NULL),
	    ECA_ERR_REVOKED);
	expect_hits(f, 0, 2);
	fix_free(f);
}

static void
test_remembered_verdict_ends_when_a_new_crl_is_stored(void **state)
{
	struct fix *f = fix_new();

	(void)state;
	put_inter_crl(f, NULL, 0, HOURS(24), 1);
	assert_int_equal(check(f, leaf, ECA_CRL_LEAF, 0, NULL), 0);
	assert_int_equal(check(f, leaf, ECA_CRL_LEAF, 0, NULL), 0);
	expect_hits(f, 1, 1);
	put_inter_crl(f, &leaf, 1, HOURS(24), 2);
	assert_int_equal(check(f, leaf, ECA_CRL_LEAF, 0, NULL),
	    ECA_ERR_REVOKED);
	expect_hits(f, 1, 2);
	fix_free(f);
}

static void
test_remembered_verdict_ends_when_its_crl_is_removed(void **state)
{
	struct fix *f = fix_new();
	struct eca_crl_info *v = NULL;
	struct eca_err err;
	char hash[9];
	size_t n = 0, removed = 0;

	(void)state;
	put_inter_crl(f, NULL, 0, HOURS(24), 1);
	assert_int_equal(check(f, leaf, ECA_CRL_LEAF, 0, NULL), 0);
	assert_int_equal(eca_crl_cache_list(f->cache, 0, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	snprintf(hash, sizeof(hash), "%s", v[0].hash);
	free(v);
	assert_int_equal(
	    eca_crl_cache_cleanup(f->cache, 0, hash, 0, &removed, &err), 0);
	assert_int_equal(check(f, leaf, ECA_CRL_LEAF, 0, NULL),
	    ECA_ERR_CRL_UNAVAILABLE);
	fix_free(f);
}

static void
test_remembered_verdict_ends_at_the_crls_next_update(void **state)
{
	struct fix *f = fix_new();
	struct eca_crl_result res;
	time_t later = time(NULL) + HOURS(2);

	(void)state;
	put_inter_crl(f, NULL, 0, HOURS(1), 1);
	assert_int_equal(check(f, leaf, ECA_CRL_LEAF, 0, &res), 0);
	assert_int_equal(res.in_grace, 0);
	/* Past nextUpdate: checked again, accepted in grace, with a note. */
	assert_int_equal(check(f, leaf, ECA_CRL_LEAF, later, &res), 0);
	assert_int_equal(res.in_grace, 1);
	/* ... every time: a verdict in grace is not remembered. */
	assert_int_equal(check(f, leaf, ECA_CRL_LEAF, later, &res), 0);
	assert_int_equal(res.in_grace, 1);
	expect_hits(f, 0, 3);
	fix_free(f);
}

static void
test_levels_are_remembered_apart(void **state)
{
	struct fix *f = fix_new();

	(void)state;
	put_inter_crl(f, NULL, 0, HOURS(24), 1);
	assert_int_equal(check(f, leaf, ECA_CRL_LEAF, 0, NULL), 0);
	/* CHAIN also needs the root's CRL, which is not cached. */
	assert_int_equal(check(f, leaf, ECA_CRL_CHAIN, 0, NULL),
	    ECA_ERR_CRL_UNAVAILABLE);
	/* Nor is another leaf of the same CA answered for the first. */
	assert_int_equal(check(f, other, ECA_CRL_LEAF, 0, NULL), 0);
	expect_hits(f, 0, 3);
	fix_free(f);
}

static void
test_trust_stores_are_remembered_apart(void **state)
{
	struct fix *f = fix_new();
	X509_STORE *reloaded = X509_STORE_new();
	struct eca_err err;

	(void)state;
	/* e.g. after a SIGHUP: the same CA, another store */
	assert_non_null(reloaded);
	assert_int_equal(X509_STORE_add_cert(reloaded, ca->root), 1);
	put_inter_crl(f, NULL, 0, HOURS(24), 1);
	assert_int_equal(check(f, leaf, ECA_CRL_LEAF, 0, NULL), 0);
	assert_int_equal(eca_crl_check(f->cache, reloaded, leaf, f->chain,
			     ECA_CRL_LEAF, 0, NULL, &err),
	    0);
	expect_hits(f, 0, 2);
	assert_int_equal(check(f, leaf, ECA_CRL_LEAF, 0, NULL), 0);
	expect_hits(f, 0, 3);
	X509_STORE_free(reloaded);
	fix_free(f);
}

/*
 * The cache's options from the configuration (eca_crl_opts_from_config)
 */

static void
test_opts_without_state_dir_are_a_config_error(void **state)
{
	struct eca_crl_opts o;
	struct eca_config cfg;
	struct eca_err err;
	char dir[PATH_MAX];

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(
	    eca_crl_opts_from_config(&cfg, dir, sizeof(dir), &o, &err),
	    ECA_ERR_CONFIG);
	assert_null(o.dir);
	assert_int_equal(
	    eca_crl_opts_from_config(NULL, dir, sizeof(dir), &o, &err),
	    ECA_ERR_CONFIG);
}

static void
test_opts_name_state_dir_crl_and_carry_the_crl_keys(void **state)
{
	struct eca_crl_opts o;
	struct eca_config cfg;
	struct eca_err err;
	char dir[PATH_MAX], sd[] = "/var/lib/eca", cp[] = "/srv/crls";

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.state_dir = sd;
	cfg.crl_path = cp;
	cfg.crl_path_sync_hours = 2;
	cfg.crl_refresh_hours = 12;
	cfg.crl_grace_hours = 6;
	cfg.crl_fail_open = 1;
	assert_int_equal(
	    eca_crl_opts_from_config(&cfg, dir, sizeof(dir), &o, &err), 0);
	assert_ptr_equal(o.dir, dir);
	assert_string_equal(o.dir, "/var/lib/eca/crl");
	assert_string_equal(o.crl_path, "/srv/crls");
	assert_int_equal(o.path_sync_hours, 2);
	assert_int_equal(o.refresh_hours, 12);
	assert_int_equal(o.grace_hours, 6);
	assert_int_equal(o.fail_open, 1);
	assert_int_equal(o.no_fetch, 0);
}

/*
 * Background maintenance (eca_crl_cache_maintain)
 */

static void
test_maintain_without_a_cache_is_an_internal_error(void **state)
{
	struct eca_err err;
	size_t added = 7;

	(void)state;
	assert_int_equal(
	    eca_crl_cache_maintain(NULL, trust, NULL, 0, &added, &err),
	    ECA_ERR_INTERNAL);
	assert_int_equal(added, 0);
}

/*
 * Another process (e.g. `eca crl download`, its own cache over the same
 * directory) stores a newer CRL of the intermediate that revokes leaf.
 */
static void
other_process_revokes_leaf(struct fix *f)
{
	struct eca_crl_cache *other_proc = NULL;
	struct eca_crl_opts o;
	struct eca_err err;
	X509_CRL *crl;
	unsigned char *buf;
	size_t len;
	int stored = 0;

	memset(&o, 0, sizeof(o));
	o.dir = testca_path(f->dir, "crl");
	o.no_fetch = 1;
	o.grace_hours = 24;
	assert_int_equal(eca_crl_cache_new(NULL, &o, &other_proc, &err), 0);
	crl = testca_crl(ca->inter, ca->int_key, &leaf, 1, -HOURS(1), HOURS(24),
	    2);
	buf = testca_crl_bytes(crl, 1, &len);
	assert_int_equal(eca_crl_cache_add(other_proc, trust, f->chain, buf,
			     len, &stored, &err),
	    0);
	assert_int_equal(stored, 1);
	free(buf);
	X509_CRL_free(crl);
	eca_crl_cache_free(other_proc);
}

static void
test_maintain_picks_up_a_crl_another_process_stored(void **state)
{
	struct fix *f = fix_new();
	struct eca_err err;
	size_t added = 0;

	(void)state;
	put_inter_crl(f, NULL, 0, HOURS(24), 1);
	assert_int_equal(eca_crl_check(f->cache, trust, leaf, f->chain,
			     ECA_CRL_LEAF, 0, NULL, &err),
	    0);
	other_process_revokes_leaf(f);
	/* unchanged until maintained: no_fetch checks do not look */
	assert_int_equal(eca_crl_check(f->cache, trust, leaf, f->chain,
			     ECA_CRL_LEAF, 0, NULL, &err),
	    0);
	assert_int_equal(
	    eca_crl_cache_maintain(f->cache, trust, f->chain, 0, &added, &err),
	    0);
	assert_int_equal(eca_crl_check(f->cache, trust, leaf, f->chain,
			     ECA_CRL_LEAF, 0, NULL, &err),
	    ECA_ERR_REVOKED);
	/* maintaining again changes nothing */
	assert_int_equal(
	    eca_crl_cache_maintain(f->cache, trust, f->chain, 0, &added, &err),
	    0);
	assert_int_equal(added, 0);
	fix_free(f);
}

static void
test_check_uses_at_once_a_crl_another_process_stored(void **state)
{
	struct fix *f = fix_new_fetch(24, 0, 0);
	struct eca_err err;

	(void)state;
	put_inter_crl(f, NULL, 0, HOURS(24), 1);
	assert_int_equal(eca_crl_check(f->cache, trust, leaf, f->chain,
			     ECA_CRL_LEAF, 0, NULL, &err),
	    0);
	other_process_revokes_leaf(f);
	/*
	 * The check's verification with the old CRL passes, but its look
	 * at the cache directory finds the new one: it verifies again.
	 */
	assert_int_equal(eca_crl_check(f->cache, trust, leaf, f->chain,
			     ECA_CRL_LEAF, 0, NULL, &err),
	    ECA_ERR_REVOKED);
	assert_int_equal(eca_crl_check(f->cache, trust, other, f->chain,
			     ECA_CRL_LEAF, 0, NULL, &err),
	    0);
	fix_free(f);
}

/*
 * Is the intermediate's cached CRL due for a fetch at now?  (What the
 * refresh thread and a check ask, through the claim.)
 */
static int
inter_crl_due(struct fix *f, time_t now)
{
	struct ent *e;

	assert_non_null(
	    e = crl_ent_find(f->cache,
		crl_name_hash(f->cache, X509_get_subject_name(ca->inter))));
	e->attempt = 0;
	return crl_ent_claim(f->cache, e, now);
}

/*
 * ECA_CRL_REFRESH_HOURS = 0 (NetBackup: never refreshed periodically): a
 * current distribution point CRL is never due, however old; an expired
 * one still is, as a missing one would be.
 */
static void
test_refresh_hours_zero_refetches_only_expired_crls(void **state)
{
	struct fix *periodic = fix_new_refresh(24, 0, 1, 24);
	struct fix *never = fix_new_refresh(24, 0, 1, 0);
	time_t now = time(NULL);

	(void)state;
	put_inter_crl(periodic, NULL, 0, HOURS(96), 1);
	put_inter_crl(never, NULL, 0, HOURS(96), 1);
	assert_int_equal(inter_crl_due(periodic, now + HOURS(1)), 0);
	assert_int_equal(inter_crl_due(periodic, now + HOURS(48)), 1);
	assert_int_equal(inter_crl_due(never, now + HOURS(48)), 0);
	assert_int_equal(inter_crl_due(never, now + HOURS(200)), 1);
	fix_free(periodic);
	fix_free(never);
}

/* When the intermediate's CRL was last tried (claimed) for a fetch. */
static time_t
inter_crl_attempt(struct fix *f)
{
	struct ent *e;

	assert_non_null(
	    e = crl_ent_find(f->cache,
		crl_name_hash(f->cache, X509_get_subject_name(ca->inter))));
	return e->attempt;
}

/*
 * A caller that may not wait (ecad's I/O threads) is told where a check
 * would fetch a CRL, remembered verdict or not, and nothing is claimed:
 * the same check by a caller that may wait then tries the fetch.
 */
static void
test_a_check_that_may_not_wait_stops_where_a_fetch_is_due(void **state)
{
	struct fix *f = fix_new_refresh(24, 0, 0, 24);
	uint8_t key[ECA_VCACHE_KEY_LEN];
	time_t now = time(NULL), later = now + HOURS(48), tried;
	struct eca_err err;

	(void)state;
	put_inter_crl(f, NULL, 0, HOURS(96), 1);
	assert_int_equal(eca_vcache_key(leaf, f->chain, key), 0);
	/* Nothing due: checked, and the clean verdict remembered. */
	assert_int_equal(eca_crl_check_keyed(f->cache, trust, leaf, f->chain,
			     key, ECA_CRL_LEAF, now, 1, NULL, &err),
	    0);
	tried = inter_crl_attempt(f);
	/* Two days on, the CRL is due for its refresh. */
	assert_int_equal(eca_crl_check_keyed(f->cache, trust, leaf, f->chain,
			     key, ECA_CRL_LEAF, later, 1, NULL, &err),
	    ECA_ERR_WOULD_WAIT);
	assert_non_null(strstr(err.msg, "due for a fetch"));
	assert_int_equal(eca_crl_check_keyed(f->cache, trust, leaf, f->chain,
			     NULL, ECA_CRL_LEAF, later, 1, NULL, &err),
	    ECA_ERR_WOULD_WAIT);
	assert_int_equal(inter_crl_attempt(f), tried);
	/* Allowed to wait: the fetch is tried (no distribution point). */
	assert_int_equal(eca_crl_check_keyed(f->cache, trust, leaf, f->chain,
			     key, ECA_CRL_LEAF, later, 0, NULL, &err),
	    0);
	assert_int_equal(inter_crl_attempt(f), later);
	fix_free(f);
}

/*
 * A cache over ECA_CRL_PATH = DIR/in (synced every 2 hours, never yet),
 * which holds the intermediate's CRL revoking nothing; *chain: the
 * intermediate.  The caller frees both and removes *dir.
 */
static struct eca_crl_cache *
path_cache(char **dir, STACK_OF(X509) **chain)
{
	struct eca_crl_cache *c = NULL;
	struct eca_crl_opts o;
	struct eca_err err;
	X509_CRL *crl;

	*dir = testca_tmpdir();
	assert_int_equal(mkdir(testca_path(*dir, "in"), 0700), 0);
	crl = testca_crl(ca->inter, ca->int_key, NULL, 0, -HOURS(1), HOURS(24),
	    1);
	testca_write_crl(testca_path(*dir, "in/inter.crl"), crl, 0, 0644);
	X509_CRL_free(crl);
	assert_non_null(*chain = sk_X509_new_null());
	assert_true(sk_X509_push(*chain, ca->inter) > 0);
	memset(&o, 0, sizeof(o));
	o.dir = testca_path(*dir, "cache");
	o.crl_path = testca_path(*dir, "in");
	o.path_sync_hours = 2;
	o.grace_hours = 24;
	assert_int_equal(eca_crl_cache_new(NULL, &o, &c, &err), 0);
	return c;
}

/* The same for ECA_CRL_PATH, due for its first sync. */
static void
test_a_check_that_may_not_wait_stops_where_a_path_sync_is_due(void **state)
{
	struct eca_crl_cache *c;
	struct eca_err err;
	STACK_OF(X509) *chain;
	time_t now = time(NULL);
	char *dir;

	(void)state;
	c = path_cache(&dir, &chain);
	assert_int_equal(eca_crl_check_keyed(c, trust, leaf, chain, NULL,
			     ECA_CRL_LEAF, now, 1, NULL, &err),
	    ECA_ERR_WOULD_WAIT);
	assert_int_equal(c->last_sync, 0);
	/* Allowed to wait: synced, and the leaf checked against its CRL. */
	assert_int_equal(eca_crl_check_keyed(c, trust, leaf, chain, NULL,
			     ECA_CRL_LEAF, now, 0, NULL, &err),
	    0);
	assert_int_equal(c->last_sync, now);
	eca_crl_cache_free(c);
	sk_X509_free(chain);
	testca_rmdir(dir);
}

static void
test_maintain_syncs_crl_path_only_when_it_is_due(void **state)
{
	struct eca_crl_cache *c;
	struct eca_err err;
	X509_CRL *crl;
	STACK_OF(X509) *chain;
	time_t now = time(NULL);
	size_t added = 0;
	char *dir;

	(void)state;
	c = path_cache(&dir, &chain);
	/* never synced: due at once */
	assert_int_equal(
	    eca_crl_cache_maintain(c, trust, chain, now, &added, &err), 0);
	assert_int_equal(added, 1);
	/* a newer CRL revoking the leaf appears in ECA_CRL_PATH */
	crl = testca_crl(ca->inter, ca->int_key, &leaf, 1, -HOURS(1), HOURS(24),
	    2);
	testca_write_crl(testca_path(dir, "in/inter.crl"), crl, 1, 0644);
	X509_CRL_free(crl);
	/* an hour later: not due yet (ECA_CRL_PATH_SYNC_HOURS 2) */
	assert_int_equal(eca_crl_cache_maintain(c, trust, chain, now + HOURS(1),
			     &added, &err),
	    0);
	assert_int_equal(added, 0);
	/* two hours later: synced */
	assert_int_equal(eca_crl_cache_maintain(c, trust, chain,
			     now + HOURS(2) + 1, &added, &err),
	    0);
	assert_int_equal(added, 1);
	assert_int_equal(
	    eca_crl_check(c, trust, leaf, chain, ECA_CRL_LEAF, now, NULL, &err),
	    ECA_ERR_REVOKED);
	eca_crl_cache_free(c);
	sk_X509_free(chain);
	testca_rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
		test_crl_with_a_bad_signature_is_refused_from_the_cache),
	    cmocka_unit_test(
		test_crl_of_a_ca_outside_the_trust_store_is_refused),
	    cmocka_unit_test(
		test_garbage_and_der_with_trailing_bytes_are_refused),
	    cmocka_unit_test(test_older_crl_does_not_replace_a_newer_one),
	    cmocka_unit_test(test_revoked_leaf_at_leaf_is_refused_as_revoked),
	    cmocka_unit_test(
		test_revoked_intermediate_is_refused_at_chain_and_accepted_at_leaf),
	    cmocka_unit_test(
		test_chain_without_the_roots_crl_is_crl_unavailable),
	    cmocka_unit_test(test_missing_crl_is_crl_unavailable),
	    cmocka_unit_test(test_crl_expired_past_grace_is_crl_unavailable),
	    cmocka_unit_test(test_revoked_leaf_is_refused_even_with_fail_open),
	    cmocka_unit_test(
		test_check_peer_refuses_revoked_and_fails_closed_without_crls),
	    cmocka_unit_test(
		test_cleanup_with_an_unknown_or_malformed_hash_fails),
	    cmocka_unit_test(
		test_crl_expired_in_grace_is_accepted_with_a_warning),
	    cmocka_unit_test(test_disable_skips_the_check),
	    cmocka_unit_test(test_fail_open_accepts_without_a_crl),
	    cmocka_unit_test(test_der_and_pem_crls_are_accepted),
	    cmocka_unit_test(test_cache_is_persisted_and_reloaded),
	    cmocka_unit_test(
		test_sync_path_stores_good_crls_and_counts_bad_ones),
	    cmocka_unit_test(
		test_cleanup_removes_expired_crls_and_by_issuer_hash),
	    cmocka_unit_test(test_opts_without_state_dir_are_a_config_error),
	    cmocka_unit_test(
		test_opts_name_state_dir_crl_and_carry_the_crl_keys),
	    cmocka_unit_test(
		test_maintain_without_a_cache_is_an_internal_error),
	    cmocka_unit_test(
		test_maintain_picks_up_a_crl_another_process_stored),
	    cmocka_unit_test(test_maintain_syncs_crl_path_only_when_it_is_due),
	    cmocka_unit_test(
		test_a_check_that_may_not_wait_stops_where_a_fetch_is_due),
	    cmocka_unit_test(
		test_a_check_that_may_not_wait_stops_where_a_path_sync_is_due),
	    cmocka_unit_test(
		test_refresh_hours_zero_refetches_only_expired_crls),
	    cmocka_unit_test(
		test_check_uses_at_once_a_crl_another_process_stored),
	    cmocka_unit_test(test_refusal_is_never_remembered),
	    cmocka_unit_test(
		test_remembered_verdict_ends_when_a_new_crl_is_stored),
	    cmocka_unit_test(
		test_remembered_verdict_ends_when_its_crl_is_removed),
	    cmocka_unit_test(
		test_remembered_verdict_ends_at_the_crls_next_update),
	    cmocka_unit_test(test_levels_are_remembered_apart),
	    cmocka_unit_test(test_trust_stores_are_remembered_apart),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
