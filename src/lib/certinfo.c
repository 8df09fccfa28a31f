/* SPDX-License-Identifier: ISC */
/*
 * certinfo.c - the dNSNames of a struct eca_certinfo: inline when short,
 * else owned on the heap (certinfo.h).
 */
#include "certinfo.h"

#include <stdlib.h>
#include <string.h>

const char *
eca_certinfo_san(const struct eca_certinfo *ci)
{
	return ci->san_heap != NULL ? ci->san_heap : ci->san_inline;
}

void
eca_certinfo_clear(struct eca_certinfo *ci)
{
	if (ci == NULL)
		return;
	free(ci->san_heap);
	ci->san_heap = NULL;
	ci->san_inline[0] = '\0';
}

int
eca_certinfo_set_san(struct eca_certinfo *ci, const char *s, size_t len,
    struct eca_err *err)
{
	char *p;

	eca_certinfo_clear(ci);
	if (len >= ECA_SAN_MAX)
		return eca_err_set(err, ECA_ERR_BAD_CERTIFICATE,
		    "the certificate's subjectAltName DNS names take %zu "
		    "bytes, more than eca accepts (%d): request a certificate "
		    "with fewer names",
		    len, ECA_SAN_MAX - 1);
	if (len < sizeof(ci->san_inline)) {
		memcpy(ci->san_inline, s, len);
		ci->san_inline[len] = '\0';
		return 0;
	}
	if ((p = malloc(len + 1)) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory for %zu bytes of subjectAltName DNS names",
		    len);
	memcpy(p, s, len);
	p[len] = '\0';
	ci->san_heap = p;
	return 0;
}

int
eca_certinfo_copy(struct eca_certinfo *dst, const struct eca_certinfo *src,
    struct eca_err *err)
{
	const char *san = eca_certinfo_san(src);

	if (dst == src)
		return 0;
	*dst = *src;
	if (src->san_heap == NULL)
		return 0;
	dst->san_heap = NULL;
	return eca_certinfo_set_san(dst, san, strlen(san), err);
}

void
eca_certinfo_summary(struct eca_certinfo *dst, const struct eca_certinfo *src)
{
	if (dst == src)
		return;
	memcpy(dst, src, sizeof(*dst));
	dst->san_heap = NULL;
}
