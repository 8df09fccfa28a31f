/* SPDX-License-Identifier: ISC */
/*
 * broker_token.h - the one-time token of a reverse or relayed connection
 * with a NAT host (docs/nat.md, "Tokens").
 *
 * The primary makes it for one request: requester X, NAT host N and the
 * channel's purpose, with a short expiry.  It is 32 bytes in lower-case
 * hex (ECA_BROKER_TOKEN_LEN digits):
 *
 *   nonce (8 random bytes) | expiry (8 bytes, big-endian unix seconds) |
 *   HMAC-SHA256(key, "eca-nat-token-v1" 0 nonce expiry X 0 N 0 U 0)[0..16]
 *
 * The key is the primary's own (random, per ecad run), so only it can make
 * or check a token: whoever presents one must also name what it is bound
 * to, and a token presented for another requester, host or purpose does
 * not check.  Single use is the spender's: eca_broker_token_spend records
 * the nonce until the token expires.
 */
#ifndef ECA_BROKER_TOKEN_H
#define ECA_BROKER_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "broker.h"
#include "err.h"
#include "purpose.h"

#define ECA_BROKER_TOKEN_KEY_LEN 32
#define ECA_BROKER_TOKEN_NONCE_LEN 8
/* How long a token is good for, by default (NAT_TOKEN_SECONDS). */
#define ECA_BROKER_TOKEN_TTL_DEFAULT 30
/* Tokens a spender remembers at once (unexpired ones are never dropped). */
#define ECA_BROKER_SPENT_MAX 1024

/* What a token is bound to. */
struct eca_broker_binding {
	char requester[ECA_HOST_MAX]; /* X, canonical */
	char host[ECA_HOST_MAX];      /* N, the NAT host, canonical */
	enum eca_purpose purpose;
};

/*
 * The token for b, good until expires (unix seconds), with nonce (random
 * bytes of the caller's) into token (ECA_BROKER_TOKEN_LEN + 1 bytes): 0
 * or an error.
 */
int eca_broker_token_make(const unsigned char key[ECA_BROKER_TOKEN_KEY_LEN],
    const struct eca_broker_binding *b, int64_t expires,
    const unsigned char nonce[ECA_BROKER_TOKEN_NONCE_LEN], char *token,
    struct eca_err *err) ECA_WUR;

/*
 * Is token, presented at now (unix seconds) for claim, one this key made
 * for exactly claim, and not expired?  0 (and *expires, may be NULL), or
 * ECA_ERR_FORBIDDEN saying why: not a token, forged (or bound to another
 * requester or host), bound to another purpose (named), or expired.
 */
int eca_broker_token_check(const unsigned char key[ECA_BROKER_TOKEN_KEY_LEN],
    const char *token, const struct eca_broker_binding *claim, int64_t now,
    int64_t *expires, struct eca_err *err) ECA_WUR;

/* The tokens spent and not yet expired (zeroed: empty). */
struct eca_broker_spent {
	unsigned char nonce[ECA_BROKER_SPENT_MAX][ECA_BROKER_TOKEN_NONCE_LEN];
	int64_t expires[ECA_BROKER_SPENT_MAX]; /* 0: a free slot */
};

/*
 * Spend token (checked, or taken from a trusted source) that expires at
 * expires: 0 the first time, ECA_ERR_FORBIDDEN when it was spent already
 * (a replay), ECA_ERR_BUSY when ECA_BROKER_SPENT_MAX unexpired tokens are
 * held (nothing is forgotten early: that would let a replay through).
 */
int eca_broker_token_spend(struct eca_broker_spent *s, const char *token,
    int64_t expires, int64_t now, struct eca_err *err) ECA_WUR;

#endif
