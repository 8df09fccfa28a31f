/* SPDX-License-Identifier: ISC */
/*
 * channel_codec.c - the channel's frame and message codecs (channel.h).
 *
 * They are pure and total: whatever bytes a peer sends, they fill their
 * result or return ECA_ERR_PROTOCOL with a sentence naming the field;
 * peer text that goes into a message is escaped first (text.h).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "channel_impl.h"
#include "hostname.h"
#include "text.h"

static int
role_valid(enum eca_role r)
{
	return (unsigned)r <= ECA_ROLE_PRIMARY;
}

/* Peer text quoted in a message: at most ECA_CHANNEL_SHOW_MAX bytes. */
static void
show(const char *s, size_t len, char *out, size_t outlen)
{
	eca_text_sanitize(s, len, out,
	    outlen < ECA_CHANNEL_SHOW_MAX + 1 ? outlen :
						ECA_CHANNEL_SHOW_MAX + 1);
}

/* A peer's whole message, escaped, cut to fit out. */
static void
clean_text(const char *s, size_t len, char *out, size_t outlen)
{
	eca_text_sanitize(s, len, out, outlen);
}

int
eca_channel_err_prefix(struct eca_err *err, int code, const char *fmt, ...)
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
		return eca_err_set(err, code, "%s: %s", pre,
		    eca_err_desc(code));
	return eca_err_set(err, code, "%s: %s", pre, old);
}

/* ------------------------------------------------------------------ */
/* Frames.                                                             */

int
eca_channel_frame_need(const unsigned char *buf, size_t len, size_t *frame_len)
{
	uint32_t n;

	if (buf == NULL || len < ECA_CHANNEL_FRAME_HDR)
		return 1;
	n = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 |
	    (uint32_t)buf[2] << 8 | (uint32_t)buf[3];
	if (n == 0)
		return ECA_ERR_PROTOCOL;
	if (n > ECA_FRAME_MAX)
		return ECA_ERR_TOO_LARGE;
	if (len - ECA_CHANNEL_FRAME_HDR < n)
		return 1;
	if (frame_len != NULL)
		*frame_len = ECA_CHANNEL_FRAME_HDR + (size_t)n;
	return 0;
}

int
eca_channel_frame_encode(const void *json_obj, unsigned char **out, size_t *len,
    struct eca_err *err)
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
	if ((s = json_dumps((const json_t *)json_obj, JSON_COMPACT)) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory encoding a channel message");
		goto out;
	}
	n = strlen(s);
	if (n == 0 || n > ECA_FRAME_MAX) {
		r = eca_err_set(err, ECA_ERR_TOO_LARGE,
		    "a channel message of "
		    "%zu bytes does not fit in a frame (at most %d)",
		    n, ECA_FRAME_MAX);
		goto out;
	}
	if ((f = malloc(ECA_CHANNEL_FRAME_HDR + n)) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory encoding a channel message");
		goto out;
	}
	f[0] = (unsigned char)(n >> 24);
	f[1] = (unsigned char)(n >> 16);
	f[2] = (unsigned char)(n >> 8);
	f[3] = (unsigned char)n;
	memcpy(f + ECA_CHANNEL_FRAME_HDR, s, n);
	*out = f;
	*len = ECA_CHANNEL_FRAME_HDR + n;
	f = NULL;
	r = 0;
out:
	free(s);
	free(f);
	return r;
}

/* ------------------------------------------------------------------ */
/* Message codecs.                                                     */

int
eca_channel_load_object(const unsigned char *buf, size_t len, const char *what,
    json_t **out, struct eca_err *err)
{
	json_error_t jerr = {.line = 0}; /* jansson may leave it unset */
	char text[ECA_CHANNEL_SHOW_MAX + 1];
	json_t *j;

	*out = NULL;
	if (buf == NULL || len == 0)
		return eca_err_set(err, ECA_ERR_PROTOCOL, "the %s is empty",
		    what);
	if (len > ECA_FRAME_MAX)
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the %s is %zu "
		    "bytes long (at most %d)",
		    what, len, ECA_FRAME_MAX);
	if ((j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES,
		 &jerr)) == NULL) {
		/* jansson quotes the input it choked on: clean it. */
		show(jerr.text, strnlen(jerr.text, sizeof(jerr.text)), text,
		    sizeof(text));
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the %s is not "
		    "valid JSON (%s, at byte %d)",
		    what, text, jerr.position);
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
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the %s speaks "
		    "protocol version %lld; this host speaks version %d "
		    "(upgrade the older host)",
		    what, (long long)json_integer_value(v),
		    ECA_PROTOCOL_VERSION);
	return 0;
}

static int
get_string(const json_t *j, const char *key, const char *what, const char **out,
    size_t *len, struct eca_err *err)
{
	const json_t *v;

	/* Defined on every path, so that no caller reads an unset string. */
	*out = "";
	*len = 0;
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
host_string(const json_t *v, const char *key, const char *what, int allow_empty,
    char *out, struct eca_err *err)
{
	char text[ECA_CHANNEL_SHOW_MAX + 1];
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
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the %s's \"%s\" "
		    "is not a valid host name ('%s')",
		    what, key, text);
	}
	return 0;
}

static int
get_host(const json_t *j, const char *key, const char *what, int allow_empty,
    char *out, struct eca_err *err)
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
	char text[ECA_CHANNEL_SHOW_MAX + 1];
	const char *s;
	size_t len;
	int r, role;

	if ((r = get_string(j, "role", what, &s, &len, err)) != 0)
		return r;
	if (strlen(s) != len || (role = eca_config_role_from_name(s)) < 0) {
		show(s, len, text, sizeof(text));
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the %s's \"role\" "
		    "'%s' is not client, media or primary",
		    what, text);
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

/*
 * "nat" of a HELLO: optional (older hosts do not send it; absent is
 * false), but a boolean when present.
 */
static int
get_nat(const json_t *j, const char *what, int *out, struct eca_err *err)
{
	*out = 0;
	if (json_object_get(j, "nat") == NULL)
		return 0;
	return get_bool(j, "nat", what, out, err);
}

/* "token" of a server HELLO: optional, else 1 to 64 printable bytes. */
static int
get_token(const json_t *j, const char *what, char *out, size_t len,
    struct eca_err *err)
{
	const char *s;
	size_t slen, i;
	int r;

	out[0] = '\0';
	if (json_object_get(j, "token") == NULL)
		return 0;
	if ((r = get_string(j, "token", what, &s, &slen, err)) != 0)
		return r;
	for (i = 0; i < slen; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			break;
	if (slen == 0 || slen >= len || i < slen)
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the %s's \"token\" is not 1 to %zu printable characters",
		    what, len - 1);
	memcpy(out, s, slen + 1);
	return 0;
}

/*
 * Add "nat":true to a HELLO being built, for a NAT host only: a host
 * that is not one sends the same bytes as before.  On failure *j is
 * released and NULL, which eca_channel_frame_json reports.
 */
static void
set_nat(json_t **j, int nat)
{
	if (*j != NULL && nat &&
	    json_object_set_new(*j, "nat", json_true()) != 0) {
		json_decref(*j);
		*j = NULL;
	}
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
int
eca_channel_frame_json(json_t *j, unsigned char **out, size_t *len,
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
			return eca_err_set(err, ECA_ERR_INTERNAL,
			    "cannot "
			    "encode a server HELLO: primary %zu is not a valid "
			    "host name",
			    i + 1);
		}
		if (json_array_append_new(arr, json_string(h->primaries[i])) !=
		    0) {
			json_decref(arr);
			return eca_err_set(err, ECA_ERR_NOMEM,
			    "out of memory encoding a channel message");
		}
	}
	j = json_pack("{s:i, s:s, s:s, s:o, s:b}", "v", ECA_PROTOCOL_VERSION,
	    "host", h->host, "role", eca_config_role_name(h->role), "primaries",
	    arr, "cert", h->has_cert ? 1 : 0);
	set_nat(&j, h->nat);
	if (j != NULL && h->token[0] != '\0' &&
	    json_object_set_new(j, "token", json_string(h->token)) != 0) {
		json_decref(j);
		j = NULL;
	}
	return eca_channel_frame_json(j, out, len, err);
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
	if ((r = eca_channel_load_object(buf, len, what, &j, err)) != 0)
		goto out;
	if ((r = get_version(j, what, err)) != 0 ||
	    (r = get_host(j, "host", what, 0, out->host, err)) != 0 ||
	    (r = get_role(j, what, &out->role, err)) != 0 ||
	    (r = get_bool(j, "cert", what, &out->has_cert, err)) != 0 ||
	    (r = get_nat(j, what, &out->nat, err)) != 0 ||
	    (r = get_token(j, what, out->token, sizeof(out->token), err)) != 0)
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
		r = eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the %s lists %zu "
		    "primaries (at most %d)",
		    what, json_array_size(arr), ECA_MAX_SERVERS);
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
	    eca_config_role_name(h->role), "primary", h->primary, "purpose",
	    eca_purpose_name(h->purpose), "cert", h->has_cert ? 1 : 0);
	if (j != NULL && h->has_autoenroll &&
	    json_object_set_new(j, "auto", json_boolean(h->autoenroll)) != 0) {
		json_decref(j);
		j = NULL;
	}
	set_nat(&j, h->nat);
	return eca_channel_frame_json(j, out, len, err);
}

int
eca_channel_client_hello_parse(const unsigned char *buf, size_t len,
    struct eca_channel_client_hello *out, struct eca_err *err)
{
	static const char what[] = "client HELLO";
	char text[ECA_CHANNEL_SHOW_MAX + 1];
	json_t *j = NULL;
	const char *s;
	size_t slen;
	int r, p;

	memset(out, 0, sizeof(*out));
	if ((r = eca_channel_load_object(buf, len, what, &j, err)) != 0)
		goto out;
	if ((r = get_version(j, what, err)) != 0 ||
	    (r = get_host(j, "host", what, 0, out->host, err)) != 0 ||
	    (r = get_role(j, what, &out->role, err)) != 0 ||
	    (r = get_host(j, "primary", what, 0, out->primary, err)) != 0 ||
	    (r = get_bool(j, "cert", what, &out->has_cert, err)) != 0 ||
	    (r = get_string(j, "purpose", what, &s, &slen, err)) != 0)
		goto out;
	if (json_object_get(j, "auto") != NULL) {
		if ((r = get_bool(j, "auto", what, &out->autoenroll, err)) != 0)
			goto out;
		out->has_autoenroll = 1;
	}
	if ((r = get_nat(j, what, &out->nat, err)) != 0)
		goto out;
	if (strlen(s) != slen || (p = eca_purpose_from_name(s)) < 0) {
		show(s, slen, text, sizeof(text));
		r = eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the %s's \"purpose\" "
		    "'%s' is not one of backup, restore, replication, "
		    "console, control, ping",
		    what, text);
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
	    (v->code != 0 &&
		(v->code <= ECA_ERR_FIRST_ || v->code >= ECA_ERR_LAST_)) ||
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
	return eca_channel_frame_json(j, out, len, err);
}

int
eca_channel_verdict_parse(const unsigned char *buf, size_t len,
    struct eca_channel_verdict *out, struct eca_err *err)
{
	static const char what[] = "VERDICT";
	char text[ECA_CHANNEL_SHOW_MAX + 1];
	json_t *j = NULL;
	const char *s;
	size_t slen;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = eca_channel_load_object(buf, len, what, &j, err)) != 0)
		goto out;
	if ((r = get_bool(j, "accept", what, &out->accept, err)) != 0 ||
	    (r = get_host(j, "primary", what, 1, out->primary, err)) != 0 ||
	    (r = get_string(j, "code", what, &s, &slen, err)) != 0)
		goto out;
	show(s, slen, text, sizeof(text));
	if (strlen(s) != slen) {
		r = eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the %s's \"code\" "
		    "'%s' is not a reason code",
		    what, text);
		goto out;
	}
	out->code = eca_err_from_name(s);
	/* eca_err_from_name maps unknown names to INTERNAL: tell them apart. */
	if (out->code == ECA_ERR_INTERNAL && strcmp(s, "INTERNAL") != 0) {
		if (out->accept) {
			r = eca_err_set(err, ECA_ERR_PROTOCOL,
			    "the %s accepts "
			    "with the unknown code '%s'",
			    what, text);
			goto out;
		}
		/* A newer peer's reason: still a refusal. */
	}
	if (out->accept && out->code != 0) {
		r = eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the %s accepts with "
		    "code %s",
		    what, text);
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
