/* SPDX-License-Identifier: ISC */
/*
 * test_hostname.c - the canonical form of a host name: what is refused
 * (and why), then what is folded.  Table-driven.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "certinfo.h"
#include "hostname.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct bad_case {
	const char *in;
	const char *why; /* a piece of the message */
};

static void
test_refused(void **state)
{
	char l64[80], long254[300], out[ECA_HOST_MAX];
	struct eca_err e;
	size_t i;
	const struct bad_case cases[] = {
	    {"", "empty"},
	    {"media1.example.", "ends with a dot"},
	    {".", "ends with a dot"},
	    {".media1.example", "empty label"},
	    {"media1..example", "empty label"},
	    {"media_1.example", "'_' is not allowed"},
	    {"_srv.example", "'_' is not allowed"},
	    {"-media1.example", "starts with '-'"},
	    {"media1-.example", "ends with '-'"},
	    {"media1.-example", "starts with '-'"},
	    {"media1.example-", "ends with '-'"},
	    {"media 1.example", "only letters"},
	    {"*.example", "only letters"},
	    {"media1.example:1556", "only letters"},
	    {"m\xc3\xa9"
	     "dia.example",
		"only letters"},
	    {"media1/../x", "only letters"},
	    {"media1.example\n", "only letters"},
	    {"CN=media1,O=x", "only letters"},
	    {l64, "longer than 63"},
	    {long254, "longer than 253"},
	};

	(void)state;
	memset(l64, 'a', 64);
	snprintf(l64 + 64, sizeof(l64) - 64, ".example");
	/* 254 characters in labels of 50. */
	for (i = 0; i < 254; i++)
		long254[i] = i % 51 == 50 ? '.' : 'a';
	long254[254] = '\0';
	for (i = 0; i < NELEM(cases); i++) {
		eca_err_clear(&e);
		memset(out, 'x', sizeof(out));
		assert_int_equal(
		    eca_hostname_canon(cases[i].in, out, sizeof(out), &e),
		    ECA_ERR_BAD_HOST_NAME);
		assert_int_equal(e.code, ECA_ERR_BAD_HOST_NAME);
		if (strstr(e.msg, cases[i].why) == NULL)
			fail_msg("case %zu: '%s' not in '%s'", i, cases[i].why,
			    e.msg);
		assert_non_null(strstr(e.msg, "is not a valid host name"));
		assert_string_equal(out, "");
		assert_false(eca_hostname_valid(cases[i].in));
		assert_false(eca_hostname_is_canon(cases[i].in));
		assert_false(eca_hostname_eq(cases[i].in, cases[i].in));
	}
}

static void
test_refused_odd_arguments(void **state)
{
	char out[8], big[ECA_HOST_MAX];
	struct eca_err e;

	(void)state;
	assert_int_equal(eca_hostname_canon(NULL, big, sizeof(big), &e),
	    ECA_ERR_BAD_HOST_NAME);
	assert_false(eca_hostname_valid(NULL));
	assert_false(eca_hostname_is_canon(NULL));
	assert_false(eca_hostname_eq(NULL, "a"));
	/* No room: an internal error, never a truncated name. */
	assert_int_equal(
	    eca_hostname_canon("media1.example", out, sizeof(out), &e),
	    ECA_ERR_INTERNAL);
	/* A NUL inside a counted name (a certificate's dNSName). */
	assert_int_equal(
	    eca_hostname_canon_n("a\0.evil", 7, big, sizeof(big), NULL),
	    ECA_ERR_BAD_HOST_NAME);
	/* Unprintable bytes are not echoed. */
	assert_int_equal(eca_hostname_canon("a\033[2Jb", big, sizeof(big), &e),
	    ECA_ERR_BAD_HOST_NAME);
	assert_null(strchr(e.msg, '\033'));
}

struct good_case {
	const char *in;
	const char *canon;
};

static void
test_folded(void **state)
{
	char l63[80], max253[260], out[ECA_HOST_MAX];
	struct eca_err e;
	size_t i;
	const struct good_case cases[] = {
	    {"media1.example", "media1.example"},
	    {"MEDIA1.EXAMPLE", "media1.example"},
	    {"Media1.Example", "media1.example"},
	    {"mEdIa1.It.TeSt", "media1.it.test"},
	    {"localhost", "localhost"},
	    {"H1", "h1"},
	    {"1", "1"},
	    {"10.0.0.1", "10.0.0.1"},
	    {"123.example", "123.example"},
	    {"a-b.c-d.example", "a-b.c-d.example"},
	    {"XN--BCHER-KVA.example", "xn--bcher-kva.example"},
	    {"xn--bcher-kva.example", "xn--bcher-kva.example"},
	    {l63, l63},
	    {max253, max253},
	};

	(void)state;
	memset(l63, 'a', 63);
	snprintf(l63 + 63, sizeof(l63) - 63, ".example");
	/* 253 characters in labels of 50. */
	for (i = 0; i < 253; i++)
		max253[i] = i % 51 == 50 ? '.' : 'a';
	max253[253] = '\0';
	for (i = 0; i < NELEM(cases); i++) {
		eca_err_clear(&e);
		if (eca_hostname_canon(cases[i].in, out, sizeof(out), &e) != 0)
			fail_msg("case %zu (%s): %s", i, cases[i].in, e.msg);
		assert_string_equal(out, cases[i].canon);
		assert_true(eca_hostname_valid(cases[i].in));
		assert_true(eca_hostname_is_canon(cases[i].canon));
		assert_true(eca_hostname_eq(cases[i].in, cases[i].canon));
		assert_int_equal(eca_hostname_is_canon(cases[i].in),
		    strcmp(cases[i].in, cases[i].canon) == 0);
	}
	assert_false(eca_hostname_eq("media1.example", "media2.example"));
}

static void
test_in_place(void **state)
{
	char buf[ECA_HOST_MAX];

	(void)state;
	snprintf(buf, sizeof(buf), "MEDIA1.Example");
	assert_int_equal(eca_hostname_canon(buf, buf, sizeof(buf), NULL), 0);
	assert_string_equal(buf, "media1.example");
	/* Counted, not NUL-terminated: the first 6 bytes only. */
	assert_int_equal(
	    eca_hostname_canon_n("MEDIA1.x", 6, buf, sizeof(buf), NULL), 0);
	assert_string_equal(buf, "media1");
}

/*
 * The fold alone (roster lookups): it refuses only what is too long or
 * does not fit, changes A-Z and nothing else, gives a valid name its
 * canonical form, and leaves an invalid name invalid.
 */
static void
test_fold_refuses_what_is_too_long_or_does_not_fit(void **state)
{
	char long254[300], out[ECA_HOST_MAX];

	(void)state;
	memset(long254, 'a', 254);
	long254[254] = '\0';
	assert_int_equal(eca_hostname_fold(long254, out, sizeof(out)), -1);
	assert_int_equal(eca_hostname_fold(NULL, out, sizeof(out)), -1);
	assert_int_equal(eca_hostname_fold("a.example", NULL, 64), -1);
	/* No room for the NUL. */
	assert_int_equal(eca_hostname_fold("a.example", out, 9), -1);
	assert_int_equal(eca_hostname_fold("a.example", out, 10), 9);
	assert_int_equal(eca_hostname_fold("", out, sizeof(out)), 0);
	assert_string_equal(out, "");
}

/* in folds to want, into another buffer and in place. */
static void
assert_folds_to(const char *in, const char *want)
{
	char out[ECA_HOST_MAX], same[ECA_HOST_MAX];
	int len = (int)strlen(in);

	assert_int_equal(eca_hostname_fold(in, out, sizeof(out)), len);
	assert_string_equal(out, want);
	snprintf(same, sizeof(same), "%s", in);
	assert_int_equal(eca_hostname_fold(same, same, sizeof(same)), len);
	assert_string_equal(same, want);
}

static void
test_fold_changes_only_ascii_capitals(void **state)
{
	char in[24], want[24];
	unsigned b;
	size_t len, at;

	(void)state;
	/* Every byte at every place, in names shorter and longer than a word. */
	for (len = 1; len < 20; len++)
		for (b = 1; b < 256; b++)
			for (at = 0; at < len; at++) {
				memset(in, 'Q', len);
				memset(want, 'q', len);
				in[len] = want[len] = '\0';
				in[at] = (char)b;
				want[at] = (char)b;
				if (b >= 'A' && b <= 'Z')
					want[at] = (char)(b + ('a' - 'A'));
				assert_folds_to(in, want);
			}
}

static void
test_fold_gives_a_valid_name_its_canonical_form(void **state)
{
	const char *names[] = {"MEDIA1.EXAMPLE", "mEdIa1.It.TeSt", "H1",
	    "XN--BCHER-KVA.example", "client0000123.DC3.example.COM",
	    "media1.example"};
	char c[ECA_HOST_MAX], f[ECA_HOST_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(names); i++) {
		assert_int_equal(
		    eca_hostname_canon(names[i], c, sizeof(c), NULL), 0);
		assert_int_equal(eca_hostname_fold(names[i], f, sizeof(f)),
		    (int)strlen(names[i]));
		assert_string_equal(f, c);
	}
}

static void
test_fold_leaves_an_invalid_name_invalid(void **state)
{
	const char *names[] = {"MEDIA1.EXAMPLE.", "MEDIA_1.example",
	    "-MEDIA1.example", "MEDIA1-.example", "MEDIA1..example", ".MEDIA1",
	    "MED\xc4\xb0"
	    "A1.example",
	    "MEDIA 1.example", "\xc1.example", "MEDIA1.EXAMPLE_"};
	char f[ECA_HOST_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(names); i++) {
		assert_false(eca_hostname_valid(names[i]));
		assert_true(eca_hostname_fold(names[i], f, sizeof(f)) > 0);
		if (eca_hostname_valid(f))
			fail_msg("case %zu: folded to the valid \"%s\"", i, f);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_refused_odd_arguments),
	    cmocka_unit_test(test_folded),
	    cmocka_unit_test(test_in_place),
	    cmocka_unit_test(
		test_fold_refuses_what_is_too_long_or_does_not_fit),
	    cmocka_unit_test(test_fold_changes_only_ascii_capitals),
	    cmocka_unit_test(test_fold_gives_a_valid_name_its_canonical_form),
	    cmocka_unit_test(test_fold_leaves_an_invalid_name_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
