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
	assert_list_refused("sort=colour", "'sort' must be name, state");
	assert_list_refused("order=up", "'order' must be asc or desc");
	assert_list_refused("sort=expiry&after=h1.example",
	    "'after' must be KEY,HOST when sorted by expiry");
	assert_list_refused("sort=state&after=MAYBE,h1.example",
	    "must start with a state");
	assert_list_refused("after=12x,h1.example&sort=enrolled",
	    "must start with a time");
	assert_list_refused("sort=enrolled&after=12,-bad-",
	    "'after' must be a host name after its comma");
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
	assert_int_equal(lq.sort, ECA_SORT_NAME);
	assert_int_equal(lq.desc, 0);
	/* The cursor is read in the order given, wherever sort stands. */
	assert_int_equal(api_parse_list_query("after=1750000000,H1.example&"
					      "sort=expiry&order=desc",
			     &lq, &err),
	    0);
	assert_int_equal(lq.sort, ECA_SORT_EXPIRY);
	assert_int_equal(lq.desc, 1);
	assert_true(lq.after_time == 1750000000);
	assert_string_equal(lq.after, "h1.example");
	assert_int_equal(api_parse_list_query("sort=state&after=banned,h2."
					      "example",
			     &lq, &err),
	    0);
	assert_int_equal(lq.after_state, ECA_STATE_BANNED);
	assert_string_equal(lq.after, "h2.example");
}

/* "next" is what "after" reads back, in each order. */
static void
test_list_cursor_round_trips(void **state)
{
	static const char *const orders[] = {"name", "state", "enrolled",
	    "expiry"};
	struct api_list_query lq, back;
	struct eca_enrollment rec;
	struct eca_err err;
	char q[ECA_HOST_MAX + 80], cur[ECA_HOST_MAX + 32];
	size_t i;

	(void)state;
	memset(&rec, 0, sizeof(rec));
	snprintf(rec.host, sizeof(rec.host), "media7.example");
	rec.state = ECA_STATE_REVOKED;
	rec.enrolled_at = 1750000123;
	rec.cert.not_after = -5;
	for (i = 0; i < 4; i++) {
		snprintf(q, sizeof(q), "sort=%s", orders[i]);
		assert_int_equal(api_parse_list_query(q, &lq, &err), 0);
		api_list_cursor(&lq, &rec, cur, sizeof(cur));
		snprintf(q, sizeof(q), "sort=%s&after=%s", orders[i], cur);
		assert_int_equal(api_parse_list_query(q, &back, &err), 0);
		assert_string_equal(back.after, "media7.example");
		if (i == 1)
			assert_int_equal(back.after_state, ECA_STATE_REVOKED);
		if (i == 2)
			assert_true(back.after_time == 1750000123);
		if (i == 3)
			assert_true(back.after_time == -5);
	}
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
	    cmocka_unit_test(test_list_cursor_round_trips),
	    cmocka_unit_test(test_roster_query_defaults_and_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
