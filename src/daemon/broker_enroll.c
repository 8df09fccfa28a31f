/* SPDX-License-Identifier: ISC */
/*
 * broker_enroll.c - remote enrollment through a NAT host's broker session
 * (`eca enroll --remote-host`, remote.c; docs/nat.md): the primary asks
 * the NAT host over its session to enroll, and waits for its answer.  One
 * at a time; the answer is matched by its id and the session's host.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker_impl.h"
#include "log.h"

/* Under b->lock (broker_impl.h). */
void
broker_enroll_gone(struct ecad_broker *b, const char *host)
{
	if (b->enroll.id == 0 || b->enroll.done ||
	    strcmp(b->enroll.host, host) != 0)
		return;
	b->enroll.done = 1;
	b->enroll.code = ECA_ERR_UNREACHABLE;
	snprintf(b->enroll.msg, sizeof(b->enroll.msg),
	    "the broker session of %s closed before it answered the remote "
	    "enrollment: retry once it is online again (`eca list`)",
	    host);
	pthread_cond_broadcast(&b->enrolled);
}

/* The NAT host's answer to a remote enrollment (broker_impl.h). */
int
broker_on_enrolled(struct bsess *s, struct eca_broker_msg *m)
{
	struct ecad_broker *b = s->b;
	int taken = 0;

	pthread_mutex_lock(&b->lock);
	if (b->enroll.id == m->id && !b->enroll.done &&
	    strcmp(b->enroll.host, s->host) == 0) {
		b->enroll.answer = m->answer;
		m->answer = NULL;
		b->enroll.done = 1;
		taken = 1;
		pthread_cond_broadcast(&b->enrolled);
	}
	pthread_mutex_unlock(&b->lock);
	if (!taken)
		log_warn("broker: NAT host %s (%s) answered remote enrollment "
			 "%lld, which nobody waits for (too late?)",
		    s->host, s->addr, (long long)m->id);
	eca_broker_msg_clear(m);
	if (!s->restricted)
		return 0;
	log_info("broker: NAT host %s (%s) answered a remote enrollment on "
		 "its restricted session: closed, to be judged again",
	    s->host, s->addr);
	broker_sess_free(s);
	return -1;
}

/* ------------------------------------------------------------------ */
/* Remote enrollment through a session (remote.c).                     */

/* Wait for the answer to b->enroll until deadline; under b->lock. */
static void
enroll_wait(struct ecad_broker *b, long timeout_ms)
{
	struct timespec ts;
	int64_t ns;

	clock_gettime(CLOCK_REALTIME, &ts);
	ns = (int64_t)ts.tv_nsec + (int64_t)(timeout_ms % 1000) * 1000000;
	ts.tv_sec += (time_t)(timeout_ms / 1000 + ns / 1000000000);
	ts.tv_nsec = (long)(ns % 1000000000);
	while (!b->enroll.done && !b->stopping)
		if (pthread_cond_timedwait(&b->enrolled, &b->lock, &ts) != 0)
			break;
}

/* Queue the request to the I/O thread: 0, or an error. */
static int
enroll_queue(struct ecad_broker *b, const char *host, int64_t id,
    struct eca_err *err)
{
	struct eca_broker_msg m;

	memset(&m, 0, sizeof(m));
	m.op = ECA_BROKER_ENROLL;
	m.id = id;
	snprintf(m.host, sizeof(m.host), "%s", host);
	return broker_post(b, &m, err);
}

int
broker_remote_enroll(struct ecad *d, const char *host, long timeout_ms,
    char **answer, struct eca_err *err)
{
	struct ecad_broker *b = d->broker;
	const struct bentry *e;
	int64_t id;
	int r;

	*answer = NULL;
	if (b == NULL || b->base == NULL)
		return 1;
	pthread_mutex_lock(&b->lock);
	e = broker_entry_find(b, host);
	if (e == NULL || e->sess == NULL || b->enroll.id != 0) {
		r = e == NULL || e->sess == NULL ?
		    1 :
		    eca_err_set(err, ECA_ERR_BUSY,
			"a remote enrollment through the broker is running: "
			"retry");
		pthread_mutex_unlock(&b->lock);
		return r;
	}
	id = ++b->enroll_last_id;
	memset(&b->enroll, 0, sizeof(b->enroll));
	b->enroll.id = id;
	snprintf(b->enroll.host, sizeof(b->enroll.host), "%s", host);
	pthread_mutex_unlock(&b->lock);
	log_info("broker: remote enrollment %lld of NAT host %s through its "
		 "session",
	    (long long)id, host);
	if ((r = enroll_queue(b, host, id, err)) != 0) {
		pthread_mutex_lock(&b->lock);
		b->enroll.id = 0;
		pthread_mutex_unlock(&b->lock);
		return r;
	}
	pthread_mutex_lock(&b->lock);
	enroll_wait(b, timeout_ms);
	if (!b->enroll.done)
		r = eca_err_set(err, ECA_ERR_TIMEOUT,
		    "NAT host %s did not answer the remote enrollment through "
		    "its broker session within %ld s (see its log)",
		    host, timeout_ms / 1000);
	else if (b->enroll.code != 0)
		r = eca_err_set(err, b->enroll.code, "%s", b->enroll.msg);
	*answer = b->enroll.answer;
	b->enroll.answer = NULL;
	b->enroll.id = 0;
	pthread_mutex_unlock(&b->lock);
	if (r != 0) {
		free(*answer);
		*answer = NULL;
	}
	return r;
}
