/* SPDX-License-Identifier: ISC */
/*
 * test_audit_sqlite.c - the audit journal's groups kept in a SQLite
 * registry until the file has them on disk (audit_sqlite.c), on a real
 * registry file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "audit.h"
#include "store.h"

struct fixture {
	char dir[64];
	char db[128];
	struct eca_store *st;
};

static int
setup(void **state)
{
	struct fixture *f;
	struct eca_err err;
	char uri[160];

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/eca-test-auditsq-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->db, sizeof(f->db), "%s/registry.db", f->dir);
	snprintf(uri, sizeof(uri), "sqlite:%s", f->db);
	if (eca_store_open(uri, 0, &f->st, &err) != 0) {
		fprintf(stderr, "%s\n", err.msg);
		rmdir(f->dir);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	static const char *const suffix[] = {"", "-wal", "-shm"};
	char p[160];
	size_t i;

	eca_store_close(f->st);
	for (i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", f->db, suffix[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Keep one group (its lines: "lN\n" for each seq) in its own transaction. */
static void
keep(struct eca_store *st, int64_t first, int64_t last)
{
	struct eca_err err;
	char buf[256];
	size_t len = 0;
	int64_t s;

	for (s = first; s <= last; s++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "l%lld\n",
		    (long long)s);
	assert_int_equal(eca_store_begin(st, &err), 0);
	assert_int_equal(eca_audit_store_keep(st, first, last, buf, len, &err),
	    0);
	assert_int_equal(eca_store_commit(st, &err), 0);
}

static void
kept_is(struct eca_store *st, int64_t after, const char *want,
    int64_t want_from, int64_t want_to)
{
	struct eca_err err;
	int64_t from = -1, to = -1;
	char *lines = NULL;
	size_t len = 0;

	assert_int_equal(
	    eca_audit_store_kept(st, after, &from, &to, &lines, &len, &err), 0);
	if (want == NULL) {
		assert_null(lines);
		assert_int_equal(len, 0);
	} else {
		assert_non_null(lines);
		assert_string_equal(lines, want);
		assert_int_equal(len, strlen(want));
	}
	assert_int_equal(from, want_from);
	assert_int_equal(to, want_to);
	free(lines);
}

/* --- negative cases --- */

static void
test_lines_are_kept_only_inside_a_transaction(void **state)
{
	struct fixture *f = *state;
	struct eca_err err;

	eca_err_clear(&err);
	assert_int_equal(eca_audit_store_keep(f->st, 1, 1, "l1\n", 3, &err),
	    ECA_ERR_INTERNAL);
	assert_non_null(strstr(err.msg, "inside a transaction"));
	kept_is(f->st, 0, NULL, 0, 0);
}

static void
test_only_whole_lines_of_a_real_range_are_kept(void **state)
{
	struct fixture *f = *state;
	struct eca_err err;

	assert_int_equal(eca_store_begin(f->st, &err), 0);
	assert_int_equal(eca_audit_store_keep(f->st, 1, 1, "l1", 2, &err),
	    ECA_ERR_INTERNAL);
	assert_int_equal(eca_audit_store_keep(f->st, 2, 1, "l1\n", 3, &err),
	    ECA_ERR_INTERNAL);
	assert_int_equal(eca_audit_store_keep(f->st, 0, 1, "l1\n", 3, &err),
	    ECA_ERR_INTERNAL);
	assert_int_equal(eca_audit_store_keep(f->st, 1, 1, "", 0, &err),
	    ECA_ERR_INTERNAL);
	eca_store_rollback(f->st);
	kept_is(f->st, 0, NULL, 0, 0);
}

static void
test_a_group_rolled_back_is_not_kept(void **state)
{
	struct fixture *f = *state;
	struct eca_err err;

	assert_int_equal(eca_store_begin(f->st, &err), 0);
	assert_int_equal(eca_audit_store_keep(f->st, 1, 2, "l1\nl2\n", 6, &err),
	    0);
	eca_store_rollback(f->st);
	kept_is(f->st, 0, NULL, 0, 0);
}

static void
test_the_same_seq_is_not_kept_twice(void **state)
{
	struct fixture *f = *state;
	struct eca_err err;

	keep(f->st, 1, 2);
	assert_int_equal(eca_store_begin(f->st, &err), 0);
	assert_int_not_equal(
	    eca_audit_store_keep(f->st, 1, 2, "l1\nl2\n", 6, &err), 0);
	eca_store_rollback(f->st);
	kept_is(f->st, 0, "l1\nl2\n", 1, 2);
}

static void
test_groups_with_a_gap_read_as_damaged(void **state)
{
	struct fixture *f = *state;
	struct eca_err err;
	int64_t from, to;
	char *lines = (char *)"x";
	size_t len = 1;

	keep(f->st, 1, 2);
	keep(f->st, 4, 4); /* seq 3 is missing */
	assert_int_equal(
	    eca_audit_store_kept(f->st, 0, &from, &to, &lines, &len, &err),
	    ECA_ERR_DB);
	assert_non_null(strstr(err.msg, "damaged"));
	assert_null(lines);
	assert_int_equal(len, 0);
}

static void
test_a_group_without_its_newline_reads_as_damaged(void **state)
{
	struct fixture *f = *state;
	struct eca_err err;
	int64_t from, to;
	char *lines = NULL;
	size_t len;
	sqlite3 *db;

	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
			     "INSERT INTO audit_kept VALUES (1, 1, 'l1')", NULL,
			     NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(
	    eca_audit_store_kept(f->st, 0, &from, &to, &lines, &len, &err),
	    ECA_ERR_DB);
	assert_null(lines);
}

static void
test_nothing_is_kept_without_a_store(void **state)
{
	struct eca_err err;
	int64_t from = 7, to = 7;
	char *lines = (char *)"x";
	size_t len = 1;

	(void)state;
	assert_false(eca_audit_store_keeps(NULL));
	assert_int_equal(eca_audit_store_keep(NULL, 1, 1, "l1\n", 3, &err), 0);
	assert_int_equal(eca_audit_store_forget(NULL, 1, &err), 0);
	assert_int_equal(
	    eca_audit_store_kept(NULL, 0, &from, &to, &lines, &len, &err), 0);
	assert_null(lines);
	assert_int_equal(from, 0);
	assert_int_equal(to, 0);
}

/* --- behaviour --- */

static void
test_a_sqlite_registry_keeps_the_lines(void **state)
{
	struct fixture *f = *state;

	assert_true(eca_audit_store_keeps(f->st));
}

static void
test_kept_groups_read_back_in_order_after_a_seq(void **state)
{
	struct fixture *f = *state;

	keep(f->st, 1, 2);
	keep(f->st, 3, 3);
	keep(f->st, 4, 6);
	kept_is(f->st, 0, "l1\nl2\nl3\nl4\nl5\nl6\n", 1, 6);
	/* A group that holds the seq asked after is read whole. */
	kept_is(f->st, 4, "l4\nl5\nl6\n", 4, 6);
	kept_is(f->st, 3, "l4\nl5\nl6\n", 4, 6);
	kept_is(f->st, 6, NULL, 0, 0);
}

static void
test_forgotten_groups_are_those_up_to_a_seq(void **state)
{
	struct fixture *f = *state;
	struct eca_err err;

	keep(f->st, 1, 2);
	keep(f->st, 3, 5);
	keep(f->st, 6, 6);
	assert_int_equal(eca_audit_store_forget(f->st, 4, &err), 0);
	/* The group 3..5 is not wholly on disk: it stays. */
	kept_is(f->st, 0, "l3\nl4\nl5\nl6\n", 3, 6);
	assert_int_equal(eca_audit_store_forget(f->st, 6, &err), 0);
	kept_is(f->st, 0, NULL, 0, 0);
}

static void
test_kept_lines_survive_closing_the_registry(void **state)
{
	struct fixture *f = *state;
	struct eca_err err;
	char uri[160];

	keep(f->st, 1, 1);
	eca_store_close(f->st);
	f->st = NULL;
	snprintf(uri, sizeof(uri), "sqlite:%s", f->db);
	assert_int_equal(eca_store_open(uri, 0, &f->st, &err), 0);
	kept_is(f->st, 0, "l1\n", 1, 1);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_lines_are_kept_only_inside_a_transaction),
	    T(test_only_whole_lines_of_a_real_range_are_kept),
	    T(test_a_group_rolled_back_is_not_kept),
	    T(test_the_same_seq_is_not_kept_twice),
	    T(test_groups_with_a_gap_read_as_damaged),
	    T(test_a_group_without_its_newline_reads_as_damaged),
	    T(test_nothing_is_kept_without_a_store),
	    T(test_a_sqlite_registry_keeps_the_lines),
	    T(test_kept_groups_read_back_in_order_after_a_seq),
	    T(test_forgotten_groups_are_those_up_to_a_seq),
	    T(test_kept_lines_survive_closing_the_registry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
