/* SPDX-License-Identifier: ISC */
/*
 * fuzz_certs.c - certificate chains as ECA_CERT_PATH holds them (PEM, DER,
 * PKCS#7 PEM or DER), then the details of the leaf.
 */
#include <stdint.h>
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "x509.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	STACK_OF(X509) *chain = NULL;
	X509 *leaf = NULL;
	struct eca_certinfo info;
	struct eca_err err;

	if (eca_x509_parse_chain(NULL, data, size, &leaf, &chain, &err) != 0) {
		/* On failure both outputs are NULL (x509.h). */
		if (leaf != NULL || chain != NULL)
			abort();
	} else {
		/* 1..ECA_CHAIN_MAX certificates in all, leaf included. */
		if (leaf == NULL || sk_X509_num(chain) >= ECA_CHAIN_MAX)
			abort();
		(void)eca_x509_info(leaf, &info, &err);
		eca_certinfo_clear(&info);
	}
	/* Every x509.h function leaves OpenSSL's error queue empty. */
	if (ERR_peek_error() != 0)
		abort();
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
	return 0;
}
