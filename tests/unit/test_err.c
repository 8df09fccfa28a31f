/* SPDX-License-Identifier: ISC */
/*
 * test_err.c - the one error table: names, HTTP statuses, exit codes, and
 * the error detail buffer.  Refusals and odd inputs first.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "err.h"

/* Every code of the X-macro list, to walk the table from outside. */
static const int all_codes[] = {
#define ECA_ERR_CODE(n, h, x, d) ECA_ERR_##n,
    ECA_ERRORS(ECA_ERR_CODE)
#undef ECA_ERR_CODE
};
#define NCODES (sizeof(all_codes) / sizeof(all_codes[0]))

static void
test_unknown_name_maps_to_internal(void **state)
{
	(void)state;
	assert_int_equal(eca_err_from_name("NO_SUCH_REASON"), ECA_ERR_INTERNAL);
	assert_int_equal(eca_err_from_name(""), ECA_ERR_INTERNAL);
	assert_int_equal(eca_err_from_name(NULL), ECA_ERR_INTERNAL);
	/* Names are exact: the API's codes are upper case. */
	assert_int_equal(eca_err_from_name("conflict"), ECA_ERR_INTERNAL);
	assert_int_equal(eca_err_from_name("CONFLICT "), ECA_ERR_INTERNAL);
}

static void
test_unknown_code_has_safe_fallbacks(void **state)
{
	(void)state;
	assert_string_equal(eca_err_desc(-1), "unknown error");
	assert_string_equal(eca_err_desc(12345), "unknown error");
	assert_string_equal(eca_err_name(-1), "INTERNAL");
	assert_int_equal(eca_err_http_status(-1), 500);
	assert_int_equal(eca_err_exit_code(-1), ECA_EXIT_FAILURE);
	assert_int_equal(eca_err_http_status(ECA_ERR_LAST_), 500);
}

static void
test_null_error_buffer_is_accepted(void **state)
{
	(void)state;
	/* Callers that want only the code pass NULL. */
	assert_int_equal(eca_err_set(NULL, ECA_ERR_PARSE, "x %d", 1),
	    ECA_ERR_PARSE);
	eca_err_clear(NULL);
	ERR_raise(ERR_LIB_EVP, EVP_R_UNSUPPORTED_ALGORITHM);
	assert_int_not_equal(ERR_peek_error(), 0);
	eca_err_add_openssl(NULL);
	/* Even without a buffer the queue is cleared. */
	assert_int_equal(ERR_peek_error(), 0);
}

static void
test_long_message_is_truncated_and_terminated(void **state)
{
	struct eca_err e;
	char big[2 * ECA_ERR_MSG_MAX];

	(void)state;
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memset(&e, 0x55, sizeof(e));
	assert_int_equal(eca_err_set(&e, ECA_ERR_IO, "%s", big), ECA_ERR_IO);
	assert_int_equal(e.code, ECA_ERR_IO);
	assert_int_equal(strlen(e.msg), ECA_ERR_MSG_MAX - 1);
	assert_int_equal(e.msg[ECA_ERR_MSG_MAX - 1], '\0');
	assert_int_equal(e.msg[0], 'z');
}

static void
test_openssl_detail_is_not_appended_past_a_full_buffer(void **state)
{
	struct eca_err e;
	char big[2 * ECA_ERR_MSG_MAX];

	(void)state;
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	(void)eca_err_set(&e, ECA_ERR_PARSE, "%s", big);
	ERR_raise(ERR_LIB_EVP, EVP_R_UNSUPPORTED_ALGORITHM);
	eca_err_add_openssl(&e);
	assert_int_equal(strlen(e.msg), ECA_ERR_MSG_MAX - 1);
	assert_int_equal(e.code, ECA_ERR_PARSE);
	assert_int_equal(ERR_peek_error(), 0);
}

static void
test_empty_openssl_queue_leaves_message_alone(void **state)
{
	struct eca_err e;

	(void)state;
	ERR_clear_error();
	(void)eca_err_set(&e, ECA_ERR_PARSE, "cannot parse cert.pem");
	eca_err_add_openssl(&e);
	assert_string_equal(e.msg, "cannot parse cert.pem");
}

/* ---- the table as it should be ---- */

static void
test_every_name_round_trips(void **state)
{
	size_t i, j;

	(void)state;
	assert_true(NCODES > 30);
	for (i = 0; i < NCODES; i++) {
		const char *name = eca_err_name(all_codes[i]);

		assert_true(all_codes[i] < 0);
		assert_int_equal(eca_err_from_name(name), all_codes[i]);
		assert_string_not_equal(eca_err_desc(all_codes[i]),
		    "unknown error");
		/* Reason codes are UPPER_SNAKE, as the API promises. */
		assert_true(strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") ==
		    strlen(name));
		for (j = i + 1; j < NCODES; j++)
			assert_int_not_equal(all_codes[i], all_codes[j]);
	}
	assert_string_equal(eca_err_name(0), "OK");
	assert_int_equal(eca_err_from_name("OK"), 0);
	assert_string_equal(eca_err_name(ECA_ERR_CONFLICT), "CONFLICT");
	assert_string_equal(eca_err_desc(0), "success");
	assert_string_equal(eca_err_desc(ECA_ERR_EXPIRED),
	    "certificate expired");
}

static void
test_key_codes_have_documented_status_and_exit_code(void **state)
{
	(void)state;
	assert_int_equal(eca_err_http_status(0), 200);
	assert_int_equal(eca_err_exit_code(0), ECA_EXIT_OK);
	assert_int_equal(eca_err_http_status(ECA_ERR_CONFLICT), 409);
	assert_int_equal(eca_err_exit_code(ECA_ERR_CONFLICT), ECA_EXIT_REFUSED);
	assert_int_equal(eca_err_exit_code(ECA_ERR_CONFLICT), 5);
	assert_int_equal(eca_err_http_status(ECA_ERR_NOT_ENROLLED), 404);
	assert_int_equal(eca_err_exit_code(ECA_ERR_NOT_ENROLLED), 3);
	assert_int_equal(eca_err_exit_code(ECA_ERR_UNREACHABLE), 4);
	assert_int_equal(eca_err_http_status(ECA_ERR_BUSY), 429);
	assert_int_equal(eca_err_http_status(ECA_ERR_IDENTITY_MISMATCH), 403);
	assert_int_equal(eca_err_http_status(ECA_ERR_UNTRUSTED), 422);
	assert_int_equal(eca_err_exit_code(ECA_ERR_USAGE), ECA_EXIT_USAGE);
	assert_int_equal(eca_err_exit_code(ECA_ERR_BANNED), 5);
	assert_int_equal(eca_err_exit_code(ECA_ERR_REVOKED), 5);
	assert_int_equal(eca_err_exit_code(ECA_ERR_INTERNAL), 1);
}

static void
test_every_code_has_a_valid_status_and_exit_code(void **state)
{
	size_t i;
	int h, x;

	(void)state;
	for (i = 0; i < NCODES; i++) {
		h = eca_err_http_status(all_codes[i]);
		x = eca_err_exit_code(all_codes[i]);
		assert_true(h >= 400 && h <= 599);
		assert_true(x >= ECA_EXIT_FAILURE && x <= ECA_EXIT_REFUSED);
	}
}

static void
test_set_formats_and_returns_the_code(void **state)
{
	struct eca_err e;

	(void)state;
	assert_int_equal(eca_err_set(&e, ECA_ERR_EXPIRED,
			     "certificate of %s expired on %d-%02d-%02d",
			     "host1", 2024, 3, 9),
	    ECA_ERR_EXPIRED);
	assert_int_equal(e.code, ECA_ERR_EXPIRED);
	assert_string_equal(e.msg,
	    "certificate of host1 expired on 2024-03-09");
	eca_err_clear(&e);
	assert_int_equal(e.code, 0);
	assert_string_equal(e.msg, "");
}

static void
test_openssl_error_is_appended_and_queue_cleared(void **state)
{
	struct eca_err e;
	char expect[256];

	(void)state;
	ERR_clear_error();
	ERR_raise(ERR_LIB_EVP, EVP_R_UNSUPPORTED_ALGORITHM);
	ERR_error_string_n(ERR_peek_last_error(), expect, sizeof(expect));
	ERR_raise(ERR_LIB_EVP, EVP_R_UNSUPPORTED_ALGORITHM);
	(void)eca_err_set(&e, ECA_ERR_PARSE, "cannot parse key.pem");
	eca_err_add_openssl(&e);
	assert_int_equal(strncmp(e.msg, "cannot parse key.pem: ", 22), 0);
	assert_string_equal(e.msg + 22, expect);
	assert_non_null(strstr(e.msg, "unsupported algorithm"));
	assert_int_equal(e.code, ECA_ERR_PARSE);
	assert_int_equal(ERR_peek_error(), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_unknown_name_maps_to_internal),
	    cmocka_unit_test(test_unknown_code_has_safe_fallbacks),
	    cmocka_unit_test(test_null_error_buffer_is_accepted),
	    cmocka_unit_test(test_long_message_is_truncated_and_terminated),
	    cmocka_unit_test(
		test_openssl_detail_is_not_appended_past_a_full_buffer),
	    cmocka_unit_test(test_empty_openssl_queue_leaves_message_alone),
	    cmocka_unit_test(test_every_name_round_trips),
	    cmocka_unit_test(
		test_key_codes_have_documented_status_and_exit_code),
	    cmocka_unit_test(test_every_code_has_a_valid_status_and_exit_code),
	    cmocka_unit_test(test_set_formats_and_returns_the_code),
	    cmocka_unit_test(test_openssl_error_is_appended_and_queue_cleared),
	};

	return cmocka_run_group_tests_name("err", tests, NULL, NULL);
}
