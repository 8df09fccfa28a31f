/* SPDX-License-Identifier: ISC */
/*
 * test_session.c - the web console's sign-in links, sessions and failed
 * sign-in counts (session.c), with the clock given by the tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "session.h"

#define T0 1800000000LL

static struct eca_sessions *
sessions(void)
{
	struct eca_session_limits lim = {300, 1800, 12 * 3600};
	struct eca_sessions *s = NULL;

	assert_int_equal(eca_sessions_new(&lim, &s), 0);
	return s;
}

static void
link_at(struct eca_sessions *s, int64_t now, char *token)
{
	struct eca_err err;
	int64_t exp;

	assert_int_equal(eca_link_new(s, "local:0", now, token, &exp, &err), 0);
	assert_int_equal(exp, now + 300);
	assert_int_equal(strlen(token), ECA_SECRET_HEX);
}

/* ---- refusals ---- */

static void
test_an_unknown_token_is_refused(void **state)
{
	struct eca_sessions *s = sessions();
	struct eca_session_info si;
	struct eca_err err;

	(void)state;
	assert_int_equal(eca_link_use(s, "", "a", T0, &si, &err),
	    ECA_ERR_UNAUTHENTICATED);
	assert_int_equal(eca_link_use(s, "00", "a", T0, &si, &err),
	    ECA_ERR_UNAUTHENTICATED);
	assert_non_null(strstr(err.msg, "not known"));
	assert_non_null(strstr(err.msg, "eca console login"));
	eca_sessions_free(s);
}

static void
test_a_link_signs_in_once(void **state)
{
	struct eca_sessions *s = sessions();
	struct eca_session_info si;
	char token[ECA_SECRET_HEX + 1];
	struct eca_err err;

	(void)state;
	link_at(s, T0, token);
	assert_int_equal(
	    eca_link_use(s, token, "127.0.0.1:5", T0 + 1, &si, &err), 0);
	assert_string_equal(si.identity, "local:0");
	assert_string_equal(si.source, "127.0.0.1:5");
	assert_int_equal(strlen(si.id), ECA_SECRET_HEX);
	assert_int_equal(strlen(si.csrf), ECA_SECRET_HEX);
	assert_string_not_equal(si.id, si.csrf);
	assert_int_equal(eca_link_use(s, token, "a", T0 + 2, &si, &err),
	    ECA_ERR_UNAUTHENTICATED);
	assert_non_null(strstr(err.msg, "used already"));
	eca_sessions_free(s);
}

static void
test_an_expired_link_is_refused(void **state)
{
	struct eca_sessions *s = sessions();
	struct eca_session_info si;
	char token[ECA_SECRET_HEX + 1];
	struct eca_err err;

	(void)state;
	link_at(s, T0, token);
	assert_int_equal(eca_link_use(s, token, "a", T0 + 300, &si, &err),
	    ECA_ERR_UNAUTHENTICATED);
	assert_non_null(strstr(err.msg, "expired"));
	eca_sessions_free(s);
}

static void
test_sessions_end_idle_or_at_their_limit(void **state)
{
	struct eca_sessions *s = sessions();
	struct eca_session_info si, got;
	struct eca_err err;
	int64_t t;

	(void)state;
	assert_int_equal(eca_session_open(s, "admin", "a", T0, &si, &err), 0);
	assert_int_equal(eca_session_get(s, si.id, T0 + 1799, &got, &err), 0);
	assert_int_equal(
	    eca_session_get(s, si.id, T0 + 1799 + 1800, &got, &err),
	    ECA_ERR_UNAUTHENTICATED);
	assert_non_null(strstr(err.msg, "idle"));
	/* Used every 20 minutes: still ends after 12 hours. */
	assert_int_equal(eca_session_open(s, "admin", "a", T0, &si, &err), 0);
	for (t = T0; t < T0 + 12 * 3600; t += 1200)
		assert_int_equal(eca_session_get(s, si.id, t, &got, &err), 0);
	assert_int_equal(eca_session_get(s, si.id, T0 + 12 * 3600, &got, &err),
	    ECA_ERR_UNAUTHENTICATED);
	assert_non_null(strstr(err.msg, "CONSOLE_SESSION_HOURS"));
	eca_sessions_free(s);
}

static void
test_the_csrf_token_must_match_whole(void **state)
{
	struct eca_sessions *s = sessions();
	struct eca_session_info si;
	char wrong[ECA_SECRET_HEX + 1];
	struct eca_err err;

	(void)state;
	assert_int_equal(eca_session_open(s, "admin", "a", T0, &si, &err), 0);
	assert_false(eca_session_csrf_ok(&si, NULL));
	assert_false(eca_session_csrf_ok(&si, ""));
	assert_false(eca_session_csrf_ok(&si, si.id));
	memcpy(wrong, si.csrf, sizeof(wrong));
	wrong[ECA_SECRET_HEX - 1] ^= 1;
	assert_false(eca_session_csrf_ok(&si, wrong));
	wrong[ECA_SECRET_HEX - 1] = '\0';
	assert_false(eca_session_csrf_ok(&si, wrong));
	assert_true(eca_session_csrf_ok(&si, si.csrf));
	eca_sessions_free(s);
}

static void
test_revoke_needs_eight_digits_of_one_session(void **state)
{
	struct eca_sessions *s = sessions();
	struct eca_session_info si, gone;
	struct eca_err err;
	char prefix[9];

	(void)state;
	assert_int_equal(eca_session_open(s, "admin", "a", T0, &si, &err), 0);
	assert_int_equal(eca_session_end(s, "abc", &gone, &err), ECA_ERR_USAGE);
	assert_int_equal(eca_session_end(s, "ABCDEF01", &gone, &err),
	    ECA_ERR_USAGE);
	snprintf(prefix, sizeof(prefix), "%.8s", si.id);
	prefix[0] = prefix[0] == '0' ? '1' : '0';
	assert_int_equal(eca_session_end(s, prefix, &gone, &err),
	    ECA_ERR_NOT_FOUND);
	snprintf(prefix, sizeof(prefix), "%.8s", si.id);
	assert_int_equal(eca_session_end(s, prefix, &gone, &err), 0);
	assert_string_equal(gone.identity, "admin");
	assert_int_equal(eca_session_get(s, si.id, T0, &gone, &err),
	    ECA_ERR_UNAUTHENTICATED);
	eca_sessions_free(s);
}

static void
test_failed_signins_block_an_address_for_a_minute(void **state)
{
	struct eca_sessions *s = sessions();
	int i;

	(void)state;
	for (i = 0; i < ECA_SIGNIN_FAILS - 1; i++)
		eca_signin_failed(s, "192.0.2.1", T0);
	assert_false(eca_signin_blocked(s, "192.0.2.1", T0));
	eca_signin_failed(s, "192.0.2.1", T0 + 10);
	assert_true(eca_signin_blocked(s, "192.0.2.1", T0 + 10));
	assert_false(eca_signin_blocked(s, "192.0.2.2", T0 + 10));
	assert_false(eca_signin_blocked(s, "192.0.2.1", T0 + 60));
	eca_sessions_free(s);
}

/* ---- what is let through ---- */

static void
test_the_list_shows_prefixes_and_no_csrf(void **state)
{
	struct eca_sessions *s = sessions();
	struct eca_session_info si, list[ECA_SESSIONS_MAX];
	struct eca_err err;

	(void)state;
	assert_int_equal(eca_session_list(s, T0, list, ECA_SESSIONS_MAX), 0);
	assert_int_equal(eca_session_open(s, "admin", "a", T0, &si, &err), 0);
	assert_int_equal(eca_session_list(s, T0, list, ECA_SESSIONS_MAX), 1);
	assert_int_equal(strlen(list[0].id), ECA_SESSION_PREFIX);
	assert_memory_equal(list[0].id, si.id, ECA_SESSION_PREFIX);
	assert_string_equal(list[0].csrf, "");
	assert_string_equal(list[0].identity, "admin");
	eca_sessions_free(s);
}

static void
test_a_full_table_refuses_busy(void **state)
{
	struct eca_sessions *s = sessions();
	struct eca_session_info si;
	struct eca_err err;
	int i;

	(void)state;
	for (i = 0; i < ECA_SESSIONS_MAX; i++)
		assert_int_equal(eca_session_open(s, "a", "a", T0, &si, &err),
		    0);
	assert_int_equal(eca_session_open(s, "a", "a", T0, &si, &err),
	    ECA_ERR_BUSY);
	/* Idle ones make room. */
	assert_int_equal(eca_session_open(s, "a", "a", T0 + 1800, &si, &err),
	    0);
	eca_sessions_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_an_unknown_token_is_refused),
	    cmocka_unit_test(test_a_link_signs_in_once),
	    cmocka_unit_test(test_an_expired_link_is_refused),
	    cmocka_unit_test(test_sessions_end_idle_or_at_their_limit),
	    cmocka_unit_test(test_the_csrf_token_must_match_whole),
	    cmocka_unit_test(test_revoke_needs_eight_digits_of_one_session),
	    cmocka_unit_test(test_failed_signins_block_an_address_for_a_minute),
	    cmocka_unit_test(test_the_list_shows_prefixes_and_no_csrf),
	    cmocka_unit_test(test_a_full_table_refuses_busy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
