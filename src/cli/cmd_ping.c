/* SPDX-License-Identifier: ISC */
/*
 * cmd_ping.c - `eca ping HOST [--purpose P]`: open a verified channel to a
 * peer host, the way every host-to-host communication does it
 * (eca_channel_open: auto-enrollment included), report each step with its
 * time, then the verdict with its reason and remedy.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "channel.h"
#include "cli.h"
#include "crl.h"
#include "host.h"
#include "output.h"
#include "util.h"

/* Bytes moved by the bulk services' one transfer: small, it is a ping. */
#define PING_BULK_BYTES (64 * 1024)

struct ping_result {
	const char *peer;
	enum eca_purpose purpose;
	struct eca_channel_steps steps;
	int roster_refreshed; /* a roster sync ran during the open */
	int reverse;	      /* --reverse: the peer is a NAT host */
	int reversed;	      /* reached by a reverse connection */
	int code;	      /* 0 accepted, else the refusal */
	struct eca_err err;
	int64_t service_us; /* -1 not reached */
	int service_code;
	struct eca_err service_err;
};

static int64_t
domain_syncs(struct eca_domain *d)
{
	int64_t n;

	pthread_mutex_lock(&d->lock);
	n = d->sync_count;
	pthread_mutex_unlock(&d->lock);
	return n;
}

/* The purpose's service: one echo, or one small bulk transfer. */
static int
run_service(struct eca_channel *ch, enum eca_purpose p, struct eca_err *err)
{
	switch (p) {
	case ECA_PURPOSE_BACKUP:
	case ECA_PURPOSE_REPLICATION:
		return eca_channel_bulk_send(ch, PING_BULK_BYTES, err);
	case ECA_PURPOSE_RESTORE:
		return eca_channel_bulk_receive(ch, PING_BULK_BYTES, err);
	case ECA_PURPOSE_CONSOLE:
	case ECA_PURPOSE_CONTROL:
	case ECA_PURPOSE_PING:
	default:
		return eca_channel_ping(ch, err);
	}
}

static const char *
service_name(enum eca_purpose p)
{
	switch (p) {
	case ECA_PURPOSE_BACKUP:
	case ECA_PURPOSE_REPLICATION:
		return "bulk send of 64 KiB";
	case ECA_PURPOSE_RESTORE:
		return "bulk receive of 64 KiB";
	default:
		return "echo";
	}
}

static json_t *
us_or_null(int64_t us)
{
	return us >= 0 ? json_integer(us) : json_null();
}

static json_t *
str_or_null(const char *s)
{
	return s != NULL && s[0] != '\0' ? json_string(s) : json_null();
}

/*
 * The route's part of "steps": how the peer was reached, and a reverse
 * connection's request to the primary and call back; 0 or NOMEM.
 */
static int
route_json(json_t *steps, const struct ping_result *pr)
{
	const struct eca_channel_steps *s = &pr->steps;
	json_t *j;

	j = json_pack("{s:s, s:b, s:o, s:o, s:o, s:o}", "route",
	    eca_channel_route_name(s->route), "fell_back", s->fell_back != 0,
	    "direct_us", us_or_null(s->direct_us), "direct_error",
	    str_or_null(s->direct_error), "request_us",
	    us_or_null(s->request_us), "callback_us",
	    us_or_null(s->callback_us));
	if (j == NULL || json_object_update(steps, j) != 0) {
		json_decref(j);
		return ECA_ERR_NOMEM;
	}
	json_decref(j);
	return 0;
}

static int
print_json(const struct ping_result *pr)
{
	const struct eca_channel_steps *s = &pr->steps;
	json_t *top = NULL, *steps, *verdict, *service;
	int r = ECA_ERR_NOMEM;

	steps = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
			  "s:o, s:b, s:o, s:b, s:o}",
	    "address", str_or_null(s->address), "resolve_us",
	    us_or_null(s->resolve_us), "tcp_us", us_or_null(s->tcp_us),
	    "tls_us", us_or_null(s->tls_us), "tls_version",
	    str_or_null(s->tls_version), "cipher", str_or_null(s->cipher),
	    "identity_us", us_or_null(s->identity_us), "peer_subject",
	    str_or_null(s->peer.subject), "peer_fingerprint",
	    str_or_null(s->peer.fingerprint), "enroll_check_us",
	    us_or_null(s->enroll_check_us), "autoenroll_us",
	    us_or_null(s->autoenroll_us), "roster_refreshed",
	    pr->roster_refreshed, "service_us", us_or_null(pr->service_us),
	    "autoenrolled", s->autoenrolled != 0, "total_us",
	    us_or_null(s->total_us));
	verdict = json_pack("{s:b, s:o, s:s}", "accept", pr->code == 0, "code",
	    pr->code == 0 ? json_null() : json_string(eca_err_name(pr->code)),
	    "message", pr->code == 0 ? "" : pr->err.msg);
	/* null when the channel was refused and the service not reached. */
	service = pr->code != 0 ?
	    json_null() :
	    json_pack("{s:s, s:b, s:o, s:o}", "name", service_name(pr->purpose),
		"ok", pr->service_code == 0, "code",
		pr->service_code == 0 ?
		    json_null() :
		    json_string(eca_err_name(pr->service_code)),
		"message",
		pr->service_code == 0 ? json_null() :
					json_string(pr->service_err.msg));
	if (steps == NULL || verdict == NULL || service == NULL ||
	    route_json(steps, pr) != 0) {
		json_decref(steps);
		json_decref(verdict);
		json_decref(service);
		goto out;
	}
	top = json_pack("{s:s, s:s, s:o, s:o, s:b, s:o, s:o, s:b}", "peer",
	    pr->peer, "purpose", eca_purpose_name(pr->purpose), "primary",
	    str_or_null(s->primary), "steps", steps, "autoenrolled",
	    s->autoenrolled != 0, "verdict", verdict, "service", service,
	    "reverse", pr->reversed != 0);
	if (top == NULL)
		goto out;
	r = 0;
out:
	return out_json_end(top, r, "the ping's result");
}

/* One step line: name, what it found, its time ("-" if not reached). */
static void step_line(const char *name, int64_t us, const char *fmt, ...)
    ECA_PRINTF(3, 4);
static void
step_line(const char *name, int64_t us, const char *fmt, ...)
{
	char what[ECA_DN_MAX + 256], t[32];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (us >= 0)
		snprintf(t, sizeof(t), "%.3f ms", (double)us / 1000.0);
	else
		snprintf(t, sizeof(t), "-");
	printf("  %-15s %10s  %s\n", name, t, what);
}

/*
 * A reverse connection's steps (docs/nat.md): the direct try when it came
 * first, the request to the primary, the NAT host's call back.
 */
static void
print_reverse(const struct eca_config *cfg, const struct ping_result *pr)
{
	const struct eca_channel_steps *s = &pr->steps;
	const struct eca_endpoint *ep = eca_config_server(cfg, NULL);
	const char *primary = ep != NULL ? ep->name : "-";

	if (s->fell_back)
		step_line("direct", s->direct_us, "failed: %s",
		    s->direct_error);
	if (s->request_us >= 0)
		step_line("request", s->request_us,
		    "asked primary %s to have %s call back", primary, pr->peer);
	else
		step_line("request", -1, "primary %s did not take the request",
		    primary);
	if (strstr(s->address, "(reverse)") != NULL)
		step_line("reverse connect", s->callback_us,
		    "%s called back from %s", pr->peer, s->address);
	else
		step_line("reverse connect", s->callback_us, "%s",
		    s->callback_us < 0 ? "(not reached)" : "no call back");
}

static void
print_text(const struct eca_config *cfg, const struct ping_result *pr)
{
	const struct eca_channel_steps *s = &pr->steps;

	printf("ping %s from %s, purpose %s, route %s%s\n", pr->peer,
	    cfg->client_name, eca_purpose_name(pr->purpose),
	    eca_channel_route_name(s->route),
	    pr->reversed ? ": a reverse connection through the primary" : "");
	if (pr->reversed)
		print_reverse(cfg, pr);
	else {
		step_line("resolution", s->resolve_us, "%s",
		    s->address[0] != '\0' ? s->address : "(not resolved)");
		step_line("TCP", s->tcp_us, "%s",
		    s->tcp_us < 0 ? "(not connected)" : "connected");
	}
	step_line("TLS", s->tls_us, "%s%s%s",
	    s->tls_version[0] != '\0' ? s->tls_version : "(no handshake)",
	    s->cipher[0] != '\0' ? ", " : "", s->cipher);
	if (s->peer.fingerprint[0] != '\0')
		step_line("peer identity", s->identity_us, "%s, fingerprint %s",
		    s->peer.subject[0] != '\0' ? s->peer.subject :
						 "(no subject)",
		    s->peer.fingerprint);
	else
		step_line("peer identity", s->identity_us, "%s",
		    s->identity_us >= 0 ? "HELLO received" : "(not reached)");
	if (s->enroll_check_us >= 0)
		step_line("enrollment", s->enroll_check_us,
		    "primary %s, roster %s",
		    s->primary[0] != '\0' ? s->primary : "-",
		    pr->roster_refreshed ? "refreshed from the primary" :
					   "hit (no call to the primary)");
	else
		step_line("enrollment", -1, "primary %s (not checked)",
		    s->primary[0] != '\0' ? s->primary : "-");
	if (s->autoenrolled)
		step_line("auto-enrollment", s->autoenroll_us,
		    "%s enrolled with %s", cfg->client_name, s->primary);
	else if (s->autoenroll_us >= 0)
		step_line("auto-enrollment", s->autoenroll_us,
		    "attempted, "
		    "failed");
	else
		step_line("auto-enrollment", -1, "none");
	if (pr->code == 0)
		step_line("service", pr->service_us, "%s: %s",
		    service_name(pr->purpose),
		    pr->service_code == 0 ? "ok" : pr->service_err.msg);
	if (pr->code == 0)
		printf("verdict: ACCEPTED (total %.3f ms)\n",
		    (double)s->total_us / 1000.0);
	else
		printf("verdict: REFUSED %s: %s\n", eca_err_name(pr->code),
		    pr->err.msg);
}

/* HOST in its canonical form and --purpose; 0 or the usage error. */
static int
ping_args(struct cli *cli, const struct cli_args *a, char *peer, size_t len,
    struct ping_result *pr)
{
	struct eca_err e;
	const char *pname;
	int p;

	memset(pr, 0, sizeof(*pr));
	/* The peer by its canonical name, as channels and rosters know it. */
	eca_err_clear(&e);
	if (eca_hostname_canon(a->pos[0], peer, len, &e) != 0)
		return cli_usage(cli, "%s", e.msg);
	pr->peer = peer;
	pr->purpose = ECA_PURPOSE_PING;
	pr->service_us = -1;
	pr->reverse = cli_opt(a, "--reverse") != NULL;
	if ((pname = cli_opt(a, "--purpose")) != NULL) {
		if ((p = eca_purpose_from_name(pname)) == ECA_PURPOSE_ENROLL)
			return cli_usage(cli,
			    "purpose enroll is remote enrollment: run `eca "
			    "enroll --remote-host %s` on its primary",
			    peer);
		if (p < 0)
			return cli_usage(cli,
			    "unknown purpose '%s' (backup, "
			    "restore, replication, console, control or ping)",
			    pname);
		pr->purpose = (enum eca_purpose)p;
	}
	return 0;
}

/*
 * This host as every communication sees it, with its CRL cache (*crls,
 * NULL when CRL checks are off).  0 or the exit code (printed).
 */
static int
ping_host(struct cli *cli, struct eca_host **h, struct eca_crl_cache **crls)
{
	struct eca_err e;
	int r;

	*crls = NULL;
	if ((r = cli_config(cli)) != 0 ||
	    (r = cli_host(cli, "cannot set up this host's channels", h)) != 0)
		return r;
	/*
	 * Keep what this ping learnt from the primary in STATE_DIR (an
	 * atomic replace, as ecad does), so the next communication from
	 * this host finds the peer without a call to the primary.
	 */
	(*h)->persist_rosters = 1;
	/*
	 * The client side judges the peer's certificate against this host's
	 * CRL cache (STATE_DIR/crl), as ecad's peer listener does on the
	 * other side; without a cache, the check fails closed by itself.
	 */
	if (cli->cfg->crl_check != ECA_CRL_DISABLE) {
		eca_err_clear(&e);
		if ((r = eca_crl_cache_open(NULL, cli->cfg, crls, &e)) != 0)
			return out_error(cli->json, r, "%s", e.msg);
		(*h)->policy.crls = *crls;
	}
	return 0;
}

/*
 * Open the channel (*ch, NULL when refused) and, when accepted, run the
 * purpose's service on it, timing each; whether a roster sync ran.
 */
static void
ping_run(struct eca_host *h, struct ping_result *pr, struct eca_channel **ch)
{
	int64_t before[ECA_MAX_SERVERS], t;
	size_t i;

	for (i = 0; i < h->ndomains && i < ECA_MAX_SERVERS; i++)
		before[i] = domain_syncs(&h->domains[i]);
	eca_err_clear(&pr->err);
	pr->code = pr->reverse ?
	    eca_channel_open_reverse(h, pr->peer, pr->purpose, CLI_TIMEOUT_MS,
		ch, &pr->steps, &pr->err) :
	    eca_channel_open(h, pr->peer, pr->purpose, CLI_TIMEOUT_MS, ch,
		&pr->steps, &pr->err);
	if (pr->code != 0)
		*ch = NULL;
	pr->reversed =
	    pr->steps.route == ECA_ROUTE_REVERSE || pr->steps.fell_back;
	for (i = 0; i < h->ndomains && i < ECA_MAX_SERVERS; i++)
		if (domain_syncs(&h->domains[i]) != before[i])
			pr->roster_refreshed = 1;
	if (pr->code == 0) {
		eca_err_clear(&pr->service_err);
		t = eca_util_mono_us();
		pr->service_code =
		    run_service(*ch, pr->purpose, &pr->service_err);
		pr->service_us = eca_util_mono_us() - t;
	}
}

/* The steps and the verdict, then the exit code. */
static int
ping_report(struct cli *cli, const struct ping_result *pr)
{
	int r;

	if (cli->json) {
		if ((r = print_json(pr)) != 0)
			return r;
	} else
		print_text(cli->cfg, pr);
	/* The verdict line says it on stdout; stderr gets it too. */
	if (pr->code != 0)
		return out_error(0, pr->code, "ping %s: %s [%s]", pr->peer,
		    pr->err.msg, eca_err_name(pr->code));
	if (pr->service_code != 0)
		return out_error(0, pr->service_code,
		    "ping %s: the %s service "
		    "failed: %s",
		    pr->peer, eca_purpose_name(pr->purpose),
		    pr->service_err.msg);
	return ECA_EXIT_OK;
}

int
cmd_ping(struct cli *cli, const struct cli_args *a)
{
	struct eca_host *h = NULL;
	struct eca_channel *ch = NULL;
	struct eca_crl_cache *crls = NULL;
	struct ping_result pr;
	char peer[ECA_HOST_MAX];
	int r;

	if ((r = ping_args(cli, a, peer, sizeof(peer), &pr)) != 0)
		return r;
	if ((r = ping_host(cli, &h, &crls)) == 0) {
		ping_run(h, &pr, &ch);
		r = ping_report(cli, &pr);
	}
	eca_channel_close(ch);
	eca_host_free(h);
	eca_crl_cache_free(crls);
	return r;
}
