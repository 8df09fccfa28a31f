/* SPDX-License-Identifier: ISC */
/*
 * testca.c - throwaway certificates for the unit tests.
 *
 * Generation has to stay fast under ASan: CA keys are EC P-256 and leaves
 * share one RSA-2048 key unless a test asks for another.
 */
#define _XOPEN_SOURCE 700
#include "testca.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/dsa.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#define CHECK(x)                                                               \
	do {                                                                   \
		if (!(x))                                                      \
			die(#x, __FILE__, __LINE__);                           \
	} while (0)

static void
die(const char *what, const char *file, int line)
{
	fprintf(stderr, "testca: %s:%d: %s failed\n", file, line, what);
	ERR_print_errors_fp(stderr);
	abort();
}

static EVP_PKEY *shared_rsa;

static EVP_PKEY *
dsa_key(void)
{
	EVP_PKEY_CTX *pctx, *kctx;
	EVP_PKEY *params = NULL, *k = NULL;

	CHECK((pctx = EVP_PKEY_CTX_new_from_name(NULL, "DSA", NULL)) != NULL);
	CHECK(EVP_PKEY_paramgen_init(pctx) == 1);
	CHECK(EVP_PKEY_CTX_set_dsa_paramgen_bits(pctx, 2048) == 1);
	CHECK(EVP_PKEY_paramgen(pctx, &params) == 1);
	CHECK((kctx = EVP_PKEY_CTX_new_from_pkey(NULL, params, NULL)) != NULL);
	CHECK(EVP_PKEY_keygen_init(kctx) == 1);
	CHECK(EVP_PKEY_keygen(kctx, &k) == 1);
	EVP_PKEY_CTX_free(kctx);
	EVP_PKEY_CTX_free(pctx);
	EVP_PKEY_free(params);
	return k;
}

EVP_PKEY *
testca_key(enum testca_keytype type)
{
	EVP_PKEY *k = NULL;

	switch (type) {
	case TESTCA_RSA2048:
		if (shared_rsa == NULL)
			CHECK((shared_rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
				   (size_t)2048)) != NULL);
		CHECK(EVP_PKEY_up_ref(shared_rsa) == 1);
		k = shared_rsa;
		break;
	case TESTCA_RSA2048_NEW:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		break;
	case TESTCA_RSA1024:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
		break;
	case TESTCA_EC_P256:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	case TESTCA_EC_P384:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
		break;
	case TESTCA_ED25519:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	case TESTCA_EC_P192:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-192");
		break;
	case TESTCA_DSA:
		k = dsa_key();
		break;
	}
	CHECK(k != NULL);
	return k;
}

static void
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	CHECK((ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value)) != NULL);
	CHECK(X509_add_ext(x, ext, -1) == 1);
	X509_EXTENSION_free(ext);
}

static void
add_name(X509_NAME *name, const char *field, const char *value)
{
	CHECK(X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
		  (const unsigned char *)value, -1, -1, 0) == 1);
}

/*
 * The common part of every certificate.  issuer NULL means self-signed.
 */
static X509 *
make_cert(EVP_PKEY *key, X509_NAME *subject, X509 *issuer, long nb, long na,
    long serial)
{
	X509 *x;
	uint64_t rnd;

	CHECK((x = X509_new()) != NULL);
	CHECK(X509_set_version(x, X509_VERSION_3) == 1);
	if (serial == 0) {
		CHECK(RAND_bytes((unsigned char *)&rnd, sizeof(rnd)) == 1);
		rnd = (rnd >> 2) + 1;
	} else
		rnd = (uint64_t)serial;
	CHECK(ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), rnd) == 1);
	CHECK(X509_gmtime_adj(X509_getm_notBefore(x), nb) != NULL);
	CHECK(X509_gmtime_adj(X509_getm_notAfter(x), na) != NULL);
	CHECK(X509_set_subject_name(x, subject) == 1);
	CHECK(
	    X509_set_issuer_name(x,
		issuer != NULL ? X509_get_subject_name(issuer) : subject) == 1);
	CHECK(X509_set_pubkey(x, key) == 1);
	return x;
}

static void
sign_cert(X509 *x, EVP_PKEY *issuer_key, int sha1)
{
	const EVP_MD *md = NULL;

	if (EVP_PKEY_get_base_id(issuer_key) != EVP_PKEY_ED25519)
		md = sha1 ? EVP_sha1() : EVP_sha256();
	CHECK(X509_sign(x, issuer_key, md) > 0);
}

static X509 *
make_ca_ex(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
    long nb, long na, int sha1, const char *nc)
{
	X509_NAME *name;
	X509 *x;

	CHECK((name = X509_NAME_new()) != NULL);
	add_name(name, "O", "eca test");
	add_name(name, "CN", cn);
	x = make_cert(key, name, issuer, nb != 0 ? nb : -86400,
	    na != 0 ? na : 86400L * 3650, 0);
	X509_NAME_free(name);
	add_ext(x, NULL, NID_basic_constraints, "critical,CA:TRUE");
	add_ext(x, NULL, NID_key_usage, "critical,keyCertSign,cRLSign");
	add_ext(x, NULL, NID_subject_key_identifier, "hash");
	add_ext(x, issuer != NULL ? issuer : x, NID_authority_key_identifier,
	    "keyid:always");
	if (nc != NULL)
		add_ext(x, NULL, NID_name_constraints, nc);
	sign_cert(x, issuer_key, sha1);
	return x;
}

static X509 *
make_ca(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key)
{
	return make_ca_ex(key, cn, issuer, issuer_key, 0, 0, 0, NULL);
}

struct testca *
testca_new(const char *name)
{
	struct testca *ca;
	char cn[256];

	CHECK((ca = calloc(1, sizeof(*ca))) != NULL);
	ca->root_key = testca_key(TESTCA_EC_P256);
	ca->int_key = testca_key(TESTCA_EC_P256);
	snprintf(cn, sizeof(cn), "%s Root CA", name);
	ca->root = make_ca(ca->root_key, cn, NULL, ca->root_key);
	snprintf(cn, sizeof(cn), "%s Issuing CA", name);
	ca->inter = make_ca(ca->int_key, cn, ca->root, ca->root_key);
	return ca;
}

struct testca *
testca_new_opts(const char *name, const struct testca_ca_opts *o)
{
	struct testca *ca;
	char cn[256];

	CHECK((ca = calloc(1, sizeof(*ca))) != NULL);
	ca->root_key = testca_key(o->keys_set ? o->root_key : TESTCA_EC_P256);
	ca->int_key = testca_key(o->keys_set ? o->int_key : TESTCA_EC_P256);
	snprintf(cn, sizeof(cn), "%s Root CA", name);
	ca->root = make_ca_ex(ca->root_key, cn, NULL, ca->root_key,
	    o->root_not_before, o->root_not_after, o->root_sha1, NULL);
	snprintf(cn, sizeof(cn), "%s Issuing CA", name);
	ca->inter = make_ca_ex(ca->int_key, cn, ca->root, ca->root_key,
	    o->int_not_before, o->int_not_after, o->int_sha1, o->int_nc);
	return ca;
}

void
testca_free(struct testca *ca)
{
	if (ca == NULL)
		return;
	EVP_PKEY_free(ca->root_key);
	EVP_PKEY_free(ca->int_key);
	X509_free(ca->root);
	X509_free(ca->inter);
	free(ca);
}

static void
make_leaf(X509 *issuer, EVP_PKEY *issuer_key,
    const struct testca_leaf_opts *opts, X509 **cert, EVP_PKEY **keyp)
{
	static const struct testca_leaf_opts defaults = {
	    .cn = "host1.example",
	    .san = "host1.example",
	};
	X509_NAME *name;
	EVP_PKEY *key;
	X509 *x;
	char *san, *p, *tok, *next;
	size_t off = 0, size;
	long na;

	if (opts == NULL)
		opts = &defaults;
	if (opts->key != NULL) {
		CHECK(EVP_PKEY_up_ref(opts->key) == 1);
		key = opts->key;
	} else
		key = testca_key(opts->keytype);
	CHECK((name = X509_NAME_new()) != NULL);
	add_name(name, "O", "eca test");
	if (opts->ou != NULL)
		add_name(name, "OU", opts->ou);
	if (opts->cn != NULL)
		add_name(name, "CN", opts->cn);
	na = opts->not_after != 0 ? opts->not_after : 86400L * 30;
	x = make_cert(key, name, issuer,
	    opts->not_before != 0 ? opts->not_before : -3600, na, opts->serial);
	X509_NAME_free(name);
	if (opts->ca) {
		add_ext(x, NULL, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, NULL, NID_key_usage,
		    "critical,digitalSignature,keyCertSign,cRLSign");
	} else {
		add_ext(x, NULL, NID_basic_constraints, "critical,CA:FALSE");
		add_ext(x, NULL, NID_key_usage,
		    EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA ?
			"critical,digitalSignature,keyEncipherment" :
			"critical,digitalSignature");
	}
	switch (opts->eku) {
	case TESTCA_EKU_BOTH:
		add_ext(x, NULL, NID_ext_key_usage, "clientAuth,serverAuth");
		break;
	case TESTCA_EKU_SERVER:
		add_ext(x, NULL, NID_ext_key_usage, "serverAuth");
		break;
	case TESTCA_EKU_CODESIGN:
		add_ext(x, NULL, NID_ext_key_usage, "codeSigning");
		break;
	case TESTCA_EKU_NONE:
		break;
	}
	/* Room for "DNS:" before each name, and then some. */
	size = 2 * (opts->san != NULL ? strlen(opts->san) : 0) + 2048;
	CHECK((san = malloc(size)) != NULL);
	if (opts->san != NULL) {
		CHECK((p = strdup(opts->san)) != NULL);
		san[0] = '\0';
		for (tok = p; tok != NULL; tok = next) {
			if ((next = strchr(tok, ',')) != NULL)
				*next++ = '\0';
			off += (size_t)snprintf(san + off, size - off,
			    "%sDNS:%s", off > 0 ? "," : "", tok);
			CHECK(off < size);
		}
		free(p);
		add_ext(x, NULL, NID_subject_alt_name, san);
	}
	if (opts->cdp != NULL) {
		snprintf(san, size, "URI:%s", opts->cdp);
		add_ext(x, NULL, NID_crl_distribution_points, san);
	}
	free(san);
	if (opts->nc != NULL)
		add_ext(x, NULL, NID_name_constraints, opts->nc);
	add_ext(x, NULL, NID_subject_key_identifier, "hash");
	add_ext(x, issuer, NID_authority_key_identifier, "keyid:always");
	sign_cert(x, issuer_key, opts->sha1);
	*cert = x;
	if (keyp != NULL)
		*keyp = key;
	else
		EVP_PKEY_free(key);
}

void
testca_leaf(struct testca *ca, const struct testca_leaf_opts *opts, X509 **cert,
    EVP_PKEY **key)
{
	make_leaf(ca->inter, ca->int_key, opts, cert, key);
}

void
testca_leaf_from_root(struct testca *ca, const struct testca_leaf_opts *opts,
    X509 **cert, EVP_PKEY **key)
{
	make_leaf(ca->root, ca->root_key, opts, cert, key);
}

char *
testca_tmpdir(void)
{
	char tmpl[] = "/tmp/eca-test-XXXXXX", *d;

	CHECK(mkdtemp(tmpl) != NULL);
	CHECK((d = strdup(tmpl)) != NULL);
	return d;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void
testca_rmdir(char *dir)
{
	if (dir == NULL)
		return;
	(void)nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

const char *
testca_path(const char *dir, const char *name)
{
	static char ring[8][PATH_MAX];
	static int next;
	char *p;

	p = ring[next];
	next = (next + 1) % 8;
	CHECK((size_t)snprintf(p, PATH_MAX, "%s/%s", dir, name) < PATH_MAX);
	return p;
}

void
testca_write_file(const char *path, const void *buf, size_t len, mode_t mode)
{
	const unsigned char *p = buf;
	ssize_t n;
	int fd;

	CHECK((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) != -1);
	while (len > 0) {
		n = write(fd, p, len);
		CHECK(n > 0);
		p += n;
		len -= (size_t)n;
	}
	CHECK(fchmod(fd, mode) == 0);
	CHECK(close(fd) == 0);
}

static void
write_bio(const char *path, BIO *bio, mode_t mode)
{
	char *data;
	long len;

	len = BIO_get_mem_data(bio, &data);
	CHECK(len >= 0);
	testca_write_file(path, data, (size_t)len, mode);
	BIO_free(bio);
}

void
testca_write_pem(const char *path, X509 *const *certs, size_t n, mode_t mode)
{
	BIO *bio;
	size_t i;

	CHECK((bio = BIO_new(BIO_s_mem())) != NULL);
	for (i = 0; i < n; i++)
		CHECK(PEM_write_bio_X509(bio, certs[i]) == 1);
	write_bio(path, bio, mode);
}

void
testca_write_der(const char *path, X509 *cert, mode_t mode)
{
	BIO *bio;

	CHECK((bio = BIO_new(BIO_s_mem())) != NULL);
	CHECK(i2d_X509_bio(bio, cert) == 1);
	write_bio(path, bio, mode);
}

void
testca_write_p7(const char *path, X509 *const *certs, size_t n, int pem,
    mode_t mode)
{
	PKCS7 *p7;
	BIO *bio;
	size_t i;

	CHECK((p7 = PKCS7_new()) != NULL);
	CHECK(PKCS7_set_type(p7, NID_pkcs7_signed) == 1);
	CHECK(PKCS7_content_new(p7, NID_pkcs7_data) == 1);
	for (i = 0; i < n; i++)
		CHECK(PKCS7_add_certificate(p7, certs[i]) == 1);
	CHECK((bio = BIO_new(BIO_s_mem())) != NULL);
	if (pem)
		CHECK(PEM_write_bio_PKCS7(bio, p7) == 1);
	else
		CHECK(i2d_PKCS7_bio(bio, p7) == 1);
	PKCS7_free(p7);
	write_bio(path, bio, mode);
}

void
testca_write_key(const char *path, EVP_PKEY *key, enum testca_keyfmt fmt,
    const char *pass, mode_t mode)
{
	BIO *bio;
	const EVP_CIPHER *enc = EVP_aes_256_cbc();
	int plen = pass != NULL ? (int)strlen(pass) : 0;

	CHECK((bio = BIO_new(BIO_s_mem())) != NULL);
	switch (fmt) {
	case TESTCA_KEY_PEM:
		CHECK(PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL,
			  NULL) == 1);
		break;
	case TESTCA_KEY_DER:
		CHECK(i2d_PKCS8PrivateKey_bio(bio, key, NULL, NULL, 0, NULL,
			  NULL) == 1);
		break;
	case TESTCA_KEY_PEM_ENC:
		CHECK(PEM_write_bio_PKCS8PrivateKey(bio, key, enc, pass, plen,
			  NULL, NULL) == 1);
		break;
	case TESTCA_KEY_DER_ENC:
		CHECK(i2d_PKCS8PrivateKey_bio(bio, key, enc, pass, plen, NULL,
			  NULL) == 1);
		break;
	}
	write_bio(path, bio, mode);
}

void
testca_write_hashdir(const char *dir, X509 *cert)
{
	char name[32];
	unsigned long h;
	int ok = 0;

	if (mkdir(dir, 0755) == -1)
		CHECK(errno == EEXIST);
	h = X509_NAME_hash_ex(X509_get_subject_name(cert), NULL, NULL, &ok);
	CHECK(ok == 1);
	snprintf(name, sizeof(name), "%08lx.0", h);
	testca_write_pem(testca_path(dir, name), &cert, 1, 0644);
}

void
testca_write_host(const char *dir, struct testca *ca, X509 *leaf, EVP_PKEY *key)
{
	X509 *chain[2];

	chain[0] = leaf;
	chain[1] = ca->inter;
	testca_write_pem(testca_path(dir, "cert.pem"), chain, 2, 0644);
	testca_write_key(testca_path(dir, "key.pem"), key, TESTCA_KEY_PEM, NULL,
	    0600);
	testca_write_pem(testca_path(dir, "trust.pem"), &ca->root, 1, 0644);
}

X509_CRL *
testca_crl(X509 *issuer, EVP_PKEY *key, X509 *const *revoked, size_t n,
    long last, long next, long number)
{
	X509_CRL *crl;
	X509_REVOKED *rev;
	ASN1_TIME *t;
	ASN1_INTEGER *num;
	const EVP_MD *md = NULL;
	size_t i;

	CHECK((crl = X509_CRL_new()) != NULL);
	CHECK(X509_CRL_set_version(crl, X509_CRL_VERSION_2) == 1);
	CHECK(
	    X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)) == 1);
	CHECK((t = X509_gmtime_adj(NULL, last)) != NULL);
	CHECK(X509_CRL_set1_lastUpdate(crl, t) == 1);
	ASN1_TIME_free(t);
	CHECK((t = X509_gmtime_adj(NULL, next)) != NULL);
	CHECK(X509_CRL_set1_nextUpdate(crl, t) == 1);
	ASN1_TIME_free(t);
	for (i = 0; i < n; i++) {
		CHECK((rev = X509_REVOKED_new()) != NULL);
		CHECK(X509_REVOKED_set_serialNumber(rev,
			  X509_get_serialNumber(revoked[i])) == 1);
		CHECK((t = X509_gmtime_adj(NULL, -3600)) != NULL);
		CHECK(X509_REVOKED_set_revocationDate(rev, t) == 1);
		ASN1_TIME_free(t);
		CHECK(X509_CRL_add0_revoked(crl, rev) == 1);
	}
	if (number != 0) {
		CHECK((num = ASN1_INTEGER_new()) != NULL);
		CHECK(ASN1_INTEGER_set(num, number) == 1);
		CHECK(
		    X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) == 1);
		ASN1_INTEGER_free(num);
	}
	CHECK(X509_CRL_sort(crl) == 1);
	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519)
		md = EVP_sha256();
	CHECK(X509_CRL_sign(crl, key, md) > 0);
	return crl;
}

unsigned char *
testca_crl_bytes(X509_CRL *crl, int pem, size_t *len)
{
	unsigned char *der = NULL, *out;
	char *data;
	BIO *bio;
	long n;
	int dlen;

	if (!pem) {
		CHECK((dlen = i2d_X509_CRL(crl, &der)) > 0);
		CHECK((out = malloc((size_t)dlen)) != NULL);
		memcpy(out, der, (size_t)dlen);
		OPENSSL_free(der);
		*len = (size_t)dlen;
		return out;
	}
	CHECK((bio = BIO_new(BIO_s_mem())) != NULL);
	CHECK(PEM_write_bio_X509_CRL(bio, crl) == 1);
	CHECK((n = BIO_get_mem_data(bio, &data)) > 0);
	CHECK((out = malloc((size_t)n)) != NULL);
	memcpy(out, data, (size_t)n);
	*len = (size_t)n;
	BIO_free(bio);
	return out;
}

void
testca_write_crl(const char *path, X509_CRL *crl, int pem, mode_t mode)
{
	unsigned char *buf;
	size_t len;

	buf = testca_crl_bytes(crl, pem, &len);
	testca_write_file(path, buf, len, mode);
	free(buf);
}
