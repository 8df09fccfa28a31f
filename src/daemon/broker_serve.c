/* SPDX-License-Identifier: ISC */
/*
 * broker_serve.c - the primary's broker (docs/nat.md): NAT hosts'
 * persistent sessions on BROKER_LISTEN, and what the primary knows of
 * each NAT host (online since, last heartbeat, address) for GET
 * /v1/enrollments, GET /v1/stats and GET /metrics.
 *
 * Threads, both owned here:
 * - one I/O thread with its event base: accept, TLS (bufferevent_openssl),
 *   the registration, heartbeats, dead-peer detection (broker_session.c).
 *   Nothing blocks.
 * - one judge thread: a registration is judged like a channel's caller,
 *   by eca_judge_peer (the one judging path) against this primary's own
 *   domain, which can block (a roster sync, a CRL download).
 *
 * Reverse connection requests are broker_request.c's, remote enrollment
 * through a session broker_enroll.c's (broker_impl.h).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "broker_impl.h"
#include "log.h"
#include "text.h"

/* Count one event (any thread). */
void
broker_count(struct ecad_broker *b, uint64_t *counter, int delta)
{
	pthread_mutex_lock(&b->lock);
	*counter += (uint64_t)(int64_t)delta;
	pthread_mutex_unlock(&b->lock);
}

/* ------------------------------------------------------------------ */
/* The table (under b->lock).                                          */

/*
 * The table is an array (sessions point at its entries, moved along when
 * it grows; entries are never removed) indexed by host name: FNV-1a,
 * open addressing with linear probing, at most half full.
 */
static size_t
host_hash(const char *host)
{
	uint32_t h = 2166136261u;

	for (; *host != '\0'; host++)
		h = (h ^ (unsigned char)*host) * 16777619u;
	return h;
}

/* The slot of host in b->idx: its entry's, or the empty one it would take. */
static size_t
idx_slot(const struct ecad_broker *b, const char *host)
{
	size_t mask = b->idx_cap - 1, i = host_hash(host) & mask;

	while (b->idx[i] != 0 && strcmp(b->tab[b->idx[i] - 1].host, host) != 0)
		i = (i + 1) & mask;
	return i;
}

/* Room for one more entry in b->idx (-1 out of memory). */
static int
idx_grow(struct ecad_broker *b)
{
	uint32_t *idx = b->idx;
	size_t cap = b->idx_cap, i;

	if (b->idx != NULL && 2 * (b->ntab + 1) <= b->idx_cap)
		return 0;
	if (b->ntab >= UINT32_MAX - 1)
		return -1;
	b->idx_cap = cap == 0 ? 32 : cap * 2;
	if ((b->idx = calloc(b->idx_cap, sizeof(*b->idx))) == NULL) {
		b->idx = idx;
		b->idx_cap = cap;
		return -1;
	}
	for (i = 0; i < b->ntab; i++)
		b->idx[idx_slot(b, b->tab[i].host)] = (uint32_t)(i + 1);
	free(idx);
	return 0;
}

struct bentry *
broker_entry_find(struct ecad_broker *b, const char *host)
{
	size_t i;

	if (b->idx == NULL)
		return NULL;
	i = idx_slot(b, host);
	return b->idx[i] != 0 ? &b->tab[b->idx[i] - 1] : NULL;
}

/* The host's entry, added if new; NULL out of memory. */
struct bentry *
broker_entry_get(struct ecad_broker *b, const char *host)
{
	struct bentry *e, *grown;
	size_t cap;

	if ((e = broker_entry_find(b, host)) != NULL)
		return e;
	if (idx_grow(b) != 0)
		return NULL;
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
	e = &b->tab[b->ntab];
	memset(e, 0, sizeof(*e));
	/* Host names are canonical, shorter than ECA_HOST_MAX; "" ends it. */
	memcpy(e->host, host, strnlen(host, sizeof(e->host) - 1));
	b->idx[idx_slot(b, e->host)] = (uint32_t)(++b->ntab);
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
	g->relay_pairs = b->n_relays;
	g->relay_open = (int64_t)b->n_relay_open;
	g->relay_refused = b->n_relay_refused;
	g->relay_budget = b->n_relay_budget;
	g->relay_bytes = b->relay_bytes;
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
	if (j != NULL &&
	    json_object_set_new(j, "relay",
		json_pack("{s:I, s:I, s:I, s:I, s:I}", "pairs",
		    (json_int_t)b->n_relays, "open",
		    (json_int_t)b->n_relay_open, "refused",
		    (json_int_t)b->n_relay_refused, "budget_closed",
		    (json_int_t)b->n_relay_budget, "bytes",
		    (json_int_t)b->relay_bytes)) != 0) {
		json_decref(j);
		j = NULL;
	}
	pthread_mutex_unlock(&b->lock);
	return j != NULL ? j : json_null();
}

static int
cmp_entry_host(const void *a, const void *b)
{
	return strcmp((*(const struct bentry *const *)a)->host,
	    (*(const struct bentry *const *)b)->host);
}

/* One restricted session's JSON (under b->lock). */
static json_t *
restricted_json(const struct bentry *e)
{
	char since[40], hb[40];

	eca_text_rfc3339(e->since, since, sizeof(since));
	eca_text_rfc3339(e->last_heartbeat, hb, sizeof(hb));
	return json_pack("{s:s, s:s, s:s, s:s}", "host", e->host, "address",
	    e->addr, "online_since", since, "last_heartbeat", hb);
}

json_t *
broker_restricted_json(struct ecad *d, size_t max)
{
	struct ecad_broker *b = d->broker;
	const struct bentry **v = NULL;
	json_t *arr, *j = NULL;
	size_t i, n = 0;

	if ((arr = json_array()) == NULL)
		return NULL;
	if (b == NULL)
		return json_pack("{s:o, s:i}", "sessions", arr, "total", 0);
	pthread_mutex_lock(&b->lock);
	if (b->n_restricted_online > 0 &&
	    (v = malloc(b->n_restricted_online * sizeof(*v))) == NULL)
		goto out;
	for (i = 0; i < b->ntab && n < b->n_restricted_online; i++)
		if (b->tab[i].sess != NULL && b->tab[i].restricted)
			v[n++] = &b->tab[i];
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_entry_host);
	for (i = 0; i < n && i < max; i++)
		if (json_array_append_new(arr, restricted_json(v[i])) != 0)
			goto out;
	j = json_pack("{s:O, s:I}", "sessions", arr, "total", (json_int_t)n);
out:
	pthread_mutex_unlock(&b->lock);
	free(v);
	json_decref(arr);
	return j;
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
	e = broker_entry_find(b, json_string_value(host));
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
/* Accepting, binding, starting, stopping.                             */

static void
accept_cb(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct ecad_broker *b = arg;

	(void)lis;
	if (b->nconns + b->nrelays >= (size_t)b->d->cfg->max_connections) {
		log_warn("broker: connection refused: %zu open, "
			 "MAX_CONNECTIONS is %d",
		    b->nconns + b->nrelays, b->d->cfg->max_connections);
		evutil_closesocket(fd);
		return;
	}
	if (broker_accept(b, fd, sa, salen) != 0)
		evutil_closesocket(fd);
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

	ecad_thread_name("ecad-broker");
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
	broker_relay_drop(b);
	while (b->conns != NULL) {
		b->conns->state = BS_CLOSING;
		b->conns->entry = NULL;
		broker_sess_free(b->conns);
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
	free(b->idx);
	OPENSSL_cleanse(b->token_key, sizeof(b->token_key));
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
	if (RAND_priv_bytes(b->token_key, sizeof(b->token_key)) != 1) {
		free(b);
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot make the broker's token key (RAND_priv_bytes)");
	}
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
		if ((e = pthread_create(&b->judge, NULL, broker_judge_main,
			 b)) == 0)
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
