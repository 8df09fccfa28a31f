/* SPDX-License-Identifier: ISC */
/*
 * relay.c - the primary's relay for channels between two NAT hosts
 * (docs/nat.md, "Relay"), on the broker's I/O thread and address.
 *
 * A connection to BROKER_LISTEN whose first byte is not a TLS record (a
 * broker session's ClientHello) is a relay request: one frame naming the
 * side (caller X or callee N), the token and what it is bound to.  The
 * token is checked (broker_token.h: made by this primary for exactly this
 * X, N and purpose, not expired); the first end waits for the other one
 * until the token expires and spends it, so that the token pairs exactly
 * two connections.  Once both are there each gets {"op":"relayed"} and
 * from then on the relay copies bytes both ways without looking at them:
 * the channel's TLS runs end to end between X and N, and the relay only
 * counts.  A pair is closed when either end closes, when it has carried
 * RELAY_MAX_KBYTES both ways together, or after RELAY_MAX_SECONDS, and
 * the primary logs why with the bytes copied each way.
 */
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "broker_impl.h"
#include "channel.h"
#include "log.h"
#include "util.h"

/* Back pressure: stop reading an end while the other has this queued. */
#define RELAY_HIGH (256 * 1024)
#define RELAY_LOW (64 * 1024)
#define RELAY_FRAME_MAX (16 * 1024)
#define RELAY_LINGER_SEC 2
#define TLS_HANDSHAKE_RECORD 0x16

enum rstate { RS_SNIFF, RS_REQUEST, RS_WAITING, RS_SPLICING, RS_CLOSING };

struct relay_conn {
	struct ecad_broker *b;
	struct relay_conn *prev, *next; /* b->relays */
	evutil_socket_t fd;		/* until bev owns it */
	struct event *ev;		/* sniffing, then deadlines, budget */
	struct bufferevent *bev;
	enum rstate state;
	struct sockaddr_storage sa;
	int salen;
	char addr[NI_MAXHOST + NI_MAXSERV + 2];
	struct eca_broker_msg req;
	struct relay_conn *peer; /* the other end, once paired */
	uint64_t bytes;		 /* read from this end, copied to the other */
	int64_t start_ms;	 /* paired (CLOCK_MONOTONIC) */
	/* The pair's budget, from the configuration when it was paired. */
	uint64_t max_bytes;
	int max_kbytes, max_seconds;
};

static void relay_free(struct relay_conn *rc);

static const char *
side_name(const struct relay_conn *rc)
{
	return rc->req.side == ECA_BROKER_CALLER ? "caller" : "callee";
}

static void
relay_free(struct relay_conn *rc)
{
	struct ecad_broker *b = rc->b;

	if (rc->peer != NULL)
		rc->peer->peer = NULL;
	if (rc->bev != NULL)
		bufferevent_free(rc->bev);
	else if (rc->fd != -1)
		evutil_closesocket(rc->fd);
	if (rc->ev != NULL)
		event_free(rc->ev);
	if (rc->prev != NULL)
		rc->prev->next = rc->next;
	else
		b->relays = rc->next;
	if (rc->next != NULL)
		rc->next->prev = rc->prev;
	b->nrelays--;
	free(rc);
}

/* Close rc once what it has queued is out (bounded by the linger). */
static void
relay_linger(struct relay_conn *rc)
{
	struct timeval tv = {RELAY_LINGER_SEC, 0};

	rc->state = RS_CLOSING;
	if (rc->bev == NULL ||
	    evbuffer_get_length(bufferevent_get_output(rc->bev)) == 0) {
		relay_free(rc);
		return;
	}
	bufferevent_disable(rc->bev, EV_READ);
	evtimer_del(rc->ev);
	evtimer_add(rc->ev, &tv);
}

/* Refuse the request with code and msg, then close. */
static void
relay_refuse(struct relay_conn *rc, int code, const char *msg)
{
	struct eca_broker_msg m;
	unsigned char *buf = NULL;
	size_t len = 0;
	struct eca_err e;

	broker_count(rc->b, &rc->b->n_relay_refused, 1);
	log_warn("relay: refused %s (%s for %s -> %s): %s: %s", rc->addr,
	    side_name(rc), rc->req.requester[0] ? rc->req.requester : "?",
	    rc->req.host[0] ? rc->req.host : "?", eca_err_name(code), msg);
	memset(&m, 0, sizeof(m));
	m.op = ECA_BROKER_REFUSED;
	m.code = code;
	snprintf(m.message, sizeof(m.message), "%s", msg);
	eca_err_clear(&e);
	if (eca_broker_encode(&m, &buf, &len, &e) == 0)
		(void)bufferevent_write(rc->bev, buf, len);
	free(buf);
	relay_linger(rc);
}

/*
 * Close a pair: the log line with the bytes copied each way, the
 * counters; the other end gets what is queued for it, then is closed.
 */
static void
pair_close(struct relay_conn *rc, const char *why, int budget)
{
	struct relay_conn *o = rc->peer;
	struct relay_conn *x = rc->req.side == ECA_BROKER_CALLER ? rc : o;
	struct relay_conn *n = x == rc ? o : rc;
	struct ecad_broker *b = rc->b;

	log_info("relay %s -> %s (%s): closed: %s; %llu bytes caller to "
		 "callee, %llu bytes callee to caller, %lld ms",
	    rc->req.requester, rc->req.host, eca_purpose_name(rc->req.purpose),
	    why, (unsigned long long)(x != NULL ? x->bytes : 0),
	    (unsigned long long)(n != NULL ? n->bytes : 0),
	    (long long)(eca_util_mono_ms() - rc->start_ms));
	pthread_mutex_lock(&b->lock);
	b->n_relay_open--;
	b->n_relay_budget += budget ? 1 : 0;
	b->relay_bytes += rc->bytes + (o != NULL ? o->bytes : 0);
	pthread_mutex_unlock(&b->lock);
	relay_free(rc);
	if (o == NULL)
		return;
	if (budget)
		relay_free(o);
	else
		relay_linger(o);
}

static void
splice_read(struct bufferevent *bev, void *arg)
{
	struct relay_conn *rc = arg, *o = rc->peer;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n = evbuffer_get_length(in);
	char why[160];

	if (rc->state != RS_SPLICING || o == NULL || o->bev == NULL) {
		evbuffer_drain(in, n);
		return;
	}
	if (rc->bytes + o->bytes + n > rc->max_bytes) {
		snprintf(why, sizeof(why),
		    "byte budget exceeded (RELAY_MAX_KBYTES = %d)",
		    rc->max_kbytes);
		pair_close(rc, why, 1);
		return;
	}
	rc->bytes += n;
	evbuffer_add_buffer(bufferevent_get_output(o->bev), in);
	if (evbuffer_get_length(bufferevent_get_output(o->bev)) > RELAY_HIGH)
		bufferevent_disable(bev, EV_READ);
}

static void
splice_write(struct bufferevent *bev, void *arg)
{
	struct relay_conn *rc = arg;

	if (rc->state == RS_CLOSING) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			relay_free(rc);
		return;
	}
	/* Drained below the low mark: the other end may send again. */
	if (rc->peer != NULL && rc->peer->bev != NULL)
		bufferevent_enable(rc->peer->bev, EV_READ);
}

static void
splice_event(struct bufferevent *bev, short what, void *arg)
{
	struct relay_conn *rc = arg;
	char why[64];

	(void)bev;
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	if (rc->state != RS_SPLICING) {
		relay_free(rc);
		return;
	}
	snprintf(why, sizeof(why), "the %s %s", side_name(rc),
	    (what & BEV_EVENT_EOF) ? "closed" : "failed");
	pair_close(rc, why, 0);
}

/* Deadlines: the request's, the wait for the other end, the budget. */
static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relay_conn *rc = arg;
	char why[160];

	(void)fd;
	(void)what;
	switch (rc->state) {
	case RS_WAITING:
		relay_refuse(rc, ECA_ERR_TIMEOUT,
		    rc->req.side == ECA_BROKER_CALLER ?
			"the NAT host did not come to the relay before the "
			"token expired (is its broker session up?)" :
			"the requester did not come to the relay before the "
			"token expired");
		return;
	case RS_SPLICING:
		snprintf(why, sizeof(why),
		    "time budget exceeded (RELAY_MAX_SECONDS = %d)",
		    rc->max_seconds);
		pair_close(rc, why, 1);
		return;
	default:
		relay_free(rc);
		return;
	}
}

/* The two ends are there: answer both, then copy. */
static void
pair_up(struct relay_conn *w, struct relay_conn *rc)
{
	struct ecad_broker *b = rc->b;
	struct ecad_snap *snap = ecad_snap_get(b->d);
	int kbytes = snap->cfg->relay_max_kbytes;
	struct timeval budget = {snap->cfg->relay_max_seconds, 0};
	struct eca_broker_msg m;
	unsigned char *buf = NULL;
	size_t len = 0;
	struct eca_err e;
	struct relay_conn *ends[2] = {w, rc};
	int i;

	ecad_snap_put(snap);
	memset(&m, 0, sizeof(m));
	m.op = ECA_BROKER_RELAYED;
	eca_err_clear(&e);
	if (eca_broker_encode(&m, &buf, &len, &e) != 0) {
		relay_refuse(rc, e.code, e.msg);
		return;
	}
	w->peer = rc;
	rc->peer = w;
	for (i = 0; i < 2; i++) {
		ends[i]->state = RS_SPLICING;
		ends[i]->start_ms = eca_util_mono_ms();
		ends[i]->max_kbytes = kbytes;
		ends[i]->max_bytes = (uint64_t)kbytes * 1024;
		ends[i]->max_seconds = (int)budget.tv_sec;
		evtimer_del(ends[i]->ev);
		bufferevent_setcb(ends[i]->bev, splice_read, splice_write,
		    splice_event, ends[i]);
		bufferevent_setwatermark(ends[i]->bev, EV_READ, 0, RELAY_HIGH);
		bufferevent_setwatermark(ends[i]->bev, EV_WRITE, RELAY_LOW, 0);
		(void)bufferevent_write(ends[i]->bev, buf, len);
		bufferevent_enable(ends[i]->bev, EV_READ | EV_WRITE);
	}
	free(buf);
	/* One budget timer for the pair, on the end that came last. */
	evtimer_add(rc->ev, &budget);
	pthread_mutex_lock(&b->lock);
	b->n_relays++;
	b->n_relay_open++;
	pthread_mutex_unlock(&b->lock);
	/*
	 * Neither end speaks before "relayed" (the caller's TLS starts after
	 * it); bytes one sent early stay queued and go with its next ones.
	 */
	log_info("relay %s -> %s (%s): both ends are here (%s, %s): copying",
	    rc->req.requester, rc->req.host, eca_purpose_name(rc->req.purpose),
	    w->addr, rc->addr);
}

/* The end waiting with the same token on the other side, if any. */
static struct relay_conn *
find_waiting(struct ecad_broker *b, const struct relay_conn *rc)
{
	struct relay_conn *w;

	for (w = b->relays; w != NULL; w = w->next)
		if (w != rc && w->state == RS_WAITING &&
		    w->req.side != rc->req.side &&
		    strcmp(w->req.token, rc->req.token) == 0)
			return w;
	return NULL;
}

/* A relay request: the token checked, then pair or wait. */
static void
on_request(struct relay_conn *rc)
{
	struct ecad_broker *b = rc->b;
	struct eca_broker_binding bind;
	struct relay_conn *w;
	struct timeval tv = {0, 0};
	int64_t now = time(NULL), expires = 0;
	struct eca_err e;

	memset(&bind, 0, sizeof(bind));
	snprintf(bind.requester, sizeof(bind.requester), "%s",
	    rc->req.requester);
	snprintf(bind.host, sizeof(bind.host), "%s", rc->req.host);
	bind.purpose = rc->req.purpose;
	eca_err_clear(&e);
	if (eca_broker_token_check(b->token_key, rc->req.token, &bind, now,
		&expires, &e) != 0) {
		relay_refuse(rc, e.code, e.msg);
		return;
	}
	if ((w = find_waiting(b, rc)) != NULL) {
		pair_up(w, rc);
		return;
	}
	/* The first end spends the token: a third connection is a replay. */
	if (b->relay_spent == NULL &&
	    (b->relay_spent = calloc(1, sizeof(*b->relay_spent))) == NULL) {
		relay_refuse(rc, ECA_ERR_NOMEM, "the relay is out of memory");
		return;
	}
	if (eca_broker_token_spend(b->relay_spent, rc->req.token, expires, now,
		&e) != 0) {
		relay_refuse(rc, e.code, e.msg);
		return;
	}
	rc->state = RS_WAITING;
	tv.tv_sec = expires > now ? expires - now : 1;
	evtimer_del(rc->ev);
	evtimer_add(rc->ev, &tv);
	log_info("relay %s -> %s (%s): the %s is here (%s), waiting for the "
		 "other end",
	    rc->req.requester, rc->req.host, eca_purpose_name(rc->req.purpose),
	    side_name(rc), rc->addr);
}

static void
request_read(struct bufferevent *bev, void *arg)
{
	struct relay_conn *rc = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	unsigned char *p;
	struct eca_err e;
	size_t flen;
	int r;

	if (rc->state != RS_REQUEST || evbuffer_get_length(in) < 4 ||
	    (p = evbuffer_pullup(in, 4)) == NULL)
		return;
	r = eca_channel_frame_need(p, evbuffer_get_length(in), &flen);
	if (r == 1)
		return;
	if (r != 0 || flen > RELAY_FRAME_MAX) {
		relay_refuse(rc, ECA_ERR_PROTOCOL, "bad relay request frame");
		return;
	}
	if ((p = evbuffer_pullup(in, (ssize_t)flen)) == NULL)
		return;
	eca_err_clear(&e);
	r = eca_broker_parse(p + 4, flen - 4, &rc->req, &e);
	evbuffer_drain(in, flen);
	if (r == 0 && rc->req.op != ECA_BROKER_RELAY)
		r = eca_err_set(&e, ECA_ERR_PROTOCOL,
		    "the first message on the relay must be a relay request");
	if (r != 0) {
		memset(&rc->req, 0, sizeof(rc->req));
		relay_refuse(rc, r, e.msg);
		return;
	}
	/* Read on: an end that leaves while it waits is freed at once. */
	on_request(rc);
}

static void
request_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		relay_free(arg);
}

/* Plain TCP from here: read the relay request. */
static int
start_request(struct relay_conn *rc)
{
	struct timeval tv = {rc->b->d->cfg->request_timeout, 0};
	int one = 1;

	/* The channel's small TLS records must not wait for delayed ACKs. */
	(void)setsockopt(rc->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	rc->bev = bufferevent_socket_new(rc->b->base, rc->fd,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (rc->bev == NULL)
		return -1;
	rc->fd = -1;
	rc->state = RS_REQUEST;
	bufferevent_setcb(rc->bev, request_read, splice_write, request_event,
	    rc);
	bufferevent_setwatermark(rc->bev, EV_READ, 0, RELAY_FRAME_MAX);
	bufferevent_enable(rc->bev, EV_READ | EV_WRITE);
	event_assign(rc->ev, rc->b->base, -1, 0, timer_cb, rc);
	evtimer_add(rc->ev, &tv);
	return 0;
}

/* The first byte: a TLS record is a broker session, else a relay. */
static void
sniff_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relay_conn *rc = arg;
	struct ecad_broker *b = rc->b;
	unsigned char c = 0;
	ssize_t n = 0;

	if (what & EV_READ)
		n = recv(fd, &c, 1, MSG_PEEK);
	if (n != 1) {
		relay_free(rc);
		return;
	}
	if (c == TLS_HANDSHAKE_RECORD) {
		rc->fd = -1;
		if (broker_sess_new(b, fd, (struct sockaddr *)&rc->sa,
			rc->salen) != 0)
			evutil_closesocket(fd);
		else
			broker_count(b, &b->n_connections, 1);
		relay_free(rc);
		return;
	}
	if (start_request(rc) != 0)
		relay_free(rc);
}

int
broker_accept(struct ecad_broker *b, evutil_socket_t fd,
    const struct sockaddr *sa, int salen)
{
	struct timeval tv = {b->d->cfg->request_timeout, 0};
	char host[NI_MAXHOST], port[NI_MAXSERV];
	struct relay_conn *rc;

	if ((size_t)salen > sizeof(rc->sa) ||
	    (rc = calloc(1, sizeof(*rc))) == NULL)
		return -1;
	rc->b = b;
	rc->fd = fd;
	memcpy(&rc->sa, sa, (size_t)salen);
	rc->salen = salen;
	if (getnameinfo(sa, (socklen_t)salen, host, sizeof(host), port,
		sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(rc->addr, sizeof(rc->addr), "?");
	else
		snprintf(rc->addr, sizeof(rc->addr),
		    sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host,
		    port);
	rc->state = RS_SNIFF;
	if ((rc->ev = event_new(b->base, fd, EV_READ, sniff_cb, rc)) == NULL) {
		free(rc);
		return -1;
	}
	event_add(rc->ev, &tv);
	rc->next = b->relays;
	if (b->relays != NULL)
		b->relays->prev = rc;
	b->relays = rc;
	b->nrelays++;
	return 0;
}

void
broker_relay_drop(struct ecad_broker *b)
{
	struct relay_conn *rc;

	for (rc = b->relays; rc != NULL; rc = rc->next)
		rc->peer = NULL;
	while (b->relays != NULL)
		relay_free(b->relays);
	free(b->relay_spent);
	b->relay_spent = NULL;
}
