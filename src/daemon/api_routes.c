/* SPDX-License-Identifier: ISC */
/*
 * api_routes.c - the /v1 route table with its access column, the lookup
 * and the one access check (api_routes.h).
 */
#include <string.h>

#include "api_routes.h"
#include "apiparse.h"

/* Method, path, who may call it, flags, what it counts, handler. */
const struct api_route api_routes[] = {
    {EVHTTP_REQ_GET, "/v1/health", API_PUBLIC, 0, API_COUNT_NONE, api_h_health},
    {EVHTTP_REQ_GET, "/v1/stats", API_ADMIN, 0, API_COUNT_NONE, api_h_stats},
    /* Prometheus (docs/metrics.md); also on METRICS_LISTEN, plain HTTP. */
    {EVHTTP_REQ_GET, "/metrics", API_METRICS, 0, API_COUNT_NONE, api_h_metrics},
    /* Peers judge each other with it: any host the peer check admits. */
    {EVHTTP_REQ_GET, "/v1/roster", API_HOST, 0, API_COUNT_ROSTER, api_h_roster},
    {EVHTTP_REQ_GET, "/v1/enrollments", API_ADMIN, 0, API_COUNT_NONE,
	api_h_list},
    {EVHTTP_REQ_POST, "/v1/enrollments", API_HOST, API_F_CERT | API_F_BODY_HOST,
	API_COUNT_ENROLL, api_h_enroll},
    {EVHTTP_REQ_GET, "/v1/enrollments/*", API_SELF, 0, API_COUNT_NONE,
	api_h_show},
    {EVHTTP_REQ_DELETE, "/v1/enrollments/*", API_SELF, 0, API_COUNT_NONE,
	api_h_remove},
    {EVHTTP_REQ_GET, "/v1/enrollments/*/history", API_ADMIN, 0, API_COUNT_NONE,
	api_h_history},
    {EVHTTP_REQ_POST, "/v1/enrollments/*/approve", API_ADMIN, 0, API_COUNT_NONE,
	api_h_approve},
    {EVHTTP_REQ_POST, "/v1/enrollments/*/reject", API_ADMIN, 0, API_COUNT_NONE,
	api_h_reject},
    {EVHTTP_REQ_POST, "/v1/enrollments/*/ban", API_ADMIN, 0, API_COUNT_NONE,
	api_h_ban},
    {EVHTTP_REQ_POST, "/v1/enrollments/*/unban", API_ADMIN, 0, API_COUNT_NONE,
	api_h_unban},
    /* Asks a host's ecad to enroll (remote.c): local administrators only. */
    {EVHTTP_REQ_POST, "/v1/remote-enrollments", API_CONTROL, API_F_BODY_HOST,
	API_COUNT_NONE, api_h_remote_enroll},
    {EVHTTP_REQ_GET, "/v1/mappings", API_ADMIN, 0, API_COUNT_NONE, api_h_maps},
    {EVHTTP_REQ_POST, "/v1/mappings", API_ADMIN, 0, API_COUNT_NONE,
	api_h_map_add},
    {EVHTTP_REQ_DELETE, "/v1/mappings/*", API_ADMIN, 0, API_COUNT_NONE,
	api_h_map_remove},
    {EVHTTP_REQ_POST, "/v1/nat/requests", API_HOST, 0, API_COUNT_NONE,
	api_h_nat_request},
    {EVHTTP_REQ_GET, "/v1/nat/restricted", API_ADMIN, 0, API_COUNT_NONE,
	api_h_nat_restricted},
    /* What the primary reports about itself (api_report.c). */
    {EVHTTP_REQ_GET, "/v1/audit", API_ADMIN, 0, API_COUNT_NONE, api_h_audit},
    {EVHTTP_REQ_GET, "/v1/audit/verify", API_ADMIN, 0, API_COUNT_NONE,
	api_h_audit_verify},
    {EVHTTP_REQ_GET, "/v1/config", API_ADMIN, 0, API_COUNT_NONE, api_h_config},
    {EVHTTP_REQ_GET, "/v1/summary", API_ADMIN, 0, API_COUNT_NONE,
	api_h_summary},
    /* The web console's sign-in links and sessions (api_console.c). */
    {EVHTTP_REQ_POST, "/v1/console/links", API_CONTROL, 0, API_COUNT_NONE,
	api_h_console_link},
    {EVHTTP_REQ_GET, "/v1/console/sessions", API_CONTROL, 0, API_COUNT_NONE,
	api_h_console_sessions},
    {EVHTTP_REQ_POST, "/v1/console/sessions/revoke", API_CONTROL, 0,
	API_COUNT_NONE, api_h_console_revoke},
};
const size_t api_nroutes = sizeof(api_routes) / sizeof(api_routes[0]);

const struct api_route *
api_route_find(enum evhttp_cmd_type method, const char *path, char *name,
    size_t len, int *path_known)
{
	size_t i;

	*path_known = 0;
	for (i = 0; i < api_nroutes; i++) {
		name[0] = '\0';
		if (!api_route_match(api_routes[i].pattern, path, name, len))
			continue;
		*path_known = 1;
		if (api_routes[i].method == method)
			return &api_routes[i];
	}
	name[0] = '\0';
	return NULL;
}

/*
 * On the control socket the kernel has said who calls (control.c): root
 * or ecad's own user may do anything but what needs a TLS certificate;
 * anyone else only what is public.
 */
static int
check_control(const struct api_route *rt, const struct api_caller *who,
    enum api_access *granted, struct eca_err *err)
{
	if (rt->access > API_PUBLIC && !who->control_admin)
		return eca_err_set(err, ECA_ERR_FORBIDDEN,
		    "uid %u may not use "
		    "the control socket (run eca as root or as the daemon's "
		    "user)",
		    (unsigned)who->uid);
	/* The peer check says why: the socket carries no certificate. */
	if (rt->flags & API_F_CERT)
		return who->peer(who->arg, err);
	*granted = who->control_admin ? API_CONTROL : API_PUBLIC;
	return 0;
}

/*
 * A console session is an administrator's (it signed in with a link from
 * the control socket or an ADMIN_IDENTITY certificate), but it carries
 * no host's certificate and is not the control socket.
 */
static int
check_console(const struct api_route *rt, const struct api_caller *who,
    enum api_access *granted, struct eca_err *err)
{
	if (rt->flags & API_F_CERT)
		return eca_err_set(err, ECA_ERR_FORBIDDEN,
		    "the console enrolls nothing: a host enrolls itself with "
		    "its own certificate (run `eca enroll` on the host)");
	if (rt->access == API_CONTROL)
		return eca_err_set(err, ECA_ERR_FORBIDDEN,
		    "only the control socket of primary %s serves this call "
		    "(run eca on the primary as root or as the daemon's user)",
		    who->primary);
	*granted = rt->access == API_PUBLIC ? API_PUBLIC : API_ADMIN;
	return 0;
}

int
api_access_check(const struct api_route *rt, const struct api_caller *who,
    enum api_access *granted, struct eca_err *err)
{
	int r;

	*granted = API_ACCESS_NONE;
	if (rt->access <= API_ACCESS_NONE || rt->access > API_CONTROL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "route %s has no "
		    "access level (a bug: every route must have one)",
		    rt->pattern);
	if (who->control)
		return check_control(rt, who, granted, err);
	if (who->console)
		return check_console(rt, who, granted, err);
	if (rt->access == API_PUBLIC) {
		*granted = API_PUBLIC;
		return 0;
	}
	if ((r = who->peer(who->arg, err)) != 0)
		return r;
	switch (rt->access) {
	case API_HOST:
		*granted = API_HOST;
		return 0;
	case API_SELF:
		if (who->admin(who->arg)) {
			*granted = API_ADMIN;
			return 0;
		}
		if (who->names(who->arg, who->host)) {
			*granted = API_SELF;
			return 0;
		}
		return eca_err_set(err, ECA_ERR_FORBIDDEN,
		    "your certificate "
		    "does not name %s: a host may only see or remove its own "
		    "enrollment (administrators: see ADMIN_IDENTITY)",
		    who->host);
	case API_METRICS:
		if (who->admin(who->arg)) {
			*granted = API_ADMIN;
			return 0;
		}
		if (who->metrics != NULL && who->metrics(who->arg)) {
			*granted = API_METRICS;
			return 0;
		}
		return eca_err_set(err, ECA_ERR_FORBIDDEN,
		    "your certificate's identity may not read the metrics "
		    "of primary %s (add it to METRICS_IDENTITY on the "
		    "primary, or scrape METRICS_LISTEN on the primary itself)",
		    who->primary);
	case API_ADMIN:
		if (who->admin(who->arg)) {
			*granted = API_ADMIN;
			return 0;
		}
		return eca_err_set(err, ECA_ERR_FORBIDDEN,
		    "your certificate's "
		    "identity is not an administrator of primary %s (add it "
		    "to ADMIN_IDENTITY on the primary, or run the command on "
		    "the primary)",
		    who->primary);
	default:
		return eca_err_set(err, ECA_ERR_FORBIDDEN,
		    "only the control "
		    "socket of primary %s serves this call (run eca on the "
		    "primary as root or as the daemon's user)",
		    who->primary);
	}
}
