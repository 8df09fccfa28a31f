/* SPDX-License-Identifier: ISC */
/*
 * broker.c - the broker session's messages, its reconnect backoff and
 * its state file (broker.h, docs/nat.md).
 */
#include "broker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "channel_impl.h"
#include "hostname.h"
#include "text.h"
#include "util.h"

static const char *const op_names[] = {
    [ECA_BROKER_REGISTER] = "register",
    [ECA_BROKER_REGISTERED] = "registered",
    [ECA_BROKER_REFUSED] = "refused",
    [ECA_BROKER_PING] = "ping",
    [ECA_BROKER_PONG] = "pong",
    [ECA_BROKER_CONNECT] = "connect",
    [ECA_BROKER_ENROLL] = "enroll",
    [ECA_BROKER_ENROLLED] = "enrolled",
    [ECA_BROKER_RELAY] = "relay",
    [ECA_BROKER_RELAYED] = "relayed",
};
static const char *const side_names[] = {
    [ECA_BROKER_CALLER] = "caller",
    [ECA_BROKER_CALLEE] = "callee",
};
#define NOPS (sizeof(op_names) / sizeof(op_names[0]))

/* The largest state file read back (it is a few hundred bytes). */
#define STATE_FILE_MAX 8192

void
eca_broker_msg_clear(struct eca_broker_msg *m)
{
	if (m == NULL)
		return;
	free(m->answer);
	memset(m, 0, sizeof(*m));
}

/* ENROLL {"id"} and ENROLLED {"id","answer"}. */
static int
encode_enroll(const struct eca_broker_msg *m, unsigned char **out, size_t *len,
    struct eca_err *err)
{
	json_t *j, *answer = NULL;

	if (m->id < 1 || m->id > ECA_BROKER_ID_MAX)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot encode a remote enrollment message with id %lld",
		    (long long)m->id);
	/* Loaded first: json_is_object evaluates its argument twice. */
	if (m->op == ECA_BROKER_ENROLLED && m->answer != NULL)
		answer = json_loads(m->answer, 0, NULL);
	if (m->op == ECA_BROKER_ENROLLED && !json_is_object(answer)) {
		json_decref(answer);
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot encode a remote enrollment answer that is not a "
		    "JSON object");
	}
	j = json_pack("{s:s, s:i, s:I}", "op", op_names[m->op], "v",
	    ECA_BROKER_VERSION, "id", (json_int_t)m->id);
	if (j != NULL && answer != NULL &&
	    json_object_set_new(j, "answer", answer) != 0) {
		json_decref(j);
		j = NULL;
	} else if (j == NULL)
		json_decref(answer);
	return eca_channel_frame_json(j, out, len, err);
}

static int
encode_relay(const struct eca_broker_msg *m, unsigned char **out, size_t *len,
    struct eca_err *err)
{
	if (!eca_broker_token_valid(m->token) ||
	    !eca_hostname_is_canon(m->requester) ||
	    !eca_hostname_is_canon(m->host) ||
	    !eca_purpose_valid((int)m->purpose) ||
	    (m->side != ECA_BROKER_CALLER && m->side != ECA_BROKER_CALLEE))
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot encode a relay request with an invalid token, "
		    "host, purpose or side");
	return eca_channel_frame_json(
	    json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s}", "op",
		op_names[m->op], "v", ECA_BROKER_VERSION, "side",
		side_names[m->side], "token", m->token, "requester",
		m->requester, "host", m->host, "purpose",
		eca_purpose_name(m->purpose)),
	    out, len, err);
}

int
eca_broker_encode(const struct eca_broker_msg *m, unsigned char **out,
    size_t *len, struct eca_err *err)
{
	json_t *j = NULL;

	*out = NULL;
	*len = 0;
	if (m == NULL || (size_t)m->op >= NOPS)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "cannot encode a broker message of an unknown kind");
	switch (m->op) {
	case ECA_BROKER_REGISTER:
		if (!eca_hostname_is_canon(m->host) || m->heartbeat < 1 ||
		    m->heartbeat > 3600)
			return eca_err_set(err, ECA_ERR_INTERNAL,
			    "cannot encode a broker registration with an "
			    "invalid host name or heartbeat");
		j = json_pack("{s:s, s:i, s:s, s:s, s:b, s:i}", "op",
		    op_names[m->op], "v", ECA_BROKER_VERSION, "host", m->host,
		    "role", eca_config_role_name(m->role), "nat",
		    m->nat ? 1 : 0, "heartbeat", m->heartbeat);
		break;
	case ECA_BROKER_REFUSED:
		j = json_pack("{s:s, s:i, s:s, s:s}", "op", op_names[m->op],
		    "v", ECA_BROKER_VERSION, "code", eca_err_name(m->code),
		    "message", m->message);
		break;
	case ECA_BROKER_CONNECT:
		if (!eca_broker_token_valid(m->token) ||
		    !eca_hostname_is_canon(m->requester) ||
		    !eca_purpose_valid((int)m->purpose) ||
		    m->address[0] == '\0')
			return eca_err_set(err, ECA_ERR_INTERNAL,
			    "cannot encode a reverse connection request with "
			    "an invalid token, host, purpose or address");
		j = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:i}", "op",
		    op_names[m->op], "v", ECA_BROKER_VERSION, "token", m->token,
		    "requester", m->requester, "address", m->address, "purpose",
		    eca_purpose_name(m->purpose), "ttl", m->ttl);
		if (j != NULL && m->relay &&
		    json_object_set_new(j, "relay", json_true()) != 0) {
			json_decref(j);
			j = NULL;
		}
		break;
	case ECA_BROKER_RELAY:
		return encode_relay(m, out, len, err);
	case ECA_BROKER_REGISTERED:
	case ECA_BROKER_RELAYED:
		j = json_pack("{s:s, s:i}", "op", op_names[m->op], "v",
		    ECA_BROKER_VERSION);
		break;
	case ECA_BROKER_ENROLL:
	case ECA_BROKER_ENROLLED:
		return encode_enroll(m, out, len, err);
	default:
		j = json_pack("{s:s}", "op", op_names[m->op]);
		break;
	}
	return eca_channel_frame_json(j, out, len, err);
}

/* A string member: 0 with *out, or the refusal naming it. */
static int
member_string(const json_t *j, const char *key, const char **out,
    struct eca_err *err)
{
	const json_t *v = json_object_get(j, key);

	if (v == NULL)
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the broker message has no \"%s\"", key);
	if (!json_is_string(v) ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the broker message's \"%s\" is not a string", key);
	*out = json_string_value(v);
	return 0;
}

/* "v": 1 on the messages that carry it. */
static int
check_version(const json_t *j, struct eca_err *err)
{
	const json_t *v = json_object_get(j, "v");

	if (!json_is_integer(v))
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the broker message has no integer \"v\"");
	if (json_integer_value(v) != ECA_BROKER_VERSION)
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "broker protocol version %lld is not %d: upgrade the "
		    "older host",
		    (long long)json_integer_value(v), ECA_BROKER_VERSION);
	return 0;
}

static int
parse_register(const json_t *j, struct eca_broker_msg *out, struct eca_err *err)
{
	const json_t *nat = json_object_get(j, "nat");
	const json_t *hb = json_object_get(j, "heartbeat");
	const char *host, *role;
	int r;

	if ((r = member_string(j, "host", &host, err)) != 0 ||
	    (r = member_string(j, "role", &role, err)) != 0)
		return r;
	if ((r = eca_hostname_canon(host, out->host, sizeof(out->host), err)) !=
	    0)
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the broker registration's \"host\": %s", err->msg);
	if ((r = eca_config_role_from_name(role)) < 0)
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the broker registration's \"role\" is not client, media "
		    "or primary");
	out->role = (enum eca_role)r;
	if (!json_is_boolean(nat))
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the broker registration's \"nat\" is not true or false");
	out->nat = json_is_true(nat);
	if (!json_is_integer(hb) || json_integer_value(hb) < 1 ||
	    json_integer_value(hb) > 3600)
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the broker registration's \"heartbeat\" is not a number "
		    "of seconds from 1 to 3600");
	out->heartbeat = (int)json_integer_value(hb);
	return 0;
}

static int
parse_refused(const json_t *j, struct eca_broker_msg *out, struct eca_err *err)
{
	const char *code, *msg;
	int r;

	if ((r = member_string(j, "code", &code, err)) != 0 ||
	    (r = member_string(j, "message", &msg, err)) != 0)
		return r;
	/* A code this host does not know still refuses (INTERNAL). */
	if ((out->code = eca_err_from_name(code)) == 0)
		out->code = ECA_ERR_PROTOCOL;
	eca_text_sanitize(msg, strlen(msg), out->message, sizeof(out->message));
	return 0;
}

int
eca_broker_token_valid(const char *s)
{
	size_t i;

	for (i = 0; i < ECA_BROKER_TOKEN_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
			(s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[i] == '\0';
}

/* A connect message's optional "ttl" and "relay" (docs/nat.md). */
static int
parse_connect_relay(const json_t *j, struct eca_broker_msg *out,
    struct eca_err *err)
{
	const json_t *ttl = json_object_get(j, "ttl");
	const json_t *relay = json_object_get(j, "relay");

	if (ttl != NULL &&
	    (!json_is_integer(ttl) || json_integer_value(ttl) < 0 ||
		json_integer_value(ttl) > 600))
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the reverse connection request's \"ttl\" is not a "
		    "number of seconds from 0 to 600");
	out->ttl = ttl != NULL ? (int)json_integer_value(ttl) : 0;
	if (relay != NULL && !json_is_boolean(relay))
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the reverse connection request's \"relay\" is not "
		    "true or false");
	out->relay = json_is_true(relay);
	return 0;
}

/* A relay request: side, token, requester, NAT host, purpose. */
static int
parse_relay(const json_t *j, struct eca_broker_msg *out, struct eca_err *err)
{
	const char *side, *token, *req, *host, *purpose;
	int r, p;

	if ((r = member_string(j, "side", &side, err)) != 0 ||
	    (r = member_string(j, "token", &token, err)) != 0 ||
	    (r = member_string(j, "requester", &req, err)) != 0 ||
	    (r = member_string(j, "host", &host, err)) != 0 ||
	    (r = member_string(j, "purpose", &purpose, err)) != 0)
		return r;
	if (strcmp(side, side_names[ECA_BROKER_CALLER]) == 0)
		out->side = ECA_BROKER_CALLER;
	else if (strcmp(side, side_names[ECA_BROKER_CALLEE]) == 0)
		out->side = ECA_BROKER_CALLEE;
	else
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the relay request's \"side\" is not caller or callee");
	if (!eca_broker_token_valid(token))
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the relay request's \"token\" is not %d lower-case hex "
		    "digits",
		    ECA_BROKER_TOKEN_LEN);
	if (eca_hostname_canon(req, out->requester, sizeof(out->requester),
		NULL) != 0 ||
	    eca_hostname_canon(host, out->host, sizeof(out->host), NULL) != 0)
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the relay request's \"requester\" or \"host\" is not "
		    "a host name");
	if ((p = eca_purpose_from_name(purpose)) < 0)
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the relay request's \"purpose\" is not a purpose");
	memcpy(out->token, token, ECA_BROKER_TOKEN_LEN + 1);
	out->purpose = (enum eca_purpose)p;
	return 0;
}

static int
parse_connect(const json_t *j, struct eca_broker_msg *out, struct eca_err *err)
{
	const char *token, *req, *addr, *purpose;
	int r, p;

	if ((r = member_string(j, "token", &token, err)) != 0 ||
	    (r = member_string(j, "requester", &req, err)) != 0 ||
	    (r = member_string(j, "address", &addr, err)) != 0 ||
	    (r = member_string(j, "purpose", &purpose, err)) != 0)
		return r;
	if (!eca_broker_token_valid(token))
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the reverse connection request's \"token\" is not %d "
		    "lower-case hex digits",
		    ECA_BROKER_TOKEN_LEN);
	if (eca_hostname_canon(req, out->requester, sizeof(out->requester),
		NULL) != 0)
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the reverse connection request's \"requester\" is not "
		    "a host name");
	if (strlen(addr) >= sizeof(out->address) || strrchr(addr, ':') == NULL)
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the reverse connection request's \"address\" is not "
		    "HOST:PORT");
	if ((p = eca_purpose_from_name(purpose)) < 0)
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the reverse connection request's \"purpose\" is not a "
		    "purpose");
	memcpy(out->token, token, ECA_BROKER_TOKEN_LEN + 1);
	snprintf(out->address, sizeof(out->address), "%s", addr);
	out->purpose = (enum eca_purpose)p;
	return parse_connect_relay(j, out, err);
}

static int
parse_enroll(const json_t *j, struct eca_broker_msg *out, struct eca_err *err)
{
	const json_t *id = json_object_get(j, "id");
	const json_t *answer = json_object_get(j, "answer");

	if (!json_is_integer(id) || json_integer_value(id) < 1 ||
	    json_integer_value(id) > ECA_BROKER_ID_MAX)
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the remote enrollment message's \"id\" is not a number "
		    "from 1 to 2^53");
	out->id = (int64_t)json_integer_value(id);
	if (out->op == ECA_BROKER_ENROLL)
		return 0;
	if (!json_is_object(answer))
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the remote enrollment answer's \"answer\" is not an "
		    "object");
	if ((out->answer = json_dumps(answer, JSON_COMPACT)) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory reading a remote enrollment answer");
	return 0;
}

int
eca_broker_parse(const unsigned char *buf, size_t len,
    struct eca_broker_msg *out, struct eca_err *err)
{
	json_t *j = NULL;
	const char *op;
	size_t i;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = eca_channel_load_object(buf, len, "broker message", &j,
		 err)) != 0)
		return r;
	if ((r = member_string(j, "op", &op, err)) != 0)
		goto out;
	for (i = 0; i < NOPS && strcmp(op, op_names[i]) != 0; i++)
		;
	if (i == NOPS) {
		r = eca_err_set(err, ECA_ERR_PROTOCOL,
		    "the broker message's \"op\" is not one of register, "
		    "registered, refused, ping, pong, connect, enroll, "
		    "enrolled, relay, relayed");
		goto out;
	}
	out->op = (enum eca_broker_op)i;
	if (out->op != ECA_BROKER_PING && out->op != ECA_BROKER_PONG)
		if ((r = check_version(j, err)) != 0)
			goto out;
	if (out->op == ECA_BROKER_REGISTER)
		r = parse_register(j, out, err);
	else if (out->op == ECA_BROKER_REFUSED)
		r = parse_refused(j, out, err);
	else if (out->op == ECA_BROKER_CONNECT)
		r = parse_connect(j, out, err);
	else if (out->op == ECA_BROKER_ENROLL || out->op == ECA_BROKER_ENROLLED)
		r = parse_enroll(j, out, err);
	else if (out->op == ECA_BROKER_RELAY)
		r = parse_relay(j, out, err);
out:
	json_decref(j);
	if (r != 0)
		eca_broker_msg_clear(out);
	return r;
}

int64_t
eca_broker_backoff_ms(unsigned attempt, uint32_t rnd)
{
	int64_t step = ECA_BROKER_BACKOFF_MIN_MS;
	unsigned i;

	for (i = 1; i < attempt && step < ECA_BROKER_BACKOFF_MAX_MS; i++)
		step *= 2;
	if (step > ECA_BROKER_BACKOFF_MAX_MS)
		step = ECA_BROKER_BACKOFF_MAX_MS;
	return step / 2 + (int64_t)(rnd % (uint32_t)(step / 2 + 1));
}

/* ------------------------------------------------------------------ */
/* The state file: STATE_DIR/broker-PRIMARY.json.                      */

int
eca_broker_state_path(const char *state_dir, const char *primary, char *buf,
    size_t len, struct eca_err *err)
{
	int n;

	if (state_dir == NULL || primary == NULL ||
	    !eca_hostname_is_canon(primary))
		return eca_err_set(err, ECA_ERR_CONFIG,
		    "no broker state file for \"%.64s\": STATE_DIR unset or "
		    "not a canonical host name (check SERVER)",
		    primary != NULL ? primary : "");
	n = snprintf(buf, len, "%s/broker-%s.json", state_dir, primary);
	if (n < 0 || (size_t)n >= len)
		return eca_err_set(err, ECA_ERR_CONFIG,
		    "the broker state file name under STATE_DIR %s is too "
		    "long (use a shorter STATE_DIR)",
		    state_dir);
	return 0;
}

int
eca_broker_state_save(const char *state_dir, const struct eca_broker_state *st,
    struct eca_err *err)
{
	char path[4096];
	json_t *j;
	char *text;
	int r;

	if ((r = eca_broker_state_path(state_dir, st->primary, path,
		 sizeof(path), err)) != 0)
		return r;
	j = json_pack("{s:s, s:s, s:b, s:I, s:I, s:s, s:s, s:I, s:I}",
	    "primary", st->primary, "address", st->address, "online",
	    st->online, "since", (json_int_t)st->since, "last_heartbeat",
	    (json_int_t)st->last_heartbeat, "code",
	    st->code != 0 ? eca_err_name(st->code) : "", "error", st->error,
	    "next_retry", (json_int_t)st->next_retry, "updated",
	    (json_int_t)st->updated);
	if (j == NULL || (text = json_dumps(j, JSON_COMPACT)) == NULL) {
		json_decref(j);
		return eca_err_set(err, ECA_ERR_NOMEM,
		    "out of memory writing the broker state");
	}
	json_decref(j);
	r = eca_util_replace_file(path, text, strlen(text), 0644, err);
	free(text);
	return r;
}

/* An integer member, 0 when absent or not one. */
static int64_t
member_int(const json_t *j, const char *key)
{
	const json_t *v = json_object_get(j, key);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static void
member_copy(const json_t *j, const char *key, char *out, size_t len)
{
	const json_t *v = json_object_get(j, key);
	const char *s = json_is_string(v) ? json_string_value(v) : "";

	eca_text_sanitize(s, strlen(s), out, len);
}

int
eca_broker_state_load(const char *state_dir, const char *primary,
    struct eca_broker_state *st, struct eca_err *err)
{
	char path[4096], code[64];
	unsigned char *buf = NULL;
	size_t len = 0;
	json_t *j;
	int r;

	memset(st, 0, sizeof(*st));
	if ((r = eca_broker_state_path(state_dir, primary, path, sizeof(path),
		 err)) != 0)
		return r;
	if (access(path, F_OK) != 0 && errno == ENOENT)
		return eca_err_set(err, ECA_ERR_NOT_FOUND,
		    "no broker session recorded in %s yet (is ecad running?)",
		    path);
	if ((r = eca_util_read_file(path, "the broker state file",
		 STATE_FILE_MAX, &buf, &len, NULL, NULL, err)) != 0)
		return r;
	j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, NULL);
	eca_util_free_file(buf, len);
	if (!json_is_object(j)) {
		json_decref(j);
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "%s is not a broker state file (ecad rewrites it)", path);
	}
	snprintf(st->primary, sizeof(st->primary), "%s", primary);
	member_copy(j, "address", st->address, sizeof(st->address));
	member_copy(j, "error", st->error, sizeof(st->error));
	member_copy(j, "code", code, sizeof(code));
	st->code = code[0] != '\0' ? eca_err_from_name(code) : 0;
	st->online = json_is_true(json_object_get(j, "online"));
	st->since = member_int(j, "since");
	st->last_heartbeat = member_int(j, "last_heartbeat");
	st->next_retry = member_int(j, "next_retry");
	st->updated = member_int(j, "updated");
	json_decref(j);
	return 0;
}
