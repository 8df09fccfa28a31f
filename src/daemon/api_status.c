/* SPDX-License-Identifier: ISC */
/*
 * api_status.c - the reads that are not one host's record: GET
 * /v1/health (anyone), /v1/stats (administrators) and /v1/roster, which
 * every host syncs to judge its peers.  Who may call each is the route
 * table's access column (api_routes.c).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_impl.h"
#include "apiparse.h"
#include "crl.h"
#include "health.h"
#include "host.h"
#include "roster.h"
#include "text.h"

#ifndef ECA_VERSION
#define ECA_VERSION "0.0.0"
#endif

/*
 * GET /v1/health's checks (docs/api.md).  Each is cheap: state the daemon
 * already holds (the writer's last commit and queue, the snapshot's
 * certificate, the CRL cache's list), no write and no fetch per request.
 * The route is public, so the details say nothing an anonymous caller
 * should not learn: no paths, no fingerprints, no error messages (which
 * can name files); the certificate's end date and the CRL issuers' names
 * are in every TLS handshake anyway.
 */
struct health {
	json_t *checks;
	enum eca_health_level worst;
	int nomem;
};

static void ECA_PRINTF(4, 5) health_add(struct health *h, const char *name,
    enum eca_health_level l, const char *fmt, ...)
{
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	h->worst = eca_health_worst(h->worst, l);
	if (json_array_append_new(h->checks,
		json_pack("{s:s, s:s, s:s}", "name", name, "status",
		    eca_health_level_name(l), "detail", detail)) != 0)
		h->nomem = 1;
}

/*
 * The registry: the writer runs, the database (PostgreSQL) can be
 * reached, and the last group commit succeeded.
 */
static void
health_registry(struct health *h, const struct writer_health *wh,
    struct eca_store_watch *dbwatch)
{
	if (eca_store_watch_down(dbwatch))
		health_add(h, "registry", ECA_HEALTH_CRITICAL,
		    "the registry database cannot be reached: requests are "
		    "answered 503 DB_UNAVAILABLE and ecad reconnects (see "
		    "ecad's log for libpq's message)");
	else if (!wh->running)
		health_add(h, "registry", ECA_HEALTH_CRITICAL,
		    "the registry writer is stopping: nothing more is "
		    "written");
	else if (wh->last_code != 0)
		health_add(h, "registry", ECA_HEALTH_CRITICAL,
		    "the last group commit to the registry failed (%s): see "
		    "ecad's log on the primary",
		    eca_err_name(wh->last_code));
	else
		health_add(h, "registry", ECA_HEALTH_OK,
		    "the writer runs and its last group commit, if any, "
		    "succeeded");
}

/* The writer's queue: how long its oldest job has waited. */
static void
health_writer(struct health *h, const struct writer_health *wh)
{
	enum eca_health_level l;

	l = eca_health_writer_level(1, 0, wh->oldest_age);
	if (l == ECA_HEALTH_OK)
		health_add(h, "writer", l,
		    "%zu job(s) pending, the oldest %lld s old", wh->pending,
		    (long long)wh->oldest_age);
	else
		health_add(h, "writer", l,
		    "%zu job(s) pending, the oldest %lld s old (warn after "
		    "%d s, critical after %d s): the registry's disk may be "
		    "slow or stuck",
		    wh->pending, (long long)wh->oldest_age,
		    ECA_HEALTH_QUEUE_WARN_SEC, ECA_HEALTH_QUEUE_CRIT_SEC);
}

/* This primary's own certificate, the one its TLS handshakes show. */
static void
health_certificate(struct health *h, const struct ecad_snap *s, time_t now)
{
	const int days = s->cfg->cert_expiry_warn_days;
	char when[ECA_TEXT_TIME_LEN];
	enum eca_health_level l;
	int64_t end = 0;

	if (s->cred == NULL || s->cred->leaf == NULL ||
	    eca_x509_time(X509_get0_notAfter(s->cred->leaf), &end) != 0) {
		health_add(h, "certificate", ECA_HEALTH_CRITICAL,
		    "this primary's certificate cannot be read");
		return;
	}
	eca_text_utc(end, when, sizeof(when));
	l = eca_health_cert_level(end, (int64_t)now, days);
	if (l == ECA_HEALTH_CRITICAL)
		health_add(h, "certificate", l,
		    "this primary's certificate expired on %s: renew it", when);
	else if (l == ECA_HEALTH_WARN)
		health_add(h, "certificate", l,
		    "this primary's certificate expires on %s, in %lld "
		    "day(s), within ECA_CERT_EXPIRY_WARN_DAYS = %d: renew it",
		    when, (long long)((end - (int64_t)now) / 86400), days);
	else
		health_add(h, "certificate", l,
		    "this primary's certificate is valid until %s", when);
}

/* Every CRL of the cache: expired in its grace period, or past it. */
static void
health_crl(struct health *h, struct ecad *d, const struct ecad_snap *s,
    time_t now)
{
	struct eca_crl_info *v = NULL;
	enum eca_health_level l, worst = ECA_HEALTH_OK;
	size_t i, n = 0, bad = 0, at = 0;

	if (s->cfg->crl_check == ECA_CRL_DISABLE) {
		health_add(h, "crl", ECA_HEALTH_OK,
		    "revocation checking is disabled (ECA_CRL_CHECK)");
		return;
	}
	if (d->crls == NULL ||
	    eca_crl_cache_list(d->crls, now, &v, &n, NULL) != 0) {
		health_add(h, "crl", ECA_HEALTH_CRITICAL,
		    "the CRL cache cannot be listed");
		return;
	}
	for (i = 0; i < n; i++) {
		l = eca_health_crl_level(v[i].state);
		if (l != ECA_HEALTH_OK)
			bad++;
		if (l > worst) {
			worst = l;
			at = i;
		}
	}
	if (worst == ECA_HEALTH_OK)
		health_add(h, "crl", worst, "%zu cached CRL(s), all current",
		    n);
	else
		health_add(h, "crl", worst,
		    "%zu of %zu cached CRL(s) expired; the CRL of %.200s "
		    "%s (ECA_CRL_GRACE_HOURS = %d): publish a current CRL",
		    bad, n, v[at].issuer,
		    worst == ECA_HEALTH_WARN ?
			"is used in its grace period" :
			"is past its grace period: certificates it covers "
			"are refused",
		    s->cfg->crl_grace_hours);
	free(v);
}

/* The primary's own rosters (its channels are judged by them): their age. */
static void
health_roster(struct health *h, struct ecad *d, const struct ecad_snap *s,
    time_t now)
{
	const struct eca_config *cfg = s->cfg;
	enum eca_health_level l;
	struct eca_domain *dm;
	int64_t at;
	size_t i;

	if (s->host == NULL)
		return;
	for (i = 0; i < s->host->ndomains; i++) {
		dm = &s->host->domains[i];
		pthread_mutex_lock(&dm->lock);
		at = eca_roster_synced_at(dm->roster);
		pthread_mutex_unlock(&dm->lock);
		l = eca_health_roster_level(at, d->started_at, now,
		    cfg->roster_sync_seconds, cfg->roster_max_age);
		if (at == 0)
			health_add(h, "roster", l,
			    "the roster of %.200s was not synced yet, %lld s "
			    "after start (ECA_ROSTER_SYNC_SECONDS = %d)",
			    dm->server->name, (long long)(now - d->started_at),
			    cfg->roster_sync_seconds);
		else
			health_add(h, "roster", l,
			    "the roster of %.200s was synced %lld s ago%s",
			    dm->server->name, (long long)(now - at),
			    l == ECA_HEALTH_OK ?
				"" :
				l == ECA_HEALTH_WARN ?
				" (more than three sync periods: "
				"check the primary's API)" :
				" (older than ECA_ROSTER_MAX_AGE: "
				"channels are refused ROSTER_STALE)");
	}
}

void
api_h_health(struct api_call *c)
{
	/* Role and name are restart-only: the start-up configuration's. */
	const struct eca_config *cfg = c->d->cfg;
	struct writer_health wh;
	struct health h;
	time_t now = time(NULL);
	json_t *body;

	memset(&h, 0, sizeof(h));
	if ((h.checks = json_array()) == NULL) {
		api_reply_json(c, 500, NULL);
		return;
	}
	writer_health(c->d->writer, &wh);
	health_registry(&h, &wh, c->d->dbwatch);
	health_writer(&h, &wh);
	health_certificate(&h, c->snap, now);
	health_crl(&h, c->d, c->snap, now);
	health_roster(&h, c->d, c->snap, now);
	if (h.nomem) {
		json_decref(h.checks);
		api_reply_json(c, 500, NULL);
		return;
	}
	body = json_pack("{s:s, s:s, s:s, s:s, s:o}", "status",
	    eca_health_level_name(h.worst), "role",
	    eca_config_role_name(cfg->role), "primary", cfg->client_name,
	    "version", ECA_VERSION, "checks", h.checks);
	api_reply_json(c, h.worst == ECA_HEALTH_CRITICAL ? 503 : 200, body);
}

void
api_h_stats(struct api_call *c)
{
	struct ecad_stats *s = &c->d->stats;

	api_reply_json(c, 200,
	    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
		      "s:I, s:I, s:I, s:o}",
		"enroll_requests", (json_int_t)atomic_load(&s->enroll_requests),
		"roster_requests", (json_int_t)atomic_load(&s->roster_requests),
		"busy_replies", (json_int_t)atomic_load(&s->busy), "requests",
		(json_int_t)atomic_load(&s->requests), "enrollments_written",
		(json_int_t)atomic_load(&s->written), "commits",
		(json_int_t)atomic_load(&s->commits), "refusals",
		(json_int_t)atomic_load(&s->refusals), "connections",
		(json_int_t)atomic_load(&s->connections), "open_connections",
		(json_int_t)atomic_load(&s->open), "writer_pending",
		(json_int_t)writer_pending(c->d->writer), "broker",
		broker_stats_json(c->d)));
}

/*
 * THE rule for "too old to derive a delta": records are never deleted, so
 * any since up to the current version has an exact delta; 0 asks for
 * everything, and a since beyond the current version (a roster from a
 * registry restored from backup, or from another one) cannot be trusted.
 * Compaction, when it comes, raises the oldest derivable version here.
 */
static int
roster_full(int64_t since, int64_t current)
{
	const int64_t oldest = 0;

	return since <= oldest || since > current;
}

/* ?since=V&limit=N; 0 or -1 (replied). */
static int
roster_query(struct api_call *c, int64_t *since, long *limit)
{
	struct eca_err e;

	eca_err_clear(&e);
	if (api_parse_roster_query(api_query_of(c), since, limit, &e) != 0) {
		api_reply_error(c, e.code, "%s", e.msg);
		return -1;
	}
	return 0;
}

/*
 * One page of the roster: ch and maps (version order, at most limit + 1
 * of each) of what changed after since, the registry at current.
 */
static void
roster_reply(struct api_call *c, int64_t since, int64_t current, int full,
    long limit, struct eca_change *ch, size_t n, struct eca_dnmap *maps,
    size_t nmaps)
{
	json_t *body;
	int64_t next, last = 0;
	size_t i, j;
	int more;

	/*
	 * Records and DN mappings share the version counter: a page takes
	 * the first limit changes of either kind in version order, so next
	 * (the last version taken) skips nothing of both.
	 */
	for (i = j = 0; i + j < (size_t)limit && (i < n || j < nmaps);) {
		if (j >= nmaps || (i < n && ch[i].version < maps[j].version))
			last = ch[i++].version;
		else
			last = maps[j++].version;
	}
	more = i < n || j < nmaps;
	n = i;
	nmaps = j;
	next = current;
	if (i + j > 0 && (more || last > next))
		next = last;
	body = eca_wire_roster(
	    &(struct eca_wire_roster_page){.primary = c->d->cfg->client_name,
		.since = since,
		.version = current,
		.next = next,
		.full = full,
		.more = more},
	    ch, n);
	/* Only when there are any: an older host's parser is not bothered. */
	if (body != NULL && nmaps > 0 &&
	    eca_wire_roster_add_maps(body, maps, nmaps) != 0) {
		json_decref(body);
		body = NULL;
	}
	api_reply_json(c, 200, body);
}

/*
 * The roster from memory (rcache.c): when it is known fresh, or (fresh
 * 0) when the database cannot be reached.  0 when answered.
 */
static int
roster_cached(struct api_call *c, int64_t since, long limit, int fresh)
{
	struct rcache_page pg;

	if (rcache_page(c->d->rcache, since, (size_t)limit + 1, fresh, &pg) !=
	    0)
		return -1;
	roster_reply(c, since, pg.version, roster_full(since, pg.version),
	    limit, pg.ch, pg.n, pg.maps, pg.nmaps);
	free(pg.ch);
	free(pg.maps);
	return 0;
}

/* The database failed: the last good roster answers, or the refusal. */
static void
roster_from_cache(struct api_call *c, int64_t since, long limit, int code,
    const char *msg)
{
	if (code != ECA_ERR_DB_UNAVAILABLE ||
	    roster_cached(c, since, limit, 0) != 0)
		api_reply_error(c, code, "%s", msg);
}

/*
 * GET /v1/roster: the records changed after ?since=, in version order, a
 * page at a time (docs/roster.md).
 */
void
api_h_roster(struct api_call *c)
{
	struct eca_change *ch = NULL;
	struct eca_dnmap *maps = NULL;
	struct eca_err e;
	int64_t since, current;
	size_t n = 0, nmaps = 0;
	long limit;
	int r, full;

	if (roster_query(c, &since, &limit) != 0 ||
	    roster_cached(c, since, limit, 1) == 0)
		return;
	/*
	 * The current version first: a change committed between the two
	 * reads then shows in the entries rather than being skipped.
	 */
	eca_err_clear(&e);
	if ((r = eca_store_version(c->w->rd, &current, &e)) != 0) {
		roster_from_cache(c, since, limit, r, e.msg);
		return;
	}
	full = roster_full(since, current);
	/* One more than asked tells whether there is a next page. */
	if ((r = eca_store_changes(c->w->rd, c->d->cfg->client_name,
		 full ? 0 : since, (size_t)limit + 1, &ch, &n, &e)) != 0 ||
	    (r = eca_store_dnmaps(c->w->rd, c->d->cfg->client_name,
		 full ? 0 : since, (size_t)limit + 1, &maps, &nmaps, &e)) !=
		0) {
		roster_from_cache(c, since, limit, r, e.msg);
		goto out;
	}
	roster_reply(c, since, current, full, limit, ch, n, maps, nmaps);
	/* After the answer: the host does not wait for the cache. */
	rcache_refresh(c->d->rcache, c->w->rd, c->d->cfg->client_name, current);
out:
	free(ch);
	free(maps);
}
