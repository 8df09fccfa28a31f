/*
 * writer.c - the group-commit writer: one thread owns the registry's
 * writer connection.  Workers queue jobs; the writer takes everything
 * queued (up to ECAD_WRITER_BATCH) and applies it with one
 * eca_registry_apply, i.e. one durable COMMIT for the group, and only
 * then hands each job back to its worker, which acknowledges it.  Under
 * load the queue fills while a commit is on its way to disk, so the cost
 * of the fsync is shared by many enrollments.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "ecad.h"
#include "log.h"

struct ecad_writer {
	struct ecad *d;
	struct eca_store *st;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct ecad_job *head, *tail;	/* FIFO */
	size_t queued;
	int stopping;
	struct eca_op *ops;		/* ECAD_WRITER_BATCH, for the apply */
};

static void
writer_apply(struct ecad_writer *wr, struct ecad_job **batch, size_t n)
{
	struct eca_err err;
	size_t i, wrote = 0;
	int r;

	for (i = 0; i < n; i++)
		wr->ops[i] = batch[i]->op;
	eca_err_clear(&err);
	r = eca_registry_apply(wr->st, wr->ops, n, &err);
	if (r != 0)
		log_error("group commit of %zu request(s) failed: %s: %s", n,
		    eca_err_name(r), err.msg);
	else
		atomic_fetch_add(&wr->d->stats.commits, 1);
	for (i = 0; i < n; i++) {
		batch[i]->op = wr->ops[i];
		if (r == 0 && (wr->ops[i].status == 0 ||
		    wr->ops[i].status == ECA_ERR_CONFLICT))
			wrote++;
		/* The worker replies from its own thread. */
		event_active(batch[i]->ev, EV_READ, 0);
	}
	atomic_fetch_add(&wr->d->stats.written, wrote);
	log_debug("group of %zu op(s) applied, %zu written", n, wrote);
}

static void *
writer_main(void *arg)
{
	struct ecad_writer *wr = arg;
	struct ecad_job *batch[ECAD_WRITER_BATCH];
	size_t n;

	pthread_mutex_lock(&wr->lock);
	for (;;) {
		while (wr->head == NULL && !wr->stopping)
			pthread_cond_wait(&wr->cond, &wr->lock);
		/* On stop, the queue is drained before the loop ends. */
		if (wr->head == NULL)
			break;
		for (n = 0; n < ECAD_WRITER_BATCH && wr->head != NULL; n++) {
			batch[n] = wr->head;
			wr->head = wr->head->next;
			batch[n]->next = NULL;
		}
		if (wr->head == NULL)
			wr->tail = NULL;
		wr->queued -= n;
		pthread_mutex_unlock(&wr->lock);
		writer_apply(wr, batch, n);
		pthread_mutex_lock(&wr->lock);
	}
	pthread_mutex_unlock(&wr->lock);
	return NULL;
}

int
writer_start(struct ecad *d, struct eca_store *st, struct ecad_writer **out,
    struct eca_err *err)
{
	struct ecad_writer *wr = NULL;
	sigset_t all, old;
	int r = ECA_ERR_NOMEM, e;

	*out = NULL;
	if ((wr = calloc(1, sizeof(*wr))) == NULL ||
	    (wr->ops = calloc(ECAD_WRITER_BATCH, sizeof(*wr->ops))) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM,
		    "cannot allocate the writer's queue");
		goto out;
	}
	wr->d = d;
	wr->st = st;
	pthread_mutex_init(&wr->lock, NULL);
	pthread_cond_init(&wr->cond, NULL);
	/* Signals belong to the main thread's event loop. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	e = pthread_create(&wr->thread, NULL, writer_main, wr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		pthread_cond_destroy(&wr->cond);
		pthread_mutex_destroy(&wr->lock);
		r = eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot start the writer thread: %s", strerror(e));
		goto out;
	}
	*out = wr;
	wr = NULL;
	r = 0;
out:
	if (wr != NULL) {
		free(wr->ops);
		free(wr);
	}
	return r;
}

int
writer_submit(struct ecad_writer *wr, struct ecad_job *job)
{
	int r = 0;

	job->next = NULL;
	pthread_mutex_lock(&wr->lock);
	if (wr->stopping || wr->queued >= ECAD_WRITER_QUEUE) {
		r = ECA_ERR_BUSY;
		goto out;
	}
	if (wr->tail != NULL)
		wr->tail->next = job;
	else
		wr->head = job;
	wr->tail = job;
	wr->queued++;
	pthread_cond_signal(&wr->cond);
out:
	pthread_mutex_unlock(&wr->lock);
	return r;
}

void
writer_stop(struct ecad_writer *wr)
{
	if (wr == NULL)
		return;
	pthread_mutex_lock(&wr->lock);
	wr->stopping = 1;
	pthread_cond_signal(&wr->cond);
	pthread_mutex_unlock(&wr->lock);
	pthread_join(wr->thread, NULL);
	eca_store_close(wr->st);
	pthread_cond_destroy(&wr->cond);
	pthread_mutex_destroy(&wr->lock);
	free(wr->ops);
	free(wr);
}
