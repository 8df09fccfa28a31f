/* SPDX-License-Identifier: ISC */
/*
 * config_check.c - the last two passes of eca.conf: every keyword the file
 * did not name gets its default through the very setter a line would use
 * (so a default can never be a value the parser would refuse), then the
 * rules about the file as a whole.
 */
#include "config_impl.h"
#include "text.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A derived default: kw->derived with STATE_DIR (without trailing '/'). */
static int
set_derived(struct pstate *ps, const struct keyword *kw)
{
	char val[CONFIG_VALUE_MAX + 1];
	const char *dir;
	size_t dlen;
	int n;

	/* STATE_DIR is earlier in the table: set by now. */
	dir = ps->cfg->state_dir;
	dlen = strlen(dir);
	/* "/srv/eca/" + "/ecad.pid" would double the slash. */
	while (dlen > 0 && dir[dlen - 1] == '/')
		dlen--;
	n = snprintf(val, sizeof(val), kw->derived, (int)dlen, dir);
	if (n < 0 || (size_t)n >= sizeof(val))
		return eca_config_perr(ps,
		    "STATE_DIR is too long to derive %s "
		    "from it; set %s explicitly",
		    kw->name, kw->name);
	return eca_config_set_value(ps, kw, val);
}

int
eca_config_apply_defaults(struct pstate *ps)
{
	const struct keyword *kw;
	size_t i;
	int r;

	ps->line = 0;
	for (i = 0; i < eca_config_nkeywords; i++) {
		kw = &eca_config_keywords[i];
		if (ps->seen[i] != 0)
			continue;
		if (kw->def != NULL)
			r = eca_config_set_value(ps, kw, kw->def);
		else if (kw->derived != NULL)
			r = set_derived(ps, kw);
		else
			r = 0;
		if (r != 0)
			return r;
	}
	return 0;
}

/* " (KEY missing)" for each of the three credential keys that is unset. */
static void
missing_creds(const struct eca_config *cfg, char *buf, size_t size)
{
	eca_text_fmt(buf, size, "%s%s%s",
	    cfg->cert_path == NULL ? " (ECA_CERT_PATH missing)" : "",
	    cfg->key_path == NULL ? " (ECA_PRIVATE_KEY_PATH missing)" : "",
	    cfg->trust_store_path == NULL ? " (ECA_TRUST_STORE_PATH missing)" :
					    "");
}

/*
 * METRICS_LISTEN serves plain HTTP without any authentication: on this
 * machine only.  1 when host is a loopback address or "localhost".
 */
static int
loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (strcmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		    (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return 0;
}

/* Rules about the file as a whole. */
static int
validate(struct pstate *ps)
{
	const struct eca_config *cfg = ps->cfg;
	char missing[128];
	int ncred;

	if (cfg->client_name == NULL)
		return eca_config_perr(ps,
		    "CLIENT_NAME is required (this "
		    "host's name, as its certificate names it)");
	ncred = (cfg->cert_path != NULL) + (cfg->key_path != NULL) +
	    (cfg->trust_store_path != NULL);
	missing_creds(cfg, missing, sizeof(missing));
	if (cfg->role == ECA_ROLE_PRIMARY && ncred != 3)
		return eca_config_perr(ps,
		    "ROLE primary requires "
		    "ECA_CERT_PATH, ECA_PRIVATE_KEY_PATH and "
		    "ECA_TRUST_STORE_PATH%s",
		    missing);
	if ((cfg->console_cert_path == NULL) != (cfg->console_key_path == NULL))
		return eca_config_perr(ps,
		    "CONSOLE_CERT_PATH and CONSOLE_PRIVATE_KEY_PATH must be "
		    "set together or not at all (without them the console "
		    "uses ECA_CERT_PATH)");
	if (ncred != 0 && ncred != 3)
		return eca_config_perr(ps,
		    "ECA_CERT_PATH, "
		    "ECA_PRIVATE_KEY_PATH and ECA_TRUST_STORE_PATH must be "
		    "set together or not at all%s",
		    missing);
	if (cfg->role == ECA_ROLE_PRIMARY &&
	    (cfg->nat_client || cfg->accept_reverse_connection))
		return eca_config_perr(ps,
		    "a primary cannot be a NAT host: NAT hosts reach it "
		    "(remove NAT_CLIENT / ACCEPT_REVERSE_CONNECTION)");
	if (cfg->key_passphrase_file != NULL && cfg->key_path == NULL)
		return eca_config_perr(ps,
		    "ECA_KEY_PASSPHRASEFILE requires "
		    "ECA_PRIVATE_KEY_PATH");
	if (cfg->metrics_listen.host != NULL &&
	    !loopback(cfg->metrics_listen.host))
		return eca_config_perr(ps,
		    "METRICS_LISTEN = %s is not a loopback address: the "
		    "metrics listener is plain HTTP without authentication, "
		    "so it listens on this machine only (use 127.0.0.1:PORT "
		    "or [::1]:PORT; remote scrapers use GET /metrics on "
		    "API_LISTEN with a METRICS_IDENTITY certificate)",
		    cfg->metrics_listen.host);
	return 0;
}

/*
 * A primary is a host of its own domain (docs/design.md): when no
 * SERVER line names it, it gets one, first (the default), pointing at its
 * own API_LISTEN (a wildcard address becomes loopback).
 */
static int
add_self_server(struct pstate *ps)
{
	struct eca_config *cfg = ps->cfg;
	struct eca_endpoint self = {NULL, NULL, NULL};
	const char *host = cfg->api_listen.host;
	size_t i;

	if (cfg->role != ECA_ROLE_PRIMARY)
		return 0;
	for (i = 0; i < cfg->nservers; i++)
		if (strcmp(cfg->servers[i].name, cfg->client_name) == 0)
			return 0;
	if (cfg->nservers >= ECA_MAX_SERVERS)
		return eca_config_perr(ps,
		    "too many SERVER entries (at most "
		    "%d, and a primary adds itself)",
		    ECA_MAX_SERVERS);
	if (host == NULL || strcmp(host, "*") == 0 ||
	    strcmp(host, "0.0.0.0") == 0)
		host = "127.0.0.1";
	else if (strcmp(host, "::") == 0)
		host = "::1";
	self.name = strdup(cfg->client_name);
	self.host = strdup(host);
	self.port = strdup(cfg->api_listen.port != NULL ? cfg->api_listen.port :
							  ECA_DEFAULT_API_PORT);
	if (self.name == NULL || self.host == NULL || self.port == NULL) {
		eca_config_endpoint_clear(&self);
		return eca_config_nomem(ps);
	}
	memmove(&cfg->servers[1], &cfg->servers[0],
	    cfg->nservers * sizeof(cfg->servers[0]));
	cfg->servers[0] = self;
	cfg->nservers++;
	return 0;
}

int
eca_config_check(struct pstate *ps)
{
	int r;

	if ((r = validate(ps)) != 0)
		return r;
	/* NetBackup's spelling of NAT_CLIENT (docs/nat.md). */
	if (ps->cfg->accept_reverse_connection)
		ps->cfg->nat_client = 1;
	return add_self_server(ps);
}
