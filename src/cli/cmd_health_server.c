/* SPDX-License-Identifier: ISC */
/*
 * cmd_health_server.c - `eca health [--server S]`: ask a primary's
 * GET /v1/health and report its checks, exiting as monitoring plugins
 * expect: 0 ok, 1 warn, 2 critical, 3 unknown (no usable answer).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "health.h"
#include "output.h"

/* The "status" of o (the answer, or one check): 0, or ECA_ERR_PROTOCOL. */
static int
level_of(const json_t *o, enum eca_health_level *out)
{
	const char *s = json_string_value(json_object_get(o, "status"));

	return eca_health_level_parse(s, out);
}

/*
 * The level of the answer: the worse of its "status" and of each
 * check's, so that a check the server rolled up wrongly is not hidden.
 * ECA_ERR_PROTOCOL when a status is missing or is no level.
 */
static int
answer_level(const json_t *resp, enum eca_health_level *out)
{
	enum eca_health_level l, worst;
	const json_t *checks, *ck;
	size_t i;

	if (!json_is_object(resp) || level_of(resp, &worst) != 0)
		return ECA_ERR_PROTOCOL;
	checks = json_object_get(resp, "checks");
	if (checks != NULL && !json_is_array(checks))
		return ECA_ERR_PROTOCOL;
	json_array_foreach(checks, i, ck)
	{
		if (level_of(ck, &l) != 0)
			return ECA_ERR_PROTOCOL;
		worst = eca_health_worst(worst, l);
	}
	*out = worst;
	return 0;
}

static const char *
str_of(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "-";
}

static int
print_table(const char *server, const json_t *resp, enum eca_health_level l)
{
	static const char *const head[] = {"STATUS", "CHECK", "DETAIL"};
	const json_t *ck;
	struct out_table *t;
	size_t i;
	int r = 0;

	printf("%s: %s (role %s, version %s)\n", server,
	    eca_health_level_name(l), str_of(resp, "role"),
	    str_of(resp, "version"));
	if (json_array_size(json_object_get(resp, "checks")) == 0)
		return 0;
	if ((t = out_table_new(3, head)) == NULL)
		return ECA_ERR_NOMEM;
	json_array_foreach(json_object_get(resp, "checks"), i, ck)
	{
		const char *cells[] = {str_of(ck, "status"), str_of(ck, "name"),
		    str_of(ck, "detail")};

		if ((r = out_table_add(t, cells)) != 0)
			break;
	}
	if (r == 0)
		out_table_print(t, stdout);
	out_table_free(t);
	return r;
}

int
cmd_health_server(struct cli *cli, const struct cli_args *a)
{
	const struct eca_endpoint *ep;
	struct eca_client *c = NULL;
	enum eca_health_level l;
	json_t *resp = NULL;
	struct eca_err err;
	long status = 0;
	int r, exit_code = ECA_HEALTH_EXIT_UNKNOWN;

	/* Anything but an answer is UNKNOWN to a monitoring system. */
	if (cli_server(cli, cli_opt(a, "--server"), &ep) != 0 ||
	    cli_public_client(cli, ep, &c) != 0)
		goto out;
	eca_err_clear(&err);
	r = eca_client_call(c, "GET", "/v1/health", NULL, &status, &resp, &err);
	/* 503 carries the answer too: critical. */
	if (r != 0 && !(status == 503 && answer_level(resp, &l) == 0)) {
		(void)out_error_err(cli->json,
		    "cannot get the health of the primary", &err);
		goto out;
	}
	if (answer_level(resp, &l) != 0) {
		(void)out_error(cli->json, ECA_ERR_PROTOCOL,
		    "the primary %s answered GET /v1/health without a valid "
		    "status (is it an eca primary?)",
		    ep->name);
		goto out;
	}
	if (cli->json)
		out_json(resp);
	else if (print_table(ep->name, resp, l) != 0) {
		(void)out_error(0, ECA_ERR_NOMEM, "cannot print the checks");
		goto out;
	}
	exit_code = eca_health_exit_code(l);
out:
	json_decref(resp);
	eca_client_free(c);
	return exit_code;
}
