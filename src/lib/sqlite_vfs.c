/* SPDX-License-Identifier: ISC */
/*
 * sqlite_vfs.c - the registry's SQLite VFS: the default one, with a WAL
 * file's appends written as one (see sqlite_vfs.h).
 *
 * A file opened through it is a struct vfs_file followed by the default
 * VFS's own file, to which every method passes on.  Only WAL files gather
 * (SQLITE_OPEN_WAL); the database file and the journals pass straight on.
 */
#include <pthread.h>
#include <string.h>

#include <sqlite3.h>

#include "sqlite_vfs.h"

#define VFS_NAME "eca"
/*
 * The most a WAL file gathers, written in one call: the default VFS
 * writes at most 128 KiB - 1 bytes per call (unix's seekAndWriteFd keeps
 * the low 17 bits of the length: SQLite itself writes a page at most, 64
 * KiB).  A group commit of ten new hosts writes some forty frames of 4
 * KiB: two writes.
 */
#define GATHER_MAX (96 * 1024)

struct vfs_file {
	sqlite3_file base;  /* pMethods = &file_methods */
	sqlite3_file *real; /* the default VFS's file, right after this */
	int wal;	    /* a WAL file: appends are gathered */
	unsigned char *buf; /* what is gathered (WAL files, once used) */
	int len;	    /* bytes in buf */
	sqlite3_int64 at;   /* the offset buf[0] goes to */
};

static sqlite3_vfs *root; /* the default VFS, set once */

/* Write what is gathered. */
static int
gathered_out(struct vfs_file *f)
{
	int rc;

	if (f->len == 0)
		return SQLITE_OK;
	rc = f->real->pMethods->xWrite(f->real, f->buf, f->len, f->at);
	f->len = 0;
	return rc;
}

static int
file_close(sqlite3_file *file)
{
	struct vfs_file *f = (struct vfs_file *)file;
	int rc, rc2;

	rc = gathered_out(f);
	sqlite3_free(f->buf);
	f->buf = NULL;
	rc2 = f->real->pMethods->xClose(f->real);
	return rc != SQLITE_OK ? rc : rc2;
}

static int
file_read(sqlite3_file *file, void *buf, int amt, sqlite3_int64 off)
{
	struct vfs_file *f = (struct vfs_file *)file;
	int rc;

	if ((rc = gathered_out(f)) != SQLITE_OK)
		return rc;
	return f->real->pMethods->xRead(f->real, buf, amt, off);
}

static int
file_write(sqlite3_file *file, const void *buf, int amt, sqlite3_int64 off)
{
	struct vfs_file *f = (struct vfs_file *)file;
	int rc;

	if (!f->wal)
		return f->real->pMethods->xWrite(f->real, buf, amt, off);
	if (f->len > 0 && off == f->at + f->len && amt <= GATHER_MAX - f->len) {
		memcpy(f->buf + f->len, buf, (size_t)amt);
		f->len += amt;
		return SQLITE_OK;
	}
	/* Not right after what is gathered: that goes first. */
	if ((rc = gathered_out(f)) != SQLITE_OK)
		return rc;
	if (amt > GATHER_MAX ||
	    (f->buf == NULL && (f->buf = sqlite3_malloc(GATHER_MAX)) == NULL))
		return f->real->pMethods->xWrite(f->real, buf, amt, off);
	memcpy(f->buf, buf, (size_t)amt);
	f->len = amt;
	f->at = off;
	return SQLITE_OK;
}

static int
file_truncate(sqlite3_file *file, sqlite3_int64 size)
{
	struct vfs_file *f = (struct vfs_file *)file;
	int rc;

	if ((rc = gathered_out(f)) != SQLITE_OK)
		return rc;
	return f->real->pMethods->xTruncate(f->real, size);
}

static int
file_sync(sqlite3_file *file, int flags)
{
	struct vfs_file *f = (struct vfs_file *)file;
	int rc;

	if ((rc = gathered_out(f)) != SQLITE_OK)
		return rc;
	return f->real->pMethods->xSync(f->real, flags);
}

static int
file_size(sqlite3_file *file, sqlite3_int64 *size)
{
	struct vfs_file *f = (struct vfs_file *)file;
	int rc;

	if ((rc = gathered_out(f)) != SQLITE_OK)
		return rc;
	return f->real->pMethods->xFileSize(f->real, size);
}

static int
file_lock(sqlite3_file *file, int lock)
{
	struct vfs_file *f = (struct vfs_file *)file;

	return f->real->pMethods->xLock(f->real, lock);
}

static int
file_unlock(sqlite3_file *file, int lock)
{
	struct vfs_file *f = (struct vfs_file *)file;

	return f->real->pMethods->xUnlock(f->real, lock);
}

static int
file_check_reserved(sqlite3_file *file, int *out)
{
	struct vfs_file *f = (struct vfs_file *)file;

	return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int
file_control(sqlite3_file *file, int op, void *arg)
{
	struct vfs_file *f = (struct vfs_file *)file;
	int rc;

	if ((rc = gathered_out(f)) != SQLITE_OK)
		return rc;
	return f->real->pMethods->xFileControl(f->real, op, arg);
}

static int
file_sector_size(sqlite3_file *file)
{
	struct vfs_file *f = (struct vfs_file *)file;

	return f->real->pMethods->xSectorSize(f->real);
}

static int
file_device(sqlite3_file *file)
{
	struct vfs_file *f = (struct vfs_file *)file;

	return f->real->pMethods->xDeviceCharacteristics(f->real);
}

/* Shared memory (the WAL index) and memory maps: the database file's. */
static int
file_shm_map(sqlite3_file *file, int page, int size, int extend,
    void volatile **out)
{
	struct vfs_file *f = (struct vfs_file *)file;

	return f->real->pMethods->xShmMap(f->real, page, size, extend, out);
}

static int
file_shm_lock(sqlite3_file *file, int offset, int n, int flags)
{
	struct vfs_file *f = (struct vfs_file *)file;

	return f->real->pMethods->xShmLock(f->real, offset, n, flags);
}

static void
file_shm_barrier(sqlite3_file *file)
{
	struct vfs_file *f = (struct vfs_file *)file;

	f->real->pMethods->xShmBarrier(f->real);
}

static int
file_shm_unmap(sqlite3_file *file, int delete_flag)
{
	struct vfs_file *f = (struct vfs_file *)file;

	return f->real->pMethods->xShmUnmap(f->real, delete_flag);
}

static int
file_fetch(sqlite3_file *file, sqlite3_int64 off, int amt, void **out)
{
	struct vfs_file *f = (struct vfs_file *)file;
	int rc;

	if ((rc = gathered_out(f)) != SQLITE_OK)
		return rc;
	return f->real->pMethods->xFetch(f->real, off, amt, out);
}

static int
file_unfetch(sqlite3_file *file, sqlite3_int64 off, void *p)
{
	struct vfs_file *f = (struct vfs_file *)file;

	return f->real->pMethods->xUnfetch(f->real, off, p);
}

static const sqlite3_io_methods file_methods = {
    .iVersion = 3,
    .xClose = file_close,
    .xRead = file_read,
    .xWrite = file_write,
    .xTruncate = file_truncate,
    .xSync = file_sync,
    .xFileSize = file_size,
    .xLock = file_lock,
    .xUnlock = file_unlock,
    .xCheckReservedLock = file_check_reserved,
    .xFileControl = file_control,
    .xSectorSize = file_sector_size,
    .xDeviceCharacteristics = file_device,
    .xShmMap = file_shm_map,
    .xShmLock = file_shm_lock,
    .xShmBarrier = file_shm_barrier,
    .xShmUnmap = file_shm_unmap,
    .xFetch = file_fetch,
    .xUnfetch = file_unfetch,
};

static int
vfs_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags,
    int *out_flags)
{
	struct vfs_file *f = (struct vfs_file *)file;
	int rc;

	(void)vfs;
	memset(f, 0, sizeof(*f));
	f->real = (sqlite3_file *)(f + 1);
	rc = root->xOpen(root, name, f->real, flags, out_flags);
	/* A failed open leaves pMethods NULL: SQLite will not close it. */
	if (f->real->pMethods == NULL)
		return rc;
	/* WAL mode needs shared memory: methods of version 3. */
	if (f->real->pMethods->iVersion < 3) {
		(void)f->real->pMethods->xClose(f->real);
		return SQLITE_CANTOPEN;
	}
	f->wal = (flags & SQLITE_OPEN_WAL) != 0;
	f->base.pMethods = &file_methods;
	return rc;
}

/* The rest is the default VFS's. */
static int
vfs_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
	(void)vfs;
	return root->xDelete(root, name, sync_dir);
}

static int
vfs_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	(void)vfs;
	return root->xAccess(root, name, flags, out);
}

static int
vfs_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	(void)vfs;
	return root->xFullPathname(root, name, n, out);
}

static void *
vfs_dlopen(sqlite3_vfs *vfs, const char *name)
{
	(void)vfs;
	return root->xDlOpen(root, name);
}

static void
vfs_dlerror(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	root->xDlError(root, n, out);
}

static void (*vfs_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
	(void)vfs;
	return root->xDlSym(root, h, sym);
}

static void
vfs_dlclose(sqlite3_vfs *vfs, void *h)
{
	(void)vfs;
	root->xDlClose(root, h);
}

static int
vfs_randomness(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return root->xRandomness(root, n, out);
}

static int
vfs_sleep(sqlite3_vfs *vfs, int us)
{
	(void)vfs;
	return root->xSleep(root, us);
}

static int
vfs_current_time(sqlite3_vfs *vfs, double *out)
{
	(void)vfs;
	return root->xCurrentTime(root, out);
}

static int
vfs_last_error(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return root->xGetLastError(root, n, out);
}

static int
vfs_current_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
	(void)vfs;
	return root->xCurrentTimeInt64(root, out);
}

static sqlite3_vfs vfs = {
    .iVersion = 2,
    .zName = VFS_NAME,
    .xOpen = vfs_open,
    .xDelete = vfs_delete,
    .xAccess = vfs_access,
    .xFullPathname = vfs_full_pathname,
    .xDlOpen = vfs_dlopen,
    .xDlError = vfs_dlerror,
    .xDlSym = vfs_dlsym,
    .xDlClose = vfs_dlclose,
    .xRandomness = vfs_randomness,
    .xSleep = vfs_sleep,
    .xCurrentTime = vfs_current_time,
    .xGetLastError = vfs_last_error,
    .xCurrentTimeInt64 = vfs_current_time64,
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int registered;

static void
vfs_register(void)
{
	sqlite3_vfs *d;

	/* Refused (SQLITE_MISUSE) once SQLite is initialised: then as it is. */
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	if (sqlite3_initialize() != SQLITE_OK ||
	    (d = sqlite3_vfs_find(NULL)) == NULL || d->iVersion < 2 ||
	    d->szOsFile < 0)
		return;
	root = d;
	vfs.szOsFile = (int)sizeof(struct vfs_file) + d->szOsFile;
	vfs.mxPathname = d->mxPathname;
	registered = sqlite3_vfs_register(&vfs, 0) == SQLITE_OK;
}

const char *
eca_sqlite_vfs(void)
{
	(void)pthread_once(&once, vfs_register);
	return registered ? VFS_NAME : NULL;
}
