/* SPDX-License-Identifier: ISC */
/*
 * channel.h - host-to-host channels: mutual TLS between two hosts of a
 * backup domain, each presenting its external certificate, each checking
 * the other against the roster of the primary they share.
 *
 * The protocol (docs/channels.md) runs right after the TLS handshake, in
 * frames of a 4-byte big-endian length and a JSON object (at most
 * ECA_FRAME_MAX bytes):
 *
 *   server -> client  HELLO   {"v":1,"host":H,"role":R,"primaries":[P...],
 *                              "cert":true}
 *   client -> server  HELLO   {"v":1,"host":H,"role":R,"primary":P,
 *                              "purpose":U,"cert":true,"auto":bool}
 *                     (P: the first of the client's SERVER entries that the
 *                      server also lists; the client has judged the server
 *                      and auto-enrolled with P, if the rule allows, before
 *                      sending this)
 *   server -> client  VERDICT {"accept":bool,"code":NAME,"message":M,
 *                              "primary":P}
 *                     (the server judges the client: its certificate, its
 *                      own auto-enrollment with P if needed and allowed,
 *                      the roster of P, synced first on a miss and waited
 *                      for when the client enrolls itself)
 *
 * Both ends judge with eca_judge_peer (judge.h).  The client judges the
 * server before it sends anything after the server's HELLO, with one
 * exception: a server that is
 * not in the roster yet but would be auto-enrolled by this very
 * communication (it enrolls only once it has read the client's HELLO) is
 * judged after its VERDICT, waiting up to ECA_ENROLL_WAIT_MS for it; no
 * service data flows before that.  After an accepting VERDICT the
 * channel carries the purpose's service (docs/channels.md): PING and
 * CONSOLE/CONTROL echo frames; BACKUP, RESTORE and REPLICATION carry
 * bulk data ({"op":"send","bytes":N} then N raw bytes, answered by
 * {"received":N}; or {"op":"receive","bytes":N} answered by N raw bytes).
 *
 * This header has the frame and message codecs (pure: no I/O, fuzzed) and
 * the blocking client used by `eca ping` and the benchmarks.  ecad's
 * event-driven peer listener uses the same codecs.
 *
 * Names: everything here is eca_channel_<noun>_<verb> (the frame codec
 * eca_channel_frame_*, the messages eca_channel_server_hello_*,
 * _client_hello_* and _verdict_* with their structs of the same names,
 * the client eca_channel_open/close/...), but for the wire's constants,
 * which keep the names docs/channels.md gives them (ECA_FRAME_MAX,
 * ECA_PROTOCOL_VERSION, ECA_BULK_MAX).  The code is in channel_codec.c
 * (codecs), channel_io.c (sockets, TLS, deadlines) and channel.c (open
 * and the services' client side).
 */
#ifndef ECA_CHANNEL_H
#define ECA_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "certinfo.h"
#include "config.h"
#include "err.h"
#include "purpose.h"

#define ECA_FRAME_MAX (16 * 1024)
#define ECA_PROTOCOL_VERSION 1
#define ECA_BULK_MAX ((int64_t)1 << 40) /* largest bulk transfer asked */

struct eca_channel_server_hello {
	char host[ECA_HOST_MAX];
	enum eca_role role;
	char primaries[ECA_MAX_SERVERS][ECA_HOST_MAX];
	size_t nprimaries;
	int has_cert;
	int nat; /* "nat": NAT_CLIENT = YES; optional, absent is false */
	/*
	 * "token": on a reverse connection (docs/nat.md), the token of the
	 * request the NAT host answers; optional, "" when absent.
	 */
	char token[65];
};

struct eca_channel_client_hello {
	char host[ECA_HOST_MAX];
	enum eca_role role;
	char primary[ECA_HOST_MAX];
	enum eca_purpose purpose;
	int has_cert;
	/*
	 * "auto": does the caller enroll itself for this communication (its
	 * own rule, its own ECA_DISABLE_AUTO_ENROLLMENT)?  The server waits
	 * for the caller's enrollment in flight only then, and names the
	 * right remedy otherwise.  Optional on the wire: has_autoenroll says
	 * whether it was sent.
	 */
	int autoenroll;
	int has_autoenroll;
	int nat; /* "nat": NAT_CLIENT = YES; optional, absent is false */
};

struct eca_channel_verdict {
	int accept;
	int code; /* 0 or ECA_ERR_* (by name on the wire) */
	char message[ECA_ERR_MSG_MAX];
	char primary[ECA_HOST_MAX];
};

/*
 * Frame codec.  eca_channel_frame_need looks at the first len bytes of a
 * stream: 0 when a whole frame is there (*frame_len, may be NULL, gets its
 * length, header included), 1 when more bytes are needed,
 * ECA_ERR_PROTOCOL for an announced length of zero and ECA_ERR_TOO_LARGE
 * for one over ECA_FRAME_MAX.
 */
int eca_channel_frame_need(const unsigned char *buf, size_t len,
    size_t *frame_len);
/* Encode obj as one frame (caller frees *out). */
int eca_channel_frame_encode(const void *json_obj, unsigned char **out,
    size_t *len, struct eca_err *err) ECA_WUR;

/*
 * Message codecs: encode to a whole frame (caller frees), parse the JSON
 * payload of a frame (without its 4-byte header).  Parsers are total and
 * strict about types; unknown keys are ignored; ECA_ERR_PROTOCOL with a
 * sentence naming the field.
 */
int eca_channel_server_hello_encode(const struct eca_channel_server_hello *h,
    unsigned char **out, size_t *len, struct eca_err *err) ECA_WUR;
int eca_channel_server_hello_parse(const unsigned char *buf, size_t len,
    struct eca_channel_server_hello *out, struct eca_err *err) ECA_WUR;
int eca_channel_client_hello_encode(const struct eca_channel_client_hello *h,
    unsigned char **out, size_t *len, struct eca_err *err) ECA_WUR;
int eca_channel_client_hello_parse(const unsigned char *buf, size_t len,
    struct eca_channel_client_hello *out, struct eca_err *err) ECA_WUR;
int eca_channel_verdict_encode(const struct eca_channel_verdict *v,
    unsigned char **out, size_t *len, struct eca_err *err) ECA_WUR;
int eca_channel_verdict_parse(const unsigned char *buf, size_t len,
    struct eca_channel_verdict *out, struct eca_err *err) ECA_WUR;

/*
 * The shared primary: the first of mine (in my SERVER order) that theirs
 * also lists (in canonical form), a peer of role primary counting as
 * listing itself (it is a host of its own domain).  NULL if none.
 */
const char *eca_channel_shared_primary(const struct eca_config *mine,
    const struct eca_channel_server_hello *theirs);

struct eca_host; /* host.h */

/*
 * How the calling end reaches its peer (docs/nat.md, "Choosing a reverse
 * connection"): eca_channel_route.
 */
enum eca_channel_route {
	ECA_ROUTE_DIRECT,	       /* connect to it */
	ECA_ROUTE_REVERSE,	       /* have it call back (a NAT host) */
	ECA_ROUTE_DIRECT_THEN_REVERSE, /* ENABLE_DIRECT_CONNECTION */
};

/*
 * The rule: a NAT host (cfg's NAT_CLIENT) or a host without a SERVER
 * connects directly; a peer the roster flags as a NAT host (peer_nat) is
 * reached in reverse; any other peer directly, or directly first and then
 * in reverse with ENABLE_DIRECT_CONNECTION = TRUE.
 */
enum eca_channel_route eca_channel_route(const struct eca_config *cfg,
    int peer_nat);
/* "direct", "reverse", "direct-then-reverse". */
const char *eca_channel_route_name(enum eca_channel_route r);
struct eca_host;
/*
 * Does the roster of h's first SERVER flag peer as a NAT host?  A peer
 * missing from it, or a stale roster, costs one sync first; 0 when it
 * cannot tell.
 */
int eca_channel_peer_is_nat(struct eca_host *h, const char *peer);

/* What `eca ping` reports, step by step (microseconds; -1 not reached). */
struct eca_channel_steps {
	char address[ECA_HOST_MAX + 8]; /* host:port connected to */
	enum eca_channel_route route;	/* how it was reached */
	/* A reverse connection's two parts (tcp_us holds both). */
	int64_t request_us;  /* the request to the primary, answered */
	int64_t callback_us; /* then the NAT host's call back */
	/* DIRECT_THEN_REVERSE: the direct try failed, then reverse. */
	int fell_back;
	int64_t direct_us; /* how long the direct try took */
	char direct_error[ECA_ERR_MSG_MAX];
	int64_t resolve_us;
	int64_t tcp_us;
	int64_t tls_us;
	int64_t identity_us;	 /* server HELLO + peer check */
	int64_t enroll_check_us; /* roster lookup, refresh included */
	int64_t autoenroll_us;	 /* -1 if no auto-enrollment happened */
	int autoenrolled;
	char tls_version[16];
	char cipher[64];
	char primary[ECA_HOST_MAX];
	struct eca_certinfo peer;
	int64_t total_us;
};

struct eca_channel;

/*
 * Open a channel to host peer (address from PEER entries, else DNS with the
 * peer listener's default port) for purpose.  On success *out is the
 * caller's.  On refusal returns the reason code (by either side) with err
 * naming who refused, why, and the remedy; steps (may be NULL) is filled
 * as far as it got.  timeout_ms bounds each step.
 */
int eca_channel_open(struct eca_host *h, const char *peer,
    enum eca_purpose purpose, long timeout_ms, struct eca_channel **out,
    struct eca_channel_steps *steps, struct eca_err *err) ECA_WUR;
/*
 * The same at port (digits; NULL or "": PEER's port, else the default)
 * instead of the one PEER entries or the default give.
 */
int eca_channel_open_port(struct eca_host *h, const char *peer,
    const char *port, enum eca_purpose purpose, long timeout_ms,
    struct eca_channel **out, struct eca_channel_steps *steps,
    struct eca_err *err) ECA_WUR;
/*
 * The same, through a reverse connection (docs/nat.md): peer is a NAT
 * host, which this host's first SERVER asks over its broker session to
 * call back; NAT_HOST_OFFLINE at once when it has no session.
 */
int eca_channel_open_reverse(struct eca_host *h, const char *peer,
    enum eca_purpose purpose, long timeout_ms, struct eca_channel **out,
    struct eca_channel_steps *steps, struct eca_err *err) ECA_WUR;
void eca_channel_close(struct eca_channel *ch);
/*
 * The channel's TLS connection, for a caller that reads it itself: what
 * the set-up read ahead may already wait in its buffer (SSL_has_pending)
 * while the socket has nothing, so poll() the socket only after SSL_read
 * asked for more.
 */
SSL *eca_channel_ssl(struct eca_channel *ch);
/* Send one frame / receive one frame (payload into buf, at most cap). */
int eca_channel_send_frame(struct eca_channel *ch, const unsigned char *frame,
    size_t len, struct eca_err *err) ECA_WUR;
int eca_channel_recv_frame(struct eca_channel *ch, unsigned char *buf,
    size_t cap, size_t *len, struct eca_err *err) ECA_WUR;
/* PING service: send payload, expect it echoed. */
int eca_channel_ping(struct eca_channel *ch, struct eca_err *err) ECA_WUR;
/* Bulk service: send n bytes / receive n bytes. */
int eca_channel_bulk_send(struct eca_channel *ch, int64_t n,
    struct eca_err *err) ECA_WUR;
int eca_channel_bulk_receive(struct eca_channel *ch, int64_t n,
    struct eca_err *err) ECA_WUR;

#endif
