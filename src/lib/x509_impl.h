/* SPDX-License-Identifier: ISC */
/*
 * x509_impl.h - what the policy's two files share: x509_policy.c (the
 * verification, key, signature and usage policy, identity, details,
 * eca_x509_check_peer) and x509_path.c (the path policy).  Private to
 * them; x509.h is the API.
 */
#ifndef ECA_X509_IMPL_H
#define ECA_X509_IMPL_H

#include <stddef.h>

#include <openssl/x509.h>

#include "x509.h"

/*
 * The path policy, on the path OpenSSL built and verified in ctx (leaf
 * first, trust anchor last):
 *   - the anchor is a CA certificate, not the leaf itself (UNTRUSTED);
 *   - every key, the anchor's included, is strong enough (WEAK_KEY);
 *   - every signature the path relies on is strong enough
 *     (WEAK_SIGNATURE): all but the anchor's own, which nothing
 *     verifies (trust in the anchor comes from the store);
 *   - name constraints only in CA certificates, well formed, never an
 *     empty subtree list (BAD_CERTIFICATE);
 *   - the leaf's DNS names are host names within every CA's name
 *     constraints (BAD_CERTIFICATE; a wildcard is IDENTITY_MISMATCH).
 * 0, or the first rule broken.
 */
int x509_check_path(X509_STORE_CTX *ctx, struct eca_err *err);

/*
 * The last (most specific) commonName of x's subject as UTF-8 into buf
 * ("" when there is none): 0, or -1 when it is unreadable, does not fit
 * or holds a NUL.
 */
int x509_subject_cn(X509 *x, char *buf, size_t size);

#endif
