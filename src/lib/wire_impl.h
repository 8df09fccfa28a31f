/* SPDX-License-Identifier: ISC */
/*
 * wire_impl.h - what the parts of the /v1 JSON codec share; not installed,
 * not for use outside wire*.c.
 *
 *   wire.c         times, strings, the field-table codec, error objects
 *   wire_record.c  records both ways: certificates, enrollments, history,
 *                  roster, candidates, DN mappings
 *   wire_body.c    request bodies (enroll, approve/reject, mappings)
 *
 * A record whose members are plain fields is described once, as a table
 * of struct wire_field; the same table writes it and reads it back, so the
 * two directions cannot drift apart.
 */
#ifndef ECA_WIRE_IMPL_H
#define ECA_WIRE_IMPL_H

#include <stddef.h>

#include "wire.h"

/* Room for a time string as it may arrive ("...Z" is 20 bytes). */
#define WIRE_TIME_MAX 32
/* Room for a role, state or method name as it may arrive. */
#define WIRE_NAME_MAX 16

enum wire_type {
	WF_STR,	 /* char[size], a JSON string */
	WF_TIME, /* int64_t, RFC 3339 UTC string ("" for 0) */
	WF_SAN, /* san_inline of a certinfo (certinfo.h): an array of strings */
	WF_INT64,  /* int64_t, an integer */
	WF_BOOL,   /* int, true or false */
	WF_ROLE,   /* enum eca_role, its name */
	WF_STATE,  /* enum eca_state, its name */
	WF_METHOD, /* enum eca_method, its name */
};

/* One member of a record: its key, its type, where it is in the struct. */
struct wire_field {
	const char *key;
	enum wire_type type;
	size_t off;
	size_t size;
};

#define WIRE_FIELD(type, st, member, key)                                      \
	{                                                                      \
		(key), (type), offsetof(st, member), sizeof(((st *)0)->member) \
	}
#define WIRE_NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Set o[key] for each of the n fields of the struct at base; *ok turns 0
 * on any failure (out of memory).
 */
void eca_wire_put_fields(json_t *o, const struct wire_field *f, size_t n,
    const void *base, int *ok);
/*
 * Read each of the n fields into the struct at base, in table order; the
 * first member that is missing or malformed is reported with code.
 */
int eca_wire_get_fields(const json_t *o, const struct wire_field *f, size_t n,
    void *base, int code, struct eca_err *err);

/* Set o[key] = v, taking v; *ok turns 0 on any failure. */
void eca_wire_put(json_t *o, const char *key, json_t *v, int *ok);
/* o when ok, else NULL with o released: the end of every builder. */
json_t *eca_wire_done(json_t *o, int ok);
/*
 * A JSON string of the at most size bytes at s (a char array, perhaps not
 * terminated); invalid UTF-8 degrades to its escaped ASCII.
 */
json_t *eca_wire_jstr(const char *s, size_t size);

/*
 * A string member: present, a string without NUL bytes, shorter than
 * size.  code is the error to report.
 */
int eca_wire_get_str(const json_t *o, const char *key, char *buf, size_t size,
    int code, struct eca_err *err);
#define WIRE_GET_STR(o, key, field, code, err)                                 \
	eca_wire_get_str((o), (key), (field), sizeof(field), (code), (err))

#endif
