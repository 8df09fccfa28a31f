/* SPDX-License-Identifier: ISC */
/*
 * testca.h - throwaway certificates for the unit tests, made with the
 * OpenSSL API (no shelling out): a root CA, an intermediate issuing CA,
 * leaves with options, and writers for the file formats eca reads.
 *
 * Every function aborts the test program on an OpenSSL failure (these are
 * test fixtures, not code under test), so callers need not check.
 */
#ifndef ECA_TESTCA_H
#define ECA_TESTCA_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

enum testca_keytype {
	TESTCA_RSA2048 = 0, /* one key shared by the process: fast */
	TESTCA_RSA2048_NEW, /* a fresh RSA-2048 key */
	TESTCA_RSA1024,
	TESTCA_EC_P256,
	TESTCA_EC_P384,
	TESTCA_ED25519,
	TESTCA_EC_P192, /* a weak curve */
	TESTCA_DSA,	/* DSA 2048 (refused whatever its size) */
};

enum testca_eku {
	TESTCA_EKU_BOTH = 0, /* clientAuth + serverAuth */
	TESTCA_EKU_NONE,     /* no extendedKeyUsage extension */
	TESTCA_EKU_SERVER,   /* serverAuth only */
	TESTCA_EKU_CODESIGN, /* codeSigning only */
};

struct testca_leaf_opts {
	enum testca_keytype keytype;
	EVP_PKEY *key;	 /* use this key (borrowed), or NULL */
	const char *cn;	 /* subject CN; NULL: none */
	const char *san; /* comma-separated dNSNames; NULL: none */
	const char *ou;	 /* optional subject OU, for DN tests */
	long not_before; /* seconds from now (e.g. -3600) */
	long not_after;	 /* seconds from now; 0: 30 days */
	enum testca_eku eku;
	int ca;		 /* basicConstraints CA:TRUE */
	int sha1;	 /* sign with SHA-1 */
	long serial;	 /* 0: a random serial */
	const char *cdp; /* a CRL distribution point URI, or NULL */
	const char *nc;	 /* a nameConstraints value (v3 config), or NULL */
};

/* A root CA and an intermediate it signed (both EC P-256). */
struct testca {
	EVP_PKEY *root_key;
	X509 *root;
	EVP_PKEY *int_key;
	X509 *inter;
};

/* name goes into the CA subjects ("<name> Root CA", "<name> Issuing CA"). */
struct testca *testca_new(const char *name);

/* A CA pair made to measure (issue 15): zero fields keep the defaults. */
struct testca_ca_opts {
	int keys_set;		      /* use root_key and int_key below */
	enum testca_keytype root_key; /* default EC P-256 */
	enum testca_keytype int_key;  /* default EC P-256 */
	long root_not_before, root_not_after; /* seconds from now */
	long int_not_before, int_not_after;
	int root_sha1;	    /* the root signs itself with SHA-1 */
	int int_sha1;	    /* the root signs the intermediate so */
	const char *int_nc; /* the intermediate's nameConstraints */
};
struct testca *testca_new_opts(const char *name,
    const struct testca_ca_opts *o);
void testca_free(struct testca *ca);

/* A new key of the type; the caller owns it. */
EVP_PKEY *testca_key(enum testca_keytype type);

/*
 * A leaf signed by the intermediate.  *cert and (if key is not NULL) *key
 * are the caller's.  opts may be NULL: RSA-2048, CN and SAN "host1.example".
 */
void testca_leaf(struct testca *ca, const struct testca_leaf_opts *opts,
    X509 **cert, EVP_PKEY **key);
/* The same with the root as issuer (for chains without intermediate). */
void testca_leaf_from_root(struct testca *ca,
    const struct testca_leaf_opts *opts, X509 **cert, EVP_PKEY **key);

/* A fresh private directory (mode 700); testca_rmdir removes it all. */
char *testca_tmpdir(void);
void testca_rmdir(char *dir);
/* "<dir>/<name>" in a static buffer ring of 8 (enough for one test). */
const char *testca_path(const char *dir, const char *name);

/* Files, each written with the given mode (chmod after create). */
void testca_write_file(const char *path, const void *buf, size_t len,
    mode_t mode);
/* PEM certificates, in the order given (certs[0] first). */
void testca_write_pem(const char *path, X509 *const *certs, size_t n,
    mode_t mode);
void testca_write_der(const char *path, X509 *cert, mode_t mode);
/* PKCS#7 SignedData with these certificates (n may be 0), PEM or DER. */
void testca_write_p7(const char *path, X509 *const *certs, size_t n, int pem,
    mode_t mode);

enum testca_keyfmt {
	TESTCA_KEY_PEM,	    /* PKCS#8 PEM */
	TESTCA_KEY_DER,	    /* PKCS#8 DER */
	TESTCA_KEY_PEM_ENC, /* encrypted PKCS#8 PEM (AES-256-CBC) */
	TESTCA_KEY_DER_ENC, /* encrypted PKCS#8 DER */
};
void testca_write_key(const char *path, EVP_PKEY *key, enum testca_keyfmt fmt,
    const char *pass, mode_t mode);

/* A c_rehash-style directory holding cert as <hash>.0. */
void testca_write_hashdir(const char *dir, X509 *cert);

/* The standard files of one host in dir: cert.pem (leaf + intermediate),
 * key.pem (0600), trust.pem (root). */
void testca_write_host(const char *dir, struct testca *ca, X509 *leaf,
    EVP_PKEY *key);

/*
 * A CRL of issuer, signed with key, listing revoked (n may be 0; each
 * revoked an hour ago), lastUpdate `last` and nextUpdate `next` seconds
 * from now, CRL number `number` (0: no number extension).  Caller frees.
 */
X509_CRL *testca_crl(X509 *issuer, EVP_PKEY *key, X509 *const *revoked,
    size_t n, long last, long next, long number);
/* The CRL as PEM (pem set) or DER. */
void testca_write_crl(const char *path, X509_CRL *crl, int pem, mode_t mode);
/* Its encoding in memory (caller frees). */
unsigned char *testca_crl_bytes(X509_CRL *crl, int pem, size_t *len);

#endif
