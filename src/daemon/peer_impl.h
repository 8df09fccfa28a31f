/* SPDX-License-Identifier: ISC */
/*
 * peer_impl.h - what the peer listener's files share (ecad.h has what the
 * rest of ecad sees: peer_bind, peer_start, ...).  Private to:
 *   peer.c        the listener's I/O threads: accept, TLS, the HELLOs,
 *                 each connection's life; binding, starting, stopping
 *   peer_judge.c  the judging glue: the judges' queue and threads, parking
 *                 a judgment until a roster sync, the sync thread, and the
 *                 verdict's return to its I/O thread
 *   peer_serve.c  the services of an accepted channel: echo and bulk
 *   peer_enroll.c remote enrollment, asked by this host's primary
 *
 * A connection belongs to its I/O thread (its list) from accept to free.
 * While a judge has it (PS_JUDGING), the I/O thread never frees it: a peer
 * that goes away then only closes the socket, and the verdict's callback
 * frees what is left.
 */
#ifndef ECAD_PEER_IMPL_H
#define ECAD_PEER_IMPL_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>
#include <openssl/x509.h>

#include "broker.h"
#include "channel.h"
#include "ecad.h"
#include "host.h"

#define PEER_IO_MAX 16 /* I/O threads when WORKERS is 0: one per core */
#define PEER_JUDGES 16 /* judge threads */
#define PEER_READ_MAX (256 * 1024) /* input buffered per connection */
#define PEER_OUT_HIGH (256 * 1024) /* output buffered per connection */
#define PEER_OUT_LOW (64 * 1024)   /* refill bulk output below this */
#define PEER_BULK_CHUNK (64 * 1024)
#define PEER_LINGER_SEC 2     /* after a refusal, wait for the peer's close */
#define PEER_PARK_TICK_MS 100 /* a parked judgment looks at the roster */
#define PEER_DIRECT_MAX 4096  /* a frame peer_send may write at once */

enum pstate {
	PS_TLS,	     /* TLS handshake */
	PS_HELLO,    /* server HELLO sent, waiting for the client's */
	PS_JUDGING,  /* queued to or held by a judge */
	PS_PARKED,   /* judgment waits for a roster sync (I/O thread's) */
	PS_SERVING,  /* accepted: frames of the purpose's service */
	PS_BULK_IN,  /* reading `remaining` raw bytes */
	PS_BULK_OUT, /* sending `remaining` raw bytes */
	PS_CLOSING,  /* last frame flushed; waiting for the peer to close */
};

struct peer_thread;

struct pconn {
	struct peer_thread *t;
	struct pconn *prev, *next; /* the thread's list */
	struct pconn *qnext;	   /* the judges' queue */
	struct bufferevent *bev;   /* NULL once closed */
	struct event *timer;	   /* handshake deadline, then linger */
	struct event *judged_ev;   /* the verdict is ready */
	enum pstate state;
	int dead;      /* closed while JUDGING */
	int echo;      /* PING/CONSOLE/CONTROL */
	int throttled; /* reading paused: output is full */
	int tls_done;  /* its TLS handshake completed (metrics) */
	char addr[INET6_ADDRSTRLEN + 8];
	/* Judge input (set by the I/O thread before queueing). */
	struct eca_channel_client_hello hello;
	X509 *leaf;
	STACK_OF(X509) *chain;
	int pre_code; /* refusal decided before judging */
	char pre_msg[ECA_ERR_MSG_MAX];
	/* Judge output. */
	struct eca_channel_verdict v;
	char fingerprint[ECA_FP_HEX_LEN + 1];
	/* Bulk. */
	int64_t remaining;
	int64_t total;
	/* Bounds (limits.c). */
	unsigned char src[ECAD_KEY_LEN]; /* source address */
	int src_counted;		 /* counted in p->srcmap */
	int in_handshake;		 /* holds a PEER_MAX_HANDSHAKES slot */
	/* Parking (set by the judge while it holds the connection). */
	int parked;		/* parked by the judge: no verdict */
	int resumed;		/* judged again after parking */
	int wait_enroll;	/* for the caller's enrollment */
	struct ecad_snap *snap; /* held while parked: dom lives in it */
	struct eca_domain *dom;
	int64_t park_synced; /* dom's finished syncs when parked */
	int64_t park_until;  /* CLOCK_MONOTONIC ms */
	unsigned char fpkey[ECAD_KEY_LEN]; /* the caller's fingerprint */
	int wait_src_taken;		   /* counted in p->waits_src */
	int wait_fp_taken;		   /* counted in p->waits_fp */
	/*
	 * What the verdict was reached with: the snapshot (trust store),
	 * the CRL cache's generation and the roster's version.  When one
	 * moves, the next frame is judged again first (rejudge).
	 */
	uint64_t gen_snap;
	uint64_t gen_crls;
	int64_t gen_roster;
	int rejudge; /* judging an accepted channel again */
	/* Remote enrollment: the answer's frame, sent after the VERDICT. */
	unsigned char *reply;
	size_t reply_len;
	/* A reverse connection (docs/nat.md, peer_reverse.c): "" otherwise. */
	char token[65];		      /* named in the server HELLO */
	char requester[ECA_HOST_MAX]; /* the only caller it accepts */
	enum eca_purpose purpose;     /* the only purpose it accepts */
	int64_t token_until_ms;	      /* CLOCK_MONOTONIC: the token expires */
};

struct peer_thread {
	struct ecad_peer *p;
	int id;
	pthread_t thread;
	int started;
	struct event_base *base;
	int fds[ECAD_MAX_LISTEN]; /* until handed to a listener */
	size_t nfds;
	struct evconnlistener *lis[ECAD_MAX_LISTEN];
	struct event *stop_ev;
	struct ecad_pace pace; /* its connections before their verdict */
	struct pconn *conns;
	struct peer_reverse *reverses;	/* connecting out (peer_reverse.c) */
	struct eca_broker_spent *spent; /* its tokens, thread 0 (ditto) */
	/*
	 * The thread's own server context, in a library context of its own
	 * (as each API worker's, ecad.h): built from the snapshot of
	 * generation ctx_gen when a caller first comes, again after a
	 * reload (peer.c, thread_ctx).
	 */
	struct eca_tls_libctx libctx;
	SSL_CTX *ctx;
	uint64_t ctx_gen;
	time_t cap_logged;
	time_t src_cap_logged;
	time_t hs_logged;
};

struct ecad_peer {
	struct ecad *d;
	struct peer_thread *threads;
	size_t nthreads;
	atomic_llong open;	       /* connections open now */
	atomic_llong handshakes;       /* accepted, no verdict sent yet */
	struct ecad_keymap *srcmap;    /* open connections per source */
	struct ecad_keymap *waits_src; /* parked judgments per source */
	struct ecad_keymap *waits_fp;  /* enrollment waits per certificate */

	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t work;  /* the queue has a connection */
	pthread_cond_t wake;  /* the sync thread: stop, or sync */
	struct pconn *qhead, *qtail;
	int stopping;
	int sync_wanted; /* a parked judgment needs a sync */
	pthread_t judges[PEER_JUDGES];
	size_t njudges;
	pthread_t sync_thread;
	int sync_started;
};

/*
 * peer.c: admitting a connection to thread t (the listener's bounds: 1,
 * or 0 refused), giving back what admit took, and setting up an admitted
 * socket (0, the connection first in t->conns; -1 out of memory, fd still
 * the caller's).
 */
int peer_admit(struct peer_thread *t, const struct sockaddr *sa,
    unsigned char src[ECAD_KEY_LEN], int *src_counted);
void peer_unadmit(struct ecad_peer *p, const unsigned char src[ECAD_KEY_LEN],
    int src_counted);
int peer_conn_new(struct peer_thread *t, evutil_socket_t fd,
    const struct sockaddr *sa, int salen, const unsigned char src[ECAD_KEY_LEN],
    int src_counted);

/*
 * peer_reverse.c: drop the reverse connections still connecting out, and
 * the tokens spent.
 */
void peer_reverse_drop(struct peer_thread *t);
/*
 * A reverse connection's client HELLO (pc->hello) against its request:
 * the requester, the purpose, the token's expiry.  0, or the refusal's
 * code with its message in msg.
 */
int peer_reverse_check(const struct pconn *pc, char *msg, size_t len);

/* peer.c: a connection's life on its I/O thread. */
void peer_conn_free(struct pconn *pc);
/* Read what its state expects (the HELLO, service frames). */
void peer_conn_read(struct pconn *pc);
/* Close once the last frame queued is out, lingering for the peer. */
void peer_conn_closing(struct pconn *pc);
/*
 * The first whole frame in pc's input: 0 with *flen (header included)
 * and the payload made contiguous at *payload; 1 if more bytes are
 * needed; else the frame's error.
 */
int peer_frame_peek(struct pconn *pc, unsigned char **payload, size_t *flen);
/* The verdict went out (or the connection is gone): free its slot. */
void peer_handshake_done(struct pconn *pc);

/* peer_judge.c: judging, on the judge threads and back. */
void peer_judge_submit(struct pconn *pc);
void *peer_judge_main(void *arg); /* a judge thread */
void *peer_sync_main(void *arg);  /* the sync thread */
/* The verdict is in: event callback on the connection's own thread. */
void peer_judged_cb(evutil_socket_t fd, short what, void *arg);
/* A parked judgment's timer tick (PEER_PARK_TICK_MS). */
void peer_park_tick(struct pconn *pc);
/* Give back what a parked judgment holds (idempotent). */
void peer_park_release(struct pconn *pc);
/* Has trust, the CRL cache or the roster moved since the verdict? */
int peer_verdict_stale(struct pconn *pc);

/*
 * peer_enroll.c: a remote enrollment asked by the accepted caller (a
 * judge thread, after an accepting verdict): the caller must be the
 * primary it names; the answer goes to pc->reply, a refusal to pc->v.
 */
void peer_remote_enroll(struct ecad_snap *s, struct eca_domain *dom,
    struct pconn *pc);

/* peer_serve.c: the services of an accepted channel. */
void peer_serve_echo(struct pconn *pc);
void peer_serve_bulk(struct pconn *pc);
/* Send more of a bulk "receive" while the output has room. */
void peer_bulk_fill(struct pconn *pc);
/* A service-level error frame, then close (logged). */
void peer_service_error(struct pconn *pc, int code, const char *fmt, ...)
    ECA_PRINTF(3, 4);
/* Write one frame for a JSON object (consumed). */
int peer_send_json(struct pconn *pc, json_t *obj);
/*
 * Send len bytes: at once with SSL_write when nothing is queued before
 * them, else (or when that does not send them) through the bufferevent,
 * with its write event on.  0, or -1 out of memory (the caller frees pc).
 */
int peer_send(struct pconn *pc, const void *buf, size_t len);

#endif
