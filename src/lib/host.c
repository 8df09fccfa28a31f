/* SPDX-License-Identifier: ISC */
/*
 * host.c - this host's view of its backup domains: credentials, one
 * roster per primary kept in sync with GET /v1/roster, refreshes that
 * wait for an enrollment in flight, enrollment through POST /v1/enrollments,
 * the local enrollment state, and the auto-enrollment rule.
 *
 * Locking: each domain's mutex guards its roster pointer, the roster's
 * contents and the fields below it in struct eca_domain.  A sync holds it
 * only to apply a page or swap a roster, never across the HTTP call, so
 * lookups on other threads are not held up by the network.  Only the
 * thread running a sync (d->syncing) changes the roster.
 */
#include "host.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include "log.h"
#include "text.h"
#include "tls.h"
#include "util.h"
#include "vcache.h"
#include "wire.h"

/* Each request to the primary (connect + transfer). */
#define HOST_HTTP_TIMEOUT_MS 10000L
/* At most this long is spent retrying an enrollment answered 429 BUSY. */
#define HOST_ENROLL_BUSY_MS 30000L
/* Pause between two syncs while waiting for a host to appear. */
#define HOST_WAIT_STEP_MS 500L
/* Largest local enrollment state file read. */
#define HOST_STATE_MAX (64 * 1024)
/* Pages in one sync: the most a roster can hold, with room to spare. */
#define HOST_SYNC_PAGES_MAX (ECA_ROSTER_HOSTS_MAX / ECA_ROSTER_PAGE_MAX + 16)

static void
sleep_ms(int64_t ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ------------------------------------------------------------------ */
/* The rule.                                                           */

int
eca_autoenroll_rule(const struct eca_autoenroll_side *self,
    const struct eca_autoenroll_side *peer, enum eca_purpose purpose,
    const char **why)
{
	const char *w = NULL;

	/* Checked in this order, so the phrase names the first reason. */
	if (self->disabled)
		w = "auto-enrollment is disabled on this host "
		    "(ECA_DISABLE_AUTO_ENROLLMENT = YES)";
	else if (!self->has_cert)
		w = "this host has no external certificate (ECA_CERT_PATH)";
	else if (!peer->has_cert)
		w = "the peer has no external certificate";
	/* S6: the NAT case lives here and nowhere else. */
	else if (peer->nat || self->nat)
		w = "communication with a NAT host does not enroll "
		    "automatically";
	else if (purpose == ECA_PURPOSE_ENROLL)
		w = "a remote enrollment is the host's own manual enrollment, "
		    "asked by its primary";
	else if (purpose == ECA_PURPOSE_CONSOLE)
		w = "the administration console needs manual enrollment";
	else if (purpose == ECA_PURPOSE_REPLICATION &&
	    self->role == ECA_ROLE_MEDIA && peer->role == ECA_ROLE_MEDIA)
		w = "replication between media servers needs manual "
		    "enrollment";
	if (why != NULL)
		*why = w;
	return w == NULL;
}

int
eca_autoenroll_allowed(const struct eca_config *self, int self_has_cert,
    enum eca_role peer_role, int peer_has_cert, int peer_nat,
    enum eca_purpose purpose, const char **why)
{
	struct eca_autoenroll_side me, them;

	if (self == NULL) {
		if (why != NULL)
			*why = "this host has no configuration";
		return 0;
	}
	me.role = self->role;
	me.has_cert = self_has_cert;
	me.nat = self->nat_client;
	me.disabled = self->disable_auto_enrollment;
	them.role = peer_role;
	them.has_cert = peer_has_cert;
	them.nat = peer_nat;
	them.disabled = 0;
	return eca_autoenroll_rule(&me, &them, purpose, why);
}

/* ------------------------------------------------------------------ */
/* Local enrollment state: STATE_DIR/enrollment-PRIMARY.json.          */

static int
state_path(const struct eca_host *h, const struct eca_domain *d, char *buf,
    size_t len, struct eca_err *err)
{
	int n;

	if (h->cfg->state_dir == NULL)
		return eca_err_set(err, ECA_ERR_CONFIG, "STATE_DIR is not set");
	if (!eca_hostname_is_canon(d->server->name))
		return eca_err_set(err, ECA_ERR_CONFIG,
		    "primary name \"%.64s\" "
		    "cannot name a state file",
		    d->server->name);
	n = snprintf(buf, len, "%s/enrollment-%s.json", h->cfg->state_dir,
	    d->server->name);
	if (n < 0 || (size_t)n >= len)
		return eca_err_set(err, ECA_ERR_CONFIG,
		    "the enrollment state "
		    "file name under STATE_DIR %s is too long (use a shorter "
		    "STATE_DIR)",
		    h->cfg->state_dir);
	return 0;
}

static int
is_uuid(const char *s)
{
	size_t i;

	if (strlen(s) != ECA_HOST_ID_LEN)
		return 0;
	for (i = 0; i < ECA_HOST_ID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!((s[i] >= '0' && s[i] <= '9') ||
			       (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return 1;
}

/*
 * Read the state file into d (called before d is shared).  A missing file
 * means not enrolled; a bad one is logged and ignored.
 */
static void
state_load(struct eca_host *h, struct eca_domain *d)
{
	uint8_t raw[ECA_ROSTER_FP_LEN];
	char path[PATH_MAX];
	struct eca_err e;
	json_error_t je = {.line = 0}; /* jansson may leave it unset */
	json_t *j = NULL;
	const char *fp, *id, *host, *primary;
	FILE *f = NULL;
	char *buf = NULL;
	size_t n;

	eca_err_clear(&e);
	if (state_path(h, d, path, sizeof(path), &e) != 0)
		goto out;
	if ((f = fopen(path, "re")) == NULL) {
		if (errno != ENOENT)
			log_warn("cannot read %s: %s; the enrollment with %s "
				 "is taken as unknown",
			    path, strerror(errno), d->server->name);
		goto out;
	}
	if ((buf = malloc(HOST_STATE_MAX)) == NULL)
		goto out;
	n = fread(buf, 1, HOST_STATE_MAX, f);
	if (ferror(f) || n == HOST_STATE_MAX ||
	    (j = json_loadb(buf, n, JSON_REJECT_DUPLICATES, &je)) == NULL ||
	    !json_is_object(j)) {
		log_warn("%s is not an enrollment state file; ignored (the "
			 "next communication enrolls again if allowed)",
		    path);
		goto out;
	}
	fp = json_string_value(json_object_get(j, "fingerprint"));
	id = json_string_value(json_object_get(j, "host_id"));
	host = json_string_value(json_object_get(j, "host"));
	primary = json_string_value(json_object_get(j, "primary"));
	if (fp == NULL || eca_roster_fp_from_hex(fp, raw) != 0 || id == NULL ||
	    !is_uuid(id) || !eca_hostname_eq(primary, d->server->name)) {
		log_warn("%s has a malformed or foreign enrollment record; "
			 "ignored",
		    path);
		goto out;
	}
	if (!eca_hostname_eq(host, h->cfg->client_name)) {
		log_info("%s records another host name; ignored (CLIENT_NAME "
			 "changed)",
		    path);
		goto out;
	}
	snprintf(d->enrolled_fp, sizeof(d->enrolled_fp), "%s", fp);
	snprintf(d->host_id, sizeof(d->host_id), "%s", id);
	d->enrolled = 1;
out:
	if (e.code != 0)
		log_debug("%s", e.msg);
	json_decref(j);
	free(buf);
	if (f != NULL)
		fclose(f);
}

/* Write the state file (0600), atomically and durably (util.h). */
static int
state_save(struct eca_host *h, struct eca_domain *d, const char *fp,
    const char *host_id, struct eca_err *err)
{
	char path[PATH_MAX], at[ECA_TEXT_TIME_LEN];
	json_t *j = NULL;
	char *text = NULL;
	int r;

	if ((r = state_path(h, d, path, sizeof(path), err)) != 0)
		goto out;
	eca_text_rfc3339((int64_t)time(NULL), at, sizeof(at));
	j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "primary", d->server->name,
	    "host", h->cfg->client_name, "fingerprint", fp, "host_id", host_id,
	    "at", at);
	if (j == NULL ||
	    (text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory writing "
		    "the enrollment state");
		goto out;
	}
	r = eca_util_replace_file(path, text, strlen(text), 0600, err);
out:
	free(text);
	json_decref(j);
	return r;
}

/* This host is enrolled with d as rec says: in d, and in STATE_DIR. */
static void
state_record(struct eca_host *h, struct eca_domain *d,
    const struct eca_enrollment *rec)
{
	struct eca_err e;

	/* The CLI may run without write access: not fatal. */
	eca_err_clear(&e);
	if (state_save(h, d, rec->cert.fingerprint, rec->host_id, &e) != 0)
		log_debug("enrollment with %s not recorded locally: %s",
		    d->server->name, e.msg);
	pthread_mutex_lock(&d->lock);
	snprintf(d->enrolled_fp, sizeof(d->enrolled_fp), "%s",
	    rec->cert.fingerprint);
	snprintf(d->host_id, sizeof(d->host_id), "%s", rec->host_id);
	d->enrolled = 1;
	pthread_mutex_unlock(&d->lock);
}

int
eca_domain_is_enrolled(struct eca_host *h, struct eca_domain *d)
{
	int yes;

	if (h == NULL || d == NULL || h->self.fingerprint[0] == '\0')
		return 0;
	pthread_mutex_lock(&d->lock);
	yes = d->enrolled && strcmp(d->enrolled_fp, h->self.fingerprint) == 0;
	pthread_mutex_unlock(&d->lock);
	return yes;
}

/* ------------------------------------------------------------------ */
/* The host.                                                           */

/* d's roster from STATE_DIR, or an empty one. */
static int
domain_load_roster(struct eca_host *h, struct eca_domain *d,
    struct eca_err *err)
{
	char path[PATH_MAX];
	struct eca_err e;
	int r;

	eca_err_clear(&e);
	if (h->cfg->state_dir != NULL &&
	    eca_roster_path(h->cfg->state_dir, d->server->name, path,
		sizeof(path), &e) == 0) {
		r = eca_roster_load(path, d->server->name, &d->roster, &e);
		if (r == 0) {
			log_debug("loaded the roster of %s from %s (%zu hosts, "
				  "version %" PRId64 ")",
			    d->server->name, path, eca_roster_count(d->roster),
			    eca_roster_version(d->roster));
			return 0;
		}
		if (r != ECA_ERR_NOT_FOUND)
			log_warn("%s", e.msg);
	} else if (e.code != 0)
		log_warn("%s", e.msg);
	return eca_roster_new(d->server->name, &d->roster, err);
}

int
eca_host_new(OSSL_LIB_CTX *libctx, const struct eca_config *cfg,
    struct eca_host **out, struct eca_err *err)
{
	struct eca_host *h = NULL;
	struct eca_domain *d;
	size_t i;
	int r;

	*out = NULL;
	if (cfg == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_host_new: no configuration");
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory making the host context");
	h->libctx = libctx;
	h->cfg = cfg;
	h->roster_max_age = cfg->roster_max_age > 0 ?
	    cfg->roster_max_age :
	    ECA_ROSTER_MAX_AGE_DEFAULT;
	if (cfg->cert_path != NULL) {
		if ((r = eca_cred_load(libctx, cfg, &h->cred, err)) != 0 ||
		    (r = eca_x509_info(h->cred->leaf, &h->self, err)) != 0 ||
		    (r = eca_tls_client_ctx(libctx, h->cred, &h->client_ctx,
			 err)) != 0)
			goto out;
		/*
		 * A channel judges the server with the verdict (chain,
		 * validity, identity, enrollment) before it sends anything
		 * but its own certificate: verify the chain there, once.
		 */
		eca_tls_ctx_defer_verify(h->client_ctx);
		h->policy.trust = h->cred->trust;
		/* The peers this host judges again and again (vcache.h). */
		if ((r = eca_vcache_new(h->cred->trust, ECA_VCACHE_SLOTS,
			 &h->policy.vcache)) != 0) {
			r = eca_err_set(err, r,
			    "cannot make the certificate "
			    "verification cache");
			goto out;
		}
	}
	h->policy.libctx = libctx;
	h->policy.identity = cfg->identity;
	h->policy.crl_check = cfg->crl_check;
	h->policy.crls = NULL;
	for (i = 0; i < cfg->nservers && i < ECA_MAX_SERVERS; i++) {
		d = &h->domains[i];
		d->server = &cfg->servers[i];
		if (pthread_mutex_init(&d->lock, NULL) != 0) {
			r = eca_err_set(err, ECA_ERR_INTERNAL,
			    "cannot create a lock");
			goto out;
		}
		if (pthread_cond_init(&d->synced, NULL) != 0) {
			pthread_mutex_destroy(&d->lock);
			r = eca_err_set(err, ECA_ERR_INTERNAL,
			    "cannot create a condition variable");
			goto out;
		}
		h->ndomains = i + 1;
		if ((r = domain_load_roster(h, d, err)) != 0)
			goto out;
		state_load(h, d);
	}
	*out = h;
	h = NULL;
	r = 0;
out:
	eca_host_free(h);
	ERR_clear_error();
	return r;
}

void
eca_host_free(struct eca_host *h)
{
	size_t i;

	if (h == NULL)
		return;
	for (i = 0; i < h->ndomains; i++) {
		eca_roster_free(h->domains[i].roster);
		pthread_cond_destroy(&h->domains[i].synced);
		pthread_mutex_destroy(&h->domains[i].lock);
	}
	SSL_CTX_free(h->client_ctx);
	eca_vcache_free(h->policy.vcache);
	eca_cred_free(h->cred);
	eca_certinfo_clear(&h->self);
	free(h);
}

struct eca_domain *
eca_host_domain(struct eca_host *h, const char *primary)
{
	char canon[ECA_HOST_MAX];
	size_t i;

	if (h == NULL ||
	    eca_hostname_canon(primary, canon, sizeof(canon), NULL) != 0)
		return NULL;
	/* SERVER names are canonical (config.c). */
	for (i = 0; i < h->ndomains; i++)
		if (strcmp(h->domains[i].server->name, canon) == 0)
			return &h->domains[i];
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Calls to the primary.                                               */

static int
primary_client(struct eca_host *h, struct eca_domain *d,
    struct eca_client **out, struct eca_err *err)
{
	if (h->cred == NULL)
		return eca_err_set(err, ECA_ERR_NO_CLIENT_CERT,
		    "%s has no "
		    "external certificate to present to %s (configure "
		    "ECA_CERT_PATH, ECA_PRIVATE_KEY_PATH and "
		    "ECA_TRUST_STORE_PATH)",
		    h->cfg->client_name, d->server->name);
	return eca_client_new_tls(d->server, h->cred, HOST_HTTP_TIMEOUT_MS, out,
	    err);
}

/* Prefix err's message with what was being done. */
static int
wrap(struct eca_err *err, int r, const char *what, const char *primary)
{
	char msg[ECA_ERR_MSG_MAX];

	if (err == NULL)
		return r;
	snprintf(msg, sizeof(msg), "%s", err->msg);
	return eca_err_set(err, r, "%s %s: %s", what, primary, msg);
}

/*
 * GET one page of the roster from since, decoded into *delta from the
 * bytes received (eca_roster_delta_parse: one pass, no JSON tree for the
 * primary's own pages).
 */
static int
fetch_page(struct eca_client *c, int64_t since, struct eca_roster_delta **delta,
    struct eca_err *err)
{
	const char *body;
	char path[128];
	size_t len;
	long status;
	int r;

	snprintf(path, sizeof(path), "/v1/roster?since=%" PRId64 "&limit=%d",
	    since, ECA_ROSTER_PAGE_MAX);
	if ((r = eca_client_call_raw(c, "GET", path, &status, &body, &len,
		 err)) != 0)
		return r;
	if (len == 0)
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the roster answer is empty");
	return eca_roster_delta_parse(body, len, delta, err);
}

/*
 * Fetch every page since the roster's version and apply it.  A full
 * answer is built in a private roster and swapped in at the end, so
 * lookups keep the old roster meanwhile; delta pages are applied to the
 * live roster under the lock.  Called by the one thread syncing d.
 */
static int
sync_pages(struct eca_host *h, struct eca_domain *d, struct eca_err *err)
{
	struct eca_client *c = NULL;
	struct eca_roster *work = NULL, *old = NULL;
	struct eca_roster_delta *delta = NULL;
	int64_t since;
	size_t pages;
	int r;

	if ((r = primary_client(h, d, &c, err)) != 0)
		goto out;
	pthread_mutex_lock(&d->lock);
	since = eca_roster_version(d->roster);
	pthread_mutex_unlock(&d->lock);
	for (pages = 0;; pages++) {
		if (pages >= HOST_SYNC_PAGES_MAX) {
			r = eca_err_set(err, ECA_ERR_PROTOCOL,
			    "the roster has "
			    "more pages than any roster can hold");
			goto out;
		}
		eca_roster_delta_free(delta);
		delta = NULL;
		if ((r = fetch_page(c, since, &delta, err)) != 0)
			goto out;
		if (delta->full && work == NULL &&
		    (r = eca_roster_new(d->server->name, &work, err)) != 0)
			goto out;
		if (work != NULL)
			r = eca_roster_apply(work, delta, (int64_t)time(NULL),
			    err);
		else {
			pthread_mutex_lock(&d->lock);
			r = eca_roster_apply(d->roster, delta,
			    (int64_t)time(NULL), err);
			pthread_mutex_unlock(&d->lock);
		}
		if (r != 0)
			goto out;
		if (!delta->more)
			break;
		since = delta->next;
	}
	if (work != NULL) {
		pthread_mutex_lock(&d->lock);
		old = d->roster;
		d->roster = work;
		pthread_mutex_unlock(&d->lock);
		work = NULL;
	}
	r = 0;
out:
	eca_roster_free(old);
	eca_roster_free(work);
	eca_roster_delta_free(delta);
	eca_client_free(c);
	return r;
}

/* Save d's roster; only the syncing thread calls this. */
static void
sync_save(struct eca_host *h, struct eca_domain *d)
{
	char path[PATH_MAX];
	struct eca_err e;

	eca_err_clear(&e);
	if (h->cfg->state_dir == NULL ||
	    eca_roster_path(h->cfg->state_dir, d->server->name, path,
		sizeof(path), &e) != 0 ||
	    eca_roster_save(d->roster, path, &e) != 0)
		log_warn("cannot save the roster of %s: %s (it is synced in "
			 "full after a restart)",
		    d->server->name,
		    e.code != 0 ? e.msg : "STATE_DIR is not set");
}

/* eca_domain_sync, for callers that go on whatever it returns. */
static int
domain_sync(struct eca_host *h, struct eca_domain *d, int on_miss,
    struct eca_err *err)
{
	struct eca_err e;
	int64_t now = (int64_t)time(NULL), due;
	int r;

	if (h == NULL || d == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_domain_sync: missing argument");
	pthread_mutex_lock(&d->lock);
	if (d->syncing)
		goto share;
	if (on_miss && d->last_sync_try != 0 &&
	    now - d->last_sync_try < ECA_ROSTER_MISS_INTERVAL &&
	    now >= d->last_sync_try) {
		/*
		 * Rate-limited, not skipped: the miss waits for the next
		 * allowed sync (at most ECA_ROSTER_MISS_INTERVAL), so an
		 * enrollment made just after the last sync is still seen.
		 * Misses that wait together share one sync.
		 */
		due = d->last_sync_try + ECA_ROSTER_MISS_INTERVAL;
		pthread_mutex_unlock(&d->lock);
		sleep_ms((due - now) * 1000);
		pthread_mutex_lock(&d->lock);
		if (d->syncing || d->last_sync_try >= due)
			goto share;
		now = (int64_t)time(NULL);
	}
	d->syncing = 1;
	d->last_sync_try = now;
	pthread_mutex_unlock(&d->lock);

	eca_err_clear(&e);
	if ((r = sync_pages(h, d, &e)) != 0) {
		wrap(&e, r, "cannot sync the enrollment roster of",
		    d->server->name);
		log_warn("%s", e.msg);
	} else if (h->persist_rosters)
		sync_save(h, d);

	pthread_mutex_lock(&d->lock);
	d->syncing = 0;
	d->sync_done++;
	d->last_sync_err = e;
	if (r == 0) {
		d->sync_count++;
		log_debug("synced the roster of %s: version %" PRId64 ", %zu "
			  "hosts",
		    d->server->name, eca_roster_version(d->roster),
		    eca_roster_count(d->roster));
	}
	pthread_cond_broadcast(&d->synced);
	pthread_mutex_unlock(&d->lock);
	if (r != 0 && err != NULL)
		*err = e;
	return r;

share:
	/* Single flight: share the result of the sync in flight (or just done). */
	while (d->syncing)
		pthread_cond_wait(&d->synced, &d->lock);
	r = d->last_sync_err.code;
	if (r != 0 && err != NULL)
		*err = d->last_sync_err;
	pthread_mutex_unlock(&d->lock);
	return r;
}

int
eca_domain_sync(struct eca_host *h, struct eca_domain *d, int on_miss,
    struct eca_err *err)
{
	return domain_sync(h, d, on_miss, err);
}

int
eca_domain_dn_map(void *arg, const char *subject, char *host, size_t size)
{
	struct eca_dn_lookup *lk = arg;
	int r, tried;

	if (lk == NULL || lk->h == NULL || lk->d == NULL)
		return ECA_ERR_NOT_FOUND;
	for (tried = 0;; tried = 1) {
		pthread_mutex_lock(&lk->d->lock);
		r = eca_roster_lookup_dn(lk->d->roster, subject, host, size);
		pthread_mutex_unlock(&lk->d->lock);
		if (r == 0 || tried)
			return r;
		if (lk->nowait)
			return ECA_ERR_WOULD_WAIT;
		/* Mapped since the last sync?  Ask the primary once. */
		if (domain_sync(lk->h, lk->d, 1, NULL) != 0)
			return r;
	}
}

/* Is host in d's roster now (in any state)? */
static int
domain_has(struct eca_domain *d, const char *host)
{
	struct eca_roster_entry e;
	int r;

	pthread_mutex_lock(&d->lock);
	r = eca_roster_lookup_host(d->roster, host, &e);
	pthread_mutex_unlock(&d->lock);
	return r == 0;
}

int
eca_domain_refresh(struct eca_host *h, struct eca_domain *d, const char *host,
    long wait_ms, struct eca_err *err)
{
	int64_t start = eca_util_mono_ms(), left;
	int r;

	if (h == NULL || d == NULL || (wait_ms > 0 && host == NULL))
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_domain_refresh: missing argument");
	/*
	 * Waiting for an enrollment in flight paces its own syncs
	 * (HOST_WAIT_STEP_MS): no rate-limit wait then.
	 */
	r = domain_sync(h, d, wait_ms <= 0, err);
	while (wait_ms > 0 && !domain_has(d, host)) {
		left = wait_ms - (eca_util_mono_ms() - start);
		if (left <= 0)
			break;
		sleep_ms(left < HOST_WAIT_STEP_MS ? left : HOST_WAIT_STEP_MS);
		r = domain_sync(h, d, 0, err);
	}
	return r;
}

int64_t
eca_domain_roster_version(struct eca_domain *d)
{
	int64_t v;

	if (d == NULL)
		return 0;
	pthread_mutex_lock(&d->lock);
	v = eca_roster_version(d->roster);
	pthread_mutex_unlock(&d->lock);
	return v;
}

int
eca_domain_peek(struct eca_host *h, struct eca_domain *d, const char *host,
    struct eca_roster_entry *out, int64_t *synced, struct eca_err *err)
{
	struct eca_err fe, se;
	int fr, lr;

	if (h == NULL || d == NULL || host == NULL || out == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_domain_peek: missing argument");
	eca_err_clear(&fe);
	pthread_mutex_lock(&d->lock);
	fr = eca_roster_check_fresh(d->roster, (int64_t)time(NULL),
	    h->roster_max_age, &fe);
	lr = eca_roster_lookup_host(d->roster, host, out);
	se = d->last_sync_err;
	if (synced != NULL)
		*synced = d->sync_done;
	pthread_mutex_unlock(&d->lock);
	if (fr != 0)
		return eca_err_set(err, ECA_ERR_ROSTER_STALE, "%s; %s", fe.msg,
		    se.code != 0 ? se.msg :
				   "the roster could not be refreshed");
	if (lr != 0)
		return eca_err_set(err, ECA_ERR_NOT_FOUND,
		    "%.253s is not in "
		    "the enrollment roster of %s",
		    host, d->server->name);
	return 0;
}

static int
outcome_from_name(const char *name)
{
	int o;

	for (o = ECA_OUTCOME_NONE; o <= ECA_OUTCOME_UNBANNED; o++)
		if (strcmp(eca_outcome_name((enum eca_enroll_outcome)o),
			name) == 0)
			return o;
	return -1;
}

int
eca_domain_enroll(struct eca_host *h, struct eca_domain *d, unsigned int flags,
    enum eca_method method, enum eca_enroll_outcome *outcome,
    struct eca_enrollment *out, struct eca_err *err)
{
	struct eca_client *c = NULL;
	struct eca_enrollment rec;
	struct eca_err e;
	const json_t *jr;
	json_t *body = NULL, *resp = NULL;
	const char *name;
	long status;
	int precheck = (flags & ECA_ENROLL_PRECHECK) != 0;
	int force = (flags & ECA_ENROLL_FORCE) != 0;
	int r, o;

	if (outcome != NULL)
		*outcome = ECA_OUTCOME_NONE;
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (h == NULL || d == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_domain_enroll: missing argument");
	memset(&rec, 0, sizeof(rec));
	if ((r = primary_client(h, d, &c, err)) != 0)
		goto out;
	/* A storm of first enrollments: come back when told, with jitter. */
	eca_client_set_busy_retry(c, HOST_ENROLL_BUSY_MS);
	body = json_pack("{s:s, s:b, s:b, s:s, s:s}", "host",
	    h->cfg->client_name, "precheck", precheck, "force", force, "role",
	    eca_config_role_name(h->cfg->role), "method",
	    method == ECA_METHOD_AUTO ? "auto" : "manual");
	/* Only a NAT host says so: the body of any other is as it was. */
	if (body != NULL && h->cfg->nat_client &&
	    json_object_set_new(body, "nat", json_true()) != 0) {
		json_decref(body);
		body = NULL;
	}
	if (body == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM,
		    "cannot build the "
		    "enrollment request: out of memory");
		goto out;
	}
	eca_err_clear(&e);
	if ((r = eca_client_call(c, "POST", "/v1/enrollments", body, &status,
		 &resp, &e)) != 0) {
		if (r == ECA_ERR_CONFLICT && resp != NULL && outcome != NULL)
			*outcome = ECA_OUTCOME_CONFLICT;
		if (err != NULL)
			*err = e;
		goto out;
	}
	name = resp != NULL ?
	    json_string_value(json_object_get(resp, "outcome")) :
	    NULL;
	if (name == NULL || (o = outcome_from_name(name)) < 0) {
		r = eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the enrollment answer "
		    "of %s has no known outcome",
		    d->server->name);
		goto out;
	}
	jr = json_object_get(resp, "enrollment");
	if (jr != NULL && json_is_object(jr) &&
	    (r = eca_wire_parse_enrollment(jr, &rec, err)) != 0)
		goto out;
	if (outcome != NULL)
		*outcome = (enum eca_enroll_outcome)o;
	if (!precheck && rec.cert.fingerprint[0] != '\0' &&
	    rec.host_id[0] != '\0')
		state_record(h, d, &rec);
	if (out != NULL) {
		*out = rec; /* moved: *out owns it now */
		memset(&rec, 0, sizeof(rec));
	}
	r = 0;
out:
	eca_enrollment_clear(&rec);
	json_decref(body);
	json_decref(resp);
	eca_client_free(c);
	return r;
}
