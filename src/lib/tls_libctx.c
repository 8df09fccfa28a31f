/* SPDX-License-Identifier: ISC */
/*
 * tls_libctx.c - the library contexts ecad's TLS threads serve from.
 *
 * OpenSSL 3.0 decodes the public key of every certificate a handshake
 * receives through its decoder framework, and OSSL_DECODER_CTX_new_for_pkey
 * builds the decoder chain afresh for each key: every decoder the
 * context's providers offer (41 in the default provider: PEM, MSBLOB, PVK,
 * each key type in each structure) is matched by name, under the name
 * map's lock, against the key type's names and then against each other's
 * input types (OpenSSL issues #17950 and #19119; 3.2 caches the chains).
 * Measured here: 1.15 million instructions for one P-256 certificate's
 * d2i_X509, 0.43 million when the one decoder its key needs is all there
 * is; an enrollment cost some 8.5 million in all, its handshake decoding
 * two certificates (the client's leaf and intermediate).
 *
 * A context from eca_tls_libctx_new offers OpenSSL's default provider,
 * loaded in a context of its own (inner), through a provider of eca's,
 * "eca-default", that hands on everything the default provider has (its
 * algorithms, parameters and TLS capabilities, each called with the
 * default provider's own provider context), except the decoders: only the
 * DER ones of SubjectPublicKeyInfo and PrivateKeyInfo, for the key types a
 * TLS handshake can sign with (RSA, RSA-PSS, EC, Ed25519, Ed448, DSA).
 * That is all such a context decodes: the certificates peers send, and
 * the PKCS#8 key eca_cred_copy moves into it.  A key of another type (DH,
 * X25519, X448, SM2) cannot sign a handshake with OpenSSL's signature
 * algorithms, so a peer presenting one failed before as it fails now; an
 * SM2 CA a client sends is refused as unverifiable rather than for its
 * signature algorithm (docs/daemon.md).  The algorithms are OpenSSL's
 * own; only the list the decoder framework walks is shorter.
 *
 * If the default provider does not offer all twelve of those decoders (an
 * OpenSSL that names them otherwise), a context is made as before, with
 * the default provider in it.
 */
#include "tls.h"

#include <pthread.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_dispatch.h>
#include <openssl/err.h>
#include <openssl/provider.h>

#define SLIM_NAME "eca-default"
#define SLIM_DISPATCH_MAX 32
#define SLIM_DECODERS_MAX 32

static const char *const slim_keys[] = {"RSA", "RSA-PSS", "EC", "ED25519",
    "ED448", "DSA"};
static const char *const slim_structures[] = {"SubjectPublicKeyInfo",
    "PrivateKeyInfo"};
#define NKEYS (sizeof(slim_keys) / sizeof(slim_keys[0]))
#define NSTRUCTURES (sizeof(slim_structures) / sizeof(slim_structures[0]))

/*
 * Built once, from the first default provider loaded (its function
 * pointers and algorithm tables are the same in every context), under
 * slim_lock; read without it afterwards.  slim_provctx passes the default
 * provider's context to slim_init, which OSSL_PROVIDER_load calls on the
 * loading thread, the lock held.
 */
static pthread_mutex_t slim_lock = PTHREAD_MUTEX_INITIALIZER;
static int slim_built, slim_ok;
static OSSL_DISPATCH slim_dispatch[SLIM_DISPATCH_MAX + 1];
static OSSL_ALGORITHM slim_decoders[SLIM_DECODERS_MAX + 1];
static OSSL_FUNC_provider_query_operation_fn *dflt_query;
static void *slim_provctx;

/* Whether the comma-separated property definition defn holds prop. */
static int
has_property(const char *defn, const char *prop)
{
	size_t n = strlen(prop);
	const char *p;

	for (p = defn; p != NULL; p = strchr(p, ',')) {
		if (*p == ',')
			p++;
		if (strncmp(p, prop, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return 1;
	}
	return 0;
}

/* Which (key, structure) pair decoder a is, as k * NSTRUCTURES + s; -1. */
static int
slim_slot(const OSSL_ALGORITHM *a)
{
	char prop[64];
	size_t k, s, n;

	if (a->property_definition == NULL ||
	    !has_property(a->property_definition, "input=der"))
		return -1;
	n = strcspn(a->algorithm_names, ":");
	for (k = 0; k < NKEYS; k++) {
		if (strlen(slim_keys[k]) != n ||
		    strncasecmp(a->algorithm_names, slim_keys[k], n) != 0)
			continue;
		for (s = 0; s < NSTRUCTURES; s++) {
			snprintf(prop, sizeof(prop), "structure=%s",
			    slim_structures[s]);
			if (has_property(a->property_definition, prop))
				return (int)(k * NSTRUCTURES + s);
		}
	}
	return -1;
}

static const OSSL_ALGORITHM *
slim_query(void *provctx, int operation_id, int *no_store)
{
	if (operation_id == OSSL_OP_DECODER) {
		*no_store = 0;
		return slim_decoders;
	}
	return dflt_query(provctx, operation_id, no_store);
}

/* The inner context owns the default provider and tears it down. */
static void
slim_teardown(void *provctx)
{
	(void)provctx;
}

static int
slim_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
    const OSSL_DISPATCH **out, void **provctx)
{
	(void)handle;
	(void)in;
	if (slim_provctx == NULL)
		return 0;
	*out = slim_dispatch;
	*provctx = slim_provctx;
	return 1;
}

/* With slim_lock held: slim_dispatch and slim_decoders from dflt's. */
static void
slim_build(OSSL_PROVIDER *dflt)
{
	const OSSL_DISPATCH *d = OSSL_PROVIDER_get0_dispatch(dflt);
	const OSSL_ALGORITHM *a;
	int found[NKEYS * NSTRUCTURES] = {0};
	int no_store = 0, slot;
	size_t i, n = 0;

	slim_built = 1;
	for (i = 0; d != NULL && d[i].function_id != 0; i++) {
		if (i == SLIM_DISPATCH_MAX)
			return;
		slim_dispatch[i] = d[i];
		if (d[i].function_id == OSSL_FUNC_PROVIDER_QUERY_OPERATION) {
			dflt_query = OSSL_FUNC_provider_query_operation(&d[i]);
			slim_dispatch[i].function = (void (*)(void))slim_query;
		} else if (d[i].function_id == OSSL_FUNC_PROVIDER_TEARDOWN) {
			slim_dispatch[i].function =
			    (void (*)(void))slim_teardown;
		}
	}
	if (dflt_query == NULL ||
	    (a = dflt_query(OSSL_PROVIDER_get0_provider_ctx(dflt),
		 OSSL_OP_DECODER, &no_store)) == NULL)
		return;
	for (; a->algorithm_names != NULL; a++) {
		if ((slot = slim_slot(a)) < 0)
			continue;
		if (n == SLIM_DECODERS_MAX)
			return;
		slim_decoders[n++] = *a;
		found[slot] = 1;
	}
	for (i = 0; i < NKEYS * NSTRUCTURES; i++)
		if (!found[i])
			return;
	slim_ok = 1;
}

static int
libctx_failed(struct eca_tls_libctx *lc, struct eca_err *err)
{
	eca_tls_libctx_free(lc);
	eca_err_set(err, ECA_ERR_NOMEM,
	    "cannot create an OpenSSL library context for a TLS thread");
	eca_err_add_openssl(err);
	ERR_clear_error();
	return err->code;
}

int
eca_tls_libctx_new(struct eca_tls_libctx *lc, struct eca_err *err)
{
	int ok;

	memset(lc, 0, sizeof(*lc));
	if ((lc->inner = OSSL_LIB_CTX_new()) == NULL ||
	    (lc->dflt = OSSL_PROVIDER_load(lc->inner, "default")) == NULL)
		return libctx_failed(lc, err);
	pthread_mutex_lock(&slim_lock);
	if (!slim_built)
		slim_build(lc->dflt);
	ok = slim_ok && (lc->ctx = OSSL_LIB_CTX_new()) != NULL &&
	    OSSL_PROVIDER_add_builtin(lc->ctx, SLIM_NAME, slim_init);
	if (ok) {
		slim_provctx = OSSL_PROVIDER_get0_provider_ctx(lc->dflt);
		ok =
		    (lc->slim = OSSL_PROVIDER_load(lc->ctx, SLIM_NAME)) != NULL;
		slim_provctx = NULL;
	}
	pthread_mutex_unlock(&slim_lock);
	if (ok)
		return 0;
	if (lc->ctx != NULL || slim_ok)
		return libctx_failed(lc, err);
	/* This OpenSSL's decoders are not those above: the default. */
	eca_tls_libctx_free(lc);
	if ((lc->ctx = OSSL_LIB_CTX_new()) == NULL)
		return libctx_failed(lc, err);
	return 0;
}

int
eca_tls_libctx_slim(const struct eca_tls_libctx *lc)
{
	return lc->slim != NULL;
}

void
eca_tls_libctx_free(struct eca_tls_libctx *lc)
{
	if (lc == NULL)
		return;
	/* The outer context goes first: its provider runs on the inner's. */
	if (lc->slim != NULL)
		OSSL_PROVIDER_unload(lc->slim);
	OSSL_LIB_CTX_free(lc->ctx);
	if (lc->dflt != NULL)
		OSSL_PROVIDER_unload(lc->dflt);
	OSSL_LIB_CTX_free(lc->inner);
	memset(lc, 0, sizeof(*lc));
}
