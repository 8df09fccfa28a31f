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
 *                      server also lists; the client auto-enrolls with P
 *                      before sending this, if the rule allows)
 *   server -> client  VERDICT {"accept":bool,"code":NAME,"message":M,
 *                              "primary":P}
 *                     (the server auto-enrolls itself with P if needed and
 *                      allowed, then judges the client: roster of P,
 *                      refreshed once and waited for on a miss)
 *
 * The client judges the server against the same roster before it sends
 * anything after the server's HELLO, with one exception: a server that is
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
#define ECA_BULK_MAX ((int64_t)1 << 40)	/* largest bulk transfer asked */


struct eca_hello_server {
	char host[ECA_HOST_MAX];
	enum eca_role role;
	char primaries[ECA_MAX_SERVERS][ECA_HOST_MAX];
	size_t nprimaries;
	int has_cert;
};

struct eca_hello_client {
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
};

struct eca_chan_verdict {
	int accept;
	int code;			/* 0 or ECA_ERR_* (by name on the wire) */
	char message[ECA_ERR_MSG_MAX];
	char primary[ECA_HOST_MAX];
};

/*
 * Frame codec.  eca_frame_need: given the first len bytes of a stream,
 * 0 if a whole frame is there (*frame_len = its total length, header
 * included), ECA_ERR_PROTOCOL/"incomplete" never: returns 1 when more
 * bytes are needed, or ECA_ERR_TOO_LARGE if the announced length is over
 * ECA_FRAME_MAX or zero (ECA_ERR_PROTOCOL).
 */
int eca_frame_need(const unsigned char *buf, size_t len, size_t *frame_len);
/* Encode obj as one frame (caller frees *out). */
int eca_frame_encode_json(const void *json_obj, unsigned char **out,
    size_t *len, struct eca_err *err) ECA_WUR;

/*
 * Message codecs: encode to a whole frame (caller frees), parse the JSON
 * payload of a frame (without its 4-byte header).  Parsers are total and
 * strict about types; unknown keys are ignored; ECA_ERR_PROTOCOL with a
 * sentence naming the field.
 */
int eca_chan_encode_server_hello(const struct eca_hello_server *h,
    unsigned char **out, size_t *len, struct eca_err *err) ECA_WUR;
int eca_chan_parse_server_hello(const unsigned char *buf, size_t len,
    struct eca_hello_server *out, struct eca_err *err) ECA_WUR;
int eca_chan_encode_client_hello(const struct eca_hello_client *h,
    unsigned char **out, size_t *len, struct eca_err *err) ECA_WUR;
int eca_chan_parse_client_hello(const unsigned char *buf, size_t len,
    struct eca_hello_client *out, struct eca_err *err) ECA_WUR;
int eca_chan_encode_verdict(const struct eca_chan_verdict *v,
    unsigned char **out, size_t *len, struct eca_err *err) ECA_WUR;
int eca_chan_parse_verdict(const unsigned char *buf, size_t len,
    struct eca_chan_verdict *out, struct eca_err *err) ECA_WUR;

/*
 * The shared primary: the first of mine (in my SERVER order) that theirs
 * also lists (in canonical form), a peer of role primary counting as
 * listing itself (it is a host of its own domain).  NULL if none.
 */
const char *eca_chan_shared_primary(const struct eca_config *mine,
    const struct eca_hello_server *theirs);

struct eca_host;	/* host.h */

/* What `eca ping` reports, step by step (microseconds; -1 not reached). */
struct eca_chan_steps {
	char address[ECA_HOST_MAX + 8];	/* host:port connected to */
	int64_t resolve_us;
	int64_t tcp_us;
	int64_t tls_us;
	int64_t identity_us;		/* server HELLO + peer check */
	int64_t enroll_check_us;	/* roster lookup, refresh included */
	int64_t autoenroll_us;		/* -1 if no auto-enrollment happened */
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
    struct eca_chan_steps *steps, struct eca_err *err) ECA_WUR;
void eca_channel_close(struct eca_channel *ch);
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
