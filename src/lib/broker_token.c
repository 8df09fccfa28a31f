/* SPDX-License-Identifier: ISC */
/*
 * broker_token.c - one-time tokens of reverse and relayed connections
 * (broker_token.h, docs/nat.md).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "broker_token.h"
#include "text.h"

#define TOKEN_RAW (ECA_BROKER_TOKEN_LEN / 2)
#define MAC_LEN (TOKEN_RAW - ECA_BROKER_TOKEN_NONCE_LEN - 8)
#define LABEL "eca-nat-token-v1"

/* The MAC of nonce, expiry and b into mac (MAC_LEN bytes): 0 or -1. */
static int
token_mac(const unsigned char *key, const unsigned char *nonce_exp,
    const struct eca_broker_binding *b, enum eca_purpose purpose,
    unsigned char *mac)
{
	unsigned char data[sizeof(LABEL) + 16 + 2 * ECA_HOST_MAX + 32];
	unsigned char full[EVP_MAX_MD_SIZE];
	const char *parts[3];
	size_t n = 0, len, outlen = 0, i;

	parts[0] = b->requester;
	parts[1] = b->host;
	parts[2] = eca_purpose_name(purpose);
	memcpy(data, LABEL, sizeof(LABEL)); /* with its NUL */
	n = sizeof(LABEL);
	memcpy(data + n, nonce_exp, ECA_BROKER_TOKEN_NONCE_LEN + 8);
	n += ECA_BROKER_TOKEN_NONCE_LEN + 8;
	for (i = 0; i < 3; i++) {
		len = strnlen(parts[i], ECA_HOST_MAX - 1);
		memcpy(data + n, parts[i], len);
		n += len;
		data[n++] = '\0';
	}
	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key,
		ECA_BROKER_TOKEN_KEY_LEN, data, n, full, sizeof(full),
		&outlen) == NULL ||
	    outlen < MAC_LEN)
		return -1;
	memcpy(mac, full, MAC_LEN);
	OPENSSL_cleanse(full, sizeof(full));
	return 0;
}

int
eca_broker_token_make(const unsigned char key[ECA_BROKER_TOKEN_KEY_LEN],
    const struct eca_broker_binding *b, int64_t expires,
    const unsigned char nonce[ECA_BROKER_TOKEN_NONCE_LEN], char *token,
    struct eca_err *err)
{
	unsigned char raw[TOKEN_RAW];
	int i;

	memcpy(raw, nonce, ECA_BROKER_TOKEN_NONCE_LEN);
	for (i = 0; i < 8; i++)
		raw[ECA_BROKER_TOKEN_NONCE_LEN + i] =
		    (unsigned char)((uint64_t)expires >> (56 - 8 * i));
	if (!eca_purpose_valid((int)b->purpose) ||
	    token_mac(key, raw, b, b->purpose,
		raw + ECA_BROKER_TOKEN_NONCE_LEN + 8) != 0)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot make a reverse connection token");
	eca_text_hex(raw, sizeof(raw), token, 0);
	return 0;
}

/* token's raw bytes, and its expiry: 0, or -1 if it is no token. */
static int
token_raw(const char *token, unsigned char raw[TOKEN_RAW], int64_t *expires)
{
	size_t len = 0;
	int i;

	if (token == NULL || !eca_broker_token_valid(token) ||
	    OPENSSL_hexstr2buf_ex(raw, TOKEN_RAW, &len, token, '\0') != 1 ||
	    len != TOKEN_RAW)
		return -1;
	*expires = 0;
	for (i = 0; i < 8; i++)
		*expires = (int64_t)(((uint64_t)*expires << 8) |
		    raw[ECA_BROKER_TOKEN_NONCE_LEN + i]);
	return 0;
}

/* The purpose token is bound to, if it is claim's in all else; -1 none. */
static int
other_purpose(const unsigned char *key, const unsigned char *raw,
    const struct eca_broker_binding *claim)
{
	unsigned char mac[MAC_LEN];
	int p;

	for (p = 0; eca_purpose_valid(p); p++)
		if (p != (int)claim->purpose &&
		    token_mac(key, raw, claim, (enum eca_purpose)p, mac) == 0 &&
		    CRYPTO_memcmp(mac, raw + TOKEN_RAW - MAC_LEN, MAC_LEN) == 0)
			return p;
	return -1;
}

int
eca_broker_token_check(const unsigned char key[ECA_BROKER_TOKEN_KEY_LEN],
    const char *token, const struct eca_broker_binding *claim, int64_t now,
    int64_t *expires, struct eca_err *err)
{
	unsigned char raw[TOKEN_RAW], mac[MAC_LEN];
	int64_t exp = 0;
	int p;

	if (token_raw(token, raw, &exp) != 0)
		return eca_err_set(err, ECA_ERR_FORBIDDEN,
		    "not a reverse connection token (%d lower-case hex "
		    "digits)",
		    ECA_BROKER_TOKEN_LEN);
	if (token_mac(key, raw, claim, claim->purpose, mac) != 0)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot check a reverse connection token");
	if (CRYPTO_memcmp(mac, raw + TOKEN_RAW - MAC_LEN, MAC_LEN) != 0) {
		if ((p = other_purpose(key, raw, claim)) >= 0)
			return eca_err_set(err, ECA_ERR_FORBIDDEN,
			    "the token of %s's request to %s is bound to "
			    "purpose %s, not %s: ask again for this purpose",
			    claim->requester, claim->host,
			    eca_purpose_name((enum eca_purpose)p),
			    eca_purpose_name(claim->purpose));
		return eca_err_set(err, ECA_ERR_FORBIDDEN,
		    "forged token: this primary did not make it for %s's "
		    "request to %s",
		    claim->requester, claim->host);
	}
	if (now >= exp)
		return eca_err_set(err, ECA_ERR_FORBIDDEN,
		    "the token of %s's request to %s expired %lld s ago: ask "
		    "again",
		    claim->requester, claim->host, (long long)(now - exp));
	if (expires != NULL)
		*expires = exp;
	return 0;
}

int
eca_broker_token_spend(struct eca_broker_spent *s, const char *token,
    int64_t expires, int64_t now, struct eca_err *err)
{
	unsigned char raw[TOKEN_RAW];
	int64_t ignored;
	size_t i, free_slot = ECA_BROKER_SPENT_MAX;

	if (token_raw(token, raw, &ignored) != 0)
		return eca_err_set(err, ECA_ERR_FORBIDDEN,
		    "not a reverse connection token");
	for (i = 0; i < ECA_BROKER_SPENT_MAX; i++) {
		if (s->expires[i] != 0 && s->expires[i] <= now)
			s->expires[i] =
			    0; /* expired: its replay fails anyway */
		if (s->expires[i] == 0) {
			if (free_slot == ECA_BROKER_SPENT_MAX)
				free_slot = i;
			continue;
		}
		if (memcmp(s->nonce[i], raw, ECA_BROKER_TOKEN_NONCE_LEN) == 0)
			return eca_err_set(err, ECA_ERR_FORBIDDEN,
			    "replayed token: it was used already (a token "
			    "serves one connection)");
	}
	if (free_slot == ECA_BROKER_SPENT_MAX)
		return eca_err_set(err, ECA_ERR_BUSY,
		    "%d tokens are in use: retry in a few seconds",
		    ECA_BROKER_SPENT_MAX);
	memcpy(s->nonce[free_slot], raw, ECA_BROKER_TOKEN_NONCE_LEN);
	s->expires[free_slot] = expires > now ? expires : now + 1;
	return 0;
}
