/* SPDX-License-Identifier: ISC */
/*
 * config_table.c - the eca.conf keyword table: every key, its type, its
 * bounds and its default, in one place.  The parser (config.c), the
 * defaults pass (config_check.c) and the dump below all read it, so a key
 * is added by adding a row.
 */
#include "config_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Indexed by the enum; NULL-terminated for the parser's lookup. */
static const char *const role_names[] = {[ECA_ROLE_CLIENT] = "client",
    [ECA_ROLE_MEDIA] = "media",
    [ECA_ROLE_PRIMARY] = "primary",
    NULL};
static const char *const crl_names[] = {[ECA_CRL_DISABLE] = "DISABLE",
    [ECA_CRL_LEAF] = "LEAF",
    [ECA_CRL_CHAIN] = "CHAIN",
    NULL};
static const char *const identity_names[] =
    {[ECA_ID_SAN] = "SAN", [ECA_ID_CN] = "CN", [ECA_ID_DN] = "DN", NULL};
/* NetBackup's spelling of a yes/no (ACCEPT_REVERSE_CONNECTION). */
static const char *const false_true_names[] = {"FALSE", "TRUE", NULL};
static const char *const loglevel_names[] = {"debug", "info", "warn", "error",
    NULL};

#define OFF(f) offsetof(struct eca_config, f)

/*
 * STATE_DIR comes before its derived keys so that the defaults pass sees it
 * set; the order is also the order of the dump.  Fields left out are zero:
 * not repeatable, no names, no default.  Laid out by hand: a row per key.
 */
/* clang-format off */
const struct keyword eca_config_keywords[] = {
	/* Every host (docs/configuration.md). */
	{ .name = "CLIENT_NAME", .type = KW_HOSTNAME,
	    .off = OFF(client_name) },
	{ .name = "ROLE", .type = KW_ENUM,
	    .off = OFF(role), .names = role_names, .def = "client" },
	{ .name = "SERVER", .type = KW_SERVER, .repeatable = 1,
	    .off = OFF(servers) },
	{ .name = "PEER", .type = KW_PEER, .repeatable = 1,
	    .off = OFF(peers) },
	{ .name = "LISTEN", .type = KW_ADDR,
	    .off = OFF(listen), .def = "0.0.0.0:" ECA_DEFAULT_PEER_PORT },
	{ .name = "NAT_CLIENT", .type = KW_BOOL,
	    .off = OFF(nat_client), .def = "NO" },
	{ .name = "ACCEPT_REVERSE_CONNECTION", .type = KW_ENUM,
	    .off = OFF(accept_reverse_connection), .names = false_true_names,
	    .def = "FALSE" },
	{ .name = "ENABLE_DIRECT_CONNECTION", .type = KW_ENUM,
	    .off = OFF(enable_direct_connection), .names = false_true_names,
	    .def = "FALSE" },
	{ .name = "BROKER_HEARTBEAT_SECONDS", .type = KW_INT,
	    .off = OFF(broker_heartbeat_seconds), .min = 1, .max = 3600,
	    .def = "15" },
	{ .name = "NAT_TOKEN_SECONDS", .type = KW_INT,
	    .off = OFF(nat_token_seconds), .min = 2, .max = 600,
	    .def = "30" },
	{ .name = "RELAY_MAX_KBYTES", .type = KW_INT,
	    .off = OFF(relay_max_kbytes), .min = 1, .max = 2147483647,
	    .def = "4194304" },
	{ .name = "RELAY_MAX_SECONDS", .type = KW_INT,
	    .off = OFF(relay_max_seconds), .min = 1, .max = 604800,
	    .def = "3600" },
	{ .name = "STATE_DIR", .type = KW_STRING,
	    .off = OFF(state_dir), .def = "/var/lib/eca" },
	{ .name = "ECA_CERT_PATH", .type = KW_STRING,
	    .off = OFF(cert_path) },
	{ .name = "ECA_PRIVATE_KEY_PATH", .type = KW_STRING,
	    .off = OFF(key_path) },
	{ .name = "ECA_TRUST_STORE_PATH", .type = KW_STRING,
	    .off = OFF(trust_store_path) },
	{ .name = "ECA_KEY_PASSPHRASEFILE", .type = KW_STRING,
	    .off = OFF(key_passphrase_file) },
	{ .name = "ECA_CRL_CHECK", .type = KW_ENUM,
	    .off = OFF(crl_check), .names = crl_names, .numbered = 1,
	    .def = "LEAF" },
	{ .name = "ECA_CRL_PATH", .type = KW_STRING,
	    .off = OFF(crl_path) },
	{ .name = "ECA_CRL_PATH_SYNC_HOURS", .type = KW_INT,
	    .off = OFF(crl_path_sync_hours), .min = 1, .max = 8760,
	    .def = "1" },
	{ .name = "ECA_CRL_REFRESH_HOURS", .type = KW_INT,
	    .off = OFF(crl_refresh_hours), .min = 0, .max = 8760, .def = "24" },
	{ .name = "ECA_CRL_GRACE_HOURS", .type = KW_INT,
	    .off = OFF(crl_grace_hours), .min = 0, .max = 8760, .def = "24" },
	{ .name = "ECA_CRL_FAIL_OPEN", .type = KW_BOOL,
	    .off = OFF(crl_fail_open), .def = "NO" },
	{ .name = "ECA_CERT_EXPIRY_WARN_DAYS", .type = KW_INT,
	    .off = OFF(cert_expiry_warn_days), .min = 0, .max = 3650,
	    .def = "30" },
	{ .name = "ECA_TRUST_PARTIAL_CHAIN", .type = KW_BOOL,
	    .off = OFF(trust_partial_chain), .def = "NO" },
	{ .name = "ECA_DISABLE_AUTO_ENROLLMENT", .type = KW_BOOL,
	    .off = OFF(disable_auto_enrollment), .def = "NO" },
	{ .name = "ECA_ROSTER_MAX_AGE", .type = KW_INT,
	    .off = OFF(roster_max_age), .min = 1, .max = 31536000,
	    .def = "3600" },
	{ .name = "ECA_ROSTER_SYNC_SECONDS", .type = KW_INT,
	    .off = OFF(roster_sync_seconds), .min = 1, .max = 31536000,
	    .def = "300" },

	/* The primary (accepted on every role, used where they apply). */
	{ .name = "API_LISTEN", .type = KW_ADDR,
	    .off = OFF(api_listen), .def = "0.0.0.0:" ECA_DEFAULT_API_PORT },
	{ .name = "BROKER_LISTEN", .type = KW_ADDR,
	    .off = OFF(broker_listen),
	    .def = "0.0.0.0:" ECA_DEFAULT_BROKER_PORT },
	{ .name = "ECA_DB", .type = KW_DB,
	    .off = OFF(db), .derived = "sqlite:%.*s/registry.db" },
	{ .name = "ECA_DB_PASSWORD_FILE", .type = KW_STRING,
	    .off = OFF(db_password_file) },
	{ .name = "ECA_IDENTITY", .type = KW_ENUM,
	    .off = OFF(identity), .names = identity_names, .def = "SAN" },
	{ .name = "ADMIN_IDENTITY", .type = KW_ADMIN, .repeatable = 1,
	    .off = OFF(admins) },
	{ .name = "METRICS_IDENTITY", .type = KW_ADMIN, .repeatable = 1,
	    .off = OFF(metrics_ids) },
	{ .name = "AUDIT_LOG", .type = KW_STRING,
	    .off = OFF(audit_log) },
	{ .name = "ECA_ALLOW_FORCED_REENROLLMENT", .type = KW_BOOL,
	    .off = OFF(allow_forced_reenrollment), .def = "NO" },
	{ .name = "CONTROL_SOCKET", .type = KW_STRING,
	    .off = OFF(control_socket), .derived = "%.*s/ecad.sock" },
	{ .name = "WORKERS", .type = KW_INT,
	    .off = OFF(workers), .min = 0, .max = 256, .def = "0" },
	{ .name = "MAX_CONNECTIONS", .type = KW_INT,
	    .off = OFF(max_connections), .min = 1, .max = 1000000,
	    .def = "4096" },
	{ .name = "REQUEST_TIMEOUT", .type = KW_INT,
	    .off = OFF(request_timeout), .min = 1, .max = 3600, .def = "10" },
	{ .name = "MAX_CONNECTIONS_PER_SOURCE", .type = KW_INT,
	    .off = OFF(max_connections_per_source), .min = 1, .max = 1000000,
	    .def = "64" },
	{ .name = "IDLE_TIMEOUT", .type = KW_INT,
	    .off = OFF(idle_timeout), .min = 1, .max = 86400, .def = "60" },
	{ .name = "MAX_HANDSHAKES", .type = KW_INT,
	    .off = OFF(max_handshakes), .min = 1, .max = 1000000,
	    .def = "256" },
	{ .name = "MAX_PENDING_ENROLLMENTS", .type = KW_INT,
	    .off = OFF(max_pending_enrollments), .min = 1, .max = 1000000,
	    .def = "1024" },
	{ .name = "GROUP_COMMIT_DELAY_US", .type = KW_INT,
	    .off = OFF(group_commit_delay_us), .min = 0, .max = 1000000,
	    .def = "10000" },
	{ .name = "BUSY_RETRY_AFTER", .type = KW_INT,
	    .off = OFF(busy_retry_after), .min = 1, .max = 3600, .def = "1" },

	/* The peer listener (every role). */
	{ .name = "PEER_MAX_CONNECTIONS_PER_SOURCE", .type = KW_INT,
	    .off = OFF(peer_max_connections_per_source), .min = 1,
	    .max = 1000000, .def = "64" },
	{ .name = "PEER_MAX_HANDSHAKES", .type = KW_INT,
	    .off = OFF(peer_max_handshakes), .min = 1, .max = 1000000,
	    .def = "256" },
	{ .name = "PEER_ENROLL_WAITS_PER_SOURCE", .type = KW_INT,
	    .off = OFF(peer_enroll_waits_per_source), .min = 1, .max = 1000000,
	    .def = "4" },

	/* Every host: GET /metrics over plain HTTP (docs/metrics.md). */
	{ .name = "METRICS_LISTEN", .type = KW_ADDR,
	    .off = OFF(metrics_listen) },
	/* The primary's web console (docs/console.md). */
	{ .name = "CONSOLE_LISTEN", .type = KW_ADDR, .optional = 1,
	    .off = OFF(console_listen),
	    .def = "127.0.0.1:" ECA_DEFAULT_CONSOLE_PORT },
	{ .name = "CONSOLE_LINK_MINUTES", .type = KW_INT,
	    .off = OFF(console_link_minutes), .min = 1, .max = 60, .def = "5" },
	{ .name = "CONSOLE_IDLE_MINUTES", .type = KW_INT,
	    .off = OFF(console_idle_minutes), .min = 1, .max = 1440,
	    .def = "30" },
	{ .name = "CONSOLE_SESSION_HOURS", .type = KW_INT,
	    .off = OFF(console_session_hours), .min = 1, .max = 168,
	    .def = "12" },
	{ .name = "CONSOLE_CERT_PATH", .type = KW_STRING,
	    .off = OFF(console_cert_path) },
	{ .name = "CONSOLE_PRIVATE_KEY_PATH", .type = KW_STRING,
	    .off = OFF(console_key_path) },

	/* Every host: how ecad runs. */
	{ .name = "USER", .type = KW_STRING,
	    .off = OFF(user) },
	{ .name = "PID_FILE", .type = KW_STRING,
	    .off = OFF(pid_file), .derived = "%.*s/ecad.pid" },
	{ .name = "LOG_LEVEL", .type = KW_WORD,
	    .off = OFF(log_level), .names = loglevel_names, .def = "info" },
};
/* clang-format on */
#define NKEYWORDS (sizeof(eca_config_keywords) / sizeof(eca_config_keywords[0]))
const size_t eca_config_nkeywords = NKEYWORDS;

/* The parser keeps a line number per keyword (struct pstate). */
_Static_assert(NKEYWORDS <= CONFIG_KEYWORDS_MAX, "raise CONFIG_KEYWORDS_MAX");

const struct keyword *
eca_config_keyword_find(const char *name, size_t len, size_t *idx)
{
	size_t i;

	for (i = 0; i < NKEYWORDS; i++)
		if (strlen(eca_config_keywords[i].name) == len &&
		    memcmp(eca_config_keywords[i].name, name, len) == 0) {
			*idx = i;
			return &eca_config_keywords[i];
		}
	return NULL;
}

/* names[v] of a NULL-terminated list, or NULL when v is past its end. */
static const char *
enum_name(const char *const *names, int v)
{
	int i;

	for (i = 0; names[i] != NULL; i++)
		if (i == v)
			return names[i];
	return NULL;
}

/* What the public name functions say of a value outside the enum. */
static const char *
or_unknown(const char *s)
{
	return s != NULL ? s : "unknown";
}

const char *
eca_config_role_name(enum eca_role role)
{
	return or_unknown(enum_name(role_names, (int)role));
}

const char *
eca_config_crl_check_name(enum eca_crl_check c)
{
	return or_unknown(enum_name(crl_names, (int)c));
}

const char *
eca_config_identity_name(enum eca_identity id)
{
	return or_unknown(enum_name(identity_names, (int)id));
}

int
eca_config_role_from_name(const char *s)
{
	int i;

	for (i = 0; s != NULL && role_names[i] != NULL; i++)
		if (strcmp(s, role_names[i]) == 0)
			return i;
	return -1;
}

/* host:port with IPv6 addresses in brackets, as the parser wants them. */
static void
dump_hostport(FILE *f, const struct eca_endpoint *ep)
{
	if (strchr(ep->host, ':') != NULL)
		fprintf(f, "[%s]:%s", ep->host, ep->port);
	else
		fprintf(f, "%s:%s", ep->host, ep->port);
}

/* SERVER and PEER: one line per entry, `KEY = name host:port`. */
static void
dump_endpoints(FILE *f, const char *key, const struct eca_endpoint *list,
    size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		fprintf(f, "%s = %s ", key, list[i].name);
		dump_hostport(f, &list[i]);
		fputc('\n', f);
	}
}

static void
dump_keyword(FILE *f, const struct eca_config *cfg, const struct keyword *kw)
{
	const void *p = (const char *)cfg + kw->off;
	const char *s;
	size_t i;
	int v, metrics;

	switch (kw->type) {
	case KW_STRING:
	case KW_HOSTNAME:
	case KW_WORD:
	case KW_DB:
		if (*(char *const *)p != NULL)
			fprintf(f, "%s = %s\n", kw->name, *(char *const *)p);
		break;
	case KW_BOOL:
		fprintf(f, "%s = %s\n", kw->name,
		    *(const int *)p ? "YES" : "NO");
		break;
	case KW_INT:
		fprintf(f, "%s = %d\n", kw->name, *(const int *)p);
		break;
	case KW_ENUM:
		memcpy(&v, p, sizeof(v));
		if ((s = enum_name(kw->names, v)) != NULL)
			fprintf(f, "%s = %s\n", kw->name, s);
		break;
	case KW_ADDR:
		if (((const struct eca_endpoint *)p)->host == NULL) {
			if (kw->optional)
				fprintf(f, "%s = NO\n", kw->name);
			break;
		}
		fprintf(f, "%s = ", kw->name);
		dump_hostport(f, p);
		fputc('\n', f);
		break;
	case KW_SERVER:
		dump_endpoints(f, kw->name, cfg->servers, cfg->nservers);
		break;
	case KW_PEER:
		dump_endpoints(f, kw->name, cfg->peers, cfg->npeers);
		break;
	case KW_ADMIN:
		metrics = kw->off == OFF(metrics_ids);
		for (i = 0; i < (metrics ? cfg->nmetrics_ids : cfg->nadmins);
		     i++)
			fprintf(f, "%s = %s\n", kw->name,
			    metrics ? cfg->metrics_ids[i] : cfg->admins[i]);
		break;
	}
}

/* The list a KW_ADMIN keyword fills: ADMIN_IDENTITY or METRICS_IDENTITY. */
char **
eca_config_idlist(struct eca_config *cfg, const struct keyword *kw, size_t **n)
{
	if (kw->off == OFF(metrics_ids)) {
		*n = &cfg->nmetrics_ids;
		return cfg->metrics_ids;
	}
	*n = &cfg->nadmins;
	return cfg->admins;
}

char *
eca_config_dump(const struct eca_config *cfg)
{
	FILE *f = NULL;
	char *buf = NULL;
	size_t len = 0, i;

	if (cfg == NULL)
		return NULL;
	if ((f = open_memstream(&buf, &len)) == NULL)
		return NULL;
	for (i = 0; i < NKEYWORDS; i++)
		dump_keyword(f, cfg, &eca_config_keywords[i]);
	if (ferror(f)) {
		fclose(f);
		free(buf);
		return NULL;
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
