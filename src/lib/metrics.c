/* SPDX-License-Identifier: ISC */
/*
 * metrics.c - ecad's counters and the Prometheus text exposition writer
 * (metrics.h, docs/metrics.md).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

/* Commit latency buckets: 1 ms to 10 s (a group commit is an fsync). */
static const uint64_t commit_bounds_us[] = {1000, 2500, 5000, 10000, 25000,
    50000, 100000, 250000, 500000, 1000000, 2500000, 10000000};

int
eca_hist_init(struct eca_hist *h, const uint64_t *bounds_us, size_t nbounds,
    struct eca_err *err)
{
	size_t i;

	memset(h, 0, sizeof(*h));
	if (nbounds > ECA_HIST_MAX || (nbounds > 0 && bounds_us == NULL))
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "a histogram has at most %d buckets (a bug)", ECA_HIST_MAX);
	for (i = 1; i < nbounds; i++)
		if (bounds_us[i] <= bounds_us[i - 1])
			return eca_err_set(err, ECA_ERR_INTERNAL,
			    "histogram bounds must increase (a bug)");
	h->bounds_us = bounds_us;
	h->nbounds = nbounds;
	return 0;
}

void
eca_hist_observe(struct eca_hist *h, uint64_t us)
{
	size_t i = 0;

	while (i < h->nbounds && us > h->bounds_us[i])
		i++;
	atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_us, us, memory_order_relaxed);
}

void
eca_metrics_init(struct eca_metrics *m)
{
	memset(m, 0, sizeof(*m));
	/* The bounds are this file's: they cannot be refused. */
	(void)!eca_hist_init(&m->commit, commit_bounds_us,
	    sizeof(commit_bounds_us) / sizeof(commit_bounds_us[0]), NULL);
}

static void
bump(atomic_ullong *a)
{
	atomic_fetch_add_explicit(a, 1, memory_order_relaxed);
}

/* A reason code's index in a by-code array, or -1. */
static long
code_index(int code)
{
	if (code == 0)
		return 0;
	if (code <= ECA_ERR_FIRST_ || code >= ECA_ERR_LAST_)
		return -1;
	return (long)(code - ECA_ERR_FIRST_);
}

void
eca_metrics_enroll(struct eca_metrics *m, enum eca_enroll_outcome o)
{
	if ((size_t)o < ECA_METRICS_NOUTCOMES && o != ECA_OUTCOME_NONE)
		bump(&m->enroll[o]);
}

void
eca_metrics_refusal(struct eca_metrics *m, int code)
{
	long i = code_index(code);

	if (i > 0)
		bump(&m->refusals[i]);
}

void
eca_metrics_verdict(struct eca_metrics *m, int code)
{
	long i = code_index(code);

	if (i >= 0)
		bump(&m->verdicts[i]);
}

void
eca_metrics_handshake(struct eca_metrics *m, enum eca_metrics_listener l,
    int ok)
{
	if ((unsigned)l < ECA_METRICS_NLISTENERS)
		bump(&m->handshakes[l][ok ? 0 : 1]);
}

void
eca_metrics_signin(struct eca_metrics *m, enum eca_metrics_signin s)
{
	if ((unsigned)s < ECA_METRICS_NSIGNIN)
		bump(&m->signins[s]);
}

/* ------------------------------------------------------------------ */
/* The text format.                                                    */

static int
name_ok(const char *s, int label)
{
	size_t i;

	if (s == NULL || s[0] == '\0' || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	if (label && strncmp(s, "__", 2) == 0)
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || (!label && c == ':');
		if (!ok)
			return 0;
	}
	return 1;
}

int
eca_prom_escape_label(const char *in, char *buf, size_t len)
{
	size_t o = 0;
	const char *p;

	if (len == 0)
		return -1;
	for (p = in != NULL ? in : ""; *p != '\0'; p++) {
		const char *rep = NULL;
		if (*p == '\\')
			rep = "\\\\";
		else if (*p == '"')
			rep = "\\\"";
		else if (*p == '\n')
			rep = "\\n";
		if (o + (rep != NULL ? 2 : 1) >= len) {
			buf[0] = '\0';
			return -1;
		}
		if (rep != NULL) {
			memcpy(buf + o, rep, 2);
			o += 2;
		} else
			buf[o++] = *p;
	}
	buf[o] = '\0';
	return 0;
}

int
eca_prom_family(FILE *f, const char *name, const char *type, const char *help,
    struct eca_err *err)
{
	const char *p;

	if (!name_ok(name, 0) || type == NULL ||
	    (strcmp(type, "counter") != 0 && strcmp(type, "gauge") != 0 &&
		strcmp(type, "histogram") != 0 && strcmp(type, "untyped") != 0))
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "metric family %.64s of type %.16s is not valid (a bug)",
		    name != NULL ? name : "(null)",
		    type != NULL ? type : "(null)");
	fprintf(f, "# HELP %s ", name);
	for (p = help != NULL ? help : ""; *p != '\0'; p++) {
		if (*p == '\\')
			fputs("\\\\", f);
		else if (*p == '\n')
			fputs("\\n", f);
		else
			fputc(*p, f);
	}
	fprintf(f, "\n# TYPE %s %s\n", name, type);
	return 0;
}

static void
put_value(FILE *f, double v)
{
	if (isnan(v))
		fputs("NaN", f);
	else if (isinf(v))
		fputs(v > 0 ? "+Inf" : "-Inf", f);
	else if (v == floor(v) && fabs(v) < 9007199254740992.0)
		fprintf(f, "%.0f", v);
	else
		fprintf(f, "%.15g", v);
}

int
eca_prom_sample(FILE *f, const char *name, const struct eca_label *labels,
    size_t nlabels, double value, struct eca_err *err)
{
	char esc[1024];
	size_t i;

	if (!name_ok(name, 0))
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "metric name %.64s is not valid (a bug)",
		    name != NULL ? name : "(null)");
	for (i = 0; i < nlabels; i++)
		if (!name_ok(labels[i].name, 1))
			return eca_err_set(err, ECA_ERR_INTERNAL,
			    "label name %.64s of %s is not valid (a bug)",
			    labels[i].name != NULL ? labels[i].name : "(null)",
			    name);
	fputs(name, f);
	for (i = 0; i < nlabels; i++) {
		/* Too long a value is cut, never left unescaped. */
		(void)eca_prom_escape_label(labels[i].value, esc, sizeof(esc));
		fprintf(f, "%s%s=\"%s\"", i == 0 ? "{" : ",", labels[i].name,
		    esc);
	}
	fputs(nlabels > 0 ? "} " : " ", f);
	put_value(f, value);
	fputc('\n', f);
	return 0;
}

int
eca_prom_hist(FILE *f, const char *name, const char *help,
    const struct eca_hist *h, struct eca_err *err)
{
	char sub[128], le[32];
	struct eca_label l = {"le", le};
	unsigned long long cum = 0;
	size_t i;
	int r;

	if (strlen(name) > 100)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "histogram name too long (a bug)");
	if ((r = eca_prom_family(f, name, "histogram", help, err)) != 0)
		return r;
	snprintf(sub, sizeof(sub), "%s_bucket", name);
	for (i = 0; i <= h->nbounds; i++) {
		cum +=
		    atomic_load_explicit(&(h)->counts[i], memory_order_relaxed);
		if (i < h->nbounds)
			snprintf(le, sizeof(le), "%g",
			    (double)h->bounds_us[i] / 1e6);
		else
			snprintf(le, sizeof(le), "+Inf");
		if ((r = eca_prom_sample(f, sub, &l, 1, (double)cum, err)) != 0)
			return r;
	}
	snprintf(sub, sizeof(sub), "%s_sum", name);
	if ((r = eca_prom_sample(f, sub, NULL, 0,
		 (double)atomic_load(&h->sum_us) / 1e6, err)) != 0)
		return r;
	/*
	 * _count is the +Inf bucket's count, so the two always agree even
	 * when an observation lands between the loads.
	 */
	snprintf(sub, sizeof(sub), "%s_count", name);
	return eca_prom_sample(f, sub, NULL, 0, (double)cum, err);
}

/* ------------------------------------------------------------------ */
/* The exposition of eca_metrics_write.                                */

/* One counter family, a sample per index with its label value. */
static int
by_label(FILE *f, const char *name, const char *help, const char *label,
    const atomic_ullong *v, size_t n, const char *(*value)(size_t),
    struct eca_err *err)
{
	struct eca_label l = {label, NULL};
	size_t i;
	int r;

	if ((r = eca_prom_family(f, name, "counter", help, err)) != 0)
		return r;
	for (i = 0; i < n; i++) {
		if ((l.value = value(i)) == NULL)
			continue;
		if ((r = eca_prom_sample(f, name, &l, 1,
			 (double)atomic_load(&v[i]), err)) != 0)
			return r;
	}
	return 0;
}

/* No sample for NONE, nor for NAT (the broker's, not an enrollment's). */
static const char *
outcome_at(size_t i)
{
	return i == ECA_OUTCOME_NONE || i == ECA_OUTCOME_NAT ?
	    NULL :
	    eca_outcome_name((enum eca_enroll_outcome)i);
}

/* Every reason but WOULD_WAIT, which is never a verdict nor an answer. */
static const char *
reason_at(size_t i)
{
	int code = i == 0 ? 0 : (int)i + ECA_ERR_FIRST_;

	return code == ECA_ERR_WOULD_WAIT ? NULL : eca_err_name(code);
}

static const char *
refusal_at(size_t i)
{
	return i == 0 ? NULL : reason_at(i);
}

static int
one(FILE *f, const char *name, const char *type, const char *help, double v,
    struct eca_err *err)
{
	int r;

	if ((r = eca_prom_family(f, name, type, help, err)) != 0)
		return r;
	return eca_prom_sample(f, name, NULL, 0, v, err);
}

/* The API listener's only on a primary, which alone has one. */
static int
write_handshakes(FILE *f, const struct eca_metrics *m, int primary,
    struct eca_err *err)
{
	static const char *const lname[] = {"api", "peer"};
	static const char *const rname[] = {"ok", "failed"};
	struct eca_label l[2] = {{"listener", NULL}, {"result", NULL}};
	const char *name = "eca_tls_handshakes_total";
	size_t i, j;
	int r;

	if ((r = eca_prom_family(f, name, "counter",
		 "TLS handshakes by listener and result", err)) != 0)
		return r;
	for (i = primary ? 0 : ECA_METRICS_PEER; i < ECA_METRICS_NLISTENERS;
	     i++)
		for (j = 0; j < 2; j++) {
			l[0].value = lname[i];
			l[1].value = rname[j];
			if ((r = eca_prom_sample(f, name, l, 2,
				 (double)atomic_load(&m->handshakes[i][j]),
				 err)) != 0)
				return r;
		}
	return 0;
}

/* The counters every role has. */
static int
write_common(FILE *f, const struct eca_metrics *m,
    const struct eca_metrics_gauges *g, struct eca_err *err)
{
	struct eca_label bl[2] = {{"version", g->version}, {"role", g->role}};
	int r, primary = g->role != NULL && strcmp(g->role, "primary") == 0;

	if ((r = eca_prom_family(f, "eca_build_info", "gauge",
		 "eca's version and this host's role (always 1)", err)) != 0 ||
	    (r = eca_prom_sample(f, "eca_build_info", bl, 2, 1, err)) != 0 ||
	    (r = write_handshakes(f, m, primary, err)) != 0 ||
	    (r = one(f, "eca_busy_replies_total", "counter",
		 "429 BUSY replies (storm control)",
		 (double)atomic_load(&m->busy), err)) != 0 ||
	    (r = by_label(f, "eca_channel_verdicts_total",
		 "Verdicts on peers' channels by reason (OK: accepted)",
		 "reason", m->verdicts, ECA_METRICS_NCODES, reason_at, err)) !=
		0 ||
	    (r = one(f, "eca_peer_connections_total", "counter",
		 "Connections accepted by the peer listener",
		 (double)atomic_load(&m->peer_connections), err)) != 0)
		return r;
	if (g->peer_open >= 0)
		r = one(f, "eca_peer_connections_open", "gauge",
		    "Peer listener connections open now", (double)g->peer_open,
		    err);
	return r;
}

static int
write_states(FILE *f, const struct eca_metrics_gauges *g, struct eca_err *err)
{
	struct eca_label l = {"state", NULL};
	int i, r;

	if ((r = eca_prom_family(f, "eca_hosts", "gauge",
		 "Hosts in the registry by state", err)) != 0)
		return r;
	for (i = 0; i <= (int)ECA_STATE_REVOKED; i++) {
		l.value = eca_state_name((enum eca_state)i);
		if ((r = eca_prom_sample(f, "eca_hosts", &l, 1,
			 (double)g->states[i], err)) != 0)
			return r;
	}
	if ((r = one(f, "eca_conflicts_waiting", "gauge",
		 "Hosts whose new key waits for an administrator (CONFLICT)",
		 (double)g->states[ECA_STATE_CONFLICT], err)) != 0 ||
	    (r = one(f, "eca_certificates_expiring", "gauge",
		 "Enrolled certificates that expire within 30 days",
		 (double)g->expiring, err)) != 0)
		return r;
	return one(f, "eca_registry_version", "gauge",
	    "The registry's version (the roster's latest change)",
	    (double)g->registry_version, err);
}

static int
write_crls(FILE *f, const struct eca_metrics_gauges *g, struct eca_err *err)
{
	struct eca_label l[2] = {{"issuer", NULL}, {"hash", NULL}};
	size_t i;
	int r;

	if ((r = eca_prom_family(f, "eca_crl_age_seconds", "gauge",
		 "Seconds since the cached CRL of a CA was issued "
		 "(its lastUpdate)",
		 err)) != 0)
		return r;
	for (i = 0; i < g->ncrls; i++) {
		l[0].value = g->crls[i].issuer;
		l[1].value = g->crls[i].hash;
		if ((r = eca_prom_sample(f, "eca_crl_age_seconds", l, 2,
			 (double)(g->now - g->crls[i].last_update), err)) != 0)
			return r;
	}
	return 0;
}

/* The primary's: its API, its writer, its registry. */
static int
write_primary(FILE *f, const struct eca_metrics *m,
    const struct eca_metrics_gauges *g, struct eca_err *err)
{
	int r;

	if ((r = by_label(f, "eca_enrollments_total",
		 "Enrollment decisions of this primary by outcome", "outcome",
		 m->enroll, ECA_METRICS_NOUTCOMES, outcome_at, err)) != 0 ||
	    (r = by_label(f, "eca_refusals_total",
		 "Refused API calls by reason", "reason", m->refusals,
		 ECA_METRICS_NCODES, refusal_at, err)) != 0 ||
	    (r = eca_prom_hist(f, "eca_commit_duration_seconds",
		 "Durable group commits of the registry writer", &m->commit,
		 err)) != 0 ||
	    (r = one(f, "eca_api_connections_open", "gauge",
		 "API TLS connections open now", (double)g->open_connections,
		 err)) != 0)
		return r;
	if (g->have_writer &&
	    (r = one(f, "eca_writer_queue_depth", "gauge",
		 "Registry changes queued and not yet committed",
		 (double)g->writer_depth, err)) != 0)
		return r;
	if (g->have_registry && (r = write_states(f, g, err)) != 0)
		return r;
	return write_crls(f, g, err);
}

/* The broker's relay between NAT hosts: pairs, bytes, budget closes. */
static int
write_relay(FILE *f, const struct eca_metrics_gauges *g, struct eca_err *err)
{
	int r;

	if ((r = one(f, "eca_relay_pairs_total", "counter",
		 "Relay pairs made between two NAT hosts",
		 (double)g->relay_pairs, err)) != 0 ||
	    (r = one(f, "eca_relay_pairs_open", "gauge",
		 "Relay pairs copying now", (double)g->relay_open, err)) != 0 ||
	    (r = one(f, "eca_relay_refused_total", "counter",
		 "Relay requests refused", (double)g->relay_refused, err)) !=
		0 ||
	    (r = one(f, "eca_relay_budget_closes_total", "counter",
		 "Relay pairs closed by the byte or time budget",
		 (double)g->relay_budget, err)) != 0)
		return r;
	return one(f, "eca_relay_bytes_total", "counter",
	    "Bytes the relay copied, both ways, by pairs now closed",
	    (double)g->relay_bytes, err);
}

/* The broker's sessions, registrations, reverse connections, relay. */
static int
write_broker(FILE *f, const struct eca_metrics_gauges *g, struct eca_err *err)
{
	static const char *const reg[] = {"ok", "refused"};
	static const char *const rev[] = {"ok", "offline", "rate_limited",
	    "refused"};
	struct eca_label l = {"result", NULL};
	size_t i;
	int r;

	if ((r = one(f, "eca_broker_sessions_online", "gauge",
		 "NAT hosts holding a broker session with this primary now",
		 (double)g->broker_online, err)) != 0 ||
	    (r = eca_prom_family(f, "eca_broker_registrations_total", "counter",
		 "Broker registrations of NAT hosts by result", err)) != 0)
		return r;
	for (i = 0; i < 2; i++) {
		l.value = reg[i];
		if ((r = eca_prom_sample(f, "eca_broker_registrations_total",
			 &l, 1, (double)g->broker_registrations[i], err)) != 0)
			return r;
	}
	if ((r = eca_prom_family(f, "eca_broker_reverse_requests_total",
		 "counter", "Reverse connection requests by result", err)) != 0)
		return r;
	for (i = 0; i < ECA_METRICS_NREVERSE; i++) {
		l.value = rev[i];
		if ((r = eca_prom_sample(f, "eca_broker_reverse_requests_total",
			 &l, 1, (double)g->broker_reverse[i], err)) != 0)
			return r;
	}
	return write_relay(f, g, err);
}

static const char *
signin_at(size_t i)
{
	static const char *const names[] = {"ok", "refused", "rate_limited"};

	return i < ECA_METRICS_NSIGNIN ? names[i] : NULL;
}

/* The console's sign-ins and sessions. */
static int
write_console(FILE *f, const struct eca_metrics *m,
    const struct eca_metrics_gauges *g, struct eca_err *err)
{
	int r;

	if ((r = by_label(f, "eca_console_signins_total",
		 "Console sign-ins by result", "result", m->signins,
		 ECA_METRICS_NSIGNIN, signin_at, err)) != 0)
		return r;
	return one(f, "eca_console_sessions_open", "gauge",
	    "Console sessions signed in now", (double)g->console_sessions, err);
}

/* A NAT host's broker sessions: state and reconnects per primary. */
static int
write_nat(FILE *f, const struct eca_metrics_gauges *g, struct eca_err *err)
{
	struct eca_label l = {"primary", NULL};
	size_t i;
	int r;

	if ((r = eca_prom_family(f, "eca_broker_session_up", "gauge",
		 "This NAT host's broker session with a primary (1: online)",
		 err)) != 0)
		return r;
	for (i = 0; i < g->nnat; i++) {
		l.value = g->nat[i].primary;
		if ((r = eca_prom_sample(f, "eca_broker_session_up", &l, 1,
			 g->nat[i].online ? 1 : 0, err)) != 0)
			return r;
	}
	if ((r = eca_prom_family(f, "eca_broker_reconnects_total", "counter",
		 "Broker sessions of this NAT host lost (and opened again)",
		 err)) != 0)
		return r;
	for (i = 0; i < g->nnat; i++) {
		l.value = g->nat[i].primary;
		if ((r = eca_prom_sample(f, "eca_broker_reconnects_total", &l,
			 1, (double)g->nat[i].reconnects, err)) != 0)
			return r;
	}
	return 0;
}

const char *const eca_metrics_own_states[] = {"enrolled", "conflict", "removed",
    "banned", "revoked", "other_certificate", "not_enrolled", "unknown", NULL};

/* eca_enrollment_state: 1 for the state each domain is in, 0 for others. */
static int
write_own_states(FILE *f, const struct eca_metrics_gauges *g,
    struct eca_err *err)
{
	struct eca_label l[2] = {{"primary", NULL}, {"state", NULL}};
	const char *st;
	size_t i, j;
	int r;

	if ((r = eca_prom_family(f, "eca_enrollment_state", "gauge",
		 "This host's own enrollment with a primary, as its roster "
		 "says (1: the state it is in)",
		 err)) != 0)
		return r;
	for (i = 0; i < g->ndomains; i++)
		for (j = 0; (st = eca_metrics_own_states[j]) != NULL; j++) {
			l[0].value = g->domains[i].primary;
			l[1].value = st;
			if ((r = eca_prom_sample(f, "eca_enrollment_state", l,
				 2,
				 g->domains[i].state != NULL &&
				     strcmp(g->domains[i].state, st) == 0,
				 err)) != 0)
				return r;
		}
	return 0;
}

/* Every domain of this host: its roster and its own enrollment. */
static int
write_domains(FILE *f, const struct eca_metrics_gauges *g, struct eca_err *err)
{
	struct eca_label l[1] = {{"primary", NULL}};
	const struct eca_metrics_domain *d;
	size_t i;
	int r;

	if ((r = eca_prom_family(f, "eca_roster_version", "gauge",
		 "Registry version of this host's roster of a primary", err)) !=
	    0)
		return r;
	for (i = 0; i < g->ndomains; i++) {
		l[0].value = g->domains[i].primary;
		if ((r = eca_prom_sample(f, "eca_roster_version", l, 1,
			 (double)g->domains[i].version, err)) != 0)
			return r;
	}
	if ((r = eca_prom_family(f, "eca_roster_sync_age_seconds", "gauge",
		 "Seconds since the last complete roster sync (+Inf: never)",
		 err)) != 0)
		return r;
	for (i = 0; i < g->ndomains; i++) {
		d = &g->domains[i];
		l[0].value = d->primary;
		if ((r = eca_prom_sample(f, "eca_roster_sync_age_seconds", l, 1,
			 d->synced_at > 0 ? (double)(g->now - d->synced_at) :
					    INFINITY,
			 err)) != 0)
			return r;
	}
	return write_own_states(f, g, err);
}

int
eca_metrics_write(const struct eca_metrics *m,
    const struct eca_metrics_gauges *g, char **out, size_t *len,
    struct eca_err *err)
{
	FILE *f;
	int r, primary = g->role != NULL && strcmp(g->role, "primary") == 0;

	*out = NULL;
	*len = 0;
	if ((f = open_memstream(out, len)) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory writing the metrics");
	r = write_common(f, m, g, err);
	if (r == 0 && primary)
		r = write_primary(f, m, g, err);
	if (r == 0 && primary && g->have_broker)
		r = write_broker(f, g, err);
	if (r == 0 && primary && g->have_console)
		r = write_console(f, m, g, err);
	if (r == 0 && g->ndomains > 0)
		r = write_domains(f, g, err);
	if (r == 0 && g->nnat > 0)
		r = write_nat(f, g, err);
	if (ferror(f) && r == 0)
		r = eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory writing the metrics");
	if (fclose(f) != 0 && r == 0)
		r = eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory writing the metrics");
	if (r != 0) {
		free(*out);
		*out = NULL;
		*len = 0;
	}
	return r;
}
