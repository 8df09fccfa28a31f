/*
 * roster.c - the in-memory roster of one primary, its delta decoder and
 * its file in STATE_DIR.
 *
 * Layout, chosen for a million hosts in about 140 bytes each: records are
 * fixed 104-byte structs in one array (fingerprints and host ID as raw
 * bytes), host names are packed in one arena, and two open-addressing
 * tables (linear probing, load at most 1/2) map a fingerprint and a host
 * name to the record's index + 1 (0 is an empty slot).  Records are never
 * deleted (a removal is a REMOVED record), so the arena never has holes;
 * only the fingerprint index loses keys, by backward-shift deletion.
 */
#include "roster.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "wire.h"

#define UUID_RAW 16
#define NAME_LEN_MAX 253
#define MIN_SLOTS 64

struct rent {
	uint8_t fp[ECA_ROSTER_FP_LEN];
	uint8_t spki[ECA_ROSTER_FP_LEN];
	uint8_t host_id[UUID_RAW];
	int64_t not_after;
	int64_t version;
	uint32_t name_off;
	uint8_t name_len;
	uint8_t state;
};

struct eca_roster {
	char primary[ECA_HOST_MAX];
	int64_t version;
	int64_t synced_at;
	struct rent *ents;
	size_t n, cap;
	char *names;
	size_t names_len, names_cap;
	uint32_t *by_fp;
	uint32_t *by_host;
	size_t slots;			/* a power of two, or 0 */
	/* DN mappings, live ones only, sorted by subject (bsearch). */
	struct eca_roster_map *maps;
	size_t nmaps, maps_cap;
};

/* ------------------------------------------------------------------ */
/* Small helpers.                                                      */

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int
hex_decode(const char *hex, size_t hexlen, uint8_t *raw)
{
	size_t i;
	int hi, lo;

	for (i = 0; i < hexlen / 2; i++) {
		if ((hi = hexval(hex[2 * i])) < 0 ||
		    (lo = hexval(hex[2 * i + 1])) < 0)
			return -1;
		raw[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static void
hex_encode(const uint8_t *raw, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[raw[i] >> 4];
		out[2 * i + 1] = digits[raw[i] & 0xf];
	}
	out[2 * n] = '\0';
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
	hex_encode(raw, ECA_ROSTER_FP_LEN, buf);
}

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", lowercase, to 16 bytes. */
static int
uuid_from_text(const char *s, uint8_t raw[UUID_RAW])
{
	static const size_t groups[] = { 8, 4, 4, 4, 12 };
	size_t g, off = 0, out = 0;

	if (strnlen(s, ECA_HOST_ID_LEN + 1) != ECA_HOST_ID_LEN)
		return -1;
	for (g = 0; g < 5; g++) {
		if (g > 0 && s[off++] != '-')
			return -1;
		if (hex_decode(s + off, groups[g], raw + out) != 0)
			return -1;
		off += groups[g];
		out += groups[g] / 2;
	}
	return 0;
}

/* By hand, not snprintf: it runs on every lookup. */
static void
uuid_to_text(const uint8_t raw[UUID_RAW], char out[ECA_HOST_ID_LEN + 1])
{
	static const size_t groups[] = { 4, 2, 2, 2, 6 };
	size_t g, in = 0, o = 0;

	for (g = 0; g < 5; g++) {
		if (g > 0)
			out[o++] = '-';
		hex_encode(raw + in, groups[g], out + o);
		in += groups[g];
		o += 2 * groups[g];
	}
	out[o] = '\0';
}

/* The fingerprint is a SHA-256 already: its first 8 bytes, mixed. */
static uint64_t
hash_fp(const uint8_t *fp)
{
	uint64_t h;

	memcpy(&h, fp, sizeof(h));
	return h * 0x9e3779b97f4a7c15ULL;
}

/* FNV-1a with a final mix. */
static uint64_t
hash_name(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 29;
	return h * 0xbf58476d1ce4e5b9ULL;
}

static size_t
slot_of(uint64_t h, size_t slots)
{
	return (size_t)(h >> 32 ^ h) & (slots - 1);
}

/*
 * The records, names and indexes of a large roster are read at random, one
 * cache line each: on transparent huge pages most lookups are spared a TLB
 * miss (a large share of a lookup's cost on a virtual machine).  Advice
 * only: nothing depends on it.
 */
#define HUGE_ADVICE_MIN (4u << 20)

static void
advise_huge(void *p, size_t len)
{
#ifdef MADV_HUGEPAGE
	uintptr_t a = (uintptr_t)p, start, end;
	long pg = sysconf(_SC_PAGESIZE);

	if (p == NULL || len < HUGE_ADVICE_MIN || pg <= 0)
		return;
	start = (a + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
	end = (a + len) & ~((uintptr_t)pg - 1);
	if (end > start)
		(void)madvise((void *)start, end - start, MADV_HUGEPAGE);
#else
	(void)p;
	(void)len;
#endif
}

/* ------------------------------------------------------------------ */
/* The indexes.                                                        */

static size_t
find_host_slot(const struct eca_roster *r, const char *host, size_t len,
    int *found)
{
	const struct rent *e;
	size_t i, mask = r->slots - 1;
	uint32_t v;

	*found = 0;
	for (i = slot_of(hash_name(host, len), r->slots);; i = (i + 1) & mask) {
		if ((v = r->by_host[i]) == 0)
			return i;
		e = &r->ents[v - 1];
		if (e->name_len == len &&
		    memcmp(r->names + e->name_off, host, len) == 0) {
			*found = 1;
			return i;
		}
	}
}

static size_t
find_fp_slot(const struct eca_roster *r, const uint8_t *fp, int *found)
{
	size_t i, mask = r->slots - 1;
	uint32_t v;

	*found = 0;
	for (i = slot_of(hash_fp(fp), r->slots);; i = (i + 1) & mask) {
		if ((v = r->by_fp[i]) == 0)
			return i;
		if (memcmp(r->ents[v - 1].fp, fp, ECA_ROSTER_FP_LEN) == 0) {
			*found = 1;
			return i;
		}
	}
}

static void
fp_index_put(struct eca_roster *r, size_t idx)
{
	size_t i;
	int found;

	i = find_fp_slot(r, r->ents[idx].fp, &found);
	r->by_fp[i] = (uint32_t)(idx + 1);
}

/* Drop fp's key if it names record idx (backward-shift deletion). */
static void
fp_index_del(struct eca_roster *r, size_t idx)
{
	size_t i, j, k, mask = r->slots - 1;
	int found;

	i = find_fp_slot(r, r->ents[idx].fp, &found);
	if (!found || r->by_fp[i] != idx + 1)
		return;
	r->by_fp[i] = 0;
	for (j = (i + 1) & mask; r->by_fp[j] != 0; j = (j + 1) & mask) {
		k = slot_of(hash_fp(r->ents[r->by_fp[j] - 1].fp), r->slots);
		/* Move j back to i unless its home lies cyclically in (i, j]. */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		r->by_fp[i] = r->by_fp[j];
		r->by_fp[j] = 0;
		i = j;
	}
}

static void
index_rebuild(struct eca_roster *r)
{
	size_t idx, i;
	int found;

	memset(r->by_fp, 0, r->slots * sizeof(*r->by_fp));
	memset(r->by_host, 0, r->slots * sizeof(*r->by_host));
	for (idx = 0; idx < r->n; idx++) {
		i = find_host_slot(r, r->names + r->ents[idx].name_off,
		    r->ents[idx].name_len, &found);
		r->by_host[i] = (uint32_t)(idx + 1);
		fp_index_put(r, idx);
	}
}

static int
nomem(struct eca_err *err)
{
	return eca_err_set(err, ECA_ERR_NOMEM,
	    "out of memory growing the enrollment roster");
}

/*
 * Make room for add more records with names_add more name bytes, so that
 * what follows cannot fail half-way.
 */
static int
reserve(struct eca_roster *r, size_t add, size_t names_add,
    struct eca_err *err)
{
	size_t want, ncap, nslots;
	uint32_t *fp = NULL, *host = NULL;
	void *p;

	if (add > ECA_ROSTER_HOSTS_MAX || r->n > ECA_ROSTER_HOSTS_MAX - add)
		return eca_err_set(err, ECA_ERR_TOO_LARGE, "the roster of "
		    "primary %s would hold more than %d hosts", r->primary,
		    ECA_ROSTER_HOSTS_MAX);
	if (names_add > UINT32_MAX - r->names_len)
		return eca_err_set(err, ECA_ERR_TOO_LARGE, "the host names "
		    "of primary %s's roster would exceed 4 GiB", r->primary);
	want = r->n + add;
	if (want > r->cap) {
		ncap = r->cap == 0 ? 16 : r->cap;
		while (ncap < want)
			ncap *= 2;
		if ((p = realloc(r->ents, ncap * sizeof(*r->ents))) == NULL)
			return nomem(err);
		r->ents = p;
		r->cap = ncap;
		advise_huge(r->ents, ncap * sizeof(*r->ents));
	}
	if (r->names_len + names_add > r->names_cap) {
		ncap = r->names_cap == 0 ? 1024 : r->names_cap;
		while (ncap < r->names_len + names_add)
			ncap *= 2;
		if ((p = realloc(r->names, ncap)) == NULL)
			return nomem(err);
		r->names = p;
		r->names_cap = ncap;
		advise_huge(r->names, ncap);
	}
	nslots = r->slots == 0 ? MIN_SLOTS : r->slots;
	while (nslots < 2 * want)
		nslots *= 2;
	if (nslots == r->slots)
		return 0;
	if ((fp = calloc(nslots, sizeof(*fp))) == NULL ||
	    (host = calloc(nslots, sizeof(*host))) == NULL) {
		free(fp);
		return nomem(err);
	}
	advise_huge(fp, nslots * sizeof(*fp));
	advise_huge(host, nslots * sizeof(*host));
	free(r->by_fp);
	free(r->by_host);
	r->by_fp = fp;
	r->by_host = host;
	r->slots = nslots;
	index_rebuild(r);
	return 0;
}

static void
clear(struct eca_roster *r)
{
	r->nmaps = 0;
	r->n = 0;
	r->names_len = 0;
	r->version = 0;
	if (r->slots > 0) {
		memset(r->by_fp, 0, r->slots * sizeof(*r->by_fp));
		memset(r->by_host, 0, r->slots * sizeof(*r->by_host));
	}
}

/*
 * Insert or replace the record of e->host.  Room was reserved: cannot
 * fail.  A replaced record keeps its slot and name.
 */
static void
upsert(struct eca_roster *r, const struct eca_roster_entry *e,
    const uint8_t host_id[UUID_RAW], size_t name_len)
{
	struct rent *x;
	size_t i, idx;
	int found;

	i = find_host_slot(r, e->host, name_len, &found);
	if (found) {
		idx = r->by_host[i] - 1;
		fp_index_del(r, idx);
	} else {
		idx = r->n++;
		x = &r->ents[idx];
		memcpy(r->names + r->names_len, e->host, name_len);
		x->name_off = (uint32_t)r->names_len;
		x->name_len = (uint8_t)name_len;
		r->names_len += name_len;
		r->by_host[i] = (uint32_t)(idx + 1);
	}
	x = &r->ents[idx];
	memcpy(x->fp, e->fingerprint, ECA_ROSTER_FP_LEN);
	memcpy(x->spki, e->spki_fingerprint, ECA_ROSTER_FP_LEN);
	memcpy(x->host_id, host_id, UUID_RAW);
	x->not_after = e->not_after;
	x->version = e->version;
	x->state = (uint8_t)e->state;
	fp_index_put(r, idx);
}

static void
entry_out(const struct eca_roster *r, const struct rent *x,
    struct eca_roster_entry *out)
{
	memcpy(out->host, r->names + x->name_off, x->name_len);
	out->host[x->name_len] = '\0';
	uuid_to_text(x->host_id, out->host_id);
	out->state = (enum eca_state)x->state;
	memcpy(out->fingerprint, x->fp, ECA_ROSTER_FP_LEN);
	memcpy(out->spki_fingerprint, x->spki, ECA_ROSTER_FP_LEN);
	out->not_after = x->not_after;
	out->version = x->version;
}

/* ------------------------------------------------------------------ */
/* Life cycle and lookups.                                             */

int
eca_roster_new(const char *primary, struct eca_roster **out,
    struct eca_err *err)
{
	struct eca_roster *r;

	if (out != NULL)
		*out = NULL;
	if (out == NULL || primary == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_roster_new: missing argument");
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return nomem(err);
	/* Kept canonical: a delta or a file names it that way. */
	if (eca_hostname_canon(primary, r->primary, sizeof(r->primary),
	    NULL) != 0) {
		free(r);
		return eca_err_set(err, ECA_ERR_CONFIG, "\"%.64s\" is not a "
		    "valid primary server name (check SERVER)", primary);
	}
	*out = r;
	return 0;
}

void
eca_roster_free(struct eca_roster *r)
{
	if (r == NULL)
		return;
	free(r->ents);
	free(r->names);
	free(r->maps);
	free(r->by_fp);
	free(r->by_host);
	free(r);
}

int
eca_roster_lookup_host(const struct eca_roster *r, const char *host,
    struct eca_roster_entry *out)
{
	char canon[ECA_HOST_MAX];
	size_t i, len;
	int found;

	if (r == NULL || host == NULL || out == NULL || r->slots == 0)
		return ECA_ERR_NOT_FOUND;
	/* Keys are canonical: MEDIA1.example finds media1.example. */
	if (eca_hostname_canon(host, canon, sizeof(canon), NULL) != 0)
		return ECA_ERR_NOT_FOUND;
	len = strlen(canon);
	if (len > NAME_LEN_MAX)
		return ECA_ERR_NOT_FOUND;
	i = find_host_slot(r, canon, len, &found);
	if (!found)
		return ECA_ERR_NOT_FOUND;
	entry_out(r, &r->ents[r->by_host[i] - 1], out);
	return 0;
}

int
eca_roster_lookup_fp(const struct eca_roster *r,
    const uint8_t fp[ECA_ROSTER_FP_LEN], struct eca_roster_entry *out)
{
	size_t i;
	int found;

	if (r == NULL || fp == NULL || out == NULL || r->slots == 0)
		return ECA_ERR_NOT_FOUND;
	i = find_fp_slot(r, fp, &found);
	if (!found)
		return ECA_ERR_NOT_FOUND;
	entry_out(r, &r->ents[r->by_fp[i] - 1], out);
	return 0;
}

/* Index of subject in r->maps, or where it would go (*found 0). */
static size_t
map_find(const struct eca_roster *r, const char *subject, int *found)
{
	size_t lo = 0, hi = r->nmaps, mid;
	int c;

	*found = 0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(r->maps[mid].subject, subject);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Apply one mapping change; room for one more was reserved. */
static void
map_apply(struct eca_roster *r, const struct eca_roster_map *m)
{
	size_t i, k;
	int found;

	/* A host has one subject: a stale row for it goes. */
	for (k = 0; !m->removed && k < r->nmaps; k++) {
		if (strcmp(r->maps[k].host, m->host) == 0 &&
		    strcmp(r->maps[k].subject, m->subject) != 0) {
			memmove(&r->maps[k], &r->maps[k + 1],
			    (r->nmaps - k - 1) * sizeof(*r->maps));
			r->nmaps--;
			break;
		}
	}
	i = map_find(r, m->subject, &found);
	if (m->removed) {
		if (found) {
			memmove(&r->maps[i], &r->maps[i + 1],
			    (r->nmaps - i - 1) * sizeof(*r->maps));
			r->nmaps--;
		}
		return;
	}
	if (!found) {
		memmove(&r->maps[i + 1], &r->maps[i],
		    (r->nmaps - i) * sizeof(*r->maps));
		r->nmaps++;
	}
	r->maps[i] = *m;
}

static int
maps_reserve(struct eca_roster *r, size_t add, struct eca_err *err)
{
	struct eca_roster_map *p;
	size_t want;

	if (add > ECA_ROSTER_MAPS_MAX || r->nmaps + add > ECA_ROSTER_MAPS_MAX)
		return eca_err_set(err, ECA_ERR_TOO_LARGE, "more than %d "
		    "subject mappings in the roster of %s",
		    ECA_ROSTER_MAPS_MAX, r->primary);
	want = r->nmaps + add;
	if (want <= r->maps_cap)
		return 0;
	if ((p = realloc(r->maps, want * sizeof(*p))) == NULL)
		return nomem(err);
	r->maps = p;
	r->maps_cap = want;
	return 0;
}

int
eca_roster_lookup_dn(const struct eca_roster *r, const char *subject,
    char *host, size_t size)
{
	size_t i;
	int found;

	if (r == NULL || subject == NULL || host == NULL || size == 0)
		return ECA_ERR_NOT_FOUND;
	i = map_find(r, subject, &found);
	if (!found)
		return ECA_ERR_NOT_FOUND;
	snprintf(host, size, "%s", r->maps[i].host);
	return 0;
}

size_t
eca_roster_map_count(const struct eca_roster *r)
{
	return r != NULL ? r->nmaps : 0;
}

const char *
eca_roster_primary(const struct eca_roster *r)
{
	return r != NULL ? r->primary : "";
}

int64_t
eca_roster_version(const struct eca_roster *r)
{
	return r != NULL ? r->version : 0;
}

size_t
eca_roster_count(const struct eca_roster *r)
{
	return r != NULL ? r->n : 0;
}

int64_t
eca_roster_synced_at(const struct eca_roster *r)
{
	return r != NULL ? r->synced_at : 0;
}

size_t
eca_roster_memory(const struct eca_roster *r)
{
	if (r == NULL)
		return 0;
	return sizeof(*r) + r->cap * sizeof(*r->ents) + r->names_cap +
	    2 * r->slots * sizeof(uint32_t);
}

int
eca_roster_check_fresh(const struct eca_roster *r, int64_t now,
    int64_t max_age, struct eca_err *err)
{
	if (r == NULL)
		return eca_err_set(err, ECA_ERR_ROSTER_STALE,
		    "no enrollment roster is loaded");
	if (r->synced_at == 0)
		return eca_err_set(err, ECA_ERR_ROSTER_STALE, "the enrollment "
		    "roster of primary %s has never been synced; peers are "
		    "refused until it is (check that %s is reachable)",
		    r->primary, r->primary);
	if (now - r->synced_at > max_age)
		return eca_err_set(err, ECA_ERR_ROSTER_STALE, "the enrollment "
		    "roster of primary %s was last synced %lld s ago, more "
		    "than ECA_ROSTER_MAX_AGE = %lld s; peers are refused until "
		    "it is synced again (check that %s is reachable)",
		    r->primary, (long long)(now - r->synced_at),
		    (long long)max_age, r->primary);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Applying a delta.                                                   */

int
eca_roster_apply(struct eca_roster *r, const struct eca_roster_delta *d,
    int64_t now, struct eca_err *err)
{
	uint8_t (*ids)[UUID_RAW] = NULL;
	size_t i, names = 0;
	int r_ = ECA_ERR_INTERNAL;

	if (r == NULL || d == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_roster_apply: missing argument");
	if (strcmp(d->primary, r->primary) != 0)
		return eca_err_set(err, ECA_ERR_PROTOCOL, "the roster answer "
		    "comes from primary %.64s, not %s (check SERVER)",
		    d->primary, r->primary);
	if (!d->full && d->since != r->version)
		return eca_err_set(err, ECA_ERR_PROTOCOL, "the roster answer "
		    "of primary %s follows version %lld, not this roster's "
		    "%lld (ask again with since=%lld)", r->primary,
		    (long long)d->since, (long long)r->version,
		    (long long)r->version);
	if (d->n > 0 && (ids = calloc(d->n, sizeof(*ids))) == NULL)
		return nomem(err);
	for (i = 0; i < d->n; i++) {
		if (uuid_from_text(d->entries[i].host_id, ids[i]) != 0) {
			r_ = eca_err_set(err, ECA_ERR_PROTOCOL, "roster entry "
			    "%zu has a malformed host_id", i);
			goto out;
		}
		names += strnlen(d->entries[i].host, NAME_LEN_MAX + 1);
	}
	/* Full: everything is replaced; reserve on top of the old anyway. */
	if ((r_ = reserve(r, d->n, names, err)) != 0 ||
	    (r_ = maps_reserve(r, d->nmaps, err)) != 0)
		goto out;
	if (d->full)
		clear(r);
	for (i = 0; i < d->n; i++)
		upsert(r, &d->entries[i], ids[i],
		    strnlen(d->entries[i].host, NAME_LEN_MAX + 1));
	for (i = 0; i < d->nmaps; i++)
		map_apply(r, &d->maps[i]);
	r->version = d->next;
	if (!d->more)
		r->synced_at = now;
	r_ = 0;
 out:
	free(ids);
	return r_;
}

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
	return eca_err_set(err, ECA_ERR_PROTOCOL, "%s: field \"%s\" %s "
	    "(is the primary an eca primary of a compatible version?)", where,
	    field, fmt);
}

static int
get_int(const json_t *o, const char *key, int64_t min, int64_t *out,
    size_t i, struct eca_err *err)
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
	uint8_t id[UUID_RAW];
	const char *s;
	int st, r;

	if (!json_is_object(o))
		return eca_err_set(err, ECA_ERR_PROTOCOL, "roster entry %zu is "
		    "not an object", i);
	if ((r = get_host(o, "host", e->host, sizeof(e->host), i, err)) != 0)
		return r;
	if ((s = get_str(o, "host_id", i, err)) == NULL)
		return ECA_ERR_PROTOCOL;
	if (uuid_from_text(s, id) != 0)
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
	    (r = get_fp(o, "spki_fingerprint", e->spki_fingerprint, i,
	    err)) != 0)
		return r;
	if ((s = get_str(o, "not_after", i, err)) == NULL)
		return ECA_ERR_PROTOCOL;
	if (eca_wire_parse_time(s, &e->not_after) != 0)
		return bad(err, "is not an RFC 3339 UTC time", "not_after", i);
	return get_int(o, "version", 1, &e->version, i, err);
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
		return eca_err_set(err, ECA_ERR_PROTOCOL, "roster mapping %zu "
		    "is not an object", i);
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
parse_maps(const json_t *root, struct eca_roster_delta *d,
    struct eca_err *err)
{
	const json_t *arr;
	size_t i, n;
	int r;

	if ((arr = json_object_get(root, "mappings")) == NULL)
		return 0;	/* a primary from before ECA_IDENTITY = DN */
	if (!json_is_array(arr))
		return bad(err, "is not an array", "mappings", (size_t)-1);
	if ((n = json_array_size(arr)) > ECA_ROSTER_PAGE_MAX)
		return eca_err_set(err, ECA_ERR_TOO_LARGE, "the roster answer "
		    "has %zu mappings; at most %d are accepted", n,
		    ECA_ROSTER_PAGE_MAX);
	if (n > 0 && (d->maps = calloc(n, sizeof(*d->maps))) == NULL)
		return nomem(err);
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
static int
check_order(const struct eca_roster_delta *d, struct eca_err *err)
{
	int64_t prev = d->full ? 0 : d->since, last;
	size_t i;

	for (i = 0; i < d->n; i++) {
		if (d->entries[i].version <= prev)
			return eca_err_set(err, ECA_ERR_PROTOCOL, "roster entry "
			    "%zu has version %lld, not after %lld", i,
			    (long long)d->entries[i].version, (long long)prev);
		prev = d->entries[i].version;
	}
	last = prev;
	if (d->nmaps > 0 && d->maps[d->nmaps - 1].version > last)
		last = d->maps[d->nmaps - 1].version;
	if (d->next < prev || (!d->full && d->next < d->since))
		return eca_err_set(err, ECA_ERR_PROTOCOL, "the roster answer's "
		    "next version %lld is before its entries", (long long)d->next);
	if (d->more && ((d->n == 0 && d->nmaps == 0) || d->next != last))
		return eca_err_set(err, ECA_ERR_PROTOCOL, "the roster answer "
		    "says more follows but its next version %lld is not its "
		    "last entry's", (long long)d->next);
	return 0;
}

int
eca_roster_delta_parse(const char *buf, size_t len,
    struct eca_roster_delta **out, struct eca_err *err)
{
	struct eca_roster_delta *d = NULL;
	json_t *root = NULL, *arr;
	json_error_t jerr;
	size_t i, n;
	int r = ECA_ERR_INTERNAL;

	if (out != NULL)
		*out = NULL;
	if (out == NULL || (buf == NULL && len > 0))
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_roster_delta_parse: missing argument");
	if (len > ECA_ROSTER_BODY_MAX)
		return eca_err_set(err, ECA_ERR_TOO_LARGE, "the roster answer "
		    "has %zu bytes; at most %d are accepted (ask for a smaller "
		    "limit)", len, ECA_ROSTER_BODY_MAX);
	if ((root = json_loadb(buf != NULL ? buf : "", len,
	    JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		r = eca_err_set(err, ECA_ERR_PROTOCOL, "the roster answer is "
		    "not JSON: %s at line %d", jerr.text, jerr.line);
		goto out;
	}
	if (!json_is_object(root)) {
		r = eca_err_set(err, ECA_ERR_PROTOCOL, "the roster answer is "
		    "not a JSON object");
		goto out;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		r = nomem(err);
		goto out;
	}
	if ((r = get_host(root, "primary", d->primary, sizeof(d->primary),
	    (size_t)-1, err)) != 0 ||
	    (r = get_int(root, "since", 0, &d->since, (size_t)-1, err)) != 0 ||
	    (r = get_int(root, "version", 0, &d->version, (size_t)-1,
	    err)) != 0 ||
	    (r = get_int(root, "next", 0, &d->next, (size_t)-1, err)) != 0 ||
	    (r = get_bool(root, "full", &d->full, err)) != 0 ||
	    (r = get_bool(root, "more", &d->more, err)) != 0)
		goto out;
	if ((arr = json_object_get(root, "entries")) == NULL ||
	    !json_is_array(arr)) {
		r = bad(err, "is missing or not an array", "entries",
		    (size_t)-1);
		goto out;
	}
	if ((n = json_array_size(arr)) > ECA_ROSTER_PAGE_MAX) {
		r = eca_err_set(err, ECA_ERR_TOO_LARGE, "the roster answer "
		    "has %zu entries; at most %d are accepted", n,
		    ECA_ROSTER_PAGE_MAX);
		goto out;
	}
	if (n > 0 && (d->entries = calloc(n, sizeof(*d->entries))) == NULL) {
		r = nomem(err);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((r = parse_entry(json_array_get(arr, i), i,
		    &d->entries[i], err)) != 0)
			goto out;
		d->n++;
	}
	if ((r = parse_maps(root, d, err)) != 0 || (r = check_order(d, err)) != 0)
		goto out;
	*out = d;
	d = NULL;
	r = 0;
 out:
	json_decref(root);
	eca_roster_delta_free(d);
	return r;
}

/* ------------------------------------------------------------------ */
/* The file: a streamed binary format hashed as it goes.               */

/*
 * "ECAROST1", u32 format, u32 0, i64 version, i64 synced_at, u64 count,
 * u16 primary length, primary; then per record fp[32], spki[32],
 * host_id[16], i64 not_after, i64 version, u8 state, u8 name length,
 * name; then SHA-256 of everything before it.  Integers little-endian.
 */
#define FILE_MAGIC "ECAROST1"
/*
 * 2 adds, after the records: u32 mapping count, then per mapping
 * i64 version, u16 subject length, subject, u8 host length, host.
 * Format 1 files (no mappings) still load.
 */
#define FILE_FORMAT 2
#define FILE_HEAD (8 + 4 + 4 + 8 + 8 + 8 + 2)
#define FILE_REC_MIN (32 + 32 + 16 + 8 + 8 + 1 + 1 + 1)
#define IOBUF 65536

struct fio {
	int fd;
	EVP_MD_CTX *md;
	unsigned char buf[IOBUF];
	size_t len, pos;
	uint64_t left;		/* bytes still to read before the digest */
	const char *path;
	struct eca_err *err;
};

static int
io_error(struct fio *f, const char *what)
{
	return eca_err_set(f->err, errno == ENOSPC ? ECA_ERR_DISK_FULL :
	    ECA_ERR_IO, "cannot %s roster file %s: %s", what, f->path,
	    strerror(errno));
}

static int
digest_start(struct fio *f)
{
	EVP_MD *sha = NULL;
	int r = 0;

	if ((f->md = EVP_MD_CTX_new()) == NULL ||
	    (sha = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL ||
	    EVP_DigestInit_ex2(f->md, sha, NULL) != 1) {
		r = eca_err_set(f->err, ECA_ERR_INTERNAL,
		    "cannot start the roster file's checksum");
		eca_err_add_openssl(f->err);
	}
	EVP_MD_free(sha);
	return r;
}

static int
wflush(struct fio *f)
{
	size_t off = 0;
	ssize_t w;

	if (EVP_DigestUpdate(f->md, f->buf, f->len) != 1) {
		eca_err_set(f->err, ECA_ERR_INTERNAL,
		    "cannot checksum the roster file");
		eca_err_add_openssl(f->err);
		return ECA_ERR_INTERNAL;
	}
	while (off < f->len) {
		if ((w = write(f->fd, f->buf + off, f->len - off)) < 0) {
			if (errno == EINTR)
				continue;
			return io_error(f, "write");
		}
		off += (size_t)w;
	}
	f->len = 0;
	return 0;
}

static int
wbytes(struct fio *f, const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t k;
	int r;

	while (n > 0) {
		if (f->len == IOBUF && (r = wflush(f)) != 0)
			return r;
		k = IOBUF - f->len < n ? IOBUF - f->len : n;
		memcpy(f->buf + f->len, s, k);
		f->len += k;
		s += k;
		n -= k;
	}
	return 0;
}

static int
wr_int(struct fio *f, uint64_t v, size_t n)
{
	unsigned char b[8];
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	return wbytes(f, b, n);
}

static int
write_all(const struct eca_roster *r, struct fio *f)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	const struct rent *x;
	unsigned int mdlen = 0;
	size_t plen = strlen(r->primary), i, sl, hl;
	int rc;

	if ((rc = digest_start(f)) != 0 ||
	    (rc = wbytes(f, FILE_MAGIC, 8)) != 0 ||
	    (rc = wr_int(f, FILE_FORMAT, 4)) != 0 ||
	    (rc = wr_int(f, 0, 4)) != 0 ||
	    (rc = wr_int(f, (uint64_t)r->version, 8)) != 0 ||
	    (rc = wr_int(f, (uint64_t)r->synced_at, 8)) != 0 ||
	    (rc = wr_int(f, r->n, 8)) != 0 ||
	    (rc = wr_int(f, plen, 2)) != 0 ||
	    (rc = wbytes(f, r->primary, plen)) != 0)
		return rc;
	for (i = 0; i < r->n; i++) {
		x = &r->ents[i];
		if ((rc = wbytes(f, x->fp, sizeof(x->fp))) != 0 ||
		    (rc = wbytes(f, x->spki, sizeof(x->spki))) != 0 ||
		    (rc = wbytes(f, x->host_id, sizeof(x->host_id))) != 0 ||
		    (rc = wr_int(f, (uint64_t)x->not_after, 8)) != 0 ||
		    (rc = wr_int(f, (uint64_t)x->version, 8)) != 0 ||
		    (rc = wr_int(f, x->state, 1)) != 0 ||
		    (rc = wr_int(f, x->name_len, 1)) != 0 ||
		    (rc = wbytes(f, r->names + x->name_off, x->name_len)) != 0)
			return rc;
	}
	if ((rc = wr_int(f, r->nmaps, 4)) != 0)
		return rc;
	for (i = 0; i < r->nmaps; i++) {
		sl = strlen(r->maps[i].subject);
		hl = strlen(r->maps[i].host);
		if ((rc = wr_int(f, (uint64_t)r->maps[i].version, 8)) != 0 ||
		    (rc = wr_int(f, sl, 2)) != 0 ||
		    (rc = wbytes(f, r->maps[i].subject, sl)) != 0 ||
		    (rc = wr_int(f, hl, 1)) != 0 ||
		    (rc = wbytes(f, r->maps[i].host, hl)) != 0)
			return rc;
	}
	if ((rc = wflush(f)) != 0)
		return rc;
	if (EVP_DigestFinal_ex(f->md, md, &mdlen) != 1 || mdlen != 32) {
		eca_err_set(f->err, ECA_ERR_INTERNAL,
		    "cannot checksum the roster file");
		eca_err_add_openssl(f->err);
		return ECA_ERR_INTERNAL;
	}
	/* The digest itself is not hashed: write it raw. */
	memcpy(f->buf, md, 32);
	f->len = 32;
	for (i = 0; i < f->len;) {
		ssize_t w = write(f->fd, f->buf + i, f->len - i);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return io_error(f, "write");
		i += (size_t)w;
	}
	return 0;
}

/* fsync the directory holding path, so that the rename is durable. */
static int
sync_dir(const char *path, struct fio *f)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, r = 0;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return io_error(f, "open the directory of");
	if (fsync(fd) == -1)
		r = io_error(f, "sync the directory of");
	close(fd);
	return r;
}

int
eca_roster_path(const char *state_dir, const char *primary, char *buf,
    size_t len, struct eca_err *err)
{
	int n;

	if (state_dir == NULL || primary == NULL || buf == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_roster_path: missing argument");
	/* The file is named by the canonical spelling (one per primary). */
	if (!eca_hostname_is_canon(primary))
		return eca_err_set(err, ECA_ERR_CONFIG, "\"%.64s\" cannot "
		    "name a roster file: not a canonical host name (check "
		    "SERVER)", primary);
	n = snprintf(buf, len, "%s/roster-%s.bin", state_dir, primary);
	if (n < 0 || (size_t)n >= len)
		return eca_err_set(err, ECA_ERR_CONFIG, "the roster file name "
		    "under STATE_DIR %s is too long (use a shorter STATE_DIR)",
		    state_dir);
	return 0;
}

int
eca_roster_save(const struct eca_roster *r, const char *path,
    struct eca_err *err)
{
	struct fio *f = NULL;
	char tmp[PATH_MAX];
	int n, rc = ECA_ERR_INTERNAL, made = 0;

	if (r == NULL || path == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_roster_save: missing argument");
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return nomem(err);
	f->fd = -1;
	f->path = path;
	f->err = err;
	n = snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		rc = eca_err_set(err, ECA_ERR_CONFIG, "roster file name %s "
		    "is too long", path);
		goto out;
	}
	/* mkstemp creates the file 0600. */
	if ((f->fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		rc = io_error(f, "create a temporary file for");
		goto out;
	}
	made = 1;
	if ((rc = write_all(r, f)) != 0)
		goto out;
	if (fsync(f->fd) == -1) {
		rc = io_error(f, "sync");
		goto out;
	}
	if (close(f->fd) == -1) {
		f->fd = -1;
		rc = io_error(f, "close");
		goto out;
	}
	f->fd = -1;
	if (rename(tmp, path) == -1) {
		rc = io_error(f, "rename a temporary file to");
		goto out;
	}
	made = 0;
	rc = sync_dir(path, f);
 out:
	if (f->fd != -1)
		close(f->fd);
	if (made)
		unlink(tmp);
	EVP_MD_CTX_free(f->md);
	OPENSSL_cleanse(f->buf, sizeof(f->buf));
	free(f);
	return rc;
}

static int
corrupt(struct fio *f, const char *why)
{
	return eca_err_set(f->err, ECA_ERR_PARSE, "roster file %s is %s; it "
	    "is ignored, the roster starts empty and is synced in full from "
	    "the primary", f->path, why);
}

/* Read exactly n bytes of the hashed part. */
static int
rbytes(struct fio *f, void *p, size_t n)
{
	unsigned char *d = p;
	ssize_t got;
	size_t k, want;

	if (n > f->left)
		return corrupt(f, "truncated");
	while (n > 0) {
		if (f->pos == f->len) {
			want = f->left < IOBUF ? (size_t)f->left : IOBUF;
			do
				got = read(f->fd, f->buf, want);
			while (got < 0 && errno == EINTR);
			if (got < 0)
				return io_error(f, "read");
			if (got == 0)
				return corrupt(f, "truncated");
			if (EVP_DigestUpdate(f->md, f->buf, (size_t)got) != 1) {
				eca_err_set(f->err, ECA_ERR_INTERNAL,
				    "cannot checksum the roster file");
				eca_err_add_openssl(f->err);
				return ECA_ERR_INTERNAL;
			}
			f->len = (size_t)got;
			f->pos = 0;
		}
		k = f->len - f->pos < n ? f->len - f->pos : n;
		memcpy(d, f->buf + f->pos, k);
		f->pos += k;
		d += k;
		n -= k;
		f->left -= k;
	}
	return 0;
}

static int
rd_int(struct fio *f, size_t n, uint64_t *out)
{
	unsigned char b[8];
	size_t i;
	int r;

	if ((r = rbytes(f, b, n)) != 0)
		return r;
	*out = 0;
	for (i = 0; i < n; i++)
		*out |= (uint64_t)b[i] << (8 * i);
	return 0;
}

static int
read_record(struct fio *f, struct eca_roster *r, int64_t version)
{
	struct eca_roster_entry e;
	uint8_t id[UUID_RAW];
	uint64_t na, v, st, nl;
	size_t i;
	int found, rc;

	if ((rc = rbytes(f, e.fingerprint, 32)) != 0 ||
	    (rc = rbytes(f, e.spki_fingerprint, 32)) != 0 ||
	    (rc = rbytes(f, id, UUID_RAW)) != 0 ||
	    (rc = rd_int(f, 8, &na)) != 0 || (rc = rd_int(f, 8, &v)) != 0 ||
	    (rc = rd_int(f, 1, &st)) != 0 || (rc = rd_int(f, 1, &nl)) != 0)
		return rc;
	if (nl == 0 || nl > NAME_LEN_MAX)
		return corrupt(f, "damaged (a host name of bad length)");
	if ((rc = rbytes(f, e.host, (size_t)nl)) != 0)
		return rc;
	e.host[nl] = '\0';
	/*
	 * A file written before names were canonical is folded here; two
	 * spellings of one host then count as listed twice.
	 */
	if (strlen(e.host) != nl || eca_hostname_canon(e.host, e.host,
	    sizeof(e.host), NULL) != 0)
		return corrupt(f, "damaged (an invalid host name)");
	if (st > ECA_STATE_REVOKED)
		return corrupt(f, "damaged (an unknown state)");
	if ((int64_t)v < 1 || (int64_t)v > version)
		return corrupt(f, "damaged (a record newer than the roster)");
	i = find_host_slot(r, e.host, (size_t)nl, &found);
	(void)i;
	if (found)
		return corrupt(f, "damaged (a host listed twice)");
	e.state = (enum eca_state)st;
	e.not_after = (int64_t)na;
	e.version = (int64_t)v;
	upsert(r, &e, id, (size_t)nl);
	return 0;
}

/* Format 2's mappings, after the records. */
static int
read_maps(struct fio *f, struct eca_roster *r, int64_t version)
{
	struct eca_roster_map m;
	uint64_t count, v, sl, hl, i;
	int rc, found;

	if ((rc = rd_int(f, 4, &count)) != 0)
		return rc;
	if (count > ECA_ROSTER_MAPS_MAX || count > f->left / 12)
		return corrupt(f, "damaged (more mappings than it holds)");
	if ((rc = maps_reserve(r, (size_t)count, f->err)) != 0)
		return rc;
	for (i = 0; i < count; i++) {
		memset(&m, 0, sizeof(m));
		if ((rc = rd_int(f, 8, &v)) != 0 ||
		    (rc = rd_int(f, 2, &sl)) != 0)
			return rc;
		if (sl == 0 || sl >= sizeof(m.subject))
			return corrupt(f, "damaged (a subject of bad length)");
		if ((rc = rbytes(f, m.subject, (size_t)sl)) != 0 ||
		    (rc = rd_int(f, 1, &hl)) != 0)
			return rc;
		if (hl == 0 || hl > NAME_LEN_MAX)
			return corrupt(f, "damaged (a host name of bad length)");
		if ((rc = rbytes(f, m.host, (size_t)hl)) != 0)
			return rc;
		/* Host names are kept canonical, as in the records. */
		if (strlen(m.subject) != sl || strlen(m.host) != hl ||
		    eca_hostname_canon(m.host, m.host, sizeof(m.host),
		    NULL) != 0)
			return corrupt(f, "damaged (an invalid mapping)");
		if ((int64_t)v < 1 || (int64_t)v > version)
			return corrupt(f, "damaged (a mapping newer than the "
			    "roster)");
		(void)map_find(r, m.subject, &found);
		if (found)
			return corrupt(f, "damaged (a subject listed twice)");
		m.version = (int64_t)v;
		map_apply(r, &m);
	}
	return 0;
}

static int
read_all(struct fio *f, const char *primary, struct eca_roster *r)
{
	unsigned char md[EVP_MAX_MD_SIZE], want[32];
	char magic[8], pname[ECA_HOST_MAX];
	uint64_t fmt, zero, ver, synced, count, plen, i;
	unsigned int mdlen = 0;
	ssize_t got;
	size_t off;
	int rc;

	if ((rc = digest_start(f)) != 0 || (rc = rbytes(f, magic, 8)) != 0)
		return rc;
	if (memcmp(magic, FILE_MAGIC, 8) != 0)
		return corrupt(f, "not an eca roster file");
	if ((rc = rd_int(f, 4, &fmt)) != 0 || (rc = rd_int(f, 4, &zero)) != 0 ||
	    (rc = rd_int(f, 8, &ver)) != 0 || (rc = rd_int(f, 8, &synced)) != 0 ||
	    (rc = rd_int(f, 8, &count)) != 0 || (rc = rd_int(f, 2, &plen)) != 0)
		return rc;
	if ((fmt != 1 && fmt != FILE_FORMAT) || zero != 0)
		return corrupt(f, "of an unknown format version");
	if ((int64_t)ver < 0 || (int64_t)synced < 0)
		return corrupt(f, "damaged (a negative version or time)");
	/* Bound count by the bytes there are before reserving for it. */
	if (count > ECA_ROSTER_HOSTS_MAX || count > f->left / FILE_REC_MIN)
		return corrupt(f, "damaged (more records than it holds)");
	if (plen == 0 || plen >= sizeof(pname))
		return corrupt(f, "damaged (bad primary name)");
	if ((rc = rbytes(f, pname, (size_t)plen)) != 0)
		return rc;
	pname[plen] = '\0';
	if (!eca_hostname_eq(pname, primary))
		return corrupt(f, "for another primary");
	if ((rc = reserve(r, (size_t)count, (size_t)count * NAME_LEN_MAX <
	    f->left ? (size_t)count * NAME_LEN_MAX : (size_t)f->left,
	    f->err)) != 0)
		return rc;
	for (i = 0; i < count; i++)
		if ((rc = read_record(f, r, (int64_t)ver)) != 0)
			return rc;
	if (fmt >= 2 && (rc = read_maps(f, r, (int64_t)ver)) != 0)
		return rc;
	if (f->left != 0)
		return corrupt(f, "damaged (bytes after its records)");
	if (EVP_DigestFinal_ex(f->md, md, &mdlen) != 1 || mdlen != 32) {
		eca_err_set(f->err, ECA_ERR_INTERNAL,
		    "cannot checksum the roster file");
		eca_err_add_openssl(f->err);
		return ECA_ERR_INTERNAL;
	}
	for (off = 0; off < sizeof(want); off += (size_t)got) {
		do
			got = read(f->fd, want + off, sizeof(want) - off);
		while (got < 0 && errno == EINTR);
		if (got < 0)
			return io_error(f, "read");
		if (got == 0)
			return corrupt(f, "truncated");
	}
	if (CRYPTO_memcmp(md, want, 32) != 0)
		return corrupt(f, "damaged (wrong checksum)");
	/*
	 * A format 1 file was written by an eca that ignored the primary's
	 * DN mappings: its records stand (they still judge peers while the
	 * primary is away), but its version is no base for a delta, which
	 * would skip the mappings it never kept.  Version 0: the next sync
	 * is a full one.
	 */
	r->version = fmt == 1 ? 0 : (int64_t)ver;
	r->synced_at = (int64_t)synced;
	return 0;
}

int
eca_roster_load(const char *path, const char *primary,
    struct eca_roster **out, struct eca_err *err)
{
	struct eca_roster *r = NULL;
	struct fio *f = NULL;
	struct stat sb;
	int rc = ECA_ERR_INTERNAL;

	if (out != NULL)
		*out = NULL;
	if (path == NULL || primary == NULL || out == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_roster_load: missing argument");
	if ((rc = eca_roster_new(primary, &r, err)) != 0)
		return rc;
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		rc = nomem(err);
		goto out;
	}
	f->path = path;
	f->err = err;
	if ((f->fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		rc = errno == ENOENT ? eca_err_set(err, ECA_ERR_NOT_FOUND,
		    "no roster file %s yet (the roster is synced in full)",
		    path) : io_error(f, "open");
		goto out;
	}
	if (fstat(f->fd, &sb) == -1) {
		rc = io_error(f, "stat");
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		rc = corrupt(f, "not a regular file");
		goto out;
	}
	if (sb.st_size < FILE_HEAD + 32) {
		rc = corrupt(f, "truncated");
		goto out;
	}
	f->left = (uint64_t)sb.st_size - 32;
	if ((rc = read_all(f, primary, r)) != 0)
		goto out;
	*out = r;
	r = NULL;
	rc = 0;
 out:
	if (f != NULL) {
		if (f->fd != -1)
			close(f->fd);
		EVP_MD_CTX_free(f->md);
		free(f);
	}
	eca_roster_free(r);
	return rc;
}
