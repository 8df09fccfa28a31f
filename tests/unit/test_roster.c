/* SPDX-License-Identifier: ISC */
/* test_roster.c - the in-memory roster, its delta decoder and its file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "config.h"
#include "hostname.h"
#include "roster.h"
#include "roster_impl.h"
#include "wire.h"

#define PRIMARY "primary.example"

/* Deterministic 32 bytes for host i, generation g (splitmix64). */
static void
fake_fp(unsigned i, unsigned g, uint8_t out[ECA_ROSTER_FP_LEN])
{
	uint64_t x = ((uint64_t)i << 20) ^ g ^ 0x1234567ULL, z;
	size_t k;

	for (k = 0; k < ECA_ROSTER_FP_LEN; k += 8) {
		x += 0x9e3779b97f4a7c15ULL;
		z = x;
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		z ^= z >> 31;
		memcpy(out + k, &z, 8);
	}
}

static void
fake_change(struct eca_change *c, unsigned i, unsigned g, enum eca_state state,
    int64_t version)
{
	uint8_t fp[ECA_ROSTER_FP_LEN];

	memset(c, 0, sizeof(*c));
	snprintf(c->host, sizeof(c->host), "host-%u.example", i);
	snprintf(c->host_id, sizeof(c->host_id), "%08x-0000-4000-8000-%012x", i,
	    g);
	c->state = state;
	fake_fp(i, g, fp);
	eca_roster_fp_to_hex(fp, c->fingerprint);
	fake_fp(i, g + 1000, fp);
	eca_roster_fp_to_hex(fp, c->spki_fingerprint);
	c->not_after = 1800000000 + i;
	c->version = version;
}

/* The primary's encoder, so decoder and encoder are tested together. */
static char *
body_of(const char *primary, int64_t since, int64_t next, int full, int more,
    const struct eca_change *ch, size_t n)
{
	json_t *j;
	char *s;

	j = eca_wire_roster(&(struct eca_wire_roster_page){.primary = primary,
				.since = since,
				.version = next,
				.next = next,
				.full = full,
				.more = more},
	    ch, n);
	assert_non_null(j);
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	assert_non_null(s);
	return s;
}

static int
parse(const char *s, struct eca_roster_delta **d, struct eca_err *err)
{
	return eca_roster_delta_parse(s, strlen(s), d, err);
}

static void
refused(const char *s, int code, const char *needle)
{
	struct eca_roster_delta *d = (void *)1;
	struct eca_err err;

	eca_err_clear(&err);
	assert_int_equal(parse(s, &d, &err), code);
	assert_null(d);
	assert_int_equal(err.code, code);
	if (needle != NULL && strstr(err.msg, needle) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, needle);
}

static const char ENTRY_OK[] =
    "{\"host\":\"a.example\",\"host_id\":"
    "\"01234567-89ab-4cde-8f01-23456789abcd\",\"state\":\"ENROLLED\","
    "\"fingerprint\":\""
    "0123456789abcdef0123456789abcdef"
    "0123456789abcdef0123456789abcdef\",\"spki_fingerprint\":\""
    "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210\","
    "\"not_after\":\"2030-01-01T00:00:00Z\",\"version\":3}";

/* A body around one entry text. */
static char *
wrap(const char *entry)
{
	char *s;
	size_t len = strlen(entry) + 256;

	s = malloc(len);
	assert_non_null(s);
	snprintf(s, len,
	    "{\"primary\":\"" PRIMARY "\",\"since\":0,"
	    "\"version\":3,\"next\":3,\"full\":true,\"more\":false,"
	    "\"entries\":[%s]}",
	    entry);
	return s;
}

/* ENTRY_OK with the text from `from` replaced by `to`. */
static void
refused_entry(const char *from, const char *to, const char *needle)
{
	char entry[1024], *p, *s;

	p = strstr(ENTRY_OK, from);
	assert_non_null(p);
	snprintf(entry, sizeof(entry), "%.*s%s%s", (int)(p - ENTRY_OK),
	    ENTRY_OK, to, p + strlen(from));
	s = wrap(entry);
	refused(s, ECA_ERR_PROTOCOL, needle);
	free(s);
}

static struct eca_roster *
roster(void)
{
	struct eca_roster *r = NULL;

	assert_int_equal(eca_roster_new(PRIMARY, &r, NULL), 0);
	return r;
}

static int
apply_body(struct eca_roster *r, const char *s, int64_t now,
    struct eca_err *err)
{
	struct eca_roster_delta *d = NULL;
	int rc;

	if ((rc = parse(s, &d, err)) != 0)
		return rc;
	rc = eca_roster_apply(r, d, now, err);
	eca_roster_delta_free(d);
	return rc;
}

static void
apply_ok(struct eca_roster *r, int64_t since, int64_t next, int full, int more,
    const struct eca_change *ch, size_t n, int64_t now)
{
	struct eca_err err;
	char *s;

	eca_err_clear(&err);
	s = body_of(PRIMARY, since, next, full, more, ch, n);
	if (apply_body(r, s, now, &err) != 0)
		fail_msg("apply: %s", err.msg);
	free(s);
}

static void
tmp_path(char *buf, size_t len, const char *name)
{
	const char *dir = getenv("TMPDIR");

	snprintf(buf, len, "%s/test_roster.%ld.%s", dir != NULL ? dir : "/tmp",
	    (long)getpid(), name);
}

/* ------------------------------------------------------------------ */
/* Negative cases first.                                               */

static void
test_delta_that_is_not_json_is_refused(void **state)
{
	(void)state;
	refused("", ECA_ERR_PROTOCOL, "not JSON");
	refused("{\"primary\":", ECA_ERR_PROTOCOL, "not JSON");
	refused("\x01\x02garbage", ECA_ERR_PROTOCOL, "not JSON");
}

static void
test_delta_that_is_not_an_object_is_refused(void **state)
{
	(void)state;
	refused("[]", ECA_ERR_PROTOCOL, "not a JSON object");
	refused("42", ECA_ERR_PROTOCOL, NULL);
	refused("\"roster\"", ECA_ERR_PROTOCOL, NULL);
}

static void
test_delta_with_missing_or_wrong_typed_fields_is_refused(void **state)
{
	(void)state;
	refused("{\"since\":0,\"version\":0,\"next\":0,\"full\":true,"
		"\"more\":false,\"entries\":[]}",
	    ECA_ERR_PROTOCOL, "primary");
	refused("{\"primary\":\"" PRIMARY "\",\"since\":\"0\",\"version\":0,"
		"\"next\":0,\"full\":true,\"more\":false,\"entries\":[]}",
	    ECA_ERR_PROTOCOL, "since");
	refused("{\"primary\":\"" PRIMARY "\",\"since\":-1,\"version\":0,"
		"\"next\":0,\"full\":true,\"more\":false,\"entries\":[]}",
	    ECA_ERR_PROTOCOL, "since");
	refused("{\"primary\":\"" PRIMARY "\",\"since\":0,\"version\":0.5,"
		"\"next\":0,\"full\":true,\"more\":false,\"entries\":[]}",
	    ECA_ERR_PROTOCOL, "version");
	refused("{\"primary\":\"" PRIMARY "\",\"since\":0,\"version\":0,"
		"\"next\":0,\"full\":1,\"more\":false,\"entries\":[]}",
	    ECA_ERR_PROTOCOL, "full");
	refused("{\"primary\":\"" PRIMARY "\",\"since\":0,\"version\":0,"
		"\"next\":0,\"full\":true,\"more\":null,\"entries\":[]}",
	    ECA_ERR_PROTOCOL, "more");
	refused("{\"primary\":\"" PRIMARY "\",\"since\":0,\"version\":0,"
		"\"next\":0,\"full\":true,\"more\":false,\"entries\":{}}",
	    ECA_ERR_PROTOCOL, "entries");
	refused("{\"primary\":\"bad host!\",\"since\":0,\"version\":0,"
		"\"next\":0,\"full\":true,\"more\":false,\"entries\":[]}",
	    ECA_ERR_PROTOCOL, "primary");
	/* duplicate keys are refused, not resolved silently */
	refused("{\"primary\":\"" PRIMARY "\",\"primary\":\"x\",\"since\":0,"
		"\"version\":0,\"next\":0,\"full\":true,\"more\":false,"
		"\"entries\":[]}",
	    ECA_ERR_PROTOCOL, "not JSON");
}

static void
test_entry_with_bad_fields_is_refused(void **state)
{
	char *s;

	(void)state;
	s = wrap("[]");
	refused(s, ECA_ERR_PROTOCOL, "not an object");
	free(s);
	refused_entry("\"a.example\"", "\"a b\"", "host");
	refused_entry("\"a.example\"", "7", "host");
	refused_entry("\"01234567-89ab", "\"01234567_89ab", "host_id");
	refused_entry("4cde", "4CDE", "host_id");
	refused_entry("\"ENROLLED\"", "\"enrolled\"", "state");
	refused_entry("\"ENROLLED\"", "\"GONE\"", "state");
	refused_entry("\"0123456789abcdef0123", "\"0123456789ABCDEF0123",
	    "fingerprint");
	refused_entry("\"fedcba98", "\"fedcba9", "spki_fingerprint");
	refused_entry("\"2030-01-01T00:00:00Z\"", "\"2030-13-01T00:00:00Z\"",
	    "not_after");
	refused_entry("\"2030-01-01T00:00:00Z\"", "1893456000", "not_after");
	refused_entry("\"version\":3", "\"version\":0", "version");
	refused_entry("\"version\":3", "\"versio\":3", "version");
}

static void
test_oversize_delta_is_refused(void **state)
{
	struct eca_roster_delta *d = (void *)1;
	struct eca_change *ch;
	struct eca_err err;
	char *big, *s;
	size_t i, n = ECA_ROSTER_PAGE_MAX + 1;

	(void)state;
	big = malloc(ECA_ROSTER_BODY_MAX + 1);
	assert_non_null(big);
	memset(big, ' ', ECA_ROSTER_BODY_MAX + 1);
	assert_int_equal(
	    eca_roster_delta_parse(big, ECA_ROSTER_BODY_MAX + 1, &d, &err),
	    ECA_ERR_TOO_LARGE);
	assert_null(d);
	free(big);

	ch = calloc(n, sizeof(*ch));
	assert_non_null(ch);
	for (i = 0; i < n; i++)
		fake_change(&ch[i], (unsigned)i, 0, ECA_STATE_ENROLLED,
		    (int64_t)i + 1);
	s = body_of(PRIMARY, 0, (int64_t)n, 1, 0, ch, n);
	refused(s, ECA_ERR_TOO_LARGE, "entries");
	free(s);
	free(ch);
}

static void
test_delta_with_versions_out_of_order_is_refused(void **state)
{
	struct eca_change ch[2];
	char *s;

	(void)state;
	fake_change(&ch[0], 1, 0, ECA_STATE_ENROLLED, 5);
	fake_change(&ch[1], 2, 0, ECA_STATE_ENROLLED, 5);
	s = body_of(PRIMARY, 0, 5, 1, 0, ch, 2);
	refused(s, ECA_ERR_PROTOCOL, "not after");
	free(s);
	/* a delta's entries come after its since */
	fake_change(&ch[1], 2, 0, ECA_STATE_ENROLLED, 6);
	s = body_of(PRIMARY, 5, 6, 0, 0, ch, 2);
	refused(s, ECA_ERR_PROTOCOL, "not after");
	free(s);
	/* next before the last entry */
	s = body_of(PRIMARY, 0, 4, 1, 0, ch, 2);
	refused(s, ECA_ERR_PROTOCOL, "next");
	free(s);
	/* more=true must resume right after the last entry */
	s = body_of(PRIMARY, 0, 9, 1, 1, ch, 2);
	refused(s, ECA_ERR_PROTOCOL, "more");
	free(s);
	s = body_of(PRIMARY, 0, 0, 1, 1, NULL, 0);
	refused(s, ECA_ERR_PROTOCOL, "more");
	free(s);
}

static void
test_delta_from_another_primary_is_not_applied(void **state)
{
	struct eca_roster *r = roster();
	struct eca_change ch;
	struct eca_err err;
	char *s;

	(void)state;
	fake_change(&ch, 1, 0, ECA_STATE_ENROLLED, 1);
	s = body_of("other.example", 0, 1, 1, 0, &ch, 1);
	assert_int_equal(apply_body(r, s, 100, &err), ECA_ERR_PROTOCOL);
	assert_non_null(strstr(err.msg, "other.example"));
	assert_int_equal(eca_roster_count(r), 0);
	assert_int_equal(eca_roster_synced_at(r), 0);
	free(s);
	eca_roster_free(r);
}

static void
test_delta_that_does_not_follow_the_version_is_not_applied(void **state)
{
	struct eca_roster *r = roster();
	struct eca_change ch[2];
	struct eca_err err;
	char *s;

	(void)state;
	fake_change(&ch[0], 1, 0, ECA_STATE_ENROLLED, 1);
	apply_ok(r, 0, 1, 1, 0, ch, 1, 100);
	fake_change(&ch[1], 2, 0, ECA_STATE_ENROLLED, 9);
	/* the roster is at 1: a delta since 5 would skip changes 2..5 */
	s = body_of(PRIMARY, 5, 9, 0, 0, &ch[1], 1);
	assert_int_equal(apply_body(r, s, 200, &err), ECA_ERR_PROTOCOL);
	assert_non_null(strstr(err.msg, "since=1"));
	assert_int_equal(eca_roster_count(r), 1);
	assert_int_equal(eca_roster_version(r), 1);
	assert_int_equal(eca_roster_synced_at(r), 100);
	free(s);
	eca_roster_free(r);
}

static void
test_bad_primary_name_is_refused(void **state)
{
	struct eca_roster *r = (void *)1;

	(void)state;
	assert_int_equal(eca_roster_new("not a host", &r, NULL),
	    ECA_ERR_CONFIG);
	assert_null(r);
	assert_int_equal(eca_roster_new("", &r, NULL), ECA_ERR_CONFIG);
}

static void
test_lookup_of_unknown_host_or_fingerprint_is_not_found(void **state)
{
	struct eca_roster *r = roster();
	struct eca_roster_entry e;
	uint8_t fp[ECA_ROSTER_FP_LEN];
	char longname[300];

	(void)state;
	/* empty roster: no index yet */
	assert_int_equal(eca_roster_lookup_host(r, "a.example", &e),
	    ECA_ERR_NOT_FOUND);
	fake_fp(1, 0, fp);
	assert_int_equal(eca_roster_lookup_fp(r, fp, &e), ECA_ERR_NOT_FOUND);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(eca_roster_lookup_host(r, longname, &e),
	    ECA_ERR_NOT_FOUND);
	assert_int_equal(eca_roster_lookup_host(r, "", &e), ECA_ERR_NOT_FOUND);
	eca_roster_free(r);
}

/*
 * Host names are canonical in the roster: a delta naming a host in any
 * case is kept lower case, any spelling finds it, and a name that is not
 * a host name (a trailing dot, an underscore) finds nothing.
 */
static void
test_names_in_mixed_case_are_one_host(void **state)
{
	struct eca_roster *r = roster(), *r2 = NULL;
	struct eca_roster_entry e;
	struct eca_change ch[2];
	struct eca_err err;
	char path[256];
	char *s;

	(void)state;
	/* A trailing dot or an underscore in a delta: refused. */
	refused_entry("a.example", "a.example.", "\"host\"");
	refused_entry("a.example", "a_1.example", "\"host\"");
	fake_change(&ch[0], 1, 0, ECA_STATE_ENROLLED, 1);
	snprintf(ch[0].host, sizeof(ch[0].host), "MEDIA1.It.Test");
	fake_change(&ch[1], 2, 0, ECA_STATE_BANNED, 2);
	snprintf(ch[1].host, sizeof(ch[1].host), "H1.EXAMPLE");
	/* The primary's name in the answer, in another case, is the same. */
	s = body_of("PRIMARY.Example", 0, 2, 1, 0, ch, 2);
	eca_err_clear(&err);
	if (apply_body(r, s, 1000, &err) != 0)
		fail_msg("apply: %s", err.msg);
	free(s);
	assert_int_equal(eca_roster_lookup_host(r, "media1.it.test", &e), 0);
	assert_string_equal(e.host, "media1.it.test");
	assert_int_equal(eca_roster_lookup_host(r, "MEDIA1.IT.TEST", &e), 0);
	assert_string_equal(e.host, "media1.it.test");
	assert_int_equal(eca_roster_lookup_host(r, "h1.example", &e), 0);
	assert_int_equal(e.state, ECA_STATE_BANNED);
	assert_int_equal(eca_roster_lookup_host(r, "H1.Example", &e), 0);
	assert_int_equal(e.state, ECA_STATE_BANNED);
	assert_int_equal(eca_roster_lookup_host(r, "media1.it.test.", &e),
	    ECA_ERR_NOT_FOUND);
	assert_int_equal(eca_roster_lookup_host(r, "media1_it.test", &e),
	    ECA_ERR_NOT_FOUND);
	/* A later change under another spelling replaces the record. */
	fake_change(&ch[0], 1, 1, ECA_STATE_REVOKED, 3);
	snprintf(ch[0].host, sizeof(ch[0].host), "Media1.IT.test");
	apply_ok(r, 2, 3, 0, 0, ch, 1, 1001);
	assert_int_equal(eca_roster_count(r), 2);
	assert_int_equal(eca_roster_lookup_host(r, "media1.it.test", &e), 0);
	assert_int_equal(e.state, ECA_STATE_REVOKED);
	/* Saved and loaded under any spelling of the primary. */
	tmp_path(path, sizeof(path), "mixed");
	assert_int_equal(eca_roster_save(r, path, &err), 0);
	assert_int_equal(eca_roster_load(path, "Primary.EXAMPLE", &r2, &err),
	    0);
	assert_string_equal(eca_roster_primary(r2), PRIMARY);
	assert_int_equal(eca_roster_lookup_host(r2, "MEDIA1.it.test", &e), 0);
	assert_int_equal(e.state, ECA_STATE_REVOKED);
	unlink(path);
	eca_roster_free(r2);
	eca_roster_free(r);
}

/* Save a small roster to path; returns its size. */
static long
saved_roster(const char *path)
{
	struct eca_roster *r = roster();
	struct eca_change ch[3];
	struct eca_err err;
	struct stat sb;
	unsigned i;

	for (i = 0; i < 3; i++)
		fake_change(&ch[i], i, 0, ECA_STATE_ENROLLED, i + 1);
	apply_ok(r, 0, 3, 1, 0, ch, 3, 1000);
	eca_err_clear(&err);
	if (eca_roster_save(r, path, &err) != 0)
		fail_msg("save: %s", err.msg);
	eca_roster_free(r);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	return (long)sb.st_size;
}

static void
rewrite_byte(const char *path, long off, int delta)
{
	FILE *f = fopen(path, "r+b");
	int c;

	assert_non_null(f);
	assert_int_equal(fseek(f, off, SEEK_SET), 0);
	c = fgetc(f);
	assert_int_not_equal(c, EOF);
	assert_int_equal(fseek(f, off, SEEK_SET), 0);
	fputc((c + delta) & 0xff, f);
	assert_int_equal(fclose(f), 0);
}

static void
load_refused(const char *path, int code, const char *needle)
{
	struct eca_roster *r = (void *)1;
	struct eca_err err;

	eca_err_clear(&err);
	assert_int_equal(eca_roster_load(path, PRIMARY, &r, &err), code);
	assert_null(r);
	if (needle != NULL && strstr(err.msg, needle) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, needle);
}

static void
test_missing_roster_file_is_not_found(void **state)
{
	char path[256];

	(void)state;
	tmp_path(path, sizeof(path), "missing");
	unlink(path);
	load_refused(path, ECA_ERR_NOT_FOUND, "synced in full");
}

static void
test_corrupt_roster_file_is_refused(void **state)
{
	char path[256];
	long size;

	(void)state;
	tmp_path(path, sizeof(path), "corrupt");
	size = saved_roster(path);
	/* a byte of a record's host name */
	rewrite_byte(path, size - 40, 1);
	load_refused(path, ECA_ERR_PARSE, "starts empty");
	saved_roster(path);
	rewrite_byte(path, 0, 1);
	load_refused(path, ECA_ERR_PARSE, "not an eca roster file");
	unlink(path);
}

static void
test_roster_file_with_wrong_checksum_is_refused(void **state)
{
	char path[256];
	long size;

	(void)state;
	tmp_path(path, sizeof(path), "checksum");
	size = saved_roster(path);
	rewrite_byte(path, size - 1, 1);
	load_refused(path, ECA_ERR_PARSE, "wrong checksum");
	unlink(path);
}

static void
test_truncated_roster_file_is_refused(void **state)
{
	char path[256];
	long size, cut;

	(void)state;
	tmp_path(path, sizeof(path), "truncated");
	size = saved_roster(path);
	for (cut = size - 1; cut >= 0; cut -= 37) {
		assert_int_equal(truncate(path, cut), 0);
		load_refused(path, ECA_ERR_PARSE, NULL);
	}
	unlink(path);
}

static void
test_roster_file_of_another_primary_is_refused(void **state)
{
	struct eca_roster *r = (void *)1;
	struct eca_err err;
	char path[256];

	(void)state;
	tmp_path(path, sizeof(path), "other");
	saved_roster(path);
	assert_int_equal(eca_roster_load(path, "other.example", &r, &err),
	    ECA_ERR_PARSE);
	assert_null(r);
	assert_non_null(strstr(err.msg, "another primary"));
	unlink(path);
}

static void
test_never_synced_roster_is_stale(void **state)
{
	struct eca_roster *r = roster();
	struct eca_err err;

	(void)state;
	assert_int_equal(eca_roster_check_fresh(r, 1000, 3600, &err),
	    ECA_ERR_ROSTER_STALE);
	assert_non_null(strstr(err.msg, "never been synced"));
	eca_roster_free(r);
}

static void
test_roster_older_than_max_age_is_stale(void **state)
{
	struct eca_roster *r = roster();
	struct eca_err err;

	(void)state;
	/* an empty complete sync counts as a sync */
	apply_ok(r, 0, 0, 1, 0, NULL, 0, 10000);
	assert_int_equal(eca_roster_check_fresh(r, 10000 + 3601, 3600, &err),
	    ECA_ERR_ROSTER_STALE);
	assert_non_null(strstr(err.msg, "ECA_ROSTER_MAX_AGE"));
	assert_non_null(strstr(err.msg, "3601 s ago"));
	assert_int_equal(eca_roster_check_fresh(r, 10000 + 3600, 3600, &err),
	    0);
	assert_int_equal(eca_roster_check_fresh(r, 10000, 3600, &err), 0);
	eca_roster_free(r);
}

static void
test_incomplete_sync_does_not_refresh(void **state)
{
	struct eca_roster *r = roster();
	struct eca_change ch[2];
	struct eca_err err;

	(void)state;
	fake_change(&ch[0], 1, 0, ECA_STATE_ENROLLED, 1);
	fake_change(&ch[1], 2, 0, ECA_STATE_ENROLLED, 2);
	apply_ok(r, 0, 1, 1, 1, ch, 1, 500);
	assert_int_equal(eca_roster_synced_at(r), 0);
	assert_int_equal(eca_roster_check_fresh(r, 500, 3600, &err),
	    ECA_ERR_ROSTER_STALE);
	assert_int_equal(eca_roster_version(r), 1);
	apply_ok(r, 1, 2, 0, 0, &ch[1], 1, 600);
	assert_int_equal(eca_roster_synced_at(r), 600);
	assert_int_equal(eca_roster_count(r), 2);
	eca_roster_free(r);
}

static void
test_config_max_age_out_of_range_is_refused(void **state)
{
	static const char bad[] = "CLIENT_NAME = h.example\n"
				  "ECA_ROSTER_MAX_AGE = 0\n";
	struct eca_config *cfg = NULL;
	struct eca_err err;

	(void)state;
	assert_int_equal(
	    eca_config_parse(bad, strlen(bad), "t.conf", &cfg, &err),
	    ECA_ERR_CONFIG);
	assert_null(cfg);
	assert_non_null(strstr(err.msg, "t.conf:2"));
}

/* ------------------------------------------------------------------ */
/* What works.                                                         */

static void
test_config_max_age_defaults_to_an_hour(void **state)
{
	static const char def[] = "CLIENT_NAME = h.example\n";
	static const char set[] = "CLIENT_NAME = h.example\n"
				  "ECA_ROSTER_MAX_AGE = 120\n";
	struct eca_config *cfg = NULL;
	struct eca_err err;
	char *dump;

	(void)state;
	if (eca_config_parse(def, strlen(def), "t.conf", &cfg, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(cfg->roster_max_age, ECA_ROSTER_MAX_AGE_DEFAULT);
	assert_int_equal(cfg->roster_max_age, 3600);
	dump = eca_config_dump(cfg);
	assert_non_null(dump);
	assert_non_null(strstr(dump, "ECA_ROSTER_MAX_AGE = 3600"));
	free(dump);
	eca_config_free(cfg);
	if (eca_config_parse(set, strlen(set), "t.conf", &cfg, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(cfg->roster_max_age, 120);
	eca_config_free(cfg);
}

static void
test_decoder_reads_what_the_primary_writes(void **state)
{
	struct eca_roster_delta *d = NULL;
	struct eca_change ch[2];
	struct eca_err err;
	uint8_t fp[ECA_ROSTER_FP_LEN];
	char hex[ECA_FP_HEX_LEN + 1], *s;

	(void)state;
	fake_change(&ch[0], 1, 0, ECA_STATE_ENROLLED, 4);
	fake_change(&ch[1], 2, 0, ECA_STATE_REMOVED, 7);
	s = body_of(PRIMARY, 3, 7, 0, 0, ch, 2);
	if (parse(s, &d, &err) != 0)
		fail_msg("%s", err.msg);
	assert_string_equal(d->primary, PRIMARY);
	assert_int_equal(d->since, 3);
	assert_int_equal(d->next, 7);
	assert_false(d->full);
	assert_false(d->more);
	assert_int_equal(d->n, 2);
	assert_string_equal(d->entries[0].host, "host-1.example");
	assert_string_equal(d->entries[0].host_id, ch[0].host_id);
	eca_roster_fp_to_hex(d->entries[0].fingerprint, hex);
	assert_string_equal(hex, ch[0].fingerprint);
	eca_roster_fp_to_hex(d->entries[0].spki_fingerprint, hex);
	assert_string_equal(hex, ch[0].spki_fingerprint);
	assert_int_equal(d->entries[0].not_after, ch[0].not_after);
	assert_int_equal(d->entries[1].state, ECA_STATE_REMOVED);
	assert_int_equal(d->entries[1].version, 7);
	assert_int_equal(eca_roster_fp_from_hex(ch[1].fingerprint, fp), 0);
	assert_memory_equal(fp, d->entries[1].fingerprint, sizeof(fp));
	eca_roster_delta_free(d);
	free(s);
	/* unknown keys from a newer primary are ignored */
	s = wrap(ENTRY_OK);
	s[strlen(s) - 1] = '\0';
	{
		char buf[2048];

		snprintf(buf, sizeof(buf), "%s,\"compacted_below\":0}", s);
		if (parse(buf, &d, &err) != 0)
			fail_msg("%s", err.msg);
		assert_int_equal(d->n, 1);
		eca_roster_delta_free(d);
	}
	free(s);
}

static void
test_apply_adds_replaces_and_removes(void **state)
{
	struct eca_roster *r = roster();
	struct eca_roster_entry e;
	struct eca_change ch[3], upd[2];
	uint8_t fp[ECA_ROSTER_FP_LEN];

	(void)state;
	fake_change(&ch[0], 1, 0, ECA_STATE_ENROLLED, 1);
	fake_change(&ch[1], 2, 0, ECA_STATE_ENROLLED, 2);
	fake_change(&ch[2], 3, 0, ECA_STATE_CONFLICT, 3);
	apply_ok(r, 0, 3, 1, 0, ch, 3, 100);
	assert_int_equal(eca_roster_count(r), 3);
	assert_int_equal(eca_roster_version(r), 3);
	assert_string_equal(eca_roster_primary(r), PRIMARY);

	assert_int_equal(eca_roster_lookup_host(r, "host-2.example", &e), 0);
	assert_string_equal(e.host, "host-2.example");
	assert_string_equal(e.host_id, ch[1].host_id);
	assert_int_equal(e.state, ECA_STATE_ENROLLED);
	assert_int_equal(e.version, 2);
	assert_int_equal(e.not_after, 1800000002);
	fake_fp(3, 0, fp);
	assert_int_equal(eca_roster_lookup_fp(r, fp, &e), 0);
	assert_string_equal(e.host, "host-3.example");
	assert_int_equal(e.state, ECA_STATE_CONFLICT);

	/* renewal of host 1 (new certificate), removal of host 2 */
	fake_change(&upd[0], 1, 1, ECA_STATE_ENROLLED, 4);
	fake_change(&upd[1], 2, 0, ECA_STATE_REMOVED, 5);
	apply_ok(r, 3, 5, 0, 0, upd, 2, 200);
	assert_int_equal(eca_roster_count(r), 3);
	assert_int_equal(eca_roster_version(r), 5);
	assert_int_equal(eca_roster_synced_at(r), 200);
	fake_fp(1, 0, fp);
	assert_int_equal(eca_roster_lookup_fp(r, fp, &e), ECA_ERR_NOT_FOUND);
	fake_fp(1, 1, fp);
	assert_int_equal(eca_roster_lookup_fp(r, fp, &e), 0);
	assert_string_equal(e.host, "host-1.example");
	assert_int_equal(e.version, 4);
	assert_int_equal(eca_roster_lookup_host(r, "host-2.example", &e), 0);
	assert_int_equal(e.state, ECA_STATE_REMOVED);

	/* a full answer replaces everything */
	fake_change(&ch[0], 9, 0, ECA_STATE_ENROLLED, 8);
	apply_ok(r, 0, 8, 1, 0, ch, 1, 300);
	assert_int_equal(eca_roster_count(r), 1);
	assert_int_equal(eca_roster_lookup_host(r, "host-1.example", &e),
	    ECA_ERR_NOT_FOUND);
	fake_fp(3, 0, fp);
	assert_int_equal(eca_roster_lookup_fp(r, fp, &e), ECA_ERR_NOT_FOUND);
	assert_int_equal(eca_roster_lookup_host(r, "host-9.example", &e), 0);
	eca_roster_free(r);
}

static void
test_many_hosts_stay_findable_through_growth_and_renewals(void **state)
{
	struct eca_roster *r = roster();
	struct eca_roster_entry e;
	struct eca_change *ch;
	uint8_t fp[ECA_ROSTER_FP_LEN];
	char host[64];
	unsigned i, n = 20000, page = ECA_ROSTER_PAGE_MAX, k;
	int64_t v = 0;

	(void)state;
	ch = calloc(page, sizeof(*ch));
	assert_non_null(ch);
	for (i = 0; i < n; i += page) {
		for (k = 0; k < page && i + k < n; k++)
			fake_change(&ch[k], i + k, 0, ECA_STATE_ENROLLED,
			    v + k + 1);
		apply_ok(r, v, v + k, v == 0, 0, ch, k, 10);
		v += k;
	}
	assert_int_equal(eca_roster_count(r), n);
	/* renew every third host, in pages */
	for (i = 0, k = 0; i < n; i += 3) {
		fake_change(&ch[k], i, 1, ECA_STATE_ENROLLED, v + k + 1);
		if (++k == page || i + 3 >= n) {
			apply_ok(r, v, v + k, 0, 0, ch, k, 20);
			v += k;
			k = 0;
		}
	}
	assert_int_equal(eca_roster_count(r), n);
	for (i = 0; i < n; i++) {
		snprintf(host, sizeof(host), "host-%u.example", i);
		assert_int_equal(eca_roster_lookup_host(r, host, &e), 0);
		assert_string_equal(e.host, host);
		fake_fp(i, i % 3 == 0 ? 1 : 0, fp);
		assert_memory_equal(e.fingerprint, fp, sizeof(fp));
		assert_int_equal(eca_roster_lookup_fp(r, fp, &e), 0);
		assert_string_equal(e.host, host);
		if (i % 3 == 0) {
			fake_fp(i, 0, fp);
			assert_int_equal(eca_roster_lookup_fp(r, fp, &e),
			    ECA_ERR_NOT_FOUND);
		}
	}
	/*
	 * Compact even with the slack of growth (the 200 B/host target at
	 * 1,000,000 hosts is bench/bench_roster's to measure).
	 */
	assert_true(eca_roster_memory(r) / n < 300);
	free(ch);
	eca_roster_free(r);
}

static void
test_save_and_load_round_trip(void **state)
{
	struct eca_roster *r = roster(), *l = NULL;
	struct eca_roster_entry a, b;
	struct eca_change ch[50];
	struct eca_err err;
	char path[256];
	unsigned i;

	(void)state;
	tmp_path(path, sizeof(path), "roundtrip");
	for (i = 0; i < 50; i++)
		fake_change(&ch[i], i, 0, (enum eca_state)(i % 5), i + 1);
	apply_ok(r, 0, 60, 1, 0, ch, 50, 123456);
	eca_err_clear(&err);
	if (eca_roster_save(r, path, &err) != 0)
		fail_msg("save: %s", err.msg);
	/* saving again replaces the file atomically */
	if (eca_roster_save(r, path, &err) != 0)
		fail_msg("save: %s", err.msg);
	if (eca_roster_load(path, PRIMARY, &l, &err) != 0)
		fail_msg("load: %s", err.msg);
	assert_int_equal(eca_roster_count(l), 50);
	assert_int_equal(eca_roster_version(l), 60);
	assert_int_equal(eca_roster_synced_at(l), 123456);
	for (i = 0; i < 50; i++) {
		memset(&a, 0, sizeof(a));
		memset(&b, 0, sizeof(b));
		assert_int_equal(eca_roster_lookup_host(r, ch[i].host, &a), 0);
		assert_int_equal(eca_roster_lookup_host(l, ch[i].host, &b), 0);
		assert_memory_equal(&a, &b, sizeof(a));
		assert_int_equal(eca_roster_lookup_fp(l, a.fingerprint, &b), 0);
		assert_string_equal(b.host, ch[i].host);
	}
	eca_roster_free(l);
	/* an empty roster round-trips too */
	eca_roster_free(r);
	r = roster();
	if (eca_roster_save(r, path, &err) != 0)
		fail_msg("save: %s", err.msg);
	if (eca_roster_load(path, PRIMARY, &l, &err) != 0)
		fail_msg("load: %s", err.msg);
	assert_int_equal(eca_roster_count(l), 0);
	assert_int_equal(eca_roster_synced_at(l), 0);
	eca_roster_free(l);
	eca_roster_free(r);
	unlink(path);
}

static void
test_roster_path_is_under_state_dir(void **state)
{
	char buf[48];

	(void)state;
	assert_int_equal(
	    eca_roster_path("/var/lib/eca", PRIMARY, buf, sizeof(buf), NULL),
	    0);
	assert_string_equal(buf, "/var/lib/eca/roster-" PRIMARY ".bin");
	assert_int_equal(eca_roster_path("/a/very/long/state/directory/name",
			     PRIMARY, buf, sizeof(buf), NULL),
	    ECA_ERR_CONFIG);
}

static void
test_free_of_null_is_a_no_op(void **state)
{
	(void)state;
	eca_roster_free(NULL);
	eca_roster_delta_free(NULL);
	assert_int_equal(eca_roster_count(NULL), 0);
}

/* ------------------------------------------------------------------ */
/* DN mappings in the roster (issue 8 item 7).                         */

/* A body with entries ch and mappings m, through the primary's encoder. */
static char *
body_maps(int64_t since, int64_t next, int full, int more,
    const struct eca_change *ch, size_t n, const struct eca_dnmap *m, size_t nm)
{
	json_t *j;
	char *s;

	j = eca_wire_roster(&(struct eca_wire_roster_page){.primary = PRIMARY,
				.since = since,
				.version = next,
				.next = next,
				.full = full,
				.more = more},
	    ch, n);
	assert_non_null(j);
	if (nm > 0)
		assert_int_equal(eca_wire_roster_add_maps(j, m, nm), 0);
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	assert_non_null(s);
	return s;
}

static void
fake_map(struct eca_dnmap *m, const char *subject, const char *host,
    int removed, int64_t version)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->subject, sizeof(m->subject), "%s", subject);
	snprintf(m->host, sizeof(m->host), "%s", host);
	m->removed = removed;
	m->version = version;
}

static void
test_delta_with_bad_mappings_is_refused(void **state)
{
	struct eca_dnmap m[2];
	char *s;

	(void)state;
	/* not an array */
	s = strdup("{\"primary\":\"" PRIMARY "\",\"since\":0,\"version\":3,"
		   "\"next\":3,\"full\":true,\"more\":false,\"entries\":[],"
		   "\"mappings\":{}}");
	refused(s, ECA_ERR_PROTOCOL, "mappings");
	free(s);
	/* a bad host, an empty subject, no "removed" */
	s = strdup("{\"primary\":\"" PRIMARY "\",\"since\":0,\"version\":3,"
		   "\"next\":3,\"full\":true,\"more\":false,\"entries\":[],"
		   "\"mappings\":[{\"subject\":\"CN=a\",\"host\":\"-bad\","
		   "\"removed\":false,\"version\":1}]}");
	refused(s, ECA_ERR_PROTOCOL, "host");
	free(s);
	s = strdup("{\"primary\":\"" PRIMARY "\",\"since\":0,\"version\":3,"
		   "\"next\":3,\"full\":true,\"more\":false,\"entries\":[],"
		   "\"mappings\":[{\"subject\":\"\",\"host\":\"a.example\","
		   "\"removed\":false,\"version\":1}]}");
	refused(s, ECA_ERR_PROTOCOL, "subject");
	free(s);
	s = strdup("{\"primary\":\"" PRIMARY "\",\"since\":0,\"version\":3,"
		   "\"next\":3,\"full\":true,\"more\":false,\"entries\":[],"
		   "\"mappings\":[{\"subject\":\"CN=a\",\"host\":\"a.example\","
		   "\"version\":1}]}");
	refused(s, ECA_ERR_PROTOCOL, "removed");
	free(s);
	/* versions out of order, or beyond next */
	fake_map(&m[0], "CN=a", "a.example", 0, 2);
	fake_map(&m[1], "CN=b", "b.example", 0, 1);
	s = body_maps(0, 3, 1, 0, NULL, 0, m, 2);
	refused(s, ECA_ERR_PROTOCOL, "version");
	free(s);
	fake_map(&m[0], "CN=a", "a.example", 0, 9);
	s = body_maps(0, 3, 1, 0, NULL, 0, m, 1);
	refused(s, ECA_ERR_PROTOCOL, "version");
	free(s);
	/* a delta's mapping at or before since */
	fake_map(&m[0], "CN=a", "a.example", 0, 2);
	s = body_maps(2, 3, 0, 0, NULL, 0, m, 1);
	refused(s, ECA_ERR_PROTOCOL, "version");
	free(s);
}

static void
test_mappings_apply_lookup_and_persist(void **state)
{
	struct eca_roster *r = roster(), *l = NULL;
	struct eca_change ch[2];
	struct eca_dnmap m[3];
	struct eca_err err;
	char host[ECA_HOST_MAX], path[256], *s;

	(void)state;
	fake_change(&ch[0], 1, 0, ECA_STATE_ENROLLED, 1);
	fake_change(&ch[1], 2, 0, ECA_STATE_ENROLLED, 4);
	fake_map(&m[0], "CN=one", "host-1.example", 0, 2);
	fake_map(&m[1], "CN=two", "host-2.example", 0, 3);
	s = body_maps(0, 4, 1, 0, ch, 2, m, 2);
	eca_err_clear(&err);
	if (apply_body(r, s, 100, &err) != 0)
		fail_msg("%s", err.msg);
	free(s);
	assert_int_equal(eca_roster_map_count(r), 2);
	assert_int_equal(eca_roster_lookup_dn(r, "CN=two", host, sizeof(host)),
	    0);
	assert_string_equal(host, "host-2.example");
	assert_int_equal(
	    eca_roster_lookup_dn(r, "CN=three", host, sizeof(host)),
	    ECA_ERR_NOT_FOUND);
	/* a delta: one removed, one host given a new subject */
	fake_map(&m[0], "CN=one", "host-1.example", 1, 5);
	fake_map(&m[1], "CN=two bis", "host-2.example", 0, 6);
	s = body_maps(4, 6, 0, 0, NULL, 0, m, 2);
	if (apply_body(r, s, 200, &err) != 0)
		fail_msg("%s", err.msg);
	free(s);
	assert_int_equal(eca_roster_lookup_dn(r, "CN=one", host, sizeof(host)),
	    ECA_ERR_NOT_FOUND);
	/* the host's old subject no longer names it */
	assert_int_equal(eca_roster_lookup_dn(r, "CN=two", host, sizeof(host)),
	    ECA_ERR_NOT_FOUND);
	assert_int_equal(
	    eca_roster_lookup_dn(r, "CN=two bis", host, sizeof(host)), 0);
	assert_string_equal(host, "host-2.example");
	assert_int_equal(eca_roster_map_count(r), 1);
	/* saved and loaded (file format 2) */
	tmp_path(path, sizeof(path), "maps");
	if (eca_roster_save(r, path, &err) != 0)
		fail_msg("save: %s", err.msg);
	if (eca_roster_load(path, PRIMARY, &l, &err) != 0)
		fail_msg("load: %s", err.msg);
	assert_int_equal(eca_roster_map_count(l), 1);
	assert_int_equal(
	    eca_roster_lookup_dn(l, "CN=two bis", host, sizeof(host)), 0);
	assert_string_equal(host, "host-2.example");
	assert_int_equal(eca_roster_count(l), 2);
	eca_roster_free(l);
	unlink(path);
	/* a full answer replaces the mappings too */
	s = body_maps(0, 6, 1, 0, ch, 2, NULL, 0);
	if (apply_body(r, s, 300, &err) != 0)
		fail_msg("%s", err.msg);
	free(s);
	assert_int_equal(eca_roster_map_count(r), 0);
	eca_roster_free(r);
}

static void
test_page_ending_on_a_mapping_carries_on(void **state)
{
	struct eca_roster *r = roster();
	struct eca_change ch[1];
	struct eca_dnmap m[1];
	struct eca_err err;
	char host[ECA_HOST_MAX], *s;

	(void)state;
	/* more follows and next is the mapping's version, after the entry */
	fake_change(&ch[0], 1, 0, ECA_STATE_ENROLLED, 1);
	fake_map(&m[0], "CN=one", "host-1.example", 0, 2);
	s = body_maps(0, 2, 1, 1, ch, 1, m, 1);
	eca_err_clear(&err);
	if (apply_body(r, s, 100, &err) != 0)
		fail_msg("%s", err.msg);
	free(s);
	assert_int_equal(eca_roster_version(r), 2);
	assert_int_equal(eca_roster_lookup_dn(r, "CN=one", host, sizeof(host)),
	    0);
	/* but a next that is not the page's last version is refused */
	s = body_maps(2, 3, 0, 1, NULL, 0, NULL, 0);
	refused(s, ECA_ERR_PROTOCOL, "more follows");
	free(s);
	eca_roster_free(r);
}

static void
put_le(unsigned char *b, size_t *off, uint64_t v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		b[(*off)++] = (unsigned char)(v >> (8 * i));
}

static void
test_roster_file_of_format_1_still_loads(void **state)
{
	unsigned char b[256];
	struct eca_roster *l = NULL;
	struct eca_err err;
	char path[256];
	size_t off = 0, plen = strlen(PRIMARY);
	unsigned int mdlen = 0;
	FILE *fp;

	(void)state;
	/* what an eca from before the mappings wrote: no mapping section */
	memcpy(b, "ECAROST1", 8);
	off = 8;
	put_le(b, &off, 1, 4);
	put_le(b, &off, 0, 4);
	put_le(b, &off, 7, 8);	   /* version */
	put_le(b, &off, 12345, 8); /* synced_at */
	put_le(b, &off, 0, 8);	   /* records */
	put_le(b, &off, plen, 2);
	memcpy(b + off, PRIMARY, plen);
	off += plen;
	assert_int_equal(
	    EVP_Digest(b, off, b + off, &mdlen, EVP_sha256(), NULL), 1);
	off += mdlen;
	tmp_path(path, sizeof(path), "v1");
	assert_non_null(fp = fopen(path, "wb"));
	assert_int_equal(fwrite(b, 1, off, fp), off);
	assert_int_equal(fclose(fp), 0);
	eca_err_clear(&err);
	if (eca_roster_load(path, PRIMARY, &l, &err) != 0)
		fail_msg("load: %s", err.msg);
	/* its version is no base for a delta: the next sync is full */
	assert_int_equal(eca_roster_version(l), 0);
	assert_int_equal(eca_roster_synced_at(l), 12345);
	assert_int_equal(eca_roster_map_count(l), 0);
	eca_roster_free(l);
	unlink(path);
}

/* ------------------------------------------------------------------ */
/* Files written by hand (valid checksum), bad records first.          */

struct frec {
	const char *host;
	unsigned state;
	int64_t version;
	unsigned name_len; /* 0: strlen(host) */
};

/*
 * A roster file of format fmt with records recs (count claimed as count),
 * its SHA-256 right; returns the path's size.
 */
static void
hand_file(const char *path, unsigned fmt, int64_t version, uint64_t count,
    const struct frec *recs, size_t n)
{
	unsigned char *b;
	size_t off = 0, plen = strlen(PRIMARY), i, nl;
	unsigned int mdlen = 0;
	uint8_t fp[ECA_ROSTER_FP_LEN];
	FILE *f;

	b = calloc(1, 4096 + n * 400);
	assert_non_null(b);
	memcpy(b, "ECAROST1", 8);
	off = 8;
	put_le(b, &off, fmt, 4);
	put_le(b, &off, 0, 4);
	put_le(b, &off, (uint64_t)version, 8);
	put_le(b, &off, 777, 8);
	put_le(b, &off, count, 8);
	put_le(b, &off, plen, 2);
	memcpy(b + off, PRIMARY, plen);
	off += plen;
	for (i = 0; i < n; i++) {
		fake_fp((unsigned)i, 0, fp);
		memcpy(b + off, fp, 32);
		fake_fp((unsigned)i, 1000, fp);
		memcpy(b + off + 32, fp, 32);
		memset(b + off + 64, 0x11, 16);
		off += 80;
		put_le(b, &off, 1800000000, 8);
		put_le(b, &off, (uint64_t)recs[i].version, 8);
		put_le(b, &off, recs[i].state, 1);
		nl = recs[i].name_len != 0 ? recs[i].name_len :
					     strlen(recs[i].host);
		put_le(b, &off, nl, 1);
		memcpy(b + off, recs[i].host, strlen(recs[i].host));
		off += nl;
	}
	if (fmt >= 2)
		put_le(b, &off, 0, 4); /* no mappings */
	assert_int_equal(
	    EVP_Digest(b, off, b + off, &mdlen, EVP_sha256(), NULL), 1);
	off += mdlen;
	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(b, 1, off, f), off);
	assert_int_equal(fclose(f), 0);
	free(b);
}

static void
test_roster_file_with_bad_records_is_refused(void **state)
{
	const struct frec twice[] = {{"a.example", 0, 1, 0},
	    {"b.example", 0, 2, 0}, {"a.example", 0, 3, 0}};
	const struct frec spellings[] = {{"a.example", 0, 1, 0},
	    {"A.Example", 0, 2, 0}};
	const struct frec bad_name[] = {{"a_b.example", 0, 1, 0}};
	const struct frec nul_name[] = {{"a\0b.example", 0, 1, 11}};
	const struct frec no_name[] = {{"", 0, 1, 0}};
	const struct frec bad_state[] = {{"a.example", 99, 1, 0}};
	const struct frec newer[] = {{"a.example", 0, 9, 0}};
	const struct frec zero[] = {{"a.example", 0, 0, 0}};
	char path[256];

	(void)state;
	tmp_path(path, sizeof(path), "hand");
	hand_file(path, 2, 3, 3, twice, 3);
	load_refused(path, ECA_ERR_PARSE, "a host listed twice");
	hand_file(path, 2, 3, 2, spellings, 2);
	load_refused(path, ECA_ERR_PARSE, "a host listed twice");
	hand_file(path, 2, 3, 1, bad_name, 1);
	load_refused(path, ECA_ERR_PARSE, "an invalid host name");
	hand_file(path, 2, 3, 1, nul_name, 1);
	load_refused(path, ECA_ERR_PARSE, "an invalid host name");
	hand_file(path, 2, 3, 1, no_name, 1);
	load_refused(path, ECA_ERR_PARSE, "bad length");
	hand_file(path, 2, 3, 1, bad_state, 1);
	load_refused(path, ECA_ERR_PARSE, "an unknown state");
	hand_file(path, 2, 3, 1, newer, 1);
	load_refused(path, ECA_ERR_PARSE, "newer than the roster");
	hand_file(path, 2, 3, 1, zero, 1);
	load_refused(path, ECA_ERR_PARSE, "newer than the roster");
	/* more records claimed than there are, or than the bytes could be */
	hand_file(path, 2, 3, 2, newer, 1);
	load_refused(path, ECA_ERR_PARSE, NULL);
	hand_file(path, 2, 3, 1000000, newer, 1);
	load_refused(path, ECA_ERR_PARSE, "more records than it holds");
	/* fewer: the rest is not a mapping section */
	hand_file(path, 2, 3, 1, twice, 3);
	load_refused(path, ECA_ERR_PARSE, NULL);
	unlink(path);
}

static void
test_roster_file_of_format_1_keeps_its_records(void **state)
{
	const struct frec recs[] = {{"a.example", ECA_STATE_ENROLLED, 1, 0},
	    {"MEDIA.Example", ECA_STATE_BANNED, 4, 0}};
	struct eca_roster_entry e;
	struct eca_roster *l = NULL;
	struct eca_err err;
	uint8_t fp[ECA_ROSTER_FP_LEN];
	char path[256];

	(void)state;
	tmp_path(path, sizeof(path), "v1recs");
	hand_file(path, 1, 5, 2, recs, 2);
	eca_err_clear(&err);
	if (eca_roster_load(path, PRIMARY, &l, &err) != 0)
		fail_msg("load: %s", err.msg);
	assert_int_equal(eca_roster_count(l), 2);
	assert_int_equal(eca_roster_version(l), 0); /* refetched in full */
	/* a name written before names were canonical is folded */
	assert_int_equal(eca_roster_lookup_host(l, "media.example", &e), 0);
	assert_int_equal(e.state, ECA_STATE_BANNED);
	assert_string_equal(e.host, "media.example");
	assert_string_equal(e.host_id, "11111111-1111-1111-1111-111111111111");
	fake_fp(1, 0, fp);
	assert_int_equal(eca_roster_lookup_fp(l, fp, &e), 0);
	assert_string_equal(e.host, "media.example");
	eca_roster_free(l);
	unlink(path);
}

/* ------------------------------------------------------------------ */
/* The one-pass decoder and the jansson one agree.                     */

/* s with the first `from` replaced by `to` (caller frees). */
static char *
replaced(const char *s, const char *from, const char *to)
{
	const char *p = strstr(s, from);
	size_t len = strlen(s) + strlen(to) + 1;
	char *out;

	assert_non_null(p);
	out = malloc(len);
	assert_non_null(out);
	snprintf(out, len, "%.*s%s%s", (int)(p - s), s, to, p + strlen(from));
	return out;
}

/*
 * text decodes to a; fast: whether the one-pass decoder takes it (else it
 * is left to jansson).
 */
static void
same_delta(const struct eca_roster_delta *a, const char *text, int fast)
{
	struct eca_roster_delta *b = NULL;
	struct eca_err err;

	assert_int_equal(eca_roster_scan(text, strlen(text), &b), fast ? 0 : 1);
	eca_roster_delta_free(b);
	b = NULL;
	eca_err_clear(&err);
	if (parse(text, &b, &err) != 0)
		fail_msg("parse: %s (%s)", err.msg, text);
	assert_string_equal(a->primary, b->primary);
	assert_int_equal(a->since, b->since);
	assert_int_equal(a->version, b->version);
	assert_int_equal(a->next, b->next);
	assert_int_equal(a->full, b->full);
	assert_int_equal(a->more, b->more);
	assert_int_equal(a->n, b->n);
	assert_memory_equal(a->entries, b->entries, a->n * sizeof(*a->entries));
	eca_roster_delta_free(b);
}

/*
 * The NAT flag: "nat" only on a NAT host's entry, decoded by both
 * decoders (anything but a bool refused), kept by the index and the file.
 */
static void
test_nat_flag_travels_in_the_roster_and_its_file(void **state)
{
	struct eca_roster *r = roster(), *l = NULL;
	struct eca_roster_delta *d = NULL;
	struct eca_roster_entry e;
	struct eca_change ch[6];
	struct eca_err err;
	char path[256], *s, *bad;
	const char *p;
	unsigned i;

	(void)state;
	for (i = 0; i < 6; i++) {
		fake_change(&ch[i], i, 0, ECA_STATE_ENROLLED, i + 1);
		ch[i].nat = i % 3 == 0;
	}
	s = body_of(PRIMARY, 0, 6, 1, 0, ch, 6);
	/* a NAT host's entry only: two of six */
	p = strstr(s, "\"nat\":true");
	assert_non_null(p);
	p = strstr(p + 1, "\"nat\":true");
	assert_non_null(p);
	assert_null(strstr(p + 1, "\"nat\""));
	bad = replaced(s, "\"nat\":true", "\"nat\":\"yes\"");
	refused(bad, ECA_ERR_PROTOCOL, "nat");
	free(bad);
	/* the fast path takes it, and agrees with jansson */
	assert_int_equal(eca_roster_scan(s, strlen(s), &d), 0);
	for (i = 0; i < 6; i++)
		assert_int_equal(d->entries[i].nat, i % 3 == 0);
	same_delta(d, s, 1);
	eca_roster_delta_free(d);
	free(s);
	apply_ok(r, 0, 6, 1, 0, ch, 6, 1000);
	tmp_path(path, sizeof(path), "nat");
	eca_err_clear(&err);
	if (eca_roster_save(r, path, &err) != 0 ||
	    eca_roster_load(path, PRIMARY, &l, &err) != 0)
		fail_msg("save/load: %s", err.msg);
	for (i = 0; i < 6; i++) {
		assert_int_equal(eca_roster_lookup_host(r, ch[i].host, &e), 0);
		assert_int_equal(e.nat, i % 3 == 0);
		assert_int_equal(eca_roster_lookup_host(l, ch[i].host, &e), 0);
		assert_int_equal(e.nat, i % 3 == 0);
	}
	/* a later delta clears it */
	ch[0].nat = 0;
	ch[0].version = 7;
	apply_ok(r, 6, 7, 0, 0, ch, 1, 1001);
	assert_int_equal(eca_roster_lookup_host(r, ch[0].host, &e), 0);
	assert_int_equal(e.nat, 0);
	eca_roster_free(l);
	eca_roster_free(r);
	unlink(path);
}

static void
test_fast_decoder_refuses_what_jansson_refuses(void **state)
{
	struct eca_change ch[2];
	char *s, *t;

	(void)state;
	fake_change(&ch[0], 1, 0, ECA_STATE_ENROLLED, 1);
	fake_change(&ch[1], 2, 0, ECA_STATE_REMOVED, 2);
	s = body_of(PRIMARY, 0, 2, 1, 0, ch, 2);
	/* a key twice in an entry, or at the top */
	t = replaced(s, "\"version\":1", "\"version\":1,\"version\":1");
	refused(t, ECA_ERR_PROTOCOL, "not JSON");
	free(t);
	t = replaced(s, "\"full\":true", "\"full\":true,\"full\":true");
	refused(t, ECA_ERR_PROTOCOL, "not JSON");
	free(t);
	/* numbers JSON does not have, bytes after the object */
	t = replaced(s, "\"version\":1", "\"version\":01");
	refused(t, ECA_ERR_PROTOCOL, "not JSON");
	free(t);
	t = replaced(s, "\"version\":1", "\"version\":+1");
	refused(t, ECA_ERR_PROTOCOL, "not JSON");
	free(t);
	t = replaced(s, "\"version\":1", "\"version\":99999999999999999999");
	refused(t, ECA_ERR_PROTOCOL, NULL);
	free(t);
	t = replaced(s, "\"version\":1", "\"version\":1.0");
	refused(t, ECA_ERR_PROTOCOL, "version");
	free(t);
	t = replaced(s, "\"more\":false", "\"more\":fals");
	refused(t, ECA_ERR_PROTOCOL, "not JSON");
	free(t);
	t = replaced(s, "]}", "]}x");
	refused(t, ECA_ERR_PROTOCOL, "not JSON");
	free(t);
	t = replaced(s, "]}", "],}");
	refused(t, ECA_ERR_PROTOCOL, "not JSON");
	free(t);
	/* a name that is not one, spelt plainly or escaped */
	t = replaced(s, "host-1.example", "host-\xc3\xa9.example");
	refused(t, ECA_ERR_PROTOCOL, "host");
	free(t);
	t = replaced(s, "host-1.example", "host-1\\u0000.example");
	refused(t, ECA_ERR_PROTOCOL, "not JSON");
	free(t);
	/* a field missing from the second entry */
	t = replaced(s, ",\"version\":2", "");
	refused(t, ECA_ERR_PROTOCOL, "version");
	free(t);
	free(s);
}

static void
test_pages_written_otherwise_decode_the_same(void **state)
{
	struct eca_roster_delta *d = NULL;
	struct eca_change ch[3];
	struct eca_err err;
	json_t *j;
	char *s, *t;
	unsigned i;

	(void)state;
	for (i = 0; i < 3; i++)
		fake_change(&ch[i], i, 0, ECA_STATE_ENROLLED, i + 1);
	snprintf(ch[1].host, sizeof(ch[1].host), "Media-1.Example");
	s = body_of(PRIMARY, 0, 3, 1, 0, ch, 3);
	eca_err_clear(&err);
	if (parse(s, &d, &err) != 0)
		fail_msg("parse: %s", err.msg);
	assert_int_equal(d->n, 3);
	assert_string_equal(d->entries[1].host, "media-1.example");
	/* indented */
	j = json_loads(s, 0, NULL);
	assert_non_null(j);
	t = json_dumps(j, JSON_INDENT(3));
	json_decref(j);
	same_delta(d, s, 1);
	same_delta(d, t, 1);
	free(t);
	/* keys in another order, an unknown key, an escaped character */
	t = replaced(s, "{\"primary\"",
	    "{\"newer\":{\"a\":[1,2.5,null,\"\\\"\"]},\"primary\"");
	same_delta(d, t, 0);
	free(t);
	t = replaced(s, "Media-1", "Media\\u002d1");
	same_delta(d, t, 0);
	free(t);
	t = replaced(s, "\"more\":false", "\"more\":false ");
	same_delta(d, t, 1);
	free(t);
	t = replaced(s, "\"host\":\"host-0.example\",",
	    "\"extra\":true,\"host\":\"host-0.example\",");
	same_delta(d, t, 0);
	free(t);
	eca_roster_delta_free(d);
	free(s);
}

/* ------------------------------------------------------------------ */
/* The index.                                                          */

static void
test_names_that_prefix_each_other_are_distinct(void **state)
{
	const char *names[] = {"a.example", "a.example.com", "a.exampl",
	    "b.a.example", "a-example"};
	struct eca_roster_entry e;
	struct eca_roster *r = roster();
	struct eca_change ch[5];
	unsigned i;

	(void)state;
	for (i = 0; i < 5; i++) {
		fake_change(&ch[i], i, 0, ECA_STATE_ENROLLED, i + 1);
		snprintf(ch[i].host, sizeof(ch[i].host), "%s", names[i]);
	}
	apply_ok(r, 0, 2, 1, 0, ch, 2, 1000);
	/* the shorter and longer spellings are not the held ones */
	assert_int_equal(eca_roster_lookup_host(r, "a.exampl", &e),
	    ECA_ERR_NOT_FOUND);
	assert_int_equal(eca_roster_lookup_host(r, "a.example.co", &e),
	    ECA_ERR_NOT_FOUND);
	assert_int_equal(eca_roster_lookup_host(r, "a.example.com.x", &e),
	    ECA_ERR_NOT_FOUND);
	apply_ok(r, 2, 5, 0, 0, ch + 2, 3, 1001);
	assert_int_equal(eca_roster_count(r), 5);
	for (i = 0; i < 5; i++) {
		assert_int_equal(eca_roster_lookup_host(r, names[i], &e), 0);
		assert_string_equal(e.host, names[i]);
		assert_int_equal(e.version, i + 1);
	}
	eca_roster_free(r);
}

static void
test_one_certificate_twice_answers_the_last(void **state)
{
	struct eca_roster_entry e;
	struct eca_roster *r = roster();
	struct eca_change ch[2];
	uint8_t fp[ECA_ROSTER_FP_LEN];

	(void)state;
	fake_change(&ch[0], 1, 0, ECA_STATE_ENROLLED, 1);
	fake_change(&ch[1], 2, 0, ECA_STATE_ENROLLED, 2);
	/* host 2 holds host 1's certificate */
	memcpy(ch[1].fingerprint, ch[0].fingerprint, sizeof(ch[0].fingerprint));
	apply_ok(r, 0, 2, 1, 0, ch, 2, 1000);
	fake_fp(1, 0, fp);
	assert_int_equal(eca_roster_lookup_fp(r, fp, &e), 0);
	assert_string_equal(e.host, "host-2.example");
	/* host 2 renews: its new certificate answers for it */
	fake_change(&ch[0], 2, 7, ECA_STATE_ENROLLED, 3);
	apply_ok(r, 2, 3, 0, 0, ch, 1, 1001);
	fake_fp(2, 7, fp);
	assert_int_equal(eca_roster_lookup_fp(r, fp, &e), 0);
	assert_string_equal(e.host, "host-2.example");
	assert_int_equal(eca_roster_count(r), 2);
	eca_roster_free(r);
}

static void
test_host_on_two_pages_of_a_full_sync_is_one_record(void **state)
{
	struct eca_roster_entry e;
	struct eca_roster *r = roster(), *l = NULL;
	struct eca_change ch[3];
	struct eca_err err;
	char path[256];

	(void)state;
	/* host 1 changed while the sync was between its pages */
	fake_change(&ch[0], 1, 0, ECA_STATE_ENROLLED, 1);
	fake_change(&ch[1], 2, 0, ECA_STATE_ENROLLED, 2);
	apply_ok(r, 0, 2, 1, 1, ch, 2, 1000);
	fake_change(&ch[0], 3, 0, ECA_STATE_ENROLLED, 3);
	fake_change(&ch[1], 1, 1, ECA_STATE_REMOVED, 4);
	apply_ok(r, 2, 4, 0, 0, ch, 2, 1001);
	assert_int_equal(eca_roster_count(r), 3);
	assert_int_equal(eca_roster_lookup_host(r, "host-1.example", &e), 0);
	assert_int_equal(e.state, ECA_STATE_REMOVED);
	assert_int_equal(e.version, 4);
	/* and the file holds it once */
	tmp_path(path, sizeof(path), "twopages");
	eca_err_clear(&err);
	assert_int_equal(eca_roster_save(r, path, &err), 0);
	if (eca_roster_load(path, PRIMARY, &l, &err) != 0)
		fail_msg("load: %s", err.msg);
	assert_int_equal(eca_roster_count(l), 3);
	assert_int_equal(eca_roster_lookup_host(l, "host-1.example", &e), 0);
	assert_int_equal(e.version, 4);
	unlink(path);
	eca_roster_free(l);
	eca_roster_free(r);
}

/* A valid name of len bytes (1 to 253): labels of 50 letters and digits. */
static void
name_of_length(char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = i % 51 == 50 && i + 1 < len ?
		    '.' :
		    "abcdefghijklmnopqrstuvwxyz0123456789"[(i * 7 + len) % 36];
	buf[len] = '\0';
}

/*
 * Names of every length are found as held and in capitals, by name and by
 * certificate, and come back whole; a name one byte off finds nothing.
 * (Lookups read a name in words of 8 and copy it in moves of 16, 8 and 4
 * bytes: every length meets every tail.)
 */
static void
test_names_of_every_length_are_found_whole(void **state)
{
	enum { N = ECA_HOSTNAME_MAX_LEN };
	struct eca_roster_entry e;
	struct eca_roster *r = roster();
	struct eca_change *ch = calloc(N, sizeof(*ch));
	char name[ECA_HOST_MAX], upper[ECA_HOST_MAX];
	uint8_t fp[ECA_ROSTER_FP_LEN];
	size_t len, i, at;
	char was;

	(void)state;
	assert_non_null(ch);
	for (i = 0; i < N; i++) {
		fake_change(&ch[i], (unsigned)i, 0, ECA_STATE_ENROLLED,
		    (int64_t)i + 1);
		name_of_length(ch[i].host, i + 1);
	}
	apply_ok(r, 0, N, 1, 0, ch, N, 1000);
	assert_int_equal(eca_roster_count(r), N);
	for (len = 1; len <= N; len++) {
		name_of_length(name, len);
		for (i = 0; i <= len; i++)
			upper[i] = name[i] >= 'a' && name[i] <= 'z' ?
			    (char)(name[i] - 'a' + 'A') :
			    name[i];
		memset(&e, 'x', sizeof(e));
		assert_int_equal(eca_roster_lookup_host(r, name, &e), 0);
		assert_string_equal(e.host, name);
		assert_int_equal(e.version, (int64_t)len);
		memset(&e, 'x', sizeof(e));
		assert_int_equal(eca_roster_lookup_host(r, upper, &e), 0);
		assert_string_equal(e.host, name);
		fake_fp((unsigned)len - 1, 0, fp);
		memset(&e, 'x', sizeof(e));
		assert_int_equal(eca_roster_lookup_fp(r, fp, &e), 0);
		assert_string_equal(e.host, name);
		/* one byte off, anywhere: no other name of that length is held */
		for (at = 0; at < len; at++) {
			if (name[at] == '.')
				continue;
			was = upper[at];
			upper[at] = name[at] == '9' ? '8' : '9';
			assert_int_equal(eca_roster_lookup_host(r, upper, &e),
			    ECA_ERR_NOT_FOUND);
			upper[at] = was;
		}
	}
	free(ch);
	eca_roster_free(r);
}

/*
 * Two names of one length whose hashes share a home and a tag in a table of
 * `slots`, made from fmt with numbers from 0 (the index then compares the
 * names themselves).
 */
static void
names_that_collide(const char *fmt, size_t slots, char *a, char *b)
{
	enum { SEEN = 1 << 14 };
	static unsigned seen[SEEN]; /* home and tag -> number + 1 */
	uint64_t h;
	unsigned i, k;

	memset(seen, 0, sizeof(seen));
	for (i = 0; i < 100000; i++) {
		snprintf(b, ECA_HOST_MAX, fmt, i);
		h = eca_roster_hash_name(b, strlen(b));
		k = (unsigned)((h & (slots - 1)) << 7 | h >> 57) % SEEN;
		if (seen[k] != 0) {
			snprintf(a, ECA_HOST_MAX, fmt, seen[k] - 1);
			h ^= eca_roster_hash_name(a, strlen(a));
			if ((h & (slots - 1)) == 0 && h >> 57 == 0)
				return;
		}
		seen[k] = i + 1;
	}
	fail_msg("no two names of \"%s\" collide", fmt);
}

/*
 * A name is found only as itself, even when its hash is another's: the
 * names differ in a name shorter than a word, only in its first word, or
 * only in its last.
 */
static void
test_names_whose_hashes_collide_are_told_apart(void **state)
{
	const char *fmts[] = {"a%04u", "%05u.example", "example.h%04u"};
	struct eca_roster_entry e;
	struct eca_change ch[2];
	char a[ECA_HOST_MAX], b[ECA_HOST_MAX];
	struct eca_roster *r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		r = roster();
		fake_change(&ch[0], 1, 0, ECA_STATE_ENROLLED, 1);
		fake_change(&ch[1], 2, 0, ECA_STATE_ENROLLED, 2);
		snprintf(ch[0].host, sizeof(ch[0].host), "placeholder");
		apply_ok(r, 0, 1, 1, 0, ch, 1, 1000);
		names_that_collide(fmts[i], r->slots, a, b);
		snprintf(ch[0].host, sizeof(ch[0].host), "%s", a);
		snprintf(ch[1].host, sizeof(ch[1].host), "%s", b);
		apply_ok(r, 0, 1, 1, 0, ch, 1, 1001);
		assert_int_equal(eca_roster_lookup_host(r, a, &e), 0);
		assert_int_equal(eca_roster_lookup_host(r, b, &e),
		    ECA_ERR_NOT_FOUND);
		apply_ok(r, 1, 2, 0, 0, ch + 1, 1, 1002);
		assert_int_equal(eca_roster_lookup_host(r, a, &e), 0);
		assert_string_equal(e.host, a);
		assert_int_equal(eca_roster_lookup_host(r, b, &e), 0);
		assert_string_equal(e.host, b);
		eca_roster_free(r);
	}
}

/* A host ID prints as the text it was read from, every byte value. */
static void
test_host_id_prints_as_it_was_read(void **state)
{
	uint8_t raw[ROSTER_UUID_RAW], back[ROSTER_UUID_RAW];
	char want[ECA_HOST_ID_LEN + 1], got[ECA_HOST_ID_LEN + 1];
	unsigned v, k;

	(void)state;
	for (v = 0; v < 256; v++) {
		for (k = 0; k < ROSTER_UUID_RAW; k++)
			raw[k] = (uint8_t)(v + 37 * k);
		snprintf(want, sizeof(want),
		    "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		    "%02x%02x%02x%02x%02x%02x",
		    raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], raw[6],
		    raw[7], raw[8], raw[9], raw[10], raw[11], raw[12], raw[13],
		    raw[14], raw[15]);
		memset(got, 'x', sizeof(got));
		eca_roster_uuid_text(raw, got);
		assert_string_equal(got, want);
		assert_int_equal(eca_roster_uuid_parse(got, back), 0);
		assert_memory_equal(back, raw, sizeof(raw));
	}
}

#define U(f) cmocka_unit_test(f)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    U(test_delta_that_is_not_json_is_refused),
	    U(test_delta_that_is_not_an_object_is_refused),
	    U(test_delta_with_missing_or_wrong_typed_fields_is_refused),
	    U(test_entry_with_bad_fields_is_refused),
	    U(test_oversize_delta_is_refused),
	    U(test_delta_with_versions_out_of_order_is_refused),
	    U(test_delta_from_another_primary_is_not_applied),
	    U(test_delta_that_does_not_follow_the_version_is_not_applied),
	    U(test_bad_primary_name_is_refused),
	    U(test_lookup_of_unknown_host_or_fingerprint_is_not_found),
	    U(test_names_in_mixed_case_are_one_host),
	    U(test_missing_roster_file_is_not_found),
	    U(test_corrupt_roster_file_is_refused),
	    U(test_roster_file_with_wrong_checksum_is_refused),
	    U(test_truncated_roster_file_is_refused),
	    U(test_roster_file_of_another_primary_is_refused),
	    U(test_never_synced_roster_is_stale),
	    U(test_roster_older_than_max_age_is_stale),
	    U(test_incomplete_sync_does_not_refresh),
	    U(test_config_max_age_out_of_range_is_refused),
	    U(test_config_max_age_defaults_to_an_hour),
	    U(test_decoder_reads_what_the_primary_writes),
	    U(test_apply_adds_replaces_and_removes),
	    U(test_many_hosts_stay_findable_through_growth_and_renewals),
	    U(test_save_and_load_round_trip),
	    U(test_roster_path_is_under_state_dir),
	    U(test_free_of_null_is_a_no_op),
	    U(test_delta_with_bad_mappings_is_refused),
	    U(test_mappings_apply_lookup_and_persist),
	    U(test_page_ending_on_a_mapping_carries_on),
	    U(test_roster_file_of_format_1_still_loads),
	    U(test_roster_file_with_bad_records_is_refused),
	    U(test_roster_file_of_format_1_keeps_its_records),
	    U(test_fast_decoder_refuses_what_jansson_refuses),
	    U(test_nat_flag_travels_in_the_roster_and_its_file),
	    U(test_pages_written_otherwise_decode_the_same),
	    U(test_names_that_prefix_each_other_are_distinct),
	    U(test_one_certificate_twice_answers_the_last),
	    U(test_host_on_two_pages_of_a_full_sync_is_one_record),
	    U(test_names_of_every_length_are_found_whole),
	    U(test_names_whose_hashes_collide_are_told_apart),
	    U(test_host_id_prints_as_it_was_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
