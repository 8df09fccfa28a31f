/* SPDX-License-Identifier: ISC */
/*
 * roster_file.c - the roster's file in STATE_DIR: a streamed binary
 * format hashed as it goes, so that a roster of a million hosts is saved
 * and loaded without a second copy in memory, and a damaged or foreign
 * file is refused rather than half believed.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "hostname.h"
#include "roster_impl.h"
#include "util.h"

/*
 * "ECAROST1", u32 format, u32 0, i64 version, i64 synced_at, u64 count,
 * u16 primary length, primary; then per record fp[32], spki[32],
 * host_id[16], i64 not_after, i64 version, u8 state, u8 name length,
 * name; then SHA-256 of everything before it.  Integers little-endian.
 */
#define FILE_MAGIC "ECAROST1"
/*
 * 2 adds, after the records: u32 mapping count, then per mapping
 * i64 version, u16 subject length, subject, u8 host length, host.
 * Format 1 files (no mappings) still load.
 * 3: a record's state byte carries ROSTER_NAT (bit 7) for a NAT host;
 * the bit is clear in every older file, so formats 1 and 2 still load (an
 * older eca refuses a format 3 file and syncs the roster afresh).
 */
#define FILE_FORMAT 3
#define FILE_HEAD (8 + 4 + 4 + 8 + 8 + 8 + 2)
#define FILE_REC_MIN (32 + 32 + 16 + 8 + 8 + 1 + 1 + 1)
#define IOBUF (1024 * 1024)

struct fio {
	int fd;			  /* load: the file read */
	struct eca_util_afile af; /* save: the file written */
	EVP_MD_CTX *md;
	unsigned char buf[IOBUF];
	size_t len, pos;
	uint64_t left; /* bytes to read before the digest */
	const char *path;
	struct eca_err *err;
};

static int
io_error(struct fio *f, const char *what)
{
	return eca_err_set(f->err,
	    errno == ENOSPC ? ECA_ERR_DISK_FULL : ECA_ERR_IO,
	    "cannot %s roster file %s: %s", what, f->path, strerror(errno));
}

static int
digest_start(struct fio *f)
{
	EVP_MD *sha = NULL;
	int r = 0;

	if ((f->md = EVP_MD_CTX_new()) == NULL ||
	    (sha = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL ||
	    EVP_DigestInit_ex2(f->md, sha, NULL) != 1) {
		r = eca_err_set(f->err, ECA_ERR_INTERNAL,
		    "cannot start the roster file's checksum");
		eca_err_add_openssl(f->err);
	}
	EVP_MD_free(sha);
	return r;
}

static int
checksum_error(struct fio *f)
{
	eca_err_set(f->err, ECA_ERR_INTERNAL,
	    "cannot checksum the roster file");
	eca_err_add_openssl(f->err);
	return ECA_ERR_INTERNAL;
}

/* The buffer into the digest, then to the file. */
static int
wflush(struct fio *f)
{
	int r;

	if (EVP_DigestUpdate(f->md, f->buf, f->len) != 1)
		return checksum_error(f);
	if ((r = eca_util_afile_write(&f->af, f->buf, f->len, f->err)) != 0)
		return r;
	f->len = 0;
	return 0;
}

static int
wbytes(struct fio *f, const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t k;
	int r;

	while (n > 0) {
		if (f->len == IOBUF && (r = wflush(f)) != 0)
			return r;
		k = IOBUF - f->len < n ? IOBUF - f->len : n;
		memcpy(f->buf + f->len, s, k);
		f->len += k;
		s += k;
		n -= k;
	}
	return 0;
}

static int
wr_int(struct fio *f, uint64_t v, size_t n)
{
	unsigned char b[8];
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	return wbytes(f, b, n);
}

static int
write_all(const struct eca_roster *r, struct fio *f)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	const struct rent *x;
	unsigned int mdlen = 0;
	size_t plen = strlen(r->primary), i, sl, hl;
	int rc;

	if ((rc = digest_start(f)) != 0 ||
	    (rc = wbytes(f, FILE_MAGIC, 8)) != 0 ||
	    (rc = wr_int(f, FILE_FORMAT, 4)) != 0 ||
	    (rc = wr_int(f, 0, 4)) != 0 ||
	    (rc = wr_int(f, (uint64_t)r->version, 8)) != 0 ||
	    (rc = wr_int(f, (uint64_t)r->synced_at, 8)) != 0 ||
	    (rc = wr_int(f, r->n, 8)) != 0 || (rc = wr_int(f, plen, 2)) != 0 ||
	    (rc = wbytes(f, r->primary, plen)) != 0)
		return rc;
	for (i = 0; i < r->n; i++) {
		x = &r->ents[i];
		if ((rc = wbytes(f, x->fp, sizeof(x->fp))) != 0 ||
		    (rc = wbytes(f, x->spki, sizeof(x->spki))) != 0 ||
		    (rc = wbytes(f, x->host_id, sizeof(x->host_id))) != 0 ||
		    (rc = wr_int(f, (uint64_t)x->not_after, 8)) != 0 ||
		    (rc = wr_int(f, (uint64_t)x->version, 8)) != 0 ||
		    (rc = wr_int(f, x->state | (x->nat ? ROSTER_NAT : 0), 1)) !=
			0 ||
		    (rc = wr_int(f, x->name_len, 1)) != 0 ||
		    (rc = wbytes(f, r->names + x->name_off, x->name_len)) != 0)
			return rc;
	}
	if ((rc = wr_int(f, r->nmaps, 4)) != 0)
		return rc;
	for (i = 0; i < r->nmaps; i++) {
		sl = strlen(r->maps[i].subject);
		hl = strlen(r->maps[i].host);
		if ((rc = wr_int(f, (uint64_t)r->maps[i].version, 8)) != 0 ||
		    (rc = wr_int(f, sl, 2)) != 0 ||
		    (rc = wbytes(f, r->maps[i].subject, sl)) != 0 ||
		    (rc = wr_int(f, hl, 1)) != 0 ||
		    (rc = wbytes(f, r->maps[i].host, hl)) != 0)
			return rc;
	}
	if ((rc = wflush(f)) != 0)
		return rc;
	if (EVP_DigestFinal_ex(f->md, md, &mdlen) != 1 || mdlen != 32)
		return checksum_error(f);
	/* The digest itself is not hashed: written past the buffer. */
	return eca_util_afile_write(&f->af, md, 32, f->err);
}

int
eca_roster_path(const char *state_dir, const char *primary, char *buf,
    size_t len, struct eca_err *err)
{
	int n;

	if (state_dir == NULL || primary == NULL || buf == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_roster_path: missing argument");
	/* The file is named by the canonical spelling (one per primary). */
	if (!eca_hostname_is_canon(primary))
		return eca_err_set(err, ECA_ERR_CONFIG,
		    "\"%.64s\" cannot "
		    "name a roster file: not a canonical host name (check "
		    "SERVER)",
		    primary);
	n = snprintf(buf, len, "%s/roster-%s.bin", state_dir, primary);
	if (n < 0 || (size_t)n >= len)
		return eca_err_set(err, ECA_ERR_CONFIG,
		    "the roster file name "
		    "under STATE_DIR %s is too long (use a shorter STATE_DIR)",
		    state_dir);
	return 0;
}

int
eca_roster_save(const struct eca_roster *r, const char *path,
    struct eca_err *err)
{
	struct fio *f = NULL;
	int rc = ECA_ERR_INTERNAL;

	if (r == NULL || path == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_roster_save: missing argument");
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return eca_roster_nomem(err);
	f->fd = -1;
	f->path = path;
	f->err = err;
	/* A temporary file beside path, synced, renamed, directory synced. */
	if ((rc = eca_util_afile_open(&f->af, path, 0600, err)) != 0)
		goto out;
	if ((rc = write_all(r, f)) != 0) {
		eca_util_afile_abort(&f->af);
		goto out;
	}
	rc = eca_util_afile_commit(&f->af, err);
out:
	EVP_MD_CTX_free(f->md);
	OPENSSL_cleanse(f->buf, sizeof(f->buf));
	free(f);
	return rc;
}

static int
corrupt(struct fio *f, const char *why)
{
	return eca_err_set(f->err, ECA_ERR_PARSE,
	    "roster file %s is %s; it "
	    "is ignored, the roster starts empty and is synced in full from "
	    "the primary",
	    f->path, why);
}

/* Read exactly n bytes of the hashed part. */
static int
rbytes(struct fio *f, void *p, size_t n)
{
	unsigned char *d = p;
	ssize_t got;
	size_t k, want;

	if (n > f->left)
		return corrupt(f, "truncated");
	while (n > 0) {
		if (f->pos == f->len) {
			want = f->left < IOBUF ? (size_t)f->left : IOBUF;
			do
				got = read(f->fd, f->buf, want);
			while (got < 0 && errno == EINTR);
			if (got < 0)
				return io_error(f, "read");
			if (got == 0)
				return corrupt(f, "truncated");
			if (EVP_DigestUpdate(f->md, f->buf, (size_t)got) != 1)
				return checksum_error(f);
			f->len = (size_t)got;
			f->pos = 0;
		}
		k = f->len - f->pos < n ? f->len - f->pos : n;
		memcpy(d, f->buf + f->pos, k);
		f->pos += k;
		d += k;
		n -= k;
		f->left -= k;
	}
	return 0;
}

/*
 * Make the next n bytes of the hashed part (n < IOBUF) contiguous in the
 * buffer: *p points at them; rskip consumes them.  Records are read in
 * place this way, without a copy per field.
 */
static int
rneed(struct fio *f, size_t n, const unsigned char **p)
{
	ssize_t got;
	size_t want;

	if (n > f->left)
		return corrupt(f, "truncated");
	while (f->len - f->pos < n) {
		memmove(f->buf, f->buf + f->pos, f->len - f->pos);
		f->len -= f->pos;
		f->pos = 0;
		want = IOBUF - f->len;
		if (want > f->left - (f->len - f->pos))
			want = (size_t)(f->left - (f->len - f->pos));
		do
			got = read(f->fd, f->buf + f->len, want);
		while (got < 0 && errno == EINTR);
		if (got < 0)
			return io_error(f, "read");
		if (got == 0)
			return corrupt(f, "truncated");
		if (EVP_DigestUpdate(f->md, f->buf + f->len, (size_t)got) != 1)
			return checksum_error(f);
		f->len += (size_t)got;
	}
	*p = f->buf + f->pos;
	return 0;
}

static void
rskip(struct fio *f, size_t n)
{
	f->pos += n;
	f->left -= n;
}

static int
rd_int(struct fio *f, size_t n, uint64_t *out)
{
	unsigned char b[8];
	size_t i;
	int r;

	if ((r = rbytes(f, b, n)) != 0)
		return r;
	*out = 0;
	for (i = 0; i < n; i++)
		*out |= (uint64_t)b[i] << (8 * i);
	return 0;
}

static uint64_t
le(const unsigned char *p, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

#define REC_FIXED (32 + 32 + ROSTER_UUID_RAW + 8 + 8 + 1 + 1)

/*
 * The next record, read in place and appended to r's records and names
 * (room reserved); indexed with the others at the end, which refuses a
 * host listed twice.
 */
static int
read_record(struct fio *f, struct eca_roster *r, int64_t version)
{
	const unsigned char *p;
	struct rent *x;
	uint64_t v, st, nl;
	int rc;

	if ((rc = rneed(f, REC_FIXED, &p)) != 0)
		return rc;
	nl = p[REC_FIXED - 1];
	if (nl == 0 || nl > ROSTER_NAME_MAX)
		return corrupt(f, "damaged (a host name of bad length)");
	if ((rc = rneed(f, REC_FIXED + (size_t)nl, &p)) != 0)
		return rc;
	v = le(p + 88, 8);
	st = p[96];
	/*
	 * A file written before names were canonical is folded here; two
	 * spellings of one host then count as listed twice.
	 */
	if (memchr(p + REC_FIXED, '\0', (size_t)nl) != NULL ||
	    r->names_cap - r->names_len <= nl ||
	    eca_hostname_canon_n((const char *)p + REC_FIXED, (size_t)nl,
		r->names + r->names_len, (size_t)nl + 1, NULL) != 0)
		return corrupt(f, "damaged (an invalid host name)");
	if ((st & ~ROSTER_NAT) > ECA_STATE_REVOKED)
		return corrupt(f, "damaged (an unknown state)");
	if ((int64_t)v < 1 || (int64_t)v > version)
		return corrupt(f, "damaged (a record newer than the roster)");
	x = &r->ents[r->n++];
	memcpy(x->fp, p, 32);
	memcpy(x->spki, p + 32, 32);
	memcpy(x->host_id, p + 64, ROSTER_UUID_RAW);
	x->not_after = (int64_t)le(p + 80, 8);
	x->version = (int64_t)v;
	x->state = (uint8_t)(st & ~ROSTER_NAT);
	x->nat = (st & ROSTER_NAT) != 0;
	x->name_len = (uint8_t)nl;
	x->name_off = (uint32_t)r->names_len;
	r->names_len += (size_t)nl + 1;
	rskip(f, REC_FIXED + (size_t)nl);
	return 0;
}

/* Format 2's mappings, after the records. */
static int
read_maps(struct fio *f, struct eca_roster *r, int64_t version)
{
	struct eca_roster_map m;
	uint64_t count, v, sl, hl, i;
	int rc;

	if ((rc = rd_int(f, 4, &count)) != 0)
		return rc;
	if (count > ECA_ROSTER_MAPS_MAX || count > f->left / 12)
		return corrupt(f, "damaged (more mappings than it holds)");
	if ((rc = eca_roster_maps_reserve(r, (size_t)count, f->err)) != 0)
		return rc;
	for (i = 0; i < count; i++) {
		memset(&m, 0, sizeof(m));
		if ((rc = rd_int(f, 8, &v)) != 0 ||
		    (rc = rd_int(f, 2, &sl)) != 0)
			return rc;
		if (sl == 0 || sl >= sizeof(m.subject))
			return corrupt(f, "damaged (a subject of bad length)");
		if ((rc = rbytes(f, m.subject, (size_t)sl)) != 0 ||
		    (rc = rd_int(f, 1, &hl)) != 0)
			return rc;
		if (hl == 0 || hl > ROSTER_NAME_MAX)
			return corrupt(f,
			    "damaged (a host name of bad length)");
		if ((rc = rbytes(f, m.host, (size_t)hl)) != 0)
			return rc;
		/* Host names are kept canonical, as in the records. */
		if (strlen(m.subject) != sl || strlen(m.host) != hl ||
		    eca_hostname_canon(m.host, m.host, sizeof(m.host), NULL) !=
			0)
			return corrupt(f, "damaged (an invalid mapping)");
		if ((int64_t)v < 1 || (int64_t)v > version)
			return corrupt(f,
			    "damaged (a mapping newer than the "
			    "roster)");
		if (eca_roster_holds_map(r, m.subject))
			return corrupt(f, "damaged (a subject listed twice)");
		m.version = (int64_t)v;
		eca_roster_map_apply(r, &m);
	}
	return 0;
}

/* The header's fields (FILE_MAGIC checked, the primary's name compared). */
struct head {
	uint64_t fmt, ver, synced, count;
};

static int
read_head(struct fio *f, const char *primary, struct head *h)
{
	char magic[8], pname[ECA_HOST_MAX];
	uint64_t zero, plen;
	int rc;

	if ((rc = rbytes(f, magic, 8)) != 0)
		return rc;
	if (memcmp(magic, FILE_MAGIC, 8) != 0)
		return corrupt(f, "not an eca roster file");
	if ((rc = rd_int(f, 4, &h->fmt)) != 0 ||
	    (rc = rd_int(f, 4, &zero)) != 0 ||
	    (rc = rd_int(f, 8, &h->ver)) != 0 ||
	    (rc = rd_int(f, 8, &h->synced)) != 0 ||
	    (rc = rd_int(f, 8, &h->count)) != 0 ||
	    (rc = rd_int(f, 2, &plen)) != 0)
		return rc;
	if (h->fmt < 1 || h->fmt > FILE_FORMAT || zero != 0)
		return corrupt(f, "of an unknown format version");
	if ((int64_t)h->ver < 0 || (int64_t)h->synced < 0)
		return corrupt(f, "damaged (a negative version or time)");
	/* Bound count by the bytes there are before reserving for it. */
	if (h->count > ECA_ROSTER_HOSTS_MAX ||
	    h->count > f->left / FILE_REC_MIN)
		return corrupt(f, "damaged (more records than it holds)");
	if (plen == 0 || plen >= sizeof(pname))
		return corrupt(f, "damaged (bad primary name)");
	if ((rc = rbytes(f, pname, (size_t)plen)) != 0)
		return rc;
	pname[plen] = '\0';
	if (!eca_hostname_eq(pname, primary))
		return corrupt(f, "for another primary");
	return 0;
}

/* The digest after the hashed part must be the one computed. */
static int
check_digest(struct fio *f)
{
	unsigned char md[EVP_MAX_MD_SIZE], want[32];
	unsigned int mdlen = 0;
	ssize_t got;
	size_t off;

	if (EVP_DigestFinal_ex(f->md, md, &mdlen) != 1 || mdlen != 32)
		return checksum_error(f);
	for (off = 0; off < sizeof(want); off += (size_t)got) {
		do
			got = read(f->fd, want + off, sizeof(want) - off);
		while (got < 0 && errno == EINTR);
		if (got < 0)
			return io_error(f, "read");
		if (got == 0)
			return corrupt(f, "truncated");
	}
	if (CRYPTO_memcmp(md, want, 32) != 0)
		return corrupt(f, "damaged (wrong checksum)");
	return 0;
}

static int
read_all(struct fio *f, const char *primary, struct eca_roster *r)
{
	struct head h;
	uint64_t i;
	size_t names;
	int rc;

	memset(&h, 0, sizeof(h));
	if ((rc = digest_start(f)) != 0 ||
	    (rc = read_head(f, primary, &h)) != 0)
		return rc;
	/*
	 * Room for the names: what the file holds besides the records' fixed
	 * parts (read_head bounded count by the bytes there are).
	 */
	names = (size_t)(f->left - h.count * REC_FIXED);
	if ((rc = eca_roster_reserve(r, (size_t)h.count, names, f->err)) != 0)
		return rc;
	for (i = 0; i < h.count; i++)
		if ((rc = read_record(f, r, (int64_t)h.ver)) != 0)
			return rc;
	if (eca_roster_index_build(r) != 0)
		return corrupt(f, "damaged (a host listed twice)");
	if (h.fmt >= 2 && (rc = read_maps(f, r, (int64_t)h.ver)) != 0)
		return rc;
	if (f->left != 0)
		return corrupt(f, "damaged (bytes after its records)");
	if ((rc = check_digest(f)) != 0)
		return rc;
	/*
	 * A format 1 file was written by an eca that ignored the primary's
	 * DN mappings: its records stand (they still judge peers while the
	 * primary is away), but its version is no base for a delta, which
	 * would skip the mappings it never kept.  Version 0: the next sync
	 * is a full one.
	 */
	r->version = h.fmt == 1 ? 0 : (int64_t)h.ver;
	r->synced_at = (int64_t)h.synced;
	return 0;
}

int
eca_roster_load(const char *path, const char *primary, struct eca_roster **out,
    struct eca_err *err)
{
	struct eca_roster *r = NULL;
	struct fio *f = NULL;
	struct stat sb;
	int rc = ECA_ERR_INTERNAL;

	if (out != NULL)
		*out = NULL;
	if (path == NULL || primary == NULL || out == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_roster_load: missing argument");
	if ((rc = eca_roster_new(primary, &r, err)) != 0)
		return rc;
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		rc = eca_roster_nomem(err);
		goto out;
	}
	f->path = path;
	f->err = err;
	if ((f->fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		rc = errno == ENOENT ?
		    eca_err_set(err, ECA_ERR_NOT_FOUND,
			"no roster file %s yet (the roster is synced in full)",
			path) :
		    io_error(f, "open");
		goto out;
	}
	if (fstat(f->fd, &sb) == -1) {
		rc = io_error(f, "stat");
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		rc = corrupt(f, "not a regular file");
		goto out;
	}
	if (sb.st_size < FILE_HEAD + 32) {
		rc = corrupt(f, "truncated");
		goto out;
	}
	f->left = (uint64_t)sb.st_size - 32;
	if ((rc = read_all(f, primary, r)) != 0)
		goto out;
	*out = r;
	r = NULL;
	rc = 0;
out:
	if (f != NULL) {
		if (f->fd != -1)
			close(f->fd);
		EVP_MD_CTX_free(f->md);
		free(f);
	}
	eca_roster_free(r);
	return rc;
}
