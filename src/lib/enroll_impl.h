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
 * Whether rec is in use with fp as its enrolled certificate (ENROLLED, or
 * CONFLICT with the enrolled certificate still served); a REMOVED, BANNED
 * or REVOKED record serves nothing.  The CRL takes rec's certificate only
 * then (one rule for the primary's pre-check, eca_enroll_revoke_target,
 * and the writer's ECA_OP_REVOKE, so that they cannot drift), and the
 * broker marks a NAT host only then (ECA_OP_MARK_NAT).
 */
int eca_enroll_serves(const struct eca_enrollment *rec, const char *fp);

#endif
