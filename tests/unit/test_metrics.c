/* SPDX-License-Identifier: ISC */
/*
 * test_metrics.c - the Prometheus text writer and ecad's counters
 * (metrics.h).  Refused names and values that must be escaped first, then
 * histograms (cumulative buckets, +Inf, _sum, _count) and a whole
 * exposition.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

/* What fn wrote to a memory stream, NUL-terminated (caller frees). */
struct mem {
	FILE *f;
	char *buf;
	size_t len;
};

static void
mem_open(struct mem *m)
{
	m->buf = NULL;
	m->len = 0;
	m->f = open_memstream(&m->buf, &m->len);
	assert_non_null(m->f);
}

static char *
mem_close(struct mem *m)
{
	assert_int_equal(fclose(m->f), 0);
	return m->buf;
}

static void
test_bad_names(void **state)
{
	static const char *const bad[] = {"", "1abc", "a-b", "a b", "a{b",
	    "\xc3\xa9", NULL};
	struct eca_label l = {"ok", "v"};
	struct eca_err e;
	struct mem m;
	char *s;
	size_t i;

	(void)state;
	mem_open(&m);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
		    eca_prom_family(m.f, bad[i], "counter", "h", &e),
		    ECA_ERR_INTERNAL);
		assert_int_equal(eca_prom_sample(m.f, bad[i], NULL, 0, 1, &e),
		    ECA_ERR_INTERNAL);
		l.name = bad[i];
		assert_int_equal(eca_prom_sample(m.f, "x", &l, 1, 1, &e),
		    ECA_ERR_INTERNAL);
	}
	/* Reserved and colon label names; unknown types. */
	l.name = "__name";
	assert_int_equal(eca_prom_sample(m.f, "x", &l, 1, 1, &e),
	    ECA_ERR_INTERNAL);
	l.name = "a:b";
	assert_int_equal(eca_prom_sample(m.f, "x", &l, 1, 1, &e),
	    ECA_ERR_INTERNAL);
	assert_int_equal(eca_prom_family(m.f, "x", "summary2", "h", &e),
	    ECA_ERR_INTERNAL);
	assert_int_equal(eca_prom_family(m.f, "x", NULL, "h", &e),
	    ECA_ERR_INTERNAL);
	s = mem_close(&m);
	/* Nothing at all was written for a refused name. */
	assert_string_equal(s, "");
	free(s);
}

static void
test_escape_overflow(void **state)
{
	char buf[8];

	(void)state;
	assert_int_equal(eca_prom_escape_label("abc", buf, 0), -1);
	assert_int_equal(eca_prom_escape_label("abcdefgh", buf, 8), -1);
	assert_string_equal(buf, "");
	/* An escape that would be split is refused whole. */
	assert_int_equal(eca_prom_escape_label("abcdef\"", buf, 8), -1);
	assert_int_equal(eca_prom_escape_label("abcdefg", buf, 8), 0);
	assert_string_equal(buf, "abcdefg");
	assert_int_equal(eca_prom_escape_label(NULL, buf, 8), 0);
	assert_string_equal(buf, "");
}

static void
test_bad_hist(void **state)
{
	static const uint64_t down[] = {10, 5};
	static const uint64_t same[] = {10, 10};
	uint64_t many[ECA_HIST_MAX + 1];
	struct eca_hist h;
	size_t i;

	(void)state;
	for (i = 0; i < ECA_HIST_MAX + 1; i++)
		many[i] = i + 1;
	assert_int_equal(eca_hist_init(&h, down, 2, NULL), ECA_ERR_INTERNAL);
	assert_int_equal(eca_hist_init(&h, same, 2, NULL), ECA_ERR_INTERNAL);
	assert_int_equal(eca_hist_init(&h, many, ECA_HIST_MAX + 1, NULL),
	    ECA_ERR_INTERNAL);
	assert_int_equal(eca_hist_init(&h, NULL, 2, NULL), ECA_ERR_INTERNAL);
}

static void
test_escaping(void **state)
{
	struct eca_label l[2] = {{"issuer", "CN=a\\b \"q\"\nx"},
	    {"hash", "0a1b2c3d"}};
	struct eca_err e;
	struct mem m;
	char *s;

	(void)state;
	mem_open(&m);
	assert_int_equal(eca_prom_family(m.f, "eca_x", "gauge",
			     "line one\nback\\slash \"quoted\"", &e),
	    0);
	assert_int_equal(eca_prom_sample(m.f, "eca_x", l, 2, 42, &e), 0);
	assert_int_equal(eca_prom_sample(m.f, "eca_x", NULL, 0, 0.25, &e), 0);
	s = mem_close(&m);
	assert_string_equal(s,
	    "# HELP eca_x line one\\nback\\\\slash \"quoted\"\n"
	    "# TYPE eca_x gauge\n"
	    "eca_x{issuer=\"CN=a\\\\b \\\"q\\\"\\nx\",hash=\"0a1b2c3d\"} 42\n"
	    "eca_x 0.25\n");
	free(s);
}

static void
test_special_values(void **state)
{
	struct eca_err e;
	struct mem m;
	char *s;

	(void)state;
	mem_open(&m);
	assert_int_equal(eca_prom_sample(m.f, "a", NULL, 0, 1.0 / 0.0, &e), 0);
	assert_int_equal(eca_prom_sample(m.f, "a", NULL, 0, -1.0 / 0.0, &e), 0);
	assert_int_equal(eca_prom_sample(m.f, "a", NULL, 0, 0.0 / 0.0, &e), 0);
	assert_int_equal(eca_prom_sample(m.f, "a", NULL, 0, 1e15, &e), 0);
	s = mem_close(&m);
	assert_string_equal(s, "a +Inf\na -Inf\na NaN\na 1000000000000000\n");
	free(s);
}

static void
test_histogram(void **state)
{
	static const uint64_t b[] = {1000, 500000, 1000000};
	struct eca_hist h;
	struct eca_err e;
	struct mem m;
	char *s;

	(void)state;
	assert_int_equal(eca_hist_init(&h, b, 3, &e), 0);
	eca_hist_observe(&h, 0);       /* le 0.001 */
	eca_hist_observe(&h, 1000);    /* le 0.001: bounds are inclusive */
	eca_hist_observe(&h, 1001);    /* le 0.5 */
	eca_hist_observe(&h, 1000000); /* le 1 */
	eca_hist_observe(&h, 3000000); /* +Inf only */
	mem_open(&m);
	assert_int_equal(eca_prom_hist(m.f, "eca_c_seconds", "c", &h, &e), 0);
	s = mem_close(&m);
	assert_string_equal(s,
	    "# HELP eca_c_seconds c\n"
	    "# TYPE eca_c_seconds histogram\n"
	    "eca_c_seconds_bucket{le=\"0.001\"} 2\n"
	    "eca_c_seconds_bucket{le=\"0.5\"} 3\n"
	    "eca_c_seconds_bucket{le=\"1\"} 4\n"
	    "eca_c_seconds_bucket{le=\"+Inf\"} 5\n"
	    "eca_c_seconds_sum 4.002001\n"
	    "eca_c_seconds_count 5\n");
	free(s);
}

static void
test_counters_ignore_unknown(void **state)
{
	struct eca_metrics *m = calloc(1, sizeof(*m));
	size_t i;
	unsigned long long sum = 0;

	(void)state;
	assert_non_null(m);
	eca_metrics_init(m);
	eca_metrics_refusal(m, 0);	       /* OK is no refusal */
	eca_metrics_refusal(m, ECA_ERR_LAST_); /* out of range */
	eca_metrics_refusal(m, 12345);
	eca_metrics_verdict(m, -5000);
	eca_metrics_enroll(m, ECA_OUTCOME_NONE);
	eca_metrics_enroll(m, (enum eca_enroll_outcome)999);
	eca_metrics_handshake(m, ECA_METRICS_NLISTENERS, 1);
	for (i = 0; i < ECA_METRICS_NCODES; i++)
		sum += m->refusals[i] + m->verdicts[i];
	for (i = 0; i < ECA_METRICS_NOUTCOMES; i++)
		sum += m->enroll[i];
	assert_int_equal(sum, 0);
	eca_metrics_refusal(m, ECA_ERR_FORBIDDEN);
	eca_metrics_verdict(m, 0);
	eca_metrics_verdict(m, ECA_ERR_MAPPING_EXISTS); /* the last code */
	eca_metrics_enroll(m, ECA_OUTCOME_UNMAPPED);
	assert_int_equal(m->refusals[ECA_ERR_FORBIDDEN - ECA_ERR_FIRST_], 1);
	assert_int_equal(m->verdicts[0], 1);
	assert_int_equal(m->enroll[ECA_OUTCOME_UNMAPPED], 1);
	free(m);
}

static void
test_exposition(void **state)
{
	struct eca_metrics *m = calloc(1, sizeof(*m));
	struct eca_metrics_crl crl = {"CN=Test CA,O=\"x\"", "abcd0123", 900};
	struct eca_metrics_domain dom = {"primary.example", 7, 990, "enrolled"};
	struct eca_metrics_gauges g;
	struct eca_err e;
	char *s;
	size_t len;

	(void)state;
	assert_non_null(m);
	eca_metrics_init(m);
	eca_metrics_enroll(m, ECA_OUTCOME_ENROLLED);
	eca_metrics_enroll(m, ECA_OUTCOME_ENROLLED);
	eca_metrics_refusal(m, ECA_ERR_CONFLICT);
	eca_metrics_handshake(m, ECA_METRICS_PEER, 0);
	eca_hist_observe(&m->commit, 2000);
	memset(&g, 0, sizeof(g));
	g.role = "primary";
	g.version = "1.2.3";
	g.now = 1000;
	g.have_registry = 1;
	g.states[ECA_STATE_ENROLLED] = 3;
	g.states[ECA_STATE_CONFLICT] = 1;
	g.expiring = 2;
	g.have_writer = 1;
	g.writer_depth = 4;
	g.crls = &crl;
	g.ncrls = 1;
	g.domains = &dom;
	g.ndomains = 1;
	g.peer_open = -1;
	assert_int_equal(eca_metrics_write(m, &g, &s, &len, &e), 0);
	assert_int_equal(strlen(s), len);
	assert_non_null(strstr(s,
	    "eca_build_info{version=\"1.2.3\","
	    "role=\"primary\"} 1\n"));
	assert_non_null(
	    strstr(s, "eca_enrollments_total{outcome=\"ENROLLED\"} 2\n"));
	assert_non_null(
	    strstr(s, "eca_enrollments_total{outcome=\"RENEWED\"} 0\n"));
	assert_null(strstr(s, "outcome=\"NONE\""));
	assert_null(strstr(s, "outcome=\"NAT\""));
	assert_non_null(
	    strstr(s, "eca_refusals_total{reason=\"CONFLICT\"} 1\n"));
	assert_null(strstr(s, "eca_refusals_total{reason=\"OK\"}"));
	assert_null(strstr(s, "WOULD_WAIT"));
	assert_non_null(
	    strstr(s, "eca_channel_verdicts_total{reason=\"OK\"} 0\n"));
	assert_non_null(strstr(s,
	    "eca_tls_handshakes_total{listener=\"peer\","
	    "result=\"failed\"} 1\n"));
	assert_non_null(strstr(s, "eca_hosts{state=\"ENROLLED\"} 3\n"));
	assert_non_null(strstr(s, "eca_conflicts_waiting 1\n"));
	assert_non_null(strstr(s, "eca_certificates_expiring 2\n"));
	assert_non_null(strstr(s, "eca_writer_queue_depth 4\n"));
	assert_non_null(
	    strstr(s, "eca_commit_duration_seconds_bucket{le=\"0.0025\"} 1\n"));
	assert_non_null(strstr(s,
	    "eca_crl_age_seconds{issuer=\"CN=Test CA,"
	    "O=\\\"x\\\"\",hash=\"abcd0123\"} 100\n"));
	assert_non_null(strstr(s,
	    "eca_roster_sync_age_seconds{primary="
	    "\"primary.example\"} 10\n"));
	assert_non_null(strstr(s,
	    "eca_enrollment_state{primary=\"primary."
	    "example\",state=\"enrolled\"} 1\n"));
	assert_null(strstr(s, "eca_peer_connections_open"));
	free(s);
	/* A client host: none of the primary's families. */
	g.role = "client";
	dom.synced_at = 0;
	dom.state = "not_enrolled";
	assert_int_equal(eca_metrics_write(m, &g, &s, &len, &e), 0);
	assert_null(strstr(s, "eca_enrollments_total"));
	assert_null(strstr(s, "eca_hosts"));
	assert_null(strstr(s, "listener=\"api\""));
	assert_non_null(strstr(s, "listener=\"peer\",result=\"failed\"} 1\n"));
	assert_non_null(strstr(s,
	    "eca_roster_sync_age_seconds{primary="
	    "\"primary.example\"} +Inf\n"));
	assert_non_null(strstr(s, "state=\"not_enrolled\"} 1\n"));
	assert_non_null(strstr(s, "state=\"enrolled\"} 0\n"));
	free(s);
	free(m);
}

static void
test_nat_and_console(void **state)
{
	struct eca_metrics *m = calloc(1, sizeof(*m));
	struct eca_metrics_nat nat[2] = {{"p1.example", 1, 0},
	    {"p2.example", 0, 3}};
	struct eca_metrics_gauges g;
	struct eca_err e;
	char *s;
	size_t len;

	(void)state;
	assert_non_null(m);
	eca_metrics_init(m);
	/* Unknown results are ignored. */
	eca_metrics_signin(m, ECA_METRICS_NSIGNIN);
	eca_metrics_signin(m, (enum eca_metrics_signin) - 1);
	assert_int_equal(m->signins[0] + m->signins[1] + m->signins[2], 0);
	eca_metrics_signin(m, ECA_METRICS_SIGNIN_OK);
	eca_metrics_signin(m, ECA_METRICS_SIGNIN_RATE_LIMITED);
	eca_metrics_signin(m, ECA_METRICS_SIGNIN_RATE_LIMITED);
	memset(&g, 0, sizeof(g));
	g.role = "primary";
	g.version = "1.2.3";
	g.peer_open = -1;
	/* Without a broker or a console: none of their families. */
	assert_int_equal(eca_metrics_write(m, &g, &s, &len, &e), 0);
	assert_null(strstr(s, "eca_broker_"));
	assert_null(strstr(s, "eca_relay_"));
	assert_null(strstr(s, "eca_console_"));
	free(s);
	g.have_broker = 1;
	g.broker_online = 2;
	g.broker_registrations[0] = 5;
	g.broker_registrations[1] = 1;
	g.broker_reverse[ECA_METRICS_REVERSE_RATE_LIMITED] = 4;
	g.broker_reverse[ECA_METRICS_REVERSE_REFUSED] = 6;
	g.relay_pairs = 7;
	g.relay_open = 1;
	g.relay_refused = 8;
	g.relay_budget = 2;
	g.relay_bytes = 123456;
	g.have_console = 1;
	g.console_sessions = 3;
	assert_int_equal(eca_metrics_write(m, &g, &s, &len, &e), 0);
	assert_non_null(strstr(s, "eca_broker_sessions_online 2\n"));
	assert_non_null(
	    strstr(s, "eca_broker_registrations_total{result=\"ok\"} 5\n"));
	assert_non_null(strstr(s,
	    "eca_broker_registrations_total{result=\"refused\"} 1\n"));
	assert_non_null(
	    strstr(s, "eca_broker_reverse_requests_total{result=\"ok\"} 0\n"));
	assert_non_null(strstr(s,
	    "eca_broker_reverse_requests_total{result=\"rate_limited\"} "
	    "4\n"));
	assert_non_null(strstr(s,
	    "eca_broker_reverse_requests_total{result=\"refused\"} 6\n"));
	assert_non_null(strstr(s, "eca_relay_pairs_total 7\n"));
	assert_non_null(strstr(s, "eca_relay_pairs_open 1\n"));
	assert_non_null(strstr(s, "eca_relay_refused_total 8\n"));
	assert_non_null(strstr(s, "eca_relay_budget_closes_total 2\n"));
	assert_non_null(strstr(s, "eca_relay_bytes_total 123456\n"));
	assert_non_null(
	    strstr(s, "eca_console_signins_total{result=\"ok\"} 1\n"));
	assert_non_null(
	    strstr(s, "eca_console_signins_total{result=\"refused\"} 0\n"));
	assert_non_null(strstr(s,
	    "eca_console_signins_total{result=\"rate_limited\"} 2\n"));
	assert_non_null(strstr(s, "eca_console_sessions_open 3\n"));
	assert_null(strstr(s, "eca_broker_session_up"));
	free(s);
	/* A NAT host: its sessions per primary, none of the primary's. */
	memset(&g, 0, sizeof(g));
	g.role = "client";
	g.version = "1.2.3";
	g.peer_open = -1;
	g.nat = nat;
	g.nnat = 2;
	assert_int_equal(eca_metrics_write(m, &g, &s, &len, &e), 0);
	assert_non_null(
	    strstr(s, "eca_broker_session_up{primary=\"p1.example\"} 1\n"));
	assert_non_null(
	    strstr(s, "eca_broker_session_up{primary=\"p2.example\"} 0\n"));
	assert_non_null(strstr(s,
	    "eca_broker_reconnects_total{primary=\"p2.example\"} 3\n"));
	assert_null(strstr(s, "eca_console_"));
	assert_null(strstr(s, "eca_broker_sessions_online"));
	free(s);
	free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bad_names),
	    cmocka_unit_test(test_escape_overflow),
	    cmocka_unit_test(test_bad_hist),
	    cmocka_unit_test(test_escaping),
	    cmocka_unit_test(test_special_values),
	    cmocka_unit_test(test_histogram),
	    cmocka_unit_test(test_counters_ignore_unknown),
	    cmocka_unit_test(test_exposition),
	    cmocka_unit_test(test_nat_and_console),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
