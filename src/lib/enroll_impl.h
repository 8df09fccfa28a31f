/* SPDX-License-Identifier: ISC */
/*
 * enroll_impl.h - what the enrollment rules (enroll.c) share with the
 * group commit that applies them (enroll_apply.c).  Nothing else includes
 * it.
 */
#ifndef ECA_ENROLL_IMPL_H
#define ECA_ENROLL_IMPL_H

#include "enroll.h"

/*
 * Whether the CRL takes rec's certificate: only while fp (a revoked
 * certificate's fingerprint) is the one enrolled and the record is in use
 * (ENROLLED, or CONFLICT with the enrolled certificate still served); a
 * REMOVED, BANNED or REVOKED record has nothing left to revoke.  One rule
 * for the primary's pre-check (eca_enroll_revoke_target) and the writer
 * (ECA_OP_REVOKE), so that they cannot drift.
 */
int eca_enroll_revocable(const struct eca_enrollment *rec, const char *fp);

#endif
