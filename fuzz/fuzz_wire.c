/* SPDX-License-Identifier: ISC */
/*
 * fuzz_wire.c - JSON the command line reads from a primary: enrollment
 * records and error objects.  A record that parses must survive being
 * written out and read back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct eca_enrollment rec, again;
	struct eca_err err;
	json_error_t jerr;
	json_t *j = NULL, *out = NULL;

	if ((j = json_loadb((const char *)data, size, 0, &jerr)) == NULL)
		return 0;
	memset(&rec, 0, sizeof(rec));
	if (eca_wire_parse_enrollment(j, &rec, &err) == 0) {
		if ((out = eca_wire_enrollment(&rec)) == NULL)
			abort();
		memset(&again, 0, sizeof(again));
		if (eca_wire_parse_enrollment(out, &again, &err) != 0)
			abort();
		json_decref(out);
		eca_enrollment_clear(&again);
		eca_enrollment_clear(&rec);
	}
	(void)eca_wire_parse_error(j, &err);
	json_decref(j);
	return 0;
}
