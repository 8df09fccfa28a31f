/* SPDX-License-Identifier: ISC */
/*
 * failalloc.c - the counting allocator behind failalloc.h.
 *
 * Every allocator ends in glibc's malloc family (__real_malloc and
 * friends; under ASan, ASan's), so memory may be allocated by one library
 * and freed by another, as libeca does with jansson's and OpenSSL's
 * buffers.  The table of live allocations is a static open-addressing
 * hash (linear probing, deletion by backward shift), so that the counter
 * itself never allocates.
 */
#include <errno.h>
#include <execinfo.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <sqlite3.h>

#include "err.h"
#include "failalloc.h"

void *__real_malloc(size_t);
void *__real_calloc(size_t, size_t);
void *__real_realloc(void *, size_t);
void *__real_reallocarray(void *, size_t, size_t);
char *__real_strdup(const char *);
char *__real_strndup(const char *, size_t);
void __real_free(void *);
ssize_t __real_getline(char **, size_t *, FILE *);
ssize_t __real___getdelim(char **, size_t *, int, FILE *);
FILE *__real_open_memstream(char **, size_t *);

void *__wrap_malloc(size_t);
void *__wrap_calloc(size_t, size_t);
void *__wrap_realloc(void *, size_t);
void *__wrap_reallocarray(void *, size_t, size_t);
char *__wrap_strdup(const char *);
char *__wrap_strndup(const char *, size_t);
void __wrap_free(void *);
ssize_t __wrap_getline(char **, size_t *, FILE *);
ssize_t __wrap___getdelim(char **, size_t *, int, FILE *);
FILE *__wrap_open_memstream(char **, size_t *);

/* 256 Ki slots: OpenSSL with its providers loaded holds a few thousand. */
#define SLOTS ((size_t)1 << 18)

struct slot {
	void *p;
	size_t size;
	unsigned long run; /* the arm it was made under */
	unsigned long seq; /* its count in that run */
};

static struct slot table[SLOTS];
static size_t nlive;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static unsigned long fail_at; /* 0: disarmed */
static int fail_persistent;
static unsigned long count;
static unsigned long failed;
static unsigned long run;  /* arms so far */
static int jansson_down;   /* see jansson_malloc */
static int jansson_failed; /* since the last arm */
/* Allocations whose stack is printed (a leak's, when it is run again). */
#define TRACE_MAX 8
static unsigned long trace[TRACE_MAX];
static size_t ntrace;

static size_t
slot_of(const void *p)
{
	uint64_t h = (uint64_t)(uintptr_t)p >> 4;

	return (size_t)((h * 0x9e3779b97f4a7c15ULL) >> 46) & (SLOTS - 1);
}

/*
 * The stack of an allocation left behind, for addr2line -f -e PROGRAM
 * (or run the test under gdb).  backtrace() allocates inside glibc only.
 */
static void
print_stack(void)
{
	void *frames[32];
	int n;

	n = backtrace(frames, 32);
	backtrace_symbols_fd(frames, n, 2);
}

/* Caller holds lock. */
static void
track(void *p, size_t size)
{
	size_t i;

	if (p == NULL)
		return;
	if (nlive >= SLOTS - SLOTS / 4) {
		fprintf(stderr, "failalloc: more than %zu live allocations\n",
		    nlive);
		abort();
	}
	for (i = slot_of(p); table[i].p != NULL && table[i].p != p;
	     i = (i + 1) & (SLOTS - 1))
		;
	/* Found: glibc reused memory freed behind the wrappers' back. */
	if (table[i].p == NULL)
		nlive++;
	table[i].p = p;
	table[i].size = size;
	table[i].run = run;
	table[i].seq = count;
	for (i = 0; i < ntrace; i++)
		if (trace[i] == count) {
			fprintf(stderr,
			    "failalloc: allocation %lu (%zu bytes) "
			    "left behind, made at:\n",
			    count, size);
			print_stack();
		}
}

/* Caller holds lock.  The slot of p, or SLOTS if p is not tracked. */
static size_t
find(const void *p)
{
	size_t i;

	for (i = slot_of(p); table[i].p != NULL; i = (i + 1) & (SLOTS - 1))
		if (table[i].p == p)
			return i;
	return SLOTS;
}

/* Caller holds lock.  Knuth's algorithm R: no tombstones. */
static void
untrack(const void *p)
{
	size_t i, j, k;

	if (p == NULL || (i = find(p)) == SLOTS)
		return;
	table[i].p = NULL;
	nlive--;
	for (j = (i + 1) & (SLOTS - 1); table[j].p != NULL;
	     j = (j + 1) & (SLOTS - 1)) {
		k = slot_of(table[j].p);
		/* Leave j where it is if its home lies cyclically in (i, j]. */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		table[i] = table[j];
		table[j].p = NULL;
		i = j;
	}
}

/*
 * A run that records where each allocation is made (failalloc_each with
 * by_site): the hash of its call stack, by its count.
 */
#define RECORD_MAX ((size_t)1 << 16)
static uint64_t *record_site; /* RECORD_MAX hashes while recording */

static uint64_t
stack_hash(void)
{
	void *frames[24];
	uint64_t h = 0xcbf29ce484222325ULL;
	int n, i;

	n = backtrace(frames, 24);
	for (i = 0; i < n; i++) {
		h ^= (uint64_t)(uintptr_t)frames[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Count one allocation; 1 if it is to fail.  Caller holds lock. */
static int
should_fail(void)
{
	count++;
	if (record_site != NULL && count <= RECORD_MAX)
		record_site[count - 1] = stack_hash();
	if (fail_at == 0 || count < fail_at ||
	    (count > fail_at && !fail_persistent))
		return 0;
	failed++;
	return 1;
}

static int
counted_fails(void)
{
	int f;

	pthread_mutex_lock(&lock);
	f = should_fail();
	pthread_mutex_unlock(&lock);
	if (f)
		errno = ENOMEM;
	return f;
}

static void
record(void *p, size_t size)
{
	pthread_mutex_lock(&lock);
	track(p, size);
	pthread_mutex_unlock(&lock);
}

void *
__wrap_malloc(size_t size)
{
	void *p;

	if (counted_fails())
		return NULL;
	p = __real_malloc(size);
	record(p, size);
	return p;
}

void *
__wrap_calloc(size_t n, size_t size)
{
	void *p;

	if (counted_fails())
		return NULL;
	p = __real_calloc(n, size);
	record(p, n * size);
	return p;
}

/* realloc(p, 0) frees p in glibc: not an allocation, never failed. */
void *
__wrap_realloc(void *old, size_t size)
{
	void *p;

	if (size != 0 && counted_fails())
		return NULL;
	p = __real_realloc(old, size);
	pthread_mutex_lock(&lock);
	if (p != NULL || size == 0)
		untrack(old);
	track(p, size);
	pthread_mutex_unlock(&lock);
	return p;
}

void *
__wrap_reallocarray(void *old, size_t n, size_t size)
{
	void *p;

	if (n != 0 && size != 0 && counted_fails())
		return NULL;
	p = __real_reallocarray(old, n, size);
	pthread_mutex_lock(&lock);
	if (p != NULL || n == 0 || size == 0)
		untrack(old);
	track(p, n * size);
	pthread_mutex_unlock(&lock);
	return p;
}

char *
__wrap_strdup(const char *s)
{
	char *p;

	if (counted_fails())
		return NULL;
	p = __real_strdup(s);
	record(p, p != NULL ? strlen(p) + 1 : 0);
	return p;
}

char *
__wrap_strndup(const char *s, size_t n)
{
	char *p;

	if (counted_fails())
		return NULL;
	p = __real_strndup(s, n);
	record(p, p != NULL ? strlen(p) + 1 : 0);
	return p;
}

void
__wrap_free(void *p)
{
	pthread_mutex_lock(&lock);
	untrack(p);
	pthread_mutex_unlock(&lock);
	__real_free(p);
}

/*
 * glibc grows the line inside getline with its own realloc: a failure
 * there is ENOMEM and -1, with neither feof() nor (glibc 2.36) ferror()
 * set, which a loop that stops at -1 takes for the end of the file.
 * Modelled at the call: the buffer is left as it was.
 */
ssize_t
__wrap_getline(char **line, size_t *cap, FILE *fp)
{
	if (counted_fails())
		return -1;
	return __real_getline(line, cap, fp);
}

/* What getline is inlined to when optimizing (bits/stdio.h). */
ssize_t
__wrap___getdelim(char **line, size_t *cap, int delim, FILE *fp)
{
	if (counted_fails())
		return -1;
	return __real___getdelim(line, cap, delim, fp);
}

FILE *
__wrap_open_memstream(char **buf, size_t *len)
{
	if (counted_fails())
		return NULL;
	return __real_open_memstream(buf, len);
}

/* OpenSSL: the same behaviour as its defaults for size 0. */
static void *
ossl_malloc(size_t size, const char *file, int line)
{
	(void)file;
	(void)line;
	if (size == 0)
		return NULL;
	return __wrap_malloc(size);
}

static void *
ossl_realloc(void *p, size_t size, const char *file, int line)
{
	if (p == NULL)
		return ossl_malloc(size, file, line);
	if (size == 0) {
		__wrap_free(p);
		return NULL;
	}
	return __wrap_realloc(p, size);
}

static void
ossl_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	__wrap_free(p);
}

/*
 * jansson's lexer does not check that a byte was appended to its buffer
 * (load.c: lex_save), so a single failed allocation in the middle of a
 * string drops a byte and the parse succeeds with the wrong text.  Once
 * one of its allocations failed, jansson sees every later one fail too,
 * even when only the Nth is to fail: libeca's code still meets the
 * single failure, jansson meets what real memory exhaustion looks like.
 */
static void *
jansson_malloc(size_t size)
{
	void *p;
	int f;

	pthread_mutex_lock(&lock);
	if (jansson_down) {
		count++;
		failed++;
		f = 1;
	} else if ((f = should_fail()))
		jansson_down = jansson_failed = 1;
	pthread_mutex_unlock(&lock);
	if (f) {
		errno = ENOMEM;
		return NULL;
	}
	p = __real_malloc(size);
	record(p, size);
	return p;
}

static void
jansson_free(void *p)
{
	__wrap_free(p);
}

/* SQLite asks for the size of what it allocated: the table knows it. */
static void *
sq_malloc(int n)
{
	return __wrap_malloc((size_t)n);
}

static void
sq_free(void *p)
{
	__wrap_free(p);
}

static void *
sq_realloc(void *p, int n)
{
	return __wrap_realloc(p, (size_t)n);
}

static int
sq_size(void *p)
{
	size_t i, size = 0;

	pthread_mutex_lock(&lock);
	if ((i = find(p)) != SLOTS)
		size = table[i].size;
	pthread_mutex_unlock(&lock);
	return (int)size;
}

static int
sq_roundup(int n)
{
	return (n + 7) & ~7;
}

static int
sq_init(void *arg)
{
	(void)arg;
	return SQLITE_OK;
}

static void
sq_shutdown(void *arg)
{
	(void)arg;
}

/*
 * Syncing to the disk: not what these tests are about, and thousands of
 * runs each waiting for the disk take minutes.  libeca's fsync and
 * fdatasync succeed at once (--wrap), and SQLite's default VFS becomes
 * the unix one with a file's xSync doing nothing.
 */
int __wrap_fsync(int);
int __wrap_fdatasync(int);

int
__wrap_fsync(int fd)
{
	(void)fd;
	return 0;
}

int
__wrap_fdatasync(int fd)
{
	(void)fd;
	return 0;
}

static sqlite3_vfs *unix_vfs;
static sqlite3_vfs nosync_vfs;
/* The unix VFS's I/O methods, patched; one set per locking style seen. */
static sqlite3_io_methods nosync_methods[4];
static const sqlite3_io_methods *real_methods[4];

static int
nosync_sync(sqlite3_file *f, int flags)
{
	(void)f;
	(void)flags;
	return SQLITE_OK;
}

static int
nosync_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags,
    int *out_flags)
{
	size_t i;
	int rc;

	(void)vfs;
	rc = unix_vfs->xOpen(unix_vfs, name, f, flags, out_flags);
	if (rc != SQLITE_OK || f->pMethods == NULL)
		return rc;
	for (i = 0;
	     i < 4 && real_methods[i] != NULL && real_methods[i] != f->pMethods;
	     i++)
		;
	if (i == 4)
		return rc; /* a fifth locking style: syncs, slowly */
	if (real_methods[i] == NULL) {
		real_methods[i] = f->pMethods;
		nosync_methods[i] = *f->pMethods;
		nosync_methods[i].xSync = nosync_sync;
	}
	f->pMethods = &nosync_methods[i];
	return rc;
}

int
failalloc_nosync(void)
{
	if ((unix_vfs = sqlite3_vfs_find("unix")) == NULL)
		return -1;
	nosync_vfs = *unix_vfs;
	nosync_vfs.pNext = NULL;
	nosync_vfs.zName = "failalloc-nosync";
	nosync_vfs.xOpen = nosync_open;
	return sqlite3_vfs_register(&nosync_vfs, 1) == SQLITE_OK ? 0 : -1;
}

int
failalloc_install(void)
{
	static const sqlite3_mem_methods sq = {
	    sq_malloc,
	    sq_free,
	    sq_realloc,
	    sq_size,
	    sq_roundup,
	    sq_init,
	    sq_shutdown,
	    NULL,
	};

	if (CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free) !=
	    1) {
		fprintf(stderr, "failalloc: OpenSSL allocated already\n");
		return -1;
	}
	json_set_alloc_funcs(jansson_malloc, jansson_free);
	if (sqlite3_config(SQLITE_CONFIG_MALLOC, &sq) != SQLITE_OK) {
		fprintf(stderr, "failalloc: SQLite is initialized already\n");
		return -1;
	}
	return 0;
}

void
failalloc_arm(unsigned long nth, int persistent)
{
	pthread_mutex_lock(&lock);
	fail_at = nth;
	fail_persistent = persistent;
	run++;
	jansson_down = jansson_failed = 0;
	count = 0;
	failed = 0;
	pthread_mutex_unlock(&lock);
}

void
failalloc_disarm(void)
{
	pthread_mutex_lock(&lock);
	fail_at = 0;
	jansson_down = 0;
	pthread_mutex_unlock(&lock);
}

unsigned long
failalloc_count(void)
{
	unsigned long n;

	pthread_mutex_lock(&lock);
	n = count;
	pthread_mutex_unlock(&lock);
	return n;
}

unsigned long
failalloc_failed(void)
{
	unsigned long n;

	pthread_mutex_lock(&lock);
	n = failed;
	pthread_mutex_unlock(&lock);
	return n;
}

int
failalloc_jansson_failed(void)
{
	int f;

	pthread_mutex_lock(&lock);
	f = jansson_failed;
	pthread_mutex_unlock(&lock);
	return f;
}

size_t
failalloc_live(void)
{
	size_t n;

	pthread_mutex_lock(&lock);
	n = nlive;
	pthread_mutex_unlock(&lock);
	return n;
}

static char where[64] = "no allocation failing";

const char *
failalloc_where(void)
{
	return where;
}

static int
accepted(const struct failalloc_case *c, int r)
{
	const int *ok;

	if (r == ECA_ERR_NOMEM)
		return 1;
	for (ok = c->ok; ok != NULL && *ok != 0; ok++)
		if (*ok == r)
			return 1;
	return 0;
}

/*
 * OpenSSL keeps per-thread state (the error queue, whose data buffers
 * ERR_clear_error keeps for reuse, the thread's random generators) that
 * is held, not lost: free it before each count, as a thread's exit would.
 */
static void
settle(void)
{
	ERR_clear_error();
	OPENSSL_thread_stop();
}

/*
 * The same run again, printing where the allocations the first one left
 * behind were made.
 */
static void
trace_again(const struct failalloc_case *c, void *arg, unsigned long n,
    int persistent)
{
	size_t i;
	int r;

	pthread_mutex_lock(&lock);
	ntrace = 0;
	for (i = 0; i < SLOTS && ntrace < TRACE_MAX; i++)
		if (table[i].p != NULL && table[i].run == run)
			trace[ntrace++] = table[i].seq;
	pthread_mutex_unlock(&lock);
	if (c->prepare != NULL)
		c->prepare(arg);
	failalloc_arm(n, persistent);
	r = c->call(arg);
	failalloc_disarm();
	ntrace = 0;
	if (c->done != NULL)
		c->done(arg, r);
}

/*
 * One run with the nth allocation failing; 1 when the call made fewer
 * than n allocations (nothing was failed, the loop is over).  OpenSSL's
 * error queue is emptied before counting (x509.h's callers check it).
 */
static int
run_one(const struct failalloc_case *c, void *arg, unsigned long n,
    int persistent, int warmup, unsigned long *most)
{
	const char *mode = persistent ? "persistent" : "transient";
	unsigned long nfailed;
	size_t before, after;
	int r;

	settle();
	before = failalloc_live();
	if (c->prepare != NULL)
		c->prepare(arg);
	snprintf(where, sizeof(where), "allocation %lu failing (%s)", n,
	    n == 0 ? "none" : mode);
	failalloc_arm(n, persistent);
	r = c->call(arg);
	failalloc_disarm();
	nfailed = failalloc_failed();
	if (failalloc_count() > *most)
		*most = failalloc_count();
	if (r != 0 && nfailed == 0)
		fail_msg("%s: %s (%d) with no allocation failed (N=%lu)",
		    c->name, eca_err_name(r), r, n);
	if (r != 0 && !accepted(c, r))
		fail_msg("%s: %s gave %s (%d), not NOMEM", c->name, where,
		    eca_err_name(r), r);
	if (c->done != NULL)
		c->done(arg, r);
	settle();
	after = failalloc_live();
	if (!warmup && after != before) {
		print_error("%s: %s, %s: %zu allocation(s) left behind\n",
		    c->name, where, r == 0 ? "success" : eca_err_name(r),
		    after - before);
		trace_again(c, arg, n, persistent);
		fail();
	}
	return nfailed == 0;
}

struct site {
	uint64_t hash;
	unsigned long n;
};

static int
site_cmp(const void *a, const void *b)
{
	const struct site *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->n < y->n ? -1 : x->n > y->n;
}

static int
ulong_cmp(const void *a, const void *b)
{
	const unsigned long *x = a, *y = b;

	return *x < *y ? -1 : *x > *y;
}

/*
 * by_site: the Ns of a run without injection whose allocation is the
 * first made from its call stack, ascending, into *ns (the caller frees);
 * their number.  The run is the call's second, so that the libraries'
 * one-time allocations are behind it (and it is checked for leaks).
 */
static size_t
first_sites(const struct failalloc_case *c, void *arg, unsigned long **ns,
    unsigned long *most)
{
	struct site *v;
	size_t i, k, total;

	assert_non_null(
	    record_site = __real_calloc(RECORD_MAX, sizeof(*record_site)));
	run_one(c, arg, 0, 0, 0, most);
	total = failalloc_count() < RECORD_MAX ? failalloc_count() : RECORD_MAX;
	assert_non_null(v = __real_calloc(total + 1, sizeof(*v)));
	for (i = 0; i < total; i++) {
		v[i].hash = record_site[i];
		v[i].n = i + 1;
	}
	__real_free(record_site);
	record_site = NULL;
	qsort(v, total, sizeof(*v), site_cmp);
	assert_non_null(*ns = __real_calloc(total + 1, sizeof(**ns)));
	for (i = k = 0; i < total; i++)
		if (i == 0 || v[i].hash != v[i - 1].hash)
			(*ns)[k++] = v[i].n;
	__real_free(v);
	qsort(*ns, k, sizeof(**ns), ulong_cmp);
	return k;
}

unsigned long
failalloc_each(const struct failalloc_case *c, void *arg)
{
	unsigned long n, most = 0, *ns = NULL;
	size_t nns = 0, i;
	int persistent;

	/* One-time initialisation inside the libraries happens here. */
	run_one(c, arg, 0, 0, 1, &most);
	if (c->by_site)
		nns = first_sites(c, arg, &ns, &most);
	for (persistent = 0; persistent <= 1; persistent++) {
		if (c->by_site) {
			for (i = 0; i < nns; i++)
				(void)run_one(c, arg, ns[i], persistent, 0,
				    &most);
			continue;
		}
		for (n = 1; !run_one(c, arg, n, persistent, 0, &most); n++)
			;
	}
	__real_free(ns);
	/* How many Ns a call takes, to choose by_site: FAILALLOC_VERBOSE=1. */
	if (getenv("FAILALLOC_VERBOSE") != NULL)
		fprintf(stderr, "%s: %lu allocations, %zu sites\n", c->name,
		    most, nns);
	return most;
}
