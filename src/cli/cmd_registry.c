/* SPDX-License-Identifier: ISC */
/*
 * cmd_registry.c - `eca registry export|import|verify FILE`: the registry
 * moved to a file and back (registry_io.h), on the primary, against ECA_DB
 * directly (not through ecad).
 *
 * export and verify read one snapshot and may run beside ecad.  import
 * refuses while this machine's ecad runs (PID_FILE): it writes under the
 * daemon's feet, whose caches would not know.  On PostgreSQL, front ends
 * on other machines are held off by the import's table locks (their
 * writes wait; docs/registry.md, "Moving over").
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "output.h"
#include "registry_io.h"
#include "store.h"

/*
 * Is pid an ecad?  A pid file a crash left may name a pid since reused by
 * another program; without /proc, assume it is.
 */
static int
is_ecad(long pid)
{
	char path[64], comm[32] = "";
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	if ((fp = fopen(path, "re")) == NULL)
		return errno != ENOENT;
	if (fgets(comm, sizeof(comm), fp) == NULL)
		comm[0] = '\0';
	fclose(fp);
	comm[strcspn(comm, "\n")] = '\0';
	return strcmp(comm, "ecad") == 0;
}

/* The live ecad PID_FILE names, or 0. */
static long
running_ecad(const struct eca_config *cfg)
{
	char buf[32], *end;
	long pid;
	FILE *fp;

	if (cfg->pid_file == NULL || (fp = fopen(cfg->pid_file, "re")) == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), fp) == NULL)
		buf[0] = '\0';
	fclose(fp);
	errno = 0;
	pid = strtol(buf, &end, 10);
	if (errno != 0 || end == buf || pid <= 1)
		return 0;
	if (kill((pid_t)pid, 0) != 0 && errno != EPERM)
		return 0;
	return is_ecad(pid) ? pid : 0;
}

static int
print_sum(struct cli *cli, const char *verb, const char *path,
    const struct eca_registry_sum *s)
{
	json_t *top, *t;
	int i, r = 0;

	if (!cli->json) {
		printf("%s %s\n", verb, path);
		for (i = 0; i < ECA_REGISTRY_NTABLES; i++)
			printf("  %-12s %10lld rows  sha256 %s\n",
			    eca_registry_table(i), (long long)s->rows[i],
			    s->digest[i]);
		printf("  %-12s %15s  sha256 %s\n", "total", "", s->total);
		return 0;
	}
	if ((top = json_pack("{s:s, s:s, s:{}, s:s}", "action", verb, "file",
		 path, "tables", "sha256", s->total)) == NULL)
		return out_json_end(NULL, ECA_ERR_NOMEM, "the counts");
	for (i = 0; i < ECA_REGISTRY_NTABLES && r == 0; i++) {
		t = json_pack("{s:I, s:s}", "rows", (json_int_t)s->rows[i],
		    "sha256", s->digest[i]);
		if (t == NULL ||
		    json_object_set_new(json_object_get(top, "tables"),
			eca_registry_table(i), t) != 0)
			r = ECA_ERR_NOMEM;
	}
	return out_json_end(top, r, "the counts");
}

static int
open_store(struct cli *cli, int flags, struct eca_store **st)
{
	struct eca_err err;
	int r;

	if ((r = cli_config(cli)) != 0)
		return r;
	eca_err_clear(&err);
	if (eca_store_open_cfg(cli->cfg, flags, st, &err) != 0)
		return out_error_err(cli->json, "cannot open the registry",
		    &err);
	return 0;
}

static int
do_export(struct cli *cli, const char *path)
{
	struct eca_registry_sum sum;
	struct eca_store *st = NULL;
	struct eca_err err;
	int r;

	if ((r = open_store(cli, ECA_STORE_READONLY, &st)) != 0)
		return r;
	eca_err_clear(&err);
	r = eca_registry_export(st, path, &sum, &err);
	eca_store_close(st);
	if (r != 0)
		return out_error_err(cli->json, "export failed", &err);
	return print_sum(cli, "exported", path, &sum);
}

static int
do_import(struct cli *cli, const char *path, int force)
{
	struct eca_registry_sum sum;
	struct eca_store *st = NULL;
	struct eca_err err;
	long pid;
	int r;

	if ((r = cli_config(cli)) != 0)
		return r;
	if ((pid = running_ecad(cli->cfg)) != 0)
		return out_error(cli->json, ECA_ERR_FORBIDDEN,
		    "import refused: ecad is running as pid %ld (PID_FILE "
		    "%s); stop it first (and every other front end of this "
		    "registry), import, then start them again",
		    pid, cli->cfg->pid_file);
	/* Before the registry is opened (a new SQLite file is created). */
	eca_err_clear(&err);
	if (eca_registry_check_header(path, &err) != 0)
		return out_error_err(cli->json,
		    "import refused, nothing was imported", &err);
	if ((r = open_store(cli, 0, &st)) != 0)
		return r;
	r = eca_registry_import(st, path, force, &sum, &err);
	eca_store_close(st);
	if (r != 0)
		return out_error_err(cli->json,
		    "import failed, nothing was imported", &err);
	return print_sum(cli, "imported", path, &sum);
}

static int
do_verify(struct cli *cli, const char *path)
{
	struct eca_registry_sum file, live;
	struct eca_store *st = NULL;
	struct eca_err err;
	int r;

	eca_err_clear(&err);
	if (eca_registry_read(path, &file, &err) != 0)
		return out_error_err(cli->json, "verify", &err);
	if ((r = open_store(cli, ECA_STORE_READONLY, &st)) != 0)
		return r;
	r = eca_registry_sum(st, &live, &err);
	eca_store_close(st);
	if (r != 0)
		return out_error_err(cli->json, "cannot read the registry",
		    &err);
	if (eca_registry_compare(&file, path, &live, "the registry", &err) != 0)
		return out_error_err(cli->json, "verify", &err);
	return print_sum(cli, "verified", path, &live);
}

int
cmd_registry(struct cli *cli, const struct cli_args *a)
{
	const char *verb = a->pos[0];
	int force = cli_opt(a, "--force") != NULL;

	if (a->npos != 2)
		return cli_usage(cli, "give an action and a FILE");
	if (force && strcmp(verb, "import") != 0)
		return cli_usage(cli, "--force is for import only");
	if (strcmp(verb, "export") == 0)
		return do_export(cli, a->pos[1]);
	if (strcmp(verb, "import") == 0)
		return do_import(cli, a->pos[1], force);
	if (strcmp(verb, "verify") == 0)
		return do_verify(cli, a->pos[1]);
	return cli_usage(cli, "unknown action '%s' (export, import or verify)",
	    verb);
}
