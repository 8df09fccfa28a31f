/* SPDX-License-Identifier: ISC */
/*
 * mintcerts - many host certificates at once, for the storm test and the
 * benchmarks.
 *
 * mkca.sh runs the openssl command several times per leaf; minting 2,000
 * leaves that way takes minutes on a loaded 2-core machine and once ate a
 * whole test's time budget.  This does the same in one process: each leaf
 * is an EC P-256 key and a certificate signed by the intermediate of a CA
 * made by `mkca.sh ca DIR`, with the profile of `mkca.sh leaf` (CN and SAN
 * = the host name, serverAuth + clientAuth, CA:FALSE, SKI/AKI).
 *
 *   mintcerts --ca DIR --out DIR --count N [--first I] [--prefix P]
 *             [--domain D] [--days N]
 *
 * writes OUT/PNNNNN.pem (leaf, then the intermediate) and OUT/PNNNNN.key
 * (unencrypted PKCS#8, mode 0600) for I <= NNNNN < I + N, host names
 * PNNNNN.D (defaults: P = h, D = bench.eca, I = 0, days 365).  Exit 0 on
 * success, 1 with a message on stderr, 2 on a usage error.  Test keys
 * only: never use them for anything real.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#define MAX_COUNT 1000000
#define MAX_DAYS 3650

struct opts {
	const char *ca;
	const char *out;
	const char *prefix;
	const char *domain;
	long first;
	long count;
	long days;
};

static void
usage(void)
{
	fprintf(stderr,
	    "usage: mintcerts --ca DIR --out DIR --count N "
	    "[--first I] [--prefix P] [--domain D] [--days N]\n");
	exit(2);
}

static int
parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int
fail(const char *what, const char *path)
{
	unsigned long e = ERR_peek_last_error();

	fprintf(stderr, "mintcerts: %s%s%s%s%s\n", what,
	    path != NULL ? " " : "", path != NULL ? path : "",
	    e != 0 ? ": " : "", e != 0 ? ERR_reason_error_string(e) : "");
	ERR_clear_error();
	return -1;
}

static int
load_ca(const char *dir, X509 **cert, EVP_PKEY **key)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/inter.pem", dir);
	if ((f = fopen(path, "r")) == NULL)
		return fail("cannot open", path);
	*cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (*cert == NULL)
		return fail("no certificate in", path);
	snprintf(path, sizeof(path), "%s/inter.key", dir);
	if ((f = fopen(path, "r")) == NULL)
		return fail("cannot open", path);
	*key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (*key == NULL)
		return fail("no unencrypted private key in", path);
	return 0;
}

static int
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value)) == NULL)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : -1;
}

/* A random positive 128-bit serial, as `openssl ca -rand_serial` makes. */
static int
set_serial(X509 *x)
{
	BIGNUM *bn = BN_new();
	int r = -1;

	if (bn != NULL &&
	    BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL)
		r = 0;
	BN_free(bn);
	return r;
}

static X509 *
make_leaf(const char *host, EVP_PKEY *key, X509 *ca, EVP_PKEY *ca_key,
    long days)
{
	X509 *x = NULL;
	X509_NAME *name;
	char san[300];

	snprintf(san, sizeof(san), "DNS:%s", host);
	if ((x = X509_new()) == NULL ||
	    X509_set_version(x, X509_VERSION_3) != 1 || set_serial(x) != 0 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * days) == NULL ||
	    (name = X509_get_subject_name(x)) == NULL ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
		(const unsigned char *)host, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, X509_get_subject_name(ca)) != 1 ||
	    X509_set_pubkey(x, key) != 1 ||
	    add_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
	    add_ext(x, ca, NID_key_usage, "critical,digitalSignature") != 0 ||
	    add_ext(x, ca, NID_ext_key_usage, "serverAuth,clientAuth") != 0 ||
	    add_ext(x, ca, NID_subject_alt_name, san) != 0 ||
	    add_ext(x, ca, NID_subject_key_identifier, "hash") != 0 ||
	    add_ext(x, ca, NID_authority_key_identifier, "keyid:always") != 0 ||
	    X509_sign(x, ca_key, EVP_sha256()) <= 0) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* Writes PATH through a temporary file, so a cut-short run leaves none. */
static int
write_pem(const char *path, mode_t mode, X509 *leaf, X509 *ca, EVP_PKEY *key)
{
	char tmp[PATH_MAX];
	FILE *f;
	int fd, ok;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode)) == -1)
		return fail("cannot create", tmp);
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		return fail("cannot write", tmp);
	}
	if (key != NULL)
		ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	else
		ok = PEM_write_X509(f, leaf) && PEM_write_X509(f, ca);
	if (fclose(f) != 0 || !ok) {
		unlink(tmp);
		return fail("cannot write", tmp);
	}
	if (rename(tmp, path) != 0) {
		unlink(tmp);
		return fail("cannot rename to", path);
	}
	return 0;
}

static int
mint_one(const struct opts *o, long i, X509 *ca, EVP_PKEY *ca_key)
{
	char label[64], host[256], path[PATH_MAX];
	EVP_PKEY *key = NULL;
	X509 *leaf = NULL;
	int r = -1;

	snprintf(label, sizeof(label), "%s%05ld", o->prefix, i);
	snprintf(host, sizeof(host), "%s.%s", label, o->domain);
	if ((key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL) {
		fail("cannot make a P-256 key for", host);
		goto out;
	}
	if ((leaf = make_leaf(host, key, ca, ca_key, o->days)) == NULL) {
		fail("cannot make the certificate of", host);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/%s.key", o->out, label);
	if (write_pem(path, 0600, NULL, NULL, key) != 0)
		goto out;
	snprintf(path, sizeof(path), "%s/%s.pem", o->out, label);
	if (write_pem(path, 0644, leaf, ca, NULL) != 0)
		goto out;
	r = 0;
out:
	X509_free(leaf);
	EVP_PKEY_free(key);
	return r;
}

int
main(int argc, char **argv)
{
	struct opts o = {.prefix = "h", .domain = "bench.eca", .days = 365};
	X509 *ca = NULL;
	EVP_PKEY *ca_key = NULL;
	int i, rc = 1;
	long n;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL)
			usage();
		if (strcmp(a, "--ca") == 0)
			o.ca = v;
		else if (strcmp(a, "--out") == 0)
			o.out = v;
		else if (strcmp(a, "--prefix") == 0)
			o.prefix = v;
		else if (strcmp(a, "--domain") == 0)
			o.domain = v;
		else if (strcmp(a, "--count") == 0) {
			if (parse_long(v, 1, MAX_COUNT, &o.count) != 0)
				usage();
		} else if (strcmp(a, "--first") == 0) {
			if (parse_long(v, 0, MAX_COUNT, &o.first) != 0)
				usage();
		} else if (strcmp(a, "--days") == 0) {
			if (parse_long(v, 1, MAX_DAYS, &o.days) != 0)
				usage();
		} else
			usage();
		i++;
	}
	if (o.ca == NULL || o.out == NULL || o.count == 0 ||
	    strlen(o.prefix) > 32 || strlen(o.domain) > 200)
		usage();
	if (mkdir(o.out, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "mintcerts: cannot create %s: %s\n", o.out,
		    strerror(errno));
		goto out;
	}
	if (load_ca(o.ca, &ca, &ca_key) != 0)
		goto out;
	for (n = o.first; n < o.first + o.count; n++)
		if (mint_one(&o, n, ca, ca_key) != 0)
			goto out;
	rc = 0;
out:
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	return rc;
}
