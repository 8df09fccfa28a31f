/* SPDX-License-Identifier: ISC */
/* output.c - errors, JSON and tables for eca. */
#include "output.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

/*
 * How this run prints, set once by main() from --json-compact and
 * --no-headers before any command runs: a process-wide style, not state a
 * command changes.
 */
static int json_compact;
static int no_headers;

void
out_set_style(int compact, int headers_off)
{
	json_compact = compact;
	no_headers = headers_off;
}

struct out_table {
	size_t ncols;
	size_t nrows; /* header row included */
	size_t cap;
	char **cells; /* nrows * ncols */
};

void
out_json(const json_t *j)
{
	if (j == NULL) {
		fputs("null\n", stdout);
		return;
	}
	json_dumpf(j, stdout,
	    (json_compact ? JSON_COMPACT : JSON_INDENT(2)) |
		JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	fflush(stdout);
}

int
out_json_end(json_t *top, int r, const char *what)
{
	if (r == 0)
		out_json(top);
	json_decref(top);
	if (r != 0)
		return out_error(0, r, "cannot print %s: out of memory", what);
	return 0;
}

static int
verror(int json, int code, const char *fmt, va_list ap)
{
	char msg[ECA_ERR_MSG_MAX + 256];
	json_t *j;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	fflush(stdout);
	fprintf(stderr, "eca: %s\n", msg);
	if (json) {
		if ((j = eca_wire_error(code, msg)) != NULL)
			out_json(j);
		json_decref(j);
	}
	return eca_err_exit_code(code);
}

int
out_error(int json, int code, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = verror(json, code, fmt, ap);
	va_end(ap);
	return r;
}

int
out_error_err(int json, const char *what, const struct eca_err *e)
{
	int code;

	code = e->code != 0 ? e->code : ECA_ERR_INTERNAL;
	if (e->msg[0] == '\0')
		return out_error(json, code, "%s%s%s", what ? what : "",
		    what ? ": " : "", eca_err_desc(code));
	if (what == NULL)
		return out_error(json, code, "%s", e->msg);
	return out_error(json, code, "%s: %s", what, e->msg);
}

void
out_note(const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fflush(stdout);
	fprintf(stderr, "eca: %s\n", msg);
}

const char *
out_fp_short(const char *fp, char *buf, size_t len)
{
	if (fp == NULL || fp[0] == '\0')
		return "-";
	if (strlen(fp) <= 16)
		snprintf(buf, len, "%s", fp);
	else
		snprintf(buf, len, "%.16s\xe2\x80\xa6", fp);
	return buf;
}

const char *
out_time(int64_t t, char *buf, size_t len)
{
	if (t == 0 || len < 21)
		return "-";
	eca_wire_time(t, buf, len);
	return buf[0] != '\0' ? buf : "-";
}

const char *
out_dash(const char *s)
{
	return s != NULL && s[0] != '\0' ? s : "-";
}

struct out_table *
out_table_new(size_t ncols, const char *const *headers)
{
	struct out_table *t;

	if (ncols == 0 || (t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->ncols = ncols;
	if (out_table_add(t, headers) != 0) {
		out_table_free(t);
		return NULL;
	}
	return t;
}

int
out_table_add(struct out_table *t, const char *const *cells)
{
	char **n;
	size_t i, ncap;

	if (t->nrows == t->cap) {
		ncap = t->cap == 0 ? 8 : t->cap * 2;
		if (ncap > SIZE_MAX / sizeof(char *) / t->ncols)
			return ECA_ERR_NOMEM;
		if ((n = realloc(t->cells, ncap * t->ncols * sizeof(char *))) ==
		    NULL)
			return ECA_ERR_NOMEM;
		t->cells = n;
		t->cap = ncap;
	}
	for (i = 0; i < t->ncols; i++) {
		t->cells[t->nrows * t->ncols + i] =
		    strdup(cells[i] != NULL ? cells[i] : "");
		if (t->cells[t->nrows * t->ncols + i] == NULL) {
			while (i-- > 0)
				free(t->cells[t->nrows * t->ncols + i]);
			return ECA_ERR_NOMEM;
		}
	}
	t->nrows++;
	return 0;
}

/* Width in characters: the bytes that do not continue a UTF-8 sequence. */
static size_t
text_width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

void
out_table_print(const struct out_table *t, FILE *fp)
{
	size_t *w, r, c, cw, first;
	const char *cell;

	if (t == NULL || (w = calloc(t->ncols, sizeof(*w))) == NULL)
		return;
	/* --no-headers: the rows alone, aligned among themselves. */
	first = no_headers ? 1 : 0;
	for (r = first; r < t->nrows; r++)
		for (c = 0; c < t->ncols; c++) {
			cw = text_width(t->cells[r * t->ncols + c]);
			if (cw > w[c])
				w[c] = cw;
		}
	for (r = first; r < t->nrows; r++) {
		for (c = 0; c < t->ncols; c++) {
			cell = t->cells[r * t->ncols + c];
			fputs(cell, fp);
			if (c + 1 == t->ncols)
				break;
			/* Two spaces between columns. */
			for (cw = text_width(cell); cw < w[c] + 2; cw++)
				fputc(' ', fp);
		}
		fputc('\n', fp);
	}
	fflush(fp);
	free(w);
}

size_t
out_table_rows(const struct out_table *t)
{
	return t != NULL && t->nrows > 0 ? t->nrows - 1 : 0;
}

void
out_table_free(struct out_table *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}
