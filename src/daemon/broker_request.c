/* SPDX-License-Identifier: ISC */
/*
 * broker_request.c - reverse connection requests (POST /v1/nat/requests,
 * api_nat.c; docs/nat.md): the requester's rate, the token, and the
 * connect message over the NAT host's broker session.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "broker_impl.h"
#include "log.h"
#include "util.h"

/* May requester ask once more this second?  Under b->lock. */
static int
rate_ok(struct ecad_broker *b, const char *requester)
{
	int64_t now = eca_util_mono_ms() / 1000;
	struct brate *r, *stalest = &b->rates[0];
	size_t i;

	for (i = 0; i < BROKER_RATE_SLOTS; i++) {
		r = &b->rates[i];
		if (strcmp(r->host, requester) == 0)
			break;
		if (r->second < stalest->second)
			stalest = r;
	}
	if (i == BROKER_RATE_SLOTS) {
		r = stalest;
		snprintf(r->host, sizeof(r->host), "%s", requester);
		r->second = now;
		r->count = 0;
	}
	if (r->second != now) {
		r->second = now;
		r->count = 0;
	}
	return ++r->count <= BROKER_RATE_MAX;
}

/* May requester have host called back now?  0, or the refusal. */
static int
request_allowed(struct ecad *d, const char *requester, const char *host,
    struct eca_err *err)
{
	struct ecad_broker *b = d->broker;
	const struct bentry *e;
	int online, allowed, restricted;

	pthread_mutex_lock(&b->lock);
	allowed = rate_ok(b, requester);
	e = broker_entry_find(b, host);
	online = e != NULL && e->sess != NULL;
	restricted = online && e->restricted;
	b->n_limited += !allowed;
	b->n_offline += allowed && !online;
	b->n_restricted += allowed && restricted;
	b->n_requests += allowed && online && !restricted;
	pthread_mutex_unlock(&b->lock);
	if (!allowed)
		return eca_err_set(err, ECA_ERR_BUSY,
		    "%s asks for more than %d reverse connections a second: "
		    "retry later",
		    requester, BROKER_RATE_MAX);
	if (!online)
		return eca_err_set(err, ECA_ERR_NAT_HOST_OFFLINE,
		    "%s has no broker session with %s: is its ecad running "
		    "and NAT_CLIENT = YES? (`eca status` on %s shows its "
		    "broker session)",
		    host, d->cfg->client_name, host);
	if (restricted)
		return eca_err_set(err, ECA_ERR_NOT_ENROLLED,
		    "%s is not enrolled with %s: its broker session is "
		    "restricted to its own enrollment, so no reverse "
		    "connection goes to it; enroll it first (`eca enroll "
		    "--remote-host %s` on %s)",
		    host, d->cfg->client_name, host, d->cfg->client_name);
	return 0;
}

/* Is requester a NAT host (a full session with this broker)? */
static int
requester_is_nat(struct ecad_broker *b, const char *requester)
{
	const struct bentry *e;
	int nat;

	pthread_mutex_lock(&b->lock);
	e = broker_entry_find(b, requester);
	nat = e != NULL && e->sess != NULL && !e->restricted;
	pthread_mutex_unlock(&b->lock);
	return nat;
}

int
broker_request(struct ecad *d, const char *requester, const char *host,
    enum eca_purpose purpose, const char *address, char *token, int *relay,
    struct eca_err *err)
{
	struct ecad_broker *b = d->broker;
	unsigned char nonce[ECA_BROKER_TOKEN_NONCE_LEN];
	struct eca_broker_binding bind;
	struct eca_broker_msg m;
	struct ecad_snap *snap;
	int ttl, r;

	if (b == NULL)
		return eca_err_set(err, ECA_ERR_NAT_HOST_OFFLINE,
		    "primary %s runs no broker for NAT hosts (see "
		    "BROKER_LISTEN in its log), so %s cannot be reached",
		    d->cfg->client_name, host);
	if ((r = request_allowed(d, requester, host, err)) != 0)
		return r;
	snap = ecad_snap_get(d);
	ttl = snap->cfg->nat_token_seconds;
	ecad_snap_put(snap);
	memset(&bind, 0, sizeof(bind));
	snprintf(bind.requester, sizeof(bind.requester), "%s", requester);
	snprintf(bind.host, sizeof(bind.host), "%s", host);
	bind.purpose = purpose;
	if (RAND_bytes(nonce, sizeof(nonce)) != 1)
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "cannot make a reverse connection token");
	if ((r = eca_broker_token_make(b->token_key, &bind,
		 (int64_t)time(NULL) + ttl, nonce, token, err)) != 0)
		return r;
	memset(&m, 0, sizeof(m));
	m.ttl = ttl;
	m.relay = *relay = requester_is_nat(b, requester);
	m.op = ECA_BROKER_CONNECT;
	snprintf(m.host, sizeof(m.host), "%s", host);
	snprintf(m.token, sizeof(m.token), "%s", token);
	snprintf(m.requester, sizeof(m.requester), "%s", requester);
	snprintf(m.address, sizeof(m.address), "%s", address);
	m.purpose = purpose;
	if ((r = broker_post(b, &m, err)) != 0)
		return r;
	log_info("broker: reverse connection to %s asked by %s (%s), %s %s",
	    host, requester, eca_purpose_name(purpose),
	    m.relay ? "both NAT hosts: through the relay, not" :
		      "callback address",
	    address);
	return 0;
}
