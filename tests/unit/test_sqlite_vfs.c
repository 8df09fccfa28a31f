/* SPDX-License-Identifier: ISC */
/*
 * test_sqlite_vfs.c - the registry's VFS gathers a WAL's appends and
 * loses nothing: a refused write fails its COMMIT, a committed
 * transaction survives a crash right after it, an uncommitted one leaves
 * nothing, another connection sees exactly what was committed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "sqlite_vfs.h"

static char dir[] = "/tmp/eca-test-vfs.XXXXXX";
static int n_db; /* a fresh database file per test */
static char path[256];

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
exec_ok(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK)
		fail_msg("%s: %s", sql, msg != NULL ? msg : sqlite3_errstr(rc));
}

/* The store's settings (store_sqlite.c): WAL, synchronous = FULL. */
static sqlite3 *
open_db(const char *vfs)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open_v2(path, &db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs),
	    SQLITE_OK);
	exec_ok(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;");
	return db;
}

/* A fresh database with table t (k INTEGER PRIMARY KEY, v BLOB). */
static sqlite3 *
fresh_db(void)
{
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/db%d", dir, n_db++);
	db = open_db(eca_sqlite_vfs());
	exec_ok(db, "CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)");
	return db;
}

/* The one integer sql yields. */
static long long
scalar(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	long long n;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static long long
count_rows(sqlite3 *db)
{
	return scalar(db, "SELECT count(*) FROM t");
}

static void
assert_intact(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;

	assert_int_equal(
	    sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
}

/* n rows of size bytes each, keys from first, in the open transaction. */
static int
insert_rows(sqlite3 *db, int first, int n, int size)
{
	sqlite3_stmt *st = NULL;
	int i, rc = SQLITE_OK;

	assert_int_equal(sqlite3_prepare_v2(db,
			     "INSERT INTO t (k, v) VALUES (?, randomblob(?))",
			     -1, &st, NULL),
	    SQLITE_OK);
	for (i = 0; i < n && rc == SQLITE_OK; i++) {
		sqlite3_bind_int(st, 1, first + i);
		sqlite3_bind_int(st, 2, size);
		rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK :
						       sqlite3_errcode(db);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return rc;
}

static void
test_the_vfs_is_registered_not_as_the_default(void **state)
{
	const char *name = eca_sqlite_vfs();

	(void)state;
	assert_non_null(name);
	assert_ptr_equal(eca_sqlite_vfs(), name);
	assert_non_null(sqlite3_vfs_find(name));
	assert_ptr_not_equal(sqlite3_vfs_find(name), sqlite3_vfs_find(NULL));
}

/*
 * Memory statistics off: no process-wide mutex per allocation.  This
 * test runs first, so that nothing in this process initialised SQLite
 * before eca_sqlite_vfs did (as in ecad, where the store opens first).
 */
static void
test_sqlite_counts_no_memory_so_connections_share_no_lock(void **state)
{
	sqlite3 *db;

	(void)state;
	db = fresh_db();
	exec_ok(db, "INSERT INTO t (v) VALUES (randomblob(9000))");
	assert_true(sqlite3_memory_used() == 0);
	assert_true(sqlite3_memory_highwater(0) == 0);
	sqlite3_close(db);
}

static void
test_a_refused_write_fails_the_commit_and_keeps_the_database(void **state)
{
	sqlite3 *db = fresh_db();
	struct rlimit old, lim;
	struct stat sb;
	char wal[300];
	int rc;

	(void)state;
	exec_ok(db, "BEGIN");
	assert_int_equal(insert_rows(db, 0, 10, 100), SQLITE_OK);
	exec_ok(db, "COMMIT");
	/*
	 * Files may grow by 16 KiB at most from here: the gathered frames
	 * of the next transaction (some 200 KiB) cannot all be written.
	 */
	snprintf(wal, sizeof(wal), "%s-wal", path);
	assert_int_equal(stat(wal, &sb), 0);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)sb.st_size + 16384;
	assert_true(signal(SIGXFSZ, SIG_IGN) != SIG_ERR);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	if (rc == SQLITE_OK && insert_rows(db, 100, 50, 4000) == SQLITE_OK)
		rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_int_not_equal(rc, SQLITE_OK);
	(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	assert_int_equal(count_rows(db), 10);
	assert_intact(db);
	/* Writable again once the file system takes writes. */
	exec_ok(db, "BEGIN");
	assert_int_equal(insert_rows(db, 100, 50, 4000), SQLITE_OK);
	exec_ok(db, "COMMIT");
	assert_int_equal(count_rows(db), 60);
	sqlite3_close(db);
	db = open_db(NULL);
	assert_int_equal(count_rows(db), 60);
	assert_intact(db);
	sqlite3_close(db);
}

/*
 * A child process opens the database, inserts n rows in one transaction
 * (committed or not) and ends at once with _exit(): no close, nothing
 * flushed on the way out, as in a crash.
 */
static void
child_then_crash(int commit, int n)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		sqlite3 *db = NULL;

		if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE,
			eca_sqlite_vfs()) != SQLITE_OK ||
		    sqlite3_exec(db, "PRAGMA synchronous = FULL; BEGIN", NULL,
			NULL, NULL) != SQLITE_OK ||
		    insert_rows(db, 1000, n, 2000) != SQLITE_OK)
			_exit(2);
		if (commit &&
		    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			_exit(3);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void
test_an_uncommitted_transaction_leaves_nothing(void **state)
{
	sqlite3 *db = fresh_db();

	(void)state;
	sqlite3_close(db);
	child_then_crash(0, 40);
	db = open_db(NULL);
	assert_int_equal(count_rows(db), 0);
	assert_intact(db);
	sqlite3_close(db);
}

static void
test_a_commit_survives_a_crash_right_after_it(void **state)
{
	sqlite3 *db = fresh_db();

	(void)state;
	sqlite3_close(db);
	/* 200 rows of 2 KB: about 100 frames, gathered in several writes. */
	child_then_crash(1, 200);
	db = open_db(NULL);
	assert_int_equal(count_rows(db), 200);
	assert_intact(db);
	sqlite3_close(db);
}

/*
 * A transaction larger than the page cache spills pages to the WAL and
 * reads them back before its COMMIT: each read sees the gathered writes.
 */
static void
test_a_transaction_reads_back_what_it_spilled(void **state)
{
	sqlite3 *db = fresh_db();

	(void)state;
	exec_ok(db, "PRAGMA cache_size = 8");
	exec_ok(db, "BEGIN");
	assert_int_equal(insert_rows(db, 0, 300, 3000), SQLITE_OK);
	assert_int_equal(scalar(db, "SELECT sum(length(v)) FROM t"),
	    300 * 3000);
	exec_ok(db, "UPDATE t SET v = zeroblob(length(v) + 1)");
	exec_ok(db, "COMMIT");
	assert_int_equal(count_rows(db), 300);
	assert_intact(db);
	sqlite3_close(db);
	db = open_db(NULL);
	assert_int_equal(scalar(db, "SELECT sum(length(v)) FROM t"),
	    300 * 3001);
	assert_intact(db);
	sqlite3_close(db);
}

static void
test_another_connection_sees_exactly_what_was_committed(void **state)
{
	sqlite3 *w = fresh_db(), *r;

	(void)state;
	r = open_db(eca_sqlite_vfs());
	exec_ok(w, "BEGIN");
	assert_int_equal(insert_rows(w, 0, 30, 3000), SQLITE_OK);
	assert_int_equal(count_rows(r), 0);
	exec_ok(w, "COMMIT");
	assert_int_equal(count_rows(r), 30);
	/* A transaction larger than one gathered write. */
	exec_ok(w, "BEGIN");
	assert_int_equal(insert_rows(w, 100, 300, 3000), SQLITE_OK);
	assert_int_equal(count_rows(r), 30);
	exec_ok(w, "COMMIT");
	assert_int_equal(count_rows(r), 330);
	/* A checkpoint reads the WAL back through the same file. */
	exec_ok(w, "PRAGMA wal_checkpoint(TRUNCATE)");
	assert_int_equal(count_rows(r), 330);
	assert_intact(r);
	sqlite3_close(r);
	sqlite3_close(w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
		test_sqlite_counts_no_memory_so_connections_share_no_lock),
	    cmocka_unit_test(test_the_vfs_is_registered_not_as_the_default),
	    cmocka_unit_test(
		test_a_refused_write_fails_the_commit_and_keeps_the_database),
	    cmocka_unit_test(test_an_uncommitted_transaction_leaves_nothing),
	    cmocka_unit_test(test_a_commit_survives_a_crash_right_after_it),
	    cmocka_unit_test(test_a_transaction_reads_back_what_it_spilled),
	    cmocka_unit_test(
		test_another_connection_sees_exactly_what_was_committed),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
