/*
 * server.c - the worker threads and their TLS listeners.
 *
 * Each worker has its own event base, its own evhttp, its own listening
 * socket(s) on API_LISTEN (SO_REUSEPORT, so the kernel spreads incoming
 * connections over the workers) and its own read-only registry
 * connection: workers share nothing but the writer queue, the counters
 * and the reloadable TLS snapshot.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/util.h>
#include <openssl/ssl.h>

#include "ecad.h"
#include "log.h"
#include "wire.h"

#define LISTEN_BACKLOG 1024

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
	X509_free(cn->leaf);
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

void
server_ctx_setup(struct ecad *d, SSL_CTX *ctx)
{
	SSL_CTX_set_client_hello_cb(ctx, client_hello_cb, d);
}

static struct bufferevent *
server_bevcb(struct event_base *base, void *arg)
{
	struct ecad_worker *w = arg;
	struct ecad *d = w->d;
	struct ecad_conn *cn = NULL;
	struct bufferevent *bev = NULL;
	SSL *ssl = NULL;
	long long open;

	if ((cn = calloc(1, sizeof(*cn))) == NULL)
		goto fail;
	cn->w = w;
	pthread_mutex_lock(&d->snap_lock);
	ssl = SSL_new(d->snap->ctx);
	pthread_mutex_unlock(&d->snap_lock);
	if (ssl == NULL)
		goto fail;
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
			    "MAX_CONNECTIONS is %d", open,
			    d->cfg->max_connections);
		}
	} else
		atomic_fetch_add(&d->stats.connections, 1);
	cn = NULL;
	bev = bufferevent_openssl_socket_new(base, -1, ssl,
	    BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (bev == NULL)
		goto fail;
	/* Clients that just close the socket are not an error. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
fail:
	/*
	 * evhttp would create a plain bufferevent for a NULL return; give it
	 * one whose requests api_tls_cb refuses (no SSL behind it).
	 */
	log_error("cannot set up a TLS connection: out of memory");
	SSL_free(ssl);
	free(cn);
	return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
}

/*
 * SO_REUSEPORT would let a second ecad of the same user bind the same
 * port and silently take half the connections: a probe bound without it
 * fails if anyone listens there already.
 */
static int
port_free(const struct addrinfo *ai)
{
	int fd, one = 1, ok;

	if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
	    ai->ai_protocol)) == -1)
		return 1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
		    sizeof(one));
	ok = bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno != EADDRINUSE;
	close(fd);
	return ok;
}

static int
bind_one(const struct addrinfo *ai, int probe, int *out, struct eca_err *err)
{
	char host[NI_MAXHOST], port[NI_MAXSERV];
	int fd = -1, one = 1, r;

	*out = -1;
	if (getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof(host), port,
	    sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(host, sizeof(host), "?");
	if (probe && !port_free(ai)) {
		errno = EADDRINUSE;
		goto fail;
	}
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol);
	if (fd == -1)
		goto fail;
	/*
	 * TCP_NODELAY is inherited by accepted sockets: without it a reply on
	 * a kept-alive connection waits ~40 ms for the client's delayed ACK.
	 */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1 ||
	    (ai->ai_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &one, sizeof(one)) == -1) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
	    listen(fd, LISTEN_BACKLOG) == -1)
		goto fail;
	*out = fd;
	return 0;

fail:
	r = eca_err_set(err, ECA_ERR_IO,
	    "cannot listen on %s port %s (API_LISTEN): %s (is another "
	    "ecad or service using the port?)", host, port, strerror(errno));
	if (fd != -1)
		close(fd);
	return r;
}

/* The port actually bound (API_LISTEN port 0 picks a free one). */
static int
bound_port(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[NI_MAXHOST];

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == -1 ||
	    getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), buf,
	    len, NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return -1;
	return 0;
}

/*
 * Bind API_LISTEN once per worker, before privileges are dropped.  "*" or
 * an empty host means every address.
 */
int
server_bind(struct ecad *d, struct eca_err *err)
{
	const struct eca_endpoint *ep = &d->cfg->api_listen;
	struct addrinfo hints, *res = NULL, *ai;
	const char *host;
	char port[NI_MAXSERV];
	size_t i, n;
	long nproc;
	int r = ECA_ERR_CONFIG, e;

	n = d->cfg->workers > 0 ? (size_t)d->cfg->workers : 0;
	if (n == 0) {
		nproc = sysconf(_SC_NPROCESSORS_ONLN);
		n = nproc > 0 ? (size_t)nproc : 1;
	}
	if ((d->workers = calloc(n, sizeof(*d->workers))) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "cannot allocate workers");
	d->nworkers = n;
	for (i = 0; i < n; i++) {
		d->workers[i].d = d;
		d->workers[i].id = (int)i;
	}
	host = ep->host;
	if (host != NULL && (strcmp(host, "*") == 0 || host[0] == '\0'))
		host = NULL;
	snprintf(port, sizeof(port), "%s",
	    ep->port != NULL ? ep->port : ECA_DEFAULT_API_PORT);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0)
		return eca_err_set(err, ECA_ERR_CONFIG,
		    "cannot resolve API_LISTEN %s:%s: %s (use an address of "
		    "this host or *)", host != NULL ? host : "*", port,
		    gai_strerror(e));
	for (i = 0; i < n; i++) {
		struct ecad_worker *w = &d->workers[i];

		for (ai = res; ai != NULL && w->nfds < ECAD_MAX_LISTEN;
		    ai = ai->ai_next) {
			if ((r = bind_one(ai, i == 0 && strcmp(port, "0") != 0,
			    &w->fds[w->nfds], err)) != 0)
				goto out;
			/* Port 0: every worker shares the first one's port. */
			if (w->nfds == 0 && i == 0 && strcmp(port, "0") == 0) {
				if (bound_port(w->fds[0], port,
				    sizeof(port)) == -1) {
					r = eca_err_set(err, ECA_ERR_IO,
					    "cannot read the bound port: %s",
					    strerror(errno));
					w->nfds++;
					goto out;
				}
				freeaddrinfo(res);
				res = NULL;
				if ((e = getaddrinfo(host, port, &hints,
				    &res)) != 0) {
					r = eca_err_set(err, ECA_ERR_IO,
					    "cannot resolve port %s: %s", port,
					    gai_strerror(e));
					w->nfds++;
					goto out;
				}
				ai = res;
			}
			w->nfds++;
		}
	}
	snprintf(d->listen_desc, sizeof(d->listen_desc), "%s:%s",
	    host != NULL ? host : "*", port);
	r = 0;
out:
	if (res != NULL)
		freeaddrinfo(res);
	return r;
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
			    "and %d request(s) unfinished", w->id, w->conns,
			    w->inflight);
		event_base_loopbreak(w->base);
	}
}

static void
worker_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ecad_worker *w = arg;
	struct timeval tv = { 0, 50 * 1000 };
	size_t i;

	(void)fd;
	(void)what;
	if (w->stopping)
		return;
	w->stopping = 1;
	w->deadline = time(NULL) + ECAD_STOP_GRACE_SEC;
	for (i = 0; i < w->nfds; i++) {
		if (w->bound[i] != NULL)
			evhttp_del_accept_socket(w->http, w->bound[i]);
		w->bound[i] = NULL;
	}
	if (w->ctl_bound != NULL)
		evhttp_del_accept_socket(w->ctl_http, w->ctl_bound);
	w->ctl_bound = NULL;
	event_add(w->tick_ev, &tv);
}

static void *
worker_main(void *arg)
{
	struct ecad_worker *w = arg;

	log_debug("worker %d running", w->id);
	event_base_dispatch(w->base);
	log_debug("worker %d stopped", w->id);
	return NULL;
}

static int
worker_setup(struct ecad *d, struct ecad_worker *w, struct eca_err *err)
{
	size_t i;
	int r;

	if ((w->base = event_base_new()) == NULL ||
	    (w->http = evhttp_new(w->base)) == NULL ||
	    (w->stop_ev = event_new(w->base, -1, 0, worker_stop_cb, w)) ==
	    NULL ||
	    (w->tick_ev = event_new(w->base, -1, EV_PERSIST, worker_tick_cb,
	    w)) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "cannot create worker %d's event loop", w->id);
	evhttp_set_bevcb(w->http, server_bevcb, w);
	evhttp_set_gencb(w->http, api_tls_cb, w);
	evhttp_set_max_headers_size(w->http, ECAD_HEADERS_MAX);
	evhttp_set_max_body_size(w->http, ECAD_HTTP_BODY_MAX);
	/* Bounds reading a request, a stalled handshake and idle keep-alive. */
	evhttp_set_timeout(w->http, d->cfg->request_timeout);
	evhttp_set_allowed_methods(w->http, ECAD_HTTP_METHODS);
	for (i = 0; i < w->nfds; i++) {
		w->bound[i] = evhttp_accept_socket_with_handle(w->http,
		    w->fds[i]);
		if (w->bound[i] == NULL)
			return eca_err_set(err, ECA_ERR_IO,
			    "worker %d cannot accept on its socket", w->id);
		/* The listener owns (and closes) the socket now. */
		w->fds[i] = -1;
	}
	if ((r = eca_store_open(d->cfg->db, ECA_STORE_READONLY, &w->rd,
	    err)) != 0)
		return r;
	if (w->id == 0 && d->ctl_fd != -1 &&
	    (r = control_attach(d, w, err)) != 0)
		return r;
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
		if (w->http != NULL)
			evhttp_free(w->http);
		if (w->stop_ev != NULL)
			event_free(w->stop_ev);
		if (w->tick_ev != NULL)
			event_free(w->tick_ev);
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
}

int
ecad_conn_index(void)
{
	return SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_free_cb);
}
