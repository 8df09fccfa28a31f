/* SPDX-License-Identifier: ISC */
/*
 * test_broker.c - the broker session's messages, backoff and state file
 * (broker.h, docs/nat.md): bad input first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker.h"
#include "broker_token.h"
#include "channel.h"
#include "testca.h"

#define TOKEN "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void
contains(const char *msg, const char *needle)
{
	if (strstr(msg, needle) == NULL)
		fail_msg("'%s' does not contain '%s'", msg, needle);
}

/* Parse text as a broker message: expect code and (if set) needle. */
static void
parse_as(const char *text, int code, const char *needle)
{
	struct eca_broker_msg m;
	struct eca_err err;

	eca_err_clear(&err);
	assert_int_equal(eca_broker_parse((const unsigned char *)text,
			     strlen(text), &m, &err),
	    code);
	if (code != 0) {
		assert_int_equal(err.code, code);
		if (needle != NULL)
			contains(err.msg, needle);
	}
}

static void
test_bad_messages_are_refused_naming_the_field(void **state)
{
	(void)state;
	parse_as("not json", ECA_ERR_PROTOCOL, NULL);
	parse_as("[]", ECA_ERR_PROTOCOL, NULL);
	parse_as("{}", ECA_ERR_PROTOCOL, "no \"op\"");
	parse_as("{\"op\":1}", ECA_ERR_PROTOCOL, "\"op\" is not a string");
	parse_as("{\"op\":\"hello\"}", ECA_ERR_PROTOCOL,
	    "not one of register, registered, refused, ping, pong");
	parse_as("{\"op\":\"register\",\"host\":\"n.example\"}",
	    ECA_ERR_PROTOCOL, "\"v\"");
	parse_as("{\"op\":\"register\",\"v\":2,\"host\":\"n.example\","
		 "\"role\":\"client\",\"nat\":true,\"heartbeat\":15}",
	    ECA_ERR_PROTOCOL, "upgrade the older host");
	parse_as("{\"op\":\"register\",\"v\":1,\"host\":\"bad host\","
		 "\"role\":\"client\",\"nat\":true,\"heartbeat\":15}",
	    ECA_ERR_PROTOCOL, "\"host\"");
	parse_as("{\"op\":\"register\",\"v\":1,\"host\":\"n.example\","
		 "\"role\":\"boss\",\"nat\":true,\"heartbeat\":15}",
	    ECA_ERR_PROTOCOL, "\"role\"");
	parse_as("{\"op\":\"register\",\"v\":1,\"host\":\"n.example\","
		 "\"role\":\"client\",\"nat\":1,\"heartbeat\":15}",
	    ECA_ERR_PROTOCOL, "\"nat\" is not true or false");
	parse_as("{\"op\":\"register\",\"v\":1,\"host\":\"n.example\","
		 "\"role\":\"client\",\"nat\":true,\"heartbeat\":0}",
	    ECA_ERR_PROTOCOL, "\"heartbeat\"");
	parse_as("{\"op\":\"register\",\"v\":1,\"host\":\"n.example\","
		 "\"role\":\"client\",\"nat\":true,\"heartbeat\":3601}",
	    ECA_ERR_PROTOCOL, "\"heartbeat\"");
	parse_as("{\"op\":\"refused\",\"v\":1,\"code\":\"BANNED\"}",
	    ECA_ERR_PROTOCOL, "no \"message\"");
	parse_as("{\"op\":\"ping\",\"op\":\"pong\"}", ECA_ERR_PROTOCOL, NULL);
	parse_as("{\"op\":\"connect\",\"v\":1,\"token\":\"abc\","
		 "\"requester\":\"m.example\",\"address\":\"10.0.0.1:5\","
		 "\"purpose\":\"backup\"}",
	    ECA_ERR_PROTOCOL, "\"token\" is not 64 lower-case hex digits");
	parse_as("{\"op\":\"connect\",\"v\":1,\"token\":\"" TOKEN "\","
		 "\"requester\":\"m.example\",\"address\":\"10.0.0.1\","
		 "\"purpose\":\"backup\"}",
	    ECA_ERR_PROTOCOL, "\"address\" is not HOST:PORT");
	parse_as("{\"op\":\"connect\",\"v\":1,\"token\":\"" TOKEN "\","
		 "\"requester\":\"m.example\",\"address\":\"10.0.0.1:5\","
		 "\"purpose\":\"steal\"}",
	    ECA_ERR_PROTOCOL, "\"purpose\"");
	parse_as("{\"op\":\"connect\",\"v\":1,\"token\":\"" TOKEN "\","
		 "\"address\":\"10.0.0.1:5\",\"purpose\":\"backup\"}",
	    ECA_ERR_PROTOCOL, "no \"requester\"");
	parse_as("{\"op\":\"connect\",\"v\":1,\"token\":\"" TOKEN "\","
		 "\"requester\":\"m.example\",\"address\":\"10.0.0.1:5\","
		 "\"purpose\":\"backup\",\"ttl\":601}",
	    ECA_ERR_PROTOCOL, "\"ttl\" is not a number of seconds");
	parse_as("{\"op\":\"connect\",\"v\":1,\"token\":\"" TOKEN "\","
		 "\"requester\":\"m.example\",\"address\":\"10.0.0.1:5\","
		 "\"purpose\":\"backup\",\"ttl\":\"30\"}",
	    ECA_ERR_PROTOCOL, "\"ttl\"");
	parse_as("{\"op\":\"connect\",\"v\":1,\"token\":\"" TOKEN "\","
		 "\"requester\":\"m.example\",\"address\":\"10.0.0.1:5\","
		 "\"purpose\":\"backup\",\"relay\":\"10.0.0.9\"}",
	    ECA_ERR_PROTOCOL, "\"relay\" is not true or false");
	parse_as(
	    "{\"op\":\"relay\",\"v\":1,\"side\":\"both\",\"token\":\"" TOKEN
	    "\",\"requester\":\"m.example\",\"host\":\"n.example\","
	    "\"purpose\":\"backup\"}",
	    ECA_ERR_PROTOCOL, "\"side\" is not caller or callee");
	parse_as(
	    "{\"op\":\"relay\",\"v\":1,\"side\":\"caller\",\"token\":\"x\","
	    "\"requester\":\"m.example\",\"host\":\"n.example\","
	    "\"purpose\":\"backup\"}",
	    ECA_ERR_PROTOCOL, "\"token\" is not 64");
	parse_as(
	    "{\"op\":\"relay\",\"v\":1,\"side\":\"caller\",\"token\":\"" TOKEN
	    "\",\"requester\":\"m.example\",\"purpose\":\"backup\"}",
	    ECA_ERR_PROTOCOL, "no \"host\"");
	parse_as(
	    "{\"op\":\"relay\",\"v\":1,\"side\":\"callee\",\"token\":\"" TOKEN
	    "\",\"requester\":\"m.example\",\"host\":\"n.example\","
	    "\"purpose\":\"fetch\"}",
	    ECA_ERR_PROTOCOL, "\"purpose\" is not a purpose");
}

static void
test_encoder_refuses_invalid_input(void **state)
{
	struct eca_broker_msg m;
	unsigned char *out = (unsigned char *)"x";
	size_t len = 1;

	(void)state;
	assert_int_equal(eca_broker_encode(NULL, &out, &len, NULL),
	    ECA_ERR_INTERNAL);
	assert_null(out);
	memset(&m, 0, sizeof(m));
	m.op = ECA_BROKER_REGISTER;
	snprintf(m.host, sizeof(m.host), "Not.Canon");
	m.heartbeat = 15;
	assert_int_equal(eca_broker_encode(&m, &out, &len, NULL),
	    ECA_ERR_INTERNAL);
	snprintf(m.host, sizeof(m.host), "n.example");
	m.heartbeat = 0;
	assert_int_equal(eca_broker_encode(&m, &out, &len, NULL),
	    ECA_ERR_INTERNAL);
	m.op = (enum eca_broker_op)99;
	assert_int_equal(eca_broker_encode(&m, &out, &len, NULL),
	    ECA_ERR_INTERNAL);
}

/* Encode m, check the frame, parse its payload back into *back. */
static void
round_trip(const struct eca_broker_msg *m, struct eca_broker_msg *back)
{
	unsigned char *f = NULL;
	size_t len = 0, flen = 0;

	assert_int_equal(eca_broker_encode(m, &f, &len, NULL), 0);
	assert_int_equal(eca_channel_frame_need(f, len, &flen), 0);
	assert_int_equal(flen, len);
	assert_int_equal(eca_broker_parse(f + 4, len - 4, back, NULL), 0);
	free(f);
}

static void
test_every_message_round_trips(void **state)
{
	struct eca_broker_msg m, back;
	unsigned char *buf = NULL;
	struct eca_err err;
	size_t len = 0;
	int op;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.op = ECA_BROKER_REGISTER;
	snprintf(m.host, sizeof(m.host), "nat1.example");
	m.role = ECA_ROLE_MEDIA;
	m.nat = 1;
	m.heartbeat = 15;
	round_trip(&m, &back);
	assert_memory_equal(&m, &back, sizeof(m));

	memset(&m, 0, sizeof(m));
	m.op = ECA_BROKER_REFUSED;
	m.code = ECA_ERR_NOT_ENROLLED;
	snprintf(m.message, sizeof(m.message), "run `eca enroll` on n");
	round_trip(&m, &back);
	assert_memory_equal(&m, &back, sizeof(m));

	memset(&m, 0, sizeof(m));
	m.op = ECA_BROKER_CONNECT;
	snprintf(m.token, sizeof(m.token), TOKEN);
	snprintf(m.requester, sizeof(m.requester), "media1.example");
	snprintf(m.address, sizeof(m.address), "[2001:db8::1]:40123");
	m.purpose = ECA_PURPOSE_RESTORE;
	round_trip(&m, &back);
	assert_memory_equal(&m, &back, sizeof(m));
	m.ttl = 30;
	m.relay = 1;
	round_trip(&m, &back);
	assert_memory_equal(&m, &back, sizeof(m));
	memset(&m, 0, sizeof(m));
	m.op = ECA_BROKER_RELAY;
	m.side = ECA_BROKER_CALLEE;
	snprintf(m.token, sizeof(m.token), TOKEN);
	snprintf(m.requester, sizeof(m.requester), "nat3.example");
	snprintf(m.host, sizeof(m.host), "nat1.example");
	m.purpose = ECA_PURPOSE_BACKUP;
	round_trip(&m, &back);
	assert_memory_equal(&m, &back, sizeof(m));
	m.side = (enum eca_broker_side)7;
	eca_err_clear(&err);
	assert_int_equal(eca_broker_encode(&m, &buf, &len, &err),
	    ECA_ERR_INTERNAL);
	assert_true(eca_broker_token_valid(TOKEN));
	assert_false(eca_broker_token_valid(TOKEN "0"));
	assert_false(eca_broker_token_valid("0123456789ABCDEF0123456789abcdef01"
					    "23456789abcdef0123456789abcdef"));

	for (op = ECA_BROKER_REGISTERED; op <= ECA_BROKER_PONG; op++) {
		if (op == ECA_BROKER_REFUSED)
			continue;
		memset(&m, 0, sizeof(m));
		m.op = (enum eca_broker_op)op;
		round_trip(&m, &back);
		assert_memory_equal(&m, &back, sizeof(m));
	}
}

/* Encode m, expecting the encoder's refusal. */
static void
encode_refused(const struct eca_broker_msg *m)
{
	unsigned char *f = NULL;
	size_t len = 0;
	struct eca_err err;

	eca_err_clear(&err);
	assert_int_equal(eca_broker_encode(m, &f, &len, &err),
	    ECA_ERR_INTERNAL);
	assert_null(f);
}

static void
test_remote_enrollment_messages(void **state)
{
	struct eca_broker_msg m, back;

	(void)state;
	/* Bad ones first: the id, the answer, the version. */
	parse_as("{\"op\":\"enroll\",\"v\":1}", ECA_ERR_PROTOCOL, "\"id\"");
	parse_as("{\"op\":\"enroll\",\"v\":1,\"id\":\"7\"}", ECA_ERR_PROTOCOL,
	    "\"id\" is not a number");
	parse_as("{\"op\":\"enroll\",\"v\":1,\"id\":0}", ECA_ERR_PROTOCOL,
	    "\"id\"");
	parse_as("{\"op\":\"enroll\",\"v\":1,\"id\":9007199254740993}",
	    ECA_ERR_PROTOCOL, "\"id\"");
	parse_as("{\"op\":\"enroll\",\"id\":1}", ECA_ERR_PROTOCOL, "\"v\"");
	parse_as("{\"op\":\"enrolled\",\"v\":1,\"id\":1}", ECA_ERR_PROTOCOL,
	    "\"answer\" is not an object");
	parse_as("{\"op\":\"enrolled\",\"v\":1,\"id\":1,\"answer\":\"ok\"}",
	    ECA_ERR_PROTOCOL, "\"answer\" is not an object");
	parse_as("{\"op\":\"enrolled\",\"v\":1,\"id\":-1,\"answer\":{}}",
	    ECA_ERR_PROTOCOL, "\"id\"");
	memset(&m, 0, sizeof(m));
	m.op = ECA_BROKER_ENROLL;
	encode_refused(&m); /* id 0 */
	m.op = ECA_BROKER_ENROLLED;
	m.id = 3;
	encode_refused(&m); /* no answer */
	m.answer = (char *)"[1]";
	encode_refused(&m); /* not an object */
	m.answer = (char *)"{\"outcome\":";
	encode_refused(&m); /* not JSON */

	/* Good ones round-trip; the answer comes back as the same object. */
	memset(&m, 0, sizeof(m));
	m.op = ECA_BROKER_ENROLL;
	m.id = ECA_BROKER_ID_MAX;
	round_trip(&m, &back);
	assert_memory_equal(&m, &back, sizeof(m));
	m.op = ECA_BROKER_ENROLLED;
	m.id = 42;
	m.answer = (char *)"{\"outcome\":\"ENROLLED\",\"precheck\":false}";
	round_trip(&m, &back);
	assert_int_equal(back.op, ECA_BROKER_ENROLLED);
	assert_int_equal(back.id, 42);
	assert_string_equal(back.answer,
	    "{\"outcome\":\"ENROLLED\",\"precheck\":false}");
	eca_broker_msg_clear(&back);
	assert_null(back.answer);
	eca_broker_msg_clear(NULL);
}

static void
test_unknown_keys_and_codes(void **state)
{
	struct eca_broker_msg m;
	const char *t1 = "{\"op\":\"pong\",\"later\":[1]}";
	const char *t2 = "{\"op\":\"refused\",\"v\":1,\"code\":\"NEWER_CODE\","
			 "\"message\":\"no\"}";
	const char *t3 = "{\"op\":\"refused\",\"v\":1,\"code\":\"OK\","
			 "\"message\":\"\"}";

	(void)state;
	assert_int_equal(
	    eca_broker_parse((const unsigned char *)t1, strlen(t1), &m, NULL),
	    0);
	assert_int_equal(m.op, ECA_BROKER_PONG);
	/* A refusal always refuses, whatever its code says. */
	assert_int_equal(
	    eca_broker_parse((const unsigned char *)t2, strlen(t2), &m, NULL),
	    0);
	assert_int_equal(m.code, ECA_ERR_INTERNAL);
	assert_int_equal(
	    eca_broker_parse((const unsigned char *)t3, strlen(t3), &m, NULL),
	    0);
	assert_int_equal(m.code, ECA_ERR_PROTOCOL);
}

static void
test_backoff_grows_is_jittered_and_capped(void **state)
{
	int64_t w;
	unsigned a;

	(void)state;
	/* Attempt 1: between half the first step and the step. */
	assert_int_equal(eca_broker_backoff_ms(1, 0),
	    ECA_BROKER_BACKOFF_MIN_MS / 2);
	assert_int_equal(eca_broker_backoff_ms(1, UINT32_MAX) <=
		ECA_BROKER_BACKOFF_MIN_MS,
	    1);
	assert_int_equal(eca_broker_backoff_ms(2, 0),
	    ECA_BROKER_BACKOFF_MIN_MS);
	assert_int_equal(eca_broker_backoff_ms(3, 0),
	    2 * ECA_BROKER_BACKOFF_MIN_MS);
	for (a = 1; a < 100; a++) {
		w = eca_broker_backoff_ms(a, (uint32_t)a * 2654435761u);
		assert_true(w >= ECA_BROKER_BACKOFF_MIN_MS / 2);
		assert_true(w <= ECA_BROKER_BACKOFF_MAX_MS);
	}
	assert_int_equal(eca_broker_backoff_ms(1000, 0),
	    ECA_BROKER_BACKOFF_MAX_MS / 2);
	/* Two hosts with different random numbers do not come back together. */
	assert_true(eca_broker_backoff_ms(6, 1) != eca_broker_backoff_ms(6, 7));
}

static void
test_state_file_round_trip(void **state)
{
	struct eca_broker_state st, back;
	struct eca_err err;
	char *dir = testca_tmpdir(), path[4096];
	FILE *f;

	(void)state;
	eca_err_clear(&err);
	assert_int_equal(eca_broker_state_load(dir, "p.example", &back, &err),
	    ECA_ERR_NOT_FOUND);
	contains(err.msg, "is ecad running?");
	assert_int_equal(
	    eca_broker_state_path(dir, "Bad Name", path, sizeof(path), &err),
	    ECA_ERR_CONFIG);
	memset(&st, 0, sizeof(st));
	snprintf(st.primary, sizeof(st.primary), "p.example");
	snprintf(st.address, sizeof(st.address), "10.0.0.1:1558");
	st.code = ECA_ERR_TIMEOUT;
	snprintf(st.error, sizeof(st.error), "no answer to 3 heartbeats");
	st.next_retry = 1700000000;
	st.last_heartbeat = 1699999990;
	st.updated = 1699999999;
	assert_int_equal(eca_broker_state_save(dir, &st, NULL), 0);
	assert_int_equal(eca_broker_state_load(dir, "p.example", &back, NULL),
	    0);
	assert_memory_equal(&st, &back, sizeof(st));

	assert_int_equal(
	    eca_broker_state_path(dir, "p.example", path, sizeof(path), NULL),
	    0);
	assert_non_null(f = fopen(path, "w"));
	fputs("garbage", f);
	fclose(f);
	assert_int_equal(eca_broker_state_load(dir, "p.example", &back, &err),
	    ECA_ERR_PROTOCOL);
	testca_rmdir(dir);
}

/* ------------------------------------------------------------------ */
/* Tokens (broker_token.h): bad ones first.                            */

static const unsigned char KEY[ECA_BROKER_TOKEN_KEY_LEN] =
    "0123456789abcdef0123456789abcde";
static const unsigned char NONCE[ECA_BROKER_TOKEN_NONCE_LEN] = {1, 2, 3, 4, 5,
    6, 7, 8};
#define NOW ((int64_t)1800000000)

static void
binding(struct eca_broker_binding *b, const char *x, const char *n,
    enum eca_purpose u)
{
	memset(b, 0, sizeof(*b));
	snprintf(b->requester, sizeof(b->requester), "%s", x);
	snprintf(b->host, sizeof(b->host), "%s", n);
	b->purpose = u;
}

/* A token of X=media1, N=nat1, backup, good for 30 s from NOW. */
static void
make_token(char token[ECA_BROKER_TOKEN_LEN + 1])
{
	struct eca_broker_binding b;
	struct eca_err err;

	binding(&b, "media1.example", "nat1.example", ECA_PURPOSE_BACKUP);
	eca_err_clear(&err);
	assert_int_equal(
	    eca_broker_token_make(KEY, &b, NOW + 30, NONCE, token, &err), 0);
	assert_true(eca_broker_token_valid(token));
}

/* Check token for (x, n, u) at now: expect code and (if set) needle. */
static void
check_as(const char *token, const char *x, const char *n, enum eca_purpose u,
    int64_t now, int code, const char *needle)
{
	struct eca_broker_binding b;
	struct eca_err err;
	int64_t expires = 0;

	binding(&b, x, n, u);
	eca_err_clear(&err);
	assert_int_equal(
	    eca_broker_token_check(KEY, token, &b, now, &expires, &err), code);
	if (code == 0)
		assert_int_equal(expires, NOW + 30);
	else if (needle != NULL)
		contains(err.msg, needle);
}

static void
test_token_forged_or_misbound_is_refused(void **state)
{
	char token[ECA_BROKER_TOKEN_LEN + 1], forged[ECA_BROKER_TOKEN_LEN + 1];

	(void)state;
	make_token(token);
	check_as("", "media1.example", "nat1.example", ECA_PURPOSE_BACKUP, NOW,
	    ECA_ERR_FORBIDDEN, "not a reverse connection token");
	check_as(TOKEN "0", "media1.example", "nat1.example",
	    ECA_PURPOSE_BACKUP, NOW, ECA_ERR_FORBIDDEN, "not a reverse");
	check_as(TOKEN, "media1.example", "nat1.example", ECA_PURPOSE_BACKUP,
	    NOW, ECA_ERR_FORBIDDEN, "forged token");
	/* One digit of the MAC changed. */
	memcpy(forged, token, sizeof(forged));
	forged[ECA_BROKER_TOKEN_LEN - 1] =
	    forged[ECA_BROKER_TOKEN_LEN - 1] == '0' ? '1' : '0';
	check_as(forged, "media1.example", "nat1.example", ECA_PURPOSE_BACKUP,
	    NOW, ECA_ERR_FORBIDDEN, "forged token");
	/* The expiry pushed back: the MAC no longer matches. */
	memcpy(forged, token, sizeof(forged));
	forged[2 * ECA_BROKER_TOKEN_NONCE_LEN + 14] = 'f';
	forged[2 * ECA_BROKER_TOKEN_NONCE_LEN + 15] = 'f';
	check_as(forged, "media1.example", "nat1.example", ECA_PURPOSE_BACKUP,
	    NOW, ECA_ERR_FORBIDDEN, "forged token");
	/* Another requester or NAT host: it was not made for them. */
	check_as(token, "media2.example", "nat1.example", ECA_PURPOSE_BACKUP,
	    NOW, ECA_ERR_FORBIDDEN,
	    "for media2.example's request to "
	    "nat1.example");
	check_as(token, "media1.example", "nat2.example", ECA_PURPOSE_BACKUP,
	    NOW, ECA_ERR_FORBIDDEN, "forged token");
}

static void
test_token_wrong_purpose_or_expired_is_refused(void **state)
{
	char token[ECA_BROKER_TOKEN_LEN + 1];
	struct eca_broker_binding b;
	struct eca_err err;
	unsigned char other[ECA_BROKER_TOKEN_KEY_LEN];

	(void)state;
	make_token(token);
	check_as(token, "media1.example", "nat1.example", ECA_PURPOSE_CONSOLE,
	    NOW, ECA_ERR_FORBIDDEN, "bound to purpose backup, not console");
	check_as(token, "media1.example", "nat1.example", ECA_PURPOSE_BACKUP,
	    NOW + 30, ECA_ERR_FORBIDDEN, "expired 0 s ago");
	check_as(token, "media1.example", "nat1.example", ECA_PURPOSE_BACKUP,
	    NOW + 100, ECA_ERR_FORBIDDEN, "expired 70 s ago");
	/* Another primary's key: forged. */
	memcpy(other, KEY, sizeof(other));
	other[0] ^= 1;
	binding(&b, "media1.example", "nat1.example", ECA_PURPOSE_BACKUP);
	eca_err_clear(&err);
	assert_int_equal(
	    eca_broker_token_check(other, token, &b, NOW, NULL, &err),
	    ECA_ERR_FORBIDDEN);
	contains(err.msg, "forged token");
	/* The good one, just before it expires. */
	check_as(token, "media1.example", "nat1.example", ECA_PURPOSE_BACKUP,
	    NOW + 29, 0, NULL);
}

static void
test_token_is_spent_once(void **state)
{
	static struct eca_broker_spent spent;
	char token[ECA_BROKER_TOKEN_LEN + 1], tok2[ECA_BROKER_TOKEN_LEN + 1];
	unsigned char nonce[ECA_BROKER_TOKEN_NONCE_LEN];
	struct eca_broker_binding b;
	struct eca_err err;
	int i;

	(void)state;
	memset(&spent, 0, sizeof(spent));
	make_token(token);
	eca_err_clear(&err);
	assert_int_equal(
	    eca_broker_token_spend(&spent, "zz", NOW + 30, NOW, &err),
	    ECA_ERR_FORBIDDEN);
	assert_int_equal(
	    eca_broker_token_spend(&spent, token, NOW + 30, NOW, &err), 0);
	assert_int_equal(
	    eca_broker_token_spend(&spent, token, NOW + 30, NOW + 1, &err),
	    ECA_ERR_FORBIDDEN);
	contains(err.msg, "replayed token");
	/* Full of unexpired tokens: refused, never forgotten early. */
	binding(&b, "media1.example", "nat1.example", ECA_PURPOSE_BACKUP);
	for (i = 1; i < ECA_BROKER_SPENT_MAX; i++) {
		memset(nonce, 0, sizeof(nonce));
		memcpy(nonce, &i, sizeof(i));
		assert_int_equal(
		    eca_broker_token_make(KEY, &b, NOW + 30, nonce, tok2, &err),
		    0);
		assert_int_equal(
		    eca_broker_token_spend(&spent, tok2, NOW + 30, NOW, &err),
		    0);
	}
	memset(nonce, 0xff, sizeof(nonce));
	assert_int_equal(
	    eca_broker_token_make(KEY, &b, NOW + 30, nonce, tok2, &err), 0);
	assert_int_equal(
	    eca_broker_token_spend(&spent, tok2, NOW + 30, NOW, &err),
	    ECA_ERR_BUSY);
	assert_int_equal(
	    eca_broker_token_spend(&spent, token, NOW + 30, NOW + 2, &err),
	    ECA_ERR_FORBIDDEN);
	/* Once they expire their slots are free again. */
	assert_int_equal(
	    eca_broker_token_spend(&spent, tok2, NOW + 90, NOW + 30, &err), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bad_messages_are_refused_naming_the_field),
	    cmocka_unit_test(test_encoder_refuses_invalid_input),
	    cmocka_unit_test(test_every_message_round_trips),
	    cmocka_unit_test(test_remote_enrollment_messages),
	    cmocka_unit_test(test_unknown_keys_and_codes),
	    cmocka_unit_test(test_backoff_grows_is_jittered_and_capped),
	    cmocka_unit_test(test_state_file_round_trip),
	    cmocka_unit_test(test_token_forged_or_misbound_is_refused),
	    cmocka_unit_test(test_token_wrong_purpose_or_expired_is_refused),
	    cmocka_unit_test(test_token_is_spent_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
