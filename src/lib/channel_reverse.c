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

/* Connecting to the relay to stand by must not eat the channel's time. */
#define RELAY_STANDBY_CONNECT_MS 2000L

/*
 * A listening socket on a free port (*port), any address, for the call
 * back: IPv6 and IPv4 both (one dual-stack socket), since the NAT host
 * calls back the address the primary saw this host's request come from,
 * of either family; IPv4 alone where the system has no IPv6.  -1 and
 * errno.
 */
static int
listen_any(int *port)
{
	struct sockaddr_in6 sin6;
	struct sockaddr_in sin;
	socklen_t len;
	int fd, off = 0;

	if ((fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0)) != -1) {
		memset(&sin6, 0, sizeof(sin6));
		sin6.sin6_family = AF_INET6;
		sin6.sin6_addr = in6addr_any;
		len = sizeof(sin6);
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off,
			sizeof(off)) == 0 &&
		    bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) == 0 &&
		    listen(fd, 1) == 0 &&
		    getsockname(fd, (struct sockaddr *)&sin6, &len) == 0) {
			*port = ntohs(sin6.sin6_port);
			return fd;
		}
		close(fd);
	}
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_ANY);
	len = sizeof(sin);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(fd, 1) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

/*
 * "a.b.c.d:port" or "[v6]:port" of a caller; an IPv4 caller on the
 * dual-stack socket (::ffff:a.b.c.d) as the IPv4 address it is.
 */
static void
caller_text(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const struct sockaddr_in6 *s6 = (const void *)ss;
	const struct sockaddr_in *s4 = (const void *)ss;
	char host[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		(void)inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(s4->sin_port));
	} else if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		(void)inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], host,
		    sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(s6->sin6_port));
	} else {
		(void)inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(s6->sin6_port));
	}
}

/*
 * Ask the primary ep to have ch->peer call back on port; the token, and
 * *relay when both ends must meet at the primary's relay instead.
 */
static int
ask_primary(struct eca_channel *ch, struct eca_host *h,
    const struct eca_endpoint *ep, int port, int *relay, struct eca_err *err)
{
	struct eca_client *c = NULL;
	json_t *body, *resp = NULL;
	const json_t *tok, *rport;
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
		*relay = json_is_true(json_object_get(resp, "relay"));
		rport = json_object_get(resp, "relay_port");
		if (json_is_integer(rport) && json_integer_value(rport) > 0 &&
		    json_integer_value(rport) <= 65535)
			snprintf(ch->relay_port, sizeof(ch->relay_port), "%d",
			    (int)json_integer_value(rport));
	}
	if (r != 0)
		r = eca_channel_err_prefix(err, r,
		    "cannot have %s call back through %s", ch->peer, ep->name);
	json_decref(body);
	json_decref(resp);
	eca_client_free(c);
	return r;
}

/* The call back on lfd: accept it into ch->fd. */
static int
accept_call(struct eca_channel *ch, int lfd, struct eca_channel_steps *steps,
    struct eca_err *err)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char from[INET6_ADDRSTRLEN + 16];
	int one = 1, fd;

	if ((fd = accept4(lfd, (struct sockaddr *)&ss, &len,
		 SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1)
		return eca_err_set(err, ECA_ERR_UNREACHABLE,
		    "the call back from %s failed: %s", ch->peer,
		    strerror(errno));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	caller_text(&ss, from, sizeof(from));
	snprintf(steps->address, sizeof(steps->address), "%s (reverse)", from);
	ch->fd = fd;
	return 0;
}

/*
 * The one connection, within the channel's timeout, into ch->fd: the call
 * back on lfd (0) or, when the NAT host cannot reach this host and goes to
 * the relay instead, the relay connection rfd (-1: none) standing by (1).
 */
static int
take_call(struct eca_channel *ch, int lfd, int rfd, const char *where,
    struct eca_channel_steps *steps, struct eca_err *err)
{
	int64_t deadline = eca_channel_deadline(ch->timeout_ms);
	struct pollfd pfd[2] = {{lfd, POLLIN, 0}, {rfd, POLLIN, 0}};
	struct eca_err rerr;
	int64_t left;
	int n;

	for (;;) {
		left = (deadline - eca_util_mono_us()) / 1000;
		n = left > 0 ? poll(pfd, rfd != -1 ? 2 : 1, (int)left) : 0;
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return eca_err_set(err, ECA_ERR_TIMEOUT,
			    "%s did not call back within %ld ms: its broker "
			    "session is up, but can it reach this host (no "
			    "firewall between them)?",
			    ch->peer, ch->timeout_ms);
		if (pfd[0].revents != 0)
			return accept_call(ch, lfd, steps, err);
		/* The relay answered: the NAT host is there, or not. */
		eca_err_clear(&rerr);
		if (eca_channel_relay_answer(ch, rfd, where, deadline, &rerr) ==
		    0) {
			snprintf(steps->address, sizeof(steps->address),
			    "%s (relay)", where);
			ch->fd = rfd;
			return 1;
		}
		pfd[1].fd = -1; /* refused: the call back alone now */
		rfd = -1;
	}
}

int
eca_channel_reverse_connect(struct eca_channel *ch, struct eca_host *h,
    struct eca_channel_steps *steps, struct eca_err *err)
{
	const struct eca_endpoint *ep = eca_config_server(h->cfg, NULL);
	int64_t t = eca_util_mono_us();
	int lfd, rfd = -1, port = 0, relay = 0, r;
	struct eca_err rerr;
	char where[200];

	if (ep == NULL)
		return eca_err_set(err, ECA_ERR_CONFIG,
		    "no SERVER to ask for a reverse connection to %s",
		    ch->peer);
	if ((lfd = listen_any(&port)) == -1)
		return eca_err_set(err, ECA_ERR_IO,
		    "cannot listen for %s's call back: %s", ch->peer,
		    strerror(errno));
	r = ask_primary(ch, h, ep, port, &relay, err);
	steps->request_us = eca_util_mono_us() - t;
	if (r == 0 && relay) {
		close(lfd);
		lfd = -1;
		r = eca_channel_relay_connect(ch, h, ep, steps, err);
	} else if (r == 0) {
		/* Standing by at the relay, should the call back fail. */
		eca_err_clear(&rerr);
		if (eca_channel_relay_open(ch, h, ep,
			eca_channel_deadline(RELAY_STANDBY_CONNECT_MS), &rfd,
			where, sizeof(where), &rerr) != 0)
			rfd = -1;
		r = take_call(ch, lfd, rfd, where, steps, err);
		if (r == 1)
			r = 0; /* through the relay: rfd is ch->fd */
		else if (rfd != -1)
			close(rfd);
	}
	if (r == 0)
		steps->callback_us = eca_util_mono_us() - t - steps->request_us;
	if (lfd != -1)
		close(lfd);
	steps->tcp_us = eca_util_mono_us() - t;
	return r;
}
