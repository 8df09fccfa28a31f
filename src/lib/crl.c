/*
 * crl.c - the CRL cache and the revocation verdict.
 *
 * The verdict is OpenSSL's own CRL check (X509_V_FLAG_CRL_CHECK, or
 * _CRL_CHECK_ALL for CHAIN) over the cached CRLs handed in with
 * X509_STORE_CTX_set0_crls(); a verify callback turns the few errors
 * that policy may excuse (an expired CRL in its grace period, no CRL with
 * fail-open, the root which nobody revokes) into warnings.
 *
 * Locking: c->lock guards the entries and the timers.  Parsing, signature
 * checks and downloads run unlocked; only the final comparison and the
 * swap of an entry's CRL (and the file rename) happen under the lock.
 */
#include "crl.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "vcache.h"
#include "x509.h"

#define CRL_REMEDY "publish the CA's current CRL in ECA_CRL_PATH or at " \
	"the certificate's CRL distribution point, then run `eca crl download`"

struct ent {
	unsigned long hash;
	X509_CRL *crl;		/* NULL: none cached */
	time_t attempt;		/* last fetch a check triggered */
	time_t fetched;		/* when the CRL was stored (file mtime) */
	char source[512];	/* where the CRL came from */
	/* The cache file as last loaded or looked at (reload_changed). */
	ino_t seen_ino;
	struct timespec seen_mtim;
};

/*
 * A revocation verdict that held: the chain (vcache.h's key: the exact
 * certificates) at one level against one trust store (held, so that its
 * address is not reused while the verdict is kept), with the CRLs the
 * cache held then (gen), inside the time all of them and the chain were
 * valid.  Only clean verdicts (no grace, no fail-open) are kept, so a
 * warning is never lost.
 */
#define RESULT_SLOTS 256

struct result {
	uint8_t key[ECA_VCACHE_KEY_LEN];
	enum eca_crl_check level;
	X509_STORE *trust;	/* up-ref'd */
	uint64_t gen;
	int64_t from, until;
	STACK_OF(X509) *full;	/* the chain as built, for fetch_due */
	int used;
};

struct eca_crl_cache {
	OSSL_LIB_CTX *libctx;
	pthread_mutex_t lock;
	uint64_t gen;		/* grows at every change of a CRL */
	struct result results[RESULT_SLOTS];
	uint64_t hits, misses;
	char *dir;
	char *crl_path;
	int path_sync_hours;
	int refresh_hours;
	int grace_hours;
	int fail_open;
	int no_fetch;
	time_t last_sync;
	struct ent *ents;
	size_t n;
};

static void
name_str(const X509_NAME *name, char *buf, size_t size)
{
	BIO *bio;
	long n;

	buf[0] = '\0';
	if (name == NULL || (bio = BIO_new(BIO_s_mem())) == NULL)
		return;
	if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 &
	    ~ASN1_STRFLGS_ESC_MSB) >= 0 && (n = BIO_read(bio, buf,
	    (int)size - 1)) > 0)
		buf[n] = '\0';
	BIO_free(bio);
	ERR_clear_error();
}

static void
fmt_time(const ASN1_TIME *t, char *buf, size_t size)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1 ||
	    strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		eca_sfmt(buf, size, "an unknown date");
}

static unsigned long
name_hash(struct eca_crl_cache *c, const X509_NAME *name)
{
	unsigned long h;
	int ok = 0;

	h = X509_NAME_hash_ex(name, c->libctx, NULL, &ok);
	ERR_clear_error();
	return ok ? h : 0;
}

/* nextUpdate, or 0 if the CRL has none (then it never expires). */
static time_t
crl_next(X509_CRL *crl)
{
	int64_t t = 0;

	if (X509_CRL_get0_nextUpdate(crl) == NULL ||
	    eca_x509_time(X509_CRL_get0_nextUpdate(crl), &t) != 0)
		return 0;
	return (time_t)t;
}

static enum eca_crl_state
crl_state(const struct eca_crl_cache *c, X509_CRL *crl, time_t now)
{
	time_t next = crl_next(crl);

	if (next == 0 || now <= next)
		return ECA_CRL_OK;
	if (now - next <= (time_t)c->grace_hours * 3600)
		return ECA_CRL_IN_GRACE;
	return ECA_CRL_EXPIRED;
}

const char *
eca_crl_state_name(enum eca_crl_state s)
{
	switch (s) {
	case ECA_CRL_OK:
		return "OK";
	case ECA_CRL_IN_GRACE:
		return "IN_GRACE";
	case ECA_CRL_EXPIRED:
		return "EXPIRED";
	}
	return "UNKNOWN";
}

/*
 * >0 if a is newer than b, 0 if the same, <0 if older: the CRL number
 * when both have one, else lastUpdate.
 */
static int
crl_cmp(X509_CRL *a, X509_CRL *b)
{
	ASN1_INTEGER *na, *nb;
	int r;

	na = X509_CRL_get_ext_d2i(a, NID_crl_number, NULL, NULL);
	nb = X509_CRL_get_ext_d2i(b, NID_crl_number, NULL, NULL);
	if (na != NULL && nb != NULL)
		r = ASN1_INTEGER_cmp(na, nb);
	else
		r = ASN1_TIME_compare(X509_CRL_get0_lastUpdate(a),
		    X509_CRL_get0_lastUpdate(b));
	ASN1_INTEGER_free(na);
	ASN1_INTEGER_free(nb);
	ERR_clear_error();
	return r;
}

/*
 * Parsing
 */

static int
parse_crl(OSSL_LIB_CTX *libctx, const unsigned char *buf, size_t len,
    X509_CRL **out, struct eca_err *err)
{
	static const char begin[] = "-----BEGIN X509 CRL-----";
	const unsigned char *p = buf;
	X509_CRL *crl = NULL;
	BIO *bio = NULL;
	int r = ECA_ERR_PARSE;

	*out = NULL;
	if (buf == NULL || len == 0 || len > ECA_CRL_FILE_MAX) {
		r = eca_err_set(err, ECA_ERR_PARSE, "the CRL is empty or "
		    "larger than %d bytes", ECA_CRL_FILE_MAX);
		goto out;
	}
	if ((crl = X509_CRL_new_ex(libctx, NULL)) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (memmem(buf, len, begin, sizeof(begin) - 1) != NULL) {
		if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL ||
		    PEM_read_bio_X509_CRL(bio, &crl, NULL, NULL) == NULL) {
			r = eca_err_set(err, ECA_ERR_PARSE,
			    "not a readable PEM CRL");
			eca_err_add_openssl(err);
			goto out;
		}
	} else if (d2i_X509_CRL(&crl, &p, (long)len) == NULL ||
	    p != buf + len) {
		r = eca_err_set(err, ECA_ERR_PARSE, "not a PEM or DER CRL "
		    "(or DER with trailing bytes)");
		eca_err_add_openssl(err);
		goto out;
	}
	*out = crl;
	crl = NULL;
	r = 0;
 out:
	X509_CRL_free(crl);
	BIO_free(bio);
	ERR_clear_error();
	return r;
}

/* A CA key that may sign CRLs: no keyUsage, or one with cRLSign. */
static int
may_sign_crl(X509 *x)
{
	uint32_t flags = X509_get_extension_flags(x);

	return (flags & EXFLAG_KUSAGE) == 0 ||
	    (X509_get_key_usage(x) & KU_CRL_SIGN) != 0;
}

/* Does x chain to trust (with untrusted as intermediates)? */
static int
chains_to_trust(struct eca_crl_cache *c, X509_STORE *trust, X509 *x,
    STACK_OF(X509) *untrusted)
{
	X509_STORE_CTX *ctx;
	int ok = 0;

	if ((ctx = X509_STORE_CTX_new_ex(c->libctx, NULL)) != NULL &&
	    X509_STORE_CTX_init(ctx, trust, x, untrusted) == 1) {
		X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx),
		    X509_V_FLAG_X509_STRICT);
		ok = X509_verify_cert(ctx) == 1;
	}
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

/*
 * Is crl signed by a CA we trust?  Candidates are the trust store's
 * certificates with the CRL's issuer name, then those of untrusted that
 * themselves chain to the trust store (a peer cannot vouch for a CRL with
 * an intermediate of its own making).
 */
static int
crl_signer_ok(struct eca_crl_cache *c, X509_STORE *trust,
    STACK_OF(X509) *untrusted, X509_CRL *crl)
{
	X509_STORE_CTX *ctx = NULL;
	STACK_OF(X509) *cands = NULL;
	const X509_NAME *iss = X509_CRL_get_issuer(crl);
	X509 *x;
	int i, ok = 0;

	if (trust != NULL &&
	    (ctx = X509_STORE_CTX_new_ex(c->libctx, NULL)) != NULL &&
	    X509_STORE_CTX_init(ctx, trust, NULL, NULL) == 1)
		cands = X509_STORE_CTX_get1_certs(ctx, (X509_NAME *)iss);
	for (i = 0; !ok && i < sk_X509_num(cands); i++) {
		x = sk_X509_value(cands, i);
		ok = may_sign_crl(x) &&
		    X509_CRL_verify(crl, X509_get0_pubkey(x)) == 1;
	}
	for (i = 0; !ok && trust != NULL && i < sk_X509_num(untrusted); i++) {
		x = sk_X509_value(untrusted, i);
		if (X509_NAME_cmp(X509_get_subject_name(x), iss) != 0 ||
		    !may_sign_crl(x) ||
		    X509_CRL_verify(crl, X509_get0_pubkey(x)) != 1)
			continue;
		ok = chains_to_trust(c, trust, x, untrusted);
	}
	sk_X509_pop_free(cands, X509_free);
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

/*
 * Entries (all with c->lock held)
 */

static struct ent *
ent_find(struct eca_crl_cache *c, unsigned long hash)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (c->ents[i].hash == hash)
			return &c->ents[i];
	return NULL;
}

static struct ent *
ent_get(struct eca_crl_cache *c, unsigned long hash)
{
	struct ent *e, *n;

	if ((e = ent_find(c, hash)) != NULL)
		return e;
	if (c->n >= ECA_CRL_MAX_CAS)
		return NULL;
	if ((n = reallocarray(c->ents, c->n + 1, sizeof(*n))) == NULL)
		return NULL;
	c->ents = n;
	e = &c->ents[c->n++];
	memset(e, 0, sizeof(*e));
	e->hash = hash;
	return e;
}

static void
ent_path(const struct eca_crl_cache *c, unsigned long hash, char *buf,
    size_t size)
{
	eca_sfmt(buf, size, "%s/%08lx.crl", c->dir, hash);
}

/* Write crl as PEM to path, atomically (temporary file, then rename). */
static int
write_crl(const char *path, X509_CRL *crl, struct eca_err *err)
{
	char tmp[PATH_MAX];
	BIO *bio = NULL;
	char *data;
	long len;
	size_t off = 0;
	ssize_t w;
	int fd = -1, r = ECA_ERR_IO;

	eca_sfmt(tmp, sizeof(tmp), "%s.tmp", path);
	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_X509_CRL(bio, crl) != 1 ||
	    (len = BIO_get_mem_data(bio, &data)) <= 0) {
		r = eca_err_set(err, ECA_ERR_NOMEM, "cannot encode the CRL");
		eca_err_add_openssl(err);
		goto out;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1) {
		r = eca_err_set(err, ECA_ERR_IO, "cannot create %s: %s", tmp,
		    strerror(errno));
		goto out;
	}
	while (off < (size_t)len) {
		if ((w = write(fd, data + off, (size_t)len - off)) == -1) {
			if (errno == EINTR)
				continue;
			r = eca_err_set(err, errno == ENOSPC ?
			    ECA_ERR_DISK_FULL : ECA_ERR_IO, "cannot write "
			    "%s: %s", tmp, strerror(errno));
			goto out;
		}
		off += (size_t)w;
	}
	if (fsync(fd) == -1 || close(fd) == -1) {
		fd = -1;
		r = eca_err_set(err, ECA_ERR_IO, "cannot write %s: %s", tmp,
		    strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) == -1) {
		r = eca_err_set(err, ECA_ERR_IO, "cannot rename %s to %s: %s",
		    tmp, path, strerror(errno));
		goto out;
	}
	r = 0;
 out:
	if (fd != -1)
		close(fd);
	if (r != 0)
		(void)unlink(tmp);
	BIO_free(bio);
	ERR_clear_error();
	return r;
}

/*
 * Put crl (ours on success) into the entry of its issuer if it is newer;
 * persist it when persist is set.  Takes the lock.
 */
static int
store_crl(struct eca_crl_cache *c, X509_CRL **crlp, const char *source,
    time_t fetched, int persist, int *stored, struct eca_err *err)
{
	char path[PATH_MAX], iss[ECA_DN_MAX];
	X509_CRL *crl = *crlp;
	unsigned long h;
	struct ent *e;
	int r = 0;

	*stored = 0;
	if ((h = name_hash(c, X509_CRL_get_issuer(crl))) == 0)
		return eca_err_set(err, ECA_ERR_PARSE,
		    "cannot hash the CRL's issuer name");
	pthread_mutex_lock(&c->lock);
	if ((e = ent_get(c, h)) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM, "the CRL cache is full "
		    "(%d CAs) or out of memory", ECA_CRL_MAX_CAS);
		goto out;
	}
	if (e->crl != NULL) {
		if (X509_NAME_cmp(X509_CRL_get_issuer(e->crl),
		    X509_CRL_get_issuer(crl)) != 0) {
			name_str(X509_CRL_get_issuer(crl), iss, sizeof(iss));
			r = eca_err_set(err, ECA_ERR_CONFLICT, "the CRL of %s "
			    "has the same name hash %08lx as another CA's "
			    "cached CRL; remove that one with `eca crl cleanup "
			    "--issuer-hash %08lx` first", iss, h, h);
			goto out;
		}
		if (crl_cmp(crl, e->crl) <= 0) {
			/* Same or older: the source is still current. */
			if (crl_cmp(crl, e->crl) == 0)
				e->fetched = fetched;
			goto out;
		}
	}
	if (persist) {
		ent_path(c, h, path, sizeof(path));
		if ((r = write_crl(path, crl, err)) != 0)
			goto out;
	}
	X509_CRL_free(e->crl);
	e->crl = crl;
	c->gen++;
	*crlp = NULL;
	e->fetched = fetched;
	if (source != NULL)
		eca_sfmt(e->source, sizeof(e->source), "%s", source);
	*stored = 1;
 out:
	pthread_mutex_unlock(&c->lock);
	return r;
}

/* Parse, check the signature, store.  source names it in the cache. */
static int
crl_add_from(struct eca_crl_cache *c, X509_STORE *trust,
    STACK_OF(X509) *untrusted, const unsigned char *buf, size_t len,
    const char *source, int *stored, struct eca_err *err)
{
	X509_CRL *crl = NULL;
	char iss[ECA_DN_MAX];
	int r, st = 0;

	if (stored != NULL)
		*stored = 0;
	if (c == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL, "no CRL cache");
	if ((r = parse_crl(c->libctx, buf, len, &crl, err)) != 0)
		goto out;
	if (!crl_signer_ok(c, trust, untrusted, crl)) {
		name_str(X509_CRL_get_issuer(crl), iss, sizeof(iss));
		r = eca_err_set(err, ECA_ERR_UNTRUSTED, "the CRL of %s is not "
		    "signed by a CA of the trust store or of a chain to it: "
		    "install the issuing CA in ECA_TRUST_STORE_PATH, or the "
		    "CRL is forged", iss);
		goto out;
	}
	if ((r = store_crl(c, &crl, source, time(NULL), 1, &st, err)) != 0)
		goto out;
	if (stored != NULL)
		*stored = st;
 out:
	X509_CRL_free(crl);
	ERR_clear_error();
	return r;
}

int
eca_crl_cache_add(struct eca_crl_cache *c, X509_STORE *trust,
    STACK_OF(X509) *untrusted, const unsigned char *buf, size_t len,
    int *stored, struct eca_err *err)
{
	return crl_add_from(c, trust, untrusted, buf, len, NULL, stored, err);
}

/*
 * Files
 */

/* Read a regular file of at most ECA_CRL_FILE_MAX bytes. */
static int
read_small(const char *path, unsigned char **out, size_t *outlen,
    time_t *mtime, struct eca_err *err)
{
	struct stat st;
	unsigned char *buf = NULL;
	size_t off = 0;
	ssize_t n;
	int fd, r = ECA_ERR_UNREADABLE;

	*out = NULL;
	*outlen = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		return eca_err_set(err, ECA_ERR_UNREADABLE, "cannot open %s: "
		    "%s", path, strerror(errno));
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > ECA_CRL_FILE_MAX) {
		r = eca_err_set(err, ECA_ERR_UNREADABLE, "%s is not a regular "
		    "file of at most %d bytes", path, ECA_CRL_FILE_MAX);
		goto out;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		n = read(fd, buf + off, (size_t)st.st_size + 1 - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			r = eca_err_set(err, ECA_ERR_UNREADABLE, "cannot read "
			    "%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		off += (size_t)n;
		if (off > (size_t)st.st_size) {
			r = eca_err_set(err, ECA_ERR_UNREADABLE, "%s changed "
			    "while it was read", path);
			goto out;
		}
	}
	if (mtime != NULL)
		*mtime = st.st_mtime;
	*out = buf;
	*outlen = off;
	buf = NULL;
	r = 0;
 out:
	free(buf);
	close(fd);
	return r;
}

/* Is name "HHHHHHHH.crl"?  Sets *hash. */
static int
cache_name(const char *name, unsigned long *hash)
{
	char *end;
	size_t i;

	for (i = 0; i < 8; i++)
		if (!isxdigit((unsigned char)name[i]))
			return 0;
	if (strcmp(name + 8, ".crl") != 0)
		return 0;
	errno = 0;
	*hash = strtoul(name, &end, 16);
	return errno == 0 && end == name + 8;
}

/*
 * Load the cache's own file for hash (written by this or another process,
 * e.g. `eca crl download`).  Its signature was checked when it entered the
 * cache, and the verdict checks it again; here it is only parsed.
 */
static void
load_cached(struct eca_crl_cache *c, unsigned long hash)
{
	char path[PATH_MAX];
	unsigned char *buf = NULL;
	X509_CRL *crl = NULL;
	size_t len;
	time_t mtime = 0;
	int stored;

	ent_path(c, hash, path, sizeof(path));
	if (read_small(path, &buf, &len, &mtime, NULL) != 0)
		return;
	if (parse_crl(c->libctx, buf, len, &crl, NULL) == 0 &&
	    name_hash(c, X509_CRL_get_issuer(crl)) == hash)
		(void)store_crl(c, &crl, NULL, mtime, 0, &stored, NULL);
	X509_CRL_free(crl);
	free(buf);
}

/*
 * Load the cache's file for hash if it is newer than what this process
 * holds (a missing entry, or a file written after ours was stored): a
 * CRL another process stored is used at once.  One stat when unchanged.
 * Returns 1 when it loaded the file.
 */
static int
reload_changed(struct eca_crl_cache *c, unsigned long hash)
{
	char path[PATH_MAX];
	struct stat st;
	struct ent *ent;
	int load;

	ent_path(c, hash, path, sizeof(path));
	load = stat(path, &st) == 0;
	/*
	 * The entry is made either way: a check fetches for it when due.
	 * The file is written by rename, so a new one has a new inode; the
	 * modification time covers the rest.  Our own writes are looked at
	 * once more, found not newer and dropped.
	 */
	pthread_mutex_lock(&c->lock);
	ent = ent_get(c, hash);
	load = load && ent != NULL && (ent->crl == NULL ||
	    st.st_ino != ent->seen_ino ||
	    st.st_mtim.tv_sec != ent->seen_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != ent->seen_mtim.tv_nsec);
	if (load) {
		ent->seen_ino = st.st_ino;
		ent->seen_mtim = st.st_mtim;
	}
	pthread_mutex_unlock(&c->lock);
	if (load)
		load_cached(c, hash);
	return load;
}

static void
load_dir(struct eca_crl_cache *c)
{
	struct dirent *de;
	unsigned long h;
	DIR *d;

	if ((d = opendir(c->dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (cache_name(de->d_name, &h))
			load_cached(c, h);
	closedir(d);
}

void
eca_crl_cache_free(struct eca_crl_cache *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++)
		X509_CRL_free(c->ents[i].crl);
	for (i = 0; i < RESULT_SLOTS; i++) {
		sk_X509_pop_free(c->results[i].full, X509_free);
		X509_STORE_free(c->results[i].trust);
	}
	free(c->ents);
	free(c->dir);
	free(c->crl_path);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

int
eca_crl_cache_new(OSSL_LIB_CTX *libctx, const struct eca_crl_opts *opts,
    struct eca_crl_cache **out, struct eca_err *err)
{
	struct eca_crl_cache *c = NULL;
	struct stat st;
	int r = ECA_ERR_INTERNAL;

	*out = NULL;
	if (opts == NULL || opts->dir == NULL || opts->dir[0] == '\0')
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "no CRL cache directory");
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
	if (pthread_mutex_init(&c->lock, NULL) != 0) {
		free(c);
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot create the CRL cache lock");
	}
	c->libctx = libctx;
	c->path_sync_hours = opts->path_sync_hours > 0 ?
	    opts->path_sync_hours : 1;
	c->refresh_hours = opts->refresh_hours > 0 ? opts->refresh_hours : 24;
	c->grace_hours = opts->grace_hours >= 0 ? opts->grace_hours : 0;
	c->fail_open = opts->fail_open;
	c->no_fetch = opts->no_fetch;
	if ((c->dir = strdup(opts->dir)) == NULL ||
	    (opts->crl_path != NULL &&
	    (c->crl_path = strdup(opts->crl_path)) == NULL)) {
		r = eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (mkdir(c->dir, 0700) == -1 && errno != EEXIST) {
		r = eca_err_set(err, ECA_ERR_IO, "cannot create the CRL cache "
		    "directory %s: %s (check STATE_DIR and its permissions)",
		    c->dir, strerror(errno));
		goto out;
	}
	if (stat(c->dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		r = eca_err_set(err, ECA_ERR_IO, "the CRL cache %s is not a "
		    "directory", c->dir);
		goto out;
	}
	load_dir(c);
	*out = c;
	c = NULL;
	r = 0;
 out:
	eca_crl_cache_free(c);
	return r;
}

int
eca_crl_cache_open(OSSL_LIB_CTX *libctx, const struct eca_config *cfg,
    struct eca_crl_cache **out, struct eca_err *err)
{
	struct eca_crl_opts o;
	char dir[PATH_MAX];

	*out = NULL;
	if (cfg == NULL || cfg->state_dir == NULL)
		return eca_err_set(err, ECA_ERR_CONFIG, "STATE_DIR is not set");
	if (mkdir(cfg->state_dir, 0700) == -1 && errno != EEXIST)
		return eca_err_set(err, ECA_ERR_IO, "cannot create STATE_DIR "
		    "%s: %s", cfg->state_dir, strerror(errno));
	eca_sfmt(dir, sizeof(dir), "%s/crl", cfg->state_dir);
	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.crl_path = cfg->crl_path;
	o.path_sync_hours = cfg->crl_path_sync_hours;
	o.refresh_hours = cfg->crl_refresh_hours;
	o.grace_hours = cfg->crl_grace_hours;
	o.fail_open = cfg->crl_fail_open;
	return eca_crl_cache_new(libctx, &o, out, err);
}

/*
 * Sources: ECA_CRL_PATH and distribution points
 */

int
eca_crl_cache_sync_path(struct eca_crl_cache *c, X509_STORE *trust,
    STACK_OF(X509) *untrusted, size_t *added, size_t *refused,
    struct eca_err *err)
{
	char path[PATH_MAX], bad[ECA_ERR_MSG_MAX / 2];
	struct eca_err e;
	struct dirent *de;
	unsigned char *buf;
	size_t len, nadd = 0, nbad = 0;
	DIR *d = NULL;
	int r, stored;

	bad[0] = '\0';
	if (added != NULL)
		*added = 0;
	if (refused != NULL)
		*refused = 0;
	if (c == NULL || c->crl_path == NULL)
		return eca_err_set(err, ECA_ERR_CONFIG, "ECA_CRL_PATH is not "
		    "set: CRLs come from the distribution points");
	pthread_mutex_lock(&c->lock);
	c->last_sync = time(NULL);
	pthread_mutex_unlock(&c->lock);
	if ((d = opendir(c->crl_path)) == NULL)
		return eca_err_set(err, ECA_ERR_UNREADABLE, "cannot read "
		    "ECA_CRL_PATH %s: %s (create it and put the CAs' CRLs in "
		    "it, or unset it to use distribution points)",
		    c->crl_path, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		eca_sfmt(path, sizeof(path), "%s/%s", c->crl_path, de->d_name);
		eca_err_clear(&e);
		if ((r = read_small(path, &buf, &len, NULL, &e)) == 0) {
			r = crl_add_from(c, trust, untrusted, buf, len, path,
			    &stored, &e);
			free(buf);
		}
		if (r != 0) {
			nbad++;
			log_debug("CRL %s refused: %s", path, e.msg);
			if (bad[0] == '\0')
				eca_sfmt(bad, sizeof(bad), "%s", e.msg);
		} else if (stored)
			nadd++;
	}
	closedir(d);
	if (added != NULL)
		*added = nadd;
	if (refused != NULL)
		*refused = nbad;
	if (nbad > 0)
		(void)eca_err_set(err, 0, "%zu file(s) in %s refused, e.g.: %s",
		    nbad, c->crl_path, bad);
	return 0;
}

struct dl {
	unsigned char *buf;
	size_t len;
	int overflow;
};

static size_t
dl_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct dl *d = arg;
	unsigned char *nb;
	size_t n;

	if (nmemb != 0 && size > SIZE_MAX / nmemb)
		return 0;
	n = size * nmemb;
	if (n > ECA_CRL_FILE_MAX || d->len > ECA_CRL_FILE_MAX - n) {
		d->overflow = 1;
		return 0;
	}
	if ((nb = realloc(d->buf, d->len + n)) == NULL)
		return 0;
	d->buf = nb;
	memcpy(d->buf + d->len, ptr, n);
	d->len += n;
	return n;
}

/* GET url (http or https) into *out, at most ECA_CRL_FILE_MAX bytes. */
static int
fetch_url(const char *url, long timeout_ms, unsigned char **out,
    size_t *outlen, struct eca_err *err)
{
	char errbuf[CURL_ERROR_SIZE];
	struct dl d;
	CURL *curl = NULL;
	CURLcode rc;
	long status = 0;
	int r = ECA_ERR_UNREACHABLE;

	*out = NULL;
	*outlen = 0;
	memset(&d, 0, sizeof(d));
	errbuf[0] = '\0';
	if ((curl = curl_easy_init()) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM, "cannot start libcurl");
	rc = curl_easy_setopt(curl, CURLOPT_URL, url);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR,
		    "http,https");
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 3L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE,
		    (curl_off_t)ECA_CRL_FILE_MAX);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, dl_write);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(curl, CURLOPT_WRITEDATA, &d);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(curl, CURLOPT_USERAGENT, "eca");
	if (rc != CURLE_OK) {
		r = eca_err_set(err, ECA_ERR_INTERNAL, "cannot set up the "
		    "download of %s: %s", url, curl_easy_strerror(rc));
		goto out;
	}
	if ((rc = curl_easy_perform(curl)) != CURLE_OK) {
		r = eca_err_set(err, d.overflow || rc == CURLE_FILESIZE_EXCEEDED ?
		    ECA_ERR_TOO_LARGE : rc == CURLE_OPERATION_TIMEDOUT ?
		    ECA_ERR_TIMEOUT : ECA_ERR_UNREACHABLE, "cannot download "
		    "the CRL from %s: %s", url, d.overflow ? "larger than "
		    "the CRL size limit" : errbuf[0] != '\0' ? errbuf :
		    curl_easy_strerror(rc));
		goto out;
	}
	(void)curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		r = eca_err_set(err, ECA_ERR_UNREACHABLE, "the CRL "
		    "distribution point %s answered HTTP %ld", url, status);
		goto out;
	}
	*out = d.buf;
	*outlen = d.len;
	d.buf = NULL;
	r = 0;
 out:
	free(d.buf);
	curl_easy_cleanup(curl);
	return r;
}

/* The http(s) URIs of x's CRL distribution points. */
static size_t
cdp_urls(X509 *x, char urls[][512], size_t max)
{
	STACK_OF(DIST_POINT) *dps;
	DIST_POINT *dp;
	GENERAL_NAME *gn;
	const char *s;
	size_t n = 0;
	int i, j, len;

	dps = X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL);
	for (i = 0; i < sk_DIST_POINT_num(dps) && n < max; i++) {
		dp = sk_DIST_POINT_value(dps, i);
		if (dp->distpoint == NULL || dp->distpoint->type != 0)
			continue;
		for (j = 0; j < sk_GENERAL_NAME_num(dp->distpoint->name.fullname)
		    && n < max; j++) {
			gn = sk_GENERAL_NAME_value(dp->distpoint->name.fullname,
			    j);
			if (gn->type != GEN_URI)
				continue;
			s = (const char *)ASN1_STRING_get0_data(
			    gn->d.uniformResourceIdentifier);
			len = ASN1_STRING_length(gn->d.uniformResourceIdentifier);
			if (len <= 0 || len >= 512 ||
			    memchr(s, '\0', (size_t)len) != NULL ||
			    (strncasecmp(s, "http://", 7) != 0 &&
			    strncasecmp(s, "https://", 8) != 0))
				continue;
			memcpy(urls[n], s, (size_t)len);
			urls[n][len] = '\0';
			n++;
		}
	}
	sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
	ERR_clear_error();
	return n;
}

/*
 * Fetch the CRL x's distribution points name (the CRL of x's issuer).
 * 0 if one was fetched and accepted (stored or already current);
 * ECA_ERR_NOT_FOUND if x names none.
 */
static int
fetch_cdp(struct eca_crl_cache *c, X509_STORE *trust,
    STACK_OF(X509) *untrusted, X509 *x, long timeout_ms, int *stored,
    struct eca_err *err)
{
	char urls[ECA_CRL_URLS_MAX][512];
	unsigned char *buf = NULL;
	size_t i, n, len;
	int r = ECA_ERR_NOT_FOUND;

	*stored = 0;
	if ((n = cdp_urls(x, urls, ECA_CRL_URLS_MAX)) == 0)
		return eca_err_set(err, ECA_ERR_NOT_FOUND, "the certificate "
		    "names no http(s) CRL distribution point");
	for (i = 0; i < n; i++) {
		if ((r = fetch_url(urls[i], timeout_ms, &buf, &len,
		    err)) != 0) {
			log_debug("%s", err != NULL ? err->msg : urls[i]);
			continue;
		}
		r = crl_add_from(c, trust, untrusted, buf, len, urls[i],
		    stored, err);
		free(buf);
		buf = NULL;
		if (r == 0)
			break;
	}
	return r;
}

/* Fetch for x's issuer from whichever source is configured. */
static int
fetch_for(struct eca_crl_cache *c, X509_STORE *trust,
    STACK_OF(X509) *untrusted, X509 *x, long timeout_ms, size_t *added,
    struct eca_err *err)
{
	size_t n = 0;
	int r, stored = 0;

	if (c->crl_path != NULL) {
		r = eca_crl_cache_sync_path(c, trust, untrusted, &n, NULL, err);
		if (added != NULL)
			*added += n;
		return r;
	}
	r = fetch_cdp(c, trust, untrusted, x, timeout_ms, &stored, err);
	if (added != NULL && stored)
		*added += 1;
	return r;
}

int
eca_crl_cache_maintain(struct eca_crl_cache *c, X509_STORE *trust,
    STACK_OF(X509) *untrusted, time_t now, size_t *added,
    struct eca_err *err)
{
	char url[512], dir[PATH_MAX];
	unsigned char *buf = NULL;
	struct eca_err e;
	struct dirent *de;
	unsigned long h;
	size_t i, n, len, nadd = 0;
	DIR *d;
	int r = 0, rr, sync = 0, stored;

	if (added != NULL)
		*added = 0;
	if (c == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL, "no CRL cache");
	if (now == 0)
		now = time(NULL);
	/* What other processes stored (eca crl download). */
	eca_sfmt(dir, sizeof(dir), "%s", c->dir);
	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (cache_name(de->d_name, &h))
				(void)reload_changed(c, h);
		closedir(d);
	}
	if (c->no_fetch)
		goto out;
	pthread_mutex_lock(&c->lock);
	if (c->crl_path != NULL &&
	    now - c->last_sync >= (time_t)c->path_sync_hours * 3600)
		sync = 1;
	pthread_mutex_unlock(&c->lock);
	if (sync) {
		r = eca_crl_cache_sync_path(c, trust, untrusted, &n, NULL,
		    err);
		nadd += n;
	}
	if (c->crl_path != NULL)
		goto out;
	/*
	 * Distribution points: each cached CRL that is due (expired, or
	 * older than ECA_CRL_REFRESH_HOURS) again from where it came.
	 */
	for (i = 0;; i++) {
		url[0] = '\0';
		pthread_mutex_lock(&c->lock);
		if (i >= c->n) {
			pthread_mutex_unlock(&c->lock);
			break;
		}
		if (c->ents[i].crl != NULL &&
		    (strncasecmp(c->ents[i].source, "http://", 7) == 0 ||
		    strncasecmp(c->ents[i].source, "https://", 8) == 0) &&
		    (crl_state(c, c->ents[i].crl, now) != ECA_CRL_OK ||
		    now - c->ents[i].fetched >=
		    (time_t)c->refresh_hours * 3600) &&
		    now - c->ents[i].attempt >= ECA_CRL_RETRY_SEC) {
			c->ents[i].attempt = now;
			eca_sfmt(url, sizeof(url), "%s", c->ents[i].source);
		}
		pthread_mutex_unlock(&c->lock);
		if (url[0] == '\0')
			continue;
		eca_err_clear(&e);
		rr = fetch_url(url, ECA_CRL_FETCH_TIMEOUT_MS, &buf, &len, &e);
		if (rr == 0) {
			rr = crl_add_from(c, trust, untrusted, buf, len, url,
			    &stored, &e);
			free(buf);
			buf = NULL;
			if (rr == 0 && stored)
				nadd++;
		}
		if (rr != 0) {
			r = rr;
			if (err != NULL)
				*err = e;
		}
	}
 out:
	if (added != NULL)
		*added = nadd;
	return r;
}

int
eca_crl_cache_refresh(struct eca_crl_cache *c, X509_STORE *trust,
    X509 *leaf, STACK_OF(X509) *chain, size_t *added, struct eca_err *err)
{
	X509_STORE_CTX *ctx = NULL;
	STACK_OF(X509) *all = NULL, *cas = NULL;
	struct eca_err e;
	size_t n = 0;
	int i, r = 0, ok = 0, tried = 0;

	if (added != NULL)
		*added = 0;
	if (c == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL, "no CRL cache");
	if (c->crl_path != NULL) {
		r = eca_crl_cache_sync_path(c, trust, chain, &n, NULL, err);
		if (added != NULL)
			*added = n;
		return r;
	}
	if ((all = sk_X509_new_null()) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
	if (leaf != NULL)
		(void)sk_X509_push(all, leaf);
	for (i = 0; i < sk_X509_num(chain); i++)
		(void)sk_X509_push(all, sk_X509_value(chain, i));
	if (trust != NULL &&
	    (ctx = X509_STORE_CTX_new_ex(c->libctx, NULL)) != NULL &&
	    X509_STORE_CTX_init(ctx, trust, NULL, NULL) == 1 &&
	    (cas = X509_STORE_get1_all_certs(trust)) != NULL)
		for (i = 0; i < sk_X509_num(cas); i++)
			(void)sk_X509_push(all, sk_X509_value(cas, i));
	for (i = 0; i < sk_X509_num(all); i++) {
		char urls[1][512];

		if (cdp_urls(sk_X509_value(all, i), urls, 1) == 0)
			continue;
		tried++;
		eca_err_clear(&e);
		if (fetch_for(c, trust, chain, sk_X509_value(all, i),
		    ECA_CRL_FETCH_TIMEOUT_MS, &n,
		    &e) == 0)
			ok++;
		else {
			r = e.code;
			if (err != NULL)
				*err = e;
		}
	}
	if (added != NULL)
		*added = n;
	if (tried == 0)
		r = eca_err_set(err, ECA_ERR_NOT_FOUND, "no certificate of "
		    "this host's chain or trust store names a CRL "
		    "distribution point: set ECA_CRL_PATH to a directory of "
		    "the CAs' CRLs");
	else if (ok > 0)
		r = 0;
	sk_X509_pop_free(cas, X509_free);
	sk_X509_free(all);
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return r;
}

/*
 * The verdict
 */

/* What the verify callback saw. */
struct vstate {
	const struct eca_crl_cache *c;
	time_t now;
	int in_grace;
	int failed_open;
	char note[256];
	char revoked[ECA_ERR_MSG_MAX / 2];
};

static int
is_self_signed(X509 *x)
{
	return (X509_get_extension_flags(x) & EXFLAG_SS) != 0;
}

/*
 * Excuse what policy allows; record what a refusal must name.  Errors
 * other than these were already judged by eca_x509_verify().
 */
static int
verify_cb(int ok, X509_STORE_CTX *ctx)
{
	struct vstate *vs = X509_STORE_CTX_get_app_data(ctx);
	X509 *x = X509_STORE_CTX_get_current_cert(ctx);
	X509_CRL *crl = X509_STORE_CTX_get0_current_crl(ctx);
	X509_REVOKED *rev = NULL;
	char subj[ECA_DN_MAX], when[64], serial[132] = "?";
	BIGNUM *bn;
	char *hex;
	time_t next;
	int e;

	if (ok || vs == NULL)
		return ok;
	e = X509_STORE_CTX_get_error(ctx);
	name_str(x != NULL ? X509_get_subject_name(x) : NULL, subj,
	    sizeof(subj));
	switch (e) {
	case X509_V_ERR_UNABLE_TO_GET_CRL:
		/* A trust anchor is not revoked by a CRL: it is removed. */
		if (x != NULL && is_self_signed(x))
			return 1;
		break;
	case X509_V_ERR_CRL_HAS_EXPIRED:
		next = crl != NULL ? crl_next(crl) : 0;
		if (next != 0 && vs->now - next <=
		    (time_t)vs->c->grace_hours * 3600) {
			vs->in_grace = 1;
			fmt_time(X509_CRL_get0_nextUpdate(crl), when,
			    sizeof(when));
			eca_sfmt(vs->note, sizeof(vs->note), "the CRL for %s "
			    "expired on %s and is used in its grace period "
			    "(ECA_CRL_GRACE_HOURS = %d): " CRL_REMEDY, subj,
			    when, vs->c->grace_hours);
			return 1;
		}
		break;
	case X509_V_ERR_CERT_REVOKED:
		if (x != NULL && crl != NULL &&
		    X509_CRL_get0_by_cert(crl, &rev, x) == 1 && rev != NULL)
			fmt_time(X509_REVOKED_get0_revocationDate(rev), when,
			    sizeof(when));
		else
			eca_sfmt(when, sizeof(when), "an unknown date");
		if (x != NULL && (bn = ASN1_INTEGER_to_BN(
		    X509_get0_serialNumber(x), NULL)) != NULL) {
			if ((hex = BN_bn2hex(bn)) != NULL) {
				eca_sfmt(serial, sizeof(serial), "%s", hex);
				OPENSSL_free(hex);
			}
			BN_free(bn);
		}
		eca_sfmt(vs->revoked, sizeof(vs->revoked), "certificate %s "
		    "(serial %s) was revoked on %s", subj, serial, when);
		return 0;
	default:
		break;
	}
	switch (e) {
	case X509_V_ERR_UNABLE_TO_GET_CRL:
	case X509_V_ERR_CRL_HAS_EXPIRED:
	case X509_V_ERR_CRL_NOT_YET_VALID:
	case X509_V_ERR_CRL_SIGNATURE_FAILURE:
	case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
	case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
	case X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD:
	case X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD:
	case X509_V_ERR_KEYUSAGE_NO_CRL_SIGN:
	case X509_V_ERR_DIFFERENT_CRL_SCOPE:
	case X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION:
	case X509_V_ERR_CRL_PATH_VALIDATION_ERROR:
		if (vs->c->fail_open) {
			vs->failed_open = 1;
			eca_sfmt(vs->note, sizeof(vs->note), "no usable CRL "
			    "for %s (%s); accepted because ECA_CRL_FAIL_OPEN "
			    "= YES", subj, X509_verify_cert_error_string(e));
			return 1;
		}
		break;
	default:
		break;
	}
	return 0;
}

static int
is_crl_error(int e)
{
	switch (e) {
	case X509_V_ERR_UNABLE_TO_GET_CRL:
	case X509_V_ERR_CRL_HAS_EXPIRED:
	case X509_V_ERR_CRL_NOT_YET_VALID:
	case X509_V_ERR_CRL_SIGNATURE_FAILURE:
	case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
	case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
	case X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD:
	case X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD:
	case X509_V_ERR_KEYUSAGE_NO_CRL_SIGN:
	case X509_V_ERR_DIFFERENT_CRL_SCOPE:
	case X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION:
	case X509_V_ERR_CRL_PATH_VALIDATION_ERROR:
		return 1;
	default:
		return 0;
	}
}

/* The verified chain of leaf (leaf first, trust anchor last). */
static int
build_chain(struct eca_crl_cache *c, X509_STORE *trust, X509 *leaf,
    STACK_OF(X509) *chain, time_t now, STACK_OF(X509) **out,
    struct eca_err *err)
{
	X509_STORE_CTX *ctx = NULL;
	int r = 0;

	*out = NULL;
	if ((ctx = X509_STORE_CTX_new_ex(c->libctx, NULL)) == NULL ||
	    X509_STORE_CTX_init(ctx, trust, leaf, chain) != 1) {
		r = eca_err_set(err, ECA_ERR_NOMEM, "cannot set up the "
		    "revocation check");
		goto out;
	}
	X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), now);
	if (X509_verify_cert(ctx) != 1 ||
	    (*out = X509_STORE_CTX_get1_chain(ctx)) == NULL) {
		r = eca_err_set(err, ECA_ERR_UNTRUSTED, "the certificate does "
		    "not chain to the trust store, so its revocation status "
		    "cannot be checked: %s", X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(ctx)));
		goto out;
	}
 out:
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return r;
}

/*
 * Before the verdict: fetch the CRLs of the CAs that issued the checked
 * certificates when missing, expired or due for refresh, at most once per
 * ECA_CRL_RETRY_SEC per CA, and sync ECA_CRL_PATH when it is due.
 * Returns how many CRLs it loaded, fetched or tried to: 0 when the cache
 * is as it was.
 */
static int
fetch_due(struct eca_crl_cache *c, X509_STORE *trust, STACK_OF(X509) *full,
    int ncheck, time_t now)
{
	struct eca_err e;
	unsigned long h;
	struct ent *ent;
	X509 *x, *issuer;
	int i, due, sync = 0, changed = 0;

	if (c->no_fetch)
		return 0;
	pthread_mutex_lock(&c->lock);
	if (c->crl_path != NULL &&
	    now - c->last_sync >= (time_t)c->path_sync_hours * 3600) {
		c->last_sync = now;
		sync = 1;
	}
	pthread_mutex_unlock(&c->lock);
	if (sync) {
		changed++;
		eca_err_clear(&e);
		if (eca_crl_cache_sync_path(c, trust, full, NULL, NULL,
		    &e) != 0)
			log_warn("%s", e.msg);
	}
	for (i = 0; i < ncheck && i + 1 < sk_X509_num(full); i++) {
		x = sk_X509_value(full, i);
		issuer = sk_X509_value(full, i + 1);
		if ((h = name_hash(c, X509_get_subject_name(issuer))) == 0)
			continue;
		/* Another process (eca crl download) may have cached it. */
		changed += reload_changed(c, h);
		due = 0;
		pthread_mutex_lock(&c->lock);
		if ((ent = ent_find(c, h)) != NULL &&
		    (ent->crl == NULL ||
		    crl_state(c, ent->crl, now) != ECA_CRL_OK ||
		    (c->crl_path == NULL && now - ent->fetched >=
		    (time_t)c->refresh_hours * 3600)) &&
		    now - ent->attempt >= ECA_CRL_RETRY_SEC) {
			ent->attempt = now;
			due = 1;
		}
		pthread_mutex_unlock(&c->lock);
		if (!due)
			continue;
		changed++;
		eca_err_clear(&e);
		if (fetch_for(c, trust, full, x, ECA_CRL_CHECK_TIMEOUT_MS,
		    NULL, &e) != 0)
			log_warn("cannot refresh the CRL for %08lx: %s", h,
			    e.msg);
	}
	return changed;
}

/* One verification with the CRLs cached at the time (crl_verify). */
struct crl_run {
	X509_STORE_CTX *ctx;		/* the error, the chain it built */
	STACK_OF(X509_CRL) *crls;	/* the CRLs it used (ctx borrows) */
	struct vstate vs;		/* grace and fail-open notes */
	uint64_t gen;			/* the cache's gen for crls */
	int ok;				/* 1: it verified */
};

static void
crl_run_clear(struct crl_run *run)
{
	X509_STORE_CTX_free(run->ctx);
	sk_X509_CRL_pop_free(run->crls, X509_CRL_free);
	memset(run, 0, sizeof(*run));
}

/*
 * Verify leaf's chain against trust with the CRLs cached now, into run
 * (cleared first; the caller clears it after).  0, or an error when the
 * verification could not be set up; run->ok says how it went.
 */
static int
crl_verify(struct eca_crl_cache *c, X509_STORE *trust, X509 *leaf,
    STACK_OF(X509) *chain, enum eca_crl_check level, time_t now,
    struct crl_run *run, struct eca_err *err)
{
	X509_VERIFY_PARAM *param;
	unsigned long flags;
	size_t i;

	crl_run_clear(run);
	if ((run->crls = sk_X509_CRL_new_null()) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->n; i++) {
		if (c->ents[i].crl == NULL ||
		    X509_CRL_up_ref(c->ents[i].crl) != 1)
			continue;
		if (sk_X509_CRL_push(run->crls, c->ents[i].crl) <= 0)
			X509_CRL_free(c->ents[i].crl);
	}
	run->gen = c->gen;
	pthread_mutex_unlock(&c->lock);

	run->vs.c = c;
	run->vs.now = now;
	if ((run->ctx = X509_STORE_CTX_new_ex(c->libctx, NULL)) == NULL ||
	    X509_STORE_CTX_init(run->ctx, trust, leaf, chain) != 1) {
		ERR_clear_error();
		return eca_err_set(err, ECA_ERR_NOMEM, "cannot set up the "
		    "revocation check");
	}
	X509_STORE_CTX_set0_crls(run->ctx, run->crls);
	X509_STORE_CTX_set_verify_cb(run->ctx, verify_cb);
	X509_STORE_CTX_set_app_data(run->ctx, &run->vs);
	param = X509_STORE_CTX_get0_param(run->ctx);
	flags = X509_V_FLAG_X509_STRICT | X509_V_FLAG_CRL_CHECK;
	if (level == ECA_CRL_CHAIN)
		flags |= X509_V_FLAG_CRL_CHECK_ALL;
	X509_VERIFY_PARAM_set_flags(param, flags);
	X509_VERIFY_PARAM_set_depth(param, ECA_CHAIN_MAX);
	X509_VERIFY_PARAM_set_time(param, now);
	run->ok = X509_verify_cert(run->ctx) == 1;
	ERR_clear_error();
	return 0;
}

/*
 * A remembered verdict for key at level, if the cache still holds the
 * CRLs it was reached with and now is inside its window: 1 and *full (a
 * copy of the chain, the caller's), else 0.
 */
static int
result_get(struct eca_crl_cache *c, X509_STORE *trust, const uint8_t *key,
    enum eca_crl_check level, time_t now, STACK_OF(X509) **full)
{
	struct result *res;
	uint64_t h;
	int hit;

	*full = NULL;
	memcpy(&h, key, sizeof(h));
	pthread_mutex_lock(&c->lock);
	res = &c->results[h % RESULT_SLOTS];
	hit = res->used && res->level == level && res->trust == trust &&
	    res->gen == c->gen &&
	    (int64_t)now >= res->from && (int64_t)now < res->until &&
	    memcmp(res->key, key, ECA_VCACHE_KEY_LEN) == 0 &&
	    (*full = X509_chain_up_ref(res->full)) != NULL;
	if (hit)
		c->hits++;
	else
		c->misses++;
	pthread_mutex_unlock(&c->lock);
	return hit;
}

/*
 * Remember a clean verdict of run (the chain it built is full): valid
 * while the cache holds run's CRLs, from the latest lastUpdate and
 * notBefore to the earliest nextUpdate and notAfter among them.
 */
static void
result_put(struct eca_crl_cache *c, X509_STORE *trust, const uint8_t *key,
    enum eca_crl_check level, const struct crl_run *run,
    STACK_OF(X509) *full)
{
	STACK_OF(X509) *copy;
	struct result *res;
	const ASN1_TIME *t;
	X509_CRL *crl;
	int64_t w[2], from, until, v;
	uint64_t h;
	int i;

	if (eca_x509_chain_window(full, w) != 0)
		return;
	from = w[0];
	until = w[1];
	for (i = 0; i < sk_X509_CRL_num(run->crls); i++) {
		crl = sk_X509_CRL_value(run->crls, i);
		if (eca_x509_time(X509_CRL_get0_lastUpdate(crl), &v) != 0)
			return;
		if (v > from)
			from = v;
		if ((t = X509_CRL_get0_nextUpdate(crl)) != NULL) {
			if (eca_x509_time(t, &v) != 0)
				return;
			if (v < until)
				until = v;
		}
	}
	if (until <= from || (copy = X509_chain_up_ref(full)) == NULL)
		return;
	if (X509_STORE_up_ref(trust) != 1) {
		sk_X509_pop_free(copy, X509_free);
		return;
	}
	memcpy(&h, key, sizeof(h));
	pthread_mutex_lock(&c->lock);
	res = &c->results[h % RESULT_SLOTS];
	sk_X509_pop_free(res->full, X509_free);
	X509_STORE_free(res->trust);
	memcpy(res->key, key, ECA_VCACHE_KEY_LEN);
	res->level = level;
	res->trust = trust;
	res->gen = run->gen;
	res->from = from;
	res->until = until;
	res->full = copy;
	res->used = 1;
	pthread_mutex_unlock(&c->lock);
}

uint64_t
eca_crl_cache_gen(struct eca_crl_cache *c)
{
	uint64_t gen;

	if (c == NULL)
		return 0;
	pthread_mutex_lock(&c->lock);
	gen = c->gen;
	pthread_mutex_unlock(&c->lock);
	return gen;
}

void
eca_crl_cache_stats(struct eca_crl_cache *c, uint64_t *hits,
    uint64_t *misses)
{
	*hits = *misses = 0;
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	*hits = c->hits;
	*misses = c->misses;
	pthread_mutex_unlock(&c->lock);
}

int
eca_crl_check(struct eca_crl_cache *c, X509_STORE *trust, X509 *leaf,
    STACK_OF(X509) *chain, enum eca_crl_check level, time_t now,
    struct eca_crl_result *result, struct eca_err *err)
{
	uint8_t key[ECA_VCACHE_KEY_LEN];

	return eca_crl_check_keyed(c, trust, leaf, chain,
	    leaf != NULL && level != ECA_CRL_DISABLE &&
	    eca_vcache_key(leaf, chain, key) == 0 ? key : NULL, level, now,
	    result, err);
}

int
eca_crl_check_keyed(struct eca_crl_cache *c, X509_STORE *trust, X509 *leaf,
    STACK_OF(X509) *chain, const uint8_t *key, enum eca_crl_check level,
    time_t now, struct eca_crl_result *result, struct eca_err *err)
{
	STACK_OF(X509) *full = NULL;
	struct crl_run run;
	char subj[ECA_DN_MAX], iss[ECA_DN_MAX];
	X509 *x;
	int r = ECA_ERR_INTERNAL, e, ncheck;

	memset(&run, 0, sizeof(run));
	if (result != NULL)
		memset(result, 0, sizeof(*result));
	if (level == ECA_CRL_DISABLE)
		return 0;
	if (c == NULL || trust == NULL || leaf == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "no CRL cache, trust store or certificate to check");
	if (now == 0)
		now = time(NULL);
	/*
	 * The same chain, the same CRLs, inside their validity: the same
	 * verdict, unless something is due for a fetch (which may change
	 * the CRLs, so the check is run again).
	 */
	if (key != NULL && result_get(c, trust, key, level, now, &full)) {
		ncheck = level == ECA_CRL_LEAF ? 1 : sk_X509_num(full) - 1;
		if (fetch_due(c, trust, full, ncheck, now) == 0) {
			r = 0;
			goto out;
		}
		sk_X509_pop_free(full, X509_free);
		full = NULL;
	}
	/*
	 * Verify with the CRLs cached now; then fetch what is due (for that,
	 * the chain: as the verification built it, or built again without
	 * CRLs when it failed) and, only if the cache changed, verify again.
	 * The usual case is one verification: nothing was due.
	 */
	if ((r = crl_verify(c, trust, leaf, chain, level, now, &run,
	    err)) != 0)
		goto out;
	if (run.ok) {
		if ((full = X509_STORE_CTX_get1_chain(run.ctx)) == NULL) {
			r = eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
			goto out;
		}
	} else if ((r = build_chain(c, trust, leaf, chain, now, &full,
	    err)) != 0)
		goto out;
	/* The trust anchor (last) is not checked. */
	ncheck = level == ECA_CRL_LEAF ? 1 : sk_X509_num(full) - 1;
	if (fetch_due(c, trust, full, ncheck, now) != 0 &&
	    (r = crl_verify(c, trust, leaf, chain, level, now, &run,
	    err)) != 0)
		goto out;
	if (!run.ok) {
		e = X509_STORE_CTX_get_error(run.ctx);
		x = X509_STORE_CTX_get_current_cert(run.ctx);
		if (x == NULL)
			x = leaf;
		name_str(X509_get_subject_name(x), subj, sizeof(subj));
		name_str(X509_get_issuer_name(x), iss, sizeof(iss));
		if (e == X509_V_ERR_CERT_REVOKED)
			r = eca_err_set(err, ECA_ERR_REVOKED, "%s by %s: the "
			    "host needs a new certificate", run.vs.revoked[0] !=
			    '\0' ? run.vs.revoked : subj, iss);
		else if (e == X509_V_ERR_UNABLE_TO_GET_CRL)
			r = eca_err_set(err, ECA_ERR_CRL_UNAVAILABLE, "no CRL "
			    "of %s is available to check certificate %s: "
			    CRL_REMEDY, iss, subj);
		else if (e == X509_V_ERR_CRL_HAS_EXPIRED)
			r = eca_err_set(err, ECA_ERR_CRL_UNAVAILABLE, "the "
			    "CRL of %s expired more than %d hour(s) ago "
			    "(ECA_CRL_GRACE_HOURS), so certificate %s cannot "
			    "be checked: " CRL_REMEDY, iss,
			    c->grace_hours, subj);
		else if (is_crl_error(e))
			r = eca_err_set(err, ECA_ERR_CRL_UNAVAILABLE, "the "
			    "CRL of %s cannot be used to check certificate "
			    "%s (%s): " CRL_REMEDY, iss, subj,
			    X509_verify_cert_error_string(e));
		else
			r = eca_err_set(err, ECA_ERR_UNTRUSTED, "certificate "
			    "%s: %s", subj, X509_verify_cert_error_string(e));
		goto out;
	}
	if (run.vs.in_grace || run.vs.failed_open)
		log_warn("%s", run.vs.note);
	else if (key != NULL)
		result_put(c, trust, key, level, &run, full);
	if (result != NULL) {
		result->in_grace = run.vs.in_grace;
		result->failed_open = run.vs.failed_open;
		eca_sfmt(result->note, sizeof(result->note), "%s", run.vs.note);
	}
	r = 0;
 out:
	crl_run_clear(&run);
	sk_X509_pop_free(full, X509_free);
	ERR_clear_error();
	return r;
}

/*
 * Listing and cleanup
 */

static void
fill_info(const struct eca_crl_cache *c, const struct ent *e, time_t now,
    struct eca_crl_info *info)
{
	ASN1_INTEGER *num;
	BIGNUM *bn;
	char *dec;
	int64_t t = 0;

	memset(info, 0, sizeof(*info));
	name_str(X509_CRL_get_issuer(e->crl), info->issuer,
	    sizeof(info->issuer));
	eca_sfmt(info->hash, sizeof(info->hash), "%08lx", e->hash);
	if (eca_x509_time(X509_CRL_get0_lastUpdate(e->crl), &t) == 0)
		info->last_update = t;
	info->next_update = (int64_t)crl_next(e->crl);
	if ((num = X509_CRL_get_ext_d2i(e->crl, NID_crl_number, NULL,
	    NULL)) != NULL) {
		if ((bn = ASN1_INTEGER_to_BN(num, NULL)) != NULL) {
			if ((dec = BN_bn2dec(bn)) != NULL) {
				eca_sfmt(info->number, sizeof(info->number),
				    "%s", dec);
				OPENSSL_free(dec);
			}
			BN_free(bn);
		}
		ASN1_INTEGER_free(num);
	}
	info->entries = sk_X509_REVOKED_num(X509_CRL_get_REVOKED(e->crl));
	if (info->entries < 0)
		info->entries = 0;
	info->state = crl_state(c, e->crl, now);
	eca_sfmt(info->source, sizeof(info->source), "%s", e->source);
	ERR_clear_error();
}

static int
info_cmp(const void *a, const void *b)
{
	return strcmp(((const struct eca_crl_info *)a)->hash,
	    ((const struct eca_crl_info *)b)->hash);
}

int
eca_crl_cache_list(struct eca_crl_cache *c, time_t now,
    struct eca_crl_info **out, size_t *n, struct eca_err *err)
{
	struct eca_crl_info *v = NULL;
	size_t i, k = 0;
	int r = 0;

	*out = NULL;
	*n = 0;
	if (c == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL, "no CRL cache");
	if (now == 0)
		now = time(NULL);
	pthread_mutex_lock(&c->lock);
	if (c->n > 0 && (v = calloc(c->n, sizeof(*v))) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < c->n; i++)
		if (c->ents[i].crl != NULL)
			fill_info(c, &c->ents[i], now, &v[k++]);
 out:
	pthread_mutex_unlock(&c->lock);
	if (r == 0 && k > 0) {
		qsort(v, k, sizeof(*v), info_cmp);
		*out = v;
		*n = k;
		v = NULL;
	}
	free(v);
	return r;
}

int
eca_crl_cache_cleanup(struct eca_crl_cache *c, int expired,
    const char *hash, time_t now, size_t *removed, struct eca_err *err)
{
	char path[PATH_MAX];
	unsigned long h = 0;
	size_t i, k = 0;
	int match;

	*removed = 0;
	if (c == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL, "no CRL cache");
	if (hash != NULL) {
		char name[16];

		eca_sfmt(name, sizeof(name), "%s.crl", hash);
		if (strlen(hash) != 8 || !cache_name(name, &h))
			return eca_err_set(err, ECA_ERR_USAGE, "issuer hash "
			    "'%s' is not 8 hex digits (see `eca crl list`)",
			    hash);
	}
	if (!expired && hash == NULL)
		return eca_err_set(err, ECA_ERR_USAGE, "say which CRLs to "
		    "remove: --expired or --issuer-hash H");
	if (now == 0)
		now = time(NULL);
	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->n; i++) {
		if (c->ents[i].crl == NULL)
			continue;
		match = (hash != NULL && c->ents[i].hash == h) ||
		    (expired && crl_state(c, c->ents[i].crl, now) ==
		    ECA_CRL_EXPIRED);
		if (!match)
			continue;
		ent_path(c, c->ents[i].hash, path, sizeof(path));
		(void)unlink(path);
		X509_CRL_free(c->ents[i].crl);
		c->ents[i].crl = NULL;
		c->ents[i].source[0] = '\0';
		c->gen++;
		k++;
	}
	pthread_mutex_unlock(&c->lock);
	*removed = k;
	if (hash != NULL && !expired && k == 0)
		return eca_err_set(err, ECA_ERR_NOT_FOUND, "no cached CRL has "
		    "issuer hash %s (see `eca crl list`)", hash);
	return 0;
}
