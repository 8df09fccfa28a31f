/* SPDX-License-Identifier: ISC */
/* test_audit.c - the hash-chained audit journal. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "audit.h"

#define NLINES_MAX 16
#define ZEROS "0000000000000000000000000000000000000000000000000000000000000000"

struct fixture {
	char dir[64];
	char path[128];
};

static int
setup(void **state)
{
	struct fixture *f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/eca-test-audit-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/audit.jsonl", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	char p[160];
	int i;

	unlink(f->path);
	for (i = 1; i <= 3; i++) {
		snprintf(p, sizeof(p), "%s.%d", f->path, i);
		unlink(p);
	}
	snprintf(p, sizeof(p), "%s.3.gz", f->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s.unjoined-5-6", f->path);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
fill(struct eca_audit_entry *e, const char *event, const char *host,
    const char *reason)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->event, sizeof(e->event), "%s", event);
	snprintf(e->host, sizeof(e->host), "%s", host);
	snprintf(e->actor, sizeof(e->actor), "%s", host);
	snprintf(e->fingerprint, sizeof(e->fingerprint), "%064x", 0xab);
	snprintf(e->spki_fingerprint, sizeof(e->spki_fingerprint), "%064x",
	    0xcd);
	snprintf(e->source, sizeof(e->source), "192.0.2.7:40000");
	snprintf(e->reason, sizeof(e->reason), "%s", reason);
}

/* A journal of n entries (hosts h1..hn, every third one a refusal). */
static void
make_journal(const char *path, size_t n)
{
	struct eca_audit_entry e[NLINES_MAX];
	struct eca_audit *a = NULL;
	struct eca_err err;
	char host[16];
	size_t i;

	assert_true(n <= NLINES_MAX);
	for (i = 0; i < n; i++) {
		snprintf(host, sizeof(host), "h%zu", i + 1);
		fill(&e[i], i % 3 == 2 ? "refused" : "enrolled", host,
		    i % 3 == 2 ? "UNTRUSTED" : "");
	}
	assert_int_equal(eca_audit_open(path, &a, &err), 0);
	assert_int_equal(eca_audit_append(a, e, n, &err), 0);
	assert_int_equal(eca_audit_last_seq(a), (int64_t)n);
	eca_audit_close(a);
}

struct lines {
	char *v[NLINES_MAX + 2];
	size_t n;
};

static void
read_lines(const char *path, struct lines *l)
{
	char *line = NULL;
	size_t cap = 0;
	FILE *fp;

	memset(l, 0, sizeof(*l));
	assert_non_null(fp = fopen(path, "r"));
	while (getline(&line, &cap, fp) > 0) {
		assert_true(l->n < NLINES_MAX + 2);
		assert_non_null(l->v[l->n++] = strdup(line));
	}
	free(line);
	fclose(fp);
}

static void
write_lines(const char *path, struct lines *l)
{
	FILE *fp;
	size_t i;

	assert_non_null(fp = fopen(path, "w"));
	for (i = 0; i < l->n; i++) {
		if (l->v[i] != NULL)
			fputs(l->v[i], fp);
		free(l->v[i]);
		l->v[i] = NULL;
	}
	fclose(fp);
}

static void
verify_bad(const char *path, size_t line, const char *prefix)
{
	struct eca_audit_report rep;
	struct eca_err err;

	assert_int_equal(eca_audit_verify(path, &rep, &err), 0);
	assert_false(rep.intact);
	assert_int_equal(rep.first_bad_line, line);
	assert_int_equal(rep.entries, line - 1);
	if (strncmp(rep.problem, prefix, strlen(prefix)) != 0)
		fail_msg("problem '%s' does not start with '%s'", rep.problem,
		    prefix);
}

/* Replace the first occurrence of from by to in s (same length). */
static void
patch(char *s, const char *from, const char *to)
{
	char *p = strstr(s, from);

	assert_non_null(p);
	assert_int_equal(strlen(from), strlen(to));
	memcpy(p, to, strlen(to));
}

/* The whole file at path, NUL ended (the caller's). */
static char *
slurp(const char *path)
{
	char *buf;
	long n;
	FILE *fp;

	assert_non_null(fp = fopen(path, "r"));
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	assert_true((n = ftell(fp)) >= 0);
	rewind(fp);
	assert_non_null(buf = calloc(1, (size_t)n + 1));
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	return buf;
}

/* Lines from..to (1-based) of a journal's text, the caller's. */
static char *
lines_of(const char *text, size_t from, size_t to)
{
	const char *p = text, *start = NULL;
	size_t line = 1;

	for (; *p != '\0'; p++) {
		if (line == from && start == NULL)
			start = p;
		if (*p == '\n' && line++ == to)
			break;
	}
	assert_non_null(start);
	assert_true(*p == '\n');
	return strndup(start, (size_t)(p + 1 - start));
}

/* Keep the first n lines of the journal at path. */
static void
keep_lines(const char *path, size_t n)
{
	char *text = slurp(path), *head = lines_of(text, 1, n);
	FILE *fp;

	assert_non_null(fp = fopen(path, "w"));
	fputs(head, fp);
	fclose(fp);
	free(head);
	free(text);
}

/* Seal n entries from a's head and write them without fsync. */
static void
write_unsynced(struct eca_audit *a, size_t n)
{
	struct eca_audit_entry e[NLINES_MAX];
	char hash[ECA_AUDIT_HASH_LEN + 1], *buf = NULL;
	struct eca_err err;
	size_t len = 0, i;
	int64_t seq;

	for (i = 0; i < n; i++)
		fill(&e[i], "enrolled", "w", "");
	eca_audit_head(a, &seq, hash);
	assert_int_equal(
	    eca_audit_seal("test", e, n, &seq, hash, &buf, &len, &err), 0);
	assert_int_equal(eca_audit_write(a, buf, len, seq, hash, 0, &err), 0);
	free(buf);
}

/* --- negative cases --- */

static void
test_edited_line_is_reported_as_edited_at_its_line(void **state)
{
	struct fixture *f = *state;
	struct lines l;

	make_journal(f->path, 4);
	read_lines(f->path, &l);
	patch(l.v[1], "\"host\":\"h2\"", "\"host\":\"h9\"");
	write_lines(f->path, &l);
	verify_bad(f->path, 2, "edited");
}

static void
test_removed_line_is_reported_at_the_line_that_took_its_place(void **state)
{
	struct fixture *f = *state;
	struct lines l;

	make_journal(f->path, 4);
	read_lines(f->path, &l);
	free(l.v[1]);
	l.v[1] = NULL;
	write_lines(f->path, &l);
	verify_bad(f->path, 2, "removed or reordered");
}

static void
test_swapped_lines_are_reported_at_the_first_of_them(void **state)
{
	struct fixture *f = *state;
	struct lines l;
	char *t;

	make_journal(f->path, 5);
	read_lines(f->path, &l);
	t = l.v[2];
	l.v[2] = l.v[3];
	l.v[3] = t;
	write_lines(f->path, &l);
	verify_bad(f->path, 3, "removed or reordered");
}

static void
test_truncated_last_line_is_reported(void **state)
{
	struct fixture *f = *state;
	struct stat st;

	make_journal(f->path, 3);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(truncate(f->path, st.st_size - 10), 0);
	verify_bad(f->path, 3, "truncated");
}

static void
test_garbage_line_is_reported(void **state)
{
	struct fixture *f = *state;
	struct lines l;

	make_journal(f->path, 3);
	read_lines(f->path, &l);
	free(l.v[1]);
	assert_non_null(l.v[1] = strdup("rm -rf / # not json\n"));
	write_lines(f->path, &l);
	verify_bad(f->path, 2, "garbage");
}

static void
test_object_without_the_fields_is_garbage(void **state)
{
	struct fixture *f = *state;
	struct lines l;

	make_journal(f->path, 2);
	read_lines(f->path, &l);
	free(l.v[0]);
	assert_non_null(l.v[0] = strdup("{\"seq\":1}\n"));
	write_lines(f->path, &l);
	verify_bad(f->path, 1, "garbage");
}

static void
test_removed_first_line_is_reported_as_wrong_first_prev(void **state)
{
	struct fixture *f = *state;
	struct lines l;

	make_journal(f->path, 3);
	read_lines(f->path, &l);
	free(l.v[0]);
	l.v[0] = NULL;
	write_lines(f->path, &l);
	verify_bad(f->path, 1, "removed or reordered");
}

static void
test_edited_line_with_recomputed_hash_breaks_the_next_link(void **state)
{
	struct fixture *f = *state;
	struct lines l;
	json_t *o;
	char h[ECA_AUDIT_HASH_LEN + 1];
	char *s;

	make_journal(f->path, 3);
	read_lines(f->path, &l);
	/* A forger who recomputes the edited line's own hash. */
	assert_non_null(o = json_loads(l.v[1], 0, NULL));
	json_object_set_new(o, "host", json_string("forged"));
	assert_int_equal(
	    eca_audit_hash(json_string_value(json_object_get(o, "prev")), o, h),
	    0);
	json_object_set_new(o, "hash", json_string(h));
	assert_non_null(s = json_dumps(o, JSON_COMPACT));
	free(l.v[1]);
	assert_int_not_equal(asprintf(&l.v[1], "%s\n", s), -1);
	free(s);
	json_decref(o);
	write_lines(f->path, &l);
	verify_bad(f->path, 3, "removed or reordered");
}

static void
test_open_refuses_a_journal_whose_last_line_is_cut(void **state)
{
	struct fixture *f = *state;
	struct eca_audit *a = NULL;
	struct eca_err err;
	struct stat st;

	make_journal(f->path, 3);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(truncate(f->path, st.st_size - 1), 0);
	assert_int_equal(eca_audit_open(f->path, &a, &err), ECA_ERR_PARSE);
	assert_null(a);
	assert_non_null(strstr(err.msg, "eca audit verify"));
	assert_non_null(strstr(err.msg, f->path));
}

static void
test_open_refuses_a_journal_whose_last_line_was_edited(void **state)
{
	struct fixture *f = *state;
	struct eca_audit *a = NULL;
	struct eca_err err;
	struct lines l;

	make_journal(f->path, 3);
	read_lines(f->path, &l);
	patch(l.v[2], "\"reason\":\"UNTRUSTED\"", "\"reason\":\"UNTRUSTEE\"");
	write_lines(f->path, &l);
	assert_int_equal(eca_audit_open(f->path, &a, &err), ECA_ERR_PARSE);
	assert_null(a);
	assert_non_null(strstr(err.msg, "edited"));
}

static void
test_append_to_a_full_device_fails_with_disk_full(void **state)
{
	struct eca_audit_entry e;
	struct eca_audit *a = NULL;
	struct eca_err err;

	(void)state;
	if (access("/dev/full", W_OK) != 0)
		fail_msg("/dev/full is needed by this test");
	assert_int_equal(eca_audit_open("/dev/full", &a, &err), 0);
	fill(&e, "enrolled", "h1", "");
	assert_int_equal(eca_audit_append(a, &e, 1, &err), ECA_ERR_DISK_FULL);
	assert_non_null(strstr(err.msg, "/dev/full"));
	assert_non_null(strstr(err.msg, "cannot be written"));
	/* The chain state did not move. */
	assert_int_equal(eca_audit_last_seq(a), 0);
	eca_audit_close(a);
}

static void
test_write_to_a_full_device_fails_and_keeps_the_chain(void **state)
{
	struct eca_audit_entry e;
	char hash[ECA_AUDIT_HASH_LEN + 1], *buf = NULL;
	struct eca_audit *a = NULL;
	struct eca_err err;
	size_t len = 0;
	int64_t seq;

	(void)state;
	if (access("/dev/full", W_OK) != 0)
		fail_msg("/dev/full is needed by this test");
	assert_int_equal(eca_audit_open("/dev/full", &a, &err), 0);
	fill(&e, "enrolled", "h1", "");
	eca_audit_head(a, &seq, hash);
	assert_int_equal(
	    eca_audit_seal("test", &e, 1, &seq, hash, &buf, &len, &err), 0);
	/* Without fsync too: the write itself says the disk is full. */
	assert_int_equal(eca_audit_write(a, buf, len, seq, hash, 0, &err),
	    ECA_ERR_DISK_FULL);
	assert_int_equal(eca_audit_last_seq(a), 0);
	/* A device: nothing to read back, so no registry keeps its lines. */
	assert_false(eca_audit_is_file(a));
	assert_false(eca_audit_dirty(a));
	free(buf);
	eca_audit_close(a);
}

static void
test_undo_without_a_write_to_take_back_is_refused(void **state)
{
	struct fixture *f = *state;
	struct eca_audit *a = NULL;
	struct eca_err err;

	make_journal(f->path, 2);
	assert_int_equal(eca_audit_open(f->path, &a, &err), 0);
	assert_int_equal(eca_audit_undo(a), -1);
	write_unsynced(a, 1);
	assert_int_equal(eca_audit_undo(a), 0);
	/* One write, one undo: the lines before it are not touched. */
	assert_int_equal(eca_audit_undo(a), -1);
	assert_int_equal(eca_audit_last_seq(a), 2);
	eca_audit_close(a);
}

static void
test_restore_refuses_lines_that_do_not_continue_the_file(void **state)
{
	struct fixture *f = *state;
	struct eca_audit *a = NULL;
	struct eca_err err;
	char *text, *kept, *after, *first;
	size_t n = 7;

	make_journal(f->path, 4);
	text = slurp(f->path);
	kept = lines_of(text, 3, 4);
	keep_lines(f->path, 1); /* line 2 is lost, not only 3 and 4 */
	assert_int_equal(eca_audit_open(f->path, &a, &err), 0);
	assert_int_equal(eca_audit_restore(a, kept, strlen(kept), &n, &err),
	    ECA_ERR_PARSE);
	assert_int_equal(n, 0);
	assert_non_null(strstr(err.msg, "do not continue"));
	assert_non_null(strstr(err.msg, "ends at seq 1"));
	assert_int_equal(eca_audit_last_seq(a), 1);
	eca_audit_close(a);
	/* The file holds its one line still, nothing appended. */
	after = slurp(f->path);
	first = lines_of(text, 1, 1);
	assert_string_equal(after, first);
	free(first);
	free(after);
	free(kept);
	free(text);
}

static void
test_restore_refuses_an_edited_kept_line(void **state)
{
	struct fixture *f = *state;
	struct eca_audit *a = NULL;
	struct eca_err err;
	char *text, *kept;
	size_t n;

	make_journal(f->path, 3);
	text = slurp(f->path);
	kept = lines_of(text, 3, 3);
	patch(kept, "\"reason\":\"UNTRUSTED\"", "\"reason\":\"UNTRUSTEE\"");
	keep_lines(f->path, 2);
	assert_int_equal(eca_audit_open(f->path, &a, &err), 0);
	assert_int_equal(eca_audit_restore(a, kept, strlen(kept), &n, &err),
	    ECA_ERR_PARSE);
	assert_non_null(strstr(err.msg, "edited"));
	assert_int_equal(eca_audit_last_seq(a), 2);
	eca_audit_close(a);
	free(kept);
	free(text);
}

static void
test_open_of_a_directory_is_refused(void **state)
{
	struct fixture *f = *state;
	struct eca_audit *a = NULL;
	struct eca_err err;

	assert_int_not_equal(eca_audit_open(f->dir, &a, &err), 0);
	assert_null(a);
	assert_non_null(strstr(err.msg, f->dir));
}

static void
test_verify_of_a_missing_file_is_not_found(void **state)
{
	struct fixture *f = *state;
	struct eca_audit_report rep;
	struct eca_err err;

	assert_int_equal(eca_audit_verify(f->path, &rep, &err),
	    ECA_ERR_NOT_FOUND);
	assert_non_null(strstr(err.msg, f->path));
}

static void
test_read_refuses_a_garbage_line_naming_it(void **state)
{
	struct fixture *f = *state;
	struct eca_audit_entry *v = NULL;
	struct eca_err err;
	struct lines l;
	size_t n = 0;

	make_journal(f->path, 3);
	read_lines(f->path, &l);
	free(l.v[2]);
	assert_non_null(l.v[2] = strdup("[1,2,3]\n"));
	write_lines(f->path, &l);
	assert_int_equal(eca_audit_read(f->path, NULL, &v, &n, &err),
	    ECA_ERR_PARSE);
	assert_null(v);
	assert_non_null(strstr(err.msg, "line 3"));
}

static void
test_path_needs_audit_log_or_state_dir(void **state)
{
	struct eca_config cfg;
	struct eca_err err;
	char buf[64];

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(eca_audit_path(&cfg, buf, sizeof(buf), &err),
	    ECA_ERR_CONFIG);
	cfg.state_dir =
	    "/a/very/long/state/directory/that/does/not/fit/in/the/buffer";
	assert_int_equal(eca_audit_path(&cfg, buf, sizeof(buf), &err),
	    ECA_ERR_CONFIG);
}

/* --- positive cases --- */

static void
test_good_chain_verifies_intact(void **state)
{
	struct fixture *f = *state;
	struct eca_audit_report rep;
	struct eca_err err;
	struct lines l;
	json_t *o;

	make_journal(f->path, 6);
	assert_int_equal(eca_audit_verify(f->path, &rep, &err), 0);
	assert_true(rep.intact);
	assert_int_equal(rep.entries, 6);
	assert_int_equal(rep.first_bad_line, 0);
	read_lines(f->path, &l);
	assert_int_equal(l.n, 6);
	/* Line 1: seq 1, prev all zeros, no reason for a decision. */
	assert_non_null(o = json_loads(l.v[0], 0, NULL));
	assert_int_equal(json_integer_value(json_object_get(o, "seq")), 1);
	assert_string_equal(json_string_value(json_object_get(o, "prev")),
	    ZEROS);
	assert_null(json_object_get(o, "reason"));
	assert_string_equal(json_string_value(json_object_get(o, "event")),
	    "enrolled");
	assert_string_equal(json_string_value(json_object_get(o, "source")),
	    "192.0.2.7:40000");
	json_decref(o);
	/* Line 3 is a refusal and carries its reason. */
	assert_non_null(o = json_loads(l.v[2], 0, NULL));
	assert_string_equal(json_string_value(json_object_get(o, "reason")),
	    "UNTRUSTED");
	json_decref(o);
	write_lines(f->path, &l);
}

static void
test_hash_is_sha256_of_prev_and_sorted_compact_json(void **state)
{
	struct fixture *f = *state;
	unsigned char md[32];
	char hex[65], *canon, *buf;
	struct lines l;
	json_t *o, *copy;
	const char *prev;
	size_t mdlen = 0, i;

	make_journal(f->path, 2);
	read_lines(f->path, &l);
	assert_non_null(o = json_loads(l.v[1], 0, NULL));
	prev = json_string_value(json_object_get(o, "prev"));
	assert_non_null(copy = json_deep_copy(o));
	json_object_del(copy, "hash");
	assert_non_null(
	    canon = json_dumps(copy, JSON_SORT_KEYS | JSON_COMPACT));
	assert_int_not_equal(asprintf(&buf, "%s%s", prev, canon), -1);
	assert_int_equal(
	    EVP_Q_digest(NULL, "SHA256", NULL, buf, strlen(buf), md, &mdlen),
	    1);
	for (i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	assert_string_equal(hex, json_string_value(json_object_get(o, "hash")));
	/* And line 2's prev is line 1's hash. */
	json_decref(copy);
	assert_non_null(copy = json_loads(l.v[0], 0, NULL));
	assert_string_equal(prev,
	    json_string_value(json_object_get(copy, "hash")));
	json_decref(copy);
	json_decref(o);
	free(canon);
	free(buf);
	write_lines(f->path, &l);
}

static void
test_append_after_reopen_continues_the_chain(void **state)
{
	struct fixture *f = *state;
	struct eca_audit_entry e[2];
	struct eca_audit_report rep;
	struct eca_audit *a = NULL;
	struct eca_err err;
	char last[ECA_AUDIT_HASH_LEN + 1];
	struct lines l;
	json_t *o;

	make_journal(f->path, 2);
	read_lines(f->path, &l);
	assert_non_null(o = json_loads(l.v[1], 0, NULL));
	snprintf(last, sizeof(last), "%s",
	    json_string_value(json_object_get(o, "hash")));
	json_decref(o);
	write_lines(f->path, &l);

	assert_int_equal(eca_audit_open(f->path, &a, &err), 0);
	assert_int_equal(eca_audit_last_seq(a), 2);
	fill(&e[0], "removed", "h1", "");
	fill(&e[1], "refused", "h1", "FORBIDDEN");
	assert_int_equal(eca_audit_append(a, e, 2, &err), 0);
	assert_int_equal(e[0].seq, 3);
	assert_string_equal(e[0].prev, last);
	assert_int_equal(e[1].seq, 4);
	assert_string_equal(e[1].prev, e[0].hash);
	eca_audit_close(a);
	assert_int_equal(eca_audit_verify(f->path, &rep, &err), 0);
	assert_true(rep.intact);
	assert_int_equal(rep.entries, 4);
}

static void
test_new_journal_is_created_private_and_empty_one_is_intact(void **state)
{
	struct fixture *f = *state;
	struct eca_audit_report rep;
	struct eca_audit *a = NULL;
	struct eca_err err;
	struct stat st;

	assert_int_equal(eca_audit_open(f->path, &a, &err), 0);
	assert_int_equal(eca_audit_last_seq(a), 0);
	assert_string_equal(eca_audit_file(a), f->path);
	eca_audit_close(a);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0027, 0);
	assert_int_equal(eca_audit_verify(f->path, &rep, &err), 0);
	assert_true(rep.intact);
	assert_int_equal(rep.entries, 0);
}

static void
test_read_filters_by_host(void **state)
{
	struct fixture *f = *state;
	struct eca_audit_entry *v = NULL;
	struct eca_err err;
	size_t n = 0;

	make_journal(f->path, 5);
	assert_int_equal(eca_audit_read(f->path, "h3", &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].host, "h3");
	assert_string_equal(v[0].event, "refused");
	assert_string_equal(v[0].reason, "UNTRUSTED");
	assert_int_equal(v[0].seq, 3);
	free(v);
	assert_int_equal(eca_audit_read(f->path, NULL, &v, &n, &err), 0);
	assert_int_equal(n, 5);
	free(v);
}

static void
test_path_defaults_to_state_dir_and_prefers_audit_log(void **state)
{
	struct eca_config cfg;
	struct eca_err err;
	char buf[256];

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.state_dir = "/var/lib/eca";
	assert_int_equal(eca_audit_path(&cfg, buf, sizeof(buf), &err), 0);
	assert_string_equal(buf, "/var/lib/eca/audit.jsonl");
	cfg.audit_log = "/var/log/eca/audit.log";
	assert_int_equal(eca_audit_path(&cfg, buf, sizeof(buf), &err), 0);
	assert_string_equal(buf, "/var/log/eca/audit.log");
}

/* --- rotation: one chain over several files --- */

static void
append_n(struct eca_audit *a, size_t n, const char *host)
{
	struct eca_audit_entry e[NLINES_MAX];
	struct eca_err err;
	size_t i;

	for (i = 0; i < n; i++)
		fill(&e[i], "enrolled", host, "");
	assert_int_equal(eca_audit_append(a, e, n, &err), 0);
}

/* PATH.k -> PATH.k+1 (k = upto..1), PATH -> PATH.1, as logrotate does. */
static void
rotate(const char *path, int upto)
{
	char from[160], to[160];
	int k;

	for (k = upto; k >= 1; k--) {
		snprintf(from, sizeof(from), "%s.%d", path, k);
		snprintf(to, sizeof(to), "%s.%d", path, k + 1);
		assert_int_equal(rename(from, to), 0);
	}
	snprintf(to, sizeof(to), "%s.1", path);
	assert_int_equal(rename(path, to), 0);
}

/* 2 entries in PATH.2, 2 in PATH.1, 1 in PATH, written by one handle. */
static void
make_rotated(const char *path)
{
	struct eca_audit *a = NULL;
	struct eca_err err;
	int moved = -1;

	assert_int_equal(eca_audit_open(path, &a, &err), 0);
	append_n(a, 2, "h1");
	assert_int_equal(eca_audit_reopen(a, &moved, &err), 0);
	assert_int_equal(moved, 0);
	rotate(path, 0);
	assert_int_equal(eca_audit_reopen(a, &moved, &err), 0);
	assert_int_equal(moved, 1);
	append_n(a, 2, "h2");
	rotate(path, 1);
	assert_int_equal(eca_audit_reopen(a, &moved, &err), 0);
	assert_int_equal(moved, 1);
	append_n(a, 1, "h3");
	assert_int_equal(eca_audit_last_seq(a), 5);
	eca_audit_close(a);
}

static void
verify_set(const char *path, struct eca_audit_report *rep, size_t want_files)
{
	struct eca_err err;
	char **set = NULL;
	size_t n = 0;

	assert_int_equal(eca_audit_rotated_set(path, &set, &n, &err), 0);
	assert_int_equal(n, want_files);
	assert_string_equal(set[n - 1], path);
	assert_int_equal(
	    eca_audit_verify_files((const char *const *)set, n, rep, &err), 0);
	eca_audit_set_free(set, n);
}

static void
test_edit_in_a_rotated_file_names_that_file_and_line(void **state)
{
	struct fixture *f = *state;
	struct eca_audit_report rep;
	char p1[160];
	struct lines l;

	make_rotated(f->path);
	snprintf(p1, sizeof(p1), "%s.1", f->path);
	read_lines(p1, &l);
	patch(l.v[1], "\"host\":\"h2\"", "\"host\":\"h7\"");
	write_lines(p1, &l);
	verify_set(f->path, &rep, 3);
	assert_false(rep.intact);
	assert_int_equal(rep.file, 1);
	assert_int_equal(rep.first_bad_line, 2);
	assert_int_equal(rep.entries, 3);
	assert_non_null(strstr(rep.problem, "edited"));
}

static void
test_missing_middle_file_breaks_at_the_next_files_first_line(void **state)
{
	struct fixture *f = *state;
	struct eca_audit_report rep;
	char p1[160];

	make_rotated(f->path);
	snprintf(p1, sizeof(p1), "%s.1", f->path);
	assert_int_equal(unlink(p1), 0);
	verify_set(f->path, &rep, 2);
	assert_false(rep.intact);
	assert_int_equal(rep.file, 1);
	assert_int_equal(rep.first_bad_line, 1);
	assert_int_equal(rep.entries, 2);
	assert_non_null(strstr(rep.problem, "removed or reordered"));
	assert_non_null(strstr(rep.problem, "whole rotated file"));
}

static void
test_files_in_the_wrong_order_break_at_the_first_line(void **state)
{
	struct fixture *f = *state;
	struct eca_audit_report rep;
	struct eca_err err;
	char p1[160], p2[160];
	const char *v[3];

	make_rotated(f->path);
	snprintf(p1, sizeof(p1), "%s.1", f->path);
	snprintf(p2, sizeof(p2), "%s.2", f->path);
	v[0] = p1;
	v[1] = p2;
	v[2] = f->path;
	assert_int_equal(eca_audit_verify_files(v, 3, &rep, &err), 0);
	assert_false(rep.intact);
	assert_int_equal(rep.file, 0);
	assert_int_equal(rep.first_bad_line, 1);
	assert_non_null(strstr(rep.problem, "name those first"));
}

static void
test_compressed_sibling_is_refused_with_a_remedy(void **state)
{
	struct fixture *f = *state;
	struct eca_err err;
	char **set = NULL, gz[160];
	size_t n = 7;
	FILE *fp;

	make_journal(f->path, 1);
	snprintf(gz, sizeof(gz), "%s.3.gz", f->path);
	assert_non_null(fp = fopen(gz, "w"));
	fclose(fp);
	assert_int_equal(eca_audit_rotated_set(f->path, &set, &n, &err),
	    ECA_ERR_UNREADABLE);
	assert_null(set);
	assert_int_equal(n, 0);
	assert_non_null(strstr(err.msg, "decompress"));
}

static void
test_verify_of_no_files_is_a_usage_error(void **state)
{
	struct eca_audit_report rep;
	struct eca_err err;

	(void)state;
	assert_int_equal(eca_audit_verify_files(NULL, 0, &rep, &err),
	    ECA_ERR_USAGE);
}

static void
test_rotated_files_in_order_verify_as_one_chain(void **state)
{
	struct fixture *f = *state;
	struct eca_audit_report rep;

	make_rotated(f->path);
	verify_set(f->path, &rep, 3);
	assert_true(rep.intact);
	assert_int_equal(rep.files, 3);
	assert_int_equal(rep.entries, 5);
}

static void
test_open_of_an_empty_journal_after_rotation_continues_from_path_1(void **state)
{
	struct fixture *f = *state;
	struct eca_audit_report rep;
	struct eca_audit *a = NULL;
	struct eca_err err;

	make_journal(f->path, 3);
	rotate(f->path, 0);
	assert_int_equal(eca_audit_open(f->path, &a, &err), 0);
	assert_int_equal(eca_audit_last_seq(a), 3);
	append_n(a, 1, "h4");
	eca_audit_close(a);
	verify_set(f->path, &rep, 2);
	assert_true(rep.intact);
	assert_int_equal(rep.entries, 4);
}

static void
test_a_write_without_sync_is_dirty_until_synced(void **state)
{
	struct fixture *f = *state;
	struct eca_audit_report rep;
	struct eca_audit *a = NULL;
	struct eca_err err;

	make_journal(f->path, 1);
	assert_int_equal(eca_audit_open(f->path, &a, &err), 0);
	assert_true(eca_audit_is_file(a));
	assert_false(eca_audit_dirty(a));
	write_unsynced(a, 2);
	assert_true(eca_audit_dirty(a));
	assert_int_equal(eca_audit_last_seq(a), 3);
	/* Readers see the lines at once. */
	assert_int_equal(eca_audit_verify(f->path, &rep, &err), 0);
	assert_true(rep.intact);
	assert_int_equal(rep.entries, 3);
	assert_int_equal(eca_audit_sync(a, &err), 0);
	assert_false(eca_audit_dirty(a));
	eca_audit_close(a);
}

static void
test_undo_cuts_the_last_write_back_and_the_chain_with_it(void **state)
{
	struct fixture *f = *state;
	struct eca_audit_report rep;
	struct eca_audit_entry e;
	struct eca_audit *a = NULL;
	struct eca_err err;
	char *before, *after;

	make_journal(f->path, 2);
	before = slurp(f->path);
	assert_int_equal(eca_audit_open(f->path, &a, &err), 0);
	write_unsynced(a, 3);
	assert_int_equal(eca_audit_last_seq(a), 5);
	assert_int_equal(eca_audit_undo(a), 0);
	assert_int_equal(eca_audit_last_seq(a), 2);
	after = slurp(f->path);
	assert_string_equal(after, before);
	/* The chain goes on from the line before the write taken back. */
	fill(&e, "removed", "h1", "");
	assert_int_equal(eca_audit_append(a, &e, 1, &err), 0);
	assert_int_equal(e.seq, 3);
	eca_audit_close(a);
	assert_int_equal(eca_audit_verify(f->path, &rep, &err), 0);
	assert_true(rep.intact);
	assert_int_equal(rep.entries, 3);
	free(after);
	free(before);
}

/*
 * The journal at path as a power cut leaves it: its first n whole lines
 * (perhaps none), then the first cut bytes of line n + 1, then zeros more
 * zero bytes.
 */
static void
tear_after(const char *path, const char *text, size_t n, size_t cut,
    size_t zeros)
{
	char *head = n > 0 ? lines_of(text, 1, n) : strdup(""),
	     *next = lines_of(text, n + 1, n + 1);
	FILE *fp;
	size_t i;

	assert_true(cut < strlen(next));
	assert_non_null(fp = fopen(path, "w"));
	fputs(head, fp);
	assert_int_equal(fwrite(next, 1, cut, fp), cut);
	for (i = 0; i < zeros; i++)
		fputc('\0', fp);
	fclose(fp);
	free(next);
	free(head);
}

/*
 * A torn journal (torn bytes after seq last) opened, mended and restored
 * with kept: it becomes text again, restored lines written, and verifies.
 */
static void
mend_and_restore(const char *path, const char *text, const char *kept,
    size_t torn, int64_t last, size_t restored)
{
	struct eca_audit_report rep;
	struct eca_audit *a = NULL;
	struct eca_err err;
	size_t n = 0;
	char *after;

	assert_int_equal(eca_audit_open_torn(path, &a, &err), 0);
	assert_int_equal(eca_audit_torn(a), torn);
	assert_int_equal(eca_audit_last_seq(a), last);
	assert_int_equal(eca_audit_mend(a, kept, strlen(kept), &err), 0);
	assert_int_equal(eca_audit_torn(a), 0);
	assert_int_equal(eca_audit_restore(a, kept, strlen(kept), &n, &err), 0);
	assert_int_equal(n, restored);
	eca_audit_close(a);
	after = slurp(path);
	assert_string_equal(after, text);
	free(after);
	assert_int_equal(eca_audit_verify(path, &rep, &err), 0);
	assert_true(rep.intact);
	assert_int_equal(rep.entries, (size_t)last + restored);
}

/* Open a torn journal and mend it with kept: the code eca_audit_mend gave. */
static int
open_and_mend(const char *path, const char *kept, size_t torn,
    struct eca_err *err)
{
	struct eca_audit *a = NULL;
	int r;

	assert_int_equal(eca_audit_open_torn(path, &a, err), 0);
	assert_int_equal(eca_audit_torn(a), torn);
	r = eca_audit_mend(a, kept, kept != NULL ? strlen(kept) : 0, err);
	eca_audit_close(a);
	return r;
}

static void
test_torn_tail_the_registry_does_not_keep_is_refused(void **state)
{
	struct fixture *f = *state;
	char *text, *torn, *kept, *other;
	struct eca_err err;

	make_journal(f->path, 5);
	text = slurp(f->path);
	kept = lines_of(text, 4, 5);
	other = lines_of(text, 5, 5); /* not the line the tail starts */
	tear_after(f->path, text, 3, 40, 0);
	torn = slurp(f->path);
	assert_int_equal(open_and_mend(f->path, NULL, 40, &err), ECA_ERR_PARSE);
	assert_non_null(strstr(err.msg, "cut short"));
	assert_non_null(strstr(err.msg, "eca audit verify"));
	assert_null(strstr(err.msg, "registry"));
	assert_int_equal(open_and_mend(f->path, other, 40, &err),
	    ECA_ERR_PARSE);
	assert_non_null(strstr(err.msg, "the registry keeps no line"));
	/* bytes that are not the kept line's start */
	kept[10] ^= 1;
	assert_int_equal(open_and_mend(f->path, kept, 40, &err), ECA_ERR_PARSE);
	assert_non_null(strstr(err.msg, "the registry keeps no line"));
	free(text);
	text = slurp(f->path);
	assert_string_equal(text, torn); /* nothing cut */
	free(other);
	free(kept);
	free(torn);
	free(text);
}

static void
test_torn_tail_is_refused_by_a_strict_open_and_by_writes(void **state)
{
	struct fixture *f = *state;
	struct eca_audit *a = NULL;
	struct eca_err err;
	char *text;

	make_journal(f->path, 3);
	text = slurp(f->path);
	tear_after(f->path, text, 2, 5, 0);
	assert_int_equal(eca_audit_open(f->path, &a, &err), ECA_ERR_PARSE);
	assert_null(a);
	assert_int_equal(eca_audit_open_torn(f->path, &a, &err), 0);
	assert_int_equal(eca_audit_last_seq(a), 2);
	assert_int_equal(eca_audit_write(a, "x\n", 2, 3, ZEROS, 1, &err),
	    ECA_ERR_PARSE);
	assert_non_null(strstr(err.msg, "cut short"));
	eca_audit_close(a);
	free(text);
}

static void
test_torn_tail_the_registry_keeps_is_cut_and_written_again(void **state)
{
	struct fixture *f = *state;
	size_t cut[] = {1, 60, 200}, zeros[] = {0, 3000, 100000}, i;
	char *text, *kept;

	make_journal(f->path, 5);
	text = slurp(f->path);
	kept = lines_of(text, 3, 5);
	/*
	 * the start of line 4, alone or followed by blocks never written,
	 * some, or more than the last two lines' room
	 */
	for (i = 0; i < 3; i++) {
		tear_after(f->path, text, 3, cut[i], zeros[i]);
		mend_and_restore(f->path, text, kept, cut[i] + zeros[i], 3, 2);
	}
	free(kept);
	free(text);
}

static void
test_torn_or_unwritten_first_line_is_cut_and_written_again(void **state)
{
	struct fixture *f = *state;
	char *text, *kept;

	make_journal(f->path, 2);
	text = slurp(f->path);
	kept = lines_of(text, 1, 2);
	/* the start of line 1; then only zeros, not one byte written */
	tear_after(f->path, text, 0, 20, 0);
	mend_and_restore(f->path, text, kept, 20, 0, 2);
	tear_after(f->path, text, 0, 0, 4096);
	mend_and_restore(f->path, text, kept, 4096, 0, 2);
	free(kept);
	free(text);
}

static void
test_restore_writes_the_lines_the_file_lacks(void **state)
{
	struct fixture *f = *state;
	struct eca_audit_report rep;
	struct eca_audit *a = NULL;
	struct eca_err err;
	char *text, *kept, *after;
	size_t n = 0;

	make_journal(f->path, 5);
	text = slurp(f->path);
	/* The registry kept 2..5; the file has lines 1 and 2 only. */
	kept = lines_of(text, 2, 5);
	keep_lines(f->path, 2);
	assert_int_equal(eca_audit_open(f->path, &a, &err), 0);
	assert_int_equal(eca_audit_restore(a, kept, strlen(kept), &n, &err), 0);
	assert_int_equal(n, 3);
	assert_int_equal(eca_audit_last_seq(a), 5);
	assert_false(eca_audit_dirty(a));
	eca_audit_close(a);
	after = slurp(f->path);
	assert_string_equal(after, text);
	assert_int_equal(eca_audit_verify(f->path, &rep, &err), 0);
	assert_true(rep.intact);
	assert_int_equal(rep.entries, 5);
	free(after);
	free(kept);
	free(text);
}

static void
test_restore_of_lines_the_file_has_writes_nothing(void **state)
{
	struct fixture *f = *state;
	struct eca_audit *a = NULL;
	struct eca_err err;
	char *text, *kept, *after;
	size_t n = 7;

	make_journal(f->path, 3);
	text = slurp(f->path);
	kept = lines_of(text, 2, 3);
	assert_int_equal(eca_audit_open(f->path, &a, &err), 0);
	assert_int_equal(eca_audit_restore(a, kept, strlen(kept), &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(eca_audit_last_seq(a), 3);
	eca_audit_close(a);
	after = slurp(f->path);
	assert_string_equal(after, text);
	free(after);
	free(kept);
	free(text);
}

static void
test_lines_set_aside_are_saved_beside_the_journal(void **state)
{
	struct fixture *f = *state;
	struct eca_audit *a = NULL;
	struct eca_err err;
	char where[256], want[256], *text;
	struct stat st;

	assert_int_equal(eca_audit_open(f->path, &a, &err), 0);
	assert_int_equal(eca_audit_set_aside(a, "l5\nl6\n", 6, 5, 6, where,
			     sizeof(where), &err),
	    0);
	snprintf(want, sizeof(want), "%s.unjoined-5-6", f->path);
	assert_string_equal(where, want);
	text = slurp(where);
	assert_string_equal(text, "l5\nl6\n");
	assert_int_equal(stat(where, &st), 0);
	/* Like the journal: not for every user to read. */
	assert_int_equal(st.st_mode & 0007, 0);
	free(text);
	eca_audit_close(a);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_edited_line_is_reported_as_edited_at_its_line),
	    T(test_removed_line_is_reported_at_the_line_that_took_its_place),
	    T(test_swapped_lines_are_reported_at_the_first_of_them),
	    T(test_truncated_last_line_is_reported),
	    T(test_garbage_line_is_reported),
	    T(test_object_without_the_fields_is_garbage),
	    T(test_removed_first_line_is_reported_as_wrong_first_prev),
	    T(test_edited_line_with_recomputed_hash_breaks_the_next_link),
	    T(test_open_refuses_a_journal_whose_last_line_is_cut),
	    T(test_open_refuses_a_journal_whose_last_line_was_edited),
	    T(test_append_to_a_full_device_fails_with_disk_full),
	    T(test_write_to_a_full_device_fails_and_keeps_the_chain),
	    T(test_undo_without_a_write_to_take_back_is_refused),
	    T(test_restore_refuses_lines_that_do_not_continue_the_file),
	    T(test_restore_refuses_an_edited_kept_line),
	    T(test_torn_tail_the_registry_does_not_keep_is_refused),
	    T(test_torn_tail_is_refused_by_a_strict_open_and_by_writes),
	    T(test_open_of_a_directory_is_refused),
	    T(test_verify_of_a_missing_file_is_not_found),
	    T(test_read_refuses_a_garbage_line_naming_it),
	    T(test_path_needs_audit_log_or_state_dir),
	    T(test_good_chain_verifies_intact),
	    T(test_hash_is_sha256_of_prev_and_sorted_compact_json),
	    T(test_append_after_reopen_continues_the_chain),
	    T(test_new_journal_is_created_private_and_empty_one_is_intact),
	    T(test_read_filters_by_host),
	    T(test_path_defaults_to_state_dir_and_prefers_audit_log),
	    T(test_edit_in_a_rotated_file_names_that_file_and_line),
	    T(test_missing_middle_file_breaks_at_the_next_files_first_line),
	    T(test_files_in_the_wrong_order_break_at_the_first_line),
	    T(test_compressed_sibling_is_refused_with_a_remedy),
	    T(test_verify_of_no_files_is_a_usage_error),
	    T(test_rotated_files_in_order_verify_as_one_chain),
	    T(test_open_of_an_empty_journal_after_rotation_continues_from_path_1),
	    T(test_a_write_without_sync_is_dirty_until_synced),
	    T(test_undo_cuts_the_last_write_back_and_the_chain_with_it),
	    T(test_restore_writes_the_lines_the_file_lacks),
	    T(test_restore_of_lines_the_file_has_writes_nothing),
	    T(test_torn_tail_the_registry_keeps_is_cut_and_written_again),
	    T(test_torn_or_unwritten_first_line_is_cut_and_written_again),
	    T(test_lines_set_aside_are_saved_beside_the_journal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
