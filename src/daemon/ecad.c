/*
 * ecad.c - the eca daemon: options, start-up phases, signals, the
 * reloadable TLS snapshot, daemonizing and dropping privileges.
 *
 * Start-up order: parse the configuration, load the credentials, open the
 * registry writer connection, bind the API and control sockets, drop
 * privileges, start the writer and the workers, say "ready".  Each phase
 * is one function; main() only strings them together.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/crypto.h>
#include "eca-config.h"
#if ECA_HAVE_SYSTEMD
#include <sys/uio.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#endif

#include "client.h"
#include "config.h"
#include "crl.h"
#include "ecad.h"
#include "host.h"
#include "log.h"
#include "tls.h"
#include "vcache.h"
#include "x509.h"

#define DEFAULT_CONF "/etc/eca/eca.conf"

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: ecad [-dhjtTV] [-f FILE]\n"
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

/* Logging: stderr with a timestamp in the foreground, else syslog. */
static const char *
level_name(enum eca_log_level l)
{
	switch (l) {
	case ECA_LOG_DEBUG:
		return "debug";
	case ECA_LOG_INFO:
		return "info";
	case ECA_LOG_WARN:
		return "warn";
	default:
		return "error";
	}
}

/*
 * The function name is for developers: shown at debug level only.  Every
 * other message says what happened on its own.
 */
static void
log_stderr(enum eca_log_level level, const char *func,
    const struct eca_log_field *fields, const char *msg, void *arg)
{
	struct timeval tv;
	struct tm tm;
	char ts[32];

	(void)arg;
	(void)fields;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ ecad[%ld] %s: %s%s%s\n", ts,
	    (long)tv.tv_usec / 1000, (long)getpid(), level_name(level),
	    level == ECA_LOG_DEBUG ? func : "",
	    level == ECA_LOG_DEBUG ? ": " : "", msg);
}

static const int syslog_prio[] = { LOG_DEBUG, LOG_INFO, LOG_WARNING,
    LOG_ERR };

static void
log_syslog(enum eca_log_level level, const char *func,
    const struct eca_log_field *fields, const char *msg, void *arg)
{
	(void)arg;
	(void)fields;
	if (level == ECA_LOG_DEBUG)
		syslog(LOG_DEBUG, "debug: %s: %s", func, msg);
	else
		syslog(syslog_prio[level], "%s: %s", level_name(level), msg);
}

#if ECA_HAVE_SYSTEMD
#define JOURNAL_FIELDS_MAX 8		/* fields of one message */
#define JOURNAL_FIELD_LEN 1100		/* "NAME=" + a 1024-byte message */

struct journal_entry {
	char buf[4 + JOURNAL_FIELDS_MAX][JOURNAL_FIELD_LEN];
	struct iovec iov[4 + JOURNAL_FIELDS_MAX];
	size_t n;
};

/* One NAME=value field (cut at JOURNAL_FIELD_LEN); empty values left out. */
static void
journal_add(struct journal_entry *e, const char *name, const char *value)
{
	int len;

	if (value == NULL || value[0] == '\0' ||
	    e->n >= sizeof(e->iov) / sizeof(e->iov[0]))
		return;
	len = snprintf(e->buf[e->n], JOURNAL_FIELD_LEN, "%s=%s", name, value);
	if (len < 0)
		return;
	e->iov[e->n].iov_base = e->buf[e->n];
	e->iov[e->n].iov_len = len < JOURNAL_FIELD_LEN ? (size_t)len :
	    JOURNAL_FIELD_LEN - 1;
	e->n++;
}

/*
 * The journal: the message, its priority, the function as CODE_FUNC, and
 * the decision's fields (HOST, FINGERPRINT, REASON, PRIMARY) apart, so
 * that `journalctl -u ecad HOST=db7.example.com` finds a host's verdicts.
 */
static void
log_journal(enum eca_log_level level, const char *func,
    const struct eca_log_field *fields, const char *msg, void *arg)
{
	static const char *const prio[] = { "7", "6", "4", "3" };
	struct journal_entry e;
	size_t i;

	(void)arg;
	e.n = 0;
	journal_add(&e, "MESSAGE", msg);
	journal_add(&e, "PRIORITY", prio[level]);
	journal_add(&e, "SYSLOG_IDENTIFIER", "ecad");
	journal_add(&e, "CODE_FUNC", func);
	for (i = 0; fields != NULL && fields[i].name != NULL &&
	    i < JOURNAL_FIELDS_MAX; i++)
		journal_add(&e, fields[i].name, fields[i].value);
	(void)sd_journal_sendv(e.iov, (int)e.n);
}

/*
 * systemd sets JOURNAL_STREAM to "DEV:INODE" of the stream it connected
 * to stderr; it counts only if stderr is still that stream (a child with
 * stderr redirected to a file inherits the variable).
 */
static int
stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (e == NULL || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}
#endif

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
	struct timespec ts;
	char buf[80];

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return;
	snprintf(buf, sizeof(buf), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL);
	notify(buf);
}

static enum eca_log_level
log_level_of(const char *s)
{
	if (s == NULL)
		return ECA_LOG_INFO;
	if (strcasecmp(s, "debug") == 0)
		return ECA_LOG_DEBUG;
	if (strcasecmp(s, "warn") == 0 || strcasecmp(s, "warning") == 0)
		return ECA_LOG_WARN;
	if (strcasecmp(s, "error") == 0)
		return ECA_LOG_ERROR;
	return ECA_LOG_INFO;
}

static void
log_setup(struct ecad *d)
{
	enum eca_log_level min = log_level_of(d->cfg->log_level);

#if ECA_HAVE_SYSTEMD
	if (d->foreground && (d->journal || stderr_is_journal()))
		eca_log_set_sink(log_journal, NULL, min);
	else
#endif
	if (d->foreground)
		eca_log_set_sink(log_stderr, NULL, min);
	else {
		openlog("ecad", LOG_PID | LOG_NDELAY, LOG_DAEMON);
		eca_log_set_sink(log_syslog, NULL, min);
	}
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

/* The reloadable snapshot. */
struct ecad_snap *
ecad_snap_get(struct ecad *d)
{
	struct ecad_snap *s;

	pthread_mutex_lock(&d->snap_lock);
	s = d->snap;
	atomic_fetch_add(&s->refs, 1);
	pthread_mutex_unlock(&d->snap_lock);
	return s;
}

void
ecad_snap_put(struct ecad_snap *s)
{
	if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	eca_host_free(s->host);		/* borrows cfg */
	SSL_CTX_free(s->peer_ctx);
	SSL_CTX_free(s->ctx);
	eca_vcache_free(s->vcache);
	eca_cred_free(s->cred);
	eca_config_free(s->cfg);
	free(s);
}

/* Credentials and server context for cfg; takes cfg on success. */
static int
snap_build(struct ecad *d, struct eca_config *cfg, struct ecad_snap **out,
    struct eca_err *err)
{
	struct ecad_snap *s = NULL;
	int r;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
	if ((r = eca_cred_load(NULL, cfg, &s->cred, err)) != 0 ||
	    (r = eca_tls_server_ctx(NULL, s->cred, &s->ctx, err)) != 0) {
		eca_cred_free(s->cred);
		free(s);
		return r;
	}
	server_ctx_setup(d, s->ctx);
	atomic_init(&s->refs, 1);
	s->gen = ++d->snap_gen;
	s->cfg = cfg;
	if ((r = eca_vcache_new(s->cred->trust, ECA_VCACHE_SLOTS,
	    &s->vcache)) != 0)
		r = eca_err_set(err, r, "cannot make the certificate "
		    "verification cache");
	else
		r = peer_snap_setup(d, s, err);
	if (r != 0) {
		s->cfg = NULL;	/* the caller keeps cfg on failure */
		ecad_snap_put(s);
		return r;
	}
	*out = s;
	return 0;
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
			fprintf(stderr, "ecad: -j: this ecad was built without "
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
		fprintf(stderr, "ecad: -j needs -d (systemd runs ecad in the "
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

/* Phase: configuration and credentials (also all of -t and -T). */
static int
load_config(struct ecad *d)
{
	struct eca_config *cfg = NULL;
	struct ecad_snap *s = NULL;
	struct eca_err err;
	char *dump;
	int r;

	eca_err_clear(&err);
	if ((r = eca_config_load(d->conf_path, &cfg, &err)) != 0) {
		fprintf(stderr, "ecad: %s\n", err.msg);
		return -1;
	}
	if (d->dump_only) {
		if ((dump = eca_config_dump(cfg)) == NULL) {
			fprintf(stderr, "ecad: out of memory\n");
			eca_config_free(cfg);
			return -1;
		}
		fputs(dump, stdout);
		free(dump);
		d->cfg = cfg;
		return 0;
	}
	if ((r = snap_build(d, cfg, &s, &err)) != 0) {
		fprintf(stderr, "ecad: %s\n", err.msg);
		eca_config_free(cfg);
		return -1;
	}
	d->snap = s;
	/*
	 * d->cfg is the start-up configuration (restart-only keys); the
	 * snapshot has its own copy that SIGHUP replaces.
	 */
	if ((r = eca_config_load(d->conf_path, &d->cfg, &err)) != 0) {
		fprintf(stderr, "ecad: %s\n", err.msg);
		return -1;
	}
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
		return eca_err_set(err, ECA_ERR_IO, "cannot create STATE_DIR "
		    "%s: %s (create it or fix its parent's permissions)", dir,
		    strerror(errno));
	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode))
		return eca_err_set(err, ECA_ERR_CONFIG, "STATE_DIR %s is not "
		    "a directory", dir);
	return 0;
}

static int
open_registry(struct ecad *d, struct eca_err *err)
{
	int r;

	if ((r = ensure_state_dir(d, err)) != 0)
		return r;
	return eca_store_open(d->cfg->db, 0, &d->wstore, err);
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

/*
 * Is the live process pid an ecad?  A pid file left by a crash may name
 * a pid since reused by another program (or a zombie not yet reaped),
 * which must not keep ecad from starting.  Without /proc, assume it is.
 */
static int
pid_is_ecad(long pid)
{
	char path[64], buf[512], *open_p, *close_p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 1;
	buf[n] = '\0';
	/* "PID (COMM) STATE ...": COMM may itself hold parentheses. */
	if ((open_p = strchr(buf, '(')) == NULL ||
	    (close_p = strrchr(buf, ')')) == NULL || close_p < open_p ||
	    close_p[1] == '\0' || close_p[2] == '\0')
		return 1;
	if (close_p[2] == 'Z' || close_p[2] == 'X')
		return 0;
	*close_p = '\0';
	return strcmp(open_p + 1, "ecad") == 0;
}

/*
 * Refuse to start when the pid file names a live ecad (kill(pid, 0)
 * succeeds or is refused for permission).
 */
static int
pidfile_check(struct ecad *d, struct eca_err *err)
{
	const char *path = d->cfg->pid_file;
	char buf[32], *end;
	ssize_t n;
	long pid;
	int fd;

	if (path == NULL)
		return 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	errno = 0;
	pid = strtol(buf, &end, 10);
	if (errno != 0 || end == buf || pid <= 1 || pid == (long)getpid())
		return 0;
	if ((kill((pid_t)pid, 0) == 0 || errno == EPERM) && pid_is_ecad(pid))
		return eca_err_set(err, ECA_ERR_CONFIG, "ecad is already "
		    "running as pid %ld (PID_FILE %s); stop it first", pid,
		    path);
	return 0;
}

static int
pidfile_write(struct ecad *d, struct eca_err *err)
{
	const char *path = d->cfg->pid_file;
	char buf[32];
	int fd, n, r = 0;

	if (path == NULL)
		return 0;
	(void)unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0644);
	if (fd == -1)
		return eca_err_set(err, ECA_ERR_IO, "cannot write PID_FILE "
		    "%s: %s", path, strerror(errno));
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (fchmod(fd, 0644) == -1 || write(fd, buf, (size_t)n) != n)
		r = eca_err_set(err, ECA_ERR_IO, "cannot write PID_FILE %s: %s",
		    path, strerror(errno));
	close(fd);
	if (r == 0)
		d->pid_written = 1;
	return r;
}

static void
pidfile_remove(struct ecad *d)
{
	if (d->pid_written && unlink(d->cfg->pid_file) == -1 &&
	    errno != ENOENT)
		log_warn("cannot remove PID_FILE %s: %s", d->cfg->pid_file,
		    strerror(errno));
	d->pid_written = 0;
}

/*
 * Double fork and setsid; the original process waits on a pipe for
 * "ready" (exit 0) or the start-up error (printed, exit 1), so a script
 * that runs `ecad -f FILE` learns whether it started.
 */
static int
daemonize(struct ecad *d)
{
	char buf[ECA_ERR_MSG_MAX + 128];
	int p[2], fd;
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) == -1) {
		fprintf(stderr, "ecad: pipe: %s\n", strerror(errno));
		return -1;
	}
	if ((pid = fork()) == -1) {
		fprintf(stderr, "ecad: fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid != 0) {
		close(p[1]);
		while (len < sizeof(buf) - 1 &&
		    (n = read(p[0], buf + len, sizeof(buf) - 1 - len)) != 0) {
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				break;
			len += (size_t)n;
		}
		buf[len] = '\0';
		if (strcmp(buf, "ready") == 0)
			_exit(0);
		fprintf(stderr, "ecad: %s\n", len > 0 ? buf :
		    "exited during start-up (see the system log)");
		_exit(1);
	}
	close(p[0]);
	if (setsid() == -1)
		_exit(1);
	if ((pid = fork()) == -1)
		_exit(1);
	if (pid != 0)
		_exit(0);
	if (chdir("/") == -1)
		_exit(1);
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	d->ready_fd = p[1];
	return 0;
}

static int
chown_path(const char *path, uid_t uid, gid_t gid, struct eca_err *err)
{
	if (lchown(path, uid, gid) == -1 && errno != ENOENT)
		return eca_err_set(err, ECA_ERR_IO, "cannot give %s to the "
		    "daemon's USER: %s", path, strerror(errno));
	return 0;
}

/* STATE_DIR and what is in it (registry, WAL, socket, pid file). */
static int
chown_state(struct ecad *d, uid_t uid, gid_t gid, struct eca_err *err)
{
	const char *dir = d->cfg->state_dir;
	struct dirent *de;
	DIR *dp;
	char path[4096];
	int r = 0;

	if (dir == NULL)
		return 0;
	if ((r = chown_path(dir, uid, gid, err)) != 0)
		return r;
	if ((dp = opendir(dir)) == NULL)
		return eca_err_set(err, ECA_ERR_IO, "cannot read STATE_DIR "
		    "%s: %s", dir, strerror(errno));
	while (r == 0 && (de = readdir(dp)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
		    (int)sizeof(path))
			continue;
		r = chown_path(path, uid, gid, err);
	}
	closedir(dp);
	return r;
}

/* The registry files when ECA_DB points outside STATE_DIR. */
static int
chown_db(struct ecad *d, uid_t uid, gid_t gid, struct eca_err *err)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	const char *db = d->cfg->db;
	char path[4096];
	size_t i;
	int r;

	if (db == NULL || strncmp(db, "sqlite:", 7) != 0)
		return 0;
	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		if (snprintf(path, sizeof(path), "%s%s", db + 7, sfx[i]) >=
		    (int)sizeof(path))
			continue;
		if ((r = chown_path(path, uid, gid, err)) != 0)
			return r;
	}
	if (d->ctl_created)
		return chown_path(d->cfg->control_socket, uid, gid, err);
	return 0;
}

/*
 * Phase: as root with USER set, hand the state to USER and become it for
 * good (and check that root cannot be regained).
 */
static int
drop_privileges(struct ecad *d, struct eca_err *err)
{
	struct passwd *pw;
	uid_t uid;
	gid_t gid;
	int r;

	d->admin_uid = geteuid();
	if (geteuid() != 0) {
		/* Started unprivileged (ecad.service: User=_eca): nothing to drop. */
		if (d->cfg->user != NULL && ((pw = getpwnam(d->cfg->user)) ==
		    NULL || pw->pw_uid != geteuid()))
			log_warn("USER %s is not used: ecad was started as uid "
			    "%u, not as root", d->cfg->user,
			    (unsigned)geteuid());
		return 0;
	}
	if (d->cfg->user == NULL) {
		log_warn("running as root: set USER in %s to drop privileges",
		    d->conf_path);
		return 0;
	}
	errno = 0;
	if ((pw = getpwnam(d->cfg->user)) == NULL)
		return eca_err_set(err, ECA_ERR_CONFIG, "USER %s does not "
		    "exist (create it or change USER)", d->cfg->user);
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if ((r = chown_state(d, uid, gid, err)) != 0 ||
	    (r = chown_db(d, uid, gid, err)) != 0)
		return r;
	if (setgroups(1, &gid) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1)
		return eca_err_set(err, ECA_ERR_INTERNAL, "cannot become USER "
		    "%s: %s", d->cfg->user, strerror(errno));
	if (uid != 0 && (setuid(0) != -1 || seteuid(0) != -1))
		return eca_err_set(err, ECA_ERR_INTERNAL, "dropped to %s but "
		    "could regain root; refusing to run", d->cfg->user);
	/* Nor through an exec of a set-uid or file-capability program. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return eca_err_set(err, ECA_ERR_INTERNAL, "cannot set "
		    "no_new_privs after dropping to %s: %s", d->cfg->user,
		    strerror(errno));
	d->admin_uid = uid;
	log_info("running as %s (uid %u)", d->cfg->user, (unsigned)uid);
	return 0;
}

/* SIGHUP: new configuration and credentials, or keep the old ones. */
static void
reload(struct ecad *d)
{
	struct eca_config *cfg = NULL;
	struct ecad_snap *s = NULL, *old;
	struct eca_err err;

	eca_err_clear(&err);
	if (eca_config_load(d->conf_path, &cfg, &err) != 0) {
		log_error("reload failed, keeping the running configuration: "
		    "%s", err.msg);
		return;
	}
	if (snap_build(d, cfg, &s, &err) != 0) {
		log_error("reload failed, keeping the running configuration: "
		    "%s", err.msg);
		eca_config_free(cfg);
		return;
	}
	pthread_mutex_lock(&d->snap_lock);
	old = d->snap;
	d->snap = s;
	pthread_mutex_unlock(&d->snap_lock);
	ecad_snap_put(old);
	log_info("configuration reloaded from %s (credentials, "
	    "ADMIN_IDENTITY, ECA_IDENTITY, ECA_ALLOW_FORCED_REENROLLMENT; "
	    "listen addresses, ECA_DB, WORKERS, USER and paths need a "
	    "restart)", d->conf_path);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct ecad *d = arg;

	(void)what;
	if (sig == SIGHUP) {
		notify_reloading();
		log_info("SIGHUP: reloading %s", d->conf_path);
		reload(d);
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
		    (r = pidfile_write(d, err)) != 0 ||
		    (r = drop_privileges(d, err)) != 0 ||
		    (r = crl_start(d, err)) != 0 ||
		    (r = crlsync_start(d, err)) != 0)
			return r;
		return peer_start(d, err);
	}
	if ((d->ssl_idx = ecad_conn_index()) < 0)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot register the connection state with OpenSSL");
	if ((r = open_registry(d, err)) != 0 ||
	    (r = server_bind(d, err)) != 0 ||
	    (r = peer_bind(d, err)) != 0 ||
	    (r = control_bind(d, err)) != 0 ||
	    (r = pidfile_write(d, err)) != 0 ||
	    (r = drop_privileges(d, err)) != 0)
		return r;
	if ((r = crl_start(d, err)) != 0 ||
	    (r = crlsync_start(d, err)) != 0)
		return r;
	if ((r = writer_start(d, d->wstore, &d->writer, err)) != 0)
		return r;
	d->wstore = NULL;	/* the writer owns it */
	if ((r = server_start(d, err)) != 0)
		return r;
	return peer_start(d, err);
}

static void
announce_ready(struct ecad *d)
{
	if (d->peer_desc[0] != '\0' && d->foreground)
		fprintf(stderr, "ecad: peer listener on %s\n", d->peer_desc);
	if (d->cfg->role == ECA_ROLE_PRIMARY) {
		log_info("ready: primary %s, %zu worker(s), listening on %s, "
		    "control socket %s", d->cfg->client_name, d->nworkers,
		    d->listen_desc, d->cfg->control_socket != NULL ?
		    d->cfg->control_socket : "none");
		if (d->foreground)
			fprintf(stderr, "ecad: ready, listening on %s\n",
			    d->listen_desc);
	} else {
		log_info("ready: %s %s, peer listener on %s",
		    eca_role_name(d->cfg->role), d->cfg->client_name,
		    d->peer_desc[0] != '\0' ? d->peer_desc : "none");
		if (d->foreground)
			fprintf(stderr, "ecad: ready, role %s, listening on "
			    "%s\n", eca_role_name(d->cfg->role),
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
	peer_stop(d);
	peer_free(d);
	server_stop(d);
	server_join(d);
	writer_stop(d->writer);
	d->writer = NULL;
	server_free(d);
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
	pidfile_remove(d);
}

static int
run(struct ecad *d)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	struct event *ev[3] = { NULL, NULL, NULL };
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
		    NULL || event_add(ev[i], NULL) != 0) {
			fatal_msg(d, "cannot install signal handlers");
			goto out;
		}
	}
	if (pidfile_check(d, &err) != 0 || start(d, &err) != 0) {
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
	d.ready_fd = -1;
	d.ctl_fd = -1;
	pthread_mutex_init(&d.snap_lock, NULL);
	if ((rc = parse_options(&d, argc, argv)) != 0)
		return rc < 0 ? 1 : 0;
	rc = 1;
	if (evthread_use_pthreads() != 0) {
		fprintf(stderr, "ecad: libevent has no thread support\n");
		return 1;
	}
	if (load_config(&d) != 0)
		goto out;
	if (d.dump_only) {
		rc = 0;
		goto out;
	}
	if (d.test_only) {
		rc = test_config(&d);
		goto out;
	}
	log_setup(&d);
	if (!d.foreground && daemonize(&d) != 0)
		goto out;
	rc = run(&d);
out:
	if (d.ready_fd != -1)
		close(d.ready_fd);
	if (d.wstore != NULL)
		eca_store_close(d.wstore);
	ecad_snap_put(d.snap);
	eca_config_free(d.cfg);
	pthread_mutex_destroy(&d.snap_lock);
	free(d.conf_abs);
	return rc;
}
