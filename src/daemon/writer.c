/* SPDX-License-Identifier: ISC */
/*
 * writer.c - the group-commit writer: one thread owns the registry's
 * writer connection.  Workers queue jobs; the writer takes everything
 * queued (up to ECAD_WRITER_BATCH) and applies it with one
 * eca_registry_apply, i.e. one durable COMMIT for the group, and only
 * then hands each job back to its worker, which acknowledges it.  Under
 * load the queue fills while a commit is on its way to disk, so the cost
 * of the fsync is shared by many enrollments.
 *
 * The writer is also the only appender of the audit journal (audit.h):
 * a group's lines are written inside the transaction, before its COMMIT
 * (eca_registry_apply_hook), so no registry change exists that the
 * journal does not show; if the journal cannot be written the group is
 * rolled back.  On SQLite the registry keeps the lines too, in the same
 * transaction (audit_sqlite.c), so that the COMMIT's sync makes both
 * durable: the file is fsynced within AUDIT_SYNC_MS instead of once per
 * group, and a start after a crash writes again what the file lacks.  On
 * PostgreSQL the file is fsynced before the COMMIT.  Refusals decided by
 * workers arrive as audit-only items (writer_audit) and go into the next
 * group's write.
 */
#include <limits.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "ecad.h"
#include "log.h"
#include "util.h"

/*
 * Audit-only items waiting (refusals): bounded so that a flood of bad
 * requests cannot grow the daemon without limit; beyond it they are
 * logged as lost.
 */
#define ECAD_AUDIT_QUEUE 65536

/*
 * SQLite: how long after a line was written the journal file is fsynced
 * at the latest (its lines are durable in the registry meanwhile).
 */
#define AUDIT_SYNC_MS 1000

struct audit_item {
	struct eca_audit_entry e;
	struct audit_item *next;
};

struct ecad_writer {
	struct ecad *d;
	struct eca_store *st;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct ecad_job *head, *tail; /* FIFO */
	size_t queued;
	size_t pending; /* queued + in the group being applied */
	/*
	 * For writer_health: when the oldest job of the group being applied
	 * was submitted (0: no group in flight), and the code of the last
	 * group commit (0: it succeeded, or none ran yet).
	 */
	int64_t group_oldest_us;
	int last_code;
	int stopping;
	int reopen;    /* SIGHUP: reopen the journal before the next group */
	int gathering; /* writer_gather is waiting (see writer_submit) */
	struct eca_op **ops;	 /* ECAD_WRITER_BATCH: the group's ops */
	struct eca_audit *audit; /* the journal, writer thread only */
	struct audit_item *ahead, *atail; /* audit-only FIFO */
	size_t aqueued;
	time_t alost_logged; /* last "audit queue full" line */
	/* One group's journal lines: audit-only items, then the ops. */
	struct eca_audit_entry *entries;
	size_t nentries, centries;
	/*
	 * SQLite (keeps): the registry keeps each group's lines until the
	 * file has them on disk, up to seq synced; it has forgotten those up
	 * to forgotten.  sync_due: when the file is to be fsynced (monotonic
	 * ms; 0: nothing written since the last fsync).  Writer thread only.
	 */
	int keeps;
	int64_t synced, forgotten, sync_due;
};

/* The journal's event for an outcome: its name in lower case. */
static void
event_name(enum eca_enroll_outcome o, char *buf, size_t len)
{
	const char *s = eca_outcome_name(o);
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < len; i++)
		buf[i] = (char)tolower((unsigned char)s[i]);
	buf[i] = '\0';
}

/*
 * The journal line of an op after it was applied; 0 if it has none (a
 * request that changed nothing, e.g. an enrollment found UNCHANGED).
 */
static int
op_entry(const struct eca_op *op, struct eca_audit_entry *e)
{
	const struct eca_certinfo *ci;

	memset(e, 0, sizeof(*e));
	if (op->status == 0 && !op->nat_marked &&
	    (op->outcome == ECA_OUTCOME_NONE ||
		op->outcome == ECA_OUTCOME_UNCHANGED))
		return 0;
	if (op->status == 0 && op->nat_marked)
		event_name(ECA_OUTCOME_NAT, e->event, sizeof(e->event));
	else if (op->status == 0 ||
	    (op->status == ECA_ERR_CONFLICT &&
		op->outcome == ECA_OUTCOME_CONFLICT))
		event_name(op->outcome, e->event, sizeof(e->event));
	else
		snprintf(e->event, sizeof(e->event), "refused");
	if (op->status != 0)
		snprintf(e->reason, sizeof(e->reason), "%s",
		    eca_err_name(op->status));
	/*
	 * The certificate the decision was about: the one presented, the
	 * candidate approved or rejected, else the enrolled one.
	 */
	ci = op->type == ECA_OP_ENROLL ||
		((op->type == ECA_OP_APPROVE || op->type == ECA_OP_REJECT) &&
		    op->req.cert.fingerprint[0] != '\0') ?
	    &op->req.cert :
	    &op->rec.cert;
	if ((op->type == ECA_OP_APPROVE || op->type == ECA_OP_REJECT) &&
	    op->req.cert.fingerprint[0] == '\0')
		ci = NULL;
	if (op->type == ECA_OP_MAP_ADD || op->type == ECA_OP_MAP_REMOVE) {
		ci = NULL;
		snprintf(e->subject, sizeof(e->subject), "%s", op->map.subject);
	}
	snprintf(e->actor, sizeof(e->actor), "%s", op->actor);
	snprintf(e->host, sizeof(e->host), "%s", op->req.host);
	if (ci != NULL) {
		snprintf(e->fingerprint, sizeof(e->fingerprint), "%s",
		    ci->fingerprint);
		snprintf(e->spki_fingerprint, sizeof(e->spki_fingerprint), "%s",
		    ci->spki_fingerprint);
	} else if (op->require_fingerprint[0] != '\0')
		snprintf(e->fingerprint, sizeof(e->fingerprint), "%s",
		    op->require_fingerprint);
	snprintf(e->source, sizeof(e->source), "%s", op->req.source);
	return 1;
}

static int
entries_reserve(struct ecad_writer *wr, size_t n)
{
	struct eca_audit_entry *v;

	if (n <= wr->centries)
		return 0;
	if ((v = realloc(wr->entries, n * sizeof(*v))) == NULL)
		return ECA_ERR_NOMEM;
	wr->entries = v;
	wr->centries = n;
	return 0;
}

/* Hand back the audit-only items taken for a group. */
static void
items_free(struct audit_item *it)
{
	struct audit_item *next;

	for (; it != NULL; it = next) {
		next = it->next;
		free(it);
	}
}

/* The journal's failure e (code r) as the group's: nothing changed. */
static int
journal_failed(int r, const struct eca_err *e, struct eca_err *err)
{
	return eca_err_set(err, r,
	    "%s; the registry was not changed "
	    "(free space or fix the journal, then retry)",
	    e->msg);
}

/*
 * Write entries 0..nentries-1 to the journal and fsync it.  The error
 * says the registry was not changed: the caller rolls back (or, for
 * audit-only items, had nothing to change).
 */
static int
journal_write(struct ecad_writer *wr, struct eca_err *err)
{
	struct eca_err e;
	int r;

	eca_err_clear(&e);
	if ((r = eca_audit_append(wr->audit, wr->entries, wr->nentries, &e)) !=
	    0)
		return journal_failed(r, &e, err);
	return 0;
}

struct group {
	struct ecad_writer *wr;
	struct audit_item *items;
	int written;	/* the journal has the group's lines */
	int64_t forgot; /* SQLite: the kept lines forgotten, up to this seq */
};

/*
 * SQLite, inside the group's transaction: entries 0..nentries-1 sealed,
 * kept in the registry and written to the file, which is fsynced later
 * (journal_settle); the groups the file has on disk are forgotten.
 */
static int
journal_keep(struct ecad_writer *wr, struct group *g, struct eca_err *err)
{
	char hash[ECA_AUDIT_HASH_LEN + 1], *buf = NULL;
	struct eca_err e;
	size_t len = 0;
	int64_t seq, first;
	int r;

	if (wr->nentries == 0)
		return 0;
	eca_audit_head(wr->audit, &seq, hash);
	first = seq + 1;
	if ((r = eca_audit_seal(eca_audit_file(wr->audit), wr->entries,
		 wr->nentries, &seq, hash, &buf, &len, err)) != 0)
		return r;
	if (wr->synced > wr->forgotten &&
	    (r = eca_audit_store_forget(wr->st, wr->synced, err)) != 0)
		goto out;
	g->forgot = wr->synced;
	if ((r = eca_audit_store_keep(wr->st, first, seq, buf, len, err)) != 0)
		goto out;
	eca_err_clear(&e);
	if ((r = eca_audit_write(wr->audit, buf, len, seq, hash, 0, &e)) != 0) {
		r = journal_failed(r, &e, err);
		goto out;
	}
	g->written = 1;
	if (wr->sync_due == 0)
		wr->sync_due = eca_util_mono_ms() + AUDIT_SYNC_MS;
out:
	free(buf);
	return r;
}

/*
 * SQLite: fsync the journal file once its time has come (or now, when
 * now is set: on stop and before a reopen); then the registry may forget
 * the groups it holds.  A failure is logged and retried AUDIT_SYNC_MS
 * later; the lines stay kept in the registry meanwhile.
 */
static void
journal_settle(struct ecad_writer *wr, int now)
{
	struct eca_err e;

	if (wr->sync_due == 0 || (!now && eca_util_mono_ms() < wr->sync_due))
		return;
	eca_err_clear(&e);
	if (eca_audit_sync(wr->audit, &e) != 0) {
		log_error("%s (its lines are kept in the registry until it "
			  "can be)",
		    e.msg);
		wr->sync_due = eca_util_mono_ms() + AUDIT_SYNC_MS;
		return;
	}
	wr->synced = eca_audit_last_seq(wr->audit);
	wr->sync_due = 0;
}

/* eca_registry_hook: the group's lines, before the COMMIT. */
static int
audit_hook(struct eca_op *const *ops, size_t n, void *arg, struct eca_err *err)
{
	struct group *g = arg;
	struct ecad_writer *wr = g->wr;
	struct audit_item *it;
	size_t i, k = 0;
	int r;

	for (it = g->items; it != NULL; it = it->next)
		k++;
	if (entries_reserve(wr, k + n) != 0)
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory for the "
		    "audit journal's lines; the registry was not changed");
	wr->nentries = 0;
	for (it = g->items; it != NULL; it = it->next)
		wr->entries[wr->nentries++] = it->e;
	for (i = 0; i < n; i++)
		if (op_entry(ops[i], &wr->entries[wr->nentries]))
			wr->nentries++;
	if (wr->keeps)
		return journal_keep(wr, g, err);
	/* PostgreSQL: the one chain of every front end, in this transaction. */
	if ((r = eca_audit_store_append(wr->st, wr->entries, wr->nentries,
		 err)) != 0 ||
	    (r = journal_write(wr, err)) != 0)
		return r;
	g->written = 1;
	return 0;
}

/*
 * The journal has a group's lines but its COMMIT failed: on SQLite they
 * are cut back off the file (they are not on disk yet); where that cannot
 * be, and on PostgreSQL, rolled_back lines say so, so that the journal
 * does not claim decisions the registry does not hold.
 */
static void
journal_undo(struct ecad_writer *wr, int code)
{
	struct eca_err e;
	size_t i, k = 0;

	if (wr->keeps && eca_audit_undo(wr->audit) == 0)
		return;
	for (i = 0; i < wr->nentries; i++) {
		if (strcmp(wr->entries[i].event, "refused") == 0)
			continue;
		wr->entries[k] = wr->entries[i];
		snprintf(wr->entries[k].event, sizeof(wr->entries[k].event),
		    "rolled_back");
		snprintf(wr->entries[k].reason, sizeof(wr->entries[k].reason),
		    "%s", eca_err_name(code));
		wr->entries[k].time[0] = '\0';
		k++;
	}
	wr->nentries = k;
	eca_err_clear(&e);
	if (k > 0 && journal_write(wr, &e) != 0)
		log_error("cannot record in the audit journal that a group "
			  "commit failed: %s",
		    e.msg);
}

/*
 * PostgreSQL: refusals with no registry change go into the registry's
 * chain in a transaction of their own.  While the database is down they
 * are in the local file only (and nothing is logged per group).
 */
static void
store_chain_only(struct ecad_writer *wr)
{
	struct eca_err e;
	int r;

	if (wr->d->rcache == NULL || eca_store_watch_down(wr->d->dbwatch))
		return;
	eca_err_clear(&e);
	if ((r = eca_store_begin(wr->st, &e)) == 0 &&
	    (r = eca_audit_store_append(wr->st, wr->entries, wr->nentries,
		 &e)) == 0)
		r = eca_store_commit(wr->st, &e);
	if (r != 0) {
		eca_store_rollback(wr->st);
		if (r != ECA_ERR_DB_UNAVAILABLE)
			log_error(
			    "%zu refusal(s) not written to the registry's "
			    "audit chain: %s",
			    wr->nentries, e.msg);
	}
}

/*
 * SQLite: refusals with no registry change, kept in a transaction of
 * their own.
 */
static int
keep_only(struct ecad_writer *wr, struct eca_err *err)
{
	struct group g;
	int r;

	memset(&g, 0, sizeof(g));
	g.wr = wr;
	if ((r = eca_store_begin(wr->st, err)) == 0 &&
	    (r = journal_keep(wr, &g, err)) == 0 &&
	    (r = eca_store_commit(wr->st, err)) == 0) {
		if (g.written)
			wr->forgotten = g.forgot;
		return 0;
	}
	eca_store_rollback(wr->st);
	if (g.written)
		journal_undo(wr, r);
	return r;
}

/* Audit-only items when there is no op to go with them. */
static void
audit_only(struct ecad_writer *wr, struct audit_item *items)
{
	struct audit_item *it;
	struct eca_err e;
	size_t k = 0;
	int r;

	for (it = items; it != NULL; it = it->next)
		k++;
	if (k == 0)
		return;
	eca_err_clear(&e);
	if (entries_reserve(wr, k) != 0) {
		log_error("out of memory: %zu refusal(s) not written to the "
			  "audit journal",
		    k);
		return;
	}
	wr->nentries = 0;
	for (it = items; it != NULL; it = it->next)
		wr->entries[wr->nentries++] = it->e;
	if (wr->keeps && (r = keep_only(wr, &e)) != 0) {
		/* The registry cannot take them: the file alone, fsynced. */
		log_warn("%zu refusal(s) not kept in the registry (%s): "
			 "writing them to the audit journal alone",
		    k, e.msg);
		eca_err_clear(&e);
		r = journal_write(wr, &e);
	} else if (!wr->keeps) {
		store_chain_only(wr);
		r = journal_write(wr, &e);
	}
	if (r != 0)
		log_error("%zu refusal(s) not written to the audit journal: "
			  "%s",
		    k, e.msg);
}

/* A detached job applied: nobody waits, so its outcome is logged here. */
static void
detached_done(struct ecad_job *job)
{
	struct eca_op *op = &job->op;
	const char *outcome = eca_outcome_name(op->outcome);

	if (op->status != 0)
		log_warn("registry change for %s asked by %s not made: %s: %s",
		    op->req.host, op->actor, eca_err_name(op->status),
		    op->err.msg);
	else if (op->outcome != ECA_OUTCOME_UNCHANGED)
		log_info_fields(ECA_LOG_FIELDS({"HOST", op->rec.host},
				    {"FINGERPRINT", op->rec.cert.fingerprint},
				    {"REASON", outcome},
				    {"PRIMARY", op->rec.primary}),
		    "%s: %s, asked by %s (registry version %lld)", op->rec.host,
		    outcome, op->actor, (long long)op->rec.version);
	eca_op_clear(op);
	free(job);
}

static void
writer_apply(struct ecad_writer *wr, struct ecad_job **batch, size_t n,
    struct audit_item *items)
{
	struct group g;
	struct eca_err err;
	size_t i, wrote = 0;
	int64_t t0;
	int r;

	if (n == 0) {
		audit_only(wr, items);
		return;
	}
	/* Applied where they are: a job is touched by no worker meanwhile. */
	for (i = 0; i < n; i++)
		wr->ops[i] = &batch[i]->op;
	eca_err_clear(&err);
	memset(&g, 0, sizeof(g));
	g.wr = wr;
	g.items = items;
	t0 = eca_util_mono_us();
	r = eca_registry_apply_hook(wr->st, wr->ops, n, audit_hook, &g, &err);
	if (r == 0)
		eca_hist_observe(&wr->d->metrics.commit,
		    (uint64_t)(eca_util_mono_us() - t0));
	pthread_mutex_lock(&wr->lock);
	wr->last_code = r;
	pthread_mutex_unlock(&wr->lock);
	if (r != 0 && g.written)
		journal_undo(wr, r);
	if (r == 0 && g.written)
		wr->forgotten = g.forgot;
	/* The database's loss is logged once, by the store (not per group). */
	if (r != 0 && r != ECA_ERR_DB_UNAVAILABLE)
		log_error("group commit of %zu request(s) failed: %s: %s", n,
		    eca_err_name(r), err.msg);
	else
		atomic_fetch_add(&wr->d->stats.commits, 1);
	/* The roster in memory catches up before the hosts hear of it. */
	if (r == 0)
		rcache_changed(wr->d->rcache);
	for (i = 0; i < n; i++) {
		if (r == 0 &&
		    (wr->ops[i]->status == 0 ||
			wr->ops[i]->status == ECA_ERR_CONFLICT)) {
			wrote++;
			/* Known before its caller (or anyone) hears of it. */
			hosthint_add(wr->d, wr->ops[i]->rec.host);
		}
		/* The worker replies from its own thread. */
		if (batch[i]->ev != NULL)
			event_active(batch[i]->ev, EV_READ, 0);
		else
			detached_done(batch[i]);
	}
	atomic_fetch_add(&wr->d->stats.written, wrote);
	log_debug("group of %zu op(s) applied, %zu written", n, wrote);
}

/* After a rotation: the chain goes on in a new file at the same path. */
static void
journal_reopen(struct ecad_writer *wr)
{
	struct eca_err err;
	int moved;

	eca_err_clear(&err);
	journal_settle(wr, 1);
	if (eca_audit_reopen(wr->audit, &moved, &err) != 0)
		log_error("audit journal not reopened: %s", err.msg);
	else if (moved)
		log_info("audit journal %s reopened: continuing at seq %lld",
		    eca_audit_file(wr->audit),
		    (long long)eca_audit_last_seq(wr->audit) + 1);
}

void
writer_reopen(struct ecad_writer *wr)
{
	if (wr == NULL)
		return;
	pthread_mutex_lock(&wr->lock);
	wr->reopen = 1;
	pthread_cond_signal(&wr->cond);
	pthread_mutex_unlock(&wr->lock);
}

/*
 * Nothing to do, with the lock held.  While the registry's server is
 * down (PostgreSQL), the writer is the connection that tries to reach it
 * again: it waits for work or its next turn (eca_store_probe), whichever
 * comes first, so that the database comes back even when no request
 * reaches the writer (the workers' reads fail first).  On PostgreSQL it
 * looks at least every WRITER_WATCH_MS whether a reader found the server
 * gone; on SQLite it waits for work, or for the journal's fsync when it
 * is due (journal_settle).
 */
#define WRITER_WATCH_MS 1000

static void
writer_wait(struct ecad_writer *wr)
{
	struct timespec ts;
	int64_t next = 0, now;
	int r;

	if (wr->d->rcache == NULL) {
		if (wr->sync_due == 0) {
			pthread_cond_wait(&wr->cond, &wr->lock);
			return;
		}
		if (wr->sync_due > eca_util_mono_ms()) {
			ts.tv_sec = (time_t)(wr->sync_due / 1000);
			ts.tv_nsec = (long)(wr->sync_due % 1000) * 1000000L;
			if (pthread_cond_timedwait(&wr->cond, &wr->lock, &ts) ==
			    0)
				return;
		}
		pthread_mutex_unlock(&wr->lock);
		journal_settle(wr, 0);
		pthread_mutex_lock(&wr->lock);
		return;
	}
	if (eca_store_watch_down(wr->d->dbwatch)) {
		pthread_mutex_unlock(&wr->lock);
		r = eca_store_probe(wr->st, &next, NULL);
		pthread_mutex_lock(&wr->lock);
		if (r == 0 || wr->head != NULL || wr->ahead != NULL ||
		    wr->stopping || wr->reopen)
			return;
	}
	now = eca_util_mono_ms();
	if (next <= now || next > now + WRITER_WATCH_MS)
		next = now + WRITER_WATCH_MS;
	ts.tv_sec = (time_t)(next / 1000);
	ts.tv_nsec = (long)(next % 1000) * 1000000L;
	(void)pthread_cond_timedwait(&wr->cond, &wr->lock, &ts);
}

/*
 * With the lock held: whether a gathering group is to be committed now,
 * its deadline aside (the group is full, or no caller is in its handshake).
 */
static int
group_ready(struct ecad_writer *wr)
{
	return wr->queued >= ECAD_WRITER_BATCH ||
	    atomic_load(&wr->d->stats.handshakes) <= 0;
}

/*
 * With the lock held and requests queued: while other callers are still in
 * their TLS handshake on the API, wait for their requests, so that one
 * commit and its syncs serve more of them (docs/daemon.md, "Group
 * commit").  The delay, GROUP_COMMIT_DELAY_US, runs from the arrival of
 * the oldest request queued, not from now: one that came while the
 * previous group was on its way to disk has waited already, and no
 * request waits longer than the delay for its group to start.  It stops
 * waiting at that deadline, when the group is full, when a request comes
 * with no handshake in progress any more (writer_submit wakes it only
 * then), and on stop or reopen.  Returns how long it waited (µs), 0 when
 * it did not.
 */
static int64_t
writer_gather(struct ecad_writer *wr)
{
	const int64_t us = wr->d->cfg->group_commit_delay_us;
	struct timespec ts;
	int64_t t0, deadline;

	if (us <= 0 || wr->head == NULL || wr->stopping || group_ready(wr))
		return 0;
	t0 = eca_util_mono_us();
	if ((deadline = wr->head->queued_us + us) <= t0)
		return 0;
	/* wr->cond waits on CLOCK_MONOTONIC, eca_util_mono_us's clock */
	ts.tv_sec = (time_t)(deadline / 1000000);
	ts.tv_nsec = (long)(deadline % 1000000) * 1000L;
	wr->gathering = 1;
	while (!group_ready(wr) && !wr->stopping && !wr->reopen &&
	    pthread_cond_timedwait(&wr->cond, &wr->lock, &ts) == 0)
		;
	wr->gathering = 0;
	return eca_util_mono_us() - t0;
}

static void *
writer_main(void *arg)
{
	struct ecad_writer *wr = arg;
	struct ecad_job *batch[ECAD_WRITER_BATCH];
	struct audit_item *items;
	int64_t waited;
	size_t n;

	ecad_thread_name("ecad-writer");
	pthread_mutex_lock(&wr->lock);
	for (;;) {
		while (wr->head == NULL && wr->ahead == NULL && !wr->stopping &&
		    !wr->reopen)
			writer_wait(wr);
		if (wr->reopen) {
			wr->reopen = 0;
			pthread_mutex_unlock(&wr->lock);
			journal_reopen(wr);
			pthread_mutex_lock(&wr->lock);
			continue;
		}
		/* On stop, the queue is drained before the loop ends. */
		if (wr->head == NULL && wr->ahead == NULL)
			break;
		waited = writer_gather(wr);
		items = wr->ahead;
		wr->ahead = wr->atail = NULL;
		wr->aqueued = 0;
		for (n = 0; n < ECAD_WRITER_BATCH && wr->head != NULL; n++) {
			batch[n] = wr->head;
			wr->head = wr->head->next;
			batch[n]->next = NULL;
		}
		if (wr->head == NULL)
			wr->tail = NULL;
		wr->queued -= n;
		wr->group_oldest_us = n > 0 ? batch[0]->queued_us : 0;
		pthread_mutex_unlock(&wr->lock);
		if (waited > 0)
			log_debug("group commit waited %llu us for callers "
				  "in their handshake: %zu op(s)",
			    (unsigned long long)waited, n);
		writer_apply(wr, batch, n, items);
		items_free(items);
		journal_settle(wr, 0);
		pthread_mutex_lock(&wr->lock);
		wr->pending -= n;
		wr->group_oldest_us = 0;
	}
	pthread_mutex_unlock(&wr->lock);
	journal_settle(wr, 1);
	return NULL;
}

/*
 * SQLite, at start: what the registry kept that the journal file lacks (it
 * was written but not yet on disk when the machine stopped) is written to
 * it again; first, the start of a line that stop cut short is cut off
 * when the registry keeps that line whole (eca_audit_mend).  Kept lines
 * that do not continue the file (it was replaced or restored from an
 * older copy) are saved beside it and forgotten, and the journal goes on
 * from its own last line: nothing is lost, and nothing that does not link
 * is appended.
 */
static int
journal_restore(struct ecad_writer *wr, struct eca_err *err)
{
	const char *path = eca_audit_file(wr->audit);
	int64_t last = eca_audit_last_seq(wr->audit), first, upto;
	char where[PATH_MAX], *lines = NULL;
	size_t len = 0, n = 0, torn = eca_audit_torn(wr->audit);
	struct eca_err e;
	int r;

	if ((r = eca_audit_store_kept(wr->st, last, &first, &upto, &lines, &len,
		 err)) != 0 ||
	    (r = eca_audit_mend(wr->audit, lines, len, err)) != 0 ||
	    lines == NULL)
		goto out;
	if (torn > 0)
		log_warn("audit journal %s ended in %zu byte(s) of a line cut "
			 "short (written, not yet on disk, when the machine "
			 "stopped): cut off, since the registry keeps that "
			 "line whole",
		    path, torn);
	eca_err_clear(&e);
	if ((r = eca_audit_restore(wr->audit, lines, len, &n, &e)) == 0) {
		if (n > 0)
			log_warn("audit journal %s lacked its last %zu "
				 "line(s): written again from the registry "
				 "(seq %lld to %lld)",
			    path, n, (long long)(last + 1),
			    (long long)eca_audit_last_seq(wr->audit));
		goto out;
	}
	if (r != ECA_ERR_PARSE) {
		r = eca_err_set(err, r, "%s", e.msg);
		goto out;
	}
	if ((r = eca_audit_set_aside(wr->audit, lines, len, first, upto, where,
		 sizeof(where), err)) != 0 ||
	    (r = eca_store_begin(wr->st, err)) != 0)
		goto out;
	if ((r = eca_audit_store_forget(wr->st, upto, err)) != 0 ||
	    (r = eca_store_commit(wr->st, err)) != 0) {
		eca_store_rollback(wr->st);
		goto out;
	}
	log_error("%s; they were saved to %s, and the journal goes on from "
		  "its own last line",
	    e.msg, where);
out:
	free(lines);
	return r;
}

int
writer_start(struct ecad *d, struct eca_store *st, struct ecad_writer **out,
    struct eca_err *err)
{
	struct ecad_writer *wr = NULL;
	char path[PATH_MAX];
	pthread_condattr_t ca;
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
	/*
	 * The journal continues from its last line; a corrupt tail stops
	 * the start (the message points to `eca audit verify`), except a
	 * line cut short whose whole text the registry keeps (SQLite:
	 * journal_restore mends it).
	 */
	if ((r = eca_audit_path(d->cfg, path, sizeof(path), err)) != 0 ||
	    (r = eca_audit_open_torn(path, &wr->audit, err)) != 0)
		goto out;
	/* A device or a pipe cannot be read back: nothing to keep for it. */
	wr->keeps = eca_audit_store_keeps(st) && eca_audit_is_file(wr->audit);
	if (wr->keeps ? (r = journal_restore(wr, err)) != 0 :
			(r = eca_audit_mend(wr->audit, NULL, 0, err)) != 0)
		goto out;
	wr->synced = eca_audit_last_seq(wr->audit);
	log_info("audit journal %s: continuing at seq %lld", path,
	    (long long)eca_audit_last_seq(wr->audit) + 1);
	pthread_mutex_init(&wr->lock, NULL);
	/* Timed waits (writer_wait) run on the monotonic clock. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&wr->cond, &ca);
	pthread_condattr_destroy(&ca);
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
		eca_audit_close(wr->audit);
		free(wr->ops);
		free(wr);
	}
	return r;
}

void
writer_audit(struct ecad_writer *wr, const struct eca_audit_entry *e)
{
	struct audit_item *it;
	time_t now;

	if (wr == NULL)
		return;
	if ((it = malloc(sizeof(*it))) == NULL) {
		log_error("out of memory: refusal of %s not written to the "
			  "audit journal",
		    e->host[0] ? e->host : "-");
		return;
	}
	it->e = *e;
	it->next = NULL;
	pthread_mutex_lock(&wr->lock);
	if (wr->stopping || wr->aqueued >= ECAD_AUDIT_QUEUE) {
		now = time(NULL);
		if (now != wr->alost_logged)
			log_error("audit journal queue full or stopping: "
				  "refusals are not being journaled");
		wr->alost_logged = now;
		pthread_mutex_unlock(&wr->lock);
		free(it);
		return;
	}
	if (wr->atail != NULL)
		wr->atail->next = it;
	else
		wr->ahead = it;
	wr->atail = it;
	wr->aqueued++;
	pthread_cond_signal(&wr->cond);
	pthread_mutex_unlock(&wr->lock);
}

int
writer_submit(struct ecad_writer *wr, struct ecad_job *job)
{
	int r = 0;

	job->next = NULL;
	job->queued_us = eca_util_mono_us();
	pthread_mutex_lock(&wr->lock);
	/* MAX_PENDING_ENROLLMENTS is restart-only: the start-up config. */
	if (wr->stopping ||
	    wr->queued >= (size_t)wr->d->cfg->max_pending_enrollments) {
		r = ECA_ERR_BUSY;
		goto out;
	}
	if (wr->tail != NULL)
		wr->tail->next = job;
	else
		wr->head = job;
	wr->tail = job;
	wr->queued++;
	wr->pending++;
	/*
	 * A gathering writer has nothing to do before its group is full or
	 * no other caller is in its handshake: waking it for anything less
	 * costs two context switches per request.
	 */
	if (!wr->gathering || group_ready(wr))
		pthread_cond_signal(&wr->cond);
out:
	pthread_mutex_unlock(&wr->lock);
	return r;
}

size_t
writer_pending(struct ecad_writer *wr)
{
	size_t n;

	pthread_mutex_lock(&wr->lock);
	n = wr->pending;
	pthread_mutex_unlock(&wr->lock);
	return n;
}

void
writer_health(struct ecad_writer *wr, struct writer_health *out)
{
	int64_t oldest = 0, now = eca_util_mono_us();

	memset(out, 0, sizeof(*out));
	if (wr == NULL)
		return;
	pthread_mutex_lock(&wr->lock);
	/* The group in flight was queued before anything still queued. */
	if (wr->group_oldest_us != 0)
		oldest = wr->group_oldest_us;
	else if (wr->head != NULL)
		oldest = wr->head->queued_us;
	out->running = !wr->stopping;
	out->last_code = wr->last_code;
	out->pending = wr->pending;
	pthread_mutex_unlock(&wr->lock);
	if (oldest != 0 && now > oldest)
		out->oldest_age = (now - oldest) / 1000000;
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
	eca_audit_close(wr->audit);
	items_free(wr->ahead);
	free(wr->entries);
	pthread_cond_destroy(&wr->cond);
	pthread_mutex_destroy(&wr->lock);
	free(wr->ops);
	free(wr);
}
