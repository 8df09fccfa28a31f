/* SPDX-License-Identifier: ISC */
/*
 * fuzz_config.c - eca.conf parser.  Whatever parses must dump to text that
 * parses again to the same dump: `ecad -T` output is a valid eca.conf.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct eca_config *cfg = NULL, *again = NULL;
	struct eca_err err;
	char *dump = NULL, *dump2 = NULL;

	if (eca_config_parse((const char *)data, size, "fuzz", &cfg, &err) !=
	    0) {
		/* A refusal must say something and hand nothing back. */
		if (cfg != NULL || err.msg[0] == '\0' || err.code >= 0)
			abort();
		return 0;
	}
	if ((dump = eca_config_dump(cfg)) == NULL)
		abort();
	if (eca_config_parse(dump, strlen(dump), "dump", &again, &err) != 0) {
		fprintf(stderr, "dump does not parse: %s\n%s", err.msg, dump);
		abort();
	}
	if ((dump2 = eca_config_dump(again)) == NULL)
		abort();
	if (strcmp(dump, dump2) != 0) {
		fprintf(stderr, "dump changed:\n%s---\n%s", dump, dump2);
		abort();
	}
	free(dump);
	free(dump2);
	eca_config_free(cfg);
	eca_config_free(again);
	return 0;
}
