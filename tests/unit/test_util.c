/* SPDX-License-Identifier: ISC */
/*
 * test_util.c - capped file reads, atomic replacement, the monotonic
 * clock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

static char dir[] = "/tmp/eca-test-util.XXXXXX";

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
path_of(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static void
put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* Nothing but path itself in the directory: no temporary file left. */
static int
entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void
test_read_refuses_no_path_missing_dir_and_large(void **state)
{
	struct eca_err err;
	unsigned char *buf;
	size_t len;
	char p[256];

	(void)state;
	assert_int_equal(eca_util_read_file(NULL, "certificate", 10, &buf, &len,
			     NULL, NULL, &err),
	    ECA_ERR_CONFIG);
	assert_non_null(strstr(err.msg, "no certificate file"));
	path_of("missing", p, sizeof(p));
	assert_int_equal(
	    eca_util_read_file(p, "CRL", 10, &buf, &len, NULL, NULL, &err),
	    ECA_ERR_UNREADABLE);
	assert_non_null(strstr(err.msg, "cannot open CRL file"));
	assert_null(buf);
	assert_int_equal(
	    eca_util_read_file(dir, "CRL", 10, &buf, &len, NULL, NULL, &err),
	    ECA_ERR_UNREADABLE);
	assert_non_null(strstr(err.msg, "not a regular file"));
	path_of("big", p, sizeof(p));
	put(p, "0123456789A");
	assert_int_equal(
	    eca_util_read_file(p, "CRL", 10, &buf, &len, NULL, NULL, &err),
	    ECA_ERR_UNREADABLE);
	assert_non_null(strstr(err.msg, "larger than 10 bytes"));
	unlink(p);
}

static void
test_read_gives_bytes_nul_and_mode(void **state)
{
	struct eca_err err;
	unsigned char *buf;
	size_t len;
	mode_t mode;
	time_t mtime = 0;
	char p[256];

	(void)state;
	path_of("ok", p, sizeof(p));
	put(p, "0123456789");
	assert_int_equal(chmod(p, 0640), 0);
	assert_int_equal(
	    eca_util_read_file(p, "CRL", 10, &buf, &len, &mode, &mtime, &err),
	    0);
	assert_int_equal(len, 10);
	assert_string_equal((char *)buf, "0123456789");
	assert_int_equal(mode & 0777, 0640);
	assert_true(mtime > 0);
	eca_util_free_file(buf, len);
	unlink(p);
}

static void
test_replace_refuses_a_missing_directory_and_leaves_nothing(void **state)
{
	struct eca_err err;
	char p[256];

	(void)state;
	path_of("no/such/file", p, sizeof(p));
	assert_int_equal(eca_util_replace_file(p, "x", 1, 0600, &err),
	    ECA_ERR_IO);
	assert_non_null(strstr(err.msg, "cannot create a file beside"));
	assert_int_equal(entries(), 0);
}

static void
test_abort_leaves_the_old_content(void **state)
{
	struct eca_util_afile f;
	struct eca_err err;
	unsigned char *buf;
	size_t len;
	char p[256];

	(void)state;
	path_of("keep", p, sizeof(p));
	put(p, "old");
	assert_int_equal(eca_util_afile_open(&f, p, 0600, &err), 0);
	assert_int_equal(eca_util_afile_write(&f, "new", 3, &err), 0);
	eca_util_afile_abort(&f);
	assert_int_equal(entries(), 1);
	assert_int_equal(
	    eca_util_read_file(p, "test", 100, &buf, &len, NULL, NULL, &err),
	    0);
	assert_string_equal((char *)buf, "old");
	eca_util_free_file(buf, len);
	unlink(p);
}

static void
test_replace_writes_with_the_mode_asked(void **state)
{
	struct eca_err err;
	unsigned char *buf;
	size_t len;
	mode_t mode;
	char p[256];

	(void)state;
	path_of("new", p, sizeof(p));
	put(p, "old content, longer than the new one");
	assert_int_equal(eca_util_replace_file(p, "new", 3, 0640, &err), 0);
	assert_int_equal(entries(), 1);
	assert_int_equal(
	    eca_util_read_file(p, "test", 100, &buf, &len, &mode, NULL, &err),
	    0);
	assert_int_equal(len, 3);
	assert_string_equal((char *)buf, "new");
	assert_int_equal(mode & 0777, 0640);
	eca_util_free_file(buf, len);
	unlink(p);
}

static void
test_mono_clock_moves_forward(void **state)
{
	int64_t a, b;

	(void)state;
	a = eca_util_mono_us();
	usleep(2000);
	b = eca_util_mono_us();
	assert_true(b - a >= 2000);
	assert_true(eca_util_mono_ms() >= b / 1000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_read_refuses_no_path_missing_dir_and_large),
	    cmocka_unit_test(test_read_gives_bytes_nul_and_mode),
	    cmocka_unit_test(
		test_replace_refuses_a_missing_directory_and_leaves_nothing),
	    cmocka_unit_test(test_abort_leaves_the_old_content),
	    cmocka_unit_test(test_replace_writes_with_the_mode_asked),
	    cmocka_unit_test(test_mono_clock_moves_forward),
	};

	return cmocka_run_group_tests_name("util", tests, setup, teardown);
}
