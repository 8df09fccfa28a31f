/* SPDX-License-Identifier: ISC */
/*
 * store_pg_listen.c - LISTEN on a registry connection of its own: the
 * front ends of one PostgreSQL registry hear of each other's changes.
 *
 * Every transaction that takes a registry version sends, before its
 * COMMIT, NOTIFY eca_registry with that version (pg_tx), so a listener
 * hears of it once it is committed, never before.  The daemon opens one
 * READONLY connection for this (eca_store_open_cfg), calls
 * eca_store_listen, watches eca_store_listen_fd with libevent and calls
 * eca_store_listen_read when it is readable.  The connection is not
 * attached to the process's watch: its loss is the daemon's to handle
 * (reopen it), not a state change of the registry.
 */
#include <stdlib.h>
#include <string.h>

#include "store_pg_impl.h"

static int
not_pg(struct eca_store *st, struct eca_err *err)
{
	if (st == NULL || st->ops != &eca_store_pg_ops)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "LISTEN needs a PostgreSQL registry connection");
	return 0;
}

int
eca_store_listen(struct eca_store *st, struct eca_err *err)
{
	struct pg_store *s;
	PGresult *res;
	char msg[256];
	int r;

	if ((r = not_pg(st, err)) != 0)
		return r;
	s = pg_impl(st);
	res = PQexec(s->conn, "LISTEN " PG_NOTIFY_CHANNEL);
	if (res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK) {
		PQclear(res);
		return 0;
	}
	PQclear(res);
	eca_pg_conn_message(s, msg, sizeof(msg));
	return eca_err_set(err, ECA_ERR_DB_UNAVAILABLE,
	    "cannot LISTEN on the registry database (%s): %s", s->where, msg);
}

int
eca_store_listen_fd(struct eca_store *st)
{
	if (not_pg(st, NULL) != 0)
		return -1;
	return PQsocket(pg_impl(st)->conn);
}

int
eca_store_listen_read(struct eca_store *st, int64_t *version, size_t *n,
    struct eca_err *err)
{
	struct pg_store *s;
	PGnotify *nt;
	char msg[256], *end;
	long long v;
	int r;

	*n = 0;
	if ((r = not_pg(st, err)) != 0)
		return r;
	s = pg_impl(st);
	if (PQconsumeInput(s->conn) != 1 ||
	    PQstatus(s->conn) != CONNECTION_OK) {
		eca_pg_conn_message(s, msg, sizeof(msg));
		return eca_err_set(err, ECA_ERR_DB_UNAVAILABLE,
		    "the registry's LISTEN connection (%s) was lost: %s",
		    s->where, msg);
	}
	while ((nt = PQnotifies(s->conn)) != NULL) {
		/* A payload that is not a version still says "changed". */
		v = strtoll(nt->extra, &end, 10);
		if (end != nt->extra && *end == '\0' && v > *version)
			*version = v;
		(*n)++;
		PQfreemem(nt);
	}
	return 0;
}
