/*
 * text.c - the one sanitizer for peer-controlled text (text.h).
 */
#include "text.h"

#include <string.h>

static const char hexdig[] = "0123456789abcdef";

static int
plain(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '\\';
}

size_t
eca_text_sanitize(const char *s, size_t len, char *out, size_t outlen)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i, o = 0, need;

	if (out == NULL || outlen == 0)
		return 0;
	if (p == NULL)
		len = 0;
	for (i = 0; i < len; i++) {
		need = plain(p[i]) ? 1 : ECA_TEXT_ESC_LEN;
		if (o + need + 1 > outlen)
			break;
		if (need == 1)
			out[o++] = (char)p[i];
		else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hexdig[p[i] >> 4];
			out[o++] = hexdig[p[i] & 0x0f];
		}
	}
	if (i < len && outlen > 3) {
		/* Cut: make room for "..." by dropping whole pieces. */
		while (o + 4 > outlen) {
			if (o >= ECA_TEXT_ESC_LEN && out[o - ECA_TEXT_ESC_LEN] ==
			    '\\' && out[o - ECA_TEXT_ESC_LEN + 1] == 'x')
				o -= ECA_TEXT_ESC_LEN;
			else
				o--;
		}
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return o;
}
