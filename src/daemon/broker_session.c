/* SPDX-License-Identifier: ISC */
/*
 * broker_session.c - one NAT host's session with the primary's broker
 * (docs/nat.md), on the broker's I/O thread: TLS, the registration and
 * its judging (eca_judge_peer, on the judge thread), heartbeats and
 * dead-peer detection, and the messages the primary sends over it
 * (broker_post).
 *
 * A session whose NAT host says nothing for ECA_BROKER_MISSES heartbeats
 * (its announced interval) is closed and the host is offline.
 *
 * A NAT host whose certificate passes but that is not enrolled (the judge
 * says NOT_ENROLLED) gets a restricted session: it is online, it can be
 * asked to enroll (`eca enroll --remote-host`, broker_enroll.c), but no
 * reverse connection to it is brokered.  Once it has answered such a
 * request the session is closed, so that it registers and is judged
 * again.  Any other refusal gets no session.
 */
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "broker_impl.h"
#include "channel.h"
#include "judge.h"
#include "log.h"
#include "tls.h"
#include "util.h"

/* Judged: drop what only the judge needed. */
static void
sess_judged(struct bsess *s)
{
	X509_free(s->leaf);
	sk_X509_pop_free(s->chain, X509_free);
	free(s->msg);
	s->leaf = NULL;
	s->chain = NULL;
	s->msg = NULL;
}

void
broker_sess_free(struct bsess *s)
{
	struct ecad_broker *b = s->b;

	if (s->bev != NULL)
		bufferevent_free(s->bev);
	s->bev = NULL;
	if (s->state == BS_JUDGING) {
		s->dead = 1; /* judged_cb frees it */
		return;
	}
	if (s->entry != NULL) {
		pthread_mutex_lock(&b->lock);
		if (s->entry->sess == s) {
			s->entry->sess = NULL;
			b->n_online--;
			b->n_restricted_online -= s->restricted ? 1 : 0;
			s->entry->restricted = 0;
		}
		broker_enroll_gone(b, s->host);
		pthread_mutex_unlock(&b->lock);
		log_info("broker: NAT host %s (%s) is offline", s->host,
		    s->addr);
	}
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		b->conns = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	b->nconns--;
	if (s->timer != NULL)
		event_free(s->timer);
	if (s->judged_ev != NULL)
		event_free(s->judged_ev);
	sess_judged(s);
	free(s);
}

int
broker_sess_send(struct bsess *s, const struct eca_broker_msg *m)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	struct eca_err e;
	int r;

	eca_err_clear(&e);
	if ((r = eca_broker_encode(m, &buf, &len, &e)) != 0 ||
	    bufferevent_write(s->bev, buf, len) != 0) {
		log_error("broker %s: cannot send a message: %s", s->addr,
		    r != 0 ? e.msg : "out of memory");
		free(buf);
		broker_sess_free(s);
		return -1;
	}
	free(buf);
	return 0;
}

/*
 * Refuse with code and message, then close once it is out: 1, or -1 when
 * the session is already gone.
 */
static int
sess_refuse(struct bsess *s, int code, const char *msg)
{
	struct eca_broker_msg m;
	struct timeval tv = {2, 0};

	broker_count(s->b, &s->b->n_refused, 1);
	log_warn("broker: refused %s (%s): %s: %s",
	    s->host[0] != '\0' ? s->host : "?", s->addr, eca_err_name(code),
	    msg);
	memset(&m, 0, sizeof(m));
	m.op = ECA_BROKER_REFUSED;
	m.code = code;
	snprintf(m.message, sizeof(m.message), "%s", msg);
	if (broker_sess_send(s, &m) != 0)
		return -1;
	s->state = BS_CLOSING;
	evtimer_add(s->timer, &tv);
	return 1;
}

static void
queue_judge(struct bsess *s)
{
	struct ecad_broker *b = s->b;

	s->state = BS_JUDGING;
	evtimer_del(s->timer);
	bufferevent_disable(s->bev, EV_READ);
	pthread_mutex_lock(&b->lock);
	s->qnext = NULL;
	if (b->qtail != NULL)
		b->qtail->qnext = s;
	else
		b->qhead = s;
	b->qtail = s;
	pthread_cond_signal(&b->work);
	pthread_mutex_unlock(&b->lock);
}

/* The registration is in: take the chain and judge it (1, or -1 gone). */
static int
on_register(struct bsess *s, const struct eca_broker_msg *m)
{
	struct eca_err e;
	int r;

	snprintf(s->host, sizeof(s->host), "%s", m->host);
	s->role = m->role;
	s->heartbeat = m->heartbeat;
	if (!m->nat)
		return sess_refuse(s, ECA_ERR_FORBIDDEN,
		    "only NAT hosts (NAT_CLIENT = YES) keep a broker session; "
		    "other hosts are reached directly");
	eca_err_clear(&e);
	r = eca_tls_peer_chain(bufferevent_openssl_get_ssl(s->bev), &s->leaf,
	    &s->chain, &e);
	if (r != 0 && !(r == ECA_ERR_NO_CLIENT_CERT && s->leaf == NULL))
		return sess_refuse(s, r, e.msg);
	queue_judge(s);
	return 1;
}

/*
 * A heartbeat or the registration: 0 to read on, 1 to stop reading (the
 * frame is done with), -1 when the session is gone.
 */
static int
on_frame(struct bsess *s, const unsigned char *p, size_t len)
{
	struct eca_broker_msg m, pong;
	struct eca_err e;
	char text[ECA_ERR_MSG_MAX + 64];

	eca_err_clear(&e);
	if (eca_broker_parse(p, len, &m, &e) != 0) {
		snprintf(text, sizeof(text), "malformed broker message: %s",
		    e.msg);
		return sess_refuse(s, ECA_ERR_PROTOCOL, text);
	}
	s->last_ms = eca_util_mono_ms();
	if (s->state == BS_REGISTER && m.op == ECA_BROKER_REGISTER)
		return on_register(s, &m);
	if (s->state == BS_ONLINE && m.op == ECA_BROKER_ENROLLED)
		return broker_on_enrolled(s, &m);
	if (s->state == BS_ONLINE && m.op == ECA_BROKER_PING) {
		pthread_mutex_lock(&s->b->lock);
		s->entry->last_heartbeat = time(NULL);
		pthread_mutex_unlock(&s->b->lock);
		memset(&pong, 0, sizeof(pong));
		pong.op = ECA_BROKER_PONG;
		return broker_sess_send(s, &pong);
	}
	return sess_refuse(s, ECA_ERR_PROTOCOL,
	    s->state == BS_REGISTER ? "the first broker message must be "
				      "a registration" :
				      "unexpected broker message");
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct bsess *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	unsigned char *p;
	size_t flen;
	int r;

	while (s->state == BS_REGISTER || s->state == BS_ONLINE) {
		if (evbuffer_get_length(in) < 4 ||
		    (p = evbuffer_pullup(in, 4)) == NULL)
			return;
		r = eca_channel_frame_need(p, evbuffer_get_length(in), &flen);
		if (r == 1)
			return;
		if (r != 0) {
			(void)sess_refuse(s, r, "bad broker frame");
			return;
		}
		if ((p = evbuffer_pullup(in, (ssize_t)flen)) == NULL)
			return;
		if ((r = on_frame(s, p + 4, flen - 4)) < 0)
			return;
		evbuffer_drain(in, flen);
		if (r > 0)
			return;
	}
	if (s->state == BS_CLOSING)
		evbuffer_drain(in, evbuffer_get_length(in));
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct bsess *s = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		s->state = BS_REGISTER;
		read_cb(s->bev, s);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		broker_sess_free(s);
}

/* The registration's deadline, then every heartbeat interval. */
static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bsess *s = arg;
	int64_t silent;

	(void)fd;
	(void)what;
	if (s->state != BS_ONLINE) {
		if (s->state != BS_CLOSING)
			log_info("broker: %s did not register in time",
			    s->addr);
		broker_sess_free(s);
		return;
	}
	silent = eca_util_mono_ms() - s->last_ms;
	if (silent > (int64_t)s->heartbeat * ECA_BROKER_MISSES * 1000) {
		log_warn("broker: NAT host %s (%s) missed %d heartbeats (%lld "
			 "ms silent): session closed",
		    s->host, s->addr, ECA_BROKER_MISSES, (long long)silent);
		broker_count(s->b, &s->b->n_dead, 1);
		broker_sess_free(s);
	}
}

/* The NAT host passed: it is online (a session it had before is closed). */
static void
go_online(struct bsess *s)
{
	struct ecad_broker *b = s->b;
	struct bsess *old = NULL;
	struct eca_broker_msg m;
	struct bentry *e;
	struct timeval tv;

	pthread_mutex_lock(&b->lock);
	if ((e = broker_entry_get(b, s->host)) != NULL) {
		old = e->sess;
		e->sess = s;
		b->n_registered++;
		if (old == NULL)
			b->n_online++;
		else
			b->n_restricted_online -= old->restricted ? 1 : 0;
		b->n_restricted_online += s->restricted ? 1 : 0;
		e->restricted = s->restricted;
		e->since = e->last_heartbeat = time(NULL);
		snprintf(e->addr, sizeof(e->addr), "%s", s->addr);
	}
	pthread_mutex_unlock(&b->lock);
	if (e == NULL) {
		(void)sess_refuse(s, ECA_ERR_NOMEM,
		    "the broker is out of memory");
		return;
	}
	if (old != NULL) {
		old->entry = NULL; /* replaced, not offline */
		broker_sess_free(old);
	}
	s->entry = e;
	s->state = BS_ONLINE;
	s->last_ms = eca_util_mono_ms();
	memset(&m, 0, sizeof(m));
	m.op = ECA_BROKER_REGISTERED;
	if (broker_sess_send(s, &m) != 0)
		return;
	log_info("broker: NAT host %s (%s) is online%s, heartbeat %d s",
	    s->host, s->addr,
	    s->restricted ? " (restricted: not enrolled)" : "", s->heartbeat);
	tv.tv_sec = s->heartbeat;
	tv.tv_usec = 0;
	event_del(s->timer);
	event_assign(s->timer, b->base, -1, EV_PERSIST, timer_cb, s);
	evtimer_add(s->timer, &tv);
	bufferevent_enable(s->bev, EV_READ);
	read_cb(s->bev, s);
}

/*
 * An enrolled host whose registry record lacks the NAT flag (enrolled
 * before it was configured as a NAT host, say) registered a session: the
 * primary now knows it is one, so the registry says so and the roster
 * carries it to every host, which then never enroll automatically for a
 * communication with it.  A detached writer job (ECA_OP_MARK_NAT, which
 * checks the record again): nobody waits, and when it cannot be queued
 * the next registration asks again.
 */
static void
mark_nat(struct bsess *s)
{
	struct ecad *d = s->b->d;
	struct ecad_job *job;
	struct eca_op *op;
	struct eca_err e;

	if (d->writer == NULL)
		return;
	if ((job = calloc(1, sizeof(*job))) == NULL)
		return;
	op = &job->op;
	op->type = ECA_OP_MARK_NAT;
	snprintf(op->req.primary, sizeof(op->req.primary), "%s",
	    d->cfg->client_name);
	snprintf(op->req.host, sizeof(op->req.host), "%s", s->host);
	snprintf(op->req.source, sizeof(op->req.source), "%.*s",
	    (int)sizeof(op->req.source) - 1, s->addr);
	snprintf(op->actor, sizeof(op->actor), "broker");
	op->req.now = (int64_t)time(NULL);
	eca_err_clear(&e);
	if (eca_x509_info(s->leaf, &op->req.cert, &e) != 0 ||
	    writer_submit(d->writer, job) != 0) {
		log_warn("broker: cannot mark %s as a NAT host in the registry "
			 "now (%s); its next registration asks again",
		    s->host, e.msg[0] != '\0' ? e.msg : "the writer is busy");
		eca_op_clear(op);
		free(job);
	}
}

/* The judge is done (on the I/O thread). */
static void
judged_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bsess *s = arg;
	const char *msg;
	int r;

	(void)fd;
	(void)what;
	s->state = BS_CLOSING; /* no judge holds it any more */
	if (s->dead) {
		broker_sess_free(s);
		return;
	}
	msg = s->msg != NULL ? s->msg : "out of memory judging the caller";
	if (s->code == ECA_ERR_NOT_ENROLLED) {
		/* Certificate and identity passed: it may be enrolled. */
		log_info("broker: %s (%s) is not enrolled: restricted session "
			 "(%s)",
		    s->host, s->addr, msg);
		s->restricted = 1;
	} else if (s->code != 0) {
		r = sess_refuse(s, s->code, msg);
		if (r > 0)
			sess_judged(s);
		return;
	}
	if (s->mark_nat)
		mark_nat(s);
	sess_judged(s);
	go_online(s);
}

/*
 * Judge a registration as a channel's caller is judged (eca_judge_peer)
 * in this primary's own domain: its certificate, then its enrollment; a
 * roster that must be synced first is synced here, then judged again.
 */
static void
judge_one(struct ecad *d, struct bsess *s)
{
	struct ecad_snap *snap = ecad_snap_get(d);
	struct eca_judge_result *res;
	struct eca_judge_input in;
	struct eca_err e;
	int r;

	memset(&in, 0, sizeof(in));
	s->code = ECA_ERR_NOMEM;
	if ((res = malloc(sizeof(*res))) == NULL)
		goto out;
	in.side = ECA_JUDGE_ACCEPTING;
	in.h = snap->host;
	in.d = snap->host != NULL ?
	    eca_host_domain(snap->host, snap->cfg->client_name) :
	    NULL;
	in.primary = snap->cfg->client_name;
	in.peer = s->host;
	in.leaf = s->leaf;
	in.chain = s->chain;
	in.purpose = ECA_PURPOSE_CONTROL;
	in.peer_side.role = s->role;
	in.peer_side.has_cert = s->leaf != NULL;
	in.peer_side.nat = 1;
	in.has_autoenroll = 1; /* a NAT host never enrolls automatically */
	eca_judge_init(res);
	if ((r = eca_judge_peer(&in, res)) == ECA_JUDGE_NEED_SYNC) {
		eca_err_clear(&e);
		if (eca_domain_refresh(in.h, in.d, in.peer, 0, &e) != 0)
			log_warn("broker: roster sync for %s failed: %s",
			    in.peer, e.msg);
		in.resumed = 1;
		r = eca_judge_peer(&in, res);
	}
	s->code = r;
	s->mark_nat = r == 0 && !res->roster_nat;
	s->msg = strdup(res->verdict.message); /* NULL: judged_cb says */
	free(res);
out:
	ecad_snap_put(snap);
}

void *
broker_judge_main(void *arg)
{
	struct ecad_broker *b = arg;
	struct bsess *s;

	ecad_thread_name("ecad-broker-jdg");
	for (;;) {
		pthread_mutex_lock(&b->lock);
		while (!b->stopping && b->qhead == NULL)
			pthread_cond_wait(&b->work, &b->lock);
		if (b->stopping) {
			pthread_mutex_unlock(&b->lock);
			break;
		}
		s = b->qhead;
		if ((b->qhead = s->qnext) == NULL)
			b->qtail = NULL;
		pthread_mutex_unlock(&b->lock);
		judge_one(b->d, s);
		event_active(s->judged_ev, EV_TIMEOUT, 0);
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Setting a session up (accept_cb, broker_serve.c).                  */

static void
sess_addr(struct bsess *s, const struct sockaddr *sa, int salen)
{
	char host[NI_MAXHOST], port[NI_MAXSERV];

	int n;

	if (getnameinfo(sa, (socklen_t)salen, host, sizeof(host), port,
		sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		n = snprintf(s->addr, sizeof(s->addr), "?");
	else if (sa->sa_family == AF_INET6)
		n = snprintf(s->addr, sizeof(s->addr), "[%s]:%s", host, port);
	else
		n = snprintf(s->addr, sizeof(s->addr), "%s:%s", host, port);
	if (n < 0 || (size_t)n >= sizeof(s->addr))
		snprintf(s->addr, sizeof(s->addr), "?");
}

int
broker_sess_new(struct ecad_broker *b, evutil_socket_t fd,
    const struct sockaddr *sa, int salen)
{
	struct timeval tv = {b->d->cfg->request_timeout, 0};
	struct ecad_snap *snap;
	struct bsess *s;
	SSL *ssl;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -1;
	s->b = b;
	sess_addr(s, sa, salen);
	if ((s->timer = evtimer_new(b->base, timer_cb, s)) == NULL ||
	    (s->judged_ev = event_new(b->base, -1, 0, judged_cb, s)) == NULL)
		goto fail;
	snap = ecad_snap_get(b->d);
	ssl = snap->peer_ctx != NULL ? SSL_new(snap->peer_ctx) : NULL;
	ecad_snap_put(snap);
	if (ssl == NULL)
		goto fail;
	/*
	 * An idle session's TLS read and write buffers (about 33 KiB) go
	 * back between records: a heartbeat every few seconds is all it has.
	 */
	SSL_set_mode(ssl, SSL_MODE_RELEASE_BUFFERS);
	s->bev = bufferevent_openssl_socket_new(b->base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (s->bev == NULL) {
		SSL_free(ssl);
		goto fail;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
	bufferevent_setcb(s->bev, read_cb, NULL, event_cb, s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, BROKER_READ_MAX);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	evtimer_add(s->timer, &tv);
	s->state = BS_TLS;
	s->next = b->conns;
	if (b->conns != NULL)
		b->conns->prev = s;
	b->conns = s;
	b->nconns++;
	return 0;
fail:
	if (s->timer != NULL)
		event_free(s->timer);
	if (s->judged_ev != NULL)
		event_free(s->judged_ev);
	free(s);
	return -1;
}

/* ------------------------------------------------------------------ */
/* Messages from other threads to a session.                           */

/* On the I/O thread: send the message over its NAT host's session. */
static void
post_cb(evutil_socket_t fd, short what, void *arg)
{
	struct broker_post *bp = arg;
	struct ecad_broker *b = bp->b;
	struct bentry *e;
	struct bsess *s;
	int online;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&b->lock);
	e = broker_entry_find(b, bp->m.host);
	s = e != NULL ? e->sess : NULL;
	online = s != NULL && s->state == BS_ONLINE;
	if (!online && bp->m.op == ECA_BROKER_ENROLL)
		broker_enroll_gone(b, bp->m.host);
	pthread_mutex_unlock(&b->lock);
	/* Gone meanwhile: a reverse connection's requester times out. */
	if (online)
		(void)broker_sess_send(s, &bp->m);
	free(bp);
}

int
broker_post(struct ecad_broker *b, const struct eca_broker_msg *m,
    struct eca_err *err)
{
	struct timeval now = {0, 0};
	struct broker_post *bp;

	if ((bp = calloc(1, sizeof(*bp))) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
	bp->b = b;
	bp->m = *m;
	bp->m.answer = NULL; /* only ENROLLED carries one, never posted */
	if (event_base_once(b->base, -1, EV_TIMEOUT, post_cb, bp, &now) != 0) {
		free(bp);
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "cannot queue a message to %s's broker session", m->host);
	}
	return 0;
}
