/* SPDX-License-Identifier: ISC */
/*
 * cmd_status.c - `eca status`: this host's enrollment with each of its
 * primary servers, one row per SERVER line.  One primary failing does not
 * stop the others.
 */
#include <errno.h>
#include <limits.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "crl.h"
#include "output.h"
#include "broker.h"
#include "roster.h"
#include "wire.h"

struct row {
	const char *server;
	const char *status; /* ENROLLED ... UNREACHABLE, ERROR */
	int have_rec;
	struct eca_enrollment rec;
	int code; /* error code, 0 if none */
	char error[ECA_ERR_MSG_MAX];
	/* The local roster of this primary (STATE_DIR), if there is one. */
	int have_roster;
	size_t roster_hosts;
	int64_t roster_version;
	int64_t roster_synced_at; /* 0 never */
	/* A NAT host's broker session (STATE_DIR, written by ecad). */
	int have_broker;
	struct eca_broker_state broker;
};

/* The NAT host's broker session with primary, as ecad last wrote it. */
static void
broker_info(const struct eca_config *cfg, const char *primary, struct row *row)
{
	row->have_broker = cfg->nat_client &&
	    eca_broker_state_load(cfg->state_dir, primary, &row->broker,
		NULL) == 0;
}

static json_t *time_or_null(int64_t t);

static json_t *
broker_json(const struct row *w)
{
	const struct eca_broker_state *b = &w->broker;

	if (!w->have_broker)
		return json_null();
	return json_pack("{s:s, s:b, s:o, s:o, s:o, s:o, s:o}", "address",
	    b->address, "online", b->online, "connected_since",
	    time_or_null(b->online ? b->since : 0), "last_heartbeat",
	    time_or_null(b->last_heartbeat), "code",
	    b->code != 0 ? json_string(eca_err_name(b->code)) : json_null(),
	    "error", b->code != 0 ? json_string(b->error) : json_null(),
	    "next_retry", time_or_null(b->online ? 0 : b->next_retry));
}

/* One line per NAT broker session, under the table. */
static void
print_broker(const struct row *w)
{
	const struct eca_broker_state *b = &w->broker;
	char t1[32], t2[32];

	if (!w->have_broker)
		return;
	if (b->online)
		printf("Broker session with %s (%s): online since %s, last "
		       "heartbeat %s\n",
		    w->server, b->address, out_time(b->since, t1, sizeof(t1)),
		    out_time(b->last_heartbeat, t2, sizeof(t2)));
	else
		printf("Broker session with %s (%s): offline: %s (%s); next "
		       "retry %s\n",
		    w->server, b->address, b->error, eca_err_name(b->code),
		    out_time(b->next_retry, t1, sizeof(t1)));
}

/*
 * The local copy of the primary's roster that ecad (or `eca ping`) keeps
 * in STATE_DIR: how many hosts, which version, how old.  No file, or one
 * that does not load: nothing to show.
 */
static void
roster_info(const struct eca_config *cfg, const char *primary, struct row *row)
{
	struct eca_roster *r = NULL;
	char path[PATH_MAX];

	if (cfg->state_dir == NULL ||
	    eca_roster_path(cfg->state_dir, primary, path, sizeof(path),
		NULL) != 0 ||
	    eca_roster_load(path, primary, &r, NULL) != 0)
		return;
	row->have_roster = 1;
	row->roster_hosts = eca_roster_count(r);
	row->roster_version = eca_roster_version(r);
	row->roster_synced_at = eca_roster_synced_at(r);
	eca_roster_free(r);
}

static const char *
roster_cell(const struct row *w, char *buf, size_t len)
{
	int64_t age;

	if (!w->have_roster)
		return "-";
	age = (int64_t)time(NULL) - w->roster_synced_at;
	if (w->roster_synced_at == 0)
		snprintf(buf, len, "%zu hosts, never synced", w->roster_hosts);
	else
		snprintf(buf, len, "%zu hosts, %" PRId64 " s old",
		    w->roster_hosts, age < 0 ? 0 : age);
	return buf;
}

/*
 * A user who may not read the private key (a monitoring account): say
 * what it can use instead, rather than OpenSSL's words about the key.
 */
static int
unprivileged(struct cli *cli)
{
	const struct eca_endpoint *m = &cli->cfg->metrics_listen;
	char where[300];

	if (cli->cfg->key_path == NULL ||
	    access(cli->cfg->key_path, R_OK) == 0 || errno != EACCES)
		return 0;
	if (m->host != NULL)
		snprintf(where, sizeof(where),
		    "GET http://%s%s%s:%s/metrics (METRICS_LISTEN)",
		    strchr(m->host, ':') != NULL ? "[" : "", m->host,
		    strchr(m->host, ':') != NULL ? "]" : "",
		    m->port != NULL ? m->port : "");
	else
		snprintf(where, sizeof(where),
		    "GET /metrics once METRICS_LISTEN is set in ecad's "
		    "configuration");
	return out_error(cli->json, ECA_ERR_UNREADABLE,
	    "eca status asks each primary with this host's certificate, and "
	    "this user may not read its private key %s (run it as root or "
	    "as the daemon's user); without the key, `eca health` shows a "
	    "primary's health and %s this host's enrollment state and "
	    "roster age (docs/metrics.md)",
	    cli->cfg->key_path, where);
}

/* Status of a record as the table shows it. */
#define CRL_WARN_MAX 16

/*
 * The loud warnings of issue 4 section 1 about this host's CRL cache
 * (STATE_DIR/crl, read only: nothing is fetched): each CRL expired but
 * used in its grace period, and each expired past it.  Returns how many
 * lines were written to warn.
 */
static size_t
crl_warnings(const struct eca_config *cfg, char warn[][600], size_t max)
{
	struct eca_crl_cache *c = NULL;
	struct eca_crl_info *v = NULL;
	struct eca_crl_opts o;
	struct stat sb;
	char dir[PATH_MAX], nu[32];
	size_t i, n = 0, k = 0;

	if (cfg->state_dir == NULL || cfg->crl_check == ECA_CRL_DISABLE)
		return 0;
	snprintf(dir, sizeof(dir), "%s/crl", cfg->state_dir);
	if (stat(dir, &sb) == -1 || !S_ISDIR(sb.st_mode))
		return 0;
	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.grace_hours = cfg->crl_grace_hours;
	o.no_fetch = 1;
	if (eca_crl_cache_new(NULL, &o, &c, NULL) != 0)
		return 0;
	if (eca_crl_cache_list(c, 0, &v, &n, NULL) == 0) {
		for (i = 0; i < n && k < max; i++) {
			if (v[i].state == ECA_CRL_OK)
				continue;
			out_time(v[i].next_update, nu, sizeof(nu));
			if (v[i].state == ECA_CRL_IN_GRACE)
				snprintf(warn[k++], sizeof(warn[0]),
				    "WARNING: "
				    "the CRL of %.200s expired on %s and is "
				    "only used in its grace period "
				    "(ECA_CRL_GRACE_HOURS = %d): publish a "
				    "current CRL, then run `eca crl download`",
				    v[i].issuer, nu, cfg->crl_grace_hours);
			else
				snprintf(warn[k++], sizeof(warn[0]),
				    "WARNING: "
				    "the CRL of %.200s expired on %s, past its "
				    "grace period: certificates it covers are "
				    "refused (CRL_UNAVAILABLE); publish a "
				    "current CRL, then run `eca crl download`",
				    v[i].issuer, nu);
		}
	}
	free(v);
	eca_crl_cache_free(c);
	return k;
}

static const char *
state_status(enum eca_state s)
{
	switch (s) {
	case ECA_STATE_ENROLLED:
		return "ENROLLED";
	case ECA_STATE_CONFLICT:
		return "CONFLICT";
	case ECA_STATE_BANNED:
		return "BANNED";
	case ECA_STATE_REVOKED:
		return "REVOKED";
	case ECA_STATE_REMOVED:
	default:
		return "NOT_ENROLLED";
	}
}

static void
query_one(struct cli *cli, const struct eca_endpoint *ep, const char *path,
    struct row *row)
{
	struct eca_client *c = NULL;
	struct eca_err err;
	json_t *resp = NULL;
	long status;
	int r;

	memset(row, 0, sizeof(*row));
	row->server = ep->name;
	eca_err_clear(&err);
	if ((r = eca_client_new_tls(ep, cli->cred, CLI_TIMEOUT_MS, &c, &err)) !=
	    0)
		goto fail;
	if ((r = eca_client_call(c, "GET", path, NULL, &status, &resp, &err)) !=
	    0)
		goto fail;
	if (resp == NULL ||
	    eca_wire_parse_enrollment(resp, &row->rec, &err) != 0) {
		r = err.code != 0 ? err.code : ECA_ERR_PROTOCOL;
		if (err.msg[0] == '\0')
			eca_err_set(&err, r, "empty answer from %s", ep->name);
		goto fail;
	}
	row->status = state_status(row->rec.state);
	row->have_rec = row->rec.state != ECA_STATE_REMOVED;
	goto out;
fail:
	if (r == ECA_ERR_NOT_ENROLLED || r == ECA_ERR_NOT_FOUND) {
		row->status = "NOT_ENROLLED";
		goto out;
	}
	row->code = r;
	snprintf(row->error, sizeof(row->error), "%s",
	    err.msg[0] != '\0' ? err.msg : eca_err_desc(r));
	row->status = (r == ECA_ERR_UNREACHABLE || r == ECA_ERR_TIMEOUT) ?
	    "UNREACHABLE" :
	    "ERROR";
out:
	json_decref(resp);
	eca_client_free(c);
}

static json_t *
str_or_null(const char *s)
{
	return s != NULL && s[0] != '\0' ? json_string(s) : json_null();
}

static json_t *
time_or_null(int64_t t)
{
	char buf[32];

	if (t == 0)
		return json_null();
	eca_wire_time(t, buf, sizeof(buf));
	return str_or_null(buf);
}

static int
print_json(struct cli *cli, const struct row *rows, size_t n, char warn[][600],
    size_t nwarn)
{
	json_t *top = NULL, *arr, *o, *wa;
	size_t i;
	int r = ECA_ERR_NOMEM;

	if ((top = json_object()) == NULL || (arr = json_array()) == NULL ||
	    json_object_set_new(top, "host",
		json_string(cli->cfg->client_name)) != 0 ||
	    json_object_set_new(top, "servers", arr) != 0 ||
	    (wa = json_array()) == NULL ||
	    json_object_set_new(top, "crl_warnings", wa) != 0)
		goto out;
	for (i = 0; i < nwarn; i++)
		if (json_array_append_new(wa, json_string(warn[i])) != 0)
			goto out;
	for (i = 0; i < n; i++) {
		const struct row *w = &rows[i];

		if ((o = json_object()) == NULL ||
		    json_array_append_new(arr, o) != 0)
			goto out;
		if (json_object_set_new(o, "server", json_string(w->server)) !=
			0 ||
		    json_object_set_new(o, "status", json_string(w->status)) !=
			0 ||
		    json_object_set_new(o, "host_id",
			w->have_rec ? str_or_null(w->rec.host_id) :
				      json_null()) != 0 ||
		    json_object_set_new(o, "fingerprint",
			w->have_rec ? str_or_null(w->rec.cert.fingerprint) :
				      json_null()) != 0 ||
		    json_object_set_new(o, "not_after",
			w->have_rec ? time_or_null(w->rec.cert.not_after) :
				      json_null()) != 0 ||
		    json_object_set_new(o, "enrolled_at",
			w->have_rec ? time_or_null(w->rec.enrolled_at) :
				      json_null()) != 0)
			goto out;
		if (json_object_set_new(o, "broker", broker_json(w)) != 0)
			goto out;
		if (json_object_set_new(o, "roster",
			!w->have_roster ?
			    json_null() :
			    json_pack("{s:I, s:I, s:o}", "hosts",
				(json_int_t)w->roster_hosts, "version",
				(json_int_t)w->roster_version, "synced_at",
				time_or_null(w->roster_synced_at))) != 0)
			goto out;
		if (w->code != 0 &&
		    (json_object_set_new(o, "error", json_string(w->error)) !=
			    0 ||
			json_object_set_new(o, "code",
			    json_string(eca_err_name(w->code))) != 0))
			goto out;
	}
	r = 0;
out:
	return out_json_end(top, r, "the status");
}

static int
print_table(const struct row *rows, size_t n, char warn[][600], size_t nwarn)
{
	static const char *const hdr[] = {"SERVER", "STATUS", "HOST ID",
	    "FINGERPRINT", "EXPIRES", "ENROLLED AT", "LOCAL ROSTER"};
	struct out_table *t;
	char fp[64], na[32], ea[32], ro[64];
	const char *cells[7];
	size_t i;

	if ((t = out_table_new(7, hdr)) == NULL)
		return out_error(0, ECA_ERR_NOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		const struct row *w = &rows[i];

		cells[0] = w->server;
		cells[1] = w->status;
		cells[2] = w->have_rec ? out_dash(w->rec.host_id) : "-";
		cells[3] = w->have_rec ?
		    out_fp_short(w->rec.cert.fingerprint, fp, sizeof(fp)) :
		    "-";
		cells[4] = w->have_rec ?
		    out_time(w->rec.cert.not_after, na, sizeof(na)) :
		    "-";
		cells[5] = w->have_rec ?
		    out_time(w->rec.enrolled_at, ea, sizeof(ea)) :
		    "-";
		cells[6] = roster_cell(w, ro, sizeof(ro));
		if (out_table_add(t, cells) != 0) {
			out_table_free(t);
			return out_error(0, ECA_ERR_NOMEM, "out of memory");
		}
	}
	out_table_print(t, stdout);
	out_table_free(t);
	for (i = 0; i < n; i++)
		print_broker(&rows[i]);
	for (i = 0; i < n; i++)
		if (rows[i].code != 0)
			out_note("%s: %s", rows[i].server, rows[i].error);
	for (i = 0; i < nwarn; i++)
		out_note("%s", warn[i]);
	return 0;
}

int
cmd_status(struct cli *cli, const struct cli_args *a)
{
	static char warn[CRL_WARN_MAX][600];
	const struct eca_endpoint *one = NULL, *ep;
	const char *only;
	struct row *rows = NULL;
	char path[ECA_HOST_MAX * 3 + 32], esc[ECA_HOST_MAX * 3];
	size_t i, n, nwarn;
	int r, unreachable = 0, failed = 0;

	if ((r = cli_config(cli)) != 0)
		return r;
	if (cli->cfg->nservers == 0)
		return out_error(cli->json, ECA_ERR_CONFIG,
		    "no primary server configured: %s has no SERVER line "
		    "(add `SERVER = NAME [HOST:PORT]`)",
		    cli->conf_path);
	/* --server NAME (-listEnrollmentStatus -server NAME): that one only. */
	only = cli_opt(a, "--server");
	if (only != NULL && (r = cli_server(cli, only, &one)) != 0)
		return r;
	/* Without this host's credentials no primary can be asked. */
	if ((r = unprivileged(cli)) != 0 || (r = cli_cred(cli)) != 0)
		return r;
	if (cli_url_escape(cli->cfg->client_name, esc, sizeof(esc)) != 0)
		return out_error(cli->json, ECA_ERR_CONFIG,
		    "CLIENT_NAME is too long");
	snprintf(path, sizeof(path), "/v1/enrollments/%s", esc);

	n = one != NULL ? 1 : cli->cfg->nservers;
	if ((rows = calloc(n, sizeof(*rows))) == NULL)
		return out_error(cli->json, ECA_ERR_NOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		ep = one != NULL ? one : &cli->cfg->servers[i];
		query_one(cli, ep, path, &rows[i]);
		roster_info(cli->cfg, ep->name, &rows[i]);
		broker_info(cli->cfg, ep->name, &rows[i]);
		if (strcmp(rows[i].status, "UNREACHABLE") == 0)
			unreachable = 1;
		else if (strcmp(rows[i].status, "ERROR") == 0)
			failed = 1;
	}
	nwarn = crl_warnings(cli->cfg, warn, CRL_WARN_MAX);
	if (cli->json)
		r = print_json(cli, rows, n, warn, nwarn);
	else
		r = print_table(rows, n, warn, nwarn);
	for (i = 0; i < n; i++)
		eca_enrollment_clear(&rows[i].rec);
	free(rows);
	if (r != 0)
		return r;
	if (unreachable)
		return ECA_EXIT_UNREACHABLE;
	return failed ? ECA_EXIT_FAILURE : ECA_EXIT_OK;
}
