/*
 * peer.c - the peer listener: other hosts' channels to this one
 * (docs/channels.md, docs/daemon.md "Peer listener"), on every role.
 *
 * Threads, all owned here:
 * - I/O threads (WORKERS of them, default two per core, 4 to
 *   PEER_IO_MAX), each with its own event base and its own listening
 *   socket(s) on LISTEN (SO_REUSEPORT): TLS (bufferevent_openssl), the
 *   HELLO exchange, the services.  Nothing in them blocks.
 * - PEER_JUDGES judge threads: judging a caller can block (this host's
 *   own auto-enrollment with the primary, a CRL download), so a
 *   connection whose client HELLO has arrived is queued to them and its
 *   verdict comes back to its I/O thread with event_active().
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
 * A connection belongs to its I/O thread (its list) from accept to free.
 * While a judge has it (JUDGING), the I/O thread never frees it: a peer
 * that goes away then only closes the socket, and the verdict's callback
 * frees what is left.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "channel.h"
#include "crl.h"
#include "ecad.h"
#include "host.h"
#include "judge.h"
#include "log.h"
#include "text.h"
#include "tls.h"
#include "verdict.h"

#define PEER_IO_PER_CPU 2	/* I/O threads per core when WORKERS is 0 */
#define PEER_IO_MIN 4
#define PEER_IO_MAX 16
#define PEER_JUDGES 16		/* judge threads */
#define PEER_READ_MAX (256 * 1024)	/* input buffered per connection */
#define PEER_OUT_HIGH (256 * 1024)	/* output buffered per connection */
#define PEER_OUT_LOW (64 * 1024)	/* refill bulk output below this */
#define PEER_BULK_CHUNK (64 * 1024)
#define PEER_LINGER_SEC 2	/* after a refusal, wait for the peer's close */
#define PEER_PARK_TICK_MS 100	/* a parked judgment looks at the roster */

enum pstate {
	PS_TLS,		/* TLS handshake */
	PS_HELLO,	/* server HELLO sent, waiting for the client's */
	PS_JUDGING,	/* queued to or held by a judge */
	PS_PARKED,	/* judgment waits for a roster sync (I/O thread's) */
	PS_SERVING,	/* accepted: frames of the purpose's service */
	PS_BULK_IN,	/* reading `remaining` raw bytes */
	PS_BULK_OUT,	/* sending `remaining` raw bytes */
	PS_CLOSING,	/* last frame flushed; waiting for the peer to close */
};

struct peer_thread;

struct pconn {
	struct peer_thread *t;
	struct pconn *prev, *next;	/* the thread's list */
	struct pconn *qnext;		/* the judges' queue */
	struct bufferevent *bev;	/* NULL once closed */
	struct event *timer;		/* handshake deadline, then linger */
	struct event *judged_ev;	/* the verdict is ready */
	enum pstate state;
	int dead;			/* closed while JUDGING */
	int echo;			/* PING/CONSOLE/CONTROL */
	int throttled;			/* reading paused: output is full */
	char addr[INET6_ADDRSTRLEN + 8];
	/* Judge input (set by the I/O thread before queueing). */
	struct eca_channel_client_hello hello;
	X509 *leaf;
	STACK_OF(X509) *chain;
	int pre_code;			/* refusal decided before judging */
	char pre_msg[ECA_ERR_MSG_MAX];
	/* Judge output. */
	struct eca_channel_verdict v;
	char fingerprint[ECA_FP_HEX_LEN + 1];
	/* Bulk. */
	int64_t remaining;
	int64_t total;
	/* Bounds (limits.c). */
	unsigned char src[ECAD_KEY_LEN];	/* source address */
	int src_counted;		/* counted in p->srcmap */
	int in_handshake;		/* holds a PEER_MAX_HANDSHAKES slot */
	/* Parking (set by the judge while it holds the connection). */
	int parked;			/* the judge parked it: no verdict yet */
	int resumed;			/* judged again after parking */
	int wait_enroll;		/* for the caller's enrollment in flight */
	struct ecad_snap *snap;		/* held while parked: dom lives in it */
	struct eca_domain *dom;
	int64_t park_synced;		/* dom's finished syncs when parked */
	int64_t park_until;		/* CLOCK_MONOTONIC ms */
	unsigned char fpkey[ECAD_KEY_LEN];	/* the caller's fingerprint */
	int wait_src_taken;		/* counted in p->waits_src */
	int wait_fp_taken;		/* counted in p->waits_fp */
	/*
	 * What the verdict was reached with: the snapshot (trust store),
	 * the CRL cache's generation and the roster's version.  When one
	 * moves, the next frame is judged again first (rejudge).
	 */
	uint64_t gen_snap;
	uint64_t gen_crls;
	int64_t gen_roster;
	int rejudge;			/* judging an accepted channel again */
};

struct peer_thread {
	struct ecad_peer *p;
	int id;
	pthread_t thread;
	int started;
	struct event_base *base;
	int fds[ECAD_MAX_LISTEN];	/* until handed to a listener */
	size_t nfds;
	struct evconnlistener *lis[ECAD_MAX_LISTEN];
	struct event *stop_ev;
	struct pconn *conns;
	time_t cap_logged;
	time_t src_cap_logged;
	time_t hs_logged;
};

struct ecad_peer {
	struct ecad *d;
	struct peer_thread *threads;
	size_t nthreads;
	atomic_llong open;		/* connections open now */
	atomic_llong handshakes;	/* accepted, no verdict sent yet */
	struct ecad_keymap *srcmap;	/* open connections per source */
	struct ecad_keymap *waits_src;	/* parked judgments per source */
	struct ecad_keymap *waits_fp;	/* enrollment waits per certificate */

	pthread_mutex_t lock;		/* guards everything below */
	pthread_cond_t work;		/* the queue has a connection */
	pthread_cond_t wake;		/* the sync thread: stop, or sync */
	struct pconn *qhead, *qtail;
	int stopping;
	int sync_wanted;		/* a parked judgment needs a sync */
	pthread_t judges[PEER_JUDGES];
	size_t njudges;
	pthread_t sync_thread;
	int sync_started;
};

/* Bulk output comes from here (evbuffer_add_reference: no copy). */
static const unsigned char bulk_zeros[PEER_BULK_CHUNK];

static void conn_read(struct pconn *);

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The verdict went out (or the connection is gone): free its slot. */
static void
handshake_done(struct pconn *pc)
{
	if (!pc->in_handshake)
		return;
	pc->in_handshake = 0;
	ecad_slot_put(&pc->t->p->handshakes);
}

/* Give back what a parked judgment holds (idempotent). */
static void
park_release(struct pconn *pc)
{
	struct ecad_peer *p = pc->t->p;

	if (pc->wait_src_taken)
		ecad_keymap_put(p->waits_src, pc->src);
	if (pc->wait_fp_taken)
		ecad_keymap_put(p->waits_fp, pc->fpkey);
	pc->wait_src_taken = pc->wait_fp_taken = 0;
	if (pc->snap != NULL)
		ecad_snap_put(pc->snap);
	pc->snap = NULL;
	pc->dom = NULL;
}

/* The connection is gone: free it, or leave it to its judge. */
static void
conn_free(struct pconn *pc)
{
	struct peer_thread *t = pc->t;

	if (pc->bev != NULL)
		bufferevent_free(pc->bev);
	pc->bev = NULL;
	if (pc->state == PS_JUDGING) {
		/* judged_cb frees it when the judge is done. */
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
	handshake_done(pc);
	park_release(pc);
	if (pc->src_counted)
		ecad_keymap_put(t->p->srcmap, pc->src);
	atomic_fetch_sub(&t->p->open, 1);
	free(pc);
}

/* Write one frame for a JSON object (consumed). */
static int
send_json(struct pconn *pc, json_t *obj)
{
	struct eca_err e;
	unsigned char *buf = NULL;
	size_t len = 0;
	int r;

	eca_err_clear(&e);
	if (obj == NULL)
		return ECA_ERR_NOMEM;
	r = eca_channel_frame_encode(obj, &buf, &len, &e);
	json_decref(obj);
	if (r != 0) {
		log_error("peer %s: cannot encode a frame: %s", pc->addr,
		    e.msg);
		return r;
	}
	if (bufferevent_write(pc->bev, buf, len) != 0)
		r = ECA_ERR_NOMEM;
	free(buf);
	return r;
}

/*
 * Close after what is queued has gone out: half-close once the output is
 * flushed (write_cb), then wait a little for the peer's own close so that
 * unread input does not turn our last frame into a reset.
 */
static void
conn_closing(struct pconn *pc)
{
	struct timeval tv = { PEER_LINGER_SEC, 0 };

	pc->state = PS_CLOSING;
	bufferevent_setwatermark(pc->bev, EV_WRITE, 0, 0);
	bufferevent_set_timeouts(pc->bev, NULL, NULL);
	evtimer_add(pc->timer, &tv);
	bufferevent_enable(pc->bev, EV_READ | EV_WRITE);
	if (evbuffer_get_length(bufferevent_get_output(pc->bev)) == 0)
		(void)shutdown(bufferevent_getfd(pc->bev), SHUT_WR);
}

/* A service-level error: {"error":{"code":C,"message":M}}, then close. */
static void service_error(struct pconn *, int, const char *, ...)
	ECA_PRINTF(3, 4);
static void
service_error(struct pconn *pc, int code, const char *fmt, ...)
{
	char msg[ECA_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_info("peer channel from %s (%s) closed: %s", pc->hello.host,
	    pc->addr, msg);
	if (send_json(pc, json_pack("{s:{s:s, s:s}}", "error", "code",
	    eca_err_name(code), "message", msg)) != 0) {
		conn_free(pc);
		return;
	}
	conn_closing(pc);
}

/* Refusal before judging (the judge passes it through). */
static void pre_refuse(struct pconn *, int, const char *, ...)
	ECA_PRINTF(3, 4);
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
static int
frame_peek(struct pconn *pc, unsigned char **payload, size_t *flen)
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

/* Queue pc to the judges. */
static void
judge_submit(struct pconn *pc)
{
	struct ecad_peer *p = pc->t->p;

	pc->state = PS_JUDGING;
	bufferevent_disable(pc->bev, EV_READ);
	evtimer_del(pc->timer);
	pthread_mutex_lock(&p->lock);
	pc->qnext = NULL;
	if (p->qtail != NULL)
		p->qtail->qnext = pc;
	else
		p->qhead = pc;
	p->qtail = pc;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->lock);
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
	r = eca_tls_peer_chain(bufferevent_openssl_get_ssl(pc->bev),
	    &pc->leaf, &pc->chain, &e);
	/* No certificate is the verdict's to state (NO_CLIENT_CERT). */
	if (r != 0 && !(r == ECA_ERR_NO_CLIENT_CERT && pc->leaf == NULL))
		pre_refuse(pc, r, "%s", e.msg);
}

/* Echo services: every frame back as it came. */
static void
serve_echo(struct pconn *pc)
{
	struct evbuffer *in = bufferevent_get_input(pc->bev);
	struct evbuffer *out = bufferevent_get_output(pc->bev);
	unsigned char *payload;
	size_t flen;
	int r;

	while (pc->state == PS_SERVING) {
		if (evbuffer_get_length(out) >= PEER_OUT_HIGH) {
			/* The peer does not read: stop reading too. */
			pc->throttled = 1;
			bufferevent_disable(pc->bev, EV_READ);
			return;
		}
		if ((r = frame_peek(pc, &payload, &flen)) == 1)
			return;
		if (r != 0) {
			service_error(pc, r, "bad frame from %s: %s",
			    pc->hello.host, eca_strerror(r));
			return;
		}
		if (evbuffer_remove_buffer(in, out, flen) != (int)flen) {
			conn_free(pc);
			return;
		}
	}
}

/* Send more of a bulk "receive" while the output has room. */
static void
bulk_fill(struct pconn *pc)
{
	struct evbuffer *out = bufferevent_get_output(pc->bev);
	size_t n;

	while (pc->remaining > 0 && evbuffer_get_length(out) < PEER_OUT_HIGH) {
		n = pc->remaining < (int64_t)sizeof(bulk_zeros) ?
		    (size_t)pc->remaining : sizeof(bulk_zeros);
		if (evbuffer_add_reference(out, bulk_zeros, n, NULL,
		    NULL) != 0) {
			conn_free(pc);
			return;
		}
		pc->remaining -= (int64_t)n;
	}
	if (pc->remaining > 0)
		return;
	/*
	 * Back to frames once the last byte has gone out: only then does
	 * the idle timeout (a read timeout) start again.
	 */
	if (evbuffer_get_length(out) > 0) {
		bufferevent_setwatermark(pc->bev, EV_WRITE, 0, 0);
		return;
	}
	pc->state = PS_SERVING;
	bufferevent_enable(pc->bev, EV_READ);
	conn_read(pc);
}

/* Bulk services: a request frame, then raw bytes one way. */
static void
serve_bulk(struct pconn *pc)
{
	struct evbuffer *in = bufferevent_get_input(pc->bev);
	unsigned char *payload;
	json_error_t jerr;
	json_t *req = NULL, *jop, *jn;
	const char *op;
	json_int_t n;
	size_t flen, avail;
	int r;

	for (;;) {
		if (pc->state == PS_BULK_IN) {
			avail = evbuffer_get_length(in);
			if ((int64_t)avail > pc->remaining)
				avail = (size_t)pc->remaining;
			evbuffer_drain(in, avail);
			pc->remaining -= (int64_t)avail;
			if (pc->remaining > 0)
				return;
			pc->state = PS_SERVING;
			if (send_json(pc, json_pack("{s:I}", "received",
			    (json_int_t)pc->total)) != 0) {
				conn_free(pc);
				return;
			}
			continue;
		}
		if (pc->state != PS_SERVING)
			return;
		if ((r = frame_peek(pc, &payload, &flen)) == 1)
			return;
		if (r != 0) {
			service_error(pc, r, "bad frame from %s: %s",
			    pc->hello.host, eca_strerror(r));
			return;
		}
		req = json_loadb((const char *)payload, flen - 4,
		    JSON_REJECT_DUPLICATES, &jerr);
		evbuffer_drain(in, flen);
		if (req == NULL || !json_is_object(req) ||
		    (jop = json_object_get(req, "op")) == NULL ||
		    !json_is_string(jop) ||
		    (jn = json_object_get(req, "bytes")) == NULL ||
		    !json_is_integer(jn)) {
			json_decref(req);
			service_error(pc, ECA_ERR_PROTOCOL, "a %s channel "
			    "expects {\"op\":\"send\"|\"receive\","
			    "\"bytes\":N}", eca_purpose_name(pc->hello.purpose));
			return;
		}
		n = json_integer_value(jn);
		op = json_string_value(jop);
		if (n < 0 || n > ECA_BULK_MAX) {
			json_decref(req);
			service_error(pc, ECA_ERR_TOO_LARGE, "bulk transfer "
			    "of %lld bytes refused (0 to %lld)", (long long)n,
			    (long long)ECA_BULK_MAX);
			return;
		}
		pc->remaining = pc->total = n;
		if (strcmp(op, "send") == 0) {
			json_decref(req);
			pc->state = PS_BULK_IN;
			continue;
		}
		if (strcmp(op, "receive") != 0) {
			char shown[48];

			eca_text_sanitize(op, strlen(op), shown,
			    sizeof(shown));
			service_error(pc, ECA_ERR_PROTOCOL, "unknown bulk "
			    "op \"%s\" (send or receive)", shown);
			json_decref(req);
			return;
		}
		json_decref(req);
		/*
		 * Reading waits (no idle timeout meanwhile); write_cb
		 * refills below the low watermark.
		 */
		pc->state = PS_BULK_OUT;
		bufferevent_disable(pc->bev, EV_READ);
		bufferevent_setwatermark(pc->bev, EV_WRITE, PEER_OUT_LOW, 0);
		bulk_fill(pc);
		return;
	}
}

/*
 * Has anything the verdict depended on changed since it was reached?
 * One snapshot reference, the CRL cache's and the domain's locks.
 */
static int
verdict_stale(struct pconn *pc)
{
	struct ecad_snap *s = ecad_snap_get(pc->t->p->d);
	struct eca_domain *dom;
	int stale;

	stale = s->gen != pc->gen_snap;
	if (!stale && s->host != NULL) {
		stale = eca_crl_cache_gen(s->host->policy.crls) !=
		    pc->gen_crls;
		if (!stale && (dom = eca_host_domain(s->host,
		    pc->hello.primary)) != NULL)
			stale = eca_domain_roster_version(dom) !=
			    pc->gen_roster;
	}
	ecad_snap_put(s);
	return stale;
}

static void
conn_read(struct pconn *pc)
{
	struct evbuffer *in = bufferevent_get_input(pc->bev);
	unsigned char *payload;
	size_t flen;
	int r;

	switch (pc->state) {
	case PS_HELLO:
		if ((r = frame_peek(pc, &payload, &flen)) == 1)
			return;
		if (r != 0) {
			memset(&pc->hello, 0, sizeof(pc->hello));
			snprintf(pc->hello.host, sizeof(pc->hello.host), "?");
			pre_refuse(pc, r, "bad client HELLO frame: %s",
			    eca_strerror(r));
		} else {
			on_client_hello(pc, payload, flen - 4);
			evbuffer_drain(in, flen);
		}
		judge_submit(pc);
		return;
	case PS_SERVING:
		if (evbuffer_get_length(in) > 0 && verdict_stale(pc)) {
			/* Trust, CRLs or roster moved: judge it again first. */
			pc->rejudge = 1;
			pc->resumed = 1;	/* no roster wait this time */
			judge_submit(pc);
			return;
		}
		/* FALLTHROUGH */
	case PS_BULK_IN:
		if (pc->echo)
			serve_echo(pc);
		else
			serve_bulk(pc);
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
	conn_read(arg);
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct pconn *pc = arg;

	switch (pc->state) {
	case PS_BULK_OUT:
		bulk_fill(pc);
		return;
	case PS_SERVING:
		if (pc->throttled &&
		    evbuffer_get_length(bufferevent_get_output(bev)) <
		    PEER_OUT_LOW) {
			pc->throttled = 0;
			bufferevent_enable(bev, EV_READ);
			conn_read(pc);
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

	memset(&h, 0, sizeof(h));
	eca_err_clear(&e);
	s = ecad_snap_get(d);
	snprintf(h.host, sizeof(h.host), "%s", s->cfg->client_name);
	h.role = s->cfg->role;
	for (i = 0; i < s->cfg->nservers && i < ECA_MAX_SERVERS; i++)
		snprintf(h.primaries[h.nprimaries++], ECA_HOST_MAX, "%s",
		    s->cfg->servers[i].name);
	h.has_cert = s->cred != NULL;
	ecad_snap_put(s);
	if ((r = eca_channel_server_hello_encode(&h, &buf, &len, &e)) != 0 ||
	    bufferevent_write(pc->bev, buf, len) != 0) {
		log_error("peer %s: cannot send the server HELLO: %s",
		    pc->addr, r != 0 ? e.msg : "out of memory");
		free(buf);
		conn_free(pc);
		return;
	}
	free(buf);
	pc->state = PS_HELLO;
	conn_read(pc);
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
		    "IDLE_TIMEOUT", pc->hello.host, pc->addr);
	else if (pc->state == PS_BULK_IN || pc->state == PS_BULK_OUT)
		log_info("peer channel from %s (%s) closed mid-transfer, "
		    "%lld of %lld bytes left", pc->hello.host, pc->addr,
		    (long long)pc->remaining, (long long)pc->total);
	else
		log_debug("peer channel from %s (%s) closed",
		    pc->hello.host[0] != '\0' ? pc->hello.host : "?",
		    pc->addr);
	conn_free(pc);
}

static void judge_submit(struct pconn *);

/* Ask the sync thread for a roster sync soon (rate-limited there). */
static void
want_sync(struct ecad_peer *p)
{
	pthread_mutex_lock(&p->lock);
	p->sync_wanted = 1;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
}

/*
 * A parked judgment, every PEER_PARK_TICK_MS on its I/O thread: back to
 * a judge once a sync has finished since it was parked (and, when it
 * waits for the caller's enrollment, the caller is in the roster), or
 * when its wait is over.  Looking costs the domain's lock, no network.
 */
static void
park_tick(struct pconn *pc)
{
	struct eca_roster_entry entry;
	struct timeval tv = { 0, PEER_PARK_TICK_MS * 1000 };
	int64_t synced = 0;
	int lr;

	lr = eca_domain_peek(pc->snap->host, pc->dom, pc->hello.host, &entry,
	    &synced, NULL);
	if (mono_ms() >= pc->park_until || (synced > pc->park_synced &&
	    (!pc->wait_enroll || (lr == 0 &&
	    entry.state != ECA_STATE_REMOVED)))) {
		park_release(pc);
		pc->resumed = 1;
		judge_submit(pc);
		return;
	}
	/* Still waiting for an enrollment in flight: sync again. */
	if (synced > pc->park_synced)
		want_sync(pc->t->p);
	evtimer_add(pc->timer, &tv);
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
		park_tick(pc);
		return;
	}
	if (pc->state != PS_CLOSING)
		log_info("peer %s: closed, no client HELLO within "
		    "REQUEST_TIMEOUT (%d s)", pc->addr,
		    d->cfg->request_timeout);
	conn_free(pc);
}

/* The verdict is in (on the connection's own thread). */
static void
judged_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pconn *pc = arg;
	struct ecad *d = pc->t->p->d;
	struct eca_err e;
	unsigned char *buf = NULL;
	size_t len = 0;
	struct timeval tv;
	int r;

	(void)fd;
	(void)what;
	pc->state = PS_CLOSING;		/* no judge holds it any more */
	if (pc->dead) {
		log_info("peer channel from %s (%s): closed by the peer "
		    "before the verdict", pc->hello.host, pc->addr);
		conn_free(pc);
		return;
	}
	if (pc->rejudge) {
		pc->rejudge = 0;
		if (pc->v.accept) {
			log_info("peer channel from %s (%s), fingerprint %s: "
			    "judged again after a change of trust store, "
			    "CRLs or roster: still accepted", pc->hello.host,
			    pc->addr, pc->fingerprint);
			pc->state = PS_SERVING;
			bufferevent_enable(pc->bev, EV_READ);
			conn_read(pc);
			return;
		}
		pc->state = PS_SERVING;
		service_error(pc, pc->v.code, "judged again after a change of "
		    "trust store, CRLs or roster: %s", pc->v.message);
		return;
	}
	if (pc->parked) {
		/* Waits for a roster sync here, not on a judge. */
		pc->parked = 0;
		pc->state = PS_PARKED;
		tv.tv_sec = 0;
		tv.tv_usec = PEER_PARK_TICK_MS * 1000;
		evtimer_add(pc->timer, &tv);
		return;
	}
	handshake_done(pc);
	if (pc->v.accept)
		log_info_fields(ECA_LOG_FIELDS({ "HOST", pc->hello.host },
		    { "FINGERPRINT", pc->fingerprint },
		    { "REASON", "ACCEPTED" }, { "PRIMARY", pc->v.primary }),
		    "peer channel from %s (%s), fingerprint %s, "
		    "primary %s, purpose %s: accepted", pc->hello.host,
		    pc->addr, pc->fingerprint, pc->v.primary,
		    eca_purpose_name(pc->hello.purpose));
	else
		log_info_fields(ECA_LOG_FIELDS({ "HOST", pc->hello.host },
		    { "FINGERPRINT", pc->fingerprint },
		    { "REASON", eca_err_name(pc->v.code) },
		    { "PRIMARY", pc->v.primary }),
		    "peer channel from %s (%s), fingerprint %s, "
		    "primary %s, purpose %s: refused %s: %s", pc->hello.host,
		    pc->addr, pc->fingerprint[0] != '\0' ? pc->fingerprint :
		    "none", pc->v.primary[0] != '\0' ? pc->v.primary : "none",
		    eca_purpose_name(pc->hello.purpose),
		    eca_err_name(pc->v.code), pc->v.message);
	eca_err_clear(&e);
	if ((r = eca_channel_verdict_encode(&pc->v, &buf, &len, &e)) != 0 ||
	    bufferevent_write(pc->bev, buf, len) != 0) {
		log_error("peer %s: cannot send the verdict: %s", pc->addr,
		    r != 0 ? e.msg : "out of memory");
		free(buf);
		conn_free(pc);
		return;
	}
	free(buf);
	if (!pc->v.accept) {
		conn_closing(pc);
		return;
	}
	pc->state = PS_SERVING;
	pc->echo = pc->hello.purpose == ECA_PURPOSE_PING ||
	    pc->hello.purpose == ECA_PURPOSE_CONSOLE ||
	    pc->hello.purpose == ECA_PURPOSE_CONTROL;
	tv.tv_sec = d->cfg->idle_timeout;
	tv.tv_usec = 0;
	bufferevent_set_timeouts(pc->bev, &tv, &tv);
	bufferevent_enable(pc->bev, EV_READ | EV_WRITE);
	conn_read(pc);
}

static void refuse(struct pconn *, int, const char *, ...) ECA_PRINTF(3, 4);
static void
refuse(struct pconn *pc, int code, const char *fmt, ...)
{
	va_list ap;

	pc->v.accept = 0;
	pc->v.code = code;
	va_start(ap, fmt);
	vsnprintf(pc->v.message, sizeof(pc->v.message), fmt, ap);
	va_end(ap);
}

/*
 * Park pc (a judge thread, which holds it) until dom's roster has been
 * synced, and with wait_enroll until the caller appears in it: 0, or -1
 * when the caller's source (or, waiting for an enrollment, its
 * certificate) already has all the waits it may, and pc is refused BUSY.
 * s is the judge's snapshot; pc keeps a reference of its own.
 */
static int
park(struct ecad_peer *p, struct pconn *pc, struct ecad_snap *s,
    struct eca_domain *dom, int64_t synced, int wait_enroll,
    const char *fphex)
{
	uint8_t fp[ECA_ROSTER_FP_LEN];
	int n = 0;

	if (ecad_keymap_take(p->waits_src, pc->src,
	    s->cfg->peer_enroll_waits_per_source, &n) != 1) {
		refuse(pc, ECA_ERR_BUSY, "%s is busy: %d channels from %s "
		    "already wait for a roster sync or an enrollment in "
		    "flight (PEER_ENROLL_WAITS_PER_SOURCE); retry in 1 s",
		    s->cfg->client_name, n, pc->addr);
		return -1;
	}
	pc->wait_src_taken = 1;
	if (wait_enroll && eca_roster_fp_from_hex(fphex, fp) == 0) {
		memset(pc->fpkey, 0, sizeof(pc->fpkey));
		memcpy(pc->fpkey, fp, sizeof(fp));
		if (ecad_keymap_take(p->waits_fp, pc->fpkey, 1, NULL) != 1) {
			ecad_keymap_put(p->waits_src, pc->src);
			pc->wait_src_taken = 0;
			refuse(pc, ECA_ERR_BUSY, "%s is busy: another channel "
			    "with the certificate of %s already waits for its "
			    "enrollment with %s; retry in 1 s",
			    s->cfg->client_name, pc->hello.host,
			    pc->hello.primary);
			return -1;
		}
		pc->wait_fp_taken = 1;
	}
	atomic_fetch_add(&s->refs, 1);
	pc->snap = s;
	pc->dom = dom;
	pc->park_synced = synced;
	pc->park_until = mono_ms() + ECA_ENROLL_WAIT_MS;
	pc->wait_enroll = wait_enroll;
	pc->parked = 1;
	want_sync(p);
	return 0;
}

/*
 * Log what this host did about its own enrollment while judging pc (the
 * library does not log: judge.h).
 */
static void
log_self_enrollment(const struct eca_config *cfg, const struct pconn *pc,
    const struct eca_judge_result *res)
{
	if (res->end == ECA_JUDGE_END_ENROLL)
		log_warn("auto-enrollment of %s with %s (first channel from "
		    "%s) failed: %s", cfg->client_name, pc->hello.primary,
		    pc->hello.host, res->enroll_err.msg);
	else if (res->autoenrolled)
		log_info("auto-enrolled %s with %s (first channel from %s, "
		    "purpose %s): %s", cfg->client_name, pc->hello.primary,
		    pc->hello.host, eca_purpose_name(pc->hello.purpose),
		    eca_outcome_name(res->outcome));
}

/*
 * The one judging path (judge.h) for a caller whose domain is dom: the
 * verdict into pc->v, or pc parked until a roster sync (a judge never
 * waits for the roster).  A resumed judgment checks the certificate
 * again: keeping its check for a parked connection would cost more
 * memory than the verification cache takes time.
 */
static void
judge_caller(struct ecad *d, struct pconn *pc, struct ecad_snap *s,
    struct eca_domain *dom)
{
	struct eca_judge_input in;
	struct eca_judge_result res;
	int r;

	memset(&in, 0, sizeof(in));
	in.side = ECA_JUDGE_ACCEPTING;
	in.h = s->host;
	in.d = dom;
	in.primary = pc->hello.primary;
	in.peer = pc->hello.host;
	in.leaf = pc->leaf;
	in.chain = pc->chain;
	in.purpose = pc->hello.purpose;
	in.peer_side.role = pc->hello.role;
	in.peer_side.has_cert = pc->hello.has_cert;
	in.has_autoenroll = pc->hello.has_autoenroll;
	in.autoenroll = pc->hello.autoenroll;
	in.resumed = pc->resumed;
	eca_judge_init(&res);
	r = eca_judge_peer(&in, &res);
	log_self_enrollment(s->cfg, pc, &res);
	if (res.cert_done)
		snprintf(pc->fingerprint, sizeof(pc->fingerprint), "%s",
		    res.cert.info.fingerprint);
	if (r == ECA_JUDGE_NEED_SYNC) {
		(void)park(d->peer, pc, s, dom, res.synced, res.wait_enroll,
		    res.cert.info.fingerprint);
		return;
	}
	pc->v.accept = r == 0;
	pc->v.code = r;
	snprintf(pc->v.message, sizeof(pc->v.message), "%s",
	    res.verdict.message);
}

/*
 * Judge one caller (a judge thread).  What only the accepting end knows
 * comes first: a refusal decided while reading the HELLO, a host without
 * a certificate, a primary this host does not share; then the one
 * judging path.  The snapshot's, the CRL cache's and the roster's
 * generations are read before judging: a change while judging means the
 * next frame is judged once more.
 */
static void
judge(struct ecad *d, struct pconn *pc)
{
	struct ecad_snap *s = ecad_snap_get(d);
	const struct eca_config *cfg = s->cfg;
	struct eca_host *h = s->host;
	struct eca_domain *dom;

	memset(&pc->v, 0, sizeof(pc->v));
	snprintf(pc->v.primary, sizeof(pc->v.primary), "%s",
	    pc->hello.primary);
	pc->gen_snap = s->gen;
	pc->gen_crls = h != NULL ? eca_crl_cache_gen(h->policy.crls) : 0;
	pc->gen_roster = 0;
	if (pc->pre_code != 0)
		refuse(pc, pc->pre_code, "%s", pc->pre_msg);
	else if (h == NULL)
		refuse(pc, ECA_ERR_CONFIG, "%s has no certificate configured "
		    "(ECA_CERT_PATH) and takes no channels", cfg->client_name);
	else if ((dom = eca_host_domain(h, pc->hello.primary)) == NULL)
		refuse(pc, ECA_ERR_FORBIDDEN, "%s asked for a channel in the "
		    "domain of primary %s, which %s does not belong to; "
		    "add SERVER = %s to %s's configuration, or use a primary "
		    "both hosts list", pc->hello.host, pc->hello.primary,
		    cfg->client_name, pc->hello.primary, cfg->client_name);
	else {
		pc->gen_roster = eca_domain_roster_version(dom);
		judge_caller(d, pc, s, dom);
	}
	ecad_snap_put(s);
}

static void *
judge_main(void *arg)
{
	struct ecad_peer *p = arg;
	struct pconn *pc;

	for (;;) {
		pthread_mutex_lock(&p->lock);
		while (!p->stopping && p->qhead == NULL)
			pthread_cond_wait(&p->work, &p->lock);
		if (p->stopping) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		pc = p->qhead;
		if ((p->qhead = pc->qnext) == NULL)
			p->qtail = NULL;
		pthread_mutex_unlock(&p->lock);
		judge(p->d, pc);
		event_active(pc->judged_ev, EV_TIMEOUT, 0);
	}
	return NULL;
}

/*
 * Sync every domain's roster now; failures are logged.  on_miss: for
 * parked judgments, at most once per ECA_ROSTER_MISS_INTERVAL per domain
 * (this thread waits for the interval, nobody else does).
 */
static void
sync_all(struct ecad *d, int on_miss)
{
	struct ecad_snap *s = ecad_snap_get(d);
	struct eca_err e;
	size_t i;

	for (i = 0; s->host != NULL && i < s->host->ndomains; i++) {
		eca_err_clear(&e);
		/* host.c has logged the failure itself. */
		if (eca_domain_sync(s->host, &s->host->domains[i], on_miss,
		    &e) != 0)
			log_info("next roster sync with %s in %d s",
			    s->host->domains[i].server->name,
			    s->cfg->roster_sync_seconds);
		else
			log_debug("roster of %s synced",
			    s->host->domains[i].server->name);
	}
	ecad_snap_put(s);
}

static int
ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec &&
	    a->tv_nsec < b->tv_nsec);
}

/*
 * Every ECA_ROSTER_SYNC_SECONDS, and whenever a parked judgment asks
 * (want_sync): the one thread that waits for the primaries.
 */
static void *
sync_main(void *arg)
{
	struct ecad_peer *p = arg;
	struct ecad_snap *s;
	struct timespec next, now;
	int every, wanted;

	clock_gettime(CLOCK_MONOTONIC, &next);	/* the first sync: now */
	for (;;) {
		pthread_mutex_lock(&p->lock);
		for (;;) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (p->stopping || p->sync_wanted ||
			    !ts_before(&now, &next))
				break;
			(void)pthread_cond_timedwait(&p->wake, &p->lock,
			    &next);
		}
		if (p->stopping) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		wanted = p->sync_wanted;
		p->sync_wanted = 0;
		pthread_mutex_unlock(&p->lock);
		sync_all(p->d, wanted && ts_before(&now, &next));
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!ts_before(&now, &next) || !wanted) {
			s = ecad_snap_get(p->d);
			every = s->cfg->roster_sync_seconds > 0 ?
			    s->cfg->roster_sync_seconds : 300;
			ecad_snap_put(s);
			next = now;
			next.tv_sec += every;
		}
	}
	return NULL;
}

static void
accept_cb(struct evconnlistener *lis, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct peer_thread *t = arg;
	struct ecad_peer *p = t->p;
	struct ecad *d = p->d;
	struct pconn *pc = NULL;
	struct ecad_snap *s;
	struct timeval tv;
	char host[INET6_ADDRSTRLEN], port[8];
	unsigned char src[ECAD_KEY_LEN];
	SSL *ssl = NULL;
	long long open, hs;
	int src_counted = 0, r;

	(void)lis;
	open = atomic_fetch_add(&p->open, 1) + 1;
	if (open > d->cfg->max_connections) {
		atomic_fetch_sub(&p->open, 1);
		if (time(NULL) != t->cap_logged) {
			t->cap_logged = time(NULL);
			log_warn("peer connection refused: %lld open, "
			    "MAX_CONNECTIONS is %d", open - 1,
			    d->cfg->max_connections);
		}
		evutil_closesocket(fd);
		return;
	}
	/*
	 * Counted from accept, so silent sockets count too: one address
	 * cannot fill MAX_CONNECTIONS, nor the handshake slots.  Closed at
	 * once over either cap, before any TLS work.
	 */
	if (ecad_addr_key(sa, src, host, sizeof(host)) == 0) {
		r = ecad_keymap_take(p->srcmap, src,
		    d->cfg->peer_max_connections_per_source, NULL);
		if (r == 0) {
			if (time(NULL) != t->src_cap_logged) {
				t->src_cap_logged = time(NULL);
				log_warn("peer connection from %s refused: it "
				    "has %d open, PEER_MAX_CONNECTIONS_PER_"
				    "SOURCE is %d", host,
				    d->cfg->peer_max_connections_per_source,
				    d->cfg->peer_max_connections_per_source);
			}
			goto refused;
		}
		src_counted = r == 1;
	}
	if (!ecad_slot_take(&p->handshakes, d->cfg->peer_max_handshakes,
	    &hs)) {
		if (time(NULL) != t->hs_logged) {
			t->hs_logged = time(NULL);
			log_warn("peer connection refused: %lld handshakes in "
			    "progress, PEER_MAX_HANDSHAKES is %d", hs - 1,
			    d->cfg->peer_max_handshakes);
		}
		goto refused;
	}
	if ((pc = calloc(1, sizeof(*pc))) == NULL) {
		ecad_slot_put(&p->handshakes);
		goto fail;
	}
	pc->t = t;
	pc->in_handshake = 1;
	memcpy(pc->src, src, sizeof(src));
	pc->src_counted = src_counted;
	src_counted = 0;
	if (getnameinfo(sa, (socklen_t)salen, host, sizeof(host), port,
	    sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(pc->addr, sizeof(pc->addr), "?");
	else
		snprintf(pc->addr, sizeof(pc->addr), "%s:%s", host, port);
	if ((pc->timer = evtimer_new(t->base, timer_cb, pc)) == NULL ||
	    (pc->judged_ev = event_new(t->base, -1, 0, judged_cb, pc)) ==
	    NULL)
		goto fail;
	s = ecad_snap_get(d);
	ssl = s->peer_ctx != NULL ? SSL_new(s->peer_ctx) : NULL;
	ecad_snap_put(s);
	if (ssl == NULL)
		goto fail;
	pc->bev = bufferevent_openssl_socket_new(t->base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (pc->bev == NULL)
		goto fail;
	ssl = NULL;
	fd = -1;
	bufferevent_openssl_set_allow_dirty_shutdown(pc->bev, 1);
	bufferevent_setcb(pc->bev, read_cb, write_cb, event_cb, pc);
	bufferevent_setwatermark(pc->bev, EV_READ, 0, PEER_READ_MAX);
	bufferevent_enable(pc->bev, EV_READ | EV_WRITE);
	/* The whole handshake phase: TLS and both HELLOs. */
	tv.tv_sec = d->cfg->request_timeout;
	tv.tv_usec = 0;
	evtimer_add(pc->timer, &tv);
	pc->state = PS_TLS;
	pc->next = t->conns;
	if (t->conns != NULL)
		t->conns->prev = pc;
	t->conns = pc;
	return;
fail:
	log_error("cannot set up a peer connection: out of memory");
	SSL_free(ssl);
	if (pc != NULL) {
		if (pc->timer != NULL)
			event_free(pc->timer);
		if (pc->judged_ev != NULL)
			event_free(pc->judged_ev);
		handshake_done(pc);
		if (pc->src_counted)
			ecad_keymap_put(p->srcmap, pc->src);
		free(pc);
	}
refused:
	if (src_counted)
		ecad_keymap_put(p->srcmap, src);
	if (fd >= 0)
		evutil_closesocket(fd);
	atomic_fetch_sub(&p->open, 1);
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
	for (i = 0; i < t->nfds; i++) {
		if (t->lis[i] != NULL)
			evconnlistener_free(t->lis[i]);
		t->lis[i] = NULL;
	}
	/* The judges are gone: a JUDGING connection is ours again. */
	while ((pc = t->conns) != NULL) {
		if (pc->state == PS_JUDGING)
			pc->state = PS_CLOSING;
		conn_free(pc);
	}
	event_base_loopbreak(t->base);
}

static void *
thread_main(void *arg)
{
	struct peer_thread *t = arg;

	event_base_dispatch(t->base);
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
 * Bind LISTEN once per I/O thread, before privileges are dropped.  Port 0
 * (tests) gets one I/O thread on the first address.  When LISTEN is the
 * default and cannot be bound (another ecad on this machine), the daemon
 * runs without a peer listener and says so; an explicit LISTEN that
 * cannot be bound is fatal.
 */
int
peer_bind(struct ecad *d, struct eca_err *err)
{
	const struct eca_endpoint *ep = &d->cfg->listen;
	struct addrinfo hints, *res = NULL, *ai;
	struct ecad_peer *p = NULL;
	struct ecad_snap *s;
	pthread_condattr_t ca;
	const char *host;
	char port[NI_MAXSERV], ahost[NI_MAXHOST];
	size_t i, n;
	long nproc;
	int r = 0, e, has_host;

	d->peer_desc[0] = '\0';
	s = ecad_snap_get(d);
	has_host = s->host != NULL;
	ecad_snap_put(s);
	if (!has_host) {
		log_info("no certificate configured: no peer listener");
		return 0;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
	p->d = d;
	atomic_init(&p->open, 0);
	atomic_init(&p->handshakes, 0);
	if (ecad_keymap_new(&p->srcmap) != 0 ||
	    ecad_keymap_new(&p->waits_src) != 0 ||
	    ecad_keymap_new(&p->waits_fp) != 0) {
		ecad_keymap_free(p->srcmap);
		ecad_keymap_free(p->waits_src);
		free(p);
		return eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->wake, &ca);
	pthread_condattr_destroy(&ca);
	host = ep->host;
	if (host != NULL && (strcmp(host, "*") == 0 || host[0] == '\0'))
		host = NULL;
	snprintf(port, sizeof(port), "%s",
	    ep->port != NULL ? ep->port : ECA_DEFAULT_PEER_PORT);
	/*
	 * Each connection stays on the thread the kernel's SO_REUSEPORT
	 * hash gave it, and its TLS handshake runs there: with one thread
	 * per core, connections that hash unevenly leave a core idle while
	 * another thread has a queue.  Twice as many threads as cores keep
	 * them busy (bench/peer.sh: 1.86 of 2 cores used with 2 threads,
	 * 1.95 with 4).
	 */
	n = d->cfg->workers > 0 ? (size_t)d->cfg->workers : 0;
	if (n == 0) {
		nproc = sysconf(_SC_NPROCESSORS_ONLN);
		n = (nproc > 0 ? (size_t)nproc : 1) * PEER_IO_PER_CPU;
		if (n < PEER_IO_MIN)
			n = PEER_IO_MIN;
		if (n > PEER_IO_MAX)
			n = PEER_IO_MAX;
	}
	if (strcmp(port, "0") == 0)
		n = 1;
	if ((p->threads = calloc(n, sizeof(*p->threads))) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
		goto out;
	}
	p->nthreads = n;
	for (i = 0; i < n; i++) {
		p->threads[i].p = p;
		p->threads[i].id = (int)i;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0) {
		r = eca_err_set(err, ECA_ERR_CONFIG, "cannot resolve LISTEN "
		    "%s:%s: %s (use an address of this host or *)",
		    host != NULL ? host : "*", port, gai_strerror(e));
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct peer_thread *t = &p->threads[i];

		for (ai = res; ai != NULL && t->nfds < ECAD_MAX_LISTEN;
		    ai = ai->ai_next) {
			if (ecad_listen_socket(ai, i == 0 && strcmp(port, "0") != 0,
			    &t->fds[t->nfds]) != 0) {
				e = errno;
				if (getnameinfo(ai->ai_addr, ai->ai_addrlen,
				    ahost, sizeof(ahost), NULL, 0,
				    NI_NUMERICHOST) != 0)
					snprintf(ahost, sizeof(ahost), "?");
				if (listen_is_default(ep)) {
					log_warn("no peer listener: cannot "
					    "listen on %s port %s (the default "
					    "LISTEN): %s; set LISTEN in %s",
					    ahost, port, strerror(e),
					    d->conf_path);
					goto out;
				}
				r = eca_err_set(err, ECA_ERR_IO, "cannot "
				    "listen on %s port %s (LISTEN, the peer "
				    "listener): %s (is another ecad or "
				    "service using the port?)", ahost, port,
				    strerror(e));
				goto out;
			}
			if (t->nfds++ == 0 && strcmp(port, "0") == 0)
				break;
		}
	}
	if (strcmp(port, "0") == 0 &&
	    ecad_bound_port(p->threads[0].fds[0], port, sizeof(port)) != 0)
		snprintf(port, sizeof(port), "0");
	snprintf(d->peer_desc, sizeof(d->peer_desc), "%s:%s",
	    host != NULL ? host : "*", port);
	d->peer = p;
	p = NULL;
out:
	if (res != NULL)
		freeaddrinfo(res);
	if (p != NULL) {
		close_fds(p);
		ecad_keymap_free(p->srcmap);
		ecad_keymap_free(p->waits_src);
		ecad_keymap_free(p->waits_fp);
		free(p->threads);
		pthread_mutex_destroy(&p->lock);
		pthread_cond_destroy(&p->work);
		pthread_cond_destroy(&p->wake);
		free(p);
	}
	return r;
}

/* A snapshot's peer TLS context and host (snap_build, every reload). */
int
peer_snap_setup(struct ecad *d, struct ecad_snap *s, struct eca_err *err)
{
	int r;

	if (s->cred == NULL)
		return 0;
	/* A primary lists itself in SERVER: config.c adds it (own domain). */
	if ((r = eca_tls_server_ctx(NULL, s->cred, &s->peer_ctx, err)) != 0)
		return r;
	/* As the API's: bound a client's Certificate message. */
	SSL_CTX_set_max_cert_list(s->peer_ctx, ECAD_CERT_LIST_MAX);
	if ((r = eca_host_new(NULL, s->cfg, &s->host, err)) != 0)
		return r;
	s->host->persist_rosters = 1;
	if (s->host->policy.crls == NULL)
		s->host->policy.crls = d->crls;
	return 0;
}

int
peer_start(struct ecad *d, struct eca_err *err)
{
	struct ecad_peer *p = d->peer;
	struct ecad_snap *s;
	sigset_t all, old;
	size_t i, j;
	int e, r = 0;

	if (p == NULL)
		return 0;
	/* The CRL cache exists now (crl_start); the first host lacked it. */
	s = ecad_snap_get(d);
	if (s->host != NULL && s->host->policy.crls == NULL)
		s->host->policy.crls = d->crls;
	if (s->host != NULL && s->host->ndomains == 0)
		log_warn("no SERVER in %s: every peer channel will be refused "
		    "(add SERVER = PRIMARY for each domain this host is in%s)",
		    d->conf_path, d->cfg->role == ECA_ROLE_PRIMARY ?
		    ", this primary's own name included" : "");
	ecad_snap_put(s);
	for (i = 0; i < p->nthreads; i++) {
		struct peer_thread *t = &p->threads[i];

		if ((t->base = event_base_new()) == NULL ||
		    (t->stop_ev = event_new(t->base, -1, 0, thread_stop_cb,
		    t)) == NULL)
			return eca_err_set(err, ECA_ERR_NOMEM, "cannot create "
			    "peer thread %zu's event loop", i);
		for (j = 0; j < t->nfds; j++) {
			t->lis[j] = evconnlistener_new(t->base, accept_cb, t,
			    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0,
			    t->fds[j]);
			if (t->lis[j] == NULL)
				return eca_err_set(err, ECA_ERR_IO, "peer "
				    "thread %zu cannot accept on its socket",
				    i);
			t->fds[j] = -1;	/* the listener owns it */
		}
	}
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (i = 0; i < p->nthreads && r == 0; i++) {
		if ((e = pthread_create(&p->threads[i].thread, NULL,
		    thread_main, &p->threads[i])) != 0)
			r = eca_err_set(err, ECA_ERR_INTERNAL, "cannot start "
			    "peer thread %zu: %s", i, strerror(e));
		else
			p->threads[i].started = 1;
	}
	for (i = 0; i < PEER_JUDGES && r == 0; i++) {
		if ((e = pthread_create(&p->judges[i], NULL, judge_main,
		    p)) != 0)
			r = eca_err_set(err, ECA_ERR_INTERNAL, "cannot start "
			    "peer judge %zu: %s", i, strerror(e));
		else
			p->njudges++;
	}
	if (r == 0) {
		if ((e = pthread_create(&p->sync_thread, NULL, sync_main,
		    p)) != 0)
			r = eca_err_set(err, ECA_ERR_INTERNAL, "cannot start "
			    "the roster sync thread: %s", strerror(e));
		else
			p->sync_started = 1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r == 0)
		log_info("peer listener on %s: %zu I/O thread(s), %d judge(s), "
		    "roster sync every %d s", d->peer_desc, p->nthreads,
		    PEER_JUDGES, d->cfg->roster_sync_seconds);
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
			conn_free(pc);
		}
		if (t->stop_ev != NULL)
			event_free(t->stop_ev);
		if (t->base != NULL)
			event_base_free(t->base);
	}
	close_fds(p);
	ecad_keymap_free(p->srcmap);
	ecad_keymap_free(p->waits_src);
	ecad_keymap_free(p->waits_fp);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->wake);
	free(p->threads);
	free(p);
	d->peer = NULL;
}
