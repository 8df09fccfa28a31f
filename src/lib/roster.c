/* SPDX-License-Identifier: ISC */
/*
 * roster.c - the in-memory roster of one primary: its records and their
 * two hash indexes (by leaf fingerprint and by host name), the subject
 * mappings, lookups, and applying a decoded delta.  The layout is in
 * roster_impl.h; the text forms (delta decoder, hex, UUIDs) are in
 * roster_delta.c, the file in STATE_DIR in roster_file.c.
 */
#include <sys/mman.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hostname.h"
#include "roster_impl.h"

#define MIN_SLOTS 64

/* ------------------------------------------------------------------ */
/* Hashing.                                                            */

/*
 * A slot's home is the hash's low bits, its tag the top 7: a probe
 * compares tags and reads only the record (or name) whose tag matches.
 */
#define HOME(h, mask) ((size_t)(h) & (mask))
#define TAG(h) ((uint32_t)((h) >> 57) << ROSTER_REF_BITS)
#define REF(s) ((s)->ref & ROSTER_REF_MASK)
#define IS_TAG(s, t) (((s)->ref & ~ROSTER_REF_MASK) == (t))

static uint64_t
mix64(uint64_t h)
{
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 29;
	return h;
}

/* The fingerprint is a SHA-256 already: its first 8 bytes, mixed. */
static uint64_t
hash_fp(const uint8_t *fp)
{
	uint64_t h;

	memcpy(&h, fp, sizeof(h));
	return mix64(h * 0x9e3779b97f4a7c15ULL);
}

/* The 8 bytes of s at i, folded to lower case (hostname.h). */
static uint64_t
word_at(const char *s, size_t i)
{
	uint64_t w;

	memcpy(&w, s + i, 8);
	return eca_hostname_fold8(w);
}

/* A name of fewer than 8 bytes as one word, folded, the rest zero. */
static uint64_t
short_word(const char *s, size_t len)
{
	uint64_t w = 0;
	size_t i;

	for (i = 0; i < len; i++)
		w |= (uint64_t)(unsigned char)s[i] << 8 * i;
	return eca_hostname_fold8(w);
}

/*
 * Eight bytes at a time, each word folded as it is read (a key is
 * canonical already, a name asked for is folded here), then mixed; a name
 * of eight bytes or more ends with the word that ends at its last byte.
 */
uint64_t
eca_roster_hash_name(const char *s, size_t len)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ len;
	size_t i;

	if (len < 8)
		return mix64(
		    mix64(h ^ short_word(s, len)) * 0x94d049bb133111ebULL);
	for (i = 0; i + 8 < len; i += 8)
		h = mix64(h ^ word_at(s, i));
	h = mix64(h ^ word_at(s, len - 8));
	return mix64(h * 0x94d049bb133111ebULL);
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
	if (p != NULL && len >= HUGE_ADVICE_MIN)
		(void)madvise(p, len, MADV_HUGEPAGE);
#else
	(void)p;
	(void)len;
#endif
}

/*
 * The four arrays live in mappings of their own: zeroed when new, and
 * grown by mremap, which moves pages rather than copying them (growing by
 * realloc copied every record once more at each doubling).
 */
static void *
arr_grow(void *p, size_t old, size_t len)
{
	void *q;

	if (p == NULL)
		q = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	else
		q = mremap(p, old, len, MREMAP_MAYMOVE);
	if (q == MAP_FAILED)
		return NULL;
	advise_huge(q, len);
	return q;
}

static void
arr_free(void *p, size_t len)
{
	if (p != NULL)
		(void)munmap(p, len);
}

/* ------------------------------------------------------------------ */
/* The indexes.                                                        */

/*
 * A tag matched: fetch the record's lines and its name together rather
 * than one after the other (a record spans two or three cache lines).
 */
static void
prefetch_rec(const struct eca_roster *r, const struct slot *s)
{
	const char *x = (const char *)&r->ents[REF(s) - 1];

	__builtin_prefetch(x);
	__builtin_prefetch(x + sizeof(struct rent) - 1);
	__builtin_prefetch(r->names + s->name_off);
}

/*
 * Whether the name at off is host (len bytes) folded, word by word as
 * eca_roster_hash_name reads it, and ends where host does.
 */
static int
name_is(const struct eca_roster *r, uint32_t off, const char *host, size_t len)
{
	const char *name = r->names + off;
	uint64_t w;
	size_t i;

	if ((size_t)off + len >= r->names_len || name[len] != '\0')
		return 0;
	if (len < 8)
		return short_word(name, len) == short_word(host, len);
	for (i = 0; i + 8 < len; i += 8) {
		memcpy(&w, name + i, 8);
		if (w != word_at(host, i))
			return 0;
	}
	memcpy(&w, name + len - 8, 8);
	return w == word_at(host, len - 8);
}

/* The slot holding host (len bytes, hash h), or the empty one it would. */
static size_t
find_host_slot(const struct eca_roster *r, const char *host, size_t len,
    uint64_t h, int *found)
{
	const struct slot *s;
	size_t i, mask = r->slots - 1;
	uint32_t tag = TAG(h);

	*found = 0;
	for (i = HOME(h, mask);; i = (i + 1) & mask) {
		s = &r->by_host[i];
		if (s->ref == 0)
			return i;
		if (!IS_TAG(s, tag))
			continue;
		/* The lookup reads the record next: fetch it meanwhile. */
		prefetch_rec(r, s);
		if (name_is(r, s->name_off, host, len)) {
			*found = 1;
			return i;
		}
	}
}

static size_t
find_fp_slot(const struct eca_roster *r, const uint8_t *fp, uint64_t h,
    int *found)
{
	const struct slot *s;
	size_t i, mask = r->slots - 1;
	uint32_t tag = TAG(h);

	*found = 0;
	for (i = HOME(h, mask);; i = (i + 1) & mask) {
		s = &r->by_fp[i];
		if (s->ref == 0)
			return i;
		if (!IS_TAG(s, tag))
			continue;
		prefetch_rec(r, s);
		if (memcmp(r->ents[REF(s) - 1].fp, fp, ECA_ROSTER_FP_LEN) ==
		    0) {
			*found = 1;
			return i;
		}
	}
}

static void
slot_put(struct slot *s, const struct eca_roster *r, size_t idx, uint64_t h)
{
	s->ref = TAG(h) | (uint32_t)(idx + 1);
	s->name_off = r->ents[idx].name_off;
}

/* Record idx answers its fingerprint (h its hash): the last put wins. */
static void
fp_index_put(struct eca_roster *r, size_t idx, uint64_t h)
{
	int found;

	slot_put(&r->by_fp[find_fp_slot(r, r->ents[idx].fp, h, &found)], r, idx,
	    h);
}

/* Drop fp's key if it names record idx (backward-shift deletion). */
static void
fp_index_del(struct eca_roster *r, size_t idx)
{
	size_t i, j, k, mask = r->slots - 1;
	int found;

	i = find_fp_slot(r, r->ents[idx].fp, hash_fp(r->ents[idx].fp), &found);
	if (!found || REF(&r->by_fp[i]) != idx + 1)
		return;
	r->by_fp[i].ref = 0;
	for (j = (i + 1) & mask; r->by_fp[j].ref != 0; j = (j + 1) & mask) {
		k = HOME(hash_fp(r->ents[REF(&r->by_fp[j]) - 1].fp), mask);
		/* Move j back to i unless its home is cyclically in (i, j]. */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		r->by_fp[i] = r->by_fp[j];
		r->by_fp[j].ref = 0;
		i = j;
	}
}

/*
 * Both indexes from the records, PREFETCH records at a time: their slots
 * are fetched together rather than one cache miss after another.
 */
#define PREFETCH 16

int
eca_roster_index_build(struct eca_roster *r)
{
	uint64_t hh[PREFETCH], hf[PREFETCH];
	size_t base, k, m, i, mask = r->slots - 1;
	const struct rent *x;
	int found;

	/* The tables are new mappings, or untouched since: all zero. */
	for (base = 0; base < r->n; base += m) {
		m = r->n - base < PREFETCH ? r->n - base : PREFETCH;
		for (k = 0; k < m; k++) {
			x = &r->ents[base + k];
			hh[k] = eca_roster_hash_name(r->names + x->name_off,
			    x->name_len);
			hf[k] = hash_fp(x->fp);
			__builtin_prefetch(&r->by_host[HOME(hh[k], mask)], 1);
			__builtin_prefetch(&r->by_fp[HOME(hf[k], mask)], 1);
		}
		for (k = 0; k < m; k++) {
			x = &r->ents[base + k];
			i = find_host_slot(r, r->names + x->name_off,
			    x->name_len, hh[k], &found);
			if (found)
				return -1;
			slot_put(&r->by_host[i], r, base + k, hh[k]);
			fp_index_put(r, base + k, hf[k]);
		}
	}
	return 0;
}

int
eca_roster_nomem(struct eca_err *err)
{
	return eca_err_set(err, ECA_ERR_NOMEM,
	    "out of memory growing the enrollment roster");
}

int
eca_roster_reserve(struct eca_roster *r, size_t add, size_t names_add,
    struct eca_err *err)
{
	size_t want, ncap, nslots;
	struct slot *fp = NULL, *host = NULL;
	void *p;

	if (add > ECA_ROSTER_HOSTS_MAX || r->n > ECA_ROSTER_HOSTS_MAX - add)
		return eca_err_set(err, ECA_ERR_TOO_LARGE,
		    "the roster of "
		    "primary %s would hold more than %d hosts",
		    r->primary, ECA_ROSTER_HOSTS_MAX);
	names_add += add; /* each name's NUL */
	if (names_add > UINT32_MAX - r->names_len)
		return eca_err_set(err, ECA_ERR_TOO_LARGE,
		    "the host names "
		    "of primary %s's roster would exceed 4 GiB",
		    r->primary);
	want = r->n + add;
	if (want > r->cap) {
		ncap = r->cap == 0 ? 16 : r->cap;
		while (ncap < want)
			ncap *= 2;
		if ((p = arr_grow(r->ents, r->cap * sizeof(*r->ents),
			 ncap * sizeof(*r->ents))) == NULL)
			return eca_roster_nomem(err);
		r->ents = p;
		r->cap = ncap;
	}
	if (r->names_len + names_add > r->names_cap) {
		ncap = r->names_cap == 0 ? 1024 : r->names_cap;
		while (ncap < r->names_len + names_add)
			ncap *= 2;
		if ((p = arr_grow(r->names, r->names_cap, ncap)) == NULL)
			return eca_roster_nomem(err);
		r->names = p;
		r->names_cap = ncap;
	}
	nslots = r->slots == 0 ? MIN_SLOTS : r->slots;
	while (nslots < 2 * want)
		nslots *= 2;
	if (nslots == r->slots)
		return 0;
	if ((fp = arr_grow(NULL, 0, nslots * sizeof(*fp))) == NULL ||
	    (host = arr_grow(NULL, 0, nslots * sizeof(*host))) == NULL) {
		arr_free(fp, nslots * sizeof(*fp));
		return eca_roster_nomem(err);
	}
	arr_free(r->by_fp, r->slots * sizeof(*r->by_fp));
	arr_free(r->by_host, r->slots * sizeof(*r->by_host));
	r->by_fp = fp;
	r->by_host = host;
	r->slots = nslots;
	/* The records held have one name each: never refused. */
	if (eca_roster_index_build(r) != 0)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "the roster of %s holds a host twice", r->primary);
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

/* The slots e's name and fingerprint hash to, fetched ahead of upsert. */
static void
prefetch_entry(const struct eca_roster *r, const struct eca_roster_entry *e,
    size_t name_len)
{
	size_t mask = r->slots - 1;

	__builtin_prefetch(
	    &r->by_host[HOME(eca_roster_hash_name(e->host, name_len), mask)]);
	__builtin_prefetch(&r->by_fp[HOME(hash_fp(e->fingerprint), mask)]);
}

void
eca_roster_upsert(struct eca_roster *r, const struct eca_roster_entry *e,
    const uint8_t host_id[ROSTER_UUID_RAW], size_t name_len)
{
	struct rent *x;
	uint64_t h = eca_roster_hash_name(e->host, name_len);
	size_t i, idx;
	int found;

	i = find_host_slot(r, e->host, name_len, h, &found);
	if (found) {
		idx = REF(&r->by_host[i]) - 1;
		fp_index_del(r, idx);
	} else {
		idx = r->n++;
		x = &r->ents[idx];
		memcpy(r->names + r->names_len, e->host, name_len);
		r->names[r->names_len + name_len] = '\0';
		x->name_off = (uint32_t)r->names_len;
		x->name_len = (uint8_t)name_len;
		r->names_len += name_len + 1;
		slot_put(&r->by_host[i], r, idx, h);
	}
	x = &r->ents[idx];
	memcpy(x->fp, e->fingerprint, ECA_ROSTER_FP_LEN);
	memcpy(x->spki, e->spki_fingerprint, ECA_ROSTER_FP_LEN);
	memcpy(x->host_id, host_id, ROSTER_UUID_RAW);
	x->not_after = e->not_after;
	x->version = e->version;
	x->state = (uint8_t)e->state;
	x->nat = e->nat ? 1 : 0;
	fp_index_put(r, idx, hash_fp(x->fp));
}

/*
 * Copy n bytes (a name and its NUL: 1 to 256) in whole moves, the last one
 * ending at n.  Not memcpy: knowing n to be at most 256, the compiler
 * makes it one `rep movs`, and when n comes from a record still on its
 * way from memory, that instruction holds back every one after it, the
 * next lookups' loads included (with it, bench_roster's lookup by
 * fingerprint took about 230 ns instead of 160).  These branches are
 * predicted instead.
 */
static void
copy_name(char *dst, const char *src, size_t n)
{
	size_t i;

	if (n >= 16) {
		for (i = 0; i + 16 < n; i += 16)
			memcpy(dst + i, src + i, 16);
		memcpy(dst + n - 16, src + n - 16, 16);
	} else if (n >= 8) {
		memcpy(dst, src, 8);
		memcpy(dst + n - 8, src + n - 8, 8);
	} else if (n >= 4) {
		memcpy(dst, src, 4);
		memcpy(dst + n - 4, src + n - 4, 4);
	} else {
		for (i = 0; i < n; i++)
			dst[i] = src[i];
	}
}

/* The record of slot s, with its host name (len bytes). */
static void
entry_out(const struct eca_roster *r, const struct slot *s, const char *name,
    size_t len, struct eca_roster_entry *out)
{
	const struct rent *x = &r->ents[REF(s) - 1];

	copy_name(out->host, name, len + 1);
	eca_roster_uuid_text(x->host_id, out->host_id);
	out->state = (enum eca_state)x->state;
	memcpy(out->fingerprint, x->fp, ECA_ROSTER_FP_LEN);
	memcpy(out->spki_fingerprint, x->spki, ECA_ROSTER_FP_LEN);
	out->not_after = x->not_after;
	out->version = x->version;
	out->nat = x->nat;
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
		return eca_roster_nomem(err);
	/* Kept canonical: a delta or a file names it that way. */
	if (eca_hostname_canon(primary, r->primary, sizeof(r->primary), NULL) !=
	    0) {
		free(r);
		return eca_err_set(err, ECA_ERR_CONFIG,
		    "\"%.64s\" is not a "
		    "valid primary server name (check SERVER)",
		    primary);
	}
	*out = r;
	return 0;
}

void
eca_roster_free(struct eca_roster *r)
{
	if (r == NULL)
		return;
	arr_free(r->ents, r->cap * sizeof(*r->ents));
	arr_free(r->names, r->names_cap);
	arr_free(r->by_fp, r->slots * sizeof(*r->by_fp));
	arr_free(r->by_host, r->slots * sizeof(*r->by_host));
	free(r->maps);
	free(r);
}

int
eca_roster_lookup_host(const struct eca_roster *r, const char *host,
    struct eca_roster_entry *out)
{
	const struct slot *s;
	size_t i, len;
	int found;

	if (r == NULL || host == NULL || out == NULL || r->slots == 0)
		return ECA_ERR_NOT_FOUND;
	/*
	 * Keys are canonical, and the name is folded to lower case as it is
	 * read: MEDIA1.example finds media1.example, and a name that is not a
	 * host name finds nothing (hostname.h).  It is not folded into a copy
	 * first: the copy's words would be read back across the stores that
	 * wrote them, and such a load waits until the stores reach the cache,
	 * after every earlier instruction, the previous lookups' cache misses
	 * included; lookups would no longer overlap.
	 */
	len = strnlen(host, ECA_HOSTNAME_MAX_LEN + 1);
	if (len == 0 || len > ECA_HOSTNAME_MAX_LEN)
		return ECA_ERR_NOT_FOUND;
	i = find_host_slot(r, host, len, eca_roster_hash_name(host, len),
	    &found);
	if (!found)
		return ECA_ERR_NOT_FOUND;
	s = &r->by_host[i];
	entry_out(r, s, r->names + s->name_off, len, out);
	return 0;
}

int
eca_roster_lookup_fp(const struct eca_roster *r,
    const uint8_t fp[ECA_ROSTER_FP_LEN], struct eca_roster_entry *out)
{
	const struct slot *s;
	size_t i;
	int found;

	if (r == NULL || fp == NULL || out == NULL || r->slots == 0)
		return ECA_ERR_NOT_FOUND;
	i = find_fp_slot(r, fp, hash_fp(fp), &found);
	if (!found)
		return ECA_ERR_NOT_FOUND;
	s = &r->by_fp[i];
	entry_out(r, s, r->names + s->name_off, r->ents[REF(s) - 1].name_len,
	    out);
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

int
eca_roster_holds_map(const struct eca_roster *r, const char *subject)
{
	int found;

	(void)map_find(r, subject, &found);
	return found;
}

void
eca_roster_map_apply(struct eca_roster *r, const struct eca_roster_map *m)
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

int
eca_roster_maps_reserve(struct eca_roster *r, size_t add, struct eca_err *err)
{
	struct eca_roster_map *p;
	size_t want;

	if (add > ECA_ROSTER_MAPS_MAX || r->nmaps + add > ECA_ROSTER_MAPS_MAX)
		return eca_err_set(err, ECA_ERR_TOO_LARGE,
		    "more than %d "
		    "subject mappings in the roster of %s",
		    ECA_ROSTER_MAPS_MAX, r->primary);
	want = r->nmaps + add;
	if (want <= r->maps_cap)
		return 0;
	if ((p = realloc(r->maps, want * sizeof(*p))) == NULL)
		return eca_roster_nomem(err);
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
	    r->slots * (sizeof(*r->by_fp) + sizeof(*r->by_host)) +
	    r->maps_cap * sizeof(*r->maps);
}

int
eca_roster_check_fresh(const struct eca_roster *r, int64_t now, int64_t max_age,
    struct eca_err *err)
{
	if (r == NULL)
		return eca_err_set(err, ECA_ERR_ROSTER_STALE,
		    "no enrollment roster is loaded");
	if (r->synced_at == 0)
		return eca_err_set(err, ECA_ERR_ROSTER_STALE,
		    "the enrollment "
		    "roster of primary %s has never been synced; peers are "
		    "refused until it is (check that %s is reachable)",
		    r->primary, r->primary);
	if (now - r->synced_at > max_age)
		return eca_err_set(err, ECA_ERR_ROSTER_STALE,
		    "the enrollment "
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
	uint8_t(*ids)[ROSTER_UUID_RAW] = NULL;
	size_t i, names = 0;
	int r_ = ECA_ERR_INTERNAL;

	if (r == NULL || d == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_roster_apply: missing argument");
	if (strcmp(d->primary, r->primary) != 0)
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the roster answer "
		    "comes from primary %.64s, not %s (check SERVER)",
		    d->primary, r->primary);
	if (!d->full && d->since != r->version)
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the roster answer "
		    "of primary %s follows version %lld, not this roster's "
		    "%lld (ask again with since=%lld)",
		    r->primary, (long long)d->since, (long long)r->version,
		    (long long)r->version);
	if (d->n > 0 && (ids = calloc(d->n, sizeof(*ids))) == NULL)
		return eca_roster_nomem(err);
	for (i = 0; i < d->n; i++) {
		if (eca_roster_uuid_parse(d->entries[i].host_id, ids[i]) != 0) {
			r_ = eca_err_set(err, ECA_ERR_PROTOCOL,
			    "roster entry "
			    "%zu has a malformed host_id",
			    i);
			goto out;
		}
		names += strnlen(d->entries[i].host, ROSTER_NAME_MAX + 1);
	}
	/* Full: everything is replaced; reserve on top of the old anyway. */
	if ((r_ = eca_roster_reserve(r, d->n, names, err)) != 0 ||
	    (r_ = eca_roster_maps_reserve(r, d->nmaps, err)) != 0)
		goto out;
	if (d->full)
		clear(r);
	for (i = 0; i < d->n; i++) {
		if (i + PREFETCH < d->n)
			prefetch_entry(r, &d->entries[i + PREFETCH],
			    strnlen(d->entries[i + PREFETCH].host,
				ROSTER_NAME_MAX + 1));
		eca_roster_upsert(r, &d->entries[i], ids[i],
		    strnlen(d->entries[i].host, ROSTER_NAME_MAX + 1));
	}
	for (i = 0; i < d->nmaps; i++)
		eca_roster_map_apply(r, &d->maps[i]);
	r->version = d->next;
	if (!d->more)
		r->synced_at = now;
	r_ = 0;
out:
	free(ids);
	return r_;
}
