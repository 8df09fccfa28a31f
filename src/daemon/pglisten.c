/* SPDX-License-Identifier: ISC */
/*
 * pglisten.c - the LISTEN connection of a PostgreSQL registry: the
 * front ends of one registry hear of each other's committed changes.
 *
 * One thread with an event base of its own holds a READONLY registry
 * connection that LISTENs on eca_registry (store_pg_listen.c); libevent
 * watches its socket (PQsocket).  A notification makes the roster in
 * memory stale (rcache_changed), so the next roster sync through this
 * front end reads the database and catches up: a change made through
 * another front end reaches hosts syncing through this one within one
 * sync.  Connecting blocks this thread only, never a worker's loop.  A
 * lost connection is opened again after a jittered backoff (1 s doubling
 * to 30 s); meanwhile the cache is not trusted (rcache_listening) and
 * every roster sync reads the database.  Its ups and downs are logged at
 * debug level: the registry's own loss and return are logged by the
 * store's watch, once each.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/rand.h>

#include "ecad.h"
#include "log.h"

#define LISTEN_RETRY_MIN_MS 1000
#define LISTEN_RETRY_MAX_MS 30000

struct ecad_pglisten {
	struct ecad *d;
	pthread_t thread;
	struct event_base *base;
	struct event *read_ev, *retry_ev, *stop_ev;
	struct eca_store *st;
	int64_t delay; /* the backoff's current step (ms) */
	int64_t version;
};

static void listen_open(struct ecad_pglisten *l);

/* The next attempt in [delay/2, delay], delay doubling from 1 s to 30 s. */
static void
retry_later(struct ecad_pglisten *l)
{
	struct timeval tv;
	uint32_t u = 0;
	int64_t ms;

	l->delay = l->delay == 0 ? LISTEN_RETRY_MIN_MS : l->delay * 2;
	if (l->delay > LISTEN_RETRY_MAX_MS)
		l->delay = LISTEN_RETRY_MAX_MS;
	if (RAND_bytes((unsigned char *)&u, sizeof(u)) != 1)
		u = 0;
	ms = l->delay / 2 + (int64_t)(u % (uint32_t)(l->delay / 2 + 1));
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	event_add(l->retry_ev, &tv);
}

static void
listen_close(struct ecad_pglisten *l)
{
	if (l->read_ev != NULL)
		event_free(l->read_ev);
	l->read_ev = NULL;
	eca_store_close(l->st);
	l->st = NULL;
	rcache_listening(l->d->rcache, 0);
}

static void
read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ecad_pglisten *l = arg;
	struct eca_err e;
	size_t n = 0;

	(void)fd;
	(void)what;
	eca_err_clear(&e);
	if (eca_store_listen_read(l->st, &l->version, &n, &e) != 0) {
		log_debug("registry notifications: %s; listening again "
			  "after a backoff",
		    e.msg);
		listen_close(l);
		l->delay = 0;
		retry_later(l);
		return;
	}
	if (n > 0) {
		log_debug("registry notifications: %zu change(s), up to "
			  "version %lld",
		    n, (long long)l->version);
		rcache_changed(l->d->rcache);
	}
}

static void
listen_open(struct ecad_pglisten *l)
{
	struct eca_err e;
	int fd;

	eca_err_clear(&e);
	if (eca_store_open_cfg(l->d->cfg, ECA_STORE_READONLY, &l->st, &e) !=
		0 ||
	    eca_store_listen(l->st, &e) != 0 ||
	    (fd = eca_store_listen_fd(l->st)) < 0 ||
	    (l->read_ev = event_new(l->base, fd, EV_READ | EV_PERSIST, read_cb,
		 l)) == NULL ||
	    event_add(l->read_ev, NULL) != 0) {
		log_debug("registry notifications: cannot listen: %s",
		    e.msg[0] != '\0' ? e.msg : "out of memory");
		listen_close(l);
		retry_later(l);
		return;
	}
	l->delay = 0;
	rcache_listening(l->d->rcache, 1);
	log_debug("registry notifications: listening");
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	listen_open(arg);
}

static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ecad_pglisten *l = arg;

	(void)fd;
	(void)what;
	event_base_loopbreak(l->base);
}

static void *
listen_main(void *arg)
{
	struct ecad_pglisten *l = arg;

	ecad_thread_name("ecad-pglisten");
	listen_open(l);
	event_base_dispatch(l->base);
	listen_close(l);
	return NULL;
}

static void
listen_free(struct ecad_pglisten *l)
{
	if (l == NULL)
		return;
	if (l->retry_ev != NULL)
		event_free(l->retry_ev);
	if (l->stop_ev != NULL)
		event_free(l->stop_ev);
	if (l->base != NULL)
		event_base_free(l->base);
	free(l);
}

int
pglisten_start(struct ecad *d, struct eca_err *err)
{
	struct ecad_pglisten *l;
	sigset_t all, old;
	int e;

	if (d->rcache == NULL) /* not PostgreSQL */
		return 0;
	if ((l = calloc(1, sizeof(*l))) == NULL ||
	    (l->base = event_base_new()) == NULL ||
	    (l->retry_ev = evtimer_new(l->base, retry_cb, l)) == NULL ||
	    (l->stop_ev = event_new(l->base, -1, 0, stop_cb, l)) == NULL) {
		listen_free(l);
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory for the registry's LISTEN connection");
	}
	l->d = d;
	/* Signals belong to the main thread's event loop. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	e = pthread_create(&l->thread, NULL, listen_main, l);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		listen_free(l);
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot start the registry's LISTEN thread: %s",
		    strerror(e));
	}
	d->pglisten = l;
	return 0;
}

void
pglisten_stop(struct ecad *d)
{
	struct ecad_pglisten *l = d->pglisten;

	if (l == NULL)
		return;
	event_active(l->stop_ev, EV_READ, 0);
	pthread_join(l->thread, NULL);
	listen_free(l);
	d->pglisten = NULL;
}
