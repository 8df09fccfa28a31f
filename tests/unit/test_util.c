/* SPDX-License-Identifier: ISC */
/*
 * test_util.c - capped file reads, atomic replacement, the monotonic
 * clock, the process's SHA-256 and the random bytes for identifiers.
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
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

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

static void
test_sha256_is_one_fetched_digest(void **state)
{
	/* SHA-256("abc"), FIPS 180-2 appendix B.1 */
	static const unsigned char abc[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f,
	    0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
	    0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff,
	    0x61, 0xf2, 0x00, 0x15, 0xad};
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	const EVP_MD *sha = eca_util_sha256();

	(void)state;
	assert_non_null(sha);
	assert_ptr_equal(eca_util_sha256(), sha);
	/* fetched from a provider, not the legacy EVP_sha256() table */
	assert_ptr_not_equal(sha, EVP_sha256());
	assert_non_null(EVP_MD_get0_provider(sha));
	assert_int_equal(EVP_Digest("abc", 3, md, &len, sha, NULL), 1);
	assert_int_equal(len, sizeof(abc));
	assert_memory_equal(md, abc, sizeof(abc));
}

static void
test_id_random_refuses_more_than_its_max(void **state)
{
	unsigned char b[ECA_UTIL_ID_RANDOM_MAX + 1];

	(void)state;
	assert_int_equal(eca_util_id_random(b, sizeof(b)), ECA_ERR_INTERNAL);
	assert_int_equal(eca_util_id_random(b, ECA_UTIL_ID_RANDOM_MAX), 0);
	assert_int_equal(eca_util_id_random(b, 0), 0);
}

static void
test_id_random_never_hands_out_a_byte_twice(void **state)
{
	/* three pools' worth and more, in draws that do not divide a pool */
	enum { DRAW = 24, N = 3 * ECA_UTIL_ID_POOL / DRAW + 5 };
	static unsigned char got[N][DRAW];
	size_t i, j;

	(void)state;
	for (i = 0; i < N; i++)
		assert_int_equal(eca_util_id_random(got[i], DRAW), 0);
	for (i = 0; i < N; i++)
		for (j = i + 1; j < N; j++)
			assert_memory_not_equal(got[i], got[j], DRAW);
}

static void
test_id_random_child_of_fork_does_not_reuse_the_parents_pool(void **state)
{
	unsigned char first[16], mine[16], childs[16];
	int fds[2], status;
	pid_t pid;

	(void)state;
	/* The pool is filled now: the parent's next 16 bytes are in it. */
	assert_int_equal(eca_util_id_random(first, sizeof(first)), 0);
	assert_int_equal(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		close(fds[0]);
		_exit(eca_util_id_random(childs, sizeof(childs)) != 0 ||
		    write(fds[1], childs, sizeof(childs)) !=
			(ssize_t)sizeof(childs));
	}
	assert_true(pid > 0);
	close(fds[1]);
	assert_int_equal(read(fds[0], childs, sizeof(childs)), sizeof(childs));
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(eca_util_id_random(mine, sizeof(mine)), 0);
	assert_memory_not_equal(mine, childs, sizeof(mine));
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
	    cmocka_unit_test(test_sha256_is_one_fetched_digest),
	    cmocka_unit_test(test_id_random_refuses_more_than_its_max),
	    cmocka_unit_test(test_id_random_never_hands_out_a_byte_twice),
	    cmocka_unit_test(
		test_id_random_child_of_fork_does_not_reuse_the_parents_pool),
	};

	return cmocka_run_group_tests_name("util", tests, setup, teardown);
}
