/* SPDX-License-Identifier: ISC */
/*
 * api_report.c - what the primary reports about itself to administrators
 * (the web console's audit and configuration pages): the audit journal's
 * entries, newest first, and its verification (GET /v1/audit,
 * GET /v1/audit/verify), and the effective configuration without secrets
 * (GET /v1/config), and the registry's counts (GET /v1/summary).
 * Read-only: the journal is read from its file as `eca audit` reads it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "api_impl.h"
#include "audit.h"

#define AUDIT_PAGE_DEFAULT 50
#define AUDIT_PAGE_MAX 1000
#define SUMMARY_PAGE 1000	  /* records read at a time */
#define EXPIRING_SEC (30 * 86400) /* "expiring" on the dashboard */

/*
 * GET /v1/summary: {"total", "states": {STATE: N}, "waiting", "expiring",
 * "version"}: the console's dashboard.
 */
void
api_h_summary(struct api_call *c)
{
	struct eca_store_counts sm;
	struct eca_err e;
	int64_t version = 0;
	json_t *states;
	int r, s;

	eca_err_clear(&e);
	if ((r = eca_store_counts(c->w->rd, c->d->cfg->client_name,
		 (int64_t)time(NULL) + EXPIRING_SEC, &sm, &e)) != 0 ||
	    (r = eca_store_version(c->w->rd, &version, &e)) != 0) {
		api_reply_error(c, r, "%s", e.msg);
		return;
	}
	if ((states = json_object()) == NULL) {
		api_reply_error(c, ECA_ERR_NOMEM, "out of memory");
		return;
	}
	for (s = 0; s <= ECA_STATE_REVOKED; s++)
		json_object_set_new(states, eca_state_name((enum eca_state)s),
		    json_integer(sm.states[s]));
	api_reply_json(c, 200,
	    json_pack("{s:I, s:o, s:I, s:I, s:I}", "total",
		(json_int_t)sm.total, "states", states, "waiting",
		(json_int_t)sm.waiting, "expiring", (json_int_t)sm.expiring,
		"version", (json_int_t)version));
}

/* ?limit=N&before=SEQ: 0, or -1 (replied). */
static int
audit_query(struct api_call *c, long *limit, long long *before)
{
	const char *q = api_query_of(c);
	struct evkeyvalq kv;
	struct evkeyval *p;
	char *end;
	long long v;
	int bad = 0;

	*limit = AUDIT_PAGE_DEFAULT;
	*before = 0;
	TAILQ_INIT(&kv);
	if (q != NULL && evhttp_parse_query_str(q, &kv) != 0)
		bad = 1;
	TAILQ_FOREACH(p, &kv, next)
	{
		v = strtoll(p->value, &end, 10);
		if (*p->value == '\0' || *end != '\0' || v < 1)
			bad = 1;
		else if (strcmp(p->key, "limit") == 0 && v <= AUDIT_PAGE_MAX)
			*limit = (long)v;
		else if (strcmp(p->key, "before") == 0)
			*before = v;
		else
			bad = 1;
	}
	evhttp_clear_headers(&kv);
	if (!bad)
		return 0;
	api_reply_error(c, ECA_ERR_BAD_REQUEST,
	    "the query takes limit (1 to %d) and before (a sequence number)",
	    AUDIT_PAGE_MAX);
	return -1;
}

/* The journal's path: 0, or -1 (replied). */
static int
audit_file(struct api_call *c, char *path, size_t len)
{
	struct eca_err e;
	int r;

	eca_err_clear(&e);
	if ((r = eca_audit_path(c->snap->cfg, path, len, &e)) == 0)
		return 0;
	api_reply_error(c, r, "%s", e.msg);
	return -1;
}

/* The page's answer: {"entries": v (newest first), "next": SEQ or null}. */
static void
audit_reply(struct api_call *c, const struct eca_audit_entry *v, size_t n,
    json_t *next)
{
	json_t *arr;
	size_t i;

	if ((arr = json_array()) == NULL) {
		json_decref(next);
		api_reply_error(c, ECA_ERR_NOMEM, "out of memory");
		return;
	}
	for (i = 0; i < n; i++)
		json_array_append_new(arr, eca_audit_entry_json(&v[i]));
	api_reply_json(c, 200,
	    json_pack("{s:o, s:o}", "entries", arr, "next", next));
}

/*
 * A PostgreSQL registry's journal is its table, one chain for every front
 * end (audit_pg.c): a page of it, read with an index, not the whole.  1
 * when the registry is SQLite (its journal is the file), else 0 (replied).
 */
static int
audit_db_page(struct api_call *c, long limit, long long before)
{
	struct eca_audit_entry *v = NULL;
	struct eca_err e;
	size_t n = 0;
	int r, more = 0;

	eca_err_clear(&e);
	r = eca_audit_store_page(c->w->rd, (int64_t)before, (size_t)limit, &v,
	    &n, &more, &e);
	if (r == ECA_ERR_USAGE)
		return 1;
	if (r != 0)
		api_reply_error(c, r, "%s", e.msg);
	else
		audit_reply(c, v, n,
		    more && n > 0 ? json_integer(v[n - 1].seq) : json_null());
	free(v);
	return 0;
}

/* GET /v1/audit: {"entries": [newest first], "next": SEQ or null}. */
void
api_h_audit(struct api_call *c)
{
	struct eca_audit_entry *v = NULL, t;
	char path[4096];
	struct eca_err e;
	long long before;
	long limit;
	size_t n = 0, end, i, start;
	int r;

	if (audit_query(c, &limit, &before) != 0 ||
	    audit_db_page(c, limit, before) == 0 ||
	    audit_file(c, path, sizeof(path)) != 0)
		return;
	eca_err_clear(&e);
	if ((r = eca_audit_read(path, NULL, &v, &n, &e)) != 0) {
		api_reply_error(c, r, "%s", e.msg);
		return;
	}
	/* Entries are in seq order: the page ends before `before`. */
	for (end = n; before > 0 && end > 0 && v[end - 1].seq >= before; end--)
		;
	start = end > (size_t)limit ? end - (size_t)limit : 0;
	/* Newest first. */
	for (i = 0; i < (end - start) / 2; i++) {
		t = v[start + i];
		v[start + i] = v[end - 1 - i];
		v[end - 1 - i] = t;
	}
	audit_reply(c, v + start, end - start,
	    start > 0 ? json_integer(v[end - 1].seq) : json_null());
	free(v);
}

/* GET /v1/audit/verify: the chain's check, as `eca audit verify`. */
void
api_h_audit_verify(struct api_call *c)
{
	struct eca_audit_report rep;
	char path[4096];
	struct eca_err e;
	int r;

	eca_err_clear(&e);
	memset(&rep, 0, sizeof(rep));
	/* PostgreSQL: the one chain of every front end, in the database. */
	r = eca_audit_store_verify(c->w->rd, &rep, &e);
	if (r == 0)
		snprintf(path, sizeof(path), "the registry database");
	else if (r == ECA_ERR_USAGE) {
		if (audit_file(c, path, sizeof(path)) != 0)
			return;
		eca_err_clear(&e);
		memset(&rep, 0, sizeof(rep));
		r = eca_audit_verify(path, &rep, &e);
	}
	if (r != 0) {
		api_reply_error(c, r, "%s", e.msg);
		return;
	}
	api_reply_json(c, 200,
	    json_pack("{s:s, s:I, s:b, s:I, s:s}", "path", path, "entries",
		(json_int_t)rep.entries, "intact", rep.intact, "first_bad_line",
		(json_int_t)rep.first_bad_line, "problem", rep.problem));
}

/*
 * A setting's value as shown: a postgresql:// URI loses its password
 * (user:PASSWORD@ and password=...).
 */
static void
redact(const char *key, const char *val, char *out, size_t len)
{
	const char *at, *colon, *pw;

	snprintf(out, len, "%s", val);
	if (strcmp(key, "ECA_DB") != 0 || strncmp(val, "postgres", 8) != 0)
		return;
	colon = strchr(val + strcspn(val, ":") + 3, ':');
	at = strchr(val, '@');
	if (at != NULL && colon != NULL && colon < at)
		snprintf(out, len, "%.*s:***%s", (int)(colon - val), val, at);
	if ((pw = strstr(out, "password=")) != NULL)
		snprintf(out + (pw - out), len - (size_t)(pw - out),
		    "password=***");
}

/* GET /v1/config: {"primary", "settings": [{"key", "value"}, ...]}. */
void
api_h_config(struct api_call *c)
{
	char *dump = eca_config_dump(c->snap->cfg), *line, *save = NULL, *eq;
	char shown[4096];
	json_t *arr = json_array();

	if (dump == NULL || arr == NULL) {
		free(dump);
		json_decref(arr);
		api_reply_error(c, ECA_ERR_NOMEM, "out of memory");
		return;
	}
	for (line = strtok_r(dump, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if ((eq = strstr(line, " = ")) == NULL)
			continue;
		*eq = '\0';
		redact(line, eq + 3, shown, sizeof(shown));
		json_array_append_new(arr,
		    json_pack("{s:s, s:s}", "key", line, "value", shown));
	}
	free(dump);
	api_reply_json(c, 200,
	    json_pack("{s:s, s:o}", "primary", c->d->cfg->client_name,
		"settings", arr));
}
