/* SPDX-License-Identifier: ISC */
/*
 * roster.h - a host's local copy of one primary's enrollments.
 *
 * The primary serves its registry as a versioned roster
 * (GET /v1/roster?since=V, docs/roster.md); a host keeps the answer in
 * memory, indexed by leaf fingerprint and by host name, so that checking a
 * peer costs a hash lookup, and on disk in STATE_DIR so that it survives a
 * restart.  One struct eca_roster per primary.  No global state; the
 * roster is not locked: the caller serialises changes against lookups.
 *
 * Every record is kept whatever its state (a removal arrives as a REMOVED
 * record), so a lookup can say why a host is refused.  Memory: about 176
 * bytes per host (docs/roster.md has the figures from bench/bench_roster).
 */
#ifndef ECA_ROSTER_H
#define ECA_ROSTER_H

#include <stddef.h>
#include <stdint.h>

#include "certinfo.h"
#include "err.h"
#include "store.h"

#define ECA_ROSTER_FP_LEN 32	     /* raw SHA-256 */
#define ECA_ROSTER_PAGE_DEFAULT 1000 /* entries per GET /v1/roster */
#define ECA_ROSTER_PAGE_MAX 5000     /* largest ?limit= accepted */
/* Largest roster body a host accepts: a full page of longest entries. */
#define ECA_ROSTER_BODY_MAX (4 * 1024 * 1024)

/*
 * The hash of a host name (len bytes), the name folded to lower case: in
 * the roster's index a slot's home is its low bits, its tag the top 7; the
 * daemon's hint of names held (hostset.h) probes with it too.
 */
uint64_t eca_roster_hash_name(const char *s, size_t len);
/* Most hosts one roster holds (the indexes use 32-bit slots). */
#define ECA_ROSTER_HOSTS_MAX (16 * 1024 * 1024)
/* ECA_ROSTER_MAX_AGE's default, in seconds. */
#define ECA_ROSTER_MAX_AGE_DEFAULT 3600

struct eca_roster;

/* One record as the roster holds it; fingerprints are raw bytes. */
struct eca_roster_entry {
	char host[ECA_HOST_MAX];
	char host_id[ECA_HOST_ID_LEN + 1]; /* lowercase UUID */
	enum eca_state state;
	uint8_t fingerprint[ECA_ROSTER_FP_LEN];
	uint8_t spki_fingerprint[ECA_ROSTER_FP_LEN];
	int64_t not_after; /* unix seconds, 0 unknown */
	int64_t version;   /* registry version of its change */
	int nat;	   /* a NAT host (docs/nat.md) */
};

/*
 * ECA_IDENTITY = DN: one of the administrator's subject -> host mappings
 * (`eca map add`), as the roster carries them ("mappings" of an answer:
 * the mappings changed after since, removed ones with removed = 1).
 */
struct eca_roster_map {
	char subject[ECA_DN_MAX]; /* eca_dn_normalize form */
	char host[ECA_HOST_MAX];
	int removed;
	int64_t version;
};
/* Most mappings one roster holds. */
#define ECA_ROSTER_MAPS_MAX (1024 * 1024)

/*
 * One decoded answer of GET /v1/roster.  full: the entries restart from
 * the beginning and replace whatever the roster holds (since was 0 or
 * older than the primary can derive); more: another page follows,
 * requested with since = next.  Owned by the caller; eca_roster_delta_free.
 */
struct eca_roster_delta {
	char primary[ECA_HOST_MAX];
	int64_t since;	 /* the since it answers */
	int64_t version; /* registry version when it was served */
	int64_t next;	 /* since for the next request */
	int full;
	int more;
	size_t n;
	struct eca_roster_entry *entries;
	/* Mappings changed in (since, next]; absent from older primaries. */
	size_t nmaps;
	struct eca_roster_map *maps;
};

/*
 * Decode a roster body (len bytes, not NUL-terminated).  A total, bounded
 * parser: at most ECA_ROSTER_BODY_MAX bytes and ECA_ROSTER_PAGE_MAX
 * entries; every field checked (host names, lowercase hex fingerprints,
 * UUIDs, states, RFC 3339 times, versions increasing and after since,
 * next consistent with more).  Unknown keys are ignored, so a newer
 * primary can add fields.  ECA_ERR_TOO_LARGE or ECA_ERR_PROTOCOL with a
 * sentence naming the field; *out is NULL on failure.  A page as a primary
 * writes it is decoded in one pass without a JSON tree (roster_scan.c);
 * anything else goes through jansson, with the same checks.
 */
int eca_roster_delta_parse(const char *buf, size_t len,
    struct eca_roster_delta **out, struct eca_err *err) ECA_WUR;
void eca_roster_delta_free(struct eca_roster_delta *d);

/* An empty roster (version 0, never synced) for primary. */
int eca_roster_new(const char *primary, struct eca_roster **out,
    struct eca_err *err) ECA_WUR;
void eca_roster_free(struct eca_roster *r);

/*
 * Apply a decoded answer: all or nothing (memory is reserved before the
 * first change).  Refused (ECA_ERR_PROTOCOL) when it comes from another
 * primary, or when it is a delta (not full) whose since is not this
 * roster's version.  Afterwards the roster's version is d->next, and when
 * d->more is 0 the sync is complete: the sync time becomes now.
 */
int eca_roster_apply(struct eca_roster *r, const struct eca_roster_delta *d,
    int64_t now, struct eca_err *err) ECA_WUR;

/* Lookups: 0 and *out filled, or ECA_ERR_NOT_FOUND (no message). */
int eca_roster_lookup_host(const struct eca_roster *r, const char *host,
    struct eca_roster_entry *out) ECA_WUR;
/*
 * By leaf fingerprint.  Should two records hold the same certificate, the
 * one applied last answers.
 */
int eca_roster_lookup_fp(const struct eca_roster *r,
    const uint8_t fp[ECA_ROSTER_FP_LEN], struct eca_roster_entry *out) ECA_WUR;

/*
 * ECA_IDENTITY = DN: the host subject (eca_dn_normalize form) is mapped
 * to; 0 with host filled (size bytes), or ECA_ERR_NOT_FOUND.
 */
int eca_roster_lookup_dn(const struct eca_roster *r, const char *subject,
    char *host, size_t size) ECA_WUR;
/* Live mappings held. */
size_t eca_roster_map_count(const struct eca_roster *r);

const char *eca_roster_primary(const struct eca_roster *r);
/* The version to ask for next (since=); 0 for an empty roster. */
int64_t eca_roster_version(const struct eca_roster *r);
/* Records held, whatever their state. */
size_t eca_roster_count(const struct eca_roster *r);
/* Unix time of the last complete sync; 0 never. */
int64_t eca_roster_synced_at(const struct eca_roster *r);
/* Bytes the roster has allocated (entries, names, indexes). */
size_t eca_roster_memory(const struct eca_roster *r);

/*
 * Fail closed on an old roster: 0 if the last complete sync is at most
 * max_age seconds before now, else ECA_ERR_ROSTER_STALE with the age and
 * the remedy (never synced counts as stale).
 */
int eca_roster_check_fresh(const struct eca_roster *r, int64_t now,
    int64_t max_age, struct eca_err *err) ECA_WUR;

/* STATE_DIR/roster-PRIMARY.bin into buf; ECA_ERR_CONFIG if it does not fit. */
int eca_roster_path(const char *state_dir, const char *primary, char *buf,
    size_t len, struct eca_err *err) ECA_WUR;
/*
 * Save to path: a binary file (header, version, records, SHA-256 of all
 * that) written to a temporary file beside it, fsynced, renamed over path
 * and the directory fsynced, so that a crash leaves the old file or the
 * new one.  Mode 0600.
 */
int eca_roster_save(const struct eca_roster *r, const char *path,
    struct eca_err *err) ECA_WUR;
/*
 * Load path as the roster of primary.  ECA_ERR_NOT_FOUND if there is no
 * file; ECA_ERR_PARSE for a corrupt, truncated or foreign file (wrong
 * magic, checksum, primary or record), with a sentence saying the roster
 * starts empty and is synced in full.  *out is NULL on failure.
 */
int eca_roster_load(const char *path, const char *primary,
    struct eca_roster **out, struct eca_err *err) ECA_WUR;

/* Lowercase hex (64 chars) to raw; -1 if not exactly that. */
int eca_roster_fp_from_hex(const char *hex, uint8_t raw[ECA_ROSTER_FP_LEN]);
/* Raw to lowercase hex; buf has ECA_FP_HEX_LEN + 1 bytes. */
void eca_roster_fp_to_hex(const uint8_t raw[ECA_ROSTER_FP_LEN],
    char buf[ECA_FP_HEX_LEN + 1]);

#endif
