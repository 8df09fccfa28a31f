/* SPDX-License-Identifier: ISC */
/*
 * test_apiparse.c - ecad's route matching and query-string rules
 * (src/daemon/apiparse.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "apiparse.h"
#include "roster.h"
#include "store.h"

static void
assert_list_refused(const char *q, const char *phrase)
{
	struct api_list_query lq;
	struct eca_err err;

	eca_err_clear(&err);
	assert_int_equal(api_parse_list_query(q, &lq, &err),
	    ECA_ERR_BAD_REQUEST);
	if (strstr(err.msg, phrase) == NULL)
		fail_msg("\"%s\" lacks \"%s\"", err.msg, phrase);
}

static void
assert_roster_refused(const char *q, const char *phrase)
{
	struct eca_err err;
	int64_t since;
	long limit;

	eca_err_clear(&err);
	assert_int_equal(api_parse_roster_query(q, &since, &limit, &err),
	    ECA_ERR_BAD_REQUEST);
	if (strstr(err.msg, phrase) == NULL)
		fail_msg("\"%s\" lacks \"%s\"", err.msg, phrase);
}

/* ---- refusals ---- */

static void
test_route_star_needs_a_nonempty_segment_that_fits(void **state)
{
	char name[8];

	(void)state;
	assert_false(api_route_match("/v1/enrollments/*", "/v1/enrollments/",
	    name, sizeof(name)));
	assert_false(api_route_match("/v1/enrollments/*",
	    "/v1/enrollments/longer-than-8", name, sizeof(name)));
	assert_false(api_route_match("/v1/enrollments/*",
	    "/v1/enrollments/a/history", name, sizeof(name)));
	assert_false(
	    api_route_match("/v1/health", "/v1/healthz", name, sizeof(name)));
	assert_false(
	    api_route_match("/v1/health", "/v1/healt", name, sizeof(name)));
}

static void
test_list_query_refuses_each_bad_parameter(void **state)
{
	(void)state;
	assert_list_refused("colour=blue", "unknown query parameter 'colour'");
	assert_list_refused("state=MAYBE", "unknown state 'MAYBE'");
	assert_list_refused("state=ENROLLEDENROLLEDENROLLEDENROLLED",
	    "unknown state");
	assert_list_refused("after=-bad-", "'after' must be a host name");
	assert_list_refused("limit=0", "'limit' must be a number from 1");
	assert_list_refused("limit=1001", "'limit' must be a number from 1");
	assert_list_refused("limit=12abc", "'limit' must be a number");
	assert_list_refused("limit=", "'limit' must be a number");
	assert_list_refused("limit=99999999999999999999999", "'limit'");
	assert_list_refused("prefix=a%20b", "'prefix' must be the start");
	assert_list_refused("prefix=a_b", "'prefix' must be the start");
}

static void
test_roster_query_refuses_each_bad_parameter(void **state)
{
	(void)state;
	assert_roster_refused("since=-1", "'since' must be a roster version");
	assert_roster_refused("since=x", "'since' must be a roster version");
	assert_roster_refused("since=99999999999999999999", "'since'");
	assert_roster_refused("limit=0", "'limit' must be a number from 1");
	assert_roster_refused("limit=5001", "'limit' must be a number from 1");
	assert_roster_refused("state=ENROLLED", "unknown query parameter");
}

/* A decoded query is the caller's bytes: quoted escaped, never raw. */
static void
test_query_text_in_messages_is_escaped(void **state)
{
	(void)state;
	assert_list_refused("\x1b[31m=1", "parameter '\\x1b[31m'");
	assert_list_refused("state=%1b%5d0x%07", "state '\\x1b]0x\\x07'");
	assert_roster_refused("a\nb=1", "parameter 'a\\x0ab'");
}

/* ---- acceptance ---- */

static void
test_route_star_copies_the_host_segment(void **state)
{
	char name[ECA_HOST_MAX];

	(void)state;
	assert_true(api_route_match("/v1/enrollments/*/history",
	    "/v1/enrollments/media1.example.com/history", name, sizeof(name)));
	assert_string_equal(name, "media1.example.com");
	assert_true(
	    api_route_match("/v1/roster", "/v1/roster", name, sizeof(name)));
}

static void
test_list_query_defaults_and_values(void **state)
{
	struct api_list_query lq;
	struct eca_err err;

	(void)state;
	assert_int_equal(api_parse_list_query(NULL, &lq, &err), 0);
	assert_int_equal(lq.state, -1);
	assert_string_equal(lq.after, "");
	assert_int_equal(lq.limit, ECA_LIST_PAGE_DEFAULT);
	assert_int_equal(api_parse_list_query("state=conflict&after="
					      "h1.example.com&limit=1000",
			     &lq, &err),
	    0);
	assert_int_equal(lq.state, ECA_STATE_CONFLICT);
	assert_string_equal(lq.after, "h1.example.com");
	assert_int_equal(lq.limit, 1000);
	assert_string_equal(lq.prefix, "");
	assert_int_equal(api_parse_list_query("prefix=Media1.", &lq, &err), 0);
	assert_string_equal(lq.prefix, "media1.");
}

static void
test_roster_query_defaults_and_values(void **state)
{
	struct eca_err err;
	int64_t since;
	long limit;

	(void)state;
	assert_int_equal(api_parse_roster_query(NULL, &since, &limit, &err), 0);
	assert_int_equal(since, 0);
	assert_int_equal(limit, ECA_ROSTER_PAGE_DEFAULT);
	assert_int_equal(api_parse_roster_query("since=9007199254740993&"
						"limit=5000",
			     &since, &limit, &err),
	    0);
	assert_true(since == INT64_C(9007199254740993));
	assert_int_equal(limit, 5000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
		test_route_star_needs_a_nonempty_segment_that_fits),
	    cmocka_unit_test(test_list_query_refuses_each_bad_parameter),
	    cmocka_unit_test(test_roster_query_refuses_each_bad_parameter),
	    cmocka_unit_test(test_query_text_in_messages_is_escaped),
	    cmocka_unit_test(test_route_star_copies_the_host_segment),
	    cmocka_unit_test(test_list_query_defaults_and_values),
	    cmocka_unit_test(test_roster_query_defaults_and_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
