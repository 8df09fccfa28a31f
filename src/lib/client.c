/* SPDX-License-Identifier: ISC */
/*
 * client.c - HTTPS/JSON client of the primary's API, on libcurl's easy
 * interface.
 *
 * One easy handle per client, reused for every request so libcurl keeps
 * the connection alive.  Over TLS the URL names the primary by its NAME
 * (so libcurl checks the certificate against that name) while
 * CURLOPT_CONNECT_TO sends the TCP connection to HOST:PORT; this host's
 * credentials and trust store go into libcurl's SSL_CTX through
 * eca_tls_ctx_use_cred(), so no file path is ever handed to libcurl and
 * every format eca accepts works.
 */
#include "client.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "tls.h"
#include "util.h"
#include "wire.h"

#define CONNECT_TIMEOUT_MAX_MS 10000L

struct eca_client {
	CURL *curl;
	const struct eca_cred *cred; /* borrowed; NULL over UNIX */
	char *name;		     /* primary's name, or socket path */
	char *addr;		     /* HOST:PORT, for messages */
	char *base; /* "https://NAME:PORT" or "http://localhost" */
	int is_unix;
	struct curl_slist *connect_to;
	struct curl_slist *headers;
	char errbuf[CURL_ERROR_SIZE];
	/* Body of the response in flight, at most ECA_RESPONSE_MAX. */
	char *buf;
	size_t len;
	size_t cap;
	int overflow;
	/* Set by the SSL_CTX callback when it cannot install the cred. */
	struct eca_err ctx_err;
	long busy_retry_ms; /* 0: a 429 is returned as is */
	long retry_after;   /* of the last response; -1 absent */
	unsigned long busy_retries;
	int raw; /* eca_client_call_raw: a 2xx body is not parsed */
};

int
eca_client_global_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return ECA_ERR_INTERNAL;
	return 0;
}

void
eca_client_global_cleanup(void)
{
	curl_global_cleanup();
}

static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct eca_client *c = arg;
	size_t n, ncap;
	char *nbuf;

	/* libcurl guarantees size == 1, but do not rely on it. */
	if (nmemb != 0 && size > SIZE_MAX / nmemb)
		return 0;
	n = size * nmemb;
	if (n > ECA_RESPONSE_MAX || c->len > ECA_RESPONSE_MAX - n) {
		c->overflow = 1;
		return 0; /* makes libcurl fail with CURLE_WRITE_ERROR */
	}
	if (c->len + n + 1 > c->cap) {
		ncap = c->cap == 0 ? 4096 : c->cap;
		while (ncap < c->len + n + 1)
			ncap *= 2;
		if (ncap > ECA_RESPONSE_MAX + 1)
			ncap = ECA_RESPONSE_MAX + 1;
		if ((nbuf = realloc(c->buf, ncap)) == NULL)
			return 0;
		c->buf = nbuf;
		c->cap = ncap;
	}
	memcpy(c->buf + c->len, ptr, n);
	c->len += n;
	c->buf[c->len] = '\0';
	return n;
}

/*
 * Response headers: only Retry-After matters, in its delay-seconds form
 * (an HTTP-date, or garbage, counts as absent).  libcurl's own
 * CURLINFO_RETRY_AFTER cannot tell "Retry-After: 0" from no header.
 */
static size_t
header_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	static const char name[] = "Retry-After:";
	struct eca_client *c = arg;
	char num[16], *end;
	size_t n, i, k;
	long v;

	if (nmemb != 0 && size > SIZE_MAX / nmemb)
		return 0;
	n = size * nmemb;
	if (n < sizeof(name) - 1 ||
	    strncasecmp(ptr, name, sizeof(name) - 1) != 0)
		return n;
	for (i = sizeof(name) - 1; i < n && (ptr[i] == ' ' || ptr[i] == '\t');
	     i++)
		;
	for (k = 0;
	     i < n && k < sizeof(num) - 1 && ptr[i] >= '0' && ptr[i] <= '9';
	     i++)
		num[k++] = ptr[i];
	num[k] = '\0';
	errno = 0;
	v = strtol(num, &end, 10);
	if (k > 0 && errno == 0 && *end == '\0')
		c->retry_after = v;
	return n;
}

/*
 * libcurl hands over its OpenSSL SSL_CTX before the handshake: install
 * this host's certificate, chain, key and trust store there.
 */
static CURLcode
ssl_ctx_cb(CURL *curl, void *sslctx, void *arg)
{
	struct eca_client *c = arg;
	struct eca_err why;

	(void)curl;
	if (eca_tls_ctx_use_cred(sslctx, c->cred, &c->ctx_err) != 0) {
		/*
		 * OpenSSL's security level refuses a weak key or a SHA-1
		 * signature before anything is sent; name the reason the
		 * primary would give (WEAK_KEY, WEAK_SIGNATURE, ...) rather
		 * than OpenSSL's bare "ee key too small".
		 */
		eca_err_clear(&why);
		if (eca_x509_check_acceptable(c->cred->leaf, c->cred->chain,
			&why) != 0)
			c->ctx_err = why;
		return CURLE_SSL_CERTPROBLEM;
	}
	/* Never below TLS 1.2, whatever libcurl's defaults are. */
	if (SSL_CTX_get_min_proto_version((SSL_CTX *)sslctx) < TLS1_2_VERSION &&
	    SSL_CTX_set_min_proto_version(sslctx, TLS1_2_VERSION) != 1) {
		eca_err_set(&c->ctx_err, ECA_ERR_INTERNAL,
		    "cannot restrict TLS to version 1.2 or later");
		eca_err_add_openssl(&c->ctx_err);
		return CURLE_SSL_CERTPROBLEM;
	}
	return CURLE_OK;
}

/* Options common to TLS and UNIX clients. */
static int
setup_common(struct eca_client *c, long timeout_ms, struct eca_err *err)
{
	long cto;
	CURLcode rc = CURLE_OK;

	if (timeout_ms <= 0)
		timeout_ms = 30000L;
	cto = timeout_ms < CONNECT_TIMEOUT_MAX_MS ? timeout_ms :
						    CONNECT_TIMEOUT_MAX_MS;
	if ((c->headers = curl_slist_append(NULL,
		 "Content-Type: application/json")) == NULL ||
	    (c->headers = curl_slist_append(c->headers,
		 "Accept: application/json")) == NULL ||
	    /* Small bodies: no "Expect: 100-continue" round trip. */
	    (c->headers = curl_slist_append(c->headers, "Expect:")) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory building the request headers");

	/* Each call is checked; the first failure stops the chain. */
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->errbuf);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, write_cb);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION,
		    header_cb);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, c);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, cto);
	/* A proxy from the environment must never sit in between. */
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c->curl, CURLOPT_PROXY, "");
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "eca");
	if (rc != CURLE_OK)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot set up the HTTP client: %s",
		    curl_easy_strerror(rc));
	return 0;
}

static int
client_alloc(struct eca_client **out, struct eca_err *err)
{
	struct eca_client *c;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory creating the HTTP client");
	if ((c->curl = curl_easy_init()) == NULL) {
		free(c);
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot create a libcurl handle (was "
		    "eca_client_global_init called?)");
	}
	*out = c;
	return 0;
}

static char *
xstrdup(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

/* "[h]" for an IPv6 literal, "h" otherwise, as libcurl wants in CONNECT_TO. */
static const char *
bracket(const char *h, char *buf, size_t len)
{
	if (strchr(h, ':') == NULL || h[0] == '[')
		return h;
	snprintf(buf, len, "[%s]", h);
	return buf;
}

/* Is libcurl built on OpenSSL?  The SSL_CTX callback needs it. */
static int
curl_has_openssl(void)
{
	const curl_version_info_data *vi;

	vi = curl_version_info(CURLVERSION_NOW);
	return vi != NULL && vi->ssl_version != NULL &&
	    strncmp(vi->ssl_version, "OpenSSL", 7) == 0;
}

/*
 * Where c talks to: c->name and c->addr for messages, c->base for URLs
 * (the primary's NAME, so libcurl checks the certificate against it) and
 * the CONNECT_TO entry that sends the TCP connection to host:port.
 */
static int
tls_target(struct eca_client *c, const struct eca_endpoint *ep,
    const char *host, const char *port)
{
	char hb[300], nb[300], *ct = NULL;
	size_t len;
	int r = ECA_ERR_NOMEM;

	if ((c->name = xstrdup(ep->name)) == NULL)
		goto out;
	len = strlen(host) + strlen(port) + 4;
	if ((c->addr = malloc(len)) == NULL)
		goto out;
	snprintf(c->addr, len, "%s:%s", bracket(host, hb, sizeof(hb)), port);
	len = strlen(ep->name) + strlen(port) + 16;
	if ((c->base = malloc(len)) == NULL)
		goto out;
	snprintf(c->base, len, "https://%s:%s",
	    bracket(ep->name, nb, sizeof(nb)), port);
	len = strlen(ep->name) + strlen(host) + 2 * strlen(port) + 8;
	if ((ct = malloc(len)) == NULL)
		goto out;
	snprintf(ct, len, "%s:%s:%s:%s", bracket(ep->name, nb, sizeof(nb)),
	    port, bracket(host, hb, sizeof(hb)), port);
	if ((c->connect_to = curl_slist_append(NULL, ct)) == NULL)
		goto out;
	r = 0;
out:
	free(ct);
	return r;
}

/* The TLS options; the first failure stops the chain. */
static CURLcode
tls_options(struct eca_client *c)
{
	CURLcode rc;

	rc = curl_easy_setopt(c->curl, CURLOPT_CONNECT_TO, c->connect_to);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "https");
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c->curl, CURLOPT_SSLVERSION,
		    (long)CURL_SSLVERSION_TLSv1_2);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, 1L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, 2L);
	/*
	 * Trust only this host's trust store (installed by the callback):
	 * no system CA bundle or directory, and no partial chains ending at
	 * an intermediate unless the store itself carries
	 * X509_V_FLAG_PARTIAL_CHAIN (ECA_TRUST_PARTIAL_CHAIN = YES, set by
	 * eca_cred_load): libcurl's own flag stays off either way.
	 */
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c->curl, CURLOPT_CAINFO, NULL);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c->curl, CURLOPT_CAPATH, NULL);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c->curl, CURLOPT_SSL_OPTIONS,
		    (long)CURLSSLOPT_NO_PARTIALCHAIN);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c->curl, CURLOPT_SSL_CTX_FUNCTION,
		    ssl_ctx_cb);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c->curl, CURLOPT_SSL_CTX_DATA, c);
	return rc;
}

int
eca_client_new_tls(const struct eca_endpoint *ep, const struct eca_cred *cred,
    long timeout_ms, struct eca_client **out, struct eca_err *err)
{
	struct eca_client *c = NULL;
	const char *host, *port;
	CURLcode rc;
	int r;

	*out = NULL;
	if (ep == NULL || ep->name == NULL || ep->name[0] == '\0' ||
	    cred == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "TLS client needs a primary name and credentials");
	host = ep->host != NULL && ep->host[0] != '\0' ? ep->host : ep->name;
	port = ep->port != NULL && ep->port[0] != '\0' ? ep->port :
							 ECA_DEFAULT_API_PORT;
	if (!curl_has_openssl())
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "libcurl is not built with OpenSSL (install the "
		    "OpenSSL flavour of libcurl, libcurl4-openssl-dev)");
	if ((r = client_alloc(&c, err)) != 0)
		goto out;
	c->cred = cred;
	if ((r = tls_target(c, ep, host, port)) != 0) {
		r = eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory creating "
		    "the client for primary %s",
		    ep->name);
		goto out;
	}
	if ((r = setup_common(c, timeout_ms, err)) != 0)
		goto out;
	if ((rc = tls_options(c)) != CURLE_OK) {
		r = eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot set up TLS for primary %s: %s", ep->name,
		    curl_easy_strerror(rc));
		goto out;
	}
	*out = c;
	c = NULL;
	r = 0;
out:
	eca_client_free(c);
	return r;
}

int
eca_client_new_unix(const char *path, long timeout_ms, struct eca_client **out,
    struct eca_err *err)
{
	struct eca_client *c = NULL;
	CURLcode rc = CURLE_OK;
	int r;

	*out = NULL;
	if (path == NULL || path[0] == '\0')
		return eca_err_set(err, ECA_ERR_CONFIG,
		    "no control socket path (set CONTROL_SOCKET in eca.conf)");
	if ((r = client_alloc(&c, err)) != 0)
		goto out;
	c->is_unix = 1;
	if ((c->name = xstrdup(path)) == NULL ||
	    (c->addr = xstrdup(path)) == NULL ||
	    (c->base = xstrdup("http://localhost")) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory creating the control socket client");
		goto out;
	}
	if ((r = setup_common(c, timeout_ms, err)) != 0)
		goto out;
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c->curl, CURLOPT_UNIX_SOCKET_PATH, path);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http");
	if (rc != CURLE_OK) {
		r = eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot set up the control socket client for %s: %s", path,
		    curl_easy_strerror(rc));
		goto out;
	}
	*out = c;
	c = NULL;
	r = 0;
out:
	eca_client_free(c);
	return r;
}

void
eca_client_free(struct eca_client *c)
{
	if (c == NULL)
		return;
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	curl_slist_free_all(c->connect_to);
	curl_slist_free_all(c->headers);
	free(c->name);
	free(c->addr);
	free(c->base);
	free(c->buf);
	free(c);
}

void
eca_client_set_busy_retry(struct eca_client *c, long total_ms)
{
	if (c != NULL)
		c->busy_retry_ms = total_ms > 0 ? total_ms : 0;
}

unsigned long
eca_client_busy_retries(const struct eca_client *c)
{
	return c != NULL ? c->busy_retries : 0;
}

long
eca_client_busy_delay_ms(long retry_after_s, unsigned int jitter)
{
	if (retry_after_s < 0)
		retry_after_s = 1;
	if (retry_after_s > ECA_CLIENT_RETRY_AFTER_MAX)
		retry_after_s = ECA_CLIENT_RETRY_AFTER_MAX;
	return retry_after_s * 1000L + (long)(jitter % 1000u);
}

static void
sleep_ms(long ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * After a 429: the wait before the next try, or -1 when it would go past
 * the retry budget (spent: ms waited so far in this request).
 */
static long
busy_wait_ms(struct eca_client *c, long spent)
{
	unsigned char rnd[2];
	unsigned int jitter;
	long delay;

	if (RAND_bytes(rnd, sizeof(rnd)) == 1)
		jitter = (unsigned int)rnd[0] << 8 | rnd[1];
	else {
		ERR_clear_error();
		jitter = 500;
	}
	delay = eca_client_busy_delay_ms(c->retry_after, jitter);
	if (spent + delay > c->busy_retry_ms)
		return -1;
	return delay;
}

/* The transport failure as a sentence naming the primary and the remedy. */
static int
transport_error(struct eca_client *c, CURLcode rc, struct eca_err *err)
{
	const char *why;
	char osbuf[256];
	long oserr = 0;

	why = c->errbuf[0] != '\0' ? c->errbuf : curl_easy_strerror(rc);
	/*
	 * Over the control socket libcurl's sentence speaks of "localhost
	 * port 80"; the system error (no such file, permission denied) is
	 * what the administrator needs.
	 */
	if (c->is_unix) {
		if (curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &oserr) ==
			CURLE_OK &&
		    oserr != 0) {
			snprintf(osbuf, sizeof(osbuf), "%s: %s",
			    curl_easy_strerror(rc), strerror((int)oserr));
			why = osbuf;
		} else
			why = curl_easy_strerror(rc);
	}
	if (rc == CURLE_SSL_CERTPROBLEM && c->ctx_err.code != 0)
		return eca_err_set(err, c->ctx_err.code,
		    "cannot present this host's certificate to primary %s: %s",
		    c->name, c->ctx_err.msg);
	if (rc == CURLE_WRITE_ERROR && c->overflow)
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "response from %s is larger than %d bytes",
		    c->is_unix ? "the control socket" : c->name,
		    ECA_RESPONSE_MAX);

	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		if (c->is_unix)
			return eca_err_set(err, ECA_ERR_TIMEOUT,
			    "ecad control socket %s timed out: %s (check that "
			    "ecad runs and is not overloaded)",
			    c->addr, why);
		return eca_err_set(err, ECA_ERR_TIMEOUT,
		    "primary %s at %s timed out: %s (check that ecad runs on "
		    "the primary and SERVER in eca.conf)",
		    c->name, c->addr, why);
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		return eca_err_set(err, ECA_ERR_UNTRUSTED,
		    "primary %s at %s is not trusted: %s (check that its "
		    "certificate names %s and chains to ECA_TRUST_STORE_PATH)",
		    c->name, c->addr, why, c->name);
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_UNSUPPORTED_PROTOCOL:
		if (c->is_unix)
			return eca_err_set(err, ECA_ERR_UNREACHABLE,
			    "ecad control socket %s unreachable: %s (check "
			    "that ecad runs, CONTROL_SOCKET in eca.conf, and "
			    "run as root or as ecad's user)",
			    c->addr, why);
		return eca_err_set(err, ECA_ERR_UNREACHABLE,
		    "primary %s at %s unreachable: %s (check that ecad runs "
		    "on the primary and SERVER in eca.conf)",
		    c->name, c->addr, why);
	case CURLE_OUT_OF_MEMORY:
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory talking to %s", c->name);
	default:
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "request to %s at %s failed: %s", c->name, c->addr, why);
	}
}

/* Reset the per-request options of the reused handle. */
static CURLcode
set_method(CURL *curl, const char *method, const char *body, size_t blen)
{
	CURLcode rc;

	if (body != NULL) {
		rc = curl_easy_setopt(curl, CURLOPT_POST, 1L);
		if (rc == CURLE_OK)
			rc = curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
			    (curl_off_t)blen);
		if (rc == CURLE_OK)
			rc = curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
		if (rc == CURLE_OK)
			rc = curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST,
			    strcmp(method, "POST") == 0 ? NULL : method);
	} else {
		rc = curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
		if (rc == CURLE_OK)
			rc = curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST,
			    strcmp(method, "GET") == 0 ? NULL : method);
	}
	return rc;
}

/* Forget the last response: what the callbacks fill. */
static void
response_reset(struct eca_client *c)
{
	c->len = 0;
	c->overflow = 0;
	c->retry_after = -1;
	c->errbuf[0] = '\0';
	eca_err_clear(&c->ctx_err);
	if (c->buf != NULL)
		c->buf[0] = '\0';
}

/*
 * method on path with text as the body (NULL: none) on the reused handle;
 * *code is the HTTP status.  A transport failure is named by
 * transport_error.
 */
static int
perform(struct eca_client *c, const char *method, const char *path,
    const char *text, long *code, struct eca_err *err)
{
	char *url = NULL;
	const char *b;
	size_t len;
	CURLcode rc;
	int r;

	/*
	 * A method other than GET without a body still sends an empty body
	 * so that the request carries Content-Length: 0.
	 */
	b = text;
	if (b == NULL && strcmp(method, "POST") == 0)
		b = "";
	len = strlen(c->base) + strlen(path) + 1;
	if ((url = malloc(len)) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
	snprintf(url, len, "%s%s", c->base, path);
	response_reset(c);
	rc = curl_easy_setopt(c->curl, CURLOPT_URL, url);
	if (rc == CURLE_OK)
		rc = set_method(c->curl, method, b, b != NULL ? strlen(b) : 0);
	if (rc != CURLE_OK)
		r = eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot prepare %s %s: "
		    "%s",
		    method, path, curl_easy_strerror(rc));
	else if ((rc = curl_easy_perform(c->curl)) != CURLE_OK)
		r = transport_error(c, rc, err);
	else if (curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, code) !=
		CURLE_OK ||
	    *code < 100 || *code > 599)
		r = eca_err_set(err, ECA_ERR_PROTOCOL,
		    "no valid HTTP status from %s at %s", c->name, c->addr);
	else
		r = 0;
	free(url);
	return r;
}

/* The body received as JSON, NULL when empty; PROTOCOL when not JSON. */
static int
response_json(struct eca_client *c, const char *method, const char *path,
    long code, json_t **out, struct eca_err *err)
{
	json_error_t jerr = {.line = 0}; /* jansson may leave it unset */

	*out = NULL;
	if (c->len == 0 || (c->raw && code >= 200 && code < 300))
		return 0;
	if ((*out = json_loadb(c->buf, c->len, JSON_REJECT_DUPLICATES,
		 &jerr)) == NULL)
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "response of %s to %s %s (HTTP %ld) is not JSON: "
		    "%s at offset %d",
		    c->is_unix ? "ecad" : c->name, method, path, code,
		    jerr.text, jerr.position);
	return 0;
}

/* One request, no retry: eca_client_request's contract. */
static int
request_once(struct eca_client *c, const char *method, const char *path,
    const json_t *body, long *status, json_t **resp, struct eca_err *err)
{
	char *text = NULL;
	long code = 0;
	int r;

	*resp = NULL;
	*status = 0;
	if (c == NULL || method == NULL || path == NULL || path[0] != '/')
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "bad request arguments (method and a path \"/v1/...\")");
	if (body != NULL && (text = json_dumps(body, JSON_COMPACT)) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "cannot encode the request body");
	r = perform(c, method, path, text, &code, err);
	free(text);
	if (r == 0 &&
	    (r = response_json(c, method, path, code, resp, err)) == 0)
		*status = code;
	return r;
}

int
eca_client_request(struct eca_client *c, const char *method, const char *path,
    const json_t *body, long *status, json_t **resp, struct eca_err *err)
{
	unsigned long n = 0;
	int64_t t0;
	long wait;
	int r;

	t0 = eca_util_mono_ms();
	for (;;) {
		r = request_once(c, method, path, body, status, resp, err);
		if (r != 0 || *status != 429 || c->busy_retry_ms <= 0)
			return r;
		if ((wait = busy_wait_ms(c, (long)(eca_util_mono_ms() - t0))) <
		    0)
			break;
		json_decref(*resp);
		*resp = NULL;
		c->busy_retries++;
		n++;
		sleep_ms(wait);
	}
	json_decref(*resp);
	*resp = NULL;
	return eca_err_set(err, ECA_ERR_BUSY,
	    "%s stayed busy (HTTP 429) through %lu retries in %ld s: it is "
	    "overloaded by other hosts (try again in a few minutes; on the "
	    "primary, see MAX_HANDSHAKES and MAX_PENDING_ENROLLMENTS)",
	    c->is_unix ? "ecad" : c->name, n,
	    (long)((eca_util_mono_ms() - t0) / 1000));
}

int
eca_client_call(struct eca_client *c, const char *method, const char *path,
    const json_t *body, long *status, json_t **resp, struct eca_err *err)
{
	int r;

	eca_err_clear(err);
	if ((r = eca_client_request(c, method, path, body, status, resp,
		 err)) != 0)
		return r;
	if (*status >= 200 && *status < 300)
		return 0;
	if (*resp != NULL && (r = eca_wire_parse_error(*resp, err)) != 0)
		return r;
	return eca_err_set(err, ECA_ERR_PROTOCOL,
	    "unexpected HTTP status %ld to %s %s without an error object",
	    *status, method, path);
}

int
eca_client_call_raw(struct eca_client *c, const char *method, const char *path,
    long *status, const char **body, size_t *len, struct eca_err *err)
{
	json_t *resp = NULL;
	int r;

	*body = NULL;
	*len = 0;
	if (c == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_client_call_raw: missing client");
	c->raw = 1;
	r = eca_client_call(c, method, path, NULL, status, &resp, err);
	c->raw = 0;
	json_decref(resp); /* only ever an error's object */
	if (r != 0)
		return r;
	*body = c->buf != NULL ? c->buf : "";
	*len = c->len;
	return 0;
}
