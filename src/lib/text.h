/* SPDX-License-Identifier: ISC */
/*
 * text.h - peer-controlled text made safe to log, journal or show; hex
 * and times written one way everywhere.
 *
 * Request paths, headers, HELLO fields, certificate subjects and peers'
 * messages are chosen by whoever is on the other end.  Written raw into a
 * log they can carry terminal escape sequences, fake line breaks or bytes
 * a log reader chokes on.  Every such field goes through the one function
 * below before it is logged, journaled or quoted in a message.
 */
#ifndef ECA_TEXT_H
#define ECA_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* What a fully escaped byte takes: "\xNN". */
#define ECA_TEXT_ESC_LEN 4

/*
 * Copy the len bytes at s (NULL: none) into out, which has outlen bytes
 * and is always NUL-terminated when outlen > 0.  Printable ASCII (0x20 to
 * 0x7e) is copied as it is, except the backslash; every other byte
 * (control characters, DEL, anything above 0x7f, NUL, the backslash) is
 * written as \xNN (lower-case hex), so the result is unambiguous and the
 * original bytes can be read back from it.  An escape is never cut in
 * half; when s does not fit, the copy ends with "..." (if outlen > 3).
 * Returns the length written, without the NUL.
 */
size_t eca_text_sanitize(const char *s, size_t len, char *out, size_t outlen);

/*
 * The n bytes at raw as 2n hex digits (lower case, or upper case when
 * upper) into out, which has room for 2n + 1 bytes; NUL-terminated.
 */
void eca_text_hex(const void *raw, size_t n, char *out, int upper);

/* Room for either time below, with its NUL. */
#define ECA_TEXT_TIME_LEN 32

/*
 * A time in seconds since the epoch as RFC 3339 UTC, "2026-12-02T16:44:50Z"
 * (what the API, the journal and JSON output carry), or for people,
 * "2026-12-02 16:44:50 UTC".  A time gmtime() cannot represent is written
 * as its number of seconds.
 */
void eca_text_rfc3339(int64_t t, char *buf, size_t len);
void eca_text_utc(int64_t t, char *buf, size_t len);

/*
 * snprintf into buf where a truncated result is acceptable (messages,
 * labels, names shown to people): never fails, always terminated.
 */
void eca_text_fmt(char *buf, size_t size, const char *fmt, ...)
    ECA_PRINTF(3, 4);

#endif
