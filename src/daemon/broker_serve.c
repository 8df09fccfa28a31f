/* SPDX-License-Identifier: ISC */
/*
 * broker_serve.c - the primary's broker (docs/nat.md): NAT hosts' persistent
 * sessions on BROKER_LISTEN, and what the primary knows of each NAT host
 * (online since, last heartbeat, address) for GET /v1/enrollments.
 *
 * Threads, both owned here:
 * - one I/O thread with its event base: accept, TLS (bufferevent_openssl),
 *   the registration, heartbeats, dead-peer detection.  Nothing blocks.
 * - one judge thread: a registration is judged like a channel's caller,
 *   by eca_judge_peer (the one judging path) against this primary's own
 *   domain, which can block (a roster sync, a CRL download).
 *
 * A session whose NAT host says nothing for ECA_BROKER_MISSES heartbeats
 * (its announced interval) is closed and the host is offline.
 *
 * A NAT host whose certificate passes but that is not enrolled (the judge
 * says NOT_ENROLLED) gets a restricted session: it is online, it can be
 * asked to enroll (`eca enroll --remote-host`, broker_remote_enroll), but
 * no reverse connection to it is brokered.  Once it has answered such a
 * request the session is closed, so that it registers and is judged
 * again.  Any other refusal gets no session.
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
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
#include <jansson.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "broker.h"
#include "channel.h"
#include "ecad.h"
#include "judge.h"
#include "log.h"
#include "text.h"
#include "tls.h"
#include "util.h"

#define BROKER_READ_MAX (64 * 1024)

enum bstate { BS_TLS, BS_REGISTER, BS_JUDGING, BS_ONLINE, BS_CLOSING };

struct bentry; /* a NAT host the broker knows */

struct bsess {
	struct ecad_broker *b;
	struct bsess *prev, *next; /* b->conns */
	struct bsess *qnext;	   /* the judge's queue */
	struct bufferevent *bev;   /* NULL once closed */
	struct event *timer;	   /* registration deadline, then heartbeats */
	struct event *judged_ev;
	enum bstate state;
	int dead; /* closed while judging */
	char addr[NI_MAXHOST + NI_MAXSERV + 2];
	struct eca_broker_msg reg;
	X509 *leaf;
	STACK_OF(X509) *chain;
	int code; /* the verdict, 0 accepted */
	char msg[ECA_ERR_MSG_MAX];
	int64_t last_ms; /* the last frame from the host (monotonic) */
	struct bentry *entry;
	int restricted; /* not enrolled: remote enrollment only */
};

/*
 * A requester's reverse connection requests in the current second: at
 * most BROKER_RATE_MAX; BROKER_RATE_SLOTS requesters are tracked, the
 * stalest slot going to a new one.
 */
#define BROKER_RATE_MAX 20
#define BROKER_RATE_SLOTS 256
struct brate {
	char host[ECA_HOST_MAX];
	int64_t second;
	int count;
};

struct bentry {
	char host[ECA_HOST_MAX];
	struct bsess *sess; /* NULL: offline */
	int64_t since;	    /* unix seconds */
	int64_t last_heartbeat;
	char addr[NI_MAXHOST + NI_MAXSERV + 2];
	int restricted; /* its session is restricted */
};

/* The remote enrollment waiting for a NAT host's answer (under lock). */
struct benroll {
	int64_t id; /* 0: none waiting */
	char host[ECA_HOST_MAX];
	int done;
	int code;
	char msg[ECA_ERR_MSG_MAX];
	char *answer;
};

struct ecad_broker {
	struct ecad *d;
	struct event_base *base;
	int fds[ECAD_MAX_LISTEN];
	size_t nfds;
	struct evconnlistener *lis[ECAD_MAX_LISTEN];
	struct event *stop_ev;
	struct bsess *conns;
	size_t nconns;
	pthread_t thread, judge;
	int started, judge_started;
	pthread_mutex_t lock; /* the queue, stopping and the table */
	pthread_cond_t work;
	struct bsess *qhead, *qtail;
	int stopping;
	struct bentry *tab;
	size_t ntab, cap;
	/* Counters for GET /v1/stats (under lock). */
	uint64_t n_connections; /* accepted */
	uint64_t n_registered;	/* registrations accepted */
	uint64_t n_refused;	/* refusals sent */
	uint64_t n_dead;	/* sessions closed after missed heartbeats */
	uint64_t n_online;	/* NAT hosts online now */
	uint64_t n_requests;	/* reverse connection requests sent */
	uint64_t n_offline;	/* ... refused: the NAT host is offline */
	uint64_t n_limited;	/* ... refused: the requester's rate */
	uint64_t n_restricted;	/* ... refused: a restricted session */
	uint64_t n_restricted_online; /* restricted sessions now */
	/* Remote enrollment through a session (one at a time). */
	pthread_cond_t enrolled;
	struct benroll enroll;
	int64_t enroll_last_id;
	/* Reverse connection requests per requester (rate limit). */
	struct brate rates[BROKER_RATE_SLOTS];
};

/* Count one event (any thread). */
static void
count(struct ecad_broker *b, uint64_t *counter, int delta)
{
	pthread_mutex_lock(&b->lock);
	*counter += (uint64_t)(int64_t)delta;
	pthread_mutex_unlock(&b->lock);
}

/* ------------------------------------------------------------------ */
/* The table (under b->lock).                                          */

static struct bentry *
entry_find(struct ecad_broker *b, const char *host)
{
	size_t i;

	for (i = 0; i < b->ntab; i++)
		if (strcmp(b->tab[i].host, host) == 0)
			return &b->tab[i];
	return NULL;
}

/* The host's entry, added if new; NULL out of memory. */
static struct bentry *
entry_get(struct ecad_broker *b, const char *host)
{
	struct bentry *e, *grown;
	size_t cap;

	if ((e = entry_find(b, host)) != NULL)
		return e;
	if (b->ntab == b->cap) {
		cap = b->cap == 0 ? 16 : b->cap * 2;
		if ((grown = realloc(b->tab, cap * sizeof(*grown))) == NULL)
			return NULL;
		/* Sessions point at entries: move them along. */
		b->tab = grown;
		b->cap = cap;
		for (e = b->tab; e < b->tab + b->ntab; e++)
			if (e->sess != NULL)
				e->sess->entry = e;
	}
	e = &b->tab[b->ntab++];
	memset(e, 0, sizeof(*e));
	/* Host names are canonical, shorter than ECA_HOST_MAX; "" ends it. */
	memcpy(e->host, host, strnlen(host, sizeof(e->host) - 1));
	return e;
}

int
broker_metrics(struct ecad *d, struct eca_metrics_gauges *g)
{
	struct ecad_broker *b = d->broker;

	if (b == NULL)
		return 0;
	pthread_mutex_lock(&b->lock);
	g->have_broker = 1;
	g->broker_online = (int64_t)b->n_online;
	g->broker_registrations[0] = b->n_registered;
	g->broker_registrations[1] = b->n_refused;
	g->broker_reverse[ECA_METRICS_REVERSE_OK] = b->n_requests;
	g->broker_reverse[ECA_METRICS_REVERSE_OFFLINE] = b->n_offline;
	g->broker_reverse[ECA_METRICS_REVERSE_RATE_LIMITED] = b->n_limited;
	g->broker_reverse[ECA_METRICS_REVERSE_REFUSED] = b->n_restricted;
	pthread_mutex_unlock(&b->lock);
	return 1;
}

struct json_t *
broker_stats_json(struct ecad *d)
{
	struct ecad_broker *b = d->broker;
	json_t *j;

	if (b == NULL)
		return json_null();
	pthread_mutex_lock(&b->lock);
	j = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	    "restricted", (json_int_t)b->n_restricted_online, "reverse_refused",
	    (json_int_t)b->n_restricted, "online", (json_int_t)b->n_online,
	    "known", (json_int_t)b->ntab, "connections",
	    (json_int_t)b->n_connections, "registrations",
	    (json_int_t)b->n_registered, "refusals", (json_int_t)b->n_refused,
	    "missed_heartbeats", (json_int_t)b->n_dead, "reverse_requests",
	    (json_int_t)b->n_requests, "reverse_offline",
	    (json_int_t)b->n_offline, "reverse_rate_limited",
	    (json_int_t)b->n_limited);
	pthread_mutex_unlock(&b->lock);
	return j != NULL ? j : json_null();
}

void
broker_annotate(struct ecad *d, struct json_t *rec)
{
	struct ecad_broker *b = d->broker;
	const json_t *host = json_object_get(rec, "host");
	const struct bentry *e;
	char since[40];
	int online = 0;

	if (b == NULL || !json_is_string(host))
		return;
	pthread_mutex_lock(&b->lock);
	e = entry_find(b, json_string_value(host));
	if (e != NULL) {
		online = e->sess != NULL;
		eca_text_rfc3339(e->since, since, sizeof(since));
	}
	pthread_mutex_unlock(&b->lock);
	if (e == NULL)
		return;
	(void)json_object_set_new(rec, "nat", json_true());
	(void)json_object_set_new(rec, "online", json_boolean(online));
	(void)json_object_set_new(rec, "online_since",
	    online ? json_string(since) : json_null());
}

/* ------------------------------------------------------------------ */
/* A session's life on the I/O thread.                                 */

/* host's session closed: a remote enrollment waiting on it fails. */
static void
enroll_gone(struct ecad_broker *b, const char *host)
{
	if (b->enroll.id == 0 || b->enroll.done ||
	    strcmp(b->enroll.host, host) != 0)
		return;
	b->enroll.done = 1;
	b->enroll.code = ECA_ERR_UNREACHABLE;
	snprintf(b->enroll.msg, sizeof(b->enroll.msg),
	    "the broker session of %s closed before it answered the remote "
	    "enrollment: retry once it is online again (`eca list`)",
	    host);
	pthread_cond_broadcast(&b->enrolled);
}

static void
sess_free(struct bsess *s)
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
		enroll_gone(b, s->reg.host);
		pthread_mutex_unlock(&b->lock);
		log_info("broker: NAT host %s (%s) is offline", s->reg.host,
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
	X509_free(s->leaf);
	sk_X509_pop_free(s->chain, X509_free);
	free(s);
}

/* Send m; -1 if it could not be queued (the session is then freed). */
static int
sess_send(struct bsess *s, const struct eca_broker_msg *m)
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
		sess_free(s);
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

	count(s->b, &s->b->n_refused, 1);
	log_warn("broker: refused %s (%s): %s: %s",
	    s->reg.host[0] != '\0' ? s->reg.host : "?", s->addr,
	    eca_err_name(code), msg);
	memset(&m, 0, sizeof(m));
	m.op = ECA_BROKER_REFUSED;
	m.code = code;
	snprintf(m.message, sizeof(m.message), "%s", msg);
	if (sess_send(s, &m) != 0)
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

	s->reg = *m;
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
 * The NAT host's answer to a remote enrollment (m's answer taken): 0, or
 * -1 when a restricted session was closed to be judged again.
 */
static int
on_enrolled(struct bsess *s, struct eca_broker_msg *m)
{
	struct ecad_broker *b = s->b;
	int taken = 0;

	pthread_mutex_lock(&b->lock);
	if (b->enroll.id == m->id && !b->enroll.done &&
	    strcmp(b->enroll.host, s->reg.host) == 0) {
		b->enroll.answer = m->answer;
		m->answer = NULL;
		b->enroll.done = 1;
		taken = 1;
		pthread_cond_broadcast(&b->enrolled);
	}
	pthread_mutex_unlock(&b->lock);
	if (!taken)
		log_warn("broker: NAT host %s (%s) answered remote enrollment "
			 "%lld, which nobody waits for (too late?)",
		    s->reg.host, s->addr, (long long)m->id);
	eca_broker_msg_clear(m);
	if (!s->restricted)
		return 0;
	log_info("broker: NAT host %s (%s) answered a remote enrollment on "
		 "its restricted session: closed, to be judged again",
	    s->reg.host, s->addr);
	sess_free(s);
	return -1;
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
		return on_enrolled(s, &m);
	if (s->state == BS_ONLINE && m.op == ECA_BROKER_PING) {
		pthread_mutex_lock(&s->b->lock);
		s->entry->last_heartbeat = time(NULL);
		pthread_mutex_unlock(&s->b->lock);
		memset(&pong, 0, sizeof(pong));
		pong.op = ECA_BROKER_PONG;
		return sess_send(s, &pong);
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
		sess_free(s);
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
		sess_free(s);
		return;
	}
	silent = eca_util_mono_ms() - s->last_ms;
	if (silent > (int64_t)s->reg.heartbeat * ECA_BROKER_MISSES * 1000) {
		log_warn("broker: NAT host %s (%s) missed %d heartbeats (%lld "
			 "ms silent): session closed",
		    s->reg.host, s->addr, ECA_BROKER_MISSES, (long long)silent);
		count(s->b, &s->b->n_dead, 1);
		sess_free(s);
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
	if ((e = entry_get(b, s->reg.host)) != NULL) {
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
		sess_free(old);
	}
	s->entry = e;
	s->state = BS_ONLINE;
	s->last_ms = eca_util_mono_ms();
	memset(&m, 0, sizeof(m));
	m.op = ECA_BROKER_REGISTERED;
	if (sess_send(s, &m) != 0)
		return;
	log_info("broker: NAT host %s (%s) is online%s, heartbeat %d s",
	    s->reg.host, s->addr,
	    s->restricted ? " (restricted: not enrolled)" : "",
	    s->reg.heartbeat);
	tv.tv_sec = s->reg.heartbeat;
	tv.tv_usec = 0;
	event_del(s->timer);
	event_assign(s->timer, b->base, -1, EV_PERSIST, timer_cb, s);
	evtimer_add(s->timer, &tv);
	bufferevent_enable(s->bev, EV_READ);
	read_cb(s->bev, s);
}

/* The judge is done (on the I/O thread). */
static void
judged_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bsess *s = arg;

	(void)fd;
	(void)what;
	s->state = BS_CLOSING; /* no judge holds it any more */
	if (s->dead) {
		sess_free(s);
		return;
	}
	if (s->code == ECA_ERR_NOT_ENROLLED) {
		/* Certificate and identity passed: it may be enrolled. */
		log_info("broker: %s (%s) is not enrolled: restricted session "
			 "(%s)",
		    s->reg.host, s->addr, s->msg);
		s->restricted = 1;
	} else if (s->code != 0) {
		(void)sess_refuse(s, s->code, s->msg);
		return;
	}
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
	snprintf(s->msg, sizeof(s->msg), "out of memory judging the caller");
	if ((res = malloc(sizeof(*res))) == NULL)
		goto out;
	in.side = ECA_JUDGE_ACCEPTING;
	in.h = snap->host;
	in.d = snap->host != NULL ?
	    eca_host_domain(snap->host, snap->cfg->client_name) :
	    NULL;
	in.primary = snap->cfg->client_name;
	in.peer = s->reg.host;
	in.leaf = s->leaf;
	in.chain = s->chain;
	in.purpose = ECA_PURPOSE_CONTROL;
	in.peer_side.role = s->reg.role;
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
	snprintf(s->msg, sizeof(s->msg), "%s", res->verdict.message);
	free(res);
out:
	ecad_snap_put(snap);
}

static void *
judge_main(void *arg)
{
	struct ecad_broker *b = arg;
	struct bsess *s;

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
/* Accepting, binding, starting, stopping.                             */

static void
sess_addr(struct bsess *s, const struct sockaddr *sa, int salen)
{
	char host[NI_MAXHOST], port[NI_MAXSERV];

	if (getnameinfo(sa, (socklen_t)salen, host, sizeof(host), port,
		sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(s->addr, sizeof(s->addr), "?");
	else if (sa->sa_family == AF_INET6)
		snprintf(s->addr, sizeof(s->addr), "[%s]:%s", host, port);
	else
		snprintf(s->addr, sizeof(s->addr), "%s:%s", host, port);
}

/* fd's session; -1 (fd still the caller's) when it cannot be set up. */
static int
sess_new(struct ecad_broker *b, evutil_socket_t fd, const struct sockaddr *sa,
    int salen)
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

static void
accept_cb(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct ecad_broker *b = arg;

	(void)lis;
	if (b->nconns >= (size_t)b->d->cfg->max_connections) {
		log_warn("broker: connection refused: %zu open, "
			 "MAX_CONNECTIONS is %d",
		    b->nconns, b->d->cfg->max_connections);
		evutil_closesocket(fd);
		return;
	}
	if (sess_new(b, fd, sa, salen) != 0)
		evutil_closesocket(fd);
	else
		count(b, &b->n_connections, 1);
}

static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ecad_broker *b = arg;
	size_t i;

	(void)fd;
	(void)what;
	for (i = 0; i < b->nfds; i++)
		if (b->lis[i] != NULL)
			evconnlistener_disable(b->lis[i]);
	event_base_loopbreak(b->base);
}

static void *
thread_main(void *arg)
{
	struct ecad_broker *b = arg;

	event_base_dispatch(b->base);
	return NULL;
}

static int *
broker_fds(void *arg, size_t i, size_t **nfds)
{
	struct ecad_broker *b = arg;

	(void)i;
	*nfds = &b->nfds;
	return b->fds;
}

static void
broker_destroy(struct ecad_broker *b)
{
	size_t i;

	if (b == NULL)
		return;
	for (i = 0; i < b->nfds; i++) {
		if (b->lis[i] != NULL)
			evconnlistener_free(b->lis[i]);
		else if (b->fds[i] != -1)
			close(b->fds[i]);
	}
	while (b->conns != NULL) {
		b->conns->state = BS_CLOSING;
		b->conns->entry = NULL;
		sess_free(b->conns);
	}
	if (b->stop_ev != NULL)
		event_free(b->stop_ev);
	if (b->base != NULL)
		event_base_free(b->base);
	pthread_mutex_destroy(&b->lock);
	pthread_cond_destroy(&b->work);
	pthread_cond_destroy(&b->enrolled);
	free(b->enroll.answer);
	free(b->tab);
	free(b);
}

static int
broker_listen_is_default(const struct eca_endpoint *ep)
{
	return ep->host != NULL && strcmp(ep->host, "0.0.0.0") == 0 &&
	    ep->port != NULL && strcmp(ep->port, ECA_DEFAULT_BROKER_PORT) == 0;
}

int
broker_bind(struct ecad *d, struct eca_err *err)
{
	struct ecad_broker *b;
	struct ecad_bind bd;
	size_t i;
	int r;

	if (d->cfg->role != ECA_ROLE_PRIMARY)
		return 0;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
	b->d = d;
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->work, NULL);
	pthread_cond_init(&b->enrolled, NULL);
	for (i = 0; i < ECAD_MAX_LISTEN; i++)
		b->fds[i] = -1;
	memset(&bd, 0, sizeof(bd));
	bd.ep = &d->cfg->broker_listen;
	bd.defport = ECA_DEFAULT_BROKER_PORT;
	bd.keyword = "BROKER_LISTEN";
	bd.listener = "BROKER_LISTEN, the NAT hosts' broker";
	bd.nsets = 1;
	bd.set = broker_fds;
	bd.arg = b;
	if ((r = ecad_listen_bind(&bd, err)) != 0) {
		/* As the peer listener: the default may be taken. */
		if (bd.failed_errno != 0 && broker_listen_is_default(bd.ep)) {
			log_warn("no broker for NAT hosts: cannot listen on %s "
				 "port %s (the default BROKER_LISTEN): %s; set "
				 "BROKER_LISTEN in %s",
			    bd.failed_addr, bd.port, strerror(bd.failed_errno),
			    d->conf_path);
			r = 0;
		}
		broker_destroy(b);
		return r;
	}
	snprintf(d->broker_desc, sizeof(d->broker_desc), "%s", bd.desc);
	d->broker = b;
	return 0;
}

int
broker_start(struct ecad *d, struct eca_err *err)
{
	struct ecad_broker *b = d->broker;
	sigset_t all, old;
	size_t i;
	int e = 0;

	if (b == NULL)
		return 0;
	if ((b->base = event_base_new()) == NULL ||
	    (b->stop_ev = event_new(b->base, -1, 0, stop_cb, b)) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "cannot create the broker's event loop");
	for (i = 0; i < b->nfds; i++) {
		b->lis[i] = evconnlistener_new(b->base, accept_cb, b,
		    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0,
		    b->fds[i]);
		if (b->lis[i] == NULL)
			return eca_err_set(err, ECA_ERR_IO,
			    "the broker cannot accept on its socket");
		b->fds[i] = -1;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	if ((e = pthread_create(&b->thread, NULL, thread_main, b)) == 0) {
		b->started = 1;
		if ((e = pthread_create(&b->judge, NULL, judge_main, b)) == 0)
			b->judge_started = 1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot start the broker: %s", strerror(e));
	log_info("broker for NAT hosts on %s", d->broker_desc);
	return 0;
}

void
broker_stop(struct ecad *d)
{
	struct ecad_broker *b = d->broker;

	if (b == NULL)
		return;
	pthread_mutex_lock(&b->lock);
	b->stopping = 1;
	pthread_cond_broadcast(&b->work);
	pthread_cond_broadcast(&b->enrolled);
	pthread_mutex_unlock(&b->lock);
	if (b->judge_started)
		pthread_join(b->judge, NULL);
	b->judge_started = 0;
	if (b->started) {
		event_active(b->stop_ev, EV_READ, 0);
		pthread_join(b->thread, NULL);
	}
	b->started = 0;
	/* Sessions queued to the judge are closed with the rest. */
	for (struct bsess *s = b->conns; s != NULL; s = s->next)
		if (s->state == BS_JUDGING)
			s->state = BS_CLOSING;
}

void
broker_free(struct ecad *d)
{
	broker_destroy(d->broker);
	d->broker = NULL;
}

/* ------------------------------------------------------------------ */
/* Reverse connection requests (POST /v1/nat/requests).                */

/* May requester ask once more this second?  Under b->lock. */
static int
rate_ok(struct ecad_broker *b, const char *requester)
{
	int64_t now = eca_util_mono_ms() / 1000;
	struct brate *r, *stalest = &b->rates[0];
	size_t i;

	for (i = 0; i < BROKER_RATE_SLOTS; i++) {
		r = &b->rates[i];
		if (strcmp(r->host, requester) == 0)
			break;
		if (r->second < stalest->second)
			stalest = r;
	}
	if (i == BROKER_RATE_SLOTS) {
		r = stalest;
		snprintf(r->host, sizeof(r->host), "%s", requester);
		r->second = now;
		r->count = 0;
	}
	if (r->second != now) {
		r->second = now;
		r->count = 0;
	}
	return ++r->count <= BROKER_RATE_MAX;
}

/* On the I/O thread: send the request over the NAT host's session. */
static void
send_connect_cb(evutil_socket_t fd, short what, void *arg)
{
	struct eca_broker_msg *m = arg;
	struct ecad_broker *b;
	struct bentry *e;
	struct bsess *s;

	(void)fd;
	(void)what;
	b = *(struct ecad_broker **)(m + 1);
	pthread_mutex_lock(&b->lock);
	e = entry_find(b, m->host);
	s = e != NULL ? e->sess : NULL;
	pthread_mutex_unlock(&b->lock);
	/* Gone meanwhile: the requester's wait times out. */
	if (s != NULL && s->state == BS_ONLINE)
		(void)sess_send(s, m);
	free(m);
}

int
broker_request(struct ecad *d, const char *requester, const char *host,
    enum eca_purpose purpose, const char *address, char *token,
    struct eca_err *err)
{
	struct ecad_broker *b = d->broker;
	struct eca_broker_msg *m;
	struct timeval now = {0, 0};
	unsigned char raw[ECA_BROKER_TOKEN_LEN / 2];
	const struct bentry *e;
	int online, allowed, restricted;

	if (b == NULL)
		return eca_err_set(err, ECA_ERR_NAT_HOST_OFFLINE,
		    "primary %s runs no broker for NAT hosts (see "
		    "BROKER_LISTEN in its log), so %s cannot be reached",
		    d->cfg->client_name, host);
	pthread_mutex_lock(&b->lock);
	allowed = rate_ok(b, requester);
	e = entry_find(b, host);
	online = e != NULL && e->sess != NULL;
	restricted = online && e->restricted;
	b->n_limited += !allowed;
	b->n_offline += allowed && !online;
	b->n_restricted += allowed && restricted;
	b->n_requests += allowed && online && !restricted;
	pthread_mutex_unlock(&b->lock);
	if (!allowed)
		return eca_err_set(err, ECA_ERR_BUSY,
		    "%s asks for more than %d reverse connections a second: "
		    "retry later",
		    requester, BROKER_RATE_MAX);
	if (!online)
		return eca_err_set(err, ECA_ERR_NAT_HOST_OFFLINE,
		    "%s has no broker session with %s: is its ecad running "
		    "and NAT_CLIENT = YES? (`eca status` on %s shows its "
		    "broker session)",
		    host, d->cfg->client_name, host);
	if (restricted)
		return eca_err_set(err, ECA_ERR_NOT_ENROLLED,
		    "%s is not enrolled with %s: its broker session is "
		    "restricted to its own enrollment, so no reverse "
		    "connection goes to it; enroll it first (`eca enroll "
		    "--remote-host %s` on %s)",
		    host, d->cfg->client_name, host, d->cfg->client_name);
	/* The message, and the broker after it, for the callback. */
	if ((m = calloc(1, sizeof(*m) + sizeof(b))) == NULL ||
	    RAND_bytes(raw, sizeof(raw)) != 1) {
		free(m);
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "cannot make a reverse connection token");
	}
	eca_text_hex(raw, sizeof(raw), token, 0);
	m->op = ECA_BROKER_CONNECT;
	snprintf(m->host, sizeof(m->host), "%s", host);
	snprintf(m->token, sizeof(m->token), "%s", token);
	snprintf(m->requester, sizeof(m->requester), "%s", requester);
	snprintf(m->address, sizeof(m->address), "%s", address);
	m->purpose = purpose;
	memcpy(m + 1, &b, sizeof(b));
	if (event_base_once(b->base, -1, EV_TIMEOUT, send_connect_cb, m,
		&now) != 0) {
		free(m);
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "cannot queue the reverse connection request");
	}
	log_info("broker: reverse connection to %s asked by %s (%s), "
		 "callback address %s",
	    host, requester, eca_purpose_name(purpose), address);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Remote enrollment through a session (remote.c).                     */

/* On the I/O thread: send the enroll request over the host's session. */
static void
send_enroll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct eca_broker_msg *m = arg;
	struct ecad_broker *b;
	struct bentry *e;
	struct bsess *s;

	(void)fd;
	(void)what;
	b = *(struct ecad_broker **)(m + 1);
	pthread_mutex_lock(&b->lock);
	e = entry_find(b, m->host);
	s = e != NULL ? e->sess : NULL;
	if (s == NULL || s->state != BS_ONLINE)
		enroll_gone(b, m->host);
	pthread_mutex_unlock(&b->lock);
	if (s != NULL && s->state == BS_ONLINE)
		(void)sess_send(s, m);
	free(m);
}

/* Wait for the answer to b->enroll until deadline; under b->lock. */
static void
enroll_wait(struct ecad_broker *b, long timeout_ms)
{
	struct timespec ts;
	int64_t ns;

	clock_gettime(CLOCK_REALTIME, &ts);
	ns = (int64_t)ts.tv_nsec + (int64_t)(timeout_ms % 1000) * 1000000;
	ts.tv_sec += (time_t)(timeout_ms / 1000 + ns / 1000000000);
	ts.tv_nsec = (long)(ns % 1000000000);
	while (!b->enroll.done && !b->stopping)
		if (pthread_cond_timedwait(&b->enrolled, &b->lock, &ts) != 0)
			break;
}

/* Queue the request to the I/O thread: 0, or an error. */
static int
enroll_queue(struct ecad_broker *b, const char *host, int64_t id,
    struct eca_err *err)
{
	struct timeval now = {0, 0};
	struct eca_broker_msg *m;

	if ((m = calloc(1, sizeof(*m) + sizeof(b))) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
	m->op = ECA_BROKER_ENROLL;
	m->id = id;
	snprintf(m->host, sizeof(m->host), "%s", host);
	memcpy(m + 1, &b, sizeof(b));
	if (event_base_once(b->base, -1, EV_TIMEOUT, send_enroll_cb, m, &now) !=
	    0) {
		free(m);
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "cannot queue the remote enrollment request");
	}
	return 0;
}

int
broker_remote_enroll(struct ecad *d, const char *host, long timeout_ms,
    char **answer, struct eca_err *err)
{
	struct ecad_broker *b = d->broker;
	const struct bentry *e;
	int64_t id;
	int r;

	*answer = NULL;
	if (b == NULL || b->base == NULL)
		return 1;
	pthread_mutex_lock(&b->lock);
	e = entry_find(b, host);
	if (e == NULL || e->sess == NULL || b->enroll.id != 0) {
		r = e == NULL || e->sess == NULL ?
		    1 :
		    eca_err_set(err, ECA_ERR_BUSY,
			"a remote enrollment through the broker is running: "
			"retry");
		pthread_mutex_unlock(&b->lock);
		return r;
	}
	id = ++b->enroll_last_id;
	memset(&b->enroll, 0, sizeof(b->enroll));
	b->enroll.id = id;
	snprintf(b->enroll.host, sizeof(b->enroll.host), "%s", host);
	pthread_mutex_unlock(&b->lock);
	log_info("broker: remote enrollment %lld of NAT host %s through its "
		 "session",
	    (long long)id, host);
	if ((r = enroll_queue(b, host, id, err)) != 0) {
		pthread_mutex_lock(&b->lock);
		b->enroll.id = 0;
		pthread_mutex_unlock(&b->lock);
		return r;
	}
	pthread_mutex_lock(&b->lock);
	enroll_wait(b, timeout_ms);
	if (!b->enroll.done)
		r = eca_err_set(err, ECA_ERR_TIMEOUT,
		    "NAT host %s did not answer the remote enrollment through "
		    "its broker session within %ld s (see its log)",
		    host, timeout_ms / 1000);
	else if (b->enroll.code != 0)
		r = eca_err_set(err, b->enroll.code, "%s", b->enroll.msg);
	*answer = b->enroll.answer;
	b->enroll.answer = NULL;
	b->enroll.id = 0;
	pthread_mutex_unlock(&b->lock);
	if (r != 0) {
		free(*answer);
		*answer = NULL;
	}
	return r;
}
