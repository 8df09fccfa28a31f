/*
 * api.c - the primary's /v1 API: a route table, one handler per route,
 * and every answer through reply_json() or reply_error().
 *
 * A request runs on its worker's thread.  Reads and decisions that write
 * nothing (prechecks, UNCHANGED enrollments, refusals) are answered from
 * the worker's read-only registry connection; anything that would write
 * is queued to the writer thread (writer.c), which decides again inside
 * its transaction, and the reply is sent from job_done_cb once the group
 * commit is durable.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/ssl.h>

#include "audit.h"
#include "apiparse.h"
#include "crl.h"
#include "ecad.h"
#include "log.h"
#include "tls.h"
#include "roster.h"
#include "text.h"
#include "wire.h"

#ifndef ECA_VERSION
#define ECA_VERSION "0.0.0"
#endif

#define HISTORY_MAX 1000
#define MAPPINGS_MAX 10000	/* GET /v1/mappings shows at most this many */

/* One request being handled. */
struct call {
	struct evhttp_request *req;
	struct ecad *d;
	struct ecad_worker *w;
	struct ecad_snap *snap;		/* reference held for the call */
	struct ecad_conn *conn;		/* TLS only; NULL on the control one */
	SSL *ssl;
	int control;
	int admin;			/* -1 not decided yet */
	uid_t uid;			/* control socket caller */
	const char *method;
	char path[256];
	char name[ECA_HOST_MAX];	/* the host concerned, for the log */
	char fp[ECA_FP_HEX_LEN + 1];	/* the caller's certificate */
	char source[ECA_SOURCE_MAX];
	char actor[ECA_DN_MAX];
	int journaled;			/* the writer journaled the outcome */
	int precheck;			/* a dry run (POST precheck) */
	int no_route;			/* no route serves the path */
};

/* A request waiting for the writer. */
struct api_job {
	struct ecad_job job;
	struct call c;			/* snap and conn are NULL here */
};

typedef void handler_fn(struct call *);

static handler_fn h_roster;

static handler_fn h_health, h_stats, h_list, h_enroll, h_show, h_remove,
    h_history, h_approve, h_reject, h_ban, h_unban, h_maps, h_map_add,
    h_map_remove;

/* "*" matches one path segment: the host NAME. */
static const struct route {
	enum evhttp_cmd_type method;
	const char *pattern;
	handler_fn *fn;
} routes[] = {
	{ EVHTTP_REQ_GET, "/v1/health", h_health },
	{ EVHTTP_REQ_GET, "/v1/stats", h_stats },
	{ EVHTTP_REQ_GET, "/v1/roster", h_roster },
	{ EVHTTP_REQ_GET, "/v1/enrollments", h_list },
	{ EVHTTP_REQ_POST, "/v1/enrollments", h_enroll },
	{ EVHTTP_REQ_GET, "/v1/enrollments/*", h_show },
	{ EVHTTP_REQ_DELETE, "/v1/enrollments/*", h_remove },
	{ EVHTTP_REQ_GET, "/v1/enrollments/*/history", h_history },
	{ EVHTTP_REQ_POST, "/v1/enrollments/*/approve", h_approve },
	{ EVHTTP_REQ_POST, "/v1/enrollments/*/reject", h_reject },
	{ EVHTTP_REQ_POST, "/v1/enrollments/*/ban", h_ban },
	{ EVHTTP_REQ_POST, "/v1/enrollments/*/unban", h_unban },
	{ EVHTTP_REQ_GET, "/v1/mappings", h_maps },
	{ EVHTTP_REQ_POST, "/v1/mappings", h_map_add },
	{ EVHTTP_REQ_DELETE, "/v1/mappings/*", h_map_remove },
};

static const char *
method_name(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	default:
		return "?";
	}
}

/* Send body (consumed) with status. */
static void
reply_json(struct call *c, int status, json_t *body)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(c->req);
	struct evkeyvalq *h = evhttp_request_get_output_headers(c->req);
	char *s = NULL;

	if (body != NULL)
		s = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (s == NULL) {
		status = 500;
		evbuffer_add_printf(out, "{\"error\":{\"code\":\"NOMEM\","
		    "\"message\":\"out of memory\"}}\n");
	} else {
		evbuffer_add(out, s, strlen(s));
		evbuffer_add(out, "\n", 1);
		free(s);
	}
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_send_reply(c->req, status, NULL, NULL);
}

/*
 * A refusal goes into the audit journal (via the writer, not waited for)
 * when it is a refusal by policy (exit code 5: untrusted, expired,
 * identity mismatch, forbidden, banned, ...) on any call, or any refusal
 * of a call that asks for a change.  Not journaled: 429 BUSY (storm
 * control: the host retries) and what the writer already journaled.
 */
static void
audit_refusal(struct call *c, int code)
{
	struct eca_audit_entry e;
	const char *actor = c->actor;

	if (c->journaled || code == ECA_ERR_BUSY)
		return;
	if (strcmp(c->method, "GET") == 0 &&
	    eca_err_exit_code(code) != ECA_EXIT_REFUSED)
		return;
	memset(&e, 0, sizeof(e));
	snprintf(e.event, sizeof(e.event), "%s",
	    c->precheck ? "precheck_refused" : "refused");
	snprintf(e.reason, sizeof(e.reason), "%s", eca_err_name(code));
	/*
	 * Who tried: the certificate's subject (a host's claimed name is
	 * not proof, e.g. on IDENTITY_MISMATCH), else the administrator or
	 * control-socket caller.
	 */
	if (c->admin != 1 && c->conn != NULL &&
	    c->conn->info.subject[0] != '\0')
		actor = c->conn->info.subject;
	snprintf(e.actor, sizeof(e.actor), "%s", actor);
	snprintf(e.host, sizeof(e.host), "%s", c->name);
	snprintf(e.fingerprint, sizeof(e.fingerprint), "%s", c->fp);
	if (c->conn != NULL)
		snprintf(e.spki_fingerprint, sizeof(e.spki_fingerprint), "%s",
		    c->conn->info.spki_fingerprint);
	snprintf(e.source, sizeof(e.source), "%s", c->source);
	writer_audit(c->d->writer, &e);
}

static int call_peer(struct call *, struct eca_err *);

/*
 * A refusal that costs the caller nothing: no verified client
 * certificate, or a path no route serves.  Counted per source and
 * journaled as a summary (refusals.c), not logged and journaled one by
 * one, so that strangers cannot grow the journal or the log.
 */
static int
stranger(struct call *c, int code)
{
	if (c->control || c->journaled || code == ECA_ERR_BUSY)
		return 0;
	if (c->no_route || c->conn == NULL)
		return 1;
	return call_peer(c, NULL) != 0;
}

/* The caller's address without its port ("[v6]:port" or "v4:port"). */
static void
source_addr(const struct call *c, char *buf, size_t len)
{
	const char *s = c->source, *e;

	if (s[0] == '[' && (e = strchr(s, ']')) != NULL)
		s++;
	else
		e = strrchr(s, ':');
	if (e == NULL)
		e = s + strlen(s);
	snprintf(buf, len, "%.*s", (int)(e - s), s);
}

/*
 * THE error reply: {"error":{"code","message"}} (plus "enrollment" when
 * rec is given, for 409) with the code's status unless status is set.
 * Every refusal is logged with the host and fingerprint, never the cert.
 */
static void
reply_errorv(struct call *c, int status, int code,
    const struct eca_enrollment *rec, const char *fmt, va_list ap)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(c->req);
	char msg[ECA_ERR_MSG_MAX], ra[16], addr[ECA_SOURCE_MAX];
	json_t *body;
	int counted = 0;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (msg[0] == '\0')
		snprintf(msg, sizeof(msg), "%s", eca_strerror(code));
	if (status == 0)
		status = eca_err_http_status(code);
	atomic_fetch_add(&c->d->stats.refusals, 1);
	if (stranger(c, code)) {
		source_addr(c, addr, sizeof(addr));
		counted = refusals_note(c->d, addr, code, c->method,
		    c->path) == 0;
	}
	if (!counted) {
		log_info_fields(ECA_LOG_FIELDS({ "HOST", c->name },
		    { "FINGERPRINT", c->fp }, { "REASON", eca_err_name(code) },
		    { "PRIMARY", c->d->cfg->client_name }),
		    "refused %s %s from %s (host %s, fingerprint %s): %s: %s",
		    c->method, c->path, c->source, c->name[0] ? c->name : "-",
		    c->fp[0] ? c->fp : "-", eca_err_name(code), msg);
		audit_refusal(c, code);
	}
	if (code == ECA_ERR_BUSY) {
		/* BUSY_RETRY_AFTER is restart-only: the start-up config. */
		snprintf(ra, sizeof(ra), "%d", c->d->cfg->busy_retry_after);
		evhttp_add_header(h, "Retry-After", ra);
		atomic_fetch_add(&c->d->stats.busy, 1);
	}
	body = eca_wire_error(code, msg);
	if (body != NULL && rec != NULL)
		json_object_set_new(body, "enrollment",
		    eca_wire_enrollment(rec));
	reply_json(c, status, body);
}

static void reply_error(struct call *, int, const char *, ...)
    ECA_PRINTF(3, 4);
static void
reply_error(struct call *c, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_errorv(c, 0, code, NULL, fmt, ap);
	va_end(ap);
}

static void reply_error_status(struct call *, int, int,
    const struct eca_enrollment *, const char *, ...) ECA_PRINTF(5, 6);
static void
reply_error_status(struct call *c, int status, int code,
    const struct eca_enrollment *rec, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_errorv(c, status, code, rec, fmt, ap);
	va_end(ap);
}

static void mark_revoked(struct call *);
static int store_dn_map(void *, const char *, char *, size_t);

/*
 * The caller's certificate against the peer policy (chain, validity,
 * key, signature, usage).  Run once per TLS connection and reused by its
 * next requests, as long as the trust store (the snapshot, replaced by
 * SIGHUP) and the CRL cache (its generation) are the ones it was reached
 * with; after a change the next request is judged again.
 */
static int
call_peer(struct call *c, struct eca_err *err)
{
	struct ecad_conn *cn = c->conn;
	struct eca_peer_policy pol;
	STACK_OF(X509) *chain = NULL;
	X509 *leaf = NULL;
	int r;

	if (cn == NULL)
		return eca_err_set(err, ECA_ERR_NO_CLIENT_CERT,
		    "this call needs the host's TLS client certificate; the "
		    "control socket has none (run `eca` on the host itself)");
	if (cn->checked && (cn->checked_snap != c->snap->gen ||
	    cn->checked_crls != eca_crl_cache_gen(c->d->crls))) {
		cn->checked = 0;
		X509_free(cn->leaf);
		cn->leaf = NULL;
		memset(&cn->info, 0, sizeof(cn->info));
	}
	if (!cn->checked) {
		/* Before the check: a change during it means one more. */
		cn->checked_snap = c->snap->gen;
		cn->checked_crls = eca_crl_cache_gen(c->d->crls);
		eca_err_clear(&cn->err);
		r = eca_tls_peer_chain(c->ssl, &leaf, &chain, &cn->err);
		if (r == 0 && leaf == NULL)
			r = ECA_ERR_NO_CLIENT_CERT;
		if (r == ECA_ERR_NO_CLIENT_CERT)
			eca_err_set(&cn->err, r, "no client certificate was "
			    "presented (configure ECA_CERT_PATH and "
			    "ECA_PRIVATE_KEY_PATH on the host; eca sends it)");
		if (r == 0) {
			memset(&pol, 0, sizeof(pol));
			pol.trust = c->snap->cred->trust;
			pol.identity = c->snap->cfg->identity;
			pol.crls = c->d->crls;
			pol.crl_check = c->snap->cfg->crl_check;
			pol.vcache = c->snap->vcache;
			r = eca_x509_check_peer(&pol, leaf, chain, NULL,
			    &cn->info, &cn->err);
		}
		if (r == 0) {
			cn->leaf = leaf;
			leaf = NULL;
		}
		cn->code = r;
		cn->checked = 1;
		/* Issue 4 §2: the registry learns what the CRL says. */
		if (r == ECA_ERR_REVOKED)
			mark_revoked(c);
		X509_free(leaf);
		sk_X509_pop_free(chain, X509_free);
	}
	if (cn->info.fingerprint[0] != '\0')
		snprintf(c->fp, sizeof(c->fp), "%s", cn->info.fingerprint);
	if (cn->code != 0 && err != NULL)
		*err = cn->err;
	return cn->code;
}

/* ECA_IDENTITY = DN on the primary: the registry's subject mapping. */
static int
store_dn_map(void *arg, const char *subject, char *host, size_t size)
{
	struct call *c = arg;
	struct eca_dnmap m;
	int r;

	r = eca_store_dnmap_by_subject(c->w->rd, c->d->cfg->client_name,
	    subject, &m, NULL);
	if (r == 0)
		snprintf(host, size, "%s", m.host);
	return r;
}

/*
 * Does the caller's certificate name host under ECA_IDENTITY?  Under DN
 * only through the administrator's mapping (`eca map add`).
 */
static int
caller_names(struct call *c, const char *host, struct eca_err *err)
{
	if (c->snap->cfg->identity == ECA_ID_DN)
		return eca_x509_identity_dn(c->conn->leaf, store_dn_map, c,
		    host, err);
	return eca_x509_identity_matches(c->conn->leaf,
	    c->snap->cfg->identity, host, err);
}

/* Is the caller an administrator?  Sets c->actor when it is. */
static int
call_admin(struct call *c)
{
	const struct eca_config *cfg = c->snap->cfg;
	size_t i;

	if (c->admin >= 0)
		return c->admin;
	c->admin = 0;
	if (c->control || call_peer(c, NULL) != 0)
		return 0;
	for (i = 0; i < cfg->nadmins; i++) {
		if (eca_x509_identity_matches(c->conn->leaf, cfg->identity,
		    cfg->admins[i], NULL) == 0) {
			snprintf(c->actor, sizeof(c->actor), "%s",
			    cfg->admins[i]);
			c->admin = 1;
			break;
		}
	}
	return c->admin;
}

/* 0 if the caller is an administrator, else refuses and returns -1. */
static int
require_admin(struct call *c)
{
	struct eca_err e;
	int r;

	if (call_admin(c))
		return 0;
	if (c->control)
		reply_error(c, ECA_ERR_FORBIDDEN, "uid %u may not administer "
		    "primary %s (run eca as root or as the daemon's user)",
		    (unsigned)c->uid, c->d->cfg->client_name);
	else if ((r = call_peer(c, &e)) != 0)
		reply_error(c, r, "%s", e.msg);
	else
		reply_error(c, ECA_ERR_FORBIDDEN, "your certificate's "
		    "identity is not an administrator of primary %s (add it "
		    "to ADMIN_IDENTITY on the primary, or run the command on "
		    "the primary)", c->d->cfg->client_name);
	return -1;
}

/*
 * 0 if the caller is an administrator or the host NAME itself (*self
 * set), else refuses and returns -1.
 */
static int
require_host_or_admin(struct call *c, const char *name, int *self)
{
	struct eca_err e;
	int r;

	*self = 0;
	if (call_admin(c))
		return 0;
	if (c->control) {
		reply_error(c, ECA_ERR_FORBIDDEN, "uid %u may not use the "
		    "control socket of primary %s (run eca as root or as the "
		    "daemon's user)", (unsigned)c->uid,
		    c->d->cfg->client_name);
		return -1;
	}
	if ((r = call_peer(c, &e)) != 0) {
		reply_error(c, r, "%s", e.msg);
		return -1;
	}
	if (caller_names(c, name, NULL) != 0) {
		reply_error(c, ECA_ERR_FORBIDDEN, "your certificate does not "
		    "name %s: a host may only see or remove its own "
		    "enrollment (administrators: see ADMIN_IDENTITY)", name);
		return -1;
	}
	snprintf(c->actor, sizeof(c->actor), "%s", name);
	*self = 1;
	return 0;
}

static int
read_body(struct call *c, const char **buf, size_t *len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(c->req);

	*len = evbuffer_get_length(in);
	if (*len > ECA_BODY_MAX) {
		reply_error(c, ECA_ERR_TOO_LARGE, "the request body has %zu "
		    "bytes; at most %d are accepted", *len, ECA_BODY_MAX);
		return -1;
	}
	*buf = (const char *)evbuffer_pullup(in, -1);
	if (*buf == NULL)
		*buf = "";
	return 0;
}

/* Fetch NAME's record on the read connection; 1 found, 0 none, -1 replied. */
static int
get_record(struct call *c, const char *name, struct eca_enrollment *rec)
{
	struct eca_err e;
	int r;

	eca_err_clear(&e);
	r = eca_store_get(c->w->rd, c->d->cfg->client_name, name, rec, &e);
	if (r == 0)
		return 1;
	if (r == ECA_ERR_NOT_FOUND)
		return 0;
	reply_error(c, r, "%s", e.msg);
	return -1;
}

static void
reply_not_enrolled(struct call *c, const char *name)
{
	reply_error(c, ECA_ERR_NOT_ENROLLED, "%s is not enrolled with primary "
	    "%s (run `eca enroll` on %s)", name, c->d->cfg->client_name,
	    name);
}

static void
h_health(struct call *c)
{
	/* Role and name are restart-only: the start-up configuration's. */
	const struct eca_config *cfg = c->d->cfg;

	reply_json(c, 200, json_pack("{s:s, s:s, s:s, s:s}", "status", "ok",
	    "role", eca_role_name(cfg->role), "primary", cfg->client_name,
	    "version", ECA_VERSION));
}

static void
h_stats(struct call *c)
{
	struct ecad_stats *s = &c->d->stats;

	if (require_admin(c) != 0)
		return;
	reply_json(c, 200, json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:I, s:I, s:I}",
	    "enroll_requests", (json_int_t)atomic_load(&s->enroll_requests),
	    "roster_requests", (json_int_t)atomic_load(&s->roster_requests),
	    "busy_replies", (json_int_t)atomic_load(&s->busy),
	    "requests", (json_int_t)atomic_load(&s->requests),
	    "enrollments_written", (json_int_t)atomic_load(&s->written),
	    "commits", (json_int_t)atomic_load(&s->commits),
	    "refusals", (json_int_t)atomic_load(&s->refusals),
	    "connections", (json_int_t)atomic_load(&s->connections),
	    "open_connections", (json_int_t)atomic_load(&s->open),
	    "writer_pending", (json_int_t)writer_pending(c->d->writer)));
}

/* The request's query string, or NULL. */
static const char *
query_of(struct call *c)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(c->req);

	return uri != NULL ? evhttp_uri_get_query(uri) : NULL;
}

/* ?state=S&after=HOST&limit=N; 0 or -1 (replied). */
static int
list_query(struct call *c, int *state, char *after, size_t afterlen,
    long *limit)
{
	struct api_list_query lq;
	struct eca_err e;

	eca_err_clear(&e);
	if (api_parse_list_query(query_of(c), &lq, &e) != 0) {
		reply_error(c, e.code, "%s", e.msg);
		return -1;
	}
	*state = lq.state;
	snprintf(after, afterlen, "%s", lq.after);
	*limit = lq.limit;
	return 0;
}

static void
h_list(struct call *c)
{
	struct eca_enrollment *recs = NULL;
	char after[ECA_HOST_MAX];
	struct eca_err e;
	json_t *arr = NULL, *next;
	size_t n = 0, i;
	long limit;
	int state, r;

	if (require_admin(c) != 0 ||
	    list_query(c, &state, after, sizeof(after), &limit) != 0)
		return;
	eca_err_clear(&e);
	/* One more than asked tells whether there is a next page. */
	if ((r = eca_store_list(c->w->rd, c->d->cfg->client_name, state,
	    after[0] ? after : NULL, (size_t)limit + 1, &recs, &n, &e)) != 0) {
		reply_error(c, r, "%s", e.msg);
		goto out;
	}
	if ((arr = json_array()) == NULL)
		goto nomem;
	for (i = 0; i < n && i < (size_t)limit; i++)
		if (json_array_append_new(arr,
		    eca_wire_enrollment(&recs[i])) != 0)
			goto nomem;
	next = n > (size_t)limit ? json_string(recs[limit - 1].host) :
	    json_null();
	reply_json(c, 200, json_pack("{s:o, s:o}", "enrollments", arr,
	    "next", next));
	arr = NULL;
	goto out;
nomem:
	reply_error(c, ECA_ERR_NOMEM, "out of memory listing enrollments");
out:
	json_decref(arr);
	free(recs);
}

static void
h_show(struct call *c)
{
	struct eca_enrollment rec;
	struct eca_candidate *cands = NULL;
	struct eca_err e;
	json_t *body;
	size_t n = 0;
	int self, have, r;

	if (require_host_or_admin(c, c->name, &self) != 0)
		return;
	if ((have = get_record(c, c->name, &rec)) < 0)
		return;
	if (have == 0) {
		reply_not_enrolled(c, c->name);
		return;
	}
	/* Every waiting certificate, so an approval names the one seen. */
	eca_err_clear(&e);
	if (rec.ncandidates > 0 && (r = eca_store_candidates(c->w->rd,
	    c->d->cfg->client_name, c->name, &cands, &n, &e)) != 0) {
		reply_error(c, r, "%s", e.msg);
		return;
	}
	body = eca_wire_enrollment(&rec);
	if (body != NULL && eca_wire_add_candidates(body, cands, n) != 0) {
		json_decref(body);
		body = NULL;
	}
	free(cands);
	reply_json(c, 200, body);
}

static void
h_history(struct call *c)
{
	struct eca_history_entry *h = NULL;
	struct eca_enrollment rec;
	struct eca_err e;
	json_t *arr = NULL;
	size_t n = 0, i;
	int have, r;

	if (require_admin(c) != 0)
		return;
	if ((have = get_record(c, c->name, &rec)) < 0)
		return;
	if (have == 0) {
		reply_not_enrolled(c, c->name);
		return;
	}
	eca_err_clear(&e);
	if ((r = eca_store_history(c->w->rd, c->d->cfg->client_name,
	    c->name, HISTORY_MAX, &h, &n, &e)) != 0) {
		reply_error(c, r, "%s", e.msg);
		return;
	}
	if ((arr = json_array()) == NULL)
		goto nomem;
	for (i = 0; i < n; i++)
		if (json_array_append_new(arr,
		    eca_wire_history_entry(&h[i])) != 0)
			goto nomem;
	reply_json(c, 200, json_pack("{s:o}", "history", arr));
	free(h);
	return;
nomem:
	json_decref(arr);
	free(h);
	reply_error(c, ECA_ERR_NOMEM, "out of memory reading the history");
}

/*
 * THE rule for "too old to derive a delta": records are never deleted, so
 * any since up to the current version has an exact delta; 0 asks for
 * everything, and a since beyond the current version (a roster from a
 * registry restored from backup, or from another one) cannot be trusted.
 * Compaction, when it comes, raises the oldest derivable version here.
 */
static int
roster_full(int64_t since, int64_t current)
{
	const int64_t oldest = 0;

	return since <= oldest || since > current;
}

/* ?since=V&limit=N; 0 or -1 (replied). */
static int
roster_query(struct call *c, int64_t *since, long *limit)
{
	struct eca_err e;

	eca_err_clear(&e);
	if (api_parse_roster_query(query_of(c), since, limit, &e) != 0) {
		reply_error(c, e.code, "%s", e.msg);
		return -1;
	}
	return 0;
}

/*
 * GET /v1/roster: the records changed after ?since=, in version order, a
 * page at a time (docs/roster.md).  Any host whose certificate passes the
 * peer check may read it, for peers judge each other with it; admins too.
 */
static void
h_roster(struct call *c)
{
	struct eca_change *ch = NULL;
	struct eca_dnmap *maps = NULL;
	struct eca_err e;
	json_t *body;
	int64_t since, current, next, last = 0;
	size_t n = 0, nmaps = 0, i, j;
	long limit;
	int r, full, more;

	/* Counted before any check: every request that reached us. */
	atomic_fetch_add(&c->d->stats.roster_requests, 1);
	eca_err_clear(&e);
	if (!c->control && (r = call_peer(c, &e)) != 0) {
		reply_error(c, r, "%s", e.msg);
		return;
	}
	if (roster_query(c, &since, &limit) != 0)
		return;
	/*
	 * The current version first: a change committed between the two
	 * reads then shows in the entries rather than being skipped.
	 */
	if ((r = eca_store_version(c->w->rd, &current, &e)) != 0) {
		reply_error(c, r, "%s", e.msg);
		return;
	}
	full = roster_full(since, current);
	/* One more than asked tells whether there is a next page. */
	if ((r = eca_store_changes(c->w->rd, c->d->cfg->client_name,
	    full ? 0 : since, (size_t)limit + 1, &ch, &n, &e)) != 0 ||
	    (r = eca_store_dnmaps(c->w->rd, c->d->cfg->client_name,
	    full ? 0 : since, (size_t)limit + 1, &maps, &nmaps, &e)) != 0) {
		reply_error(c, r, "%s", e.msg);
		goto out;
	}
	/*
	 * Records and DN mappings share the version counter: a page takes
	 * the first limit changes of either kind in version order, so next
	 * (the last version taken) skips nothing of both.
	 */
	for (i = j = 0; i + j < (size_t)limit && (i < n || j < nmaps);) {
		if (j >= nmaps || (i < n && ch[i].version < maps[j].version))
			last = ch[i++].version;
		else
			last = maps[j++].version;
	}
	more = i < n || j < nmaps;
	n = i;
	nmaps = j;
	next = current;
	if (i + j > 0 && (more || last > next))
		next = last;
	body = eca_wire_roster(c->d->cfg->client_name, since, current, next,
	    full, more, ch, n);
	/* Only when there are any: an older host's parser is not bothered. */
	if (body != NULL && nmaps > 0 &&
	    eca_wire_roster_add_maps(body, maps, nmaps) != 0) {
		json_decref(body);
		body = NULL;
	}
	reply_json(c, 200, body);
 out:
	free(ch);
	free(maps);
}

/* The reply for a job the writer finished, sent on the worker's thread. */
static void
job_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct api_job *aj = arg;
	struct eca_op *op = &aj->job.op;
	struct call *c = &aj->c;
	const char *outcome = eca_outcome_name(op->outcome);
	json_t *body;

	(void)fd;
	(void)what;
	c->w->inflight--;
	c->journaled = 1;	/* by the writer, with the group */
	if (op->status == ECA_ERR_CONFLICT)
		reply_error_status(c, 0, op->status, &op->rec, "%s",
		    op->err.msg);
	else if (op->status != 0)
		reply_error(c, op->status, "%s", op->err.msg);
	else {
		log_info_fields(ECA_LOG_FIELDS({ "HOST", op->rec.host },
		    { "FINGERPRINT", op->rec.cert.fingerprint },
		    { "REASON", outcome }, { "PRIMARY", op->rec.primary }),
		    "%s %s: %s (host ID %s, fingerprint %s, by %s "
		    "from %s)",
		    c->method, c->path, outcome, op->rec.host_id,
		    op->rec.cert.fingerprint, op->actor, c->source);
		if (op->type == ECA_OP_MAP_ADD ||
		    op->type == ECA_OP_MAP_REMOVE)
			body = json_pack("{s:s, s:o}", "outcome", outcome,
			    "mapping", eca_wire_dnmap(&op->map));
		else if (op->type == ECA_OP_ENROLL)
			body = json_pack("{s:s, s:b, s:o}", "outcome", outcome,
			    "precheck", 0, "enrollment",
			    eca_wire_enrollment(&op->rec));
		else
			body = json_pack("{s:s, s:o}", "outcome", outcome,
			    "enrollment", eca_wire_enrollment(&op->rec));
		reply_json(c, op->type == ECA_OP_ENROLL &&
		    op->outcome == ECA_OUTCOME_ENROLLED ? 201 : 200, body);
	}
	event_free(aj->job.ev);
	free(aj);
}

static struct api_job *
job_new(struct call *c, enum eca_op_type type, const char *host)
{
	struct api_job *aj;

	if ((aj = calloc(1, sizeof(*aj))) == NULL)
		return NULL;
	aj->c = *c;
	aj->c.snap = NULL;
	aj->c.conn = NULL;
	aj->c.ssl = NULL;
	aj->job.op.type = type;
	snprintf(aj->job.op.req.primary, sizeof(aj->job.op.req.primary), "%s",
	    c->d->cfg->client_name);
	snprintf(aj->job.op.req.host, sizeof(aj->job.op.req.host), "%s", host);
	snprintf(aj->job.op.req.source, sizeof(aj->job.op.req.source), "%s",
	    c->source);
	snprintf(aj->job.op.actor, sizeof(aj->job.op.actor), "%s", c->actor);
	aj->job.op.req.now = (int64_t)time(NULL);
	return aj;
}

/*
 * Hand aj to the writer; done runs on this worker's base when it is
 * applied.  On failure aj is freed and the code says why (NOMEM, BUSY).
 */
static int
job_enqueue(struct call *c, struct api_job *aj, event_callback_fn done)
{
	if ((aj->job.ev = event_new(c->w->base, -1, 0, done, aj)) == NULL) {
		free(aj);
		return ECA_ERR_NOMEM;
	}
	if (writer_submit(c->d->writer, &aj->job) != 0) {
		event_free(aj->job.ev);
		free(aj);
		return ECA_ERR_BUSY;
	}
	c->w->inflight++;
	return 0;
}

/* Queue aj to the writer (taking it), or refuse with 429/500. */
static void
job_submit(struct call *c, struct api_job *aj)
{
	int r;

	if (aj == NULL || (r = job_enqueue(c, aj, job_done_cb)) ==
	    ECA_ERR_NOMEM)
		reply_error(c, ECA_ERR_NOMEM, "out of memory queuing the "
		    "request");
	else if (r == ECA_ERR_BUSY)
		reply_error(c, ECA_ERR_BUSY, "primary %s has too many pending "
		    "registry changes (MAX_PENDING_ENROLLMENTS); retry after "
		    "the Retry-After delay", c->d->cfg->client_name);
}

/* A REVOKE finished: nobody waits for it, the writer journaled it. */
static void
revoke_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct api_job *aj = arg;
	struct eca_op *op = &aj->job.op;

	(void)fd;
	(void)what;
	aj->c.w->inflight--;
	if (op->status != 0)
		log_error("cannot mark the enrollment of %s REVOKED: %s: %s",
		    op->req.host, eca_err_name(op->status), op->err.msg);
	else if (op->outcome == ECA_OUTCOME_REVOKED)
		log_warn("%s: enrolled certificate %s is revoked by its CRL; "
		    "the enrollment is now REVOKED (registry version %lld)",
		    op->req.host, op->rec.cert.fingerprint,
		    (long long)op->rec.version);
	event_free(aj->job.ev);
	free(aj);
}

/*
 * The caller's certificate was found revoked by the CRL.  If it is the
 * enrolled certificate of the host it names (its commonName or one of
 * its DNS names), the record becomes REVOKED through the writer, so the
 * roster carries it and peers refuse the host before their own CRL
 * refresh.  Not waited for: the caller gets its REVOKED refusal at once;
 * the writer checks the record again inside its transaction.
 */
static void
mark_revoked(struct call *c)
{
	const struct eca_certinfo *ci = &c->conn->info;
	struct eca_enrollment rec;
	struct eca_err e;
	struct api_job *aj;
	char names[ECA_HOST_MAX + ECA_SAN_MAX + 2], *p, *next;
	char host[ECA_HOST_MAX];

	if (c->control || ci->fingerprint[0] == '\0')
		return;
	snprintf(names, sizeof(names), "%s,%s", ci->cn, ci->san);
	/* DN: the subject names a host only through the mapping. */
	if (c->snap->cfg->identity == ECA_ID_DN &&
	    store_dn_map(c, ci->subject, names, sizeof(names)) != 0)
		return;
	for (p = names; p != NULL; p = next) {
		if ((next = strchr(p, ',')) != NULL)
			*next++ = '\0';
		/*
		 * The registry holds canonical names only; a name that has
		 * none (a CN that is not a host name) names no record.
		 */
		if (eca_hostname_canon(p, host, sizeof(host), NULL) != 0)
			continue;
		eca_err_clear(&e);
		if (eca_store_get(c->w->rd, c->d->cfg->client_name, host, &rec,
		    &e) != 0)
			continue;
		if ((rec.state != ECA_STATE_ENROLLED &&
		    rec.state != ECA_STATE_CONFLICT) ||
		    strcmp(rec.cert.fingerprint, ci->fingerprint) != 0)
			continue;
		if ((aj = job_new(c, ECA_OP_REVOKE, host)) == NULL)
			return;
		aj->c.req = NULL;	/* nobody is answered */
		snprintf(aj->job.op.actor, sizeof(aj->job.op.actor), "crl");
		aj->job.op.req.cert = *ci;
		/* Busy or out of memory: the host's next call tries again. */
		(void)job_enqueue(c, aj, revoke_done_cb);
		return;
	}
}

static void
reply_enroll(struct call *c, int status, const char *outcome, int precheck,
    const struct eca_enrollment *rec)
{
	reply_json(c, status, json_pack("{s:s, s:b, s:o}", "outcome", outcome,
	    "precheck", precheck, "enrollment",
	    rec != NULL ? eca_wire_enrollment(rec) : json_null()));
}

/*
 * For the log and the audit journal only: the host a caller refused
 * before its body was read claims to be (nothing is decided on it).
 */
static void
claimed_host(struct call *c)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(c->req);
	struct eca_enroll_body body;
	size_t len = evbuffer_get_length(in);
	const char *buf;

	if (len == 0 || len > ECA_BODY_MAX ||
	    (buf = (const char *)evbuffer_pullup(in, -1)) == NULL)
		return;
	if (eca_wire_parse_enroll_body(buf, len, &body, NULL) == 0)
		snprintf(c->name, sizeof(c->name), "%s", body.host);
}

static void
h_enroll(struct call *c)
{
	const struct eca_config *cfg = c->snap->cfg;
	struct eca_enroll_body body;
	struct eca_enrollment rec;
	struct eca_enroll_req rq;
	enum eca_enroll_outcome outcome = ECA_OUTCOME_NONE;
	struct eca_candidate *cands = NULL;
	struct api_job *aj;
	struct eca_err e;
	const char *buf;
	size_t len, ncands = 0;
	int r, have;

	/* Counted before any check: every request that reached us. */
	atomic_fetch_add(&c->d->stats.enroll_requests, 1);
	eca_err_clear(&e);
	if ((r = call_peer(c, &e)) != 0) {
		claimed_host(c);
		reply_error(c, r, "%s", e.msg);
		return;
	}
	if (read_body(c, &buf, &len) != 0)
		return;
	if ((r = eca_wire_parse_enroll_body(buf, len, &body, &e)) != 0) {
		reply_error(c, r, "%s", e.msg);
		return;
	}
	snprintf(c->name, sizeof(c->name), "%s", body.host);
	snprintf(c->actor, sizeof(c->actor), "%s", body.host);
	c->precheck = body.precheck;
	if ((r = caller_names(c, body.host, &e)) != 0) {
		reply_error(c, r, "%s", e.msg);
		return;
	}
	memset(&rq, 0, sizeof(rq));
	snprintf(rq.primary, sizeof(rq.primary), "%s", c->d->cfg->client_name);
	snprintf(rq.host, sizeof(rq.host), "%s", body.host);
	snprintf(rq.source, sizeof(rq.source), "%s", c->source);
	rq.role = body.role;
	rq.method = body.method;
	rq.cert = c->conn->info;
	rq.force = body.force;
	rq.allow_force = cfg->allow_forced_reenrollment;
	rq.now = (int64_t)time(NULL);

	if ((have = get_record(c, body.host, &rec)) < 0)
		return;
	eca_err_clear(&e);
	if (have && rec.ncandidates > 0 &&
	    (r = eca_store_candidates(c->w->rd, c->d->cfg->client_name,
	    body.host, &cands, &ncands, &e)) != 0) {
		reply_error(c, r, "%s", e.msg);
		return;
	}
	r = eca_enroll_decide(have ? &rec : NULL, cands, ncands, &rq,
	    &outcome, &e);
	free(cands);
	if (body.precheck) {
		if (r == 0)
			reply_enroll(c, 200, eca_outcome_name(outcome), 1,
			    have ? &rec : NULL);
		else
			reply_error_status(c, 0, r, r == ECA_ERR_CONFLICT &&
			    have ? &rec : NULL, "%s", e.msg);
		return;
	}
	/* Nothing to write: answered here, without the writer. */
	if (r == 0 && outcome == ECA_OUTCOME_UNCHANGED) {
		reply_enroll(c, 200, eca_outcome_name(outcome), 0, &rec);
		return;
	}
	if (r != 0 && r != ECA_ERR_CONFLICT) {
		reply_error(c, r, "%s", e.msg);
		return;
	}
	/* The writer decides again inside its transaction. */
	if ((aj = job_new(c, ECA_OP_ENROLL, body.host)) != NULL)
		aj->job.op.req = rq;
	job_submit(c, aj);
}

static void
h_remove(struct call *c)
{
	struct api_job *aj;
	int self;

	if (require_host_or_admin(c, c->name, &self) != 0)
		return;
	if ((aj = job_new(c, ECA_OP_REMOVE, c->name)) != NULL && self)
		snprintf(aj->job.op.require_fingerprint,
		    sizeof(aj->job.op.require_fingerprint), "%s", c->fp);
	job_submit(c, aj);
}

static void
admin_op(struct call *c, enum eca_op_type type)
{
	if (require_admin(c) != 0)
		return;
	job_submit(c, job_new(c, type, c->name));
}

/*
 * Approve or reject: the body names the waiting certificate decided on
 * ({"fingerprint": FP}, required), so that what is enrolled is exactly
 * what the administrator saw, whatever arrived meanwhile.
 */
static void
decision_op(struct call *c, enum eca_op_type type)
{
	char fp[ECA_FP_HEX_LEN + 1];
	struct api_job *aj;
	struct eca_err e;
	const char *buf;
	size_t len;
	int r;

	if (require_admin(c) != 0 || read_body(c, &buf, &len) != 0)
		return;
	eca_err_clear(&e);
	if ((r = eca_wire_parse_decision_body(buf, len, fp, &e)) != 0) {
		reply_error(c, r, "%s", e.msg);
		return;
	}
	snprintf(c->fp, sizeof(c->fp), "%s", fp);
	if ((aj = job_new(c, type, c->name)) != NULL)
		snprintf(aj->job.op.require_fingerprint,
		    sizeof(aj->job.op.require_fingerprint), "%s", fp);
	job_submit(c, aj);
}

static void
h_approve(struct call *c)
{
	decision_op(c, ECA_OP_APPROVE);
}

static void
h_reject(struct call *c)
{
	decision_op(c, ECA_OP_REJECT);
}

/* GET /v1/mappings: the live subject mappings, by host. */
static void
h_maps(struct call *c)
{
	struct eca_dnmap *m = NULL;
	struct eca_err e;
	json_t *arr = NULL;
	size_t n = 0, i;
	int r;

	if (require_admin(c) != 0)
		return;
	eca_err_clear(&e);
	/* One more than shown tells whether the list was cut. */
	if ((r = eca_store_dnmaps(c->w->rd, c->d->cfg->client_name, -1,
	    MAPPINGS_MAX + 1, &m, &n, &e)) != 0) {
		reply_error(c, r, "%s", e.msg);
		return;
	}
	if ((arr = json_array()) == NULL)
		goto nomem;
	for (i = 0; i < n && i < MAPPINGS_MAX; i++)
		if (json_array_append_new(arr, eca_wire_dnmap(&m[i])) != 0)
			goto nomem;
	free(m);
	reply_json(c, 200, json_pack("{s:s, s:o, s:b}", "identity",
	    eca_identity_name(c->snap->cfg->identity), "mappings", arr,
	    "truncated", n > MAPPINGS_MAX));
	return;
nomem:
	json_decref(arr);
	free(m);
	reply_error(c, ECA_ERR_NOMEM, "out of memory listing the mappings");
}

/* POST /v1/mappings {"host", "subject"}: the subject must parse. */
static void
h_map_add(struct call *c)
{
	char host[ECA_HOST_MAX], subject[ECA_DN_MAX], norm[ECA_DN_MAX];
	struct api_job *aj;
	struct eca_err e;
	const char *buf;
	size_t len;
	int r;

	if (require_admin(c) != 0 || read_body(c, &buf, &len) != 0)
		return;
	eca_err_clear(&e);
	if ((r = eca_wire_parse_map_body(buf, len, host, subject, &e)) != 0) {
		reply_error(c, r, "%s", e.msg);
		return;
	}
	snprintf(c->name, sizeof(c->name), "%s", host);
	if ((r = eca_dn_normalize(subject, norm, sizeof(norm), &e)) != 0) {
		reply_error(c, r == ECA_ERR_PARSE ? ECA_ERR_BAD_REQUEST : r,
		    "%s (write it as RFC 4514, e.g. \"CN=host1,O=Example\")",
		    e.msg);
		return;
	}
	if ((aj = job_new(c, ECA_OP_MAP_ADD, host)) != NULL)
		snprintf(aj->job.op.map.subject,
		    sizeof(aj->job.op.map.subject), "%s", norm);
	job_submit(c, aj);
}

/* The host in the path is canonical already (dispatch). */
static void
h_map_remove(struct call *c)
{
	admin_op(c, ECA_OP_MAP_REMOVE);
}

static void
h_ban(struct call *c)
{
	admin_op(c, ECA_OP_BAN);
}

static void
h_unban(struct call *c)
{
	admin_op(c, ECA_OP_UNBAN);
}

static void
dispatch(struct call *c)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(c->req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(c->req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	char name[ECA_HOST_MAX];
	struct eca_err e;
	size_t i;
	int path_known = 0;

	atomic_fetch_add(&c->d->stats.requests, 1);
	c->method = method_name(m);
	/*
	 * The path is the caller's text and goes into the log: escaped
	 * (text.h).  Routes are plain ASCII, so matching the escaped form
	 * gives the same answer; a host NAME with an escape is invalid.
	 */
	if (path == NULL)
		path = "/";
	eca_text_sanitize(path, strlen(path), c->path, sizeof(c->path));
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		name[0] = '\0';
		if (!api_route_match(routes[i].pattern, c->path, name,
		    sizeof(name)))
			continue;
		path_known = 1;
		if (routes[i].method != m)
			continue;
		if (name[0] != '\0') {
			/*
			 * The host in the path, canonical from here on:
			 * /v1/enrollments/MEDIA1.example is media1.example.
			 */
			eca_err_clear(&e);
			if (eca_hostname_canon(name, c->name, sizeof(c->name),
			    &e) != 0) {
				snprintf(c->name, sizeof(c->name), "%.64s",
				    name);
				reply_error(c, e.code, "%s in the path %.64s",
				    e.msg, c->path);
				return;
			}
		}
		if (c->control && !c->admin && routes[i].fn != h_health) {
			reply_error(c, ECA_ERR_FORBIDDEN, "uid %u may not use "
			    "the control socket (run eca as root or as the "
			    "daemon's user)", (unsigned)c->uid);
			return;
		}
		routes[i].fn(c);
		return;
	}
	c->no_route = 1;
	if (path_known)
		reply_error_status(c, 405, ECA_ERR_BAD_REQUEST, NULL,
		    "%s is not allowed on %s", c->method, c->path);
	else
		reply_error(c, ECA_ERR_NOT_FOUND, "no such endpoint %s (see "
		    "docs/api.md)", c->path);
}

static void
call_init(struct call *c, struct ecad_worker *w, struct evhttp_request *req)
{
	memset(c, 0, sizeof(*c));
	c->req = req;
	c->w = w;
	c->d = w->d;
	c->admin = -1;
	c->method = "?";
	c->snap = ecad_snap_get(w->d);
	snprintf(c->source, sizeof(c->source), "unknown");
}

void
api_tls_cb(struct evhttp_request *req, void *arg)
{
	struct ecad_worker *w = arg;
	struct evhttp_connection *evcon;
	struct bufferevent *bev = NULL;
	struct call c;
	char *addr = NULL;
	ev_uint16_t port = 0;

	call_init(&c, w, req);
	if ((evcon = evhttp_request_get_connection(req)) != NULL) {
		bev = evhttp_connection_get_bufferevent(evcon);
		evhttp_connection_get_peer(evcon, &addr, &port);
		if (addr != NULL)
			snprintf(c.source, sizeof(c.source),
			    strchr(addr, ':') != NULL ? "[%s]:%u" : "%s:%u",
			    addr, (unsigned)port);
	}
	if (bev != NULL)
		c.ssl = bufferevent_openssl_get_ssl(bev);
	if (c.ssl != NULL)
		c.conn = SSL_get_ex_data(c.ssl, w->d->ssl_idx);
	if (c.conn == NULL) {
		/* Only a failed TLS set-up leaves a connection without one. */
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Connection", "close");
		reply_error(&c, ECA_ERR_INTERNAL, "connection without TLS "
		    "state; retry");
	} else if (c.conn->over_handshakes) {
		/* Storm control: nothing checked, one cheap answer, closed. */
		atomic_fetch_add(&w->d->stats.requests, 1);
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Connection", "close");
		reply_error(&c, ECA_ERR_BUSY, "primary %s has too many TLS "
		    "handshakes in progress (MAX_HANDSHAKES); retry after the "
		    "Retry-After delay", w->d->cfg->client_name);
	} else {
		server_handshake_done(c.conn);
		dispatch(&c);
	}
	ecad_snap_put(c.snap);
}

void
api_control_request(struct ecad_worker *w, struct evhttp_request *req,
    uid_t uid, int admin)
{
	struct call c;

	call_init(&c, w, req);
	c.control = 1;
	c.uid = uid;
	c.admin = admin;
	snprintf(c.source, sizeof(c.source), "local:%u", (unsigned)uid);
	snprintf(c.actor, sizeof(c.actor), "local:%u", (unsigned)uid);
	dispatch(&c);
	ecad_snap_put(c.snap);
}
