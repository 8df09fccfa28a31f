/* SPDX-License-Identifier: ISC */
/* test_x509.c - certificates, keys, trust stores and the peer policy. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "testca.h"
#include "vcache.h"
#include "x509.h"

static struct testca *ca, *rogue;
static X509 *good_leaf;
static EVP_PKEY *good_key;
static X509_STORE *trust;
static char *dir;

static int
group_setup(void **state)
{
	struct eca_err err;

	(void)state;
	ca = testca_new("Test");
	rogue = testca_new("Rogue");
	testca_leaf(ca, NULL, &good_leaf, &good_key);
	dir = testca_tmpdir();
	testca_write_host(dir, ca, good_leaf, good_key);
	if (eca_x509_load_trust(NULL, testca_path(dir, "trust.pem"), &trust,
		&err) != 0) {
		fprintf(stderr, "trust: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	X509_STORE_free(trust);
	X509_free(good_leaf);
	EVP_PKEY_free(good_key);
	testca_free(ca);
	testca_free(rogue);
	testca_rmdir(dir);
	return 0;
}

static STACK_OF(X509) *
stack_of(X509 *a, X509 *b)
{
	STACK_OF(X509) *sk = sk_X509_new_null();

	assert_non_null(sk);
	if (a != NULL) {
		assert_true(sk_X509_push(sk, a) > 0);
		X509_up_ref(a);
	}
	if (b != NULL) {
		assert_true(sk_X509_push(sk, b) > 0);
		X509_up_ref(b);
	}
	return sk;
}

static void
free_stack(STACK_OF(X509) *sk)
{
	sk_X509_pop_free(sk, X509_free);
}

/* check_peer on a leaf issued by ca's intermediate, with the intermediate. */
static int
peer_check(X509 *leaf, const char *host, enum eca_identity rule,
    struct eca_err *err)
{
	struct eca_peer_policy pol = {NULL, trust, rule, 0, NULL,
	    ECA_CRL_DISABLE, NULL, NULL, NULL, 0};
	STACK_OF(X509) *chain = stack_of(ca->inter, NULL);
	struct eca_certinfo info;
	int r;

	r = eca_x509_check_peer(&pol, leaf, chain, host, &info, err);
	eca_certinfo_clear(&info);
	free_stack(chain);
	assert_int_equal(ERR_peek_error(), 0);
	return r;
}

static int
leaf_check(const struct testca_leaf_opts *o, const char *host,
    enum eca_identity rule, struct eca_err *err)
{
	X509 *leaf = NULL;
	int r;

	testca_leaf(ca, o, &leaf, NULL);
	r = peer_check(leaf, host, rule, err);
	X509_free(leaf);
	return r;
}

static void
assert_msg_has(const struct eca_err *err, const char *s)
{
	if (strstr(err->msg, s) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", err->msg, s);
}

static int
load_chain_file(const char *path, X509 **leaf, STACK_OF(X509) **chain,
    struct eca_err *err)
{
	int r;

	r = eca_x509_load_chain(NULL, path, leaf, chain, err);
	if (r != 0) {
		assert_null(*leaf);
		assert_null(*chain);
	}
	assert_int_equal(ERR_peek_error(), 0);
	return r;
}

/*
 * Negative cases
 */

static void
test_chain_from_untrusted_ca_is_refused(void **state)
{
	struct eca_peer_policy pol = {NULL, NULL, ECA_ID_SAN, 0, NULL,
	    ECA_CRL_DISABLE, NULL, NULL, NULL, 0};
	STACK_OF(X509) *chain;
	struct eca_certinfo info;
	struct eca_err err;
	X509 *leaf = NULL;

	(void)state;
	pol.trust = trust;
	testca_leaf(rogue, NULL, &leaf, NULL);
	chain = stack_of(rogue->inter, NULL);
	assert_int_equal(eca_x509_check_peer(&pol, leaf, chain, "host1.example",
			     &info, &err),
	    ECA_ERR_UNTRUSTED);
	assert_int_equal(err.code, ECA_ERR_UNTRUSTED);
	assert_msg_has(&err, "ECA_TRUST_STORE_PATH");
	assert_msg_has(&err, "Rogue");
	/* The refusal can still name the fingerprint. */
	assert_int_equal(strlen(info.fingerprint), ECA_FP_HEX_LEN);
	free_stack(chain);
	X509_free(leaf);
}

static void
test_leaf_without_its_intermediate_is_untrusted(void **state)
{
	struct eca_err err;

	(void)state;
	assert_int_equal(eca_x509_verify(NULL, trust, good_leaf, NULL, 0, &err),
	    ECA_ERR_UNTRUSTED);
	assert_msg_has(&err, "host1.example");
}

static void
test_expired_certificate_is_refused(void **state)
{
	struct testca_leaf_opts o = {.cn = "h",
	    .san = "host1.example",
	    .not_before = -86400L * 10,
	    .not_after = -86400};
	struct eca_err err;

	(void)state;
	assert_int_equal(leaf_check(&o, "host1.example", ECA_ID_SAN, &err),
	    ECA_ERR_EXPIRED);
	assert_msg_has(&err, "renew");
}

static void
test_not_yet_valid_certificate_is_refused(void **state)
{
	struct testca_leaf_opts o = {.cn = "h",
	    .san = "host1.example",
	    .not_before = 86400,
	    .not_after = 86400L * 30};
	struct eca_err err;

	(void)state;
	assert_int_equal(leaf_check(&o, "host1.example", ECA_ID_SAN, &err),
	    ECA_ERR_NOT_YET_VALID);
}

static void
test_identity_mismatch_under_san_rule_is_refused(void **state)
{
	struct testca_leaf_opts cnonly = {.cn = "host1.example"};
	struct eca_err err;

	(void)state;
	assert_int_equal(
	    peer_check(good_leaf, "host2.example", ECA_ID_SAN, &err),
	    ECA_ERR_IDENTITY_MISMATCH);
	assert_msg_has(&err, "host2.example");
	/* The subject CN never stands in for a missing SAN. */
	assert_int_equal(leaf_check(&cnonly, "host1.example", ECA_ID_SAN, &err),
	    ECA_ERR_IDENTITY_MISMATCH);
	/* Nor does a suffix or prefix match. */
	assert_int_equal(eca_x509_identity_matches(good_leaf, ECA_ID_SAN,
			     "host1.example.evil", &err),
	    ECA_ERR_IDENTITY_MISMATCH);
	assert_int_equal(
	    eca_x509_identity_matches(good_leaf, ECA_ID_SAN, "host1", &err),
	    ECA_ERR_IDENTITY_MISMATCH);
	assert_int_equal(
	    eca_x509_identity_matches(good_leaf, ECA_ID_SAN, "", &err),
	    ECA_ERR_IDENTITY_MISMATCH);
}

static void
test_identity_mismatch_under_cn_rule_is_refused(void **state)
{
	struct testca_leaf_opts nocn = {.san = "host1.example"};
	struct eca_err err;

	(void)state;
	assert_int_equal(
	    peer_check(good_leaf, "host2.example", ECA_ID_CN, &err),
	    ECA_ERR_IDENTITY_MISMATCH);
	assert_int_equal(eca_x509_identity_matches(good_leaf, ECA_ID_CN,
			     "host1.exampl", &err),
	    ECA_ERR_IDENTITY_MISMATCH);
	/* The SAN does not stand in for a missing CN. */
	assert_int_equal(leaf_check(&nocn, "host1.example", ECA_ID_CN, &err),
	    ECA_ERR_IDENTITY_MISMATCH);
}

static void
test_identity_mismatch_under_dn_rule_is_refused(void **state)
{
	struct eca_err err;

	(void)state;
	assert_int_equal(
	    peer_check(good_leaf, "host1.example", ECA_ID_DN, &err),
	    ECA_ERR_IDENTITY_MISMATCH);
	assert_int_equal(eca_x509_identity_matches(good_leaf, ECA_ID_DN,
			     "O=eca test,CN=host1.example", &err),
	    ECA_ERR_IDENTITY_MISMATCH);
	assert_int_equal(eca_x509_identity_matches(good_leaf, ECA_ID_DN,
			     "CN=host1.example", &err),
	    ECA_ERR_IDENTITY_MISMATCH);
}

/*
 * Names are compared in canonical form: case never matters, and a
 * certificate name that is no host name (a trailing dot, an underscore)
 * matches nothing, not even its own spelling.
 */
static void
test_identity_compares_canonical_names(void **state)
{
	struct testca_leaf_opts upper = {.cn = "Media1.Example",
	    .san = "MEDIA1.Example"};
	struct testca_leaf_opts odd = {.cn = "media1.example.",
	    .san = "media1.example.,media_1.example"};
	struct eca_err err;
	X509 *leaf = NULL;

	(void)state;
	testca_leaf(ca, &odd, &leaf, NULL);
	assert_int_equal(
	    eca_x509_identity_matches(leaf, ECA_ID_SAN, "media1.example", &err),
	    ECA_ERR_IDENTITY_MISMATCH);
	assert_int_equal(eca_x509_identity_matches(leaf, ECA_ID_SAN,
			     "media1.example.", &err),
	    ECA_ERR_IDENTITY_MISMATCH);
	assert_msg_has(&err, "not a valid host name");
	assert_int_equal(eca_x509_identity_matches(leaf, ECA_ID_SAN,
			     "media_1.example", &err),
	    ECA_ERR_IDENTITY_MISMATCH);
	assert_int_equal(
	    eca_x509_identity_matches(leaf, ECA_ID_CN, "media1.example", &err),
	    ECA_ERR_IDENTITY_MISMATCH);
	X509_free(leaf);
	leaf = NULL;
	testca_leaf(ca, &upper, &leaf, NULL);
	assert_int_equal(
	    eca_x509_identity_matches(leaf, ECA_ID_SAN, "media1.example", &err),
	    0);
	assert_int_equal(
	    eca_x509_identity_matches(leaf, ECA_ID_SAN, "MEDIA1.EXAMPLE", &err),
	    0);
	assert_int_equal(
	    eca_x509_identity_matches(leaf, ECA_ID_CN, "media1.example", &err),
	    0);
	assert_int_equal(
	    eca_x509_identity_matches(leaf, ECA_ID_SAN, "media2.example", &err),
	    ECA_ERR_IDENTITY_MISMATCH);
	X509_free(leaf);
}

/* ECA_IDENTITY = DN: the one string form, and the mapping. */

static void
norm_refused(const char *in, const char *needle)
{
	char out[ECA_DN_MAX];
	struct eca_err err;

	eca_err_clear(&err);
	assert_int_equal(eca_dn_normalize(in, out, sizeof(out), &err),
	    ECA_ERR_PARSE);
	assert_string_equal(out, "");
	if (strstr(err.msg, needle) == NULL)
		fail_msg("\"%s\": \"%s\" lacks \"%s\"", in, err.msg, needle);
	assert_int_equal(ERR_peek_error(), 0);
}

static void
test_dn_that_does_not_parse_is_refused(void **state)
{
	char out[8];

	(void)state;
	norm_refused("", "empty");
	norm_refused("   ", "empty");
	norm_refused("no equals sign", "TYPE=VALUE");
	norm_refused("XYZZY=1", "unknown attribute type");
	norm_refused("CN=", "empty attribute value");
	norm_refused("CN=a,", "TYPE=VALUE");
	norm_refused("C=USA", "not allowed");
	norm_refused("CN=\"unterminated", "unterminated");
	norm_refused("CN=a\\q", "bad escape");
	/* a result that does not fit is refused, not cut */
	assert_int_equal(
	    eca_dn_normalize("CN=host1.example", out, sizeof(out), NULL),
	    ECA_ERR_PARSE);
}

static void
norm_is(const char *in, const char *want)
{
	char out[ECA_DN_MAX], again[ECA_DN_MAX];
	struct eca_err err;

	if (eca_dn_normalize(in, out, sizeof(out), &err) != 0)
		fail_msg("\"%s\": %s", in, err.msg);
	assert_string_equal(out, want);
	/* the form is a fixed point */
	assert_int_equal(eca_dn_normalize(out, again, sizeof(again), &err), 0);
	assert_string_equal(again, out);
}

static void
test_dn_spellings_normalize_to_the_certificate_form(void **state)
{
	char subj[ECA_DN_MAX];

	(void)state;
	eca_x509_subject_str(good_leaf, subj, sizeof(subj));
	assert_string_equal(subj, "CN=host1.example,O=eca test");
	norm_is("CN=host1.example,O=eca test", subj);
	norm_is("  cn = host1.example ,  o = eca test ", subj);
	norm_is("commonName=host1.example;organizationName=eca test", subj);
	norm_is("2.5.4.3=host1.example,O=eca test", subj);
	/* OpenSSL's one-line form lists the first RDN first */
	norm_is("/O=eca test/CN=host1.example", subj);
	norm_is("CN=\"a, b\",O=x", "CN=a\\, b,O=x");
	norm_is("CN=a\\2cb", "CN=a\\,b");
	norm_is("CN=a+UID=b,O=x", "UID=b+CN=a,O=x");
	/* a leading '#' is text (found by fuzz_dn), escaped or not */
	norm_is("O=\\#", "O=#");
	norm_is("CN=#0403", "CN=\\#0403");
}

static int
map_to(void *arg, const char *subject, char *host, size_t size)
{
	(void)subject;
	if (arg == NULL)
		return ECA_ERR_NOT_FOUND;
	snprintf(host, size, "%s", (const char *)arg);
	return 0;
}

static void
test_dn_identity_goes_through_the_mapping(void **state)
{
	struct eca_peer_policy pol = {NULL, trust, ECA_ID_DN, 0, NULL,
	    ECA_CRL_DISABLE, NULL, map_to, NULL, 0};
	STACK_OF(X509) *chain = stack_of(ca->inter, NULL);
	struct eca_certinfo info;
	struct eca_err err;

	(void)state;
	/* refusals: no mapping at all, none for the subject, another host */
	assert_int_equal(
	    eca_x509_identity_dn(good_leaf, NULL, NULL, "host1.example", &err),
	    ECA_ERR_IDENTITY_MISMATCH);
	assert_non_null(strstr(err.msg,
	    "eca map add host1.example "
	    "'CN=host1.example,O=eca test'"));
	assert_int_equal(eca_x509_identity_dn(good_leaf, map_to, NULL,
			     "host1.example", &err),
	    ECA_ERR_IDENTITY_MISMATCH);
	assert_int_equal(eca_x509_identity_dn(good_leaf, map_to,
			     (void *)"other.example", "host1.example", &err),
	    ECA_ERR_IDENTITY_MISMATCH);
	assert_non_null(strstr(err.msg, "mapped to host other.example"));
	assert_int_equal(eca_x509_check_peer(&pol, good_leaf, chain,
			     "host1.example", &info, &err),
	    ECA_ERR_IDENTITY_MISMATCH);
	/* mapped: the subject names that host, in any case */
	assert_int_equal(eca_x509_identity_dn(good_leaf, map_to,
			     (void *)"a.example", "A.example", &err),
	    0);
	pol.dn_map_arg = (void *)"host1.example";
	assert_int_equal(eca_x509_check_peer(&pol, good_leaf, chain,
			     "host1.example", &info, &err),
	    0);
	free_stack(chain);
	assert_int_equal(ERR_peek_error(), 0);
}

static void
test_wildcard_san_is_refused(void **state)
{
	struct testca_leaf_opts o = {.cn = "x", .san = "*.example"};
	struct eca_err err;
	X509 *leaf = NULL;

	(void)state;
	testca_leaf(ca, &o, &leaf, NULL);
	assert_int_equal(
	    eca_x509_identity_matches(leaf, ECA_ID_SAN, "host1.example", &err),
	    ECA_ERR_IDENTITY_MISMATCH);
	assert_msg_has(&err, "wildcards");
	/* Asking for the wildcard itself does not match it either. */
	assert_int_equal(
	    eca_x509_identity_matches(leaf, ECA_ID_SAN, "*.example", &err),
	    ECA_ERR_IDENTITY_MISMATCH);
	assert_int_equal(peer_check(leaf, "host1.example", ECA_ID_SAN, &err),
	    ECA_ERR_IDENTITY_MISMATCH);
	X509_free(leaf);
}

static void
test_rsa1024_key_is_refused(void **state)
{
	struct testca_leaf_opts o = {.keytype = TESTCA_RSA1024,
	    .cn = "host1.example",
	    .san = "host1.example"};
	struct eca_err err;

	(void)state;
	assert_int_equal(leaf_check(&o, "host1.example", ECA_ID_SAN, &err),
	    ECA_ERR_WEAK_KEY);
	assert_msg_has(&err, "RSA 1024");
	assert_msg_has(&err, "2048");
}

static void
test_weak_intermediate_key_is_refused(void **state)
{
	struct testca_leaf_opts o = {.ca = 0};
	EVP_PKEY *weak = testca_key(TESTCA_RSA1024);
	STACK_OF(X509) *chain;
	struct eca_err err;
	X509 *leaf = NULL;

	(void)state;
	/* An "intermediate" whose key is RSA-1024, as chain input. */
	o.key = weak;
	o.cn = "Weak CA";
	testca_leaf(ca, &o, &leaf, NULL);
	chain = stack_of(leaf, NULL);
	assert_int_equal(eca_x509_check_acceptable(good_leaf, chain, &err),
	    ECA_ERR_WEAK_KEY);
	assert_msg_has(&err, "Weak CA");
	free_stack(chain);
	X509_free(leaf);
	EVP_PKEY_free(weak);
}

static void
test_sha1_signature_is_refused(void **state)
{
	struct testca_leaf_opts o = {.sha1 = 1,
	    .cn = "host1.example",
	    .san = "host1.example"};
	struct eca_err err;
	X509 *leaf = NULL;

	(void)state;
	testca_leaf(ca, &o, &leaf, NULL);
	assert_int_equal(eca_x509_check_signature(leaf, &err),
	    ECA_ERR_WEAK_SIGNATURE);
	assert_msg_has(&err, "SHA1");
	assert_int_equal(peer_check(leaf, "host1.example", ECA_ID_SAN, &err),
	    ECA_ERR_WEAK_SIGNATURE);
	X509_free(leaf);
}

static void
test_eku_server_auth_only_is_refused(void **state)
{
	struct testca_leaf_opts o = {.eku = TESTCA_EKU_SERVER,
	    .cn = "host1.example",
	    .san = "host1.example"};
	struct eca_err err;
	X509 *leaf = NULL;

	(void)state;
	testca_leaf(ca, &o, &leaf, NULL);
	assert_int_equal(eca_x509_check_acceptable(leaf, NULL, &err),
	    ECA_ERR_BAD_KEY_USAGE);
	assert_msg_has(&err, "clientAuth");
	assert_int_equal(peer_check(leaf, "host1.example", ECA_ID_SAN, &err),
	    ECA_ERR_BAD_KEY_USAGE);
	X509_free(leaf);
}

static void
test_eku_code_signing_is_refused(void **state)
{
	struct testca_leaf_opts o = {.eku = TESTCA_EKU_CODESIGN,
	    .cn = "host1.example",
	    .san = "host1.example"};
	struct eca_err err;
	X509 *leaf = NULL;

	(void)state;
	testca_leaf(ca, &o, &leaf, NULL);
	assert_int_equal(eca_x509_check_usage(leaf, &err),
	    ECA_ERR_BAD_KEY_USAGE);
	assert_int_equal(peer_check(leaf, "host1.example", ECA_ID_SAN, &err),
	    ECA_ERR_BAD_KEY_USAGE);
	X509_free(leaf);
}

static void
test_ca_true_leaf_is_refused(void **state)
{
	struct testca_leaf_opts o = {.ca = 1,
	    .cn = "host1.example",
	    .san = "host1.example"};
	struct eca_err err;
	X509 *leaf = NULL;

	(void)state;
	testca_leaf(ca, &o, &leaf, NULL);
	assert_int_equal(eca_x509_check_acceptable(leaf, NULL, &err),
	    ECA_ERR_BAD_KEY_USAGE);
	assert_msg_has(&err, "CA:TRUE");
	assert_int_equal(peer_check(leaf, "host1.example", ECA_ID_SAN, &err),
	    ECA_ERR_BAD_KEY_USAGE);
	X509_free(leaf);
}

static void
test_key_not_matching_certificate_is_refused(void **state)
{
	EVP_PKEY *other = testca_key(TESTCA_EC_P256);
	struct eca_err err;

	(void)state;
	assert_int_equal(eca_x509_key_match(good_leaf, other, &err),
	    ECA_ERR_KEY_MISMATCH);
	assert_msg_has(&err, "ECA_PRIVATE_KEY_PATH");
	EVP_PKEY_free(other);
}

static void
test_group_readable_key_is_refused(void **state)
{
	const char *path = testca_path(dir, "key-0640.pem");
	char want[512];
	struct eca_err err;
	EVP_PKEY *k = NULL;

	(void)state;
	testca_write_key(path, good_key, TESTCA_KEY_PEM, NULL, 0640);
	assert_int_equal(eca_x509_load_key(NULL, path, NULL, &k, &err),
	    ECA_ERR_FILE_PERMISSIONS);
	assert_null(k);
	snprintf(want, sizeof(want), "chmod 600 %s", path);
	assert_msg_has(&err, want);
	/* Writable by others is as bad. */
	assert_return_code(chmod(path, 0602), errno);
	assert_int_equal(eca_x509_load_key(NULL, path, NULL, &k, &err),
	    ECA_ERR_FILE_PERMISSIONS);
}

static void
test_other_readable_passphrase_file_is_refused(void **state)
{
	const char *kpath = testca_path(dir, "enc-key.pem");
	const char *ppath = testca_path(dir, "pass-0604");
	char want[512];
	struct eca_err err;
	EVP_PKEY *k = NULL;

	(void)state;
	testca_write_key(kpath, good_key, TESTCA_KEY_PEM_ENC, "s3cret", 0600);
	testca_write_file(ppath, "s3cret\n", 7, 0604);
	assert_int_equal(eca_x509_load_key(NULL, kpath, ppath, &k, &err),
	    ECA_ERR_FILE_PERMISSIONS);
	assert_null(k);
	snprintf(want, sizeof(want), "chmod 600 %s", ppath);
	assert_msg_has(&err, want);
}

static void
test_wrong_passphrase_is_refused(void **state)
{
	const char *kpem = testca_path(dir, "wrong-key.pem");
	const char *kder = testca_path(dir, "wrong-key.der");
	const char *ppath = testca_path(dir, "wrong-pass");
	struct eca_err err;
	EVP_PKEY *k = NULL;

	(void)state;
	testca_write_key(kpem, good_key, TESTCA_KEY_PEM_ENC, "right", 0600);
	testca_write_key(kder, good_key, TESTCA_KEY_DER_ENC, "right", 0600);
	testca_write_file(ppath, "wrong\n", 6, 0600);
	assert_int_equal(eca_x509_load_key(NULL, kpem, ppath, &k, &err),
	    ECA_ERR_PASSPHRASE);
	assert_msg_has(&err, "ECA_KEY_PASSPHRASEFILE");
	assert_null(k);
	assert_int_equal(eca_x509_load_key(NULL, kder, ppath, &k, &err),
	    ECA_ERR_PASSPHRASE);
	assert_null(k);
	assert_int_equal(ERR_peek_error(), 0);
}

static void
test_missing_passphrase_is_refused(void **state)
{
	const char *kpath = testca_path(dir, "nopass-key.pem");
	struct eca_err err;
	EVP_PKEY *k = NULL;

	(void)state;
	testca_write_key(kpath, good_key, TESTCA_KEY_PEM_ENC, "right", 0600);
	assert_int_equal(eca_x509_load_key(NULL, kpath, NULL, &k, &err),
	    ECA_ERR_PASSPHRASE);
	assert_msg_has(&err, "ECA_KEY_PASSPHRASEFILE");
	assert_null(k);
}

static void
test_empty_passphrase_file_is_refused(void **state)
{
	const char *kpath = testca_path(dir, "emptypass-key.pem");
	const char *ppath = testca_path(dir, "empty-pass");
	struct eca_err err;
	EVP_PKEY *k = NULL;

	(void)state;
	testca_write_key(kpath, good_key, TESTCA_KEY_PEM_ENC, "right", 0600);
	testca_write_file(ppath, "\n", 1, 0600);
	assert_int_equal(eca_x509_load_key(NULL, kpath, ppath, &k, &err),
	    ECA_ERR_PASSPHRASE);
	assert_null(k);
}

static void
test_garbage_key_is_a_parse_error(void **state)
{
	static const unsigned char junk[] = "this is not a key\n";
	const char *kpath = testca_path(dir, "junk-key.pem");
	struct eca_err err;
	EVP_PKEY *k = NULL;

	(void)state;
	assert_int_equal(
	    eca_x509_parse_key(NULL, junk, sizeof(junk) - 1, NULL, &k, &err),
	    ECA_ERR_PARSE);
	assert_null(k);
	assert_int_equal(eca_x509_parse_key(NULL, junk, 0, NULL, &k, &err),
	    ECA_ERR_PARSE);
	testca_write_file(kpath, junk, sizeof(junk) - 1, 0600);
	assert_int_equal(eca_x509_load_key(NULL, kpath, NULL, &k, &err),
	    ECA_ERR_PARSE);
	assert_msg_has(&err, kpath);
	assert_int_equal(ERR_peek_error(), 0);
}

static void
test_public_key_is_not_a_private_key(void **state)
{
	unsigned char *der = NULL;
	struct eca_err err;
	EVP_PKEY *k = NULL;
	int len;

	(void)state;
	assert_true((len = i2d_PUBKEY(good_key, &der)) > 0);
	assert_int_equal(
	    eca_x509_parse_key(NULL, der, (size_t)len, NULL, &k, &err),
	    ECA_ERR_PARSE);
	assert_null(k);
	OPENSSL_free(der);
	assert_int_equal(ERR_peek_error(), 0);
}

static void
test_truncated_pem_is_refused(void **state)
{
	const char *path = testca_path(dir, "truncated.pem");
	STACK_OF(X509) *chain = NULL;
	X509 *certs[2], *leaf = NULL;
	unsigned char *buf;
	struct eca_err err;
	BIO *bio;
	long len;

	(void)state;
	certs[0] = good_leaf;
	certs[1] = ca->inter;
	assert_non_null(bio = BIO_new(BIO_s_mem()));
	assert_int_equal(PEM_write_bio_X509(bio, certs[0]), 1);
	assert_int_equal(PEM_write_bio_X509(bio, certs[1]), 1);
	len = BIO_get_mem_data(bio, (char **)&buf);
	/* The second certificate cut off in the middle. */
	testca_write_file(path, buf, (size_t)len - 200, 0644);
	assert_int_equal(load_chain_file(path, &leaf, &chain, &err),
	    ECA_ERR_PARSE);
	assert_msg_has(&err, path);
	/* The first certificate cut off before its end line. */
	assert_int_equal(
	    eca_x509_parse_chain(NULL, buf, 300, &leaf, &chain, &err),
	    ECA_ERR_PARSE);
	assert_null(leaf);
	BIO_free(bio);
}

static void
test_der_with_trailing_bytes_is_refused(void **state)
{
	unsigned char *der = NULL, *buf;
	STACK_OF(X509) *chain = NULL;
	struct eca_err err;
	X509 *leaf = NULL;
	int len;

	(void)state;
	assert_true((len = i2d_X509(good_leaf, &der)) > 0);
	assert_non_null(buf = malloc((size_t)len + 4));
	memcpy(buf, der, (size_t)len);
	memcpy(buf + len, "\0\0\0\0", 4);
	assert_int_equal(eca_x509_parse_chain(NULL, buf, (size_t)len + 4, &leaf,
			     &chain, &err),
	    ECA_ERR_PARSE);
	assert_msg_has(&err, "4 unexpected bytes");
	assert_null(leaf);
	assert_null(chain);
	/* A truncated DER certificate is refused too. */
	assert_int_equal(eca_x509_parse_chain(NULL, buf, (size_t)len - 1, &leaf,
			     &chain, &err),
	    ECA_ERR_PARSE);
	free(buf);
	OPENSSL_free(der);
}

static void
test_pkcs7_without_certificates_is_refused(void **state)
{
	const char *pem = testca_path(dir, "empty.p7b");
	const char *der = testca_path(dir, "empty.p7c");
	STACK_OF(X509) *chain = NULL;
	struct eca_err err;
	X509 *leaf = NULL;

	(void)state;
	testca_write_p7(pem, NULL, 0, 1, 0644);
	testca_write_p7(der, NULL, 0, 0, 0644);
	assert_int_equal(load_chain_file(pem, &leaf, &chain, &err),
	    ECA_ERR_PARSE);
	assert_msg_has(&err, "no certificates");
	assert_int_equal(load_chain_file(der, &leaf, &chain, &err),
	    ECA_ERR_PARSE);
	assert_msg_has(&err, "no certificates");
}

static void
test_more_than_chain_max_certificates_is_refused(void **state)
{
	const char *pem = testca_path(dir, "long.pem");
	const char *p7 = testca_path(dir, "long.p7b");
	X509 *certs[ECA_CHAIN_MAX + 1], *leaf = NULL;
	STACK_OF(X509) *chain = NULL;
	struct eca_err err;
	size_t i;

	(void)state;
	for (i = 0; i < ECA_CHAIN_MAX + 1; i++)
		certs[i] = ca->inter;
	certs[0] = good_leaf;
	testca_write_pem(pem, certs, ECA_CHAIN_MAX + 1, 0644);
	assert_int_equal(load_chain_file(pem, &leaf, &chain, &err),
	    ECA_ERR_PARSE);
	assert_msg_has(&err, "more than 10");
	testca_write_p7(p7, certs, ECA_CHAIN_MAX + 1, 1, 0644);
	assert_int_equal(load_chain_file(p7, &leaf, &chain, &err),
	    ECA_ERR_PARSE);
	assert_msg_has(&err, "more than 10");
	/* Exactly ECA_CHAIN_MAX is still fine. */
	testca_write_pem(pem, certs, ECA_CHAIN_MAX, 0644);
	assert_int_equal(load_chain_file(pem, &leaf, &chain, &err), 0);
	assert_int_equal(sk_X509_num(chain), ECA_CHAIN_MAX - 1);
	X509_free(leaf);
	free_stack(chain);
}

static void
test_missing_file_is_unreadable(void **state)
{
	const char *path = testca_path(dir, "does-not-exist.pem");
	STACK_OF(X509) *chain = NULL;
	X509_STORE *st = NULL;
	struct eca_err err;
	EVP_PKEY *k = NULL;
	X509 *leaf = NULL;

	(void)state;
	assert_int_equal(load_chain_file(path, &leaf, &chain, &err),
	    ECA_ERR_UNREADABLE);
	assert_msg_has(&err, path);
	assert_msg_has(&err, strerror(ENOENT));
	assert_int_equal(eca_x509_load_key(NULL, path, NULL, &k, &err),
	    ECA_ERR_UNREADABLE);
	assert_msg_has(&err, path);
	assert_int_equal(eca_x509_load_trust(NULL, path, &st, &err),
	    ECA_ERR_UNREADABLE);
	assert_null(st);
	/* A directory is not a certificate file. */
	assert_int_equal(load_chain_file(dir, &leaf, &chain, &err),
	    ECA_ERR_UNREADABLE);
}

static void
test_oversized_file_is_refused(void **state)
{
	const char *path = testca_path(dir, "huge.pem");
	STACK_OF(X509) *chain = NULL;
	struct eca_err err;
	X509 *leaf = NULL;
	char *buf;

	(void)state;
	assert_non_null(buf = calloc(1, ECA_CERT_FILE_MAX + 1));
	memset(buf, 'A', ECA_CERT_FILE_MAX + 1);
	testca_write_file(path, buf, ECA_CERT_FILE_MAX + 1, 0644);
	free(buf);
	assert_int_equal(load_chain_file(path, &leaf, &chain, &err),
	    ECA_ERR_UNREADABLE);
	assert_msg_has(&err, "larger than");
}

static void
test_empty_trust_bundle_is_refused(void **state)
{
	const char *empty = testca_path(dir, "empty-trust.pem");
	const char *text = testca_path(dir, "text-trust.pem");
	char *hdir;
	X509_STORE *st = NULL;
	struct eca_err err;

	(void)state;
	testca_write_file(empty, "", 0, 0644);
	assert_int_equal(eca_x509_load_trust(NULL, empty, &st, &err),
	    ECA_ERR_PARSE);
	assert_null(st);
	assert_msg_has(&err, empty);
	testca_write_file(text, "just words\n", 11, 0644);
	assert_int_equal(eca_x509_load_trust(NULL, text, &st, &err),
	    ECA_ERR_PARSE);
	/* A directory without hashed names would trust nothing. */
	hdir = testca_tmpdir();
	assert_int_equal(eca_x509_load_trust(NULL, hdir, &st, &err),
	    ECA_ERR_PARSE);
	assert_msg_has(&err, "rehash");
	testca_rmdir(hdir);
	assert_int_equal(ERR_peek_error(), 0);
}

static void
test_garbage_certificate_is_a_parse_error(void **state)
{
	static const unsigned char junk[] = "garbage\n";
	static const unsigned char derjunk[] = {0x30, 0x03, 0x02, 0x01, 0x01};
	STACK_OF(X509) *chain = NULL;
	struct eca_err err;
	X509 *leaf = NULL;

	(void)state;
	assert_int_equal(eca_x509_parse_chain(NULL, junk, sizeof(junk) - 1,
			     &leaf, &chain, &err),
	    ECA_ERR_PARSE);
	assert_int_equal(eca_x509_parse_chain(NULL, derjunk, sizeof(derjunk),
			     &leaf, &chain, &err),
	    ECA_ERR_PARSE);
	assert_int_equal(
	    eca_x509_parse_chain(NULL, junk, 0, &leaf, &chain, &err),
	    ECA_ERR_PARSE);
	assert_null(leaf);
	assert_null(chain);
	assert_int_equal(ERR_peek_error(), 0);
}

static void
test_cred_load_refuses_a_key_of_another_certificate(void **state)
{
	struct eca_config cfg;
	struct eca_cred *cred = NULL;
	struct eca_err err;
	EVP_PKEY *other = testca_key(TESTCA_EC_P256);
	const char *kpath = testca_path(dir, "other-key.pem");

	(void)state;
	testca_write_key(kpath, other, TESTCA_KEY_PEM, NULL, 0600);
	memset(&cfg, 0, sizeof(cfg));
	cfg.cert_path = (char *)testca_path(dir, "cert.pem");
	cfg.key_path = (char *)kpath;
	cfg.trust_store_path = (char *)testca_path(dir, "trust.pem");
	assert_int_equal(eca_cred_load(NULL, &cfg, &cred, &err),
	    ECA_ERR_KEY_MISMATCH);
	assert_null(cred);
	cfg.key_path = NULL;
	assert_int_equal(eca_cred_load(NULL, &cfg, &cred, &err),
	    ECA_ERR_CONFIG);
	assert_msg_has(&err, "ECA_PRIVATE_KEY_PATH");
	EVP_PKEY_free(other);
}

static void
test_cred_load_names_a_chain_in_the_wrong_order(void **state)
{
	struct eca_config cfg;
	struct eca_cred *cred = NULL;
	struct eca_err err;
	X509 *certs[2];
	const char *cpath = testca_path(dir, "wrong-order.pem");

	(void)state;
	/* The intermediate first, then the leaf whose key is configured. */
	certs[0] = ca->inter;
	certs[1] = good_leaf;
	testca_write_pem(cpath, certs, 2, 0644);
	memset(&cfg, 0, sizeof(cfg));
	cfg.cert_path = (char *)cpath;
	cfg.key_path = (char *)testca_path(dir, "key.pem");
	cfg.trust_store_path = (char *)testca_path(dir, "trust.pem");
	assert_int_equal(eca_cred_load(NULL, &cfg, &cred, &err),
	    ECA_ERR_BAD_CERTIFICATE);
	assert_null(cred);
	assert_msg_has(&err, "wrong order");
	assert_msg_has(&err, "certificate 2");
	assert_int_equal(ERR_peek_error(), 0);
}

/*
 * Positive cases
 */

static void
test_pem_chain_loads_leaf_first(void **state)
{
	STACK_OF(X509) *chain = NULL;
	struct eca_err err;
	X509 *leaf = NULL;

	(void)state;
	assert_int_equal(
	    load_chain_file(testca_path(dir, "cert.pem"), &leaf, &chain, &err),
	    0);
	assert_int_equal(X509_cmp(leaf, good_leaf), 0);
	assert_int_equal(sk_X509_num(chain), 1);
	assert_int_equal(X509_cmp(sk_X509_value(chain, 0), ca->inter), 0);
	assert_int_equal(eca_x509_verify(NULL, trust, leaf, chain, 0, &err), 0);
	X509_free(leaf);
	free_stack(chain);
}

static void
test_other_pem_blocks_between_certificates_are_ignored(void **state)
{
	static const char junk[] =
	    "some comment\n-----BEGIN DH PARAMETERS-----"
	    "\nMAgCAQECAQI=\n-----END DH PARAMETERS-----\n";
	STACK_OF(X509) *chain = NULL;
	X509 *leaf = NULL;
	struct eca_err err;
	unsigned char *buf;
	BIO *bio;
	long len;

	(void)state;
	assert_non_null(bio = BIO_new(BIO_s_mem()));
	assert_int_equal(PEM_write_bio_X509(bio, good_leaf), 1);
	assert_true(BIO_puts(bio, junk) > 0);
	assert_int_equal(PEM_write_bio_X509(bio, ca->inter), 1);
	len = BIO_get_mem_data(bio, (char **)&buf);
	assert_int_equal(
	    eca_x509_parse_chain(NULL, buf, (size_t)len, &leaf, &chain, &err),
	    0);
	assert_int_equal(sk_X509_num(chain), 1);
	X509_free(leaf);
	free_stack(chain);
	BIO_free(bio);
}

static void
test_der_certificate_loads(void **state)
{
	const char *path = testca_path(dir, "leaf.der");
	STACK_OF(X509) *chain = NULL;
	struct eca_err err;
	X509 *leaf = NULL;

	(void)state;
	testca_write_der(path, good_leaf, 0644);
	assert_int_equal(load_chain_file(path, &leaf, &chain, &err), 0);
	assert_int_equal(X509_cmp(leaf, good_leaf), 0);
	assert_non_null(chain);
	assert_int_equal(sk_X509_num(chain), 0);
	X509_free(leaf);
	free_stack(chain);
}

static void
test_pkcs7_pem_and_der_load_leaf_first(void **state)
{
	const char *pem = testca_path(dir, "chain.p7b");
	const char *der = testca_path(dir, "chain.p7c");
	X509 *certs[3], *leaf = NULL;
	STACK_OF(X509) *chain = NULL;
	struct eca_err err;

	(void)state;
	/* Deliberately out of order: PKCS#7 order means nothing. */
	certs[0] = ca->root;
	certs[1] = good_leaf;
	certs[2] = ca->inter;
	testca_write_p7(pem, certs, 3, 1, 0644);
	testca_write_p7(der, certs, 3, 0, 0644);
	assert_int_equal(load_chain_file(pem, &leaf, &chain, &err), 0);
	assert_int_equal(X509_cmp(leaf, good_leaf), 0);
	assert_int_equal(sk_X509_num(chain), 2);
	assert_int_equal(X509_cmp(sk_X509_value(chain, 0), ca->inter), 0);
	assert_int_equal(X509_cmp(sk_X509_value(chain, 1), ca->root), 0);
	X509_free(leaf);
	free_stack(chain);
	assert_int_equal(load_chain_file(der, &leaf, &chain, &err), 0);
	assert_int_equal(X509_cmp(leaf, good_leaf), 0);
	assert_int_equal(sk_X509_num(chain), 2);
	assert_int_equal(eca_x509_verify(NULL, trust, leaf, chain, 0, &err), 0);
	X509_free(leaf);
	free_stack(chain);
}

static void
test_hashed_directory_trust_store_verifies(void **state)
{
	char hdir[512];
	X509_STORE *st = NULL;
	STACK_OF(X509) *chain;
	struct eca_err err;

	(void)state;
	snprintf(hdir, sizeof(hdir), "%s/hashed", dir);
	testca_write_hashdir(hdir, ca->root);
	assert_int_equal(eca_x509_load_trust(NULL, hdir, &st, &err), 0);
	chain = stack_of(ca->inter, NULL);
	assert_int_equal(eca_x509_verify(NULL, st, good_leaf, chain, 0, &err),
	    0);
	free_stack(chain);
	X509_STORE_free(st);
}

static void
test_chain_including_the_root_verifies(void **state)
{
	STACK_OF(X509) *chain = stack_of(ca->inter, ca->root);
	struct eca_peer_policy pol = {NULL, NULL, ECA_ID_SAN, 0, NULL,
	    ECA_CRL_DISABLE, NULL, NULL, NULL, 0};
	struct eca_err err;

	(void)state;
	pol.trust = trust;
	assert_int_equal(
	    eca_x509_verify(NULL, trust, good_leaf, chain, 0, &err), 0);
	assert_int_equal(eca_x509_check_peer(&pol, good_leaf, chain,
			     "host1.example", NULL, &err),
	    0);
	free_stack(chain);
}

static void
test_verify_honours_the_given_time(void **state)
{
	/* The test CAs became valid a day ago. */
	struct testca_leaf_opts o = {.cn = "h",
	    .san = "host1.example",
	    .not_before = -72000,
	    .not_after = -7200};
	STACK_OF(X509) *chain = stack_of(ca->inter, NULL);
	struct eca_err err;
	X509 *leaf = NULL;

	(void)state;
	testca_leaf(ca, &o, &leaf, NULL);
	assert_int_equal(
	    eca_x509_verify(NULL, trust, leaf, chain, time(NULL) - 36000, &err),
	    0);
	assert_int_equal(eca_x509_verify(NULL, trust, leaf, chain, 0, &err),
	    ECA_ERR_EXPIRED);
	free_stack(chain);
	X509_free(leaf);
}

static void
test_encrypted_key_with_right_passphrase_loads(void **state)
{
	const char *kpem = testca_path(dir, "right-key.pem");
	const char *kder = testca_path(dir, "right-key.der");
	const char *ppath = testca_path(dir, "right-pass");
	struct eca_err err;
	EVP_PKEY *k = NULL;

	(void)state;
	testca_write_key(kpem, good_key, TESTCA_KEY_PEM_ENC, "right pass",
	    0600);
	testca_write_key(kder, good_key, TESTCA_KEY_DER_ENC, "right pass",
	    0600);
	/* Only the first line counts, CRLF or LF. */
	testca_write_file(ppath, "right pass\r\nsecond line\n", 24, 0400);
	assert_int_equal(eca_x509_load_key(NULL, kpem, ppath, &k, &err), 0);
	assert_int_equal(eca_x509_key_match(good_leaf, k, &err), 0);
	EVP_PKEY_free(k);
	k = NULL;
	assert_int_equal(eca_x509_load_key(NULL, kder, ppath, &k, &err), 0);
	assert_int_equal(eca_x509_key_match(good_leaf, k, &err), 0);
	EVP_PKEY_free(k);
	assert_int_equal(ERR_peek_error(), 0);
}

static void
test_plain_der_key_loads(void **state)
{
	const char *kder = testca_path(dir, "plain-key.der");
	struct eca_err err;
	EVP_PKEY *k = NULL;

	(void)state;
	testca_write_key(kder, good_key, TESTCA_KEY_DER, NULL, 0600);
	assert_int_equal(eca_x509_load_key(NULL, kder, NULL, &k, &err), 0);
	assert_int_equal(eca_x509_key_match(good_leaf, k, &err), 0);
	EVP_PKEY_free(k);
}

static void
check_key_type(enum testca_keytype type, const char *desc)
{
	struct testca_leaf_opts o = {.keytype = type,
	    .cn = "host1.example",
	    .san = "host1.example"};
	const char *kpath = testca_path(dir, "typed-key.pem");
	struct eca_certinfo info;
	struct eca_err err;
	EVP_PKEY *key = NULL, *k = NULL;
	X509 *leaf = NULL;

	testca_leaf(ca, &o, &leaf, &key);
	assert_int_equal(peer_check(leaf, "host1.example", ECA_ID_SAN, &err),
	    0);
	assert_int_equal(eca_x509_info(leaf, &info, &err), 0);
	assert_string_equal(info.key_desc, desc);
	testca_write_key(kpath, key, TESTCA_KEY_PEM, NULL, 0600);
	assert_int_equal(eca_x509_load_key(NULL, kpath, NULL, &k, &err), 0);
	assert_int_equal(eca_x509_key_match(leaf, k, &err), 0);
	EVP_PKEY_free(k);
	EVP_PKEY_free(key);
	X509_free(leaf);
}

static void
test_ec_and_ed25519_leaves_are_acceptable(void **state)
{
	(void)state;
	check_key_type(TESTCA_EC_P256, "EC P-256");
	check_key_type(TESTCA_EC_P384, "EC P-384");
	check_key_type(TESTCA_ED25519, "ED25519");
	check_key_type(TESTCA_RSA2048, "RSA 2048");
}

static void
test_leaf_without_eku_is_acceptable(void **state)
{
	struct testca_leaf_opts o = {.eku = TESTCA_EKU_NONE,
	    .cn = "host1.example",
	    .san = "host1.example"};
	struct eca_err err;

	(void)state;
	assert_int_equal(leaf_check(&o, "host1.example", ECA_ID_SAN, &err), 0);
}

static void
test_identity_matches_under_each_rule(void **state)
{
	struct testca_leaf_opts o = {.cn = "Host3.Example",
	    .ou = "backup",
	    .san = "alias.example,host3.example"};
	struct eca_err err;
	X509 *leaf = NULL;

	(void)state;
	testca_leaf(ca, &o, &leaf, NULL);
	assert_int_equal(
	    eca_x509_identity_matches(leaf, ECA_ID_SAN, "host3.example", &err),
	    0);
	assert_int_equal(
	    eca_x509_identity_matches(leaf, ECA_ID_SAN, "HOST3.example", &err),
	    0);
	assert_int_equal(
	    eca_x509_identity_matches(leaf, ECA_ID_SAN, "alias.example", &err),
	    0);
	assert_int_equal(
	    eca_x509_identity_matches(leaf, ECA_ID_CN, "host3.example", &err),
	    0);
	assert_int_equal(eca_x509_identity_matches(leaf, ECA_ID_DN,
			     "CN=Host3.Example,OU=backup,O=eca test", &err),
	    0);
	assert_int_equal(peer_check(leaf, "host3.example", ECA_ID_SAN, &err),
	    0);
	X509_free(leaf);
}

static void
test_fingerprints_match_x509_digest(void **state)
{
	unsigned char md[EVP_MAX_MD_SIZE], *der = NULL;
	unsigned int n = 0, i;
	char hex[ECA_FP_HEX_LEN + 1];
	struct eca_certinfo info;
	struct eca_err err;
	int len;

	(void)state;
	assert_int_equal(eca_x509_info(good_leaf, &info, &err), 0);
	/* `openssl x509 -fingerprint -sha256`: SHA-256 of the DER. */
	assert_int_equal(X509_digest(good_leaf, EVP_sha256(), md, &n), 1);
	for (i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	assert_string_equal(info.fingerprint, hex);
	assert_true((len = i2d_X509(good_leaf, &der)) > 0);
	assert_int_equal(
	    EVP_Digest(der, (size_t)len, md, &n, EVP_sha256(), NULL), 1);
	OPENSSL_free(der);
	der = NULL;
	for (i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	assert_string_equal(info.fingerprint, hex);
	/* The public key fingerprint is over the DER SubjectPublicKeyInfo. */
	assert_true((len = i2d_PUBKEY(X509_get0_pubkey(good_leaf), &der)) > 0);
	assert_int_equal(
	    EVP_Digest(der, (size_t)len, md, &n, EVP_sha256(), NULL), 1);
	OPENSSL_free(der);
	for (i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	assert_string_equal(info.spki_fingerprint, hex);
	assert_string_not_equal(info.fingerprint, info.spki_fingerprint);
}

static void
test_info_describes_the_certificate(void **state)
{
	struct testca_leaf_opts o = {.cn = "host4.example",
	    .san = "host4.example,alias4.example",
	    .serial = 0xABCDEF,
	    .not_before = -7200,
	    .not_after = 86400};
	struct eca_certinfo info;
	struct eca_err err;
	X509 *leaf = NULL;
	time_t now = time(NULL);

	(void)state;
	testca_leaf(ca, &o, &leaf, NULL);
	assert_int_equal(eca_x509_info(leaf, &info, &err), 0);
	assert_string_equal(info.subject, "CN=host4.example,O=eca test");
	assert_string_equal(info.issuer, "CN=Test Issuing CA,O=eca test");
	assert_string_equal(info.serial, "ABCDEF");
	assert_string_equal(info.cn, "host4.example");
	assert_string_equal(eca_certinfo_san(&info),
	    "host4.example,alias4.example");
	assert_string_equal(info.key_desc, "RSA 2048");
	assert_string_equal(info.sig_alg, "ecdsa-with-SHA256");
	assert_true(llabs(info.not_before - ((int64_t)now - 7200)) < 60);
	assert_true(llabs(info.not_after - ((int64_t)now + 86400)) < 60);
	X509_free(leaf);
}

static void
test_cred_load_loads_everything(void **state)
{
	const char *kpath = testca_path(dir, "cred-key.pem");
	const char *ppath = testca_path(dir, "cred-pass");
	struct eca_config cfg;
	struct eca_cred *cred = NULL;
	struct eca_err err;

	(void)state;
	testca_write_key(kpath, good_key, TESTCA_KEY_PEM_ENC, "pw", 0600);
	testca_write_file(ppath, "pw\n", 3, 0600);
	memset(&cfg, 0, sizeof(cfg));
	cfg.cert_path = (char *)testca_path(dir, "cert.pem");
	cfg.key_path = (char *)kpath;
	cfg.key_passphrase_file = (char *)ppath;
	cfg.trust_store_path = (char *)testca_path(dir, "trust.pem");
	assert_int_equal(eca_cred_load(NULL, &cfg, &cred, &err), 0);
	assert_non_null(cred);
	assert_int_equal(X509_cmp(cred->leaf, good_leaf), 0);
	assert_int_equal(sk_X509_num(cred->chain), 1);
	assert_int_equal(eca_x509_verify(NULL, cred->trust, cred->leaf,
			     cred->chain, 0, &err),
	    0);
	eca_cred_free(cred);
	eca_cred_free(NULL);
}

/*
 * Issue 15: the policy over the whole path
 */

/* A trust store holding exactly these certificates. */
static X509_STORE *
store_of(X509 *a, X509 *b)
{
	X509_STORE *st = X509_STORE_new();

	assert_non_null(st);
	if (a != NULL)
		assert_int_equal(X509_STORE_add_cert(st, a), 1);
	if (b != NULL)
		assert_int_equal(X509_STORE_add_cert(st, b), 1);
	return st;
}

/* check_peer of leaf + c's intermediate against st, with a vcache or not. */
static int
store_check(X509_STORE *st, struct eca_vcache *vc, X509 *leaf, struct testca *c,
    const char *host, struct eca_err *err)
{
	struct eca_peer_policy pol = {.trust = st,
	    .identity = ECA_ID_SAN,
	    .crl_check = ECA_CRL_DISABLE,
	    .vcache = vc};
	STACK_OF(X509) *chain = stack_of(c->inter, NULL);
	static struct eca_certinfo info;
	int r;

	eca_err_clear(err);
	r = eca_x509_check_peer(&pol, leaf, chain, host, &info, err);
	free_stack(chain);
	assert_int_equal(ERR_peek_error(), 0);
	return r;
}

/* A leaf of a made-to-measure CA, judged against that CA's root. */
static int
custom_check(const struct testca_ca_opts *co, const struct testca_leaf_opts *lo,
    const char *host, struct eca_err *err)
{
	struct testca *c = testca_new_opts("Custom", co);
	X509_STORE *st = store_of(c->root, NULL);
	X509 *leaf = NULL;
	int r;

	testca_leaf(c, lo, &leaf, NULL);
	r = store_check(st, NULL, leaf, c, host, err);
	X509_free(leaf);
	X509_STORE_free(st);
	testca_free(c);
	return r;
}

static void
test_weak_trust_anchor_keys_are_refused(void **state)
{
	static const enum testca_keytype weak[] = {TESTCA_RSA1024,
	    TESTCA_EC_P192, TESTCA_DSA};
	struct testca_ca_opts co;
	struct eca_err err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(weak) / sizeof(weak[0]); i++) {
		memset(&co, 0, sizeof(co));
		co.keys_set = 1;
		co.root_key = weak[i];
		co.int_key = TESTCA_EC_P256;
		assert_int_equal(custom_check(&co, NULL, "host1.example", &err),
		    ECA_ERR_WEAK_KEY);
		assert_msg_has(&err, "trust anchor");
		assert_msg_has(&err, "Custom Root CA");
	}
	/* And a weak intermediate of the path, as before. */
	memset(&co, 0, sizeof(co));
	co.keys_set = 1;
	co.root_key = TESTCA_EC_P256;
	co.int_key = TESTCA_EC_P192;
	assert_int_equal(custom_check(&co, NULL, "host1.example", &err),
	    ECA_ERR_WEAK_KEY);
	assert_msg_has(&err, "Custom Issuing CA");
}

static void
test_anchor_signature_is_not_judged_but_the_path_is(void **state)
{
	struct testca_ca_opts co;
	struct eca_err err;

	(void)state;
	/* Nothing verifies a self-signed anchor's own signature. */
	memset(&co, 0, sizeof(co));
	co.root_sha1 = 1;
	assert_int_equal(custom_check(&co, NULL, "host1.example", &err), 0);
	/* The intermediate's signature is part of the path. */
	memset(&co, 0, sizeof(co));
	co.int_sha1 = 1;
	assert_int_equal(custom_check(&co, NULL, "host1.example", &err),
	    ECA_ERR_WEAK_SIGNATURE);
	assert_msg_has(&err, "Custom Issuing CA");
}

static void
test_expired_anchor_or_intermediate_is_refused(void **state)
{
	struct testca_ca_opts co;
	struct eca_err err;

	(void)state;
	memset(&co, 0, sizeof(co));
	co.root_not_before = -86400L * 30;
	co.root_not_after = -60;
	assert_int_equal(custom_check(&co, NULL, "host1.example", &err),
	    ECA_ERR_EXPIRED);
	assert_msg_has(&err, "Custom Root CA");
	memset(&co, 0, sizeof(co));
	co.int_not_before = -86400L * 30;
	co.int_not_after = -60;
	assert_int_equal(custom_check(&co, NULL, "host1.example", &err),
	    ECA_ERR_EXPIRED);
	assert_msg_has(&err, "Custom Issuing CA");
}

static void
test_partial_chain_trusts_an_issuing_ca_alone(void **state)
{
	X509_STORE *st = store_of(ca->inter, NULL);
	X509_STORE *pinned = store_of(good_leaf, NULL);
	struct eca_vcache *vc = NULL;
	struct eca_err err;

	(void)state;
	assert_int_equal(eca_vcache_new(st, 16, &vc), 0);
	/* NO (the default): the intermediate alone is no trust anchor. */
	assert_int_equal(
	    store_check(st, vc, good_leaf, ca, "host1.example", &err),
	    ECA_ERR_UNTRUSTED);
	assert_int_equal(eca_x509_trust_set_partial(st, 1, &err), 0);
	assert_int_equal(
	    store_check(st, vc, good_leaf, ca, "host1.example", &err), 0);
	/* Remembered under PARTIAL_CHAIN: a miss once the flag is off. */
	assert_int_equal(eca_x509_trust_set_partial(st, 0, &err), 0);
	assert_int_equal(
	    store_check(st, vc, good_leaf, ca, "host1.example", &err),
	    ECA_ERR_UNTRUSTED);
	/* A host certificate in the store is never a trust anchor. */
	assert_int_equal(eca_x509_trust_set_partial(pinned, 1, &err), 0);
	assert_int_equal(
	    store_check(pinned, NULL, good_leaf, ca, "host1.example", &err),
	    ECA_ERR_UNTRUSTED);
	assert_msg_has(&err, "not a CA");
	eca_vcache_free(vc);
	X509_STORE_free(st);
	X509_STORE_free(pinned);
}

/* "san-0000.lb.example,...,san-(n-1).lb.example" (caller frees). */
static char *
many_names(size_t n)
{
	size_t size = n * 24 + 1, off = 0, i;
	char *s = malloc(size);

	assert_non_null(s);
	s[0] = '\0';
	for (i = 0; i < n; i++)
		off += (size_t)snprintf(s + off, size - off,
		    "%ssan-%04zu.lb.example", i > 0 ? "," : "", i);
	assert_true(off < size);
	return s;
}

static void
test_five_hundred_san_names_are_accepted_whole(void **state)
{
	struct testca_leaf_opts o = {.cn = "lb.example"};
	static struct eca_certinfo info;
	struct eca_err err;
	X509 *leaf = NULL;
	char *names = many_names(500);

	(void)state;
	o.san = names;
	testca_leaf(ca, &o, &leaf, NULL);
	assert_int_equal(eca_x509_info(leaf, &info, &err), 0);
	assert_string_equal(eca_certinfo_san(&info), names);
	assert_true(strlen(eca_certinfo_san(&info)) > 9000);
	eca_certinfo_clear(&info);
	/* Exactly, among them: the last, any case; no partial name. */
	assert_int_equal(
	    peer_check(leaf, "san-0499.lb.example", ECA_ID_SAN, &err), 0);
	assert_int_equal(
	    peer_check(leaf, "SAN-0250.LB.example", ECA_ID_SAN, &err), 0);
	assert_int_equal(
	    peer_check(leaf, "san-0500.lb.example", ECA_ID_SAN, &err),
	    ECA_ERR_IDENTITY_MISMATCH);
	assert_int_equal(peer_check(leaf, "lb.example", ECA_ID_SAN, &err),
	    ECA_ERR_IDENTITY_MISMATCH);
	assert_int_equal(peer_check(leaf, ".lb.example", ECA_ID_SAN, &err),
	    ECA_ERR_IDENTITY_MISMATCH);
	X509_free(leaf);
	free(names);
}

static void
test_san_list_beyond_the_bound_is_refused(void **state)
{
	struct testca_leaf_opts o = {.cn = "lb.example"};
	static struct eca_certinfo info;
	struct eca_err err;
	X509 *leaf = NULL;
	char *names = many_names(ECA_SAN_NAMES_MAX + 1);

	(void)state;
	o.san = names;
	testca_leaf(ca, &o, &leaf, NULL);
	assert_int_equal(eca_x509_info(leaf, &info, &err),
	    ECA_ERR_BAD_CERTIFICATE);
	assert_msg_has(&err, "at most 1024 names");
	assert_int_equal(
	    peer_check(leaf, "san-0001.lb.example", ECA_ID_SAN, &err),
	    ECA_ERR_BAD_CERTIFICATE);
	X509_free(leaf);
	free(names);
}

static void
test_dns_subtree_matching_table(void **state)
{
	static const struct {
		const char *name, *base;
		int want;
	} t[] = {
	    /* RFC 5280: the name itself and labels added on the left */
	    {"example.com", "example.com", 1},
	    {"a.example.com", "example.com", 1},
	    {"a.b.example.com", "example.com", 1},
	    {"A.Example.COM", "example.COM", 1},
	    {"badexample.com", "example.com", 0},
	    {"example.com.evil", "example.com", 0},
	    {"xample.com", "example.com", 0},
	    {"com", "example.com", 0},
	    /* leading period: subdomains only */
	    {"a.example.com", ".example.com", 1},
	    {"a.b.example.com", ".example.com", 1},
	    {"example.com", ".example.com", 0},
	    {"badexample.com", ".example.com", 0},
	    /* empty: every name (as OpenSSL reads it) */
	    {"example.com", "", 1},
	    /* malformed constraints */
	    {"a.example.com", "..example.com", -1},
	    {"a.example.com", "example..com", -1},
	    {"a.example.com", "example.com.", -1},
	    {"a.example.com", "*.example.com", -1},
	    {"a.example.com", ".", -1},
	    {"a.example.com", "-example.com", -1},
	};
	size_t i;
	int got;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		got = eca_x509_dns_in_subtree(t[i].name, strlen(t[i].name),
		    t[i].base, strlen(t[i].base));
		if (got != t[i].want)
			fail_msg("%s in %s: %d, want %d", t[i].name, t[i].base,
			    got, t[i].want);
	}
}

static void
test_name_constraints_are_checked_on_every_name(void **state)
{
	static const struct {
		const char *nc;	     /* the intermediate's, or NULL */
		const char *leaf_nc; /* the leaf's, or NULL */
		const char *san;
		const char *host;
		int want;
		const char *phrase;
	} t[] = {
	    {"critical,permitted;DNS:.allowed.example", NULL,
		"h.allowed.example", "h.allowed.example", 0, NULL},
	    {"critical,permitted;DNS:.allowed.example", NULL, "allowed.example",
		"allowed.example", ECA_ERR_BAD_CERTIFICATE, "subtree"},
	    {"critical,permitted;DNS:allowed.example", NULL, "allowed.example",
		"allowed.example", 0, NULL},
	    {"critical,permitted;DNS:allowed.example", NULL,
		"h.allowed.example,.allowed.example", "h.allowed.example",
		ECA_ERR_BAD_CERTIFICATE, "not a valid host name"},
	    {"critical,permitted;DNS:allowed.example", NULL,
		"h.allowed.example,h..allowed.example", "h.allowed.example",
		ECA_ERR_BAD_CERTIFICATE, "not a valid host name"},
	    {"critical,permitted;DNS:allowed.example", NULL,
		"h.allowed.example,h.other.example", "h.allowed.example",
		ECA_ERR_BAD_CERTIFICATE, "subtree"},
	    {"critical,excluded;DNS:bad.allowed.example", NULL,
		"x.bad.allowed.example", "x.bad.allowed.example",
		ECA_ERR_BAD_CERTIFICATE, "excluded"},
	    {"critical,DER:30:04:a0:00:a1:00", NULL, "h.allowed.example",
		"h.allowed.example", ECA_ERR_BAD_CERTIFICATE, "empty subtree"},
	    {"critical,DER:30:00", NULL, "h.allowed.example",
		"h.allowed.example", ECA_ERR_BAD_CERTIFICATE,
		"malformed name constraints"},
	    {NULL, "critical,permitted;DNS:allowed.example",
		"h.allowed.example", "h.allowed.example",
		ECA_ERR_BAD_CERTIFICATE, "only a CA"},
	    /* No constraints: an invalid name is still refused. */
	    {NULL, NULL, "h.example,-bad.example", "h.example",
		ECA_ERR_BAD_CERTIFICATE, "not a valid host name"},
	    {NULL, NULL, "h.example,h.example.", "h.example",
		ECA_ERR_BAD_CERTIFICATE, "not a valid host name"},
	};
	struct testca_ca_opts co;
	struct testca_leaf_opts lo;
	struct eca_err err;
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(&co, 0, sizeof(co));
		memset(&lo, 0, sizeof(lo));
		co.int_nc = t[i].nc;
		lo.cn = t[i].host;
		lo.san = t[i].san;
		lo.nc = t[i].leaf_nc;
		r = custom_check(&co, &lo, t[i].host, &err);
		if (r != t[i].want ||
		    (t[i].phrase != NULL &&
			strstr(err.msg, t[i].phrase) == NULL))
			fail_msg("case %zu: %s (%s), want %s with \"%s\"", i,
			    eca_err_name(r), err.msg, eca_err_name(t[i].want),
			    t[i].phrase != NULL ? t[i].phrase : "");
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_chain_from_untrusted_ca_is_refused),
	    cmocka_unit_test(test_leaf_without_its_intermediate_is_untrusted),
	    cmocka_unit_test(test_expired_certificate_is_refused),
	    cmocka_unit_test(test_not_yet_valid_certificate_is_refused),
	    cmocka_unit_test(test_identity_mismatch_under_san_rule_is_refused),
	    cmocka_unit_test(test_identity_mismatch_under_cn_rule_is_refused),
	    cmocka_unit_test(test_identity_mismatch_under_dn_rule_is_refused),
	    cmocka_unit_test(test_identity_compares_canonical_names),
	    cmocka_unit_test(test_dn_that_does_not_parse_is_refused),
	    cmocka_unit_test(
		test_dn_spellings_normalize_to_the_certificate_form),
	    cmocka_unit_test(test_dn_identity_goes_through_the_mapping),
	    cmocka_unit_test(test_wildcard_san_is_refused),
	    cmocka_unit_test(test_weak_trust_anchor_keys_are_refused),
	    cmocka_unit_test(
		test_anchor_signature_is_not_judged_but_the_path_is),
	    cmocka_unit_test(test_expired_anchor_or_intermediate_is_refused),
	    cmocka_unit_test(test_partial_chain_trusts_an_issuing_ca_alone),
	    cmocka_unit_test(test_five_hundred_san_names_are_accepted_whole),
	    cmocka_unit_test(test_san_list_beyond_the_bound_is_refused),
	    cmocka_unit_test(test_dns_subtree_matching_table),
	    cmocka_unit_test(test_name_constraints_are_checked_on_every_name),
	    cmocka_unit_test(test_rsa1024_key_is_refused),
	    cmocka_unit_test(test_weak_intermediate_key_is_refused),
	    cmocka_unit_test(test_sha1_signature_is_refused),
	    cmocka_unit_test(test_eku_server_auth_only_is_refused),
	    cmocka_unit_test(test_eku_code_signing_is_refused),
	    cmocka_unit_test(test_ca_true_leaf_is_refused),
	    cmocka_unit_test(test_key_not_matching_certificate_is_refused),
	    cmocka_unit_test(test_group_readable_key_is_refused),
	    cmocka_unit_test(test_other_readable_passphrase_file_is_refused),
	    cmocka_unit_test(test_wrong_passphrase_is_refused),
	    cmocka_unit_test(test_missing_passphrase_is_refused),
	    cmocka_unit_test(test_empty_passphrase_file_is_refused),
	    cmocka_unit_test(test_garbage_key_is_a_parse_error),
	    cmocka_unit_test(test_public_key_is_not_a_private_key),
	    cmocka_unit_test(test_truncated_pem_is_refused),
	    cmocka_unit_test(test_der_with_trailing_bytes_is_refused),
	    cmocka_unit_test(test_pkcs7_without_certificates_is_refused),
	    cmocka_unit_test(test_more_than_chain_max_certificates_is_refused),
	    cmocka_unit_test(test_cred_load_names_a_chain_in_the_wrong_order),
	    cmocka_unit_test(test_missing_file_is_unreadable),
	    cmocka_unit_test(test_oversized_file_is_refused),
	    cmocka_unit_test(test_empty_trust_bundle_is_refused),
	    cmocka_unit_test(test_garbage_certificate_is_a_parse_error),
	    cmocka_unit_test(
		test_cred_load_refuses_a_key_of_another_certificate),
	    cmocka_unit_test(test_pem_chain_loads_leaf_first),
	    cmocka_unit_test(
		test_other_pem_blocks_between_certificates_are_ignored),
	    cmocka_unit_test(test_der_certificate_loads),
	    cmocka_unit_test(test_pkcs7_pem_and_der_load_leaf_first),
	    cmocka_unit_test(test_hashed_directory_trust_store_verifies),
	    cmocka_unit_test(test_chain_including_the_root_verifies),
	    cmocka_unit_test(test_verify_honours_the_given_time),
	    cmocka_unit_test(test_encrypted_key_with_right_passphrase_loads),
	    cmocka_unit_test(test_plain_der_key_loads),
	    cmocka_unit_test(test_ec_and_ed25519_leaves_are_acceptable),
	    cmocka_unit_test(test_leaf_without_eku_is_acceptable),
	    cmocka_unit_test(test_identity_matches_under_each_rule),
	    cmocka_unit_test(test_fingerprints_match_x509_digest),
	    cmocka_unit_test(test_info_describes_the_certificate),
	    cmocka_unit_test(test_cred_load_loads_everything),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
