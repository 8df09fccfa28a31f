/* SPDX-License-Identifier: ISC */
/*
 * roster_impl.h - what the parts of the roster share.
 *
 * Private to roster.c (the in-memory index: records, names, hash tables,
 * lookups, applying a delta), roster_delta.c (the text forms: the JSON
 * answer of GET /v1/roster, hex fingerprints, UUIDs) and roster_file.c
 * (the binary file in STATE_DIR).  Nothing else includes it.
 *
 * Layout, chosen for a million hosts in under 200 bytes each (about 176
 * allocated): records are fixed 104-byte structs in one array
 * (fingerprints and host ID as raw bytes), host names are packed in one
 * arena (each with a NUL), and two open-addressing tables (linear probing,
 * load at most 1/2) map a fingerprint and a host name to the record's
 * index + 1 (0 is an empty slot) and the name's offset, each slot with a
 * tag of the key's hash so that a probe reads no record but the one it
 * finds.  Records are
 * never deleted (a removal is a REMOVED record), so the arena never has
 * holes; only the fingerprint index loses keys, by backward-shift
 * deletion.
 */
#ifndef ECA_ROSTER_IMPL_H
#define ECA_ROSTER_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "roster.h"

#define ROSTER_UUID_RAW 16
#define ROSTER_NAME_MAX 253 /* longest host name, without its NUL */

/* One record as the index keeps it. */
struct rent {
	uint8_t fp[ECA_ROSTER_FP_LEN];
	uint8_t spki[ECA_ROSTER_FP_LEN];
	uint8_t host_id[ROSTER_UUID_RAW];
	int64_t not_after;
	int64_t version;
	uint32_t name_off; /* into names */
	uint8_t name_len;
	uint8_t state;
	uint8_t nat; /* a NAT host (the record's "nat") */
};
/* In the roster file's state byte (format 3): a NAT host. */
#define ROSTER_NAT 0x80u

/*
 * A slot of either index (8 bytes): the offset of the record's host name
 * in names, and ref = the record's index + 1 (0: empty slot) in the low
 * ROSTER_REF_BITS bits under a 7-bit tag of the key's hash.  A probe
 * reads a record or a name only when the tag matches, and a lookup
 * fetches the record and its name together.
 */
#define ROSTER_REF_BITS 25 /* ECA_ROSTER_HOSTS_MAX + 1 fits */
#define ROSTER_REF_MASK ((1u << ROSTER_REF_BITS) - 1)

struct slot {
	uint32_t name_off;
	uint32_t ref;
};

struct eca_roster {
	char primary[ECA_HOST_MAX];
	int64_t version;
	int64_t synced_at;
	struct rent *ents;
	size_t n, cap;
	char *names; /* each name followed by a NUL */
	size_t names_len, names_cap;
	struct slot *by_fp;
	struct slot *by_host;
	size_t slots; /* a power of two, or 0 */
	/* DN mappings, live ones only, sorted by subject (bsearch). */
	struct eca_roster_map *maps;
	size_t nmaps, maps_cap;
};

/* ---- roster.c: building the index. ---- */

/* ECA_ERR_NOMEM with the roster's sentence. */
int eca_roster_nomem(struct eca_err *err);
/*
 * Make room for add more records with names_add more name bytes (without
 * their NULs), so that eca_roster_upsert cannot fail half-way.
 */
int eca_roster_reserve(struct eca_roster *r, size_t add, size_t names_add,
    struct eca_err *err) ECA_WUR;
/*
 * Insert or replace the record of e->host (name_len bytes, canonical).
 * Room was reserved: cannot fail.  A replaced record keeps its slot and
 * name.
 */
void eca_roster_upsert(struct eca_roster *r, const struct eca_roster_entry *e,
    const uint8_t host_id[ROSTER_UUID_RAW], size_t name_len);
/*
 * Index records 0..n-1 into empty tables (all zero: new, as
 * eca_roster_reserve makes them, and nothing indexed since), e.g. after
 * appending a file's records to a new roster's ents and names: -1 if two
 * of them have one host name.
 */
int eca_roster_index_build(struct eca_roster *r) ECA_WUR;

/* Room for add more mappings, so that eca_roster_map_apply cannot fail. */
int eca_roster_maps_reserve(struct eca_roster *r, size_t add,
    struct eca_err *err) ECA_WUR;
/* Apply one mapping change (a removal drops it); room was reserved. */
void eca_roster_map_apply(struct eca_roster *r, const struct eca_roster_map *m);
/* Whether a live mapping of subject is held. */
int eca_roster_holds_map(const struct eca_roster *r, const char *subject);

/* ---- roster_delta.c: text forms. ---- */

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", lowercase, to 16 bytes; -1 if not. */
int eca_roster_uuid_parse(const char *s, uint8_t raw[ROSTER_UUID_RAW]);
/* 16 bytes to that text (by hand, not snprintf: it runs on every lookup). */
void eca_roster_uuid_text(const uint8_t raw[ROSTER_UUID_RAW],
    char out[ECA_HOST_ID_LEN + 1]);

/* Versions in order and next consistent with them (err may be NULL). */
int eca_roster_delta_check_order(const struct eca_roster_delta *d,
    struct eca_err *err) ECA_WUR;

/* ---- roster_scan.c: the fast path of eca_roster_delta_parse. ---- */

/*
 * Decode a page as a primary writes it, in one pass: 0 and *out, or 1
 * when it is not handled (anything outside the strict subset of JSON the
 * primary writes, or any check failing): then decode it with jansson.
 */
int eca_roster_scan(const char *buf, size_t len,
    struct eca_roster_delta **out) ECA_WUR;

#endif
