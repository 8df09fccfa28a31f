/* SPDX-License-Identifier: ISC */
/*
 * channel_reverse.c - the calling end of a reverse connection
 * (docs/nat.md): instead of connecting to a NAT host, this host listens
 * on a port of its own, asks its primary (POST /v1/nat/requests) to have
 * the NAT host call it there, and takes the one connection that comes.
 * The channel then goes on as any other, this host being the caller: the
 * NAT host's server HELLO must name the token the primary gave.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <jansson.h>

#include "broker.h"
#include "channel_impl.h"
#include "client.h"
#include "host.h"
#include "util.h"

/* A listening IPv4 socket on a free port (*port); -1 and errno. */
static int
listen_any(int *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_ANY);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(fd, 1) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

/* Ask the primary ep to have ch->peer call back on port; the token. */
static int
ask_primary(struct eca_channel *ch, struct eca_host *h,
    const struct eca_endpoint *ep, int port, struct eca_err *err)
{
	struct eca_client *c = NULL;
	json_t *body, *resp = NULL;
	const json_t *tok;
	long status = 0;
	int r;

	body = json_pack("{s:s, s:s, s:s, s:i}", "from", h->cfg->client_name,
	    "host", ch->peer, "purpose", eca_purpose_name(ch->purpose), "port",
	    port);
	if (body == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
	if ((r = eca_client_new_tls(ep, h->cred, ch->timeout_ms, &c, err)) ==
		0 &&
	    (r = eca_client_call(c, "POST", "/v1/nat/requests", body, &status,
		 &resp, err)) == 0) {
		tok = json_object_get(resp, "token");
		if (!json_is_string(tok) ||
		    !eca_broker_token_valid(json_string_value(tok)))
			r = eca_err_set(err, ECA_ERR_PROTOCOL,
			    "%s answered a reverse connection request without "
			    "a token",
			    ep->name);
		else
			snprintf(ch->token, sizeof(ch->token), "%s",
			    json_string_value(tok));
	}
	if (r != 0)
		r = eca_channel_err_prefix(err, r,
		    "cannot have %s call back through %s", ch->peer, ep->name);
	json_decref(body);
	json_decref(resp);
	eca_client_free(c);
	return r;
}

/* The one connection, within the channel's timeout, into ch->fd. */
static int
take_call(struct eca_channel *ch, int lfd, struct eca_channel_steps *steps,
    struct eca_err *err)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct pollfd pfd = {lfd, POLLIN, 0};
	char host[INET6_ADDRSTRLEN];
	int one = 1, n, fd;

	do
		n = poll(&pfd, 1, (int)ch->timeout_ms);
	while (n == -1 && errno == EINTR);
	if (n <= 0)
		return eca_err_set(err, ECA_ERR_TIMEOUT,
		    "%s did not call back within %ld ms: its broker session "
		    "is up, but can it reach this host (no firewall between "
		    "them)?",
		    ch->peer, ch->timeout_ms);
	if ((fd = accept4(lfd, (struct sockaddr *)&ss, &len,
		 SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1)
		return eca_err_set(err, ECA_ERR_UNREACHABLE,
		    "the call back from %s failed: %s", ch->peer,
		    strerror(errno));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (ss.ss_family == AF_INET &&
	    inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host,
		sizeof(host)) != NULL)
		snprintf(steps->address, sizeof(steps->address),
		    "%s:%u (reverse)", host,
		    ntohs(((struct sockaddr_in *)&ss)->sin_port));
	ch->fd = fd;
	return 0;
}

int
eca_channel_reverse_connect(struct eca_channel *ch, struct eca_host *h,
    struct eca_channel_steps *steps, struct eca_err *err)
{
	const struct eca_endpoint *ep = eca_config_server(h->cfg, NULL);
	int64_t t = eca_util_mono_us();
	int lfd, port = 0, r;

	if (ep == NULL)
		return eca_err_set(err, ECA_ERR_CONFIG,
		    "no SERVER to ask for a reverse connection to %s",
		    ch->peer);
	if ((lfd = listen_any(&port)) == -1)
		return eca_err_set(err, ECA_ERR_IO,
		    "cannot listen for %s's call back: %s", ch->peer,
		    strerror(errno));
	if ((r = ask_primary(ch, h, ep, port, err)) == 0) {
		steps->request_us = eca_util_mono_us() - t;
		r = take_call(ch, lfd, steps, err);
		steps->callback_us = eca_util_mono_us() - t - steps->request_us;
	}
	close(lfd);
	steps->tcp_us = eca_util_mono_us() - t;
	return r;
}
