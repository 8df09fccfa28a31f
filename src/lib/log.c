/* SPDX-License-Identifier: ISC */
/*
 * log.c - the log sink.  The sink pointer is libeca's one piece of
 * process-wide state that a program sets (util.c keeps a fetched digest
 * and per-thread random bytes of its own, tls_libctx.c a decoder list
 * built once); it is written once at start-up, before threads exist.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

/* A longer message is cut: a log line, not a channel for bulk text. */
#define LOG_MSG_MAX 1024

static eca_log_sink *log_sink;
static void *log_arg;
static enum eca_log_level log_min = ECA_LOG_INFO;

void
eca_log_set_sink(eca_log_sink *sink, void *arg, enum eca_log_level min)
{
	log_sink = sink;
	log_arg = arg;
	log_min = min;
}

static void
log_v(enum eca_log_level level, const char *func,
    const struct eca_log_field *fields, const char *fmt, va_list ap)
{
	char msg[LOG_MSG_MAX];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_sink(level, func, fields, msg, log_arg);
}

void
eca_log(enum eca_log_level level, const char *func, const char *fmt, ...)
{
	va_list ap;

	if (log_sink == NULL || level < log_min)
		return;
	va_start(ap, fmt);
	log_v(level, func, NULL, fmt, ap);
	va_end(ap);
}

void
eca_log_fields(enum eca_log_level level, const char *func,
    const struct eca_log_field *fields, const char *fmt, ...)
{
	va_list ap;

	if (log_sink == NULL || level < log_min)
		return;
	va_start(ap, fmt);
	log_v(level, func, fields, fmt, ap);
	va_end(ap);
}
