/* SPDX-License-Identifier: ISC */
/*
 * session.h - the web console's sign-in links and sessions (session.c):
 * single-use links with a deadline, sessions with an idle and an absolute
 * expiry, each with its CSRF token, and the count of failed sign-ins per
 * source address.  Held in memory (a restart signs everybody out), under
 * one mutex, for any thread.  Secrets are 256-bit random values from
 * RAND_bytes written as 64 hex digits, and are compared in constant time.
 */
#ifndef ECA_SESSION_H
#define ECA_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "certinfo.h"
#include "err.h"
#include "store.h"

#define ECA_SECRET_HEX 64     /* a link token, session id or CSRF token */
#define ECA_SESSION_PREFIX 12 /* hex digits of an id shown in listings */
#define ECA_SESSIONS_MAX 64   /* sessions at once */
#define ECA_LINKS_MAX 64      /* links not yet used or expired */
#define ECA_SIGNIN_FAILS 5    /* failed sign-ins per source per minute */
#define ECA_SIGNIN_SOURCES 256

/* The lifetimes, in seconds (CONSOLE_LINK_MINUTES, ...). */
struct eca_session_limits {
	int64_t link;
	int64_t idle;
	int64_t max;
};

/* A session as shown: its whole id only to its owner (signin). */
struct eca_session_info {
	char id[ECA_SECRET_HEX + 1];
	char csrf[ECA_SECRET_HEX + 1];
	char identity[ECA_DN_MAX];
	char source[ECA_SOURCE_MAX];
	int64_t created, last_used, expires;
};

struct eca_sessions;

int eca_sessions_new(const struct eca_session_limits *lim,
    struct eca_sessions **out) ECA_WUR;
void eca_sessions_free(struct eca_sessions *s);

/*
 * A new single-use sign-in link for identity: its token (ECA_SECRET_HEX
 * digits) and when it expires.  NOMEM, BUSY (ECA_LINKS_MAX waiting).
 */
int eca_link_new(struct eca_sessions *s, const char *identity, int64_t now,
    char *token, int64_t *expires, struct eca_err *err) ECA_WUR;

/*
 * Exchange a link's token for a new session from source: 0 and *out, or
 * UNAUTHENTICATED with why (unknown, used already, expired: a sentence
 * with the remedy), BUSY (ECA_SESSIONS_MAX open).  A token is spent by
 * its first use, whatever follows.
 */
int eca_link_use(struct eca_sessions *s, const char *token, const char *source,
    int64_t now, struct eca_session_info *out, struct eca_err *err) ECA_WUR;

/* A new session for identity (a client certificate's sign-in). */
int eca_session_open(struct eca_sessions *s, const char *identity,
    const char *source, int64_t now, struct eca_session_info *out,
    struct eca_err *err) ECA_WUR;

/*
 * The live session whose id is id: 0 with *out (last use now), or
 * UNAUTHENTICATED (none, expired: the message says which).
 */
int eca_session_get(struct eca_sessions *s, const char *id, int64_t now,
    struct eca_session_info *out, struct eca_err *err) ECA_WUR;

/* Is csrf the session's CSRF token?  1 or 0 (constant time). */
int eca_session_csrf_ok(const struct eca_session_info *si, const char *csrf);

/*
 * End the session whose id starts with prefix (at least 8 hex digits; a
 * whole id signs out): 0 with its identity in *out, NOT_FOUND, USAGE (too
 * short, or more than one matches).
 */
int eca_session_end(struct eca_sessions *s, const char *prefix,
    struct eca_session_info *out, struct eca_err *err) ECA_WUR;

/* The live sessions, at most max, ids cut to ECA_SESSION_PREFIX digits. */
size_t eca_session_list(struct eca_sessions *s, int64_t now,
    struct eca_session_info *out, size_t max);

/* How many sessions are live now (metrics). */
size_t eca_session_count(struct eca_sessions *s, int64_t now);

/*
 * Failed sign-ins from addr: eca_signin_blocked says 1 when addr had
 * ECA_SIGNIN_FAILS in the last minute; eca_signin_failed counts one.
 */
int eca_signin_blocked(struct eca_sessions *s, const char *addr, int64_t now);
void eca_signin_failed(struct eca_sessions *s, const char *addr, int64_t now);

#endif
