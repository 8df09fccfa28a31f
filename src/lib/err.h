/* SPDX-License-Identifier: ISC */
/*
 * err.h - the one list of eca error codes.
 *
 * Every fallible libeca function returns 0 or a negative ECA_ERR_* code and,
 * when given a struct eca_err, fills it with a human sentence that names
 * what failed and, where one exists, the remedy.  The code's name doubles as
 * the machine-readable reason code used by the API ({"error": {"code": ...}})
 * and by `eca --json`; the table also fixes the HTTP status and the exit code
 * of `eca` for each, so the mapping lives in exactly one place.
 */
#ifndef ECA_ERR_H
#define ECA_ERR_H

#include <stddef.h>

#define ECA_WUR __attribute__((warn_unused_result))
#define ECA_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Exit codes of `eca` (docs/cli.md, EXIT STATUS). */
#define ECA_EXIT_OK 0
#define ECA_EXIT_FAILURE 1
#define ECA_EXIT_USAGE 2
#define ECA_EXIT_NOT_FOUND 3
#define ECA_EXIT_UNREACHABLE 4
#define ECA_EXIT_REFUSED 5
/* `eca health-check`: nothing failed, but a check warned. */
#define ECA_EXIT_WARNING 6

/*
 * X(NAME, http status, exit code, description)
 * The description is the generic sentence; call sites add the detail.
 * WOULD_WAIT never leaves the process: it tells a caller that may not
 * wait for the network (judge.h, nowait) to judge again on a thread
 * that may.
 */
#define ECA_ERRORS(X)                                                          \
	X(INTERNAL, 500, 1, "internal error")                                  \
	X(NOMEM, 500, 1, "out of memory")                                      \
	X(IO, 500, 1, "input/output error")                                    \
	X(DISK_FULL, 507, 1, "no space left on device")                        \
	X(CONFIG, 500, 1, "invalid configuration")                             \
	X(USAGE, 400, 2, "invalid usage")                                      \
	X(NOT_FOUND, 404, 3, "not found")                                      \
	X(NOT_ENROLLED, 404, 3, "not enrolled")                                \
	X(UNREACHABLE, 502, 4, "primary server unreachable")                   \
	X(TIMEOUT, 504, 4, "timed out")                                        \
	X(BAD_REQUEST, 400, 1, "malformed request")                            \
	X(BAD_HOST_NAME, 400, 2, "not a valid host name")                      \
	X(TOO_LARGE, 413, 1, "request too large")                              \
	X(PROTOCOL, 502, 1, "protocol error")                                  \
	X(BUSY, 429, 1, "server busy, retry later")                            \
	X(DB, 500, 1, "registry database error")                               \
	X(DB_UNAVAILABLE, 503, 4, "registry database unavailable")             \
	X(FILE_PERMISSIONS, 422, 1, "file permissions too open")               \
	X(UNREADABLE, 422, 1, "file unreadable")                               \
	X(PARSE, 422, 1, "cannot parse")                                       \
	X(PASSPHRASE, 422, 1, "wrong or missing passphrase")                   \
	X(KEY_MISMATCH, 422, 5, "private key does not match certificate")      \
	X(NO_CLIENT_CERT, 403, 5, "no client certificate presented")           \
	X(UNTRUSTED, 422, 5, "certificate not trusted")                        \
	X(EXPIRED, 422, 5, "certificate expired")                              \
	X(NOT_YET_VALID, 422, 5, "certificate not yet valid")                  \
	X(REVOKED, 422, 5, "certificate revoked")                              \
	X(CRL_UNAVAILABLE, 422, 5, "revocation status unavailable")            \
	X(WEAK_KEY, 422, 5, "key type or size not acceptable")                 \
	X(WEAK_SIGNATURE, 422, 5, "signature algorithm not acceptable")        \
	X(BAD_KEY_USAGE, 422, 5, "key usage not acceptable")                   \
	X(BAD_CERTIFICATE, 422, 5, "certificate not acceptable")               \
	X(IDENTITY_MISMATCH, 403, 5,                                           \
	    "certificate identity does not match host")                        \
	X(FORBIDDEN, 403, 5, "not permitted")                                  \
	X(CONFLICT, 409, 5, "enrollment conflict")                             \
	X(FORCE_NOT_ALLOWED, 403, 5, "forced re-enrollment not allowed")       \
	X(BANNED, 403, 5, "host is banned")                                    \
	X(FINGERPRINT_MISMATCH, 403, 5, "certificate is not the enrolled one") \
	X(ROSTER_STALE, 503, 5, "enrollment roster is stale")                  \
	X(TOO_MANY_CANDIDATES, 409, 5, "too many certificates waiting")        \
	X(FINGERPRINT_REQUIRED, 400, 2, "certificate fingerprint required")    \
	X(MAPPING_EXISTS, 409, 5, "subject already mapped to another host")    \
	X(NAT_HOST_OFFLINE, 503, 4, "NAT host not connected to its primary")   \
	X(UNAUTHENTICATED, 401, 5, "not signed in")                            \
	X(WOULD_WAIT, 500, 1, "the check would wait for the network")

enum eca_errcode {
	ECA_OK = 0,
#define ECA_ERR_ENUM(name, http, exitc, desc) ECA_ERR_##name,
	ECA_ERR_FIRST_ = -1000,
	ECA_ERRORS(ECA_ERR_ENUM) ECA_ERR_LAST_
#undef ECA_ERR_ENUM
};

/*
 * Error detail: filled by the function that failed.  A caller may pass NULL
 * when it only wants the code.  msg is always NUL-terminated.
 */
#define ECA_ERR_MSG_MAX 512
struct eca_err {
	int code;
	char msg[ECA_ERR_MSG_MAX];
};

/* Generic description of a code ("certificate expired"); never NULL. */
const char *eca_err_desc(int code);
/* Reason code name of a code ("EXPIRED"); "OK" for 0; never NULL. */
const char *eca_err_name(int code);
/* Code from its reason name, or ECA_ERR_INTERNAL if unknown. */
int eca_err_from_name(const char *name);
int eca_err_http_status(int code);
int eca_err_exit_code(int code);

/*
 * Record an error: sets e->code and formats e->msg; returns code so that a
 * call site reads `return eca_err_set(err, ECA_ERR_PARSE, "...")`.
 * e may be NULL.
 */
int eca_err_set(struct eca_err *e, int code, const char *fmt, ...)
    ECA_PRINTF(3, 4);
/* Clear e to ECA_OK with an empty message; e may be NULL. */
void eca_err_clear(struct eca_err *e);
/*
 * Append ": <first OpenSSL error>" to e->msg and clear OpenSSL's error
 * queue, so a call site can translate at the point of failure.
 */
void eca_err_add_openssl(struct eca_err *e);

#endif
