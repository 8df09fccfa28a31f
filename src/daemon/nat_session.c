/* SPDX-License-Identifier: ISC */
/*
 * nat_session.c - a NAT host's broker sessions (docs/nat.md): one
 * persistent outbound mutual-TLS session to the broker of each of its
 * primaries (the SERVER's host, BROKER_LISTEN's port), on one thread with
 * its own event base.
 *
 * Each session: connect, TLS, the primary's certificate checked as the
 * primary (eca_verdict_check_cert: chain, validity, revocation, identity),
 * register, then a ping every BROKER_HEARTBEAT_SECONDS.  No pong for
 * ECA_BROKER_MISSES heartbeats, a refusal, a closed connection: the session
 * is dead and is opened again after a jittered exponential backoff
 * (eca_broker_backoff_ms).  Every change, and every pong, is written to
 * STATE_DIR/broker-PRIMARY.json for `eca status`.
 *
 * The primary may ask over the session for this host's enrollment
 * (`eca enroll --remote-host`, op "enroll"): only that primary can, the
 * session being mutual TLS with it.  The enrollment is this host's normal
 * one (ecad_enroll_self, as for a channel of purpose enroll), run on a
 * thread of its own (one per session at a time) since it blocks; its
 * answer goes back as op "enrolled" with the request's id.
 */
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <jansson.h>

#include "broker.h"
#include "channel.h"
#include "ecad.h"
#include "host.h"
#include "log.h"
#include "tls.h"
#include "util.h"
#include "verdict.h"
#include "wire.h"

/* Connecting, TLS and the registration's answer, together (seconds). */
#define NAT_CONNECT_TIMEOUT 10

enum nstate { NS_WAIT, NS_CONNECTING, NS_REGISTERING, NS_ONLINE };

struct nsess {
	struct ecad_nat *n;
	char host[256], port[32]; /* the broker's address */
	struct bufferevent *bev;
	struct event *timer;
	enum nstate state;
	unsigned attempts;    /* failures since the last registration */
	int64_t last_pong_ms; /* monotonic */
	struct eca_broker_state st;
	pthread_t enroll_thread; /* a remote enrollment running */
	int enrolling;
	struct nenroll *job; /* its request, until enroll_done_cb */
	/* For GET /metrics, read from another thread. */
	atomic_int up;		  /* st.online */
	atomic_ullong reconnects; /* sessions lost */
};

/* A remote enrollment asked over session s, and its answer. */
struct nenroll {
	struct nsess *s;
	int64_t id;
	char *answer; /* JSON text */
};

struct ecad_nat {
	struct ecad *d;
	struct event_base *base;
	struct event *stop_ev;
	pthread_t thread;
	int started;
	struct nsess *sess;
	size_t nsess;
};

static void session_connect(struct nsess *s);

static void
save_state(struct nsess *s)
{
	struct eca_err e;

	s->st.updated = time(NULL);
	eca_err_clear(&e);
	if (eca_broker_state_save(s->n->d->cfg->state_dir, &s->st, &e) != 0)
		log_warn("broker session with %s: %s", s->st.primary, e.msg);
}

static void
arm(struct nsess *s, int64_t ms)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(s->timer, &tv);
}

/* The session is dead: close it, record why, retry after the backoff. */
static void session_fail(struct nsess *s, int code, const char *fmt, ...)
    ECA_PRINTF(3, 4);
static void
session_fail(struct nsess *s, int code, const char *fmt, ...)
{
	uint32_t rnd = 0;
	int64_t wait;
	va_list ap;

	if (s->bev != NULL)
		bufferevent_free(s->bev);
	s->bev = NULL;
	va_start(ap, fmt);
	vsnprintf(s->st.error, sizeof(s->st.error), fmt, ap);
	va_end(ap);
	s->st.code = code;
	if (s->st.online)
		atomic_fetch_add(&s->reconnects, 1);
	s->st.online = 0;
	atomic_store(&s->up, 0);
	s->attempts++;
	(void)RAND_bytes((unsigned char *)&rnd, sizeof(rnd));
	wait = eca_broker_backoff_ms(s->attempts, rnd);
	s->st.next_retry = time(NULL) + (wait + 999) / 1000;
	s->state = NS_WAIT;
	log_warn("broker session with %s (%s): %s: %s; retry in %lld ms",
	    s->st.primary, s->st.address, eca_err_name(code), s->st.error,
	    (long long)wait);
	save_state(s);
	evtimer_del(s->timer);
	arm(s, wait);
}

static void
send_msg(struct nsess *s, enum eca_broker_op op)
{
	const struct eca_config *cfg = s->n->d->cfg;
	struct eca_broker_msg m;
	unsigned char *buf = NULL;
	size_t len = 0;
	struct eca_err e;

	memset(&m, 0, sizeof(m));
	m.op = op;
	snprintf(m.host, sizeof(m.host), "%s", cfg->client_name);
	m.role = cfg->role;
	m.nat = 1;
	m.heartbeat = cfg->broker_heartbeat_seconds;
	eca_err_clear(&e);
	if (eca_broker_encode(&m, &buf, &len, &e) != 0 ||
	    bufferevent_write(s->bev, buf, len) != 0)
		session_fail(s, ECA_ERR_NOMEM, "cannot send to the broker");
	free(buf);
}

/* TLS is up: is this the primary?  Then register. */
static void
on_connected(struct nsess *s)
{
	struct ecad_snap *snap = ecad_snap_get(s->n->d);
	struct eca_verdict_input vin;
	struct eca_cert_check cc;
	STACK_OF(X509) *chain = NULL;
	X509 *leaf = NULL;
	struct eca_err e;
	int r;

	eca_err_clear(&e);
	memset(&cc, 0, sizeof(cc));
	r = eca_tls_peer_chain(bufferevent_openssl_get_ssl(s->bev), &leaf,
	    &chain, &e);
	/* Credentials gone by a reload: nothing to judge the primary with. */
	if (r == 0 && snap->host == NULL)
		r = eca_err_set(&e, ECA_ERR_NO_CLIENT_CERT,
		    "this host has no certificate configured any more");
	if (r == 0) {
		memset(&vin, 0, sizeof(vin));
		vin.policy = &snap->host->policy;
		vin.leaf = leaf;
		vin.chain = chain;
		vin.expected_host = s->st.primary;
		vin.primary = s->st.primary;
		vin.purpose = ECA_PURPOSE_CONTROL;
		if ((r = eca_verdict_check_cert(&vin, &cc)) != 0)
			e = cc.err;
	}
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
	ecad_snap_put(snap);
	if (r != 0) {
		session_fail(s, r, "the broker is not %s: %s", s->st.primary,
		    e.msg);
		return;
	}
	s->state = NS_REGISTERING;
	send_msg(s, ECA_BROKER_REGISTER);
}

static void
on_registered(struct nsess *s)
{
	int64_t hb = (int64_t)s->n->d->cfg->broker_heartbeat_seconds * 1000;

	s->state = NS_ONLINE;
	s->attempts = 0;
	s->last_pong_ms = eca_util_mono_ms();
	s->st.online = 1;
	atomic_store(&s->up, 1);
	s->st.since = s->st.last_heartbeat = time(NULL);
	s->st.code = 0;
	s->st.error[0] = '\0';
	s->st.next_retry = 0;
	log_info("broker session with %s (%s): registered, heartbeat %lld s",
	    s->st.primary, s->st.address, (long long)(hb / 1000));
	save_state(s);
	evtimer_del(s->timer);
	arm(s, hb);
}

/* Send ENROLLED for id with answer (JSON text). */
static void
send_enrolled(struct nsess *s, int64_t id, char *answer)
{
	struct eca_broker_msg m;
	unsigned char *buf = NULL;
	size_t len = 0;
	struct eca_err e;

	memset(&m, 0, sizeof(m));
	m.op = ECA_BROKER_ENROLLED;
	m.id = id;
	m.answer = answer;
	eca_err_clear(&e);
	if (eca_broker_encode(&m, &buf, &len, &e) != 0 ||
	    bufferevent_write(s->bev, buf, len) != 0)
		log_warn("broker %s: cannot send the remote enrollment's "
			 "answer: %s",
		    s->st.primary, e.code != 0 ? e.msg : "out of memory");
	free(buf);
}

/* Back on the session's thread: the answer goes to the primary. */
static void
enroll_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct nenroll *job = arg;
	struct nsess *s = job->s;

	(void)fd;
	(void)what;
	pthread_join(s->enroll_thread, NULL);
	s->enrolling = 0;
	s->job = NULL;
	if (s->bev != NULL && s->state == NS_ONLINE && job->answer != NULL)
		send_enrolled(s, job->id, job->answer);
	else
		log_warn("broker %s: the remote enrollment's answer is lost "
			 "(session closed meanwhile): the primary retries",
		    s->st.primary);
	free(job->answer);
	free(job);
}

/* The remote enrollment's own thread: enroll, then hand the answer back. */
static void *
enroll_main(void *arg)
{
	struct nenroll *job = arg;
	struct nsess *s = job->s;
	struct ecad_snap *snap;
	struct eca_domain *dom;
	char via[400];
	json_t *j;

	ecad_thread_name("ecad-nat-enroll");
	snap = ecad_snap_get(s->n->d);
	dom = snap->host != NULL ? eca_host_domain(snap->host, s->st.primary) :
				   NULL;
	snprintf(via, sizeof(via), "through its broker session, %s",
	    s->st.address);
	j = ecad_enroll_self(snap, dom, s->st.primary, via);
	job->answer = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	ecad_snap_put(snap);
	event_base_once(s->n->base, -1, EV_TIMEOUT, enroll_done_cb, job, NULL);
	return NULL;
}

/* The primary asks for this host's enrollment (op "enroll"). */
static void
on_enroll(struct nsess *s, int64_t id)
{
	struct nenroll *job;
	sigset_t all, old;
	char *text;
	json_t *j;
	int e = -1;

	log_info("broker %s: remote enrollment %lld asked by the primary",
	    s->st.primary, (long long)id);
	if (s->enrolling) {
		j = eca_wire_error(ECA_ERR_BUSY,
		    "a remote enrollment of this host is running: retry");
		if ((text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL) !=
		    NULL)
			send_enrolled(s, id, text);
		free(text);
		json_decref(j);
		return;
	}
	if ((job = calloc(1, sizeof(*job))) != NULL) {
		job->s = s;
		job->id = id;
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		e = pthread_create(&s->enroll_thread, NULL, enroll_main, job);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (e != 0) {
		free(job);
		log_warn("broker %s: cannot start the remote enrollment",
		    s->st.primary);
		return;
	}
	s->enrolling = 1;
	s->job = job;
}

/* One frame from the broker; 0 to read on. */
static int
on_frame(struct nsess *s, const unsigned char *p, size_t len)
{
	struct eca_broker_msg m;
	struct eca_err e;

	eca_err_clear(&e);
	if (eca_broker_parse(p, len, &m, &e) != 0) {
		session_fail(s, ECA_ERR_PROTOCOL, "%s", e.msg);
		return -1;
	}
	if (m.op == ECA_BROKER_REFUSED) {
		session_fail(s, m.code, "refused by the broker: %s", m.message);
		return -1;
	}
	if (s->state == NS_REGISTERING && m.op == ECA_BROKER_REGISTERED) {
		on_registered(s);
		return 0;
	}
	if (s->state == NS_ONLINE && m.op == ECA_BROKER_CONNECT) {
		/*
		 * Both ends are NAT hosts: meet at the relay, the broker.
		 * Else the relay is where to go when the call back fails.
		 */
		snprintf(m.broker, sizeof(m.broker), "%s", s->st.address);
		if (m.relay)
			snprintf(m.address, sizeof(m.address), "%s",
			    s->st.address);
		log_info(
		    "broker %s: reverse connection asked by %s (%s) to %s%s",
		    s->st.primary, m.requester, eca_purpose_name(m.purpose),
		    m.address, m.relay ? " (the relay)" : "");
		if (peer_reverse(s->n->d, &m) != 0)
			log_warn("broker %s: cannot start the reverse "
				 "connection to %s",
			    s->st.primary, m.address);
		return 0;
	}
	if (s->state == NS_ONLINE && m.op == ECA_BROKER_ENROLL) {
		on_enroll(s, m.id);
		return 0;
	}
	if (s->state == NS_ONLINE && m.op == ECA_BROKER_PONG) {
		s->last_pong_ms = eca_util_mono_ms();
		s->st.last_heartbeat = time(NULL);
		save_state(s);
		return 0;
	}
	session_fail(s, ECA_ERR_PROTOCOL, "unexpected message from the broker");
	return -1;
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct nsess *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	unsigned char *p;
	size_t flen;
	int r;

	while (s->bev != NULL && evbuffer_get_length(in) >= 4) {
		if ((p = evbuffer_pullup(in, 4)) == NULL)
			return;
		r = eca_channel_frame_need(p, evbuffer_get_length(in), &flen);
		if (r == 1)
			return;
		if (r != 0) {
			session_fail(s, r, "bad frame from the broker");
			return;
		}
		if ((p = evbuffer_pullup(in, (ssize_t)flen)) == NULL ||
		    on_frame(s, p + 4, flen - 4) != 0)
			return;
		evbuffer_drain(in, flen);
	}
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct nsess *s = arg;
	unsigned long ssl_err;
	char buf[256];

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		on_connected(s);
		return;
	}
	if (what & BEV_EVENT_EOF)
		session_fail(s, ECA_ERR_UNREACHABLE,
		    "the broker closed the session");
	else if (what & BEV_EVENT_ERROR) {
		ssl_err = bufferevent_get_openssl_error(s->bev);
		if (ssl_err != 0)
			ERR_error_string_n(ssl_err, buf, sizeof(buf));
		else
			snprintf(buf, sizeof(buf), "%s",
			    evutil_socket_error_to_string(
				EVUTIL_SOCKET_ERROR()));
		session_fail(s, ECA_ERR_UNREACHABLE,
		    "cannot reach the "
		    "broker: %s",
		    buf);
	}
}

/* Retry, connect deadline, or the heartbeat. */
static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct nsess *s = arg;
	int64_t hb = (int64_t)s->n->d->cfg->broker_heartbeat_seconds * 1000;

	(void)fd;
	(void)what;
	switch (s->state) {
	case NS_WAIT:
		session_connect(s);
		return;
	case NS_CONNECTING:
	case NS_REGISTERING:
		session_fail(s, ECA_ERR_TIMEOUT, "no registration within %d s",
		    NAT_CONNECT_TIMEOUT);
		return;
	case NS_ONLINE:
		if (eca_util_mono_ms() - s->last_pong_ms >
		    hb * ECA_BROKER_MISSES) {
			session_fail(s, ECA_ERR_TIMEOUT,
			    "no answer to %d heartbeats", ECA_BROKER_MISSES);
			return;
		}
		send_msg(s, ECA_BROKER_PING);
		if (s->state == NS_ONLINE)
			arm(s, hb);
		return;
	}
}

/* A TLS client of this host's current credentials; NULL with e set. */
static SSL *
new_ssl(struct nsess *s, struct eca_err *e)
{
	struct ecad_snap *snap = ecad_snap_get(s->n->d);
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;

	if (snap->cred == NULL)
		eca_err_set(e, ECA_ERR_NO_CLIENT_CERT,
		    "a NAT host needs its certificate (ECA_CERT_PATH, "
		    "ECA_PRIVATE_KEY_PATH)");
	else if (eca_tls_client_ctx(NULL, snap->cred, &ctx, e) == 0) {
		/* The primary is judged by on_connected, once. */
		eca_tls_ctx_defer_verify(ctx);
		if ((ssl = SSL_new(ctx)) == NULL)
			eca_err_set(e, ECA_ERR_NOMEM, "out of memory");
		else
			SSL_set_tlsext_host_name(ssl, s->host);
	}
	SSL_CTX_free(ctx);
	ecad_snap_put(snap);
	return ssl;
}

static void
session_connect(struct nsess *s)
{
	struct addrinfo hints, *res = NULL;
	struct eca_err e;
	SSL *ssl;
	int gr;

	eca_err_clear(&e);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((gr = getaddrinfo(s->host, s->port, &hints, &res)) != 0) {
		session_fail(s, ECA_ERR_UNREACHABLE, "cannot resolve %s: %s",
		    s->host, gai_strerror(gr));
		return;
	}
	if ((ssl = new_ssl(s, &e)) == NULL) {
		freeaddrinfo(res);
		session_fail(s, e.code, "%s", e.msg);
		return;
	}
	s->bev = bufferevent_openssl_socket_new(s->n->base, -1, ssl,
	    BUFFEREVENT_SSL_CONNECTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (s->bev == NULL) {
		SSL_free(ssl);
		freeaddrinfo(res);
		session_fail(s, ECA_ERR_NOMEM, "out of memory");
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
	bufferevent_setcb(s->bev, read_cb, NULL, event_cb, s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	s->state = NS_CONNECTING;
	arm(s, NAT_CONNECT_TIMEOUT * 1000);
	gr = bufferevent_socket_connect(s->bev, res->ai_addr,
	    (int)res->ai_addrlen);
	freeaddrinfo(res);
	if (gr != 0)
		session_fail(s, ECA_ERR_UNREACHABLE, "cannot connect to %s:%s",
		    s->host, s->port);
}

static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(((struct ecad_nat *)arg)->base);
}

static void *
thread_main(void *arg)
{
	ecad_thread_name("ecad-nat");
	event_base_dispatch(((struct ecad_nat *)arg)->base);
	return NULL;
}

static void
nat_free(struct ecad_nat *n)
{
	size_t i;

	if (n == NULL)
		return;
	for (i = 0; i < n->nsess; i++) {
		if (n->sess[i].enrolling) {
			/* Stopped before enroll_done_cb ran: it never will. */
			pthread_join(n->sess[i].enroll_thread, NULL);
			free(n->sess[i].job->answer);
			free(n->sess[i].job);
		}
		if (n->sess[i].bev != NULL)
			bufferevent_free(n->sess[i].bev);
		if (n->sess[i].timer != NULL)
			event_free(n->sess[i].timer);
	}
	free(n->sess);
	if (n->stop_ev != NULL)
		event_free(n->stop_ev);
	if (n->base != NULL)
		event_base_free(n->base);
	free(n);
}

/* Session i: SERVER i's host, at BROKER_LISTEN's port. */
static int
session_init(struct ecad_nat *n, size_t i)
{
	const struct eca_config *cfg = n->d->cfg;
	const struct eca_endpoint *srv = &cfg->servers[i];
	struct nsess *s = &n->sess[i];

	s->n = n;
	snprintf(s->host, sizeof(s->host), "%s",
	    srv->host != NULL ? srv->host : srv->name);
	snprintf(s->port, sizeof(s->port), "%s",
	    cfg->broker_listen.port != NULL ? cfg->broker_listen.port :
					      ECA_DEFAULT_BROKER_PORT);
	snprintf(s->st.primary, sizeof(s->st.primary), "%s", srv->name);
	snprintf(s->st.address, sizeof(s->st.address),
	    strchr(s->host, ':') != NULL ? "[%s]:%s" : "%s:%s", s->host,
	    s->port);
	s->state = NS_WAIT;
	if ((s->timer = evtimer_new(n->base, timer_cb, s)) == NULL)
		return -1;
	arm(s, 0);
	return 0;
}

int
nat_start(struct ecad *d, struct eca_err *err)
{
	struct ecad_nat *n;
	sigset_t all, old;
	size_t i;
	int e;

	if (!d->cfg->nat_client || d->cfg->nservers == 0)
		return 0;
	if ((n = calloc(1, sizeof(*n))) == NULL ||
	    (n->sess = calloc(d->cfg->nservers, sizeof(*n->sess))) == NULL ||
	    (n->base = event_base_new()) == NULL ||
	    (n->stop_ev = event_new(n->base, -1, 0, stop_cb, n)) == NULL) {
		nat_free(n);
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory starting the broker sessions");
	}
	n->d = d;
	n->nsess = d->cfg->nservers;
	for (i = 0; i < n->nsess; i++)
		if (session_init(n, i) != 0) {
			nat_free(n);
			return eca_err_set(err, ECA_ERR_NOMEM,
			    "out of memory starting the broker sessions");
		}
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	e = pthread_create(&n->thread, NULL, thread_main, n);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		nat_free(n);
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot start the broker sessions: %s", strerror(e));
	}
	n->started = 1;
	d->nat = n;
	log_info("NAT host: no peer listener; broker sessions with %zu "
		 "primar%s",
	    n->nsess, n->nsess == 1 ? "y" : "ies");
	return 0;
}

size_t
nat_metrics(struct ecad *d, struct eca_metrics_nat *out, size_t max)
{
	struct ecad_nat *n = d->nat;
	size_t i;

	for (i = 0; n != NULL && i < n->nsess && i < max; i++) {
		out[i].primary = n->sess[i].st.primary;
		out[i].online = atomic_load(&n->sess[i].up);
		out[i].reconnects = atomic_load(&n->sess[i].reconnects);
	}
	return i;
}

void
nat_stop(struct ecad *d)
{
	struct ecad_nat *n = d->nat;

	if (n == NULL)
		return;
	if (n->started) {
		event_active(n->stop_ev, EV_READ, 0);
		pthread_join(n->thread, NULL);
	}
	nat_free(n);
	d->nat = NULL;
}
