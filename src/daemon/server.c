/* SPDX-License-Identifier: ISC */
/*
 * server.c - the worker threads and their TLS listeners.
 *
 * Each worker has its own event base, its own evhttp on the listening
 * socket(s) of API_LISTEN, which all workers share (listen.c; a busier
 * worker takes one connection per turn, ecad_pace), and its own
 * read-only registry connection: workers share nothing else but the
 * writer queue, the counters and the reloadable TLS snapshot.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
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
#include <event2/bufferevent_struct.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <openssl/ssl.h>

#include "ecad.h"
#include "log.h"
#include "tls.h"
#include "wire.h"

/* The peer's address as a keymap key and as text (limits.c). */
static int
peer_addr(evutil_socket_t fd, unsigned char addr[ECAD_KEY_LEN], char *text,
    size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sl) == -1)
		return -1;
	return ecad_addr_key((struct sockaddr *)&ss, addr, text, len);
}

static void
conn_free_cb(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
    void *argp)
{
	struct ecad_conn *cn = ptr;

	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (cn == NULL)
		return;
	/* The SSL is freed with its bufferevent: the connection is closed. */
	cn->w->conns--;
	atomic_fetch_sub(&cn->w->d->stats.open, 1);
	if (!cn->hs_done)
		eca_metrics_handshake(&cn->w->d->metrics, ECA_METRICS_API, 0);
	server_handshake_done(cn);
	if (cn->src_counted)
		ecad_keymap_put(cn->w->d->srcmap, cn->src);
	if (cn->timer != NULL)
		event_free(cn->timer);
	if (cn->kick != NULL)
		event_free(cn->kick);
	X509_free(cn->leaf);
	eca_certinfo_clear(&cn->info);
	free(cn);
}

/*
 * Refuse a connection over MAX_CONNECTIONS at its first message, before
 * any key exchange: cheap for us, a clear handshake failure for the
 * client.  (libevent gives us no hook between accept() and the
 * bufferevent, and a NULL bufferevent would make evhttp serve plain HTTP.)
 */
static int
client_hello_cb(SSL *ssl, int *al, void *arg)
{
	struct ecad *d = arg;
	struct ecad_conn *cn;

	cn = SSL_get_ex_data(ssl, d->ssl_idx);
	if (cn == NULL || cn->over_cap) {
		*al = SSL_AD_INTERNAL_ERROR;
		return SSL_CLIENT_HELLO_ERROR;
	}
	return SSL_CLIENT_HELLO_SUCCESS;
}

/*
 * Read-ahead.  OpenSSL reads what the socket holds in one read() instead
 * of each record's header and body apart (13 reads per enrollment down to
 * 3), but libevent 2.1's TLS bufferevent does not see a record read
 * ahead: after each record it asks only SSL_pending() (the rest of that
 * record) and otherwise waits for the socket to be readable again.  A
 * request that came with the client's Finished, or a body sent as a
 * record of its own, would then wait for the request deadline.  So each
 * time records may wait inside OpenSSL (the handshake is over, a read
 * added data, a reply went out and evhttp reads again) the connection is
 * kicked: on the next turn of the loop, if it reads and OpenSSL holds
 * bytes, the bufferevent's own read callback runs once more, as if the
 * socket were readable.
 */
static void
conn_kick_cb(evutil_socket_t unused, short what, void *arg)
{
	struct ecad_conn *cn = arg;
	SSL *ssl;

	(void)unused;
	(void)what;
	if (cn->bev == NULL ||
	    (bufferevent_get_enabled(cn->bev) & EV_READ) == 0 ||
	    (ssl = bufferevent_openssl_get_ssl(cn->bev)) == NULL ||
	    !SSL_has_pending(ssl))
		return;
	event_active(&cn->bev->ev_read, EV_READ, 1);
}

static void
conn_kick(struct ecad_conn *cn, const SSL *ssl)
{
	if (cn->kick != NULL && SSL_has_pending(ssl))
		event_active(cn->kick, EV_TIMEOUT, 0);
}

static void
conn_input_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct ecad_conn *cn = arg;
	SSL *ssl;

	(void)buf;
	if (info->n_added > 0 && cn->bev != NULL &&
	    (ssl = bufferevent_openssl_get_ssl(cn->bev)) != NULL)
		conn_kick(cn, ssl);
}

/* A completed handshake, counted once (TLS 1.3 tickets call again). */
static void
info_cb(const SSL *ssl, int where, int ret)
{
	struct ecad *d;
	struct ecad_conn *cn;

	eca_tls_server_info_cb(ssl, where, ret);
	if (!(where & SSL_CB_HANDSHAKE_DONE) ||
	    (d = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl))) == NULL ||
	    (cn = SSL_get_ex_data(ssl, d->ssl_idx)) == NULL)
		return;
	conn_kick(cn, ssl);
	if (cn->hs_done)
		return;
	cn->hs_done = 1;
	eca_metrics_handshake(&cn->w->d->metrics, ECA_METRICS_API, 1);
}

void
server_handshake_done(struct ecad_conn *cn)
{
	if (!cn->in_handshake)
		return;
	cn->in_handshake = 0;
	ecad_pace_load(&cn->w->pace, -1);
	ecad_slot_put(&cn->w->d->stats.handshakes);
}

/*
 * Storm control: a connection beyond MAX_HANDSHAKES admitted handshakes
 * in progress still completes its handshake (a 429 can only be sent
 * inside TLS), but it takes no slot, its certificate is not checked and
 * its request is answered 429 BUSY with Retry-After, then closed
 * (api_tls_cb).  Only admitted connections hold a slot, so the ones
 * admitted always make progress.
 */
static void
admit_handshake(struct ecad_worker *w, struct ecad_conn *cn)
{
	struct ecad *d = w->d;
	long long hs;

	if (ecad_slot_take(&d->stats.handshakes, d->cfg->max_handshakes, &hs)) {
		cn->in_handshake = 1;
		ecad_pace_load(&w->pace, 1);
		return;
	}
	cn->over_handshakes = 1;
	if (time(NULL) != w->hs_logged) {
		w->hs_logged = time(NULL);
		log_warn("connection to be answered 429 BUSY: %lld handshakes "
			 "in progress, MAX_HANDSHAKES is %d",
		    hs - 1, d->cfg->max_handshakes);
	}
}

void
server_ctx_setup(struct ecad *d, SSL_CTX *ctx)
{
	SSL_CTX_set_client_hello_cb(ctx, client_hello_cb, d);
	/* info_cb's way to the connection's state (no other use of it). */
	SSL_CTX_set_app_data(ctx, d);
	SSL_CTX_set_info_callback(ctx, info_cb);
	/*
	 * A client's Certificate message is buffered whole before anything
	 * can judge it: bound it (OpenSSL's default is 100 KiB; the chain
	 * length itself is capped by eca_tls_peer_chain).
	 */
	SSL_CTX_set_max_cert_list(ctx, ECAD_CERT_LIST_MAX);
}

/*
 * Close a connection evhttp owns: shutting the socket down makes its next
 * read see end-of-file, and evhttp then frees the connection (and with it
 * the SSL and cn) in its usual way.
 */
static void
conn_cut(struct ecad_conn *cn)
{
	evutil_socket_t fd;

	if (cn->bev != NULL && (fd = bufferevent_getfd(cn->bev)) >= 0)
		(void)shutdown(fd, SHUT_RDWR);
}

/*
 * The connection's timer.  Its first run comes right after evhttp has
 * given the bufferevent its socket (activated from server_bevcb): count
 * the connection against its source address, then arm the request
 * deadline.  Later runs are that deadline.
 *
 * Why a deadline of our own: evhttp_set_timeout() sets the bufferevent's
 * read timeout, which libevent re-arms on every successful read, so a
 * client that trickles its handshake or headers a byte at a time, each
 * byte within the timeout, would keep a connection forever (slowloris).
 * The deadline runs from accept (or from the end of the previous reply)
 * to the moment the whole request has been read, whatever arrives.
 */
static void
conn_timer_cb(evutil_socket_t unused, short what, void *arg)
{
	struct ecad_conn *cn = arg;
	struct ecad_worker *w = cn->w;
	struct ecad *d = w->d;
	struct timeval tv;
	char text[INET6_ADDRSTRLEN];
	int r;

	(void)unused;
	(void)what;
	if (cn->src_checked) {
		if (time(NULL) != w->deadline_logged) {
			w->deadline_logged = time(NULL);
			log_warn("connection closed: no complete request "
				 "within REQUEST_TIMEOUT (%d s)",
			    d->cfg->request_timeout);
		}
		conn_cut(cn);
		return;
	}
	cn->src_checked = 1;
	if (!cn->over_cap && cn->bev != NULL &&
	    peer_addr(bufferevent_getfd(cn->bev), cn->src, text,
		sizeof(text)) == 0) {
		r = ecad_keymap_take(d->srcmap, cn->src,
		    d->cfg->max_connections_per_source, NULL);
		if (r == 1)
			cn->src_counted = 1;
		else if (r == 0) {
			cn->over_cap = 1;
			if (time(NULL) != w->src_cap_logged) {
				w->src_cap_logged = time(NULL);
				log_warn(
				    "connection from %s refused: it has "
				    "%d open, MAX_CONNECTIONS_PER_SOURCE is "
				    "%d",
				    text, d->cfg->max_connections_per_source,
				    d->cfg->max_connections_per_source);
			}
			conn_cut(cn);
			return;
		}
	}
	tv.tv_sec = d->cfg->request_timeout;
	tv.tv_usec = 0;
	evtimer_add(cn->timer, &tv);
}

static struct ecad_conn *
req_conn(struct ecad_worker *w, struct evhttp_request *req)
{
	struct evhttp_connection *evcon;
	struct bufferevent *bev;
	SSL *ssl;

	if ((evcon = evhttp_request_get_connection(req)) == NULL ||
	    (bev = evhttp_connection_get_bufferevent(evcon)) == NULL ||
	    (ssl = bufferevent_openssl_get_ssl(bev)) == NULL)
		return NULL;
	return SSL_get_ex_data(ssl, w->d->ssl_idx);
}

/* The largest payload of one TLS record (RFC 8446, 5.1). */
#define TLS_RECORD_MAX 16384

void
server_send_reply(struct evhttp_request *req, int status)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev =
	    evcon != NULL ? evhttp_connection_get_bufferevent(evcon) : NULL;
	struct evbuffer *out;

	evhttp_send_reply(req, status, NULL, NULL);
	/*
	 * req may be freed by now, not the connection: its bufferevent
	 * writes on a later turn of the loop, and only then does evhttp
	 * free the connection, if it closes.
	 */
	if (bev != NULL && (out = bufferevent_get_output(bev)) != NULL &&
	    evbuffer_get_length(out) <= TLS_RECORD_MAX)
		(void)evbuffer_pullup(out, -1);
}

/* The reply went out: the next request on this connection gets its own. */
static void
req_done_cb(struct evhttp_request *req, void *arg)
{
	struct ecad_worker *w = arg;
	struct ecad_conn *cn;
	struct timeval tv;

	if ((cn = req_conn(w, req)) == NULL || cn->timer == NULL)
		return;
	conn_kick(cn, bufferevent_openssl_get_ssl(cn->bev));
	tv.tv_sec = w->d->cfg->request_timeout;
	tv.tv_usec = 0;
	evtimer_add(cn->timer, &tv);
}

/*
 * Every API request passes here once it has been read whole: the deadline
 * stops while the request is served (a reply waiting for the writer's
 * commit must not be cut off) and restarts when the reply is sent.
 */
static void
server_request_cb(struct evhttp_request *req, void *arg)
{
	struct ecad_worker *w = arg;
	struct ecad_conn *cn;

	if ((cn = req_conn(w, req)) != NULL && cn->timer != NULL) {
		evtimer_del(cn->timer);
		evhttp_request_set_on_complete_cb(req, req_done_cb, w);
	}
	api_tls_cb(req, w);
}

/* The console's requests, with the same deadline handling. */
static void
server_console_cb(struct evhttp_request *req, void *arg)
{
	struct ecad_worker *w = arg;
	struct ecad_conn *cn;

	if ((cn = req_conn(w, req)) != NULL && cn->timer != NULL) {
		evtimer_del(cn->timer);
		evhttp_request_set_on_complete_cb(req, req_done_cb, w);
	}
	console_request(req, w, cn);
}

static struct bufferevent *
tls_bev(struct event_base *base, struct ecad_worker *w, int console)
{
	struct ecad *d = w->d;
	struct ecad_conn *cn = NULL, *c;
	struct bufferevent *bev = NULL;
	SSL *ssl = NULL;
	long long open;

	if ((cn = calloc(1, sizeof(*cn))) == NULL)
		goto fail;
	cn->w = w;
	if ((cn->timer = evtimer_new(base, conn_timer_cb, cn)) == NULL ||
	    (cn->kick = event_new(base, -1, 0, conn_kick_cb, cn)) == NULL)
		goto fail;
	pthread_mutex_lock(&d->snap_lock);
	ssl = SSL_new(console && d->snap->console_ctx != NULL ?
		d->snap->console_ctx :
		d->snap->api_ctx[w->id]);
	pthread_mutex_unlock(&d->snap_lock);
	if (ssl == NULL)
		goto fail;
	SSL_set_read_ahead(ssl, 1);
	open = atomic_fetch_add(&d->stats.open, 1) + 1;
	w->conns++;
	if (!SSL_set_ex_data(ssl, d->ssl_idx, cn)) {
		atomic_fetch_sub(&d->stats.open, 1);
		w->conns--;
		goto fail;
	}
	/* From here the SSL owns cn (conn_free_cb). */
	if (open > d->cfg->max_connections) {
		cn->over_cap = 1;
		/* At most one line a second per worker under a storm. */
		if (time(NULL) != w->cap_logged) {
			w->cap_logged = time(NULL);
			log_warn("connection refused: %lld open, "
				 "MAX_CONNECTIONS is %d",
			    open, d->cfg->max_connections);
		}
	} else {
		atomic_fetch_add(&d->stats.connections, 1);
		admit_handshake(w, cn);
	}
	c = cn;
	cn = NULL;
	bev = bufferevent_openssl_socket_new(base, -1, ssl,
	    BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (bev == NULL)
		goto fail;
	/* Clients that just close the socket are not an error. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	if (evbuffer_add_cb(bufferevent_get_input(bev), conn_input_cb, c) ==
	    NULL) {
		bufferevent_free(bev); /* frees the SSL, and c with it */
		bev = NULL;
		ssl = NULL;
		goto fail;
	}
	/*
	 * evhttp gives bev its socket after we return; the timer's first
	 * run (next turn of the loop) sees it and applies the source cap.
	 */
	c->bev = bev;
	event_active(c->timer, EV_TIMEOUT, 0);
	return bev;
fail:
	/*
	 * evhttp would create a plain bufferevent for a NULL return; give it
	 * one whose requests api_tls_cb refuses (no SSL behind it).
	 */
	log_error("cannot set up a TLS connection: out of memory");
	SSL_free(ssl);
	if (cn != NULL && cn->timer != NULL)
		event_free(cn->timer);
	if (cn != NULL && cn->kick != NULL)
		event_free(cn->kick);
	free(cn);
	return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
}

static struct bufferevent *
server_bevcb(struct event_base *base, void *arg)
{
	struct ecad_worker *w = arg;
	struct bufferevent *bev = tls_bev(base, w, 0);

	/* Every worker accepts from the same API socket (listen.c). */
	ecad_pace_took(&w->pace);
	return bev;
}

/* The console's connections: its own certificate when it has one. */
static struct bufferevent *
console_bevcb(struct event_base *base, void *arg)
{
	return tls_bev(base, arg, 1);
}

/* evhttp's bounds on reading a request, for the API and the console. */
static void
http_bounds(struct ecad *d, struct evhttp *http)
{
	evhttp_set_max_headers_size(http, ECAD_HEADERS_MAX);
	evhttp_set_max_body_size(http, ECAD_HTTP_BODY_MAX);
	/* Bounds reading a request, a stalled handshake and idle keep-alive. */
	evhttp_set_timeout(http, d->cfg->request_timeout);
	evhttp_set_allowed_methods(http, ECAD_HTTP_METHODS);
}

/*
 * Worker 0 serves the console (CONSOLE_LISTEN) too: the same TLS set-up
 * and bounds as the API, its requests to console_request.
 */
int
server_console_attach(struct ecad_worker *w, struct eca_err *err)
{
	struct ecad *d = w->d;
	size_t i;

	if ((w->con_http = evhttp_new(w->base)) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "cannot create the console's server");
	evhttp_set_bevcb(w->con_http, console_bevcb, w);
	evhttp_set_gencb(w->con_http, server_console_cb, w);
	http_bounds(d, w->con_http);
	for (i = 0; i < d->con_nfds; i++) {
		w->con_bound[i] = evhttp_accept_socket_with_handle(w->con_http,
		    d->con_fds[i]);
		if (w->con_bound[i] == NULL)
			return eca_err_set(err, ECA_ERR_IO,
			    "cannot accept on CONSOLE_LISTEN %s",
			    d->console_desc);
		d->con_fds[i] = -1; /* the listener closes it */
	}
	return 0;
}

/* Worker i's listening sockets, for ecad_listen_bind. */
static int *
worker_fds(void *arg, size_t i, size_t **nfds)
{
	struct ecad *d = arg;

	*nfds = &d->workers[i].nfds;
	return d->workers[i].fds;
}

size_t
server_workers(const struct eca_config *cfg)
{
	long nproc;

	if (cfg->workers > 0)
		return (size_t)cfg->workers;
	nproc = sysconf(_SC_NPROCESSORS_ONLN);
	return nproc > 0 ? (size_t)nproc : 1;
}

/*
 * Bind API_LISTEN once per worker, before privileges are dropped.  "*" or
 * an empty host means every address.
 */
int
server_bind(struct ecad *d, struct eca_err *err)
{
	struct ecad_bind b;
	size_t i, n;
	int r;

	if (ecad_keymap_new(&d->srcmap) != 0 || refusals_new(&d->refusals) != 0)
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "cannot allocate the per-source connection table");
	/* One worker per library context (ecad_snap.c), counted at start. */
	n = d->nlibctx;
	if ((d->workers = calloc(n, sizeof(*d->workers))) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "cannot allocate workers");
	d->nworkers = n;
	for (i = 0; i < n; i++) {
		d->workers[i].d = d;
		d->workers[i].id = (int)i;
		ecad_pace_init(&d->workers[i].pace,
		    &d->workers[(i + 1) % n].pace);
	}
	memset(&b, 0, sizeof(b));
	b.ep = &d->cfg->api_listen;
	b.defport = ECA_DEFAULT_API_PORT;
	b.keyword = "API_LISTEN";
	b.listener = "API_LISTEN";
	b.nsets = n;
	b.set = worker_fds;
	b.arg = d;
	if ((r = ecad_listen_bind(&b, err)) != 0)
		return r;
	snprintf(d->listen_desc, sizeof(d->listen_desc), "%s", b.desc);
	return 0;
}

/* Shutdown in the worker's own thread: stop accepting, then finish. */
static void
worker_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ecad_worker *w = arg;

	(void)fd;
	(void)what;
	if ((w->inflight == 0 && w->conns == 0) || time(NULL) >= w->deadline) {
		if (w->inflight != 0 || w->conns != 0)
			log_warn("worker %d: stopping with %d connection(s) "
				 "and %d request(s) unfinished",
			    w->id, w->conns, w->inflight);
		event_base_loopbreak(w->base);
	}
}

static void
worker_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ecad_worker *w = arg;
	struct timeval tv = {0, 50 * 1000};
	size_t i;

	(void)fd;
	(void)what;
	if (w->stopping)
		return;
	w->stopping = 1;
	w->deadline = time(NULL) + ECAD_STOP_GRACE_SEC;
	ecad_pace_forget(&w->pace);
	for (i = 0; i < w->nfds; i++) {
		if (w->bound[i] != NULL)
			evhttp_del_accept_socket(w->http, w->bound[i]);
		w->bound[i] = NULL;
	}
	if (w->ctl_bound != NULL)
		evhttp_del_accept_socket(w->ctl_http, w->ctl_bound);
	w->ctl_bound = NULL;
	for (i = 0; i < ECAD_MAX_LISTEN; i++) {
		if (w->con_bound[i] != NULL)
			evhttp_del_accept_socket(w->con_http, w->con_bound[i]);
		w->con_bound[i] = NULL;
	}
	event_add(w->tick_ev, &tv);
}

/* Worker 0: journal the strangers' refusals that are due (refusals.c). */
static void
refusal_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ecad_worker *w = arg;

	(void)fd;
	(void)what;
	refusals_flush(w->d, 0);
}

static void *
worker_main(void *arg)
{
	struct ecad_worker *w = arg;
	char name[16];

	snprintf(name, sizeof(name), "ecad-api-%d", w->id);
	ecad_thread_name(name);
	log_debug("worker %d running", w->id);
	event_base_dispatch(w->base);
	log_debug("worker %d stopped", w->id);
	return NULL;
}

struct event_base *
ecad_base_new(void)
{
	struct event_config *cfg;
	struct event_base *base;

	if ((cfg = event_config_new()) == NULL)
		return NULL;
	(void)event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

static int
worker_setup(struct ecad *d, struct ecad_worker *w, struct eca_err *err)
{
	size_t i;
	int r;

	if ((w->base = ecad_base_new()) == NULL ||
	    (w->http = evhttp_new(w->base)) == NULL ||
	    (w->stop_ev = event_new(w->base, -1, 0, worker_stop_cb, w)) ==
		NULL ||
	    ecad_pace_start(&w->pace, w->base) != 0 ||
	    (w->tick_ev = event_new(w->base, -1, EV_PERSIST, worker_tick_cb,
		 w)) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "cannot create worker %d's event loop", w->id);
	evhttp_set_bevcb(w->http, server_bevcb, w);
	evhttp_set_gencb(w->http, server_request_cb, w);
	http_bounds(d, w->http);
	for (i = 0; i < w->nfds; i++) {
		w->bound[i] =
		    evhttp_accept_socket_with_handle(w->http, w->fds[i]);
		if (w->bound[i] == NULL)
			return eca_err_set(err, ECA_ERR_IO,
			    "worker %d cannot accept on its socket", w->id);
		ecad_pace_watch(&w->pace,
		    evhttp_bound_socket_get_listener(w->bound[i]));
		/* The listener owns (and closes) the socket now. */
		w->fds[i] = -1;
	}
	if ((r = eca_store_open_cfg(d->cfg, ECA_STORE_READONLY, &w->rd, err)) !=
	    0)
		return r;
	eca_store_watch_attach(w->rd, d->dbwatch);
	if (w->id == 0 && d->ctl_fd != -1 &&
	    (r = control_attach(d, w, err)) != 0)
		return r;
	if (w->id == 0 && d->sessions != NULL &&
	    (r = server_console_attach(w, err)) != 0)
		return r;
	if (w->id == 0) {
		struct timeval tv = {ECAD_REFUSAL_FLUSH_SEC, 0};

		if ((w->refusal_ev = event_new(w->base, -1, EV_PERSIST,
			 refusal_flush_cb, w)) == NULL ||
		    event_add(w->refusal_ev, &tv) != 0)
			return eca_err_set(err, ECA_ERR_NOMEM,
			    "cannot create worker 0's refusal timer");
	}
	return 0;
}

int
server_start(struct ecad *d, struct eca_err *err)
{
	sigset_t all, old;
	size_t i;
	int r, e;

	for (i = 0; i < d->nworkers; i++)
		if ((r = worker_setup(d, &d->workers[i], err)) != 0)
			return r;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (i = 0; i < d->nworkers; i++) {
		e = pthread_create(&d->workers[i].thread, NULL, worker_main,
		    &d->workers[i]);
		if (e != 0) {
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			return eca_err_set(err, ECA_ERR_INTERNAL,
			    "cannot start worker %zu: %s", i, strerror(e));
		}
		d->workers[i].started = 1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return 0;
}

void
server_stop(struct ecad *d)
{
	size_t i;

	for (i = 0; i < d->nworkers; i++)
		if (d->workers[i].started)
			event_active(d->workers[i].stop_ev, EV_READ, 0);
}

void
server_join(struct ecad *d)
{
	size_t i;

	for (i = 0; i < d->nworkers; i++) {
		if (!d->workers[i].started)
			continue;
		pthread_join(d->workers[i].thread, NULL);
		d->workers[i].started = 0;
	}
	/* The counted refusals go to the journal while the writer runs. */
	refusals_flush(d, 1);
	/*
	 * Readers close before the writer does, so that the last connection
	 * to close is the writer's and SQLite can checkpoint the WAL.
	 */
	for (i = 0; i < d->nworkers; i++) {
		eca_store_close(d->workers[i].rd);
		d->workers[i].rd = NULL;
	}
}

void
server_free(struct ecad *d)
{
	struct ecad_worker *w;
	size_t i, j;

	for (i = 0; i < d->nworkers; i++) {
		w = &d->workers[i];
		/* Replies the writer completed after the loop ended. */
		if (w->base != NULL)
			event_base_loop(w->base, EVLOOP_NONBLOCK);
		if (w->ctl_http != NULL)
			evhttp_free(w->ctl_http);
		if (w->con_http != NULL)
			evhttp_free(w->con_http);
		if (w->http != NULL)
			evhttp_free(w->http);
		if (w->stop_ev != NULL)
			event_free(w->stop_ev);
		ecad_pace_clear(&w->pace);
		if (w->tick_ev != NULL)
			event_free(w->tick_ev);
		if (w->refusal_ev != NULL)
			event_free(w->refusal_ev);
		if (w->base != NULL)
			event_base_free(w->base);
		eca_store_close(w->rd);
		for (j = 0; j < w->nfds; j++)
			if (w->fds[j] != -1)
				close(w->fds[j]);
	}
	free(d->workers);
	d->workers = NULL;
	d->nworkers = 0;
	ecad_keymap_free(d->srcmap);
	d->srcmap = NULL;
	refusals_free(d->refusals);
	d->refusals = NULL;
}

int
ecad_conn_index(void)
{
	return SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_free_cb);
}
