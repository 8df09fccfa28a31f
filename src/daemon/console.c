/* SPDX-License-Identifier: ISC */
/*
 * console.c - the web console on CONSOLE_LISTEN (docs/console.md): its
 * static pages (embedded at build time), sign-in by a one-time link or an
 * administrator's client certificate, sessions with a CSRF token, and the
 * pages' /v1 calls handed to the API's own dispatch (api.c) with the
 * session's identity as the caller.  Served by worker 0 over the same TLS
 * set-up and bounds as the API (server.c); sessions live in session.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <jansson.h>

#include "audit.h"
#include "console.h"
#include "log.h"
#include "session.h"
#include "text.h"
#include "wire.h"

#define COOKIE "__Host-eca_session"
#define CSRF_HEADER "X-CSRF-Token"

/* Every answer of the console carries these. */
static const char *const security_headers[][2] = {
    {"Content-Security-Policy",
	"default-src 'none'; script-src 'self'; style-src 'self'; "
	"img-src 'self'; connect-src 'self'; form-action 'self'; "
	"base-uri 'none'; frame-ancestors 'none'"},
    {"X-Content-Type-Options", "nosniff"},
    {"X-Frame-Options", "DENY"},
    {"Referrer-Policy", "no-referrer"},
    {"Strict-Transport-Security", "max-age=31536000"},
    {"Cross-Origin-Opener-Policy", "same-origin"},
    {"Cross-Origin-Resource-Policy", "same-origin"},
};

/* One console request. */
struct con_req {
	struct evhttp_request *req;
	struct ecad_worker *w;
	struct ecad_conn *cn;
	struct ecad *d;
	enum evhttp_cmd_type method;
	char path[256];
	char source[ECA_SOURCE_MAX]; /* "addr:port" */
	char addr[ECA_SOURCE_MAX];   /* without the port */
};

/* An answer with its Cache-Control (NULL: "no-store"). */
static void
reply_cached(struct con_req *r, int status, const char *type, const void *data,
    size_t len, const char *cache)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);

	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Cache-Control",
	    cache != NULL ? cache : "no-store");
	evbuffer_add(evhttp_request_get_output_buffer(r->req), data, len);
	server_send_reply(r->req, status);
}

static void
reply(struct con_req *r, int status, const char *type, const void *data,
    size_t len)
{
	reply_cached(r, status, type, data, len, NULL);
}

static void
reply_json(struct con_req *r, int status, json_t *body)
{
	char *s = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;

	json_decref(body);
	if (s == NULL) {
		static const char nomem[] =
		    "{\"error\":{\"code\":\"NOMEM\",\"message\":\"out of "
		    "memory\"}}\n";
		reply(r, 500, "application/json", nomem, sizeof(nomem) - 1);
		return;
	}
	reply(r, status, "application/json", s, strlen(s));
	free(s);
}

static void reply_error(struct con_req *, int, const char *, ...)
    ECA_PRINTF(3, 4);

static void
reply_error(struct con_req *r, int code, const char *fmt, ...)
{
	char msg[ECA_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_info("console: refused %s from %s: %s: %s", r->path, r->source,
	    eca_err_name(code), msg);
	reply_json(r, eca_err_http_status(code), eca_wire_error(code, msg));
}

/* A console event for the audit journal (not waited for). */
static void
journal(struct con_req *r, const char *event, const char *identity,
    const char *reason)
{
	struct eca_audit_entry e;

	memset(&e, 0, sizeof(e));
	snprintf(e.event, sizeof(e.event), "%s", event);
	snprintf(e.actor, sizeof(e.actor), "console:%s", identity);
	snprintf(e.reason, sizeof(e.reason), "%s", reason);
	snprintf(e.source, sizeof(e.source), "%s", r->source);
	writer_audit(r->d->writer, &e);
}

/* The session cookie's value, or NULL. */
static const char *
cookie_value(struct con_req *r, char *buf, size_t len)
{
	const char *h, *p;
	size_t n;

	h = evhttp_find_header(evhttp_request_get_input_headers(r->req),
	    "Cookie");
	for (p = h; p != NULL && *p != '\0';) {
		while (*p == ' ' || *p == ';')
			p++;
		n = strcspn(p, ";");
		if (strncmp(p, COOKIE "=", sizeof(COOKIE)) == 0 &&
		    n - sizeof(COOKIE) < len) {
			snprintf(buf, len, "%.*s", (int)(n - sizeof(COOKIE)),
			    p + sizeof(COOKIE));
			return buf;
		}
		p += n;
	}
	return NULL;
}

/* The caller's session: 0, or -1 when refused (replied 401). */
static int
session_of(struct con_req *r, struct eca_session_info *si)
{
	char id[ECA_SECRET_HEX + 2];
	struct eca_err e;
	int code;

	eca_err_clear(&e);
	if (cookie_value(r, id, sizeof(id)) == NULL)
		code = eca_err_set(&e, ECA_ERR_UNAUTHENTICATED,
		    "not signed in: open the link `eca console login` prints "
		    "on the primary, or sign in with an administrator's "
		    "client certificate");
	else
		code = eca_session_get(r->d->sessions, id, (int64_t)time(NULL),
		    si, &e);
	if (code == 0)
		return 0;
	reply_error(r, code, "%s", e.msg);
	return -1;
}

/* A state-changing call must carry the session's CSRF token: 0 or -1. */
static int
csrf_check(struct con_req *r, const struct eca_session_info *si)
{
	const char *t = evhttp_find_header(
	    evhttp_request_get_input_headers(r->req), CSRF_HEADER);

	if (eca_session_csrf_ok(si, t))
		return 0;
	journal(r, "refused", si->identity, "CSRF");
	reply_error(r, ECA_ERR_FORBIDDEN,
	    "%s the " CSRF_HEADER " header: a change must come from the "
	    "console's own pages (reload the page)",
	    t == NULL ? "missing" : "wrong value in");
	return -1;
}

/* Sign-in succeeded: the cookie and {identity, csrf, expires}. */
static void
signed_in(struct con_req *r, const struct eca_session_info *si, const char *how)
{
	char cookie[160], exp[ECA_TEXT_TIME_LEN];

	snprintf(cookie, sizeof(cookie),
	    COOKIE "=%s; Path=/; Secure; HttpOnly; SameSite=Strict", si->id);
	evhttp_add_header(evhttp_request_get_output_headers(r->req),
	    "Set-Cookie", cookie);
	eca_metrics_signin(&r->d->metrics, ECA_METRICS_SIGNIN_OK);
	log_info("console: %s signed in from %s (%s)", si->identity, r->source,
	    how);
	journal(r, "console_signin", si->identity, how);
	eca_text_rfc3339(si->expires, exp, sizeof(exp));
	reply_json(r, 200,
	    json_pack("{s:s, s:s, s:s}", "identity", si->identity, "csrf",
		si->csrf, "expires", exp));
}

/* A failed sign-in: counted against the source, journaled, refused. */
static void
signin_refused(struct con_req *r, int code, const char *msg)
{
	eca_metrics_signin(&r->d->metrics, ECA_METRICS_SIGNIN_REFUSED);
	eca_signin_failed(r->d->sessions, r->addr, (int64_t)time(NULL));
	journal(r, "console_signin_refused", "-", eca_err_name(code));
	reply_error(r, code, "%s", msg);
}

/* POST /console/signin {"token": ...}: a one-time link's token. */
static void
signin_link(struct con_req *r)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	struct eca_session_info si;
	const char *token = NULL;
	struct eca_err e;
	json_t *body = NULL;
	size_t len = evbuffer_get_length(in);
	int code;

	eca_err_clear(&e);
	if (len <= ECA_BODY_MAX)
		body = json_loadb((const char *)evbuffer_pullup(in, -1), len, 0,
		    NULL);
	if (json_unpack(body, "{s:s}", "token", &token) != 0)
		code = eca_err_set(&e, ECA_ERR_BAD_REQUEST,
		    "the body must be {\"token\": \"...\"} with the token of "
		    "the sign-in link");
	else
		code = eca_link_use(r->d->sessions, token, r->source,
		    (int64_t)time(NULL), &si, &e);
	json_decref(body);
	if (code != 0)
		signin_refused(r, code, e.msg);
	else
		signed_in(r, &si, "link");
}

/* POST /console/signin-cert: the connection's client certificate. */
static void
signin_cert(struct con_req *r)
{
	struct eca_session_info si;
	char identity[ECA_DN_MAX];
	struct eca_err e;
	int code;

	eca_err_clear(&e);
	code =
	    api_tls_admin(r->w, r->req, r->cn, identity, sizeof(identity), &e);
	if (code == 0)
		code = eca_session_open(r->d->sessions, identity, r->source,
		    (int64_t)time(NULL), &si, &e);
	if (code != 0)
		signin_refused(r, code, e.msg);
	else
		signed_in(r, &si, "certificate");
}

/* GET /console/session: who is signed in, and the CSRF token. */
static void
session_show(struct con_req *r)
{
	struct eca_session_info si;
	char exp[ECA_TEXT_TIME_LEN];

	if (session_of(r, &si) != 0)
		return;
	eca_text_rfc3339(si.expires, exp, sizeof(exp));
	reply_json(r, 200,
	    json_pack("{s:s, s:s, s:s, s:s}", "identity", si.identity, "csrf",
		si.csrf, "expires", exp, "primary", r->d->cfg->client_name));
}

/* POST /console/signout. */
static void
signout(struct con_req *r)
{
	struct eca_session_info si, gone;
	struct eca_err e;

	if (session_of(r, &si) != 0 || csrf_check(r, &si) != 0)
		return;
	eca_err_clear(&e);
	if (eca_session_end(r->d->sessions, si.id, &gone, &e) != 0)
		log_info("console: %s", e.msg); /* revoked meanwhile */
	evhttp_add_header(evhttp_request_get_output_headers(r->req),
	    "Set-Cookie",
	    COOKIE "=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0");
	journal(r, "console_signout", si.identity, "");
	reply_json(r, 200, json_pack("{s:b}", "signed_out", 1));
}

/* /v1/...: the API's own dispatch, as the session's identity. */
static void
api_call(struct con_req *r)
{
	struct eca_session_info si;

	if (session_of(r, &si) != 0)
		return;
	if (r->method != EVHTTP_REQ_GET && csrf_check(r, &si) != 0)
		return;
	api_console_request(r->w, r->req, si.identity, r->source);
}

/*
 * A static file.  The pages are never stored (no-store, as every other
 * answer).  The files they name, asked for with their version
 * (?v=VERSION, as the pages name them), are the same bytes for good: a
 * browser keeps them (immutable), so that a new tab runs the script from
 * its cache, compiled already.  Asked for otherwise, a file is
 * revalidated every time (no-cache with its ETag; 304 when unchanged).
 */
static void
asset_reply(struct con_req *r, const struct console_asset *a)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(r->req);
	const char *q = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
	const char *inm;
	char etag[40], want[40];

	if (strcmp(a->type, "text/html; charset=utf-8") == 0) {
		reply(r, 200, a->type, a->data, a->len);
		return;
	}
	snprintf(etag, sizeof(etag), "\"%s\"", a->version);
	snprintf(want, sizeof(want), "v=%s", a->version);
	evhttp_add_header(h, "ETag", etag);
	inm = evhttp_find_header(evhttp_request_get_input_headers(r->req),
	    "If-None-Match");
	if (inm != NULL && strcmp(inm, etag) == 0) {
		evhttp_add_header(h, "Cache-Control", "no-cache");
		server_send_reply(r->req, 304);
		return;
	}
	reply_cached(r, 200, a->type, a->data, a->len,
	    q != NULL && strcmp(q, want) == 0 ?
		"public, max-age=31536000, immutable" :
		"no-cache");
}

/* GET of a page or file. */
static void
asset(struct con_req *r)
{
	const char *p = r->path;
	size_t i;

	if (strcmp(p, "/") == 0)
		p = "/index.html";
	else if (strcmp(p, "/login") == 0)
		p = "/login.html";
	for (i = 0; i < console_nassets; i++)
		if (strcmp(console_assets[i].path, p) == 0) {
			asset_reply(r, &console_assets[i]);
			return;
		}
	reply_error(r, ECA_ERR_NOT_FOUND,
	    "no page %s in the console (start at /)", r->path);
}

static void
route(struct con_req *r)
{
	static const struct {
		const char *path;
		enum evhttp_cmd_type method;
		void (*fn)(struct con_req *);
	} calls[] = {
	    {"/console/signin", EVHTTP_REQ_POST, signin_link},
	    {"/console/signin-cert", EVHTTP_REQ_POST, signin_cert},
	    {"/console/session", EVHTTP_REQ_GET, session_show},
	    {"/console/signout", EVHTTP_REQ_POST, signout},
	};
	size_t i;

	if (strncmp(r->path, "/v1/", 4) == 0) {
		api_call(r);
		return;
	}
	for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		if (strcmp(r->path, calls[i].path) != 0)
			continue;
		if (r->method != calls[i].method)
			reply_error(r, ECA_ERR_BAD_REQUEST, "use %s on %s",
			    i == 2 ? "GET" : "POST", r->path);
		else if (strncmp(r->path, "/console/signin", 15) == 0 &&
		    eca_signin_blocked(r->d->sessions, r->addr,
			(int64_t)time(NULL))) {
			eca_metrics_signin(&r->d->metrics,
			    ECA_METRICS_SIGNIN_RATE_LIMITED);
			reply_error(r, ECA_ERR_BUSY,
			    "too many failed sign-ins from %s: wait a "
			    "minute, then use a new link",
			    r->addr);
		} else
			calls[i].fn(r);
		return;
	}
	if (r->method != EVHTTP_REQ_GET)
		reply_error(r, ECA_ERR_BAD_REQUEST,
		    "the console's pages are read with GET");
	else
		asset(r);
}

/* Where the request comes from: "addr:port" and the address alone. */
static void
con_source(struct con_req *r)
{
	struct evhttp_connection *evcon;
	char *a = NULL;
	ev_uint16_t port = 0;

	snprintf(r->source, sizeof(r->source), "unknown");
	snprintf(r->addr, sizeof(r->addr), "unknown");
	if ((evcon = evhttp_request_get_connection(r->req)) == NULL)
		return;
	evhttp_connection_get_peer(evcon, &a, &port);
	if (a == NULL)
		return;
	snprintf(r->addr, sizeof(r->addr), "%s", a);
	snprintf(r->source, sizeof(r->source),
	    strchr(a, ':') != NULL ? "[%s]:%u" : "%s:%u", a, (unsigned)port);
}

void
console_request(struct evhttp_request *req, struct ecad_worker *w,
    struct ecad_conn *cn)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	struct con_req r;
	size_t i;

	memset(&r, 0, sizeof(r));
	r.req = req;
	r.w = w;
	r.cn = cn;
	r.d = w->d;
	r.method = evhttp_request_get_command(req);
	if (path == NULL || path[0] == '\0')
		path = "/";
	eca_text_sanitize(path, strlen(path), r.path, sizeof(r.path));
	con_source(&r);
	for (i = 0; i < sizeof(security_headers) / sizeof(security_headers[0]);
	     i++)
		evhttp_add_header(h, security_headers[i][0],
		    security_headers[i][1]);
	if (cn == NULL) {
		evhttp_add_header(h, "Connection", "close");
		reply_error(&r, ECA_ERR_INTERNAL,
		    "connection without TLS state; retry");
		return;
	}
	if (cn->over_handshakes) {
		evhttp_add_header(h, "Connection", "close");
		reply_error(&r, ECA_ERR_BUSY,
		    "too many TLS handshakes in progress; retry shortly");
		return;
	}
	server_handshake_done(cn);
	route(&r);
}

void
console_link_url(const struct ecad *d, const char *token, char *buf, size_t len)
{
	const char *host = d->cfg->console_listen.host;
	const char *port = strrchr(d->console_desc, ':');

	if (host == NULL || host[0] == '\0' || strcmp(host, "*") == 0 ||
	    strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0)
		host = d->cfg->client_name;
	snprintf(buf, len,
	    strchr(host, ':') != NULL ? "https://[%s]%s/login#%s" :
					"https://%s%s/login#%s",
	    host, port != NULL ? port : "", token);
}

/* The console's sockets, for ecad_listen_bind (one set). */
static int *
console_fds(void *arg, size_t i, size_t **nfds)
{
	struct ecad *d = arg;

	(void)i;
	*nfds = &d->con_nfds;
	return d->con_fds;
}

int
console_bind(struct ecad *d, struct eca_err *err)
{
	struct eca_session_limits lim;
	struct ecad_bind b;
	int r;

	if (d->cfg->console_listen.host == NULL)
		return 0;
	lim.link = (int64_t)d->cfg->console_link_minutes * 60;
	lim.idle = (int64_t)d->cfg->console_idle_minutes * 60;
	lim.max = (int64_t)d->cfg->console_session_hours * 3600;
	if (eca_sessions_new(&lim, &d->sessions) != 0)
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "cannot allocate the console's sessions");
	memset(&b, 0, sizeof(b));
	b.ep = &d->cfg->console_listen;
	b.defport = ECA_DEFAULT_CONSOLE_PORT;
	b.keyword = "CONSOLE_LISTEN";
	b.listener = "CONSOLE_LISTEN, the web console (CONSOLE_LISTEN = NO "
		     "turns it off)";
	b.nsets = 1;
	b.set = console_fds;
	b.arg = d;
	if ((r = ecad_listen_bind(&b, err)) != 0)
		return r;
	snprintf(d->console_desc, sizeof(d->console_desc), "%s", b.desc);
	return 0;
}

void
console_free(struct ecad *d)
{
	size_t i;

	for (i = 0; i < d->con_nfds; i++)
		if (d->con_fds[i] != -1)
			close(d->con_fds[i]);
	d->con_nfds = 0;
	eca_sessions_free(d->sessions);
	d->sessions = NULL;
}
