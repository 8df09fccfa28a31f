/* SPDX-License-Identifier: ISC */
/*
 * judge.h - THE way to a verdict on a peer host, for both ends of a
 * channel: eca_channel_open judging the server it called, and ecad's peer
 * listener judging its caller.
 *
 * eca_judge_peer runs the same steps, in the same order, for both:
 *
 *  1. the peer's certificate (eca_verdict_check_cert: chain, validity,
 *     identity), kept in the result so that a resumed judgment does not
 *     check it again.  A stranger stops here: a certificate that fails
 *     makes neither side enroll nor sync, and goes to the verdict;
 *  2. this host's own automatic enrollment with the shared primary, when
 *     it is not enrolled there yet and eca_autoenroll_allowed says so;
 *  3. the peer's roster entry as the roster is now (eca_domain_peek: no
 *     network, no waiting);
 *  4. the verdict (eca_verdict_peer).
 *
 * It never waits for the roster.  When the entry is missing, REMOVED,
 * holds another fingerprint, or the roster is stale, a first judgment
 * returns ECA_JUDGE_NEED_SYNC instead of a verdict, and the caller
 * arranges a sync and judges again with resumed set, which decides with
 * what the roster holds then:
 *  - ecad parks the connection (no judge thread waits) until a sync has
 *    finished, or, with wait_enroll, until the caller appears in the
 *    roster or ECA_ENROLL_WAIT_MS pass;
 *  - eca_channel_open refreshes the roster once (eca_domain_refresh), or
 *    with wait_enroll (the server enrolls through this very
 *    communication, after it has read the caller's HELLO) sends its HELLO
 *    first and refreshes, waiting, after the server's VERDICT.
 */
#ifndef ECA_JUDGE_H
#define ECA_JUDGE_H

#include <stdint.h>

#include <openssl/x509.h>

#include "enroll.h"
#include "err.h"
#include "host.h"
#include "purpose.h"
#include "verdict.h"

/* eca_judge_peer's answer when the roster must be synced first (> 0). */
#define ECA_JUDGE_NEED_SYNC 1
/* Its answer to a caller that may not wait, where it would (> 0). */
#define ECA_JUDGE_WOULD_WAIT 2

/* Which end judges: it words the refusals this host makes of itself. */
enum eca_judge_side {
	ECA_JUDGE_CALLING,   /* eca_channel_open, judging the server */
	ECA_JUDGE_ACCEPTING, /* ecad's peer listener, judging a caller */
};

/*
 * This host's automatic enrollment with d's primary (step 2): 0 and
 * *outcome, or the refusal with err.  Tests count calls through it.
 */
typedef int eca_judge_enroll_fn(struct eca_host *h, struct eca_domain *d,
    enum eca_enroll_outcome *outcome, struct eca_err *err);

struct eca_judge_input {
	enum eca_judge_side side;
	struct eca_host *h;
	struct eca_domain *d;  /* h's domain of the shared primary */
	const char *primary;   /* its name, for messages */
	const char *peer;      /* the host the peer claims to be */
	X509 *leaf;	       /* the peer's certificate; NULL: none */
	STACK_OF(X509) *chain; /* its intermediates (may be NULL) */
	enum eca_purpose purpose;
	/*
	 * The peer as its HELLO describes it: role, has_cert and nat (its
	 * "nat"); disabled is 0 (a HELLO does not tell it).
	 */
	struct eca_autoenroll_side peer_side;
	/*
	 * The HELLO's "auto" (does the peer enroll itself for this
	 * communication?), when it said (has_autoenroll).  Not said: the
	 * rule is asked as if the peer had auto-enrollment on.
	 */
	int has_autoenroll;
	int autoenroll;
	int resumed;		     /* judged again after a sync */
	eca_judge_enroll_fn *enroll; /* NULL: eca_domain_enroll (auto) */
	/*
	 * The caller may not wait for the network (ecad's I/O threads):
	 * where the judgment would (this host's own enrollment, a CRL due
	 * for a fetch, the roster refresh of an unmapped DN) it returns
	 * ECA_JUDGE_WOULD_WAIT instead, having fetched, claimed and
	 * enrolled nothing.  The caller then judges again on a thread that
	 * may wait, with the same res or a fresh one.
	 */
	int nowait;
};

/* Where a judgment ended. */
enum eca_judge_end {
	ECA_JUDGE_END_VERDICT, /* eca_verdict_peer decided (step 4) */
	ECA_JUDGE_END_ENROLL,  /* this host's own enrollment failed */
	ECA_JUDGE_END_ERROR,   /* this host could not judge (the roster) */
	ECA_JUDGE_END_SYNC,    /* ECA_JUDGE_NEED_SYNC */
	ECA_JUDGE_END_WAIT,    /* ECA_JUDGE_WOULD_WAIT */
};

struct eca_judge_result {
	int code; /* what eca_judge_peer returned */
	/*
	 * The roster says the peer is a NAT host (its HELLO may not): it is
	 * then judged as one.
	 */
	int roster_nat;
	enum eca_judge_end end;
	/*
	 * The verdict, and the code and message of any refusal (peer is
	 * filled only when step 4 ran).
	 */
	struct eca_verdict verdict;
	/* Step 1, kept across a resumed judgment. */
	int cert_done;
	struct eca_cert_check cert;
	int64_t cert_us; /* microseconds; -1 not run */
	/*
	 * Step 2, kept across a resumed judgment: whether the rule lets
	 * this host enroll itself for this communication (what its own
	 * HELLO says as "auto"), and whether it did.
	 */
	int self_autoenroll;
	int autoenrolled;
	enum eca_enroll_outcome outcome;
	struct eca_err enroll_err; /* why it failed (END_ENROLL) */
	int64_t autoenroll_us;	   /* -1: no enrollment tried */
	/* Step 3. */
	int peer_autoenroll;	       /* the peer enrolls through this one */
	const char *no_autoenroll_why; /* static phrase when it does not */
	int wait_enroll;	       /* NEED_SYNC: wait for it to appear */
	int64_t synced;		       /* d's finished syncs at the look */
};

/* Ready res for a first judgment (nothing checked yet). */
void eca_judge_init(struct eca_judge_result *res);
/* Release what res holds (the certificate's details); res stays valid. */
void eca_judge_done(struct eca_judge_result *res);

/*
 * Judge the peer of in (see above): 0 accept, a refusal's ECA_ERR_*
 * (res->verdict.message says why, for the peer and the log),
 * ECA_JUDGE_NEED_SYNC (res->wait_enroll, res->synced), never when
 * in->resumed, or ECA_JUDGE_WOULD_WAIT, only when in->nowait.  res:
 * eca_judge_init before the first judgment; a resumed judgment is given
 * the same res, so the certificate is checked once.  Blocks (unless
 * in->nowait) only for this host's own enrollment (an HTTPS call to the
 * primary), a CRL due for a fetch (crl.h) and, with ECA_IDENTITY = DN,
 * one rate-limited roster refresh for an unmapped subject.
 */
int eca_judge_peer(const struct eca_judge_input *in,
    struct eca_judge_result *res) ECA_WUR;

#endif
