/*
 * log.h - logging through a sink the program installs.
 *
 * libeca never prints: it calls the sink, which is a no-op until a program
 * installs one with eca_log_set_sink().  The macros add the function name.
 * Never log keys, passphrases or whole certificates: log fingerprints.
 */
#ifndef ECA_LOG_H
#define ECA_LOG_H

#include "err.h"

enum eca_log_level {
	ECA_LOG_DEBUG,
	ECA_LOG_INFO,
	ECA_LOG_WARN,
	ECA_LOG_ERROR,
};

typedef void eca_log_sink(enum eca_log_level level, const char *func,
    const char *msg, void *arg);

/* Install (or with NULL remove) the process-wide sink.  Call before threads. */
void eca_log_set_sink(eca_log_sink *sink, void *arg, enum eca_log_level min);
void eca_log(enum eca_log_level level, const char *func, const char *fmt, ...)
	ECA_PRINTF(3, 4);

#define log_debug(...) eca_log(ECA_LOG_DEBUG, __func__, __VA_ARGS__)
#define log_info(...) eca_log(ECA_LOG_INFO, __func__, __VA_ARGS__)
#define log_warn(...) eca_log(ECA_LOG_WARN, __func__, __VA_ARGS__)
#define log_error(...) eca_log(ECA_LOG_ERROR, __func__, __VA_ARGS__)

#endif
