/* SPDX-License-Identifier: ISC */
/* test_wire.c - the JSON of the /v1 API. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "wire.h"
#include "wire_impl.h"

static int
body(const char *s, struct eca_enroll_body *b, struct eca_err *err)
{
	return eca_wire_parse_enroll_body(s, strlen(s), b, err);
}

static void
refused(const char *s, const char *needle)
{
	struct eca_enroll_body b;
	struct eca_err err;

	eca_err_clear(&err);
	assert_int_equal(body(s, &b, &err), ECA_ERR_BAD_REQUEST);
	assert_int_equal(err.code, ECA_ERR_BAD_REQUEST);
	if (needle != NULL && strstr(err.msg, needle) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, needle);
	/* nothing half-filled is left behind */
	assert_string_equal(b.host, "");
}

/* A host name the body parser refuses as such (400 BAD_HOST_NAME). */
static void
refused_host(const char *s, const char *needle)
{
	struct eca_enroll_body b;
	struct eca_err err;

	eca_err_clear(&err);
	assert_int_equal(body(s, &b, &err), ECA_ERR_BAD_HOST_NAME);
	assert_int_equal(err.code, ECA_ERR_BAD_HOST_NAME);
	if (needle != NULL && strstr(err.msg, needle) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, needle);
	assert_string_equal(b.host, "");
}

static void
fake_cert(struct eca_certinfo *ci, unsigned n)
{
	memset(ci, 0, sizeof(*ci));
	snprintf(ci->fingerprint, sizeof(ci->fingerprint), "%064x", n);
	snprintf(ci->spki_fingerprint, sizeof(ci->spki_fingerprint), "%064x",
	    n + 7);
	snprintf(ci->subject, sizeof(ci->subject),
	    "CN=h%u.example,O=Example\\, Inc.,C=NL", n);
	snprintf(ci->issuer, sizeof(ci->issuer), "CN=Issuing CA \"%u\"", n);
	snprintf(ci->serial, sizeof(ci->serial), "0A1B%04X", n);
	ci->not_before = 1700000000 + n;
	ci->not_after = 1800000000 + n;
	snprintf(ci->key_desc, sizeof(ci->key_desc), "RSA 2048");
	snprintf(ci->sig_alg, sizeof(ci->sig_alg), "sha256WithRSAEncryption");
	snprintf(ci->cn, sizeof(ci->cn), "h%u.example", n);
	snprintf(ci->san_inline, sizeof(ci->san_inline),
	    "h%u.example,www.h%u.example", n, n);
}

static void
fake_record(struct eca_enrollment *r, int with_candidate)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->primary, sizeof(r->primary), "primary.example");
	snprintf(r->host, sizeof(r->host), "h1.example");
	snprintf(r->host_id, sizeof(r->host_id),
	    "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9");
	r->role = ECA_ROLE_MEDIA;
	r->state = with_candidate ? ECA_STATE_CONFLICT : ECA_STATE_ENROLLED;
	r->method = ECA_METHOD_MANUAL;
	fake_cert(&r->cert, 1);
	if (with_candidate) {
		r->has_candidate = 1;
		r->ncandidates = 1;
		fake_cert(&r->candidate, 2);
		r->candidate_at = 1750000500;
		snprintf(r->candidate_source, sizeof(r->candidate_source),
		    "[2001:db8::7]:50123");
	}
	r->enrolled_at = 1750000000;
	r->updated_at = 1750000100;
	r->last_seen = 1750000200;
	snprintf(r->source, sizeof(r->source), "203.0.113.9:51234");
	r->version = 42;
}

static void
assert_cert_equal(const struct eca_certinfo *a, const struct eca_certinfo *b)
{
	assert_memory_equal(a, b, sizeof(*a));
}

/* Serialise to text and back, as across the network. */
static json_t *
through_text(json_t *j)
{
	char *s;
	json_t *back;
	json_error_t e;

	assert_non_null(j);
	s = json_dumps(j, JSON_COMPACT);
	assert_non_null(s);
	back = json_loads(s, JSON_REJECT_DUPLICATES, &e);
	assert_non_null(back);
	free(s);
	json_decref(j);
	return back;
}

/* ---------------------------------------------------------------- */
/* Request body: refusals.                                           */

static void
test_body_that_is_not_json_is_refused(void **state)
{
	(void)state;
	refused("host=a.example", "not valid JSON");
	refused("{\"host\": \"a.example\"", "not valid JSON");
	refused("{\"host\": \"a.example\"} trailing", "not valid JSON");
	refused("\xff\xfe{}", "not valid JSON");
	refused("{\"host\": \"a\\u0000b\"}", "not valid JSON");
}

static void
test_empty_body_is_refused(void **state)
{
	struct eca_enroll_body b;
	struct eca_err err;

	(void)state;
	assert_int_equal(eca_wire_parse_enroll_body("", 0, &b, &err),
	    ECA_ERR_BAD_REQUEST);
	assert_int_equal(eca_wire_parse_enroll_body(NULL, 0, &b, &err),
	    ECA_ERR_BAD_REQUEST);
	assert_int_equal(eca_wire_parse_enroll_body(NULL, 5, &b, &err),
	    ECA_ERR_BAD_REQUEST);
}

static void
test_body_not_an_object_is_refused(void **state)
{
	(void)state;
	refused("[\"host\", \"a.example\"]", "JSON object");
	refused("[]", "JSON object");
	refused("\"a.example\"", NULL);
	refused("42", NULL);
	refused("null", NULL);
}

static void
test_body_with_unknown_key_is_refused(void **state)
{
	(void)state;
	refused("{\"host\": \"a.example\", \"admin\": true}",
	    "unknown field \"admin\"");
	refused("{\"Host\": \"a.example\"}", "unknown field \"Host\"");
	/* a hostile key is cut and made printable in the message */
	refused("{\"host\": \"a.example\", \"\\u001b[31mxxxxxxxxxxxxxxxxxxxxxxx"
		"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\": 1}",
	    "unknown field \"\\x1b[31mxxxx");
}

static void
test_body_with_duplicate_key_is_refused(void **state)
{
	(void)state;
	refused("{\"host\": \"a.example\", \"host\": \"b.example\"}",
	    "duplicate");
	refused("{\"host\": \"a.example\", \"force\": false, \"force\": true}",
	    NULL);
}

static void
test_body_with_wrong_types_is_refused(void **state)
{
	(void)state;
	refused("{\"host\": 42}", "\"host\" must be a string");
	refused("{\"host\": null}", "\"host\" must be a string");
	refused("{\"host\": [\"a.example\"]}", "\"host\"");
	refused("{\"host\": \"a.example\", \"precheck\": \"yes\"}",
	    "\"precheck\" must be true or false");
	refused("{\"host\": \"a.example\", \"force\": 1}",
	    "\"force\" must be true or false");
	refused("{\"host\": \"a.example\", \"force\": null}", "\"force\"");
	refused("{\"host\": \"a.example\", \"role\": 1}", "\"role\"");
	refused("{\"host\": \"a.example\", \"role\": \"admin\"}", "\"role\"");
	refused("{\"host\": \"a.example\", \"role\": \"MEDIA\"}", "\"role\"");
	refused("{\"host\": \"a.example\", \"method\": \"admin\"}",
	    "\"method\"");
	refused("{\"host\": \"a.example\", \"method\": true}", "\"method\"");
}

static void
test_body_without_host_is_refused(void **state)
{
	(void)state;
	refused("{}", "\"host\" is missing");
	refused("{\"precheck\": true, \"force\": false}",
	    "\"host\" is missing");
}

static void
test_body_with_invalid_host_name_is_refused(void **state)
{
	const char *bad[] = {
	    "",
	    ".",
	    "a..b",
	    ".a.example",
	    "a.example.",
	    "-a.example",
	    "a-.example",
	    "a.-b.example",
	    "a b.example",
	    "a/b",
	    "a.example:1556",
	    "h\xc3\xa9.example",
	    "a;rm -rf",
	    "*.example",
	    "a\\u000ab",
	    "_srv.example",
	    "x_y.example",
	    "media1.example.",
	};
	char buf[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf), "{\"host\": \"%s\"}", bad[i]);
		refused_host(buf, "field \"host\": ");
	}
	refused_host("{\"host\": \"media1.example.\"}", "trailing dot");
	refused_host("{\"host\": \"x_y.example\"}", "'_' is not allowed");
}

static void
test_body_with_over_long_strings_is_refused(void **state)
{
	char name[300], buf[512];

	(void)state;
	/* 254 characters, in valid labels */
	memset(name, 'a', sizeof(name));
	name[63] = name[127] = name[191] = '.';
	name[254] = '\0';
	assert_false(eca_hostname_valid(name));
	snprintf(buf, sizeof(buf), "{\"host\": \"%s\"}", name);
	refused_host(buf, "\"host\"");
	/* longer than the field holds */
	memset(name, 'a', sizeof(name));
	name[63] = name[127] = name[191] = name[255] = '.';
	name[290] = '\0';
	snprintf(buf, sizeof(buf), "{\"host\": \"%s\"}", name);
	refused(buf, "longer than");
	/* a 64-character label */
	memset(name, 'b', 64);
	snprintf(name + 64, sizeof(name) - 64, ".example");
	assert_false(eca_hostname_valid(name));
	snprintf(buf, sizeof(buf), "{\"host\": \"%s\"}", name);
	refused_host(buf, "\"host\"");
}

static void
test_body_over_the_limit_is_too_large(void **state)
{
	struct eca_enroll_body b;
	struct eca_err err;
	char *big;
	size_t n = ECA_BODY_MAX + 1;

	(void)state;
	big = malloc(n);
	assert_non_null(big);
	/* valid JSON, only too long */
	memset(big, ' ', n);
	memcpy(big, "{\"host\": \"a.example\"}", 21);
	assert_int_equal(eca_wire_parse_enroll_body(big, n, &b, &err),
	    ECA_ERR_TOO_LARGE);
	assert_int_equal(err.code, ECA_ERR_TOO_LARGE);
	/* the same at exactly the limit is fine */
	assert_int_equal(
	    eca_wire_parse_enroll_body(big, ECA_BODY_MAX, &b, &err), 0);
	assert_string_equal(b.host, "a.example");
	free(big);
}

static void
test_body_is_read_only_within_its_length(void **state)
{
	struct eca_enroll_body b;
	struct eca_err err;
	const char *s = "{\"host\": \"a.example\"}GARBAGE";

	(void)state;
	/* not NUL-terminated: the length is the end */
	assert_int_equal(eca_wire_parse_enroll_body(s, 21, &b, &err), 0);
	assert_string_equal(b.host, "a.example");
	assert_int_equal(eca_wire_parse_enroll_body(s, 20, &b, &err),
	    ECA_ERR_BAD_REQUEST);
}

/* ---------------------------------------------------------------- */
/* Parsers of responses: refusals.                                   */

static void
test_certinfo_of_wrong_shape_is_refused(void **state)
{
	struct eca_certinfo ci, out;
	struct eca_err err;
	json_t *j, *arr;
	char big[ECA_DN_MAX + 10];
	size_t i;

	(void)state;
	fake_cert(&ci, 1);
	assert_int_equal(eca_wire_parse_certinfo(NULL, &out, &err),
	    ECA_ERR_PROTOCOL);
	j = json_array();
	assert_int_equal(eca_wire_parse_certinfo(j, &out, &err),
	    ECA_ERR_PROTOCOL);
	json_decref(j);

	/* missing field */
	j = eca_wire_certinfo(&ci);
	json_object_del(j, "serial");
	assert_int_equal(eca_wire_parse_certinfo(j, &out, &err),
	    ECA_ERR_PROTOCOL);
	assert_non_null(strstr(err.msg, "\"serial\" is missing"));
	assert_string_equal(out.fingerprint, "");
	json_decref(j);

	/* wrong type */
	j = eca_wire_certinfo(&ci);
	json_object_set_new(j, "subject", json_integer(1));
	assert_int_equal(eca_wire_parse_certinfo(j, &out, &err),
	    ECA_ERR_PROTOCOL);
	assert_non_null(strstr(err.msg, "\"subject\" must be a string"));
	json_decref(j);

	/* over-long string */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	j = eca_wire_certinfo(&ci);
	json_object_set_new(j, "issuer", json_string(big));
	assert_int_equal(eca_wire_parse_certinfo(j, &out, &err),
	    ECA_ERR_PROTOCOL);
	assert_non_null(strstr(err.msg, "longer than"));
	json_decref(j);
	j = eca_wire_certinfo(&ci);
	json_object_set_new(j, "fingerprint", json_string(big + 900));
	assert_int_equal(eca_wire_parse_certinfo(j, &out, &err),
	    ECA_ERR_PROTOCOL);
	json_decref(j);

	/* NUL inside a string */
	j = eca_wire_certinfo(&ci);
	json_object_set_new(j, "cn", json_stringn("a\0b", 3));
	assert_int_equal(eca_wire_parse_certinfo(j, &out, &err),
	    ECA_ERR_PROTOCOL);
	json_decref(j);

	/* bad time */
	j = eca_wire_certinfo(&ci);
	json_object_set_new(j, "not_after", json_integer(1800000000));
	assert_int_equal(eca_wire_parse_certinfo(j, &out, &err),
	    ECA_ERR_PROTOCOL);
	json_decref(j);
	j = eca_wire_certinfo(&ci);
	json_object_set_new(j, "not_after", json_string("tomorrow"));
	assert_int_equal(eca_wire_parse_certinfo(j, &out, &err),
	    ECA_ERR_PROTOCOL);
	assert_non_null(strstr(err.msg, "RFC 3339"));
	json_decref(j);

	/* san: not an array, wrong elements, too long in total */
	j = eca_wire_certinfo(&ci);
	json_object_set_new(j, "san", json_string("a.example"));
	assert_int_equal(eca_wire_parse_certinfo(j, &out, &err),
	    ECA_ERR_PROTOCOL);
	json_decref(j);
	j = eca_wire_certinfo(&ci);
	arr = json_array();
	json_array_append_new(arr, json_integer(3));
	json_object_set_new(j, "san", arr);
	assert_int_equal(eca_wire_parse_certinfo(j, &out, &err),
	    ECA_ERR_PROTOCOL);
	json_decref(j);
	j = eca_wire_certinfo(&ci);
	arr = json_array();
	json_array_append_new(arr, json_string("a.example,b.example"));
	json_object_set_new(j, "san", arr);
	assert_int_equal(eca_wire_parse_certinfo(j, &out, &err),
	    ECA_ERR_PROTOCOL);
	json_decref(j);
	/* SAN lists are kept whole up to ECA_SAN_MAX - 1 bytes, no more. */
	j = eca_wire_certinfo(&ci);
	arr = json_array();
	big[600] = '\0';
	for (i = 0; i < ECA_SAN_MAX / 601 + 1; i++)
		json_array_append_new(arr, json_string(big));
	json_object_set_new(j, "san", arr);
	assert_int_equal(eca_wire_parse_certinfo(j, &out, &err),
	    ECA_ERR_PROTOCOL);
	assert_non_null(strstr(err.msg, "\"san\" is longer"));
	json_decref(j);
}

static void
test_enrollment_of_wrong_shape_is_refused(void **state)
{
	struct eca_enrollment r, out;
	struct eca_err err;
	json_t *j;

	(void)state;
	fake_record(&r, 1);
	j = json_string("h1.example");
	assert_int_equal(eca_wire_parse_enrollment(j, &out, &err),
	    ECA_ERR_PROTOCOL);
	json_decref(j);

	j = eca_wire_enrollment(&r);
	json_object_set_new(j, "role", json_string("PRIMARY"));
	assert_int_equal(eca_wire_parse_enrollment(j, &out, &err),
	    ECA_ERR_PROTOCOL);
	assert_non_null(strstr(err.msg, "\"role\""));
	json_decref(j);

	j = eca_wire_enrollment(&r);
	json_object_set_new(j, "state", json_string("HAPPY"));
	assert_int_equal(eca_wire_parse_enrollment(j, &out, &err),
	    ECA_ERR_PROTOCOL);
	json_decref(j);

	j = eca_wire_enrollment(&r);
	json_object_set_new(j, "method", json_integer(0));
	assert_int_equal(eca_wire_parse_enrollment(j, &out, &err),
	    ECA_ERR_PROTOCOL);
	json_decref(j);

	j = eca_wire_enrollment(&r);
	json_object_set_new(j, "version", json_string("42"));
	assert_int_equal(eca_wire_parse_enrollment(j, &out, &err),
	    ECA_ERR_PROTOCOL);
	json_decref(j);

	j = eca_wire_enrollment(&r);
	json_object_del(j, "certificate");
	assert_int_equal(eca_wire_parse_enrollment(j, &out, &err),
	    ECA_ERR_PROTOCOL);
	json_decref(j);

	j = eca_wire_enrollment(&r);
	json_object_set_new(j, "candidate", json_true());
	assert_int_equal(eca_wire_parse_enrollment(j, &out, &err),
	    ECA_ERR_PROTOCOL);
	json_decref(j);

	/* a candidate without its "at" */
	j = eca_wire_enrollment(&r);
	json_object_del(json_object_get(j, "candidate"), "at");
	assert_int_equal(eca_wire_parse_enrollment(j, &out, &err),
	    ECA_ERR_PROTOCOL);
	assert_int_equal(out.has_candidate, 0);
	assert_string_equal(out.host, "");
	json_decref(j);

	j = eca_wire_enrollment(&r);
	json_object_set_new(j, "host_id",
	    json_string("0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9-and-more"));
	assert_int_equal(eca_wire_parse_enrollment(j, &out, &err),
	    ECA_ERR_PROTOCOL);
	json_decref(j);
}

static void
test_malformed_times_are_refused(void **state)
{
	const char *bad[] = {
	    "2025-06-15",
	    "2025-06-15T15:06:40",
	    "2025-06-15T15:06:40+00:00",
	    "2025-06-15 15:06:40Z",
	    "2025-06-15T15:06:40.5Z",
	    "2025-13-01T00:00:00Z",
	    "2025-00-01T00:00:00Z",
	    "2025-02-29T00:00:00Z",
	    "1900-02-29T00:00:00Z",
	    "2025-04-31T00:00:00Z",
	    "2025-06-15T24:00:00Z",
	    "2025-06-15T23:60:00Z",
	    "2025-06-15T23:59:60Z",
	    "+025-06-15T15:06:40Z",
	    "2025-06-15T15:06:40z",
	    "2025-06-15T15:06:40ZZ",
	    "20a5-06-15T15:06:40Z",
	    "now",
	};
	int64_t t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t = 12345;
		if (eca_wire_parse_time(bad[i], &t) != ECA_ERR_PARSE)
			fail_msg("accepted \"%s\"", bad[i]);
	}
	assert_int_equal(eca_wire_parse_time(NULL, &t), ECA_ERR_PARSE);
}

static void
test_non_error_objects_are_not_errors(void **state)
{
	struct eca_err err;
	json_t *j;

	(void)state;
	eca_err_clear(&err);
	assert_int_equal(eca_wire_parse_error(NULL, &err), 0);
	j = json_pack("{s:s}", "host", "a.example");
	assert_int_equal(eca_wire_parse_error(j, &err), 0);
	json_decref(j);
	j = json_pack("{s:s}", "error", "CONFLICT");
	assert_int_equal(eca_wire_parse_error(j, &err), 0);
	json_decref(j);
	assert_int_equal(err.code, 0);
	/* an error object without a code is a protocol error */
	j = json_pack("{s:{s:s}}", "error", "message", "x");
	assert_int_equal(eca_wire_parse_error(j, &err), ECA_ERR_PROTOCOL);
	json_decref(j);
	/* an unknown code still reads as an error */
	j = json_pack("{s:{s:s,s:s}}", "error", "code", "MARTIAN", "message",
	    "\x1b[2Jhello");
	assert_int_equal(eca_wire_parse_error(j, &err), ECA_ERR_INTERNAL);
	assert_string_equal(err.msg, "\\x1b[2Jhello");
	json_decref(j);
}

static void
test_error_message_is_kept_whole_but_without_controls(void **state)
{
	struct eca_err err;
	char msg[400];
	json_t *j;

	(void)state;
	memset(msg, 'm', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	msg[10] = '\n';
	memcpy(msg + 20, "\xc3\xa9", 2); /* escaped too */
	j = json_pack("{s:{s:s,s:s}}", "error", "code", "CONFLICT", "message",
	    msg);
	assert_int_equal(eca_wire_parse_error(j, &err), ECA_ERR_CONFLICT);
	json_decref(j);
	/* Whole, with the three odd bytes written as \xNN. */
	assert_int_equal(strlen(err.msg), strlen(msg) + 3 * 3);
	assert_memory_equal(err.msg, msg, 10);
	assert_memory_equal(err.msg + 10, "\\x0a", 4);
	assert_memory_equal(err.msg + 23, "\\xc3\\xa9", 8);
	assert_string_equal(err.msg + 31, msg + 22);
}

/* ---------------------------------------------------------------- */
/* Positive cases.                                                   */

static void
test_valid_host_names_are_accepted(void **state)
{
	const struct {
		const char *in, *canon;
	} good[] = {
	    {"a", "a"},
	    {"A", "a"},
	    {"host-1", "host-1"},
	    {"Host-1.Example.COM", "host-1.example.com"},
	    {"123.example", "123.example"},
	    {"XN--bcher-kva.example", "xn--bcher-kva.example"},
	};
	struct eca_enroll_body b;
	struct eca_err err;
	char name[300], buf[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(buf, sizeof(buf), "{\"host\": \"%s\"}", good[i].in);
		if (body(buf, &b, &err) != 0)
			fail_msg("refused \"%s\": %s", good[i].in, err.msg);
		/* Only the canonical spelling leaves the parser. */
		assert_string_equal(b.host, good[i].canon);
	}
	/* 253 characters in labels of 63 */
	memset(name, 'a', sizeof(name));
	name[63] = name[127] = name[191] = '.';
	name[253] = '\0';
	snprintf(buf, sizeof(buf), "{\"host\": \"%s\"}", name);
	assert_int_equal(body(buf, &b, &err), 0);
	assert_string_equal(b.host, name);
}

static void
test_body_defaults_and_all_fields(void **state)
{
	struct eca_enroll_body b;
	struct eca_err err;

	(void)state;
	assert_int_equal(body("{\"host\": \"a.example\"}", &b, &err), 0);
	assert_string_equal(b.host, "a.example");
	assert_int_equal(b.precheck, 0);
	assert_int_equal(b.force, 0);
	assert_int_equal(b.role, ECA_ROLE_CLIENT);
	assert_int_equal(b.method, ECA_METHOD_MANUAL);
	assert_int_equal(body("  {\"force\": true, \"precheck\": true, "
			      "\"role\": \"media\", \"method\": \"auto\", "
			      "\"host\": \"B-2.example\"}\n",
			     &b, &err),
	    0);
	assert_string_equal(b.host, "b-2.example");
	assert_int_equal(b.precheck, 1);
	assert_int_equal(b.force, 1);
	assert_int_equal(b.role, ECA_ROLE_MEDIA);
	assert_int_equal(b.method, ECA_METHOD_AUTO);
	assert_int_equal(body("{\"host\": \"p\", \"role\": \"primary\", "
			      "\"method\": \"manual\", \"force\": false}",
			     &b, &err),
	    0);
	assert_int_equal(b.role, ECA_ROLE_PRIMARY);
	assert_int_equal(b.force, 0);
}

static void
test_certinfo_has_the_documented_shape(void **state)
{
	struct eca_certinfo ci;
	json_t *j, *san;
	char buf[32];

	(void)state;
	fake_cert(&ci, 1);
	j = eca_wire_certinfo(&ci);
	assert_non_null(j);
	assert_int_equal(json_object_size(j), 11);
	assert_string_equal(
	    json_string_value(json_object_get(j, "fingerprint")),
	    ci.fingerprint);
	assert_string_equal(
	    json_string_value(json_object_get(j, "spki_fingerprint")),
	    ci.spki_fingerprint);
	assert_string_equal(json_string_value(json_object_get(j, "key")),
	    "RSA 2048");
	assert_string_equal(
	    json_string_value(json_object_get(j, "signature_algorithm")),
	    "sha256WithRSAEncryption");
	eca_wire_time(ci.not_before, buf, sizeof(buf));
	assert_string_equal(json_string_value(json_object_get(j, "not_before")),
	    buf);
	san = json_object_get(j, "san");
	assert_true(json_is_array(san));
	assert_int_equal(json_array_size(san), 2);
	assert_string_equal(json_string_value(json_array_get(san, 1)),
	    "www.h1.example");
	json_decref(j);
	/* an empty SAN list is an empty array; spaces are trimmed */
	ci.san_inline[0] = '\0';
	j = eca_wire_certinfo(&ci);
	assert_int_equal(json_array_size(json_object_get(j, "san")), 0);
	json_decref(j);
	snprintf(ci.san_inline, sizeof(ci.san_inline), "a.example, b.example");
	j = eca_wire_certinfo(&ci);
	assert_string_equal(
	    json_string_value(json_array_get(json_object_get(j, "san"), 1)),
	    "b.example");
	json_decref(j);
}

/* Issue 15: a certificate's 1,000 DNS names cross the wire whole. */
static void
test_certinfo_with_a_thousand_names_round_trips(void **state)
{
	static struct eca_certinfo ci, out;
	static char names[ECA_SAN_MAX];
	struct eca_err err;
	size_t off = 0, i;
	json_t *j;

	(void)state;
	fake_cert(&ci, 1);
	for (i = 0; i < 1000; i++)
		off += (size_t)snprintf(names + off, sizeof(names) - off,
		    "%ssan-%04zu.lb.example.com", i > 0 ? "," : "", i);
	assert_true(off > 20000 && off < sizeof(names));
	assert_int_equal(eca_certinfo_set_san(&ci, names, off, NULL), 0);
	j = eca_wire_certinfo(&ci);
	assert_non_null(j);
	assert_int_equal(json_array_size(json_object_get(j, "san")), 1000);
	eca_err_clear(&err);
	assert_int_equal(eca_wire_parse_certinfo(j, &out, &err), 0);
	assert_string_equal(eca_certinfo_san(&out), names);
	json_decref(j);
	eca_certinfo_clear(&ci);
	eca_certinfo_clear(&out);
}

static void
test_certinfo_with_invalid_utf8_still_serialises(void **state)
{
	struct eca_certinfo ci;
	json_t *j;

	(void)state;
	fake_cert(&ci, 1);
	snprintf(ci.subject, sizeof(ci.subject), "CN=bad\xff\xfe");
	j = eca_wire_certinfo(&ci);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "subject")),
	    "CN=bad\\xff\\xfe");
	json_decref(j);
}

static void
test_enrollment_has_the_documented_shape(void **state)
{
	struct eca_enrollment r;
	json_t *j, *c;

	(void)state;
	fake_record(&r, 0);
	j = eca_wire_enrollment(&r);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "primary")),
	    "primary.example");
	assert_string_equal(json_string_value(json_object_get(j, "role")),
	    "media");
	assert_string_equal(json_string_value(json_object_get(j, "state")),
	    "ENROLLED");
	assert_string_equal(json_string_value(json_object_get(j, "method")),
	    "MANUAL");
	assert_string_equal(
	    json_string_value(json_object_get(j, "enrolled_at")),
	    "2025-06-15T15:06:40Z");
	assert_int_equal(json_integer_value(json_object_get(j, "version")), 42);
	assert_true(json_is_object(json_object_get(j, "certificate")));
	assert_null(json_object_get(j, "candidate"));
	assert_int_equal(
	    json_integer_value(json_object_get(j, "candidate_count")), 0);
	assert_int_equal(json_object_size(j), 13);
	json_decref(j);

	fake_record(&r, 1);
	j = eca_wire_enrollment(&r);
	assert_string_equal(json_string_value(json_object_get(j, "state")),
	    "CONFLICT");
	c = json_object_get(j, "candidate");
	assert_true(json_is_object(c));
	assert_int_equal(json_object_size(c), 13);
	assert_string_equal(json_string_value(json_object_get(c, "source")),
	    "[2001:db8::7]:50123");
	assert_non_null(json_object_get(c, "at"));
	json_decref(j);
}

static void
test_enrollment_round_trips_without_candidate(void **state)
{
	struct eca_enrollment r, out;
	struct eca_err err;
	json_t *j;

	(void)state;
	fake_record(&r, 0);
	j = through_text(eca_wire_enrollment(&r));
	memset(&out, 0x5a, sizeof(out));
	assert_int_equal(eca_wire_parse_enrollment(j, &out, &err), 0);
	json_decref(j);
	assert_memory_equal(&out, &r, sizeof(r));
}

static void
test_enrollment_round_trips_with_candidate(void **state)
{
	struct eca_enrollment r, out;
	struct eca_err err;
	json_t *j;

	(void)state;
	fake_record(&r, 1);
	j = through_text(eca_wire_enrollment(&r));
	memset(&out, 0x5a, sizeof(out));
	assert_int_equal(eca_wire_parse_enrollment(j, &out, &err), 0);
	json_decref(j);
	assert_int_equal(out.has_candidate, 1);
	assert_cert_equal(&out.candidate, &r.candidate);
	assert_memory_equal(&out, &r, sizeof(r));
	/* unknown members of a response are tolerated */
	j = eca_wire_enrollment(&r);
	json_object_set_new(j, "added_later", json_true());
	assert_int_equal(eca_wire_parse_enrollment(j, &out, &err), 0);
	json_decref(j);
	/* a null candidate is no candidate */
	j = eca_wire_enrollment(&r);
	json_object_set_new(j, "candidate", json_null());
	assert_int_equal(eca_wire_parse_enrollment(j, &out, &err), 0);
	assert_int_equal(out.has_candidate, 0);
	json_decref(j);
}

static void
test_history_entry_has_the_documented_shape(void **state)
{
	struct eca_history_entry h;
	const char *keys[] = {"id", "host", "host_id", "event", "state",
	    "fingerprint", "spki_fingerprint", "actor", "source", "at"};
	json_t *j;
	size_t i;

	(void)state;
	memset(&h, 0, sizeof(h));
	h.id = 17;
	snprintf(h.host, sizeof(h.host), "a.example");
	snprintf(h.event, sizeof(h.event), "APPROVE");
	h.state = ECA_STATE_ENROLLED;
	snprintf(h.actor, sizeof(h.actor), "local:0");
	h.at = 1750000000;
	j = eca_wire_history_entry(&h);
	assert_non_null(j);
	assert_int_equal(json_object_size(j), 10);
	for (i = 0; i < 10; i++)
		assert_non_null(json_object_get(j, keys[i]));
	assert_int_equal(json_integer_value(json_object_get(j, "id")), 17);
	assert_string_equal(json_string_value(json_object_get(j, "event")),
	    "APPROVE");
	assert_string_equal(json_string_value(json_object_get(j, "state")),
	    "ENROLLED");
	assert_string_equal(json_string_value(json_object_get(j, "at")),
	    "2025-06-15T15:06:40Z");
	json_decref(j);
}

static void
test_error_round_trips(void **state)
{
	struct eca_err err;
	json_t *j, *e;

	(void)state;
	j = eca_wire_error(ECA_ERR_CONFLICT, "host waits for an administrator");
	assert_non_null(j);
	e = json_object_get(j, "error");
	assert_int_equal(json_object_size(j), 1);
	assert_int_equal(json_object_size(e), 2);
	assert_string_equal(json_string_value(json_object_get(e, "code")),
	    "CONFLICT");
	assert_string_equal(json_string_value(json_object_get(e, "message")),
	    "host waits for an administrator");
	j = through_text(j);
	assert_int_equal(eca_wire_parse_error(j, &err), ECA_ERR_CONFLICT);
	assert_int_equal(err.code, ECA_ERR_CONFLICT);
	assert_string_equal(err.msg, "host waits for an administrator");
	json_decref(j);
	/* no message: the generic sentence */
	j = eca_wire_error(ECA_ERR_BANNED, NULL);
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(j, "error"), "message")),
	    "host is banned");
	json_decref(j);
}

static void
test_time_format_both_ways(void **state)
{
	static const struct {
		int64_t t;
		const char *s;
	} cases[] = {
	    {1750000000, "2025-06-15T15:06:40Z"},
	    {951825600, "2000-02-29T12:00:00Z"},
	    {1, "1970-01-01T00:00:01Z"},
	    {-1, "1969-12-31T23:59:59Z"},
	    {253402300799LL, "9999-12-31T23:59:59Z"},
	    {-62167219200LL, "0000-01-01T00:00:00Z"},
	    {4107542400LL, "2100-03-01T00:00:00Z"},
	};
	char buf[32];
	int64_t t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		eca_wire_time(cases[i].t, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].s);
		assert_int_equal(eca_wire_parse_time(cases[i].s, &t), 0);
		assert_int_equal(t, cases[i].t);
	}
	/* 0 is "unset" both ways */
	eca_wire_time(0, buf, sizeof(buf));
	assert_string_equal(buf, "");
	assert_int_equal(eca_wire_parse_time("", &t), 0);
	assert_int_equal(t, 0);
	/* out of range or too small a buffer: "" rather than garbage */
	eca_wire_time(253402300800LL, buf, sizeof(buf));
	assert_string_equal(buf, "");
	eca_wire_time(INT64_MIN, buf, sizeof(buf));
	assert_string_equal(buf, "");
	eca_wire_time(1750000000, buf, 20);
	assert_string_equal(buf, "");
	eca_wire_time(1750000000, buf, 21);
	assert_string_equal(buf, "2025-06-15T15:06:40Z");
}

/* ---------------------------------------------------------------- */
/* Decisions, fingerprints, candidates, mappings (issue 8).          */

static void
test_decision_body_without_fingerprint_is_refused(void **state)
{
	char fp[ECA_FP_HEX_LEN + 1];
	struct eca_err err;

	(void)state;
	assert_int_equal(eca_wire_parse_decision_body(NULL, 0, fp, &err),
	    ECA_ERR_FINGERPRINT_REQUIRED);
	assert_int_equal(eca_wire_parse_decision_body("{}", 2, fp, &err),
	    ECA_ERR_FINGERPRINT_REQUIRED);
	assert_int_equal(eca_wire_parse_decision_body("[]", 2, fp, &err),
	    ECA_ERR_BAD_REQUEST);
	assert_int_equal(
	    eca_wire_parse_decision_body("{\"fingerprint\":1}", 17, fp, &err),
	    ECA_ERR_BAD_REQUEST);
	assert_int_equal(eca_wire_parse_decision_body(
			     "{\"fingerprint\":\"abc\"}", 21, fp, &err),
	    ECA_ERR_BAD_REQUEST);
	assert_int_equal(eca_wire_parse_decision_body(
			     "{\"fingerprint\":\"\",\"x\":1}", 24, fp, &err),
	    ECA_ERR_BAD_REQUEST);
	assert_non_null(strstr(err.msg, "unknown field"));
	assert_string_equal(fp, "");
	assert_int_equal(eca_err_http_status(ECA_ERR_FINGERPRINT_REQUIRED),
	    400);
	assert_int_equal(eca_err_http_status(ECA_ERR_TOO_MANY_CANDIDATES), 409);
	assert_int_equal(eca_err_exit_code(ECA_ERR_TOO_MANY_CANDIDATES), 5);
}

static void
test_fingerprints_are_normalized(void **state)
{
	char fp[ECA_FP_HEX_LEN + 1], in[200];
	const char *want =
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	size_t i, o = 0;

	(void)state;
	assert_int_equal(eca_wire_fp_normalize(NULL, fp), -1);
	assert_int_equal(eca_wire_fp_normalize("", fp), -1);
	assert_int_equal(eca_wire_fp_normalize("0011", fp), -1);
	/* one digit too many, or a letter past f */
	snprintf(in, sizeof(in), "%s0", want);
	assert_int_equal(eca_wire_fp_normalize(in, fp), -1);
	snprintf(in, sizeof(in), "%.63sg", want);
	assert_int_equal(eca_wire_fp_normalize(in, fp), -1);
	assert_string_equal(fp, "");
	assert_int_equal(eca_wire_fp_normalize(want, fp), 0);
	assert_string_equal(fp, want);
	/* upper case with colons, as openssl prints it */
	for (i = 0; want[i] != '\0'; i++) {
		in[o++] = (char)((want[i] >= 'a' && want[i] <= 'f') ?
			want[i] - 'a' + 'A' :
			want[i]);
		if (i % 2 == 1 && want[i + 1] != '\0')
			in[o++] = ':';
	}
	in[o] = '\0';
	assert_int_equal(eca_wire_fp_normalize(in, fp), 0);
	assert_string_equal(fp, want);
	snprintf(in, sizeof(in), "{\"fingerprint\":\"%s\"}", want);
	assert_int_equal(eca_wire_parse_decision_body(in, strlen(in), fp, NULL),
	    0);
	assert_string_equal(fp, want);
}

static void
test_map_body_is_checked_and_host_lowered(void **state)
{
	char host[ECA_HOST_MAX], subj[ECA_DN_MAX];
	struct eca_err err;
	const char *b;

	(void)state;
	assert_int_equal(eca_wire_parse_map_body(NULL, 0, host, subj, &err),
	    ECA_ERR_BAD_REQUEST);
	b = "{\"host\":\"a.example\"}";
	assert_int_equal(
	    eca_wire_parse_map_body(b, strlen(b), host, subj, &err),
	    ECA_ERR_BAD_REQUEST);
	b = "{\"host\":\"-a\",\"subject\":\"CN=a\"}";
	assert_int_equal(
	    eca_wire_parse_map_body(b, strlen(b), host, subj, &err),
	    ECA_ERR_BAD_HOST_NAME);
	b = "{\"host\":\"a.example\",\"subject\":\"CN=a\",\"x\":0}";
	assert_int_equal(
	    eca_wire_parse_map_body(b, strlen(b), host, subj, &err),
	    ECA_ERR_BAD_REQUEST);
	assert_string_equal(host, "");
	b = "{\"host\":\"A.Example\",\"subject\":\"CN=a\"}";
	assert_int_equal(
	    eca_wire_parse_map_body(b, strlen(b), host, subj, &err), 0);
	assert_string_equal(host, "a.example");
	assert_string_equal(subj, "CN=a");
}

static void
test_candidates_round_trip(void **state)
{
	struct eca_candidate c[2], *out = NULL;
	struct eca_enrollment r;
	struct eca_err err;
	json_t *j, *bad;
	size_t n = 0;

	(void)state;
	memset(c, 0, sizeof(c));
	fake_cert(&c[0].cert, 3);
	c[0].at = 1750000000;
	c[0].last_seen = 1750000100;
	snprintf(c[0].source, sizeof(c[0].source), "192.0.2.1:1");
	fake_cert(&c[1].cert, 4);
	c[1].at = 1750000200;
	c[1].last_seen = 1750000200;
	snprintf(c[1].source, sizeof(c[1].source), "192.0.2.2:2");
	fake_record(&r, 1);
	r.ncandidates = 2;
	j = eca_wire_enrollment(&r);
	/* none listed: none read */
	assert_int_equal(eca_wire_parse_candidates(j, &out, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(eca_wire_add_candidates(j, c, 2), 0);
	j = through_text(j);
	assert_int_equal(eca_wire_parse_candidates(j, &out, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(out, c, sizeof(c));
	free(out);
	assert_int_equal(eca_wire_parse_enrollment(j, &r, &err), 0);
	assert_int_equal(r.ncandidates, 2);
	/* refusals: not an array, a bad member, a bad count */
	bad = json_deep_copy(j);
	json_object_set_new(bad, "candidates", json_true());
	assert_int_equal(eca_wire_parse_candidates(bad, &out, &n, &err),
	    ECA_ERR_PROTOCOL);
	json_object_del(json_array_get(json_object_get(j, "candidates"), 1),
	    "last_seen");
	assert_int_equal(eca_wire_parse_candidates(j, &out, &n, &err),
	    ECA_ERR_PROTOCOL);
	assert_null(out);
	json_object_set_new(bad, "candidate_count", json_integer(99));
	assert_int_equal(eca_wire_parse_enrollment(bad, &r, &err),
	    ECA_ERR_PROTOCOL);
	json_decref(bad);
	json_decref(j);
}

static void
test_mapping_round_trips(void **state)
{
	struct eca_dnmap m, out;
	struct eca_err err;
	json_t *j;

	(void)state;
	memset(&m, 0, sizeof(m));
	snprintf(m.subject, sizeof(m.subject), "CN=Backup A,O=x");
	snprintf(m.host, sizeof(m.host), "a.example");
	m.created_at = 1750000000;
	m.updated_at = 1750000001;
	snprintf(m.actor, sizeof(m.actor), "local:0");
	j = through_text(eca_wire_dnmap(&m));
	assert_int_equal(json_object_size(j), 5);
	assert_int_equal(eca_wire_parse_dnmap(j, &out, &err), 0);
	assert_memory_equal(&out, &m, sizeof(m));
	json_object_del(j, "host");
	assert_int_equal(eca_wire_parse_dnmap(j, &out, &err), ECA_ERR_PROTOCOL);
	json_decref(j);
}

/* ---------------------------------------------------------------- */
/* The field table every record codec is built on (wire_impl.h).     */

struct sample {
	char name[8];
	int64_t at;
	int64_t count;
	int on;
	enum eca_role role;
	enum eca_state state;
	enum eca_method method;
	char san[32];
};

#define SF(type, member, key) WIRE_FIELD(type, struct sample, member, key)
static const struct wire_field sample_fields[] = {
    SF(WF_STR, name, "name"),
    SF(WF_TIME, at, "at"),
    SF(WF_INT64, count, "count"),
    SF(WF_BOOL, on, "on"),
    SF(WF_ROLE, role, "role"),
    SF(WF_STATE, state, "state"),
    SF(WF_METHOD, method, "method"),
    SF(WF_SAN, san, "san"),
};

static const char sample_json[] =
    "{\"name\": \"n\", \"at\": "
    "\"2025-06-15T15:06:40Z\", \"count\": 7, \"on\": true, \"role\": "
    "\"media\", \"state\": \"CONFLICT\", \"method\": \"ADMIN\", "
    "\"san\": [\"a\", \"b\"]}";

/* sample_json with member key set to the JSON text value (NULL: removed). */
static int
sample_get(const char *key, const char *value, struct sample *out,
    struct eca_err *err)
{
	json_t *j, *v = NULL;
	int r;

	assert_non_null(j = json_loads(sample_json, 0, NULL));
	if (value == NULL)
		json_object_del(j, key);
	else {
		assert_non_null(v = json_loads(value, JSON_DECODE_ANY, NULL));
		assert_int_equal(json_object_set_new(j, key, v), 0);
	}
	memset(out, 0, sizeof(*out));
	eca_err_clear(err);
	r = eca_wire_get_fields(j, sample_fields, WIRE_NFIELDS(sample_fields),
	    out, ECA_ERR_PROTOCOL, err);
	json_decref(j);
	return r;
}

static void
test_field_table_names_the_first_bad_member(void **state)
{
	static const struct {
		const char *key, *value, *msg;
	} cases[] = {
	    {"name", NULL, "field \"name\" is missing"},
	    {"name", "\"12345678\"", "field \"name\" is longer than 7"},
	    {"at", "\"yesterday\"", "field \"at\" is not an RFC 3339"},
	    {"count", NULL, "field \"count\" is missing"},
	    {"count", "1.5", "field \"count\" must be an integer"},
	    {"on", NULL, "field \"on\" is missing"},
	    {"on", "1", "field \"on\" must be true or false"},
	    {"role", "\"Media\"", "field \"role\" is not one of client"},
	    {"state", "\"LOST\"", "field \"state\" is not a known"},
	    {"method", "\"robot\"", "field \"method\" is not AUTO"},
	    {"san", "[\"a,b\"]", "field \"san\" has an empty name"},
	    {"san", "\"a\"", "field \"san\" must be an array"},
	};
	struct sample out;
	struct eca_err err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (sample_get(cases[i].key, cases[i].value, &out, &err) !=
		    ECA_ERR_PROTOCOL)
			fail_msg("%s = %s is accepted", cases[i].key,
			    cases[i].value != NULL ? cases[i].value : "none");
		if (strstr(err.msg, cases[i].msg) == NULL)
			fail_msg("%s: \"%s\" lacks \"%s\"", cases[i].key,
			    err.msg, cases[i].msg);
	}
}

static void
test_field_table_reads_back_what_it_writes(void **state)
{
	struct sample in, out;
	struct eca_err err;
	json_t *o;
	char *text;
	int ok = 1;

	(void)state;
	assert_int_equal(sample_get("name", "\"n\"", &in, &err), 0);
	assert_string_equal(in.name, "n");
	assert_int_equal(in.at, 1750000000);
	assert_int_equal(in.count, 7);
	assert_int_equal(in.on, 1);
	assert_int_equal(in.role, ECA_ROLE_MEDIA);
	assert_int_equal(in.state, ECA_STATE_CONFLICT);
	assert_int_equal(in.method, ECA_METHOD_ADMIN);
	assert_string_equal(in.san, "a,b");
	assert_non_null(o = json_object());
	eca_wire_put_fields(o, sample_fields, WIRE_NFIELDS(sample_fields), &in,
	    &ok);
	assert_true(ok);
	/* In table order, each member as it came. */
	assert_non_null(text = json_dumps(o, JSON_COMPACT));
	assert_string_equal(text,
	    "{\"name\":\"n\",\"at\":"
	    "\"2025-06-15T15:06:40Z\",\"count\":7,\"on\":true,\"role\":"
	    "\"media\",\"state\":\"CONFLICT\",\"method\":\"ADMIN\","
	    "\"san\":[\"a\",\"b\"]}");
	free(text);
	memset(&out, 0, sizeof(out));
	assert_int_equal(eca_wire_get_fields(o, sample_fields,
			     WIRE_NFIELDS(sample_fields), &out,
			     ECA_ERR_PROTOCOL, &err),
	    0);
	assert_memory_equal(&in, &out, sizeof(in));
	json_decref(o);
}

#define U(f) cmocka_unit_test(f)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    U(test_body_that_is_not_json_is_refused),
	    U(test_empty_body_is_refused),
	    U(test_body_not_an_object_is_refused),
	    U(test_body_with_unknown_key_is_refused),
	    U(test_body_with_duplicate_key_is_refused),
	    U(test_body_with_wrong_types_is_refused),
	    U(test_body_without_host_is_refused),
	    U(test_body_with_invalid_host_name_is_refused),
	    U(test_body_with_over_long_strings_is_refused),
	    U(test_body_over_the_limit_is_too_large),
	    U(test_body_is_read_only_within_its_length),
	    U(test_certinfo_of_wrong_shape_is_refused),
	    U(test_enrollment_of_wrong_shape_is_refused),
	    U(test_malformed_times_are_refused),
	    U(test_non_error_objects_are_not_errors),
	    U(test_error_message_is_kept_whole_but_without_controls),
	    U(test_valid_host_names_are_accepted),
	    U(test_body_defaults_and_all_fields),
	    U(test_certinfo_has_the_documented_shape),
	    U(test_certinfo_with_invalid_utf8_still_serialises),
	    U(test_certinfo_with_a_thousand_names_round_trips),
	    U(test_enrollment_has_the_documented_shape),
	    U(test_enrollment_round_trips_without_candidate),
	    U(test_enrollment_round_trips_with_candidate),
	    U(test_history_entry_has_the_documented_shape),
	    U(test_error_round_trips),
	    U(test_time_format_both_ways),
	    U(test_decision_body_without_fingerprint_is_refused),
	    U(test_map_body_is_checked_and_host_lowered),
	    U(test_fingerprints_are_normalized),
	    U(test_candidates_round_trip),
	    U(test_mapping_round_trips),
	    U(test_field_table_names_the_first_bad_member),
	    U(test_field_table_reads_back_what_it_writes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
