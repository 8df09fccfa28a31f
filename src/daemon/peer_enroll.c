/* SPDX-License-Identifier: ISC */
/*
 * peer_enroll.c - the host's end of remote enrollment (`eca enroll
 * --remote-host`, docs/cli.md): a channel of purpose "enroll" from one
 * of this host's primaries asks it to enroll its own certificate with
 * that primary.
 *
 * The caller was judged by the one judging path (judge.h) like any
 * other: its certificate, and its enrollment in the roster of the primary
 * it names.  Only then is the request taken, and only if the caller IS
 * that primary: any other host of the domain is refused.  The enrollment
 * is this host's normal one (eca_domain_enroll, as `eca enroll` runs it),
 * on the judge thread that holds the connection; its answer, the
 * primary's API answer as `eca enroll --json` prints it, is the frame
 * sent after the VERDICT, and the channel closes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hostname.h"
#include "log.h"
#include "peer_impl.h"
#include "wire.h"

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

/* The answer's frame into pc->reply; 0 or ECA_ERR_NOMEM. */
static int
set_reply(struct pconn *pc, json_t *j)
{
	struct eca_err e;
	int r;

	eca_err_clear(&e);
	if (j == NULL)
		return ECA_ERR_NOMEM;
	r = eca_channel_frame_encode(j, &pc->reply, &pc->reply_len, &e);
	json_decref(j);
	return r;
}

/* The journal line of the request, with its fields. */
static void
log_request(const struct eca_config *cfg, const char *primary, const char *via,
    int r, enum eca_enroll_outcome outcome, const struct eca_enrollment *rec,
    const struct eca_err *err)
{
	const char *reason =
	    r == 0 ? eca_outcome_name(outcome) : eca_err_name(r);

	log_info_fields(ECA_LOG_FIELDS({"HOST", cfg->client_name},
			    {"FINGERPRINT", rec->cert.fingerprint},
			    {"REASON", reason}, {"PRIMARY", primary}),
	    "remote enrollment asked by primary %s (%s): %s%s%s", primary, via,
	    reason, r != 0 ? ": " : "", r != 0 ? err->msg : "");
}

json_t *
ecad_enroll_self(struct ecad_snap *s, struct eca_domain *dom,
    const char *primary, const char *via)
{
	const struct eca_config *cfg = s->cfg;
	enum eca_enroll_outcome outcome = ECA_OUTCOME_NONE;
	struct eca_enrollment rec;
	struct eca_err err;
	json_t *j;
	int r;

	eca_err_clear(&err);
	memset(&rec, 0, sizeof(rec));
	if (s->host == NULL || dom == NULL)
		r = eca_err_set(&err, ECA_ERR_CONFIG,
		    "%s has no certificate or no domain of %s to enroll in "
		    "(check ECA_CERT_PATH and SERVER in its eca.conf)",
		    cfg->client_name, primary);
	else
		r = eca_domain_enroll(s->host, dom, 0, ECA_METHOD_MANUAL,
		    &outcome, &rec, &err);
	if (r != 0 && err.code == 0)
		eca_err_set(&err, r, "%s", eca_err_desc(r));
	log_request(cfg, primary, via, r, outcome, &rec, &err);
	if (r == 0)
		j = json_pack("{s:s, s:b, s:o}", "outcome",
		    eca_outcome_name(outcome), "precheck", 0, "enrollment",
		    rec.host[0] != '\0' ? eca_wire_enrollment(&rec) :
					  json_null());
	else
		j = eca_wire_error(r, err.msg);
	eca_enrollment_clear(&rec);
	return j;
}

void
peer_remote_enroll(struct ecad_snap *s, struct eca_domain *dom,
    struct pconn *pc)
{
	const struct eca_config *cfg = s->cfg;
	char via[sizeof(pc->addr) + 120];

	if (!eca_hostname_eq(pc->hello.host, pc->hello.primary) ||
	    pc->hello.role != ECA_ROLE_PRIMARY) {
		refuse(pc, ECA_ERR_FORBIDDEN,
		    "%s asked %s to enroll, but only its primary %s may: "
		    "run `eca enroll --remote-host %s` on %s",
		    pc->hello.host, cfg->client_name, pc->hello.primary,
		    cfg->client_name, pc->hello.primary);
		return;
	}
	snprintf(via, sizeof(via), "%s, fingerprint %s", pc->addr,
	    pc->fingerprint);
	if (set_reply(pc, ecad_enroll_self(s, dom, pc->hello.primary, via)) !=
	    0) {
		refuse(pc, ECA_ERR_NOMEM,
		    "%s ran out of memory answering the remote enrollment",
		    cfg->client_name);
	}
}
