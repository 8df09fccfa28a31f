/* SPDX-License-Identifier: ISC */
/*
 * crl_fetch.c - where CRLs come from: the directory ECA_CRL_PATH, or the
 * CRL distribution points the certificates name, downloaded with libcurl
 * (http and https only, size-capped, with a timeout).  What comes is
 * offered to the cache (crl.c), which checks the signer and keeps the
 * newer CRL.
 */
#include "crl_impl.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "text.h"
#include "util.h"

#define URL_MAX 512 /* longest distribution point URI used */

int
crl_is_http(const char *s)
{
	return strncasecmp(s, "http://", 7) == 0 ||
	    strncasecmp(s, "https://", 8) == 0;
}

/*
 * ECA_CRL_PATH
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
		return eca_err_set(err, ECA_ERR_CONFIG,
		    "ECA_CRL_PATH is not "
		    "set: CRLs come from the distribution points");
	pthread_mutex_lock(&c->lock);
	c->last_sync = time(NULL);
	pthread_mutex_unlock(&c->lock);
	if ((d = opendir(c->crl_path)) == NULL)
		return eca_err_set(err, ECA_ERR_UNREADABLE,
		    "cannot read "
		    "ECA_CRL_PATH %s: %s (create it and put the CAs' CRLs in "
		    "it, or unset it to use distribution points)",
		    c->crl_path, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		eca_text_fmt(path, sizeof(path), "%s/%s", c->crl_path,
		    de->d_name);
		eca_err_clear(&e);
		if ((r = eca_util_read_file(path, "CRL", ECA_CRL_FILE_MAX, &buf,
			 &len, NULL, NULL, &e)) == 0) {
			r = crl_add_from(c, trust, untrusted, buf, len, path,
			    &stored, &e);
			eca_util_free_file(buf, len);
		}
		if (r != 0) {
			nbad++;
			log_debug("CRL %s refused: %s", path, e.msg);
			if (bad[0] == '\0')
				eca_text_fmt(bad, sizeof(bad), "%s", e.msg);
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

/*
 * Distribution points
 */

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

/* The options of one CRL download: http(s) only, bounded in size and time. */
static CURLcode
setup(CURL *curl, const char *url, long timeout_ms, char *errbuf, struct dl *d)
{
	CURLcode rc;

	rc = curl_easy_setopt(curl, CURLOPT_URL, url);
	if (rc == CURLE_OK)
		rc =
		    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
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
		rc = curl_easy_setopt(curl, CURLOPT_WRITEDATA, d);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(curl, CURLOPT_USERAGENT, "eca");
	return rc;
}

/* GET url (http or https) into *out, at most ECA_CRL_FILE_MAX bytes. */
static int
fetch_url(const char *url, long timeout_ms, unsigned char **out, size_t *outlen,
    struct eca_err *err)
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
	rc = setup(curl, url, timeout_ms, errbuf, &d);
	if (rc != CURLE_OK) {
		r = eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot set up the "
		    "download of %s: %s",
		    url, curl_easy_strerror(rc));
		goto out;
	}
	if ((rc = curl_easy_perform(curl)) != CURLE_OK) {
		r = eca_err_set(err,
		    d.overflow || rc == CURLE_FILESIZE_EXCEEDED ?
			ECA_ERR_TOO_LARGE :
			rc == CURLE_OPERATION_TIMEDOUT ? ECA_ERR_TIMEOUT :
							 ECA_ERR_UNREACHABLE,
		    "cannot download "
		    "the CRL from %s: %s",
		    url,
		    d.overflow		  ? "larger than "
					    "the CRL size limit" :
			errbuf[0] != '\0' ? errbuf :
					    curl_easy_strerror(rc));
		goto out;
	}
	(void)curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		r = eca_err_set(err, ECA_ERR_UNREACHABLE,
		    "the CRL "
		    "distribution point %s answered HTTP %ld",
		    url, status);
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

int
crl_fetch_add(struct eca_crl_cache *c, X509_STORE *trust,
    STACK_OF(X509) *untrusted, const char *url, long timeout_ms, int *stored,
    struct eca_err *err)
{
	unsigned char *buf = NULL;
	size_t len;
	int r;

	*stored = 0;
	if ((r = fetch_url(url, timeout_ms, &buf, &len, err)) != 0)
		return r;
	r = crl_add_from(c, trust, untrusted, buf, len, url, stored, err);
	free(buf);
	return r;
}

/* The http(s) URIs of x's CRL distribution points. */
static size_t
cdp_urls(X509 *x, char urls[][URL_MAX], size_t max)
{
	STACK_OF(DIST_POINT) *dps;
	STACK_OF(GENERAL_NAME) *names;
	DIST_POINT *dp;
	GENERAL_NAME *gn;
	ASN1_IA5STRING *uri;
	const char *s;
	size_t n = 0;
	int i, j, len;

	dps = X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL);
	for (i = 0; i < sk_DIST_POINT_num(dps) && n < max; i++) {
		dp = sk_DIST_POINT_value(dps, i);
		if (dp->distpoint == NULL || dp->distpoint->type != 0)
			continue;
		names = dp->distpoint->name.fullname;
		for (j = 0; j < sk_GENERAL_NAME_num(names) && n < max; j++) {
			gn = sk_GENERAL_NAME_value(names, j);
			if (gn->type != GEN_URI)
				continue;
			uri = gn->d.uniformResourceIdentifier;
			s = (const char *)ASN1_STRING_get0_data(uri);
			len = ASN1_STRING_length(uri);
			if (len <= 0 || len >= URL_MAX ||
			    memchr(s, '\0', (size_t)len) != NULL ||
			    !crl_is_http(s))
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
fetch_cdp(struct eca_crl_cache *c, X509_STORE *trust, STACK_OF(X509) *untrusted,
    X509 *x, long timeout_ms, int *stored, struct eca_err *err)
{
	char urls[ECA_CRL_URLS_MAX][URL_MAX];
	size_t i, n;
	int r = ECA_ERR_NOT_FOUND;

	*stored = 0;
	if ((n = cdp_urls(x, urls, ECA_CRL_URLS_MAX)) == 0)
		return eca_err_set(err, ECA_ERR_NOT_FOUND,
		    "the certificate "
		    "names no http(s) CRL distribution point");
	for (i = 0; i < n; i++) {
		if ((r = crl_fetch_add(c, trust, untrusted, urls[i], timeout_ms,
			 stored, err)) == 0)
			break;
		log_debug("%s", err != NULL ? err->msg : urls[i]);
	}
	return r;
}

int
crl_fetch_for(struct eca_crl_cache *c, X509_STORE *trust,
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

/*
 * The certificates whose distribution points a refresh tries: leaf, the
 * chain, then the trust store's CAs, into *all (the caller frees the
 * stack, not the certificates: *cas holds the store's references).
 */
static int
refresh_certs(struct eca_crl_cache *c, X509_STORE *trust, X509 *leaf,
    STACK_OF(X509) *chain, STACK_OF(X509) **all, STACK_OF(X509) **cas)
{
	X509_STORE_CTX *ctx = NULL;
	int i;

	*cas = NULL;
	if ((*all = sk_X509_new_null()) == NULL)
		return ECA_ERR_NOMEM;
	if (leaf != NULL)
		(void)sk_X509_push(*all, leaf);
	for (i = 0; i < sk_X509_num(chain); i++)
		(void)sk_X509_push(*all, sk_X509_value(chain, i));
	if (trust != NULL &&
	    (ctx = X509_STORE_CTX_new_ex(c->libctx, NULL)) != NULL &&
	    X509_STORE_CTX_init(ctx, trust, NULL, NULL) == 1 &&
	    (*cas = X509_STORE_get1_all_certs(trust)) != NULL)
		for (i = 0; i < sk_X509_num(*cas); i++)
			(void)sk_X509_push(*all, sk_X509_value(*cas, i));
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return 0;
}

int
eca_crl_cache_refresh(struct eca_crl_cache *c, X509_STORE *trust, X509 *leaf,
    STACK_OF(X509) *chain, size_t *added, struct eca_err *err)
{
	STACK_OF(X509) *all = NULL, *cas = NULL;
	char urls[1][URL_MAX];
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
	if (refresh_certs(c, trust, leaf, chain, &all, &cas) != 0)
		return eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
	for (i = 0; i < sk_X509_num(all); i++) {
		if (cdp_urls(sk_X509_value(all, i), urls, 1) == 0)
			continue;
		tried++;
		eca_err_clear(&e);
		if (crl_fetch_for(c, trust, chain, sk_X509_value(all, i),
			ECA_CRL_FETCH_TIMEOUT_MS, &n, &e) == 0)
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
		r = eca_err_set(err, ECA_ERR_NOT_FOUND,
		    "no certificate of "
		    "this host's chain or trust store names a CRL "
		    "distribution point: set ECA_CRL_PATH to a directory of "
		    "the CAs' CRLs");
	else if (ok > 0)
		r = 0;
	sk_X509_pop_free(cas, X509_free);
	sk_X509_free(all);
	ERR_clear_error();
	return r;
}
