/* SPDX-License-Identifier: ISC */
/*
 * api_console.c - the web console's sign-in links and sessions on the
 * control socket (routes of level API_CONTROL): `eca console login` and
 * `eca console sessions [--revoke ID]`.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "api_impl.h"
#include "audit.h"
#include "console.h"
#include "log.h"
#include "session.h"
#include "text.h"

/* 0, or -1 when this primary serves no console (replied). */
static int
console_on(struct api_call *c)
{
	if (c->d->sessions != NULL)
		return 0;
	api_reply_error(c, ECA_ERR_NOT_FOUND,
	    "primary %s serves no web console (CONSOLE_LISTEN = NO); set "
	    "CONSOLE_LISTEN in eca.conf and restart ecad",
	    c->d->cfg->client_name);
	return -1;
}

static void
journal(struct api_call *c, const char *event, const char *reason)
{
	struct eca_audit_entry e;

	memset(&e, 0, sizeof(e));
	snprintf(e.event, sizeof(e.event), "%s", event);
	snprintf(e.actor, sizeof(e.actor), "%s", c->actor);
	snprintf(e.reason, sizeof(e.reason), "%s", reason);
	snprintf(e.source, sizeof(e.source), "%s", c->source);
	writer_audit(c->d->writer, &e);
}

/* POST /v1/console/links: a new single-use sign-in link. */
void
api_h_console_link(struct api_call *c)
{
	char token[ECA_SECRET_HEX + 1], url[512], exp[ECA_TEXT_TIME_LEN];
	struct eca_err e;
	int64_t expires;
	int r;

	if (console_on(c) != 0)
		return;
	eca_err_clear(&e);
	if ((r = eca_link_new(c->d->sessions, c->actor, (int64_t)time(NULL),
		 token, &expires, &e)) != 0) {
		api_reply_error(c, r, "%s", e.msg);
		return;
	}
	console_link_url(c->d, token, url, sizeof(url));
	eca_text_rfc3339(expires, exp, sizeof(exp));
	log_info("console: sign-in link for %s made, valid until %s", c->actor,
	    exp);
	journal(c, "console_link", "");
	api_reply_json(c, 200,
	    json_pack("{s:s, s:s, s:s}", "url", url, "expires", exp, "identity",
		c->actor));
}

/* GET /v1/console/sessions. */
void
api_h_console_sessions(struct api_call *c)
{
	struct eca_session_info list[ECA_SESSIONS_MAX];
	char t1[ECA_TEXT_TIME_LEN], t2[ECA_TEXT_TIME_LEN],
	    t3[ECA_TEXT_TIME_LEN];
	json_t *arr;
	size_t i, n;

	if (console_on(c) != 0)
		return;
	n = eca_session_list(c->d->sessions, (int64_t)time(NULL), list,
	    ECA_SESSIONS_MAX);
	if ((arr = json_array()) == NULL) {
		api_reply_error(c, ECA_ERR_NOMEM, "out of memory");
		return;
	}
	for (i = 0; i < n; i++) {
		eca_text_rfc3339(list[i].created, t1, sizeof(t1));
		eca_text_rfc3339(list[i].last_used, t2, sizeof(t2));
		eca_text_rfc3339(list[i].expires, t3, sizeof(t3));
		json_array_append_new(arr,
		    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "id",
			list[i].id, "identity", list[i].identity, "created", t1,
			"last_used", t2, "expires", t3, "source",
			list[i].source));
	}
	api_reply_json(c, 200, json_pack("{s:o}", "sessions", arr));
}

/* POST /v1/console/sessions/revoke {"id": PREFIX}. */
void
api_h_console_revoke(struct api_call *c)
{
	struct eca_session_info gone;
	const char *buf, *id = NULL;
	struct eca_err e;
	json_t *body;
	size_t len;
	int r;

	if (console_on(c) != 0 || api_read_body(c, &buf, &len) != 0)
		return;
	body = json_loadb(buf, len, 0, NULL);
	if (json_unpack(body, "{s:s}", "id", &id) != 0) {
		json_decref(body);
		api_reply_error(c, ECA_ERR_BAD_REQUEST,
		    "the body must be {\"id\": \"...\"} with a session ID "
		    "(eca console sessions lists them)");
		return;
	}
	eca_err_clear(&e);
	r = eca_session_end(c->d->sessions, id, &gone, &e);
	json_decref(body);
	if (r != 0) {
		api_reply_error(c, r, "%s", e.msg);
		return;
	}
	gone.id[ECA_SESSION_PREFIX] = '\0';
	log_info("console: session %s of %s revoked by %s", gone.id,
	    gone.identity, c->actor);
	journal(c, "console_session_revoked", gone.identity);
	api_reply_json(c, 200,
	    json_pack("{s:s, s:s}", "revoked", gone.id, "identity",
		gone.identity));
}
