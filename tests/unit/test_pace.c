/* SPDX-License-Identifier: ISC */
/*
 * test_pace.c - the pace of the threads that accept from one socket
 * (src/daemon/listen.c): a thread alone, or no busier than its siblings,
 * takes every connection waiting in one turn of its loop; a thread busier
 * than a sibling takes one per turn and accepts again at the next; a
 * thread whose listeners are gone touches none of them.
 *
 * Real sockets on 127.0.0.1 and a real libevent loop: connections are
 * made before the loop turns, so each turn shows how many were taken.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "ecad.h"

#define WAITING 3

struct fixture {
	struct event_base *base;
	struct evconnlistener *lis;
	struct ecad_pace me, sibling;
	struct sockaddr_in addr;
	int clients[WAITING];
	int taken;
};

static void
accept_cb(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct fixture *f = arg;

	(void)lis;
	(void)sa;
	(void)salen;
	close(fd);
	f->taken++;
	ecad_pace_took(&f->me);
}

/* A listener on 127.0.0.1 (a port of the kernel's choice) with me's pace. */
static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	socklen_t len = sizeof(f->addr);
	int fd;

	assert_non_null(f);
	assert_non_null(f->base = event_base_new());
	assert_int_not_equal(fd = socket(AF_INET, SOCK_STREAM, 0), -1);
	f->addr.sin_family = AF_INET;
	f->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&f->addr, sizeof(f->addr)),
	    0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&f->addr, &len), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(evutil_make_socket_nonblocking(fd), 0);
	assert_non_null(f->lis = evconnlistener_new(f->base, accept_cb, f,
			    LEV_OPT_CLOSE_ON_FREE, -1, fd));
	ecad_pace_init(&f->me, &f->sibling);
	ecad_pace_init(&f->sibling, &f->me);
	assert_int_equal(ecad_pace_start(&f->me, f->base), 0);
	ecad_pace_watch(&f->me, f->lis);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	int i;

	for (i = 0; i < WAITING; i++)
		if (f->clients[i] > 0)
			close(f->clients[i]);
	ecad_pace_clear(&f->me);
	if (f->lis != NULL)
		evconnlistener_free(f->lis);
	event_base_free(f->base);
	free(f);
	return 0;
}

/* WAITING connections in the listener's queue, none taken yet. */
static void
connect_waiting(struct fixture *f)
{
	int i;

	for (i = 0; i < WAITING; i++) {
		assert_int_not_equal(
		    f->clients[i] = socket(AF_INET, SOCK_STREAM, 0), -1);
		assert_int_equal(connect(f->clients[i],
				     (struct sockaddr *)&f->addr,
				     sizeof(f->addr)),
		    0);
	}
}

static void
turn(struct fixture *f)
{
	assert_int_not_equal(event_base_loop(f->base, EVLOOP_ONCE), -1);
}

static void
test_a_forgotten_listener_is_not_touched(void **state)
{
	struct fixture *f = *state;

	ecad_pace_load(&f->me, 5);
	ecad_pace_forget(&f->me);
	/* Freed as a stopping thread frees it: the pace must not reach it. */
	evconnlistener_free(f->lis);
	f->lis = NULL;
	ecad_pace_took(&f->me);
	/* 1: nothing pending or active, no resumption scheduled either. */
	assert_int_equal(event_base_loop(f->base, EVLOOP_NONBLOCK), 1);
	assert_int_equal(f->taken, 0);
}

static void
test_a_thread_alone_takes_every_connection_waiting(void **state)
{
	struct fixture *f = *state;

	f->me.next = &f->me; /* a ring of one */
	ecad_pace_load(&f->me, 5);
	connect_waiting(f);
	turn(f);
	assert_int_equal(f->taken, WAITING);
}

static void
test_a_thread_no_busier_than_its_sibling_takes_every_connection(void **state)
{
	struct fixture *f = *state;

	ecad_pace_load(&f->me, 2);
	ecad_pace_load(&f->sibling, 2);
	connect_waiting(f);
	turn(f);
	assert_int_equal(f->taken, WAITING);
}

static void
test_a_busier_thread_takes_one_connection_per_turn(void **state)
{
	struct fixture *f = *state;
	int i;

	ecad_pace_load(&f->me, 3);
	ecad_pace_load(&f->sibling, 1);
	connect_waiting(f);
	for (i = 1; i <= WAITING; i++) {
		turn(f);
		assert_int_equal(f->taken, i);
	}
}

static void
test_a_thread_paces_itself_by_the_load_counted_out(void **state)
{
	struct fixture *f = *state;

	ecad_pace_load(&f->me, 3);
	ecad_pace_load(&f->sibling, 1);
	ecad_pace_load(&f->me, -3); /* its handshakes done: now the freer */
	connect_waiting(f);
	turn(f);
	assert_int_equal(f->taken, WAITING);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_a_forgotten_listener_is_not_touched, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_a_thread_alone_takes_every_connection_waiting, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		test_a_thread_no_busier_than_its_sibling_takes_every_connection,
		setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_a_busier_thread_takes_one_connection_per_turn, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		test_a_thread_paces_itself_by_the_load_counted_out, setup,
		teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
