/* SPDX-License-Identifier: ISC */
/*
 * fuzz_api_request.c - the request target of a /v1 call as ecad handles
 * it: libevent's URI parser (as evhttp uses it), then ecad's own route
 * matching and query-string rules (src/daemon/apiparse.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "apiparse.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The API's route patterns (src/daemon/api.c). */
static const char *const patterns[] = {
    "/v1/health",
    "/v1/stats",
    "/v1/roster",
    "/v1/enrollments",
    "/v1/enrollments/*",
    "/v1/enrollments/*/history",
    "/v1/enrollments/*/approve",
    "/v1/enrollments/*/reject",
    "/v1/enrollments/*/ban",
    "/v1/enrollments/*/unban",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char target[8192], name[ECA_HOST_MAX];
	struct evhttp_uri *uri;
	struct api_list_query lq;
	struct eca_err err;
	const char *path, *q;
	int64_t since;
	long limit;
	size_t i;

	/* ecad refuses headers over 8 KiB, the request line included. */
	if (size >= sizeof(target))
		return 0;
	memcpy(target, data, size);
	target[size] = '\0';
	if ((uri = evhttp_uri_parse_with_flags(target, 0)) == NULL)
		return 0;
	path = evhttp_uri_get_path(uri);
	q = evhttp_uri_get_query(uri);
	for (i = 0; path != NULL && i < sizeof(patterns) / sizeof(*patterns);
	     i++) {
		name[0] = '\0';
		if (api_route_match(patterns[i], path, name, sizeof(name)) &&
		    strlen(name) >= sizeof(name))
			abort();
	}
	if (api_parse_list_query(q, &lq, &err) == 0) {
		if (lq.limit < 1 || lq.limit > ECA_LIST_PAGE_MAX ||
		    (lq.after[0] != '\0' && !eca_hostname_is_canon(lq.after)))
			abort();
	} else if (err.code != ECA_ERR_BAD_REQUEST)
		abort();
	if (api_parse_roster_query(q, &since, &limit, &err) == 0) {
		if (since < 0 || limit < 1)
			abort();
	} else if (err.code != ECA_ERR_BAD_REQUEST)
		abort();
	evhttp_uri_free(uri);
	return 0;
}
