/* SPDX-License-Identifier: ISC */
/*
 * health.c - the health check of a host's certificate configuration.
 *
 * Each validation is a small function that fills one report entry.  Later
 * validations use what earlier ones loaded; when that is missing because
 * an earlier one failed, the later one is marked skipped, not failed, so
 * the report shows one root cause rather than a cascade.
 */
#include "health.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certinfo.h"
#include "crl.h"
#include "text.h"
#include "x509.h"

struct hstate {
	OSSL_LIB_CTX *libctx;
	const struct eca_config *cfg;
	struct eca_health_report *rep;
	X509 *leaf;
	STACK_OF(X509) *chain;
	struct eca_certinfo info;
	EVP_PKEY *key;
	X509_STORE *trust;
	int cert_path_ok;
	int key_path_ok;
	int chain_ok;	 /* CERT_CHAIN_VALIDATION passed */
	int validity_ok; /* CERT_VALIDITY_VALIDATION passed */
};

static struct eca_health_check *
begin(struct hstate *st, const char *id, const char *title)
{
	struct eca_health_check *c;

	/* ECA_HEALTH_MAX leaves room; the last entry absorbs any excess. */
	if (st->rep->n >= ECA_HEALTH_MAX)
		st->rep->n = ECA_HEALTH_MAX - 1;
	c = &st->rep->checks[st->rep->n++];
	memset(c, 0, sizeof(*c));
	c->id = id;
	c->title = title;
	return c;
}

static void ECA_PRINTF(2, 3)
    detail(struct eca_health_check *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
	va_end(ap);
}

static void
fail_err(struct hstate *st, struct eca_health_check *c, int code,
    const struct eca_err *err)
{
	c->code = code;
	detail(c, "%s", err->msg[0] != '\0' ? err->msg : eca_err_desc(code));
	st->rep->failed++;
}

static void ECA_PRINTF(4, 5) fail(struct hstate *st, struct eca_health_check *c,
    int code, const char *fmt, ...)
{
	va_list ap;

	c->code = code;
	va_start(ap, fmt);
	(void)vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
	va_end(ap);
	st->rep->failed++;
}

static void
skip(struct eca_health_check *c, const char *because)
{
	c->skipped = 1;
	detail(c, "not checked: %s did not pass", because);
}

/*
 * A check needs what an earlier one (the check ID because) provided:
 * when ok is 0, c is skipped, and the caller stops.  Returns ok.
 */
static int
need(struct eca_health_check *c, int ok, const char *because)
{
	if (!ok)
		skip(c, because);
	return ok;
}

/* fn on the leaf, then every intermediate: the first failure fails c. */
static int
each_cert(struct hstate *st, struct eca_health_check *c,
    int (*fn)(X509 *, struct eca_err *))
{
	struct eca_err err;
	int i, r;

	eca_err_clear(&err);
	for (i = -1; i < sk_X509_num(st->chain); i++) {
		if ((r = fn(i < 0 ? st->leaf : sk_X509_value(st->chain, i),
			 &err)) != 0) {
			fail_err(st, c, r, &err);
			return -1;
		}
	}
	return 0;
}

/*
 * Path checks without parsing, so that "no such file" and "mode 0644"
 * are reported as what they are.
 */
static int
check_path(struct hstate *st, struct eca_health_check *c, const char *key,
    const char *path, int private)
{
	struct stat sb;

	if (path == NULL || *path == '\0') {
		fail(st, c, ECA_ERR_CONFIG, "%s is not set: add it to %s", key,
		    st->cfg->path != NULL ? st->cfg->path : "eca.conf");
		return -1;
	}
	if (stat(path, &sb) == -1) {
		fail(st, c, ECA_ERR_UNREADABLE, "%s = %s: %s (check the path)",
		    key, path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(sb.st_mode)) {
		fail(st, c, ECA_ERR_UNREADABLE, "%s = %s is not a regular file",
		    key, path);
		return -1;
	}
	if (private && (sb.st_mode & 077) != 0) {
		fail(st, c, ECA_ERR_FILE_PERMISSIONS,
		    "%s = %s is accessible by group or others (mode %04o): "
		    "run chmod 600 %s",
		    key, path, (unsigned)(sb.st_mode & 07777), path);
		return -1;
	}
	if (access(path, R_OK) == -1) {
		fail(st, c, ECA_ERR_UNREADABLE,
		    "%s = %s cannot be read by this user: %s", key, path,
		    strerror(errno));
		return -1;
	}
	if (sb.st_size > ECA_CERT_FILE_MAX) {
		fail(st, c, ECA_ERR_UNREADABLE,
		    "%s = %s is larger than %d bytes", key, path,
		    ECA_CERT_FILE_MAX);
		return -1;
	}
	detail(c, "%s = %s (%lld bytes, mode %04o)", key, path,
	    (long long)sb.st_size, (unsigned)(sb.st_mode & 07777));
	return 0;
}

static void
cert_path(struct hstate *st, struct eca_health_check *c)
{
	st->cert_path_ok =
	    check_path(st, c, "ECA_CERT_PATH", st->cfg->cert_path, 0) == 0;
}

static void
certificates(struct hstate *st, struct eca_health_check *c)
{
	struct eca_err err;
	int r;

	if (!need(c, st->cert_path_ok, "USER_INPUT_CERT_PATH_VALIDATION"))
		return;
	eca_err_clear(&err);
	if ((r = eca_x509_load_chain(st->libctx, st->cfg->cert_path, &st->leaf,
		 &st->chain, &err)) != 0 ||
	    (r = eca_x509_info(st->leaf, &st->info, &err)) != 0) {
		X509_free(st->leaf);
		sk_X509_pop_free(st->chain, X509_free);
		st->leaf = NULL;
		st->chain = NULL;
		fail_err(st, c, r, &err);
		return;
	}
	detail(c,
	    "leaf %s issued by %s, %d intermediate certificate(s); "
	    "SHA-256 fingerprint %s",
	    st->info.subject, st->info.issuer, sk_X509_num(st->chain),
	    st->info.fingerprint);
}

static void
key_path(struct hstate *st, struct eca_health_check *c)
{
	st->key_path_ok = check_path(st, c, "ECA_PRIVATE_KEY_PATH",
			      st->cfg->key_path, 1) == 0;
}

static void
passphrase(struct hstate *st, struct eca_health_check *c)
{
	const char *pf = st->cfg->key_passphrase_file;
	struct eca_err err;
	int r;

	if (!need(c, st->key_path_ok, "USER_INPUT_PRIVATE_KEY_PATH_VALIDATION"))
		return;
	if (pf != NULL &&
	    check_path(st, c, "ECA_KEY_PASSPHRASEFILE", pf, 1) != 0)
		return;
	eca_err_clear(&err);
	if ((r = eca_x509_load_key(st->libctx, st->cfg->key_path, pf, &st->key,
		 &err)) != 0) {
		fail_err(st, c, r, &err);
		return;
	}
	detail(c, "private key %s read (%s, %d bits)%s%s", st->cfg->key_path,
	    EVP_PKEY_get0_type_name(st->key) != NULL ?
		EVP_PKEY_get0_type_name(st->key) :
		"unknown type",
	    EVP_PKEY_get_bits(st->key),
	    pf != NULL ? " with the passphrase in " :
			 "; no passphrase file configured",
	    pf != NULL ? pf : "");
}

static void
trust_store(struct hstate *st, struct eca_health_check *c)
{
	const char *path = st->cfg->trust_store_path;
	struct eca_err err;
	struct stat sb;
	int r;

	eca_err_clear(&err);
	if ((r = eca_x509_load_trust(st->libctx, path, &st->trust, &err)) !=
		0 ||
	    (r = eca_x509_trust_set_partial(st->trust,
		 st->cfg->trust_partial_chain, &err)) != 0) {
		X509_STORE_free(st->trust);
		st->trust = NULL;
		fail_err(st, c, r, &err);
		return;
	}
	detail(c, "ECA_TRUST_STORE_PATH = %s (%s)%s", path,
	    stat(path, &sb) == 0 && S_ISDIR(sb.st_mode) ?
		"hashed certificate directory" :
		"CA bundle file",
	    st->cfg->trust_partial_chain ?
		"; ECA_TRUST_PARTIAL_CHAIN = YES: "
		"every certificate in it is a trust anchor" :
		"");
}

/*
 * Every certificate of one trust store file against the key policy: the
 * first weak one is reported in c (failing it) with the file's name.
 * *n counts the certificates read.
 */
static void
trust_file_keys(struct hstate *st, struct eca_health_check *c, const char *file,
    int *n)
{
	struct eca_err err;
	BIO *bio = NULL;
	X509 *x = NULL;
	int r;

	if ((bio = BIO_new_file(file, "r")) == NULL)
		goto out;
	for (;;) {
		if ((x = X509_new_ex(st->libctx, NULL)) == NULL ||
		    PEM_read_bio_X509_AUX(bio, &x, NULL, NULL) == NULL)
			break;
		(*n)++;
		eca_err_clear(&err);
		if ((r = eca_x509_check_key_strength(x, &err)) != 0) {
			fail(st, c, r,
			    "ECA_TRUST_STORE_PATH: %s: %s; every "
			    "chain under this CA hangs on a breakable key: "
			    "remove it from the trust store and replace the "
			    "CA",
			    file, err.msg);
			goto out;
		}
		X509_free(x);
		x = NULL;
	}
out:
	X509_free(x);
	BIO_free(bio);
	ERR_clear_error();
}

/*
 * The trust anchors themselves: a root with a weak key makes every chain
 * under it as weak as that key, whatever the leaves and intermediates
 * use.  Every certificate of the bundle file, or of each hashed entry of
 * the directory, must have a key the policy accepts.
 */
static void
trust_key_strength(struct hstate *st, struct eca_health_check *c)
{
	const char *path = st->cfg->trust_store_path;
	char file[PATH_MAX];
	struct dirent *de;
	struct stat sb;
	DIR *dir;
	int n = 0;

	if (!need(c, st->trust != NULL, "USER_INPUT_TRUST_STORE_VALIDATION"))
		return;
	if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		if ((dir = opendir(path)) == NULL) {
			fail(st, c, ECA_ERR_UNREADABLE,
			    "ECA_TRUST_STORE_PATH "
			    "= %s cannot be listed: %s",
			    path, strerror(errno));
			return;
		}
		while (c->code == 0 && (de = readdir(dir)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			(void)snprintf(file, sizeof(file), "%s/%s", path,
			    de->d_name);
			if (stat(file, &sb) == 0 && S_ISREG(sb.st_mode))
				trust_file_keys(st, c, file, &n);
		}
		closedir(dir);
	} else
		trust_file_keys(st, c, path, &n);
	if (c->code != 0)
		return;
	detail(c,
	    "%d certificate(s) in ECA_TRUST_STORE_PATH = %s, every key "
	    "RSA >= 2048, EC P-256/P-384 or Ed25519",
	    n, path);
}

static void
crl_config(struct hstate *st, struct eca_health_check *c)
{
	const struct eca_config *cfg = st->cfg;
	struct stat sb;

	if (cfg->crl_refresh_hours < 0 ||
	    (cfg->crl_path != NULL && cfg->crl_path_sync_hours <= 0)) {
		fail(st, c, ECA_ERR_CONFIG,
		    "ECA_CRL_REFRESH_HOURS must be at least 0 and "
		    "ECA_CRL_PATH_SYNC_HOURS at least 1 (refresh %d, "
		    "sync %d)",
		    cfg->crl_refresh_hours, cfg->crl_path_sync_hours);
		return;
	}
	if (cfg->crl_check == ECA_CRL_DISABLE) {
		detail(c,
		    "ECA_CRL_CHECK = DISABLE: peers' certificates are "
		    "not checked for revocation (set LEAF or CHAIN to check "
		    "them)");
		return;
	}
	if (cfg->crl_path != NULL) {
		if (stat(cfg->crl_path, &sb) == -1 ||
		    access(cfg->crl_path, R_OK) == -1) {
			fail(st, c, ECA_ERR_UNREADABLE,
			    "ECA_CRL_PATH = %s cannot be read: %s (create it "
			    "or unset ECA_CRL_PATH to use distribution "
			    "points)",
			    cfg->crl_path, strerror(errno));
			return;
		}
		detail(c,
		    "ECA_CRL_CHECK = %s; CRLs from ECA_CRL_PATH = %s, "
		    "synced every %d hour(s)",
		    eca_config_crl_check_name(cfg->crl_check), cfg->crl_path,
		    cfg->crl_path_sync_hours);
		return;
	}
	if (cfg->crl_refresh_hours == 0) {
		detail(c,
		    "ECA_CRL_CHECK = %s; CRLs from the certificates' "
		    "distribution points, fetched when missing or expired, "
		    "never refreshed periodically (ECA_CRL_REFRESH_HOURS = 0)",
		    eca_config_crl_check_name(cfg->crl_check));
		return;
	}
	detail(c,
	    "ECA_CRL_CHECK = %s; CRLs from the certificates' "
	    "distribution points, refreshed every %d hour(s)",
	    eca_config_crl_check_name(cfg->crl_check), cfg->crl_refresh_hours);
}

static void
key_cert_match(struct hstate *st, struct eca_health_check *c)
{
	struct eca_err err;
	int r;

	if (!need(c, st->leaf != NULL, "USER_INPUT_CERTIFICATES_VALIDATION") ||
	    !need(c, st->key != NULL, "USER_INPUT_PASSPHRASE_VALIDATION"))
		return;
	eca_err_clear(&err);
	if ((r = eca_x509_key_match_chain(st->cfg->cert_path, st->leaf,
		 st->chain, st->key, &err)) != 0) {
		fail_err(st, c, r, &err);
		return;
	}
	detail(c, "the private key belongs to %s (public key SHA-256 %s)",
	    st->info.subject, st->info.spki_fingerprint);
}

/*
 * The acceptance policy itself (eca_x509_check_peer), at the current
 * time, as the primary and every peer will judge this host's
 * certificate: the same verdict and reason code.  Identity and
 * revocation have checks of their own below.
 */
static void
cert_chain(struct hstate *st, struct eca_health_check *c)
{
	struct eca_peer_policy pol;
	struct eca_certinfo *info = NULL;
	struct eca_err err;
	int r;

	if (!need(c, st->leaf != NULL, "USER_INPUT_CERTIFICATES_VALIDATION") ||
	    !need(c, st->trust != NULL, "USER_INPUT_TRUST_STORE_VALIDATION"))
		return;
	if ((info = calloc(1, sizeof(*info))) == NULL) {
		fail(st, c, ECA_ERR_NOMEM, "out of memory");
		return;
	}
	memset(&pol, 0, sizeof(pol));
	pol.libctx = st->libctx;
	pol.trust = st->trust;
	pol.identity = st->cfg->identity;
	pol.crl_check = ECA_CRL_DISABLE;
	eca_err_clear(&err);
	r = eca_x509_check_peer(&pol, st->leaf, st->chain, NULL, info, &err);
	free(info);
	if (r != 0) {
		fail_err(st, c, r, &err);
		return;
	}
	st->chain_ok = 1;
	detail(c,
	    "%s chains through %d intermediate(s) to a CA in the "
	    "trust store and passes the acceptance policy now (every "
	    "certificate of the path valid, keys and signatures, name "
	    "constraints); usable for TLS client and server",
	    st->info.subject, sk_X509_num(st->chain));
}

static void
cert_validity(struct hstate *st, struct eca_health_check *c)
{
	char when[ECA_TEXT_TIME_LEN], subj[ECA_DN_MAX];
	time_t now = time(NULL);
	X509 *x;
	int64_t days;
	int i;

	if (!need(c, st->leaf != NULL, "USER_INPUT_CERTIFICATES_VALIDATION"))
		return;
	for (i = -1; i < sk_X509_num(st->chain); i++) {
		x = i < 0 ? st->leaf : sk_X509_value(st->chain, i);
		if (X509_NAME_oneline(X509_get_subject_name(x), subj,
			sizeof(subj)) == NULL)
			(void)snprintf(subj, sizeof(subj), "(unnamed)");
		if (X509_cmp_time(X509_get0_notAfter(x), &now) <= 0) {
			fail(st, c, ECA_ERR_EXPIRED,
			    "certificate %s has "
			    "expired: renew the certificate",
			    subj);
			ERR_clear_error();
			return;
		}
		if (X509_cmp_time(X509_get0_notBefore(x), &now) >= 0) {
			fail(st, c, ECA_ERR_NOT_YET_VALID,
			    "certificate %s "
			    "is not valid yet: check the system clock or "
			    "wait until it becomes valid",
			    subj);
			ERR_clear_error();
			return;
		}
	}
	st->validity_ok = 1;
	eca_text_utc(st->info.not_after, when, sizeof(when));
	days = (st->info.not_after - (int64_t)now) / 86400;
	if (eca_health_cert_level(st->info.not_after, (int64_t)now,
		st->cfg->cert_expiry_warn_days) != ECA_HEALTH_OK)
		detail(c,
		    "WARNING: the certificate expires in %lld day(s), "
		    "on %s, within ECA_CERT_EXPIRY_WARN_DAYS = %d: renew it "
		    "soon",
		    (long long)days, when, st->cfg->cert_expiry_warn_days);
	else
		detail(c, "valid until %s (%lld days left)", when,
		    (long long)days);
}

static void
key_strength(struct hstate *st, struct eca_health_check *c)
{
	if (!need(c, st->leaf != NULL, "USER_INPUT_CERTIFICATES_VALIDATION") ||
	    each_cert(st, c, eca_x509_check_key_strength) != 0)
		return;
	detail(c,
	    "leaf key %s; every key in the chain is RSA >= 2048, "
	    "EC P-256/P-384 or Ed25519",
	    st->info.key_desc);
}

static void
signature_alg(struct hstate *st, struct eca_health_check *c)
{
	if (!need(c, st->leaf != NULL, "USER_INPUT_CERTIFICATES_VALIDATION") ||
	    each_cert(st, c, eca_x509_check_signature) != 0)
		return;
	detail(c, "leaf signed with %s; no MD5 or SHA-1 in the chain",
	    st->info.sig_alg);
}

static void
key_usage(struct hstate *st, struct eca_health_check *c)
{
	struct eca_err err;
	int r;

	if (!need(c, st->leaf != NULL, "USER_INPUT_CERTIFICATES_VALIDATION"))
		return;
	eca_err_clear(&err);
	if ((r = eca_x509_check_usage(st->leaf, &err)) != 0) {
		fail_err(st, c, r, &err);
		return;
	}
	detail(c,
	    "end-entity certificate usable for TLS client and server "
	    "authentication%s",
	    (X509_get_extension_flags(st->leaf) & EXFLAG_XKUSAGE) != 0 ?
		" (extended key usage allows both)" :
		" (no extended key usage restriction)");
}

static void
identity(struct hstate *st, struct eca_health_check *c)
{
	const char *rule = eca_config_identity_name(st->cfg->identity);
	struct eca_err err;
	char subj[ECA_DN_MAX];
	int r;

	if (!need(c, st->leaf != NULL, "USER_INPUT_CERTIFICATES_VALIDATION"))
		return;
	if (st->cfg->client_name == NULL) {
		fail(st, c, ECA_ERR_CONFIG,
		    "CLIENT_NAME is not set: add this "
		    "host's name to %s",
		    st->cfg->path != NULL ? st->cfg->path : "eca.conf");
		return;
	}
	/*
	 * DN: the subject names this host only through the primary's
	 * mapping (`eca map add`), which is not known here: say so.
	 */
	if (st->cfg->identity == ECA_ID_DN) {
		detail(c,
		    "ECA_IDENTITY = DN: the certificate subject %s names "
		    "CLIENT_NAME %s only if an administrator mapped it on the "
		    "primary (`eca map list` there)",
		    eca_x509_subject_str(st->leaf, subj, sizeof(subj)),
		    st->cfg->client_name);
		return;
	}
	eca_err_clear(&err);
	if ((r = eca_x509_identity_matches(st->leaf, st->cfg->identity,
		 st->cfg->client_name, &err)) != 0) {
		fail(st, c, r, "%s (CLIENT_NAME = %s, ECA_IDENTITY = %s)",
		    err.msg, st->cfg->client_name, rule);
		return;
	}
	detail(c,
	    "the certificate names CLIENT_NAME %s under ECA_IDENTITY "
	    "= %s",
	    st->cfg->client_name, rule);
}

/*
 * What crl_status needs: revocation checking on, a cache directory, and
 * a certificate that passed the checks before.  0: c says why not.
 */
static int
crl_status_ready(struct hstate *st, struct eca_health_check *c)
{
	if (st->cfg->crl_check == ECA_CRL_DISABLE) {
		detail(c, "ECA_CRL_CHECK = DISABLE: no CRL is needed");
		return 0;
	}
	if (st->cfg->state_dir == NULL) {
		detail(c, "no CRL cache: STATE_DIR is not set");
		return 0;
	}
	return need(c, st->leaf != NULL,
		   "USER_INPUT_CERTIFICATES_VALIDATION") &&
	    need(c, st->trust != NULL, "USER_INPUT_TRUST_STORE_VALIDATION") &&
	    need(c, st->chain_ok, "CERT_CHAIN_VALIDATION") &&
	    need(c, st->validity_ok, "CERT_VALIDITY_VALIDATION");
}

/*
 * This host's certificate against the cache with options o, without
 * fetching and without fail-open: the report says what the cache holds,
 * and the policy's leniency is said by the caller.
 */
static int
crl_check_cached(struct hstate *st, const struct eca_crl_opts *o,
    struct eca_crl_result *res, struct eca_err *err)
{
	struct eca_crl_cache *cache = NULL;
	struct eca_crl_opts local = *o;
	int r;

	local.fail_open = 0;
	local.no_fetch = 1;
	if ((r = eca_crl_cache_new(st->libctx, &local, &cache, err)) != 0)
		return r;
	eca_err_clear(err);
	r = eca_crl_check(cache, st->trust, st->leaf, st->chain,
	    st->cfg->crl_check, 0, res, err);
	eca_crl_cache_free(cache);
	ERR_clear_error();
	return r;
}

/*
 * This host's own certificate against the CRL cache, as peers will check
 * it (ECA_CRL_CHECK: the leaf, or the whole chain), without fetching:
 * what the cache holds now.  Missing or in grace passes with a WARNING
 * (a new host has none until its first check or `eca crl download`);
 * expired past the grace period, or the certificate revoked, fails.
 */
static void
crl_status(struct hstate *st, struct eca_health_check *c)
{
	struct eca_crl_result res;
	struct eca_crl_opts o;
	struct eca_err err;
	struct stat sb;
	char dir[PATH_MAX];
	int r;

	if (!crl_status_ready(st, c))
		return;
	eca_err_clear(&err);
	if ((r = eca_crl_opts_from_config(st->cfg, dir, sizeof(dir), &o,
		 &err)) != 0) {
		fail_err(st, c, r, &err);
		return;
	}
	if (stat(dir, &sb) == -1 || !S_ISDIR(sb.st_mode)) {
		detail(c,
		    "NOTE: no CRL cache in %s yet: the CRL of %s is "
		    "fetched at the first check of a peer, or now with `eca "
		    "crl download`",
		    dir, st->info.issuer);
		return;
	}
	eca_err_clear(&err);
	r = crl_check_cached(st, &o, &res, &err);
	if (r == ECA_ERR_CRL_UNAVAILABLE &&
	    strstr(err.msg, "no CRL of") != NULL)
		detail(c, "NOTE: %s", err.msg);
	else if (r == ECA_ERR_CRL_UNAVAILABLE && st->cfg->crl_fail_open)
		detail(c, "WARNING: %s (accepted: ECA_CRL_FAIL_OPEN = YES)",
		    err.msg);
	else if (r != 0)
		fail_err(st, c, r, &err);
	else if (res.in_grace)
		detail(c, "WARNING: %s", res.note);
	else
		detail(c,
		    "ECA_CRL_CHECK = %s: a current CRL is cached for %s "
		    "and does not list this certificate",
		    eca_config_crl_check_name(st->cfg->crl_check),
		    st->info.issuer);
}

/*
 * The checks, in the order they run and are reported (health.h).  A
 * check that needs what an earlier one provided says so with need().
 */
static const struct {
	const char *id;
	const char *title;
	void (*run)(struct hstate *, struct eca_health_check *);
} checks[] = {
    {"USER_INPUT_CERT_PATH_VALIDATION", "Certificate file", cert_path},
    {"USER_INPUT_CERTIFICATES_VALIDATION", "Certificate chain format",
	certificates},
    {"USER_INPUT_PRIVATE_KEY_PATH_VALIDATION", "Private key file", key_path},
    {"USER_INPUT_PASSPHRASE_VALIDATION", "Private key decryption", passphrase},
    {"USER_INPUT_TRUST_STORE_VALIDATION", "Trust store", trust_store},
    {"USER_INPUT_TRUST_STORE_KEY_STRENGTH_VALIDATION", "Trust anchor keys",
	trust_key_strength},
    {"USER_INPUT_CRL_CONFIG_VALIDATION", "Revocation checking configuration",
	crl_config},
    {"KEY_CERT_MATCH_VALIDATION", "Private key matches certificate",
	key_cert_match},
    {"CERT_CHAIN_VALIDATION", "Chain to a trusted CA", cert_chain},
    {"CERT_VALIDITY_VALIDATION", "Validity period", cert_validity},
    {"KEY_STRENGTH_VALIDATION", "Key type and size", key_strength},
    {"SIGNATURE_ALGORITHM_VALIDATION", "Signature algorithms", signature_alg},
    {"KEY_USAGE_VALIDATION", "Key usage", key_usage},
    {"CERT_IDENTITY_VALIDATION", "Host identity", identity},
    {"CRL_STATUS_VALIDATION", "Revocation status (CRL cache)", crl_status},
};

_Static_assert(sizeof(checks) / sizeof(checks[0]) <= ECA_HEALTH_MAX,
    "ECA_HEALTH_MAX must hold every check");

/*
 * A check that passed with a "WARNING:" detail counts as a warning (exit
 * status 6 of `eca health-check`).  "NOTE:" details, such as no CRL cached
 * yet on a new host, are the normal state of things and do not.
 */
static void
mark_warning(struct eca_health_report *rep, struct eca_health_check *c)
{
	if (c->code != 0 || c->skipped ||
	    strncmp(c->detail, "WARNING:", 8) != 0)
		return;
	c->warned = 1;
	rep->warned++;
}

int
eca_health_run(OSSL_LIB_CTX *libctx, const struct eca_config *cfg,
    struct eca_health_report *report)
{
	struct hstate st;
	size_t i;

	memset(report, 0, sizeof(*report));
	memset(&st, 0, sizeof(st));
	st.libctx = libctx;
	st.cfg = cfg;
	st.rep = report;
	if (cfg == NULL)
		return ECA_ERR_INTERNAL;
	for (i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
		checks[i].run(&st, begin(&st, checks[i].id, checks[i].title));
	for (i = 0; i < report->n; i++)
		mark_warning(report, &report->checks[i]);
	X509_free(st.leaf);
	sk_X509_pop_free(st.chain, X509_free);
	eca_certinfo_clear(&st.info);
	EVP_PKEY_free(st.key);
	X509_STORE_free(st.trust);
	ERR_clear_error();
	for (i = 0; i < report->n; i++)
		if (report->checks[i].code != 0)
			return report->checks[i].code;
	return 0;
}

const char *
eca_health_level_name(enum eca_health_level l)
{
	switch (l) {
	case ECA_HEALTH_OK:
		return "ok";
	case ECA_HEALTH_WARN:
		return "warn";
	case ECA_HEALTH_CRITICAL:
		return "critical";
	}
	return "unknown";
}

int
eca_health_level_parse(const char *name, enum eca_health_level *out)
{
	enum eca_health_level l;

	for (l = ECA_HEALTH_OK; l <= ECA_HEALTH_CRITICAL; l++) {
		if (name != NULL &&
		    strcmp(name, eca_health_level_name(l)) == 0) {
			*out = l;
			return 0;
		}
	}
	return ECA_ERR_PROTOCOL;
}

enum eca_health_level
eca_health_worst(enum eca_health_level a, enum eca_health_level b)
{
	return a > b ? a : b;
}

enum eca_health_level
eca_health_cert_level(int64_t not_after, int64_t now, int warn_days)
{
	if (not_after <= now)
		return ECA_HEALTH_CRITICAL;
	if (warn_days > 0 && not_after - now < (int64_t)warn_days * 86400)
		return ECA_HEALTH_WARN;
	return ECA_HEALTH_OK;
}

enum eca_health_level
eca_health_writer_level(int running, int commit_failed, int64_t oldest_age)
{
	if (!running || commit_failed || oldest_age > ECA_HEALTH_QUEUE_CRIT_SEC)
		return ECA_HEALTH_CRITICAL;
	if (oldest_age > ECA_HEALTH_QUEUE_WARN_SEC)
		return ECA_HEALTH_WARN;
	return ECA_HEALTH_OK;
}

enum eca_health_level
eca_health_crl_level(enum eca_crl_state s)
{
	switch (s) {
	case ECA_CRL_OK:
		return ECA_HEALTH_OK;
	case ECA_CRL_IN_GRACE:
		return ECA_HEALTH_WARN;
	case ECA_CRL_EXPIRED:
		break;
	}
	return ECA_HEALTH_CRITICAL;
}

enum eca_health_level
eca_health_roster_level(int64_t synced_at, int64_t since, int64_t now,
    int sync_seconds, int max_age)
{
	int64_t age = now - (synced_at != 0 ? synced_at : since);

	if (max_age > 0 && age > max_age)
		return ECA_HEALTH_CRITICAL;
	if (sync_seconds > 0 && age > 3 * (int64_t)sync_seconds)
		return ECA_HEALTH_WARN;
	return ECA_HEALTH_OK;
}

int
eca_health_exit_code(enum eca_health_level l)
{
	switch (l) {
	case ECA_HEALTH_OK:
		return 0;
	case ECA_HEALTH_WARN:
		return 1;
	case ECA_HEALTH_CRITICAL:
		return 2;
	}
	return ECA_HEALTH_EXIT_UNKNOWN;
}
