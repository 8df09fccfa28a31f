/* SPDX-License-Identifier: ISC */
/*
 * apiparse.c - route matching and query strings of the /v1 API.  Query
 * strings are split and decoded by libevent (evhttp_parse_query_str);
 * what each parameter may hold is decided here.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "apiparse.h"
#include "hostname.h"
#include "roster.h"
#include "store.h"
#include "text.h"
#include "wire.h"

int
api_route_match(const char *pattern, const char *path, char *name, size_t len)
{
	size_t n;

	while (*pattern != '\0') {
		if (*pattern == '*') {
			n = strcspn(path, "/");
			if (n == 0 || n >= len)
				return 0;
			memcpy(name, path, n);
			name[n] = '\0';
			path += n;
			pattern++;
			continue;
		}
		if (*pattern++ != *path++)
			return 0;
	}
	return *path == '\0';
}

/* A whole decimal number in [min, max], or -1. */
static int
number(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static const char *const sort_names[ECA_STORE_NSORTS] = {
    [ECA_SORT_NAME] = "name",
    [ECA_SORT_STATE] = "state",
    [ECA_SORT_ENROLLED] = "enrolled",
    [ECA_SORT_EXPIRY] = "expiry",
};

/* The order named s, or ECA_STORE_NSORTS. */
static size_t
sort_of(const char *s)
{
	size_t i;

	for (i = 0; i < ECA_STORE_NSORTS; i++)
		if (strcmp(s, sort_names[i]) == 0)
			break;
	return i;
}

/*
 * after_raw in the query's order: "HOST" by name, else "KEY,HOST" (a
 * state's name, or a time in seconds).  0, or ECA_ERR_BAD_REQUEST.
 */
static int
list_cursor(struct api_list_query *out, struct eca_err *err)
{
	char *host = out->after_raw, *comma = strchr(out->after_raw, ',');
	long long v;

	if (out->after_raw[0] == '\0')
		return 0;
	if (out->sort != ECA_SORT_NAME) {
		if (comma == NULL)
			return eca_err_set(err, ECA_ERR_BAD_REQUEST,
			    "'after' must be KEY,HOST when sorted by %s: give "
			    "the \"next\" of the page before",
			    sort_names[out->sort]);
		*comma = '\0';
		host = comma + 1;
		if (out->sort == ECA_SORT_STATE)
			out->after_state = eca_state_from_name(out->after_raw);
		else if (number(out->after_raw, INT64_MIN, INT64_MAX, &v) == 0)
			out->after_time = (int64_t)v;
		else
			out->after_state = -1;
		if (out->after_state < 0)
			return eca_err_set(err, ECA_ERR_BAD_REQUEST,
			    "'after' must start with a %s, then a comma: give "
			    "the \"next\" of the page before",
			    out->sort == ECA_SORT_STATE ? "state" : "time");
	}
	/* A cursor compares with stored, canonical, names. */
	if (eca_hostname_canon(host, out->after, sizeof(out->after), NULL) != 0)
		return eca_err_set(err, ECA_ERR_BAD_REQUEST,
		    "'after' must be a host name%s",
		    out->sort != ECA_SORT_NAME ? " after its comma" : "");
	return 0;
}

void
api_list_cursor(const struct api_list_query *lq,
    const struct eca_enrollment *rec, char *buf, size_t len)
{
	if (lq->sort == ECA_SORT_NAME)
		snprintf(buf, len, "%s", rec->host);
	else if (lq->sort == ECA_SORT_STATE)
		snprintf(buf, len, "%s,%s", eca_state_name(rec->state),
		    rec->host);
	else
		snprintf(buf, len, "%lld,%s",
		    (long long)(lq->sort == ECA_SORT_ENROLLED ?
			    rec->enrolled_at :
			    rec->cert.not_after),
		    rec->host);
}

static int
list_param(const struct evkeyval *p, struct api_list_query *out,
    struct eca_err *err)
{
	char up[32], shown[72];
	long long v;
	size_t i;

	if (strcmp(p->key, "state") == 0) {
		for (i = 0; p->value[i] != '\0' && i < sizeof(up) - 1; i++)
			up[i] = (char)toupper((unsigned char)p->value[i]);
		up[i] = '\0';
		if (strlen(p->value) >= sizeof(up) ||
		    (out->state = eca_state_from_name(up)) < 0) {
			/* Decoded from the query: the caller's bytes. */
			eca_text_sanitize(p->value, strlen(p->value), shown,
			    sizeof(shown));
			return eca_err_set(err, ECA_ERR_BAD_REQUEST,
			    "unknown "
			    "state '%s' (use ENROLLED, CONFLICT, REMOVED, "
			    "BANNED or REVOKED)",
			    shown);
		}
	} else if (strcmp(p->key, "after") == 0) {
		/* Read once the order is known (list_cursor). */
		if (strlen(p->value) >= sizeof(out->after_raw))
			return eca_err_set(err, ECA_ERR_BAD_REQUEST,
			    "'after' is too long: give the \"next\" of the "
			    "page before");
		snprintf(out->after_raw, sizeof(out->after_raw), "%s",
		    p->value);
	} else if (strcmp(p->key, "sort") == 0) {
		if ((i = sort_of(p->value)) >= ECA_STORE_NSORTS)
			return eca_err_set(err, ECA_ERR_BAD_REQUEST,
			    "'sort' must be name, state, enrolled or expiry");
		out->sort = (enum eca_store_sort)i;
	} else if (strcmp(p->key, "order") == 0) {
		if (strcmp(p->value, "asc") != 0 &&
		    strcmp(p->value, "desc") != 0)
			return eca_err_set(err, ECA_ERR_BAD_REQUEST,
			    "'order' must be asc or desc");
		out->desc = strcmp(p->value, "desc") == 0;
	} else if (strcmp(p->key, "prefix") == 0) {
		/* The start of host names: lower case, their characters. */
		for (i = 0; p->value[i] != '\0' && i < sizeof(out->prefix) - 1;
		     i++)
			out->prefix[i] =
			    (char)tolower((unsigned char)p->value[i]);
		out->prefix[i] = '\0';
		if (p->value[i] != '\0' ||
		    strspn(out->prefix,
			"abcdefghijklmnopqrstuvwxyz0123456789.-") != i)
			return eca_err_set(err, ECA_ERR_BAD_REQUEST,
			    "'prefix' must be the start of a host name "
			    "(letters, digits, '.' and '-')");
	} else if (strcmp(p->key, "limit") == 0) {
		if (number(p->value, 1, ECA_LIST_PAGE_MAX, &v) != 0)
			return eca_err_set(err, ECA_ERR_BAD_REQUEST,
			    "'limit' "
			    "must be a number from 1 to %d",
			    ECA_LIST_PAGE_MAX);
		out->limit = (long)v;
	} else {
		eca_text_sanitize(p->key, strlen(p->key), shown, sizeof(shown));
		return eca_err_set(err, ECA_ERR_BAD_REQUEST,
		    "unknown query "
		    "parameter '%s' (use state, after, limit, prefix, sort, "
		    "order)",
		    shown);
	}
	return 0;
}

int
api_parse_list_query(const char *q, struct api_list_query *out,
    struct eca_err *err)
{
	struct evkeyvalq kv;
	struct evkeyval *p;
	int r = 0;

	TAILQ_INIT(&kv);
	out->state = -1;
	out->after[0] = '\0';
	out->prefix[0] = '\0';
	out->after_raw[0] = '\0';
	out->limit = ECA_LIST_PAGE_DEFAULT;
	out->sort = ECA_SORT_NAME;
	out->desc = 0;
	out->after_state = 0;
	out->after_time = 0;
	if (q == NULL)
		return 0;
	if (evhttp_parse_query_str(q, &kv) != 0)
		return eca_err_set(err, ECA_ERR_BAD_REQUEST,
		    "malformed query string");
	TAILQ_FOREACH(p, &kv, next)
	if ((r = list_param(p, out, err)) != 0)
		break;
	evhttp_clear_headers(&kv);
	return r != 0 ? r : list_cursor(out, err);
}

int
api_parse_roster_query(const char *q, int64_t *since, long *limit,
    struct eca_err *err)
{
	struct evkeyvalq kv;
	struct evkeyval *p;
	long long v;
	char shown[72];
	int r = 0;

	TAILQ_INIT(&kv);
	*since = 0;
	*limit = ECA_ROSTER_PAGE_DEFAULT;
	if (q == NULL)
		return 0;
	if (evhttp_parse_query_str(q, &kv) != 0)
		return eca_err_set(err, ECA_ERR_BAD_REQUEST,
		    "malformed query string");
	TAILQ_FOREACH(p, &kv, next)
	{
		if (strcmp(p->key, "since") == 0) {
			if (number(p->value, 0, INT64_MAX, &v) != 0) {
				r = eca_err_set(err, ECA_ERR_BAD_REQUEST,
				    "'since' must be a roster version (0 or "
				    "more)");
				break;
			}
			*since = v;
		} else if (strcmp(p->key, "limit") == 0) {
			if (number(p->value, 1, ECA_ROSTER_PAGE_MAX, &v) != 0) {
				r = eca_err_set(err, ECA_ERR_BAD_REQUEST,
				    "'limit' must be a number from 1 to %d",
				    ECA_ROSTER_PAGE_MAX);
				break;
			}
			*limit = (long)v;
		} else {
			eca_text_sanitize(p->key, strlen(p->key), shown,
			    sizeof(shown));
			r = eca_err_set(err, ECA_ERR_BAD_REQUEST,
			    "unknown "
			    "query parameter '%s' (use since, limit)",
			    shown);
			break;
		}
	}
	evhttp_clear_headers(&kv);
	return r;
}
