/* SPDX-License-Identifier: ISC */
/* test_health.c - the health check: each broken input fails its own ID. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "health.h"
#include "testca.h"

static const char *const ids[] = {
    "USER_INPUT_CERT_PATH_VALIDATION",
    "USER_INPUT_CERTIFICATES_VALIDATION",
    "USER_INPUT_PRIVATE_KEY_PATH_VALIDATION",
    "USER_INPUT_PASSPHRASE_VALIDATION",
    "USER_INPUT_TRUST_STORE_VALIDATION",
    "USER_INPUT_TRUST_STORE_KEY_STRENGTH_VALIDATION",
    "USER_INPUT_CRL_CONFIG_VALIDATION",
    "KEY_CERT_MATCH_VALIDATION",
    "CERT_CHAIN_VALIDATION",
    "CERT_VALIDITY_VALIDATION",
    "KEY_STRENGTH_VALIDATION",
    "SIGNATURE_ALGORITHM_VALIDATION",
    "KEY_USAGE_VALIDATION",
    "CERT_IDENTITY_VALIDATION",
    "CRL_STATUS_VALIDATION",
};
#define NIDS (sizeof(ids) / sizeof(ids[0]))

/* Everything that depends on the parsed certificate. */
static const char *const cert_dependants[] = {
    "KEY_CERT_MATCH_VALIDATION",
    "CERT_CHAIN_VALIDATION",
    "CERT_VALIDITY_VALIDATION",
    "KEY_STRENGTH_VALIDATION",
    "SIGNATURE_ALGORITHM_VALIDATION",
    "KEY_USAGE_VALIDATION",
    "CERT_IDENTITY_VALIDATION",
};

static struct testca *ca, *rogue;

struct host {
	char *dir;
	struct eca_config cfg;
	char cert[512], key[512], trust[512], pass[512];
	struct eca_health_report rep;
};

static int
group_setup(void **state)
{
	(void)state;
	ca = testca_new("Test");
	rogue = testca_new("Rogue");
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	testca_free(ca);
	testca_free(rogue);
	return 0;
}

/*
 * A host whose files are good apart from what o changes.  The leaf lives a
 * year unless o says otherwise: testca's default of 30 days would fall
 * inside ECA_CERT_EXPIRY_WARN_DAYS = 30 as soon as the clock ticks one
 * second past the signing, and warn in tests that expect none.
 */
static struct host *
host_new(const struct testca_leaf_opts *o)
{
	struct testca_leaf_opts leaf_opts = {.cn = "host1.example",
	    .san = "host1.example"};
	struct host *h;
	EVP_PKEY *key = NULL;
	X509 *leaf = NULL;

	if (o != NULL)
		leaf_opts = *o;
	if (leaf_opts.not_after == 0)
		leaf_opts.not_after = 86400L * 365;
	assert_non_null(h = calloc(1, sizeof(*h)));
	h->dir = testca_tmpdir();
	testca_leaf(ca, &leaf_opts, &leaf, &key);
	testca_write_host(h->dir, ca, leaf, key);
	snprintf(h->cert, sizeof(h->cert), "%s/cert.pem", h->dir);
	snprintf(h->key, sizeof(h->key), "%s/key.pem", h->dir);
	snprintf(h->trust, sizeof(h->trust), "%s/trust.pem", h->dir);
	snprintf(h->pass, sizeof(h->pass), "%s/pass", h->dir);
	h->cfg.path = (char *)"test.conf";
	h->cfg.client_name = (char *)"host1.example";
	h->cfg.cert_path = h->cert;
	h->cfg.key_path = h->key;
	h->cfg.trust_store_path = h->trust;
	h->cfg.crl_check = ECA_CRL_LEAF;
	h->cfg.crl_path_sync_hours = 1;
	h->cfg.crl_refresh_hours = 24;
	h->cfg.identity = ECA_ID_SAN;
	h->cfg.cert_expiry_warn_days = 30;
	X509_free(leaf);
	EVP_PKEY_free(key);
	return h;
}

static void
host_free(struct host *h)
{
	testca_rmdir(h->dir);
	free(h);
}

static int
run(struct host *h)
{
	int r;

	r = eca_health_run(NULL, &h->cfg, &h->rep);
	assert_int_equal(ERR_peek_error(), 0);
	return r;
}

static const struct eca_health_check *
find(const struct eca_health_report *rep, const char *id)
{
	size_t i;

	for (i = 0; i < rep->n; i++)
		if (strcmp(rep->checks[i].id, id) == 0)
			return &rep->checks[i];
	fail_msg("no check %s in the report", id);
	return NULL;
}

static void
expect(const struct eca_health_report *rep, const char *id, int code,
    int skipped)
{
	const struct eca_health_check *c = find(rep, id);

	if (c->code != code || c->skipped != skipped)
		fail_msg("%s: code %s skipped %d, want %s skipped %d (%s)", id,
		    eca_err_name(c->code), c->skipped, eca_err_name(code),
		    skipped, c->detail);
	assert_true(c->detail[0] != '\0');
	assert_non_null(c->title);
}

/*
 * Exactly failed_id (and also_failed, when not NULL) failed with code, the
 * listed IDs were skipped; all the others passed.
 */
static void
expect_only2(const struct eca_health_report *rep, const char *failed_id,
    const char *also_failed, int code, const char *const *skipped,
    size_t nskipped)
{
	size_t i, j;
	int sk, nfailed = 0;

	assert_int_equal(rep->n, NIDS);
	for (i = 0; i < NIDS; i++) {
		assert_string_equal(rep->checks[i].id, ids[i]);
		sk = 0;
		for (j = 0; j < nskipped; j++)
			if (strcmp(ids[i], skipped[j]) == 0)
				sk = 1;
		if (strcmp(ids[i], failed_id) == 0 ||
		    (also_failed != NULL && strcmp(ids[i], also_failed) == 0)) {
			expect(rep, ids[i], code, 0);
			nfailed++;
		} else
			expect(rep, ids[i], 0, sk);
	}
	assert_int_equal(rep->failed, nfailed);
}

static void
expect_only(const struct eca_health_report *rep, const char *failed_id,
    int code, const char *const *skipped, size_t nskipped)
{
	expect_only2(rep, failed_id, NULL, code, skipped, nskipped);
}

static void
assert_detail_has(const struct eca_health_report *rep, const char *id,
    const char *s)
{
	const struct eca_health_check *c = find(rep, id);

	assert_non_null(c);
	if (strstr(c->detail, s) == NULL)
		fail_msg("%s detail \"%s\" lacks \"%s\"", id, c->detail, s);
}

/*
 * Negative cases
 */

static void
test_missing_cert_file_fails_cert_path_and_skips_dependants(void **state)
{
	static const char *const skipped[] = {
	    "USER_INPUT_CERTIFICATES_VALIDATION",
	    "KEY_CERT_MATCH_VALIDATION",
	    "CERT_CHAIN_VALIDATION",
	    "CERT_VALIDITY_VALIDATION",
	    "KEY_STRENGTH_VALIDATION",
	    "SIGNATURE_ALGORITHM_VALIDATION",
	    "KEY_USAGE_VALIDATION",
	    "CERT_IDENTITY_VALIDATION",
	};
	struct host *h = host_new(NULL);

	(void)state;
	assert_int_equal(remove(h->cert), 0);
	assert_int_equal(run(h), ECA_ERR_UNREADABLE);
	expect_only(&h->rep, "USER_INPUT_CERT_PATH_VALIDATION",
	    ECA_ERR_UNREADABLE, skipped, 8);
	assert_detail_has(&h->rep, "USER_INPUT_CERT_PATH_VALIDATION", h->cert);
	host_free(h);
}

static void
test_unset_cert_path_fails_as_configuration(void **state)
{
	struct host *h = host_new(NULL);

	(void)state;
	h->cfg.cert_path = NULL;
	assert_int_equal(run(h), ECA_ERR_CONFIG);
	expect(&h->rep, "USER_INPUT_CERT_PATH_VALIDATION", ECA_ERR_CONFIG, 0);
	assert_detail_has(&h->rep, "USER_INPUT_CERT_PATH_VALIDATION",
	    "ECA_CERT_PATH");
	expect(&h->rep, "USER_INPUT_CERTIFICATES_VALIDATION", 0, 1);
	host_free(h);
}

static void
test_garbage_certificate_fails_certificates_and_skips_dependants(void **state)
{
	struct host *h = host_new(NULL);

	(void)state;
	testca_write_file(h->cert, "garbage\n", 8, 0644);
	assert_int_equal(run(h), ECA_ERR_PARSE);
	expect_only(&h->rep, "USER_INPUT_CERTIFICATES_VALIDATION",
	    ECA_ERR_PARSE, cert_dependants, 7);
	host_free(h);
}

static void
test_group_readable_key_fails_key_path_and_skips_passphrase(void **state)
{
	static const char *const skipped[] = {
	    "USER_INPUT_PASSPHRASE_VALIDATION",
	    "KEY_CERT_MATCH_VALIDATION",
	};
	struct host *h = host_new(NULL);

	(void)state;
	assert_int_equal(chmod(h->key, 0640), 0);
	assert_int_equal(run(h), ECA_ERR_FILE_PERMISSIONS);
	expect_only(&h->rep, "USER_INPUT_PRIVATE_KEY_PATH_VALIDATION",
	    ECA_ERR_FILE_PERMISSIONS, skipped, 2);
	assert_detail_has(&h->rep, "USER_INPUT_PRIVATE_KEY_PATH_VALIDATION",
	    "chmod 600");
	host_free(h);
}

static void
test_wrong_passphrase_fails_passphrase_and_skips_key_match(void **state)
{
	static const char *const skipped[] = {"KEY_CERT_MATCH_VALIDATION"};
	struct host *h = host_new(NULL);
	EVP_PKEY *key = testca_key(TESTCA_RSA2048);

	(void)state;
	testca_write_key(h->key, key, TESTCA_KEY_PEM_ENC, "right", 0600);
	testca_write_file(h->pass, "wrong\n", 6, 0600);
	h->cfg.key_passphrase_file = h->pass;
	assert_int_equal(run(h), ECA_ERR_PASSPHRASE);
	expect_only(&h->rep, "USER_INPUT_PASSPHRASE_VALIDATION",
	    ECA_ERR_PASSPHRASE, skipped, 1);
	assert_detail_has(&h->rep, "USER_INPUT_PASSPHRASE_VALIDATION",
	    "ECA_KEY_PASSPHRASEFILE");
	/* Missing passphrase: the same check fails. */
	h->cfg.key_passphrase_file = NULL;
	assert_int_equal(run(h), ECA_ERR_PASSPHRASE);
	expect(&h->rep, "USER_INPUT_PASSPHRASE_VALIDATION", ECA_ERR_PASSPHRASE,
	    0);
	EVP_PKEY_free(key);
	host_free(h);
}

static void
test_readable_passphrase_file_fails_passphrase_validation(void **state)
{
	struct host *h = host_new(NULL);
	EVP_PKEY *key = testca_key(TESTCA_RSA2048);

	(void)state;
	testca_write_key(h->key, key, TESTCA_KEY_PEM_ENC, "right", 0600);
	testca_write_file(h->pass, "right\n", 6, 0644);
	h->cfg.key_passphrase_file = h->pass;
	assert_int_equal(run(h), ECA_ERR_FILE_PERMISSIONS);
	expect(&h->rep, "USER_INPUT_PASSPHRASE_VALIDATION",
	    ECA_ERR_FILE_PERMISSIONS, 0);
	assert_detail_has(&h->rep, "USER_INPUT_PASSPHRASE_VALIDATION",
	    "chmod 600");
	expect(&h->rep, "KEY_CERT_MATCH_VALIDATION", 0, 1);
	EVP_PKEY_free(key);
	host_free(h);
}

static void
test_empty_trust_store_fails_trust_and_skips_chain(void **state)
{
	static const char *const skipped[] = {"CERT_CHAIN_VALIDATION",
	    "USER_INPUT_TRUST_STORE_KEY_STRENGTH_VALIDATION"};
	struct host *h = host_new(NULL);

	(void)state;
	testca_write_file(h->trust, "", 0, 0644);
	assert_int_equal(run(h), ECA_ERR_PARSE);
	expect_only(&h->rep, "USER_INPUT_TRUST_STORE_VALIDATION", ECA_ERR_PARSE,
	    skipped, 2);
	host_free(h);
}

static void
test_unreadable_crl_path_fails_crl_config(void **state)
{
	struct host *h = host_new(NULL);
	char crl[600];

	(void)state;
	snprintf(crl, sizeof(crl), "%s/no-such-crl-dir", h->dir);
	h->cfg.crl_path = crl;
	assert_int_equal(run(h), ECA_ERR_UNREADABLE);
	expect_only(&h->rep, "USER_INPUT_CRL_CONFIG_VALIDATION",
	    ECA_ERR_UNREADABLE, NULL, 0);
	h->cfg.crl_path = NULL;
	h->cfg.crl_refresh_hours = -1;
	assert_int_equal(run(h), ECA_ERR_CONFIG);
	expect(&h->rep, "USER_INPUT_CRL_CONFIG_VALIDATION", ECA_ERR_CONFIG, 0);
	host_free(h);
}

static void
test_key_of_another_certificate_fails_key_match(void **state)
{
	struct host *h = host_new(NULL);
	EVP_PKEY *other = testca_key(TESTCA_EC_P256);

	(void)state;
	testca_write_key(h->key, other, TESTCA_KEY_PEM, NULL, 0600);
	assert_int_equal(run(h), ECA_ERR_KEY_MISMATCH);
	expect_only(&h->rep, "KEY_CERT_MATCH_VALIDATION", ECA_ERR_KEY_MISMATCH,
	    NULL, 0);
	EVP_PKEY_free(other);
	host_free(h);
}

static void
test_untrusted_issuer_fails_chain_validation(void **state)
{
	struct host *h = host_new(NULL);

	(void)state;
	testca_write_pem(h->trust, &rogue->root, 1, 0644);
	assert_int_equal(run(h), ECA_ERR_UNTRUSTED);
	expect_only(&h->rep, "CERT_CHAIN_VALIDATION", ECA_ERR_UNTRUSTED, NULL,
	    0);
	assert_detail_has(&h->rep, "CERT_CHAIN_VALIDATION",
	    "ECA_TRUST_STORE_PATH");
	host_free(h);
}

static void
test_expired_certificate_fails_chain_and_validity(void **state)
{
	struct testca_leaf_opts o = {.cn = "host1.example",
	    .san = "host1.example",
	    .not_before = -72000,
	    .not_after = -3600};
	struct host *h = host_new(&o);

	(void)state;
	assert_int_equal(run(h), ECA_ERR_EXPIRED);
	/* Issue 15: the chain is judged now, as peers judge it. */
	expect_only2(&h->rep, "CERT_CHAIN_VALIDATION",
	    "CERT_VALIDITY_VALIDATION", ECA_ERR_EXPIRED, NULL, 0);
	assert_detail_has(&h->rep, "CERT_VALIDITY_VALIDATION", "renew");
	host_free(h);
}

static void
test_not_yet_valid_certificate_fails_validity(void **state)
{
	struct testca_leaf_opts o = {.cn = "host1.example",
	    .san = "host1.example",
	    .not_before = 86400,
	    .not_after = 86400L * 60};
	struct host *h = host_new(&o);

	(void)state;
	assert_int_equal(run(h), ECA_ERR_NOT_YET_VALID);
	expect_only2(&h->rep, "CERT_CHAIN_VALIDATION",
	    "CERT_VALIDITY_VALIDATION", ECA_ERR_NOT_YET_VALID, NULL, 0);
	host_free(h);
}

static void
test_rsa1024_key_fails_key_strength(void **state)
{
	struct testca_leaf_opts o = {.keytype = TESTCA_RSA1024,
	    .cn = "host1.example",
	    .san = "host1.example"};
	struct host *h = host_new(&o);

	(void)state;
	assert_int_equal(run(h), ECA_ERR_WEAK_KEY);
	expect_only2(&h->rep, "CERT_CHAIN_VALIDATION",
	    "KEY_STRENGTH_VALIDATION", ECA_ERR_WEAK_KEY, NULL, 0);
	host_free(h);
}

/*
 * Issue 15: a weak root in the trust store fails its own check, naming the
 * file and the certificate, even when this host's chain does not use it.
 */
static void
test_weak_trust_anchor_fails_trust_store_key_strength(void **state)
{
	struct testca_ca_opts co = {.keys_set = 1,
	    .root_key = TESTCA_RSA1024,
	    .int_key = TESTCA_EC_P256};
	struct testca *weak = testca_new_opts("Weak", &co);
	X509 *both[2];
	struct host *h = host_new(NULL);

	(void)state;
	both[0] = ca->root;
	both[1] = weak->root;
	testca_write_pem(h->trust, both, 2, 0644);
	assert_int_equal(run(h), ECA_ERR_WEAK_KEY);
	expect_only(&h->rep, "USER_INPUT_TRUST_STORE_KEY_STRENGTH_VALIDATION",
	    ECA_ERR_WEAK_KEY, NULL, 0);
	assert_detail_has(&h->rep,
	    "USER_INPUT_TRUST_STORE_KEY_STRENGTH_VALIDATION", h->trust);
	assert_detail_has(&h->rep,
	    "USER_INPUT_TRUST_STORE_KEY_STRENGTH_VALIDATION", "Weak Root CA");
	assert_detail_has(&h->rep,
	    "USER_INPUT_TRUST_STORE_KEY_STRENGTH_VALIDATION", "RSA 1024");
	host_free(h);
	testca_free(weak);
}

/*
 * Issue 15: an expired root fails the chain check now, as enrollment
 * does, though every certificate in the file is valid.
 */
static void
test_expired_root_fails_chain_validation(void **state)
{
	struct testca_ca_opts co = {.root_not_before = -86400L * 30,
	    .root_not_after = -60};
	struct testca *old = testca_new_opts("Old", &co);
	struct testca_leaf_opts o = {.cn = "host1.example",
	    .san = "host1.example",
	    .not_before = -86400L * 20,
	    .not_after = 86400L * 2};
	struct host *h = host_new(NULL);
	EVP_PKEY *key = NULL;
	X509 *leaf = NULL;

	(void)state;
	testca_leaf(old, &o, &leaf, &key);
	testca_write_host(h->dir, old, leaf, key);
	assert_int_equal(run(h), ECA_ERR_EXPIRED);
	expect_only(&h->rep, "CERT_CHAIN_VALIDATION", ECA_ERR_EXPIRED, NULL, 0);
	assert_detail_has(&h->rep, "CERT_CHAIN_VALIDATION", "Old Root CA");
	X509_free(leaf);
	EVP_PKEY_free(key);
	host_free(h);
	testca_free(old);
}

static void
test_sha1_signature_fails_signature_algorithm(void **state)
{
	struct testca_leaf_opts o = {.sha1 = 1,
	    .cn = "host1.example",
	    .san = "host1.example"};
	struct host *h = host_new(&o);

	(void)state;
	assert_int_equal(run(h), ECA_ERR_WEAK_SIGNATURE);
	expect_only2(&h->rep, "CERT_CHAIN_VALIDATION",
	    "SIGNATURE_ALGORITHM_VALIDATION", ECA_ERR_WEAK_SIGNATURE, NULL, 0);
	host_free(h);
}

static void
test_ca_leaf_fails_key_usage(void **state)
{
	struct testca_leaf_opts o = {.ca = 1,
	    .cn = "host1.example",
	    .san = "host1.example"};
	struct host *h = host_new(&o);

	(void)state;
	assert_int_equal(run(h), ECA_ERR_BAD_KEY_USAGE);
	expect(&h->rep, "KEY_USAGE_VALIDATION", ECA_ERR_BAD_KEY_USAGE, 0);
	expect(&h->rep, "CERT_IDENTITY_VALIDATION", 0, 0);
	host_free(h);
}

static void
test_code_signing_eku_fails_key_usage(void **state)
{
	struct testca_leaf_opts o = {.eku = TESTCA_EKU_CODESIGN,
	    .cn = "host1.example",
	    .san = "host1.example"};
	struct host *h = host_new(&o);

	(void)state;
	/* Chain verification checks the purpose too, and says so first. */
	assert_int_equal(run(h), ECA_ERR_BAD_KEY_USAGE);
	expect(&h->rep, "CERT_CHAIN_VALIDATION", ECA_ERR_BAD_KEY_USAGE, 0);
	expect(&h->rep, "KEY_USAGE_VALIDATION", ECA_ERR_BAD_KEY_USAGE, 0);
	assert_int_equal(h->rep.failed, 2);
	host_free(h);
}

static void
test_other_host_name_fails_identity(void **state)
{
	struct host *h = host_new(NULL);

	(void)state;
	h->cfg.client_name = (char *)"host2.example";
	assert_int_equal(run(h), ECA_ERR_IDENTITY_MISMATCH);
	expect_only(&h->rep, "CERT_IDENTITY_VALIDATION",
	    ECA_ERR_IDENTITY_MISMATCH, NULL, 0);
	assert_detail_has(&h->rep, "CERT_IDENTITY_VALIDATION", "host2.example");
	assert_detail_has(&h->rep, "CERT_IDENTITY_VALIDATION", "SAN");
	/*
	 * Under the DN rule the subject names the host only through the
	 * primary's mapping, which the health check cannot see: it says so.
	 */
	h->cfg.client_name = (char *)"host1.example";
	h->cfg.identity = ECA_ID_DN;
	assert_int_equal(run(h), 0);
	assert_detail_has(&h->rep, "CERT_IDENTITY_VALIDATION", "eca map list");
	h->cfg.client_name = NULL;
	assert_int_equal(run(h), ECA_ERR_CONFIG);
	expect(&h->rep, "CERT_IDENTITY_VALIDATION", ECA_ERR_CONFIG, 0);
	host_free(h);
}

/*
 * Positive cases
 */

static void
test_good_config_passes_every_check(void **state)
{
	struct host *h = host_new(NULL);
	size_t i;

	(void)state;
	assert_int_equal(run(h), 0);
	expect_only(&h->rep, "", 0, NULL, 0);
	for (i = 0; i < h->rep.n; i++)
		assert_true(strlen(h->rep.checks[i].title) > 0);
	assert_detail_has(&h->rep, "USER_INPUT_CERT_PATH_VALIDATION", h->cert);
	assert_detail_has(&h->rep, "USER_INPUT_CERTIFICATES_VALIDATION",
	    "CN=host1.example");
	assert_detail_has(&h->rep, "USER_INPUT_CERTIFICATES_VALIDATION",
	    "fingerprint");
	assert_detail_has(&h->rep, "CERT_VALIDITY_VALIDATION", "valid until");
	assert_detail_has(&h->rep, "KEY_STRENGTH_VALIDATION", "RSA 2048");
	assert_detail_has(&h->rep, "CERT_IDENTITY_VALIDATION", "host1.example");
	host_free(h);
}

static void
test_certificate_expiring_soon_passes_with_a_warning(void **state)
{
	struct testca_leaf_opts o = {.cn = "host1.example",
	    .san = "host1.example",
	    .not_after = 86400L * 10};
	struct host *h = host_new(&o);

	(void)state;
	assert_int_equal(run(h), 0);
	expect(&h->rep, "CERT_VALIDITY_VALIDATION", 0, 0);
	assert_detail_has(&h->rep, "CERT_VALIDITY_VALIDATION", "WARNING");
	assert_int_equal(h->rep.failed, 0);
	assert_int_equal(h->rep.warned, 1);
	assert_true(find(&h->rep, "CERT_VALIDITY_VALIDATION")->warned);
	host_free(h);
}

static void
test_expiry_warning_off_with_zero_warn_days(void **state)
{
	struct testca_leaf_opts o = {.cn = "host1.example",
	    .san = "host1.example",
	    .not_after = 86400L * 10};
	struct host *h = host_new(&o);

	(void)state;
	h->cfg.cert_expiry_warn_days = 0;
	assert_int_equal(run(h), 0);
	assert_detail_has(&h->rep, "CERT_VALIDITY_VALIDATION", "valid until");
	assert_int_equal(h->rep.warned, 0);
	host_free(h);
}

static void
test_expiry_beyond_warn_days_is_no_warning(void **state)
{
	struct testca_leaf_opts o = {.cn = "host1.example",
	    .san = "host1.example",
	    .not_after = 86400L * 10};
	struct host *h = host_new(&o);

	(void)state;
	h->cfg.cert_expiry_warn_days = 5;
	assert_int_equal(run(h), 0);
	assert_int_equal(h->rep.warned, 0);
	host_free(h);
}

/* The roll-up of GET /v1/health and `eca health`. */
static void
test_level_names_parse_back_and_others_do_not(void **state)
{
	enum eca_health_level l = ECA_HEALTH_OK;

	(void)state;
	assert_int_equal(eca_health_level_parse(NULL, &l), ECA_ERR_PROTOCOL);
	assert_int_equal(eca_health_level_parse("", &l), ECA_ERR_PROTOCOL);
	assert_int_equal(eca_health_level_parse("OK", &l), ECA_ERR_PROTOCOL);
	assert_int_equal(eca_health_level_parse("unknown", &l),
	    ECA_ERR_PROTOCOL);
	assert_int_equal(eca_health_level_parse("critical", &l), 0);
	assert_int_equal(l, ECA_HEALTH_CRITICAL);
	assert_int_equal(eca_health_level_parse("warn", &l), 0);
	assert_int_equal(l, ECA_HEALTH_WARN);
	assert_int_equal(eca_health_level_parse("ok", &l), 0);
	assert_int_equal(l, ECA_HEALTH_OK);
	assert_string_equal(eca_health_level_name((enum eca_health_level)7),
	    "unknown");
}

static void
test_worst_level_wins(void **state)
{
	(void)state;
	assert_int_equal(eca_health_worst(ECA_HEALTH_OK, ECA_HEALTH_OK),
	    ECA_HEALTH_OK);
	assert_int_equal(eca_health_worst(ECA_HEALTH_WARN, ECA_HEALTH_OK),
	    ECA_HEALTH_WARN);
	assert_int_equal(eca_health_worst(ECA_HEALTH_WARN, ECA_HEALTH_CRITICAL),
	    ECA_HEALTH_CRITICAL);
	assert_int_equal(eca_health_worst(ECA_HEALTH_CRITICAL, ECA_HEALTH_OK),
	    ECA_HEALTH_CRITICAL);
}

static void
test_certificate_level_expired_critical_soon_warn(void **state)
{
	const int64_t now = 1800000000, day = 86400;

	(void)state;
	assert_int_equal(eca_health_cert_level(now - 1, now, 30),
	    ECA_HEALTH_CRITICAL);
	assert_int_equal(eca_health_cert_level(now, now, 30),
	    ECA_HEALTH_CRITICAL);
	assert_int_equal(eca_health_cert_level(now, now, 0),
	    ECA_HEALTH_CRITICAL);
	assert_int_equal(eca_health_cert_level(now + 10 * day, now, 30),
	    ECA_HEALTH_WARN);
	assert_int_equal(eca_health_cert_level(now + 30 * day - 1, now, 30),
	    ECA_HEALTH_WARN);
	assert_int_equal(eca_health_cert_level(now + 30 * day, now, 30),
	    ECA_HEALTH_OK);
	assert_int_equal(eca_health_cert_level(now + 1, now, 0), ECA_HEALTH_OK);
}

static void
test_writer_level_failed_or_stuck_critical_slow_warn(void **state)
{
	(void)state;
	assert_int_equal(eca_health_writer_level(0, 0, 0), ECA_HEALTH_CRITICAL);
	assert_int_equal(eca_health_writer_level(1, 1, 0), ECA_HEALTH_CRITICAL);
	assert_int_equal(
	    eca_health_writer_level(1, 0, ECA_HEALTH_QUEUE_CRIT_SEC + 1),
	    ECA_HEALTH_CRITICAL);
	assert_int_equal(
	    eca_health_writer_level(1, 0, ECA_HEALTH_QUEUE_WARN_SEC + 1),
	    ECA_HEALTH_WARN);
	assert_int_equal(
	    eca_health_writer_level(1, 0, ECA_HEALTH_QUEUE_WARN_SEC),
	    ECA_HEALTH_OK);
	assert_int_equal(eca_health_writer_level(1, 0, 0), ECA_HEALTH_OK);
}

/* Refusals first: too old, never synced; then the ok window. */
static void
test_roster_level_follows_its_age(void **state)
{
	const int64_t now = 1800000000;

	(void)state;
	/* Older than ECA_ROSTER_MAX_AGE: channels refused ROSTER_STALE. */
	assert_int_equal(
	    eca_health_roster_level(now - 3601, now - 9000, now, 300, 3600),
	    ECA_HEALTH_CRITICAL);
	/* Never synced: aged from the start. */
	assert_int_equal(eca_health_roster_level(0, now - 3601, now, 300, 3600),
	    ECA_HEALTH_CRITICAL);
	assert_int_equal(eca_health_roster_level(0, now - 901, now, 300, 3600),
	    ECA_HEALTH_WARN);
	assert_int_equal(eca_health_roster_level(0, now - 5, now, 300, 3600),
	    ECA_HEALTH_OK);
	/* More than three sync periods, within the maximum age. */
	assert_int_equal(
	    eca_health_roster_level(now - 901, now - 9000, now, 300, 3600),
	    ECA_HEALTH_WARN);
	assert_int_equal(
	    eca_health_roster_level(now - 900, now - 9000, now, 300, 3600),
	    ECA_HEALTH_OK);
	/* No maximum age configured: only the sync periods count. */
	assert_int_equal(
	    eca_health_roster_level(now - 100000, now - 200000, now, 300, 0),
	    ECA_HEALTH_WARN);
}

static void
test_crl_level_follows_the_cache_state(void **state)
{
	(void)state;
	assert_int_equal(eca_health_crl_level(ECA_CRL_EXPIRED),
	    ECA_HEALTH_CRITICAL);
	assert_int_equal(eca_health_crl_level(ECA_CRL_IN_GRACE),
	    ECA_HEALTH_WARN);
	assert_int_equal(eca_health_crl_level(ECA_CRL_OK), ECA_HEALTH_OK);
}

static void
test_exit_codes_are_the_monitoring_plugins(void **state)
{
	(void)state;
	assert_int_equal(eca_health_exit_code(ECA_HEALTH_OK), 0);
	assert_int_equal(eca_health_exit_code(ECA_HEALTH_WARN), 1);
	assert_int_equal(eca_health_exit_code(ECA_HEALTH_CRITICAL), 2);
	assert_int_equal(eca_health_exit_code((enum eca_health_level)9),
	    ECA_HEALTH_EXIT_UNKNOWN);
	assert_int_equal(ECA_HEALTH_EXIT_UNKNOWN, 3);
}

static void
test_encrypted_key_and_hashed_trust_dir_pass(void **state)
{
	struct testca_leaf_opts o = {.keytype = TESTCA_EC_P256,
	    .cn = "host1.example",
	    .san = "host1.example"};
	struct host *h = host_new(&o);
	char hdir[600];
	EVP_PKEY *key = NULL;
	X509 *leaf = NULL;
	X509 *chain[2];

	(void)state;
	/* Re-issue with a key we hold, so we can write it encrypted. */
	testca_leaf(ca, &o, &leaf, &key);
	chain[0] = leaf;
	chain[1] = ca->inter;
	testca_write_p7(h->cert, chain, 2, 0, 0644);
	testca_write_key(h->key, key, TESTCA_KEY_DER_ENC, "pw", 0600);
	testca_write_file(h->pass, "pw\n", 3, 0600);
	h->cfg.key_passphrase_file = h->pass;
	snprintf(hdir, sizeof(hdir), "%s/cas", h->dir);
	testca_write_hashdir(hdir, ca->root);
	h->cfg.trust_store_path = hdir;
	h->cfg.identity = ECA_ID_CN;
	assert_int_equal(run(h), 0);
	expect_only(&h->rep, "", 0, NULL, 0);
	assert_detail_has(&h->rep, "USER_INPUT_TRUST_STORE_VALIDATION",
	    "directory");
	assert_detail_has(&h->rep, "KEY_STRENGTH_VALIDATION", "EC P-256");
	X509_free(leaf);
	EVP_PKEY_free(key);
	host_free(h);
}

/*
 * CRL_STATUS_VALIDATION: this host's certificate against its CRL cache.
 */

#define HOURS(n) (3600L * (n))

/*
 * Give h a STATE_DIR whose CRL cache holds the intermediate's CRL (made
 * with lastUpdate/nextUpdate relative to now), revoking h's certificate
 * if revoke is set; no CRL at all if crl is 0.
 */
static void
host_crl(struct host *h, int crl, int revoke, long last, long next)
{
	static char state[600];
	char name[64];
	unsigned long hash;
	X509_CRL *x = NULL;
	X509 *leaf = NULL;
	FILE *fp;
	int ok = 0;

	snprintf(state, sizeof(state), "%s/state", h->dir);
	assert_int_equal(mkdir(state, 0700), 0);
	assert_int_equal(mkdir(testca_path(state, "crl"), 0700), 0);
	h->cfg.state_dir = state;
	h->cfg.crl_grace_hours = 24;
	if (!crl)
		return;
	assert_non_null(fp = fopen(h->cert, "r"));
	assert_non_null(leaf = PEM_read_X509(fp, NULL, NULL, NULL));
	fclose(fp);
	x = testca_crl(ca->inter, ca->int_key, &leaf, revoke ? 1 : 0, last,
	    next, 1);
	hash = X509_NAME_hash_ex(X509_get_subject_name(ca->inter), NULL, NULL,
	    &ok);
	assert_int_equal(ok, 1);
	snprintf(name, sizeof(name), "crl/%08lx.crl", hash);
	testca_write_crl(testca_path(state, name), x, 1, 0600);
	X509_CRL_free(x);
	X509_free(leaf);
}

static void
test_revoked_own_certificate_fails_crl_status(void **state)
{
	struct host *h = host_new(NULL);

	(void)state;
	host_crl(h, 1, 1, -HOURS(1), HOURS(24));
	assert_int_equal(run(h), ECA_ERR_REVOKED);
	expect_only(&h->rep, "CRL_STATUS_VALIDATION", ECA_ERR_REVOKED, NULL, 0);
	assert_detail_has(&h->rep, "CRL_STATUS_VALIDATION", "revoked");
	host_free(h);
}

static void
test_crl_expired_past_grace_fails_crl_status(void **state)
{
	struct host *h = host_new(NULL);

	(void)state;
	host_crl(h, 1, 0, -HOURS(72), -HOURS(48));
	assert_int_equal(run(h), ECA_ERR_CRL_UNAVAILABLE);
	expect_only(&h->rep, "CRL_STATUS_VALIDATION", ECA_ERR_CRL_UNAVAILABLE,
	    NULL, 0);
	host_free(h);
}

static void
test_crl_status_is_skipped_when_the_chain_is_untrusted(void **state)
{
	static const char *const skipped[] = {"CRL_STATUS_VALIDATION"};
	struct host *h = host_new(NULL);

	(void)state;
	host_crl(h, 1, 1, -HOURS(1), HOURS(24));
	testca_write_pem(h->trust, &rogue->root, 1, 0644);
	assert_int_equal(run(h), ECA_ERR_UNTRUSTED);
	expect_only(&h->rep, "CERT_CHAIN_VALIDATION", ECA_ERR_UNTRUSTED,
	    skipped, 1);
	host_free(h);
}

/* A new host has no CRL until its first check: a note, not a warning. */
static void
test_no_cached_crl_passes_crl_status_with_a_note(void **state)
{
	struct host *h = host_new(NULL);

	(void)state;
	host_crl(h, 0, 0, 0, 0);
	assert_int_equal(run(h), 0);
	expect_only(&h->rep, "", 0, NULL, 0);
	assert_detail_has(&h->rep, "CRL_STATUS_VALIDATION", "NOTE");
	assert_detail_has(&h->rep, "CRL_STATUS_VALIDATION", "no CRL");
	assert_int_equal(h->rep.warned, 0);
	host_free(h);
}

static void
test_crl_in_grace_passes_crl_status_with_a_warning(void **state)
{
	struct host *h = host_new(NULL);

	(void)state;
	host_crl(h, 1, 0, -HOURS(48), -HOURS(2));
	assert_int_equal(run(h), 0);
	expect_only(&h->rep, "", 0, NULL, 0);
	assert_detail_has(&h->rep, "CRL_STATUS_VALIDATION", "WARNING");
	assert_detail_has(&h->rep, "CRL_STATUS_VALIDATION", "grace");
	assert_int_equal(h->rep.warned, 1);
	host_free(h);
}

static void
test_current_crl_passes_crl_status(void **state)
{
	struct host *h = host_new(NULL);

	(void)state;
	host_crl(h, 1, 0, -HOURS(1), HOURS(24));
	assert_int_equal(run(h), 0);
	expect_only(&h->rep, "", 0, NULL, 0);
	assert_detail_has(&h->rep, "CRL_STATUS_VALIDATION", "current CRL");
	host_free(h);
}

static void
test_crl_status_with_check_disabled_passes(void **state)
{
	struct host *h = host_new(NULL);

	(void)state;
	host_crl(h, 1, 1, -HOURS(1), HOURS(24));
	h->cfg.crl_check = ECA_CRL_DISABLE;
	assert_int_equal(run(h), 0);
	expect_only(&h->rep, "", 0, NULL, 0);
	assert_detail_has(&h->rep, "CRL_STATUS_VALIDATION", "DISABLE");
	host_free(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
		test_missing_cert_file_fails_cert_path_and_skips_dependants),
	    cmocka_unit_test(test_unset_cert_path_fails_as_configuration),
	    cmocka_unit_test(
		test_garbage_certificate_fails_certificates_and_skips_dependants),
	    cmocka_unit_test(
		test_group_readable_key_fails_key_path_and_skips_passphrase),
	    cmocka_unit_test(
		test_wrong_passphrase_fails_passphrase_and_skips_key_match),
	    cmocka_unit_test(
		test_readable_passphrase_file_fails_passphrase_validation),
	    cmocka_unit_test(
		test_empty_trust_store_fails_trust_and_skips_chain),
	    cmocka_unit_test(test_unreadable_crl_path_fails_crl_config),
	    cmocka_unit_test(test_key_of_another_certificate_fails_key_match),
	    cmocka_unit_test(test_untrusted_issuer_fails_chain_validation),
	    cmocka_unit_test(test_expired_certificate_fails_chain_and_validity),
	    cmocka_unit_test(test_not_yet_valid_certificate_fails_validity),
	    cmocka_unit_test(test_rsa1024_key_fails_key_strength),
	    cmocka_unit_test(test_sha1_signature_fails_signature_algorithm),
	    cmocka_unit_test(
		test_weak_trust_anchor_fails_trust_store_key_strength),
	    cmocka_unit_test(test_expired_root_fails_chain_validation),
	    cmocka_unit_test(test_ca_leaf_fails_key_usage),
	    cmocka_unit_test(test_code_signing_eku_fails_key_usage),
	    cmocka_unit_test(test_other_host_name_fails_identity),
	    cmocka_unit_test(test_good_config_passes_every_check),
	    cmocka_unit_test(
		test_certificate_expiring_soon_passes_with_a_warning),
	    cmocka_unit_test(test_encrypted_key_and_hashed_trust_dir_pass),
	    cmocka_unit_test(test_revoked_own_certificate_fails_crl_status),
	    cmocka_unit_test(test_crl_expired_past_grace_fails_crl_status),
	    cmocka_unit_test(test_expiry_warning_off_with_zero_warn_days),
	    cmocka_unit_test(test_expiry_beyond_warn_days_is_no_warning),
	    cmocka_unit_test(test_level_names_parse_back_and_others_do_not),
	    cmocka_unit_test(test_worst_level_wins),
	    cmocka_unit_test(test_certificate_level_expired_critical_soon_warn),
	    cmocka_unit_test(
		test_writer_level_failed_or_stuck_critical_slow_warn),
	    cmocka_unit_test(test_crl_level_follows_the_cache_state),
	    cmocka_unit_test(test_roster_level_follows_its_age),
	    cmocka_unit_test(test_exit_codes_are_the_monitoring_plugins),
	    cmocka_unit_test(
		test_crl_status_is_skipped_when_the_chain_is_untrusted),
	    cmocka_unit_test(test_no_cached_crl_passes_crl_status_with_a_note),
	    cmocka_unit_test(
		test_crl_in_grace_passes_crl_status_with_a_warning),
	    cmocka_unit_test(test_current_crl_passes_crl_status),
	    cmocka_unit_test(test_crl_status_with_check_disabled_passes),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
