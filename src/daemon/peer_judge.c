/* SPDX-License-Identifier: ISC */
/*
 * peer_judge.c - the peer listener's judging glue (peer_impl.h): the
 * judges' queue and threads, parking a judgment until a roster sync, the
 * sync thread, and the verdict's way back to its I/O thread.
 *
 * A connection whose client HELLO is in is judged by the one judging
 * path (eca_judge_peer, judge.h), first on its own I/O thread as a
 * judgment that may not wait; where it would (this host's own enrollment
 * with the primary, a CRL download, an unmapped DN's roster refresh) a
 * judge thread takes it and judges it in full.  Neither waits for the
 * roster.  When the roster must be synced first the judge parks
 * the connection: it is its I/O thread's again, whose timer looks at the
 * roster every PEER_PARK_TICK_MS without any network, and sends it back
 * to a judge once a sync has finished (and the caller is found, when it
 * waited for its enrollment), or the wait is over.  The sync thread syncs
 * every domain's roster every ECA_ROSTER_SYNC_SECONDS, and sooner when a
 * parked judgment asks.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "crl.h"
#include "judge.h"
#include "log.h"
#include "peer_impl.h"
#include "util.h"

/* Give back what a parked judgment holds (idempotent). */
void
peer_park_release(struct pconn *pc)
{
	struct ecad_peer *p = pc->t->p;

	if (pc->wait_src_taken)
		ecad_keymap_put(p->waits_src, pc->src);
	if (pc->wait_fp_taken)
		ecad_keymap_put(p->waits_fp, pc->fpkey);
	pc->wait_src_taken = pc->wait_fp_taken = 0;
	if (pc->snap != NULL)
		ecad_snap_put(pc->snap);
	pc->snap = NULL;
	pc->dom = NULL;
}

static int judge(struct ecad *d, struct pconn *pc, int nowait);

/*
 * Judge pc: at once on its I/O thread when that waits for nothing (the
 * usual case: this host enrolled already, no CRL due for a fetch), which
 * spares two thread hand-offs per channel; else on a judge thread.
 */
void
peer_judge_submit(struct pconn *pc)
{
	struct ecad_peer *p = pc->t->p;

	pc->state = PS_JUDGING;
	evtimer_del(pc->timer);
	/*
	 * Reading pauses while a judge or a roster sync has pc; judged at
	 * once and served on, it stays on (off and on again within one
	 * loop iteration would still cost an epoll_ctl).
	 */
	if (judge(p->d, pc, 1) == 0) {
		if (pc->parked)
			bufferevent_disable(pc->bev, EV_READ);
		peer_judged_cb(-1, 0, pc);
		return;
	}
	bufferevent_disable(pc->bev, EV_READ);
	pthread_mutex_lock(&p->lock);
	pc->qnext = NULL;
	if (p->qtail != NULL)
		p->qtail->qnext = pc;
	else
		p->qhead = pc;
	p->qtail = pc;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->lock);
}

/*
 * Has anything the verdict depended on changed since it was reached?
 * One snapshot reference, the CRL cache's and the domain's locks.
 */
int
peer_verdict_stale(struct pconn *pc)
{
	struct ecad_snap *s = ecad_snap_get(pc->t->p->d);
	struct eca_domain *dom;
	int stale;

	stale = s->gen != pc->gen_snap;
	if (!stale && s->host != NULL) {
		stale = eca_crl_cache_gen(s->host->policy.crls) != pc->gen_crls;
		if (!stale &&
		    (dom = eca_host_domain(s->host, pc->hello.primary)) != NULL)
			stale =
			    eca_domain_roster_version(dom) != pc->gen_roster;
	}
	ecad_snap_put(s);
	return stale;
}

/* Ask the sync thread for a roster sync soon (rate-limited there). */
static void
want_sync(struct ecad_peer *p)
{
	pthread_mutex_lock(&p->lock);
	p->sync_wanted = 1;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
}

/*
 * A parked judgment, every PEER_PARK_TICK_MS on its I/O thread: back to
 * a judge once a sync has finished since it was parked (and, when it
 * waits for the caller's enrollment, the caller is in the roster), or
 * when its wait is over.  Looking costs the domain's lock, no network.
 */
void
peer_park_tick(struct pconn *pc)
{
	struct eca_roster_entry entry;
	struct timeval tv = {0, PEER_PARK_TICK_MS * 1000};
	int64_t synced = 0;
	int lr;

	lr = eca_domain_peek(pc->snap->host, pc->dom, pc->hello.host, &entry,
	    &synced, NULL);
	if (eca_util_mono_ms() >= pc->park_until ||
	    (synced > pc->park_synced &&
		(!pc->wait_enroll ||
		    (lr == 0 && entry.state != ECA_STATE_REMOVED)))) {
		peer_park_release(pc);
		pc->resumed = 1;
		peer_judge_submit(pc);
		return;
	}
	/* Still waiting for an enrollment in flight: sync again. */
	if (synced > pc->park_synced)
		want_sync(pc->t->p);
	evtimer_add(pc->timer, &tv);
}

/* An accepted channel judged again (rejudge): serve on, or close. */
static void
rejudged(struct pconn *pc)
{
	pc->rejudge = 0;
	pc->state = PS_SERVING;
	if (!pc->v.accept) {
		peer_service_error(pc, pc->v.code,
		    "judged again after a "
		    "change of trust store, CRLs or roster: %s",
		    pc->v.message);
		return;
	}
	log_info(
	    "peer channel from %s (%s), fingerprint %s: judged again "
	    "after a change of trust store, CRLs or roster: still accepted",
	    pc->hello.host, pc->addr, pc->fingerprint);
	bufferevent_enable(pc->bev, EV_READ);
	peer_conn_read(pc);
}

/* The verdict's log line, with its fields for the journal. */
static void
log_verdict(const struct pconn *pc)
{
	if (pc->v.accept)
		log_info_fields(ECA_LOG_FIELDS({"HOST", pc->hello.host},
				    {"FINGERPRINT", pc->fingerprint},
				    {"REASON", "ACCEPTED"},
				    {"PRIMARY", pc->v.primary}),
		    "peer channel from %s (%s), fingerprint %s, "
		    "primary %s, purpose %s: accepted",
		    pc->hello.host, pc->addr, pc->fingerprint, pc->v.primary,
		    eca_purpose_name(pc->hello.purpose));
	else
		log_info_fields(ECA_LOG_FIELDS({"HOST", pc->hello.host},
				    {"FINGERPRINT", pc->fingerprint},
				    {"REASON", eca_err_name(pc->v.code)},
				    {"PRIMARY", pc->v.primary}),
		    "peer channel from %s (%s), fingerprint %s, "
		    "primary %s, purpose %s: refused %s: %s",
		    pc->hello.host, pc->addr,
		    pc->fingerprint[0] != '\0' ? pc->fingerprint : "none",
		    pc->v.primary[0] != '\0' ? pc->v.primary : "none",
		    eca_purpose_name(pc->hello.purpose),
		    eca_err_name(pc->v.code), pc->v.message);
}

/* Accepted: the purpose's service, each frame within IDLE_TIMEOUT. */
static void
start_serving(struct pconn *pc)
{
	struct timeval tv;

	pc->state = PS_SERVING;
	pc->echo = pc->hello.purpose == ECA_PURPOSE_PING ||
	    pc->hello.purpose == ECA_PURPOSE_CONSOLE ||
	    pc->hello.purpose == ECA_PURPOSE_CONTROL;
	tv.tv_sec = pc->t->p->d->cfg->idle_timeout;
	tv.tv_usec = 0;
	bufferevent_set_timeouts(pc->bev, &tv, &tv);
	bufferevent_enable(pc->bev, EV_READ);
	peer_conn_read(pc);
}

/* The verdict is in (on the connection's own thread). */
void
peer_judged_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pconn *pc = arg;
	struct timeval tv = {0, PEER_PARK_TICK_MS * 1000};
	struct eca_err e;
	unsigned char *buf = NULL;
	size_t len = 0;
	int r;

	(void)fd;
	(void)what;
	pc->state = PS_CLOSING; /* no judge holds it any more */
	if (pc->dead) {
		log_info("peer channel from %s (%s): closed by the peer "
			 "before the verdict",
		    pc->hello.host, pc->addr);
		peer_conn_free(pc);
		return;
	}
	if (pc->rejudge) {
		rejudged(pc);
		return;
	}
	if (pc->parked) {
		/* Waits for a roster sync here, not on a judge. */
		pc->parked = 0;
		pc->state = PS_PARKED;
		evtimer_add(pc->timer, &tv);
		return;
	}
	peer_handshake_done(pc);
	eca_metrics_verdict(&pc->t->p->d->metrics,
	    pc->v.accept ? 0 : pc->v.code);
	log_verdict(pc);
	eca_err_clear(&e);
	if ((r = eca_channel_verdict_encode(&pc->v, &buf, &len, &e)) != 0 ||
	    peer_send(pc, buf, len) != 0) {
		log_error("peer %s: cannot send the verdict: %s", pc->addr,
		    r != 0 ? e.msg : "out of memory");
		free(buf);
		peer_conn_free(pc);
		return;
	}
	free(buf);
	if (pc->v.accept && pc->reply != NULL &&
	    peer_send(pc, pc->reply, pc->reply_len) != 0) {
		peer_conn_free(pc);
		return;
	}
	if (!pc->v.accept || pc->reply != NULL)
		peer_conn_closing(pc);
	else
		start_serving(pc);
}

static void refuse(struct pconn *, int, const char *, ...) ECA_PRINTF(3, 4);
static void
refuse(struct pconn *pc, int code, const char *fmt, ...)
{
	va_list ap;

	pc->v.accept = 0;
	pc->v.code = code;
	va_start(ap, fmt);
	vsnprintf(pc->v.message, sizeof(pc->v.message), fmt, ap);
	va_end(ap);
}

/*
 * Park pc (a judge thread, which holds it) until dom's roster has been
 * synced, and with wait_enroll until the caller appears in it: 0, or -1
 * when the caller's source (or, waiting for an enrollment, its
 * certificate) already has all the waits it may, and pc is refused BUSY.
 * s is the judge's snapshot; pc keeps a reference of its own.
 */
static int
park(struct ecad_peer *p, struct pconn *pc, struct ecad_snap *s,
    struct eca_domain *dom, int64_t synced, int wait_enroll, const char *fphex)
{
	uint8_t fp[ECA_ROSTER_FP_LEN];
	int n = 0;

	if (ecad_keymap_take(p->waits_src, pc->src,
		s->cfg->peer_enroll_waits_per_source, &n) != 1) {
		refuse(pc, ECA_ERR_BUSY,
		    "%s is busy: %d channels from %s "
		    "already wait for a roster sync or an enrollment in "
		    "flight (PEER_ENROLL_WAITS_PER_SOURCE); retry in 1 s",
		    s->cfg->client_name, n, pc->addr);
		return -1;
	}
	pc->wait_src_taken = 1;
	if (wait_enroll && eca_roster_fp_from_hex(fphex, fp) == 0) {
		memset(pc->fpkey, 0, sizeof(pc->fpkey));
		memcpy(pc->fpkey, fp, sizeof(fp));
		if (ecad_keymap_take(p->waits_fp, pc->fpkey, 1, NULL) != 1) {
			ecad_keymap_put(p->waits_src, pc->src);
			pc->wait_src_taken = 0;
			refuse(pc, ECA_ERR_BUSY,
			    "%s is busy: another channel "
			    "with the certificate of %s already waits for its "
			    "enrollment with %s; retry in 1 s",
			    s->cfg->client_name, pc->hello.host,
			    pc->hello.primary);
			return -1;
		}
		pc->wait_fp_taken = 1;
	}
	atomic_fetch_add(&s->refs, 1);
	pc->snap = s;
	pc->dom = dom;
	pc->park_synced = synced;
	pc->park_until = eca_util_mono_ms() + ECA_ENROLL_WAIT_MS;
	pc->wait_enroll = wait_enroll;
	pc->parked = 1;
	want_sync(p);
	return 0;
}

/*
 * Log what this host did about its own enrollment while judging pc (the
 * library does not log: judge.h).
 */
static void
log_self_enrollment(const struct eca_config *cfg, const struct pconn *pc,
    const struct eca_judge_result *res)
{
	if (res->end == ECA_JUDGE_END_ENROLL)
		log_warn("auto-enrollment of %s with %s (first channel from "
			 "%s) failed: %s",
		    cfg->client_name, pc->hello.primary, pc->hello.host,
		    res->enroll_err.msg);
	else if (res->autoenrolled)
		log_info("auto-enrolled %s with %s (first channel from %s, "
			 "purpose %s): %s",
		    cfg->client_name, pc->hello.primary, pc->hello.host,
		    eca_purpose_name(pc->hello.purpose),
		    eca_outcome_name(res->outcome));
}

/*
 * The one judging path (judge.h) for a caller whose domain is dom: the
 * verdict into pc->v, or pc parked until a roster sync (a judge never
 * waits for the roster).  A resumed judgment checks the certificate
 * again: keeping its check for a parked connection would cost more
 * memory than the verification cache takes time.  nowait (an I/O
 * thread): -1 where the judgment would wait, nothing decided.
 */
static int
judge_caller(struct ecad *d, struct pconn *pc, struct ecad_snap *s,
    struct eca_domain *dom, int nowait)
{
	struct eca_judge_input in;
	struct eca_judge_result res;
	int r;

	memset(&in, 0, sizeof(in));
	in.side = ECA_JUDGE_ACCEPTING;
	in.h = s->host;
	in.d = dom;
	in.primary = pc->hello.primary;
	in.peer = pc->hello.host;
	in.leaf = pc->leaf;
	in.chain = pc->chain;
	in.purpose = pc->hello.purpose;
	in.peer_side.role = pc->hello.role;
	in.peer_side.has_cert = pc->hello.has_cert;
	in.peer_side.nat = pc->hello.nat;
	in.has_autoenroll = pc->hello.has_autoenroll;
	in.autoenroll = pc->hello.autoenroll;
	in.resumed = pc->resumed;
	in.nowait = nowait;
	eca_judge_init(&res);
	if ((r = eca_judge_peer(&in, &res)) == ECA_JUDGE_WOULD_WAIT) {
		eca_judge_done(&res);
		return -1;
	}
	log_self_enrollment(s->cfg, pc, &res);
	if (res.cert_done)
		snprintf(pc->fingerprint, sizeof(pc->fingerprint), "%s",
		    res.cert.info.fingerprint);
	if (r == ECA_JUDGE_NEED_SYNC) {
		(void)park(d->peer, pc, s, dom, res.synced, res.wait_enroll,
		    res.cert.info.fingerprint);
		eca_judge_done(&res);
		return 0;
	}
	pc->v.accept = r == 0;
	pc->v.code = r;
	snprintf(pc->v.message, sizeof(pc->v.message), "%s",
	    res.verdict.message);
	eca_judge_done(&res);
	return 0;
}

/*
 * Judge one caller (a judge thread).  What only the accepting end knows
 * comes first: a refusal decided while reading the HELLO, a host without
 * a certificate, a primary this host does not share; then the one
 * judging path.  The snapshot's, the CRL cache's and the roster's
 * generations are read before judging: a change while judging means the
 * next frame is judged once more.  0: judged (or parked); -1: nowait (an
 * I/O thread) and the judgment would wait, nothing decided: a remote
 * enrollment always does.
 */
static int
judge(struct ecad *d, struct pconn *pc, int nowait)
{
	struct ecad_snap *s;
	const struct eca_config *cfg;
	struct eca_host *h;
	struct eca_domain *dom;
	int r = 0;

	if (nowait && pc->pre_code == 0 &&
	    pc->hello.purpose == ECA_PURPOSE_ENROLL)
		return -1;
	s = ecad_snap_get(d);
	cfg = s->cfg;
	h = s->host;

	memset(&pc->v, 0, sizeof(pc->v));
	snprintf(pc->v.primary, sizeof(pc->v.primary), "%s", pc->hello.primary);
	pc->gen_snap = s->gen;
	pc->gen_crls = h != NULL ? eca_crl_cache_gen(h->policy.crls) : 0;
	pc->gen_roster = 0;
	if (pc->pre_code != 0)
		refuse(pc, pc->pre_code, "%s", pc->pre_msg);
	else if (h == NULL)
		refuse(pc, ECA_ERR_CONFIG,
		    "%s has no certificate configured "
		    "(ECA_CERT_PATH) and takes no channels",
		    cfg->client_name);
	else if ((dom = eca_host_domain(h, pc->hello.primary)) == NULL)
		refuse(pc, ECA_ERR_FORBIDDEN,
		    "%s asked for a channel in the "
		    "domain of primary %s, which %s does not belong to; "
		    "add SERVER = %s to %s's configuration, or use a primary "
		    "both hosts list",
		    pc->hello.host, pc->hello.primary, cfg->client_name,
		    pc->hello.primary, cfg->client_name);
	else {
		pc->gen_roster = eca_domain_roster_version(dom);
		r = judge_caller(d, pc, s, dom, nowait);
		if (r == 0 && pc->hello.purpose == ECA_PURPOSE_ENROLL &&
		    !pc->parked && !pc->rejudge && pc->v.accept)
			peer_remote_enroll(s, dom, pc);
	}
	ecad_snap_put(s);
	return r;
}

void *
peer_judge_main(void *arg)
{
	struct ecad_peer *p = arg;
	struct pconn *pc;

	ecad_thread_name("ecad-peer-judge");
	for (;;) {
		pthread_mutex_lock(&p->lock);
		while (!p->stopping && p->qhead == NULL)
			pthread_cond_wait(&p->work, &p->lock);
		if (p->stopping) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		pc = p->qhead;
		if ((p->qhead = pc->qnext) == NULL)
			p->qtail = NULL;
		pthread_mutex_unlock(&p->lock);
		(void)judge(p->d, pc, 0);
		event_active(pc->judged_ev, EV_TIMEOUT, 0);
	}
	return NULL;
}

/*
 * Sync every domain's roster now; failures are logged.  on_miss: for
 * parked judgments, at most once per ECA_ROSTER_MISS_INTERVAL per domain
 * (this thread waits for the interval, nobody else does).
 */
static void
sync_all(struct ecad *d, int on_miss)
{
	struct ecad_snap *s = ecad_snap_get(d);
	struct eca_err e;
	size_t i;

	for (i = 0; s->host != NULL && i < s->host->ndomains; i++) {
		eca_err_clear(&e);
		/* host.c has logged the failure itself. */
		if (eca_domain_sync(s->host, &s->host->domains[i], on_miss,
			&e) != 0)
			log_info("next roster sync with %s in %d s",
			    s->host->domains[i].server->name,
			    s->cfg->roster_sync_seconds);
		else
			log_debug("roster of %s synced",
			    s->host->domains[i].server->name);
	}
	ecad_snap_put(s);
}

static int
ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	    (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/*
 * Every ECA_ROSTER_SYNC_SECONDS, and whenever a parked judgment asks
 * (want_sync): the one thread that waits for the primaries.
 */
void *
peer_sync_main(void *arg)
{
	struct ecad_peer *p = arg;
	struct ecad_snap *s;
	struct timespec next, now;
	int every, wanted;

	ecad_thread_name("ecad-peer-sync");
	clock_gettime(CLOCK_MONOTONIC, &next); /* the first sync: now */
	for (;;) {
		pthread_mutex_lock(&p->lock);
		for (;;) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (p->stopping || p->sync_wanted ||
			    !ts_before(&now, &next))
				break;
			(void)pthread_cond_timedwait(&p->wake, &p->lock, &next);
		}
		if (p->stopping) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		wanted = p->sync_wanted;
		p->sync_wanted = 0;
		pthread_mutex_unlock(&p->lock);
		sync_all(p->d, wanted && ts_before(&now, &next));
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!ts_before(&now, &next) || !wanted) {
			s = ecad_snap_get(p->d);
			every = s->cfg->roster_sync_seconds > 0 ?
			    s->cfg->roster_sync_seconds :
			    300;
			ecad_snap_put(s);
			next = now;
			next.tv_sec += every;
		}
	}
	return NULL;
}
