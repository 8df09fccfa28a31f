/* SPDX-License-Identifier: ISC */
/*
 * channel_io.c - the channel client's I/O (channel_impl.h): connecting
 * (PEER entry or DNS), TLS, and frames read and written with deadlines.
 *
 * The socket is non-blocking and every wait is a poll() bounded by the
 * step's deadline; once TLS runs, a wait comes only after an SSL call
 * asked for more bytes: the set-up reads ahead (eca_channel_tls_connect),
 * so bytes may wait in the TLS buffer that poll() cannot see.  Its BIO
 * writes with MSG_NOSIGNAL, so that a peer closing the connection is an
 * error, not a SIGPIPE in a command line that never asked for one.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "channel_impl.h"
#include "util.h"
#include "wire.h"

/* ------------------------------------------------------------------ */
/* A socket BIO that cannot raise SIGPIPE.                            */

static BIO_METHOD *nosig_method;
static pthread_once_t nosig_once = PTHREAD_ONCE_INIT;

static int
nosig_fd(BIO *b)
{
	return (int)(intptr_t)BIO_get_data(b);
}

static int
nosig_write(BIO *b, const char *buf, int len)
{
	ssize_t n;

	BIO_clear_retry_flags(b);
	if (len <= 0)
		return 0;
	do
		n = send(nosig_fd(b), buf, (size_t)len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		BIO_set_retry_write(b);
	return (int)n;
}

static int
nosig_read(BIO *b, char *buf, int len)
{
	ssize_t n;

	BIO_clear_retry_flags(b);
	if (len <= 0)
		return 0;
	do
		n = recv(nosig_fd(b), buf, (size_t)len, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		BIO_set_retry_read(b);
	return (int)n;
}

static long
nosig_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)num;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_C_GET_FD:
		if (ptr != NULL)
			*(int *)ptr = nosig_fd(b);
		return nosig_fd(b);
	default:
		return 0;
	}
}

static int
nosig_create(BIO *b)
{
	BIO_set_data(b, (void *)(intptr_t)-1);
	BIO_set_init(b, 1);
	return 1;
}

static void
nosig_setup(void)
{
	BIO_METHOD *m;
	int idx;

	if ((idx = BIO_get_new_index()) == -1)
		return;
	if ((m = BIO_meth_new(idx | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
		 "eca socket")) == NULL)
		return;
	if (BIO_meth_set_write(m, nosig_write) != 1 ||
	    BIO_meth_set_read(m, nosig_read) != 1 ||
	    BIO_meth_set_ctrl(m, nosig_ctrl) != 1 ||
	    BIO_meth_set_create(m, nosig_create) != 1) {
		BIO_meth_free(m);
		return;
	}
	nosig_method = m;
}

static BIO *
nosig_bio(int fd)
{
	BIO *b;

	if (pthread_once(&nosig_once, nosig_setup) != 0 || nosig_method == NULL)
		return NULL;
	if ((b = BIO_new(nosig_method)) == NULL)
		return NULL;
	BIO_set_data(b, (void *)(intptr_t)fd);
	return b;
}

/* ------------------------------------------------------------------ */
/* Blocking I/O with deadlines.                                       */

int64_t
eca_channel_deadline(long timeout_ms)
{
	return eca_util_mono_us() + (int64_t)timeout_ms * 1000;
}

/* Wait for events on fd until deadline: 0, ECA_ERR_TIMEOUT or _IO. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd;
	int64_t left;
	int n;

	for (;;) {
		left = deadline - eca_util_mono_us();
		if (left <= 0)
			return ECA_ERR_TIMEOUT;
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		n = poll(&pfd, 1, (int)((left + 999) / 1000));
		if (n > 0)
			return 0; /* errors show in the next I/O call */
		if (n == 0)
			continue; /* re-check the clock */
		if (errno != EINTR)
			return ECA_ERR_IO;
	}
}

/*
 * After an SSL call returned ret: wait until it can be retried (0), or
 * say why the channel is done.  what is a phrase ("reading the VERDICT").
 */
static int
ssl_wait(struct eca_channel *ch, int ret, int64_t deadline, const char *what,
    struct eca_err *err)
{
	unsigned long e;
	short ev;
	int r, se, saved = errno;

	se = SSL_get_error(ch->ssl, ret);
	switch (se) {
	case SSL_ERROR_WANT_READ:
		ev = POLLIN;
		break;
	case SSL_ERROR_WANT_WRITE:
		ev = POLLOUT;
		break;
	case SSL_ERROR_ZERO_RETURN:
		ERR_clear_error();
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "%s closed the channel while %s", ch->peer, what);
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0) {
			ERR_clear_error();
			if (saved == 0 || saved == ECONNRESET || saved == EPIPE)
				return eca_err_set(err, ECA_ERR_PROTOCOL,
				    "%s closed the connection while %s",
				    ch->peer, what);
			return eca_err_set(err, ECA_ERR_IO, "%s with %s: %s",
			    what, ch->peer, strerror(saved));
		}
		/* FALLTHROUGH */
	default:
		e = ERR_peek_error();
		if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
		    ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
			ERR_clear_error();
			return eca_err_set(err, ECA_ERR_PROTOCOL,
			    "%s closed the connection while %s", ch->peer,
			    what);
		}
		eca_err_set(err, ECA_ERR_PROTOCOL,
		    "TLS failed with %s while "
		    "%s",
		    ch->peer, what);
		eca_err_add_openssl(err);
		return ECA_ERR_PROTOCOL;
	}
	if ((r = wait_fd(ch->fd, ev, deadline)) == ECA_ERR_TIMEOUT)
		return eca_err_set(err, ECA_ERR_TIMEOUT,
		    "%s did not answer "
		    "within %ld ms while %s",
		    ch->peer, ch->timeout_ms, what);
	if (r != 0)
		return eca_err_set(err, ECA_ERR_IO,
		    "waiting for %s while %s: "
		    "%s",
		    ch->peer, what, strerror(errno));
	return 0;
}

int
eca_channel_read_full(struct eca_channel *ch, unsigned char *buf, size_t n,
    int64_t deadline, const char *what, struct eca_err *err)
{
	size_t got = 0, k;
	int ret, r;

	while (got < n) {
		ERR_clear_error();
		errno = 0;
		if ((ret = SSL_read_ex(ch->ssl, buf + got, n - got, &k)) == 1) {
			got += k;
			continue;
		}
		if ((r = ssl_wait(ch, ret, deadline, what, err)) != 0)
			return r;
	}
	return 0;
}

int
eca_channel_write_full(struct eca_channel *ch, const unsigned char *buf,
    size_t n, int64_t deadline, const char *what, struct eca_err *err)
{
	size_t k;
	int ret, r;

	/* Without partial writes SSL_write_ex sends all or nothing. */
	while (n > 0) {
		ERR_clear_error();
		errno = 0;
		if ((ret = SSL_write_ex(ch->ssl, buf, n, &k)) == 1) {
			buf += k;
			n -= k;
			continue;
		}
		if ((r = ssl_wait(ch, ret, deadline, what, err)) != 0)
			return r;
	}
	return 0;
}

int
eca_channel_read_frame(struct eca_channel *ch, unsigned char *buf, size_t cap,
    size_t *len, const char *what, struct eca_err *err)
{
	unsigned char hdr[ECA_CHANNEL_FRAME_HDR];
	int64_t deadline = eca_channel_deadline(ch->timeout_ms);
	size_t flen;
	int r;

	*len = 0;
	if ((r = eca_channel_read_full(ch, hdr, sizeof(hdr), deadline, what,
		 err)) != 0)
		return r;
	switch (eca_channel_frame_need(hdr, sizeof(hdr), &flen)) {
	case ECA_ERR_PROTOCOL:
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "%s sent an empty frame while %s", ch->peer, what);
	case ECA_ERR_TOO_LARGE:
		return eca_err_set(err, ECA_ERR_TOO_LARGE,
		    "%s announced a "
		    "frame of more than %d bytes while %s",
		    ch->peer, ECA_FRAME_MAX, what);
	default:
		break; /* 1: the payload follows */
	}
	flen = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 |
	    (size_t)hdr[2] << 8 | (size_t)hdr[3];
	if (flen > cap)
		return eca_err_set(err, ECA_ERR_TOO_LARGE,
		    "%s sent a frame "
		    "of %zu bytes while %s (at most %zu expected)",
		    ch->peer, flen, what, cap);
	if ((r = eca_channel_read_full(ch, buf, flen, deadline, what, err)) !=
	    0)
		return r;
	*len = flen;
	return 0;
}

int
eca_channel_send_json(struct eca_channel *ch, json_t *j, const char *what,
    struct eca_err *err)
{
	unsigned char *f = NULL;
	size_t flen;
	int r;

	if ((r = eca_channel_frame_json(j, &f, &flen, err)) != 0)
		return r;
	r = eca_channel_write_full(ch, f, flen,
	    eca_channel_deadline(ch->timeout_ms), what, err);
	free(f);
	return r;
}

int
eca_channel_recv_json(struct eca_channel *ch, const char *what, json_t **out,
    struct eca_err *err)
{
	unsigned char *buf = NULL;
	json_t *j = NULL;
	size_t len;
	int r;

	*out = NULL;
	if ((buf = malloc(ECA_FRAME_MAX)) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = eca_channel_read_frame(ch, buf, ECA_FRAME_MAX, &len, what,
		 err)) != 0)
		goto out;
	if ((r = eca_channel_load_object(buf, len, "answer", &j, err)) != 0) {
		r = eca_channel_err_prefix(err, r, "%s while %s", ch->peer,
		    what);
		goto out;
	}
	if ((r = eca_wire_parse_error(j, err)) != 0) {
		r = eca_channel_err_prefix(err, r,
		    "%s answered an error "
		    "while %s",
		    ch->peer, what);
		goto out;
	}
	*out = j;
	j = NULL;
	r = 0;
out:
	json_decref(j);
	free(buf);
	return r;
}

/* Where peer listens: its PEER entry, else its name and the default port. */
static void
peer_address(const struct eca_config *cfg, const char *peer, const char **host,
    const char **port)
{
	size_t i;

	*host = peer;
	*port = ECA_DEFAULT_PEER_PORT;
	for (i = 0; i < cfg->npeers; i++) {
		if (cfg->peers[i].name == NULL ||
		    strcmp(cfg->peers[i].name, peer) != 0)
			continue;
		if (cfg->peers[i].host != NULL)
			*host = cfg->peers[i].host;
		if (cfg->peers[i].port != NULL)
			*port = cfg->peers[i].port;
		return;
	}
}

static void
format_address(const struct sockaddr *sa, socklen_t salen, char *buf,
    size_t len)
{
	char host[128], serv[16]; /* numeric forms only */

	if (getnameinfo(sa, salen, host, sizeof(host), serv, sizeof(serv),
		NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(buf, len, "?");
		return;
	}
	if (sa->sa_family == AF_INET6)
		snprintf(buf, len, "[%s]:%s", host, serv);
	else
		snprintf(buf, len, "%s:%s", host, serv);
}

/* Connect to one address before deadline: 0 and *fdp, or errno. */
static int
connect_one(const struct addrinfo *ai, int64_t deadline, int *fdp)
{
	socklen_t len;
	int fd, e, one = 1;

	*fdp = -1;
	if ((fd = socket(ai->ai_family,
		 ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		 ai->ai_protocol)) == -1)
		return errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
		if (errno != EINPROGRESS) {
			e = errno;
			close(fd);
			return e;
		}
		if ((e = wait_fd(fd, POLLOUT, deadline)) != 0) {
			close(fd);
			return e == ECA_ERR_TIMEOUT ? ETIMEDOUT : EIO;
		}
		len = sizeof(e);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) == -1)
			e = errno;
		if (e != 0) {
			close(fd);
			return e;
		}
	}
	/* Frames are small and answered: no Nagle delay. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*fdp = fd;
	return 0;
}

int
eca_channel_tcp_connect(struct eca_channel *ch, const struct eca_config *cfg,
    struct eca_channel_steps *steps, struct eca_err *err)
{
	struct addrinfo hints, *res = NULL, *ai;
	const char *host, *port;
	char addr[ECA_HOST_MAX + 8];
	int64_t t, deadline;
	int e = 0, r;

	peer_address(cfg, ch->peer, &host, &port);
	if (ch->port[0] != '\0')
		port = ch->port;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	t = eca_util_mono_us();
	if ((r = getaddrinfo(host, port, &hints, &res)) != 0) {
		r = eca_err_set(err, ECA_ERR_UNREACHABLE,
		    "cannot resolve %s "
		    "(%s): %s (add `PEER = %s host:port` to the configuration "
		    "or fix DNS)",
		    ch->peer, host,
		    r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r),
		    ch->peer);
		goto out;
	}
	steps->resolve_us = eca_util_mono_us() - t;

	t = eca_util_mono_us();
	deadline = eca_channel_deadline(ch->timeout_ms);
	addr[0] = '\0';
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		format_address(ai->ai_addr, ai->ai_addrlen, addr, sizeof(addr));
		if ((e = connect_one(ai, deadline, &ch->fd)) == 0)
			break;
		if (e == ETIMEDOUT)
			break;
	}
	snprintf(steps->address, sizeof(steps->address), "%s", addr);
	if (ch->fd == -1) {
		if (e == ETIMEDOUT)
			r = eca_err_set(err, ECA_ERR_TIMEOUT,
			    "cannot connect "
			    "to %s at %s within %ld ms (is ecad running there "
			    "and its LISTEN address reachable?)",
			    ch->peer, addr, ch->timeout_ms);
		else
			r = eca_err_set(err, ECA_ERR_UNREACHABLE,
			    "cannot "
			    "connect to %s at %s: %s (is ecad running there "
			    "and its LISTEN address reachable?)",
			    ch->peer, addr, strerror(e));
		goto out;
	}
	steps->tcp_us = eca_util_mono_us() - t;
	r = 0;
out:
	if (res != NULL)
		freeaddrinfo(res);
	return r;
}

static int
is_ip_literal(const char *s)
{
	unsigned char a[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

int
eca_channel_tls_connect(struct eca_channel *ch, SSL_CTX *ctx,
    struct eca_channel_steps *steps, struct eca_err *err)
{
	const char *name;
	int64_t t, deadline;
	BIO *b;
	int ret, r;

	t = eca_util_mono_us();
	if ((ch->ssl = SSL_new(ctx)) == NULL) {
		eca_err_set(err, ECA_ERR_NOMEM,
		    "cannot create a TLS "
		    "connection to %s",
		    ch->peer);
		eca_err_add_openssl(err);
		return ECA_ERR_NOMEM;
	}
	if ((b = nosig_bio(ch->fd)) == NULL) {
		eca_err_set(err, ECA_ERR_NOMEM,
		    "cannot create a socket BIO "
		    "for %s",
		    ch->peer);
		eca_err_add_openssl(err);
		return ECA_ERR_NOMEM;
	}
	SSL_set_bio(ch->ssl, b, b);
	SSL_set_connect_state(ch->ssl);
	/*
	 * Read ahead during the set-up: the server's last handshake flight,
	 * its tickets, its HELLO and often its VERDICT arrive together, and
	 * are taken in one recv() rather than two per record.  Safe because
	 * every wait here follows an SSL call that wanted more bytes, never
	 * precedes one; open_channel() switches it off once the channel is
	 * open.
	 */
	SSL_set_read_ahead(ch->ssl, 1);
	/* SNI helps a listener behind a TLS router; never an address. */
	if (!is_ip_literal(ch->peer))
		(void)SSL_set_tlsext_host_name(ch->ssl, ch->peer);
	deadline = eca_channel_deadline(ch->timeout_ms);
	for (;;) {
		ERR_clear_error();
		errno = 0;
		/*
		 * The client context defers chain verification to the
		 * verdict (host.c): a handshake fails only on TLS itself.
		 */
		if ((ret = SSL_do_handshake(ch->ssl)) == 1)
			break;
		if ((r = ssl_wait(ch, ret, deadline, "in the TLS handshake",
			 err)) != 0)
			return r;
	}
	steps->tls_us = eca_util_mono_us() - t;
	name = SSL_get_version(ch->ssl);
	snprintf(steps->tls_version, sizeof(steps->tls_version), "%s",
	    name != NULL ? name : "");
	name = SSL_get_cipher_name(ch->ssl);
	snprintf(steps->cipher, sizeof(steps->cipher), "%s",
	    name != NULL ? name : "");
	return 0;
}
