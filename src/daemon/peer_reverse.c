/* SPDX-License-Identifier: ISC */
/*
 * peer_reverse.c - a NAT host's reverse connections (docs/nat.md): asked
 * by its primary's broker (nat_session.c), it connects out to the
 * requester's address and then serves the connection as its peer
 * listener serves an accepted one (TLS server, server HELLO naming the
 * request's token, the requester's HELLO judged by eca_judge_peer), on
 * the peer listener's first I/O thread.  Only the requester named in the
 * request may be the caller.
 */
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "log.h"
#include "peer_impl.h"

/* Connecting out: bounded like the handshake that follows. */
#define REVERSE_CONNECT_SEC 10

struct peer_reverse {
	struct peer_thread *t;
	struct bufferevent *bev; /* plain TCP, until connected */
	struct eca_broker_msg m;
	struct sockaddr_storage sa;
	socklen_t salen;
	struct peer_reverse *prev, *next; /* t->reverses, while connecting */
};

static void
reverse_free(struct peer_reverse *rv, int close_fd)
{
	if (rv->prev != NULL)
		rv->prev->next = rv->next;
	else if (rv->t->reverses == rv)
		rv->t->reverses = rv->next;
	if (rv->next != NULL)
		rv->next->prev = rv->prev;
	if (rv->bev != NULL) {
		if (close_fd && bufferevent_getfd(rv->bev) != -1)
			evutil_closesocket(bufferevent_getfd(rv->bev));
		bufferevent_free(rv->bev);
	}
	free(rv);
}

/* Connected: hand the socket to the peer listener's machinery. */
static void
on_tcp(struct peer_reverse *rv)
{
	struct peer_thread *t = rv->t;
	unsigned char src[ECAD_KEY_LEN];
	evutil_socket_t fd = bufferevent_getfd(rv->bev);
	int counted, one = 1;

	bufferevent_free(rv->bev); /* without BEV_OPT_CLOSE_ON_FREE */
	rv->bev = NULL;
	/*
	 * As an accepted socket has it (listen.c): without it the TLS
	 * records and the HELLO wait for delayed ACKs (40 ms each).
	 */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (!peer_admit(t, (struct sockaddr *)&rv->sa, src, &counted)) {
		evutil_closesocket(fd);
		return;
	}
	if (peer_conn_new(t, fd, (struct sockaddr *)&rv->sa, (int)rv->salen,
		src, counted) != 0) {
		log_error("reverse connection to %s: out of memory",
		    rv->m.address);
		peer_unadmit(t->p, src, counted);
		evutil_closesocket(fd);
		return;
	}
	snprintf(t->conns->token, sizeof(t->conns->token), "%s", rv->m.token);
	snprintf(t->conns->requester, sizeof(t->conns->requester), "%s",
	    rv->m.requester);
	log_info("reverse connection to %s for %s (%s): connected",
	    rv->m.address, rv->m.requester, eca_purpose_name(rv->m.purpose));
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct peer_reverse *rv = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		on_tcp(rv);
		reverse_free(rv, 0);
		return;
	}
	log_warn("reverse connection to %s for %s failed: %s", rv->m.address,
	    rv->m.requester,
	    (what & BEV_EVENT_TIMEOUT) ?
		"timed out" :
		evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	reverse_free(rv, 1);
}

/* "a.b.c.d:port" or "[v6]:port" into rv->sa; 0 or -1. */
static int
parse_address(struct peer_reverse *rv)
{
	char host[64], *colon, *h = host;
	struct addrinfo hints, *res = NULL;

	snprintf(host, sizeof(host), "%s", rv->m.address);
	if ((colon = strrchr(host, ':')) == NULL)
		return -1;
	*colon = '\0';
	if (h[0] == '[' && colon > h && colon[-1] == ']') {
		h++;
		colon[-1] = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if (getaddrinfo(h, colon + 1, &hints, &res) != 0)
		return -1;
	memcpy(&rv->sa, res->ai_addr, res->ai_addrlen);
	rv->salen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* On the I/O thread: start connecting. */
static void
start_cb(evutil_socket_t fd, short what, void *arg)
{
	struct peer_reverse *rv = arg;
	struct timeval tv = {REVERSE_CONNECT_SEC, 0};

	(void)fd;
	(void)what;
	if (parse_address(rv) != 0) {
		log_warn("reverse connection for %s: bad address %s",
		    rv->m.requester, rv->m.address);
		reverse_free(rv, 0);
		return;
	}
	if ((rv->bev = bufferevent_socket_new(rv->t->base, -1, 0)) == NULL) {
		reverse_free(rv, 0);
		return;
	}
	bufferevent_setcb(rv->bev, NULL, NULL, event_cb, rv);
	rv->next = rv->t->reverses;
	if (rv->next != NULL)
		rv->next->prev = rv;
	rv->t->reverses = rv;
	bufferevent_set_timeouts(rv->bev, NULL, &tv);
	bufferevent_enable(rv->bev, EV_WRITE);
	if (bufferevent_socket_connect(rv->bev, (struct sockaddr *)&rv->sa,
		(int)rv->salen) != 0) {
		log_warn("reverse connection to %s for %s: cannot connect",
		    rv->m.address, rv->m.requester);
		reverse_free(rv, 1);
	}
}

int
peer_reverse(struct ecad *d, const struct eca_broker_msg *m)
{
	struct ecad_peer *p = d->peer;
	struct timeval now = {0, 0};
	struct peer_reverse *rv;

	if (p == NULL || p->nthreads == 0 || m->op != ECA_BROKER_CONNECT)
		return -1;
	if ((rv = calloc(1, sizeof(*rv))) == NULL)
		return -1;
	rv->t = &p->threads[0];
	rv->m = *m;
	if (event_base_once(rv->t->base, -1, EV_TIMEOUT, start_cb, rv, &now) !=
	    0) {
		free(rv);
		return -1;
	}
	return 0;
}

void
peer_reverse_drop(struct peer_thread *t)
{
	while (t->reverses != NULL)
		reverse_free(t->reverses, 1);
}
