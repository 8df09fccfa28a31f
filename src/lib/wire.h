/* SPDX-License-Identifier: ISC */
/*
 * wire.h - the JSON of the primary's /v1 API (jansson), both directions,
 * so the daemon and the command line cannot disagree.
 *
 * Times are RFC 3339 UTC strings ("2026-11-27T19:26:04Z"); fingerprints
 * are lowercase hex SHA-256.
 */
#ifndef ECA_WIRE_H
#define ECA_WIRE_H

#include <stddef.h>

#include <jansson.h>

#include "certinfo.h"
#include "enroll.h"
#include "err.h"
#include "hostname.h"
#include "store.h"

#define ECA_BODY_MAX (16 * 1024) /* largest request body accepted */
/* GET /v1/enrollments: a page's entries by default, and the most ?limit=. */
#define ECA_LIST_PAGE_DEFAULT 100
#define ECA_LIST_PAGE_MAX 1000

/*
 * POST /v1/enrollments body: {"host": NAME, "precheck": bool, "force":
 * bool, "role": R, "method": "auto"|"manual", "nat": bool}.
 */
struct eca_enroll_body {
	char host[ECA_HOST_MAX];
	int precheck;
	int force;
	enum eca_role role;	/* default client */
	enum eca_method method; /* default manual */
	int nat;		/* a NAT host (NAT_CLIENT = YES) */
};

/*
 * Parse a request body (len bytes, not NUL-terminated, at most
 * ECA_BODY_MAX).  ECA_ERR_BAD_REQUEST with a sentence naming the field for
 * anything else: not an object, unknown keys, wrong types, host missing,
 * empty or too long; ECA_ERR_BAD_HOST_NAME when host is not a valid host
 * name.  out->host is the canonical form (hostname.h).
 */
int eca_wire_parse_enroll_body(const char *buf, size_t len,
    struct eca_enroll_body *out, struct eca_err *err) ECA_WUR;

json_t *eca_wire_certinfo(const struct eca_certinfo *ci);
int eca_wire_parse_certinfo(const json_t *j, struct eca_certinfo *out,
    struct eca_err *err) ECA_WUR;
/* A record as JSON (candidate included when present). */
json_t *eca_wire_enrollment(const struct eca_enrollment *rec);
int eca_wire_parse_enrollment(const json_t *j, struct eca_enrollment *out,
    struct eca_err *err) ECA_WUR;
json_t *eca_wire_history_entry(const struct eca_history_entry *h);

/*
 * GET /v1/roster: one record as {"host", "host_id", "state", "fingerprint",
 * "spki_fingerprint", "not_after", "version"}, and the whole answer
 * {"primary", "since", "version", "next", "full", "more", "entries"}
 * (docs/roster.md).  The decoder is eca_roster_delta_parse (roster.h).
 */
json_t *eca_wire_roster_entry(const struct eca_change *ch);
struct eca_wire_roster_page {
	const char *primary;
	int64_t since;	 /* what the caller asked from */
	int64_t version; /* the registry's version now */
	int64_t next;	 /* where the next page starts */
	int full;	 /* a full roster, not a delta */
	int more;	 /* another page follows */
};
json_t *eca_wire_roster(const struct eca_wire_roster_page *pg,
    const struct eca_change *ch, size_t n);

/*
 * The certificates waiting for a host (CONFLICT): each is CERTINFO plus
 * {"at", "last_seen", "source"}.  eca_wire_add_candidates sets
 * rec["candidates"] to the array (0 or ECA_ERR_NOMEM);
 * eca_wire_parse_candidates reads it back (an absent member is none; at
 * most ECA_CANDIDATES_MAX; *out is the caller's).
 */
json_t *eca_wire_candidate(const struct eca_candidate *c);
int eca_wire_add_candidates(json_t *rec, const struct eca_candidate *c,
    size_t n) ECA_WUR;
int eca_wire_parse_candidates(const json_t *rec, struct eca_candidate **out,
    size_t *n, struct eca_err *err) ECA_WUR;

/*
 * A certificate fingerprint as an administrator types it: 64 hex digits,
 * any case, optionally separated by colons (as `openssl x509 -fingerprint`
 * prints it), into the canonical lower-case hex.  -1 if it is not one.
 */
int eca_wire_fp_normalize(const char *in, char out[ECA_FP_HEX_LEN + 1]);

/*
 * POST /v1/enrollments/NAME/approve|reject body: {"fingerprint": FP},
 * required (ECA_ERR_FINGERPRINT_REQUIRED when the body or the member is
 * missing), normalized into fp.  Anything else is ECA_ERR_BAD_REQUEST.
 */
int eca_wire_parse_decision_body(const char *buf, size_t len,
    char fp[ECA_FP_HEX_LEN + 1], struct eca_err *err) ECA_WUR;

/*
 * POST /v1/mappings body: {"host": NAME, "subject": DN}.  The host is
 * put in its canonical form (eca_hostname_canon, else BAD_HOST_NAME); the
 * subject is returned as sent (the caller normalizes it with
 * eca_dn_normalize).
 */
int eca_wire_parse_map_body(const char *buf, size_t len,
    char host[ECA_HOST_MAX], char subject[ECA_DN_MAX],
    struct eca_err *err) ECA_WUR;

/*
 * A DN mapping: {"subject", "host", "created_at", "updated_at", "actor"};
 * in the roster {"subject", "host", "removed", "version"}.
 * eca_wire_roster_add_maps sets roster["mappings"] (0 or ECA_ERR_NOMEM).
 */
json_t *eca_wire_dnmap(const struct eca_dnmap *m);
int eca_wire_parse_dnmap(const json_t *j, struct eca_dnmap *out,
    struct eca_err *err) ECA_WUR;
int eca_wire_roster_add_maps(json_t *roster, const struct eca_dnmap *m,
    size_t n) ECA_WUR;

/* {"error": {"code": NAME, "message": MSG}} */
json_t *eca_wire_error(int code, const char *message);
/*
 * If j is an error object, fill err (code from its name) and return the
 * code; else return 0.
 */
int eca_wire_parse_error(const json_t *j, struct eca_err *err);

/* RFC 3339 UTC text of t into buf (at least 21 bytes); "" for 0. */
void eca_wire_time(int64_t t, char *buf, size_t len);
/* Parse it back; ECA_ERR_PARSE if malformed. */
int eca_wire_parse_time(const char *s, int64_t *out) ECA_WUR;

#endif
