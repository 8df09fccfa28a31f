/* SPDX-License-Identifier: ISC */
/*
 * host.h - this host's view of its backup domains.
 *
 * A struct eca_host holds what every host-to-host communication needs:
 * the configuration, this host's credentials and TLS client context, and
 * one struct eca_domain per SERVER entry (the primary's roster, the local
 * enrollment state, a client of the primary's API).  `eca` builds one per
 * command; ecad one for its lifetime, shared by its threads: every
 * function here is thread-safe (each domain has its own lock).
 */
#ifndef ECA_HOST_H
#define ECA_HOST_H

#include <pthread.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "client.h"
#include "config.h"
#include "enroll.h"
#include "err.h"
#include "purpose.h"
#include "roster.h"
#include "store.h"
#include "x509.h"

/* On a roster miss, refresh at most this often per domain (seconds). */
#define ECA_ROSTER_MISS_INTERVAL 1
/* How long a host waits for its peer's enrollment in flight. */
#define ECA_ENROLL_WAIT_MS 5000

struct eca_domain {
	const struct eca_endpoint *server; /* borrowed from the config */
	pthread_mutex_t lock;		   /* guards everything below */
	pthread_cond_t synced;		   /* a sync finished */
	struct eca_roster *roster;
	int syncing;		      /* a sync is in flight */
	int64_t last_sync_try;	      /* unix seconds */
	int64_t sync_count;	      /* completed syncs, for tests */
	int64_t sync_done;	      /* finished syncs, failed too */
	struct eca_err last_sync_err; /* code 0: last sync succeeded */
	/* Local enrollment state (STATE_DIR/enrollment-PRIMARY.json). */
	int enrolled;
	char enrolled_fp[ECA_FP_HEX_LEN + 1];
	char host_id[ECA_HOST_ID_LEN + 1];
};

struct eca_host {
	OSSL_LIB_CTX *libctx;
	const struct eca_config *cfg; /* borrowed */
	struct eca_cred *cred;	      /* owned; NULL: no external cert */
	struct eca_certinfo self;     /* this host's leaf */
	SSL_CTX *client_ctx;	      /* owned: channels as client;
						 * NULL when cred is NULL */
	/* For judging peers; crls is NULL: the owner of a CRL cache
	 * (ecad) installs it. */
	struct eca_peer_policy policy;
	struct eca_domain domains[ECA_MAX_SERVERS];
	size_t ndomains;
	int64_t roster_max_age; /* seconds */
	int persist_rosters;	/* ecad: save rosters to STATE_DIR */
};

/*
 * Build the host context from cfg (borrowed; must outlive it): load the
 * credentials (a host without ECA_CERT_PATH gets cred NULL), make the TLS
 * client context, and for each SERVER a domain with its roster loaded from
 * STATE_DIR when present (a corrupt file is logged and ignored: full sync).
 */
int eca_host_new(OSSL_LIB_CTX *libctx, const struct eca_config *cfg,
    struct eca_host **out, struct eca_err *err) ECA_WUR;
void eca_host_free(struct eca_host *h);

/* The domain of primary name (any spelling: compared canonical), or NULL. */
struct eca_domain *eca_host_domain(struct eca_host *h, const char *primary);

/*
 * Sync d's roster with its primary (GET /v1/roster?since=V, all pages).
 * Single flight: a caller arriving while a sync runs waits for it and
 * shares its result.  With on_miss, rate-limited: when the last try was
 * less than ECA_ROSTER_MISS_INTERVAL ago it waits for that interval to end
 * and then syncs (or shares a sync that started since).  Saves the roster to
 * STATE_DIR when persist_rosters is set.
 */
int eca_domain_sync(struct eca_host *h, struct eca_domain *d, int on_miss,
    struct eca_err *err) ECA_WUR;

/*
 * ECA_IDENTITY = DN: eca_dn_map_fn over the roster of a domain (arg is a
 * struct eca_dn_lookup): the subject's host, refreshing the roster once
 * (rate-limited, as on a host miss) when the subject is not mapped.
 */
struct eca_dn_lookup {
	struct eca_host *h;
	struct eca_domain *d;
	int nowait; /* unmapped: ECA_ERR_WOULD_WAIT instead of the refresh */
};
int eca_domain_dn_map(void *arg, const char *subject, char *host, size_t size);

/*
 * Refresh d's roster for a peer that is missing from it, REMOVED, enrolled
 * with another certificate, or when it is stale: one sync now (on a miss:
 * rate-limited to ECA_ROSTER_MISS_INTERVAL, see eca_domain_sync), and with
 * wait_ms > 0, a sync every half second until host is in the roster or
 * wait_ms has passed (the peer's enrollment in flight).  Returns the last
 * sync's result; the caller then looks with eca_domain_peek, which also
 * tells a stale roster.
 */
int eca_domain_refresh(struct eca_host *h, struct eca_domain *d,
    const char *host, long wait_ms, struct eca_err *err) ECA_WUR;

/*
 * Look host up in d's roster as it is, without any network and without
 * waiting (but for d's lock): 0 and *out, ECA_ERR_NOT_FOUND, or
 * ECA_ERR_ROSTER_STALE (with err, naming the last sync's failure) when
 * the roster is older than roster_max_age.  *synced (may be NULL) gets
 * the number of syncs of d finished so far, failed ones included, so a
 * caller that asked for a sync can tell when one has happened since.
 */
int eca_domain_peek(struct eca_host *h, struct eca_domain *d, const char *host,
    struct eca_roster_entry *out, int64_t *synced, struct eca_err *err) ECA_WUR;

/* The version of d's roster now (its registry version; 0 when empty). */
int64_t eca_domain_roster_version(struct eca_domain *d);

/* How eca_domain_enroll asks; or-ed together, 0 for a plain enrollment. */
enum eca_enroll_flags {
	ECA_ENROLL_PRECHECK = 1 << 0, /* decide, but write nothing */
	ECA_ENROLL_FORCE = 1 << 1,    /* replace another key if allowed */
};

/*
 * Enroll this host with d's primary: POST /v1/enrollments, the same call
 * `eca enroll` makes.  On success the local state (enrolled fingerprint,
 * host ID) is recorded in STATE_DIR (not for a precheck) and *out (may be
 * NULL) gets the record (eca_enrollment_clear); *outcome the outcome.  Refusals come back as
 * their ECA_ERR_* with the primary's message.
 */
int eca_domain_enroll(struct eca_host *h, struct eca_domain *d,
    unsigned int flags, enum eca_method method,
    enum eca_enroll_outcome *outcome, struct eca_enrollment *out,
    struct eca_err *err) ECA_WUR;

/* Is this host's current certificate the one enrolled with d, as far as the
 * local state knows?  (No network.) */
int eca_domain_is_enrolled(struct eca_host *h, struct eca_domain *d);

/* One side of a communication, as the auto-enrollment rule sees it. */
struct eca_autoenroll_side {
	enum eca_role role;
	int has_cert; /* has an external certificate configured */
	int nat;      /* NAT_CLIENT = YES */
	int disabled; /* ECA_DISABLE_AUTO_ENROLLMENT = YES */
};

/*
 * THE rule "does this communication enroll self?" (S2, S3, S6, S7, S8):
 * only if auto-enrollment is enabled for self, both hosts have external
 * certificates, neither is a NAT client (S6), the purpose is not console
 * (S8), and it is not replication between two media servers (S7).
 * Returns 1 or 0; *why (may be NULL) gets a phrase for the refusal's remedy
 * when 0 ("replication between media servers needs manual enrollment").
 */
int eca_autoenroll_rule(const struct eca_autoenroll_side *self,
    const struct eca_autoenroll_side *peer, enum eca_purpose purpose,
    const char **why);

/* The rule for this host (self from its configuration). */
int eca_autoenroll_allowed(const struct eca_config *self, int self_has_cert,
    enum eca_role peer_role, int peer_has_cert, int peer_nat,
    enum eca_purpose purpose, const char **why);

#endif
