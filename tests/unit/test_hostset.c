/* SPDX-License-Identifier: ISC */
/*
 * test_hostset.c - the hint of host names held: a name never added is
 * reported absent, a name added never is, names never added rarely pass,
 * and threads may add and ask at once.  (Out of memory: test_failalloc.)
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "hostset.h"

#define NAMES 100000
#define THREADS 4

static void
name_of(char *buf, size_t len, const char *kind, unsigned i)
{
	snprintf(buf, len, "%s-%u.backup.example.com", kind, i);
}

static void
test_an_empty_set_holds_no_name(void **state)
{
	struct eca_hostset *hs;
	struct eca_err e;
	char name[64];
	unsigned i;

	(void)state;
	assert_int_equal(eca_hostset_new(0, &hs, &e), 0);
	for (i = 0; i < NAMES; i++) {
		name_of(name, sizeof(name), "never", i);
		assert_int_equal(eca_hostset_may_hold(hs, name), 0);
	}
	eca_hostset_free(hs);
}

static void
test_every_name_added_is_held(void **state)
{
	struct eca_hostset *hs;
	struct eca_err e;
	char name[64];
	unsigned i;

	(void)state;
	assert_int_equal(eca_hostset_new(NAMES, &hs, &e), 0);
	for (i = 0; i < NAMES; i++) {
		name_of(name, sizeof(name), "media", i);
		eca_hostset_add(hs, name);
	}
	for (i = 0; i < NAMES; i++) {
		name_of(name, sizeof(name), "media", i);
		assert_int_equal(eca_hostset_may_hold(hs, name), 1);
	}
	/* The hash folds case: another spelling is never reported absent. */
	assert_int_equal(eca_hostset_may_hold(hs, "MEDIA-7.Backup.Example.COM"),
	    1);
	eca_hostset_free(hs);
}

static void
test_names_never_added_rarely_pass(void **state)
{
	struct eca_hostset *hs;
	struct eca_err e;
	char name[64];
	unsigned i, passed = 0;

	(void)state;
	/* Filled to 16 bits per name: about 0.24 % pass. */
	assert_int_equal(eca_hostset_new(0, &hs, &e), 0);
	for (i = 0; i < (unsigned)(eca_hostset_bytes(hs) * 8 / 16); i++) {
		name_of(name, sizeof(name), "client", i);
		eca_hostset_add(hs, name);
	}
	for (i = 0; i < NAMES; i++) {
		name_of(name, sizeof(name), "stranger", i);
		passed += (unsigned)eca_hostset_may_hold(hs, name);
	}
	assert_true(passed < NAMES / 100);
	eca_hostset_free(hs);
}

static void
test_the_set_grows_with_the_names_expected(void **state)
{
	struct eca_hostset *hs;
	struct eca_err e;

	(void)state;
	assert_int_equal(eca_hostset_new(0, &hs, &e), 0);
	assert_int_equal(eca_hostset_bytes(hs), 1024 * 1024);
	eca_hostset_free(hs);
	/* A million names at 16 bits each: 2 MiB. */
	assert_int_equal(eca_hostset_new(1000000, &hs, &e), 0);
	assert_int_equal(eca_hostset_bytes(hs), 2 * 1024 * 1024);
	eca_hostset_free(hs);
}

struct adder {
	struct eca_hostset *hs;
	unsigned id;
};

static void *
add_some(void *arg)
{
	const struct adder *a = arg;
	char name[64], kind[16];
	unsigned i;

	snprintf(kind, sizeof(kind), "t%u", a->id);
	for (i = 0; i < NAMES / THREADS; i++) {
		name_of(name, sizeof(name), kind, i);
		eca_hostset_add(a->hs, name);
		/* What this thread added is held at once. */
		if (!eca_hostset_may_hold(a->hs, name))
			return (void *)1;
	}
	return NULL;
}

static void
test_threads_add_and_ask_at_once(void **state)
{
	struct adder a[THREADS];
	pthread_t th[THREADS];
	struct eca_hostset *hs;
	struct eca_err e;
	char name[64], kind[16];
	void *ret;
	unsigned t, i;

	(void)state;
	assert_int_equal(eca_hostset_new(NAMES, &hs, &e), 0);
	for (t = 0; t < THREADS; t++) {
		a[t].hs = hs;
		a[t].id = t;
		assert_int_equal(pthread_create(&th[t], NULL, add_some, &a[t]),
		    0);
	}
	for (t = 0; t < THREADS; t++) {
		assert_int_equal(pthread_join(th[t], &ret), 0);
		assert_null(ret);
	}
	for (t = 0; t < THREADS; t++) {
		snprintf(kind, sizeof(kind), "t%u", t);
		for (i = 0; i < NAMES / THREADS; i++) {
			name_of(name, sizeof(name), kind, i);
			assert_int_equal(eca_hostset_may_hold(hs, name), 1);
		}
	}
	eca_hostset_free(hs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_an_empty_set_holds_no_name),
	    cmocka_unit_test(test_every_name_added_is_held),
	    cmocka_unit_test(test_names_never_added_rarely_pass),
	    cmocka_unit_test(test_the_set_grows_with_the_names_expected),
	    cmocka_unit_test(test_threads_add_and_ask_at_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
