/* SPDX-License-Identifier: ISC */
/*
 * crl.c - the CRL cache: one entry per CA in memory, one file per CA in
 * the cache directory, the rule for which CRL an entry keeps, and the
 * background maintenance.  Where CRLs come from is crl_fetch.c; the
 * revocation verdict is crl_verify.c; crl_impl.h holds what they share
 * (and says what the lock guards).
 */
#include "crl_impl.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "text.h"
#include "util.h"
#include "x509.h"

void
crl_name_str(const X509_NAME *name, char *buf, size_t size)
{
	BIO *bio;
	long n;

	buf[0] = '\0';
	if (name == NULL || (bio = BIO_new(BIO_s_mem())) == NULL)
		return;
	if (X509_NAME_print_ex(bio, name, 0,
		XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
	    (n = BIO_read(bio, buf, (int)size - 1)) > 0)
		buf[n] = '\0';
	BIO_free(bio);
	ERR_clear_error();
}

unsigned long
crl_name_hash(struct eca_crl_cache *c, const X509_NAME *name)
{
	unsigned long h;
	int ok = 0;

	h = X509_NAME_hash_ex(name, c->libctx, NULL, &ok);
	ERR_clear_error();
	return ok ? h : 0;
}

time_t
crl_next(X509_CRL *crl)
{
	int64_t t = 0;

	if (X509_CRL_get0_nextUpdate(crl) == NULL ||
	    eca_x509_time(X509_CRL_get0_nextUpdate(crl), &t) != 0)
		return 0;
	return (time_t)t;
}

enum eca_crl_state
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
		r = eca_err_set(err, ECA_ERR_PARSE,
		    "the CRL is empty or "
		    "larger than %d bytes",
		    ECA_CRL_FILE_MAX);
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
		r = eca_err_set(err, ECA_ERR_PARSE,
		    "not a PEM or DER CRL "
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

struct ent *
crl_ent_find(struct eca_crl_cache *c, unsigned long hash)
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

	if ((e = crl_ent_find(c, hash)) != NULL)
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
	eca_text_fmt(buf, size, "%s/%08lx.crl", c->dir, hash);
}

int
crl_ent_due(const struct eca_crl_cache *c, const struct ent *e, time_t now)
{
	if (now - e->attempt < ECA_CRL_RETRY_SEC)
		return 0;
	/*
	 * A current CRL is due only from a distribution point, by age; with
	 * ECA_CRL_REFRESH_HOURS = 0 (NetBackup's "no periodic refresh") never:
	 * only a missing or expired one is fetched.
	 */
	if (e->crl != NULL && crl_state(c, e->crl, now) == ECA_CRL_OK &&
	    (c->crl_path != NULL || c->refresh_hours == 0 ||
		now - e->fetched < (time_t)c->refresh_hours * 3600))
		return 0;
	return 1;
}

int
crl_ent_claim(const struct eca_crl_cache *c, struct ent *e, time_t now)
{
	if (!crl_ent_due(c, e, now))
		return 0;
	e->attempt = now;
	return 1;
}

int
crl_sync_due(struct eca_crl_cache *c, time_t now, int claim)
{
	int due = 0;

	pthread_mutex_lock(&c->lock);
	if (c->crl_path != NULL &&
	    now - c->last_sync >= (time_t)c->path_sync_hours * 3600) {
		if (claim)
			c->last_sync = now;
		due = 1;
	}
	pthread_mutex_unlock(&c->lock);
	return due;
}

/*
 * crl as PEM at path, atomically and durably: a crash leaves the old CRL
 * or the new one, never a torn file (util.h).
 */
static int
write_crl(const char *path, X509_CRL *crl, struct eca_err *err)
{
	BIO *bio = NULL;
	char *data;
	long len;
	int r;

	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_X509_CRL(bio, crl) != 1 ||
	    (len = BIO_get_mem_data(bio, &data)) <= 0) {
		r = eca_err_set(err, ECA_ERR_NOMEM, "cannot encode the CRL");
		eca_err_add_openssl(err);
	} else
		r = eca_util_replace_file(path, data, (size_t)len, 0600, err);
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
	if ((h = crl_name_hash(c, X509_CRL_get_issuer(crl))) == 0)
		return eca_err_set(err, ECA_ERR_PARSE,
		    "cannot hash the CRL's issuer name");
	pthread_mutex_lock(&c->lock);
	if ((e = ent_get(c, h)) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM,
		    "the CRL cache is full "
		    "(%d CAs) or out of memory",
		    ECA_CRL_MAX_CAS);
		goto out;
	}
	if (e->crl != NULL) {
		if (X509_NAME_cmp(X509_CRL_get_issuer(e->crl),
			X509_CRL_get_issuer(crl)) != 0) {
			crl_name_str(X509_CRL_get_issuer(crl), iss,
			    sizeof(iss));
			r = eca_err_set(err, ECA_ERR_CONFLICT,
			    "the CRL of %s "
			    "has the same name hash %08lx as another CA's "
			    "cached CRL; remove that one with `eca crl cleanup "
			    "--issuer-hash %08lx` first",
			    iss, h, h);
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
		eca_text_fmt(e->source, sizeof(e->source), "%s", source);
	*stored = 1;
out:
	pthread_mutex_unlock(&c->lock);
	return r;
}

int
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
		crl_name_str(X509_CRL_get_issuer(crl), iss, sizeof(iss));
		r = eca_err_set(err, ECA_ERR_UNTRUSTED,
		    "the CRL of %s is not "
		    "signed by a CA of the trust store or of a chain to it: "
		    "install the issuing CA in ECA_TRUST_STORE_PATH, or the "
		    "CRL is forged",
		    iss);
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
 * The cache directory
 */

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
	size_t len = 0;
	time_t mtime = 0;
	int stored;

	ent_path(c, hash, path, sizeof(path));
	if (eca_util_read_file(path, "CRL", ECA_CRL_FILE_MAX, &buf, &len, NULL,
		&mtime, NULL) != 0)
		return;
	if (parse_crl(c->libctx, buf, len, &crl, NULL) == 0 &&
	    crl_name_hash(c, X509_CRL_get_issuer(crl)) == hash)
		(void)store_crl(c, &crl, NULL, mtime, 0, &stored, NULL);
	X509_CRL_free(crl);
	eca_util_free_file(buf, len);
}

/* One stat when the file is unchanged. */
int
crl_reload_changed(struct eca_crl_cache *c, unsigned long hash)
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
	load = load && ent != NULL &&
	    (ent->crl == NULL || st.st_ino != ent->seen_ino ||
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

/*
 * Every cache file that is new or changed since it was last looked at:
 * all of them when the cache is made, later what other processes stored
 * (`eca crl download`).
 */
static void
scan_dir(struct eca_crl_cache *c)
{
	struct dirent *de;
	unsigned long h;
	DIR *d;

	if ((d = opendir(c->dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (cache_name(de->d_name, &h))
			(void)crl_reload_changed(c, h);
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
	c->path_sync_hours =
	    opts->path_sync_hours > 0 ? opts->path_sync_hours : 1;
	c->refresh_hours = opts->refresh_hours >= 0 ? opts->refresh_hours : 24;
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
		r = eca_err_set(err, ECA_ERR_IO,
		    "cannot create the CRL cache "
		    "directory %s: %s (check STATE_DIR and its permissions)",
		    c->dir, strerror(errno));
		goto out;
	}
	if (stat(c->dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		r = eca_err_set(err, ECA_ERR_IO,
		    "the CRL cache %s is not a "
		    "directory",
		    c->dir);
		goto out;
	}
	scan_dir(c);
	*out = c;
	c = NULL;
	r = 0;
out:
	eca_crl_cache_free(c);
	return r;
}

int
eca_crl_opts_from_config(const struct eca_config *cfg, char *dir, size_t size,
    struct eca_crl_opts *opts, struct eca_err *err)
{
	memset(opts, 0, sizeof(*opts));
	if (cfg == NULL || cfg->state_dir == NULL)
		return eca_err_set(err, ECA_ERR_CONFIG, "STATE_DIR is not set");
	eca_text_fmt(dir, size, "%s/crl", cfg->state_dir);
	opts->dir = dir;
	opts->crl_path = cfg->crl_path;
	opts->path_sync_hours = cfg->crl_path_sync_hours;
	opts->refresh_hours = cfg->crl_refresh_hours;
	opts->grace_hours = cfg->crl_grace_hours;
	opts->fail_open = cfg->crl_fail_open;
	return 0;
}

int
eca_crl_cache_open(OSSL_LIB_CTX *libctx, const struct eca_config *cfg,
    struct eca_crl_cache **out, struct eca_err *err)
{
	struct eca_crl_opts o;
	char dir[PATH_MAX];
	int r;

	*out = NULL;
	if ((r = eca_crl_opts_from_config(cfg, dir, sizeof(dir), &o, err)) != 0)
		return r;
	if (mkdir(cfg->state_dir, 0700) == -1 && errno != EEXIST)
		return eca_err_set(err, ECA_ERR_IO,
		    "cannot create STATE_DIR "
		    "%s: %s",
		    cfg->state_dir, strerror(errno));
	return eca_crl_cache_new(libctx, &o, out, err);
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

/*
 * Maintenance
 */

/*
 * The source of entry i into url when it is due for a fetch from its
 * distribution point ("" when not; the attempt is recorded).  0 past
 * the last entry.
 */
static int
due_url(struct eca_crl_cache *c, size_t i, time_t now, char *url, size_t size)
{
	struct ent *e;
	int more;

	url[0] = '\0';
	pthread_mutex_lock(&c->lock);
	if ((more = i < c->n)) {
		e = &c->ents[i];
		if (e->crl != NULL && crl_is_http(e->source) &&
		    crl_ent_claim(c, e, now))
			eca_text_fmt(url, size, "%s", e->source);
	}
	pthread_mutex_unlock(&c->lock);
	return more;
}

/*
 * Each cached CRL that is due (expired, or older than
 * ECA_CRL_REFRESH_HOURS) again from the distribution point it came from.
 * The last failure; the other CAs are still tried.
 */
static int
refresh_due(struct eca_crl_cache *c, X509_STORE *trust,
    STACK_OF(X509) *untrusted, time_t now, size_t *nadd, struct eca_err *err)
{
	char url[sizeof(c->ents->source)];
	struct eca_err e;
	size_t i;
	int r = 0, rr, stored;

	for (i = 0; due_url(c, i, now, url, sizeof(url)); i++) {
		if (url[0] == '\0')
			continue;
		eca_err_clear(&e);
		if ((rr = crl_fetch_add(c, trust, untrusted, url,
			 ECA_CRL_FETCH_TIMEOUT_MS, &stored, &e)) == 0) {
			if (stored)
				(*nadd)++;
			continue;
		}
		r = rr;
		if (err != NULL)
			*err = e;
	}
	return r;
}

int
eca_crl_cache_maintain(struct eca_crl_cache *c, X509_STORE *trust,
    STACK_OF(X509) *untrusted, time_t now, size_t *added, struct eca_err *err)
{
	size_t nadd = 0;
	int r = 0;

	if (added != NULL)
		*added = 0;
	if (c == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL, "no CRL cache");
	if (now == 0)
		now = time(NULL);
	scan_dir(c);
	if (c->no_fetch)
		return 0;
	if (c->crl_path == NULL)
		r = refresh_due(c, trust, untrusted, now, &nadd, err);
	else if (crl_sync_due(c, now, 1))
		r = eca_crl_cache_sync_path(c, trust, untrusted, &nadd, NULL,
		    err);
	if (added != NULL)
		*added = nadd;
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
	crl_name_str(X509_CRL_get_issuer(e->crl), info->issuer,
	    sizeof(info->issuer));
	eca_text_fmt(info->hash, sizeof(info->hash), "%08lx", e->hash);
	if (eca_x509_time(X509_CRL_get0_lastUpdate(e->crl), &t) == 0)
		info->last_update = t;
	info->next_update = (int64_t)crl_next(e->crl);
	if ((num = X509_CRL_get_ext_d2i(e->crl, NID_crl_number, NULL, NULL)) !=
	    NULL) {
		if ((bn = ASN1_INTEGER_to_BN(num, NULL)) != NULL) {
			if ((dec = BN_bn2dec(bn)) != NULL) {
				eca_text_fmt(info->number, sizeof(info->number),
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
	eca_text_fmt(info->source, sizeof(info->source), "%s", e->source);
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
eca_crl_cache_cleanup(struct eca_crl_cache *c, int expired, const char *hash,
    time_t now, size_t *removed, struct eca_err *err)
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

		eca_text_fmt(name, sizeof(name), "%s.crl", hash);
		if (strlen(hash) != 8 || !cache_name(name, &h))
			return eca_err_set(err, ECA_ERR_USAGE,
			    "issuer hash "
			    "'%s' is not 8 hex digits (see `eca crl list`)",
			    hash);
	}
	if (!expired && hash == NULL)
		return eca_err_set(err, ECA_ERR_USAGE,
		    "say which CRLs to "
		    "remove: --expired or --issuer-hash H");
	if (now == 0)
		now = time(NULL);
	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->n; i++) {
		if (c->ents[i].crl == NULL)
			continue;
		match = (hash != NULL && c->ents[i].hash == h) ||
		    (expired &&
			crl_state(c, c->ents[i].crl, now) == ECA_CRL_EXPIRED);
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
		return eca_err_set(err, ECA_ERR_NOT_FOUND,
		    "no cached CRL has "
		    "issuer hash %s (see `eca crl list`)",
		    hash);
	return 0;
}
