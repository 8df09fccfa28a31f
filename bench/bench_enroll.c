/* SPDX-License-Identifier: ISC */
/*
 * bench_enroll.c - enrollment throughput against the primary, side by side
 * with a bare mutual-TLS server (nginx) over the same certificates.
 *
 * bench_enroll --target HOST:PORT --name NAME --trust FILE --certs DIR
 *     --n N --concurrency C --mode enroll|bare|get [--seconds S]
 *      [--first I] [--timeout MS] [--retry] [--nat] [--json]
 *
 * DIR holds h00000.pem/.key ... (host hNNNNN.bench.eca).  Every TLS client
 * context is built before the clock starts, so the timed part is what a
 * host pays to enroll: TCP connect, a full mutual-TLS handshake with its
 * own certificate, one request, the whole response.
 *
 *   enroll  N new connections, each POST /v1/enrollments for its host.
 *   bare    N new connections, each GET / (nginx: `return 200`).
 *   get     C kept-alive connections, each GET /v1/enrollments/NAME of its
 *           own host again and again for S seconds.
 *
 * --nat (enroll): each host says it is a NAT host ("nat": true), as a NAT
 * host's ecad does (bench/nat.sh's session hosts).
 *
 * --retry (enroll, bare): an answer 429 BUSY is retried on a new
 * connection after its Retry-After (1 s when absent) plus a random
 * 0..999 ms (RAND_bytes), for at most RETRY_BUDGET_SEC per host, as eca's
 * own client does (src/lib/client.c); the 429s are counted ("busy").
 * The storm test (tests/integration/t_storm.sh) drives it this way.
 *
 * This is a benchmark, not a test: it measures and reports; it asserts
 * nothing beyond counting responses whose status is not 200/201 as errors.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "err.h"
#include "tls.h"
#include "x509.h"

#define HOST_FMT "h%05zu"
#define HOST_DOMAIN ".bench.eca"
#define REQ_MAX 1024
#define HEAD_MAX (16 * 1024)
#define ERRMSG_MAX 256
#define RETRY_BUDGET_SEC 60.0
#define RETRY_AFTER_MAX 60

enum mode { MODE_ENROLL, MODE_BARE, MODE_GET };

struct opts {
	char host[256];
	char port[16];
	const char *name;
	const char *trust;
	const char *certs;
	size_t n;
	size_t first; /* the first host's index (--first; 0) */
	size_t conc;
	long seconds;
	long timeout_ms;
	enum mode mode;
	int json;
	int retry;
	int nat; /* enroll: "nat": true */
};

/* One host: its certificate and key as a ready TLS client context. */
struct client {
	struct eca_cred cred;
	SSL_CTX *ctx;
	char host[64];
};

/* Latencies of one thread (get mode), merged after the run. */
struct lat_buf {
	double *v;
	size_t n;
	size_t cap;
};

struct bench {
	struct opts o;
	struct addrinfo *ai;
	struct client *clients;
	size_t nclients;
	atomic_size_t next;   /* next host index (enroll, bare) */
	double *lat;	      /* per index (enroll, bare) */
	struct lat_buf *tlat; /* per thread (get) */
	double deadline;      /* monotonic seconds (get) */
	atomic_int stop;      /* set if the run is cut short */
	atomic_size_t ok;
	atomic_size_t created; /* 201 responses */
	atomic_size_t errors;
	atomic_size_t
	    reconnects;	    /* get: server closed a kept-alive connection */
	atomic_size_t busy; /* 429 answers (retried with --retry) */
	pthread_mutex_t errmu;
	char first_err[ERRMSG_MAX];
};

struct worker {
	struct bench *b;
	size_t id;
};

static const char *mode_names[] = {"enroll", "bare", "get"};

static void
usage(void)
{
	fprintf(stderr,
	    "usage: bench_enroll --target HOST:PORT --name NAME --trust FILE\n"
	    "           --certs DIR --n N --concurrency C "
	    "--mode enroll|bare|get\n"
	    "           [--first I] [--seconds S] [--timeout MS] [--retry] "
	    "[--nat] [--json]\n");
	exit(2);
}

static double
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long
parse_num(const char *opt, const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr,
		    "bench_enroll: %s: '%s' is not a number in "
		    "%ld..%ld\n",
		    opt, s, min, max);
		exit(2);
	}
	return v;
}

/* HOST:PORT, or [V6]:PORT. */
static void
parse_target(struct opts *o, const char *s)
{
	const char *colon, *h;
	size_t hl;

	colon = strrchr(s, ':');
	if (colon == NULL || colon[1] == '\0' || colon == s)
		goto bad;
	h = s;
	hl = (size_t)(colon - s);
	if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl >= sizeof(o->host) || strlen(colon + 1) >= sizeof(o->port))
		goto bad;
	memcpy(o->host, h, hl);
	o->host[hl] = '\0';
	snprintf(o->port, sizeof(o->port), "%s", colon + 1);
	return;
bad:
	fprintf(stderr, "bench_enroll: --target: '%s' is not HOST:PORT\n", s);
	exit(2);
}

static void
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
	    {"target", required_argument, NULL, 't'},
	    {"name", required_argument, NULL, 'N'},
	    {"trust", required_argument, NULL, 'T'},
	    {"certs", required_argument, NULL, 'c'},
	    {"n", required_argument, NULL, 'n'},
	    {"first", required_argument, NULL, 'f'},
	    {"concurrency", required_argument, NULL, 'C'},
	    {"mode", required_argument, NULL, 'm'},
	    {"seconds", required_argument, NULL, 's'},
	    {"timeout", required_argument, NULL, 'o'},
	    {"json", no_argument, NULL, 'j'},
	    {"retry", no_argument, NULL, 'r'},
	    {"nat", no_argument, NULL, 'a'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int ch, have_target = 0, have_mode = 0;
	size_t i;

	memset(o, 0, sizeof(*o));
	o->n = 2000;
	o->conc = 64;
	o->seconds = 5;
	o->timeout_ms = 10000;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 't':
			parse_target(o, optarg);
			have_target = 1;
			break;
		case 'N':
			o->name = optarg;
			break;
		case 'T':
			o->trust = optarg;
			break;
		case 'c':
			o->certs = optarg;
			break;
		case 'n':
			o->n = (size_t)parse_num("--n", optarg, 1, 99999);
			break;
		case 'f':
			o->first =
			    (size_t)parse_num("--first", optarg, 0, 99999);
			break;
		case 'C':
			o->conc =
			    (size_t)parse_num("--concurrency", optarg, 1, 4096);
			break;
		case 's':
			o->seconds = parse_num("--seconds", optarg, 1, 3600);
			break;
		case 'o':
			o->timeout_ms =
			    parse_num("--timeout", optarg, 1, 600000);
			break;
		case 'm':
			for (i = 0; i < 3; i++)
				if (strcmp(optarg, mode_names[i]) == 0)
					break;
			if (i == 3)
				usage();
			o->mode = (enum mode)i;
			have_mode = 1;
			break;
		case 'j':
			o->json = 1;
			break;
		case 'r':
			o->retry = 1;
			break;
		case 'a':
			o->nat = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || !have_target || !have_mode || o->name == NULL ||
	    o->trust == NULL || o->certs == NULL)
		usage();
}

static void
record_error(struct bench *b, const char *fmt, ...)
{
	va_list ap;

	atomic_fetch_add(&b->errors, 1);
	pthread_mutex_lock(&b->errmu);
	if (b->first_err[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(b->first_err, sizeof(b->first_err), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&b->errmu);
}

static const char *
ossl_reason(void)
{
	static _Thread_local char buf[160];
	unsigned long e;

	e = ERR_get_error();
	if (e == 0)
		snprintf(buf, sizeof(buf), "%s",
		    errno != 0 ? strerror(errno) : "connection closed");
	else
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

/*
 * Build every host's TLS client context before timing.  The trust store is
 * loaded once and shared (one reference per credential).
 */
static int
load_clients(struct bench *b, size_t count)
{
	X509_STORE *trust = NULL;
	struct eca_err err;
	char cert[PATH_MAX], key[PATH_MAX];
	size_t i;
	int r = -1;

	eca_err_clear(&err);
	if (eca_x509_load_trust(NULL, b->o.trust, &trust, &err) != 0) {
		fprintf(stderr, "bench_enroll: %s\n", err.msg);
		goto out;
	}
	if ((b->clients = calloc(count, sizeof(*b->clients))) == NULL)
		goto out;
	for (i = 0; i < count; i++) {
		struct client *c = &b->clients[i];

		b->nclients = i + 1; /* free_clients() takes what is loaded */
		snprintf(c->host, sizeof(c->host), HOST_FMT HOST_DOMAIN,
		    i + b->o.first);
		snprintf(cert, sizeof(cert), "%s/" HOST_FMT ".pem", b->o.certs,
		    i + b->o.first);
		snprintf(key, sizeof(key), "%s/" HOST_FMT ".key", b->o.certs,
		    i + b->o.first);
		if (eca_x509_load_chain(NULL, cert, &c->cred.leaf,
			&c->cred.chain, &err) != 0 ||
		    eca_x509_load_key(NULL, key, NULL, &c->cred.key, &err) !=
			0) {
			fprintf(stderr, "bench_enroll: %s\n", err.msg);
			goto out;
		}
		if (!X509_STORE_up_ref(trust))
			goto out;
		c->cred.trust = trust;
		if (eca_tls_client_ctx(NULL, &c->cred, &c->ctx, &err) != 0) {
			fprintf(stderr, "bench_enroll: %s\n", err.msg);
			goto out;
		}
	}
	r = 0;
out:
	X509_STORE_free(trust);
	return r;
}

static void
free_clients(struct bench *b)
{
	size_t i;

	for (i = 0; i < b->nclients; i++) {
		struct client *c = &b->clients[i];

		SSL_CTX_free(c->ctx);
		X509_free(c->cred.leaf);
		sk_X509_pop_free(c->cred.chain, X509_free);
		EVP_PKEY_free(c->cred.key);
		X509_STORE_free(c->cred.trust);
	}
	free(b->clients);
	b->clients = NULL;
	b->nclients = 0;
}

static int
tcp_connect(struct bench *b)
{
	struct timeval tv;
	int fd, one = 1;

	fd = socket(b->ai->ai_family, b->ai->ai_socktype | SOCK_CLOEXEC,
	    b->ai->ai_protocol);
	if (fd == -1)
		return -1;
	tv.tv_sec = b->o.timeout_ms / 1000;
	tv.tv_usec = (b->o.timeout_ms % 1000) * 1000;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1 ||
	    connect(fd, b->ai->ai_addr, b->ai->ai_addrlen) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* TCP connect and a full handshake with c's certificate; NULL on failure. */
static SSL *
tls_open(struct bench *b, struct client *c)
{
	SSL *ssl = NULL;
	int fd;

	errno = 0;
	if ((fd = tcp_connect(b)) == -1) {
		record_error(b, "connect to %s:%s: %s", b->o.host, b->o.port,
		    strerror(errno));
		return NULL;
	}
	if ((ssl = SSL_new(c->ctx)) == NULL || !SSL_set_fd(ssl, fd) ||
	    !SSL_set_tlsext_host_name(ssl, b->o.name) ||
	    !SSL_set1_host(ssl, b->o.name)) {
		record_error(b, "SSL setup: %s", ossl_reason());
		goto fail;
	}
	SSL_set_options(ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
	errno = 0;
	if (SSL_connect(ssl) != 1) {
		record_error(b, "TLS handshake as %s: %s", c->host,
		    ossl_reason());
		goto fail;
	}
	return ssl;
fail:
	SSL_free(ssl);
	close(fd);
	return NULL;
}

static void
tls_close(SSL *ssl)
{
	int fd;

	if (ssl == NULL)
		return;
	fd = SSL_get_fd(ssl);
	(void)SSL_shutdown(ssl);
	SSL_free(ssl);
	if (fd != -1)
		close(fd);
}

static int
write_all(SSL *ssl, const char *buf, size_t len)
{
	size_t off = 0;
	int w;

	while (off < len) {
		w = SSL_write(ssl, buf + off, (int)(len - off));
		if (w <= 0)
			return -1;
		off += (size_t)w;
	}
	return 0;
}

/* Value of header name in the header block head (NUL-terminated), or NULL. */
static const char *
find_header(const char *head, const char *name)
{
	const char *p;
	size_t nl = strlen(name);

	for (p = strstr(head, "\r\n"); p != NULL; p = strstr(p, "\r\n")) {
		p += 2;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			p += nl + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			return p;
		}
	}
	return NULL;
}

/*
 * Send req, read the whole response (Content-Length, or up to close), and
 * give its status and whether the server will close the connection.
 */
static int
roundtrip(SSL *ssl, const char *req, size_t reqlen, int *status, int *closing,
    long *retry_after, char *why, size_t whylen)
{
	char buf[HEAD_MAX + 1];
	const char *cl, *hdr_end, *conn, *ra;
	size_t have = 0, need = 0, hlen;
	long long clen = -1;
	char *end;
	int r;

	*status = 0;
	*closing = 0;
	*retry_after = -1;
	if (write_all(ssl, req, reqlen) != 0) {
		snprintf(why, whylen, "send: %s", ossl_reason());
		return -1;
	}
	/* Headers. */
	for (;;) {
		if (have == HEAD_MAX) {
			snprintf(why, whylen, "response headers over %d bytes",
			    HEAD_MAX);
			return -1;
		}
		r = SSL_read(ssl, buf + have, (int)(HEAD_MAX - have));
		if (r <= 0) {
			snprintf(why, whylen, "read: %s",
			    have == 0 ? ossl_reason() :
					"connection closed mid-response");
			return -1;
		}
		have += (size_t)r;
		buf[have] = '\0';
		if ((hdr_end = strstr(buf, "\r\n\r\n")) != NULL)
			break;
	}
	hlen = (size_t)(hdr_end - buf) + 4;
	if (sscanf(buf, "HTTP/1.%*d %d", status) != 1) {
		snprintf(why, whylen, "not an HTTP response");
		return -1;
	}
	buf[hlen - 2] = '\0'; /* header lookups stop at the blank line */
	if ((conn = find_header(buf, "Connection")) != NULL &&
	    strncasecmp(conn, "close", 5) == 0)
		*closing = 1;
	if ((ra = find_header(buf, "Retry-After")) != NULL) {
		errno = 0;
		*retry_after = strtol(ra, &end, 10);
		if (errno != 0 || end == ra || *retry_after < 0)
			*retry_after = -1;
	}
	if ((cl = find_header(buf, "Content-Length")) != NULL) {
		errno = 0;
		clen = strtoll(cl, &end, 10);
		if (errno != 0 || end == cl || clen < 0) {
			snprintf(why, whylen, "bad Content-Length");
			return -1;
		}
	}
	if (clen < 0) {
		/* No length: the body ends when the server closes. */
		*closing = 1;
		while ((r = SSL_read(ssl, buf, HEAD_MAX)) > 0)
			;
		return 0;
	}
	need = hlen + (size_t)clen;
	while (have < need) {
		r = SSL_read(ssl, buf,
		    need - have < HEAD_MAX ? (int)(need - have) : HEAD_MAX);
		if (r <= 0) {
			snprintf(why, whylen,
			    "body: connection closed after "
			    "%zu of %lld bytes",
			    have - hlen, clen);
			return -1;
		}
		have += (size_t)r;
	}
	return 0;
}

static size_t
build_request(const struct bench *b, const struct client *c, char *req,
    size_t len)
{
	char body[128];
	int n, bl;

	switch (b->o.mode) {
	case MODE_ENROLL:
		bl = snprintf(body, sizeof(body), "{\"host\":\"%s\"%s}",
		    c->host, b->o.nat ? ",\"nat\":true" : "");
		n = snprintf(req, len,
		    "POST /v1/enrollments HTTP/1.1\r\n"
		    "Host: %s\r\nContent-Type: application/json\r\n"
		    "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
		    b->o.name, bl, body);
		break;
	case MODE_BARE:
		n = snprintf(req, len,
		    "GET / HTTP/1.1\r\nHost: %s\r\n"
		    "Connection: close\r\n\r\n",
		    b->o.name);
		break;
	default:
		n = snprintf(req, len,
		    "GET /v1/enrollments/%s HTTP/1.1\r\n"
		    "Host: %s\r\n\r\n",
		    c->host, b->o.name);
		break;
	}
	return n > 0 && (size_t)n < len ? (size_t)n : 0;
}

static int
status_ok(int status)
{
	return status == 200 || status == 201;
}

/*
 * --retry: the wait after a 429, in seconds, or a negative number once
 * the host's budget (from t0) would be spent.  Same rule as eca's client.
 */
static double
busy_wait(double t0, long retry_after)
{
	unsigned char rnd[2];
	double wait;

	if (retry_after < 0)
		retry_after = 1;
	if (retry_after > RETRY_AFTER_MAX)
		retry_after = RETRY_AFTER_MAX;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		ERR_clear_error();
		rnd[0] = rnd[1] = 0;
	}
	wait = (double)retry_after +
	    (double)(((unsigned)rnd[0] << 8 | rnd[1]) % 1000u) / 1000.0;
	if (now_sec() + wait - t0 > RETRY_BUDGET_SEC)
		return -1.0;
	return wait;
}

static void
sleep_sec(double s)
{
	struct timespec ts;

	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* enroll/bare: one new connection per host index. */
static void *
run_oneshot(void *arg)
{
	struct worker *w = arg;
	struct bench *b = w->b;
	struct client *c;
	char req[REQ_MAX], why[ERRMSG_MAX];
	size_t i, reqlen;
	double t0, wait;
	long retry_after;
	int status, closing;
	SSL *ssl;

	while (!atomic_load(&b->stop) &&
	    (i = atomic_fetch_add(&b->next, 1)) < b->o.n) {
		c = &b->clients[i];
		reqlen = build_request(b, c, req, sizeof(req));
		t0 = now_sec();
	again:
		if ((ssl = tls_open(b, c)) == NULL)
			continue;
		if (roundtrip(ssl, req, reqlen, &status, &closing, &retry_after,
			why, sizeof(why)) != 0) {
			record_error(b, "%s: %s", c->host, why);
		} else if (status == 429 && b->o.retry &&
		    (wait = busy_wait(t0, retry_after)) >= 0.0) {
			atomic_fetch_add(&b->busy, 1);
			tls_close(ssl);
			sleep_sec(wait);
			goto again;
		} else if (!status_ok(status)) {
			if (status == 429)
				atomic_fetch_add(&b->busy, 1);
			record_error(b, "%s: HTTP status %d", c->host, status);
		} else {
			b->lat[i] = (now_sec() - t0) * 1000.0;
			atomic_fetch_add(&b->ok, 1);
			if (status == 201)
				atomic_fetch_add(&b->created, 1);
		}
		tls_close(ssl);
	}
	return NULL;
}

static int
lat_push(struct lat_buf *l, double v)
{
	double *nv;
	size_t ncap;

	if (l->n == l->cap) {
		ncap = l->cap == 0 ? 4096 : l->cap * 2;
		if ((nv = realloc(l->v, ncap * sizeof(*nv))) == NULL)
			return -1;
		l->v = nv;
		l->cap = ncap;
	}
	l->v[l->n++] = v;
	return 0;
}

/* get: one kept-alive connection, the same request until the deadline. */
static void *
run_get(void *arg)
{
	struct worker *w = arg;
	struct bench *b = w->b;
	struct client *c = &b->clients[w->id % b->nclients];
	struct lat_buf *l = &b->tlat[w->id];
	char req[REQ_MAX], why[ERRMSG_MAX];
	size_t reqlen;
	double t0;
	long retry_after;
	int status, closing;
	SSL *ssl = NULL;

	reqlen = build_request(b, c, req, sizeof(req));
	while (!atomic_load(&b->stop) && now_sec() < b->deadline) {
		if (ssl == NULL && (ssl = tls_open(b, c)) == NULL) {
			usleep(10000);
			continue;
		}
		t0 = now_sec();
		if (roundtrip(ssl, req, reqlen, &status, &closing, &retry_after,
			why, sizeof(why)) != 0) {
			record_error(b, "%s: %s", c->host, why);
			closing = 1;
		} else if (!status_ok(status)) {
			record_error(b, "%s: HTTP status %d", c->host, status);
		} else {
			if (lat_push(l, (now_sec() - t0) * 1000.0) != 0) {
				record_error(b, "out of memory");
				break;
			}
			atomic_fetch_add(&b->ok, 1);
		}
		if (closing) {
			tls_close(ssl);
			ssl = NULL;
			atomic_fetch_add(&b->reconnects, 1);
		}
	}
	tls_close(ssl);
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The p-th percentile (nearest rank) of sorted v[0..n). */
static double
percentile(const double *v, size_t n, double p)
{
	size_t rank;

	if (n == 0)
		return 0.0;
	rank = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

/* Gather the successful latencies into one sorted array. */
static double *
collect(struct bench *b, size_t *count)
{
	double *all;
	size_t i, j, n = 0;

	if (b->o.mode != MODE_GET) {
		if ((all = calloc(b->o.n + 1, sizeof(*all))) == NULL)
			return NULL;
		for (i = 0; i < b->o.n; i++)
			if (b->lat[i] > 0.0)
				all[n++] = b->lat[i];
	} else {
		for (i = 0; i < b->o.conc; i++)
			n += b->tlat[i].n;
		if ((all = calloc(n + 1, sizeof(*all))) == NULL)
			return NULL;
		n = 0;
		for (i = 0; i < b->o.conc; i++)
			for (j = 0; j < b->tlat[i].n; j++)
				all[n++] = b->tlat[i].v[j];
	}
	qsort(all, n, sizeof(*all), cmp_double);
	*count = n;
	return all;
}

/* This process's CPU time (user and system) so far, in seconds. */
static double
cpu_sec(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0.0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/*
 * The machine's CPU time so far, idle and in all (clock ticks of every
 * core, /proc/stat): how much of the machine a run left unused, whoever
 * else ran.  Both 0 where /proc/stat cannot be read.
 */
static void
machine_ticks(unsigned long long *idle, unsigned long long *all)
{
	unsigned long long v[8] = {0};
	FILE *f;
	int i;

	*idle = *all = 0;
	if ((f = fopen("/proc/stat", "r")) == NULL)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
		&v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
		*idle = v[3] + v[4]; /* idle and iowait */
		for (i = 0; i < 8; i++)
			*all += v[i];
	}
	fclose(f);
}

/*
 * cpu: the client's own CPU time over the run, in seconds; idle: the
 * share of the machine's cores that stayed idle during it (%).
 */
static void
report(struct bench *b, double elapsed, double cpu, double idle)
{
	double *all, rate, p50, p99, cpu_ms;
	size_t n = 0, ok, errs;

	if ((all = collect(b, &n)) == NULL) {
		fprintf(stderr, "bench_enroll: out of memory\n");
		return;
	}
	ok = atomic_load(&b->ok);
	errs = atomic_load(&b->errors);
	rate = elapsed > 0.0 ? (double)ok / elapsed : 0.0;
	p50 = percentile(all, n, 50.0);
	p99 = percentile(all, n, 99.0);
	cpu_ms = ok > 0 ? cpu * 1000.0 / (double)ok : 0.0;
	if (b->o.json) {
		printf("{\"mode\":\"%s\",\"target\":\"%s:%s\",\"n\":%zu,"
		       "\"concurrency\":%zu,\"seconds\":%.3f,\"ok\":%zu,"
		       "\"created\":%zu,\"errors\":%zu,\"reconnects\":%zu,"
		       "\"busy\":%zu,"
		       "\"ops_per_sec\":%.1f,\"p50_ms\":%.2f,\"p99_ms\":%.2f,"
		       "\"client_cpu_ms\":%.3f,\"idle_pct\":%.1f}\n",
		    mode_names[b->o.mode], b->o.host, b->o.port,
		    b->o.mode == MODE_GET ? ok + errs : b->o.n, b->o.conc,
		    elapsed, ok, atomic_load(&b->created), errs,
		    atomic_load(&b->reconnects), atomic_load(&b->busy), rate,
		    p50, p99, cpu_ms, idle);
	} else {
		printf("mode %s  target %s:%s  concurrency %zu\n",
		    mode_names[b->o.mode], b->o.host, b->o.port, b->o.conc);
		printf("  ok %zu (201: %zu)  errors %zu  in %.2f s\n", ok,
		    atomic_load(&b->created), errs, elapsed);
		printf("  %.1f ops/s  p50 %.2f ms  p99 %.2f ms\n", rate, p50,
		    p99);
		printf("  client CPU %.3f ms per op, machine idle %.1f %%\n",
		    cpu_ms, idle);
		if (atomic_load(&b->busy) > 0)
			printf("  429 BUSY answers %zu%s\n",
			    atomic_load(&b->busy),
			    b->o.retry ? " (retried)" : "");
		if (b->o.mode == MODE_GET)
			printf("  reconnects %zu\n",
			    atomic_load(&b->reconnects));
	}
	if (b->first_err[0] != '\0')
		fprintf(stderr, "bench_enroll: first error: %s\n",
		    b->first_err);
	free(all);
}

static int
resolve(struct bench *b)
{
	struct addrinfo hints;
	int e;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((e = getaddrinfo(b->o.host, b->o.port, &hints, &b->ai)) != 0) {
		fprintf(stderr, "bench_enroll: %s:%s: %s\n", b->o.host,
		    b->o.port, gai_strerror(e));
		return -1;
	}
	return 0;
}

static int
run(struct bench *b, double *elapsed)
{
	struct worker *w = NULL;
	pthread_t *th = NULL;
	size_t i, started = 0;
	double t0;
	int r = -1;

	if ((w = calloc(b->o.conc, sizeof(*w))) == NULL ||
	    (th = calloc(b->o.conc, sizeof(*th))) == NULL)
		goto out;
	if (b->o.mode == MODE_GET) {
		if ((b->tlat = calloc(b->o.conc, sizeof(*b->tlat))) == NULL)
			goto out;
	} else if ((b->lat = calloc(b->o.n, sizeof(*b->lat))) == NULL)
		goto out;
	t0 = now_sec();
	b->deadline = t0 + (double)b->o.seconds;
	for (i = 0; i < b->o.conc; i++) {
		w[i].b = b;
		w[i].id = i;
		if (pthread_create(&th[i], NULL,
			b->o.mode == MODE_GET ? run_get : run_oneshot,
			&w[i]) != 0) {
			fprintf(stderr,
			    "bench_enroll: cannot start thread "
			    "%zu\n",
			    i);
			atomic_store(&b->stop, 1);
			break;
		}
		started++;
	}
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	*elapsed = now_sec() - t0;
	if (started == b->o.conc)
		r = 0;
out:
	free(w);
	free(th);
	return r;
}

int
main(int argc, char **argv)
{
	struct bench b;
	double t0, cpu0, elapsed = 0.0;
	unsigned long long idle0, all0, idle1, all1;
	size_t i, count;
	int r = 1;

	memset(&b, 0, sizeof(b));
	parse_args(argc, argv, &b.o);
	signal(SIGPIPE, SIG_IGN);
	pthread_mutex_init(&b.errmu, NULL);
	atomic_init(&b.next, 0);
	atomic_init(&b.ok, 0);
	atomic_init(&b.created, 0);
	atomic_init(&b.errors, 0);
	atomic_init(&b.reconnects, 0);
	atomic_init(&b.busy, 0);
	atomic_init(&b.stop, 0);

	if (resolve(&b) != 0)
		goto out;
	/* get needs only one host per connection */
	count = b.o.mode == MODE_GET && b.o.conc < b.o.n ? b.o.conc : b.o.n;
	t0 = now_sec();
	if (load_clients(&b, count) != 0)
		goto out;
	if (!b.o.json)
		fprintf(stderr,
		    "bench_enroll: %zu TLS client contexts ready "
		    "in %.2f s\n",
		    count, now_sec() - t0);
	cpu0 = cpu_sec();
	machine_ticks(&idle0, &all0);
	if (run(&b, &elapsed) != 0)
		goto out;
	machine_ticks(&idle1, &all1);
	report(&b, elapsed, cpu_sec() - cpu0,
	    all1 > all0 ?
		100.0 * (double)(idle1 - idle0) / (double)(all1 - all0) :
		0.0);
	r = 0;
out:
	free_clients(&b);
	if (b.tlat != NULL)
		for (i = 0; i < b.o.conc; i++)
			free(b.tlat[i].v);
	free(b.tlat);
	free(b.lat);
	if (b.ai != NULL)
		freeaddrinfo(b.ai);
	pthread_mutex_destroy(&b.errmu);
	return r;
}
