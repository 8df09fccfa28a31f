/* SPDX-License-Identifier: ISC */
/*
 * hostset.c - a Bloom filter of host names (hostset.h).
 *
 * Four probes per name, each a bit of its own 64-bit word, from two
 * halves of the roster's hash of the name (double hashing: probe i is
 * h1 + i * h2, h2 odd so that the probes of one name differ).  At 16 bits
 * per name, four probes answer a name never added "possibly held" with a
 * probability of (1 - e^(-4/16))^4, about 0.24 %.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hostset.h"
#include "roster.h"

#define PROBES 4
#define BITS_PER_NAME 16
#define MIN_BITS ((size_t)1 << 23) /* 1 MiB */

struct eca_hostset {
	size_t mask; /* bits - 1 */
	_Atomic uint64_t *words;
};

int
eca_hostset_new(size_t expect, struct eca_hostset **out, struct eca_err *err)
{
	struct eca_hostset *hs;
	size_t bits = MIN_BITS;

	*out = NULL;
	while (bits / BITS_PER_NAME < expect && bits < SIZE_MAX / 4)
		bits *= 2;
	if ((hs = calloc(1, sizeof(*hs))) == NULL ||
	    (hs->words = calloc(bits / 64, sizeof(*hs->words))) == NULL) {
		free(hs);
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory for the set of host names (%zu KiB)",
		    bits / 8 / 1024);
	}
	hs->mask = bits - 1;
	*out = hs;
	return 0;
}

void
eca_hostset_free(struct eca_hostset *hs)
{
	if (hs == NULL)
		return;
	free(hs->words);
	free(hs);
}

/* The probes' two hashes of host. */
static void
hashes(const char *host, uint64_t *h1, uint64_t *h2)
{
	uint64_t h = eca_roster_hash_name(host, strlen(host));

	*h1 = h;
	*h2 = (h >> 32 | h << 32) | 1;
}

void
eca_hostset_add(struct eca_hostset *hs, const char *host)
{
	uint64_t h1, h2, b;
	int i;

	hashes(host, &h1, &h2);
	for (i = 0; i < PROBES; i++) {
		b = (h1 + (uint64_t)i * h2) & hs->mask;
		atomic_fetch_or_explicit(&hs->words[b / 64],
		    (uint64_t)1 << (b % 64), memory_order_release);
	}
}

int
eca_hostset_may_hold(const struct eca_hostset *hs, const char *host)
{
	uint64_t h1, h2, b;
	int i;

	hashes(host, &h1, &h2);
	for (i = 0; i < PROBES; i++) {
		b = (h1 + (uint64_t)i * h2) & hs->mask;
		if (!(atomic_load_explicit(&hs->words[b / 64],
			  memory_order_acquire) &
			((uint64_t)1 << (b % 64))))
			return 0;
	}
	return 1;
}

size_t
eca_hostset_bytes(const struct eca_hostset *hs)
{
	return (hs->mask + 1) / 8;
}
