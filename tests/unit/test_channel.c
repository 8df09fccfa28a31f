/* SPDX-License-Identifier: ISC */
/*
 * test_channel.c - the channel protocol's codecs, and eca_channel_open run
 * for real against a small server thread on loopback that speaks (or
 * breaks) the protocol with testca certificates.
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "channel.h"
#include "config.h"
#include "host.h"
#include "roster.h"
#include "testca.h"
#include "tls.h"
#include "wire.h"
#include "x509.h"

#define PRIMARY "primary.example"
#define SERVER "server.example"
#define CLIENT "client.example"

static struct testca *ca, *rogue;
static X509 *client_leaf;
static EVP_PKEY *client_key;
static struct eca_cred *server_cred, *rogue_cred;

/* ------------------------------------------------------------------ */
/* Helpers.                                                            */

static void
contains(const char *msg, const char *needle)
{
	if (strstr(msg, needle) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", msg, needle);
}

/* Credentials of host name issued by c, trusting c's root. */
static struct eca_cred *
make_cred(struct testca *c, const char *name)
{
	struct testca_leaf_opts o = {.cn = name, .san = name};
	struct eca_cred *cred;

	assert_non_null(cred = calloc(1, sizeof(*cred)));
	testca_leaf(c, &o, &cred->leaf, &cred->key);
	assert_non_null(cred->chain = sk_X509_new_null());
	assert_true(sk_X509_push(cred->chain, c->inter) > 0);
	X509_up_ref(c->inter);
	assert_non_null(cred->trust = X509_STORE_new());
	assert_int_equal(X509_STORE_add_cert(cred->trust, c->root), 1);
	return cred;
}

static int
group_setup(void **state)
{
	struct testca_leaf_opts o = {.cn = CLIENT, .san = CLIENT};

	(void)state;
	signal(SIGPIPE, SIG_IGN); /* the test server writes to closed peers */
	ca = testca_new("Channel");
	rogue = testca_new("Rogue");
	testca_leaf(ca, &o, &client_leaf, &client_key);
	server_cred = make_cred(ca, SERVER);
	rogue_cred = make_cred(rogue, SERVER);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	X509_free(client_leaf);
	EVP_PKEY_free(client_key);
	eca_cred_free(server_cred);
	eca_cred_free(rogue_cred);
	testca_free(ca);
	testca_free(rogue);
	return 0;
}

/* A frame around text (caller frees). */
static unsigned char *
frame_of(const char *text, size_t *len)
{
	size_t n = strlen(text);
	unsigned char *f;

	assert_non_null(f = malloc(4 + n));
	f[0] = (unsigned char)(n >> 24);
	f[1] = (unsigned char)(n >> 16);
	f[2] = (unsigned char)(n >> 8);
	f[3] = (unsigned char)n;
	memcpy(f + 4, text, n);
	*len = 4 + n;
	return f;
}

enum which { SH, CH, VD };

/* Parse text as message `which`: expect code and (if set) needle. */
static void
parse_as(enum which w, const char *text, int code, const char *needle)
{
	struct eca_channel_server_hello sh;
	struct eca_channel_client_hello hc;
	struct eca_channel_verdict v;
	struct eca_err err;
	const unsigned char *b = (const unsigned char *)text;
	size_t n = strlen(text);
	int r;

	eca_err_clear(&err);
	switch (w) {
	case SH:
		r = eca_channel_server_hello_parse(b, n, &sh, &err);
		break;
	case CH:
		r = eca_channel_client_hello_parse(b, n, &hc, &err);
		break;
	default:
		r = eca_channel_verdict_parse(b, n, &v, &err);
		break;
	}
	assert_int_equal(r, code);
	if (code != 0) {
		assert_int_equal(err.code, code);
		if (needle != NULL)
			contains(err.msg, needle);
	}
}

#define SH_OK                                                                  \
	"{\"v\":1,\"host\":\"s.example\",\"role\":\"media\","                  \
	"\"primaries\":[\"p1.example\"],\"cert\":true}"
#define CH_OK                                                                  \
	"{\"v\":1,\"host\":\"c.example\",\"role\":\"client\","                 \
	"\"primary\":\"p1.example\",\"purpose\":\"backup\",\"cert\":true}"
#define VD_OK                                                                  \
	"{\"accept\":true,\"code\":\"OK\",\"message\":\"\","                   \
	"\"primary\":\"p1.example\"}"

/* ------------------------------------------------------------------ */
/* Frames (negative cases first).                                      */

static void
test_frame_with_zero_length_is_a_protocol_error(void **state)
{
	const unsigned char z[6] = {0, 0, 0, 0, '{', '}'};
	size_t fl = 99;

	(void)state;
	assert_int_equal(eca_channel_frame_need(z, sizeof(z), &fl),
	    ECA_ERR_PROTOCOL);
	assert_int_equal(fl, 99);
}

static void
test_frame_longer_than_max_is_too_large(void **state)
{
	unsigned char h[4];
	uint32_t n = ECA_FRAME_MAX + 1;
	const unsigned char big[4] = {0xff, 0xff, 0xff, 0xff};

	(void)state;
	h[0] = (unsigned char)(n >> 24);
	h[1] = (unsigned char)(n >> 16);
	h[2] = (unsigned char)(n >> 8);
	h[3] = (unsigned char)n;
	/* Refused as soon as the header is there, not after the payload. */
	assert_int_equal(eca_channel_frame_need(h, 4, NULL), ECA_ERR_TOO_LARGE);
	assert_int_equal(eca_channel_frame_need(big, 4, NULL),
	    ECA_ERR_TOO_LARGE);
}

static void
test_partial_header_needs_more_bytes(void **state)
{
	const unsigned char h[4] = {0, 0, 0, 2};
	size_t i;

	(void)state;
	assert_int_equal(eca_channel_frame_need(NULL, 0, NULL), 1);
	for (i = 0; i < 4; i++)
		assert_int_equal(eca_channel_frame_need(h, i, NULL), 1);
}

static void
test_partial_payload_needs_more_bytes(void **state)
{
	const unsigned char f[7] = {0, 0, 0, 2, '{', '}', 'x'};
	size_t fl = 0;

	(void)state;
	assert_int_equal(eca_channel_frame_need(f, 4, &fl), 1);
	assert_int_equal(eca_channel_frame_need(f, 5, &fl), 1);
	assert_int_equal(eca_channel_frame_need(f, 6, &fl), 0);
	assert_int_equal(fl, 6);
	/* Bytes after the frame belong to the next one. */
	assert_int_equal(eca_channel_frame_need(f, 7, &fl), 0);
	assert_int_equal(fl, 6);
}

static void
test_encoding_an_oversized_message_is_refused(void **state)
{
	struct eca_err err;
	unsigned char *out = (void *)1;
	size_t len = 1;
	char *big;
	json_t *j;

	(void)state;
	assert_non_null(big = malloc(ECA_FRAME_MAX + 1));
	memset(big, 'a', ECA_FRAME_MAX);
	big[ECA_FRAME_MAX] = '\0';
	assert_non_null(j = json_pack("{s:s}", "payload", big));
	assert_int_equal(eca_channel_frame_encode(j, &out, &len, &err),
	    ECA_ERR_TOO_LARGE);
	assert_null(out);
	assert_int_equal(len, 0);
	json_decref(j);
	free(big);
}

/* ------------------------------------------------------------------ */
/* Messages (negative cases first).                                    */

static void
test_garbage_json_is_refused_by_every_parser(void **state)
{
	static const char *const bad[] = {"", "{", "not json", "[1,2]",
	    "\"text\"", "42", "{\"v\":1}{}", "null"};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		parse_as(SH, bad[i], ECA_ERR_PROTOCOL, NULL);
		parse_as(CH, bad[i], ECA_ERR_PROTOCOL, NULL);
		parse_as(VD, bad[i], ECA_ERR_PROTOCOL, NULL);
	}
	parse_as(SH, "[1]", ECA_ERR_PROTOCOL, "not a JSON object");
	parse_as(VD, "{\"accept\":", ECA_ERR_PROTOCOL, "not valid JSON");
}

static void
test_garbage_in_a_message_is_not_echoed_raw(void **state)
{
	struct eca_channel_server_hello sh;
	struct eca_err err;
	const char text[] = "{\"v\":1,\"host\":\"\x1b[31mevil\",\"role\":"
			    "\"media\",\"primaries\":[],\"cert\":true}";
	size_t i;

	(void)state;
	assert_int_equal(
	    eca_channel_server_hello_parse((const unsigned char *)text,
		strlen(text), &sh, &err),
	    ECA_ERR_PROTOCOL);
	for (i = 0; err.msg[i] != '\0'; i++)
		assert_true((unsigned char)err.msg[i] >= 0x20);
}

static void
test_duplicate_keys_are_refused(void **state)
{
	(void)state;
	parse_as(SH,
	    "{\"v\":1,\"host\":\"a.example\",\"host\":\"b.example\","
	    "\"role\":\"media\",\"primaries\":[],\"cert\":true}",
	    ECA_ERR_PROTOCOL, "not valid JSON");
	parse_as(VD,
	    "{\"accept\":false,\"accept\":true,\"code\":\"OK\","
	    "\"message\":\"\",\"primary\":\"\"}",
	    ECA_ERR_PROTOCOL, NULL);
}

static void
test_wrong_types_are_refused_naming_the_field(void **state)
{
	(void)state;
	parse_as(SH,
	    "{\"v\":\"1\",\"host\":\"s.example\",\"role\":\"media\","
	    "\"primaries\":[],\"cert\":true}",
	    ECA_ERR_PROTOCOL, "\"v\"");
	parse_as(SH,
	    "{\"v\":1,\"host\":7,\"role\":\"media\","
	    "\"primaries\":[],\"cert\":true}",
	    ECA_ERR_PROTOCOL, "\"host\"");
	parse_as(SH,
	    "{\"v\":1,\"host\":\"s.example\",\"role\":\"media\","
	    "\"primaries\":\"p1.example\",\"cert\":true}",
	    ECA_ERR_PROTOCOL, "\"primaries\"");
	parse_as(SH,
	    "{\"v\":1,\"host\":\"s.example\",\"role\":\"media\","
	    "\"primaries\":[1],\"cert\":true}",
	    ECA_ERR_PROTOCOL, "\"primaries\"");
	parse_as(SH,
	    "{\"v\":1,\"host\":\"s.example\",\"role\":\"media\","
	    "\"primaries\":[],\"cert\":1}",
	    ECA_ERR_PROTOCOL, "\"cert\"");
	parse_as(SH,
	    "{\"v\":1,\"host\":\"s.example\",\"role\":\"boss\","
	    "\"primaries\":[],\"cert\":true}",
	    ECA_ERR_PROTOCOL, "\"role\"");
	parse_as(SH,
	    "{\"v\":1,\"host\":\"s.example\",\"role\":\"media\","
	    "\"cert\":true}",
	    ECA_ERR_PROTOCOL, "\"primaries\"");
	parse_as(CH,
	    "{\"v\":1,\"host\":\"c.example\",\"role\":\"client\","
	    "\"primary\":null,\"purpose\":\"backup\",\"cert\":true}",
	    ECA_ERR_PROTOCOL, "\"primary\"");
	parse_as(CH,
	    "{\"v\":1,\"host\":\"c.example\",\"role\":\"client\","
	    "\"primary\":\"p1.example\",\"purpose\":3,\"cert\":true}",
	    ECA_ERR_PROTOCOL, "\"purpose\"");
	parse_as(CH,
	    "{\"v\":1,\"host\":\"c.example\",\"role\":\"client\","
	    "\"primary\":\"p1.example\",\"purpose\":\"backup\"}",
	    ECA_ERR_PROTOCOL, "\"cert\"");
	parse_as(VD,
	    "{\"accept\":\"yes\",\"code\":\"OK\",\"message\":\"\","
	    "\"primary\":\"\"}",
	    ECA_ERR_PROTOCOL, "\"accept\"");
	parse_as(VD,
	    "{\"accept\":true,\"code\":0,\"message\":\"\","
	    "\"primary\":\"\"}",
	    ECA_ERR_PROTOCOL, "\"code\"");
	parse_as(VD,
	    "{\"accept\":true,\"code\":\"OK\",\"message\":[],"
	    "\"primary\":\"\"}",
	    ECA_ERR_PROTOCOL, "\"message\"");
	parse_as(VD, "{\"accept\":true,\"code\":\"OK\",\"message\":\"\"}",
	    ECA_ERR_PROTOCOL, "\"primary\"");
}

static void
test_unknown_purpose_is_refused(void **state)
{
	(void)state;
	parse_as(CH,
	    "{\"v\":1,\"host\":\"c.example\",\"role\":\"client\","
	    "\"primary\":\"p1.example\",\"purpose\":\"shell\",\"cert\":true}",
	    ECA_ERR_PROTOCOL, "'shell'");
	parse_as(CH,
	    "{\"v\":1,\"host\":\"c.example\",\"role\":\"client\","
	    "\"primary\":\"p1.example\",\"purpose\":\"PING\",\"cert\":true}",
	    ECA_ERR_PROTOCOL, "\"purpose\"");
	assert_int_equal(eca_purpose_from_name("shell"), -1);
	assert_int_equal(eca_purpose_from_name(NULL), -1);
	assert_string_equal(eca_purpose_name((enum eca_purpose)99), "unknown");
}

static void
test_bad_host_names_are_refused(void **state)
{
	char text[1024], longname[300];

	(void)state;
	parse_as(SH,
	    "{\"v\":1,\"host\":\"bad host\",\"role\":\"media\","
	    "\"primaries\":[],\"cert\":true}",
	    ECA_ERR_PROTOCOL, "not a valid host name");
	parse_as(SH,
	    "{\"v\":1,\"host\":\"\",\"role\":\"media\","
	    "\"primaries\":[],\"cert\":true}",
	    ECA_ERR_PROTOCOL, "\"host\"");
	parse_as(SH,
	    "{\"v\":1,\"host\":\"s.example\",\"role\":\"media\","
	    "\"primaries\":[\"-p.example\"],\"cert\":true}",
	    ECA_ERR_PROTOCOL, "\"primaries\"");
	/* An embedded NUL would hide the rest of the name. */
	parse_as(CH,
	    "{\"v\":1,\"host\":\"c.example\\u0000x\",\"role\":"
	    "\"client\",\"primary\":\"p1.example\",\"purpose\":\"backup\","
	    "\"cert\":true}",
	    ECA_ERR_PROTOCOL, NULL);
	parse_as(CH,
	    "{\"v\":1,\"host\":\"c.example\",\"role\":\"client\","
	    "\"primary\":\"p1..example\",\"purpose\":\"backup\",\"cert\":true}",
	    ECA_ERR_PROTOCOL, "\"primary\"");
	parse_as(VD,
	    "{\"accept\":true,\"code\":\"OK\",\"message\":\"\","
	    "\"primary\":\"a b\"}",
	    ECA_ERR_PROTOCOL, "\"primary\"");
	memset(longname, 'a', 260);
	longname[260] = '\0';
	snprintf(text, sizeof(text),
	    "{\"v\":1,\"host\":\"%s\",\"role\":"
	    "\"media\",\"primaries\":[],\"cert\":true}",
	    longname);
	parse_as(SH, text, ECA_ERR_PROTOCOL, "\"host\"");
	/* Not host names either: a trailing dot, an underscore. */
	parse_as(CH,
	    "{\"v\":1,\"host\":\"c.example.\",\"role\":\"client\","
	    "\"primary\":\"p1.example\",\"purpose\":\"backup\",\"cert\":true}",
	    ECA_ERR_PROTOCOL, "\"host\"");
	parse_as(SH,
	    "{\"v\":1,\"host\":\"s_1.example\",\"role\":\"media\","
	    "\"primaries\":[],\"cert\":true}",
	    ECA_ERR_PROTOCOL, "\"host\"");
}

/*
 * A HELLO naming a host or primary in another case is read in canonical
 * form: the peer is judged as the host it is enrolled as.
 */
static void
test_hello_names_are_read_canonical(void **state)
{
	struct eca_channel_server_hello sh;
	struct eca_channel_client_hello hc;
	unsigned char *f;
	size_t len;
	const char *s =
	    "{\"v\":1,\"host\":\"MEDIA1.Example\",\"role\":"
	    "\"media\",\"primaries\":[\"P1.EXAMPLE\"],\"cert\":true}";
	const char *c =
	    "{\"v\":1,\"host\":\"Client1.EXAMPLE\",\"role\":"
	    "\"client\",\"primary\":\"P1.Example\",\"purpose\":\"backup\","
	    "\"cert\":true}";

	(void)state;
	f = frame_of(s, &len);
	assert_int_equal(
	    eca_channel_server_hello_parse(f + 4, len - 4, &sh, NULL), 0);
	free(f);
	assert_string_equal(sh.host, "media1.example");
	assert_string_equal(sh.primaries[0], "p1.example");
	f = frame_of(c, &len);
	assert_int_equal(
	    eca_channel_client_hello_parse(f + 4, len - 4, &hc, NULL), 0);
	free(f);
	assert_string_equal(hc.host, "client1.example");
	assert_string_equal(hc.primary, "p1.example");
}

static void
test_too_many_primaries_are_refused(void **state)
{
	char text[4096];
	size_t off, i;

	(void)state;
	off = (size_t)snprintf(text, sizeof(text),
	    "{\"v\":1,\"host\":"
	    "\"s.example\",\"role\":\"media\",\"cert\":true,\"primaries\":[");
	for (i = 0; i < ECA_MAX_SERVERS + 1; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
		    "%s\"p%zu.example\"", i ? "," : "", i);
	snprintf(text + off, sizeof(text) - off, "]}");
	parse_as(SH, text, ECA_ERR_PROTOCOL, "at most 32");
}

static void
test_other_protocol_version_is_refused(void **state)
{
	(void)state;
	parse_as(SH,
	    "{\"v\":2,\"host\":\"s.example\",\"role\":\"media\","
	    "\"primaries\":[],\"cert\":true}",
	    ECA_ERR_PROTOCOL, "version 2");
	parse_as(CH,
	    "{\"host\":\"c.example\",\"role\":\"client\","
	    "\"primary\":\"p1.example\",\"purpose\":\"backup\",\"cert\":true}",
	    ECA_ERR_PROTOCOL, "\"v\"");
}

static void
test_verdict_accept_and_code_must_agree(void **state)
{
	struct eca_channel_verdict v;
	const char text[] = "{\"accept\":false,\"code\":\"NEWER_REASON\","
			    "\"message\":\"m\",\"primary\":\"\"}";

	(void)state;
	parse_as(VD,
	    "{\"accept\":true,\"code\":\"BANNED\",\"message\":\"\","
	    "\"primary\":\"\"}",
	    ECA_ERR_PROTOCOL, "accepts with code");
	parse_as(VD,
	    "{\"accept\":false,\"code\":\"OK\",\"message\":\"\","
	    "\"primary\":\"\"}",
	    ECA_ERR_PROTOCOL, "refuses with code OK");
	parse_as(VD,
	    "{\"accept\":true,\"code\":\"WHATEVER\",\"message\":\"\","
	    "\"primary\":\"\"}",
	    ECA_ERR_PROTOCOL, "unknown code");
	/* An unknown reason from a newer peer still refuses. */
	assert_int_equal(eca_channel_verdict_parse((const unsigned char *)text,
			     strlen(text), &v, NULL),
	    0);
	assert_false(v.accept);
	assert_int_equal(v.code, ECA_ERR_INTERNAL);
}

static void
test_verdict_message_control_characters_are_replaced(void **state)
{
	struct eca_channel_verdict v;
	const char text[] = "{\"accept\":false,\"code\":\"BANNED\","
			    "\"message\":\"a\\u001b[2Jb\\nc "
			    "\\u00e9\",\"primary\":\"p.example\"}";

	(void)state;
	assert_int_equal(eca_channel_verdict_parse((const unsigned char *)text,
			     strlen(text), &v, NULL),
	    0);
	assert_int_equal(v.code, ECA_ERR_BANNED);
	assert_string_equal(v.message, "a\\x1b[2Jb\\x0ac \\xc3\\xa9");
	assert_string_equal(v.primary, "p.example");
}

static void
test_encoders_refuse_invalid_input(void **state)
{
	struct eca_channel_server_hello sh;
	struct eca_channel_client_hello hc;
	struct eca_channel_verdict v;
	unsigned char *out = NULL;
	size_t len;

	(void)state;
	memset(&sh, 0, sizeof(sh));
	snprintf(sh.host, sizeof(sh.host), "bad host");
	assert_int_equal(eca_channel_server_hello_encode(&sh, &out, &len, NULL),
	    ECA_ERR_INTERNAL);
	snprintf(sh.host, sizeof(sh.host), "s.example");
	sh.nprimaries = ECA_MAX_SERVERS + 1;
	assert_int_equal(eca_channel_server_hello_encode(&sh, &out, &len, NULL),
	    ECA_ERR_INTERNAL);
	memset(&hc, 0, sizeof(hc));
	snprintf(hc.host, sizeof(hc.host), "c.example");
	snprintf(hc.primary, sizeof(hc.primary), "p.example");
	hc.purpose = (enum eca_purpose)42;
	assert_int_equal(eca_channel_client_hello_encode(&hc, &out, &len, NULL),
	    ECA_ERR_INTERNAL);
	memset(&v, 0, sizeof(v));
	v.accept = 1;
	v.code = ECA_ERR_BANNED;
	assert_int_equal(eca_channel_verdict_encode(&v, &out, &len, NULL),
	    ECA_ERR_INTERNAL);
	assert_null(out);
}

/* ------------------------------------------------------------------ */
/* Round trips.                                                        */

static void
test_frame_round_trip(void **state)
{
	unsigned char *f = NULL;
	size_t len, fl;
	json_t *j;

	(void)state;
	assert_non_null(j = json_pack("{s:s}", "op", "ping"));
	assert_int_equal(eca_channel_frame_encode(j, &f, &len, NULL), 0);
	assert_int_equal(len, 4 + strlen("{\"op\":\"ping\"}"));
	assert_int_equal(eca_channel_frame_need(f, len, &fl), 0);
	assert_int_equal(fl, len);
	assert_memory_equal(f + 4, "{\"op\":\"ping\"}", len - 4);
	json_decref(j);
	free(f);
}

/*
 * "nat" (docs/nat.md): optional in both HELLOs, absent is false, a
 * boolean when present; sent only by a NAT host, so that the HELLO of
 * every other host is the same bytes as before.
 */
static void
test_hello_nat_flag(void **state)
{
	struct eca_channel_server_hello sh;
	struct eca_channel_client_hello hc, back;
	unsigned char *f = NULL;
	size_t len;

	(void)state;
	parse_as(SH,
	    "{\"v\":1,\"host\":\"s.example\",\"role\":\"media\","
	    "\"primaries\":[],\"cert\":true,\"nat\":1}",
	    ECA_ERR_PROTOCOL, "\"nat\" is not true or false");
	parse_as(CH,
	    "{\"v\":1,\"host\":\"c.example\",\"role\":\"client\","
	    "\"primary\":\"p1.example\",\"purpose\":\"backup\","
	    "\"cert\":true,\"nat\":\"yes\"}",
	    ECA_ERR_PROTOCOL, "client HELLO's \"nat\" is not true or false");
	assert_int_equal(
	    eca_channel_server_hello_parse((const unsigned char *)SH_OK,
		strlen(SH_OK), &sh, NULL),
	    0);
	assert_int_equal(sh.nat, 0);
	assert_int_equal(
	    eca_channel_client_hello_parse((const unsigned char *)CH_OK,
		strlen(CH_OK), &hc, NULL),
	    0);
	assert_int_equal(hc.nat, 0);

	/* Not a NAT host: no "nat" key at all. */
	assert_int_equal(eca_channel_client_hello_encode(&hc, &f, &len, NULL),
	    0);
	assert_null(memmem(f + 4, len - 4, "nat", 3));
	free(f);
	hc.nat = 1;
	assert_int_equal(eca_channel_client_hello_encode(&hc, &f, &len, NULL),
	    0);
	assert_non_null(memmem(f + 4, len - 4, "\"nat\":true", 10));
	assert_int_equal(
	    eca_channel_client_hello_parse(f + 4, len - 4, &back, NULL), 0);
	assert_memory_equal(&hc, &back, sizeof(hc));
	free(f);
	sh.nat = 1;
	snprintf(sh.token, sizeof(sh.token), "t0k3n");
	assert_int_equal(eca_channel_server_hello_encode(&sh, &f, &len, NULL),
	    0);
	memset(&hc, 0, sizeof(hc));
	assert_int_equal(
	    eca_channel_server_hello_parse(f + 4, len - 4, &sh, NULL), 0);
	assert_int_equal(sh.nat, 1);
	assert_string_equal(sh.token, "t0k3n");
	free(f);
	/* "token" (a reverse connection's): a short printable string. */
	parse_as(SH,
	    "{\"v\":1,\"host\":\"s.example\",\"role\":\"media\","
	    "\"primaries\":[],\"cert\":true,\"token\":\"a b\"}",
	    ECA_ERR_PROTOCOL, "\"token\" is not 1 to 64 printable");
	parse_as(SH,
	    "{\"v\":1,\"host\":\"s.example\",\"role\":\"media\","
	    "\"primaries\":[],\"cert\":true,\"token\":7}",
	    ECA_ERR_PROTOCOL, "\"token\"");
}

static void
test_server_hello_round_trip(void **state)
{
	struct eca_channel_server_hello in, out;
	unsigned char *f = NULL;
	size_t len, i;

	(void)state;
	memset(&in, 0, sizeof(in));
	snprintf(in.host, sizeof(in.host), "media-1.example");
	in.role = ECA_ROLE_MEDIA;
	in.has_cert = 1;
	for (i = 0; i < ECA_MAX_SERVERS; i++)
		snprintf(in.primaries[i], sizeof(in.primaries[i]),
		    "primary-%zu.example", i);
	in.nprimaries = ECA_MAX_SERVERS;
	assert_int_equal(eca_channel_server_hello_encode(&in, &f, &len, NULL),
	    0);
	assert_int_equal(eca_channel_frame_need(f, len, NULL), 0);
	assert_int_equal(
	    eca_channel_server_hello_parse(f + 4, len - 4, &out, NULL), 0);
	assert_memory_equal(&in, &out, sizeof(in));
	free(f);

	in.nprimaries = 0;
	in.has_cert = 0;
	in.role = ECA_ROLE_PRIMARY;
	memset(in.primaries, 0, sizeof(in.primaries));
	assert_int_equal(eca_channel_server_hello_encode(&in, &f, &len, NULL),
	    0);
	assert_int_equal(
	    eca_channel_server_hello_parse(f + 4, len - 4, &out, NULL), 0);
	assert_memory_equal(&in, &out, sizeof(in));
	free(f);
}

static void
test_client_hello_round_trip_every_purpose(void **state)
{
	struct eca_channel_client_hello in, out;
	unsigned char *f = NULL;
	size_t len;
	int p;

	(void)state;
	for (p = ECA_PURPOSE_BACKUP; p <= ECA_PURPOSE_ENROLL; p++) {
		assert_int_equal(eca_purpose_from_name(
				     eca_purpose_name((enum eca_purpose)p)),
		    p);
		memset(&in, 0, sizeof(in));
		snprintf(in.host, sizeof(in.host), "c%d.example", p);
		snprintf(in.primary, sizeof(in.primary), "p.example");
		in.role = (enum eca_role)(p % 3);
		in.purpose = (enum eca_purpose)p;
		in.has_cert = p % 2;
		assert_int_equal(
		    eca_channel_client_hello_encode(&in, &f, &len, NULL), 0);
		assert_int_equal(
		    eca_channel_client_hello_parse(f + 4, len - 4, &out, NULL),
		    0);
		assert_memory_equal(&in, &out, sizeof(in));
		free(f);
	}
}

static void
test_verdict_round_trip_accept_and_refuse(void **state)
{
	struct eca_channel_verdict in, out;
	unsigned char *f = NULL;
	size_t len;

	(void)state;
	memset(&in, 0, sizeof(in));
	in.accept = 1;
	snprintf(in.primary, sizeof(in.primary), PRIMARY);
	assert_int_equal(eca_channel_verdict_encode(&in, &f, &len, NULL), 0);
	assert_int_equal(eca_channel_verdict_parse(f + 4, len - 4, &out, NULL),
	    0);
	assert_memory_equal(&in, &out, sizeof(in));
	free(f);

	memset(&in, 0, sizeof(in));
	in.code = ECA_ERR_FINGERPRINT_MISMATCH;
	snprintf(in.message, sizeof(in.message),
	    "c.example presented "
	    "another certificate: run `eca enroll` on c.example");
	assert_int_equal(eca_channel_verdict_encode(&in, &f, &len, NULL), 0);
	assert_non_null(
	    strstr((const char *)f + 4, "\"code\":\"FINGERPRINT_MISMATCH\""));
	assert_int_equal(eca_channel_verdict_parse(f + 4, len - 4, &out, NULL),
	    0);
	assert_memory_equal(&in, &out, sizeof(in));
	free(f);
}

static void
test_unknown_keys_are_ignored(void **state)
{
	struct eca_channel_server_hello sh;
	const char text[] =
	    "{\"v\":1,\"host\":\"s.example\",\"role\":"
	    "\"primary\",\"primaries\":[\"p1.example\",\"p2.example\"],"
	    "\"cert\":false,\"future\":{\"x\":[1,2]}}";

	(void)state;
	assert_int_equal(
	    eca_channel_server_hello_parse((const unsigned char *)text,
		strlen(text), &sh, NULL),
	    0);
	assert_string_equal(sh.host, "s.example");
	assert_int_equal(sh.role, ECA_ROLE_PRIMARY);
	assert_int_equal(sh.nprimaries, 2);
	assert_string_equal(sh.primaries[1], "p2.example");
	assert_false(sh.has_cert);
	parse_as(CH, CH_OK, 0, NULL);
	parse_as(VD, VD_OK, 0, NULL);
}

/* ------------------------------------------------------------------ */
/* The shared primary.                                                 */

static struct eca_config *
config_of(const char *text)
{
	struct eca_config *cfg = NULL;
	struct eca_err err;

	if (eca_config_parse(text, strlen(text), "test.conf", &cfg, &err) != 0)
		fail_msg("config: %s", err.msg);
	return cfg;
}

static void
test_no_shared_primary_is_null(void **state)
{
	struct eca_config *cfg;
	struct eca_channel_server_hello sh;

	(void)state;
	cfg = config_of("CLIENT_NAME = c.example\nSERVER = p1.example\n");
	memset(&sh, 0, sizeof(sh));
	assert_null(eca_channel_shared_primary(cfg, &sh));
	snprintf(sh.primaries[0], sizeof(sh.primaries[0]), "p2.example");
	snprintf(sh.primaries[1], sizeof(sh.primaries[1]), "p1.example.org");
	sh.nprimaries = 2;
	assert_null(eca_channel_shared_primary(cfg, &sh));
	assert_null(eca_channel_shared_primary(NULL, &sh));
	eca_config_free(cfg);
}

static void
test_shared_primary_follows_my_order_and_ignores_case(void **state)
{
	struct eca_config *cfg;
	struct eca_channel_server_hello sh;
	const char *p;

	(void)state;
	cfg = config_of("CLIENT_NAME = c.example\nSERVER = p1.example\n"
			"SERVER = p2.example\nSERVER = p3.example\n");
	memset(&sh, 0, sizeof(sh));
	snprintf(sh.primaries[0], sizeof(sh.primaries[0]), "P3.EXAMPLE");
	snprintf(sh.primaries[1], sizeof(sh.primaries[1]), "P2.example");
	sh.nprimaries = 2;
	/* Mine come first: p2 is before p3 in my SERVER list. */
	assert_non_null(p = eca_channel_shared_primary(cfg, &sh));
	assert_string_equal(p, "p2.example");
	assert_ptr_equal(p, cfg->servers[1].name);
	sh.nprimaries = 1;
	assert_string_equal(eca_channel_shared_primary(cfg, &sh), "p3.example");
	eca_config_free(cfg);
}

static void
test_a_primary_peer_counts_as_listing_itself(void **state)
{
	struct eca_config *cfg;
	struct eca_channel_server_hello sh;

	(void)state;
	cfg = config_of("CLIENT_NAME = c.example\nSERVER = p1.example\n"
			"SERVER = p2.example\n");
	memset(&sh, 0, sizeof(sh));
	snprintf(sh.host, sizeof(sh.host), "P2.Example");
	/* A media server named like a primary does not count. */
	sh.role = ECA_ROLE_MEDIA;
	assert_null(eca_channel_shared_primary(cfg, &sh));
	sh.role = ECA_ROLE_PRIMARY;
	assert_string_equal(eca_channel_shared_primary(cfg, &sh), "p2.example");
	/* My order still rules: p1, listed by the primary, comes first. */
	snprintf(sh.primaries[0], sizeof(sh.primaries[0]), "p1.example");
	sh.nprimaries = 1;
	assert_string_equal(eca_channel_shared_primary(cfg, &sh), "p1.example");
	eca_config_free(cfg);
}

/* ------------------------------------------------------------------ */
/* A test server speaking the protocol on loopback.                    */

enum mode {
	M_NONE,	       /* no server: the port is closed */
	M_ACCEPT,      /* HELLO, VERDICT accept, then echo/bulk services */
	M_REFUSE,      /* VERDICT refusing with FINGERPRINT_MISMATCH */
	M_GARBAGE,     /* a HELLO frame that is not JSON */
	M_CLOSE,       /* half a frame header, then the connection closes */
	M_SILENT,      /* handshake, then nothing */
	M_HUGE,	       /* announces a frame over ECA_FRAME_MAX */
	M_OTHER_NAME,  /* HELLO naming another host */
	M_NO_SHARED,   /* HELLO listing another primary */
	M_ENROLL_LATE, /* enters the client's roster before its VERDICT */
	M_BAD_ECHO,    /* accepts, then answers pings wrongly */
	M_HASTY,       /* HELLO and VERDICT in one segment, unasked */
	M_HASTY_DATA,  /* the same, and a first data frame with them */
};

#define SRV_HELLO                                                              \
	"{\"v\":1,\"host\":\"" SERVER "\",\"role\":\"media\","                 \
	"\"primaries\":[\"other.example\",\"" PRIMARY "\"],\"cert\":true}"
#define SRV_ACCEPT                                                             \
	"{\"accept\":true,\"code\":\"OK\",\"message\":\"\",\"primary\":"       \
	"\"" PRIMARY "\"}"
#define SRV_EARLY "{\"op\":\"early\",\"payload\":\"read ahead\"}"

struct srv {
	int lfd;
	int port;
	enum mode mode;
	SSL_CTX *ctx;
	pthread_t thr;
	struct eca_host *client; /* M_ENROLL_LATE: roster to change */
	X509 *leaf;		 /* the server's certificate */
	int got_hello;
	struct eca_channel_client_hello hello;
	int64_t bulk_in;
};

static int
srv_read(SSL *ssl, unsigned char *buf, size_t n)
{
	size_t got = 0, k;

	while (got < n) {
		if (SSL_read_ex(ssl, buf + got, n - got, &k) != 1)
			return -1;
		got += k;
	}
	return 0;
}

static int
srv_write(SSL *ssl, const unsigned char *buf, size_t n)
{
	size_t k;

	return SSL_write_ex(ssl, buf, n, &k) == 1 && k == n ? 0 : -1;
}

/* One frame: its payload into buf (ECA_FRAME_MAX), length in *len. */
static int
srv_recv_frame(SSL *ssl, unsigned char *buf, size_t *len)
{
	unsigned char h[4];
	size_t fl;

	if (srv_read(ssl, h, 4) != 0 || eca_channel_frame_need(h, 4, &fl) != 1)
		return -1;
	*len =
	    (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
	return srv_read(ssl, buf, *len);
}

static int
srv_send_text(SSL *ssl, const char *text)
{
	unsigned char *f;
	size_t len;
	int r;

	f = frame_of(text, &len);
	r = srv_write(ssl, f, len);
	free(f);
	return r;
}

/*
 * M_HASTY: the HELLO and the VERDICT (and with data, a first frame) as
 * separate TLS records in one TCP segment, before the client's HELLO,
 * so that a client reading ahead holds the VERDICT in its TLS buffer
 * while the socket has nothing more to say.
 */
static int
srv_send_hasty(SSL *ssl, int fd, int data)
{
	int on = 1, off = 0, r;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
	r = srv_send_text(ssl, SRV_HELLO) != 0 ||
	    srv_send_text(ssl, SRV_ACCEPT) != 0 ||
	    (data && srv_send_text(ssl, SRV_EARLY) != 0);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_CORK, &off, sizeof(off));
	return r ? -1 : 0;
}

/* roster_put's records are NAT hosts (docs/nat.md). */
static int roster_put_nat;

/* Apply one record to h's roster of PRIMARY, as a sync would. */
static void
roster_put(struct eca_host *h, const char *host, X509 *leaf, enum eca_state st)
{
	struct eca_roster_delta *d = NULL;
	struct eca_certinfo ci;
	struct eca_change c;
	struct eca_domain *dom;
	struct eca_err err;
	int64_t v;
	json_t *j;
	char *s;

	assert_non_null(dom = eca_host_domain(h, PRIMARY));
	assert_int_equal(eca_x509_info(leaf, &ci, NULL), 0);
	pthread_mutex_lock(&dom->lock);
	v = eca_roster_version(dom->roster);
	memset(&c, 0, sizeof(c));
	snprintf(c.host, sizeof(c.host), "%s", host);
	snprintf(c.host_id, sizeof(c.host_id),
	    "01234567-89ab-4cde-8f01-%012llx", (unsigned long long)v + 1);
	c.state = st;
	memcpy(c.fingerprint, ci.fingerprint, sizeof(c.fingerprint));
	memcpy(c.spki_fingerprint, ci.spki_fingerprint,
	    sizeof(c.spki_fingerprint));
	c.not_after = ci.not_after;
	c.version = v + 1;
	c.nat = roster_put_nat;
	j = eca_wire_roster(&(struct eca_wire_roster_page){.primary = PRIMARY,
				.since = v,
				.version = v + 1,
				.next = v + 1,
				.full = v == 0},
	    &c, 1);
	assert_non_null(j);
	assert_non_null(s = json_dumps(j, JSON_COMPACT));
	if (eca_roster_delta_parse(s, strlen(s), &d, &err) != 0 ||
	    eca_roster_apply(dom->roster, d, (int64_t)time(NULL), &err) != 0)
		fail_msg("roster: %s", err.msg);
	pthread_mutex_unlock(&dom->lock);
	eca_roster_delta_free(d);
	free(s);
	json_decref(j);
}

static void
srv_services(struct srv *s, SSL *ssl, unsigned char *buf)
{
	unsigned char *chunk;
	char reply[64];
	const char *op;
	json_t *j;
	size_t len, k;
	int64_t n, left, got;

	assert_non_null(chunk = calloc(1, 65536));
	while (srv_recv_frame(ssl, buf, &len) == 0) {
		if ((j = json_loadb((const char *)buf, len, 0, NULL)) == NULL)
			break;
		op = json_string_value(json_object_get(j, "op"));
		n = json_integer_value(json_object_get(j, "bytes"));
		if (op != NULL && strcmp(op, "ping") == 0) {
			unsigned char *f;

			if (s->mode == M_BAD_ECHO)
				f = frame_of("{\"op\":\"ping\",\"payload\":"
					     "\"stale\"}",
				    &k);
			else {
				buf[len] = '\0';
				f = frame_of((const char *)buf, &k);
			}
			(void)srv_write(ssl, f, k);
			free(f);
		} else if (op != NULL && strcmp(op, "send") == 0) {
			got = 0;
			for (left = n; left > 0; left -= (int64_t)k) {
				k = left < 65536 ? (size_t)left : 65536;
				if (srv_read(ssl, chunk, k) != 0)
					break;
				got += (int64_t)k;
			}
			s->bulk_in += got;
			snprintf(reply, sizeof(reply), "{\"received\":%lld}",
			    (long long)got);
			(void)srv_send_text(ssl, reply);
		} else if (op != NULL && strcmp(op, "receive") == 0) {
			for (left = n; left > 0; left -= (int64_t)k) {
				k = left < 65536 ? (size_t)left : 65536;
				if (srv_write(ssl, chunk, k) != 0)
					break;
			}
		}
		json_decref(j);
	}
	free(chunk);
}

static void *
srv_main(void *arg)
{
	struct srv *s = arg;
	struct timeval tv = {10, 0};
	struct pollfd pfd = {.fd = s->lfd, .events = POLLIN};
	unsigned char *buf;
	SSL *ssl = NULL;
	size_t len;
	int fd = -1, hasty;

	assert_non_null(buf = malloc(ECA_FRAME_MAX + 1));
	if (poll(&pfd, 1, 10000) != 1 ||
	    (fd = accept(s->lfd, NULL, NULL)) == -1)
		goto done;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if ((ssl = SSL_new(s->ctx)) == NULL || SSL_set_fd(ssl, fd) != 1 ||
	    SSL_accept(ssl) != 1)
		goto done;
	switch (s->mode) {
	case M_GARBAGE:
		(void)srv_send_text(ssl, "this is not json");
		goto drain;
	case M_CLOSE:
		(void)srv_write(ssl, (const unsigned char *)"\0\0", 2);
		goto done;
	case M_SILENT:
		goto drain;
	case M_HUGE:
		(void)srv_write(ssl, (const unsigned char *)"\0\1\0\0", 4);
		goto drain;
	case M_OTHER_NAME:
		(void)srv_send_text(ssl,
		    "{\"v\":1,\"host\":\"other.example\","
		    "\"role\":\"media\",\"primaries\":[\"" PRIMARY "\"],"
		    "\"cert\":true}");
		goto drain;
	case M_NO_SHARED:
		(void)srv_send_text(ssl,
		    "{\"v\":1,\"host\":\"" SERVER "\","
		    "\"role\":\"media\",\"primaries\":[\"elsewhere.example\"],"
		    "\"cert\":true}");
		goto drain;
	default:
		break;
	}
	hasty = s->mode == M_HASTY || s->mode == M_HASTY_DATA;
	if ((hasty ? srv_send_hasty(ssl, fd, s->mode == M_HASTY_DATA) :
		     srv_send_text(ssl, SRV_HELLO)) != 0 ||
	    srv_recv_frame(ssl, buf, &len) != 0)
		goto done;
	if (eca_channel_client_hello_parse(buf, len, &s->hello, NULL) == 0)
		s->got_hello = 1;
	if (s->mode == M_ENROLL_LATE)
		roster_put(s->client, SERVER, s->leaf, ECA_STATE_ENROLLED);
	if (s->mode == M_REFUSE) {
		(void)srv_send_text(ssl,
		    "{\"accept\":false,\"code\":"
		    "\"FINGERPRINT_MISMATCH\",\"message\":\"" CLIENT
		    " presented"
		    " a certificate other than the enrolled "
		    "one\",\"primary\":\"" PRIMARY "\"}");
		goto drain;
	}
	if (!hasty && srv_send_text(ssl, SRV_ACCEPT) != 0)
		goto done;
	srv_services(s, ssl, buf);
	goto done;
drain:
	/* Wait for the client to give up (or the 10 s socket timeout). */
	while (SSL_read_ex(ssl, buf, ECA_FRAME_MAX, &len) == 1)
		;
done:
	if (ssl != NULL)
		SSL_free(ssl);
	if (fd != -1)
		close(fd);
	free(buf);
	ERR_clear_error();
	return NULL;
}

static void
srv_start(struct srv *s, enum mode mode, const struct eca_cred *cred)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);

	memset(s, 0, sizeof(*s));
	s->mode = mode;
	s->leaf = cred->leaf;
	assert_int_equal(eca_tls_server_ctx(NULL, cred, &s->ctx, NULL), 0);
	assert_true((s->lfd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(s->lfd, 4), 0);
	assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&sin, &sl), 0);
	s->port = ntohs(sin.sin_port);
}

static void
srv_run(struct srv *s)
{
	if (s->mode == M_NONE) {
		close(s->lfd);
		s->lfd = -1;
		return;
	}
	assert_int_equal(pthread_create(&s->thr, NULL, srv_main, s), 0);
}

static void
srv_stop(struct srv *s)
{
	if (s->mode != M_NONE)
		pthread_join(s->thr, NULL);
	if (s->lfd != -1)
		close(s->lfd);
	SSL_CTX_free(s->ctx);
}

/* The client's side: its files, configuration and host context. */
struct fx {
	char *dir;
	struct eca_config *cfg;
	struct eca_host *h;
	struct srv srv;
};

/*
 * Start a server in mode with cred, and a client host that PEERs it, is
 * enrolled with PRIMARY (unless !enrolled) and has the server in its
 * roster (if in_roster, with roster_leaf or the server's certificate).
 * extra: more configuration lines.
 */
static void
fx_open(struct fx *f, enum mode mode, const struct eca_cred *cred, int enrolled,
    int in_roster, X509 *roster_leaf, const char *extra)
{
	struct eca_domain *d;
	struct eca_err err;
	char text[4096];

	memset(f, 0, sizeof(*f));
	srv_start(&f->srv, mode, cred);
	f->dir = testca_tmpdir();
	testca_write_host(f->dir, ca, client_leaf, client_key);
	/* The primary's port is closed: any call to it fails at once. */
	snprintf(text, sizeof(text),
	    "CLIENT_NAME = " CLIENT "\n"
	    "SERVER = " PRIMARY " 127.0.0.1:1\n"
	    "PEER = " SERVER " 127.0.0.1:%d\n"
	    "STATE_DIR = %s\n"
	    "ECA_CERT_PATH = %s/cert.pem\n"
	    "ECA_PRIVATE_KEY_PATH = %s/key.pem\n"
	    "ECA_TRUST_STORE_PATH = %s/trust.pem\n"
	    "ECA_CRL_CHECK = DISABLE\n%s",
	    f->srv.port, f->dir, f->dir, f->dir, f->dir,
	    extra != NULL ? extra : "");
	f->cfg = config_of(text);
	if (eca_host_new(NULL, f->cfg, &f->h, &err) != 0)
		fail_msg("host: %s", err.msg);
	assert_non_null(d = eca_host_domain(f->h, PRIMARY));
	if (enrolled) {
		d->enrolled = 1;
		memcpy(d->enrolled_fp, f->h->self.fingerprint,
		    sizeof(d->enrolled_fp));
	}
	if (in_roster)
		roster_put(f->h, SERVER,
		    roster_leaf != NULL ? roster_leaf : cred->leaf,
		    ECA_STATE_ENROLLED);
	else /* fresh but without the server */
		roster_put(f->h, "someone-else.example", client_leaf,
		    ECA_STATE_ENROLLED);
	f->srv.client = f->h;
	srv_run(&f->srv);
}

static void
fx_close(struct fx *f)
{
	srv_stop(&f->srv);
	eca_host_free(f->h);
	eca_config_free(f->cfg);
	testca_rmdir(f->dir);
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Open to SERVER expecting code; err message must contain needle. */
static void
open_refused(struct fx *f, enum eca_purpose p, long timeout, int code,
    const char *needle, struct eca_channel_steps *steps)
{
	struct eca_channel *ch = (void *)1;
	struct eca_err err;

	eca_err_clear(&err);
	assert_int_equal(
	    eca_channel_open(f->h, SERVER, p, timeout, &ch, steps, &err), code);
	assert_null(ch);
	assert_int_equal(err.code, code);
	if (needle != NULL)
		contains(err.msg, needle);
}

/* Open to SERVER, which must succeed within 3 s. */
static struct eca_channel *
open_ok(struct fx *f, enum eca_purpose p, struct eca_channel_steps *steps)
{
	struct eca_channel *ch = NULL;
	struct eca_err err;

	eca_err_clear(&err);
	if (eca_channel_open(f->h, SERVER, p, 3000, &ch, steps, &err) != 0)
		fail_msg("open: %s", err.msg);
	return ch;
}

/* ------------------------------------------------------------------ */
/* The route (docs/nat.md, "Choosing a reverse connection").          */

static void
test_route_rule(void **state)
{
	struct eca_config cfg;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(eca_channel_route(NULL, 1), ECA_ROUTE_DIRECT);
	/* no SERVER to ask: directly */
	assert_int_equal(eca_channel_route(&cfg, 1), ECA_ROUTE_DIRECT);
	cfg.nservers = 1;
	assert_int_equal(eca_channel_route(&cfg, 0), ECA_ROUTE_DIRECT);
	assert_int_equal(eca_channel_route(&cfg, 1), ECA_ROUTE_REVERSE);
	cfg.enable_direct_connection = 1;
	assert_int_equal(eca_channel_route(&cfg, 0),
	    ECA_ROUTE_DIRECT_THEN_REVERSE);
	/* a NAT peer by the roster: never tried directly */
	assert_int_equal(eca_channel_route(&cfg, 1), ECA_ROUTE_REVERSE);
	/* a NAT host itself cannot be called back: always directly */
	cfg.nat_client = 1;
	assert_int_equal(eca_channel_route(&cfg, 1), ECA_ROUTE_DIRECT);
	assert_int_equal(eca_channel_route(&cfg, 0), ECA_ROUTE_DIRECT);
	cfg.nat_client = 0;
	cfg.accept_reverse_connection = 1;
	assert_int_equal(eca_channel_route(&cfg, 1), ECA_ROUTE_DIRECT);
	assert_string_equal(eca_channel_route_name(ECA_ROUTE_REVERSE),
	    "reverse");
	assert_string_equal(
	    eca_channel_route_name(ECA_ROUTE_DIRECT_THEN_REVERSE),
	    "direct-then-reverse");
	assert_string_equal(eca_channel_route_name(ECA_ROUTE_DIRECT), "direct");
}

/*
 * A peer the roster flags as a NAT host is not connected to: the primary
 * is asked (here its port is closed), though the peer listens.
 */
static void
test_nat_peer_by_the_roster_is_reached_in_reverse(void **state)
{
	struct eca_channel_steps steps;
	struct eca_channel *ch = NULL;
	struct eca_err err;
	struct fx f;

	(void)state;
	roster_put_nat = 1;
	fx_open(&f, M_ACCEPT, server_cred, 1, 1, NULL, NULL);
	roster_put_nat = 0;
	assert_true(eca_channel_peer_is_nat(f.h, SERVER));
	assert_false(eca_channel_peer_is_nat(f.h, "someone-else.example"));
	eca_err_clear(&err);
	assert_int_not_equal(eca_channel_open(f.h, SERVER, ECA_PURPOSE_PING,
				 2000, &ch, &steps, &err),
	    0);
	assert_null(ch);
	assert_int_equal(steps.route, ECA_ROUTE_REVERSE);
	assert_int_equal(steps.fell_back, 0);
	assert_int_equal(steps.callback_us, -1); /* the request failed */
	assert_int_equal(steps.tls_us, -1);
	/* at a given port it is what the caller asked: directly */
	assert_int_equal(eca_channel_open_port(f.h, SERVER, NULL,
			     ECA_PURPOSE_PING, 2000, &ch, &steps, &err),
	    0);
	assert_int_equal(steps.route, ECA_ROUTE_DIRECT);
	eca_channel_close(ch);
	fx_close(&f);
}

/* ENABLE_DIRECT_CONNECTION: an unreachable peer is then asked for. */
static void
test_direct_connection_falls_back_to_reverse_when_enabled(void **state)
{
	struct eca_channel_steps steps;
	struct eca_channel *ch = NULL;
	struct eca_err err;
	struct fx f;

	(void)state;
	fx_open(&f, M_NONE, server_cred, 1, 1, NULL,
	    "PEER = gone.example 127.0.0.1:1\n");
	eca_err_clear(&err);
	assert_int_equal(eca_channel_open(f.h, "gone.example", ECA_PURPOSE_PING,
			     2000, &ch, &steps, &err),
	    ECA_ERR_UNREACHABLE);
	assert_int_equal(steps.route, ECA_ROUTE_DIRECT);
	assert_int_equal(steps.fell_back, 0);
	fx_close(&f);

	fx_open(&f, M_ACCEPT, server_cred, 1, 1, NULL,
	    "PEER = gone.example 127.0.0.1:1\n"
	    "ENABLE_DIRECT_CONNECTION = TRUE\n");
	eca_err_clear(&err);
	assert_int_not_equal(eca_channel_open(f.h, "gone.example",
				 ECA_PURPOSE_PING, 2000, &ch, &steps, &err),
	    0);
	assert_null(ch);
	assert_int_equal(steps.route, ECA_ROUTE_DIRECT_THEN_REVERSE);
	assert_int_equal(steps.fell_back, 1);
	assert_true(steps.direct_us >= 0);
	contains(steps.direct_error, "gone.example");
	/* a reachable peer is taken directly, no fallback */
	assert_int_equal(eca_channel_open(f.h, SERVER, ECA_PURPOSE_PING, 2000,
			     &ch, &steps, &err),
	    0);
	assert_int_equal(steps.route, ECA_ROUTE_DIRECT_THEN_REVERSE);
	assert_int_equal(steps.fell_back, 0);
	eca_channel_close(ch);
	fx_close(&f);
}

/* ------------------------------------------------------------------ */
/* Channels (negative cases first).                                    */

static void
test_open_refuses_an_invalid_peer_name(void **state)
{
	struct eca_channel *ch = (void *)1;
	struct eca_err err;
	struct fx f;

	(void)state;
	fx_open(&f, M_NONE, server_cred, 1, 1, NULL, NULL);
	assert_int_equal(eca_channel_open(f.h, "bad host", ECA_PURPOSE_PING,
			     1000, &ch, NULL, &err),
	    ECA_ERR_BAD_HOST_NAME);
	assert_null(ch);
	assert_int_equal(eca_channel_open(f.h, "server.example.",
			     ECA_PURPOSE_PING, 1000, &ch, NULL, &err),
	    ECA_ERR_BAD_HOST_NAME);
	assert_non_null(strstr(err.msg, "trailing dot"));
	assert_null(ch);
	assert_int_equal(eca_channel_open(f.h, SERVER, (enum eca_purpose)77,
			     1000, &ch, NULL, &err),
	    ECA_ERR_USAGE);
	assert_int_equal(eca_channel_open(NULL, SERVER, ECA_PURPOSE_PING, 1000,
			     &ch, NULL, &err),
	    ECA_ERR_INTERNAL);
	fx_close(&f);
}

static void
test_open_to_a_closed_port_is_unreachable(void **state)
{
	struct eca_channel_steps steps;
	struct eca_channel *ch = (void *)1;
	struct eca_err err;
	struct fx f;

	(void)state;
	/* The PEER entry points at a port nobody listens on. */
	fx_open(&f, M_NONE, server_cred, 1, 1, NULL, NULL);
	assert_int_equal(eca_channel_open(f.h, SERVER, ECA_PURPOSE_PING, 2000,
			     &ch, &steps, &err),
	    ECA_ERR_UNREACHABLE);
	assert_null(ch);
	contains(err.msg, "cannot connect to " SERVER);
	assert_true(steps.resolve_us >= 0);
	assert_int_equal(steps.tcp_us, -1);
	assert_int_equal(steps.tls_us, -1);
	fx_close(&f);
}

static void
test_server_from_an_untrusted_ca_is_refused(void **state)
{
	struct eca_channel_steps steps;
	struct fx f;

	(void)state;
	fx_open(&f, M_ACCEPT, rogue_cred, 1, 1, NULL, NULL);
	open_refused(&f, ECA_PURPOSE_PING, 3000, ECA_ERR_UNTRUSTED,
	    "refused " SERVER, &steps);
	/*
	 * The chain is judged once, by the verdict, right after the
	 * handshake: the server never sees this host's HELLO.
	 */
	assert_true(steps.tcp_us >= 0);
	assert_true(steps.tls_us >= 0);
	fx_close(&f);
	assert_false(f.srv.got_hello);
}

static void
test_server_hello_garbage_is_a_protocol_error(void **state)
{
	struct eca_channel_steps steps;
	struct fx f;

	(void)state;
	fx_open(&f, M_GARBAGE, server_cred, 1, 1, NULL, NULL);
	open_refused(&f, ECA_PURPOSE_PING, 3000, ECA_ERR_PROTOCOL,
	    "not valid JSON", &steps);
	assert_true(steps.tls_us >= 0);
	assert_true(steps.tls_version[0] != '\0');
	assert_true(steps.cipher[0] != '\0');
	fx_close(&f);
}

static void
test_peer_closing_mid_handshake_is_a_protocol_error(void **state)
{
	struct fx f;

	(void)state;
	fx_open(&f, M_CLOSE, server_cred, 1, 1, NULL, NULL);
	open_refused(&f, ECA_PURPOSE_PING, 3000, ECA_ERR_PROTOCOL, "closed the",
	    NULL);
	fx_close(&f);
}

static void
test_silent_peer_times_out_within_the_timeout(void **state)
{
	struct fx f;
	int64_t t;

	(void)state;
	fx_open(&f, M_SILENT, server_cred, 1, 1, NULL, NULL);
	t = mono_ms();
	open_refused(&f, ECA_PURPOSE_PING, 300, ECA_ERR_TIMEOUT,
	    "did not answer within 300 ms", NULL);
	t = mono_ms() - t;
	assert_true(t >= 250);
	assert_true(t < 3000);
	fx_close(&f);
}

static void
test_oversized_frame_from_the_peer_is_too_large(void **state)
{
	struct fx f;

	(void)state;
	fx_open(&f, M_HUGE, server_cred, 1, 1, NULL, NULL);
	open_refused(&f, ECA_PURPOSE_PING, 3000, ECA_ERR_TOO_LARGE,
	    "more than 16384 bytes", NULL);
	fx_close(&f);
}

static void
test_server_claiming_another_name_is_refused(void **state)
{
	struct fx f;

	(void)state;
	fx_open(&f, M_OTHER_NAME, server_cred, 1, 1, NULL, NULL);
	open_refused(&f, ECA_PURPOSE_PING, 3000, ECA_ERR_IDENTITY_MISMATCH,
	    "says it is other.example", NULL);
	fx_close(&f);
}

static void
test_hosts_sharing_no_primary_are_forbidden(void **state)
{
	struct fx f;

	(void)state;
	fx_open(&f, M_NO_SHARED, server_cred, 1, 1, NULL, NULL);
	open_refused(&f, ECA_PURPOSE_PING, 3000, ECA_ERR_FORBIDDEN,
	    CLIENT " and " SERVER " share no primary", NULL);
	fx_close(&f);
}

static void
test_server_not_in_the_roster_is_refused_before_the_hello(void **state)
{
	struct eca_channel_steps steps;
	struct fx f;

	(void)state;
	/* Console never enrolls: no waiting, the refusal comes at once. */
	fx_open(&f, M_ACCEPT, server_cred, 1, 0, NULL, NULL);
	open_refused(&f, ECA_PURPOSE_CONSOLE, 3000, ECA_ERR_NOT_ENROLLED,
	    "refused " SERVER ": ", &steps);
	contains(steps.primary, PRIMARY);
	assert_true(steps.enroll_check_us >= 0);
	fx_close(&f);
	assert_false(f.srv.got_hello);
}

static void
test_server_with_another_certificate_is_a_fingerprint_mismatch(void **state)
{
	struct testca_leaf_opts o = {.cn = SERVER, .san = SERVER};
	struct eca_channel_steps steps;
	struct eca_certinfo want;
	X509 *other = NULL;
	struct fx f;

	(void)state;
	testca_leaf(ca, &o, &other, NULL);
	fx_open(&f, M_ACCEPT, server_cred, 1, 1, other, NULL);
	open_refused(&f, ECA_PURPOSE_PING, 3000, ECA_ERR_FINGERPRINT_MISMATCH,
	    "refused " SERVER, &steps);
	/* The step report names the certificate the server presented. */
	assert_int_equal(eca_x509_info(server_cred->leaf, &want, NULL), 0);
	assert_string_equal(steps.peer.fingerprint, want.fingerprint);
	fx_close(&f);
	assert_false(f.srv.got_hello);
	X509_free(other);
}

static void
test_refusing_verdict_returns_its_code_and_message(void **state)
{
	struct fx f;

	(void)state;
	fx_open(&f, M_REFUSE, server_cred, 1, 1, NULL, NULL);
	open_refused(&f, ECA_PURPOSE_BACKUP, 3000, ECA_ERR_FINGERPRINT_MISMATCH,
	    SERVER " refused this host: " CLIENT
		   " presented a certificate other",
	    NULL);
	fx_close(&f);
	assert_true(f.srv.got_hello);
	assert_string_equal(f.srv.hello.host, CLIENT);
	assert_string_equal(f.srv.hello.primary, PRIMARY);
	assert_int_equal(f.srv.hello.purpose, ECA_PURPOSE_BACKUP);
	assert_int_equal(f.srv.hello.role, ECA_ROLE_CLIENT);
	assert_true(f.srv.hello.has_cert);
}

static void
test_failed_auto_enrollment_stops_the_channel(void **state)
{
	struct eca_channel_steps steps;
	struct fx f;

	(void)state;
	/* Not enrolled, the rule allows it, the primary is unreachable. */
	fx_open(&f, M_ACCEPT, server_cred, 0, 1, NULL, NULL);
	open_refused(&f, ECA_PURPOSE_PING, 3000, ECA_ERR_UNREACHABLE,
	    "automatic enrollment of " CLIENT " with " PRIMARY " failed",
	    &steps);
	assert_true(steps.autoenroll_us >= 0);
	assert_false(steps.autoenrolled);
	fx_close(&f);
	assert_false(f.srv.got_hello);
}

static void
test_bad_ping_echo_is_a_protocol_error(void **state)
{
	struct eca_channel *ch = NULL;
	struct eca_err err;
	struct fx f;

	(void)state;
	fx_open(&f, M_BAD_ECHO, server_cred, 1, 1, NULL, NULL);
	ch = open_ok(&f, ECA_PURPOSE_PING, NULL);
	assert_int_equal(eca_channel_ping(ch, &err), ECA_ERR_PROTOCOL);
	contains(err.msg, "other than its echo");
	assert_int_equal(eca_channel_bulk_send(ch, -1, &err), ECA_ERR_USAGE);
	assert_int_equal(eca_channel_bulk_receive(ch, ECA_BULK_MAX + 1, &err),
	    ECA_ERR_USAGE);
	eca_channel_close(ch);
	fx_close(&f);
}

static void
test_server_never_enrolling_is_refused_after_the_wait(void **state)
{
	struct fx f;
	int64_t t;

	(void)state;
	/* Ping would enroll the server: the client waits, then refuses. */
	fx_open(&f, M_ACCEPT, server_cred, 1, 0, NULL, NULL);
	t = mono_ms();
	open_refused(&f, ECA_PURPOSE_PING, 3000, ECA_ERR_NOT_ENROLLED,
	    "refused " SERVER, NULL);
	t = mono_ms() - t;
	assert_true(t >= ECA_ENROLL_WAIT_MS - 100);
	fx_close(&f);
	/* Its HELLO went out: the server could have enrolled meanwhile. */
	assert_true(f.srv.got_hello);
}

static void
test_disabled_auto_enrollment_enrolls_nothing(void **state)
{
	struct eca_channel_steps steps;
	struct eca_channel *ch;
	struct fx f;

	(void)state;
	fx_open(&f, M_ACCEPT, server_cred, 0, 1, NULL,
	    "ECA_DISABLE_AUTO_ENROLLMENT = YES\n");
	/* The test server accepts anyway: the client must not enroll. */
	ch = open_ok(&f, ECA_PURPOSE_PING, &steps);
	assert_false(steps.autoenrolled);
	assert_int_equal(steps.autoenroll_us, -1);
	eca_channel_close(ch);
	fx_close(&f);
}

static void
test_server_enrolling_during_the_handshake_is_accepted(void **state)
{
	struct eca_channel_steps steps;
	struct eca_channel *ch = NULL;
	struct eca_err err;
	struct fx f;

	(void)state;
	fx_open(&f, M_ENROLL_LATE, server_cred, 1, 0, NULL, NULL);
	ch = open_ok(&f, ECA_PURPOSE_BACKUP, &steps);
	assert_int_equal(eca_channel_ping(ch, &err), 0);
	eca_channel_close(ch);
	fx_close(&f);
	assert_true(f.srv.got_hello);
}

static void
test_accepted_channel_reports_steps_and_serves_ping_and_bulk(void **state)
{
	struct eca_channel_steps steps;
	struct eca_channel *ch = NULL;
	struct eca_err err;
	unsigned char *fr = NULL, buf[256];
	size_t len, got;
	json_t *j;
	struct fx f;

	(void)state;
	fx_open(&f, M_ACCEPT, server_cred, 1, 1, NULL, NULL);
	ch = open_ok(&f, ECA_PURPOSE_PING, &steps);
	assert_non_null(eca_channel_ssl(ch));
	assert_true(steps.resolve_us >= 0 && steps.tcp_us >= 0 &&
	    steps.tls_us >= 0 && steps.identity_us >= 0 &&
	    steps.enroll_check_us >= 0);
	assert_true(steps.total_us >= steps.tls_us);
	assert_int_equal(steps.autoenroll_us, -1);
	assert_false(steps.autoenrolled);
	assert_string_equal(steps.primary, PRIMARY);
	assert_string_equal(eca_certinfo_san(&steps.peer), SERVER);
	contains(steps.address, "127.0.0.1:");
	assert_string_equal(steps.tls_version, "TLSv1.3");
	assert_true(steps.cipher[0] != '\0');

	assert_int_equal(eca_channel_ping(ch, &err), 0);
	assert_int_equal(eca_channel_ping(ch, &err), 0);
	assert_int_equal(eca_channel_bulk_send(ch, 3 * 65536 + 17, &err), 0);
	assert_int_equal(f.srv.bulk_in, 3 * 65536 + 17);
	assert_int_equal(eca_channel_bulk_receive(ch, 200000, &err), 0);
	assert_int_equal(eca_channel_bulk_send(ch, 0, &err), 0);
	assert_int_equal(eca_channel_bulk_receive(ch, 0, &err), 0);
	assert_int_equal(eca_channel_ping(ch, &err), 0);

	/* Raw frames: a non-frame is refused, a frame echoes. */
	assert_int_equal(eca_channel_send_frame(ch,
			     (const unsigned char *)"\0\0\0\0", 4, &err),
	    ECA_ERR_USAGE);
	assert_non_null(
	    j = json_pack("{s:s, s:s}", "op", "ping", "payload", "x"));
	assert_int_equal(eca_channel_frame_encode(j, &fr, &len, NULL), 0);
	assert_int_equal(eca_channel_send_frame(ch, fr, len, &err), 0);
	assert_int_equal(eca_channel_recv_frame(ch, buf, 4, &got, &err),
	    ECA_ERR_TOO_LARGE);
	json_decref(j);
	free(fr);
	eca_channel_close(ch);
	fx_close(&f);
	assert_true(f.srv.got_hello);
	assert_int_equal(f.srv.hello.purpose, ECA_PURPOSE_PING);
}

/*
 * A server may send its VERDICT with its HELLO, before it has read ours:
 * the client, reading ahead, then holds the VERDICT before it asks for
 * it, and must take it from there rather than wait on a quiet socket
 * (which would time out: this server says nothing more until pinged).
 */
static void
test_verdict_read_with_the_hello_is_not_waited_for(void **state)
{
	struct eca_channel_steps steps;
	struct eca_channel *ch;
	struct eca_err err;
	struct fx f;

	(void)state;
	fx_open(&f, M_HASTY, server_cred, 1, 1, NULL, NULL);
	ch = open_ok(&f, ECA_PURPOSE_PING, &steps);
	assert_string_equal(steps.primary, PRIMARY);
	assert_int_equal(eca_channel_ping(ch, &err), 0);
	eca_channel_close(ch);
	fx_close(&f);
	assert_true(f.srv.got_hello);
}

/*
 * Data that arrived with the VERDICT was read ahead during the set-up:
 * once the channel is open it is the first thing the caller reads.
 */
static void
test_data_read_ahead_with_the_verdict_is_received(void **state)
{
	struct eca_channel *ch;
	struct eca_err err;
	unsigned char buf[256];
	size_t got;
	struct fx f;

	(void)state;
	fx_open(&f, M_HASTY_DATA, server_cred, 1, 1, NULL, NULL);
	ch = open_ok(&f, ECA_PURPOSE_PING, NULL);
	if (eca_channel_recv_frame(ch, buf, sizeof(buf), &got, &err) != 0)
		fail_msg("the early frame: %s", err.msg);
	assert_int_equal(got, strlen(SRV_EARLY));
	assert_memory_equal(buf, SRV_EARLY, got);
	assert_int_equal(eca_channel_ping(ch, &err), 0);
	eca_channel_close(ch);
	fx_close(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_frame_with_zero_length_is_a_protocol_error),
	    cmocka_unit_test(test_route_rule),
	    cmocka_unit_test(test_nat_peer_by_the_roster_is_reached_in_reverse),
	    cmocka_unit_test(
		test_direct_connection_falls_back_to_reverse_when_enabled),
	    cmocka_unit_test(test_frame_longer_than_max_is_too_large),
	    cmocka_unit_test(test_partial_header_needs_more_bytes),
	    cmocka_unit_test(test_partial_payload_needs_more_bytes),
	    cmocka_unit_test(test_encoding_an_oversized_message_is_refused),
	    cmocka_unit_test(test_garbage_json_is_refused_by_every_parser),
	    cmocka_unit_test(test_garbage_in_a_message_is_not_echoed_raw),
	    cmocka_unit_test(test_duplicate_keys_are_refused),
	    cmocka_unit_test(test_wrong_types_are_refused_naming_the_field),
	    cmocka_unit_test(test_unknown_purpose_is_refused),
	    cmocka_unit_test(test_bad_host_names_are_refused),
	    cmocka_unit_test(test_too_many_primaries_are_refused),
	    cmocka_unit_test(test_other_protocol_version_is_refused),
	    cmocka_unit_test(test_verdict_accept_and_code_must_agree),
	    cmocka_unit_test(
		test_verdict_message_control_characters_are_replaced),
	    cmocka_unit_test(test_encoders_refuse_invalid_input),
	    cmocka_unit_test(test_frame_round_trip),
	    cmocka_unit_test(test_hello_nat_flag),
	    cmocka_unit_test(test_server_hello_round_trip),
	    cmocka_unit_test(test_hello_names_are_read_canonical),
	    cmocka_unit_test(test_client_hello_round_trip_every_purpose),
	    cmocka_unit_test(test_verdict_round_trip_accept_and_refuse),
	    cmocka_unit_test(test_unknown_keys_are_ignored),
	    cmocka_unit_test(test_no_shared_primary_is_null),
	    cmocka_unit_test(
		test_shared_primary_follows_my_order_and_ignores_case),
	    cmocka_unit_test(test_a_primary_peer_counts_as_listing_itself),
	    cmocka_unit_test(test_open_refuses_an_invalid_peer_name),
	    cmocka_unit_test(test_open_to_a_closed_port_is_unreachable),
	    cmocka_unit_test(test_server_from_an_untrusted_ca_is_refused),
	    cmocka_unit_test(test_server_hello_garbage_is_a_protocol_error),
	    cmocka_unit_test(
		test_peer_closing_mid_handshake_is_a_protocol_error),
	    cmocka_unit_test(test_silent_peer_times_out_within_the_timeout),
	    cmocka_unit_test(test_oversized_frame_from_the_peer_is_too_large),
	    cmocka_unit_test(test_server_claiming_another_name_is_refused),
	    cmocka_unit_test(test_hosts_sharing_no_primary_are_forbidden),
	    cmocka_unit_test(
		test_server_not_in_the_roster_is_refused_before_the_hello),
	    cmocka_unit_test(
		test_server_with_another_certificate_is_a_fingerprint_mismatch),
	    cmocka_unit_test(
		test_refusing_verdict_returns_its_code_and_message),
	    cmocka_unit_test(test_failed_auto_enrollment_stops_the_channel),
	    cmocka_unit_test(test_bad_ping_echo_is_a_protocol_error),
	    cmocka_unit_test(
		test_server_never_enrolling_is_refused_after_the_wait),
	    cmocka_unit_test(test_disabled_auto_enrollment_enrolls_nothing),
	    cmocka_unit_test(
		test_server_enrolling_during_the_handshake_is_accepted),
	    cmocka_unit_test(
		test_accepted_channel_reports_steps_and_serves_ping_and_bulk),
	    cmocka_unit_test(
		test_verdict_read_with_the_hello_is_not_waited_for),
	    cmocka_unit_test(test_data_read_ahead_with_the_verdict_is_received),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
