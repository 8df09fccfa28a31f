/* SPDX-License-Identifier: ISC */
/*
 * crlsync.c - the CRL refresh thread: ECA_CRL_PATH synced every
 * ECA_CRL_PATH_SYNC_HOURS, distribution point CRLs fetched again every
 * ECA_CRL_REFRESH_HOURS (or when expired), and CRLs another process put
 * in the cache (`eca crl download`) picked up, all off the request path:
 * a slow distribution point never holds an API or peer request.  Checks
 * still fetch on demand (rate-limited, short timeout) when a CRL is
 * missing or expired; see docs/revocation.md.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crl.h"
#include "ecad.h"
#include "log.h"

struct ecad_crlsync {
	struct ecad *d;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stopping;
};

static void
crlsync_tick(struct ecad *d)
{
	struct ecad_snap *s;
	struct eca_err e;
	size_t added = 0;

	s = ecad_snap_get(d);
	eca_err_clear(&e);
	if (eca_crl_cache_maintain(d->crls, s->cred->trust, s->cred->chain, 0,
		&added, &e) != 0)
		log_warn("CRL refresh: %s", e.msg);
	else if (e.msg[0] != '\0')
		log_warn("CRL refresh: %s", e.msg);
	if (added > 0)
		log_info("CRL refresh: %zu CRL(s) stored", added);
	ecad_snap_put(s);
}

static void *
crlsync_main(void *arg)
{
	struct ecad_crlsync *cs = arg;
	struct timespec ts;

	ecad_thread_name("ecad-crlsync");
	pthread_mutex_lock(&cs->lock);
	while (!cs->stopping) {
		pthread_mutex_unlock(&cs->lock);
		crlsync_tick(cs->d);
		pthread_mutex_lock(&cs->lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += ECAD_CRL_TICK_SEC;
		while (!cs->stopping &&
		    pthread_cond_timedwait(&cs->cond, &cs->lock, &ts) !=
			ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&cs->lock);
	return NULL;
}

int
crlsync_start(struct ecad *d, struct eca_err *err)
{
	struct ecad_crlsync *cs;

	if (d->crls == NULL || d->cfg->crl_check == ECA_CRL_DISABLE)
		return 0;
	if ((cs = calloc(1, sizeof(*cs))) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
	cs->d = d;
	if (pthread_mutex_init(&cs->lock, NULL) != 0) {
		free(cs);
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot create the CRL refresh lock");
	}
	if (pthread_cond_init(&cs->cond, NULL) != 0) {
		pthread_mutex_destroy(&cs->lock);
		free(cs);
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot create the CRL refresh condition");
	}
	if (pthread_create(&cs->thread, NULL, crlsync_main, cs) != 0) {
		pthread_cond_destroy(&cs->cond);
		pthread_mutex_destroy(&cs->lock);
		free(cs);
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot start the CRL refresh thread");
	}
	d->crlsync = cs;
	return 0;
}

void
crlsync_stop(struct ecad *d)
{
	struct ecad_crlsync *cs = d->crlsync;

	if (cs == NULL)
		return;
	pthread_mutex_lock(&cs->lock);
	cs->stopping = 1;
	pthread_cond_signal(&cs->cond);
	pthread_mutex_unlock(&cs->lock);
	/* A download in progress ends within ECA_CRL_FETCH_TIMEOUT_MS. */
	pthread_join(cs->thread, NULL);
	pthread_cond_destroy(&cs->cond);
	pthread_mutex_destroy(&cs->lock);
	free(cs);
	d->crlsync = NULL;
}
