/* SPDX-License-Identifier: ISC */
/*
 * util.h - the one copy of small helpers every module needs: read a whole
 * file with a size cap, replace a file atomically and durably, and a
 * monotonic clock.  (Text helpers: hex, times and the sanitizer are in
 * text.h.)
 */
#ifndef ECA_UTIL_H
#define ECA_UTIL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/types.h>

#include "err.h"

/*
 * Read the regular file at path, of at most max bytes, into *out (*outlen
 * bytes, plus a NUL after them that is not counted).  what names the file
 * in messages ("certificate", "CRL", ...).  The file's mode and mtime come
 * from fstat() of the descriptor read (no race with a rename): *st_mode
 * and *mtime when not NULL.  A file that grows while read is refused.
 * The buffer comes from OpenSSL's allocator (key files are read with it)
 * and is released with eca_util_free_file(), which wipes it.
 * Errors: CONFIG (no path), UNREADABLE (missing, unreadable, not a
 * regular file, too large, changed), NOMEM.
 */
int eca_util_read_file(const char *path, const char *what, size_t max,
    unsigned char **out, size_t *outlen, mode_t *st_mode, time_t *mtime,
    struct eca_err *err);
void eca_util_free_file(unsigned char *buf, size_t len);

/*
 * Atomic, durable file replacement: the data goes to a temporary file
 * beside path (created with mode), which is fsync()ed, renamed over path,
 * and then the directory is fsync()ed, so that after a crash path holds
 * either the old or the new content, never a mix and never nothing.
 *
 *	struct eca_util_afile f;
 *	if (eca_util_afile_open(&f, path, 0600, err) != 0) ...
 *	eca_util_afile_write(&f, buf, len, err) ...   (any number of times)
 *	eca_util_afile_commit(&f, err)  or  eca_util_afile_abort(&f)
 *
 * commit and abort always release f; after a failed write the caller
 * still calls one of them.  A full disk is DISK_FULL, other failures IO.
 */
struct eca_util_afile {
	int fd;
	char path[PATH_MAX];
	char tmp[PATH_MAX + 8]; /* path.XXXXXX */
};

int eca_util_afile_open(struct eca_util_afile *f, const char *path, mode_t mode,
    struct eca_err *err);
int eca_util_afile_write(struct eca_util_afile *f, const void *buf, size_t len,
    struct eca_err *err);
int eca_util_afile_commit(struct eca_util_afile *f, struct eca_err *err);
void eca_util_afile_abort(struct eca_util_afile *f);

/* All of the above for data already in memory. */
int eca_util_replace_file(const char *path, const void *data, size_t len,
    mode_t mode, struct eca_err *err);

/* fsync() the directory that holds path (after a rename or unlink). */
int eca_util_sync_dir(const char *path, struct eca_err *err);

/* CLOCK_MONOTONIC in milliseconds and microseconds. */
int64_t eca_util_mono_ms(void);
int64_t eca_util_mono_us(void);

/*
 * SHA-256, fetched from the default providers once for the process.
 * OpenSSL 3 looks EVP_sha256() up in its provider store again at every
 * digest (a lock and a hash lookup, some 0.4 us), which an enrollment
 * does several times over (the fingerprints, the verdict cache's key, the
 * audit chain).  Never NULL: EVP_sha256() itself if the fetch failed.
 */
const EVP_MD *eca_util_sha256(void);

/*
 * n (at most ECA_UTIL_ID_RANDOM_MAX) random bytes for an identifier, not
 * for a key or a secret: from a per-thread pool that RAND_bytes fills
 * ECA_UTIL_ID_POOL bytes at a time, so that a host ID costs OpenSSL's
 * DRBG (and its fork check, a system call) once per 32.  A child of
 * fork() draws from a fresh fill, never from bytes its parent used.  0,
 * or ECA_ERR_INTERNAL when OpenSSL has no random bytes.
 */
#define ECA_UTIL_ID_RANDOM_MAX 64
#define ECA_UTIL_ID_POOL 512
int eca_util_id_random(void *buf, size_t n);

#endif
