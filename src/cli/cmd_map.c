/* SPDX-License-Identifier: ISC */
/*
 * cmd_map.c - ECA_IDENTITY = DN: the administrator's mapping of
 * certificate subjects to hosts on the primary (`eca map add|remove|list`,
 * and NetBackup's -createECACertEntry, -deleteECACertEntry,
 * -listECACertEntries).  The primary normalizes and checks the subject;
 * see docs/cli.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "output.h"
#include "wire.h"

static int
map_usage(struct cli *cli)
{
	return cli_usage(cli,
	    "map add HOST SUBJECT | map remove HOST | "
	    "map list");
}

static int
map_add(struct cli *cli, const char *server, const char *hostarg,
    const char *subject)
{
	struct eca_client *c = NULL;
	struct eca_dnmap m;
	struct eca_err err;
	json_t *body = NULL, *resp = NULL;
	const char *who, *outcome;
	char host[ECA_HOST_MAX], what[ECA_HOST_MAX * 2 + 64];
	int r;

	if ((r = cli_host_arg(cli, hostarg, host, sizeof(host))) != 0)
		return r;
	if (subject[0] == '\0')
		return cli_usage(cli, "the subject is empty");
	if ((r = cli_admin_client(cli, server, &c, &who)) != 0)
		goto out;
	snprintf(what, sizeof(what), "cannot map a subject to %s on %s", host,
	    who);
	if ((body = json_pack("{s:s, s:s}", "host", host, "subject",
		 subject)) == NULL) {
		r = out_error(cli->json, ECA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = cli_request(cli, c, "POST", "/v1/mappings", body, &resp,
		 what)) != 0)
		goto out;
	if (cli->json) {
		out_json(resp);
		r = 0;
		goto out;
	}
	outcome = json_string_value(json_object_get(resp, "outcome"));
	if (eca_wire_parse_dnmap(json_object_get(resp, "mapping"), &m, &err) !=
	    0) {
		r = out_error(0, ECA_ERR_PROTOCOL, "%s: bad answer: %s", what,
		    err.msg);
		goto out;
	}
	printf("%s subject \"%s\" to host %s on %s\n",
	    outcome != NULL && strcmp(outcome, "UNCHANGED") == 0 ?
		"Already mapped" :
		"Mapped",
	    m.subject, m.host, who);
	r = 0;
out:
	json_decref(body);
	json_decref(resp);
	eca_client_free(c);
	return r;
}

/* The live mappings ({"mappings": [...]}); *resp is the caller's. */
static int
map_fetch(struct cli *cli, struct eca_client *c, const char *who, json_t **resp)
{
	char what[ECA_HOST_MAX + 64];
	int r;

	snprintf(what, sizeof(what), "cannot list the subject mappings on %s",
	    who);
	if ((r = cli_request(cli, c, "GET", "/v1/mappings", NULL, resp,
		 what)) != 0)
		return r;
	if (!json_is_array(json_object_get(*resp, "mappings")))
		return out_error(cli->json, ECA_ERR_PROTOCOL,
		    "%s: the answer "
		    "has no \"mappings\" array",
		    what);
	return 0;
}

/* By host, or (subject != NULL) by the host the subject is mapped to. */
static int
map_remove(struct cli *cli, const char *server, const char *hostarg,
    const char *subject)
{
	struct eca_client *c = NULL;
	struct eca_dnmap m;
	struct eca_err err;
	json_t *resp = NULL, *list = NULL, *v;
	const char *who;
	char host[ECA_HOST_MAX], norm[ECA_DN_MAX], esc[ECA_HOST_MAX * 3];
	char path[ECA_HOST_MAX * 3 + 32], what[ECA_DN_MAX + 64];
	size_t i;
	int r;

	host[0] = '\0';
	if (hostarg != NULL &&
	    (r = cli_host_arg(cli, hostarg, host, sizeof(host))) != 0)
		return r;
	if (subject != NULL &&
	    eca_dn_normalize(subject, norm, sizeof(norm), &err) != 0)
		return out_error_err(cli->json, NULL, &err);
	if ((r = cli_admin_client(cli, server, &c, &who)) != 0)
		goto out;
	if (subject != NULL) {
		if ((r = map_fetch(cli, c, who, &list)) != 0)
			goto out;
		json_array_foreach(json_object_get(list, "mappings"), i, v)
		{
			if (eca_wire_parse_dnmap(v, &m, NULL) == 0 &&
			    strcmp(m.subject, norm) == 0)
				snprintf(host, sizeof(host), "%s", m.host);
		}
		if (host[0] == '\0') {
			r = out_error(cli->json, ECA_ERR_NOT_FOUND,
			    "subject "
			    "\"%s\" is mapped to no host on %s (see `eca map "
			    "list`)",
			    norm, who);
			goto out;
		}
	}
	if (cli_url_escape(host, esc, sizeof(esc)) != 0) {
		r = cli_usage(cli, "'%s' is not a valid host name", host);
		goto out;
	}
	snprintf(path, sizeof(path), "/v1/mappings/%s", esc);
	snprintf(what, sizeof(what), "cannot remove the mapping of %s on %s",
	    host, who);
	if ((r = cli_request(cli, c, "DELETE", path, NULL, &resp, what)) != 0)
		goto out;
	if (cli->json)
		out_json(resp);
	else if (eca_wire_parse_dnmap(json_object_get(resp, "mapping"), &m,
		     NULL) == 0)
		printf("Removed the mapping of host %s (subject \"%s\") on %s: "
		       "that subject no longer names it\n",
		    m.host, m.subject, who);
	else
		printf("Removed the mapping of host %s on %s\n", host, who);
	r = 0;
out:
	json_decref(list);
	json_decref(resp);
	eca_client_free(c);
	return r;
}

static int
map_list(struct cli *cli, const char *server)
{
	static const char *const hdr[] = {"HOST", "SUBJECT", "MAPPED AT", "BY"};
	struct eca_client *c = NULL;
	struct out_table *t = NULL;
	struct eca_dnmap m;
	struct eca_err err;
	json_t *resp = NULL, *arr, *v;
	const char *who, *cells[4];
	char b1[32];
	size_t i;
	int r;

	if ((r = cli_admin_client(cli, server, &c, &who)) != 0)
		goto out;
	if ((r = map_fetch(cli, c, who, &resp)) != 0)
		goto out;
	if (cli->json) {
		out_json(resp);
		goto out;
	}
	arr = json_object_get(resp, "mappings");
	if (json_array_size(arr) == 0) {
		printf("No subject mappings on %s.\n", who);
		goto out;
	}
	if ((t = out_table_new(4, hdr)) == NULL) {
		r = out_error(0, ECA_ERR_NOMEM, "out of memory");
		goto out;
	}
	json_array_foreach(arr, i, v)
	{
		if (eca_wire_parse_dnmap(v, &m, &err) != 0) {
			r = out_error(0, ECA_ERR_PROTOCOL,
			    "cannot read "
			    "mapping %zu of the list: %s",
			    i + 1, err.msg);
			goto out;
		}
		cells[0] = m.host;
		cells[1] = m.subject;
		cells[2] = out_time(m.created_at, b1, sizeof(b1));
		cells[3] = out_dash(m.actor);
		if (out_table_add(t, cells) != 0) {
			r = out_error(0, ECA_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	out_table_print(t, stdout);
	if (json_is_true(json_object_get(resp, "truncated")))
		out_note("only the first %zu mappings of %s are shown",
		    json_array_size(arr), who);
out:
	out_table_free(t);
	json_decref(resp);
	eca_client_free(c);
	return r;
}

int
cmd_map(struct cli *cli, const struct cli_args *a)
{
	const char *server = cli_opt(a, "--server");

	if (strcmp(a->pos[0], "add") == 0) {
		if (a->npos != 3)
			return map_usage(cli);
		return map_add(cli, server, a->pos[1], a->pos[2]);
	}
	if (strcmp(a->pos[0], "remove") == 0) {
		if (a->npos != 2)
			return map_usage(cli);
		return map_remove(cli, server, a->pos[1], NULL);
	}
	if (strcmp(a->pos[0], "list") == 0) {
		if (a->npos != 1)
			return map_usage(cli);
		return map_list(cli, server);
	}
	return map_usage(cli);
}

/* -createECACertEntry -subject DN -host NAME */
int
cmd_map_add(struct cli *cli, const struct cli_args *a)
{
	const char *host = cli_opt(a, "--host");
	const char *subject = cli_opt(a, "--subject");

	if (host == NULL || subject == NULL)
		return cli_usage(cli,
		    "both --subject DN and --host NAME are "
		    "needed");
	return map_add(cli, cli_opt(a, "--server"), host, subject);
}

/* -deleteECACertEntry -subject DN | -host NAME */
int
cmd_map_remove(struct cli *cli, const struct cli_args *a)
{
	const char *host = cli_opt(a, "--host");
	const char *subject = cli_opt(a, "--subject");

	if ((host == NULL) == (subject == NULL))
		return cli_usage(cli,
		    "give one of --subject DN or --host "
		    "NAME");
	return map_remove(cli, cli_opt(a, "--server"), host, subject);
}

/* -listECACertEntries */
int
cmd_map_list(struct cli *cli, const struct cli_args *a)
{
	return map_list(cli, cli_opt(a, "--server"));
}
