/* SPDX-License-Identifier: ISC */
/*
 * wire.c - the JSON of the /v1 API: what every codec shares (times,
 * strings, the field-table codec) and the error object.
 *
 * Builders return a new reference (or NULL when out of memory); parsers are
 * total: whatever they are given, they fill their result or return a clean
 * error, and never read past what they were given.  Peer-controlled text
 * that goes into an error message is cut short and escaped
 * (eca_text_sanitize) first, so messages stay safe to log and to send back.
 */
#include "wire_impl.h"

#include "text.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Times: RFC 3339 UTC, computed without the C library's time zone.   */

#define TIME_MIN (-62167219200LL) /* 0000-01-01T00:00:00Z */
#define TIME_MAX 253402300799LL	  /* 9999-12-31T23:59:59Z */

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t
days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int
days_in_month(int64_t y, int m)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
	    31};

	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		return 29;
	return mdays[m - 1];
}

/*
 * Outside years 0000..9999 there is no RFC 3339 form: "" like 0.  (Not
 * eca_text_rfc3339: the wire form is fixed-width for every year, and its
 * parser below must read back exactly what this writes.)
 */
void
eca_wire_time(int64_t t, char *buf, size_t len)
{
	int64_t days, secs, y;
	int m, d;

	if (buf == NULL || len == 0)
		return;
	buf[0] = '\0';
	if (t == 0 || t < TIME_MIN || t > TIME_MAX || len < 21)
		return;
	days = t / 86400;
	secs = t % 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)y, m, d,
	    (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
}

static int
digits(const char *s, size_t n, int *out)
{
	size_t i;
	int v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int
eca_wire_parse_time(const char *s, int64_t *out)
{
	int y, mo, d, h, mi, sec;

	if (s == NULL || out == NULL)
		return ECA_ERR_PARSE;
	if (s[0] == '\0') {
		*out = 0;
		return 0;
	}
	/* Exactly YYYY-MM-DDTHH:MM:SSZ, what eca_wire_time writes. */
	if (strnlen(s, 21) != 20 || s[4] != '-' || s[7] != '-' ||
	    s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z')
		return ECA_ERR_PARSE;
	if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
	    digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) ||
	    digits(s + 17, 2, &sec))
		return ECA_ERR_PARSE;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
	    mi > 59 || sec > 59)
		return ECA_ERR_PARSE;
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Builders.                                                           */

/*
 * jansson wants UTF-8, and a certificate field is not always that, so
 * invalid input degrades to its printable ASCII.
 */
json_t *
eca_wire_jstr(const char *s, size_t size)
{
	json_t *j;
	char tmp[ECA_DN_MAX];
	size_t len;

	len = strnlen(s, size);
	if ((j = json_stringn(s, len)) != NULL)
		return j;
	eca_text_sanitize(s, len, tmp, sizeof(tmp));
	return json_string(tmp);
}

void
eca_wire_put(json_t *o, const char *key, json_t *v, int *ok)
{
	if (v == NULL || json_object_set_new(o, key, v) != 0)
		*ok = 0;
}

json_t *
eca_wire_done(json_t *o, int ok)
{
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *
jtime(int64_t t)
{
	char buf[WIRE_TIME_MAX];

	eca_wire_time(t, buf, sizeof(buf));
	return json_string(buf);
}

/* "a, b,c" as ["a", "b", "c"]. */
static json_t *
san_array(const char *san, size_t size)
{
	json_t *a, *v;
	const char *p, *end, *e;
	size_t len;

	if ((a = json_array()) == NULL)
		return NULL;
	len = strnlen(san, size);
	p = san;
	end = san + len;
	while (p < end) {
		if ((e = memchr(p, ',', (size_t)(end - p))) == NULL)
			e = end;
		while (p < e && *p == ' ')
			p++;
		len = (size_t)(e - p);
		while (len > 0 && p[len - 1] == ' ')
			len--;
		if (len > 0) {
			if ((v = eca_wire_jstr(p, len)) == NULL ||
			    json_array_append_new(a, v) != 0) {
				json_decref(a);
				return NULL;
			}
		}
		p = e + 1;
	}
	return a;
}

/* The certinfo whose san_inline member is at p (WF_SAN). */
static struct eca_certinfo *
san_owner(const char *p)
{
	return (struct eca_certinfo *)(uintptr_t)(p -
	    offsetof(struct eca_certinfo, san_inline));
}

/* The JSON of the field f of the struct whose member is at p. */
static json_t *
field_json(const struct wire_field *f, const char *p)
{
	switch (f->type) {
	case WF_STR:
		return eca_wire_jstr(p, f->size);
	case WF_TIME:
		return jtime(*(const int64_t *)p);
	case WF_SAN:
		return san_array(eca_certinfo_san(san_owner(p)), ECA_SAN_MAX);
	case WF_INT64:
		return json_integer(*(const int64_t *)p);
	case WF_BOOL:
		return json_boolean(*(const int *)p);
	case WF_ROLE:
		return json_string(
		    eca_config_role_name(*(const enum eca_role *)p));
	case WF_STATE:
		return json_string(eca_state_name(*(const enum eca_state *)p));
	case WF_METHOD:
		return json_string(
		    eca_method_name(*(const enum eca_method *)p));
	}
	return NULL;
}

void
eca_wire_put_fields(json_t *o, const struct wire_field *f, size_t n,
    const void *base, int *ok)
{
	size_t i;

	for (i = 0; i < n; i++)
		eca_wire_put(o, f[i].key,
		    field_json(&f[i], (const char *)base + f[i].off), ok);
}

/* ------------------------------------------------------------------ */
/* Parsers.                                                            */

int
eca_wire_get_str(const json_t *o, const char *key, char *buf, size_t size,
    int code, struct eca_err *err)
{
	const json_t *v;
	const char *s;
	size_t len;

	buf[0] = '\0';
	if ((v = json_object_get(o, key)) == NULL)
		return eca_err_set(err, code, "field \"%s\" is missing", key);
	if (!json_is_string(v))
		return eca_err_set(err, code, "field \"%s\" must be a string",
		    key);
	s = json_string_value(v);
	len = json_string_length(v);
	if (memchr(s, '\0', len) != NULL)
		return eca_err_set(err, code,
		    "field \"%s\" contains a NUL byte", key);
	if (len >= size)
		return eca_err_set(err, code,
		    "field \"%s\" is longer than %zu bytes", key, size - 1);
	memcpy(buf, s, len);
	buf[len] = '\0';
	return 0;
}

static int
get_time(const json_t *o, const char *key, int64_t *out, int code,
    struct eca_err *err)
{
	char buf[WIRE_TIME_MAX];
	int r;

	if ((r = WIRE_GET_STR(o, key, buf, code, err)) != 0)
		return r;
	if (eca_wire_parse_time(buf, out) != 0)
		return eca_err_set(err, code,
		    "field \"%s\" is not an RFC 3339 "
		    "UTC time (YYYY-MM-DDTHH:MM:SSZ)",
		    key);
	return 0;
}

/* The names of a, checked by get_san, joined by commas into buf. */
static void
san_join(const json_t *a, char *buf)
{
	const json_t *v;
	size_t i, len, used = 0;

	json_array_foreach(a, i, v)
	{
		len = json_string_length(v);
		if (used > 0)
			buf[used++] = ',';
		memcpy(buf + used, json_string_value(v), len);
		used += len;
	}
	buf[used] = '\0';
}

/* An array of names, none empty or with a comma, joined by commas. */
static int
get_san(const json_t *o, const char *key, struct eca_certinfo *ci, int code,
    struct eca_err *err)
{
	const json_t *a, *v;
	const char *s;
	size_t i, len, used = 0;
	char *buf;

	ci->san_heap = NULL;
	ci->san_inline[0] = '\0';
	if ((a = json_object_get(o, key)) == NULL)
		return eca_err_set(err, code, "field \"%s\" is missing", key);
	if (!json_is_array(a))
		return eca_err_set(err, code,
		    "field \"%s\" must be an array of strings", key);
	json_array_foreach(a, i, v)
	{
		if (!json_is_string(v))
			return eca_err_set(err, code,
			    "field \"%s\" must be an array of strings", key);
		s = json_string_value(v);
		len = json_string_length(v);
		if (len == 0 || memchr(s, '\0', len) != NULL ||
		    memchr(s, ',', len) != NULL)
			return eca_err_set(err, code,
			    "field \"%s\" has an empty name or one with a "
			    "comma or NUL byte",
			    key);
		used += (used > 0) + len;
		if (used >= ECA_SAN_MAX)
			return eca_err_set(err, code,
			    "field \"%s\" is longer than %d bytes", key,
			    ECA_SAN_MAX - 1);
	}
	if (used < sizeof(ci->san_inline))
		buf = ci->san_inline;
	else if ((buf = malloc(used + 1)) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory for field \"%s\"", key);
	else
		ci->san_heap = buf;
	san_join(a, buf);
	return 0;
}

/* An integer or a boolean member: present and of that type. */
static const json_t *
get_typed(const json_t *o, const struct wire_field *f, int code,
    struct eca_err *err)
{
	const json_t *v;

	if ((v = json_object_get(o, f->key)) == NULL) {
		eca_err_set(err, code, "field \"%s\" is missing", f->key);
		return NULL;
	}
	if (f->type == WF_INT64 && !json_is_integer(v)) {
		eca_err_set(err, code, "field \"%s\" must be an integer",
		    f->key);
		return NULL;
	}
	if (f->type == WF_BOOL && !json_is_boolean(v)) {
		eca_err_set(err, code, "field \"%s\" must be true or false",
		    f->key);
		return NULL;
	}
	return v;
}

/* A role, state or method by its name; -1 if it is none. */
static int
get_enum(const struct wire_field *f, const char *name)
{
	switch (f->type) {
	case WF_ROLE:
		return eca_config_role_from_name(name);
	case WF_STATE:
		return eca_state_from_name(name);
	case WF_METHOD:
		return eca_method_from_name(name);
	default:
		return -1;
	}
}

static int
get_field(const json_t *o, const struct wire_field *f, char *p, int code,
    struct eca_err *err)
{
	static const char *const enum_wanted[] = {
	    [WF_ROLE] = "one of client, media, primary",
	    [WF_STATE] = "a known state",
	    [WF_METHOD] = "AUTO, MANUAL or ADMIN",
	};
	const json_t *v;
	char name[WIRE_NAME_MAX];
	int r, e;

	switch (f->type) {
	case WF_STR:
		return eca_wire_get_str(o, f->key, p, f->size, code, err);
	case WF_TIME:
		return get_time(o, f->key, (int64_t *)p, code, err);
	case WF_SAN:
		return get_san(o, f->key, san_owner(p), code, err);
	case WF_INT64:
	case WF_BOOL:
		if ((v = get_typed(o, f, code, err)) == NULL)
			return code;
		if (f->type == WF_INT64)
			*(int64_t *)p = json_integer_value(v);
		else
			*(int *)p = json_is_true(v);
		return 0;
	case WF_ROLE:
	case WF_STATE:
	case WF_METHOD:
		if ((r = WIRE_GET_STR(o, f->key, name, code, err)) != 0)
			return r;
		if ((e = get_enum(f, name)) < 0)
			return eca_err_set(err, code, "field \"%s\" is not %s",
			    f->key, enum_wanted[f->type]);
		/* Every enum of a record is the size of an int. */
		memcpy(p, &e, sizeof(e));
		return 0;
	}
	return eca_err_set(err, ECA_ERR_INTERNAL,
	    "field \"%s\" has no "
	    "decoder",
	    f->key);
}

int
eca_wire_get_fields(const json_t *o, const struct wire_field *f, size_t n,
    void *base, int code, struct eca_err *err)
{
	size_t i;
	int r;

	for (i = 0; i < n; i++)
		if ((r = get_field(o, &f[i], (char *)base + f[i].off, code,
			 err)) != 0)
			return r;
	return 0;
}

_Static_assert(sizeof(enum eca_role) == sizeof(int) &&
	sizeof(enum eca_state) == sizeof(int) &&
	sizeof(enum eca_method) == sizeof(int),
    "WF_ROLE, WF_STATE and WF_METHOD are stored as int");

/* ------------------------------------------------------------------ */
/* Error objects.                                                      */

json_t *
eca_wire_error(int code, const char *message)
{
	json_t *o, *e;
	int ok = 1;

	if (message == NULL || message[0] == '\0')
		message = eca_err_desc(code);
	if ((e = json_object()) == NULL)
		return NULL;
	eca_wire_put(e, "code", json_string(eca_err_name(code)), &ok);
	eca_wire_put(e, "message", eca_wire_jstr(message, ECA_ERR_MSG_MAX),
	    &ok);
	if (!ok || (o = json_object()) == NULL) {
		json_decref(e);
		return NULL;
	}
	eca_wire_put(o, "error", e, &ok);
	return eca_wire_done(o, ok);
}

int
eca_wire_parse_error(const json_t *j, struct eca_err *err)
{
	const json_t *e, *c, *m;
	char msg[ECA_ERR_MSG_MAX];
	int code;

	if (!json_is_object(j) || (e = json_object_get(j, "error")) == NULL ||
	    !json_is_object(e))
		return 0;
	c = json_object_get(e, "code");
	if (!json_is_string(c))
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the server sent an error without a code");
	code = eca_err_from_name(json_string_value(c));
	if (code == 0)
		code = ECA_ERR_PROTOCOL;
	m = json_object_get(e, "message");
	/* A whole message from a peer, escaped, as long as msg holds. */
	if (json_is_string(m))
		eca_text_sanitize(json_string_value(m), json_string_length(m),
		    msg, sizeof(msg));
	else
		msg[0] = '\0';
	return eca_err_set(err, code, "%s",
	    msg[0] != '\0' ? msg : eca_err_desc(code));
}
