/* SPDX-License-Identifier: ISC */
/*
 * audit.c - the hash-chained audit journal (see audit.h for the format).
 *
 * Appends are one write(2) of whole lines, followed by fsync(2) or, for
 * a writer whose lines the registry keeps too (audit_sqlite.c), by a
 * later eca_audit_sync; a failed append is cut back off the file so the
 * chain never has a half line in the middle.  Reading uses stdio line by
 * line and judges each line on its own (parse, own hash) and against the
 * one before (seq, prev), so the first bad line is named precisely.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "audit.h"
#include "hostname.h"
#include "text.h"
#include "util.h"

#define ZERO_HASH                                                              \
	"0000000000000000000000000000000000000000000000000000000000000000"

struct eca_audit {
	int fd;
	int regular; /* a regular file: can be cut back */
	char *path;
	int64_t seq;			   /* last seq written */
	char hash[ECA_AUDIT_HASH_LEN + 1]; /* last hash written */
	int dirty; /* lines written since the last fsync */
	/* The last write, for eca_audit_undo (undo_ok: it can be undone). */
	int undo_ok;
	off_t undo_size;
	int64_t undo_seq;
	char undo_hash[ECA_AUDIT_HASH_LEN + 1];
	/*
	 * eca_audit_open_torn: the bytes after the last newline, torn of
	 * them from torn_at to the end of the file (0: none), of which the
	 * first torn_len (zeros at the end left out) are in torn_bytes.
	 */
	char *torn_bytes;
	size_t torn, torn_len;
	off_t torn_at;
};

int
eca_audit_path(const struct eca_config *cfg, char *buf, size_t len,
    struct eca_err *err)
{
	int n;

	if (cfg->audit_log != NULL && cfg->audit_log[0] != '\0')
		n = snprintf(buf, len, "%s", cfg->audit_log);
	else if (cfg->state_dir != NULL && cfg->state_dir[0] != '\0')
		n = snprintf(buf, len, "%s/%s", cfg->state_dir,
		    ECA_AUDIT_DEFAULT_NAME);
	else
		return eca_err_set(err, ECA_ERR_CONFIG,
		    "no audit journal "
		    "configured (set AUDIT_LOG or STATE_DIR, or name the file "
		    "with --file)");
	if (n < 0 || (size_t)n >= len)
		return eca_err_set(err, ECA_ERR_CONFIG,
		    "the audit journal's "
		    "path is too long (shorten AUDIT_LOG or STATE_DIR)");
	return 0;
}

static int
is_hex64(const char *s)
{
	size_t i;

	for (i = 0; i < ECA_AUDIT_HASH_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
			(s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[i] == '\0';
}

int
eca_audit_hash(const char *prev, const json_t *obj,
    char out[ECA_AUDIT_HASH_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	EVP_MD_CTX *ctx = NULL;
	json_t *copy = NULL;
	char *canon = NULL;
	unsigned int mdlen = 0;
	int r = ECA_ERR_NOMEM;

	out[0] = '\0';
	if (prev == NULL || strlen(prev) != ECA_AUDIT_HASH_LEN ||
	    !json_is_object(obj))
		return ECA_ERR_INTERNAL;
	/* A shallow copy: only the top-level "hash" member is dropped. */
	if ((copy = json_copy((json_t *)obj)) == NULL)
		goto out;
	json_object_del(copy, "hash");
	if ((canon = json_dumps(copy, JSON_SORT_KEYS | JSON_COMPACT)) == NULL ||
	    (ctx = EVP_MD_CTX_new()) == NULL)
		goto out;
	/* SHA-256 of the previous line's hash, then this line's canon. */
	if (EVP_DigestInit_ex2(ctx, eca_util_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, prev, ECA_AUDIT_HASH_LEN) != 1 ||
	    EVP_DigestUpdate(ctx, canon, strlen(canon)) != 1 ||
	    EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 ||
	    mdlen != ECA_AUDIT_HASH_LEN / 2) {
		ERR_clear_error();
		r = ECA_ERR_INTERNAL;
		goto out;
	}
	eca_text_hex(md, mdlen, out, 0);
	r = 0;
out:
	EVP_MD_CTX_free(ctx);
	free(canon);
	json_decref(copy);
	return r;
}

/*
 * A JSON string for s: as is when it is valid UTF-8, else with every byte
 * outside printable ASCII escaped (eca_text_sanitize), so that a strange
 * DN still makes an entry instead of losing it.
 */
static json_t *
str_json(const char *s)
{
	char buf[ECA_DN_MAX];
	json_t *j;

	if ((j = json_string(s)) != NULL)
		return j;
	eca_text_sanitize(s, strlen(s), buf, sizeof(buf));
	return json_string(buf);
}

json_t *
eca_audit_entry_json(const struct eca_audit_entry *e)
{
	json_t *o;
	int bad = 0;

	if ((o = json_object()) == NULL)
		return NULL;
	bad |= json_object_set_new(o, "seq", json_integer(e->seq));
	bad |= json_object_set_new(o, "time", str_json(e->time));
	bad |= json_object_set_new(o, "event", str_json(e->event));
	bad |= json_object_set_new(o, "actor", str_json(e->actor));
	bad |= json_object_set_new(o, "host", str_json(e->host));
	bad |= json_object_set_new(o, "fingerprint", str_json(e->fingerprint));
	bad |= json_object_set_new(o, "spki_fingerprint",
	    str_json(e->spki_fingerprint));
	bad |= json_object_set_new(o, "source", str_json(e->source));
	if (e->reason[0] != '\0')
		bad |= json_object_set_new(o, "reason", str_json(e->reason));
	if (e->subject[0] != '\0')
		bad |= json_object_set_new(o, "subject", str_json(e->subject));
	if (e->count > 0)
		bad |= json_object_set_new(o, "count", json_integer(e->count));
	if (e->since[0] != '\0')
		bad |= json_object_set_new(o, "since", str_json(e->since));
	bad |= json_object_set_new(o, "prev", str_json(e->prev));
	if (e->hash[0] != '\0')
		bad |= json_object_set_new(o, "hash", str_json(e->hash));
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Copy the optional string member key into buf; -1 if wrong type/size. */
static int
get_str(const json_t *o, const char *key, int required, char *buf, size_t len)
{
	const json_t *v = json_object_get(o, key);

	buf[0] = '\0';
	if (v == NULL)
		return required ? -1 : 0;
	if (!json_is_string(v) || json_string_length(v) >= len ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return -1;
	memcpy(buf, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

/* An entry from a parsed line; -1 with why when it is not one. */
static int
entry_from_json(const json_t *o, struct eca_audit_entry *e, const char **why)
{
	const json_t *seq, *cnt;

	memset(e, 0, sizeof(*e));
	*why = "not a JSON object";
	if (!json_is_object(o))
		return -1;
	*why = "no integer \"seq\" of 1 or more";
	seq = json_object_get(o, "seq");
	if (!json_is_integer(seq) || json_integer_value(seq) < 1)
		return -1;
	e->seq = (int64_t)json_integer_value(seq);
	*why = "a field is missing, too long or not a string";
	if (get_str(o, "time", 1, e->time, sizeof(e->time)) != 0 ||
	    get_str(o, "event", 1, e->event, sizeof(e->event)) != 0 ||
	    get_str(o, "actor", 0, e->actor, sizeof(e->actor)) != 0 ||
	    get_str(o, "host", 0, e->host, sizeof(e->host)) != 0 ||
	    get_str(o, "fingerprint", 0, e->fingerprint,
		sizeof(e->fingerprint)) != 0 ||
	    get_str(o, "spki_fingerprint", 0, e->spki_fingerprint,
		sizeof(e->spki_fingerprint)) != 0 ||
	    get_str(o, "source", 0, e->source, sizeof(e->source)) != 0 ||
	    get_str(o, "reason", 0, e->reason, sizeof(e->reason)) != 0 ||
	    get_str(o, "subject", 0, e->subject, sizeof(e->subject)) != 0 ||
	    get_str(o, "since", 0, e->since, sizeof(e->since)) != 0 ||
	    get_str(o, "prev", 1, e->prev, sizeof(e->prev)) != 0 ||
	    get_str(o, "hash", 1, e->hash, sizeof(e->hash)) != 0)
		return -1;
	*why = "\"count\" is not a positive integer";
	cnt = json_object_get(o, "count");
	if (cnt != NULL &&
	    (!json_is_integer(cnt) || json_integer_value(cnt) < 1))
		return -1;
	e->count = cnt != NULL ? (int64_t)json_integer_value(cnt) : 0;
	*why = "\"prev\" or \"hash\" is not 64 lowercase hex digits";
	if (!is_hex64(e->prev) || !is_hex64(e->hash))
		return -1;
	*why = "empty \"event\"";
	if (e->event[0] == '\0')
		return -1;
	return 0;
}

/*
 * Judge one line on its own (len bytes, without the newline).  Returns 0
 * with *e filled, -1 with a problem sentence in prob, or ECA_ERR_NOMEM or
 * ECA_ERR_INTERNAL (prob says why) when the line could not be judged:
 * running out of memory is no verdict on the journal.
 */
static int
judge_line(const char *line, size_t len, struct eca_audit_entry *e, char *prob,
    size_t plen)
{
	char h[ECA_AUDIT_HASH_LEN + 1];
	json_error_t jerr = {.line = 0}; /* jansson may leave it unset */
	const char *why;
	json_t *o = NULL;
	int r = -1, hr;

	if (len > ECA_AUDIT_LINE_MAX) {
		snprintf(prob, plen,
		    "garbage: the line is longer than %d "
		    "bytes and is not a journal entry",
		    ECA_AUDIT_LINE_MAX);
		goto out;
	}
	/* jansson leaves jerr untouched when it cannot even start. */
	memset(&jerr, 0, sizeof(jerr));
	if ((o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL) {
		if (jerr.text[0] != '\0' &&
		    json_error_code(&jerr) != json_error_out_of_memory) {
			snprintf(prob, plen,
			    "garbage: not a journal entry "
			    "(%s)",
			    jerr.text);
			goto out;
		}
		snprintf(prob, plen, "out of memory reading a line");
		r = ECA_ERR_NOMEM;
		goto out;
	}
	if (entry_from_json(o, e, &why) != 0) {
		snprintf(prob, plen, "garbage: not a journal entry (%s)", why);
		goto out;
	}
	if ((hr = eca_audit_hash(e->prev, o, h)) != 0) {
		snprintf(prob, plen, "cannot compute the line's hash (%s)",
		    eca_err_desc(hr));
		r = hr;
		goto out;
	}
	if (strcmp(h, e->hash) != 0) {
		snprintf(prob, plen,
		    "edited: the line's content does not "
		    "match its hash (seq %lld)",
		    (long long)e->seq);
		goto out;
	}
	r = 0;
out:
	json_decref(o);
	return r;
}

static int
io_error(struct eca_err *err, int e, const char *path, const char *what)
{
	return eca_err_set(err,
	    (e == ENOSPC || e == EDQUOT) ? ECA_ERR_DISK_FULL : ECA_ERR_IO,
	    "audit journal %s cannot be %s: "
	    "%s",
	    path, what, strerror(e));
}

/* "cannot be continued": nothing is appended to the journal at path. */
static int
tail_refused(struct eca_err *err, const char *path, const char *prob)
{
	return eca_err_set(err, ECA_ERR_PARSE,
	    "audit journal %s cannot be "
	    "continued: %s; nothing will be appended to it until it is "
	    "repaired (run `eca audit verify --file %s` to find the first "
	    "bad line)",
	    path, prob, path);
}

#define TAIL_CUT_SHORT "its last line is cut short (no newline at the end)"

/* pread exactly len bytes at off: 0, or an error naming path. */
static int
read_at(int fd, const char *path, char *buf, size_t len, off_t off,
    struct eca_err *err)
{
	ssize_t got;
	size_t done;

	for (done = 0; done < len; done += (size_t)got)
		if ((got = pread(fd, buf + done, len - done,
			 off + (off_t)done)) <= 0)
			return got == 0 ?
			    eca_err_set(err, ECA_ERR_IO,
				"audit journal %s shrank while being read",
				path) :
			    io_error(err, errno, path, "read");
	return 0;
}

/*
 * Where the file's data ends, zeros at its end left out (the blocks a
 * power cut left unwritten read back as zeros): into *end.
 */
static int
data_end(int fd, const char *path, off_t sz, off_t *end, struct eca_err *err)
{
	char buf[8192];
	off_t pos = sz;
	size_t n;
	int r;

	while (pos > 0) {
		n = pos > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)pos;
		if ((r = read_at(fd, path, buf, n, pos - (off_t)n, err)) != 0)
			return r;
		pos -= (off_t)n;
		while (n > 0 && buf[n - 1] == '\0')
			n--;
		if (n > 0) {
			*end = pos + (off_t)n;
			return 0;
		}
	}
	*end = 0;
	return 0;
}

/*
 * Continue the chain from the last line of the regular file fd (path, of
 * size sz): a->seq and a->hash become that line's.  With torn, what
 * follows the last newline (the start of a line a power cut cut short,
 * then perhaps zeros) is left for eca_audit_mend (a->torn*) and the chain
 * continues from the whole line before it (none: a->seq stays 0);
 * without, it refuses the journal.
 */
static int
read_tail(struct eca_audit *a, int fd, const char *path, off_t sz, int torn,
    struct eca_err *err)
{
	struct eca_audit_entry e;
	char prob[ECA_ERR_MSG_MAX];
	char *buf = NULL, *start, *end, *p;
	size_t chunk, cut;
	off_t off, zend = sz;
	int r;

	if (torn && (r = data_end(fd, path, sz, &zend, err)) != 0)
		return r;
	/* Room for the start of a line and a whole one before it. */
	chunk = (size_t)zend > 2 * (ECA_AUDIT_LINE_MAX + 1) ?
	    2 * (ECA_AUDIT_LINE_MAX + 1) :
	    (size_t)zend;
	off = zend - (off_t)chunk;
	if ((buf = malloc(chunk + 1)) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory reading "
		    "the audit journal");
	if ((r = read_at(fd, path, buf, chunk, off, err)) != 0)
		goto out;
	/* end: just after the last newline (buf: none in the chunk). */
	for (end = buf + chunk; end > buf && end[-1] != '\n'; end--)
		;
	cut = (size_t)(buf + chunk - end);
	if ((cut > 0 || zend < sz) && (!torn || cut > ECA_AUDIT_LINE_MAX)) {
		snprintf(prob, sizeof(prob), "%s", TAIL_CUT_SHORT);
		goto bad;
	}
	if (cut > 0 || zend < sz) {
		if ((a->torn_bytes = malloc(cut + 1)) == NULL) {
			r = eca_err_set(err, ECA_ERR_NOMEM,
			    "out of memory reading the audit journal");
			goto out;
		}
		memcpy(a->torn_bytes, end, cut);
		a->torn_len = cut;
		a->torn_at = zend - (off_t)cut;
		a->torn = (size_t)(sz - a->torn_at);
	}
	if (end == buf) { /* no whole line: at most the start of a first */
		r = 0;
		goto out;
	}
	start = buf;
	for (p = end - 1; p > buf; p--)
		if (p[-1] == '\n') {
			start = p;
			break;
		}
	if (start == buf && off > 0) {
		snprintf(prob, sizeof(prob),
		    "its last line is longer than "
		    "%d bytes",
		    ECA_AUDIT_LINE_MAX);
		goto bad;
	}
	if ((r = judge_line(start, (size_t)(end - 1 - start), &e, prob,
		 sizeof(prob))) == -1)
		goto bad;
	if (r != 0) {
		r = eca_err_set(err, r, "audit journal %s: %s", path, prob);
		goto out;
	}
	a->seq = e.seq;
	memcpy(a->hash, e.hash, sizeof(a->hash));
	r = 0;
	goto out;
bad:
	r = tail_refused(err, path, prob);
out:
	free(buf);
	return r;
}

/*
 * An empty journal just rotated (PATH.1 exists, as logrotate leaves it)
 * continues the chain of PATH.1's last line, so a restart between the
 * rotation and the next entry does not start a new chain.
 */
static int
rotated_tail(struct eca_audit *a, struct eca_err *err)
{
	char prev[PATH_MAX];
	struct stat st;
	int fd, r = 0;

	if ((size_t)snprintf(prev, sizeof(prev), "%s.1", a->path) >=
	    sizeof(prev))
		return 0;
	if ((fd = open(prev, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : io_error(err, errno, prev, "read");
	if (fstat(fd, &st) == -1)
		r = io_error(err, errno, prev, "examined");
	else if (S_ISREG(st.st_mode) && st.st_size > 0)
		r = read_tail(a, fd, prev, st.st_size, 0, err);
	close(fd);
	return r;
}

static int
audit_open(const char *path, int torn, struct eca_audit **out,
    struct eca_err *err)
{
	struct eca_audit *a = NULL;
	struct stat st;
	int r, created = 0;

	*out = NULL;
	if (path == NULL || path[0] == '\0')
		return eca_err_set(err, ECA_ERR_CONFIG,
		    "no audit journal "
		    "path given (set AUDIT_LOG)");
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory opening "
		    "the audit journal");
		goto out;
	}
	a->fd = -1;
	if ((a->path = strdup(path)) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory opening "
		    "the audit journal");
		goto out;
	}
	a->fd =
	    open(path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (a->fd != -1)
		created = 1;
	else if (errno == EEXIST)
		a->fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
	if (a->fd == -1) {
		r = eca_err_set(err,
		    errno == ENOSPC ? ECA_ERR_DISK_FULL : ECA_ERR_IO,
		    "audit journal %s cannot be opened: %s (check "
		    "AUDIT_LOG and its directory's permissions)",
		    path, strerror(errno));
		goto out;
	}
	if (fstat(a->fd, &st) == -1) {
		r = io_error(err, errno, path, "examined");
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		r = eca_err_set(err, ECA_ERR_CONFIG,
		    "audit journal %s is a "
		    "directory (AUDIT_LOG names a file)",
		    path);
		goto out;
	}
	a->regular = S_ISREG(st.st_mode);
	memcpy(a->hash, ZERO_HASH, sizeof(a->hash));
	if (a->regular && st.st_size > 0 &&
	    (r = read_tail(a, a->fd, path, st.st_size, torn, err)) != 0)
		goto out;
	/* No whole line (perhaps the start of a first one): just rotated? */
	if (a->regular && st.st_size == (off_t)a->torn &&
	    (r = rotated_tail(a, err)) != 0)
		goto out;
	/* Best effort: the new file's directory entry made durable. */
	if (created)
		(void)eca_util_sync_dir(path, NULL);
	*out = a;
	a = NULL;
	r = 0;
out:
	eca_audit_close(a);
	return r;
}

int
eca_audit_open(const char *path, struct eca_audit **out, struct eca_err *err)
{
	return audit_open(path, 0, out, err);
}

int
eca_audit_open_torn(const char *path, struct eca_audit **out,
    struct eca_err *err)
{
	return audit_open(path, 1, out, err);
}

size_t
eca_audit_torn(const struct eca_audit *a)
{
	return a->torn;
}

/*
 * The kept line that continues the journal (seq a->seq + 1) in lines (len
 * bytes of whole lines), without its newline: *line and *llen; 0 if none.
 */
static int
next_kept_line(const struct eca_audit *a, const char *lines, size_t len,
    const char **line, size_t *llen)
{
	struct eca_audit_entry e;
	const char *p, *nl;

	for (p = lines; p != NULL && p < lines + len; p = nl + 1) {
		if ((nl = memchr(p, '\n', len - (size_t)(p - lines))) == NULL)
			return 0;
		if (eca_audit_parse_line(p, (size_t)(nl - p), &e) == 0 &&
		    e.seq == a->seq + 1) {
			*line = p;
			*llen = (size_t)(nl - p);
			return 1;
		}
	}
	return 0;
}

int
eca_audit_mend(struct eca_audit *a, const char *lines, size_t len,
    struct eca_err *err)
{
	const char *line = NULL;
	size_t llen = 0;

	if (a->torn == 0)
		return 0;
	/* Nothing kept (PostgreSQL, a device): the refusal of old. */
	if (lines == NULL)
		return tail_refused(err, a->path, TAIL_CUT_SHORT);
	if (!next_kept_line(a, lines, len, &line, &llen) ||
	    a->torn_len > llen || memcmp(a->torn_bytes, line, a->torn_len) != 0)
		return tail_refused(err, a->path,
		    TAIL_CUT_SHORT ", and the registry keeps no line it is "
				   "the start of");
	if (ftruncate(a->fd, a->torn_at) != 0 || fsync(a->fd) != 0)
		return io_error(err, errno, a->path, "cut back");
	free(a->torn_bytes);
	a->torn_bytes = NULL;
	a->torn = a->torn_len = 0;
	a->undo_ok = 0;
	return 0;
}

/*
 * eca_audit_seal: the lines of a group: each entry takes the next seq
 * and the previous hash, gets its time (now, unless given) and its own
 * hash, and becomes one JSON line in *out (*outlen bytes, the caller's,
 * free()).  *seq and hash end as the group's last.  Nothing is written.
 */
int
eca_audit_seal(const char *where, struct eca_audit_entry *e, size_t n,
    int64_t *seq, char hash[ECA_AUDIT_HASH_LEN + 1], char **out, size_t *outlen,
    struct eca_err *err)
{
	char *buf = NULL, *line = NULL, *nb;
	size_t len = 0, cap = 0, ll, i;
	json_t *o = NULL;
	int r = ECA_ERR_NOMEM;

	for (i = 0; i < n; i++) {
		e[i].seq = ++*seq;
		memcpy(e[i].prev, hash, sizeof(e[i].prev));
		e[i].hash[0] = '\0';
		if (e[i].time[0] == '\0')
			eca_text_rfc3339((int64_t)time(NULL), e[i].time,
			    sizeof(e[i].time));
		if ((o = eca_audit_entry_json(&e[i])) == NULL ||
		    eca_audit_hash(hash, o, e[i].hash) != 0 ||
		    json_object_set_new(o, "hash", json_string(e[i].hash)) !=
			0 ||
		    (line = json_dumps(o,
			 JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL)
			goto out;
		memcpy(hash, e[i].hash, ECA_AUDIT_HASH_LEN + 1);
		ll = strlen(line);
		if (len + ll + 1 > cap) {
			cap = (len + ll + 1) * 2;
			if ((nb = realloc(buf, cap)) == NULL)
				goto out;
			buf = nb;
		}
		memcpy(buf + len, line, ll);
		buf[len + ll] = '\n';
		len += ll + 1;
		free(line);
		line = NULL;
		json_decref(o);
		o = NULL;
	}
	*out = buf;
	*outlen = len;
	buf = NULL;
	r = 0;
out:
	if (r != 0)
		r = eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory writing "
		    "the audit journal %s",
		    where);
	free(line);
	json_decref(o);
	free(buf);
	return r;
}

/* write(2) all of buf: 0, or -1 with errno. */
static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t w;
	size_t off;

	for (off = 0; off < len; off += (size_t)w) {
		if ((w = write(fd, buf + off, len - off)) < 0) {
			if (errno == EINTR) {
				w = 0;
				continue;
			}
			return -1;
		}
		if (w == 0) {
			errno = EIO;
			return -1;
		}
	}
	return 0;
}

/*
 * fsync the journal: 0, or -1 with errno.  A device (e.g. a terminal or
 * /dev/null) may not support fsync.
 */
static int
sync_file(struct eca_audit *a)
{
	if (fsync(a->fd) == -1 &&
	    (a->regular ||
		(errno != EINVAL && errno != EROFS && errno != ENOTSUP)))
		return -1;
	a->dirty = 0;
	return 0;
}

/*
 * Write a group's lines with write(2), and make them durable when sync is
 * set; on failure a regular file is cut back to where it was, so that the
 * chain never holds half a group.
 */
static int
write_group(struct eca_audit *a, const char *buf, size_t len, int sync,
    struct eca_err *err)
{
	struct stat st;
	off_t size0 = 0;
	int saved;

	/* Never after a line cut short: the new lines would not link. */
	if (a->torn > 0)
		return tail_refused(err, a->path, TAIL_CUT_SHORT);
	a->undo_ok = 0;
	if (a->regular) {
		if (fstat(a->fd, &st) == -1)
			return io_error(err, errno, a->path, "written");
		size0 = st.st_size;
	}
	if (write_all(a->fd, buf, len) != 0)
		goto fail;
	a->dirty = 1;
	if (sync && sync_file(a) != 0)
		goto fail;
	a->undo_ok = a->regular;
	a->undo_size = size0;
	return 0;
fail:
	saved = errno;
	/* Best effort: leave no half group for the next start to trip on. */
	if (a->regular && ftruncate(a->fd, size0) == 0)
		(void)fsync(a->fd);
	return io_error(err, saved, a->path, "written");
}

void
eca_audit_head(const struct eca_audit *a, int64_t *seq,
    char hash[ECA_AUDIT_HASH_LEN + 1])
{
	*seq = a->seq;
	memcpy(hash, a->hash, ECA_AUDIT_HASH_LEN + 1);
}

int
eca_audit_write(struct eca_audit *a, const char *lines, size_t len, int64_t seq,
    const char hash[ECA_AUDIT_HASH_LEN + 1], int sync, struct eca_err *err)
{
	int64_t seq0 = a->seq;
	int r;

	if (len == 0)
		return 0;
	if ((r = write_group(a, lines, len, sync, err)) != 0)
		return r;
	/* The chain moves on only once the group is in the file. */
	a->undo_seq = seq0;
	memcpy(a->undo_hash, a->hash, sizeof(a->undo_hash));
	a->seq = seq;
	memcpy(a->hash, hash, sizeof(a->hash));
	return 0;
}

int
eca_audit_undo(struct eca_audit *a)
{
	if (!a->undo_ok || ftruncate(a->fd, a->undo_size) != 0)
		return -1;
	a->undo_ok = 0;
	a->seq = a->undo_seq;
	memcpy(a->hash, a->undo_hash, sizeof(a->hash));
	return 0;
}

int
eca_audit_sync(struct eca_audit *a, struct eca_err *err)
{
	if (a->dirty && sync_file(a) != 0)
		return io_error(err, errno, a->path, "synced");
	return 0;
}

int
eca_audit_dirty(const struct eca_audit *a)
{
	return a->dirty;
}

int
eca_audit_append(struct eca_audit *a, struct eca_audit_entry *e, size_t n,
    struct eca_err *err)
{
	char hash[ECA_AUDIT_HASH_LEN + 1];
	char *buf = NULL;
	size_t len = 0;
	int64_t seq = a->seq;
	int r;

	if (n == 0)
		return 0;
	memcpy(hash, a->hash, sizeof(hash));
	if ((r = eca_audit_seal(a->path, e, n, &seq, hash, &buf, &len, err)) ==
	    0)
		r = eca_audit_write(a, buf, len, seq, hash, 1, err);
	free(buf);
	return r;
}

/* The seq of the line at p (len bytes, no newline), or -1. */
static int64_t
line_seq(const char *p, size_t len)
{
	struct eca_audit_entry e;

	return eca_audit_parse_line(p, len, &e) == 0 ? e.seq : -1;
}

int
eca_audit_restore(struct eca_audit *a, const char *lines, size_t len,
    size_t *restored, struct eca_err *err)
{
	struct eca_audit_report rep;
	struct eca_audit_chain c;
	const char *p = lines, *from = NULL, *nl;
	size_t lineno = 0;
	int64_t seq;
	int r;

	*restored = 0;
	eca_audit_chain_init(&c, &rep);
	c.want = a->seq + 1;
	memcpy(c.prev, a->hash, sizeof(c.prev));
	c.started = a->seq > 0;
	for (; p < lines + len; p = nl + 1) {
		if ((nl = memchr(p, '\n', len - (size_t)(p - lines))) == NULL)
			return eca_err_set(err, ECA_ERR_INTERNAL,
			    "audit lines to restore without their newline");
		/* The file may hold the first lines of the first group. */
		if (from == NULL && (seq = line_seq(p, (size_t)(nl - p))) > 0 &&
		    seq <= a->seq)
			continue;
		if (from == NULL)
			from = p;
		if ((r = eca_audit_chain_line(&c, p, (size_t)(nl - p), ++lineno,
			 &rep, err)) != 0)
			return r;
		if (!rep.intact)
			return eca_err_set(err, ECA_ERR_PARSE,
			    "the registry keeps audit lines that do not "
			    "continue the journal %s, which ends at seq %lld: "
			    "its line %zu: %s",
			    a->path, (long long)a->seq, lineno, rep.problem);
	}
	if (from == NULL)
		return 0;
	if ((r = eca_audit_write(a, from, len - (size_t)(from - lines),
		 c.want - 1, c.prev, 1, err)) != 0)
		return r;
	*restored = rep.entries;
	return 0;
}

int
eca_audit_set_aside(const struct eca_audit *a, const char *lines, size_t len,
    int64_t first, int64_t last, char *where, size_t wlen, struct eca_err *err)
{
	if ((size_t)snprintf(where, wlen, "%s.unjoined-%lld-%lld", a->path,
		(long long)first, (long long)last) >= wlen)
		return eca_err_set(err, ECA_ERR_CONFIG,
		    "audit journal path %s is too long", a->path);
	return eca_util_replace_file(where, lines, len, 0640, err);
}

int
eca_audit_reopen(struct eca_audit *a, int *moved, struct eca_err *err)
{
	struct stat now, st;
	struct eca_audit b;
	int fd, r;

	*moved = 0;
	fd = open(a->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1)
		return eca_err_set(err,
		    errno == ENOSPC ? ECA_ERR_DISK_FULL : ECA_ERR_IO,
		    "audit journal %s cannot be reopened: %s (the old file "
		    "stays in use; check AUDIT_LOG's directory)",
		    a->path, strerror(errno));
	if (fstat(fd, &st) == -1 || fstat(a->fd, &now) == -1) {
		r = io_error(err, errno, a->path, "examined");
		close(fd);
		return r;
	}
	if (st.st_dev == now.st_dev && st.st_ino == now.st_ino) {
		close(fd);
		return 0;
	}
	/* A new empty file continues the chain held in memory. */
	b = *a;
	if (S_ISREG(st.st_mode) && st.st_size > 0 &&
	    (r = read_tail(&b, fd, a->path, st.st_size, 0, err)) != 0) {
		close(fd);
		return r;
	}
	/* The old file's lines are on disk before it is let go. */
	if ((r = eca_audit_sync(a, err)) != 0) {
		close(fd);
		return r;
	}
	close(a->fd);
	a->fd = fd;
	a->regular = S_ISREG(st.st_mode);
	a->undo_ok = 0;
	a->seq = b.seq;
	memcpy(a->hash, b.hash, sizeof(a->hash));
	*moved = 1;
	if (st.st_size == 0)
		(void)eca_util_sync_dir(a->path, NULL);
	return 0;
}

int64_t
eca_audit_last_seq(const struct eca_audit *a)
{
	return a->seq;
}

int
eca_audit_is_file(const struct eca_audit *a)
{
	return a->regular;
}

const char *
eca_audit_file(const struct eca_audit *a)
{
	return a->path;
}

void
eca_audit_close(struct eca_audit *a)
{
	if (a == NULL)
		return;
	if (a->fd != -1)
		close(a->fd);
	free(a->torn_bytes);
	free(a->path);
	free(a);
}

static FILE *
open_read(const char *path, struct eca_err *err)
{
	FILE *fp;

	if ((fp = fopen(path, "re")) == NULL)
		eca_err_set(err,
		    errno == ENOENT ? ECA_ERR_NOT_FOUND : ECA_ERR_UNREADABLE,
		    "audit journal %s cannot be read: %s", path,
		    strerror(errno));
	return fp;
}

/* A line's link to the one before it, or a problem sentence in prob. */
static void
judge_link(const struct eca_audit_chain *c, const struct eca_audit_entry *e,
    size_t lineno, char *prob, size_t plen)
{
	if (!c->started && (e->seq != 1 || strcmp(e->prev, ZERO_HASH) != 0))
		snprintf(prob, plen,
		    "removed or reordered: the first entry has seq %lld and "
		    "%s, where the journal starts at seq 1 with a prev of 64 "
		    "zeros (lines before it were removed; if rotated files "
		    "hold them, name those first, oldest first)",
		    (long long)e->seq,
		    strcmp(e->prev, ZERO_HASH) ? "a non-zero prev" :
						 "a zero prev");
	else if (c->started && (e->seq != c->want || strcmp(e->prev, c->prev)))
		snprintf(prob, plen,
		    "removed or reordered: seq %lld%s follows seq %lld%s (a "
		    "line%s was removed, moved or inserted here)",
		    (long long)e->seq,
		    e->seq == c->want ? " with the wrong prev" : "",
		    (long long)(c->want - 1),
		    lineno == 1 ? " at the end of the file before" : "",
		    lineno == 1 ? " or a whole rotated file" : "");
}

/* One file of a set: 0 when read (rep tells whether intact), or an error. */
static int
verify_one(const char *path, struct eca_audit_chain *c,
    struct eca_audit_report *rep, struct eca_err *err)
{
	struct eca_audit_entry e;
	char prob[ECA_ERR_MSG_MAX];
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t got;
	FILE *fp;
	int r = 0, jr;

	if ((fp = open_read(path, err)) == NULL)
		return err != NULL ? err->code : ECA_ERR_IO;
	while ((got = getline(&line, &cap, fp)) > 0) {
		lineno++;
		prob[0] = '\0';
		if (line[got - 1] != '\n')
			snprintf(prob, sizeof(prob),
			    "truncated: the last "
			    "line is cut short (no newline at the end)");
		else if ((jr = judge_line(line, (size_t)got - 1, &e, prob,
			      sizeof(prob))) < -1) {
			r = eca_err_set(err, jr,
			    "audit journal %s, line %zu "
			    "cannot be checked: %s",
			    path, lineno, prob);
			break;
		} else if (jr == 0)
			judge_link(c, &e, lineno, prob, sizeof(prob));
		if (prob[0] != '\0') {
			rep->intact = 0;
			rep->first_bad_line = lineno;
			snprintf(rep->problem, sizeof(rep->problem), "%s",
			    prob);
			break;
		}
		rep->entries++;
		c->started = 1;
		c->want = e.seq + 1;
		memcpy(c->prev, e.hash, sizeof(c->prev));
	}
	/* getline's ENOMEM sets neither feof nor (glibc) ferror. */
	if (r == 0 && rep->intact && (ferror(fp) || !feof(fp)))
		r = eca_err_set(err,
		    errno == ENOMEM ? ECA_ERR_NOMEM : ECA_ERR_IO,
		    "audit journal %s cannot be read: %s", path,
		    strerror(errno));
	free(line);
	fclose(fp);
	return r;
}

void
eca_audit_chain_init(struct eca_audit_chain *c, struct eca_audit_report *rep)
{
	memset(c, 0, sizeof(*c));
	c->want = 1;
	memcpy(c->prev, ZERO_HASH, sizeof(c->prev));
	memset(rep, 0, sizeof(*rep));
	rep->intact = 1;
	rep->files = 1;
}

int
eca_audit_chain_line(struct eca_audit_chain *c, const char *line, size_t len,
    size_t lineno, struct eca_audit_report *rep, struct eca_err *err)
{
	struct eca_audit_entry e;
	char prob[ECA_ERR_MSG_MAX];
	int jr;

	if (!rep->intact)
		return 0;
	prob[0] = '\0';
	if ((jr = judge_line(line, len, &e, prob, sizeof(prob))) < -1)
		return eca_err_set(err, jr,
		    "audit entry %zu cannot be checked: %s", lineno, prob);
	if (jr == 0)
		judge_link(c, &e, lineno, prob, sizeof(prob));
	if (prob[0] != '\0') {
		rep->intact = 0;
		rep->first_bad_line = lineno;
		snprintf(rep->problem, sizeof(rep->problem), "%s", prob);
		return 0;
	}
	rep->entries++;
	c->started = 1;
	c->want = e.seq + 1;
	memcpy(c->prev, e.hash, sizeof(c->prev));
	return 0;
}

int
eca_audit_parse_line(const char *line, size_t len, struct eca_audit_entry *e)
{
	const char *why;
	json_t *o;
	int r;

	if ((o = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL)) == NULL)
		return -1;
	r = entry_from_json(o, e, &why);
	json_decref(o);
	return r;
}

int
eca_audit_verify_files(const char *const *paths, size_t n,
    struct eca_audit_report *rep, struct eca_err *err)
{
	struct eca_audit_chain c = {.want = 1, .started = 0};
	size_t i;
	int r = 0;

	memset(rep, 0, sizeof(*rep));
	memcpy(c.prev, ZERO_HASH, sizeof(c.prev));
	rep->intact = 1;
	if (n == 0)
		return eca_err_set(err, ECA_ERR_USAGE,
		    "no audit journal file to verify (name one or more)");
	for (i = 0; i < n && r == 0 && rep->intact; i++) {
		rep->file = i;
		rep->files = i + 1;
		r = verify_one(paths[i], &c, rep, err);
	}
	return r;
}

/* "NAME.N": N (> 0) when name is base's rotated sibling, else 0. */
static unsigned long
rotated_number(const char *name, const char *base, const char **rest)
{
	size_t bl = strlen(base);
	unsigned long v;
	char *end;

	if (strncmp(name, base, bl) != 0 || name[bl] != '.' ||
	    name[bl + 1] < '1' || name[bl + 1] > '9')
		return 0;
	errno = 0;
	v = strtoul(name + bl + 1, &end, 10);
	if (errno != 0 || v > 1000000)
		return 0;
	*rest = end;
	return v;
}

static int
cmp_desc(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a;
	unsigned long y = *(const unsigned long *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* The numbers N of path's siblings PATH.N, oldest (highest) first. */
static int
rotated_numbers(const char *dir, const char *base, unsigned long **out,
    size_t *n, struct eca_err *err)
{
	unsigned long *v = NULL, *nv, num;
	size_t cap = 0;
	struct dirent *de;
	const char *rest;
	DIR *dp;
	int r = 0;

	*n = 0;
	if ((dp = opendir(dir)) == NULL)
		return eca_err_set(err, ECA_ERR_UNREADABLE,
		    "directory %s of the audit journal cannot be read: %s", dir,
		    strerror(errno));
	while (r == 0 && (de = readdir(dp)) != NULL) {
		if ((num = rotated_number(de->d_name, base, &rest)) == 0)
			continue;
		if (*rest != '\0') {
			r = eca_err_set(err, ECA_ERR_UNREADABLE,
			    "%s/%s is not a plain journal file (compressed?): "
			    "decompress it, or name the files to verify",
			    dir, de->d_name);
			break;
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				r = eca_err_set(err, ECA_ERR_NOMEM,
				    "out of memory");
				break;
			}
			v = nv;
		}
		v[(*n)++] = num;
	}
	closedir(dp);
	if (r != 0) {
		free(v);
		return r;
	}
	qsort(v, *n, sizeof(*v), cmp_desc);
	*out = v;
	return 0;
}

int
eca_audit_rotated_set(const char *path, char ***out, size_t *n,
    struct eca_err *err)
{
	char dir[PATH_MAX], **v = NULL;
	unsigned long *num = NULL;
	const char *base, *slash;
	size_t k = 0, i;
	int r;

	*out = NULL;
	*n = 0;
	slash = strrchr(path, '/');
	base = slash != NULL ? slash + 1 : path;
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if ((size_t)snprintf(dir, sizeof(dir), "%.*s",
		     (int)(slash == path ? 1 : slash - path),
		     path) >= sizeof(dir))
		return eca_err_set(err, ECA_ERR_CONFIG,
		    "the audit journal's path is too long");
	if ((r = rotated_numbers(dir, base, &num, &k, err)) != 0)
		return r;
	if ((v = calloc(k + 1, sizeof(*v))) == NULL)
		goto nomem;
	for (i = 0; i < k; i++)
		if (asprintf(&v[i], "%s.%lu", path, num[i]) < 0) {
			v[i] = NULL;
			goto nomem;
		}
	if ((v[k] = strdup(path)) == NULL)
		goto nomem;
	free(num);
	*out = v;
	*n = k + 1;
	return 0;
nomem:
	eca_audit_set_free(v, k + 1);
	free(num);
	return eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
}

void
eca_audit_set_free(char **v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int
eca_audit_verify(const char *path, struct eca_audit_report *rep,
    struct eca_err *err)
{
	return eca_audit_verify_files(&path, 1, rep, err);
}

int
eca_audit_read(const char *path, const char *host, struct eca_audit_entry **out,
    size_t *n, struct eca_err *err)
{
	struct eca_audit_entry *v = NULL, *nv, e;
	char prob[ECA_ERR_MSG_MAX];
	char *line = NULL;
	size_t cap = 0, nv_cap = 0, cnt = 0, lineno = 0;
	ssize_t got;
	FILE *fp;
	int r;

	*out = NULL;
	*n = 0;
	if ((fp = open_read(path, err)) == NULL)
		return err != NULL ? err->code : ECA_ERR_IO;
	while ((got = getline(&line, &cap, fp)) > 0) {
		lineno++;
		if (line[got - 1] == '\n')
			got--;
		if ((r = judge_line(line, (size_t)got, &e, prob,
			 sizeof(prob))) != 0) {
			r = eca_err_set(err, r == -1 ? ECA_ERR_PARSE : r,
			    "audit journal %s, line %zu: %s (run `eca audit "
			    "verify --file %s`)",
			    path, lineno, prob, path);
			goto out;
		}
		/* Lines written before names were canonical: any case. */
		if (host != NULL && strcmp(e.host, host) != 0 &&
		    !eca_hostname_eq(e.host, host))
			continue;
		if (cnt == nv_cap) {
			nv_cap = nv_cap ? nv_cap * 2 : 64;
			if ((nv = realloc(v, nv_cap * sizeof(*v))) == NULL) {
				r = eca_err_set(err, ECA_ERR_NOMEM,
				    "out of "
				    "memory reading the audit journal");
				goto out;
			}
			v = nv;
		}
		v[cnt++] = e;
	}
	if (ferror(fp) || !feof(fp)) {
		r = eca_err_set(err,
		    errno == ENOMEM ? ECA_ERR_NOMEM : ECA_ERR_IO,
		    "audit journal %s cannot be read: %s", path,
		    strerror(errno));
		goto out;
	}
	*out = v;
	*n = cnt;
	v = NULL;
	r = 0;
out:
	free(v);
	free(line);
	fclose(fp);
	return r;
}
