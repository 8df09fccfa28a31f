/* SPDX-License-Identifier: ISC */
/*
 * x509_path.c - the path policy: what eca asks of the path OpenSSL built
 * and verified, beyond OpenSSL's own rules, certificate by certificate,
 * the trust anchor included (x509_check_path, called by the
 * verification in x509_policy.c).  Most of it is about names: the
 * leaf's DNS names must be host names, inside the DNS name constraints
 * of every CA of the path.
 */
#include "x509_impl.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "hostname.h"
#include "text.h"

static int
ascii_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* a and b, n bytes each, equal ignoring ASCII case (no locale). */
static int
ascii_caseeq(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ascii_lower((unsigned char)a[i]) !=
		    ascii_lower((unsigned char)b[i]))
			return 0;
	return 1;
}

/*
 * Is s (len bytes, not terminated) a host name, as every subjectAltName
 * dNSName must be?  The product-wide rule of hostname.h, in any case: so no
 * empty label (leading, trailing or double dot), no wildcard, no '_', no
 * NUL.  1 yes, 0 no.
 */
static int
san_dns_is_valid(const char *s, size_t len)
{
	char buf[ECA_HOSTNAME_MAX_LEN + 1];

	return eca_hostname_canon_n(s, len, buf, sizeof(buf), NULL) == 0;
}

int
eca_x509_dns_in_subtree(const char *name, size_t nlen, const char *base,
    size_t blen)
{
	/* As OpenSSL reads it: an empty constraint covers every name. */
	if (blen == 0)
		return 1;
	/* ".example.com": the web PKI's "subdomains only". */
	if (base[0] == '.') {
		if (!san_dns_is_valid(base + 1, blen - 1))
			return -1;
		return nlen > blen &&
		    ascii_caseeq(name + nlen - blen, base, blen);
	}
	if (!san_dns_is_valid(base, blen))
		return -1;
	/* RFC 5280 4.2.1.10: the name itself, or labels added on its left. */
	if (nlen == blen)
		return ascii_caseeq(name, base, blen);
	return nlen > blen && name[nlen - blen - 1] == '.' &&
	    ascii_caseeq(name + nlen - blen, base, blen);
}

/* len bytes of s for a message, escaped as all peer text is (text.h). */
static const char *
printable(const char *s, size_t len, char *buf, size_t size)
{
	(void)eca_text_sanitize(s, len, buf, size);
	return buf;
}

/*
 * name (a valid host name) against the DNS subtrees of every CA of the
 * path: inside at least one permitted subtree of each CA that lists
 * some, inside no excluded subtree.  OpenSSL 3.0 checks DNS constraints
 * too, but only when it takes the names for host names (it let ".x" and
 * "a..x" through a constraint "x"), and it accepts empty subtree lists
 * and constraints in a leaf; this is eca's own check, on every name, so
 * the rule does not move with OpenSSL's version.
 */
static int
check_name_constraints(STACK_OF(X509) *path, NAME_CONSTRAINTS **ncs, int n,
    const char *name, size_t nlen, struct eca_err *err)
{
	STACK_OF(GENERAL_SUBTREE) *sk;
	const GENERAL_SUBTREE *sub;
	const char *b;
	char subj[ECA_DN_MAX], nbuf[ECA_HOST_MAX], bbuf[ECA_HOST_MAX];
	size_t blen;
	int i, j, pass, m, permitted, ndns;

	for (i = 1; i < n; i++) {
		if (ncs[i] == NULL)
			continue;
		for (pass = 0; pass < 2; pass++) {
			sk = pass == 0 ? ncs[i]->permittedSubtrees :
					 ncs[i]->excludedSubtrees;
			permitted = 0;
			ndns = 0;
			for (j = 0; j < sk_GENERAL_SUBTREE_num(sk); j++) {
				sub = sk_GENERAL_SUBTREE_value(sk, j);
				if (sub->base == NULL ||
				    sub->base->type != GEN_DNS)
					continue;
				ndns++;
				b = (const char *)ASN1_STRING_get0_data(
				    sub->base->d.dNSName);
				blen = (size_t)ASN1_STRING_length(
				    sub->base->d.dNSName);
				if ((m = eca_x509_dns_in_subtree(name, nlen, b,
					 blen)) < 0)
					return eca_err_set(err,
					    ECA_ERR_BAD_CERTIFICATE,
					    "CA %s has a malformed DNS name "
					    "constraint \"%s\": request a "
					    "certificate from a CA whose name "
					    "constraints are host names",
					    eca_x509_subject_str(
						sk_X509_value(path, i), subj,
						sizeof(subj)),
					    printable(b, blen, bbuf,
						sizeof(bbuf)));
				if (m && pass == 1)
					return eca_err_set(err,
					    ECA_ERR_BAD_CERTIFICATE,
					    "the DNS name %s is inside the "
					    "excluded subtree \"%s\" of CA "
					    "%s's name constraints: request a "
					    "certificate the CA may issue",
					    printable(name, nlen, nbuf,
						sizeof(nbuf)),
					    printable(b, blen, bbuf,
						sizeof(bbuf)),
					    eca_x509_subject_str(
						sk_X509_value(path, i), subj,
						sizeof(subj)));
				permitted |= m;
			}
			if (pass == 0 && ndns > 0 && !permitted)
				return eca_err_set(err, ECA_ERR_BAD_CERTIFICATE,
				    "the DNS name %s is outside every "
				    "permitted subtree of CA %s's name "
				    "constraints: request a certificate the "
				    "CA may issue",
				    printable(name, nlen, nbuf, sizeof(nbuf)),
				    eca_x509_subject_str(sk_X509_value(path, i),
					subj, sizeof(subj)));
		}
	}
	return 0;
}

/*
 * The leaf's DNS names: every subjectAltName dNSName must be a host name
 * (a wildcard names many hosts: IDENTITY_MISMATCH, as in the identity
 * rule), and each of them, or the commonName when there is no dNSName
 * and it reads as a host name, must satisfy every CA's name
 * constraints.  The host name a peer is judged for is one of these
 * under the SAN and CN rules, so it is checked too.
 */
static int
check_leaf_names(STACK_OF(X509) *path, NAME_CONSTRAINTS **ncs, int n,
    struct eca_err *err)
{
	GENERAL_NAMES *gens = NULL;
	const GENERAL_NAME *gen;
	X509 *leaf = sk_X509_value(path, 0);
	char subj[ECA_DN_MAX], nbuf[ECA_HOST_MAX], cn[ECA_HOST_MAX];
	const char *s;
	size_t len;
	int i, crit = -1, ndns = 0, r = 0;

	gens = X509_get_ext_d2i(leaf, NID_subject_alt_name, &crit, NULL);
	if (gens == NULL && crit != -1) {
		r = eca_err_set(err, ECA_ERR_BAD_CERTIFICATE,
		    "certificate %s has a malformed or repeated "
		    "subjectAltName extension",
		    eca_x509_subject_str(leaf, subj, sizeof(subj)));
		goto out;
	}
	for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		gen = sk_GENERAL_NAME_value(gens, i);
		if (gen->type != GEN_DNS)
			continue;
		s = (const char *)ASN1_STRING_get0_data(gen->d.dNSName);
		len = (size_t)ASN1_STRING_length(gen->d.dNSName);
		if (memchr(s, '*', len) != NULL) {
			r = eca_err_set(err, ECA_ERR_IDENTITY_MISMATCH,
			    "certificate %s has the wildcard subjectAltName "
			    "dNSName %s (wildcards are not accepted): request "
			    "a certificate naming each host exactly",
			    eca_x509_subject_str(leaf, subj, sizeof(subj)),
			    printable(s, len, nbuf, sizeof(nbuf)));
			goto out;
		}
		if (!san_dns_is_valid(s, len)) {
			r = eca_err_set(err, ECA_ERR_BAD_CERTIFICATE,
			    "certificate %s has the subjectAltName dNSName "
			    "\"%s\", which is not a valid host name (empty "
			    "label, leading or trailing dot, or a character "
			    "other than letters, digits and '-'): "
			    "request a certificate whose DNS names are host "
			    "names",
			    eca_x509_subject_str(leaf, subj, sizeof(subj)),
			    printable(s, len, nbuf, sizeof(nbuf)));
			goto out;
		}
		ndns++;
		if ((r = check_name_constraints(path, ncs, n, s, len, err)) !=
		    0)
			goto out;
	}
	if (ndns == 0 && x509_subject_cn(leaf, cn, sizeof(cn)) == 0 &&
	    san_dns_is_valid(cn, strlen(cn)))
		r = check_name_constraints(path, ncs, n, cn, strlen(cn), err);
out:
	GENERAL_NAMES_free(gens);
	return r;
}

/*
 * How much of the path counts: up to the first certificate that came
 * from the trust store, the anchor.  OpenSSL may have gone on above it
 * (ECA_TRUST_PARTIAL_CHAIN with a sent certificate above a trusted one),
 * and what lies above the anchor is not part of the path.
 */
static int
path_len(X509_STORE_CTX *ctx)
{
	int n = sk_X509_num(X509_STORE_CTX_get0_chain(ctx));

	if (X509_STORE_CTX_get_num_untrusted(ctx) < n)
		n = X509_STORE_CTX_get_num_untrusted(ctx) + 1;
	return n;
}

/* The anchor (the last of n) is a CA certificate, not the leaf itself. */
static int
check_anchor(STACK_OF(X509) *path, int n, struct eca_err *err)
{
	char subj[ECA_DN_MAX];
	X509 *anchor = sk_X509_value(path, n - 1);

	if (n > 1 && X509_check_ca(anchor) != 0)
		return 0;
	return eca_err_set(err, ECA_ERR_UNTRUSTED,
	    "certificate %s is "
	    "trusted as a trust anchor itself but is not a CA certificate: "
	    "put the issuing CA in ECA_TRUST_STORE_PATH, not host "
	    "certificates",
	    eca_x509_subject_str(anchor, subj, sizeof(subj)));
}

/* Every key of the path, the anchor's included, is strong enough. */
static int
check_path_keys(STACK_OF(X509) *path, int n, struct eca_err *err)
{
	char msg[ECA_ERR_MSG_MAX];
	int i, r;

	for (i = 0; i < n; i++) {
		if ((r = eca_x509_check_key_strength(sk_X509_value(path, i),
			 err)) == 0)
			continue;
		if (i == n - 1 && err != NULL) {
			eca_text_fmt(msg, sizeof(msg), "%s", err->msg);
			(void)eca_err_set(err, r,
			    "the trust anchor in "
			    "ECA_TRUST_STORE_PATH is weak: %s; replace it (and "
			    "the chains under it)",
			    msg);
		}
		return r;
	}
	return 0;
}

/*
 * Each certificate's name constraints into ncs[i] (NULL: none): only in
 * CA certificates, well formed, never an empty subtree list.
 */
static int
read_name_constraints(STACK_OF(X509) *path, int n, NAME_CONSTRAINTS **ncs,
    struct eca_err *err)
{
	char subj[ECA_DN_MAX];
	NAME_CONSTRAINTS *nc;
	X509 *x;
	int i, crit;

	for (i = 0; i < n; i++) {
		x = sk_X509_value(path, i);
		crit = -1;
		nc = ncs[i] =
		    X509_get_ext_d2i(x, NID_name_constraints, &crit, NULL);
		if (nc == NULL && crit == -1)
			continue;
		if (i == 0 || X509_check_ca(x) == 0)
			return eca_err_set(err, ECA_ERR_BAD_CERTIFICATE,
			    "certificate %s carries name constraints, which "
			    "only a CA certificate may (RFC 5280 4.2.1.10): "
			    "request an end-entity certificate without them",
			    eca_x509_subject_str(x, subj, sizeof(subj)));
		if (nc == NULL ||
		    (nc->permittedSubtrees == NULL &&
			nc->excludedSubtrees == NULL) ||
		    (nc->permittedSubtrees != NULL &&
			sk_GENERAL_SUBTREE_num(nc->permittedSubtrees) <= 0) ||
		    (nc->excludedSubtrees != NULL &&
			sk_GENERAL_SUBTREE_num(nc->excludedSubtrees) <= 0))
			return eca_err_set(err, ECA_ERR_BAD_CERTIFICATE,
			    "CA %s has malformed name constraints (repeated, "
			    "unreadable, or an empty subtree list): request a "
			    "certificate from a CA with well-formed ones",
			    eca_x509_subject_str(x, subj, sizeof(subj)));
	}
	return 0;
}

int
x509_check_path(X509_STORE_CTX *ctx, struct eca_err *err)
{
	NAME_CONSTRAINTS *ncs[ECA_CHAIN_MAX + 2];
	STACK_OF(X509) *path = X509_STORE_CTX_get0_chain(ctx);
	int i, n, r;

	memset(ncs, 0, sizeof(ncs));
	n = path_len(ctx);
	if (n <= 0 || n > (int)(sizeof(ncs) / sizeof(ncs[0]))) {
		r = eca_err_set(err, ECA_ERR_BAD_CERTIFICATE,
		    "the verified chain has %d certificates", n);
		goto out;
	}
	if ((r = check_anchor(path, n, err)) != 0 ||
	    (r = check_path_keys(path, n, err)) != 0)
		goto out;
	/* All but the anchor's own, which nothing verifies. */
	for (i = 0; i < n - 1; i++)
		if ((r = eca_x509_check_signature(sk_X509_value(path, i),
			 err)) != 0)
			goto out;
	if ((r = read_name_constraints(path, n, ncs, err)) != 0)
		goto out;
	r = check_leaf_names(path, ncs, n, err);
out:
	for (i = 0; i < (int)(sizeof(ncs) / sizeof(ncs[0])); i++)
		NAME_CONSTRAINTS_free(ncs[i]);
	ERR_clear_error();
	return r;
}
