/* SPDX-License-Identifier: ISC */
/*
 * dn.c - the one string form of a distinguished name, for ECA_IDENTITY =
 * DN (the administrator's `eca map add HOST SUBJECT`).
 *
 * OpenSSL prints names (XN_FLAG_RFC2253) but has no parser for that form,
 * so the string is taken apart here, built into an X509_NAME and printed
 * back by the same function that prints certificate subjects.  Whatever
 * spelling an administrator types, what is stored and compared is what a
 * certificate with that subject prints as.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "x509.h"

#define AVA_MAX 64 /* attribute-value pairs in one name */

struct ava {
	int nid;
	int new_rdn; /* first AVA of its RDN */
	char value[ECA_DN_MAX];
	size_t len;
};

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * One attribute type at *p up to '=': a short or long name, or a dotted
 * OID, spaces around it ignored.
 */
static int
parse_type(const char **p, int *nid, struct eca_err *err)
{
	char type[64];
	const char *s = *p;
	size_t n = 0;

	while (*s == ' ')
		s++;
	while (*s != '\0' && *s != '=' && *s != ' ') {
		if (n + 1 >= sizeof(type))
			return eca_err_set(err, ECA_ERR_PARSE,
			    "attribute type too long");
		type[n++] = *s++;
	}
	type[n] = '\0';
	while (*s == ' ')
		s++;
	if (n == 0 || *s != '=')
		return eca_err_set(err, ECA_ERR_PARSE,
		    "expected TYPE=VALUE near \"%.32s\"", *p);
	/* OBJ_txt2nid knows "CN", "commonName" and "2.5.4.3". */
	if ((*nid = OBJ_txt2nid(type)) == NID_undef) {
		/* Short names are upper case ("cn" is "CN"). */
		for (n = 0; type[n] != '\0'; n++)
			if (type[n] >= 'a' && type[n] <= 'z')
				type[n] = (char)(type[n] - 'a' + 'A');
		*nid = OBJ_txt2nid(type);
	}
	ERR_clear_error();
	if (*nid == NID_undef)
		return eca_err_set(err, ECA_ERR_PARSE,
		    "unknown attribute type \"%s\"", type);
	*p = s + 1;
	return 0;
}

/*
 * One value at *p, ending at an unescaped separator in seps (or the end);
 * *p is left on the separator.  Escapes: backslash and one special
 * character, or backslash and two hex digits (a byte of UTF-8).
 */
static int
parse_value(const char **p, const char *seps, struct ava *a,
    struct eca_err *err)
{
	const char *s = *p;
	size_t n = 0, keep = 0;
	int hi, lo, quoted = 0;

	while (*s == ' ')
		s++;
	/*
	 * A leading '#' is taken as text, not as RFC 4514's hex-encoded BER:
	 * OpenSSL prints such a value unescaped ("O=#x"), and the printed
	 * form must read back as itself.
	 */
	if (*s == '"') {
		quoted = 1;
		s++;
	}
	for (;;) {
		if (*s == '\0') {
			if (quoted)
				return eca_err_set(err, ECA_ERR_PARSE,
				    "unterminated quoted value");
			break;
		}
		if (quoted && *s == '"') {
			s++;
			while (*s == ' ')
				s++;
			keep = n;
			break;
		}
		if (!quoted && strchr(seps, *s) != NULL)
			break;
		if (n + 1 >= sizeof(a->value))
			return eca_err_set(err, ECA_ERR_PARSE,
			    "attribute value too long");
		if (*s == '\\') {
			s++;
			if ((hi = hexval((unsigned char)s[0])) >= 0 &&
			    (lo = hexval((unsigned char)s[1])) >= 0) {
				a->value[n++] = (char)(hi << 4 | lo);
				s += 2;
			} else if (*s != '\0' &&
			    strchr(",=+<>#;\\\" /", *s) != NULL)
				a->value[n++] = *s++;
			else
				return eca_err_set(err, ECA_ERR_PARSE,
				    "bad escape in an attribute value");
			keep = n; /* an escaped space is kept */
			continue;
		}
		a->value[n++] = *s++;
		if (a->value[n - 1] != ' ')
			keep = n;
	}
	a->len = keep; /* trailing unescaped spaces dropped */
	a->value[a->len] = '\0';
	if (a->len == 0)
		return eca_err_set(err, ECA_ERR_PARSE, "empty attribute value");
	*p = s;
	return 0;
}

/* The AVAs of in, in the order they are written. */
static int
parse_avas(const char *in, int slash, struct ava *avas, size_t *n,
    struct eca_err *err)
{
	const char *p = in + (slash ? 1 : 0);
	const char *seps = slash ? "/+" : ",;+";
	int r, new_rdn = 1;

	*n = 0;
	for (;;) {
		if (*n >= AVA_MAX)
			return eca_err_set(err, ECA_ERR_PARSE,
			    "more than %d attributes", AVA_MAX);
		if ((r = parse_type(&p, &avas[*n].nid, err)) != 0 ||
		    (r = parse_value(&p, seps, &avas[*n], err)) != 0)
			return r;
		avas[*n].new_rdn = new_rdn;
		(*n)++;
		if (*p == '\0')
			return 0;
		new_rdn = *p != '+';
		p++;
	}
}

/* Add the RDN whose first AVA is avas[start]: it and those that follow it. */
static int
add_rdn(X509_NAME *name, const struct ava *avas, size_t n, size_t start,
    struct eca_err *err)
{
	size_t i;
	int r;

	for (i = start; i < n && (i == start || !avas[i].new_rdn); i++) {
		if (!X509_NAME_add_entry_by_NID(name, avas[i].nid,
			MBSTRING_UTF8, (const unsigned char *)avas[i].value,
			(int)avas[i].len, -1, i == start ? 0 : -1)) {
			r = eca_err_set(err, ECA_ERR_PARSE,
			    "value \"%.64s\" "
			    "is not allowed for attribute %s",
			    avas[i].value, OBJ_nid2sn(avas[i].nid));
			eca_err_add_openssl(err);
			return r;
		}
	}
	return 0;
}

/*
 * The RDNs into name in DER order.  The one-line (slash) form is written
 * in that order; RFC 4514 writes the last RDN first, so its RDNs are added
 * from the end, each RDN's AVAs still in their order.
 */
static int
build_name(X509_NAME *name, const struct ava *avas, size_t n, int slash,
    struct eca_err *err)
{
	size_t start, end;
	int r;

	if (slash) {
		for (start = 0; start < n; start++)
			if (avas[start].new_rdn &&
			    (r = add_rdn(name, avas, n, start, err)) != 0)
				return r;
		return 0;
	}
	/* avas[0] starts an RDN, so each backward search stops. */
	for (end = n; end > 0; end = start) {
		for (start = end - 1; !avas[start].new_rdn; start--)
			;
		if ((r = add_rdn(name, avas, n, start, err)) != 0)
			return r;
	}
	return 0;
}

/*
 * Through DER and back, then printed as a certificate's subject is: the
 * encoder sorts the AVAs of a multi-valued RDN (a SET OF), as it did in
 * the certificate, so both print alike.
 */
static int
print_canonical(X509_NAME *name, char *out, size_t size, struct eca_err *err)
{
	X509_NAME *canon = NULL;
	unsigned char *der = NULL;
	const unsigned char *p;
	long len;
	int r;

	if ((len = i2d_X509_NAME(name, &der)) <= 0 ||
	    (p = der, (canon = d2i_X509_NAME(NULL, &p, len)) == NULL) ||
	    p != der + len)
		r = eca_err_set(err, ECA_ERR_PARSE, "cannot encode the name");
	else
		r = eca_x509_name_rfc2253(canon, out, size, err);
	X509_NAME_free(canon);
	OPENSSL_free(der);
	return r;
}

/* The refusal of in, with the reason err holds (r: the code so far). */
static int
not_a_dn(const char *in, int r, struct eca_err *err)
{
	char why[ECA_ERR_MSG_MAX];
	int code;

	if (r == ECA_ERR_NOMEM)
		return r;
	code = r == ECA_ERR_BAD_CERTIFICATE ? ECA_ERR_PARSE : r;
	if (err != NULL) {
		snprintf(why, sizeof(why), "%s", err->msg);
		eca_err_set(err, code,
		    "subject \"%.200s\" is not a "
		    "distinguished name: %s",
		    in, why);
	}
	return code;
}

int
eca_dn_normalize(const char *in, char *out, size_t size, struct eca_err *err)
{
	struct ava *avas = NULL;
	X509_NAME *name = NULL;
	size_t n = 0;
	int r = ECA_ERR_INTERNAL, slash;

	if (out == NULL || size == 0 || in == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_dn_normalize: missing argument");
	out[0] = '\0';
	while (*in == ' ')
		in++;
	if (*in == '\0')
		return eca_err_set(err, ECA_ERR_PARSE,
		    "the subject is empty (give a DN such as "
		    "\"CN=host1,O=Example\")");
	if ((avas = calloc(AVA_MAX, sizeof(*avas))) == NULL ||
	    (name = X509_NAME_new()) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
		goto out;
	}
	slash = in[0] == '/';
	if ((r = parse_avas(in, slash, avas, &n, err)) != 0 ||
	    (r = build_name(name, avas, n, slash, err)) != 0 ||
	    (r = print_canonical(name, out, size, err)) != 0)
		goto out;
	r = 0;
out:
	if (r != 0) {
		r = not_a_dn(in, r, err);
		out[0] = '\0';
	}
	X509_NAME_free(name);
	free(avas);
	ERR_clear_error();
	return r;
}
