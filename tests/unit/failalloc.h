/* SPDX-License-Identifier: ISC */
/*
 * failalloc.h - allocation-failure injection for the unit tests, as SQLite
 * tests itself: one counter sees every allocation libeca makes, and can be
 * told to fail the Nth one (and, persistent, every one after it).
 *
 * The sources routed to the counter:
 *  - libeca's own malloc, calloc, realloc, reallocarray, strdup, strndup
 *    and free, through the linker's --wrap (the test program is linked
 *    with -Wl,--wrap=malloc,...: only references from the objects of this
 *    link are redirected, libeca.a's among them; glibc's, OpenSSL's and
 *    SQLite's own calls inside their shared objects are not);
 *  - getline (and __getdelim, what glibc inlines it to) and
 *    open_memstream, which allocate inside glibc on libeca's behalf: a
 *    failure returns -1 / NULL with errno ENOMEM as glibc would;
 *  - OpenSSL (CRYPTO_set_mem_functions), jansson (json_set_alloc_funcs)
 *    and SQLite (SQLITE_CONFIG_MALLOC), installed by failalloc_install().
 *    Once one of jansson's allocations has failed, every later one in
 *    the run fails too: its lexer silently drops a byte when a single
 *    allocation fails (load.c: lex_save), which no caller can detect.
 *
 * Live allocations are kept in a table (pointer and size), so a test can
 * count that a call that failed freed everything it allocated, whichever
 * of the allocators allocated it and whichever freed it.  Memory glibc
 * allocates inside getline and friends is not in the table; freeing it
 * through the wrapper is harmless.
 */
#ifndef ECA_FAILALLOC_H
#define ECA_FAILALLOC_H

#include <stddef.h>

/*
 * Route OpenSSL, jansson and SQLite to the counter.  First thing in
 * main(): OpenSSL refuses a new allocator once it has allocated and
 * SQLite once it is initialized.  0, or -1 if one of them refused.
 */
int failalloc_install(void);

/*
 * Make syncing to the disk free: libeca's fsync and fdatasync (linked
 * with --wrap) and SQLite's xSync return at once.  Durability is tested
 * elsewhere; these tests run a call thousands of times.  After
 * failalloc_install(); 0 or -1.
 */
int failalloc_nosync(void);

/*
 * Fail the nth counted allocation from now (1 = the next one); with
 * persistent set, that one and every later one.  Resets the counters.
 */
void failalloc_arm(unsigned long nth, int persistent);
/* Stop failing; the counters keep their values. */
void failalloc_disarm(void);
/* Counted allocations since the last arm. */
unsigned long failalloc_count(void);
/* Allocations failed on purpose since the last arm. */
unsigned long failalloc_failed(void);
/*
 * Whether one of jansson's allocations was failed since the last arm.
 * jansson reports some of them as a syntax error (load.c: a string it
 * cannot copy is "string or '}' expected"), so a caller that turns a
 * syntax error into a verdict may be excused for it.
 */
int failalloc_jansson_failed(void);
/* Allocations in the table not freed yet. */
size_t failalloc_live(void);

/*
 * One call under test, for failalloc_each().  prepare (may be NULL) runs
 * first, disarmed, and sets the stage afresh; call runs with injection
 * armed and returns 0 or the call's error code; then, disarmed, done
 * (may be NULL) checks the outcome (after a success, that the output is
 * the same as a run without injection) and frees what the call handed
 * over.  ok lists the error codes accepted besides ECA_ERR_NOMEM
 * (terminated by 0; may be NULL).  Allocations are counted from before
 * prepare to after done, so what prepare makes done must free.
 */
struct failalloc_case {
	const char *name;
	int (*call)(void *arg);
	void (*done)(void *arg, int r);
	const int *ok;
	void (*prepare)(void *arg);
	/*
	 * Fail each distinct allocation site once instead of every N: the
	 * Ns whose allocation is the first from its call stack in a run
	 * without injection.  For calls that allocate thousands of times
	 * (OpenSSL's decoders, SQLite's schema), where every N would take
	 * minutes and mostly repeat the same sites.
	 */
	int by_site;
};

/*
 * "allocation N failing (transient)": the run whose outcome done is
 * checking, for its messages.
 */
const char *failalloc_where(void);

/*
 * Run c for every N from 1 until the call makes fewer than N allocations
 * (so nothing was failed), or with by_site for each N of a site, first
 * failing only the Nth allocation, then the Nth and all later ones.  For
 * each N: the call returns 0 or an accepted error code, never an error
 * without an injected failure, and afterwards as many allocations are
 * live as before it (OpenSSL's per-thread state, its error queue and
 * random generators, is freed before both counts, as a thread's exit
 * would).  The call is run once before, without injection, so that the
 * libraries' one-time initialisation is not counted as a leak.  Returns
 * the largest count of allocations seen in one run.  FAILALLOC_VERBOSE
 * in the environment prints it, and the number of sites.
 */
unsigned long failalloc_each(const struct failalloc_case *c, void *arg);

#endif
