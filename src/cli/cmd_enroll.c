/* SPDX-License-Identifier: ISC */
/*
 * cmd_enroll.c - `eca enroll` and `eca unenroll`: this host's enrollment
 * with one of its primary servers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "host.h"
#include "output.h"
#include "wire.h"

static void
print_enrolled(const char *outcome, const char *host, const char *primary,
    const struct eca_enrollment *rec, int have_rec)
{
	char ids[ECA_FP_HEX_LEN + ECA_HOST_ID_LEN + 64];

	ids[0] = '\0';
	if (have_rec)
		snprintf(ids, sizeof(ids), "host ID %s, fingerprint %s",
		    out_dash(rec->host_id), out_dash(rec->cert.fingerprint));
	if (strcmp(outcome, "ENROLLED") == 0)
		printf("Enrolled %s with %s", host, primary);
	else if (strcmp(outcome, "UNCHANGED") == 0)
		printf("%s already enrolled with %s (unchanged", host, primary);
	else if (strcmp(outcome, "RENEWED") == 0)
		printf("%s renewed with %s: new certificate, same key", host,
		    primary);
	else if (strcmp(outcome, "FORCED") == 0)
		printf("%s re-enrolled with %s by force: the new certificate "
		       "replaces the old one",
		    host, primary);
	else
		printf("%s: %s with %s", host, outcome, primary);
	if (strcmp(outcome, "UNCHANGED") == 0)
		printf("%s%s)\n", ids[0] != '\0' ? "; " : "", ids);
	else if (ids[0] != '\0')
		printf(" (%s)\n", ids);
	else
		printf("\n");
}

/*
 * Was err the primary's own answer (an {"error"} object), as opposed to a
 * failure to reach it or to read its answer?
 */
static int
primary_refused(int code)
{
	switch (code) {
	case ECA_ERR_UNREACHABLE:
	case ECA_ERR_TIMEOUT:
	case ECA_ERR_PROTOCOL:
	case ECA_ERR_NOMEM:
	case ECA_ERR_INTERNAL:
		return 0;
	default:
		return 1;
	}
}

/* The primary's answer as the API gave it, for --json. */
static int
print_answer_json(enum eca_enroll_outcome outcome, int precheck,
    const struct eca_enrollment *rec)
{
	json_t *j;

	j = json_pack("{s:s, s:b, s:o}", "outcome", eca_outcome_name(outcome),
	    "precheck", precheck, "enrollment",
	    rec->host[0] != '\0' ? eca_wire_enrollment(rec) : json_null());
	if (j == NULL)
		return out_error(0, ECA_ERR_NOMEM,
		    "cannot print the answer: "
		    "out of memory");
	out_json(j);
	json_decref(j);
	return 0;
}

/*
 * How long the primary's ecad may take to answer a remote enrollment: its
 * channel's steps (remote.c) and the host's own enrollment.
 */
#define REMOTE_TIMEOUT_MS 90000L

/* The host's answer, printed as a local `eca enroll` prints its own. */
static int
print_remote(struct cli *cli, const char *host, const json_t *resp)
{
	struct eca_enrollment rec;
	const json_t *jrec = json_object_get(resp, "enrollment");
	const char *outcome =
	    json_string_value(json_object_get(resp, "outcome"));
	enum eca_enroll_outcome o = ECA_OUTCOME_NONE;
	struct eca_err err;
	int k;

	memset(&rec, 0, sizeof(rec));
	eca_err_clear(&err);
	if (outcome == NULL ||
	    (json_is_object(jrec) &&
		eca_wire_parse_enrollment(jrec, &rec, &err) != 0))
		return out_error(cli->json, ECA_ERR_PROTOCOL,
		    "the answer about %s cannot be read: %s", host,
		    err.msg[0] != '\0' ? err.msg : "no outcome");
	for (k = 0; k <= (int)ECA_OUTCOME_LAST; k++)
		if (strcmp(eca_outcome_name((enum eca_enroll_outcome)k),
			outcome) == 0)
			o = (enum eca_enroll_outcome)k;
	if (cli->json)
		return print_answer_json(o, 0, &rec);
	print_enrolled(outcome, host, cli->cfg->client_name, &rec,
	    rec.host[0] != '\0');
	return 0;
}

/* --port P: 1..65535 into *port (0 when not given); 0 or the usage error. */
static int
remote_port(struct cli *cli, const struct cli_args *a, long *port)
{
	const char *p = cli_opt(a, "--port");
	char *end;

	*port = 0;
	if (p == NULL)
		return 0;
	errno = 0;
	*port = strtol(p, &end, 10);
	if (errno != 0 || end == p || *end != '\0' || *port < 1 ||
	    *port > 65535)
		return cli_usage(cli,
		    "--port: '%s' is not a port number from 1 to 65535", p);
	return 0;
}

/*
 * `eca enroll --remote-host NAME`, on the primary: its ecad (control
 * socket: root or its user) asks NAME's ecad to enroll with this primary.
 */
static int
enroll_remote(struct cli *cli, const struct cli_args *a, const char *name)
{
	struct eca_client *c = NULL;
	char host[ECA_HOST_MAX], what[ECA_HOST_MAX * 2 + 64];
	json_t *body = NULL, *resp = NULL;
	const char *who;
	struct eca_err err;
	long port = 0;
	int r;

	if (cli_opt(a, "--server") != NULL ||
	    cli_opt(a, "--precheck") != NULL || cli_opt(a, "--force") != NULL)
		return cli_usage(cli,
		    "--remote-host takes no --server, --precheck or --force: "
		    "the host enrolls with this primary, as a plain `eca "
		    "enroll` would");
	if ((r = cli_host_arg(cli, name, host, sizeof(host))) != 0 ||
	    (r = remote_port(cli, a, &port)) != 0 || (r = cli_config(cli)) != 0)
		return r;
	if (cli->cfg->role != ECA_ROLE_PRIMARY)
		return cli_usage(cli,
		    "--remote-host works on the primary (ROLE = primary): run "
		    "it there, or run `eca enroll` on %s",
		    host);
	/* The control socket, with room for the host's enrollment. */
	if ((r = cli_admin_client(cli, NULL, &c, &who)) != 0)
		return r;
	eca_client_free(c);
	c = NULL;
	eca_err_clear(&err);
	if (eca_client_new_unix(cli->cfg->control_socket, REMOTE_TIMEOUT_MS, &c,
		&err) != 0)
		return out_error_err(cli->json,
		    "cannot set up the control socket client", &err);
	snprintf(what, sizeof(what), "cannot enroll %s with %s (remote)", host,
	    who);
	if ((body = json_pack("{s:s}", "host", host)) == NULL ||
	    (port > 0 &&
		json_object_set_new(body, "port", json_integer(port)) != 0))
		r = out_error(cli->json, ECA_ERR_NOMEM, "out of memory");
	else if ((r = cli_request(cli, c, "POST", "/v1/remote-enrollments",
		      body, &resp, what)) == 0)
		r = print_remote(cli, host, resp);
	json_decref(body);
	json_decref(resp);
	eca_client_free(c);
	return r;
}

/*
 * `eca enroll`: the same call auto-enrollment makes (eca_domain_enroll),
 * with method manual.
 */
int
cmd_enroll(struct cli *cli, const struct cli_args *a)
{
	const struct eca_endpoint *ep;
	struct eca_host *h = NULL;
	struct eca_domain *d;
	struct eca_enrollment rec = {0};
	enum eca_enroll_outcome outcome = ECA_OUTCOME_NONE;
	struct eca_err err;
	json_t *j;
	char what[ECA_HOST_MAX * 2 + 64];
	int precheck, force, r;

	if (cli_opt(a, "--remote-host") != NULL)
		return enroll_remote(cli, a, cli_opt(a, "--remote-host"));
	if (cli_opt(a, "--port") != NULL)
		return cli_usage(cli, "--port goes with --remote-host NAME");
	precheck = cli_opt(a, "--precheck") != NULL;
	force = cli_opt(a, "--force") != NULL;
	if ((r = cli_server(cli, cli_opt(a, "--server"), &ep)) != 0)
		goto out;
	snprintf(what, sizeof(what), "cannot %s %s with %s",
	    precheck ? "pre-check the enrollment of" : "enroll",
	    cli->cfg->client_name, ep->name);
	if ((r = cli_host(cli, what, &h)) != 0)
		goto out;
	if ((d = eca_host_domain(h, ep->name)) == NULL) {
		r = out_error(cli->json, ECA_ERR_INTERNAL,
		    "no domain state "
		    "for primary %s",
		    ep->name);
		goto out;
	}
	eca_err_clear(&err);
	memset(&rec, 0, sizeof(rec));
	if ((r = eca_domain_enroll(h, d,
		 (precheck ? ECA_ENROLL_PRECHECK : 0) |
		     (force ? ECA_ENROLL_FORCE : 0),
		 ECA_METHOD_MANUAL, &outcome, &rec, &err)) != 0) {
		if (err.code == 0)
			err.code = r;
		if (err.code == ECA_ERR_CONFLICT &&
		    strstr(err.msg, "eca approve") == NULL) {
			/* The remedy is the administrator's, on the primary. */
			snprintf(err.msg + strlen(err.msg),
			    sizeof(err.msg) - strlen(err.msg),
			    " (the new certificate waits for an administrator "
			    "of %s: `eca approve %s` accepts it, `eca reject "
			    "%s` keeps the enrolled one)",
			    ep->name, cli->cfg->client_name,
			    cli->cfg->client_name);
		}
		if (!primary_refused(err.code)) {
			r = out_error_err(cli->json, what, &err);
			goto out;
		}
		/* A refusal: its object on stdout, its reason on stderr. */
		if (cli->json &&
		    (j = eca_wire_error(err.code, err.msg)) != NULL) {
			out_json(j);
			json_decref(j);
		}
		r = out_error(0, err.code, "%s: %s [%s]", what, err.msg,
		    eca_err_name(err.code));
		goto out;
	}
	if (cli->json) {
		r = print_answer_json(outcome, precheck, &rec);
		goto out;
	}
	if (precheck)
		printf("Pre-check passed: %s would be %s with %s%s\n",
		    cli->cfg->client_name, eca_outcome_name(outcome), ep->name,
		    " (nothing was written)");
	else
		print_enrolled(eca_outcome_name(outcome), cli->cfg->client_name,
		    ep->name, &rec, rec.host[0] != '\0');
	r = 0;
out:
	eca_enrollment_clear(&rec);
	eca_host_free(h);
	return r;
}

int
cmd_unenroll(struct cli *cli, const struct cli_args *a)
{
	const struct eca_endpoint *ep;
	struct eca_client *c = NULL;
	json_t *resp = NULL;
	char path[ECA_HOST_MAX * 3 + 32], esc[ECA_HOST_MAX * 3];
	char what[ECA_HOST_MAX * 2 + 64];
	int r;

	if ((r = cli_server(cli, cli_opt(a, "--server"), &ep)) != 0)
		goto out;
	if (cli_url_escape(cli->cfg->client_name, esc, sizeof(esc)) != 0) {
		r = out_error(cli->json, ECA_ERR_CONFIG,
		    "CLIENT_NAME is too long");
		goto out;
	}
	snprintf(path, sizeof(path), "/v1/enrollments/%s", esc);
	if ((r = cli_tls_client(cli, ep, &c)) != 0)
		goto out;
	snprintf(what, sizeof(what),
	    "cannot remove the enrollment of %s "
	    "with %s",
	    cli->cfg->client_name, ep->name);
	if ((r = cli_request(cli, c, "DELETE", path, NULL, &resp, what)) != 0)
		goto out;
	if (cli->json)
		out_json(resp);
	else
		printf("Removed the enrollment of %s with %s\n",
		    cli->cfg->client_name, ep->name);
	r = 0;
out:
	json_decref(resp);
	eca_client_free(c);
	return r;
}
