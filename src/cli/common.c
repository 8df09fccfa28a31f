/* SPDX-License-Identifier: ISC */
/*
 * common.c - what eca's commands share: configuration, credentials, the
 * client for a primary and the handling of API errors.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host.h"
#include "hostname.h"
#include "output.h"
#include "text.h"

/*
 * A configuration file that does not exist, when the administrator named
 * none with -f: say which file eca looked for and how to name another,
 * rather than "check the path given with -f".
 */
static int
config_missing(struct cli *cli)
{
	struct stat st;

	if ((cli->conf_from != NULL && strcmp(cli->conf_from, "-f") == 0) ||
	    stat(cli->conf_path, &st) == 0 || errno != ENOENT)
		return 0;
	if (cli->conf_from == NULL)
		return out_error(cli->json, ECA_ERR_CONFIG,
		    "no configuration file: %s does not exist (the default; "
		    "give another with -f FILE or ECA_CONFIG=FILE)",
		    cli->conf_path);
	return out_error(cli->json, ECA_ERR_CONFIG,
	    "no configuration file: %s (from ECA_CONFIG) does not exist "
	    "(fix ECA_CONFIG, or give another with -f FILE; unset, eca reads "
	    "%s)",
	    cli->conf_path, CLI_DEFAULT_CONFIG);
}

int
cli_config(struct cli *cli)
{
	struct eca_err err;
	int r;

	if (cli->cfg != NULL)
		return 0;
	if ((r = config_missing(cli)) != 0)
		return r;
	eca_err_clear(&err);
	if (eca_config_load(cli->conf_path, &cli->cfg, &err) != 0) {
		cli->cfg = NULL;
		return out_error_err(cli->json, "cannot load the configuration",
		    &err);
	}
	return 0;
}

int
cli_cred(struct cli *cli)
{
	struct eca_err err;
	int r;

	if (cli->cred != NULL)
		return 0;
	if ((r = cli_config(cli)) != 0)
		return r;
	eca_err_clear(&err);
	if (eca_cred_load(NULL, cli->cfg, &cli->cred, &err) != 0) {
		cli->cred = NULL;
		return out_error_err(cli->json,
		    "cannot load this host's credentials", &err);
	}
	return 0;
}

int
cli_server(struct cli *cli, const char *name, const struct eca_endpoint **out)
{
	const struct eca_endpoint *ep;
	int r;

	*out = NULL;
	if ((r = cli_config(cli)) != 0)
		return r;
	if (cli->cfg->nservers == 0)
		return out_error(cli->json, ECA_ERR_CONFIG,
		    "no primary server configured: %s has no SERVER line "
		    "(add `SERVER = NAME [HOST:PORT]`)",
		    cli->cfg->path != NULL ? cli->cfg->path : cli->conf_path);
	if ((ep = eca_config_server(cli->cfg, name)) == NULL)
		return out_error(cli->json, ECA_ERR_NOT_FOUND,
		    "no SERVER named %s in %s (use one of its SERVER names, "
		    "e.g. %s)",
		    name, cli->conf_path, cli->cfg->servers[0].name);
	*out = ep;
	return 0;
}

int
cli_tls_client(struct cli *cli, const struct eca_endpoint *ep,
    struct eca_client **out)
{
	struct eca_err err;
	int r;

	*out = NULL;
	if ((r = cli_cred(cli)) != 0)
		return r;
	eca_err_clear(&err);
	if (eca_client_new_tls(ep, cli->cred, CLI_TIMEOUT_MS, out, &err) != 0)
		return out_error_err(cli->json, "cannot set up the client",
		    &err);
	return 0;
}

int
cli_public_client(struct cli *cli, const struct eca_endpoint *ep,
    struct eca_client **out)
{
	struct eca_err err;
	int r;

	*out = NULL;
	if ((r = cli_config(cli)) != 0)
		return r;
	if (cli->cred != NULL || cli->cfg->key_path == NULL ||
	    access(cli->cfg->key_path, R_OK) == 0 || errno != EACCES)
		return cli_tls_client(cli, ep, out);
	/* Not allowed to read the key: the trust store is enough here. */
	eca_err_clear(&err);
	if ((cli->cred = calloc(1, sizeof(*cli->cred))) == NULL)
		return out_error(cli->json, ECA_ERR_NOMEM, "out of memory");
	if (cli->cfg->trust_store_path == NULL ||
	    eca_x509_load_trust(NULL, cli->cfg->trust_store_path,
		&cli->cred->trust, &err) != 0 ||
	    eca_x509_trust_set_partial(cli->cred->trust,
		cli->cfg->trust_partial_chain, &err) != 0 ||
	    eca_client_new_tls(ep, cli->cred, CLI_TIMEOUT_MS, out, &err) != 0) {
		if (err.code == 0)
			eca_err_set(&err, ECA_ERR_CONFIG,
			    "ECA_TRUST_STORE_PATH is not set");
		return out_error_err(cli->json,
		    "cannot set up a client with the trust store alone", &err);
	}
	return 0;
}

int
cli_host(struct cli *cli, const char *what, struct eca_host **out)
{
	struct eca_err err, why;
	int r;

	*out = NULL;
	if ((r = cli_cred(cli)) != 0)
		return r;
	eca_err_clear(&err);
	if (eca_host_new(NULL, cli->cfg, out, &err) == 0)
		return 0;
	*out = NULL;
	/* As the API client does: name the reason, not OpenSSL's words. */
	eca_err_clear(&why);
	if (err.code == ECA_ERR_BAD_CERTIFICATE && cli->cred != NULL &&
	    eca_x509_check_acceptable(cli->cred->leaf, cli->cred->chain,
		&why) != 0)
		err = why;
	return out_error_err(cli->json, what, &err);
}

int
cli_admin_client(struct cli *cli, const char *server, struct eca_client **out,
    const char **who)
{
	const struct eca_endpoint *ep;
	struct eca_err err;
	int r;

	*out = NULL;
	*who = NULL;
	if ((r = cli_config(cli)) != 0)
		return r;
	if (cli->cfg->role == ECA_ROLE_PRIMARY && server == NULL) {
		/*
		 * The socket (or its directory) is ecad's user's only: say so,
		 * rather than let the refused connect read as "unreachable".
		 */
		if (access(cli->cfg->control_socket, R_OK | W_OK) == -1 &&
		    errno == EACCES)
			return out_error(cli->json, ECA_ERR_FORBIDDEN,
			    "cannot use the control socket %s: permission "
			    "denied (administration on the primary needs root "
			    "or the daemon's user%s%s: run eca as one of them)",
			    cli->cfg->control_socket,
			    cli->cfg->user != NULL ? ", " : "",
			    cli->cfg->user != NULL ? cli->cfg->user : "");
		eca_err_clear(&err);
		if (eca_client_new_unix(cli->cfg->control_socket,
			CLI_TIMEOUT_MS, out, &err) != 0)
			return out_error_err(cli->json,
			    "cannot set up the control socket client", &err);
		*who = cli->cfg->client_name != NULL ? cli->cfg->client_name :
						       "the local primary";
		return 0;
	}
	if ((r = cli_server(cli, server, &ep)) != 0)
		return r;
	*who = ep->name;
	return cli_tls_client(cli, ep, out);
}

/*
 * Print a failed call: with --json the server's error object as is (or a
 * generated one), `eca: WHAT: MESSAGE [CODE]` on stderr.  Returns the exit
 * code.
 */
static int
call_failed(struct cli *cli, const char *what, const json_t *resp,
    const struct eca_err *err)
{
	int code;

	code = err->code != 0 ? err->code : ECA_ERR_INTERNAL;
	/*
	 * A refusal from the primary: show its object as is (a CONFLICT
	 * carries the enrollment too) and its reason code on stderr.
	 */
	if (resp != NULL && json_is_object(resp) &&
	    json_object_get(resp, "error") != NULL) {
		if (cli->json)
			out_json(resp);
		return out_error(0, code, "%s: %s [%s]", what, err->msg,
		    eca_err_name(code));
	}
	return out_error_err(cli->json, what, err);
}

int
cli_request(struct cli *cli, struct eca_client *c, const char *method,
    const char *path, const json_t *body, json_t **resp, const char *what)
{
	struct eca_err err;
	long status;

	if (eca_client_call(c, method, path, body, &status, resp, &err) != 0)
		return call_failed(cli, what, *resp, &err);
	return 0;
}

int
cli_url_escape(const char *s, char *buf, size_t len)
{
	size_t o = 0;
	unsigned char ch;

	for (; *s != '\0'; s++) {
		ch = (unsigned char)*s;
		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
		    ch == '_' || ch == '~') {
			if (o + 1 >= len)
				return ECA_ERR_USAGE;
			buf[o++] = (char)ch;
		} else {
			if (o + 3 >= len)
				return ECA_ERR_USAGE;
			buf[o++] = '%';
			eca_text_hex(&ch, 1, buf + o, 1);
			o += 2;
		}
	}
	if (o >= len)
		return ECA_ERR_USAGE;
	buf[o] = '\0';
	return 0;
}

int
cli_host_arg(struct cli *cli, const char *in, char *out, size_t outlen)
{
	struct eca_err e;

	eca_err_clear(&e);
	if (eca_hostname_canon(in, out, outlen, &e) != 0)
		return cli_usage(cli, "%s", e.msg);
	return 0;
}
