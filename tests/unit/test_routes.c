/* SPDX-License-Identifier: ISC */
/*
 * test_routes.c - the /v1 route table and its access check
 * (src/daemon/api_routes.c): every route has a level, and every route is
 * refused to every caller below it, with the reason the caller has always
 * been given.  The handlers are stand-ins: only the table is under test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "api_routes.h"

/* Stand-ins for the handlers the table names (api_*.c). */
#define STUB(name)                                                             \
	void name(struct api_call *c)                                          \
	{                                                                      \
		(void)c;                                                       \
	}
STUB(api_h_health)
STUB(api_h_stats)
STUB(api_h_roster)
STUB(api_h_enroll)
STUB(api_h_list)
STUB(api_h_show)
STUB(api_h_remove)
STUB(api_h_history)
STUB(api_h_approve)
STUB(api_h_reject)
STUB(api_h_ban)
STUB(api_h_unban)
STUB(api_h_maps)
STUB(api_h_map_add)
STUB(api_h_map_remove)
STUB(api_h_metrics)
STUB(api_h_remote_enroll)
STUB(api_h_nat_request)
STUB(api_h_nat_restricted)
STUB(api_h_audit)
STUB(api_h_audit_verify)
STUB(api_h_config)
STUB(api_h_summary)
STUB(api_h_console_link)
STUB(api_h_console_sessions)
STUB(api_h_console_revoke)

/* A kind of caller, with the answers it gives and the level it holds. */
struct kind {
	const char *what;
	int control, control_admin;
	int peer; /* the peer check's code */
	int admin, names;
	enum api_access rank;
	/* What it was asked. */
	int asked_peer, asked_admin, asked_names;
	int metrics; /* a METRICS_IDENTITY (and no administrator) */
};

static struct kind kinds[] = {
    {"a TLS caller the peer check refuses", 0, 0, ECA_ERR_UNTRUSTED, 0, 0,
	API_PUBLIC, 0, 0, 0, 0},
    {"a control socket caller of another uid", 1, 0, ECA_ERR_NO_CLIENT_CERT, 0,
	0, API_PUBLIC, 0, 0, 0, 0},
    {"a host", 0, 0, 0, 0, 0, API_HOST, 0, 0, 0, 0},
    {"the host the path names", 0, 0, 0, 0, 1, API_SELF, 0, 0, 0, 0},
    {"an ADMIN_IDENTITY", 0, 0, 0, 1, 0, API_ADMIN, 0, 0, 0, 0},
    {"root on the control socket", 1, 1, ECA_ERR_NO_CLIENT_CERT, 0, 0,
	API_CONTROL, 0, 0, 0, 0},
    /* Last: the tests above name the others by index. */
    {"a METRICS_IDENTITY", 0, 0, 0, 0, 0, API_METRICS, 0, 0, 0, 1},
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

static int
ask_peer(void *arg, struct eca_err *err)
{
	struct kind *k = arg;

	k->asked_peer++;
	if (k->peer != 0)
		return eca_err_set(err, k->peer, "peer check: %s",
		    eca_err_name(k->peer));
	return 0;
}

static int
ask_admin(void *arg)
{
	struct kind *k = arg;

	k->asked_admin++;
	return k->admin;
}

static int
ask_names(void *arg, const char *host)
{
	struct kind *k = arg;

	(void)host;
	k->asked_names++;
	return k->names;
}

static int
ask_metrics(void *arg)
{
	return ((struct kind *)arg)->metrics;
}

static void
caller_of(struct kind *k, struct api_caller *who)
{
	memset(who, 0, sizeof(*who));
	k->asked_peer = k->asked_admin = k->asked_names = 0;
	who->control = k->control;
	who->control_admin = k->control_admin;
	who->uid = 1234;
	who->primary = "primary.example";
	who->host = "media1.example";
	who->peer = ask_peer;
	who->admin = ask_admin;
	who->names = ask_names;
	who->metrics = ask_metrics;
	who->arg = k;
}

/* Does k get rt?  The control socket has no certificate to enroll. */
static int
admitted(const struct kind *k, const struct api_route *rt)
{
	if (k->control && (rt->flags & API_F_CERT))
		return 0;
	/* Read-only: the metrics and what any host may call, nothing else. */
	if (k->metrics)
		return rt->access <= API_HOST || rt->access == API_METRICS;
	return k->rank >= rt->access;
}

static int
check(struct kind *k, const struct api_route *rt, enum api_access *granted,
    struct eca_err *err)
{
	struct api_caller who;

	caller_of(k, &who);
	eca_err_clear(err);
	return api_access_check(rt, &who, granted, err);
}

/* ---- refusals ---- */

static void
test_every_route_has_an_access_level_and_a_handler(void **state)
{
	size_t i;

	(void)state;
	assert_true(api_nroutes > 0);
	for (i = 0; i < api_nroutes; i++) {
		if (api_routes[i].access <= API_ACCESS_NONE ||
		    api_routes[i].access > API_CONTROL)
			fail_msg("route %s has no access level",
			    api_routes[i].pattern);
		assert_non_null(api_routes[i].fn);
		/* SELF compares the caller with the NAME in the path. */
		if (api_routes[i].access == API_SELF &&
		    strchr(api_routes[i].pattern, '*') == NULL)
			fail_msg("route %s is SELF without a NAME",
			    api_routes[i].pattern);
	}
}

static void
test_every_route_is_refused_to_a_caller_below_its_level(void **state)
{
	enum api_access granted;
	struct eca_err err;
	size_t i, k;
	int r, refusals = 0;

	(void)state;
	for (i = 0; i < api_nroutes; i++)
		for (k = 0; k < NKINDS; k++) {
			if (admitted(&kinds[k], &api_routes[i]))
				continue;
			r = check(&kinds[k], &api_routes[i], &granted, &err);
			if (r == 0)
				fail_msg("%s may call %s (method %d)",
				    kinds[k].what, api_routes[i].pattern,
				    (int)api_routes[i].method);
			assert_int_equal(granted, API_ACCESS_NONE);
			assert_int_equal(err.code, r);
			assert_true(err.msg[0] != '\0');
			refusals++;
		}
	/* Every kind of caller but root is refused something. */
	assert_true(refusals >= (int)NKINDS - 1);
}

/*
 * Each route's level as docs/api.md states it: a row whose level changes
 * must change this list too, on purpose.
 */
static void
test_each_route_has_the_level_docs_api_md_gives(void **state)
{
	static const struct {
		enum evhttp_cmd_type method;
		const char *pattern;
		enum api_access access;
	} want[] = {
	    {EVHTTP_REQ_GET, "/v1/health", API_PUBLIC},
	    {EVHTTP_REQ_GET, "/v1/stats", API_ADMIN},
	    {EVHTTP_REQ_GET, "/metrics", API_METRICS},
	    {EVHTTP_REQ_GET, "/v1/roster", API_HOST},
	    {EVHTTP_REQ_GET, "/v1/enrollments", API_ADMIN},
	    {EVHTTP_REQ_POST, "/v1/enrollments", API_HOST},
	    {EVHTTP_REQ_GET, "/v1/enrollments/*", API_SELF},
	    {EVHTTP_REQ_DELETE, "/v1/enrollments/*", API_SELF},
	    {EVHTTP_REQ_GET, "/v1/enrollments/*/history", API_ADMIN},
	    {EVHTTP_REQ_POST, "/v1/enrollments/*/approve", API_ADMIN},
	    {EVHTTP_REQ_POST, "/v1/enrollments/*/reject", API_ADMIN},
	    {EVHTTP_REQ_POST, "/v1/enrollments/*/ban", API_ADMIN},
	    {EVHTTP_REQ_POST, "/v1/enrollments/*/unban", API_ADMIN},
	    {EVHTTP_REQ_GET, "/v1/mappings", API_ADMIN},
	    {EVHTTP_REQ_POST, "/v1/mappings", API_ADMIN},
	    {EVHTTP_REQ_DELETE, "/v1/mappings/*", API_ADMIN},
	    {EVHTTP_REQ_POST, "/v1/remote-enrollments", API_CONTROL},
	    {EVHTTP_REQ_POST, "/v1/nat/requests", API_HOST},
	    {EVHTTP_REQ_GET, "/v1/nat/restricted", API_ADMIN},
	    {EVHTTP_REQ_GET, "/v1/audit", API_ADMIN},
	    {EVHTTP_REQ_GET, "/v1/audit/verify", API_ADMIN},
	    {EVHTTP_REQ_GET, "/v1/config", API_ADMIN},
	    {EVHTTP_REQ_GET, "/v1/summary", API_ADMIN},
	    {EVHTTP_REQ_POST, "/v1/console/links", API_CONTROL},
	    {EVHTTP_REQ_GET, "/v1/console/sessions", API_CONTROL},
	    {EVHTTP_REQ_POST, "/v1/console/sessions/revoke", API_CONTROL},
	};
	size_t i, j;

	(void)state;
	assert_int_equal(api_nroutes, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < api_nroutes; i++) {
		for (j = 0; j < sizeof(want) / sizeof(want[0]); j++)
			if (want[j].method == api_routes[i].method &&
			    strcmp(want[j].pattern, api_routes[i].pattern) == 0)
				break;
		if (j == sizeof(want) / sizeof(want[0]))
			fail_msg("route %s is not in this list",
			    api_routes[i].pattern);
		if (want[j].access != api_routes[i].access)
			fail_msg("route %s has level %d, docs/api.md says %d",
			    api_routes[i].pattern, (int)api_routes[i].access,
			    (int)want[j].access);
	}
	/* Only the enrollment is about the caller's own certificate. */
	for (i = 0; i < api_nroutes; i++)
		assert_int_equal((api_routes[i].flags & API_F_CERT) != 0,
		    api_routes[i].fn == api_h_enroll);
}

static void
test_a_row_without_a_level_is_refused_to_everybody(void **state)
{
	const struct api_route rt = {EVHTTP_REQ_GET, "/v1/new", API_ACCESS_NONE,
	    0, API_COUNT_NONE, api_h_health};
	enum api_access granted;
	struct eca_err err;
	size_t k;

	(void)state;
	for (k = 0; k < NKINDS; k++) {
		assert_int_equal(check(&kinds[k], &rt, &granted, &err),
		    ECA_ERR_INTERNAL);
		assert_int_equal(kinds[k].asked_peer, 0);
	}
}

static void
test_a_stranger_is_refused_with_the_peer_checks_reason(void **state)
{
	enum api_access granted;
	struct eca_err err;
	size_t i;

	(void)state;
	for (i = 0; i < api_nroutes; i++) {
		if (api_routes[i].access == API_PUBLIC)
			continue;
		assert_int_equal(
		    check(&kinds[0], &api_routes[i], &granted, &err),
		    ECA_ERR_UNTRUSTED);
		assert_string_equal(err.msg, "peer check: UNTRUSTED");
	}
}

static void
test_refusals_keep_their_sentences(void **state)
{
	struct api_route admin = {EVHTTP_REQ_GET, "/v1/stats", API_ADMIN, 0,
	    API_COUNT_NONE, api_h_stats};
	struct api_route self = {EVHTTP_REQ_GET, "/v1/enrollments/*", API_SELF,
	    0, API_COUNT_NONE, api_h_show};
	struct api_route cert = {EVHTTP_REQ_POST, "/v1/enrollments", API_HOST,
	    API_F_CERT, API_COUNT_ENROLL, api_h_enroll};
	enum api_access granted;
	struct eca_err err;

	(void)state;
	/* The integration tests (t_api, t_privilege) read these. */
	assert_int_equal(check(&kinds[1], &admin, &granted, &err),
	    ECA_ERR_FORBIDDEN);
	assert_string_equal(err.msg,
	    "uid 1234 may not use the control "
	    "socket (run eca as root or as the daemon's user)");
	assert_int_equal(check(&kinds[2], &admin, &granted, &err),
	    ECA_ERR_FORBIDDEN);
	assert_non_null(strstr(err.msg,
	    "not an administrator of primary "
	    "primary.example (add it to ADMIN_IDENTITY"));
	assert_int_equal(check(&kinds[2], &self, &granted, &err),
	    ECA_ERR_FORBIDDEN);
	assert_non_null(strstr(err.msg,
	    "your certificate does not name "
	    "media1.example: a host may only see or remove its own"));
	/* Root on the control socket: the peer check's own reason. */
	assert_int_equal(check(&kinds[5], &cert, &granted, &err),
	    ECA_ERR_NO_CLIENT_CERT);
	/* Another uid learns only that it may not use the socket. */
	assert_int_equal(check(&kinds[1], &cert, &granted, &err),
	    ECA_ERR_FORBIDDEN);
}

static void
test_a_control_only_level_is_refused_over_tls(void **state)
{
	const struct api_route rt = {EVHTTP_REQ_POST, "/v1/reload", API_CONTROL,
	    0, API_COUNT_NONE, api_h_health};
	enum api_access granted;
	struct eca_err err;
	size_t k;

	(void)state;
	for (k = 0; k < NKINDS; k++) {
		if (kinds[k].rank == API_CONTROL)
			continue;
		assert_int_equal(check(&kinds[k], &rt, &granted, &err),
		    kinds[k].peer != 0 && !kinds[k].control ?
			kinds[k].peer :
			ECA_ERR_FORBIDDEN);
	}
	assert_int_equal(check(&kinds[5], &rt, &granted, &err), 0);
	assert_int_equal(granted, API_CONTROL);
}

static void
test_remote_enrollment_is_for_the_control_socket_only(void **state)
{
	const struct api_route *rt;
	enum api_access granted;
	struct eca_err err;
	char name[256];
	int known;
	size_t k;

	(void)state;
	rt = api_route_find(EVHTTP_REQ_POST, "/v1/remote-enrollments", name,
	    sizeof(name), &known);
	assert_non_null(rt);
	assert_int_equal(rt->access, API_CONTROL);
	assert_true(rt->fn == api_h_remote_enroll);
	/* Not even an ADMIN_IDENTITY over TLS: root or ecad's user only. */
	for (k = 0; k < NKINDS; k++)
		if (kinds[k].rank != API_CONTROL)
			assert_int_not_equal(
			    check(&kinds[k], rt, &granted, &err), 0);
	assert_int_equal(check(&kinds[5], rt, &granted, &err), 0);
	assert_int_equal(granted, API_CONTROL);
}

/*
 * A console session is an administrator's, asked nothing (no certificate
 * on its calls), refused what needs a host's certificate or the control
 * socket.
 */
static void
test_a_console_session_is_an_admin_without_certificate(void **state)
{
	struct kind k = {"a console session", 0, 0, ECA_ERR_NO_CLIENT_CERT, 0,
	    0, API_ADMIN, 0, 0, 0, 0};
	enum api_access granted;
	struct api_caller who;
	struct eca_err err;
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < api_nroutes; i++) {
		caller_of(&k, &who);
		who.console = 1;
		eca_err_clear(&err);
		r = api_access_check(&api_routes[i], &who, &granted, &err);
		if (api_routes[i].flags & API_F_CERT) {
			assert_int_equal(r, ECA_ERR_FORBIDDEN);
			assert_non_null(strstr(err.msg, "enrolls nothing"));
		} else if (api_routes[i].access == API_CONTROL) {
			assert_int_equal(r, ECA_ERR_FORBIDDEN);
			assert_non_null(strstr(err.msg, "control socket"));
		} else {
			assert_int_equal(r, 0);
			assert_int_equal(granted,
			    api_routes[i].access == API_PUBLIC ? API_PUBLIC :
								 API_ADMIN);
		}
		assert_int_equal(k.asked_peer + k.asked_admin + k.asked_names,
		    0);
	}
}

/* ---- what is let through ---- */

static void
test_every_route_is_open_to_a_caller_at_or_above_its_level(void **state)
{
	enum api_access granted;
	struct eca_err err;
	size_t i, k;

	(void)state;
	for (i = 0; i < api_nroutes; i++)
		for (k = 0; k < NKINDS; k++) {
			if (!admitted(&kinds[k], &api_routes[i]))
				continue;
			if (check(&kinds[k], &api_routes[i], &granted, &err) !=
			    0)
				fail_msg("%s may not call %s: %s",
				    kinds[k].what, api_routes[i].pattern,
				    err.msg);
			assert_true(granted >= api_routes[i].access);
			assert_true(granted <= kinds[k].rank);
		}
}

static void
test_only_the_host_itself_is_granted_self(void **state)
{
	const struct api_route rt = {EVHTTP_REQ_DELETE, "/v1/enrollments/*",
	    API_SELF, 0, API_COUNT_NONE, api_h_remove};
	enum api_access granted;
	struct eca_err err;

	(void)state;
	assert_int_equal(check(&kinds[3], &rt, &granted, &err), 0);
	assert_int_equal(granted, API_SELF);
	/* An administrator removes as an administrator, not as the host. */
	assert_int_equal(check(&kinds[4], &rt, &granted, &err), 0);
	assert_int_equal(granted, API_ADMIN);
	assert_int_equal(kinds[4].asked_names, 0);
}

static void
test_a_metrics_identity_reads_metrics_only(void **state)
{
	const struct api_route metrics = {EVHTTP_REQ_GET, "/metrics",
	    API_METRICS, 0, API_COUNT_NONE, api_h_metrics};
	const struct api_route stats = {EVHTTP_REQ_GET, "/v1/stats", API_ADMIN,
	    0, API_COUNT_NONE, api_h_stats};
	const struct api_route show = {EVHTTP_REQ_GET, "/v1/enrollments/*",
	    API_SELF, 0, API_COUNT_NONE, api_h_show};
	struct kind *m = &kinds[NKINDS - 1];
	enum api_access granted;
	struct eca_err err;

	(void)state;
	/* Refused first: admin routes, another host's record. */
	assert_int_equal(check(m, &stats, &granted, &err), ECA_ERR_FORBIDDEN);
	assert_int_equal(check(m, &show, &granted, &err), ECA_ERR_FORBIDDEN);
	/* A plain host may not read the metrics, and is told how. */
	assert_int_equal(check(&kinds[2], &metrics, &granted, &err),
	    ECA_ERR_FORBIDDEN);
	assert_non_null(strstr(err.msg, "METRICS_IDENTITY"));
	assert_int_equal(check(m, &metrics, &granted, &err), 0);
	assert_int_equal(granted, API_METRICS);
	/* An administrator reads them as an administrator. */
	assert_int_equal(check(&kinds[4], &metrics, &granted, &err), 0);
	assert_int_equal(granted, API_ADMIN);
}

static void
test_the_check_asks_only_what_the_level_needs(void **state)
{
	const struct api_route pub = {EVHTTP_REQ_GET, "/v1/health", API_PUBLIC,
	    0, API_COUNT_NONE, api_h_health};
	const struct api_route host = {EVHTTP_REQ_GET, "/v1/roster", API_HOST,
	    0, API_COUNT_ROSTER, api_h_roster};
	enum api_access granted;
	struct eca_err err;

	(void)state;
	/* Health costs no peer check: load balancers poll it. */
	assert_int_equal(check(&kinds[0], &pub, &granted, &err), 0);
	assert_int_equal(kinds[0].asked_peer, 0);
	/* The roster, every host's sync: no administrator lookup. */
	assert_int_equal(check(&kinds[4], &host, &granted, &err), 0);
	assert_int_equal(kinds[4].asked_peer, 1);
	assert_int_equal(kinds[4].asked_admin, 0);
	assert_int_equal(granted, API_HOST);
}

static void
test_every_route_is_found_by_its_own_path(void **state)
{
	char path[256], name[64], *star;
	const struct api_route *rt;
	size_t i;
	int known;

	(void)state;
	for (i = 0; i < api_nroutes; i++) {
		snprintf(path, sizeof(path), "%s", api_routes[i].pattern);
		if ((star = strchr(path, '*')) != NULL) {
			snprintf(path, sizeof(path), "%.*sh1.example%s",
			    (int)(star - path), api_routes[i].pattern,
			    strchr(api_routes[i].pattern, '*') + 1);
		}
		rt = api_route_find(api_routes[i].method, path, name,
		    sizeof(name), &known);
		assert_ptr_equal(rt, &api_routes[i]);
		assert_true(known);
		assert_string_equal(name, star != NULL ? "h1.example" : "");
	}
}

static void
test_an_unknown_path_or_method_finds_no_route(void **state)
{
	char name[64];
	int known;

	(void)state;
	assert_null(api_route_find(EVHTTP_REQ_GET, "/v1/nothing", name,
	    sizeof(name), &known));
	assert_false(known);
	assert_null(api_route_find(EVHTTP_REQ_PUT, "/v1/health", name,
	    sizeof(name), &known));
	assert_true(known);
	assert_null(api_route_find(EVHTTP_REQ_POST,
	    "/v1/enrollments/h1.example", name, sizeof(name), &known));
	assert_true(known);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
		test_every_route_has_an_access_level_and_a_handler),
	    cmocka_unit_test(
		test_every_route_is_refused_to_a_caller_below_its_level),
	    cmocka_unit_test(test_each_route_has_the_level_docs_api_md_gives),
	    cmocka_unit_test(
		test_a_row_without_a_level_is_refused_to_everybody),
	    cmocka_unit_test(
		test_a_stranger_is_refused_with_the_peer_checks_reason),
	    cmocka_unit_test(test_refusals_keep_their_sentences),
	    cmocka_unit_test(test_a_control_only_level_is_refused_over_tls),
	    cmocka_unit_test(
		test_remote_enrollment_is_for_the_control_socket_only),
	    cmocka_unit_test(
		test_a_console_session_is_an_admin_without_certificate),
	    cmocka_unit_test(
		test_every_route_is_open_to_a_caller_at_or_above_its_level),
	    cmocka_unit_test(test_only_the_host_itself_is_granted_self),
	    cmocka_unit_test(test_a_metrics_identity_reads_metrics_only),
	    cmocka_unit_test(test_the_check_asks_only_what_the_level_needs),
	    cmocka_unit_test(test_every_route_is_found_by_its_own_path),
	    cmocka_unit_test(test_an_unknown_path_or_method_finds_no_route),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
