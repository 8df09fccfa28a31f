/* SPDX-License-Identifier: ISC */
/*
 * test_judge.c - the one judging path (judge.h), branch by branch, from
 * both ends of a channel: one table, every row judged as the calling and
 * as the accepting end unless it says otherwise.
 *
 * The host is real (eca_host_new over testca files); its primary's port
 * is closed, so nothing here may reach the network: the roster is filled
 * by hand and this host's own enrollment goes through a counting hook.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/x509.h>

#include "config.h"
#include "host.h"
#include "judge.h"
#include "roster.h"
#include "testca.h"
#include "wire.h"
#include "x509.h"

#define PRIMARY "primary.example"
#define SELF "client1.example"
#define PEER "media1.example"

static struct testca *ca, *rogue;
static X509 *self_leaf, *peer_leaf, *rogue_leaf, *other_host_leaf;
static EVP_PKEY *self_key;
static STACK_OF(X509) *chain;
static char *dir; /* this host's certificate files */

/* ------------------------------------------------------------------ */
/* The table.                                                          */

enum sides { BOTH, CALLING, ACCEPTING };

enum peer_cert {
	P_GOOD,		 /* the peer's own, from the trusted CA */
	P_NONE,		 /* no certificate presented */
	P_ROGUE,	 /* the peer's name, from an untrusted CA */
	P_OTHER_HOST,	 /* trusted, but another host's */
	P_NO_HELLO_CERT, /* its own, but its HELLO says "cert": false */
	P_NAT,		 /* its own, and its HELLO says "nat": true */
};

enum roster_case {
	R_ENROLLED, /* the peer, with the certificate it presents */
	R_MISSING,  /* a fresh roster without the peer */
	R_OTHER_FP, /* the peer, with another certificate */
	R_REMOVED,
	R_BANNED,
	R_REVOKED,
	R_CONFLICT,	  /* in CONFLICT, the presented one enrolled */
	R_CONFLICT_OTHER, /* in CONFLICT, another one enrolled */
	R_STALE,	  /* the peer enrolled, but synced too long ago */
	R_NAT,		  /* the peer enrolled, a NAT host by the roster */
	R_NAT_REMOVED,	  /* the peer REMOVED, a NAT host by the roster */
};

/* This host's side of the rule. */
enum self_case {
	S_ENROLLED,  /* enrolled already: never enrolls again */
	S_NEW,	     /* not enrolled, the rule decides */
	S_NEW_FAILS, /* not enrolled, its enrollment is refused */
	S_DISABLED,  /* not enrolled, ECA_DISABLE_AUTO_ENROLLMENT */
	S_NAT,	     /* not enrolled, NAT_CLIENT */
	S_MEDIA,     /* a media server, not enrolled */
};

struct jcase {
	const char *what;
	enum sides sides;
	enum peer_cert cert;
	enum eca_role peer_role;
	int says_auto; /* -1: HELLO without "auto" */
	enum eca_purpose purpose;
	enum self_case self;
	enum roster_case roster;
	int resumed;
	/* Expected. */
	int code;	    /* 0, ECA_JUDGE_NEED_SYNC or ECA_ERR_* */
	int wait;	    /* wait_enroll, with NEED_SYNC */
	int enrolls;	    /* calls of the enrollment hook */
	const char *needle; /* in the message, when refused */
};

#define M ECA_ROLE_MEDIA
#define C ECA_ROLE_CLIENT
#define BK ECA_PURPOSE_BACKUP
#define RP ECA_PURPOSE_REPLICATION
#define CO ECA_PURPOSE_CONSOLE
#define EN ECA_PURPOSE_ENROLL
#define NS ECA_JUDGE_NEED_SYNC

static const struct jcase cases[] = {
    /* Strangers: refused on the certificate, no enrollment, no sync. */
    {"no certificate", BOTH, P_NONE, M, -1, BK, S_NEW, R_MISSING, 0,
	ECA_ERR_NO_CLIENT_CERT, 0, 0, "presented no certificate"},
    {"untrusted certificate", BOTH, P_ROGUE, M, -1, BK, S_NEW, R_MISSING, 0,
	ECA_ERR_UNTRUSTED, 0, 0, "is refused"},
    {"another host's certificate", BOTH, P_OTHER_HOST, M, -1, BK, S_NEW,
	R_MISSING, 0, ECA_ERR_IDENTITY_MISMATCH, 0, 0, NULL},
    {"untrusted, roster stale", BOTH, P_ROGUE, M, -1, BK, S_NEW, R_STALE, 0,
	ECA_ERR_UNTRUSTED, 0, 0, NULL},

    /* This host's own enrollment. */
    {"enrolls itself when the rule allows", BOTH, P_GOOD, M, -1, BK, S_NEW,
	R_ENROLLED, 0, 0, 0, 1, NULL},
    {"enrolled already", BOTH, P_GOOD, M, -1, BK, S_ENROLLED, R_ENROLLED, 0, 0,
	0, 0, NULL},
    {"console never enrolls", BOTH, P_GOOD, M, -1, CO, S_NEW, R_ENROLLED, 0, 0,
	0, 0, NULL},
    {"a NAT client never enrolls", BOTH, P_GOOD, M, -1, BK, S_NAT, R_ENROLLED,
	0, 0, 0, 0, NULL},
    {"replication media to media", BOTH, P_GOOD, M, -1, RP, S_MEDIA, R_ENROLLED,
	0, 0, 0, 0, NULL},
    {"replication media to client enrolls", BOTH, P_GOOD, C, -1, RP, S_MEDIA,
	R_ENROLLED, 0, 0, 0, 1, NULL},
    {"disabled here", BOTH, P_GOOD, M, -1, BK, S_DISABLED, R_ENROLLED, 0, 0, 0,
	0, NULL},
    {"the peer says it has no certificate", BOTH, P_NO_HELLO_CERT, M, -1, BK,
	S_NEW, R_ENROLLED, 0, 0, 0, 0, NULL},
    {"own enrollment refused (caller)", CALLING, P_GOOD, M, -1, BK, S_NEW_FAILS,
	R_ENROLLED, 0, ECA_ERR_BANNED, 0, 1,
	"automatic enrollment of " SELF " with " PRIMARY " failed: "
	"banned here"},
    {"own enrollment refused (accepting)", ACCEPTING, P_GOOD, M, -1, BK,
	S_NEW_FAILS, R_ENROLLED, 0, ECA_ERR_BANNED, 0, 1,
	SELF " could not enroll itself with " PRIMARY ": banned here"},

    /* A first judgment that needs a sync. */
    {"missing, the peer would enroll", BOTH, P_GOOD, M, -1, BK, S_ENROLLED,
	R_MISSING, 0, NS, 1, 0, NULL},
    {"missing, enrolling here first", BOTH, P_GOOD, M, -1, BK, S_NEW, R_MISSING,
	0, NS, 1, 1, NULL},
    {"missing, console does not enroll", BOTH, P_GOOD, M, -1, CO, S_ENROLLED,
	R_MISSING, 0, NS, 0, 0, NULL},
    {"missing, its HELLO says no auto", BOTH, P_GOOD, M, 0, BK, S_ENROLLED,
	R_MISSING, 0, NS, 0, 0, NULL},
    {"missing, its HELLO says auto", BOTH, P_GOOD, M, 1, BK, S_ENROLLED,
	R_MISSING, 0, NS, 1, 0, NULL},
    {"another fingerprint", BOTH, P_GOOD, M, -1, BK, S_ENROLLED, R_OTHER_FP, 0,
	NS, 0, 0, NULL},
    {"removed", BOTH, P_GOOD, M, -1, BK, S_ENROLLED, R_REMOVED, 0, NS, 0, 0,
	NULL},
    {"stale roster", BOTH, P_GOOD, M, -1, BK, S_ENROLLED, R_STALE, 0, NS, 0, 0,
	NULL},
    {"in CONFLICT with another enrolled", BOTH, P_GOOD, M, -1, BK, S_ENROLLED,
	R_CONFLICT_OTHER, 0, NS, 0, 0, NULL},

    /* Resumed: the verdict on what the roster holds now. */
    {"stale, resumed", BOTH, P_GOOD, M, -1, BK, S_ENROLLED, R_STALE, 1,
	ECA_ERR_ROSTER_STALE, 0, 0, "ECA_ROSTER_MAX_AGE"},
    {"missing, resumed, it would enroll", BOTH, P_GOOD, M, -1, BK, S_ENROLLED,
	R_MISSING, 1, ECA_ERR_NOT_ENROLLED, 0, 0,
	"enrolls automatically on its first communication, so retry"},
    {"missing, resumed, console", BOTH, P_GOOD, M, -1, CO, S_ENROLLED,
	R_MISSING, 1, ECA_ERR_NOT_ENROLLED, 0, 0,
	"console communication does not enroll automatically"},
    {"missing, resumed, media to media", BOTH, P_GOOD, M, -1, RP, S_MEDIA,
	R_MISSING, 1, ECA_ERR_NOT_ENROLLED, 0, 0,
	"replication between media servers needs manual enrollment"},
    {"missing, resumed, the caller said no", ACCEPTING, P_GOOD, M, 0, BK,
	S_ENROLLED, R_MISSING, 1, ECA_ERR_NOT_ENROLLED, 0, 0,
	"auto-enrollment is disabled on the caller"},
    {"missing, resumed, the server said no", CALLING, P_GOOD, M, 0, BK,
	S_ENROLLED, R_MISSING, 1, ECA_ERR_NOT_ENROLLED, 0, 0,
	"auto-enrollment is disabled on the server"},
    {"removed, resumed", BOTH, P_GOOD, M, -1, BK, S_ENROLLED, R_REMOVED, 1,
	ECA_ERR_NOT_ENROLLED, 0, 0, "its enrollment was removed"},
    {"another fingerprint, resumed", BOTH, P_GOOD, M, -1, BK, S_ENROLLED,
	R_OTHER_FP, 1, ECA_ERR_FINGERPRINT_MISMATCH, 0, 0, "re-enroll it"},
    {"CONFLICT with another enrolled, resumed", BOTH, P_GOOD, M, -1, BK,
	S_ENROLLED, R_CONFLICT_OTHER, 1, ECA_ERR_CONFLICT, 0, 0, "eca approve"},

    /* NAT hosts (docs/nat.md): never an automatic enrollment, either side. */
    {"a NAT peer never makes this host enroll", BOTH, P_NAT, M, -1, BK, S_NEW,
	R_ENROLLED, 0, 0, 0, 0, NULL},
    {"missing NAT peer saying auto: no wait", BOTH, P_NAT, M, 1, BK, S_ENROLLED,
	R_MISSING, 0, NS, 0, 0, NULL},
    {"missing NAT peer, resumed", BOTH, P_NAT, M, 1, BK, S_ENROLLED, R_MISSING,
	1, ECA_ERR_NOT_ENROLLED, 0, 0,
	PEER
	" is not enrolled with " PRIMARY ": communication with a NAT "
	"host does not enroll automatically: run `eca enroll --server " PRIMARY
	"` on " PEER},
    {"missing peer of a NAT host, resumed", BOTH, P_GOOD, M, -1, BK, S_NAT,
	R_MISSING, 1, ECA_ERR_NOT_ENROLLED, 0, 0,
	"communication with a NAT host does not enroll automatically: run "
	"`eca enroll --server " PRIMARY "` on " PEER},
    {"an enrolled NAT peer passes", BOTH, P_NAT, M, -1, BK, S_ENROLLED,
	R_ENROLLED, 0, 0, 0, 0, NULL},
    /* The roster says NAT, the HELLO does not: NAT all the same. */
    {"a NAT peer by the roster never makes this host enroll", BOTH, P_GOOD, M,
	-1, BK, S_NEW, R_NAT, 0, 0, 0, 0, NULL},
    {"a removed NAT peer by the roster, resumed", BOTH, P_GOOD, M, 1, BK,
	S_ENROLLED, R_NAT_REMOVED, 1, ECA_ERR_NOT_ENROLLED, 0, 0,
	"communication with a NAT host does not enroll automatically: run "
	"`eca enroll --server " PRIMARY "` on " PEER},

    /* Decided at once. */
    {"match", BOTH, P_GOOD, M, -1, BK, S_ENROLLED, R_ENROLLED, 0, 0, 0, 0,
	NULL},
    {"match, resumed", BOTH, P_GOOD, M, -1, BK, S_ENROLLED, R_ENROLLED, 1, 0, 0,
	0, NULL},
    {"CONFLICT, the enrolled one presented", BOTH, P_GOOD, M, -1, BK,
	S_ENROLLED, R_CONFLICT, 0, 0, 0, 0, NULL},
    {"banned", BOTH, P_GOOD, M, -1, BK, S_ENROLLED, R_BANNED, 0, ECA_ERR_BANNED,
	0, 0, "eca unban"},
    {"revoked", BOTH, P_GOOD, M, -1, BK, S_ENROLLED, R_REVOKED, 0,
	ECA_ERR_REVOKED, 0, 0, "is revoked"},

    /*
     * Remote enrollment: the calling primary judges the host's
     * certificate alone (its roster entry is what the call changes); the
     * host judges the primary in full, and never enrolls on its own.
     */
    {"enroll: calling, not in the roster", CALLING, P_GOOD, M, -1, EN,
	S_ENROLLED, R_MISSING, 0, 0, 0, 0, NULL},
    {"enroll: calling, another fingerprint", CALLING, P_GOOD, M, -1, EN,
	S_ENROLLED, R_OTHER_FP, 0, 0, 0, 0, NULL},
    {"enroll: calling, banned", CALLING, P_GOOD, M, -1, EN, S_ENROLLED,
	R_BANNED, 0, 0, 0, 0, NULL},
    {"enroll: calling, untrusted", CALLING, P_ROGUE, M, -1, EN, S_ENROLLED,
	R_MISSING, 0, ECA_ERR_UNTRUSTED, 0, 0, "is refused"},
    {"enroll: calling, another host's certificate", CALLING, P_OTHER_HOST, M,
	-1, EN, S_ENROLLED, R_MISSING, 0, ECA_ERR_IDENTITY_MISMATCH, 0, 0,
	NULL},
    {"enroll: calling, no certificate", CALLING, P_NONE, M, -1, EN, S_NEW,
	R_MISSING, 0, ECA_ERR_NO_CLIENT_CERT, 0, 0, NULL},
    {"enroll: accepting, not enrolled here: no self-enrollment", ACCEPTING,
	P_GOOD, M, -1, EN, S_NEW, R_ENROLLED, 0, 0, 0, 0, NULL},
    {"enroll: accepting, caller missing", ACCEPTING, P_GOOD, M, -1, EN,
	S_ENROLLED, R_MISSING, 0, NS, 0, 0, NULL},
    {"enroll: accepting, caller missing, resumed", ACCEPTING, P_GOOD, M, -1, EN,
	S_ENROLLED, R_MISSING, 1, ECA_ERR_NOT_ENROLLED, 0, 0,
	"manual enrollment"},
    {"enroll: accepting, caller banned", ACCEPTING, P_GOOD, M, -1, EN,
	S_ENROLLED, R_BANNED, 0, ECA_ERR_BANNED, 0, 0, "eca unban"},
};

/* ------------------------------------------------------------------ */
/* Fixtures.                                                           */

static void
contains(const char *what, const char *msg, const char *needle)
{
	if (strstr(msg, needle) == NULL)
		fail_msg("case \"%s\": message \"%s\" lacks \"%s\"", what, msg,
		    needle);
}

static X509 *
leaf_of(struct testca *c, const char *name, EVP_PKEY **key)
{
	struct testca_leaf_opts o = {.cn = name, .san = name};
	X509 *x;

	testca_leaf(c, &o, &x, key);
	return x;
}

static int
group_setup(void **state)
{
	(void)state;
	ca = testca_new("Judge");
	rogue = testca_new("Rogue");
	self_leaf = leaf_of(ca, SELF, &self_key);
	peer_leaf = leaf_of(ca, PEER, NULL);
	rogue_leaf = leaf_of(rogue, PEER, NULL);
	other_host_leaf = leaf_of(ca, "media2.example", NULL);
	assert_non_null(chain = sk_X509_new_null());
	assert_true(sk_X509_push(chain, ca->inter) > 0);
	X509_up_ref(ca->inter);
	dir = testca_tmpdir();
	testca_write_host(dir, ca, self_leaf, self_key);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	testca_rmdir(dir);
	sk_X509_pop_free(chain, X509_free);
	X509_free(self_leaf);
	X509_free(peer_leaf);
	X509_free(rogue_leaf);
	X509_free(other_host_leaf);
	EVP_PKEY_free(self_key);
	testca_free(ca);
	testca_free(rogue);
	return 0;
}

/* One host context per judgment: its configuration and state. */
struct fx {
	char *state;
	struct eca_config *cfg;
	struct eca_host *h;
	struct eca_domain *d;
	int enroll_calls;
	int enroll_fails;
	int roster_nat; /* roster_put's records are NAT hosts */
};

static struct fx *hook_fx; /* the host the enrollment hook acts for */

/* This host's enrollment, as the primary would answer it. */
static int
hook_enroll(struct eca_host *h, struct eca_domain *d,
    enum eca_enroll_outcome *outcome, struct eca_err *err)
{
	hook_fx->enroll_calls++;
	if (hook_fx->enroll_fails)
		return eca_err_set(err, ECA_ERR_BANNED, "banned here");
	d->enrolled = 1;
	memcpy(d->enrolled_fp, h->self.fingerprint, sizeof(d->enrolled_fp));
	*outcome = ECA_OUTCOME_ENROLLED;
	return 0;
}

static void
fx_host(struct fx *f, enum self_case self)
{
	char text[4096];
	struct eca_err e;

	memset(f, 0, sizeof(*f));
	f->state = testca_tmpdir();
	/* The primary's port is closed: a call to it would fail. */
	snprintf(text, sizeof(text),
	    "CLIENT_NAME = " SELF "\n"
	    "ROLE = %s\n"
	    "SERVER = " PRIMARY " 127.0.0.1:1\n"
	    "STATE_DIR = %s\n"
	    "ECA_CERT_PATH = %s/cert.pem\n"
	    "ECA_PRIVATE_KEY_PATH = %s/key.pem\n"
	    "ECA_TRUST_STORE_PATH = %s/trust.pem\n"
	    "ECA_CRL_CHECK = DISABLE\n"
	    "ECA_ROSTER_MAX_AGE = 3600\n%s%s",
	    self == S_MEDIA ? "media" : "client", f->state, dir, dir, dir,
	    self == S_DISABLED ? "ECA_DISABLE_AUTO_ENROLLMENT = YES\n" : "",
	    self == S_NAT ? "NAT_CLIENT = YES\n" : "");
	eca_err_clear(&e);
	if (eca_config_parse(text, strlen(text), "test.conf", &f->cfg, &e) != 0)
		fail_msg("config: %s", e.msg);
	if (eca_host_new(NULL, f->cfg, &f->h, &e) != 0)
		fail_msg("host: %s", e.msg);
	assert_non_null(f->d = eca_host_domain(f->h, PRIMARY));
	if (self == S_ENROLLED) {
		f->d->enrolled = 1;
		memcpy(f->d->enrolled_fp, f->h->self.fingerprint,
		    sizeof(f->d->enrolled_fp));
	}
	f->enroll_fails = self == S_NEW_FAILS;
	hook_fx = f;
}

static void
fx_free(struct fx *f)
{
	eca_host_free(f->h);
	eca_config_free(f->cfg);
	testca_rmdir(f->state);
	hook_fx = NULL;
}

/* Apply one record (host, state, certificate) as a sync synced at `at`. */
static void
roster_put(struct fx *f, const char *host, enum eca_state st,
    const char *fp_hex, int64_t at)
{
	struct eca_roster_delta *delta = NULL;
	struct eca_change c;
	struct eca_err e;
	int64_t v;
	json_t *j;
	char *s;

	v = eca_roster_version(f->d->roster);
	memset(&c, 0, sizeof(c));
	snprintf(c.host, sizeof(c.host), "%s", host);
	snprintf(c.host_id, sizeof(c.host_id),
	    "01234567-89ab-4cde-8f01-%012llx", (unsigned long long)v + 1);
	c.state = st;
	snprintf(c.fingerprint, sizeof(c.fingerprint), "%s", fp_hex);
	memset(c.spki_fingerprint, 'c', ECA_FP_HEX_LEN);
	c.not_after = 1900000000;
	c.version = v + 1;
	c.nat = f->roster_nat;
	assert_non_null(j = eca_wire_roster(
			    &(struct eca_wire_roster_page){.primary = PRIMARY,
				.since = v,
				.version = v + 1,
				.next = v + 1,
				.full = v == 0},
			    &c, 1));
	assert_non_null(s = json_dumps(j, JSON_COMPACT));
	eca_err_clear(&e);
	if (eca_roster_delta_parse(s, strlen(s), &delta, &e) != 0 ||
	    eca_roster_apply(f->d->roster, delta, at, &e) != 0)
		fail_msg("roster: %s", e.msg);
	eca_roster_delta_free(delta);
	free(s);
	json_decref(j);
}

static void
fx_roster(struct fx *f, enum roster_case rc)
{
	static const enum eca_state states[] = {
	    [R_ENROLLED] = ECA_STATE_ENROLLED,
	    [R_OTHER_FP] = ECA_STATE_ENROLLED,
	    [R_REMOVED] = ECA_STATE_REMOVED,
	    [R_BANNED] = ECA_STATE_BANNED,
	    [R_REVOKED] = ECA_STATE_REVOKED,
	    [R_CONFLICT] = ECA_STATE_CONFLICT,
	    [R_CONFLICT_OTHER] = ECA_STATE_CONFLICT,
	    [R_STALE] = ECA_STATE_ENROLLED,
	    [R_NAT] = ECA_STATE_ENROLLED,
	    [R_NAT_REMOVED] = ECA_STATE_REMOVED,
	};
	struct eca_certinfo ci;
	char other[ECA_FP_HEX_LEN + 1];
	int64_t now = (int64_t)time(NULL);

	assert_int_equal(eca_x509_info(peer_leaf, &ci, NULL), 0);
	memset(other, 'a', ECA_FP_HEX_LEN);
	other[ECA_FP_HEX_LEN] = '\0';
	if (rc == R_MISSING) {
		roster_put(f, "someone-else.example", ECA_STATE_ENROLLED, other,
		    now);
		return;
	}
	f->roster_nat = rc == R_NAT || rc == R_NAT_REMOVED;
	roster_put(f, PEER, states[rc],
	    rc == R_OTHER_FP || rc == R_CONFLICT_OTHER ? other : ci.fingerprint,
	    rc == R_STALE ? now - 7200 : now);
}

static void
input_of(const struct jcase *c, enum eca_judge_side side, struct fx *f,
    struct eca_judge_input *in)
{
	memset(in, 0, sizeof(*in));
	in->side = side;
	in->h = f->h;
	in->d = f->d;
	in->primary = PRIMARY;
	in->peer = PEER;
	switch (c->cert) {
	case P_GOOD:
	case P_NO_HELLO_CERT:
	case P_NAT:
		in->leaf = peer_leaf;
		break;
	case P_ROGUE:
		in->leaf = rogue_leaf;
		break;
	case P_OTHER_HOST:
		in->leaf = other_host_leaf;
		break;
	case P_NONE:
		in->leaf = NULL;
		break;
	}
	in->chain = chain;
	in->purpose = c->purpose;
	in->peer_side.role = c->peer_role;
	in->peer_side.has_cert = c->cert != P_NO_HELLO_CERT;
	in->peer_side.nat = c->cert == P_NAT;
	in->has_autoenroll = c->says_auto >= 0;
	in->autoenroll = c->says_auto > 0;
	in->resumed = c->resumed;
	in->enroll = hook_enroll;
}

/*
 * Judge c from side.  nowait: first as a caller that may not wait (an
 * I/O thread): where this host would enroll itself, the judgment stops
 * there, having enrolled nothing, and is judged again, with the same
 * result, by a caller that may wait; everywhere else it decides alike.
 */
static void
judge_case(const struct jcase *c, enum eca_judge_side side, int nowait)
{
	static const char *const side_names[] = {"calling", "accepting"};
	struct eca_judge_result *res;
	struct eca_judge_input in;
	struct fx f;
	int r;

	assert_non_null(res = malloc(sizeof(*res)));
	fx_host(&f, c->self);
	fx_roster(&f, c->roster);
	input_of(c, side, &f, &in);
	eca_judge_init(res);
	if (nowait) {
		in.nowait = 1;
		r = eca_judge_peer(&in, res);
		if (c->enrolls > 0) {
			if (r != ECA_JUDGE_WOULD_WAIT)
				fail_msg("case \"%s\" (%s, nowait): %d, "
					 "expected WOULD_WAIT",
				    c->what, side_names[side], r);
			assert_int_equal(res->end, ECA_JUDGE_END_WAIT);
			assert_int_equal(f.enroll_calls, 0);
			assert_false(res->autoenrolled);
			in.nowait = 0;
			r = eca_judge_peer(&in, res);
		}
	} else
		r = eca_judge_peer(&in, res);
	if (r != c->code)
		fail_msg("case \"%s\" (%s): %d %s, expected %d (%s)", c->what,
		    side_names[side], r, res->verdict.message, c->code,
		    c->code < 0 ? eca_err_name(c->code) : "");
	assert_int_equal(res->code, r);
	if (f.enroll_calls != c->enrolls)
		fail_msg("case \"%s\" (%s): %d enrollments, expected %d",
		    c->what, side_names[side], f.enroll_calls, c->enrolls);
	assert_int_equal(res->autoenrolled, c->enrolls && !f.enroll_fails);
	assert_true(res->autoenroll_us >= 0 || c->enrolls == 0);
	if (r == ECA_JUDGE_NEED_SYNC) {
		assert_int_equal(res->end, ECA_JUDGE_END_SYNC);
		if (res->wait_enroll != c->wait)
			fail_msg("case \"%s\" (%s): wait %d, expected %d",
			    c->what, side_names[side], res->wait_enroll,
			    c->wait);
	} else
		assert_int_equal(res->wait_enroll, 0);
	if (r < 0) {
		assert_int_equal(res->verdict.code, r);
		assert_true(res->verdict.message[0] != '\0');
		if (c->needle != NULL)
			contains(c->what, res->verdict.message, c->needle);
	}
	/* The certificate is checked first, whatever follows. */
	assert_true(res->cert_done);
	assert_true(res->cert_us >= 0);
	fx_free(&f);
	free(res);
}

/* Every row of the table, from each end it names. */
static void
judge_table(int nowait)
{
	const struct jcase *c;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = &cases[i];
		if (c->sides != ACCEPTING)
			judge_case(c, ECA_JUDGE_CALLING, nowait);
		if (c->sides != CALLING)
			judge_case(c, ECA_JUDGE_ACCEPTING, nowait);
	}
}

static void
test_every_branch_from_both_ends(void **state)
{
	(void)state;
	judge_table(0);
}

/*
 * The same table judged by a caller that may not wait (ecad's I/O
 * threads): it stops before this host's own enrollment and nowhere else.
 */
static void
test_a_judgment_that_may_not_wait_stops_only_before_waiting(void **state)
{
	(void)state;
	judge_table(1);
}

/* ------------------------------------------------------------------ */
/* Beyond the table.                                                   */

static void
test_missing_arguments_are_an_internal_error(void **state)
{
	struct eca_judge_result *res;
	struct eca_judge_input in;

	(void)state;
	assert_non_null(res = malloc(sizeof(*res)));
	memset(&in, 0, sizeof(in));
	eca_judge_init(res);
	assert_int_equal(eca_judge_peer(&in, res), ECA_ERR_INTERNAL);
	assert_int_equal(res->end, ECA_JUDGE_END_ERROR);
	assert_false(res->cert_done);
	assert_int_equal(eca_judge_peer(NULL, res), ECA_ERR_INTERNAL);
	free(res);
}

static void
test_a_resumed_judgment_keeps_the_certificate_check(void **state)
{
	struct eca_judge_result *res;
	struct eca_judge_input in;
	struct eca_certinfo ci;
	struct fx f;

	(void)state;
	assert_non_null(res = malloc(sizeof(*res)));
	fx_host(&f, S_NEW);
	fx_roster(&f, R_MISSING);
	input_of(&cases[0], ECA_JUDGE_ACCEPTING, &f, &in);
	in.leaf = peer_leaf;
	in.purpose = ECA_PURPOSE_BACKUP;
	eca_judge_init(res);
	assert_int_equal(eca_judge_peer(&in, res), ECA_JUDGE_NEED_SYNC);
	assert_true(res->wait_enroll);
	assert_true(res->autoenrolled);
	assert_int_equal(res->outcome, ECA_OUTCOME_ENROLLED);
	/* The sync brings the peer in; the judgment resumes. */
	assert_int_equal(eca_x509_info(peer_leaf, &ci, NULL), 0);
	roster_put(&f, PEER, ECA_STATE_ENROLLED, ci.fingerprint,
	    (int64_t)time(NULL));
	in.resumed = 1;
	/* Checked again, an untrusted certificate would be UNTRUSTED. */
	in.leaf = rogue_leaf;
	assert_int_equal(eca_judge_peer(&in, res), 0);
	assert_string_equal(res->verdict.peer.fingerprint, ci.fingerprint);
	/* Enrolled once, and it stays known that it did. */
	assert_int_equal(f.enroll_calls, 1);
	assert_true(res->autoenrolled);
	fx_free(&f);
	free(res);
}

static void
test_a_need_sync_reports_the_syncs_finished_so_far(void **state)
{
	struct eca_judge_result *res;
	struct eca_judge_input in;
	struct fx f;

	(void)state;
	assert_non_null(res = malloc(sizeof(*res)));
	fx_host(&f, S_ENROLLED);
	fx_roster(&f, R_MISSING);
	f.d->sync_done = 7;
	input_of(&cases[0], ECA_JUDGE_ACCEPTING, &f, &in);
	in.leaf = peer_leaf;
	eca_judge_init(res);
	assert_int_equal(eca_judge_peer(&in, res), ECA_JUDGE_NEED_SYNC);
	assert_int_equal(res->synced, 7);
	fx_free(&f);
	free(res);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_missing_arguments_are_an_internal_error),
	    cmocka_unit_test(test_every_branch_from_both_ends),
	    cmocka_unit_test(
		test_a_judgment_that_may_not_wait_stops_only_before_waiting),
	    cmocka_unit_test(
		test_a_resumed_judgment_keeps_the_certificate_check),
	    cmocka_unit_test(
		test_a_need_sync_reports_the_syncs_finished_so_far),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
