/*
 * fuzz_enroll_body.c - the body of POST /v1/enrollments, straight from the
 * network.  Whatever is accepted must name a valid host.
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

	if (eca_wire_parse_enroll_body((const char *)data, size, &body,
	    &err) != 0) {
		if (err.msg[0] == '\0')
			abort();
		return 0;
	}
	if (memchr(body.host, '\0', sizeof(body.host)) == NULL ||
	    !eca_hostname_is_canon(body.host))
		abort();
	return 0;
}
