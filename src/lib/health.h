/* SPDX-License-Identifier: ISC */
/*
 * health.h - the health check of a host's certificate configuration.
 * One validation per ID; each says pass or fail and why.
 */
#ifndef ECA_HEALTH_H
#define ECA_HEALTH_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "config.h"
#include "crl.h"
#include "err.h"

#define ECA_HEALTH_MAX 24

struct eca_health_check {
	const char *id;	   /* e.g. "USER_INPUT_CERT_PATH_VALIDATION" */
	const char *title; /* short human title */
	int code;	   /* 0 passed, ECA_ERR_* failed */
	int skipped;	   /* not run because a prerequisite failed */
	int warned;	   /* passed, with a detail starting "WARNING:" */
	char detail[512];  /* what was found, or why it failed and the remedy */
};

struct eca_health_report {
	struct eca_health_check checks[ECA_HEALTH_MAX];
	size_t n;
	int failed; /* number of failed checks */
	int warned; /* number of passed checks with a warning */
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
 * ECA_CRL_CHECK, without fetching: a current CRL passes; none yet passes
 * with a detail starting "NOTE:" (a new host has none until its first
 * check); one expired but in its grace period, or past it with
 * ECA_CRL_FAIL_OPEN, passes with a detail starting "WARNING:"; expired
 * past the grace period fails CRL_UNAVAILABLE; the certificate revoked
 * fails REVOKED).  CERT_VALIDITY_VALIDATION warns when the certificate
 * ends within ECA_CERT_EXPIRY_WARN_DAYS.  A passed check whose detail
 * starts "WARNING:" is counted in report->warned.
 * Returns 0 if all passed, else the code of the first failure.
 */
int eca_health_run(OSSL_LIB_CTX *libctx, const struct eca_config *cfg,
    struct eca_health_report *report);

/*
 * The status roll-up of GET /v1/health and `eca health`: each check of a
 * running primary is ok, warn or critical, and the answer is the worst of
 * them.  Pure functions of their arguments (times in seconds since the
 * epoch), so the thresholds are tested without a daemon.
 */
enum eca_health_level {
	ECA_HEALTH_OK = 0,
	ECA_HEALTH_WARN = 1,
	ECA_HEALTH_CRITICAL = 2,
};

/*
 * A writer whose oldest pending job is this old is slow (warn), and this
 * old stuck (critical): a group commit normally takes milliseconds.
 */
#define ECA_HEALTH_QUEUE_WARN_SEC 10
#define ECA_HEALTH_QUEUE_CRIT_SEC 60

/* Exit status of `eca health` when no answer came (monitoring plugins). */
#define ECA_HEALTH_EXIT_UNKNOWN 3

/* "ok", "warn", "critical"; "unknown" for anything else. */
const char *eca_health_level_name(enum eca_health_level l);
/* The level a name gives: 0, or ECA_ERR_PROTOCOL for any other word. */
int eca_health_level_parse(const char *name,
    enum eca_health_level *out) ECA_WUR;
/* The worse of a and b. */
enum eca_health_level eca_health_worst(enum eca_health_level a,
    enum eca_health_level b);
/*
 * A certificate valid until not_after, at now: expired (not_after <= now)
 * is critical, ending within warn_days days warns (0: never), else ok.
 */
enum eca_health_level eca_health_cert_level(int64_t not_after, int64_t now,
    int warn_days);
/*
 * The registry writer: not running, or its last group commit failed, is
 * critical; its oldest pending job older than ECA_HEALTH_QUEUE_CRIT_SEC
 * critical, older than ECA_HEALTH_QUEUE_WARN_SEC warn; else ok.
 * oldest_age is 0 when nothing is pending.
 */
enum eca_health_level eca_health_writer_level(int running, int commit_failed,
    int64_t oldest_age);
/* A cached CRL: current ok, expired in its grace period warn, past it critical. */
enum eca_health_level eca_health_crl_level(enum eca_crl_state s);
/*
 * A roster synced at synced_at, at now; one never synced (synced_at 0) is
 * aged from since (when the daemon started).  Older than max_age
 * (ECA_ROSTER_MAX_AGE; channels are then refused ROSTER_STALE) is
 * critical, older than three sync periods (ECA_ROSTER_SYNC_SECONDS) warns,
 * else ok.
 */
enum eca_health_level eca_health_roster_level(int64_t synced_at, int64_t since,
    int64_t now, int sync_seconds, int max_age);
/* `eca health`'s exit status: ok 0, warn 1, critical 2. */
int eca_health_exit_code(enum eca_health_level l);

#endif
