/* SPDX-License-Identifier: ISC */
/*
 * test_registry_io.c - the registry export file (registry_io.h): its
 * damaged, truncated, foreign and too new forms refused with nothing
 * imported, a non-empty target refused without --force, the digest's
 * canonical form pinned, and a round trip SQLite -> SQLite (and, when
 * tests/pg.sh started a server, SQLite -> PostgreSQL -> SQLite) giving one
 * digest.
 */
#include <sys/resource.h>

#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <openssl/evp.h>

#include "registry_io.h"
#include "store.h"
#include "text.h"

#define P "primary.example"

struct fixture {
	char dir[64];
	char uri[2][160]; /* two SQLite registries */
	char file[160];	  /* the export */
	char other[160];  /* a second file */
};

static int
setup(void **state)
{
	struct fixture *f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/eca-test-regio-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->uri[0], sizeof(f->uri[0]), "sqlite:%s/a.db", f->dir);
	snprintf(f->uri[1], sizeof(f->uri[1]), "sqlite:%s/b.db", f->dir);
	snprintf(f->file, sizeof(f->file), "%s/export.jsonl", f->dir);
	snprintf(f->other, sizeof(f->other), "%s/other.jsonl", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	const char *names[] = {"a.db", "a.db-wal", "a.db-shm", "b.db",
	    "b.db-wal", "b.db-shm", "export.jsonl", "other.jsonl"};
	char p[256];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", f->dir, names[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct eca_store *
open_rw(const char *uri)
{
	struct eca_store *st = NULL;
	struct eca_err err;

	assert_int_equal(eca_store_open(uri, 0, &st, &err), 0);
	return st;
}

static void
fake_cert(struct eca_certinfo *ci, unsigned n)
{
	memset(ci, 0, sizeof(*ci));
	snprintf(ci->fingerprint, sizeof(ci->fingerprint), "%064x", n);
	snprintf(ci->spki_fingerprint, sizeof(ci->spki_fingerprint), "%064x",
	    n + 0x10000u);
	/* Text a COPY or JSON must carry: quotes, backslash, tab, UTF-8. */
	snprintf(ci->subject, sizeof(ci->subject),
	    "CN=h%u,O=\"Ex\\\\ample\"\tÅ", n);
	snprintf(ci->issuer, sizeof(ci->issuer), "CN=Issuing CA");
	snprintf(ci->serial, sizeof(ci->serial), "%08X", n);
	ci->not_before = 1700000000 + n;
	ci->not_after = 1800000000 + n;
	snprintf(ci->key_desc, sizeof(ci->key_desc), "EC P-256");
	snprintf(ci->sig_alg, sizeof(ci->sig_alg), "ecdsa-with-SHA256");
	snprintf(ci->cn, sizeof(ci->cn), "h%u.example", n);
	snprintf(ci->san_inline, sizeof(ci->san_inline), "h%u.example", n);
}

/* Host hN: ENROLLED, or CONFLICT with a candidate; history; a mapping. */
static void
add_host(struct eca_store *st, unsigned n, enum eca_state state)
{
	struct eca_enrollment r;
	struct eca_history_entry h;
	struct eca_candidate c;
	struct eca_dnmap m;
	struct eca_err err;
	int64_t v;

	memset(&r, 0, sizeof(r));
	assert_int_equal(eca_store_begin(st, &err), 0);
	assert_int_equal(eca_store_next_version(st, &v, &err), 0);
	snprintf(r.primary, sizeof(r.primary), P);
	snprintf(r.host, sizeof(r.host), "h%u.example", n);
	snprintf(r.host_id, sizeof(r.host_id), "00000000-0000-4000-8000-%012x",
	    n);
	r.role = ECA_ROLE_MEDIA;
	r.state = state;
	fake_cert(&r.cert, n);
	r.enrolled_at = r.updated_at = r.last_seen = 1750000000 + n;
	snprintf(r.source, sizeof(r.source), "203.0.113.9:%u", 50000 + n);
	r.version = v;
	if (state == ECA_STATE_CONFLICT) {
		r.has_candidate = 1;
		fake_cert(&r.candidate, n + 1000);
		memset(&c, 0, sizeof(c));
		fake_cert(&c.cert, n + 1000);
		c.at = c.last_seen = 1760000000;
	}
	assert_int_equal(eca_store_put(st, &r, &err), 0);
	if (state == ECA_STATE_CONFLICT)
		assert_int_equal(
		    eca_store_candidate_put(st, P, r.host, &c, &err), 0);
	memset(&h, 0, sizeof(h));
	snprintf(h.primary, sizeof(h.primary), P);
	snprintf(h.host, sizeof(h.host), "%s", r.host);
	snprintf(h.host_id, sizeof(h.host_id), "%s", r.host_id);
	snprintf(h.event, sizeof(h.event), "ENROLL");
	h.state = state;
	snprintf(h.fingerprint, sizeof(h.fingerprint), "%s",
	    r.cert.fingerprint);
	snprintf(h.actor, sizeof(h.actor), "local:0");
	h.at = r.updated_at;
	assert_int_equal(eca_store_add_history(st, &h, &err), 0);
	memset(&m, 0, sizeof(m));
	snprintf(m.subject, sizeof(m.subject), "CN=m%u,O=Example", n);
	snprintf(m.host, sizeof(m.host), "%s", r.host);
	snprintf(m.actor, sizeof(m.actor), "admin");
	m.version = v;
	assert_int_equal(eca_store_dnmap_put(st, P, &m, &err), 0);
	assert_int_equal(eca_store_commit(st, &err), 0);
}

/* A registry at uri with n hosts, every third one in CONFLICT. */
static void
fill(const char *uri, unsigned n)
{
	struct eca_store *st = open_rw(uri);
	unsigned i;

	for (i = 1; i <= n; i++)
		add_host(st, i,
		    i % 3 == 0 ? ECA_STATE_CONFLICT : ECA_STATE_ENROLLED);
	eca_store_close(st);
}

static void
sum_of(const char *uri, struct eca_registry_sum *s)
{
	struct eca_store *st = open_rw(uri);
	struct eca_err err;

	assert_int_equal(eca_registry_sum(st, s, &err), 0);
	eca_store_close(st);
}

static void
export_of(const char *uri, const char *file, struct eca_registry_sum *s)
{
	struct eca_store *st = open_rw(uri);
	struct eca_err err;

	assert_int_equal(eca_registry_export(st, file, s, &err), 0);
	eca_store_close(st);
}

static int
import_into(const char *uri, const char *file, int force,
    struct eca_registry_sum *s, struct eca_err *err)
{
	struct eca_store *st = open_rw(uri);
	int r = eca_registry_import(st, file, force, s, err);

	eca_store_close(st);
	return r;
}

static void
write_text(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_true(fputs(text, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
}

/* The file with line `skip` (1-based) left out or replaced by repl. */
static void
edit_lines(const char *from, const char *to, long skip, const char *repl)
{
	FILE *in = fopen(from, "r"), *out = fopen(to, "w");
	char *line = NULL;
	size_t cap = 0;
	long n = 0;

	assert_non_null(in);
	assert_non_null(out);
	while (getline(&line, &cap, in) > 0)
		if (++n != skip)
			fputs(line, out);
		else if (repl != NULL)
			fputs(repl, out);
	free(line);
	fclose(in);
	assert_int_equal(fclose(out), 0);
}

static long
count_lines(const char *path)
{
	FILE *fp = fopen(path, "r");
	long n = 0;
	int c;

	assert_non_null(fp);
	while ((c = getc(fp)) != EOF)
		n += c == '\n';
	fclose(fp);
	return n;
}

/* Import of a bad file: the error says why, the target stays empty. */
static void
assert_refused(struct fixture *f, const char *file, int code, const char *why)
{
	struct eca_registry_sum s, empty;
	struct eca_err err;

	assert_int_equal(import_into(f->uri[1], file, 0, &s, &err), code);
	if (strstr(err.msg, why) == NULL)
		fail_msg("'%s' does not say '%s'", err.msg, why);
	sum_of(f->uri[1], &empty);
	assert_int_equal(
	    empty.rows[1] + empty.rows[2] + empty.rows[3] + empty.rows[4], 0);
	assert_int_equal(eca_registry_read(file, &s, &err), code);
}

static void
test_missing_and_empty_files_are_refused(void **state)
{
	struct fixture *f = *state;
	struct eca_registry_sum s;
	struct eca_err err;

	assert_int_equal(eca_registry_read(f->other, &s, &err),
	    ECA_ERR_NOT_FOUND);
	write_text(f->other, "");
	assert_refused(f, f->other, ECA_ERR_PARSE, "is empty");
}

static void
test_garbage_is_not_an_export(void **state)
{
	struct fixture *f = *state;
	struct eca_err err;

	write_text(f->other, "hello, world\n");
	assert_refused(f, f->other, ECA_ERR_PARSE,
	    "not an eca registry export");
	assert_int_equal(eca_registry_check_header(f->other, &err),
	    ECA_ERR_PARSE);
	write_text(f->other, "{\"format\":\"something-else\",\"version\":1}\n");
	assert_refused(f, f->other, ECA_ERR_PARSE,
	    "not an eca registry export");
}

static void
test_other_format_version_is_refused(void **state)
{
	struct fixture *f = *state;
	struct eca_registry_sum s;

	fill(f->uri[0], 2);
	export_of(f->uri[0], f->file, &s);
	edit_lines(f->file, f->other, 1,
	    "{\"format\":\"eca-registry\",\"version\":2,\"tables\":[]}\n");
	assert_refused(f, f->other, ECA_ERR_PARSE, "format version 2");
}

static void
test_truncated_file_is_refused_and_nothing_imported(void **state)
{
	struct fixture *f = *state;
	struct eca_registry_sum s;

	fill(f->uri[0], 6);
	export_of(f->uri[0], f->file, &s);
	/* Without its trailer: every row there, the end missing. */
	edit_lines(f->file, f->other, count_lines(f->file), NULL);
	assert_refused(f, f->other, ECA_ERR_PARSE, "truncated");
	/* Cut in the middle of a line. */
	edit_lines(f->file, f->other, 5, "{\"t\":\"enrollments\",\"r\":[\"pri");
	assert_refused(f, f->other, ECA_ERR_PARSE, "line 5");
}

static void
test_changed_row_breaks_its_table_digest(void **state)
{
	struct fixture *f = *state;
	struct eca_registry_sum s;
	char *line = NULL, *p;
	size_t cap = 0;
	FILE *fp;

	fill(f->uri[0], 3);
	export_of(f->uri[0], f->file, &s);
	/* Line 3 is the first record (1 header, 2 meta): its source port. */
	fp = fopen(f->file, "r");
	assert_non_null(fp);
	assert_true(getline(&line, &cap, fp) > 0);
	assert_true(getline(&line, &cap, fp) > 0);
	assert_true(getline(&line, &cap, fp) > 0);
	fclose(fp);
	assert_non_null(p = strstr(line, ":50001\""));
	p[5] = '9';
	edit_lines(f->file, f->other, 3, line);
	free(line);
	assert_refused(f, f->other, ECA_ERR_PARSE,
	    "table enrollments's SHA-256");
}

static void
test_rows_out_of_order_or_after_the_trailer_are_refused(void **state)
{
	struct fixture *f = *state;
	struct eca_registry_sum s;
	FILE *fp;

	fill(f->uri[0], 2);
	export_of(f->uri[0], f->file, &s);
	/* The meta row again after the records. */
	edit_lines(f->file, f->other, 4,
	    "{\"t\":\"meta\",\"r\":[\"registry_version\",2]}\n");
	assert_refused(f, f->other, ECA_ERR_PARSE, "a row of meta after");
	edit_lines(f->file, f->other, 0, NULL);
	assert_non_null(fp = fopen(f->other, "a"));
	fputs("{\"t\":\"meta\",\"r\":[\"registry_version\",2]}\n", fp);
	fclose(fp);
	assert_refused(f, f->other, ECA_ERR_PARSE, "after the trailer");
	/* A value of the wrong type. */
	edit_lines(f->file, f->other, 2,
	    "{\"t\":\"meta\",\"r\":[\"registry_version\",\"2\"]}\n");
	assert_refused(f, f->other, ECA_ERR_PARSE, "meta.value");
}

static void
test_non_empty_target_is_refused_unless_forced(void **state)
{
	struct fixture *f = *state;
	struct eca_registry_sum s, got, live;
	struct eca_err err;

	fill(f->uri[0], 4);
	export_of(f->uri[0], f->file, &s);
	fill(f->uri[1], 1);
	assert_int_equal(import_into(f->uri[1], f->file, 0, &got, &err),
	    ECA_ERR_FORBIDDEN);
	assert_non_null(strstr(err.msg, "not empty"));
	assert_non_null(strstr(err.msg, "--force"));
	sum_of(f->uri[1], &live);
	assert_int_equal(live.rows[1], 1);
	assert_int_equal(import_into(f->uri[1], f->file, 1, &got, &err), 0);
	sum_of(f->uri[1], &live);
	assert_string_equal(live.total, s.total);
}

static void
test_export_to_an_unwritable_place_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	struct eca_registry_sum s;
	struct eca_store *st;
	struct eca_err err;
	char path[256];

	fill(f->uri[0], 1);
	snprintf(path, sizeof(path), "%s/no/such/dir/x.jsonl", f->dir);
	st = open_rw(f->uri[0]);
	assert_int_equal(eca_registry_export(st, path, &s, &err), ECA_ERR_IO);
	assert_non_null(strstr(err.msg, "cannot create"));
	eca_store_close(st);
	assert_int_equal(access(path, F_OK), -1);
}

/* Files in dir (., .. not counted). */
static int
count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n +=
		    strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

/*
 * A write that fails midway (here the file size limit, as a full disk
 * would): the error names the file, and neither it nor the temporary
 * file is left.
 */
static void
test_failed_write_leaves_no_file(void **state)
{
	struct fixture *f = *state;
	struct eca_registry_sum s;
	struct eca_store *st;
	struct eca_err err;
	struct rlimit old, lim;
	int before, r;

	fill(f->uri[0], 40);
	before = count_files(f->dir);
	st = open_rw(f->uri[0]);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 8192;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	r = eca_registry_export(st, f->file, &s, &err);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	eca_store_close(st);
	assert_int_equal(r, ECA_ERR_IO);
	assert_non_null(strstr(err.msg, "cannot write"));
	assert_non_null(strstr(err.msg, f->file));
	assert_int_equal(access(f->file, F_OK), -1);
	assert_int_equal(count_files(f->dir), before);
}

/* The documented canonical form: SHA-256 of `["registry_version",0]\n`. */
static void
test_digest_of_an_empty_registry_is_the_documented_one(void **state)
{
	struct fixture *f = *state;
	static const char row[] = "[\"registry_version\",0]\n";
	unsigned char md[32];
	char hex[65];
	struct eca_registry_sum s;

	assert_int_equal(
	    EVP_Digest(row, strlen(row), md, NULL, EVP_sha256(), NULL), 1);
	eca_text_hex(md, sizeof(md), hex, 0);
	sum_of(f->uri[0], &s);
	assert_int_equal(s.rows[0], 1);
	assert_string_equal(s.digest[0], hex);
	assert_int_equal(s.rows[1], 0);
	assert_string_equal(s.digest[1],
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void
test_round_trip_and_verify(void **state)
{
	struct fixture *f = *state;
	struct eca_registry_sum s, got, again, fromfile, live;
	struct eca_store *st;
	struct eca_err err;

	fill(f->uri[0], 9);
	export_of(f->uri[0], f->file, &s);
	assert_int_equal(eca_registry_check_header(f->file, &err), 0);
	assert_int_equal(s.rows[0], 1);
	assert_int_equal(s.rows[1], 9);
	assert_int_equal(s.rows[2], 9);
	assert_int_equal(s.rows[3], 3);
	assert_int_equal(s.rows[4], 9);
	assert_int_equal(import_into(f->uri[1], f->file, 0, &got, &err), 0);
	assert_string_equal(got.total, s.total);
	export_of(f->uri[1], f->other, &again);
	assert_string_equal(again.total, s.total);
	assert_int_equal(eca_registry_read(f->other, &fromfile, &err), 0);
	assert_int_equal(eca_registry_compare(&fromfile, "x", &s, "y", &err),
	    0);
	/* One more host in the source: the comparison names the tables. */
	st = open_rw(f->uri[0]);
	add_host(st, 99, ECA_STATE_ENROLLED);
	eca_store_close(st);
	sum_of(f->uri[0], &live);
	assert_int_equal(eca_registry_compare(&fromfile, "export.jsonl", &live,
			     "the registry", &err),
	    ECA_ERR_DB);
	assert_non_null(strstr(err.msg, "meta: 1 rows"));
	assert_non_null(strstr(err.msg, "enrollments: 9 rows"));
	assert_non_null(strstr(err.msg, ", 10 ("));
	assert_null(strstr(err.msg, "candidates"));
}

/* ------------------------------------------------------------------ */
/* PostgreSQL (through tests/pg.sh).                                   */

static void
pg_sql(const char *uri, const char *sql)
{
	PGconn *c = PQconnectdb(uri);
	PGresult *res;

	assert_int_equal(PQstatus(c), CONNECTION_OK);
	res = PQexec(c, sql);
	assert_true(PQresultStatus(res) == PGRES_COMMAND_OK ||
	    PQresultStatus(res) == PGRES_TUPLES_OK);
	PQclear(res);
	PQfinish(c);
}

static void
test_pg_sqlite_to_postgresql_and_back_is_identical(void **state)
{
	struct fixture *f = *state;
	const char *pg = getenv("ECA_TEST_PG_URI");
	struct eca_registry_sum s, got, live;
	struct eca_err err;
	struct eca_store *st;

	pg_sql(pg,
	    "SET client_min_messages = warning;"
	    "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
	fill(f->uri[0], 12);
	export_of(f->uri[0], f->file, &s);
	/* A damaged file leaves the database as it was: empty. */
	edit_lines(f->file, f->other, count_lines(f->file), NULL);
	assert_int_equal(import_into(pg, f->other, 0, &got, &err),
	    ECA_ERR_PARSE);
	sum_of(pg, &live);
	assert_int_equal(live.rows[1] + live.rows[2] + live.rows[3], 0);
	assert_int_equal(import_into(pg, f->file, 0, &got, &err), 0);
	assert_string_equal(got.total, s.total);
	/* Again: not empty now. */
	assert_int_equal(import_into(pg, f->file, 0, &got, &err),
	    ECA_ERR_FORBIDDEN);
	export_of(pg, f->other, &live);
	assert_string_equal(live.total, s.total);
	assert_int_equal(import_into(f->uri[1], f->other, 0, &got, &err), 0);
	sum_of(f->uri[1], &live);
	assert_string_equal(live.total, s.total);
	/* The identity moved past the imported ids: new history appends. */
	st = open_rw(pg);
	add_host(st, 500, ECA_STATE_ENROLLED);
	eca_store_close(st);
	sum_of(pg, &live);
	assert_int_equal(live.rows[2], s.rows[2] + 1);
	/* --force replaces what PostgreSQL holds. */
	assert_int_equal(import_into(pg, f->file, 1, &got, &err), 0);
	sum_of(pg, &live);
	assert_string_equal(live.total, s.total);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_missing_and_empty_files_are_refused),
	    T(test_garbage_is_not_an_export),
	    T(test_other_format_version_is_refused),
	    T(test_truncated_file_is_refused_and_nothing_imported),
	    T(test_changed_row_breaks_its_table_digest),
	    T(test_rows_out_of_order_or_after_the_trailer_are_refused),
	    T(test_non_empty_target_is_refused_unless_forced),
	    T(test_export_to_an_unwritable_place_leaves_nothing),
	    T(test_failed_write_leaves_no_file),
	    T(test_digest_of_an_empty_registry_is_the_documented_one),
	    T(test_round_trip_and_verify),
	};
	const struct CMUnitTest pg_tests[] = {
	    T(test_pg_sqlite_to_postgresql_and_back_is_identical),
	};
	const char *ci = getenv("CI");
	int r;

	r = cmocka_run_group_tests_name("registry_io", tests, NULL, NULL);
	if (getenv("ECA_TEST_PG_URI") == NULL) {
		printf("skipped: PostgreSQL not available\n");
		return ci != NULL && strcmp(ci, "true") == 0 ? 1 : r;
	}
	return r |
	    cmocka_run_group_tests_name("registry_io_postgresql", pg_tests,
		NULL, NULL);
}
