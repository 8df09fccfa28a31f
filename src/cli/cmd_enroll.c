/*
 * cmd_enroll.c - `eca enroll` and `eca unenroll`: this host's enrollment
 * with one of its primary servers.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "output.h"
#include "wire.h"

/* The enrollment in a response, if any: 1 parsed, 0 none or unparsable. */
static int
resp_enrollment(const json_t *resp, struct eca_enrollment *rec)
{
	const json_t *j;

	memset(rec, 0, sizeof(*rec));
	if (resp == NULL || (j = json_object_get(resp, "enrollment")) == NULL ||
	    !json_is_object(j))
		return 0;
	return eca_wire_parse_enrollment(j, rec, NULL) == 0;
}

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
		printf("%s already enrolled with %s (unchanged", host,
		    primary);
	else if (strcmp(outcome, "RENEWED") == 0)
		printf("%s renewed with %s: new certificate, same key", host,
		    primary);
	else if (strcmp(outcome, "FORCED") == 0)
		printf("%s re-enrolled with %s by force: the new certificate "
		    "replaces the old one", host, primary);
	else
		printf("%s: %s with %s", host, outcome, primary);
	if (strcmp(outcome, "UNCHANGED") == 0)
		printf("%s%s)\n", ids[0] != '\0' ? "; " : "", ids);
	else if (ids[0] != '\0')
		printf(" (%s)\n", ids);
	else
		printf("\n");
}

int
cmd_enroll(struct cli *cli, const struct cli_args *a)
{
	const struct eca_endpoint *ep;
	struct eca_client *c = NULL;
	struct eca_enrollment rec;
	struct eca_err err;
	json_t *body = NULL, *resp = NULL;
	const char *outcome;
	char what[ECA_HOST_MAX * 2 + 64];
	int precheck, force, have_rec, r;
	long status;

	precheck = cli_opt(a, "--precheck") != NULL;
	force = cli_opt(a, "--force") != NULL;
	if ((r = cli_server(cli, cli_opt(a, "--server"), &ep)) != 0)
		goto out;
	if ((r = cli_tls_client(cli, ep, &c)) != 0)
		goto out;
	body = json_pack("{s:s, s:b, s:b, s:s, s:s}",
	    "host", cli->cfg->client_name, "precheck", precheck,
	    "force", force, "role", eca_role_name(cli->cfg->role),
	    "method", "manual");
	if (body == NULL) {
		r = out_error(cli->json, ECA_ERR_NOMEM,
		    "cannot build the enrollment request: out of memory");
		goto out;
	}
	snprintf(what, sizeof(what), "cannot %s %s with %s",
	    precheck ? "pre-check the enrollment of" : "enroll",
	    cli->cfg->client_name, ep->name);
	if (cli_call(c, "POST", "/v1/enrollments", body, &status, &resp,
	    &err) != 0) {
		if (err.code == ECA_ERR_CONFLICT &&
		    strstr(err.msg, "eca approve") == NULL) {
			/* The remedy is the administrator's, on the primary. */
			snprintf(err.msg + strlen(err.msg),
			    sizeof(err.msg) - strlen(err.msg),
			    " (the new certificate waits for an administrator "
			    "of %s: `eca approve %s` accepts it, `eca reject "
			    "%s` keeps the enrolled one)", ep->name,
			    cli->cfg->client_name, cli->cfg->client_name);
		}
		r = cli_call_failed(cli, what, resp, &err);
		goto out;
	}
	if (cli->json) {
		out_json(resp);
		r = 0;
		goto out;
	}
	outcome = resp != NULL ?
	    json_string_value(json_object_get(resp, "outcome")) : NULL;
	if (outcome == NULL) {
		r = out_error(cli->json, ECA_ERR_PROTOCOL,
		    "%s: the answer has no outcome", what);
		goto out;
	}
	have_rec = resp_enrollment(resp, &rec);
	if (precheck)
		printf("Pre-check passed: %s would be %s with %s%s\n",
		    cli->cfg->client_name, outcome, ep->name,
		    " (nothing was written)");
	else
		print_enrolled(outcome, cli->cfg->client_name, ep->name, &rec,
		    have_rec);
	r = 0;
 out:
	json_decref(body);
	json_decref(resp);
	eca_client_free(c);
	return r;
}

int
cmd_unenroll(struct cli *cli, const struct cli_args *a)
{
	const struct eca_endpoint *ep;
	struct eca_client *c = NULL;
	struct eca_err err;
	json_t *resp = NULL;
	char path[ECA_HOST_MAX * 3 + 32], esc[ECA_HOST_MAX * 3];
	char what[ECA_HOST_MAX * 2 + 64];
	long status;
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
	snprintf(what, sizeof(what), "cannot remove the enrollment of %s "
	    "with %s", cli->cfg->client_name, ep->name);
	if (cli_call(c, "DELETE", path, NULL, &status, &resp, &err) != 0) {
		r = cli_call_failed(cli, what, resp, &err);
		goto out;
	}
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
