/* SPDX-License-Identifier: ISC */
/*
 * cmd_cert.c - `eca cert-details --cert FILE`: what a certificate chain
 * file holds.  Needs no configuration, so it works on any machine.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/x509.h>

#include "cli.h"
#include "output.h"
#include "wire.h"

static void
print_info(const char *title, const struct eca_certinfo *ci)
{
	char nb[32], na[32];

	printf("\n%s\n", title);
	printf("  Subject:             %s\n", out_dash(ci->subject));
	printf("  Issuer:              %s\n", out_dash(ci->issuer));
	printf("  Serial:              %s\n", out_dash(ci->serial));
	printf("  Not before:          %s\n",
	    out_time(ci->not_before, nb, sizeof(nb)));
	printf("  Not after:           %s\n",
	    out_time(ci->not_after, na, sizeof(na)));
	printf("  Key:                 %s\n", out_dash(ci->key_desc));
	printf("  Signature:           %s\n", out_dash(ci->sig_alg));
	printf("  Common name:         %s\n", out_dash(ci->cn));
	printf("  DNS names (SAN):     %s\n", out_dash(eca_certinfo_san(ci)));
	printf("  SHA-256 fingerprint: %s\n", out_dash(ci->fingerprint));
	printf("  SPKI SHA-256:        %s\n", out_dash(ci->spki_fingerprint));
}

int
cmd_cert(struct cli *cli, const struct cli_args *a)
{
	X509 *leaf = NULL;
	STACK_OF(X509) *chain = NULL;
	struct eca_certinfo ci;
	struct eca_err err;
	json_t *top = NULL, *arr = NULL, *j;
	const char *path;
	char title[64];
	int i, n, r;

	if ((path = cli_opt(a, "--cert")) == NULL)
		return cli_usage(cli, "cert-details needs --cert FILE");
	eca_err_clear(&err);
	memset(&ci, 0, sizeof(ci));
	if (eca_x509_load_chain(NULL, path, &leaf, &chain, &err) != 0) {
		r = out_error_err(cli->json, "cannot read the certificate",
		    &err);
		goto out;
	}
	n = chain != NULL ? sk_X509_num(chain) : 0;
	if (cli->json &&
	    ((top = json_object()) == NULL || (arr = json_array()) == NULL)) {
		r = out_error(cli->json, ECA_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = -1; i < n; i++) {
		eca_certinfo_clear(&ci);
		if (eca_x509_info(i < 0 ? leaf : sk_X509_value(chain, i), &ci,
			&err) != 0) {
			r = out_error_err(cli->json,
			    i < 0 ?
				"cannot describe the certificate" :
				"cannot describe an intermediate certificate",
			    &err);
			goto out;
		}
		if (!cli->json) {
			if (i < 0)
				printf("Certificate in %s\n", path);
			snprintf(title, sizeof(title), "%s",
			    i < 0 ? "Leaf certificate:" : "");
			if (i >= 0)
				snprintf(title, sizeof(title),
				    "Intermediate certificate %d:", i + 1);
			print_info(title, &ci);
			continue;
		}
		if ((j = eca_wire_certinfo(&ci)) == NULL ||
		    (i < 0 ? json_object_set_new(top, "certificate", j) :
			     json_array_append_new(arr, j)) != 0) {
			r = out_error(cli->json, ECA_ERR_NOMEM,
			    "out of memory");
			goto out;
		}
	}
	if (cli->json) {
		if (json_object_set(top, "chain", arr) != 0) {
			r = out_error(cli->json, ECA_ERR_NOMEM,
			    "out of memory");
			goto out;
		}
		out_json(top);
	}
	r = 0;
out:
	eca_certinfo_clear(&ci);
	json_decref(top);
	json_decref(arr);
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
	return r;
}
