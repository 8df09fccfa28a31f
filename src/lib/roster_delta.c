/* SPDX-License-Identifier: ISC */
/*
 * roster_delta.c - the roster's text forms: the decoder of a primary's
 * answer to GET /v1/roster (docs/roster.md), a total parser of untrusted
 * bytes, and the hex and UUID codecs the index and the decoder share.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "roster_impl.h"
#include "text.h"
#include "wire.h"

/* ------------------------------------------------------------------ */
/* Hex fingerprints and UUIDs.                                         */

/*
 * Lowercase only: the one spelling the primary sends and the file keeps.
 * By table: two of these run per entry of a full sync.
 */
static const signed char hexvals[256] = {['0'] = 1,
    ['1'] = 2,
    ['2'] = 3,
    ['3'] = 4,
    ['4'] = 5,
    ['5'] = 6,
    ['6'] = 7,
    ['7'] = 8,
    ['8'] = 9,
    ['9'] = 10,
    ['a'] = 11,
    ['b'] = 12,
    ['c'] = 13,
    ['d'] = 14,
    ['e'] = 15,
    ['f'] = 16};

static int
hex_decode(const char *hex, size_t hexlen, uint8_t *raw)
{
	size_t i;
	int hi, lo;

	for (i = 0; i < hexlen / 2; i++) {
		/* Table values are the digit's + 1: 0 is not a digit. */
		hi = hexvals[(unsigned char)hex[2 * i]] - 1;
		lo = hexvals[(unsigned char)hex[2 * i + 1]] - 1;
		if ((hi | lo) < 0)
			return -1;
		raw[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int
eca_roster_fp_from_hex(const char *hex, uint8_t raw[ECA_ROSTER_FP_LEN])
{
	if (hex == NULL || strnlen(hex, ECA_FP_HEX_LEN + 1) != ECA_FP_HEX_LEN)
		return -1;
	return hex_decode(hex, ECA_FP_HEX_LEN, raw);
}

void
eca_roster_fp_to_hex(const uint8_t raw[ECA_ROSTER_FP_LEN],
    char buf[ECA_FP_HEX_LEN + 1])
{
	eca_text_hex(raw, ECA_ROSTER_FP_LEN, buf, 0);
}

static const size_t uuid_groups[] = {4, 2, 2, 2, 6}; /* bytes */

int
eca_roster_uuid_parse(const char *s, uint8_t raw[ROSTER_UUID_RAW])
{
	size_t g, off = 0, out = 0;

	if (strnlen(s, ECA_HOST_ID_LEN + 1) != ECA_HOST_ID_LEN)
		return -1;
	for (g = 0; g < 5; g++) {
		if (g > 0 && s[off++] != '-')
			return -1;
		if (hex_decode(s + off, 2 * uuid_groups[g], raw + out) != 0)
			return -1;
		off += 2 * uuid_groups[g];
		out += uuid_groups[g];
	}
	return 0;
}

#ifdef __SSE2__
/*
 * The 16 bytes in 32 lower-case hex digits, in one register operation per
 * step rather than a load and a store per byte: a lookup leaves the
 * fewest operations waiting on its record.
 */
void
eca_roster_uuid_text(const uint8_t raw[ROSTER_UUID_RAW],
    char out[ECA_HOST_ID_LEN + 1])
{
	const __m128i low = _mm_set1_epi8(0x0f), nine = _mm_set1_epi8(9);
	__m128i v, hi, lo, a, b;
	char d[2 * ROSTER_UUID_RAW];

	v = _mm_loadu_si128((const __m128i *)(const void *)raw);
	hi = _mm_and_si128(_mm_srli_epi16(v, 4), low);
	lo = _mm_and_si128(v, low);
	/* The nibbles in order: each byte's high one first. */
	a = _mm_unpacklo_epi8(hi, lo);
	b = _mm_unpackhi_epi8(hi, lo);
	/* '0' + n, and 'a' - '0' - 10 more where n > 9. */
	a = _mm_add_epi8(_mm_add_epi8(a, _mm_set1_epi8('0')),
	    _mm_and_si128(_mm_cmpgt_epi8(a, nine),
		_mm_set1_epi8('a' - '0' - 10)));
	b = _mm_add_epi8(_mm_add_epi8(b, _mm_set1_epi8('0')),
	    _mm_and_si128(_mm_cmpgt_epi8(b, nine),
		_mm_set1_epi8('a' - '0' - 10)));
	_mm_storeu_si128((__m128i *)(void *)d, a);
	_mm_storeu_si128((__m128i *)(void *)(d + 16), b);
	/* 8-4-4-4-12 */
	memcpy(out, d, 8);
	out[8] = '-';
	memcpy(out + 9, d + 8, 4);
	out[13] = '-';
	memcpy(out + 14, d + 12, 4);
	out[18] = '-';
	memcpy(out + 19, d + 16, 4);
	out[23] = '-';
	memcpy(out + 24, d + 20, 12);
	out[ECA_HOST_ID_LEN] = '\0';
}
#else
void
eca_roster_uuid_text(const uint8_t raw[ROSTER_UUID_RAW],
    char out[ECA_HOST_ID_LEN + 1])
{
	size_t g, in = 0, o = 0;

	/* Each group's NUL is overwritten by the next dash. */
	for (g = 0; g < 5; g++) {
		if (g > 0)
			out[o++] = '-';
		eca_text_hex(raw + in, uuid_groups[g], out + o, 0);
		in += uuid_groups[g];
		o += 2 * uuid_groups[g];
	}
}
#endif

/* ------------------------------------------------------------------ */
/* The decoder: a total parser of untrusted bytes.                     */

void
eca_roster_delta_free(struct eca_roster_delta *d)
{
	if (d == NULL)
		return;
	free(d->entries);
	free(d->maps);
	free(d);
}

static int
bad(struct eca_err *err, const char *fmt, const char *field, size_t i)
{
	char where[64];

	if (i == (size_t)-1)
		snprintf(where, sizeof(where), "the roster answer");
	else
		snprintf(where, sizeof(where), "roster entry %zu", i);
	return eca_err_set(err, ECA_ERR_PROTOCOL,
	    "%s: field \"%s\" %s "
	    "(is the primary an eca primary of a compatible version?)",
	    where, field, fmt);
}

static int
get_int(const json_t *o, const char *key, int64_t min, int64_t *out, size_t i,
    struct eca_err *err)
{
	const json_t *v = json_object_get(o, key);

	if (v == NULL)
		return bad(err, "is missing", key, i);
	if (!json_is_integer(v) || json_integer_value(v) < min)
		return bad(err, "is not a whole number in range", key, i);
	*out = (int64_t)json_integer_value(v);
	return 0;
}

static int
get_bool(const json_t *o, const char *key, int *out, struct eca_err *err)
{
	const json_t *v = json_object_get(o, key);

	if (v == NULL)
		return bad(err, "is missing", key, (size_t)-1);
	if (!json_is_boolean(v))
		return bad(err, "is not true or false", key, (size_t)-1);
	*out = json_is_true(v);
	return 0;
}

static const char *
get_str(const json_t *o, const char *key, size_t i, struct eca_err *err)
{
	const json_t *v = json_object_get(o, key);

	if (v == NULL) {
		(void)bad(err, "is missing", key, i);
		return NULL;
	}
	if (!json_is_string(v)) {
		(void)bad(err, "is not a string", key, i);
		return NULL;
	}
	return json_string_value(v);
}

static int
get_host(const json_t *o, const char *key, char *buf, size_t size, size_t i,
    struct eca_err *err)
{
	const char *s;

	if ((s = get_str(o, key, i, err)) == NULL)
		return ECA_ERR_PROTOCOL;
	/* Folded to the canonical form: the roster's keys are canonical. */
	if (eca_hostname_canon(s, buf, size, NULL) != 0)
		return bad(err, "is not a valid host name", key, i);
	return 0;
}

static int
get_fp(const json_t *o, const char *key, uint8_t *raw, size_t i,
    struct eca_err *err)
{
	const char *s;

	if ((s = get_str(o, key, i, err)) == NULL)
		return ECA_ERR_PROTOCOL;
	if (eca_roster_fp_from_hex(s, raw) != 0)
		return bad(err, "is not a lowercase hex SHA-256", key, i);
	return 0;
}

static int
parse_entry(const json_t *o, size_t i, struct eca_roster_entry *e,
    struct eca_err *err)
{
	uint8_t id[ROSTER_UUID_RAW];
	const json_t *v;
	const char *s;
	int st, r;

	if (!json_is_object(o))
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "roster entry %zu is "
		    "not an object",
		    i);
	if ((r = get_host(o, "host", e->host, sizeof(e->host), i, err)) != 0)
		return r;
	if ((s = get_str(o, "host_id", i, err)) == NULL)
		return ECA_ERR_PROTOCOL;
	if (eca_roster_uuid_parse(s, id) != 0)
		return bad(err, "is not a lowercase UUID", "host_id", i);
	snprintf(e->host_id, sizeof(e->host_id), "%s", s);
	if ((s = get_str(o, "state", i, err)) == NULL)
		return ECA_ERR_PROTOCOL;
	/* Exact names: eca_state_from_name would also take lower case. */
	if ((st = eca_state_from_name(s)) < 0 ||
	    strcmp(eca_state_name((enum eca_state)st), s) != 0)
		return bad(err, "is not a known state", "state", i);
	e->state = (enum eca_state)st;
	if ((r = get_fp(o, "fingerprint", e->fingerprint, i, err)) != 0 ||
	    (r = get_fp(o, "spki_fingerprint", e->spki_fingerprint, i, err)) !=
		0)
		return r;
	if ((s = get_str(o, "not_after", i, err)) == NULL)
		return ECA_ERR_PROTOCOL;
	if (eca_wire_parse_time(s, &e->not_after) != 0)
		return bad(err, "is not an RFC 3339 UTC time", "not_after", i);
	/* Optional: sent only for a NAT host (older primaries never). */
	if ((v = json_object_get(o, "nat")) != NULL && !json_is_boolean(v))
		return bad(err, "is not true or false", "nat", i);
	e->nat = json_is_true(v);
	return get_int(o, "version", 1, &e->version, i, err);
}

/* "entries": the records changed in (since, next]. */
static int
parse_entries(const json_t *root, struct eca_roster_delta *d,
    struct eca_err *err)
{
	const json_t *arr;
	size_t i, n;
	int r;

	if ((arr = json_object_get(root, "entries")) == NULL ||
	    !json_is_array(arr))
		return bad(err, "is missing or not an array", "entries",
		    (size_t)-1);
	if ((n = json_array_size(arr)) > ECA_ROSTER_PAGE_MAX)
		return eca_err_set(err, ECA_ERR_TOO_LARGE,
		    "the roster answer "
		    "has %zu entries; at most %d are accepted",
		    n, ECA_ROSTER_PAGE_MAX);
	if (n > 0 && (d->entries = calloc(n, sizeof(*d->entries))) == NULL)
		return eca_roster_nomem(err);
	for (i = 0; i < n; i++) {
		if ((r = parse_entry(json_array_get(arr, i), i, &d->entries[i],
			 err)) != 0)
			return r;
		d->n++;
	}
	return 0;
}

/* One mapping of "mappings"; its version must lie in (since, next]. */
static int
parse_map(const json_t *o, size_t i, const struct eca_roster_delta *d,
    struct eca_roster_map *m, struct eca_err *err)
{
	const char *s;
	const json_t *v;
	int r;

	if (!json_is_object(o))
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "roster mapping %zu "
		    "is not an object",
		    i);
	if ((s = get_str(o, "subject", i, err)) == NULL)
		return ECA_ERR_PROTOCOL;
	if (s[0] == '\0' || strlen(s) >= sizeof(m->subject) ||
	    strlen(s) != json_string_length(json_object_get(o, "subject")))
		return bad(err, "is not a subject", "subject", i);
	snprintf(m->subject, sizeof(m->subject), "%s", s);
	if ((r = get_host(o, "host", m->host, sizeof(m->host), i, err)) != 0 ||
	    (r = get_int(o, "version", 1, &m->version, i, err)) != 0)
		return r;
	if ((v = json_object_get(o, "removed")) == NULL || !json_is_boolean(v))
		return bad(err, "is missing or not true or false", "removed",
		    i);
	m->removed = json_is_true(v);
	if ((!d->full && m->version <= d->since) || m->version > d->next)
		return bad(err, "is outside the answer's versions", "version",
		    i);
	return 0;
}

static int
parse_maps(const json_t *root, struct eca_roster_delta *d, struct eca_err *err)
{
	const json_t *arr;
	size_t i, n;
	int r;

	if ((arr = json_object_get(root, "mappings")) == NULL)
		return 0; /* a primary from before ECA_IDENTITY = DN */
	if (!json_is_array(arr))
		return bad(err, "is not an array", "mappings", (size_t)-1);
	if ((n = json_array_size(arr)) > ECA_ROSTER_PAGE_MAX)
		return eca_err_set(err, ECA_ERR_TOO_LARGE,
		    "the roster answer "
		    "has %zu mappings; at most %d are accepted",
		    n, ECA_ROSTER_PAGE_MAX);
	if (n > 0 && (d->maps = calloc(n, sizeof(*d->maps))) == NULL)
		return eca_roster_nomem(err);
	for (i = 0; i < n; i++) {
		if ((r = parse_map(json_array_get(arr, i), i, d, &d->maps[i],
			 err)) != 0)
			return r;
		if (i > 0 && d->maps[i].version <= d->maps[i - 1].version)
			return bad(err, "is not increasing", "version", i);
		d->nmaps++;
	}
	return 0;
}

/*
 * Versions increase, follow since (unless full) and agree with next: when
 * more follows, next is the answer's last version (of an entry or a
 * mapping), so nothing between two pages is skipped.
 */
int
eca_roster_delta_check_order(const struct eca_roster_delta *d,
    struct eca_err *err)
{
	int64_t prev = d->full ? 0 : d->since, last;
	size_t i;

	for (i = 0; i < d->n; i++) {
		if (d->entries[i].version <= prev)
			return eca_err_set(err, ECA_ERR_PROTOCOL,
			    "roster entry "
			    "%zu has version %lld, not after %lld",
			    i, (long long)d->entries[i].version,
			    (long long)prev);
		prev = d->entries[i].version;
	}
	last = prev;
	if (d->nmaps > 0 && d->maps[d->nmaps - 1].version > last)
		last = d->maps[d->nmaps - 1].version;
	if (d->next < prev || (!d->full && d->next < d->since))
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the roster answer's "
		    "next version %lld is before its entries",
		    (long long)d->next);
	if (d->more && ((d->n == 0 && d->nmaps == 0) || d->next != last))
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the roster answer "
		    "says more follows but its next version %lld is not its "
		    "last entry's",
		    (long long)d->next);
	return 0;
}

/* The answer's top-level fields, then its entries and mappings. */
static int
decode_root(const json_t *root, struct eca_roster_delta *d, struct eca_err *err)
{
	int r;

	if ((r = get_host(root, "primary", d->primary, sizeof(d->primary),
		 (size_t)-1, err)) != 0 ||
	    (r = get_int(root, "since", 0, &d->since, (size_t)-1, err)) != 0 ||
	    (r = get_int(root, "version", 0, &d->version, (size_t)-1, err)) !=
		0 ||
	    (r = get_int(root, "next", 0, &d->next, (size_t)-1, err)) != 0 ||
	    (r = get_bool(root, "full", &d->full, err)) != 0 ||
	    (r = get_bool(root, "more", &d->more, err)) != 0)
		return r;
	if ((r = parse_entries(root, d, err)) != 0 ||
	    (r = parse_maps(root, d, err)) != 0)
		return r;
	return eca_roster_delta_check_order(d, err);
}

static int
delta_decode(const json_t *root, struct eca_roster_delta **out,
    struct eca_err *err)
{
	struct eca_roster_delta *d = NULL;
	int r;

	if (out != NULL)
		*out = NULL;
	if (out == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "delta_decode: missing argument");
	if (root == NULL || !json_is_object(root))
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the roster answer is "
		    "not a JSON object");
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return eca_roster_nomem(err);
	if ((r = decode_root(root, d, err)) != 0) {
		eca_roster_delta_free(d);
		return r;
	}
	*out = d;
	return 0;
}

int
eca_roster_delta_parse(const char *buf, size_t len,
    struct eca_roster_delta **out, struct eca_err *err)
{
	json_t *root = NULL;
	json_error_t jerr = {.line = 0}; /* jansson may leave it unset */
	int r;

	if (out != NULL)
		*out = NULL;
	if (out == NULL || (buf == NULL && len > 0))
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_roster_delta_parse: missing argument");
	if (len > ECA_ROSTER_BODY_MAX)
		return eca_err_set(err, ECA_ERR_TOO_LARGE,
		    "the roster answer "
		    "has %zu bytes; at most %d are accepted (ask for a smaller "
		    "limit)",
		    len, ECA_ROSTER_BODY_MAX);
	/* The primary's own pages, in one pass; anything else below. */
	if (eca_roster_scan(buf, len, out) == 0)
		return 0;
	if ((root = json_loadb(buf != NULL ? buf : "", len,
		 JSON_REJECT_DUPLICATES, &jerr)) == NULL)
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the roster answer is "
		    "not JSON: %s at line %d",
		    jerr.text, jerr.line);
	r = delta_decode(root, out, err);
	json_decref(root);
	return r;
}
