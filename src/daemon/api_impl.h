/* SPDX-License-Identifier: ISC */
/*
 * api_impl.h - what the files of the /v1 API share (not for the rest of
 * ecad, which sees only api_tls_cb and api_control_request in ecad.h):
 *
 *   api.c           entry points, dispatch through the route table,
 *                   replies and refusals, the caller's certificate,
 *                   requests queued to the writer
 *   api_routes.c    the route table and the access check (api_routes.h)
 *   api_status.c    health, stats and the roster hosts sync
 *   api_enroll.c    POST /v1/enrollments
 *   api_registry.c  administration of the records and the DN mappings
 */
#ifndef ECAD_API_IMPL_H
#define ECAD_API_IMPL_H

#include <stddef.h>
#include <sys/types.h>

#include <event2/http.h>
#include <jansson.h>
#include <openssl/ssl.h>

#include "api_routes.h"
#include "ecad.h"
#include "wire.h"

/* One request being handled. */
struct api_call {
	struct evhttp_request *req;
	struct ecad *d;
	struct ecad_worker *w;
	struct ecad_snap *snap; /* reference held for the call */
	struct ecad_conn *conn; /* TLS only; NULL on the control one */
	SSL *ssl;
	int control;
	int console; /* a console session's call (console.c) */
	int admin;   /* -1 not decided yet */
	int self;    /* admitted as the path's host itself */
	uid_t uid;   /* control socket caller */
	const char *method;
	char path[256];
	char name[ECA_HOST_MAX];     /* the host concerned, for the log */
	char fp[ECA_FP_HEX_LEN + 1]; /* the caller's certificate */
	char source[ECA_SOURCE_MAX];
	char actor[ECA_DN_MAX];
	int journaled; /* the writer journaled the outcome */
	int precheck;  /* a dry run (POST precheck) */
	int no_route;  /* no route serves the path */
};

/* A request waiting for the writer. */
struct api_job {
	struct ecad_job job;
	struct api_call c; /* snap and conn are NULL here */
};

/* Send body (consumed) with status. */
void api_reply_json(struct api_call *c, int status, json_t *body);
/*
 * THE error reply: {"error":{"code","message"}} with the code's status;
 * logged (or counted, for strangers) and journaled as refusals are.
 * The _status form sets the status (0: the code's) and adds the record
 * (may be NULL) as "enrollment", as a 409 carries it.
 */
void api_reply_error(struct api_call *c, int code, const char *fmt, ...)
    ECA_PRINTF(3, 4);
void api_reply_error_status(struct api_call *c, int status, int code,
    const struct eca_enrollment *rec, const char *fmt, ...) ECA_PRINTF(5, 6);

/*
 * Does the caller's certificate name host under ECA_IDENTITY (under DN
 * only through the administrator's mapping)?  0 or the refusal.  Only
 * after a passed peer check (the route's access level sees to it).
 */
int api_caller_names(struct api_call *c, const char *host, struct eca_err *err);

/* The body, at most ECA_BODY_MAX bytes; 0, or -1 when refused (replied). */
int api_read_body(struct api_call *c, const char **buf, size_t *len);
/* The request's query string, or NULL. */
const char *api_query_of(struct api_call *c);
/* NAME's record on the read connection: 1 found, 0 none, -1 replied. */
int api_get_record(struct api_call *c, const char *name,
    struct eca_enrollment *rec);

/*
 * A job of type for host, carrying the call's source and actor (NULL when
 * out of memory), and its submission: queued to the writer (taken), the
 * reply sent when the group commit is durable; or refused 500 NOMEM (aj
 * NULL) or 429 BUSY.
 */
struct api_job *api_job_new(struct api_call *c, enum eca_op_type type,
    const char *host);
void api_job_submit(struct api_call *c, struct api_job *aj);

#endif
