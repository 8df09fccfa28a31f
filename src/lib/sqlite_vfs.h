/* SPDX-License-Identifier: ISC */
/*
 * sqlite_vfs.h - the SQLite VFS the registry's connections open with.
 *
 * It is the default VFS (unix), except that a WAL file's appends are
 * gathered in memory and reach the file as one write: SQLite writes each
 * WAL frame as two (its 24-byte header, then the page), so a group commit
 * of ten enrollments was some eighty system calls before its one sync,
 * and each system call is dear in a virtual machine.  What is gathered is
 * written before anything else touches the file: before a sync, a read, a
 * truncation, a size query, a file control, a write elsewhere in the file
 * and the close.  So a COMMIT still returns only once its frames are on
 * disk, and a write error still fails it (at its sync rather than at the
 * frame's write).
 *
 * The one condition: every connection opened with it must run with
 * synchronous = FULL (store_sqlite.c's configure does), so that each
 * COMMIT syncs the WAL before its frames are marked committed in the
 * WAL index; with NORMAL a reader could be told of frames still in memory.
 */
#ifndef ECA_SQLITE_VFS_H
#define ECA_SQLITE_VFS_H

/*
 * The VFS's name for sqlite3_open_v2 (registered, not as the default, on
 * the first call; thread-safe), or NULL if it could not be registered
 * (then open with the default VFS).  The first call also initialises
 * SQLite, with its memory statistics off (SQLITE_CONFIG_MEMSTATUS): with
 * them on, every allocation of every connection takes one process-wide
 * mutex, which the writer and the API workers' read connections contend
 * for.  eca reads none of those statistics.
 */
const char *eca_sqlite_vfs(void);

#endif
