/*
 * log.c - the log sink.  The sink pointer is the one piece of process-wide
 * state in libeca; it is written once at start-up, before threads exist.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

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

void
eca_log(enum eca_log_level level, const char *func, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (log_sink == NULL || level < log_min)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_sink(level, func, msg, log_arg);
}
