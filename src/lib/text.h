/*
 * text.h - peer-controlled text made safe to log, journal or show.
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
size_t eca_text_sanitize(const char *s, size_t len, char *out,
    size_t outlen);

#endif
