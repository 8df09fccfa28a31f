/* SPDX-License-Identifier: ISC */
/*
 * bench_nat.c - issue 10's benchmark of NAT support (bench/nat.sh runs it).
 *
 * bench_nat sessions --target HOST:PORT --trust FILE --certs DIR --n N
 *     --server-pid PID [--prefix P] [--domain D] [--heartbeats K]
 *     [--hold S] [--ready FILE]
 *   Opens N broker sessions to the primary's broker (each a mutual-TLS
 *   connection with its own host certificate DIR/P00000.pem ..., and a
 *   registration), one after the other, then reads the primary's memory
 *   (VmRSS of PID) and prints the bytes per idle session; then sends K
 *   rounds of one heartbeat (ping, pong) on every session and prints the
 *   primary's CPU time per heartbeat (/proc/PID/stat).  With --bare-cert
 *   and --bare-key (the primary's certificate chain and key), the same N
 *   sessions are first held by a bare mutual-TLS server in a child
 *   process (OpenSSL alone, the client's chain verified in the handshake,
 *   no session cache or tickets, buffers released when idle: the least a
 *   TLS server can hold per live connection), whose growth in VmRSS per
 *   session is the baseline the broker's is divided by.  Then, with
 *   --ready, writes FILE (bench/nat.sh runs enrollments meanwhile) and
 *   keeps the sessions for S seconds, a heartbeat round every 10 s, and
 *   prints how many are still alive.
 *
 * bench_nat setup --config CLIENT.conf --direct NAME --nat NAME --n N
 *   N channel set-ups (eca_channel_open + close, purpose ping) to NAME
 *   directly and N through a reverse connection to NAT host NAME
 *   (eca_channel_open_reverse: request to the primary, call back, TLS,
 *   verdicts), alternating; prints p50 and p99 of each and their ratios.
 *   Reverse requests are paced under the primary's per-requester limit
 *   (20 a second).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
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
#include <openssl/ssl.h>

#include "broker.h"
#include "channel.h"
#include "config.h"
#include "host.h"
#include "tls.h"

#define REVERSE_PACE_US 55000 /* at most ~18 reverse requests a second */

struct sess {
	SSL *ssl;
	int fd;
};

static void
die(const char *what, const char *detail)
{
	fprintf(stderr, "bench_nat: %s%s%s\n", what, detail ? ": " : "",
	    detail ? detail : "");
	exit(1);
}

static int64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* user + system CPU seconds of pid, from /proc; -1 if unreadable. */
static double
process_cpu_s(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2,
		"%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
		&st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* VmRSS of pid in bytes; -1 if unreadable. */
static long long
process_rss(long pid)
{
	char path[64], line[256];
	long long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %lld kB", &kb) == 1)
			break;
	fclose(f);
	return kb < 0 ? -1 : kb * 1024;
}

static int
tcp_connect(const char *host, const char *port)
{
	struct addrinfo hints, *ai = NULL;
	int fd = -1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &ai) != 0 || ai == NULL)
		return -1;
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
	if (fd != -1 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

/* One broker frame: m encoded, written whole; 0 or -1. */
static int
send_msg(SSL *ssl, const struct eca_broker_msg *m)
{
	unsigned char *buf = NULL;
	struct eca_err err;
	size_t len = 0;
	int r;

	if (eca_broker_encode(m, &buf, &len, &err) != 0)
		return -1;
	r = SSL_write(ssl, buf, (int)len) == (int)len ? 0 : -1;
	free(buf);
	return r;
}

static int
read_full(SSL *ssl, unsigned char *p, size_t len)
{
	size_t got = 0;
	int n;

	while (got < len) {
		if ((n = SSL_read(ssl, p + got, (int)(len - got))) <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

/* One broker frame into *m; 0 or -1. */
static int
recv_msg(SSL *ssl, struct eca_broker_msg *m)
{
	unsigned char hdr[4], *buf;
	struct eca_err err;
	size_t len;
	int r;

	if (read_full(ssl, hdr, 4) != 0)
		return -1;
	len = ((size_t)hdr[0] << 24) | ((size_t)hdr[1] << 16) |
	    ((size_t)hdr[2] << 8) | hdr[3];
	if (len == 0 || len > 16384 || (buf = malloc(len)) == NULL)
		return -1;
	r = read_full(ssl, buf, len) == 0 &&
		eca_broker_parse(buf, len, m, &err) == 0 ?
	    0 :
	    -1;
	free(buf);
	return r;
}

struct sess_opts {
	const char *host, *port, *trust, *certs, *prefix, *domain;
	long n, pid;
	int heartbeats, hold;
	const char *ready;
	const char *bare_cert, *bare_key;
};

/* Session i: TLS with its own certificate, then its registration. */
static int
sess_open(SSL_CTX *ctx, const struct sess_opts *o, long i, struct sess *s)
{
	char pem[4096], key[4096], name[256];
	struct eca_broker_msg m;
	int r;

	snprintf(pem, sizeof(pem), "%s/%s%05ld.pem", o->certs, o->prefix, i);
	snprintf(key, sizeof(key), "%s/%s%05ld.key", o->certs, o->prefix, i);
	snprintf(name, sizeof(name), "%s%05ld.%s", o->prefix, i, o->domain);
	if ((s->fd = tcp_connect(o->host, o->port)) == -1) {
		fprintf(stderr, "bench_nat: connect: %s\n", strerror(errno));
		return -1;
	}
	if ((s->ssl = SSL_new(ctx)) == NULL ||
	    SSL_use_certificate_chain_file(s->ssl, pem) != 1 ||
	    SSL_use_PrivateKey_file(s->ssl, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_set_fd(s->ssl, s->fd) != 1 || SSL_connect(s->ssl) != 1) {
		fprintf(stderr, "bench_nat: TLS with %s's certificate: ", name);
		ERR_print_errors_fp(stderr);
		return -1;
	}
	memset(&m, 0, sizeof(m));
	m.op = ECA_BROKER_REGISTER;
	snprintf(m.host, sizeof(m.host), "%s", name);
	m.role = ECA_ROLE_CLIENT;
	m.nat = 1;
	/*
	 * The longest interval: the broker drops a session after three
	 * silent ones, and opening 10,000 takes minutes.  The heartbeat
	 * rounds below are sent all the same.
	 */
	m.heartbeat = 3600;
	if (send_msg(s->ssl, &m) != 0 || recv_msg(s->ssl, &m) != 0) {
		fprintf(stderr,
		    "bench_nat: %s: no answer to its registration\n", name);
		return -1;
	}
	r = m.op == ECA_BROKER_REGISTERED ? 0 : -1;
	if (r != 0)
		fprintf(stderr, "bench_nat: %s refused: %s %s\n", name,
		    eca_err_name(m.code), m.message);
	eca_broker_msg_clear(&m);
	return r;
}

/* One heartbeat on every live session: how many answered. */
static long
heartbeat_round(struct sess *s, long n)
{
	struct eca_broker_msg m;
	long i, ok = 0;

	memset(&m, 0, sizeof(m));
	m.op = ECA_BROKER_PING;
	for (i = 0; i < n; i++)
		if (s[i].ssl != NULL && send_msg(s[i].ssl, &m) != 0)
			s[i].ssl = NULL; /* dead: counted as such below */
	for (i = 0; i < n; i++) {
		if (s[i].ssl == NULL)
			continue;
		if (recv_msg(s[i].ssl, &m) == 0 && m.op == ECA_BROKER_PONG)
			ok++;
		eca_broker_msg_clear(&m);
	}
	return ok;
}

static SSL_CTX *
client_ctx(const char *trust)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_load_verify_locations(ctx, trust, NULL) != 1)
		die("cannot make the TLS client context", trust);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	/* Idle sessions: no buffers held between reads (this side only). */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	return ctx;
}

static void
hold_sessions(const struct sess_opts *o, struct sess *s)
{
	FILE *f;
	int64_t end, next;
	long alive = o->n;

	if ((f = fopen(o->ready, "w")) == NULL)
		die("cannot write", o->ready);
	fclose(f);
	end = mono_us() + (int64_t)o->hold * 1000000;
	next = mono_us() + 10000000;
	while (mono_us() < end) {
		usleep(200000);
		if (mono_us() >= next) {
			alive = heartbeat_round(s, o->n);
			next += 10000000;
		}
	}
	alive = heartbeat_round(s, o->n);
	printf("sessions alive after %d s of enrollments: %ld of %ld\n",
	    o->hold, alive, o->n);
}

/*
 * The baseline's server (a child process): accepts o->n connections on
 * lfd, one after the other, each a full mutual-TLS handshake and one
 * registration answered, and holds them until killed.  Writes one byte
 * to ready_fd once its context is made.
 */
static void
bare_serve(int lfd, const struct sess_opts *o, int ready_fd)
{
	struct eca_broker_msg m;
	SSL_CTX *ctx;
	SSL **held;
	long i;
	int fd;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    SSL_CTX_use_certificate_chain_file(ctx, o->bare_cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, o->bare_key, SSL_FILETYPE_PEM) !=
		1 ||
	    SSL_CTX_load_verify_locations(ctx, o->trust, NULL) != 1 ||
	    SSL_CTX_set_num_tickets(ctx, 0) != 1 ||
	    (held = calloc((size_t)o->n, sizeof(*held))) == NULL)
		die("the bare server cannot make its TLS context",
		    o->bare_cert);
	SSL_CTX_set_verify(ctx,
	    SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	/* As every ecad server: no delayed ACK of the client's last flight. */
	SSL_CTX_set_info_callback(ctx, eca_tls_server_info_cb);
	if (write(ready_fd, "r", 1) != 1)
		die("the bare server cannot say it is ready", strerror(errno));
	for (i = 0; i < o->n; i++) {
		if ((fd = accept(lfd, NULL, NULL)) == -1 ||
		    (held[i] = SSL_new(ctx)) == NULL ||
		    SSL_set_fd(held[i], fd) != 1 || SSL_accept(held[i]) != 1 ||
		    recv_msg(held[i], &m) != 0 || m.op != ECA_BROKER_REGISTER)
			die("the bare server lost a session", NULL);
		eca_broker_msg_clear(&m);
		memset(&m, 0, sizeof(m));
		m.op = ECA_BROKER_REGISTERED;
		if (send_msg(held[i], &m) != 0)
			die("the bare server cannot answer", NULL);
	}
	for (;;)
		pause(); /* killed by the bench once measured */
}

/*
 * The baseline: VmRSS growth per session of a bare mutual-TLS server
 * (bare_serve) holding o->n sessions opened as the broker's are.
 */
static double
bare_per_session(SSL_CTX *ctx, const struct sess_opts *o)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct sess_opts bo = *o;
	socklen_t salen = sizeof(sa);
	struct sess *s;
	long long rss0, rss1;
	int lfd, ready[2];
	char port[16], c;
	pid_t pid, parent;
	long i;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(lfd, 128) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &salen) != 0 ||
	    pipe(ready) != 0)
		die("the bare server cannot listen", strerror(errno));
	parent = getpid();
	if ((pid = fork()) == -1)
		die("cannot start the bare server", strerror(errno));
	if (pid == 0) {
		/* Dies with the bench, however the bench ends. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 ||
		    getppid() != parent)
			_exit(1);
		close(ready[0]);
		bare_serve(lfd, o, ready[1]);
	}
	close(lfd);
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1)
		die("the bare server did not start", NULL);
	close(ready[0]);
	snprintf(port, sizeof(port), "%u", (unsigned)ntohs(sa.sin_port));
	bo.host = "127.0.0.1";
	bo.port = port;
	if ((s = calloc((size_t)o->n, sizeof(*s))) == NULL)
		die("out of memory", NULL);
	rss0 = process_rss((long)pid);
	for (i = 0; i < o->n; i++)
		if (sess_open(ctx, &bo, i, &s[i]) != 0)
			die("a session with the bare server failed", NULL);
	sleep(2); /* as for the broker */
	rss1 = process_rss((long)pid);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	for (i = 0; i < o->n; i++) {
		SSL_free(s[i].ssl);
		close(s[i].fd);
	}
	free(s);
	if (rss0 < 0 || rss1 < 0)
		die("cannot read the bare server's memory", NULL);
	printf("bare mutual-TLS server (OpenSSL alone, same certificates): "
	       "RSS %.1f MiB idle, %.1f MiB with %ld sessions: %.2f KiB per "
	       "session\n",
	    (double)rss0 / 1048576.0, (double)rss1 / 1048576.0, o->n,
	    (double)(rss1 - rss0) / 1024.0 / (double)o->n);
	return (double)(rss1 - rss0) / (double)o->n;
}

static void
run_sessions(const struct sess_opts *o)
{
	struct sess *s;
	SSL_CTX *ctx = client_ctx(o->trust);
	long long rss0, rss1;
	double cpu0, cpu1, bare = 0;
	int64_t t0;
	long i, ok;
	int k;

	if (o->bare_cert != NULL)
		bare = bare_per_session(ctx, o);
	if ((s = calloc((size_t)o->n, sizeof(*s))) == NULL)
		die("out of memory", NULL);
	rss0 = process_rss(o->pid);
	t0 = mono_us();
	for (i = 0; i < o->n; i++)
		if (sess_open(ctx, o, i, &s[i]) != 0) {
			fprintf(stderr, "bench_nat: session %ld failed\n", i);
			die("a broker session could not be opened", NULL);
		}
	printf("opened %ld broker sessions in %.1f s\n", o->n,
	    (double)(mono_us() - t0) / 1e6);
	sleep(2); /* let the broker settle (judge thread, buffers) */
	rss1 = process_rss(o->pid);
	printf("primary RSS: %.1f MiB idle, %.1f MiB with %ld sessions: "
	       "%.2f KiB per session (target <= 16 KiB)\n",
	    (double)rss0 / 1048576.0, (double)rss1 / 1048576.0, o->n,
	    (double)(rss1 - rss0) / 1024.0 / (double)o->n);
	if (bare > 0)
		printf("broker / bare mutual-TLS server, memory per session: "
		       "%.2f\n",
		    (double)(rss1 - rss0) / (double)o->n / bare);
	cpu0 = process_cpu_s(o->pid);
	t0 = mono_us();
	for (k = 0, ok = 0; k < o->heartbeats; k++)
		ok += heartbeat_round(s, o->n);
	cpu1 = process_cpu_s(o->pid);
	printf("%ld heartbeats in %.2f s: primary CPU %.1f us per heartbeat\n",
	    ok, (double)(mono_us() - t0) / 1e6,
	    ok > 0 ? (cpu1 - cpu0) * 1e6 / (double)ok : -1.0);
	if (o->ready != NULL)
		hold_sessions(o, s);
	for (i = 0; i < o->n; i++)
		if (s[i].fd != -1)
			close(s[i].fd);
	free(s); /* the SSL objects die with the process */
	SSL_CTX_free(ctx);
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int64_t
pct(int64_t *v, long n, int p)
{
	long i = (n * p + 99) / 100 - 1;

	return v[i < 0 ? 0 : i];
}

/* One set-up (open + close) to peer; its time in microseconds. */
static int64_t
one_setup(struct eca_host *h, const char *peer, int reverse)
{
	struct eca_channel *ch = NULL;
	struct eca_err err;
	int64_t t = mono_us();
	int r;

	eca_err_clear(&err);
	r = reverse ?
	    eca_channel_open_reverse(h, peer, ECA_PURPOSE_PING, 10000, &ch,
		NULL, &err) :
	    eca_channel_open(h, peer, ECA_PURPOSE_PING, 10000, &ch, NULL, &err);
	if (r != 0)
		die("a channel set-up failed", err.msg);
	eca_channel_close(ch);
	return mono_us() - t;
}

static void
run_setup(const char *conf, const char *direct, const char *nat, long n)
{
	struct eca_config *cfg = NULL;
	struct eca_host *h = NULL;
	struct eca_err err;
	int64_t *d, *r, last = 0;
	long i;

	if (eca_config_load(conf, &cfg, &err) != 0 ||
	    eca_host_new(NULL, cfg, &h, &err) != 0)
		die("cannot set up the calling host", err.msg);
	if ((d = calloc((size_t)n, sizeof(*d))) == NULL ||
	    (r = calloc((size_t)n, sizeof(*r))) == NULL)
		die("out of memory", NULL);
	/* One of each first: rosters synced, code paths warm. */
	(void)one_setup(h, direct, 0);
	(void)one_setup(h, nat, 1);
	for (i = 0; i < n; i++) {
		while (mono_us() - last < REVERSE_PACE_US)
			usleep(1000);
		last = mono_us();
		if (i % 2 == 0) {
			d[i] = one_setup(h, direct, 0);
			r[i] = one_setup(h, nat, 1);
		} else {
			r[i] = one_setup(h, nat, 1);
			d[i] = one_setup(h, direct, 0);
		}
	}
	qsort(d, (size_t)n, sizeof(*d), cmp_i64);
	qsort(r, (size_t)n, sizeof(*r), cmp_i64);
	printf("channel set-up, %ld of each (open + close, purpose ping):\n",
	    n);
	printf("  direct   p50 %8.3f ms  p99 %8.3f ms\n",
	    (double)pct(d, n, 50) / 1e3, (double)pct(d, n, 99) / 1e3);
	printf("  reverse  p50 %8.3f ms  p99 %8.3f ms\n",
	    (double)pct(r, n, 50) / 1e3, (double)pct(r, n, 99) / 1e3);
	printf("  reverse / direct: p50 %.2fx, p99 %.2fx (target <= 2.5x)\n",
	    (double)pct(r, n, 50) / (double)pct(d, n, 50),
	    (double)pct(r, n, 99) / (double)pct(d, n, 99));
	free(d);
	free(r);
	eca_host_free(h);
	eca_config_free(cfg);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: bench_nat sessions --target HOST:PORT --trust FILE "
	    "--certs DIR --n N --server-pid PID [--prefix P] [--domain D] "
	    "[--heartbeats K] [--hold S --ready FILE] "
	    "[--bare-cert FILE --bare-key FILE]\n"
	    "       bench_nat setup --config CLIENT.conf --direct NAME "
	    "--nat NAME --n N\n");
	exit(2);
}

static long
num_arg(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		usage();
	return v;
}

/* --target HOST:PORT into o (the string is kept, split in place). */
static void
target_arg(char *s, struct sess_opts *o)
{
	char *colon = strrchr(s, ':');

	if (colon == NULL)
		usage();
	*colon = '\0';
	o->host = s;
	o->port = colon + 1;
}

int
main(int argc, char **argv)
{
	struct sess_opts o = {.prefix = "h",
	    .domain = "bench.eca",
	    .heartbeats = 3,
	    .n = 100};
	const char *conf = NULL, *direct = NULL, *nat = NULL;
	int i;

	if (argc < 2)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0); /* bench/nat.sh reads it as it goes */
	/* A session the broker closed is counted dead, not fatal. */
	signal(SIGPIPE, SIG_IGN);
	for (i = 2; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];

		if (strcmp(k, "--target") == 0)
			target_arg(argv[i + 1], &o);
		else if (strcmp(k, "--trust") == 0)
			o.trust = v;
		else if (strcmp(k, "--certs") == 0)
			o.certs = v;
		else if (strcmp(k, "--prefix") == 0)
			o.prefix = v;
		else if (strcmp(k, "--domain") == 0)
			o.domain = v;
		else if (strcmp(k, "--n") == 0)
			o.n = num_arg(v, 1, 1000000);
		else if (strcmp(k, "--server-pid") == 0)
			o.pid = num_arg(v, 1, 1L << 30);
		else if (strcmp(k, "--heartbeats") == 0)
			o.heartbeats = (int)num_arg(v, 1, 1000);
		else if (strcmp(k, "--hold") == 0)
			o.hold = (int)num_arg(v, 1, 3600);
		else if (strcmp(k, "--ready") == 0)
			o.ready = v;
		else if (strcmp(k, "--bare-cert") == 0)
			o.bare_cert = v;
		else if (strcmp(k, "--bare-key") == 0)
			o.bare_key = v;
		else if (strcmp(k, "--config") == 0)
			conf = v;
		else if (strcmp(k, "--direct") == 0)
			direct = v;
		else if (strcmp(k, "--nat") == 0)
			nat = v;
		else
			usage();
	}
	if (i != argc)
		usage();
	if (strcmp(argv[1], "setup") == 0 && conf != NULL && direct != NULL &&
	    nat != NULL)
		run_setup(conf, direct, nat, o.n);
	else if (strcmp(argv[1], "sessions") == 0 && o.host != NULL &&
	    o.trust != NULL && o.certs != NULL && o.pid > 0 &&
	    (o.ready == NULL) == (o.hold == 0) &&
	    (o.bare_cert == NULL) == (o.bare_key == NULL))
		run_sessions(&o);
	else
		usage();
	return 0;
}
