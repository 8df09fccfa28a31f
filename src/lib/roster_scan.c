/* SPDX-License-Identifier: ISC */
/*
 * roster_scan.c - the fast path of the roster decoder: one pass over the
 * bytes of a page as a primary writes it (json_dumps of eca_wire_roster),
 * straight into the entries, with no JSON tree in between.  A full sync
 * of a million hosts is 200 pages of 5000; jansson's tree costs most of
 * the sync's time.
 *
 * It accepts only a strict subset of JSON: strings without escapes,
 * control or non-ASCII characters, whole numbers of at most 18 digits
 * without sign, leading zero, fraction or exponent, true and false, the
 * known keys each at most once and nothing after the top-level object.
 * Every field passes the same checks as in roster_delta.c.  Anything else,
 * valid or not, is left to the jansson decoder (eca_roster_delta_parse),
 * which then accepts or refuses it with its message: the fast path can
 * make a page cheaper, never change what a page means.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hostname.h"
#include "roster_impl.h"
#include "wire.h"

#define NOT_HANDLED 1
#define INT_DIGITS_MAX 18
/*
 * Fewer bytes than any entry this path accepts: the seven keys, their
 * quotes and colons, a UUID, two hex SHA-256, a time and a state.
 */
#define ENTRY_MIN 200

struct scan {
	const char *p, *end;
};

static void
ws(struct scan *s)
{
	while (s->p < s->end &&
	    (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

/* The character c (after whitespace). */
static int
lit(struct scan *s, char c)
{
	ws(s);
	if (s->p < s->end && *s->p == c) {
		s->p++;
		return 0;
	}
	return -1;
}

/* A string of plain printable ASCII: *str (not NUL-terminated), *len. */
static int
str(struct scan *s, const char **out, size_t *len)
{
	const char *q;

	if (lit(s, '"') != 0)
		return -1;
	for (q = s->p; q < s->end && *q != '"'; q++)
		if ((unsigned char)*q < 0x20 || (unsigned char)*q >= 0x7f ||
		    *q == '\\')
			return -1;
	if (q == s->end)
		return -1;
	*out = s->p;
	*len = (size_t)(q - s->p);
	s->p = q + 1;
	return 0;
}

/* A string copied NUL-terminated into buf (size bytes). */
static int
str_copy(struct scan *s, char *buf, size_t size)
{
	const char *v;
	size_t len;

	if (str(s, &v, &len) != 0 || len >= size)
		return -1;
	memcpy(buf, v, len);
	buf[len] = '\0';
	return 0;
}

/* A whole number of at least min. */
static int
num(struct scan *s, int64_t min, int64_t *out)
{
	int64_t v = 0;
	size_t n = 0;

	ws(s);
	while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
		if (++n > INT_DIGITS_MAX || (n == 2 && v == 0))
			return -1; /* long, or a leading zero */
		v = v * 10 + (*s->p++ - '0');
	}
	if (n == 0 || v < min ||
	    (s->p < s->end && (*s->p == '.' || *s->p == 'e' || *s->p == 'E')))
		return -1;
	*out = v;
	return 0;
}

static int
boolean(struct scan *s, int *out)
{
	ws(s);
	if (s->end - s->p >= 4 && memcmp(s->p, "true", 4) == 0) {
		s->p += 4;
		*out = 1;
		return 0;
	}
	if (s->end - s->p >= 5 && memcmp(s->p, "false", 5) == 0) {
		s->p += 5;
		*out = 0;
		return 0;
	}
	return -1;
}

static int
host(struct scan *s, char *buf, size_t size)
{
	const char *v;
	size_t len;

	if (str(s, &v, &len) != 0)
		return -1;
	return eca_hostname_canon_n(v, len, buf, size, NULL) == 0 ? 0 : -1;
}

static int
fingerprint(struct scan *s, uint8_t raw[ECA_ROSTER_FP_LEN])
{
	char hex[ECA_FP_HEX_LEN + 1];

	if (str_copy(s, hex, sizeof(hex)) != 0)
		return -1;
	return eca_roster_fp_from_hex(hex, raw);
}

static int
state(struct scan *s, enum eca_state *out)
{
	char name[32];
	int st;

	if (str_copy(s, name, sizeof(name)) != 0 ||
	    (st = eca_state_from_name(name)) < 0 ||
	    strcmp(eca_state_name((enum eca_state)st), name) != 0)
		return -1;
	*out = (enum eca_state)st;
	return 0;
}

/* The keys of an object, each a bit of the set seen. */
static int
key(struct scan *s, const char *const *keys, unsigned *seen)
{
	const char *k;
	size_t len;
	unsigned i;

	if (str(s, &k, &len) != 0 || lit(s, ':') != 0)
		return -1;
	for (i = 0; keys[i] != NULL; i++)
		if (strlen(keys[i]) == len && memcmp(keys[i], k, len) == 0) {
			if (*seen & (1u << i))
				return -1; /* duplicate: jansson refuses it */
			*seen |= 1u << i;
			return (int)i;
		}
	return -1; /* unknown: left to the full decoder */
}

/* The first 7 are required; "nat" (a NAT host) is optional. */
static const char *const entry_keys[] = {"host", "host_id", "state",
    "fingerprint", "spki_fingerprint", "not_after", "version", "nat", NULL};
#define ENTRY_REQUIRED ((1u << 7) - 1)

static int
entry_field(struct scan *s, int k, struct eca_roster_entry *e)
{
	uint8_t id[ROSTER_UUID_RAW];
	char t[40];

	switch (k) {
	case 0:
		return host(s, e->host, sizeof(e->host));
	case 1:
		if (str_copy(s, e->host_id, sizeof(e->host_id)) != 0)
			return -1;
		return eca_roster_uuid_parse(e->host_id, id);
	case 2:
		return state(s, &e->state);
	case 3:
		return fingerprint(s, e->fingerprint);
	case 4:
		return fingerprint(s, e->spki_fingerprint);
	case 5:
		if (str_copy(s, t, sizeof(t)) != 0)
			return -1;
		return eca_wire_parse_time(t, &e->not_after) == 0 ? 0 : -1;
	case 7:
		return boolean(s, &e->nat);
	default:
		return num(s, 1, &e->version);
	}
}

static int
entry(struct scan *s, struct eca_roster_entry *e)
{
	unsigned seen = 0;
	int k;

	if (lit(s, '{') != 0)
		return -1;
	do {
		if ((k = key(s, entry_keys, &seen)) < 0 ||
		    entry_field(s, k, e) != 0)
			return -1;
	} while (lit(s, ',') == 0);
	return lit(s, '}') == 0 && (seen & ENTRY_REQUIRED) == ENTRY_REQUIRED ?
	    0 :
	    -1;
}

static int
entries(struct scan *s, struct eca_roster_delta *d)
{
	size_t cap;

	if (lit(s, '[') != 0)
		return -1;
	if (lit(s, ']') == 0)
		return 0;
	/* One allocation: no entry takes fewer than ENTRY_MIN bytes. */
	cap = (size_t)(s->end - s->p) / ENTRY_MIN + 1;
	if (cap > ECA_ROSTER_PAGE_MAX)
		cap = ECA_ROSTER_PAGE_MAX;
	if ((d->entries = malloc(cap * sizeof(*d->entries))) == NULL)
		return -1;
	do {
		if (d->n == cap)
			return -1; /* too many: the full decoder says so */
		memset(&d->entries[d->n], 0, sizeof(*d->entries));
		if (entry(s, &d->entries[d->n]) != 0)
			return -1;
		d->n++;
	} while (lit(s, ',') == 0);
	return lit(s, ']');
}

static const char *const root_keys[] = {"primary", "since", "version", "next",
    "full", "more", "entries", NULL};

static int
root_field(struct scan *s, int k, struct eca_roster_delta *d)
{
	switch (k) {
	case 0:
		return host(s, d->primary, sizeof(d->primary));
	case 1:
		return num(s, 0, &d->since);
	case 2:
		return num(s, 0, &d->version);
	case 3:
		return num(s, 0, &d->next);
	case 4:
		return boolean(s, &d->full);
	case 5:
		return boolean(s, &d->more);
	default:
		return entries(s, d);
	}
}

static int
root(struct scan *s, struct eca_roster_delta *d)
{
	unsigned seen = 0;
	int k;

	if (lit(s, '{') != 0)
		return -1;
	do {
		if ((k = key(s, root_keys, &seen)) < 0 ||
		    root_field(s, k, d) != 0)
			return -1;
	} while (lit(s, ',') == 0);
	if (lit(s, '}') != 0 || seen != (1u << 7) - 1)
		return -1;
	ws(s);
	return s->p == s->end ? 0 : -1;
}

int
eca_roster_scan(const char *buf, size_t len, struct eca_roster_delta **out)
{
	struct scan s = {.p = buf, .end = buf + len};
	struct eca_roster_delta *d;

	*out = NULL;
	if (buf == NULL || (d = calloc(1, sizeof(*d))) == NULL)
		return NOT_HANDLED;
	if (root(&s, d) != 0 || eca_roster_delta_check_order(d, NULL) != 0) {
		eca_roster_delta_free(d);
		return NOT_HANDLED;
	}
	*out = d;
	return 0;
}
