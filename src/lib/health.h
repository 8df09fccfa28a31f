/* SPDX-License-Identifier: ISC */
/*
 * health.h - the health check of a host's certificate configuration.
 * One validation per ID; each says pass or fail and why.
 */
#ifndef ECA_HEALTH_H
#define ECA_HEALTH_H

#include <stddef.h>

#include <openssl/types.h>

#include "config.h"
#include "err.h"

#define ECA_HEALTH_MAX 24

struct eca_health_check {
	const char *id;	   /* e.g. "USER_INPUT_CERT_PATH_VALIDATION" */
	const char *title; /* short human title */
	int code;	   /* 0 passed, ECA_ERR_* failed */
	int skipped;	   /* not run because a prerequisite failed */
	char detail[512];  /* what was found, or why it failed and the remedy */
};

struct eca_health_report {
	struct eca_health_check checks[ECA_HEALTH_MAX];
	size_t n;
	int failed; /* number of failed checks */
};

/*
 * Run every validation of cfg's certificate configuration in order:
 * USER_INPUT_CERT_PATH_VALIDATION, USER_INPUT_CERTIFICATES_VALIDATION,
 * USER_INPUT_PRIVATE_KEY_PATH_VALIDATION, USER_INPUT_PASSPHRASE_VALIDATION,
 * USER_INPUT_TRUST_STORE_VALIDATION,
 * USER_INPUT_TRUST_STORE_KEY_STRENGTH_VALIDATION (every certificate of the
 * trust store has a key the policy accepts), USER_INPUT_CRL_CONFIG_VALIDATION,
 * KEY_CERT_MATCH_VALIDATION, CERT_CHAIN_VALIDATION, CERT_VALIDITY_VALIDATION,
 * KEY_STRENGTH_VALIDATION, SIGNATURE_ALGORITHM_VALIDATION,
 * KEY_USAGE_VALIDATION, CERT_IDENTITY_VALIDATION, CRL_STATUS_VALIDATION
 * (this host's certificate against the CRL cache in STATE_DIR/crl, per
 * ECA_CRL_CHECK, without fetching: a current CRL passes; none yet, or one
 * expired but in its grace period, passes with a detail starting
 * "WARNING:"; expired past the grace period fails CRL_UNAVAILABLE, unless
 * ECA_CRL_FAIL_OPEN; the certificate revoked fails REVOKED).
 * Returns 0 if all passed, else the code of the first failure.
 */
int eca_health_run(OSSL_LIB_CTX *libctx, const struct eca_config *cfg,
    struct eca_health_report *report);

#endif
