/* SPDX-License-Identifier: ISC */
/*
 * api_routes.h - the /v1 API's route table and who may call each route.
 *
 * One row per route: method, path, access level, handler.  The dispatcher
 * (api.c) finds the row, then api_access_check() decides from the row
 * whether the caller may use it, before the handler runs; no handler
 * checks rights by itself (as OpenSSH's monitor table does it).  Kept
 * apart from api.c's event loop and replies so that a unit test can walk
 * the table (tests/unit/test_routes.c).
 */
#ifndef ECAD_API_ROUTES_H
#define ECAD_API_ROUTES_H

#include <stddef.h>
#include <sys/types.h>

#include <event2/http.h>

#include "err.h"

/*
 * Who may call a route, lowest first.  A caller holds the highest level
 * its credentials prove and may call every route at or below it:
 *
 *   TLS, no certificate or one the peer check refuses     PUBLIC
 *   TLS, a certificate that passes the peer check         HOST
 *   ... that names the host NAME in the path              SELF
 *   ... whose identity is a METRICS_IDENTITY              METRICS
 *   ... whose identity is an ADMIN_IDENTITY               ADMIN
 *   control socket, any other uid                         PUBLIC
 *   control socket, root or ecad's own uid                CONTROL
 *   a signed-in console session (console.c)               ADMIN, but
 *                                                         no API_F_CERT
 *
 * 0 is no level at all: a row without one is refused to everybody.
 */
enum api_access {
	API_ACCESS_NONE = 0,
	API_PUBLIC,
	API_HOST,
	API_SELF, /* only on a route with a "*" (the NAME) */
	/*
	 * Read-only monitoring (GET /metrics): a METRICS_IDENTITY, or an
	 * administrator.  A METRICS_IDENTITY is no administrator: 403 on
	 * every ADMIN route.
	 */
	API_METRICS,
	API_ADMIN,
	API_CONTROL, /* the control socket only */
};

/*
 * What the call is about is the caller's own TLS certificate (an
 * enrollment): refused on the control socket, which has none.
 */
#define API_F_CERT 0x1
/*
 * The host concerned is named in the body, not the path: read for the
 * log and the journal when the caller is refused before its handler.
 */
#define API_F_BODY_HOST 0x2

/* The GET /v1/stats counter a route adds to before its access check. */
enum api_count {
	API_COUNT_NONE = 0,
	API_COUNT_ENROLL, /* enroll_requests */
	API_COUNT_ROSTER, /* roster_requests */
};

struct api_call;
typedef void api_handler(struct api_call *);

struct api_route {
	enum evhttp_cmd_type method;
	const char *pattern; /* "*": one segment, the host NAME */
	enum api_access access;
	unsigned flags; /* API_F_* */
	enum api_count count;
	api_handler *fn;
};

extern const struct api_route api_routes[];
extern const size_t api_nroutes;

/*
 * The route serving method on path, or NULL; its "*" segment goes to name
 * (len bytes; "" when the pattern has none).  *path_known is set when some
 * route serves path, with this method or another (405 rather than 404).
 */
const struct api_route *api_route_find(enum evhttp_cmd_type method,
    const char *path, char *name, size_t len, int *path_known);

/*
 * The caller as the access check sees it.  The three questions are
 * asked of a TLS caller only, and only when the route's level needs the
 * answer (a peer check or an identity match costs): peer is 0 or the
 * peer check's refusal (err says why; on the control socket: no
 * certificate), admin and names are asked after a passed peer check.
 */
struct api_caller {
	int control;	     /* on the control socket ... */
	int console;	     /* a signed-in console session (an admin) */
	int control_admin;   /* ... as root or ecad's own uid */
	uid_t uid;	     /* the control socket caller's */
	const char *primary; /* this primary's name, for messages */
	const char *host;    /* the host NAME in the path, or "" */
	int (*peer)(void *arg, struct eca_err *err);
	int (*admin)(void *arg);		   /* 1: an ADMIN_IDENTITY */
	int (*metrics)(void *arg);		   /* 1: a METRICS_IDENTITY */
	int (*names)(void *arg, const char *host); /* 1: names host */
	void *arg;
};

/*
 * May who call rt?  0 with *granted the level proven for it (API_SELF: as
 * the host NAME itself, not as an administrator), or the refusal's code
 * (FORBIDDEN, the peer check's, INTERNAL for a row without a level) with
 * the sentence the caller gets in err.
 */
int api_access_check(const struct api_route *rt, const struct api_caller *who,
    enum api_access *granted, struct eca_err *err) ECA_WUR;

/*
 * The handlers, one per route (api_status.c, api_enroll.c, api_registry.c,
 * api_nat.c).
 */
api_handler api_h_health, api_h_stats, api_h_roster;
api_handler api_h_metrics; /* metrics_http.c */
api_handler api_h_enroll;
api_handler api_h_remote_enroll; /* remote.c */
api_handler api_h_list, api_h_show, api_h_remove, api_h_history, api_h_approve,
    api_h_reject, api_h_ban, api_h_unban, api_h_maps, api_h_map_add,
    api_h_map_remove;
api_handler api_h_nat_request, api_h_nat_restricted;
api_handler api_h_audit, api_h_audit_verify, api_h_config, api_h_summary;
api_handler api_h_console_link, api_h_console_sessions, api_h_console_revoke;

#endif
