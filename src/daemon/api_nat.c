/* SPDX-License-Identifier: ISC */
/*
 * api_nat.c - the NAT routes (docs/nat.md).
 *
 * POST /v1/nat/requests: a host of the domain asks the primary to have a
 * NAT host call it back (a reverse connection).  The caller must be the
 * enrolled host it says it is; the callback address is the caller's own
 * source address with the port it listens on; the request goes over the
 * NAT host's broker session (broker_request).
 *
 * GET /v1/nat/restricted (administrators): the NAT hosts online on a
 * restricted session, not enrolled.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api_impl.h"
#include "broker.h"
#include "hostname.h"

/* The body: {"from":X,"host":N,"purpose":P,"port":n}; 0 or replied. */
static int
parse_body(struct api_call *c, char *from, char *host,
    enum eca_purpose *purpose, long *port)
{
	const char *buf, *f, *h, *p;
	json_int_t n = 0;
	size_t len;
	json_t *j;
	int ok, pu = -1;

	if (api_read_body(c, &buf, &len) != 0)
		return -1;
	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	ok = json_unpack(j, "{s:s, s:s, s:s, s:I}", "from", &f, "host", &h,
		 "purpose", &p, "port", &n) == 0 &&
	    eca_hostname_canon(f, from, ECA_HOST_MAX, NULL) == 0 &&
	    eca_hostname_canon(h, host, ECA_HOST_MAX, NULL) == 0 &&
	    (pu = eca_purpose_from_name(p)) >= 0 && n >= 1 && n <= 65535;
	json_decref(j);
	if (!ok) {
		api_reply_error(c, ECA_ERR_BAD_REQUEST,
		    "the body must be {\"from\":HOST,\"host\":NATHOST,"
		    "\"purpose\":PURPOSE,\"port\":1..65535} with valid host "
		    "names and a purpose (backup, restore, replication, "
		    "console, control, ping)");
		return -1;
	}
	*purpose = (enum eca_purpose)pu;
	*port = (long)n;
	return 0;
}

/* The caller is from, and enrolled with this certificate; 0 or replied. */
static int
check_caller(struct api_call *c, const char *from)
{
	struct eca_enrollment rec;
	struct eca_err e;
	int r, ok;

	/* The control socket has no certificate to name the caller. */
	if (c->control || c->conn == NULL) {
		api_reply_error(c, ECA_ERR_FORBIDDEN,
		    "a reverse connection is asked for by a host, over TLS "
		    "with its certificate, not on the control socket");
		return -1;
	}
	eca_err_clear(&e);
	if ((r = api_caller_names(c, from, &e)) != 0) {
		api_reply_error(c, ECA_ERR_FORBIDDEN,
		    "your certificate does not name %s: %s", from, e.msg);
		return -1;
	}
	/* Zeroed: a host with no record leaves it untouched, then cleared. */
	memset(&rec, 0, sizeof(rec));
	if ((r = api_get_record(c, from, &rec)) < 0)
		return -1;
	ok = r == 1 && rec.state == ECA_STATE_ENROLLED &&
	    strcmp(rec.cert.fingerprint, c->fp) == 0;
	eca_enrollment_clear(&rec);
	if (!ok) {
		api_reply_error(c, ECA_ERR_NOT_ENROLLED,
		    "only enrolled hosts of the domain may ask for a reverse "
		    "connection, and %s is not enrolled with this "
		    "certificate: run `eca enroll` on %s",
		    from, from);
		return -1;
	}
	return 0;
}

void
api_h_nat_request(struct api_call *c)
{
	char from[ECA_HOST_MAX], host[ECA_HOST_MAX], addr[ECA_SOURCE_MAX + 8];
	char token[ECA_BROKER_TOKEN_LEN + 1], ip[ECA_SOURCE_MAX];
	enum eca_purpose purpose;
	const char *colon;
	char *end = NULL;
	struct eca_err e;
	long port, relay_port;
	int relay = 0;

	if (parse_body(c, from, host, &purpose, &port) != 0)
		return;
	snprintf(c->name, sizeof(c->name), "%s", host);
	if (check_caller(c, from) != 0)
		return;
	/* The caller's address, as this connection came from it. */
	snprintf(ip, sizeof(ip), "%s", c->source);
	if ((colon = strrchr(ip, ':')) != NULL)
		ip[colon - ip] = '\0';
	snprintf(addr, sizeof(addr), "%s:%ld", ip, port);
	eca_err_clear(&e);
	if (broker_request(c->d, from, host, purpose, addr, token, &relay,
		&e) != 0) {
		api_reply_error(c, e.code, "%s", e.msg);
		return;
	}
	/* The relay is the broker: its port, for a requester to stand by. */
	colon = strrchr(c->d->broker_desc, ':');
	relay_port = colon != NULL ? strtol(colon + 1, &end, 10) : 0;
	if (colon == NULL || *end != '\0')
		relay_port = 0;
	api_reply_json(c, 200,
	    json_pack("{s:s, s:s, s:s, s:b, s:i}", "token", token, "host", host,
		"address", addr, "relay", relay, "relay_port",
		relay_port > 0 && relay_port <= 65535 ? (int)relay_port : 0));
}

/* At most this many restricted sessions in one answer ("total": all). */
#define RESTRICTED_MAX 1000

void
api_h_nat_restricted(struct api_call *c)
{
	json_t *j;

	if ((j = broker_restricted_json(c->d, RESTRICTED_MAX)) == NULL) {
		api_reply_error(c, ECA_ERR_NOMEM,
		    "out of memory listing the restricted broker sessions");
		return;
	}
	api_reply_json(c, 200, j);
}
