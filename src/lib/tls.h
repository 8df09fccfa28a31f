/* SPDX-License-Identifier: ISC */
/*
 * tls.h - TLS contexts with eca's settings: TLS 1.2 and 1.3 only, this
 * host's certificate, chain and key, and its trust store.
 */
#ifndef ECA_TLS_H
#define ECA_TLS_H

#include <openssl/provider.h>
#include <openssl/ssl.h>

#include "err.h"
#include "x509.h"

/*
 * A library context for a thread that serves TLS (tls_libctx.c): OpenSSL's
 * default provider with the decoders a handshake needs, not all of them,
 * so that decoding a peer's certificate does not walk some forty decoders
 * by name.  ctx is what to give SSL_CTX_new_ex and eca_cred_copy; inner
 * holds the default provider that ctx's provider hands everything on to
 * (NULL, and ctx a plain context, if this OpenSSL's decoders are not the
 * ones expected).
 */
struct eca_tls_libctx {
	OSSL_LIB_CTX *ctx;
	OSSL_LIB_CTX *inner;
	OSSL_PROVIDER *slim, *dflt;
};

int eca_tls_libctx_new(struct eca_tls_libctx *lc, struct eca_err *err) ECA_WUR;
/* Whether lc offers the shorter decoder list (not the fallback). */
int eca_tls_libctx_slim(const struct eca_tls_libctx *lc);
/* Frees what lc holds (after every SSL_CTX and key made in it); NULL ok. */
void eca_tls_libctx_free(struct eca_tls_libctx *lc);

/*
 * Server context: asks every client for a certificate but lets the
 * handshake complete without one or with one that fails verification, so
 * the application can refuse with a reason code and remedy instead of a
 * bare TLS alert.  Callers MUST run eca_x509_check_peer() on the peer's
 * chain (eca_tls_peer_chain) before trusting anything it says.
 */
int eca_tls_server_ctx(OSSL_LIB_CTX *libctx, const struct eca_cred *cred,
    SSL_CTX **out, struct eca_err *err) ECA_WUR;

/*
 * The info callback every server context gets: when a handshake completes
 * it acknowledges the client's Finished at once (TCP_QUICKACK).  With no
 * session tickets the server sends nothing after the handshake, so the
 * kernel would delay that ACK by up to 40 ms, and a client whose socket
 * keeps Nagle on would hold its first request until it came.  A server
 * that installs an info callback of its own calls this one from it.
 */
void eca_tls_server_info_cb(const SSL *ssl, int where, int ret);

/*
 * Client context: presents cred's certificate and verifies the server's
 * chain against cred's trust store (host name checked by the caller, e.g.
 * SSL_set1_host or libcurl).
 */
int eca_tls_client_ctx(OSSL_LIB_CTX *libctx, const struct eca_cred *cred,
    SSL_CTX **out, struct eca_err *err) ECA_WUR;

/*
 * Let ctx's handshakes complete whatever chain the peer sends (the peer
 * still proves it holds the key), for callers that judge the peer with
 * eca_x509_check_peer() themselves before they send or trust anything:
 * the chain is then verified once, not twice.
 */
void eca_tls_ctx_defer_verify(SSL_CTX *ctx);

/* Install cred's certificate, chain, key and trust store into ctx. */
int eca_tls_ctx_use_cred(SSL_CTX *ctx, const struct eca_cred *cred,
    struct eca_err *err) ECA_WUR;

/*
 * The peer's leaf and intermediates after the handshake.  *leaf is NULL if
 * the peer sent no certificate (ECA_ERR_NO_CLIENT_CERT).  Both out values
 * are new references owned by the caller.
 */
int eca_tls_peer_chain(SSL *ssl, X509 **leaf, STACK_OF(X509) **chain,
    struct eca_err *err) ECA_WUR;

#endif
