/* SPDX-License-Identifier: ISC */
/*
 * test_secrets.c - key material and passphrases are wiped before their
 * memory is freed.  OpenSSL's allocator is replaced (before anything is
 * allocated) by one that, on every free, looks for the test's secrets in
 * the block: a passphrase, and a line of the private key file.  libeca
 * reads key and passphrase files into OpenSSL-allocated buffers
 * (x509.c), so a buffer freed without OPENSSL_clear_free shows up here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "testca.h"
#include "x509.h"

#define PASS "s3cret-passphrase-0f9e8d7c6b5a"

/* Each block carries its size in front, 16 bytes to keep the alignment. */
#define HDR 16

static const char *watch[2]; /* secrets looked for in freed blocks */
static size_t watch_len[2];
static int seen; /* freed blocks that still held a secret */

static int
holds_secret(const unsigned char *p, size_t n)
{
	size_t i, w;

	for (w = 0; w < 2; w++) {
		if (watch[w] == NULL || watch_len[w] == 0 || n < watch_len[w])
			continue;
		for (i = 0; i + watch_len[w] <= n; i++)
			if (memcmp(p + i, watch[w], watch_len[w]) == 0)
				return 1;
	}
	return 0;
}

static void *
hook_malloc(size_t n, const char *file, int line)
{
	unsigned char *p;

	(void)file;
	(void)line;
	if ((p = malloc(n + HDR)) == NULL)
		return NULL;
	memcpy(p, &n, sizeof(n));
	return p + HDR;
}

static void
hook_free(void *ptr, const char *file, int line)
{
	unsigned char *p;
	size_t n;

	(void)file;
	(void)line;
	if (ptr == NULL)
		return;
	p = (unsigned char *)ptr - HDR;
	memcpy(&n, p, sizeof(n));
	if (holds_secret(ptr, n))
		seen++;
	free(p);
}

static void *
hook_realloc(void *ptr, size_t n, const char *file, int line)
{
	unsigned char *q;
	size_t old;

	if (ptr == NULL)
		return hook_malloc(n, file, line);
	if (n == 0) {
		hook_free(ptr, file, line);
		return NULL;
	}
	/* A realloc that moves leaves the old copy behind: count it. */
	if ((q = hook_malloc(n, file, line)) == NULL)
		return NULL;
	memcpy(&old, (unsigned char *)ptr - HDR, sizeof(old));
	memcpy(q, ptr, old < n ? old : n);
	hook_free(ptr, file, line);
	return q;
}

static EVP_PKEY *key;
static char *dir;
static char keyline[65]; /* a line from the private part of the PEM */

static int
group_setup(void **state)
{
	const char *kpath;
	char buf[4096];
	FILE *f;
	int n = 0;

	(void)state;
	key = testca_key(TESTCA_RSA2048);
	dir = testca_tmpdir();
	kpath = testca_path(dir, "plain.pem");
	testca_write_key(kpath, key, TESTCA_KEY_PEM, NULL, 0600);
	testca_write_key(testca_path(dir, "enc.pem"), key, TESTCA_KEY_PEM_ENC,
	    PASS, 0600);
	testca_write_file(testca_path(dir, "pass"), PASS "\n", strlen(PASS) + 1,
	    0600);
	testca_write_file(testca_path(dir, "wrongpass"), "not-" PASS "\n",
	    strlen(PASS) + 5, 0600);
	testca_write_file(testca_path(dir, "openpass"), PASS "\n",
	    strlen(PASS) + 1, 0644);
	/* Line 12 of the PEM: base64 of the private exponent or primes. */
	if ((f = fopen(kpath, "r")) == NULL)
		return -1;
	while (fgets(buf, sizeof(buf), f) != NULL && ++n < 12)
		;
	fclose(f);
	if (n != 12 || strlen(buf) < 65)
		return -1;
	memcpy(keyline, buf, 64);
	keyline[64] = '\0';
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(key);
	testca_rmdir(dir);
	return 0;
}

static int
watch_setup(void **state)
{
	(void)state;
	watch[0] = PASS;
	watch_len[0] = strlen(PASS);
	watch[1] = keyline;
	watch_len[1] = strlen(keyline);
	seen = 0;
	return 0;
}

static int
watch_teardown(void **state)
{
	(void)state;
	watch[0] = watch[1] = NULL;
	return 0;
}

/* The watch itself works: a secret freed without wiping is seen. */
static void
test_buffer_freed_without_wiping_is_detected(void **state)
{
	char *p;

	(void)state;
	assert_non_null(p = OPENSSL_malloc(100));
	snprintf(p, 100, "xx%syy", PASS);
	OPENSSL_free(p);
	assert_int_equal(seen, 1);
	assert_non_null(p = OPENSSL_malloc(100));
	snprintf(p, 100, "xx%syy", PASS);
	OPENSSL_clear_free(p, 100);
	assert_int_equal(seen, 1);
}

static void
test_wrong_passphrase_leaves_no_secret_in_freed_memory(void **state)
{
	struct eca_err err;
	EVP_PKEY *k = NULL;

	(void)state;
	assert_int_equal(eca_x509_load_key(NULL, testca_path(dir, "enc.pem"),
			     testca_path(dir, "wrongpass"), &k, &err),
	    ECA_ERR_PASSPHRASE);
	assert_null(k);
	assert_null(strstr(err.msg, PASS));
	assert_int_equal(seen, 0);
}

static void
test_refused_passphrase_file_leaves_no_secret_in_freed_memory(void **state)
{
	struct eca_err err;
	EVP_PKEY *k = NULL;

	(void)state;
	assert_int_equal(eca_x509_load_key(NULL, testca_path(dir, "enc.pem"),
			     testca_path(dir, "openpass"), &k, &err),
	    ECA_ERR_FILE_PERMISSIONS);
	assert_null(k);
	assert_null(strstr(err.msg, PASS));
	assert_int_equal(seen, 0);
}

static void
test_encrypted_key_load_leaves_no_passphrase_in_freed_memory(void **state)
{
	struct eca_err err;
	EVP_PKEY *k = NULL;

	(void)state;
	assert_int_equal(eca_x509_load_key(NULL, testca_path(dir, "enc.pem"),
			     testca_path(dir, "pass"), &k, &err),
	    0);
	assert_non_null(k);
	assert_int_equal(EVP_PKEY_eq(k, key), 1);
	EVP_PKEY_free(k);
	assert_int_equal(seen, 0);
}

static void
test_plain_key_file_contents_are_wiped_before_free(void **state)
{
	struct eca_err err;
	EVP_PKEY *k = NULL;

	(void)state;
	assert_int_equal(eca_x509_load_key(NULL, testca_path(dir, "plain.pem"),
			     NULL, &k, &err),
	    0);
	assert_non_null(k);
	EVP_PKEY_free(k);
	assert_int_equal(seen, 0);
	assert_int_equal(ERR_peek_error(), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_buffer_freed_without_wiping_is_detected, watch_setup,
		watch_teardown),
	    cmocka_unit_test_setup_teardown(
		test_wrong_passphrase_leaves_no_secret_in_freed_memory,
		watch_setup, watch_teardown),
	    cmocka_unit_test_setup_teardown(
		test_refused_passphrase_file_leaves_no_secret_in_freed_memory,
		watch_setup, watch_teardown),
	    cmocka_unit_test_setup_teardown(
		test_encrypted_key_load_leaves_no_passphrase_in_freed_memory,
		watch_setup, watch_teardown),
	    cmocka_unit_test_setup_teardown(
		test_plain_key_file_contents_are_wiped_before_free, watch_setup,
		watch_teardown),
	};

	/* Before OpenSSL allocates anything, or it refuses. */
	if (CRYPTO_set_mem_functions(hook_malloc, hook_realloc, hook_free) !=
	    1) {
		fprintf(stderr, "cannot replace OpenSSL's allocator\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
