/* SPDX-License-Identifier: ISC */
/*
 * ecad_snap.c - the configuration and what SIGHUP replaces: the
 * refcounted snapshot of configuration, credentials and TLS contexts
 * (struct ecad_snap), built at start-up and again on each reload.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "ecad_impl.h"
#include "host.h"
#include "log.h"
#include "tls.h"
#include "vcache.h"

struct ecad_snap *
ecad_snap_get(struct ecad *d)
{
	struct ecad_snap *s;

	pthread_mutex_lock(&d->snap_lock);
	s = d->snap;
	atomic_fetch_add(&s->refs, 1);
	pthread_mutex_unlock(&d->snap_lock);
	return s;
}

void
ecad_snap_put(struct ecad_snap *s)
{
	size_t i;

	if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	eca_host_free(s->host); /* borrows cfg */
	SSL_CTX_free(s->peer_ctx);
	SSL_CTX_free(s->console_ctx);
	eca_cred_free(s->console_cred);
	for (i = 0; i < s->napi; i++) {
		SSL_CTX_free(s->api_ctx[i]);
		eca_cred_free(s->api_cred[i]);
	}
	free(s->api_ctx);
	free(s->api_cred);
	eca_vcache_free(s->vcache);
	eca_cred_free(s->cred);
	eca_config_free(s->cfg);
	free(s);
}

/*
 * The console's own certificate and key (CONSOLE_CERT_PATH), loaded as
 * this host's are, with the same trust store for client certificates.
 */
static int
console_ctx(struct ecad *d, const struct eca_config *cfg, struct ecad_snap *s,
    struct eca_err *err)
{
	struct eca_config tmp;
	int r;

	if (cfg->console_cert_path == NULL || cfg->role != ECA_ROLE_PRIMARY)
		return 0;
	tmp = *cfg; /* read only: the paths point into cfg */
	tmp.cert_path = cfg->console_cert_path;
	tmp.key_path = cfg->console_key_path;
	if ((r = eca_cred_load(NULL, &tmp, &s->console_cred, err)) != 0 ||
	    (r = eca_tls_server_ctx(NULL, s->console_cred, &s->console_ctx,
		 err)) != 0)
		return r;
	server_ctx_setup(d, s->console_ctx);
	return 0;
}

/*
 * The API workers' library contexts (ecad.libctx), one per worker that
 * cfg asks for, made once, each with the decoders a handshake needs
 * (eca_tls_libctx_new).
 */
static int
libctx_setup(struct ecad *d, const struct eca_config *cfg, struct eca_err *err)
{
	size_t i, n;
	int r;

	if (d->libctx != NULL)
		return 0;
	n = server_workers(cfg);
	if ((d->libctx = calloc(n, sizeof(*d->libctx))) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
	d->nlibctx = n;
	for (i = 0; i < n; i++)
		if ((r = eca_tls_libctx_new(&d->libctx[i], err)) != 0)
			return r;
	return 0;
}

void
ecad_libctx_free(struct ecad *d)
{
	size_t i;

	for (i = 0; i < d->nlibctx; i++)
		eca_tls_libctx_free(&d->libctx[i]);
	free(d->libctx);
	d->libctx = NULL;
	d->nlibctx = 0;
}

/* Each API worker's copy of s->cred and its server context. */
static int
api_ctxs(struct ecad *d, struct ecad_snap *s, struct eca_err *err)
{
	size_t i;
	int r;

	if ((s->api_ctx = calloc(d->nlibctx, sizeof(*s->api_ctx))) == NULL ||
	    (s->api_cred = calloc(d->nlibctx, sizeof(*s->api_cred))) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
	s->napi = d->nlibctx;
	for (i = 0; i < s->napi; i++) {
		if ((r = eca_cred_copy(d->libctx[i].ctx, s->cred,
			 &s->api_cred[i], err)) != 0 ||
		    (r = eca_tls_server_ctx(d->libctx[i].ctx, s->api_cred[i],
			 &s->api_ctx[i], err)) != 0)
			return r;
		server_ctx_setup(d, s->api_ctx[i]);
	}
	return 0;
}

/* Credentials and server contexts for cfg; takes cfg on success. */
static int
snap_build(struct ecad *d, struct eca_config *cfg, struct ecad_snap **out,
    struct eca_err *err)
{
	struct ecad_snap *s = NULL;
	int r;

	*out = NULL;
	if ((r = libctx_setup(d, cfg, err)) != 0)
		return r;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
	atomic_init(&s->refs, 1);
	if ((r = eca_cred_load(NULL, cfg, &s->cred, err)) != 0 ||
	    (r = api_ctxs(d, s, err)) != 0) {
		ecad_snap_put(s);
		return r;
	}
	s->gen = ++d->snap_gen;
	s->cfg = cfg;
	if ((r = eca_vcache_new(s->cred->trust, ECA_VCACHE_SLOTS,
		 &s->vcache)) != 0)
		r = eca_err_set(err, r,
		    "cannot make the certificate "
		    "verification cache");
	else if ((r = peer_snap_setup(d, s, err)) == 0)
		r = console_ctx(d, cfg, s, err);
	if (r != 0) {
		s->cfg = NULL; /* the caller keeps cfg on failure */
		ecad_snap_put(s);
		return r;
	}
	*out = s;
	return 0;
}

/* Phase: configuration and credentials (also all of -t and -T). */
int
ecad_config_load(struct ecad *d)
{
	struct eca_config *cfg = NULL;
	struct ecad_snap *s = NULL;
	struct eca_err err;
	char *dump;
	int r;

	eca_err_clear(&err);
	if ((r = eca_config_load(d->conf_path, &cfg, &err)) != 0) {
		fprintf(stderr, "ecad: %s\n", err.msg);
		return -1;
	}
	if (d->dump_only) {
		if ((dump = eca_config_dump(cfg)) == NULL) {
			fprintf(stderr, "ecad: out of memory\n");
			eca_config_free(cfg);
			return -1;
		}
		fputs(dump, stdout);
		free(dump);
		d->cfg = cfg;
		return 0;
	}
	if ((r = snap_build(d, cfg, &s, &err)) != 0) {
		fprintf(stderr, "ecad: %s\n", err.msg);
		eca_config_free(cfg);
		return -1;
	}
	d->snap = s;
	/*
	 * d->cfg is the start-up configuration (restart-only keys); the
	 * snapshot has its own copy that SIGHUP replaces.
	 */
	if ((r = eca_config_load(d->conf_path, &d->cfg, &err)) != 0) {
		fprintf(stderr, "ecad: %s\n", err.msg);
		return -1;
	}
	return 0;
}

/* SIGHUP: new configuration and credentials, or keep the old ones. */
void
ecad_reload(struct ecad *d)
{
	struct eca_config *cfg = NULL;
	struct ecad_snap *s = NULL, *old;
	struct eca_err err;

	eca_err_clear(&err);
	if (eca_config_load(d->conf_path, &cfg, &err) != 0) {
		log_error("reload failed, keeping the running configuration: "
			  "%s",
		    err.msg);
		return;
	}
	if (snap_build(d, cfg, &s, &err) != 0) {
		log_error("reload failed, keeping the running configuration: "
			  "%s",
		    err.msg);
		eca_config_free(cfg);
		return;
	}
	pthread_mutex_lock(&d->snap_lock);
	old = d->snap;
	d->snap = s;
	pthread_mutex_unlock(&d->snap_lock);
	ecad_snap_put(old);
	log_info("configuration reloaded from %s (credentials, "
		 "ADMIN_IDENTITY, ECA_IDENTITY, ECA_ALLOW_FORCED_REENROLLMENT; "
		 "listen addresses, ECA_DB, WORKERS, USER and paths need a "
		 "restart)",
	    d->conf_path);
}
