/* SPDX-License-Identifier: ISC */
/*
 * session.c - the web console's sign-in links, sessions and failed
 * sign-in counts (session.h).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "session.h"
#include "text.h"

/* A spent or expired link is remembered this long, to say so. */
#define LINK_REMEMBER_SEC 3600
#define FAIL_WINDOW_SEC 60

struct link {
	char token[ECA_SECRET_HEX + 1]; /* "" for a free slot */
	char identity[ECA_DN_MAX];
	int64_t expires;
	int used;
};

struct session {
	struct eca_session_info info; /* info.id "" for a free slot */
};

struct fail {
	char addr[ECA_SOURCE_MAX]; /* "" for a free slot */
	int64_t since;		   /* start of its window */
	int count;
};

struct eca_sessions {
	pthread_mutex_t lock;
	struct eca_session_limits lim;
	struct link links[ECA_LINKS_MAX];
	struct session sessions[ECA_SESSIONS_MAX];
	struct fail fails[ECA_SIGNIN_SOURCES];
};

int
eca_sessions_new(const struct eca_session_limits *lim,
    struct eca_sessions **out)
{
	struct eca_sessions *s;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return ECA_ERR_NOMEM;
	if (pthread_mutex_init(&s->lock, NULL) != 0) {
		free(s);
		return ECA_ERR_NOMEM;
	}
	s->lim = *lim;
	*out = s;
	return 0;
}

void
eca_sessions_free(struct eca_sessions *s)
{
	if (s == NULL)
		return;
	pthread_mutex_destroy(&s->lock);
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
}

/* 256 random bits as hex; 0 or NOMEM (no randomness). */
static int
secret(char *out)
{
	unsigned char raw[ECA_SECRET_HEX / 2];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return ECA_ERR_NOMEM;
	eca_text_hex(raw, sizeof(raw), out, 0);
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

/* Equal whole secrets, in constant time; "" never matches. */
static int
secret_eq(const char *a, const char *b)
{
	if (a[0] == '\0' || strlen(b) != ECA_SECRET_HEX ||
	    strlen(a) != ECA_SECRET_HEX)
		return 0;
	return CRYPTO_memcmp(a, b, ECA_SECRET_HEX) == 0;
}

int
eca_link_new(struct eca_sessions *s, const char *identity, int64_t now,
    char *token, int64_t *expires, struct eca_err *err)
{
	struct link *l, *slot = NULL;
	size_t i;

	pthread_mutex_lock(&s->lock);
	for (i = 0; i < ECA_LINKS_MAX; i++) {
		l = &s->links[i];
		if (l->token[0] != '\0' && (l->used || l->expires <= now) &&
		    l->expires + LINK_REMEMBER_SEC <= now)
			memset(l, 0, sizeof(*l));
		if (l->token[0] == '\0' && slot == NULL)
			slot = l;
	}
	/* Full: reuse a spent or expired one before refusing. */
	for (i = 0; slot == NULL && i < ECA_LINKS_MAX; i++)
		if (s->links[i].used || s->links[i].expires <= now)
			slot = &s->links[i];
	if (slot == NULL) {
		pthread_mutex_unlock(&s->lock);
		return eca_err_set(err, ECA_ERR_BUSY,
		    "%d sign-in links are waiting to be used; use one, or "
		    "wait until they expire",
		    ECA_LINKS_MAX);
	}
	memset(slot, 0, sizeof(*slot));
	if (secret(slot->token) != 0) {
		slot->token[0] = '\0';
		pthread_mutex_unlock(&s->lock);
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "no random bytes for a sign-in link (OpenSSL RAND_bytes "
		    "failed)");
	}
	snprintf(slot->identity, sizeof(slot->identity), "%s", identity);
	slot->expires = now + s->lim.link;
	memcpy(token, slot->token, ECA_SECRET_HEX + 1);
	*expires = slot->expires;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* A free session slot, dropping the expired ones; NULL when full. */
static struct session *
session_slot(struct eca_sessions *s, int64_t now)
{
	struct session *free_slot = NULL, *x;
	size_t i;

	for (i = 0; i < ECA_SESSIONS_MAX; i++) {
		x = &s->sessions[i];
		if (x->info.id[0] != '\0' &&
		    (x->info.expires <= now ||
			x->info.last_used + s->lim.idle <= now))
			memset(x, 0, sizeof(*x));
		if (x->info.id[0] == '\0' && free_slot == NULL)
			free_slot = x;
	}
	return free_slot;
}

/* A new session (lock held). */
static int
session_add(struct eca_sessions *s, const char *identity, const char *source,
    int64_t now, struct eca_session_info *out, struct eca_err *err)
{
	struct session *x;

	if ((x = session_slot(s, now)) == NULL)
		return eca_err_set(err, ECA_ERR_BUSY,
		    "%d console sessions are open already; sign one out "
		    "(eca console sessions --revoke ID)",
		    ECA_SESSIONS_MAX);
	memset(x, 0, sizeof(*x));
	if (secret(x->info.id) != 0 || secret(x->info.csrf) != 0) {
		memset(x, 0, sizeof(*x));
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "no random bytes for a session (OpenSSL RAND_bytes "
		    "failed)");
	}
	snprintf(x->info.identity, sizeof(x->info.identity), "%s", identity);
	snprintf(x->info.source, sizeof(x->info.source), "%s", source);
	x->info.created = now;
	x->info.last_used = now;
	x->info.expires = now + s->lim.max;
	*out = x->info;
	return 0;
}

int
eca_session_open(struct eca_sessions *s, const char *identity,
    const char *source, int64_t now, struct eca_session_info *out,
    struct eca_err *err)
{
	int r;

	pthread_mutex_lock(&s->lock);
	r = session_add(s, identity, source, now, out, err);
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* Why token does not sign in (lock held), or NULL when it does. */
static const char *
link_refusal(struct link *l, int64_t now)
{
	if (l == NULL)
		return "this sign-in link is not known (a restart of ecad "
		       "forgets the links)";
	if (l->used)
		return "this sign-in link was used already; each link signs "
		       "in once";
	if (l->expires <= now)
		return "this sign-in link has expired (CONSOLE_LINK_MINUTES)";
	return NULL;
}

int
eca_link_use(struct eca_sessions *s, const char *token, const char *source,
    int64_t now, struct eca_session_info *out, struct eca_err *err)
{
	struct link *l = NULL;
	const char *why;
	size_t i;
	int r;

	pthread_mutex_lock(&s->lock);
	for (i = 0; i < ECA_LINKS_MAX && l == NULL; i++)
		if (secret_eq(s->links[i].token, token))
			l = &s->links[i];
	if ((why = link_refusal(l, now)) != NULL) {
		pthread_mutex_unlock(&s->lock);
		return eca_err_set(err, ECA_ERR_UNAUTHENTICATED,
		    "%s: run `eca console login` on the primary for a new "
		    "one",
		    why);
	}
	l->used = 1;
	r = session_add(s, l->identity, source, now, out, err);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int
eca_session_get(struct eca_sessions *s, const char *id, int64_t now,
    struct eca_session_info *out, struct eca_err *err)
{
	struct session *x = NULL;
	const char *why = NULL;
	size_t i;

	pthread_mutex_lock(&s->lock);
	for (i = 0; i < ECA_SESSIONS_MAX && x == NULL; i++)
		if (secret_eq(s->sessions[i].info.id, id))
			x = &s->sessions[i];
	if (x == NULL)
		why = "no console session (sign in, or sign in again: the "
		      "session was signed out, revoked or forgotten by a "
		      "restart)";
	else if (x->info.expires <= now)
		why = "the console session reached its end "
		      "(CONSOLE_SESSION_HOURS)";
	else if (x->info.last_used + s->lim.idle <= now)
		why = "the console session was idle too long "
		      "(CONSOLE_IDLE_MINUTES)";
	if (why != NULL) {
		if (x != NULL)
			memset(x, 0, sizeof(*x));
		pthread_mutex_unlock(&s->lock);
		return eca_err_set(err, ECA_ERR_UNAUTHENTICATED,
		    "%s: run `eca console login` on the primary for a "
		    "sign-in link",
		    why);
	}
	x->info.last_used = now;
	*out = x->info;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

int
eca_session_csrf_ok(const struct eca_session_info *si, const char *csrf)
{
	return csrf != NULL && secret_eq(si->csrf, csrf);
}

static int
is_hex(const char *p)
{
	for (; *p != '\0'; p++)
		if (strchr("0123456789abcdef", *p) == NULL)
			return 0;
	return 1;
}

int
eca_session_end(struct eca_sessions *s, const char *prefix,
    struct eca_session_info *out, struct eca_err *err)
{
	size_t i, n = strlen(prefix), hits = 0, hit = 0;

	if (n < 8 || n > ECA_SECRET_HEX || !is_hex(prefix))
		return eca_err_set(err, ECA_ERR_USAGE,
		    "'%.80s' is no session ID: give at least 8 of its "
		    "lower-case hex digits (eca console sessions lists them)",
		    prefix);
	pthread_mutex_lock(&s->lock);
	for (i = 0; i < ECA_SESSIONS_MAX; i++)
		if (s->sessions[i].info.id[0] != '\0' &&
		    CRYPTO_memcmp(s->sessions[i].info.id, prefix, n) == 0) {
			hits++;
			hit = i;
		}
	if (hits == 1) {
		*out = s->sessions[hit].info;
		memset(&s->sessions[hit], 0, sizeof(s->sessions[hit]));
	}
	pthread_mutex_unlock(&s->lock);
	if (hits == 0)
		return eca_err_set(err, ECA_ERR_NOT_FOUND,
		    "no console session %s (eca console sessions lists them)",
		    prefix);
	if (hits > 1)
		return eca_err_set(err, ECA_ERR_USAGE,
		    "%zu sessions start with %s: give more digits", hits,
		    prefix);
	return 0;
}

size_t
eca_session_list(struct eca_sessions *s, int64_t now,
    struct eca_session_info *out, size_t max)
{
	size_t i, n = 0;

	pthread_mutex_lock(&s->lock);
	(void)session_slot(s, now); /* drops the expired */
	for (i = 0; i < ECA_SESSIONS_MAX && n < max; i++) {
		if (s->sessions[i].info.id[0] == '\0')
			continue;
		out[n] = s->sessions[i].info;
		out[n].id[ECA_SESSION_PREFIX] = '\0';
		memset(out[n].csrf, 0, sizeof(out[n].csrf));
		n++;
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

size_t
eca_session_count(struct eca_sessions *s, int64_t now)
{
	size_t i, n = 0;

	pthread_mutex_lock(&s->lock);
	(void)session_slot(s, now); /* drops the expired */
	for (i = 0; i < ECA_SESSIONS_MAX; i++)
		n += s->sessions[i].info.id[0] != '\0';
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* addr's entry, a free one, or the one with the oldest window (lock held). */
static struct fail *
fail_find(struct eca_sessions *s, const char *addr, int create)
{
	struct fail *f, *victim = NULL;
	size_t i;

	for (i = 0; i < ECA_SIGNIN_SOURCES; i++) {
		f = &s->fails[i];
		if (f->addr[0] != '\0' && strcmp(f->addr, addr) == 0)
			return f;
		if (victim == NULL || f->addr[0] == '\0' ||
		    (victim->addr[0] != '\0' && f->since < victim->since))
			victim = f;
	}
	if (!create)
		return NULL;
	memset(victim, 0, sizeof(*victim));
	snprintf(victim->addr, sizeof(victim->addr), "%s", addr);
	return victim;
}

int
eca_signin_blocked(struct eca_sessions *s, const char *addr, int64_t now)
{
	struct fail *f;
	int r;

	pthread_mutex_lock(&s->lock);
	f = fail_find(s, addr, 0);
	r = f != NULL && f->since + FAIL_WINDOW_SEC > now &&
	    f->count >= ECA_SIGNIN_FAILS;
	pthread_mutex_unlock(&s->lock);
	return r;
}

void
eca_signin_failed(struct eca_sessions *s, const char *addr, int64_t now)
{
	struct fail *f;

	pthread_mutex_lock(&s->lock);
	f = fail_find(s, addr, 1);
	if (f->since + FAIL_WINDOW_SEC <= now) {
		f->since = now;
		f->count = 0;
	}
	f->count++;
	pthread_mutex_unlock(&s->lock);
}
