/* SPDX-License-Identifier: ISC */
/*
 * registry_io.h - the registry as a file: `eca registry export`, `import`
 * and `verify`, over the store's bulk calls (store_bulk.h), the same for
 * SQLite and PostgreSQL.
 *
 * The file is JSON lines (docs/registry.md, "Moving over"): a header
 * naming the format, its version and every table with its columns; one
 * line per row, {"t": TABLE, "r": [values in column order]}, table after
 * table in a fixed order, rows in a fixed order (text compared bytewise);
 * a trailer with each table's row count and SHA-256, and the SHA-256 of
 * the whole.  A table's SHA-256 is over its rows' canonical form: each
 * row array as jansson writes it compactly, followed by "\n"; the whole
 * one over "TABLE:HEX\n" of every table in order.  Neither depends on the
 * backend, the time or the file's own spelling: a registry moved from
 * SQLite to PostgreSQL and back has one digest.
 */
#ifndef ECA_REGISTRY_IO_H
#define ECA_REGISTRY_IO_H

#include <stdint.h>

#include "err.h"
#include "store.h"

#define ECA_REGISTRY_FORMAT "eca-registry"
#define ECA_REGISTRY_FORMAT_VERSION 1
/* meta (the registry version), enrollments, history, candidates, dn_map */
#define ECA_REGISTRY_NTABLES 5
#define ECA_REGISTRY_HEX_LEN 64

/* What a registry or a file holds: per table rows and digest, the whole. */
struct eca_registry_sum {
	int64_t rows[ECA_REGISTRY_NTABLES];
	char digest[ECA_REGISTRY_NTABLES][ECA_REGISTRY_HEX_LEN + 1];
	char total[ECA_REGISTRY_HEX_LEN + 1];
};

/* The name of table i (0 <= i < ECA_REGISTRY_NTABLES), as in the file. */
const char *eca_registry_table(int i);

/*
 * Write st's registry to path, as of one snapshot (a running ecad goes
 * on): written to a temporary file beside it, flushed to disk, then
 * renamed over path, so a failed export (disk full...) leaves no partial
 * file.  sum gets what was written.
 */
int eca_registry_export(struct eca_store *st, const char *path,
    struct eca_registry_sum *sum, struct eca_err *err) ECA_WUR;

/*
 * Load path into st in one transaction: all of it or, on any error
 * (damaged, truncated, wrong version, the database's refusal), nothing.
 * st must hold no records, history, candidates or mappings, unless force,
 * which replaces them.  sum gets what was loaded.
 */
int eca_registry_import(struct eca_store *st, const char *path, int force,
    struct eca_registry_sum *sum, struct eca_err *err) ECA_WUR;

/*
 * Check path's header alone (its format, version and tables), before a
 * target is opened: a foreign file is refused without creating anything.
 */
int eca_registry_check_header(const char *path, struct eca_err *err) ECA_WUR;

/* Read and check path (its trailer against its rows); sum what it holds. */
int eca_registry_read(const char *path, struct eca_registry_sum *sum,
    struct eca_err *err) ECA_WUR;

/* What st holds now (one snapshot), counted and digested as a file is. */
int eca_registry_sum(struct eca_store *st, struct eca_registry_sum *sum,
    struct eca_err *err) ECA_WUR;

/*
 * 0 if a and b agree; otherwise ECA_ERR_DB, err naming every table
 * that differs (rows and digest prefix of each side; a_name and b_name
 * say which side is which).
 */
int eca_registry_compare(const struct eca_registry_sum *a, const char *a_name,
    const struct eca_registry_sum *b, const char *b_name,
    struct eca_err *err) ECA_WUR;

#endif
