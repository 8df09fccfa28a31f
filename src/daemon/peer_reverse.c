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

#include "broker_token.h"
#include "log.h"
#include "peer_impl.h"
#include "util.h"

/* Connecting out: bounded like the handshake that follows. */
#define REVERSE_CONNECT_SEC 10
/* The relay's answer frame, at most (a refusal and its message). */
#define REVERSE_ANSWER_MAX 4096

struct peer_reverse {
	struct peer_thread *t;
	struct bufferevent *bev; /* plain TCP, until connected */
	struct eca_broker_msg m;
	struct sockaddr_storage sa;
	socklen_t salen;
	struct peer_reverse *prev, *next; /* t->reverses, while connecting */
	int64_t until_ms; /* CLOCK_MONOTONIC: the token expires */
	/* Through the relay: the socket and the relay's answer, read. */
	evutil_socket_t fd;
	struct event *ev;
	unsigned char ans[REVERSE_ANSWER_MAX];
	size_t got;
};

static void relay_ask(struct peer_reverse *rv);
static void event_cb(struct bufferevent *bev, short what, void *arg);
static int connect_out(struct peer_reverse *rv);

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
	if (rv->ev != NULL)
		event_free(rv->ev);
	if (close_fd && rv->fd != -1)
		evutil_closesocket(rv->fd);
	free(rv);
}

/* Connected (fd): hand the socket to the peer listener's machinery. */
static void
on_tcp(struct peer_reverse *rv, evutil_socket_t fd)
{
	struct peer_thread *t = rv->t;
	unsigned char src[ECAD_KEY_LEN];
	int counted, one = 1;

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
	t->conns->purpose = rv->m.purpose;
	t->conns->token_until_ms = rv->until_ms;
	log_info("reverse connection to %s for %s (%s): connected%s",
	    rv->m.address, rv->m.requester, eca_purpose_name(rv->m.purpose),
	    rv->m.relay ? " through the relay" : "");
}

/*
 * The relay's answer, read byte-exact straight from the socket: what
 * follows it is the requester's TLS ClientHello, for the peer listener's
 * machinery, not for a buffer here.
 */
static void
relay_answer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct peer_reverse *rv = arg;
	struct eca_broker_msg m;
	struct eca_err e;
	size_t need = 4;
	ssize_t n;

	if (what & EV_TIMEOUT) {
		log_warn("reverse connection for %s through the relay %s: no "
			 "answer before the token expired",
		    rv->m.requester, rv->m.address);
		reverse_free(rv, 1);
		return;
	}
	if (rv->got >= 4)
		need = 4 +
		    ((size_t)rv->ans[0] << 24 | (size_t)rv->ans[1] << 16 |
			(size_t)rv->ans[2] << 8 | rv->ans[3]);
	if (need > sizeof(rv->ans) ||
	    (n = recv(fd, rv->ans + rv->got, need - rv->got, 0)) <= 0) {
		log_warn("reverse connection for %s through the relay %s: the "
			 "relay closed or sent too much",
		    rv->m.requester, rv->m.address);
		reverse_free(rv, 1);
		return;
	}
	rv->got += (size_t)n;
	if (rv->got < 4 || rv->got < need || need == 4)
		return;
	eca_err_clear(&e);
	if (eca_broker_parse(rv->ans + 4, rv->got - 4, &m, &e) != 0 ||
	    m.op != ECA_BROKER_RELAYED) {
		log_warn("reverse connection for %s (%s) through the relay %s: "
			 "refused: %s: %s",
		    rv->m.requester, eca_purpose_name(rv->m.purpose),
		    rv->m.address,
		    eca_err_name(m.op == ECA_BROKER_REFUSED ? m.code : e.code),
		    m.op == ECA_BROKER_REFUSED ? m.message : e.msg);
		eca_broker_msg_clear(&m);
		reverse_free(rv, 1);
		return;
	}
	on_tcp(rv, rv->fd);
	rv->fd = -1;
	reverse_free(rv, 0);
}

/* Connected to the relay: name the request, then wait for the answer. */
static void
relay_ask(struct peer_reverse *rv)
{
	struct timeval tv = {0, 0};
	int64_t left = rv->until_ms - eca_util_mono_ms();
	struct eca_broker_msg m;
	unsigned char *buf = NULL;
	size_t len = 0;
	struct eca_err e;

	memset(&m, 0, sizeof(m));
	m.op = ECA_BROKER_RELAY;
	m.side = ECA_BROKER_CALLEE;
	memcpy(m.token, rv->m.token, sizeof(m.token));
	memcpy(m.requester, rv->m.requester, sizeof(m.requester));
	snprintf(m.host, sizeof(m.host), "%s", rv->t->p->d->cfg->client_name);
	m.purpose = rv->m.purpose;
	eca_err_clear(&e);
	tv.tv_sec = left > 1000 ? left / 1000 : 1;
	/* A small frame on a fresh connection: the socket buffer takes it. */
	if (eca_broker_encode(&m, &buf, &len, &e) != 0 ||
	    send(rv->fd, buf, len, MSG_NOSIGNAL) != (ssize_t)len ||
	    (rv->ev = event_new(rv->t->base, rv->fd, EV_READ | EV_PERSIST,
		 relay_answer_cb, rv)) == NULL ||
	    event_add(rv->ev, &tv) != 0) {
		log_warn("reverse connection for %s: cannot ask the relay %s",
		    rv->m.requester, rv->m.address);
		free(buf);
		reverse_free(rv, 1);
		return;
	}
	free(buf);
	log_info("reverse connection for %s (%s): at the relay %s, waiting "
		 "for %s",
	    rv->m.requester, eca_purpose_name(rv->m.purpose), rv->m.address,
	    rv->m.requester);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct peer_reverse *rv = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		rv->fd = bufferevent_getfd(rv->bev);
		bufferevent_free(rv->bev); /* without BEV_OPT_CLOSE_ON_FREE */
		rv->bev = NULL;
		if (rv->m.relay) {
			relay_ask(rv);
			return;
		}
		on_tcp(rv, rv->fd);
		rv->fd = -1;
		reverse_free(rv, 0);
		return;
	}
	log_warn("reverse connection to %s for %s failed: %s%s", rv->m.address,
	    rv->m.requester,
	    (what & BEV_EVENT_TIMEOUT) ?
		"timed out" :
		evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()),
	    !rv->m.relay && rv->m.broker[0] != '\0' ? ": trying the relay" :
						      "");
	if (rv->m.relay || rv->m.broker[0] == '\0' ||
	    eca_util_mono_ms() >= rv->until_ms) {
		reverse_free(rv, 1);
		return;
	}
	/* The requester cannot be reached: it stands by at the relay. */
	if (bufferevent_getfd(rv->bev) != -1)
		evutil_closesocket(bufferevent_getfd(rv->bev));
	bufferevent_free(rv->bev);
	rv->bev = NULL;
	rv->m.relay = 1;
	snprintf(rv->m.address, sizeof(rv->m.address), "%s", rv->m.broker);
	if (connect_out(rv) != 0)
		reverse_free(rv, 1);
}

/* "a.b.c.d:port" or "[v6]:port" into rv->sa; 0 or -1. */
static int
parse_address(struct peer_reverse *rv)
{
	char host[sizeof(rv->m.address)], *colon, *h = host;
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
	/* The relay is the broker, named as SERVER names it. */
	hints.ai_flags =
	    rv->m.relay ? AI_NUMERICSERV : AI_NUMERICHOST | AI_NUMERICSERV;
	if (getaddrinfo(h, colon + 1, &hints, &res) != 0)
		return -1;
	memcpy(&rv->sa, res->ai_addr, res->ai_addrlen);
	rv->salen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/*
 * The token is good once, until it expires: 0, or -1 (logged).  The NAT
 * host cannot check the token's MAC (the primary's key): the request
 * came over its broker session, mutual TLS with its primary, and the
 * requester checks the token in the server HELLO.  What it can check is
 * that no request is served twice and none after its expiry.
 */
static int
spend_token(struct peer_reverse *rv)
{
	struct peer_thread *t = rv->t;
	struct eca_err e;
	int64_t now = eca_util_mono_ms() / 1000;

	if (eca_util_mono_ms() >= rv->until_ms) {
		log_warn("reverse connection for %s (%s): refused: its token "
			 "expired before it could start",
		    rv->m.requester, eca_purpose_name(rv->m.purpose));
		return -1;
	}
	if (t->spent == NULL &&
	    (t->spent = calloc(1, sizeof(*t->spent))) == NULL) {
		log_error("reverse connection for %s: out of memory",
		    rv->m.requester);
		return -1;
	}
	eca_err_clear(&e);
	if (eca_broker_token_spend(t->spent, rv->m.token,
		rv->until_ms / 1000 + 1, now, &e) != 0) {
		log_warn("reverse connection for %s (%s): refused: %s",
		    rv->m.requester, eca_purpose_name(rv->m.purpose), e.msg);
		return -1;
	}
	return 0;
}

/* Connect out to rv->m.address: 0, or -1 (rv is then the caller's). */
static int
connect_out(struct peer_reverse *rv)
{
	struct timeval tv = {REVERSE_CONNECT_SEC, 0};

	if (parse_address(rv) != 0) {
		log_warn("reverse connection for %s: bad address %s",
		    rv->m.requester, rv->m.address);
		return -1;
	}
	if ((rv->bev = bufferevent_socket_new(rv->t->base, -1, 0)) == NULL)
		return -1;
	bufferevent_setcb(rv->bev, NULL, NULL, event_cb, rv);
	bufferevent_set_timeouts(rv->bev, NULL, &tv);
	bufferevent_enable(rv->bev, EV_WRITE);
	if (bufferevent_socket_connect(rv->bev, (struct sockaddr *)&rv->sa,
		(int)rv->salen) != 0) {
		log_warn("reverse connection to %s for %s: cannot connect",
		    rv->m.address, rv->m.requester);
		return -1;
	}
	return 0;
}

/* On the I/O thread: start connecting. */
static void
start_cb(evutil_socket_t fd, short what, void *arg)
{
	struct peer_reverse *rv = arg;

	(void)fd;
	(void)what;
	if (spend_token(rv) != 0) {
		reverse_free(rv, 0);
		return;
	}
	rv->next = rv->t->reverses;
	if (rv->next != NULL)
		rv->next->prev = rv;
	rv->t->reverses = rv;
	if (connect_out(rv) != 0)
		reverse_free(rv, 1);
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
	rv->fd = -1;
	rv->until_ms = eca_util_mono_ms() +
	    (int64_t)(m->ttl > 0 ? m->ttl : ECA_BROKER_TOKEN_TTL_DEFAULT) *
		1000;
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
	free(t->spent);
	t->spent = NULL;
}

int
peer_reverse_check(const struct pconn *pc, char *msg, size_t len)
{
	if (strcmp(pc->hello.host, pc->requester) != 0) {
		snprintf(msg, len,
		    "this reverse connection was asked for by %s, not %s",
		    pc->requester, pc->hello.host);
		return ECA_ERR_FORBIDDEN;
	}
	if (pc->hello.purpose != pc->purpose) {
		snprintf(msg, len,
		    "this reverse connection's token is bound to purpose %s, "
		    "not %s: ask the primary again for this purpose",
		    eca_purpose_name(pc->purpose),
		    eca_purpose_name(pc->hello.purpose));
		return ECA_ERR_FORBIDDEN;
	}
	if (eca_util_mono_ms() >= pc->token_until_ms) {
		snprintf(msg, len,
		    "this reverse connection's token expired before %s's "
		    "HELLO arrived: ask again",
		    pc->requester);
		return ECA_ERR_FORBIDDEN;
	}
	return 0;
}
