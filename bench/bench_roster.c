/* SPDX-License-Identifier: ISC */
/*
 * bench_roster.c - issue 3 section 10(b): the roster at 1,000,000 hosts.
 *
 * Builds a roster of N synthetic hosts through the real decoder and
 * eca_roster_apply (pages of ECA_ROSTER_PAGE_MAX), then measures the
 * median time of a lookup by fingerprint and by host name (random order,
 * each lookup timed in batches so the clock's cost does not dominate),
 * the bytes per host (the roster's own allocations, and the RSS growth),
 * and the time to save the roster to disk and load it back.
 *
 * bench_roster [--n N] [--dir DIR] [--json]
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "roster.h"
#include "wire.h"

#define PRIMARY "primary.bench.eca"
#define BATCH 64
#define SAMPLES 20000

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long
rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0) {
			v = strtol(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static uint64_t
mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void
fake_fp(uint64_t i, uint64_t salt, uint8_t out[ECA_ROSTER_FP_LEN])
{
	uint64_t z;
	size_t k;

	for (k = 0; k < ECA_ROSTER_FP_LEN; k += 8) {
		z = mix(i * 4 + k / 8 + salt);
		memcpy(out + k, &z, 8);
	}
}

/* Host names like real ones: "mediaNNNNNNN.dc3.example.com". */
static void
fake_host(uint64_t i, char *buf, size_t len)
{
	snprintf(buf, len, "%s%07llu.dc%u.example.com",
	    i % 10 == 0 ? "media" : "client", (unsigned long long)i,
	    (unsigned)(i % 7));
}

static void
fake_change(struct eca_change *c, uint64_t i)
{
	uint8_t fp[ECA_ROSTER_FP_LEN];

	memset(c, 0, sizeof(*c));
	fake_host(i, c->host, sizeof(c->host));
	snprintf(c->host_id, sizeof(c->host_id),
	    "%08llx-0000-4000-8000-"
	    "%012llx",
	    (unsigned long long)(i & 0xffffffff),
	    (unsigned long long)(mix(i) & 0xffffffffffffULL));
	c->state = ECA_STATE_ENROLLED;
	fake_fp(i, 0, fp);
	eca_roster_fp_to_hex(fp, c->fingerprint);
	fake_fp(i, 1ULL << 40, fp);
	eca_roster_fp_to_hex(fp, c->spki_fingerprint);
	c->not_after = 1900000000 + (int64_t)(i % 86400);
	c->version = (int64_t)i + 1;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median ns per lookup over SAMPLES batches of BATCH random lookups. */
static double
median_lookup(struct eca_roster *r, size_t n, int by_fp, size_t *misses)
{
	static char hosts[BATCH][ECA_HOST_MAX];
	static uint8_t fps[BATCH][ECA_ROSTER_FP_LEN];
	struct eca_roster_entry e;
	double *t, t0, med;
	uint64_t seed = by_fp ? 7 : 11, idx;
	size_t s, k;

	if ((t = calloc(SAMPLES, sizeof(*t))) == NULL)
		return -1;
	for (s = 0; s < SAMPLES; s++) {
		for (k = 0; k < BATCH; k++) {
			idx = mix(seed++) % n;
			if (by_fp)
				fake_fp(idx, 0, fps[k]);
			else
				fake_host(idx, hosts[k], sizeof(hosts[k]));
		}
		t0 = now_s();
		for (k = 0; k < BATCH; k++)
			if ((by_fp ? eca_roster_lookup_fp(r, fps[k], &e) :
				     eca_roster_lookup_host(r, hosts[k], &e)) !=
			    0)
				(*misses)++;
		t[s] = (now_s() - t0) / BATCH * 1e9;
	}
	qsort(t, SAMPLES, sizeof(*t), cmp_double);
	med = t[SAMPLES / 2];
	free(t);
	return med;
}

static int
build(struct eca_roster *r, size_t n)
{
	struct eca_roster_delta *d = NULL;
	struct eca_change *ch;
	struct eca_err err;
	json_t *j;
	char *body;
	size_t i, k, page = ECA_ROSTER_PAGE_MAX;
	int64_t since = 0;
	int rc = 0;

	if ((ch = calloc(page, sizeof(*ch))) == NULL)
		return -1;
	for (i = 0; i < n && rc == 0; i += k) {
		for (k = 0; k < page && i + k < n; k++)
			fake_change(&ch[k], i + k);
		j = eca_wire_roster(
		    &(struct eca_wire_roster_page){.primary = PRIMARY,
			.since = since,
			.version = (int64_t)n,
			.next = ch[k - 1].version,
			.full = since == 0,
			.more = i + k < n},
		    ch, k);
		body = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
		if (body == NULL ||
		    eca_roster_delta_parse(body, strlen(body), &d, &err) != 0 ||
		    eca_roster_apply(r, d, (int64_t)time(NULL), &err) != 0) {
			fprintf(stderr,
			    "bench_roster: building the roster: %s\n",
			    body == NULL ? "out of memory" : err.msg);
			rc = -1;
		}
		since = ch[k - 1].version;
		eca_roster_delta_free(d);
		d = NULL;
		free(body);
	}
	free(ch);
	return rc;
}

int
main(int argc, char **argv)
{
	struct eca_roster *r = NULL, *l = NULL;
	struct eca_err err;
	const char *dir = "/tmp";
	char path[4096];
	double t0, t_build, t_save, t_load, med_fp, med_host;
	size_t n = 1000000, misses = 0, mem;
	long rss0, rss1;
	int json = 0, i, ok;
	char *end;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--n") == 0 && i + 1 < argc) {
			errno = 0;
			n = (size_t)strtoull(argv[++i], &end, 10);
			if (errno != 0 || *end != '\0' || n == 0 ||
			    n > ECA_ROSTER_HOSTS_MAX) {
				fprintf(stderr, "bench_roster: bad --n\n");
				return 2;
			}
		} else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else {
			fprintf(stderr,
			    "usage: bench_roster [--n N] "
			    "[--dir DIR] [--json]\n");
			return 2;
		}
	}
	snprintf(path, sizeof(path), "%s/bench-roster.%ld.bin", dir,
	    (long)getpid());

	rss0 = rss_kib();
	if (eca_roster_new(PRIMARY, &r, &err) != 0) {
		fprintf(stderr, "bench_roster: %s\n", err.msg);
		return 1;
	}
	t0 = now_s();
	if (build(r, n) != 0)
		return 1;
	t_build = now_s() - t0;
	rss1 = rss_kib();
	mem = eca_roster_memory(r);

	med_fp = median_lookup(r, n, 1, &misses);
	med_host = median_lookup(r, n, 0, &misses);

	t0 = now_s();
	if (eca_roster_save(r, path, &err) != 0) {
		fprintf(stderr, "bench_roster: %s\n", err.msg);
		return 1;
	}
	t_save = now_s() - t0;
	eca_roster_free(r);
	t0 = now_s();
	if (eca_roster_load(path, PRIMARY, &l, &err) != 0) {
		fprintf(stderr, "bench_roster: %s\n", err.msg);
		unlink(path);
		return 1;
	}
	t_load = now_s() - t0;
	unlink(path);
	ok = misses == 0 && eca_roster_count(l) == n;
	eca_roster_free(l);

	if (json) {
		printf("{\"hosts\":%zu,\"build_s\":%.3f,"
		       "\"lookup_fp_median_ns\":%.1f,"
		       "\"lookup_host_median_ns\":%.1f,"
		       "\"bytes_per_host_alloc\":%.1f,"
		       "\"bytes_per_host_rss\":%.1f,\"save_s\":%.3f,"
		       "\"load_s\":%.3f,\"lookups_ok\":%s}\n",
		    n, t_build, med_fp, med_host, (double)mem / (double)n,
		    (double)(rss1 - rss0) * 1024.0 / (double)n, t_save, t_load,
		    ok ? "true" : "false");
	} else {
		printf("roster of %zu hosts built (decode + apply) in %.2f s\n",
		    n, t_build);
		printf("lookup by fingerprint, median: %7.1f ns  "
		       "(target <= 1000 ns) %s\n",
		    med_fp, med_fp <= 1000 ? "ok" : "MISSED");
		printf("lookup by host name, median:   %7.1f ns  "
		       "(target <= 1000 ns) %s\n",
		    med_host, med_host <= 1000 ? "ok" : "MISSED");
		printf("bytes per host, allocated:     %7.1f B   "
		       "(target <= 200 B) %s\n",
		    (double)mem / (double)n,
		    (double)mem / (double)n <= 200 ? "ok" : "MISSED");
		printf("bytes per host, RSS growth:    %7.1f B   "
		       "(target <= 200 B) %s\n",
		    (double)(rss1 - rss0) * 1024.0 / (double)n,
		    (double)(rss1 - rss0) * 1024.0 / (double)n <= 200 ?
			"ok" :
			"MISSED");
		printf("save to disk (fsynced):        %7.3f s\n", t_save);
		printf("load from disk (checksummed):  %7.3f s\n", t_load);
		printf("every lookup found its host and the loaded roster "
		       "is whole: %s\n",
		    ok ? "yes" : "NO");
	}
	return ok ? 0 : 1;
}
