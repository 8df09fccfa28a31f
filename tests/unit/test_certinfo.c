/* SPDX-License-Identifier: ISC */
/*
 * test_certinfo.c - a certificate's dNSNames: inline when short, owned on
 * the heap when long, refused beyond the bound, copied without sharing.
 * Refusals first.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certinfo.h"

/* n bytes of "a.b,a.b,..." cut to exactly n (caller frees). */
static char *
text_of(size_t n)
{
	char *s = malloc(n + 1);
	size_t i;

	assert_non_null(s);
	for (i = 0; i < n; i++)
		s[i] = (i % 4 == 3) ? ',' : 'a';
	s[n] = '\0';
	return s;
}

static void
test_beyond_the_bound_is_refused_never_cut(void **state)
{
	static struct eca_certinfo ci;
	struct eca_err err;
	char *s = text_of(ECA_SAN_MAX);

	(void)state;
	eca_err_clear(&err);
	assert_int_equal(eca_certinfo_set_san(&ci, s, ECA_SAN_MAX, &err),
	    ECA_ERR_BAD_CERTIFICATE);
	assert_non_null(strstr(err.msg, "fewer names"));
	assert_string_equal(eca_certinfo_san(&ci), "");
	assert_null(ci.san_heap);
	/* One byte less fits whole. */
	assert_int_equal(eca_certinfo_set_san(&ci, s, ECA_SAN_MAX - 1, &err),
	    0);
	assert_int_equal(strlen(eca_certinfo_san(&ci)), ECA_SAN_MAX - 1);
	eca_certinfo_clear(&ci);
	free(s);
}

static void
test_short_text_stays_inline(void **state)
{
	static struct eca_certinfo ci;
	char *s = text_of(ECA_SAN_INLINE - 1);

	(void)state;
	assert_int_equal(
	    eca_certinfo_set_san(&ci, "a.example,b.example", 19, NULL), 0);
	assert_null(ci.san_heap);
	assert_string_equal(eca_certinfo_san(&ci), "a.example,b.example");
	assert_int_equal(eca_certinfo_set_san(&ci, s, strlen(s), NULL), 0);
	assert_null(ci.san_heap);
	assert_string_equal(eca_certinfo_san(&ci), s);
	eca_certinfo_clear(&ci);
	free(s);
}

static void
test_long_text_is_owned_and_copied_apart(void **state)
{
	static struct eca_certinfo a, b, sum;
	char *s = text_of(20000);

	(void)state;
	assert_int_equal(eca_certinfo_set_san(&a, s, strlen(s), NULL), 0);
	assert_non_null(a.san_heap);
	snprintf(a.fingerprint, sizeof(a.fingerprint), "%064d", 7);
	assert_int_equal(eca_certinfo_copy(&b, &a, NULL), 0);
	assert_ptr_not_equal(b.san_heap, a.san_heap);
	assert_string_equal(b.fingerprint, a.fingerprint);
	/* A summary names the certificate and owns nothing. */
	eca_certinfo_summary(&sum, &a);
	assert_null(sum.san_heap);
	assert_string_equal(sum.fingerprint, a.fingerprint);
	eca_certinfo_clear(&a);
	assert_string_equal(eca_certinfo_san(&a), "");
	assert_string_equal(eca_certinfo_san(&b), s);
	/* Setting anew releases the old text (no leak under ASan). */
	assert_int_equal(eca_certinfo_set_san(&b, "x.example", 9, NULL), 0);
	assert_null(b.san_heap);
	eca_certinfo_clear(&b);
	eca_certinfo_clear(NULL);
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_beyond_the_bound_is_refused_never_cut),
	    cmocka_unit_test(test_short_text_stays_inline),
	    cmocka_unit_test(test_long_text_is_owned_and_copied_apart),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
