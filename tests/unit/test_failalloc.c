/* SPDX-License-Identifier: ISC */
/*
 * test_failalloc.c - libeca's parsers and its store when memory runs out.
 *
 * Each test runs one call with its Nth allocation failing, for every N
 * until the call makes fewer than N allocations (failalloc.h; for the
 * few calls that allocate thousands of times, each allocation site
 * once), and holds it to three things: no crash; a clean error, with the
 * output empty as the header promises, or a success whose output is the
 * same as a run without injection; and nothing left allocated.
 *
 * A clean error is ECA_ERR_NOMEM, or where the libraries do not say that
 * memory ran out (OpenSSL's decoders, jansson's syntax errors, SQLite's
 * SQLITE_NOMEM as the store's DB), the error the call documents: each
 * test lists which and why.
 *
 * FAILALLOC_TEST=pattern runs only the tests matching it.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <sqlite3.h>

#include "audit.h"
#include "channel.h"
#include "config.h"
#include "broker.h"
#include "crl.h"
#include "failalloc.h"
#include "hostset.h"
#include "roster.h"
#include "store.h"
#include "testca.h"
#include "wire.h"
#include "x509.h"

/* A refusal names what failed. */
static void
assert_refusal(int r, const struct eca_err *err)
{
	assert_int_equal(err->code, r);
	assert_true(err->msg[0] != '\0');
}

/*
 * After the call: 1 if it refused, the refusal checked and out (what it
 * would have handed over, or NULL) checked to be NULL; 0 if it did not.
 */
static int
refused(int r, const struct eca_err *err, const void *out)
{
	if (r == 0)
		return 0;
	assert_refusal(r, err);
	assert_null(out);
	return 1;
}

/* Every x509.h function leaves OpenSSL's error queue empty. */
static void
assert_no_openssl_error(void)
{
	if (ERR_peek_error() != 0)
		fail_msg("%s: OpenSSL's error queue is not empty",
		    failalloc_where());
}

/* A success under injection gives what a run without it gave. */
#define assert_same_str(got, want)                                             \
	do {                                                                   \
		if (strcmp((got), (want)) != 0)                                \
			fail_msg("%s: \"%s\" where a run without injection "   \
				 "gave \"%s\"",                                \
			    failalloc_where(), (got), (want));                 \
	} while (0)
#define assert_same_int(got, want)                                             \
	do {                                                                   \
		if ((int64_t)(got) != (int64_t)(want))                         \
			fail_msg(                                              \
			    "%s: %s is %lld where a run without injection "    \
			    "gave %lld",                                       \
			    failalloc_where(), #got, (long long)(got),         \
			    (long long)(want));                                \
	} while (0)

/*
 * Keep the first success's text as the reference (*want), or compare
 * with it; got is freed either way.
 */
static void
same_text(char **want, char *got)
{
	assert_non_null(got);
	if (*want == NULL) {
		*want = got;
		return;
	}
	assert_same_str(got, *want);
	free(got);
}

/* j as sorted compact text (disarmed: for comparisons); j is released. */
static char *
json_text(json_t *j)
{
	char *s;

	assert_non_null(j);
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	assert_non_null(s);
	return s;
}

/*
 * eca.conf with a key of every kind (lists, endpoints, paths, numbers,
 * booleans), so that every allocation of the parser is reached.
 */
static const char config_text[] =
    "# A primary with most keys set.\n"
    "CLIENT_NAME = primary1.example.com\n"
    "ROLE = Primary\n"
    "SERVER = primary1.example.com\n"
    "SERVER = backup-primary 192.0.2.7:2556\n"
    "SERVER = v6primary [2001:db8::7]:1556\n"
    "PEER = media1 10.0.0.5:1557\n"
    "PEER = media2 [::1]:11557\n"
    "LISTEN = [::]:1557\n"
    "NAT_CLIENT = no\n"
    "ECA_DISABLE_AUTO_ENROLLMENT = YES\n"
    "ECA_ALLOW_FORCED_REENROLLMENT = Yes\n"
    "WORKERS = 4\n"
    "MAX_CONNECTIONS = 1000\n"
    "ECA_CERT_PATH = /etc/eca/host cert.pem\n"
    "ECA_PRIVATE_KEY_PATH = /etc/eca/key.pem\n"
    "ECA_TRUST_STORE_PATH = /etc/ssl/certs\n"
    "ECA_KEY_PASSPHRASEFILE = /etc/eca/pass\n"
    "ECA_CRL_CHECK = chain\n"
    "ECA_CRL_PATH = /etc/eca/crls\n"
    "API_LISTEN = 127.0.0.1:8443\n"
    "ECA_IDENTITY = DN\n"
    "ADMIN_IDENTITY = CN=Backup Admin,OU=Ops,O=Example Corp\n"
    "ADMIN_IDENTITY = admin2.example.com\n"
    "AUDIT_LOG = /var/log/eca/audit.log\n"
    "CONTROL_SOCKET = /run/eca/ctl.sock\n"
    "USER = _eca\n"
    "PID_FILE = /run/eca/ecad.pid\n"
    "LOG_LEVEL = DEBUG\n"
    "STATE_DIR = /srv/eca\n";

struct config_arg {
	struct eca_config *cfg;
	struct eca_err err;
	char *want; /* the dump of a run without injection */
	char *dump;
};

static int
config_parse_call(void *p)
{
	struct config_arg *a = p;

	return eca_config_parse(config_text, strlen(config_text),
	    "failalloc.conf", &a->cfg, &a->err);
}

static void
config_parse_done(void *p, int r)
{
	struct config_arg *a = p;
	char *dump;

	if (refused(r, &a->err, a->cfg))
		return;
	dump = eca_config_dump(a->cfg);
	same_text(&a->want, dump);
	eca_config_free(a->cfg);
	a->cfg = NULL;
}

static void
test_config_parser_out_of_memory_is_a_clean_error(void **state)
{
	static const struct failalloc_case c = {
	    .name = "eca_config_parse",
	    .call = config_parse_call,
	    .done = config_parse_done,
	};
	struct config_arg a = {0};

	(void)state;
	assert_true(failalloc_each(&c, &a) > 10);
	free(a.want);
}

/* The dump has no error code: NULL, or the whole text. */
static int
config_dump_call(void *p)
{
	struct config_arg *a = p;

	a->dump = eca_config_dump(a->cfg);
	return a->dump == NULL ? ECA_ERR_NOMEM : 0;
}

static void
config_dump_done(void *p, int r)
{
	struct config_arg *a = p;

	if (r != 0)
		return;
	same_text(&a->want, a->dump);
	a->dump = NULL;
}

static void
test_config_dump_out_of_memory_is_null_not_a_short_text(void **state)
{
	static const struct failalloc_case c = {
	    .name = "eca_config_dump",
	    .call = config_dump_call,
	    .done = config_dump_done,
	};
	struct config_arg a = {0};
	struct eca_err err;

	(void)state;
	assert_int_equal(eca_config_parse(config_text, strlen(config_text),
			     "failalloc.conf", &a.cfg, &err),
	    0);
	assert_true(failalloc_each(&c, &a) >= 1);
	eca_config_free(a.cfg);
	free(a.want);
}

struct dn_arg {
	const char *in;
	char out[ECA_DN_MAX];
	char want[ECA_DN_MAX];
	struct eca_err err;
};

static int
dn_call(void *p)
{
	struct dn_arg *a = p;

	return eca_dn_normalize(a->in, a->out, sizeof(a->out), &a->err);
}

static void
dn_done(void *p, int r)
{
	struct dn_arg *a = p;

	if (r != 0) {
		assert_refusal(r, &a->err);
		assert_string_equal(a->out, "");
		return;
	}
	if (a->want[0] == '\0')
		memcpy(a->want, a->out, sizeof(a->want));
	else
		assert_same_str(a->out, a->want);
}

static void
test_dn_normalizer_out_of_memory_is_a_clean_error(void **state)
{
	/* OpenSSL does not tell a full heap from a refused value. */
	static const int ok[] = {ECA_ERR_PARSE, 0};
	static const struct failalloc_case c = {
	    .name = "eca_dn_normalize",
	    .call = dn_call,
	    .done = dn_done,
	    .ok = ok,
	};
	struct dn_arg a = {0};

	(void)state;
	a.in = "cn = Host1+UID=h1 ,OU=Backup\\, Ops,O=\"Example, Inc\",C=US";
	assert_true(failalloc_each(&c, &a) > 1);
	a.in = "/C=US/O=Example/OU=Ops/CN=host1.example";
	memset(a.want, 0, sizeof(a.want));
	assert_true(failalloc_each(&c, &a) > 1);
}

/* The three request bodies of the API, each with every member set. */
struct body_arg {
	struct eca_enroll_body body, want_body;
	char fp[ECA_FP_HEX_LEN + 1], want_fp[ECA_FP_HEX_LEN + 1];
	char host[ECA_HOST_MAX], want_host[ECA_HOST_MAX];
	char subject[ECA_DN_MAX], want_subject[ECA_DN_MAX];
	struct eca_err err;
	int have_want;
};

static const char enroll_body[] =
    "{\"host\": \"Host1.Example\", "
    "\"precheck\": true, \"force\": true, \"role\": \"media\", "
    "\"method\": \"auto\"}";
static const char decision_body[] =
    "{\"fingerprint\": "
    "\"AB:CD:EF:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:"
    "ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89\"}";
static const char map_body[] = "{\"host\": \"Host2.example\", "
			       "\"subject\": \"CN=host2,O=Example\"}";

static int
body_call(void *p)
{
	struct body_arg *a = p;
	int r;

	memset(&a->body, 0xa5, sizeof(a->body));
	if ((r = eca_wire_parse_enroll_body(enroll_body, strlen(enroll_body),
		 &a->body, &a->err)) != 0)
		return r;
	if ((r = eca_wire_parse_decision_body(decision_body,
		 strlen(decision_body), a->fp, &a->err)) != 0)
		return r;
	return eca_wire_parse_map_body(map_body, strlen(map_body), a->host,
	    a->subject, &a->err);
}

static void
body_done(void *p, int r)
{
	struct body_arg *a = p;

	if (refused(r, &a->err, NULL))
		return;
	if (!a->have_want) {
		a->want_body = a->body;
		memcpy(a->want_fp, a->fp, sizeof(a->fp));
		memcpy(a->want_host, a->host, sizeof(a->host));
		memcpy(a->want_subject, a->subject, sizeof(a->subject));
		a->have_want = 1;
		assert_string_equal(a->want_body.host, "host1.example");
		return;
	}
	assert_same_str(a->body.host, a->want_body.host);
	assert_same_int(a->body.precheck, a->want_body.precheck);
	assert_same_int(a->body.force, a->want_body.force);
	assert_same_int(a->body.role, a->want_body.role);
	assert_same_int(a->body.method, a->want_body.method);
	assert_same_str(a->fp, a->want_fp);
	assert_same_str(a->host, a->want_host);
	assert_same_str(a->subject, a->want_subject);
}

static void
test_api_body_parsers_out_of_memory_is_a_clean_error(void **state)
{
	/* jansson's "out of memory" is reported as a body it cannot read. */
	static const int ok[] = {ECA_ERR_BAD_REQUEST, 0};
	static const struct failalloc_case c = {
	    .name = "eca_wire_parse_*_body",
	    .call = body_call,
	    .done = body_done,
	    .ok = ok,
	};
	struct body_arg a = {0};

	(void)state;
	assert_true(failalloc_each(&c, &a) > 3);
}

/*
 * The channel's HELLO and VERDICT codecs, called through these wrappers
 * so that a rename in channel.h is a change here only.
 */
static int
parse_server_hello(const char *text, struct eca_channel_server_hello *out,
    struct eca_err *err)
{
	return eca_channel_server_hello_parse((const unsigned char *)text,
	    strlen(text), out, err);
}

static int
parse_client_hello(const char *text, struct eca_channel_client_hello *out,
    struct eca_err *err)
{
	return eca_channel_client_hello_parse((const unsigned char *)text,
	    strlen(text), out, err);
}

static int
parse_verdict(const char *text, struct eca_channel_verdict *out,
    struct eca_err *err)
{
	return eca_channel_verdict_parse((const unsigned char *)text,
	    strlen(text), out, err);
}

static int
encode_server_hello(const struct eca_channel_server_hello *h,
    unsigned char **out, size_t *len, struct eca_err *err)
{
	return eca_channel_server_hello_encode(h, out, len, err);
}

static int
encode_client_hello(const struct eca_channel_client_hello *h,
    unsigned char **out, size_t *len, struct eca_err *err)
{
	return eca_channel_client_hello_encode(h, out, len, err);
}

static int
encode_verdict(const struct eca_channel_verdict *v, unsigned char **out,
    size_t *len, struct eca_err *err)
{
	return eca_channel_verdict_encode(v, out, len, err);
}

static const char server_hello_text[] =
    "{\"v\":1,\"host\":\"MEDIA1.Example\","
    "\"role\":\"media\",\"primaries\":[\"P1.EXAMPLE\",\"p2.example\"],"
    "\"cert\":true}";
static const char client_hello_text[] =
    "{\"v\":1,\"host\":\"Client1.EXAMPLE\","
    "\"role\":\"client\",\"primary\":\"P1.Example\",\"purpose\":\"backup\","
    "\"cert\":true,\"auto\":true}";
static const char verdict_text[] =
    "{\"accept\":false,\"code\":\"CONFLICT\","
    "\"message\":\"another certificate is enrolled for client1\","
    "\"primary\":\"p1.example\"}";

struct chan_arg {
	struct eca_channel_server_hello sh;
	struct eca_channel_client_hello ch;
	struct eca_channel_verdict v;
	struct eca_err err;
	char *want; /* the three messages, encoded again */
};

static int
chan_parse_call(void *p)
{
	struct chan_arg *a = p;
	int r;

	memset(&a->sh, 0, sizeof(a->sh));
	memset(&a->ch, 0, sizeof(a->ch));
	memset(&a->v, 0, sizeof(a->v));
	if ((r = parse_server_hello(server_hello_text, &a->sh, &a->err)) != 0 ||
	    (r = parse_client_hello(client_hello_text, &a->ch, &a->err)) != 0)
		return r;
	return parse_verdict(verdict_text, &a->v, &a->err);
}

/* The three messages as their encoders write them, one after another. */
static char *
chan_encoded(const struct chan_arg *a)
{
	unsigned char *f[3] = {NULL, NULL, NULL};
	size_t len[3], i, off = 0;
	char *s;

	assert_int_equal(encode_server_hello(&a->sh, &f[0], &len[0], NULL), 0);
	assert_int_equal(encode_client_hello(&a->ch, &f[1], &len[1], NULL), 0);
	assert_int_equal(encode_verdict(&a->v, &f[2], &len[2], NULL), 0);
	assert_non_null(s = malloc(len[0] + len[1] + len[2] + 1));
	for (i = 0; i < 3; i++) {
		/* Skip the 4-byte length: the payload is JSON text. */
		memcpy(s + off, f[i] + 4, len[i] - 4);
		off += len[i] - 4;
		free(f[i]);
	}
	s[off] = '\0';
	return s;
}

static void
chan_parse_done(void *p, int r)
{
	struct chan_arg *a = p;

	if (refused(r, &a->err, NULL))
		return;
	same_text(&a->want, chan_encoded(a));
}

static void
test_channel_parsers_out_of_memory_is_a_clean_error(void **state)
{
	/* jansson's "out of memory" is a message it cannot read. */
	static const int ok[] = {ECA_ERR_PROTOCOL, 0};
	static const struct failalloc_case c = {
	    .name = "eca_channel_*_parse",
	    .call = chan_parse_call,
	    .done = chan_parse_done,
	    .ok = ok,
	};
	struct chan_arg a;

	(void)state;
	memset(&a, 0, sizeof(a));
	assert_true(failalloc_each(&c, &a) > 3);
	free(a.want);
}

struct chan_enc_arg {
	struct chan_arg msgs;
	unsigned char *f[3];
	size_t len[3];
	struct eca_err err;
	unsigned char *want[3];
	size_t want_len[3];
};

static int
chan_encode_call(void *p)
{
	struct chan_enc_arg *a = p;
	int r;

	if ((r = encode_server_hello(&a->msgs.sh, &a->f[0], &a->len[0],
		 &a->err)) != 0 ||
	    (r = encode_client_hello(&a->msgs.ch, &a->f[1], &a->len[1],
		 &a->err)) != 0)
		return r;
	return encode_verdict(&a->msgs.v, &a->f[2], &a->len[2], &a->err);
}

static void
chan_encode_done(void *p, int r)
{
	struct chan_enc_arg *a = p;
	size_t i;

	if (r != 0)
		assert_refusal(r, &a->err);
	for (i = 0; i < 3; i++) {
		if (r != 0) {
			/* The frames made before the failure are the caller's. */
			free(a->f[i]);
		} else if (a->want[i] == NULL) {
			a->want[i] = a->f[i];
			a->want_len[i] = a->len[i];
		} else {
			assert_same_int(a->len[i], a->want_len[i]);
			if (memcmp(a->f[i], a->want[i], a->len[i]) != 0)
				fail_msg("%s: frame %zu differs",
				    failalloc_where(), i);
			free(a->f[i]);
		}
		a->f[i] = NULL;
	}
}

static void
test_channel_encoders_out_of_memory_is_a_clean_error(void **state)
{
	static const struct failalloc_case c = {
	    .name = "eca_channel_*_encode",
	    .call = chan_encode_call,
	    .done = chan_encode_done,
	};
	struct chan_enc_arg a;
	size_t i;

	(void)state;
	memset(&a, 0, sizeof(a));
	assert_int_equal(chan_parse_call(&a.msgs), 0);
	assert_true(failalloc_each(&c, &a) > 3);
	for (i = 0; i < 3; i++)
		free(a.want[i]);
}

/* The broker's messages (broker.h): parsed and encoded again. */
static const char *const broker_texts[] = {
    "{\"op\":\"register\",\"v\":1,\"host\":\"nat1.example\","
    "\"role\":\"client\",\"nat\":true,\"heartbeat\":15}",
    "{\"op\":\"refused\",\"v\":1,\"code\":\"NOT_ENROLLED\","
    "\"message\":\"run `eca enroll` on nat1.example\"}",
    "{\"op\":\"connect\",\"v\":1,\"token\":\"0123456789abcdef0123456789abcdef"
    "0123456789abcdef0123456789abcdef\",\"requester\":\"media1.example\","
    "\"address\":\"10.0.0.2:40000\",\"purpose\":\"backup\"}",
    "{\"op\":\"pong\"}",
};
#define NBROKER (sizeof(broker_texts) / sizeof(broker_texts[0]))

struct broker_arg {
	struct eca_broker_msg m[NBROKER];
	struct eca_err err;
	char *want; /* the messages, encoded again */
};

static int
broker_parse_call(void *p)
{
	struct broker_arg *a = p;
	size_t i;
	int r;

	for (i = 0; i < NBROKER; i++)
		if ((r = eca_broker_parse(
			 (const unsigned char *)broker_texts[i],
			 strlen(broker_texts[i]), &a->m[i], &a->err)) != 0)
			return r;
	return 0;
}

static void
broker_parse_done(void *p, int r)
{
	struct broker_arg *a = p;
	unsigned char *f = NULL;
	size_t i, len, off = 0;
	char *s;

	if (refused(r, &a->err, NULL))
		return;
	assert_non_null(s = calloc(1, NBROKER * ECA_FRAME_MAX));
	for (i = 0; i < NBROKER; i++) {
		assert_int_equal(eca_broker_encode(&a->m[i], &f, &len, NULL),
		    0);
		memcpy(s + off, f + 4, len - 4);
		off += len - 4;
		free(f);
	}
	same_text(&a->want, s);
}

static void
test_broker_messages_out_of_memory_is_a_clean_error(void **state)
{
	static const int ok[] = {ECA_ERR_PROTOCOL, 0};
	static const struct failalloc_case c = {
	    .name = "eca_broker_parse",
	    .call = broker_parse_call,
	    .done = broker_parse_done,
	    .ok = ok,
	};
	struct broker_arg a;

	(void)state;
	memset(&a, 0, sizeof(a));
	assert_true(failalloc_each(&c, &a) > 3);
	free(a.want);
}

/*
 * The roster: its delta decoder, applying a delta (all or nothing), and
 * its file.
 */
#define PRIMARY "primary.example"
#define NHOSTS 6

static void
fake_change(struct eca_change *c, unsigned i, enum eca_state state,
    int64_t version)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->host, sizeof(c->host), "host-%u.example", i);
	snprintf(c->host_id, sizeof(c->host_id), "%08x-0000-4000-8000-%012x", i,
	    i);
	c->state = state;
	snprintf(c->fingerprint, sizeof(c->fingerprint), "%064x", i + 1);
	snprintf(c->spki_fingerprint, sizeof(c->spki_fingerprint), "%064x",
	    i + 0x1001);
	c->not_after = 1800000000 + i;
	c->version = version;
}

static void
fake_map(struct eca_dnmap *m, const char *subject, const char *host,
    int removed, int64_t version)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->subject, sizeof(m->subject), "%s", subject);
	snprintf(m->host, sizeof(m->host), "%s", host);
	m->removed = removed;
	m->version = version;
}

/*
 * A roster answer: hosts first..first+n-1 with versions after since, and
 * two DN mappings.
 */
static char *
roster_body(int64_t since, int full, unsigned first, unsigned n)
{
	struct eca_change ch[NHOSTS];
	struct eca_dnmap m[2];
	json_t *j;
	char *s;
	unsigned i;

	assert_true(n <= NHOSTS);
	for (i = 0; i < n; i++)
		fake_change(&ch[i], first + i,
		    i == 2 ? ECA_STATE_BANNED : ECA_STATE_ENROLLED,
		    since + 1 + i);
	fake_map(&m[0], "CN=host-1,O=Example", "host-1.example", 0, since + 1);
	fake_map(&m[1], "CN=old,O=Example", "host-2.example", 1, since + 2);
	j = eca_wire_roster(&(struct eca_wire_roster_page){.primary = PRIMARY,
				.since = since,
				.version = since + n,
				.next = since + n,
				.full = full},
	    ch, n);
	assert_non_null(j);
	assert_int_equal(eca_wire_roster_add_maps(j, m, 2), 0);
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	assert_non_null(s);
	return s;
}

/* Everything a delta says, as text. */
static char *
delta_text(const struct eca_roster_delta *d)
{
	char fp[ECA_FP_HEX_LEN + 1], spki[ECA_FP_HEX_LEN + 1];
	char *s = NULL;
	size_t len = 0, i;
	FILE *f;

	assert_non_null(f = open_memstream(&s, &len));
	fprintf(f, "%s %lld %lld %lld %d %d\n", d->primary, (long long)d->since,
	    (long long)d->version, (long long)d->next, d->full, d->more);
	for (i = 0; i < d->n; i++) {
		eca_roster_fp_to_hex(d->entries[i].fingerprint, fp);
		eca_roster_fp_to_hex(d->entries[i].spki_fingerprint, spki);
		fprintf(f, "%s %s %d %s %s %lld %lld\n", d->entries[i].host,
		    d->entries[i].host_id, (int)d->entries[i].state, fp, spki,
		    (long long)d->entries[i].not_after,
		    (long long)d->entries[i].version);
	}
	for (i = 0; i < d->nmaps; i++)
		fprintf(f, "%s -> %s %d %lld\n", d->maps[i].subject,
		    d->maps[i].host, d->maps[i].removed,
		    (long long)d->maps[i].version);
	assert_int_equal(fclose(f), 0);
	return s;
}

/*
 * Everything a roster answers for the hosts of the tests (and one more),
 * as text.
 */
static char *
roster_text(const struct eca_roster *r)
{
	struct eca_roster_entry e;
	char host[ECA_HOST_MAX], name[64], fp[ECA_FP_HEX_LEN + 1];
	char *s = NULL;
	size_t len = 0;
	unsigned i;
	FILE *f;

	assert_non_null(f = open_memstream(&s, &len));
	fprintf(f, "%s v%lld n%zu maps%zu synced%lld\n", eca_roster_primary(r),
	    (long long)eca_roster_version(r), eca_roster_count(r),
	    eca_roster_map_count(r), (long long)eca_roster_synced_at(r));
	for (i = 0; i <= 2 * NHOSTS; i++) {
		snprintf(name, sizeof(name), "host-%u.example", i);
		if (eca_roster_lookup_host(r, name, &e) != 0) {
			fprintf(f, "%s -\n", name);
			continue;
		}
		eca_roster_fp_to_hex(e.fingerprint, fp);
		fprintf(f, "%s %s %d %s %lld\n", e.host, e.host_id,
		    (int)e.state, fp, (long long)e.version);
		if (eca_roster_lookup_fp(r, e.fingerprint, &e) != 0)
			fprintf(f, "  fingerprint not found\n");
	}
	if (eca_roster_lookup_dn(r, "CN=host-1,O=Example", host,
		sizeof(host)) == 0)
		fprintf(f, "CN=host-1,O=Example -> %s\n", host);
	assert_int_equal(fclose(f), 0);
	return s;
}

struct delta_arg {
	char *body;
	struct eca_roster_delta *d;
	struct eca_err err;
	char *want;
};

static int
delta_call(void *p)
{
	struct delta_arg *a = p;

	return eca_roster_delta_parse(a->body, strlen(a->body), &a->d, &a->err);
}

static void
delta_done(void *p, int r)
{
	struct delta_arg *a = p;

	if (refused(r, &a->err, a->d))
		return;
	same_text(&a->want, delta_text(a->d));
	eca_roster_delta_free(a->d);
	a->d = NULL;
}

static void
test_roster_delta_decoder_out_of_memory_is_a_clean_error(void **state)
{
	/* jansson's "out of memory" is an answer it cannot read. */
	static const int ok[] = {ECA_ERR_PROTOCOL, 0};
	static const struct failalloc_case c = {
	    .name = "eca_roster_delta_parse",
	    .call = delta_call,
	    .done = delta_done,
	    .ok = ok,
	};
	struct delta_arg a;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.body = roster_body(0, 1, 0, NHOSTS);
	assert_true(failalloc_each(&c, &a) > 10);
	free(a.body);
	free(a.want);
}

struct apply_arg {
	struct eca_roster_delta *first, *next;
	struct eca_roster *r;
	struct eca_err err;
	char *before; /* the roster before the delta */
	char *want;   /* and after it */
};

/* A roster holding the first answer; the delta follows it. */
static void
apply_prepare(void *p)
{
	struct apply_arg *a = p;
	struct eca_err err;

	assert_int_equal(eca_roster_new(PRIMARY, &a->r, &err), 0);
	assert_int_equal(eca_roster_apply(a->r, a->first, 100, &err), 0);
}

static int
apply_call(void *p)
{
	struct apply_arg *a = p;

	return eca_roster_apply(a->r, a->next, 200, &a->err);
}

static void
apply_done(void *p, int r)
{
	struct apply_arg *a = p;
	char *now;

	now = roster_text(a->r);
	eca_roster_free(a->r);
	a->r = NULL;
	if (r != 0) {
		assert_refusal(r, &a->err);
		/* All or nothing: the roster is as it was. */
		if (a->before == NULL)
			a->before = now;
		else {
			assert_same_str(now, a->before);
			free(now);
		}
		return;
	}
	same_text(&a->want, now);
}

static void
test_roster_apply_out_of_memory_leaves_the_roster_unchanged(void **state)
{
	static const struct failalloc_case c = {
	    .name = "eca_roster_apply",
	    .call = apply_call,
	    .done = apply_done,
	    .prepare = apply_prepare,
	};
	struct apply_arg a;
	struct eca_err err;
	char *body;

	(void)state;
	memset(&a, 0, sizeof(a));
	body = roster_body(0, 1, 0, 3);
	assert_int_equal(
	    eca_roster_delta_parse(body, strlen(body), &a.first, &err), 0);
	free(body);
	/* Hosts 2 to 7: two changed, four new, which grows the indexes. */
	body = roster_body(3, 0, 2, NHOSTS);
	assert_int_equal(
	    eca_roster_delta_parse(body, strlen(body), &a.next, &err), 0);
	free(body);
	/* What the roster is before: the first answer applied. */
	apply_prepare(&a);
	a.before = roster_text(a.r);
	eca_roster_free(a.r);
	a.r = NULL;
	assert_true(failalloc_each(&c, &a) > 1);
	assert_non_null(strstr(a.want, "host-7.example 00000007"));
	eca_roster_delta_free(a.first);
	eca_roster_delta_free(a.next);
	free(a.before);
	free(a.want);
}

/* A temporary directory for the tests that write files. */
static char tmpdir[] = "/tmp/eca-test-failalloc.XXXXXX";

static const char *
tmp_path(const char *name)
{
	static char buf[4][512];
	static unsigned k;
	char *p = buf[k++ % 4];

	snprintf(p, sizeof(buf[0]), "%s/%s", tmpdir, name);
	return p;
}

/* The whole file, or NULL if there is none. */
static char *
file_text(const char *path)
{
	char *s = NULL;
	size_t len = 0;
	FILE *in, *out;
	int ch;

	if ((in = fopen(path, "r")) == NULL)
		return NULL;
	assert_non_null(out = open_memstream(&s, &len));
	while ((ch = fgetc(in)) != EOF)
		fputc(ch, out);
	fclose(in);
	assert_int_equal(fclose(out), 0);
	return s;
}

/* Nothing in the directory but the names given (NULL-terminated). */
static void
assert_dir_holds_only(const char *const *names)
{
	struct dirent *de;
	DIR *d;
	size_t i;

	assert_non_null(d = opendir(tmpdir));
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		for (i = 0; names[i] != NULL; i++)
			if (strcmp(de->d_name, names[i]) == 0)
				break;
		if (names[i] == NULL)
			fail_msg("%s: %s left in the directory",
			    failalloc_where(), de->d_name);
	}
	closedir(d);
}

/* Remove the files in dir. */
static int
empty_dir(const char *dir)
{
	char path[1024];
	struct dirent *de;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0) {
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
		}
	closedir(d);
	return 0;
}

struct load_arg {
	const char *path;
	struct eca_roster *r;
	struct eca_err err;
	char *want;
};

static int
load_call(void *p)
{
	struct load_arg *a = p;

	return eca_roster_load(a->path, PRIMARY, &a->r, &a->err);
}

static void
load_done(void *p, int r)
{
	struct load_arg *a = p;

	if (refused(r, &a->err, a->r))
		return;
	same_text(&a->want, roster_text(a->r));
	eca_roster_free(a->r);
	a->r = NULL;
}

static void
test_roster_file_loader_out_of_memory_is_a_clean_error(void **state)
{
	/* OpenSSL cannot set up the checksum: it does not say why. */
	static const int ok[] = {ECA_ERR_INTERNAL, 0};
	static const struct failalloc_case c = {
	    .name = "eca_roster_load",
	    .ok = ok,
	    .call = load_call,
	    .done = load_done,
	};
	struct eca_roster_delta *d = NULL;
	struct eca_roster *r = NULL;
	struct load_arg a;
	struct eca_err err;
	char *body, *saved;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.path = tmp_path("roster.bin");
	body = roster_body(0, 1, 0, NHOSTS);
	assert_int_equal(eca_roster_delta_parse(body, strlen(body), &d, &err),
	    0);
	assert_int_equal(eca_roster_new(PRIMARY, &r, &err), 0);
	assert_int_equal(eca_roster_apply(r, d, 100, &err), 0);
	assert_int_equal(eca_roster_save(r, a.path, &err), 0);
	saved = roster_text(r);
	assert_true(failalloc_each(&c, &a) > 1);
	assert_string_equal(a.want, saved);
	unlink(a.path);
	free(saved);
	free(a.want);
	free(body);
	eca_roster_free(r);
	eca_roster_delta_free(d);
}

struct save_arg {
	struct eca_roster *r, *old;
	const char *path;
	struct eca_err err;
	char *old_file;
	char *want;
};

/* The file holds the old roster before each save. */
static void
save_prepare(void *p)
{
	struct save_arg *a = p;
	struct eca_err err;

	assert_int_equal(eca_roster_save(a->old, a->path, &err), 0);
}

static int
save_call(void *p)
{
	struct save_arg *a = p;

	return eca_roster_save(a->r, a->path, &a->err);
}

static void
save_done(void *p, int r)
{
	static const char *const only[] = {"roster.bin", NULL};
	struct save_arg *a = p;
	char *now;

	assert_dir_holds_only(only);
	assert_non_null(now = file_text(a->path));
	if (r != 0) {
		assert_refusal(r, &a->err);
		/* The old file, whole. */
		assert_same_str(now, a->old_file);
		free(now);
		return;
	}
	same_text(&a->want, now);
}

static void
test_roster_save_out_of_memory_keeps_the_old_file(void **state)
{
	static const int ok[] = {ECA_ERR_INTERNAL, 0};
	static const struct failalloc_case c = {
	    .name = "eca_roster_save",
	    .ok = ok,
	    .call = save_call,
	    .done = save_done,
	    .prepare = save_prepare,
	};
	struct eca_roster_delta *d = NULL, *d2 = NULL;
	struct save_arg a;
	struct eca_err err;
	char *body;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.path = tmp_path("roster.bin");
	body = roster_body(0, 1, 0, 2);
	assert_int_equal(eca_roster_delta_parse(body, strlen(body), &d, &err),
	    0);
	free(body);
	body = roster_body(0, 1, 0, NHOSTS);
	assert_int_equal(eca_roster_delta_parse(body, strlen(body), &d2, &err),
	    0);
	free(body);
	assert_int_equal(eca_roster_new(PRIMARY, &a.old, &err), 0);
	assert_int_equal(eca_roster_apply(a.old, d, 100, &err), 0);
	assert_int_equal(eca_roster_new(PRIMARY, &a.r, &err), 0);
	assert_int_equal(eca_roster_apply(a.r, d2, 100, &err), 0);
	save_prepare(&a);
	assert_non_null(a.old_file = file_text(a.path));
	(void)failalloc_each(&c, &a);
	unlink(a.path);
	free(a.old_file);
	free(a.want);
	eca_roster_free(a.r);
	eca_roster_free(a.old);
	eca_roster_delta_free(d);
	eca_roster_delta_free(d2);
}

/* The audit journal: reading it back, verifying it, appending to it. */
static void
fill_entry(struct eca_audit_entry *e, unsigned i)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->time, sizeof(e->time), "2026-12-02T16:44:%02uZ", i % 60);
	snprintf(e->event, sizeof(e->event), "%s",
	    i % 3 == 2 ? "refused" : "enrolled");
	snprintf(e->host, sizeof(e->host), "h%u.example", i);
	snprintf(e->actor, sizeof(e->actor), "h%u.example", i);
	snprintf(e->fingerprint, sizeof(e->fingerprint), "%064x", 0xab + i);
	snprintf(e->spki_fingerprint, sizeof(e->spki_fingerprint), "%064x",
	    0xcd + i);
	snprintf(e->source, sizeof(e->source), "192.0.2.7:%u", 40000 + i);
	if (i % 3 == 2)
		snprintf(e->reason, sizeof(e->reason), "UNTRUSTED");
	if (i % 4 == 3)
		snprintf(e->subject, sizeof(e->subject), "CN=h%u,O=Example", i);
}

/* A journal of n entries at path. */
static void
make_journal(const char *path, unsigned n)
{
	struct eca_audit_entry e[8];
	struct eca_audit *a = NULL;
	struct eca_err err;
	unsigned i;

	assert_true(n <= 8);
	unlink(path);
	for (i = 0; i < n; i++)
		fill_entry(&e[i], i + 1);
	assert_int_equal(eca_audit_open(path, &a, &err), 0);
	assert_int_equal(eca_audit_append(a, e, n, &err), 0);
	eca_audit_close(a);
}

struct verify_arg {
	const char *path;
	struct eca_audit_report rep;
	struct eca_err err;
	char *want;
};

static int
verify_call(void *p)
{
	struct verify_arg *a = p;

	return eca_audit_verify(a->path, &a->rep, &a->err);
}

static void
verify_done(void *p, int r)
{
	struct verify_arg *a = p;
	char *s;

	if (refused(r, &a->err, NULL))
		return;
	/*
	 * jansson reports some failed allocations as a syntax error, which
	 * the journal cannot tell from a damaged line: excused, that one.
	 */
	if (!a->rep.intact && failalloc_jansson_failed() &&
	    strncmp(a->rep.problem, "garbage: not a journal entry (", 30) == 0)
		return;
	assert_true(asprintf(&s,
			"%zu entries, intact %d, first bad line "
			"%zu: %s",
			a->rep.entries, a->rep.intact, a->rep.first_bad_line,
			a->rep.problem) > 0);
	same_text(&a->want, s);
}

static void
test_audit_verify_out_of_memory_is_an_error_not_a_verdict(void **state)
{
	/* OpenSSL cannot hash a line: it does not say why. */
	static const int ok[] = {ECA_ERR_INTERNAL, 0};
	static const struct failalloc_case c = {
	    .name = "eca_audit_verify",
	    .ok = ok,
	    .call = verify_call,
	    .done = verify_done,
	};
	struct verify_arg a;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.path = tmp_path("audit.jsonl");
	make_journal(a.path, 5);
	assert_true(failalloc_each(&c, &a) > 5);
	assert_non_null(strstr(a.want, "5 entries, intact 1"));
	unlink(a.path);
	free(a.want);
}

struct read_arg {
	const char *path;
	const char *host;
	struct eca_audit_entry *v;
	size_t n;
	struct eca_err err;
	char *want;
};

static int
read_call(void *p)
{
	struct read_arg *a = p;

	return eca_audit_read(a->path, a->host, &a->v, &a->n, &a->err);
}

static void
read_done(void *p, int r)
{
	struct read_arg *a = p;
	json_t *arr;
	size_t i;

	if (r != 0) {
		assert_refusal(r, &a->err);
		assert_null(a->v);
		assert_int_equal(a->n, 0);
		return;
	}
	assert_non_null(arr = json_array());
	for (i = 0; i < a->n; i++)
		assert_int_equal(
		    json_array_append_new(arr, eca_audit_entry_json(&a->v[i])),
		    0);
	same_text(&a->want, json_text(arr));
	free(a->v);
	a->v = NULL;
	a->n = 0;
}

static void
test_audit_read_out_of_memory_is_a_clean_error(void **state)
{
	/*
	 * jansson reports some failed allocations as a syntax error: a line
	 * that is not an entry; OpenSSL cannot hash a line: INTERNAL.
	 */
	static const int ok[] = {ECA_ERR_PARSE, ECA_ERR_INTERNAL, 0};
	static const struct failalloc_case c = {
	    .name = "eca_audit_read",
	    .call = read_call,
	    .done = read_done,
	    .ok = ok,
	};
	struct read_arg a;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.path = tmp_path("audit.jsonl");
	make_journal(a.path, 5);
	assert_true(failalloc_each(&c, &a) > 5);
	assert_non_null(strstr(a.want, "h5.example"));
	free(a.want);
	a.want = NULL;
	a.host = "H2.example";
	assert_true(failalloc_each(&c, &a) > 5);
	assert_null(strstr(a.want, "h5.example"));
	unlink(a.path);
	free(a.want);
}

struct append_arg {
	const char *path;
	char *old_file;
	struct eca_audit_entry e[2];
	struct eca_err err;
	char *want;
};

static void
append_prepare(void *p)
{
	struct append_arg *a = p;

	make_journal(a->path, 3);
	fill_entry(&a->e[0], 4);
	fill_entry(&a->e[1], 5);
}

static int
append_call(void *p)
{
	struct append_arg *a = p;
	struct eca_audit *au = NULL;
	int r;

	if ((r = eca_audit_open(a->path, &au, &a->err)) != 0)
		return r;
	r = eca_audit_append(au, a->e, 2, &a->err);
	eca_audit_close(au);
	return r;
}

static void
append_done(void *p, int r)
{
	static const char *const only[] = {"audit.jsonl", NULL};
	struct append_arg *a = p;
	char *now;

	assert_dir_holds_only(only);
	assert_non_null(now = file_text(a->path));
	if (r != 0) {
		assert_refusal(r, &a->err);
		/* Nothing appended, and the chain can continue. */
		assert_same_str(now, a->old_file);
		free(now);
		return;
	}
	same_text(&a->want, now);
}

static void
test_audit_append_out_of_memory_appends_nothing(void **state)
{
	/* Opening reads the last line back: as for eca_audit_read. */
	static const int ok[] = {ECA_ERR_PARSE, ECA_ERR_INTERNAL, 0};
	static const struct failalloc_case c = {
	    .name = "eca_audit_open+append",
	    .call = append_call,
	    .done = append_done,
	    .ok = ok,
	    .prepare = append_prepare,
	};
	struct append_arg a;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.path = tmp_path("audit.jsonl");
	append_prepare(&a);
	assert_non_null(a.old_file = file_text(a.path));
	assert_true(failalloc_each(&c, &a) > 5);
	assert_non_null(strstr(a.want, "\"seq\":5"));
	unlink(a.path);
	free(a.old_file);
	free(a.want);
}

/*
 * Certificates, keys and CRLs from memory (x509.h, crl.h).  Every x509.h
 * function leaves OpenSSL's error queue empty, failing or not.
 */
static struct testca *ca;
static X509 *leaf_cert;
static EVP_PKEY *leaf_key;

static void
make_certs(void)
{
	struct testca_leaf_opts o;

	if (ca != NULL)
		return;
	memset(&o, 0, sizeof(o));
	o.keytype = TESTCA_EC_P256;
	o.cn = "host1.example";
	o.san = "host1.example,alias1.example";
	ca = testca_new("failalloc");
	testca_leaf(ca, &o, &leaf_cert, &leaf_key);
}

/* What a BIO holds, as a malloc'd buffer. */
static unsigned char *
bio_bytes(BIO *b, size_t *len)
{
	unsigned char *out;
	char *data;
	long n;

	assert_true((n = BIO_get_mem_data(b, &data)) > 0);
	assert_non_null(out = malloc((size_t)n));
	memcpy(out, data, (size_t)n);
	*len = (size_t)n;
	BIO_free(b);
	return out;
}

enum chain_form { CHAIN_PEM, CHAIN_DER, CHAIN_P7 };

/* The leaf (and in PEM and PKCS#7 the intermediate) as a file holds it. */
static unsigned char *
chain_bytes(enum chain_form form, size_t *len)
{
	PKCS7 *p7;
	BIO *b;

	assert_non_null(b = BIO_new(BIO_s_mem()));
	switch (form) {
	case CHAIN_PEM:
		assert_int_equal(PEM_write_bio_X509(b, leaf_cert), 1);
		assert_int_equal(PEM_write_bio_X509(b, ca->inter), 1);
		break;
	case CHAIN_DER:
		assert_int_equal(i2d_X509_bio(b, leaf_cert), 1);
		break;
	case CHAIN_P7:
		assert_non_null(p7 = PKCS7_new());
		assert_int_equal(PKCS7_set_type(p7, NID_pkcs7_signed), 1);
		assert_int_equal(PKCS7_content_new(p7, NID_pkcs7_data), 1);
		assert_int_equal(PKCS7_add_certificate(p7, leaf_cert), 1);
		assert_int_equal(PKCS7_add_certificate(p7, ca->inter), 1);
		assert_int_equal(i2d_PKCS7_bio(b, p7), 1);
		PKCS7_free(p7);
		break;
	}
	return bio_bytes(b, len);
}

struct chain_arg {
	unsigned char *buf;
	size_t len;
	size_t want_chain; /* intermediates expected */
	X509 *leaf;
	STACK_OF(X509) *chain;
	struct eca_err err;
};

static int
chain_call(void *p)
{
	struct chain_arg *a = p;

	return eca_x509_parse_chain(NULL, a->buf, a->len, &a->leaf, &a->chain,
	    &a->err);
}

static void
chain_done(void *p, int r)
{
	struct chain_arg *a = p;

	assert_no_openssl_error();
	if (r != 0) {
		assert_refusal(r, &a->err);
		assert_null(a->leaf);
		assert_null(a->chain);
		return;
	}
	assert_non_null(a->leaf);
	if (X509_cmp(a->leaf, leaf_cert) != 0)
		fail_msg("%s: another leaf", failalloc_where());
	assert_same_int(sk_X509_num(a->chain), a->want_chain);
	if (a->want_chain > 0 &&
	    X509_cmp(sk_X509_value(a->chain, 0), ca->inter) != 0)
		fail_msg("%s: another intermediate", failalloc_where());
	X509_free(a->leaf);
	sk_X509_pop_free(a->chain, X509_free);
	a->leaf = NULL;
	a->chain = NULL;
}

static void
test_certificate_parser_out_of_memory_is_a_clean_error(void **state)
{
	/* OpenSSL does not tell a full heap from an encoding it refuses. */
	static const int ok[] = {ECA_ERR_PARSE, 0};
	static const struct failalloc_case c = {
	    .name = "eca_x509_parse_chain",
	    .by_site = 1,
	    .call = chain_call,
	    .done = chain_done,
	    .ok = ok,
	};
	static const enum chain_form forms[] = {CHAIN_PEM, CHAIN_DER, CHAIN_P7};
	struct chain_arg a;
	size_t i;

	(void)state;
	make_certs();
	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		memset(&a, 0, sizeof(a));
		a.buf = chain_bytes(forms[i], &a.len);
		a.want_chain = forms[i] == CHAIN_DER ? 0 : 1;
		assert_true(failalloc_each(&c, &a) > 1);
		free(a.buf);
	}
}

struct key_arg {
	unsigned char *buf;
	size_t len;
	const char *pass;
	EVP_PKEY *key;
	struct eca_err err;
};

static int
key_call(void *p)
{
	struct key_arg *a = p;

	return eca_x509_parse_key(NULL, a->buf, a->len, a->pass, &a->key,
	    &a->err);
}

static void
key_done(void *p, int r)
{
	struct key_arg *a = p;

	assert_no_openssl_error();
	if (refused(r, &a->err, a->key))
		return;
	if (EVP_PKEY_eq(a->key, leaf_key) != 1)
		fail_msg("%s: another key", failalloc_where());
	EVP_PKEY_free(a->key);
	a->key = NULL;
}

static void
test_key_parser_out_of_memory_is_a_clean_error(void **state)
{
	/*
	 * OpenSSL does not tell a full heap from an encoding it refuses,
	 * from a wrong passphrase, or (INTERNAL) from a decoder it lacks.
	 */
	static const int ok[] = {ECA_ERR_PARSE, ECA_ERR_PASSPHRASE,
	    ECA_ERR_INTERNAL, 0};
	static const struct failalloc_case c = {
	    .name = "eca_x509_parse_key",
	    .by_site = 1,
	    .call = key_call,
	    .done = key_done,
	    .ok = ok,
	};
	struct key_arg a;
	BIO *b;

	(void)state;
	make_certs();
	memset(&a, 0, sizeof(a));
	assert_non_null(b = BIO_new(BIO_s_mem()));
	assert_int_equal(
	    PEM_write_bio_PrivateKey(b, leaf_key, NULL, NULL, 0, NULL, NULL),
	    1);
	a.buf = bio_bytes(b, &a.len);
	assert_true(failalloc_each(&c, &a) > 1);
	free(a.buf);
	assert_non_null(b = BIO_new(BIO_s_mem()));
	assert_int_equal(i2d_PrivateKey_bio(b, leaf_key), 1);
	a.buf = bio_bytes(b, &a.len);
	assert_true(failalloc_each(&c, &a) > 1);
	free(a.buf);
}

struct info_arg {
	struct eca_certinfo info;
	struct eca_err err;
	char *want;
};

static int
info_call(void *p)
{
	struct info_arg *a = p;

	memset(&a->info, 0, sizeof(a->info));
	return eca_x509_info(leaf_cert, &a->info, &a->err);
}

static void
info_done(void *p, int r)
{
	struct info_arg *a = p;

	assert_no_openssl_error();
	if (refused(r, &a->err, NULL))
		return;
	same_text(&a->want, json_text(eca_wire_certinfo(&a->info)));
	eca_certinfo_clear(&a->info);
}

static void fake_cert(struct eca_certinfo *ci, unsigned n);

/*
 * A list of dNSNames too long to be kept inline (certinfo.h): copied and
 * decoded whole, or ECA_ERR_NOMEM with no text held.
 */
struct san_arg {
	struct eca_certinfo src, copy, dec;
	json_t *j;
	struct eca_err err;
};

static int
san_call(void *p)
{
	struct san_arg *a = p;
	int r;

	memset(&a->copy, 0, sizeof(a->copy));
	memset(&a->dec, 0, sizeof(a->dec));
	eca_err_clear(&a->err);
	if ((r = eca_certinfo_copy(&a->copy, &a->src, &a->err)) != 0)
		return r;
	return eca_wire_parse_certinfo(a->j, &a->dec, &a->err);
}

static void
san_done(void *p, int r)
{
	struct san_arg *a = p;

	if (r != 0) {
		assert_refusal(r, &a->err);
		assert_string_equal(eca_certinfo_san(&a->dec), "");
	} else {
		assert_string_equal(eca_certinfo_san(&a->copy),
		    eca_certinfo_san(&a->src));
		assert_string_equal(eca_certinfo_san(&a->dec),
		    eca_certinfo_san(&a->src));
	}
	eca_certinfo_clear(&a->copy);
	eca_certinfo_clear(&a->dec);
}

static void
test_long_san_list_out_of_memory_is_a_clean_error(void **state)
{
	static const struct failalloc_case c = {
	    .name = "eca_certinfo_copy, eca_wire_parse_certinfo (long SAN)",
	    .call = san_call,
	    .done = san_done,
	};
	static struct san_arg a;
	char names[4000];
	size_t off = 0;
	int i;

	(void)state;
	for (i = 0; i < 100; i++)
		off += (size_t)snprintf(names + off, sizeof(names) - off,
		    "%shost-%03d.lb.example", i > 0 ? "," : "", i);
	fake_cert(&a.src, 1);
	assert_int_equal(eca_certinfo_set_san(&a.src, names, off, NULL), 0);
	assert_non_null(a.src.san_heap);
	assert_non_null(a.j = eca_wire_certinfo(&a.src));
	assert_true(failalloc_each(&c, &a) >= 2);
	json_decref(a.j);
	eca_certinfo_clear(&a.src);
}

static void
test_certificate_info_out_of_memory_is_a_clean_error(void **state)
{
	/* A name OpenSSL cannot print is a certificate it cannot show. */
	static const int ok[] = {ECA_ERR_BAD_CERTIFICATE, ECA_ERR_INTERNAL, 0};
	static const struct failalloc_case c = {
	    .name = "eca_x509_info",
	    .call = info_call,
	    .done = info_done,
	    .ok = ok,
	};
	struct info_arg a;

	(void)state;
	make_certs();
	memset(&a, 0, sizeof(a));
	assert_true(failalloc_each(&c, &a) > 1);
	assert_non_null(strstr(a.want, "alias1.example"));
	free(a.want);
}

struct crl_arg {
	unsigned char *buf;
	size_t len;
	X509_STORE *trust;
	STACK_OF(X509) *untrusted;
	struct eca_crl_cache *cache;
	int stored;
	struct eca_err err;
	char *want;
};

static void
crl_prepare(void *p)
{
	struct crl_arg *a = p;
	struct eca_crl_opts o;
	struct eca_err err;

	memset(&o, 0, sizeof(o));
	o.dir = tmp_path("crl");
	o.path_sync_hours = 1;
	o.refresh_hours = 24;
	o.grace_hours = 24;
	o.no_fetch = 1;
	assert_int_equal(eca_crl_cache_new(NULL, &o, &a->cache, &err), 0);
}

static int
crl_call(void *p)
{
	struct crl_arg *a = p;

	a->stored = -1;
	return eca_crl_cache_add(a->cache, a->trust, a->untrusted, a->buf,
	    a->len, &a->stored, &a->err);
}

/* The cache's list, and the names in its directory. */
static char *
crl_text(struct crl_arg *a)
{
	struct eca_crl_info *v = NULL;
	struct eca_err err;
	struct dirent *de;
	char *s = NULL;
	size_t len = 0, n, i;
	FILE *f;
	DIR *d;

	assert_int_equal(eca_crl_cache_list(a->cache, 0, &v, &n, &err), 0);
	assert_non_null(f = open_memstream(&s, &len));
	for (i = 0; i < n; i++)
		fprintf(f, "%s %s %s %ld %d\n", v[i].issuer, v[i].hash,
		    v[i].number, v[i].entries, (int)v[i].state);
	free(v);
	assert_non_null(d = opendir(tmp_path("crl")));
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			fprintf(f, "file %s\n", de->d_name);
	closedir(d);
	assert_int_equal(fclose(f), 0);
	return s;
}

static void
crl_done(void *p, int r)
{
	struct crl_arg *a = p;
	char *now;

	assert_no_openssl_error();
	now = crl_text(a);
	eca_crl_cache_free(a->cache);
	a->cache = NULL;
	empty_dir(tmp_path("crl"));
	if (r != 0) {
		assert_refusal(r, &a->err);
		assert_true(a->stored != 1);
		/* Nothing stored, in memory or on disk. */
		assert_same_str(now, "");
		free(now);
		return;
	}
	assert_same_int(a->stored, 1);
	same_text(&a->want, now);
}

static void
test_crl_cache_add_out_of_memory_stores_nothing(void **state)
{
	/*
	 * OpenSSL does not tell a full heap from an encoding it refuses or
	 * a signature that does not verify.
	 */
	static const int ok[] = {ECA_ERR_PARSE, ECA_ERR_UNTRUSTED,
	    ECA_ERR_INTERNAL, 0};
	static const struct failalloc_case c = {
	    .name = "eca_crl_cache_add",
	    .call = crl_call,
	    .done = crl_done,
	    .ok = ok,
	    .prepare = crl_prepare,
	};
	X509 *revoked[1];
	X509_CRL *crl;
	struct crl_arg a;

	(void)state;
	make_certs();
	memset(&a, 0, sizeof(a));
	assert_non_null(a.trust = X509_STORE_new());
	assert_int_equal(X509_STORE_add_cert(a.trust, ca->root), 1);
	assert_non_null(a.untrusted = sk_X509_new_null());
	assert_int_equal(X509_up_ref(ca->inter), 1);
	assert_true(sk_X509_push(a.untrusted, ca->inter) > 0);
	revoked[0] = leaf_cert;
	crl = testca_crl(ca->inter, ca->int_key, revoked, 1, -3600, 86400, 7);
	a.buf = testca_crl_bytes(crl, 1, &a.len);
	X509_CRL_free(crl);
	assert_true(failalloc_each(&c, &a) > 1);
	assert_non_null(strstr(a.want, ".crl"));
	free(a.want);
	free(a.buf);
	X509_STORE_free(a.trust);
	sk_X509_pop_free(a.untrusted, X509_free);
	rmdir(tmp_path("crl"));
}

/*
 * The SQLite store: opening (creating and migrating) a registry, a write
 * transaction, and the reads.  SQLite's SQLITE_NOMEM is the store's
 * ECA_ERR_DB; the database survives: after a failure, it opens and holds
 * what was committed before.
 */
static const int store_ok[] = {ECA_ERR_DB, 0};

static const char *
store_uri(void)
{
	static char uri[600];

	snprintf(uri, sizeof(uri), "sqlite:%s", tmp_path("registry.db"));
	return uri;
}

static void
remove_store(void)
{
	static const char *const names[] = {"registry.db", "registry.db-wal",
	    "registry.db-shm", "registry.db-journal"};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlink(tmp_path(names[i]));
}

static void
fake_cert(struct eca_certinfo *ci, unsigned n)
{
	memset(ci, 0, sizeof(*ci));
	snprintf(ci->fingerprint, sizeof(ci->fingerprint), "%064x", n);
	snprintf(ci->spki_fingerprint, sizeof(ci->spki_fingerprint), "%064x",
	    n + 0x10000u);
	snprintf(ci->subject, sizeof(ci->subject), "CN=h%u,O=Example", n);
	snprintf(ci->issuer, sizeof(ci->issuer), "CN=Issuing CA,O=Example");
	snprintf(ci->serial, sizeof(ci->serial), "%08X", n);
	ci->not_before = 1700000000 + n;
	ci->not_after = 1800000000 + n;
	snprintf(ci->key_desc, sizeof(ci->key_desc), "EC P-256");
	snprintf(ci->sig_alg, sizeof(ci->sig_alg), "ecdsa-with-SHA256");
	snprintf(ci->cn, sizeof(ci->cn), "h%u.example", n);
	snprintf(ci->san_inline, sizeof(ci->san_inline),
	    "h%u.example,alt%u.example", n, n);
}

static void
fake_record(struct eca_enrollment *r, unsigned n)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->primary, sizeof(r->primary), PRIMARY);
	snprintf(r->host, sizeof(r->host), "h%u.example", n);
	snprintf(r->host_id, sizeof(r->host_id),
	    "00000000-0000-4000-8000-%012x", n);
	r->role = ECA_ROLE_MEDIA;
	r->state = ECA_STATE_CONFLICT;
	r->method = ECA_METHOD_MANUAL;
	fake_cert(&r->cert, n);
	r->has_candidate = 1;
	fake_cert(&r->candidate, n + 100);
	r->candidate_at = 1750000050 + n;
	snprintf(r->candidate_source, sizeof(r->candidate_source),
	    "198.51.100.1:%u", 40000 + n);
	r->enrolled_at = 1750000000 + n;
	r->updated_at = 1750000100 + n;
	r->last_seen = 1750000200 + n;
	snprintf(r->source, sizeof(r->source), "203.0.113.9:%u", 50000 + n);
}

static void
fake_history(struct eca_history_entry *h, const struct eca_enrollment *r,
    const char *event)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->primary, sizeof(h->primary), "%s", r->primary);
	snprintf(h->host, sizeof(h->host), "%s", r->host);
	snprintf(h->host_id, sizeof(h->host_id), "%s", r->host_id);
	snprintf(h->event, sizeof(h->event), "%s", event);
	h->state = r->state;
	snprintf(h->fingerprint, sizeof(h->fingerprint), "%s",
	    r->cert.fingerprint);
	snprintf(h->spki_fingerprint, sizeof(h->spki_fingerprint), "%s",
	    r->cert.spki_fingerprint);
	snprintf(h->actor, sizeof(h->actor), "%s", r->host);
	snprintf(h->source, sizeof(h->source), "%s", r->source);
	h->at = r->updated_at;
}

/* One enrollment as the API writes it: record, candidate, history. */
static int
store_write(struct eca_store *st, unsigned n, struct eca_err *err)
{
	struct eca_enrollment rec;
	struct eca_history_entry h;
	struct eca_candidate cand;
	int r;

	fake_record(&rec, n);
	fake_history(&h, &rec, "CONFLICT");
	memset(&cand, 0, sizeof(cand));
	cand.cert = rec.candidate;
	cand.at = rec.candidate_at;
	cand.last_seen = rec.candidate_at;
	snprintf(cand.source, sizeof(cand.source), "%s", rec.candidate_source);
	if ((r = eca_store_begin(st, err)) != 0)
		return r;
	if ((r = eca_store_next_version(st, &rec.version, err)) != 0 ||
	    (r = eca_store_put(st, &rec, err)) != 0 ||
	    (r = eca_store_candidate_put(st, PRIMARY, rec.host, &cand, err)) !=
		0 ||
	    (r = eca_store_add_history(st, &h, err)) != 0 ||
	    (r = eca_store_commit(st, err)) != 0) {
		eca_store_rollback(st);
		return r;
	}
	return 0;
}

/* Everything the store answers about hosts 1 to 3, as text. */
static char *
store_text(struct eca_store *st)
{
	struct eca_enrollment rec, *list = NULL;
	struct eca_history_entry *hist = NULL;
	struct eca_candidate *cands = NULL;
	struct eca_change *ch = NULL;
	struct eca_err err;
	char host[32], *s = NULL, *t;
	size_t len = 0, n, i;
	unsigned k;
	int64_t v;
	FILE *f;

	assert_non_null(f = open_memstream(&s, &len));
	assert_int_equal(eca_store_version(st, &v, &err), 0);
	fprintf(f, "version %lld\n", (long long)v);
	for (k = 1; k <= 3; k++) {
		snprintf(host, sizeof(host), "h%u.example", k);
		if (eca_store_get(st, PRIMARY, host, &rec, &err) != 0) {
			fprintf(f, "%s: %s\n", host, err.msg);
			continue;
		}
		t = json_text(eca_wire_enrollment(&rec));
		fprintf(f, "%s\n", t);
		free(t);
		assert_int_equal(
		    eca_store_history(st, PRIMARY, host, 10, &hist, &n, &err),
		    0);
		for (i = 0; i < n; i++) {
			t = json_text(eca_wire_history_entry(&hist[i]));
			fprintf(f, "  %s\n", t);
			free(t);
		}
		free(hist);
		assert_int_equal(
		    eca_store_candidates(st, PRIMARY, host, &cands, &n, &err),
		    0);
		for (i = 0; i < n; i++) {
			t = json_text(eca_wire_candidate(&cands[i]));
			fprintf(f, "  %s\n", t);
			free(t);
		}
		free(cands);
	}
	assert_int_equal(
	    eca_store_list(st, PRIMARY, -1, NULL, 10, &list, &n, &err), 0);
	for (i = 0; i < n; i++)
		fprintf(f, "list %s\n", list[i].host);
	free(list);
	assert_int_equal(eca_store_changes(st, PRIMARY, 0, 10, &ch, &n, &err),
	    0);
	for (i = 0; i < n; i++)
		fprintf(f, "change %s %lld\n", ch[i].host,
		    (long long)ch[i].version);
	free(ch);
	assert_int_equal(fclose(f), 0);
	return s;
}

struct store_arg {
	struct eca_store *st;
	struct eca_err err;
	char *before; /* the registry before the call */
	char *want;   /* and after a successful one */
};

static void
open_prepare(void *p)
{
	(void)p;
	remove_store();
}

static int
open_call(void *p)
{
	struct store_arg *a = p;

	return eca_store_open(store_uri(), 0, &a->st, &a->err);
}

/*
 * The registry's schema as SQLite holds it: user_version and every
 * object's SQL, read with SQLite itself (not the store); "" when there is
 * no file.
 */
static char *
schema_text(void)
{
	sqlite3_stmt *stmt = NULL;
	sqlite3 *db = NULL;
	char *s = NULL;
	size_t len = 0;
	FILE *f;

	assert_non_null(f = open_memstream(&s, &len));
	if (access(tmp_path("registry.db"), F_OK) == 0) {
		assert_int_equal(sqlite3_open_v2(tmp_path("registry.db"), &db,
				     SQLITE_OPEN_READONLY, NULL),
		    SQLITE_OK);
		assert_int_equal(
		    sqlite3_prepare_v2(db,
			"SELECT "
			"(SELECT user_version FROM pragma_user_version), "
			"(SELECT group_concat(integrity_check) FROM "
			"pragma_integrity_check), name, sql FROM sqlite_master "
			"UNION ALL SELECT (SELECT user_version FROM "
			"pragma_user_version), NULL, NULL, NULL ORDER BY 3",
			-1, &stmt, NULL),
		    SQLITE_OK);
		while (sqlite3_step(stmt) == SQLITE_ROW)
			fprintf(f, "%d %s %s %s\n", sqlite3_column_int(stmt, 0),
			    (const char *)sqlite3_column_text(stmt, 1),
			    (const char *)sqlite3_column_text(stmt, 2),
			    (const char *)sqlite3_column_text(stmt, 3));
		sqlite3_finalize(stmt);
		sqlite3_close(db);
	}
	assert_int_equal(fclose(f), 0);
	return s;
}

/*
 * Creating a registry is all or nothing: after a failure the file holds
 * no schema at all, or the whole of it (committed before the failure).
 */
static void
open_done(void *p, int r)
{
	struct store_arg *a = p;
	char *now;

	eca_store_close(a->st);
	a->st = NULL;
	now = schema_text();
	remove_store();
	if (r != 0) {
		assert_refusal(r, &a->err);
		if (strcmp(now, "") != 0 &&
		    strcmp(now,
			"0 (null) (null) "
			"(null)\n") != 0 &&
		    strcmp(now, a->want) != 0)
			fail_msg("%s: a schema half made:\n%s",
			    failalloc_where(), now);
		free(now);
		return;
	}
	same_text(&a->want, now);
}

static void
test_store_create_out_of_memory_makes_all_of_the_schema_or_none(void **state)
{
	static const struct failalloc_case c = {
	    .name = "eca_store_open (create)",
	    .by_site = 1,
	    .call = open_call,
	    .done = open_done,
	    .ok = store_ok,
	    .prepare = open_prepare,
	};
	struct store_arg a;

	(void)state;
	memset(&a, 0, sizeof(a));
	assert_true(failalloc_each(&c, &a) > 10);
	assert_non_null(strstr(a.want, "CREATE TABLE"));
	free(a.want);
}

/* A registry holding host 1; the call writes host 2. */
static void
write_prepare(void *p)
{
	struct store_arg *a = p;
	struct eca_err err;

	remove_store();
	assert_int_equal(eca_store_open(store_uri(), 0, &a->st, &err), 0);
	assert_int_equal(store_write(a->st, 1, &err), 0);
}

static int
write_call(void *p)
{
	struct store_arg *a = p;

	return store_write(a->st, 2, &a->err);
}

static void
write_done(void *p, int r)
{
	struct store_arg *a = p;
	char *now;

	now = store_text(a->st);
	eca_store_close(a->st);
	a->st = NULL;
	remove_store();
	if (r != 0) {
		assert_refusal(r, &a->err);
		/* The transaction is rolled back whole. */
		if (a->before == NULL)
			a->before = now;
		else {
			assert_same_str(now, a->before);
			free(now);
		}
		return;
	}
	same_text(&a->want, now);
}

static void
test_store_write_out_of_memory_rolls_back_whole(void **state)
{
	static const struct failalloc_case c = {
	    .name = "eca_store put+candidate+history",
	    .call = write_call,
	    .done = write_done,
	    .ok = store_ok,
	    .prepare = write_prepare,
	};
	struct store_arg a;

	(void)state;
	memset(&a, 0, sizeof(a));
	write_prepare(&a);
	a.before = store_text(a.st);
	eca_store_close(a.st);
	a.st = NULL;
	assert_true(failalloc_each(&c, &a) > 10);
	assert_non_null(strstr(a.want, "list h2.example"));
	free(a.before);
	free(a.want);
}

struct read_store_arg {
	struct eca_store *st;
	struct eca_enrollment rec;
	struct eca_enrollment *list;
	struct eca_history_entry *hist;
	struct eca_candidate *cands;
	struct eca_change *ch;
	size_t nlist, nhist, ncands, nch;
	struct eca_err err;
	char *want;
};

/* Opened afresh each time, so that statements are prepared again. */
static void
read_store_prepare(void *p)
{
	struct read_store_arg *a = p;
	struct eca_err err;

	assert_int_equal(
	    eca_store_open(store_uri(), ECA_STORE_READONLY, &a->st, &err), 0);
}

static int
read_store_call(void *p)
{
	struct read_store_arg *a = p;
	int r;

	if ((r = eca_store_get(a->st, PRIMARY, "h2.example", &a->rec,
		 &a->err)) != 0 ||
	    (r = eca_store_list(a->st, PRIMARY, -1, NULL, 10, &a->list,
		 &a->nlist, &a->err)) != 0 ||
	    (r = eca_store_history(a->st, PRIMARY, "h2.example", 10, &a->hist,
		 &a->nhist, &a->err)) != 0 ||
	    (r = eca_store_candidates(a->st, PRIMARY, "h2.example", &a->cands,
		 &a->ncands, &a->err)) != 0)
		return r;
	return eca_store_changes(a->st, PRIMARY, 0, 10, &a->ch, &a->nch,
	    &a->err);
}

static void
read_store_done(void *p, int r)
{
	struct read_store_arg *a = p;
	char *s = NULL, *t;
	size_t len = 0, i;
	FILE *f;

	eca_store_close(a->st);
	a->st = NULL;
	if (r != 0)
		assert_refusal(r, &a->err);
	else {
		assert_non_null(f = open_memstream(&s, &len));
		t = json_text(eca_wire_enrollment(&a->rec));
		fprintf(f, "%s\n", t);
		free(t);
		for (i = 0; i < a->nlist; i++) {
			t = json_text(eca_wire_enrollment(&a->list[i]));
			fprintf(f, "%s\n", t);
			free(t);
		}
		for (i = 0; i < a->nhist; i++) {
			t = json_text(eca_wire_history_entry(&a->hist[i]));
			fprintf(f, "%s\n", t);
			free(t);
		}
		for (i = 0; i < a->ncands; i++) {
			t = json_text(eca_wire_candidate(&a->cands[i]));
			fprintf(f, "%s\n", t);
			free(t);
		}
		for (i = 0; i < a->nch; i++)
			fprintf(f, "%s %lld\n", a->ch[i].host,
			    (long long)a->ch[i].version);
		assert_int_equal(fclose(f), 0);
		same_text(&a->want, s);
	}
	/* What the calls before the failing one handed over. */
	free(a->list);
	free(a->hist);
	free(a->cands);
	free(a->ch);
	a->list = NULL;
	a->hist = NULL;
	a->cands = NULL;
	a->ch = NULL;
}

static void
test_store_reads_out_of_memory_are_clean_errors(void **state)
{
	static const struct failalloc_case c = {
	    .name = "eca_store get+list+history+candidates+changes",
	    .by_site = 1,
	    .call = read_store_call,
	    .done = read_store_done,
	    .ok = store_ok,
	    .prepare = read_store_prepare,
	};
	struct read_store_arg a;
	struct eca_store *st = NULL;
	struct eca_err err;

	(void)state;
	memset(&a, 0, sizeof(a));
	remove_store();
	assert_int_equal(eca_store_open(store_uri(), 0, &st, &err), 0);
	assert_int_equal(store_write(st, 1, &err), 0);
	assert_int_equal(store_write(st, 2, &err), 0);
	eca_store_close(st);
	assert_true(failalloc_each(&c, &a) > 10);
	assert_non_null(strstr(a.want, "h1.example 1"));
	remove_store();
	free(a.want);
}

/* The API's JSON encoders: NULL, never an object with a member missing. */
struct enc_arg {
	struct eca_enrollment rec;
	struct eca_change ch[3];
	json_t *j;
	char *want;
};

static int
enc_call(void *p)
{
	struct enc_arg *a = p;
	json_t *j;

	if ((a->j = eca_wire_enrollment(&a->rec)) == NULL)
		return ECA_ERR_NOMEM;
	if ((j = eca_wire_roster(
		 &(struct eca_wire_roster_page){.primary = PRIMARY,
		     .version = 3,
		     .next = 3,
		     .full = 1},
		 a->ch, 3)) == NULL ||
	    json_object_set_new(a->j, "roster", j) != 0)
		return ECA_ERR_NOMEM;
	if ((j = eca_wire_error(ECA_ERR_CONFLICT,
		 "another certificate is "
		 "enrolled")) == NULL ||
	    json_object_set_new(a->j, "error", j) != 0)
		return ECA_ERR_NOMEM;
	return 0;
}

static void
enc_done(void *p, int r)
{
	struct enc_arg *a = p;

	if (r != 0) {
		json_decref(a->j);
		a->j = NULL;
		return;
	}
	same_text(&a->want, json_text(a->j));
	a->j = NULL;
}

static void
test_api_encoders_out_of_memory_give_nothing_not_less(void **state)
{
	static const struct failalloc_case c = {
	    .name = "eca_wire_enrollment+roster+error",
	    .call = enc_call,
	    .done = enc_done,
	};
	struct enc_arg a;
	unsigned i;

	(void)state;
	memset(&a, 0, sizeof(a));
	fake_record(&a.rec, 4);
	for (i = 0; i < 3; i++)
		fake_change(&a.ch[i], i, ECA_STATE_ENROLLED, i + 1);
	assert_true(failalloc_each(&c, &a) > 10);
	assert_non_null(strstr(a.want, "host-2.example"));
	free(a.want);
}

static int
group_setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

/* Each test starts with an empty directory, whatever the last one left. */
static int
empty_tmpdir(void **state)
{
	(void)state;
	empty_dir(tmp_path("crl"));
	rmdir(tmp_path("crl"));
	return empty_dir(tmpdir);
}

static int
group_teardown(void **state)
{
	X509_free(leaf_cert);
	EVP_PKEY_free(leaf_key);
	testca_free(ca);
	(void)state;
	empty_tmpdir(state);
	return rmdir(tmpdir);
}

/* The set of host names: all of it or nothing, and the reason. */
static int
hostset_call(void *p)
{
	struct eca_hostset **hs = p;
	struct eca_err e;
	int r;

	eca_err_clear(&e);
	r = eca_hostset_new(1000, hs, &e);
	if (r != 0) {
		assert_null(*hs);
		assert_non_null(strstr(e.msg, "set of host names"));
	}
	return r;
}

static void
hostset_done(void *p, int r)
{
	struct eca_hostset **hs = p;

	if (r == 0) {
		eca_hostset_add(*hs, "media1.example.com");
		assert_int_equal(
		    eca_hostset_may_hold(*hs, "media1.example.com"), 1);
	}
	eca_hostset_free(*hs);
	*hs = NULL;
}

static void
test_hostset_out_of_memory_is_a_clean_error(void **state)
{
	static const struct failalloc_case c = {
	    .name = "eca_hostset_new",
	    .call = hostset_call,
	    .done = hostset_done,
	};
	struct eca_hostset *hs = NULL;

	(void)state;
	assert_int_equal(failalloc_each(&c, &hs), 2);
}

int
main(void)
{
#define T(test) cmocka_unit_test_teardown(test, empty_tmpdir)
	const struct CMUnitTest tests[] = {
	    T(test_config_parser_out_of_memory_is_a_clean_error),
	    T(test_config_dump_out_of_memory_is_null_not_a_short_text),
	    T(test_dn_normalizer_out_of_memory_is_a_clean_error),
	    T(test_api_body_parsers_out_of_memory_is_a_clean_error),
	    T(test_channel_parsers_out_of_memory_is_a_clean_error),
	    T(test_channel_encoders_out_of_memory_is_a_clean_error),
	    T(test_broker_messages_out_of_memory_is_a_clean_error),
	    T(test_roster_delta_decoder_out_of_memory_is_a_clean_error),
	    T(test_roster_apply_out_of_memory_leaves_the_roster_unchanged),
	    T(test_roster_file_loader_out_of_memory_is_a_clean_error),
	    T(test_roster_save_out_of_memory_keeps_the_old_file),
	    T(test_audit_verify_out_of_memory_is_an_error_not_a_verdict),
	    T(test_audit_read_out_of_memory_is_a_clean_error),
	    T(test_audit_append_out_of_memory_appends_nothing),
	    T(test_certificate_parser_out_of_memory_is_a_clean_error),
	    T(test_key_parser_out_of_memory_is_a_clean_error),
	    T(test_certificate_info_out_of_memory_is_a_clean_error),
	    T(test_long_san_list_out_of_memory_is_a_clean_error),
	    T(test_crl_cache_add_out_of_memory_stores_nothing),
	    T(test_store_create_out_of_memory_makes_all_of_the_schema_or_none),
	    T(test_store_write_out_of_memory_rolls_back_whole),
	    T(test_store_reads_out_of_memory_are_clean_errors),
	    T(test_api_encoders_out_of_memory_give_nothing_not_less),
	    T(test_hostset_out_of_memory_is_a_clean_error),
	};

	if (failalloc_install() != 0 || failalloc_nosync() != 0)
		return 1;
	/* FAILALLOC_TEST=test_store_* runs only those. */
	if (getenv("FAILALLOC_TEST") != NULL)
		cmocka_set_test_filter(getenv("FAILALLOC_TEST"));
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
