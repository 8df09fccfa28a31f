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

#define ECA_BODY_MAX (16 * 1024)	/* largest request body accepted */

/* POST /v1/enrollments body: {"host": NAME, "precheck": bool, "force": bool, "role": R, "method": "auto"|"manual"}. */
struct eca_enroll_body {
	char host[ECA_HOST_MAX];
	int precheck;
	int force;
	enum eca_role role;		/* default client */
	enum eca_method method;		/* default manual */
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
json_t *eca_wire_roster(const char *primary, int64_t since, int64_t version,
    int64_t next, int full, int more, const struct eca_change *ch, size_t n);

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
