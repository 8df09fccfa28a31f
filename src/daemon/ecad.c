/* SPDX-License-Identifier: ISC */
/*
 * ecad.c - the eca daemon: options, start-up phases, signals and main.
 *
 * Start-up order: parse the configuration, load the credentials, open the
 * registry writer connection, bind the API and control sockets, drop
 * privileges, start the writer and the workers, say "ready".  Each phase
 * is one function; main() only strings them together.  The log sinks are
 * in ecad_log.c, the configuration snapshot and SIGHUP's reload in
 * ecad_snap.c, daemonizing, the pid file and privileges in ecad_proc.c.
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include "eca-config.h"
#if ECA_HAVE_MIMALLOC
#include <mimalloc.h>
#endif
#if ECA_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "client.h"
#include "crl.h"
#include "ecad_impl.h"
#include "log.h"
#include "util.h"

#define DEFAULT_CONF "/etc/eca/eca.conf"

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: ecad [-dhjtTV] [-f FILE]\n"
	    "  -f FILE  configuration (default $ECA_CONFIG, then %s)\n"
	    "  -d       stay in the foreground and log to stderr (or to the\n"
	    "           journal when stderr is systemd's journal stream)\n"
	    "  -j       with -d, log to the systemd journal with fields\n"
	    "  -t       check the configuration and credentials, then exit\n"
	    "  -T       print the effective configuration, then exit\n"
	    "  -V       print the version, then exit\n"
	    "  -h       print this help, then exit\n",
	    DEFAULT_CONF);
}

/* Tell systemd (Type=notify) where we are; a no-op outside systemd. */
static void
notify(const char *state)
{
#if ECA_HAVE_SYSTEMD
	(void)sd_notify(0, state);
#else
	(void)state;
#endif
}

/* RELOADING=1 with the monotonic time systemd wants alongside it. */
static void
notify_reloading(void)
{
	char buf[80];

	snprintf(buf, sizeof(buf), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)eca_util_mono_us());
	notify(buf);
}

/*
 * A start-up failure: on stderr (and to the waiting parent when
 * daemonizing) and in the log.
 */
static void fatal_msg(struct ecad *, const char *, ...) ECA_PRINTF(2, 3);
static void
fatal_msg(struct ecad *d, const char *fmt, ...)
{
	char msg[ECA_ERR_MSG_MAX + 128];
	va_list ap;
	ssize_t w;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!d->foreground)
		log_error("%s", msg);
	if (d->ready_fd != -1) {
		w = write(d->ready_fd, msg, strlen(msg));
		(void)w;
		close(d->ready_fd);
		d->ready_fd = -1;
	} else if (d->foreground)
		fprintf(stderr, "ecad: %s\n", msg);
}

/* Phase: options.  0 to go on, 1 when done (-V, -h), -1 on a usage error. */
static int
parse_options(struct ecad *d, int argc, char **argv)
{
	int ch;

	d->conf_path = getenv("ECA_CONFIG");
	while ((ch = getopt(argc, argv, "df:hjtTV")) != -1) {
		switch (ch) {
		case 'd':
			d->foreground = 1;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'j':
#if !ECA_HAVE_SYSTEMD
			fprintf(stderr,
			    "ecad: -j: this ecad was built without "
			    "systemd support (rebuild with -Dsystemd=enabled)"
			    "\n");
			return -1;
#endif
			d->journal = 1;
			break;
		case 'V':
			printf("ecad %s\n", ECA_VERSION);
			return 1;
		case 'f':
			d->conf_path = optarg;
			break;
		case 't':
			d->test_only = 1;
			break;
		case 'T':
			d->dump_only = 1;
			break;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return -1;
	}
	if (d->journal && !d->foreground) {
		fprintf(stderr,
		    "ecad: -j needs -d (systemd runs ecad in the "
		    "foreground)\n");
		return -1;
	}
	if (d->conf_path == NULL || d->conf_path[0] == '\0')
		d->conf_path = DEFAULT_CONF;
	/* SIGHUP re-reads it after the daemon has changed to "/". */
	if ((d->conf_abs = realpath(d->conf_path, NULL)) != NULL)
		d->conf_path = d->conf_abs;
	return 0;
}

/* STATE_DIR 0700, created if missing. */
static int
ensure_state_dir(struct ecad *d, struct eca_err *err)
{
	const char *dir = d->cfg->state_dir;
	struct stat st;

	if (dir == NULL)
		return 0;
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return eca_err_set(err, ECA_ERR_IO,
		    "cannot create STATE_DIR "
		    "%s: %s (create it or fix its parent's permissions)",
		    dir, strerror(errno));
	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode))
		return eca_err_set(err, ECA_ERR_CONFIG,
		    "STATE_DIR %s is not "
		    "a directory",
		    dir);
	return 0;
}

static int
open_registry(struct ecad *d, struct eca_err *err)
{
	int r;

	if ((r = ensure_state_dir(d, err)) != 0 ||
	    (r = eca_store_open_cfg(d->cfg, 0, &d->wstore, err)) != 0)
		return r;
	/* One line when the database is lost, one when it is back. */
	if (d->dbwatch == NULL &&
	    (r = eca_store_watch_new(&d->dbwatch, err)) != 0)
		return r;
	eca_store_watch_attach(d->wstore, d->dbwatch);
	/* A server that can go away: the roster answers from memory meanwhile. */
	if (d->rcache == NULL &&
	    strncmp(d->cfg->db, "sqlite:", strlen("sqlite:")) != 0)
		return rcache_new(&d->rcache, err);
	return 0;
}

/* `ecad -t`: everything start-up would load, then exit. */
static int
test_config(struct ecad *d)
{
	struct eca_err err;

	eca_err_clear(&err);
	if (d->cfg->role == ECA_ROLE_PRIMARY && open_registry(d, &err) != 0) {
		fprintf(stderr, "ecad: %s\n", err.msg);
		return 1;
	}
	printf("ecad: configuration OK\n");
	return 0;
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct ecad *d = arg;

	(void)what;
	if (sig == SIGHUP) {
		notify_reloading();
		log_info("SIGHUP: reloading %s", d->conf_path);
		ecad_reload(d);
		writer_reopen(d->writer);
		notify("READY=1");
		return;
	}
	notify("STOPPING=1");
	log_info("signal %d: shutting down", (int)sig);
	event_base_loopbreak(d->base);
}

/*
 * The CRL cache the workers share (created after dropping privileges, so
 * that STATE_DIR/crl belongs to the daemon's user); ECA_CRL_PATH is synced
 * once now, later by the CRL refresh thread (crlsync.c).
 */
static int
crl_start(struct ecad *d, struct eca_err *err)
{
	struct ecad_snap *s;
	struct eca_err e;
	size_t added = 0, refused = 0;
	int r;

	if (eca_client_global_init() != 0)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot initialise libcurl");
	if ((r = eca_crl_cache_open(NULL, d->cfg, &d->crls, err)) != 0)
		return r;
	if (d->cfg->crl_path == NULL)
		return 0;
	s = ecad_snap_get(d);
	eca_err_clear(&e);
	if (eca_crl_cache_sync_path(d->crls, s->cred->trust, s->cred->chain,
		&added, &refused, &e) != 0)
		log_warn("%s", e.msg);
	else
		log_info("CRLs from %s: %zu stored, %zu refused%s%s",
		    d->cfg->crl_path, added, refused, refused > 0 ? ": " : "",
		    refused > 0 ? e.msg : "");
	ecad_snap_put(s);
	return 0;
}

/* Phase: the serving part, from the registry to the ready line. */
static int
start(struct ecad *d, struct eca_err *err)
{
	int r;

	if (d->cfg->role != ECA_ROLE_PRIMARY) {
		/* Every role: the peer listener (peer.c). */
		if ((r = ensure_state_dir(d, err)) != 0 ||
		    (r = peer_bind(d, err)) != 0 ||
		    (r = metrics_http_bind(d, err)) != 0 ||
		    (r = ecad_pidfile_write(d, err)) != 0 ||
		    (r = ecad_drop_privileges(d, err)) != 0 ||
		    (r = crl_start(d, err)) != 0 ||
		    (r = crlsync_start(d, err)) != 0 ||
		    (r = peer_start(d, err)) != 0)
			return r;
		if ((r = nat_start(d, err)) != 0)
			return r;
		return metrics_http_start(d, err);
	}
	if ((d->ssl_idx = ecad_conn_index()) < 0)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot register the connection state with OpenSSL");
	if ((r = open_registry(d, err)) != 0 ||
	    (r = server_bind(d, err)) != 0 || (r = peer_bind(d, err)) != 0 ||
	    (r = metrics_http_bind(d, err)) != 0 ||
	    (r = broker_bind(d, err)) != 0 || (r = control_bind(d, err)) != 0 ||
	    (r = console_bind(d, err)) != 0 ||
	    (r = ecad_pidfile_write(d, err)) != 0 ||
	    (r = ecad_drop_privileges(d, err)) != 0)
		return r;
	if ((r = crl_start(d, err)) != 0 || (r = crlsync_start(d, err)) != 0)
		return r;
	hosthint_start(d, d->wstore);
	if ((r = writer_start(d, d->wstore, &d->writer, err)) != 0)
		return r;
	d->wstore = NULL; /* the writer owns it */
	if ((r = pglisten_start(d, err)) != 0)
		return r;
	if ((r = remote_start(d, err)) != 0 ||
	    (r = server_start(d, err)) != 0 || (r = peer_start(d, err)) != 0 ||
	    (r = broker_start(d, err)) != 0)
		return r;
	return metrics_http_start(d, err);
}

/*
 * Which allocator serves malloc: mimalloc when ecad was built with it and
 * nothing came before it (an LD_PRELOAD, a sanitizer), else the C
 * library's.
 */
static void
log_allocator(void)
{
#if ECA_HAVE_MIMALLOC
	void *p = malloc(64);
	int ours = p != NULL && mi_is_in_heap_region(p);
	int v = mi_version();

	free(p);
	if (ours)
		log_info("memory allocator: mimalloc %d.%d.%d", v / 100,
		    v / 10 % 10, v % 10);
	else
		log_warn("memory allocator: ecad is built with mimalloc but "
			 "malloc is another allocator's (LD_PRELOAD?)");
#else
	log_info("memory allocator: the C library's malloc");
#endif
}

static void
announce_ready(struct ecad *d)
{
	log_allocator();
	if (d->peer_desc[0] != '\0' && d->foreground)
		fprintf(stderr, "ecad: peer listener on %s\n", d->peer_desc);
	if (d->cfg->role == ECA_ROLE_PRIMARY) {
		log_info("ready: primary %s, %zu worker(s), listening on %s, "
			 "control socket %s",
		    d->cfg->client_name, d->nworkers, d->listen_desc,
		    d->cfg->control_socket != NULL ? d->cfg->control_socket :
						     "none");
		if (d->console_desc[0] != '\0')
			log_info("web console on https://%s/ (eca console "
				 "login)",
			    d->console_desc);
		if (d->foreground && d->console_desc[0] != '\0')
			fprintf(stderr, "ecad: web console on %s\n",
			    d->console_desc);
		if (d->foreground)
			fprintf(stderr, "ecad: ready, listening on %s\n",
			    d->listen_desc);
	} else {
		log_info("ready: %s %s, peer listener on %s",
		    eca_config_role_name(d->cfg->role), d->cfg->client_name,
		    d->peer_desc[0] != '\0' ? d->peer_desc : "none");
		if (d->foreground)
			fprintf(stderr,
			    "ecad: ready, role %s, listening on "
			    "%s\n",
			    eca_config_role_name(d->cfg->role),
			    d->peer_desc[0] != '\0' ? d->peer_desc : "none");
	}
	notify("READY=1\nSTATUS=ready");
	if (d->ready_fd != -1) {
		if (write(d->ready_fd, "ready", 5) != 5)
			log_warn("cannot tell the parent process we are ready");
		close(d->ready_fd);
		d->ready_fd = -1;
	}
}

/* Phase: stop accepting, finish in-flight work, drain the writer. */
static void
shutdown_all(struct ecad *d)
{
	metrics_http_stop(d);
	remote_stop(d); /* while the workers can still reply */
	nat_stop(d);
	broker_stop(d);
	peer_stop(d);
	peer_free(d);
	server_stop(d);
	server_join(d);
	/* API handlers read the broker's table: free it after them. */
	broker_free(d);
	writer_stop(d->writer);
	d->writer = NULL;
	hosthint_stop(d);
	pglisten_stop(d);
	server_free(d);
	remote_free(d);
	console_free(d);
	crlsync_stop(d);
	eca_crl_cache_free(d->crls);
	d->crls = NULL;
	if (d->wstore != NULL)
		eca_store_close(d->wstore);
	d->wstore = NULL;
	if (d->ctl_fd != -1)
		close(d->ctl_fd);
	d->ctl_fd = -1;
	control_unlink(d);
	ecad_pidfile_remove(d);
}

static int
run(struct ecad *d)
{
	static const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
	struct event *ev[3] = {NULL, NULL, NULL};
	struct eca_err err;
	size_t i;
	int rc = 1;

	eca_err_clear(&err);
	signal(SIGPIPE, SIG_IGN);
	if ((d->base = event_base_new()) == NULL) {
		fatal_msg(d, "cannot create the main event loop");
		goto out;
	}
	for (i = 0; i < 3; i++) {
		if ((ev[i] = evsignal_new(d->base, sigs[i], signal_cb, d)) ==
			NULL ||
		    event_add(ev[i], NULL) != 0) {
			fatal_msg(d, "cannot install signal handlers");
			goto out;
		}
	}
	if (ecad_pidfile_check(d, &err) != 0 || start(d, &err) != 0) {
		fatal_msg(d, "%s", err.msg);
		goto out;
	}
	announce_ready(d);
	event_base_dispatch(d->base);
	rc = 0;
out:
	shutdown_all(d);
	for (i = 0; i < 3; i++)
		if (ev[i] != NULL)
			event_free(ev[i]);
	if (d->base != NULL)
		event_base_free(d->base);
	d->base = NULL;
	if (rc == 0)
		log_info("stopped");
	return rc;
}

int
main(int argc, char **argv)
{
	struct ecad d;
	int rc = 1;

	memset(&d, 0, sizeof(d));
	d.started_at = (int64_t)time(NULL);
	eca_metrics_init(&d.metrics);
	d.ready_fd = -1;
	d.ctl_fd = -1;
	pthread_mutex_init(&d.snap_lock, NULL);
	if ((rc = parse_options(&d, argc, argv)) != 0)
		return rc < 0 ? 1 : 0;
	rc = 1;
	/*
	 * Every connection allocates and frees the same sizes (the TLS
	 * objects and buffers, the request): keep freed memory for the next
	 * one rather than give each thread's heap back to the kernel after
	 * a burst and grow it again (an mprotect and fresh zeroed pages per
	 * connection).  A bounded amount: MAX_CONNECTIONS caps what is live.
	 * For glibc's malloc only: mimalloc, when ecad is built with it,
	 * keeps its own per-thread pages (log_allocator).
	 */
	(void)mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
	(void)mallopt(M_TOP_PAD, 4 * 1024 * 1024);
	if (evthread_use_pthreads() != 0) {
		fprintf(stderr, "ecad: libevent has no thread support\n");
		return 1;
	}
	if (ecad_config_load(&d) != 0)
		goto out;
	if (d.dump_only) {
		rc = 0;
		goto out;
	}
	if (d.test_only) {
		rc = test_config(&d);
		goto out;
	}
	ecad_log_setup(&d);
	if (!d.foreground && ecad_daemonize(&d) != 0)
		goto out;
	rc = run(&d);
out:
	if (d.ready_fd != -1)
		close(d.ready_fd);
	if (d.wstore != NULL)
		eca_store_close(d.wstore);
	eca_store_watch_free(d.dbwatch);
	rcache_free(d.rcache);
	ecad_snap_put(d.snap);
	ecad_libctx_free(&d);
	eca_config_free(d.cfg);
	pthread_mutex_destroy(&d.snap_lock);
	free(d.conf_abs);
	return rc;
}
