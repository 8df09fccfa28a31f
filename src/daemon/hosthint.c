/* SPDX-License-Identifier: ISC */
/*
 * hosthint.c - which host names the registry holds, as a hint for the
 * API's enrollment path (hostset.h), on a SQLite registry.
 *
 * POST /v1/enrollments reads the host's record before it hands the request
 * to the writer: a host enrolled already is answered UNCHANGED there, and
 * a refusal costs no commit.  For a host the registry has never held that
 * read only finds nothing, and the writer reads again inside its
 * transaction anyway: about 25 µs per new host on the worker's read
 * connection (a read transaction after every commit, its locks and pages).
 * The hint lets the worker skip it: a name the set has never been given
 * is not in the registry.
 *
 * The set is filled twice over: by a loader thread at start-up, from every
 * record of the registry (by version, a page at a time, on a connection of
 * its own), and by the writer after each commit, for the records it wrote
 * (hosthint_add).  It is used only once the loader is done (ready); what
 * the writer committed meanwhile is in it already.
 *
 * A hint, never a verdict (api_enroll.c): "absent" leads only to the
 * writer, which decides on the record itself, or, for a refusal, to the
 * read after all.  So a name written behind ecad's back (an operator's
 * sqlite3 on the registry file) costs one trip to the writer, not a wrong
 * answer.
 * Not on PostgreSQL, where other front ends write too.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ecad.h"
#include "hostset.h"
#include "log.h"
#include "util.h"

#define HOSTHINT_PAGE 1000 /* records per read while loading */
/* The set is sized for at most this many names (8 MiB): beyond, it fills. */
#define HOSTHINT_EXPECT_MAX 4000000

struct ecad_hosthint {
	struct ecad *d;
	struct eca_hostset *set;
	atomic_int ready;
	atomic_int stopping;
	pthread_t thread;
};

static void
not_loaded(const struct eca_err *e)
{
	log_warn("host names not loaded (new hosts' enrollments read the "
		 "registry first, as before): %s",
	    e->msg);
}

/* Every record's name, a page at a time: 0, or -1 (logged). */
static int
load(struct ecad_hosthint *h, size_t *count)
{
	struct eca_store *rd = NULL;
	struct eca_change *part;
	struct eca_err e;
	int64_t since = 0;
	size_t k, i;

	eca_err_clear(&e);
	*count = 0;
	if (eca_store_open_cfg(h->d->cfg, ECA_STORE_READONLY, &rd, &e) != 0)
		goto fail;
	do {
		if (eca_store_changes(rd, h->d->cfg->client_name, since,
			HOSTHINT_PAGE, &part, &k, &e) != 0)
			goto fail;
		for (i = 0; i < k; i++)
			eca_hostset_add(h->set, part[i].host);
		if (k > 0)
			since = part[k - 1].version;
		*count += k;
		free(part);
	} while (k == HOSTHINT_PAGE && !atomic_load(&h->stopping));
	eca_store_close(rd);
	return 0;
fail:
	eca_store_close(rd);
	not_loaded(&e);
	return -1;
}

static void *
loader_main(void *arg)
{
	struct ecad_hosthint *h = arg;
	int64_t t0 = eca_util_mono_us();
	size_t n;

	ecad_thread_name("ecad-hosthint");
	if (load(h, &n) != 0 || atomic_load(&h->stopping))
		return NULL;
	atomic_store_explicit(&h->ready, 1, memory_order_release);
	log_info("%zu host name(s) of the registry loaded in %lld ms (%zu "
		 "KiB)",
	    n, (long long)((eca_util_mono_us() - t0) / 1000),
	    eca_hostset_bytes(h->set) / 1024);
	return NULL;
}

void
hosthint_start(struct ecad *d, struct eca_store *st)
{
	struct ecad_hosthint *h;
	int64_t version = 0;
	sigset_t all, old;
	struct eca_err err;
	size_t expect;
	int e;

	if (strncmp(d->cfg->db, "sqlite:", strlen("sqlite:")) != 0)
		return;
	eca_err_clear(&err);
	/*
	 * Sized by the registry's version: one is handed out per change, so
	 * at least one per record, and at most HOSTHINT_EXPECT_MAX names.
	 */
	if (eca_store_version(st, &version, &err) != 0)
		goto fail;
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		eca_err_set(&err, ECA_ERR_NOMEM, "out of memory");
		goto fail;
	}
	h->d = d;
	expect = HOSTHINT_EXPECT_MAX;
	if (version < HOSTHINT_EXPECT_MAX)
		expect = version > 0 ? (size_t)version : 0;
	if (eca_hostset_new(expect, &h->set, &err) != 0) {
		free(h);
		goto fail;
	}
	/* Signals belong to the main thread's event loop. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	e = pthread_create(&h->thread, NULL, loader_main, h);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		eca_hostset_free(h->set);
		free(h);
		eca_err_set(&err, ECA_ERR_INTERNAL, "cannot start a thread: %s",
		    strerror(e));
		goto fail;
	}
	d->hosthint = h;
	return;
fail:
	not_loaded(&err);
}

void
hosthint_stop(struct ecad *d)
{
	struct ecad_hosthint *h = d->hosthint;

	if (h == NULL)
		return;
	atomic_store(&h->stopping, 1);
	pthread_join(h->thread, NULL);
	eca_hostset_free(h->set);
	free(h);
	d->hosthint = NULL;
}

void
hosthint_add(struct ecad *d, const char *host)
{
	if (d->hosthint != NULL && host[0] != '\0')
		eca_hostset_add(d->hosthint->set, host);
}

int
hosthint_absent(struct ecad *d, const char *host)
{
	struct ecad_hosthint *h = d->hosthint;

	return h != NULL &&
	    atomic_load_explicit(&h->ready, memory_order_acquire) &&
	    !eca_hostset_may_hold(h->set, host);
}
