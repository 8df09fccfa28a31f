/* SPDX-License-Identifier: ISC */
/*
 * cli.h - what eca's commands share: the invocation, the command table,
 * parsed options, and the helpers that load the configuration and talk to
 * a primary.
 */
#ifndef ECA_CLI_H
#define ECA_CLI_H

#include <stddef.h>

#include <jansson.h>

#include "client.h"
#include "config.h"
#include "err.h"
#include "hostname.h"
#include "x509.h"

#define CLI_DEFAULT_CONFIG "/etc/eca/eca.conf"
#define CLI_TIMEOUT_MS 15000L
/* `enroll` retries a busy (429) primary for about this long in all. */
#define CLI_BUSY_RETRY_MS 60000L
#define CLI_OPTS_MAX 8	/* options of one command */
#define CLI_ARGS_MAX 33 /* positional arguments of one command */

/* An option of a command: `--name [ARG]`, NetBackup-style `-alias [ARG]`. */
struct cli_opt {
	const char *name;  /* "--server" */
	const char *alias; /* "-server", or NULL */
	const char *arg;   /* "S", or NULL for a flag */
};

/* A command line after its options were matched against the table. */
struct cli_args {
	const struct cli_opt *opts;
	const char *val[CLI_OPTS_MAX]; /* value; "" a set flag; NULL unset */
	const char *pos[CLI_ARGS_MAX];
	int npos;
};

struct cli;
typedef int cli_handler(struct cli *cli, const struct cli_args *args);

struct cli_cmd {
	const char *name;
	const char *alias; /* NetBackup-style spelling, or NULL */
	cli_handler *fn;
	int min_args;
	int max_args;
	const struct cli_opt *opts; /* terminated by a NULL name */
	const char *usage;	    /* the arguments part */
	const char *summary;
};

/* One invocation of eca. */
struct cli {
	const char *conf_path; /* -f, $ECA_CONFIG or the default */
	const char *conf_from; /* "-f", "ECA_CONFIG" or NULL: the default */
	int json;
	int json_compact; /* --json-compact: json set too */
	int no_headers;	  /* --no-headers */
	const struct cli_cmd *cmd;
	struct eca_config *cfg; /* loaded by cli_config() */
	struct eca_cred *cred;	/* loaded by cli_cred() */
};

/* The value of option name ("--server"), "" for a set flag, NULL if unset. */
const char *cli_opt(const struct cli_args *a, const char *name);
/* Usage error for the current command: prints usage, returns exit code 2. */
int cli_usage(struct cli *cli, const char *fmt, ...) ECA_PRINTF(2, 3);

/*
 * Load the configuration / this host's credentials (once).  On failure the
 * error has been printed and the exit code is returned (0 on success).
 */
int cli_config(struct cli *cli);
/*
 * A client of ep for public calls (GET /v1/health): with this host's
 * credentials, or when this user may not read the private key, with the
 * trust store alone (no client certificate; the key is never opened).
 */
int cli_public_client(struct cli *cli, const struct eca_endpoint *ep,
    struct eca_client **out);
int cli_cred(struct cli *cli);
/*
 * The SERVER entry named name (NULL: the first).  On failure prints the
 * error and returns the exit code.
 */
int cli_server(struct cli *cli, const char *name,
    const struct eca_endpoint **out);
/* A TLS client for ep with this host's credentials (loaded here). */
int cli_tls_client(struct cli *cli, const struct eca_endpoint *ep,
    struct eca_client **out);
/*
 * This host's context for channels and enrollment (host.h), built from the
 * configuration after its credentials loaded.  A certificate OpenSSL's
 * security level refuses is reported with the reason the primary would
 * give (WEAK_KEY, WEAK_SIGNATURE, ...), prefixed by what.  On failure
 * prints the error and returns the exit code.
 */
struct eca_host;
int cli_host(struct cli *cli, const char *what, struct eca_host **out);
/*
 * A HOST argument in its canonical form (MEDIA1.Example is media1.example,
 * hostname.h) in out, or a usage error (exit 2) saying what is wrong.
 */
int cli_host_arg(struct cli *cli, const char *in, char *out, size_t outlen);
/*
 * The client for administration: the control socket when ROLE is primary
 * and server is NULL, otherwise TLS to server (NULL: the first SERVER).
 * *who names the target for messages.
 */
int cli_admin_client(struct cli *cli, const char *server,
    struct eca_client **out, const char **who);

/*
 * One API call (eca_client_call: 0 only for a 2xx answer).  A failure is
 * printed, `eca: WHAT: MESSAGE [CODE]` on stderr and with --json the
 * server's error object as it is (or a generated one), and its exit code
 * returned.  *resp keeps whatever JSON came back (caller's, either way).
 */
int cli_request(struct cli *cli, struct eca_client *c, const char *method,
    const char *path, const json_t *body, json_t **resp, const char *what);

/* Percent-encode s for a URL path segment or query value. */
int cli_url_escape(const char *s, char *buf, size_t len);

int cmd_enroll(struct cli *, const struct cli_args *);
int cmd_unenroll(struct cli *, const struct cli_args *);
int cmd_status(struct cli *, const struct cli_args *);
int cmd_health(struct cli *, const struct cli_args *);
int cmd_health_server(struct cli *, const struct cli_args *);
int cmd_cert(struct cli *, const struct cli_args *);
int cmd_list(struct cli *, const struct cli_args *);
int cmd_show(struct cli *, const struct cli_args *);
int cmd_approve(struct cli *, const struct cli_args *);
int cmd_reject(struct cli *, const struct cli_args *);
int cmd_remove(struct cli *, const struct cli_args *);
int cmd_crl(struct cli *, const struct cli_args *);
int cmd_crl_cleanup(struct cli *, const struct cli_args *);
int cmd_ban(struct cli *, const struct cli_args *);
int cmd_unban(struct cli *, const struct cli_args *);
int cmd_audit(struct cli *, const struct cli_args *);
int cmd_ping(struct cli *, const struct cli_args *);
int cmd_registry(struct cli *, const struct cli_args *);
int cmd_map(struct cli *, const struct cli_args *);
int cmd_console(struct cli *, const struct cli_args *);
int cmd_map_add(struct cli *, const struct cli_args *);
int cmd_map_remove(struct cli *, const struct cli_args *);
int cmd_map_list(struct cli *, const struct cli_args *);

#endif
