/* SPDX-License-Identifier: ISC */
/*
 * listen.c - listening sockets for the API and the peer listener: one
 * resolve-and-bind loop, one place for the socket options every listener
 * of ecad needs, and the pace of the threads that accept from one socket
 * (ecad.h, struct ecad_pace).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/listener.h>

#include "ecad.h"

#define LISTEN_BACKLOG 1024

/*
 * A non-blocking listening socket on ai with ecad's options (bind fails
 * with EADDRINUSE where anyone listens already).  -1 and errno.
 */
static int
listen_socket(const struct addrinfo *ai, int *out)
{
	int fd, one = 1, e;

	*out = -1;
	if ((fd = socket(ai->ai_family,
		 ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		 ai->ai_protocol)) == -1)
		return -1;
	/*
	 * TCP_NODELAY is inherited by accepted sockets: without it a reply
	 * on a kept-alive connection waits ~40 ms for the client's delayed
	 * ACK.
	 */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1 ||
	    (ai->ai_family == AF_INET6 &&
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) ==
		    -1) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
	    listen(fd, LISTEN_BACKLOG) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	*out = fd;
	return 0;
}

static int
resolve(const char *host, const char *port, const char *keyword,
    struct addrinfo **res, struct eca_err *err)
{
	struct addrinfo hints;
	int e;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((e = getaddrinfo(host, port, &hints, res)) != 0)
		return eca_err_set(err, ECA_ERR_CONFIG,
		    "cannot resolve %s "
		    "%s:%s: %s (use an address of this host or *)",
		    keyword, host != NULL ? host : "*", port, gai_strerror(e));
	return 0;
}

/* One socket on ai into the next slot of set 0; ECA_ERR_IO says why not. */
static int
bind_one(struct ecad_bind *b, const struct addrinfo *ai, struct eca_err *err)
{
	size_t *nfds;
	int *fds = b->set(b->arg, 0, &nfds);

	if (listen_socket(ai, &fds[*nfds]) == 0) {
		(*nfds)++;
		return 0;
	}
	b->failed_errno = errno;
	if (getnameinfo(ai->ai_addr, ai->ai_addrlen, b->failed_addr,
		sizeof(b->failed_addr), NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(b->failed_addr, sizeof(b->failed_addr), "?");
	return eca_err_set(err, ECA_ERR_IO,
	    "cannot listen on %s port %s "
	    "(%s): %s (is another ecad or service using the port?)",
	    b->failed_addr, b->port, b->listener, strerror(b->failed_errno));
}

int
ecad_listen_bind(struct ecad_bind *b, struct eca_err *err)
{
	struct addrinfo *res = NULL, *ai;
	const char *host = b->ep->host;
	size_t i, j, n0, *nfds;
	int *fds0, *fds, r;

	b->failed_addr[0] = '\0';
	b->failed_errno = 0;
	if (host != NULL && (strcmp(host, "*") == 0 || host[0] == '\0'))
		host = NULL;
	snprintf(b->port, sizeof(b->port), "%s",
	    b->ep->port != NULL ? b->ep->port : b->defport);
	if ((r = resolve(host, b->port, b->keyword, &res, err)) != 0)
		goto out;
	/* Set 0: one socket per address. */
	fds0 = b->set(b->arg, 0, &nfds);
	for (ai = res; ai != NULL && *nfds < ECAD_MAX_LISTEN;
	     ai = ai->ai_next) {
		if ((r = bind_one(b, ai, err)) != 0)
			goto out;
	}
	/* Every other set: the same sockets (ecad.h says why). */
	n0 = *nfds;
	for (i = 1; i < b->nsets; i++) {
		fds = b->set(b->arg, i, &nfds);
		for (j = 0; j < n0; j++) {
			if ((fds[*nfds] = fcntl(fds0[j], F_DUPFD_CLOEXEC, 0)) ==
			    -1) {
				r = eca_err_set(err, ECA_ERR_IO,
				    "cannot share the socket of %s among its "
				    "threads: %s",
				    b->listener, strerror(errno));
				goto out;
			}
			(*nfds)++;
		}
	}
	snprintf(b->desc, sizeof(b->desc), "%s:%s", host != NULL ? host : "*",
	    b->port);
	r = 0;
out:
	if (res != NULL)
		freeaddrinfo(res);
	return r;
}

void
ecad_pace_init(struct ecad_pace *pc, struct ecad_pace *next)
{
	memset(pc, 0, sizeof(*pc));
	atomic_init(&pc->load, 0);
	pc->next = next;
}

static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ecad_pace *pc = arg;
	size_t i;

	(void)fd;
	(void)what;
	for (i = 0; i < pc->nlis; i++)
		(void)evconnlistener_enable(pc->lis[i]);
}

int
ecad_pace_start(struct ecad_pace *pc, struct event_base *base)
{
	pc->resume_ev = event_new(base, -1, 0, resume_cb, pc);
	return pc->resume_ev != NULL ? 0 : -1;
}

void
ecad_pace_watch(struct ecad_pace *pc, struct evconnlistener *lis)
{
	if (lis != NULL && pc->nlis < ECAD_MAX_LISTEN)
		pc->lis[pc->nlis++] = lis;
}

/* Whether a sibling has fewer connections in progress than pc. */
static int
another_is_freer(const struct ecad_pace *pc)
{
	int mine = atomic_load_explicit(&pc->load, memory_order_relaxed);
	const struct ecad_pace *q;

	for (q = pc->next; q != NULL && q != pc; q = q->next)
		if (atomic_load_explicit(&q->load, memory_order_relaxed) < mine)
			return 1;
	return 0;
}

void
ecad_pace_took(struct ecad_pace *pc)
{
	size_t i;

	if (pc->nlis == 0 || !another_is_freer(pc))
		return;
	for (i = 0; i < pc->nlis; i++)
		(void)evconnlistener_disable(pc->lis[i]);
	event_active(pc->resume_ev, 0, 0);
}

void
ecad_pace_load(struct ecad_pace *pc, int delta)
{
	atomic_fetch_add_explicit(&pc->load, delta, memory_order_relaxed);
}

void
ecad_pace_forget(struct ecad_pace *pc)
{
	pc->nlis = 0;
}

void
ecad_pace_clear(struct ecad_pace *pc)
{
	if (pc->resume_ev != NULL)
		event_free(pc->resume_ev);
	pc->resume_ev = NULL;
	pc->nlis = 0;
}
