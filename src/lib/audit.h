/* SPDX-License-Identifier: ISC */
/*
 * audit.h - the tamper-evident audit journal of enrollment decisions.
 *
 * One JSON object per line, appended in order:
 *
 *   {"seq":N,"time":"2024-05-01T12:00:00Z","event":"enrolled",
 *    "actor":A,"host":H,"fingerprint":F,"spki_fingerprint":S,
 *    "source":ADDR,"reason":CODE,"prev":HEX,"hash":HEX}
 *
 * "reason" is present only for refusals (and failed or undone decisions),
 * "subject" only for a DN mapping's change (`eca map add/remove`).
 * seq starts at 1 and grows by one per line.  "prev" is the previous
 * line's "hash" (64 zeros on the first line) and
 *
 *   hash = lowercase hex SHA-256 of (prev as its 64 hex characters,
 *          followed by the line's JSON without "hash", dumped by jansson
 *          with JSON_SORT_KEYS | JSON_COMPACT)
 *
 * so an edited line fails its own hash, and a removed or reordered line
 * breaks the seq/prev link of the line after it.  Every field in the line
 * (known or not) is covered by the hash.
 *
 * The journal is opened for appending by exactly one writer
 * (eca_audit_open); verification and reading (eca_audit_verify,
 * eca_audit_read) need only the file.
 */
#ifndef ECA_AUDIT_H
#define ECA_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "certinfo.h"
#include "config.h"
#include "err.h"
#include "store.h"

#define ECA_AUDIT_HASH_LEN 64
#define ECA_AUDIT_EVENT_MAX 32
#define ECA_AUDIT_REASON_MAX 48
#define ECA_AUDIT_TIME_MAX 32
/* Longest line read back; longer ones are not journal entries. */
#define ECA_AUDIT_LINE_MAX 16384
#define ECA_AUDIT_DEFAULT_NAME "audit.jsonl"

struct eca_audit_entry {
	int64_t seq;			 /* set by append */
	char time[ECA_AUDIT_TIME_MAX];	 /* RFC 3339 UTC; now if empty */
	char event[ECA_AUDIT_EVENT_MAX]; /* "enrolled", "refused", ... */
	char actor[ECA_DN_MAX];
	char host[ECA_HOST_MAX];
	char fingerprint[ECA_FP_HEX_LEN + 1];
	char spki_fingerprint[ECA_FP_HEX_LEN + 1];
	char source[ECA_SOURCE_MAX];
	char reason[ECA_AUDIT_REASON_MAX]; /* "" when absent */
	char subject[ECA_DN_MAX];	   /* DN mappings; "" when absent */
	/*
	 * A summary line (event "refused_summary"): how many refusals it
	 * stands for, since when (RFC 3339 UTC).  0 and "" otherwise, and
	 * then absent from the line.
	 */
	int64_t count;
	char since[ECA_AUDIT_TIME_MAX];
	char prev[ECA_AUDIT_HASH_LEN + 1]; /* set by append */
	char hash[ECA_AUDIT_HASH_LEN + 1]; /* set by append */
};

/* An open journal, for appending. */
struct eca_audit;

/*
 * The journal file of cfg: AUDIT_LOG, or STATE_DIR/audit.jsonl when it is
 * unset.  ECA_ERR_CONFIG if neither is known or the path is too long.
 */
int eca_audit_path(const struct eca_config *cfg, char *buf, size_t len,
    struct eca_err *err) ECA_WUR;

/*
 * Open (creating it 0640 if missing) the journal at path for appending and
 * continue its chain from its last line.  A last line that is cut short,
 * is not an entry or fails its own hash makes this fail with ECA_ERR_PARSE
 * and a message pointing to `eca audit verify`: nothing is appended to a
 * journal whose tail cannot be trusted.
 */
int eca_audit_open(const char *path, struct eca_audit **out,
    struct eca_err *err) ECA_WUR;
/*
 * The same, except that a last line cut short (no newline: a power cut
 * before its fsync) is left for eca_audit_mend: the chain continues from
 * the whole line before it, and eca_audit_torn tells its length (0: none).
 * Nothing can be appended (eca_audit_write refuses) until it is mended.
 */
int eca_audit_open_torn(const char *path, struct eca_audit **out,
    struct eca_err *err) ECA_WUR;
size_t eca_audit_torn(const struct eca_audit *a);
/*
 * Mend a tail left by eca_audit_open_torn: when lines (len bytes of whole
 * lines, the registry's kept ones; may be NULL) hold the line that
 * continues the journal and the torn bytes are its start (then perhaps
 * zeros: blocks never written), they are cut off and fsynced, so that
 * eca_audit_restore writes that line again, whole.  Otherwise
 * ECA_ERR_PARSE, the same refusal as eca_audit_open's, and nothing
 * changes.  0 when there was nothing to mend.
 */
int eca_audit_mend(struct eca_audit *a, const char *lines, size_t len,
    struct eca_err *err) ECA_WUR;

/*
 * Append n entries as one write followed by fsync: all of them or none.
 * Fills each entry's seq, prev, hash (and time when empty).  On failure
 * (ECA_ERR_DISK_FULL for ENOSPC/EDQUOT, else ECA_ERR_IO) the file is cut
 * back to its previous length where possible, and the chain state is
 * unchanged, so a later append continues correctly.
 */
int eca_audit_append(struct eca_audit *a, struct eca_audit_entry *e, size_t n,
    struct eca_err *err) ECA_WUR;

/*
 * The same in steps, for a writer that also keeps the lines in the
 * registry (audit_sqlite.c): the chain's head (the last seq and hash),
 * from which eca_audit_seal makes a group's lines; then the lines
 * written (len bytes of whole lines, the last of them seq with hash),
 * fsynced only when sync is set.  The chain moves on once they are in
 * the file; a failure is as for eca_audit_append.
 */
void eca_audit_head(const struct eca_audit *a, int64_t *seq,
    char hash[ECA_AUDIT_HASH_LEN + 1]);
int eca_audit_write(struct eca_audit *a, const char *lines, size_t len,
    int64_t seq, const char hash[ECA_AUDIT_HASH_LEN + 1], int sync,
    struct eca_err *err) ECA_WUR;
/*
 * Take the last write back (its registry transaction failed): the file
 * is cut back to where it was and the chain with it.  0, or -1 when it
 * cannot be (not a regular file, nothing written since the last undo or
 * reopen, or ftruncate failed): then the lines stay.
 */
int eca_audit_undo(struct eca_audit *a);
/* fsync what was written without it; whether some was (dirty). */
int eca_audit_sync(struct eca_audit *a, struct eca_err *err) ECA_WUR;
int eca_audit_dirty(const struct eca_audit *a);

/*
 * At start-up, the lines the registry kept (eca_audit_store_kept) that
 * the file lacks: those after its last seq are checked to continue its
 * chain and written, fsynced (*restored of them).  ECA_ERR_PARSE when
 * they do not continue it (the file was replaced or restored from an
 * older copy): then nothing is written.
 */
int eca_audit_restore(struct eca_audit *a, const char *lines, size_t len,
    size_t *restored, struct eca_err *err) ECA_WUR;
/*
 * Kept lines that do not continue the journal, saved to a file of their
 * own beside it, PATH.unjoined-FIRST-LAST (its name into where), whole
 * or not at all (eca_util_replace_file: a temporary file, fsynced and
 * renamed).
 */
int eca_audit_set_aside(const struct eca_audit *a, const char *lines,
    size_t len, int64_t first, int64_t last, char *where, size_t wlen,
    struct eca_err *err) ECA_WUR;

/* The last seq written (0 for an empty journal). */
int64_t eca_audit_last_seq(const struct eca_audit *a);
/* Whether the journal is a regular file (not a device or a pipe). */
int eca_audit_is_file(const struct eca_audit *a);
const char *eca_audit_file(const struct eca_audit *a);
void eca_audit_close(struct eca_audit *a);

/*
 * After logrotate moved the journal away (to PATH.1): open PATH again
 * (creating it) and continue the chain there, from the chain held in
 * memory when the file is new and empty, else from its last line.  *moved
 * is 0 when PATH is still the file being written (nothing to do).  On
 * failure the old file stays in use.  Writer's thread only.
 */
int eca_audit_reopen(struct eca_audit *a, int *moved,
    struct eca_err *err) ECA_WUR;

struct eca_audit_report {
	size_t entries; /* lines read that were good, over all files */
	int intact;
	size_t files;	       /* files read (up to the bad one) */
	size_t file;	       /* index of the file with the bad line */
	size_t first_bad_line; /* 1-based in that file; 0 when intact */
	/* "edited", "removed or reordered", ... with the detail. */
	char problem[ECA_ERR_MSG_MAX];
};

/*
 * Check the whole chain of the journal at path.  Returns 0 when the file
 * was read (rep tells whether it is intact and names the FIRST bad line),
 * or an error when it cannot be read at all.  A missing file is an error
 * (ECA_ERR_NOT_FOUND); an empty one is intact with 0 entries.
 */
int eca_audit_verify(const char *path, struct eca_audit_report *rep,
    struct eca_err *err) ECA_WUR;

/*
 * The same over several files taken as one chain, in the given order
 * (oldest first): the first entry of a file follows the last of the file
 * before it.  rep->file names the file of the first bad line.
 */
int eca_audit_verify_files(const char *const *paths, size_t n,
    struct eca_audit_report *rep, struct eca_err *err) ECA_WUR;

/*
 * The journal at path preceded by its rotated siblings PATH.N found in the
 * same directory, oldest (highest N) first: *out has *n paths, free with
 * eca_audit_set_free.  A sibling that is not plain (PATH.N.gz, ...) is an
 * error (ECA_ERR_UNREADABLE) that says to decompress it.
 */
int eca_audit_rotated_set(const char *path, char ***out, size_t *n,
    struct eca_err *err) ECA_WUR;
void eca_audit_set_free(char **v, size_t n);

/*
 * Read the entries of the journal at path (those about host only, when
 * host is not NULL).  *out is the caller's (free()).  A line that is not
 * an entry is an error (ECA_ERR_PARSE naming the line); the chain is not
 * checked here (that is eca_audit_verify).
 */
int eca_audit_read(const char *path, const char *host,
    struct eca_audit_entry **out, size_t *n, struct eca_err *err) ECA_WUR;

/*
 * The lines of a group, sealed: each entry takes the next seq after *seq
 * and the previous hash (hash, 64 hex), gets its time (now when empty)
 * and its own hash, and becomes one JSON line of *out (*outlen bytes,
 * each line ended by a newline; the caller's, free()).  *seq and hash end
 * as the group's last.  where names the journal in messages.
 */
int eca_audit_seal(const char *where, struct eca_audit_entry *e, size_t n,
    int64_t *seq, char hash[ECA_AUDIT_HASH_LEN + 1], char **out, size_t *outlen,
    struct eca_err *err) ECA_WUR;

/*
 * A chain checked line by line, from lines kept elsewhere than in a file
 * (the PostgreSQL registry's journal rows, audit_pg.c): init, then each
 * line (without its newline; lineno names it in rep) in order.  Once rep
 * is not intact the rest is ignored.  An error only when a line cannot
 * be judged (out of memory).
 */
struct eca_audit_chain {
	int64_t want; /* the next seq */
	char prev[ECA_AUDIT_HASH_LEN + 1];
	int started; /* an entry was read (in this file or one before) */
};
void eca_audit_chain_init(struct eca_audit_chain *c,
    struct eca_audit_report *rep);
int eca_audit_chain_line(struct eca_audit_chain *c, const char *line,
    size_t len, size_t lineno, struct eca_audit_report *rep,
    struct eca_err *err) ECA_WUR;
/* One line (without its newline) as an entry: 0, or -1 if it is none. */
int eca_audit_parse_line(const char *line, size_t len,
    struct eca_audit_entry *e);

/*
 * audit_pg.c: the journal in the registry database (PostgreSQL), one
 * chain for every front end.  Append inside the transaction st has open
 * (the chain's lock is held to its COMMIT); nothing on SQLite.  Verify
 * and read every row in seq order (rep->first_bad_line is the bad row's
 * place in that order, which is its seq while the chain is intact);
 * ECA_ERR_USAGE on SQLite (its journal is the file).
 */
int eca_audit_store_append(struct eca_store *st, struct eca_audit_entry *e,
    size_t n, struct eca_err *err) ECA_WUR;
int eca_audit_store_verify(struct eca_store *st, struct eca_audit_report *rep,
    struct eca_err *err) ECA_WUR;
int eca_audit_store_read(struct eca_store *st, const char *host,
    struct eca_audit_entry **out, size_t *n, struct eca_err *err) ECA_WUR;
/*
 * One page of the chain, newest first: at most limit rows whose seq is
 * below before (0: from the newest), in *out (*n of them; free it), and
 * *more set when older rows are left.  ECA_ERR_USAGE on SQLite.
 */
int eca_audit_store_page(struct eca_store *st, int64_t before, size_t limit,
    struct eca_audit_entry **out, size_t *n, int *more,
    struct eca_err *err) ECA_WUR;

/*
 * audit_sqlite.c: on a SQLite registry the lines of each group are kept
 * in the registry, in the group's transaction, until the file has them
 * on disk (docs/audit.md, "Durability").  keeps: whether st keeps them
 * (SQLite; else the others do nothing).  keep: one group's lines (first
 * to last seq, whole lines), inside a transaction.  forget: the groups
 * whose last seq is at most upto.  kept: the lines of the groups whose
 * last seq is after `after`, in order, into *out (*len bytes, NUL
 * ended; NULL when none; the caller's, free()), from seq *from to *to.
 */
int eca_audit_store_keeps(struct eca_store *st);
int eca_audit_store_keep(struct eca_store *st, int64_t first, int64_t last,
    const char *lines, size_t len, struct eca_err *err) ECA_WUR;
int eca_audit_store_forget(struct eca_store *st, int64_t upto,
    struct eca_err *err) ECA_WUR;
int eca_audit_store_kept(struct eca_store *st, int64_t after, int64_t *from,
    int64_t *to, char **out, size_t *len, struct eca_err *err) ECA_WUR;

/* The entry as a JSON object in the journal's field order; NULL on ENOMEM. */
json_t *eca_audit_entry_json(const struct eca_audit_entry *e);

/*
 * The hash of a line: prev (64 hex) and the JSON object (without its
 * "hash" member, which is ignored if present).  out gets 64 hex + NUL.
 */
int eca_audit_hash(const char *prev, const json_t *obj,
    char out[ECA_AUDIT_HASH_LEN + 1]) ECA_WUR;

#endif
