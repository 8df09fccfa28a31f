/* SPDX-License-Identifier: ISC */
/*
 * metrics.h - the counters ecad keeps for GET /metrics, and the writer
 * of the Prometheus text exposition format (version 0.0.4) they are
 * scraped in (docs/metrics.md).
 *
 * Counters are plain atomics in one struct the daemon owns: an increment
 * on the hot path is one relaxed atomic add, no lock, no allocation.
 * Gauges that need the registry, the CRL cache or the rosters are read
 * at scrape time by the daemon and handed to eca_metrics_write() in a
 * struct eca_metrics_gauges.  Debian 12 ships no Prometheus C client
 * library, so the writer is this small one.
 */
#ifndef ECA_METRICS_H
#define ECA_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "enroll.h"
#include "err.h"
#include "store.h"

/* The Content-Type of the exposition. */
#define ECA_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * A histogram of durations in microseconds, shown in seconds.  bounds
 * are the upper bounds of the finite buckets, increasing; counts holds
 * one count per bucket (not cumulative; the writer adds them up), the
 * last one for +Inf.
 */
#define ECA_HIST_MAX 16
struct eca_hist {
	const uint64_t *bounds_us;
	size_t nbounds;
	atomic_ullong counts[ECA_HIST_MAX + 1];
	atomic_ullong sum_us;
};

/*
 * Set up h with nbounds bounds (at most ECA_HIST_MAX, increasing;
 * borrowed, must outlive h).  ECA_ERR_INTERNAL when they are not.
 */
int eca_hist_init(struct eca_hist *h, const uint64_t *bounds_us, size_t nbounds,
    struct eca_err *err) ECA_WUR;
void eca_hist_observe(struct eca_hist *h, uint64_t us);

/* Which listener a TLS handshake was on. */
enum eca_metrics_listener {
	ECA_METRICS_API,  /* API_LISTEN (primary) */
	ECA_METRICS_PEER, /* LISTEN, the peer listener (every role) */
	ECA_METRICS_NLISTENERS
};

/* Console sign-ins by result. */
enum eca_metrics_signin {
	ECA_METRICS_SIGNIN_OK,
	ECA_METRICS_SIGNIN_REFUSED,
	ECA_METRICS_SIGNIN_RATE_LIMITED,
	ECA_METRICS_NSIGNIN
};

/* Reason codes as an index: 0 is OK, then every ECA_ERR_*. */
#define ECA_METRICS_NCODES ((size_t)(ECA_ERR_LAST_ - ECA_ERR_FIRST_))
#define ECA_METRICS_NOUTCOMES ((size_t)ECA_OUTCOME_LAST + 1)

struct eca_metrics {
	/* Primary: registry changes by outcome (written, and UNCHANGED). */
	atomic_ullong enroll[ECA_METRICS_NOUTCOMES];
	/* Primary: API error replies by reason code. */
	atomic_ullong refusals[ECA_METRICS_NCODES];
	/* Handshakes by listener: [0] completed, [1] failed. */
	atomic_ullong handshakes[ECA_METRICS_NLISTENERS][2];
	atomic_ullong busy; /* 429 replies, both listeners */
	/* Channel verdicts on the peer listener by reason (OK: accepted). */
	atomic_ullong verdicts[ECA_METRICS_NCODES];
	atomic_ullong peer_connections; /* accepted by the peer listener */
	atomic_llong peer_open;		/* ... and open now */
	/* Primary: the writer's durable group commits, in seconds. */
	struct eca_hist commit;
	/* Primary: console sign-ins by result. */
	atomic_ullong signins[ECA_METRICS_NSIGNIN];
};

/* Zero m and set up its histograms.  Never fails. */
void eca_metrics_init(struct eca_metrics *m);
/* The hot path: one relaxed atomic add each.  Unknown values are ignored. */
void eca_metrics_enroll(struct eca_metrics *m, enum eca_enroll_outcome o);
void eca_metrics_refusal(struct eca_metrics *m, int code);
void eca_metrics_verdict(struct eca_metrics *m, int code);
void eca_metrics_handshake(struct eca_metrics *m, enum eca_metrics_listener l,
    int ok);
void eca_metrics_signin(struct eca_metrics *m, enum eca_metrics_signin s);

/* Reverse connection requests by result (the broker's). */
enum eca_metrics_reverse {
	ECA_METRICS_REVERSE_OK,
	ECA_METRICS_REVERSE_OFFLINE,
	ECA_METRICS_REVERSE_RATE_LIMITED,
	ECA_METRICS_REVERSE_REFUSED,
	ECA_METRICS_NREVERSE
};

/* A NAT host's broker session with one primary. */
struct eca_metrics_nat {
	const char *primary;
	int online;	     /* registered, heartbeats answered */
	uint64_t reconnects; /* sessions lost since ecad started */
};

/* A CA's CRL, by its issuer (RFC 2253) and the file name hash. */
struct eca_metrics_crl {
	const char *issuer;
	const char *hash;
	int64_t last_update; /* unix seconds */
};

/* One primary this host enrolls with and syncs the roster of. */
struct eca_metrics_domain {
	const char *primary;
	int64_t version;   /* the roster's registry version */
	int64_t synced_at; /* last complete sync, 0 never */
	/* This host's own enrollment: one of eca_metrics_own_states. */
	const char *state;
};

/*
 * The states eca_enrollment_state shows: the registry's (as the roster
 * carries this host's record, lower case), "other_certificate" (the
 * record holds another certificate than this host's), "not_enrolled"
 * (no record), "unknown" (no roster yet).  NULL-terminated.
 */
extern const char *const eca_metrics_own_states[];

/* What is read at scrape time.  Unset parts are left out. */
struct eca_metrics_gauges {
	const char *role;    /* "primary", "media", "client" */
	const char *version; /* eca's version */
	int64_t now;	     /* unix seconds */
	/* Primary: the registry (have_registry 0: it could not be read). */
	int have_registry;
	int64_t states[(int)ECA_STATE_REVOKED + 1];
	int64_t expiring; /* ENROLLED, notAfter within 30 days */
	int64_t registry_version;
	int have_writer;
	size_t writer_depth;
	int64_t open_connections; /* API TLS connections now */
	const struct eca_metrics_crl *crls;
	size_t ncrls;
	/* Every role but a primary: its domains. */
	const struct eca_metrics_domain *domains;
	size_t ndomains;
	int64_t peer_open; /* peer listener connections now, -1 none */
	/* Primary: the broker for NAT hosts (have_broker 0: none runs). */
	int have_broker;
	int64_t broker_online;		  /* sessions online now */
	uint64_t broker_registrations[2]; /* accepted, refused */
	uint64_t broker_reverse[ECA_METRICS_NREVERSE];
	/* Its relay between NAT hosts (docs/nat.md, "Relay"). */
	uint64_t relay_pairs;	/* pairs made */
	int64_t relay_open;	/* pairs copying now */
	uint64_t relay_refused; /* requests refused */
	uint64_t relay_budget;	/* pairs closed by the byte or time budget */
	uint64_t relay_bytes;	/* copied, both ways, by closed pairs */
	/* Primary: the console (have_console 0: none runs). */
	int have_console;
	int64_t console_sessions; /* signed in now */
	/* NAT host: its broker sessions, one per primary. */
	const struct eca_metrics_nat *nat;
	size_t nnat;
};

/* Days ahead that eca_certificates_expiring looks. */
#define ECA_METRICS_EXPIRY_DAYS 30

/*
 * The whole exposition of m and g, in *out (NUL-terminated, caller
 * frees) of *len bytes.  ECA_ERR_NOMEM, or ECA_ERR_INTERNAL for a bad
 * name (a bug).
 */
int eca_metrics_write(const struct eca_metrics *m,
    const struct eca_metrics_gauges *g, char **out, size_t *len,
    struct eca_err *err) ECA_WUR;

/*
 * The writer's parts, for other exporters and the unit test.  A family is
 * its "# HELP" (help escaped: backslash, line feed) and "# TYPE" lines;
 * a sample is NAME{L="V",...} VALUE with each label value escaped
 * (backslash, double quote, line feed).  Names must match
 * [a-zA-Z_:][a-zA-Z0-9_:]* (labels: no ':', no leading "__"): else
 * ECA_ERR_INTERNAL and nothing is written.
 */
struct eca_label {
	const char *name;
	const char *value;
};
int eca_prom_family(FILE *f, const char *name, const char *type,
    const char *help, struct eca_err *err) ECA_WUR;
int eca_prom_sample(FILE *f, const char *name, const struct eca_label *labels,
    size_t nlabels, double value, struct eca_err *err) ECA_WUR;
/* h as NAME_bucket{le=...} (cumulative, +Inf last), NAME_sum, NAME_count. */
int eca_prom_hist(FILE *f, const char *name, const char *help,
    const struct eca_hist *h, struct eca_err *err) ECA_WUR;
/* Escape a label value into buf (len bytes): 0, or -1 when it does not fit. */
int eca_prom_escape_label(const char *in, char *buf, size_t len);

#endif
