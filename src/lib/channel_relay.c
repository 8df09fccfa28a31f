/* SPDX-License-Identifier: ISC */
/*
 * channel_relay.c - the calling end of a relayed channel (docs/nat.md,
 * "Relay"): when both this host and the NAT host it calls are behind NAT,
 * the primary answers the reverse connection request with "relay", and
 * both ends connect out to the primary's broker address.  This end names
 * the request in one plain frame (the token and what it is bound to),
 * waits for the relay's "relayed" (the other end is there), and the
 * channel then runs over that connection as over any other: TLS end to
 * end with the NAT host, the relay copying ciphertext.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker.h"
#include "channel_impl.h"
#include "host.h"
#include "util.h"

/* Wait for fd to be ready for events until deadline (µs): 0 or errno. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = {fd, events, 0};
	int64_t left;
	int n;

	for (;;) {
		left = (deadline - eca_util_mono_us()) / 1000;
		if (left <= 0)
			return ETIMEDOUT;
		n = poll(&pfd, 1, (int)left);
		if (n > 0)
			return 0;
		if (n == 0)
			return ETIMEDOUT;
		if (errno != EINTR)
			return errno;
	}
}

/* A connected non-blocking socket to host:port (*fd): 0 or errno. */
static int
connect_to(const char *host, const char *port, int64_t deadline, int *fd)
{
	struct addrinfo hints, *res = NULL, *ai;
	socklen_t len = sizeof(int);
	int e = EHOSTUNREACH, s, soerr;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return EHOSTUNREACH;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		s = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (s == -1)
			continue;
		soerr = 0;
		if (connect(s, ai->ai_addr, ai->ai_addrlen) != 0 &&
		    (errno != EINPROGRESS ||
			(e = wait_fd(s, POLLOUT, deadline)) != 0 ||
			getsockopt(s, SOL_SOCKET, SO_ERROR, &soerr, &len) !=
			    0 ||
			soerr != 0)) {
			e = soerr != 0 ? soerr : (e != 0 ? e : errno);
			close(s);
			continue;
		}
		soerr = 1; /* TLS records must not wait for delayed ACKs */
		(void)setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &soerr,
		    sizeof(soerr));
		*fd = s;
		freeaddrinfo(res);
		return 0;
	}
	freeaddrinfo(res);
	return e;
}

/* n bytes to or from fd by deadline: 0, or errno (EPIPE: closed). */
static int
xfer(int fd, unsigned char *buf, size_t n, int out, int64_t deadline)
{
	size_t done = 0;
	ssize_t k;
	int e;

	while (done < n) {
		k = out ? send(fd, buf + done, n - done, MSG_NOSIGNAL) :
			  recv(fd, buf + done, n - done, 0);
		if (k > 0) {
			done += (size_t)k;
			continue;
		}
		if (k == 0)
			return EPIPE;
		if (errno != EAGAIN && errno != EINTR)
			return errno;
		if ((e = wait_fd(fd, out ? POLLOUT : POLLIN, deadline)) != 0)
			return e;
	}
	return 0;
}

int
eca_channel_relay_answer(struct eca_channel *ch, int fd, const char *where,
    int64_t deadline, struct eca_err *err)
{
	struct eca_broker_msg m;
	unsigned char *buf = NULL, hdr[4];
	size_t len = 0;
	int e, r;

	if ((e = xfer(fd, hdr, 4, 0, deadline)) == 0) {
		len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 |
		    (size_t)hdr[2] << 8 | hdr[3];
		if (len == 0 || len > ECA_FRAME_MAX)
			return eca_err_set(err, ECA_ERR_PROTOCOL,
			    "the relay at %s sent a bad frame", where);
		if ((buf = malloc(len)) == NULL)
			return eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
		e = xfer(fd, buf, len, 0, deadline);
	}
	if (e != 0) {
		free(buf);
		return eca_err_set(err,
		    e == ETIMEDOUT ? ECA_ERR_TIMEOUT : ECA_ERR_UNREACHABLE,
		    "%s did not meet this host at the relay %s within %ld ms: "
		    "%s (is its broker session up? `eca status` on it)",
		    ch->peer, where, ch->timeout_ms, strerror(e));
	}
	r = eca_broker_parse(buf, len, &m, err);
	free(buf);
	if (r != 0)
		return r;
	if (m.op == ECA_BROKER_REFUSED)
		return eca_err_set(err, m.code, "the relay at %s refused: %s",
		    where, m.message);
	if (m.op != ECA_BROKER_RELAYED)
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the relay at %s answered with neither relayed nor "
		    "refused",
		    where);
	return 0;
}

int
eca_channel_relay_open(struct eca_channel *ch, struct eca_host *h,
    const struct eca_endpoint *ep, int64_t deadline, int *fd, char *where,
    size_t wlen, struct eca_err *err)
{
	const char *host = ep->host != NULL ? ep->host : ep->name;
	const char *port = h->cfg->broker_listen.port != NULL ?
	    h->cfg->broker_listen.port :
	    ECA_DEFAULT_BROKER_PORT;
	unsigned char *buf = NULL;
	struct eca_broker_msg m;
	size_t len = 0;
	int e, r;

	if (ch->relay_port[0] != '\0')
		port = ch->relay_port;
	snprintf(where, wlen, strchr(host, ':') != NULL ? "[%s]:%s" : "%s:%s",
	    host, port);
	*fd = -1;
	if ((e = connect_to(host, port, deadline, fd)) != 0)
		return eca_err_set(err,
		    e == ETIMEDOUT ? ECA_ERR_TIMEOUT : ECA_ERR_UNREACHABLE,
		    "cannot connect to the relay of %s at %s: %s", ep->name,
		    where, strerror(e));
	memset(&m, 0, sizeof(m));
	m.op = ECA_BROKER_RELAY;
	m.side = ECA_BROKER_CALLER;
	memcpy(m.token, ch->token, sizeof(m.token));
	snprintf(m.requester, sizeof(m.requester), "%s", h->cfg->client_name);
	snprintf(m.host, sizeof(m.host), "%s", ch->peer);
	m.purpose = ch->purpose;
	if ((r = eca_broker_encode(&m, &buf, &len, err)) == 0 &&
	    (e = xfer(*fd, buf, len, 1, deadline)) != 0)
		r = eca_err_set(err, ECA_ERR_UNREACHABLE,
		    "cannot ask the relay at %s: %s", where, strerror(e));
	free(buf);
	if (r != 0) {
		close(*fd);
		*fd = -1;
	}
	return r;
}

int
eca_channel_relay_connect(struct eca_channel *ch, struct eca_host *h,
    const struct eca_endpoint *ep, struct eca_channel_steps *steps,
    struct eca_err *err)
{
	int64_t deadline = eca_channel_deadline(ch->timeout_ms);
	char where[200];
	int fd = -1, r;

	if ((r = eca_channel_relay_open(ch, h, ep, deadline, &fd, where,
		 sizeof(where), err)) != 0)
		return r;
	if ((r = eca_channel_relay_answer(ch, fd, where, deadline, err)) != 0) {
		close(fd);
		return r;
	}
	snprintf(steps->address, sizeof(steps->address), "%s (relay)", where);
	ch->fd = fd;
	return 0;
}
