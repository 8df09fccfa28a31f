/* SPDX-License-Identifier: ISC */
/*
 * text.c - the one sanitizer for peer-controlled text, hex and times
 * (text.h).
 */
#include "text.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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
			if (o >= ECA_TEXT_ESC_LEN &&
			    out[o - ECA_TEXT_ESC_LEN] == '\\' &&
			    out[o - ECA_TEXT_ESC_LEN + 1] == 'x')
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

void
eca_text_hex(const void *raw, size_t n, char *out, int upper)
{
	static const char updig[] = "0123456789ABCDEF";
	const char *dig = upper ? updig : hexdig;
	const unsigned char *p = raw;
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = dig[p[i] >> 4];
		out[2 * i + 1] = dig[p[i] & 0xf];
	}
	out[2 * n] = '\0';
}

static void
fmt_utc(int64_t t, const char *fmt, char *buf, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (len == 0)
		return;
	if ((int64_t)tt != t || gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, fmt, &tm) == 0)
		(void)snprintf(buf, len, "%lld", (long long)t);
}

void
eca_text_rfc3339(int64_t t, char *buf, size_t len)
{
	fmt_utc(t, "%Y-%m-%dT%H:%M:%SZ", buf, len);
}

void
eca_text_utc(int64_t t, char *buf, size_t len)
{
	fmt_utc(t, "%Y-%m-%d %H:%M:%S UTC", buf, len);
}

void
eca_text_fmt(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (buf == NULL || size == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}
