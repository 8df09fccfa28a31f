/* SPDX-License-Identifier: ISC */
/*
 * test_host.c - this host's domains: the auto-enrollment rule, the host
 * context, rosters from STATE_DIR, staleness with an unreachable primary,
 * the local enrollment state, and sync/enroll against a fake primary (a
 * TLS server thread answering canned JSON).
 */
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "client.h"
#include "host.h"
#include "testca.h"
#include "wire.h"

#define PRIMARY "primary.example"
#define SELF "client1.example"

/* ------------------------------------------------------------------ */
/* The rule, as a table.                                               */

struct rule_case {
	const char *what;
	int disabled, self_nat, self_cert, peer_cert, peer_nat;
	enum eca_role self_role, peer_role;
	enum eca_purpose purpose;
	int allowed;
	const char *why; /* a substring of the phrase, when refused */
};

static const struct rule_case rule_cases[] = {
    /* Refusals first. */
    {"disabled on this host", 1, 0, 1, 1, 0, ECA_ROLE_CLIENT, ECA_ROLE_MEDIA,
	ECA_PURPOSE_BACKUP, 0, "ECA_DISABLE_AUTO_ENROLLMENT"},
    {"disabled media server", 1, 0, 1, 1, 0, ECA_ROLE_MEDIA, ECA_ROLE_CLIENT,
	ECA_PURPOSE_RESTORE, 0, "ECA_DISABLE_AUTO_ENROLLMENT"},
    {"no certificate here", 0, 0, 0, 1, 0, ECA_ROLE_CLIENT, ECA_ROLE_MEDIA,
	ECA_PURPOSE_BACKUP, 0, "ECA_CERT_PATH"},
    {"no certificate there", 0, 0, 1, 0, 0, ECA_ROLE_CLIENT, ECA_ROLE_MEDIA,
	ECA_PURPOSE_BACKUP, 0, "peer has no external certificate"},
    {"peer is a NAT client", 0, 0, 1, 1, 1, ECA_ROLE_MEDIA, ECA_ROLE_CLIENT,
	ECA_PURPOSE_BACKUP, 0,
	"communication with a NAT host does not enroll automatically"},
    {"this host is a NAT client", 0, 1, 1, 1, 0, ECA_ROLE_CLIENT,
	ECA_ROLE_MEDIA, ECA_PURPOSE_BACKUP, 0,
	"communication with a NAT host does not enroll automatically"},
    {"console from a client", 0, 0, 1, 1, 0, ECA_ROLE_CLIENT, ECA_ROLE_PRIMARY,
	ECA_PURPOSE_CONSOLE, 0, "console"},
    {"console between media", 0, 0, 1, 1, 0, ECA_ROLE_MEDIA, ECA_ROLE_MEDIA,
	ECA_PURPOSE_CONSOLE, 0, "console"},
    {"replication media to media", 0, 0, 1, 1, 0, ECA_ROLE_MEDIA,
	ECA_ROLE_MEDIA, ECA_PURPOSE_REPLICATION, 0,
	"replication between media servers needs manual enrollment"},
    /* Allowed. */
    {"backup client to media", 0, 0, 1, 1, 0, ECA_ROLE_CLIENT, ECA_ROLE_MEDIA,
	ECA_PURPOSE_BACKUP, 1, NULL},
    {"restore media to client", 0, 0, 1, 1, 0, ECA_ROLE_MEDIA, ECA_ROLE_CLIENT,
	ECA_PURPOSE_RESTORE, 1, NULL},
    {"backup between media", 0, 0, 1, 1, 0, ECA_ROLE_MEDIA, ECA_ROLE_MEDIA,
	ECA_PURPOSE_BACKUP, 1, NULL},
    {"replication media to primary", 0, 0, 1, 1, 0, ECA_ROLE_MEDIA,
	ECA_ROLE_PRIMARY, ECA_PURPOSE_REPLICATION, 1, NULL},
    {"replication client to media", 0, 0, 1, 1, 0, ECA_ROLE_CLIENT,
	ECA_ROLE_MEDIA, ECA_PURPOSE_REPLICATION, 1, NULL},
    {"ping client to client", 0, 0, 1, 1, 0, ECA_ROLE_CLIENT, ECA_ROLE_CLIENT,
	ECA_PURPOSE_PING, 1, NULL},
    {"control to the primary", 0, 0, 1, 1, 0, ECA_ROLE_MEDIA, ECA_ROLE_PRIMARY,
	ECA_PURPOSE_CONTROL, 1, NULL},
};

static void
test_autoenroll_rule_table(void **state)
{
	const struct rule_case *c;
	struct eca_config cfg;
	const char *why;
	size_t i;
	int got;

	(void)state;
	for (i = 0; i < sizeof(rule_cases) / sizeof(rule_cases[0]); i++) {
		c = &rule_cases[i];
		memset(&cfg, 0, sizeof(cfg));
		cfg.disable_auto_enrollment = c->disabled;
		cfg.nat_client = c->self_nat;
		cfg.role = c->self_role;
		why = "unset";
		got = eca_autoenroll_allowed(&cfg, c->self_cert, c->peer_role,
		    c->peer_cert, c->peer_nat, c->purpose, &why);
		if (got != c->allowed)
			fail_msg("case \"%s\": allowed %d, expected %d",
			    c->what, got, c->allowed);
		if (c->allowed) {
			assert_null(why);
		} else {
			assert_non_null(why);
			if (strstr(why, c->why) == NULL)
				fail_msg("case \"%s\": phrase \"%s\" lacks "
					 "\"%s\"",
				    c->what, why, c->why);
		}
		/* why may be NULL. */
		assert_int_equal(eca_autoenroll_allowed(&cfg, c->self_cert,
				     c->peer_role, c->peer_cert, c->peer_nat,
				     c->purpose, NULL),
		    c->allowed);
	}
}

/* ------------------------------------------------------------------ */
/* Fixtures: a CA, this host's files, a configuration.                 */

struct fx {
	struct testca *ca;
	char *dir;   /* certificates */
	char *state; /* STATE_DIR */
	X509 *leaf;
	EVP_PKEY *key;
	struct eca_config *cfg;
	struct eca_host *h;
};

static int
setup(void **state)
{
	struct testca_leaf_opts o;
	struct fx *f;

	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->ca = testca_new("Host");
	f->dir = testca_tmpdir();
	f->state = testca_tmpdir();
	memset(&o, 0, sizeof(o));
	o.cn = SELF;
	o.san = SELF;
	testca_leaf(f->ca, &o, &f->leaf, &f->key);
	testca_write_host(f->dir, f->ca, f->leaf, f->key);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	eca_host_free(f->h);
	eca_config_free(f->cfg);
	X509_free(f->leaf);
	EVP_PKEY_free(f->key);
	testca_rmdir(f->dir);
	testca_rmdir(f->state);
	testca_free(f->ca);
	free(f);
	return 0;
}

/* Parse a configuration: certs (or not), SERVER at 127.0.0.1:port. */
static void
load_cfg(struct fx *f, int certs, int port, const char *extra)
{
	char buf[4096];
	struct eca_err e;
	int n;

	n = snprintf(buf, sizeof(buf),
	    "CLIENT_NAME = " SELF "\n"
	    "SERVER = " PRIMARY " 127.0.0.1:%d\n"
	    "SERVER = other.example 127.0.0.1:%d\n"
	    "STATE_DIR = %s\n",
	    port, port, f->state);
	if (certs)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n,
		    "ECA_CERT_PATH = %s/cert.pem\n"
		    "ECA_PRIVATE_KEY_PATH = %s/key.pem\n"
		    "ECA_TRUST_STORE_PATH = %s/trust.pem\n",
		    f->dir, f->dir, f->dir);
	if (extra != NULL)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s", extra);
	eca_err_clear(&e);
	if (eca_config_parse(buf, strlen(buf), "test.conf", &f->cfg, &e) != 0)
		fail_msg("config: %s", e.msg);
}

static void
new_host(struct fx *f)
{
	struct eca_err e;

	eca_err_clear(&e);
	if (eca_host_new(NULL, f->cfg, &f->h, &e) != 0)
		fail_msg("eca_host_new: %s", e.msg);
}

/* A port on 127.0.0.1 nothing listens on. */
static int
closed_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd, port;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* Host i's record, as the primary's change feed carries it. */
static void
change(struct eca_change *c, const char *host, enum eca_state st,
    const char *fp_hex, int64_t version)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->host, sizeof(c->host), "%s", host);
	snprintf(c->host_id, sizeof(c->host_id),
	    "%08x-0000-4000-8000-000000000001", (unsigned)version);
	c->state = st;
	snprintf(c->fingerprint, sizeof(c->fingerprint), "%s", fp_hex);
	memset(c->spki_fingerprint, 'c', ECA_FP_HEX_LEN);
	c->spki_fingerprint[ECA_FP_HEX_LEN] = '\0';
	c->not_after = 1900000000;
	c->version = version;
}

static char *
roster_body(const char *primary, int64_t since, int64_t next, int full,
    int more, const struct eca_change *ch, size_t n)
{
	json_t *j;
	char *s;

	j = eca_wire_roster(&(struct eca_wire_roster_page){.primary = primary,
				.since = since,
				.version = next,
				.next = next,
				.full = full,
				.more = more},
	    ch, n);
	assert_non_null(j);
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	assert_non_null(s);
	return s;
}

/* Save a roster file for PRIMARY in f->state, synced at synced_at. */
static void
save_roster(struct fx *f, int64_t synced_at)
{
	struct eca_roster *r = NULL;
	struct eca_roster_delta *d = NULL;
	struct eca_change ch[3];
	char path[PATH_MAX], *body, fp[ECA_FP_HEX_LEN + 1];

	memset(fp, 'a', ECA_FP_HEX_LEN);
	fp[ECA_FP_HEX_LEN] = '\0';
	change(&ch[0], "media1.example", ECA_STATE_ENROLLED, fp, 1);
	fp[0] = 'b';
	change(&ch[1], "client2.example", ECA_STATE_BANNED, fp, 2);
	fp[0] = 'c';
	change(&ch[2], "client3.example", ECA_STATE_REMOVED, fp, 3);
	body = roster_body(PRIMARY, 0, 3, 1, 0, ch, 3);
	assert_int_equal(eca_roster_new(PRIMARY, &r, NULL), 0);
	assert_int_equal(eca_roster_delta_parse(body, strlen(body), &d, NULL),
	    0);
	assert_int_equal(eca_roster_apply(r, d, synced_at, NULL), 0);
	assert_int_equal(
	    eca_roster_path(f->state, PRIMARY, path, sizeof(path), NULL), 0);
	assert_int_equal(eca_roster_save(r, path, NULL), 0);
	eca_roster_delta_free(d);
	eca_roster_free(r);
	free(body);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ */
/* The host context and lookups without network.                       */

static void
test_host_with_unreadable_certificate_is_refused(void **state)
{
	struct fx *f = *state;
	struct eca_err e;

	load_cfg(f, 0, closed_port(),
	    "ECA_CERT_PATH = /nonexistent/cert.pem\n"
	    "ECA_PRIVATE_KEY_PATH = /nonexistent/key.pem\n"
	    "ECA_TRUST_STORE_PATH = /nonexistent/trust.pem\n");
	eca_err_clear(&e);
	assert_int_not_equal(eca_host_new(NULL, f->cfg, &f->h, &e), 0);
	assert_null(f->h);
	assert_true(strlen(e.msg) > 0);
}

static void
test_host_without_certificate_cannot_sync_or_enroll(void **state)
{
	struct fx *f = *state;
	struct eca_domain *d;
	enum eca_enroll_outcome oc;
	struct eca_err e;

	load_cfg(f, 0, closed_port(), NULL);
	new_host(f);
	assert_null(f->h->cred);
	assert_null(f->h->client_ctx);
	assert_int_equal(f->h->ndomains, 2);
	assert_int_equal(f->h->roster_max_age, ECA_ROSTER_MAX_AGE_DEFAULT);
	assert_string_equal(f->h->self.fingerprint, "");
	/* Domains by primary name, case-insensitively. */
	d = eca_host_domain(f->h, "PRIMARY.Example");
	assert_ptr_equal(d, &f->h->domains[0]);
	assert_ptr_equal(eca_host_domain(f->h, "other.example"),
	    &f->h->domains[1]);
	assert_null(eca_host_domain(f->h, "nobody.example"));
	assert_null(eca_host_domain(f->h, NULL));
	assert_int_equal(eca_domain_is_enrolled(f->h, d), 0);

	eca_err_clear(&e);
	assert_int_equal(eca_domain_sync(f->h, d, 0, &e),
	    ECA_ERR_NO_CLIENT_CERT);
	assert_non_null(strstr(e.msg, "ECA_CERT_PATH"));
	assert_int_equal(d->last_sync_err.code, ECA_ERR_NO_CLIENT_CERT);
	eca_err_clear(&e);
	assert_int_equal(
	    eca_domain_enroll(f->h, d, 0, ECA_METHOD_AUTO, &oc, NULL, &e),
	    ECA_ERR_NO_CLIENT_CERT);
	assert_int_equal(oc, ECA_OUTCOME_NONE);
	assert_int_equal(d->sync_count, 0);
}

static void
test_corrupt_roster_file_is_ignored_and_starts_empty(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX];

	assert_int_equal(
	    eca_roster_path(f->state, PRIMARY, path, sizeof(path), NULL), 0);
	testca_write_file(path, "not a roster", 12, 0600);
	load_cfg(f, 0, closed_port(), NULL);
	new_host(f);
	assert_int_equal(eca_roster_count(f->h->domains[0].roster), 0);
	assert_int_equal(eca_roster_version(f->h->domains[0].roster), 0);
}

static void
test_stale_roster_with_unreachable_primary_is_roster_stale(void **state)
{
	struct fx *f = *state;
	struct eca_roster_entry ent;
	struct eca_domain *d;
	struct eca_err e;

	/* Synced two hours ago; the maximum age is one. */
	save_roster(f, (int64_t)time(NULL) - 7200);
	load_cfg(f, 1, closed_port(), "ECA_ROSTER_MAX_AGE = 3600\n");
	new_host(f);
	d = eca_host_domain(f->h, PRIMARY);
	assert_int_equal(eca_roster_count(d->roster), 3);
	eca_err_clear(&e);
	assert_int_equal(eca_domain_refresh(f->h, d, "media1.example", 0, &e),
	    ECA_ERR_UNREACHABLE);
	/* Even a host the roster holds: fail closed. */
	eca_err_clear(&e);
	assert_int_equal(
	    eca_domain_peek(f->h, d, "media1.example", &ent, NULL, &e),
	    ECA_ERR_ROSTER_STALE);
	assert_int_equal(e.code, ECA_ERR_ROSTER_STALE);
	assert_non_null(strstr(e.msg, "ECA_ROSTER_MAX_AGE"));
	/* The failed refresh is in the message. */
	assert_non_null(strstr(e.msg, "cannot sync"));
	assert_int_equal(d->last_sync_err.code, ECA_ERR_UNREACHABLE);
	assert_int_equal(d->sync_count, 0);
}

static void
test_never_synced_roster_with_unreachable_primary_is_roster_stale(void **state)
{
	struct fx *f = *state;
	struct eca_roster_entry ent;
	struct eca_err e;

	load_cfg(f, 1, closed_port(), NULL);
	new_host(f);
	eca_err_clear(&e);
	assert_int_equal(eca_domain_refresh(f->h, &f->h->domains[0],
			     "media1.example", 0, NULL),
	    ECA_ERR_UNREACHABLE);
	assert_int_equal(eca_domain_peek(f->h, &f->h->domains[0],
			     "media1.example", &ent, NULL, &e),
	    ECA_ERR_ROSTER_STALE);
	assert_non_null(strstr(e.msg, "never been synced"));
}

static void
test_missing_host_waits_then_is_not_found(void **state)
{
	struct fx *f = *state;
	struct eca_roster_entry ent;
	struct eca_domain *d;
	struct eca_err e;
	int64_t t0, ms;

	save_roster(f, (int64_t)time(NULL));
	load_cfg(f, 1, closed_port(), NULL);
	new_host(f);
	d = &f->h->domains[0];
	eca_err_clear(&e);
	t0 = now_ms();
	assert_int_equal(eca_domain_refresh(f->h, d, "nobody.example", 600, &e),
	    ECA_ERR_UNREACHABLE);
	ms = now_ms() - t0;
	assert_true(ms >= 550);
	assert_true(ms < 5000);
	/* It kept trying (the primary is down: every try failed). */
	assert_int_equal(d->last_sync_err.code, ECA_ERR_UNREACHABLE);
	assert_int_equal(
	    eca_domain_peek(f->h, d, "nobody.example", &ent, NULL, &e),
	    ECA_ERR_NOT_FOUND);
	assert_non_null(strstr(e.msg, "nobody.example"));
}

static void
test_removed_host_is_refreshed_once_without_waiting(void **state)
{
	struct fx *f = *state;
	struct eca_roster_entry ent;
	struct eca_domain *d;
	int64_t t0;

	save_roster(f, (int64_t)time(NULL));
	load_cfg(f, 1, closed_port(), NULL);
	new_host(f);
	d = &f->h->domains[0];
	t0 = now_ms();
	/* In the roster (REMOVED): nothing to wait for. */
	assert_int_equal(eca_domain_refresh(f->h, d, "client3.example",
			     ECA_ENROLL_WAIT_MS, NULL),
	    ECA_ERR_UNREACHABLE);
	assert_true(now_ms() - t0 < ECA_ENROLL_WAIT_MS / 2);
	assert_int_equal(
	    eca_domain_peek(f->h, d, "client3.example", &ent, NULL, NULL), 0);
	assert_int_equal(ent.state, ECA_STATE_REMOVED);
	/* One refresh was tried (and failed: the primary is down). */
	assert_int_not_equal(d->last_sync_try, 0);
	assert_int_equal(d->last_sync_err.code, ECA_ERR_UNREACHABLE);
}

static void
test_peek_on_a_loaded_roster_needs_no_network(void **state)
{
	struct fx *f = *state;
	struct eca_roster_entry ent;
	struct eca_domain *d;
	struct eca_err e;

	save_roster(f, (int64_t)time(NULL));
	/* Unreachable primary: any call to it would fail the lookup. */
	load_cfg(f, 1, closed_port(), NULL);
	new_host(f);
	d = eca_host_domain(f->h, PRIMARY);
	eca_err_clear(&e);
	assert_int_equal(
	    eca_domain_peek(f->h, d, "media1.example", &ent, NULL, &e), 0);
	assert_string_equal(ent.host, "media1.example");
	assert_int_equal(ent.state, ECA_STATE_ENROLLED);
	assert_int_equal(ent.version, 1);
	/* A banned host is found, with its state, for the verdict. */
	assert_int_equal(
	    eca_domain_peek(f->h, d, "client2.example", &ent, NULL, &e), 0);
	assert_int_equal(ent.state, ECA_STATE_BANNED);
	assert_int_equal(d->last_sync_try, 0);
	assert_int_equal(d->sync_count, 0);
}

/*
 * eca_domain_peek is what ecad's judges use: never the network, never a
 * wait.  Negative cases first: a miss, a stale roster, then a hit.
 */
static void
test_peek_never_syncs_nor_waits(void **state)
{
	struct fx *f = *state;
	struct eca_roster_entry ent;
	struct eca_domain *d;
	struct eca_err e;
	int64_t t0, synced = -1;

	save_roster(f, (int64_t)time(NULL));
	load_cfg(f, 1, closed_port(), NULL);
	new_host(f);
	d = eca_host_domain(f->h, PRIMARY);
	eca_err_clear(&e);
	t0 = now_ms();
	assert_int_equal(
	    eca_domain_peek(f->h, d, "nobody.example", &ent, &synced, &e),
	    ECA_ERR_NOT_FOUND);
	assert_non_null(strstr(e.msg, "nobody.example"));
	assert_true(now_ms() - t0 < 500);
	assert_int_equal(synced, 0);
	assert_int_equal(d->last_sync_try, 0);
	/* A hit, with its state (REMOVED is the caller's to judge). */
	assert_int_equal(
	    eca_domain_peek(f->h, d, "client3.example", &ent, NULL, &e), 0);
	assert_int_equal(ent.state, ECA_STATE_REMOVED);
	assert_int_equal(
	    eca_domain_peek(f->h, d, "media1.example", &ent, NULL, NULL), 0);
	assert_int_equal(ent.state, ECA_STATE_ENROLLED);
	assert_int_equal(eca_domain_roster_version(d),
	    eca_roster_version(d->roster));
	assert_true(eca_domain_roster_version(d) > 0);
	assert_int_equal(eca_domain_roster_version(NULL), 0);
	/* A failed sync counts as finished: a parked caller goes on. */
	assert_int_not_equal(eca_domain_sync(f->h, d, 0, NULL), 0);
	assert_int_equal(
	    eca_domain_peek(f->h, d, "media1.example", &ent, &synced, NULL), 0);
	assert_int_equal(synced, 1);
	assert_int_not_equal(d->last_sync_try, 0);
}

/*
 * An unmapped subject (ECA_IDENTITY = DN): a caller that may not wait
 * (ecad's I/O threads) is told so and nothing is asked of the primary;
 * one that may wait has the roster refreshed once.
 */
static void
test_dn_lookup_that_may_not_wait_never_syncs(void **state)
{
	struct fx *f = *state;
	struct eca_dn_lookup lk;
	char host[ECA_HOST_MAX];

	save_roster(f, (int64_t)time(NULL));
	load_cfg(f, 1, closed_port(), NULL);
	new_host(f);
	lk.h = f->h;
	lk.d = eca_host_domain(f->h, PRIMARY);
	lk.nowait = 1;
	assert_int_equal(
	    eca_domain_dn_map(&lk, "CN=nobody", host, sizeof(host)),
	    ECA_ERR_WOULD_WAIT);
	assert_int_equal(lk.d->last_sync_try, 0);
	lk.nowait = 0;
	assert_int_equal(
	    eca_domain_dn_map(&lk, "CN=nobody", host, sizeof(host)),
	    ECA_ERR_NOT_FOUND);
	assert_int_not_equal(lk.d->last_sync_try, 0);
}

static void
test_peek_on_a_stale_roster_is_roster_stale(void **state)
{
	struct fx *f = *state;
	struct eca_roster_entry ent;
	struct eca_err e;
	struct eca_domain *d;

	save_roster(f, (int64_t)time(NULL) - 7200);
	load_cfg(f, 1, closed_port(), "ECA_ROSTER_MAX_AGE = 3600\n");
	new_host(f);
	d = eca_host_domain(f->h, PRIMARY);
	eca_err_clear(&e);
	assert_int_equal(
	    eca_domain_peek(f->h, d, "media1.example", &ent, NULL, &e),
	    ECA_ERR_ROSTER_STALE);
	assert_non_null(strstr(e.msg, "ECA_ROSTER_MAX_AGE"));
	/* No sync was tried for it. */
	assert_int_equal(d->last_sync_try, 0);
	assert_int_equal(eca_domain_peek(NULL, d, "x", &ent, NULL, NULL),
	    ECA_ERR_INTERNAL);
}

/* ------------------------------------------------------------------ */
/* Local enrollment state.                                             */

static void
write_state(struct fx *f, const char *primary, const char *host, const char *fp,
    const char *id)
{
	char path[PATH_MAX], buf[1024];

	snprintf(path, sizeof(path), "%s/enrollment-%s.json", f->state,
	    PRIMARY);
	snprintf(buf, sizeof(buf),
	    "{\"primary\": \"%s\", \"host\": \"%s\", "
	    "\"fingerprint\": \"%s\", \"host_id\": \"%s\", "
	    "\"at\": \"2026-01-01T00:00:00Z\"}",
	    primary, host, fp, id);
	testca_write_file(path, buf, strlen(buf), 0600);
}

static void
test_malformed_state_file_is_ignored(void **state)
{
	struct fx *f = *state;
	struct eca_certinfo ci;

	assert_int_equal(eca_x509_info(f->leaf, &ci, NULL), 0);
	/* Bad host ID. */
	write_state(f, PRIMARY, SELF, ci.fingerprint, "not-a-uuid");
	load_cfg(f, 1, closed_port(), NULL);
	new_host(f);
	assert_int_equal(f->h->domains[0].enrolled, 0);
	assert_int_equal(eca_domain_is_enrolled(f->h, &f->h->domains[0]), 0);
	eca_host_free(f->h);
	f->h = NULL;
	/* Another host's record. */
	write_state(f, PRIMARY, "someone.example", ci.fingerprint,
	    "0e5c7f0a-5a0f-4c1e-9a55-0b1d1c2e3f40");
	new_host(f);
	assert_int_equal(eca_domain_is_enrolled(f->h, &f->h->domains[0]), 0);
	eca_host_free(f->h);
	f->h = NULL;
	/* Not JSON. */
	write_state(f, "\"", SELF, ci.fingerprint, "x");
	new_host(f);
	assert_int_equal(eca_domain_is_enrolled(f->h, &f->h->domains[0]), 0);
}

static void
test_state_of_another_certificate_is_not_enrolled(void **state)
{
	struct fx *f = *state;
	char fp[ECA_FP_HEX_LEN + 1];

	memset(fp, 'd', ECA_FP_HEX_LEN);
	fp[ECA_FP_HEX_LEN] = '\0';
	write_state(f, PRIMARY, SELF, fp,
	    "0e5c7f0a-5a0f-4c1e-9a55-0b1d1c2e3f40");
	load_cfg(f, 1, closed_port(), NULL);
	new_host(f);
	/* Recorded, but for a certificate this host no longer has. */
	assert_int_equal(f->h->domains[0].enrolled, 1);
	assert_int_equal(eca_domain_is_enrolled(f->h, &f->h->domains[0]), 0);
}

static void
test_state_file_of_current_certificate_is_enrolled(void **state)
{
	struct fx *f = *state;
	struct eca_certinfo ci;

	assert_int_equal(eca_x509_info(f->leaf, &ci, NULL), 0);
	write_state(f, PRIMARY, SELF, ci.fingerprint,
	    "0e5c7f0a-5a0f-4c1e-9a55-0b1d1c2e3f40");
	load_cfg(f, 1, closed_port(), NULL);
	new_host(f);
	assert_string_equal(f->h->self.fingerprint, ci.fingerprint);
	assert_int_equal(eca_domain_is_enrolled(f->h, &f->h->domains[0]), 1);
	assert_string_equal(f->h->domains[0].host_id,
	    "0e5c7f0a-5a0f-4c1e-9a55-0b1d1c2e3f40");
	/* The other domain knows nothing of it. */
	assert_int_equal(eca_domain_is_enrolled(f->h, &f->h->domains[1]), 0);
}

/* ------------------------------------------------------------------ */
/* A fake primary: TLS on 127.0.0.1, canned answers in order.          */

#define FAKE_MAX 8

struct fake {
	SSL_CTX *ctx;
	int lfd, port;
	pthread_t th;
	int n; /* answers queued */
	long status[FAKE_MAX];
	char *body[FAKE_MAX];
	int served;
	int delay_ms;		 /* before each answer */
	char req[FAKE_MAX][512]; /* request lines seen */
	char req_body[FAKE_MAX][1024];
};

/* Read one HTTP request; 0, or -1 at end of connection. */
static int
fake_read(SSL *ssl, char *line, size_t linesz, char *body, size_t bodysz)
{
	char buf[8192], *eoh, *cl;
	size_t len = 0, hlen, blen = 0;
	int n;

	for (;;) {
		if (len + 1 >= sizeof(buf))
			return -1;
		if ((n = SSL_read(ssl, buf + len,
			 (int)(sizeof(buf) - 1 - len))) <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
		if ((eoh = strstr(buf, "\r\n\r\n")) == NULL)
			continue;
		hlen = (size_t)(eoh - buf) + 4;
		if ((cl = strcasestr(buf, "content-length:")) != NULL &&
		    cl < eoh)
			blen = strtoul(cl + 15, NULL, 10);
		if (len >= hlen + blen)
			break;
	}
	snprintf(line, linesz, "%.*s", (int)strcspn(buf, "\r\n"), buf);
	snprintf(body, bodysz, "%.*s", (int)blen, buf + hlen);
	return 0;
}

static void *
fake_main(void *arg)
{
	struct fake *f = arg;
	char head[256], line[512], body[1024];
	SSL *ssl;
	int fd, i;

	while (f->served < f->n) {
		if ((fd = accept(f->lfd, NULL, NULL)) == -1)
			break;
		ssl = SSL_new(f->ctx);
		SSL_set_fd(ssl, fd);
		if (SSL_accept(ssl) == 1) {
			while (f->served < f->n &&
			    fake_read(ssl, line, sizeof(line), body,
				sizeof(body)) == 0) {
				if (f->delay_ms > 0)
					usleep((useconds_t)f->delay_ms * 1000);
				i = f->served++;
				snprintf(f->req[i], sizeof(f->req[i]), "%s",
				    line);
				snprintf(f->req_body[i], sizeof(f->req_body[i]),
				    "%s", body);
				snprintf(head, sizeof(head),
				    "HTTP/1.1 %ld X\r\n"
				    "Content-Type: application/json\r\n"
				    "Content-Length: %zu\r\n\r\n",
				    f->status[i], strlen(f->body[i]));
				SSL_write(ssl, head, (int)strlen(head));
				SSL_write(ssl, f->body[i],
				    (int)strlen(f->body[i]));
			}
		}
		SSL_shutdown(ssl);
		SSL_free(ssl);
		close(fd);
	}
	ERR_clear_error();
	return NULL;
}

/* Start a fake primary for PRIMARY; answers added with fake_answer. */
static struct fake *
fake_new(struct fx *f)
{
	struct testca_leaf_opts o;
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	struct fake *k;
	EVP_PKEY *key;
	X509 *cert;

	k = calloc(1, sizeof(*k));
	assert_non_null(k);
	memset(&o, 0, sizeof(o));
	o.cn = PRIMARY;
	o.san = PRIMARY;
	testca_leaf(f->ca, &o, &cert, &key);
	k->ctx = SSL_CTX_new(TLS_server_method());
	assert_non_null(k->ctx);
	assert_int_equal(SSL_CTX_use_certificate(k->ctx, cert), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(k->ctx, key), 1);
	assert_int_equal(SSL_CTX_add1_chain_cert(k->ctx, f->ca->inter), 1);
	X509_free(cert);
	EVP_PKEY_free(key);
	k->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(k->lfd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(k->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(k->lfd, 8), 0);
	assert_int_equal(getsockname(k->lfd, (struct sockaddr *)&sa, &len), 0);
	k->port = ntohs(sa.sin_port);
	return k;
}

static void
fake_answer(struct fake *k, long status, char *body)
{
	assert_true(k->n < FAKE_MAX);
	k->status[k->n] = status;
	k->body[k->n++] = body;
}

static void
fake_run(struct fake *k)
{
	assert_int_equal(pthread_create(&k->th, NULL, fake_main, k), 0);
}

/* Stop; the number of requests it served. */
static int
fake_stop(struct fake *k)
{
	int i, served;

	shutdown(k->lfd, SHUT_RDWR);
	pthread_join(k->th, NULL);
	close(k->lfd);
	served = k->served;
	for (i = 0; i < k->n; i++)
		free(k->body[i]);
	SSL_CTX_free(k->ctx);
	free(k);
	return served;
}

static char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	assert_non_null(p);
	return p;
}

static void
test_sync_refuses_a_roster_from_another_primary(void **state)
{
	struct fx *f = *state;
	struct eca_change ch;
	struct fake *k;
	struct eca_err e;
	char fp[ECA_FP_HEX_LEN + 1];

	memset(fp, 'a', ECA_FP_HEX_LEN);
	fp[ECA_FP_HEX_LEN] = '\0';
	change(&ch, "media1.example", ECA_STATE_ENROLLED, fp, 1);
	k = fake_new(f);
	fake_answer(k, 200,
	    roster_body("impostor.example", 0, 1, 1, 0, &ch, 1));
	load_cfg(f, 1, k->port, NULL);
	new_host(f);
	fake_run(k);
	eca_err_clear(&e);
	assert_int_equal(eca_domain_sync(f->h, &f->h->domains[0], 0, &e),
	    ECA_ERR_PROTOCOL);
	assert_non_null(strstr(e.msg, "impostor.example"));
	assert_int_equal(eca_roster_count(f->h->domains[0].roster), 0);
	assert_int_equal(f->h->domains[0].sync_count, 0);
	assert_int_equal(fake_stop(k), 1);
}

static void
test_sync_error_answer_keeps_the_primary_reason(void **state)
{
	struct fx *f = *state;
	struct fake *k;
	struct eca_err e;

	k = fake_new(f);
	fake_answer(k, 403,
	    xstrdup("{\"error\": {\"code\": \"UNTRUSTED\", "
		    "\"message\": \"your certificate is not trusted here\"}}"));
	load_cfg(f, 1, k->port, NULL);
	new_host(f);
	fake_run(k);
	eca_err_clear(&e);
	assert_int_equal(eca_domain_sync(f->h, &f->h->domains[0], 0, &e),
	    ECA_ERR_UNTRUSTED);
	assert_non_null(strstr(e.msg, "not trusted here"));
	assert_non_null(strstr(e.msg, PRIMARY));
	assert_int_equal(fake_stop(k), 1);
}

static void
test_sync_fetches_every_page_then_deltas_and_persists(void **state)
{
	struct fx *f = *state;
	struct eca_roster_entry ent;
	struct eca_roster *loaded = NULL;
	struct eca_change ch[3];
	struct eca_domain *d;
	struct fake *k;
	struct eca_err e;
	char fp[ECA_FP_HEX_LEN + 1], path[PATH_MAX];

	memset(fp, 'a', ECA_FP_HEX_LEN);
	fp[ECA_FP_HEX_LEN] = '\0';
	change(&ch[0], "media1.example", ECA_STATE_ENROLLED, fp, 1);
	fp[0] = 'b';
	change(&ch[1], "media2.example", ECA_STATE_ENROLLED, fp, 2);
	fp[0] = 'c';
	change(&ch[2], "media1.example", ECA_STATE_REMOVED, fp, 3);
	k = fake_new(f);
	/* A full sync in two pages, then a delta. */
	fake_answer(k, 200, roster_body(PRIMARY, 0, 1, 1, 1, &ch[0], 1));
	fake_answer(k, 200, roster_body(PRIMARY, 1, 2, 0, 0, &ch[1], 1));
	fake_answer(k, 200, roster_body(PRIMARY, 2, 3, 0, 0, &ch[2], 1));
	load_cfg(f, 1, k->port, NULL);
	new_host(f);
	f->h->persist_rosters = 1;
	d = &f->h->domains[0];
	fake_run(k);
	eca_err_clear(&e);
	if (eca_domain_sync(f->h, d, 0, &e) != 0)
		fail_msg("sync: %s", e.msg);
	assert_int_equal(d->sync_count, 1);
	assert_int_equal(eca_roster_count(d->roster), 2);
	assert_int_equal(eca_roster_version(d->roster), 2);
	/*
	 * A sync on a miss right after is rate-limited, not skipped: it
	 * waits for the interval to pass, then asks for the changes since
	 * version 2.
	 */
	if (eca_domain_sync(f->h, d, 1, &e) != 0)
		fail_msg("sync: %s", e.msg);
	assert_int_equal(d->sync_count, 2);
	assert_int_equal(
	    eca_roster_lookup_host(d->roster, "media1.example", &ent), 0);
	assert_int_equal(ent.state, ECA_STATE_REMOVED);
	assert_int_equal(fake_stop(k), 3);
	/* Persisted: a restart loads version 3. */
	assert_int_equal(
	    eca_roster_path(f->state, PRIMARY, path, sizeof(path), NULL), 0);
	assert_int_equal(eca_roster_load(path, PRIMARY, &loaded, NULL), 0);
	assert_int_equal(eca_roster_version(loaded), 3);
	assert_int_equal(eca_roster_count(loaded), 2);
	eca_roster_free(loaded);
}

static void
test_sync_asks_since_the_roster_version_with_a_page_limit(void **state)
{
	struct fx *f = *state;
	struct eca_change ch;
	struct fake *k;
	struct eca_err e;
	char fp[ECA_FP_HEX_LEN + 1], want[128];

	memset(fp, 'a', ECA_FP_HEX_LEN);
	fp[ECA_FP_HEX_LEN] = '\0';
	change(&ch, "media1.example", ECA_STATE_ENROLLED, fp, 5);
	k = fake_new(f);
	fake_answer(k, 200, roster_body(PRIMARY, 0, 5, 1, 0, &ch, 1));
	fake_answer(k, 200, roster_body(PRIMARY, 5, 5, 0, 0, NULL, 0));
	load_cfg(f, 1, k->port, NULL);
	new_host(f);
	fake_run(k);
	eca_err_clear(&e);
	if (eca_domain_sync(f->h, &f->h->domains[0], 0, &e) != 0 ||
	    eca_domain_sync(f->h, &f->h->domains[0], 0, &e) != 0)
		fail_msg("sync: %s", e.msg);
	snprintf(want, sizeof(want), "GET /v1/roster?since=0&limit=%d ",
	    ECA_ROSTER_PAGE_MAX);
	assert_non_null(strstr(k->req[0], want));
	snprintf(want, sizeof(want), "GET /v1/roster?since=5&limit=%d ",
	    ECA_ROSTER_PAGE_MAX);
	assert_non_null(strstr(k->req[1], want));
	assert_int_equal(fake_stop(k), 2);
}

static void
test_enroll_refusal_returns_the_primary_reason_and_records_nothing(void **state)
{
	struct fx *f = *state;
	enum eca_enroll_outcome oc;
	struct eca_err e;
	struct fake *k;
	char path[PATH_MAX];
	struct stat st;

	k = fake_new(f);
	fake_answer(k, 403,
	    xstrdup("{\"error\": {\"code\": \"BANNED\", "
		    "\"message\": \"host is banned (eca unban)\"}}"));
	load_cfg(f, 1, k->port, NULL);
	new_host(f);
	fake_run(k);
	eca_err_clear(&e);
	assert_int_equal(eca_domain_enroll(f->h, &f->h->domains[0], 0,
			     ECA_METHOD_AUTO, &oc, NULL, &e),
	    ECA_ERR_BANNED);
	assert_non_null(strstr(e.msg, "banned"));
	assert_int_equal(eca_domain_is_enrolled(f->h, &f->h->domains[0]), 0);
	snprintf(path, sizeof(path), "%s/enrollment-%s.json", f->state,
	    PRIMARY);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(fake_stop(k), 1);
}

/* The answer to POST /v1/enrollments for this host's certificate. */
static char *
enroll_answer(struct fx *f, const char *outcome)
{
	struct eca_enrollment rec;
	json_t *j;
	char *s;

	memset(&rec, 0, sizeof(rec));
	snprintf(rec.primary, sizeof(rec.primary), PRIMARY);
	snprintf(rec.host, sizeof(rec.host), SELF);
	snprintf(rec.host_id, sizeof(rec.host_id),
	    "0e5c7f0a-5a0f-4c1e-9a55-0b1d1c2e3f40");
	rec.state = ECA_STATE_ENROLLED;
	rec.method = ECA_METHOD_AUTO;
	assert_int_equal(eca_x509_info(f->leaf, &rec.cert, NULL), 0);
	rec.enrolled_at = rec.updated_at = 1800000000;
	rec.version = 4;
	j = json_pack("{s:s, s:b, s:o}", "outcome", outcome, "precheck", 0,
	    "enrollment", eca_wire_enrollment(&rec));
	assert_non_null(j);
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	assert_non_null(s);
	return s;
}

static void
test_enroll_records_local_state_that_survives_a_restart(void **state)
{
	struct fx *f = *state;
	struct eca_enrollment rec;
	enum eca_enroll_outcome oc;
	struct eca_err e;
	struct fake *k;
	json_t *body;
	char path[PATH_MAX];
	struct stat st;

	k = fake_new(f);
	fake_answer(k, 201, enroll_answer(f, "ENROLLED"));
	load_cfg(f, 1, k->port, "ROLE = media\n");
	new_host(f);
	fake_run(k);
	eca_err_clear(&e);
	if (eca_domain_enroll(f->h, &f->h->domains[0], 0, ECA_METHOD_AUTO, &oc,
		&rec, &e) != 0)
		fail_msg("enroll: %s", e.msg);
	assert_int_equal(oc, ECA_OUTCOME_ENROLLED);
	assert_string_equal(rec.host_id,
	    "0e5c7f0a-5a0f-4c1e-9a55-0b1d1c2e3f40");
	assert_int_equal(eca_domain_is_enrolled(f->h, &f->h->domains[0]), 1);
	assert_int_equal(eca_domain_is_enrolled(f->h, &f->h->domains[1]), 0);
	/* The request: this host, auto, its role. */
	assert_non_null(strstr(k->req[0], "POST /v1/enrollments "));
	body = json_loads(k->req_body[0], 0, NULL);
	assert_non_null(body);
	assert_string_equal(json_string_value(json_object_get(body, "host")),
	    SELF);
	assert_string_equal(json_string_value(json_object_get(body, "method")),
	    "auto");
	assert_string_equal(json_string_value(json_object_get(body, "role")),
	    "media");
	assert_true(json_is_false(json_object_get(body, "precheck")));
	assert_true(json_is_false(json_object_get(body, "force")));
	json_decref(body);
	assert_int_equal(fake_stop(k), 1);
	/* The state file: private, and read back by a new host context. */
	snprintf(path, sizeof(path), "%s/enrollment-%s.json", f->state,
	    PRIMARY);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	eca_host_free(f->h);
	f->h = NULL;
	new_host(f);
	assert_int_equal(eca_domain_is_enrolled(f->h, &f->h->domains[0]), 1);
	assert_string_equal(f->h->domains[0].host_id,
	    "0e5c7f0a-5a0f-4c1e-9a55-0b1d1c2e3f40");
}

static void
test_precheck_records_nothing(void **state)
{
	struct fx *f = *state;
	enum eca_enroll_outcome oc;
	struct eca_err e;
	struct fake *k;
	json_t *body;

	k = fake_new(f);
	fake_answer(k, 200, enroll_answer(f, "ENROLLED"));
	load_cfg(f, 1, k->port, NULL);
	new_host(f);
	fake_run(k);
	eca_err_clear(&e);
	if (eca_domain_enroll(f->h, &f->h->domains[0], ECA_ENROLL_PRECHECK,
		ECA_METHOD_MANUAL, &oc, NULL, &e) != 0)
		fail_msg("precheck: %s", e.msg);
	assert_int_equal(oc, ECA_OUTCOME_ENROLLED);
	assert_int_equal(eca_domain_is_enrolled(f->h, &f->h->domains[0]), 0);
	body = json_loads(k->req_body[0], 0, NULL);
	assert_non_null(body);
	assert_true(json_is_true(json_object_get(body, "precheck")));
	assert_string_equal(json_string_value(json_object_get(body, "method")),
	    "manual");
	json_decref(body);
	assert_int_equal(fake_stop(k), 1);
}

struct syncer {
	struct eca_host *h;
	int r;
};

static void *
syncer_main(void *arg)
{
	struct syncer *s = arg;

	s->r = eca_domain_sync(s->h, &s->h->domains[0], 0, NULL);
	return NULL;
}

static void
test_concurrent_syncs_share_one_request(void **state)
{
	struct fx *f = *state;
	struct syncer s[4];
	pthread_t th[4];
	struct eca_change ch;
	struct fake *k;
	char fp[ECA_FP_HEX_LEN + 1];
	size_t i;

	memset(fp, 'a', ECA_FP_HEX_LEN);
	fp[ECA_FP_HEX_LEN] = '\0';
	change(&ch, "media1.example", ECA_STATE_ENROLLED, fp, 1);
	k = fake_new(f);
	k->delay_ms = 700;
	fake_answer(k, 200, roster_body(PRIMARY, 0, 1, 1, 0, &ch, 1));
	load_cfg(f, 1, k->port, NULL);
	new_host(f);
	fake_run(k);
	for (i = 0; i < 4; i++) {
		s[i].h = f->h;
		s[i].r = -1;
		assert_int_equal(
		    pthread_create(&th[i], NULL, syncer_main, &s[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(s[i].r, 0);
	}
	assert_int_equal(f->h->domains[0].sync_count, 1);
	assert_int_equal(fake_stop(k), 1);
}

static void
test_refresh_waits_for_an_enrollment_in_flight(void **state)
{
	struct fx *f = *state;
	struct eca_roster_entry ent;
	struct eca_change ch[2];
	struct fake *k;
	struct eca_err e;
	char fp[ECA_FP_HEX_LEN + 1];

	memset(fp, 'a', ECA_FP_HEX_LEN);
	fp[ECA_FP_HEX_LEN] = '\0';
	change(&ch[0], "media1.example", ECA_STATE_ENROLLED, fp, 1);
	fp[0] = 'b';
	change(&ch[1], "client9.example", ECA_STATE_ENROLLED, fp, 2);
	k = fake_new(f);
	/* The first sync does not have the caller yet; the next one does. */
	fake_answer(k, 200, roster_body(PRIMARY, 0, 1, 1, 0, &ch[0], 1));
	fake_answer(k, 200, roster_body(PRIMARY, 1, 2, 0, 0, &ch[1], 1));
	load_cfg(f, 1, k->port, NULL);
	new_host(f);
	fake_run(k);
	eca_err_clear(&e);
	if (eca_domain_refresh(f->h, &f->h->domains[0], "client9.example",
		ECA_ENROLL_WAIT_MS, &e) != 0)
		fail_msg("refresh: %s", e.msg);
	assert_int_equal(eca_domain_peek(f->h, &f->h->domains[0],
			     "client9.example", &ent, NULL, NULL),
	    0);
	assert_int_equal(ent.state, ECA_STATE_ENROLLED);
	assert_int_equal(ent.version, 2);
	assert_int_equal(f->h->domains[0].sync_count, 2);
	assert_int_equal(fake_stop(k), 2);
}

static int
group_setup(void **state)
{
	(void)state;
	return eca_client_global_init() == 0 ? 0 : -1;
}

static int
group_teardown(void **state)
{
	(void)state;
	eca_client_global_cleanup();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_autoenroll_rule_table),
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	    T(test_host_with_unreadable_certificate_is_refused),
	    T(test_host_without_certificate_cannot_sync_or_enroll),
	    T(test_corrupt_roster_file_is_ignored_and_starts_empty),
	    T(test_stale_roster_with_unreachable_primary_is_roster_stale),
	    T(test_never_synced_roster_with_unreachable_primary_is_roster_stale),
	    T(test_missing_host_waits_then_is_not_found),
	    T(test_removed_host_is_refreshed_once_without_waiting),
	    T(test_peek_on_a_loaded_roster_needs_no_network),
	    T(test_peek_never_syncs_nor_waits),
	    T(test_dn_lookup_that_may_not_wait_never_syncs),
	    T(test_peek_on_a_stale_roster_is_roster_stale),
	    T(test_malformed_state_file_is_ignored),
	    T(test_state_of_another_certificate_is_not_enrolled),
	    T(test_state_file_of_current_certificate_is_enrolled),
	    T(test_sync_refuses_a_roster_from_another_primary),
	    T(test_sync_error_answer_keeps_the_primary_reason),
	    T(test_sync_fetches_every_page_then_deltas_and_persists),
	    T(test_sync_asks_since_the_roster_version_with_a_page_limit),
	    T(test_enroll_refusal_returns_the_primary_reason_and_records_nothing),
	    T(test_enroll_records_local_state_that_survives_a_restart),
	    T(test_precheck_records_nothing),
	    T(test_concurrent_syncs_share_one_request),
	    T(test_refresh_waits_for_an_enrollment_in_flight),
#undef T
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
