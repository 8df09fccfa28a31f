/* SPDX-License-Identifier: ISC */
/*
 * cmd_crl.c - `eca crl list | download | cleanup`: the local CRL cache
 * in STATE_DIR/crl (see crl.h).  `-cleanupCRLCache` is the NetBackup
 * spelling of `crl cleanup`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "crl.h"
#include "output.h"

static int
open_cache(struct cli *cli, struct eca_crl_cache **out)
{
	struct eca_err err;
	int r;

	*out = NULL;
	if ((r = cli_config(cli)) != 0)
		return r;
	eca_err_clear(&err);
	if (eca_crl_cache_open(NULL, cli->cfg, out, &err) != 0)
		return out_error_err(cli->json, "cannot open the CRL cache",
		    &err);
	return 0;
}

/* `crl list --json`: one object per cached CRL. */
static int
crl_list_json(const struct eca_crl_info *v, size_t n)
{
	json_t *arr, *j;
	size_t i;

	if ((arr = json_array()) == NULL)
		return out_error(1, ECA_ERR_NOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		j = json_pack("{s:s, s:s, s:I, s:I, s:s?, s:i, s:s, s:s?}",
		    "issuer", v[i].issuer, "hash", v[i].hash, "last_update",
		    (json_int_t)v[i].last_update, "next_update",
		    (json_int_t)v[i].next_update, "number",
		    v[i].number[0] != '\0' ? v[i].number : NULL, "entries",
		    (int)v[i].entries, "state", eca_crl_state_name(v[i].state),
		    "source", v[i].source[0] != '\0' ? v[i].source : NULL);
		if (j == NULL || json_array_append_new(arr, j) != 0) {
			json_decref(arr);
			return out_error(1, ECA_ERR_NOMEM, "out of memory");
		}
	}
	out_json(arr);
	json_decref(arr);
	return ECA_EXIT_OK;
}

static int
crl_list(struct cli *cli, struct eca_crl_cache *c)
{
	static const char *const hdr[] = {"HASH", "ISSUER", "LAST UPDATE",
	    "NEXT UPDATE", "NUMBER", "ENTRIES", "STATE"};
	struct eca_crl_info *v = NULL;
	struct out_table *t = NULL;
	struct eca_err err;
	const char *cells[7];
	char lu[32], nu[32], ent[32];
	size_t i, n = 0;
	int r = ECA_EXIT_OK;

	eca_err_clear(&err);
	if (eca_crl_cache_list(c, 0, &v, &n, &err) != 0)
		return out_error_err(cli->json, "cannot list the CRL cache",
		    &err);
	if (cli->json) {
		r = crl_list_json(v, n);
		goto out;
	}
	if ((t = out_table_new(7, hdr)) == NULL) {
		r = out_error(0, ECA_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		snprintf(ent, sizeof(ent), "%ld", v[i].entries);
		cells[0] = v[i].hash;
		cells[1] = v[i].issuer;
		cells[2] = out_time(v[i].last_update, lu, sizeof(lu));
		cells[3] = out_time(v[i].next_update, nu, sizeof(nu));
		cells[4] = out_dash(v[i].number);
		cells[5] = ent;
		cells[6] = eca_crl_state_name(v[i].state);
		if (out_table_add(t, cells) != 0) {
			r = out_error(0, ECA_ERR_NOMEM, "out of memory");
			goto out;
		}
		if (v[i].state != ECA_CRL_OK)
			out_note("the CRL of %s is %s: publish a new one or "
				 "run `eca crl download`",
			    v[i].issuer,
			    v[i].state == ECA_CRL_IN_GRACE ?
				"expired and "
				"used in its grace period "
				"(ECA_CRL_GRACE_HOURS)" :
				"expired past its grace period, so "
				"certificates "
				"it covers are refused");
	}
	if (n == 0)
		printf("The CRL cache in %s/crl is empty.\n",
		    cli->cfg->state_dir);
	else
		out_table_print(t, stdout);
out:
	out_table_free(t);
	free(v);
	return r;
}

static int
crl_download(struct cli *cli, struct eca_crl_cache *c)
{
	STACK_OF(X509) *chain = NULL;
	X509_STORE *trust = NULL;
	X509 *leaf = NULL;
	struct eca_err err;
	size_t added = 0;
	json_t *j;
	int r;

	eca_err_clear(&err);
	if (eca_x509_load_trust(NULL, cli->cfg->trust_store_path, &trust,
		&err) != 0) {
		r = out_error_err(cli->json, "cannot load the trust store",
		    &err);
		goto out;
	}
	/* This host's chain names distribution points; it is optional. */
	if (cli->cfg->cert_path != NULL &&
	    eca_x509_load_chain(NULL, cli->cfg->cert_path, &leaf, &chain,
		&err) != 0) {
		r = out_error_err(cli->json,
		    "cannot load this host's "
		    "certificate",
		    &err);
		goto out;
	}
	eca_err_clear(&err);
	if (eca_crl_cache_refresh(c, trust, leaf, chain, &added, &err) != 0) {
		r = out_error_err(cli->json, "cannot download the CRLs", &err);
		goto out;
	}
	if (cli->json) {
		if ((j = json_pack("{s:i, s:s}", "stored", (int)added, "source",
			 cli->cfg->crl_path != NULL ? cli->cfg->crl_path :
						      "distribution points")) ==
		    NULL) {
			r = out_error(1, ECA_ERR_NOMEM, "out of memory");
			goto out;
		}
		out_json(j);
		json_decref(j);
	} else
		printf("%zu CRL(s) stored from %s.\n", added,
		    cli->cfg->crl_path != NULL ? cli->cfg->crl_path :
						 "the CRL distribution points");
	if (err.msg[0] != '\0')
		out_note("%s", err.msg);
	r = ECA_EXIT_OK;
out:
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
	X509_STORE_free(trust);
	return r;
}

static int
crl_cleanup(struct cli *cli, const struct cli_args *a, struct eca_crl_cache *c)
{
	const char *hash = cli_opt(a, "--issuer-hash");
	int expired = cli_opt(a, "--expired") != NULL;
	struct eca_err err;
	size_t removed = 0;
	json_t *j;

	eca_err_clear(&err);
	if (eca_crl_cache_cleanup(c, expired, hash, 0, &removed, &err) != 0) {
		if (err.code == ECA_ERR_USAGE)
			return cli_usage(cli, "%s", err.msg);
		return out_error_err(cli->json,
		    "cannot clean up the CRL "
		    "cache",
		    &err);
	}
	if (cli->json) {
		if ((j = json_pack("{s:i}", "removed", (int)removed)) == NULL)
			return out_error(1, ECA_ERR_NOMEM, "out of memory");
		out_json(j);
		json_decref(j);
	} else
		printf("%zu CRL(s) removed from the cache.\n", removed);
	return ECA_EXIT_OK;
}

int
cmd_crl(struct cli *cli, const struct cli_args *a)
{
	struct eca_crl_cache *c = NULL;
	const char *sub = a->pos[0];
	int r;

	if (strcmp(sub, "list") != 0 && strcmp(sub, "download") != 0 &&
	    strcmp(sub, "cleanup") != 0)
		return cli_usage(cli,
		    "unknown crl command '%s' (list, "
		    "download, cleanup)",
		    sub);
	if (strcmp(sub, "cleanup") != 0 &&
	    (cli_opt(a, "--expired") != NULL ||
		cli_opt(a, "--issuer-hash") != NULL))
		return cli_usage(cli,
		    "--expired and --issuer-hash go with "
		    "`crl cleanup`");
	if ((r = open_cache(cli, &c)) != 0)
		return r;
	if (strcmp(sub, "list") == 0)
		r = crl_list(cli, c);
	else if (strcmp(sub, "download") == 0)
		r = crl_download(cli, c);
	else
		r = crl_cleanup(cli, a, c);
	eca_crl_cache_free(c);
	return r;
}

int
cmd_crl_cleanup(struct cli *cli, const struct cli_args *a)
{
	struct eca_crl_cache *c = NULL;
	int r;

	if ((r = open_cache(cli, &c)) != 0)
		return r;
	r = crl_cleanup(cli, a, c);
	eca_crl_cache_free(c);
	return r;
}
