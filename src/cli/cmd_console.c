/* SPDX-License-Identifier: ISC */
/*
 * cmd_console.c - the web console's sign-in links and sessions, on the
 * primary's control socket: `eca console login`, `eca console sessions
 * [--revoke ID]` (docs/console.md).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "output.h"

static int
console_usage(struct cli *cli)
{
	return cli_usage(cli, "console login | console sessions [--revoke ID]");
}

/* The control socket of this primary (the routes serve nothing else). */
static int
console_client(struct cli *cli, struct eca_client **c, const char **who)
{
	int r;

	if ((r = cli_config(cli)) != 0)
		return r;
	if (cli->cfg->role != ECA_ROLE_PRIMARY)
		return out_error(cli->json, ECA_ERR_USAGE,
		    "the web console is the primary's: run `eca console` on "
		    "the primary, as root or as ecad's user");
	return cli_admin_client(cli, NULL, c, who);
}

static int
console_login(struct cli *cli)
{
	struct eca_client *c = NULL;
	json_t *resp = NULL;
	const char *who, *url, *exp;
	char what[ECA_HOST_MAX + 64];
	int r;

	if ((r = console_client(cli, &c, &who)) != 0)
		goto out;
	snprintf(what, sizeof(what), "cannot make a sign-in link on %s", who);
	if ((r = cli_request(cli, c, "POST", "/v1/console/links", NULL, &resp,
		 what)) != 0)
		goto out;
	if (cli->json) {
		out_json(resp);
		goto out;
	}
	url = json_string_value(json_object_get(resp, "url"));
	exp = json_string_value(json_object_get(resp, "expires"));
	if (url == NULL) {
		r = out_error(0, ECA_ERR_PROTOCOL,
		    "%s: no \"url\" in the answer", what);
		goto out;
	}
	printf("%s\n", url);
	out_note("open it in a browser before %s; it signs in once",
	    exp != NULL ? exp : "it expires");
out:
	json_decref(resp);
	eca_client_free(c);
	return r;
}

static int
console_revoke(struct cli *cli, const char *id)
{
	struct eca_client *c = NULL;
	json_t *resp = NULL, *body = NULL;
	const char *who;
	char what[ECA_HOST_MAX + 64];
	int r;

	if ((r = console_client(cli, &c, &who)) != 0)
		goto out;
	snprintf(what, sizeof(what),
	    "cannot revoke console session %.16s on %s", id, who);
	if ((body = json_pack("{s:s}", "id", id)) == NULL) {
		r = out_error(cli->json, ECA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = cli_request(cli, c, "POST", "/v1/console/sessions/revoke",
		 body, &resp, what)) != 0)
		goto out;
	if (cli->json)
		out_json(resp);
	else
		printf("Revoked console session %s of %s\n",
		    out_dash(
			json_string_value(json_object_get(resp, "revoked"))),
		    out_dash(
			json_string_value(json_object_get(resp, "identity"))));
out:
	json_decref(body);
	json_decref(resp);
	eca_client_free(c);
	return r;
}

/* The table of the sessions in resp. */
static int
sessions_print(const json_t *arr)
{
	static const char *const hdr[] = {"ID", "IDENTITY", "CREATED",
	    "LAST USED", "EXPIRES", "ADDRESS"};
	static const char *const keys[] = {"id", "identity", "created",
	    "last_used", "expires", "source"};
	struct out_table *t;
	const char *cells[6];
	json_t *v;
	size_t i, k;

	if ((t = out_table_new(6, hdr)) == NULL)
		return out_error(0, ECA_ERR_NOMEM, "out of memory");
	json_array_foreach(arr, i, v)
	{
		for (k = 0; k < 6; k++)
			cells[k] = out_dash(
			    json_string_value(json_object_get(v, keys[k])));
		if (out_table_add(t, cells) != 0) {
			out_table_free(t);
			return out_error(0, ECA_ERR_NOMEM, "out of memory");
		}
	}
	out_table_print(t, stdout);
	out_table_free(t);
	return 0;
}

static int
console_sessions(struct cli *cli)
{
	struct eca_client *c = NULL;
	json_t *resp = NULL, *arr;
	const char *who;
	char what[ECA_HOST_MAX + 64];
	int r;

	if ((r = console_client(cli, &c, &who)) != 0)
		goto out;
	snprintf(what, sizeof(what), "cannot list the console sessions on %s",
	    who);
	if ((r = cli_request(cli, c, "GET", "/v1/console/sessions", NULL, &resp,
		 what)) != 0)
		goto out;
	arr = json_object_get(resp, "sessions");
	if (cli->json)
		out_json(resp);
	else if (!json_is_array(arr))
		r = out_error(0, ECA_ERR_PROTOCOL,
		    "%s: no \"sessions\" array in the answer", what);
	else if (json_array_size(arr) == 0)
		printf("No console sessions on %s.\n", who);
	else
		r = sessions_print(arr);
out:
	json_decref(resp);
	eca_client_free(c);
	return r;
}

int
cmd_console(struct cli *cli, const struct cli_args *a)
{
	const char *revoke = cli_opt(a, "--revoke");

	if (a->npos != 1)
		return console_usage(cli);
	if (strcmp(a->pos[0], "login") == 0 && revoke == NULL)
		return console_login(cli);
	if (strcmp(a->pos[0], "sessions") == 0)
		return revoke != NULL ? console_revoke(cli, revoke) :
					console_sessions(cli);
	return console_usage(cli);
}
