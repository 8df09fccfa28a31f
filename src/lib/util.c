/* SPDX-License-Identifier: ISC */
/*
 * util.c - capped file reads, atomic file replacement, the monotonic
 * clock (util.h).
 */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

int
eca_util_read_file(const char *path, const char *what, size_t max,
    unsigned char **out, size_t *outlen, mode_t *st_mode, time_t *mtime,
    struct eca_err *err)
{
	struct stat st;
	unsigned char *buf = NULL;
	size_t off = 0, cap = 0;
	ssize_t n;
	int fd = -1, r = ECA_ERR_INTERNAL;

	*out = NULL;
	*outlen = 0;
	if (path == NULL || *path == '\0')
		return eca_err_set(err, ECA_ERR_CONFIG,
		    "no %s file is configured", what);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		return eca_err_set(err, ECA_ERR_UNREADABLE,
		    "cannot open %s file %s: %s (check the path and that "
		    "this user may read it)",
		    what, path, strerror(errno));
	if (fstat(fd, &st) == -1) {
		r = eca_err_set(err, ECA_ERR_UNREADABLE,
		    "cannot stat %s file %s: %s", what, path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = eca_err_set(err, ECA_ERR_UNREADABLE,
		    "%s path %s is not a regular file", what, path);
		goto out;
	}
	if ((uintmax_t)st.st_size > (uintmax_t)max) {
		r = eca_err_set(err, ECA_ERR_UNREADABLE,
		    "%s file %s is larger than %zu bytes, which is not a "
		    "plausible %s file",
		    what, path, max, what);
		goto out;
	}
	/* One spare byte detects a file that grew since fstat(). */
	cap = (size_t)st.st_size + 1;
	if ((buf = OPENSSL_malloc(cap)) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM, "out of memory reading %s",
		    path);
		goto out;
	}
	for (;;) {
		n = read(fd, buf + off, cap - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			r = eca_err_set(err, ECA_ERR_UNREADABLE,
			    "cannot read %s file %s: %s", what, path,
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		off += (size_t)n;
		if (off == cap) {
			r = eca_err_set(err, ECA_ERR_UNREADABLE,
			    "%s file %s changed while it was read", what, path);
			goto out;
		}
	}
	buf[off] = '\0';
	if (st_mode != NULL)
		*st_mode = st.st_mode;
	if (mtime != NULL)
		*mtime = st.st_mtime;
	*out = buf;
	*outlen = off;
	buf = NULL;
	r = 0;
out:
	if (buf != NULL)
		OPENSSL_clear_free(buf, cap);
	close(fd);
	return r;
}

void
eca_util_free_file(unsigned char *buf, size_t len)
{
	/* The spare byte (the NUL) was allocated too. */
	if (buf != NULL)
		OPENSSL_clear_free(buf, len + 1);
}

static int
write_error(struct eca_err *err, const char *doing, const char *path)
{
	return eca_err_set(err,
	    errno == ENOSPC || errno == EDQUOT ? ECA_ERR_DISK_FULL : ECA_ERR_IO,
	    "cannot %s %s: %s", doing, path, strerror(errno));
}

int
eca_util_sync_dir(const char *path, struct eca_err *err)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, r = 0;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return eca_err_set(err, ECA_ERR_IO,
		    "cannot open directory "
		    "%s: %s",
		    dir, strerror(errno));
	if (fsync(fd) == -1)
		r = write_error(err, "sync directory", dir);
	close(fd);
	return r;
}

int
eca_util_afile_open(struct eca_util_afile *f, const char *path, mode_t mode,
    struct eca_err *err)
{
	int n;

	f->fd = -1;
	f->tmp[0] = '\0';
	n = snprintf(f->path, sizeof(f->path), "%s", path);
	if (n < 0 || (size_t)n >= sizeof(f->path))
		return eca_err_set(err, ECA_ERR_CONFIG,
		    "file name %s is too "
		    "long",
		    path);
	(void)snprintf(f->tmp, sizeof(f->tmp), "%s.XXXXXX", path);
	/* mkostemp creates the file 0600; fchmod sets what was asked. */
	if ((f->fd = mkostemp(f->tmp, O_CLOEXEC)) == -1) {
		n = write_error(err, "create a file beside", path);
		f->tmp[0] = '\0';
		return n;
	}
	if (fchmod(f->fd, mode) == -1) {
		n = write_error(err, "set the mode of", f->tmp);
		eca_util_afile_abort(f);
		return n;
	}
	return 0;
}

int
eca_util_afile_write(struct eca_util_afile *f, const void *buf, size_t len,
    struct eca_err *err)
{
	const unsigned char *p = buf;
	ssize_t w;

	while (len > 0) {
		if ((w = write(f->fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return write_error(err, "write", f->tmp);
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int
eca_util_afile_commit(struct eca_util_afile *f, struct eca_err *err)
{
	int r;

	if (fsync(f->fd) == -1) {
		r = write_error(err, "write", f->tmp);
		eca_util_afile_abort(f);
		return r;
	}
	if (close(f->fd) == -1) {
		f->fd = -1;
		r = write_error(err, "write", f->tmp);
		eca_util_afile_abort(f);
		return r;
	}
	f->fd = -1;
	if (rename(f->tmp, f->path) == -1) {
		r = eca_err_set(err, ECA_ERR_IO, "cannot rename %s to %s: %s",
		    f->tmp, f->path, strerror(errno));
		eca_util_afile_abort(f);
		return r;
	}
	f->tmp[0] = '\0';
	return eca_util_sync_dir(f->path, err);
}

void
eca_util_afile_abort(struct eca_util_afile *f)
{
	if (f->fd != -1)
		close(f->fd);
	f->fd = -1;
	if (f->tmp[0] != '\0')
		(void)unlink(f->tmp);
	f->tmp[0] = '\0';
}

int
eca_util_replace_file(const char *path, const void *data, size_t len,
    mode_t mode, struct eca_err *err)
{
	struct eca_util_afile f;
	int r;

	if ((r = eca_util_afile_open(&f, path, mode, err)) != 0)
		return r;
	if ((r = eca_util_afile_write(&f, data, len, err)) != 0) {
		eca_util_afile_abort(&f);
		return r;
	}
	return eca_util_afile_commit(&f, err);
}

int64_t
eca_util_mono_us(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
eca_util_mono_ms(void)
{
	return eca_util_mono_us() / 1000;
}

static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md;

static void
sha256_fetch(void)
{
	/* Kept for the process's life: it is reachable, not leaked. */
	if ((sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL)
		ERR_clear_error();
}

const EVP_MD *
eca_util_sha256(void)
{
	if (pthread_once(&sha256_once, sha256_fetch) != 0 || sha256_md == NULL)
		return EVP_sha256();
	return sha256_md;
}

/* The calling thread's pool: its next unused byte is pool[used]. */
static __thread unsigned char id_pool[ECA_UTIL_ID_POOL];
static __thread size_t id_used = ECA_UTIL_ID_POOL;
static pthread_once_t id_atfork_once = PTHREAD_ONCE_INIT;

/* In the child, in the one thread fork() left: its pool is its parent's. */
static void
id_atfork_child(void)
{
	OPENSSL_cleanse(id_pool, sizeof(id_pool));
	id_used = ECA_UTIL_ID_POOL;
}

static void
id_atfork(void)
{
	(void)pthread_atfork(NULL, NULL, id_atfork_child);
}

int
eca_util_id_random(void *buf, size_t n)
{
	if (n > ECA_UTIL_ID_RANDOM_MAX ||
	    pthread_once(&id_atfork_once, id_atfork) != 0)
		return ECA_ERR_INTERNAL;
	if (n > ECA_UTIL_ID_POOL - id_used) {
		if (RAND_bytes(id_pool, sizeof(id_pool)) != 1) {
			ERR_clear_error();
			return ECA_ERR_INTERNAL;
		}
		id_used = 0;
	}
	memcpy(buf, id_pool + id_used, n);
	id_used += n;
	return 0;
}
