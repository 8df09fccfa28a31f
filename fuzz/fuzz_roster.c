/* SPDX-License-Identifier: ISC */
/*
 * fuzz_roster.c - the roster answer a host reads from its primary
 * (GET /v1/roster).  A delta that parses must apply to an empty roster
 * when it is full, and every entry applied must be found again by host
 * (in capitals too) and by fingerprint.  The bytes as a name show what a
 * lookup relies on: folding gives a valid name its canonical form and
 * leaves an invalid one invalid.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hostname.h"
#include "roster.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The first bytes of data as a name: fold and canon agree on it. */
static void
fold_agrees(const uint8_t *data, size_t size)
{
	char in[ECA_HOST_MAX + 8], f[ECA_HOST_MAX], c[ECA_HOST_MAX];
	size_t n = size < sizeof(in) - 1 ? size : sizeof(in) - 1;
	int len;

	memcpy(in, data, n);
	in[n] = '\0';
	len = eca_hostname_fold(in, f, sizeof(f));
	if (eca_hostname_canon(in, c, sizeof(c), NULL) == 0) {
		if (len != (int)strlen(c) || strcmp(f, c) != 0)
			abort();
	} else if (len >= 0 && eca_hostname_valid(f))
		abort();
}

/* host is found, and in capitals it finds the same record. */
static void
found_in_capitals(const struct eca_roster *r, const char *host)
{
	struct eca_roster_entry e, eu;
	char up[ECA_HOST_MAX];
	size_t i;

	for (i = 0; host[i] != '\0' && i < sizeof(up) - 1; i++)
		up[i] = host[i] >= 'a' && host[i] <= 'z' ?
		    (char)(host[i] - ('a' - 'A')) :
		    host[i];
	up[i] = '\0';
	if (eca_roster_lookup_host(r, host, &e) != 0 ||
	    eca_roster_lookup_host(r, up, &eu) != 0 ||
	    strcmp(e.host, eu.host) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct eca_roster_delta *d = NULL;
	struct eca_roster *r = NULL;
	struct eca_err err;
	size_t i;

	fold_agrees(data, size);
	if (eca_roster_delta_parse((const char *)data, size, &d, &err) != 0)
		return 0;
	if (eca_roster_new(d->primary, &r, &err) != 0)
		abort();
	if (eca_roster_apply(r, d, 1, &err) == 0) {
		if (!d->full && d->since != 0)
			abort();
		for (i = 0; i < d->n; i++)
			found_in_capitals(r, d->entries[i].host);
		if (eca_roster_count(r) > d->n)
			abort();
	} else if (d->full || d->since == 0)
		abort();
	eca_roster_free(r);
	eca_roster_delta_free(d);
	return 0;
}
