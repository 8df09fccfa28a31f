/* SPDX-License-Identifier: ISC */
/*
 * test_client.c - the API client's storm behaviour: a 429 BUSY answer is
 * retried after Retry-After plus jitter within a budget, then given up
 * with ECA_ERR_BUSY; and eca_client_call, which turns an answer outside
 * 2xx into its error.  A scripted HTTP server on a UNIX socket (the
 * control-socket client needs no TLS) plays the primary.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "client.h"

#define BUSY_BODY "{\"error\":{\"code\":\"BUSY\",\"message\":\"busy\"}}"
#define OK_BODY "{\"ok\":true}"
#define MAX_REPLIES 8

/* The scripted server: reply i to connection i (the last one repeats). */
struct fake {
	char dir[64];
	char path[96];
	int lfd;
	pthread_t th;
	/* NULL: 200 OK; "HTTP/...": that response; else 429, Retry-After */
	const char *retry_after[MAX_REPLIES];
	int nreplies;
	int served;
};

static void
send_reply(int fd, const char *retry_after)
{
	char buf[512];
	int n;

	if (retry_after != NULL && strncmp(retry_after, "HTTP/", 5) == 0)
		n = snprintf(buf, sizeof(buf), "%s", retry_after);
	else if (retry_after == NULL)
		n = snprintf(buf, sizeof(buf),
		    "HTTP/1.1 200 OK\r\n"
		    "Content-Type: application/json\r\nContent-Length: %zu\r\n"
		    "Connection: close\r\n\r\n%s",
		    strlen(OK_BODY), OK_BODY);
	else
		n = snprintf(buf, sizeof(buf),
		    "HTTP/1.1 429 Too Many "
		    "Requests\r\nRetry-After: %s\r\nContent-Type: "
		    "application/json\r\nContent-Length: %zu\r\n"
		    "Connection: close\r\n\r\n%s",
		    retry_after, strlen(BUSY_BODY), BUSY_BODY);
	if (n > 0 && write(fd, buf, (size_t)n) != n)
		return;
}

/* Read one request's headers (the tests send no body). */
static void
read_request(int fd)
{
	char buf[4096];
	size_t have = 0;
	ssize_t r;

	while (have < sizeof(buf) - 1) {
		if ((r = read(fd, buf + have, sizeof(buf) - 1 - have)) <= 0)
			return;
		have += (size_t)r;
		buf[have] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL)
			return;
	}
}

static void *
fake_main(void *arg)
{
	struct fake *f = arg;
	struct pollfd pfd;
	int fd, i;

	for (;;) {
		pfd.fd = f->lfd;
		pfd.events = POLLIN;
		/* No client for 5 s: the test is over (or broken). */
		if (poll(&pfd, 1, 5000) <= 0)
			break;
		if ((fd = accept(f->lfd, NULL, NULL)) == -1)
			break;
		read_request(fd);
		i = f->served < f->nreplies ? f->served : f->nreplies - 1;
		send_reply(fd, f->retry_after[i]);
		f->served++;
		close(fd);
		if (f->served >= f->nreplies &&
		    (f->retry_after[f->nreplies - 1] == NULL ||
			strncmp(f->retry_after[f->nreplies - 1], "HTTP/", 5) ==
			    0))
			break;
	}
	return NULL;
}

static struct fake *
fake_start(int n, ...)
{
	struct sockaddr_un sun;
	struct fake *f;
	va_list ap;
	int i;

	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	va_start(ap, n);
	for (i = 0; i < n && i < MAX_REPLIES; i++)
		f->retry_after[i] = va_arg(ap, const char *);
	va_end(ap);
	f->nreplies = i;
	snprintf(f->dir, sizeof(f->dir), "/tmp/eca-test-client-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/s", f->dir);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", f->path);
	f->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(f->lfd >= 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(f->lfd, 16), 0);
	assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
	return f;
}

/* Stop serving (the thread returns within its poll timeout at worst). */
static int
fake_stop(struct fake *f)
{
	int served;

	shutdown(f->lfd, SHUT_RDWR);
	pthread_join(f->th, NULL);
	close(f->lfd);
	unlink(f->path);
	rmdir(f->dir);
	served = f->served;
	free(f);
	return served;
}

static struct eca_client *
client_for(struct fake *f, long retry_ms)
{
	struct eca_client *c = NULL;
	struct eca_err err;

	assert_int_equal(eca_client_new_unix(f->path, 10000, &c, &err), 0);
	eca_client_set_busy_retry(c, retry_ms);
	return c;
}

/* ---------------------------------------------------------------- */
/* Refusals first.                                                   */

static void
test_busy_without_retry_is_returned_as_status_429(void **state)
{
	struct fake *f = fake_start(2, "0", (const char *)NULL);
	struct eca_client *c = client_for(f, 0);
	struct eca_err err;
	json_t *resp = NULL;
	long status;

	(void)state;
	assert_int_equal(eca_client_request(c, "GET", "/v1/stats", NULL,
			     &status, &resp, &err),
	    0);
	assert_int_equal(status, 429);
	assert_non_null(resp);
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(resp, "error"), "code")),
	    "BUSY");
	assert_int_equal(eca_client_busy_retries(c), 0);
	json_decref(resp);
	eca_client_free(c);
	assert_int_equal(fake_stop(f), 1);
}

static void
test_busy_beyond_the_retry_budget_fails_with_busy_and_remedy(void **state)
{
	struct fake *f = fake_start(1, "5");
	struct eca_client *c = client_for(f, 1000);
	struct eca_err err;
	json_t *resp = NULL;
	long status;

	(void)state;
	/* Retry-After 5 s does not fit a 1 s budget: no retry at all. */
	assert_int_equal(eca_client_request(c, "GET", "/v1/stats", NULL,
			     &status, &resp, &err),
	    ECA_ERR_BUSY);
	assert_null(resp);
	assert_int_equal(err.code, ECA_ERR_BUSY);
	assert_non_null(strstr(err.msg, "HTTP 429"));
	assert_non_null(strstr(err.msg, "try again"));
	assert_non_null(strstr(err.msg, "MAX_HANDSHAKES"));
	assert_int_equal(eca_client_busy_retries(c), 0);
	eca_client_free(c);
	assert_int_equal(fake_stop(f), 1);
}

static void
test_retry_after_as_a_date_counts_as_one_second(void **state)
{
	struct fake *f = fake_start(1, "Wed, 21 Oct 2015 07:28:00 GMT");
	struct eca_client *c = client_for(f, 900);
	struct eca_err err;
	json_t *resp = NULL;
	long status;

	(void)state;
	/* 1 s + jitter is over a 0.9 s budget: given up at once. */
	assert_int_equal(eca_client_request(c, "GET", "/v1/stats", NULL,
			     &status, &resp, &err),
	    ECA_ERR_BUSY);
	assert_int_equal(eca_client_busy_retries(c), 0);
	eca_client_free(c);
	assert_int_equal(fake_stop(f), 1);
}

static void
test_busy_delay_is_clamped_and_jittered_below_a_second(void **state)
{
	(void)state;
	assert_int_equal(eca_client_busy_delay_ms(-1, 0), 1000);
	assert_int_equal(eca_client_busy_delay_ms(-1, 999), 1999);
	assert_int_equal(eca_client_busy_delay_ms(-1, 1000), 1000);
	assert_int_equal(eca_client_busy_delay_ms(-1, 65535), 1535);
	assert_int_equal(eca_client_busy_delay_ms(0, 5), 5);
	assert_int_equal(eca_client_busy_delay_ms(2, 1000), 2000);
	assert_int_equal(eca_client_busy_delay_ms(100000, 0),
	    ECA_CLIENT_RETRY_AFTER_MAX * 1000L);
}

#define RAW(status, body)                                                      \
	"HTTP/1.1 " status "\r\nContent-Type: "                                \
	"application/json\r\nContent-Length: " body "\r\nConnection: "         \
	"close\r\n\r\n"

static void
test_call_turns_an_error_object_into_its_code(void **state)
{
	struct fake *f = fake_start(1,
	    RAW("403 Forbidden", "63") "{\"error\":"
				       "{\"code\":\"FORBIDDEN\",\"message\":"
				       "\"not an administrator\"}}");
	struct eca_client *c = client_for(f, 0);
	struct eca_err err;
	json_t *resp = NULL;
	long status;

	(void)state;
	assert_int_equal(
	    eca_client_call(c, "GET", "/v1/stats", NULL, &status, &resp, &err),
	    ECA_ERR_FORBIDDEN);
	assert_int_equal(status, 403);
	assert_int_equal(err.code, ECA_ERR_FORBIDDEN);
	assert_string_equal(err.msg, "not an administrator");
	/* Kept, so that eca --json can show the object as it is. */
	assert_non_null(resp);
	json_decref(resp);
	eca_client_free(c);
	assert_int_equal(fake_stop(f), 1);
}

static void
test_call_without_an_error_object_is_a_protocol_error(void **state)
{
	struct fake *f = fake_start(1, RAW("500 Oops", "2") "{}");
	struct eca_client *c = client_for(f, 0);
	struct eca_err err;
	json_t *resp = NULL;
	long status;

	(void)state;
	assert_int_equal(
	    eca_client_call(c, "DELETE", "/v1/x", NULL, &status, &resp, &err),
	    ECA_ERR_PROTOCOL);
	assert_int_equal(status, 500);
	assert_non_null(strstr(err.msg,
	    "unexpected HTTP status 500 to "
	    "DELETE /v1/x without an error object"));
	json_decref(resp);
	eca_client_free(c);
	assert_int_equal(fake_stop(f), 1);
}

static void
test_an_answer_that_is_not_json_is_a_protocol_error(void **state)
{
	struct fake *f = fake_start(1, RAW("200 OK", "5") "hello");
	struct eca_client *c = client_for(f, 0);
	struct eca_err err;
	json_t *resp = NULL;
	long status = -1;

	(void)state;
	assert_int_equal(
	    eca_client_call(c, "GET", "/v1/health", NULL, &status, &resp, &err),
	    ECA_ERR_PROTOCOL);
	assert_null(resp);
	assert_int_equal(status, 0);
	assert_non_null(strstr(err.msg,
	    "response of ecad to GET /v1/health "
	    "(HTTP 200) is not JSON"));
	eca_client_free(c);
	assert_int_equal(fake_stop(f), 1);
}

/* ---------------------------------------------------------------- */
/* Getting through.                                                  */

static void
test_call_of_a_2xx_answer_returns_its_body(void **state)
{
	struct fake *f = fake_start(1, (const char *)NULL);
	struct eca_client *c = client_for(f, 0);
	struct eca_err err;
	json_t *resp = NULL;
	long status;

	(void)state;
	assert_int_equal(
	    eca_client_call(c, "GET", "/v1/health", NULL, &status, &resp, &err),
	    0);
	assert_int_equal(status, 200);
	assert_int_equal(err.code, 0);
	assert_true(json_is_true(json_object_get(resp, "ok")));
	json_decref(resp);
	eca_client_free(c);
	assert_int_equal(fake_stop(f), 1);
}

static void
test_busy_is_retried_until_the_server_answers(void **state)
{
	struct fake *f = fake_start(3, "0", "0", (const char *)NULL);
	struct eca_client *c = client_for(f, 10000);
	struct eca_err err;
	json_t *resp = NULL;
	long status;

	(void)state;
	assert_int_equal(eca_client_request(c, "GET", "/v1/stats", NULL,
			     &status, &resp, &err),
	    0);
	assert_int_equal(status, 200);
	assert_non_null(resp);
	assert_true(json_is_true(json_object_get(resp, "ok")));
	assert_int_equal(eca_client_busy_retries(c), 2);
	json_decref(resp);
	eca_client_free(c);
	assert_int_equal(fake_stop(f), 3);
}

static int
global_setup(void **state)
{
	(void)state;
	return eca_client_global_init() == 0 ? 0 : -1;
}

static int
global_teardown(void **state)
{
	(void)state;
	eca_client_global_cleanup();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_busy_without_retry_is_returned_as_status_429),
	    cmocka_unit_test(
		test_busy_beyond_the_retry_budget_fails_with_busy_and_remedy),
	    cmocka_unit_test(test_retry_after_as_a_date_counts_as_one_second),
	    cmocka_unit_test(
		test_busy_delay_is_clamped_and_jittered_below_a_second),
	    cmocka_unit_test(test_call_turns_an_error_object_into_its_code),
	    cmocka_unit_test(
		test_call_without_an_error_object_is_a_protocol_error),
	    cmocka_unit_test(
		test_an_answer_that_is_not_json_is_a_protocol_error),
	    cmocka_unit_test(test_call_of_a_2xx_answer_returns_its_body),
	    cmocka_unit_test(test_busy_is_retried_until_the_server_answers),
	};

	return cmocka_run_group_tests(tests, global_setup, global_teardown);
}
