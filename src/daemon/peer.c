/* SPDX-License-Identifier: ISC */
/*
 * peer.c - the peer listener: other hosts' channels to this one
 * (docs/channels.md, docs/daemon.md "Peer listener"), on every role.
 *
 * Threads, all owned here:
 * - I/O threads (WORKERS of them, default one per core, at most
 *   PEER_IO_MAX), each with its own event base, all accepting from the
 *   listening socket(s) of LISTEN, paced when uneven (accept_cb):
 *   TLS (bufferevent_openssl), the HELLO exchange, the services.  Nothing
 *   in them blocks.
 * - PEER_JUDGES judge threads: judging a caller can block (this host's
 *   own auto-enrollment with the primary, a CRL download, the roster
 *   refresh of an unmapped DN).  A connection whose client HELLO has
 *   arrived is judged at once on its I/O thread by a judgment that may
 *   not wait (judge.h, nowait), which is every judgment once this host is
 *   enrolled and no CRL is due; one that would wait (and every remote
 *   enrollment) is queued to the judges instead, and its verdict comes
 *   back to its I/O thread with event_active().
 * - One sync thread: every domain's roster is synced at start and every
 *   ECA_ROSTER_SYNC_SECONDS (a blocking HTTP call each), and sooner when
 *   a parked judgment asks for it.
 *
 * A judge never waits for the roster.  A caller that is not in it (or is
 * with another certificate, or the roster is stale) needs a sync first,
 * and one that may be enrolling right now needs syncs until it appears
 * (up to ECA_ENROLL_WAIT_MS): the judge *parks* the connection instead.
 * A parked connection is its I/O thread's again; its timer looks at the
 * roster every PEER_PARK_TICK_MS without any network, and once a sync
 * has finished since (and the caller is found, when it waited for an
 * enrollment), or the wait is over, it goes back to a judge, which
 * decides with what the roster holds then.  Parking is bounded per
 * source address (PEER_ENROLL_WAITS_PER_SOURCE) and, for enrollment
 * waits, to one per certificate; beyond it the caller gets BUSY at once.
 *
 * The listener's other bounds (limits.c, as the API's): open connections
 * per source address (PEER_MAX_CONNECTIONS_PER_SOURCE) and handshakes in
 * progress, from accept to the verdict (PEER_MAX_HANDSHAKES); a
 * connection over either is closed at accept.
 *
 * This file has the I/O threads and each connection's life on them,
 * binding, starting and stopping; peer_judge.c the judges, parking and
 * the sync thread; peer_serve.c the services (peer_impl.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "log.h"
#include "peer_impl.h"
#include "tls.h"

/* The verdict went out (or the connection is gone): free its slot. */
void
peer_handshake_done(struct pconn *pc)
{
	if (!pc->in_handshake)
		return;
	pc->in_handshake = 0;
	ecad_pace_load(&pc->t->pace, -1);
	ecad_slot_put(&pc->t->p->handshakes);
}

/* The connection is gone: free it, or leave it to its judge. */
void
peer_conn_free(struct pconn *pc)
{
	struct peer_thread *t = pc->t;

	if (pc->bev != NULL && !pc->tls_done) {
		pc->tls_done = 1; /* counted once */
		eca_metrics_handshake(&t->p->d->metrics, ECA_METRICS_PEER, 0);
	}
	if (pc->bev != NULL)
		bufferevent_free(pc->bev);
	pc->bev = NULL;
	if (pc->state == PS_JUDGING) {
		/* peer_judged_cb frees it when the judge is done. */
		pc->dead = 1;
		return;
	}
	if (pc->prev != NULL)
		pc->prev->next = pc->next;
	else
		t->conns = pc->next;
	if (pc->next != NULL)
		pc->next->prev = pc->prev;
	if (pc->timer != NULL)
		event_free(pc->timer);
	if (pc->judged_ev != NULL)
		event_free(pc->judged_ev);
	X509_free(pc->leaf);
	sk_X509_pop_free(pc->chain, X509_free);
	free(pc->reply);
	peer_handshake_done(pc);
	peer_park_release(pc);
	if (pc->src_counted)
		ecad_keymap_put(t->p->srcmap, pc->src);
	atomic_fetch_sub_explicit(&t->p->d->metrics.peer_open, 1,
	    memory_order_relaxed);
	atomic_fetch_sub(&t->p->open, 1);
	free(pc);
}

/*
 * libevent 2.1's OpenSSL bufferevent writes a socket only when epoll says
 * it is writable: a frame queued to it costs an epoll_ctl to watch for
 * that, a wake-up and one more epoll_ctl, and a write event left on costs
 * the same once more.  So the write event is on only while output is
 * queued, and a frame with nothing queued before it goes out at once.
 * What that SSL_write does not send is queued: when the socket is full,
 * OpenSSL expects the same bytes again, which the bufferevent writes;
 * when the connection failed, the bufferevent's write meets the error
 * and reports it (event_cb), as for any queued frame.
 */
int
peer_send(struct pconn *pc, const void *buf, size_t len)
{
	SSL *ssl = bufferevent_openssl_get_ssl(pc->bev);
	int n;

	if (len <= PEER_DIRECT_MAX &&
	    !(bufferevent_get_enabled(pc->bev) & EV_WRITE) &&
	    evbuffer_get_length(bufferevent_get_output(pc->bev)) == 0) {
		ERR_clear_error();
		if ((n = SSL_write(ssl, buf, (int)len)) == (int)len)
			return 0;
		n = SSL_get_error(ssl, n);
		if (n == SSL_ERROR_WANT_WRITE || n == SSL_ERROR_WANT_READ)
			log_debug("peer channel from %s (%s): the socket is "
				  "full, output queued",
			    pc->hello.host[0] != '\0' ? pc->hello.host : "?",
			    pc->addr);
		ERR_clear_error();
	}
	if (bufferevent_enable(pc->bev, EV_WRITE) != 0 ||
	    bufferevent_write(pc->bev, buf, len) != 0)
		return -1;
	return 0;
}

/*
 * Close after what is queued has gone out: half-close once the output is
 * flushed (write_cb), then wait a little for the peer's own close so that
 * unread input does not turn our last frame into a reset.
 */
void
peer_conn_closing(struct pconn *pc)
{
	struct timeval tv = {PEER_LINGER_SEC, 0};

	pc->state = PS_CLOSING;
	bufferevent_setwatermark(pc->bev, EV_WRITE, 0, 0);
	bufferevent_set_timeouts(pc->bev, NULL, NULL);
	evtimer_add(pc->timer, &tv);
	bufferevent_enable(pc->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(pc->bev)) == 0)
		(void)shutdown(bufferevent_getfd(pc->bev), SHUT_WR);
	else
		bufferevent_enable(pc->bev, EV_WRITE);
}

/* Refusal before judging (the judge passes it through). */
static void pre_refuse(struct pconn *, int, const char *, ...) ECA_PRINTF(3, 4);
static void
pre_refuse(struct pconn *pc, int code, const char *fmt, ...)
{
	va_list ap;

	if (pc->pre_code != 0)
		return;
	pc->pre_code = code;
	va_start(ap, fmt);
	vsnprintf(pc->pre_msg, sizeof(pc->pre_msg), fmt, ap);
	va_end(ap);
}

/*
 * The first whole frame in the input: 0 with *flen (header included) and
 * the payload made contiguous at *payload; 1 if more bytes are needed;
 * else the frame's error.
 */
int
peer_frame_peek(struct pconn *pc, unsigned char **payload, size_t *flen)
{
	struct evbuffer *in = bufferevent_get_input(pc->bev);
	size_t len = evbuffer_get_length(in);
	unsigned char *p;
	int r;

	if (len < 4)
		return 1;
	if ((p = evbuffer_pullup(in, 4)) == NULL)
		return ECA_ERR_NOMEM;
	if ((r = eca_channel_frame_need(p, len, flen)) != 0)
		return r;
	if ((p = evbuffer_pullup(in, (ssize_t)*flen)) == NULL)
		return ECA_ERR_NOMEM;
	*payload = p + 4;
	return 0;
}

/* The client HELLO is in: parse it, take the peer's chain, judge. */
static void
on_client_hello(struct pconn *pc, const unsigned char *payload, size_t plen)
{
	struct eca_err e;
	int r;

	eca_err_clear(&e);
	if ((r = eca_channel_client_hello_parse(payload, plen, &pc->hello,
		 &e)) != 0) {
		memset(&pc->hello, 0, sizeof(pc->hello));
		snprintf(pc->hello.host, sizeof(pc->hello.host), "?");
		pre_refuse(pc, r, "malformed client HELLO: %s", e.msg);
		return;
	}
	if (pc->requester[0] != '\0' &&
	    (r = peer_reverse_check(pc, e.msg, sizeof(e.msg))) != 0)
		pre_refuse(pc, r, "%s", e.msg);
	r = eca_tls_peer_chain(bufferevent_openssl_get_ssl(pc->bev), &pc->leaf,
	    &pc->chain, &e);
	/* No certificate is the verdict's to state (NO_CLIENT_CERT). */
	if (r != 0 && !(r == ECA_ERR_NO_CLIENT_CERT && pc->leaf == NULL))
		pre_refuse(pc, r, "%s", e.msg);
}

void
peer_conn_read(struct pconn *pc)
{
	struct evbuffer *in = bufferevent_get_input(pc->bev);
	unsigned char *payload;
	size_t flen;
	int r;

	switch (pc->state) {
	case PS_HELLO:
		if ((r = peer_frame_peek(pc, &payload, &flen)) == 1)
			return;
		if (r != 0) {
			memset(&pc->hello, 0, sizeof(pc->hello));
			snprintf(pc->hello.host, sizeof(pc->hello.host), "?");
			pre_refuse(pc, r, "bad client HELLO frame: %s",
			    eca_err_desc(r));
		} else {
			on_client_hello(pc, payload, flen - 4);
			evbuffer_drain(in, flen);
		}
		peer_judge_submit(pc);
		return;
	case PS_SERVING:
		if (evbuffer_get_length(in) > 0 && peer_verdict_stale(pc)) {
			/* Trust, CRLs or roster moved: judge it again first. */
			pc->rejudge = 1;
			pc->resumed = 1; /* no roster wait this time */
			peer_judge_submit(pc);
			return;
		}
		/* FALLTHROUGH */
	case PS_BULK_IN:
		if (pc->echo)
			peer_serve_echo(pc);
		else
			peer_serve_bulk(pc);
		return;
	case PS_CLOSING:
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	default:
		return;
	}
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	peer_conn_read(arg);
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct pconn *pc = arg;

	switch (pc->state) {
	case PS_BULK_OUT:
		peer_bulk_fill(pc);
		return;
	case PS_SERVING:
		/* Drained: the next frame goes out at once (peer_send). */
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			bufferevent_disable(bev, EV_WRITE);
		if (pc->throttled &&
		    evbuffer_get_length(bufferevent_get_output(bev)) <
			PEER_OUT_LOW) {
			pc->throttled = 0;
			bufferevent_enable(bev, EV_READ);
			peer_conn_read(pc);
		}
		return;
	case PS_CLOSING:
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			(void)shutdown(bufferevent_getfd(bev), SHUT_WR);
		return;
	default:
		return;
	}
}

/* TLS is up: send the server HELLO. */
static void
on_connected(struct pconn *pc)
{
	struct ecad *d = pc->t->p->d;
	struct ecad_snap *s;
	struct eca_channel_server_hello h;
	struct eca_err e;
	unsigned char *buf = NULL;
	size_t len = 0, i;
	int r;

	pc->tls_done = 1;
	eca_metrics_handshake(&d->metrics, ECA_METRICS_PEER, 1);
	memset(&h, 0, sizeof(h));
	eca_err_clear(&e);
	s = ecad_snap_get(d);
	snprintf(h.host, sizeof(h.host), "%s", s->cfg->client_name);
	h.role = s->cfg->role;
	for (i = 0; i < s->cfg->nservers && i < ECA_MAX_SERVERS; i++)
		snprintf(h.primaries[h.nprimaries++], ECA_HOST_MAX, "%s",
		    s->cfg->servers[i].name);
	h.has_cert = s->cred != NULL;
	h.nat = s->cfg->nat_client;
	snprintf(h.token, sizeof(h.token), "%s", pc->token);
	ecad_snap_put(s);
	if ((r = eca_channel_server_hello_encode(&h, &buf, &len, &e)) != 0 ||
	    peer_send(pc, buf, len) != 0) {
		log_error("peer %s: cannot send the server HELLO: %s", pc->addr,
		    r != 0 ? e.msg : "out of memory");
		free(buf);
		peer_conn_free(pc);
		return;
	}
	free(buf);
	pc->state = PS_HELLO;
	peer_conn_read(pc);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct pconn *pc = arg;
	unsigned long e;
	char buf[256];

	if (what & BEV_EVENT_CONNECTED) {
		on_connected(pc);
		return;
	}
	if (pc->state == PS_TLS && (what & BEV_EVENT_ERROR)) {
		buf[0] = '\0';
		while ((e = bufferevent_get_openssl_error(bev)) != 0)
			ERR_error_string_n(e, buf, sizeof(buf));
		log_info("peer %s: TLS handshake failed%s%s", pc->addr,
		    buf[0] != '\0' ? ": " : "", buf);
	} else if (what & BEV_EVENT_TIMEOUT)
		log_info("peer channel from %s (%s) closed: idle for "
			 "IDLE_TIMEOUT",
		    pc->hello.host, pc->addr);
	else if (pc->state == PS_BULK_IN || pc->state == PS_BULK_OUT)
		log_info("peer channel from %s (%s) closed mid-transfer, "
			 "%lld of %lld bytes left",
		    pc->hello.host, pc->addr, (long long)pc->remaining,
		    (long long)pc->total);
	else
		log_debug("peer channel from %s (%s) closed",
		    pc->hello.host[0] != '\0' ? pc->hello.host : "?", pc->addr);
	peer_conn_free(pc);
}

/* The handshake phase took too long, or the linger after a refusal. */
static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pconn *pc = arg;
	struct ecad *d = pc->t->p->d;

	(void)fd;
	(void)what;
	if (pc->state == PS_PARKED) {
		peer_park_tick(pc);
		return;
	}
	if (pc->state != PS_CLOSING)
		log_info("peer %s: closed, no client HELLO within "
			 "REQUEST_TIMEOUT (%d s)",
		    pc->addr, d->cfg->request_timeout);
	peer_conn_free(pc);
}

/*
 * Admit a new connection under the listener's bounds (limits.c):
 * MAX_CONNECTIONS, PEER_MAX_CONNECTIONS_PER_SOURCE and
 * PEER_MAX_HANDSHAKES, counted from accept so that silent sockets count
 * too: one address cannot fill MAX_CONNECTIONS, nor the handshake slots.
 * 1: admitted, holding an open count, a handshake slot and, when
 * *src_counted, its source's count; 0: refused (logged at most once a
 * second per cap), holding nothing, before any TLS work.
 */
int
peer_admit(struct peer_thread *t, const struct sockaddr *sa,
    unsigned char src[ECAD_KEY_LEN], int *src_counted)
{
	struct ecad_peer *p = t->p;
	const struct eca_config *cfg = p->d->cfg;
	char host[INET6_ADDRSTRLEN];
	long long open, hs;
	int r;

	*src_counted = 0;
	memset(src, 0, ECAD_KEY_LEN);
	open = atomic_fetch_add(&p->open, 1) + 1;
	if (open > cfg->max_connections) {
		if (time(NULL) != t->cap_logged) {
			t->cap_logged = time(NULL);
			log_warn("peer connection refused: %lld open, "
				 "MAX_CONNECTIONS is %d",
			    open - 1, cfg->max_connections);
		}
		goto refused;
	}
	if (ecad_addr_key(sa, src, host, sizeof(host)) == 0) {
		r = ecad_keymap_take(p->srcmap, src,
		    cfg->peer_max_connections_per_source, NULL);
		if (r == 0) {
			if (time(NULL) != t->src_cap_logged) {
				t->src_cap_logged = time(NULL);
				log_warn(
				    "peer connection from %s refused: it "
				    "has %d open, PEER_MAX_CONNECTIONS_PER_"
				    "SOURCE is %d",
				    host, cfg->peer_max_connections_per_source,
				    cfg->peer_max_connections_per_source);
			}
			goto refused;
		}
		*src_counted = r == 1;
	}
	if (!ecad_slot_take(&p->handshakes, cfg->peer_max_handshakes, &hs)) {
		if (time(NULL) != t->hs_logged) {
			t->hs_logged = time(NULL);
			log_warn("peer connection refused: %lld handshakes in "
				 "progress, PEER_MAX_HANDSHAKES is %d",
			    hs - 1, cfg->peer_max_handshakes);
		}
		goto refused;
	}
	return 1;
refused:
	if (*src_counted)
		ecad_keymap_put(p->srcmap, src);
	*src_counted = 0;
	atomic_fetch_sub(&p->open, 1);
	return 0;
}

/* Give back what admit took, for a connection that was never set up. */
void
peer_unadmit(struct ecad_peer *p, const unsigned char src[ECAD_KEY_LEN],
    int src_counted)
{
	ecad_slot_put(&p->handshakes);
	if (src_counted)
		ecad_keymap_put(p->srcmap, src);
	atomic_fetch_sub(&p->open, 1);
}

/* The peer listener's server context in libctx, from cred. */
static int
peer_server_ctx(OSSL_LIB_CTX *libctx, const struct eca_cred *cred,
    SSL_CTX **out, struct eca_err *err)
{
	int r;

	if ((r = eca_tls_server_ctx(libctx, cred, out, err)) != 0)
		return r;
	/* As the API's: bound a client's Certificate message. */
	SSL_CTX_set_max_cert_list(*out, ECAD_CERT_LIST_MAX);
	return 0;
}

/*
 * Thread t's server context for snapshot s, built again when s is newer
 * than the one it was built from.  A handshake decodes the caller's
 * certificates through its context's decoder and provider stores, whose
 * locks threads on other cores would share in one context (ecad.h,
 * ecad.libctx).  s->peer_ctx, shared, if t's cannot be built.
 */
static SSL_CTX *
thread_ctx(struct peer_thread *t, struct ecad_snap *s)
{
	struct eca_cred *cred = NULL;
	struct eca_err err;
	SSL_CTX *ctx = NULL;

	if (t->ctx_gen == s->gen)
		return t->ctx != NULL ? t->ctx : s->peer_ctx;
	t->ctx_gen = s->gen;
	if (s->cred == NULL)
		return s->peer_ctx;
	eca_err_clear(&err);
	if ((t->libctx.ctx == NULL &&
		eca_tls_libctx_new(&t->libctx, &err) != 0) ||
	    eca_cred_copy(t->libctx.ctx, s->cred, &cred, &err) != 0 ||
	    peer_server_ctx(t->libctx.ctx, cred, &ctx, &err) != 0) {
		log_warn("peer I/O thread %d serves with the shared TLS "
			 "context: %s",
		    t->id, err.msg[0] != '\0' ? err.msg : "out of memory");
		eca_cred_free(cred);
		return s->peer_ctx;
	}
	eca_cred_free(cred); /* ctx holds what it uses */
	SSL_CTX_free(t->ctx);
	t->ctx = ctx;
	return ctx;
}

/*
 * The admitted connection fd on thread t: its TLS bufferevent, its
 * events, and the deadline of the whole handshake phase (TLS and both
 * HELLOs, REQUEST_TIMEOUT).  0; -1 out of memory, nothing kept and fd
 * still the caller's.
 */
int
peer_conn_new(struct peer_thread *t, evutil_socket_t fd,
    const struct sockaddr *sa, int salen, const unsigned char src[ECAD_KEY_LEN],
    int src_counted)
{
	struct ecad *d = t->p->d;
	struct pconn *pc;
	struct ecad_snap *s;
	struct timeval tv;
	char host[INET6_ADDRSTRLEN], port[8];
	SSL_CTX *ctx;
	SSL *ssl;

	if ((pc = calloc(1, sizeof(*pc))) == NULL)
		return -1;
	pc->t = t;
	if (getnameinfo(sa, (socklen_t)salen, host, sizeof(host), port,
		sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(pc->addr, sizeof(pc->addr), "?");
	else
		snprintf(pc->addr, sizeof(pc->addr), "%s:%s", host, port);
	if ((pc->timer = evtimer_new(t->base, timer_cb, pc)) == NULL ||
	    (pc->judged_ev = event_new(t->base, -1, 0, peer_judged_cb, pc)) ==
		NULL)
		goto fail;
	s = ecad_snap_get(d);
	ctx = thread_ctx(t, s);
	ssl = ctx != NULL ? SSL_new(ctx) : NULL;
	ecad_snap_put(s);
	if (ssl == NULL)
		goto fail;
	pc->bev = bufferevent_openssl_socket_new(t->base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (pc->bev == NULL) {
		SSL_free(ssl);
		goto fail;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(pc->bev, 1);
	bufferevent_setcb(pc->bev, read_cb, write_cb, event_cb, pc);
	bufferevent_setwatermark(pc->bev, EV_READ, 0, PEER_READ_MAX);
	/* Writing is on only while output is queued (peer_send). */
	bufferevent_disable(pc->bev, EV_WRITE);
	bufferevent_enable(pc->bev, EV_READ);
	tv.tv_sec = d->cfg->request_timeout;
	tv.tv_usec = 0;
	evtimer_add(pc->timer, &tv);
	pc->state = PS_TLS;
	pc->in_handshake = 1;
	ecad_pace_load(&t->pace, 1);
	memcpy(pc->src, src, sizeof(pc->src));
	pc->src_counted = src_counted;
	atomic_fetch_add_explicit(&d->metrics.peer_connections, 1,
	    memory_order_relaxed);
	atomic_fetch_add_explicit(&d->metrics.peer_open, 1,
	    memory_order_relaxed);
	pc->next = t->conns;
	if (t->conns != NULL)
		t->conns->prev = pc;
	t->conns = pc;
	return 0;
fail:
	if (pc->timer != NULL)
		event_free(pc->timer);
	if (pc->judged_ev != NULL)
		event_free(pc->judged_ev);
	free(pc);
	return -1;
}

static void
accept_cb(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct peer_thread *t = arg;
	unsigned char src[ECAD_KEY_LEN];
	int src_counted;

	(void)lis;
	if (!peer_admit(t, sa, src, &src_counted)) {
		evutil_closesocket(fd);
		return;
	}
	if (peer_conn_new(t, fd, sa, salen, src, src_counted) != 0) {
		log_error("cannot set up a peer connection: out of memory");
		peer_unadmit(t->p, src, src_counted);
		evutil_closesocket(fd);
		return;
	}
	/* Every I/O thread accepts from the same socket (listen.c). */
	ecad_pace_took(&t->pace);
}

/* Stop (on the thread's own loop): close everything it has. */
static void
thread_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct peer_thread *t = arg;
	struct pconn *pc;
	size_t i;

	(void)fd;
	(void)what;
	ecad_pace_forget(&t->pace);
	for (i = 0; i < t->nfds; i++) {
		if (t->lis[i] != NULL)
			evconnlistener_free(t->lis[i]);
		t->lis[i] = NULL;
	}
	peer_reverse_drop(t);
	/* The judges are gone: a JUDGING connection is ours again. */
	while ((pc = t->conns) != NULL) {
		if (pc->state == PS_JUDGING)
			pc->state = PS_CLOSING;
		peer_conn_free(pc);
	}
	event_base_loopbreak(t->base);
}

static void *
thread_main(void *arg)
{
	struct peer_thread *t = arg;
	char name[16];

	snprintf(name, sizeof(name), "ecad-peer-%d", t->id);
	ecad_thread_name(name);
	/* A NAT host's thread has no listener: it waits for reverse ones. */
	event_base_loop(t->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

/* LISTEN is the documented default (not set in the file, most likely). */
static int
listen_is_default(const struct eca_endpoint *ep)
{
	return ep->host != NULL && strcmp(ep->host, "0.0.0.0") == 0 &&
	    ep->port != NULL && strcmp(ep->port, ECA_DEFAULT_PEER_PORT) == 0;
}

static void
close_fds(struct ecad_peer *p)
{
	size_t i, j;

	for (i = 0; i < p->nthreads; i++)
		for (j = 0; j < p->threads[i].nfds; j++) {
			if (p->threads[i].fds[j] != -1)
				close(p->threads[i].fds[j]);
			p->threads[i].fds[j] = -1;
		}
}

/*
 * I/O threads: WORKERS, else one per core (at most PEER_IO_MAX).  Each
 * connection stays on the thread that accepted it, and its TLS handshake
 * runs there.  While each thread had a socket of its own (SO_REUSEPORT)
 * there were two per core, so that connections the kernel's hash spread
 * unevenly would not leave a core idle; with one shared socket a free
 * thread takes the next connection (accept_cb), and the second thread
 * per core only cost wake-ups (bench/peer.sh (a): ecad 0.845 ms CPU per
 * set-up with 2 threads against 0.935 to 0.950 with 4; bench/README.md
 * round 16).
 */
static size_t
io_threads(const struct eca_config *cfg)
{
	long nproc;
	size_t n;

	if (cfg->workers > 0)
		return (size_t)cfg->workers;
	nproc = sysconf(_SC_NPROCESSORS_ONLN);
	n = nproc > 0 ? (size_t)nproc : 1;
	if (n > PEER_IO_MAX)
		n = PEER_IO_MAX;
	return n;
}

/* What peer_bind and peer_free release (NULL is a no-op). */
static void
peer_destroy(struct ecad_peer *p)
{
	if (p == NULL)
		return;
	close_fds(p);
	ecad_keymap_free(p->srcmap);
	ecad_keymap_free(p->waits_src);
	ecad_keymap_free(p->waits_fp);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->wake);
	free(p->threads);
	free(p);
}

/* The listener's state for n I/O threads, none started; NULL: no memory. */
static struct ecad_peer *
peer_new(struct ecad *d, size_t n)
{
	struct ecad_peer *p;
	pthread_condattr_t ca;
	size_t i, j;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->d = d;
	atomic_init(&p->open, 0);
	atomic_init(&p->handshakes, 0);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	/* The sync thread's timed wait runs on the monotonic clock. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->wake, &ca);
	pthread_condattr_destroy(&ca);
	if ((p->threads = calloc(n, sizeof(*p->threads))) == NULL ||
	    ecad_keymap_new(&p->srcmap) != 0 ||
	    ecad_keymap_new(&p->waits_src) != 0 ||
	    ecad_keymap_new(&p->waits_fp) != 0) {
		peer_destroy(p);
		return NULL;
	}
	p->nthreads = n;
	for (i = 0; i < n; i++) {
		p->threads[i].p = p;
		p->threads[i].id = (int)i;
		ecad_pace_init(&p->threads[i].pace,
		    &p->threads[(i + 1) % n].pace);
		for (j = 0; j < ECAD_MAX_LISTEN; j++)
			p->threads[i].fds[j] = -1;
	}
	return p;
}

/* I/O thread i's listening sockets, for ecad_listen_bind. */
static int *
thread_fds(void *arg, size_t i, size_t **nfds)
{
	struct ecad_peer *p = arg;

	*nfds = &p->threads[i].nfds;
	return p->threads[i].fds;
}

/*
 * Bind LISTEN once per I/O thread, before privileges are dropped.  When
 * LISTEN is the default and cannot be bound (another ecad on this
 * machine), the daemon runs without a peer listener and says so; an
 * explicit LISTEN that cannot be bound is fatal.
 */
int
peer_bind(struct ecad *d, struct eca_err *err)
{
	const struct eca_endpoint *ep = &d->cfg->listen;
	struct ecad_bind b;
	struct ecad_peer *p;
	struct ecad_snap *s;
	int r, has_host;

	d->peer_desc[0] = '\0';
	s = ecad_snap_get(d);
	has_host = s->host != NULL;
	ecad_snap_put(s);
	if (!has_host) {
		log_info("no certificate configured: no peer listener");
		return 0;
	}
	if (d->cfg->nat_client) {
		/*
		 * Every connection with a NAT host is its own (docs/nat.md):
		 * no socket, one I/O thread for reverse connections.
		 */
		log_info("NAT_CLIENT = YES: no peer listener; channels to "
			 "this host are reverse connections");
		if ((d->peer = peer_new(d, 1)) == NULL)
			return eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
		return 0;
	}
	if ((p = peer_new(d, io_threads(d->cfg))) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
	memset(&b, 0, sizeof(b));
	b.ep = ep;
	b.defport = ECA_DEFAULT_PEER_PORT;
	b.keyword = "LISTEN";
	b.listener = "LISTEN, the peer listener";
	b.nsets = p->nthreads;
	b.set = thread_fds;
	b.arg = p;
	if ((r = ecad_listen_bind(&b, err)) != 0) {
		if (b.failed_errno != 0 && listen_is_default(ep)) {
			log_warn(
			    "no peer listener: cannot listen on %s "
			    "port %s (the default LISTEN): %s; set LISTEN in "
			    "%s",
			    b.failed_addr, b.port, strerror(b.failed_errno),
			    d->conf_path);
			r = 0;
		}
		peer_destroy(p);
		return r;
	}
	snprintf(d->peer_desc, sizeof(d->peer_desc), "%s", b.desc);
	d->peer = p;
	return 0;
}

/* A snapshot's peer TLS context and host (snap_build, every reload). */
int
peer_snap_setup(struct ecad *d, struct ecad_snap *s, struct eca_err *err)
{
	int r;

	if (s->cred == NULL)
		return 0;
	/* A primary lists itself in SERVER: config.c adds it (own domain). */
	if ((r = peer_server_ctx(NULL, s->cred, &s->peer_ctx, err)) != 0)
		return r;
	if ((r = eca_host_new(NULL, s->cfg, &s->host, err)) != 0)
		return r;
	s->host->persist_rosters = 1;
	if (s->host->policy.crls == NULL)
		s->host->policy.crls = d->crls;
	return 0;
}

/* Each I/O thread's event loop, with a listener on each of its sockets. */
static int
make_loops(struct ecad_peer *p, struct eca_err *err)
{
	size_t i, j;

	for (i = 0; i < p->nthreads; i++) {
		struct peer_thread *t = &p->threads[i];

		if ((t->base = ecad_base_new()) == NULL ||
		    (t->stop_ev = event_new(t->base, -1, 0, thread_stop_cb,
			 t)) == NULL ||
		    ecad_pace_start(&t->pace, t->base) != 0)
			return eca_err_set(err, ECA_ERR_NOMEM,
			    "cannot create "
			    "peer thread %zu's event loop",
			    i);
		for (j = 0; j < t->nfds; j++) {
			t->lis[j] = evconnlistener_new(t->base, accept_cb, t,
			    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0,
			    t->fds[j]);
			if (t->lis[j] == NULL)
				return eca_err_set(err, ECA_ERR_IO,
				    "peer "
				    "thread %zu cannot accept on its socket",
				    i);
			t->fds[j] = -1; /* the listener owns it */
			ecad_pace_watch(&t->pace, t->lis[j]);
		}
	}
	return 0;
}

int
peer_start(struct ecad *d, struct eca_err *err)
{
	struct ecad_peer *p = d->peer;
	struct ecad_snap *s;
	sigset_t all, old;
	size_t i;
	int e, r = 0;

	if (p == NULL)
		return 0;
	/* The CRL cache exists now (crl_start); the first host lacked it. */
	s = ecad_snap_get(d);
	if (s->host != NULL && s->host->policy.crls == NULL)
		s->host->policy.crls = d->crls;
	if (s->host != NULL && s->host->ndomains == 0)
		log_warn(
		    "no SERVER in %s: every peer channel will be refused "
		    "(add SERVER = PRIMARY for each domain this host is in%s)",
		    d->conf_path,
		    d->cfg->role == ECA_ROLE_PRIMARY ?
			", this primary's own name included" :
			"");
	ecad_snap_put(s);
	if ((r = make_loops(p, err)) != 0)
		return r;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (i = 0; i < p->nthreads && r == 0; i++) {
		if ((e = pthread_create(&p->threads[i].thread, NULL,
			 thread_main, &p->threads[i])) != 0)
			r = eca_err_set(err, ECA_ERR_INTERNAL,
			    "cannot start "
			    "peer thread %zu: %s",
			    i, strerror(e));
		else
			p->threads[i].started = 1;
	}
	for (i = 0; i < PEER_JUDGES && r == 0; i++) {
		if ((e = pthread_create(&p->judges[i], NULL, peer_judge_main,
			 p)) != 0)
			r = eca_err_set(err, ECA_ERR_INTERNAL,
			    "cannot start "
			    "peer judge %zu: %s",
			    i, strerror(e));
		else
			p->njudges++;
	}
	if (r == 0) {
		if ((e = pthread_create(&p->sync_thread, NULL, peer_sync_main,
			 p)) != 0)
			r = eca_err_set(err, ECA_ERR_INTERNAL,
			    "cannot start "
			    "the roster sync thread: %s",
			    strerror(e));
		else
			p->sync_started = 1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r == 0)
		log_info("peer listener on %s: %zu I/O thread(s), %d judge(s), "
			 "roster sync every %d s",
		    d->peer_desc, p->nthreads, PEER_JUDGES,
		    d->cfg->roster_sync_seconds);
	return r;
}

/*
 * Judges and the sync thread finish what they are doing (bounded by the
 * HTTP client's timeouts; no judge waits for the roster), then every I/O
 * thread closes its connections, parked ones included, and stops.
 */
void
peer_stop(struct ecad *d)
{
	struct ecad_peer *p = d->peer;
	size_t i;

	if (p == NULL || p->stopping)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = 1;
	pthread_cond_broadcast(&p->work);
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < p->njudges; i++)
		pthread_join(p->judges[i], NULL);
	p->njudges = 0;
	if (p->sync_started)
		pthread_join(p->sync_thread, NULL);
	p->sync_started = 0;
	/* Queued connections are freed by their threads below. */
	p->qhead = p->qtail = NULL;
	for (i = 0; i < p->nthreads; i++)
		if (p->threads[i].started)
			event_active(p->threads[i].stop_ev, EV_READ, 0);
	for (i = 0; i < p->nthreads; i++) {
		if (!p->threads[i].started)
			continue;
		pthread_join(p->threads[i].thread, NULL);
		p->threads[i].started = 0;
	}
}

void
peer_free(struct ecad *d)
{
	struct ecad_peer *p = d->peer;
	struct peer_thread *t;
	struct pconn *pc;
	size_t i, j;

	if (p == NULL)
		return;
	for (i = 0; i < p->nthreads; i++) {
		t = &p->threads[i];
		/* A thread that never ran still has its connections here. */
		for (j = 0; j < t->nfds; j++)
			if (t->lis[j] != NULL)
				evconnlistener_free(t->lis[j]);
		while ((pc = t->conns) != NULL) {
			if (pc->state == PS_JUDGING)
				pc->state = PS_CLOSING;
			peer_conn_free(pc);
		}
		if (t->stop_ev != NULL)
			event_free(t->stop_ev);
		ecad_pace_clear(&t->pace);
		if (t->base != NULL)
			event_base_free(t->base);
		SSL_CTX_free(t->ctx);
		eca_tls_libctx_free(&t->libctx);
	}
	peer_destroy(p);
	d->peer = NULL;
}
