/* SPDX-License-Identifier: ISC */
/*
 * remote.c - remote enrollment on the primary (`eca enroll --remote-host
 * NAME`, docs/cli.md): POST /v1/remote-enrollments on the control socket
 * only (root or ecad's user: the route table's API_CONTROL), and the one
 * thread that calls the hosts.
 *
 * A NAT host (docs/nat.md) has no peer listener: when NAME holds a broker
 * session with this primary, the request goes over that session instead
 * (broker_remote_enroll) and its answer is the same.  Otherwise the
 * thread opens a channel of purpose "enroll" to NAME's peer listener
 * (its PEER entry, else DNS and the default peer port), as this primary,
 * with its own certificate; the host judges it through the one judging
 * path and takes the request only from its primary (peer_enroll.c), runs
 * its normal enrollment with this primary and sends the answer, which is
 * the reply.  A worker never waits: the job goes to the thread and the
 * reply is sent from the worker's own thread when it is back.  Each
 * request is journaled (event "remote_enroll", the administrator as
 * actor, the error code as reason when it failed).
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api_impl.h"
#include "audit.h"
#include "channel.h"
#include "hostname.h"
#include "log.h"

#define REMOTE_QUEUE_MAX 16 /* requests waiting for the thread */
/*
 * Each step of the channel (connect, TLS, HELLOs) within this; the
 * VERDICT comes after the host's enrollment with this primary, so it is
 * the bound on that enrollment as well.
 */
#define REMOTE_STEP_MS 20000L

struct remote_job {
	struct api_call c; /* snap, conn and ssl are NULL here */
	struct event *ev;
	char host[ECA_HOST_MAX];
	char port[8]; /* "" : PEER's, else the default */
	int code;
	char msg[ECA_ERR_MSG_MAX];
	json_t *answer; /* the host's answer, when code is 0 */
	struct remote_job *next;
};

struct ecad_remote {
	struct ecad *d;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct remote_job *head, *tail;
	size_t queued;
	int stopping;
};

static void job_fail(struct remote_job *, int, const char *, ...)
    ECA_PRINTF(3, 4);
static void
job_fail(struct remote_job *j, int code, const char *fmt, ...)
{
	va_list ap;

	j->code = code;
	va_start(ap, fmt);
	vsnprintf(j->msg, sizeof(j->msg), fmt, ap);
	va_end(ap);
}

/* Why the channel could not be opened, with the remedy. */
static void
open_failed(struct remote_job *j, int r, const struct eca_err *err)
{
	const char *name = j->host, *self = j->c.d->cfg->client_name;

	if (r == ECA_ERR_UNREACHABLE || r == ECA_ERR_TIMEOUT)
		job_fail(j, r,
		    "cannot reach the ecad of %s for a remote enrollment: "
		    "%s; %s finds it by the PEER entry for %s in its "
		    "eca.conf, else by DNS and the peer listener's default "
		    "port",
		    name, err->msg, self, name);
	else
		job_fail(j, r, "remote enrollment of %s refused: %s", name,
		    err->msg);
}

/*
 * The host's answer {"outcome":O,"precheck":false,"enrollment":{...}}
 * made again from what it says, so that only a known outcome and a
 * record that decodes (wire.h) reach the reply and the log; NULL (err
 * says why) when it is not one.
 */
static json_t *
rebuild(const json_t *o, struct eca_err *err)
{
	const char *name = json_string_value(json_object_get(o, "outcome"));
	const json_t *jrec = json_object_get(o, "enrollment");
	struct eca_enrollment rec;
	json_t *out;
	int k;

	if (name == NULL) {
		eca_err_set(err, ECA_ERR_PROTOCOL, "no outcome");
		return NULL;
	}
	for (k = 0; k <= (int)ECA_OUTCOME_LAST; k++)
		if (strcmp(name,
			eca_outcome_name((enum eca_enroll_outcome)k)) == 0)
			break;
	if (k > (int)ECA_OUTCOME_LAST) {
		eca_err_set(err, ECA_ERR_PROTOCOL, "an unknown outcome");
		return NULL;
	}
	memset(&rec, 0, sizeof(rec));
	if (json_is_object(jrec) &&
	    eca_wire_parse_enrollment(jrec, &rec, err) != 0)
		return NULL;
	out = json_pack("{s:s, s:b, s:o}", "outcome",
	    eca_outcome_name((enum eca_enroll_outcome)k), "precheck", 0,
	    "enrollment",
	    json_is_object(jrec) ? eca_wire_enrollment(&rec) : json_null());
	eca_enrollment_clear(&rec);
	return out;
}

/* The host's answer: {"outcome",...} or {"error":{...}}. */
static void
take_answer(struct remote_job *j, const unsigned char *buf, size_t len)
{
	struct eca_err e;
	json_t *o;

	eca_err_clear(&e);
	if ((o = json_loadb((const char *)buf, len, 0, NULL)) == NULL ||
	    !json_is_object(o)) {
		json_decref(o);
		job_fail(j, ECA_ERR_PROTOCOL,
		    "%s answered the remote enrollment with something that "
		    "is not JSON (is it running this version of ecad?)",
		    j->host);
		return;
	}
	if (json_object_get(o, "error") != NULL) {
		/* It returns the error's code (0: no error object). */
		if (eca_wire_parse_error(o, &e) == 0 || e.code == 0)
			eca_err_set(&e, ECA_ERR_PROTOCOL,
			    "%s answered with a malformed error", j->host);
		job_fail(j, e.code, "%s", e.msg);
		json_decref(o);
		return;
	}
	j->answer = rebuild(o, &e);
	json_decref(o);
	if (j->answer == NULL)
		job_fail(j, e.code != 0 ? e.code : ECA_ERR_PROTOCOL,
		    "%s answered the remote enrollment with something that is "
		    "not an enrollment's answer: %s",
		    j->host, e.msg);
}

/* Through NAME's broker session, when it holds one: 1 done, 0 not. */
static int
via_broker(struct ecad *d, struct remote_job *j)
{
	struct eca_err err;
	char *answer = NULL;
	int r;

	eca_err_clear(&err);
	if ((r = broker_remote_enroll(d, j->host, REMOTE_STEP_MS, &answer,
		 &err)) == 1)
		return 0;
	if (r != 0)
		job_fail(j, r, "remote enrollment of NAT host %s: %s", j->host,
		    err.msg);
	else
		take_answer(j, (const unsigned char *)answer, strlen(answer));
	free(answer);
	return 1;
}

/* One request, on the remote thread: the channel, the answer. */
static void
run_job(struct ecad *d, struct remote_job *j)
{
	struct ecad_snap *s = ecad_snap_get(d);
	struct eca_channel *ch = NULL;
	unsigned char *buf = NULL;
	struct eca_err err;
	size_t len = 0;
	int r;

	eca_err_clear(&err);
	if (via_broker(d, j))
		;
	else if (s->host == NULL)
		job_fail(j, ECA_ERR_CONFIG,
		    "%s has no certificate for channels (ECA_CERT_PATH)",
		    d->cfg->client_name);
	else if ((r = eca_channel_open_port(s->host, j->host, j->port,
		      ECA_PURPOSE_ENROLL, REMOTE_STEP_MS, &ch, NULL, &err)) !=
	    0)
		open_failed(j, r, &err);
	else if ((buf = malloc(ECA_FRAME_MAX)) == NULL)
		job_fail(j, ECA_ERR_NOMEM, "out of memory");
	else if ((r = eca_channel_recv_frame(ch, buf, ECA_FRAME_MAX, &len,
		      &err)) != 0)
		job_fail(j, r,
		    "%s accepted the remote enrollment but sent no answer: "
		    "%s (see its log)",
		    j->host, err.msg);
	else
		take_answer(j, buf, len);
	free(buf);
	eca_channel_close(ch);
	ecad_snap_put(s);
}

/* The journal line of a finished request. */
static void
journal(struct remote_job *j)
{
	struct eca_audit_entry e;
	const json_t *cert;
	const char *fp;

	memset(&e, 0, sizeof(e));
	snprintf(e.event, sizeof(e.event), "remote_enroll");
	snprintf(e.actor, sizeof(e.actor), "%s", j->c.actor);
	snprintf(e.host, sizeof(e.host), "%s", j->host);
	snprintf(e.source, sizeof(e.source), "%s", j->c.source);
	if (j->code != 0)
		snprintf(e.reason, sizeof(e.reason), "%s",
		    eca_err_name(j->code));
	cert = json_object_get(json_object_get(j->answer, "enrollment"),
	    "certificate");
	if ((fp = json_string_value(json_object_get(cert, "fingerprint"))) !=
	    NULL)
		snprintf(e.fingerprint, sizeof(e.fingerprint), "%s", fp);
	writer_audit(j->c.d->writer, &e);
}

/* Back on the worker's thread: journal, log, reply. */
static void
job_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct remote_job *j = arg;
	struct api_call *c = &j->c;

	(void)fd;
	(void)what;
	c->w->inflight--;
	journal(j);
	c->journaled = 1;
	if (j->code != 0)
		api_reply_error(c, j->code, "%s", j->msg);
	else {
		log_info_fields(ECA_LOG_FIELDS({"HOST", j->host},
				    {"REASON",
					json_string_value(json_object_get(
					    j->answer, "outcome"))},
				    {"PRIMARY", c->d->cfg->client_name}),
		    "remote enrollment of %s asked by %s: %s", j->host,
		    c->actor,
		    json_string_value(json_object_get(j->answer, "outcome")));
		api_reply_json(c, 200, j->answer);
		j->answer = NULL;
	}
	event_free(j->ev);
	free(j);
}

static void *
remote_main(void *arg)
{
	struct ecad_remote *rm = arg;
	struct remote_job *j;

	ecad_thread_name("ecad-remote");
	pthread_mutex_lock(&rm->lock);
	for (;;) {
		while (rm->head == NULL && !rm->stopping)
			pthread_cond_wait(&rm->cond, &rm->lock);
		if ((j = rm->head) == NULL)
			break;
		if ((rm->head = j->next) == NULL)
			rm->tail = NULL;
		rm->queued--;
		pthread_mutex_unlock(&rm->lock);
		if (rm->stopping)
			job_fail(j, ECA_ERR_BUSY,
			    "%s is stopping: retry the remote enrollment of "
			    "%s once it runs again",
			    rm->d->cfg->client_name, j->host);
		else
			run_job(rm->d, j);
		event_active(j->ev, EV_READ, 0);
		pthread_mutex_lock(&rm->lock);
	}
	pthread_mutex_unlock(&rm->lock);
	return NULL;
}

/*
 * The body {"host":NAME[,"port":N]}: NAME canonical into j->host, N into
 * j->port; 0 or -1 (replied).
 */
static int
parse_body(struct api_call *c, struct remote_job *j)
{
	const char *buf, *name;
	char *host = j->host;
	size_t len = sizeof(j->host);
	const json_t *jp;
	struct eca_err e;
	size_t blen;
	json_t *o;

	if (api_read_body(c, &buf, &blen) != 0)
		return -1;
	if ((o = json_loadb(buf, blen, 0, NULL)) == NULL ||
	    (name = json_string_value(json_object_get(o, "host"))) == NULL ||
	    ((jp = json_object_get(o, "port")) != NULL &&
		(!json_is_integer(jp) || json_integer_value(jp) < 1 ||
		    json_integer_value(jp) > 65535))) {
		json_decref(o);
		api_reply_error(c, ECA_ERR_BAD_REQUEST,
		    "the body must be {\"host\":NAME}, the host to enroll, "
		    "with \"port\":1..65535 if its peer listener is not "
		    "where PEER or the default says");
		return -1;
	}
	if (jp != NULL)
		snprintf(j->port, sizeof(j->port), "%d",
		    (int)json_integer_value(jp));
	eca_err_clear(&e);
	if (eca_hostname_canon(name, host, len, &e) != 0) {
		json_decref(o);
		api_reply_error(c, e.code, "%s", e.msg);
		return -1;
	}
	json_decref(o);
	snprintf(c->name, sizeof(c->name), "%s", host);
	return 0;
}

/* Queue j (taken); 0, 1 when stopping, 2 when the queue is full. */
static int
enqueue(struct ecad_remote *rm, struct remote_job *j)
{
	int r = 0;

	pthread_mutex_lock(&rm->lock);
	if (rm->stopping)
		r = 1;
	else if (rm->queued >= REMOTE_QUEUE_MAX)
		r = 2;
	else {
		if (rm->tail != NULL)
			rm->tail->next = j;
		else
			rm->head = j;
		rm->tail = j;
		rm->queued++;
		pthread_cond_signal(&rm->cond);
	}
	pthread_mutex_unlock(&rm->lock);
	return r;
}

/* A new job for c: 0, or -1 when refused (replied, nothing kept). */
static int
job_new(struct api_call *c, struct remote_job **out)
{
	struct remote_job *j;

	*out = NULL;
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		api_reply_error(c, ECA_ERR_NOMEM, "out of memory");
		return -1;
	}
	if (parse_body(c, j) != 0) {
		free(j);
		return -1;
	}
	if (eca_hostname_eq(j->host, c->d->cfg->client_name)) {
		api_reply_error(c, ECA_ERR_USAGE,
		    "%s is this primary: enroll it with `eca enroll`", j->host);
		free(j);
		return -1;
	}
	if ((j->ev = event_new(c->w->base, -1, 0, job_done_cb, j)) == NULL) {
		free(j);
		api_reply_error(c, ECA_ERR_NOMEM, "out of memory");
		return -1;
	}
	j->c = *c;
	j->c.snap = NULL;
	j->c.conn = NULL;
	j->c.ssl = NULL;
	*out = j;
	return 0;
}

void
api_h_remote_enroll(struct api_call *c)
{
	struct remote_job *j;
	int r;

	if (job_new(c, &j) != 0)
		return;
	if ((r = enqueue(c->d->remote, j)) != 0) {
		event_free(j->ev);
		free(j);
		if (r == 1)
			api_reply_error(c, ECA_ERR_BUSY,
			    "%s is stopping: retry the remote enrollment once "
			    "it runs again",
			    c->d->cfg->client_name);
		else
			api_reply_error(c, ECA_ERR_BUSY,
			    "%s has %d remote enrollments waiting already; "
			    "retry after the Retry-After delay",
			    c->d->cfg->client_name, REMOTE_QUEUE_MAX);
		return;
	}
	c->w->inflight++;
}

int
remote_start(struct ecad *d, struct eca_err *err)
{
	struct ecad_remote *rm;
	sigset_t all, old;
	int e;

	if ((rm = calloc(1, sizeof(*rm))) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "cannot allocate the remote enrollment queue");
	rm->d = d;
	pthread_mutex_init(&rm->lock, NULL);
	pthread_cond_init(&rm->cond, NULL);
	/* Signals belong to the main thread's event loop. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	e = pthread_create(&rm->thread, NULL, remote_main, rm);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		pthread_cond_destroy(&rm->cond);
		pthread_mutex_destroy(&rm->lock);
		free(rm);
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot start the remote enrollment thread: %s",
		    strerror(e));
	}
	d->remote = rm;
	return 0;
}

void
remote_stop(struct ecad *d)
{
	struct ecad_remote *rm = d->remote;

	if (rm == NULL)
		return;
	pthread_mutex_lock(&rm->lock);
	rm->stopping = 1;
	pthread_cond_signal(&rm->cond);
	pthread_mutex_unlock(&rm->lock);
	pthread_join(rm->thread, NULL);
}

void
remote_free(struct ecad *d)
{
	struct ecad_remote *rm = d->remote;

	if (rm == NULL)
		return;
	pthread_cond_destroy(&rm->cond);
	pthread_mutex_destroy(&rm->lock);
	free(rm);
	d->remote = NULL;
}
