/* SPDX-License-Identifier: ISC */
/*
 * broker_impl.h - what the primary's broker files share (ecad.h has what
 * the rest of ecad sees: broker_bind, broker_request, ...).  Private to:
 *   broker_serve.c    the broker itself: binding BROKER_LISTEN, accepting,
 *                     its threads, the table of NAT hosts it knows and
 *                     what it shows of them (stats, metrics, eca list)
 *   broker_session.c  one NAT host's session: TLS, the registration and
 *                     its judging, heartbeats, dead-peer detection, and
 *                     handing a message to a session (broker_post)
 *   broker_request.c  reverse connection requests: the requester's rate,
 *                     the token, the connect message
 *   broker_enroll.c   remote enrollment forwarded through a session
 *   relay.c           the relay between two NAT hosts, on the broker's
 *                     address: tokens checked, ends paired, bytes copied
 *
 * A session belongs to the I/O thread from accept to free; the judge
 * thread holds it only while it is BS_JUDGING.  The table, the counters,
 * the judge's queue and the remote enrollment are under b->lock.
 */
#ifndef ECAD_BROKER_IMPL_H
#define ECAD_BROKER_IMPL_H

#include <netdb.h>
#include <pthread.h>
#include <stdint.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/x509.h>

#include "broker.h"
#include "broker_token.h"
#include "ecad.h"

#define BROKER_READ_MAX (64 * 1024)
/* "[numeric IPv6%scope]:port", a session's address (sess_addr). */
#define BROKER_ADDR_MAX 80

enum bstate { BS_TLS, BS_REGISTER, BS_JUDGING, BS_ONLINE, BS_CLOSING };

struct bentry; /* a NAT host the broker knows */

struct bsess {
	struct ecad_broker *b;
	struct bsess *prev, *next; /* b->conns */
	struct bsess *qnext;	   /* the judge's queue */
	struct bufferevent *bev;   /* NULL once closed */
	struct event *timer;	   /* registration deadline, then heartbeats */
	struct event *judged_ev;
	enum bstate state;
	int dead; /* closed while judging */
	char addr[BROKER_ADDR_MAX];
	/* The registration: what is kept of it once judged. */
	char host[ECA_HOST_MAX];
	enum eca_role role;
	int heartbeat; /* seconds */
	/* Until judged (freed then: an idle session holds only its TLS). */
	X509 *leaf;
	STACK_OF(X509) *chain;
	int code;	 /* the verdict, 0 accepted */
	char *msg;	 /* its message (NULL when there is none) */
	int64_t last_ms; /* the last frame from the host (monotonic) */
	struct bentry *entry;
	int restricted; /* not enrolled: remote enrollment only */
	int mark_nat;	/* accepted, and the roster lacks its NAT flag */
};

/*
 * A requester's reverse connection requests in the current second: at
 * most BROKER_RATE_MAX; BROKER_RATE_SLOTS requesters are tracked, the
 * stalest slot going to a new one.
 */
#define BROKER_RATE_MAX 20
#define BROKER_RATE_SLOTS 256
struct brate {
	char host[ECA_HOST_MAX];
	int64_t second;
	int count;
};

struct bentry {
	char host[ECA_HOST_MAX];
	struct bsess *sess; /* NULL: offline */
	int64_t since;	    /* unix seconds */
	int64_t last_heartbeat;
	char addr[BROKER_ADDR_MAX];
	int restricted; /* its session is restricted */
};

/* The remote enrollment waiting for a NAT host's answer (under lock). */
struct benroll {
	int64_t id; /* 0: none waiting */
	char host[ECA_HOST_MAX];
	int done;
	int code;
	char msg[ECA_ERR_MSG_MAX];
	char *answer;
};

struct ecad_broker {
	struct ecad *d;
	struct event_base *base;
	int fds[ECAD_MAX_LISTEN];
	size_t nfds;
	struct evconnlistener *lis[ECAD_MAX_LISTEN];
	struct event *stop_ev;
	struct bsess *conns;
	size_t nconns;
	pthread_t thread, judge;
	int started, judge_started;
	pthread_mutex_t lock; /* the queue, stopping and the table */
	pthread_cond_t work;
	struct bsess *qhead, *qtail;
	int stopping;
	struct bentry *tab;
	size_t ntab, cap;
	/* tab's index by host: open addressing, 0 empty, else index + 1. */
	uint32_t *idx;
	size_t idx_cap; /* a power of two, at least twice ntab */
	/* Counters for GET /v1/stats (under lock). */
	uint64_t n_connections; /* accepted */
	uint64_t n_registered;	/* registrations accepted */
	uint64_t n_refused;	/* refusals sent */
	uint64_t n_dead;	/* sessions closed after missed heartbeats */
	uint64_t n_online;	/* NAT hosts online now */
	uint64_t n_requests;	/* reverse connection requests sent */
	uint64_t n_offline;	/* ... refused: the NAT host is offline */
	uint64_t n_limited;	/* ... refused: the requester's rate */
	uint64_t n_restricted;	/* ... refused: a restricted session */
	uint64_t n_restricted_online; /* restricted sessions now */
	/* Remote enrollment through a session (one at a time). */
	pthread_cond_t enrolled;
	struct benroll enroll;
	int64_t enroll_last_id;
	/* Reverse connection requests per requester (rate limit). */
	struct brate rates[BROKER_RATE_SLOTS];
	/* The key of its tokens (random, this run only; broker_token.h). */
	unsigned char token_key[ECA_BROKER_TOKEN_KEY_LEN];
	/* The relay (relay.c; I/O thread, the counters under lock). */
	struct relay_conn *relays; /* sniffing, requesting, waiting, paired */
	size_t nrelays;
	struct eca_broker_spent *relay_spent;
	uint64_t n_relays;	  /* pairs made */
	uint64_t n_relay_open;	  /* pairs copying now */
	uint64_t n_relay_refused; /* requests refused */
	uint64_t n_relay_budget;  /* pairs closed by the byte or time budget */
	uint64_t relay_bytes;	  /* copied, both ways, by closed pairs */
};

/* A message for a NAT host's session, handed to the I/O thread. */
struct broker_post {
	struct ecad_broker *b;
	struct eca_broker_msg m;
};

/* broker_serve.c */
/* Add delta to *counter under b->lock (any thread). */
void broker_count(struct ecad_broker *b, uint64_t *counter, int delta);
/* host's entry, or NULL; under b->lock. */
struct bentry *broker_entry_find(struct ecad_broker *b, const char *host);
/* host's entry, added if new; NULL out of memory; under b->lock. */
struct bentry *broker_entry_get(struct ecad_broker *b, const char *host);

/* broker_session.c (I/O thread, but broker_judge_main and broker_post) */
/* fd's session; -1 (fd still the caller's) when it cannot be set up. */
int broker_sess_new(struct ecad_broker *b, evutil_socket_t fd,
    const struct sockaddr *sa, int salen);
void broker_sess_free(struct bsess *s);
/* Send m; -1 if it could not be queued (the session is then freed). */
int broker_sess_send(struct bsess *s, const struct eca_broker_msg *m);
/* The judge thread's loop (arg: the broker). */
void *broker_judge_main(void *arg);
/*
 * Any thread: send m to NAT host m->host's session, if it is online when
 * the I/O thread gets to it (0, or an error: nothing was queued).  A
 * remote enrollment whose session is gone fails at once
 * (broker_enroll_gone); a reverse connection's requester times out.
 */
int broker_post(struct ecad_broker *b, const struct eca_broker_msg *m,
    struct eca_err *err) ECA_WUR;

/* relay.c (I/O thread) */
/*
 * A connection accepted on BROKER_LISTEN: a broker session when its first
 * byte is a TLS record (broker_sess_new), else a relay request.  0, or -1
 * (fd still the caller's).
 */
int broker_accept(struct ecad_broker *b, evutil_socket_t fd,
    const struct sockaddr *sa, int salen);
/* Close every relay connection (the broker is stopping). */
void broker_relay_drop(struct ecad_broker *b);

/* broker_enroll.c */
/* host's session closed: a remote enrollment waiting on it fails.  Lock. */
void broker_enroll_gone(struct ecad_broker *b, const char *host);
/*
 * The NAT host's answer to a remote enrollment (m's answer taken): 0, or
 * -1 when a restricted session was closed to be judged again.
 */
int broker_on_enrolled(struct bsess *s, struct eca_broker_msg *m);

#endif
