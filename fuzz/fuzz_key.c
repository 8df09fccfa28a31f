/* SPDX-License-Identifier: ISC */
/*
 * fuzz_key.c - private keys as ECA_PRIVATE_KEY_PATH holds them (PEM or DER,
 * possibly encrypted; the corpus's encrypted keys use the passphrase "fuzz").
 */
#include <stdint.h>
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "x509.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	EVP_PKEY *key = NULL;
	struct eca_err err;

	if (eca_x509_parse_key(NULL, data, size, "fuzz", &key, &err) != 0) {
		if (key != NULL)
			abort();
	} else if (key == NULL)
		abort();
	if (ERR_peek_error() != 0)
		abort();
	EVP_PKEY_free(key);
	return 0;
}
