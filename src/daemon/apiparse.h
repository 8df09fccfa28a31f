/* SPDX-License-Identifier: ISC */
/*
 * apiparse.h - the parts of a /v1 request that ecad parses itself: the
 * route pattern match and the query strings.  Kept apart from api.c (no
 * event loop, no replies) so that a fuzzer can drive them directly.
 */
#ifndef ECAD_APIPARSE_H
#define ECAD_APIPARSE_H

#include <stddef.h>
#include <stdint.h>

#include "certinfo.h"
#include "err.h"
#include "store.h"
#include "wire.h"

/*
 * Does path match pattern?  A "*" in pattern matches one non-empty path
 * segment shorter than len, copied to name.  1 or 0.
 */
int api_route_match(const char *pattern, const char *path, char *name,
    size_t len);

/*
 * GET /v1/enrollments?state=S&after=CURSOR&limit=N&prefix=P&sort=K&order=O
 * sort: name (the default), state, enrolled or expiry; order: asc or desc.
 * The cursor (the last row of the page before, as "next" gave it) is its
 * host name when sorted by name, else "KEY,HOST": the state's name, or
 * the time in seconds (api_list_cursor writes it).
 */
struct api_list_query {
	int state;		   /* -1: any */
	char after[ECA_HOST_MAX];  /* "" : from the start */
	char prefix[ECA_HOST_MAX]; /* "": every name */
	long limit;
	enum eca_store_sort sort;
	int desc;
	int after_state;    /* the cursor's state (sort=state) */
	int64_t after_time; /* the cursor's time (sort=enrolled, expiry) */
	char after_raw[ECA_HOST_MAX + 32]; /* as given */
};

/*
 * Parse q (the query string, NULL for none).  ECA_ERR_BAD_REQUEST with a
 * sentence naming the parameter for anything else: a malformed query, an
 * unknown parameter, an unknown state, a bad host name, a limit outside
 * 1..ECA_LIST_PAGE_MAX (wire.h: the CLI pages by the same constant).
 */
int api_parse_list_query(const char *q, struct api_list_query *out,
    struct eca_err *err);

/* The cursor of the page after rec in lq's order, into buf. */
void api_list_cursor(const struct api_list_query *lq,
    const struct eca_enrollment *rec, char *buf, size_t len);

/* GET /v1/roster?since=V&limit=N (limit 1..ECA_ROSTER_PAGE_MAX). */
int api_parse_roster_query(const char *q, int64_t *since, long *limit,
    struct eca_err *err);

#endif
