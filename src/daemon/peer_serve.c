/* SPDX-License-Identifier: ISC */
/*
 * peer_serve.c - the services of an accepted peer channel (peer_impl.h,
 * docs/channels.md): PING, CONSOLE and CONTROL echo every frame back;
 * BACKUP, RESTORE and REPLICATION move bulk data one way after a request
 * frame.  Output is bounded per connection (PEER_OUT_HIGH): a peer that
 * does not read stops being read.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <jansson.h>

#include "log.h"
#include "peer_impl.h"
#include "text.h"

/* Bulk output comes from here (evbuffer_add_reference: no copy). */
static const unsigned char bulk_zeros[PEER_BULK_CHUNK];

/* Write one frame for a JSON object (consumed). */
int
peer_send_json(struct pconn *pc, json_t *obj)
{
	struct eca_err e;
	unsigned char *buf = NULL;
	size_t len = 0;
	int r;

	eca_err_clear(&e);
	if (obj == NULL)
		return ECA_ERR_NOMEM;
	r = eca_channel_frame_encode(obj, &buf, &len, &e);
	json_decref(obj);
	if (r != 0) {
		log_error("peer %s: cannot encode a frame: %s", pc->addr,
		    e.msg);
		return r;
	}
	if (peer_send(pc, buf, len) != 0)
		r = ECA_ERR_NOMEM;
	free(buf);
	return r;
}

/* A service-level error: {"error":{"code":C,"message":M}}, then close. */
void
peer_service_error(struct pconn *pc, int code, const char *fmt, ...)
{
	char msg[ECA_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_info("peer channel from %s (%s) closed: %s", pc->hello.host,
	    pc->addr, msg);
	if (peer_send_json(pc,
		json_pack("{s:{s:s, s:s}}", "error", "code", eca_err_name(code),
		    "message", msg)) != 0) {
		peer_conn_free(pc);
		return;
	}
	peer_conn_closing(pc);
}

/*
 * The next whole frame of a service: 0 with it (peer_frame_peek), 1 when
 * more bytes are needed or it was bad (then pc is refused and closing).
 */
static int
service_frame(struct pconn *pc, unsigned char **payload, size_t *flen)
{
	int r;

	if ((r = peer_frame_peek(pc, payload, flen)) == 1)
		return 1;
	if (r != 0) {
		peer_service_error(pc, r, "bad frame from %s: %s",
		    pc->hello.host, eca_err_desc(r));
		return 1;
	}
	return 0;
}

/* Echo services: every frame back as it came. */
void
peer_serve_echo(struct pconn *pc)
{
	struct evbuffer *in = bufferevent_get_input(pc->bev);
	struct evbuffer *out = bufferevent_get_output(pc->bev);
	unsigned char *payload;
	size_t flen;

	while (pc->state == PS_SERVING) {
		if (evbuffer_get_length(out) >= PEER_OUT_HIGH) {
			/* The peer does not read: stop reading too. */
			pc->throttled = 1;
			bufferevent_disable(pc->bev, EV_READ);
			return;
		}
		if (service_frame(pc, &payload, &flen) != 0)
			return;
		/* The frame, header included, is contiguous (pulled up). */
		if (peer_send(pc, payload - 4, flen) != 0) {
			peer_conn_free(pc);
			return;
		}
		evbuffer_drain(in, flen);
	}
}

/* Send more of a bulk "receive" while the output has room. */
void
peer_bulk_fill(struct pconn *pc)
{
	struct evbuffer *out = bufferevent_get_output(pc->bev);
	size_t n;

	while (pc->remaining > 0 && evbuffer_get_length(out) < PEER_OUT_HIGH) {
		n = pc->remaining < (int64_t)sizeof(bulk_zeros) ?
		    (size_t)pc->remaining :
		    sizeof(bulk_zeros);
		if (evbuffer_add_reference(out, bulk_zeros, n, NULL, NULL) !=
		    0) {
			peer_conn_free(pc);
			return;
		}
		pc->remaining -= (int64_t)n;
	}
	if (pc->remaining > 0)
		return;
	/*
	 * Back to frames once the last byte has gone out: only then does
	 * the idle timeout (a read timeout) start again.
	 */
	if (evbuffer_get_length(out) > 0) {
		bufferevent_setwatermark(pc->bev, EV_WRITE, 0, 0);
		return;
	}
	pc->state = PS_SERVING;
	bufferevent_disable(pc->bev, EV_WRITE);
	bufferevent_enable(pc->bev, EV_READ);
	peer_conn_read(pc);
}

/*
 * PS_BULK_IN: take what has come of the bytes announced; once all are
 * in, the receipt and back to frames.  0 to go on, 1 to wait for more
 * input (or pc is gone).
 */
static int
bulk_in(struct pconn *pc)
{
	struct evbuffer *in = bufferevent_get_input(pc->bev);
	size_t avail;

	avail = evbuffer_get_length(in);
	if ((int64_t)avail > pc->remaining)
		avail = (size_t)pc->remaining;
	evbuffer_drain(in, avail);
	pc->remaining -= (int64_t)avail;
	if (pc->remaining > 0)
		return 1;
	pc->state = PS_SERVING;
	if (peer_send_json(pc,
		json_pack("{s:I}", "received", (json_int_t)pc->total)) != 0) {
		peer_conn_free(pc);
		return 1;
	}
	return 0;
}

/*
 * One request, {"op":"send"|"receive","bytes":N}: 0 to go on reading
 * (a send's bytes follow), 1 to stop (a receive is being sent, or pc was
 * refused and is closing).
 */
static int
bulk_request(struct pconn *pc, const json_t *req)
{
	const json_t *jop, *jn;
	const char *op;
	char shown[48];
	json_int_t n;

	if (req == NULL || !json_is_object(req) ||
	    (jop = json_object_get(req, "op")) == NULL ||
	    !json_is_string(jop) ||
	    (jn = json_object_get(req, "bytes")) == NULL ||
	    !json_is_integer(jn)) {
		peer_service_error(pc, ECA_ERR_PROTOCOL,
		    "a %s channel "
		    "expects {\"op\":\"send\"|\"receive\",\"bytes\":N}",
		    eca_purpose_name(pc->hello.purpose));
		return 1;
	}
	n = json_integer_value(jn);
	op = json_string_value(jop);
	if (n < 0 || n > ECA_BULK_MAX) {
		peer_service_error(pc, ECA_ERR_TOO_LARGE,
		    "bulk transfer of "
		    "%lld bytes refused (0 to %lld)",
		    (long long)n, (long long)ECA_BULK_MAX);
		return 1;
	}
	pc->remaining = pc->total = n;
	if (strcmp(op, "send") == 0) {
		pc->state = PS_BULK_IN;
		return 0;
	}
	if (strcmp(op, "receive") != 0) {
		eca_text_sanitize(op, strlen(op), shown, sizeof(shown));
		peer_service_error(pc, ECA_ERR_PROTOCOL,
		    "unknown bulk op "
		    "\"%s\" (send or receive)",
		    shown);
		return 1;
	}
	/*
	 * Reading waits (no idle timeout meanwhile); write_cb refills below
	 * the low watermark.
	 */
	pc->state = PS_BULK_OUT;
	bufferevent_disable(pc->bev, EV_READ);
	bufferevent_enable(pc->bev, EV_WRITE);
	bufferevent_setwatermark(pc->bev, EV_WRITE, PEER_OUT_LOW, 0);
	peer_bulk_fill(pc);
	return 1;
}

/* Bulk services: a request frame, then raw bytes one way. */
void
peer_serve_bulk(struct pconn *pc)
{
	struct evbuffer *in = bufferevent_get_input(pc->bev);
	unsigned char *payload;
	json_error_t jerr = {.line = 0}; /* jansson may leave it unset */
	json_t *req;
	size_t flen;
	int r;

	for (;;) {
		if (pc->state == PS_BULK_IN) {
			if (bulk_in(pc) != 0)
				return;
			continue;
		}
		if (pc->state != PS_SERVING)
			return;
		if (service_frame(pc, &payload, &flen) != 0)
			return;
		req = json_loadb((const char *)payload, flen - 4,
		    JSON_REJECT_DUPLICATES, &jerr);
		evbuffer_drain(in, flen);
		r = bulk_request(pc, req);
		json_decref(req);
		if (r != 0)
			return;
	}
}
