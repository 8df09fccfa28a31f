/* SPDX-License-Identifier: ISC */
/*
 * cmd_health.c - `eca health-check`: every validation of this host's
 * certificate configuration, one line (or JSON object) per check ID.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "health.h"
#include "output.h"

/*
 * The options that stand in for a key of the configuration for this run,
 * so that files are checked before they are configured (NetBackup's
 * -ecaHealthCheck -certPath ...).
 */
static const struct {
	const char *opt;
	const char *key;
} overrides[] = {
    {"--cert-path", "ECA_CERT_PATH"},
    {"--private-key-path", "ECA_PRIVATE_KEY_PATH"},
    {"--trust-store-path", "ECA_TRUST_STORE_PATH"},
    {"--passphrase-file", "ECA_KEY_PASSPHRASEFILE"},
    {"--crl-check-level", "ECA_CRL_CHECK"},
    {"--crl-path", "ECA_CRL_PATH"},
};

/* The configuration with the options' values in place; 0 or exit code. */
static int
apply_overrides(struct cli *cli, const struct cli_args *a)
{
	struct eca_err err;
	const char *v;
	size_t i;

	for (i = 0; i < sizeof(overrides) / sizeof(overrides[0]); i++) {
		if ((v = cli_opt(a, overrides[i].opt)) == NULL)
			continue;
		eca_err_clear(&err);
		if (eca_config_override(cli->cfg, overrides[i].key, v,
			overrides[i].opt, &err) != 0) {
			if (err.code == ECA_ERR_CONFIG)
				return cli_usage(cli, "%s", err.msg);
			return out_error_err(cli->json, NULL, &err);
		}
	}
	return 0;
}

static const char *
check_status(const struct eca_health_check *ck)
{
	if (ck->skipped)
		return "SKIPPED";
	return ck->code == 0 ? "PASS" : "FAIL";
}

static int
print_json(struct cli *cli, const struct eca_health_report *rep,
    int failures_only)
{
	json_t *top = NULL, *arr, *o;
	size_t i;
	int r = ECA_ERR_NOMEM;

	if ((top = json_object()) == NULL || (arr = json_array()) == NULL ||
	    json_object_set_new(top, "host",
		json_string(cli->cfg->client_name)) != 0 ||
	    json_object_set_new(top, "passed",
		json_boolean(rep->failed == 0)) != 0 ||
	    json_object_set_new(top, "checks", arr) != 0)
		goto out;
	for (i = 0; i < rep->n; i++) {
		const struct eca_health_check *ck = &rep->checks[i];

		if (failures_only && (ck->code == 0 || ck->skipped))
			continue;
		if ((o = json_object()) == NULL ||
		    json_array_append_new(arr, o) != 0 ||
		    json_object_set_new(o, "id", json_string(ck->id)) != 0 ||
		    json_object_set_new(o, "title",
			json_string(ck->title != NULL ? ck->title : "")) != 0 ||
		    json_object_set_new(o, "status",
			json_string(check_status(ck))) != 0)
			goto out;
		if (ck->code != 0 &&
		    json_object_set_new(o, "code",
			json_string(eca_err_name(ck->code))) != 0)
			goto out;
		if (json_object_set_new(o, "detail", json_string(ck->detail)) !=
		    0)
			goto out;
	}
	r = 0;
out:
	return out_json_end(top, r, "the report");
}

static void
print_text(const struct eca_health_report *rep, int failures_only)
{
	const struct eca_health_check *ck;
	const char *word;
	size_t i, w = 0, skipped = 0;

	for (i = 0; i < rep->n; i++)
		if (strlen(rep->checks[i].id) > w)
			w = strlen(rep->checks[i].id);
	for (i = 0; i < rep->n; i++) {
		ck = &rep->checks[i];
		if (ck->skipped)
			skipped++;
		if (failures_only && (ck->code == 0 || ck->skipped))
			continue;
		word = ck->skipped ? "SKIP" : ck->code == 0 ? "PASS" : "FAIL";
		printf("%-4s  %-*s  %s\n", word, (int)w, ck->id, ck->detail);
	}
	if (rep->failed == 0 && rep->warned != 0)
		printf("All %zu checks passed, %d with a warning.\n", rep->n,
		    rep->warned);
	else if (rep->failed == 0)
		printf("All %zu checks passed.\n", rep->n);
	else if (skipped == 0)
		printf("%d of %zu checks failed.\n", rep->failed, rep->n);
	else
		printf("%d of %zu checks failed, %zu not run because of "
		       "them.\n",
		    rep->failed, rep->n, skipped);
}

int
cmd_health(struct cli *cli, const struct cli_args *a)
{
	struct eca_health_report rep;
	const char *fmt;
	int failures_only = 0, r;

	fmt = cli_opt(a, "--fmt");
	if (fmt != NULL) {
		if (strcmp(fmt, "failures_only") == 0)
			failures_only = 1;
		else if (strcmp(fmt, "details") != 0)
			return cli_usage(cli,
			    "--fmt is details or "
			    "failures_only, not '%s'",
			    fmt);
	}
	if ((r = cli_config(cli)) != 0 || (r = apply_overrides(cli, a)) != 0)
		return r;
	memset(&rep, 0, sizeof(rep));
	(void)eca_health_run(NULL, cli->cfg, &rep);
	if (rep.n == 0)
		return out_error(cli->json, ECA_ERR_INTERNAL,
		    "the health check ran no validation");
	if (cli->json) {
		if ((r = print_json(cli, &rep, failures_only)) != 0)
			return r;
	} else
		print_text(&rep, failures_only);
	if (rep.failed != 0)
		return ECA_EXIT_FAILURE;
	return rep.warned != 0 ? ECA_EXIT_WARNING : ECA_EXIT_OK;
}
