/* SPDX-License-Identifier: ISC */
/* err.c - error table lookups and the error detail buffer. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

struct errdef {
	int code;
	const char *name;
	int http;
	int exitc;
	const char *desc;
};

static const struct errdef errdefs[] = {
#define ECA_ERR_ROW(n, h, x, d) {ECA_ERR_##n, #n, h, x, d},
    ECA_ERRORS(ECA_ERR_ROW)
#undef ECA_ERR_ROW
};

/* What every lookup answers for success, and for a code not in the table. */
static const struct errdef ok_row = {0, "OK", 200, ECA_EXIT_OK, "success"};
static const struct errdef unknown_row = {ECA_ERR_INTERNAL, "INTERNAL", 500,
    ECA_EXIT_FAILURE, "unknown error"};

static const struct errdef *
lookup(int code)
{
	size_t i;

	if (code == 0)
		return &ok_row;
	for (i = 0; i < sizeof(errdefs) / sizeof(errdefs[0]); i++)
		if (errdefs[i].code == code)
			return &errdefs[i];
	return &unknown_row;
}

const char *
eca_err_desc(int code)
{
	return lookup(code)->desc;
}

const char *
eca_err_name(int code)
{
	return lookup(code)->name;
}

int
eca_err_from_name(const char *name)
{
	size_t i;

	if (name == NULL)
		return ECA_ERR_INTERNAL;
	if (strcmp(name, ok_row.name) == 0)
		return 0;
	for (i = 0; i < sizeof(errdefs) / sizeof(errdefs[0]); i++)
		if (strcmp(errdefs[i].name, name) == 0)
			return errdefs[i].code;
	return ECA_ERR_INTERNAL;
}

int
eca_err_http_status(int code)
{
	return lookup(code)->http;
}

int
eca_err_exit_code(int code)
{
	return lookup(code)->exitc;
}

int
eca_err_set(struct eca_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return code;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

void
eca_err_clear(struct eca_err *e)
{
	if (e == NULL)
		return;
	e->code = 0;
	e->msg[0] = '\0';
}

void
eca_err_add_openssl(struct eca_err *e)
{
	unsigned long ossl;
	char buf[256];
	size_t len;

	ossl = ERR_peek_last_error();
	if (e != NULL && ossl != 0) {
		ERR_error_string_n(ossl, buf, sizeof(buf));
		len = strlen(e->msg);
		if (len < sizeof(e->msg) - 1)
			snprintf(e->msg + len, sizeof(e->msg) - len, ": %s",
			    buf);
	}
	ERR_clear_error();
}
