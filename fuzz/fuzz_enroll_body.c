/* SPDX-License-Identifier: ISC */
/*
 * fuzz_enroll_body.c - the bodies of POST /v1/enrollments, of approve and
 * reject, and of POST /v1/mappings, straight from the network.  Whatever
 * is accepted must name a valid host, a canonical fingerprint.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct eca_enroll_body body;
	struct eca_err err;
	char fp[ECA_FP_HEX_LEN + 1], host[ECA_HOST_MAX], subj[ECA_DN_MAX];
	size_t i;

	if (eca_wire_parse_decision_body((const char *)data, size, fp, &err) ==
	    0) {
		if (strlen(fp) != ECA_FP_HEX_LEN)
			abort();
		for (i = 0; i < ECA_FP_HEX_LEN; i++)
			if (!((fp[i] >= '0' && fp[i] <= '9') ||
				(fp[i] >= 'a' && fp[i] <= 'f')))
				abort();
	} else if (err.msg[0] == '\0' || fp[0] != '\0')
		abort();
	if (eca_wire_parse_map_body((const char *)data, size, host, subj,
		&err) == 0) {
		if (!eca_hostname_is_canon(host) ||
		    memchr(subj, '\0', sizeof(subj)) == NULL)
			abort();
	} else if (err.msg[0] == '\0' || host[0] != '\0')
		abort();
	if (eca_wire_parse_enroll_body((const char *)data, size, &body, &err) !=
	    0) {
		if (err.msg[0] == '\0')
			abort();
		return 0;
	}
	if (memchr(body.host, '\0', sizeof(body.host)) == NULL ||
	    !eca_hostname_is_canon(body.host))
		abort();
	return 0;
}
