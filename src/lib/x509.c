/* SPDX-License-Identifier: ISC */
/*
 * x509.c - certificates, keys and trust stores (OpenSSL 3).
 *
 * Everything a peer sends us or an administrator points us at is parsed
 * here with size limits and end-pointer checks: certificate chains, keys,
 * trust stores, this host's credentials.  What makes a peer's certificate
 * acceptable (eca_x509_check_peer) is in x509_policy.c.
 */
#include "x509.h"
#include "text.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <stdarg.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>

#include "util.h"

#define CERT_REMEDY                                                            \
	"provide the leaf certificate first, then its "                        \
	"intermediates, as PEM, DER or PKCS#7"

static int
check_private_mode(const char *path, const char *what, mode_t mode,
    struct eca_err *err)
{
	if ((mode & 077) == 0)
		return 0;
	return eca_err_set(err, ECA_ERR_FILE_PERMISSIONS,
	    "%s file %s is accessible by group or others (mode %04o): "
	    "run chmod 600 %s",
	    what, path, (unsigned)(mode & 07777), path);
}

/* Prefix err->msg with "prefix: " (for adding a path to a parse error). */
static void
err_prefix(struct eca_err *err, const char *prefix)
{
	char tmp[ECA_ERR_MSG_MAX];

	if (err == NULL)
		return;
	memcpy(tmp, err->msg, sizeof(tmp));
	tmp[sizeof(tmp) - 1] = '\0';
	eca_text_fmt(err->msg, sizeof(err->msg), "%s: %s", prefix, tmp);
}

int
eca_x509_name_rfc2253(const X509_NAME *name, char *buf, size_t size,
    struct eca_err *err)
{
	BIO *bio = NULL;
	char *p;
	long len;
	int r = ECA_ERR_INTERNAL;

	if ((bio = BIO_new(BIO_s_mem())) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) < 0) {
		r = eca_err_set(err, ECA_ERR_BAD_CERTIFICATE,
		    "cannot print a certificate name");
		eca_err_add_openssl(err);
		goto out;
	}
	len = BIO_get_mem_data(bio, &p);
	if (len < 0 || (size_t)len >= size) {
		r = eca_err_set(err, ECA_ERR_BAD_CERTIFICATE,
		    "certificate name is longer than %zu characters", size - 1);
		goto out;
	}
	if (len > 0)
		memcpy(buf, p, (size_t)len);
	buf[len] = '\0';
	r = 0;
out:
	BIO_free(bio);
	return r;
}

const char *
eca_x509_subject_str(X509 *x, char *buf, size_t size)
{
	if (x == NULL ||
	    eca_x509_name_rfc2253(X509_get_subject_name(x), buf, size, NULL) !=
		0)
		eca_text_fmt(buf, size, "(unnamed certificate)");
	return buf;
}

/*
 * Certificate chain parsing
 */

static int
push_cert(STACK_OF(X509) *all, X509 **x, struct eca_err *err)
{
	if (sk_X509_num(all) >= ECA_CHAIN_MAX)
		return eca_err_set(err, ECA_ERR_PARSE,
		    "more than %d certificates in the chain: " CERT_REMEDY
		    " (at most %d)",
		    ECA_CHAIN_MAX, ECA_CHAIN_MAX);
	if (sk_X509_push(all, *x) <= 0)
		return eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
	*x = NULL;
	return 0;
}

/*
 * One DER certificate occupying exactly len bytes.  *decoded (may be NULL)
 * tells a certificate with trailing bytes from something else entirely.
 */
static int
der_cert(OSSL_LIB_CTX *libctx, const unsigned char *buf, size_t len, X509 **out,
    int *decoded, struct eca_err *err)
{
	const unsigned char *p = buf;
	X509 *x = NULL;
	int r = ECA_ERR_INTERNAL;

	*out = NULL;
	if (decoded != NULL)
		*decoded = 0;
	if (len > LONG_MAX)
		return eca_err_set(err, ECA_ERR_PARSE, "certificate too large");
	if ((x = X509_new_ex(libctx, NULL)) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* d2i frees x and sets it to NULL on failure. */
	if (d2i_X509(&x, &p, (long)len) == NULL) {
		x = NULL;
		r = eca_err_set(err, ECA_ERR_PARSE,
		    "not a valid DER certificate");
		eca_err_add_openssl(err);
		goto out;
	}
	if (decoded != NULL)
		*decoded = 1;
	if (p != buf + len) {
		r = eca_err_set(err, ECA_ERR_PARSE,
		    "%zu unexpected bytes after the DER "
		    "certificate: " CERT_REMEDY,
		    (size_t)(buf + len - p));
		goto out;
	}
	*out = x;
	x = NULL;
	r = 0;
out:
	X509_free(x);
	return r;
}

/*
 * PKCS#7 certificates are a SET OF, which DER encoders sort, so their
 * order says nothing: put the one that issued no other first, then walk
 * up by issuer, then anything left over.
 */
static int
order_p7_certs(STACK_OF(X509) *certs, STACK_OF(X509) *all, struct eca_err *err)
{
	X509 *cur = NULL, *x, *y;
	int i, j, n, r, issued_other;
	unsigned char used[ECA_CHAIN_MAX];

	n = sk_X509_num(certs);
	if (n > ECA_CHAIN_MAX)
		return eca_err_set(err, ECA_ERR_PARSE,
		    "more than %d certificates in the PKCS#7 "
		    "chain: " CERT_REMEDY,
		    ECA_CHAIN_MAX);
	memset(used, 0, sizeof(used));
	for (i = 0; i < n && cur == NULL; i++) {
		x = sk_X509_value(certs, i);
		issued_other = 0;
		for (j = 0; j < n; j++) {
			y = sk_X509_value(certs, j);
			if (i != j && X509_check_issued(x, y) == X509_V_OK)
				issued_other = 1;
		}
		if (!issued_other) {
			cur = x;
			used[i] = 1;
		}
	}
	if (cur == NULL) {
		cur = sk_X509_value(certs, 0);
		used[0] = 1;
	}
	while (cur != NULL) {
		X509_up_ref(cur);
		x = cur;
		if ((r = push_cert(all, &x, err)) != 0) {
			X509_free(x);
			return r;
		}
		cur = NULL;
		for (j = 0; j < n && cur == NULL; j++) {
			y = sk_X509_value(certs, j);
			if (!used[j] &&
			    X509_check_issued(y,
				sk_X509_value(all, sk_X509_num(all) - 1)) ==
				X509_V_OK) {
				cur = y;
				used[j] = 1;
			}
		}
	}
	for (j = 0; j < n; j++) {
		if (used[j])
			continue;
		x = sk_X509_value(certs, j);
		X509_up_ref(x);
		if ((r = push_cert(all, &x, err)) != 0) {
			X509_free(x);
			return r;
		}
	}
	return 0;
}

/* A DER PKCS#7 SignedData occupying exactly len bytes. */
static int
der_pkcs7(OSSL_LIB_CTX *libctx, const unsigned char *buf, size_t len,
    STACK_OF(X509) *all, struct eca_err *err)
{
	const unsigned char *p = buf;
	PKCS7 *p7 = NULL;
	STACK_OF(X509) *certs;
	int r = ECA_ERR_INTERNAL;

	if (len > LONG_MAX)
		return eca_err_set(err, ECA_ERR_PARSE, "PKCS#7 too large");
	if ((p7 = PKCS7_new_ex(libctx, NULL)) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (d2i_PKCS7(&p7, &p, (long)len) == NULL) {
		p7 = NULL;
		r = eca_err_set(err, ECA_ERR_PARSE,
		    "not a certificate, PEM or PKCS#7 file: " CERT_REMEDY);
		ERR_clear_error();
		goto out;
	}
	if (p != buf + len) {
		r = eca_err_set(err, ECA_ERR_PARSE,
		    "unexpected bytes after the PKCS#7 structure");
		goto out;
	}
	if (!PKCS7_type_is_signed(p7) || p7->d.sign == NULL ||
	    (certs = p7->d.sign->cert) == NULL || sk_X509_num(certs) == 0) {
		r = eca_err_set(err, ECA_ERR_PARSE,
		    "the PKCS#7 file contains no certificates: " CERT_REMEDY);
		goto out;
	}
	r = order_p7_certs(certs, all, err);
out:
	PKCS7_free(p7);
	return r;
}

static int
is_cert_pem_name(const char *name)
{
	return strcmp(name, PEM_STRING_X509) == 0 ||
	    strcmp(name, PEM_STRING_X509_OLD) == 0;
}

static int
is_p7_pem_name(const char *name)
{
	return strcmp(name, PEM_STRING_PKCS7) == 0 ||
	    strcmp(name, PEM_STRING_PKCS7_SIGNED) == 0;
}

/*
 * Every PEM block in buf: certificates and PKCS#7 are taken, other blocks
 * (a key someone concatenated, parameters) are skipped, but a block that
 * is broken or truncated refuses the whole file: a chain silently cut
 * short would fail later with a far less helpful message.
 */
static int
pem_certs(OSSL_LIB_CTX *libctx, const unsigned char *buf, size_t len,
    STACK_OF(X509) *all, struct eca_err *err)
{
	BIO *bio = NULL;
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	long datalen = 0;
	unsigned long e;
	X509 *x = NULL;
	int r = ECA_ERR_INTERNAL, nblocks = 0;

	if (len > INT_MAX)
		return eca_err_set(err, ECA_ERR_PARSE, "file too large");
	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
		goto out;
	}
	ERR_clear_error();
	for (;;) {
		if (PEM_read_bio_ex(bio, &name, &header, &data, &datalen,
			PEM_FLAG_EAY_COMPATIBLE) != 1) {
			e = ERR_peek_last_error();
			if (ERR_GET_LIB(e) == ERR_LIB_PEM &&
			    ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
				ERR_clear_error();
				break;
			}
			r = eca_err_set(err, ECA_ERR_PARSE,
			    "PEM block %d is broken or truncated", nblocks + 1);
			eca_err_add_openssl(err);
			goto out;
		}
		nblocks++;
		if (is_cert_pem_name(name)) {
			if ((r = der_cert(libctx, data, (size_t)datalen, &x,
				 NULL, err)) != 0) {
				err_prefix(err, "PEM certificate block");
				goto out;
			}
			if ((r = push_cert(all, &x, err)) != 0)
				goto out;
		} else if (is_p7_pem_name(name)) {
			if ((r = der_pkcs7(libctx, data, (size_t)datalen, all,
				 err)) != 0)
				goto out;
		}
		OPENSSL_cleanse(data, (size_t)datalen);
		OPENSSL_free(data);
		OPENSSL_free(name);
		OPENSSL_free(header);
		data = NULL;
		name = header = NULL;
	}
	if (sk_X509_num(all) == 0) {
		r = eca_err_set(err, ECA_ERR_PARSE,
		    "no certificate found in the PEM data: " CERT_REMEDY);
		goto out;
	}
	r = 0;
out:
	if (data != NULL) {
		OPENSSL_cleanse(data, (size_t)datalen);
		OPENSSL_free(data);
	}
	OPENSSL_free(name);
	OPENSSL_free(header);
	X509_free(x);
	BIO_free(bio);
	return r;
}

static int
looks_like_pem(const unsigned char *buf, size_t len)
{
	static const char begin[] = "-----BEGIN ";

	return memmem(buf, len, begin, sizeof(begin) - 1) != NULL;
}

int
eca_x509_parse_chain(OSSL_LIB_CTX *libctx, const unsigned char *buf, size_t len,
    X509 **leaf, STACK_OF(X509) **chain, struct eca_err *err)
{
	STACK_OF(X509) *all = NULL;
	X509 *x = NULL;
	int r = ECA_ERR_INTERNAL, decoded = 0;

	*leaf = NULL;
	*chain = NULL;
	if (buf == NULL || len == 0) {
		r = eca_err_set(err, ECA_ERR_PARSE,
		    "the certificate file is empty: " CERT_REMEDY);
		goto out;
	}
	if ((all = sk_X509_new_null()) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (looks_like_pem(buf, len)) {
		if ((r = pem_certs(libctx, buf, len, all, err)) != 0)
			goto out;
	} else if (buf[0] == 0x30) {
		/* DER: one certificate, or else a PKCS#7 SignedData. */
		r = der_cert(libctx, buf, len, &x, &decoded, err);
		if (r == 0) {
			if ((r = push_cert(all, &x, err)) != 0)
				goto out;
		} else if (decoded) {
			goto out;
		} else if ((r = der_pkcs7(libctx, buf, len, all, err)) != 0)
			goto out;
	} else {
		r = eca_err_set(err, ECA_ERR_PARSE,
		    "not a certificate, PEM or PKCS#7 file: " CERT_REMEDY);
		goto out;
	}
	*leaf = sk_X509_shift(all);
	*chain = all;
	all = NULL;
	r = 0;
out:
	X509_free(x);
	sk_X509_pop_free(all, X509_free);
	ERR_clear_error();
	return r;
}

int
eca_x509_load_chain(OSSL_LIB_CTX *libctx, const char *path, X509 **leaf,
    STACK_OF(X509) **chain, struct eca_err *err)
{
	unsigned char *buf;
	size_t len;
	int r;

	*leaf = NULL;
	*chain = NULL;
	if ((r = eca_util_read_file(path, "certificate", ECA_CERT_FILE_MAX,
		 &buf, &len, NULL, NULL, err)) != 0)
		return r;
	if ((r = eca_x509_parse_chain(libctx, buf, len, leaf, chain, err)) != 0)
		err_prefix(err, path);
	eca_util_free_file(buf, len);
	return r;
}

/*
 * Private keys
 */

struct pass_state {
	const char *pass;
	int asked;
};

/*
 * Called by the decoder only when the key is encrypted, which is how we
 * tell "wrong or missing passphrase" from garbage.
 */
static int
pass_cb(char *buf, size_t size, size_t *len, const OSSL_PARAM params[],
    void *arg)
{
	struct pass_state *ps = arg;
	size_t n;

	(void)params;
	ps->asked = 1;
	if (ps->pass == NULL)
		return 0;
	n = strlen(ps->pass);
	if (n > size)
		return 0;
	memcpy(buf, ps->pass, n);
	*len = n;
	return 1;
}

int
eca_x509_parse_key(OSSL_LIB_CTX *libctx, const unsigned char *buf, size_t len,
    const char *pass, EVP_PKEY **out, struct eca_err *err)
{
	OSSL_DECODER_CTX *dctx = NULL;
	EVP_PKEY *pkey = NULL;
	struct pass_state ps;
	const unsigned char *p = buf;
	size_t left = len;
	int r = ECA_ERR_INTERNAL;

	*out = NULL;
	ps.pass = pass;
	ps.asked = 0;
	if (buf == NULL || len == 0) {
		r = eca_err_set(err, ECA_ERR_PARSE,
		    "the private key file is empty");
		goto out;
	}
	dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, NULL, NULL, NULL,
	    EVP_PKEY_KEYPAIR, libctx, NULL);
	if (dctx == NULL) {
		r = eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot set up the private key decoder");
		eca_err_add_openssl(err);
		goto out;
	}
	if (OSSL_DECODER_CTX_set_passphrase_cb(dctx, pass_cb, &ps) != 1) {
		r = eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot set the key passphrase callback");
		eca_err_add_openssl(err);
		goto out;
	}
	if (OSSL_DECODER_from_data(dctx, &p, &left) != 1 || pkey == NULL) {
		if (ps.asked && pass == NULL)
			r = eca_err_set(err, ECA_ERR_PASSPHRASE,
			    "the private key is encrypted and no passphrase "
			    "was given: set ECA_KEY_PASSPHRASEFILE to a file "
			    "(mode 600) holding the passphrase");
		else if (ps.asked)
			r = eca_err_set(err, ECA_ERR_PASSPHRASE,
			    "the private key cannot be decrypted with the "
			    "passphrase given: check the first line of the "
			    "file in ECA_KEY_PASSPHRASEFILE");
		else
			r = eca_err_set(err, ECA_ERR_PARSE,
			    "not a PEM or DER private key");
		goto out;
	}
	*out = pkey;
	pkey = NULL;
	r = 0;
out:
	EVP_PKEY_free(pkey);
	OSSL_DECODER_CTX_free(dctx);
	ERR_clear_error();
	return r;
}

/* The passphrase is the first line of the file, without its newline. */
static int
read_passphrase(const char *path, char *pass, size_t size, struct eca_err *err)
{
	unsigned char *buf;
	size_t len, n;
	mode_t mode;
	int r;

	if ((r = eca_util_read_file(path, "passphrase", ECA_CERT_FILE_MAX, &buf,
		 &len, &mode, NULL, err)) != 0)
		return r;
	if ((r = check_private_mode(path, "passphrase", mode, err)) != 0)
		goto out;
	for (n = 0; n < len && buf[n] != '\n'; n++)
		;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if (n == 0 || n >= size || n > ECA_PASSPHRASE_MAX ||
	    memchr(buf, '\0', n) != NULL) {
		r = eca_err_set(err, ECA_ERR_PASSPHRASE,
		    "passphrase file %s must hold the passphrase (1 to %d "
		    "characters) on its first line",
		    path, ECA_PASSPHRASE_MAX);
		goto out;
	}
	memcpy(pass, buf, n);
	pass[n] = '\0';
	r = 0;
out:
	eca_util_free_file(buf, len);
	return r;
}

int
eca_x509_load_key(OSSL_LIB_CTX *libctx, const char *path, const char *passfile,
    EVP_PKEY **out, struct eca_err *err)
{
	unsigned char *buf = NULL;
	char pass[ECA_PASSPHRASE_MAX + 1];
	size_t len = 0;
	mode_t mode;
	int r = ECA_ERR_INTERNAL, havepass = 0;

	*out = NULL;
	/*
	 * The key file is read into OpenSSL's allocator and wiped when
	 * freed (util.h), like OpenSSL's own copies of key material, so
	 * that test_secrets.c can check every such buffer is wiped.
	 */
	if ((r = eca_util_read_file(path, "private key", ECA_CERT_FILE_MAX,
		 &buf, &len, &mode, NULL, err)) != 0)
		goto out;
	if ((r = check_private_mode(path, "private key", mode, err)) != 0)
		goto out;
	if (passfile != NULL) {
		if ((r = read_passphrase(passfile, pass, sizeof(pass), err)) !=
		    0)
			goto out;
		havepass = 1;
	}
	if ((r = eca_x509_parse_key(libctx, buf, len, havepass ? pass : NULL,
		 out, err)) != 0)
		err_prefix(err, path);
out:
	OPENSSL_cleanse(pass, sizeof(pass));
	eca_util_free_file(buf, len);
	return r;
}

/*
 * Trust stores
 */

/* Does dir hold at least one c_rehash-style name (8 hex digits . N)? */
static int
dir_has_hashed_entries(const char *path)
{
	DIR *d;
	struct dirent *de;
	size_t i;
	int found = 0;

	if ((d = opendir(path)) == NULL)
		return 0;
	while (!found && (de = readdir(d)) != NULL) {
		for (i = 0; i < 8 && isxdigit((unsigned char)de->d_name[i]);
		     i++)
			;
		if (i == 8 && de->d_name[8] == '.' &&
		    isdigit((unsigned char)de->d_name[9]))
			found = 1;
	}
	closedir(d);
	return found;
}

static int
count_store_certs(X509_STORE *store)
{
	STACK_OF(X509_OBJECT) *objs;
	int i, n = 0;

	/* The store is ours alone here, so reading it unlocked is safe. */
	objs = X509_STORE_get0_objects(store);
	for (i = 0; i < sk_X509_OBJECT_num(objs); i++)
		if (X509_OBJECT_get_type(sk_X509_OBJECT_value(objs, i)) ==
		    X509_LU_X509)
			n++;
	return n;
}

int
eca_x509_load_trust(OSSL_LIB_CTX *libctx, const char *path, X509_STORE **out,
    struct eca_err *err)
{
	X509_STORE *store = NULL;
	X509_LOOKUP *lookup;
	struct stat st;
	int r = ECA_ERR_INTERNAL;

	*out = NULL;
	if (path == NULL || *path == '\0') {
		r = eca_err_set(err, ECA_ERR_CONFIG,
		    "ECA_TRUST_STORE_PATH is not set: name a CA bundle file "
		    "or a hashed directory");
		goto out;
	}
	if (stat(path, &st) == -1) {
		r = eca_err_set(err, ECA_ERR_UNREADABLE,
		    "cannot access trust store %s: %s (check "
		    "ECA_TRUST_STORE_PATH and that this user may read it)",
		    path, strerror(errno));
		goto out;
	}
	if ((store = X509_STORE_new()) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		if (access(path, R_OK | X_OK) == -1) {
			r = eca_err_set(err, ECA_ERR_UNREADABLE,
			    "cannot read trust store directory %s: %s (check "
			    "that this user may read and search it)",
			    path, strerror(errno));
			goto out;
		}
		if (!dir_has_hashed_entries(path)) {
			r = eca_err_set(err, ECA_ERR_PARSE,
			    "trust store directory %s holds no hashed "
			    "certificate names: run openssl rehash %s",
			    path, path);
			goto out;
		}
		if ((lookup = X509_STORE_add_lookup(store,
			 X509_LOOKUP_hash_dir())) == NULL ||
		    X509_LOOKUP_add_dir(lookup, path, X509_FILETYPE_PEM) != 1) {
			r = eca_err_set(err, ECA_ERR_PARSE,
			    "cannot use trust store directory %s", path);
			eca_err_add_openssl(err);
			goto out;
		}
	} else {
		if (st.st_size > ECA_CERT_FILE_MAX * 16) {
			r = eca_err_set(err, ECA_ERR_UNREADABLE,
			    "trust store %s is implausibly large", path);
			goto out;
		}
		if (X509_STORE_load_file_ex(store, path, libctx, NULL) != 1 ||
		    count_store_certs(store) == 0) {
			r = eca_err_set(err, ECA_ERR_PARSE,
			    "trust store %s holds no readable CA certificate: "
			    "put the PEM certificates of the CAs that issue "
			    "this domain's certificates in it",
			    path);
			eca_err_add_openssl(err);
			goto out;
		}
	}
	*out = store;
	store = NULL;
	r = 0;
out:
	X509_STORE_free(store);
	ERR_clear_error();
	return r;
}

int
eca_x509_key_match(X509 *leaf, EVP_PKEY *key, struct eca_err *err)
{
	EVP_PKEY *pub;
	char subj[ECA_DN_MAX];

	if (leaf == NULL || key == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "no certificate or key to match");
	pub = X509_get0_pubkey(leaf);
	if (pub == NULL || EVP_PKEY_eq(pub, key) != 1) {
		ERR_clear_error();
		return eca_err_set(err, ECA_ERR_KEY_MISMATCH,
		    "the private key does not belong to certificate %s: "
		    "set ECA_PRIVATE_KEY_PATH to the key this certificate "
		    "was requested with",
		    eca_x509_subject_str(leaf, subj, sizeof(subj)));
	}
	ERR_clear_error();
	return 0;
}

/*
 * This host's credentials
 */

void
eca_cred_free(struct eca_cred *cred)
{
	if (cred == NULL)
		return;
	X509_free(cred->leaf);
	sk_X509_pop_free(cred->chain, X509_free);
	EVP_PKEY_free(cred->key);
	X509_STORE_free(cred->trust);
	free(cred);
}

/* x decoded again from its DER in libctx: X509_dup keeps x's context. */
static X509 *
cert_in(OSSL_LIB_CTX *libctx, X509 *x)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	X509 *c;
	int len;

	if ((len = i2d_X509(x, &der)) <= 0 ||
	    (c = X509_new_ex(libctx, NULL)) == NULL) {
		OPENSSL_free(der);
		return NULL;
	}
	p = der;
	if (d2i_X509(&c, &p, len) == NULL)
		c = NULL; /* d2i_X509 freed it */
	OPENSSL_free(der);
	return c;
}

int
eca_cred_copy(OSSL_LIB_CTX *libctx, const struct eca_cred *cred,
    struct eca_cred **out, struct eca_err *err)
{
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	struct eca_cred *c = NULL;
	X509 *x;
	int i, r = ECA_ERR_NOMEM;

	*out = NULL;
	if (cred == NULL || cred->leaf == NULL || cred->key == NULL ||
	    cred->trust == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "incomplete credentials to copy");
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->leaf = cert_in(libctx, cred->leaf)) == NULL ||
	    (c->chain = sk_X509_new_null()) == NULL)
		goto out;
	for (i = 0; i < sk_X509_num(cred->chain); i++) {
		if ((x = cert_in(libctx, sk_X509_value(cred->chain, i))) ==
		    NULL)
			goto out;
		if (!sk_X509_push(c->chain, x)) {
			X509_free(x);
			goto out;
		}
	}
	/* PKCS#8 holds any key type; its free clears the key's bytes. */
	if ((p8 = EVP_PKEY2PKCS8(cred->key)) == NULL ||
	    (c->key = EVP_PKCS82PKEY_ex(p8, libctx, NULL)) == NULL ||
	    !X509_STORE_up_ref(cred->trust))
		goto out;
	c->trust = cred->trust;
	*out = c;
	c = NULL;
	r = 0;
out:
	if (r != 0) {
		eca_err_set(err, r, "cannot copy this host's credentials");
		eca_err_add_openssl(err);
	}
	PKCS8_PRIV_KEY_INFO_free(p8);
	eca_cred_free(c);
	ERR_clear_error();
	return r;
}

/*
 * When the key belongs to no leaf but to a certificate listed later in
 * ECA_CERT_PATH, the file is in the wrong order, and "use the right key"
 * would be the wrong remedy.
 */
int
eca_x509_key_match_chain(const char *path, X509 *leaf, STACK_OF(X509) *chain,
    EVP_PKEY *key, struct eca_err *err)
{
	char first[ECA_DN_MAX], subj[ECA_DN_MAX];
	X509 *x;
	int i, r;

	if ((r = eca_x509_key_match(leaf, key, err)) == 0)
		return 0;
	for (i = 0; i < sk_X509_num(chain); i++) {
		x = sk_X509_value(chain, i);
		if (X509_get0_pubkey(x) == NULL ||
		    EVP_PKEY_eq(X509_get0_pubkey(x), key) != 1)
			continue;
		r = eca_err_set(err, ECA_ERR_BAD_CERTIFICATE,
		    "%s lists %s first, but the private key belongs to "
		    "certificate %d, %s: the chain is in the wrong order; "
		    "list this host's certificate first, then its "
		    "intermediates",
		    path, eca_x509_subject_str(leaf, first, sizeof(first)),
		    i + 2, eca_x509_subject_str(x, subj, sizeof(subj)));
		break;
	}
	ERR_clear_error();
	return r;
}

int
eca_x509_trust_set_partial(X509_STORE *trust, int on, struct eca_err *err)
{
	int r = 0;

	if (trust == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL, "no trust store");
	if ((on &&
		X509_STORE_set_flags(trust, X509_V_FLAG_PARTIAL_CHAIN) != 1) ||
	    (!on &&
		X509_VERIFY_PARAM_clear_flags(X509_STORE_get0_param(trust),
		    X509_V_FLAG_PARTIAL_CHAIN) != 1))
		r = eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot set ECA_TRUST_PARTIAL_CHAIN on the trust store");
	ERR_clear_error();
	return r;
}

/*
 * An ECA_CERT_PATH without intermediates is completed by TLS from the
 * trust store (OpenSSL's automatic chain), and TLS refuses to send a
 * chain with a weak CA key ("ca key too small") in the middle of the
 * handshake, where the failure reads as an unreachable peer.  Judge the
 * chain TLS would send now, by the policy's key rule, so this host hears
 * WEAK_KEY and which certificate, as its peers would say.
 */
static int
auto_chain_keys(OSSL_LIB_CTX *libctx, const struct eca_cred *cred,
    struct eca_err *err)
{
	STACK_OF(X509) *sent = NULL;
	int i, r = 0;

	if (sk_X509_num(cred->chain) > 0)
		return 0;
	/* Built as far as it goes; a chain that does not verify is judged
	 * by the peers, with its own reason. */
	if ((sent = X509_build_chain(cred->leaf, NULL, cred->trust, 1, libctx,
		 NULL)) == NULL)
		goto out;
	for (i = 1; i < sk_X509_num(sent); i++)
		if ((r = eca_x509_check_key_strength(sk_X509_value(sent, i),
			 err)) != 0)
			break;
out:
	sk_X509_pop_free(sent, X509_free);
	ERR_clear_error();
	return r;
}

int
eca_cred_load(OSSL_LIB_CTX *libctx, const struct eca_config *cfg,
    struct eca_cred **out, struct eca_err *err)
{
	struct eca_cred *cred = NULL;
	int r = ECA_ERR_INTERNAL;

	*out = NULL;
	if (cfg == NULL) {
		r = eca_err_set(err, ECA_ERR_INTERNAL, "no configuration");
		goto out;
	}
	if (cfg->cert_path == NULL || cfg->key_path == NULL ||
	    cfg->trust_store_path == NULL) {
		r = eca_err_set(err, ECA_ERR_CONFIG,
		    "%s is not set: configure this host's certificate "
		    "(ECA_CERT_PATH, ECA_PRIVATE_KEY_PATH, "
		    "ECA_TRUST_STORE_PATH)",
		    cfg->cert_path == NULL    ? "ECA_CERT_PATH" :
			cfg->key_path == NULL ? "ECA_PRIVATE_KEY_PATH" :
						"ECA_TRUST_STORE_PATH");
		goto out;
	}
	if ((cred = calloc(1, sizeof(*cred))) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = eca_x509_load_chain(libctx, cfg->cert_path, &cred->leaf,
		 &cred->chain, err)) != 0)
		goto out;
	if ((r = eca_x509_load_key(libctx, cfg->key_path,
		 cfg->key_passphrase_file, &cred->key, err)) != 0)
		goto out;
	if ((r = eca_x509_key_match_chain(cfg->cert_path, cred->leaf,
		 cred->chain, cred->key, err)) != 0)
		goto out;
	if ((r = eca_x509_load_trust(libctx, cfg->trust_store_path,
		 &cred->trust, err)) != 0 ||
	    (r = eca_x509_trust_set_partial(cred->trust,
		 cfg->trust_partial_chain, err)) != 0 ||
	    (r = auto_chain_keys(libctx, cred, err)) != 0)
		goto out;
	*out = cred;
	cred = NULL;
	r = 0;
out:
	eca_cred_free(cred);
	return r;
}
