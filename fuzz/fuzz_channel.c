/* SPDX-License-Identifier: ISC */
/*
 * fuzz_channel.c - what a peer host sends on a channel: the frame header
 * and the three protocol messages (server HELLO, client HELLO, VERDICT).
 * A message that parses must survive being encoded and parsed again
 * unchanged; the frame codec must never announce a frame it cannot hold.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_frame(const uint8_t *f, size_t flen, size_t *payload)
{
	size_t fl = 0;

	if (eca_channel_frame_need(f, flen, &fl) != 0 || fl != flen)
		abort();
	*payload = fl - 4;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct eca_channel_server_hello sh, sh2;
	struct eca_channel_client_hello hc, hc2;
	struct eca_channel_verdict v, v2;
	struct eca_err err;
	unsigned char *f = NULL;
	size_t fl = 0, flen, n;
	int r;

	r = eca_channel_frame_need(data, size, &fl);
	if (r == 0 && (fl < 5 || fl > size || fl > 4 + ECA_FRAME_MAX))
		abort();

	if (eca_channel_server_hello_parse(data, size, &sh, &err) == 0) {
		if (eca_channel_server_hello_encode(&sh, &f, &flen, &err) != 0)
			abort();
		check_frame(f, flen, &n);
		if (eca_channel_server_hello_parse(f + 4, n, &sh2, &err) != 0 ||
		    memcmp(&sh, &sh2, sizeof(sh)) != 0)
			abort();
		free(f);
		f = NULL;
	}
	if (eca_channel_client_hello_parse(data, size, &hc, &err) == 0) {
		if (eca_channel_client_hello_encode(&hc, &f, &flen, &err) != 0)
			abort();
		check_frame(f, flen, &n);
		if (eca_channel_client_hello_parse(f + 4, n, &hc2, &err) != 0 ||
		    memcmp(&hc, &hc2, sizeof(hc)) != 0)
			abort();
		free(f);
		f = NULL;
	}
	if (eca_channel_verdict_parse(data, size, &v, &err) == 0) {
		/*
		 * An unknown reason from a newer peer parses as INTERNAL;
		 * whatever parsed must encode, with its message cleaned.
		 */
		if (eca_channel_verdict_encode(&v, &f, &flen, &err) != 0)
			abort();
		check_frame(f, flen, &n);
		if (eca_channel_verdict_parse(f + 4, n, &v2, &err) != 0 ||
		    v.accept != v2.accept || v.code != v2.code ||
		    strcmp(v.primary, v2.primary) != 0)
			abort();
		free(f);
	}
	return 0;
}
