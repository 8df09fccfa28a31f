/* SPDX-License-Identifier: ISC */
/*
 * hostname.h - the one canonical spelling of a host name.
 *
 * Host names are DNS names, and DNS compares them without regard to ASCII
 * case (RFC 4343).  eca compares names byte for byte everywhere (registry,
 * roster, API, channels, configuration, command line), so every name that
 * crosses a trust boundary goes through eca_hostname_canon() first and only
 * its canonical form is kept and compared.  Two spellings of one host can
 * then never stand for two hosts.
 *
 * The canonical form: ASCII lower case; labels of 1..63 characters from
 * [a-z0-9-], not starting or ending with '-', joined by single dots; at
 * most 253 characters; no trailing dot (a fully qualified "host.example."
 * is refused rather than silently shortened, so that the name a host
 * configures is the name its certificate must carry).  Underscores are
 * refused: they are not valid in host names (RFC 952, RFC 1123) and no
 * public CA issues them in a dNSName.  Internationalised names are given
 * in their ASCII (A-label, "xn--") form; anything beyond ASCII is refused.
 */
#ifndef ECA_HOSTNAME_H
#define ECA_HOSTNAME_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define ECA_HOSTNAME_MAX_LEN 253 /* without the NUL */
#define ECA_HOSTNAME_LABEL_MAX 63

/*
 * Canonicalise the NUL-terminated name in into out (outlen bytes, at least
 * strlen(in) + 1; ECA_HOST_MAX always suffices for a valid name).  0 on
 * success; ECA_ERR_BAD_HOST_NAME with a sentence naming the name (shown
 * safely) and what is wrong with it.  out is "" on failure.  in and out
 * may be the same buffer.
 */
int eca_hostname_canon(const char *in, char *out, size_t outlen,
    struct eca_err *err) ECA_WUR;
/* The same for len bytes that need not be NUL-terminated (a NUL inside is refused). */
int eca_hostname_canon_n(const char *in, size_t len, char *out, size_t outlen,
    struct eca_err *err) ECA_WUR;
/*
 * The case fold alone: in (NUL-terminated) with A-Z as a-z into out
 * (outlen bytes; in and out may be the same buffer), and its length; -1 if
 * it is longer than a host name or does not fit.  Nothing else is checked:
 * it is fit only to look a name up among canonical keys, where a valid
 * name folds to its canonical form and an invalid one to a name still
 * invalid (folding changes only letters), which equals no key.  Anything
 * kept or compared otherwise is canonicalised.  The roster's lookups apply
 * eca_hostname_fold8 below to each word as they read it, with no copy;
 * this string form of the same fold is what test_hostname and fuzz_roster
 * check those properties on.
 */
int eca_hostname_fold(const char *in, char *out, size_t outlen) ECA_WUR;
/*
 * The same fold on the 8 bytes of w at once, in a register (the roster's
 * lookups fold each word of the name as they read it).  Each byte's low 7
 * bits plus 0x3f reach bit 7 when they are at least 'A', plus 0x25 when
 * they are above 'Z', and neither sum carries into the next byte; a byte
 * with bit 7 set is not a letter.  The upper-case letters' bit 7, shifted
 * to 0x20, folds them.
 */
static inline uint64_t
eca_hostname_fold8(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ULL, high = ones * 0x80;
	uint64_t x = w & ~high, upper;

	upper = (x + ones * (0x80 - 'A')) & ~(x + ones * (0x80 - 'Z' - 1)) &
	    ~w & high;
	return w | upper >> 2;
}
/* 1 if in is a valid host name in any case, else 0. */
int eca_hostname_valid(const char *in);
/* 1 if s is a valid host name already in canonical form, else 0. */
int eca_hostname_is_canon(const char *s);
/*
 * 1 if a and b are valid host names with the same canonical form, else 0
 * (an invalid name equals nothing, not even itself).
 */
int eca_hostname_eq(const char *a, const char *b);

#endif
