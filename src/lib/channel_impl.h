/* SPDX-License-Identifier: ISC */
/*
 * channel_impl.h - what the files of the channel module share (channel.h):
 * channel_codec.c (frames and messages), channel_io.c (sockets, TLS and
 * deadlines) and channel.c (opening a channel, the services' client
 * side).  Private to them: nothing else includes it.
 */
#ifndef ECA_CHANNEL_IMPL_H
#define ECA_CHANNEL_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/ssl.h>

#include "channel.h"

#define ECA_CHANNEL_FRAME_HDR 4 /* a frame's length, big-endian */
#define ECA_CHANNEL_SHOW_MAX 48 /* peer text quoted in a message */

struct eca_channel {
	SSL *ssl;
	int fd;
	long timeout_ms; /* each step's deadline */
	enum eca_purpose purpose;
	char peer[ECA_HOST_MAX]; /* canonical */
	char port[8];		 /* "" or the port that overrides PEER's */
	/* A reverse connection's token, its server HELLO must name it. */
	char token[65];
	/* The primary's relay port, as it said ("": BROKER_LISTEN's). */
	char relay_port[8];
};

/*
 * channel_reverse.c: instead of connecting, have ch->peer (a NAT host)
 * call this host back through the first SERVER's broker; ch->fd and
 * ch->token on success.
 */
struct eca_host;
int eca_channel_reverse_connect(struct eca_channel *ch, struct eca_host *h,
    struct eca_channel_steps *steps, struct eca_err *err);
/*
 * channel_relay.c: meet ch->peer (a NAT host, this host being one too) at
 * the relay of primary ep, with ch->token: ch->fd once both are there.
 */
struct eca_endpoint;
int eca_channel_relay_connect(struct eca_channel *ch, struct eca_host *h,
    const struct eca_endpoint *ep, struct eca_channel_steps *steps,
    struct eca_err *err);
/*
 * Its two halves: connect to the relay and name the request (*fd, and
 * where: "HOST:PORT"), then read the relay's answer on fd: 0 once the NAT
 * host is there too, else the refusal or the failure.
 */
int eca_channel_relay_open(struct eca_channel *ch, struct eca_host *h,
    const struct eca_endpoint *ep, int64_t deadline, int *fd, char *where,
    size_t wlen, struct eca_err *err);
int eca_channel_relay_answer(struct eca_channel *ch, int fd, const char *where,
    int64_t deadline, struct eca_err *err);

/*
 * channel_route.c: connect ch by route (a direct connection, a reverse
 * one, or the first then the second when the first cannot be made).
 */
int eca_channel_connect_route(struct eca_channel *ch, struct eca_host *h,
    enum eca_channel_route route, struct eca_channel_steps *steps,
    struct eca_err *err);

/* channel_codec.c */

/* Put "prefix: " in front of err's message, keeping its code. */
int eca_channel_err_prefix(struct eca_err *err, int code, const char *fmt, ...)
    ECA_PRINTF(3, 4);
/* Frame j (consumed; NULL is out of memory) into *out (caller frees). */
int eca_channel_frame_json(json_t *j, unsigned char **out, size_t *len,
    struct eca_err *err);
/*
 * The JSON object in buf (a frame's payload) into *out (caller's), or
 * ECA_ERR_PROTOCOL naming what (\"server HELLO\") it should have been.
 */
int eca_channel_load_object(const unsigned char *buf, size_t len,
    const char *what, json_t **out, struct eca_err *err);

/*
 * channel_io.c: blocking I/O on the channel's non-blocking socket, each
 * call bounded by a deadline (CLOCK_MONOTONIC microseconds).  what is a
 * phrase for messages ("reading its VERDICT").
 */

/* The deadline timeout_ms from now. */
int64_t eca_channel_deadline(long timeout_ms);
int eca_channel_read_full(struct eca_channel *ch, unsigned char *buf, size_t n,
    int64_t deadline, const char *what, struct eca_err *err);
int eca_channel_write_full(struct eca_channel *ch, const unsigned char *buf,
    size_t n, int64_t deadline, const char *what, struct eca_err *err);
/* One frame's payload into buf (cap bytes), within one timeout. */
int eca_channel_read_frame(struct eca_channel *ch, unsigned char *buf,
    size_t cap, size_t *len, const char *what, struct eca_err *err);
/* Send j (consumed) as one frame. */
int eca_channel_send_json(struct eca_channel *ch, json_t *j, const char *what,
    struct eca_err *err);
/*
 * Receive a frame that must be a JSON object (*out, caller's); an error
 * object ({"error":{...}}) is returned as its code.
 */
int eca_channel_recv_json(struct eca_channel *ch, const char *what,
    json_t **out, struct eca_err *err);
/*
 * Connect ch->fd to ch->peer (its PEER entry, else DNS and the default
 * peer port), then TLS on it with ctx; each fills its steps.
 */
int eca_channel_tcp_connect(struct eca_channel *ch,
    const struct eca_config *cfg, struct eca_channel_steps *steps,
    struct eca_err *err);
int eca_channel_tls_connect(struct eca_channel *ch, SSL_CTX *ctx,
    struct eca_channel_steps *steps, struct eca_err *err);

#endif
