/* SPDX-License-Identifier: ISC */
/*
 * hostset.h - a hint of which host names a registry holds: a Bloom filter
 * of canonical names (hostname.h).
 *
 * A name added is always reported as possibly held; a name never added is
 * reported as not held, except for a few false "possibly held" (about 0.2 %
 * at 16 bits per name, more as the set fills past what it was sized for).
 * Nothing is ever taken out: a registry never deletes a record (store.h),
 * so a name once held stays held.  The answer is a hint, never a verdict:
 * ecad uses "not held" only to skip a read whose answer would have been
 * "no record", where the writer decides again in its transaction anyway
 * (src/daemon/api_enroll.c).
 *
 * Any number of threads may add and ask at once, without a lock: bits are
 * only ever set, each with one atomic OR.  Memory: the bits only, a power
 * of two between 1 MiB (8,388,608 bits) and what 16 bits per expected
 * name need.
 */
#ifndef ECA_HOSTSET_H
#define ECA_HOSTSET_H

#include <stddef.h>

#include "err.h"

struct eca_hostset;

/*
 * A set sized for expect names (ECA_ERR_NOMEM on failure), empty.
 */
int eca_hostset_new(size_t expect, struct eca_hostset **out,
    struct eca_err *err) ECA_WUR;
void eca_hostset_free(struct eca_hostset *hs);

/* Add the canonical name host. */
void eca_hostset_add(struct eca_hostset *hs, const char *host);

/* 0: host was never added; 1: it may have been. */
int eca_hostset_may_hold(const struct eca_hostset *hs, const char *host);

/* The size of the set's bits, in bytes. */
size_t eca_hostset_bytes(const struct eca_hostset *hs);

#endif
