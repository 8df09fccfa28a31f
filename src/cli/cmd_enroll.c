/* SPDX-License-Identifier: ISC */
/*
 * cmd_enroll.c - `eca enroll` and `eca unenroll`: this host's enrollment
 * with one of its primary servers.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
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
