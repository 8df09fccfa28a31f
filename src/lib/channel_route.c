/* SPDX-License-Identifier: ISC */
/*
 * channel_route.c - how the calling end of a channel reaches its peer
 * (docs/nat.md, "Choosing a reverse connection"): directly, through a
 * reverse connection, or directly first and then in reverse.  The rule is
 * eca_channel_route; the roster's word on the peer is
 * eca_channel_peer_is_nat; connect_route carries the choice out.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "channel_impl.h"
#include "host.h"
#include "util.h"

enum eca_channel_route
eca_channel_route(const struct eca_config *cfg, int peer_nat)
{
	/* A NAT host cannot be called back: its channels go out directly. */
	if (cfg == NULL || cfg->nat_client || cfg->accept_reverse_connection ||
	    cfg->nservers == 0)
		return ECA_ROUTE_DIRECT;
	if (peer_nat)
		return ECA_ROUTE_REVERSE;
	return cfg->enable_direct_connection ? ECA_ROUTE_DIRECT_THEN_REVERSE :
					       ECA_ROUTE_DIRECT;
}

const char *
eca_channel_route_name(enum eca_channel_route r)
{
	switch (r) {
	case ECA_ROUTE_REVERSE:
		return "reverse";
	case ECA_ROUTE_DIRECT_THEN_REVERSE:
		return "direct-then-reverse";
	default:
		return "direct";
	}
}

int
eca_channel_peer_is_nat(struct eca_host *h, const char *peer)
{
	const struct eca_endpoint *ep;
	struct eca_roster_entry e;
	struct eca_domain *d;
	struct eca_err err;

	if (h == NULL || peer == NULL ||
	    (ep = eca_config_server(h->cfg, NULL)) == NULL ||
	    (d = eca_host_domain(h, ep->name)) == NULL)
		return 0;
	eca_err_clear(&err);
	if (eca_domain_peek(h, d, peer, &e, NULL, &err) == 0)
		return e.nat;
	/*
	 * Missing or stale: one sync (the judgment would ask for it
	 * anyway), then what there is; a failure means "not known as one".
	 */
	eca_err_clear(&err);
	if (eca_domain_refresh(h, d, peer, 0, &err) != 0)
		eca_err_clear(&err); /* then the roster as it is */
	return eca_domain_peek(h, d, peer, &e, NULL, &err) == 0 && e.nat;
}

/* A direct connection that failed on the way, not on this host's setup. */
static int
unreachable(int code)
{
	return code == ECA_ERR_UNREACHABLE || code == ECA_ERR_TIMEOUT ||
	    code == ECA_ERR_IO;
}

int
eca_channel_connect_route(struct eca_channel *ch, struct eca_host *h,
    enum eca_channel_route route, struct eca_channel_steps *steps,
    struct eca_err *err)
{
	int64_t t = eca_util_mono_us();
	int r;

	steps->route = route;
	if (route == ECA_ROUTE_REVERSE)
		return eca_channel_reverse_connect(ch, h, steps, err);
	r = eca_channel_tcp_connect(ch, h->cfg, steps, err);
	if (r == 0 || route != ECA_ROUTE_DIRECT_THEN_REVERSE || !unreachable(r))
		return r;
	/* ENABLE_DIRECT_CONNECTION: then through the primary. */
	snprintf(steps->direct_error, sizeof(steps->direct_error), "%s",
	    err != NULL ? err->msg : eca_err_desc(r));
	steps->direct_us = eca_util_mono_us() - t;
	steps->fell_back = 1;
	steps->address[0] = '\0'; /* the call back's, if it comes */
	if (ch->fd != -1) {
		close(ch->fd);
		ch->fd = -1;
	}
	eca_err_clear(err);
	r = eca_channel_reverse_connect(ch, h, steps, err);
	steps->route = route;
	return r;
}
