/* SPDX-License-Identifier: ISC */
/*
 * ecad_proc.c - what the daemon does to its own process: detach from
 * the terminal (telling the waiting parent how start-up went), keep a pid
 * file, drop root for good after handing STATE_DIR to USER, and name its
 * threads.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "ecad_impl.h"
#include "log.h"

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
int
ecad_pidfile_check(struct ecad *d, struct eca_err *err)
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
		return eca_err_set(err, ECA_ERR_CONFIG,
		    "ecad is already "
		    "running as pid %ld (PID_FILE %s); stop it first",
		    pid, path);
	return 0;
}

int
ecad_pidfile_write(struct ecad *d, struct eca_err *err)
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
		return eca_err_set(err, ECA_ERR_IO,
		    "cannot write PID_FILE "
		    "%s: %s",
		    path, strerror(errno));
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (fchmod(fd, 0644) == -1 || write(fd, buf, (size_t)n) != n)
		r = eca_err_set(err, ECA_ERR_IO, "cannot write PID_FILE %s: %s",
		    path, strerror(errno));
	close(fd);
	if (r == 0)
		d->pid_written = 1;
	return r;
}

void
ecad_pidfile_remove(struct ecad *d)
{
	if (d->pid_written && unlink(d->cfg->pid_file) == -1 && errno != ENOENT)
		log_warn("cannot remove PID_FILE %s: %s", d->cfg->pid_file,
		    strerror(errno));
	d->pid_written = 0;
}

/*
 * Double fork and setsid; the original process waits on a pipe for
 * "ready" (exit 0) or the start-up error (printed, exit 1), so a script
 * that runs `ecad -f FILE` learns whether it started.
 */
int
ecad_daemonize(struct ecad *d)
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
		fprintf(stderr, "ecad: %s\n",
		    len > 0 ? buf :
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
		return eca_err_set(err, ECA_ERR_IO,
		    "cannot give %s to the "
		    "daemon's USER: %s",
		    path, strerror(errno));
	return 0;
}

/* STATE_DIR and what is in it (registry, WAL, socket, pid file). */
static int
chown_state(struct ecad *d, uid_t uid, gid_t gid, struct eca_err *err)
{
	const char *dir = d->cfg->state_dir;
	struct dirent *de;
	DIR *dp;
	char path[PATH_MAX];
	int r = 0;

	if (dir == NULL)
		return 0;
	if ((r = chown_path(dir, uid, gid, err)) != 0)
		return r;
	if ((dp = opendir(dir)) == NULL)
		return eca_err_set(err, ECA_ERR_IO,
		    "cannot read STATE_DIR "
		    "%s: %s",
		    dir, strerror(errno));
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
	static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
	const char *db = d->cfg->db;
	char path[PATH_MAX];
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
int
ecad_drop_privileges(struct ecad *d, struct eca_err *err)
{
	struct passwd *pw;
	uid_t uid;
	gid_t gid;
	int r;

	d->admin_uid = geteuid();
	if (geteuid() != 0) {
		/* Started unprivileged (ecad.service: User=_eca). */
		if (d->cfg->user != NULL &&
		    ((pw = getpwnam(d->cfg->user)) == NULL ||
			pw->pw_uid != geteuid()))
			log_warn("USER %s is not used: ecad was started as uid "
				 "%u, not as root",
			    d->cfg->user, (unsigned)geteuid());
		return 0;
	}
	if (d->cfg->user == NULL) {
		log_warn("running as root: set USER in %s to drop privileges",
		    d->conf_path);
		return 0;
	}
	errno = 0;
	if ((pw = getpwnam(d->cfg->user)) == NULL)
		return eca_err_set(err, ECA_ERR_CONFIG,
		    "USER %s does not "
		    "exist (create it or change USER)",
		    d->cfg->user);
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if ((r = chown_state(d, uid, gid, err)) != 0 ||
	    (r = chown_db(d, uid, gid, err)) != 0)
		return r;
	if (setgroups(1, &gid) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot become USER "
		    "%s: %s",
		    d->cfg->user, strerror(errno));
	if (uid != 0 && (setuid(0) != -1 || seteuid(0) != -1))
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "dropped to %s but "
		    "could regain root; refusing to run",
		    d->cfg->user);
	/* Nor through an exec of a set-uid or file-capability program. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot set "
		    "no_new_privs after dropping to %s: %s",
		    d->cfg->user, strerror(errno));
	d->admin_uid = uid;
	log_info("running as %s (uid %u)", d->cfg->user, (unsigned)uid);
	return 0;
}

void
ecad_thread_name(const char *name)
{
	(void)pthread_setname_np(pthread_self(), name);
}
