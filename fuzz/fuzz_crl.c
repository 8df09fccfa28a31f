/* SPDX-License-Identifier: ISC */
/*
 * fuzz_crl.c - CRLs offered to the cache (PEM or DER, as ECA_CRL_PATH or a
 * distribution point gives them): parsing, issuer lookup, signature check
 * and the newer-replaces-older rule, against a fixed CA.  The corpus's
 * CRLs are signed by this CA (made with scripts/mkca.sh).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "crl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char root_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBoTCCAUagAwIBAgIUIn8M3N0j70LMd16U1ttSwgc8U14wCgYIKoZIzj0EAwIw\n"
    "LjERMA8GA1UECgwIZWNhIHRlc3QxGTAXBgNVBAMMEGVjYSB0ZXN0IFJvb3QgQ0Ew\n"
    "HhcNMjYxMTI3MjEwMjQxWhcNMzYxMTI0MjEwMjQxWjAuMREwDwYDVQQKDAhlY2Eg\n"
    "dGVzdDEZMBcGA1UEAwwQZWNhIHRlc3QgUm9vdCBDQTBZMBMGByqGSM49AgEGCCqG\n"
    "SM49AwEHA0IABPJ+71GG7bNrXj2ihXpOqwkIk5diLfQ3oMLtYs8q3dmDIFpPwbOi\n"
    "5KQH4Q/fdNzw794nak6P9RxLHBRgGc7/77ijQjBAMA8GA1UdEwEB/wQFMAMBAf8w\n"
    "DgYDVR0PAQH/BAQDAgEGMB0GA1UdDgQWBBTlMojXJXrfW4qvf9+3sljoF9dSFTAK\n"
    "BggqhkjOPQQDAgNJADBGAiEA/n9HNb7x5b+nELwg0yuS07kRgrs0/Rho2X6HK813\n"
    "hCQCIQDh2yg7tkp2ySUjusSl9i07uSxpzDIXt9XFuqQAtIKyCQ==\n"
    "-----END CERTIFICATE-----\n";

static const char inter_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBzDCCAXKgAwIBAgIUJWo2+hE5YBr7F/V80deDnOSHJtUwCgYIKoZIzj0EAwIw\n"
    "LjERMA8GA1UECgwIZWNhIHRlc3QxGTAXBgNVBAMMEGVjYSB0ZXN0IFJvb3QgQ0Ew\n"
    "HhcNMjYxMTI3MjEwMjQxWhcNMzYxMTI0MjEwMjQxWjA2MREwDwYDVQQKDAhlY2Eg\n"
    "dGVzdDEhMB8GA1UEAwwYZWNhIHRlc3QgSW50ZXJtZWRpYXRlIENBMFkwEwYHKoZI\n"
    "zj0CAQYIKoZIzj0DAQcDQgAEUZeTWtjM3nAXvrnaLO0g2NXKQH9yw5+5oSKsd+Wi\n"
    "W3a9apuWAsaty90cnfmCGzMOrDepdSZAFY3lQ7oZusZMEqNmMGQwEgYDVR0TAQH/\n"
    "BAgwBgEB/wIBADAOBgNVHQ8BAf8EBAMCAQYwHQYDVR0OBBYEFFj4sikwyAj4jYdQ\n"
    "UhccARBoj0pnMB8GA1UdIwQYMBaAFOUyiNclet9biq9/37eyWOgX11IVMAoGCCqG\n"
    "SM49BAMCA0gAMEUCIEWWN6gEG9DAuU3N12XJy67e8I0wpLnHYkHARHRLvo8ZAiEA\n"
    "hXxbCS+WnTdMa8siNJj9kbyjMI2v7vcOAoth/ZzZxHg=\n"
    "-----END CERTIFICATE-----\n";

static struct eca_crl_cache *cache;
static X509_STORE *trust;
static STACK_OF(X509) *untrusted;

static X509 *
cert_of(const char *pem)
{
	BIO *b;
	X509 *x;

	if ((b = BIO_new_mem_buf(pem, -1)) == NULL)
		abort();
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	if (x == NULL)
		abort();
	return x;
}

static void
setup(void)
{
	static char dir[] = "/tmp/eca-fuzz-crl.XXXXXX";
	struct eca_crl_opts o;
	X509 *root, *inter;

	if (mkdtemp(dir) == NULL)
		abort();
	root = cert_of(root_pem);
	inter = cert_of(inter_pem);
	if ((trust = X509_STORE_new()) == NULL ||
	    X509_STORE_add_cert(trust, root) != 1 ||
	    (untrusted = sk_X509_new_null()) == NULL ||
	    sk_X509_push(untrusted, inter) == 0)
		abort();
	X509_free(root);
	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.path_sync_hours = 1;
	o.refresh_hours = 24;
	o.grace_hours = 24;
	o.no_fetch = 1;
	if (eca_crl_cache_new(NULL, &o, &cache, NULL) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct eca_err err;
	int stored = -1, r;

	if (cache == NULL)
		setup();
	r = eca_crl_cache_add(cache, trust, untrusted, data, size, &stored,
	    &err);
	/* A refusal stores nothing; an acceptance says whether it stored. */
	if ((r != 0 && stored == 1) || (r == 0 && stored != 0 && stored != 1))
		abort();
	if (ERR_peek_error() != 0)
		abort();
	return 0;
}
