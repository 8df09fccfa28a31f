/* SPDX-License-Identifier: ISC */
/*
 * metrics_http.c - GET /metrics (docs/metrics.md): the gauges read at
 * scrape time, the API route (METRICS_IDENTITY and administrators, the
 * route table's access column) and METRICS_LISTEN, a plain-HTTP listener
 * on a loopback address with its own thread, event loop and read
 * connection of the registry, on every role.
 *
 * The counters are atomics in struct ecad (metrics.h), bumped where the
 * thing happens; a scrape reads them, the registry's counts (one GROUP BY,
 * primary), the writer's queue, the CRL cache's list and this host's
 * rosters, and writes the text (eca_metrics_write).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "api_impl.h"
#include "crl.h"
#include "host.h"
#include "log.h"
#include "roster.h"
#include "session.h"

#ifndef ECA_VERSION
#define ECA_VERSION "0.0.0"
#endif

struct ecad_metrics_http {
	struct ecad *d;
	struct event_base *base;
	struct evhttp *http;
	struct eca_store *rd; /* primary: the registry, read-only */
	pthread_t thread;
	int started;
	char desc[300];
};

/* Everything a scrape holds until its text is written. */
struct scrape {
	struct eca_metrics_gauges g;
	struct eca_crl_info *crls;
	struct eca_metrics_crl mcrl[64];
	struct eca_metrics_domain dom[ECA_MAX_SERVERS];
	struct eca_metrics_nat nat[ECA_MAX_SERVERS];
};

/* The primary's registry: counts by state, expiring, its version. */
static void
scrape_registry(struct ecad *d, struct eca_store *rd, struct scrape *s)
{
	struct eca_store_counts n;
	struct eca_err e;
	int64_t until = s->g.now + ECA_METRICS_EXPIRY_DAYS * 86400;

	eca_err_clear(&e);
	if (rd == NULL ||
	    eca_store_counts(rd, d->cfg->client_name, until, &n, &e) != 0 ||
	    eca_store_version(rd, &s->g.registry_version, &e) != 0) {
		if (rd != NULL)
			log_warn("metrics: the registry cannot be read: %s",
			    e.msg);
		return;
	}
	memcpy(s->g.states, n.states, sizeof(s->g.states));
	s->g.expiring = n.expiring;
	s->g.have_registry = 1;
}

/* The CRL cache: one age per CA (the first 64). */
static void
scrape_crls(struct ecad *d, struct scrape *s)
{
	size_t i, n = 0;

	if (d->crls == NULL ||
	    eca_crl_cache_list(d->crls, (time_t)s->g.now, &s->crls, &n, NULL) !=
		0)
		return;
	for (i = 0; i < n && i < sizeof(s->mcrl) / sizeof(s->mcrl[0]); i++) {
		s->mcrl[i].issuer = s->crls[i].issuer;
		s->mcrl[i].hash = s->crls[i].hash;
		s->mcrl[i].last_update = s->crls[i].last_update;
	}
	s->g.crls = s->mcrl;
	s->g.ncrls = i;
}

/*
 * This host's own record in a roster (d's lock held): its state, lower
 * case (metrics.h), or another certificate's, none, no roster yet.
 */
static const char *
own_state(struct eca_host *h, struct eca_domain *d)
{
	static const char *const names[] = {[ECA_STATE_ENROLLED] = "enrolled",
	    [ECA_STATE_CONFLICT] = "conflict",
	    [ECA_STATE_REMOVED] = "removed",
	    [ECA_STATE_BANNED] = "banned",
	    [ECA_STATE_REVOKED] = "revoked"};
	struct eca_roster_entry e;
	uint8_t fp[ECA_ROSTER_FP_LEN];

	if (eca_roster_lookup_host(d->roster, h->cfg->client_name, &e) != 0)
		return eca_roster_synced_at(d->roster) == 0 ? "unknown" :
							      "not_enrolled";
	if ((unsigned)e.state >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	if ((e.state == ECA_STATE_ENROLLED || e.state == ECA_STATE_CONFLICT) &&
	    (h->cred == NULL ||
		eca_roster_fp_from_hex(h->self.fingerprint, fp) != 0 ||
		memcmp(fp, e.fingerprint, sizeof(fp)) != 0))
		return "other_certificate";
	return names[e.state];
}

/* This host's domains: roster version and age, its own enrollment. */
static void
scrape_domains(struct ecad_snap *snap, struct scrape *s)
{
	struct eca_domain *dm;
	size_t i;

	if (snap->host == NULL)
		return;
	for (i = 0; i < snap->host->ndomains && i < ECA_MAX_SERVERS; i++) {
		dm = &snap->host->domains[i];
		s->dom[i].primary = dm->server->name;
		pthread_mutex_lock(&dm->lock);
		s->dom[i].version = eca_roster_version(dm->roster);
		s->dom[i].synced_at = eca_roster_synced_at(dm->roster);
		s->dom[i].state = own_state(snap->host, dm);
		pthread_mutex_unlock(&dm->lock);
	}
	s->g.domains = s->dom;
	s->g.ndomains = i;
}

int
ecad_metrics_text(struct ecad *d, struct eca_store *rd, char **out, size_t *len,
    struct eca_err *err)
{
	struct ecad_snap *snap = ecad_snap_get(d);
	struct scrape *s;
	int r;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		ecad_snap_put(snap);
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory reading the metrics");
	}
	s->g.role = eca_config_role_name(d->cfg->role);
	s->g.version = ECA_VERSION;
	s->g.now = (int64_t)time(NULL);
	/* peer_desc is set at bind, before any thread: read-only since. */
	s->g.peer_open = d->peer_desc[0] != '\0' ?
	    (int64_t)atomic_load(&d->metrics.peer_open) :
	    -1;
	if (d->cfg->role == ECA_ROLE_PRIMARY) {
		scrape_registry(d, rd, s);
		s->g.have_writer = d->writer != NULL;
		if (d->writer != NULL)
			s->g.writer_depth = writer_pending(d->writer);
		s->g.open_connections = atomic_load(&d->stats.open);
		(void)broker_metrics(d, &s->g);
		if (d->sessions != NULL) {
			s->g.have_console = 1;
			s->g.console_sessions =
			    (int64_t)eca_session_count(d->sessions, s->g.now);
		}
	}
	s->g.nnat = nat_metrics(d, s->nat, ECA_MAX_SERVERS);
	s->g.nat = s->nat;
	if (snap->cfg->crl_check != ECA_CRL_DISABLE)
		scrape_crls(d, s);
	scrape_domains(snap, s);
	r = eca_metrics_write(&d->metrics, &s->g, out, len, err);
	ecad_snap_put(snap);
	free(s->crls);
	free(s);
	return r;
}

/* GET /metrics on the API: METRICS_IDENTITY or an administrator. */
void
api_h_metrics(struct api_call *c)
{
	struct evbuffer *buf = evhttp_request_get_output_buffer(c->req);
	struct evkeyvalq *h = evhttp_request_get_output_headers(c->req);
	struct eca_err e;
	char *text = NULL;
	size_t len = 0;
	int r;

	eca_err_clear(&e);
	if ((r = ecad_metrics_text(c->d, c->w->rd, &text, &len, &e)) != 0) {
		api_reply_error(c, r, "%s", e.msg);
		return;
	}
	evbuffer_add(buf, text, len);
	free(text);
	evhttp_add_header(h, "Content-Type", ECA_METRICS_CONTENT_TYPE);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_send_reply(c->req, 200, NULL, NULL);
}

/* ------------------------------------------------------------------ */
/* METRICS_LISTEN.                                                     */

static void
plain_reply(struct evhttp_request *req, int status, const char *text)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evbuffer_add_printf(evhttp_request_get_output_buffer(req), "%s\n",
	    text);
	evhttp_add_header(h, "Content-Type", "text/plain; charset=utf-8");
	evhttp_send_reply(req, status, NULL, NULL);
}

static void
mhttp_request_cb(struct evhttp_request *req, void *arg)
{
	struct ecad_metrics_http *m = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	struct eca_err e;
	char *text = NULL;
	size_t len = 0;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
	    evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "GET, HEAD");
		plain_reply(req, 405, "only GET /metrics is served here");
		return;
	}
	if (path == NULL || strcmp(path, "/metrics") != 0) {
		plain_reply(req, 404,
		    "not found: only GET /metrics is served "
		    "here (docs/metrics.md)");
		return;
	}
	eca_err_clear(&e);
	if (ecad_metrics_text(m->d, m->rd, &text, &len, &e) != 0) {
		plain_reply(req, 500, e.msg);
		return;
	}
	evbuffer_add(evhttp_request_get_output_buffer(req), text, len);
	free(text);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", ECA_METRICS_CONTENT_TYPE);
	evhttp_send_reply(req, 200, NULL, NULL);
}

int
metrics_http_bind(struct ecad *d, struct eca_err *err)
{
	const struct eca_endpoint *ep = &d->cfg->metrics_listen;
	struct ecad_metrics_http *m;
	long port;

	if (ep->host == NULL)
		return 0;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory setting up METRICS_LISTEN");
	d->mhttp = m;
	m->d = d;
	port = ep->port != NULL ? strtol(ep->port, NULL, 10) : 0;
	if ((m->base = event_base_new()) == NULL ||
	    (m->http = evhttp_new(m->base)) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "cannot create the metrics listener's event loop");
	/* Others reach the callback only to get a 405 (not libevent's 501). */
	evhttp_set_allowed_methods(m->http,
	    EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | ECAD_HTTP_METHODS);
	evhttp_set_max_headers_size(m->http, ECAD_HEADERS_MAX);
	evhttp_set_max_body_size(m->http, 0);
	evhttp_set_timeout(m->http, d->cfg->request_timeout);
	evhttp_set_gencb(m->http, mhttp_request_cb, m);
	if (port <= 0 || port > 65535 ||
	    evhttp_bind_socket(m->http, ep->host, (ev_uint16_t)port) != 0)
		return eca_err_set(err, ECA_ERR_IO,
		    "cannot listen on METRICS_LISTEN = %s:%s (is the port "
		    "in use, or the address not on this machine?)",
		    ep->host, ep->port != NULL ? ep->port : "(no port)");
	snprintf(m->desc, sizeof(m->desc), "%s%s%s:%ld",
	    strchr(ep->host, ':') != NULL ? "[" : "", ep->host,
	    strchr(ep->host, ':') != NULL ? "]" : "", port);
	return 0;
}

static void *
mhttp_main(void *arg)
{
	struct ecad_metrics_http *m = arg;

	ecad_thread_name("ecad-metrics");
	event_base_dispatch(m->base);
	return NULL;
}

int
metrics_http_start(struct ecad *d, struct eca_err *err)
{
	struct ecad_metrics_http *m = d->mhttp;
	int r;

	if (m == NULL)
		return 0;
	if (d->cfg->role == ECA_ROLE_PRIMARY &&
	    (r = eca_store_open(d->cfg->db, ECA_STORE_READONLY, &m->rd, err)) !=
		0)
		return r;
	eca_store_watch_attach(m->rd, d->dbwatch);
	if (pthread_create(&m->thread, NULL, mhttp_main, m) != 0)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot start the metrics listener's thread");
	m->started = 1;
	log_info("metrics: GET http://%s/metrics (METRICS_LISTEN)", m->desc);
	return 0;
}

void
metrics_http_stop(struct ecad *d)
{
	struct ecad_metrics_http *m = d->mhttp;

	if (m == NULL)
		return;
	if (m->started) {
		event_base_loopexit(m->base, NULL);
		pthread_join(m->thread, NULL);
	}
	if (m->http != NULL)
		evhttp_free(m->http);
	if (m->base != NULL)
		event_base_free(m->base);
	if (m->rd != NULL)
		eca_store_close(m->rd);
	free(m);
	d->mhttp = NULL;
}
