/* SPDX-License-Identifier: ISC */
/*
 * fuzz_dn.c - a subject DN as an administrator types it (`eca map add`,
 * POST /v1/mappings), parsed by eca_dn_normalize.  What is accepted is
 * NUL-terminated, non-empty, and a fixed point: normalizing it again gives
 * itself, so a stored subject always compares equal to its own form.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "x509.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[ECA_DN_MAX + 1], out[ECA_DN_MAX], again[ECA_DN_MAX];
	struct eca_err err;

	if (size > ECA_DN_MAX)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	if (eca_dn_normalize(in, out, sizeof(out), &err) != 0) {
		if (err.msg[0] == '\0' || out[0] != '\0')
			abort();
		return 0;
	}
	if (out[0] == '\0' || memchr(out, '\0', sizeof(out)) == NULL)
		abort();
	if (eca_dn_normalize(out, again, sizeof(again), &err) != 0 ||
	    strcmp(out, again) != 0)
		abort();
	return 0;
}
