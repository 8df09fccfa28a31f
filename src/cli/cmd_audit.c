/* SPDX-License-Identifier: ISC */
/*
 * cmd_audit.c - `eca audit verify` and `eca audit show`: the audit
 * journal read straight from its file, so both work offline, without the
 * daemon, on the primary or on a copy of the journal anywhere.  On a
 * primary whose registry is PostgreSQL, the journal is the one chain in
 * the database (audit_pg.c), read from there unless files are named.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "cli.h"
#include "store.h"
#include "output.h"
#include "wire.h"

/* --file F, else the configuration's AUDIT_LOG (or STATE_DIR/audit.jsonl). */
static int
journal_path(struct cli *cli, const struct cli_args *a, char *buf, size_t len)
{
	struct eca_err err;
	const char *f;
	int r;

	if ((f = cli_opt(a, "--file")) != NULL) {
		if ((size_t)snprintf(buf, len, "%s", f) >= len)
			return cli_usage(cli, "--file: the path is too long");
		return 0;
	}
	if ((r = cli_config(cli)) != 0)
		return r;
	eca_err_clear(&err);
	if (eca_audit_path(cli->cfg, buf, len, &err) != 0)
		return out_error_err(cli->json, NULL, &err);
	return 0;
}

static int
verify_json(const char *const *paths, size_t n,
    const struct eca_audit_report *rep)
{
	json_t *j, *files;
	size_t i;

	if ((files = json_array()) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (json_array_append_new(files, json_string(paths[i])) != 0)
			goto fail;
	j = json_pack("{s:s, s:o, s:I, s:b}", "path", paths[n - 1], "files",
	    files, "entries", (json_int_t)rep->entries, "intact", rep->intact);
	files = NULL;
	if (j != NULL && !rep->intact &&
	    (json_object_set_new(j, "bad_file",
		 json_string(paths[rep->file])) != 0 ||
		json_object_set_new(j, "first_bad_line",
		    json_integer((json_int_t)rep->first_bad_line)) != 0 ||
		json_object_set_new(j, "problem", json_string(rep->problem)) !=
		    0)) {
		json_decref(j);
		j = NULL;
	}
	if (j == NULL)
		return -1;
	out_json(j);
	json_decref(j);
	return 0;
fail:
	json_decref(files);
	return -1;
}

/* The files in order (oldest first), checked as one chain. */
static int
audit_verify(struct cli *cli, const char *const *paths, size_t n)
{
	struct eca_audit_report rep;
	struct eca_err err;

	eca_err_clear(&err);
	if (eca_audit_verify_files(paths, n, &rep, &err) != 0)
		return out_error_err(cli->json,
		    "cannot verify the audit "
		    "journal",
		    &err);
	if (cli->json) {
		if (verify_json(paths, n, &rep) != 0)
			return out_error(cli->json, ECA_ERR_NOMEM,
			    "out of memory");
	} else if (rep.intact && n == 1)
		printf("audit journal %s: %zu entries, chain intact\n",
		    paths[0], rep.entries);
	else if (rep.intact)
		printf("audit journal %s and %zu rotated file(s) before it: "
		       "%zu entries, chain intact\n",
		    paths[n - 1], n - 1, rep.entries);
	else
		printf("audit journal %s: line %zu: %s (%zu good entries "
		       "before it; everything from this line on is suspect)\n",
		    paths[rep.file], rep.first_bad_line, rep.problem,
		    rep.entries);
	return rep.intact ? ECA_EXIT_OK : ECA_EXIT_FAILURE;
}

/*
 * The configuration's registry, when it is PostgreSQL (the journal's
 * chain is there): 1 with *st open, 0 when it is not, or an exit code
 * below 0 when it cannot be opened (reported).
 */
static int
db_journal(struct cli *cli, const struct cli_args *a, struct eca_store **st,
    int *rc)
{
	struct eca_err err;
	int r;

	*st = NULL;
	*rc = 0;
	if (cli_opt(a, "--file") != NULL || a->npos > 1)
		return 0;
	if ((r = cli_config(cli)) != 0) {
		*rc = r;
		return -1;
	}
	if (cli->cfg->role != ECA_ROLE_PRIMARY || cli->cfg->db == NULL ||
	    strncmp(cli->cfg->db, "sqlite:", strlen("sqlite:")) == 0)
		return 0;
	eca_err_clear(&err);
	if (eca_store_open_cfg(cli->cfg, ECA_STORE_READONLY, st, &err) != 0) {
		*rc = out_error_err(cli->json,
		    "cannot open the registry database to read its audit "
		    "journal",
		    &err);
		return -1;
	}
	return 1;
}

static int
db_verify(struct cli *cli, struct eca_store *st)
{
	struct eca_audit_report rep;
	struct eca_err err;
	json_t *j;

	eca_err_clear(&err);
	if (eca_audit_store_verify(st, &rep, &err) != 0)
		return out_error_err(cli->json,
		    "cannot verify the audit journal", &err);
	if (cli->json) {
		j = json_pack("{s:b, s:I, s:b}", "database", 1, "entries",
		    (json_int_t)rep.entries, "intact", rep.intact);
		if (j != NULL && !rep.intact &&
		    (json_object_set_new(j, "first_bad_row",
			 json_integer((json_int_t)rep.first_bad_line)) != 0 ||
			json_object_set_new(j, "problem",
			    json_string(rep.problem)) != 0)) {
			json_decref(j);
			j = NULL;
		}
		if (j == NULL)
			return out_error(cli->json, ECA_ERR_NOMEM,
			    "out of memory");
		out_json(j);
		json_decref(j);
	} else if (rep.intact)
		printf("audit journal in the registry database: %zu entries, "
		       "chain intact\n",
		    rep.entries);
	else
		printf("audit journal in the registry database: row %zu (in "
		       "seq order): %s (%zu good entries before it; everything "
		       "from this row on is suspect)\n",
		    rep.first_bad_line, rep.problem, rep.entries);
	return rep.intact ? ECA_EXIT_OK : ECA_EXIT_FAILURE;
}

/*
 * FILE... as given; else --file F alone; else the configured journal
 * preceded by its rotated siblings (PATH.N, oldest first).
 */
static int
verify_cmd(struct cli *cli, const struct cli_args *a)
{
	char path[PATH_MAX], **set = NULL;
	struct eca_store *st;
	size_t n = 0;
	struct eca_err err;
	int r, rc;

	if ((r = db_journal(cli, a, &st, &rc)) != 0) {
		if (r > 0) {
			rc = db_verify(cli, st);
			eca_store_close(st);
		}
		return rc;
	}
	if (a->npos > 1) {
		if (cli_opt(a, "--file") != NULL)
			return cli_usage(cli,
			    "name the files either with --file or as "
			    "arguments, not both");
		return audit_verify(cli, a->pos + 1, (size_t)a->npos - 1);
	}
	if ((r = journal_path(cli, a, path, sizeof(path))) != 0)
		return r;
	if (cli_opt(a, "--file") != NULL) {
		const char *one = path;
		return audit_verify(cli, &one, 1);
	}
	eca_err_clear(&err);
	if (eca_audit_rotated_set(path, &set, &n, &err) != 0)
		return out_error_err(cli->json,
		    "cannot list the audit journal's files", &err);
	r = audit_verify(cli, (const char *const *)set, n);
	eca_audit_set_free(set, n);
	return r;
}

static int
audit_show(struct cli *cli, struct eca_store *st, const char *path,
    const char *host)
{
	static const char *const hdr[] = {"SEQ", "TIME", "EVENT", "HOST",
	    "ACTOR", "FINGERPRINT", "REASON"};
	struct eca_audit_entry *v = NULL;
	struct out_table *t = NULL;
	struct eca_err err;
	json_t *arr = NULL, *top = NULL, *o;
	const char *cells[7];
	char seq[24], fp[64], canon[ECA_HOST_MAX];
	size_t n = 0, i;
	int r;

	eca_err_clear(&err);
	if (host != NULL) {
		/* Journal lines name hosts canonically (older: any case). */
		if (eca_hostname_canon(host, canon, sizeof(canon), &err) != 0)
			return cli_usage(cli, "%s", err.msg);
		host = canon;
	}
	if ((st != NULL ? eca_audit_store_read(st, host, &v, &n, &err) :
			  eca_audit_read(path, host, &v, &n, &err)) != 0) {
		r = out_error_err(cli->json, "cannot read the audit journal",
		    &err);
		goto out;
	}
	if (cli->json) {
		if ((arr = json_array()) == NULL)
			goto nomem;
		for (i = 0; i < n; i++)
			if ((o = eca_audit_entry_json(&v[i])) == NULL ||
			    json_array_append_new(arr, o) != 0)
				goto nomem;
		if ((top = json_pack("{s:O}", "entries", arr)) == NULL)
			goto nomem;
		out_json(top);
		r = 0;
		goto out;
	}
	if ((t = out_table_new(7, hdr)) == NULL)
		goto nomem;
	for (i = 0; i < n; i++) {
		snprintf(seq, sizeof(seq), "%lld", (long long)v[i].seq);
		cells[0] = seq;
		cells[1] = v[i].time;
		cells[2] = v[i].event;
		cells[3] = out_dash(v[i].host);
		cells[4] = out_dash(v[i].actor);
		cells[5] = out_fp_short(v[i].fingerprint, fp, sizeof(fp));
		cells[6] = out_dash(v[i].reason);
		if (out_table_add(t, cells) != 0)
			goto nomem;
	}
	out_table_print(t, stdout);
	if (n == 0)
		out_note("no entries in %s%s%s", path,
		    host != NULL ? " about " : "", host != NULL ? host : "");
	r = 0;
	goto out;
nomem:
	r = out_error(cli->json, ECA_ERR_NOMEM, "out of memory");
out:
	out_table_free(t);
	json_decref(top);
	json_decref(arr);
	free(v);
	return r;
}

int
cmd_audit(struct cli *cli, const struct cli_args *a)
{
	char path[PATH_MAX];
	const char *sub = a->pos[0];
	struct eca_store *st;
	int r, rc;

	if (strcmp(sub, "verify") != 0 && strcmp(sub, "show") != 0)
		return cli_usage(cli,
		    "unknown audit command '%s' (use verify "
		    "or show)",
		    sub);
	if (strcmp(sub, "verify") == 0 && cli_opt(a, "--host") != NULL)
		return cli_usage(cli, "--host is an option of `audit show`");
	if (strcmp(sub, "verify") == 0)
		return verify_cmd(cli, a);
	if (a->npos > 1)
		return cli_usage(cli,
		    "`audit show` takes no file argument (use --file F)");
	if ((r = db_journal(cli, a, &st, &rc)) < 0)
		return rc;
	if (r > 0) {
		rc = audit_show(cli, st, "the registry database",
		    cli_opt(a, "--host"));
		eca_store_close(st);
		return rc;
	}
	if ((r = journal_path(cli, a, path, sizeof(path))) != 0)
		return r;
	return audit_show(cli, NULL, path, cli_opt(a, "--host"));
}
