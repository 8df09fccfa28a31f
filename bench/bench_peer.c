/* SPDX-License-Identifier: ISC */
/*
 * bench_peer.c - issue 3 section 10 (a) and (c): what a host-to-host
 * channel costs beyond mutual TLS itself.
 *
 * Both are measured in R alternating rounds (bare, channel; then channel,
 * bare; ...), so that the drift of a shared machine falls on both alike;
 * the ratios are of the totals, with the median of the rounds' ratios.
 *
 * (a) setup: N times, at concurrency C, eca_channel_open + close to an
 *     enrolled peer's ecad (TCP, TLS, HELLOs, the verdict on both sides:
 *     roster lookups) against a bare mutual-TLS server in a process of
 *     its own, as ecad is: TCP, the same TLS handshake (same
 *     certificates, keys, TLS settings and cipher suites, each side
 *     verifying the other's chain against the same trust store, in the
 *     handshake, as mutual TLS does; a channel does that in its verdicts
 *     instead), one byte each way so that the server has finished
 *     verifying the client, close.
 * (c) stream: bulk receives of B bytes in all over channels (purpose
 *     restore) against B bytes read from the bare server over the same
 *     kind of TLS connection; only the transfers are timed.
 *
 * bench_peer --config CLIENT.conf --peer NAME --server-config PEER.conf
 *     [--n N] [--concurrency C] [--rounds R] [--bytes B] [--server-pid PID]
 *     [--crl FILE] [--json]
 *
 * With --server-pid (the peer's ecad), the CPU time each side spends per
 * setup is printed too: thread clocks for the clients, /proc for both
 * servers (each counted whole, as the same kind of process).
 * With --crl (PEM), both bare sides check the peer's leaf against that CRL
 * in the handshake (the hosts' configurations then check it too).
 *
 * CLIENT.conf is the calling host's eca.conf (with a PEER entry for NAME,
 * both hosts enrolled); PEER.conf is the peer's, for the bare server's
 * certificate, key and trust store (it listens on the peer's LISTEN
 * address, on a free port).  Prints each figure and the ratios.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "channel.h"
#include "config.h"
#include "crl.h"
#include "host.h"
#include "tls.h"
#include "x509.h"

#define IO_BUF (16 * 1024)

struct bench;

/*
 * One of the bare server's threads, with a library context and a server
 * context of its own, as each of nginx's worker processes has: the
 * strictest baseline (ecad's API workers and peer I/O threads have theirs
 * too).
 */
struct bare_thread {
	struct bench *b;
	OSSL_LIB_CTX *libctx;
	SSL_CTX *ctx;
	pthread_t thread;
};

struct bench {
	const char *peer;
	struct eca_host *host;
	struct eca_crl_cache *crls; /* the client's, as `eca ping` opens */
	struct bare_thread *bare;   /* the bare server's threads */
	int nbare;
	SSL_CTX *bare_client_ctx; /* the bare client's */
	X509_CRL *crl;		  /* --crl (bare sides) */
	int bare_fd;		  /* its listening socket */
	struct sockaddr_storage bare_addr;
	socklen_t bare_addrlen;
	long n; /* setups of each kind */
	int conc;
	int rounds;
	int64_t bytes;
	/* one run */
	int mode;   /* 0 bare, 1 channel */
	long batch; /* setups in this batch */
	atomic_long next;
	atomic_long errors;
	double *lat; /* this batch's latencies (s) */
	char first_err[512];
	pthread_mutex_t err_lock;
	/* CPU seconds (thread clocks) the clients spent, per run */
	_Atomic double cpu_client;
	pid_t server_pid; /* the peer's ecad, 0 if unknown */
	pid_t bare_pid;	  /* the bare server's process */
};

static double
thread_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
add_cpu(_Atomic double *acc, double t)
{
	double cur = atomic_load(acc);

	while (!atomic_compare_exchange_weak(acc, &cur, cur + t))
		;
}

/* user + system CPU seconds of process pid, -1 when unreadable. */
static double
process_cpu_s(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *f;
	size_t n;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields 14 and 15, counted after the ")" that ends the name. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2,
		"%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
		&st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
note_error(struct bench *b, const char *fmt, const char *detail)
{
	atomic_fetch_add(&b->errors, 1);
	pthread_mutex_lock(&b->err_lock);
	if (b->first_err[0] == '\0')
		snprintf(b->first_err, sizeof(b->first_err), fmt, detail);
	pthread_mutex_unlock(&b->err_lock);
}

static int
write_all(SSL *ssl, const unsigned char *p, size_t n)
{
	int w;

	while (n > 0) {
		if ((w = SSL_write(ssl, p, n > IO_BUF ? IO_BUF : (int)n)) <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
read_all(SSL *ssl, unsigned char *p, size_t n)
{
	int r;

	while (n > 0) {
		if ((r = SSL_read(ssl, p, (int)n)) <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/*
 * With --crl: make ctx's handshake verification check the leaf against
 * the CRL, with a store of its own (trust's certificates and the CRL), as
 * a mutual-TLS endpoint with a CRL file does (nginx's ssl_crl).
 */
static int
bare_use_crl(SSL_CTX *ctx, X509_STORE *trust, X509_CRL *crl)
{
	STACK_OF(X509) *certs = NULL;
	X509_STORE *st = NULL;
	int i, r = -1;

	if (crl == NULL)
		return 0;
	if ((st = X509_STORE_new()) == NULL ||
	    (certs = X509_STORE_get1_all_certs(trust)) == NULL)
		goto out;
	for (i = 0; i < sk_X509_num(certs); i++)
		if (X509_STORE_add_cert(st, sk_X509_value(certs, i)) != 1)
			goto out;
	if (X509_STORE_add_crl(st, crl) != 1 ||
	    SSL_CTX_set1_verify_cert_store(ctx, st) != 1 ||
	    X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(ctx),
		X509_V_FLAG_CRL_CHECK) != 1)
		goto out;
	r = 0;
out:
	sk_X509_pop_free(certs, X509_free);
	X509_STORE_free(st);
	return r;
}

/* ---- the bare mutual-TLS server ---------------------------------------- */

/*
 * One connection: handshake (the client's chain verified by OpenSSL
 * against the trust store), read an 8-byte count, answer one byte for 0,
 * else that many bytes; then close.
 */
static void
bare_serve(SSL_CTX *ctx, int fd)
{
	unsigned char req[8], *buf = NULL;
	uint64_t want = 0;
	SSL *ssl = NULL;
	size_t k;
	int i;

	if ((ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1 ||
	    SSL_accept(ssl) != 1 || read_all(ssl, req, sizeof(req)) != 0)
		goto out;
	for (i = 0; i < 8; i++)
		want = (want << 8) | req[i];
	if (want == 0) {
		(void)write_all(ssl, (const unsigned char *)"k", 1);
		goto out;
	}
	if ((buf = calloc(1, IO_BUF)) == NULL)
		goto out;
	while (want > 0) {
		k = want > IO_BUF ? IO_BUF : (size_t)want;
		if (write_all(ssl, buf, k) != 0)
			goto out;
		want -= k;
	}
out:
	if (ssl != NULL) {
		(void)SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	free(buf);
	close(fd);
	ERR_clear_error();
}

static void *
bare_acceptor(void *arg)
{
	struct bare_thread *t = arg;
	struct bench *b = t->b;
	int fd, one = 1;

	for (;;) {
		if ((fd = accept(b->bare_fd, NULL, NULL)) == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			break;
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		bare_serve(t->ctx, fd);
	}
	return NULL;
}

/* ---- the client side ------------------------------------------------------ */

static int
bare_connect(struct bench *b, SSL **out)
{
	SSL *ssl = NULL;
	int fd, one = 1;

	*out = NULL;
	if ((fd = socket(b->bare_addr.ss_family, SOCK_STREAM, 0)) == -1)
		return -1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&b->bare_addr, b->bare_addrlen) ==
		-1 ||
	    (ssl = SSL_new(b->bare_client_ctx)) == NULL ||
	    SSL_set_fd(ssl, fd) != 1 || SSL_connect(ssl) != 1) {
		SSL_free(ssl);
		close(fd);
		return -1;
	}
	*out = ssl;
	return 0;
}

static void
bare_close(SSL *ssl)
{
	int fd;

	if (ssl == NULL)
		return;
	fd = SSL_get_fd(ssl);
	(void)SSL_shutdown(ssl);
	SSL_free(ssl);
	close(fd);
}

static int
bare_request(SSL *ssl, uint64_t n)
{
	unsigned char req[8];
	int i;

	for (i = 7; i >= 0; i--) {
		req[i] = (unsigned char)(n & 0xff);
		n >>= 8;
	}
	return write_all(ssl, req, sizeof(req));
}

/* One bare setup: connect, handshake, one byte each way, close. */
static int
bare_once(struct bench *b)
{
	unsigned char k;
	SSL *ssl = NULL;
	int r = -1;

	if (bare_connect(b, &ssl) != 0)
		goto out;
	if (bare_request(ssl, 0) != 0 || read_all(ssl, &k, 1) != 0)
		goto out;
	r = 0;
out:
	bare_close(ssl);
	ERR_clear_error();
	return r;
}

static void *
setup_worker(void *arg)
{
	struct bench *b = arg;
	struct eca_channel *ch;
	struct eca_err err;
	double t, c0 = thread_cpu_s();
	long i;

	while ((i = atomic_fetch_add(&b->next, 1)) < b->batch) {
		t = now_s();
		if (b->mode == 0) {
			if (bare_once(b) != 0)
				note_error(b, "bare handshake failed%s", "");
		} else {
			ch = NULL;
			eca_err_clear(&err);
			if (eca_channel_open(b->host, b->peer, ECA_PURPOSE_PING,
				15000, &ch, NULL, &err) != 0)
				note_error(b, "channel: %.400s", err.msg);
			eca_channel_close(ch);
		}
		b->lat[i] = now_s() - t;
	}
	add_cpu(&b->cpu_client, thread_cpu_s() - c0);
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One side of (a), summed over the rounds. */
struct setup_result {
	double seconds, cpu_client, cpu_server; /* totals */
	int server_cpu_known;
	long done, errors;
	double *lat; /* seconds, one per setup */
	/* then, from summarize() */
	double rate, p50_ms, p99_ms;
	double cpu_client_ms; /* per setup */
	double cpu_server_ms; /* per setup, -1: unknown */
};

/*
 * count setups of one kind (mode 0 bare, 1 channel) at concurrency C,
 * added to res; returns their wall time in seconds.
 */
static double
run_batch(struct bench *b, int mode, long count, struct setup_result *res)
{
	pthread_t *th;
	double t0, s0, s1, secs;
	pid_t server;
	int i;

	b->mode = mode;
	b->batch = count;
	b->lat = res->lat + res->done;
	atomic_store(&b->cpu_client, 0);
	atomic_store(&b->next, 0);
	atomic_store(&b->errors, 0);
	server = mode == 1 ? b->server_pid : b->bare_pid;
	s0 = process_cpu_s(server);
	if ((th = calloc((size_t)b->conc, sizeof(*th))) == NULL) {
		fprintf(stderr, "bench_peer: out of memory\n");
		exit(1);
	}
	t0 = now_s();
	for (i = 0; i < b->conc; i++)
		if (pthread_create(&th[i], NULL, setup_worker, b) != 0) {
			fprintf(stderr, "bench_peer: cannot start a thread\n");
			exit(1);
		}
	for (i = 0; i < b->conc; i++)
		pthread_join(th[i], NULL);
	secs = now_s() - t0;
	free(th);
	res->seconds += secs;
	res->done += count;
	res->errors += atomic_load(&b->errors);
	res->cpu_client += atomic_load(&b->cpu_client);
	if (s0 >= 0 && (s1 = process_cpu_s(server)) >= 0)
		res->cpu_server += s1 - s0;
	else
		res->server_cpu_known = 0;
	return secs;
}

static void
summarize(struct setup_result *res, const char *what, const char *first_err)
{
	double n = (double)res->done;

	qsort(res->lat, (size_t)res->done, sizeof(double), cmp_double);
	res->rate = n / res->seconds;
	res->p50_ms = res->lat[res->done / 2] * 1000.0;
	res->p99_ms = res->lat[(res->done * 99) / 100] * 1000.0;
	res->cpu_client_ms = res->cpu_client * 1000.0 / n;
	res->cpu_server_ms =
	    res->server_cpu_known ? res->cpu_server * 1000.0 / n : -1;
	if (res->errors > 0)
		fprintf(stderr, "bench_peer: %s: %ld errors, first: %s\n", what,
		    res->errors, first_err);
}

/*
 * (a): R rounds, each a batch of bare setups and a batch of channel
 * setups (which goes first alternates), so that a shared machine's drift
 * falls on both alike.  *median_ratio: the median over rounds of channel
 * time / bare time.
 */
static int
run_setups(struct bench *b, int rounds, struct setup_result *bare,
    struct setup_result *chan, double *median_ratio)
{
	double *ratio, tb, tc;
	long per, count;
	int k;

	memset(bare, 0, sizeof(*bare));
	memset(chan, 0, sizeof(*chan));
	bare->server_cpu_known = 1;
	chan->server_cpu_known = b->server_pid > 0;
	b->first_err[0] = '\0';
	if ((bare->lat = calloc((size_t)b->n, sizeof(double))) == NULL ||
	    (chan->lat = calloc((size_t)b->n, sizeof(double))) == NULL ||
	    (ratio = calloc((size_t)rounds, sizeof(double))) == NULL)
		return -1;
	per = b->n / rounds;
	for (k = 0; k < rounds; k++) {
		count = k == rounds - 1 ? b->n - per * (rounds - 1) : per;
		if (k % 2 == 0) {
			tb = run_batch(b, 0, count, bare);
			tc = run_batch(b, 1, count, chan);
		} else {
			tc = run_batch(b, 1, count, chan);
			tb = run_batch(b, 0, count, bare);
		}
		ratio[k] = tc / tb;
	}
	qsort(ratio, (size_t)rounds, sizeof(double), cmp_double);
	*median_ratio = rounds % 2 ?
	    ratio[rounds / 2] :
	    (ratio[rounds / 2 - 1] + ratio[rounds / 2]) / 2;
	free(ratio);
	summarize(bare, "bare", b->first_err);
	summarize(chan, "channel", b->first_err);
	return 0;
}

/* (c): bytes over the bare TLS stream; transfer time only. */
static int
stream_bare(struct bench *b, int64_t bytes, double *secs, char *cipher,
    size_t clen)
{
	unsigned char *buf = NULL;
	SSL *ssl = NULL;
	int64_t left = bytes;
	double t0;
	int r = -1, k;

	if ((buf = malloc(IO_BUF)) == NULL || bare_connect(b, &ssl) != 0)
		goto out;
	snprintf(cipher, clen, "%s %s", SSL_get_version(ssl),
	    SSL_get_cipher_name(ssl));
	t0 = now_s();
	if (bare_request(ssl, (uint64_t)bytes) != 0)
		goto out;
	while (left > 0) {
		if ((k = SSL_read(ssl, buf, IO_BUF)) <= 0)
			goto out;
		left -= k;
	}
	*secs = now_s() - t0;
	r = 0;
out:
	bare_close(ssl);
	free(buf);
	ERR_clear_error();
	return r;
}

static int
stream_channel(struct bench *b, int64_t bytes, double *secs, char *cipher,
    size_t clen)
{
	struct eca_channel *ch = NULL;
	struct eca_err err;
	SSL *ssl;
	double t0;
	int r = -1;

	eca_err_clear(&err);
	if (eca_channel_open(b->host, b->peer, ECA_PURPOSE_RESTORE, 15000, &ch,
		NULL, &err) != 0) {
		fprintf(stderr, "bench_peer: stream channel: %s\n", err.msg);
		goto out;
	}
	if ((ssl = eca_channel_ssl(ch)) != NULL)
		snprintf(cipher, clen, "%s %s", SSL_get_version(ssl),
		    SSL_get_cipher_name(ssl));
	t0 = now_s();
	if (eca_channel_bulk_receive(ch, bytes, &err) != 0) {
		fprintf(stderr, "bench_peer: bulk receive: %s\n", err.msg);
		goto out;
	}
	*secs = now_s() - t0;
	r = 0;
out:
	eca_channel_close(ch);
	return r;
}

/*
 * (c) in R rounds, as (a): each a bare transfer and a channel transfer of
 * B/R bytes (which goes first alternates).  Totals in *tb, *tc (seconds);
 * *median_ratio: the median over rounds of channel rate / bare rate.
 */
static int
run_streams(struct bench *b, int rounds, double *tb, double *tc,
    double *median_ratio, char *cb, char *cc, size_t clen)
{
	double *ratio, sb = 0, sc = 0;
	int64_t per, bytes;
	int k, r = -1;

	*tb = *tc = 0;
	if ((ratio = calloc((size_t)rounds, sizeof(double))) == NULL)
		return -1;
	per = b->bytes / rounds;
	for (k = 0; k < rounds; k++) {
		bytes = k == rounds - 1 ? b->bytes - per * (rounds - 1) : per;
		if (k % 2 == 0 ? stream_bare(b, bytes, &sb, cb, clen) != 0 ||
			    stream_channel(b, bytes, &sc, cc, clen) != 0 :
				 stream_channel(b, bytes, &sc, cc, clen) != 0 ||
			    stream_bare(b, bytes, &sb, cb, clen) != 0) {
			fprintf(stderr, "bench_peer: a stream failed\n");
			goto out;
		}
		*tb += sb;
		*tc += sc;
		ratio[k] = sb / sc;
	}
	qsort(ratio, (size_t)rounds, sizeof(double), cmp_double);
	*median_ratio = rounds % 2 ?
	    ratio[rounds / 2] :
	    (ratio[rounds / 2 - 1] + ratio[rounds / 2]) / 2;
	r = 0;
out:
	free(ratio);
	return r;
}

/* ---- set-up --------------------------------------------------------------- */

/*
 * Thread t's server context, from server_conf's certificate, key and trust
 * store loaded in t's own library context: ecad's peer listener's
 * settings, but verifying the client's chain in the handshake, as a bare
 * mutual-TLS server does (nginx's ssl_verify_client on): ecad does that
 * check itself, in its verdict, after the handshake.
 */
static int
bare_thread_ctx(struct bench *b, const struct eca_config *cfg,
    struct bare_thread *t, struct eca_err *err)
{
	struct eca_cred *cred = NULL;
	int r = -1;

	if ((t->libctx = OSSL_LIB_CTX_new()) == NULL ||
	    eca_cred_load(t->libctx, cfg, &cred, err) != 0 ||
	    eca_tls_server_ctx(t->libctx, cred, &t->ctx, err) != 0)
		goto out;
	SSL_CTX_set_cert_verify_callback(t->ctx, NULL, NULL);
	SSL_CTX_set_verify(t->ctx,
	    SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	if (SSL_CTX_set1_verify_cert_store(t->ctx, cred->trust) != 1 ||
	    bare_use_crl(t->ctx, cred->trust, b->crl) != 0) {
		eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot set the trust store");
		goto out;
	}
	r = 0;
out:
	eca_cred_free(cred);
	return r;
}

/*
 * The bare server's process: its threads, until the parent stops it or
 * exits.  A process of its own, as ecad and nginx are: its threads and the
 * client's do not share an address space, so a switch between them costs
 * what a switch between the client and ecad costs.
 */
static _Noreturn void
bare_server_main(struct bench *b)
{
	int i;

	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(0);
	for (i = 0; i < b->nbare; i++)
		if (pthread_create(&b->bare[i].thread, NULL, bare_acceptor,
			&b->bare[i]) != 0) {
			fprintf(stderr, "bench_peer: cannot start a thread\n");
			_exit(1);
		}
	for (;;)
		pause();
}

static int
bare_server_start(struct bench *b, const char *server_conf)
{
	struct eca_config *cfg = NULL;
	struct addrinfo hints, *ai = NULL;
	struct eca_err err;
	const char *host;
	int i, one = 1, r = -1;

	eca_err_clear(&err);
	if (eca_config_load(server_conf, &cfg, &err) != 0) {
		fprintf(stderr, "bench_peer: %s: %s\n", server_conf, err.msg);
		goto out;
	}
	/* One thread per concurrent connection, as many as the clients. */
	b->nbare = b->conc + 1;
	if ((b->bare = calloc((size_t)b->nbare, sizeof(*b->bare))) == NULL)
		goto out;
	for (i = 0; i < b->nbare; i++) {
		b->bare[i].b = b;
		if (bare_thread_ctx(b, cfg, &b->bare[i], &err) != 0) {
			fprintf(stderr, "bench_peer: %s: %s\n", server_conf,
			    err.msg);
			goto out;
		}
	}
	host = cfg->listen.host != NULL ? cfg->listen.host : "127.0.0.1";
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST;
	if (getaddrinfo(host, "0", &hints, &ai) != 0) {
		fprintf(stderr, "bench_peer: bad LISTEN address %s\n", host);
		goto out;
	}
	if ((b->bare_fd = socket(ai->ai_family, SOCK_STREAM, 0)) == -1 ||
	    setsockopt(b->bare_fd, SOL_SOCKET, SO_REUSEADDR, &one,
		sizeof(one)) != 0 ||
	    bind(b->bare_fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
	    listen(b->bare_fd, 1024) != 0) {
		fprintf(stderr, "bench_peer: cannot listen on %s: %s\n", host,
		    strerror(errno));
		goto out;
	}
	b->bare_addrlen = sizeof(b->bare_addr);
	if (getsockname(b->bare_fd, (struct sockaddr *)&b->bare_addr,
		&b->bare_addrlen) != 0)
		goto out;
	fflush(NULL);
	if ((b->bare_pid = fork()) == -1) {
		fprintf(stderr, "bench_peer: fork: %s\n", strerror(errno));
		goto out;
	}
	if (b->bare_pid == 0)
		bare_server_main(b);
	r = 0;
out:
	if (ai != NULL)
		freeaddrinfo(ai);
	eca_config_free(cfg);
	return r;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: bench_peer --config CLIENT.conf --peer NAME "
	    "--server-config PEER.conf [--n N] [--concurrency C] "
	    "[--bytes B] [--rounds R] [--server-pid PID] [--crl FILE] "
	    "[--json]\n");
	exit(2);
}

static long long
num_arg(const char *s, long long min, long long max)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		usage();
	return v;
}

int
main(int argc, char **argv)
{
	struct bench b;
	struct eca_config *cfg = NULL;
	struct eca_err err;
	struct setup_result bare, chan, warm_bare, warm_chan;
	const char *conf = NULL, *server_conf = NULL, *crl = NULL;
	BIO *bio;
	char cb[128] = "", cc[128] = "";
	double tb = 0, tc = 0, mbb, mbc, median = 0, smedian = 0;
	int i, json = 0, rc = 1;
	long keep;

	memset(&b, 0, sizeof(b));
	memset(&bare, 0, sizeof(bare));
	memset(&chan, 0, sizeof(chan));
	b.n = 2000;
	b.conc = 8;
	b.rounds = 10;
	b.bytes = (int64_t)1 << 30;
	b.bare_fd = -1;
	pthread_mutex_init(&b.err_lock, NULL);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (i + 1 >= argc)
			usage();
		else if (strcmp(argv[i], "--config") == 0)
			conf = argv[++i];
		else if (strcmp(argv[i], "--server-config") == 0)
			server_conf = argv[++i];
		else if (strcmp(argv[i], "--peer") == 0)
			b.peer = argv[++i];
		else if (strcmp(argv[i], "--n") == 0)
			b.n = (long)num_arg(argv[++i], 1, 10000000);
		else if (strcmp(argv[i], "--concurrency") == 0)
			b.conc = (int)num_arg(argv[++i], 1, 1024);
		else if (strcmp(argv[i], "--crl") == 0)
			crl = argv[++i];
		else if (strcmp(argv[i], "--rounds") == 0)
			b.rounds = (int)num_arg(argv[++i], 1, 1000);
		else if (strcmp(argv[i], "--server-pid") == 0)
			b.server_pid = (pid_t)num_arg(argv[++i], 1, INT32_MAX);
		else if (strcmp(argv[i], "--bytes") == 0)
			b.bytes = (int64_t)num_arg(argv[++i], 1, ECA_BULK_MAX);
		else
			usage();
	}
	if (conf == NULL || server_conf == NULL || b.peer == NULL)
		usage();
	if (b.rounds > b.n)
		b.rounds = (int)b.n;
	eca_err_clear(&err);
	/*
	 * The bare client: the channel's TLS settings and certificate
	 * (eca_tls_client_ctx, as eca_host_new makes it), but verifying the
	 * server's chain in the handshake, not deferring it to a verdict.
	 */
	if (eca_config_load(conf, &cfg, &err) != 0 ||
	    eca_host_new(NULL, cfg, &b.host, &err) != 0 ||
	    eca_tls_client_ctx(NULL, b.host->cred, &b.bare_client_ctx, &err) !=
		0) {
		fprintf(stderr, "bench_peer: %s: %s\n", conf, err.msg);
		goto out;
	}
	/* The channel client checks revocation as `eca ping` does. */
	if (cfg->crl_check != ECA_CRL_DISABLE) {
		if (eca_crl_cache_open(NULL, cfg, &b.crls, &err) != 0) {
			fprintf(stderr, "bench_peer: %s\n", err.msg);
			goto out;
		}
		b.host->policy.crls = b.crls;
	}
	if (crl != NULL) {
		if ((bio = BIO_new_file(crl, "r")) != NULL) {
			b.crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
			BIO_free(bio);
		}
		if (b.crl == NULL ||
		    bare_use_crl(b.bare_client_ctx, b.host->cred->trust,
			b.crl) != 0) {
			fprintf(stderr, "bench_peer: cannot use the CRL %s\n",
			    crl);
			goto out;
		}
	}
	if (bare_server_start(&b, server_conf) != 0)
		goto out;

	/* Warm up both paths (roster synced, code paged in); 1% or 20. */
	keep = b.n;
	b.n = keep / 100 > 20 ? keep / 100 : 20;
	if (b.n > keep)
		b.n = keep;
	i = run_setups(&b, 1, &warm_bare, &warm_chan, &median);
	free(warm_bare.lat);
	free(warm_chan.lat);
	b.n = keep;
	if (i != 0 || run_setups(&b, b.rounds, &bare, &chan, &median) != 0) {
		fprintf(stderr, "bench_peer: out of memory\n");
		goto out;
	}
	if (run_streams(&b, b.bytes / b.rounds >= IO_BUF ? b.rounds : 1, &tb,
		&tc, &smedian, cb, cc, sizeof(cb)) != 0)
		goto out;
	mbb = (double)b.bytes / tb / 1048576.0;
	mbc = (double)b.bytes / tc / 1048576.0;

	if (json) {
		printf("{\"n\":%ld,\"concurrency\":%d,\"rounds\":%d,"
		       "\"setup_bare\":{\"per_sec\":%.1f,\"p50_ms\":%.3f,"
		       "\"p99_ms\":%.3f,\"cpu_client_ms\":%.3f,"
		       "\"cpu_server_ms\":%.3f,\"errors\":%ld},"
		       "\"setup_channel\":{\"per_sec\":%.1f,\"p50_ms\":%.3f,"
		       "\"p99_ms\":%.3f,\"cpu_client_ms\":%.3f,"
		       "\"cpu_server_ms\":%.3f,\"errors\":%ld},"
		       "\"setup_time_ratio\":%.3f,\"setup_round_median_ratio\":"
		       "%.3f,\"setup_p50_ratio\":%.3f,"
		       "\"bytes\":%lld,\"stream_bare_mib_s\":%.1f,"
		       "\"stream_channel_mib_s\":%.1f,\"stream_ratio\":%.3f,"
		       "\"stream_round_median_ratio\":%.3f,"
		       "\"cipher_bare\":\"%s\",\"cipher_channel\":\"%s\"}\n",
		    b.n, b.conc, b.rounds, bare.rate, bare.p50_ms, bare.p99_ms,
		    bare.cpu_client_ms, bare.cpu_server_ms, bare.errors,
		    chan.rate, chan.p50_ms, chan.p99_ms, chan.cpu_client_ms,
		    chan.cpu_server_ms, chan.errors, bare.rate / chan.rate,
		    median, chan.p50_ms / bare.p50_ms, (long long)b.bytes, mbb,
		    mbc, mbc / mbb, smedian, cb, cc);
	} else {
		printf("(a) setup, %ld connections of each kind at concurrency "
		       "%d, in %d alternating rounds\n",
		    b.n, b.conc, b.rounds);
		printf("    bare mTLS   %9.1f /s  p50 %7.3f ms  p99 %7.3f ms"
		       "  errors %ld\n",
		    bare.rate, bare.p50_ms, bare.p99_ms, bare.errors);
		printf("    channel     %9.1f /s  p50 %7.3f ms  p99 %7.3f ms"
		       "  errors %ld\n",
		    chan.rate, chan.p50_ms, chan.p99_ms, chan.errors);
		printf("    CPU per setup: bare client %.3f ms, server %.3f "
		       "ms; channel client %.3f ms, ecad %.3f ms\n",
		    bare.cpu_client_ms, bare.cpu_server_ms, chan.cpu_client_ms,
		    chan.cpu_server_ms);
		printf("    ratio channel/bare: time %.3f (median of rounds "
		       "%.3f) (target <= 1.05), p50 %.3f\n",
		    bare.rate / chan.rate, median, chan.p50_ms / bare.p50_ms);
		printf("(c) stream, %lld bytes of each kind, one connection "
		       "per transfer, in alternating rounds\n",
		    (long long)b.bytes);
		printf("    raw TLS     %9.1f MiB/s  (%s)\n", mbb, cb);
		printf("    channel     %9.1f MiB/s  (%s)\n", mbc, cc);
		printf("    ratio channel/raw: %.3f (median of rounds %.3f) "
		       "(target >= 0.9)\n",
		    mbc / mbb, smedian);
	}
	rc = bare.errors + chan.errors > 0 ? 1 : 0;
out:
	if (b.bare_pid > 0) {
		(void)kill(b.bare_pid, SIGKILL);
		(void)waitpid(b.bare_pid, NULL, 0);
	}
	for (i = 0; i < b.nbare; i++) {
		SSL_CTX_free(b.bare[i].ctx);
		OSSL_LIB_CTX_free(b.bare[i].libctx);
	}
	free(b.bare);
	if (b.bare_fd != -1)
		close(b.bare_fd);
	free(bare.lat);
	free(chan.lat);
	SSL_CTX_free(b.bare_client_ctx);
	X509_CRL_free(b.crl);
	eca_host_free(b.host);
	eca_crl_cache_free(b.crls);
	eca_config_free(cfg);
	return rc;
}
