/* SPDX-License-Identifier: ISC */
/*
 * config_impl.h - what the three parts of the eca.conf parser share; not
 * installed, not for use outside config*.c.
 *
 *   config_table.c  the keyword table, the names of the enums, the dump
 *   config.c        reading lines and handing each value to its setter
 *   config_check.c  defaults, then the rules about the file as a whole
 */
#ifndef ECA_CONFIG_IMPL_H
#define ECA_CONFIG_IMPL_H

#include <stddef.h>

#include "config.h"
#include "hostname.h"

/*
 * A line longer than this is refused rather than truncated: a silently
 * shortened path or DN would be worse than an error.
 */
#define CONFIG_LINE_MAX 4096
/*
 * Values are capped well below the line limit so that the dump, which
 * writes `KEY = value` with spaces and fills in derived defaults, always
 * produces lines the parser accepts again.
 */
#define CONFIG_VALUE_MAX 2048
/* Room for the keyword table; config_table.c checks that it fits. */
#define CONFIG_KEYWORDS_MAX 64

enum kwtype {
	KW_STRING,   /* char * at off */
	KW_HOSTNAME, /* char * at off, a valid host name */
	KW_WORD,     /* char * at off, one of names (case-insensitive) */
	KW_BOOL,     /* int at off, YES or NO */
	KW_INT,	     /* int at off, decimal in [min, max] */
	KW_ENUM,     /* enum at off, index into names (case-insensitive) */
	KW_ADDR,     /* struct eca_endpoint at off, host:port */
	KW_SERVER,   /* servers[], `name [host:port]` */
	KW_PEER,     /* peers[], `name host:port` */
	KW_ADMIN,    /* admins[], any text */
	KW_DB,	     /* char * at off, sqlite:PATH or postgresql://URI */
};

/*
 * KW_ENUM fields are read and written as an int through memcpy: every
 * enum of the configuration must be the size of an int.
 */
_Static_assert(sizeof(enum eca_role) == sizeof(int) &&
	sizeof(enum eca_crl_check) == sizeof(int) &&
	sizeof(enum eca_identity) == sizeof(int),
    "KW_ENUM fields are stored as int");

/* One row of the table: what a key is and where its value goes. */
struct keyword {
	const char *name;
	enum kwtype type;
	int repeatable;		  /* may be given more than once */
	size_t off;		  /* in struct eca_config */
	const char *const *names; /* KW_ENUM, KW_WORD: NULL-terminated */
	int numbered;		  /* KW_ENUM: "0".. name names[0].. too */
	long long min, max;	  /* KW_INT */
	const char *def;	  /* default, parsed like a value */
	const char *derived;	  /* default from STATE_DIR (%.*s) */
	int optional;		  /* KW_ADDR: NO turns it off (host NULL) */
};

/* In the order of the dump; STATE_DIR before the keys derived from it. */
extern const struct keyword eca_config_keywords[];
/* The list a KW_ADMIN keyword fills, and its count in *n. */
char **eca_config_idlist(struct eca_config *cfg, const struct keyword *kw,
    size_t **n);
extern const size_t eca_config_nkeywords;

/* The row of the key of len bytes at name, and its index; NULL if none. */
const struct keyword *eca_config_keyword_find(const char *name, size_t len,
    size_t *idx);

/* Parser state: the result so far and where we are, for messages. */
struct pstate {
	struct eca_config *cfg;
	const char *name; /* the file, for messages */
	size_t line;	  /* 0 outside a line */
	/* The line each keyword was first given on, 0 if not yet. */
	size_t seen[CONFIG_KEYWORDS_MAX];
	struct eca_err *err;
};

/* ECA_ERR_CONFIG with `name:line: ` (or `name: ` outside a line) in front. */
int eca_config_perr(struct pstate *ps, const char *fmt, ...) ECA_PRINTF(2, 3);
/* ECA_ERR_NOMEM with the file's name. */
int eca_config_nomem(struct pstate *ps);

/* Hand value to the setter of kw's type (as a line of the file would). */
int eca_config_set_value(struct pstate *ps, const struct keyword *kw,
    const char *value);
/* Free an endpoint's strings and set them to NULL. */
void eca_config_endpoint_clear(struct eca_endpoint *ep);

/* Give every keyword the file did not name its default. */
int eca_config_apply_defaults(struct pstate *ps);
/* The rules about the file as a whole, and what follows from them. */
int eca_config_check(struct pstate *ps);

#endif
