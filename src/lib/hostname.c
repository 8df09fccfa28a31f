/* SPDX-License-Identifier: ISC */
/*
 * hostname.c - the canonical form of a host name (see hostname.h).
 *
 * One pass over the bytes: fold A-Z to a-z, check each label as it ends.
 * The folding is ASCII only on purpose: tolower() depends on the locale,
 * and a locale that folds a non-ASCII byte could make two different names
 * equal.
 */
#include "hostname.h"

#include <stdint.h>
#include <string.h>

#include "text.h"

/* Longest piece of a refused name echoed in a message. */
#define SHOW_MAX 64

/* c in its canonical case: ASCII A-Z only, whatever the locale. */
static char
fold(char c)
{
	unsigned char u = (unsigned char)c;

	return (char)(u + ((unsigned char)(u - 'A') < 26 ? 'a' - 'A' : 0));
}

/* eca_hostname_fold8 on the 8 bytes at in, into out (which may be in). */
static void
fold_word(const char *in, char *out)
{
	uint64_t w;

	memcpy(&w, in, 8);
	w = eca_hostname_fold8(w);
	memcpy(out, &w, 8);
}

static int
refuse(struct eca_err *err, const char *in, size_t len, const char *why)
{
	char name[SHOW_MAX + 1];

	/* The caller's text: escaped, capped with "..." (text.h). */
	(void)eca_text_sanitize(in, len, name, sizeof(name));
	return eca_err_set(err, ECA_ERR_BAD_HOST_NAME,
	    "'%s' is not a valid "
	    "host name: %s",
	    name, why);
}

/* The reason a label [s, s + n) is bad, or NULL. */
static const char *
label_fault(const char *s, size_t n)
{
	if (n == 0)
		return "it has an empty label (a leading dot or two dots in "
		       "a row)";
	if (n > ECA_HOSTNAME_LABEL_MAX)
		return "a label is longer than 63 characters";
	if (s[0] == '-')
		return "a label starts with '-'";
	if (s[n - 1] == '-')
		return "a label ends with '-'";
	return NULL;
}

static int
canon(const char *in, size_t len, char *out, size_t outlen, struct eca_err *err)
{
	const char *why;
	size_t i, start = 0;
	char c;

	if (in == NULL)
		return eca_err_set(err, ECA_ERR_BAD_HOST_NAME,
		    "no host name given");
	if (len == 0)
		return refuse(err, in, len, "it is empty");
	if (len > ECA_HOSTNAME_MAX_LEN)
		return refuse(err, in, len,
		    "it is longer than 253 "
		    "characters");
	if (out == NULL || outlen <= len)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "no room for the "
		    "canonical form of a %zu-character host name",
		    len);
	if (in[len - 1] == '.')
		return refuse(err, in, len,
		    "it ends with a dot (write the "
		    "name without the trailing dot)");
	for (i = 0; i < len; i++) {
		c = in[i];
		if (c == '_')
			return refuse(err, in, len,
			    "'_' is not allowed (host "
			    "names are letters, digits and '-' in labels "
			    "joined by dots)");
		if (c != '.' && c != '-' && !(c >= '0' && c <= '9') &&
		    !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z'))
			return refuse(err, in, len,
			    "only letters, digits, "
			    "'-' and '.' are allowed (internationalised names "
			    "in their xn-- form)");
		if (c == '.') {
			if ((why = label_fault(in + start, i - start)) != NULL)
				return refuse(err, in, len, why);
			start = i + 1;
		}
	}
	if ((why = label_fault(in + start, len - start)) != NULL)
		return refuse(err, in, len, why);
	/* Checked first, folded second: in and out may overlap. */
	for (i = 0; i < len; i++)
		out[i] = fold(in[i]);
	out[len] = '\0';
	return 0;
}

int
eca_hostname_canon_n(const char *in, size_t len, char *out, size_t outlen,
    struct eca_err *err)
{
	int r;

	/* in and out may be the same buffer: clear out only on failure. */
	if ((r = canon(in, len, out, outlen, err)) != 0 && out != NULL &&
	    outlen > 0)
		out[0] = '\0';
	return r;
}

int
eca_hostname_canon(const char *in, char *out, size_t outlen,
    struct eca_err *err)
{
	if (in == NULL) {
		if (out != NULL && outlen > 0)
			out[0] = '\0';
		return eca_err_set(err, ECA_ERR_BAD_HOST_NAME,
		    "no host name given");
	}
	return eca_hostname_canon_n(in, strnlen(in, ECA_HOSTNAME_MAX_LEN + 1),
	    out, outlen, err);
}

int
eca_hostname_fold(const char *in, char *out, size_t outlen)
{
	size_t i, len;

	if (in == NULL || out == NULL)
		return -1;
	len = strnlen(in, ECA_HOSTNAME_MAX_LEN + 1);
	if (len > ECA_HOSTNAME_MAX_LEN || outlen <= len)
		return -1;
	if (len < 8) {
		for (i = 0; i < len; i++)
			out[i] = fold(in[i]);
	} else {
		/* The last word ends at len, over the one before: folding
		 * twice folds once. */
		for (i = 0; i + 8 < len; i += 8)
			fold_word(in + i, out + i);
		fold_word(in + len - 8, out + len - 8);
	}
	out[len] = '\0';
	return (int)len;
}

int
eca_hostname_valid(const char *in)
{
	char buf[ECA_HOSTNAME_MAX_LEN + 1];

	return eca_hostname_canon(in, buf, sizeof(buf), NULL) == 0;
}

int
eca_hostname_is_canon(const char *s)
{
	char buf[ECA_HOSTNAME_MAX_LEN + 1];

	return eca_hostname_canon(s, buf, sizeof(buf), NULL) == 0 &&
	    strcmp(buf, s) == 0;
}

int
eca_hostname_eq(const char *a, const char *b)
{
	char ca[ECA_HOSTNAME_MAX_LEN + 1], cb[ECA_HOSTNAME_MAX_LEN + 1];

	return eca_hostname_canon(a, ca, sizeof(ca), NULL) == 0 &&
	    eca_hostname_canon(b, cb, sizeof(cb), NULL) == 0 &&
	    strcmp(ca, cb) == 0;
}
