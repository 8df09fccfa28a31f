/* SPDX-License-Identifier: ISC */
/*
 * output.h - how eca prints: errors, JSON and aligned tables.
 */
#ifndef ECA_CLI_OUTPUT_H
#define ECA_CLI_OUTPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "err.h"

/*
 * The style of this run: compact puts JSON on one line (--json-compact),
 * headers_off leaves out a table's header row (--no-headers).
 */
void out_set_style(int compact, int headers_off);

/*
 * Print j to stdout, indented (on one line with --json-compact), keys in
 * insertion order, and a newline.
 */
void out_json(const json_t *j);
/*
 * The end of a --json printer that built top: printed when r is 0, freed
 * either way; else r is what stopped the building (out of memory) and
 * `eca: cannot print WHAT: out of memory` is said.  0 or the exit code.
 */
int out_json_end(json_t *top, int r, const char *what);

/*
 * Print an error: `eca: MSG` on stderr and, when json is set, also
 * {"error":{"code":NAME,"message":MSG}} on stdout.  Returns the exit code
 * of code (eca_err_exit_code).
 */
int out_error(int json, int code, const char *fmt, ...) ECA_PRINTF(3, 4);
/* Same with the sentence `WHAT: e->msg` (e->msg alone if what is NULL). */
int out_error_err(int json, const char *what, const struct eca_err *e);

/* A plain stderr line `eca: MSG` (warnings, notes under tables). */
void out_note(const char *fmt, ...) ECA_PRINTF(1, 2);

/* The first 16 hex digits of a fingerprint and an ellipsis; "-" if empty. */
const char *out_fp_short(const char *fp, char *buf, size_t len);
/* RFC 3339 UTC text of t; "-" for 0. */
const char *out_time(int64_t t, char *buf, size_t len);
/* s, or "-" when s is NULL or empty. */
const char *out_dash(const char *s);

/*
 * A table of text cells printed with aligned columns (widths counted in
 * UTF-8 characters, so "…" counts as one).  Cells are copied.
 */
struct out_table;
struct out_table *out_table_new(size_t ncols, const char *const *headers);
/* Add a row of ncols cells; 0 or ECA_ERR_NOMEM. */
int out_table_add(struct out_table *t, const char *const *cells);
void out_table_print(const struct out_table *t, FILE *fp);
size_t out_table_rows(const struct out_table *t);
void out_table_free(struct out_table *t);

#endif
