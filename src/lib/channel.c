/*
 * channel.c - host-to-host channels: the frame and message codecs, and
 * the blocking client (eca_channel_open and the services' client side).
 *
 * The codecs are pure and total: whatever bytes a peer sends, they fill
 * their result or return ECA_ERR_PROTOCOL with a sentence naming the
 * field; peer text that goes into a message is stripped of control
 * characters first.  The client runs on a non-blocking socket and waits
 * with poll(), so every step has a deadline; its socket BIO writes with
 * MSG_NOSIGNAL so that a peer closing the connection is an error, not a
 * SIGPIPE in a command line that never asked for one.
 */
#include "channel.h"

#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "host.h"
#include "judge.h"
#include "log.h"
#include "text.h"
#include "tls.h"
#include "verdict.h"
#include "wire.h"

#define FRAME_HDR 4
#define BULK_CHUNK (64 * 1024)
/* Used when eca_channel_open is given no timeout (timeout_ms <= 0). */
#define DEFAULT_TIMEOUT_MS 10000L
#define SHOW_MAX 48	/* peer text quoted in a message */

struct eca_channel {
	SSL *ssl;
	int fd;
	long timeout_ms;
	enum eca_purpose purpose;
	char peer[ECA_HOST_MAX];
};

static int
role_from_name(const char *name)
{
	int i;

	for (i = ECA_ROLE_CLIENT; i <= ECA_ROLE_PRIMARY; i++)
		if (strcmp(name, eca_role_name((enum eca_role)i)) == 0)
			return i;
	return -1;
}

static int
role_valid(enum eca_role r)
{
	return (unsigned)r <= ECA_ROLE_PRIMARY;
}

/* Peer text quoted in a message: at most SHOW_MAX bytes, escaped. */
static void
show(const char *s, size_t len, char *out, size_t outlen)
{
	eca_text_sanitize(s, len, out, outlen < SHOW_MAX + 1 ? outlen :
	    SHOW_MAX + 1);
}

/* A peer's whole message, escaped, cut to fit out. */
static void
clean_text(const char *s, size_t len, char *out, size_t outlen)
{
	eca_text_sanitize(s, len, out, outlen);
}

/* Put "prefix: " in front of err's message, keeping its code. */
static int
err_prefix(struct eca_err *err, int code, const char *fmt, ...)
	ECA_PRINTF(3, 4);

static int
err_prefix(struct eca_err *err, int code, const char *fmt, ...)
{
	char pre[ECA_ERR_MSG_MAX], old[ECA_ERR_MSG_MAX];
	va_list ap;

	if (err == NULL)
		return code;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	old[sizeof(old) - 1] = '\0';
	if (old[0] == '\0')
		return eca_err_set(err, code, "%s: %s", pre, eca_strerror(code));
	return eca_err_set(err, code, "%s: %s", pre, old);
}

/* ------------------------------------------------------------------ */
/* Frames.                                                             */

int
eca_channel_frame_need(const unsigned char *buf, size_t len, size_t *frame_len)
{
	uint32_t n;

	if (buf == NULL || len < FRAME_HDR)
		return 1;
	n = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 |
	    (uint32_t)buf[2] << 8 | (uint32_t)buf[3];
	if (n == 0)
		return ECA_ERR_PROTOCOL;
	if (n > ECA_FRAME_MAX)
		return ECA_ERR_TOO_LARGE;
	if (len - FRAME_HDR < n)
		return 1;
	if (frame_len != NULL)
		*frame_len = FRAME_HDR + (size_t)n;
	return 0;
}

int
eca_channel_frame_encode(const void *json_obj, unsigned char **out,
    size_t *len, struct eca_err *err)
{
	char *s = NULL;
	unsigned char *f = NULL;
	size_t n;
	int r = ECA_ERR_INTERNAL;

	*out = NULL;
	*len = 0;
	if (json_obj == NULL) {
		r = eca_err_set(err, ECA_ERR_INTERNAL, "no message to frame");
		goto out;
	}
	if ((s = json_dumps((const json_t *)json_obj, JSON_COMPACT)) ==
	    NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory encoding a channel message");
		goto out;
	}
	n = strlen(s);
	if (n == 0 || n > ECA_FRAME_MAX) {
		r = eca_err_set(err, ECA_ERR_TOO_LARGE, "a channel message of "
		    "%zu bytes does not fit in a frame (at most %d)", n,
		    ECA_FRAME_MAX);
		goto out;
	}
	if ((f = malloc(FRAME_HDR + n)) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory encoding a channel message");
		goto out;
	}
	f[0] = (unsigned char)(n >> 24);
	f[1] = (unsigned char)(n >> 16);
	f[2] = (unsigned char)(n >> 8);
	f[3] = (unsigned char)n;
	memcpy(f + FRAME_HDR, s, n);
	*out = f;
	*len = FRAME_HDR + n;
	f = NULL;
	r = 0;
 out:
	free(s);
	free(f);
	return r;
}

/* ------------------------------------------------------------------ */
/* Message codecs.                                                     */

static int
load_object(const unsigned char *buf, size_t len, const char *what,
    json_t **out, struct eca_err *err)
{
	json_error_t jerr;
	char text[SHOW_MAX + 1];
	json_t *j;

	*out = NULL;
	if (buf == NULL || len == 0)
		return eca_err_set(err, ECA_ERR_PROTOCOL, "the %s is empty",
		    what);
	if (len > ECA_FRAME_MAX)
		return eca_err_set(err, ECA_ERR_PROTOCOL, "the %s is %zu "
		    "bytes long (at most %d)", what, len, ECA_FRAME_MAX);
	if ((j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES,
	    &jerr)) == NULL) {
		/* jansson quotes the input it choked on: clean it. */
		show(jerr.text, strnlen(jerr.text, sizeof(jerr.text)), text,
		    sizeof(text));
		return eca_err_set(err, ECA_ERR_PROTOCOL, "the %s is not "
		    "valid JSON (%s, at byte %d)", what, text, jerr.position);
	}
	if (!json_is_object(j)) {
		json_decref(j);
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the %s is not a JSON object", what);
	}
	*out = j;
	return 0;
}

static int
get_version(const json_t *j, const char *what, struct eca_err *err)
{
	const json_t *v;

	if ((v = json_object_get(j, "v")) == NULL)
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the %s has no \"v\" (protocol version)", what);
	if (!json_is_integer(v))
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the %s's \"v\" is not an integer", what);
	if (json_integer_value(v) != ECA_PROTOCOL_VERSION)
		return eca_err_set(err, ECA_ERR_PROTOCOL, "the %s speaks "
		    "protocol version %lld; this host speaks version %d "
		    "(upgrade the older host)", what,
		    (long long)json_integer_value(v), ECA_PROTOCOL_VERSION);
	return 0;
}

static int
get_string(const json_t *j, const char *key, const char *what,
    const char **out, size_t *len, struct eca_err *err)
{
	const json_t *v;

	if ((v = json_object_get(j, key)) == NULL)
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the %s has no \"%s\"", what, key);
	if (!json_is_string(v))
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the %s's \"%s\" is not a string", what, key);
	*out = json_string_value(v);
	*len = json_string_length(v);
	return 0;
}

/* A host name into out (ECA_HOST_MAX); "" accepted only if allow_empty. */
static int
host_string(const json_t *v, const char *key, const char *what,
    int allow_empty, char *out, struct eca_err *err)
{
	char text[SHOW_MAX + 1];
	const char *s;
	size_t len;

	if (!json_is_string(v))
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the %s's \"%s\" is not a string", what, key);
	s = json_string_value(v);
	len = json_string_length(v);
	if (len == 0 && allow_empty) {
		out[0] = '\0';
		return 0;
	}
	/*
	 * Kept in canonical form only: a peer saying MEDIA1.example is
	 * judged as media1.example, the name it is enrolled under.
	 */
	if (len >= ECA_HOST_MAX || strlen(s) != len ||
	    eca_hostname_canon(s, out, ECA_HOST_MAX, NULL) != 0) {
		show(s, len, text, sizeof(text));
		return eca_err_set(err, ECA_ERR_PROTOCOL, "the %s's \"%s\" "
		    "is not a valid host name ('%s')", what, key, text);
	}
	return 0;
}

static int
get_host(const json_t *j, const char *key, const char *what,
    int allow_empty, char *out, struct eca_err *err)
{
	const json_t *v;

	if ((v = json_object_get(j, key)) == NULL)
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the %s has no \"%s\"", what, key);
	return host_string(v, key, what, allow_empty, out, err);
}

static int
get_role(const json_t *j, const char *what, enum eca_role *out,
    struct eca_err *err)
{
	char text[SHOW_MAX + 1];
	const char *s;
	size_t len;
	int r, role;

	if ((r = get_string(j, "role", what, &s, &len, err)) != 0)
		return r;
	if (strlen(s) != len || (role = role_from_name(s)) < 0) {
		show(s, len, text, sizeof(text));
		return eca_err_set(err, ECA_ERR_PROTOCOL, "the %s's \"role\" "
		    "'%s' is not client, media or primary", what, text);
	}
	*out = (enum eca_role)role;
	return 0;
}

static int
get_bool(const json_t *j, const char *key, const char *what, int *out,
    struct eca_err *err)
{
	const json_t *v;

	if ((v = json_object_get(j, key)) == NULL)
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the %s has no \"%s\"", what, key);
	if (!json_is_boolean(v))
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the %s's \"%s\" is not true or false", what, key);
	*out = json_is_true(v);
	return 0;
}

/* A JSON string of s; text that is not UTF-8 goes as printable ASCII. */
static json_t *
text_json(const char *s)
{
	char buf[ECA_ERR_MSG_MAX];
	json_t *j;

	if ((j = json_string(s)) != NULL)
		return j;
	eca_text_sanitize(s, strlen(s), buf, sizeof(buf));
	return json_string(buf);
}

/* Frame j (consumed) into out, or fail with ECA_ERR_NOMEM. */
static int
frame_and_free(json_t *j, unsigned char **out, size_t *len,
    struct eca_err *err)
{
	int r;

	if (j == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory encoding a channel message");
	r = eca_channel_frame_encode(j, out, len, err);
	json_decref(j);
	return r;
}

int
eca_channel_server_hello_encode(const struct eca_channel_server_hello *h,
    unsigned char **out, size_t *len, struct eca_err *err)
{
	json_t *j = NULL, *arr = NULL;
	size_t i;

	*out = NULL;
	*len = 0;
	if (h == NULL || !eca_hostname_is_canon(h->host) ||
	    !role_valid(h->role) || h->nprimaries > ECA_MAX_SERVERS)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot encode a server HELLO with an invalid host, role "
		    "or primary list");
	if ((arr = json_array()) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory encoding a channel message");
	for (i = 0; i < h->nprimaries; i++) {
		if (!eca_hostname_is_canon(h->primaries[i])) {
			json_decref(arr);
			return eca_err_set(err, ECA_ERR_INTERNAL, "cannot "
			    "encode a server HELLO: primary %zu is not a valid "
			    "host name", i + 1);
		}
		if (json_array_append_new(arr,
		    json_string(h->primaries[i])) != 0) {
			json_decref(arr);
			return eca_err_set(err, ECA_ERR_NOMEM,
			    "out of memory encoding a channel message");
		}
	}
	j = json_pack("{s:i, s:s, s:s, s:o, s:b}", "v", ECA_PROTOCOL_VERSION,
	    "host", h->host, "role", eca_role_name(h->role), "primaries", arr,
	    "cert", h->has_cert ? 1 : 0);
	return frame_and_free(j, out, len, err);
}

int
eca_channel_server_hello_parse(const unsigned char *buf, size_t len,
    struct eca_channel_server_hello *out, struct eca_err *err)
{
	static const char what[] = "server HELLO";
	json_t *j = NULL;
	const json_t *arr;
	size_t i;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = load_object(buf, len, what, &j, err)) != 0)
		goto out;
	if ((r = get_version(j, what, err)) != 0 ||
	    (r = get_host(j, "host", what, 0, out->host, err)) != 0 ||
	    (r = get_role(j, what, &out->role, err)) != 0 ||
	    (r = get_bool(j, "cert", what, &out->has_cert, err)) != 0)
		goto out;
	if ((arr = json_object_get(j, "primaries")) == NULL) {
		r = eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the %s has no \"primaries\"", what);
		goto out;
	}
	if (!json_is_array(arr)) {
		r = eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the %s's \"primaries\" is not an array", what);
		goto out;
	}
	if (json_array_size(arr) > ECA_MAX_SERVERS) {
		r = eca_err_set(err, ECA_ERR_PROTOCOL, "the %s lists %zu "
		    "primaries (at most %d)", what, json_array_size(arr),
		    ECA_MAX_SERVERS);
		goto out;
	}
	for (i = 0; i < json_array_size(arr); i++) {
		if ((r = host_string(json_array_get(arr, i), "primaries", what,
		    0, out->primaries[i], err)) != 0)
			goto out;
	}
	out->nprimaries = json_array_size(arr);
	r = 0;
 out:
	json_decref(j);
	if (r != 0)
		memset(out, 0, sizeof(*out));
	return r;
}

int
eca_channel_client_hello_encode(const struct eca_channel_client_hello *h,
    unsigned char **out, size_t *len, struct eca_err *err)
{
	json_t *j;

	*out = NULL;
	*len = 0;
	if (h == NULL || !eca_hostname_is_canon(h->host) ||
	    !role_valid(h->role) || !eca_hostname_is_canon(h->primary) ||
	    !eca_purpose_valid((int)h->purpose))
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot encode a client HELLO with an invalid host, role, "
		    "primary or purpose");
	j = json_pack("{s:i, s:s, s:s, s:s, s:s, s:b}", "v",
	    ECA_PROTOCOL_VERSION, "host", h->host, "role",
	    eca_role_name(h->role), "primary", h->primary, "purpose",
	    eca_purpose_name(h->purpose), "cert", h->has_cert ? 1 : 0);
	if (j != NULL && h->has_autoenroll &&
	    json_object_set_new(j, "auto", json_boolean(h->autoenroll)) != 0) {
		json_decref(j);
		j = NULL;
	}
	return frame_and_free(j, out, len, err);
}

int
eca_channel_client_hello_parse(const unsigned char *buf, size_t len,
    struct eca_channel_client_hello *out, struct eca_err *err)
{
	static const char what[] = "client HELLO";
	char text[SHOW_MAX + 1];
	json_t *j = NULL;
	const char *s;
	size_t slen;
	int r, p;

	memset(out, 0, sizeof(*out));
	if ((r = load_object(buf, len, what, &j, err)) != 0)
		goto out;
	if ((r = get_version(j, what, err)) != 0 ||
	    (r = get_host(j, "host", what, 0, out->host, err)) != 0 ||
	    (r = get_role(j, what, &out->role, err)) != 0 ||
	    (r = get_host(j, "primary", what, 0, out->primary, err)) != 0 ||
	    (r = get_bool(j, "cert", what, &out->has_cert, err)) != 0 ||
	    (r = get_string(j, "purpose", what, &s, &slen, err)) != 0)
		goto out;
	if (json_object_get(j, "auto") != NULL) {
		if ((r = get_bool(j, "auto", what, &out->autoenroll,
		    err)) != 0)
			goto out;
		out->has_autoenroll = 1;
	}
	if (strlen(s) != slen || (p = eca_purpose_from_name(s)) < 0) {
		show(s, slen, text, sizeof(text));
		r = eca_err_set(err, ECA_ERR_PROTOCOL, "the %s's \"purpose\" "
		    "'%s' is not one of backup, restore, replication, "
		    "console, control, ping", what, text);
		goto out;
	}
	out->purpose = (enum eca_purpose)p;
	r = 0;
 out:
	json_decref(j);
	if (r != 0)
		memset(out, 0, sizeof(*out));
	return r;
}

int
eca_channel_verdict_encode(const struct eca_channel_verdict *v,
    unsigned char **out, size_t *len, struct eca_err *err)
{
	json_t *j, *msg;

	*out = NULL;
	*len = 0;
	if (v == NULL || (v->accept != 0) != (v->code == 0) ||
	    (v->code != 0 && (v->code <= ECA_ERR_FIRST_ ||
	    v->code >= ECA_ERR_LAST_)) ||
	    (v->primary[0] != '\0' && !eca_hostname_is_canon(v->primary)))
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot encode a VERDICT whose accept, code or primary "
		    "disagree");
	if ((msg = text_json(v->message)) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory encoding a channel message");
	j = json_pack("{s:b, s:s, s:o, s:s}", "accept", v->accept ? 1 : 0,
	    "code", eca_err_name(v->code), "message", msg, "primary",
	    v->primary);
	return frame_and_free(j, out, len, err);
}

int
eca_channel_verdict_parse(const unsigned char *buf, size_t len,
    struct eca_channel_verdict *out, struct eca_err *err)
{
	static const char what[] = "VERDICT";
	char text[SHOW_MAX + 1];
	json_t *j = NULL;
	const char *s;
	size_t slen;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = load_object(buf, len, what, &j, err)) != 0)
		goto out;
	if ((r = get_bool(j, "accept", what, &out->accept, err)) != 0 ||
	    (r = get_host(j, "primary", what, 1, out->primary, err)) != 0 ||
	    (r = get_string(j, "code", what, &s, &slen, err)) != 0)
		goto out;
	show(s, slen, text, sizeof(text));
	if (strlen(s) != slen) {
		r = eca_err_set(err, ECA_ERR_PROTOCOL, "the %s's \"code\" "
		    "'%s' is not a reason code", what, text);
		goto out;
	}
	out->code = eca_err_from_name(s);
	/* eca_err_from_name maps unknown names to INTERNAL: tell them apart. */
	if (out->code == ECA_ERR_INTERNAL && strcmp(s, "INTERNAL") != 0) {
		if (out->accept) {
			r = eca_err_set(err, ECA_ERR_PROTOCOL, "the %s accepts "
			    "with the unknown code '%s'", what, text);
			goto out;
		}
		/* A newer peer's reason: still a refusal. */
	}
	if (out->accept && out->code != 0) {
		r = eca_err_set(err, ECA_ERR_PROTOCOL, "the %s accepts with "
		    "code %s", what, text);
		goto out;
	}
	if (!out->accept && out->code == 0) {
		r = eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the %s refuses with code OK", what);
		goto out;
	}
	if ((r = get_string(j, "message", what, &s, &slen, err)) != 0)
		goto out;
	clean_text(s, slen, out->message, sizeof(out->message));
	r = 0;
 out:
	json_decref(j);
	if (r != 0)
		memset(out, 0, sizeof(*out));
	return r;
}

const char *
eca_channel_shared_primary(const struct eca_config *mine,
    const struct eca_channel_server_hello *theirs)
{
	size_t i, k;

	if (mine == NULL || theirs == NULL)
		return NULL;
	for (i = 0; i < mine->nservers; i++) {
		if (mine->servers[i].name == NULL)
			continue;
		/* A primary is a host of its own domain, SERVER line or not. */
		if (theirs->role == ECA_ROLE_PRIMARY &&
		    eca_hostname_eq(mine->servers[i].name, theirs->host))
			return mine->servers[i].name;
		for (k = 0; k < theirs->nprimaries && k < ECA_MAX_SERVERS; k++)
			if (eca_hostname_eq(mine->servers[i].name,
			    theirs->primaries[k]))
				return mine->servers[i].name;
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* A socket BIO that cannot raise SIGPIPE.                            */

static BIO_METHOD *nosig_method;
static pthread_once_t nosig_once = PTHREAD_ONCE_INIT;

static int
nosig_fd(BIO *b)
{
	return (int)(intptr_t)BIO_get_data(b);
}

static int
nosig_write(BIO *b, const char *buf, int len)
{
	ssize_t n;

	BIO_clear_retry_flags(b);
	if (len <= 0)
		return 0;
	do
		n = send(nosig_fd(b), buf, (size_t)len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		BIO_set_retry_write(b);
	return (int)n;
}

static int
nosig_read(BIO *b, char *buf, int len)
{
	ssize_t n;

	BIO_clear_retry_flags(b);
	if (len <= 0)
		return 0;
	do
		n = recv(nosig_fd(b), buf, (size_t)len, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		BIO_set_retry_read(b);
	return (int)n;
}

static long
nosig_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)num;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_C_GET_FD:
		if (ptr != NULL)
			*(int *)ptr = nosig_fd(b);
		return nosig_fd(b);
	default:
		return 0;
	}
}

static int
nosig_create(BIO *b)
{
	BIO_set_data(b, (void *)(intptr_t)-1);
	BIO_set_init(b, 1);
	return 1;
}

static void
nosig_setup(void)
{
	BIO_METHOD *m;
	int idx;

	if ((idx = BIO_get_new_index()) == -1)
		return;
	if ((m = BIO_meth_new(idx | BIO_TYPE_SOURCE_SINK |
	    BIO_TYPE_DESCRIPTOR, "eca socket")) == NULL)
		return;
	if (BIO_meth_set_write(m, nosig_write) != 1 ||
	    BIO_meth_set_read(m, nosig_read) != 1 ||
	    BIO_meth_set_ctrl(m, nosig_ctrl) != 1 ||
	    BIO_meth_set_create(m, nosig_create) != 1) {
		BIO_meth_free(m);
		return;
	}
	nosig_method = m;
}

static BIO *
nosig_bio(int fd)
{
	BIO *b;

	if (pthread_once(&nosig_once, nosig_setup) != 0 ||
	    nosig_method == NULL)
		return NULL;
	if ((b = BIO_new(nosig_method)) == NULL)
		return NULL;
	BIO_set_data(b, (void *)(intptr_t)fd);
	return b;
}

/* ------------------------------------------------------------------ */
/* Blocking I/O with deadlines.                                       */

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t
deadline_of(long timeout_ms)
{
	return now_us() + (int64_t)timeout_ms * 1000;
}

/* Wait for events on fd until deadline: 0, ECA_ERR_TIMEOUT or _IO. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd;
	int64_t left;
	int n;

	for (;;) {
		left = deadline - now_us();
		if (left <= 0)
			return ECA_ERR_TIMEOUT;
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		n = poll(&pfd, 1, (int)((left + 999) / 1000));
		if (n > 0)
			return 0;	/* errors show in the next I/O call */
		if (n == 0)
			continue;	/* re-check the clock */
		if (errno != EINTR)
			return ECA_ERR_IO;
	}
}

/*
 * After an SSL call returned ret: wait until it can be retried (0), or
 * say why the channel is done.  what is a phrase ("reading the VERDICT").
 */
static int
ssl_wait(struct eca_channel *ch, int ret, int64_t deadline,
    const char *what, struct eca_err *err)
{
	unsigned long e;
	short ev;
	int r, se, saved = errno;

	se = SSL_get_error(ch->ssl, ret);
	switch (se) {
	case SSL_ERROR_WANT_READ:
		ev = POLLIN;
		break;
	case SSL_ERROR_WANT_WRITE:
		ev = POLLOUT;
		break;
	case SSL_ERROR_ZERO_RETURN:
		ERR_clear_error();
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "%s closed the channel while %s", ch->peer, what);
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0) {
			ERR_clear_error();
			if (saved == 0 || saved == ECONNRESET ||
			    saved == EPIPE)
				return eca_err_set(err, ECA_ERR_PROTOCOL,
				    "%s closed the connection while %s",
				    ch->peer, what);
			return eca_err_set(err, ECA_ERR_IO, "%s with %s: %s",
			    what, ch->peer, strerror(saved));
		}
		/* FALLTHROUGH */
	default:
		e = ERR_peek_error();
		if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
		    ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
			ERR_clear_error();
			return eca_err_set(err, ECA_ERR_PROTOCOL,
			    "%s closed the connection while %s", ch->peer,
			    what);
		}
		eca_err_set(err, ECA_ERR_PROTOCOL, "TLS failed with %s while "
		    "%s", ch->peer, what);
		eca_err_add_openssl(err);
		return ECA_ERR_PROTOCOL;
	}
	if ((r = wait_fd(ch->fd, ev, deadline)) == ECA_ERR_TIMEOUT)
		return eca_err_set(err, ECA_ERR_TIMEOUT, "%s did not answer "
		    "within %ld ms while %s", ch->peer, ch->timeout_ms, what);
	if (r != 0)
		return eca_err_set(err, ECA_ERR_IO, "waiting for %s while %s: "
		    "%s", ch->peer, what, strerror(errno));
	return 0;
}

static int
read_full(struct eca_channel *ch, unsigned char *buf, size_t n,
    int64_t deadline, const char *what, struct eca_err *err)
{
	size_t got = 0, k;
	int ret, r;

	while (got < n) {
		ERR_clear_error();
		errno = 0;
		if ((ret = SSL_read_ex(ch->ssl, buf + got, n - got, &k)) == 1) {
			got += k;
			continue;
		}
		if ((r = ssl_wait(ch, ret, deadline, what, err)) != 0)
			return r;
	}
	return 0;
}

static int
write_full(struct eca_channel *ch, const unsigned char *buf, size_t n,
    int64_t deadline, const char *what, struct eca_err *err)
{
	size_t k;
	int ret, r;

	/* Without partial writes SSL_write_ex sends all or nothing. */
	while (n > 0) {
		ERR_clear_error();
		errno = 0;
		if ((ret = SSL_write_ex(ch->ssl, buf, n, &k)) == 1) {
			buf += k;
			n -= k;
			continue;
		}
		if ((r = ssl_wait(ch, ret, deadline, what, err)) != 0)
			return r;
	}
	return 0;
}

/* One frame's payload into buf (cap bytes), with one deadline. */
static int
recv_frame(struct eca_channel *ch, unsigned char *buf, size_t cap,
    size_t *len, const char *what, struct eca_err *err)
{
	unsigned char hdr[FRAME_HDR];
	int64_t deadline = deadline_of(ch->timeout_ms);
	size_t flen;
	int r;

	*len = 0;
	if ((r = read_full(ch, hdr, sizeof(hdr), deadline, what, err)) != 0)
		return r;
	switch (eca_channel_frame_need(hdr, sizeof(hdr), &flen)) {
	case ECA_ERR_PROTOCOL:
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "%s sent an empty frame while %s", ch->peer, what);
	case ECA_ERR_TOO_LARGE:
		return eca_err_set(err, ECA_ERR_TOO_LARGE, "%s announced a "
		    "frame of more than %d bytes while %s", ch->peer,
		    ECA_FRAME_MAX, what);
	default:
		break;	/* 1: the payload follows */
	}
	flen = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 |
	    (size_t)hdr[2] << 8 | (size_t)hdr[3];
	if (flen > cap)
		return eca_err_set(err, ECA_ERR_TOO_LARGE, "%s sent a frame "
		    "of %zu bytes while %s (at most %zu expected)", ch->peer,
		    flen, what, cap);
	if ((r = read_full(ch, buf, flen, deadline, what, err)) != 0)
		return r;
	*len = flen;
	return 0;
}

static int
send_json(struct eca_channel *ch, json_t *j, const char *what,
    struct eca_err *err)
{
	unsigned char *f = NULL;
	size_t flen;
	int r;

	if ((r = frame_and_free(j, &f, &flen, err)) != 0)
		return r;
	r = write_full(ch, f, flen, deadline_of(ch->timeout_ms), what, err);
	free(f);
	return r;
}

/* Receive a frame that must be a JSON object; an error object is its code. */
static int
recv_json(struct eca_channel *ch, const char *what, json_t **out,
    struct eca_err *err)
{
	unsigned char *buf = NULL;
	json_t *j = NULL;
	size_t len;
	int r;

	*out = NULL;
	if ((buf = malloc(ECA_FRAME_MAX)) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = recv_frame(ch, buf, ECA_FRAME_MAX, &len, what, err)) != 0)
		goto out;
	if ((r = load_object(buf, len, "answer", &j, err)) != 0) {
		r = err_prefix(err, r, "%s while %s", ch->peer, what);
		goto out;
	}
	if ((r = eca_wire_parse_error(j, err)) != 0) {
		r = err_prefix(err, r, "%s answered an error while %s",
		    ch->peer, what);
		goto out;
	}
	*out = j;
	j = NULL;
	r = 0;
 out:
	json_decref(j);
	free(buf);
	return r;
}

/* ------------------------------------------------------------------ */
/* Opening a channel.                                                  */

static void
steps_init(struct eca_channel_steps *s)
{
	memset(s, 0, sizeof(*s));
	s->resolve_us = s->tcp_us = s->tls_us = -1;
	s->identity_us = s->enroll_check_us = s->autoenroll_us = -1;
	s->total_us = -1;
}

/* Where peer listens: its PEER entry, else its name and the default port. */
static void
peer_address(const struct eca_config *cfg, const char *peer,
    const char **host, const char **port)
{
	size_t i;

	*host = peer;
	*port = ECA_DEFAULT_PEER_PORT;
	for (i = 0; i < cfg->npeers; i++) {
		if (cfg->peers[i].name == NULL ||
		    strcmp(cfg->peers[i].name, peer) != 0)
			continue;
		if (cfg->peers[i].host != NULL)
			*host = cfg->peers[i].host;
		if (cfg->peers[i].port != NULL)
			*port = cfg->peers[i].port;
		return;
	}
}

static void
format_address(const struct sockaddr *sa, socklen_t salen, char *buf,
    size_t len)
{
	char host[128], serv[16];	/* numeric forms only */

	if (getnameinfo(sa, salen, host, sizeof(host), serv, sizeof(serv),
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(buf, len, "?");
		return;
	}
	if (sa->sa_family == AF_INET6)
		snprintf(buf, len, "[%s]:%s", host, serv);
	else
		snprintf(buf, len, "%s:%s", host, serv);
}

/* Connect to one address before deadline: 0 and *fdp, or errno. */
static int
connect_one(const struct addrinfo *ai, int64_t deadline, int *fdp)
{
	socklen_t len;
	int fd, e, one = 1;

	*fdp = -1;
	if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol)) == -1)
		return errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
		if (errno != EINPROGRESS) {
			e = errno;
			close(fd);
			return e;
		}
		if ((e = wait_fd(fd, POLLOUT, deadline)) != 0) {
			close(fd);
			return e == ECA_ERR_TIMEOUT ? ETIMEDOUT : EIO;
		}
		len = sizeof(e);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) == -1)
			e = errno;
		if (e != 0) {
			close(fd);
			return e;
		}
	}
	/* Frames are small and answered: no Nagle delay. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*fdp = fd;
	return 0;
}

static int
tcp_connect(struct eca_channel *ch, const struct eca_config *cfg,
    struct eca_channel_steps *steps, struct eca_err *err)
{
	struct addrinfo hints, *res = NULL, *ai;
	const char *host, *port;
	char addr[ECA_HOST_MAX + 8];
	int64_t t, deadline;
	int e = 0, r;

	peer_address(cfg, ch->peer, &host, &port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	t = now_us();
	if ((r = getaddrinfo(host, port, &hints, &res)) != 0) {
		r = eca_err_set(err, ECA_ERR_UNREACHABLE, "cannot resolve %s "
		    "(%s): %s (add `PEER = %s host:port` to the configuration "
		    "or fix DNS)", ch->peer, host,
		    r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r),
		    ch->peer);
		goto out;
	}
	steps->resolve_us = now_us() - t;

	t = now_us();
	deadline = deadline_of(ch->timeout_ms);
	addr[0] = '\0';
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		format_address(ai->ai_addr, ai->ai_addrlen, addr,
		    sizeof(addr));
		if ((e = connect_one(ai, deadline, &ch->fd)) == 0)
			break;
		if (e == ETIMEDOUT)
			break;
	}
	snprintf(steps->address, sizeof(steps->address), "%s", addr);
	if (ch->fd == -1) {
		if (e == ETIMEDOUT)
			r = eca_err_set(err, ECA_ERR_TIMEOUT, "cannot connect "
			    "to %s at %s within %ld ms (is ecad running there "
			    "and its LISTEN address reachable?)", ch->peer,
			    addr, ch->timeout_ms);
		else
			r = eca_err_set(err, ECA_ERR_UNREACHABLE, "cannot "
			    "connect to %s at %s: %s (is ecad running there "
			    "and its LISTEN address reachable?)", ch->peer,
			    addr, strerror(e));
		goto out;
	}
	steps->tcp_us = now_us() - t;
	r = 0;
 out:
	if (res != NULL)
		freeaddrinfo(res);
	return r;
}

static int
is_ip_literal(const char *s)
{
	unsigned char a[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

static int
tls_connect(struct eca_channel *ch, SSL_CTX *ctx,
    struct eca_channel_steps *steps, struct eca_err *err)
{
	const char *name;
	int64_t t, deadline;
	BIO *b;
	int ret, r;

	t = now_us();
	if ((ch->ssl = SSL_new(ctx)) == NULL) {
		eca_err_set(err, ECA_ERR_NOMEM, "cannot create a TLS "
		    "connection to %s", ch->peer);
		eca_err_add_openssl(err);
		return ECA_ERR_NOMEM;
	}
	if ((b = nosig_bio(ch->fd)) == NULL) {
		eca_err_set(err, ECA_ERR_NOMEM, "cannot create a socket BIO "
		    "for %s", ch->peer);
		eca_err_add_openssl(err);
		return ECA_ERR_NOMEM;
	}
	SSL_set_bio(ch->ssl, b, b);
	SSL_set_connect_state(ch->ssl);
	/* SNI helps a listener behind a TLS router; never an address. */
	if (!is_ip_literal(ch->peer))
		(void)SSL_set_tlsext_host_name(ch->ssl, ch->peer);
	deadline = deadline_of(ch->timeout_ms);
	for (;;) {
		ERR_clear_error();
		errno = 0;
		/*
		 * The client context defers chain verification to the
		 * verdict (host.c): a handshake fails only on TLS itself.
		 */
		if ((ret = SSL_do_handshake(ch->ssl)) == 1)
			break;
		if ((r = ssl_wait(ch, ret, deadline, "in the TLS handshake",
		    err)) != 0)
			return r;
	}
	steps->tls_us = now_us() - t;
	name = SSL_get_version(ch->ssl);
	snprintf(steps->tls_version, sizeof(steps->tls_version), "%s",
	    name != NULL ? name : "");
	name = SSL_get_cipher_name(ch->ssl);
	snprintf(steps->cipher, sizeof(steps->cipher), "%s",
	    name != NULL ? name : "");
	return 0;
}

/* What eca_channel_open holds while it opens a channel. */
struct opening {
	struct eca_host *h;
	struct eca_channel *ch;
	struct eca_channel_steps *steps;
	unsigned char *buf;		/* one frame's payload */
	struct eca_channel_server_hello sh;	/* the server's HELLO */
	const char *primary;		/* the primary both share */
	struct eca_domain *d;		/* this host's domain of it */
	X509 *leaf;			/* the server's certificate */
	STACK_OF(X509) *chain;
	int deferred;			/* judged after its VERDICT */
	struct eca_judge_input in;
	struct eca_judge_result res;
};

/* The arguments, before anything is opened: 0, or the usage error. */
static int
open_check(struct eca_host *h, const char *peer, enum eca_purpose purpose,
    char canon[ECA_HOST_MAX], struct eca_err *err)
{
	int r;

	if (h == NULL || h->cfg == NULL || h->cfg->client_name == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_channel_open needs a host context");
	if ((r = eca_hostname_canon(peer, canon, ECA_HOST_MAX, err)) != 0)
		return r;
	if (!eca_purpose_valid((int)purpose))
		return eca_err_set(err, ECA_ERR_USAGE, "unknown channel "
		    "purpose %d", (int)purpose);
	if (h->client_ctx == NULL || h->cred == NULL)
		return eca_err_set(err, ECA_ERR_NO_CLIENT_CERT, "%s has no "
		    "external certificate to open a channel with: configure "
		    "ECA_CERT_PATH and ECA_PRIVATE_KEY_PATH",
		    h->cfg->client_name);
	return 0;
}

/*
 * The server's HELLO: who it says it is (it must be the host called),
 * the primary both hosts share, and the certificate it presented.
 */
static int
read_server_hello(struct opening *o, struct eca_err *err)
{
	struct eca_channel *ch = o->ch;
	size_t len;
	int64_t t = now_us();
	int r;

	if ((r = recv_frame(ch, o->buf, ECA_FRAME_MAX, &len,
	    "reading its HELLO", err)) != 0)
		return r;
	if ((r = eca_channel_server_hello_parse(o->buf, len, &o->sh, err)) != 0)
		return err_prefix(err, r, "%s is not speaking the channel "
		    "protocol", ch->peer);
	if (strcmp(o->sh.host, ch->peer) != 0)
		return eca_err_set(err, ECA_ERR_IDENTITY_MISMATCH, "refused "
		    "%s: the host at %s says it is %s (check the PEER entry "
		    "or DNS for %s)", ch->peer, o->steps->address, o->sh.host,
		    ch->peer);
	if ((o->primary = eca_channel_shared_primary(o->h->cfg,
	    &o->sh)) == NULL)
		return eca_err_set(err, ECA_ERR_FORBIDDEN, "%s and %s share "
		    "no primary: list a common primary in both hosts' SERVER "
		    "entries", o->h->cfg->client_name, ch->peer);
	snprintf(o->steps->primary, sizeof(o->steps->primary), "%s",
	    o->primary);
	if ((o->d = eca_host_domain(o->h, o->primary)) == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL, "no domain state "
		    "for primary %s", o->primary);
	if ((r = eca_tls_peer_chain(ch->ssl, &o->leaf, &o->chain, err)) != 0)
		return err_prefix(err, r, "refused %s", ch->peer);
	o->steps->identity_us = now_us() - t;
	return 0;
}

/* Add us to a step's time (a step not reached yet counts from 0). */
static void
step_add(int64_t *step, int64_t us)
{
	*step = (*step < 0 ? 0 : *step) + us;
}

/*
 * One judgment of the server (judge.h), with the roster refreshed first
 * for wait_ms when this is the judgment resumed after a sync: 0,
 * ECA_JUDGE_NEED_SYNC, or the refusal in err.  The certificate check
 * counts as identity, this host's enrollment as its own step, the rest
 * (roster look-ups and refreshes) as the enrollment check.
 */
static int
judge_server(struct opening *o, long wait_ms, struct eca_err *err)
{
	struct eca_judge_result *res = &o->res;
	struct eca_channel_steps *steps = o->steps;
	struct eca_err se;
	int64_t t, cert_us, enroll_us;
	int r;

	t = now_us();
	cert_us = res->cert_done ? 0 : -1;
	enroll_us = res->autoenroll_us;
	/* A failed refresh shows in the verdict (stale, or still missing). */
	eca_err_clear(&se);
	if (o->in.resumed && eca_domain_refresh(o->h, o->d, o->ch->peer,
	    wait_ms, &se) != 0)
		log_debug("judging %s with the roster as it is: %s",
		    o->ch->peer, se.msg);
	r = eca_judge_peer(&o->in, res);
	t = now_us() - t;
	if (cert_us < 0 && res->cert_done) {
		step_add(&steps->identity_us, res->cert_us);
		t -= res->cert_us;
	}
	if (res->autoenroll_us != enroll_us) {
		steps->autoenroll_us = res->autoenroll_us;
		t -= res->autoenroll_us;
	}
	steps->autoenrolled = res->autoenrolled;
	step_add(&steps->enroll_check_us, t > 0 ? t : 0);
	steps->peer = res->cert.info;
	if (r == 0 || r == ECA_JUDGE_NEED_SYNC)
		return r;
	if (res->end == ECA_JUDGE_END_VERDICT)
		return eca_err_set(err, r, "refused %s: %s", o->ch->peer,
		    res->verdict.message);
	return eca_err_set(err, r, "%s", res->verdict.message);
}

/*
 * Judge the server before sending anything but the TLS handshake.  A
 * roster that must be synced first is refreshed once (rate-limited) and
 * the server judged again; but a server that is not in the roster yet
 * and would be enrolled by this very communication enrolls only after
 * it has read our HELLO: then the judgment is deferred until after its
 * VERDICT (nothing but the HELLO goes out before it).
 */
static int
judge_before_hello(struct opening *o, enum eca_purpose purpose,
    struct eca_err *err)
{
	struct eca_judge_input *in = &o->in;
	int r;

	memset(in, 0, sizeof(*in));
	in->side = ECA_JUDGE_CALLING;
	in->h = o->h;
	in->d = o->d;
	in->primary = o->primary;
	in->peer = o->ch->peer;
	in->leaf = o->leaf;
	in->chain = o->chain;
	in->purpose = purpose;
	in->peer_side.role = o->sh.role;
	in->peer_side.has_cert = o->sh.has_cert;
	eca_judge_init(&o->res);
	if ((r = judge_server(o, 0, err)) != ECA_JUDGE_NEED_SYNC)
		return r;
	in->resumed = 1;
	if (o->res.wait_enroll) {
		o->deferred = 1;
		return 0;
	}
	return judge_server(o, 0, err);
}

/* This host's HELLO: who it is, the primary, the purpose. */
static int
send_client_hello(struct opening *o, enum eca_purpose purpose,
    struct eca_err *err)
{
	struct eca_channel_client_hello hc;
	unsigned char *frame = NULL;
	size_t len;
	int r;

	memset(&hc, 0, sizeof(hc));
	snprintf(hc.host, sizeof(hc.host), "%s", o->h->cfg->client_name);
	hc.role = o->h->cfg->role;
	snprintf(hc.primary, sizeof(hc.primary), "%s", o->primary);
	hc.purpose = purpose;
	hc.has_cert = 1;
	hc.autoenroll = o->res.self_autoenroll;
	hc.has_autoenroll = 1;
	if ((r = eca_channel_client_hello_encode(&hc, &frame, &len, err)) == 0)
		r = write_full(o->ch, frame, len,
		    deadline_of(o->ch->timeout_ms),
		    "sending this host's HELLO", err);
	free(frame);
	return r;
}

/* The server's verdict on this host: 0 when it accepts. */
static int
read_verdict(struct opening *o, struct eca_err *err)
{
	struct eca_channel_verdict cv;
	const char *peer = o->ch->peer;
	size_t len;
	int r;

	if ((r = recv_frame(o->ch, o->buf, ECA_FRAME_MAX, &len,
	    "reading its VERDICT", err)) != 0)
		return r;
	if ((r = eca_channel_verdict_parse(o->buf, len, &cv, err)) != 0)
		return err_prefix(err, r, "%s is not speaking the channel "
		    "protocol", peer);
	if (!cv.accept)
		return eca_err_set(err, cv.code, "%s refused this host: %s",
		    peer, cv.message[0] != '\0' ? cv.message :
		    eca_strerror(cv.code));
	if (cv.primary[0] != '\0' && strcmp(cv.primary, o->primary) != 0)
		return eca_err_set(err, ECA_ERR_PROTOCOL, "%s accepted this "
		    "host for primary %s, not %s as asked", peer, cv.primary,
		    o->primary);
	return 0;
}

int
eca_channel_open(struct eca_host *h, const char *peer,
    enum eca_purpose purpose, long timeout_ms, struct eca_channel **out,
    struct eca_channel_steps *steps, struct eca_err *err)
{
	struct eca_channel_steps local;
	struct opening *o = NULL;
	char canon[ECA_HOST_MAX];
	int64_t t0;
	int r;

	if (steps == NULL)
		steps = &local;
	steps_init(steps);
	t0 = now_us();
	if (out != NULL)
		*out = NULL;
	if (out == NULL)
		h = NULL;	/* nowhere to put the channel */
	if ((r = open_check(h, peer, purpose, canon, err)) != 0)
		goto out;
	/* The judgment is big (two certificates' details): not on the stack. */
	if ((o = calloc(1, sizeof(*o))) == NULL ||
	    (o->ch = calloc(1, sizeof(*o->ch))) == NULL ||
	    (o->buf = malloc(ECA_FRAME_MAX)) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
		goto out;
	}
	o->h = h;
	o->steps = steps;
	o->ch->fd = -1;
	o->ch->timeout_ms = timeout_ms > 0 ? timeout_ms : DEFAULT_TIMEOUT_MS;
	o->ch->purpose = purpose;
	/* From here on the peer is its canonical name. */
	memcpy(o->ch->peer, canon, strlen(canon) + 1);

	if ((r = tcp_connect(o->ch, h->cfg, steps, err)) != 0 ||
	    (r = tls_connect(o->ch, h->client_ctx, steps, err)) != 0 ||
	    (r = read_server_hello(o, err)) != 0 ||
	    (r = judge_before_hello(o, purpose, err)) != 0 ||
	    (r = send_client_hello(o, purpose, err)) != 0 ||
	    (r = read_verdict(o, err)) != 0)
		goto out;
	/* The server enrolled while reading our HELLO: wait to see it. */
	if (o->deferred && (r = judge_server(o, ECA_ENROLL_WAIT_MS,
	    err)) != 0)
		goto out;
	*out = o->ch;
	o->ch = NULL;
	r = 0;
 out:
	steps->total_us = now_us() - t0;
	if (o != NULL) {
		eca_channel_close(o->ch);
		X509_free(o->leaf);
		sk_X509_pop_free(o->chain, X509_free);
		free(o->buf);
		free(o);
	}
	return r;
}

void
eca_channel_close(struct eca_channel *ch)
{
	if (ch == NULL)
		return;
	if (ch->ssl != NULL) {
		/* One try at close_notify: never wait for a peer on close. */
		if (SSL_is_init_finished(ch->ssl))
			(void)SSL_shutdown(ch->ssl);
		SSL_free(ch->ssl);
	}
	if (ch->fd != -1)
		close(ch->fd);
	ERR_clear_error();
	free(ch);
}

SSL *
eca_channel_ssl(struct eca_channel *ch)
{
	return ch == NULL ? NULL : ch->ssl;
}

int
eca_channel_send_frame(struct eca_channel *ch, const unsigned char *frame,
    size_t len, struct eca_err *err)
{
	size_t flen;

	if (ch == NULL || frame == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL, "no channel or frame");
	if (eca_channel_frame_need(frame, len, &flen) != 0 || flen != len)
		return eca_err_set(err, ECA_ERR_USAGE, "not one whole frame of "
		    "at most %d bytes", ECA_FRAME_MAX);
	return write_full(ch, frame, len, deadline_of(ch->timeout_ms),
	    "sending a frame", err);
}

int
eca_channel_recv_frame(struct eca_channel *ch, unsigned char *buf,
    size_t cap, size_t *len, struct eca_err *err)
{
	if (len != NULL)
		*len = 0;
	if (ch == NULL || buf == NULL || len == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "no channel or buffer");
	return recv_frame(ch, buf, cap, len, "reading a frame", err);
}

/* ------------------------------------------------------------------ */
/* Services, client side.                                              */

int
eca_channel_ping(struct eca_channel *ch, struct eca_err *err)
{
	char payload[64];
	const json_t *op, *pl;
	json_t *j = NULL;
	int r;

	if (ch == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL, "no channel");
	/* Different every time, so an echo cannot be a stale answer. */
	snprintf(payload, sizeof(payload), "eca ping %lld",
	    (long long)now_us());
	if ((r = send_json(ch, json_pack("{s:s, s:s}", "op", "ping",
	    "payload", payload), "sending a ping", err)) != 0 ||
	    (r = recv_json(ch, "waiting for the ping's echo", &j, err)) != 0)
		goto out;
	op = json_object_get(j, "op");
	pl = json_object_get(j, "payload");
	if (!json_is_string(op) || strcmp(json_string_value(op), "ping") != 0 ||
	    !json_is_string(pl) ||
	    strcmp(json_string_value(pl), payload) != 0) {
		r = eca_err_set(err, ECA_ERR_PROTOCOL, "%s answered the ping "
		    "with something other than its echo", ch->peer);
		goto out;
	}
	r = 0;
 out:
	json_decref(j);
	return r;
}

static int
bulk_check(struct eca_channel *ch, int64_t n, struct eca_err *err)
{
	if (ch == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL, "no channel");
	if (n < 0 || n > ECA_BULK_MAX)
		return eca_err_set(err, ECA_ERR_USAGE, "a bulk transfer of "
		    "%lld bytes is out of range (0 to %lld)", (long long)n,
		    (long long)ECA_BULK_MAX);
	return 0;
}

int
eca_channel_bulk_send(struct eca_channel *ch, int64_t n,
    struct eca_err *err)
{
	unsigned char *chunk = NULL;
	const json_t *got;
	json_t *j = NULL;
	int64_t left;
	size_t k;
	int r;

	if ((r = bulk_check(ch, n, err)) != 0)
		return r;
	if ((chunk = calloc(1, BULK_CHUNK)) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = send_json(ch, json_pack("{s:s, s:I}", "op", "send", "bytes",
	    (json_int_t)n), "asking to send bulk data", err)) != 0)
		goto out;
	for (left = n; left > 0; left -= (int64_t)k) {
		k = left < BULK_CHUNK ? (size_t)left : BULK_CHUNK;
		if ((r = write_full(ch, chunk, k, deadline_of(ch->timeout_ms),
		    "sending bulk data", err)) != 0)
			goto out;
	}
	if ((r = recv_json(ch, "waiting for the bulk receipt", &j,
	    err)) != 0)
		goto out;
	got = json_object_get(j, "received");
	if (!json_is_integer(got) || json_integer_value(got) != n) {
		r = eca_err_set(err, ECA_ERR_PROTOCOL, "%s did not confirm "
		    "receiving the %lld bytes sent", ch->peer, (long long)n);
		goto out;
	}
	r = 0;
 out:
	json_decref(j);
	free(chunk);
	return r;
}

int
eca_channel_bulk_receive(struct eca_channel *ch, int64_t n,
    struct eca_err *err)
{
	unsigned char *chunk = NULL;
	int64_t left;
	size_t k;
	int r;

	if ((r = bulk_check(ch, n, err)) != 0)
		return r;
	if ((chunk = malloc(BULK_CHUNK)) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = send_json(ch, json_pack("{s:s, s:I}", "op", "receive",
	    "bytes", (json_int_t)n), "asking for bulk data", err)) != 0)
		goto out;
	for (left = n; left > 0; left -= (int64_t)k) {
		k = left < BULK_CHUNK ? (size_t)left : BULK_CHUNK;
		if ((r = read_full(ch, chunk, k, deadline_of(ch->timeout_ms),
		    "receiving bulk data", err)) != 0)
			goto out;
	}
	r = 0;
 out:
	free(chunk);
	return r;
}
