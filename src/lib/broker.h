/* SPDX-License-Identifier: ISC */
/*
 * broker.h - the broker session between a NAT host and its primary
 * (docs/nat.md): its messages, the reconnect backoff, and the session's
 * state as the NAT host's ecad records it in STATE_DIR for `eca status`.
 *
 * The session is a mutual-TLS connection from the NAT host to the
 * primary's BROKER_LISTEN carrying frames as channels do (a 4-byte
 * big-endian length, then one JSON object; eca_channel_frame_need):
 *
 *   NAT host -> broker  {"op":"register","v":1,"host":H,"role":R,
 *                        "nat":true,"heartbeat":S}
 *   broker -> NAT host  {"op":"registered","v":1}
 *                     | {"op":"refused","v":1,"code":NAME,"message":M}
 *   NAT host -> broker  {"op":"ping"}       every S seconds
 *   broker -> NAT host  {"op":"pong"}
 *   broker -> NAT host  {"op":"connect","v":1,"token":T,"requester":X,
 *                        "address":"IP:PORT","purpose":U,"ttl":S
 *                        [,"relay":true]}
 *                       (a reverse connection: call X back at IP:PORT, or
 *                       with "relay", meet X at the primary's relay (the
 *                       broker's address), within S seconds; name T in
 *                       the channel's server HELLO; only X, for U)
 *   broker -> NAT host  {"op":"enroll","v":1,"id":N}
 *                       (remote enrollment, `eca enroll --remote-host`:
 *                       enroll with this primary as `eca enroll` does)
 *   NAT host -> broker  {"op":"enrolled","v":1,"id":N,"answer":A}
 *                       (A: {"outcome","precheck","enrollment"} or
 *                       {"error":{...}}, as a channel's answer)
 *
 * A relayed channel (both ends behind NAT) starts with one frame each way
 * on a plain TCP connection to the broker's address, then carries the
 * channel's TLS bytes untouched:
 *
 *   X or N -> relay    {"op":"relay","v":1,"side":"caller"|"callee",
 *                       "token":T,"requester":X,"host":N,"purpose":U}
 *   relay -> X or N    {"op":"relayed","v":1} (both ends are there)
 *                    | {"op":"refused","v":1,"code":NAME,"message":M}
 *
 * Unknown keys are ignored (a newer side may add some); a wrong type or a
 * missing key is ECA_ERR_PROTOCOL naming the field.
 */
#ifndef ECA_BROKER_H
#define ECA_BROKER_H

#include <stddef.h>
#include <stdint.h>

#include "certinfo.h"
#include "config.h"
#include "err.h"
#include "purpose.h"

#define ECA_BROKER_VERSION 1
/* Heartbeats missed before either side calls the session dead. */
#define ECA_BROKER_MISSES 3
/* Reconnect backoff: the first wait, and its cap (milliseconds). */
#define ECA_BROKER_BACKOFF_MIN_MS 1000
#define ECA_BROKER_BACKOFF_MAX_MS 60000

enum eca_broker_op {
	ECA_BROKER_REGISTER,
	ECA_BROKER_REGISTERED,
	ECA_BROKER_REFUSED,
	ECA_BROKER_PING,
	ECA_BROKER_PONG,
	ECA_BROKER_CONNECT,
	ECA_BROKER_ENROLL,
	ECA_BROKER_ENROLLED,
	ECA_BROKER_RELAY,
	ECA_BROKER_RELAYED,
};

/* The two ends of a relayed channel. */
enum eca_broker_side {
	ECA_BROKER_CALLER, /* X, the requester: the channel's caller */
	ECA_BROKER_CALLEE, /* N, the NAT host asked for */
};

/* The largest remote enrollment id (it fits a JSON number exactly). */
#define ECA_BROKER_ID_MAX ((int64_t)1 << 53)

/* A reverse connection's token: 32 random bytes, in lower-case hex. */
#define ECA_BROKER_TOKEN_LEN 64

struct eca_broker_msg {
	enum eca_broker_op op;
	/* REGISTER */
	char host[ECA_HOST_MAX]; /* canonical */
	enum eca_role role;
	int nat;
	int heartbeat; /* seconds, 1..3600 */
	/* REFUSED */
	int code; /* ECA_ERR_*, by name on the wire */
	char message[ECA_ERR_MSG_MAX];
	/* CONNECT */
	char token[ECA_BROKER_TOKEN_LEN + 1];
	char requester[ECA_HOST_MAX]; /* canonical */
	char address[300]; /* a.b.c.d:port, [v6]:port; the relay: host:port */
	enum eca_purpose purpose;
	int ttl;   /* seconds the token is good for, 1..600; 0 unsaid */
	int relay; /* meet the requester at the primary's relay */
	/* Not on the wire: the broker's address, filled in by the NAT host. */
	char broker[300];
	/* RELAY (and CONNECT's token, requester, purpose; host: N) */
	enum eca_broker_side side;
	/* ENROLL, ENROLLED: the request's id, 1..ECA_BROKER_ID_MAX */
	int64_t id;
	/* ENROLLED: the answer, a JSON object's text (eca_broker_msg_clear) */
	char *answer;
};

/* Free what m owns (the answer); m is then empty. */
void eca_broker_msg_clear(struct eca_broker_msg *m);

/* m as one frame into *out (caller frees): 0 or an error. */
int eca_broker_encode(const struct eca_broker_msg *m, unsigned char **out,
    size_t *len, struct eca_err *err) ECA_WUR;
/* A frame's payload (len bytes) into *out: 0 or ECA_ERR_PROTOCOL. */
int eca_broker_parse(const unsigned char *buf, size_t len,
    struct eca_broker_msg *out, struct eca_err *err) ECA_WUR;

/* 1 if s is a token: ECA_BROKER_TOKEN_LEN lower-case hex digits. */
int eca_broker_token_valid(const char *s);

/*
 * The wait before reconnect attempt number attempt (1, 2, ...) with rnd
 * a random number: exponential from ECA_BROKER_BACKOFF_MIN_MS, doubled
 * each attempt up to ECA_BROKER_BACKOFF_MAX_MS, then "full jitter" in its
 * upper half (between half the step and the step), so that NAT hosts cut
 * off together do not come back together.
 */
int64_t eca_broker_backoff_ms(unsigned attempt, uint32_t rnd);

/* A NAT host's session with one primary, as STATE_DIR records it. */
struct eca_broker_state {
	char primary[ECA_HOST_MAX];
	char address[300];	/* host:port of the broker */
	int online;		/* registered, heartbeats answered */
	int64_t since;		/* unix seconds: registered (online) */
	int64_t last_heartbeat; /* unix seconds: the last pong, 0 none */
	int code;		/* the last failure, 0 none */
	char error[ECA_ERR_MSG_MAX];
	int64_t next_retry; /* unix seconds, offline only, 0 none */
	int64_t updated;    /* unix seconds: when this was written */
};

/* STATE_DIR/broker-PRIMARY.json: 0 or ECA_ERR_CONFIG. */
int eca_broker_state_path(const char *state_dir, const char *primary, char *buf,
    size_t len, struct eca_err *err) ECA_WUR;
/* Replace the file atomically (mode 0644: `eca status` reads it). */
int eca_broker_state_save(const char *state_dir,
    const struct eca_broker_state *st, struct eca_err *err) ECA_WUR;
/* Read it: 0, ECA_ERR_NOT_FOUND (no file yet), or another error. */
int eca_broker_state_load(const char *state_dir, const char *primary,
    struct eca_broker_state *st, struct eca_err *err) ECA_WUR;

#endif
