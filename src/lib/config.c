/*
 * config.c - the eca.conf parser.
 *
 * One keyword table drives parsing, defaults and the dump.  A file is read
 * in three passes over the same struct: every field starts unset (NULL or
 * zero, with a "seen" line per keyword), each line is handed to the setter
 * of its keyword, then every keyword the file did not name gets its default
 * through the very same setter (so a default can never be a value the parser
 * would refuse), and finally the whole file is validated.
 */
#include "config.h"
#include "hostname.h"

#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/*
 * A line longer than this is refused rather than truncated: a silently
 * shortened path or DN would be worse than an error.
 */
#define LINE_MAX_LEN 4096
/*
 * Values are capped well below the line limit so that the dump, which
 * writes `KEY = value` with spaces and fills in derived defaults, always
 * produces lines the parser accepts again.
 */
#define VALUE_MAX_LEN 2048
#define HOSTNAME_MAX_LEN 253

enum kwtype {
	KW_STRING,	/* char * at off */
	KW_HOSTNAME,	/* char * at off, a valid host name */
	KW_WORD,	/* char * at off, one of names (case-insensitive) */
	KW_BOOL,	/* int at off, YES or NO */
	KW_INT,		/* int at off, decimal in [min, max] */
	KW_ENUM,	/* enum at off, index into names (case-insensitive) */
	KW_ADDR,	/* struct eca_endpoint at off, host:port */
	KW_SERVER,	/* servers[], `name [host:port]` */
	KW_PEER,	/* peers[], `name host:port` */
	KW_ADMIN,	/* admins[], any text */
	KW_DB,		/* char * at off, sqlite:PATH or postgresql://... */
};

struct keyword {
	const char *name;
	enum kwtype type;
	int repeatable;
	size_t off;
	const char *const *names;	/* KW_ENUM, KW_WORD */
	long long min, max;		/* KW_INT */
	const char *def;		/* default, parsed like a value */
	const char *derived;		/* default: format of STATE_DIR (%.*s) */
};

/* Indexed by the enum; NULL-terminated for the parser's lookup. */
static const char *const role_names[] = {
	[ECA_ROLE_CLIENT] = "client",
	[ECA_ROLE_MEDIA] = "media",
	[ECA_ROLE_PRIMARY] = "primary",
	[ECA_ROLE_PRIMARY + 1] = NULL,
};
static const char *const crl_names[] = {
	[ECA_CRL_DISABLE] = "DISABLE",
	[ECA_CRL_LEAF] = "LEAF",
	[ECA_CRL_CHAIN] = "CHAIN",
	[ECA_CRL_CHAIN + 1] = NULL,
};
static const char *const identity_names[] = {
	[ECA_ID_SAN] = "SAN",
	[ECA_ID_CN] = "CN",
	[ECA_ID_DN] = "DN",
	[ECA_ID_DN + 1] = NULL,
};
static const char *const loglevel_names[] = {
	"debug", "info", "warn", "error", NULL
};

/* The enum setters store through memcpy; this keeps that honest. */
_Static_assert(sizeof(enum eca_role) == sizeof(int), "enum size");
_Static_assert(sizeof(enum eca_crl_check) == sizeof(int), "enum size");
_Static_assert(sizeof(enum eca_identity) == sizeof(int), "enum size");

#define OFF(f) offsetof(struct eca_config, f)

/*
 * STATE_DIR comes before its derived keys so that the defaults pass sees it
 * set; the order is also the order of the dump.
 */
static const struct keyword keywords[] = {
	{ "CLIENT_NAME", KW_HOSTNAME, 0, OFF(client_name), NULL, 0, 0,
	    NULL, NULL },
	{ "ROLE", KW_ENUM, 0, OFF(role), role_names, 0, 0, "client", NULL },
	{ "SERVER", KW_SERVER, 1, OFF(servers), NULL, 0, 0, NULL, NULL },
	{ "PEER", KW_PEER, 1, OFF(peers), NULL, 0, 0, NULL, NULL },
	{ "LISTEN", KW_ADDR, 0, OFF(listen), NULL, 0, 0,
	    "0.0.0.0:" ECA_DEFAULT_PEER_PORT, NULL },
	{ "NAT_CLIENT", KW_BOOL, 0, OFF(nat_client), NULL, 0, 0, "NO", NULL },
	{ "STATE_DIR", KW_STRING, 0, OFF(state_dir), NULL, 0, 0,
	    "/var/lib/eca", NULL },
	{ "ECA_CERT_PATH", KW_STRING, 0, OFF(cert_path), NULL, 0, 0,
	    NULL, NULL },
	{ "ECA_PRIVATE_KEY_PATH", KW_STRING, 0, OFF(key_path), NULL, 0, 0,
	    NULL, NULL },
	{ "ECA_TRUST_STORE_PATH", KW_STRING, 0, OFF(trust_store_path), NULL,
	    0, 0, NULL, NULL },
	{ "ECA_KEY_PASSPHRASEFILE", KW_STRING, 0, OFF(key_passphrase_file),
	    NULL, 0, 0, NULL, NULL },
	{ "ECA_CRL_CHECK", KW_ENUM, 0, OFF(crl_check), crl_names, 0, 0,
	    "LEAF", NULL },
	{ "ECA_CRL_PATH", KW_STRING, 0, OFF(crl_path), NULL, 0, 0, NULL, NULL },
	{ "ECA_CRL_PATH_SYNC_HOURS", KW_INT, 0, OFF(crl_path_sync_hours), NULL,
	    1, 8760, "1", NULL },
	{ "ECA_CRL_REFRESH_HOURS", KW_INT, 0, OFF(crl_refresh_hours), NULL,
	    1, 8760, "24", NULL },
	{ "ECA_CRL_GRACE_HOURS", KW_INT, 0, OFF(crl_grace_hours), NULL,
	    0, 8760, "24", NULL },
	{ "ECA_CRL_FAIL_OPEN", KW_BOOL, 0, OFF(crl_fail_open), NULL, 0, 0,
	    "NO", NULL },
	{ "ECA_TRUST_PARTIAL_CHAIN", KW_BOOL, 0, OFF(trust_partial_chain),
	    NULL, 0, 0, "NO", NULL },
	{ "ECA_DISABLE_AUTO_ENROLLMENT", KW_BOOL, 0,
	    OFF(disable_auto_enrollment), NULL, 0, 0, "NO", NULL },
	{ "ECA_ROSTER_MAX_AGE", KW_INT, 0, OFF(roster_max_age), NULL,
	    1, 31536000, "3600", NULL },
	{ "ECA_ROSTER_SYNC_SECONDS", KW_INT, 0, OFF(roster_sync_seconds),
	    NULL, 1, 31536000, "300", NULL },
	{ "API_LISTEN", KW_ADDR, 0, OFF(api_listen), NULL, 0, 0,
	    "0.0.0.0:" ECA_DEFAULT_API_PORT, NULL },
	{ "ECA_DB", KW_DB, 0, OFF(db), NULL, 0, 0, NULL,
	    "sqlite:%.*s/registry.db" },
	{ "ECA_IDENTITY", KW_ENUM, 0, OFF(identity), identity_names, 0, 0,
	    "SAN", NULL },
	{ "ADMIN_IDENTITY", KW_ADMIN, 1, OFF(admins), NULL, 0, 0, NULL, NULL },
	{ "AUDIT_LOG", KW_STRING, 0, OFF(audit_log), NULL, 0, 0, NULL, NULL },
	{ "ECA_ALLOW_FORCED_REENROLLMENT", KW_BOOL, 0,
	    OFF(allow_forced_reenrollment), NULL, 0, 0, "NO", NULL },
	{ "CONTROL_SOCKET", KW_STRING, 0, OFF(control_socket), NULL, 0, 0,
	    NULL, "%.*s/ecad.sock" },
	{ "WORKERS", KW_INT, 0, OFF(workers), NULL, 0, 256, "0", NULL },
	{ "MAX_CONNECTIONS", KW_INT, 0, OFF(max_connections), NULL,
	    1, 1000000, "4096", NULL },
	{ "REQUEST_TIMEOUT", KW_INT, 0, OFF(request_timeout), NULL,
	    1, 3600, "10", NULL },
	{ "MAX_CONNECTIONS_PER_SOURCE", KW_INT, 0,
	    OFF(max_connections_per_source), NULL, 1, 1000000, "64", NULL },
	{ "IDLE_TIMEOUT", KW_INT, 0, OFF(idle_timeout), NULL,
	    1, 86400, "60", NULL },
	{ "MAX_HANDSHAKES", KW_INT, 0, OFF(max_handshakes), NULL,
	    1, 1000000, "256", NULL },
	{ "MAX_PENDING_ENROLLMENTS", KW_INT, 0, OFF(max_pending_enrollments),
	    NULL, 1, 1000000, "1024", NULL },
	{ "BUSY_RETRY_AFTER", KW_INT, 0, OFF(busy_retry_after), NULL,
	    1, 3600, "1", NULL },
	{ "PEER_MAX_CONNECTIONS_PER_SOURCE", KW_INT, 0,
	    OFF(peer_max_connections_per_source), NULL, 1, 1000000, "64",
	    NULL },
	{ "PEER_MAX_HANDSHAKES", KW_INT, 0, OFF(peer_max_handshakes), NULL,
	    1, 1000000, "256", NULL },
	{ "PEER_ENROLL_WAITS_PER_SOURCE", KW_INT, 0,
	    OFF(peer_enroll_waits_per_source), NULL, 1, 1000000, "4", NULL },
	{ "USER", KW_STRING, 0, OFF(user), NULL, 0, 0, NULL, NULL },
	{ "PID_FILE", KW_STRING, 0, OFF(pid_file), NULL, 0, 0,
	    NULL, "%.*s/ecad.pid" },
	{ "LOG_LEVEL", KW_WORD, 0, OFF(log_level), loglevel_names, 0, 0,
	    "info", NULL },
};
#define NKEYWORDS (sizeof(keywords) / sizeof(keywords[0]))

/* Parser state: where we are, for messages. */
struct pstate {
	struct eca_config *cfg;
	const char *name;
	size_t line;			/* 0 outside a line */
	size_t seen[NKEYWORDS];		/* line a keyword was first given on */
	struct eca_err *err;
};

static int perr(struct pstate *, const char *, ...) ECA_PRINTF(2, 3);

/* ECA_ERR_CONFIG with `name:line: ` (or `name: ` outside a line) in front. */
static int
perr(struct pstate *ps, const char *fmt, ...)
{
	char msg[ECA_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ps->line > 0)
		return eca_err_set(ps->err, ECA_ERR_CONFIG, "%s:%zu: %s",
		    ps->name, ps->line, msg);
	return eca_err_set(ps->err, ECA_ERR_CONFIG, "%s: %s", ps->name, msg);
}

static int
nomem(struct pstate *ps)
{
	return eca_err_set(ps->err, ECA_ERR_NOMEM,
	    "%s: out of memory while reading the configuration", ps->name);
}

static void *
field(struct eca_config *cfg, const struct keyword *kw)
{
	return (char *)cfg + kw->off;
}

/*
 * Where to connect or listen (the host of host:port): a name the resolver
 * takes, or an IPv4 address.  Letters, digits, '-', '.', '_', 1..253
 * bytes, not starting with '-' or '.' (so it can never be mistaken for a
 * command-line option).  Not an identity: names that identify a host go
 * through canon_name().
 */
static int
address_valid(const char *s)
{
	size_t i, len;

	len = strlen(s);
	if (len == 0 || len > HOSTNAME_MAX_LEN || s[0] == '-' || s[0] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_'))
			return 0;
	}
	return 1;
}

/*
 * A host name that identifies a host (CLIENT_NAME, the name of a SERVER or
 * PEER, an ADMIN_IDENTITY host) into out in its canonical form: eca
 * compares names only that way (hostname.h), so MEDIA1.Example in the file
 * is media1.example everywhere.
 */
static int
canon_name(struct pstate *ps, const char *key, const char *value, char *out,
    size_t outlen)
{
	struct eca_err e;

	eca_err_clear(&e);
	if (eca_hostname_canon(value, out, outlen, &e) != 0)
		return perr(ps, "%s: %s", key, e.msg);
	return 0;
}

static int
set_string(struct pstate *ps, char **dst, const char *value)
{
	char *s;

	if ((s = strdup(value)) == NULL)
		return nomem(ps);
	free(*dst);
	*dst = s;
	return 0;
}

/* KW_HOSTNAME: the canonical form of the value. */
static int
set_hostname(struct pstate *ps, const struct keyword *kw, const char *value)
{
	char name[HOSTNAME_MAX_LEN + 1];
	int r;

	if ((r = canon_name(ps, kw->name, value, name, sizeof(name))) != 0)
		return r;
	return set_string(ps, field(ps->cfg, kw), name);
}

/*
 * A port: decimal 1..65535.  Service names are refused on purpose: the
 * configuration should mean the same on every host.
 */
static int
port_valid(const char *s)
{
	size_t i, len;
	long v;

	len = strlen(s);
	if (len == 0 || len > 5)
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	v = strtol(s, NULL, 10);
	return v >= 1 && v <= 65535;
}

/*
 * `host:port` or `[v6addr]:port` into ep->host and ep->port (brackets
 * removed).  key names the keyword for the message.  A listening address
 * may also be `*:port`, every address.
 */
static int
parse_hostport(struct pstate *ps, const char *key, const char *s,
    int listening, struct eca_endpoint *ep)
{
	struct in6_addr a6;
	char host[HOSTNAME_MAX_LEN + 1];
	const char *colon, *port, *end;
	size_t hlen;

	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL)
			return perr(ps, "%s: '%s' has no closing ']' (write "
			    "IPv6 addresses as [::1]:1556)", key, s);
		hlen = (size_t)(end - s - 1);
		if (end[1] != ':')
			return perr(ps, "%s: '%s' has no port after the IPv6 "
			    "address (expected [addr]:port)", key, s);
		port = end + 2;
		if (hlen == 0 || hlen >= sizeof(host))
			return perr(ps, "%s: '%s' is not a valid IPv6 address",
			    key, s);
		memcpy(host, s + 1, hlen);
		host[hlen] = '\0';
		if (inet_pton(AF_INET6, host, &a6) != 1)
			return perr(ps, "%s: '%s' is not a valid IPv6 address",
			    key, host);
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return perr(ps, "%s: '%s' has no port (expected "
			    "host:port)", key, s);
		if (strchr(s, ':') != colon)
			return perr(ps, "%s: '%s' is ambiguous (write IPv6 "
			    "addresses in brackets, as [::1]:1556)", key, s);
		hlen = (size_t)(colon - s);
		port = colon + 1;
		if (hlen == 0 || hlen >= sizeof(host))
			return perr(ps, "%s: '%s' has an empty or too long "
			    "host (expected host:port)", key, s);
		memcpy(host, s, hlen);
		host[hlen] = '\0';
		if (!address_valid(host) &&
		    !(listening && strcmp(host, "*") == 0))
			return perr(ps, "%s: '%s' is not a valid host name or "
			    "address", key, host);
	}
	if (!port_valid(port))
		return perr(ps, "%s: port '%s' is not a number from 1 to "
		    "65535", key, port);

	free(ep->host);
	free(ep->port);
	ep->host = strdup(host);
	ep->port = strdup(port);
	if (ep->host == NULL || ep->port == NULL)
		return nomem(ps);
	return 0;
}

static void
endpoint_clear(struct eca_endpoint *ep)
{
	free(ep->name);
	free(ep->host);
	free(ep->port);
	ep->name = ep->host = ep->port = NULL;
}

/*
 * Split "a b" into its first word and the rest (both trimmed by the
 * caller's line reader already).  *rest is "" when there is one word.
 */
static int
split_words(const char *value, char *first, size_t firstsz,
    const char **rest)
{
	size_t n;

	n = strcspn(value, " \t");
	if (n >= firstsz)
		return -1;
	memcpy(first, value, n);
	first[n] = '\0';
	value += n;
	value += strspn(value, " \t");
	*rest = value;
	return 0;
}

/* SERVER = name [host:port]; PEER = name host:port. */
static int
set_endpoint_entry(struct pstate *ps, const struct keyword *kw,
    const char *value)
{
	struct eca_config *cfg = ps->cfg;
	struct eca_endpoint *list, *ep;
	char word[HOSTNAME_MAX_LEN + 2], name[HOSTNAME_MAX_LEN + 1];
	const char *rest;
	size_t *count, max, i;
	int peer, r;

	peer = kw->type == KW_PEER;
	list = peer ? cfg->peers : cfg->servers;
	count = peer ? &cfg->npeers : &cfg->nservers;
	max = peer ? ECA_MAX_PEERS : ECA_MAX_SERVERS;

	if (split_words(value, word, sizeof(word), &rest) != 0)
		return perr(ps, "%s: '%.64s...' is not a valid host name: it "
		    "is longer than 253 characters", kw->name, value);
	if ((r = canon_name(ps, kw->name, word, name, sizeof(name))) != 0)
		return r;
	if (peer && *rest == '\0')
		return perr(ps, "PEER: '%s' needs an address (expected "
		    "PEER = name host:port)", name);
	if (strpbrk(rest, " \t") != NULL)
		return perr(ps, "%s: too many words in '%s' (expected "
		    "%s = name %shost:port%s)", kw->name, value, kw->name,
		    peer ? "" : "[", peer ? "" : "]");
	for (i = 0; i < *count; i++)
		if (strcmp(list[i].name, name) == 0)
			return perr(ps, "%s: '%s' is listed twice", kw->name,
			    name);
	if (*count >= max)
		return perr(ps, "too many %s entries (at most %zu)", kw->name,
		    max);

	ep = &list[*count];
	if ((ep->name = strdup(name)) == NULL)
		return nomem(ps);
	if (*rest != '\0') {
		if ((r = parse_hostport(ps, kw->name, rest, 0, ep)) != 0) {
			endpoint_clear(ep);
			return r;
		}
	} else {
		ep->host = strdup(name);
		ep->port = strdup(ECA_DEFAULT_API_PORT);
		if (ep->host == NULL || ep->port == NULL) {
			endpoint_clear(ep);
			return nomem(ps);
		}
	}
	(*count)++;
	return 0;
}

static int
set_admin(struct pstate *ps, const struct keyword *kw, const char *value)
{
	struct eca_config *cfg = ps->cfg;
	char name[HOSTNAME_MAX_LEN + 1];
	int r;

	if (cfg->nadmins >= ECA_MAX_ADMINS)
		return perr(ps, "too many %s entries (at most %d)", kw->name,
		    ECA_MAX_ADMINS);
	/*
	 * A distinguished name (it has an '=': CN=...,O=...) is kept as
	 * written, for ECA_IDENTITY = DN; anything else is a host name
	 * and is kept canonical, as the certificate's name is compared.
	 */
	if (strchr(value, '=') == NULL) {
		if ((r = canon_name(ps, kw->name, value, name,
		    sizeof(name))) != 0)
			return r;
		value = name;
	}
	if ((cfg->admins[cfg->nadmins] = strdup(value)) == NULL)
		return nomem(ps);
	cfg->nadmins++;
	return 0;
}

static int
set_db(struct pstate *ps, const struct keyword *kw, const char *value)
{
	if (strncmp(value, "sqlite:", 7) == 0) {
		if (value[7] == '\0')
			return perr(ps, "%s: 'sqlite:' needs a file path "
			    "(sqlite:/var/lib/eca/registry.db)", kw->name);
	} else if (strncmp(value, "postgresql://", 13) != 0)
		return perr(ps, "%s: '%s' is neither sqlite:PATH nor a "
		    "postgresql:// URI", kw->name, value);
	return set_string(ps, field(ps->cfg, kw), value);
}

/* Index of value in names (case-insensitive), or -1. */
static int
name_index(const char *const *names, const char *value)
{
	int i;

	for (i = 0; names[i] != NULL; i++)
		if (strcasecmp(names[i], value) == 0)
			return i;
	return -1;
}

static int
bad_choice(struct pstate *ps, const struct keyword *kw, const char *value)
{
	char list[128];
	size_t i, len = 0;

	list[0] = '\0';
	for (i = 0; kw->names[i] != NULL && len < sizeof(list); i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
		    i > 0 ? ", " : "", kw->names[i]);
	return perr(ps, "%s: '%s' is not one of %s", kw->name, value, list);
}

static int
set_int(struct pstate *ps, const struct keyword *kw, const char *value)
{
	const char *p = value;
	long long v;
	char *end;

	/* strtoll alone would take blanks and '+'; accept digits only. */
	if (*p == '-')
		p++;
	if (*p < '0' || *p > '9')
		return perr(ps, "%s: '%s' is not a number", kw->name, value);
	errno = 0;
	v = strtoll(value, &end, 10);
	if (*end != '\0')
		return perr(ps, "%s: '%s' is not a number", kw->name, value);
	if (errno == ERANGE || v < kw->min || v > kw->max)
		return perr(ps, "%s: %s is out of range (%lld to %lld)",
		    kw->name, value, kw->min, kw->max);
	*(int *)field(ps->cfg, kw) = (int)v;
	return 0;
}

/* Hand a value to the setter of its keyword. */
static int
set_value(struct pstate *ps, const struct keyword *kw, const char *value)
{
	int i;

	switch (kw->type) {
	case KW_STRING:
		return set_string(ps, field(ps->cfg, kw), value);
	case KW_HOSTNAME:
		return set_hostname(ps, kw, value);
	case KW_WORD:
		if ((i = name_index(kw->names, value)) < 0)
			return bad_choice(ps, kw, value);
		return set_string(ps, field(ps->cfg, kw), kw->names[i]);
	case KW_BOOL:
		if ((i = eca_config_parse_bool(value)) < 0)
			return perr(ps, "%s: '%s' is not YES or NO", kw->name,
			    value);
		*(int *)field(ps->cfg, kw) = i;
		return 0;
	case KW_INT:
		return set_int(ps, kw, value);
	case KW_ENUM:
		if ((i = name_index(kw->names, value)) < 0)
			return bad_choice(ps, kw, value);
		memcpy(field(ps->cfg, kw), &i, sizeof(i));
		return 0;
	case KW_ADDR:
		return parse_hostport(ps, kw->name, value, 1,
		    field(ps->cfg, kw));
	case KW_SERVER:
	case KW_PEER:
		return set_endpoint_entry(ps, kw, value);
	case KW_ADMIN:
		return set_admin(ps, kw, value);
	case KW_DB:
		return set_db(ps, kw, value);
	}
	return eca_err_set(ps->err, ECA_ERR_INTERNAL,
	    "%s: keyword %s has no setter", ps->name, kw->name);
}

static const struct keyword *
keyword_find(const char *name, size_t len, size_t *idx)
{
	size_t i;

	for (i = 0; i < NKEYWORDS; i++)
		if (strlen(keywords[i].name) == len &&
		    memcmp(keywords[i].name, name, len) == 0) {
			*idx = i;
			return &keywords[i];
		}
	return NULL;
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/*
 * Can these bytes be echoed in a message?  A message ends up on a terminal
 * or in a log, so it must not carry escape sequences from the file.
 */
static int
printable(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

/* One line (len bytes, no newline, no NUL). */
static int
parse_line(struct pstate *ps, const char *line, size_t len)
{
	const struct keyword *kw;
	char value[VALUE_MAX_LEN + 1];
	const char *key, *p, *end = line + len;
	size_t klen, vlen, idx, i;

	p = line;
	while (p < end && is_blank(*p))
		p++;
	if (p == end || *p == '#')
		return 0;

	key = p;
	while (p < end && !is_blank(*p) && *p != '=')
		p++;
	klen = (size_t)(p - key);
	if (klen > 64)
		klen = 64;	/* no key is longer: this only bounds messages */
	if (!printable(key, klen))
		return perr(ps, "line does not start with a KEY (it holds "
		    "unprintable characters)");
	while (p < end && is_blank(*p))
		p++;
	if (p == end || *p != '=')
		return perr(ps, "missing '=' after '%.*s' (expected KEY = "
		    "value)", (int)klen, key);
	if (klen == 0)
		return perr(ps, "missing key before '=' (expected KEY = "
		    "value)");
	if ((kw = keyword_find(key, klen, &idx)) == NULL)
		return perr(ps, "unknown key '%.*s' (keys are upper case; "
		    "see docs/configuration.md)", (int)klen, key);

	p++;
	while (p < end && is_blank(*p))
		p++;
	while (end > p && is_blank(end[-1]))
		end--;
	vlen = (size_t)(end - p);
	if (vlen == 0)
		return perr(ps, "%s has an empty value", kw->name);
	if (vlen > VALUE_MAX_LEN)
		return perr(ps, "%s: value is %zu bytes, longer than the "
		    "limit of %d", kw->name, vlen, VALUE_MAX_LEN);
	for (i = 0; i < vlen; i++)
		if (((unsigned char)p[i] < 0x20 && p[i] != '\t') ||
		    p[i] == 0x7f)
			return perr(ps, "%s: value contains a control "
			    "character", kw->name);
	memcpy(value, p, vlen);
	value[vlen] = '\0';

	if (ps->seen[idx] != 0 && !kw->repeatable)
		return perr(ps, "%s given twice (first on line %zu); it may "
		    "appear only once", kw->name, ps->seen[idx]);
	if (ps->seen[idx] == 0)
		ps->seen[idx] = ps->line;
	return set_value(ps, kw, value);
}

static int
parse_lines(struct pstate *ps, const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len, *nl, *nul;
	size_t llen;
	int r;

	for (ps->line = 1; p < end; ps->line++) {
		nl = memchr(p, '\n', (size_t)(end - p));
		llen = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		if ((nul = memchr(p, '\0', llen)) != NULL)
			return perr(ps, "NUL byte at column %zu (is this a "
			    "text file?)", (size_t)(nul - p) + 1);
		if (llen > LINE_MAX_LEN)
			return perr(ps, "line is %zu bytes, longer than the "
			    "limit of %d", llen, LINE_MAX_LEN);
		if ((r = parse_line(ps, p, llen)) != 0)
			return r;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	ps->line = 0;
	return 0;
}

/* Give every keyword the file did not name its default. */
static int
apply_defaults(struct pstate *ps)
{
	const struct keyword *kw;
	char val[VALUE_MAX_LEN + 1];
	const char *dir;
	size_t i, dlen;
	int n, r;

	ps->line = 0;
	for (i = 0; i < NKEYWORDS; i++) {
		kw = &keywords[i];
		if (ps->seen[i] != 0)
			continue;
		if (kw->def != NULL) {
			if ((r = set_value(ps, kw, kw->def)) != 0)
				return r;
			continue;
		}
		if (kw->derived == NULL)
			continue;
		/* STATE_DIR is earlier in the table: set by now. */
		dir = ps->cfg->state_dir;
		dlen = strlen(dir);
		/* "/srv/eca/" + "/ecad.pid" would double the slash. */
		while (dlen > 0 && dir[dlen - 1] == '/')
			dlen--;
		n = snprintf(val, sizeof(val), kw->derived, (int)dlen, dir);
		if (n < 0 || (size_t)n >= sizeof(val))
			return perr(ps, "STATE_DIR is too long to derive %s "
			    "from it; set %s explicitly", kw->name, kw->name);
		if ((r = set_value(ps, kw, val)) != 0)
			return r;
	}
	return 0;
}

/* Rules about the file as a whole. */
static int
validate(struct pstate *ps)
{
	const struct eca_config *cfg = ps->cfg;
	int ncred;

	if (cfg->client_name == NULL)
		return perr(ps, "CLIENT_NAME is required (this host's name, "
		    "as its certificate names it)");
	ncred = (cfg->cert_path != NULL) + (cfg->key_path != NULL) +
	    (cfg->trust_store_path != NULL);
	if (cfg->role == ECA_ROLE_PRIMARY && ncred != 3)
		return perr(ps, "ROLE primary requires ECA_CERT_PATH, "
		    "ECA_PRIVATE_KEY_PATH and ECA_TRUST_STORE_PATH%s%s%s",
		    cfg->cert_path == NULL ? " (ECA_CERT_PATH missing)" : "",
		    cfg->key_path == NULL ?
		    " (ECA_PRIVATE_KEY_PATH missing)" : "",
		    cfg->trust_store_path == NULL ?
		    " (ECA_TRUST_STORE_PATH missing)" : "");
	if (ncred != 0 && ncred != 3)
		return perr(ps, "ECA_CERT_PATH, ECA_PRIVATE_KEY_PATH and "
		    "ECA_TRUST_STORE_PATH must be set together or not at "
		    "all%s%s%s",
		    cfg->cert_path == NULL ? " (ECA_CERT_PATH missing)" : "",
		    cfg->key_path == NULL ?
		    " (ECA_PRIVATE_KEY_PATH missing)" : "",
		    cfg->trust_store_path == NULL ?
		    " (ECA_TRUST_STORE_PATH missing)" : "");
	if (cfg->key_passphrase_file != NULL && cfg->key_path == NULL)
		return perr(ps, "ECA_KEY_PASSPHRASEFILE requires "
		    "ECA_PRIVATE_KEY_PATH");
	return 0;
}

/*
 * A primary is a host of its own domain (PRODUCT.md section 2): when no
 * SERVER line names it, it gets one, first (the default), pointing at its
 * own API_LISTEN (a wildcard address becomes loopback).
 */
static int
add_self_server(struct pstate *ps)
{
	struct eca_config *cfg = ps->cfg;
	struct eca_endpoint self = { NULL, NULL, NULL };
	const char *host = cfg->api_listen.host;
	size_t i;

	if (cfg->role != ECA_ROLE_PRIMARY)
		return 0;
	for (i = 0; i < cfg->nservers; i++)
		if (strcmp(cfg->servers[i].name, cfg->client_name) == 0)
			return 0;
	if (cfg->nservers >= ECA_MAX_SERVERS)
		return perr(ps, "too many SERVER entries (at most %d, and a "
		    "primary adds itself)", ECA_MAX_SERVERS);
	if (host == NULL || strcmp(host, "*") == 0 ||
	    strcmp(host, "0.0.0.0") == 0)
		host = "127.0.0.1";
	else if (strcmp(host, "::") == 0)
		host = "::1";
	self.name = strdup(cfg->client_name);
	self.host = strdup(host);
	self.port = strdup(cfg->api_listen.port != NULL ?
	    cfg->api_listen.port : ECA_DEFAULT_API_PORT);
	if (self.name == NULL || self.host == NULL || self.port == NULL) {
		endpoint_clear(&self);
		return nomem(ps);
	}
	memmove(&cfg->servers[1], &cfg->servers[0],
	    cfg->nservers * sizeof(cfg->servers[0]));
	cfg->servers[0] = self;
	cfg->nservers++;
	return 0;
}

int
eca_config_parse(const char *buf, size_t len, const char *name,
    struct eca_config **out, struct eca_err *err)
{
	struct pstate *ps = NULL;
	struct eca_config *cfg = NULL;
	int r = ECA_ERR_INTERNAL;

	*out = NULL;
	if (name == NULL)
		name = "(config)";
	/* The state is big (a line per keyword): keep it off the stack. */
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL ||
	    (ps = calloc(1, sizeof(*ps))) == NULL ||
	    (cfg->path = strdup(name)) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM, "%s: out of memory while "
		    "reading the configuration", name);
		goto out;
	}
	ps->cfg = cfg;
	ps->name = name;
	ps->err = err;

	if (len > ECA_CONFIG_MAX_SIZE) {
		r = perr(ps, "file is larger than the limit of %d bytes",
		    ECA_CONFIG_MAX_SIZE);
		goto out;
	}
	if ((r = parse_lines(ps, buf, len)) != 0)
		goto out;
	if ((r = apply_defaults(ps)) != 0)
		goto out;
	if ((r = validate(ps)) != 0 || (r = add_self_server(ps)) != 0)
		goto out;

	*out = cfg;
	cfg = NULL;
	r = 0;
 out:
	eca_config_free(cfg);
	free(ps);
	return r;
}

int
eca_config_load(const char *path, struct eca_config **out,
    struct eca_err *err)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd = -1, r = ECA_ERR_INTERNAL;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		r = eca_err_set(err, ECA_ERR_CONFIG, "%s: cannot open: %s "
		    "(check the path given with -f)", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		r = eca_err_set(err, ECA_ERR_CONFIG, "%s: not a regular file",
		    path);
		goto out;
	}
	/*
	 * The file decides who is an administrator and which key is ours:
	 * anyone who may write it owns the host.
	 */
	if (st.st_mode & S_IWOTH) {
		r = eca_err_set(err, ECA_ERR_CONFIG, "%s: writable by any user; "
		    "refusing it (chmod o-w %s)", path, path);
		goto out;
	}
	/* Read one byte past the limit so that a larger file is noticed. */
	if ((buf = malloc(ECA_CONFIG_MAX_SIZE + 1)) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM, "%s: out of memory", path);
		goto out;
	}
	while (len < ECA_CONFIG_MAX_SIZE + 1) {
		n = read(fd, buf + len, ECA_CONFIG_MAX_SIZE + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			r = eca_err_set(err, ECA_ERR_CONFIG, "%s: cannot read: "
			    "%s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	r = eca_config_parse(buf, len, path, out, err);
 out:
	free(buf);
	if (fd != -1)
		close(fd);
	return r;
}

void
eca_config_free(struct eca_config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->nservers; i++)
		endpoint_clear(&cfg->servers[i]);
	for (i = 0; i < cfg->npeers; i++)
		endpoint_clear(&cfg->peers[i]);
	for (i = 0; i < cfg->nadmins; i++)
		free(cfg->admins[i]);
	endpoint_clear(&cfg->listen);
	endpoint_clear(&cfg->api_listen);
	free(cfg->path);
	free(cfg->client_name);
	free(cfg->state_dir);
	free(cfg->cert_path);
	free(cfg->key_path);
	free(cfg->trust_store_path);
	free(cfg->key_passphrase_file);
	free(cfg->crl_path);
	free(cfg->db);
	free(cfg->audit_log);
	free(cfg->control_socket);
	free(cfg->user);
	free(cfg->pid_file);
	free(cfg->log_level);
	free(cfg);
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

static void
dump_keyword(FILE *f, const struct eca_config *cfg, const struct keyword *kw)
{
	const void *p = (const char *)cfg + kw->off;
	const struct eca_endpoint *list;
	size_t i, n;
	int v;

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
		for (i = 0; kw->names[i] != NULL && i != (size_t)v; i++)
			;
		if (v >= 0 && kw->names[i] != NULL)
			fprintf(f, "%s = %s\n", kw->name, kw->names[i]);
		break;
	case KW_ADDR:
		if (((const struct eca_endpoint *)p)->host == NULL)
			break;
		fprintf(f, "%s = ", kw->name);
		dump_hostport(f, p);
		fputc('\n', f);
		break;
	case KW_SERVER:
	case KW_PEER:
		list = p;
		n = kw->type == KW_PEER ? cfg->npeers : cfg->nservers;
		for (i = 0; i < n; i++) {
			fprintf(f, "%s = %s ", kw->name, list[i].name);
			dump_hostport(f, &list[i]);
			fputc('\n', f);
		}
		break;
	case KW_ADMIN:
		for (i = 0; i < cfg->nadmins; i++)
			fprintf(f, "%s = %s\n", kw->name, cfg->admins[i]);
		break;
	}
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
		dump_keyword(f, cfg, &keywords[i]);
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

const struct eca_endpoint *
eca_config_server(const struct eca_config *cfg, const char *name)
{
	char canon[HOSTNAME_MAX_LEN + 1];
	size_t i;

	if (cfg == NULL || cfg->nservers == 0)
		return NULL;
	if (name == NULL)
		return &cfg->servers[0];
	/* --server MEDIA1.Example names SERVER = media1.example. */
	if (eca_hostname_canon(name, canon, sizeof(canon), NULL) != 0)
		return NULL;
	for (i = 0; i < cfg->nservers; i++)
		if (strcmp(cfg->servers[i].name, canon) == 0)
			return &cfg->servers[i];
	return NULL;
}

int
eca_config_parse_bool(const char *s)
{
	if (s == NULL)
		return -1;
	if (strcasecmp(s, "YES") == 0)
		return 1;
	if (strcasecmp(s, "NO") == 0)
		return 0;
	return -1;
}

const char *
eca_role_name(enum eca_role role)
{
	if ((unsigned)role < sizeof(role_names) / sizeof(role_names[0]) - 1)
		return role_names[role];
	return "unknown";
}

const char *
eca_crl_check_name(enum eca_crl_check c)
{
	if ((unsigned)c < sizeof(crl_names) / sizeof(crl_names[0]) - 1)
		return crl_names[c];
	return "unknown";
}

const char *
eca_identity_name(enum eca_identity id)
{
	if ((unsigned)id < sizeof(identity_names) /
	    sizeof(identity_names[0]) - 1)
		return identity_names[id];
	return "unknown";
}
