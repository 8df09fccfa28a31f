/* SPDX-License-Identifier: ISC */
/*
 * store.h - the registry store: enrollment records and their history.
 *
 * A backend-neutral interface; store_sqlite.c is the embedded backend and a
 * PostgreSQL backend can sit beside it behind the same calls.  The store
 * knows rows, not policy: what a request does to a row is decided in
 * enroll.c.  Writes happen inside eca_store_begin/commit; the daemon's one
 * writer thread is the only writer.
 */
#ifndef ECA_STORE_H
#define ECA_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "certinfo.h"
#include "config.h"
#include "err.h"

enum eca_state {
	ECA_STATE_ENROLLED,
	ECA_STATE_CONFLICT, /* enrolled cert kept; a candidate waits */
	ECA_STATE_REMOVED,
	ECA_STATE_BANNED,
	ECA_STATE_REVOKED,
};
enum eca_method { ECA_METHOD_AUTO, ECA_METHOD_MANUAL, ECA_METHOD_ADMIN };

#define ECA_HOST_ID_LEN 36 /* UUID text form */
#define ECA_SOURCE_MAX 64  /* "203.0.113.9:51234", "local" */

struct eca_enrollment {
	char primary[ECA_HOST_MAX]; /* the primary whose domain this is */
	char host[ECA_HOST_MAX];
	char host_id[ECA_HOST_ID_LEN + 1];
	enum eca_role role;
	enum eca_state state;
	enum eca_method method;
	struct eca_certinfo cert; /* the enrolled certificate */
	/*
	 * CONFLICT: certificates wait (each one in the candidates table,
	 * eca_store_candidates).  candidate is the newest of them, kept in
	 * the record for older clients and short listings; ncandidates (read
	 * only: counted from the candidates table) says how many wait.
	 */
	int has_candidate;
	struct eca_certinfo candidate;
	int64_t candidate_at;
	char candidate_source[ECA_SOURCE_MAX];
	int ncandidates;
	int64_t enrolled_at;	     /* first enrollment of this cert */
	int64_t updated_at;	     /* last change of the record */
	int64_t last_seen;	     /* last request from the host */
	char source[ECA_SOURCE_MAX]; /* address the enrollment came from */
	int64_t version;	     /* registry version of the last change */
	/*
	 * A NAT host (docs/nat.md): set by its enrollment request's "nat" or
	 * its broker session; kept until the record is removed and the host
	 * enrolls again without it.
	 */
	int nat;
};

/*
 * A record's certificates own their dNSNames' text when it is long
 * (certinfo.h): release a record the store, the wire decoder or
 * eca_enrollment_copy filled with eca_enrollment_clear (the record's other
 * fields stay), an array of n of them with eca_enrollments_free.  Copy
 * one only with eca_enrollment_copy (dst treated as uninitialized;
 * ECA_ERR_NOMEM leaves dst with no text to release).
 */
void eca_enrollment_clear(struct eca_enrollment *rec);
void eca_enrollments_free(struct eca_enrollment *recs, size_t n);
int eca_enrollment_copy(struct eca_enrollment *dst,
    const struct eca_enrollment *src, struct eca_err *err) ECA_WUR;

/* One change of a record, appended for every decision that writes. */
struct eca_history_entry {
	int64_t id;
	char primary[ECA_HOST_MAX];
	char host[ECA_HOST_MAX];
	char host_id[ECA_HOST_ID_LEN + 1];
	/* ENROLL RENEW CONFLICT APPROVE REJECT REMOVE FORCE BAN UNBAN REVOKE */
	char event[16];
	enum eca_state state; /* state after the change */
	char fingerprint[ECA_FP_HEX_LEN + 1];
	char spki_fingerprint[ECA_FP_HEX_LEN + 1];
	char actor[ECA_DN_MAX]; /* host name, admin identity or "local:UID" */
	char source[ECA_SOURCE_MAX];
	int64_t at;
};

struct eca_store;

#define ECA_STORE_READONLY 0x1 /* a reader connection */

/*
 * Open the store named by uri: "sqlite:PATH" (created and migrated unless
 * READONLY; WAL, synchronous=FULL and the busy timeout set in one place),
 * or PostgreSQL: "postgresql://...", "postgres://..." or a libpq keyword
 * string (migrated under an advisory lock unless READONLY; a password in
 * it is refused).
 */
int eca_store_open(const char *uri, int flags, struct eca_store **out,
    struct eca_err *err) ECA_WUR;
/*
 * The same for the store cfg names: ECA_DB, and for PostgreSQL the
 * password in ECA_DB_PASSWORD_FILE when set (mode 0600 or 0400).
 */
int eca_store_open_cfg(const struct eca_config *cfg, int flags,
    struct eca_store **out, struct eca_err *err) ECA_WUR;
void eca_store_close(struct eca_store *st);
/*
 * Whether s is a libpq keyword string ("host=... dbname=..."): it starts
 * with a keyword and '='.  (postgresql:// and postgres:// URIs are the
 * other PostgreSQL spellings.)
 */
int eca_store_is_pg_keywords(const char *s);

/*
 * A database server that can go away (PostgreSQL): what the connections
 * of one process share about reaching it, so that the loss and the
 * return are logged once each and one connection at a time tries to
 * reconnect (a jittered backoff from 1 s to 30 s).  While it is down,
 * every call fails at once with ECA_ERR_DB_UNAVAILABLE.  A reader
 * (READONLY) of a shared watch never reconnects it: the writer does, in
 * eca_store_probe.  Without a shared watch a connection has its own.
 * The calls do nothing, and say up, for SQLite.
 */
struct eca_store_watch;
int eca_store_watch_new(struct eca_store_watch **out,
    struct eca_err *err) ECA_WUR;
void eca_store_watch_free(struct eca_store_watch *w);
void eca_store_watch_attach(struct eca_store *st, struct eca_store_watch *w);
/* Whether the server was lost and not restored since (w may be NULL). */
int eca_store_watch_down(struct eca_store_watch *w);
/*
 * When the watch is down and it is this connection's turn, try to
 * reconnect: 0 when the server is reachable, else ECA_ERR_DB_UNAVAILABLE
 * with *next_ms the monotonic time (eca_util_mono_ms) of the next turn.
 */
int eca_store_probe(struct eca_store *st, int64_t *next_ms,
    struct eca_err *err) ECA_WUR;

/*
 * PostgreSQL: a transaction that takes a registry version NOTIFYs the
 * channel eca_registry with it, delivered at COMMIT.  On a connection of
 * its own (READONLY, no shared watch): eca_store_listen LISTENs,
 * eca_store_listen_fd is the socket to watch, and eca_store_listen_read
 * (when it is readable) counts the notifications in *n and raises
 * *version to the highest one; ECA_ERR_DB_UNAVAILABLE when the
 * connection is lost (open a new one).  ECA_ERR_INTERNAL on SQLite.
 */
int eca_store_listen(struct eca_store *st, struct eca_err *err) ECA_WUR;
int eca_store_listen_fd(struct eca_store *st);
int eca_store_listen_read(struct eca_store *st, int64_t *version, size_t *n,
    struct eca_err *err) ECA_WUR;

/* Transactions: begin is BEGIN IMMEDIATE; commit is durable on return. */
int eca_store_begin(struct eca_store *st, struct eca_err *err) ECA_WUR;
int eca_store_commit(struct eca_store *st, struct eca_err *err) ECA_WUR;
void eca_store_rollback(struct eca_store *st);
/* A savepoint inside the transaction, so one request of a group can fail alone. */
int eca_store_savepoint(struct eca_store *st, struct eca_err *err) ECA_WUR;
int eca_store_release(struct eca_store *st, struct eca_err *err) ECA_WUR;
void eca_store_rollback_to(struct eca_store *st);

/* ECA_ERR_NOT_FOUND if (primary, host) has no record. */
int eca_store_get(struct eca_store *st, const char *primary, const char *host,
    struct eca_enrollment *out, struct eca_err *err) ECA_WUR;
/* Insert or replace the record of (rec->primary, rec->host). */
int eca_store_put(struct eca_store *st, const struct eca_enrollment *rec,
    struct eca_err *err) ECA_WUR;
/* Next registry version (monotonic, inside the transaction). */
int eca_store_next_version(struct eca_store *st, int64_t *out,
    struct eca_err *err) ECA_WUR;
int eca_store_add_history(struct eca_store *st,
    const struct eca_history_entry *h, struct eca_err *err) ECA_WUR;

/*
 * Records of primary ordered by host, hosts strictly after after_host (NULL:
 * from the start), at most limit; state < 0 means any state.  *out is the
 * caller's (eca_enrollments_free), *n its length.
 */
int eca_store_list(struct eca_store *st, const char *primary, int state,
    const char *after_host, size_t limit, struct eca_enrollment **out,
    size_t *n, struct eca_err *err) ECA_WUR;
/*
 * A page of records in a chosen order, for the console's hosts page
 * (GET /v1/enrollments?sort=...): filtered by state and by the start of the
 * name, sorted by name, state, enrollment time or expiry (ties by name),
 * either way, and paged by a keyset cursor (the last row's sort value and
 * name) so that any page costs the same at a million records.  Every
 * order has an index (store_sqlite.c, store_pg.c: enrollments_*).
 */
enum eca_store_sort {
	ECA_SORT_NAME,
	ECA_SORT_STATE,	   /* by the state's name: BANNED, CONFLICT, ... */
	ECA_SORT_ENROLLED, /* enrolled_at */
	ECA_SORT_EXPIRY,   /* the enrolled certificate's not_after */
};
#define ECA_STORE_NSORTS 4

struct eca_store_page {
	int state;		   /* -1: any */
	char prefix[ECA_HOST_MAX]; /* "": any name */
	enum eca_store_sort sort;
	int desc;
	int has_after;		       /* rows after this one only */
	char after_host[ECA_HOST_MAX]; /* the cursor's name */
	int after_state;	       /* its state (ECA_SORT_STATE) */
	int64_t after_time;	       /* its enrolled_at or not_after */
	size_t limit;
};

/* *out the caller's (eca_enrollments_free), *n its length. */
int eca_store_page(struct eca_store *st, const char *primary,
    const struct eca_store_page *q, struct eca_enrollment **out, size_t *n,
    struct eca_err *err) ECA_WUR;
/* History of one host, oldest first, at most limit entries. */
int eca_store_history(struct eca_store *st, const char *primary,
    const char *host, size_t limit, struct eca_history_entry **out, size_t *n,
    struct eca_err *err) ECA_WUR;

/*
 * What the roster carries of one record (GET /v1/roster): the fields a
 * peer needs to judge a host, nothing else.
 */
struct eca_change {
	char host[ECA_HOST_MAX];
	char host_id[ECA_HOST_ID_LEN + 1];
	enum eca_state state;
	char fingerprint[ECA_FP_HEX_LEN + 1];
	char spki_fingerprint[ECA_FP_HEX_LEN + 1];
	int64_t not_after;
	int64_t version;
	int nat; /* a NAT host (sent only when true) */
};

/*
 * Records of primary whose version is greater than since, in version
 * order, at most limit.  Records are never deleted (a removal is a REMOVED
 * record with a new version), so since = 0 gives every record.  *out is
 * the caller's (free()), *n its length.
 */
int eca_store_changes(struct eca_store *st, const char *primary, int64_t since,
    size_t limit, struct eca_change **out, size_t *n,
    struct eca_err *err) ECA_WUR;
/* The current registry version (the last one handed out; 0 when none). */
int eca_store_version(struct eca_store *st, int64_t *out,
    struct eca_err *err) ECA_WUR;
/*
 * primary's records counted by state (and in all), the certificates
 * waiting for a decision (every candidate of a CONFLICT record), and the
 * ENROLLED records whose certificate ends at or before until (unix
 * seconds): one bounded query, for GET /metrics and the console.
 */
struct eca_store_counts {
	int64_t states[(int)ECA_STATE_REVOKED + 1];
	int64_t total, waiting, expiring;
};
int eca_store_counts(struct eca_store *st, const char *primary, int64_t until,
    struct eca_store_counts *out, struct eca_err *err) ECA_WUR;

/*
 * A certificate waiting for an administrator's decision (CONFLICT).
 * Each distinct certificate (by leaf fingerprint) a host presented is
 * kept, at most ECA_CANDIDATES_MAX per host, so that approval enrolls
 * exactly the certificate the administrator saw.
 */
#define ECA_CANDIDATES_MAX 8
struct eca_candidate {
	struct eca_certinfo cert;
	int64_t at;		     /* first presented */
	int64_t last_seen;	     /* last presented */
	char source[ECA_SOURCE_MAX]; /* address it first came from */
};

/* The n candidates at c released (eca_certinfo_clear each) and freed. */
void eca_candidates_free(struct eca_candidate *c, size_t n);
/* *dst = *src, its own copy of the certificate (as eca_certinfo_copy). */
int eca_candidate_copy(struct eca_candidate *dst,
    const struct eca_candidate *src, struct eca_err *err) ECA_WUR;

/*
 * The candidates of (primary, host), oldest first; *out is the caller's
 * (eca_candidates_free).
 */
int eca_store_candidates(struct eca_store *st, const char *primary,
    const char *host, struct eca_candidate **out, size_t *n,
    struct eca_err *err) ECA_WUR;
/*
 * Add c, or when its fingerprint waits already, only update its
 * last_seen (at and source of the first sighting kept).
 */
int eca_store_candidate_put(struct eca_store *st, const char *primary,
    const char *host, const struct eca_candidate *c,
    struct eca_err *err) ECA_WUR;
/* Drop one candidate (ECA_ERR_NOT_FOUND if it does not wait), or all (fp NULL). */
int eca_store_candidate_del(struct eca_store *st, const char *primary,
    const char *host, const char *fp, struct eca_err *err) ECA_WUR;

/*
 * ECA_IDENTITY = DN: the administrator's mapping of a certificate subject
 * (RFC 2253, normalized by eca_dn_normalize) to a host.  One subject maps
 * to one host and one host has one subject.  Rows are never deleted: a
 * removed mapping keeps its row with removed = 1 and a new registry
 * version, so the roster carries removals (like REMOVED records).
 */
struct eca_dnmap {
	char subject[ECA_DN_MAX];
	char host[ECA_HOST_MAX];
	int removed;
	int64_t created_at;
	int64_t updated_at;
	char actor[ECA_DN_MAX];
	int64_t version;
};

/* The live mapping of subject, or of host: ECA_ERR_NOT_FOUND if none. */
int eca_store_dnmap_by_subject(struct eca_store *st, const char *primary,
    const char *subject, struct eca_dnmap *out, struct eca_err *err) ECA_WUR;
int eca_store_dnmap_by_host(struct eca_store *st, const char *primary,
    const char *host, struct eca_dnmap *out, struct eca_err *err) ECA_WUR;
/* Insert or update the row of m->subject (the caller checked the rules). */
int eca_store_dnmap_put(struct eca_store *st, const char *primary,
    const struct eca_dnmap *m, struct eca_err *err) ECA_WUR;
/*
 * Mappings of primary: live ones ordered by host (since < 0), or every
 * row, removed ones too, whose version is greater than since, in version
 * order (the roster), at most limit.  *out is the caller's.
 */
int eca_store_dnmaps(struct eca_store *st, const char *primary, int64_t since,
    size_t limit, struct eca_dnmap **out, size_t *n,
    struct eca_err *err) ECA_WUR;

const char *eca_state_name(enum eca_state s);
int eca_state_from_name(const char *name); /* -1 if unknown */
const char *eca_method_name(enum eca_method m);
int eca_method_from_name(const char *name); /* -1 if unknown */

#endif
