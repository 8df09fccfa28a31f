/* SPDX-License-Identifier: ISC */
/*
 * eca.c - the command line: global options, the command table, dispatch.
 *
 * The table below is the one place a command is declared: its name, its
 * NetBackup-style alias, handler, arity, options, usage and summary.  Help
 * text, usage errors and option parsing are all generated from it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "eca-config.h"
#include "output.h"

/* Options several commands share, spelled once. */
#define OPT_SERVER                                                             \
	{                                                                      \
		"--server", "-server", "S"                                     \
	}
#define OPT_END                                                                \
	{                                                                      \
		NULL, NULL, NULL                                               \
	}

static const struct cli_opt opts_enroll[] = {
    OPT_SERVER,
    {"--precheck", "-preCheck", NULL},
    {"--force", "-force", NULL},
    /* On the primary: ask that host's ecad to enroll (cmd_enroll.c). */
    {"--remote-host", "-remoteHost", "NAME"},
    {"--port", "-port", "P"},
    OPT_END,
};
static const struct cli_opt opts_server[] = {OPT_SERVER, OPT_END};
static const struct cli_opt opts_health[] = {
    {"--fmt", "-fmt", "details|failures_only"},
    /* Files to check before they are configured (cmd_health.c). */
    {"--cert-path", "-certPath", "FILE"},
    {"--private-key-path", "-privateKeyPath", "FILE"},
    {"--trust-store-path", "-trustStorePath", "FILE"},
    {"--passphrase-file", "-passphraseFile", "FILE"},
    {"--crl-check-level", "-crlCheckLevel", "LEVEL"},
    {"--crl-path", "-crlPath", "DIR"},
    OPT_END,
};
static const struct cli_opt opts_cert[] = {
    {"--cert", "-certPath", "FILE"},
    OPT_END,
};
static const struct cli_opt opts_list[] = {
    {"--state", "-state", "S"},
    {"--limit", "-limit", "N"},
    {"--nat", NULL, NULL},
    OPT_SERVER,
    OPT_END,
};
static const struct cli_opt opts_decision[] = {
    {"--fingerprint", "-fingerprint", "SHA256"},
    {"--all", NULL, NULL},
    {"--dry-run", NULL, NULL},
    OPT_SERVER,
    OPT_END,
};
static const struct cli_opt opts_map_entry[] = {
    {"--subject", "-subject", "DN"},
    {"--host", "-host", "NAME"},
    OPT_SERVER,
    OPT_END,
};
static const struct cli_opt opts_audit[] = {
    {"--file", "-file", "F"},
    {"--host", "-host", "H"},
    OPT_END,
};
static const struct cli_opt opts_console[] = {
    {"--revoke", NULL, "ID"},
    OPT_END,
};
static const struct cli_opt opts_ping[] = {
    {"--purpose", "-purpose", "P"},
    {"--reverse", NULL, NULL},
    OPT_END,
};
static const struct cli_opt opts_registry[] = {
    {"--force", NULL, NULL},
    OPT_END,
};
static const struct cli_opt opts_crl[] = {
    {"--expired", "-expired", NULL},
    {"--issuer-hash", "-issuerHash", "H"},
    OPT_END,
};

static const struct cli_cmd commands[] = {
    {"enroll", "-enrollCertificate", cmd_enroll, 0, 0, opts_enroll,
	"[--server S] [--precheck] [--force] | --remote-host NAME [--port P]",
	"enroll this host's certificate with a primary server now; on the "
	"primary, --remote-host asks host NAME to enroll with it"},
    {"unenroll", "-removeEnrollment", cmd_unenroll, 0, 0, opts_server,
	"[--server S]", "remove this host's enrollment from a primary server"},
    {"status", "-listEnrollmentStatus", cmd_status, 0, 0, opts_server,
	"[--server S]",
	"show this host's enrollment status with each primary server"},
    {"health-check", "-ecaHealthCheck", cmd_health, 0, 0, opts_health,
	"[--fmt details|failures_only] [--cert-path FILE] "
	"[--private-key-path FILE] [--trust-store-path FILE] "
	"[--passphrase-file FILE] [--crl-check-level LEVEL] [--crl-path DIR]",
	"validate this host's certificate configuration"},
    {"health", NULL, cmd_health_server, 0, 0, opts_server, "[--server S]",
	"ask a primary's GET /v1/health; exit 0 ok, 1 warn, 2 critical, "
	"3 unknown"},
    {"cert-details", "-getExternalCertDetails", cmd_cert, 0, 0, opts_cert,
	"--cert FILE", "print the details of a certificate chain file"},
    {"list", NULL, cmd_list, 0, 0, opts_list,
	"[--state S] [--nat] [--limit N] [--server S]",
	"primary: list the enrollments (--nat: NAT hosts only, and those on a "
	"restricted broker session)"},
    {"show", NULL, cmd_show, 1, 1, opts_server, "[--server S] HOST",
	"primary: show a host's enrollment and its history"},
    {"approve", NULL, cmd_approve, 0, 1, opts_decision,
	"[--server S] [--fingerprint SHA256] HOST | [--dry-run] GLOB | "
	"[--dry-run] --all",
	"primary: enroll the waiting certificate with that fingerprint"},
    {"reject", NULL, cmd_reject, 0, 1, opts_decision,
	"[--server S] [--fingerprint SHA256] HOST | [--dry-run] GLOB | "
	"[--dry-run] --all",
	"primary: refuse the waiting certificate with that fingerprint"},
    {"remove", NULL, cmd_remove, 1, 1, opts_server, "[--server S] HOST",
	"primary: remove a host's enrollment"},
    {"crl", NULL, cmd_crl, 1, 1, opts_crl,
	"list | download | cleanup --expired | --issuer-hash H",
	"list, refresh or clean up the local CRL cache"},
    {"crl-cleanup", "-cleanupCRLCache", cmd_crl_cleanup, 0, 0, opts_crl,
	"--expired | --issuer-hash H",
	"remove CRLs from the local cache (= crl cleanup)"},
    {"ban", NULL, cmd_ban, 1, 1, opts_server, "[--server S] HOST",
	"primary: ban a host, known or not, from enrolling"},
    {"unban", NULL, cmd_unban, 1, 1, opts_server, "[--server S] HOST",
	"primary: lift a ban (the host must enroll again)"},
    {"audit", NULL, cmd_audit, 1, CLI_ARGS_MAX, opts_audit,
	"verify [FILE...] | show [--file F] [--host H]",
	"primary: verify the audit journal's chain (over rotated files), or "
	"show its entries"},
    {"map", NULL, cmd_map, 1, 3, opts_server,
	"[--server S] add HOST SUBJECT | remove HOST | list",
	"primary, ECA_IDENTITY = DN: map certificate subjects to hosts"},
    {"console", NULL, cmd_console, 1, 1, opts_console,
	"login | sessions [--revoke ID]",
	"primary: a sign-in link for the web console, or its sessions"},
    {"map-add", "-createECACertEntry", cmd_map_add, 0, 0, opts_map_entry,
	"--subject DN --host NAME [--server S]",
	"primary: map a certificate subject to a host (= map add)"},
    {"map-remove", "-deleteECACertEntry", cmd_map_remove, 0, 0, opts_map_entry,
	"--subject DN | --host NAME [--server S]",
	"primary: remove a subject mapping (= map remove)"},
    {"map-list", "-listECACertEntries", cmd_map_list, 0, 0, opts_server,
	"[--server S]", "primary: list the subject mappings (= map list)"},
    {"registry", NULL, cmd_registry, 2, 2, opts_registry,
	"export FILE | import [--force] FILE | verify FILE",
	"primary: the registry (ECA_DB) to a file, from a file into an "
	"empty one, or compared with a file"},
    {"ping", NULL, cmd_ping, 1, 1, opts_ping, "[--purpose P] [--reverse] HOST",
	"open a verified channel to HOST and report each step and the "
	"verdict"},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void
usage_line(FILE *fp, const struct cli_cmd *c)
{
	fprintf(fp, "eca [-f FILE] [--json] %s%s%s", c->name,
	    c->usage[0] != '\0' ? " " : "", c->usage);
}

static void
print_help(FILE *fp)
{
	const struct cli_cmd *c;
	size_t i, w = 0;

	fprintf(fp,
	    "usage: eca [-f FILE] [--json] COMMAND [ARGS]\n"
	    "       eca --version | --help\n\n"
	    "  -f FILE   configuration file (default: $ECA_CONFIG, "
	    "then " CLI_DEFAULT_CONFIG ")\n"
	    "  --json    print results (and errors) as JSON on stdout\n"
	    "  --json-compact  the same JSON on one line (alias "
	    "-json_compact)\n"
	    "  --no-headers    tables without their header row\n\n"
	    "Commands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		if (strlen(commands[i].name) > w)
			w = strlen(commands[i].name);
	for (i = 0; i < NCOMMANDS; i++) {
		c = &commands[i];
		fprintf(fp, "  %-*s  %s\n", (int)w, c->name, c->summary);
		fprintf(fp, "  %-*s    eca %s%s%s\n", (int)w, "", c->name,
		    c->usage[0] != '\0' ? " " : "", c->usage);
		if (c->alias != NULL)
			fprintf(fp, "  %-*s    alias: %s\n", (int)w, "",
			    c->alias);
	}
	fprintf(fp,
	    "\nExit codes: 0 success, 1 failure, 2 usage, "
	    "3 not found / not enrolled,\n4 primary unreachable, "
	    "5 refused by policy.  `eca help COMMAND` shows one command.\n");
}

static void
print_cmd_help(FILE *fp, const struct cli_cmd *c)
{
	const struct cli_opt *o;

	fprintf(fp, "usage: ");
	usage_line(fp, c);
	fprintf(fp, "\n  %s\n", c->summary);
	if (c->alias != NULL)
		fprintf(fp, "  alias: %s\n", c->alias);
	for (o = c->opts; o->name != NULL; o++) {
		fprintf(fp, "  %s%s%s", o->name, o->arg ? " " : "",
		    o->arg ? o->arg : "");
		if (o->alias != NULL)
			fprintf(fp, "  (alias %s%s%s)", o->alias,
			    o->arg ? " " : "", o->arg ? o->arg : "");
		fputc('\n', fp);
	}
}

int
cli_usage(struct cli *cli, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (cli->cmd == NULL)
		return out_error(cli->json, ECA_ERR_USAGE,
		    "usage: %s (eca "
		    "[-f FILE] [--json] COMMAND [ARGS]; see `eca help`)",
		    msg);
	return out_error(cli->json, ECA_ERR_USAGE,
	    "usage: %s (eca [-f FILE] [--json] %s%s%s)", msg, cli->cmd->name,
	    cli->cmd->usage[0] != '\0' ? " " : "", cli->cmd->usage);
}

const char *
cli_opt(const struct cli_args *a, const char *name)
{
	size_t i;

	for (i = 0; i < CLI_OPTS_MAX && a->opts[i].name != NULL; i++)
		if (strcmp(a->opts[i].name, name) == 0)
			return a->val[i];
	return NULL;
}

static const struct cli_cmd *
find_cmd(const char *word)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, word) == 0 ||
		    (commands[i].alias != NULL &&
			strcasecmp(commands[i].alias, word) == 0))
			return &commands[i];
	return NULL;
}

/*
 * Match one word against the command's options: `--name`, `--name=V`,
 * or the alias (case-insensitive, as NetBackup's spellings are).
 * Returns the option's index, or -1.
 */
static int
match_opt(const struct cli_opt *opts, const char *word, const char **inl)
{
	size_t i, n;

	*inl = NULL;
	for (i = 0; opts[i].name != NULL; i++) {
		n = strlen(opts[i].name);
		if (strcmp(word, opts[i].name) == 0)
			return (int)i;
		if (opts[i].arg != NULL &&
		    strncmp(word, opts[i].name, n) == 0 && word[n] == '=') {
			*inl = word + n + 1;
			return (int)i;
		}
		if (opts[i].alias != NULL &&
		    strcasecmp(word, opts[i].alias) == 0)
			return (int)i;
	}
	return -1;
}

/*
 * The output options, accepted before and after the command: --json
 * (NetBackup: -json), --json-compact (-json_compact: the same JSON on one
 * line) and --no-headers (tables without their header row).  Returns 1 if
 * w was one of them.
 */
static int
output_flag(struct cli *cli, const char *w)
{
	if (strcmp(w, "--json") == 0 || strcmp(w, "-json") == 0)
		cli->json = 1;
	else if (strcmp(w, "--json-compact") == 0 ||
	    strcmp(w, "-json_compact") == 0)
		cli->json = cli->json_compact = 1;
	else if (strcmp(w, "--no-headers") == 0)
		cli->no_headers = 1;
	else
		return 0;
	/* At once, so that a usage error after it is printed that way. */
	out_set_style(cli->json_compact, cli->no_headers);
	return 1;
}

static int
parse_args(struct cli *cli, int argc, char **argv, struct cli_args *a)
{
	const struct cli_cmd *c = cli->cmd;
	const char *inl;
	int i, k, only_pos = 0;

	memset(a, 0, sizeof(*a));
	a->opts = c->opts;
	for (i = 0; i < argc; i++) {
		if (only_pos || argv[i][0] != '-' || argv[i][1] == '\0') {
			if (a->npos >= CLI_ARGS_MAX || a->npos >= c->max_args)
				return cli_usage(cli,
				    "unexpected argument "
				    "'%s'",
				    argv[i]);
			a->pos[a->npos++] = argv[i];
			continue;
		}
		if (strcmp(argv[i], "--") == 0) {
			only_pos = 1;
			continue;
		}
		if (output_flag(cli, argv[i]))
			continue;
		/* -f FILE after the command too, as administrators type it. */
		if (strcmp(argv[i], "-f") == 0) {
			if (i + 1 >= argc || argv[i + 1][0] == '\0')
				return cli_usage(cli, "-f needs a FILE");
			cli->conf_path = argv[++i];
			cli->conf_from = "-f";
			continue;
		}
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			print_cmd_help(stdout, c);
			return -1;
		}
		if ((k = match_opt(c->opts, argv[i], &inl)) < 0)
			return cli_usage(cli, "unknown option '%s' for %s",
			    argv[i], c->name);
		if (a->val[k] != NULL)
			return cli_usage(cli, "option %s given twice",
			    c->opts[k].name);
		if (c->opts[k].arg == NULL) {
			a->val[k] = "";
			continue;
		}
		if (inl == NULL) {
			if (i + 1 >= argc)
				return cli_usage(cli,
				    "option %s needs a "
				    "value %s",
				    argv[i], c->opts[k].arg);
			inl = argv[++i];
		}
		if (inl[0] == '\0')
			return cli_usage(cli,
			    "option %s needs a non-empty "
			    "value",
			    c->opts[k].name);
		a->val[k] = inl;
	}
	if (a->npos < c->min_args)
		return cli_usage(cli, "%s needs %d argument%s", c->name,
		    c->min_args, c->min_args == 1 ? "" : "s");
	return 0;
}

int
main(int argc, char **argv)
{
	struct cli cli;
	struct cli_args args;
	const char *env;
	int i, r;

	memset(&cli, 0, sizeof(cli));
	cli.conf_path = CLI_DEFAULT_CONFIG;
	if ((env = getenv("ECA_CONFIG")) != NULL && env[0] != '\0') {
		cli.conf_path = env;
		cli.conf_from = "ECA_CONFIG";
	}

	/* Global options before the command word (also after: -f, output). */
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-f") == 0) {
			if (i + 1 >= argc || argv[i + 1][0] == '\0')
				return cli_usage(&cli, "-f needs a FILE");
			cli.conf_path = argv[++i];
			cli.conf_from = "-f";
		} else if (output_flag(&cli, argv[i])) {
			continue;
		} else if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "-help") == 0) {
			print_help(stdout);
			return ECA_EXIT_OK;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("eca %s\n", ECA_VERSION);
			return ECA_EXIT_OK;
		} else
			break;
	}
	if (i >= argc)
		return cli_usage(&cli, "no command given");
	if (strcmp(argv[i], "help") == 0) {
		if (i + 1 < argc) {
			if ((cli.cmd = find_cmd(argv[i + 1])) == NULL)
				return cli_usage(&cli, "unknown command '%s'",
				    argv[i + 1]);
			print_cmd_help(stdout, cli.cmd);
		} else
			print_help(stdout);
		return ECA_EXIT_OK;
	}
	if ((cli.cmd = find_cmd(argv[i])) == NULL)
		return cli_usage(&cli, "unknown command '%s'", argv[i]);
	if ((r = parse_args(&cli, argc - i - 1, argv + i + 1, &args)) != 0)
		return r < 0 ? ECA_EXIT_OK : r;

	if (eca_client_global_init() != 0)
		return out_error(cli.json, ECA_ERR_INTERNAL,
		    "cannot initialise libcurl");
	r = cli.cmd->fn(&cli, &args);

	eca_cred_free(cli.cred);
	eca_config_free(cli.cfg);
	eca_client_global_cleanup();
	if (fflush(stdout) != 0 && r == 0)
		r = ECA_EXIT_FAILURE;
	return r;
}
