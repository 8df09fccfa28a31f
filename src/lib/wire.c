/*
 * wire.c - the JSON of the /v1 API, both directions.
 *
 * Builders return a new reference (or NULL when out of memory); parsers are
 * total: whatever they are given, they fill their result or return a clean
 * error, and never read past what they were given.  Peer-controlled text
 * that goes into an error message is cut short and escaped
 * (eca_text_sanitize) first, so messages stay safe to log and to send back.
 */
#include "wire.h"

#include "text.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* Lower case on the wire, like the ROLE key of eca.conf. */
static const char *const role_names[] = {
	[ECA_ROLE_CLIENT] = "client",
	[ECA_ROLE_MEDIA] = "media",
	[ECA_ROLE_PRIMARY] = "primary",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *
role_name(enum eca_role r)
{
	if ((unsigned)r >= NELEM(role_names))
		return "unknown";
	return role_names[r];
}

static int
role_from_name(const char *s)
{
	size_t i;

	for (i = 0; i < NELEM(role_names); i++)
		if (strcmp(s, role_names[i]) == 0)
			return (int)i;
	return -1;
}

/* Peer text quoted in a message: at most 48 bytes, escaped. */
static void
sanitize(const char *s, size_t len, char *out, size_t outlen)
{
	eca_text_sanitize(s, len, out, outlen < 49 ? outlen : 49);
}

/* A whole message from a peer, escaped, as long as out holds. */
static void
sanitize_message(const char *s, size_t len, char *out, size_t outlen)
{
	eca_text_sanitize(s, len, out, outlen);
}

/* ------------------------------------------------------------------ */
/* Times: RFC 3339 UTC, computed without the C library's time zone.   */

#define TIME_MIN (-62167219200LL)	/* 0000-01-01T00:00:00Z */
#define TIME_MAX 253402300799LL		/* 9999-12-31T23:59:59Z */

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
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };

	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		return 29;
	return mdays[m - 1];
}

/* Outside years 0000..9999 there is no RFC 3339 form: "" like 0. */
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
	if (digits(s, 4, &y) || digits(s + 5, 2, &mo) ||
	    digits(s + 8, 2, &d) || digits(s + 11, 2, &h) ||
	    digits(s + 14, 2, &mi) || digits(s + 17, 2, &sec))
		return ECA_ERR_PARSE;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) ||
	    h > 23 || mi > 59 || sec > 59)
		return ECA_ERR_PARSE;
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Builders.                                                           */

/*
 * A JSON string of s; jansson wants UTF-8, and a certificate field is not
 * always that, so invalid input degrades to its printable ASCII.
 */
static json_t *
jstr(const char *s, size_t size)
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

#define JSTR(field) jstr((field), sizeof(field))

/* Set o[key] = v, taking v; *ok turns 0 on any failure. */
static void
put(json_t *o, const char *key, json_t *v, int *ok)
{
	if (v == NULL || json_object_set_new(o, key, v) != 0)
		*ok = 0;
}

static json_t *
jtime(int64_t t)
{
	char buf[32];

	eca_wire_time(t, buf, sizeof(buf));
	return json_string(buf);
}

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
			if ((v = jstr(p, len)) == NULL ||
			    json_array_append_new(a, v) != 0) {
				json_decref(a);
				return NULL;
			}
		}
		p = e + 1;
	}
	return a;
}

json_t *
eca_wire_certinfo(const struct eca_certinfo *ci)
{
	json_t *o;
	int ok = 1;

	if (ci == NULL || (o = json_object()) == NULL)
		return NULL;
	put(o, "fingerprint", JSTR(ci->fingerprint), &ok);
	put(o, "spki_fingerprint", JSTR(ci->spki_fingerprint), &ok);
	put(o, "subject", JSTR(ci->subject), &ok);
	put(o, "issuer", JSTR(ci->issuer), &ok);
	put(o, "serial", JSTR(ci->serial), &ok);
	put(o, "not_before", jtime(ci->not_before), &ok);
	put(o, "not_after", jtime(ci->not_after), &ok);
	put(o, "key", JSTR(ci->key_desc), &ok);
	put(o, "signature_algorithm", JSTR(ci->sig_alg), &ok);
	put(o, "cn", JSTR(ci->cn), &ok);
	put(o, "san", san_array(ci->san, sizeof(ci->san)), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *
eca_wire_enrollment(const struct eca_enrollment *rec)
{
	json_t *o, *cand = NULL;
	int ok = 1;

	if (rec == NULL || (o = json_object()) == NULL)
		return NULL;
	put(o, "primary", JSTR(rec->primary), &ok);
	put(o, "host", JSTR(rec->host), &ok);
	put(o, "host_id", JSTR(rec->host_id), &ok);
	put(o, "role", json_string(role_name(rec->role)), &ok);
	put(o, "state", json_string(eca_state_name(rec->state)), &ok);
	put(o, "method", json_string(eca_method_name(rec->method)), &ok);
	put(o, "certificate", eca_wire_certinfo(&rec->cert), &ok);
	if (rec->has_candidate) {
		if ((cand = eca_wire_certinfo(&rec->candidate)) != NULL) {
			put(cand, "at", jtime(rec->candidate_at), &ok);
			put(cand, "source", JSTR(rec->candidate_source), &ok);
		}
		put(o, "candidate", cand, &ok);
	}
	/* How many wait: "candidate" is only the newest of them. */
	put(o, "candidate_count", json_integer(rec->ncandidates > 0 ?
	    rec->ncandidates : rec->has_candidate), &ok);
	put(o, "enrolled_at", jtime(rec->enrolled_at), &ok);
	put(o, "updated_at", jtime(rec->updated_at), &ok);
	put(o, "last_seen", jtime(rec->last_seen), &ok);
	put(o, "source", JSTR(rec->source), &ok);
	put(o, "version", json_integer(rec->version), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *
eca_wire_history_entry(const struct eca_history_entry *h)
{
	json_t *o;
	int ok = 1;

	if (h == NULL || (o = json_object()) == NULL)
		return NULL;
	put(o, "id", json_integer(h->id), &ok);
	put(o, "host", JSTR(h->host), &ok);
	put(o, "host_id", JSTR(h->host_id), &ok);
	put(o, "event", JSTR(h->event), &ok);
	put(o, "state", json_string(eca_state_name(h->state)), &ok);
	put(o, "fingerprint", JSTR(h->fingerprint), &ok);
	put(o, "spki_fingerprint", JSTR(h->spki_fingerprint), &ok);
	put(o, "actor", JSTR(h->actor), &ok);
	put(o, "source", JSTR(h->source), &ok);
	put(o, "at", jtime(h->at), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *
eca_wire_roster_entry(const struct eca_change *ch)
{
	json_t *o;
	int ok = 1;

	if (ch == NULL || (o = json_object()) == NULL)
		return NULL;
	put(o, "host", JSTR(ch->host), &ok);
	put(o, "host_id", JSTR(ch->host_id), &ok);
	put(o, "state", json_string(eca_state_name(ch->state)), &ok);
	put(o, "fingerprint", JSTR(ch->fingerprint), &ok);
	put(o, "spki_fingerprint", JSTR(ch->spki_fingerprint), &ok);
	put(o, "not_after", jtime(ch->not_after), &ok);
	put(o, "version", json_integer(ch->version), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *
eca_wire_roster(const char *primary, int64_t since, int64_t version,
    int64_t next, int full, int more, const struct eca_change *ch, size_t n)
{
	json_t *o, *a;
	size_t i;
	int ok = 1;

	if (primary == NULL || (ch == NULL && n > 0) ||
	    (o = json_object()) == NULL)
		return NULL;
	if ((a = json_array()) == NULL) {
		json_decref(o);
		return NULL;
	}
	for (i = 0; i < n && ok; i++)
		if (json_array_append_new(a, eca_wire_roster_entry(&ch[i])) != 0)
			ok = 0;
	put(o, "primary", json_string(primary), &ok);
	put(o, "since", json_integer(since), &ok);
	put(o, "version", json_integer(version), &ok);
	put(o, "next", json_integer(next), &ok);
	put(o, "full", json_boolean(full), &ok);
	put(o, "more", json_boolean(more), &ok);
	put(o, "entries", a, &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *
eca_wire_error(int code, const char *message)
{
	json_t *o, *e;
	int ok = 1;

	if (message == NULL || message[0] == '\0')
		message = eca_strerror(code);
	if ((e = json_object()) == NULL)
		return NULL;
	put(e, "code", json_string(eca_err_name(code)), &ok);
	put(e, "message", jstr(message, ECA_ERR_MSG_MAX), &ok);
	if (!ok || (o = json_object()) == NULL) {
		json_decref(e);
		return NULL;
	}
	put(o, "error", e, &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ------------------------------------------------------------------ */
/* Parsers.                                                            */

/*
 * A string member: present, a string without NUL bytes, shorter than
 * size.  code is the error to report.
 */
static int
get_str(const json_t *o, const char *key, char *buf, size_t size, int code,
    struct eca_err *err)
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

#define GET_STR(o, key, field, code, err) \
	get_str((o), (key), (field), sizeof(field), (code), (err))

static int
get_time(const json_t *o, const char *key, int64_t *out, int code,
    struct eca_err *err)
{
	char buf[32];
	int r;

	if ((r = GET_STR(o, key, buf, code, err)) != 0)
		return r;
	if (eca_wire_parse_time(buf, out) != 0)
		return eca_err_set(err, code, "field \"%s\" is not an RFC 3339 "
		    "UTC time (YYYY-MM-DDTHH:MM:SSZ)", key);
	return 0;
}

static int
get_san(const json_t *o, char *buf, size_t size, int code,
    struct eca_err *err)
{
	const json_t *a, *v;
	const char *s;
	size_t i, len, used = 0;

	buf[0] = '\0';
	if ((a = json_object_get(o, "san")) == NULL)
		return eca_err_set(err, code, "field \"san\" is missing");
	if (!json_is_array(a))
		return eca_err_set(err, code,
		    "field \"san\" must be an array of strings");
	json_array_foreach(a, i, v) {
		if (!json_is_string(v))
			return eca_err_set(err, code,
			    "field \"san\" must be an array of strings");
		s = json_string_value(v);
		len = json_string_length(v);
		if (len == 0 || memchr(s, '\0', len) != NULL ||
		    memchr(s, ',', len) != NULL)
			return eca_err_set(err, code,
			    "field \"san\" has an empty name or one with a "
			    "comma or NUL byte");
		if (used + (used > 0) + len >= size)
			return eca_err_set(err, code,
			    "field \"san\" is longer than %zu bytes", size - 1);
		if (used > 0)
			buf[used++] = ',';
		memcpy(buf + used, s, len);
		used += len;
		buf[used] = '\0';
	}
	return 0;
}

static int
certinfo_code(const json_t *j, struct eca_certinfo *ci, int code,
    struct eca_err *err)
{
	int r;

	memset(ci, 0, sizeof(*ci));
	if (!json_is_object(j))
		return eca_err_set(err, code,
		    "certificate details must be a JSON object");
	if ((r = GET_STR(j, "fingerprint", ci->fingerprint, code, err)) ||
	    (r = GET_STR(j, "spki_fingerprint", ci->spki_fingerprint, code,
	    err)) ||
	    (r = GET_STR(j, "subject", ci->subject, code, err)) ||
	    (r = GET_STR(j, "issuer", ci->issuer, code, err)) ||
	    (r = GET_STR(j, "serial", ci->serial, code, err)) ||
	    (r = get_time(j, "not_before", &ci->not_before, code, err)) ||
	    (r = get_time(j, "not_after", &ci->not_after, code, err)) ||
	    (r = GET_STR(j, "key", ci->key_desc, code, err)) ||
	    (r = GET_STR(j, "signature_algorithm", ci->sig_alg, code, err)) ||
	    (r = GET_STR(j, "cn", ci->cn, code, err)) ||
	    (r = get_san(j, ci->san, sizeof(ci->san), code, err))) {
		memset(ci, 0, sizeof(*ci));
		return r;
	}
	return 0;
}

/* What the primary sends that does not fit is a protocol error. */
int
eca_wire_parse_certinfo(const json_t *j, struct eca_certinfo *out,
    struct eca_err *err)
{
	if (out == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_wire_parse_certinfo: no result given");
	return certinfo_code(j, out, ECA_ERR_PROTOCOL, err);
}

static int
enrollment_fields(const json_t *j, struct eca_enrollment *rec,
    struct eca_err *err)
{
	const int code = ECA_ERR_PROTOCOL;
	const json_t *v, *cand;
	char name[16];
	int r, e;

	if ((r = GET_STR(j, "primary", rec->primary, code, err)) ||
	    (r = GET_STR(j, "host", rec->host, code, err)) ||
	    (r = GET_STR(j, "host_id", rec->host_id, code, err)))
		return r;
	if ((r = GET_STR(j, "role", name, code, err)) != 0)
		return r;
	if ((e = role_from_name(name)) < 0)
		return eca_err_set(err, code, "field \"role\" is not one of "
		    "client, media, primary");
	rec->role = (enum eca_role)e;
	if ((r = GET_STR(j, "state", name, code, err)) != 0)
		return r;
	if ((e = eca_state_from_name(name)) < 0)
		return eca_err_set(err, code,
		    "field \"state\" is not a known state");
	rec->state = (enum eca_state)e;
	if ((r = GET_STR(j, "method", name, code, err)) != 0)
		return r;
	if ((e = eca_method_from_name(name)) < 0)
		return eca_err_set(err, code,
		    "field \"method\" is not AUTO, MANUAL or ADMIN");
	rec->method = (enum eca_method)e;
	if ((v = json_object_get(j, "certificate")) == NULL)
		return eca_err_set(err, code,
		    "field \"certificate\" is missing");
	if ((r = certinfo_code(v, &rec->cert, code, err)) != 0)
		return r;
	cand = json_object_get(j, "candidate");
	if (cand != NULL && !json_is_null(cand)) {
		if ((r = certinfo_code(cand, &rec->candidate, code, err)) ||
		    (r = get_time(cand, "at", &rec->candidate_at, code,
		    err)) ||
		    (r = GET_STR(cand, "source", rec->candidate_source, code,
		    err)))
			return r;
		rec->has_candidate = 1;
		rec->ncandidates = 1;
	}
	/* Absent from primaries from before the candidates list. */
	v = json_object_get(j, "candidate_count");
	if (v != NULL && (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > ECA_CANDIDATES_MAX))
		return eca_err_set(err, code, "field \"candidate_count\" must "
		    "be a whole number from 0 to %d", ECA_CANDIDATES_MAX);
	if (v != NULL)
		rec->ncandidates = (int)json_integer_value(v);
	if ((r = get_time(j, "enrolled_at", &rec->enrolled_at, code, err)) ||
	    (r = get_time(j, "updated_at", &rec->updated_at, code, err)) ||
	    (r = get_time(j, "last_seen", &rec->last_seen, code, err)) ||
	    (r = GET_STR(j, "source", rec->source, code, err)))
		return r;
	if ((v = json_object_get(j, "version")) == NULL)
		return eca_err_set(err, code, "field \"version\" is missing");
	if (!json_is_integer(v))
		return eca_err_set(err, code,
		    "field \"version\" must be an integer");
	rec->version = json_integer_value(v);
	return 0;
}

/*
 * Unknown members are ignored here (unlike in requests), so that a newer
 * primary can add fields without breaking older command lines.
 */
int
eca_wire_parse_enrollment(const json_t *j, struct eca_enrollment *out,
    struct eca_err *err)
{
	int r;

	if (out == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_wire_parse_enrollment: no result given");
	memset(out, 0, sizeof(*out));
	if (!json_is_object(j))
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "an enrollment record must be a JSON object");
	if ((r = enrollment_fields(j, out, err)) != 0)
		memset(out, 0, sizeof(*out));
	return r;
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
	if (json_is_string(m))
		sanitize_message(json_string_value(m), json_string_length(m),
		    msg, sizeof(msg));
	else
		msg[0] = '\0';
	return eca_err_set(err, code, "%s", msg[0] != '\0' ? msg :
	    eca_strerror(code));
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
body_fields(const json_t *o, struct eca_enroll_body *out, struct eca_err *err)
{
	const char *key;
	const json_t *v;
	struct eca_err he;
	char safe[64];
	int r, e, have_host = 0;

	json_object_foreach((json_t *)o, key, v) {
		if (strcmp(key, "host") == 0) {
			if ((r = GET_STR(o, "host", out->host,
			    ECA_ERR_BAD_REQUEST, err)) != 0)
				return r;
			/* Only the canonical spelling goes further. */
			if ((r = eca_hostname_canon(out->host, out->host,
			    sizeof(out->host), &he)) != 0)
				return eca_err_set(err, r, "field \"host\": "
				    "%s", he.msg);
			have_host = 1;
		} else if (strcmp(key, "precheck") == 0) {
			if ((r = body_bool(v, key, &out->precheck, err)) != 0)
				return r;
		} else if (strcmp(key, "force") == 0) {
			if ((r = body_bool(v, key, &out->force, err)) != 0)
				return r;
		} else if (strcmp(key, "role") == 0) {
			if (!json_is_string(v) ||
			    (e = role_from_name(json_string_value(v))) < 0)
				return eca_err_set(err, ECA_ERR_BAD_REQUEST,
				    "field \"role\" must be \"client\", "
				    "\"media\" or \"primary\"");
			out->role = (enum eca_role)e;
		} else if (strcmp(key, "method") == 0) {
			if (json_is_string(v) &&
			    strcmp(json_string_value(v), "auto") == 0)
				out->method = ECA_METHOD_AUTO;
			else if (json_is_string(v) &&
			    strcmp(json_string_value(v), "manual") == 0)
				out->method = ECA_METHOD_MANUAL;
			else
				return eca_err_set(err, ECA_ERR_BAD_REQUEST,
				    "field \"method\" must be \"auto\" or "
				    "\"manual\"");
		} else {
			sanitize(key, strlen(key), safe, sizeof(safe));
			return eca_err_set(err, ECA_ERR_BAD_REQUEST,
			    "unknown field \"%s\" in the request (known: "
			    "host, precheck, force, role, method)", safe);
		}
	}
	if (!have_host)
		return eca_err_set(err, ECA_ERR_BAD_REQUEST,
		    "field \"host\" is missing");
	return 0;
}

int
eca_wire_parse_enroll_body(const char *buf, size_t len,
    struct eca_enroll_body *out, struct eca_err *err)
{
	json_error_t jerr;
	json_t *root = NULL;
	char safe[64];
	int r = ECA_ERR_INTERNAL;

	if (out == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_wire_parse_enroll_body: no result given");
	memset(out, 0, sizeof(*out));
	out->role = ECA_ROLE_CLIENT;
	out->method = ECA_METHOD_MANUAL;
	if (len > ECA_BODY_MAX) {
		r = eca_err_set(err, ECA_ERR_TOO_LARGE,
		    "request body of %zu bytes is larger than the %d allowed",
		    len, ECA_BODY_MAX);
		goto out;
	}
	if (buf == NULL || len == 0) {
		r = eca_err_set(err, ECA_ERR_BAD_REQUEST,
		    "request body is empty (send a JSON object with \"host\")");
		goto out;
	}
	if ((root = json_loadb(buf, len, JSON_REJECT_DUPLICATES,
	    &jerr)) == NULL) {
		sanitize(jerr.text, strnlen(jerr.text, sizeof(jerr.text)), safe,
		    sizeof(safe));
		r = eca_err_set(err, ECA_ERR_BAD_REQUEST,
		    "request body is not valid JSON: %s (line %d, column %d)",
		    safe, jerr.line, jerr.column);
		goto out;
	}
	if (!json_is_object(root)) {
		r = eca_err_set(err, ECA_ERR_BAD_REQUEST,
		    "request body must be a JSON object");
		goto out;
	}
	if ((r = body_fields(root, out, err)) != 0)
		goto out;
	r = 0;
 out:
	json_decref(root);
	if (r != 0) {
		memset(out, 0, sizeof(*out));
		out->role = ECA_ROLE_CLIENT;
		out->method = ECA_METHOD_MANUAL;
	}
	return r;
}

/* ------------------------------------------------------------------ */
/* Candidates, fingerprints, decisions and DN mappings.                */

json_t *
eca_wire_candidate(const struct eca_candidate *c)
{
	json_t *o;
	int ok = 1;

	if (c == NULL || (o = eca_wire_certinfo(&c->cert)) == NULL)
		return NULL;
	put(o, "at", jtime(c->at), &ok);
	put(o, "last_seen", jtime(c->last_seen), &ok);
	put(o, "source", JSTR(c->source), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int
eca_wire_add_candidates(json_t *rec, const struct eca_candidate *c,
    size_t n)
{
	json_t *a;
	size_t i;
	int ok = 1;

	if (rec == NULL || (c == NULL && n > 0) || (a = json_array()) == NULL)
		return ECA_ERR_NOMEM;
	for (i = 0; i < n && ok; i++)
		if (json_array_append_new(a, eca_wire_candidate(&c[i])) != 0)
			ok = 0;
	if (!ok) {
		json_decref(a);
		return ECA_ERR_NOMEM;
	}
	/* json_object_set_new takes a, even when it fails. */
	return json_object_set_new(rec, "candidates", a) == 0 ? 0 : ECA_ERR_NOMEM;
}

int
eca_wire_parse_candidates(const json_t *rec, struct eca_candidate **out,
    size_t *n, struct eca_err *err)
{
	const int code = ECA_ERR_PROTOCOL;
	struct eca_candidate *arr = NULL;
	const json_t *a, *v;
	size_t i;
	int r = ECA_ERR_INTERNAL;

	*out = NULL;
	*n = 0;
	if ((a = json_object_get(rec, "candidates")) == NULL ||
	    json_is_null(a))
		return 0;
	if (!json_is_array(a) || json_array_size(a) > ECA_CANDIDATES_MAX)
		return eca_err_set(err, code, "field \"candidates\" must be an "
		    "array of at most %d certificates", ECA_CANDIDATES_MAX);
	if (json_array_size(a) == 0)
		return 0;
	if ((arr = calloc(json_array_size(a), sizeof(*arr))) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
	json_array_foreach(a, i, v) {
		if ((r = certinfo_code(v, &arr[i].cert, code, err)) ||
		    (r = get_time(v, "at", &arr[i].at, code, err)) ||
		    (r = get_time(v, "last_seen", &arr[i].last_seen, code,
		    err)) ||
		    (r = GET_STR(v, "source", arr[i].source, code, err))) {
			free(arr);
			return r;
		}
	}
	*out = arr;
	*n = json_array_size(a);
	return 0;
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

/* A JSON object body of at most ECA_BODY_MAX bytes; *root is the caller's. */
static int
load_body(const char *buf, size_t len, json_t **root, struct eca_err *err)
{
	json_error_t jerr;
	char safe[64];

	*root = NULL;
	if (len > ECA_BODY_MAX)
		return eca_err_set(err, ECA_ERR_TOO_LARGE, "request body of "
		    "%zu bytes is larger than the %d allowed", len,
		    ECA_BODY_MAX);
	if ((*root = json_loadb(buf, len, JSON_REJECT_DUPLICATES,
	    &jerr)) == NULL) {
		sanitize(jerr.text, strnlen(jerr.text, sizeof(jerr.text)), safe,
		    sizeof(safe));
		return eca_err_set(err, ECA_ERR_BAD_REQUEST, "request body is "
		    "not valid JSON: %s (line %d, column %d)", safe,
		    jerr.line, jerr.column);
	}
	if (!json_is_object(*root)) {
		json_decref(*root);
		*root = NULL;
		return eca_err_set(err, ECA_ERR_BAD_REQUEST,
		    "request body must be a JSON object");
	}
	return 0;
}

/* Only the keys in known (NULL-terminated) may appear in o. */
static int
only_keys(const json_t *o, const char *const *known, const char *list,
    struct eca_err *err)
{
	const char *key;
	const json_t *v;
	char safe[64];
	size_t i;

	json_object_foreach((json_t *)o, key, v) {
		(void)v;
		for (i = 0; known[i] != NULL; i++)
			if (strcmp(key, known[i]) == 0)
				break;
		if (known[i] == NULL) {
			sanitize(key, strlen(key), safe, sizeof(safe));
			return eca_err_set(err, ECA_ERR_BAD_REQUEST,
			    "unknown field \"%s\" in the request (known: %s)",
			    safe, list);
		}
	}
	return 0;
}

int
eca_wire_parse_decision_body(const char *buf, size_t len,
    char fp[ECA_FP_HEX_LEN + 1], struct eca_err *err)
{
	static const char *const known[] = { "fingerprint", NULL };
	json_t *root = NULL;
	char raw[128];
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
	if ((r = GET_STR(root, "fingerprint", raw, ECA_ERR_BAD_REQUEST,
	    err)) != 0)
		goto out;
	if (eca_wire_fp_normalize(raw, fp) != 0) {
		r = eca_err_set(err, ECA_ERR_BAD_REQUEST, "field "
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
	static const char *const known[] = { "host", "subject", NULL };
	json_t *root = NULL;
	struct eca_err he;
	int r = ECA_ERR_INTERNAL;

	host[0] = '\0';
	subject[0] = '\0';
	if (buf == NULL || len == 0)
		return eca_err_set(err, ECA_ERR_BAD_REQUEST, "request body is "
		    "empty (send {\"host\": NAME, \"subject\": DN})");
	if ((r = load_body(buf, len, &root, err)) != 0 ||
	    (r = only_keys(root, known, "host, subject", err)) != 0 ||
	    (r = get_str(root, "host", host, ECA_HOST_MAX,
	    ECA_ERR_BAD_REQUEST, err)) != 0 ||
	    (r = get_str(root, "subject", subject, ECA_DN_MAX,
	    ECA_ERR_BAD_REQUEST, err)) != 0)
		goto out;
	/* Only the canonical spelling goes further. */
	if ((r = eca_hostname_canon(host, host, ECA_HOST_MAX, &he)) != 0) {
		r = eca_err_set(err, r, "field \"host\": %s", he.msg);
		goto out;
	}
 out:
	if (r != 0) {
		host[0] = '\0';
		subject[0] = '\0';
	}
	json_decref(root);
	return r;
}

json_t *
eca_wire_dnmap(const struct eca_dnmap *m)
{
	json_t *o;
	int ok = 1;

	if (m == NULL || (o = json_object()) == NULL)
		return NULL;
	put(o, "subject", JSTR(m->subject), &ok);
	put(o, "host", JSTR(m->host), &ok);
	put(o, "created_at", jtime(m->created_at), &ok);
	put(o, "updated_at", jtime(m->updated_at), &ok);
	put(o, "actor", JSTR(m->actor), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int
eca_wire_parse_dnmap(const json_t *j, struct eca_dnmap *out,
    struct eca_err *err)
{
	const int code = ECA_ERR_PROTOCOL;
	int r;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(j))
		return eca_err_set(err, code, "a mapping must be an object");
	if ((r = GET_STR(j, "subject", out->subject, code, err)) ||
	    (r = GET_STR(j, "host", out->host, code, err)) ||
	    (r = get_time(j, "created_at", &out->created_at, code, err)) ||
	    (r = get_time(j, "updated_at", &out->updated_at, code, err)) ||
	    (r = GET_STR(j, "actor", out->actor, code, err))) {
		memset(out, 0, sizeof(*out));
		return r;
	}
	return 0;
}

int
eca_wire_roster_add_maps(json_t *roster, const struct eca_dnmap *m,
    size_t n)
{
	json_t *a, *o;
	size_t i;
	int ok = 1;

	if (roster == NULL || (m == NULL && n > 0) ||
	    (a = json_array()) == NULL)
		return ECA_ERR_NOMEM;
	for (i = 0; i < n && ok; i++) {
		if ((o = json_object()) == NULL) {
			ok = 0;
			break;
		}
		put(o, "subject", JSTR(m[i].subject), &ok);
		put(o, "host", JSTR(m[i].host), &ok);
		put(o, "removed", json_boolean(m[i].removed), &ok);
		put(o, "version", json_integer(m[i].version), &ok);
		if (json_array_append_new(a, o) != 0)
			ok = 0;
	}
	if (!ok) {
		json_decref(a);
		return ECA_ERR_NOMEM;
	}
	/* json_object_set_new takes a, even when it fails. */
	return json_object_set_new(roster, "mappings", a) == 0 ? 0 : ECA_ERR_NOMEM;
}
