/* SPDX-License-Identifier: ISC */
/*
 * log.h - logging through a sink the program installs.
 *
 * libeca never prints: it calls the sink, which is a no-op until a program
 * installs one with eca_log_set_sink().  The macros pass the function name
 * along; a sink shows it only at debug level (messages say what happened,
 * a function name is for developers).
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

/*
 * A structured field of a log message, for sinks that keep them apart
 * (the systemd journal): name in upper case (HOST, FINGERPRINT, REASON,
 * PRIMARY), value borrowed.  Arrays end with a { NULL, NULL } entry.
 * The message itself always carries the same facts in words.
 */
struct eca_log_field {
	const char *name;
	const char *value;
};

/* fields is NULL or a terminated array, valid only during the call. */
typedef void eca_log_sink(enum eca_log_level level, const char *func,
    const struct eca_log_field *fields, const char *msg, void *arg);

/* Install (or with NULL remove) the process-wide sink.  Call before threads. */
void eca_log_set_sink(eca_log_sink *sink, void *arg, enum eca_log_level min);
void eca_log(enum eca_log_level level, const char *func, const char *fmt, ...)
    ECA_PRINTF(3, 4);
void eca_log_fields(enum eca_log_level level, const char *func,
    const struct eca_log_field *fields, const char *fmt, ...) ECA_PRINTF(4, 5);

#define log_debug(...) eca_log(ECA_LOG_DEBUG, __func__, __VA_ARGS__)
#define log_info(...) eca_log(ECA_LOG_INFO, __func__, __VA_ARGS__)
#define log_warn(...) eca_log(ECA_LOG_WARN, __func__, __VA_ARGS__)
#define log_error(...) eca_log(ECA_LOG_ERROR, __func__, __VA_ARGS__)

/*
 * An enrollment decision or refusal with its fields:
 *   log_info_fields(ECA_LOG_FIELDS({ "HOST", h }, { "REASON", r }), fmt, ...)
 * A NULL or empty value leaves its field out.
 */
#define ECA_LOG_FIELDS(...)                                                    \
	((const struct eca_log_field[]){__VA_ARGS__, {NULL, NULL}})
#define log_info_fields(f, ...)                                                \
	eca_log_fields(ECA_LOG_INFO, __func__, (f), __VA_ARGS__)
#define log_warn_fields(f, ...)                                                \
	eca_log_fields(ECA_LOG_WARN, __func__, (f), __VA_ARGS__)

#endif
