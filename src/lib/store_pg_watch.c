/* SPDX-License-Identifier: ISC */
/*
 * store_pg_watch.c - whether the PostgreSQL server can be reached, as
 * the connections of one process see it (struct eca_store_watch), and
 * how a lost connection comes back.
 *
 * A connection that fails for want of the server (libpq's connection
 * gone, SQLSTATE 08..., 57P01-57P03) marks the watch down; that is logged
 * once, with libpq's text.  While it is down every statement fails at
 * once with ECA_ERR_DB_UNAVAILABLE (503 with Retry-After), and one
 * connection at a time tries to reconnect, on a jittered exponential
 * backoff (1 s doubling to 30 s, each step drawn between half and all of
 * it).  The first statement that succeeds again marks it up: logged once.
 * A connection whose watch is shared (eca_store_watch_attach) and that is
 * a reader never tries itself (ecad's readers run on event loops, which a
 * blocking connect must not stall): the writer does (eca_store_probe, on
 * a timer).  A connection with no shared watch has its own.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "log.h"
#include "store_pg_impl.h"
#include "util.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000

int
eca_store_watch_new(struct eca_store_watch **out, struct eca_err *err)
{
	struct eca_store_watch *w;

	if ((*out = w = calloc(1, sizeof(*w))) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory for the registry's watch");
	pthread_mutex_init(&w->lock, NULL);
	w->shared = 1;
	return 0;
}

void
eca_store_watch_free(struct eca_store_watch *w)
{
	if (w == NULL)
		return;
	pthread_mutex_destroy(&w->lock);
	free(w);
}

int
eca_store_watch_down(struct eca_store_watch *w)
{
	return w != NULL && atomic_load(&w->down);
}

void
eca_pg_watch_init(struct eca_store_watch *w)
{
	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->lock, NULL);
}

/* The next attempt: delay doubled (1 s to 30 s), drawn in [delay/2, delay]. */
static int64_t
backoff_next(int64_t now, int64_t *delay)
{
	uint32_t u = 0;
	int64_t half;

	*delay = *delay == 0 ? BACKOFF_MIN_MS : *delay * 2;
	if (*delay > BACKOFF_MAX_MS)
		*delay = BACKOFF_MAX_MS;
	half = *delay / 2;
	if (RAND_bytes((unsigned char *)&u, sizeof(u)) != 1)
		u = 0;
	return now + half + (int64_t)(u % (uint32_t)(half + 1));
}

void
eca_pg_watch_lost(struct pg_store *s, const char *msg)
{
	struct eca_store_watch *w = s->watch;
	char line[256];
	size_t i;

	/* libpq's text on one line (it may hold a hint on a second one). */
	snprintf(line, sizeof(line), "%s", msg);
	for (i = 0; line[i] != '\0'; i++)
		if (line[i] == '\n' || line[i] == '\t' || line[i] == '\r')
			line[i] = ' ';
	msg = line;
	pthread_mutex_lock(&w->lock);
	if (!atomic_load(&w->down)) {
		atomic_store(&w->down, 1);
		w->delay = 0;
		/* The first attempt at once, then the backoff. */
		w->retry_at = eca_util_mono_ms();
		log_warn("registry %s: database connection lost: %s; answering "
			 "503 DB_UNAVAILABLE and reconnecting with backoff",
		    s->where, msg);
	}
	pthread_mutex_unlock(&w->lock);
}

void
eca_pg_watch_ok(struct pg_store *s)
{
	struct eca_store_watch *w = s->watch;

	if (!atomic_load(&w->down))
		return;
	pthread_mutex_lock(&w->lock);
	if (atomic_load(&w->down)) {
		atomic_store(&w->down, 0);
		w->delay = 0;
		log_info("registry %s: database connection restored", s->where);
	}
	pthread_mutex_unlock(&w->lock);
}

static int
unavailable(struct pg_store *s, struct eca_err *err)
{
	return eca_err_set(err, ECA_ERR_DB_UNAVAILABLE,
	    "the registry database (%s) is unreachable (retry after the "
	    "Retry-After delay; ecad reconnects)",
	    s->where);
}

/*
 * This connection made usable again: a connection libpq still thinks
 * good is asked a trivial question (the server may have restarted
 * meanwhile), a bad one is reset.  0, or -1 with libpq's text in msg.
 */
int
eca_pg_reconnect(struct pg_store *s, char *msg, size_t size)
{
	PGresult *res;
	int ok;

	if (PQstatus(s->conn) == CONNECTION_OK) {
		res = PQexec(s->conn, "SELECT 1");
		ok = res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK;
		PQclear(res);
		if (ok)
			return 0;
	}
	PQreset(s->conn);
	if (PQstatus(s->conn) == CONNECTION_OK &&
	    eca_pg_configure(s, NULL) == 0)
		return 0;
	eca_pg_conn_message(s, msg, size);
	return -1;
}

/* The watch is down: try now if it is this connection's turn. */
static int
try_turn(struct pg_store *s, int64_t *next, struct eca_err *err)
{
	struct eca_store_watch *w = s->watch;
	int64_t now = eca_util_mono_ms();
	char msg[256];

	pthread_mutex_lock(&w->lock);
	if (!atomic_load(&w->down)) {
		pthread_mutex_unlock(&w->lock);
		return 1; /* restored meanwhile */
	}
	if (s->in_tx || now < w->retry_at ||
	    (w->shared && (s->base.flags & ECA_STORE_READONLY))) {
		if (next != NULL)
			*next = w->retry_at;
		pthread_mutex_unlock(&w->lock);
		return unavailable(s, err);
	}
	/* This connection's turn: the others keep failing at once. */
	w->retry_at = backoff_next(now, &w->delay);
	if (next != NULL)
		*next = w->retry_at;
	pthread_mutex_unlock(&w->lock);
	if (eca_pg_reconnect(s, msg, sizeof(msg)) != 0) {
		log_debug("registry %s: reconnection failed: %s", s->where,
		    msg);
		return unavailable(s, err);
	}
	eca_pg_watch_ok(s);
	return 0;
}

int
eca_pg_ensure(struct pg_store *s, struct eca_err *err)
{
	char msg[256];
	int r;

	if (atomic_load(&s->watch->down)) {
		if ((r = try_turn(s, NULL, err)) <= 0)
			return r;
	}
	if (PQstatus(s->conn) == CONNECTION_OK)
		return 0;
	/* The server is thought up but this connection was lost. */
	if (!s->in_tx && eca_pg_reconnect(s, msg, sizeof(msg)) == 0)
		return 0;
	eca_pg_conn_message(s, msg, sizeof(msg));
	eca_pg_watch_lost(s, msg);
	return unavailable(s, err);
}

int
eca_pg_probe(struct eca_store *st, int64_t *next_ms, struct eca_err *err)
{
	struct pg_store *s = pg_impl(st);
	int r;

	*next_ms = 0;
	if (!atomic_load(&s->watch->down))
		return 0;
	r = try_turn(s, next_ms, err);
	return r > 0 ? 0 : r;
}

void
eca_pg_watch_attach(struct eca_store *st, struct eca_store_watch *w)
{
	struct pg_store *s = pg_impl(st);

	s->watch = w != NULL ? w : &s->own_watch;
}
