/* SPDX-License-Identifier: ISC */
/*
 * test_tls.c - eca's TLS contexts in real in-process handshakes over a
 * BIO pair.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>

#include "testca.h"
#include "tls.h"
#include "x509.h"

static struct testca *ca, *rogue;

static int
group_setup(void **state)
{
	(void)state;
	ca = testca_new("Test");
	rogue = testca_new("Rogue");
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	testca_free(ca);
	testca_free(rogue);
	return 0;
}

/* Credentials of host name issued by c, trusting c's root. */
static struct eca_cred *
make_cred(struct testca *c, const char *name)
{
	struct testca_leaf_opts o = {.cn = name, .san = name};
	struct eca_cred *cred;

	assert_non_null(cred = calloc(1, sizeof(*cred)));
	testca_leaf(c, &o, &cred->leaf, &cred->key);
	assert_non_null(cred->chain = sk_X509_new_null());
	assert_true(sk_X509_push(cred->chain, c->inter) > 0);
	X509_up_ref(c->inter);
	assert_non_null(cred->trust = X509_STORE_new());
	assert_int_equal(X509_STORE_add_cert(cred->trust, c->root), 1);
	return cred;
}

struct conn {
	SSL_CTX *sctx, *cctx;
	SSL *s, *c;
};

static void
conn_open(struct conn *k, SSL_CTX *sctx, SSL_CTX *cctx)
{
	BIO *bs = NULL, *bc = NULL;

	k->sctx = sctx;
	k->cctx = cctx;
	assert_non_null(k->s = SSL_new(sctx));
	assert_non_null(k->c = SSL_new(cctx));
	assert_int_equal(BIO_new_bio_pair(&bs, 0, &bc, 0), 1);
	SSL_set_bio(k->s, bs, bs);
	SSL_set_bio(k->c, bc, bc);
	SSL_set_accept_state(k->s);
	SSL_set_connect_state(k->c);
}

static void
conn_close(struct conn *k)
{
	SSL_free(k->s);
	SSL_free(k->c);
	SSL_CTX_free(k->sctx);
	SSL_CTX_free(k->cctx);
	ERR_clear_error();
}

static int
step(SSL *ssl, int *done)
{
	int rc, e;

	if (*done)
		return 0;
	rc = SSL_do_handshake(ssl);
	if (rc == 1) {
		*done = 1;
		return 0;
	}
	e = SSL_get_error(ssl, rc);
	return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
}

/*
 * Drive both ends until both finish or one fails; then move one
 * application byte each way so that a late refusal (TLS 1.3 sends the
 * server's verdict on the client's certificate after the client is done)
 * shows up here too.
 */
static int
handshake(struct conn *k)
{
	int cdone = 0, sdone = 0, i;
	char b = 0;

	for (i = 0; i < 64 && !(cdone && sdone); i++)
		if (step(k->c, &cdone) != 0 || step(k->s, &sdone) != 0)
			return -1;
	if (!(cdone && sdone))
		return -1;
	if (SSL_write(k->c, "x", 1) != 1 || SSL_read(k->s, &b, 1) != 1 ||
	    b != 'x')
		return -1;
	if (SSL_write(k->s, "y", 1) != 1 || SSL_read(k->c, &b, 1) != 1 ||
	    b != 'y')
		return -1;
	return 0;
}

static SSL_CTX *
server_ctx(struct eca_cred *cred)
{
	struct eca_err err;
	SSL_CTX *ctx = NULL;

	if (eca_tls_server_ctx(NULL, cred, &ctx, &err) != 0)
		fail_msg("server ctx: %s", err.msg);
	return ctx;
}

static SSL_CTX *
client_ctx(struct eca_cred *cred)
{
	struct eca_err err;
	SSL_CTX *ctx = NULL;

	if (eca_tls_client_ctx(NULL, cred, &ctx, &err) != 0)
		fail_msg("client ctx: %s", err.msg);
	return ctx;
}

/* A plain OpenSSL context limited to TLS 1.1, at security level 0. */
static SSL_CTX *
tls11_ctx(const SSL_METHOD *method, struct eca_cred *cred)
{
	SSL_CTX *ctx;

	assert_non_null(ctx = SSL_CTX_new(method));
	assert_int_equal(SSL_CTX_set_min_proto_version(ctx, TLS1_1_VERSION), 1);
	assert_int_equal(SSL_CTX_set_max_proto_version(ctx, TLS1_1_VERSION), 1);
	assert_int_equal(SSL_CTX_set_cipher_list(ctx, "ALL:@SECLEVEL=0"), 1);
	if (cred != NULL) {
		assert_int_equal(SSL_CTX_use_certificate(ctx, cred->leaf), 1);
		assert_int_equal(SSL_CTX_use_PrivateKey(ctx, cred->key), 1);
	}
	return ctx;
}

/*
 * Negative cases
 */

static void
test_tls11_client_is_refused(void **state)
{
	struct eca_cred *srv = make_cred(ca, "server.example");
	struct conn k;

	(void)state;
	conn_open(&k, server_ctx(srv), tls11_ctx(TLS_client_method(), NULL));
	ERR_clear_error();
	assert_int_equal(handshake(&k), -1);
	assert_int_equal(SSL_is_init_finished(k.s), 0);
	/* Refused for its version, not for anything else. */
	assert_int_equal(ERR_GET_REASON(ERR_peek_last_error()),
	    SSL_R_UNSUPPORTED_PROTOCOL);
	conn_close(&k);
	eca_cred_free(srv);
}

static void
test_tls11_server_is_refused(void **state)
{
	struct eca_cred *srv = make_cred(ca, "server.example");
	struct eca_cred *cli = make_cred(ca, "client.example");
	struct conn k;

	(void)state;
	conn_open(&k, tls11_ctx(TLS_server_method(), srv), client_ctx(cli));
	ERR_clear_error();
	assert_int_equal(handshake(&k), -1);
	assert_int_equal(SSL_is_init_finished(k.c), 0);
	assert_int_equal(ERR_GET_REASON(ERR_peek_last_error()),
	    SSL_R_UNSUPPORTED_PROTOCOL);
	conn_close(&k);
	eca_cred_free(srv);
	eca_cred_free(cli);
}

static void
test_tls12_without_forward_secrecy_is_refused(void **state)
{
	struct eca_cred *srv = make_cred(ca, "server.example");
	SSL_CTX *cctx;
	struct conn k;

	(void)state;
	assert_non_null(cctx = SSL_CTX_new(TLS_client_method()));
	assert_int_equal(SSL_CTX_set_max_proto_version(cctx, TLS1_2_VERSION),
	    1);
	assert_int_equal(SSL_CTX_set_cipher_list(cctx, "AES128-GCM-SHA256"), 1);
	conn_open(&k, server_ctx(srv), cctx);
	assert_int_equal(handshake(&k), -1);
	conn_close(&k);
	eca_cred_free(srv);
}

static void
test_client_refuses_a_server_from_an_untrusted_ca(void **state)
{
	struct eca_cred *srv = make_cred(rogue, "server.example");
	struct eca_cred *cli = make_cred(ca, "client.example");
	struct conn k;

	(void)state;
	conn_open(&k, server_ctx(srv), client_ctx(cli));
	assert_int_equal(handshake(&k), -1);
	assert_int_equal(SSL_is_init_finished(k.c), 0);
	assert_int_equal(SSL_get_verify_result(k.c),
	    X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
	conn_close(&k);
	eca_cred_free(srv);
	eca_cred_free(cli);
}

static void
test_handshake_without_client_cert_completes_with_no_peer_chain(void **state)
{
	struct eca_cred *srv = make_cred(ca, "server.example");
	STACK_OF(X509) *chain = NULL;
	struct eca_err err;
	X509 *leaf = NULL;
	SSL_CTX *cctx;
	struct conn k;

	(void)state;
	assert_non_null(cctx = SSL_CTX_new(TLS_client_method()));
	conn_open(&k, server_ctx(srv), cctx);
	assert_int_equal(handshake(&k), 0);
	assert_int_equal(eca_tls_peer_chain(k.s, &leaf, &chain, &err),
	    ECA_ERR_NO_CLIENT_CERT);
	assert_int_equal(err.code, ECA_ERR_NO_CLIENT_CERT);
	assert_null(leaf);
	assert_null(chain);
	conn_close(&k);
	eca_cred_free(srv);
}

/*
 * The server end's verdict on k's client after the handshake: the chain it
 * received, judged against trust for host name (eca_x509_check_peer).
 */
static int
client_verdict(struct conn *k, X509_STORE *trust, const char *name)
{
	struct eca_peer_policy pol = {NULL, NULL, ECA_ID_SAN, 0, NULL,
	    ECA_CRL_DISABLE, NULL, NULL, NULL, 0};
	STACK_OF(X509) *chain = NULL;
	struct eca_err err;
	X509 *leaf = NULL;
	int r;

	assert_int_equal(eca_tls_peer_chain(k->s, &leaf, &chain, &err), 0);
	pol.trust = trust;
	r = eca_x509_check_peer(&pol, leaf, chain, name, NULL, &err);
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
	return r;
}

static void
test_untrusted_client_completes_handshake_and_policy_refuses_it(void **state)
{
	struct eca_cred *srv = make_cred(ca, "server.example");
	struct eca_cred *cli = make_cred(rogue, "client.example");
	SSL_CTX *cctx;
	struct conn k;

	(void)state;
	/* The rogue client trusts our server so that only its own
	 * certificate is in question. */
	cctx = client_ctx(cli);
	assert_int_equal(
	    X509_STORE_add_cert(SSL_CTX_get_cert_store(cctx), ca->root), 1);
	conn_open(&k, server_ctx(srv), cctx);
	assert_int_equal(handshake(&k), 0);
	assert_int_equal(client_verdict(&k, srv->trust, "client.example"),
	    ECA_ERR_UNTRUSTED);
	conn_close(&k);
	eca_cred_free(srv);
	eca_cred_free(cli);
}

static void
test_an_incomplete_credential_is_not_copied(void **state)
{
	struct eca_cred *cred = make_cred(ca, "server.example");
	struct eca_cred *copy = cred;
	struct eca_err err;
	EVP_PKEY *key;

	(void)state;
	key = cred->key;
	cred->key = NULL;
	assert_int_equal(eca_cred_copy(NULL, cred, &copy, &err),
	    ECA_ERR_INTERNAL);
	assert_null(copy);
	assert_int_equal(eca_cred_copy(NULL, NULL, &copy, &err),
	    ECA_ERR_INTERNAL);
	cred->key = key;
	eca_cred_free(cred);
}

/*
 * ecad's API workers each serve from a library context of their own: a
 * credential copied into a new context presents the same certificate and
 * key, shares the trust store, and the chain its server receives is judged
 * against that store, made in the default context.
 */
static void
test_a_copied_credential_serves_from_its_own_library_context(void **state)
{
	struct eca_cred *srv = make_cred(ca, "server.example");
	struct eca_cred *cli = make_cred(ca, "client.example");
	struct eca_cred *copy = NULL;
	OSSL_LIB_CTX *lc;
	struct eca_err err;
	SSL_CTX *sctx = NULL;
	struct conn k;

	(void)state;
	assert_non_null(lc = OSSL_LIB_CTX_new());
	assert_int_equal(eca_cred_copy(lc, srv, &copy, &err), 0);
	assert_ptr_not_equal(copy->leaf, srv->leaf);
	assert_int_equal(X509_cmp(copy->leaf, srv->leaf), 0);
	assert_int_equal(sk_X509_num(copy->chain), 1);
	assert_int_equal(X509_cmp(sk_X509_value(copy->chain, 0), ca->inter), 0);
	assert_int_equal(EVP_PKEY_eq(copy->key, srv->key), 1);
	assert_ptr_equal(copy->trust, srv->trust);
	assert_int_equal(eca_tls_server_ctx(lc, copy, &sctx, &err), 0);
	conn_open(&k, sctx, client_ctx(cli));
	assert_int_equal(handshake(&k), 0);
	assert_int_equal(X509_cmp(SSL_get0_peer_certificate(k.c), srv->leaf),
	    0);
	assert_int_equal(client_verdict(&k, srv->trust, "client.example"), 0);
	conn_close(&k);
	eca_cred_free(copy); /* the trust store stays srv's */
	assert_int_equal(X509_STORE_add_cert(srv->trust, rogue->root), 1);
	eca_cred_free(srv);
	eca_cred_free(cli);
	OSSL_LIB_CTX_free(lc);
}

/*
 * Whether key's public half, DER-encoded as a certificate carries it,
 * decodes in libctx (NULL: OpenSSL's default) to a key equal to it.
 */
static int
public_key_decodes_in(EVP_PKEY *key, OSSL_LIB_CTX *libctx)
{
	const unsigned char *p;
	unsigned char *der = NULL;
	EVP_PKEY *back;
	int len, eq;

	assert_true((len = i2d_PUBKEY(key, &der)) > 0);
	p = der;
	back = d2i_PUBKEY_ex(NULL, &p, len, libctx, NULL);
	eq = back != NULL && EVP_PKEY_eq(back, key) == 1;
	EVP_PKEY_free(back);
	OPENSSL_free(der);
	ERR_clear_error();
	return eq;
}

/*
 * A context for a TLS thread offers no decoder for keys that cannot sign a
 * handshake (X25519, X448): a certificate carrying one fails there as it
 * did before, at the signature it cannot make.  The default context still
 * decodes them.  Freeing nothing is harmless.
 */
static void
test_a_tls_thread_context_decodes_no_key_a_handshake_cannot_sign_with(
    void **state)
{
	static const char *const types[] = {"X25519", "X448"};
	struct eca_tls_libctx lc, none;
	struct eca_err err;
	EVP_PKEY *key;
	size_t i;

	(void)state;
	memset(&none, 0, sizeof(none));
	eca_tls_libctx_free(&none);
	eca_tls_libctx_free(NULL);
	assert_int_equal(eca_tls_libctx_new(&lc, &err), 0);
	assert_int_equal(eca_tls_libctx_slim(&lc), 1);
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		assert_non_null(key = EVP_PKEY_Q_keygen(NULL, NULL, types[i]));
		assert_false(public_key_decodes_in(key, lc.ctx));
		assert_true(public_key_decodes_in(key, NULL));
		EVP_PKEY_free(key);
	}
	eca_tls_libctx_free(&lc);
	assert_null(lc.ctx);
}

/* An RSA-PSS key (EVP_PKEY_Q_keygen makes no such key in OpenSSL 3.0). */
static EVP_PKEY *
rsa_pss_key(void)
{
	EVP_PKEY_CTX *pctx;
	EVP_PKEY *key = NULL;

	assert_non_null(
	    pctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA-PSS", NULL));
	assert_int_equal(EVP_PKEY_keygen_init(pctx), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_keygen_bits(pctx, 2048), 1);
	assert_int_equal(EVP_PKEY_keygen(pctx, &key), 1);
	EVP_PKEY_CTX_free(pctx);
	return key;
}

/* A key of each type a handshake can sign with, in the default context. */
static EVP_PKEY *
signing_key(size_t i)
{
	switch (i) {
	case 0:
		return testca_key(TESTCA_EC_P256);
	case 1:
		return testca_key(TESTCA_EC_P384);
	case 2:
		return testca_key(TESTCA_RSA2048_NEW);
	case 3:
		return rsa_pss_key();
	case 4:
		return testca_key(TESTCA_ED25519);
	case 5:
		return EVP_PKEY_Q_keygen(NULL, NULL, "ED448");
	case 6:
		return testca_key(TESTCA_DSA);
	default:
		return NULL;
	}
}

/*
 * Everything a TLS thread's context decodes, for every key type that can
 * sign a handshake (RSA, RSA-PSS, EC, Ed25519, Ed448, DSA): a public key
 * as a certificate carries it, and a private key as eca_cred_copy moves
 * it (PKCS#8).  Each comes back equal to the key it was made from.
 */
static void
test_a_tls_thread_context_decodes_every_key_a_handshake_signs_with(void **state)
{
	PKCS8_PRIV_KEY_INFO *p8;
	struct eca_tls_libctx lc;
	struct eca_err err;
	EVP_PKEY *key, *back;
	size_t i;

	(void)state;
	assert_int_equal(eca_tls_libctx_new(&lc, &err), 0);
	assert_int_equal(eca_tls_libctx_slim(&lc), 1);
	for (i = 0; (key = signing_key(i)) != NULL; i++) {
		assert_true(public_key_decodes_in(key, lc.ctx));
		assert_non_null(p8 = EVP_PKEY2PKCS8(key));
		assert_non_null(back = EVP_PKCS82PKEY_ex(p8, lc.ctx, NULL));
		assert_int_equal(EVP_PKEY_eq(back, key), 1);
		EVP_PKEY_free(back);
		PKCS8_PRIV_KEY_INFO_free(p8);
		EVP_PKEY_free(key);
	}
	assert_int_equal(i, 7);
	eca_tls_libctx_free(&lc);
}

/*
 * A server whose credential was copied into a TLS thread's context
 * completes handshakes with clients whose keys are EC, RSA and Ed25519,
 * sees each client's own key in the certificate it received, and judges
 * the chain as any server does.
 */
static void
test_a_tls_thread_context_serves_and_judges_clients_of_each_key_type(
    void **state)
{
	static const enum testca_keytype types[] = {TESTCA_EC_P256,
	    TESTCA_RSA2048, TESTCA_ED25519};
	struct eca_cred *srv = make_cred(ca, "server.example");
	struct eca_cred *copy = NULL, *cli;
	struct testca_leaf_opts o = {.cn = "client.example",
	    .san = "client.example"};
	struct eca_tls_libctx lc;
	struct eca_err err;
	SSL_CTX *sctx = NULL;
	struct conn k;
	size_t i;

	(void)state;
	assert_int_equal(eca_tls_libctx_new(&lc, &err), 0);
	assert_int_equal(eca_cred_copy(lc.ctx, srv, &copy, &err), 0);
	assert_int_equal(EVP_PKEY_eq(copy->key, srv->key), 1);
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		cli = make_cred(ca, "unused.example");
		X509_free(cli->leaf);
		EVP_PKEY_free(cli->key);
		o.keytype = types[i];
		testca_leaf(ca, &o, &cli->leaf, &cli->key);
		assert_int_equal(eca_tls_server_ctx(lc.ctx, copy, &sctx, &err),
		    0);
		conn_open(&k, sctx, client_ctx(cli));
		assert_int_equal(handshake(&k), 0);
		assert_int_equal(
		    EVP_PKEY_eq(
			X509_get0_pubkey(SSL_get0_peer_certificate(k.s)),
			cli->key),
		    1);
		assert_int_equal(
		    client_verdict(&k, srv->trust, "client.example"), 0);
		conn_close(&k);
		eca_cred_free(cli);
	}
	eca_cred_free(copy);
	eca_cred_free(srv);
	eca_tls_libctx_free(&lc);
}

static void
test_contexts_refuse_incomplete_credentials(void **state)
{
	struct eca_cred *cred = make_cred(ca, "server.example");
	struct eca_err err;
	SSL_CTX *ctx = NULL;
	EVP_PKEY *key;

	(void)state;
	key = cred->key;
	cred->key = NULL;
	assert_int_equal(eca_tls_server_ctx(NULL, cred, &ctx, &err),
	    ECA_ERR_INTERNAL);
	assert_null(ctx);
	assert_int_equal(eca_tls_client_ctx(NULL, cred, &ctx, &err),
	    ECA_ERR_INTERNAL);
	assert_null(ctx);
	/* A key of another certificate. */
	cred->key = testca_key(TESTCA_EC_P256);
	assert_int_equal(eca_tls_server_ctx(NULL, cred, &ctx, &err),
	    ECA_ERR_KEY_MISMATCH);
	assert_null(ctx);
	assert_int_equal(ERR_peek_error(), 0);
	EVP_PKEY_free(key);
	eca_cred_free(cred);
}

/* The trust store alone: a client without a certificate, never a server. */
static void
test_trust_only_is_a_client_without_certificate(void **state)
{
	struct eca_cred *cred = make_cred(ca, "client.example");
	struct eca_err err;
	SSL_CTX *ctx = NULL;
	X509 *leaf = cred->leaf;
	EVP_PKEY *key = cred->key;

	(void)state;
	/* Refused first: a key without its certificate, and any server. */
	cred->leaf = NULL;
	assert_int_equal(eca_tls_client_ctx(NULL, cred, &ctx, &err),
	    ECA_ERR_INTERNAL);
	assert_null(ctx);
	cred->key = NULL;
	assert_int_equal(eca_tls_server_ctx(NULL, cred, &ctx, &err),
	    ECA_ERR_INTERNAL);
	assert_null(ctx);
	assert_int_equal(eca_tls_client_ctx(NULL, cred, &ctx, &err), 0);
	assert_non_null(ctx);
	assert_null(SSL_CTX_get0_certificate(ctx));
	assert_ptr_equal(SSL_CTX_get_cert_store(ctx), cred->trust);
	SSL_CTX_free(ctx);
	cred->leaf = leaf;
	cred->key = key;
	eca_cred_free(cred);
}

/*
 * Positive cases
 */

static void
test_contexts_allow_only_tls12_and_tls13(void **state)
{
	struct eca_cred *cred = make_cred(ca, "server.example");
	SSL_CTX *s, *c;

	(void)state;
	s = server_ctx(cred);
	c = client_ctx(cred);
	assert_int_equal(SSL_CTX_get_min_proto_version(s), TLS1_2_VERSION);
	assert_int_equal(SSL_CTX_get_max_proto_version(s), TLS1_3_VERSION);
	assert_int_equal(SSL_CTX_get_min_proto_version(c), TLS1_2_VERSION);
	assert_int_equal(SSL_CTX_get_max_proto_version(c), TLS1_3_VERSION);
	assert_true((SSL_CTX_get_options(s) & SSL_OP_NO_RENEGOTIATION) != 0);
	assert_true((SSL_CTX_get_options(s) & SSL_OP_NO_COMPRESSION) != 0);
	assert_true((SSL_CTX_get_options(c) & SSL_OP_NO_RENEGOTIATION) != 0);
	assert_int_equal(SSL_CTX_get_verify_mode(s), SSL_VERIFY_PEER);
	assert_int_equal(SSL_CTX_get_verify_mode(c), SSL_VERIFY_PEER);
	SSL_CTX_free(s);
	SSL_CTX_free(c);
	eca_cred_free(cred);
}

/*
 * What eca_tls_peer_chain gives at one end of a handshake with make_cred's
 * credentials: want's leaf, and a chain of the intermediate alone.  The
 * caller frees *leaf and *chain.
 */
static void
peer_chain_is(SSL *ssl, const X509 *want, X509 **leaf, STACK_OF(X509) **chain)
{
	struct eca_err err;

	assert_int_equal(eca_tls_peer_chain(ssl, leaf, chain, &err), 0);
	assert_int_equal(X509_cmp(*leaf, want), 0);
	assert_int_equal(sk_X509_num(*chain), 1);
	assert_int_equal(X509_cmp(sk_X509_value(*chain, 0), ca->inter), 0);
}

static void
check_mutual(long max_version)
{
	struct eca_cred *srv = make_cred(ca, "server.example");
	struct eca_cred *cli = make_cred(ca, "client.example");
	struct eca_peer_policy pol = {NULL, NULL, ECA_ID_SAN, 0, NULL,
	    ECA_CRL_DISABLE, NULL, NULL, NULL, 0};
	STACK_OF(X509) *chain = NULL;
	struct eca_certinfo info;
	struct eca_err err;
	X509 *leaf = NULL;
	SSL_CTX *cctx;
	struct conn k;

	cctx = client_ctx(cli);
	assert_int_equal(SSL_CTX_set_max_proto_version(cctx, max_version), 1);
	conn_open(&k, server_ctx(srv), cctx);
	assert_int_equal(SSL_set1_host(k.c, "server.example"), 1);
	assert_int_equal(handshake(&k), 0);
	assert_int_equal(SSL_version(k.c), max_version);
	if (max_version == TLS1_2_VERSION)
		assert_non_null(strstr(SSL_get_cipher_name(k.c), "ECDHE"));

	/* Server side: the client's leaf, and a chain without it. */
	peer_chain_is(k.s, cli->leaf, &leaf, &chain);
	pol.trust = srv->trust;
	assert_int_equal(eca_x509_check_peer(&pol, leaf, chain,
			     "client.example", &info, &err),
	    0);
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);

	/* Client side sees the same shape for the server. */
	peer_chain_is(k.c, srv->leaf, &leaf, &chain);
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);

	conn_close(&k);
	eca_cred_free(srv);
	eca_cred_free(cli);
}

static void
test_client_cert_is_visible_with_no_leaf_in_chain_tls13(void **state)
{
	(void)state;
	check_mutual(TLS1_3_VERSION);
}

static void
test_client_cert_is_visible_with_no_leaf_in_chain_tls12(void **state)
{
	(void)state;
	check_mutual(TLS1_2_VERSION);
}

/*
 * A client whose chain repeats its leaf (a copy, not the same object): the
 * server sees the leaf, and the chain without it.
 */
static void
test_client_that_sends_its_leaf_twice_is_seen_with_it_once(void **state)
{
	struct eca_cred *srv = make_cred(ca, "server.example");
	struct eca_cred *cli = make_cred(ca, "client.example");
	STACK_OF(X509) *chain = NULL;
	X509 *leaf = NULL, *copy;
	struct conn k;

	(void)state;
	assert_non_null(copy = X509_dup(cli->leaf));
	assert_true(sk_X509_insert(cli->chain, copy, 0) > 0);
	conn_open(&k, server_ctx(srv), client_ctx(cli));
	assert_int_equal(handshake(&k), 0);
	assert_int_equal(sk_X509_num(SSL_get_peer_cert_chain(k.s)), 2);
	peer_chain_is(k.s, cli->leaf, &leaf, &chain);
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
	conn_close(&k);
	eca_cred_free(srv);
	eca_cred_free(cli);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tls11_client_is_refused),
	    cmocka_unit_test(test_tls11_server_is_refused),
	    cmocka_unit_test(test_tls12_without_forward_secrecy_is_refused),
	    cmocka_unit_test(test_client_refuses_a_server_from_an_untrusted_ca),
	    cmocka_unit_test(
		test_handshake_without_client_cert_completes_with_no_peer_chain),
	    cmocka_unit_test(
		test_client_that_sends_its_leaf_twice_is_seen_with_it_once),
	    cmocka_unit_test(
		test_untrusted_client_completes_handshake_and_policy_refuses_it),
	    cmocka_unit_test(test_an_incomplete_credential_is_not_copied),
	    cmocka_unit_test(
		test_a_tls_thread_context_decodes_no_key_a_handshake_cannot_sign_with),
	    cmocka_unit_test(test_contexts_refuse_incomplete_credentials),
	    cmocka_unit_test(
		test_a_tls_thread_context_decodes_every_key_a_handshake_signs_with),
	    cmocka_unit_test(
		test_a_tls_thread_context_serves_and_judges_clients_of_each_key_type),
	    cmocka_unit_test(
		test_a_copied_credential_serves_from_its_own_library_context),
	    cmocka_unit_test(test_trust_only_is_a_client_without_certificate),
	    cmocka_unit_test(test_contexts_allow_only_tls12_and_tls13),
	    cmocka_unit_test(
		test_client_cert_is_visible_with_no_leaf_in_chain_tls13),
	    cmocka_unit_test(
		test_client_cert_is_visible_with_no_leaf_in_chain_tls12),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
