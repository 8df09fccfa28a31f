/* SPDX-License-Identifier: ISC */
/*
 * apiparse.c - route matching and query strings of the /v1 API.  Query
 * strings are split and decoded by libevent (evhttp_parse_query_str);
 * what each parameter may hold is decided here.
 */
#include <ctype.h>
#include <errno.h>
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
		/* A cursor compares with stored, canonical, names. */
		if (eca_hostname_canon(p->value, out->after, sizeof(out->after),
			NULL) != 0)
			return eca_err_set(err, ECA_ERR_BAD_REQUEST,
			    "'after' "
			    "must be a host name");
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
		    "parameter '%s' (use state, after, limit, prefix)",
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
	out->limit = ECA_LIST_PAGE_DEFAULT;
	if (q == NULL)
		return 0;
	if (evhttp_parse_query_str(q, &kv) != 0)
		return eca_err_set(err, ECA_ERR_BAD_REQUEST,
		    "malformed query string");
	TAILQ_FOREACH(p, &kv, next)
	if ((r = list_param(p, out, err)) != 0)
		break;
	evhttp_clear_headers(&kv);
	return r;
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
