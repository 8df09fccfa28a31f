/* SPDX-License-Identifier: ISC */
/*
 * wire_body.c - the bodies of requests, straight from the network:
 * POST /v1/enrollments, approve and reject, POST /v1/mappings.
 *
 * Unlike records from a primary, a request with an unknown member is
 * refused: a typo in a client must not silently mean something else.
 */
#include "wire_impl.h"

#include "text.h"

#include <string.h>

/* Room for peer text quoted in a message. */
#define QUOTE_MAX 64
/* Room for a fingerprint as sent, colons and all (64 digits, 31 colons). */
#define FP_RAW_MAX 128

/* Peer text quoted in a message: at most 48 bytes, escaped. */
static void
quote(const char *s, size_t len, char *out, size_t outlen)
{
	eca_text_sanitize(s, len, out, outlen < 49 ? outlen : 49);
}

/* A JSON object body of at most ECA_BODY_MAX bytes; *root is the caller's. */
static int
load_body(const char *buf, size_t len, json_t **root, struct eca_err *err)
{
	json_error_t jerr = {.line = 0}; /* jansson may leave it unset */
	char safe[QUOTE_MAX];

	*root = NULL;
	if (len > ECA_BODY_MAX)
		return eca_err_set(err, ECA_ERR_TOO_LARGE,
		    "request body of "
		    "%zu bytes is larger than the %d allowed",
		    len, ECA_BODY_MAX);
	if ((*root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL) {
		quote(jerr.text, strnlen(jerr.text, sizeof(jerr.text)), safe,
		    sizeof(safe));
		return eca_err_set(err, ECA_ERR_BAD_REQUEST,
		    "request body is "
		    "not valid JSON: %s (line %d, column %d)",
		    safe, jerr.line, jerr.column);
	}
	if (!json_is_object(*root)) {
		json_decref(*root);
		*root = NULL;
		return eca_err_set(err, ECA_ERR_BAD_REQUEST,
		    "request body must be a JSON object");
	}
	return 0;
}

static int
unknown_key(const char *key, const char *list, struct eca_err *err)
{
	char safe[QUOTE_MAX];

	quote(key, strlen(key), safe, sizeof(safe));
	return eca_err_set(err, ECA_ERR_BAD_REQUEST,
	    "unknown field \"%s\" in "
	    "the request (known: %s)",
	    safe, list);
}

/* Only the keys in known (NULL-terminated) may appear in o. */
static int
only_keys(const json_t *o, const char *const *known, const char *list,
    struct eca_err *err)
{
	const char *key;
	const json_t *v;
	size_t i;

	json_object_foreach((json_t *)o, key, v)
	{
		(void)v;
		for (i = 0; known[i] != NULL; i++)
			if (strcmp(key, known[i]) == 0)
				break;
		if (known[i] == NULL)
			return unknown_key(key, list, err);
	}
	return 0;
}

/* Only the canonical spelling of a host name goes further. */
static int
canon_host(char *host, size_t size, struct eca_err *err)
{
	struct eca_err he;
	int r;

	if ((r = eca_hostname_canon(host, host, size, &he)) != 0)
		return eca_err_set(err, r, "field \"host\": %s", he.msg);
	return 0;
}

static int
body_bool(const json_t *v, const char *key, int *out, struct eca_err *err)
{
	if (!json_is_boolean(v))
		return eca_err_set(err, ECA_ERR_BAD_REQUEST,
		    "field \"%s\" must be true or false", key);
	*out = json_is_true(v);
	return 0;
}

static int
body_role(const json_t *v, enum eca_role *out, struct eca_err *err)
{
	int e;

	if (!json_is_string(v) ||
	    (e = eca_config_role_from_name(json_string_value(v))) < 0)
		return eca_err_set(err, ECA_ERR_BAD_REQUEST,
		    "field \"role\" "
		    "must be \"client\", \"media\" or \"primary\"");
	*out = (enum eca_role)e;
	return 0;
}

/* A request names its method in lower case, unlike a record. */
static int
body_method(const json_t *v, enum eca_method *out, struct eca_err *err)
{
	const char *s = json_is_string(v) ? json_string_value(v) : "";

	if (strcmp(s, "auto") == 0)
		*out = ECA_METHOD_AUTO;
	else if (strcmp(s, "manual") == 0)
		*out = ECA_METHOD_MANUAL;
	else
		return eca_err_set(err, ECA_ERR_BAD_REQUEST,
		    "field "
		    "\"method\" must be \"auto\" or \"manual\"");
	return 0;
}

/* Each member in the order sent; the first bad one is the error. */
static int
body_fields(const json_t *o, struct eca_enroll_body *out, struct eca_err *err)
{
	const char *key;
	const json_t *v;
	int r, have_host = 0;

	json_object_foreach((json_t *)o, key, v)
	{
		if (strcmp(key, "host") == 0) {
			if ((r = WIRE_GET_STR(o, "host", out->host,
				 ECA_ERR_BAD_REQUEST, err)) != 0 ||
			    (r = canon_host(out->host, sizeof(out->host),
				 err)) != 0)
				return r;
			have_host = 1;
		} else if (strcmp(key, "precheck") == 0)
			r = body_bool(v, key, &out->precheck, err);
		else if (strcmp(key, "force") == 0)
			r = body_bool(v, key, &out->force, err);
		else if (strcmp(key, "role") == 0)
			r = body_role(v, &out->role, err);
		else if (strcmp(key, "method") == 0)
			r = body_method(v, &out->method, err);
		else if (strcmp(key, "nat") == 0)
			r = body_bool(v, key, &out->nat, err);
		else
			r = unknown_key(key,
			    "host, precheck, force, role, "
			    "method, nat",
			    err);
		if (r != 0)
			return r;
	}
	if (!have_host)
		return eca_err_set(err, ECA_ERR_BAD_REQUEST,
		    "field \"host\" is missing");
	return 0;
}

static void
enroll_body_clear(struct eca_enroll_body *out)
{
	memset(out, 0, sizeof(*out));
	out->role = ECA_ROLE_CLIENT;
	out->method = ECA_METHOD_MANUAL;
}

int
eca_wire_parse_enroll_body(const char *buf, size_t len,
    struct eca_enroll_body *out, struct eca_err *err)
{
	json_t *root = NULL;
	int r = ECA_ERR_INTERNAL;

	if (out == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_wire_parse_enroll_body: no result given");
	enroll_body_clear(out);
	/* A body too large is refused as that (load_body), even a NULL one. */
	if (len <= ECA_BODY_MAX && (buf == NULL || len == 0)) {
		r = eca_err_set(err, ECA_ERR_BAD_REQUEST,
		    "request body is "
		    "empty (send a JSON object with \"host\")");
		goto out;
	}
	if ((r = load_body(buf, len, &root, err)) != 0 ||
	    (r = body_fields(root, out, err)) != 0)
		goto out;
	r = 0;
out:
	json_decref(root);
	if (r != 0)
		enroll_body_clear(out);
	return r;
}

int
eca_wire_fp_normalize(const char *in, char out[ECA_FP_HEX_LEN + 1])
{
	size_t i, n = 0;
	char c;

	out[0] = '\0';
	if (in == NULL)
		return -1;
	for (i = 0; in[i] != '\0'; i++) {
		c = in[i];
		if (c == ':')
			continue;
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) ||
		    n >= ECA_FP_HEX_LEN) {
			out[0] = '\0';
			return -1;
		}
		out[n++] = c;
	}
	out[n] = '\0';
	if (n != ECA_FP_HEX_LEN) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

int
eca_wire_parse_decision_body(const char *buf, size_t len,
    char fp[ECA_FP_HEX_LEN + 1], struct eca_err *err)
{
	static const char *const known[] = {"fingerprint", NULL};
	json_t *root = NULL;
	char raw[FP_RAW_MAX];
	int r = ECA_ERR_INTERNAL;

	fp[0] = '\0';
	if (buf == NULL || len == 0)
		return eca_err_set(err, ECA_ERR_FINGERPRINT_REQUIRED,
		    "the request names no certificate: send "
		    "{\"fingerprint\": SHA256} of the waiting certificate "
		    "decided on (see GET /v1/enrollments/NAME)");
	if ((r = load_body(buf, len, &root, err)) != 0 ||
	    (r = only_keys(root, known, "fingerprint", err)) != 0)
		goto out;
	if (json_object_get(root, "fingerprint") == NULL) {
		r = eca_err_set(err, ECA_ERR_FINGERPRINT_REQUIRED,
		    "field \"fingerprint\" is missing: name the waiting "
		    "certificate decided on (see GET /v1/enrollments/NAME)");
		goto out;
	}
	if ((r = WIRE_GET_STR(root, "fingerprint", raw, ECA_ERR_BAD_REQUEST,
		 err)) != 0)
		goto out;
	if (eca_wire_fp_normalize(raw, fp) != 0) {
		r = eca_err_set(err, ECA_ERR_BAD_REQUEST,
		    "field "
		    "\"fingerprint\" is not a SHA-256 fingerprint (64 hex "
		    "digits, colons allowed)");
		goto out;
	}
	r = 0;
out:
	json_decref(root);
	return r;
}

int
eca_wire_parse_map_body(const char *buf, size_t len, char host[ECA_HOST_MAX],
    char subject[ECA_DN_MAX], struct eca_err *err)
{
	static const char *const known[] = {"host", "subject", NULL};
	json_t *root = NULL;
	int r = ECA_ERR_INTERNAL;

	host[0] = '\0';
	subject[0] = '\0';
	if (buf == NULL || len == 0)
		return eca_err_set(err, ECA_ERR_BAD_REQUEST,
		    "request body is "
		    "empty (send {\"host\": NAME, \"subject\": DN})");
	if ((r = load_body(buf, len, &root, err)) != 0 ||
	    (r = only_keys(root, known, "host, subject", err)) != 0 ||
	    (r = eca_wire_get_str(root, "host", host, ECA_HOST_MAX,
		 ECA_ERR_BAD_REQUEST, err)) != 0 ||
	    (r = eca_wire_get_str(root, "subject", subject, ECA_DN_MAX,
		 ECA_ERR_BAD_REQUEST, err)) != 0 ||
	    (r = canon_host(host, ECA_HOST_MAX, err)) != 0) {
		host[0] = '\0';
		subject[0] = '\0';
	}
	json_decref(root);
	return r;
}
