/*
 * listen.c - listening sockets for the API and the peer listener: one
 * place for the socket options every listener of ecad needs.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ecad.h"

#define LISTEN_BACKLOG 1024

/*
 * SO_REUSEPORT would let a second ecad of the same user bind the same
 * port and silently take half the connections: a probe bound without it
 * fails if anyone listens there already.
 */
static int
port_free(const struct addrinfo *ai)
{
	int fd, one = 1, ok;

	if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
	    ai->ai_protocol)) == -1)
		return 1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
		    sizeof(one));
	ok = bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno != EADDRINUSE;
	close(fd);
	return ok;
}

int
ecad_listen_socket(const struct addrinfo *ai, int probe, int *out)
{
	int fd, one = 1, e;

	*out = -1;
	if (probe && !port_free(ai)) {
		errno = EADDRINUSE;
		return -1;
	}
	if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol)) == -1)
		return -1;
	/*
	 * SO_REUSEPORT: one socket per thread, the kernel spreads the
	 * connections.  TCP_NODELAY is inherited by accepted sockets:
	 * without it a reply on a kept-alive connection waits ~40 ms for
	 * the client's delayed ACK.
	 */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1 ||
	    (ai->ai_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &one, sizeof(one)) == -1) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
	    listen(fd, LISTEN_BACKLOG) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	*out = fd;
	return 0;
}

int
ecad_bound_port(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == -1 ||
	    getnameinfo((struct sockaddr *)&ss, sl, NULL, 0, buf, len,
	    NI_NUMERICSERV) != 0)
		return -1;
	return 0;
}
