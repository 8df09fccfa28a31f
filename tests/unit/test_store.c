/* SPDX-License-Identifier: ISC */
/*
 * test_store.c - the registry store and its front.  The backend-neutral
 * cases run against SQLite and, when tests/pg.sh started a server
 * (ECA_TEST_PG_URI), against PostgreSQL too: the conformance suite.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "audit.h"
#include "store.h"

struct fixture {
	char dir[64];
	char path[128];
	char uri[1024];
	struct eca_store *st;
};

static int
setup(void **state)
{
	struct fixture *f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/eca-test-store-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/registry.db", f->dir);
	snprintf(f->uri, sizeof(f->uri), "sqlite:%s", f->path);
	*state = f;
	return 0;
}

static void
rm_f(const char *dir, const char *name)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	unlink(p);
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	eca_store_close(f->st);
	rm_f(f->dir, "registry.db");
	rm_f(f->dir, "registry.db-wal");
	rm_f(f->dir, "registry.db-shm");
	rm_f(f->dir, "registry.db-journal");
	rm_f(f->dir, "afile");
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct eca_store *
open_rw(struct fixture *f)
{
	struct eca_err err;
	struct eca_store *st = NULL;

	assert_int_equal(eca_store_open(f->uri, 0, &st, &err), 0);
	assert_non_null(st);
	return st;
}

static void
fake_cert(struct eca_certinfo *ci, unsigned leaf, unsigned key)
{
	memset(ci, 0, sizeof(*ci));
	snprintf(ci->fingerprint, sizeof(ci->fingerprint), "%064x", leaf);
	snprintf(ci->spki_fingerprint, sizeof(ci->spki_fingerprint), "%064x",
	    key + 0x10000u);
	snprintf(ci->subject, sizeof(ci->subject), "CN=h%u,O=Example", leaf);
	snprintf(ci->issuer, sizeof(ci->issuer), "CN=Issuing CA,O=Example");
	snprintf(ci->serial, sizeof(ci->serial), "%08X", leaf);
	ci->not_before = 1700000000 + leaf;
	ci->not_after = 1800000000 + leaf;
	snprintf(ci->key_desc, sizeof(ci->key_desc), "EC P-256");
	snprintf(ci->sig_alg, sizeof(ci->sig_alg), "ecdsa-with-SHA256");
	snprintf(ci->cn, sizeof(ci->cn), "h%u.example", leaf);
	snprintf(ci->san_inline, sizeof(ci->san_inline),
	    "h%u.example,alt%u.example", leaf, leaf);
}

static void
fake_record(struct eca_enrollment *r, const char *host, unsigned n)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->primary, sizeof(r->primary), "primary.example");
	snprintf(r->host, sizeof(r->host), "%s", host);
	snprintf(r->host_id, sizeof(r->host_id),
	    "00000000-0000-4000-8000-%012x", n);
	r->role = ECA_ROLE_MEDIA;
	r->state = ECA_STATE_ENROLLED;
	r->method = ECA_METHOD_MANUAL;
	fake_cert(&r->cert, n, n);
	r->enrolled_at = 1750000000 + n;
	r->updated_at = 1750000100 + n;
	r->last_seen = 1750000200 + n;
	snprintf(r->source, sizeof(r->source), "203.0.113.9:%u", 50000 + n);
	r->version = n;
}

static void
put_committed(struct eca_store *st, const struct eca_enrollment *r)
{
	struct eca_err err;

	assert_int_equal(eca_store_begin(st, &err), 0);
	assert_int_equal(eca_store_put(st, r, &err), 0);
	assert_int_equal(eca_store_commit(st, &err), 0);
}

static void
assert_cert_equal(const struct eca_certinfo *a, const struct eca_certinfo *b)
{
	assert_string_equal(a->fingerprint, b->fingerprint);
	assert_string_equal(a->spki_fingerprint, b->spki_fingerprint);
	assert_string_equal(a->subject, b->subject);
	assert_string_equal(a->issuer, b->issuer);
	assert_string_equal(a->serial, b->serial);
	assert_int_equal(a->not_before, b->not_before);
	assert_int_equal(a->not_after, b->not_after);
	assert_string_equal(a->key_desc, b->key_desc);
	assert_string_equal(a->sig_alg, b->sig_alg);
	assert_string_equal(a->cn, b->cn);
	assert_string_equal(eca_certinfo_san(a), eca_certinfo_san(b));
}

static void
assert_record_equal(const struct eca_enrollment *a,
    const struct eca_enrollment *b)
{
	assert_string_equal(a->primary, b->primary);
	assert_string_equal(a->host, b->host);
	assert_string_equal(a->host_id, b->host_id);
	assert_int_equal(a->role, b->role);
	assert_int_equal(a->state, b->state);
	assert_int_equal(a->method, b->method);
	assert_cert_equal(&a->cert, &b->cert);
	assert_int_equal(a->has_candidate, b->has_candidate);
	assert_cert_equal(&a->candidate, &b->candidate);
	assert_int_equal(a->candidate_at, b->candidate_at);
	assert_string_equal(a->candidate_source, b->candidate_source);
	assert_int_equal(a->enrolled_at, b->enrolled_at);
	assert_int_equal(a->updated_at, b->updated_at);
	assert_int_equal(a->last_seen, b->last_seen);
	assert_string_equal(a->source, b->source);
	assert_int_equal(a->version, b->version);
	assert_int_equal(a->nat, b->nat);
}

static int
raw_user_version(const char *path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	int v = -1;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
	    SQLITE_OK);
	assert_int_equal(
	    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	v = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return v;
}

/* ---------------------------------------------------------------- */
/* Negative cases.                                                   */

static void
test_open_in_unwritable_directory_fails_cleanly(void **state)
{
	struct fixture *f = *state;
	struct eca_store *st = (struct eca_store *)&st;
	struct eca_err err;
	char uri[256];
	int fd;

	/*
	 * Root ignores directory modes, so the directory here is a regular
	 * file: no one can create anything under it.
	 */
	snprintf(uri, sizeof(uri), "%s/afile", f->dir);
	fd = open(uri, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	snprintf(uri, sizeof(uri), "sqlite:%s/afile/registry.db", f->dir);
	eca_err_clear(&err);
	assert_int_equal(eca_store_open(uri, 0, &st, &err), ECA_ERR_IO);
	assert_null(st);
	assert_int_equal(err.code, ECA_ERR_IO);
	assert_non_null(strstr(err.msg, "afile/registry.db"));
	assert_non_null(strstr(err.msg, "writable"));
}

static void
test_open_in_mode_0500_directory_fails_unless_root(void **state)
{
	struct fixture *f = *state;
	struct eca_store *st = NULL;
	struct eca_err err;
	char sub[128], uri[256];
	int r;

	snprintf(sub, sizeof(sub), "%s/ro", f->dir);
	assert_int_equal(mkdir(sub, 0500), 0);
	snprintf(uri, sizeof(uri), "sqlite:%s/registry.db", sub);
	r = eca_store_open(uri, 0, &st, &err);
	if (geteuid() == 0) {
		/* root may write anyway: then it must be a working store */
		assert_int_equal(r, 0);
		eca_store_close(st);
		snprintf(uri, sizeof(uri), "%s/registry.db", sub);
		unlink(uri);
		snprintf(uri, sizeof(uri), "%s/registry.db-wal", sub);
		unlink(uri);
		snprintf(uri, sizeof(uri), "%s/registry.db-shm", sub);
		unlink(uri);
	} else {
		assert_int_equal(r, ECA_ERR_IO);
		assert_null(st);
	}
	assert_int_equal(rmdir(sub), 0);
}

static void
test_postgresql_uri_with_a_password_is_refused(void **state)
{
	static const char *const uris[] = {
	    "postgresql://eca:s3cret@db.example/eca",
	    "postgres://eca@db.example/eca?password=s3cret",
	    "host=db.example dbname=eca password=s3cret",
	};
	struct eca_store *st = NULL;
	struct eca_err err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
		assert_int_equal(eca_store_open(uris[i], 0, &st, &err),
		    ECA_ERR_CONFIG);
		assert_null(st);
		assert_non_null(strstr(err.msg, "password file"));
		/* and the password is not repeated */
		assert_null(strstr(err.msg, "s3cret"));
	}
}

static void
test_postgresql_uri_libpq_refuses_is_config(void **state)
{
	struct eca_store *st = NULL;
	struct eca_err err;

	(void)state;
	assert_int_equal(eca_store_open("postgresql://db.example/eca?nosuch=1",
			     0, &st, &err),
	    ECA_ERR_CONFIG);
	assert_null(st);
	assert_non_null(strstr(err.msg, "nosuch"));
}

static void
test_postgresql_server_not_there_names_the_remedy(void **state)
{
	struct eca_store *st = NULL;
	struct eca_err err;

	(void)state;
	assert_int_equal(eca_store_open("host=/nonexistent/eca-test dbname=eca "
					"connect_timeout=2",
			     0, &st, &err),
	    ECA_ERR_DB);
	assert_null(st);
	assert_non_null(strstr(err.msg, "cannot connect"));
	assert_non_null(strstr(err.msg, "check ECA_DB"));
}

static void
test_open_of_unknown_scheme_or_empty_path_is_refused(void **state)
{
	struct eca_store *st = NULL;
	struct eca_err err;

	(void)state;
	assert_int_equal(eca_store_open("mysql://x", 0, &st, &err),
	    ECA_ERR_CONFIG);
	assert_null(st);
	assert_int_equal(eca_store_open("sqlite:", 0, &st, &err),
	    ECA_ERR_CONFIG);
	assert_null(st);
	assert_int_equal(
	    eca_store_open("/var/lib/eca/registry.db", 0, &st, &err),
	    ECA_ERR_CONFIG);
	assert_null(st);
}

static void
test_readonly_open_of_missing_file_is_not_found(void **state)
{
	struct fixture *f = *state;
	struct eca_store *st = NULL;
	struct eca_err err;
	struct stat sb;

	assert_int_equal(eca_store_open(f->uri, ECA_STORE_READONLY, &st, &err),
	    ECA_ERR_NOT_FOUND);
	assert_null(st);
	assert_non_null(strstr(err.msg, f->path));
	/* and it did not create the file */
	assert_int_equal(stat(f->path, &sb), -1);
	assert_int_equal(errno, ENOENT);
}

static void
test_readonly_open_of_empty_file_is_not_found(void **state)
{
	struct fixture *f = *state;
	struct eca_store *st = NULL;
	struct eca_err err;
	int fd;

	fd = open(f->path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(eca_store_open(f->uri, ECA_STORE_READONLY, &st, &err),
	    ECA_ERR_NOT_FOUND);
	assert_null(st);
	assert_non_null(strstr(err.msg, "no schema"));
}

static void
test_readonly_connection_refuses_writes(void **state)
{
	struct fixture *f = *state;
	struct eca_store *ro = NULL;
	struct eca_enrollment r;
	struct eca_err err;
	int64_t v;

	f->st = open_rw(f);
	assert_int_equal(eca_store_open(f->uri, ECA_STORE_READONLY, &ro, &err),
	    0);
	fake_record(&r, "a.example", 1);
	assert_int_not_equal(eca_store_begin(ro, &err), 0);
	assert_int_not_equal(eca_store_put(ro, &r, &err), 0);
	assert_int_not_equal(eca_store_next_version(ro, &v, &err), 0);
	eca_store_close(ro);
}

static void
test_get_of_missing_host_is_not_found(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment r;
	struct eca_err err;

	f->st = open_rw(f);
	assert_int_equal(
	    eca_store_get(f->st, "primary.example", "nohost", &r, &err),
	    ECA_ERR_NOT_FOUND);
	assert_int_equal(err.code, ECA_ERR_NOT_FOUND);
	assert_non_null(strstr(err.msg, "nohost"));
}

/*
 * A registry made by eca, then given schema version v by hand: opening it
 * (writer and reader) must be refused as DB with msg in the message.
 */
static void
assert_schema_version_refused(struct fixture *f, int v, const char *msg)
{
	struct eca_store *st = NULL;
	struct eca_err err;
	sqlite3 *db = NULL;
	char sql[64];

	f->st = open_rw(f);
	eca_store_close(f->st);
	f->st = NULL;
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(eca_store_open(f->uri, 0, &st, &err), ECA_ERR_DB);
	assert_null(st);
	assert_non_null(strstr(err.msg, msg));
	assert_int_equal(eca_store_open(f->uri, ECA_STORE_READONLY, &st, &err),
	    ECA_ERR_DB);
	assert_null(st);
}

static void
test_newer_schema_version_is_refused(void **state)
{
	assert_schema_version_refused(*state, 99, "upgrade eca");
}

/* No eca writes a negative version: the file is damaged, not migrated. */
static void
test_negative_schema_version_is_refused(void **state)
{
	assert_schema_version_refused(*state, -1, "no valid schema version");
}

static void
test_duplicate_host_id_is_refused(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment a, b, got;
	struct eca_err err;

	f->st = open_rw(f);
	fake_record(&a, "a.example", 1);
	fake_record(&b, "b.example", 1); /* same host_id */
	put_committed(f->st, &a);
	assert_int_equal(eca_store_begin(f->st, &err), 0);
	assert_int_equal(eca_store_put(f->st, &b, &err), ECA_ERR_DB);
	eca_store_rollback(f->st);
	/* and a.example was not touched (no REPLACE semantics) */
	assert_int_equal(
	    eca_store_get(f->st, "primary.example", "a.example", &got, &err),
	    0);
	assert_record_equal(&got, &a);
}

static void
test_put_of_unterminated_field_is_refused(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment r, got;
	struct eca_err err;

	f->st = open_rw(f);
	fake_record(&r, "a.example", 1);
	memset(r.source, 'x', sizeof(r.source)); /* no NUL */
	assert_int_equal(eca_store_begin(f->st, &err), 0);
	assert_int_equal(eca_store_put(f->st, &r, &err), ECA_ERR_DB);
	eca_store_rollback(f->st);
	fake_record(&r, "a.example", 1);
	r.state = (enum eca_state)42;
	assert_int_equal(eca_store_begin(f->st, &err), 0);
	assert_int_not_equal(eca_store_put(f->st, &r, &err), 0);
	eca_store_rollback(f->st);
	assert_int_equal(
	    eca_store_get(f->st, "primary.example", "a.example", &got, &err),
	    ECA_ERR_NOT_FOUND);
}

static void
test_history_of_unknown_host_is_refused(void **state)
{
	struct fixture *f = *state;
	struct eca_history_entry h;
	struct eca_err err;

	f->st = open_rw(f);
	memset(&h, 0, sizeof(h));
	snprintf(h.primary, sizeof(h.primary), "primary.example");
	snprintf(h.host, sizeof(h.host), "ghost.example");
	snprintf(h.event, sizeof(h.event), "ENROLL");
	assert_int_equal(eca_store_begin(f->st, &err), 0);
	assert_int_equal(eca_store_add_history(f->st, &h, &err), ECA_ERR_DB);
	eca_store_rollback(f->st);
}

static void
test_rollback_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment r, got;
	struct eca_history_entry *hist = NULL;
	struct eca_history_entry h;
	struct eca_err err;
	size_t n = 99;
	int64_t v1, v2;

	f->st = open_rw(f);
	fake_record(&r, "a.example", 1);
	assert_int_equal(eca_store_begin(f->st, &err), 0);
	assert_int_equal(eca_store_next_version(f->st, &v1, &err), 0);
	assert_int_equal(eca_store_put(f->st, &r, &err), 0);
	memset(&h, 0, sizeof(h));
	snprintf(h.primary, sizeof(h.primary), "primary.example");
	snprintf(h.host, sizeof(h.host), "a.example");
	snprintf(h.event, sizeof(h.event), "ENROLL");
	assert_int_equal(eca_store_add_history(f->st, &h, &err), 0);
	eca_store_rollback(f->st);
	assert_int_equal(
	    eca_store_get(f->st, "primary.example", "a.example", &got, &err),
	    ECA_ERR_NOT_FOUND);
	assert_int_equal(eca_store_history(f->st, "primary.example",
			     "a.example", 10, &hist, &n, &err),
	    0);
	assert_int_equal(n, 0);
	free(hist);
	/* the version counter was rolled back too */
	assert_int_equal(eca_store_begin(f->st, &err), 0);
	assert_int_equal(eca_store_next_version(f->st, &v2, &err), 0);
	assert_int_equal(v2, v1);
	eca_store_rollback(f->st);
}

static void
test_rollback_to_savepoint_undoes_only_that_step(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment a, b, got;
	struct eca_err err;

	f->st = open_rw(f);
	fake_record(&a, "a.example", 1);
	fake_record(&b, "b.example", 2);
	assert_int_equal(eca_store_begin(f->st, &err), 0);
	assert_int_equal(eca_store_savepoint(f->st, &err), 0);
	assert_int_equal(eca_store_put(f->st, &a, &err), 0);
	assert_int_equal(eca_store_release(f->st, &err), 0);
	assert_int_equal(eca_store_savepoint(f->st, &err), 0);
	assert_int_equal(eca_store_put(f->st, &b, &err), 0);
	eca_store_rollback_to(f->st);
	assert_int_equal(eca_store_release(f->st, &err), 0);
	assert_int_equal(eca_store_commit(f->st, &err), 0);
	assert_int_equal(
	    eca_store_get(f->st, "primary.example", "a.example", &got, &err),
	    0);
	assert_int_equal(
	    eca_store_get(f->st, "primary.example", "b.example", &got, &err),
	    ECA_ERR_NOT_FOUND);
}

static void
test_second_writer_gets_busy_after_timeout(void **state)
{
	struct fixture *f = *state;
	struct eca_store *other = NULL;
	struct eca_err err;

	f->st = open_rw(f);
	other = open_rw(f);
	assert_int_equal(eca_store_begin(f->st, &err), 0);
	/* waits out the 5 s busy timeout, then says BUSY */
	assert_int_equal(eca_store_begin(other, &err), ECA_ERR_BUSY);
	assert_non_null(strstr(err.msg, "retry"));
	eca_store_rollback(f->st);
	assert_int_equal(eca_store_begin(other, &err), 0);
	eca_store_rollback(other);
	eca_store_close(other);
}

/* ---------------------------------------------------------------- */
/* Positive cases.                                                   */

/* The roster's view of a.example (the only record) carries nat. */
static void
nat_change_is(struct eca_store *st, int nat)
{
	struct eca_change *ch = NULL;
	struct eca_err err;
	size_t n = 0;

	assert_int_equal(
	    eca_store_changes(st, "primary.example", 0, 10, &ch, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(ch[0].host, "a.example");
	assert_int_equal(ch[0].nat, nat);
	free(ch);
}

static void
test_put_get_round_trips_every_field(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment r, got;
	struct eca_err err;

	f->st = open_rw(f);
	fake_record(&r, "a.example", 7);
	r.role = ECA_ROLE_PRIMARY;
	r.state = ECA_STATE_CONFLICT;
	r.method = ECA_METHOD_ADMIN;
	r.has_candidate = 1;
	fake_cert(&r.candidate, 8, 9);
	r.candidate_at = 1760000000;
	snprintf(r.candidate_source, sizeof(r.candidate_source),
	    "[2001:db8::1]:443");
	put_committed(f->st, &r);
	memset(&got, 0x5a, sizeof(got));
	assert_int_equal(
	    eca_store_get(f->st, "primary.example", "a.example", &got, &err),
	    0);
	assert_record_equal(&got, &r);

	/* without a candidate, its fields read back empty */
	r.state = ECA_STATE_ENROLLED;
	r.has_candidate = 0;
	memset(&r.candidate, 0, sizeof(r.candidate));
	r.candidate_at = 0;
	r.candidate_source[0] = '\0';
	r.version = 8;
	put_committed(f->st, &r);
	memset(&got, 0x5a, sizeof(got));
	assert_int_equal(
	    eca_store_get(f->st, "primary.example", "a.example", &got, &err),
	    0);
	assert_record_equal(&got, &r);

	/* a NAT host: the flag reads back, and the roster's view has it */
	r.nat = 1;
	r.version = 9;
	put_committed(f->st, &r);
	memset(&got, 0x5a, sizeof(got));
	assert_int_equal(
	    eca_store_get(f->st, "primary.example", "a.example", &got, &err),
	    0);
	assert_record_equal(&got, &r);
	nat_change_is(f->st, 1);
	r.nat = 0;
	r.version = 10;
	put_committed(f->st, &r);
	nat_change_is(f->st, 0);
}

static void
test_every_state_method_and_role_is_stored(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment r, got;
	struct eca_err err;
	int s;

	f->st = open_rw(f);
	for (s = ECA_STATE_ENROLLED; s <= ECA_STATE_REVOKED; s++) {
		fake_record(&r, "a.example", 3);
		r.state = (enum eca_state)s;
		r.method = (enum eca_method)(s % 3);
		r.role = (enum eca_role)(s % 3);
		put_committed(f->st, &r);
		assert_int_equal(eca_store_get(f->st, "primary.example",
				     "a.example", &got, &err),
		    0);
		assert_int_equal(got.state, s);
		assert_int_equal(got.method, s % 3);
		assert_int_equal(got.role, s % 3);
	}
}

static void
test_records_are_kept_per_primary(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment a, b, got;
	struct eca_err err;

	f->st = open_rw(f);
	fake_record(&a, "a.example", 1);
	fake_record(&b, "a.example", 2);
	snprintf(b.primary, sizeof(b.primary), "other-primary.example");
	put_committed(f->st, &a);
	put_committed(f->st, &b);
	assert_int_equal(
	    eca_store_get(f->st, "primary.example", "a.example", &got, &err),
	    0);
	assert_string_equal(got.host_id, a.host_id);
	assert_int_equal(eca_store_get(f->st, "other-primary.example",
			     "a.example", &got, &err),
	    0);
	assert_string_equal(got.host_id, b.host_id);
}

static void
test_list_filters_by_state_and_pages_after_host(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment r, *l = NULL;
	struct eca_err err;
	const char *hosts[] = {"e.example", "a.example", "d.example",
	    "b.example", "c.example"};
	size_t i, n;

	f->st = open_rw(f);
	for (i = 0; i < 5; i++) {
		fake_record(&r, hosts[i], (unsigned)i + 1);
		r.state =
		    (i % 2 == 0) ? ECA_STATE_ENROLLED : ECA_STATE_CONFLICT;
		put_committed(f->st, &r);
	}
	/* another primary's records are not listed */
	fake_record(&r, "a.example", 99);
	snprintf(r.primary, sizeof(r.primary), "other.example");
	put_committed(f->st, &r);

	assert_int_equal(eca_store_list(f->st, "primary.example", -1, NULL, 100,
			     &l, &n, &err),
	    0);
	assert_int_equal(n, 5);
	assert_string_equal(l[0].host, "a.example");
	assert_string_equal(l[4].host, "e.example");
	free(l);

	assert_int_equal(eca_store_list(f->st, "primary.example",
			     ECA_STATE_CONFLICT, NULL, 100, &l, &n, &err),
	    0);
	assert_int_equal(n, 2);
	assert_string_equal(l[0].host, "a.example");
	assert_string_equal(l[1].host, "b.example");
	assert_int_equal(l[0].state, ECA_STATE_CONFLICT);
	free(l);

	/* pages of two */
	assert_int_equal(
	    eca_store_list(f->st, "primary.example", -1, NULL, 2, &l, &n, &err),
	    0);
	assert_int_equal(n, 2);
	assert_string_equal(l[1].host, "b.example");
	free(l);
	assert_int_equal(eca_store_list(f->st, "primary.example", -1,
			     "b.example", 2, &l, &n, &err),
	    0);
	assert_int_equal(n, 2);
	assert_string_equal(l[0].host, "c.example");
	assert_string_equal(l[1].host, "d.example");
	free(l);
	assert_int_equal(eca_store_list(f->st, "primary.example", -1,
			     "d.example", 2, &l, &n, &err),
	    0);
	assert_int_equal(n, 1);
	assert_string_equal(l[0].host, "e.example");
	free(l);
	assert_int_equal(eca_store_list(f->st, "primary.example", -1,
			     "e.example", 2, &l, &n, &err),
	    0);
	assert_int_equal(n, 0);
	free(l);
	assert_int_equal(
	    eca_store_list(f->st, "primary.example", 17, NULL, 2, &l, &n, &err),
	    ECA_ERR_USAGE);
	assert_null(l);
}

static void
test_list_grows_past_its_first_allocation(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment r, *l = NULL;
	struct eca_err err;
	char host[32];
	size_t i, n;

	f->st = open_rw(f);
	assert_int_equal(eca_store_begin(f->st, &err), 0);
	for (i = 0; i < 40; i++) {
		snprintf(host, sizeof(host), "h%03zu.example", i);
		fake_record(&r, host, (unsigned)i + 1);
		assert_int_equal(eca_store_put(f->st, &r, &err), 0);
	}
	assert_int_equal(eca_store_commit(f->st, &err), 0);
	assert_int_equal(eca_store_list(f->st, "primary.example", -1, NULL,
			     1000, &l, &n, &err),
	    0);
	assert_int_equal(n, 40);
	assert_string_equal(l[39].host, "h039.example");
	free(l);
}

static void
test_history_is_oldest_first_and_limited(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment r;
	struct eca_history_entry h, *l = NULL;
	struct eca_err err;
	const char *events[] = {"ENROLL", "RENEW", "CONFLICT", "REJECT"};
	size_t i, n;

	f->st = open_rw(f);
	fake_record(&r, "a.example", 1);
	assert_int_equal(eca_store_begin(f->st, &err), 0);
	assert_int_equal(eca_store_put(f->st, &r, &err), 0);
	for (i = 0; i < 4; i++) {
		memset(&h, 0, sizeof(h));
		snprintf(h.primary, sizeof(h.primary), "primary.example");
		snprintf(h.host, sizeof(h.host), "a.example");
		snprintf(h.host_id, sizeof(h.host_id), "%s", r.host_id);
		snprintf(h.event, sizeof(h.event), "%s", events[i]);
		h.state = i == 2 ? ECA_STATE_CONFLICT : ECA_STATE_ENROLLED;
		snprintf(h.fingerprint, sizeof(h.fingerprint), "%064zx", i);
		snprintf(h.spki_fingerprint, sizeof(h.spki_fingerprint),
		    "%064zx", i + 100);
		snprintf(h.actor, sizeof(h.actor), "CN=admin %zu", i);
		snprintf(h.source, sizeof(h.source), "local:%zu", i);
		h.at = 1750000000 + (int64_t)i;
		assert_int_equal(eca_store_add_history(f->st, &h, &err), 0);
	}
	assert_int_equal(eca_store_commit(f->st, &err), 0);

	assert_int_equal(eca_store_history(f->st, "primary.example",
			     "a.example", 100, &l, &n, &err),
	    0);
	assert_int_equal(n, 4);
	for (i = 0; i < 4; i++) {
		assert_string_equal(l[i].event, events[i]);
		assert_string_equal(l[i].host_id, r.host_id);
		assert_int_equal(l[i].at, 1750000000 + (int64_t)i);
		if (i > 0)
			assert_true(l[i].id > l[i - 1].id);
	}
	assert_int_equal(l[2].state, ECA_STATE_CONFLICT);
	assert_string_equal(l[3].actor, "CN=admin 3");
	assert_string_equal(l[3].source, "local:3");
	snprintf(h.fingerprint, sizeof(h.fingerprint), "%064x", 3);
	assert_string_equal(l[3].fingerprint, h.fingerprint);
	free(l);

	assert_int_equal(eca_store_history(f->st, "primary.example",
			     "a.example", 2, &l, &n, &err),
	    0);
	assert_int_equal(n, 2);
	assert_string_equal(l[0].event, "ENROLL");
	assert_string_equal(l[1].event, "RENEW");
	free(l);
}

static void
test_versions_increase_across_transactions_and_reopen(void **state)
{
	struct fixture *f = *state;
	struct eca_err err;
	int64_t a, b, c;

	f->st = open_rw(f);
	assert_int_equal(eca_store_begin(f->st, &err), 0);
	assert_int_equal(eca_store_next_version(f->st, &a, &err), 0);
	assert_int_equal(eca_store_next_version(f->st, &b, &err), 0);
	assert_int_equal(eca_store_commit(f->st, &err), 0);
	assert_true(a >= 1);
	assert_int_equal(b, a + 1);
	eca_store_close(f->st);
	f->st = open_rw(f);
	assert_int_equal(eca_store_begin(f->st, &err), 0);
	assert_int_equal(eca_store_next_version(f->st, &c, &err), 0);
	assert_int_equal(eca_store_commit(f->st, &err), 0);
	assert_int_equal(c, b + 1);
}

static void
test_lost_version_counter_is_refused_as_damage(void **state)
{
	struct fixture *f = *state;
	struct eca_err err;
	sqlite3 *db = NULL;
	int64_t v = -1;

	f->st = open_rw(f);
	eca_store_close(f->st);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DELETE FROM meta", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	f->st = open_rw(f);
	assert_int_equal(eca_store_begin(f->st, &err), 0);
	assert_int_equal(eca_store_next_version(f->st, &v, &err), ECA_ERR_DB);
	assert_non_null(strstr(err.msg, "version counter is missing"));
	eca_store_rollback(f->st);
}

static void
test_new_file_is_migrated_and_sets_user_version(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	int tables = 0;

	f->st = open_rw(f);
	assert_int_equal(raw_user_version(f->path), 8);
	assert_int_equal(
	    sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL),
	    SQLITE_OK);
	assert_int_equal(
	    sqlite3_prepare_v2(db,
		"SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND "
		"name IN ('enrollments', 'history', 'meta')",
		-1, &stmt, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	tables = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	assert_int_equal(
	    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(stmt, 0), "wal");
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	assert_int_equal(tables, 3);
	/* opening again does not migrate twice */
	eca_store_close(f->st);
	f->st = open_rw(f);
	assert_int_equal(raw_user_version(f->path), 8);
}

static void
test_reopen_keeps_data(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment r, got;
	struct eca_err err;

	f->st = open_rw(f);
	fake_record(&r, "a.example", 5);
	put_committed(f->st, &r);
	eca_store_close(f->st);
	f->st = open_rw(f);
	assert_int_equal(
	    eca_store_get(f->st, "primary.example", "a.example", &got, &err),
	    0);
	assert_record_equal(&got, &r);
}

static void
test_killed_writer_keeps_commits_and_loses_the_rest(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment a, b, got;
	struct eca_err err;
	struct eca_store *st = NULL;
	pid_t pid;
	int status;

	fake_record(&a, "a.example", 1);
	fake_record(&b, "b.example", 2);
	if ((pid = fork()) == 0) {
		/* the child commits a, starts on b, and dies hard */
		if (eca_store_open(f->uri, 0, &st, &err) != 0 ||
		    eca_store_begin(st, &err) != 0 ||
		    eca_store_put(st, &a, &err) != 0 ||
		    eca_store_commit(st, &err) != 0 ||
		    eca_store_begin(st, &err) != 0 ||
		    eca_store_put(st, &b, &err) != 0)
			_exit(1);
		kill(getpid(), SIGKILL);
		_exit(2);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	f->st = open_rw(f);
	assert_int_equal(
	    eca_store_get(f->st, "primary.example", "a.example", &got, &err),
	    0);
	assert_record_equal(&got, &a);
	assert_int_equal(
	    eca_store_get(f->st, "primary.example", "b.example", &got, &err),
	    ECA_ERR_NOT_FOUND);
	/* and the store takes writes again */
	put_committed(f->st, &b);
}

static void
test_readonly_connection_sees_committed_writes(void **state)
{
	struct fixture *f = *state;
	struct eca_store *ro = NULL;
	struct eca_enrollment r, got;
	struct eca_err err;

	f->st = open_rw(f);
	assert_int_equal(eca_store_open(f->uri, ECA_STORE_READONLY, &ro, &err),
	    0);
	assert_int_equal(
	    eca_store_get(ro, "primary.example", "a.example", &got, &err),
	    ECA_ERR_NOT_FOUND);
	fake_record(&r, "a.example", 5);
	/* uncommitted: not visible */
	assert_int_equal(eca_store_begin(f->st, &err), 0);
	assert_int_equal(eca_store_put(f->st, &r, &err), 0);
	assert_int_equal(
	    eca_store_get(ro, "primary.example", "a.example", &got, &err),
	    ECA_ERR_NOT_FOUND);
	assert_int_equal(eca_store_commit(f->st, &err), 0);
	assert_int_equal(
	    eca_store_get(ro, "primary.example", "a.example", &got, &err), 0);
	assert_record_equal(&got, &r);
	eca_store_close(ro);
}

static void
test_database_file_is_created_mode_0600(void **state)
{
	struct fixture *f = *state;
	struct stat sb;
	char wal[160];
	mode_t old;

	old = umask(0); /* a careless umask must not matter */
	f->st = open_rw(f);
	umask(old);
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	assert_int_equal(stat(wal, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
}

static void
test_existing_file_open_to_others_is_made_private(void **state)
{
	struct fixture *f = *state;
	struct stat sb;
	int fd;

	fd = open(f->path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, 0644), 0);
	close(fd);
	f->st = open_rw(f);
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
}

/* ------------------------------------------------------------------ */
/* Migration 3: host names folded to their canonical (lower-case) form. */

/*
 * A registry as eca wrote it at schema version 2, frozen here (migrations
 * 1 and 2 as they were), so the test does not depend on later migrations.
 */
static const char V2_SCHEMA[] =
    "CREATE TABLE meta ("
    "  key TEXT PRIMARY KEY NOT NULL,"
    "  value INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "INSERT INTO meta (key, value) VALUES ('registry_version', 0);"
    "CREATE TABLE enrollments ("
    "  primary_name TEXT NOT NULL,"
    "  host TEXT NOT NULL,"
    "  host_id TEXT NOT NULL UNIQUE,"
    "  role TEXT NOT NULL CHECK (role IN ('client', 'media', 'primary')),"
    "  state TEXT NOT NULL CHECK (state IN ('ENROLLED', 'CONFLICT',"
    "    'REMOVED', 'BANNED', 'REVOKED')),"
    "  method TEXT NOT NULL CHECK (method IN ('AUTO', 'MANUAL', 'ADMIN')),"
    "  fingerprint TEXT NOT NULL,"
    "  spki_fingerprint TEXT NOT NULL,"
    "  subject TEXT NOT NULL,"
    "  issuer TEXT NOT NULL,"
    "  serial TEXT NOT NULL,"
    "  not_before INTEGER NOT NULL,"
    "  not_after INTEGER NOT NULL,"
    "  key_desc TEXT NOT NULL,"
    "  sig_alg TEXT NOT NULL,"
    "  cn TEXT NOT NULL,"
    "  san TEXT NOT NULL,"
    "  has_candidate INTEGER NOT NULL CHECK (has_candidate IN (0, 1)),"
    "  cand_fingerprint TEXT,"
    "  cand_spki_fingerprint TEXT,"
    "  cand_subject TEXT,"
    "  cand_issuer TEXT,"
    "  cand_serial TEXT,"
    "  cand_not_before INTEGER,"
    "  cand_not_after INTEGER,"
    "  cand_key_desc TEXT,"
    "  cand_sig_alg TEXT,"
    "  cand_cn TEXT,"
    "  cand_san TEXT,"
    "  candidate_at INTEGER,"
    "  candidate_source TEXT,"
    "  enrolled_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  last_seen INTEGER NOT NULL,"
    "  source TEXT NOT NULL,"
    "  version INTEGER NOT NULL,"
    "  PRIMARY KEY (primary_name, host)"
    ");"
    "CREATE INDEX enrollments_state ON enrollments (primary_name, state, host);"
    "CREATE TABLE history ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  primary_name TEXT NOT NULL,"
    "  host TEXT NOT NULL,"
    "  host_id TEXT NOT NULL,"
    "  event TEXT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  fingerprint TEXT NOT NULL,"
    "  spki_fingerprint TEXT NOT NULL,"
    "  actor TEXT NOT NULL,"
    "  source TEXT NOT NULL,"
    "  at INTEGER NOT NULL,"
    "  FOREIGN KEY (primary_name, host)"
    "    REFERENCES enrollments (primary_name, host)"
    ");"
    "CREATE INDEX history_host ON history (primary_name, host, id);"
    "CREATE INDEX enrollments_version ON enrollments (primary_name, version);"
    "PRAGMA user_version = 2;";

/* One version-2 record (and a history row for it) in raw SQL. */
static void
v2_insert(sqlite3 *db, const char *primary, const char *host, int n,
    const char *state)
{
	char sql[2048];
	char *e = NULL;

	snprintf(sql, sizeof(sql),
	    "INSERT INTO enrollments VALUES ('%s', '%s',"
	    " '00000000-0000-4000-8000-%012d', 'media', '%s', 'MANUAL',"
	    " '%064d', '%064d', 'CN=%s', 'CN=CA', '%02d', 1, 2, 'EC P-256',"
	    " 'ecdsa-with-SHA256', '%s', '%s', 0, NULL, NULL, NULL, NULL,"
	    " NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
	    " 10, 10, 10, '192.0.2.1:1', %d);"
	    "INSERT INTO history (primary_name, host, host_id, event, state,"
	    " fingerprint, spki_fingerprint, actor, source, at) VALUES"
	    " ('%s', '%s', '00000000-0000-4000-8000-%012d', 'ENROLL', '%s',"
	    " '%064d', '%064d', '%s', '192.0.2.1:1', 10);"
	    "UPDATE meta SET value = %d WHERE key = 'registry_version';",
	    primary, host, n, state, n, n + 1000, host, n, host, host, n,
	    primary, host, n, state, n, n + 1000, host, n);
	if (sqlite3_exec(db, sql, NULL, NULL, &e) != SQLITE_OK)
		fail_msg("v2 insert: %s", e != NULL ? e : "?");
}

static sqlite3 *
v2_create(struct fixture *f)
{
	sqlite3 *db = NULL;
	char *e = NULL;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	if (sqlite3_exec(db, V2_SCHEMA, NULL, NULL, &e) != SQLITE_OK)
		fail_msg("v2 schema: %s", e != NULL ? e : "?");
	return db;
}

static int
raw_count(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	int n;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	n = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return n;
}

/*
 * Two records that fold to one host: the upgrade stops, names both and
 * the remedy, and leaves the file as it was (version 2, both rows).
 */
static void
test_migration_3_refuses_two_spellings_of_one_host(void **state)
{
	struct fixture *f = *state;
	struct eca_store *st = NULL;
	struct eca_err err;
	sqlite3 *db;

	db = v2_create(f);
	v2_insert(db, "primary.example", "media1.example", 1, "ENROLLED");
	v2_insert(db, "primary.example", "MEDIA1.example", 2, "CONFLICT");
	v2_insert(db, "primary.example", "Other.example", 3, "ENROLLED");
	sqlite3_close(db);
	eca_err_clear(&err);
	assert_int_equal(eca_store_open(f->uri, 0, &st, &err), ECA_ERR_DB);
	assert_null(st);
	assert_non_null(strstr(err.msg, "'media1.example' (ENROLLED)"));
	assert_non_null(strstr(err.msg, "'MEDIA1.example' (CONFLICT)"));
	assert_non_null(strstr(err.msg, "primary 'primary.example'"));
	assert_non_null(strstr(err.msg, "DELETE FROM enrollments"));
	assert_non_null(strstr(err.msg, "nothing was changed"));
	/* Rolled back: still version 2, nothing folded. */
	assert_int_equal(raw_user_version(f->path), 2);
	assert_int_equal(
	    raw_count(f->path,
		"SELECT count(*) FROM enrollments"
		" WHERE host IN ('MEDIA1.example', 'Other.example')"),
	    2);
	assert_int_equal(raw_count(f->path,
			     "SELECT count(*) FROM history"
			     " WHERE host = 'MEDIA1.example'"),
	    1);
}

/* A name that is not a host name at all: the same stop, named. */
static void
test_migration_3_refuses_a_name_that_is_no_host_name(void **state)
{
	struct fixture *f = *state;
	struct eca_store *st = NULL;
	struct eca_err err;
	sqlite3 *db;

	db = v2_create(f);
	v2_insert(db, "primary.example", "media_1.example", 1, "BANNED");
	sqlite3_close(db);
	eca_err_clear(&err);
	assert_int_equal(eca_store_open(f->uri, 0, &st, &err), ECA_ERR_DB);
	assert_null(st);
	assert_non_null(strstr(err.msg, "'media_1.example' (BANNED)"));
	assert_non_null(strstr(err.msg, "'_' is not allowed"));
	assert_int_equal(raw_user_version(f->path), 2);
}

/* No collision: every name is folded, history follows its record. */
static void
test_migration_3_folds_names_to_lower_case(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment got;
	struct eca_history_entry *h = NULL;
	struct eca_err err;
	size_t n = 0;
	sqlite3 *db;

	db = v2_create(f);
	v2_insert(db, "Primary.EXAMPLE", "MEDIA1.Example", 1, "ENROLLED");
	v2_insert(db, "Primary.EXAMPLE", "h1.EXAMPLE", 2, "BANNED");
	v2_insert(db, "primary.example", "client1.example", 3, "ENROLLED");
	sqlite3_close(db);
	f->st = open_rw(f);
	assert_int_equal(raw_user_version(f->path), 8);
	assert_int_equal(raw_count(f->path,
			     "SELECT count(*) FROM enrollments"
			     " WHERE host <> lower(host) OR primary_name <> "
			     "lower(primary_name)"),
	    0);
	assert_int_equal(raw_count(f->path,
			     "SELECT count(*) FROM history"
			     " WHERE host <> lower(host) OR primary_name <> "
			     "lower(primary_name)"),
	    0);
	assert_int_equal(raw_count(f->path, "SELECT count(*) FROM enrollments"),
	    3);
	assert_int_equal(raw_count(f->path,
			     "SELECT count(*) FROM "
			     "pragma_foreign_key_check"),
	    0);
	eca_err_clear(&err);
	assert_int_equal(eca_store_get(f->st, "primary.example",
			     "media1.example", &got, &err),
	    0);
	assert_string_equal(got.host, "media1.example");
	assert_int_equal(
	    eca_store_get(f->st, "primary.example", "h1.example", &got, &err),
	    0);
	assert_int_equal(got.state, ECA_STATE_BANNED);
	assert_int_equal(eca_store_history(f->st, "primary.example",
			     "media1.example", 10, &h, &n, &err),
	    0);
	assert_int_equal(n, 1);
	free(h);
	/* Opening again does not migrate twice. */
	eca_store_close(f->st);
	f->st = open_rw(f);
	assert_int_equal(raw_user_version(f->path), 8);
}

/* Defence in depth: the store takes canonical names only. */
static void
test_store_refuses_names_not_in_canonical_form(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment r, got;
	struct eca_history_entry *h = NULL;
	struct eca_err err;
	size_t n = 0;

	f->st = open_rw(f);
	fake_record(&r, "MEDIA1.example", 1);
	assert_int_equal(eca_store_begin(f->st, &err), 0);
	assert_int_equal(eca_store_put(f->st, &r, &err), ECA_ERR_INTERNAL);
	assert_non_null(strstr(err.msg, "canonical"));
	fake_record(&r, "media1.example.", 1);
	assert_int_equal(eca_store_put(f->st, &r, &err), ECA_ERR_INTERNAL);
	eca_store_rollback(f->st);
	assert_int_equal(eca_store_get(f->st, "primary.example",
			     "Media1.example", &got, &err),
	    ECA_ERR_INTERNAL);
	assert_int_equal(eca_store_get(f->st, "PRIMARY.example",
			     "media1.example", &got, &err),
	    ECA_ERR_INTERNAL);
	assert_int_equal(eca_store_history(f->st, "primary.example",
			     "MEDIA1.example", 10, &h, &n, &err),
	    ECA_ERR_INTERNAL);
	assert_null(h);
}

static void
test_state_and_method_names_round_trip(void **state)
{
	int s;

	(void)state;
	for (s = ECA_STATE_ENROLLED; s <= ECA_STATE_REVOKED; s++)
		assert_int_equal(
		    eca_state_from_name(eca_state_name((enum eca_state)s)), s);
	for (s = ECA_METHOD_AUTO; s <= ECA_METHOD_ADMIN; s++)
		assert_int_equal(
		    eca_method_from_name(eca_method_name((enum eca_method)s)),
		    s);
	assert_string_equal(eca_state_name(ECA_STATE_CONFLICT), "CONFLICT");
	assert_string_equal(eca_method_name(ECA_METHOD_MANUAL), "MANUAL");
	assert_int_equal(eca_state_from_name("conflict"), ECA_STATE_CONFLICT);
	assert_int_equal(eca_state_from_name("NOPE"), -1);
	assert_int_equal(eca_state_from_name(NULL), -1);
	assert_int_equal(eca_method_from_name("bogus"), -1);
	assert_string_equal(eca_state_name((enum eca_state)42), "UNKNOWN");
}

/* ---------------------------------------------------------------- */
/* Candidates (issue 8 item 2) and DN mappings (issue 8 item 7).     */

static void
fake_cand(struct eca_candidate *c, unsigned n, int64_t at)
{
	memset(c, 0, sizeof(*c));
	fake_cert(&c->cert, n, n);
	c->at = at;
	c->last_seen = at;
	snprintf(c->source, sizeof(c->source), "198.51.100.%u:1234", n);
}

static void
test_candidate_of_unknown_host_is_refused(void **state)
{
	struct fixture *f = *state;
	struct eca_candidate c;
	struct eca_err err;

	f->st = open_rw(f);
	fake_cand(&c, 1, 100);
	assert_int_equal(eca_store_begin(f->st, &err), 0);
	/* a candidate belongs to a record */
	assert_int_equal(eca_store_candidate_put(f->st, "primary.example",
			     "nobody.example", &c, &err),
	    ECA_ERR_DB);
	eca_store_rollback(f->st);
}

/* The dashboard's counts: per state, waiting candidates, expiring soon. */
static void
test_counts_by_state_waiting_and_expiring(void **state)
{
	struct fixture *f = *state;
	struct eca_store_counts c;
	struct eca_enrollment r;
	struct eca_candidate cand;
	struct eca_err err;
	char host[32];
	unsigned i;

	f->st = open_rw(f);
	assert_int_equal(
	    eca_store_counts(f->st, "primary.example", 0, &c, &err), 0);
	assert_int_equal(c.total, 0);
	for (i = 0; i < 6; i++) {
		snprintf(host, sizeof(host), "h%u.example", i);
		fake_record(&r, host, i + 1);
		/* h0 h1 h2 ENROLLED, h3 h4 CONFLICT, h5 BANNED */
		r.state = i < 3 ? ECA_STATE_ENROLLED :
		    i < 5	? ECA_STATE_CONFLICT :
				  ECA_STATE_BANNED;
		put_committed(f->st, &r);
	}
	fake_record(&r, "h0.example", 99);
	snprintf(r.primary, sizeof(r.primary), "other.example");
	put_committed(f->st, &r);
	assert_int_equal(eca_store_begin(f->st, &err), 0);
	fake_cand(&cand, 10, 100);
	assert_int_equal(eca_store_candidate_put(f->st, "primary.example",
			     "h3.example", &cand, &err),
	    0);
	fake_cand(&cand, 11, 101);
	assert_int_equal(eca_store_candidate_put(f->st, "primary.example",
			     "h3.example", &cand, &err),
	    0);
	fake_cand(&cand, 12, 102);
	assert_int_equal(eca_store_candidate_put(f->st, "primary.example",
			     "h4.example", &cand, &err),
	    0);
	assert_int_equal(eca_store_commit(f->st, &err), 0);
	/* not_after is 1800000000 + n: h0 (n 1) and h1 (n 2) end by then. */
	assert_int_equal(eca_store_counts(f->st, "primary.example",
			     1800000000 + 2, &c, &err),
	    0);
	assert_int_equal(c.total, 6);
	assert_int_equal(c.states[ECA_STATE_ENROLLED], 3);
	assert_int_equal(c.states[ECA_STATE_CONFLICT], 2);
	assert_int_equal(c.states[ECA_STATE_BANNED], 1);
	assert_int_equal(c.states[ECA_STATE_REMOVED], 0);
	assert_int_equal(c.waiting, 3);
	assert_int_equal(c.expiring, 2);
}

static void
test_candidate_delete_of_one_not_waiting_is_not_found(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment r;
	struct eca_err err;

	f->st = open_rw(f);
	fake_record(&r, "a.example", 1);
	put_committed(f->st, &r);
	assert_int_equal(eca_store_begin(f->st, &err), 0);
	assert_int_equal(eca_store_candidate_del(f->st, "primary.example",
			     "a.example", "00", &err),
	    ECA_ERR_NOT_FOUND);
	/* all of none is fine */
	assert_int_equal(eca_store_candidate_del(f->st, "primary.example",
			     "a.example", NULL, &err),
	    0);
	eca_store_rollback(f->st);
}

static void
test_readonly_connection_refuses_candidate_and_mapping_writes(void **state)
{
	struct fixture *f = *state;
	struct eca_store *ro = NULL;
	struct eca_candidate c;
	struct eca_dnmap m;
	struct eca_err err;

	f->st = open_rw(f);
	assert_int_equal(eca_store_open(f->uri, ECA_STORE_READONLY, &ro, &err),
	    0);
	fake_cand(&c, 1, 100);
	memset(&m, 0, sizeof(m));
	snprintf(m.subject, sizeof(m.subject), "CN=x");
	snprintf(m.host, sizeof(m.host), "a.example");
	assert_int_equal(eca_store_candidate_put(ro, "primary.example",
			     "a.example", &c, &err),
	    ECA_ERR_INTERNAL);
	assert_int_equal(eca_store_candidate_del(ro, "primary.example",
			     "a.example", NULL, &err),
	    ECA_ERR_INTERNAL);
	assert_int_equal(eca_store_dnmap_put(ro, "primary.example", &m, &err),
	    ECA_ERR_INTERNAL);
	eca_store_close(ro);
}

static void
test_candidates_are_kept_distinct_and_oldest_first(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment r, got;
	struct eca_candidate c, *list = NULL;
	struct eca_err err;
	size_t n = 0;

	f->st = open_rw(f);
	fake_record(&r, "a.example", 1);
	put_committed(f->st, &r);
	assert_int_equal(eca_store_begin(f->st, &err), 0);
	fake_cand(&c, 2, 100);
	assert_int_equal(eca_store_candidate_put(f->st, "primary.example",
			     "a.example", &c, &err),
	    0);
	fake_cand(&c, 3, 101);
	assert_int_equal(eca_store_candidate_put(f->st, "primary.example",
			     "a.example", &c, &err),
	    0);
	/* the first one again: a sighting, first time and source kept */
	fake_cand(&c, 2, 105);
	snprintf(c.source, sizeof(c.source), "elsewhere");
	assert_int_equal(eca_store_candidate_put(f->st, "primary.example",
			     "a.example", &c, &err),
	    0);
	assert_int_equal(eca_store_commit(f->st, &err), 0);

	assert_int_equal(eca_store_candidates(f->st, "primary.example",
			     "a.example", &list, &n, &err),
	    0);
	assert_int_equal(n, 2);
	fake_cand(&c, 2, 100);
	assert_cert_equal(&list[0].cert, &c.cert);
	assert_int_equal(list[0].at, 100);
	assert_int_equal(list[0].last_seen, 105);
	assert_string_equal(list[0].source, c.source);
	fake_cand(&c, 3, 101);
	assert_cert_equal(&list[1].cert, &c.cert);
	free(list);
	assert_int_equal(
	    eca_store_get(f->st, "primary.example", "a.example", &got, &err),
	    0);
	assert_int_equal(got.ncandidates, 2);

	/* drop exactly one, then the rest */
	assert_int_equal(eca_store_begin(f->st, &err), 0);
	assert_int_equal(eca_store_candidate_del(f->st, "primary.example",
			     "a.example", c.cert.fingerprint, &err),
	    0);
	assert_int_equal(eca_store_commit(f->st, &err), 0);
	assert_int_equal(eca_store_candidates(f->st, "primary.example",
			     "a.example", &list, &n, &err),
	    0);
	assert_int_equal(n, 1);
	fake_cand(&c, 2, 100);
	assert_string_equal(list[0].cert.fingerprint, c.cert.fingerprint);
	free(list);
	assert_int_equal(eca_store_begin(f->st, &err), 0);
	assert_int_equal(eca_store_candidate_del(f->st, "primary.example",
			     "a.example", NULL, &err),
	    0);
	assert_int_equal(eca_store_commit(f->st, &err), 0);
	assert_int_equal(eca_store_candidates(f->st, "primary.example",
			     "a.example", &list, &n, &err),
	    0);
	assert_int_equal(n, 0);
	assert_null(list);
}

/* Migration 6: a schema-5 file's records are not NAT hosts. */
/*
 * Close the store, take the file back to an older schema behind eca's
 * back (sql), and open it again: the missing migrations run.
 */
static void
reopen_downgraded(struct fixture *f, const char *sql)
{
	sqlite3 *db = NULL;

	eca_store_close(f->st);
	f->st = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	f->st = open_rw(f);
	assert_int_equal(raw_user_version(f->path), 8);
}

static void
test_migration_7_adds_the_nat_flag_cleared(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment r, got;
	struct eca_err err;

	f->st = open_rw(f);
	fake_record(&r, "a.example", 1);
	put_committed(f->st, &r);
	reopen_downgraded(f,
	    "DROP TABLE audit_kept; ALTER TABLE enrollments DROP COLUMN nat; "
	    "PRAGMA user_version = 6;");
	assert_int_equal(
	    eca_store_get(f->st, "primary.example", "a.example", &got, &err),
	    0);
	assert_int_equal(got.nat, 0);
	nat_change_is(f->st, 0);
}

static void
test_migration_8_adds_the_table_of_kept_audit_lines(void **state)
{
	struct fixture *f = *state;
	struct eca_err err;
	char *lines = NULL;
	int64_t from, to;
	size_t len;

	f->st = open_rw(f);
	reopen_downgraded(f, "DROP TABLE audit_kept; PRAGMA user_version = 7;");
	assert_int_equal(
	    eca_audit_store_kept(f->st, 0, &from, &to, &lines, &len, &err), 0);
	assert_null(lines);
}

static void
test_migration_moves_the_waiting_candidate(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment r;
	struct eca_candidate *list = NULL;
	struct eca_err err;
	size_t n = 0;

	f->st = open_rw(f);
	fake_record(&r, "a.example", 1);
	r.state = ECA_STATE_CONFLICT;
	r.has_candidate = 1;
	fake_cert(&r.candidate, 8, 9);
	r.candidate_at = 1760000000;
	snprintf(r.candidate_source, sizeof(r.candidate_source), "x:1");
	put_committed(f->st, &r);
	/* back to a schema-3 file: one candidate in the record only */
	reopen_downgraded(f,
	    "DROP TABLE candidates; DROP TABLE dn_map;"
	    " DROP INDEX enrollments_enrolled; DROP INDEX enrollments_expiry;"
	    " DROP INDEX enrollments_state_enrolled;"
	    " DROP INDEX enrollments_state_expiry;"
	    " ALTER TABLE enrollments DROP COLUMN nat; DROP TABLE audit_kept;"
	    " PRAGMA user_version = 3;");
	assert_int_equal(eca_store_candidates(f->st, "primary.example",
			     "a.example", &list, &n, &err),
	    0);
	assert_int_equal(n, 1);
	assert_cert_equal(&list[0].cert, &r.candidate);
	assert_int_equal(list[0].at, 1760000000);
	assert_string_equal(list[0].source, "x:1");
	free(list);
}

static void
map_put(struct fixture *f, const char *subject, const char *host, int removed,
    int expect)
{
	struct eca_dnmap m;
	struct eca_err err;

	memset(&m, 0, sizeof(m));
	snprintf(m.subject, sizeof(m.subject), "%s", subject);
	snprintf(m.host, sizeof(m.host), "%s", host);
	m.removed = removed;
	m.created_at = 1;
	m.updated_at = 2;
	snprintf(m.actor, sizeof(m.actor), "local:0");
	assert_int_equal(eca_store_begin(f->st, &err), 0);
	assert_int_equal(eca_store_next_version(f->st, &m.version, &err), 0);
	assert_int_equal(
	    eca_store_dnmap_put(f->st, "primary.example", &m, &err), expect);
	if (expect == 0)
		assert_int_equal(eca_store_commit(f->st, &err), 0);
	else
		eca_store_rollback(f->st);
}

static void
test_mapping_of_unknown_subject_or_host_is_not_found(void **state)
{
	struct fixture *f = *state;
	struct eca_dnmap m;
	struct eca_err err;

	f->st = open_rw(f);
	assert_int_equal(eca_store_dnmap_by_subject(f->st, "primary.example",
			     "CN=x", &m, &err),
	    ECA_ERR_NOT_FOUND);
	assert_int_equal(eca_store_dnmap_by_host(f->st, "primary.example",
			     "a.example", &m, &err),
	    ECA_ERR_NOT_FOUND);
}

static void
test_host_with_two_live_subjects_is_refused(void **state)
{
	struct fixture *f = *state;

	f->st = open_rw(f);
	map_put(f, "CN=one", "a.example", 0, 0);
	map_put(f, "CN=two", "a.example", 0, ECA_ERR_MAPPING_EXISTS);
	/* once the first is removed, the host may get another subject */
	map_put(f, "CN=one", "a.example", 1, 0);
	map_put(f, "CN=two", "a.example", 0, 0);
}

static void
test_mappings_add_remove_list_and_changes(void **state)
{
	struct fixture *f = *state;
	struct eca_dnmap m, *list = NULL;
	struct eca_err err;
	size_t n = 0;

	f->st = open_rw(f);
	map_put(f, "CN=b", "b.example", 0, 0); /* version 1 */
	map_put(f, "CN=a", "a.example", 0, 0); /* version 2 */
	assert_int_equal(eca_store_dnmap_by_subject(f->st, "primary.example",
			     "CN=a", &m, &err),
	    0);
	assert_string_equal(m.host, "a.example");
	assert_string_equal(m.actor, "local:0");
	assert_int_equal(m.version, 2);
	assert_int_equal(eca_store_dnmap_by_host(f->st, "primary.example",
			     "b.example", &m, &err),
	    0);
	assert_string_equal(m.subject, "CN=b");
	/* live ones by host */
	assert_int_equal(eca_store_dnmaps(f->st, "primary.example", -1, 100,
			     &list, &n, &err),
	    0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].host, "a.example");
	free(list);
	/* a removal keeps the row with a new version */
	map_put(f, "CN=b", "b.example", 1, 0); /* version 3 */
	assert_int_equal(eca_store_dnmap_by_subject(f->st, "primary.example",
			     "CN=b", &m, &err),
	    ECA_ERR_NOT_FOUND);
	assert_int_equal(eca_store_dnmaps(f->st, "primary.example", -1, 100,
			     &list, &n, &err),
	    0);
	assert_int_equal(n, 1);
	free(list);
	/* the roster's view: every change after a version, in order */
	assert_int_equal(
	    eca_store_dnmaps(f->st, "primary.example", 1, 100, &list, &n, &err),
	    0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].subject, "CN=a");
	assert_int_equal(list[1].removed, 1);
	assert_int_equal(list[1].version, 3);
	free(list);
	/* another primary sees none */
	assert_int_equal(
	    eca_store_dnmaps(f->st, "other.example", 0, 100, &list, &n, &err),
	    0);
	assert_int_equal(n, 0);
	free(list);
}

/* ---------------------------------------------------------------- */
/* PostgreSQL: the same cases on a server tests/pg.sh started.       */

/* Run sql on the test database directly (not through the store). */
static void
pg_sql(const char *uri, const char *sql)
{
	PGconn *c = PQconnectdb(uri);
	PGresult *res;

	assert_int_equal(PQstatus(c), CONNECTION_OK);
	res = PQexec(c, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	PQclear(res);
	PQfinish(c);
}

/* Every case starts on an empty database. */
static int
setup_pg(void **state)
{
	struct fixture *f;
	const char *uri = getenv("ECA_TEST_PG_URI");

	if (uri == NULL || (f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	snprintf(f->uri, sizeof(f->uri), "%s", uri);
	pg_sql(f->uri,
	    "SET client_min_messages = warning;"
	    "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
	*state = f;
	return 0;
}

static int
teardown_pg(void **state)
{
	struct fixture *f = *state;

	eca_store_close(f->st);
	free(f);
	return 0;
}

static void
test_pg_reader_of_an_empty_database_is_not_found(void **state)
{
	struct fixture *f = *state;
	struct eca_store *st = NULL;
	struct eca_err err;

	assert_int_equal(eca_store_open(f->uri, ECA_STORE_READONLY, &st, &err),
	    ECA_ERR_NOT_FOUND);
	assert_null(st);
	assert_non_null(strstr(err.msg, "no schema"));
}

static void
test_pg_newer_schema_version_is_refused(void **state)
{
	struct fixture *f = *state;
	struct eca_store *st = NULL;
	struct eca_err err;

	f->st = open_rw(f);
	eca_store_close(f->st);
	f->st = NULL;
	pg_sql(f->uri, "UPDATE eca_schema SET version = 999");
	assert_int_equal(eca_store_open(f->uri, 0, &st, &err), ECA_ERR_DB);
	assert_non_null(strstr(err.msg, "upgrade eca"));
	assert_int_equal(eca_store_open(f->uri, ECA_STORE_READONLY, &st, &err),
	    ECA_ERR_DB);
	assert_null(st);
}

/* Two front ends starting at once: the migration runs once, both open. */
static void
test_pg_writers_starting_together_both_open(void **state)
{
	struct fixture *f = *state;
	struct eca_store *st = NULL;
	struct eca_err err;
	pid_t pid[4];
	int i, status;

	for (i = 0; i < 4; i++) {
		if ((pid[i] = fork()) == 0) {
			int r = eca_store_open(f->uri, 0, &st, &err);

			eca_store_close(st);
			_exit(r == 0 ? 0 : 1);
		}
		assert_true(pid[i] > 0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	f->st = open_rw(f);
}

/*
 * The enrollment rule's lock: a second writer reading a host the first
 * one is deciding about (no row yet) waits for the first COMMIT, then
 * sees its row; it never decides on the old state.
 */
static void
test_pg_second_writer_waits_for_the_host_and_sees_the_row(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment r, got;
	struct eca_err err;
	struct eca_store *other = NULL;
	pid_t pid;
	int status, fd[2];
	char c;

	f->st = open_rw(f);
	fake_record(&r, "a.example", 1);
	assert_int_equal(eca_store_begin(f->st, &err), 0);
	assert_int_equal(
	    eca_store_get(f->st, "primary.example", "a.example", &got, &err),
	    ECA_ERR_NOT_FOUND);
	assert_int_equal(pipe(fd), 0);
	if ((pid = fork()) == 0) {
		int64_t t0;

		close(fd[0]);
		if (eca_store_open(f->uri, 0, &other, &err) != 0 ||
		    eca_store_begin(other, &err) != 0)
			_exit(1);
		if (write(fd[1], "x", 1) != 1)
			_exit(4);
		t0 = (int64_t)time(NULL);
		if (eca_store_get(other, "primary.example", "a.example", &got,
			&err) != 0)
			_exit(2); /* decided on the old state */
		if ((int64_t)time(NULL) - t0 < 1)
			_exit(3); /* did not wait */
		eca_store_rollback(other);
		eca_store_close(other);
		_exit(0);
	}
	assert_true(pid > 0);
	close(fd[1]);
	assert_int_equal(read(fd[0], &c, 1), 1);
	close(fd[0]);
	sleep(2);
	assert_int_equal(eca_store_put(f->st, &r, &err), 0);
	assert_int_equal(eca_store_commit(f->st, &err), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* ECA_DB_PASSWORD_FILE: private, not empty; SQLite has no password. */
static void
test_pg_password_file_is_checked(void **state)
{
	struct fixture *f = *state;
	struct eca_config cfg;
	struct eca_store *st = NULL;
	struct eca_err err;
	char dir[] = "/tmp/eca-test-pw-XXXXXX", path[64];
	FILE *fp;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pw", dir);
	memset(&cfg, 0, sizeof(cfg));
	cfg.db = f->uri;
	cfg.db_password_file = path;
	/* missing */
	assert_int_equal(eca_store_open_cfg(&cfg, 0, &st, &err),
	    ECA_ERR_UNREADABLE);
	/* empty */
	assert_non_null(fp = fopen(path, "w"));
	fclose(fp);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(eca_store_open_cfg(&cfg, 0, &st, &err),
	    ECA_ERR_CONFIG);
	assert_non_null(strstr(err.msg, "empty"));
	/* readable by others */
	assert_non_null(fp = fopen(path, "w"));
	fputs("s3cret\n", fp);
	fclose(fp);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(eca_store_open_cfg(&cfg, 0, &st, &err),
	    ECA_ERR_FILE_PERMISSIONS);
	assert_null(strstr(err.msg, "s3cret"));
	assert_null(st);
	/* private: used (the test server trusts the socket, so it opens) */
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(eca_store_open_cfg(&cfg, 0, &f->st, &err), 0);
	/* SQLite has no password to read */
	cfg.db = "sqlite:/nonexistent/registry.db";
	assert_int_equal(eca_store_open_cfg(&cfg, 0, &st, &err),
	    ECA_ERR_CONFIG);
	assert_non_null(strstr(err.msg, "ECA_DB_PASSWORD_FILE"));
	unlink(path);
	rmdir(dir);
}

/* A restarted server: the next call outside a transaction reconnects. */
static void
test_pg_lost_connection_reconnects(void **state)
{
	struct fixture *f = *state;
	struct eca_enrollment r, got;
	struct eca_err err;

	f->st = open_rw(f);
	fake_record(&r, "a.example", 1);
	put_committed(f->st, &r);
	pg_sql(f->uri,
	    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
	    " WHERE application_name = 'eca'");
	/*
	 * the first call finds the connection dead, resets it and runs
	 * again (outside a transaction); were the reset to fail, 503
	 */
	if (eca_store_get(f->st, "primary.example", "a.example", &got, &err) !=
	    0) {
		assert_int_equal(err.code, ECA_ERR_DB_UNAVAILABLE);
		assert_non_null(strstr(err.msg, "Retry-After"));
		assert_int_equal(eca_store_get(f->st, "primary.example",
				     "a.example", &got, &err),
		    0);
	}
	assert_record_equal(&got, &r);
	put_committed(f->st, &r);
}

/* One audit entry about host, appended in a transaction of its own. */
static void
audit_one(struct eca_store *st, const char *host)
{
	struct eca_audit_entry e;
	struct eca_err err;

	memset(&e, 0, sizeof(e));
	snprintf(e.event, sizeof(e.event), "enrolled");
	snprintf(e.host, sizeof(e.host), "%s", host);
	snprintf(e.actor, sizeof(e.actor), "%s", host);
	assert_int_equal(eca_store_begin(st, &err), 0);
	assert_int_equal(eca_audit_store_append(st, &e, 1, &err), 0);
	assert_int_equal(eca_store_commit(st, &err), 0);
}

/*
 * The audit journal in PostgreSQL: two writers (two front ends) append
 * to one chain; verify reads it whole, and names an edited row.
 */
static void
test_pg_audit_is_one_chain_across_writers(void **state)
{
	struct fixture *f = *state;
	struct eca_store *b;
	struct eca_audit_report rep;
	struct eca_audit_entry e, *v = NULL;
	struct eca_err err;
	size_t n = 0;
	int more = 0;

	f->st = open_rw(f);
	b = open_rw(f);
	/* Refused first: outside a transaction. */
	memset(&e, 0, sizeof(e));
	snprintf(e.event, sizeof(e.event), "enrolled");
	assert_int_equal(eca_audit_store_append(f->st, &e, 1, &err),
	    ECA_ERR_INTERNAL);
	/* empty: intact, 0 entries */
	assert_int_equal(eca_audit_store_verify(b, &rep, &err), 0);
	assert_true(rep.intact);
	assert_int_equal(rep.entries, 0);
	audit_one(f->st, "a.example");
	audit_one(b, "b.example");
	audit_one(f->st, "c.example");
	audit_one(b, "a.example");
	assert_int_equal(eca_audit_store_verify(f->st, &rep, &err), 0);
	assert_true(rep.intact);
	assert_int_equal(rep.entries, 4);
	assert_int_equal(eca_audit_store_read(b, "a.example", &v, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(v[0].seq, 1);
	assert_int_equal(v[1].seq, 4);
	free(v);
	/* a page at a time, newest first, with whether older rows are left */
	assert_int_equal(eca_audit_store_page(b, 0, 3, &v, &n, &more, &err), 0);
	assert_int_equal(n, 3);
	assert_int_equal(v[0].seq, 4);
	assert_int_equal(v[2].seq, 2);
	assert_string_equal(v[1].host, "c.example");
	assert_true(more);
	free(v);
	assert_int_equal(eca_audit_store_page(b, 2, 3, &v, &n, &more, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].seq, 1);
	assert_false(more);
	free(v);
	pg_sql(f->uri,
	    "UPDATE audit SET line = replace(line, 'c.example', "
	    "'x.example') WHERE seq = 3");
	assert_int_equal(eca_audit_store_verify(b, &rep, &err), 0);
	assert_false(rep.intact);
	assert_int_equal(rep.first_bad_line, 3);
	assert_int_equal(rep.entries, 2);
	assert_non_null(strstr(rep.problem, "edited"));
	/* a row that is no journal entry is named by its seq in a page */
	pg_sql(f->uri, "UPDATE audit SET line = 'not a line' WHERE seq = 3");
	assert_int_equal(eca_audit_store_page(b, 0, 10, &v, &n, &more, &err),
	    ECA_ERR_PARSE);
	assert_null(v);
	assert_non_null(strstr(err.msg, "audit row 3 "));
	eca_store_close(b);
}

/*
 * NOTIFY: a transaction that took a version is heard, once committed,
 * on a LISTEN connection; one rolled back is not.
 */
static void
test_pg_commit_notifies_listeners(void **state)
{
	struct fixture *f = *state;
	struct eca_store *l = NULL;
	struct eca_err err;
	int64_t v = 0, got = 0;
	size_t n = 0;
	int i;

	f->st = open_rw(f);
	assert_int_equal(eca_store_open(f->uri, ECA_STORE_READONLY, &l, &err),
	    0);
	assert_int_equal(eca_store_listen(l, &err), 0);
	assert_true(eca_store_listen_fd(l) >= 0);
	/* rolled back: nothing */
	assert_int_equal(eca_store_begin(f->st, &err), 0);
	assert_int_equal(eca_store_next_version(f->st, &v, &err), 0);
	eca_store_rollback(f->st);
	assert_int_equal(eca_store_listen_read(l, &got, &n, &err), 0);
	assert_int_equal(n, 0);
	/* committed: heard, with its version */
	assert_int_equal(eca_store_begin(f->st, &err), 0);
	assert_int_equal(eca_store_next_version(f->st, &v, &err), 0);
	assert_int_equal(eca_store_commit(f->st, &err), 0);
	for (i = 0; i < 50 && n == 0; i++) {
		assert_int_equal(eca_store_listen_read(l, &got, &n, &err), 0);
		if (n == 0)
			usleep(20000);
	}
	assert_int_equal(n, 1);
	assert_int_equal(got, v);
	eca_store_close(l);
}

/* The hosts of a page, joined by spaces. */
static void
assert_page(struct eca_store *st, const struct eca_store_page *q,
    const char *want)
{
	struct eca_enrollment *l = NULL;
	struct eca_err err;
	char got[256] = "";
	size_t i, n;

	assert_int_equal(eca_store_page(st, "primary.example", q, &l, &n, &err),
	    0);
	for (i = 0; i < n; i++) {
		if (i > 0)
			strcat(got, " ");
		assert_true(strlen(got) + strlen(l[i].host) < sizeof(got));
		strcat(got, l[i].host);
	}
	eca_enrollments_free(l, n);
	assert_string_equal(got, want);
}

static void
test_page_sorts_filters_and_pages_by_keyset(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *host;
		enum eca_state state;
		int64_t enrolled, not_after;
	} rows[] = {
	    {"m1.example", ECA_STATE_ENROLLED, 500, 9000},
	    {"m10.example", ECA_STATE_BANNED, 400, 7000},
	    {"m2.example", ECA_STATE_ENROLLED, 300, 7000},
	    {"m3.example", ECA_STATE_CONFLICT, 200, 8000},
	    {"x.example", ECA_STATE_ENROLLED, 100, 7000},
	};
	struct eca_store_page q;
	struct eca_enrollment r, *l = NULL;
	struct eca_err err;
	size_t i, n;

	f->st = open_rw(f);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		fake_record(&r, rows[i].host, (unsigned)i + 1);
		r.state = rows[i].state;
		r.enrolled_at = rows[i].enrolled;
		r.cert.not_after = rows[i].not_after;
		put_committed(f->st, &r);
	}
	fake_record(&r, "m4.example", 99);
	snprintf(r.primary, sizeof(r.primary), "other.example");
	put_committed(f->st, &r);

	/* Refused first: an unknown order, a prefix no name has. */
	memset(&q, 0, sizeof(q));
	q.state = -1;
	q.limit = 10;
	q.sort = (enum eca_store_sort)ECA_STORE_NSORTS;
	assert_int_equal(
	    eca_store_page(f->st, "primary.example", &q, &l, &n, &err),
	    ECA_ERR_USAGE);
	assert_null(l);
	q.sort = ECA_SORT_NAME;
	snprintf(q.prefix, sizeof(q.prefix), "M_");
	assert_int_equal(
	    eca_store_page(f->st, "primary.example", &q, &l, &n, &err),
	    ECA_ERR_USAGE);

	/* By name, both ways, by pages of two, and with a prefix. */
	q.prefix[0] = '\0';
	assert_page(f->st, &q,
	    "m1.example m10.example m2.example m3.example x.example");
	q.desc = 1;
	q.limit = 2;
	assert_page(f->st, &q, "x.example m3.example");
	q.has_after = 1;
	snprintf(q.after_host, sizeof(q.after_host), "m3.example");
	assert_page(f->st, &q, "m2.example m10.example");
	q.has_after = 0;
	q.desc = 0;
	q.limit = 10;
	snprintf(q.prefix, sizeof(q.prefix), "m1");
	assert_page(f->st, &q, "m1.example m10.example");
	snprintf(q.prefix, sizeof(q.prefix), "m1.");
	assert_page(f->st, &q, "m1.example");
	q.state = ECA_STATE_BANNED;
	snprintf(q.prefix, sizeof(q.prefix), "m");
	assert_page(f->st, &q, "m10.example");

	/* By expiry, ties by name; the cursor inside a tie. */
	q.state = -1;
	q.prefix[0] = '\0';
	q.sort = ECA_SORT_EXPIRY;
	assert_page(f->st, &q,
	    "m10.example m2.example x.example m3.example m1.example");
	q.has_after = 1;
	q.after_time = 7000;
	snprintf(q.after_host, sizeof(q.after_host), "m2.example");
	q.limit = 2;
	assert_page(f->st, &q, "x.example m3.example");
	q.desc = 1;
	assert_page(f->st, &q, "m10.example");
	/* With a prefix: its rows in the order, both ways, after a cursor. */
	snprintf(q.prefix, sizeof(q.prefix), "m1");
	q.has_after = 0;
	assert_page(f->st, &q, "m1.example m10.example");
	q.desc = 0;
	assert_page(f->st, &q, "m10.example m1.example");
	q.has_after = 1;
	q.after_time = 7000;
	snprintf(q.after_host, sizeof(q.after_host), "m10.example");
	assert_page(f->st, &q, "m1.example");
	q.prefix[0] = '\0';
	q.desc = 1;

	/* By enrollment time, newest first, of one state. */
	q.has_after = 0;
	q.limit = 10;
	q.sort = ECA_SORT_ENROLLED;
	q.state = ECA_STATE_ENROLLED;
	assert_page(f->st, &q, "m1.example m2.example x.example");
	q.has_after = 1;
	q.after_time = 300;
	snprintf(q.after_host, sizeof(q.after_host), "m2.example");
	assert_page(f->st, &q, "x.example");

	/* By state's name, then by name. */
	q.has_after = 0;
	q.desc = 0;
	q.state = -1;
	q.sort = ECA_SORT_STATE;
	assert_page(f->st, &q,
	    "m10.example m3.example m1.example m2.example x.example");
	q.has_after = 1;
	q.after_state = ECA_STATE_ENROLLED;
	snprintf(q.after_host, sizeof(q.after_host), "m1.example");
	assert_page(f->st, &q, "m2.example x.example");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
#define P(f) cmocka_unit_test_setup_teardown(f, setup_pg, teardown_pg)

static void
test_counts_by_state_and_expiring(void **state)
{
	struct fixture *f = *state;
	struct eca_store_counts n;
	struct eca_enrollment r;
	struct eca_err err;

	f->st = open_rw(f);
	/* Refused first: a name that is not canonical, no output. */
	assert_int_equal(
	    eca_store_counts(f->st, "Primary.Example", 0, &n, &err),
	    ECA_ERR_INTERNAL);
	assert_int_equal(
	    eca_store_counts(f->st, "primary.example", 0, NULL, &err),
	    ECA_ERR_INTERNAL);
	assert_int_equal(
	    eca_store_counts(f->st, "primary.example", 0, &n, &err), 0);
	assert_int_equal(n.states[ECA_STATE_ENROLLED], 0);
	fake_record(&r, "h1.example", 1);
	put_committed(f->st, &r);
	fake_record(&r, "h2.example", 2);
	put_committed(f->st, &r);
	fake_record(&r, "h3.example", 3);
	r.state = ECA_STATE_CONFLICT;
	put_committed(f->st, &r);
	fake_record(&r, "h4.example", 4);
	r.state = ECA_STATE_BANNED;
	put_committed(f->st, &r);
	/* h1 ends at 1800000001, h2 at 1800000002: only h1 by then. */
	assert_int_equal(
	    eca_store_counts(f->st, "primary.example", 1800000001, &n, &err),
	    0);
	assert_int_equal(n.states[ECA_STATE_ENROLLED], 2);
	assert_int_equal(n.states[ECA_STATE_CONFLICT], 1);
	assert_int_equal(n.states[ECA_STATE_BANNED], 1);
	assert_int_equal(n.states[ECA_STATE_REMOVED], 0);
	/* Only ENROLLED records count as expiring (h3 would, h4 too). */
	assert_int_equal(n.expiring, 1);
	assert_int_equal(
	    eca_store_counts(f->st, "other.example", 1900000000, &n, &err), 0);
	assert_int_equal(n.states[ECA_STATE_ENROLLED], 0);
	assert_int_equal(n.expiring, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_counts_by_state_and_expiring,
		setup, teardown),
	    T(test_migration_3_refuses_two_spellings_of_one_host),
	    T(test_migration_3_refuses_a_name_that_is_no_host_name),
	    T(test_migration_3_folds_names_to_lower_case),
	    T(test_store_refuses_names_not_in_canonical_form),
	    T(test_open_in_unwritable_directory_fails_cleanly),
	    T(test_open_in_mode_0500_directory_fails_unless_root),
	    T(test_postgresql_uri_with_a_password_is_refused),
	    T(test_postgresql_uri_libpq_refuses_is_config),
	    T(test_postgresql_server_not_there_names_the_remedy),
	    T(test_open_of_unknown_scheme_or_empty_path_is_refused),
	    T(test_readonly_open_of_missing_file_is_not_found),
	    T(test_readonly_open_of_empty_file_is_not_found),
	    T(test_readonly_connection_refuses_writes),
	    T(test_get_of_missing_host_is_not_found),
	    T(test_newer_schema_version_is_refused),
	    T(test_negative_schema_version_is_refused),
	    T(test_duplicate_host_id_is_refused),
	    T(test_put_of_unterminated_field_is_refused),
	    T(test_history_of_unknown_host_is_refused),
	    T(test_rollback_leaves_nothing),
	    T(test_rollback_to_savepoint_undoes_only_that_step),
	    T(test_second_writer_gets_busy_after_timeout),
	    T(test_put_get_round_trips_every_field),
	    T(test_every_state_method_and_role_is_stored),
	    T(test_records_are_kept_per_primary),
	    T(test_list_filters_by_state_and_pages_after_host),
	    T(test_page_sorts_filters_and_pages_by_keyset),
	    T(test_counts_by_state_waiting_and_expiring),
	    T(test_list_grows_past_its_first_allocation),
	    T(test_history_is_oldest_first_and_limited),
	    T(test_versions_increase_across_transactions_and_reopen),
	    T(test_lost_version_counter_is_refused_as_damage),
	    T(test_new_file_is_migrated_and_sets_user_version),
	    T(test_reopen_keeps_data),
	    T(test_killed_writer_keeps_commits_and_loses_the_rest),
	    T(test_readonly_connection_sees_committed_writes),
	    T(test_database_file_is_created_mode_0600),
	    T(test_existing_file_open_to_others_is_made_private),
	    T(test_state_and_method_names_round_trip),
	    T(test_candidate_of_unknown_host_is_refused),
	    T(test_candidate_delete_of_one_not_waiting_is_not_found),
	    T(test_readonly_connection_refuses_candidate_and_mapping_writes),
	    T(test_mapping_of_unknown_subject_or_host_is_not_found),
	    T(test_host_with_two_live_subjects_is_refused),
	    T(test_candidates_are_kept_distinct_and_oldest_first),
	    T(test_migration_moves_the_waiting_candidate),
	    T(test_migration_7_adds_the_nat_flag_cleared),
	    T(test_migration_8_adds_the_table_of_kept_audit_lines),
	    T(test_mappings_add_remove_list_and_changes),
	};

	/* The backend-neutral cases, and PostgreSQL's own. */
	const struct CMUnitTest pg_tests[] = {
	    P(test_store_refuses_names_not_in_canonical_form),
	    P(test_readonly_connection_refuses_writes),
	    P(test_get_of_missing_host_is_not_found),
	    P(test_duplicate_host_id_is_refused),
	    P(test_put_of_unterminated_field_is_refused),
	    P(test_history_of_unknown_host_is_refused),
	    P(test_rollback_leaves_nothing),
	    P(test_rollback_to_savepoint_undoes_only_that_step),
	    P(test_put_get_round_trips_every_field),
	    P(test_every_state_method_and_role_is_stored),
	    P(test_records_are_kept_per_primary),
	    P(test_list_filters_by_state_and_pages_after_host),
	    P(test_page_sorts_filters_and_pages_by_keyset),
	    P(test_list_grows_past_its_first_allocation),
	    P(test_history_is_oldest_first_and_limited),
	    P(test_versions_increase_across_transactions_and_reopen),
	    P(test_reopen_keeps_data),
	    P(test_killed_writer_keeps_commits_and_loses_the_rest),
	    P(test_readonly_connection_sees_committed_writes),
	    P(test_candidate_of_unknown_host_is_refused),
	    P(test_candidate_delete_of_one_not_waiting_is_not_found),
	    P(test_readonly_connection_refuses_candidate_and_mapping_writes),
	    P(test_mapping_of_unknown_subject_or_host_is_not_found),
	    P(test_host_with_two_live_subjects_is_refused),
	    P(test_candidates_are_kept_distinct_and_oldest_first),
	    P(test_mappings_add_remove_list_and_changes),
	    P(test_pg_reader_of_an_empty_database_is_not_found),
	    P(test_pg_newer_schema_version_is_refused),
	    P(test_pg_writers_starting_together_both_open),
	    P(test_pg_second_writer_waits_for_the_host_and_sees_the_row),
	    P(test_pg_lost_connection_reconnects),
	    P(test_pg_password_file_is_checked),
	    P(test_pg_audit_is_one_chain_across_writers),
	    P(test_pg_commit_notifies_listeners),
	};
	const char *ci = getenv("CI");
	int r;

	r = cmocka_run_group_tests_name("sqlite", tests, NULL, NULL);
	if (getenv("ECA_TEST_PG_URI") == NULL) {
		/* Run through tests/pg.sh, which starts the server. */
		printf("skipped: PostgreSQL not available\n");
		/* CI must test both backends: a skip there is a failure. */
		return ci != NULL && strcmp(ci, "true") == 0 ? 1 : r;
	}
	return r |
	    cmocka_run_group_tests_name("postgresql", pg_tests, NULL, NULL);
}
