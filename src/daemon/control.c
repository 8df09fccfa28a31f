/* SPDX-License-Identifier: ISC */
/*
 * control.c - the control socket: a UNIX socket (mode 0600) at
 * CONTROL_SOCKET serving the same /v1 handlers over plain HTTP, in worker
 * 0's event loop.  The kernel tells us who is calling (SO_PEERCRED): root
 * or the daemon's own user is an administrator, anyone else gets 403.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/http.h>

#include "ecad.h"
#include "log.h"
#include "wire.h"

static int
control_addr(const char *path, struct sockaddr_un *sun, struct eca_err *err)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		return eca_err_set(err, ECA_ERR_CONFIG,
		    "CONTROL_SOCKET %s is longer than %zu bytes (choose a "
		    "shorter path)",
		    path, sizeof(sun->sun_path) - 1);
	memcpy(sun->sun_path, path, strlen(path) + 1);
	return 0;
}

/*
 * A socket file left by a daemon that died is removed; one that answers
 * belongs to a running ecad, and anything else is not ours to delete.
 */
static int
control_clear_stale(const char *path, const struct sockaddr_un *sun,
    struct eca_err *err)
{
	struct stat st;
	int fd, live;

	if (lstat(path, &st) == -1)
		return errno == ENOENT ?
		    0 :
		    eca_err_set(err, ECA_ERR_IO,
			"cannot inspect CONTROL_SOCKET %s: %s", path,
			strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return eca_err_set(err, ECA_ERR_CONFIG,
		    "CONTROL_SOCKET %s exists and is not a socket (remove it "
		    "or choose another path)",
		    path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return eca_err_set(err, ECA_ERR_IO, "socket: %s",
		    strerror(errno));
	live = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	if (live)
		return eca_err_set(err, ECA_ERR_CONFIG,
		    "another ecad answers on the control socket %s (stop it "
		    "first, or set a different STATE_DIR/CONTROL_SOCKET)",
		    path);
	if (unlink(path) == -1)
		return eca_err_set(err, ECA_ERR_IO,
		    "cannot remove the stale control socket %s: %s", path,
		    strerror(errno));
	log_info("removed stale control socket %s", path);
	return 0;
}

int
control_bind(struct ecad *d, struct eca_err *err)
{
	const char *path = d->cfg->control_socket;
	struct sockaddr_un sun;
	mode_t old;
	int fd = -1, r;

	if (path == NULL || path[0] == '\0')
		return 0;
	if ((r = control_addr(path, &sun, err)) != 0 ||
	    (r = control_clear_stale(path, &sun, err)) != 0)
		return r;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		 0)) == -1)
		return eca_err_set(err, ECA_ERR_IO, "socket: %s",
		    strerror(errno));
	/* Created 0600 from the start: no window with a wider mode. */
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (r == -1) {
		r = eca_err_set(err, ECA_ERR_IO,
		    "cannot bind the control socket %s: %s (check STATE_DIR)",
		    path, strerror(errno));
		close(fd);
		return r;
	}
	d->ctl_created = 1;
	if (chmod(path, 0600) == -1 || listen(fd, 64) == -1) {
		r = eca_err_set(err, ECA_ERR_IO,
		    "cannot listen on the control socket %s: %s", path,
		    strerror(errno));
		close(fd);
		return r;
	}
	d->ctl_fd = fd;
	return 0;
}

static void
control_cb(struct evhttp_request *req, void *arg)
{
	struct ecad_worker *w = arg;
	struct evhttp_connection *evcon;
	struct bufferevent *bev;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	evutil_socket_t fd = -1;
	uid_t uid = (uid_t)-1;
	int admin = 0;

	if ((evcon = evhttp_request_get_connection(req)) != NULL &&
	    (bev = evhttp_connection_get_bufferevent(evcon)) != NULL)
		fd = bufferevent_getfd(bev);
	if (fd != -1 &&
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
	    len == sizeof(cred)) {
		uid = cred.uid;
		admin = uid == 0 || uid == w->d->admin_uid;
	}
	api_control_request(w, req, uid, admin);
}

int
control_attach(struct ecad *d, struct ecad_worker *w, struct eca_err *err)
{
	if ((w->ctl_http = evhttp_new(w->base)) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "cannot create the control socket's server");
	evhttp_set_gencb(w->ctl_http, control_cb, w);
	evhttp_set_max_headers_size(w->ctl_http, ECAD_HEADERS_MAX);
	evhttp_set_max_body_size(w->ctl_http, ECAD_HTTP_BODY_MAX);
	evhttp_set_timeout(w->ctl_http, d->cfg->request_timeout);
	evhttp_set_allowed_methods(w->ctl_http, ECAD_HTTP_METHODS);
	if ((w->ctl_bound = evhttp_accept_socket_with_handle(w->ctl_http,
		 d->ctl_fd)) == NULL)
		return eca_err_set(err, ECA_ERR_IO,
		    "cannot accept on the control socket %s",
		    d->cfg->control_socket);
	d->ctl_fd = -1; /* the listener closes it */
	return 0;
}

void
control_unlink(struct ecad *d)
{
	if (d->ctl_created && d->cfg->control_socket != NULL &&
	    unlink(d->cfg->control_socket) == -1 && errno != ENOENT)
		log_warn("cannot remove the control socket %s: %s",
		    d->cfg->control_socket, strerror(errno));
	d->ctl_created = 0;
}
