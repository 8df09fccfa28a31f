/* SPDX-License-Identifier: ISC */
/*
 * refusals.c - refusals that cost an attacker nothing, counted instead of
 * journaled one by one (docs/hardening.md, "Refusals of strangers").
 *
 * Every refused API request used to become an audit line, fsynced with
 * the next group: a caller without a client certificate could send
 * thousands of `POST /zz` on one kept-alive connection and fill a small
 * disk until real enrollments failed with DISK_FULL.  A refusal of a
 * caller without a verified certificate, or for a path no route serves,
 * is now counted per source address in a bounded table.  The first one
 * from a source in a minute is logged and journaled as before (so that a
 * lone refusal keeps its details); the ones after it in that minute are
 * only counted, and become one "refused_summary" line ("N refused
 * requests from SOURCE since T"), logged the same way, once the minute is
 * over.  So a source costs at most one journal line a minute.
 *
 * Bounds: REFUSAL_SLOTS sources, a slot taken by a new address when its
 * hash lands on an occupied one (the old address's count moves to an
 * "other sources" line); at most REFUSAL_BURST lines a minute are
 * written at once, the rest at the next flush (a timer on worker 0 calls
 * refusals_flush every few seconds).  So the journal grows by a bounded
 * number of lines a minute whatever the callers do.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "ecad.h"
#include "log.h"
#include "text.h"

#define REFUSAL_SLOTS 1024
#define REFUSAL_PERIOD 60 /* seconds: one line per source at most */
#define REFUSAL_BURST 60  /* lines written at once per period */

struct rslot {
	char addr[ECA_SOURCE_MAX]; /* "" when free */
	int64_t pending;	   /* refusals not yet in a line */
	time_t since;		   /* the first of them */
	time_t last_line;	   /* 0: never */
	int code;		   /* the last one's reason */
	char what[96];		   /* its method and path, escaped */
};

struct ecad_refusals {
	pthread_mutex_t lock;
	struct rslot slots[REFUSAL_SLOTS];
	struct rslot other; /* counts of evicted sources */
	time_t burst_start;
	int burst_lines;
};

int
refusals_new(struct ecad_refusals **out)
{
	struct ecad_refusals *r;

	*out = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return ECA_ERR_NOMEM;
	pthread_mutex_init(&r->lock, NULL);
	snprintf(r->other.addr, sizeof(r->other.addr), "other sources");
	*out = r;
	return 0;
}

void
refusals_free(struct ecad_refusals *r)
{
	if (r == NULL)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r);
}

static size_t
addr_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % REFUSAL_SLOTS;
}

/* Turn sl's pending count into an entry (under the lock); resets it. */
static void
take_line(struct rslot *sl, time_t now, struct eca_audit_entry *e, char *what,
    size_t wlen)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->event, sizeof(e->event), "refused_summary");
	snprintf(e->reason, sizeof(e->reason), "%s", eca_err_name(sl->code));
	snprintf(e->source, sizeof(e->source), "%s", sl->addr);
	e->count = sl->pending;
	eca_text_rfc3339(sl->since, e->since, sizeof(e->since));
	snprintf(what, wlen, "%s", sl->what);
	sl->pending = 0;
	sl->last_line = now;
}

static void
emit(struct ecad *d, const struct eca_audit_entry *e, const char *what)
{
	log_info(
	    "%lld refused request(s) from %s since %s: no verified "
	    "client certificate or no such endpoint (last: %s %s); counted, "
	    "journaled at most once a minute per source",
	    (long long)e->count, e->source, e->since, e->reason, what);
	writer_audit(d->writer, e);
}

/* May another line be written now (REFUSAL_BURST per period)? */
static int
burst_ok(struct ecad_refusals *r, time_t now)
{
	if (now - r->burst_start >= REFUSAL_PERIOD || now < r->burst_start) {
		r->burst_start = now;
		r->burst_lines = 0;
	}
	if (r->burst_lines >= REFUSAL_BURST)
		return 0;
	r->burst_lines++;
	return 1;
}

int
refusals_note(struct ecad *d, const char *addr, int code, const char *method,
    const char *path)
{
	struct ecad_refusals *r = d->refusals;
	struct rslot *sl;
	time_t now = time(NULL);
	int alone = 0;

	if (r == NULL)
		return 1;
	pthread_mutex_lock(&r->lock);
	sl = &r->slots[addr_hash(addr)];
	if (strcmp(sl->addr, addr) != 0) {
		/* Another address had the slot: its count goes to "other". */
		if (sl->addr[0] != '\0' && sl->pending > 0) {
			if (r->other.pending == 0)
				r->other.since = sl->since;
			r->other.pending += sl->pending;
			r->other.code = sl->code;
			snprintf(r->other.what, sizeof(r->other.what), "%s",
			    sl->what);
		}
		memset(sl, 0, sizeof(*sl));
		snprintf(sl->addr, sizeof(sl->addr), "%s", addr);
	}
	/*
	 * The first in a minute, with nothing counted before it: the
	 * caller logs and journals it as any refusal.
	 */
	if (sl->pending == 0 &&
	    (sl->last_line == 0 || now - sl->last_line >= REFUSAL_PERIOD ||
		now < sl->last_line) &&
	    burst_ok(r, now)) {
		sl->last_line = now;
		alone = 1;
	} else {
		if (sl->pending == 0)
			sl->since = now;
		sl->pending++;
		sl->code = code;
		snprintf(sl->what, sizeof(sl->what), "%s %s", method, path);
	}
	pthread_mutex_unlock(&r->lock);
	return alone;
}

/* One due line of the table at a time, so the lock is not held to emit. */
static int
flush_one(struct ecad_refusals *r, time_t now, int all,
    struct eca_audit_entry *e, char *what, size_t wlen)
{
	struct rslot *sl;
	size_t i;

	for (i = 0; i <= REFUSAL_SLOTS; i++) {
		sl = i < REFUSAL_SLOTS ? &r->slots[i] : &r->other;
		if (sl->pending == 0)
			continue;
		if (!all && sl->last_line != 0 &&
		    now - sl->last_line < REFUSAL_PERIOD &&
		    now >= sl->last_line)
			continue;
		if (!all && !burst_ok(r, now))
			return 0;
		take_line(sl, now, e, what, wlen);
		return 1;
	}
	return 0;
}

void
refusals_flush(struct ecad *d, int all)
{
	struct ecad_refusals *r = d->refusals;
	struct eca_audit_entry e;
	char what[96];
	time_t now = time(NULL);
	int got;

	if (r == NULL)
		return;
	for (;;) {
		pthread_mutex_lock(&r->lock);
		got = flush_one(r, now, all, &e, what, sizeof(what));
		pthread_mutex_unlock(&r->lock);
		if (!got)
			break;
		emit(d, &e, what);
	}
}
