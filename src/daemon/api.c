/* SPDX-License-Identifier: ISC */
/*
 * api.c - the primary's /v1 API: the two entry points (TLS and control
 * socket), dispatch through the route table (api_routes.c, which also
 * decides who may call what), every answer through api_reply_json() or
 * api_reply_error(), the caller's certificate, and requests handed to the
 * writer.  The handlers are in api_status.c, api_enroll.c and
 * api_registry.c (api_impl.h).
 *
 * A request runs on its worker's thread.  Reads and decisions that write
 * nothing (prechecks, UNCHANGED enrollments, refusals) are answered from
 * the worker's read-only registry connection; anything that would write
 * is queued to the writer thread (writer.c), which decides again inside
 * its transaction, and the reply is sent from job_done_cb once the group
 * commit is durable.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>
#include <openssl/ssl.h>

#include "api_impl.h"
#include "audit.h"
#include "crl.h"
#include "log.h"
#include "text.h"
#include "tls.h"

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
void
api_reply_json(struct api_call *c, int status, json_t *body)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(c->req);
	struct evkeyvalq *h = evhttp_request_get_output_headers(c->req);
	char *s = NULL;

	if (body != NULL)
		s = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (s == NULL) {
		status = 500;
		evbuffer_add_printf(out,
		    "{\"error\":{\"code\":\"NOMEM\","
		    "\"message\":\"out of memory\"}}\n");
	} else {
		evbuffer_add(out, s, strlen(s));
		evbuffer_add(out, "\n", 1);
		free(s);
	}
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "Cache-Control", "no-store");
	server_send_reply(c->req, status);
}

/*
 * A refusal goes into the audit journal (via the writer, not waited for)
 * when it is a refusal by policy (exit code 5: untrusted, expired,
 * identity mismatch, forbidden, banned, ...) on any call, or any refusal
 * of a call that asks for a change.  Not journaled: 429 BUSY (storm
 * control: the host retries), 503 DB_UNAVAILABLE (the database is down:
 * the host retries) and what the writer already journaled.
 */
static void
audit_refusal(struct api_call *c, int code)
{
	struct eca_audit_entry e;
	const char *actor = c->actor;

	if (c->journaled || code == ECA_ERR_BUSY ||
	    code == ECA_ERR_DB_UNAVAILABLE)
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

static int call_peer(struct api_call *, struct eca_err *);

/*
 * A refusal that costs the caller nothing: no verified client
 * certificate, or a path no route serves.  Counted per source and
 * journaled as a summary (refusals.c), not logged and journaled one by
 * one, so that strangers cannot grow the journal or the log.
 */
static int
stranger(struct api_call *c, int code)
{
	if (c->control || c->console || c->journaled || code == ECA_ERR_BUSY ||
	    code == ECA_ERR_DB_UNAVAILABLE)
		return 0;
	if (c->no_route || c->conn == NULL)
		return 1;
	return call_peer(c, NULL) != 0;
}

/* The caller's address without its port ("[v6]:port" or "v4:port"). */
static void
source_addr(const struct api_call *c, char *buf, size_t len)
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
reply_errorv(struct api_call *c, int status, int code,
    const struct eca_enrollment *rec, const char *fmt, va_list ap)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(c->req);
	char msg[ECA_ERR_MSG_MAX], ra[16], addr[ECA_SOURCE_MAX];
	json_t *body;
	int counted = 0;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (msg[0] == '\0')
		snprintf(msg, sizeof(msg), "%s", eca_err_desc(code));
	if (status == 0)
		status = eca_err_http_status(code);
	atomic_fetch_add(&c->d->stats.refusals, 1);
	eca_metrics_refusal(&c->d->metrics, code);
	if (stranger(c, code)) {
		source_addr(c, addr, sizeof(addr));
		counted =
		    refusals_note(c->d, addr, code, c->method, c->path) == 0;
	}
	/* The database's loss and return are logged once, by the store. */
	if (!counted && code != ECA_ERR_DB_UNAVAILABLE) {
		log_info_fields(ECA_LOG_FIELDS({"HOST", c->name},
				    {"FINGERPRINT", c->fp},
				    {"REASON", eca_err_name(code)},
				    {"PRIMARY", c->d->cfg->client_name}),
		    "refused %s %s from %s (host %s, fingerprint %s): %s: %s",
		    c->method, c->path, c->source, c->name[0] ? c->name : "-",
		    c->fp[0] ? c->fp : "-", eca_err_name(code), msg);
		audit_refusal(c, code);
	}
	if (code == ECA_ERR_BUSY || code == ECA_ERR_DB_UNAVAILABLE) {
		/* BUSY_RETRY_AFTER is restart-only: the start-up config. */
		snprintf(ra, sizeof(ra), "%d", c->d->cfg->busy_retry_after);
		evhttp_add_header(h, "Retry-After", ra);
	}
	if (code == ECA_ERR_BUSY) {
		atomic_fetch_add(&c->d->stats.busy, 1);
		atomic_fetch_add(&c->d->metrics.busy, 1);
	}
	body = eca_wire_error(code, msg);
	if (body != NULL && rec != NULL)
		json_object_set_new(body, "enrollment",
		    eca_wire_enrollment(rec));
	api_reply_json(c, status, body);
}

void
api_reply_error(struct api_call *c, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_errorv(c, 0, code, NULL, fmt, ap);
	va_end(ap);
}

void
api_reply_error_status(struct api_call *c, int status, int code,
    const struct eca_enrollment *rec, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_errorv(c, status, code, rec, fmt, ap);
	va_end(ap);
}

static void mark_revoked(struct api_call *);
static int store_dn_map(void *, const char *, char *, size_t);

/*
 * The caller's certificate against the peer policy (chain, validity,
 * key, signature, usage).  Run once per TLS connection and reused by its
 * next requests, as long as the trust store (the snapshot, replaced by
 * SIGHUP) and the CRL cache (its generation) are the ones it was reached
 * with; after a change the next request is judged again.
 */
static int
call_peer(struct api_call *c, struct eca_err *err)
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
	if (cn->checked &&
	    (cn->checked_snap != c->snap->gen ||
		cn->checked_crls != eca_crl_cache_gen(c->d->crls))) {
		cn->checked = 0;
		X509_free(cn->leaf);
		cn->leaf = NULL;
		eca_certinfo_clear(&cn->info);
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
			eca_err_set(&cn->err, r,
			    "no client certificate was "
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
	struct api_call *c = arg;
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
int
api_caller_names(struct api_call *c, const char *host, struct eca_err *err)
{
	if (c->snap->cfg->identity == ECA_ID_DN)
		return eca_x509_identity_dn(c->conn->leaf, store_dn_map, c,
		    host, err);
	return eca_x509_identity_matches(c->conn->leaf, c->snap->cfg->identity,
	    host, err);
}

/* Is the caller an administrator?  Sets c->actor when it is. */
static int
call_admin(struct api_call *c)
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

/* The access check's questions (api_routes.h), asked of this call. */
static int
ask_peer(void *arg, struct eca_err *err)
{
	return call_peer(arg, err);
}

static int
ask_admin(void *arg)
{
	return call_admin(arg);
}

/* Is the caller a METRICS_IDENTITY?  (Read-only: GET /metrics.) */
static int
ask_metrics(void *arg)
{
	struct api_call *c = arg;
	const struct eca_config *cfg = c->snap->cfg;
	size_t i;

	if (c->control || call_peer(c, NULL) != 0)
		return 0;
	for (i = 0; i < cfg->nmetrics_ids; i++)
		if (eca_x509_identity_matches(c->conn->leaf, cfg->identity,
			cfg->metrics_ids[i], NULL) == 0) {
			snprintf(c->actor, sizeof(c->actor), "%s",
			    cfg->metrics_ids[i]);
			return 1;
		}
	return 0;
}

static int
ask_names(void *arg, const char *host)
{
	return api_caller_names(arg, host, NULL) == 0;
}

/*
 * For the log and the audit journal only: the host a caller refused
 * before its body was read claims to be (nothing is decided on it).
 */
static void
claimed_host(struct api_call *c)
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

/* May the caller use rt?  0, or -1 when refused (replied). */
static int
admit(struct api_call *c, const struct api_route *rt)
{
	struct api_caller who;
	enum api_access granted;
	struct eca_err e;
	int r;

	memset(&who, 0, sizeof(who));
	who.control = c->control;
	who.console = c->console;
	who.control_admin = c->control && c->admin == 1;
	who.uid = c->uid;
	who.primary = c->d->cfg->client_name;
	who.host = c->name;
	who.peer = ask_peer;
	who.admin = ask_admin;
	who.names = ask_names;
	who.metrics = ask_metrics;
	who.arg = c;
	eca_err_clear(&e);
	if ((r = api_access_check(rt, &who, &granted, &e)) != 0) {
		if (rt->flags & API_F_BODY_HOST)
			claimed_host(c);
		api_reply_error(c, r, "%s", e.msg);
		return -1;
	}
	if (granted == API_SELF) {
		c->self = 1;
		snprintf(c->actor, sizeof(c->actor), "%s", c->name);
	}
	return 0;
}

int
api_read_body(struct api_call *c, const char **buf, size_t *len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(c->req);

	*len = evbuffer_get_length(in);
	if (*len > ECA_BODY_MAX) {
		api_reply_error(c, ECA_ERR_TOO_LARGE,
		    "the request body has "
		    "%zu bytes; at most %d are accepted",
		    *len, ECA_BODY_MAX);
		return -1;
	}
	*buf = (const char *)evbuffer_pullup(in, -1);
	if (*buf == NULL)
		*buf = "";
	return 0;
}

/* Fetch NAME's record on the read connection; 1 found, 0 none, -1 replied. */
int
api_get_record(struct api_call *c, const char *name, struct eca_enrollment *rec)
{
	struct eca_err e;
	int r;

	eca_err_clear(&e);
	r = eca_store_get(c->w->rd, c->d->cfg->client_name, name, rec, &e);
	if (r == 0)
		return 1;
	if (r == ECA_ERR_NOT_FOUND)
		return 0;
	api_reply_error(c, r, "%s", e.msg);
	return -1;
}

const char *
api_query_of(struct api_call *c)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(c->req);

	return uri != NULL ? evhttp_uri_get_query(uri) : NULL;
}

/* A job and what its op owns. */
static void
job_free(struct api_job *aj)
{
	if (aj->job.ev != NULL)
		event_free(aj->job.ev);
	eca_op_clear(&aj->job.op);
	free(aj);
}

/* The reply for a job the writer finished, sent on the worker's thread. */
static void
job_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct api_job *aj = arg;
	struct eca_op *op = &aj->job.op;
	struct api_call *c = &aj->c;
	const char *outcome = eca_outcome_name(op->outcome);
	json_t *body;

	(void)fd;
	(void)what;
	c->w->inflight--;
	c->journaled = 1; /* by the writer, with the group */
	if (op->type == ECA_OP_ENROLL &&
	    (op->status == 0 || op->status == ECA_ERR_CONFLICT))
		eca_metrics_enroll(&c->d->metrics,
		    op->status == 0 ? op->outcome : ECA_OUTCOME_CONFLICT);
	if (op->status == ECA_ERR_CONFLICT)
		api_reply_error_status(c, 0, op->status, &op->rec, "%s",
		    op->err.msg);
	else if (op->status != 0)
		api_reply_error(c, op->status, "%s", op->err.msg);
	else {
		log_info_fields(ECA_LOG_FIELDS({"HOST", op->rec.host},
				    {"FINGERPRINT", op->rec.cert.fingerprint},
				    {"REASON", outcome},
				    {"PRIMARY", op->rec.primary}),
		    "%s %s: %s%s (host ID %s, fingerprint %s, by %s "
		    "from %s)",
		    c->method, c->path, outcome,
		    op->nat_marked ? ", now flagged a NAT host" : "",
		    op->rec.host_id, op->rec.cert.fingerprint, op->actor,
		    c->source);
		if (op->type == ECA_OP_MAP_ADD || op->type == ECA_OP_MAP_REMOVE)
			body = json_pack("{s:s, s:o}", "outcome", outcome,
			    "mapping", eca_wire_dnmap(&op->map));
		else if (op->type == ECA_OP_ENROLL)
			body = json_pack("{s:s, s:b, s:o}", "outcome", outcome,
			    "precheck", 0, "enrollment",
			    eca_wire_enrollment(&op->rec));
		else
			body = json_pack("{s:s, s:o}", "outcome", outcome,
			    "enrollment", eca_wire_enrollment(&op->rec));
		api_reply_json(c,
		    op->type == ECA_OP_ENROLL &&
			    op->outcome == ECA_OUTCOME_ENROLLED ?
			201 :
			200,
		    body);
	}
	job_free(aj);
}

struct api_job *
api_job_new(struct api_call *c, enum eca_op_type type, const char *host)
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
job_enqueue(struct api_call *c, struct api_job *aj, event_callback_fn done)
{
	if ((aj->job.ev = event_new(c->w->base, -1, 0, done, aj)) == NULL) {
		job_free(aj);
		return ECA_ERR_NOMEM;
	}
	if (writer_submit(c->d->writer, &aj->job) != 0) {
		job_free(aj);
		return ECA_ERR_BUSY;
	}
	c->w->inflight++;
	return 0;
}

/* Queue aj to the writer (taking it), or refuse with 429/500. */
void
api_job_submit(struct api_call *c, struct api_job *aj)
{
	int r;

	if (aj == NULL ||
	    (r = job_enqueue(c, aj, job_done_cb)) == ECA_ERR_NOMEM)
		api_reply_error(c, ECA_ERR_NOMEM,
		    "out of memory queuing the "
		    "request");
	else if (r == ECA_ERR_BUSY)
		api_reply_error(c, ECA_ERR_BUSY,
		    "primary %s has too many "
		    "pending registry changes (MAX_PENDING_ENROLLMENTS); retry "
		    "after the Retry-After delay",
		    c->d->cfg->client_name);
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
		log_warn(
		    "%s: enrolled certificate %s is revoked by its CRL; "
		    "the enrollment is now REVOKED (registry version %lld)",
		    op->req.host, op->rec.cert.fingerprint,
		    (long long)op->rec.version);
	job_free(aj);
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
mark_revoked(struct api_call *c)
{
	struct api_job *aj;
	char host[ECA_HOST_MAX];

	/* Which record, if any, is the revocation rule's (enroll.c). */
	if (c->control ||
	    eca_enroll_revoke_target(c->w->rd, c->d->cfg->client_name,
		&c->conn->info, c->snap->cfg->identity, host,
		sizeof(host)) != 0)
		return;
	if ((aj = api_job_new(c, ECA_OP_REVOKE, host)) == NULL)
		return;
	aj->c.req = NULL; /* nobody is answered */
	snprintf(aj->job.op.actor, sizeof(aj->job.op.actor), "crl");
	if (eca_certinfo_copy(&aj->job.op.req.cert, &c->conn->info, NULL) !=
	    0) {
		job_free(aj);
		return;
	}
	/* Busy or out of memory: the host's next call tries again. */
	(void)job_enqueue(c, aj, revoke_done_cb);
}

/* The /v1/stats counter rt adds to, or NULL. */
static atomic_ullong *
route_counter(struct ecad_stats *s, enum api_count n)
{
	switch (n) {
	case API_COUNT_ENROLL:
		return &s->enroll_requests;
	case API_COUNT_ROSTER:
		return &s->roster_requests;
	default:
		return NULL;
	}
}

/*
 * The host in the path, canonical from here on:
 * /v1/enrollments/MEDIA1.example is media1.example.  0, or -1 when it is
 * no host name (replied).
 */
static int
path_host(struct api_call *c, const char *name)
{
	struct eca_err e;

	eca_err_clear(&e);
	if (eca_hostname_canon(name, c->name, sizeof(c->name), &e) == 0)
		return 0;
	snprintf(c->name, sizeof(c->name), "%.64s", name);
	api_reply_error(c, e.code, "%s in the path %.64s", e.msg, c->path);
	return -1;
}

static void
dispatch(struct api_call *c)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(c->req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(c->req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	const struct api_route *rt;
	atomic_ullong *counter;
	char name[ECA_HOST_MAX];
	int path_known;

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
	rt = api_route_find(m, c->path, name, sizeof(name), &path_known);
	if (rt == NULL) {
		c->no_route = 1;
		if (path_known)
			api_reply_error_status(c, 405, ECA_ERR_BAD_REQUEST,
			    NULL, "%s is not allowed on %s", c->method,
			    c->path);
		else
			api_reply_error(c, ECA_ERR_NOT_FOUND,
			    "no such "
			    "endpoint %s (see docs/api.md)",
			    c->path);
		return;
	}
	if (name[0] != '\0' && path_host(c, name) != 0)
		return;
	/* Counted before the access check: every request that reached us. */
	if ((counter = route_counter(&c->d->stats, rt->count)) != NULL)
		atomic_fetch_add(counter, 1);
	if (admit(c, rt) != 0)
		return;
	rt->fn(c);
}

static void
call_init(struct api_call *c, struct ecad_worker *w, struct evhttp_request *req)
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
	struct api_call c;
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
		api_reply_error(&c, ECA_ERR_INTERNAL,
		    "connection without TLS "
		    "state; retry");
	} else if (c.conn->over_handshakes) {
		/* Storm control: nothing checked, one cheap answer, closed. */
		atomic_fetch_add(&w->d->stats.requests, 1);
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Connection", "close");
		api_reply_error(&c, ECA_ERR_BUSY,
		    "primary %s has too many TLS "
		    "handshakes in progress (MAX_HANDSHAKES); retry after the "
		    "Retry-After delay",
		    w->d->cfg->client_name);
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
	struct api_call c;

	call_init(&c, w, req);
	c.control = 1;
	c.uid = uid;
	c.admin = admin;
	snprintf(c.source, sizeof(c.source), "local:%u", (unsigned)uid);
	snprintf(c.actor, sizeof(c.actor), "local:%u", (unsigned)uid);
	dispatch(&c);
	ecad_snap_put(c.snap);
}

void
api_console_request(struct ecad_worker *w, struct evhttp_request *req,
    const char *identity, const char *source)
{
	struct api_call c;

	call_init(&c, w, req);
	c.console = 1;
	c.admin = 1;
	snprintf(c.source, sizeof(c.source), "%s", source);
	snprintf(c.actor, sizeof(c.actor), "console:%s", identity);
	dispatch(&c);
	ecad_snap_put(c.snap);
}

/*
 * A console sign-in by client certificate: the connection's certificate
 * through the same peer check and ADMIN_IDENTITY match as an API call.
 */
int
api_tls_admin(struct ecad_worker *w, struct evhttp_request *req,
    struct ecad_conn *cn, char *identity, size_t len, struct eca_err *err)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct api_call c;
	int r;

	call_init(&c, w, req);
	c.conn = cn;
	if (evcon != NULL)
		c.ssl = bufferevent_openssl_get_ssl(
		    evhttp_connection_get_bufferevent(evcon));
	if (c.ssl == NULL)
		r = eca_err_set(err, ECA_ERR_INTERNAL,
		    "connection without TLS state; retry");
	else if ((r = call_peer(&c, err)) == 0 && !call_admin(&c))
		r = eca_err_set(err, ECA_ERR_FORBIDDEN,
		    "your certificate's identity is not an administrator of "
		    "primary %s (add it to ADMIN_IDENTITY on the primary, or "
		    "sign in with a link from `eca console login`)",
		    w->d->cfg->client_name);
	if (r == 0)
		snprintf(identity, len, "%s", c.actor);
	ecad_snap_put(c.snap);
	return r;
}
