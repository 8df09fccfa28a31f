/* SPDX-License-Identifier: ISC */
/*
 * registry_io.c - the registry as a file (registry_io.h): the tables
 * described once, their rows written as JSON lines with running SHA-256
 * digests, read back and checked, loaded in one transaction.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "registry_io.h"
#include "store_bulk.h"
#include "text.h"
#include "util.h"

#define T ECA_COL_TEXT
#define I ECA_COL_INT
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------ */
/* The tables, in the file's order.                                   */

static const struct eca_store_column meta_cols[] = {{"key", T}, {"value", I}};
static const int meta_order[] = {0};

static const struct eca_store_column enrollment_cols[] = {{"primary_name", T},
    {"host", T}, {"host_id", T}, {"role", T}, {"state", T}, {"method", T},
    {"fingerprint", T}, {"spki_fingerprint", T}, {"subject", T}, {"issuer", T},
    {"serial", T}, {"not_before", I}, {"not_after", I}, {"key_desc", T},
    {"sig_alg", T}, {"cn", T}, {"san", T}, {"has_candidate", I},
    {"cand_fingerprint", T}, {"cand_spki_fingerprint", T}, {"cand_subject", T},
    {"cand_issuer", T}, {"cand_serial", T}, {"cand_not_before", I},
    {"cand_not_after", I}, {"cand_key_desc", T}, {"cand_sig_alg", T},
    {"cand_cn", T}, {"cand_san", T}, {"candidate_at", I},
    {"candidate_source", T}, {"enrolled_at", I}, {"updated_at", I},
    {"last_seen", I}, {"source", T}, {"version", I}, {"nat", I}};
static const int host_order[] = {0, 1};

static const struct eca_store_column history_cols[] = {{"id", I},
    {"primary_name", T}, {"host", T}, {"host_id", T}, {"event", T},
    {"state", T}, {"fingerprint", T}, {"spki_fingerprint", T}, {"actor", T},
    {"source", T}, {"at", I}};
static const int id_order[] = {0};

static const struct eca_store_column candidate_cols[] = {{"primary_name", T},
    {"host", T}, {"fingerprint", T}, {"spki_fingerprint", T}, {"subject", T},
    {"issuer", T}, {"serial", T}, {"not_before", I}, {"not_after", I},
    {"key_desc", T}, {"sig_alg", T}, {"cn", T}, {"san", T}, {"at", I},
    {"last_seen", I}, {"source", T}};
/* Oldest first within a host, then in the order they came. */
static const int candidate_order[] = {0, 1, 13};

static const struct eca_store_column dnmap_cols[] = {{"primary_name", T},
    {"subject", T}, {"host", T}, {"removed", I}, {"created_at", I},
    {"updated_at", I}, {"actor", T}, {"version", I}};

#define TABLE(n, c, o)                                                         \
	.name = n, .cols = c, .ncols = NELEM(c), .order = o, .norder = NELEM(o)
static const struct eca_store_table tables[ECA_REGISTRY_NTABLES] = {
    {TABLE("meta", meta_cols, meta_order), .where = "key = 'registry_version'"},
    {TABLE("enrollments", enrollment_cols, host_order)},
    {TABLE("history", history_cols, id_order), .identity = "id"},
    {TABLE("candidates", candidate_cols, candidate_order), .seq = "seq"},
    {TABLE("dn_map", dnmap_cols, host_order)},
};
/* Deleting (import --force): rows that others refer to last. */
static const int clear_order[] = {3, 2, 4, 1, 0};

const char *
eca_registry_table(int i)
{
	return i >= 0 && i < ECA_REGISTRY_NTABLES ? tables[i].name : "?";
}

static int
table_index(const char *name)
{
	int i;

	for (i = 0; i < ECA_REGISTRY_NTABLES; i++)
		if (strcmp(tables[i].name, name) == 0)
			return i;
	return -1;
}

/* ------------------------------------------------------------------ */
/* Digests.                                                            */

struct digests {
	EVP_MD_CTX *md[ECA_REGISTRY_NTABLES];
	struct eca_registry_sum *sum;
};

static int
digests_init(struct digests *d, struct eca_registry_sum *sum,
    struct eca_err *err)
{
	int i;

	memset(d, 0, sizeof(*d));
	memset(sum, 0, sizeof(*sum));
	d->sum = sum;
	for (i = 0; i < ECA_REGISTRY_NTABLES; i++)
		if ((d->md[i] = EVP_MD_CTX_new()) == NULL ||
		    EVP_DigestInit_ex2(d->md[i], eca_util_sha256(), NULL) != 1)
			return eca_err_set(err, ECA_ERR_NOMEM,
			    "out of memory starting a digest");
	return 0;
}

static void
digests_free(struct digests *d)
{
	int i;

	for (i = 0; i < ECA_REGISTRY_NTABLES; i++)
		EVP_MD_CTX_free(d->md[i]);
	memset(d->md, 0, sizeof(d->md));
}

/* One row's canonical text ("\n" added here) into table i's digest. */
static int
digest_row(struct digests *d, int i, const char *canon, struct eca_err *err)
{
	if (EVP_DigestUpdate(d->md[i], canon, strlen(canon)) != 1 ||
	    EVP_DigestUpdate(d->md[i], "\n", 1) != 1)
		return eca_err_set(err, ECA_ERR_INTERNAL, "SHA-256 failed");
	d->sum->rows[i]++;
	return 0;
}

/* The tables' digests and the whole one into d->sum. */
static int
digests_end(struct digests *d, struct eca_err *err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	char line[128];
	unsigned int len;
	EVP_MD_CTX *all;
	int i, ok = 1;

	if ((all = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex2(all, eca_util_sha256(), NULL) != 1)
		ok = 0;
	for (i = 0; ok && i < ECA_REGISTRY_NTABLES; i++) {
		ok = EVP_DigestFinal_ex(d->md[i], md, &len) == 1 && len == 32;
		if (!ok)
			break;
		eca_text_hex(md, len, d->sum->digest[i], 0);
		snprintf(line, sizeof(line), "%s:%s\n", tables[i].name,
		    d->sum->digest[i]);
		ok = EVP_DigestUpdate(all, line, strlen(line)) == 1;
	}
	if (ok && EVP_DigestFinal_ex(all, md, &len) == 1 && len == 32)
		eca_text_hex(md, len, d->sum->total, 0);
	else
		ok = 0;
	EVP_MD_CTX_free(all);
	return ok ? 0 : eca_err_set(err, ECA_ERR_INTERNAL, "SHA-256 failed");
}

/* ------------------------------------------------------------------ */
/* Rows as JSON.                                                       */

/* v (table i's values) as its canonical text (*out: free()). */
static int
row_text(int i, const struct eca_store_value *v, char **out,
    struct eca_err *err)
{
	const struct eca_store_table *t = &tables[i];
	json_t *row, *x;
	size_t c;

	*out = NULL;
	if ((row = json_array()) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
	for (c = 0; c < t->ncols; c++) {
		if (v[c].null)
			x = json_null();
		else if (t->cols[c].type == ECA_COL_INT)
			x = json_integer((json_int_t)v[c].i);
		else if ((x = json_string(v[c].s)) == NULL) {
			json_decref(row);
			return eca_err_set(err, ECA_ERR_DB,
			    "registry table %s: column %s holds text that is "
			    "not UTF-8 ('%.40s'); correct that row first",
			    t->name, t->cols[c].name, v[c].s);
		}
		if (json_array_append_new(row, x) != 0) {
			json_decref(row);
			return eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
		}
	}
	*out = json_dumps(row, JSON_COMPACT);
	json_decref(row);
	return *out != NULL ? 0 :
			      eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
}

/* A failed write of path: disk full says so, with its remedy. */
static int
write_error(const char *path, int e, struct eca_err *err)
{
	if (e == ENOSPC || e == EDQUOT)
		return eca_err_set(err, ECA_ERR_DISK_FULL,
		    "cannot write %s: %s (free space, or export to another "
		    "file system); nothing was kept",
		    path, strerror(e));
	return eca_err_set(err, ECA_ERR_IO, "cannot write %s: %s", path,
	    strerror(e != 0 ? e : EIO));
}

/* Export and live digests: where the rows of table go. */
struct out {
	FILE *fp; /* NULL: digest only */
	const char *path;
	struct digests d;
	int table;
};

static int
out_row(void *arg, const struct eca_store_value *v, struct eca_err *err)
{
	struct out *o = arg;
	char *text;
	int r;

	if ((r = row_text(o->table, v, &text, err)) != 0)
		return r;
	r = digest_row(&o->d, o->table, text, err);
	if (r == 0 && o->fp != NULL &&
	    fprintf(o->fp, "{\"t\":\"%s\",\"r\":%s}\n", tables[o->table].name,
		text) < 0)
		r = write_error(o->path, errno, err);
	free(text);
	return r;
}

/* Every table of st through o, in one snapshot. */
static int
dump_all(struct eca_store *st, struct out *o, struct eca_err *err)
{
	int r, i;

	if ((r = eca_store_bulk(st, ECA_STORE_BULK_SNAPSHOT, NULL, NULL,
		 err)) != 0)
		return r;
	for (i = 0; i < ECA_REGISTRY_NTABLES && r == 0; i++) {
		o->table = i;
		r = eca_store_dump(st, &tables[i], out_row, o, err);
	}
	/* A read-only transaction: its end cannot lose anything. */
	if (eca_store_bulk(st, ECA_STORE_BULK_END, NULL, NULL, NULL) != 0 &&
	    r == 0)
		r = eca_err_set(err, ECA_ERR_DB, "cannot end a registry read");
	return r != 0 ? r : digests_end(&o->d, err);
}

int
eca_registry_sum(struct eca_store *st, struct eca_registry_sum *sum,
    struct eca_err *err)
{
	struct out o = {NULL, NULL, {{0}, NULL}, 0};
	int r;

	if ((r = digests_init(&o.d, sum, err)) == 0)
		r = dump_all(st, &o, err);
	digests_free(&o.d);
	return r;
}

/* ------------------------------------------------------------------ */
/* Export.                                                             */

static json_t *
header_json(void)
{
	json_t *h, *list, *cols, *t;
	size_t i, c;

	h = json_pack("{s:s, s:i, s:I}", "format", ECA_REGISTRY_FORMAT,
	    "version", ECA_REGISTRY_FORMAT_VERSION, "created_at",
	    (json_int_t)time(NULL));
	list = json_array();
	for (i = 0; h != NULL && list != NULL && i < NELEM(tables); i++) {
		cols = json_array();
		for (c = 0; cols != NULL && c < tables[i].ncols; c++)
			if (json_array_append_new(cols,
				json_string(tables[i].cols[c].name)) != 0) {
				json_decref(cols);
				cols = NULL;
			}
		t = json_pack("{s:s, s:o}", "name", tables[i].name, "columns",
		    cols);
		if (t == NULL || json_array_append_new(list, t) != 0) {
			json_decref(h);
			h = NULL;
		}
	}
	if (h == NULL || list == NULL ||
	    json_object_set_new(h, "tables", list) != 0) {
		json_decref(h);
		return NULL;
	}
	return h;
}

static json_t *
trailer_json(const struct eca_registry_sum *sum)
{
	json_t *tr, *rows, *dig;
	int i, bad = 0;

	rows = json_object();
	dig = json_object();
	for (i = 0; rows != NULL && dig != NULL && i < ECA_REGISTRY_NTABLES;
	     i++)
		bad |= json_object_set_new(rows, tables[i].name,
			   json_integer((json_int_t)sum->rows[i])) |
		    json_object_set_new(dig, tables[i].name,
			json_string(sum->digest[i]));
	if (rows == NULL || dig == NULL || bad) {
		json_decref(rows);
		json_decref(dig);
		return NULL;
	}
	tr = json_pack("{s:b, s:o, s:o, s:s}", "end", 1, "rows", rows, "sha256",
	    dig, "total", sum->total);
	return tr;
}

/* One JSON line (obj consumed) to o. */
static int
put_json(struct out *o, json_t *obj, struct eca_err *err)
{
	char *text;
	int r = 0;

	if (obj == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
	text = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (text == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
	if (fprintf(o->fp, "%s\n", text) < 0)
		r = write_error(o->path, errno, err);
	free(text);
	return r;
}

/* Flush, sync and close o->fp (always closed). */
static int
finish_file(struct out *o, int r, struct eca_err *err)
{
	int e = 0;

	if (r == 0 && (fflush(o->fp) != 0 || fsync(fileno(o->fp)) != 0))
		e = errno;
	if (fclose(o->fp) != 0 && e == 0)
		e = errno;
	o->fp = NULL;
	if (r == 0 && e != 0)
		r = write_error(o->path, e, err);
	return r;
}

int
eca_registry_export(struct eca_store *st, const char *path,
    struct eca_registry_sum *sum, struct eca_err *err)
{
	struct out o = {NULL, path, {{0}, NULL}, 0};
	char tmp[4096];
	int fd, r;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path) >=
	    (int)sizeof(tmp))
		return eca_err_set(err, ECA_ERR_USAGE, "%s: name too long",
		    path);
	if ((fd = mkstemp(tmp)) == -1)
		return eca_err_set(err, ECA_ERR_IO,
		    "cannot create %s: %s (is its directory writable?)", tmp,
		    strerror(errno));
	if ((o.fp = fdopen(fd, "w")) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
		close(fd);
		goto out;
	}
	if ((r = digests_init(&o.d, sum, err)) == 0 &&
	    (r = put_json(&o, header_json(), err)) == 0 &&
	    (r = dump_all(st, &o, err)) == 0)
		r = put_json(&o, trailer_json(sum), err);
	r = finish_file(&o, r, err);
	if (r == 0 && rename(tmp, path) != 0)
		r = eca_err_set(err, ECA_ERR_IO, "cannot rename %s to %s: %s",
		    tmp, path, strerror(errno));
out:
	digests_free(&o.d);
	if (r != 0)
		(void)unlink(tmp);
	return r;
}

/* ------------------------------------------------------------------ */
/* Reading a file.                                                     */

#define DAMAGED "; the file is damaged: export it again"

struct reader {
	FILE *fp;
	const char *path;
	char *line;
	size_t cap;
	long lineno;
	json_t *next;	/* the line read ahead (a row or the trailer) */
	int next_table; /* its table, or ECA_REGISTRY_NTABLES: trailer */
	json_t *cur;	/* the row handed out last (values point in it) */
	struct digests d;
};

/* Read the next line into r->next (NULL at the end of the file). */
static int
advance(struct reader *r, struct eca_err *err)
{
	json_error_t jerr;
	json_t *t, *row;
	ssize_t n;

	json_decref(r->next);
	r->next = NULL;
	errno = 0;
	if ((n = getline(&r->line, &r->cap, r->fp)) < 0)
		return errno == 0 || feof(r->fp) ?
		    0 :
		    eca_err_set(err, ECA_ERR_IO, "cannot read %s: %s", r->path,
			strerror(errno));
	r->lineno++;
	r->next = json_loadb(r->line, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
	if (r->next == NULL || !json_is_object(r->next))
		return eca_err_set(err, ECA_ERR_PARSE,
		    "%s line %ld: not a JSON object (%s)" DAMAGED, r->path,
		    r->lineno, r->next == NULL ? jerr.text : "another value");
	if (r->lineno == 1) /* the header: read_header's */
		return 0;
	if (json_is_true(json_object_get(r->next, "end"))) {
		r->next_table = ECA_REGISTRY_NTABLES;
		return 0;
	}
	t = json_object_get(r->next, "t");
	row = json_object_get(r->next, "r");
	if (!json_is_string(t) || !json_is_array(row))
		return eca_err_set(err, ECA_ERR_PARSE,
		    "%s line %ld: neither a row nor the trailer" DAMAGED,
		    r->path, r->lineno);
	if ((r->next_table = table_index(json_string_value(t))) < 0)
		return eca_err_set(err, ECA_ERR_PARSE,
		    "%s line %ld: unknown table '%.40s'" DAMAGED, r->path,
		    r->lineno, json_string_value(t));
	return 0;
}

/* The row r->next (of table i) as values in v. */
static int
row_values(struct reader *r, int i, struct eca_store_value *v,
    struct eca_err *err)
{
	const struct eca_store_table *t = &tables[i];
	json_t *row = json_object_get(r->next, "r"), *x;
	size_t c;

	if (json_array_size(row) != t->ncols)
		return eca_err_set(err, ECA_ERR_PARSE,
		    "%s line %ld: a row of %s with %zu values, not %zu" DAMAGED,
		    r->path, r->lineno, t->name, json_array_size(row),
		    t->ncols);
	for (c = 0; c < t->ncols; c++) {
		x = json_array_get(row, c);
		memset(&v[c], 0, sizeof(v[c]));
		if (json_is_null(x))
			v[c].null = 1;
		else if (t->cols[c].type == ECA_COL_INT && json_is_integer(x))
			v[c].i = (int64_t)json_integer_value(x);
		else if (t->cols[c].type == ECA_COL_TEXT && json_is_string(x))
			v[c].s = json_string_value(x);
		else
			return eca_err_set(err, ECA_ERR_PARSE,
			    "%s line %ld: %s.%s is not %s" DAMAGED, r->path,
			    r->lineno, t->name, t->cols[c].name,
			    t->cols[c].type == ECA_COL_INT ? "an integer" :
							     "text");
	}
	return 0;
}

/* The next row of table i: 1 and v filled, 0 when its rows end. */
static int
next_row(struct reader *r, int i, struct eca_store_value *v,
    struct eca_err *err)
{
	char *text;
	int rc;

	if (r->next == NULL)
		return eca_err_set(err, ECA_ERR_PARSE,
		    "%s ends after line %ld without its trailer: the file is "
		    "truncated (export it again; check the disk it was "
		    "written to)",
		    r->path, r->lineno);
	if (r->next_table < i)
		return eca_err_set(err, ECA_ERR_PARSE,
		    "%s line %ld: a row of %s after the rows of %s" DAMAGED,
		    r->path, r->lineno, tables[r->next_table].name,
		    tables[i].name);
	if (r->next_table > i)
		return 0;
	if ((rc = row_values(r, i, v, err)) != 0)
		return rc;
	if ((text = json_dumps(json_object_get(r->next, "r"), JSON_COMPACT)) ==
	    NULL)
		return eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
	rc = digest_row(&r->d, i, text, err);
	free(text);
	if (rc != 0)
		return rc;
	/* v points into this row: keep it until the next call. */
	json_decref(r->cur);
	r->cur = r->next;
	json_incref(r->cur);
	return (rc = advance(r, err)) != 0 ? rc : 1;
}

/* Loader state: the reader and the table being loaded. */
struct source {
	struct reader *r;
	int table;
};

static int
source_row(void *arg, struct eca_store_value *v, struct eca_err *err)
{
	struct source *s = arg;

	return next_row(s->r, s->table, v, err);
}

/* Table i's entry of the header names its columns as this eca does. */
static int
check_table(const struct reader *r, json_t *entry, size_t i,
    struct eca_err *err)
{
	json_t *cols = json_object_get(entry, "columns");
	const char *name = json_string_value(json_object_get(entry, "name"));
	size_t c;
	int same = name != NULL && strcmp(name, tables[i].name) == 0 &&
	    json_array_size(cols) == tables[i].ncols;

	for (c = 0; same && c < tables[i].ncols; c++)
		same = json_is_string(json_array_get(cols, c)) &&
		    strcmp(json_string_value(json_array_get(cols, c)),
			tables[i].cols[c].name) == 0;
	if (!same)
		return eca_err_set(err, ECA_ERR_PARSE,
		    "%s: its table %s has other columns than this eca's "
		    "(export and import with one eca version)",
		    r->path, tables[i].name);
	return 0;
}

static int
read_header(struct reader *r, struct eca_err *err)
{
	json_t *h, *list, *v;
	size_t i;
	int rc;

	if ((rc = advance(r, err)) != 0 && r->lineno == 0)
		return rc; /* not read at all */
	h = r->next;
	if (h == NULL && rc == 0)
		return eca_err_set(err, ECA_ERR_PARSE,
		    "%s is empty (an export holds at least its header and "
		    "trailer)",
		    r->path);
	if (rc != 0 || !json_is_string(json_object_get(h, "format")) ||
	    strcmp(json_string_value(json_object_get(h, "format")),
		ECA_REGISTRY_FORMAT) != 0)
		return eca_err_set(err, ECA_ERR_PARSE,
		    "%s is not an eca registry export (its first line is not "
		    "a {\"format\": \"" ECA_REGISTRY_FORMAT "\"} header)",
		    r->path);
	v = json_object_get(h, "version");
	if (!json_is_integer(v) ||
	    json_integer_value(v) != ECA_REGISTRY_FORMAT_VERSION)
		return eca_err_set(err, ECA_ERR_PARSE,
		    "%s is format version %lld; this eca reads version %d "
		    "(import it with the eca version that wrote it, or a "
		    "newer one)",
		    r->path,
		    json_is_integer(v) ? (long long)json_integer_value(v) :
					 -1LL,
		    ECA_REGISTRY_FORMAT_VERSION);
	list = json_object_get(h, "tables");
	if (json_array_size(list) != NELEM(tables))
		return eca_err_set(err, ECA_ERR_PARSE,
		    "%s names %zu tables, not the %zu of this eca's registry "
		    "(export and import with one eca version)",
		    r->path, json_array_size(list), NELEM(tables));
	for (i = 0; i < NELEM(tables); i++)
		if ((rc = check_table(r, json_array_get(list, i), i, err)) != 0)
			return rc;
	return advance(r, err);
}

/* The trailer (r->next) agrees with what was read; nothing follows it. */
static int
check_trailer(struct reader *r, struct eca_err *err)
{
	json_t *rows, *dig, *n, *d;
	struct eca_registry_sum *s = r->d.sum;
	const char *what = NULL;
	int i, rc;

	if (r->next == NULL)
		return next_row(r, 0, NULL, err); /* says: truncated */
	if (r->next_table != ECA_REGISTRY_NTABLES)
		return eca_err_set(err, ECA_ERR_PARSE,
		    "%s line %ld: a row of %s after the rows of the last "
		    "table" DAMAGED,
		    r->path, r->lineno, tables[r->next_table].name);
	if ((rc = digests_end(&r->d, err)) != 0)
		return rc;
	rows = json_object_get(r->next, "rows");
	dig = json_object_get(r->next, "sha256");
	for (i = 0; i < ECA_REGISTRY_NTABLES && what == NULL; i++) {
		n = json_object_get(rows, tables[i].name);
		d = json_object_get(dig, tables[i].name);
		if (!json_is_integer(n) || json_integer_value(n) != s->rows[i])
			what = "row count";
		else if (!json_is_string(d) ||
		    strcmp(json_string_value(d), s->digest[i]) != 0)
			what = "SHA-256";
	}
	if (what != NULL)
		return eca_err_set(err, ECA_ERR_PARSE,
		    "%s: table %s's %s in the trailer differs from its rows "
		    "(%lld rows, SHA-256 %.16s...)" DAMAGED,
		    r->path, tables[i - 1].name, what,
		    (long long)s->rows[i - 1], s->digest[i - 1]);
	d = json_object_get(r->next, "total");
	if (!json_is_string(d) || strcmp(json_string_value(d), s->total) != 0)
		return eca_err_set(err, ECA_ERR_PARSE,
		    "%s: the total SHA-256 in the trailer differs from its "
		    "tables'" DAMAGED,
		    r->path);
	if ((rc = advance(r, err)) != 0)
		return rc;
	if (r->next != NULL)
		return eca_err_set(err, ECA_ERR_PARSE,
		    "%s line %ld: more after the trailer" DAMAGED, r->path,
		    r->lineno);
	return 0;
}

static int
reader_open(struct reader *r, const char *path, struct eca_registry_sum *sum,
    struct eca_err *err)
{
	int rc;

	memset(r, 0, sizeof(*r));
	r->path = path;
	if ((rc = digests_init(&r->d, sum, err)) != 0)
		return rc;
	if ((r->fp = fopen(path, "re")) == NULL)
		return eca_err_set(err,
		    errno == ENOENT ? ECA_ERR_NOT_FOUND : ECA_ERR_UNREADABLE,
		    "cannot open %s: %s", path, strerror(errno));
	return read_header(r, err);
}

static void
reader_close(struct reader *r)
{
	if (r->fp != NULL)
		fclose(r->fp);
	free(r->line);
	json_decref(r->next);
	json_decref(r->cur);
	digests_free(&r->d);
	memset(r, 0, sizeof(*r));
}

int
eca_registry_check_header(const char *path, struct eca_err *err)
{
	struct eca_registry_sum sum;
	struct reader r;
	int rc;

	rc = reader_open(&r, path, &sum, err);
	reader_close(&r);
	return rc;
}

int
eca_registry_read(const char *path, struct eca_registry_sum *sum,
    struct eca_err *err)
{
	struct eca_store_value v[64];
	struct reader r;
	int rc, i;

	if ((rc = reader_open(&r, path, sum, err)) != 0)
		goto out;
	for (i = 0; i < ECA_REGISTRY_NTABLES && rc == 0; i++)
		while ((rc = next_row(&r, i, v, err)) == 1)
			;
	if (rc == 0)
		rc = check_trailer(&r, err);
out:
	reader_close(&r);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Import.                                                             */

/* Refuse a target with rows (unless force: then they go first). */
static int
make_room(struct eca_store *st, int force, struct eca_err *err)
{
	int64_t n[ECA_REGISTRY_NTABLES] = {0};
	int i, rc, full = 0;

	for (i = 1; i < ECA_REGISTRY_NTABLES; i++) {
		if ((rc = eca_store_bulk(st, ECA_STORE_BULK_COUNT, &tables[i],
			 &n[i], err)) != 0)
			return rc;
		full |= n[i] > 0;
	}
	if (full && !force)
		return eca_err_set(err, ECA_ERR_FORBIDDEN,
		    "the target registry is not empty (%lld records, %lld "
		    "history entries, %lld candidates, %lld mappings): import "
		    "into an empty one (a new SQLite file, an empty "
		    "PostgreSQL database) or, to replace what it holds, add "
		    "--force",
		    (long long)n[1], (long long)n[2], (long long)n[3],
		    (long long)n[4]);
	for (i = 0; i < ECA_REGISTRY_NTABLES; i++)
		if ((full || clear_order[i] == 0) &&
		    (rc = eca_store_bulk(st, ECA_STORE_BULK_CLEAR,
			 &tables[clear_order[i]], NULL, err)) != 0)
			return rc;
	return 0;
}

int
eca_registry_import(struct eca_store *st, const char *path, int force,
    struct eca_registry_sum *sum, struct eca_err *err)
{
	struct reader r;
	struct source src;
	int64_t n;
	int rc, i;

	/* The file's header is checked before the registry is touched. */
	if ((rc = reader_open(&r, path, sum, err)) != 0)
		goto out;
	if ((rc = eca_store_begin(st, err)) != 0)
		goto out;
	if ((rc = eca_store_bulk(st, ECA_STORE_BULK_LOCK, NULL, NULL, err)) ==
	    0)
		rc = make_room(st, force, err);
	src.r = &r;
	for (i = 0; i < ECA_REGISTRY_NTABLES && rc == 0; i++) {
		src.table = i;
		rc = eca_store_load(st, &tables[i], source_row, &src, &n, err);
	}
	if (rc == 0)
		rc = check_trailer(&r, err);
	if (rc == 0)
		rc = eca_store_commit(st, err);
	else
		eca_store_rollback(st);
out:
	reader_close(&r);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Comparing.                                                          */

int
eca_registry_compare(const struct eca_registry_sum *a, const char *a_name,
    const struct eca_registry_sum *b, const char *b_name, struct eca_err *err)
{
	char msg[ECA_ERR_MSG_MAX] = "";
	size_t len = 0;
	int i, n = 0, w;

	for (i = 0; i < ECA_REGISTRY_NTABLES; i++) {
		if (a->rows[i] == b->rows[i] &&
		    strcmp(a->digest[i], b->digest[i]) == 0)
			continue;
		w = snprintf(msg + len, sizeof(msg) - len,
		    "%s%s: %lld rows (SHA-256 %.12s) in %s, %lld (%.12s) in %s",
		    n++ > 0 ? "; " : "", tables[i].name, (long long)a->rows[i],
		    a->digest[i], a_name, (long long)b->rows[i], b->digest[i],
		    b_name);
		if (w < 0 || (size_t)w >= sizeof(msg) - len)
			break;
		len += (size_t)w;
	}
	if (n == 0 && strcmp(a->total, b->total) == 0)
		return 0;
	return eca_err_set(err, ECA_ERR_DB, "the registry differs from %s: %s",
	    a_name, msg[0] != '\0' ? msg : "the total SHA-256");
}
