/* SPDX-License-Identifier: ISC */
/*
 * ecad.h - the daemon's shared state and the seams between its files:
 *
 *   ecad.c       main, options, start-up phases, signals (with ecad_log.c,
 *                ecad_snap.c and ecad_proc.c: ecad_impl.h)
 *   server.c     worker threads, the API's TLS listeners
 *   listen.c     the one resolve-and-bind loop, sockets with ecad's options
 *   limits.c     the bounds both listeners share
 *   api.c        the /v1 API (with api_*.c: api_impl.h, api_routes.h)
 *   apiparse.c   route patterns and query strings of the API
 *   writer.c     the group-commit writer thread
 *   hosthint.c   which host names a SQLite registry holds (a hint)
 *   control.c    the control socket
 *   refusals.c   strangers' refusals, counted and journaled as summaries
 *   remote.c     remote enrollment: asking a host's ecad to enroll
 *   peer.c       the peer listener (with peer_judge.c: judges, parking,
 *                the roster sync; peer_serve.c: services; peer_impl.h)
 *   crlsync.c    the CRL refresh thread
 *
 * There is one struct ecad, created by main() and passed explicitly; no
 * file reaches it through a global.
 */
#ifndef ECAD_H
#define ECAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <event2/event.h>
#include <event2/http.h>
#include <openssl/ssl.h>

#include "config.h"
#include "purpose.h"
#include "enroll.h"
#include "err.h"
#include "metrics.h"
#include "store.h"
#include "tls.h"
#include "x509.h"

#define ECAD_MAX_LISTEN 8     /* addresses API_LISTEN resolves to */
#define ECAD_WRITER_BATCH 256 /* most ops in one group commit */
#define ECAD_STOP_GRACE_SEC 5 /* bound on finishing in-flight work */
#define ECAD_HEADERS_MAX 8192
#define ECAD_KEY_LEN 32 /* a keymap's key (limits.c) */
/*
 * Largest TLS certificate message accepted from a client: room for
 * ECA_CHAIN_MAX + 1 certificates with big RSA keys and many names, far
 * below what would let a client make every worker buffer megabytes.
 */
#define ECAD_CERT_LIST_MAX (64 * 1024)
/*
 * libevent reads bodies up to this size, so that api.c can refuse those
 * over ECA_BODY_MAX with a JSON 413 TOO_LARGE; beyond it libevent answers
 * a bare 413 itself without reading the body.
 */
#define ECAD_HTTP_BODY_MAX (4 * ECA_BODY_MAX)
/*
 * Methods evhttp hands to the router: the API uses GET, POST and DELETE;
 * PUT and PATCH are let through only to get a JSON 405 from the router.
 */
#define ECAD_HTTP_METHODS                                                      \
	(EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE |                \
	    EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH)

struct eca_host;

/*
 * What SIGHUP replaces: the configuration (admin list, identity rule,
 * policy), the credentials and the server SSL_CTX built from them.
 * Refcounted: a request holds a reference while it runs, so a reload never
 * frees what a worker is using.  Taken and replaced under ecad.snap_lock.
 */
struct ecad_snap {
	atomic_int refs;
	/*
	 * Grows with every snapshot (ecad_snap.c): a verdict remembered on a
	 * connection remembers the trust store it was reached with by this
	 * number, with the CRL cache's generation and (channels) the
	 * roster's version, and is judged again when one of them moves.
	 */
	uint64_t gen;
	struct eca_config *cfg;
	struct eca_cred *cred;
	/*
	 * The API's server context, one per worker in that worker's library
	 * context (ecad.libctx): worker i serves with api_ctx[i], presenting
	 * api_cred[i], cred decoded again in its context.  The console's
	 * fallback too.
	 */
	SSL_CTX **api_ctx;
	struct eca_cred **api_cred;
	size_t napi;
	/* API callers' chains that verified against cred->trust (vcache.h). */
	struct eca_vcache *vcache;
	/*
	 * The peer listener's (peer.c): its own server context (no API
	 * callbacks) and this host's domains, built from cfg (which they
	 * borrow).  Rebuilt with the rest on SIGHUP; the rosters and the
	 * enrollment state live in STATE_DIR, so nothing is lost.
	 */
	SSL_CTX *peer_ctx;
	struct eca_host *host;
	/*
	 * The web console's server context (console.c): its own certificate
	 * (CONSOLE_CERT_PATH) with cred's trust store; NULL: ctx serves it.
	 */
	struct eca_cred *console_cred;
	SSL_CTX *console_ctx;
};

/* Counters shown by GET /v1/stats. */
struct ecad_stats {
	atomic_ullong requests;
	atomic_ullong written;	   /* ops that wrote (incl. CONFLICT) */
	atomic_ullong commits;	   /* durable group commits */
	atomic_ullong refusals;	   /* error replies */
	atomic_ullong connections; /* TLS connections accepted */
	atomic_llong open;	   /* TLS connections open now */
	atomic_ullong busy;	   /* 429 BUSY replies (storm control) */
	/*
	 * Admitted TLS handshakes in progress: from accept() until the
	 * connection's first request is read, or it closes (storm control,
	 * MAX_HANDSHAKES; see docs/storm-control.md).
	 */
	atomic_llong handshakes;
	/* Primary: POST /v1/enrollments and GET /v1/roster received. */
	atomic_ullong enroll_requests;
	atomic_ullong roster_requests;
};

struct ecad_writer;
struct ecad_peer;
struct ecad_broker;
struct ecad_nat;

/*
 * listen.c: the pace of the threads that accept from one socket.
 * libevent's listener takes every connection waiting, so the thread woken
 * first by a burst (the callers of one group commit coming back at once)
 * would take it whole while another, busy a moment longer, got none.  So
 * a thread with more connections in progress than a sibling stops after
 * each connection it takes: its listeners pause and resume once the
 * callbacks already due have run (the base's changelist makes the pair
 * one epoll_ctl, a MOD), and a connection still waiting is seen at the
 * next epoll_wait by whichever thread asks first.  Threads evenly loaded
 * (a steady crowd) take what is waiting in one turn: pausing always cost
 * a turn of the loop per connection (bench/README.md, round 16).
 *
 * Each thread has one, its siblings linked in a ring by ecad_pace_init
 * (next: the following sibling, the first for the last; a thread alone
 * is its own next).  The listeners are the thread's own, watched here,
 * not owned.  ecad_pace_took runs on the thread's loop after it
 * took a connection; ecad_pace_load counts one in (+1) or out (-1) from
 * any thread; ecad_pace_forget before the listeners are freed.
 */
struct evconnlistener;
struct ecad_pace {
	atomic_int load;	/* its connections in progress */
	struct ecad_pace *next; /* the next sibling, around to this one */
	struct evconnlistener *lis[ECAD_MAX_LISTEN];
	size_t nlis;
	struct event *resume_ev;
};
void ecad_pace_init(struct ecad_pace *pc, struct ecad_pace *next);
int ecad_pace_start(struct ecad_pace *pc, struct event_base *base) ECA_WUR;
void ecad_pace_watch(struct ecad_pace *pc, struct evconnlistener *lis);
void ecad_pace_took(struct ecad_pace *pc);
void ecad_pace_load(struct ecad_pace *pc, int delta);
void ecad_pace_forget(struct ecad_pace *pc);
void ecad_pace_clear(struct ecad_pace *pc);

/* One worker thread: its own event base, HTTP server and read connection. */
struct ecad_worker {
	struct ecad *d;
	int id;
	pthread_t thread;
	int started;
	struct event_base *base;
	struct evhttp *http;
	int fds[ECAD_MAX_LISTEN]; /* listening sockets, until handed */
	struct evhttp_bound_socket *bound[ECAD_MAX_LISTEN];
	struct ecad_pace pace; /* its admitted handshakes in progress */
	size_t nfds;
	struct evhttp *ctl_http; /* control socket (worker 0 only) */
	struct evhttp_bound_socket *ctl_bound;
	struct evhttp *con_http; /* the web console (worker 0 only) */
	struct evhttp_bound_socket *con_bound[ECAD_MAX_LISTEN];
	struct eca_store *rd;  /* read-only registry connection */
	struct event *stop_ev; /* activated by main on shutdown */
	struct event *tick_ev; /* shutdown progress timer */
	int stopping;
	time_t deadline;
	int conns;		  /* TLS connections open (own thread) */
	int inflight;		  /* requests waiting for the writer */
	time_t cap_logged;	  /* last "over MAX_CONNECTIONS" line */
	time_t src_cap_logged;	  /* last "over ..._PER_SOURCE" line */
	time_t deadline_logged;	  /* last "no complete request" line */
	time_t hs_logged;	  /* last "over MAX_HANDSHAKES" line */
	struct event *refusal_ev; /* worker 0: refusals_flush timer */
};

struct ecad {
	/* Options. */
	const char *conf_path;
	char *conf_abs; /* conf_path made absolute */
	int foreground;
	int test_only;
	int dump_only;
	int journal; /* -j: log to the systemd journal */

	/*
	 * The start-up configuration: listen addresses, DB, workers, user,
	 * paths and limits come from here and need a restart to change.
	 */
	struct eca_config *cfg;
	pthread_mutex_t snap_lock;
	struct ecad_snap *snap;
	uint64_t snap_gen; /* the last snapshot's gen (main thread) */

	struct event_base *base; /* main thread: signals */
	struct ecad_writer *writer;
	struct eca_store *wstore; /* handed to the writer thread */
	struct ecad_worker *workers;
	size_t nworkers;
	/*
	 * One OpenSSL library context per API worker (ecad_snap.c), made
	 * with the first snapshot and kept to the end (WORKERS needs a
	 * restart).  A handshake decodes the client's certificates through
	 * the context's provider, decoder and name stores, each behind a
	 * lock: two workers on two cores sharing one context pass those
	 * locks' cache lines back and forth on every certificate
	 * (bench/README.md, round 6).  Each offers only the decoders a
	 * handshake needs (eca_tls_libctx_new, round 21).
	 */
	struct eca_tls_libctx *libctx;
	size_t nlibctx;
	int ctl_fd;
	char listen_desc[300]; /* "HOST:PORT" for the ready line */
	uid_t admin_uid;       /* the daemon's uid after dropping */
	int ready_fd;	       /* pipe to the waiting parent */
	int pid_written;
	int ctl_created;
	int ssl_idx;		    /* SSL ex_data slot of ecad_conn */
	struct ecad_keymap *srcmap; /* open connections per source (server.c) */
	struct ecad_refusals *refusals; /* strangers' refusals (refusals.c) */
	struct ecad_stats stats;
	struct eca_crl_cache *crls;   /* shared CRL cache (crl.h), primary */
	struct ecad_peer *peer;	      /* the peer listener (peer.c) */
	struct ecad_crlsync *crlsync; /* the CRL refresh thread (crlsync.c) */
	char peer_desc[300];	      /* its "HOST:PORT", "" if none */
	struct eca_metrics metrics;   /* GET /metrics (metrics.h) */
	/* The registry server's reachability, shared by every connection. */
	struct eca_store_watch *dbwatch;
	struct ecad_rcache *rcache;	 /* PostgreSQL: the last good roster */
	struct ecad_hosthint *hosthint;	 /* SQLite: names held (hosthint.c) */
	struct ecad_pglisten *pglisten;	 /* PostgreSQL: LISTEN (pglisten.c) */
	struct ecad_metrics_http *mhttp; /* METRICS_LISTEN (metrics_http.c) */
	struct ecad_remote *remote;	 /* remote enrollment (remote.c) */
	int64_t started_at;		 /* unix seconds, for GET /v1/health */
	struct ecad_broker *broker; /* NAT hosts' broker (broker_serve.c) */
	char broker_desc[300];	    /* its "HOST:PORT", "" if none */
	struct ecad_nat *nat;	    /* a NAT host's sessions (nat_session.c) */
	/* The web console (console.c): sockets until worker 0 takes them. */
	struct eca_sessions *sessions; /* NULL: no console */
	int con_fds[ECAD_MAX_LISTEN];
	size_t con_nfds;
	char console_desc[300]; /* its "HOST:PORT", "" if none */
};

/* Per-TLS-connection state, hung on the SSL (ex_data). */
struct ecad_conn {
	struct ecad_worker *w;
	int over_cap;	       /* refused at its ClientHello */
	int in_handshake;      /* holds a MAX_HANDSHAKES slot */
	int over_handshakes;   /* answered 429 BUSY, then closed */
	int hs_done;	       /* its TLS handshake completed (metrics) */
	int checked;	       /* the peer check ran (cached) */
	uint64_t checked_snap; /* ... with this snapshot's trust */
	uint64_t checked_crls; /* ... and this CRL cache generation */
	int code;	       /* its result */
	struct eca_err err;
	X509 *leaf;		  /* the peer's certificate, or NULL */
	struct eca_certinfo info; /* filled when a certificate was sent */
	/* Hostile-client bounds (server.c). */
	struct bufferevent *bev; /* the connection's, not owned */
	struct event *timer;	 /* source check, then request deadline */
	struct event *kick;	 /* records read ahead (server.c) */
	int src_checked;	 /* the per-source cap was applied */
	int src_counted;	 /* counted in d->srcmap under src */
	unsigned char src[ECAD_KEY_LEN]; /* source address (ecad_addr_key) */
};

/*
 * limits.c: the bounds both listeners apply (docs/hardening.md).
 *
 * A keymap counts open things per key (a source address, a certificate
 * fingerprint) under one mutex, for any thread; an entry lives while its
 * count is above zero.  ecad_keymap_take counts one more unless the key
 * has max already: 1 counted, 0 at the cap, -1 out of memory; *count
 * (may be NULL) gets the key's count.
 */
struct ecad_keymap;
int ecad_keymap_new(struct ecad_keymap **out) ECA_WUR;
void ecad_keymap_free(struct ecad_keymap *m);
int ecad_keymap_take(struct ecad_keymap *m,
    const unsigned char key[ECAD_KEY_LEN], int max, int *count) ECA_WUR;
void ecad_keymap_put(struct ecad_keymap *m,
    const unsigned char key[ECAD_KEY_LEN]);
/*
 * The key of a peer's address (IPv4 mapped into IPv6, zero-padded) and,
 * when text is not NULL, the address as text.  -1 for other families.
 */
struct sockaddr;
int ecad_addr_key(const struct sockaddr *sa, unsigned char key[ECAD_KEY_LEN],
    char *text, size_t len);
/*
 * Take one of max slots counted in *inuse (handshakes in progress): 1
 * taken, 0 full (nothing taken).  *now (may be NULL) gets the count with
 * this one.  ecad_slot_put gives a taken slot back.
 */
int ecad_slot_take(atomic_llong *inuse, long long max, long long *now);
void ecad_slot_put(atomic_llong *inuse);

/*
 * refusals.c: refusals of callers without a verified certificate, or for
 * no route, counted per source address and journaled as one summary line
 * per source per minute at most.  refusals_note takes one (addr without
 * port; method and path for the log, escaped already): 1 when the caller
 * is to log and journal it as usual (the first from addr in a minute), 0
 * when it was counted; refusals_flush writes the summaries that are due
 * (all: every pending count, at shutdown, while the writer still runs).
 */
struct ecad_refusals;
int refusals_new(struct ecad_refusals **out) ECA_WUR;
void refusals_free(struct ecad_refusals *r);
int refusals_note(struct ecad *d, const char *addr, int code,
    const char *method, const char *path);
void refusals_flush(struct ecad *d, int all);
#define ECAD_REFUSAL_FLUSH_SEC 5

/*
 * ecad_snap.c: the snapshot in use now, with a reference the caller gives
 * back with ecad_snap_put (which frees the last one; NULL is a no-op).
 */
struct ecad_snap *ecad_snap_get(struct ecad *d);
void ecad_snap_put(struct ecad_snap *s);

/*
 * hosthint.c: which host names a SQLite registry holds, as a hint
 * (hostset.h); d->hosthint stays NULL on PostgreSQL, and when it could
 * not be made (logged: ecad runs on without it).  hosthint_start before
 * the writer starts (st: the writer's connection, not yet handed over),
 * hosthint_stop once the workers and the writer have stopped.
 * hosthint_add: the writer, for each record it committed.
 * hosthint_absent: 1 only when the registry has surely never held host
 * (the names are loaded, and host is not among them).
 */
struct ecad_hosthint;
void hosthint_start(struct ecad *d, struct eca_store *st);
void hosthint_stop(struct ecad *d);
void hosthint_add(struct ecad *d, const char *host);
int hosthint_absent(struct ecad *d, const char *host);

/*
 * ecad_proc.c: name the calling thread (at most 15 characters, "ecad-"
 * and what it does; docs/daemon.md lists them), so that top -H, perf and
 * /proc/PID/task/TID/comm tell ecad's threads apart.  Every thread's
 * start routine calls it first; a failure is ignored, it is only a label.
 */
void ecad_thread_name(const char *name);

/* server.c: listeners and workers. */
/*
 * An event loop for a thread that serves TLS connections (API workers,
 * peer I/O threads), or NULL: with epoll, each fd's interest changes of
 * one loop iteration reach the kernel as one epoll_ctl, not one per
 * change (a TLS handshake and an HTTP exchange toggle read and write
 * interest many times).  eca never dup()s a socket, the case where
 * libevent's changelist is unsafe.
 */
struct event_base *ecad_base_new(void);
int server_bind(struct ecad *d, struct eca_err *err) ECA_WUR;
int server_start(struct ecad *d, struct eca_err *err) ECA_WUR;
/* Ask every worker to stop accepting and finish (returns at once). */
void server_stop(struct ecad *d);
/*
 * Join the workers (after server_stop) and close their read connections;
 * then the caller stops the writer.
 */
void server_join(struct ecad *d);
/* Free everything of the workers (after the writer has drained). */
void server_free(struct ecad *d);
/* The SSL ex_data slot for struct ecad_conn (freed with the SSL). */
int ecad_conn_index(void);
/* Install ecad's callbacks in a new server SSL_CTX. */
void server_ctx_setup(struct ecad *d, SSL_CTX *ctx);
/* How many API workers cfg asks for: WORKERS, else one per core. */
size_t server_workers(const struct eca_config *cfg);
/* Free ecad.libctx, once nothing uses them (the last snapshot freed). */
void ecad_libctx_free(struct ecad *d);
/*
 * The connection's first request has arrived: its handshake is over and
 * its MAX_HANDSHAKES slot is given back (idempotent).
 */
void server_handshake_done(struct ecad_conn *cn);
/*
 * evhttp_send_reply, with a reply that fits one TLS record sent as one:
 * evhttp queues the headers and the body as two pieces, and libevent's
 * TLS bufferevent writes each piece as a record of its own (two records,
 * two writes; the client reads each record's header and body apart).
 */
void server_send_reply(struct evhttp_request *req, int status);

/*
 * peer.c: the peer listener (every role), its judges and the periodic
 * roster sync.  peer_bind before dropping privileges (no-op without
 * LISTEN), peer_start after; peer_stop closes everything and joins its
 * threads; peer_free releases the rest.  peer_snap_setup builds a
 * snapshot's peer context and host (called by snap_build).
 */
int peer_snap_setup(struct ecad *d, struct ecad_snap *s,
    struct eca_err *err) ECA_WUR;
int peer_bind(struct ecad *d, struct eca_err *err) ECA_WUR;
int peer_start(struct ecad *d, struct eca_err *err) ECA_WUR;
void peer_stop(struct ecad *d);
void peer_free(struct ecad *d);

/*
 * crlsync.c: the CRL refresh thread (after crl_start; none when
 * ECA_CRL_CHECK is DISABLE); crlsync_stop joins it (before the cache is
 * freed).  It wakes every ECAD_CRL_TICK_SEC.
 */
#define ECAD_CRL_TICK_SEC 60
struct ecad_crlsync;
int crlsync_start(struct ecad *d, struct eca_err *err) ECA_WUR;
void crlsync_stop(struct ecad *d);

/*
 * metrics_http.c: GET /metrics.  ecad_metrics_text writes the exposition
 * (rd: a read connection of the registry, primary; NULL elsewhere) into
 * *out (caller frees).  METRICS_LISTEN's plain HTTP listener: bound
 * before privileges are dropped (no-op without it), started after, and
 * stopped (its thread joined) before the writer and the peer listener.
 */
struct ecad_metrics_http;
int ecad_metrics_text(struct ecad *d, struct eca_store *rd, char **out,
    size_t *len, struct eca_err *err) ECA_WUR;
int metrics_http_bind(struct ecad *d, struct eca_err *err) ECA_WUR;
int metrics_http_start(struct ecad *d, struct eca_err *err) ECA_WUR;
void metrics_http_stop(struct ecad *d);

/*
 * remote.c: remote enrollment's thread (primary).  remote_stop finishes
 * the request in flight (bounded by its channel's timeouts), answers the
 * queued ones and any later one BUSY, and joins the thread: call it while
 * the workers run; remote_free once they are joined.
 */
struct ecad_remote;
int remote_start(struct ecad *d, struct eca_err *err) ECA_WUR;
void remote_stop(struct ecad *d);
void remote_free(struct ecad *d);

/* control.c: the UNIX control socket. */
int control_bind(struct ecad *d, struct eca_err *err) ECA_WUR;
int control_attach(struct ecad *d, struct ecad_worker *w,
    struct eca_err *err) ECA_WUR;
void control_unlink(struct ecad *d);

/*
 * console.c: the web console on CONSOLE_LISTEN (docs/console.md).
 * console_bind before dropping privileges (no-op without it);
 * server_console_attach gives worker 0 its server, whose requests go to
 * console_request; console_free after the workers.
 */
int console_bind(struct ecad *d, struct eca_err *err) ECA_WUR;
int server_console_attach(struct ecad_worker *w, struct eca_err *err) ECA_WUR;
void console_request(struct evhttp_request *req, struct ecad_worker *w,
    struct ecad_conn *cn);
void console_free(struct ecad *d);

/* api.c: the request handlers (evhttp generic callbacks). */
void api_tls_cb(struct evhttp_request *req, void *arg); /* arg: worker */
/* A control-socket request from a caller with uid; admin if allowed. */
void api_control_request(struct ecad_worker *w, struct evhttp_request *req,
    uid_t uid, int admin);
/* A console session's /v1 request: identity's, as an administrator. */
void api_console_request(struct ecad_worker *w, struct evhttp_request *req,
    const char *identity, const char *source);
/*
 * Is cn's client certificate an ADMIN_IDENTITY's, by the API's own peer
 * check?  0 with the identity, or the refusal with why.
 */
int api_tls_admin(struct ecad_worker *w, struct evhttp_request *req,
    struct ecad_conn *cn, char *identity, size_t len,
    struct eca_err *err) ECA_WUR;

/*
 * writer.c: the one thread owning the writer store connection.  A job is
 * queued by a worker and completed on that worker's thread: the writer
 * fills job->op's out fields and activates job->ev (created by the worker
 * in its own base), whose callback replies.  A detached job (ev NULL,
 * allocated with malloc) has nobody waiting: the writer logs what it did
 * and frees it, so it may outlive the thread that queued it.
 */
struct ecad_job {
	struct eca_op op;
	struct event *ev; /* NULL: detached */
	struct ecad_job *next;
	int64_t queued_us; /* submitted (monotonic µs): group delay, health */
};
int writer_start(struct ecad *d, struct eca_store *st, struct ecad_writer **out,
    struct eca_err *err) ECA_WUR;
/* 0, or ECA_ERR_BUSY when the queue is full or the writer is stopping. */
int writer_submit(struct ecad_writer *wr, struct ecad_job *job) ECA_WUR;
/* Jobs submitted and not yet committed (or failed): 0 when the writer is idle. */
size_t writer_pending(struct ecad_writer *wr);
/*
 * What GET /v1/health says of the writer, without touching the registry:
 * whether it runs (not stopping), the code of its last group commit (0
 * when it succeeded or none ran yet), and the age in seconds of the
 * oldest job submitted and not yet handed back (0 when none).
 */
struct writer_health {
	int running;
	int last_code;
	int64_t oldest_age;
	size_t pending;
};
void writer_health(struct ecad_writer *wr, struct writer_health *out);
/* Finish everything queued, close the store, join and free. */
void writer_stop(struct ecad_writer *wr);
/*
 * SIGHUP: the writer reopens the audit journal before its next group (the
 * file may have been rotated); the chain continues in the new file.
 */
void writer_reopen(struct ecad_writer *wr);
/*
 * Queue an audit-only journal line (a refusal decided by a worker): the
 * writer appends it with the next group; no reply is waited for.  The
 * entry is copied.  Never blocks on the journal; drops (and logs) when
 * its own bounded queue is full.
 */
struct eca_audit_entry;
void writer_audit(struct ecad_writer *wr, const struct eca_audit_entry *e);

/*
 * rcache.c: the last good roster in memory (PostgreSQL registry only;
 * every call takes a NULL cache and then does nothing or fails).
 */
struct ecad_rcache;
int rcache_new(struct ecad_rcache **out, struct eca_err *err) ECA_WUR;
void rcache_free(struct ecad_rcache *rc);
/* After a roster answer read version current through rd: catch up. */
void rcache_refresh(struct ecad_rcache *rc, struct eca_store *rd,
    const char *primary, int64_t current);
/* A page of what changed after since (copies, the caller free()s). */
struct rcache_page {
	int64_t version;
	struct eca_change *ch;
	size_t n;
	struct eca_dnmap *maps;
	size_t nmaps;
};
/*
 * 0, or -1 when the cache cannot answer since (empty, or behind it), or
 * when fresh is asked and it is not known to be the registry's state.
 */
int rcache_page(struct ecad_rcache *rc, int64_t since, size_t limit, int fresh,
    struct rcache_page *pg);
/* A change was committed (NOTIFY heard, or this front end's writer). */
void rcache_changed(struct ecad_rcache *rc);
/* The LISTEN connection is up (1) or lost (0). */
void rcache_listening(struct ecad_rcache *rc, int up);

/*
 * pglisten.c: the LISTEN connection of a PostgreSQL registry, on a thread
 * and event base of its own (reconnected with a jittered backoff).
 */
int pglisten_start(struct ecad *d, struct eca_err *err) ECA_WUR;
void pglisten_stop(struct ecad *d);

/*
 * broker_serve.c: the primary's broker for NAT hosts (docs/nat.md), bound
 * before dropping privileges and started after, like the peer listener
 * (no-op on other roles).  broker_annotate adds what the broker knows of
 * a record's host ("nat", "online", "online_since") to its JSON.
 */
struct json_t;
int broker_bind(struct ecad *d, struct eca_err *err) ECA_WUR;
int broker_start(struct ecad *d, struct eca_err *err) ECA_WUR;
void broker_stop(struct ecad *d);
void broker_free(struct ecad *d);
void broker_annotate(struct ecad *d, struct json_t *rec);
/*
 * A reverse connection request from requester (authenticated and
 * enrolled) to NAT host host: 0 with token (ECA_BROKER_TOKEN_LEN + 1
 * bytes) once it is queued to the host's session; NAT_HOST_OFFLINE, or
 * BUSY past the requester's rate.  *relay is 1 when the requester is a
 * NAT host itself (it holds a broker session): both ends then meet at
 * the primary's relay (relay.c) instead of host calling requester back.
 */
int broker_request(struct ecad *d, const char *requester, const char *host,
    enum eca_purpose purpose, const char *address, char *token, int *relay,
    struct eca_err *err) ECA_WUR;
/*
 * Remote enrollment through NAT host host's broker session: 1 when host
 * holds none (reach it directly), 0 with *answer (its JSON text, the
 * caller frees it) once it answered within timeout_ms, else an error.
 */
int broker_remote_enroll(struct ecad *d, const char *host, long timeout_ms,
    char **answer, struct eca_err *err) ECA_WUR;
/* The broker's counters into g for GET /metrics: 1, or 0 without one. */
struct eca_metrics_gauges;
int broker_metrics(struct ecad *d, struct eca_metrics_gauges *g);
/* The broker's counters for GET /v1/stats ("broker"; null without one). */
struct json_t *broker_stats_json(struct ecad *d);
/*
 * GET /v1/nat/restricted: the NAT hosts online on a restricted session
 * (not enrolled, so not in the registry's list), by host name, at most
 * max of them: {"sessions":[{"host","address","online_since",
 * "last_heartbeat"}...], "total":n}; NULL out of memory.
 */
struct json_t *broker_restricted_json(struct ecad *d, size_t max);

/*
 * nat_session.c: a NAT host's broker session with each of its primaries
 * (no-op unless NAT_CLIENT = YES).
 */
int nat_start(struct ecad *d, struct eca_err *err) ECA_WUR;
void nat_stop(struct ecad *d);
/* Each session's state for GET /metrics, at most max: how many. */
struct eca_metrics_nat;
size_t nat_metrics(struct ecad *d, struct eca_metrics_nat *out, size_t max);
/*
 * peer_enroll.c: enroll this host with primary in dom as `eca enroll`
 * does (ECA_METHOD_MANUAL), asked remotely by that primary (via: how it
 * asked, for the log): the answer {"outcome","precheck","enrollment"} or
 * {"error":{...}}; NULL out of memory.  Blocks.
 */
struct ecad_snap;
struct eca_domain;
struct json_t *ecad_enroll_self(struct ecad_snap *s, struct eca_domain *dom,
    const char *primary, const char *via);
/*
 * peer_reverse.c: answer a reverse connection request m (a broker's
 * "connect") on the peer listener's first thread: 0 queued, -1 not.
 */
struct eca_broker_msg;
int peer_reverse(struct ecad *d, const struct eca_broker_msg *m);

/*
 * listen.c: the one resolve-and-bind loop of the API and the peer
 * listener.  One listening socket on each address ep resolves to (at most
 * ECAD_MAX_LISTEN), and every one of nsets sets (a worker, a peer I/O
 * thread) gets its own descriptor of each: all the threads accept from
 * the same socket, so a new connection goes to whichever thread asks
 * first, most often one with little to do (and a thread more loaded than
 * another takes one connection per turn of its loop: ecad_pace below).
 * A socket per thread with SO_REUSEPORT let the kernel's hash choose: at
 * 16 callers it left one core idle while the other had a queue (on
 * bench_enroll --mode bare, 4.1 to 5.4 % of the machine idle against 0 to
 * 0.5 % now; bench/README.md round 16).  A host of "*" or "" is every
 * address, no port is defport (the configuration allows no port 0).
 * set(arg, i, &nfds) gives set i's array of sockets and its
 * count; on failure the sockets bound so far stay there for the caller
 * to close, and failed_addr/failed_errno name the address that could not
 * be bound (failed_errno 0: another failure).
 */
struct ecad_bind {
	const struct eca_endpoint *ep;
	const char *defport;
	const char *keyword;  /* the setting, in messages: "API_LISTEN" */
	const char *listener; /* "API_LISTEN", "LISTEN, the peer listener" */
	size_t nsets;
	int *(*set)(void *arg, size_t i, size_t **nfds);
	void *arg;
	/* Out. */
	char port[32];	/* the port bound, as text */
	char desc[300]; /* "HOST:PORT" for the ready line */
	char failed_addr[64];
	int failed_errno;
};
int ecad_listen_bind(struct ecad_bind *b, struct eca_err *err) ECA_WUR;

#endif
