/* SPDX-License-Identifier: ISC */
/*
 * tls.c - TLS contexts with eca's settings.
 *
 * Both ends: TLS 1.2 and 1.3 only, forward-secret AEAD suites for 1.2, no
 * renegotiation, no compression.  The server accepts any client
 * certificate during the handshake and leaves the verdict to
 * eca_x509_check_peer(), which can say why; the client verifies the
 * server's chain in the handshake.
 */
#include "tls.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define TLS12_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20"
#define SESSION_ID_CONTEXT "eca"

static int
tls_common(SSL_CTX *ctx, struct eca_err *err)
{
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
		eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot restrict TLS to versions 1.2 and 1.3");
		eca_err_add_openssl(err);
		return ECA_ERR_INTERNAL;
	}
	if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1) {
		eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot set the TLS 1.2 cipher list");
		eca_err_add_openssl(err);
		return ECA_ERR_INTERNAL;
	}
	SSL_CTX_set_options(ctx,
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
		SSL_OP_CIPHER_SERVER_PREFERENCE);
	return 0;
}

int
eca_tls_ctx_use_cred(SSL_CTX *ctx, const struct eca_cred *cred,
    struct eca_err *err)
{
	int r = ECA_ERR_INTERNAL;

	if (ctx == NULL || cred == NULL || cred->trust == NULL ||
	    (cred->leaf == NULL) != (cred->key == NULL)) {
		r = eca_err_set(err, ECA_ERR_INTERNAL,
		    "incomplete credentials for a TLS context");
		goto out;
	}
	/*
	 * A trust store alone: a client without a certificate, for public
	 * calls (`eca health` by a user who may not read the key).
	 */
	if (cred->leaf == NULL) {
		SSL_CTX_set1_cert_store(ctx, cred->trust);
		r = 0;
		goto out;
	}
	if (SSL_CTX_use_certificate(ctx, cred->leaf) != 1) {
		r = eca_err_set(err, ECA_ERR_BAD_CERTIFICATE,
		    "TLS refuses this host's certificate (a key or "
		    "signature too weak for the security level?)");
		eca_err_add_openssl(err);
		goto out;
	}
	if (SSL_CTX_use_PrivateKey(ctx, cred->key) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		r = eca_err_set(err, ECA_ERR_KEY_MISMATCH,
		    "TLS refuses this host's private key");
		eca_err_add_openssl(err);
		goto out;
	}
	if (cred->chain != NULL && sk_X509_num(cred->chain) > 0 &&
	    SSL_CTX_set1_chain(ctx, cred->chain) != 1) {
		r = eca_err_set(err, ECA_ERR_BAD_CERTIFICATE,
		    "TLS refuses this host's intermediate certificates");
		eca_err_add_openssl(err);
		goto out;
	}
	SSL_CTX_set1_cert_store(ctx, cred->trust);
	r = 0;
out:
	ERR_clear_error();
	return r;
}

/*
 * The server takes whatever chain the client sends: the application runs
 * eca_x509_check_peer() after the handshake and refuses with a reason.
 * The handshake itself still checks that the client holds the key
 * (CertificateVerify), so the chain it reports is proven possession.
 */
static int
accept_any_chain(X509_STORE_CTX *xctx, void *arg)
{
	(void)xctx;
	(void)arg;
	return 1;
}

void
eca_tls_ctx_defer_verify(SSL_CTX *ctx)
{
	SSL_CTX_set_cert_verify_callback(ctx, accept_any_chain, NULL);
}

/*
 * A context for method ("server" or "client" in messages) with eca's
 * settings and this host's credentials, asking the peer for its
 * certificate.  *out is the caller's.
 */
static int
new_ctx(OSSL_LIB_CTX *libctx, const SSL_METHOD *method, const char *what,
    const struct eca_cred *cred, SSL_CTX **out, struct eca_err *err)
{
	SSL_CTX *ctx;
	int r;

	*out = NULL;
	if ((ctx = SSL_CTX_new_ex(libctx, NULL, method)) == NULL) {
		r = eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot create a TLS %s context", what);
		eca_err_add_openssl(err);
		return r;
	}
	if ((r = tls_common(ctx, err)) != 0 ||
	    (r = eca_tls_ctx_use_cred(ctx, cred, err)) != 0) {
		SSL_CTX_free(ctx);
		return r;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	*out = ctx;
	return 0;
}

void
eca_tls_server_info_cb(const SSL *ssl, int where, int ret)
{
	int one = 1;

	(void)ret;
	if (where & SSL_CB_HANDSHAKE_DONE)
		(void)setsockopt(SSL_get_fd(ssl), IPPROTO_TCP, TCP_QUICKACK,
		    &one, sizeof(one));
}

int
eca_tls_server_ctx(OSSL_LIB_CTX *libctx, const struct eca_cred *cred,
    SSL_CTX **out, struct eca_err *err)
{
	SSL_CTX *ctx = NULL;
	int r = ECA_ERR_INTERNAL;

	*out = NULL;
	/* A server always shows a certificate (a client may go without). */
	if (cred == NULL || cred->leaf == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "incomplete credentials for a TLS server context");
	if ((r = new_ctx(libctx, TLS_server_method(), "server", cred, &ctx,
		 err)) != 0)
		goto out;
	eca_tls_ctx_defer_verify(ctx);
	/*
	 * No resumption: every connection is a full handshake whose chain
	 * the application judges (eca_x509_check_peer), and no eca client
	 * resumes a session.  So no session cache and, in TLS 1.3, no
	 * NewSessionTicket messages (OpenSSL sends two by default, stateful
	 * ones under SSL_OP_NO_TICKET, each a copy of the session with the
	 * client's chain put into the cache): per connection that was two
	 * records and two socket writes, two session copies and a cache
	 * entry holding the decoded chain until it aged out.
	 */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_info_callback(ctx, eca_tls_server_info_cb);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	if (SSL_CTX_set_num_tickets(ctx, 0) != 1) {
		r = eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot turn TLS 1.3 session tickets off");
		eca_err_add_openssl(err);
		goto out;
	}
	if (SSL_CTX_set_session_id_context(ctx,
		(const unsigned char *)SESSION_ID_CONTEXT,
		sizeof(SESSION_ID_CONTEXT) - 1) != 1) {
		r = eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot set the TLS session id context");
		eca_err_add_openssl(err);
		goto out;
	}
	*out = ctx;
	ctx = NULL;
	r = 0;
out:
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return r;
}

int
eca_tls_client_ctx(OSSL_LIB_CTX *libctx, const struct eca_cred *cred,
    SSL_CTX **out, struct eca_err *err)
{
	X509_VERIFY_PARAM *param;
	int r;

	if ((r = new_ctx(libctx, TLS_client_method(), "client", cred, out,
		 err)) == 0) {
		param = SSL_CTX_get0_param(*out);
		X509_VERIFY_PARAM_set_depth(param, ECA_CHAIN_MAX);
		X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
	}
	ERR_clear_error();
	return r;
}

/*
 * a and b are the same certificate: the same object (a client's chain holds
 * its peer's leaf itself), else the same signature and, to be sure, the
 * same certificate by X509_cmp.  X509_cmp alone would cache every
 * extension of both and digest them, work that a chain the verification
 * cache already knows never needs.
 */
static int
same_cert(const X509 *a, const X509 *b)
{
	const ASN1_BIT_STRING *sa, *sb;

	if (a == b)
		return 1;
	X509_get0_signature(&sa, NULL, a);
	X509_get0_signature(&sb, NULL, b);
	if (sa == NULL || sb == NULL ||
	    ASN1_STRING_length(sa) != ASN1_STRING_length(sb) ||
	    memcmp(ASN1_STRING_get0_data(sa), ASN1_STRING_get0_data(sb),
		(size_t)ASN1_STRING_length(sa)) != 0)
		return 0;
	return X509_cmp(a, b) == 0;
}

int
eca_tls_peer_chain(SSL *ssl, X509 **leaf, STACK_OF(X509) **chain,
    struct eca_err *err)
{
	STACK_OF(X509) *sent, *sk = NULL;
	X509 *x = NULL, *c;
	int i, r = ECA_ERR_INTERNAL;

	*leaf = NULL;
	*chain = NULL;
	if (ssl == NULL) {
		r = eca_err_set(err, ECA_ERR_INTERNAL, "no TLS connection");
		goto out;
	}
	if ((x = SSL_get1_peer_certificate(ssl)) == NULL) {
		r = eca_err_set(err, ECA_ERR_NO_CLIENT_CERT,
		    "the peer presented no certificate: configure "
		    "ECA_CERT_PATH and ECA_PRIVATE_KEY_PATH on it");
		goto out;
	}
	if ((sk = sk_X509_new_null()) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
		goto out;
	}
	/*
	 * A server sees the client's chain without the leaf, a client sees
	 * the server's with it; skip the leaf so both look the same.
	 */
	sent = SSL_get_peer_cert_chain(ssl);
	for (i = 0; i < sk_X509_num(sent); i++) {
		c = sk_X509_value(sent, i);
		if (same_cert(c, x))
			continue;
		if (sk_X509_num(sk) >= ECA_CHAIN_MAX) {
			r = eca_err_set(err, ECA_ERR_BAD_CERTIFICATE,
			    "the peer sent more than %d certificates",
			    ECA_CHAIN_MAX);
			goto out;
		}
		if (sk_X509_push(sk, c) <= 0) {
			r = eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
			goto out;
		}
		X509_up_ref(c);
	}
	*leaf = x;
	*chain = sk;
	x = NULL;
	sk = NULL;
	r = 0;
out:
	X509_free(x);
	sk_X509_pop_free(sk, X509_free);
	ERR_clear_error();
	return r;
}
