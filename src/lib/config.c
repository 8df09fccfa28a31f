/* SPDX-License-Identifier: ISC */
/*
 * config.c - the eca.conf parser: lines, and the setter of each type.
 *
 * One keyword table (config_table.c) drives parsing, defaults and the dump.
 * A file is read in three passes over the same struct: every field starts
 * unset (NULL or zero, with a "seen" line per keyword), each line is handed
 * to the setter of its keyword (here), then every keyword the file did not
 * name gets its default through the very same setter and the whole file is
 * validated (config_check.c).
 */
#include "config_impl.h"

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

#include "store.h"

int
eca_config_perr(struct pstate *ps, const char *fmt, ...)
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

int
eca_config_nomem(struct pstate *ps)
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
	if (len == 0 || len > ECA_HOSTNAME_MAX_LEN || s[0] == '-' ||
	    s[0] == '.')
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
		return eca_config_perr(ps, "%s: %s", key, e.msg);
	return 0;
}

static int
set_string(struct pstate *ps, char **dst, const char *value)
{
	char *s;

	if ((s = strdup(value)) == NULL)
		return eca_config_nomem(ps);
	free(*dst);
	*dst = s;
	return 0;
}

/* KW_HOSTNAME: the canonical form of the value. */
static int
set_hostname(struct pstate *ps, const struct keyword *kw, const char *value)
{
	char name[ECA_HOSTNAME_MAX_LEN + 1];
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

/* What an address is for: only a listening one may be `*:port`. */
enum addr_use { ADDR_CONNECT, ADDR_LISTEN };

/*
 * `host:port` or `[v6addr]:port` into ep->host and ep->port (brackets
 * removed).  key names the keyword for the message.  A listening address
 * may also be `*:port`, every address.
 */
static int
parse_hostport(struct pstate *ps, const char *key, const char *s,
    enum addr_use use, struct eca_endpoint *ep)
{
	struct in6_addr a6;
	char host[ECA_HOSTNAME_MAX_LEN + 1];
	const char *colon, *port, *end;
	size_t hlen;

	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL)
			return eca_config_perr(ps,
			    "%s: '%s' has no closing "
			    "']' (write IPv6 addresses as [::1]:1556)",
			    key, s);
		hlen = (size_t)(end - s - 1);
		if (end[1] != ':')
			return eca_config_perr(ps,
			    "%s: '%s' has no port after "
			    "the IPv6 address (expected [addr]:port)",
			    key, s);
		port = end + 2;
		if (hlen == 0 || hlen >= sizeof(host))
			return eca_config_perr(ps,
			    "%s: '%s' is not a valid "
			    "IPv6 address",
			    key, s);
		memcpy(host, s + 1, hlen);
		host[hlen] = '\0';
		if (inet_pton(AF_INET6, host, &a6) != 1)
			return eca_config_perr(ps,
			    "%s: '%s' is not a valid "
			    "IPv6 address",
			    key, host);
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return eca_config_perr(ps,
			    "%s: '%s' has no port "
			    "(expected host:port)",
			    key, s);
		if (strchr(s, ':') != colon)
			return eca_config_perr(ps,
			    "%s: '%s' is ambiguous "
			    "(write IPv6 addresses in brackets, as [::1]:1556)",
			    key, s);
		hlen = (size_t)(colon - s);
		port = colon + 1;
		if (hlen == 0 || hlen >= sizeof(host))
			return eca_config_perr(ps,
			    "%s: '%s' has an empty or "
			    "too long host (expected host:port)",
			    key, s);
		memcpy(host, s, hlen);
		host[hlen] = '\0';
		if (!address_valid(host) &&
		    !(use == ADDR_LISTEN && strcmp(host, "*") == 0))
			return eca_config_perr(ps,
			    "%s: '%s' is not a valid "
			    "host name or address",
			    key, host);
	}
	if (!port_valid(port))
		return eca_config_perr(ps,
		    "%s: port '%s' is not a number from "
		    "1 to 65535",
		    key, port);

	free(ep->host);
	free(ep->port);
	ep->host = strdup(host);
	ep->port = strdup(port);
	if (ep->host == NULL || ep->port == NULL)
		return eca_config_nomem(ps);
	return 0;
}

void
eca_config_endpoint_clear(struct eca_endpoint *ep)
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
split_words(const char *value, char *first, size_t firstsz, const char **rest)
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
	char word[ECA_HOSTNAME_MAX_LEN + 2], name[ECA_HOSTNAME_MAX_LEN + 1];
	const char *rest;
	size_t *count, max, i;
	int peer, r;

	peer = kw->type == KW_PEER;
	list = peer ? cfg->peers : cfg->servers;
	count = peer ? &cfg->npeers : &cfg->nservers;
	max = peer ? ECA_MAX_PEERS : ECA_MAX_SERVERS;

	if (split_words(value, word, sizeof(word), &rest) != 0)
		return eca_config_perr(ps,
		    "%s: '%.64s...' is not a valid host "
		    "name: it is longer than 253 characters",
		    kw->name, value);
	if ((r = canon_name(ps, kw->name, word, name, sizeof(name))) != 0)
		return r;
	if (peer && *rest == '\0')
		return eca_config_perr(ps,
		    "PEER: '%s' needs an address "
		    "(expected PEER = name host:port)",
		    name);
	if (strpbrk(rest, " \t") != NULL)
		return eca_config_perr(ps,
		    "%s: too many words in '%s' "
		    "(expected %s = name %shost:port%s)",
		    kw->name, value, kw->name, peer ? "" : "[",
		    peer ? "" : "]");
	for (i = 0; i < *count; i++)
		if (strcmp(list[i].name, name) == 0)
			return eca_config_perr(ps, "%s: '%s' is listed twice",
			    kw->name, name);
	if (*count >= max)
		return eca_config_perr(ps, "too many %s entries (at most %zu)",
		    kw->name, max);

	ep = &list[*count];
	if ((ep->name = strdup(name)) == NULL)
		return eca_config_nomem(ps);
	if (*rest != '\0') {
		if ((r = parse_hostport(ps, kw->name, rest, ADDR_CONNECT,
			 ep)) != 0) {
			eca_config_endpoint_clear(ep);
			return r;
		}
	} else {
		ep->host = strdup(name);
		ep->port = strdup(ECA_DEFAULT_API_PORT);
		if (ep->host == NULL || ep->port == NULL) {
			eca_config_endpoint_clear(ep);
			return eca_config_nomem(ps);
		}
	}
	(*count)++;
	return 0;
}

static int
set_admin(struct pstate *ps, const struct keyword *kw, const char *value)
{
	char name[ECA_HOSTNAME_MAX_LEN + 1];
	size_t *n;
	char **ids = eca_config_idlist(ps->cfg, kw, &n);
	int r;

	if (*n >= ECA_MAX_ADMINS)
		return eca_config_perr(ps, "too many %s entries (at most %d)",
		    kw->name, ECA_MAX_ADMINS);
	/*
	 * A distinguished name (it has an '=': CN=...,O=...) is kept as
	 * written, for ECA_IDENTITY = DN; anything else is a host name
	 * and is kept canonical, as the certificate's name is compared.
	 */
	if (strchr(value, '=') == NULL) {
		if ((r = canon_name(ps, kw->name, value, name, sizeof(name))) !=
		    0)
			return r;
		value = name;
	}
	if ((ids[*n] = strdup(value)) == NULL)
		return eca_config_nomem(ps);
	(*n)++;
	return 0;
}

static int
set_db(struct pstate *ps, const struct keyword *kw, const char *value)
{
	if (strncmp(value, "sqlite:", 7) == 0) {
		if (value[7] == '\0')
			return eca_config_perr(ps,
			    "%s: 'sqlite:' needs a file "
			    "path (sqlite:/var/lib/eca/registry.db)",
			    kw->name);
	} else if (strncmp(value, "postgresql://", 13) != 0 &&
	    strncmp(value, "postgres://", 11) != 0 &&
	    !eca_store_is_pg_keywords(value))
		return eca_config_perr(ps,
		    "%s: '%s' is neither sqlite:PATH "
		    "nor a postgresql:// URI nor a libpq keyword string "
		    "(host=... dbname=...)",
		    kw->name, value);
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

/*
 * The choice a digit names, where the key takes numbers too (NetBackup's
 * ECA_CRL_CHECK = 0, 1, 2 for DISABLE, LEAF, CHAIN); -1 otherwise.
 */
static int
number_index(const struct keyword *kw, const char *value)
{
	int i;

	if (!kw->numbered || value[0] < '0' || value[0] > '9' ||
	    value[1] != '\0')
		return -1;
	for (i = 0; kw->names[i] != NULL; i++)
		if (i == value[0] - '0')
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
	if (kw->numbered)
		return eca_config_perr(ps,
		    "%s: '%s' is not one of %s (or their numbers, 0 for the "
		    "first)",
		    kw->name, value, list);
	return eca_config_perr(ps, "%s: '%s' is not one of %s", kw->name, value,
	    list);
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
		return eca_config_perr(ps, "%s: '%s' is not a number", kw->name,
		    value);
	errno = 0;
	v = strtoll(value, &end, 10);
	if (*end != '\0')
		return eca_config_perr(ps, "%s: '%s' is not a number", kw->name,
		    value);
	if (errno == ERANGE || v < kw->min || v > kw->max)
		return eca_config_perr(ps,
		    "%s: %s is out of range (%lld to "
		    "%lld)",
		    kw->name, value, kw->min, kw->max);
	*(int *)field(ps->cfg, kw) = (int)v;
	return 0;
}

/* Hand a value to the setter of its keyword. */
int
eca_config_set_value(struct pstate *ps, const struct keyword *kw,
    const char *value)
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
			return eca_config_perr(ps, "%s: '%s' is not YES or NO",
			    kw->name, value);
		*(int *)field(ps->cfg, kw) = i;
		return 0;
	case KW_INT:
		return set_int(ps, kw, value);
	case KW_ENUM:
		if ((i = name_index(kw->names, value)) < 0 &&
		    (i = number_index(kw, value)) < 0)
			return bad_choice(ps, kw, value);
		memcpy(field(ps->cfg, kw), &i, sizeof(i));
		return 0;
	case KW_ADDR:
		if (kw->optional && eca_config_parse_bool(value) == 0) {
			eca_config_endpoint_clear(field(ps->cfg, kw));
			return 0;
		}
		return parse_hostport(ps, kw->name, value, ADDR_LISTEN,
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
	char value[CONFIG_VALUE_MAX + 1];
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
		klen = 64; /* no key is longer: this bounds messages */
	if (!printable(key, klen))
		return eca_config_perr(ps,
		    "line does not start with a KEY (it "
		    "holds unprintable characters)");
	while (p < end && is_blank(*p))
		p++;
	if (p == end || *p != '=')
		return eca_config_perr(ps,
		    "missing '=' after '%.*s' (expected "
		    "KEY = value)",
		    (int)klen, key);
	if (klen == 0)
		return eca_config_perr(ps,
		    "missing key before '=' (expected "
		    "KEY = value)");
	if ((kw = eca_config_keyword_find(key, klen, &idx)) == NULL)
		return eca_config_perr(ps,
		    "unknown key '%.*s' (keys are upper "
		    "case; see docs/configuration.md)",
		    (int)klen, key);

	p++;
	while (p < end && is_blank(*p))
		p++;
	while (end > p && is_blank(end[-1]))
		end--;
	vlen = (size_t)(end - p);
	if (vlen == 0)
		return eca_config_perr(ps, "%s has an empty value", kw->name);
	if (vlen > CONFIG_VALUE_MAX)
		return eca_config_perr(ps,
		    "%s: value is %zu bytes, longer "
		    "than the limit of %d",
		    kw->name, vlen, CONFIG_VALUE_MAX);
	for (i = 0; i < vlen; i++)
		if (((unsigned char)p[i] < 0x20 && p[i] != '\t') ||
		    p[i] == 0x7f)
			return eca_config_perr(ps,
			    "%s: value contains a "
			    "control character",
			    kw->name);
	memcpy(value, p, vlen);
	value[vlen] = '\0';

	if (ps->seen[idx] != 0 && !kw->repeatable)
		return eca_config_perr(ps,
		    "%s given twice (first on line "
		    "%zu); it may appear only once",
		    kw->name, ps->seen[idx]);
	if (ps->seen[idx] == 0)
		ps->seen[idx] = ps->line;
	return eca_config_set_value(ps, kw, value);
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
			return eca_config_perr(ps,
			    "NUL byte at column %zu (is "
			    "this a text file?)",
			    (size_t)(nul - p) + 1);
		if (llen > CONFIG_LINE_MAX)
			return eca_config_perr(ps,
			    "line is %zu bytes, longer "
			    "than the limit of %d",
			    llen, CONFIG_LINE_MAX);
		if ((r = parse_line(ps, p, llen)) != 0)
			return r;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	ps->line = 0;
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
		r = eca_err_set(err, ECA_ERR_NOMEM,
		    "%s: out of memory while "
		    "reading the configuration",
		    name);
		goto out;
	}
	ps->cfg = cfg;
	ps->name = name;
	ps->err = err;

	if (len > ECA_CONFIG_MAX_SIZE) {
		r = eca_config_perr(ps,
		    "file is larger than the limit of %d "
		    "bytes",
		    ECA_CONFIG_MAX_SIZE);
		goto out;
	}
	if ((r = parse_lines(ps, buf, len)) != 0 ||
	    (r = eca_config_apply_defaults(ps)) != 0 ||
	    (r = eca_config_check(ps)) != 0)
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
eca_config_load(const char *path, struct eca_config **out, struct eca_err *err)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd = -1, r = ECA_ERR_INTERNAL;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		r = eca_err_set(err, ECA_ERR_CONFIG,
		    "%s: cannot open: %s "
		    "(check the path given with -f)",
		    path, strerror(errno));
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
		r = eca_err_set(err, ECA_ERR_CONFIG,
		    "%s: writable by any "
		    "user; refusing it (chmod o-w %s)",
		    path, path);
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
			r = eca_err_set(err, ECA_ERR_CONFIG,
			    "%s: cannot read: "
			    "%s",
			    path, strerror(errno));
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

/* Every string of the struct belongs to a keyword of the table, or is path. */
static void
field_free(struct eca_config *cfg, const struct keyword *kw)
{
	size_t i, *n;
	char **ids;

	switch (kw->type) {
	case KW_STRING:
	case KW_HOSTNAME:
	case KW_WORD:
	case KW_DB:
		free(*(char **)field(cfg, kw));
		break;
	case KW_ADDR:
		eca_config_endpoint_clear(field(cfg, kw));
		break;
	case KW_SERVER:
		for (i = 0; i < cfg->nservers; i++)
			eca_config_endpoint_clear(&cfg->servers[i]);
		break;
	case KW_PEER:
		for (i = 0; i < cfg->npeers; i++)
			eca_config_endpoint_clear(&cfg->peers[i]);
		break;
	case KW_ADMIN:
		ids = eca_config_idlist(cfg, kw, &n);
		for (i = 0; i < *n; i++)
			free(ids[i]);
		break;
	case KW_BOOL:
	case KW_INT:
	case KW_ENUM:
		break;
	}
}

void
eca_config_free(struct eca_config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < eca_config_nkeywords; i++)
		field_free(cfg, &eca_config_keywords[i]);
	free(cfg->path);
	free(cfg);
}

int
eca_config_override(struct eca_config *cfg, const char *key, const char *value,
    const char *origin, struct eca_err *err)
{
	const struct keyword *kw;
	struct pstate ps;
	size_t idx;

	memset(&ps, 0, sizeof(ps));
	ps.cfg = cfg;
	ps.name = origin;
	ps.err = err;
	kw = eca_config_keyword_find(key, strlen(key), &idx);
	if (kw == NULL || kw->repeatable)
		return eca_config_perr(&ps, "%s cannot be set for one run",
		    key);
	return eca_config_set_value(&ps, kw, value);
}

const struct eca_endpoint *
eca_config_server(const struct eca_config *cfg, const char *name)
{
	char canon[ECA_HOSTNAME_MAX_LEN + 1];
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
