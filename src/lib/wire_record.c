/* SPDX-License-Identifier: ISC */
/*
 * wire_record.c - records of the /v1 API both ways: certificate details,
 * enrollments, history, the roster, waiting certificates and DN mappings.
 *
 * Each record's plain members are one table (wire_impl.h), read and
 * written by the same code in the same order.  Unknown members are
 * ignored when reading (unlike in requests), so that a newer primary can
 * add fields without breaking older command lines.
 */
#include "wire_impl.h"

#include <stdlib.h>
#include <string.h>

#define CI(type, member, key) WIRE_FIELD(type, struct eca_certinfo, member, key)
static const struct wire_field certinfo_fields[] = {
    CI(WF_STR, fingerprint, "fingerprint"),
    CI(WF_STR, spki_fingerprint, "spki_fingerprint"),
    CI(WF_STR, subject, "subject"),
    CI(WF_STR, issuer, "issuer"),
    CI(WF_STR, serial, "serial"),
    CI(WF_TIME, not_before, "not_before"),
    CI(WF_TIME, not_after, "not_after"),
    CI(WF_STR, key_desc, "key"),
    CI(WF_STR, sig_alg, "signature_algorithm"),
    CI(WF_STR, cn, "cn"),
    CI(WF_SAN, san_inline, "san"),
};

/*
 * An enrollment: these members, then "certificate", "candidate" (with
 * rec_candidate_fields beside its certificate details) and
 * "candidate_count", then rec_tail_fields.
 */
#define REC(type, member, key)                                                 \
	WIRE_FIELD(type, struct eca_enrollment, member, key)
static const struct wire_field rec_head_fields[] = {
    REC(WF_STR, primary, "primary"),
    REC(WF_STR, host, "host"),
    REC(WF_STR, host_id, "host_id"),
    REC(WF_ROLE, role, "role"),
    REC(WF_STATE, state, "state"),
    REC(WF_METHOD, method, "method"),
};
static const struct wire_field rec_candidate_fields[] = {
    REC(WF_TIME, candidate_at, "at"),
    REC(WF_STR, candidate_source, "source"),
};
static const struct wire_field rec_tail_fields[] = {
    REC(WF_TIME, enrolled_at, "enrolled_at"),
    REC(WF_TIME, updated_at, "updated_at"),
    REC(WF_TIME, last_seen, "last_seen"),
    REC(WF_STR, source, "source"),
    REC(WF_INT64, version, "version"),
};

#define HIST(type, member, key)                                                \
	WIRE_FIELD(type, struct eca_history_entry, member, key)
static const struct wire_field history_fields[] = {
    HIST(WF_INT64, id, "id"),
    HIST(WF_STR, host, "host"),
    HIST(WF_STR, host_id, "host_id"),
    HIST(WF_STR, event, "event"),
    HIST(WF_STATE, state, "state"),
    HIST(WF_STR, fingerprint, "fingerprint"),
    HIST(WF_STR, spki_fingerprint, "spki_fingerprint"),
    HIST(WF_STR, actor, "actor"),
    HIST(WF_STR, source, "source"),
    HIST(WF_TIME, at, "at"),
};

/* The decoder is eca_roster_delta_parse (roster.c). */
#define CHG(type, member, key) WIRE_FIELD(type, struct eca_change, member, key)
static const struct wire_field change_fields[] = {
    CHG(WF_STR, host, "host"),
    CHG(WF_STR, host_id, "host_id"),
    CHG(WF_STATE, state, "state"),
    CHG(WF_STR, fingerprint, "fingerprint"),
    CHG(WF_STR, spki_fingerprint, "spki_fingerprint"),
    CHG(WF_TIME, not_after, "not_after"),
    CHG(WF_INT64, version, "version"),
};

/* Beside the certificate details of a waiting certificate. */
#define CAND(type, member, key)                                                \
	WIRE_FIELD(type, struct eca_candidate, member, key)
static const struct wire_field candidate_fields[] = {
    CAND(WF_TIME, at, "at"),
    CAND(WF_TIME, last_seen, "last_seen"),
    CAND(WF_STR, source, "source"),
};

/* A DN mapping as GET /v1/mappings lists it, and as the roster has it. */
#define MAP(type, member, key) WIRE_FIELD(type, struct eca_dnmap, member, key)
static const struct wire_field dnmap_fields[] = {
    MAP(WF_STR, subject, "subject"),
    MAP(WF_STR, host, "host"),
    MAP(WF_TIME, created_at, "created_at"),
    MAP(WF_TIME, updated_at, "updated_at"),
    MAP(WF_STR, actor, "actor"),
};
static const struct wire_field roster_map_fields[] = {
    MAP(WF_STR, subject, "subject"),
    MAP(WF_STR, host, "host"),
    MAP(WF_BOOL, removed, "removed"),
    MAP(WF_INT64, version, "version"),
};

/* A new object with the n fields of the struct at base; NULL if no memory. */
static json_t *
fields_object(const struct wire_field *f, size_t n, const void *base)
{
	json_t *o;
	int ok = 1;

	if ((o = json_object()) == NULL)
		return NULL;
	eca_wire_put_fields(o, f, n, base, &ok);
	return eca_wire_done(o, ok);
}

/* json_array_append_new and json_object_set_new take v, even on failure. */
static int
set_array(json_t *o, const char *key, json_t *a)
{
	return json_object_set_new(o, key, a) == 0 ? 0 : ECA_ERR_NOMEM;
}

json_t *
eca_wire_certinfo(const struct eca_certinfo *ci)
{
	if (ci == NULL)
		return NULL;
	return fields_object(certinfo_fields, WIRE_NFIELDS(certinfo_fields),
	    ci);
}

static int
certinfo_code(const json_t *j, struct eca_certinfo *ci, int code,
    struct eca_err *err)
{
	int r;

	memset(ci, 0, sizeof(*ci));
	if (!json_is_object(j))
		return eca_err_set(err, code,
		    "certificate details must be a JSON object");
	if ((r = eca_wire_get_fields(j, certinfo_fields,
		 WIRE_NFIELDS(certinfo_fields), ci, code, err)) != 0) {
		eca_certinfo_clear(ci);
		memset(ci, 0, sizeof(*ci));
	}
	return r;
}

/* What the primary sends that does not fit is a protocol error. */
int
eca_wire_parse_certinfo(const json_t *j, struct eca_certinfo *out,
    struct eca_err *err)
{
	if (out == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_wire_parse_certinfo: no result given");
	return certinfo_code(j, out, ECA_ERR_PROTOCOL, err);
}

json_t *
eca_wire_enrollment(const struct eca_enrollment *rec)
{
	json_t *o, *cand = NULL;
	int ok = 1;

	if (rec == NULL || (o = json_object()) == NULL)
		return NULL;
	eca_wire_put_fields(o, rec_head_fields, WIRE_NFIELDS(rec_head_fields),
	    rec, &ok);
	eca_wire_put(o, "certificate", eca_wire_certinfo(&rec->cert), &ok);
	if (rec->has_candidate) {
		if ((cand = eca_wire_certinfo(&rec->candidate)) != NULL)
			eca_wire_put_fields(cand, rec_candidate_fields,
			    WIRE_NFIELDS(rec_candidate_fields), rec, &ok);
		eca_wire_put(o, "candidate", cand, &ok);
	}
	/* How many wait: "candidate" is only the newest of them. */
	eca_wire_put(o, "candidate_count",
	    json_integer(
		rec->ncandidates > 0 ? rec->ncandidates : rec->has_candidate),
	    &ok);
	eca_wire_put_fields(o, rec_tail_fields, WIRE_NFIELDS(rec_tail_fields),
	    rec, &ok);
	/* Only when true: older command lines never see it otherwise. */
	if (rec->nat)
		eca_wire_put(o, "nat", json_true(), &ok);
	return eca_wire_done(o, ok);
}

/* "candidate" (the newest waiting certificate) and "candidate_count". */
static int
enrollment_candidate(const json_t *j, struct eca_enrollment *rec,
    struct eca_err *err)
{
	const int code = ECA_ERR_PROTOCOL;
	const json_t *cand, *v;
	int r;

	cand = json_object_get(j, "candidate");
	if (cand != NULL && !json_is_null(cand)) {
		if ((r = certinfo_code(cand, &rec->candidate, code, err)) ||
		    (r = eca_wire_get_fields(cand, rec_candidate_fields,
			 WIRE_NFIELDS(rec_candidate_fields), rec, code, err)))
			return r;
		rec->has_candidate = 1;
		rec->ncandidates = 1;
	}
	/* Absent from primaries from before the candidates list. */
	v = json_object_get(j, "candidate_count");
	if (v != NULL &&
	    (!json_is_integer(v) || json_integer_value(v) < 0 ||
		json_integer_value(v) > ECA_CANDIDATES_MAX))
		return eca_err_set(err, code,
		    "field \"candidate_count\" must "
		    "be a whole number from 0 to %d",
		    ECA_CANDIDATES_MAX);
	if (v != NULL)
		rec->ncandidates = (int)json_integer_value(v);
	return 0;
}

static int
enrollment_fields(const json_t *j, struct eca_enrollment *rec,
    struct eca_err *err)
{
	const int code = ECA_ERR_PROTOCOL;
	const json_t *v;
	int r;

	if ((r = eca_wire_get_fields(j, rec_head_fields,
		 WIRE_NFIELDS(rec_head_fields), rec, code, err)) != 0)
		return r;
	if ((v = json_object_get(j, "certificate")) == NULL)
		return eca_err_set(err, code,
		    "field \"certificate\" is missing");
	if ((r = certinfo_code(v, &rec->cert, code, err)) != 0 ||
	    (r = enrollment_candidate(j, rec, err)) != 0)
		return r;
	/* "nat": absent (not a NAT host, or an older primary) or a bool. */
	v = json_object_get(j, "nat");
	if (v != NULL && !json_is_boolean(v))
		return eca_err_set(err, code,
		    "field \"nat\" must be true or "
		    "false");
	rec->nat = json_is_true(v);
	return eca_wire_get_fields(j, rec_tail_fields,
	    WIRE_NFIELDS(rec_tail_fields), rec, code, err);
}

int
eca_wire_parse_enrollment(const json_t *j, struct eca_enrollment *out,
    struct eca_err *err)
{
	int r;

	if (out == NULL)
		return eca_err_set(err, ECA_ERR_INTERNAL,
		    "eca_wire_parse_enrollment: no result given");
	memset(out, 0, sizeof(*out));
	if (!json_is_object(j))
		return eca_err_set(err, ECA_ERR_PROTOCOL,
		    "an enrollment record must be a JSON object");
	if ((r = enrollment_fields(j, out, err)) != 0) {
		eca_enrollment_clear(out);
		memset(out, 0, sizeof(*out));
	}
	return r;
}

json_t *
eca_wire_history_entry(const struct eca_history_entry *h)
{
	if (h == NULL)
		return NULL;
	return fields_object(history_fields, WIRE_NFIELDS(history_fields), h);
}

json_t *
eca_wire_roster_entry(const struct eca_change *ch)
{
	json_t *o;
	int ok = 1;

	if (ch == NULL ||
	    (o = fields_object(change_fields, WIRE_NFIELDS(change_fields),
		 ch)) == NULL)
		return NULL;
	/*
	 * Only when true: an entry of any other host is what it was, and
	 * an older host (whose fast path does not know the key) ignores it.
	 */
	if (ch->nat)
		eca_wire_put(o, "nat", json_true(), &ok);
	return eca_wire_done(o, ok);
}

json_t *
eca_wire_roster(const struct eca_wire_roster_page *pg,
    const struct eca_change *ch, size_t n)
{
	json_t *o, *a;
	size_t i;
	int ok = 1;

	if (pg == NULL || pg->primary == NULL || (ch == NULL && n > 0) ||
	    (o = json_object()) == NULL)
		return NULL;
	if ((a = json_array()) == NULL) {
		json_decref(o);
		return NULL;
	}
	for (i = 0; i < n && ok; i++)
		if (json_array_append_new(a, eca_wire_roster_entry(&ch[i])) !=
		    0)
			ok = 0;
	eca_wire_put(o, "primary", json_string(pg->primary), &ok);
	eca_wire_put(o, "since", json_integer(pg->since), &ok);
	eca_wire_put(o, "version", json_integer(pg->version), &ok);
	eca_wire_put(o, "next", json_integer(pg->next), &ok);
	eca_wire_put(o, "full", json_boolean(pg->full), &ok);
	eca_wire_put(o, "more", json_boolean(pg->more), &ok);
	eca_wire_put(o, "entries", a, &ok);
	return eca_wire_done(o, ok);
}

json_t *
eca_wire_candidate(const struct eca_candidate *c)
{
	json_t *o;
	int ok = 1;

	if (c == NULL || (o = eca_wire_certinfo(&c->cert)) == NULL)
		return NULL;
	eca_wire_put_fields(o, candidate_fields, WIRE_NFIELDS(candidate_fields),
	    c, &ok);
	return eca_wire_done(o, ok);
}

int
eca_wire_add_candidates(json_t *rec, const struct eca_candidate *c, size_t n)
{
	json_t *a;
	size_t i;

	if (rec == NULL || (c == NULL && n > 0) || (a = json_array()) == NULL)
		return ECA_ERR_NOMEM;
	for (i = 0; i < n; i++)
		if (json_array_append_new(a, eca_wire_candidate(&c[i])) != 0) {
			json_decref(a);
			return ECA_ERR_NOMEM;
		}
	return set_array(rec, "candidates", a);
}

int
eca_wire_parse_candidates(const json_t *rec, struct eca_candidate **out,
    size_t *n, struct eca_err *err)
{
	const int code = ECA_ERR_PROTOCOL;
	struct eca_candidate *arr = NULL;
	const json_t *a, *v;
	size_t i;
	int r = ECA_ERR_INTERNAL;

	*out = NULL;
	*n = 0;
	if ((a = json_object_get(rec, "candidates")) == NULL || json_is_null(a))
		return 0;
	if (!json_is_array(a) || json_array_size(a) > ECA_CANDIDATES_MAX)
		return eca_err_set(err, code,
		    "field \"candidates\" must be an "
		    "array of at most %d certificates",
		    ECA_CANDIDATES_MAX);
	if (json_array_size(a) == 0)
		return 0;
	if ((arr = calloc(json_array_size(a), sizeof(*arr))) == NULL)
		return eca_err_set(err, ECA_ERR_NOMEM, "out of memory");
	json_array_foreach(a, i, v)
	{
		if ((r = certinfo_code(v, &arr[i].cert, code, err)) ||
		    (r = eca_wire_get_fields(v, candidate_fields,
			 WIRE_NFIELDS(candidate_fields), &arr[i], code, err))) {
			eca_candidates_free(arr, json_array_size(a));
			return r;
		}
	}
	*out = arr;
	*n = json_array_size(a);
	return 0;
}

json_t *
eca_wire_dnmap(const struct eca_dnmap *m)
{
	if (m == NULL)
		return NULL;
	return fields_object(dnmap_fields, WIRE_NFIELDS(dnmap_fields), m);
}

int
eca_wire_parse_dnmap(const json_t *j, struct eca_dnmap *out,
    struct eca_err *err)
{
	const int code = ECA_ERR_PROTOCOL;
	int r;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(j))
		return eca_err_set(err, code, "a mapping must be an object");
	if ((r = eca_wire_get_fields(j, dnmap_fields,
		 WIRE_NFIELDS(dnmap_fields), out, code, err)) != 0)
		memset(out, 0, sizeof(*out));
	return r;
}

int
eca_wire_roster_add_maps(json_t *roster, const struct eca_dnmap *m, size_t n)
{
	json_t *a;
	size_t i;

	if (roster == NULL || (m == NULL && n > 0) ||
	    (a = json_array()) == NULL)
		return ECA_ERR_NOMEM;
	for (i = 0; i < n; i++)
		if (json_array_append_new(a,
			fields_object(roster_map_fields,
			    WIRE_NFIELDS(roster_map_fields), &m[i])) != 0) {
			json_decref(a);
			return ECA_ERR_NOMEM;
		}
	return set_array(roster, "mappings", a);
}
