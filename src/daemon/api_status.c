/* SPDX-License-Identifier: ISC */
/*
 * api_status.c - the reads that are not one host's record: GET
 * /v1/health (anyone), /v1/stats (administrators) and /v1/roster, which
 * every host syncs to judge its peers.  Who may call each is the route
 * table's access column (api_routes.c).
 */
#include <stdint.h>
#include <stdlib.h>

#include "api_impl.h"
#include "apiparse.h"
#include "roster.h"

#ifndef ECA_VERSION
#define ECA_VERSION "0.0.0"
#endif

void
api_h_health(struct api_call *c)
{
	/* Role and name are restart-only: the start-up configuration's. */
	const struct eca_config *cfg = c->d->cfg;

	api_reply_json(c, 200,
	    json_pack("{s:s, s:s, s:s, s:s}", "status", "ok", "role",
		eca_config_role_name(cfg->role), "primary", cfg->client_name,
		"version", ECA_VERSION));
}

void
api_h_stats(struct api_call *c)
{
	struct ecad_stats *s = &c->d->stats;

	api_reply_json(c, 200,
	    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
		      "s:I, s:I, s:I}",
		"enroll_requests", (json_int_t)atomic_load(&s->enroll_requests),
		"roster_requests", (json_int_t)atomic_load(&s->roster_requests),
		"busy_replies", (json_int_t)atomic_load(&s->busy), "requests",
		(json_int_t)atomic_load(&s->requests), "enrollments_written",
		(json_int_t)atomic_load(&s->written), "commits",
		(json_int_t)atomic_load(&s->commits), "refusals",
		(json_int_t)atomic_load(&s->refusals), "connections",
		(json_int_t)atomic_load(&s->connections), "open_connections",
		(json_int_t)atomic_load(&s->open), "writer_pending",
		(json_int_t)writer_pending(c->d->writer)));
}

/*
 * THE rule for "too old to derive a delta": records are never deleted, so
 * any since up to the current version has an exact delta; 0 asks for
 * everything, and a since beyond the current version (a roster from a
 * registry restored from backup, or from another one) cannot be trusted.
 * Compaction, when it comes, raises the oldest derivable version here.
 */
static int
roster_full(int64_t since, int64_t current)
{
	const int64_t oldest = 0;

	return since <= oldest || since > current;
}

/* ?since=V&limit=N; 0 or -1 (replied). */
static int
roster_query(struct api_call *c, int64_t *since, long *limit)
{
	struct eca_err e;

	eca_err_clear(&e);
	if (api_parse_roster_query(api_query_of(c), since, limit, &e) != 0) {
		api_reply_error(c, e.code, "%s", e.msg);
		return -1;
	}
	return 0;
}

/*
 * GET /v1/roster: the records changed after ?since=, in version order, a
 * page at a time (docs/roster.md).
 */
void
api_h_roster(struct api_call *c)
{
	struct eca_change *ch = NULL;
	struct eca_dnmap *maps = NULL;
	struct eca_err e;
	json_t *body;
	int64_t since, current, next, last = 0;
	size_t n = 0, nmaps = 0, i, j;
	long limit;
	int r, full, more;

	if (roster_query(c, &since, &limit) != 0)
		return;
	/*
	 * The current version first: a change committed between the two
	 * reads then shows in the entries rather than being skipped.
	 */
	eca_err_clear(&e);
	if ((r = eca_store_version(c->w->rd, &current, &e)) != 0) {
		api_reply_error(c, r, "%s", e.msg);
		return;
	}
	full = roster_full(since, current);
	/* One more than asked tells whether there is a next page. */
	if ((r = eca_store_changes(c->w->rd, c->d->cfg->client_name,
		 full ? 0 : since, (size_t)limit + 1, &ch, &n, &e)) != 0 ||
	    (r = eca_store_dnmaps(c->w->rd, c->d->cfg->client_name,
		 full ? 0 : since, (size_t)limit + 1, &maps, &nmaps, &e)) !=
		0) {
		api_reply_error(c, r, "%s", e.msg);
		goto out;
	}
	/*
	 * Records and DN mappings share the version counter: a page takes
	 * the first limit changes of either kind in version order, so next
	 * (the last version taken) skips nothing of both.
	 */
	for (i = j = 0; i + j < (size_t)limit && (i < n || j < nmaps);) {
		if (j >= nmaps || (i < n && ch[i].version < maps[j].version))
			last = ch[i++].version;
		else
			last = maps[j++].version;
	}
	more = i < n || j < nmaps;
	n = i;
	nmaps = j;
	next = current;
	if (i + j > 0 && (more || last > next))
		next = last;
	body = eca_wire_roster(
	    &(struct eca_wire_roster_page){.primary = c->d->cfg->client_name,
		.since = since,
		.version = current,
		.next = next,
		.full = full,
		.more = more},
	    ch, n);
	/* Only when there are any: an older host's parser is not bothered. */
	if (body != NULL && nmaps > 0 &&
	    eca_wire_roster_add_maps(body, maps, nmaps) != 0) {
		json_decref(body);
		body = NULL;
	}
	api_reply_json(c, 200, body);
out:
	free(ch);
	free(maps);
}
