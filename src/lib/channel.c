/* SPDX-License-Identifier: ISC */
/*
 * channel.c - opening a channel to a peer host (eca_channel_open: the
 * calling end's side of the protocol, judged with eca_judge_peer) and the
 * services' client side.  The codecs are in channel_codec.c, the sockets
 * and TLS in channel_io.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "channel_impl.h"
#include "host.h"
#include "hostname.h"
#include "judge.h"
#include "log.h"
#include "tls.h"
#include "util.h"

#define BULK_CHUNK (64 * 1024)
/* Used when eca_channel_open is given no timeout (timeout_ms <= 0). */
#define DEFAULT_TIMEOUT_MS 10000L

/* ------------------------------------------------------------------ */
/* Opening a channel.                                                  */

static void
steps_init(struct eca_channel_steps *s)
{
	memset(s, 0, sizeof(*s));
	s->resolve_us = s->tcp_us = s->tls_us = -1;
	s->request_us = s->callback_us = s->direct_us = -1;
	s->identity_us = s->enroll_check_us = s->autoenroll_us = -1;
	s->total_us = -1;
}

/* What eca_channel_open holds while it opens a channel. */
struct opening {
	struct eca_host *h;
	struct eca_channel *ch;
	struct eca_channel_steps *steps;
	unsigned char *buf;		    /* one frame's payload */
	struct eca_channel_server_hello sh; /* the server's HELLO */
	const char *primary;		    /* the primary both share */
	struct eca_domain *d;		    /* this host's domain of it */
	X509 *leaf;			    /* the server's certificate */
	STACK_OF(X509) *chain;
	int deferred; /* judged after its VERDICT */
	struct eca_judge_input in;
	struct eca_judge_result res;
};

/* The arguments, before anything is opened: 0, or the usage error. */
static int
open_check(struct eca_host *h, const char *peer, enum eca_purpose purpose,
    char canon[ECA_HOST_MAX], struct eca_err *err)
{
	int r;

	if (h == NULL || h->cfg == NULL || h->cfg->client_name == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_channel_open needs a host context");
	if ((r = eca_hostname_canon(peer, canon, ECA_HOST_MAX, err)) != 0)
		return r;
	if (!eca_purpose_valid((int)purpose))
		return eca_err_set(err, ECA_ERR_USAGE,
		    "unknown channel "
		    "purpose %d",
		    (int)purpose);
	if (h->client_ctx == NULL || h->cred == NULL)
		return eca_err_set(err, ECA_ERR_NO_CLIENT_CERT,
		    "%s has no "
		    "external certificate to open a channel with: configure "
		    "ECA_CERT_PATH and ECA_PRIVATE_KEY_PATH",
		    h->cfg->client_name);
	return 0;
}

/*
 * The server's HELLO: who it says it is (it must be the host called),
 * the primary both hosts share, and the certificate it presented.
 */
static int
read_server_hello(struct opening *o, struct eca_err *err)
{
	struct eca_channel *ch = o->ch;
	size_t len;
	int64_t t = eca_util_mono_us();
	int r;

	if ((r = eca_channel_read_frame(ch, o->buf, ECA_FRAME_MAX, &len,
		 "reading its HELLO", err)) != 0)
		return r;
	if ((r = eca_channel_server_hello_parse(o->buf, len, &o->sh, err)) != 0)
		return eca_channel_err_prefix(err, r,
		    "%s is not speaking the "
		    "channel protocol",
		    ch->peer);
	if (ch->token[0] != '\0' && strcmp(o->sh.token, ch->token) != 0)
		return eca_err_set(err, ECA_ERR_FORBIDDEN,
		    "refused %s: its HELLO does not name this reverse "
		    "connection's token (a forged or replayed call back)",
		    ch->peer);
	if (strcmp(o->sh.host, ch->peer) != 0)
		return eca_err_set(err, ECA_ERR_IDENTITY_MISMATCH,
		    "refused "
		    "%s: the host at %s says it is %s (check the PEER entry "
		    "or DNS for %s)",
		    ch->peer, o->steps->address, o->sh.host, ch->peer);
	if ((o->primary = eca_channel_shared_primary(o->h->cfg, &o->sh)) ==
	    NULL)
		return eca_err_set(err, ECA_ERR_FORBIDDEN,
		    "%s and %s share "
		    "no primary: list a common primary in both hosts' SERVER "
		    "entries",
		    o->h->cfg->client_name, ch->peer);
	snprintf(o->steps->primary, sizeof(o->steps->primary), "%s",
	    o->primary);
	if ((o->d = eca_host_domain(o->h, o->primary)) == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "no domain state "
		    "for primary %s",
		    o->primary);
	if ((r = eca_tls_peer_chain(ch->ssl, &o->leaf, &o->chain, err)) != 0)
		return eca_channel_err_prefix(err, r, "refused %s", ch->peer);
	o->steps->identity_us = eca_util_mono_us() - t;
	return 0;
}

/* Add us to a step's time (a step not reached yet counts from 0). */
static void
step_add(int64_t *step, int64_t us)
{
	*step = (*step < 0 ? 0 : *step) + us;
}

/*
 * One judgment of the server (judge.h), with the roster refreshed first
 * for wait_ms when this is the judgment resumed after a sync: 0,
 * ECA_JUDGE_NEED_SYNC, or the refusal in err.  The certificate check
 * counts as identity, this host's enrollment as its own step, the rest
 * (roster look-ups and refreshes) as the enrollment check.
 */
static int
judge_server(struct opening *o, long wait_ms, struct eca_err *err)
{
	struct eca_judge_result *res = &o->res;
	struct eca_channel_steps *steps = o->steps;
	struct eca_err se;
	int64_t t, cert_us, enroll_us;
	int r;

	t = eca_util_mono_us();
	cert_us = res->cert_done ? 0 : -1;
	enroll_us = res->autoenroll_us;
	/* A failed refresh shows in the verdict (stale, or still missing). */
	eca_err_clear(&se);
	if (o->in.resumed &&
	    eca_domain_refresh(o->h, o->d, o->ch->peer, wait_ms, &se) != 0)
		log_debug("judging %s with the roster as it is: %s",
		    o->ch->peer, se.msg);
	r = eca_judge_peer(&o->in, res);
	t = eca_util_mono_us() - t;
	if (cert_us < 0 && res->cert_done) {
		step_add(&steps->identity_us, res->cert_us);
		t -= res->cert_us;
	}
	if (res->autoenroll_us != enroll_us) {
		steps->autoenroll_us = res->autoenroll_us;
		t -= res->autoenroll_us;
	}
	steps->autoenrolled = res->autoenrolled;
	step_add(&steps->enroll_check_us, t > 0 ? t : 0);
	eca_certinfo_summary(&steps->peer, &res->cert.info);
	if (r == 0 || r == ECA_JUDGE_NEED_SYNC)
		return r;
	if (res->end == ECA_JUDGE_END_VERDICT)
		return eca_err_set(err, r, "refused %s: %s", o->ch->peer,
		    res->verdict.message);
	return eca_err_set(err, r, "%s", res->verdict.message);
}

/*
 * Judge the server before sending anything but the TLS handshake.  A
 * roster that must be synced first is refreshed once (rate-limited) and
 * the server judged again; but a server that is not in the roster yet
 * and would be enrolled by this very communication enrolls only after
 * it has read our HELLO: then the judgment is deferred until after its
 * VERDICT (nothing but the HELLO goes out before it).
 */
static int
judge_before_hello(struct opening *o, enum eca_purpose purpose,
    struct eca_err *err)
{
	struct eca_judge_input *in = &o->in;
	int r;

	memset(in, 0, sizeof(*in));
	in->side = ECA_JUDGE_CALLING;
	in->h = o->h;
	in->d = o->d;
	in->primary = o->primary;
	in->peer = o->ch->peer;
	in->leaf = o->leaf;
	in->chain = o->chain;
	in->purpose = purpose;
	in->peer_side.role = o->sh.role;
	in->peer_side.has_cert = o->sh.has_cert;
	in->peer_side.nat = o->sh.nat;
	eca_judge_init(&o->res);
	if ((r = judge_server(o, 0, err)) != ECA_JUDGE_NEED_SYNC)
		return r;
	in->resumed = 1;
	if (o->res.wait_enroll) {
		o->deferred = 1;
		return 0;
	}
	return judge_server(o, 0, err);
}

/* This host's HELLO: who it is, the primary, the purpose. */
static int
send_client_hello(struct opening *o, enum eca_purpose purpose,
    struct eca_err *err)
{
	struct eca_channel_client_hello hc;
	unsigned char *frame = NULL;
	size_t len;
	int r;

	memset(&hc, 0, sizeof(hc));
	snprintf(hc.host, sizeof(hc.host), "%s", o->h->cfg->client_name);
	hc.role = o->h->cfg->role;
	snprintf(hc.primary, sizeof(hc.primary), "%s", o->primary);
	hc.purpose = purpose;
	hc.has_cert = 1;
	hc.autoenroll = o->res.self_autoenroll;
	hc.has_autoenroll = 1;
	hc.nat = o->h->cfg->nat_client;
	if ((r = eca_channel_client_hello_encode(&hc, &frame, &len, err)) == 0)
		r = eca_channel_write_full(o->ch, frame, len,
		    eca_channel_deadline(o->ch->timeout_ms),
		    "sending this host's HELLO", err);
	free(frame);
	return r;
}

/* The server's verdict on this host: 0 when it accepts. */
static int
read_verdict(struct opening *o, struct eca_err *err)
{
	struct eca_channel_verdict cv;
	const char *peer = o->ch->peer;
	size_t len;
	int r;

	if ((r = eca_channel_read_frame(o->ch, o->buf, ECA_FRAME_MAX, &len,
		 "reading its VERDICT", err)) != 0)
		return r;
	if ((r = eca_channel_verdict_parse(o->buf, len, &cv, err)) != 0)
		return eca_channel_err_prefix(err, r,
		    "%s is not speaking the "
		    "channel protocol",
		    peer);
	if (!cv.accept)
		return eca_err_set(err, cv.code, "%s refused this host: %s",
		    peer,
		    cv.message[0] != '\0' ? cv.message : eca_err_desc(cv.code));
	if (cv.primary[0] != '\0' && strcmp(cv.primary, o->primary) != 0)
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "%s accepted this "
		    "host for primary %s, not %s as asked",
		    peer, cv.primary, o->primary);
	return 0;
}

/*
 * Open a channel: connect out (at port, or PEER's), or through reverse;
 * route < 0: as eca_channel_route decides for this peer.
 */
static int
open_channel(struct eca_host *h, const char *peer, const char *port,
    enum eca_purpose purpose, long timeout_ms, int route,
    struct eca_channel **out, struct eca_channel_steps *steps,
    struct eca_err *err)
{
	struct eca_channel_steps local;
	struct opening *o = NULL;
	char canon[ECA_HOST_MAX];
	int64_t t0;
	int r;

	if (steps == NULL)
		steps = &local;
	steps_init(steps);
	t0 = eca_util_mono_us();
	if (out != NULL)
		*out = NULL;
	if (out == NULL)
		h = NULL; /* nowhere to put the channel */
	if ((r = open_check(h, peer, purpose, canon, err)) != 0)
		goto out;
	/* The judgment is big (two certificates' details): not on the stack. */
	if ((o = calloc(1, sizeof(*o))) == NULL ||
	    (o->ch = calloc(1, sizeof(*o->ch))) == NULL ||
	    (o->buf = malloc(ECA_FRAME_MAX)) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
		goto out;
	}
	o->h = h;
	o->steps = steps;
	o->ch->fd = -1;
	o->ch->timeout_ms = timeout_ms > 0 ? timeout_ms : DEFAULT_TIMEOUT_MS;
	o->ch->purpose = purpose;
	/* From here on the peer is its canonical name. */
	memcpy(o->ch->peer, canon, strlen(canon) + 1);
	if (port != NULL &&
	    (size_t)snprintf(o->ch->port, sizeof(o->ch->port), "%s", port) >=
		sizeof(o->ch->port)) {
		r = eca_err_set(err, ECA_ERR_USAGE, "port '%.16s' is too long",
		    port);
		goto out;
	}

	/* The roster is asked only when its answer can change the route. */
	if (route < 0)
		route = (int)eca_channel_route(h->cfg,
		    eca_channel_route(h->cfg, 1) == ECA_ROUTE_REVERSE &&
			eca_channel_peer_is_nat(h, o->ch->peer));
	r = eca_channel_connect_route(o->ch, h, (enum eca_channel_route)route,
	    steps, err);
	if (r != 0 ||
	    (r = eca_channel_tls_connect(o->ch, h->client_ctx, steps, err)) !=
		0 ||
	    (r = read_server_hello(o, err)) != 0 ||
	    (r = judge_before_hello(o, purpose, err)) != 0 ||
	    (r = send_client_hello(o, purpose, err)) != 0 ||
	    (r = read_verdict(o, err)) != 0)
		goto out;
	/* The server enrolled while reading our HELLO: wait to see it. */
	if (o->deferred && (r = judge_server(o, ECA_ENROLL_WAIT_MS, err)) != 0)
		goto out;
	/*
	 * The set-up's read-ahead ends here: what it already took stays in
	 * the TLS buffer for the next read (eca_channel_ssl says so), and
	 * from now on no more records gather there unseen by poll().
	 */
	SSL_set_read_ahead(o->ch->ssl, 0);
	*out = o->ch;
	o->ch = NULL;
	r = 0;
out:
	steps->total_us = eca_util_mono_us() - t0;
	if (o != NULL) {
		eca_channel_close(o->ch);
		X509_free(o->leaf);
		sk_X509_pop_free(o->chain, X509_free);
		free(o->buf);
		eca_judge_done(&o->res);
		free(o);
	}
	return r;
}

int
eca_channel_open(struct eca_host *h, const char *peer, enum eca_purpose purpose,
    long timeout_ms, struct eca_channel **out, struct eca_channel_steps *steps,
    struct eca_err *err)
{
	return open_channel(h, peer, NULL, purpose, timeout_ms, -1, out, steps,
	    err);
}

int
eca_channel_open_port(struct eca_host *h, const char *peer, const char *port,
    enum eca_purpose purpose, long timeout_ms, struct eca_channel **out,
    struct eca_channel_steps *steps, struct eca_err *err)
{
	return open_channel(h, peer, port, purpose, timeout_ms,
	    ECA_ROUTE_DIRECT, out, steps, err);
}

int
eca_channel_open_reverse(struct eca_host *h, const char *peer,
    enum eca_purpose purpose, long timeout_ms, struct eca_channel **out,
    struct eca_channel_steps *steps, struct eca_err *err)
{
	return open_channel(h, peer, NULL, purpose, timeout_ms,
	    ECA_ROUTE_REVERSE, out, steps, err);
}

void
eca_channel_close(struct eca_channel *ch)
{
	if (ch == NULL)
		return;
	if (ch->ssl != NULL) {
		/* One try at close_notify: never wait for a peer on close. */
		if (SSL_is_init_finished(ch->ssl))
			(void)SSL_shutdown(ch->ssl);
		SSL_free(ch->ssl);
	}
	if (ch->fd != -1)
		close(ch->fd);
	ERR_clear_error();
	free(ch);
}

SSL *
eca_channel_ssl(struct eca_channel *ch)
{
	return ch == NULL ? NULL : ch->ssl;
}

int
eca_channel_send_frame(struct eca_channel *ch, const unsigned char *frame,
    size_t len, struct eca_err *err)
{
	size_t flen;

	if (ch == NULL || frame == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "no channel or frame");
	if (eca_channel_frame_need(frame, len, &flen) != 0 || flen != len)
		return eca_err_set(err, ECA_ERR_USAGE,
		    "not one whole frame of "
		    "at most %d bytes",
		    ECA_FRAME_MAX);
	return eca_channel_write_full(ch, frame, len,
	    eca_channel_deadline(ch->timeout_ms), "sending a frame", err);
}

int
eca_channel_recv_frame(struct eca_channel *ch, unsigned char *buf, size_t cap,
    size_t *len, struct eca_err *err)
{
	if (len != NULL)
		*len = 0;
	if (ch == NULL || buf == NULL || len == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "no channel or buffer");
	return eca_channel_read_frame(ch, buf, cap, len, "reading a frame",
	    err);
}

/* ------------------------------------------------------------------ */
/* Services, client side.                                              */

int
eca_channel_ping(struct eca_channel *ch, struct eca_err *err)
{
	char payload[64];
	const json_t *op, *pl;
	json_t *j = NULL;
	int r;

	if (ch == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL, "no channel");
	/* Different every time, so an echo cannot be a stale answer. */
	snprintf(payload, sizeof(payload), "eca ping %lld",
	    (long long)eca_util_mono_us());
	if ((r = eca_channel_send_json(ch,
		 json_pack("{s:s, s:s}", "op", "ping", "payload", payload),
		 "sending a ping", err)) != 0 ||
	    (r = eca_channel_recv_json(ch, "waiting for the ping's echo", &j,
		 err)) != 0)
		goto out;
	op = json_object_get(j, "op");
	pl = json_object_get(j, "payload");
	if (!json_is_string(op) || strcmp(json_string_value(op), "ping") != 0 ||
	    !json_is_string(pl) ||
	    strcmp(json_string_value(pl), payload) != 0) {
		r = eca_err_set(err, ECA_ERR_PROTOCOL,
		    "%s answered the ping "
		    "with something other than its echo",
		    ch->peer);
		goto out;
	}
	r = 0;
out:
	json_decref(j);
	return r;
}

static int
bulk_check(struct eca_channel *ch, int64_t n, struct eca_err *err)
{
	if (ch == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL, "no channel");
	if (n < 0 || n > ECA_BULK_MAX)
		return eca_err_set(err, ECA_ERR_USAGE,
		    "a bulk transfer of "
		    "%lld bytes is out of range (0 to %lld)",
		    (long long)n, (long long)ECA_BULK_MAX);
	return 0;
}

int
eca_channel_bulk_send(struct eca_channel *ch, int64_t n, struct eca_err *err)
{
	unsigned char *chunk = NULL;
	const json_t *got;
	json_t *j = NULL;
	int64_t left;
	size_t k;
	int r;

	if ((r = bulk_check(ch, n, err)) != 0)
		return r;
	if ((chunk = calloc(1, BULK_CHUNK)) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = eca_channel_send_json(ch,
		 json_pack("{s:s, s:I}", "op", "send", "bytes", (json_int_t)n),
		 "asking to send bulk data", err)) != 0)
		goto out;
	for (left = n; left > 0; left -= (int64_t)k) {
		k = left < BULK_CHUNK ? (size_t)left : BULK_CHUNK;
		if ((r = eca_channel_write_full(ch, chunk, k,
			 eca_channel_deadline(ch->timeout_ms),
			 "sending bulk data", err)) != 0)
			goto out;
	}
	if ((r = eca_channel_recv_json(ch, "waiting for the bulk receipt", &j,
		 err)) != 0)
		goto out;
	got = json_object_get(j, "received");
	if (!json_is_integer(got) || json_integer_value(got) != n) {
		r = eca_err_set(err, ECA_ERR_PROTOCOL,
		    "%s did not confirm "
		    "receiving the %lld bytes sent",
		    ch->peer, (long long)n);
		goto out;
	}
	r = 0;
out:
	json_decref(j);
	free(chunk);
	return r;
}

int
eca_channel_bulk_receive(struct eca_channel *ch, int64_t n, struct eca_err *err)
{
	unsigned char *chunk = NULL;
	int64_t left;
	size_t k;
	int r;

	if ((r = bulk_check(ch, n, err)) != 0)
		return r;
	if ((chunk = malloc(BULK_CHUNK)) == NULL) {
		r = eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = eca_channel_send_json(ch,
		 json_pack("{s:s, s:I}", "op", "receive", "bytes",
		     (json_int_t)n),
		 "asking for bulk data", err)) != 0)
		goto out;
	for (left = n; left > 0; left -= (int64_t)k) {
		k = left < BULK_CHUNK ? (size_t)left : BULK_CHUNK;
		if ((r = eca_channel_read_full(ch, chunk, k,
			 eca_channel_deadline(ch->timeout_ms),
			 "receiving bulk data", err)) != 0)
			goto out;
	}
	r = 0;
out:
	free(chunk);
	return r;
}
